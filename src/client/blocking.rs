//! The blocking clients: [`super::Client`]'s and [`super::Cluster`]'s methods for code
//! without an async runtime.
//!
//! It owns a private current-thread tokio runtime per client and nothing else: every method
//! runs the async method to completion on it, so behaviour (pipelining across threads
//! sharing a clone, reconnection, redirects, timeouts, errors) is the async client's. A
//! [`Cluster`]'s background refresh of its slot table runs while one of its methods does. It must not be used from
//! inside an async runtime (tokio refuses to block there), nor dropped there.
//!
//! ```no_run
//! # fn demo() -> cairn::client::Result<()> {
//! let client = cairn::client::blocking::Client::connect("127.0.0.1:7379")?;
//! client.set("k", "v")?;
//! assert_eq!(client.get("k")?.as_deref(), Some(&b"v"[..]));
//! # Ok(()) }
//! ```

use std::fmt::Display;
use std::io;
use std::ops::RangeBounds;
use std::sync::Arc;
use std::time::Duration;

use bytes::Bytes;
use futures::StreamExt;
use tokio::runtime::Runtime;

use super::{
    Batch, ClientOptions, ClusterRangeStream, Error, RangeOptions, RangeStream, Result, SetOptions,
    SlotMap, Versioned,
};
use crate::protocol::Reply;

/// A blocking connection to a Cairn server. Clones share the connection (and the runtime);
/// threads using clones concurrently are pipelined on it.
#[derive(Clone, Debug)]
pub struct Client {
    inner: super::Client,
    runtime: Arc<Runtime>,
}

impl Client {
    /// Connects to `addr` (`"host:port"`) with default options.
    pub fn connect(addr: impl Display) -> Result<Client> {
        Client::connect_with(addr, ClientOptions::default())
    }

    /// Connects to `addr` with `options`; see [`super::Client::connect_with`].
    pub fn connect_with(addr: impl Display, options: ClientOptions) -> Result<Client> {
        let addr = addr.to_string();
        let runtime = runtime(&addr)?;
        let inner = runtime.block_on(super::Client::connect_with(addr, options))?;
        Ok(Client {
            inner,
            runtime: Arc::new(runtime),
        })
    }

    /// The address this client connects to.
    pub fn addr(&self) -> &str {
        self.inner.addr()
    }

    /// The options this client was made with.
    pub fn options(&self) -> &ClientOptions {
        self.inner.options()
    }

    /// See [`super::Client::ping`].
    pub fn ping(&self) -> Result<()> {
        self.runtime.block_on(self.inner.ping())
    }

    /// See [`super::Client::auth`].
    pub fn auth(&self, password: impl AsRef<[u8]>) -> Result<()> {
        self.runtime.block_on(self.inner.auth(password))
    }

    /// See [`super::Client::auth_user`].
    pub fn auth_user(&self, username: impl AsRef<[u8]>, password: impl AsRef<[u8]>) -> Result<()> {
        self.runtime
            .block_on(self.inner.auth_user(username, password))
    }

    /// See [`super::Client::get`].
    pub fn get(&self, key: impl AsRef<[u8]>) -> Result<Option<Bytes>> {
        self.runtime.block_on(self.inner.get(key))
    }

    /// See [`super::Client::get_versioned`].
    pub fn get_versioned(&self, key: impl AsRef<[u8]>) -> Result<Option<Versioned>> {
        self.runtime.block_on(self.inner.get_versioned(key))
    }

    /// See [`super::Client::set`].
    pub fn set(&self, key: impl AsRef<[u8]>, value: impl AsRef<[u8]>) -> Result<()> {
        self.runtime.block_on(self.inner.set(key, value))
    }

    /// See [`super::Client::set_with`].
    pub fn set_with(
        &self,
        key: impl AsRef<[u8]>,
        value: impl AsRef<[u8]>,
        options: SetOptions,
    ) -> Result<bool> {
        self.runtime
            .block_on(self.inner.set_with(key, value, options))
    }

    /// See [`super::Client::delete`].
    pub fn delete(&self, key: impl AsRef<[u8]>) -> Result<bool> {
        self.runtime.block_on(self.inner.delete(key))
    }

    /// See [`super::Client::incr_by`].
    pub fn incr_by(&self, key: impl AsRef<[u8]>, delta: i64) -> Result<i64> {
        self.runtime.block_on(self.inner.incr_by(key, delta))
    }

    /// See [`super::Client::expire`].
    pub fn expire(&self, key: impl AsRef<[u8]>, ttl: Duration) -> Result<bool> {
        self.runtime.block_on(self.inner.expire(key, ttl))
    }

    /// See [`super::Client::batch`].
    pub fn batch(&self, batch: Batch) -> Result<()> {
        self.runtime.block_on(self.inner.batch(batch))
    }

    /// See [`super::Client::range`]: an iterator over the pairs, fed by streamed chunks.
    pub fn range<K, R>(&self, range: R) -> Result<RangeIter>
    where
        K: AsRef<[u8]>,
        R: RangeBounds<K>,
    {
        self.range_with(range, RangeOptions::default())
    }

    /// See [`super::Client::range_with`].
    pub fn range_with<K, R>(&self, range: R, options: RangeOptions) -> Result<RangeIter>
    where
        K: AsRef<[u8]>,
        R: RangeBounds<K>,
    {
        let stream = self
            .runtime
            .block_on(self.inner.range_with(range, options))?;
        Ok(RangeIter {
            stream,
            runtime: self.runtime.clone(),
        })
    }

    /// See [`super::Client::command`].
    pub fn command<I, A>(&self, args: I) -> Result<Reply>
    where
        I: IntoIterator<Item = A>,
        A: AsRef<[u8]>,
    {
        self.runtime.block_on(self.inner.command(args))
    }
}

/// The runtime a blocking client runs on; failing to make one is a connect failure.
fn runtime(addr: &str) -> Result<Runtime> {
    tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .map_err(|source: io::Error| Error::Connect {
            addr: addr.to_owned(),
            source,
        })
}

/// The pairs of a range, in key order (or reversed), as a blocking iterator.
#[derive(Debug)]
pub struct RangeIter {
    stream: RangeStream,
    runtime: Arc<Runtime>,
}

impl Iterator for RangeIter {
    type Item = Result<(Bytes, Bytes)>;

    fn next(&mut self) -> Option<Self::Item> {
        self.runtime.block_on(self.stream.next())
    }
}

/// A blocking client of a Cairn cluster; see [`super::Cluster`] for its routing and
/// redirects. Clones share the slot table, the connections and the runtime.
#[derive(Clone, Debug)]
pub struct Cluster {
    inner: super::Cluster,
    runtime: Arc<Runtime>,
}

impl Cluster {
    /// Connects through the first of `seeds` that answers, with default options.
    pub fn connect(seeds: &[impl Display]) -> Result<Cluster> {
        Cluster::connect_with(seeds, ClientOptions::default())
    }

    /// See [`super::Cluster::connect_with`].
    pub fn connect_with(seeds: &[impl Display], options: ClientOptions) -> Result<Cluster> {
        let first = seeds.first().map(ToString::to_string).unwrap_or_default();
        let runtime = runtime(&first)?;
        let inner = runtime.block_on(super::Cluster::connect_with(seeds, options))?;
        Ok(Cluster {
            inner,
            runtime: Arc::new(runtime),
        })
    }

    /// The options every node's connection is made with.
    pub fn options(&self) -> &ClientOptions {
        self.inner.options()
    }

    /// See [`super::Cluster::slot_map`].
    pub fn slot_map(&self) -> SlotMap {
        self.inner.slot_map()
    }

    /// See [`super::Cluster::refresh`].
    pub fn refresh(&self) -> Result<()> {
        self.runtime.block_on(self.inner.refresh())
    }

    /// See [`super::Cluster::get`].
    pub fn get(&self, key: impl AsRef<[u8]>) -> Result<Option<Bytes>> {
        self.runtime.block_on(self.inner.get(key))
    }

    /// See [`super::Cluster::get_versioned`].
    pub fn get_versioned(&self, key: impl AsRef<[u8]>) -> Result<Option<Versioned>> {
        self.runtime.block_on(self.inner.get_versioned(key))
    }

    /// See [`super::Cluster::set`].
    pub fn set(&self, key: impl AsRef<[u8]>, value: impl AsRef<[u8]>) -> Result<()> {
        self.runtime.block_on(self.inner.set(key, value))
    }

    /// See [`super::Cluster::set_with`].
    pub fn set_with(
        &self,
        key: impl AsRef<[u8]>,
        value: impl AsRef<[u8]>,
        options: SetOptions,
    ) -> Result<bool> {
        self.runtime
            .block_on(self.inner.set_with(key, value, options))
    }

    /// See [`super::Cluster::delete`].
    pub fn delete(&self, key: impl AsRef<[u8]>) -> Result<bool> {
        self.runtime.block_on(self.inner.delete(key))
    }

    /// See [`super::Cluster::incr_by`].
    pub fn incr_by(&self, key: impl AsRef<[u8]>, delta: i64) -> Result<i64> {
        self.runtime.block_on(self.inner.incr_by(key, delta))
    }

    /// See [`super::Cluster::expire`].
    pub fn expire(&self, key: impl AsRef<[u8]>, ttl: Duration) -> Result<bool> {
        self.runtime.block_on(self.inner.expire(key, ttl))
    }

    /// See [`super::Cluster::command`].
    pub fn command<I, A>(&self, args: I) -> Result<Reply>
    where
        I: IntoIterator<Item = A>,
        A: AsRef<[u8]>,
    {
        self.runtime.block_on(self.inner.command(args))
    }

    /// See [`super::Cluster::range`]: an iterator over every primary's pairs, merged.
    pub fn range<K, R>(&self, range: R) -> Result<ClusterRangeIter>
    where
        K: AsRef<[u8]>,
        R: RangeBounds<K>,
    {
        self.range_with(range, RangeOptions::default())
    }

    /// See [`super::Cluster::range_with`].
    pub fn range_with<K, R>(&self, range: R, options: RangeOptions) -> Result<ClusterRangeIter>
    where
        K: AsRef<[u8]>,
        R: RangeBounds<K>,
    {
        let stream = self
            .runtime
            .block_on(self.inner.range_with(range, options))?;
        Ok(ClusterRangeIter {
            stream,
            runtime: self.runtime.clone(),
        })
    }
}

/// The pairs of a cluster range, merged in key order (or reversed), as a blocking iterator.
#[derive(Debug)]
pub struct ClusterRangeIter {
    stream: ClusterRangeStream,
    runtime: Arc<Runtime>,
}

impl Iterator for ClusterRangeIter {
    type Item = Result<(Bytes, Bytes)>;

    fn next(&mut self) -> Option<Self::Item> {
        self.runtime.block_on(self.stream.next())
    }
}
