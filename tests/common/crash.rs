//! Crash tests' child processes: a test binary re-runs one of its own tests (the child's
//! body) as a separate process, which the parent SIGKILLs at a chosen moment.

use std::io::{BufRead, BufReader};
use std::process::{Command, Stdio};
use std::time::Duration;

/// Runs the test named `child_test` of the current test binary in a child process with
/// `env` set, SIGKILLs it after `after`, and returns the lines it printed on stdout. A line
/// the kill cut short (no newline) is left out: it is not known to be complete.
pub fn run_and_kill(child_test: &str, env: &[(&str, String)], after: Duration) -> Vec<String> {
    let exe = std::env::current_exe().expect("current exe");
    let mut child = Command::new(exe)
        .args(["--exact", child_test, "--nocapture", "--test-threads=1"])
        .envs(env.iter().map(|(k, v)| (k, v)))
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .expect("spawn child");
    let stdout = child.stdout.take().expect("child stdout");
    let reader = std::thread::spawn(move || {
        let mut lines = Vec::new();
        let mut r = BufReader::new(stdout);
        let mut line = String::new();
        while r.read_line(&mut line).unwrap_or(0) > 0 {
            if line.ends_with('\n') {
                lines.push(line.trim_end().to_string());
            }
            line.clear();
        }
        lines
    });
    std::thread::sleep(after);
    child.kill().expect("SIGKILL child"); // Child::kill sends SIGKILL on Unix
    let _ = child.wait();
    reader.join().expect("reader thread")
}
