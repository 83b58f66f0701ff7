//! The storage layer's one error type. Every variant names what failed and where.

use std::path::PathBuf;
use std::sync::Arc;

/// Everything that can go wrong in the storage engine.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum Error {
    /// An operating-system call on a file or directory failed.
    #[error("I/O error on {}: {source}", path.display())]
    Io {
        /// The file or directory the call was made on.
        path: PathBuf,
        /// The underlying error.
        #[source]
        source: std::io::Error,
    },
    /// A file holds bytes that are not what the engine wrote (a failed checksum,
    /// an impossible length, a record out of order) somewhere recovery may not cut away.
    #[error("corruption in {} at offset {offset}: {reason}", path.display())]
    Corruption {
        /// The damaged file.
        path: PathBuf,
        /// Byte offset of the damaged record within the file.
        offset: u64,
        /// What is wrong with it.
        reason: String,
    },
    /// An fsync failed. What it was to make durable is not known to be on disk (the kernel
    /// may have dropped the pages it could not write back), so the engine stops accepting
    /// writes rather than try again and report success for data that may be gone.
    #[error("fsync of {} failed: {source}", path.display())]
    SyncFailed {
        /// The file or directory being fsynced.
        path: PathBuf,
        /// The underlying error.
        #[source]
        source: std::io::Error,
    },
    /// The database directory's `LOCK` file is held by another open `Db`.
    #[error(
        "database at {} is in use by another process (its LOCK file is held); \
         only one Db may open a directory at a time",
        path.display()
    )]
    Locked {
        /// The `LOCK` file that could not be locked.
        path: PathBuf,
    },
    /// An earlier write or fsync failed, so the engine can no longer promise that
    /// what it acknowledges is on disk; every later write returns this.
    #[error("database is unusable after an earlier failure: {0}")]
    Poisoned(#[source] Arc<Error>),
    /// A write batch is larger than one WAL record may be.
    #[error("write batch of {size} bytes exceeds the limit of {limit} bytes")]
    BatchTooLarge {
        /// Encoded size of the batch.
        size: usize,
        /// The largest encoded batch accepted.
        limit: usize,
    },
    /// A replicated batch was offered at a sequence number this database has already
    /// used (`Db::write_at`): applying it would reorder history.
    #[error("batch at sequence {first_seq} is not after this database's last sequence {last_seq}")]
    SequenceTaken {
        /// The batch's first sequence number.
        first_seq: u64,
        /// The highest sequence number already handed out here.
        last_seq: u64,
    },
    /// A replicated batch's payload is not a well-formed batch.
    #[error("malformed replicated batch: {0}")]
    BadBatch(&'static str),
    /// `Db::checkpoint` was asked to write into a directory that exists and is not empty.
    #[error("checkpoint directory {} exists and is not empty", path.display())]
    CheckpointExists {
        /// The directory.
        path: PathBuf,
    },
}

/// The storage layer's result type.
pub type Result<T> = std::result::Result<T, Error>;

impl Error {
    pub(crate) fn io(path: impl Into<PathBuf>, source: std::io::Error) -> Self {
        Error::Io {
            path: path.into(),
            source,
        }
    }

    /// Whether this is a write that failed for want of disk space (`ENOSPC`, or `EDQUOT`
    /// over a quota): nothing was written, and the same write may succeed once space is
    /// freed. A failed fsync is never this, whatever its errno (see [`Error::SyncFailed`]).
    pub fn is_no_space(&self) -> bool {
        match self {
            Error::Io { source, .. } => {
                matches!(source.raw_os_error(), Some(libc::ENOSPC | libc::EDQUOT))
            }
            _ => false,
        }
    }

    pub(crate) fn corruption(
        path: impl Into<PathBuf>,
        offset: u64,
        reason: impl Into<String>,
    ) -> Self {
        Error::Corruption {
            path: path.into(),
            offset,
            reason: reason.into(),
        }
    }
}
