//! The quoting of manifest lines: Redis splits a line into words as its config file and
//! redis-cli do (`sdssplitargs`), and writes a file name that would not survive that
//! split in double quotes with C-style escapes (`sdscatrepr`).

use crate::c_text::{is_print, is_space};

/// Splits `line` into words: bare words end at a space, tab, CR or LF; `"..."` words
/// take `\n \r \t \b \a \xHH` escapes (any other escaped byte stands for itself);
/// `'...'` words take only `\'`. `None` for an unterminated quote or a closing quote
/// followed by something other than white space, as Redis refuses both.
///
/// `line` must hold no NUL (Redis's split stops there; callers cut at the NUL first).
pub fn split_args(line: &[u8]) -> Option<Vec<Vec<u8>>> {
    let mut words = Vec::new();
    let mut p = 0;
    loop {
        while line.get(p).is_some_and(|&b| is_space(b)) {
            p += 1;
        }
        if p >= line.len() {
            return Some(words);
        }
        let (word, next) = split_word(line, p)?;
        words.push(word);
        p = next;
    }
}

/// Reads one word starting at `p` (not white space); returns it and where to go on.
fn split_word(line: &[u8], mut p: usize) -> Option<(Vec<u8>, usize)> {
    #[derive(PartialEq)]
    enum Mode {
        Bare,
        Double,
        Single,
    }
    let at = |i: usize| line.get(i).copied();
    let mut word = Vec::new();
    let mut mode = Mode::Bare;
    loop {
        let c = at(p);
        match mode {
            Mode::Double => match c {
                None => return None,
                Some(b'\\') if at(p + 1) == Some(b'x') => {
                    match (at(p + 2).and_then(hex_value), at(p + 3).and_then(hex_value)) {
                        (Some(hi), Some(lo)) => {
                            word.push(hi * 16 + lo);
                            p += 3;
                        }
                        // Not a full \xHH: the 'x' stands for itself.
                        _ => {
                            word.push(b'x');
                            p += 1;
                        }
                    }
                }
                Some(b'\\') if at(p + 1).is_some() => {
                    p += 1;
                    word.push(match line[p] {
                        b'n' => b'\n',
                        b'r' => b'\r',
                        b't' => b'\t',
                        b'b' => 0x08,
                        b'a' => 0x07,
                        other => other,
                    });
                }
                Some(b'"') => return closing_quote(line, p).map(|next| (word, next)),
                Some(other) => word.push(other),
            },
            Mode::Single => match c {
                None => return None,
                Some(b'\\') if at(p + 1) == Some(b'\'') => {
                    p += 1;
                    word.push(b'\'');
                }
                Some(b'\'') => return closing_quote(line, p).map(|next| (word, next)),
                Some(other) => word.push(other),
            },
            Mode::Bare => match c {
                None | Some(b' ' | b'\n' | b'\r' | b'\t') => {
                    return Some((word, (p + 1).min(line.len())))
                }
                Some(b'"') => mode = Mode::Double,
                Some(b'\'') => mode = Mode::Single,
                Some(other) => word.push(other),
            },
        }
        p += 1;
    }
}

/// After a closing quote at `p`: the word must end there (end of line or white space).
fn closing_quote(line: &[u8], p: usize) -> Option<usize> {
    match line.get(p + 1) {
        None => Some(p + 1),
        Some(&b) if is_space(b) => Some(p + 2),
        Some(_) => None,
    }
}

fn hex_value(b: u8) -> Option<u8> {
    (b as char).to_digit(16).map(|d| d as u8)
}

/// Whether `name` must be quoted to come back whole from [`split_args`] (Redis's
/// `sdsneedsrepr`: escapes, quotes, non-printable bytes and white space).
pub fn needs_quoting(name: &[u8]) -> bool {
    name.iter()
        .any(|&b| b == b'\\' || b == b'"' || !is_print(b) || is_space(b))
}

/// Appends `name` in double quotes with the escapes [`split_args`] reads back
/// (Redis's `sdscatrepr`).
pub fn push_quoted(out: &mut Vec<u8>, name: &[u8]) {
    const HEX: &[u8; 16] = b"0123456789abcdef";
    out.push(b'"');
    for &b in name {
        match b {
            b'\\' | b'"' => out.extend_from_slice(&[b'\\', b]),
            b'\n' => out.extend_from_slice(b"\\n"),
            b'\r' => out.extend_from_slice(b"\\r"),
            b'\t' => out.extend_from_slice(b"\\t"),
            0x07 => out.extend_from_slice(b"\\a"),
            0x08 => out.extend_from_slice(b"\\b"),
            _ if is_print(b) => out.push(b),
            _ => out.extend_from_slice(&[
                b'\\',
                b'x',
                HEX[usize::from(b >> 4)],
                HEX[usize::from(b & 15)],
            ]),
        }
    }
    out.push(b'"');
}

#[cfg(test)]
mod tests {
    use super::*;

    fn split(line: &str) -> Option<Vec<Vec<u8>>> {
        split_args(line.as_bytes())
    }

    fn words(list: &[&[u8]]) -> Option<Vec<Vec<u8>>> {
        Some(list.iter().map(|w| w.to_vec()).collect())
    }

    #[test]
    fn bare_words() {
        assert_eq!(split("  a bb\tccc  "), words(&[b"a", b"bb", b"ccc"]));
        assert_eq!(split(""), words(&[]));
        assert_eq!(split("a\x0bb"), words(&[b"a\x0bb"]));
    }

    #[test]
    fn double_quotes_and_escapes() {
        assert_eq!(
            split(r#""a b" "\x41\x4a\xzz" "\n\r\t\b\a\q\"\\""#),
            words(&[b"a b", b"AJxzz", b"\n\r\t\x08\x07q\"\\"])
        );
        assert_eq!(split(r#"x"y z"w "#), None);
        assert_eq!(split(r#"x"y z""#), words(&[b"xy z"]));
        assert_eq!(split(r#""unterminated"#), None);
        assert_eq!(split(r#""trailing\"#), None);
        assert_eq!(split(r#""\x4"#), None);
    }

    #[test]
    fn single_quotes() {
        assert_eq!(split(r"'a \'b\' \n'"), words(&[b"a 'b' \\n"]));
        assert_eq!(split("'a'b"), None);
        assert_eq!(split("'a"), None);
    }

    #[test]
    fn quoting_round_trips() {
        let names: [&[u8]; 5] = [
            b"plain.aof",
            b"with space",
            b"q\"uo\\te",
            b"\x00\x01\x07\x08\t\n\r\x7f\xc3\xa9",
            b"",
        ];
        for name in names {
            let mut out = Vec::new();
            push_quoted(&mut out, name);
            assert_eq!(split_args(&out), Some(vec![name.to_vec()]), "{out:?}");
        }
        assert!(!needs_quoting(b"appendonly.aof.1.base.rdb"));
        assert!(needs_quoting(b"a b"));
        assert!(needs_quoting(b"\xc3"));
        let mut out = Vec::new();
        push_quoted(&mut out, b"my \"odd\"\tfile\xc3\xa9.aof");
        assert_eq!(out, br#""my \"odd\"\tfile\xc3\xa9.aof""#);
    }
}
