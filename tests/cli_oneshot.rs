//! cairn-cli as a script or a person runs it without a terminal: one-shot commands (exit
//! codes, redis-cli's output formats), piped standard input, `--resp` against redis-cli's
//! own output, and an unreachable server.

// A failing test should fail loudly: expect and unwrap are its assertions.
#![allow(clippy::expect_used, clippy::unwrap_used)]

mod common;

use std::ffi::OsString;
use std::io::Write;
use std::os::unix::ffi::OsStringExt;
use std::process::{Command, Output, Stdio};

use common::TestServer;

fn cli(server: &TestServer, args: &[&str]) -> Output {
    let args: Vec<OsString> = args.iter().map(OsString::from).collect();
    cli_os(server, &args)
}

fn cli_os(server: &TestServer, args: &[OsString]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_cairn-cli"))
        .args(["-p", &server.addr.port().to_string()])
        .args(args)
        .stdin(Stdio::null())
        .output()
        .expect("run cairn-cli")
}

/// cairn-cli reading `input` from a pipe, as a script.
fn cli_piped(server: &TestServer, input: &[u8], extra: &[&str]) -> Output {
    let mut child = Command::new(env!("CARGO_BIN_EXE_cairn-cli"))
        .args(["-p", &server.addr.port().to_string()])
        .args(extra)
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    child.stdin.take().unwrap().write_all(input).unwrap();
    child.wait_with_output().unwrap()
}

fn stdout(o: &Output) -> String {
    String::from_utf8_lossy(&o.stdout).into_owned()
}

#[test]
fn one_shot_commands_exit_codes_and_formats() {
    let server = TestServer::start(&["--fsync", "never"]);
    let set = cli(&server, &["SET", "k", "v"]);
    assert!(set.status.success());
    assert_eq!(stdout(&set), "OK\n");

    // stdout is a pipe here: raw by default, as redis-cli; --no-raw formats.
    assert_eq!(stdout(&cli(&server, &["GET", "k"])), "v\n");
    assert_eq!(stdout(&cli(&server, &["--no-raw", "GET", "k"])), "\"v\"\n");
    assert_eq!(
        stdout(&cli(&server, &["--no-raw", "GET", "nope"])),
        "(nil)\n"
    );
    assert_eq!(
        stdout(&cli(&server, &["--no-raw", "INCR", "n"])),
        "(integer) 1\n"
    );

    let err = cli(&server, &["--no-raw", "INCR", "k"]);
    assert_eq!(err.status.code(), Some(1));
    assert_eq!(
        stdout(&err),
        "(error) ERR value is not an integer or out of range\n"
    );
    let unknown = cli(&server, &["NOSUCH", "x"]);
    assert_eq!(unknown.status.code(), Some(1));
    assert!(
        stdout(&unknown).starts_with("ERR unknown command"),
        "{}",
        stdout(&unknown)
    );

    // Binary bytes are escaped as redis-cli does.
    let value = OsString::from_vec(b"a\x01\xff\"\\\n".to_vec());
    let set = cli_os(&server, &["SET".into(), "bin".into(), value]);
    assert!(set.status.success());
    assert_eq!(
        stdout(&cli(&server, &["--no-raw", "GET", "bin"])),
        "\"a\\x01\\xff\\\"\\\\\\n\"\n"
    );
    assert_eq!(
        cli(&server, &["--raw", "GET", "bin"]).stdout,
        b"a\x01\xff\"\\\n\n"
    );

    // Nested arrays, numbered and indented as redis-cli.
    assert!(cli(&server, &["MSET", "a", "1", "b", "2"]).status.success());
    assert_eq!(
        stdout(&cli(&server, &["--no-raw", "SCAN", "0", "MATCH", "[ab]"])),
        "1) \"0\"\n2) 1) \"a\"\n   2) \"b\"\n"
    );
    assert_eq!(
        stdout(&cli(&server, &["--no-raw", "MGET", "a", "nope", "b"])),
        "1) \"1\"\n2) (nil)\n3) \"2\"\n"
    );
    assert_eq!(
        stdout(&cli(&server, &["--no-raw", "KEYS", "zz*"])),
        "(empty array)\n"
    );
    // Native replies come in RESP3 shapes: a range is a map, printed as redis-cli -3 does.
    assert_eq!(
        stdout(&cli(&server, &["--no-raw", "RANGE", "a", "bi"])),
        "1# \"a\" => \"1\"\n2# \"b\" => \"2\"\n"
    );
    assert_eq!(
        stdout(&cli(&server, &["--raw", "RANGE", "a", "bi"])),
        "a\n1\nb\n2\n"
    );
    let info = stdout(&cli(&server, &["--no-raw", "COMMAND", "INFO", "get"]));
    assert!(
        info.starts_with("1)  1) \"get\"\n    2) (integer) 2\n    3) 1~ "),
        "{info}"
    );
}

#[test]
fn piped_stdin_runs_each_line() {
    let server = TestServer::start(&["--fsync", "never"]);
    let run = |input: &str, extra: &[&str]| cli_piped(&server, input.as_bytes(), extra);
    let out = run(
        "SET greeting \"hello \\\"world\\\"\\n\"\nGET greeting\n\n  SET 'it''s' x\nset single 'it\\'s'\nGET single\nINCR n\n",
        &["--no-raw"],
    );
    assert_eq!(
        stdout(&out),
        "OK\n\"hello \\\"world\\\"\\n\"\nOK\n\"it's\"\n(integer) 1\n",
        "stderr: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    // The unbalanced line was reported and skipped, and counts as a failure.
    assert_eq!(out.status.code(), Some(1));
    assert!(String::from_utf8_lossy(&out.stderr).contains("Invalid argument(s)"));

    // An error reply makes the exit status 1; raw output when not asked otherwise.
    let out = run("GET greeting\nINCR greeting\nPING\n", &[]);
    assert_eq!(out.status.code(), Some(1));
    assert_eq!(
        stdout(&out),
        "hello \"world\"\n\nERR value is not an integer or out of range\n\nPONG\n"
    );
}

#[test]
fn lines_split_as_the_server_splits_inline_requests() {
    // A vertical tab separates after a closing quote and before an argument, as in Redis's
    // inline requests; inside an unquoted argument it is an ordinary byte.
    let server = TestServer::start(&["--fsync", "never"]);
    let out = cli_piped(
        &server,
        b"\x0bSET \"k\"\x0bv\nGET k\nSET t a\x0bb\nSTRLEN t\n",
        &[],
    );
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(
        (stdout(&out).as_str(), out.status.code()),
        ("OK\nv\nOK\n3\n", Some(0)),
        "{stderr}"
    );
}

#[test]
fn resp_mode_prints_as_redis_cli() {
    let server = TestServer::start(&["--fsync", "never"]);
    assert!(cli(&server, &["--resp", "MSET", "a", "1", "b", "x\ty"])
        .status
        .success());
    let have_redis_cli = Command::new("redis-cli").arg("--version").output().is_ok();
    if !have_redis_cli {
        // Under CI the comparison must run: .ci/run installs redis-tools.
        assert!(
            std::env::var_os("CI").is_none(),
            "redis-cli is not installed, but CI must compare against it (.ci/run installs redis-tools)"
        );
        eprintln!("NOTE: redis-cli not installed; output not compared with redis-cli's");
    }
    for args in [
        vec!["--no-raw", "MGET", "a", "b", "nope"],
        vec!["--no-raw", "SCAN", "0"],
        vec!["--no-raw", "COMMAND", "INFO", "get", "set"],
        vec!["--no-raw", "INCR", "b"],
        vec!["--raw", "INCR", "b"],
        vec!["--raw", "MGET", "a", "b"],
        vec!["--no-raw", "RANGE", "a", "bi"],
    ] {
        let ours = cli(&server, &[&["--resp"], &args[..]].concat());
        if !have_redis_cli {
            assert!(!ours.stdout.is_empty());
            continue;
        }
        let theirs = Command::new("redis-cli")
            .args(["-p", &server.addr.port().to_string()])
            .args(&args)
            .stdin(Stdio::null())
            .output()
            .unwrap();
        assert_eq!(stdout(&ours), stdout(&theirs), "{args:?}");
    }
    // RESP3 after HELLO 3: maps as redis-cli -3 prints them.
    let hello = stdout(&cli(&server, &["--resp", "-3", "--no-raw", "HELLO", "3"]));
    assert!(hello.starts_with("1# \"server\" => \"cairn\"\n"), "{hello}");
}

#[test]
fn unreachable_server_is_one_line_and_exit_1() {
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    for extra in [&[][..], &["--resp"][..], &["GET", "k"][..]] {
        let out = Command::new(env!("CARGO_BIN_EXE_cairn-cli"))
            .args(["-p", &port.to_string()])
            .args(extra)
            .stdin(Stdio::null())
            .output()
            .unwrap();
        assert_eq!(out.status.code(), Some(1));
        assert!(out.stdout.is_empty());
        assert_eq!(
            String::from_utf8_lossy(&out.stderr),
            format!("Could not connect to Cairn at 127.0.0.1:{port}: Connection refused\n")
        );
    }
}

#[test]
fn help_needs_no_server() {
    let out = Command::new(env!("CARGO_BIN_EXE_cairn-cli"))
        .args(["-p", "1", "help", "get"])
        .output()
        .unwrap();
    assert!(out.status.success());
    assert_eq!(
        String::from_utf8_lossy(&out.stdout),
        "\n  GET key\n  summary: Returns the string value of a key.\n  since: 1.0.0\n  group: string\n\n"
    );
}

#[test]
fn password_in_both_protocols() {
    let server = TestServer::start(&["--requirepass", "pw"]);
    for proto in [&[][..], &["--resp"][..]] {
        let ok = cli(&server, &[proto, &["-a", "pw", "SET", "k", "v"]].concat());
        assert!(ok.status.success(), "{proto:?} {ok:?}");
        assert_eq!(stdout(&ok), "OK\n");
        let refused = cli(&server, &[proto, &["GET", "k"]].concat());
        assert_eq!(refused.status.code(), Some(1));
        assert!(
            stdout(&refused).starts_with("NOAUTH"),
            "{proto:?} {refused:?}"
        );
    }
}

#[test]
fn subscribe_prints_each_message_as_redis_cli_does() {
    let server = TestServer::start(&["--fsync", "never"]);
    let port = server.addr.port().to_string();
    let spawn = |program: &str, extra: &[&str]| {
        Command::new(program)
            .args(["-p", &port])
            .args(extra)
            .args(["SUBSCRIBE", "news", "sport"])
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .unwrap()
    };
    let mut listeners = vec![spawn(env!("CARGO_BIN_EXE_cairn-cli"), &["--resp"])];
    let have_redis_cli = common::tool_available("redis-cli", "SUBSCRIBE against redis-cli");
    if have_redis_cli {
        listeners.push(spawn("redis-cli", &[]));
    }
    let mut con = server.redis();
    let listening = i64::try_from(listeners.len()).unwrap();
    let subscribed = || {
        let counts: Vec<redis::Value> = redis::cmd("PUBSUB")
            .arg("NUMSUB")
            .arg("news")
            .query(&mut server.redis())
            .unwrap();
        counts.get(1) == Some(&redis::Value::Int(listening))
    };
    let start = std::time::Instant::now();
    while !subscribed() {
        assert!(
            start.elapsed().as_secs() < 10,
            "the listeners never subscribed"
        );
        std::thread::sleep(std::time::Duration::from_millis(20));
    }
    let receivers: i64 = redis::cmd("PUBLISH")
        .arg("news")
        .arg("hello world")
        .query(&mut con)
        .unwrap();
    assert_eq!(receivers, listening);
    std::thread::sleep(std::time::Duration::from_millis(300));
    let outputs: Vec<String> = listeners
        .into_iter()
        .map(|mut child| {
            child.kill().unwrap();
            stdout(&child.wait_with_output().unwrap())
        })
        .collect();
    assert_eq!(
        outputs[0],
        "subscribe\nnews\n1\nsubscribe\nsport\n2\nmessage\nnews\nhello world\n"
    );
    if have_redis_cli {
        assert_eq!(outputs[0], outputs[1], "cairn-cli, then redis-cli");
    }
    // Over the native protocol, pub/sub is refused with a line saying what to use.
    let native = cli(&server, &["SUBSCRIBE", "news"]);
    assert!(!native.status.success());
    assert!(stdout(&native).contains("use RESP"), "{}", stdout(&native));
}
