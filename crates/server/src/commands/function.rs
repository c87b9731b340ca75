//! FUNCTION (LOAD, LIST, DELETE, FLUSH, DUMP, RESTORE, STATS, KILL, HELP), FCALL and
//! FCALL_RO.
//!
//! Libraries live in the server's registry (`scripting.rs`); every worker thread's engine
//! reloads them when the registry's generation moves. FUNCTION DUMP writes Redis's
//! payload: one `FUNCTION2` record (opcode 245 and the library code as an RDB string) per
//! library, the RDB version (10) and a CRC64 (Redis's polynomial), so payloads move
//! between Lodestone and redis-server in both directions.

use lodestone_resp::ReplyWriter;

use crate::ctx::Ctx;
use crate::errors::{CmdResult, Error};
use crate::scripting::{self, Library, Script};

/// RDB opcode of a function library record in Redis 7.0.
const OPCODE_FUNCTION2: u8 = 245;
/// The RDB version our payloads carry (Redis 7.0's).
const RDB_VERSION: u16 = 10;

pub fn function_load(ctx: &mut Ctx) -> CmdResult {
    let cmd = ctx.cmd;
    let mut replace = false;
    for option in cmd.args().skip(2).take(cmd.len().saturating_sub(3)) {
        if !option.eq_ignore_ascii_case(b"replace") {
            return Err(Error::err(format!(
                "Unknown option given: {}",
                String::from_utf8_lossy(option)
            )));
        }
        replace = true;
    }
    if cmd.len() < 3 || (cmd.len() == 3 && replace) {
        return Err(Error::err("Function code is missing"));
    }
    let code = cmd.arg(cmd.len() - 1);
    let name = load_into_registry(ctx, code, replace)?;
    ctx.keys.dirty += 1;
    ctx.out.bulk(name.as_bytes());
    Ok(())
}

/// Validates a library in this thread's engine (which knows every loaded library, so
/// name clashes are found there) and records it, under the registry's write lock so two
/// loads cannot both pass.
fn load_into_registry(ctx: &mut Ctx, code: &[u8], replace: bool) -> Result<String, Error> {
    load_library(ctx.server, code, replace)
}

/// Compiles a library and adds it to the registry (FUNCTION LOAD/RESTORE, RDB load).
pub(crate) fn load_library(
    server: &crate::server::Server,
    code: &[u8],
    replace: bool,
) -> Result<String, Error> {
    let scripting = &server.scripting;
    let mut libraries = scripting.libraries.write();
    let info = scripting::with_engine_using(server, &libraries, |engine| {
        engine.load_library(code, replace)
    })
    .and_then(|loaded| loaded)
    .map_err(Error::reply)?;
    let name = info.name.clone();
    libraries.insert(
        name.clone(),
        Library {
            code: std::sync::Arc::from(code),
            info,
        },
    );
    drop(libraries);
    scripting.libraries_changed();
    Ok(name)
}

pub fn function_delete(ctx: &mut Ctx) -> CmdResult {
    let name = String::from_utf8_lossy(ctx.arg(2)).into_owned();
    let removed = ctx.server.scripting.libraries.write().shift_remove(&name);
    if removed.is_none() {
        return Err(Error::err("Library not found"));
    }
    ctx.server.scripting.libraries_changed();
    ctx.keys.dirty += 1;
    ctx.out.ok();
    Ok(())
}

pub fn function_flush(ctx: &mut Ctx) -> CmdResult {
    if ctx.argc() > 3 {
        return Err(super::server::subcommand_syntax_error(ctx));
    }
    if ctx.argc() == 3 && !ctx.arg_is(2, "sync") && !ctx.arg_is(2, "async") {
        return Err(Error::err("FUNCTION FLUSH only supports SYNC|ASYNC option"));
    }
    ctx.server.scripting.libraries.write().clear();
    ctx.server.scripting.libraries_changed();
    ctx.keys.dirty += 1;
    ctx.out.ok();
    Ok(())
}

pub fn function_list(ctx: &mut Ctx) -> CmdResult {
    let cmd = ctx.cmd;
    let (mut with_code, mut pattern) = (false, None);
    let mut i = 2;
    while i < cmd.len() {
        let arg = cmd.arg(i);
        if !with_code && arg.eq_ignore_ascii_case(b"withcode") {
            with_code = true;
        } else if pattern.is_none() && arg.eq_ignore_ascii_case(b"libraryname") {
            if i + 1 >= cmd.len() {
                return Err(Error::err("library name argument was not given"));
            }
            i += 1;
            pattern = Some(cmd.arg(i));
        } else {
            return Err(Error::err(format!(
                "Unknown argument {}",
                String::from_utf8_lossy(arg)
            )));
        }
        i += 1;
    }
    let libraries: Vec<Library> = ctx
        .server
        .scripting
        .libraries
        .read()
        .values()
        .filter(|lib| {
            pattern.is_none_or(|p| lodestone_util::glob_match(p, lib.info.name.as_bytes(), true))
        })
        .cloned()
        .collect();
    ctx.out.array(libraries.len());
    for library in &libraries {
        write_library(ctx.out, library, with_code);
    }
    Ok(())
}

fn write_library(out: &mut ReplyWriter, library: &Library, with_code: bool) {
    out.map(if with_code { 4 } else { 3 });
    out.bulk(b"library_name");
    out.bulk(library.info.name.as_bytes());
    out.bulk(b"engine");
    out.bulk(b"LUA");
    out.bulk(b"functions");
    out.array(library.info.functions.len());
    for function in &library.info.functions {
        out.map(3);
        out.bulk(b"name");
        out.bulk(function.name.as_bytes());
        out.bulk(b"description");
        match &function.description {
            Some(text) => out.bulk(text.as_bytes()),
            None => out.null(),
        }
        out.bulk(b"flags");
        let flags = flag_names(&function.flags);
        out.set(flags.len());
        for flag in flags {
            // Status replies, as Redis sends them (`+no-writes`).
            out.simple(flag.as_bytes());
        }
    }
    if with_code {
        out.bulk(b"library_code");
        out.bulk(&library.code);
    }
}

fn flag_names(flags: &lodestone_script::ScriptFlags) -> Vec<&'static str> {
    [
        (flags.no_writes, "no-writes"),
        (flags.allow_oom, "allow-oom"),
        (flags.allow_stale, "allow-stale"),
        (flags.no_cluster, "no-cluster"),
        (flags.allow_cross_slot_keys, "allow-cross-slot-keys"),
    ]
    .into_iter()
    .filter_map(|(set, name)| set.then_some(name))
    .collect()
}

pub fn function_stats(ctx: &mut Ctx) -> CmdResult {
    let running = ctx.server.scripting.running_function();
    let (libraries, functions) = {
        let libs = ctx.server.scripting.libraries.read();
        let functions = libs.values().map(|l| l.info.functions.len()).sum::<usize>();
        (libs.len(), functions)
    };
    ctx.out.map(2);
    ctx.out.bulk(b"running_script");
    match running {
        None => ctx.out.null(),
        Some(run) => {
            ctx.out.map(3);
            ctx.out.bulk(b"name");
            ctx.out.bulk(run.name.as_bytes());
            ctx.out.bulk(b"command");
            ctx.out.array(run.command.len());
            for arg in &run.command {
                ctx.out.bulk(arg);
            }
            ctx.out.bulk(b"duration_ms");
            ctx.out.integer(run.started.elapsed().as_millis() as i64);
        }
    }
    ctx.out.bulk(b"engines");
    ctx.out.map(1);
    ctx.out.bulk(b"LUA");
    ctx.out.map(2);
    ctx.out.bulk(b"libraries_count");
    ctx.out.integer(libraries as i64);
    ctx.out.bulk(b"functions_count");
    ctx.out.integer(functions as i64);
    Ok(())
}

pub fn function_kill(ctx: &mut Ctx) -> CmdResult {
    ctx.server.scripting.kill(false).map_err(Error::reply)?;
    ctx.out.ok();
    Ok(())
}

pub fn function_dump(ctx: &mut Ctx) -> CmdResult {
    // Library code as RDB strings, LZF-compressed with `rdbcompression` as Redis does.
    let mut w = lodestone_rdb::codec::Writer::with_compression(
        ctx.server.config.get_bool("rdbcompression"),
    );
    for library in ctx.server.scripting.libraries.read().values() {
        w.byte(OPCODE_FUNCTION2);
        w.string(&library.code);
    }
    let mut payload = w.buf;
    payload.extend_from_slice(&RDB_VERSION.to_le_bytes());
    let crc = lodestone_util::crc64::redis(&payload);
    payload.extend_from_slice(&crc.to_le_bytes());
    ctx.out.bulk(&payload);
    Ok(())
}

pub fn function_restore(ctx: &mut Ctx) -> CmdResult {
    #[derive(PartialEq)]
    enum Policy {
        Append,
        Replace,
        Flush,
    }
    if ctx.argc() > 4 {
        return Err(super::server::subcommand_syntax_error(ctx));
    }
    let policy = match ctx.argc() {
        4 if ctx.arg_is(3, "append") => Policy::Append,
        4 if ctx.arg_is(3, "replace") => Policy::Replace,
        4 if ctx.arg_is(3, "flush") => Policy::Flush,
        4 => {
            return Err(Error::err(
                "Wrong restore policy given, value should be either FLUSH, APPEND or REPLACE.",
            ))
        }
        _ => Policy::Append,
    };
    let codes = parse_payload(ctx.arg(2))?;
    let scripting = &ctx.server.scripting;
    let mut libraries = scripting.libraries.write();
    // APPEND refuses a library name already loaded before anything else, as Redis.
    if policy == Policy::Append {
        for code in &codes {
            if let Some(name) = library_name(code).filter(|n| libraries.contains_key(n)) {
                return Err(Error::err(format!("Library {name} already exists")));
            }
        }
    }
    // Validate the whole set in a scratch engine first: all or nothing.
    let mut merged = match policy {
        Policy::Flush => indexmap::IndexMap::new(),
        _ => libraries.clone(),
    };
    let mut scratch = lodestone_script::Engine::new().map_err(|e| Error::err(e.to_string()))?;
    for library in merged.values() {
        let _ = scratch.load_library(&library.code, true);
    }
    for code in codes {
        let info = scratch.load_library(&code, true).map_err(Error::reply)?;
        if policy == Policy::Append && merged.contains_key(&info.name) {
            return Err(Error::err(format!("Library {} already exists", info.name)));
        }
        merged.insert(
            info.name.clone(),
            Library {
                code: std::sync::Arc::from(code.as_slice()),
                info,
            },
        );
    }
    *libraries = merged;
    drop(libraries);
    scripting.libraries_changed();
    ctx.keys.dirty += 1;
    ctx.out.ok();
    Ok(())
}

/// The `name=` of a library's `#!lua` header line.
fn library_name(code: &[u8]) -> Option<String> {
    let line = code.split(|&b| b == b'\n').next()?;
    let line = std::str::from_utf8(line).ok()?;
    line.strip_prefix("#!lua")?
        .split_whitespace()
        .find_map(|word| word.strip_prefix("name="))
        .map(str::to_string)
}

/// The library codes of a FUNCTION DUMP payload, after checking its footer.
fn parse_payload(data: &[u8]) -> Result<Vec<Vec<u8>>, Error> {
    let bad = || Error::err("DUMP payload version or checksum are wrong");
    if data.len() < 10 {
        return Err(bad());
    }
    let (body, footer) = data.split_at(data.len() - 8);
    let version = u16::from_le_bytes([body[body.len() - 2], body[body.len() - 1]]);
    let crc = u64::from_le_bytes(footer.try_into().map_err(|_| bad())?);
    if version > RDB_VERSION || (crc != 0 && crc != lodestone_util::crc64::redis(body)) {
        return Err(bad());
    }
    let mut records = &body[..body.len() - 2];
    let mut codes = Vec::new();
    while let Some((&opcode, rest)) = records.split_first() {
        if opcode != OPCODE_FUNCTION2 {
            return Err(Error::err("given type is not a function"));
        }
        let (code, rest) =
            read_rdb_string(rest).ok_or_else(|| Error::err("can not read data type"))?;
        codes.push(code);
        records = rest;
    }
    Ok(codes)
}

/// Reads an RDB string (plain or LZF-compressed), returning it and the rest.
fn read_rdb_string(data: &[u8]) -> Option<(Vec<u8>, &[u8])> {
    let (&first, rest) = data.split_first()?;
    let (len, rest) = match first >> 6 {
        0 => (usize::from(first & 0x3f), rest),
        1 => {
            let (&second, rest) = rest.split_first()?;
            ((usize::from(first & 0x3f) << 8) | usize::from(second), rest)
        }
        2 if first == 0x80 => {
            let bytes: [u8; 4] = rest.get(..4)?.try_into().ok()?;
            (u32::from_be_bytes(bytes) as usize, &rest[4..])
        }
        2 if first == 0x81 => {
            let bytes: [u8; 8] = rest.get(..8)?.try_into().ok()?;
            (usize::try_from(u64::from_be_bytes(bytes)).ok()?, &rest[8..])
        }
        3 if first & 0x3f == 3 => return read_lzf_string(rest),
        _ => return None,
    };
    let bytes = rest.get(..len)?;
    Some((bytes.to_vec(), &rest[len..]))
}

/// An LZF-compressed RDB string: compressed length, plain length, then the data.
fn read_lzf_string(data: &[u8]) -> Option<(Vec<u8>, &[u8])> {
    let (compressed_len, rest) = read_rdb_length(data)?;
    let (plain_len, rest) = read_rdb_length(rest)?;
    let compressed = rest.get(..compressed_len)?;
    let plain = lodestone_util::lzf::decompress(compressed, plain_len)?;
    Some((plain, &rest[compressed_len..]))
}

fn read_rdb_length(data: &[u8]) -> Option<(usize, &[u8])> {
    let (&first, rest) = data.split_first()?;
    match first >> 6 {
        0 => Some((usize::from(first & 0x3f), rest)),
        1 => {
            let (&second, rest) = rest.split_first()?;
            Some(((usize::from(first & 0x3f) << 8) | usize::from(second), rest))
        }
        2 if first == 0x80 => {
            let bytes: [u8; 4] = rest.get(..4)?.try_into().ok()?;
            Some((u32::from_be_bytes(bytes) as usize, &rest[4..]))
        }
        _ => None,
    }
}

pub fn fcall(ctx: &mut Ctx) -> CmdResult {
    fcall_generic(ctx, false)
}

pub fn fcall_ro(ctx: &mut Ctx) -> CmdResult {
    fcall_generic(ctx, true)
}

fn fcall_generic(ctx: &mut Ctx, ro: bool) -> CmdResult {
    // Function names match case-insensitively, as in Redis.
    let asked = String::from_utf8_lossy(ctx.arg(1)).into_owned();
    let found = ctx
        .server
        .scripting
        .libraries
        .read()
        .values()
        .flat_map(|lib| lib.info.functions.iter())
        .find(|f| f.name.eq_ignore_ascii_case(&asked))
        .map(|f| (f.name.clone(), f.flags));
    let Some((name, flags)) = found else {
        return Err(Error::err("Function not found"));
    };
    if ctx.arg_i64(2).is_err() {
        return Err(Error::err("Bad number of keys provided"));
    }
    let (keys, args) = super::scripting::split_keys(ctx)?;
    if ro && !flags.no_writes {
        return Err(Error::err(
            "Can not execute a script with write flag using *_ro command.",
        ));
    }
    let read_only = ro || flags.no_writes;
    scripting::run(ctx, Script::Function { name }, &keys, &args, read_only);
    Ok(())
}

pub fn function_help(ctx: &mut Ctx) -> CmdResult {
    super::object::help_reply(
        ctx,
        "FUNCTION",
        &[
            "LOAD [REPLACE] <FUNCTION CODE>",
            "    Load a library (its code starts with #!lua name=<library>); REPLACE overwrites one of the same name.",
            "DELETE <LIBRARY NAME>",
            "    Remove a library and its functions.",
            "LIST [LIBRARYNAME PATTERN] [WITHCODE]",
            "    Describe the libraries (name, engine, functions with flags), optionally with their code",
            "    and only those whose name matches a glob pattern.",
            "FCALL <FUNCTION NAME> nkeys <key1 .. keyn> <arg1 .. argn>",
            "    Run a function.",
            "FCALL_RO <FUNCTION NAME> nkeys <key1 .. keyn> <arg1 .. argn>",
            "    Run a function flagged no-writes.",
            "STATS",
            "    Show the running function, if any, and how many libraries and functions are loaded.",
            "KILL",
            "    Stop the running function, if it has not written anything.",
            "FLUSH [ASYNC|SYNC]",
            "    Remove every library.",
            "DUMP",
            "    Serialise every library into one payload (Redis's format).",
            "RESTORE <PAYLOAD> [FLUSH|APPEND|REPLACE]",
            "    Load the libraries of a DUMP payload: APPEND (default) refuses existing names,",
            "    REPLACE overwrites them, FLUSH removes every library first.",
        ],
    );
    Ok(())
}
