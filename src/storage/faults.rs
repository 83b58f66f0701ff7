//! Injected faults, for tests and drills: a full (or small) disk and failing fsyncs.
//!
//! Every place the engine allocates disk space or fsyncs goes through this module
//! ([`check_space`], [`sync_file`], [`sync_dir`]). Faults are armed per database directory
//! with [`Faults::for_dir`]; until one is armed anywhere in the process the checks are one
//! relaxed atomic load. This module decides nothing about how the engine reacts to a
//! fault: that is the commit pipeline's and the tree's business.

use std::fs::{self, File};
use std::io;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::Arc;

use parking_lot::RwLock;

use super::error::{Error, Result};

/// Whether any directory has faults armed (the fast path of every check).
static ARMED: AtomicBool = AtomicBool::new(false);
/// The armed directories.
static REGISTRY: RwLock<Vec<(PathBuf, Arc<Faults>)>> = RwLock::new(Vec::new());

/// The faults armed for one database directory.
#[derive(Debug)]
pub struct Faults {
    /// Bytes the engine may still allocate (`u64::MAX`: no limit).
    free_bytes: AtomicU64,
    fail_syncs: AtomicBool,
}

impl Faults {
    /// The faults of the database directory `dir`, armed (none active) on first use.
    pub fn for_dir(dir: impl AsRef<Path>) -> Arc<Faults> {
        let dir = canonical(dir.as_ref());
        let mut registry = REGISTRY.write();
        if let Some((_, faults)) = registry.iter().find(|(d, _)| *d == dir) {
            return faults.clone();
        }
        let faults = Arc::new(Faults {
            free_bytes: AtomicU64::new(u64::MAX),
            fail_syncs: AtomicBool::new(false),
        });
        registry.push((dir, faults.clone()));
        ARMED.store(true, Ordering::Release);
        faults
    }

    /// While set, every allocation of disk space fails with `ENOSPC`, as on a full disk:
    /// creating a WAL segment, writing a table block, appending to the manifest. Unset, the
    /// disk has no limit again.
    pub fn set_disk_full(&self, full: bool) {
        self.set_free_bytes(if full { 0 } else { u64::MAX });
    }

    /// Makes the disk look as if `bytes` were free: allocations succeed while they fit and
    /// fail with `ENOSPC` from the first that does not. Deleted files give nothing back;
    /// space comes back only from this call. (A small disk filling up, wherever that
    /// happens to be: a segment, a flush, a compaction.)
    pub fn set_free_bytes(&self, bytes: u64) {
        self.free_bytes.store(bytes, Ordering::Release);
    }

    /// Whether the disk is made to look full.
    pub fn disk_full(&self) -> bool {
        self.free_bytes.load(Ordering::Acquire) == 0
    }

    /// Takes `bytes` of the free space, if that much is left.
    fn allocate(&self, bytes: u64) -> bool {
        self.free_bytes
            .fetch_update(Ordering::AcqRel, Ordering::Acquire, |free| {
                (free == u64::MAX)
                    .then_some(free)
                    .or(free.checked_sub(bytes))
            })
            .is_ok()
    }

    /// While set, every fsync fails with `EIO`, as when the device fails a write-back.
    pub fn set_fail_syncs(&self, fail: bool) {
        self.fail_syncs.store(fail, Ordering::Release);
    }

    /// Whether fsyncs are made to fail.
    pub fn fail_syncs(&self) -> bool {
        self.fail_syncs.load(Ordering::Acquire)
    }
}

/// The directory's canonical path, so that one directory named two ways has one entry.
fn canonical(dir: &Path) -> PathBuf {
    fs::canonicalize(dir).unwrap_or_else(|_| dir.to_path_buf())
}

/// The faults armed for the directory holding `path`, if any.
fn faults_of(path: &Path) -> Option<Arc<Faults>> {
    if !ARMED.load(Ordering::Relaxed) {
        return None;
    }
    let registry = REGISTRY.read();
    let found = |p: &Path| {
        registry
            .iter()
            .find(|(dir, _)| p.starts_with(dir))
            .map(|(_, f)| f.clone())
    };
    // The engine's paths are as the caller named the directory; a file about to be
    // created has no canonical path of its own yet, its directory does.
    found(path)
        .or_else(|| found(&canonical(path)))
        .or_else(|| path.parent().and_then(|dir| found(&canonical(dir))))
}

/// Fails with `ENOSPC` if the disk holding `path` is made to look too full for `bytes`
/// more. Called before every allocation of disk space.
pub(crate) fn check_space(path: &Path, bytes: u64) -> Result<()> {
    match faults_of(path) {
        Some(f) if !f.allocate(bytes) => {
            Err(Error::io(path, io::Error::from_raw_os_error(libc::ENOSPC)))
        }
        _ => Ok(()),
    }
}

/// fsyncs `file` (its data only, if `data_only`), or fails with the injected `EIO`.
///
/// A failed fsync is [`Error::SyncFailed`] whatever the errno (`ENOSPC` too): the pages it
/// covered may have been dropped by the kernel, so what it was to make durable is not known
/// to be on disk, and trying again would report success for data that is gone.
pub(crate) fn sync_file(file: &File, path: &Path, data_only: bool) -> Result<()> {
    let faults = faults_of(path);
    let result = match &faults {
        Some(f) if f.fail_syncs() => Err(io::Error::from_raw_os_error(libc::EIO)),
        _ => sync(file, data_only),
    };
    result.map_err(|source| Error::SyncFailed {
        path: path.to_path_buf(),
        source,
    })
}

fn sync(file: &File, data_only: bool) -> io::Result<()> {
    if data_only {
        file.sync_data()
    } else {
        file.sync_all()
    }
}

/// fsyncs a directory, so that entries created or removed in it survive a crash.
pub(crate) fn sync_dir(dir: &Path) -> Result<()> {
    let faults = faults_of(dir);
    let result = match &faults {
        Some(f) if f.fail_syncs() => Err(io::Error::from_raw_os_error(libc::EIO)),
        _ => File::open(dir).and_then(|d| d.sync_all()),
    };
    result.map_err(|source| Error::SyncFailed {
        path: dir.to_path_buf(),
        source,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn faults_apply_to_their_directory_only() {
        let armed = tempfile::tempdir().expect("tempdir");
        let other = tempfile::tempdir().expect("tempdir");
        let faults = Faults::for_dir(armed.path());
        faults.set_disk_full(true);
        let err = check_space(&armed.path().join("000001.wal"), 1).expect_err("full");
        assert!(err.is_no_space(), "{err}");
        check_space(&other.path().join("000001.wal"), 1).expect("other dir has room");
        faults.set_disk_full(false);
        check_space(&armed.path().join("000001.wal"), 1 << 40).expect("room again");
        faults.set_free_bytes(100);
        check_space(&armed.path().join("a"), 60).expect("fits");
        check_space(&armed.path().join("b"), 60).expect_err("40 left");
        check_space(&armed.path().join("c"), 40).expect("fits exactly");
        assert!(faults.disk_full());
        faults.set_disk_full(false);

        let path = armed.path().join("f");
        let file = File::create(&path).expect("create");
        faults.set_fail_syncs(true);
        let err = sync_file(&file, &path, true).expect_err("injected EIO");
        assert!(matches!(err, Error::SyncFailed { .. }), "{err}");
        assert!(sync_dir(armed.path()).is_err());
        faults.set_fail_syncs(false);
        sync_file(&file, &path, true).expect("fsync");
        assert!(Arc::ptr_eq(&faults, &Faults::for_dir(armed.path())));
    }
}
