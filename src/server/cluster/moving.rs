//! CLUSTER MOVESLOT: hands one slot, with its keys, to another primary while clients go on
//! reading and writing it, then installs the next map version on every node.
//!
//! The move runs on a thread of its own, so the node serves its other clients meanwhile:
//!
//! 1. The target is told to import the slot (`CLUSTER SETSLOT s IMPORTING me`) and this
//!    node marks it migrating. From now on a request for keys this node still has is served
//!    here; one for keys it does not have gets `-ASK s target`, and the target serves it
//!    after ASKING; a multi-key request with some keys here and some not gets `-TRYAGAIN`.
//!    Requests in a migrating slot hold their keys' locks while they check and run (see
//!    `dispatch`), so a key is never half-moved under a client.
//! 2. Passes over the slot's keys: each batch is read with its versions, written to the
//!    target (`ASKING` + `SET ... PXAT` for a string; for a collection `DEL`, then its
//!    elements by `HSET`, `RPUSH`, `SADD` or `ZADD` a few hundred at a time, then
//!    `PEXPIREAT`), and once the target acknowledged it, each key is deleted here under its
//!    lock if its version did not change meanwhile (any write to a collection moves its
//!    header's version). A key written again during the pass stays for the next one, and
//!    is sent whole again. Passes end when the slot is empty here.
//! 3. The next map version, with the slot given to the target, is sent to the target
//!    (ending its import), then installed here (ending the migrating state), then sent to
//!    every other node.
//!
//! A move that fails midway (the target unreachable, say) leaves the slot migrating, so
//! no key is out of reach: the ones already moved are served by the target through ASK.
//! Running MOVESLOT again for the same slot and target resumes it. The migrating and
//! importing states are not persisted: a node restarted mid-move forgets them, and the
//! keys already moved are out of reach until the move is run again.

use std::sync::Arc;

use bytes::Bytes;

use super::peer::Peer;
use super::Cluster;
use crate::protocol::Reply;
use crate::server::commands::scan::keys_in_slot;
use crate::server::commands::zsets::decode_score;
use crate::server::keyspace::{ExecError, Keyspace};
use crate::server::shared::Shared;
use crate::server::value::{Entry, Kind, Meta, Record};

/// Keys copied to the target per round trip.
const BATCH: usize = 256;

/// Starts moving `slot` to the primary `to`; the reply says whether it started. The move
/// goes on in the background; CLUSTER SLOTS shows the new owner when it is done.
pub(crate) fn start(shared: &Arc<Shared>, cluster: &Cluster, slot: u16, to: &str) -> Reply {
    let (me, target) = match cluster.begin_move(slot, to) {
        Ok(ends) => ends,
        Err(error) => return Reply::error(error),
    };
    let shared = shared.clone();
    let spawned = std::thread::Builder::new()
        .name("cairn-moveslot".into())
        .spawn(move || {
            let Some(cluster) = shared.cluster.as_ref() else {
                return;
            };
            match run(&shared, cluster, slot, &me, &target) {
                Ok(moved) => tracing::info!(slot, to = %target.1, moved, "slot moved"),
                Err(error) => tracing::warn!(
                    slot,
                    to = %target.1,
                    %error,
                    "slot move stopped; the slot stays migrating until CLUSTER MOVESLOT is run again"
                ),
            }
            cluster.end_move(slot);
        });
    match spawned {
        Ok(_) => Reply::ok(),
        Err(error) => {
            cluster.end_move(slot);
            Reply::error(format!("ERR cannot start the slot move: {error}"))
        }
    }
}

/// The move itself; returns how many keys it moved.
fn run(
    shared: &Shared,
    cluster: &Cluster,
    slot: u16,
    me: &str,
    (to_id, to_addr): &(String, String),
) -> Result<u64, String> {
    let password = shared.config.read().requirepass.clone();
    let mut target = Peer::connect(to_addr, password.as_deref())?;
    let slot_arg = slot.to_string();
    target.call(&["CLUSTER", "SETSLOT", &slot_arg, "IMPORTING", me])?;
    cluster.set_migrating(slot, Some(to_id.clone()));
    let mut moved = 0;
    loop {
        let keys = keys_in_slot(shared, slot, usize::MAX).map_err(|e| e.to_string())?;
        if keys.is_empty() {
            break;
        }
        for batch in keys.chunks(BATCH) {
            moved += copy_batch(shared, &mut target, batch).map_err(|e| e.to_string())?;
        }
    }
    // Give the slot away: on the target first, which then serves it without ASKING (this
    // node, with none of its keys left, sends every request for it there by ASK), then
    // here, then everywhere else. The other order would leave a moment when each of the
    // two sends clients to the other.
    let next = {
        let state = cluster.state();
        let to = state
            .map
            .find(to_id)
            .ok_or("the target left the map during the move")?;
        state.map.with_slot_moved(slot, to)
    };
    let text = next.render();
    target.call(&[b"CLUSTER".as_slice(), b"SETMAP", text.as_bytes()])?;
    cluster
        .install(next.clone())
        .map_err(|e| format!("cannot install map version {}: {e}", next.version))?;
    for node in &next.nodes {
        if node.id == me || node.id == *to_id {
            continue;
        }
        let sent = Peer::connect(&node.addr(), password.as_deref())
            .and_then(|mut peer| peer.call(&[b"CLUSTER".as_slice(), b"SETMAP", text.as_bytes()]));
        if let Err(error) = sent {
            // That node redirects to the old owner, which now redirects to the new one:
            // clients still get there, one hop longer, until the map reaches it.
            tracing::warn!(node = %node.id, %error, version = next.version, "cannot send the new cluster map");
        }
    }
    Ok(moved)
}

/// Copies `keys` to the target and deletes here those that did not change meanwhile;
/// returns how many it deleted.
fn copy_batch(shared: &Shared, target: &mut Peer, keys: &[Bytes]) -> Result<u64, CopyError> {
    let mut sent: Vec<(&Bytes, u64)> = Vec::with_capacity(keys.len());
    let mut requests = 0;
    {
        let ks = Keyspace::new(shared);
        for key in keys {
            let Some((record, version)) = ks.record_versioned(key)? else {
                continue;
            };
            let recreate = match record {
                Record::Str(entry) => vec![set_request(key, &entry)],
                Record::Coll(meta) => collection_requests(&ks, key, &meta)?,
            };
            for request in &recreate {
                target.send(&["ASKING"]);
                target.send(request);
            }
            requests += recreate.len();
            sent.push((key, version));
        }
    }
    target.flush().map_err(CopyError::Peer)?;
    for _ in 0..requests * 2 {
        if let Reply::Error(error) = target.reply().map_err(CopyError::Peer)? {
            let error = String::from_utf8_lossy(&error).into_owned();
            return Err(CopyError::Peer(format!(
                "the target refused a key: {error}"
            )));
        }
    }
    let _locks = shared.locks.lock(sent.iter().map(|(k, _)| *k));
    let mut ks = Keyspace::new(shared);
    let mut deleted = 0;
    for (key, version) in sent {
        if ks.version(key)? == Some(version) {
            ks.delete(key.clone());
            deleted += 1;
        }
    }
    if let Some(ticket) = ks.commit()? {
        ticket.wait().map_err(ExecError::from)?;
    }
    Ok(deleted)
}

/// The SET that recreates `entry` under `key` on the target, deadline included.
fn set_request(key: &Bytes, entry: &Entry) -> Vec<Bytes> {
    let mut args = vec![Bytes::from_static(b"SET"), key.clone(), entry.value.clone()];
    if let Some(at) = entry.expires_at {
        args.push(Bytes::from_static(b"PXAT"));
        args.push(Bytes::from(at.to_string()));
    }
    args
}

/// Elements per request that recreates a collection on the target.
const ELEMENTS_PER_REQUEST: usize = 256;

/// The requests that recreate the collection `meta` under `key` on the target: DEL of
/// what an earlier, interrupted pass may have left there, its elements a few hundred per
/// request (a list's in order), and its deadline.
fn collection_requests(
    ks: &Keyspace,
    key: &Bytes,
    meta: &Meta,
) -> Result<Vec<Vec<Bytes>>, ExecError> {
    let prefix = ks.elements_of(key, meta);
    let (command, per_element): (&'static [u8], usize) = match meta.kind {
        Kind::Hash => (b"HSET", 2),
        Kind::List => (b"RPUSH", 1),
        Kind::Set => (b"SADD", 1),
        Kind::ZSet => (b"ZADD", 2),
    };
    let mut requests = vec![vec![Bytes::from_static(b"DEL"), key.clone()]];
    let mut args: Vec<Bytes> = Vec::new();
    for item in ks.elements_under(&prefix, false) {
        let (engine_key, value) = item?;
        let suffix = engine_key.slice(prefix.len()..);
        match meta.kind {
            Kind::Hash => args.extend([suffix, value]),
            Kind::List => args.push(value),
            Kind::Set => args.push(suffix),
            // The member records ('m', member -> score); the score index follows from them.
            Kind::ZSet => match suffix.split_first() {
                Some((b'm', _)) => {
                    // Rust's shortest round-trip text: the target parses back the same f64.
                    let score = decode_score(&value).to_string();
                    args.extend([Bytes::from(score), suffix.slice(1..)]);
                }
                _ => continue,
            },
        }
        if args.len() >= ELEMENTS_PER_REQUEST * per_element {
            requests.push(elements_request(command, key, std::mem::take(&mut args)));
        }
    }
    if !args.is_empty() {
        requests.push(elements_request(command, key, args));
    }
    if let Some(at) = meta.expires_at {
        requests.push(vec![
            Bytes::from_static(b"PEXPIREAT"),
            key.clone(),
            Bytes::from(at.to_string()),
        ]);
    }
    Ok(requests)
}

fn elements_request(command: &'static [u8], key: &Bytes, args: Vec<Bytes>) -> Vec<Bytes> {
    let mut request = Vec::with_capacity(args.len() + 2);
    request.push(Bytes::from_static(command));
    request.push(key.clone());
    request.extend(args);
    request
}

/// Why a batch could not be copied.
#[derive(Debug, thiserror::Error)]
enum CopyError {
    /// This node's engine.
    #[error(transparent)]
    Exec(#[from] ExecError),
    /// The target.
    #[error("{0}")]
    Peer(String),
}
