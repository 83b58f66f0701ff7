//! The engine as commands see it: string entries with expiry, read through the writes the
//! current command (or transaction) has staged, and committed as one atomic batch.
//!
//! Every data command runs against a [`Keyspace`]; the dispatcher decides which key locks
//! are held around it and when it commits. An expired entry is never returned.

use bytes::Bytes;
use smallvec::SmallVec;

use super::shared::{Shared, Stats};
use super::value::{now_millis, BadValue, Entry, EntryRef};
use crate::storage::{self, Db, WriteBatch, WriteTicket};

/// Why a command could not run to completion (as opposed to a Redis error reply such as
/// WRONGTYPE, which is an ordinary reply).
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum ExecError {
    /// The engine failed (I/O, corruption, a poisoned WAL). The reply names the cause:
    /// Redis's `MISCONF` when writes are refused because of the disk.
    #[error("{}", storage_reply(.0))]
    Storage(#[from] storage::Error),
    /// A stored value could not be decoded.
    #[error("ERR corrupted value: {0}")]
    BadValue(#[from] BadValue),
}

impl ExecError {
    /// Whether the engine refused the writes before any of them reached the log, and will
    /// keep the connection's other replies honest if they are answered with this error:
    /// a full disk, or an engine that stopped taking writes after a failed fsync.
    pub fn refused_writes(&self) -> bool {
        matches!(self, ExecError::Storage(e) if e.is_no_space() || matches!(e, storage::Error::Poisoned(_)))
    }
}

/// The error reply for a storage failure.
fn storage_reply(e: &storage::Error) -> String {
    if e.is_no_space() {
        format!("MISCONF Errors writing to disk: {e}; writes are refused until space is freed")
    } else if matches!(e, storage::Error::Poisoned(_)) {
        format!(
            "MISCONF Errors writing to disk: {e}; the server takes no writes until it is restarted"
        )
    } else {
        format!("ERR storage failure: {e}")
    }
}

/// Writes staged but not yet handed to the engine, oldest first (`None` = delete).
pub type Staged = SmallVec<[(Bytes, Option<Entry>); 1]>;

/// A command's view of the data, and the writes it has staged.
pub struct Keyspace<'a> {
    shared: &'a Shared,
    now: u64,
    /// Writes of earlier commands of the same pipelined round, not committed yet (see
    /// `server::round`); reads look here after `staged`.
    round: &'a [(Bytes, Option<Entry>)],
    /// This command's staged writes, oldest first. Reads look here first.
    staged: Staged,
}

impl<'a> Keyspace<'a> {
    /// A view at the current time with nothing staged.
    pub fn new(shared: &'a Shared) -> Keyspace<'a> {
        Keyspace::over(shared, &[], now_millis())
    }

    /// A view at `now` (unix milliseconds) that also sees `round`, the uncommitted writes
    /// of earlier commands of this pipelined round (whose key stripes the caller holds).
    pub fn over(shared: &'a Shared, round: &'a [(Bytes, Option<Entry>)], now: u64) -> Keyspace<'a> {
        Keyspace {
            shared,
            now,
            round,
            staged: SmallVec::new(),
        }
    }

    /// What this command staged, for the round to commit.
    pub fn into_staged(self) -> Staged {
        self.staged
    }

    /// The state every connection shares.
    pub fn shared(&self) -> &'a Shared {
        self.shared
    }

    /// The engine.
    pub fn db(&self) -> Result<impl std::ops::Deref<Target = Db> + 'a, ExecError> {
        Ok(self.shared.db.get()?)
    }

    /// The time this command runs at, in unix milliseconds (one clock reading per command,
    /// or per pipelined round, so a command never sees a key both alive and expired).
    pub fn now(&self) -> u64 {
        self.now
    }

    /// The live entry under `key`, if any.
    pub fn get(&self, key: &[u8]) -> Result<Option<Entry>, ExecError> {
        self.get_with(key, |entry| entry.map(EntryRef::to_entry))
    }

    /// Whether a live entry is under `key` (the value is neither copied nor counted).
    pub fn contains(&self, key: &[u8]) -> Result<bool, ExecError> {
        self.get_with(key, |entry| entry.is_some())
    }

    /// Lends `f` the live entry under `key`, if any, where it lies: a value in the engine is
    /// neither copied nor reference-counted (see `Db::get_with`, which says why `f` must be
    /// short).
    pub fn get_with<R>(
        &self,
        key: &[u8],
        f: impl FnOnce(Option<EntryRef<'_>>) -> R,
    ) -> Result<R, ExecError> {
        if let Some((_, staged)) = self.staged.iter().rev().find(|(k, _)| k == key) {
            return Ok(f(staged.as_ref().map(EntryRef::of)));
        }
        let now = self.now;
        let live = |entry: EntryRef| !entry.is_expired(now);
        let (found, lent) =
            if let Some((_, staged)) = self.round.iter().rev().find(|(k, _)| k == key) {
                let entry = staged.as_ref().map(EntryRef::of).filter(|e| live(*e));
                (entry.is_some(), f(entry))
            } else {
                self.shared.db.get()?.get_with(key, |stored| {
                    let entry = stored.map(EntryRef::decode).transpose()?;
                    let entry = entry.filter(|e| live(*e));
                    Ok::<_, BadValue>((entry.is_some(), f(entry)))
                })??
            };
        let counter = if found {
            &self.shared.stats.keyspace_hits
        } else {
            &self.shared.stats.keyspace_misses
        };
        Stats::add(counter, 1);
        Ok(lent)
    }

    /// The live entry under `key` with its version (the sequence number of its last
    /// write), read in one lookup. An entry staged (by this command or, though commands that
    /// compare versions do not join rounds, by its round) has no version yet and reports
    /// `u64::MAX`.
    pub fn get_versioned(&self, key: &[u8]) -> Result<Option<(Entry, u64)>, ExecError> {
        // Newest first: this command's writes, then its round's.
        let mut newest_first = self.staged.iter().rev().chain(self.round.iter().rev());
        if let Some((_, staged)) = newest_first.find(|(k, _)| k == key) {
            return Ok(staged.clone().map(|entry| (entry, u64::MAX)));
        }
        Ok(match self.shared.db.get()?.get_versioned(key)? {
            Some((raw, version)) => {
                let entry = Entry::decode(raw)?;
                (!entry.is_expired(self.now)).then_some((entry, version))
            }
            None => None,
        })
    }

    /// The version of the live entry under `key`, or `None` when it is missing or expired
    /// (what WATCH remembers and `SET ... IfVersion` compares).
    pub fn version(&self, key: &[u8]) -> Result<Option<u64>, ExecError> {
        Ok(self.get_versioned(key)?.map(|(_, version)| version))
    }

    /// Stages `entry` under `key`.
    pub fn put(&mut self, key: Bytes, entry: Entry) {
        self.staged.push((key, Some(entry)));
    }

    /// Stages the removal of `key`.
    pub fn delete(&mut self, key: Bytes) {
        self.staged.push((key, None));
    }

    /// Hands every staged write to the engine as one atomic batch. When this returns the
    /// writes are visible; the ticket completes when they are durable.
    pub fn commit(self) -> Result<Option<WriteTicket>, ExecError> {
        submit(self.shared, &self.staged)
    }
}

/// Hands `writes` to the engine as one atomic batch (`None` when there are none). When this
/// returns the writes are visible; the ticket completes when they are durable.
pub fn submit(
    shared: &Shared,
    writes: &[(Bytes, Option<Entry>)],
) -> Result<Option<WriteTicket>, ExecError> {
    if writes.is_empty() {
        return Ok(None);
    }
    let size = writes
        .iter()
        .map(|(k, e)| k.len() + e.as_ref().map_or(0, |e| e.value.len() + 9))
        .sum::<usize>();
    let mut batch = WriteBatch::with_capacity(size + 16 * writes.len());
    for (key, entry) in writes {
        match entry {
            // Header and value go straight into the batch: the value is copied once.
            Some(entry) => batch.put_parts(key, &[&entry.header(), &entry.value]),
            None => batch.delete(key),
        }
    }
    Ok(Some(shared.db.get()?.submit(batch)?))
}
