//! Connection-level behaviour over TCP with real clients: PING/ECHO, HELLO and RESP3,
//! SELECT, AUTH, inline commands, pipelining and protocol errors.

mod common;

use common::TestServer;

#[test]
fn ping_echo_and_unknown_commands_keep_the_connection() {
    let server = TestServer::start();
    let mut raw = server.raw();
    assert_eq!(raw.cmd(&["PING"]), b"+PONG\r\n");
    assert_eq!(raw.cmd(&["ping", "hi"]), b"$2\r\nhi\r\n");
    assert_eq!(raw.cmd(&["ECHO", "x"]), b"$1\r\nx\r\n");
    assert_eq!(
        raw.cmd(&["NOPE", "a", "b"]),
        b"-ERR unknown command 'NOPE', with args beginning with: 'a' 'b' \r\n"
    );
    assert_eq!(
        raw.cmd(&["GET"]),
        b"-ERR wrong number of arguments for 'get' command\r\n"
    );
    assert_eq!(
        raw.cmd(&["CLIENT", "NOPE"]),
        b"-ERR unknown subcommand 'NOPE'. Try CLIENT HELP.\r\n"
    );
    assert_eq!(raw.cmd(&["PING"]), b"+PONG\r\n");
}

#[test]
fn inline_commands_and_pipelining() {
    let server = TestServer::start();
    let mut raw = server.raw();
    raw.send(b"SET k \"a b\"\r\nGET k\r\n*1\r\n$4\r\nPING\r\n");
    assert_eq!(raw.read_reply(), b"+OK\r\n");
    assert_eq!(raw.read_reply(), b"$3\r\na b\r\n");
    assert_eq!(raw.read_reply(), b"+PONG\r\n");
}

#[test]
fn protocol_error_replies_then_closes() {
    let server = TestServer::start();
    let mut raw = server.raw();
    raw.send(b"*1\r\n$x\r\n");
    assert_eq!(
        raw.read_reply(),
        b"-ERR Protocol error: invalid bulk length\r\n"
    );
    assert!(raw.is_closed());
    // The server itself is fine.
    assert_eq!(server.raw().cmd(&["PING"]), b"+PONG\r\n");
}

#[test]
fn hello_switches_to_resp3() {
    let server = TestServer::start();
    let mut raw = server.raw();
    let reply = raw.cmd(&["HELLO", "3"]);
    assert!(reply.starts_with(b"%7\r\n$6\r\nserver\r\n$5\r\nredis\r\n$7\r\nversion\r\n$6\r\n7.0.15\r\n$5\r\nproto\r\n:3\r\n"));
    assert_eq!(raw.cmd(&["GET", "missing"]), b"_\r\n");
    assert_eq!(
        raw.cmd(&["HELLO", "4"]),
        b"-NOPROTO unsupported protocol version\r\n"
    );
    assert_eq!(
        raw.cmd(&["HELLO", "x"]),
        b"-ERR Protocol version is not an integer or out of range\r\n"
    );
    let mut con = server.client_resp3();
    let pong: String = redis::cmd("PING").query(&mut con).unwrap();
    assert_eq!(pong, "PONG");
}

#[test]
fn select_keeps_databases_apart() {
    let server = TestServer::start();
    let mut con = server.client();
    let _: () = redis::cmd("SET")
        .arg("k")
        .arg("db0")
        .query(&mut con)
        .unwrap();
    let _: () = redis::cmd("SELECT").arg(1).query(&mut con).unwrap();
    let v: Option<String> = redis::cmd("GET").arg("k").query(&mut con).unwrap();
    assert_eq!(v, None);
    let err = redis::cmd("SELECT")
        .arg(16)
        .query::<()>(&mut con)
        .unwrap_err();
    assert!(
        err.to_string().contains("DB index is out of range"),
        "{err}"
    );
}

#[test]
fn requirepass_gates_commands() {
    let server = TestServer::start_with(&["--requirepass", "secret"]);
    let mut raw = server.raw();
    assert_eq!(
        raw.cmd(&["GET", "k"]),
        b"-NOAUTH Authentication required.\r\n"
    );
    assert_eq!(
        raw.cmd(&["AUTH", "wrong"]),
        b"-WRONGPASS invalid username-password pair or user is disabled.\r\n"
    );
    assert_eq!(raw.cmd(&["AUTH", "secret"]), b"+OK\r\n");
    assert_eq!(raw.cmd(&["GET", "k"]), b"$-1\r\n");
    let mut raw = server.raw();
    raw.send(b"*11\r\n");
    assert_eq!(
        raw.read_reply(),
        b"-ERR Protocol error: unauthenticated multibulk length\r\n"
    );
}
