//! Smoke test with Redis's own tools: `redis-cli` (one-shot commands, `--pipe`, RESP3 with
//! `-3`) and a short `redis-benchmark -t set,get`, which exits non-zero on any error reply.
//!
//! The tools come from .ci/run (apt-get install redis-tools). Under CI (`CI` set) a missing
//! tool fails the test; on a developer machine without them the test says so and passes.

// A failing test should fail loudly: expect and unwrap are its assertions.
#![allow(clippy::expect_used, clippy::unwrap_used)]

mod common;

use std::io::Write;
use std::process::{Command, Output, Stdio};

use common::{tool_available, TestServer};

fn cli(server: &TestServer, args: &[&str]) -> String {
    let output = Command::new("redis-cli")
        .args(["-p", &server.addr.port().to_string()])
        .args(args)
        .output()
        .expect("run redis-cli");
    assert!(
        output.status.success(),
        "redis-cli {args:?} failed: {output:?}"
    );
    String::from_utf8_lossy(&output.stdout)
        .trim_end()
        .to_string()
}

#[test]
fn redis_cli_and_redis_benchmark_work() {
    let purpose = "the Redis-tools smoke test";
    if !tool_available("redis-cli", purpose) || !tool_available("redis-benchmark", purpose) {
        return;
    }
    let server = TestServer::start(&["--fsync", "everysec"]);
    assert_eq!(cli(&server, &["PING"]), "PONG");
    assert_eq!(cli(&server, &["SET", "greeting", "hello world"]), "OK");
    assert_eq!(cli(&server, &["GET", "greeting"]), "hello world");
    assert_eq!(cli(&server, &["INCRBY", "n", "5"]), "5");
    assert_eq!(
        cli(&server, &["-3", "HELLO", "3"]).lines().next(),
        Some("server cairn")
    );
    assert!(cli(&server, &["NOSUCHCMD"]).starts_with("ERR unknown command 'NOSUCHCMD'"));

    // --pipe: mass insertion, ending with ECHO of a marker.
    let mut child = Command::new("redis-cli")
        .args(["-p", &server.addr.port().to_string(), "--pipe"])
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .spawn()
        .expect("run redis-cli --pipe");
    let mut input = Vec::new();
    for i in 0..1000 {
        write!(input, "SET pipe:{i} {i}\r\n").unwrap();
    }
    child
        .stdin
        .take()
        .expect("stdin")
        .write_all(&input)
        .expect("write");
    let Output { status, stdout, .. } = child.wait_with_output().expect("wait");
    let report = String::from_utf8_lossy(&stdout);
    assert!(
        status.success() && report.contains("errors: 0, replies: 1000"),
        "{report}"
    );
    assert_eq!(cli(&server, &["GET", "pipe:999"]), "999");

    let output = Command::new("redis-benchmark")
        .args(["-p", &server.addr.port().to_string()])
        .args(["-t", "set,get", "-n", "20000", "-c", "20", "-P", "4", "-q"])
        .output()
        .expect("run redis-benchmark");
    let text = String::from_utf8_lossy(&output.stdout);
    assert!(
        output.status.success(),
        "redis-benchmark failed: {output:?}"
    );
    assert!(text.contains("SET:") && text.contains("GET:"), "{text}");
}
