//! A cluster of real `cairn-server` processes on loopback for tests: each started on port 0
//! in cluster mode with a node id of its own, then given one map (slots split evenly among
//! the primaries) with CLUSTER SETMAP, as an operator would install it.

use std::fmt::Write as _;

use super::TestServer;

/// Nodes of one cluster; killed when dropped.
pub struct TestCluster {
    /// The nodes, primaries first, in map order.
    pub nodes: Vec<TestServer>,
    /// Their ids, in the same order.
    pub ids: Vec<String>,
    /// The map installed, as text.
    pub map: String,
}

impl TestCluster {
    /// `primaries` primaries sharing the 16384 slots evenly, each with `extra` flags.
    pub fn start(primaries: usize, extra: &[&str]) -> TestCluster {
        TestCluster::with_replicas(primaries, 0, extra)
    }

    /// `primaries` primaries, then `replicas` replicas of the first primaries in turn.
    pub fn with_replicas(primaries: usize, replicas: usize, extra: &[&str]) -> TestCluster {
        let ids: Vec<String> = (0..primaries + replicas).map(node_id).collect();
        let nodes: Vec<TestServer> = ids
            .iter()
            .map(|id| {
                let mut args = vec!["--cluster-enabled", "yes", "--cluster-node-id", id.as_str()];
                args.extend_from_slice(extra);
                TestServer::start(&args)
            })
            .collect();
        let mut map = String::from("version 1\n");
        for (i, node) in nodes.iter().enumerate().take(primaries) {
            let first = i * 16384 / primaries;
            let last = (i + 1) * 16384 / primaries - 1;
            let _ = writeln!(map, "node {} {} {first}-{last}", ids[i], node.addr);
        }
        for (r, node) in nodes.iter().enumerate().skip(primaries) {
            let primary = &ids[(r - primaries) % primaries];
            let _ = writeln!(map, "replica {} {} {primary}", ids[r], node.addr);
        }
        let cluster = TestCluster { nodes, ids, map };
        cluster.install(&cluster.map);
        cluster
    }

    /// Installs `map` on every node.
    pub fn install(&self, map: &str) {
        for node in &self.nodes {
            let reply: String = redis::cmd("CLUSTER")
                .arg("SETMAP")
                .arg(map)
                .query(&mut node.redis())
                .unwrap_or_else(|e| panic!("CLUSTER SETMAP on {}: {e}", node.addr));
            assert_eq!(reply, "OK");
        }
    }

    /// The installed map's nodes in a map of `version` that gives every slot to the first
    /// primary (and none to the others).
    pub fn all_slots_to_first(&self, version: u64) -> String {
        let mut map = format!("version {version}\n");
        for (i, line) in self.map.lines().skip(1).enumerate() {
            let words: Vec<&str> = line.split(' ').collect();
            let _ = match (i, words.as_slice()) {
                (0, ["node", id, addr, ..]) => writeln!(map, "node {id} {addr} 0-16383"),
                (_, ["node", id, addr, ..]) => writeln!(map, "node {id} {addr}"),
                _ => writeln!(map, "{line}"),
            };
        }
        map
    }

    /// `redis://` URLs of every node, for cluster clients.
    pub fn urls(&self) -> Vec<String> {
        self.nodes.iter().map(TestServer::url).collect()
    }

    /// The index of the primary that owns `slot` in the installed map (slots are split
    /// evenly, so this is arithmetic).
    pub fn owner_of(&self, slot: u16) -> usize {
        let primaries = self.map.lines().filter(|l| l.starts_with("node ")).count();
        (0..primaries)
            .find(|&i| usize::from(slot) < (i + 1) * 16384 / primaries)
            .unwrap_or(primaries - 1)
    }
}

/// A node id: 40 hex characters that differ per index.
fn node_id(i: usize) -> String {
    format!("{:040x}", 0xca1_0000 + i)
}
