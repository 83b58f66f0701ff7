//! The cluster client: [`Cluster`] sends each request to the primary that owns its key's
//! hash slot in a Cairn cluster, over one [`Client`] per node.
//!
//! It owns the slot table ([`SlotMap`]: 16,384 entries read from a node's `CLUSTER SLOTS`,
//! corrected entry by entry by `-MOVED`), the per-node clients (opened on first use, shared
//! by every clone, each pipelining its node's requests on one connection), the following of
//! redirects (`-MOVED`, `-ASK`, `-TRYAGAIN`, at most 16 per request), and the merge of every
//! primary's range into one stream in key order. What a request means and how its answer
//! reads are the [`Client`]'s: this module only decides where it goes.

use std::cmp::Ordering;
use std::collections::{BinaryHeap, HashMap};
use std::fmt::Display;
use std::future::Future;
use std::ops::{Bound, RangeBounds};
use std::pin::Pin;
use std::sync::atomic::{self, AtomicBool};
use std::sync::Arc;
use std::task::{Context, Poll};
use std::time::Duration;

use bytes::Bytes;
use futures::stream::{BoxStream, Stream, StreamExt};
use parking_lot::{Mutex, RwLock};
use tokio::sync::OnceCell;

use super::options::bytes_of;
use super::{
    unexpected, Client, ClientOptions, Error, RangeOptions, RangeStream, Result, SetOptions,
    Versioned,
};
use crate::protocol::command::keys_of_request;
use crate::protocol::slot::{key_slot, SLOTS};
use crate::protocol::Reply;

/// Redirects (`MOVED`, `ASK`, `TRYAGAIN`) one request follows at most (16); one more is
/// [`Error::TooManyRedirects`].
const MAX_REDIRECTS: usize = 16;

/// `MOVED` and `ASK` redirects followed at once; each one after them first waits, twice as
/// long as the one before, from [`FIRST_PAUSE`]. Nodes disagree about a slot's owner for a
/// moment when a map is installed (the old owner has the new map, the new owner not yet),
/// and a request bounced between them should let that moment pass.
const FREE_REDIRECTS: usize = 2;
/// The first wait before a redirect past [`FREE_REDIRECTS`].
const FIRST_PAUSE: Duration = Duration::from_millis(1);
/// The first wait after `TRYAGAIN` (a multi-key request in a slot being moved), doubled on
/// each retry.
const TRYAGAIN_PAUSE: Duration = Duration::from_millis(5);
/// The longest wait before a retry.
const MAX_PAUSE: Duration = Duration::from_millis(100);

/// Marks a slot no node serves in [`SlotMap::owners`].
const UNOWNED: u16 = u16::MAX;

/// Which primary serves each of the 16,384 hash slots, as a node's `CLUSTER SLOTS` lists
/// them. Nodes are named by their client address (`ip:port`, as `MOVED` names them).
#[derive(Clone, PartialEq, Eq)]
pub struct SlotMap {
    /// For each slot, the index of its node in `nodes`, or [`UNOWNED`].
    owners: Box<[u16]>,
    /// The primaries, in the order `CLUSTER SLOTS` first names them.
    nodes: Vec<String>,
}

impl std::fmt::Debug for SlotMap {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let served: Vec<(&str, usize)> = (0..self.nodes.len())
            .map(|i| (self.nodes[i].as_str(), self.slots_of(i)))
            .collect();
        // Slots per node, not 16,384 owners.
        f.debug_struct("SlotMap")
            .field("nodes", &served)
            .finish_non_exhaustive()
    }
}

impl SlotMap {
    fn empty() -> SlotMap {
        SlotMap {
            owners: vec![UNOWNED; usize::from(SLOTS)].into_boxed_slice(),
            nodes: Vec::new(),
        }
    }

    /// Reads a `CLUSTER SLOTS` answer: an array of `[first, last, [ip, port, id, ...],
    /// replicas...]`. Replicas are not kept: requests go to primaries.
    pub fn from_reply(reply: &Reply) -> Result<SlotMap> {
        let bad = || unexpected("CLUSTER SLOTS", reply);
        let Reply::Array(ranges) = reply else {
            return Err(bad());
        };
        let slot = |r: Option<&Reply>| match r {
            Some(Reply::Integer(n)) => u16::try_from(*n).ok().filter(|&s| s < SLOTS),
            _ => None,
        };
        let mut map = SlotMap::empty();
        for range in ranges {
            let Reply::Array(fields) = range else {
                return Err(bad());
            };
            let (Some(first), Some(last), Some(Reply::Array(primary))) =
                (slot(fields.first()), slot(fields.get(1)), fields.get(2))
            else {
                return Err(bad());
            };
            let ip = match primary.first() {
                Some(Reply::Bulk(ip) | Reply::Simple(ip)) if !ip.is_empty() => {
                    String::from_utf8_lossy(ip).into_owned()
                }
                _ => return Err(bad()),
            };
            let Some(port) = (match primary.get(1) {
                Some(Reply::Integer(port)) => u16::try_from(*port).ok(),
                _ => None,
            }) else {
                return Err(bad());
            };
            if first > last {
                return Err(bad());
            }
            let node = map.index_of(&node_addr(&ip, port));
            for s in first..=last {
                map.owners[usize::from(s)] = node;
            }
        }
        Ok(map)
    }

    /// The index of `addr` in [`SlotMap::nodes`], added if it is not there.
    fn index_of(&mut self, addr: &str) -> u16 {
        let index = self
            .nodes
            .iter()
            .position(|n| n == addr)
            .unwrap_or_else(|| {
                self.nodes.push(addr.to_owned());
                self.nodes.len() - 1
            });
        // A map has far fewer than 65,535 nodes; at worst the slot reads as unowned and its
        // requests go to any node, which redirects them.
        u16::try_from(index).unwrap_or(UNOWNED)
    }

    /// The primaries, by address; an index into it is what [`SlotMap::owner`] returns.
    pub fn nodes(&self) -> &[String] {
        &self.nodes
    }

    /// The index in [`SlotMap::nodes`] of the primary serving `slot`, if one does.
    pub fn owner(&self, slot: u16) -> Option<usize> {
        let owner = *self.owners.get(usize::from(slot))?;
        (owner != UNOWNED).then_some(usize::from(owner))
    }

    /// The address of the primary serving `slot`, if one does.
    pub fn node_of(&self, slot: u16) -> Option<&str> {
        self.owner(slot).map(|i| self.nodes[i].as_str())
    }

    /// The address of the primary serving `key`'s slot, if one does.
    pub fn node_of_key(&self, key: impl AsRef<[u8]>) -> Option<&str> {
        self.node_of(key_slot(key.as_ref()))
    }

    /// How many slots the primary at index `node` serves.
    pub fn slots_of(&self, node: usize) -> usize {
        self.owners
            .iter()
            .filter(|&&o| o != UNOWNED && usize::from(o) == node)
            .count()
    }
}

/// `host:port` as the client dials it: an IPv6 host in brackets.
fn node_addr(host: &str, port: u16) -> String {
    if host.contains(':') && !host.starts_with('[') {
        format!("[{host}]:{port}")
    } else {
        format!("{host}:{port}")
    }
}

/// A client connected to a Cairn cluster: each request goes to the primary owning its key.
///
/// Clones share the slot table and the connections (one pipelined [`Client`] per node,
/// opened on first use).
///
/// **Routing.** A request naming a key goes to the primary that owns the key's hash slot
/// in the table ([`crate::protocol::slot::key_slot`], hash tags included). [`Cluster::command`]
/// routes by the first key the command table names for the command (what the server itself
/// routes by; a command whose keys hash to different slots gets the server's `CROSSSLOT`);
/// a command without keys (`PING`, `INFO`, `CLUSTER ...`, `DBSIZE`) goes to one node, the
/// table's first primary: it is not fanned out.
///
/// **Redirects.** `-MOVED slot addr`: the table's entry for the slot is set to `addr`, the
/// request is sent there, and a background task reads the whole table again from that node.
/// `-ASK slot addr` (the slot is being moved and the key is already at `addr`): the request
/// is sent to `addr` right after an `ASKING`, on the same connection with nothing between
/// them, and the table is left as it is. `-TRYAGAIN` (a multi-key request in a slot being
/// moved, some keys moved already): a short pause, then the request again. Each request
/// follows at most 16 redirects; past the first few, each waits a little, longer each time,
/// so a request bounced between two nodes that are installing a new map lets them finish. Other errors (`CROSSSLOT`, `CLUSTERDOWN`, `WRONGTYPE`...) are returned
/// as [`Error::Server`].
///
/// **Failures.** A node that cannot be connected to ([`Error::Connect`]: nothing was sent)
/// makes the client read the table again from another node and retry once. A connection
/// lost with a request in flight is returned as [`Error::ConnectionLost`], as by
/// [`Client`]: the request may have been applied, so it is not resent.
///
/// Transactions (`MULTI`/`EXEC`) and other per-connection state cannot be used through
/// [`Cluster::command`]: each request may travel on a different node's shared connection.
///
/// ```no_run
/// # async fn demo() -> cairn::client::Result<()> {
/// use cairn::client::Cluster;
/// use futures::TryStreamExt;
///
/// let cluster = Cluster::connect(&["10.0.0.1:7379", "10.0.0.2:7379"]).await?;
/// cluster.set("user:1", "ada").await?;
/// // Every node's pairs, in key order.
/// let all: Vec<_> = cluster.range::<&str, _>(..).await?.try_collect().await?;
/// # Ok(()) }
/// ```
#[derive(Clone)]
pub struct Cluster {
    inner: Arc<Inner>,
}

struct Inner {
    options: ClientOptions,
    /// The addresses given to `connect`, asked for the table when no node in it answers.
    seeds: Vec<String>,
    routes: RwLock<Routes>,
    /// Every node ever routed to, by address, so a new table keeps the connections.
    known: Mutex<HashMap<String, Arc<Node>>>,
    /// A background refresh of the table is running.
    refreshing: AtomicBool,
}

/// The table and, beside it, the node of each of its primaries.
struct Routes {
    map: SlotMap,
    /// `nodes[i]` is `map.nodes[i]`.
    nodes: Vec<Arc<Node>>,
}

/// A node and its client, connected on first use.
struct Node {
    addr: String,
    client: OnceCell<Client>,
}

impl Node {
    async fn client(&self, options: &ClientOptions) -> Result<Client> {
        self.client
            .get_or_try_init(|| Client::connect_with(self.addr.clone(), options.clone()))
            .await
            .cloned()
    }
}

impl std::fmt::Debug for Cluster {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Cluster")
            .field("seeds", &self.inner.seeds)
            .field("nodes", &self.inner.routes.read().map.nodes)
            .finish_non_exhaustive()
    }
}

impl Cluster {
    /// Connects to a cluster through the first of `seeds` (`"host:port"` addresses of any of
    /// its nodes) that answers, with default options, and reads its slot table.
    pub async fn connect(seeds: &[impl Display]) -> Result<Cluster> {
        Cluster::connect_with(seeds, ClientOptions::default()).await
    }

    /// Like [`Cluster::connect`], with `options` for every node's connection (password,
    /// TLS, timeouts). Fails with the last seed's error when none answers `CLUSTER SLOTS`
    /// (e.g. `ERR This instance has cluster support disabled`), or [`Error::InvalidInput`]
    /// without seeds.
    pub async fn connect_with(seeds: &[impl Display], options: ClientOptions) -> Result<Cluster> {
        let seeds: Vec<String> = seeds.iter().map(ToString::to_string).collect();
        if seeds.is_empty() {
            return Err(Error::invalid("a cluster client needs at least one seed"));
        }
        let inner = Arc::new(Inner {
            options,
            seeds,
            routes: RwLock::new(Routes {
                map: SlotMap::empty(),
                nodes: Vec::new(),
            }),
            known: Mutex::default(),
            refreshing: AtomicBool::new(false),
        });
        inner.refresh(None, None).await?;
        Ok(Cluster { inner })
    }

    /// The options every node's connection is made with.
    pub fn options(&self) -> &ClientOptions {
        &self.inner.options
    }

    /// A copy of the slot table as this client knows it now.
    pub fn slot_map(&self) -> SlotMap {
        self.inner.routes.read().map.clone()
    }

    /// Reads the slot table again, from the first node that answers (the table's, then
    /// the seeds).
    pub async fn refresh(&self) -> Result<()> {
        self.inner.refresh(None, None).await
    }

    /// See [`Client::get`].
    pub async fn get(&self, key: impl AsRef<[u8]>) -> Result<Option<Bytes>> {
        let key = key.as_ref();
        self.run(Some(key_slot(key)), |c| async move { c.get(key).await })
            .await
    }

    /// See [`Client::get_versioned`].
    pub async fn get_versioned(&self, key: impl AsRef<[u8]>) -> Result<Option<Versioned>> {
        let key = key.as_ref();
        self.run(Some(key_slot(key)), |c| async move {
            c.get_versioned(key).await
        })
        .await
    }

    /// See [`Client::set`].
    pub async fn set(&self, key: impl AsRef<[u8]>, value: impl AsRef<[u8]>) -> Result<()> {
        let (key, value) = (key.as_ref(), value.as_ref());
        self.run(
            Some(key_slot(key)),
            |c| async move { c.set(key, value).await },
        )
        .await
    }

    /// See [`Client::set_with`].
    pub async fn set_with(
        &self,
        key: impl AsRef<[u8]>,
        value: impl AsRef<[u8]>,
        options: SetOptions,
    ) -> Result<bool> {
        let (key, value, options) = (key.as_ref(), value.as_ref(), &options);
        self.run(Some(key_slot(key)), |c| async move {
            c.set_with(key, value, options.clone()).await
        })
        .await
    }

    /// See [`Client::delete`].
    pub async fn delete(&self, key: impl AsRef<[u8]>) -> Result<bool> {
        let key = key.as_ref();
        self.run(Some(key_slot(key)), |c| async move { c.delete(key).await })
            .await
    }

    /// See [`Client::incr_by`].
    pub async fn incr_by(&self, key: impl AsRef<[u8]>, delta: i64) -> Result<i64> {
        let key = key.as_ref();
        self.run(Some(key_slot(key)), |c| async move {
            c.incr_by(key, delta).await
        })
        .await
    }

    /// See [`Client::expire`].
    pub async fn expire(&self, key: impl AsRef<[u8]>, ttl: Duration) -> Result<bool> {
        let key = key.as_ref();
        self.run(
            Some(key_slot(key)),
            |c| async move { c.expire(key, ttl).await },
        )
        .await
    }

    /// Sends any Redis command by its arguments (name first), to the node owning the slot
    /// of its first key (see the routing rule on [`Cluster`]); keyless commands go to one
    /// node. Answers as [`Client::command`].
    pub async fn command<I, A>(&self, args: I) -> Result<Reply>
    where
        I: IntoIterator<Item = A>,
        A: AsRef<[u8]>,
    {
        let args: Vec<Bytes> = args.into_iter().map(bytes_of).collect();
        if args.is_empty() {
            return Err(Error::invalid("a command needs at least its name"));
        }
        // Unknown commands and wrong arities go anywhere: any node answers the error.
        let slot = keys_of_request(&args)
            .ok()
            .and_then(|keys| keys.first().map(|k| key_slot(k)));
        let args = &args;
        self.run(slot, |c| async move { c.resp(args.clone()).await })
            .await
    }

    /// The pairs with keys in `range` from every primary, merged into one stream in
    /// ascending key order. For the whole key space write `cluster.range::<&str, _>(..)`.
    pub async fn range<K, R>(&self, range: R) -> Result<ClusterRangeStream>
    where
        K: AsRef<[u8]>,
        R: RangeBounds<K>,
    {
        self.range_with(range, RangeOptions::default()).await
    }

    /// Like [`Cluster::range`], with a limit (on the merged stream) and an order.
    ///
    /// The table is read again first, so every primary serving a slot is asked; each
    /// answers a range of its own keys (from its own snapshot: the merged stream is not one
    /// snapshot of the cluster), and the streams are merged by key, a heap holding each
    /// node's next pair. Each node is asked for at most `limit` pairs. While a slot moves,
    /// its keys come from the node they are on (a key on both for a moment is given once).
    pub async fn range_with<K, R>(
        &self,
        range: R,
        options: RangeOptions,
    ) -> Result<ClusterRangeStream>
    where
        K: AsRef<[u8]>,
        R: RangeBounds<K>,
    {
        let owned = |b: Bound<&K>| match b {
            Bound::Included(k) => Bound::Included(bytes_of(k)),
            Bound::Excluded(k) => Bound::Excluded(bytes_of(k)),
            Bound::Unbounded => Bound::Unbounded,
        };
        let bounds = (owned(range.start_bound()), owned(range.end_bound()));
        // Without an answer, the table as it is: a node that left is found missing below.
        let _ = self.inner.refresh(None, None).await;
        let mut retried = false;
        loop {
            let nodes = self.inner.primaries();
            let opened = futures::future::try_join_all(nodes.iter().map(|node| {
                let bounds = bounds.clone();
                async move {
                    let client = node.client(&self.inner.options).await?;
                    client.range_with(bounds, options).await
                }
            }))
            .await;
            match opened {
                Ok(streams) => return Ok(ClusterRangeStream::merge(streams, options)),
                Err(Error::Connect { addr, .. }) if !retried => {
                    retried = true;
                    let _ = self.inner.refresh(None, Some(&addr)).await;
                }
                Err(error) => return Err(error),
            }
        }
    }

    /// Sends a request with `request` to the node of `slot` (any node for `None`) and
    /// follows redirects; see [`Cluster`].
    async fn run<T, F, Fut>(&self, slot: Option<u16>, request: F) -> Result<T>
    where
        F: Fn(Client) -> Fut,
        Fut: Future<Output = Result<T>>,
    {
        let inner = &self.inner;
        let mut node = inner.target(slot);
        let mut asking = false;
        let mut redirects = 0;
        let mut reconnected = false;
        loop {
            let result = match node.client(&inner.options).await {
                Ok(client) if asking => request(client.asking()).await,
                Ok(client) => request(client).await,
                Err(error) => Err(error),
            };
            let error = match result {
                Ok(answer) => return Ok(answer),
                Err(error) => error,
            };
            let Some(redirect) = Redirect::of(&error, &node.addr) else {
                if matches!(error, Error::Connect { .. }) && !reconnected {
                    // Nothing was sent: ask another node where the slot is now, once.
                    reconnected = true;
                    let _ = inner.refresh(None, Some(&node.addr)).await;
                    node = inner.target(slot);
                    asking = false;
                    continue;
                }
                if error.code() == Some("CLUSTERDOWN") {
                    // This node may know an older map than another.
                    inner.refresh_soon(None);
                }
                return Err(error);
            };
            redirects += 1;
            if redirects > MAX_REDIRECTS {
                return Err(Error::TooManyRedirects {
                    redirects: MAX_REDIRECTS,
                    last: error.to_string(),
                });
            }
            let pause = match redirect {
                Redirect::Moved { slot, addr } => {
                    node = inner.moved(slot, &addr);
                    inner.refresh_soon(Some(addr));
                    asking = false;
                    (redirects > FREE_REDIRECTS)
                        .then(|| backoff(FIRST_PAUSE, redirects - 1 - FREE_REDIRECTS))
                }
                Redirect::Ask { addr } => {
                    node = inner.node(&addr);
                    asking = true;
                    (redirects > FREE_REDIRECTS)
                        .then(|| backoff(FIRST_PAUSE, redirects - 1 - FREE_REDIRECTS))
                }
                Redirect::TryAgain => {
                    // From the start: the slot's owner, without ASKING.
                    node = inner.target(slot);
                    asking = false;
                    Some(backoff(TRYAGAIN_PAUSE, redirects - 1))
                }
            };
            if let Some(pause) = pause {
                tokio::time::sleep(pause).await;
            }
        }
    }
}

/// `first`, doubled `doublings` times, at most [`MAX_PAUSE`].
fn backoff(first: Duration, doublings: usize) -> Duration {
    let factor = 1u32 << doublings.min(16);
    first.saturating_mul(factor).min(MAX_PAUSE)
}

/// A redirect in a server's error reply.
#[derive(Debug, PartialEq, Eq)]
enum Redirect {
    /// `MOVED slot addr`: the slot is served by `addr` now.
    Moved { slot: u16, addr: String },
    /// `ASK slot addr`: this key is at `addr` already, during a move of its slot.
    Ask { addr: String },
    /// `TRYAGAIN ...`: a multi-key request during a move of its slot.
    TryAgain,
}

impl Redirect {
    /// The redirect `error` is, if it is one; `from` is the node that answered (an address
    /// without a host, `:port`, means its host).
    fn of(error: &Error, from: &str) -> Option<Redirect> {
        let Error::Server { message } = error else {
            return None;
        };
        let mut words = message.split_ascii_whitespace();
        let code = words.next()?;
        if code == "TRYAGAIN" {
            return Some(Redirect::TryAgain);
        }
        if code != "MOVED" && code != "ASK" {
            return None;
        }
        let slot = words.next()?.parse::<u16>().ok().filter(|&s| s < SLOTS)?;
        let (host, port) = words.next()?.rsplit_once(':')?;
        let port = port.parse::<u16>().ok()?;
        let host = if host.is_empty() {
            from.rsplit_once(':').map_or(from, |(h, _)| h)
        } else {
            host
        };
        let addr = node_addr(host.trim_start_matches('[').trim_end_matches(']'), port);
        Some(if code == "MOVED" {
            Redirect::Moved { slot, addr }
        } else {
            Redirect::Ask { addr }
        })
    }
}

impl Inner {
    /// The node at `addr`, made (not connected) if it is new.
    fn node(&self, addr: &str) -> Arc<Node> {
        self.known
            .lock()
            .entry(addr.to_owned())
            .or_insert_with(|| {
                Arc::new(Node {
                    addr: addr.to_owned(),
                    client: OnceCell::new(),
                })
            })
            .clone()
    }

    /// Where a request for `slot` goes: its owner in the table; for no slot, or a slot no
    /// node serves, the table's first primary (which answers, or redirects), else the first
    /// seed.
    fn target(&self, slot: Option<u16>) -> Arc<Node> {
        {
            let routes = self.routes.read();
            let owner = slot.and_then(|s| routes.map.owner(s));
            if let Some(node) = owner.map_or(routes.nodes.first(), |i| routes.nodes.get(i)) {
                return node.clone();
            }
        }
        self.node(&self.seeds[0])
    }

    /// The node of every primary serving a slot in the table.
    fn primaries(&self) -> Vec<Arc<Node>> {
        let routes = self.routes.read();
        let mut serving = vec![false; routes.nodes.len()];
        for &owner in &routes.map.owners {
            if let Some(s) = serving.get_mut(usize::from(owner)) {
                *s = true;
            }
        }
        (routes.nodes.iter().zip(serving))
            .filter(|(_, serving)| *serving)
            .map(|(node, _)| node.clone())
            .collect()
    }

    /// `-MOVED slot addr`: the table's entry for `slot` becomes `addr`; returns its node.
    fn moved(&self, slot: u16, addr: &str) -> Arc<Node> {
        let node = self.node(addr);
        let mut routes = self.routes.write();
        let index = routes.map.index_of(addr);
        if usize::from(index) == routes.nodes.len() {
            routes.nodes.push(node.clone());
        }
        routes.map.owners[usize::from(slot)] = index;
        node
    }

    /// Replaces the table, keeping the connections of nodes still in it.
    fn install(&self, map: SlotMap) {
        let nodes = map.nodes.iter().map(|addr| self.node(addr)).collect();
        *self.routes.write() = Routes { map, nodes };
    }

    /// Reads the table from the first node that answers: `first`, then the table's
    /// primaries, then the seeds, `avoid` (a node that just failed) last.
    async fn refresh(&self, first: Option<&str>, avoid: Option<&str>) -> Result<()> {
        let mut candidates: Vec<String> = first.into_iter().map(str::to_owned).collect();
        candidates.extend(self.routes.read().map.nodes.iter().cloned());
        candidates.extend(self.seeds.iter().cloned());
        let mut seen = std::collections::HashSet::new();
        candidates.retain(|addr| Some(addr.as_str()) != avoid && seen.insert(addr.clone()));
        candidates.extend(avoid.map(str::to_owned));
        let mut last = None;
        for addr in candidates {
            let read = async {
                let client = self.node(&addr).client(&self.options).await?;
                let slots = [Bytes::from_static(b"CLUSTER"), Bytes::from_static(b"SLOTS")];
                SlotMap::from_reply(&client.resp(slots.to_vec()).await?)
            };
            match read.await {
                Ok(map) => {
                    self.install(map);
                    return Ok(());
                }
                Err(error) => last = Some(error),
            }
        }
        Err(last.unwrap_or_else(|| Error::invalid("no node to read the slot table from")))
    }

    /// Starts reading the table again in the background (from `first` first), unless a
    /// background read is running already. Until it ends, requests use the table as
    /// `-MOVED` corrected it.
    fn refresh_soon(self: &Arc<Self>, first: Option<String>) {
        if self.refreshing.swap(true, atomic::Ordering::AcqRel) {
            return;
        }
        let inner = self.clone();
        tokio::spawn(async move {
            // A failure leaves the table as it was; the next redirect tries again.
            let _ = inner.refresh(first.as_deref(), None).await;
            inner.refreshing.store(false, atomic::Ordering::Release);
        });
    }
}

/// The pairs of a [`Cluster::range`], from every primary, merged into one [`Stream`] in key
/// order (descending with [`RangeOptions::reverse`]).
///
/// Each node's pairs arrive as its [`RangeStream`] does (in chunks, buffered); the merge
/// holds one pair per node. The stream ends after the first error.
pub struct ClusterRangeStream {
    inner: BoxStream<'static, Result<(Bytes, Bytes)>>,
}

impl std::fmt::Debug for ClusterRangeStream {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ClusterRangeStream").finish_non_exhaustive()
    }
}

impl ClusterRangeStream {
    fn merge(streams: Vec<RangeStream>, options: RangeOptions) -> ClusterRangeStream {
        let merge = Merge {
            refill: (0..streams.len()).collect(),
            streams,
            heads: BinaryHeap::new(),
            left: options.limit,
            reverse: options.reverse,
            failed: false,
        };
        let inner = futures::stream::unfold(merge, |mut merge| async move {
            let item = merge.next().await?;
            Some((item, merge))
        });
        ClusterRangeStream {
            inner: inner.boxed(),
        }
    }
}

impl Stream for ClusterRangeStream {
    type Item = Result<(Bytes, Bytes)>;

    fn poll_next(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Option<Self::Item>> {
        self.inner.poll_next_unpin(cx)
    }
}

/// A k-way merge of ordered streams: a heap of each stream's next pair.
struct Merge {
    streams: Vec<RangeStream>,
    heads: BinaryHeap<Head>,
    /// Streams whose next pair is not in `heads` yet: the one the last pair came from (all
    /// of them at first).
    refill: Vec<usize>,
    /// Pairs still to give, with a limit.
    left: Option<u64>,
    reverse: bool,
    failed: bool,
}

impl Merge {
    async fn next(&mut self) -> Option<Result<(Bytes, Bytes)>> {
        if self.failed || self.left == Some(0) {
            return None;
        }
        while let Some(from) = self.refill.pop() {
            match self.streams[from].next().await {
                Some(Ok((key, value))) => self.heads.push(Head {
                    key,
                    value,
                    from,
                    reverse: self.reverse,
                }),
                Some(Err(error)) => {
                    self.failed = true;
                    return Some(Err(error));
                }
                None => {}
            }
        }
        let head = self.heads.pop()?;
        self.refill.push(head.from);
        // Every stream's next pair is in the heap now. A key on two nodes at once (copied
        // to a slot's new owner, not yet deleted from the old one) is given once.
        while self.heads.peek().is_some_and(|next| next.key == head.key) {
            if let Some(twin) = self.heads.pop() {
                self.refill.push(twin.from);
            }
        }
        if let Some(left) = &mut self.left {
            *left -= 1;
        }
        Some(Ok((head.key, head.value)))
    }
}

/// A stream's next pair in the merge's heap.
struct Head {
    key: Bytes,
    value: Bytes,
    from: usize,
    reverse: bool,
}

impl Ord for Head {
    /// [`BinaryHeap`] pops the greatest: the smallest key in ascending order, the largest
    /// in descending order (ties, which disjoint nodes do not have, by stream).
    fn cmp(&self, other: &Self) -> Ordering {
        let by_key = if self.reverse {
            self.key.cmp(&other.key)
        } else {
            other.key.cmp(&self.key)
        };
        by_key.then_with(|| other.from.cmp(&self.from))
    }
}

impl PartialOrd for Head {
    fn partial_cmp(&self, other: &Self) -> Option<Ordering> {
        Some(self.cmp(other))
    }
}

impl PartialEq for Head {
    fn eq(&self, other: &Self) -> bool {
        self.cmp(other) == Ordering::Equal
    }
}

impl Eq for Head {}

#[cfg(test)]
mod tests {
    use super::*;

    fn bulk(s: &str) -> Reply {
        Reply::Bulk(Bytes::copy_from_slice(s.as_bytes()))
    }

    fn node(ip: &str, port: i64) -> Reply {
        Reply::Array(vec![
            bulk(ip),
            Reply::Integer(port),
            bulk("0123"),
            Reply::Map(vec![]),
        ])
    }

    #[test]
    fn slot_map_from_cluster_slots() {
        let reply = Reply::Array(vec![
            Reply::Array(vec![
                Reply::Integer(0),
                Reply::Integer(99),
                node("10.0.0.1", 7001),
                node("10.0.0.9", 7009),
            ]),
            Reply::Array(vec![
                Reply::Integer(100),
                Reply::Integer(16383),
                node("10.0.0.2", 7002),
            ]),
            Reply::Array(vec![
                Reply::Integer(50),
                Reply::Integer(50),
                node("::1", 7003),
            ]),
        ]);
        let map = SlotMap::from_reply(&reply).unwrap();
        assert_eq!(
            map.nodes(),
            ["10.0.0.1:7001", "10.0.0.2:7002", "[::1]:7003"]
        );
        assert_eq!(map.node_of(0), Some("10.0.0.1:7001"));
        assert_eq!(map.node_of(50), Some("[::1]:7003"));
        assert_eq!(map.node_of(16383), Some("10.0.0.2:7002"));
        assert_eq!(map.slots_of(0), 99);
        assert_eq!(map.owner(16384), None);
        assert_eq!(
            map.node_of_key("foo"),
            Some("10.0.0.2:7002"),
            "foo is in slot 12182"
        );
        assert!(SlotMap::from_reply(&Reply::Integer(1)).is_err());
        let backwards = Reply::Array(vec![Reply::Array(vec![
            Reply::Integer(9),
            Reply::Integer(3),
            node("h", 1),
        ])]);
        assert!(SlotMap::from_reply(&backwards).is_err());
        let empty = SlotMap::from_reply(&Reply::Array(vec![])).unwrap();
        assert_eq!(empty.node_of(7), None);
    }

    #[test]
    fn redirects_parse() {
        let server = |m: &str| Error::Server { message: m.into() };
        assert_eq!(
            Redirect::of(&server("MOVED 3999 127.0.0.1:6381"), "x:1"),
            Some(Redirect::Moved {
                slot: 3999,
                addr: "127.0.0.1:6381".into()
            })
        );
        assert_eq!(
            Redirect::of(&server("ASK 1 10.1.1.1:7"), "x:1"),
            Some(Redirect::Ask {
                addr: "10.1.1.1:7".into()
            })
        );
        assert_eq!(
            Redirect::of(&server("MOVED 5 :7002"), "10.0.0.3:7001"),
            Some(Redirect::Moved {
                slot: 5,
                addr: "10.0.0.3:7002".into()
            })
        );
        assert_eq!(
            Redirect::of(&server("TRYAGAIN Multiple keys request"), "x:1"),
            Some(Redirect::TryAgain)
        );
        assert_eq!(Redirect::of(&server("MOVED 99999 h:1"), "x:1"), None);
        assert_eq!(Redirect::of(&server("CROSSSLOT Keys"), "x:1"), None);
        assert_eq!(Redirect::of(&Error::lost("gone"), "x:1"), None);
    }

    #[test]
    fn backoff_doubles_up_to_the_cap() {
        assert_eq!(backoff(FIRST_PAUSE, 0), FIRST_PAUSE);
        assert_eq!(backoff(FIRST_PAUSE, 3), FIRST_PAUSE * 8);
        assert_eq!(backoff(TRYAGAIN_PAUSE, 60), MAX_PAUSE);
    }

    #[test]
    fn heads_pop_in_order() {
        for reverse in [false, true] {
            let mut heap = BinaryHeap::new();
            for (from, key) in ["b", "d", "a", "c"].into_iter().enumerate() {
                heap.push(Head {
                    key: Bytes::from(key),
                    value: Bytes::new(),
                    from,
                    reverse,
                });
            }
            let order: Vec<Bytes> = std::iter::from_fn(|| heap.pop().map(|h| h.key)).collect();
            let mut expect = vec!["a", "b", "c", "d"];
            if reverse {
                expect.reverse();
            }
            assert_eq!(order, expect);
        }
    }
}
