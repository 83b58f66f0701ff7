//! The cluster map: every node's id and address, which slots each primary owns, and which
//! primary each replica follows, with the version that orders one map after another.
//!
//! The map is text, the same file on every node (docs/operations.md, "Cluster mode"):
//!
//! ```text
//! version 3
//! node 07c37dfeb235213a872192d90877d0cd55635b91 127.0.0.1:7001 0-5460
//! node e7d1eecce10fd6bb5eb35b9f99a514335d9ba9ca 127.0.0.1:7002 5461-10922
//! node 67ed2db8d677e59ec4a4cefb06858cf2a1a89fa1 127.0.0.1:7003 10923-16383
//! replica 292f8b365bb7edb5e285caf0b7e6ddc7265d2f4f 127.0.0.1:7004 07c37dfeb235213a872192d90877d0cd55635b91
//! ```
//!
//! This file parses and renders that text and answers "who owns slot s"; it knows nothing
//! of connections or of which node is this one.

use std::fmt::Write as _;

use crate::protocol::slot::SLOTS;

/// Marks a slot no node owns in [`ClusterMap::owners`].
const UNOWNED: u16 = u16::MAX;

/// Most nodes a map may name (Redis Cluster's own advice is at most about 1000); checks
/// for duplicates are linear per node, so a map's size bounds its parse time.
const MAX_NODES: usize = 1000;

/// A node of the map.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Node {
    /// 40 lower-case hex characters, as Redis Cluster names nodes.
    pub id: String,
    /// The address clients reach it at.
    pub ip: String,
    /// Its client port.
    pub port: u16,
    /// For a replica, the index of its primary in [`ClusterMap::nodes`].
    pub primary: Option<usize>,
    /// For a primary, its slots as inclusive ranges in ascending order.
    pub slots: Vec<(u16, u16)>,
}

impl Node {
    /// `ip:port`, as MOVED and CLUSTER NODES write it.
    pub fn addr(&self) -> String {
        format!("{}:{}", self.ip, self.port)
    }
}

/// A version of the slot map.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct ClusterMap {
    /// Newer maps have larger versions; a node only installs a newer one.
    pub version: u64,
    /// Every node, in the file's order.
    pub nodes: Vec<Node>,
    /// For each slot, the index of its primary in `nodes`, or [`UNOWNED`].
    owners: Box<[u16]>,
}

impl Default for ClusterMap {
    /// The map of a node that has not been given one: version 0, no nodes, no slot served.
    fn default() -> Self {
        ClusterMap {
            version: 0,
            nodes: Vec::new(),
            owners: vec![UNOWNED; usize::from(SLOTS)].into_boxed_slice(),
        }
    }
}

impl ClusterMap {
    /// Parses a map's text, checking it whole: one `version` line, unique ids and
    /// addresses, slots in range and owned at most once, replicas of primaries in the map.
    /// The error names the line.
    pub fn parse(text: &str) -> Result<ClusterMap, String> {
        let mut map = ClusterMap::default();
        let mut version = None;
        let mut replicas = Vec::new();
        for (n, line) in text.lines().enumerate() {
            let at = |what: String| format!("line {}: {what}", n + 1);
            let line = line.split('#').next().unwrap_or_default().trim();
            let mut words = line.split_whitespace();
            let Some(kind) = words.next() else { continue };
            match kind {
                "version" => {
                    let v = words
                        .next()
                        .and_then(|v| v.parse::<u64>().ok())
                        .filter(|_| words.next().is_none())
                        .ok_or_else(|| at("expected `version <number>`".into()))?;
                    if version.replace(v).is_some() {
                        return Err(at("a second `version` line".into()));
                    }
                }
                "node" | "replica" => {
                    let id = words
                        .next()
                        .ok_or_else(|| at("a node id is missing".into()))?;
                    let addr = words
                        .next()
                        .ok_or_else(|| at("an address is missing".into()))?;
                    let node = map.add_node(id, addr).map_err(at)?;
                    if kind == "replica" {
                        let primary = words
                            .next()
                            .ok_or_else(|| at("the replica's primary id is missing".into()))?;
                        if words.next().is_some() {
                            return Err(at("a replica line ends after its primary's id".into()));
                        }
                        replicas.push((n + 1, node, primary.to_owned()));
                    } else {
                        for range in words {
                            map.assign(node, range).map_err(at)?;
                        }
                    }
                }
                other => return Err(at(format!("unknown line kind `{other}`"))),
            }
        }
        map.version = version.ok_or("the map has no `version` line")?;
        for (line, node, primary) in replicas {
            let index = map
                .nodes
                .iter()
                .position(|n| n.id == primary && n.primary.is_none())
                .ok_or_else(|| format!("line {line}: {primary} is not a primary in the map"))?;
            map.nodes[node].primary = Some(index);
        }
        Ok(map)
    }

    fn add_node(&mut self, id: &str, addr: &str) -> Result<usize, String> {
        if !is_node_id(id) {
            return Err(format!(
                "`{id}` is not a node id (40 lower-case hex characters)"
            ));
        }
        let (ip, port) = addr
            .rsplit_once(':')
            .and_then(|(ip, port)| Some((ip, port.parse::<u16>().ok().filter(|&p| p > 0)?)))
            .filter(|(ip, _)| !ip.is_empty())
            .ok_or_else(|| format!("`{addr}` is not ip:port"))?;
        if self.nodes.iter().any(|n| n.id == id) {
            return Err(format!("node {id} appears twice"));
        }
        if self.nodes.iter().any(|n| n.ip == ip && n.port == port) {
            return Err(format!("two nodes at {addr}"));
        }
        if self.nodes.len() == MAX_NODES {
            return Err(format!("more than {MAX_NODES} nodes"));
        }
        self.nodes.push(Node {
            id: id.to_owned(),
            ip: ip.to_owned(),
            port,
            primary: None,
            slots: Vec::new(),
        });
        Ok(self.nodes.len() - 1)
    }

    /// Gives `node` the slots of `range` (`a-b` or one slot `a`).
    fn assign(&mut self, node: usize, range: &str) -> Result<(), String> {
        let slot = |s: &str| s.parse::<u16>().ok().filter(|&s| s < SLOTS);
        let (first, last) = match range.split_once('-') {
            Some((a, b)) => (slot(a), slot(b)),
            None => (slot(range), slot(range)),
        };
        let (Some(first), Some(last)) = (first, last) else {
            return Err(format!(
                "`{range}` is not a slot or a range of slots (0-16383)"
            ));
        };
        if first > last {
            return Err(format!("`{range}` runs backwards"));
        }
        for s in first..=last {
            let owner = &mut self.owners[usize::from(s)];
            if *owner != UNOWNED {
                return Err(format!("slot {s} is given twice"));
            }
            *owner = u16::try_from(node).map_err(|_| "too many nodes")?;
        }
        self.nodes[node].slots = ranges(&self.owners, node);
        Ok(())
    }

    /// The index of the primary owning `slot`, if any.
    pub fn owner(&self, slot: u16) -> Option<usize> {
        let owner = *self.owners.get(usize::from(slot))?;
        (owner != UNOWNED).then_some(usize::from(owner))
    }

    /// The index of the node called `id`.
    pub fn find(&self, id: &str) -> Option<usize> {
        self.nodes.iter().position(|n| n.id == id)
    }

    /// The replicas of the primary at `index`.
    pub fn replicas_of(&self, index: usize) -> impl Iterator<Item = &Node> {
        self.nodes.iter().filter(move |n| n.primary == Some(index))
    }

    /// How many slots some node owns.
    pub fn slots_assigned(&self) -> usize {
        self.owners.iter().filter(|&&o| o != UNOWNED).count()
    }

    /// This map with `slot` given to the primary at `to`, one version on.
    pub fn with_slot_moved(&self, slot: u16, to: usize) -> ClusterMap {
        let mut next = self.clone();
        next.version += 1;
        let from = next.owner(slot);
        next.owners[usize::from(slot)] = u16::try_from(to).unwrap_or(UNOWNED);
        for node in from.into_iter().chain([to]) {
            next.nodes[node].slots = ranges(&next.owners, node);
        }
        next
    }

    /// The map's text, as [`ClusterMap::parse`] reads it.
    pub fn render(&self) -> String {
        let mut out = format!("version {}\n", self.version);
        for node in &self.nodes {
            if let Some(primary) = node.primary {
                let primary = &self.nodes[primary].id;
                let _ = writeln!(out, "replica {} {} {primary}", node.id, node.addr());
            } else {
                let _ = write!(out, "node {} {}", node.id, node.addr());
                write_ranges(&mut out, &node.slots);
                out.push('\n');
            }
        }
        out
    }
}

/// Appends ` a-b` for each range (` a` for a range of one slot), as the map file and
/// CLUSTER NODES write slots.
pub(crate) fn write_ranges(out: &mut String, ranges: &[(u16, u16)]) {
    for &(first, last) in ranges {
        let _ = if first == last {
            write!(out, " {first}")
        } else {
            write!(out, " {first}-{last}")
        };
    }
}

/// Whether `id` is a node id: 40 lower-case hex characters, as Redis Cluster names nodes.
pub(crate) fn is_node_id(id: &str) -> bool {
    id.len() == 40
        && id
            .bytes()
            .all(|b| b.is_ascii_digit() || (b'a'..=b'f').contains(&b))
}

/// The slots `owners` gives to `node`, as ascending inclusive ranges.
fn ranges(owners: &[u16], node: usize) -> Vec<(u16, u16)> {
    let mut out: Vec<(u16, u16)> = Vec::new();
    for (slot, &owner) in (0..SLOTS).zip(owners) {
        if usize::from(owner) != node || owner == UNOWNED {
            continue;
        }
        match out.last_mut() {
            Some((_, last)) if *last + 1 == slot => *last = slot,
            _ => out.push((slot, slot)),
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    const A: &str = "07c37dfeb235213a872192d90877d0cd55635b91";
    const B: &str = "e7d1eecce10fd6bb5eb35b9f99a514335d9ba9ca";
    const R: &str = "292f8b365bb7edb5e285caf0b7e6ddc7265d2f4f";

    fn text() -> String {
        format!(
            "# two shards\nversion 7\nnode {A} 127.0.0.1:7001 0-8000 8002\n\
             node {B} 127.0.0.1:7002 8001 8003-16383\nreplica {R} 127.0.0.1:7003 {A}\n"
        )
    }

    #[test]
    fn parses_owners_replicas_and_round_trips() {
        let map = ClusterMap::parse(&text()).unwrap();
        assert_eq!(map.version, 7);
        assert_eq!(map.owner(0), Some(0));
        assert_eq!(map.owner(8001), Some(1));
        assert_eq!(map.owner(8002), Some(0));
        assert_eq!(map.owner(16383), Some(1));
        assert_eq!(map.nodes[0].slots, vec![(0, 8000), (8002, 8002)]);
        assert_eq!(map.nodes[2].primary, Some(0));
        assert_eq!(map.replicas_of(0).count(), 1);
        assert_eq!(map.slots_assigned(), 16384);
        assert_eq!(ClusterMap::parse(&map.render()).unwrap(), map);
    }

    #[test]
    fn moving_a_slot_makes_a_newer_map() {
        let map = ClusterMap::parse(&text()).unwrap();
        let next = map.with_slot_moved(8002, 1);
        assert_eq!(next.version, 8);
        assert_eq!(next.owner(8002), Some(1));
        assert_eq!(next.nodes[0].slots, vec![(0, 8000)]);
        assert_eq!(next.nodes[1].slots, vec![(8001, 16383)]);
    }

    #[test]
    fn bad_maps_name_their_line() {
        let bad = |text: &str| ClusterMap::parse(text).unwrap_err();
        assert!(bad("node x 1:2").contains("line 1"));
        assert!(bad(&format!(
            "version 1\nnode {A} 127.0.0.1:1 0-10\nnode {B} h:2 5"
        ))
        .contains("slot 5 is given twice"));
        assert!(bad(&format!("version 1\nnode {A} h:1 16384")).contains("not a slot"));
        assert!(bad(&format!("version 1\nnode {A} h:1 9-3")).contains("backwards"));
        assert!(bad(&format!("version 1\nnode {A} h:0")).contains("ip:port"));
        assert!(bad(&format!("version 1\nnode {A} h:1\nnode {A} h:2")).contains("twice"));
        assert!(bad(&format!("version 1\nreplica {R} h:1 {B}")).contains("not a primary"));
        assert!(bad(&format!("node {A} h:1")).contains("no `version`"));
        assert!(bad("version 1\nversion 2").contains("second"));
        assert!(bad("version 1\nshard x").contains("unknown"));
    }
}
