//! The cairn-cli REPL driven through a pseudo-terminal, as a person types: the prompt, a
//! tab completion, a greyed hint, formatted replies, Ctrl-C, Ctrl-D and the history file.

// A failing test should fail loudly: expect and unwrap are its assertions.
#![allow(clippy::expect_used, clippy::unwrap_used)]

mod common;

use std::process::Command;
use std::time::Duration;

use common::TestServer;
use expectrl::{ControlCode, Expect, Session};

#[test]
fn repl_session_through_a_pty() {
    let server = TestServer::start(&["--fsync", "never"]);
    let home = tempfile::tempdir().unwrap();
    let port = server.addr.port();
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_cairn-cli"));
    cmd.args(["-p", &port.to_string()])
        .env("HOME", home.path())
        .env("TERM", "xterm");
    let mut s = Session::spawn(cmd).expect("spawn cairn-cli in a pty");
    s.set_expect_timeout(Some(Duration::from_secs(10)));
    let prompt = format!("127.0.0.1:{port}> ");
    s.expect(prompt.as_str()).expect("prompt");

    s.send_line("SET greeting \"hello\\nworld\"").unwrap();
    s.expect("OK").unwrap();
    s.expect(prompt.as_str()).unwrap();

    // Tab completes a unique prefix, in the case typed.
    s.send("getr").unwrap();
    s.send("\t").unwrap();
    s.expect("getrange").expect("completed command name");
    // The greyed hint of the arguments.
    s.send(" ").unwrap();
    s.expect("\x1b[90mkey start end").expect("argument hint");
    s.send_line("greeting 0 4").unwrap();
    s.expect("\"hello\"").unwrap();
    s.expect(prompt.as_str()).unwrap();

    // Formatted output: quoted escapes and a numbered array.
    s.send_line("MGET greeting nope").unwrap();
    s.expect("1) \"hello\\nworld\"\r\n2) (nil)").unwrap();
    s.expect(prompt.as_str()).unwrap();
    s.send_line("INCR greeting").unwrap();
    s.expect("(error) ERR value is not an integer").unwrap();

    // Ctrl-C clears the line and keeps the shell. (Wait for the prompt first: a Ctrl-C
    // typed while a command runs reaches the terminal before rustyline's raw mode and is a
    // SIGINT, as in redis-cli.)
    s.expect(prompt.as_str()).unwrap();
    s.send("GARBAGE").unwrap();
    s.send(ControlCode::EndOfText).unwrap();
    s.expect(prompt.as_str()).unwrap();
    s.send_line("PING").unwrap();
    s.expect("PONG").unwrap();

    s.send_line("help incr").unwrap();
    s.expect("summary: Increments the integer value of a key by one.")
        .unwrap();

    // Ctrl-D leaves; the history file has what was typed.
    s.expect(prompt.as_str()).unwrap();
    s.send(ControlCode::EndOfTransmission).unwrap();
    let status = s.get_process().wait().unwrap();
    assert_eq!(
        status,
        expectrl::process::unix::WaitStatus::Exited(s.get_process().pid(), 0)
    );
    let history = std::fs::read_to_string(home.path().join(".cairn_history")).unwrap();
    assert!(history.contains("MGET greeting nope"), "{history}");
    assert!(history.contains("getrange greeting 0 4"), "{history}");
}

#[test]
fn long_replies_page_in_the_repl() {
    let server = TestServer::start(&["--fsync", "never"]);
    let port = server.addr.port().to_string();
    let mut mset = vec!["-p".to_string(), port.clone(), "MSET".into()];
    for i in 1..=30 {
        mset.push(format!("k:{i:02}"));
        mset.push(format!("v{i}"));
    }
    let out = Command::new(env!("CARGO_BIN_EXE_cairn-cli"))
        .args(&mset)
        .output()
        .unwrap();
    assert!(out.status.success(), "{out:?}");

    let home = tempfile::tempdir().unwrap();
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_cairn-cli"));
    cmd.args(["-p", &port])
        .env("HOME", home.path())
        .env("TERM", "xterm");
    let mut s = Session::spawn(cmd).expect("spawn cairn-cli in a pty");
    // A terminal of 10 rows: pages of 9 lines and the prompt.
    s.get_process_mut().set_window_size(80, 10).unwrap();
    s.set_expect_timeout(Some(Duration::from_secs(10)));
    let prompt = format!("127.0.0.1:{port}> ");
    s.expect(prompt.as_str()).expect("prompt");

    s.send_line("RANGE k: k;").unwrap();
    s.expect("9# \"k:09\" => \"v9\"").unwrap();
    s.expect("-- more: 9 of 30 lines")
        .expect("paused after a page");
    s.send(" ").unwrap();
    s.expect("18# \"k:18\" => \"v18\"").unwrap();
    s.expect("-- more: 18 of 30 lines").unwrap();
    s.send("\r").unwrap();
    s.expect("19# \"k:19\" => \"v19\"").unwrap();
    s.expect("-- more: 19 of 30 lines").unwrap();
    s.send("q").unwrap();
    s.expect("(11 more lines not shown)").unwrap();
    s.expect(prompt.as_str()).unwrap();

    // Short replies are not paged; the terminal is back to the line editor.
    s.send_line("RANGE k:01 k:03").unwrap();
    s.expect("1# \"k:01\" => \"v1\"\r\n2# \"k:02\" => \"v2\"\r\n")
        .unwrap();
    s.expect(prompt.as_str()).unwrap();
    // A SCAN of every key pages too, and Space runs to the end.
    s.send_line("SCAN 0 COUNT 100").unwrap();
    s.expect("-- more: 9 of 31 lines").unwrap();
    s.send(" ").unwrap();
    s.expect("-- more: 18 of 31 lines").unwrap();
    s.send(" ").unwrap();
    s.expect("-- more: 27 of 31 lines").unwrap();
    s.send(" ").unwrap();
    s.expect("30) \"k:30\"").unwrap();
    s.expect(prompt.as_str()).unwrap();
    s.send_line("PING").unwrap();
    s.expect("PONG").unwrap();
    s.expect(prompt.as_str()).unwrap();
    s.send(ControlCode::EndOfTransmission).unwrap();
    let status = s.get_process().wait().unwrap();
    assert_eq!(
        status,
        expectrl::process::unix::WaitStatus::Exited(s.get_process().pid(), 0)
    );
}
