//! Cluster mode over real processes on loopback: the slot map as Redis Cluster clients read
//! it, redirects (MOVED, ASK, CROSSSLOT), hash tags, transactions held to one slot, walks
//! of the key space covering a node's own slots, the map kept across a restart, and a slot
//! moved with its keys while clients write to it. Driven by redis-cli -c, the `redis`
//! crate's cluster client and plain connections.

// A failing test should fail loudly: expect and unwrap are its assertions.
#![allow(clippy::expect_used, clippy::unwrap_used)]

mod common;

use std::collections::HashMap;
use std::process::Command;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use common::cluster::TestCluster;
use common::scratch_redis::ScratchRedis;
use common::{redis_py, tool_available};

/// A CLUSTER SLOTS range: first, last, and its primary (ip, port, id, metadata).
type SlotRange = (u16, u16, (String, u16, String, Vec<String>));

#[test]
fn map_is_reported_as_redis_cluster_clients_read_it() {
    let cluster = TestCluster::start(3, &[]);
    let mut con = cluster.nodes[0].redis();
    let info: String = redis::cmd("CLUSTER").arg("INFO").query(&mut con).unwrap();
    assert!(info.contains("cluster_state:ok"), "{info}");
    assert!(info.contains("cluster_known_nodes:3"), "{info}");
    let id: String = redis::cmd("CLUSTER").arg("MYID").query(&mut con).unwrap();
    assert_eq!(id, cluster.ids[0]);
    let slots: Vec<SlotRange> = redis::cmd("CLUSTER").arg("SLOTS").query(&mut con).unwrap();
    assert_eq!(slots.len(), 3);
    assert_eq!(slots[0].0, 0);
    assert_eq!(slots[2].1, 16383);
    assert_eq!(slots[1].2 .1, cluster.nodes[1].addr.port());
    let nodes: String = redis::cmd("CLUSTER").arg("NODES").query(&mut con).unwrap();
    assert!(
        nodes
            .lines()
            .any(|l| l.starts_with(&cluster.ids[0]) && l.contains("myself,master")),
        "{nodes}"
    );
    let all: String = redis::cmd("INFO").arg("cluster").query(&mut con).unwrap();
    assert!(all.contains("cluster_enabled:1"));
}

/// A request's error text, or a panic when it succeeded.
fn error_of(con: &mut redis::Connection, args: &[&str]) -> String {
    let mut cmd = redis::cmd(args[0]);
    for arg in &args[1..] {
        cmd.arg(*arg);
    }
    match cmd.query::<redis::Value>(con) {
        Ok(value) => panic!("{args:?} succeeded: {value:?}"),
        Err(e) => format!("{} {}", e.code().unwrap_or("?"), e.detail().unwrap_or(""))
            .trim()
            .to_owned(),
    }
}

fn slot_of(con: &mut redis::Connection, key: &str) -> u16 {
    redis::cmd("CLUSTER")
        .arg("KEYSLOT")
        .arg(key)
        .query(con)
        .unwrap()
}

#[test]
fn requests_for_other_nodes_are_redirected() {
    let cluster = TestCluster::start(3, &[]);
    let mut con = cluster.nodes[0].redis();
    // foo is in slot 12182, the third node's.
    assert_eq!(slot_of(&mut con, "foo"), 12182);
    assert_eq!(
        error_of(&mut con, &["GET", "foo"]),
        format!("MOVED 12182 {}", cluster.nodes[2].addr)
    );
    assert_eq!(
        error_of(&mut con, &["SET", "foo", "1"]),
        format!("MOVED 12182 {}", cluster.nodes[2].addr)
    );
    let mut owner = cluster.nodes[2].redis();
    let _: () = redis::cmd("SET")
        .arg("foo")
        .arg("1")
        .query(&mut owner)
        .unwrap();
    // Keys of two slots in one request, wherever they live.
    assert!(error_of(&mut owner, &["MSET", "a", "1", "b", "2"]).starts_with("CROSSSLOT"));
    assert!(error_of(&mut owner, &["DEL", "foo", "bar"]).starts_with("CROSSSLOT"));
    // Hash tags keep keys together.
    let tagged = ["{user7}.name", "{user7}.mail", "{user7}.seen"];
    let slot = slot_of(&mut con, "user7");
    let mut home = cluster.nodes[cluster.owner_of(slot)].redis();
    let _: () = redis::cmd("MSET")
        .arg(tagged[0])
        .arg("ann")
        .arg(tagged[1])
        .arg("a@x")
        .arg(tagged[2])
        .arg("1")
        .query(&mut home)
        .unwrap();
    let got: Vec<String> = redis::cmd("MGET").arg(&tagged).query(&mut home).unwrap();
    assert_eq!(got, ["ann", "a@x", "1"]);
    // Keyless commands run anywhere.
    let pong: String = redis::cmd("PING").query(&mut con).unwrap();
    assert_eq!(pong, "PONG");
}

#[test]
fn keyslot_agrees_with_redis() {
    let dir = tempfile::tempdir().unwrap();
    let conf = dir.path().join("nodes.conf");
    let conf = conf.to_str().unwrap();
    let Some(redis) = ScratchRedis::start_with(
        "CLUSTER KEYSLOT comparison",
        &["--cluster-enabled", "yes", "--cluster-config-file", conf],
    ) else {
        return;
    };
    let mut theirs = redis::Client::open(format!("redis://{}", redis.addr))
        .and_then(|c| c.get_connection())
        .unwrap();
    let cluster = TestCluster::start(1, &[]);
    let mut ours = cluster.nodes[0].redis();
    let mut keys: Vec<Vec<u8>> = (0..3000u32)
        .map(|i| format!("key:{i}").into_bytes())
        .collect();
    keys.extend(
        [
            "",
            "{",
            "}",
            "{}",
            "{}x",
            "x{}y{z}",
            "{a}{b}",
            "a{b",
            "a}b{c}",
            "{{x}}",
            "\u{e9}{\u{e9}}",
        ]
        .map(|k| k.as_bytes().to_vec()),
    );
    // Arbitrary bytes, braces among them.
    let mut state = 0x2545_f491_4f6c_dd1d_u64;
    for _ in 0..1000 {
        let len = usize::try_from(state % 12).unwrap();
        let key = (0..len)
            .map(|_| {
                state ^= state << 13;
                state ^= state >> 7;
                state ^= state << 17;
                [b'{', b'}', b'a', 0, 0xff][usize::try_from(state % 5).unwrap()]
            })
            .collect();
        keys.push(key);
    }
    let ask = |con: &mut redis::Connection| -> Vec<u16> {
        let mut pipe = redis::pipe();
        for key in &keys {
            pipe.cmd("CLUSTER").arg("KEYSLOT").arg(key.as_slice());
        }
        pipe.query(con).unwrap()
    };
    assert_eq!(ask(&mut ours), ask(&mut theirs));
}

#[test]
fn the_redis_crate_cluster_client_works() {
    use redis::Commands;
    let cluster = TestCluster::start(3, &["--fsync", "never"]);
    let client = redis::cluster::ClusterClient::new(cluster.urls()).unwrap();
    let mut con = client.get_connection().unwrap();
    for i in 0..300 {
        let _: () = con.set(format!("k{i}"), i).unwrap();
    }
    for i in 0..300 {
        let v: i64 = con.get(format!("k{i}")).unwrap();
        assert_eq!(v, i);
    }
    let n: i64 = con.incr("k7", 10).unwrap();
    assert_eq!(n, 17);
    let _: () = con.mset(&[("{t}a", "1"), ("{t}b", "2")]).unwrap();
    let both: Vec<String> = con.mget(&["{t}a", "{t}b"]).unwrap();
    assert_eq!(both, ["1", "2"]);
    // Every node holds a share, and only keys of its own slots.
    let mut total = 0;
    for (i, node) in cluster.nodes.iter().enumerate() {
        let mut direct = node.redis();
        let keys: Vec<String> = redis::cmd("KEYS").arg("*").query(&mut direct).unwrap();
        assert!(keys.len() > 50, "node {i} holds {} keys", keys.len());
        for key in &keys {
            assert_eq!(
                cluster.owner_of(slot_of(&mut direct, key)),
                i,
                "{key} on node {i}"
            );
        }
        let size: usize = redis::cmd("DBSIZE").query(&mut direct).unwrap();
        assert_eq!(size, keys.len());
        total += keys.len();
    }
    assert_eq!(total, 302);
}

#[test]
fn redis_cli_follows_redirects() {
    if !tool_available("redis-cli", "the redis-cli -c test") {
        return;
    }
    let cluster = TestCluster::start(3, &[]);
    let port = cluster.nodes[0].addr.port().to_string();
    let cli = |args: &[&str]| -> String {
        let out = Command::new("redis-cli")
            .args(["-c", "-p", &port])
            .args(args)
            .output()
            .unwrap();
        assert!(out.status.success(), "{out:?}");
        String::from_utf8_lossy(&out.stdout).trim().to_owned()
    };
    assert_eq!(cli(&["SET", "foo", "bar"]), "OK");
    assert_eq!(cli(&["GET", "foo"]), "bar");
    let mut owner = cluster.nodes[2].redis();
    let v: String = redis::cmd("GET").arg("foo").query(&mut owner).unwrap();
    assert_eq!(v, "bar");
}

#[test]
fn redis_benchmark_drives_a_cluster() {
    if !tool_available("redis-benchmark", "the redis-benchmark --cluster test") {
        return;
    }
    let cluster = TestCluster::start(3, &["--fsync", "never"]);
    let out = Command::new("redis-benchmark")
        .args(["--cluster", "-p", &cluster.nodes[0].addr.port().to_string()])
        .args(["-t", "set,get", "-n", "3000", "-r", "1000", "-q"])
        .output()
        .unwrap();
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(out.status.success() && text.contains("GET"), "{out:?}");
    for node in &cluster.nodes {
        let size: usize = redis::cmd("DBSIZE").query(&mut node.redis()).unwrap();
        assert!(size > 0, "redis-benchmark wrote no key on {}", node.addr);
    }
}

#[test]
fn transactions_hold_to_one_slot() {
    let cluster = TestCluster::start(1, &[]);
    let mut con = cluster.nodes[0].redis();
    let queued = |con: &mut redis::Connection, args: &[&str]| -> redis::RedisResult<String> {
        let mut cmd = redis::cmd(args[0]);
        for arg in &args[1..] {
            cmd.arg(*arg);
        }
        cmd.query(con)
    };
    assert_eq!(queued(&mut con, &["MULTI"]).unwrap(), "OK");
    assert_eq!(queued(&mut con, &["SET", "{a}1", "x"]).unwrap(), "QUEUED");
    assert_eq!(queued(&mut con, &["SET", "{a}2", "y"]).unwrap(), "QUEUED");
    assert!(error_of(&mut con, &["SET", "{b}1", "z"]).starts_with("CROSSSLOT"));
    assert!(error_of(&mut con, &["EXEC"]).starts_with("EXECABORT"));
    let n: usize = redis::cmd("DBSIZE").query(&mut con).unwrap();
    assert_eq!(n, 0, "an aborted transaction wrote");
    // WATCH counts: watched keys and queued keys share the slot.
    assert_eq!(queued(&mut con, &["WATCH", "{a}1"]).unwrap(), "OK");
    assert_eq!(queued(&mut con, &["MULTI"]).unwrap(), "OK");
    assert!(error_of(&mut con, &["GET", "{c}1"]).starts_with("CROSSSLOT"));
    assert!(error_of(&mut con, &["EXEC"]).starts_with("EXECABORT"));
    // One slot: runs.
    assert_eq!(queued(&mut con, &["MULTI"]).unwrap(), "OK");
    assert_eq!(queued(&mut con, &["SET", "{a}1", "x"]).unwrap(), "QUEUED");
    let done: Vec<String> = redis::cmd("EXEC").query(&mut con).unwrap();
    assert_eq!(done, ["OK"]);
}

#[test]
fn unserved_slots_and_maps_that_are_not_newer_are_refused() {
    let cluster = TestCluster::start(2, &[]);
    let mut con = cluster.nodes[0].redis();
    // Version 1 is installed; the same version again, or an older one, is refused.
    assert!(error_of(&mut con, &["CLUSTER", "SETMAP", &cluster.map]).contains("not newer"));
    assert!(
        error_of(&mut con, &["CLUSTER", "SETMAP", "version 2\nnode zz 1:2"]).contains("line 2")
    );
    // Version 2 leaves slots 0-99 to nobody.
    let first = cluster.map.lines().nth(1).unwrap().replace(" 0-", " 100-");
    let gap = format!(
        "version 2\n{first}\n{}\n",
        cluster.map.lines().nth(2).unwrap()
    );
    cluster.install(&gap);
    // Slot 0: "{06S}" hashes there.
    assert_eq!(slot_of(&mut con, "{06S}"), 0);
    assert_eq!(
        error_of(&mut con, &["GET", "{06S}"]),
        "CLUSTERDOWN Hash slot not served"
    );
    let info: String = redis::cmd("CLUSTER").arg("INFO").query(&mut con).unwrap();
    assert!(
        info.contains("cluster_state:fail") && info.contains("cluster_slots_assigned:16284"),
        "{info}"
    );
}

#[test]
fn the_map_survives_a_restart() {
    let mut cluster = TestCluster::start(2, &[]);
    let id = cluster.ids[0].clone();
    let dir = cluster.nodes[0].dir.clone();
    cluster.nodes[0].stop();
    // The map names the old port; the id finds this node in it wherever it listens now.
    let restarted = common::TestServer::start_in(
        &dir,
        &["--cluster-enabled", "yes", "--cluster-node-id", &id],
    );
    let mut con = restarted.redis();
    let nodes: String = redis::cmd("CLUSTER").arg("NODES").query(&mut con).unwrap();
    assert!(
        nodes
            .lines()
            .any(|l| l.starts_with(&id) && l.contains("myself") && l.contains(" 0-8191")),
        "{nodes}"
    );
    let mut other = cluster.nodes[1].redis();
    let keyslot = slot_of(&mut other, "foo");
    assert!(keyslot >= 8192);
    assert!(error_of(&mut con, &["GET", "foo"]).starts_with(&format!("MOVED {keyslot} ")));
}

#[test]
fn a_replica_serves_reads_after_readonly() {
    let cluster = TestCluster::with_replicas(1, 1, &[]);
    let mut replica = cluster.nodes[1].redis();
    let moved = format!("MOVED 12182 {}", cluster.nodes[0].addr);
    assert_eq!(error_of(&mut replica, &["GET", "foo"]), moved);
    let _: () = redis::cmd("READONLY").query(&mut replica).unwrap();
    let v: Option<String> = redis::cmd("GET").arg("foo").query(&mut replica).unwrap();
    assert_eq!(v, None, "no replication yet: the replica holds nothing");
    assert_eq!(error_of(&mut replica, &["SET", "foo", "1"]), moved);
    let _: () = redis::cmd("READWRITE").query(&mut replica).unwrap();
    assert_eq!(error_of(&mut replica, &["GET", "foo"]), moved);
    let slots: Vec<redis::Value> = redis::cmd("CLUSTER")
        .arg("SLOTS")
        .query(&mut replica)
        .unwrap();
    let redis::Value::Array(entry) = &slots[0] else {
        panic!("{slots:?}")
    };
    assert_eq!(entry.len(), 4, "primary and one replica: {entry:?}");
}

#[test]
fn cluster_commands_need_cluster_mode() {
    let server = common::TestServer::start(&[]);
    let mut con = server.redis();
    for args in [
        ["CLUSTER", "SLOTS"],
        ["CLUSTER", "INFO"],
        ["READONLY", ""],
        ["ASKING", ""],
    ] {
        let args: Vec<&str> = args.into_iter().filter(|a| !a.is_empty()).collect();
        assert_eq!(
            error_of(&mut con, &args),
            "ERR This instance has cluster support disabled"
        );
    }
    let info: String = redis::cmd("INFO").arg("cluster").query(&mut con).unwrap();
    assert!(info.contains("cluster_enabled:0"));
}

#[test]
fn a_slot_moves_with_its_keys_under_load_and_loses_none() {
    let cluster = TestCluster::start(2, &["--fsync", "never"]);
    let mut probe = cluster.nodes[0].redis();
    let slot = slot_of(&mut probe, "load");
    let from = cluster.owner_of(slot);
    let to = 1 - from;
    // Keys already there when the move starts.
    let mut source = cluster.nodes[from].redis();
    let mut fill = redis::pipe();
    for i in 0..20_000 {
        fill.cmd("SET")
            .arg(format!("{{load}}:old:{i}"))
            .arg(i)
            .ignore();
    }
    let () = fill.query(&mut source).unwrap();

    let stop = Arc::new(AtomicBool::new(false));
    let ops = Arc::new(AtomicU64::new(0));
    let writers: Vec<_> = (0..3)
        .map(|w| {
            let (stop, ops, urls) = (stop.clone(), ops.clone(), cluster.urls());
            std::thread::spawn(move || write_and_read_back(&urls, w, &stop, &ops))
        })
        .collect();
    std::thread::sleep(Duration::from_millis(200));

    let before = ops.load(Ordering::Relaxed);
    let started: String = redis::cmd("CLUSTER")
        .arg("MOVESLOT")
        .arg(slot)
        .arg(&cluster.ids[to])
        .query(&mut source)
        .unwrap();
    assert_eq!(started, "OK");
    wait_for_owner(&mut source, slot, cluster.nodes[to].addr.port());
    let during = ops.load(Ordering::Relaxed) - before;
    std::thread::sleep(Duration::from_millis(200));
    stop.store(true, Ordering::Relaxed);
    let mut expected: HashMap<String, String> = (0..20_000)
        .map(|i| (format!("{{load}}:old:{i}"), i.to_string()))
        .collect();
    for writer in writers {
        for (key, n) in writer.join().unwrap() {
            expected.insert(key, n.to_string());
        }
    }
    assert!(during > 0, "no client request ran while the slot moved");

    // Every key is on the target with its last value; the source serves none of them.
    let mut target = cluster.nodes[to].redis();
    let count: usize = redis::cmd("CLUSTER")
        .arg("COUNTKEYSINSLOT")
        .arg(slot)
        .query(&mut target)
        .unwrap();
    assert_eq!(count, expected.len());
    let keys: Vec<&String> = expected.keys().collect();
    for chunk in keys.chunks(1000) {
        let got: Vec<Option<String>> = redis::cmd("MGET").arg(chunk).query(&mut target).unwrap();
        for (key, value) in chunk.iter().zip(got) {
            assert_eq!(value.as_ref(), Some(&expected[*key]), "{key}");
        }
    }
    assert!(error_of(&mut source, &["GET", "{load}:old:1"]).starts_with(&format!("MOVED {slot} ")));
    // Both nodes have the new map.
    for node in &cluster.nodes {
        let info: String = redis::cmd("CLUSTER")
            .arg("INFO")
            .query(&mut node.redis())
            .unwrap();
        assert!(info.contains("cluster_current_epoch:2"), "{info}");
    }
}

/// Waits (at most 60 s) until `con`'s node says `slot` is served at `port`.
fn wait_for_owner(con: &mut redis::Connection, slot: u16, port: u16) {
    let deadline = Instant::now() + Duration::from_secs(60);
    loop {
        let slots: Vec<SlotRange> = redis::cmd("CLUSTER").arg("SLOTS").query(con).unwrap();
        let owner = slots
            .iter()
            .find(|(first, last, _)| (*first..=*last).contains(&slot))
            .map(|(_, _, node)| node.1);
        if owner == Some(port) {
            return;
        }
        assert!(
            Instant::now() < deadline,
            "slot {slot} did not move within 60 s"
        );
        std::thread::sleep(Duration::from_millis(20));
    }
}

/// One writer of the slot-move test until `stop`: rewrites old keys (on the source until
/// moved) and writes new ones (sent on to the target by ASK during the move), reading each back at
/// once; returns the last value it wrote to each key.
fn write_and_read_back(
    urls: &[String],
    w: u64,
    stop: &AtomicBool,
    ops: &AtomicU64,
) -> HashMap<String, u64> {
    use redis::Commands;
    let client = redis::cluster::ClusterClient::new(urls.to_vec()).unwrap();
    let mut con = client.get_connection().unwrap();
    let mut last: HashMap<String, u64> = HashMap::new();
    let mut n = 0u64;
    while !stop.load(Ordering::Relaxed) {
        let key = if n.is_multiple_of(2) {
            format!("{{load}}:old:{}", (n * 7 + w) % 20_000)
        } else {
            format!("{{load}}:new:{w}:{n}")
        };
        let () = con
            .set(&key, n)
            .unwrap_or_else(|e| panic!("SET {key}: {e}"));
        let got: u64 = con.get(&key).unwrap_or_else(|e| panic!("GET {key}: {e}"));
        assert_eq!(got, n, "{key} read back another value");
        last.insert(key, n);
        n += 1;
        ops.fetch_add(1, Ordering::Relaxed);
    }
    last
}

#[test]
fn exec_is_redirected_when_the_slot_moved_after_queueing() {
    let cluster = TestCluster::start(2, &[]);
    // "a" is in slot 15495, the second node's.
    let mut con = cluster.nodes[1].redis();
    assert_eq!(slot_of(&mut con, "a"), 15495);
    let ok: String = redis::cmd("MULTI").query(&mut con).unwrap();
    assert_eq!(ok, "OK");
    let queued: String = redis::cmd("SET").arg("a").arg("1").query(&mut con).unwrap();
    assert_eq!(queued, "QUEUED");
    // Version 2 gives every slot to the first node (moving no key).
    cluster.install(&cluster.all_slots_to_first(2));
    assert_eq!(
        error_of(&mut con, &["EXEC"]),
        format!("MOVED 15495 {}", cluster.nodes[0].addr)
    );
    let v: Option<String> = redis::cmd("GET")
        .arg("a")
        .query(&mut cluster.nodes[0].redis())
        .unwrap();
    assert_eq!(v, None);
}

#[test]
fn redis_py_cluster_client_works() {
    let cluster = TestCluster::start(3, &["--fsync", "never"]);
    let script = format!(
        "from redis.cluster import RedisCluster\n\
         rc = RedisCluster(host='127.0.0.1', port={port})\n\
         for i in range(200): rc.set(f'k{{i}}', i)\n\
         print(len(rc.get_nodes()), sum(int(rc.get(f'k{{i}}')) for i in range(200)))\n\
         print(rc.mget_nonatomic(['k1', 'k2', 'nosuch']))\n",
        port = cluster.nodes[0].addr.port()
    );
    let Some(out) = redis_py(&script, "the redis-py RedisCluster test") else {
        return;
    };
    let err = String::from_utf8_lossy(&out.stderr);
    assert_eq!(
        String::from_utf8_lossy(&out.stdout),
        "3 19900\n[b'1', b'2', None]\n",
        "redis-py RedisCluster: {err}"
    );
    for node in &cluster.nodes {
        let size: usize = redis::cmd("DBSIZE").query(&mut node.redis()).unwrap();
        assert!(size > 30, "{} holds {size} keys", node.addr);
    }
}

#[test]
fn walks_cover_the_slots_a_node_serves() {
    let cluster = TestCluster::start(2, &[]);
    // "a" is the second node's (slot 15495).
    let mut con = cluster.nodes[1].redis();
    let _: () = redis::cmd("SET").arg("a").arg("1").query(&mut con).unwrap();
    let count = |con: &mut redis::Connection| -> (usize, usize, usize) {
        let size: usize = redis::cmd("DBSIZE").query(con).unwrap();
        let keys: Vec<String> = redis::cmd("KEYS").arg("*").query(con).unwrap();
        let (_, scanned): (String, Vec<String>) = redis::cmd("SCAN")
            .arg(0)
            .arg("COUNT")
            .arg(100)
            .query(con)
            .unwrap();
        (size, keys.len(), scanned.len())
    };
    assert_eq!(count(&mut con), (1, 1, 1));
    // Version 2 gives every slot to the first node (moving no key).
    cluster.install(&cluster.all_slots_to_first(2));
    assert_eq!(
        count(&mut con),
        (0, 0, 0),
        "a key of a slot given away is still listed"
    );
    let range: Vec<String> = redis::cmd("RANGE")
        .arg("")
        .arg("\u{ff}")
        .query(&mut con)
        .unwrap();
    assert!(range.is_empty(), "{range:?}");
    // Version 3 gives it back, and the key is there again.
    cluster.install(&cluster.map.replace("version 1", "version 3"));
    assert_eq!(count(&mut con), (1, 1, 1));
}

#[test]
fn a_node_lists_the_keys_of_a_slot_it_imports() {
    let cluster = TestCluster::start(2, &[]);
    // "a" is the second node's (slot 15495); the first imports it.
    let mut target = cluster.nodes[0].redis();
    let set = |con: &mut redis::Connection| -> redis::RedisResult<()> {
        redis::cmd("SET").arg("{a}moved").arg("1").query(con)
    };
    assert!(
        set(&mut target).is_err(),
        "a slot of another node was written"
    );
    let ok: String = redis::cmd("CLUSTER")
        .arg("SETSLOT")
        .arg(15495)
        .arg("IMPORTING")
        .arg(&cluster.ids[1])
        .query(&mut target)
        .unwrap();
    assert_eq!(ok, "OK");
    let _: () = redis::cmd("ASKING").query(&mut target).unwrap();
    set(&mut target).unwrap();
    assert!(set(&mut target).is_err(), "ASKING lasted past its command");
    let size: usize = redis::cmd("DBSIZE").query(&mut target).unwrap();
    assert_eq!(size, 1, "a key moved ahead of the map is not listed");
    let nodes: String = redis::cmd("CLUSTER")
        .arg("NODES")
        .query(&mut target)
        .unwrap();
    assert!(
        nodes.contains(&format!("[15495-<-{}]", cluster.ids[1])),
        "{nodes}"
    );
}

#[test]
fn a_slot_moves_with_its_collections_whole() {
    let cluster = TestCluster::start(2, &["--fsync", "never"]);
    let mut probe = cluster.nodes[0].redis();
    let slot = slot_of(&mut probe, "c");
    let from = cluster.owner_of(slot);
    let to = 1 - from;
    let mut source = cluster.nodes[from].redis();
    // More elements than one request carries, scores of every sign and size, a deadline.
    let fields: Vec<(String, String)> = (0..600)
        .map(|i| (format!("f{i}"), format!("v{i}")))
        .collect();
    let elements: Vec<String> = (0..600).map(|i| format!("e{}", 599 - i)).collect();
    let members: Vec<String> = (0..300).map(|i| format!("m{i}")).collect();
    let scores = ["-inf", "-0.5", "0", "1e300", "3.14159", "inf"];
    let mut fill = redis::pipe();
    fill.cmd("HSET").arg("{c}:hash").arg(&fields).ignore();
    fill.cmd("RPUSH").arg("{c}:list").arg(&elements).ignore();
    fill.cmd("SADD").arg("{c}:set").arg(&members).ignore();
    for (i, member) in members.iter().enumerate() {
        fill.cmd("ZADD")
            .arg("{c}:zset")
            .arg(scores[i % scores.len()])
            .arg(member)
            .ignore();
    }
    fill.cmd("PEXPIRE").arg("{c}:hash").arg(600_000).ignore();
    fill.cmd("SET").arg("{c}:string").arg("s").ignore();
    let () = fill.query(&mut source).unwrap();
    let dump = |con: &mut redis::Connection| -> Vec<redis::Value> {
        [
            "HGETALL {c}:hash",
            "LRANGE {c}:list 0 -1",
            "SMEMBERS {c}:set",
            "ZRANGE {c}:zset 0 -1 WITHSCORES",
            "GET {c}:string",
        ]
        .iter()
        .map(|line| {
            let _: () = redis::cmd("ASKING").query(con).unwrap();
            let words: Vec<&str> = line.split(' ').collect();
            redis::cmd(words[0]).arg(&words[1..]).query(con).unwrap()
        })
        .collect()
    };
    let before = dump(&mut source);

    let started: String = redis::cmd("CLUSTER")
        .arg("MOVESLOT")
        .arg(slot)
        .arg(&cluster.ids[to])
        .query(&mut source)
        .unwrap();
    assert_eq!(started, "OK");
    wait_for_owner(&mut source, slot, cluster.nodes[to].addr.port());

    let mut target = cluster.nodes[to].redis();
    assert_eq!(dump(&mut target), before);
    let ttl: i64 = redis::cmd("PTTL")
        .arg("{c}:hash")
        .query(&mut target)
        .unwrap();
    assert!(ttl > 500_000, "the deadline moved with the hash: {ttl}");
    let count: usize = redis::cmd("CLUSTER")
        .arg("COUNTKEYSINSLOT")
        .arg(slot)
        .query(&mut target)
        .unwrap();
    assert_eq!(count, 5);
    assert!(error_of(&mut source, &["HLEN", "{c}:hash"]).starts_with(&format!("MOVED {slot} ")));
}
