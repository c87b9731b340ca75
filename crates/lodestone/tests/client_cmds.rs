//! CLIENT subcommands over TCP: names, listings, KILL, REPLY modes, PAUSE, SETINFO and
//! the error replies, byte for byte, compared with Redis 7.0 where it runs.

mod common;

use std::io::{Read, Write};
use std::net::TcpStream;
use std::time::Duration;

use common::{encode_request, wait_for, RawConn, TestServer};

/// Field names of a CLIENT LIST line, in order.
fn field_names(line: &str) -> Vec<String> {
    line.split(' ')
        .filter_map(|f| f.split_once('=').map(|(k, _)| k.to_string()))
        .collect()
}

/// The text of a bulk reply (`$n\r\n...\r\n`).
fn bulk_text(reply: &[u8]) -> String {
    let text = String::from_utf8_lossy(reply).into_owned();
    let start = text.find("\r\n").map_or(0, |i| i + 2);
    text[start..].trim_end_matches(['\r', '\n']).to_string()
}

/// The value of `field` in a CLIENT LIST line.
fn field<'a>(line: &'a str, name: &str) -> Option<&'a str> {
    line.split(' ')
        .find_map(|f| f.strip_prefix(&format!("{name}=")))
}

/// CLIENT ID, SETNAME and GETNAME work together, and a bad name is refused.
#[test]
fn id_setname_getname() {
    let server = TestServer::start();
    let mut raw = server.raw();
    let id = raw.cmd(&["CLIENT", "ID"]);
    assert!(id.starts_with(b":") && id.len() > 3, "{id:?}");
    assert_eq!(raw.cmd(&["CLIENT", "GETNAME"]), b"$-1\r\n");
    assert_eq!(raw.cmd(&["CLIENT", "SETNAME", "worker-1"]), b"+OK\r\n");
    assert_eq!(raw.cmd(&["CLIENT", "GETNAME"]), b"$8\r\nworker-1\r\n");
    assert_eq!(
        raw.cmd(&["CLIENT", "SETNAME", "a b"]),
        b"-ERR Client names cannot contain spaces, newlines or special characters.\r\n"
    );
    assert_eq!(raw.cmd(&["CLIENT", "SETNAME", ""]), b"+OK\r\n");
    assert_eq!(raw.cmd(&["CLIENT", "GETNAME"]), b"$-1\r\n");
    assert_eq!(
        raw.cmd(&["CLIENT", "SETNAME"]),
        b"-ERR wrong number of arguments for 'client|setname' command\r\n"
    );
}

const FIELDS: &[&str] = &[
    "id",
    "addr",
    "laddr",
    "fd",
    "name",
    "age",
    "idle",
    "flags",
    "db",
    "sub",
    "psub",
    "ssub",
    "multi",
    "qbuf",
    "qbuf-free",
    "argv-mem",
    "multi-mem",
    "rbs",
    "rbp",
    "obl",
    "oll",
    "omem",
    "tot-mem",
    "events",
    "cmd",
    "user",
    "redir",
    "resp",
    "lib-name",
    "lib-ver",
];

/// CLIENT INFO and LIST print Redis's fields in Redis's order with this client's state.
#[test]
fn list_and_info_fields() {
    let server = TestServer::start();
    let mut me = server.raw();
    let mut other = server.raw();
    assert_eq!(me.cmd(&["CLIENT", "SETNAME", "me"]), b"+OK\r\n");
    assert_eq!(me.cmd(&["SELECT", "3"]), b"+OK\r\n");
    assert_eq!(other.cmd(&["PING"]), b"+PONG\r\n");
    let info = bulk_text(&me.cmd(&["CLIENT", "INFO"]));
    assert_eq!(field_names(&info), FIELDS);
    assert_eq!(field(&info, "name"), Some("me"));
    assert_eq!(field(&info, "db"), Some("3"));
    assert_eq!(field(&info, "flags"), Some("N"));
    assert_eq!(field(&info, "cmd"), Some("client|info"));
    assert_eq!(field(&info, "resp"), Some("2"));
    assert_eq!(field(&info, "user"), Some("default"));
    let my_id = field(&info, "id").unwrap().to_string();

    let list = bulk_text(&me.cmd(&["CLIENT", "LIST"]));
    let lines: Vec<&str> = list.lines().collect();
    assert_eq!(lines.len(), 2, "{list}");
    assert!(lines.iter().any(|l| field(l, "cmd") == Some("ping")));
    assert!(lines.iter().any(|l| field(l, "cmd") == Some("client|list")));

    let by_id = bulk_text(&me.cmd(&["CLIENT", "LIST", "ID", &my_id, "999999"]));
    assert_eq!(by_id.lines().count(), 1);
    assert_eq!(field(&by_id, "id"), Some(my_id.as_str()));
    let normal = bulk_text(&me.cmd(&["CLIENT", "LIST", "TYPE", "normal"]));
    assert_eq!(normal.lines().count(), 2);
    assert_eq!(
        me.cmd(&["CLIENT", "LIST", "TYPE", "replica"]),
        b"$0\r\n\r\n"
    );
}

/// Lodestone's CLIENT INFO has Redis 7.0's fields, in its order, plus 7.2's lib fields.
#[test]
fn info_fields_match_redis() {
    let Some(redis) = TestServer::start_redis() else {
        return;
    };
    let server = TestServer::start();
    let ours = field_names(&bulk_text(&server.raw().cmd(&["CLIENT", "INFO"])));
    let theirs = field_names(&bulk_text(&redis.raw().cmd(&["CLIENT", "INFO"])));
    assert_eq!(&ours[..theirs.len()], &theirs[..]);
}

/// CLIENT KILL closes the target connection, in both its old and its new form.
#[test]
fn kill_closes_the_target() {
    let server = TestServer::start();
    let mut killer = server.raw();
    let mut victim = server.raw();
    let victim_id = bulk_text(&victim.cmd(&["CLIENT", "INFO"]));
    let id = field(&victim_id, "id").unwrap().to_string();
    let addr = field(&victim_id, "addr").unwrap().to_string();
    assert_eq!(killer.cmd(&["CLIENT", "KILL", "ID", &id]), b":1\r\n");
    assert!(victim.is_closed());
    assert!(wait_for(Duration::from_secs(5), || {
        !bulk_text(&killer.cmd(&["CLIENT", "LIST"])).contains(&addr)
    }));

    let mut victim = server.raw();
    let info = bulk_text(&victim.cmd(&["CLIENT", "INFO"]));
    let addr = field(&info, "addr").unwrap().to_string();
    assert_eq!(killer.cmd(&["CLIENT", "KILL", &addr]), b"+OK\r\n");
    assert!(victim.is_closed());
    assert_eq!(
        killer.cmd(&["CLIENT", "KILL", &addr]),
        b"-ERR No such client\r\n"
    );

    // SKIPME defaults to yes: a filter matching everyone spares the caller.
    assert!(wait_for(Duration::from_secs(5), || {
        bulk_text(&killer.cmd(&["CLIENT", "LIST"])).lines().count() == 1
    }));
    let mut bystander = server.raw();
    assert_eq!(bystander.cmd(&["PING"]), b"+PONG\r\n");
    assert_eq!(killer.cmd(&["CLIENT", "KILL", "TYPE", "normal"]), b":1\r\n");
    assert!(bystander.is_closed());
    assert_eq!(killer.cmd(&["PING"]), b"+PONG\r\n");
    // The old form may kill the caller itself, after its reply.
    let info = bulk_text(&killer.cmd(&["CLIENT", "INFO"]));
    let me = field(&info, "addr").unwrap().to_string();
    assert_eq!(killer.cmd(&["CLIENT", "KILL", &me]), b"+OK\r\n");
    assert!(killer.is_closed());
}

/// CLIENT REPLY OFF drops every reply until ON; SKIP drops only the next one.
#[test]
fn reply_off_skip_on() {
    let server = TestServer::start();
    let mut raw = server.raw();
    let mut pipeline = Vec::new();
    for args in [
        &["CLIENT", "REPLY", "OFF"][..],
        &["SET", "k", "v"],
        &["GET", "k"],
        &["NOPE"],
        &["CLIENT", "REPLY", "ON"],
        &["CLIENT", "REPLY", "SKIP"],
        &["PING", "skipped"],
        &["PING", "shown"],
    ] {
        let args: Vec<&[u8]> = args.iter().map(|a| a.as_bytes()).collect();
        pipeline.extend(encode_request(&args));
    }
    raw.send(&pipeline);
    assert_eq!(raw.read_reply(), b"+OK\r\n");
    assert_eq!(raw.read_reply(), b"$5\r\nshown\r\n");
    assert_eq!(raw.cmd(&["GET", "k"]), b"$1\r\nv\r\n");
    // SKIP while OFF keeps replies off.
    raw.send(&encode_request(&[b"CLIENT", b"REPLY", b"OFF"]));
    raw.send(&encode_request(&[b"CLIENT", b"REPLY", b"SKIP"]));
    raw.send(&encode_request(&[b"PING"]));
    assert_eq!(raw.cmd(&["CLIENT", "REPLY", "ON"]), b"+OK\r\n");
    assert_eq!(
        raw.cmd(&["CLIENT", "REPLY", "MAYBE"]),
        b"-ERR syntax error\r\n"
    );
}

/// A plain connection whose reads can time out, to see that no reply came.
fn plain(port: u16) -> TcpStream {
    TcpStream::connect(("127.0.0.1", port)).expect("connect")
}

/// CLIENT PAUSE WRITE holds a SET until UNPAUSE while GETs still run.
#[test]
fn pause_write_holds_writes_not_reads() {
    let server = TestServer::start();
    let mut admin = server.raw();
    let mut reader = server.raw();
    assert_eq!(
        admin.cmd(&["CLIENT", "PAUSE", "60000", "WRITE"]),
        b"+OK\r\n"
    );
    let mut writer = plain(server.port);
    writer
        .write_all(&encode_request(&[b"SET", b"paused", b"yes"]))
        .unwrap();
    assert_eq!(reader.cmd(&["GET", "paused"]), b"$-1\r\n");
    writer
        .set_read_timeout(Some(Duration::from_millis(300)))
        .unwrap();
    let mut buf = [0u8; 16];
    assert!(writer.read(&mut buf).is_err(), "the SET ran while paused");
    assert_eq!(reader.cmd(&["GET", "paused"]), b"$-1\r\n");

    assert_eq!(admin.cmd(&["CLIENT", "UNPAUSE"]), b"+OK\r\n");
    writer
        .set_read_timeout(Some(Duration::from_secs(10)))
        .unwrap();
    let n = writer.read(&mut buf).unwrap();
    assert_eq!(&buf[..n], b"+OK\r\n");
    assert_eq!(reader.cmd(&["GET", "paused"]), b"$3\r\nyes\r\n");
}

/// CLIENT PAUSE ALL holds reads too, and lifts by itself when the timeout passes.
#[test]
fn pause_all_expires() {
    let server = TestServer::start();
    let mut admin = server.raw();
    assert_eq!(admin.cmd(&["CLIENT", "PAUSE", "200", "ALL"]), b"+OK\r\n");
    let mut reader = RawConn::connect(server.port);
    assert_eq!(reader.cmd(&["GET", "k"]), b"$-1\r\n");
}

/// CLIENT SETINFO and NO-EVICT show up in CLIENT INFO; bad input gets Redis's errors.
#[test]
fn setinfo_and_no_evict() {
    let server = TestServer::start();
    let mut raw = server.raw();
    assert_eq!(
        raw.cmd(&["CLIENT", "SETINFO", "LIB-NAME", "redis-rs"]),
        b"+OK\r\n"
    );
    assert_eq!(
        raw.cmd(&["CLIENT", "SETINFO", "lib-ver", "0.27"]),
        b"+OK\r\n"
    );
    assert_eq!(raw.cmd(&["CLIENT", "NO-EVICT", "on"]), b"+OK\r\n");
    let info = bulk_text(&raw.cmd(&["CLIENT", "INFO"]));
    assert_eq!(field(&info, "lib-name"), Some("redis-rs"));
    assert_eq!(field(&info, "lib-ver"), Some("0.27"));
    assert_eq!(field(&info, "flags"), Some("e"));
    assert_eq!(
        raw.cmd(&["CLIENT", "SETINFO", "color", "x"]),
        b"-ERR Unrecognized option 'color'\r\n"
    );
    assert_eq!(
        raw.cmd(&["CLIENT", "SETINFO", "lib-name", "a b"]),
        b"-ERR lib-name cannot contain spaces, newlines or special characters.\r\n"
    );
    assert_eq!(
        raw.cmd(&["CLIENT", "NO-EVICT", "x"]),
        b"-ERR syntax error\r\n"
    );
}

/// Malformed CLIENT calls get Redis's error replies, identical to Redis's own.
#[test]
fn errors_match_redis() {
    let cases: &[(&[&str], &[u8])] = &[
        (&["CLIENT", "KILL", "ID", "x"], b"-ERR client-id should be greater than 0\r\n"),
        (&["CLIENT", "KILL", "ID", "999999"], b":0\r\n"),
        (&["CLIENT", "KILL", "TYPE", "foo"], b"-ERR Unknown client type 'foo'\r\n"),
        (&["CLIENT", "KILL", "USER", "bob"], b"-ERR No such user 'bob'\r\n"),
        (&["CLIENT", "KILL", "ADDR", "1.2.3.4:5", "SKIPME"], b"-ERR syntax error\r\n"),
        (&["CLIENT", "KILL", "1.2.3.4:5"], b"-ERR No such client\r\n"),
        (&["CLIENT", "LIST", "TYPE"], b"-ERR syntax error\r\n"),
        (&["CLIENT", "LIST", "ID", "x"], b"-ERR Invalid client ID\r\n"),
        (&["CLIENT", "LIST", "TYPE", "bad"], b"-ERR Unknown client type 'bad'\r\n"),
        (&["CLIENT", "PAUSE", "x"], b"-ERR timeout is not an integer or out of range\r\n"),
        (&["CLIENT", "PAUSE", "-1"], b"-ERR timeout is negative\r\n"),
        (&["CLIENT", "PAUSE", "10", "bad"], b"-ERR CLIENT PAUSE mode must be WRITE or ALL\r\n"),
        (
            &["CLIENT", "PAUSE", "10", "write", "x"],
            b"-ERR unknown subcommand or wrong number of arguments for 'PAUSE'. Try CLIENT HELP.\r\n",
        ),
        (
            &["CLIENT", "UNBLOCK", "1", "x"],
            b"-ERR CLIENT UNBLOCK reason should be TIMEOUT or ERROR\r\n",
        ),
        (&["CLIENT", "UNBLOCK", "x"], b"-ERR value is not an integer or out of range\r\n"),
        (&["CLIENT", "UNBLOCK", "999999"], b":0\r\n"),
        (&["CLIENT", "NOPE"], b"-ERR unknown subcommand 'NOPE'. Try CLIENT HELP.\r\n"),
    ];
    let server = TestServer::start();
    let redis = TestServer::start_redis();
    let mut ours = server.raw();
    let mut theirs = redis.as_ref().map(|r| r.raw());
    for (args, expected) in cases {
        assert_eq!(
            ours.cmd(args),
            *expected,
            "{args:?}: {}",
            String::from_utf8_lossy(expected)
        );
        if let Some(theirs) = theirs.as_mut() {
            assert_eq!(theirs.cmd(args), *expected, "redis disagrees on {args:?}");
        }
    }
}

/// CLIENT HELP is framed as Redis frames help, and lists the subcommands.
#[test]
fn help_lists_subcommands() {
    let server = TestServer::start();
    let mut con = server.client();
    let lines: Vec<String> = redis::cmd("CLIENT").arg("HELP").query(&mut con).unwrap();
    assert_eq!(
        lines[0],
        "CLIENT <subcommand> [<arg> [value] [opt] ...]. Subcommands are:"
    );
    assert!(lines.contains(&"PAUSE <timeout> [WRITE|ALL]".to_string()));
    assert_eq!(lines.last().unwrap(), "    Prints this help.");
}
