//! The meaning of native requests and responses, independent of their bytes.

use std::ops::Bound;

use bytes::Bytes;

use crate::protocol::Reply;

/// When a [`Op::Set`] may write.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Condition {
    /// Always.
    None,
    /// Only if the key does not exist (Redis NX).
    IfAbsent,
    /// Only if the key exists (Redis XX).
    IfPresent,
    /// Only if the current value equals this one (Redis 8.4 IFEQ).
    IfValueEquals(Bytes),
    /// Only if the key's current version equals this one (from [`Op::GetVersioned`]).
    IfVersionEquals(u64),
}

/// One write in an [`Op::Batch`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum BatchOp {
    /// Write a value.
    Put {
        /// The key.
        key: Bytes,
        /// The value.
        value: Bytes,
    },
    /// Delete a key.
    Delete {
        /// The key.
        key: Bytes,
    },
}

/// What a request asks. The server converts it to its `Command`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Op {
    /// Read a key: `Bulk` or `Null`.
    Get {
        /// The key.
        key: Bytes,
    },
    /// Read a key and its version: `Array[Bulk value, Integer version]` or `Null`.
    GetVersioned {
        /// The key.
        key: Bytes,
    },
    /// Write a key: `Simple OK`, or `Null` when the condition failed.
    Set {
        /// The key.
        key: Bytes,
        /// The value.
        value: Bytes,
        /// When to write.
        condition: Condition,
        /// Time to live in milliseconds from now; `None` keeps no expiry.
        expiry_ms: Option<u64>,
    },
    /// Delete a key: `Integer` 1 if it existed, else 0.
    Delete {
        /// The key.
        key: Bytes,
    },
    /// Add to an integer value: `Integer`, the new value.
    IncrBy {
        /// The key.
        key: Bytes,
        /// The amount to add (may be negative).
        delta: i64,
    },
    /// Set a time to live: `Integer` 1 if the key exists, else 0.
    Expire {
        /// The key.
        key: Bytes,
        /// Milliseconds from now.
        ttl_ms: u64,
    },
    /// Puts and deletes applied atomically: `Simple OK`.
    Batch {
        /// The writes, applied in order.
        ops: Vec<BatchOp>,
    },
    /// Ordered scan, answered as a stream of `Map` chunks (docs/protocol.md).
    Range {
        /// Lower bound.
        start: Bound<Bytes>,
        /// Upper bound.
        end: Bound<Bytes>,
        /// At most this many pairs in all.
        limit: Option<u64>,
        /// Descending order.
        reverse: bool,
    },
    /// `Simple PONG`.
    Ping,
    /// Authenticate: `Simple OK` or an error.
    Auth {
        /// The ACL user; `None` for the default user.
        username: Option<Bytes>,
        /// The password.
        password: Bytes,
    },
    /// Any Redis command by its argument list; answered as Redis would (RESP3 shapes).
    Resp {
        /// Command name and arguments.
        args: Vec<Bytes>,
    },
}

/// A request frame.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Request {
    /// Chosen by the client; the response carries it back.
    pub id: u64,
    /// What is asked.
    pub op: Op,
}

/// A response frame.
#[derive(Debug, Clone, PartialEq)]
pub struct Response {
    /// The request's id.
    pub id: u64,
    /// A chunk of a streamed range: more frames for this id follow. The last has `false`.
    pub more: bool,
    /// The answer (errors are `Reply::Error`).
    pub body: Reply,
}
