//! The engine as commands see it: the keys of one numbered database (strings with expiry,
//! and the headers of collections) and the elements of collections, read through the
//! writes the current command (or transaction) has staged, and committed as one atomic
//! batch.
//!
//! Every data command runs against a [`Keyspace`]; the dispatcher decides which key locks
//! are held around it and when it commits. An expired key is never returned. Reads of keys
//! and of elements both see the writes of earlier commands of the same pipelined round, so
//! collection commands join rounds like string commands do.

use std::collections::BTreeMap;
use std::ops::{Bound, RangeBounds};

use bytes::Bytes;
use smallvec::SmallVec;

use super::layout;
use super::shared::{Shared, Stats};
use super::value::{
    is_collection, now_millis, BadValue, Entry, EntryRef, Kind, Meta, Record, META_LEN,
};
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
    /// The key holds another type than the command works on: Redis's reply.
    #[error("WRONGTYPE Operation against a key holding the wrong kind of value")]
    WrongType,
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

/// What a staged write stores under its engine key.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Stored {
    /// A string, under a key.
    Str(Entry),
    /// A collection's header, under a key.
    Coll(Meta),
    /// An element's value (its type's format), under an element's key.
    Element(Bytes),
}

impl Stored {
    /// Bytes the write will take in a batch.
    pub fn len(&self) -> usize {
        match self {
            Stored::Str(entry) => entry.value.len() + 9,
            Stored::Coll(_) => META_LEN,
            Stored::Element(value) => value.len(),
        }
    }
}

/// A write staged but not yet handed to the engine: an engine key (see `server::layout`)
/// and what to store there (`None` = delete).
pub type Write = (Bytes, Option<Stored>);

/// A command's staged writes to keys, oldest first.
pub type Staged = SmallVec<[Write; 1]>;

/// A key's record as a lookup lends it.
#[derive(Debug, Clone, Copy)]
pub enum Found<'a> {
    /// A string, where it lies.
    Str(EntryRef<'a>),
    /// A collection's header.
    Coll(Meta),
}

/// A command's view of the data, and the writes it has staged.
pub struct Keyspace<'a> {
    shared: &'a Shared,
    now: u64,
    /// The numbered database the command works in.
    db: u8,
    /// The stored database it is (`server::databases`): the prefix of its engine keys.
    stored: u8,
    /// Writes of earlier commands of the same pipelined round, not committed yet (see
    /// `server::round`); reads of keys and elements look here after this command's own.
    round: &'a [Write],
    /// This command's staged writes to keys, oldest first. Reads look here first.
    staged: Staged,
    /// This command's staged writes to elements, in key order: a command may stage many
    /// (HSET of a thousand fields), and reads and walks look here first.
    elements: BTreeMap<Bytes, Option<Bytes>>,
    /// Versions of collections this view created: the engine holds no element of theirs
    /// (a version is never given twice), so their point reads skip it.
    fresh: SmallVec<[u64; 1]>,
}

impl<'a> Keyspace<'a> {
    /// A view of database 0 at the current time with nothing staged.
    pub fn new(shared: &'a Shared) -> Keyspace<'a> {
        Keyspace::over(shared, &[], now_millis(), 0)
    }

    /// A view of database `db` at `now` (unix milliseconds) that also sees `round`, the
    /// uncommitted writes of earlier commands of this pipelined round (whose key stripes
    /// the caller holds).
    pub fn over(shared: &'a Shared, round: &'a [Write], now: u64, db: u8) -> Keyspace<'a> {
        Keyspace {
            shared,
            now,
            db,
            stored: shared.databases.stored(db),
            round,
            staged: SmallVec::new(),
            elements: BTreeMap::new(),
            fresh: SmallVec::new(),
        }
    }

    /// What this command staged, keys and elements, for the round to commit.
    pub fn into_staged(self) -> impl Iterator<Item = Write> {
        let elements = self
            .elements
            .into_iter()
            .map(|(key, value)| (key, value.map(Stored::Element)));
        self.staged.into_iter().chain(elements)
    }

    /// The state every connection shares.
    pub fn shared(&self) -> &'a Shared {
        self.shared
    }

    /// The engine.
    pub fn db(&self) -> Result<impl std::ops::Deref<Target = Db> + 'a, ExecError> {
        Ok(self.shared.db.get()?)
    }

    /// The numbered database this view works in.
    pub fn database(&self) -> u8 {
        self.db
    }

    /// The stored database this view works in: what its engine keys start with.
    pub fn stored_database(&self) -> u8 {
        self.stored
    }

    /// Works in database `db` from now on (SELECT inside a transaction).
    pub fn select(&mut self, db: u8) {
        self.db = db;
        self.stored = self.shared.databases.stored(db);
    }

    /// The time this command runs at, in unix milliseconds (one clock reading per command,
    /// or per pipelined round, so a command never sees a key both alive and expired).
    pub fn now(&self) -> u64 {
        self.now
    }

    /// The live string under `key`, if any; [`ExecError::WrongType`] if it holds a
    /// collection.
    pub fn get(&self, key: &[u8]) -> Result<Option<Entry>, ExecError> {
        self.get_with(key, |entry| entry.map(EntryRef::to_entry))
    }

    /// Whether a live key of any type is under `key` (the value is neither copied nor
    /// counted).
    pub fn contains(&self, key: &[u8]) -> Result<bool, ExecError> {
        self.lookup_with(key, |found| found.is_some())
    }

    /// The live record of any type under `key`, if any.
    pub fn record(&self, key: &[u8]) -> Result<Option<Record>, ExecError> {
        self.lookup_with(key, |found| {
            found.map(|found| match found {
                Found::Str(entry) => Record::Str(entry.to_entry()),
                Found::Coll(meta) => Record::Coll(meta),
            })
        })
    }

    /// The live collection of `kind` under `key`, if any; [`ExecError::WrongType`] if
    /// the key holds a string or another kind.
    pub fn collection(&self, key: &[u8], kind: Kind) -> Result<Option<Meta>, ExecError> {
        match self.lookup_with(key, |found| match found {
            None => Ok(None),
            Some(Found::Coll(meta)) if meta.kind == kind => Ok(Some(meta)),
            Some(_) => Err(ExecError::WrongType),
        })? {
            Ok(meta) => Ok(meta),
            Err(error) => Err(error),
        }
    }

    /// Lends `f` the live string under `key`, if any, where it lies: a value in the
    /// engine is neither copied nor reference-counted (see `Db::get_with`, which says why
    /// `f` must be short). [`ExecError::WrongType`] if the key holds a collection.
    pub fn get_with<R>(
        &self,
        key: &[u8],
        f: impl FnOnce(Option<EntryRef<'_>>) -> R,
    ) -> Result<R, ExecError> {
        self.lookup_with(key, |found| match found {
            None => Ok(f(None)),
            Some(Found::Str(entry)) => Ok(f(Some(entry))),
            Some(Found::Coll(_)) => Err(ExecError::WrongType),
        })?
    }

    /// Lends `f` the live record under `key`, if any.
    pub fn lookup_with<R>(
        &self,
        key: &[u8],
        f: impl FnOnce(Option<Found<'_>>) -> R,
    ) -> Result<R, ExecError> {
        let engine_key = layout::key(self.stored, key);
        let now = self.now;
        let live = |found: &Found| match found {
            Found::Str(entry) => !entry.is_expired(now),
            Found::Coll(meta) => !meta.is_expired(now),
        };
        if let Some((_, staged)) = self
            .staged
            .iter()
            .rev()
            .find(|(k, _)| k[..] == engine_key[..])
        {
            // What this command wrote is live by construction.
            return Ok(f(staged.as_ref().and_then(found_in)));
        }
        let (found, lent) = if let Some((_, staged)) = self
            .round
            .iter()
            .rev()
            .find(|(k, _)| k[..] == engine_key[..])
        {
            let found = staged.as_ref().and_then(found_in).filter(live);
            (found.is_some(), f(found))
        } else {
            self.shared.db.get()?.get_with(&engine_key, |stored| {
                let found = stored.map(decode_found).transpose()?;
                let found = found.filter(live);
                Ok::<_, BadValue>((found.is_some(), f(found)))
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

    /// The live string under `key` with its version (the sequence number of its last
    /// write), read in one lookup. A string staged (by this command or, though commands that
    /// compare versions do not join rounds, by its round) has no version yet and reports
    /// `u64::MAX`. [`ExecError::WrongType`] if the key holds a collection.
    pub fn get_versioned(&self, key: &[u8]) -> Result<Option<(Entry, u64)>, ExecError> {
        match self.record_versioned(key)? {
            None => Ok(None),
            Some((Record::Str(entry), version)) => Ok(Some((entry, version))),
            Some((Record::Coll(_), _)) => Err(ExecError::WrongType),
        }
    }

    /// The live record of any type under `key` with its version (see
    /// [`Keyspace::get_versioned`]).
    pub fn record_versioned(&self, key: &[u8]) -> Result<Option<(Record, u64)>, ExecError> {
        let engine_key = layout::key(self.stored, key);
        // Newest first: this command's writes, then its round's.
        let mut newest_first = self.staged.iter().rev().chain(self.round.iter().rev());
        if let Some((_, staged)) = newest_first.find(|(k, _)| k[..] == engine_key[..]) {
            let record = staged.as_ref().and_then(|stored| match stored {
                Stored::Str(entry) => Some(Record::Str(entry.clone())),
                Stored::Coll(meta) => Some(Record::Coll(*meta)),
                Stored::Element(_) => None,
            });
            return Ok(record.map(|record| (record, u64::MAX)));
        }
        Ok(match self.shared.db.get()?.get_versioned(&engine_key)? {
            Some((raw, version)) => {
                let record = Record::decode(raw)?;
                (!record.is_expired(self.now)).then_some((record, version))
            }
            None => None,
        })
    }

    /// The version of the live key of any type under `key`, or `None` when it is missing
    /// or expired (what WATCH remembers and `SET ... IfVersion` compares). Every write to
    /// a collection rewrites its header, so any change moves the version.
    pub fn version(&self, key: &[u8]) -> Result<Option<u64>, ExecError> {
        Ok(self.record_versioned(key)?.map(|(_, version)| version))
    }

    /// Stages the string `entry` under `key`.
    pub fn put(&mut self, key: impl AsRef<[u8]>, entry: Entry) {
        self.stage(key.as_ref(), Some(Stored::Str(entry)));
    }

    /// Stages `record` under `key`: a string, or a collection's header (an empty
    /// collection is deleted, as Redis never keeps one).
    pub fn put_record(&mut self, key: impl AsRef<[u8]>, record: Record) {
        match record {
            Record::Str(entry) => self.put(key, entry),
            Record::Coll(meta) => self.put_meta(key, meta),
        }
    }

    /// Stages the header of a collection under `key`, or the key's removal when the
    /// collection is empty (its elements are then no one's, and compaction drops them).
    pub fn put_meta(&mut self, key: impl AsRef<[u8]>, meta: Meta) {
        if meta.len == 0 {
            self.delete(key);
        } else {
            self.stage(key.as_ref(), Some(Stored::Coll(meta)));
        }
    }

    /// Stages the removal of `key`, whatever it holds: a collection's elements are left
    /// to compaction, so deleting a big key costs no more than a small one.
    pub fn delete(&mut self, key: impl AsRef<[u8]>) {
        self.stage(key.as_ref(), None);
    }

    fn stage(&mut self, key: &[u8], stored: Option<Stored>) {
        self.staged
            .push((layout::key_bytes(self.stored, key), stored));
    }

    /// A version for a new collection, never drawn before in this data directory.
    pub fn new_version(&mut self) -> Result<u64, ExecError> {
        let version = self.shared.new_version()?;
        self.fresh.push(version);
        Ok(version)
    }

    /// The common prefix of the engine keys of `meta`'s elements, `key` its user key.
    pub fn elements_of(&self, key: &[u8], meta: &Meta) -> Bytes {
        layout::elements(self.stored, key, meta.version)
    }

    /// The value of the element under the engine key `key`, if any.
    pub fn element(&self, key: &[u8]) -> Result<Option<Bytes>, ExecError> {
        if let Some(staged) = self.elements.get(key) {
            return Ok(staged.clone());
        }
        if let Some((_, staged)) = self.round.iter().rev().find(|(k, _)| k[..] == key[..]) {
            return Ok(element_in(staged.as_ref()));
        }
        // HSET of a new hash's fields, a new set's members: nothing to find in the engine.
        let fresh = !self.fresh.is_empty()
            && layout::element_of(key).is_some_and(|of| self.fresh.contains(&of.version));
        if fresh {
            return Ok(None);
        }
        Ok(self.shared.db.get()?.get(key)?)
    }

    /// Stages `value` under the element key `key`.
    pub fn put_element(&mut self, key: Bytes, value: Bytes) {
        self.elements.insert(key, Some(value));
    }

    /// Stages the removal of the element under `key`.
    pub fn delete_element(&mut self, key: Bytes) {
        self.elements.insert(key, None);
    }

    /// The elements whose engine keys are in `[lo, hi)`-style bounds, in key order (or
    /// reverse), the staged writes of this command and its round included: an iterator, so
    /// a walk that stops early (a LIMIT, a rank) reads no further.
    pub fn elements(
        &self,
        lo: Bound<Bytes>,
        hi: Bound<Bytes>,
        reverse: bool,
    ) -> impl Iterator<Item = Result<(Bytes, Bytes), ExecError>> + '_ {
        type Pairs = Box<dyn Iterator<Item = crate::storage::Result<(Bytes, Bytes)>> + Send>;
        let range = (lo.clone(), hi.clone());
        let engine: Pairs = match self.shared.db.get() {
            Ok(db) if reverse => Box::new(db.range(range).rev()),
            Ok(db) => Box::new(db.range(range)),
            // A full sync is replacing the data: the walk ends with the reason.
            Err(e) => Box::new(std::iter::once(Err(e))),
        };
        Overlay {
            engine: engine.peekable(),
            staged: self.staged_elements(lo, hi, reverse).peekable(),
            reverse,
        }
    }

    /// The staged element writes in `(lo, hi)`, in the walk's order: this command's, laid
    /// over its round's when the round wrote any there (a round holds a few dozen writes,
    /// so those are gathered into a map only then).
    fn staged_elements(
        &self,
        lo: Bound<Bytes>,
        hi: Bound<Bytes>,
        reverse: bool,
    ) -> StagedElements<'_> {
        // BTreeMap::range panics on an inverted or empty-excluded range, which an empty
        // score or lex range asks for: such a range holds nothing.
        if is_empty_range(&lo, &hi) {
            return Box::new(std::iter::empty());
        }
        let range = (lo, hi);
        let in_round = |(key, _): &&Write| range.contains(key);
        if !self.round.iter().any(|write| in_round(&write)) {
            let own = self
                .elements
                .range(range)
                .map(|(k, v)| (k.clone(), v.clone()));
            return if reverse {
                Box::new(own.rev())
            } else {
                Box::new(own)
            };
        }
        let mut merged: BTreeMap<Bytes, Option<Bytes>> = self
            .round
            .iter()
            .filter(in_round)
            .map(|(key, stored)| (key.clone(), element_in(stored.as_ref())))
            .collect();
        merged.extend(
            self.elements
                .range(range)
                .map(|(k, v)| (k.clone(), v.clone())),
        );
        if reverse {
            Box::new(merged.into_iter().rev())
        } else {
            Box::new(merged.into_iter())
        }
    }

    /// Every element under `prefix` (one collection's), in order or reversed.
    pub fn elements_under(
        &self,
        prefix: &Bytes,
        reverse: bool,
    ) -> impl Iterator<Item = Result<(Bytes, Bytes), ExecError>> + '_ {
        let hi = layout::prefix_end(prefix).map_or(Bound::Unbounded, Bound::Excluded);
        self.elements(Bound::Included(prefix.clone()), hi, reverse)
    }

    /// Hands every staged write to the engine as one atomic batch. When this returns the
    /// writes are visible; the ticket completes when they are durable.
    pub fn commit(self) -> Result<Option<WriteTicket>, ExecError> {
        let shared = self.shared;
        let writes: Vec<Write> = self.into_staged().collect();
        submit(shared, &writes)
    }
}

/// Whether `(lo, hi)` holds no key at all (start after end, or equal with either excluded).
fn is_empty_range(lo: &Bound<Bytes>, hi: &Bound<Bytes>) -> bool {
    match (lo, hi) {
        (Bound::Included(lo), Bound::Included(hi)) => lo > hi,
        (Bound::Included(lo) | Bound::Excluded(lo), Bound::Excluded(hi))
        | (Bound::Excluded(lo), Bound::Included(hi)) => lo >= hi,
        _ => false,
    }
}

/// A staged write to an element key as a read of the element sees it.
fn element_in(stored: Option<&Stored>) -> Option<Bytes> {
    match stored {
        Some(Stored::Element(value)) => Some(value.clone()),
        _ => None,
    }
}

/// A staged write as a lookup of a key lends it.
fn found_in(stored: &Stored) -> Option<Found<'_>> {
    match stored {
        Stored::Str(entry) => Some(Found::Str(EntryRef::of(entry))),
        Stored::Coll(meta) => Some(Found::Coll(*meta)),
        Stored::Element(_) => None,
    }
}

/// A key's stored record, decoded in place.
fn decode_found(raw: &Bytes) -> Result<Found<'_>, BadValue> {
    if is_collection(raw) {
        Meta::decode(raw).map(Found::Coll)
    } else {
        EntryRef::decode(raw).map(Found::Str)
    }
}

/// The staged elements in a range, in the walk's order (`None` = deleted).
type StagedElements<'s> = Box<dyn Iterator<Item = (Bytes, Option<Bytes>)> + 's>;

/// The engine's elements with a command's staged ones laid over them: a staged write
/// hides the engine's under the same key, a staged delete hides it for good.
struct Overlay<'s, E: Iterator> {
    engine: std::iter::Peekable<E>,
    staged: std::iter::Peekable<StagedElements<'s>>,
    reverse: bool,
}

impl<E> Iterator for Overlay<'_, E>
where
    E: Iterator<Item = storage::Result<(Bytes, Bytes)>>,
{
    type Item = Result<(Bytes, Bytes), ExecError>;

    fn next(&mut self) -> Option<Self::Item> {
        loop {
            let order = match (self.engine.peek(), self.staged.peek()) {
                (None, None) => return None,
                (Some(Err(_)), _) => {
                    return self.engine.next().map(|item| item.map_err(ExecError::from));
                }
                (Some(Ok(_)), None) => std::cmp::Ordering::Less,
                (None, Some(_)) => std::cmp::Ordering::Greater,
                (Some(Ok((engine, _))), Some((staged, _))) => {
                    let order = engine.cmp(staged);
                    if self.reverse {
                        order.reverse()
                    } else {
                        order
                    }
                }
            };
            if order == std::cmp::Ordering::Less {
                return self.engine.next().map(|item| item.map_err(ExecError::from));
            }
            if order == std::cmp::Ordering::Equal {
                self.engine.next();
            }
            if let Some((key, Some(value))) = self.staged.next() {
                return Some(Ok((key, value)));
            }
        }
    }
}

/// Hands `writes` to the engine as one atomic batch (`None` when there are none). When this
/// returns the writes are visible; the ticket completes when they are durable.
pub fn submit(shared: &Shared, writes: &[Write]) -> Result<Option<WriteTicket>, ExecError> {
    if writes.is_empty() {
        return Ok(None);
    }
    let size = writes
        .iter()
        .map(|(k, stored)| k.len() + stored.as_ref().map_or(0, Stored::len))
        .sum::<usize>();
    let mut batch = WriteBatch::with_capacity(size + 16 * writes.len());
    for (i, (key, stored)) in writes.iter().enumerate() {
        // A round of 16 HSETs on one hash stages its header 16 times; the batch is atomic,
        // so only the last write of a key counts and the others are left out (headers
        // only: looking for a later write of every string key would cost SET pipelines).
        if matches!(stored, Some(Stored::Coll(_))) && writes[i + 1..].iter().any(|(k, _)| k == key)
        {
            continue;
        }
        match stored {
            // Header and value go straight into the batch: the value is copied once.
            Some(Stored::Str(entry)) => batch.put_parts(key, &[&entry.header(), &entry.value]),
            Some(Stored::Coll(meta)) => batch.put(key, &meta.encode()),
            Some(Stored::Element(value)) => batch.put(key, value),
            None => batch.delete(key),
        }
    }
    Ok(Some(shared.db.get()?.submit(batch)?))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn shared() -> (tempfile::TempDir, Shared) {
        let dir = tempfile::tempdir().unwrap();
        let db = Db::open(dir.path(), storage::Options::default()).unwrap();
        let shared = Shared::for_test(db, dir.path());
        (dir, shared)
    }

    fn element(prefix: &Bytes, suffix: &[u8]) -> Bytes {
        let mut key = prefix.to_vec();
        key.extend_from_slice(suffix);
        Bytes::from(key)
    }

    #[test]
    fn staged_elements_lie_over_the_engines_in_both_directions() {
        let (_dir, shared) = shared();
        let mut meta = Meta::new(Kind::Set, shared.new_version().unwrap());
        let mut ks = Keyspace::new(&shared);
        let prefix = ks.elements_of(b"s", &meta);
        for member in [&b"a"[..], b"c", b"e"] {
            ks.put_element(element(&prefix, member), Bytes::new());
        }
        meta.len = 3;
        ks.put_meta(Bytes::from_static(b"s"), meta);
        ks.commit().unwrap();

        let mut ks = Keyspace::new(&shared);
        ks.delete_element(element(&prefix, b"c"));
        ks.put_element(element(&prefix, b"b"), Bytes::from_static(b"new"));
        ks.put_element(element(&prefix, b"e"), Bytes::from_static(b"over"));
        let walk = |reverse| -> Vec<(Vec<u8>, Vec<u8>)> {
            ks.elements_under(&prefix, reverse)
                .map(|item| {
                    let (key, value) = item.unwrap();
                    (key[prefix.len()..].to_vec(), value.to_vec())
                })
                .collect()
        };
        let forward = walk(false);
        assert_eq!(
            forward,
            vec![
                (b"a".to_vec(), b"".to_vec()),
                (b"b".to_vec(), b"new".to_vec()),
                (b"e".to_vec(), b"over".to_vec()),
            ]
        );
        let mut backward = walk(true);
        backward.reverse();
        assert_eq!(backward, forward);
        assert_eq!(ks.element(&element(&prefix, b"c")).unwrap(), None);
        assert_eq!(
            ks.element(&element(&prefix, b"a")).unwrap(),
            Some(Bytes::new())
        );
    }

    #[test]
    fn a_rounds_staged_elements_are_read_and_walked_under_the_commands_own() {
        let (_dir, shared) = shared();
        let prefix = Bytes::from_static(b"\x01p");
        let mut ks = Keyspace::new(&shared);
        for member in [&b"a"[..], b"b"] {
            ks.put_element(element(&prefix, member), Bytes::from_static(b"engine"));
        }
        ks.commit().unwrap();
        // An earlier command of the round deleted `a`, wrote `c`, then overwrote `c`.
        let round: Vec<Write> = vec![
            (element(&prefix, b"a"), None),
            (
                element(&prefix, b"c"),
                Some(Stored::Element(Bytes::from_static(b"r1"))),
            ),
            (
                element(&prefix, b"c"),
                Some(Stored::Element(Bytes::from_static(b"r2"))),
            ),
            (
                element(&prefix, b"d"),
                Some(Stored::Element(Bytes::from_static(b"r"))),
            ),
        ];
        let mut ks = Keyspace::over(&shared, &round, now_millis(), 0);
        // This command overwrites `d` again.
        ks.put_element(element(&prefix, b"d"), Bytes::from_static(b"own"));
        assert_eq!(ks.element(&element(&prefix, b"a")).unwrap(), None);
        assert_eq!(
            ks.element(&element(&prefix, b"c")).unwrap(),
            Some(Bytes::from_static(b"r2"))
        );
        let walk = |reverse| -> Vec<(Vec<u8>, Vec<u8>)> {
            ks.elements_under(&prefix, reverse)
                .map(|item| {
                    let (key, value) = item.unwrap();
                    (key[prefix.len()..].to_vec(), value.to_vec())
                })
                .collect()
        };
        let expected: Vec<(Vec<u8>, Vec<u8>)> = [("b", "engine"), ("c", "r2"), ("d", "own")]
            .iter()
            .map(|(k, v)| (k.as_bytes().to_vec(), v.as_bytes().to_vec()))
            .collect();
        assert_eq!(walk(false), expected);
        let mut backward = walk(true);
        backward.reverse();
        assert_eq!(backward, expected);
    }

    #[test]
    fn a_collection_is_wrongtype_for_strings_and_other_kinds() {
        let (_dir, shared) = shared();
        let mut ks = Keyspace::new(&shared);
        let mut meta = Meta::new(Kind::Hash, shared.new_version().unwrap());
        meta.len = 1;
        ks.put_meta(Bytes::from_static(b"h"), meta);
        ks.put(
            Bytes::from_static(b"s"),
            Entry::new(Bytes::from_static(b"v")),
        );
        ks.commit().unwrap();
        let ks = Keyspace::new(&shared);
        assert!(matches!(ks.get(b"h"), Err(ExecError::WrongType)));
        assert!(matches!(
            ks.collection(b"h", Kind::Set),
            Err(ExecError::WrongType)
        ));
        assert!(matches!(
            ks.collection(b"s", Kind::Hash),
            Err(ExecError::WrongType)
        ));
        assert_eq!(ks.collection(b"h", Kind::Hash).unwrap(), Some(meta));
        assert_eq!(ks.collection(b"none", Kind::Hash).unwrap(), None);
        assert!(ks.contains(b"h").unwrap());
        // Another database holds other keys.
        let other = Keyspace::over(&shared, &[], ks.now(), 1);
        assert!(!other.contains(b"h").unwrap());
        // An empty collection is no key.
        let mut ks = Keyspace::new(&shared);
        ks.put_meta(Bytes::from_static(b"h"), Meta { len: 0, ..meta });
        ks.commit().unwrap();
        assert!(!Keyspace::new(&shared).contains(b"h").unwrap());
    }

    #[test]
    fn an_empty_or_inverted_range_of_elements_is_empty() {
        let (_dir, shared) = shared();
        let mut ks = Keyspace::new(&shared);
        ks.put_element(Bytes::from_static(b"\x01b"), Bytes::new());
        let (a, c) = (Bytes::from_static(b"\x01a"), Bytes::from_static(b"\x01c"));
        for (lo, hi) in [
            (Bound::Included(c.clone()), Bound::Included(a.clone())),
            (Bound::Excluded(a.clone()), Bound::Excluded(a.clone())),
            (Bound::Included(a.clone()), Bound::Excluded(a.clone())),
        ] {
            assert_eq!(ks.elements(lo.clone(), hi.clone(), false).count(), 0);
            assert_eq!(ks.elements(lo, hi, true).count(), 0);
        }
        assert_eq!(
            ks.elements(Bound::Included(a), Bound::Included(c), false)
                .count(),
            1
        );
    }

    #[test]
    fn a_batch_keeps_only_the_last_header_of_a_key() {
        let (_dir, shared) = shared();
        let mut meta = Meta::new(Kind::Set, shared.new_version().unwrap());
        let key = layout::key_bytes(0, b"s");
        let writes: Vec<Write> = (1..=3)
            .map(|len| {
                meta.len = len;
                (key.clone(), Some(Stored::Coll(meta)))
            })
            .chain([(Bytes::from_static(b"\x00\x00t"), None)])
            .collect();
        submit(&shared, &writes).unwrap();
        let ks = Keyspace::new(&shared);
        assert_eq!(
            ks.collection(b"s", Kind::Set).unwrap().map(|m| m.len),
            Some(3)
        );
        // A header followed by a delete of its key: the delete stands.
        submit(
            &shared,
            &[(key.clone(), Some(Stored::Coll(meta))), (key, None)],
        )
        .unwrap();
        assert!(!Keyspace::new(&shared).contains(b"s").unwrap());
    }
}
