//! COMMAND and its subcommands: the command table described to clients.
//!
//! Everything is read from `lodestone_spec::COMMANDS`, so the replies can never disagree
//! with what dispatch enforces. Reply shapes are Redis 7.0's: COMMAND INFO entries are
//! 10-element arrays with sets for flags, categories, tips and key specs; COMMAND DOCS is
//! a map per command. Redis lists commands in hash order; Lodestone uses table order.

use lodestone_resp::ReplyWriter;
use lodestone_spec::{
    BeginSearch, CommandSpec, FindKeys, KeySpec, ACL_NAMES, CMD_MAY_REPLICATE, CMD_MOVABLE_KEYS,
    CMD_NO_MANDATORY_KEYS, CMD_ONLY_SENTINEL, CMD_PROTECTED, CMD_SENTINEL,
    CMD_TOUCHES_ARBITRARY_KEYS, COMMANDS, FLAG_NAMES,
};

use super::server::reply_help;
use crate::ctx::Ctx;
use crate::errors::{CmdResult, Error};
use crate::server::Server;

/// Flags Redis keeps out of COMMAND replies.
const HIDDEN_FLAGS: u64 = CMD_MAY_REPLICATE
    | CMD_SENTINEL
    | CMD_ONLY_SENTINEL
    | CMD_PROTECTED
    | CMD_TOUCHES_ARBITRARY_KEYS;

/// Key spec flags in the order Redis prints them.
const KEY_FLAG_ORDER: &[&str] = &[
    "RO",
    "RW",
    "OW",
    "RM",
    "access",
    "update",
    "insert",
    "delete",
    "not_key",
    "incomplete",
    "variable_flags",
];

fn top_level() -> impl Iterator<Item = &'static CommandSpec> {
    COMMANDS.iter().filter(|c| c.container.is_none())
}

/// Finds a command by the name COMMAND INFO/DOCS take: `get` or `config|get`.
pub fn lookup_full_name(server: &Server, name: &[u8]) -> Option<&'static CommandSpec> {
    let mut parts = name.split(|&b| b == b'|');
    let base = server.commands.lookup(parts.next()?)?;
    let Some(sub) = parts.next() else {
        return Some(base);
    };
    if parts.next().is_some() || !server.commands.has_subcommands(base) {
        return None;
    }
    server.commands.lookup_sub(base.name, sub)
}

/// COMMAND with no subcommand: the info of every command.
pub fn command(ctx: &mut Ctx) -> CmdResult {
    let count = top_level().count();
    ctx.out.array(count);
    for spec in top_level() {
        write_info(ctx.out, spec);
    }
    Ok(())
}

pub fn command_count(ctx: &mut Ctx) -> CmdResult {
    ctx.out.integer(top_level().count() as i64);
    Ok(())
}

pub fn command_info(ctx: &mut Ctx) -> CmdResult {
    if ctx.argc() == 2 {
        return command(ctx);
    }
    ctx.out.array(ctx.argc() - 2);
    for i in 2..ctx.argc() {
        match lookup_full_name(ctx.server, ctx.arg(i)) {
            Some(spec) => write_info(ctx.out, spec),
            None => ctx.out.null(),
        }
    }
    Ok(())
}

pub fn command_docs(ctx: &mut Ctx) -> CmdResult {
    if ctx.argc() == 2 {
        ctx.out.map(top_level().count());
        for spec in top_level() {
            ctx.out.bulk(spec.full_name().as_bytes());
            write_docs(ctx.out, spec);
        }
        return Ok(());
    }
    let found: Vec<&'static CommandSpec> = (2..ctx.argc())
        .filter_map(|i| lookup_full_name(ctx.server, ctx.arg(i)))
        .collect();
    ctx.out.map(found.len());
    for spec in found {
        ctx.out.bulk(spec.full_name().as_bytes());
        write_docs(ctx.out, spec);
    }
    Ok(())
}

/// A COMMAND LIST filter.
enum Filter {
    None,
    /// No modules exist, so a module filter matches nothing.
    Module,
    AclCategory(u64),
    Pattern(Vec<u8>),
}

impl Filter {
    fn accepts(&self, spec: &CommandSpec) -> bool {
        match self {
            Filter::None => true,
            Filter::Module => false,
            Filter::AclCategory(category) => spec.acl_categories() & category != 0,
            Filter::Pattern(pattern) => {
                lodestone_util::glob_match(pattern, spec.full_name().as_bytes(), true)
            }
        }
    }
}

fn parse_list_filter(ctx: &Ctx) -> Result<Filter, Error> {
    let mut filter = Filter::None;
    let mut i = 2;
    while i < ctx.argc() {
        if !ctx.arg_is(i, "filterby") || ctx.argc() - 1 - i != 2 {
            return Err(Error::Syntax);
        }
        let value = ctx.arg(i + 2);
        filter = if ctx.arg_is(i + 1, "module") {
            Filter::Module
        } else if ctx.arg_is(i + 1, "aclcat") {
            // An unknown category matches no command, as in Redis.
            let category = ACL_NAMES
                .iter()
                .find(|(_, name)| value.eq_ignore_ascii_case(name.as_bytes()))
                .map_or(0, |(bit, _)| *bit);
            Filter::AclCategory(category)
        } else if ctx.arg_is(i + 1, "pattern") {
            Filter::Pattern(value.to_vec())
        } else {
            return Err(Error::Syntax);
        };
        i += 3;
    }
    Ok(filter)
}

/// COMMAND LIST [FILTERBY MODULE name|ACLCAT category|PATTERN pattern]: names of
/// commands and subcommands, each container followed by its subcommands.
pub fn command_list(ctx: &mut Ctx) -> CmdResult {
    let filter = parse_list_filter(ctx)?;
    let mut names = Vec::new();
    for spec in top_level() {
        if filter.accepts(spec) {
            names.push(spec.full_name());
        }
        for sub in ctx.server.commands.subcommands_of(spec.name) {
            if filter.accepts(sub) {
                names.push(sub.full_name());
            }
        }
    }
    ctx.out.array(names.len());
    for name in names {
        ctx.out.bulk(name.as_bytes());
    }
    Ok(())
}

/// The spec COMMAND GETKEYS is asked about: a subcommand when the command has them.
fn getkeys_target(ctx: &Ctx) -> Option<&'static CommandSpec> {
    let base = ctx.server.commands.lookup(ctx.arg(2))?;
    if ctx.argc() == 3 || !ctx.server.commands.has_subcommands(base) {
        return Some(base);
    }
    ctx.server.commands.lookup_sub(base.name, ctx.arg(3))
}

fn is_not_key(ks: &KeySpec) -> bool {
    ks.flags.contains(&"not_key")
}

/// Key positions in the arguments after GETKEYS; `None` when they contradict the specs.
fn getkeys_positions(ctx: &Ctx, spec: &CommandSpec) -> Option<Vec<usize>> {
    let cmd = ctx.cmd;
    let argc = cmd.len() - 2;
    let arg = |i: usize| cmd.arg(i + 2);
    if spec.name == "sort" && spec.container.is_none() {
        return Some(sort_key_positions(argc, &arg));
    }
    let mut positions = Vec::new();
    for ks in spec.key_specs.iter().filter(|ks| !is_not_key(ks)) {
        ks.positions_with(argc, &arg, &mut positions)?;
    }
    Some(positions)
}

/// SORT's keys as Redis finds them (its key specs say "unknown"): the sorted key and the
/// last STORE destination, stepping over LIMIT, GET and BY arguments.
fn sort_key_positions<'a>(argc: usize, arg: &dyn Fn(usize) -> &'a [u8]) -> Vec<usize> {
    let mut positions = vec![1];
    let mut store = None;
    let mut i = 2;
    while i < argc {
        let word = arg(i);
        if word.eq_ignore_ascii_case(b"limit") {
            i += 2;
        } else if word.eq_ignore_ascii_case(b"get") || word.eq_ignore_ascii_case(b"by") {
            i += 1;
        } else if word.eq_ignore_ascii_case(b"store") && i + 1 < argc {
            store = Some(i + 1);
        }
        i += 1;
    }
    positions.extend(store);
    positions
}

pub fn command_getkeys(ctx: &mut Ctx) -> CmdResult {
    let spec = getkeys_target(ctx).ok_or_else(|| Error::err("Invalid command specified"))?;
    if !spec.key_specs.iter().any(|ks| !is_not_key(ks)) {
        return Err(Error::err("The command has no key arguments"));
    }
    let argc = (ctx.argc() - 2) as i32;
    if (spec.arity > 0 && spec.arity != argc) || argc < -spec.arity {
        return Err(Error::err(
            "Invalid number of arguments specified for command",
        ));
    }
    let positions = getkeys_positions(ctx, spec).unwrap_or_default();
    if positions.is_empty() && !spec.has(CMD_NO_MANDATORY_KEYS) {
        return Err(Error::err("Invalid arguments specified for command"));
    }
    ctx.out.array(positions.len());
    for pos in positions {
        ctx.out.bulk(ctx.arg(pos + 2));
    }
    Ok(())
}

pub fn command_help(ctx: &mut Ctx) -> CmdResult {
    reply_help(
        ctx,
        &[
            "(no subcommand)",
            "    Return details about all Redis commands.",
            "COUNT",
            "    Return the total number of commands in this Redis server.",
            "LIST",
            "    Return a list of all commands in this Redis server.",
            "INFO [<command-name> ...]",
            "    Return details about multiple Redis commands.",
            "    If no command names are given, documentation details for all",
            "    commands are returned.",
            "DOCS [<command-name> ...]",
            "    Return documentation details about multiple Redis commands.",
            "    If no command names are given, documentation details for all",
            "    commands are returned.",
            "GETKEYS <full-command>",
            "    Return the keys from a full Redis command.",
        ],
    );
    Ok(())
}

/// The flag names COMMAND shows for a command.
fn flag_names(spec: &CommandSpec) -> Vec<&'static str> {
    let mut flags = spec.flags & !HIDDEN_FLAGS;
    if spec.movable_keys() {
        flags |= CMD_MOVABLE_KEYS;
    }
    // FLAG_NAMES is in Redis's order.
    FLAG_NAMES
        .iter()
        .filter(|(bit, _)| flags & bit != 0)
        .map(|(_, name)| *name)
        .collect()
}

/// One COMMAND INFO entry.
fn write_info(out: &mut ReplyWriter, spec: &CommandSpec) {
    let (first, last, step) = spec.legacy_key_range();
    out.array(10);
    out.bulk(spec.full_name().as_bytes());
    out.integer(i64::from(spec.arity));
    let flags = flag_names(spec);
    out.set(flags.len());
    for flag in flags {
        out.simple(flag.as_bytes());
    }
    out.integer(i64::from(first));
    out.integer(i64::from(last));
    out.integer(i64::from(step));
    let categories = spec.acl_categories();
    let names: Vec<&str> = ACL_NAMES
        .iter()
        .filter(|(bit, _)| categories & bit != 0)
        .map(|(_, name)| *name)
        .collect();
    out.set(names.len());
    for name in names {
        out.simple(format!("@{name}").as_bytes());
    }
    out.set(spec.tips.len());
    for tip in spec.tips {
        out.bulk(tip.as_bytes());
    }
    out.set(spec.key_specs.len());
    for ks in spec.key_specs {
        write_key_spec(out, ks);
    }
    write_subcommands(out, spec, write_info, false);
}

/// Writes a container's subcommands (an array, or a name-keyed map for DOCS); an empty
/// set for commands without subcommands.
fn write_subcommands(
    out: &mut ReplyWriter,
    spec: &CommandSpec,
    each: fn(&mut ReplyWriter, &CommandSpec),
    as_map: bool,
) {
    let subs: Vec<&CommandSpec> = lodestone_spec::subcommands(spec.name)
        .filter(|_| spec.container.is_none())
        .collect();
    if subs.is_empty() {
        out.set(0);
        return;
    }
    if as_map {
        out.map(subs.len());
    } else {
        out.array(subs.len());
    }
    for sub in subs {
        if as_map {
            out.bulk(sub.full_name().as_bytes());
        }
        each(out, sub);
    }
}

fn write_key_spec(out: &mut ReplyWriter, ks: &KeySpec) {
    out.map(3);
    out.bulk(b"flags");
    let flags: Vec<&str> = KEY_FLAG_ORDER
        .iter()
        .filter(|name| ks.flags.contains(name))
        .copied()
        .collect();
    out.set(flags.len());
    for flag in flags {
        out.simple(flag.as_bytes());
    }
    out.bulk(b"begin_search");
    out.map(2);
    out.bulk(b"type");
    match ks.begin {
        BeginSearch::Index(index) => {
            out.bulk(b"index");
            out.bulk(b"spec");
            out.map(1);
            out.bulk(b"index");
            out.integer(i64::from(index));
        }
        BeginSearch::Keyword {
            keyword,
            start_from,
        } => {
            out.bulk(b"keyword");
            out.bulk(b"spec");
            out.map(2);
            out.bulk(b"keyword");
            out.bulk(keyword.as_bytes());
            out.bulk(b"startfrom");
            out.integer(i64::from(start_from));
        }
        BeginSearch::Unknown => {
            out.bulk(b"unknown");
            out.bulk(b"spec");
            out.map(0);
        }
    }
    write_find_keys(out, ks.find);
}

fn write_find_keys(out: &mut ReplyWriter, find: FindKeys) {
    out.bulk(b"find_keys");
    out.map(2);
    out.bulk(b"type");
    let fields: [(&[u8], i32); 3] = match find {
        FindKeys::Unknown => {
            out.bulk(b"unknown");
            out.bulk(b"spec");
            out.map(0);
            return;
        }
        FindKeys::Range {
            last_key,
            key_step,
            limit,
        } => {
            out.bulk(b"range");
            [
                (b"lastkey", last_key),
                (b"keystep", key_step),
                (b"limit", limit),
            ]
        }
        FindKeys::Keynum {
            keynum_index,
            first_key,
            key_step,
        } => {
            out.bulk(b"keynum");
            [
                (b"keynumidx", keynum_index),
                (b"firstkey", first_key),
                (b"keystep", key_step),
            ]
        }
    };
    out.bulk(b"spec");
    out.map(3);
    for (name, value) in fields {
        out.bulk(name);
        out.integer(i64::from(value));
    }
}

/// One COMMAND DOCS entry (without the name, which the caller writes as the map key).
fn write_docs(out: &mut ReplyWriter, spec: &CommandSpec) {
    let has_subs =
        spec.container.is_none() && lodestone_spec::subcommands(spec.name).next().is_some();
    out.map(4 + usize::from(has_subs));
    out.bulk(b"summary");
    out.bulk(spec.summary.as_bytes());
    out.bulk(b"since");
    out.bulk(spec.since.as_bytes());
    out.bulk(b"group");
    out.bulk(spec.group.name().as_bytes());
    out.bulk(b"complexity");
    out.bulk(spec.complexity.as_bytes());
    if has_subs {
        out.bulk(b"subcommands");
        write_subcommands(out, spec, write_docs, true);
    }
}
