//! Shared helpers for integration tests: start a real `cairn-server` process on port 0 in a
//! temporary directory, learn its address from its first stdout line, stop or SIGKILL it;
//! a scratch `redis-server` (`scratch_redis`); a bare RESP connection that returns a reply's
//! exact bytes (`raw`); a twemproxy in front of servers (`nutcracker`); crash tests' child
//! processes (`crash`).
#![allow(dead_code)]

pub mod certs;
pub mod cluster;
pub mod crash;
pub mod nutcracker;
pub mod random;
pub mod raw;
pub mod scratch_redis;

use std::io::{BufRead, BufReader};
use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, ExitStatus, Output, Stdio};
use std::time::Duration;

/// A running server process; killed when dropped.
pub struct TestServer {
    child: Option<Child>,
    /// Where it listens: its plaintext port, or its TLS port when plaintext is off.
    pub addr: SocketAddr,
    /// Its TLS port, when it has one.
    pub tls_addr: Option<SocketAddr>,
    /// Its data directory.
    pub dir: PathBuf,
    /// Keeps the temporary directory alive (when the test did not give one).
    temp: Option<tempfile::TempDir>,
}

impl TestServer {
    /// Starts a server in a fresh temporary directory with extra flags.
    pub fn start(args: &[&str]) -> TestServer {
        let temp = tempfile::tempdir().expect("temp dir");
        let dir = temp.path().to_path_buf();
        let mut server = TestServer::start_in(&dir, args);
        server.temp = Some(temp);
        server
    }

    /// Starts a server on `dir` (which may hold data from an earlier run), on a free port
    /// unless `args` name one.
    pub fn start_in(dir: &Path, args: &[&str]) -> TestServer {
        let port = if args.contains(&"--port") {
            &[][..]
        } else {
            &["--port", "0"][..]
        };
        let mut child = Command::new(env!("CARGO_BIN_EXE_cairn-server"))
            .args(port)
            .arg("--dir")
            .arg(dir)
            .args(["--log-level", "warn"])
            .args(args)
            .stdout(Stdio::piped())
            .stderr(Stdio::inherit())
            .spawn()
            .expect("spawn cairn-server");
        let stdout = child.stdout.take().expect("stdout");
        let mut stdout = BufReader::new(stdout);
        // One line per listener: plaintext first (unless `--port 0` with TLS turned it
        // off), then `... (tls)`.
        let tls = args.contains(&"--tls-port");
        let mut addrs = Vec::new();
        for _ in 0..if tls { 2 } else { 1 } {
            let mut line = String::new();
            stdout
                .read_line(&mut line)
                .expect("read the listening line");
            let is_tls = line.trim_end().ends_with("(tls)");
            let addr: SocketAddr = line
                .trim()
                .trim_end_matches(" (tls)")
                .rsplit(' ')
                .next()
                .and_then(|a| a.parse().ok())
                .unwrap_or_else(|| panic!("server did not report its address: {line:?}"));
            addrs.push((addr, is_tls));
            if is_tls {
                break;
            }
        }
        let tls_addr = addrs.iter().find(|(_, t)| *t).map(|(a, _)| *a);
        TestServer {
            child: Some(child),
            addr: addrs[0].0,
            tls_addr,
            dir: dir.to_path_buf(),
            temp: None,
        }
    }

    /// `redis://` URL for the redis crate (RESP2).
    pub fn url(&self) -> String {
        format!("redis://{}/", self.addr)
    }

    /// `redis://` URL asking for RESP3.
    pub fn url_resp3(&self) -> String {
        format!("redis://{}/?protocol=resp3", self.addr)
    }

    /// A synchronous redis-crate connection.
    pub fn redis(&self) -> redis::Connection {
        redis::Client::open(self.url())
            .expect("client")
            .get_connection()
            .expect("connect")
    }

    /// The process id.
    pub fn pid(&self) -> u32 {
        self.child.as_ref().map_or(0, std::process::Child::id)
    }

    /// SIGKILL, and wait for the process to be gone.
    pub fn kill(&mut self) {
        if let Some(mut child) = self.child.take() {
            let _ = child.kill();
            let _ = child.wait();
        }
    }

    /// SIGTERM, then wait for a clean exit (at most 20 s).
    pub fn stop(&mut self) -> ExitStatus {
        let mut child = self.child.take().expect("server already stopped");
        // SAFETY: kill(2) on our own child's pid has no memory-safety preconditions.
        unsafe { libc::kill(libc::pid_t::try_from(child.id()).unwrap(), libc::SIGTERM) };
        for _ in 0..200 {
            if let Some(status) = child.try_wait().expect("wait") {
                return status;
            }
            std::thread::sleep(Duration::from_millis(100));
        }
        let _ = child.kill();
        panic!("server did not exit within 20 s of SIGTERM");
    }

    /// Waits for the process to exit by itself (after SHUTDOWN), at most 20 s.
    pub fn wait_exit(&mut self) -> ExitStatus {
        let mut child = self.child.take().expect("server already stopped");
        for _ in 0..200 {
            if let Some(status) = child.try_wait().expect("wait") {
                return status;
            }
            std::thread::sleep(Duration::from_millis(100));
        }
        let _ = child.kill();
        panic!("server did not exit within 20 s");
    }
}

impl Drop for TestServer {
    fn drop(&mut self) {
        self.kill();
    }
}

/// One field of INFO (all sections), as text.
pub fn info_field(con: &mut redis::Connection, field: &str) -> String {
    let info: String = redis::cmd("INFO").query(con).expect("INFO");
    info.lines()
        .find_map(|l| Some(l.strip_prefix(field)?.strip_prefix(':')?.trim().to_string()))
        .unwrap_or_else(|| panic!("no {field} in INFO"))
}

/// Whether an outside tool runs here (`name --version`). `.ci/run` installs every tool a test
/// needs, so under CI (`CI` set) a missing one fails the test; elsewhere a note naming
/// `purpose` is printed and the caller skips that part.
pub fn tool_available(name: &str, purpose: &str) -> bool {
    let found = Command::new(name).arg("--version").output().is_ok();
    assert!(
        found || std::env::var_os("CI").is_none(),
        "{name} is not installed, but CI must run this test (.ci/run installs it)"
    );
    if !found {
        eprintln!("NOTE: {name} not installed; {purpose} not run");
    }
    found
}

/// Runs a Python script that imports redis-py; `None`, after a note naming `purpose`, when
/// python3 or redis-py is missing outside CI (under CI that fails the test: .ci/run
/// installs them).
pub fn redis_py(script: &str, purpose: &str) -> Option<Output> {
    if !tool_available("python3", purpose) {
        return None;
    }
    let out = Command::new("python3")
        .args(["-c", script])
        .output()
        .expect("run python3");
    if String::from_utf8_lossy(&out.stderr).contains("No module named 'redis'") {
        assert!(
            std::env::var_os("CI").is_none(),
            "redis-py is not installed, but CI must run this test (.ci/run installs it)"
        );
        eprintln!("NOTE: redis-py not installed; {purpose} not run");
        return None;
    }
    Some(out)
}
