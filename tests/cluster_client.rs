//! The cluster client (`cairn::client::Cluster`, and its blocking wrapper) against three
//! real nodes: keys routed to their slot's owner, ranges merged in key order from every
//! primary, a new map followed through MOVED, ASK followed during a migration (and TRYAGAIN
//! bounded), a slot moved with its keys while clients write to it, a dead node routed
//! around once its slots have moved. Every wait is bounded.

// A failing test should fail loudly: expect and unwrap are its assertions.
#![allow(clippy::expect_used, clippy::unwrap_used)]

mod common;

use std::collections::HashMap;
use std::fmt::Write as _;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use bytes::Bytes;
use cairn::client::{Cluster, Error, RangeOptions, SetCondition, SetOptions};
use cairn::protocol::slot::key_slot;
use cairn::protocol::Reply;
use common::cluster::TestCluster;
use futures::TryStreamExt;

fn b(s: &str) -> Bytes {
    Bytes::copy_from_slice(s.as_bytes())
}

fn seeds(cluster: &TestCluster) -> Vec<String> {
    cluster.nodes.iter().map(|n| n.addr.to_string()).collect()
}

fn dbsize(cluster: &TestCluster, node: usize) -> usize {
    redis::cmd("DBSIZE")
        .query(&mut cluster.nodes[node].redis())
        .unwrap()
}

/// The address of the owner of `slot` as `node`'s CLUSTER SLOTS reports it.
fn owner_reported(cluster: &TestCluster, node: usize, slot: u16) -> Option<String> {
    type SlotRange = (u16, u16, (String, u16, String));
    let ranges: Vec<redis::Value> = redis::cmd("CLUSTER")
        .arg("SLOTS")
        .query(&mut cluster.nodes[node].redis())
        .unwrap();
    ranges.into_iter().find_map(|range| {
        let redis::Value::Array(mut fields) = range else {
            return None;
        };
        fields.truncate(3);
        if let Some(redis::Value::Array(node)) = fields.get_mut(2) {
            node.truncate(3);
        }
        let (first, last, (ip, port, _)): SlotRange =
            redis::FromRedisValue::from_redis_value(&redis::Value::Array(fields)).ok()?;
        (first..=last)
            .contains(&slot)
            .then(|| format!("{ip}:{port}"))
    })
}

/// Polls `check` every 20 ms until it holds, at most `limit`.
async fn eventually(limit: Duration, what: &str, mut check: impl FnMut() -> bool) {
    let until = Instant::now() + limit;
    while !check() {
        assert!(Instant::now() < until, "not within {limit:?}: {what}");
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}

/// A map of version `version` where node `i` owns `ranges[i]` (`"0-5460 10923-12000"`).
fn map_text(cluster: &TestCluster, version: u64, ranges: &[&str]) -> String {
    let mut map = format!("version {version}\n");
    for (i, ranges) in ranges.iter().enumerate() {
        let _ = writeln!(
            map,
            "node {} {} {ranges}",
            cluster.ids[i], cluster.nodes[i].addr
        );
    }
    map
}

/// `n` keys `{prefix}{i}` whose slots `keep` accepts.
fn keys_where(prefix: &str, n: usize, keep: impl Fn(u16) -> bool) -> Vec<String> {
    (0..)
        .map(|i| format!("{prefix}{i}"))
        .filter(|k| keep(key_slot(k.as_bytes())))
        .take(n)
        .collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn keys_go_to_their_owners_and_ranges_merge_in_order() {
    let cluster = TestCluster::start(3, &["--fsync", "never"]);
    let c = Cluster::connect(&seeds(&cluster)).await.unwrap();
    let map = c.slot_map();
    assert_eq!(map.nodes().len(), 3);
    assert_eq!(map.node_of(0), Some(&*cluster.nodes[0].addr.to_string()));
    assert_eq!(
        map.node_of(16383),
        Some(&*cluster.nodes[2].addr.to_string())
    );

    // 1000 keys, written concurrently (pipelined on each node's connection), read back.
    let keys: Vec<String> = (0..1000).map(|i| format!("key:{i:04}")).collect();
    futures::future::try_join_all(keys.iter().map(|k| c.set(k, format!("v-{k}"))))
        .await
        .unwrap();
    for k in &keys {
        assert_eq!(c.get(k).await.unwrap(), Some(b(&format!("v-{k}"))), "{k}");
    }
    // Each node holds its slots' keys, about a third.
    let sizes: Vec<usize> = (0..3).map(|i| dbsize(&cluster, i)).collect();
    assert_eq!(sizes.iter().sum::<usize>(), 1000, "{sizes:?}");
    assert!(sizes.iter().all(|&n| (250..=420).contains(&n)), "{sizes:?}");
    for k in keys.iter().step_by(37) {
        let owner = cluster.owner_of(key_slot(k.as_bytes()));
        let value: Option<String> = redis::cmd("GET")
            .arg(k)
            .query(&mut cluster.nodes[owner].redis())
            .unwrap();
        assert_eq!(value, Some(format!("v-{k}")), "{k} on node {owner}");
    }

    // The whole key space, merged from three nodes, in key order.
    let all: Vec<(Bytes, Bytes)> = c
        .range::<&str, _>(..)
        .await
        .unwrap()
        .try_collect()
        .await
        .unwrap();
    let expect: Vec<(Bytes, Bytes)> = keys.iter().map(|k| (b(k), b(&format!("v-{k}")))).collect();
    assert_eq!(all, expect);
    // Bounded, limited, reversed.
    let some: Vec<(Bytes, Bytes)> = c
        .range("key:0100".."key:0200")
        .await
        .unwrap()
        .try_collect()
        .await
        .unwrap();
    assert_eq!(some, expect[100..200]);
    let first: Vec<(Bytes, Bytes)> = c
        .range_with::<&str, _>(
            ..,
            RangeOptions {
                limit: Some(5),
                reverse: false,
            },
        )
        .await
        .unwrap()
        .try_collect()
        .await
        .unwrap();
    assert_eq!(first, expect[..5]);
    let last: Vec<(Bytes, Bytes)> = c
        .range_with(
            "key:0500"..="key:0989",
            RangeOptions {
                limit: Some(10),
                reverse: true,
            },
        )
        .await
        .unwrap()
        .try_collect()
        .await
        .unwrap();
    let mut tail = expect[980..990].to_vec();
    tail.reverse();
    assert_eq!(last, tail);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn other_methods_and_commands_route_by_their_first_key() {
    let cluster = TestCluster::start(3, &["--fsync", "never"]);
    let c = Cluster::connect(&seeds(&cluster)).await.unwrap();
    for k in ["key:0001", "key:0003", "key:0004", "key:0005"] {
        c.set(k, format!("v-{k}")).await.unwrap();
    }
    assert_eq!(c.incr_by("counter", 5).await.unwrap(), 5);
    assert!(c.expire("counter", Duration::from_secs(60)).await.unwrap());
    assert!(c.delete("counter").await.unwrap());
    assert!(!c.delete("counter").await.unwrap());
    let absent = SetOptions {
        condition: SetCondition::IfAbsent,
        expiry: None,
    };
    assert!(!c.set_with("key:0001", "x", absent.clone()).await.unwrap());
    assert!(c.set_with("fresh", "x", absent).await.unwrap());
    assert_eq!(
        c.get_versioned("fresh").await.unwrap().unwrap().value,
        b("x")
    );
    for k in ["key:0003", "key:0004", "key:0005"] {
        let got = c.command(["GET", k]).await.unwrap();
        assert_eq!(got, Reply::Bulk(b(&format!("v-{k}"))));
    }
    assert_eq!(
        c.command(["MSET", "{t}a", "1", "{t}b", "2"]).await.unwrap(),
        Reply::ok()
    );
    let both = c.command(["MGET", "{t}a", "{t}b"]).await.unwrap();
    assert_eq!(
        both,
        Reply::Array(vec![Reply::Bulk(b("1")), Reply::Bulk(b("2"))])
    );
    let cross = c.command(["MGET", "key:0001", "key:0002"]).await;
    let cross_slot = key_slot(b"key:0001") != key_slot(b"key:0002");
    if cross_slot {
        assert_eq!(cross.unwrap_err().code(), Some("CROSSSLOT"));
    }
    // Keyless commands go to one node.
    assert!(matches!(
        c.command(["PING"]).await.unwrap(),
        Reply::Simple(_)
    ));
    assert!(matches!(
        c.command(["DBSIZE"]).await.unwrap(),
        Reply::Integer(_)
    ));
    assert!(matches!(
        c.command(Vec::<&str>::new()).await,
        Err(Error::InvalidInput { .. })
    ));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_new_map_is_followed_through_moved() {
    let cluster = TestCluster::start(3, &["--fsync", "never"]);
    let c = Cluster::connect(&seeds(&cluster)[..1]).await.unwrap();
    let (n0, n2) = (
        cluster.nodes[0].addr.to_string(),
        cluster.nodes[2].addr.to_string(),
    );
    assert_eq!(c.slot_map().node_of(11_000), Some(n2.as_str()));

    // Version 2 gives node 0 the slots 10922-12000 (node 2's, empty so far: SETMAP moves
    // no keys). The client's table is stale: it finds out from MOVED.
    cluster.install(&map_text(
        &cluster,
        2,
        &["0-5460 10922-12000", "5461-10921", "12001-16383"],
    ));
    let moved = keys_where("m", 50, |s| (10922..=12000).contains(&s));
    for k in &moved {
        c.set(k, k).await.unwrap();
        assert_eq!(c.get(k).await.unwrap(), Some(b(k)));
        let there: Option<String> = redis::cmd("GET")
            .arg(k)
            .query(&mut cluster.nodes[0].redis())
            .unwrap();
        assert_eq!(there.as_deref(), Some(k.as_str()), "{k} is on node 0");
    }
    // The table was read again in the background after the first MOVED.
    eventually(
        Duration::from_secs(5),
        "the table shows the new owner",
        || {
            c.slot_map().node_of(12_000) == Some(n0.as_str())
                && c.slot_map().node_of(12_001) == Some(n2.as_str())
        },
    )
    .await;

    // A slot moved with its keys (CLUSTER MOVESLOT, in the background on its owner): the
    // keys stay readable through the client, whose table is stale again.
    let slot = key_slot(b"{moveme}");
    let from = cluster.owner_of(slot);
    let to = (from + 1) % 3;
    let to_addr = cluster.nodes[to].addr.to_string();
    let keys: Vec<String> = (0..300).map(|i| format!("{{moveme}}{i}")).collect();
    for k in &keys {
        c.set(k, format!("{k}!")).await.unwrap();
    }
    let started: String = redis::cmd("CLUSTER")
        .arg("MOVESLOT")
        .arg(slot)
        .arg(&cluster.ids[to])
        .query(&mut cluster.nodes[from].redis())
        .unwrap();
    assert_eq!(started, "OK");
    eventually(
        Duration::from_secs(20),
        "the slot's new owner in CLUSTER SLOTS",
        || (0..3).all(|n| owner_reported(&cluster, n, slot).as_deref() == Some(to_addr.as_str())),
    )
    .await;
    for k in &keys {
        assert_eq!(c.get(k).await.unwrap(), Some(b(&format!("{k}!"))), "{k}");
    }
    let count: usize = redis::cmd("CLUSTER")
        .arg("COUNTKEYSINSLOT")
        .arg(slot)
        .query(&mut cluster.nodes[to].redis())
        .unwrap();
    assert_eq!(count, keys.len());
    eventually(
        Duration::from_secs(5),
        "the table shows the moved slot",
        || c.slot_map().node_of(slot) == Some(to_addr.as_str()),
    )
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn ask_is_followed_during_a_migration_and_tryagain_is_bounded() {
    let cluster = TestCluster::start(3, &["--fsync", "never"]);
    let c = Cluster::connect(&seeds(&cluster)).await.unwrap();
    let slot = key_slot(b"{ask}");
    let (from, to) = (cluster.owner_of(slot), (cluster.owner_of(slot) + 1) % 3);
    let from_addr = cluster.nodes[from].addr.to_string();
    c.set("{ask}old", "here").await.unwrap();

    // The slot migrating by hand, as MOVESLOT's first step leaves it.
    let setslot = |node: usize, state: &str, other: usize| {
        let ok: String = redis::cmd("CLUSTER")
            .arg("SETSLOT")
            .arg(slot)
            .arg(state)
            .arg(&cluster.ids[other])
            .query(&mut cluster.nodes[node].redis())
            .unwrap();
        assert_eq!(ok, "OK");
    };
    setslot(to, "IMPORTING", from);
    setslot(from, "MIGRATING", to);

    // A key the old owner does not have goes to the new one, after ASKING.
    c.set("{ask}new", "there").await.unwrap();
    let mut old = cluster.nodes[from].redis();
    let refused: redis::RedisResult<Option<String>> =
        redis::cmd("GET").arg("{ask}new").query(&mut old);
    assert!(
        refused
            .as_ref()
            .is_err_and(|e| e.kind() == redis::ErrorKind::Ask),
        "{refused:?}"
    );
    let mut new = cluster.nodes[to].redis();
    let (_, there): (String, Option<String>) = redis::pipe()
        .cmd("ASKING")
        .cmd("GET")
        .arg("{ask}new")
        .query(&mut new)
        .unwrap();
    assert_eq!(there.as_deref(), Some("there"));
    assert_eq!(c.get("{ask}new").await.unwrap(), Some(b("there")));
    assert_eq!(c.get("{ask}old").await.unwrap(), Some(b("here")));
    assert_eq!(
        c.command(["GET", "{ask}new"]).await.unwrap(),
        Reply::Bulk(b("there"))
    );
    assert_eq!(c.incr_by("{ask}n", 2).await.unwrap(), 2);
    assert_eq!(c.incr_by("{ask}n", 2).await.unwrap(), 4);
    // ASK does not change the table.
    assert_eq!(c.slot_map().node_of(slot), Some(from_addr.as_str()));

    // One key on each side: TRYAGAIN, as long as the migration is stuck, until the bound.
    let started = Instant::now();
    let split = c.command(["MGET", "{ask}old", "{ask}new"]).await;
    assert!(
        matches!(&split, Err(Error::TooManyRedirects { redirects: 16, last }) if last.starts_with("TRYAGAIN")),
        "{split:?}"
    );
    assert!(
        started.elapsed() < Duration::from_secs(10),
        "{:?}",
        started.elapsed()
    );
}

/// A client writing and reading keys of a slot while MOVESLOT moves it: no error, no
/// lost write.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_slot_moved_under_writers_loses_nothing() {
    let cluster = TestCluster::start(3, &["--fsync", "never"]);
    let c = Cluster::connect(&seeds(&cluster)).await.unwrap();
    let slot = key_slot(b"{mv}");
    let (from, to) = (cluster.owner_of(slot), (cluster.owner_of(slot) + 2) % 3);
    let to_addr = cluster.nodes[to].addr.to_string();
    let keys: Vec<String> = (0..2000).map(|i| format!("{{mv}}{i:05}")).collect();
    futures::future::try_join_all(keys.iter().map(|k| c.set(k, "0")))
        .await
        .unwrap();

    let stop = Arc::new(AtomicBool::new(false));
    let writes = Arc::new(AtomicU64::new(0));
    let mut writers = Vec::new();
    for part in keys.chunks(500) {
        let (c, stop, writes, part) = (c.clone(), stop.clone(), writes.clone(), part.to_vec());
        writers.push(tokio::spawn(async move {
            let mut last = HashMap::new();
            let mut round = 0u64;
            while !stop.load(Ordering::Relaxed) {
                round += 1;
                for k in &part {
                    let value = format!("{round}");
                    c.set(k, &value)
                        .await
                        .map_err(|e| format!("SET {k}: {e}"))?;
                    let read = c.get(k).await.map_err(|e| format!("GET {k}: {e}"))?;
                    if read.as_deref() != Some(value.as_bytes()) {
                        return Err(format!("{k}: wrote {value}, read {read:?}"));
                    }
                    last.insert(k.clone(), value);
                    writes.fetch_add(1, Ordering::Relaxed);
                }
            }
            Ok::<_, String>(last)
        }));
    }
    tokio::time::sleep(Duration::from_millis(100)).await;
    let before = writes.load(Ordering::Relaxed);
    let started: String = redis::cmd("CLUSTER")
        .arg("MOVESLOT")
        .arg(slot)
        .arg(&cluster.ids[to])
        .query(&mut cluster.nodes[from].redis())
        .unwrap();
    assert_eq!(started, "OK");
    eventually(Duration::from_secs(30), "the move to finish", || {
        (0..3).all(|n| owner_reported(&cluster, n, slot).as_deref() == Some(to_addr.as_str()))
    })
    .await;
    let during = writes.load(Ordering::Relaxed) - before;
    tokio::time::sleep(Duration::from_millis(200)).await;
    stop.store(true, Ordering::Relaxed);
    let mut last = HashMap::new();
    for writer in writers {
        let written = tokio::time::timeout(Duration::from_secs(30), writer)
            .await
            .expect("a writer did not stop")
            .unwrap();
        last.extend(written.unwrap_or_else(|e| panic!("a writer failed: {e}")));
    }
    assert!(during > 0, "no write ran during the move");
    assert_eq!(last.len(), keys.len());
    let mut direct = cluster.nodes[to].redis();
    for (k, value) in &last {
        assert_eq!(
            c.get(k).await.unwrap().as_deref(),
            Some(value.as_bytes()),
            "{k}"
        );
        let there: Option<String> = redis::cmd("GET").arg(k).query(&mut direct).unwrap();
        assert_eq!(there.as_ref(), Some(value), "{k} on the new owner");
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_dead_node_is_routed_around_once_its_slots_moved() {
    let mut cluster = TestCluster::start(3, &["--fsync", "never"]);
    let c = Cluster::connect(&seeds(&cluster)).await.unwrap();
    let key = keys_where("dead", 1, |s| s >= 10922).remove(0);
    c.set(&key, "before").await.unwrap();
    cluster.nodes[2].kill();
    // Node 2's slots go to node 0 (without its keys: it is gone).
    let map = map_text(&cluster, 2, &["0-5460 10922-16383", "5461-10921"]);
    for node in &cluster.nodes[..2] {
        let ok: String = redis::cmd("CLUSTER")
            .arg("SETMAP")
            .arg(&map)
            .query(&mut node.redis())
            .unwrap();
        assert_eq!(ok, "OK");
    }
    // The first request may find the old connection dead mid-flight; after that, the client
    // cannot connect to node 2, reads the table from another node and goes to node 0.
    let _ = c.get(&key).await;
    assert_eq!(c.get(&key).await.unwrap(), None);
    c.set(&key, "after").await.unwrap();
    assert_eq!(c.get(&key).await.unwrap(), Some(b("after")));
    assert_eq!(
        c.slot_map().node_of(key_slot(key.as_bytes())),
        Some(&*cluster.nodes[0].addr.to_string())
    );
}

#[test]
fn the_blocking_cluster_client() {
    let cluster = TestCluster::start(3, &["--fsync", "never"]);
    let c = cairn::client::blocking::Cluster::connect(&seeds(&cluster)).unwrap();
    let keys: Vec<String> = (0..300).map(|i| format!("b:{i:03}")).collect();
    for k in &keys {
        c.set(k, k).unwrap();
    }
    for k in &keys {
        assert_eq!(c.get(k).unwrap(), Some(b(k)));
    }
    let all: Vec<Bytes> = c
        .range::<&str, _>(..)
        .unwrap()
        .map(|pair| pair.unwrap().0)
        .collect();
    assert_eq!(all, keys.iter().map(|k| b(k)).collect::<Vec<_>>());
    let top: Vec<Bytes> = c
        .range_with::<&str, _>(
            ..,
            RangeOptions {
                limit: Some(3),
                reverse: true,
            },
        )
        .unwrap()
        .map(|pair| pair.unwrap().0)
        .collect();
    assert_eq!(top, [b("b:299"), b("b:298"), b("b:297")]);
    assert_eq!(c.incr_by("n", 7).unwrap(), 7);
    assert!(c.delete("n").unwrap());
    assert!(c.expire("b:000", Duration::from_secs(60)).unwrap());
    assert_eq!(
        c.command(["GET", "b:001"]).unwrap(),
        Reply::Bulk(b("b:001"))
    );

    // A new map: followed through MOVED, the table read again.
    cluster.install(&map_text(&cluster, 2, &["0-5460", "5461-16383", ""]));
    let moved = keys_where("bm", 20, |s| s >= 10922);
    for k in &moved {
        c.set(k, "v").unwrap();
        assert_eq!(c.get(k).unwrap(), Some(b("v")));
    }
    c.refresh().unwrap();
    assert_eq!(
        c.slot_map().node_of(16383),
        Some(&*cluster.nodes[1].addr.to_string())
    );
}
