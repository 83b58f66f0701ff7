//! Cluster mode over real processes on loopback: the slot map as Redis Cluster clients read
//! it, redirects (MOVED, ASK, CROSSSLOT), hash tags, transactions held to one slot, walks
//! of the key space covering a node's own slots, the map kept across a restart, and a slot
//! moved with its keys while clients write to it. Driven by redis-cli -c, the `redis`
//! crate's cluster client and plain connections.

// A failing test should fail loudly: expect and unwrap are its assertions.
#![allow(clippy::expect_used, clippy::unwrap_used)]

mod common;

use common::cluster::TestCluster;

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
