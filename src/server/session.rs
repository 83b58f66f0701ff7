//! One client's private state: protocol version, authentication, an open MULTI, watched
//! keys, and the durability ticket of its latest write.
//!
//! Whatever other connections must see (name, library, kill switch) lives in the client
//! registry instead; the session only points at its entry.

use std::sync::Arc;

use bytes::Bytes;

use super::clients::ClientInfo;
use super::pubsub::Subscriptions;
use crate::protocol::command::{Command, CommandError, CommandSpec};
use crate::protocol::RespVersion;
use crate::storage::WriteTicket;

/// A MULTI block being queued.
#[derive(Debug, Default)]
pub struct Transaction {
    /// Commands queued so far, in order. A command whose arguments failed to parse (not a
    /// lookup error) is queued as its error: Redis reports it in EXEC's reply.
    pub queued: Vec<Result<Command, CommandError>>,
    /// A command failed to queue: EXEC must refuse (EXECABORT).
    pub failed: bool,
    /// In cluster mode, the slot of the keys queued (or watched) so far: a transaction
    /// holds to one slot.
    pub slot: Option<u16>,
}

/// What a client told cluster mode about itself.
#[derive(Debug, Default, Clone, Copy)]
pub struct ClusterFlags {
    /// The next command may use a slot being imported here (ASKING).
    pub asking: bool,
    /// Reads of the primary's slots are served on this replica (READONLY).
    pub readonly: bool,
}

/// Per-connection state.
pub struct Session {
    /// This client's registry entry.
    pub info: Arc<ClientInfo>,
    /// RESP version replies are encoded in.
    pub resp: RespVersion,
    /// Whether the client has authenticated (always true without `requirepass`).
    pub authenticated: bool,
    /// An open MULTI.
    pub multi: Option<Transaction>,
    /// The numbered database commands work in (SELECT).
    pub db: u8,
    /// Keys under WATCH: database, key, and version when watched (`None` = missing).
    pub watched: Vec<(u8, Bytes, Option<u64>)>,
    /// Completes when this client's latest write is durable; replies wait for it.
    pub pending_write: Option<WriteTicket>,
    /// Close the connection after the replies already produced (QUIT).
    pub closing: bool,
    /// What the client told cluster mode (ASKING, READONLY).
    pub cluster: ClusterFlags,
    /// Its channel and pattern subscriptions, while it has any.
    pub pubsub: Option<Subscriptions>,
    /// Left by a blocking pop that found nothing: the connection then waits
    /// (`server::blocking`).
    pub blocked: Option<super::blocking::BlockedOn>,
    /// A blocked pop is being retried after a wake-up (see `blocking::source`).
    pub woken: bool,
    /// The last command run, as recorded in `info` (see [`Session::ran`]).
    last_command: Option<&'static CommandSpec>,
    /// What a replica announced with REPLCONF (listening port, address).
    pub replconf: (u16, Option<String>),
    /// The connection is to be handed over once the round's replies are out: to the
    /// replication stream (PSYNC, SYNC) or to a WAIT.
    pub handoff: Option<Handoff>,
}

/// What a connection does after its round instead of reading the next requests.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Handoff {
    /// Becomes a replica's write stream.
    Sync(crate::server::replication::feed::SyncRequest),
    /// Waits for `replicas` acknowledgements of `offset`, at most until `deadline`.
    Wait {
        /// Replicas wanted.
        replicas: u64,
        /// The sequence number they must have.
        offset: u64,
        /// `None`: for ever.
        deadline: Option<tokio::time::Instant>,
    },
}

impl Session {
    /// A new session; `authenticated` is false only when a password is required.
    pub fn new(info: Arc<ClientInfo>, authenticated: bool) -> Session {
        Session {
            info,
            resp: RespVersion::Resp2,
            authenticated,
            multi: None,
            db: 0,
            watched: Vec::new(),
            pending_write: None,
            closing: false,
            cluster: ClusterFlags::default(),
            pubsub: None,
            blocked: None,
            woken: false,
            last_command: None,
            replconf: (0, None),
            handoff: None,
        }
    }

    /// Whether the client is in RESP2's subscribed context, where only the subscription
    /// commands, PING, QUIT and RESET are allowed (RESP3 interleaves pushes with replies,
    /// so any command is).
    pub fn in_resp2_pubsub(&self) -> bool {
        self.resp == RespVersion::Resp2 && self.pubsub.is_some()
    }

    /// Records `command` as the last this client ran, for CLIENT LIST's `cmd`. The
    /// registry's lock is taken only when the command changes: a client sending one kind
    /// of command takes it once.
    pub fn ran(&mut self, command: &'static CommandSpec) {
        if !self
            .last_command
            .is_some_and(|last| std::ptr::eq(last, command))
        {
            self.last_command = Some(command);
            self.info.details.lock().last_command = command.command_name();
        }
    }
}
