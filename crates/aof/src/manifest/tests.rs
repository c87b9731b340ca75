use proptest::prelude::*;

use super::*;

fn file(name: &str, seq: u64, kind: FileType) -> AofFile {
    AofFile {
        name: name.as_bytes().to_vec(),
        seq,
        kind,
    }
}

fn parse(text: &str) -> Result<Manifest, String> {
    Manifest::parse(text.as_bytes())
}

/// The error's message without the line number Redis logs beside it.
fn error(text: &[u8]) -> String {
    let err = Manifest::parse(text).expect_err("should be refused");
    match err.find(" (manifest line") {
        Some(at) => err[..at].to_string(),
        None => err,
    }
}

#[test]
fn parses_what_redis_writes() {
    let m = parse(
        "file appendonly.aof.3.base.rdb seq 3 type b\n\
         file appendonly.aof.2.incr.aof seq 2 type h\n\
         file appendonly.aof.2.base.rdb seq 2 type h\n\
         file appendonly.aof.3.incr.aof seq 3 type i\n\
         file appendonly.aof.4.incr.aof seq 4 type i\n",
    )
    .unwrap();
    assert_eq!(
        m.base,
        Some(file("appendonly.aof.3.base.rdb", 3, FileType::Base))
    );
    assert_eq!(
        m.history,
        vec![
            file("appendonly.aof.2.incr.aof", 2, FileType::History),
            file("appendonly.aof.2.base.rdb", 2, FileType::History),
        ]
    );
    assert_eq!(
        m.incrs,
        vec![
            file("appendonly.aof.3.incr.aof", 3, FileType::Incr),
            file("appendonly.aof.4.incr.aof", 4, FileType::Incr),
        ]
    );
    assert_eq!((m.curr_base_seq, m.curr_incr_seq), (3, 4));
    let names: Vec<&[u8]> = m.load_order().map(|f| &f.name[..]).collect();
    assert_eq!(
        names,
        [
            &b"appendonly.aof.3.base.rdb"[..],
            b"appendonly.aof.3.incr.aof",
            b"appendonly.aof.4.incr.aof"
        ]
    );
}

#[test]
fn writes_base_then_history_then_incrs() {
    // Lines given in another order come out in Redis's order.
    let m = parse(
        "file a.1.incr.aof seq 1 type i\n\
         file a.1.base.rdb seq 1 type h\n\
         file a.2.base.aof seq 2 type b\n",
    )
    .unwrap();
    assert_eq!(
        m.to_bytes(),
        b"file a.2.base.aof seq 2 type b\n\
          file a.1.base.rdb seq 1 type h\n\
          file a.1.incr.aof seq 1 type i\n"
    );
    assert_eq!(Manifest::default().to_bytes(), b"");
}

#[test]
fn accepts_what_redis_tolerates() {
    // Comments, CRLF, surrounding blanks, any key order and case, unknown pairs, and a
    // type word of which only the first letter counts.
    let m = parse(
        "# a comment\n\
         #\n\
         \t  SEQ 1 FILE x.base.rdb Type base extra pair  \r\n\
         file 'y.incr.aof' seq 2 type incremental\n\
         file \"z\" seq 007 type h\n",
    )
    .unwrap();
    assert_eq!(m.base, Some(file("x.base.rdb", 1, FileType::Base)));
    assert_eq!(m.incrs, vec![file("y.incr.aof", 2, FileType::Incr)]);
    assert_eq!(m.history, vec![file("z", 7, FileType::History)]);

    // Later pairs win; the sequence is read like atoll ("12abc" is 12).
    let m = parse("file a seq 1 type i file b seq 12abc type i\n").unwrap();
    assert_eq!(m.incrs, vec![file("b", 12, FileType::Incr)]);

    // Only comments: an empty manifest, not an error.
    assert_eq!(parse("# nothing\n").unwrap(), Manifest::default());
    // A comment line needs no newline (Redis skips it before looking for one).
    assert_eq!(parse("# no newline").unwrap(), Manifest::default());

    // A quoted name keeps its escapes; it ends at a NUL, as Redis copies it.
    let m = parse("file \"a b\\x41\\x00zz\" seq 1 type b\n").unwrap();
    assert_eq!(m.base.unwrap().name, b"a bA");

    // History sequence numbers need not be ordered; incr ones only increase.
    let m = parse("file h seq 9 type h\nfile g seq 1 type h\nfile i seq 5 type i\n").unwrap();
    assert_eq!(m.history.len(), 2);
    assert_eq!((m.curr_base_seq, m.curr_incr_seq), (0, 5));
}

#[test]
fn line_length_limit_is_redis_buffer() {
    // 1023 bytes plus the newline fit Redis's buffer; one more byte does not.
    let line = |len: usize| {
        let head = "file ";
        let tail = " seq 1 type b";
        let name = "n".repeat(len - head.len() - tail.len());
        format!("{head}{name}{tail}\n")
    };
    assert!(parse(&line(1023)).is_ok());
    assert_eq!(
        error(line(1024).as_bytes()),
        "The AOF manifest file contains too long line"
    );
    // A long comment is read in pieces: the rest of it is a line of its own.
    let comment = format!("#{}\nfile a seq 1 type b\n", "c".repeat(1500));
    assert_eq!(error(comment.as_bytes()), INVALID);
    // A comment that fits is fine.
    let comment = format!("#{}\nfile a seq 1 type b\n", "c".repeat(1022));
    assert!(parse(&comment).is_ok());
}

#[test]
fn refuses_what_redis_refuses() {
    let cases: &[(&[u8], &str)] = &[
        (b"", "Found an empty AOF manifest"),
        (
            b"file a seq 1 type b",
            "The AOF manifest file contains too long line",
        ),
        (
            b"file a seq 1 type b\0\n",
            "The AOF manifest file contains too long line",
        ),
        (b"\n", INVALID),
        (b"  \t\r\n", INVALID),
        (b"file a seq 1 type b\n\nfile b seq 1 type i\n", INVALID),
        (b"file a seq 1\n", INVALID),
        (b"file a seq 1 type b extra\n", INVALID),
        (b"file \"a seq 1 type b\n", INVALID),
        (b"file \"a\"b seq 1 type b\n", INVALID),
        (b"file 'a seq 1 type b\n", INVALID),
        (b"name a seq 1 type b\n", INVALID),
        (b"file a seq 0 type b\n", INVALID),
        (b"file a seq x type b\n", INVALID),
        (b"file a seq -3 type h\n", INVALID),
        (b"file a seq 1 type \"\"\n", INVALID),
        (b"file a seq 1 kind b\n", INVALID),
        (
            b"file dir/a seq 1 type b\n",
            "File can't be a path, just a filename",
        ),
        (
            b"file dir\\\\a seq 1 type b\n",
            "File can't be a path, just a filename",
        ),
        (b"file a seq 1 type x\n", "Unknown AOF file type"),
        (
            b"file a seq 1 type b\nfile b seq 2 type b\n",
            "Found duplicate base file information",
        ),
        (
            b"file a seq 2 type i\nfile b seq 2 type i\n",
            "Found a non-monotonic sequence number",
        ),
        (
            b"file a seq 3 type i\nfile b seq 1 type i\n",
            "Found a non-monotonic sequence number",
        ),
    ];
    for (text, expected) in cases {
        assert_eq!(
            error(text),
            *expected,
            "{:?}",
            String::from_utf8_lossy(text)
        );
    }
}

#[test]
fn errors_name_the_line() {
    let err = parse("# c\nfile a seq 1 type b\nfile b seq 1 type q\n").unwrap_err();
    assert_eq!(err, "Unknown AOF file type (manifest line 3)");
}

#[test]
fn names_follow_redis() {
    assert_eq!(manifest_name(b"appendonly.aof"), b"appendonly.aof.manifest");
    assert_eq!(
        temp_manifest_name(b"appendonly.aof"),
        b"temp-appendonly.aof.manifest"
    );
    assert_eq!(
        base_name(b"appendonly.aof", 1, true),
        b"appendonly.aof.1.base.rdb"
    );
    assert_eq!(
        base_name(b"appendonly.aof", 12, false),
        b"appendonly.aof.12.base.aof"
    );
    assert_eq!(
        incr_name(b"appendonly.aof", 3),
        b"appendonly.aof.3.incr.aof"
    );
    assert_eq!(
        temp_incr_name(b"appendonly.aof"),
        b"temp-appendonly.aof.incr"
    );
}

#[test]
fn new_files_take_the_next_sequence() {
    let mut m = Manifest::default();
    assert_eq!(
        m.last_incr_or_new(b"p").clone(),
        file("p.1.incr.aof", 1, FileType::Incr)
    );
    assert_eq!(m.last_incr_or_new(b"p").seq, 1);
    assert_eq!(m.new_incr(b"p").seq, 2);
    assert_eq!(
        m.new_base(b"p", false).clone(),
        file("p.1.base.aof", 1, FileType::Base)
    );
    assert_eq!(
        m.new_base(b"p", true).clone(),
        file("p.2.base.rdb", 2, FileType::Base)
    );
    assert_eq!(m.history, vec![file("p.1.base.aof", 1, FileType::History)]);
    m.mark_rewritten_incrs_as_history(false);
    assert!(m.incrs.is_empty());
    assert_eq!(
        m.history,
        vec![
            file("p.1.incr.aof", 1, FileType::History),
            file("p.2.incr.aof", 2, FileType::History),
            file("p.1.base.aof", 1, FileType::History),
        ]
    );
    // The incr sequence goes on from the last one, even with no incr file listed.
    assert_eq!(m.new_incr(b"p").seq, 3);
    m.mark_rewritten_incrs_as_history(true);
    assert_eq!(m.incrs.len(), 1);
    let mut empty = Manifest::default();
    empty.mark_rewritten_incrs_as_history(true);
    assert_eq!(empty, Manifest::default());
}

#[test]
fn install_rewrite_matches_redis_order() {
    let mut m = parse("file p.1.base.rdb seq 1 type b\nfile p.1.incr.aof seq 1 type i\n").unwrap();
    m.new_incr(b"p");
    let base = m.install_rewrite(b"p", true).clone();
    assert_eq!(base, file("p.2.base.rdb", 2, FileType::Base));
    assert_eq!(
        m.to_bytes(),
        b"file p.2.base.rdb seq 2 type b\n\
          file p.1.incr.aof seq 1 type h\n\
          file p.1.base.rdb seq 1 type h\n\
          file p.2.incr.aof seq 2 type i\n"
    );
}

#[test]
fn odd_names_are_quoted_and_read_back() {
    let m = Manifest {
        base: Some(AofFile {
            name: b"a b\"'\t\x01\xff".to_vec(),
            seq: 1,
            kind: FileType::Base,
        }),
        history: vec![file("", 4, FileType::History)],
        curr_base_seq: 1,
        ..Manifest::default()
    };
    let text = m.to_bytes();
    assert_eq!(
        text,
        b"file \"a b\\\"'\\t\\x01\\xff\" seq 1 type b\nfile \"\" seq 4 type h\n"
    );
    assert_eq!(Manifest::parse(&text).unwrap(), m);
    // A single quote: Redis writes it bare and cannot read that back; we quote it.
    let mut m = Manifest::default();
    m.new_base(b"it's.aof", true);
    assert_eq!(m.to_bytes(), b"file \"it's.aof.1.base.rdb\" seq 1 type b\n");
    assert_eq!(Manifest::parse(&m.to_bytes()).unwrap(), m);
    assert_eq!(error(b"file it's.aof.1.base.rdb seq 1 type b\n"), INVALID);
}

fn arb_name() -> impl Strategy<Value = Vec<u8>> {
    // Any bytes but a path separator or NUL (which Redis's C strings cannot carry).
    proptest::collection::vec(
        any::<u8>().prop_filter("no separator", |b| !b"/\\\0".contains(b)),
        0..40,
    )
}

fn arb_manifest() -> impl Strategy<Value = Manifest> {
    let arb_file = |kind| {
        (arb_name(), 1..i64::MAX as u64).prop_map(move |(name, seq)| AofFile { name, seq, kind })
    };
    (
        proptest::option::of(arb_file(FileType::Base)),
        proptest::collection::vec(arb_file(FileType::History), 0..4),
        proptest::collection::btree_map(1..i64::MAX as u64, arb_name(), 0..4),
    )
        .prop_map(|(base, history, incr_map)| {
            let incrs: Vec<AofFile> = incr_map
                .into_iter()
                .map(|(seq, name)| AofFile {
                    name,
                    seq,
                    kind: FileType::Incr,
                })
                .collect();
            Manifest {
                curr_base_seq: base.as_ref().map_or(0, |b| b.seq),
                curr_incr_seq: incrs.last().map_or(0, |f| f.seq),
                base,
                history,
                incrs,
            }
        })
}

proptest! {
    #[test]
    fn manifests_round_trip(m in arb_manifest()) {
        let text = m.to_bytes();
        // Redis's line limit applies to what we write too; names here stay below it.
        if m.base.is_some() || !m.history.is_empty() || !m.incrs.is_empty() {
            prop_assert_eq!(Manifest::parse(&text).unwrap(), m);
        }
    }

    #[test]
    fn any_bytes_parse_or_fail_cleanly(bytes in proptest::collection::vec(any::<u8>(), 0..300)) {
        let _ = Manifest::parse(&bytes);
    }

    #[test]
    fn mangled_lines_parse_or_fail_cleanly(
        m in arb_manifest(),
        cut in any::<prop::sample::Index>(),
        byte in any::<u8>(),
    ) {
        let mut text = m.to_bytes();
        if !text.is_empty() {
            let at = cut.index(text.len());
            text[at] = byte;
            let _ = Manifest::parse(&text);
            text.truncate(at);
            let _ = Manifest::parse(&text);
        }
    }
}
