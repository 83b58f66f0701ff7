//! Routes each request to its command family, and decides how it runs, from its row's
//! flags alone.
//!
//! Both protocols come through here: a RESP request (or a native `Resp` op) as an argument
//! list, a native typed op as a command already. A row's `write` flag means the command
//! runs under the locks of every key it names and stages its writes; `readonly` that it
//! only reads; neither that it is a control command (connection, server, transaction). The
//! commands of one pipelined round share a [`Round`]: their writes are committed together
//! at the end of it, or before a command whose row says `OWN_ROUND` (or a control command),
//! so the session's durability ticket covers every reply of the round. In cluster mode a
//! command naming keys is first routed by its keys' slot (`route`): run here, or answered
//! with the redirect that sends the client to the node that owns them. This file only
//! routes: what a command does lives in its family's file under `commands/`, named as its
//! rows' file under `protocol/command/`.

use std::sync::Arc;

use super::cluster::{crossslot, tryagain, Cluster, Route};
use super::commands::{
    cluster, connection, generic, hashes, lists, pubsub, replication, scan, server, sets, strings,
    transactions, zsets,
};
use super::keyspace::{ExecError, Keyspace};
use super::replies::Replies;
use super::round::Round;
use super::session::Session;
use super::shared::Shared;
use crate::protocol::command::{Command, Family, Flags, Request, StringCommand};
use crate::protocol::slot::key_slot;
use crate::protocol::Reply;

/// What a command runs against: the shared state, its client's session, and the keyspace
/// of its round (or of its transaction, inside EXEC).
pub(crate) struct Context<'c, 'k> {
    /// What every connection shares.
    pub shared: &'c Arc<Shared>,
    /// The client's session.
    pub session: &'c mut Session,
    /// The data, as the command sees it.
    pub ks: &'c mut Keyspace<'k>,
}

/// The command a request asks for, or the error reply it gets instead.
///
/// Errors come in Redis's order: an unknown command, subcommand or wrong arity is answered
/// before authentication is checked, and dooms an open MULTI; any other argument error
/// comes after the NOAUTH check and, inside MULTI, is queued and reported by EXEC.
#[inline]
pub(crate) fn parse(session: &mut Session, request: Request) -> Result<Command, Reply> {
    let args = match request {
        Request::Command(command) => return Ok(command),
        Request::Args(args) => args,
    };
    Command::parse(args).map_err(|error| {
        if error.is_lookup_error() {
            if let Some(tx) = &mut session.multi {
                tx.failed = true;
            }
            Reply::error(error.to_string())
        } else if !session.authenticated {
            noauth()
        } else if let Some(tx) = &mut session.multi {
            tx.queued.push(Err(error));
            transactions::queued()
        } else {
            Reply::error(error.to_string())
        }
    })
}

/// Runs one command of a round, encoding its reply into `out`.
///
/// Writes are staged in `round`, which the caller commits before sending the reply; if a
/// commit inside fails, `round` records it and the replies must not be sent.
pub(crate) fn execute(
    shared: &Arc<Shared>,
    session: &mut Session,
    round: &mut Round,
    command: Command,
    out: &mut Replies,
) {
    session.ran(command.spec());
    if session.pubsub.is_some() || matches!(command.family(), Family::PubSub(_)) {
        if let Some(reply) = pubsub_context(shared, session, round, command, out) {
            out.reply(session.resp, reply);
        }
        return;
    }
    // GET, the commonest request, encodes its value into `out` where it lies, without a
    // `Reply` holding it (a reference count on the value was a large share of the server's
    // time under pipelined GETs). A session that is not authenticated or is inside MULTI
    // takes the general path, which answers NOAUTH or queues the command; so does every
    // command in cluster mode, which may be redirected.
    if session.authenticated && session.multi.is_none() && shared.cluster.is_none() {
        if let (Family::Strings(StringCommand::Get), [key]) = (command.family(), command.keys()) {
            if let Err(error) =
                strings::get_into(&round.keyspace(session.db), key, session.resp, out)
            {
                out.reply(session.resp, Reply::error(error.to_string()));
            }
            return;
        }
    }
    let reply = execute_in_round(shared, session, round, command);
    // PSYNC, SYNC and a WAIT that waits answer later, on their own.
    if session.handoff.is_none() {
        out.reply(session.resp, reply);
    }
}

/// A command of a subscribed client, or a pub/sub command: RESP2's subscribed context
/// allows only the subscription commands, PING, QUIT and RESET (Redis's rule and error);
/// the subscription commands write their pushes into `out` themselves. The reply to send,
/// if the command has not sent its own.
fn pubsub_context(
    shared: &Arc<Shared>,
    session: &mut Session,
    round: &mut Round,
    command: Command,
    out: &mut Replies,
) -> Option<Reply> {
    let name = command.spec().name;
    let subscription = matches!(command.family(), Family::PubSub(c) if pubsub::is_subscription(c));
    if session.in_resp2_pubsub() && !subscription && !matches!(name, "ping" | "quit" | "reset") {
        return Some(Reply::error(format!(
            "ERR Can't execute '{name}': only (P|S)SUBSCRIBE / (P|S)UNSUBSCRIBE / PING / QUIT / RESET are allowed in this context"
        )));
    }
    if !subscription {
        let reply = execute_in_round(shared, session, round, command);
        // What the command itself published to this client goes out before its reply,
        // as in Redis (a subscriber's own PUBLISH).
        if let Some(subscriptions) = &session.pubsub {
            subscriptions.mailbox().send_to(out, session.resp);
        }
        return Some(reply);
    }
    if !session.authenticated {
        return Some(noauth());
    }
    if let Some(tx) = &mut session.multi {
        // Its pushes cannot be one entry of EXEC's reply.
        tx.failed = true;
        return Some(Reply::error("ERR Command not allowed inside a transaction"));
    }
    if out.is_native() {
        return Some(Reply::error(
            "ERR pub/sub is not available over the native protocol: use RESP",
        ));
    }
    // Like every control command, it sees the round's writes committed.
    if let Err(error) = round.commit(session) {
        return Some(failed(round, error));
    }
    let (_, family) = command.into_parts();
    if let Family::PubSub(command) = family {
        pubsub::subscription(shared, session, command, out);
    }
    None
}

fn noauth() -> Reply {
    Reply::error("NOAUTH Authentication required.")
}

/// Runs one parsed command on its own, committing its writes before returning (the
/// native handshake's AUTH).
pub(crate) fn execute_command(
    shared: &Arc<Shared>,
    session: &mut Session,
    command: Command,
) -> Reply {
    session.ran(command.spec());
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
fn execute_in_round(
    shared: &Arc<Shared>,
    session: &mut Session,
    round: &mut Round,
    command: Command,
) -> Reply {
    let flags = command.spec().flags;
    if !session.authenticated && !flags.contains(Flags::NO_AUTH) {
        return noauth();
    }
    if let Some(cluster) = &shared.cluster {
        let asking = std::mem::take(&mut session.cluster.asking);
        if !command.keys().is_empty() {
            if let Err(reply) = route(cluster, session, round, &command, asking) {
                if let Some(tx) = &mut session.multi {
                    tx.failed = true;
                }
                return reply;
            }
        }
    }
    if let Some(refusal) = refuse(shared, flags) {
        if let Some(tx) = &mut session.multi {
            tx.failed = true;
        }
        return refusal;
    }
    if let Some(tx) = &mut session.multi {
        if flags.intersects(Flags::NO_MULTI | Flags::EVERY_KEY) {
            tx.failed = true;
            return Reply::error("ERR Command not allowed inside a transaction");
        }
        if !flags.contains(Flags::RUNS_IN_MULTI) {
            return transactions::queue(session, command);
        }
    }
    let writes = flags.contains(Flags::WRITE);
    let control = !writes && !flags.contains(Flags::READONLY);
    let alone = control || flags.contains(Flags::OWN_ROUND);
    if alone {
        // It reads what the round's reads would not see (versions, scans, other
        // connections' state) or takes locks of its own (EXEC): commit the round first.
        if let Err(error) = round.commit(session) {
            return failed(round, error);
        }
    }
    if writes {
        if let Err(error) = round.lock(session, command.keys()) {
            return failed(round, error);
        }
    }
    let mut ks = round.keyspace(session.db);
    let reply = run(
        &mut Context {
            shared,
            session,
            ks: &mut ks,
        },
        command,
    );
    let staged = ks.into_staged();
    round.stage(staged);
    if alone && writes {
        // Its writes are a batch of their own.
        if let Err(error) = round.commit(session) {
            return failed(round, error);
        }
    }
    reply
}

/// The refusal a command gets from replication's state: -LOADING during a full sync,
/// -READONLY for a write on a read-only replica, -NOREPLICAS for a write on a primary with
/// too few good replicas (`min-replicas-to-write`).
fn refuse(shared: &Shared, flags: Flags) -> Option<Reply> {
    let repl = &shared.replication;
    if repl.loading.load(std::sync::atomic::Ordering::Relaxed) && !flags.contains(Flags::LOADING) {
        return Some(Reply::error(
            "LOADING Redis is loading the dataset in memory",
        ));
    }
    if !flags.contains(Flags::WRITE) {
        return None;
    }
    let (read_only, min, max_lag) = {
        let c = shared.config.read();
        (
            c.replica_read_only,
            c.min_replicas_to_write,
            c.min_replicas_max_lag,
        )
    };
    if repl.is_replica() {
        return read_only
            .then(|| Reply::error("READONLY You can't write against a read only replica."));
    }
    if min > 0 && repl.good_replicas(std::time::Duration::from_secs(max_lag)) < min as usize {
        return Some(Reply::error(
            "NOREPLICAS Not enough good replicas to write.",
        ));
    }
    None
}

/// Cluster mode: whether a command naming keys runs on this node, or the redirect it gets
/// instead (see `cluster::Cluster::route`). Inside MULTI, every queued command (and the
/// watched keys) must be in one slot. In a slot being moved away, the keys' locks are
/// taken before looking for them, so the move cannot take one between the look and the
/// command: all here runs here, none here gets ASK (the new owner has them), some gets TRYAGAIN.
fn route(
    cluster: &Cluster,
    session: &mut Session,
    round: &mut Round,
    command: &Command,
    asking: bool,
) -> Result<(), Reply> {
    let keys = command.keys();
    let (slot, route) =
        cluster.route(keys, command.spec().flags, asking, session.cluster.readonly)?;
    if let Some(tx) = &mut session.multi {
        let watched = session.watched.first().map(|(_, key, _)| key_slot(key));
        if *tx.slot.get_or_insert(watched.unwrap_or(slot)) != slot {
            return Err(crossslot());
        }
    }
    let Route::Migrating { slot, target } = route else {
        return Ok(());
    };
    if session.multi.is_none() {
        round
            .lock(session, keys)
            .map_err(|error| failed(round, error))?;
    }
    let ks = round.keyspace(session.db);
    let mut here = 0;
    for key in keys {
        here += usize::from(ks.contains(key).map_err(|e| Reply::error(e.to_string()))?);
    }
    match here {
        0 => Err(Reply::error(format!("ASK {slot} {target}"))),
        n if n < keys.len() => Err(tryagain()),
        _ => Ok(()),
    }
}

/// A commit or lock the round needed failed: the round's replies must not be sent.
fn failed(round: &mut Round, error: ExecError) -> Reply {
    round.fail(error);
    Reply::error("ERR storage failure")
}

/// Runs a command against `cx` by its family, without committing: what a round and EXEC
/// run alike.
pub(crate) fn run(cx: &mut Context, command: Command) -> Reply {
    let (keys, family) = command.into_parts();
    let result = match family {
        Family::Strings(command) => strings::run(cx.ks, keys, command),
        Family::Generic(command) => generic::run(cx.ks, keys, command),
        Family::Scan(command) => scan::run(cx, command),
        Family::Transactions(command) => Ok(transactions::run(cx, keys, command)),
        Family::Connection(command) => Ok(connection::run(cx, command)),
        Family::Server(command) => Ok(server::run(cx, command)),
        Family::Cluster(command) => Ok(cluster::run(cx, command)),
        Family::PubSub(command) => Ok(pubsub::run(cx.shared, command)),
        Family::ZSets(command) => zsets::run(cx, &keys, command),
        Family::Lists(command) => lists::run(cx, keys, command),
        Family::Hashes(command) => hashes::run(cx.ks, cx.session.resp, keys, command),
        Family::Sets(command) => sets::run(cx.ks, keys, command),
        Family::Replication(command) => Ok(replication::run(cx, command)),
    };
    result.unwrap_or_else(|error| Reply::error(error.to_string()))
}
