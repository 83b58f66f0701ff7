//! The registry of connected clients: what CLIENT LIST/INFO/KILL and INFO clients report.
//!
//! A connection registers on accept and is removed when it ends (the [`Registration`] guard
//! does that on drop, so no path can leak an entry). The registry holds only what other
//! connections need to see; a connection's private state lives in its `Session`.

use std::collections::BTreeMap;
use std::net::SocketAddr;
use std::pin::Pin;
use std::sync::atomic::{AtomicBool, AtomicU64, AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::Instant;

use bytes::Bytes;
use parking_lot::Mutex;
use tokio::sync::futures::Notified;
use tokio::sync::Notify;

/// What other connections may see of one client, and the switch that ends it.
#[derive(Debug)]
pub struct ClientInfo {
    /// Unique, increasing id (CLIENT ID).
    pub id: u64,
    /// The peer's address.
    pub addr: SocketAddr,
    /// Our end of the connection.
    pub local_addr: SocketAddr,
    /// When it connected.
    pub connected: Instant,
    /// Milliseconds since `connected` at its last request (for `idle`).
    pub last_active_ms: AtomicU64,
    /// Mutable, rarely changed details.
    pub details: Mutex<ClientDetails>,
    /// Thrown to close the connection (CLIENT KILL, shutdown).
    pub kill: Kill,
    /// What it is subscribed to (CLIENT LIST's `sub` and `psub`).
    pub subscriptions: SubscriptionCounts,
    /// A replica being fed the write stream (CLIENT LIST's flag `S`, CLIENT KILL TYPE
    /// replica).
    pub replica: std::sync::atomic::AtomicBool,
    /// Blocked in a blocking pop (CLIENT LIST's flag `b`).
    pub blocked: std::sync::atomic::AtomicBool,
}

/// How many channels and patterns a client is subscribed to; a client with any is of type
/// `pubsub` (CLIENT LIST's flag `P`, CLIENT KILL TYPE pubsub).
#[derive(Debug, Default)]
pub struct SubscriptionCounts {
    channels: AtomicUsize,
    patterns: AtomicUsize,
}

impl SubscriptionCounts {
    /// Records the counts after a change.
    pub fn store(&self, channels: usize, patterns: usize) {
        self.channels.store(channels, Ordering::Relaxed);
        self.patterns.store(patterns, Ordering::Relaxed);
    }

    /// (channels, patterns).
    pub fn get(&self) -> (usize, usize) {
        (
            self.channels.load(Ordering::Relaxed),
            self.patterns.load(Ordering::Relaxed),
        )
    }

    /// Whether it is subscribed to anything.
    pub fn any(&self) -> bool {
        self.get() != (0, 0)
    }
}

/// The switch that ends a connection: a flag the connection checks before each read, and
/// a notification that wakes it while it waits for one.
#[derive(Debug, Default)]
pub struct Kill {
    thrown: AtomicBool,
    notify: Notify,
}

impl Kill {
    /// Ends the connection at its next read, or now if it is waiting for one.
    pub fn throw(&self) {
        self.thrown.store(true, Ordering::Release);
        self.notify.notify_one();
    }

    /// What a connection watches the switch with, for its whole life.
    pub fn watch(&self) -> KillWatch<'_> {
        KillWatch {
            kill: self,
            notified: Box::pin(self.notify.notified()),
        }
    }
}

/// A connection's view of its [`Kill`] switch. Its one notification future lives as long as
/// the connection: registering a new one for every read took a lock twice per request.
#[derive(Debug)]
pub struct KillWatch<'a> {
    kill: &'a Kill,
    notified: Pin<Box<Notified<'a>>>,
}

impl KillWatch<'_> {
    /// Whether the switch was thrown.
    pub fn is_thrown(&self) -> bool {
        self.kill.thrown.load(Ordering::Acquire)
    }

    /// Completes once the switch is thrown.
    pub async fn thrown(&mut self) {
        self.notified.as_mut().await;
    }
}

/// The parts of [`ClientInfo`] a client changes with CLIENT SETNAME / SETINFO / HELLO.
#[derive(Debug, Default, Clone)]
pub struct ClientDetails {
    /// CLIENT SETNAME.
    pub name: Option<Bytes>,
    /// CLIENT SETINFO LIB-NAME.
    pub lib_name: Option<Bytes>,
    /// CLIENT SETINFO LIB-VER.
    pub lib_ver: Option<Bytes>,
    /// Protocol: 2 or 3 for RESP, 0 for the native protocol.
    pub protocol: u8,
    /// The last command it ran.
    pub last_command: &'static str,
    /// The database it selected.
    pub db: u8,
}

impl ClientInfo {
    /// Marks the client blocked in a blocking pop, or no longer.
    pub fn set_blocked(&self, blocked: bool) {
        self.blocked.store(blocked, Ordering::Relaxed);
    }

    /// Records activity now (for `idle` in CLIENT LIST).
    pub fn touch(&self) {
        let ms = self.connected.elapsed().as_millis() as u64;
        self.last_active_ms.store(ms, Ordering::Relaxed);
    }

    /// One line of CLIENT LIST / CLIENT INFO, in Redis's field order.
    pub fn describe(&self) -> String {
        let details = self.details.lock().clone();
        let (channels, patterns) = self.subscriptions.get();
        let age = self.connected.elapsed();
        let idle_ms =
            (age.as_millis() as u64).saturating_sub(self.last_active_ms.load(Ordering::Relaxed));
        let text = |b: &Option<Bytes>| {
            b.as_ref()
                .map(|b| String::from_utf8_lossy(b).into_owned())
                .unwrap_or_default()
        };
        format!(
            "id={} addr={} laddr={} fd=0 name={} age={} idle={} flags={} db={} sub={} psub={} ssub=0 multi=-1 watch=0 qbuf=0 qbuf-free=0 argv-mem=0 multi-mem=0 rbs=0 rbp=0 obl=0 oll=0 omem=0 tot-mem=0 events=r cmd={} user=default redir=-1 resp={} lib-name={} lib-ver={}",
            self.id,
            self.addr,
            self.local_addr,
            text(&details.name),
            age.as_secs(),
            idle_ms / 1000,
            if self.replica.load(Ordering::Relaxed) {
                "S"
            } else if self.blocked.load(Ordering::Relaxed) {
                "b"
            } else if self.subscriptions.any() {
                "P"
            } else {
                "N"
            },
            details.db,
            channels,
            patterns,
            if details.last_command.is_empty() { "NULL" } else { details.last_command },
            details.protocol,
            text(&details.lib_name),
            text(&details.lib_ver),
        )
    }
}

/// Every connected client, by id.
#[derive(Debug, Default)]
pub struct Clients {
    next_id: AtomicU64,
    by_id: Mutex<BTreeMap<u64, Arc<ClientInfo>>>,
}

impl Clients {
    /// Registers a new connection; the entry lives as long as the returned guard.
    pub fn register(self: &Arc<Self>, addr: SocketAddr, local_addr: SocketAddr) -> Registration {
        let id = self.next_id.fetch_add(1, Ordering::Relaxed) + 1;
        let info = Arc::new(ClientInfo {
            id,
            addr,
            local_addr,
            connected: Instant::now(),
            last_active_ms: AtomicU64::new(0),
            details: Mutex::new(ClientDetails {
                protocol: 2,
                ..ClientDetails::default()
            }),
            kill: Kill::default(),
            subscriptions: SubscriptionCounts::default(),
            replica: std::sync::atomic::AtomicBool::new(false),
            blocked: std::sync::atomic::AtomicBool::new(false),
        });
        self.by_id.lock().insert(id, info.clone());
        Registration {
            clients: self.clone(),
            info,
        }
    }

    /// How many clients are connected.
    pub fn count(&self) -> usize {
        self.by_id.lock().len()
    }

    /// A copy of the current list, in id order.
    pub fn list(&self) -> Vec<Arc<ClientInfo>> {
        self.by_id.lock().values().cloned().collect()
    }

    /// Asks every client matching `filter` to close; returns how many matched.
    pub fn kill_where(&self, filter: impl Fn(&ClientInfo) -> bool) -> usize {
        let victims: Vec<_> = self.list().into_iter().filter(|c| filter(c)).collect();
        for client in &victims {
            client.kill.throw();
        }
        victims.len()
    }
}

/// Keeps a client registered; unregisters it on drop.
#[derive(Debug)]
pub struct Registration {
    clients: Arc<Clients>,
    /// The registered entry.
    pub info: Arc<ClientInfo>,
}

impl Drop for Registration {
    fn drop(&mut self) {
        self.clients.by_id.lock().remove(&self.info.id);
    }
}
