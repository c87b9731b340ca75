//! Starting and stopping the binary the way Redis users do: a redis.conf-style file plus
//! `--flags` that override it, and a clean exit on SIGTERM and SIGINT.

mod common;

use common::{free_port, wait_for, RawConn};
use std::process::{Command, Stdio};
use std::time::Duration;

fn start(args: &[String]) -> std::process::Child {
    Command::new(env!("CARGO_BIN_EXE_lodestone"))
        .args(args)
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .expect("start lodestone")
}

fn wait_listening(port: u16) -> bool {
    common::wait_serving(port)
}

/// A config file in redis.conf syntax is read, and command-line flags override it.
#[test]
fn config_file_then_flags() {
    let dir = std::env::temp_dir().join(format!("lodestone-startup-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let file = dir.join("lodestone.conf");
    let file_port = free_port();
    let flag_port = free_port();
    std::fs::write(
        &file,
        format!(
            "# a comment\nport {file_port}\ndatabases 4\nmaxmemory 2mb\nsave 900 1\nsave 300 10\n"
        ),
    )
    .unwrap();
    let args: Vec<String> = vec![
        file.display().to_string(),
        "--port".into(),
        flag_port.to_string(),
        "--dir".into(),
        dir.display().to_string(),
    ];
    let mut child = start(&args);
    assert!(wait_listening(flag_port), "the flag's port wins");
    let mut raw = RawConn::connect(flag_port);
    assert_eq!(
        raw.cmd(&["CONFIG", "GET", "databases"]),
        b"*2\r\n$9\r\ndatabases\r\n$1\r\n4\r\n"
    );
    assert_eq!(
        raw.cmd(&["CONFIG", "GET", "maxmemory"]),
        b"*2\r\n$9\r\nmaxmemory\r\n$7\r\n2097152\r\n"
    );
    assert_eq!(
        raw.cmd(&["CONFIG", "GET", "save"]),
        b"*2\r\n$4\r\nsave\r\n$12\r\n900 1 300 10\r\n"
    );
    assert_eq!(
        raw.cmd(&["SELECT", "4"]),
        b"-ERR DB index is out of range\r\n"
    );
    assert!(std::net::TcpStream::connect(("127.0.0.1", file_port)).is_err());
    let _ = child.kill();
    let _ = child.wait();
    let _ = std::fs::remove_dir_all(&dir);
}

/// A bad directive stops startup with Redis's fatal config error, exit status 1.
#[test]
fn bad_config_refuses_to_start() {
    let output = Command::new(env!("CARGO_BIN_EXE_lodestone"))
        .args(["--no-such-directive", "1"])
        .output()
        .expect("run lodestone");
    assert_eq!(output.status.code(), Some(1));
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(stderr.contains("FATAL CONFIG FILE ERROR"), "{stderr}");
    assert!(
        stderr.contains("Bad directive or wrong number of arguments"),
        "{stderr}"
    );
}

/// SIGTERM and SIGINT shut the server down cleanly (exit status 0).
#[test]
fn signals_shut_down_cleanly() {
    for signal in ["-TERM", "-INT"] {
        let port = free_port();
        let mut child = start(&["--port".into(), port.to_string()]);
        assert!(wait_listening(port));
        assert_eq!(RawConn::connect(port).cmd(&["PING"]), b"+PONG\r\n");
        let status = Command::new("kill")
            .args([signal, &child.id().to_string()])
            .status()
            .unwrap();
        assert!(status.success());
        let mut exited = None;
        wait_for(Duration::from_secs(10), || {
            exited = child.try_wait().ok().flatten();
            exited.is_some()
        });
        assert_eq!(exited.and_then(|s| s.code()), Some(0), "{signal}");
    }
}
