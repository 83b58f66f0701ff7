//! `Command`: the typed meaning of a request, whichever protocol carried it.
//!
//! This module owns the translation from an argument list (`args[0]` the name) or a native
//! request to a [`Command`], with Redis 7's arity, option and error rules, and the command
//! table ([`COMMANDS`]) that drives it. A command family has a file here and the file of the
//! same name under `server/commands/`: here its rows (name, arity, flags, key positions, ACL
//! categories, docs), its typed commands and their parsers; there what they do. It never
//! touches sockets, storage or time: deadlines are computed by the server from the values
//! parsed here.
//!
//! A command's keys are taken out of its arguments by its row's key positions, never by its
//! parser, so the keys a command names (what the server locks, WATCH and cluster routing
//! check, COMMAND GETKEYS reports) cannot disagree with the table. Values are moved out of
//! the argument `Vec<Bytes>`, never copied.

mod args;
mod cluster;
mod connection;
mod docs;
mod error;
mod flags;
mod generic;
mod hashes;
mod lists;
mod native;
mod pubsub;
mod replication;
mod scan;
mod server;
mod sets;
mod strings;
mod table;
mod transactions;
mod zsets;

#[cfg(test)]
mod tests;

use bytes::Bytes;
use smallvec::SmallVec;

pub(crate) use args::parse_i64;
pub use args::{digest, digest_hex};
pub use cluster::{ClusterCommand, SlotState};
pub use connection::{
    validate_client_name, ClientAttr, ClientCommand, ClientKill, ClientKillFilter, ClientType,
    ConnectionCommand,
};
pub use docs::{ArgKind, ArgSpec};
pub use error::CommandError;
pub use generic::{ExpireAt, ExpireCondition, GenericCommand, ObjectQuery};
pub use hashes::HashCommand;
pub use lists::{End, ListCommand, Timeout};
pub use native::Request;
pub use pubsub::PubSubCommand;
pub use replication::{ReplConf, ReplicationCommand};
pub use scan::{Range, Scan, ScanCommand};
pub use server::{CommandListFilter, CommandQuery, ConfigCommand, ServerCommand};
pub use sets::SetCommand;
pub use strings::{
    BitFieldAction, BitFieldOp, BitFieldType, BitOperation, BitRange, BitUnit, DeferredRange,
    Expiry, GetExExpiry, Overflow, Set, SetCondition, StringCommand, ValueCondition,
};
pub use table::{keys_of_request, lookup, AclCategories, CommandSpec, Flags, COMMANDS};
pub use transactions::TransactionCommand;
pub use zsets::{
    Aggregate, LexBound, LexRange, RangeBy, ScoreRange, ZAddFlags, ZRange, ZSetCommand, ZStore,
};

use args::Args;

/// Largest string Redis builds by default (proto-max-bulk-len, 512 MiB).
pub const MAX_STRING_LEN: usize = 512 * 1024 * 1024;

/// A parsed request: the table row it was parsed by, its keys, and what it asks of its
/// family.
#[derive(Debug, Clone, PartialEq)]
pub struct Command {
    spec: &'static CommandSpec,
    keys: Keys,
    family: Family,
}

/// What a command asks, by family, with its arguments other than its keys. Each variant's
/// type lives in the family's file, beside its rows.
#[derive(Debug, Clone, PartialEq)]
pub enum Family {
    /// GET, SET and the other string commands (`strings.rs`).
    Strings(StringCommand),
    /// Commands on keys of any type: DEL, EXPIRE, RENAME, ... (`generic.rs`).
    Generic(GenericCommand),
    /// Commands that walk the key space in order: SCAN, KEYS, RANGE, ... (`scan.rs`).
    Scan(ScanCommand),
    /// MULTI, EXEC, DISCARD, WATCH, UNWATCH (`transactions.rs`).
    Transactions(TransactionCommand),
    /// PING, HELLO, AUTH, CLIENT, ... (`connection.rs`).
    Connection(ConnectionCommand),
    /// COMMAND, CONFIG, INFO, TIME, SHUTDOWN (`server.rs`).
    Server(ServerCommand),
    /// CLUSTER, ASKING, READONLY, READWRITE (`cluster.rs`).
    Cluster(ClusterCommand),
    /// SUBSCRIBE, PUBLISH, PUBSUB, ... (`pubsub.rs`).
    PubSub(PubSubCommand),
    /// ZADD, ZRANGE and the other sorted-set commands (`zsets.rs`).
    ZSets(ZSetCommand),
    /// LPUSH, LPOP, LRANGE, BLPOP, ... (`lists.rs`).
    Lists(ListCommand),
    /// HSET, HGET and the other hash commands (`hashes.rs`).
    Hashes(HashCommand),
    /// SADD, SMEMBERS and the other set commands (`sets.rs`).
    Sets(SetCommand),
    /// REPLICAOF, ROLE, WAIT, PSYNC, REPLCONF, ... (`replication.rs`).
    Replication(ReplicationCommand),
}

/// A command's key arguments in argument order; most commands have one, kept inline.
pub type Keys = SmallVec<[Bytes; 1]>;

impl Command {
    /// Parses a request; `args[0]` is the command name, case-insensitive. Never panics.
    ///
    /// The row ([`COMMANDS`], a container's subcommand row for CLIENT, CONFIG, COMMAND)
    /// gives the arity and the key positions, so parse and COMMAND never disagree; its
    /// parser sees only the other arguments. Arguments are moved into the result, never
    /// copied.
    pub fn parse(mut args: Vec<Bytes>) -> Result<Command, CommandError> {
        let (spec, words) = table::resolve(&args)?;
        let argc = args.len();
        // The name (and a container's subcommand) and the keys are not the parser's: `skip`
        // counts the leading arguments it does not see.
        let mut keys = Keys::new();
        let skip = match spec.key_span(argc) {
            None => words,
            // Keys right after the name (GET, SET, DEL, RENAME, ...), the common case:
            // taken where they lie, and skipped with the name.
            Some((first, last, 1)) if first == words => {
                if first == last {
                    // One key, the most common request: a plain push skips `extend`'s
                    // size-hint and grow checks (about 2% of a pipelined GET).
                    keys.push(std::mem::take(&mut args[first]));
                } else {
                    keys.extend(args[first..=last].iter_mut().map(std::mem::take));
                }
                last + 1
            }
            // Keys side by side further on: one move of the arguments after them.
            Some((first, last, 1)) => {
                keys.extend(args.drain(first..=last));
                words
            }
            // Keys between values (MSET): taken out, then the gaps closed.
            Some((first, last, step)) => {
                for i in (first..=last).step_by(step) {
                    keys.push(std::mem::take(&mut args[i]));
                }
                let mut i = 0;
                args.retain(|_| {
                    let key = (first..=last).contains(&i) && (i - first).is_multiple_of(step);
                    i += 1;
                    !key
                });
                words
            }
        };
        let mut rest = args.into_iter();
        rest.nth(skip - 1);
        let mut rest = Args::new(rest, argc);
        let mut family = (spec.parse)(&mut rest)?;
        if spec.flags.contains(Flags::MOVABLEKEYS) {
            // Keys after a count (LMPOP's numkeys) are the parser's to find; those at the
            // row's positions (ZUNIONSTORE's destination) stay.
            keys.extend(family.take_keys());
        }
        Ok(Command { spec, keys, family })
    }

    /// A command of `spec` from parts already parsed (the native protocol's requests).
    pub(crate) fn new(spec: &'static CommandSpec, keys: Keys, family: impl Into<Family>) -> Self {
        Command {
            spec,
            keys,
            family: family.into(),
        }
    }

    /// The row the command was parsed by (a subcommand's own row for CLIENT SETNAME).
    pub fn spec(&self) -> &'static CommandSpec {
        self.spec
    }

    /// The lower-case name of the command as sent, e.g. `"setex"`; a subcommand gives its
    /// container's name (`"client"` for CLIENT SETNAME), as CLIENT LIST's `cmd` shows it.
    pub fn name(&self) -> &'static str {
        self.spec.command_name()
    }

    /// The keys the command names, in argument order, as its row's key positions pick
    /// them (MSET's keys without their values, RENAME's source then destination, a
    /// batch's keys). Empty for commands without keys, and for RANGE, whose bounds are
    /// not keys.
    pub fn keys(&self) -> &[Bytes] {
        &self.keys
    }

    /// What the command asks of its family.
    pub fn family(&self) -> &Family {
        &self.family
    }

    /// The keys and the family's command, to run it.
    pub fn into_parts(self) -> (Keys, Family) {
        (self.keys, self.family)
    }

    /// Whether the command may change data (its row's `write` flag).
    pub fn is_write(&self) -> bool {
        self.spec.is_write()
    }
}

impl Family {
    /// The keys a `MOVABLEKEYS` command's parser found, moved out.
    fn take_keys(&mut self) -> Keys {
        match self {
            Family::Lists(command) => command.take_keys(),
            Family::ZSets(command) => command.take_keys(),
            Family::Sets(command) => command.take_keys(),
            _ => Keys::new(),
        }
    }
}

macro_rules! family_from {
    ($($variant:ident($command:ty)),*) => {
        $(impl From<$command> for Family {
            fn from(command: $command) -> Family {
                Family::$variant(command)
            }
        })*
    };
}

/// A container's subcommand as its family's command (CLIENT's are connection commands,
/// COMMAND's and CONFIG's server commands), so their rows' parsers return it directly.
macro_rules! subcommand_from {
    ($($variant:ident($family:ident::$sub:ident($command:ty))),*) => {
        $(impl From<$command> for Family {
            fn from(command: $command) -> Family {
                Family::$variant($family::$sub(command))
            }
        })*
    };
}

subcommand_from!(
    Connection(ConnectionCommand::Client(ClientCommand)),
    Server(ServerCommand::Command(CommandQuery)),
    Server(ServerCommand::Config(ConfigCommand))
);

family_from!(
    Strings(StringCommand),
    Generic(GenericCommand),
    Scan(ScanCommand),
    Transactions(TransactionCommand),
    Connection(ConnectionCommand),
    Server(ServerCommand),
    Cluster(ClusterCommand),
    PubSub(PubSubCommand),
    ZSets(ZSetCommand),
    Lists(ListCommand),
    Hashes(HashCommand),
    Sets(SetCommand),
    Replication(ReplicationCommand)
);
