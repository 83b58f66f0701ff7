//! Routes each request to its command family, and decides how it runs.
//!
//! Reads run against the engine directly. Writes run under the locks of every key they
//! touch, stage their changes in a [`Keyspace`], and commit them as one atomic batch before
//! the locks are released; the session keeps the durability ticket so the reply leaves
//! only once the write is durable. Commands of one pipelined round share a [`Round`]: their
//! writes are committed together at the end of it (or before a command that cannot join).
//! This file only routes: what a command does lives in its family under `commands/`.

use bytes::{Bytes, BytesMut};

use super::commands::{admin, connection, keys, scan, strings, transactions};
use super::keyspace::Keyspace;
use super::round::Round;
use super::session::Session;
use super::shared::Shared;
use crate::protocol::command::Command;
use crate::protocol::Reply;

/// How a command touches the data.
pub enum Access {
    /// Not at all: connection, server and transaction commands.
    Control,
    /// Reads only; no locks.
    Read,
    /// Writes its keys ([`Command::keys`], read-modify-write included); their locks are held
    /// throughout.
    Write,
}

/// Parses and runs one request, encoding its reply into `out`.
///
/// Errors come in Redis's order: an unknown command, subcommand or wrong arity is answered
/// before authentication is checked, and dooms an open MULTI; any other argument error
/// comes after the NOAUTH check and, inside MULTI, is queued and reported by EXEC.
///
/// Writes are staged in `round`, which the caller commits before sending the reply; if a
/// commit inside fails, `round` records it and the replies must not be sent.
pub fn execute(
    shared: &Shared,
    session: &mut Session,
    round: &mut Round,
    args: Vec<Bytes>,
    out: &mut BytesMut,
) {
    let parsed = Command::parse(args);
    if let Ok(command) = &parsed {
        session.ran(command.name());
    }
    let reply = match parsed {
        // GET, the commonest request, encodes its value into `out` where it lies, without a
        // `Reply` holding it (a reference count on the value cost nearly a fifth of the server's
        // time under pipelined GETs). A session that is not authenticated or is inside
        // MULTI takes the general path, which answers NOAUTH or queues the command.
        Ok(Command::Get { key }) if session.authenticated && session.multi.is_none() => {
            match strings::get_into(&round.keyspace(), &key, session.resp, out) {
                Ok(()) => return,
                Err(error) => Reply::error(error.to_string()),
            }
        }
        Ok(command) => execute_in_round(shared, session, round, command),
        Err(error) if error.is_lookup_error() => {
            if let Some(tx) = &mut session.multi {
                tx.failed = true;
            }
            Reply::error(error.to_string())
        }
        Err(_) if !session.authenticated => noauth(),
        Err(error) => match &mut session.multi {
            Some(tx) => {
                tx.queued.push(Err(error));
                transactions::queued()
            }
            None => Reply::error(error.to_string()),
        },
    };
    reply.encode(session.resp, out);
}

fn noauth() -> Reply {
    Reply::error("NOAUTH Authentication required.")
}

/// Runs one parsed command on its own (committing its writes before returning).
pub fn execute_command(shared: &Shared, session: &mut Session, command: Command) -> Reply {
    session.ran(command.name());
    let mut round = Round::new(shared);
    let reply = execute_in_round(shared, session, &mut round, command);
    let failed = round.take_failure();
    match failed.map_or_else(|| round.commit(session), Err) {
        Ok(()) => reply,
        Err(error) => Reply::error(error.to_string()),
    }
}

/// Runs one parsed command: authentication gate, MULTI queueing, then its family, staging
/// its writes in `round`.
pub fn execute_in_round(
    shared: &Shared,
    session: &mut Session,
    round: &mut Round,
    command: Command,
) -> Reply {
    if !session.authenticated
        && !matches!(
            command,
            Command::Auth { .. } | Command::Hello { .. } | Command::Quit
        )
    {
        return noauth();
    }
    if session.multi.is_some() && !transactions::runs_inside_multi(&command) {
        return transactions::queue(session, command);
    }
    let access = access(&command);
    if matches!(access, Access::Control) || !joins_round(&command) {
        // It reads what the round's reads would not see (versions, scans, other
        // connections' state) or takes locks of its own (EXEC): commit the round first.
        if let Err(error) = round.commit(session) {
            round.fail(error);
            return Reply::error("ERR storage failure");
        }
    }
    match access {
        Access::Control => control(shared, session, command),
        Access::Read if joins_round(&command) => apply(&mut round.keyspace(), shared, command),
        Access::Read => apply(&mut Keyspace::new(shared), shared, command),
        Access::Write if joins_round(&command) => {
            if let Err(error) = round.lock(session, command.keys()) {
                round.fail(error);
                return Reply::error("ERR storage failure");
            }
            let mut keyspace = round.keyspace();
            let reply = apply(&mut keyspace, shared, command);
            let staged = keyspace.into_staged();
            round.stage(staged);
            reply
        }
        Access::Write => {
            let _locks = shared.locks.lock(command.keys());
            let mut keyspace = Keyspace::new(shared);
            let reply = apply(&mut keyspace, shared, command);
            commit(keyspace, session, reply)
        }
    }
}

/// Whether a data command may run against its round's uncommitted writes: not those that
/// compare versions (staged writes have none yet), scan the engine, or write in batches of
/// their own.
fn joins_round(command: &Command) -> bool {
    use crate::protocol::command::SetCondition;
    use Command::*;
    match command {
        Set(set) => !matches!(set.condition, Some(SetCondition::IfVersion(_))),
        GetVersioned { .. }
        | Keys { .. }
        | Scan { .. }
        | DbSize
        | Range { .. }
        | FlushDb
        | FlushAll
        | Batch { .. } => false,
        _ => true,
    }
}

/// What a command reads and writes.
pub fn access(command: &Command) -> Access {
    use Command::*;
    match command {
        Get { .. }
        | GetVersioned { .. }
        | MGet { .. }
        | StrLen { .. }
        | GetRange { .. }
        | Digest { .. }
        | Exists { .. }
        | Type { .. }
        | Ttl { .. }
        | PTtl { .. }
        | ExpireTime { .. }
        | PExpireTime { .. }
        | Keys { .. }
        | Scan { .. }
        | DbSize
        | Range { .. } => Access::Read,
        // FLUSHDB writes its deletes in batches of its own; it takes no key locks.
        FlushDb | FlushAll => Access::Write,
        Set(_)
        | SetNx { .. }
        | GetDel { .. }
        | GetEx { .. }
        | Append { .. }
        | SetRange { .. }
        | IncrBy { .. }
        | IncrByFloat { .. }
        | DelEx { .. }
        | Expire { .. }
        | Persist { .. }
        | MSet { .. }
        | MSetNx { .. }
        | Del { .. }
        | Rename { .. }
        | RenameNx { .. }
        | Batch { .. } => Access::Write,
        _ => Access::Control,
    }
}

/// Hands a command's staged writes to the engine and keeps the durability ticket.
pub fn commit(keyspace: Keyspace, session: &mut Session, reply: Reply) -> Reply {
    match keyspace.commit() {
        Ok(Some(ticket)) => {
            session.pending_write = Some(ticket);
            reply
        }
        Ok(None) => reply,
        Err(error) => Reply::error(error.to_string()),
    }
}

/// Runs a data command (`Access::Read` or `Access::Write`) against `ks`, without committing.
pub fn apply(ks: &mut Keyspace, shared: &Shared, command: Command) -> Reply {
    use Command::*;
    let result = match command {
        Get { key } => strings::get(ks, &key),
        GetVersioned { key } => strings::get_versioned(ks, &key),
        Set(set) => strings::set(ks, set),
        SetNx { key, value } => strings::setnx(ks, key, value),
        GetDel { key } => strings::getdel(ks, key),
        GetEx { key, expiry } => strings::getex(ks, key, expiry),
        MGet { keys } => strings::mget(ks, &keys),
        MSet { pairs } => strings::mset(ks, pairs),
        MSetNx { pairs } => strings::msetnx(ks, pairs),
        Append { key, value } => strings::append(ks, key, value),
        StrLen { key } => strings::strlen(ks, &key),
        GetRange { key, start, end } => strings::getrange(ks, &key, start, end),
        SetRange { key, offset, value } => strings::setrange(ks, key, offset, value),
        IncrBy { key, delta } => strings::incr_by(ks, key, delta),
        IncrByFloat { key, delta } => strings::incr_by_float(ks, key, delta),
        DelEx { key, condition } => strings::delex(ks, key, condition),
        Digest { key } => strings::digest_of(ks, &key),
        Del { keys } => keys::del(ks, keys),
        Exists { keys } => keys::exists(ks, &keys),
        Type { key } => keys::type_of(ks, &key),
        Expire {
            key,
            when,
            condition,
        } => match when.deadline_millis(ks.now() as i64) {
            Ok(deadline) => keys::expire(ks, key, deadline, condition),
            Err(error) => Ok(Reply::error(error.to_string())),
        },
        Ttl { key } => keys::ttl(ks, &key, keys::TtlForm::Seconds),
        PTtl { key } => keys::ttl(ks, &key, keys::TtlForm::Millis),
        ExpireTime { key } => keys::ttl(ks, &key, keys::TtlForm::UnixSeconds),
        PExpireTime { key } => keys::ttl(ks, &key, keys::TtlForm::UnixMillis),
        Persist { key } => keys::persist(ks, key),
        Rename { from, to } => keys::rename(ks, from, to, false),
        RenameNx { from, to } => keys::rename(ks, from, to, true),
        Batch { ops } => keys::batch(ks, ops),
        Keys { pattern } => scan::keys(ks, &pattern),
        Scan {
            cursor,
            pattern,
            count,
            kind,
        } => scan::scan(
            ks,
            &shared.cursors,
            cursor,
            pattern.as_deref(),
            count,
            kind.as_deref(),
        ),
        DbSize => scan::dbsize(ks),
        FlushDb | FlushAll => scan::flush_all(ks.db()),
        Range {
            start,
            end,
            limit,
            reverse,
            keys_only,
        } => scan::range(ks, start, end, limit, reverse, keys_only),
        other => Ok(Reply::error(format!(
            "ERR '{}' does not run against the data",
            other.name()
        ))),
    };
    result.unwrap_or_else(|error| Reply::error(error.to_string()))
}

/// Runs a connection, server or transaction command.
pub fn control(shared: &Shared, session: &mut Session, command: Command) -> Reply {
    use Command::*;
    match command {
        Multi => transactions::multi(session),
        Exec => transactions::exec(shared, session),
        Discard => transactions::discard(session),
        Watch { keys } => transactions::watch(shared, session, keys),
        Unwatch => transactions::unwatch(session),
        Ping { message } => connection::ping(message),
        Echo { message } => Reply::Bulk(message),
        Hello {
            protover,
            auth,
            setname,
        } => connection::hello(shared, session, protover, auth, setname),
        Auth { username, password } => connection::auth(shared, session, username, password),
        Select { index } => connection::select(index),
        Quit => connection::quit(session),
        Reset => connection::reset(shared, session),
        Client(sub) => connection::client(shared, session, sub),
        CommandInfo(query) => admin::command(query),
        Config(sub) => admin::config(shared, sub),
        Info { sections } => admin::info(shared, &sections),
        Time => admin::time(),
        Shutdown { abort, .. } => admin::shutdown(shared, session, abort),
        other => Reply::error(format!("ERR '{}' is not supported here", other.name())),
    }
}
