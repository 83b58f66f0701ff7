//! Compaction: choosing which tables to merge, and writing a merge of them into new tables.
//! A flush writes one frozen memtable the same way.
//!
//! The input is a cursor (for a compaction, a `MergingCursor` over the input tables, the
//! same merge range reads use), read in internal-key order (user key ascending, newest
//! version first); writing keeps, per user key, every version newer than the oldest
//! sequence number a reader may still use, plus the newest one at or below it; older
//! versions are hidden from every reader and dropped. A tombstone (or a value the
//! compaction filter removes) is dropped too when no deeper level may hold the key, so
//! nothing older can resurface. Output tables are cut at user-key boundaries once they
//! reach the target size, so a key's versions never straddle two tables of a level.

use std::path::Path;
use std::sync::atomic::{AtomicBool, Ordering as AtomicOrdering};
use std::sync::Arc;

use bytes::Bytes;

use super::cursor::{Cursor, SourceCursor};
use super::error::{Error, Result};
use super::level::{LevelCursor, LevelRun};
use super::manifest::{self, LEVELS};
use super::options::{CompactionFilter, Lookup, Options};
use super::table::{Table, TableBuilder, TableCursor};
use super::version::Version;
use super::wal;

/// What a merge may drop.
pub(crate) struct Rules<'a> {
    /// No reader uses a sequence number below this one.
    pub oldest_snapshot: u64,
    pub filter: Option<&'a dyn CompactionFilter>,
    /// The newest published value of a key, for the filter.
    pub current: &'a Lookup<'a>,
    /// Whether no table below the output level may hold `key` (so a tombstone for it
    /// hides nothing and may go).
    pub bottommost: &'a dyn Fn(&[u8]) -> bool,
}

/// Where new tables go and how big they get.
pub(crate) struct Sink<'a> {
    pub dir: &'a Path,
    pub options: &'a Options,
    /// Start a new table at the next user key once this size is reached (`u64::MAX`: one
    /// table).
    pub target_bytes: u64,
    pub new_number: &'a mut dyn FnMut() -> u64,
    /// Set when the engine shuts down: the merge stops early, leaving only temporary files.
    pub stop: &'a AtomicBool,
}

/// Writes what `input` holds from where it is positioned on, under `rules`, into new
/// tables, each written under a temporary name, fsynced and renamed into place (the
/// directory fsynced once at the end). Returns the opened tables, in key order. On failure
/// nothing it wrote is left behind: a full disk gets its space back, and the merge can be
/// tried again without a restart.
pub(crate) fn write_tables<'a, C: Cursor>(
    input: &mut C,
    rules: &Rules<'a>,
    sink: &mut Sink<'a>,
) -> Result<Vec<Arc<Table>>> {
    let mut out = Output {
        rules,
        sink,
        done: Vec::new(),
        current: None,
        last_key: None,
        kept_old: false,
    };
    match out.merge(input).and_then(|()| out.finish()) {
        Ok(()) => Ok(out.done),
        Err(e) => {
            out.abandon();
            Err(e)
        }
    }
}

/// The tables a merge is writing, and what it has seen of the current user key.
struct Output<'r, 's, 'a> {
    rules: &'r Rules<'a>,
    sink: &'s mut Sink<'a>,
    done: Vec<Arc<Table>>,
    current: Option<(u64, TableBuilder)>,
    /// The user key of the last entry offered.
    last_key: Option<Vec<u8>>,
    /// Whether that key already kept its newest version at or below the oldest snapshot
    /// (everything older is then invisible to all).
    kept_old: bool,
}

impl Output<'_, '_, '_> {
    /// Writes the next entry of the merge, unless the rules drop it.
    fn offer(&mut self, key: &[u8], seq: u64, mut value: Option<Bytes>) -> Result<()> {
        let new_key = self.last_key.as_deref() != Some(key);
        if new_key {
            self.kept_old = false;
            let last = self.last_key.get_or_insert_with(Vec::new);
            last.clear();
            last.extend_from_slice(key);
        }
        if seq <= self.rules.oldest_snapshot {
            if self.kept_old {
                return Ok(());
            }
            self.kept_old = true;
            if let (Some(f), Some(v)) = (self.rules.filter, &value) {
                if f.remove_given(key, v, self.rules.current) {
                    value = None;
                }
            }
            if value.is_none() && (self.rules.bottommost)(key) {
                return Ok(());
            }
        }
        let target = self.sink.target_bytes;
        if new_key {
            if let Some((n, b)) = self.current.take_if(|(_, b)| b.estimated_size() >= target) {
                self.done.push(finish_table(self.sink.dir, n, b)?);
            }
        }
        let b = match &mut self.current {
            Some((_, b)) => b,
            empty => {
                let n = (self.sink.new_number)();
                let b = TableBuilder::create(
                    &temp_path(self.sink.dir, n),
                    self.sink.options.block_bytes,
                    self.sink.options.bloom_bits_per_key,
                )?;
                &mut empty.insert((n, b)).1
            }
        };
        b.add(key, seq, value.as_deref())
    }

    /// Offers every entry `input` holds from where it is positioned on.
    fn merge<C: Cursor>(&mut self, input: &mut C) -> Result<()> {
        let mut count = 0u64;
        while input.valid() {
            count += 1;
            if count.is_multiple_of(4096) && self.sink.stop.load(AtomicOrdering::Relaxed) {
                return Err(Error::io(
                    self.sink.dir,
                    std::io::Error::other("merge interrupted by shutdown"),
                ));
            }
            self.offer(input.key(), input.seq(), input.value())?;
            input.next()?;
        }
        Ok(())
    }

    fn finish(&mut self) -> Result<()> {
        if let Some((n, b)) = self.current.take() {
            self.done.push(finish_table(self.sink.dir, n, b)?);
        }
        if !self.done.is_empty() {
            wal::sync_dir(self.sink.dir)?;
        }
        Ok(())
    }

    /// Deletes what a failed merge wrote: the finished tables (as their last reference
    /// goes) and the one being written.
    fn abandon(&mut self) {
        for table in self.done.drain(..) {
            table.mark_obsolete();
        }
        if let Some((n, builder)) = self.current.take() {
            drop(builder);
            let _ = std::fs::remove_file(temp_path(self.sink.dir, n));
        }
    }
}

fn temp_path(dir: &Path, n: u64) -> std::path::PathBuf {
    dir.join(format!("{n:06}.sst.tmp"))
}

/// Finishes table `n` and renames it into place; on failure removes what it wrote.
fn finish_table(dir: &Path, n: u64, b: TableBuilder) -> Result<Arc<Table>> {
    let tmp = temp_path(dir, n);
    if let Err(e) = b.finish() {
        let _ = std::fs::remove_file(&tmp);
        return Err(e);
    }
    let path = manifest::table_path(dir, n);
    if let Err(e) = std::fs::rename(&tmp, &path) {
        let _ = std::fs::remove_file(&tmp);
        return Err(Error::io(&path, e));
    }
    Table::open(&path, n).inspect_err(|_| {
        let _ = std::fs::remove_file(&path);
    })
}

/// Tables chosen to merge into `output_level`.
#[derive(Debug)]
pub(crate) struct Compaction {
    /// (level, table) of every input, the output level's overlapping tables included.
    pub inputs: Vec<(usize, Arc<Table>)>,
    pub output_level: usize,
}

impl Compaction {
    /// Whether the inputs can simply be moved down a level: all from the level above the
    /// output, none overlapping another or anything in the output level.
    pub(crate) fn is_move(&self) -> bool {
        if self.inputs.iter().any(|(l, _)| *l + 1 != self.output_level) {
            return false;
        }
        let mut tables: Vec<_> = self.inputs.iter().map(|(_, t)| t.properties()).collect();
        tables.sort_by(|a, b| a.smallest.cmp(&b.smallest));
        tables.windows(2).all(|w| w[0].largest < w[1].smallest)
    }

    /// A cursor over each input, to merge: a level-0 table on its own, consecutive tables
    /// of a sorted level of `version` (the version the inputs were picked from) as one run.
    pub(crate) fn cursors(&self, version: &Arc<Version>) -> Vec<SourceCursor> {
        let mut cursors = Vec::new();
        for level in 0..LEVELS {
            let tables = version.tables(level);
            let mut places = Vec::new();
            for (_, t) in self.inputs.iter().filter(|(l, _)| *l == level) {
                match tables.iter().position(|x| Arc::ptr_eq(x, t)) {
                    Some(i) if level > 0 => places.push(i),
                    // Not in `version` (or in level 0): read on its own.
                    _ => cursors.push(SourceCursor::Table(TableCursor::new(t.clone()))),
                }
            }
            places.sort_unstable();
            for run in places.chunk_by(|a, b| a + 1 == *b) {
                if let (Some(first), Some(last)) = (run.first(), run.last()) {
                    let run = LevelRun::new(version.clone(), level, *first..last + 1);
                    let c = LevelCursor::new(run);
                    cursors.push(SourceCursor::Level(c));
                }
            }
        }
        cursors
    }

    /// Everything, merged into the deepest level that holds tables (level 1 at least):
    /// afterwards each key has one version and no tombstone is left (`Db::compact`).
    pub(crate) fn full(version: &Version) -> Option<Compaction> {
        let inputs: Vec<_> = (0..LEVELS)
            .flat_map(|l| version.tables(l).iter().map(move |t| (l, t.clone())))
            .collect();
        let deepest = inputs.iter().map(|(l, _)| *l).max()?;
        Some(Compaction {
            inputs,
            output_level: deepest.max(1),
        })
    }
}

/// The size level `level` (1 or deeper) may grow to before it is compacted further down.
pub(crate) fn level_target_bytes(options: &Options, level: usize) -> u64 {
    let base =
        (options.memtable_bytes as u64).max(1) * options.level0_compaction_trigger.max(1) as u64;
    let steps = u32::try_from(level.saturating_sub(1)).unwrap_or(u32::MAX);
    base.saturating_mul(10u64.saturating_pow(steps))
}

/// Size at which compaction output tables are cut.
pub(crate) fn table_target_bytes(options: &Options) -> u64 {
    (options.memtable_bytes as u64).clamp(1 << 10, 64 << 20)
}

/// The most urgent compaction, if any level is over its limit: level 0 by table count,
/// deeper levels by bytes. `pointers[level]` is the largest key of the last table
/// compacted from that level, so successive compactions walk the key space round-robin.
pub(crate) fn pick(
    version: &Version,
    options: &Options,
    pointers: &mut [Bytes; LEVELS],
) -> Option<Compaction> {
    let mut best: Option<(Score, usize)> = None;
    let l0 = Score::new(
        version.level0.len() as u64,
        options.level0_compaction_trigger as u64,
    );
    if l0.due() {
        best = Some((l0, 0));
    }
    for level in 1..LEVELS - 1 {
        let score = Score::new(
            version.level_bytes(level),
            level_target_bytes(options, level),
        );
        if score.due() && best.is_none_or(|(s, _)| score.above(s)) {
            best = Some((score, level));
        }
    }
    let (_, level) = best?;
    let inputs: Vec<Arc<Table>> = if level == 0 {
        version.level0.clone()
    } else {
        let tables = version.tables(level);
        let after = tables
            .iter()
            .find(|t| t.properties().largest > pointers[level])
            .or_else(|| tables.first())?;
        vec![after.clone()]
    };
    with_overlaps(version, level, inputs, pointers)
}

/// How full a level is: its tables (level 0) or bytes against its limit. Compared as
/// fractions, exactly, by cross-multiplying.
#[derive(Debug, Clone, Copy)]
struct Score {
    amount: u64,
    limit: u64,
}

impl Score {
    fn new(amount: u64, limit: u64) -> Score {
        Score {
            amount,
            limit: limit.max(1),
        }
    }

    /// At or over its limit: due for a compaction.
    fn due(self) -> bool {
        self.amount >= self.limit
    }

    /// Further over its limit than `other`.
    fn above(self, other: Score) -> bool {
        u128::from(self.amount) * u128::from(other.limit)
            > u128::from(other.amount) * u128::from(self.limit)
    }
}

/// Every level-0 table merged into level 1, whatever their count: for an idle tree (see
/// `Options::idle_compaction`). `None` if level 0 is empty.
pub(crate) fn level0_into_level1(
    version: &Version,
    pointers: &mut [Bytes; LEVELS],
) -> Option<Compaction> {
    with_overlaps(version, 0, version.level0.clone(), pointers)
}

/// The compaction of `inputs`, tables of `level`, with the tables of the next level that
/// overlap them; advances `level`'s round-robin pointer past them.
fn with_overlaps(
    version: &Version,
    level: usize,
    inputs: Vec<Arc<Table>>,
    pointers: &mut [Bytes; LEVELS],
) -> Option<Compaction> {
    let smallest = inputs
        .iter()
        .map(|t| t.properties().smallest.clone())
        .min()?;
    let largest = inputs
        .iter()
        .map(|t| t.properties().largest.clone())
        .max()?;
    pointers[level] = largest.clone();
    let lower = version.overlapping(level + 1, &smallest, &largest);
    Some(Compaction {
        inputs: inputs
            .into_iter()
            .map(|t| (level, t))
            .chain(lower.into_iter().map(|t| (level + 1, t)))
            .collect(),
        output_level: level + 1,
    })
}
