//! Publish/subscribe: which clients listen on which channels and patterns ([`Hub`]), and
//! each subscriber's [`Mailbox`], where PUBLISH leaves messages for the subscriber's
//! connection to send.
//!
//! A publisher never writes to another connection's socket: it appends the message (its
//! channel and payload are `Bytes`, shared by every subscriber, not copied) to each
//! subscriber's mailbox and wakes its connection, which encodes the messages in its own
//! RESP version and writes them after its own replies. A subscriber that does not read
//! lets its mailbox grow; the publisher holds it to the `pubsub` class of
//! `client-output-buffer-limit` (Redis's defaults: 32 MiB at once, or 8 MiB for 60 s) and
//! past it throws the subscriber's kill switch, drops what it had queued, and queues no
//! more. What a connection's subscriptions are lives in its [`Subscriptions`], which
//! unsubscribes everything when the connection ends.

use std::collections::{BTreeSet, HashMap, VecDeque};
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::Arc;

use bytes::Bytes;
use parking_lot::{Mutex, RwLock};
use tokio::sync::Notify;
use tokio::time::Instant;

use super::clients::ClientInfo;
use super::config::OutputLimit;
use super::pattern;
use super::shared::Stats;
use crate::protocol::Reply;

/// A message on its way to one subscriber.
#[derive(Debug, Clone)]
pub(crate) struct Message {
    /// The pattern it matched, for a pattern subscription (`pmessage`).
    pub pattern: Option<Bytes>,
    /// The channel it was published on.
    pub channel: Bytes,
    /// What was published.
    pub payload: Bytes,
}

impl Message {
    /// The push a subscriber gets: `message channel payload`, or `pmessage pattern channel
    /// payload`.
    pub(crate) fn into_reply(self) -> Reply {
        let mut items = Vec::with_capacity(4);
        match self.pattern {
            Some(pattern) => {
                items.push(Reply::Bulk(Bytes::from_static(b"pmessage")));
                items.push(Reply::Bulk(pattern));
            }
            None => items.push(Reply::Bulk(Bytes::from_static(b"message"))),
        }
        items.push(Reply::Bulk(self.channel));
        items.push(Reply::Bulk(self.payload));
        Reply::Push(items)
    }

    /// About what it takes encoded: what the output limit counts.
    fn size(&self) -> usize {
        const FRAMING: usize = 48;
        FRAMING
            + self.channel.len()
            + self.payload.len()
            + self.pattern.as_ref().map_or(0, Bytes::len)
    }
}

/// The messages waiting for one subscriber's connection to send them.
#[derive(Debug)]
pub(crate) struct Mailbox {
    client: Arc<ClientInfo>,
    queue: Mutex<VecDeque<Message>>,
    /// The sizes of the queued messages, summed.
    queued: AtomicUsize,
    /// Since when the queue has been past the soft limit.
    over_soft_since: Mutex<Option<Instant>>,
    /// Past its limit: the connection is being closed, and nothing more is queued.
    closed: AtomicBool,
    ready: Notify,
}

impl Mailbox {
    fn new(client: Arc<ClientInfo>) -> Mailbox {
        Mailbox {
            client,
            queue: Mutex::new(VecDeque::new()),
            queued: AtomicUsize::new(0),
            over_soft_since: Mutex::new(None),
            closed: AtomicBool::new(false),
            ready: Notify::new(),
        }
    }

    /// Queues `message` unless that takes the queue past `limit`, in which case the
    /// subscriber is disconnected instead. Whether it was queued.
    fn deliver(&self, message: Message, limit: OutputLimit, stats: &Stats) -> bool {
        if self.closed.load(Ordering::Acquire) {
            return false;
        }
        let queued = self.queued.fetch_add(message.size(), Ordering::AcqRel) + message.size();
        let queued_bytes = queued as u64;
        let over = if limit.hard > 0 && queued_bytes > limit.hard {
            true
        } else if limit.soft > 0 && queued_bytes > limit.soft {
            let mut since = self.over_soft_since.lock();
            let since = *since.get_or_insert_with(Instant::now);
            since.elapsed() >= std::time::Duration::from_secs(limit.soft_seconds)
        } else {
            *self.over_soft_since.lock() = None;
            false
        };
        if over {
            self.close(queued, stats);
            return false;
        }
        self.queue.lock().push_back(message);
        self.ready.notify_one();
        true
    }

    /// Disconnects the subscriber for overcoming its output limit, as Redis does.
    fn close(&self, queued: usize, stats: &Stats) {
        if self.closed.swap(true, Ordering::AcqRel) {
            return;
        }
        self.queue.lock().clear();
        stats.output_limit_reached(&self.client, queued);
        self.client.kill.throw();
    }

    /// Takes every queued message, oldest first.
    pub(crate) fn take(&self) -> VecDeque<Message> {
        let taken = std::mem::take(&mut *self.queue.lock());
        let size: usize = taken.iter().map(Message::size).sum();
        self.queued.fetch_sub(size, Ordering::AcqRel);
        taken
    }

    /// Completes when a message may have been queued since the last `take`.
    pub(crate) async fn ready(&self) {
        self.ready.notified().await;
    }
}

/// Who listens where, for the whole server.
#[derive(Debug, Default)]
pub(crate) struct Hub {
    channels: RwLock<HashMap<Bytes, Vec<Arc<Mailbox>>>>,
    patterns: RwLock<HashMap<Bytes, Vec<Arc<Mailbox>>>>,
}

impl Hub {
    /// PUBLISH: `payload` to every subscriber of `channel` and of each pattern matching
    /// it; the number it was delivered to.
    pub(crate) fn publish(
        &self,
        channel: &Bytes,
        payload: &Bytes,
        limit: OutputLimit,
        stats: &Stats,
    ) -> usize {
        let mut delivered = 0;
        if let Some(subscribers) = self.channels.read().get(channel) {
            for mailbox in subscribers {
                let message = Message {
                    pattern: None,
                    channel: channel.clone(),
                    payload: payload.clone(),
                };
                delivered += usize::from(mailbox.deliver(message, limit, stats));
            }
        }
        for (pattern, subscribers) in self.patterns.read().iter() {
            if !pattern::matches(pattern, channel) {
                continue;
            }
            for mailbox in subscribers {
                let message = Message {
                    pattern: Some(pattern.clone()),
                    channel: channel.clone(),
                    payload: payload.clone(),
                };
                delivered += usize::from(mailbox.deliver(message, limit, stats));
            }
        }
        delivered
    }

    /// PUBSUB CHANNELS: the channels with a subscriber, matching `pattern` if given.
    pub(crate) fn channels(&self, pattern: Option<&[u8]>) -> Vec<Bytes> {
        self.channels
            .read()
            .keys()
            .filter(|c| pattern.is_none_or(|p| pattern::matches(p, c)))
            .cloned()
            .collect()
    }

    /// PUBSUB NUMSUB: the subscribers of `channel`.
    pub(crate) fn subscribers(&self, channel: &[u8]) -> usize {
        self.channels.read().get(channel).map_or(0, Vec::len)
    }

    /// The channels with a subscriber (INFO's `pubsub_channels`).
    pub(crate) fn channel_count(&self) -> usize {
        self.channels.read().len()
    }

    /// PUBSUB NUMPAT: the patterns with a subscriber.
    pub(crate) fn pattern_count(&self) -> usize {
        self.patterns.read().len()
    }

    fn add(map: &RwLock<HashMap<Bytes, Vec<Arc<Mailbox>>>>, name: Bytes, mailbox: &Arc<Mailbox>) {
        map.write().entry(name).or_default().push(mailbox.clone());
    }

    fn remove(
        map: &RwLock<HashMap<Bytes, Vec<Arc<Mailbox>>>>,
        name: &[u8],
        mailbox: &Arc<Mailbox>,
    ) {
        let mut map = map.write();
        if let Some(subscribers) = map.get_mut(name) {
            subscribers.retain(|m| !Arc::ptr_eq(m, mailbox));
            if subscribers.is_empty() {
                map.remove(name);
            }
        }
    }
}

/// One connection's subscriptions and mailbox; dropping it unsubscribes everything.
#[derive(Debug)]
pub(crate) struct Subscriptions {
    hub: Arc<Hub>,
    mailbox: Arc<Mailbox>,
    channels: BTreeSet<Bytes>,
    patterns: BTreeSet<Bytes>,
}

impl Subscriptions {
    /// No subscriptions yet, for the client `client`.
    pub(crate) fn new(hub: Arc<Hub>, client: Arc<ClientInfo>) -> Subscriptions {
        Subscriptions {
            hub,
            mailbox: Arc::new(Mailbox::new(client)),
            channels: BTreeSet::new(),
            patterns: BTreeSet::new(),
        }
    }

    /// The connection's mailbox.
    pub(crate) fn mailbox(&self) -> &Arc<Mailbox> {
        &self.mailbox
    }

    /// Channels and patterns subscribed, the count each confirmation reports.
    pub(crate) fn count(&self) -> usize {
        self.channels.len() + self.patterns.len()
    }

    /// Subscribes to `channel` (nothing if already); the count after.
    pub(crate) fn subscribe(&mut self, channel: &Bytes) -> usize {
        if self.channels.insert(channel.clone()) {
            Hub::add(&self.hub.channels, channel.clone(), &self.mailbox);
            self.publish_counts();
        }
        self.count()
    }

    /// Unsubscribes from `channel` (nothing if not subscribed); the count after.
    pub(crate) fn unsubscribe(&mut self, channel: &Bytes) -> usize {
        if self.channels.remove(channel) {
            Hub::remove(&self.hub.channels, channel, &self.mailbox);
            self.publish_counts();
        }
        self.count()
    }

    /// Subscribes to `pattern` (nothing if already); the count after.
    pub(crate) fn psubscribe(&mut self, pattern: &Bytes) -> usize {
        if self.patterns.insert(pattern.clone()) {
            Hub::add(&self.hub.patterns, pattern.clone(), &self.mailbox);
            self.publish_counts();
        }
        self.count()
    }

    /// Unsubscribes from `pattern` (nothing if not subscribed); the count after.
    pub(crate) fn punsubscribe(&mut self, pattern: &Bytes) -> usize {
        if self.patterns.remove(pattern) {
            Hub::remove(&self.hub.patterns, pattern, &self.mailbox);
            self.publish_counts();
        }
        self.count()
    }

    /// The channels subscribed, in order.
    pub(crate) fn channels(&self) -> Vec<Bytes> {
        self.channels.iter().cloned().collect()
    }

    /// The patterns subscribed, in order.
    pub(crate) fn patterns(&self) -> Vec<Bytes> {
        self.patterns.iter().cloned().collect()
    }

    /// Shows the counts in CLIENT LIST.
    fn publish_counts(&self) {
        self.mailbox
            .client
            .subscriptions
            .store(self.channels.len(), self.patterns.len());
    }
}

impl Drop for Subscriptions {
    fn drop(&mut self) {
        for channel in std::mem::take(&mut self.channels) {
            Hub::remove(&self.hub.channels, &channel, &self.mailbox);
        }
        for pattern in std::mem::take(&mut self.patterns) {
            Hub::remove(&self.hub.patterns, &pattern, &self.mailbox);
        }
        self.publish_counts();
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn client() -> Arc<ClientInfo> {
        let clients = Arc::new(super::super::clients::Clients::default());
        let addr = "127.0.0.1:1".parse().unwrap();
        clients.register(addr, addr).info.clone()
    }

    const NO_LIMIT: OutputLimit = OutputLimit {
        hard: 0,
        soft: 0,
        soft_seconds: 0,
    };

    #[test]
    fn messages_reach_channel_and_pattern_subscribers_and_stop_at_unsubscribe() {
        let hub = Arc::new(Hub::default());
        let stats = Stats::default();
        let mut a = Subscriptions::new(hub.clone(), client());
        let mut b = Subscriptions::new(hub.clone(), client());
        assert_eq!(a.subscribe(&Bytes::from_static(b"news")), 1);
        assert_eq!(a.subscribe(&Bytes::from_static(b"news")), 1);
        assert_eq!(b.psubscribe(&Bytes::from_static(b"n*")), 1);
        let payload = Bytes::from_static(b"hi");
        assert_eq!(
            hub.publish(&Bytes::from_static(b"news"), &payload, NO_LIMIT, &stats),
            2
        );
        assert_eq!(
            hub.publish(&Bytes::from_static(b"other"), &payload, NO_LIMIT, &stats),
            0
        );
        assert_eq!(a.mailbox().take().len(), 1);
        let got = b.mailbox().take();
        assert_eq!(got[0].pattern.as_deref(), Some(&b"n*"[..]));
        assert_eq!(hub.subscribers(b"news"), 1);
        assert_eq!(hub.pattern_count(), 1);
        assert_eq!(a.unsubscribe(&Bytes::from_static(b"news")), 0);
        drop(b);
        assert_eq!(
            hub.publish(&Bytes::from_static(b"news"), &payload, NO_LIMIT, &stats),
            0
        );
        assert!(hub.channels(None).is_empty());
        assert_eq!(hub.pattern_count(), 0);
    }

    #[test]
    fn a_subscriber_past_its_hard_limit_is_disconnected_and_gets_nothing_more() {
        let hub = Arc::new(Hub::default());
        let stats = Stats::default();
        let mut a = Subscriptions::new(hub.clone(), client());
        a.subscribe(&Bytes::from_static(b"c"));
        let limit = OutputLimit {
            hard: 1000,
            soft: 0,
            soft_seconds: 0,
        };
        let payload = Bytes::from(vec![b'x'; 400]);
        let channel = Bytes::from_static(b"c");
        assert_eq!(hub.publish(&channel, &payload, limit, &stats), 1);
        assert_eq!(hub.publish(&channel, &payload, limit, &stats), 1);
        assert_eq!(hub.publish(&channel, &payload, limit, &stats), 0);
        assert_eq!(hub.publish(&channel, &payload, limit, &stats), 0);
        assert!(a.mailbox().take().is_empty());
        assert!(a.mailbox().client.kill.watch().is_thrown());
        assert_eq!(Stats::get(&stats.output_limit_disconnections), 1);
    }
}
