//! Which stored database each numbered database is, and SWAPDB, which swaps two of them.
//!
//! Engine keys carry a one-byte database prefix (`server::layout`): the *stored* database.
//! SELECT, MOVE, INFO keyspace and every reply name *numbered* databases. The two are the
//! same until a SWAPDB, which swaps the stored databases two numbers name instead of
//! rewriting every key of both: O(1), as in Redis. The map is a byte per number in memory,
//! read by every command as it starts, and a record in the engine
//! (`layout::DATABASES_KEY`) that a restart reads back.
//!
//! A swap holds every key stripe while it writes the record and changes the map, so no
//! write is between reading the map and committing: a writer reads it after taking its
//! keys' stripes, and its writes are committed before it lets them go. A reader takes no
//! stripe and may read a database as it was just before the swap, as a read that came
//! first would.

use std::sync::atomic::{AtomicU8, Ordering};

use super::layout::{self, MAX_DATABASES};
use super::shared::Shared;
use crate::storage::{self, Db, WriteBatch};

/// The stored database of each numbered one.
#[derive(Debug)]
pub struct Databases {
    stored: Box<[AtomicU8]>,
}

impl Default for Databases {
    /// Every number is its own stored database (a new data directory).
    fn default() -> Databases {
        Databases::from_map(&identity())
    }
}

impl Databases {
    /// The map a data directory holds (the identity if no SWAPDB ever ran on it), or why
    /// its record cannot be read.
    pub fn load(db: &Db) -> Result<Databases, String> {
        Ok(Databases::from_map(&read_map(db)?))
    }

    /// Takes every entry of the map `db` holds now: a replica's, after it applied a batch of
    /// its primary's that rewrote the record (a SWAPDB there), or after a full sync put the
    /// primary's data in place. Nothing is changed if the record cannot be read.
    ///
    /// Clients blocked on keys are not woken: a replica has none (a blocking pop is a
    /// write, refused there).
    pub fn reload(&self, db: &Db) -> Result<(), String> {
        let map = read_map(db)?;
        for (stored, entry) in self.stored.iter().zip(map) {
            stored.store(entry, Ordering::Relaxed);
        }
        Ok(())
    }

    fn from_map(map: &[u8]) -> Databases {
        Databases {
            stored: map.iter().map(|&stored| AtomicU8::new(stored)).collect(),
        }
    }

    /// The stored database numbered `db`.
    #[inline]
    pub fn stored(&self, db: u8) -> u8 {
        // Relaxed: a writer reads it under a stripe lock, which orders it after the swap
        // that released the stripe.
        self.stored[usize::from(db)].load(Ordering::Relaxed)
    }

    /// SWAPDB: from now on `a` names what `b` named and the other way round. Waits for
    /// every key stripe, writes the new map (durable as any write under the sync policy)
    /// and then changes it in memory; clients blocked on keys of either wake to look again.
    pub fn swap(&self, shared: &Shared, a: u8, b: u8) -> storage::Result<()> {
        if a == b {
            return Ok(());
        }
        let _every_stripe = shared.locks.lock_all();
        let mut map: Vec<u8> = self
            .stored
            .iter()
            .map(|s| s.load(Ordering::Relaxed))
            .collect();
        map.swap(usize::from(a), usize::from(b));
        let mut batch = WriteBatch::new();
        batch.put(layout::DATABASES_KEY, &map);
        shared.db.get()?.write(batch)?;
        for db in [a, b] {
            self.stored[usize::from(db)].store(map[usize::from(db)], Ordering::Relaxed);
        }
        shared.blocking.database_changed(a);
        shared.blocking.database_changed(b);
        Ok(())
    }
}

/// The map `db`'s record holds (the identity without one), checked to be a permutation.
fn read_map(db: &Db) -> Result<Vec<u8>, String> {
    let Some(record) = db.get(layout::DATABASES_KEY).map_err(|e| e.to_string())? else {
        return Ok(identity());
    };
    let mut seen = [false; MAX_DATABASES];
    for &stored in &record {
        seen[usize::from(stored)] = true;
    }
    if record.len() != MAX_DATABASES || seen.contains(&false) {
        return Err(format!(
            "the map of swapped databases is damaged ({} bytes, not a permutation of {MAX_DATABASES})",
            record.len()
        ));
    }
    Ok(record.to_vec())
}

fn identity() -> Vec<u8> {
    (0..=u8::MAX).collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_swap_is_kept_and_read_back() {
        let dir = tempfile::tempdir().unwrap();
        let db = Db::open(dir.path(), storage::Options::default()).unwrap();
        let shared = Shared::for_test(db.clone(), dir.path());
        assert_eq!(shared.databases.stored(3), 3);
        shared.databases.swap(&shared, 3, 7).unwrap();
        shared.databases.swap(&shared, 7, 0).unwrap();
        let (three, seven, zero) = (
            shared.databases.stored(3),
            shared.databases.stored(7),
            shared.databases.stored(0),
        );
        assert_eq!((three, seven, zero), (7, 0, 3));
        let loaded = Databases::load(&db).unwrap();
        assert_eq!(
            (loaded.stored(3), loaded.stored(7), loaded.stored(0)),
            (three, seven, zero)
        );
        assert_eq!(loaded.stored(255), 255);
    }

    #[test]
    fn a_reload_takes_the_record_as_another_server_wrote_it() {
        let dir = tempfile::tempdir().unwrap();
        let db = Db::open(dir.path(), storage::Options::default()).unwrap();
        let databases = Databases::default();
        let mut map = identity();
        map.swap(0, 3);
        db.put(layout::DATABASES_KEY, &map).unwrap();
        databases.reload(&db).unwrap();
        assert_eq!((databases.stored(0), databases.stored(3)), (3, 0));
        // A damaged record changes nothing.
        db.put(layout::DATABASES_KEY, b"short").unwrap();
        assert!(databases.reload(&db).is_err());
        assert_eq!((databases.stored(0), databases.stored(3)), (3, 0));
        // No record (a full sync from a primary that never swapped): the identity again.
        db.delete(layout::DATABASES_KEY).unwrap();
        databases.reload(&db).unwrap();
        assert_eq!((databases.stored(0), databases.stored(3)), (0, 3));
    }

    #[test]
    fn a_damaged_map_is_refused() {
        let dir = tempfile::tempdir().unwrap();
        let db = Db::open(dir.path(), storage::Options::default()).unwrap();
        db.put(layout::DATABASES_KEY, &[0u8; MAX_DATABASES])
            .unwrap();
        assert!(Databases::load(&db).unwrap_err().contains("damaged"));
        db.put(layout::DATABASES_KEY, b"short").unwrap();
        assert!(Databases::load(&db).is_err());
    }
}
