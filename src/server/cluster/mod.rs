//! Cluster mode: which node this is in the cluster map, which slots it serves, and the
//! redirects (`-MOVED`, `-ASK`, `-CROSSSLOT`, `-TRYAGAIN`, `-CLUSTERDOWN`) a request for
//! another node's keys gets, as Redis Cluster gives them, so cluster-aware Redis clients
//! route by themselves.
//!
//! There is no gossip and no failure detection: the map ([`map`]) comes from a file, the
//! same on every node, and changes only when an operator installs a newer version
//! (CLUSTER SETMAP) or a slot is moved with its keys (CLUSTER MOVESLOT, [`moving`]), which
//! installs the next version on every node. Keys stay in key order on each node (they
//! are not prefixed with their slot), so a range read on one node is ordered and a slot's
//! keys are found by walking the node's keys.

pub(crate) mod map;
pub(crate) mod moving;
mod peer;

use std::collections::{HashMap, HashSet};
use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::sync::Arc;

use bytes::Bytes;
use parking_lot::{Mutex, RwLock, RwLockReadGuard, RwLockUpgradableReadGuard};

use self::map::ClusterMap;
use super::config::Config;
use crate::protocol::command::Flags;
use crate::protocol::slot::key_slot;
use crate::protocol::Reply;

/// The cluster state of a node in cluster mode.
#[derive(Debug)]
pub(crate) struct Cluster {
    /// Where the map is kept; every installed map is written here first.
    file: PathBuf,
    /// This node's id when the configuration names it (`cluster-node-id`).
    node_id: Option<String>,
    /// The address this node is known by in the map when no id is configured.
    addr: (String, u16),
    state: RwLock<State>,
    /// Slots a MOVESLOT thread is moving now.
    moves: Mutex<HashSet<u16>>,
}

/// The map and the slots in motion.
#[derive(Debug, Default)]
pub(crate) struct State {
    /// The installed map.
    pub map: Arc<ClusterMap>,
    /// This node's index in the map, if it is in it.
    pub myself: Option<usize>,
    /// Slots this node is handing over, with the receiving node's id.
    pub migrating: HashMap<u16, String>,
    /// Slots this node is receiving, with the giving node's id.
    pub importing: HashMap<u16, String>,
}

impl State {
    /// This node, if it is in the map.
    pub fn me(&self) -> Option<&map::Node> {
        self.myself.map(|i| &self.map.nodes[i])
    }

    /// The primary whose slots this node serves: itself, or the primary it replicates.
    fn serving(&self) -> Option<usize> {
        let me = self.myself?;
        Some(self.map.nodes[me].primary.unwrap_or(me))
    }
}

/// Where a request with keys runs.
#[derive(Debug, PartialEq, Eq)]
pub(crate) enum Route {
    /// Here.
    Local,
    /// Here for the keys this node still has; the slot is being handed to `target`
    /// (`ip:port`), which answers for the keys already moved or never here.
    Migrating {
        /// The keys' slot.
        slot: u16,
        /// The receiving node's address.
        target: String,
    },
}

impl Cluster {
    /// Cluster state for a server listening at `addr`: the map in `cluster-config-file`
    /// (none yet when the file does not exist: every keyed command gets CLUSTERDOWN until a
    /// map is installed).
    pub fn open(config: &Config, addr: SocketAddr) -> Result<Cluster, String> {
        let file = config
            .cluster_config_file
            .clone()
            .unwrap_or_else(|| config.dir.join("cluster.conf"));
        if let Some(id) = &config.cluster_node_id {
            if !map::is_node_id(id) {
                return Err(format!(
                    "cluster-node-id `{id}` is not 40 lower-case hex characters"
                ));
            }
        }
        let ip = config
            .cluster_announce_ip
            .clone()
            .unwrap_or_else(|| addr.ip().to_string());
        let cluster = Cluster {
            node_id: config.cluster_node_id.clone(),
            addr: (ip, addr.port()),
            state: RwLock::new(State::default()),
            moves: Mutex::default(),
            file,
        };
        match std::fs::read_to_string(&cluster.file) {
            Ok(text) => {
                let map = ClusterMap::parse(&text)
                    .map_err(|e| format!("cluster map {}: {e}", cluster.file.display()))?;
                cluster.replace(&mut cluster.state.write(), map);
            }
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => {}
            Err(e) => {
                return Err(format!(
                    "cannot read cluster map {}: {e}",
                    cluster.file.display()
                ))
            }
        }
        Ok(cluster)
    }

    /// The state, for reading.
    pub fn state(&self) -> RwLockReadGuard<'_, State> {
        self.state.read()
    }

    /// Installs `map` if it is newer than the installed one: written to the map file
    /// (atomically, synced) before any request sees it. Slots that changed owner stop
    /// migrating or importing.
    pub fn install(&self, map: ClusterMap) -> Result<(), String> {
        // One installer at a time, from the version check to the swap (two SETMAPs must not
        // both pass the check), while requests go on reading the old map.
        let state = self.state.upgradable_read();
        let current = state.map.version;
        if map.version <= current {
            return Err(format!(
                "ERR cluster map version {} is not newer than this node's version {current}",
                map.version
            ));
        }
        write_atomically(&self.file, &map.render()).map_err(|e| {
            format!(
                "ERR cannot write the cluster map {}: {e}",
                self.file.display()
            )
        })?;
        self.replace(&mut RwLockUpgradableReadGuard::upgrade(state), map);
        Ok(())
    }

    /// Makes `map` the installed map in `state`, finding this node in it.
    fn replace(&self, state: &mut State, map: ClusterMap) {
        let myself = match &self.node_id {
            Some(id) => map.find(id),
            None => map
                .nodes
                .iter()
                .position(|n| n.ip == self.addr.0 && n.port == self.addr.1),
        };
        if myself.is_none() && !map.nodes.is_empty() {
            tracing::warn!(
                version = map.version,
                "this node ({}) is not in the cluster map: it serves no slot",
                self.node_id
                    .clone()
                    .unwrap_or_else(|| format!("{}:{}", self.addr.0, self.addr.1))
            );
        }
        let old = std::mem::replace(&mut state.map, Arc::new(map));
        let map = state.map.clone();
        let changed = |slot: &u16| {
            old.owner(*slot).map(|o| &old.nodes[o].id) != map.owner(*slot).map(|o| &map.nodes[o].id)
        };
        state.migrating.retain(|slot, _| !changed(slot));
        state.importing.retain(|slot, _| !changed(slot));
        state.myself = myself;
    }

    /// Marks `slot` as being handed to (`Some(to)`), or no longer handed to anyone.
    pub fn set_migrating(&self, slot: u16, to: Option<String>) {
        let mut state = self.state.write();
        match to {
            Some(to) => state.migrating.insert(slot, to),
            None => state.migrating.remove(&slot),
        };
    }

    /// Marks `slot` as being received from (`Some(from)`), or no longer received.
    pub fn set_importing(&self, slot: u16, from: Option<String>) {
        let mut state = self.state.write();
        match from {
            Some(from) => state.importing.insert(slot, from),
            None => state.importing.remove(&slot),
        };
    }

    /// Claims `slot` for a move to the primary `to`: this node must own the slot, `to` must
    /// be another primary, and the slot must not be moving already (a move that stopped
    /// midway may be resumed, to the same node). Returns this node's id, and the target's
    /// id and address.
    pub fn begin_move(&self, slot: u16, to: &str) -> Result<(String, (String, String)), String> {
        let state = self.state.read();
        let me = state
            .me()
            .ok_or("ERR this node is not in the cluster map")?;
        if state.map.owner(slot) != state.myself {
            return Err(format!("ERR slot {slot} is not this node's"));
        }
        let target = state
            .map
            .find(to)
            .map(|i| &state.map.nodes[i])
            .ok_or_else(|| format!("ERR unknown node {to}"))?;
        if target.primary.is_some() || target.id == me.id {
            return Err(format!("ERR node {to} is not another primary"));
        }
        if let Some(other) = state.migrating.get(&slot).filter(|&other| other != to) {
            return Err(format!(
                "ERR slot {slot} is migrating to {other}: resume that move first"
            ));
        }
        if !self.moves.lock().insert(slot) {
            return Err(format!("ERR slot {slot} is being moved already"));
        }
        Ok((me.id.clone(), (target.id.clone(), target.addr())))
    }

    /// Releases a slot [`Cluster::begin_move`] claimed.
    pub fn end_move(&self, slot: u16) {
        self.moves.lock().remove(&slot);
    }

    /// Where a request naming `keys` (at least one) runs, or the redirect it gets: all keys
    /// in one slot (else CROSSSLOT); the slot this node's (MOVED to its owner otherwise),
    /// unless the client said ASKING and the slot is being imported here, or it said
    /// READONLY, this node replicates the owner and the command only reads.
    pub fn route(
        &self,
        keys: &[Bytes],
        flags: Flags,
        asking: bool,
        readonly: bool,
    ) -> Result<(u16, Route), Reply> {
        let slot = slot_of(keys)?;
        Ok((slot, self.route_slot(slot, flags, asking, readonly)?))
    }

    /// Where a request for keys of `slot` runs, or the redirect it gets (see
    /// [`Cluster::route`]).
    pub fn route_slot(
        &self,
        slot: u16,
        flags: Flags,
        asking: bool,
        readonly: bool,
    ) -> Result<Route, Reply> {
        let state = self.state.read();
        let Some(owner) = state.map.owner(slot) else {
            if asking && state.importing.contains_key(&slot) {
                return Ok(Route::Local);
            }
            return Err(Reply::error("CLUSTERDOWN Hash slot not served"));
        };
        if Some(owner) == state.myself {
            let route = match state.migrating.get(&slot).and_then(|to| state.map.find(to)) {
                Some(to) => Route::Migrating {
                    slot,
                    target: state.map.nodes[to].addr(),
                },
                None => Route::Local,
            };
            return Ok(route);
        }
        let imported = asking && state.importing.contains_key(&slot);
        let replica_read = readonly
            && flags.contains(Flags::READONLY)
            && state
                .myself
                .is_some_and(|me| state.map.nodes[me].primary == Some(owner));
        if imported || replica_read {
            return Ok(Route::Local);
        }
        Err(Reply::error(format!(
            "MOVED {slot} {}",
            state.map.nodes[owner].addr()
        )))
    }

    /// Whether a key belongs to a slot this node serves or is importing, as a filter for
    /// walks of the key space (keys of slots given away are not this node's; keys moved
    /// here ahead of the map are); the state is read once.
    pub fn serving_filter(&self) -> impl Fn(&[u8]) -> bool + Send + 'static {
        let state = self.state.read();
        let (map, serving) = (state.map.clone(), state.serving());
        let importing: HashSet<u16> = state.importing.keys().copied().collect();
        move |key: &[u8]| {
            let slot = key_slot(key);
            (serving.is_some() && map.owner(slot) == serving) || importing.contains(&slot)
        }
    }
}

/// The one slot all `keys` hash to, or CROSSSLOT.
pub(crate) fn slot_of(keys: &[Bytes]) -> Result<u16, Reply> {
    let mut slots = keys.iter().map(|k| key_slot(k));
    let first = slots.next().unwrap_or(0);
    if slots.all(|s| s == first) {
        Ok(first)
    } else {
        Err(crossslot())
    }
}

/// Keys of one request (or transaction) in different slots.
pub(crate) fn crossslot() -> Reply {
    Reply::error("CROSSSLOT Keys in request don't hash to the same slot")
}

/// A multi-key request (or a transaction) in a slot being moved, whose keys are partly
/// here and partly moved already.
pub(crate) fn tryagain() -> Reply {
    Reply::error("TRYAGAIN Multiple keys request during rehashing of slot")
}

/// Writes `text` to `path` through a synced temporary file renamed over it, so a crash
/// leaves the old map or the new one, never half of one.
fn write_atomically(path: &Path, text: &str) -> std::io::Result<()> {
    use std::io::Write;
    // Named by the process: nodes started on one host may share one map file.
    let mut tmp = path.as_os_str().to_owned();
    tmp.push(format!(".{}.tmp", std::process::id()));
    let tmp = PathBuf::from(tmp);
    let mut file = std::fs::File::create(&tmp)?;
    file.write_all(text.as_bytes())?;
    file.sync_all()?;
    std::fs::rename(&tmp, path)?;
    if let Some(dir) = path.parent().filter(|d| !d.as_os_str().is_empty()) {
        std::fs::File::open(dir)?.sync_all()?;
    }
    Ok(())
}
