//! The engine as commands see it: string entries with expiry, read through the writes the
//! current command (or transaction) has staged, and committed as one atomic batch.
//!
//! Every data command runs against a [`Keyspace`]; the dispatcher decides which key locks
//! are held around it and when it commits. An expired entry is never returned.

use bytes::Bytes;
use smallvec::SmallVec;

use super::shared::{Shared, Stats};
use super::value::{now_millis, BadValue, Entry};
use crate::storage::{self, Db, WriteBatch, WriteTicket};

/// Why a command could not run to completion (as opposed to a Redis error reply such as
/// WRONGTYPE, which is an ordinary reply).
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum ExecError {
    /// The engine failed (I/O, corruption, a poisoned WAL).
    #[error("ERR storage failure: {0}")]
    Storage(#[from] storage::Error),
    /// A stored value could not be decoded.
    #[error("ERR corrupted value: {0}")]
    BadValue(#[from] BadValue),
}

/// A command's view of the data, and the writes it has staged.
pub struct Keyspace<'a> {
    shared: &'a Shared,
    now: u64,
    /// Staged writes, oldest first (`None` = delete). Reads look here first.
    staged: SmallVec<[(Bytes, Option<Entry>); 1]>,
}

impl<'a> Keyspace<'a> {
    /// A view at the current time with nothing staged.
    pub fn new(shared: &'a Shared) -> Keyspace<'a> {
        Keyspace {
            shared,
            now: now_millis(),
            staged: SmallVec::new(),
        }
    }

    /// The engine.
    pub fn db(&self) -> &Db {
        &self.shared.db
    }

    /// The time this command runs at, in unix milliseconds (one clock reading per command,
    /// as Redis does, so a command never sees a key both alive and expired).
    pub fn now(&self) -> u64 {
        self.now
    }

    /// The live entry under `key`, if any.
    pub fn get(&self, key: &[u8]) -> Result<Option<Entry>, ExecError> {
        if let Some((_, staged)) = self.staged.iter().rev().find(|(k, _)| k == key) {
            return Ok(staged.clone());
        }
        let found = match self.shared.db.get(key)? {
            Some(raw) => Some(Entry::decode(raw)?).filter(|e| !e.is_expired(self.now)),
            None => None,
        };
        let counter = if found.is_some() {
            &self.shared.stats.keyspace_hits
        } else {
            &self.shared.stats.keyspace_misses
        };
        Stats::add(counter, 1);
        Ok(found)
    }

    /// The live entry under `key` with its version (the sequence number of its last
    /// write), read in one lookup. An entry this command staged has no version yet and
    /// reports `u64::MAX`.
    pub fn get_versioned(&self, key: &[u8]) -> Result<Option<(Entry, u64)>, ExecError> {
        if let Some((_, staged)) = self.staged.iter().rev().find(|(k, _)| k == key) {
            return Ok(staged.clone().map(|entry| (entry, u64::MAX)));
        }
        Ok(match self.shared.db.get_versioned(key)? {
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
        if self.staged.is_empty() {
            return Ok(None);
        }
        let size = self
            .staged
            .iter()
            .map(|(k, e)| k.len() + e.as_ref().map_or(0, |e| e.value.len() + 9))
            .sum::<usize>();
        let mut batch = WriteBatch::with_capacity(size + 16 * self.staged.len());
        for (key, entry) in &self.staged {
            match entry {
                Some(entry) => batch.put(key, &entry.encode()),
                None => batch.delete(key),
            }
        }
        Ok(Some(self.shared.db.submit(batch)?))
    }
}
