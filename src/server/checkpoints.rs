//! Online backups: BGSAVE (in the background) and SAVE (before it replies) write a
//! checkpoint of the engine, a consistent copy taken while writes go on, into its own
//! directory under `checkpoint-dir` (default `DIR/checkpoints`). A copy of a running data
//! directory is not a backup; a checkpoint is: `cairn-server --dir` on it starts from
//! exactly what the server had acknowledged when it was taken.
//!
//! The tables are hard-linked (on the same file system they cost no space until
//! compaction replaces them) and the log's live segment is copied up to its last whole
//! record (`storage::Db::checkpoint`). A checkpoint is written under a dot-name and
//! renamed when whole, so `checkpoint-<unix ms>` directories are always complete. What
//! INFO persistence and LASTSAVE report, Redis's RDB fields, is kept here.

use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, AtomicI64, AtomicU64, Ordering};
use std::sync::Arc;
use std::time::{Instant, SystemTime, UNIX_EPOCH};

use crate::protocol::Reply;
use crate::storage::Db;

use super::shared::Shared;

/// The checkpoints taken since the server started, and the one running.
#[derive(Debug)]
pub struct Checkpoints {
    running: AtomicBool,
    /// Unix seconds of the last checkpoint completed, or of the server's start.
    last_save: AtomicU64,
    last_ok: AtomicBool,
    /// Seconds the last one took; -1 before the first.
    last_seconds: AtomicI64,
    /// Unix milliseconds the running one started at.
    started_ms: AtomicU64,
    saves: AtomicU64,
}

impl Default for Checkpoints {
    fn default() -> Checkpoints {
        Checkpoints {
            running: AtomicBool::new(false),
            last_save: AtomicU64::new(unix_ms() / 1000),
            last_ok: AtomicBool::new(true),
            last_seconds: AtomicI64::new(-1),
            started_ms: AtomicU64::new(0),
            saves: AtomicU64::new(0),
        }
    }
}

/// What INFO persistence shows of the checkpoints.
pub struct CheckpointInfo {
    pub in_progress: bool,
    pub last_save: u64,
    pub last_ok: bool,
    pub last_seconds: i64,
    /// Seconds the running one has taken so far; -1 when none runs.
    pub current_seconds: i64,
    pub saves: u64,
}

impl Checkpoints {
    /// LASTSAVE: unix seconds of the last checkpoint completed (the server's start before).
    pub fn last_save(&self) -> u64 {
        self.last_save.load(Ordering::Relaxed)
    }

    /// INFO persistence's RDB fields.
    pub fn info(&self) -> CheckpointInfo {
        let in_progress = self.running.load(Ordering::Acquire);
        let current_seconds = if in_progress {
            let started = self.started_ms.load(Ordering::Relaxed);
            i64::try_from(unix_ms().saturating_sub(started) / 1000).unwrap_or(i64::MAX)
        } else {
            -1
        };
        CheckpointInfo {
            in_progress,
            last_save: self.last_save(),
            last_ok: self.last_ok.load(Ordering::Relaxed),
            last_seconds: self.last_seconds.load(Ordering::Relaxed),
            current_seconds,
            saves: self.saves.load(Ordering::Relaxed),
        }
    }

    /// Records a finished checkpoint.
    fn finish(&self, ok: bool, took: std::time::Duration) {
        if ok {
            self.last_save.store(unix_ms() / 1000, Ordering::Relaxed);
            self.saves.fetch_add(1, Ordering::Relaxed);
        }
        self.last_ok.store(ok, Ordering::Relaxed);
        let seconds = i64::try_from(took.as_secs()).unwrap_or(i64::MAX);
        self.last_seconds.store(seconds, Ordering::Relaxed);
        self.running.store(false, Ordering::Release);
    }
}

/// BGSAVE (`background`: start it and reply at once) or SAVE (reply when it is done), with
/// Redis's replies.
pub fn save(shared: &Arc<Shared>, background: bool) -> Reply {
    let checkpoints = &shared.checkpoints;
    if checkpoints.running.swap(true, Ordering::AcqRel) {
        return Reply::error("ERR Background save already in progress");
    }
    checkpoints.started_ms.store(unix_ms(), Ordering::Relaxed);
    let db = match shared.db.handle() {
        Ok(db) => db,
        Err(error) => {
            checkpoints.finish(false, std::time::Duration::ZERO);
            return Reply::error(format!("ERR {error}"));
        }
    };
    let under = {
        let config = shared.config.read();
        config
            .checkpoint_dir
            .clone()
            .unwrap_or_else(|| config.dir.join("checkpoints"))
    };
    if !background {
        return match take(shared, &db, &under) {
            Ok(_) => Reply::ok(),
            Err(error) => Reply::error(format!("ERR {error}")),
        };
    }
    let owner = shared.clone();
    let spawned = std::thread::Builder::new()
        .name("cairn-checkpoint".into())
        .spawn(move || {
            // The outcome is logged and shown in INFO persistence, as Redis's BGSAVE's is.
            let _ = take(&owner, &db, &under);
        });
    match spawned {
        Ok(_) => Reply::Simple(bytes::Bytes::from_static(b"Background saving started")),
        Err(error) => {
            checkpoints.finish(false, std::time::Duration::ZERO);
            Reply::error(format!("ERR cannot start the checkpoint: {error}"))
        }
    }
}

/// Takes one checkpoint into a new directory under `under`; returns its path.
fn take(shared: &Shared, db: &Db, under: &Path) -> Result<PathBuf, String> {
    let started = Instant::now();
    let name = format!("checkpoint-{}", unix_ms());
    let partial = under.join(format!(".{name}.partial"));
    let done = under.join(&name);
    let result = std::fs::create_dir_all(under)
        .map_err(|e| format!("cannot create {}: {e}", under.display()))
        .and_then(|()| db.checkpoint(&partial).map_err(|e| e.to_string()))
        .and_then(|seq| {
            std::fs::rename(&partial, &done)
                .and_then(|()| std::fs::File::open(under)?.sync_all())
                .map_err(|e| format!("cannot rename {}: {e}", partial.display()))
                .map(|()| seq)
        });
    shared.checkpoints.finish(result.is_ok(), started.elapsed());
    match result {
        Ok(seq) => {
            tracing::info!(path = %done.display(), seq, took = ?started.elapsed(), "checkpoint taken");
            Ok(done)
        }
        Err(error) => {
            let _ = std::fs::remove_dir_all(&partial);
            tracing::warn!(%error, "checkpoint failed");
            Err(error)
        }
    }
}

fn unix_ms() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| u64::try_from(d.as_millis()).unwrap_or(u64::MAX))
}
