//! Replication, Redis's way: a replica connects to its primary, says `PSYNC replid
//! offset`, and gets either `+CONTINUE` and the batches after its offset, or
//! `+FULLRESYNC replid seq`, a checkpoint of the primary's engine and the batches after
//! it. The offset is the engine's sequence number: a replica applies each batch at the
//! primary's own numbers (`Db::write_at`), so its offset is persisted with its data and
//! survives a crash; the replication id, the name of a history of writes, is kept in a
//! file beside the data.
//!
//! Parts: `backlog` (recent batches, for feeders and partial resyncs), `feed` (the
//! primary's side of one replica's connection), `link` (a replica's connection to its
//! primary), `snapshot` (the checkpoint on the wire). This file holds the state they
//! share: role, ids, the link's health, the replicas fed and their acknowledgements.
//! Batches are replicated as the engine wrote them, keys and values uninterpreted, except
//! the two records the server also keeps in memory (the key format and the map of swapped
//! databases, see `link`).

pub(crate) mod backlog;
pub(crate) mod feed;
pub(crate) mod link;
mod snapshot;

use std::collections::BTreeMap;
use std::path::Path;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use parking_lot::Mutex;
use tokio::sync::{watch, Notify};

use super::config::Config;
use super::shared::random_hex;
use crate::storage::Options;
pub use backlog::Backlog;

/// The file beside the data naming the history it belongs to.
pub(crate) const ID_FILE: &str = "replication.id";

/// The engine options a server opens its data with (at start, and after a full sync).
pub(crate) fn engine_options(config: &Config, backlog: &Arc<Backlog>) -> Options {
    Options {
        sync: config.fsync.policy(),
        memtable_bytes: config.memtable_bytes,
        compaction_filter: Some(Arc::new(super::compaction::DeadRecords::default())),
        commit_tap: Some(backlog.clone()),
        ..Options::default()
    }
}

/// Reads the replication id kept in `dir`, if it is one.
pub(crate) fn read_id(dir: &Path) -> Option<String> {
    let text = std::fs::read_to_string(dir.join(ID_FILE)).ok()?;
    let id = text.trim();
    (id.len() == 40 && id.bytes().all(|b| b.is_ascii_hexdigit())).then(|| id.to_string())
}

/// Writes the replication id into `dir` (temporary file, fsync, rename).
pub(crate) fn write_id(dir: &Path, id: &str) -> std::io::Result<()> {
    let tmp = dir.join(format!("{ID_FILE}.tmp"));
    {
        let mut f = std::fs::File::create(&tmp)?;
        std::io::Write::write_all(&mut f, format!("{id}\n").as_bytes())?;
        f.sync_all()?;
    }
    std::fs::rename(&tmp, dir.join(ID_FILE))?;
    std::fs::File::open(dir)?.sync_all()
}

/// A replica's view of its link to the primary.
#[derive(Debug, Clone)]
pub struct LinkState {
    /// Redis's `master_link_status`: true once the stream flows.
    pub up: bool,
    /// ROLE's state word: `connect`, `connecting`, `sync`, `connected`.
    pub phase: &'static str,
    /// When the link went down (or the replica started without one).
    pub down_since: Instant,
    /// The last time anything came from the primary.
    pub last_io: Option<Instant>,
}

/// Role and ids.
#[derive(Debug, Clone)]
pub struct State {
    /// The primary followed; `None` on a primary.
    pub primary: Option<(String, u16)>,
    /// The current history's id.
    pub replid: String,
    /// The previous history's id (after a promotion), or 40 zeros.
    pub replid2: String,
    /// The previous history is shared up to (not including) this offset; -1 without one.
    pub second_offset: i64,
    /// The replica's link.
    pub link: LinkState,
}

/// One replica being fed, as INFO and WAIT see it.
#[derive(Debug, Clone)]
pub struct Fed {
    /// Its address as it announced it.
    pub ip: String,
    /// Its listening port.
    pub port: u16,
    /// `wait_bgsave` until it has its snapshot, then `online`.
    pub online: bool,
    /// The last offset it acknowledged.
    pub ack: u64,
    /// When it last did.
    pub last_ack: Instant,
}

/// Replication's shared state (one per server).
#[derive(Debug)]
pub struct Replication {
    /// Recent batches, fed by the engine's commit tap.
    pub backlog: Arc<Backlog>,
    state: Mutex<State>,
    replicas: Mutex<BTreeMap<u64, Fed>>,
    /// Woken at every acknowledgement (WAIT).
    pub acked: Notify,
    /// Bumped to have every feeder ask its replica for an ACK now (WAIT).
    pub getack: watch::Sender<u64>,
    /// Full resyncs served (INFO `sync_full`).
    pub sync_full: AtomicU64,
    /// Partial resyncs accepted.
    pub sync_partial_ok: AtomicU64,
    /// Partial resyncs refused (a full one followed).
    pub sync_partial_err: AtomicU64,
    /// Bumped by every REPLICAOF: a link of an older generation stops.
    pub generation: AtomicU64,
    /// A full sync is replacing the data: commands get -LOADING.
    pub loading: AtomicBool,
    /// The port this server serves clients on (what a replica announces).
    pub listening_port: AtomicU64,
}

impl Replication {
    /// The state at start: a primary draws a new id (its history may have lost writes
    /// in a crash, and a replica must not take it for the one it had) and keeps the one
    /// on disk as the previous, shared up to `last_seq`; a replica keeps the one on disk,
    /// to ask its primary to continue it.
    pub fn new(backlog: Arc<Backlog>, config: &Config, last_seq: u64) -> Replication {
        backlog.reset(last_seq);
        let stored = read_id(&config.dir);
        let primary = config.replicaof.as_deref().and_then(parse_primary);
        let (replid, replid2, second_offset) = match (&primary, stored) {
            (Some(_), Some(id)) => (id, "0".repeat(40), -1),
            (None, Some(id)) => (
                random_hex(40),
                id,
                i64::try_from(last_seq).map_or(i64::MAX, |s| s + 1),
            ),
            (_, None) => (random_hex(40), "0".repeat(40), -1),
        };
        if primary.is_none() {
            if let Err(error) = write_id(&config.dir, &replid) {
                tracing::warn!(%error, "cannot record the replication id");
            }
        }
        Replication {
            backlog,
            state: Mutex::new(State {
                primary,
                replid,
                replid2,
                second_offset,
                link: LinkState {
                    up: false,
                    phase: "connect",
                    down_since: Instant::now(),
                    last_io: None,
                },
            }),
            replicas: Mutex::new(BTreeMap::new()),
            acked: Notify::new(),
            getack: watch::Sender::new(0),
            sync_full: AtomicU64::new(0),
            sync_partial_ok: AtomicU64::new(0),
            sync_partial_err: AtomicU64::new(0),
            generation: AtomicU64::new(0),
            loading: AtomicBool::new(false),
            listening_port: AtomicU64::new(u64::from(config.port)),
        }
    }

    /// A copy of the role and ids.
    pub fn state(&self) -> State {
        self.state.lock().clone()
    }

    /// Changes the state under its lock.
    pub fn update<R>(&self, f: impl FnOnce(&mut State) -> R) -> R {
        f(&mut self.state.lock())
    }

    /// Whether this server follows a primary.
    pub fn is_replica(&self) -> bool {
        self.state.lock().primary.is_some()
    }

    /// Whether a replica asking to continue `replid` from `offset` (the next sequence
    /// number it wants) may.
    pub fn can_continue(&self, replid: &str, offset: i64) -> bool {
        let Ok(next) = u64::try_from(offset) else {
            return false;
        };
        let Some(have) = next.checked_sub(1) else {
            return false;
        };
        let state = self.state.lock();
        let same =
            replid == state.replid || (replid == state.replid2 && offset <= state.second_offset);
        drop(state);
        same && self.backlog.holds(have)
    }

    /// Records a replica being fed, under its client id.
    pub fn add_replica(&self, id: u64, fed: Fed) {
        self.replicas.lock().insert(id, fed);
    }

    /// Forgets a replica whose connection ended.
    pub fn remove_replica(&self, id: u64) {
        self.replicas.lock().remove(&id);
        self.acked.notify_waiters();
    }

    /// Changes what is known of a replica.
    pub fn with_replica(&self, id: u64, f: impl FnOnce(&mut Fed)) {
        if let Some(fed) = self.replicas.lock().get_mut(&id) {
            f(fed);
        }
    }

    /// Every replica fed, by client id.
    pub fn replicas(&self) -> Vec<Fed> {
        self.replicas.lock().values().cloned().collect()
    }

    /// Replicas that acknowledged `offset` or later.
    pub fn acked_at_least(&self, offset: u64) -> usize {
        self.replicas
            .lock()
            .values()
            .filter(|r| r.online && r.ack >= offset)
            .count()
    }

    /// Replicas online that acknowledged within `max_lag`.
    pub fn good_replicas(&self, max_lag: Duration) -> usize {
        self.replicas
            .lock()
            .values()
            .filter(|r| r.online && r.last_ack.elapsed() <= max_lag)
            .count()
    }

    /// Asks every feeder to have its replica acknowledge now.
    pub fn request_acks(&self) {
        self.getack.send_modify(|n| *n = n.wrapping_add(1));
    }

    /// Counts a sync served.
    pub fn count(counter: &AtomicU64) {
        counter.fetch_add(1, Ordering::Relaxed);
    }
}

/// `"host port"` as the configuration keeps it.
pub(crate) fn parse_primary(text: &str) -> Option<(String, u16)> {
    let mut words = text.split_whitespace();
    let host = words.next()?.to_string();
    let port = words.next()?.parse().ok()?;
    words.next().is_none().then_some((host, port))
}
