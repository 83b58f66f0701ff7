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
use std::sync::Arc;

use bytes::Bytes;
use parking_lot::{Mutex, RwLock};
use tokio::sync::Notify;
use tokio::time::Instant;

use super::clients::ClientInfo;
use super::config::OutputLimit;
use super::pattern;
use super::replies::Replies;
use super::shared::Stats;
use crate::protocol::{Reply, RespVersion};

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

/// Which of a client's two kinds of subscription: to a channel by name, or to every channel
/// a glob-style pattern matches.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Kind {
    /// SUBSCRIBE.
    Channel,
    /// PSUBSCRIBE.
    Pattern,
}

/// The messages waiting for one subscriber's connection to send them.
#[derive(Debug)]
pub(crate) struct Mailbox {
    client: Arc<ClientInfo>,
    pending: Mutex<Pending>,
    ready: Notify,
}

/// What a mailbox holds, under its one lock.
#[derive(Debug, Default)]
struct Pending {
    messages: VecDeque<Message>,
    /// The sizes of `messages`, summed.
    bytes: usize,
    /// Since when `bytes` has been past the soft limit.
    over_soft_since: Option<Instant>,
    /// Past its limit: the connection is being closed, and nothing more is queued.
    closed: bool,
}

impl Mailbox {
    fn new(client: Arc<ClientInfo>) -> Mailbox {
        Mailbox {
            client,
            pending: Mutex::new(Pending::default()),
            ready: Notify::new(),
        }
    }

    /// Queues `message` unless that takes the queue past `limit`, in which case the
    /// subscriber is disconnected instead, as Redis does. Whether it was queued.
    fn deliver(&self, message: Message, limit: OutputLimit, stats: &Stats) -> bool {
        let mut pending = self.pending.lock();
        if pending.closed {
            return false;
        }
        let bytes = pending.bytes + message.size();
        if limit.is_over(bytes as u64, &mut pending.over_soft_since, Instant::now()) {
            pending.closed = true;
            pending.messages.clear();
            pending.bytes = 0;
            drop(pending);
            stats.output_limit_reached(&self.client, bytes as u64);
            self.client.kill.throw();
            return false;
        }
        pending.bytes = bytes;
        pending.messages.push_back(message);
        drop(pending);
        self.ready.notify_one();
        true
    }

    /// Takes every queued message, oldest first.
    pub(crate) fn take(&self) -> VecDeque<Message> {
        let mut pending = self.pending.lock();
        pending.bytes = 0;
        std::mem::take(&mut pending.messages)
    }

    /// Encodes every queued message into `out`, oldest first.
    pub(crate) fn send_to(&self, out: &mut Replies, resp: RespVersion) {
        for message in self.take() {
            out.reply(resp, message.into_reply());
        }
    }

    /// Completes when a message may have been queued since the last `take`.
    pub(crate) async fn ready(&self) {
        self.ready.notified().await;
    }
}

/// Subscribers by channel or pattern name.
type Subscribers = RwLock<HashMap<Bytes, Vec<Arc<Mailbox>>>>;

/// Who listens where, for the whole server.
#[derive(Debug, Default)]
pub(crate) struct Hub {
    channels: Subscribers,
    patterns: Subscribers,
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
        let deliver = |pattern: Option<&Bytes>, subscribers: &[Arc<Mailbox>]| {
            subscribers
                .iter()
                .filter(|mailbox| {
                    let message = Message {
                        pattern: pattern.cloned(),
                        channel: channel.clone(),
                        payload: payload.clone(),
                    };
                    mailbox.deliver(message, limit, stats)
                })
                .count()
        };
        let mut delivered = self
            .channels
            .read()
            .get(channel)
            .map_or(0, |subscribers| deliver(None, subscribers));
        for (pattern, subscribers) in self.patterns.read().iter() {
            if pattern::matches(pattern, channel) {
                delivered += deliver(Some(pattern), subscribers);
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

    fn of(&self, kind: Kind) -> &Subscribers {
        match kind {
            Kind::Channel => &self.channels,
            Kind::Pattern => &self.patterns,
        }
    }

    fn add(&self, kind: Kind, name: Bytes, mailbox: &Arc<Mailbox>) {
        self.of(kind)
            .write()
            .entry(name)
            .or_default()
            .push(mailbox.clone());
    }

    fn remove(&self, kind: Kind, name: &[u8], mailbox: &Arc<Mailbox>) {
        let mut map = self.of(kind).write();
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

    /// The names subscribed of `kind`, in order.
    pub(crate) fn names(&self, kind: Kind) -> Vec<Bytes> {
        self.set(kind).iter().cloned().collect()
    }

    /// Subscribes to `name` (nothing if already); the count after.
    pub(crate) fn subscribe(&mut self, kind: Kind, name: &Bytes) -> usize {
        if self.set_mut(kind).insert(name.clone()) {
            self.hub.add(kind, name.clone(), &self.mailbox);
            self.publish_counts();
        }
        self.count()
    }

    /// Unsubscribes from `name` (nothing if not subscribed); the count after.
    pub(crate) fn unsubscribe(&mut self, kind: Kind, name: &Bytes) -> usize {
        if self.set_mut(kind).remove(name) {
            self.hub.remove(kind, name, &self.mailbox);
            self.publish_counts();
        }
        self.count()
    }

    fn set(&self, kind: Kind) -> &BTreeSet<Bytes> {
        match kind {
            Kind::Channel => &self.channels,
            Kind::Pattern => &self.patterns,
        }
    }

    fn set_mut(&mut self, kind: Kind) -> &mut BTreeSet<Bytes> {
        match kind {
            Kind::Channel => &mut self.channels,
            Kind::Pattern => &mut self.patterns,
        }
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
        for kind in [Kind::Channel, Kind::Pattern] {
            for name in std::mem::take(self.set_mut(kind)) {
                self.hub.remove(kind, &name, &self.mailbox);
            }
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
        assert_eq!(a.subscribe(Kind::Channel, &Bytes::from_static(b"news")), 1);
        assert_eq!(a.subscribe(Kind::Channel, &Bytes::from_static(b"news")), 1);
        assert_eq!(b.subscribe(Kind::Pattern, &Bytes::from_static(b"n*")), 1);
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
        assert_eq!(
            a.unsubscribe(Kind::Channel, &Bytes::from_static(b"news")),
            0
        );
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
        a.subscribe(Kind::Channel, &Bytes::from_static(b"c"));
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
