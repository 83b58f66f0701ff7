//! Cluster commands: CLUSTER and its subcommands (the slot map as Redis Cluster clients
//! read it, and Cairn's own SETMAP and MOVESLOT that change it), ASKING, READONLY and
//! READWRITE; their rows, their typed form and their parsers. `server/commands/cluster.rs`
//! runs them.

use bytes::Bytes;

use super::args::{int, is, next, Args};
use super::table::{row, CommandSpec};
use super::CommandError;
use crate::protocol::slot::SLOTS;

/// A cluster command.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ClusterCommand {
    /// `ASKING`: the next command may touch a slot this node is importing.
    Asking,
    /// `READONLY`: a replica may serve this client's reads of its primary's slots.
    ReadOnly,
    /// `READWRITE`: undoes READONLY.
    ReadWrite,
    /// `CLUSTER INFO`.
    Info,
    /// `CLUSTER MYID`.
    MyId,
    /// `CLUSTER NODES`.
    Nodes,
    /// `CLUSTER SLOTS`.
    Slots,
    /// `CLUSTER SHARDS`.
    Shards,
    /// `CLUSTER KEYSLOT key` (the key is an argument here, not a key the command touches).
    KeySlot(Bytes),
    /// `CLUSTER COUNTKEYSINSLOT slot`.
    CountKeysInSlot(u16),
    /// `CLUSTER GETKEYSINSLOT slot count`.
    GetKeysInSlot {
        /// The slot.
        slot: u16,
        /// At most this many keys.
        count: usize,
    },
    /// `CLUSTER SETSLOT slot IMPORTING node | MIGRATING node | STABLE`.
    SetSlot {
        /// The slot.
        slot: u16,
        /// Its new state.
        state: SlotState,
    },
    /// `CLUSTER SETMAP map`: install a slot map (the text of a cluster map file) whose
    /// version is newer than this node's.
    SetMap(Bytes),
    /// `CLUSTER MOVESLOT slot node-id`: copy the slot's keys to the node, then give it the
    /// slot in a new map version sent to every node.
    MoveSlot {
        /// The slot.
        slot: u16,
        /// The node that gets it.
        node: Bytes,
    },
    /// `CLUSTER HELP`.
    Help,
}

/// A slot's migration state, as CLUSTER SETSLOT names it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum SlotState {
    /// This node receives the slot from the node (answers ASKING clients for it).
    Importing(Bytes),
    /// This node gives the slot to the node (sends ASK for keys it no longer has).
    Migrating(Bytes),
    /// Neither.
    Stable,
}

/// The cluster commands' rows.
#[rustfmt::skip]
pub(super) const ROWS: &[CommandSpec] = &[
    row!("asking", 1, [FAST], (0, 0, 0), [CONNECTION], "cluster", "3.0.0",
        "Signals that a cluster client is following an -ASK redirect.",
        "", |_| Ok(ClusterCommand::Asking)),
    row!("cluster", -2, [], (0, 0, 0), [], "cluster", "3.0.0",
        "A container for Redis Cluster commands.",
        "", |_| Err::<ClusterCommand, _>(CommandError::Syntax),
        subcommands: CLUSTER_SUBCOMMANDS),
    row!("readonly", 1, [LOADING, STALE, FAST], (0, 0, 0), [CONNECTION], "cluster", "3.0.0",
        "Enables read-only queries for a connection to a Redis Cluster replica node.",
        "", |_| Ok(ClusterCommand::ReadOnly)),
    row!("readwrite", 1, [LOADING, STALE, FAST], (0, 0, 0), [CONNECTION], "cluster", "3.0.0",
        "Enables read-write queries for a connection to a Redis Cluster replica node.",
        "", |_| Ok(ClusterCommand::ReadWrite)),
];

/// CLUSTER's subcommands, sorted by name.
#[rustfmt::skip]
static CLUSTER_SUBCOMMANDS: &[CommandSpec] = &[
    row!("cluster|countkeysinslot", 3, [STALE], (0, 0, 0), [], "cluster", "3.0.0",
        "Returns the number of keys in a hash slot.",
        "slot", |a: &mut Args| Ok(ClusterCommand::CountKeysInSlot(slot(&next(a)?, "ERR Invalid slot")?))),
    row!("cluster|getkeysinslot", 4, [STALE], (0, 0, 0), [], "cluster", "3.0.0",
        "Returns the key names in a hash slot.",
        "slot count", get_keys_in_slot),
    row!("cluster|help", 2, [LOADING, STALE], (0, 0, 0), [], "cluster", "5.0.0",
        "Returns helpful text about the different subcommands.",
        "", |_| Ok(ClusterCommand::Help)),
    row!("cluster|info", 2, [STALE], (0, 0, 0), [], "cluster", "3.0.0",
        "Returns information about the state of a node.",
        "", |_| Ok(ClusterCommand::Info)),
    row!("cluster|keyslot", 3, [STALE], (0, 0, 0), [], "cluster", "3.0.0",
        "Returns the hash slot for a key.",
        "key", |a: &mut Args| Ok(ClusterCommand::KeySlot(next(a)?))),
    row!("cluster|moveslot", 4, [ADMIN, STALE], (0, 0, 0), [], "cairn", "0.1.0",
        "Copies a hash slot's keys to another node, then gives it the slot in a new map version.",
        "slot node-id", |a: &mut Args| Ok(ClusterCommand::MoveSlot {
            slot: slot(&next(a)?, "ERR Invalid or out of range slot")?,
            node: next(a)?,
        })),
    row!("cluster|myid", 2, [STALE], (0, 0, 0), [], "cluster", "3.0.0",
        "Returns the ID of a node.",
        "", |_| Ok(ClusterCommand::MyId)),
    row!("cluster|nodes", 2, [STALE], (0, 0, 0), [], "cluster", "3.0.0",
        "Returns the cluster configuration for a node.",
        "", |_| Ok(ClusterCommand::Nodes)),
    row!("cluster|setmap", 3, [ADMIN, STALE], (0, 0, 0), [], "cairn", "0.1.0",
        "Installs a cluster map (every node's id, address and slots) newer than this node's.",
        "map", |a: &mut Args| Ok(ClusterCommand::SetMap(next(a)?))),
    row!("cluster|setslot", -4, [ADMIN, STALE, NO_ASYNC_LOADING], (0, 0, 0), [], "cluster", "3.0.0",
        "Binds a hash slot to a node.",
        "slot IMPORTING node-id|MIGRATING node-id|NODE node-id|STABLE", set_slot),
    row!("cluster|shards", 2, [STALE], (0, 0, 0), [], "cluster", "7.0.0",
        "Returns the mapping of cluster slots to shards.",
        "", |_| Ok(ClusterCommand::Shards)),
    row!("cluster|slots", 2, [STALE], (0, 0, 0), [], "cluster", "3.0.0",
        "Returns the mapping of cluster slots to nodes.",
        "", |_| Ok(ClusterCommand::Slots)),
];

/// A slot number, with the error Redis gives for this command when it is not one.
fn slot(arg: &[u8], error: &'static str) -> Result<u16, CommandError> {
    int(arg)
        .ok()
        .and_then(|n| u16::try_from(n).ok())
        .filter(|&n| n < SLOTS)
        .ok_or(CommandError::Invalid(error))
}

/// `CLUSTER GETKEYSINSLOT slot count`.
fn get_keys_in_slot(args: &mut Args) -> Result<ClusterCommand, CommandError> {
    const ERROR: &str = "ERR Invalid slot or number of keys";
    let slot = slot(&next(args)?, ERROR)?;
    let count = int(&next(args)?)
        .ok()
        .and_then(|n| usize::try_from(n).ok())
        .ok_or(CommandError::Invalid(ERROR))?;
    Ok(ClusterCommand::GetKeysInSlot { slot, count })
}

/// `CLUSTER SETSLOT slot IMPORTING node | MIGRATING node | STABLE`. NODE, which Redis
/// uses to hand a slot over, is refused: a slot changes hands in a new map version
/// (SETMAP, or MOVESLOT, which also moves its keys), so every node agrees on its owner.
fn set_slot(args: &mut Args) -> Result<ClusterCommand, CommandError> {
    let slot = slot(&next(args)?, "ERR Invalid or out of range slot")?;
    let what = next(args)?;
    let state = if is(&what, "IMPORTING") && args.len() == 1 {
        SlotState::Importing(next(args)?)
    } else if is(&what, "MIGRATING") && args.len() == 1 {
        SlotState::Migrating(next(args)?)
    } else if is(&what, "STABLE") && args.len() == 0 {
        SlotState::Stable
    } else if is(&what, "NODE") {
        return Err(CommandError::Invalid(
            "ERR CLUSTER SETSLOT NODE is not supported: give a slot to a node with CLUSTER MOVESLOT or CLUSTER SETMAP",
        ));
    } else {
        return Err(CommandError::Syntax);
    };
    Ok(ClusterCommand::SetSlot { slot, state })
}
