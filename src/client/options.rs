//! The plain data a caller hands to or gets from a [`Client`](super::Client): connection
//! options, write conditions, range options, batches, versioned values.
//!
//! It owns no behaviour beyond building these values; nothing here touches a connection.

use std::time::Duration;

use bytes::Bytes;

use crate::protocol::binary;
use crate::protocol::Limits;
pub use crate::tls::TlsOptions;

/// The port a Cairn server listens on by default.
pub const DEFAULT_PORT: u16 = 7379;

/// How a [`Client`](super::Client) connects and how long it waits.
#[derive(Clone)]
pub struct ClientOptions {
    /// ACL user to authenticate as; `None` is the default user (`requirepass`).
    pub username: Option<String>,
    /// Password sent in the handshake of every connection (also after a reconnect).
    pub password: Option<String>,
    /// Longest wait for resolving, connecting and the handshake. Default 5 s.
    pub connect_timeout: Duration,
    /// Longest wait for an answer (for a range: for each chunk). `None` waits forever.
    /// Default 30 s.
    pub request_timeout: Option<Duration>,
    /// Sizes the client refuses to send and to receive. Default: the protocol's defaults,
    /// which are the server's.
    pub limits: Limits,
    /// Speak TLS to the server (its `tls-port`); `None`, the default, is plaintext.
    pub tls: Option<TlsOptions>,
}

impl std::fmt::Debug for ClientOptions {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        // The password stays out of logs.
        f.debug_struct("ClientOptions")
            .field("username", &self.username)
            .field("password", &self.password.as_ref().map(|_| "<redacted>"))
            .field("connect_timeout", &self.connect_timeout)
            .field("request_timeout", &self.request_timeout)
            .field("limits", &self.limits)
            .field("tls", &self.tls)
            .finish()
    }
}

impl Default for ClientOptions {
    fn default() -> Self {
        ClientOptions {
            username: None,
            password: None,
            connect_timeout: Duration::from_secs(5),
            request_timeout: Some(Duration::from_secs(30)),
            limits: Limits::default(),
            tls: None,
        }
    }
}

/// When [`Client::set_with`](super::Client::set_with) writes.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub enum SetCondition {
    /// Unconditionally.
    #[default]
    Always,
    /// Only if the key does not exist (Redis `NX`).
    IfAbsent,
    /// Only if the key exists (Redis `XX`).
    IfPresent,
    /// Only if the current value equals this one (compare-and-set on the value).
    IfValueEquals(Bytes),
    /// Only if the key's current version equals this one, as read by
    /// [`Client::get_versioned`](super::Client::get_versioned) (compare-and-set on the version).
    IfVersionEquals(u64),
}

/// Options of [`Client::set_with`](super::Client::set_with).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct SetOptions {
    /// When to write.
    pub condition: SetCondition,
    /// Time to live from now (at least 1 ms); `None` stores the key without expiry.
    pub expiry: Option<Duration>,
}

/// A value with its version, from [`Client::get_versioned`](super::Client::get_versioned).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Versioned {
    /// The value.
    pub value: Bytes,
    /// The key's version: changes on every write of the key.
    pub version: u64,
}

/// Options of [`Client::range_with`](super::Client::range_with).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct RangeOptions {
    /// At most this many pairs.
    pub limit: Option<u64>,
    /// Descending key order.
    pub reverse: bool,
}

/// Puts and deletes applied atomically by [`Client::batch`](super::Client::batch), in the order added.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Batch {
    pub(super) ops: Vec<binary::BatchOp>,
}

impl Batch {
    /// An empty batch.
    pub fn new() -> Batch {
        Batch::default()
    }

    /// Adds a write of `value` to `key`.
    pub fn put(&mut self, key: impl AsRef<[u8]>, value: impl AsRef<[u8]>) -> &mut Batch {
        self.ops.push(binary::BatchOp::Put {
            key: bytes_of(key),
            value: bytes_of(value),
        });
        self
    }

    /// Adds a delete of `key`.
    pub fn delete(&mut self, key: impl AsRef<[u8]>) -> &mut Batch {
        self.ops
            .push(binary::BatchOp::Delete { key: bytes_of(key) });
        self
    }

    /// Operations in the batch.
    pub fn len(&self) -> usize {
        self.ops.len()
    }

    /// Whether the batch holds no operation.
    pub fn is_empty(&self) -> bool {
        self.ops.is_empty()
    }
}

pub(super) fn bytes_of(b: impl AsRef<[u8]>) -> Bytes {
    Bytes::copy_from_slice(b.as_ref())
}
