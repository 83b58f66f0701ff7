//! GET throughput of the async client (50 tasks sharing one `Client`) against
//! `redis-benchmark -t get -c 50 -n 200000 -d 100 -r 100000` on the same server process.
//! A benchmark, not a test: ignored by default, run with
//! `cargo test --release --test client_bench -- --ignored --nocapture`.
//! docs/client.md ("Performance") records its figures.

// A failing test should fail loudly: expect and unwrap are its assertions.
#![allow(clippy::expect_used, clippy::unwrap_used)]

mod common;

use std::process::Command;
use std::time::Instant;

use cairn::client::{Batch, Client};
use common::TestServer;
use rand::Rng;

const KEYS: u64 = 100_000;
const REQUESTS: u64 = 200_000;
const TASKS: u64 = 50;
const ROUNDS: usize = 3;

/// redis-benchmark's key for `__rand_int__` = n with `-r`.
fn key(n: u64) -> String {
    format!("key:{n:012}")
}

fn redis_benchmark(port: u16) -> Option<f64> {
    let out = Command::new("redis-benchmark")
        .args(["-h", "127.0.0.1", "-p", &port.to_string()])
        .args([
            "-t", "get", "-c", "50", "-n", "200000", "-d", "100", "-r", "100000", "-q",
        ])
        .output()
        .ok()?;
    let text = String::from_utf8_lossy(&out.stdout);
    // "GET: 123456.79 requests per second, p50=0.199 msec"; -q rewrites the line with \r.
    let line = text.rsplit(['\r', '\n']).find(|l| l.starts_with("GET:"))?;
    line.split_whitespace().nth(1)?.parse().ok()
}

async fn client_gets(client: &Client) -> f64 {
    let started = Instant::now();
    let tasks: Vec<_> = (0..TASKS)
        .map(|_| {
            let client = client.clone();
            tokio::spawn(async move {
                let mut hits = 0u64;
                for _ in 0..REQUESTS / TASKS {
                    let n = rand::thread_rng().gen_range(0..KEYS);
                    if client.get(key(n)).await.expect("GET").is_some() {
                        hits += 1;
                    }
                }
                hits
            })
        })
        .collect();
    let mut hits = 0;
    for t in tasks {
        hits += t.await.expect("task");
    }
    assert_eq!(hits, REQUESTS, "every key was loaded");
    REQUESTS as f64 / started.elapsed().as_secs_f64()
}

#[test]
#[ignore = "benchmark: run with --ignored --nocapture"]
fn get_throughput_vs_redis_benchmark() {
    let server = TestServer::start(&["--fsync", "never"]);
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .expect("runtime");
    let client = runtime.block_on(async {
        let client = Client::connect(server.addr).await.expect("connect");
        let value = "x".repeat(100);
        for chunk in 0..KEYS / 10_000 {
            let mut batch = Batch::new();
            for n in chunk * 10_000..(chunk + 1) * 10_000 {
                batch.put(key(n), &value);
            }
            client.batch(batch).await.expect("load");
        }
        client
    });
    for round in 1..=ROUNDS {
        let redis = redis_benchmark(server.addr.port());
        let ours = runtime.block_on(client_gets(&client));
        println!(
            "round {round}: cairn client, 50 tasks, 1 connection: {ours:>9.0} GET/s; \
             redis-benchmark, 50 connections: {} GET/s",
            redis.map_or("n/a".into(), |r| format!("{r:.0}"))
        );
    }
}
