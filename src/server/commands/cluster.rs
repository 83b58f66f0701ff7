//! Cluster commands: CLUSTER (the map as Redis Cluster clients read it: SLOTS, SHARDS,
//! NODES, INFO, MYID; keys by slot; SETSLOT, and Cairn's SETMAP and MOVESLOT), ASKING,
//! READONLY, READWRITE. Their rows and parsers are in `protocol/command/cluster.rs`; the
//! map and the routing are `server/cluster/`.

use std::fmt::Write as _;

use bytes::Bytes;

use super::{help, listing};
use crate::protocol::command::{ClusterCommand, SlotState};
use crate::protocol::slot::{key_slot, SLOTS};
use crate::protocol::Reply;
use crate::server::cluster::map::{write_ranges, ClusterMap, Node};
use crate::server::cluster::{moving, Cluster, State};
use crate::server::commands::scan::keys_in_slot;
use crate::server::dispatch::Context;

/// Runs a cluster command.
pub(crate) fn run(cx: &mut Context, command: ClusterCommand) -> Reply {
    // As in Redis, every one of them (KEYSLOT and HELP too) needs cluster mode.
    let Some(cluster) = cx.shared.cluster.as_ref() else {
        return Reply::error("ERR This instance has cluster support disabled");
    };
    match command {
        ClusterCommand::Asking => {
            cx.session.cluster.asking = true;
            Reply::ok()
        }
        ClusterCommand::ReadOnly => {
            cx.session.cluster.readonly = true;
            Reply::ok()
        }
        ClusterCommand::ReadWrite => {
            cx.session.cluster.readonly = false;
            Reply::ok()
        }
        ClusterCommand::Info => listing(info(&cluster.state())),
        ClusterCommand::MyId => match cluster.state().me() {
            Some(me) => Reply::Bulk(Bytes::from(me.id.clone())),
            None => Reply::error("ERR this node is not in the cluster map"),
        },
        ClusterCommand::Nodes => listing(nodes(&cluster.state())),
        ClusterCommand::Slots => slots(&cluster.state().map),
        ClusterCommand::Shards => shards(&cluster.state().map),
        ClusterCommand::KeySlot(key) => Reply::Integer(key_slot(&key).into()),
        ClusterCommand::CountKeysInSlot(slot) => match keys_in_slot(cx.shared, slot, usize::MAX) {
            Ok(keys) => Reply::Integer(i64::try_from(keys.len()).unwrap_or(i64::MAX)),
            Err(error) => Reply::error(error.to_string()),
        },
        ClusterCommand::GetKeysInSlot { slot, count } => match keys_in_slot(cx.shared, slot, count)
        {
            Ok(keys) => Reply::Array(keys.into_iter().map(Reply::Bulk).collect()),
            Err(error) => Reply::error(error.to_string()),
        },
        ClusterCommand::SetSlot { slot, state } => set_slot(cluster, slot, state),
        ClusterCommand::SetMap(text) => set_map(cluster, &text),
        ClusterCommand::MoveSlot { slot, node } => match std::str::from_utf8(&node) {
            Ok(node) => moving::start(cx.shared, cluster, slot, node),
            Err(_) => Reply::error("ERR unknown node"),
        },
        ClusterCommand::Help => cluster_help(),
    }
}

/// CLUSTER SETSLOT slot IMPORTING|MIGRATING node | STABLE.
fn set_slot(cluster: &Cluster, slot: u16, state: SlotState) -> Reply {
    let (node, importing) = match state {
        SlotState::Stable => {
            cluster.set_importing(slot, None);
            cluster.set_migrating(slot, None);
            return Reply::ok();
        }
        SlotState::Importing(node) => (node, true),
        SlotState::Migrating(node) => (node, false),
    };
    let node = String::from_utf8_lossy(&node).into_owned();
    // One read of the state (a second read lock taken while holding one could wait behind
    // a writer forever).
    let (known, mine) = {
        let state = cluster.state();
        (
            state.map.find(&node).is_some(),
            state.map.owner(slot) == state.myself,
        )
    };
    if !known {
        return Reply::error(format!("ERR I don't know about node {node}"));
    }
    match (importing, mine) {
        (true, true) => Reply::error(format!("ERR I'm already the owner of hash slot {slot}")),
        (false, false) => Reply::error(format!("ERR I'm not the owner of hash slot {slot}")),
        (true, false) => {
            cluster.set_importing(slot, Some(node));
            Reply::ok()
        }
        (false, true) => {
            cluster.set_migrating(slot, Some(node));
            Reply::ok()
        }
    }
}

/// CLUSTER SETMAP text: installs a newer map (saved to the map file first).
fn set_map(cluster: &Cluster, text: &[u8]) -> Reply {
    let Ok(text) = std::str::from_utf8(text) else {
        return Reply::error("ERR the cluster map is not UTF-8 text");
    };
    let map = match ClusterMap::parse(text) {
        Ok(map) => map,
        Err(error) => return Reply::error(format!("ERR bad cluster map: {error}")),
    };
    match cluster.install(map) {
        Ok(()) => Reply::ok(),
        Err(error) => Reply::error(error),
    }
}

/// CLUSTER INFO's lines. Epochs are the map version: the map is the only configuration.
fn info(state: &State) -> String {
    let map = &state.map;
    let assigned = map.slots_assigned();
    let size = map
        .nodes
        .iter()
        .filter(|n| n.primary.is_none() && !n.slots.is_empty())
        .count();
    let ok = if assigned == usize::from(SLOTS) {
        "ok"
    } else {
        "fail"
    };
    let mut out = String::new();
    for (field, value) in [
        ("cluster_state", ok.to_owned()),
        ("cluster_slots_assigned", assigned.to_string()),
        ("cluster_slots_ok", assigned.to_string()),
        ("cluster_slots_pfail", "0".into()),
        ("cluster_slots_fail", "0".into()),
        ("cluster_known_nodes", map.nodes.len().to_string()),
        ("cluster_size", size.to_string()),
        ("cluster_current_epoch", map.version.to_string()),
        ("cluster_my_epoch", map.version.to_string()),
        ("cluster_stats_messages_sent", "0".into()),
        ("cluster_stats_messages_received", "0".into()),
        ("total_cluster_links_buffer_limit_exceeded", "0".into()),
    ] {
        let _ = write!(out, "{field}:{value}\r\n");
    }
    out
}

/// CLUSTER NODES: one line per node, as Redis writes it (`id ip:port@bus flags primary
/// ping pong epoch link slots...`), with this node's migrations in brackets. There is no
/// cluster bus; the bus port shown is the client port + 10000, as Redis's default.
fn nodes(state: &State) -> String {
    let map = &state.map;
    let mut out = String::new();
    for (i, node) in map.nodes.iter().enumerate() {
        let me = state.myself == Some(i);
        let role = if node.primary.is_some() {
            "slave"
        } else {
            "master"
        };
        let flags = if me {
            format!("myself,{role}")
        } else {
            role.to_owned()
        };
        let primary = node.primary.map_or("-", |p| map.nodes[p].id.as_str());
        let bus = u32::from(node.port) + 10_000;
        let _ = write!(
            out,
            "{} {}@{bus} {flags} {primary} 0 0 {} connected",
            node.id,
            node.addr(),
            map.version
        );
        write_ranges(&mut out, &node.slots);
        if me {
            for (slot, to) in &state.migrating {
                let _ = write!(out, " [{slot}->-{to}]");
            }
            for (slot, from) in &state.importing {
                let _ = write!(out, " [{slot}-<-{from}]");
            }
        }
        out.push('\n');
    }
    out
}

/// A node as CLUSTER SLOTS lists it: ip, port, id, and no extra networking metadata.
fn slots_node(node: &Node) -> Reply {
    Reply::Array(vec![
        Reply::Bulk(Bytes::from(node.ip.clone())),
        Reply::Integer(node.port.into()),
        Reply::Bulk(Bytes::from(node.id.clone())),
        Reply::Map(Vec::new()),
    ])
}

/// CLUSTER SLOTS: each primary's slot ranges, with the primary then its replicas.
fn slots(map: &ClusterMap) -> Reply {
    let mut ranges = Vec::new();
    for (i, node) in map.nodes.iter().enumerate() {
        for &(first, last) in &node.slots {
            let mut entry = vec![
                Reply::Integer(first.into()),
                Reply::Integer(last.into()),
                slots_node(node),
            ];
            entry.extend(map.replicas_of(i).map(slots_node));
            ranges.push((first, Reply::Array(entry)));
        }
    }
    ranges.sort_by_key(|(first, _)| *first);
    Reply::Array(ranges.into_iter().map(|(_, r)| r).collect())
}

/// A node as CLUSTER SHARDS describes it.
fn shards_node(node: &Node) -> Reply {
    let text = |s: &str| Reply::Bulk(Bytes::from(s.to_owned()));
    let role = if node.primary.is_some() {
        "replica"
    } else {
        "master"
    };
    Reply::Map(vec![
        (text("id"), text(&node.id)),
        (text("port"), Reply::Integer(node.port.into())),
        (text("ip"), text(&node.ip)),
        (text("endpoint"), text(&node.ip)),
        (text("role"), text(role)),
        (text("replication-offset"), Reply::Integer(0)),
        (text("health"), text("online")),
    ])
}

/// CLUSTER SHARDS: one entry per primary: its slot ranges (flat start/end pairs) and its
/// nodes, the primary first.
fn shards(map: &ClusterMap) -> Reply {
    let text = |s: &str| Reply::Bulk(Bytes::from(s.to_owned()));
    let shards = map
        .nodes
        .iter()
        .enumerate()
        .filter(|(_, node)| node.primary.is_none())
        .map(|(i, node)| {
            let slots = node
                .slots
                .iter()
                .flat_map(|&(first, last)| {
                    [Reply::Integer(first.into()), Reply::Integer(last.into())]
                })
                .collect();
            let mut nodes = vec![shards_node(node)];
            nodes.extend(map.replicas_of(i).map(shards_node));
            Reply::Map(vec![
                (text("slots"), Reply::Array(slots)),
                (text("nodes"), Reply::Array(nodes)),
            ])
        })
        .collect();
    Reply::Array(shards)
}

/// CLUSTER HELP
fn cluster_help() -> Reply {
    help(&[
        "CLUSTER <subcommand> [<arg> [value] [opt] ...]. Subcommands are:",
        "COUNTKEYSINSLOT <slot>",
        "    Return the number of keys in <slot>.",
        "GETKEYSINSLOT <slot> <count>",
        "    Return key names stored by current node in a slot.",
        "INFO",
        "    Return information about the cluster.",
        "KEYSLOT <key>",
        "    Return the hash slot for <key>.",
        "MOVESLOT <slot> <node-id>",
        "    Copy the keys of <slot> to <node-id>, then give it the slot in a new map version.",
        "MYID",
        "    Return the node id.",
        "NODES",
        "    Return cluster configuration seen by node.",
        "SETMAP <map>",
        "    Install a cluster map (the map file's text) newer than this node's.",
        "SETSLOT <slot> (IMPORTING <node-id>|MIGRATING <node-id>|STABLE)",
        "    Set slot state.",
        "SHARDS",
        "    Return information about slot range mappings and the nodes associated with them.",
        "SLOTS",
        "    Return information about slots range mappings.",
        "HELP",
        "    Print this help.",
    ])
}
