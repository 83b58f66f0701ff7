//! Checkpoints: a consistent copy of a live database in another directory, taken while
//! writes go on, and the restore that puts one in place of a database's files.
//!
//! A checkpoint is what `Db::open` recovers from anyway: the installed version's tables
//! (immutable, so hard-linked; pinned by the version while they are linked), every WAL
//! segment from the manifest's log number on (finished segments are immutable too and
//! are linked; the one being written is copied up to its last whole record, read where
//! no group was being written), and a fresh manifest naming those tables. No lock is held
//! while files are linked or copied, so writes, flushes and compactions go on: a flush
//! that deletes a needed segment meanwhile makes the checkpoint start again.
//!
//! This module never writes into the database it copies, and a restore never runs on an
//! open database (it takes the directory's lock).

use std::fs::{self, File};
use std::io::{self, Read, Write};
use std::path::Path;

use super::commit::Committer;
use super::error::{Error, Result};
use super::faults;
use super::manifest::{self, Manifest, LEVELS};
use super::tree::Tree;
use super::wal;

/// How many times a checkpoint starts again after a flush deleted a segment under it.
const ATTEMPTS: usize = 8;
/// In a checkpoint being restored: the old files of the target are deleted already.
const CLEARED: &str = "RESTORE-CLEARED";

/// Why one attempt did not finish.
enum Attempt {
    /// A file vanished (a flush or compaction retired it): try again.
    Retry,
    Failed(Error),
}

impl From<Error> for Attempt {
    fn from(e: Error) -> Self {
        Attempt::Failed(e)
    }
}

/// Takes a checkpoint of the database in `src` into `dest`; see `Db::checkpoint`.
pub(crate) fn take(src: &Path, dest: &Path, tree: &Tree, committer: &Committer) -> Result<u64> {
    if fs::read_dir(dest).is_ok_and(|mut entries| entries.next().is_some()) {
        return Err(Error::CheckpointExists {
            path: dest.to_path_buf(),
        });
    }
    for _ in 0..ATTEMPTS {
        fs::create_dir_all(dest).map_err(|e| Error::io(dest, e))?;
        match attempt(src, dest, tree, committer) {
            Ok(seq) => return Ok(seq),
            Err(Attempt::Failed(e)) => {
                let _ = fs::remove_dir_all(dest);
                return Err(e);
            }
            Err(Attempt::Retry) => {
                fs::remove_dir_all(dest).map_err(|e| Error::io(dest, e))?;
            }
        }
    }
    Err(Error::io(
        dest,
        io::Error::other("the log kept moving under the checkpoint; try again"),
    ))
}

fn attempt(
    src: &Path,
    dest: &Path,
    tree: &Tree,
    committer: &Committer,
) -> std::result::Result<u64, Attempt> {
    // The version first, then the log's end: everything after the version's tables is in
    // segments from its log number on, up to that end; the hold keeps those segments.
    let _hold = tree.hold_segments();
    let (version, log_number, last_sequence) = tree.recorded();
    let end = committer.log_end();
    let mut highest_table = 0;
    for level in 0..LEVELS {
        for table in version.tables(level) {
            let n = table.number();
            highest_table = highest_table.max(n);
            link_or_copy(
                &manifest::table_path(src, n),
                &manifest::table_path(dest, n),
            )?;
        }
    }
    for n in wal::list_segments(src)? {
        if n < log_number || n > end.segment_number {
            continue;
        }
        let (from, to) = (wal::segment_path(src, n), wal::segment_path(dest, n));
        if n < end.segment_number {
            link_or_copy(&from, &to)?;
        } else {
            copy_prefix(&from, &to, end.segment_size)?;
        }
    }
    let number = highest_table + 1;
    let mut base = version.snapshot_edit();
    base.log_number = Some(log_number);
    base.next_file = Some(number + 1);
    base.last_sequence = Some(last_sequence);
    drop(Manifest::create(dest, number, &base)?);
    wal::sync_dir(dest)?;
    Ok(end.last_seq)
}

/// Hard-links `from` as `to`, or copies it where the file system cannot link (another
/// device, no link support). A vanished source asks for a new attempt.
fn link_or_copy(from: &Path, to: &Path) -> std::result::Result<(), Attempt> {
    match fs::hard_link(from, to) {
        Ok(()) => Ok(()),
        Err(e) if e.kind() == io::ErrorKind::NotFound => Err(Attempt::Retry),
        Err(_) => {
            let len = match fs::metadata(from) {
                Ok(m) => m.len(),
                Err(e) if e.kind() == io::ErrorKind::NotFound => return Err(Attempt::Retry),
                Err(e) => return Err(Error::io(from, e).into()),
            };
            copy_prefix(from, to, len)
        }
    }
}

/// Copies the first `len` bytes of `from` into a new file `to`, and fsyncs it.
fn copy_prefix(from: &Path, to: &Path, len: u64) -> std::result::Result<(), Attempt> {
    let source = match File::open(from) {
        Ok(f) => f,
        Err(e) if e.kind() == io::ErrorKind::NotFound => return Err(Attempt::Retry),
        Err(e) => return Err(Error::io(from, e).into()),
    };
    let mut out = File::create(to).map_err(|e| Error::io(to, e))?;
    let copied = io::copy(&mut source.take(len), &mut out).map_err(|e| Error::io(from, e))?;
    if copied != len {
        return Err(Error::io(from, io::Error::from(io::ErrorKind::UnexpectedEof)).into());
    }
    out.flush().map_err(|e| Error::io(to, e))?;
    faults::sync_file(&out, to, false)?;
    Ok(())
}

/// Whether `name` is one of the engine's files (the rest of a directory is left alone).
fn is_engine_file(name: &str) -> bool {
    let numbered = |stem: &str| !stem.is_empty() && stem.bytes().all(|b| b.is_ascii_digit());
    name.strip_suffix(".wal").is_some_and(numbered)
        || name.strip_suffix(".sst").is_some_and(numbered)
        || name.ends_with(".sst.tmp")
        || name.contains(".wal.after-hole-")
        || name.starts_with("MANIFEST-")
        || name == "CURRENT"
        || name == "CURRENT.tmp"
}

/// Replaces the database in `dir` (which must not be open) with the checkpoint in
/// `checkpoint` (a directory on the same file system, which is consumed): the engine's
/// files in `dir` are deleted, then every file of the checkpoint is moved in (files of
/// the caller's own placed in the checkpoint too). Crash-safe by repetition: while the
/// checkpoint directory exists the restore is unfinished, and calling this again with the
/// same arguments finishes it.
pub fn restore_checkpoint(checkpoint: &Path, dir: &Path) -> Result<()> {
    fs::create_dir_all(dir).map_err(|e| Error::io(dir, e))?;
    let _lock = super::db::lock_dir(dir)?;
    let cleared = checkpoint.join(CLEARED);
    if !cleared.exists() {
        for entry in fs::read_dir(dir).map_err(|e| Error::io(dir, e))? {
            let entry = entry.map_err(|e| Error::io(dir, e))?;
            let name = entry.file_name();
            if name.to_str().is_some_and(is_engine_file) {
                let path = entry.path();
                fs::remove_file(&path).map_err(|e| Error::io(&path, e))?;
            }
        }
        wal::sync_dir(dir)?;
        File::create(&cleared).map_err(|e| Error::io(&cleared, e))?;
        wal::sync_dir(checkpoint)?;
    }
    for entry in fs::read_dir(checkpoint).map_err(|e| Error::io(checkpoint, e))? {
        let entry = entry.map_err(|e| Error::io(checkpoint, e))?;
        if entry.file_name() == CLEARED {
            continue;
        }
        let to = dir.join(entry.file_name());
        fs::rename(entry.path(), &to).map_err(|e| Error::io(&to, e))?;
    }
    wal::sync_dir(dir)?;
    fs::remove_dir_all(checkpoint).map_err(|e| Error::io(checkpoint, e))?;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::is_engine_file;

    #[test]
    fn only_the_engines_files_are_cleared() {
        for name in ["000001.wal", "000012.sst", "MANIFEST-000003", "CURRENT"] {
            assert!(is_engine_file(name), "{name}");
        }
        for name in ["LOCK", "replication.id", "cairn.toml", "x.wal.bak", ".wal"] {
            assert!(!is_engine_file(name), "{name}");
        }
    }
}
