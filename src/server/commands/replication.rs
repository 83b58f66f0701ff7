//! REPLICAOF/SLAVEOF, ROLE, WAIT, REPLCONF, PSYNC and SYNC (rows in
//! `protocol/command/replication.rs`), over the state in `server/replication/`. PSYNC,
//! SYNC and a WAIT that must wait hand the connection over (`Session::handoff`) rather
//! than answer here: what follows is a stream, or a reply that comes later.

use std::sync::atomic::Ordering;
use std::time::Duration;

use bytes::Bytes;

use crate::protocol::command::{ReplConf, ReplicationCommand};
use crate::protocol::Reply;
use crate::server::dispatch::Context;
use crate::server::replication::feed::SyncRequest;
use crate::server::replication::{link, write_id};
use crate::server::session::Handoff;
use crate::server::shared::random_hex;

fn bulk(text: impl Into<String>) -> Reply {
    Reply::Bulk(Bytes::from(text.into()))
}

/// Runs a replication command.
pub(crate) fn run(cx: &mut Context, command: ReplicationCommand) -> Reply {
    match command {
        ReplicationCommand::ReplicaOf { host, port } => replica_of(cx, &host, port),
        ReplicationCommand::ReplicaOfNoOne => promote(cx),
        ReplicationCommand::Role => role(cx),
        ReplicationCommand::Wait {
            replicas,
            timeout_ms,
        } => wait(cx, replicas, timeout_ms),
        ReplicationCommand::ReplConf(conf) => replconf(cx, conf),
        ReplicationCommand::PSync { replid, offset } => sync(cx, replid, offset, true),
        ReplicationCommand::Sync => sync(cx, None, -1, false),
    }
}

/// REPLICAOF host port: follow it (from our own history, so it may continue it).
fn replica_of(cx: &mut Context, host: &str, port: u16) -> Reply {
    let repl = &cx.shared.replication;
    let target = (host.to_string(), port);
    if repl.state().primary.as_ref() == Some(&target) {
        return Reply::Simple(Bytes::from_static(
            b"OK Already connected to specified master",
        ));
    }
    repl.update(|s| {
        s.primary = Some(target);
        s.link.up = false;
        s.link.phase = "connect";
        s.link.down_since = std::time::Instant::now();
    });
    repl.generation.fetch_add(1, Ordering::SeqCst);
    cx.shared.blocking.unblock_all();
    cx.shared.config.write().replicaof = Some(format!("{host} {port}"));
    tracing::info!(%host, port, "following a new primary");
    link::start(cx.shared);
    Reply::ok()
}

/// REPLICAOF NO ONE: a primary of a new history, which continues the one it followed.
fn promote(cx: &mut Context) -> Reply {
    let repl = &cx.shared.replication;
    if !repl.is_replica() {
        return Reply::ok();
    }
    let last = cx.shared.db.get().map_or(0, |db| db.last_sequence());
    let replid = random_hex(40);
    repl.update(|s| {
        s.primary = None;
        s.replid2 = std::mem::replace(&mut s.replid, replid.clone());
        s.second_offset = i64::try_from(last).map_or(i64::MAX, |l| l + 1);
        s.link.up = false;
    });
    repl.generation.fetch_add(1, Ordering::SeqCst);
    // The data came from the old primary, and its record of the versions it drew with it.
    cx.shared.versions.reread_floor();
    let dir = {
        let mut config = cx.shared.config.write();
        config.replicaof = None;
        config.dir.clone()
    };
    if let Err(error) = write_id(&dir, &replid) {
        tracing::warn!(%error, "cannot record the replication id");
    }
    tracing::info!("promoted to primary");
    Reply::ok()
}

/// ROLE, as Redis answers it.
fn role(cx: &mut Context) -> Reply {
    let repl = &cx.shared.replication;
    let state = repl.state();
    let offset = cx.shared.db.get().map_or(0, |db| db.last_sequence());
    match state.primary {
        None => Reply::Array(vec![
            bulk("master"),
            Reply::Integer(i64::try_from(offset).unwrap_or(i64::MAX)),
            Reply::Array(
                repl.replicas()
                    .into_iter()
                    .map(|r| {
                        Reply::Array(vec![
                            bulk(r.ip),
                            bulk(r.port.to_string()),
                            bulk(r.ack.to_string()),
                        ])
                    })
                    .collect(),
            ),
        ]),
        Some((host, port)) => Reply::Array(vec![
            bulk("slave"),
            bulk(host),
            Reply::Integer(i64::from(port)),
            bulk(state.link.phase),
            Reply::Integer(i64::try_from(offset).unwrap_or(i64::MAX)),
        ]),
    }
}

/// WAIT numreplicas timeout: at once if enough replicas have what this client wrote,
/// otherwise handed to the connection, which waits (asking the replicas for an ACK).
fn wait(cx: &mut Context, replicas: u64, timeout_ms: u64) -> Reply {
    let repl = &cx.shared.replication;
    if repl.is_replica() {
        return Reply::error("ERR WAIT cannot be used with replica instances. Please also note that since Redis 4.0 if a replica is configured to be writable (which is not the default) writes to replicas are just local and are not propagated.");
    }
    let offset = cx.shared.db.get().map_or(0, |db| db.last_sequence());
    let acked = repl.acked_at_least(offset) as u64;
    if acked >= replicas || cx.session.multi.is_some() {
        return Reply::Integer(i64::try_from(acked).unwrap_or(i64::MAX));
    }
    repl.request_acks();
    let deadline =
        (timeout_ms > 0).then(|| tokio::time::Instant::now() + Duration::from_millis(timeout_ms));
    cx.session.handoff = Some(Handoff::Wait {
        replicas,
        offset,
        deadline,
    });
    Reply::ok()
}

/// REPLCONF on a connection that is not (yet) a replica's stream.
fn replconf(cx: &mut Context, conf: ReplConf) -> Reply {
    match conf {
        ReplConf::Settings {
            listening_port,
            ip_address,
        } => {
            if let Some(port) = listening_port {
                cx.session.replconf.0 = port;
            }
            if ip_address.is_some() {
                cx.session.replconf.1 = ip_address;
            }
            Reply::ok()
        }
        // Only meaningful on a stream; Redis ignores them elsewhere too.
        ReplConf::Ack(_) | ReplConf::GetAck => Reply::ok(),
    }
}

/// PSYNC / SYNC: the connection becomes the replica's stream after this round.
fn sync(cx: &mut Context, replid: Option<String>, offset: i64, psync: bool) -> Reply {
    if cx.shared.replication.loading.load(Ordering::SeqCst) {
        return Reply::error("LOADING Redis is loading the dataset in memory");
    }
    cx.session.handoff = Some(Handoff::Sync(SyncRequest {
        replid,
        offset,
        psync,
        port: cx.session.replconf.0,
        ip: cx.session.replconf.1.clone(),
    }));
    Reply::ok()
}
