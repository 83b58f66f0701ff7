//! The slot table: which primary serves each of the 16,384 hash slots, read from a node's
//! `CLUSTER SLOTS` answer and corrected entry by entry by `-MOVED`. It knows replies and
//! addresses, nothing of connections.

use crate::client::{unexpected, Result};
use crate::protocol::slot::{key_slot, SLOTS};
use crate::protocol::Reply;

/// Marks a slot no node serves in [`SlotMap::owners`].
const UNOWNED: u16 = u16::MAX;

/// Which primary serves each of the 16,384 hash slots, as a node's `CLUSTER SLOTS` lists
/// them. Nodes are named by their client address (`ip:port`, as `MOVED` names them).
#[derive(Clone, PartialEq, Eq)]
pub struct SlotMap {
    /// For each slot, the index of its node in `nodes`, or [`UNOWNED`].
    pub(super) owners: Box<[u16]>,
    /// The primaries, in the order `CLUSTER SLOTS` first names them.
    pub(super) nodes: Vec<String>,
}

impl std::fmt::Debug for SlotMap {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let served: Vec<(&str, usize)> = (0..self.nodes.len())
            .map(|i| (self.nodes[i].as_str(), self.slots_of(i)))
            .collect();
        // Slots per node, not 16,384 owners.
        f.debug_struct("SlotMap")
            .field("nodes", &served)
            .finish_non_exhaustive()
    }
}

impl SlotMap {
    pub(super) fn empty() -> SlotMap {
        SlotMap {
            owners: vec![UNOWNED; usize::from(SLOTS)].into_boxed_slice(),
            nodes: Vec::new(),
        }
    }

    /// Reads a `CLUSTER SLOTS` answer: an array of `[first, last, [ip, port, id, ...],
    /// replicas...]`. Replicas are not kept: requests go to primaries.
    pub fn from_reply(reply: &Reply) -> Result<SlotMap> {
        let bad = || unexpected("CLUSTER SLOTS", reply);
        let Reply::Array(ranges) = reply else {
            return Err(bad());
        };
        let slot = |r: Option<&Reply>| match r {
            Some(Reply::Integer(n)) => u16::try_from(*n).ok().filter(|&s| s < SLOTS),
            _ => None,
        };
        let mut map = SlotMap::empty();
        for range in ranges {
            let Reply::Array(fields) = range else {
                return Err(bad());
            };
            let (Some(first), Some(last), Some(Reply::Array(primary))) =
                (slot(fields.first()), slot(fields.get(1)), fields.get(2))
            else {
                return Err(bad());
            };
            let ip = match primary.first() {
                Some(Reply::Bulk(ip) | Reply::Simple(ip)) if !ip.is_empty() => {
                    String::from_utf8_lossy(ip).into_owned()
                }
                _ => return Err(bad()),
            };
            let Some(port) = (match primary.get(1) {
                Some(Reply::Integer(port)) => u16::try_from(*port).ok(),
                _ => None,
            }) else {
                return Err(bad());
            };
            if first > last {
                return Err(bad());
            }
            let node = map.index_of(&node_addr(&ip, port));
            for s in first..=last {
                map.owners[usize::from(s)] = node;
            }
        }
        Ok(map)
    }

    /// The index of `addr` in [`SlotMap::nodes`], added if it is not there.
    pub(super) fn index_of(&mut self, addr: &str) -> u16 {
        let index = self
            .nodes
            .iter()
            .position(|n| n == addr)
            .unwrap_or_else(|| {
                self.nodes.push(addr.to_owned());
                self.nodes.len() - 1
            });
        // A map has far fewer than 65,535 nodes; at worst the slot reads as unowned and its
        // requests go to any node, which redirects them.
        u16::try_from(index).unwrap_or(UNOWNED)
    }

    /// The primaries, by address; an index into it is what [`SlotMap::owner`] returns.
    pub fn nodes(&self) -> &[String] {
        &self.nodes
    }

    /// The index in [`SlotMap::nodes`] of the primary serving `slot`, if one does.
    pub fn owner(&self, slot: u16) -> Option<usize> {
        let owner = *self.owners.get(usize::from(slot))?;
        (owner != UNOWNED).then_some(usize::from(owner))
    }

    /// The address of the primary serving `slot`, if one does.
    pub fn node_of(&self, slot: u16) -> Option<&str> {
        self.owner(slot).map(|i| self.nodes[i].as_str())
    }

    /// The address of the primary serving `key`'s slot, if one does.
    pub fn node_of_key(&self, key: impl AsRef<[u8]>) -> Option<&str> {
        self.node_of(key_slot(key.as_ref()))
    }

    /// How many slots the primary at index `node` serves.
    pub fn slots_of(&self, node: usize) -> usize {
        self.owners
            .iter()
            .filter(|&&o| o != UNOWNED && usize::from(o) == node)
            .count()
    }
}

/// `host:port` as the client dials it: an IPv6 host in brackets.
pub(super) fn node_addr(host: &str, port: u16) -> String {
    if host.contains(':') && !host.starts_with('[') {
        format!("[{host}]:{port}")
    } else {
        format!("{host}:{port}")
    }
}

#[cfg(test)]
mod tests {
    use bytes::Bytes;

    use super::*;

    fn bulk(s: &str) -> Reply {
        Reply::Bulk(Bytes::copy_from_slice(s.as_bytes()))
    }

    fn node(ip: &str, port: i64) -> Reply {
        Reply::Array(vec![
            bulk(ip),
            Reply::Integer(port),
            bulk("0123"),
            Reply::Map(vec![]),
        ])
    }

    #[test]
    fn slot_map_from_cluster_slots() {
        let reply = Reply::Array(vec![
            Reply::Array(vec![
                Reply::Integer(0),
                Reply::Integer(99),
                node("10.0.0.1", 7001),
                node("10.0.0.9", 7009),
            ]),
            Reply::Array(vec![
                Reply::Integer(100),
                Reply::Integer(16383),
                node("10.0.0.2", 7002),
            ]),
            Reply::Array(vec![
                Reply::Integer(50),
                Reply::Integer(50),
                node("::1", 7003),
            ]),
        ]);
        let map = SlotMap::from_reply(&reply).unwrap();
        assert_eq!(
            map.nodes(),
            ["10.0.0.1:7001", "10.0.0.2:7002", "[::1]:7003"]
        );
        assert_eq!(map.node_of(0), Some("10.0.0.1:7001"));
        assert_eq!(map.node_of(50), Some("[::1]:7003"));
        assert_eq!(map.node_of(16383), Some("10.0.0.2:7002"));
        assert_eq!(map.slots_of(0), 99);
        assert_eq!(map.owner(16384), None);
        assert_eq!(
            map.node_of_key("foo"),
            Some("10.0.0.2:7002"),
            "foo is in slot 12182"
        );
        assert!(SlotMap::from_reply(&Reply::Integer(1)).is_err());
        let backwards = Reply::Array(vec![Reply::Array(vec![
            Reply::Integer(9),
            Reply::Integer(3),
            node("h", 1),
        ])]);
        assert!(SlotMap::from_reply(&backwards).is_err());
        let empty = SlotMap::from_reply(&Reply::Array(vec![])).unwrap();
        assert_eq!(empty.node_of(7), None);
    }
}
