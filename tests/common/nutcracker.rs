//! A twemproxy (`nutcracker`) process in front of test servers, for tests of Cairn behind a
//! proxy (issue 19).
//!
//! `.ci/run` installs Debian's `nutcracker`; under CI a missing `nutcracker` fails the test
//! instead of skipping it. Elsewhere the test prints a note and passes without running.
//!
//! The pool is written as in docs/nutcracker.yml: RESP (`redis: true`), murmur hashing on a
//! ketama ring, no ejection, and servers placed on the ring by *name* (`cairn-0`, `cairn-1`,
//! ...), so which server a key lands on does not depend on the ports the test was given.

use std::fmt::Write as _;
use std::io::Write;
use std::net::{SocketAddr, TcpStream};
use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

/// A `nutcracker` listening on a free port, killed when dropped.
pub struct Nutcracker {
    /// Where clients connect (the pool's `listen:`).
    pub addr: SocketAddr,
    /// Its stats port (JSON on connect).
    pub stats_port: u16,
    /// Its log (`-o`), for failure messages.
    pub log: PathBuf,
    child: Option<Child>,
    _dir: tempfile::TempDir,
}

/// Whether `nutcracker` can be run; `false` (after a note naming `purpose`) outside CI, a
/// panic under CI.
pub fn available(purpose: &str) -> bool {
    let found = Command::new("nutcracker")
        .arg("-V")
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .status()
        .is_ok_and(|s| s.success());
    if !found {
        assert!(
            std::env::var_os("CI").is_none(),
            "nutcracker is not installed, but CI must run this test (.ci/run installs it: apt-get install nutcracker)"
        );
        eprintln!("NOTE: nutcracker not installed; {purpose} not run (apt-get install nutcracker)");
    }
    found
}

/// Two distinct free ports (both held until both are known, so they differ).
fn free_ports() -> (u16, u16) {
    let bind = || std::net::TcpListener::bind("127.0.0.1:0").expect("a free port");
    let (a, b) = (bind(), bind());
    let port = |l: &std::net::TcpListener| l.local_addr().expect("local addr").port();
    (port(&a), port(&b))
}

/// The pool's YAML: one pool `cairn` listening on `listen`, `servers` as (name, address).
pub fn config(listen: u16, servers: &[(String, SocketAddr)]) -> String {
    let mut lines = String::new();
    for (name, addr) in servers {
        writeln!(lines, "    - {addr}:1 {name}").expect("write to a String");
    }
    format!(
        "cairn:\n  listen: 127.0.0.1:{listen}\n  redis: true\n  hash: murmur\n  \
         distribution: ketama\n  auto_eject_hosts: false\n  timeout: 5000\n  \
         preconnect: true\n  servers:\n{lines}"
    )
}

impl Nutcracker {
    /// Starts nutcracker in front of `backends` (named `cairn-0`, `cairn-1`, ... in order) and
    /// waits until a write through it reaches one of them. `None` (after a note naming
    /// `purpose`) when nutcracker is not installed outside CI.
    pub fn start(purpose: &str, backends: &[SocketAddr]) -> Option<Nutcracker> {
        if !available(purpose) {
            return None;
        }
        let servers: Vec<(String, SocketAddr)> = backends
            .iter()
            .enumerate()
            .map(|(i, addr)| (format!("cairn-{i}"), *addr))
            .collect();
        let dir = tempfile::tempdir().expect("temp dir");
        let conf = dir.path().join("nutcracker.yml");
        let log = dir.path().join("nutcracker.log");
        let mut last_log = String::new();
        // Two tests may be handed the same free port; a nutcracker that cannot bind exits,
        // and the port may then belong to another test's proxy. So a start counts only when
        // a key written through the port shows up on one of *our* backends; otherwise retry
        // on other ports.
        for _ in 0..5 {
            let (listen, stats_port) = free_ports();
            std::fs::write(&conf, config(listen, &servers)).expect("write nutcracker.yml");
            let mut child = Command::new("nutcracker")
                .arg("-c")
                .arg(&conf)
                .args(["-s", &stats_port.to_string(), "-a", "127.0.0.1", "-o"])
                .arg(&log)
                .stdin(Stdio::null())
                .stdout(Stdio::null())
                .stderr(Stdio::null())
                .spawn()
                .expect("spawn nutcracker");
            let addr = SocketAddr::from(([127, 0, 0, 1], listen));
            if wait_routing(&mut child, addr, backends, Duration::from_secs(5)) {
                return Some(Nutcracker {
                    addr,
                    stats_port,
                    log,
                    child: Some(child),
                    _dir: dir,
                });
            }
            let _ = child.kill();
            let _ = child.wait();
            last_log = std::fs::read_to_string(&log).unwrap_or_default();
        }
        panic!("could not start a nutcracker of our own; its last log:\n{last_log}");
    }

    /// A connection to the proxy, with 5 s timeouts.
    pub fn conn(&self) -> Conn {
        Conn::open(self.addr).expect("connect to nutcracker")
    }

    /// SIGKILL, and wait for the process to be gone.
    pub fn kill(&mut self) {
        if let Some(mut child) = self.child.take() {
            let _ = child.kill();
            let _ = child.wait();
        }
    }
}

/// Waits (at most `limit`) until a probe key written through the proxy at `addr` lands on one
/// of `backends`; `false` when `child` exited, the key went elsewhere (another test's proxy
/// on that port) or the time ran out.
fn wait_routing(
    child: &mut Child,
    addr: SocketAddr,
    backends: &[SocketAddr],
    limit: Duration,
) -> bool {
    let key = format!("nutcracker-probe-{}-{}", std::process::id(), addr.port());
    let deadline = Instant::now() + limit;
    while Instant::now() < deadline {
        if child.try_wait().ok().flatten().is_some() {
            return false;
        }
        if let Ok(mut conn) = Conn::open(addr) {
            let set: redis::RedisResult<()> = conn.query(redis::cmd("SET").arg(&key).arg(1));
            if set.is_ok() {
                let ours = backends.iter().any(|b| {
                    connect(*b).is_ok_and(|mut c| {
                        redis::cmd("EXISTS").arg(&key).query::<i64>(&mut c) == Ok(1)
                    })
                });
                // Removed again, so tests count only their own keys.
                return ours && conn.query::<i64>(redis::cmd("DEL").arg(&key)) == Ok(1);
            }
        }
        std::thread::sleep(Duration::from_millis(50));
    }
    false
}

/// A RESP2 connection that sends only the commands it is given. (The redis crate's own
/// `Connection` opens with `CLIENT SETINFO`, which nutcracker 0.5.0 does not support: it
/// closes the connection.) Commands are built with `redis::cmd` and replies parsed by the
/// redis crate's parser; connect, read and write time out after 5 s.
pub struct Conn {
    stream: TcpStream,
    parser: redis::Parser,
}

impl Conn {
    pub fn open(addr: SocketAddr) -> std::io::Result<Conn> {
        let stream = TcpStream::connect_timeout(&addr, Duration::from_secs(5))?;
        stream.set_read_timeout(Some(Duration::from_secs(5)))?;
        stream.set_write_timeout(Some(Duration::from_secs(5)))?;
        stream.set_nodelay(true)?;
        Ok(Conn {
            stream,
            parser: redis::Parser::new(),
        })
    }

    /// Sends `cmd` and reads its reply; an error reply is an `Err`.
    pub fn query<T: redis::FromRedisValue>(&mut self, cmd: &redis::Cmd) -> redis::RedisResult<T> {
        self.stream.write_all(&cmd.get_packed_command())?;
        let value = self.parser.parse_value(&mut self.stream)?;
        redis::from_owned_redis_value(value.extract_error()?)
    }

    /// Sends all of `cmds` in one write, then reads their replies, in order.
    pub fn pipeline(&mut self, cmds: &[redis::Cmd]) -> redis::RedisResult<Vec<redis::Value>> {
        let packed: Vec<u8> = cmds
            .iter()
            .flat_map(redis::Cmd::get_packed_command)
            .collect();
        self.stream.write_all(&packed)?;
        (0..cmds.len())
            .map(|_| self.parser.parse_value(&mut self.stream))
            .collect()
    }
}

/// A redis-crate connection (to a Cairn server, not the proxy) with connect, read and write
/// timeouts of 5 s, so no wait is unbounded.
pub fn connect(addr: SocketAddr) -> redis::RedisResult<redis::Connection> {
    let client = redis::Client::open(format!("redis://{addr}/"))?;
    let conn = client.get_connection_with_timeout(Duration::from_secs(5))?;
    conn.set_read_timeout(Some(Duration::from_secs(5)))?;
    conn.set_write_timeout(Some(Duration::from_secs(5)))?;
    Ok(conn)
}

impl Drop for Nutcracker {
    fn drop(&mut self) {
        self.kill();
    }
}
