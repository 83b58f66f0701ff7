//! Collection versions: the number each new incarnation of a hash, list, set or sorted set
//! draws (see `value::Meta` and `layout`), which its elements' engine keys carry.
//!
//! A version must never be drawn twice in a data directory: the elements of a deleted
//! collection stay in the engine until compaction drops them, and a new collection of the
//! same key drawing the old version would find them again. Versions follow the clock in
//! microseconds, one past the last when the clock has not moved; but a clock can be turned
//! back (an NTP step), and a promoted replica's clock can be behind its old primary's. So
//! every version is also kept below a floor that the data directory records
//! (`layout::VERSION_FLOOR_KEY`): every version ever drawn here is below it. The first
//! draw after a start (or a promotion) reads it and starts at it if the clock is behind,
//! and raises it an hour ahead; a draw that reaches it raises it again. The raise is
//! committed before the version is handed out, so any batch holding the version comes
//! after it in the log: recovery, which keeps a prefix of the log, and a replica, which
//! applies the same log, cannot have the one without the other. Draws cost an atomic
//! compare-and-swap; the floor is written about once an hour.

use std::sync::atomic::{AtomicU64, Ordering};

use parking_lot::Mutex;

use super::dbslot::DbSlot;
use super::layout;
use crate::storage::{self, WriteBatch};

/// How far ahead of the version drawn the floor is raised: an hour of the clock.
const RESERVE: u64 = 3_600_000_000;

/// Draws collection versions; see the module documentation.
#[derive(Debug, Default)]
pub struct VersionClock {
    /// The last version drawn.
    last: AtomicU64,
    /// Versions below this may be drawn without writing the floor; 0 until the floor was
    /// read, so the first draw reads it.
    limit: AtomicU64,
    /// Held while the floor is read and raised, so one draw raises it at a time.
    raising: Mutex<()>,
}

impl VersionClock {
    /// A version never drawn before in the data directory `db` holds.
    pub fn draw(&self, db: &DbSlot) -> storage::Result<u64> {
        loop {
            let last = self.last.load(Ordering::Acquire);
            let next = last.saturating_add(1).max(now());
            if next >= self.limit.load(Ordering::Acquire) {
                self.raise(db, next)?;
                continue;
            }
            if self
                .last
                .compare_exchange_weak(last, next, Ordering::AcqRel, Ordering::Acquire)
                .is_ok()
            {
                return Ok(next);
            }
        }
    }

    /// Forgets the floor read: the next draw reads it again. For a replica promoted to
    /// primary, whose data (and floor) came from another server.
    pub fn reread_floor(&self) {
        self.limit.store(0, Ordering::Release);
    }

    /// Raises the floor above `next`, starting the versions at the recorded floor if that
    /// is higher (a clock turned back).
    fn raise(&self, db: &DbSlot, next: u64) -> storage::Result<()> {
        let _raising = self.raising.lock();
        if next < self.limit.load(Ordering::Acquire) {
            return Ok(()); // another draw raised it meanwhile
        }
        let db = db.get()?;
        let recorded = db
            .get(layout::VERSION_FLOOR_KEY)?
            .and_then(|value| <[u8; 8]>::try_from(&value[..]).ok())
            .map_or(0, u64::from_le_bytes);
        let start = next.max(recorded);
        let floor = start.saturating_add(RESERVE);
        let mut batch = WriteBatch::new();
        batch.put(layout::VERSION_FLOOR_KEY, &floor.to_le_bytes());
        // Committed, not waited for: the batches that use versions below the new floor
        // come after this one in the log, so their durability is this one's too.
        let _ticket = db.submit(batch)?;
        self.last.fetch_max(start - 1, Ordering::AcqRel);
        self.limit.store(floor, Ordering::Release);
        Ok(())
    }
}

/// The clock in microseconds since the epoch.
fn now() -> u64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| u64::try_from(d.as_micros()).unwrap_or(u64::MAX))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::storage::{Db, Options};

    fn open(dir: &std::path::Path) -> DbSlot {
        DbSlot::new(Db::open(dir, Options::default()).unwrap())
    }

    fn recorded(db: &DbSlot) -> u64 {
        let value = db.get().unwrap().get(layout::VERSION_FLOOR_KEY).unwrap();
        u64::from_le_bytes(value.unwrap()[..].try_into().unwrap())
    }

    #[test]
    fn versions_only_grow_and_stay_below_the_recorded_floor() {
        let dir = tempfile::tempdir().unwrap();
        let db = open(dir.path());
        let clock = VersionClock::default();
        let mut last = 0;
        for _ in 0..1000 {
            let next = clock.draw(&db).unwrap();
            assert!(next > last);
            assert!(next < recorded(&db));
            last = next;
        }
        assert!(last >= now() - RESERVE);
    }

    #[test]
    fn a_restart_with_the_clock_turned_back_starts_at_the_floor() {
        let dir = tempfile::tempdir().unwrap();
        // A server whose clock ran ten years ahead drew versions and recorded its floor.
        let ahead = now() + 10 * 365 * 24 * RESERVE;
        let drawn = {
            let db = open(dir.path());
            let clock = VersionClock::default();
            clock.last.store(ahead, Ordering::SeqCst);
            let drawn: Vec<u64> = (0..10).map(|_| clock.draw(&db).unwrap()).collect();
            db.get().unwrap().flush().unwrap();
            drawn
        };
        // Restarted with the clock back at today's: every version is above those.
        let db = open(dir.path());
        let clock = VersionClock::default();
        let next = clock.draw(&db).unwrap();
        assert!(drawn.iter().all(|&v| v < next), "{drawn:?} then {next}");
        assert!(recorded(&db) > next);
    }

    #[test]
    fn a_draw_that_reaches_the_floor_raises_it_first() {
        let dir = tempfile::tempdir().unwrap();
        let db = open(dir.path());
        let clock = VersionClock::default();
        let first = clock.draw(&db).unwrap();
        let floor = recorded(&db);
        clock.last.store(floor - 2, Ordering::SeqCst);
        assert_eq!(clock.draw(&db).unwrap(), floor - 1);
        assert_eq!(recorded(&db), floor, "below the floor: not raised");
        let past = clock.draw(&db).unwrap();
        assert_eq!(past, floor);
        assert_eq!(recorded(&db), floor + RESERVE);
        assert!(first < past);
    }

    #[test]
    fn a_promoted_replica_reads_the_floor_its_primary_recorded() {
        let dir = tempfile::tempdir().unwrap();
        let db = open(dir.path());
        let clock = VersionClock::default();
        clock.draw(&db).unwrap();
        // Its primary, ten years ahead, recorded a floor in the data it replicated.
        let primary_floor = now() + 10 * 365 * 24 * RESERVE;
        db.get()
            .unwrap()
            .put(layout::VERSION_FLOOR_KEY, &primary_floor.to_le_bytes())
            .unwrap();
        clock.reread_floor();
        assert!(clock.draw(&db).unwrap() >= primary_floor);
    }
}
