//! A scratch `redis-server` for tests that compare Cairn with Redis or drive Redis itself.
//!
//! `.ci/run` installs Redis; under CI a missing `redis-server` fails the test instead of
//! skipping it. Elsewhere the test prints a note and passes without the comparison.
//! `CAIRN_REDIS_DIFF=host:port` uses an already running Redis instead.

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
        if let Ok(addr) = std::env::var("CAIRN_REDIS_DIFF") {
            return Some(ScratchRedis { addr, child: None });
        }
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
        let redis = ScratchRedis {
            addr: format!("127.0.0.1:{port}"),
            child: Some(child),
        };
        for _ in 0..100 {
            if TcpStream::connect(&redis.addr).is_ok() {
                return Some(redis);
            }
            std::thread::sleep(Duration::from_millis(50));
        }
        panic!("redis-server did not start listening on {}", redis.addr);
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
