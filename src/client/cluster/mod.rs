//! The cluster client: [`Cluster`] sends each request to the primary that owns its key's
//! hash slot in a Cairn cluster, over one [`Client`] per node.
//!
//! It owns the slot table ([`SlotMap`]: 16,384 entries read from a node's `CLUSTER SLOTS`,
//! corrected entry by entry by `-MOVED`), the per-node clients (opened on first use, shared
//! by every clone, each pipelining its node's requests on one connection), the following of
//! redirects (`-MOVED`, `-ASK`, `-TRYAGAIN`, at most 16 per request), and ranges over every
//! primary. The table is `slots.rs`, the merge of the primaries' ranges into one stream in
//! key order `merge.rs`. What a request means and how its answer reads are the
//! [`Client`]'s: this module only decides where it goes.

use std::collections::HashMap;
use std::fmt::Display;
use std::future::Future;
use std::ops::RangeBounds;
use std::sync::atomic::{self, AtomicBool};
use std::sync::Arc;
use std::time::Duration;

use bytes::Bytes;
use parking_lot::{Mutex, RwLock};
use tokio::sync::OnceCell;

use super::options::bytes_of;
use super::{Client, ClientOptions, Error, RangeOptions, Result, SetOptions, Versioned};
use crate::protocol::command::keys_of_request;
use crate::protocol::slot::{key_slot, SLOTS};
use crate::protocol::Reply;

mod merge;
mod slots;

pub use merge::ClusterRangeStream;
use slots::node_addr;
pub use slots::SlotMap;

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
        let bounds = (
            range.start_bound().map(bytes_of),
            range.end_bound().map(bytes_of),
        );
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

#[cfg(test)]
mod tests {
    use super::*;

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
}
