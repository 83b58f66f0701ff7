//! cairn-bench end to end: short runs against real servers in both protocols, in embedded
//! mode, and against a closed port; the JSON report must account for every request.

// A failing test should fail loudly: expect and unwrap are its assertions.
#![allow(clippy::expect_used, clippy::unwrap_used)]

mod common;

use std::path::Path;
use std::process::{Command, Output};

use common::cluster::TestCluster;
use common::scratch_redis::ScratchRedis;
use common::TestServer;
use serde_json::Value;

fn bench(args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_cairn-bench"))
        .arg("--quiet")
        .args(args)
        .output()
        .expect("run cairn-bench")
}

fn read_json(path: &Path) -> Value {
    let text = std::fs::read_to_string(path).expect("json written");
    serde_json::from_str(&text).expect("valid json")
}

fn show(out: &Output) -> String {
    format!(
        "status {:?}\nstdout:\n{}\nstderr:\n{}",
        out.status,
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    )
}

/// Every operation of a stats object: sent = ok + errors, percentiles in order; returns
/// the operations present and their ok counts.
fn check_stats(stats: &Value) -> Vec<(String, u64)> {
    let ops = stats["ops"].as_object().expect("ops");
    let mut seen = Vec::new();
    for (name, op) in ops {
        let n = |k: &str| op[k].as_u64().unwrap_or_else(|| panic!("{name}.{k}: {op}"));
        assert_eq!(n("sent"), n("ok") + n("errors"), "{name}: {op}");
        let l = &op["latency_us"];
        let q: Vec<f64> = ["p50", "p90", "p99", "p99.9", "max"]
            .iter()
            .map(|k| l[*k].as_f64().expect("percentile"))
            .collect();
        assert!(q.windows(2).all(|w| w[0] <= w[1]), "{name}: {l}");
        if n("ok") > 0 {
            assert!(q[0] > 0.0, "{name}: {l}");
            assert!(op["ops_per_sec"].as_f64().expect("rate") > 0.0);
        }
        seen.push((name.clone(), n("ok")));
    }
    let total = &stats["total"];
    assert_eq!(
        total["sent"].as_u64(),
        Some(total["ok"].as_u64().unwrap_or(0) + total["errors"].as_u64().unwrap_or(0))
    );
    seen
}

#[test]
fn native_mixed_workload_with_scans() {
    let server = TestServer::start(&["--fsync", "never"]);
    let dir = tempfile::tempdir().expect("tmp");
    let json = dir.path().join("run.json");
    let svg = dir.path().join("run.svg");
    let addr = server.addr.to_string();
    let out = bench(&[
        "-a",
        &addr,
        "-c",
        "4",
        "-P",
        "8",
        "--threads",
        "2",
        "-d",
        "600ms",
        "--warmup",
        "100ms",
        "-k",
        "2000",
        "--load",
        "--ratio",
        "1:8:1",
        "--scan-length",
        "10",
        "--value-size",
        "16-200",
        "--json",
        json.to_str().expect("path"),
        "--plot",
        svg.to_str().expect("path"),
    ]);
    assert!(out.status.success(), "{}", show(&out));
    let doc = read_json(&json);
    assert_eq!(doc["ok"], Value::Bool(true));
    assert_eq!(doc["config"]["protocol"], "native");
    let loaded = &doc["load"][0]["stats"]["ops"]["set"];
    assert_eq!(loaded["ok"].as_u64(), Some(2000), "{loaded}");
    let stats = &doc["runs"][0]["stats"];
    let ops = check_stats(stats);
    let names: Vec<&str> = ops.iter().map(|(n, _)| n.as_str()).collect();
    assert_eq!(names, ["get", "scan", "set"], "{stats}");
    assert!(ops.iter().all(|(_, ok)| *ok > 0), "{ops:?}");
    // every key was loaded: no GET misses, and scans return data
    assert_eq!(stats["ops"]["get"]["misses"].as_u64(), Some(0));
    assert!(stats["ops"]["scan"]["mb_per_sec"].as_f64().unwrap_or(0.0) > 0.0);
    assert!(!stats["timeline"]["ops_per_sec"]
        .as_array()
        .expect("timeline")
        .is_empty());
    let picture = std::fs::read_to_string(&svg).expect("svg written");
    assert!(picture.starts_with("<svg") && picture.contains("Latency by percentile"));
}

#[test]
fn resp_ycsb_f_by_request_count() {
    let server = TestServer::start(&["--fsync", "never"]);
    let dir = tempfile::tempdir().expect("tmp");
    let json = dir.path().join("run.json");
    let addr = server.addr.to_string();
    let out = bench(&[
        "-a",
        &addr,
        "--resp",
        "-c",
        "3",
        "-P",
        "4",
        "-n",
        "3000",
        "--warmup",
        "0s",
        "-k",
        "500",
        "--workload",
        "ycsb-f",
        "--json",
        json.to_str().expect("path"),
    ]);
    assert!(out.status.success(), "{}", show(&out));
    let doc = read_json(&json);
    assert_eq!(doc["config"]["protocol"], "resp");
    assert_eq!(doc["config"]["key_pattern"], "zipfian:0.99");
    let stats = &doc["runs"][0]["stats"];
    let ops = check_stats(stats);
    let names: Vec<&str> = ops.iter().map(|(n, _)| n.as_str()).collect();
    assert_eq!(names, ["get", "rmw"]);
    assert_eq!(stats["total"]["sent"].as_u64(), Some(3000), "{stats}");
    assert_eq!(stats["total"]["ok"].as_u64(), Some(3000));
}

/// `--cluster`: each request on its key's node, in both protocols; every key loaded once,
/// on its owner. Without `--cluster`, the redirects are errors with a hint.
#[test]
fn cluster_sends_each_request_to_its_keys_node() {
    let cluster = TestCluster::start(3, &["--fsync", "never"]);
    let dir = tempfile::tempdir().expect("tmp");
    let seed = cluster.nodes[1].addr.to_string();
    for protocol in ["native", "resp"] {
        let json = dir.path().join(format!("{protocol}.json"));
        let mut args = vec![
            "-a",
            &seed,
            "--cluster",
            "--load",
            "-c",
            "3",
            "-P",
            "8",
            "-n",
            "3000",
            "--warmup",
            "0s",
            "-k",
            "600",
            "--ratio",
            "1:1",
            "--json",
        ];
        args.push(json.to_str().expect("path"));
        if protocol == "resp" {
            args.push("--resp");
        }
        let out = bench(&args);
        assert!(out.status.success(), "{}", show(&out));
        assert!(
            String::from_utf8_lossy(&out.stdout).contains("3 primaries"),
            "{}",
            show(&out)
        );
        let doc = read_json(&json);
        assert_eq!(
            doc["config"]["cluster"][0].as_array().map(Vec::len),
            Some(3)
        );
        let stats = &doc["runs"][0]["stats"];
        check_stats(stats);
        assert_eq!(stats["total"]["ok"].as_u64(), Some(3000), "{stats}");
        assert_eq!(doc["load"][0]["stats"]["total"]["ok"].as_u64(), Some(600));
    }
    let sizes: Vec<usize> = cluster
        .nodes
        .iter()
        .map(|n| redis::cmd("DBSIZE").query(&mut n.redis()).expect("DBSIZE"))
        .collect();
    assert_eq!(sizes.iter().sum::<usize>(), 600, "{sizes:?}");
    assert!(sizes.iter().all(|&n| n > 120), "{sizes:?}");

    let out = bench(&[
        "-a", &seed, "-c", "1", "-n", "200", "--warmup", "0s", "-k", "600",
    ]);
    assert!(!out.status.success(), "{}", show(&out));
    assert!(
        String::from_utf8_lossy(&out.stdout).contains("use --cluster"),
        "{}",
        show(&out)
    );
}

#[test]
fn compare_interleaves_two_servers() {
    let a = TestServer::start(&["--fsync", "never"]);
    let b = TestServer::start(&["--fsync", "never"]);
    let dir = tempfile::tempdir().expect("tmp");
    let json = dir.path().join("cmp.json");
    let (a_addr, b_addr) = (a.addr.to_string(), b.addr.to_string());
    let out = bench(&[
        "-a",
        &a_addr,
        "--compare",
        &b_addr,
        "--rounds",
        "2",
        "-c",
        "2",
        "-P",
        "4",
        "-n",
        "1000",
        "--warmup",
        "0s",
        "-w",
        "ycsb-b",
        "--json",
        json.to_str().expect("path"),
    ]);
    assert!(out.status.success(), "{}", show(&out));
    let doc = read_json(&json);
    let runs = doc["runs"].as_array().expect("runs");
    let order: Vec<(&str, u64)> = runs
        .iter()
        .map(|r| {
            (
                r["target"].as_str().expect("target"),
                r["round"].as_u64().expect("round"),
            )
        })
        .collect();
    assert_eq!(
        order,
        [
            (a_addr.as_str(), 1),
            (b_addr.as_str(), 1),
            (a_addr.as_str(), 2),
            (b_addr.as_str(), 2)
        ]
    );
    for r in runs {
        check_stats(&r["stats"]);
    }
    for s in doc["summary"].as_array().expect("summary") {
        assert_eq!(s["stats"]["total"]["ok"].as_u64(), Some(2000));
    }
    let ratio = doc["compare"]["total"]["throughput_ratio"]
        .as_f64()
        .expect("ratio");
    assert!(ratio > 0.0);
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(text.contains("comparison"), "{text}");
}

#[test]
fn embedded_benchmarks_account_for_every_operation() {
    let dir = tempfile::tempdir().expect("tmp");
    let json = dir.path().join("emb.json");
    let db = dir.path().join("db");
    let out = bench(&[
        "--embedded",
        db.to_str().expect("path"),
        "--num",
        "3000",
        "--threads",
        "2",
        "--fsync",
        "never",
        "--scan-length",
        "5",
        "--json",
        json.to_str().expect("path"),
    ]);
    assert!(out.status.success(), "{}", show(&out));
    let doc = read_json(&json);
    assert_eq!(doc["mode"], "embedded");
    let runs = doc["runs"].as_array().expect("runs");
    let names: Vec<&str> = runs
        .iter()
        .map(|r| r["benchmark"].as_str().expect("name"))
        .collect();
    assert_eq!(
        names,
        [
            "fillseq",
            "fillrandom",
            "overwrite",
            "readrandom",
            "readseq",
            "seekrandom"
        ]
    );
    for r in runs {
        let ops = check_stats(&r["stats"]);
        assert_eq!(ops.len(), 1, "{r}");
        // fillseq wrote every key, so every benchmark completes all its operations
        assert_eq!(ops[0].1, 3000, "{}: {ops:?}", r["benchmark"]);
    }
    assert_eq!(
        runs[3]["stats"]["ops"]["get"]["misses"].as_u64(),
        Some(0),
        "readrandom after fillseq finds every key"
    );
}

#[test]
fn closed_port_reports_errors_and_exits_1() {
    let port = {
        let l = std::net::TcpListener::bind("127.0.0.1:0").expect("bind");
        l.local_addr().expect("addr").port()
    };
    let dir = tempfile::tempdir().expect("tmp");
    let json = dir.path().join("fail.json");
    let addr = format!("127.0.0.1:{port}");
    let out = bench(&[
        "-a",
        &addr,
        "-c",
        "3",
        "-d",
        "2s",
        "--warmup",
        "0s",
        "--json",
        json.to_str().expect("path"),
    ]);
    assert_eq!(out.status.code(), Some(1), "{}", show(&out));
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(text.contains("connection errors: 3"), "{}", show(&out));
    assert!(text.contains("connect to"), "{}", show(&out));
    let doc = read_json(&json);
    assert_eq!(doc["ok"], Value::Bool(false));
    assert_eq!(
        doc["runs"][0]["stats"]["connection_errors"].as_u64(),
        Some(3)
    );
}

#[test]
fn resp_against_redis_and_its_errors_counted() {
    let Some(redis) = ScratchRedis::start("cairn-bench --resp against Redis") else {
        return;
    };
    let dir = tempfile::tempdir().expect("tmp");
    let json = dir.path().join("redis.json");
    let common = [
        "-a",
        &redis.addr,
        "--resp",
        "-c",
        "4",
        "-P",
        "4",
        "-n",
        "2000",
        "--warmup",
        "0s",
        "-k",
        "300",
        "--json",
        json.to_str().expect("path"),
    ];

    // YCSB B on Redis: every request answered.
    let out = bench(&[&common[..], &["--load", "-w", "ycsb-b"]].concat());
    assert!(out.status.success(), "{}", show(&out));
    let doc = read_json(&json);
    assert_eq!(doc["ok"], Value::Bool(true));
    let stats = &doc["runs"][0]["stats"];
    check_stats(stats);
    assert_eq!(stats["total"]["ok"].as_u64(), Some(2000), "{stats}");
    assert_eq!(stats["ops"]["get"]["misses"].as_u64(), Some(0), "{stats}");

    // Scans are Cairn's RANGE, which Redis refuses: each refusal is an error, counted,
    // reported, and the exit status says so.
    let out = bench(&[&common[..], &["--ratio", "1:1:1"]].concat());
    assert_eq!(out.status.code(), Some(1), "{}", show(&out));
    let doc = read_json(&json);
    assert_eq!(doc["ok"], Value::Bool(false));
    let stats = &doc["runs"][0]["stats"];
    check_stats(stats);
    let scan = &stats["ops"]["scan"];
    assert!(scan["sent"].as_u64().unwrap_or(0) > 0, "{scan}");
    assert_eq!(scan["ok"].as_u64(), Some(0), "{scan}");
    assert_eq!(scan["errors"], scan["sent"], "{scan}");
    assert_eq!(stats["ops"]["get"]["errors"].as_u64(), Some(0), "{stats}");
    assert_eq!(stats["ops"]["set"]["errors"].as_u64(), Some(0), "{stats}");
    assert_eq!(stats["total"]["sent"].as_u64(), Some(2000), "{stats}");
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(text.contains("unknown command"), "{}", show(&out));
}

#[test]
fn server_killed_mid_run_counts_requests_in_flight_as_errors() {
    let mut server = TestServer::start(&["--fsync", "never"]);
    let dir = tempfile::tempdir().expect("tmp");
    let json = dir.path().join("killed.json");
    let child = Command::new(env!("CARGO_BIN_EXE_cairn-bench"))
        .args(["--quiet", "-a", &server.addr.to_string()])
        .args([
            "-c", "4", "-P", "8", "-d", "20s", "--warmup", "0s", "-k", "1000",
        ])
        .args(["--json", json.to_str().expect("path")])
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .expect("spawn cairn-bench");
    std::thread::sleep(std::time::Duration::from_millis(800));
    // Frozen first, so every connection surely has requests sent and unanswered.
    // SAFETY: kill(2) on our own child's pid has no memory-safety preconditions.
    unsafe { libc::kill(libc::pid_t::try_from(server.pid()).unwrap(), libc::SIGSTOP) };
    std::thread::sleep(std::time::Duration::from_millis(300));
    server.kill();
    let out = child.wait_with_output().expect("cairn-bench finished");
    assert_eq!(out.status.code(), Some(1), "{}", show(&out));
    let doc = read_json(&json);
    assert_eq!(doc["ok"], Value::Bool(false));
    let stats = &doc["runs"][0]["stats"];
    check_stats(stats);
    assert_eq!(stats["connection_errors"].as_u64(), Some(4), "{stats}");
    let total = &stats["total"];
    assert!(total["ok"].as_u64().unwrap_or(0) > 0, "{total}");
    // Every connection had its pipeline full when the server froze.
    assert_eq!(total["errors"].as_u64(), Some(4 * 8), "{total}");
    // It stopped at the loss, not at the end of the 20 s.
    assert!(
        doc["runs"][0]["stats"]["elapsed_s"]
            .as_f64()
            .unwrap_or(99.0)
            < 10.0,
        "{stats}"
    );
}
