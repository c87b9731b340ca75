use proptest::prelude::*;

use super::*;
use crate::encode_command;

fn cmd(args: &[&str]) -> Vec<u8> {
    let mut out = Vec::new();
    encode_command(&mut out, args);
    out
}

/// Reads everything: the commands' arguments and how reading ended (`None`: clean).
fn read_all(bytes: &[u8]) -> (Vec<Vec<Vec<u8>>>, Option<ReadError>) {
    let mut commands = Vec::new();
    for item in CommandReader::new(bytes) {
        match item {
            Ok(command) => commands.push(command.args),
            Err(err) => return (commands, Some(err)),
        }
    }
    (commands, None)
}

fn args(list: &[&str]) -> Vec<Vec<u8>> {
    list.iter().map(|a| a.as_bytes().to_vec()).collect()
}

fn corrupt_at(bytes: &[u8]) -> usize {
    match read_all(bytes).1 {
        Some(ReadError::Corrupt { offset, .. }) => offset,
        other => panic!("expected corrupt, got {other:?} for {bytes:?}"),
    }
}

/// One piece of a sample file: a command (with its name) or an annotation line.
struct Piece {
    start: usize,
    end: usize,
    command: Option<&'static str>,
}

/// A small file as Redis writes one (annotations, SELECT, a transaction, binary data),
/// and where each piece of it lies.
fn sample_with_pieces() -> (Vec<u8>, Vec<Piece>) {
    let mut file = Vec::new();
    let mut pieces = Vec::new();
    let mut add = |bytes: Vec<u8>, command: Option<&'static str>| {
        let start = file.len();
        file.extend(bytes);
        pieces.push(Piece {
            start,
            end: file.len(),
            command,
        });
    };
    add(b"#TS:1700000000\r\n".to_vec(), None);
    add(cmd(&["SELECT", "0"]), Some("SELECT"));
    add(cmd(&["SET", "k", "v\r\nwith crlf"]), Some("SET"));
    add(b"#TS:1700000001\r\n".to_vec(), None);
    add(cmd(&["MULTI"]), Some("MULTI"));
    add(cmd(&["INCR", "n"]), Some("INCR"));
    add(cmd(&["EXEC"]), Some("EXEC"));
    add(cmd(&["RPUSH", "l", "", "\0\x01\x02"]), Some("RPUSH"));
    (file, pieces)
}

fn sample() -> Vec<u8> {
    sample_with_pieces().0
}

#[test]
fn reads_commands_with_their_end_offsets() {
    let file = sample();
    let commands: Vec<Command> = CommandReader::new(&file).map(|c| c.unwrap()).collect();
    assert_eq!(commands.len(), 6);
    assert_eq!(commands[1].args, args(&["SET", "k", "v\r\nwith crlf"]));
    assert_eq!(commands[5].args, args(&["RPUSH", "l", "", "\0\x01\x02"]));
    assert_eq!(commands[5].end, file.len());
    let first_end = b"#TS:1700000000\r\n".len() + cmd(&["SELECT", "0"]).len();
    assert_eq!(commands[0].end, first_end);
    assert_eq!(read_all(b"").0.len(), 0);
    assert_eq!(read_all(b"").1, None);
    assert_eq!(read_all(b"#only a comment").1, None);
}

/// The file cut at every offset: whole commands are read, a cut inside a command is a
/// truncation at the last whole one (before an open MULTI), a cut between commands or
/// inside an annotation is a clean end (or an unfinished MULTI). Never corrupt.
#[test]
fn every_cut_is_truncated_or_clean_never_corrupt() {
    let (file, pieces) = sample_with_pieces();
    for cut in 0..=file.len() {
        // The model: what Redis's loader makes of file[..cut].
        let mut valid_up_to = 0;
        let mut multi_from = None;
        let mut whole = 0;
        let mut inside_command = false;
        for piece in &pieces {
            let Some(name) = piece.command else { continue };
            if piece.end <= cut {
                whole += 1;
                match name {
                    "MULTI" => multi_from = Some(valid_up_to),
                    "EXEC" => multi_from = None,
                    _ => {}
                }
                valid_up_to = piece.end;
            } else if piece.start < cut {
                inside_command = true;
            }
        }
        let expected = match (inside_command, multi_from) {
            (true, from) => Some(ReadError::Truncated {
                valid_up_to: from.unwrap_or(valid_up_to),
            }),
            (false, Some(from)) => Some(ReadError::UnfinishedMulti { valid_up_to: from }),
            (false, None) => None,
        };
        let (commands, end) = read_all(&file[..cut]);
        assert_eq!(commands.len(), whole, "cut at {cut}");
        assert_eq!(end, expected, "cut at {cut}");
    }
}

#[test]
fn unfinished_multi_reverts_to_before_it() {
    let mut file = cmd(&["SET", "a", "1"]);
    let before = file.len();
    file.extend(cmd(&["MULTI"]));
    file.extend(cmd(&["SET", "b", "2"]));
    assert_eq!(
        read_all(&file).1,
        Some(ReadError::UnfinishedMulti {
            valid_up_to: before
        })
    );
    // Case does not matter to command lookup; EXEC closes the block.
    let mut closed = file.clone();
    closed.extend(cmd(&["exec"]));
    assert_eq!(read_all(&closed).1, None);
    // A truncation inside the block also cuts before the MULTI.
    file.extend(b"*2\r\n$3\r\nGET");
    assert_eq!(
        read_all(&file).1,
        Some(ReadError::Truncated {
            valid_up_to: before
        })
    );
}

#[test]
fn nested_multi_cuts_before_the_outer_one() {
    let mut file = cmd(&["SET", "a", "1"]);
    let before = file.len();
    for name in ["MULTI", "SET", "MULTI", "SET"] {
        file.extend(cmd(&[name]));
    }
    assert_eq!(
        read_all(&file).1,
        Some(ReadError::UnfinishedMulti {
            valid_up_to: before
        })
    );
}

/// Cutting where the reader says leaves a file that reads cleanly with the same
/// commands: one repair is enough.
fn assert_one_cut_repairs(bytes: &[u8]) -> Result<(), TestCaseError> {
    let mut commands = Vec::new();
    let mut cut = None;
    for item in CommandReader::new(bytes) {
        match item {
            Ok(command) => commands.push(command),
            Err(
                ReadError::Truncated { valid_up_to } | ReadError::UnfinishedMulti { valid_up_to },
            ) => cut = Some(valid_up_to),
            Err(ReadError::Corrupt { .. }) => return Ok(()),
        }
    }
    if let Some(cut) = cut {
        let kept: Vec<Vec<Vec<u8>>> = commands
            .into_iter()
            .filter(|c| c.end <= cut)
            .map(|c| c.args)
            .collect();
        prop_assert_eq!(read_all(&bytes[..cut]), (kept, None));
    }
    Ok(())
}

#[test]
fn bad_format_is_corrupt_at_the_line() {
    let ok = cmd(&["PING"]);
    let with = |tail: &[u8]| [&ok[..], tail].concat();
    // Not a command start.
    assert_eq!(corrupt_at(&with(b"SET k v\r\n")), ok.len());
    assert_eq!(corrupt_at(&with(b"\r\n")), ok.len());
    assert_eq!(corrupt_at(&with(b"\0*1\r\n")), ok.len());
    // Counts below 1 (and ones that wrap to it through C's int).
    assert_eq!(corrupt_at(&with(b"*0\r\n")), ok.len());
    assert_eq!(corrupt_at(&with(b"*-1\r\n")), ok.len());
    assert_eq!(corrupt_at(&with(b"*x\r\n")), ok.len());
    assert_eq!(corrupt_at(&with(b"*\r\n")), ok.len());
    assert_eq!(corrupt_at(&with(b"*4294967296\r\n$1\r\na\r\n")), ok.len());
    // A lone '*' followed by a NUL is a read error in Redis, not a short file.
    assert_eq!(corrupt_at(&with(b"*\0\r\n")), ok.len());
    // Missing '$'.
    assert_eq!(corrupt_at(&with(b"*1\r\n3\r\nfoo\r\n")), ok.len() + 4);
    assert_eq!(corrupt_at(&with(b"*2\r\n$1\r\na\r\n:1\r\n")), ok.len() + 11);
    // Negative length.
    assert_eq!(corrupt_at(&with(b"*1\r\n$-1\r\n")), ok.len() + 4);
    // Reasons read like Redis's log line.
    let (_, err) = read_all(b"*0\r\n");
    assert!(err
        .unwrap()
        .to_string()
        .starts_with("Bad file format reading the append only file at offset 0"));
}

#[test]
fn lenient_where_redis_is_lenient() {
    // Text after the count, a count with a sign, digits then garbage in a length, any
    // two bytes after an argument, and LF-only line ends: Redis loads all of these.
    let (commands, end) = read_all(b"*2 trailing\r\n$+4\r\nPING\r\n$1x\nAXY");
    assert_eq!(end, None);
    assert_eq!(commands, vec![args(&["PING", "A"])]);
    // A length that is not a number is 0.
    let (commands, end) = read_all(b"*1\r\n$abc\r\n\r\n");
    assert_eq!((commands, end), (vec![args(&[""])], None));
    // Counts are C ints: 2^32 + 1 is 1.
    let (commands, end) = read_all(b"*4294967297\r\n$1\r\na\r\n");
    assert_eq!((commands, end), (vec![args(&["a"])], None));
}

#[test]
fn long_lines_are_read_in_pieces() {
    // An annotation longer than the buffer: the rest of it is read as the next line,
    // which is not a command.
    let mut file = b"#".to_vec();
    file.extend(vec![b'x'; 1500]);
    file.extend(b"\r\n");
    file.extend(cmd(&["PING"]));
    assert_eq!(corrupt_at(&file), LINE_BUFFER - 1);
    // One that fits is skipped.
    let mut file = b"#".to_vec();
    file.extend(vec![b'x'; LINE_BUFFER - 4]);
    file.extend(b"\r\n");
    file.extend(cmd(&["PING"]));
    assert_eq!(read_all(&file), (vec![args(&["PING"])], None));
}

#[test]
fn short_files_are_truncated() {
    let cases: &[&[u8]] = &[
        b"*",
        b"*1",
        b"*1\r\n",
        b"*1\r\n$",
        b"*1\r\n$4",
        b"*1\r\n$4\r\n",
        b"*1\r\n$4\r\nPIN",
        b"*1\r\n$4\r\nPING",
        b"*1\r\n$4\r\nPING\r",
        // A length past the end of the file is a short file, whatever its size.
        b"*1\r\n$99999999999999999999\r\n",
    ];
    for case in cases {
        assert_eq!(
            read_all(case).1,
            Some(ReadError::Truncated { valid_up_to: 0 }),
            "{:?}",
            String::from_utf8_lossy(case)
        );
    }
}

#[test]
fn starting_after_a_preamble_keeps_it() {
    let mut file = b"REDIS0010<rdb bytes>".to_vec();
    assert!(is_rdb_preamble(&file));
    assert!(!is_rdb_preamble(b"*1\r\n"));
    assert!(!is_rdb_preamble(b"REDI"));
    let preamble = file.len();
    file.extend(b"*1\r\n$4\r\nPI");
    let mut reader = CommandReader::starting_at(&file, preamble);
    assert_eq!(
        reader.next(),
        Some(Err(ReadError::Truncated {
            valid_up_to: preamble
        }))
    );
    assert_eq!(reader.next(), None);
    assert_eq!(reader.valid_up_to(), preamble);
    // A start past the end is the end.
    assert_eq!(CommandReader::starting_at(&file, 1000).next(), None);
}

#[test]
fn redis_incr_file_with_timestamps() {
    let file = include_bytes!("../../../../tests/fixtures/aof/timestamps.incr.aof");
    let (commands, end) = read_all(file);
    assert_eq!(end, None);
    assert_eq!(
        commands,
        vec![
            args(&["SELECT", "0"]),
            args(&["SET", "a", "1"]),
            args(&["SET", "b", "2"]),
            args(&["DEL", "a"]),
        ]
    );
}

fn arb_commands() -> impl Strategy<Value = Vec<Vec<Vec<u8>>>> {
    let arg = proptest::collection::vec(any::<u8>(), 0..20);
    proptest::collection::vec(proptest::collection::vec(arg, 1..5), 0..6)
}

fn arb_transactional_file() -> impl Strategy<Value = Vec<u8>> {
    let name = prop::sample::select(vec!["MULTI", "EXEC", "SET", "multi", "exec", "DEL"]);
    let command = (name, proptest::collection::vec(any::<u8>(), 0..6));
    let piece = prop_oneof![
        4 => command.prop_map(|(name, arg)| {
            let mut out = Vec::new();
            encode_command(&mut out, &[name.as_bytes(), &arg]);
            out
        }),
        1 => Just(b"#TS:1\r\n".to_vec()),
    ];
    proptest::collection::vec(piece, 0..12).prop_map(|pieces| pieces.concat())
}

proptest! {
    #[test]
    fn one_cut_repairs_a_truncated_file(file in arb_transactional_file(), cut in any::<prop::sample::Index>()) {
        let cut = cut.index(file.len() + 1);
        assert_one_cut_repairs(&file[..cut])?;
    }

    #[test]
    fn one_cut_repairs_a_mangled_file(
        file in arb_transactional_file(),
        at in any::<prop::sample::Index>(),
        byte in any::<u8>(),
    ) {
        let mut file = file;
        if !file.is_empty() {
            let at = at.index(file.len());
            file[at] = byte;
        }
        assert_one_cut_repairs(&file)?;
    }

    #[test]
    fn encoded_commands_read_back(commands in arb_commands()) {
        let mut file = Vec::new();
        for command in &commands {
            encode_command(&mut file, command);
        }
        prop_assert_eq!(read_all(&file), (commands, None));
    }

    #[test]
    fn cuts_of_encoded_commands_are_never_corrupt(commands in arb_commands(), cut in any::<prop::sample::Index>()) {
        let mut file = Vec::new();
        for command in &commands {
            encode_command(&mut file, command);
        }
        let cut = cut.index(file.len() + 1);
        let (_, end) = read_all(&file[..cut]);
        let is_corrupt = matches!(end, Some(ReadError::Corrupt { .. }));
        prop_assert!(!is_corrupt);
    }

    #[test]
    fn any_bytes_read_without_panic(bytes in proptest::collection::vec(any::<u8>(), 0..400)) {
        let mut last_end = 0;
        for item in CommandReader::new(&bytes) {
            match item {
                Ok(command) => {
                    prop_assert!(command.end > last_end && command.end <= bytes.len());
                    last_end = command.end;
                }
                Err(ReadError::Truncated { valid_up_to } | ReadError::UnfinishedMulti { valid_up_to }) => {
                    prop_assert!(valid_up_to <= last_end);
                }
                Err(ReadError::Corrupt { offset, .. }) => prop_assert!(offset <= bytes.len()),
            }
        }
    }
}
