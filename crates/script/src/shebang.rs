//! The first line of a script or a library: `#!lua flags=no-writes,allow-oom` for EVAL
//! bodies, `#!lua name=mylib` for FUNCTION LOAD. Parsed as Redis parses it (its
//! `sdssplitargs` quoting rules, exact error texts), so the same bodies are refused with
//! the same replies.

use lodestone_resp::split_args;

use crate::engine::ScriptFlags;

/// The five flag names a shebang or `redis.register_function` accepts, in Redis's order.
const FLAG_NAMES: [&str; 5] = [
    "no-writes",
    "allow-oom",
    "allow-stale",
    "no-cluster",
    "allow-cross-slot-keys",
];

/// Sets the flag called `name` (exactly, or ignoring ASCII case when `any_case`).
/// Returns false for an unknown name.
pub(crate) fn set_flag(flags: &mut ScriptFlags, name: &[u8], any_case: bool) -> bool {
    let found = FLAG_NAMES.iter().position(|known| {
        if any_case {
            known.as_bytes().eq_ignore_ascii_case(name)
        } else {
            known.as_bytes() == name
        }
    });
    match found {
        Some(0) => flags.no_writes = true,
        Some(1) => flags.allow_oom = true,
        Some(2) => flags.allow_stale = true,
        Some(3) => flags.no_cluster = true,
        Some(4) => flags.allow_cross_slot_keys = true,
        _ => return false,
    }
    true
}

/// Redis reads the body as a C string: the first line ends at `\n`, and a NUL before it
/// ends the text.
fn first_line_end(body: &[u8]) -> Option<usize> {
    let text_end = body.iter().position(|&b| b == 0).unwrap_or(body.len());
    body[..text_end].iter().position(|&b| b == b'\n')
}

/// An EVAL body's flags and the length of its shebang line (0 without one; the line
/// feed is kept so line numbers stay right). Errors are the reply texts, `ERR` included.
pub(crate) fn eval_flags(body: &[u8]) -> Result<(ScriptFlags, usize), String> {
    if !body.starts_with(b"#!") {
        return Ok((ScriptFlags::default(), 0));
    }
    let Some(len) = first_line_end(body) else {
        return Err("ERR Invalid script shebang".into());
    };
    let parts = match split_args(&body[..len]) {
        Some(parts) if !parts.is_empty() => parts,
        _ => return Err("ERR Invalid engine in script shebang".into()),
    };
    if parts[0] != b"#!lua" {
        return Err(format!(
            "ERR Unexpected engine in script shebang: {}",
            String::from_utf8_lossy(&parts[0])
        ));
    }
    let mut flags = ScriptFlags {
        shebang: true,
        ..ScriptFlags::default()
    };
    for part in &parts[1..] {
        let Some(list) = part.strip_prefix(b"flags=") else {
            return Err(format!(
                "ERR Unknown lua shebang option: {}",
                String::from_utf8_lossy(part)
            ));
        };
        if list.is_empty() {
            continue;
        }
        for name in list.split(|&b| b == b',') {
            if !set_flag(&mut flags, name, false) {
                return Err(format!(
                    "ERR Unexpected flag in script shebang: {}",
                    String::from_utf8_lossy(name)
                ));
            }
        }
    }
    Ok((flags, len))
}

/// What a library's first line declares.
#[derive(Debug, PartialEq, Eq)]
pub(crate) struct LibraryHeader {
    pub(crate) engine: Vec<u8>,
    pub(crate) name: Vec<u8>,
    /// Where the code handed to the engine starts: at the first line's `\n`.
    pub(crate) code_start: usize,
}

/// Parses `#!<engine> name=<lib>`. Errors are the reply texts, `ERR` included.
pub(crate) fn library_header(code: &[u8]) -> Result<LibraryHeader, String> {
    if !code.starts_with(b"#!") {
        return Err("ERR Missing library metadata".into());
    }
    let Some(len) = first_line_end(code) else {
        return Err("ERR Invalid library metadata".into());
    };
    let parts = match split_args(&code[..len]) {
        Some(parts) if !parts.is_empty() => parts,
        _ => return Err("ERR Invalid library metadata".into()),
    };
    let engine = parts[0].get(2..).unwrap_or_default().to_vec();
    let mut name: Option<Vec<u8>> = None;
    for part in &parts[1..] {
        if part.len() >= 5 && part[..5].eq_ignore_ascii_case(b"name=") {
            if name.is_some() {
                return Err(
                    "ERR Invalid metadata value, name argument was given multiple times".into(),
                );
            }
            name = Some(part[5..].to_vec());
            continue;
        }
        return Err(format!(
            "ERR Invalid metadata value given: {}",
            String::from_utf8_lossy(part)
        ));
    }
    let Some(name) = name else {
        return Err("ERR Library name was not given".into());
    };
    Ok(LibraryHeader {
        engine,
        name,
        code_start: len,
    })
}

/// Redis's rule for library and function names: letters, digits and `_`, at least one.
pub(crate) fn valid_name(name: &[u8]) -> bool {
    !name.is_empty() && name.iter().all(|&b| b.is_ascii_alphanumeric() || b == b'_')
}

pub(crate) const BAD_NAME: &str = "Library names can only contain letters, numbers, or underscores(_) and must be at least one character long";

#[cfg(test)]
mod tests {
    //! Shebang and library header parsing, with Redis's error texts.
    use super::*;

    #[test]
    fn eval_shebangs() {
        assert_eq!(eval_flags(b"return 1"), Ok((ScriptFlags::default(), 0)));
        let (flags, len) = eval_flags(b"#!lua flags=no-writes,allow-oom\nreturn 1").unwrap();
        assert!(flags.shebang && flags.no_writes && flags.allow_oom && !flags.allow_stale);
        assert_eq!(len, 31);
        let (flags, _) = eval_flags(b"#!lua\nreturn 1").unwrap();
        assert!(flags.shebang && !flags.no_writes);
        assert!(eval_flags(b"#!lua flags=\nx").unwrap().0.shebang);
        assert_eq!(
            eval_flags(b"#!lua"),
            Err("ERR Invalid script shebang".into())
        );
        assert_eq!(
            eval_flags(b"#!python\n"),
            Err("ERR Unexpected engine in script shebang: #!python".into())
        );
        assert_eq!(
            eval_flags(b"#!lua foo=bar\n"),
            Err("ERR Unknown lua shebang option: foo=bar".into())
        );
        assert_eq!(
            eval_flags(b"#!lua flags=no-writes,bad\n"),
            Err("ERR Unexpected flag in script shebang: bad".into())
        );
        assert_eq!(
            eval_flags(b"#!lua flags=No-Writes\n"),
            Err("ERR Unexpected flag in script shebang: No-Writes".into())
        );
        assert_eq!(
            eval_flags(b"#!lua flags=a,\n"),
            Err("ERR Unexpected flag in script shebang: a".into())
        );
        assert_eq!(
            eval_flags(b"#!lua \"x\n"),
            Err("ERR Invalid engine in script shebang".into())
        );
    }

    #[test]
    fn library_headers() {
        let h = library_header(b"#!lua name=mylib\nreturn").unwrap();
        assert_eq!(
            (h.engine.as_slice(), h.name.as_slice(), h.code_start),
            (&b"lua"[..], &b"mylib"[..], 16)
        );
        assert_eq!(library_header(b"#!LUA NAME=x\n").unwrap().name, b"x");
        assert_eq!(
            library_header(b"return 1"),
            Err("ERR Missing library metadata".into())
        );
        assert_eq!(
            library_header(b"#!lua name=x"),
            Err("ERR Invalid library metadata".into())
        );
        assert_eq!(
            library_header(b"#!lua\n"),
            Err("ERR Library name was not given".into())
        );
        assert_eq!(
            library_header(b"#!lua name=a name=b\n"),
            Err("ERR Invalid metadata value, name argument was given multiple times".into())
        );
        assert_eq!(
            library_header(b"#!lua foo=b\n"),
            Err("ERR Invalid metadata value given: foo=b".into())
        );
        assert!(valid_name(b"a_1") && !valid_name(b"") && !valid_name(b"a-b"));
    }
}
