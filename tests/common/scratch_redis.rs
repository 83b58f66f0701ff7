//! A scratch `redis-server` for tests that compare Cairn with Redis or drive Redis itself.
//!
//! `.ci/run` installs Redis; under CI a missing `redis-server` fails the test instead of
//! skipping it. Elsewhere the test prints a note and passes without the comparison.
//! `CAIRN_REDIS_DIFF=host:port` uses an already running Redis instead.

use std::io::{Read, Write};
use std::net::TcpStream;
use std::process::{Child, Command, Stdio};
use std::time::Duration;

/// A `redis-server` on a free port with no persistence, killed when dropped.
pub struct ScratchRedis {
    pub addr: String,
    child: Option<Child>,
}

impl ScratchRedis {
    /// Starts one and waits until it listens; `None` (after a note naming `purpose`) when
    /// redis-server is not installed outside CI.
    pub fn start(purpose: &str) -> Option<ScratchRedis> {
        ScratchRedis::start_with(purpose, &[])
    }

    /// As [`ScratchRedis::start`], with `extra` arguments for redis-server.
    pub fn start_with(purpose: &str, extra: &[&str]) -> Option<ScratchRedis> {
        if let Ok(addr) = std::env::var("CAIRN_REDIS_DIFF") {
            return Some(ScratchRedis { addr, child: None });
        }
        // Two tests may be handed the same free port; a redis-server that cannot bind exits,
        // and the address would then reach the other test's server. So check the server
        // answering is ours (its process id), and retry on another port if not.
        for _ in 0..5 {
            let port = std::net::TcpListener::bind("127.0.0.1:0")
                .and_then(|l| l.local_addr())
                .expect("a free port")
                .port();
            let child = Command::new("redis-server")
                .args([
                    "--port",
                    &port.to_string(),
                    "--save",
                    "",
                    "--appendonly",
                    "no",
                ])
                .args(extra)
                .stdout(Stdio::null())
                .spawn();
            let Ok(child) = child else {
                assert!(
                    std::env::var_os("CI").is_none(),
                    "redis-server is not installed, but CI must run this test (.ci/run installs it)"
                );
                eprintln!("NOTE: redis-server not installed; {purpose} not run");
                return None;
            };
            let pid = child.id();
            let mut redis = ScratchRedis {
                addr: format!("127.0.0.1:{port}"),
                child: Some(child),
            };
            for _ in 0..100 {
                if let Some(answering) = process_id(&redis.addr) {
                    if answering == pid {
                        return Some(redis);
                    }
                    break; // someone else's server on this port
                }
                let exited = redis
                    .child
                    .as_mut()
                    .is_some_and(|c| c.try_wait().ok().flatten().is_some());
                if exited {
                    break;
                }
                std::thread::sleep(Duration::from_millis(50));
            }
        }
        panic!("could not start a redis-server of our own");
    }
}

/// The process id of the Redis at `addr` (from `INFO server`), if one answers.
fn process_id(addr: &str) -> Option<u32> {
    let mut stream = TcpStream::connect(addr).ok()?;
    stream.set_read_timeout(Some(Duration::from_secs(2))).ok()?;
    stream.write_all(b"INFO server\r\n").ok()?;
    let mut reply = String::new();
    let mut buf = [0u8; 4096];
    loop {
        if let Some(rest) = reply.split("process_id:").nth(1) {
            if let Some(end) = rest.find("\r\n") {
                return rest[..end].trim().parse().ok();
            }
        }
        let n = stream.read(&mut buf).ok()?;
        if n == 0 {
            return None;
        }
        reply.push_str(&String::from_utf8_lossy(&buf[..n]));
    }
}

impl Drop for ScratchRedis {
    fn drop(&mut self) {
        if let Some(child) = &mut self.child {
            let _ = child.kill();
            let _ = child.wait();
        }
    }
}
