//! MULTI, EXEC, DISCARD, WATCH, UNWATCH: their rows and typed form.
//! `server/commands/transactions.rs` runs them.
//!
//! Inside MULTI every command is queued except those whose rows carry `RUNS_IN_MULTI`;
//! those whose rows carry `NO_MULTI` are refused there.

use super::table::{row, CommandSpec};

/// A transaction command (WATCH's keys aside).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum TransactionCommand {
    /// `MULTI`.
    Multi,
    /// `EXEC`.
    Exec,
    /// `DISCARD`.
    Discard,
    /// `WATCH key [key ...]`.
    Watch,
    /// `UNWATCH`.
    Unwatch,
}

/// The transaction commands' rows.
#[rustfmt::skip]
pub(super) const ROWS: &[CommandSpec] = &[
    row!("discard", 1, [NOSCRIPT, LOADING, STALE, FAST, ALLOW_BUSY, RUNS_IN_MULTI], (0, 0, 0),
        [TRANSACTION], "transactions", "2.0.0",
        "Discards a transaction.",
        "", |_| Ok(TransactionCommand::Discard)),
    row!("exec", 1, [NOSCRIPT, LOADING, STALE, SKIP_SLOWLOG, RUNS_IN_MULTI], (0, 0, 0),
        [TRANSACTION], "transactions", "1.2.0",
        "Executes all commands in a transaction.",
        "", |_| Ok(TransactionCommand::Exec)),
    row!("multi", 1, [NOSCRIPT, LOADING, STALE, FAST, ALLOW_BUSY, RUNS_IN_MULTI], (0, 0, 0),
        [TRANSACTION], "transactions", "1.2.0",
        "Starts a transaction.",
        "", |_| Ok(TransactionCommand::Multi)),
    row!("unwatch", 1, [NOSCRIPT, LOADING, STALE, FAST, ALLOW_BUSY], (0, 0, 0),
        [TRANSACTION], "transactions", "2.2.0",
        "Forgets about watched keys of a transaction.",
        "", |_| Ok(TransactionCommand::Unwatch)),
    row!("watch", -2, [NOSCRIPT, LOADING, STALE, FAST, ALLOW_BUSY, RUNS_IN_MULTI], (1, -1, 1),
        [TRANSACTION], "transactions", "2.2.0",
        "Monitors changes to keys to determine the execution of a transaction.",
        "key [key ...]", |_| Ok(TransactionCommand::Watch)),
];
