//! The storage engine: a log-structured merge-tree with a write-ahead log.
//!
//! It owns everything on disk and never imports `protocol` or `server`.
