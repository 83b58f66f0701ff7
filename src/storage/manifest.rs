//! The manifest: which tables exist, at which level, and which WAL segments still matter.
//!
//! It is an append-only log of version edits (tables added and removed, the first WAL
//! segment still needed, the next file number, the last sequence number in tables), one
//! checksummed record per edit in the WAL's record format (kind `KIND_EDIT`). `CURRENT`
//! names the live manifest file; it is replaced by writing a temporary file, fsyncing it,
//! renaming it over `CURRENT` and fsyncing the directory, so a crash leaves either the old
//! or the new one. Every open starts a fresh manifest holding one edit that describes the
//! whole state, so manifests never grow without bound. This module owns the bytes; which
//! edits to make is the version set's business.

use std::fs::{self, File, OpenOptions};
use std::io::Write;
use std::os::unix::fs::FileExt;
use std::path::{Path, PathBuf};

use bytes::Bytes;

use super::error::{Error, Result};
use super::faults;
use super::table::format::{get_varint, put_varint};
use super::wal::{self, KIND_EDIT};

/// Number of levels: level 0 (overlapping tables, newest first) and six sorted levels.
pub(crate) const LEVELS: usize = 7;

/// What the manifest records of one table.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct TableMeta {
    pub number: u64,
    pub size: u64,
    pub smallest: Bytes,
    pub largest: Bytes,
}

/// One change to the set of tables and counters. Fields left `None` are unchanged.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub(crate) struct VersionEdit {
    /// WAL segments numbered below this are fully in tables and may be deleted.
    pub log_number: Option<u64>,
    /// The next table or manifest file number to hand out.
    pub next_file: Option<u64>,
    /// The highest sequence number held by tables.
    pub last_sequence: Option<u64>,
    /// (level, table number) removed.
    pub deleted: Vec<(usize, u64)>,
    /// (level, table) added.
    pub added: Vec<(usize, TableMeta)>,
}

const TAG_LOG_NUMBER: u64 = 1;
const TAG_NEXT_FILE: u64 = 2;
const TAG_LAST_SEQUENCE: u64 = 3;
const TAG_DELETED: u64 = 4;
const TAG_ADDED: u64 = 5;

fn put_bytes(buf: &mut Vec<u8>, b: &[u8]) {
    put_varint(buf, b.len() as u64);
    buf.extend_from_slice(b);
}

impl VersionEdit {
    /// Encodes the edit as a sequence of `tag varint | fields` entries.
    pub(crate) fn encode(&self, buf: &mut Vec<u8>) {
        for (tag, v) in [
            (TAG_LOG_NUMBER, self.log_number),
            (TAG_NEXT_FILE, self.next_file),
            (TAG_LAST_SEQUENCE, self.last_sequence),
        ] {
            if let Some(v) = v {
                put_varint(buf, tag);
                put_varint(buf, v);
            }
        }
        for &(level, number) in &self.deleted {
            put_varint(buf, TAG_DELETED);
            put_varint(buf, level as u64);
            put_varint(buf, number);
        }
        for (level, t) in &self.added {
            put_varint(buf, TAG_ADDED);
            put_varint(buf, *level as u64);
            put_varint(buf, t.number);
            put_varint(buf, t.size);
            put_bytes(buf, &t.smallest);
            put_bytes(buf, &t.largest);
        }
    }

    /// Decodes an edit; `None` if it is malformed (an unknown tag, a level out of range,
    /// a field cut short).
    pub(crate) fn decode(data: &Bytes) -> Option<VersionEdit> {
        let mut edit = VersionEdit::default();
        let mut pos = 0;
        let level = |pos: &mut usize| {
            usize::try_from(get_varint(data, pos)?)
                .ok()
                .filter(|&l| l < LEVELS)
        };
        let bytes = |pos: &mut usize| {
            let n = usize::try_from(get_varint(data, pos)?).ok()?;
            let end = pos.checked_add(n).filter(|&e| e <= data.len())?;
            let b = data.slice(*pos..end);
            *pos = end;
            Some(b)
        };
        while pos < data.len() {
            match get_varint(data, &mut pos)? {
                TAG_LOG_NUMBER => edit.log_number = Some(get_varint(data, &mut pos)?),
                TAG_NEXT_FILE => edit.next_file = Some(get_varint(data, &mut pos)?),
                TAG_LAST_SEQUENCE => edit.last_sequence = Some(get_varint(data, &mut pos)?),
                TAG_DELETED => {
                    let l = level(&mut pos)?;
                    edit.deleted.push((l, get_varint(data, &mut pos)?));
                }
                TAG_ADDED => {
                    let l = level(&mut pos)?;
                    let number = get_varint(data, &mut pos)?;
                    let size = get_varint(data, &mut pos)?;
                    let smallest = bytes(&mut pos)?;
                    let largest = bytes(&mut pos)?;
                    edit.added.push((
                        l,
                        TableMeta {
                            number,
                            size,
                            smallest,
                            largest,
                        },
                    ));
                }
                _ => return None,
            }
        }
        Some(edit)
    }
}

/// Path of table number `n`.
pub(crate) fn table_path(dir: &Path, n: u64) -> PathBuf {
    dir.join(format!("{n:06}.sst"))
}

/// Path of manifest number `n`.
pub(crate) fn manifest_path(dir: &Path, n: u64) -> PathBuf {
    dir.join(format!("MANIFEST-{n:06}"))
}

/// The manifest number `CURRENT` names, or `None` if there is no `CURRENT` (a new
/// database, or one written before tables existed).
pub(crate) fn read_current(dir: &Path) -> Result<Option<u64>> {
    let path = dir.join("CURRENT");
    let text = match fs::read_to_string(&path) {
        Ok(t) => t,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(None),
        Err(e) => return Err(Error::io(&path, e)),
    };
    text.trim_end_matches('\n')
        .strip_prefix("MANIFEST-")
        .and_then(|n| n.parse::<u64>().ok())
        .map(Some)
        .ok_or_else(|| {
            Error::corruption(
                &path,
                0,
                format!("CURRENT does not name a manifest: {text:?}"),
            )
        })
}

/// Reads every edit of a manifest. A damaged record at the very end (a crash while
/// appending: that edit was never acknowledged, and the files it named are orphans) is
/// ignored; damage anywhere else is an error naming the file and offset.
pub(crate) fn read_manifest(path: &Path) -> Result<Vec<VersionEdit>> {
    let data = Bytes::from(fs::read(path).map_err(|e| Error::io(path, e))?);
    let mut edits = Vec::new();
    let mut off = 0;
    while off < data.len() {
        match wal::decode_at(&data, off) {
            Ok((KIND_EDIT, range)) => {
                let edit = VersionEdit::decode(&data.slice(range.clone()))
                    .ok_or_else(|| Error::corruption(path, off as u64, "malformed version edit"))?;
                edits.push(edit);
                off = range.end;
            }
            Ok(_) => {
                return Err(Error::corruption(
                    path,
                    off as u64,
                    "WAL record in a manifest",
                ))
            }
            Err(bad) => {
                if wal::valid_record_after(&data, off, KIND_EDIT, 0) {
                    return Err(Error::corruption(path, off as u64, bad.reason()));
                }
                tracing::warn!(
                    file = %path.display(),
                    offset = off,
                    reason = bad.reason(),
                    "ignoring an unfinished edit at the end of the manifest"
                );
                break;
            }
        }
    }
    Ok(edits)
}

/// The live manifest file, appended to by the version set.
#[derive(Debug)]
pub(crate) struct Manifest {
    file: File,
    path: PathBuf,
    number: u64,
    /// Bytes of whole records written: where the next one goes.
    len: u64,
}

impl Manifest {
    /// Creates manifest `number` holding `base` (the whole state), makes it durable and
    /// points `CURRENT` at it.
    pub(crate) fn create(dir: &Path, number: u64, base: &VersionEdit) -> Result<Manifest> {
        let path = manifest_path(dir, number);
        let file = OpenOptions::new()
            .write(true)
            .create(true)
            .truncate(true)
            .open(&path)
            .map_err(|e| Error::io(&path, e))?;
        let mut m = Manifest {
            file,
            path,
            number,
            len: 0,
        };
        m.append(base)?;
        // The new manifest's name must be durable before `CURRENT` names it: nothing
        // orders the two entries otherwise, and a power cut could keep the rename of
        // `CURRENT` but not the manifest's creation, and the open after it would fail for
        // want of the manifest (found by tests/storage_power_cut.rs).
        wal::sync_dir(dir)?;
        set_current(dir, number)?;
        Ok(m)
    }

    pub(crate) fn number(&self) -> u64 {
        self.number
    }

    /// Appends `edit` and fsyncs it: once this returns, the edit survives a crash.
    pub(crate) fn append(&mut self, edit: &VersionEdit) -> Result<()> {
        let mut payload = Vec::new();
        edit.encode(&mut payload);
        let mut rec = Vec::with_capacity(payload.len() + wal::HEADER);
        wal::encode_record(&mut rec, KIND_EDIT, &payload);
        let written = faults::check_space(&self.path, rec.len() as u64).and_then(|()| {
            self.file
                .write_all_at(&rec, self.len)
                .map_err(|e| Error::io(&self.path, e))
        });
        if let Err(e) = written {
            // A record cut short by a full disk must not stay in front of the next one:
            // recovery would take it for damage in the middle of the manifest.
            self.file
                .set_len(self.len)
                .map_err(|e| Error::io(&self.path, e))?;
            return Err(e);
        }
        faults::sync_file(&self.file, &self.path, true)?;
        self.len += rec.len() as u64;
        Ok(())
    }
}

/// Points `CURRENT` at manifest `number`: temporary file, fsync, rename, fsync directory.
fn set_current(dir: &Path, number: u64) -> Result<()> {
    let tmp = dir.join("CURRENT.tmp");
    let text = format!("MANIFEST-{number:06}\n");
    faults::check_space(&tmp, text.len() as u64)?;
    let mut f = File::create(&tmp).map_err(|e| Error::io(&tmp, e))?;
    f.write_all(text.as_bytes())
        .map_err(|e| Error::io(&tmp, e))?;
    faults::sync_file(&f, &tmp, false)?;
    let current = dir.join("CURRENT");
    fs::rename(&tmp, &current).map_err(|e| Error::io(&current, e))?;
    wal::sync_dir(dir)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn sample() -> VersionEdit {
        VersionEdit {
            log_number: Some(7),
            next_file: Some(12),
            last_sequence: Some(1 << 40),
            deleted: vec![(0, 3), (1, 4)],
            added: vec![(
                1,
                TableMeta {
                    number: 11,
                    size: 4096,
                    smallest: Bytes::from_static(b"a"),
                    largest: Bytes::from_static(b"zz"),
                },
            )],
        }
    }

    #[test]
    fn edits_round_trip() {
        let mut buf = Vec::new();
        sample().encode(&mut buf);
        assert_eq!(VersionEdit::decode(&Bytes::from(buf)), Some(sample()));
        assert_eq!(
            VersionEdit::decode(&Bytes::new()),
            Some(VersionEdit::default())
        );
    }

    #[test]
    fn malformed_edits_are_rejected() {
        let mut buf = Vec::new();
        sample().encode(&mut buf);
        for cut in 1..buf.len() {
            // Every strict prefix either decodes to less or is rejected; never panics.
            let _ = VersionEdit::decode(&Bytes::copy_from_slice(&buf[..cut]));
        }
        assert_eq!(VersionEdit::decode(&Bytes::from_static(&[99, 1])), None);
        // Level 9 is out of range.
        assert_eq!(VersionEdit::decode(&Bytes::from_static(&[4, 9, 1])), None);
    }

    #[test]
    fn manifest_and_current_survive_reopen_and_a_torn_tail() {
        let dir = tempfile::tempdir().expect("tempdir");
        let mut m = Manifest::create(dir.path(), 5, &sample()).expect("create");
        let second = VersionEdit {
            log_number: Some(9),
            ..VersionEdit::default()
        };
        m.append(&second).expect("append");
        assert_eq!(read_current(dir.path()).expect("current"), Some(5));
        let path = manifest_path(dir.path(), 5);
        assert_eq!(
            read_manifest(&path).expect("read"),
            vec![sample(), second.clone()]
        );

        // A half-written third record is ignored.
        let mut f = OpenOptions::new().append(true).open(&path).expect("open");
        f.write_all(&[1, 2, 3, 4, 200, 0]).expect("write");
        assert_eq!(read_manifest(&path).expect("read"), vec![sample(), second]);

        // Damage in the middle is an error naming the file.
        let mut data = fs::read(&path).expect("read");
        data[wal::HEADER + 1] ^= 0x40;
        fs::write(&path, &data).expect("write");
        let err = read_manifest(&path).expect_err("corrupt");
        assert!(err.to_string().contains("MANIFEST-000005"), "{err}");
    }

    #[test]
    fn missing_or_bad_current() {
        let dir = tempfile::tempdir().expect("tempdir");
        assert_eq!(read_current(dir.path()).expect("none"), None);
        fs::write(dir.path().join("CURRENT"), "nonsense").expect("write");
        assert!(read_current(dir.path()).is_err());
    }
}
