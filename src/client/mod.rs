//! The async client: Cairn's native binary protocol over one pipelined connection.
//!
//! It owns the application-facing API ([`Client`] and its options), client-side validation
//! of what a request may carry, and reconnection; the frame layout is the protocol layer's
//! ([`crate::protocol::binary`]) and the moving of frames is the `connection` module's. It depends on
//! `protocol` only, never on `server` or `storage`. A [`Client`] is cheap to clone: every
//! clone shares one connection, and requests from concurrent tasks are pipelined on it and
//! matched to their answers by request id. [`blocking::Client`] wraps it for code without an
//! async runtime. [`Cluster`] routes each request to the node of a Cairn cluster owning its
//! key, over one `Client` per node.
//!
//! ```no_run
//! # async fn demo() -> cairn::client::Result<()> {
//! use cairn::client::Client;
//! use futures::TryStreamExt;
//!
//! let client = Client::connect("127.0.0.1:7379").await?;
//! client.set("greeting", "hello").await?;
//! assert_eq!(client.get("greeting").await?.as_deref(), Some(&b"hello"[..]));
//! let pairs: Vec<_> = client.range("a".."z").await?.try_collect().await?;
//! # Ok(()) }
//! ```

pub mod blocking;
mod cluster;
mod connection;
mod error;
mod options;
mod range;
mod validate;

use std::ops::RangeBounds;
use std::sync::Arc;
use std::time::Duration;

use bytes::Bytes;
use parking_lot::Mutex;
use tokio::sync::{mpsc, oneshot};

use crate::protocol::binary::{Condition, Credentials, Op};
use crate::protocol::Reply;
pub use cluster::{Cluster, ClusterRangeStream, SlotMap};
use connection::{Connection, Dial, Pending, Tls};
pub use error::{Error, Result};
use options::bytes_of;
pub use options::{
    Batch, ClientOptions, RangeOptions, SetCondition, SetOptions, TlsOptions, Versioned,
    DEFAULT_PORT,
};
pub use range::RangeStream;
use validate::{millis, validate};

/// A connection to a Cairn server, shared by every clone.
///
/// Requests from concurrent tasks are pipelined on one connection. When the connection
/// breaks, requests in flight fail with [`Error::ConnectionLost`] and the next request
/// opens a new connection (authenticating again if credentials were given).
#[derive(Clone)]
pub struct Client {
    inner: Arc<Inner>,
    /// Set on the cluster client's view of a node it was sent to by `-ASK`: every request
    /// made through this handle goes out right after an `ASKING`, on the same connection
    /// with nothing between them (see [`Client::asking`]).
    asking: bool,
}

struct Inner {
    addr: String,
    options: ClientOptions,
    /// Built once from `options.tls`, so every reconnection reuses it.
    tls: Option<Tls>,
    /// Credentials for the next handshake: the options', or the last successful `auth`.
    credentials: Mutex<Option<Credentials>>,
    current: Mutex<Option<Arc<Connection>>>,
    /// Held while connecting, so concurrent requests wait for one new connection.
    connecting: tokio::sync::Mutex<()>,
}

impl std::fmt::Debug for Client {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Client")
            .field("addr", &self.inner.addr)
            .finish_non_exhaustive()
    }
}

impl Client {
    /// Connects to `addr` (`"host:port"`, or a `SocketAddr`) with default options.
    pub async fn connect(addr: impl std::fmt::Display) -> Result<Client> {
        Client::connect_with(addr, ClientOptions::default()).await
    }

    /// Connects to `addr` with `options`. Fails with [`Error::Connect`] if the server cannot
    /// be reached, or [`Error::Server`] if it refuses the handshake (e.g. `WRONGPASS`).
    pub async fn connect_with(
        addr: impl std::fmt::Display,
        options: ClientOptions,
    ) -> Result<Client> {
        let credentials = options.password.as_ref().map(|p| Credentials {
            username: options.username.as_ref().map(|u| Bytes::from(u.clone())),
            password: Bytes::from(p.clone()),
        });
        let addr = addr.to_string();
        let tls = match &options.tls {
            Some(tls) => Some(Tls::new(tls, &addr)?),
            None => None,
        };
        let client = Client {
            inner: Arc::new(Inner {
                addr,
                options,
                tls,
                credentials: Mutex::new(credentials),
                current: Mutex::new(None),
                connecting: tokio::sync::Mutex::new(()),
            }),
            asking: false,
        };
        client.connection().await?;
        Ok(client)
    }

    /// This client (same connection) with every request sent right after an `ASKING`, as
    /// a cluster client follows `-ASK`. Ranges are sent as they are.
    pub(crate) fn asking(&self) -> Client {
        Client {
            inner: self.inner.clone(),
            asking: true,
        }
    }

    /// The address this client connects to.
    pub fn addr(&self) -> &str {
        &self.inner.addr
    }

    /// The options this client was made with.
    pub fn options(&self) -> &ClientOptions {
        &self.inner.options
    }

    /// Checks the connection: the server answers `PONG`.
    pub async fn ping(&self) -> Result<()> {
        match self.call(Op::Ping).await? {
            Reply::Simple(s) if &s[..] == b"PONG" => Ok(()),
            other => Err(unexpected("PING", &other)),
        }
    }

    /// Authenticates this connection and every later one (after a reconnect) as the
    /// default user.
    pub async fn auth(&self, password: impl AsRef<[u8]>) -> Result<()> {
        self.authenticate(None, bytes_of(password)).await
    }

    /// Authenticates as an ACL user, for this connection and every later one.
    pub async fn auth_user(
        &self,
        username: impl AsRef<[u8]>,
        password: impl AsRef<[u8]>,
    ) -> Result<()> {
        self.authenticate(Some(bytes_of(username)), bytes_of(password))
            .await
    }

    async fn authenticate(&self, username: Option<Bytes>, password: Bytes) -> Result<()> {
        let op = Op::Auth {
            username: username.clone(),
            password: password.clone(),
        };
        expect_ok("AUTH", self.call(op).await?)?;
        *self.inner.credentials.lock() = Some(Credentials { username, password });
        Ok(())
    }

    /// The value of `key`, or `None` if it does not exist.
    pub async fn get(&self, key: impl AsRef<[u8]>) -> Result<Option<Bytes>> {
        match self.call(Op::Get { key: bytes_of(key) }).await? {
            Reply::Bulk(v) => Ok(Some(v)),
            Reply::Null => Ok(None),
            other => Err(unexpected("GET", &other)),
        }
    }

    /// The value of `key` with its version (for [`SetCondition::IfVersionEquals`]), or
    /// `None` if it does not exist.
    pub async fn get_versioned(&self, key: impl AsRef<[u8]>) -> Result<Option<Versioned>> {
        let reply = self.call(Op::GetVersioned { key: bytes_of(key) }).await?;
        match reply {
            Reply::Null | Reply::NullArray => Ok(None),
            Reply::Array(items) => match <[Reply; 2]>::try_from(items) {
                Ok([Reply::Bulk(value), Reply::Integer(version)]) => match u64::try_from(version) {
                    Ok(version) => Ok(Some(Versioned { value, version })),
                    Err(_) => Err(unexpected("GET_VERSIONED", &Reply::Integer(version))),
                },
                Ok(other) => Err(unexpected("GET_VERSIONED", &Reply::Array(other.into()))),
                Err(items) => Err(unexpected("GET_VERSIONED", &Reply::Array(items))),
            },
            other => Err(unexpected("GET_VERSIONED", &other)),
        }
    }

    /// Stores `value` at `key`, without expiry (any earlier expiry is dropped).
    pub async fn set(&self, key: impl AsRef<[u8]>, value: impl AsRef<[u8]>) -> Result<()> {
        let written = self
            .set_bytes(bytes_of(key), bytes_of(value), SetOptions::default())
            .await?;
        if written {
            Ok(())
        } else {
            Err(Error::protocol("unconditional SET answered as not written"))
        }
    }

    /// Stores `value` at `key` if `options.condition` holds, with `options.expiry`.
    /// Returns whether it was written.
    pub async fn set_with(
        &self,
        key: impl AsRef<[u8]>,
        value: impl AsRef<[u8]>,
        options: SetOptions,
    ) -> Result<bool> {
        self.set_bytes(bytes_of(key), bytes_of(value), options)
            .await
    }

    async fn set_bytes(&self, key: Bytes, value: Bytes, options: SetOptions) -> Result<bool> {
        let expiry_ms = options.expiry.map(millis).transpose()?;
        let condition = match options.condition {
            SetCondition::Always => Condition::None,
            SetCondition::IfAbsent => Condition::IfAbsent,
            SetCondition::IfPresent => Condition::IfPresent,
            SetCondition::IfValueEquals(v) => Condition::IfValueEquals(v),
            SetCondition::IfVersionEquals(v) => Condition::IfVersionEquals(v),
        };
        let op = Op::Set {
            key,
            value,
            condition,
            expiry_ms,
        };
        match self.call(op).await? {
            Reply::Simple(s) if &s[..] == b"OK" => Ok(true),
            Reply::Null | Reply::NullArray => Ok(false),
            other => Err(unexpected("SET", &other)),
        }
    }

    /// Deletes `key`. Returns whether it existed.
    pub async fn delete(&self, key: impl AsRef<[u8]>) -> Result<bool> {
        let reply = self.call(Op::Delete { key: bytes_of(key) }).await?;
        Ok(integer("DELETE", reply)? > 0)
    }

    /// Adds `delta` to the integer at `key` (0 if absent) and returns the new value.
    pub async fn incr_by(&self, key: impl AsRef<[u8]>, delta: i64) -> Result<i64> {
        let op = Op::IncrBy {
            key: bytes_of(key),
            delta,
        };
        integer("INCR_BY", self.call(op).await?)
    }

    /// Makes `key` expire after `ttl` (at least 1 ms). Returns whether the key exists.
    pub async fn expire(&self, key: impl AsRef<[u8]>, ttl: Duration) -> Result<bool> {
        let op = Op::Expire {
            key: bytes_of(key),
            ttl_ms: millis(ttl)?,
        };
        Ok(integer("EXPIRE", self.call(op).await?)? > 0)
    }

    /// Applies every operation of `batch` atomically: after a crash, all or none.
    pub async fn batch(&self, batch: Batch) -> Result<()> {
        match self.call(Op::Batch { ops: batch.ops }).await? {
            // The server answers the number of operations applied; `OK` is the protocol
            // document's answer. Both mean done.
            Reply::Integer(_) => Ok(()),
            other => expect_ok("BATCH", other),
        }
    }

    /// The pairs with keys in `range`, in ascending key order, from one snapshot. They are
    /// streamed in chunks as the server reads them. For the whole key space write
    /// `client.range::<&str, _>(..)`.
    pub async fn range<K, R>(&self, range: R) -> Result<RangeStream>
    where
        K: AsRef<[u8]>,
        R: RangeBounds<K>,
    {
        self.range_with(range, RangeOptions::default()).await
    }

    /// Like [`Client::range`], with a limit and an order.
    pub async fn range_with<K, R>(&self, range: R, options: RangeOptions) -> Result<RangeStream>
    where
        K: AsRef<[u8]>,
        R: RangeBounds<K>,
    {
        let op = Op::Range {
            start: range.start_bound().map(bytes_of),
            end: range.end_bound().map(bytes_of),
            limit: options.limit,
            reverse: options.reverse,
        };
        validate(&op, &self.inner.options.limits)?;
        let (tx, rx) = mpsc::unbounded_channel();
        let (conn, id) = self.submit(op, Pending::Stream(tx)).await?;
        Ok(RangeStream {
            rx,
            buffered: Vec::new().into_iter(),
            done: false,
            conn,
            id,
            timeout: self.inner.options.request_timeout,
            sleep: None,
        })
    }

    /// Sends any Redis command by its arguments (name first), as the server's RESP
    /// dispatcher would run it, and returns the answer in RESP3 shapes. A top-level error
    /// reply is returned as [`Error::Server`]; errors nested in an array (e.g. in `EXEC`'s
    /// answer) stay `Reply::Error` values.
    pub async fn command<I, A>(&self, args: I) -> Result<Reply>
    where
        I: IntoIterator<Item = A>,
        A: AsRef<[u8]>,
    {
        self.resp(args.into_iter().map(bytes_of).collect()).await
    }

    /// [`Client::command`] with the arguments already owned (the cluster client's retries
    /// resend them without copying).
    pub(crate) async fn resp(&self, args: Vec<Bytes>) -> Result<Reply> {
        if args.is_empty() {
            return Err(Error::invalid("a command needs at least its name"));
        }
        self.call(Op::Resp { args }).await
    }

    /// Validates, sends and waits for one answer; error replies become `Error::Server`.
    /// Through an [`Client::asking`] handle, an `ASKING` goes first.
    async fn call(&self, op: Op) -> Result<Reply> {
        validate(&op, &self.inner.options.limits)?;
        let (tx, rx) = oneshot::channel();
        if self.asking {
            return self.call_asking(op, tx, rx).await;
        }
        let (conn, id) = self.submit(op, Pending::One(tx)).await?;
        self.answer(&conn, id, rx).await
    }

    /// Sends `ASKING` and `op` back to back on one connection and waits for both answers;
    /// `ASKING` must be answered `OK`.
    async fn call_asking(
        &self,
        op: Op,
        tx: oneshot::Sender<Result<Reply>>,
        rx: oneshot::Receiver<Result<Reply>>,
    ) -> Result<Reply> {
        let asking = || {
            let (tx, rx) = oneshot::channel();
            let op = Op::Resp {
                args: vec![Bytes::from_static(b"ASKING")],
            };
            ((op, Pending::One(tx)), rx)
        };
        let (first, mut asking_rx) = asking();
        let mut conn = self.connection().await?;
        let mut sent = conn.send_pair(first, (op, Pending::One(tx)));
        if let Err(second) = sent {
            // It died between the check and the send, and nothing was sent: one more try,
            // on a new connection.
            let (first, rx) = asking();
            asking_rx = rx;
            conn = self.connection().await?;
            sent = conn.send_pair(first, second);
        }
        let Ok([asking_id, id]) = sent else {
            return Err(Error::lost(conn.closed_reason().unwrap_or_else(|| {
                "the connection closed before the request was sent".into()
            })));
        };
        let asked = self.answer(&conn, asking_id, asking_rx).await;
        let answer = self.answer(&conn, id, rx).await;
        expect_ok("ASKING", asked?)?;
        answer
    }

    /// Waits for the answer to request `id` of `conn`, within the request timeout.
    async fn answer(
        &self,
        conn: &Connection,
        id: u64,
        rx: oneshot::Receiver<Result<Reply>>,
    ) -> Result<Reply> {
        let answer = if let Some(after) = self.inner.options.request_timeout {
            if let Ok(answer) = tokio::time::timeout(after, rx).await {
                answer
            } else {
                conn.forget(id);
                return Err(Error::Timeout { after });
            }
        } else {
            rx.await
        };
        match answer {
            Ok(Ok(Reply::Error(message))) => Err(Error::Server {
                message: String::from_utf8_lossy(&message).into_owned(),
            }),
            Ok(answer) => answer,
            Err(_) => Err(Error::lost(
                conn.closed_reason()
                    .unwrap_or_else(|| "the answer was dropped".into()),
            )),
        }
    }

    /// Queues `op` on a live connection, reconnecting first if the current one is dead.
    async fn submit(&self, op: Op, pending: Pending) -> Result<(Arc<Connection>, u64)> {
        let conn = self.connection().await?;
        let (op, pending) = match conn.send(op, pending) {
            Ok(id) => return Ok((conn, id)),
            Err(back) => back,
        };
        // It died between the check and the send, and nothing was sent: one more try, on
        // a new connection.
        let conn = self.connection().await?;
        match conn.send(op, pending) {
            Ok(id) => Ok((conn, id)),
            Err(_) => Err(Error::lost(conn.closed_reason().unwrap_or_else(|| {
                "the connection closed before the request was sent".into()
            }))),
        }
    }

    /// The live connection, opening one if there is none.
    async fn connection(&self) -> Result<Arc<Connection>> {
        if let Some(conn) = self.live() {
            return Ok(conn);
        }
        let _connecting = self.inner.connecting.lock().await;
        if let Some(conn) = self.live() {
            return Ok(conn);
        }
        let credentials = self.inner.credentials.lock().clone();
        let conn = Connection::open(Dial {
            addr: &self.inner.addr,
            tls: self.inner.tls.as_ref(),
            credentials,
            connect_timeout: self.inner.options.connect_timeout,
            limits: self.inner.options.limits,
        })
        .await?;
        let conn = Arc::new(conn);
        *self.inner.current.lock() = Some(conn.clone());
        Ok(conn)
    }

    fn live(&self) -> Option<Arc<Connection>> {
        self.inner
            .current
            .lock()
            .as_ref()
            .filter(|c| c.is_open())
            .cloned()
    }
}

fn expect_ok(what: &str, reply: Reply) -> Result<()> {
    match reply {
        Reply::Simple(s) if &s[..] == b"OK" => Ok(()),
        other => Err(unexpected(what, &other)),
    }
}

fn integer(what: &str, reply: Reply) -> Result<i64> {
    match reply {
        Reply::Integer(n) => Ok(n),
        other => Err(unexpected(what, &other)),
    }
}

pub(crate) fn unexpected(what: &str, reply: &Reply) -> Error {
    Error::protocol(format!("unexpected answer to {what}: {reply:?}"))
}
