//! The native protocol's requests as commands: each typed op of a native frame is the
//! command a RESP request of the same meaning parses to, with the same row, so it runs
//! through the same dispatch (docs/protocol.md names the equivalences).

use bytes::Bytes;

use super::generic::{self, ExpireAt, GenericCommand};
use super::scan::{self, ScanCommand};
use super::strings::{self, Expiry, Set, SetCondition, StringCommand};
use super::{connection, Command, ConnectionCommand, Keys};
use crate::protocol::binary::{BatchOp, Condition, Op};

/// A request as it reaches the dispatcher: an argument list still to parse (RESP, and the
/// native protocol's `Resp` op), or a command the native protocol already typed.
#[derive(Debug, Clone, PartialEq)]
pub enum Request {
    /// `args[0]` the name; parsed by [`Command::parse`].
    Args(Vec<Bytes>),
    /// Already a command.
    Command(Command),
}

impl From<Op> for Request {
    fn from(op: Op) -> Request {
        let one = |key: Bytes| -> Keys { std::iter::once(key).collect() };
        Request::Command(match op {
            Op::Resp { args } => return Request::Args(args),
            Op::Get { key } => Command::new(&strings::GET, one(key), StringCommand::Get),
            Op::GetVersioned { key } => Command::new(
                &strings::GET_VERSIONED,
                one(key),
                StringCommand::GetVersioned,
            ),
            Op::Set {
                key,
                value,
                condition,
                expiry_ms,
            } => {
                let (spec, condition) = match condition {
                    Condition::None => (&strings::SET, None),
                    Condition::IfAbsent => (&strings::SET, Some(SetCondition::Nx)),
                    Condition::IfPresent => (&strings::SET, Some(SetCondition::Xx)),
                    Condition::IfValueEquals(v) => (&strings::SET, Some(SetCondition::IfEq(v))),
                    Condition::IfVersionEquals(v) => {
                        (&strings::SET_IF_VERSION, Some(SetCondition::IfVersion(v)))
                    }
                };
                let set = Set {
                    value,
                    condition: condition.map(Box::new),
                    get: false,
                    expiry: expiry_ms.map(Expiry::Millis),
                };
                Command::new(spec, one(key), StringCommand::Set(set))
            }
            Op::Delete { key } => Command::new(&generic::DEL, one(key), GenericCommand::Del),
            Op::IncrBy { key, delta } => {
                Command::new(&strings::INCRBY, one(key), StringCommand::IncrBy { delta })
            }
            Op::Expire { key, ttl_ms } => {
                let expire = GenericCommand::Expire {
                    when: ExpireAt::Millis(i64::try_from(ttl_ms).unwrap_or(i64::MAX)),
                    condition: None,
                };
                Command::new(&generic::PEXPIRE, one(key), expire)
            }
            Op::Batch { ops } => {
                let (keys, values) = ops
                    .into_iter()
                    .map(|op| match op {
                        BatchOp::Put { key, value } => (key, Some(value)),
                        BatchOp::Delete { key } => (key, None),
                    })
                    .unzip();
                Command::new(&generic::BATCH, keys, GenericCommand::Batch { values })
            }
            Op::Range {
                start,
                end,
                limit,
                reverse,
            } => {
                let range = ScanCommand::Range(Box::new(scan::Range {
                    start,
                    end,
                    limit: limit.map(|n| usize::try_from(n).unwrap_or(usize::MAX)),
                    reverse,
                    keys_only: false,
                }));
                Command::new(&scan::RANGE, Keys::new(), range)
            }
            Op::Ping => Command::new(
                &connection::PING,
                Keys::new(),
                ConnectionCommand::Ping { message: None },
            ),
            Op::Auth { username, password } => Command::auth(username, password),
        })
    }
}

impl Command {
    /// `AUTH [username] password`, as the native handshake's credentials ask it.
    pub fn auth(username: Option<Bytes>, password: Bytes) -> Command {
        let auth = ConnectionCommand::Auth { username, password };
        Command::new(&connection::AUTH, Keys::new(), auth)
    }
}
