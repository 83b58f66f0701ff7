//! Versions: which tables make up the database at one point in time, and the version set
//! that moves from one to the next.
//!
//! A `Version` is immutable and shared by `Arc`: level 0 holds tables in flush order
//! (newest first, key ranges may overlap); each deeper level holds tables sorted by key,
//! their ranges disjoint, so a key is in at most one table per level. A reader holding a
//! version keeps its tables open (and their files on disk) however the tree changes
//! meanwhile. The `VersionSet` owns the manifest: every change is an edit, appended and
//! fsynced before the new version is handed out. Recovery folds the manifest's edits back
//! into a version and clears away files no version names.

use std::collections::{HashMap, HashSet};
use std::fs;
use std::path::{Path, PathBuf};
use std::sync::Arc;

use super::error::{Error, Result};
use super::level::Level;
use super::manifest::{self, Manifest, TableMeta, VersionEdit, LEVELS};
use super::source::{Source, Visible};
use super::table::Table;
use super::wal;

/// The tables of every level at one point in time.
#[derive(Debug, Clone)]
pub(crate) struct Version {
    /// Level 0, newest table first.
    pub level0: Vec<Arc<Table>>,
    /// Levels 1 to `LEVELS - 1`, at index `level - 1`.
    pub sorted: Vec<Level>,
}

impl Default for Version {
    fn default() -> Self {
        Version {
            level0: Vec::new(),
            sorted: vec![Level::default(); LEVELS - 1],
        }
    }
}

impl Version {
    /// The newest version of `key` at `snap` in the tables, tombstones included.
    pub(crate) fn get(&self, key: &[u8], snap: u64) -> Result<Option<Visible>> {
        for t in &self.level0 {
            let p = t.properties();
            if key < &p.smallest[..] || key > &p.largest[..] {
                continue;
            }
            if let Some(v) = t.get(key, snap)? {
                return Ok(Some(v));
            }
        }
        for level in &self.sorted {
            if let Some(v) = level.get(key, snap)? {
                return Ok(Some(v));
            }
        }
        Ok(None)
    }

    /// The tables of `level` (0 included).
    pub(crate) fn tables(&self, level: usize) -> &[Arc<Table>] {
        if level == 0 {
            &self.level0
        } else {
            &self.sorted[level - 1].tables
        }
    }

    /// Bytes in the tables of `level`.
    pub(crate) fn level_bytes(&self, level: usize) -> u64 {
        self.tables(level).iter().map(|t| t.file_size()).sum()
    }

    /// Whether a table in a level deeper than `level` (1 or deeper) covers `key`.
    pub(crate) fn may_hold_below(&self, level: usize, key: &[u8]) -> bool {
        self.sorted[level..].iter().any(|l| {
            l.tables
                .get(l.find(key))
                .is_some_and(|t| &t.properties().smallest[..] <= key)
        })
    }

    /// The tables of `level` whose key range meets [`smallest`, `largest`].
    pub(crate) fn overlapping(
        &self,
        level: usize,
        smallest: &[u8],
        largest: &[u8],
    ) -> Vec<Arc<Table>> {
        self.tables(level)
            .iter()
            .filter(|t| {
                let p = t.properties();
                &p.largest[..] >= smallest && &p.smallest[..] <= largest
            })
            .cloned()
            .collect()
    }

    /// This version with `edit` applied; `added` holds the opened tables the edit adds.
    fn apply(&self, edit: &VersionEdit, added: &HashMap<u64, Arc<Table>>) -> Result<Version> {
        let mut next = self.clone();
        let deleted: HashSet<(usize, u64)> = edit.deleted.iter().copied().collect();
        next.level0.retain(|t| !deleted.contains(&(0, t.number())));
        for (i, level) in next.sorted.iter_mut().enumerate() {
            level
                .tables
                .retain(|t| !deleted.contains(&(i + 1, t.number())));
        }
        for (level, meta) in &edit.added {
            let table = added.get(&meta.number).cloned().ok_or_else(|| {
                Error::corruption(
                    manifest::table_path(Path::new(""), meta.number),
                    0,
                    "edit adds a table that was not opened",
                )
            })?;
            if *level == 0 {
                next.level0.push(table);
            } else {
                next.sorted[level - 1].tables.push(table);
            }
        }
        // Newest (highest numbered) level-0 table first; sorted levels by key.
        next.level0.sort_by_key(|t| std::cmp::Reverse(t.number()));
        for level in &mut next.sorted {
            level
                .tables
                .sort_by(|a, b| a.properties().smallest.cmp(&b.properties().smallest));
        }
        Ok(next)
    }

    /// The edit that recreates this version from nothing.
    pub(crate) fn snapshot_edit(&self) -> VersionEdit {
        let mut edit = VersionEdit::default();
        for level in 0..LEVELS {
            for t in self.tables(level) {
                edit.added.push((level, meta_of(t)));
            }
        }
        edit
    }
}

/// What the manifest records of an open table.
pub(crate) fn meta_of(t: &Table) -> TableMeta {
    let p = t.properties();
    TableMeta {
        number: t.number(),
        size: t.file_size(),
        smallest: p.smallest.clone(),
        largest: p.largest.clone(),
    }
}

/// The current version and the manifest that records how it came to be.
#[derive(Debug)]
pub(crate) struct VersionSet {
    dir: PathBuf,
    manifest: Manifest,
    current: Arc<Version>,
    next_file: u64,
    /// WAL segments below this number are fully in tables.
    log_number: u64,
    /// Highest sequence number in tables.
    last_sequence: u64,
}

impl VersionSet {
    /// Rebuilds the version `CURRENT`'s manifest describes, opens its tables, starts a new
    /// manifest, and deletes files no longer part of the database (orphans of a crash during
    /// a flush or compaction, replaced manifests).
    pub(crate) fn recover(dir: &Path) -> Result<VersionSet> {
        let mut log_number = 0;
        let mut next_file = 1;
        let mut last_sequence = 0;
        let mut metas: Vec<Vec<TableMeta>> = vec![Vec::new(); LEVELS];
        let old_manifest = manifest::read_current(dir)?;
        if let Some(n) = old_manifest {
            let path = manifest::manifest_path(dir, n);
            for edit in manifest::read_manifest(&path)? {
                log_number = edit.log_number.unwrap_or(log_number);
                next_file = edit.next_file.unwrap_or(next_file);
                last_sequence = edit.last_sequence.unwrap_or(last_sequence);
                for (level, number) in &edit.deleted {
                    metas[*level].retain(|m| m.number != *number);
                }
                for (level, meta) in edit.added {
                    metas[level].push(meta);
                }
            }
            next_file = next_file.max(n + 1);
        }
        let mut opened = HashMap::new();
        let mut edit = VersionEdit::default();
        for (level, list) in metas.into_iter().enumerate() {
            for meta in list {
                let path = manifest::table_path(dir, meta.number);
                let table = Table::open(&path, meta.number)?;
                let p = table.properties();
                if p.smallest != meta.smallest || p.largest != meta.largest {
                    return Err(Error::corruption(
                        &path,
                        0,
                        "table's key range differs from the manifest's record of it",
                    ));
                }
                next_file = next_file.max(meta.number + 1);
                opened.insert(meta.number, table);
                edit.added.push((level, meta));
            }
        }
        let current = Version::default().apply(&edit, &opened)?;
        let number = next_file;
        next_file += 1;
        let mut base = current.snapshot_edit();
        base.log_number = Some(log_number);
        base.next_file = Some(next_file);
        base.last_sequence = Some(last_sequence);
        let manifest = Manifest::create(dir, number, &base)?;
        let set = VersionSet {
            dir: dir.to_path_buf(),
            manifest,
            current: Arc::new(current),
            next_file,
            log_number,
            last_sequence,
        };
        set.remove_obsolete_files()?;
        Ok(set)
    }

    /// Deletes table files no version names, unfinished temporary files, and manifests
    /// other than the live one.
    fn remove_obsolete_files(&self) -> Result<()> {
        let live: HashSet<u64> = (0..LEVELS)
            .flat_map(|l| self.current.tables(l).iter().map(|t| t.number()))
            .collect();
        let mut removed = false;
        for entry in fs::read_dir(&self.dir).map_err(|e| Error::io(&self.dir, e))? {
            let entry = entry.map_err(|e| Error::io(&self.dir, e))?;
            let name = entry.file_name();
            let Some(name) = name.to_str() else { continue };
            let obsolete = if let Some(stem) = name.strip_suffix(".sst") {
                stem.parse::<u64>().is_ok_and(|n| !live.contains(&n))
            } else if let Some(n) = name.strip_prefix("MANIFEST-") {
                n.parse::<u64>().is_ok_and(|n| n != self.manifest.number())
            } else {
                name.ends_with(".sst.tmp") || name == "CURRENT.tmp"
            };
            if obsolete {
                let path = entry.path();
                tracing::info!(file = %path.display(), "removing obsolete file");
                fs::remove_file(&path).map_err(|e| Error::io(&path, e))?;
                removed = true;
            }
        }
        if removed {
            wal::sync_dir(&self.dir)?;
        }
        Ok(())
    }

    pub(crate) fn current(&self) -> Arc<Version> {
        self.current.clone()
    }

    pub(crate) fn dir(&self) -> &Path {
        &self.dir
    }

    /// A fresh number for a table file.
    pub(crate) fn new_file_number(&mut self) -> u64 {
        let n = self.next_file;
        self.next_file += 1;
        n
    }

    /// WAL segments below this number are no longer needed.
    pub(crate) fn log_number(&self) -> u64 {
        self.log_number
    }

    /// Highest sequence number held by tables.
    pub(crate) fn last_sequence(&self) -> u64 {
        self.last_sequence
    }

    /// Records `edit` durably in the manifest, then makes the version it produces current
    /// and returns it. Tables the edit removes are marked obsolete: their files go when the
    /// last reader lets go of them.
    pub(crate) fn log_and_apply(
        &mut self,
        mut edit: VersionEdit,
        added: &[Arc<Table>],
    ) -> Result<Arc<Version>> {
        let added_map: HashMap<u64, Arc<Table>> =
            added.iter().map(|t| (t.number(), t.clone())).collect();
        let next = self.current.apply(&edit, &added_map)?;
        edit.next_file = Some(self.next_file);
        self.manifest.append(&edit)?;
        if let Some(n) = edit.log_number {
            self.log_number = n;
        }
        if let Some(s) = edit.last_sequence {
            self.last_sequence = self.last_sequence.max(s);
        }
        for &(level, number) in &edit.deleted {
            if added_map.contains_key(&number) {
                continue; // moved to another level, not replaced
            }
            if let Some(t) = self
                .current
                .tables(level)
                .iter()
                .find(|t| t.number() == number)
            {
                t.mark_obsolete();
            }
        }
        self.current = Arc::new(next);
        Ok(self.current.clone())
    }
}
