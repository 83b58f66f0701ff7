//! MULTI, EXEC, DISCARD, WATCH, UNWATCH.
//!
//! EXEC runs every queued command against one keyspace under the locks of every key the
//! transaction writes or watches, and commits all their writes as one atomic batch: after a
//! crash either all of a transaction is there or none of it. As in Redis, a command that
//! fails at run time (WRONGTYPE, not an integer) does not undo the others.

use bytes::Bytes;

use crate::protocol::command::Command;
use crate::protocol::Reply;
use crate::server::dispatch::{self, Access};
use crate::server::keyspace::Keyspace;
use crate::server::session::{Session, Transaction};
use crate::server::shared::Shared;

/// Commands that act at once inside MULTI instead of being queued.
pub fn runs_inside_multi(command: &Command) -> bool {
    matches!(
        command,
        Command::Exec
            | Command::Discard
            | Command::Multi
            | Command::Watch { .. }
            | Command::Quit
            | Command::Reset
    )
}

/// The reply to a queued command.
pub fn queued() -> Reply {
    Reply::Simple(Bytes::from_static(b"QUEUED"))
}

/// Queues a command of an open MULTI.
pub fn queue(session: &mut Session, command: Command) -> Reply {
    if let Some(tx) = &mut session.multi {
        tx.queued.push(Ok(command));
    }
    queued()
}

/// MULTI
pub fn multi(session: &mut Session) -> Reply {
    if session.multi.is_some() {
        return Reply::error("ERR MULTI calls can not be nested");
    }
    session.multi = Some(Transaction::default());
    Reply::ok()
}

/// DISCARD
pub fn discard(session: &mut Session) -> Reply {
    if session.multi.take().is_none() {
        return Reply::error("ERR DISCARD without MULTI");
    }
    session.watched.clear();
    Reply::ok()
}

/// WATCH key [key ...]: remembers each key's current version.
pub fn watch(shared: &Shared, session: &mut Session, keys: Vec<Bytes>) -> Reply {
    if session.multi.is_some() {
        return Reply::error("ERR WATCH inside MULTI is not allowed");
    }
    let keyspace = Keyspace::new(shared);
    for key in keys {
        match keyspace.version(&key) {
            Ok(version) => session.watched.push((key, version)),
            Err(error) => return Reply::error(error.to_string()),
        }
    }
    Reply::ok()
}

/// UNWATCH
pub fn unwatch(session: &mut Session) -> Reply {
    session.watched.clear();
    Reply::ok()
}

/// EXEC: nil if a watched key changed, EXECABORT if a command failed to queue, else the
/// array of every command's reply.
pub fn exec(shared: &Shared, session: &mut Session) -> Reply {
    let Some(tx) = session.multi.take() else {
        return Reply::error("ERR EXEC without MULTI");
    };
    let watched = std::mem::take(&mut session.watched);
    if tx.failed {
        return Reply::error("EXECABORT Transaction discarded because of previous errors.");
    }
    let mut keys: Vec<Bytes> = watched.iter().map(|(k, _)| k.clone()).collect();
    for command in tx.queued.iter().flatten() {
        if let Access::Write = dispatch::access(command) {
            keys.extend(command.keys().into_iter().cloned());
        }
    }
    let _locks = shared.locks.lock(&keys);
    let mut keyspace = Keyspace::new(shared);
    for (key, version) in &watched {
        match keyspace.version(key) {
            Ok(now) if now == *version => {}
            Ok(_) => return Reply::NullArray,
            Err(error) => return Reply::error(error.to_string()),
        }
    }
    let mut replies = Vec::with_capacity(tx.queued.len());
    for queued in tx.queued {
        replies.push(match queued {
            Err(error) => Reply::error(error.to_string()),
            Ok(command) => match dispatch::access(&command) {
                Access::Control => dispatch::control(shared, session, command),
                Access::Read | Access::Write => dispatch::apply(&mut keyspace, shared, command),
            },
        });
    }
    dispatch::commit(keyspace, session, Reply::Array(replies))
}
