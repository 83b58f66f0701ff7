//! The engine every connection uses, in a slot a replica's full synchronisation can empty
//! and fill again: the old database is closed (its directory lock released), the
//! primary's checkpoint put in its place, and the new one opened, while commands wait (or
//! are answered -LOADING, see `replication`).
//!
//! A read takes the slot's lock only for the call it makes (recursively, so a reader never
//! deadlocks against a waiting writer while it holds a guard already).

use parking_lot::{MappedRwLockReadGuard, RwLock, RwLockReadGuard};

use crate::storage::{self, Db};

/// The slot; see the module documentation.
#[derive(Debug)]
pub struct DbSlot(RwLock<Option<Db>>);

impl DbSlot {
    /// A slot holding `db`.
    pub fn new(db: Db) -> DbSlot {
        DbSlot(RwLock::new(Some(db)))
    }

    /// The engine, unless a full synchronisation is replacing it.
    pub fn get(&self) -> storage::Result<MappedRwLockReadGuard<'_, Db>> {
        RwLockReadGuard::try_map(self.0.read_recursive(), Option::as_ref).map_err(|_| {
            storage::Error::io(
                "<loading>",
                std::io::Error::other("the dataset is being replaced by a full sync"),
            )
        })
    }

    /// A handle on the engine (for tasks that outlive one call).
    pub fn handle(&self) -> storage::Result<Db> {
        self.get().map(|db| db.clone())
    }

    /// Empties the slot: the engine closes once the last handle is dropped.
    pub fn take(&self) -> Option<Db> {
        self.0.write().take()
    }

    /// Fills the slot.
    pub fn put(&self, db: Db) {
        *self.0.write() = Some(db);
    }
}
