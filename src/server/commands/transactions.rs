//! MULTI, EXEC, DISCARD, WATCH, UNWATCH. Their rows are in
//! `protocol/command/transactions.rs`; which commands are queued inside MULTI is the rows'
//! `RUNS_IN_MULTI` flag, and the dispatcher applies it.
//!
//! EXEC runs every queued command against one keyspace under the locks of every key the
//! transaction writes or watches, and commits all their writes as one atomic batch: after a
//! crash either all of a transaction is there or none of it. As in Redis, a command that
//! fails at run time (WRONGTYPE, not an integer) does not undo the others.

use std::sync::Arc;

use bytes::Bytes;

use crate::protocol::command::{Command, Flags, Keys, TransactionCommand};
use crate::protocol::Reply;
use crate::server::cluster::{tryagain, Route};
use crate::server::dispatch::{self, Context};
use crate::server::keyspace::Keyspace;
use crate::server::session::{Session, Transaction};
use crate::server::shared::Shared;
use crate::server::value::now_millis;

/// Runs a transaction command (WATCH on its keys).
pub(crate) fn run(cx: &mut Context, keys: Keys, command: TransactionCommand) -> Reply {
    match command {
        TransactionCommand::Multi => multi(cx.session),
        TransactionCommand::Exec => exec(cx.shared, cx.session),
        TransactionCommand::Discard => discard(cx.session),
        TransactionCommand::Watch => watch(cx.shared, cx.session, keys),
        TransactionCommand::Unwatch => unwatch(cx.session),
    }
}

/// The reply to a queued command.
pub(crate) fn queued() -> Reply {
    Reply::Simple(Bytes::from_static(b"QUEUED"))
}

/// Queues a command of an open MULTI.
pub(crate) fn queue(session: &mut Session, command: Command) -> Reply {
    if let Some(tx) = &mut session.multi {
        tx.queued.push(Ok(command));
    }
    queued()
}

/// MULTI
fn multi(session: &mut Session) -> Reply {
    if session.multi.is_some() {
        return Reply::error("ERR MULTI calls can not be nested");
    }
    session.multi = Some(Transaction::default());
    Reply::ok()
}

/// DISCARD
fn discard(session: &mut Session) -> Reply {
    if session.multi.take().is_none() {
        return Reply::error("ERR DISCARD without MULTI");
    }
    session.watched.clear();
    Reply::ok()
}

/// WATCH key [key ...]: remembers each key's current version.
fn watch(shared: &Shared, session: &mut Session, keys: Keys) -> Reply {
    if session.multi.is_some() {
        return Reply::error("ERR WATCH inside MULTI is not allowed");
    }
    let keyspace = Keyspace::over(shared, &[], now_millis(), session.db);
    for key in keys {
        match keyspace.version(&key) {
            Ok(version) => session.watched.push((session.db, key, version)),
            Err(error) => return Reply::error(error.to_string()),
        }
    }
    Reply::ok()
}

/// UNWATCH
fn unwatch(session: &mut Session) -> Reply {
    session.watched.clear();
    Reply::ok()
}

/// EXEC: nil if a watched key changed, EXECABORT if a command failed to queue, else the
/// array of every command's reply.
fn exec(shared: &Arc<Shared>, session: &mut Session) -> Reply {
    let Some(tx) = session.multi.take() else {
        return Reply::error("ERR EXEC without MULTI");
    };
    let watched = std::mem::take(&mut session.watched);
    if tx.failed {
        return Reply::error("EXECABORT Transaction discarded because of previous errors.");
    }
    // Its commands were routed as they were queued; the slot may have moved since.
    if let (Some(cluster), Some(slot)) = (&shared.cluster, tx.slot) {
        match cluster.route_slot(slot, Flags::WRITE, false, false) {
            Ok(Route::Local) => {}
            Ok(Route::Migrating { .. }) => return tryagain(),
            Err(redirect) => return redirect,
        }
    }
    let mut keys: Vec<Bytes> = watched.iter().map(|(_, k, _)| k.clone()).collect();
    for command in tx.queued.iter().flatten() {
        if command.is_write() {
            keys.extend(command.keys().iter().cloned());
        }
    }
    let _locks = shared.locks.lock(&keys);
    let mut ks = Keyspace::over(shared, &[], now_millis(), session.db);
    for (db, key, version) in &watched {
        let watched_in = Keyspace::over(shared, &[], ks.now(), *db);
        match watched_in.version(key) {
            Ok(now) if now == *version => {}
            Ok(_) => return Reply::NullArray,
            Err(error) => return Reply::error(error.to_string()),
        }
    }
    let mut replies = Vec::with_capacity(tx.queued.len());
    for queued in tx.queued {
        replies.push(match queued {
            Err(error) => Reply::error(error.to_string()),
            Ok(command) => dispatch::run(
                &mut Context {
                    shared,
                    session,
                    ks: &mut ks,
                },
                command,
            ),
        });
    }
    match ks.commit() {
        Ok(ticket) => {
            if let Some(ticket) = ticket {
                session.pending_write = Some(ticket);
            }
            // EXEC's reply is an array: its commands' errors are counted here, as Redis
            // counts each (the reply slot counts only a reply that is an error itself).
            for reply in &replies {
                if let Reply::Error(message) = reply {
                    shared.stats.errors.record(message);
                }
            }
            Reply::Array(replies)
        }
        Err(error) => Reply::error(error.to_string()),
    }
}
