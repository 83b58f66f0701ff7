//! Injected faults, for tests and drills: a full (or small) disk and failing fsyncs; and a
//! record of what each fsync made durable, from which a test builds the directory a power
//! cut would leave ([`Faults::record_syncs`]).
//!
//! Every place the engine allocates disk space or fsyncs goes through this module
//! ([`check_space`], [`sync_file`], [`sync_dir`]). There is no other durability point: the
//! WAL's mapped segments are made durable by `fdatasync` on the file (which on Linux writes
//! back pages dirtied through a shared map; the engine never calls `msync`), tables and the
//! manifest are written with `write`/`pwrite`. Faults are armed per database directory with
//! [`Faults::for_dir`]; until one is armed anywhere in the process the checks are one
//! relaxed atomic load. This module decides nothing about how the engine reacts to a
//! fault: that is the commit pipeline's and the tree's business.
//!
//! ## Recording syncs (the power-cut model)
//!
//! The model is POSIX's, taken strictly: a file's content is durable as of its last
//! completed fsync (`fsync` or `fdatasync`, alike), and a directory's entries (which names
//! exist, and which file each names) as of the directory's last completed fsync; a file's
//! fsync does not make its name durable, nor does a rename or an unlink become durable
//! before the directory's fsync. Anything later may, after a power cut, be there, be gone,
//! or be there in part (some pages written back, others not). Files are told apart by
//! inode and birth time (see [`Faults::file_id`]), so a rename is a new name for the same
//! file, and a reused inode number is another file.
//!
//! Under [`Faults::record_syncs`], each fsync of a file in the directory first reads the
//! file's whole content (through the open descriptor, so whatever name it has now), then
//! fsyncs, and only if that succeeded stores the content in the shadow directory; each
//! fsync of the directory lists its entries, fsyncs, and only then stores the list. One
//! lock serialises them all, so the shadow never holds a content newer than the fsync that
//! covered it (content written after the read but before the fsync returned is counted as
//! not durable, which the model allows). The shadow directory holds:
//!
//! - `files/<id>`: each file's content as of its last completed fsync;
//! - `DIR`: the directory's entries as of its last completed fsync, one `<id> <name>` a
//!   line (files only: the engine makes no subdirectories);
//! - `LOG`: one line per recorded fsync, in order, for whoever investigates a failure.
//!
//! Each is replaced whole by a rename, so a process killed while recording leaves the
//! previous state (its fsync never returned to the engine, so nothing depended on it). When
//! recording starts, everything in the directory counts as durable, as on a machine that
//! has been idle a while.

use std::collections::HashSet;
use std::fs::{self, File};
use std::io::{self, Write};
use std::os::fd::AsRawFd;
use std::os::unix::fs::MetadataExt;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::Arc;

use parking_lot::{Mutex, RwLock};

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
    /// The directory, canonical.
    dir: PathBuf,
    /// Where syncs are recorded, once [`Faults::record_syncs`] was called.
    recorder: Mutex<Option<Recorder>>,
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
            dir: dir.clone(),
            recorder: Mutex::new(None),
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

    /// From now on, records in `shadow` (created if needed, emptied first) what each
    /// completed fsync in the directory made durable, so that a test can build the
    /// directory a power cut would leave: see the module's documentation for the model and
    /// the shadow's layout. Everything the directory holds now is recorded as durable.
    ///
    /// Costs a copy of the whole file at every fsync: for tests and drills only. A failure
    /// to record fails the fsync being recorded (`Error::SyncFailed`).
    pub fn record_syncs(&self, shadow: impl Into<PathBuf>) -> Result<()> {
        let shadow = shadow.into();
        let mut recorder = self.recorder.lock();
        let r = Recorder::start(&self.dir, shadow.clone()).map_err(|e| Error::io(&shadow, e))?;
        *recorder = Some(r);
        Ok(())
    }

    /// How the shadow of [`Faults::record_syncs`] names the file `meta` describes: its
    /// inode number and, where the file system keeps one, its birth time (so that a file
    /// created on a freed inode is not taken for the one deleted), as `<ino>-<sec>.<nsec>`.
    pub fn file_id(meta: &fs::Metadata) -> String {
        match meta
            .created()
            .ok()
            .and_then(|t| t.duration_since(std::time::UNIX_EPOCH).ok())
        {
            Some(born) => format!(
                "{}-{}.{:09}",
                meta.ino(),
                born.as_secs(),
                born.subsec_nanos()
            ),
            None => meta.ino().to_string(),
        }
    }

    /// fsyncs `file`, recording its content first if recording.
    fn sync_file(&self, file: &File, path: &Path, data_only: bool) -> io::Result<()> {
        let mut recorder = self.recorder.lock();
        let Some(r) = recorder.as_mut() else {
            drop(recorder);
            return sync(file, data_only);
        };
        let id = Faults::file_id(&file.metadata()?);
        let content = fs::read(format!("/proc/self/fd/{}", file.as_raw_fd()))?;
        sync(file, data_only)?;
        r.file_synced(&id, path, &content)
    }

    /// fsyncs directory `dir`, recording its entries first if recording (and `dir` is
    /// the one recorded).
    fn sync_dir(&self, dir: &Path) -> io::Result<()> {
        let mut recorder = self.recorder.lock();
        let Some(r) = recorder
            .as_mut()
            .filter(|_| canonical(dir) == canonical(&self.dir))
        else {
            drop(recorder);
            return File::open(dir).and_then(|d| d.sync_all());
        };
        let entries = list_files(dir)?;
        File::open(dir).and_then(|d| d.sync_all())?;
        r.dir_synced(&entries)
    }
}

/// The shadow directory of [`Faults::record_syncs`] and the count of fsyncs recorded.
#[derive(Debug)]
struct Recorder {
    shadow: PathBuf,
    log: File,
    events: u64,
}

impl Recorder {
    /// Empties `shadow` and records everything in `dir` as durable.
    fn start(dir: &Path, shadow: PathBuf) -> io::Result<Recorder> {
        match fs::remove_dir_all(&shadow) {
            Err(e) if e.kind() != io::ErrorKind::NotFound => return Err(e),
            _ => {}
        }
        fs::create_dir_all(shadow.join("files"))?;
        let log = File::create(shadow.join("LOG"))?;
        let mut r = Recorder {
            shadow,
            log,
            events: 0,
        };
        let entries = list_files(dir)?;
        for (id, name) in &entries {
            r.store(id, &fs::read(dir.join(name))?)?;
        }
        r.dir_synced(&entries)?;
        Ok(r)
    }

    /// Replaces `files/<id>` with `content`, whole.
    fn store(&self, id: &str, content: &[u8]) -> io::Result<()> {
        let files = self.shadow.join("files");
        let tmp = files.join(format!("{id}.tmp"));
        fs::write(&tmp, content)?;
        fs::rename(&tmp, files.join(id))
    }

    fn file_synced(&mut self, id: &str, path: &Path, content: &[u8]) -> io::Result<()> {
        self.store(id, content)?;
        self.events += 1;
        writeln!(
            self.log,
            "{} file {id} {} {}",
            self.events,
            path.file_name().unwrap_or_default().to_string_lossy(),
            content.len()
        )
    }

    /// Replaces `DIR` with `entries`, and forgets the content of files no longer named:
    /// once this listing is durable they cannot come back.
    fn dir_synced(&mut self, entries: &[(String, String)]) -> io::Result<()> {
        let tmp = self.shadow.join("DIR.tmp");
        let mut text = io::BufWriter::new(File::create(&tmp)?);
        for (id, name) in entries {
            writeln!(text, "{id} {name}")?;
        }
        text.into_inner().map_err(io::IntoInnerError::into_error)?;
        fs::rename(&tmp, self.shadow.join("DIR"))?;
        let live: HashSet<&str> = entries.iter().map(|(id, _)| id.as_str()).collect();
        for entry in fs::read_dir(self.shadow.join("files"))? {
            let entry = entry?;
            let name = entry.file_name();
            if !live.contains(name.to_string_lossy().as_ref()) {
                fs::remove_file(entry.path())?;
            }
        }
        self.events += 1;
        let names: Vec<&str> = entries.iter().map(|(_, name)| name.as_str()).collect();
        writeln!(self.log, "{} dir {}", self.events, names.join(" "))
    }
}

/// The regular files in `dir` as (id, name), by name. A file removed while listing is left
/// out.
fn list_files(dir: &Path) -> io::Result<Vec<(String, String)>> {
    let mut out = Vec::new();
    for entry in fs::read_dir(dir)? {
        let entry = entry?;
        let meta = match fs::symlink_metadata(entry.path()) {
            Ok(meta) => meta,
            Err(e) if e.kind() == io::ErrorKind::NotFound => continue,
            Err(e) => return Err(e),
        };
        if meta.is_file() {
            let name = entry.file_name().to_string_lossy().into_owned();
            out.push((Faults::file_id(&meta), name));
        }
    }
    out.sort_by(|a, b| a.1.cmp(&b.1));
    Ok(out)
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
        Some(f) => f.sync_file(file, path, data_only),
        None => sync(file, data_only),
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
        Some(f) => f.sync_dir(dir),
        None => File::open(dir).and_then(|d| d.sync_all()),
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

    #[test]
    fn recording_keeps_each_file_as_of_its_last_fsync() {
        use std::io::Write as _;
        let dir = tempfile::tempdir().expect("tempdir");
        let shadow = tempfile::tempdir().expect("tempdir");
        fs::write(dir.path().join("old"), b"before").expect("write");
        let faults = Faults::for_dir(dir.path());
        faults.record_syncs(shadow.path()).expect("record");
        let id_of =
            |name: &str| Faults::file_id(&fs::metadata(dir.path().join(name)).expect("stat"));
        let stored = |id: &str| fs::read(shadow.path().join("files").join(id)).ok();
        assert_eq!(stored(&id_of("old")).as_deref(), Some(&b"before"[..]));

        let path = dir.path().join("new");
        let mut file = File::create(&path).expect("create");
        file.write_all(b"synced").expect("write");
        sync_file(&file, &path, true).expect("fsync");
        file.write_all(b" not synced").expect("write");
        let id = id_of("new");
        assert_eq!(stored(&id).as_deref(), Some(&b"synced"[..]));
        // Its name is not durable until the directory's fsync.
        let listed = || fs::read_to_string(shadow.path().join("DIR")).expect("DIR");
        assert!(!listed().contains(" new\n"), "{}", listed());
        fs::remove_file(dir.path().join("old")).expect("rm");
        sync_dir(dir.path()).expect("dir fsync");
        assert_eq!(listed(), format!("{id} new\n"));

        // A failed fsync records nothing.
        faults.set_fail_syncs(true);
        sync_file(&file, &path, true).expect_err("injected EIO");
        faults.set_fail_syncs(false);
        assert_eq!(stored(&id).as_deref(), Some(&b"synced"[..]));
        let log = fs::read_to_string(shadow.path().join("LOG")).expect("LOG");
        assert_eq!(log.lines().count(), 3, "{log}");
    }
}
