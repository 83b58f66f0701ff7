//! Publish/subscribe commands: SUBSCRIBE, UNSUBSCRIBE, PSUBSCRIBE, PUNSUBSCRIBE, PUBLISH
//! and PUBSUB's subcommands; their rows, their typed form and their parsers.
//! `server/commands/pubsub.rs` runs them, over the channel registry of `server/pubsub.rs`.
//!
//! Channels and patterns are not keys (Redis's rows give them no key positions): in cluster
//! mode they are not routed by slot, and a message reaches the subscribers of the node it
//! was published on.

use bytes::Bytes;

use super::args::Args;
use super::table::{row, CommandSpec};
use super::CommandError;

/// A publish/subscribe command.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum PubSubCommand {
    /// `SUBSCRIBE channel [channel ...]`.
    Subscribe {
        /// The channels, in order (each confirmed with its own push).
        channels: Vec<Bytes>,
    },
    /// `UNSUBSCRIBE [channel ...]`: none means every channel subscribed.
    Unsubscribe {
        /// The channels.
        channels: Vec<Bytes>,
    },
    /// `PSUBSCRIBE pattern [pattern ...]`: glob-style patterns, as KEYS matches them.
    PSubscribe {
        /// The patterns.
        patterns: Vec<Bytes>,
    },
    /// `PUNSUBSCRIBE [pattern ...]`: none means every pattern subscribed.
    PUnsubscribe {
        /// The patterns.
        patterns: Vec<Bytes>,
    },
    /// `PUBLISH channel message`.
    Publish {
        /// The channel.
        channel: Bytes,
        /// The message, delivered as sent.
        message: Bytes,
    },
    /// `PUBSUB CHANNELS [pattern]`: the channels with at least one subscriber.
    Channels {
        /// Only channels matching it (all without).
        pattern: Option<Bytes>,
    },
    /// `PUBSUB NUMSUB [channel ...]`: each channel's subscriber count.
    NumSub {
        /// The channels.
        channels: Vec<Bytes>,
    },
    /// `PUBSUB NUMPAT`: the number of pattern subscriptions, over all clients.
    NumPat,
    /// `PUBSUB HELP`.
    Help,
}

/// The publish/subscribe commands' rows.
#[rustfmt::skip]
pub(super) const ROWS: &[CommandSpec] = &[
    row!("psubscribe", -2, [PUBSUB, NOSCRIPT, LOADING, STALE], (0, 0, 0), [], "pubsub", "2.0.0",
        "Listens for messages published to channels that match one or more patterns.",
        "pattern [pattern ...]", |a: &mut Args| Ok(PubSubCommand::PSubscribe { patterns: a.collect() })),
    row!("publish", 3, [PUBSUB, LOADING, STALE, FAST], (0, 0, 0), [], "pubsub", "2.0.0",
        "Posts a message to a channel.",
        "channel message", publish),
    row!("pubsub", -2, [], (0, 0, 0), [], "pubsub", "2.8.0",
        "A container for Pub/Sub commands.",
        "", |_| Err::<PubSubCommand, _>(CommandError::Syntax),
        subcommands: PUBSUB_SUBCOMMANDS),
    row!("punsubscribe", -1, [PUBSUB, NOSCRIPT, LOADING, STALE], (0, 0, 0), [], "pubsub", "2.0.0",
        "Stops listening to messages published to channels that match one or more patterns.",
        "[pattern [pattern ...]]", |a: &mut Args| Ok(PubSubCommand::PUnsubscribe { patterns: a.collect() })),
    row!("subscribe", -2, [PUBSUB, NOSCRIPT, LOADING, STALE], (0, 0, 0), [], "pubsub", "2.0.0",
        "Listens for messages published to channels.",
        "channel [channel ...]", |a: &mut Args| Ok(PubSubCommand::Subscribe { channels: a.collect() })),
    row!("unsubscribe", -1, [PUBSUB, NOSCRIPT, LOADING, STALE], (0, 0, 0), [], "pubsub", "2.0.0",
        "Stops listening to messages posted to channels.",
        "[channel [channel ...]]", |a: &mut Args| Ok(PubSubCommand::Unsubscribe { channels: a.collect() })),
];

/// PUBSUB's subcommands, sorted by name.
#[rustfmt::skip]
static PUBSUB_SUBCOMMANDS: &[CommandSpec] = &[
    row!("pubsub|channels", -2, [PUBSUB, LOADING, STALE], (0, 0, 0), [], "pubsub", "2.8.0",
        "Returns the active channels.",
        "[pattern]", channels),
    row!("pubsub|help", 2, [LOADING, STALE], (0, 0, 0), [], "pubsub", "6.2.0",
        "Returns helpful text about the different subcommands.",
        "", |_| Ok(PubSubCommand::Help)),
    row!("pubsub|numpat", 2, [PUBSUB, LOADING, STALE], (0, 0, 0), [], "pubsub", "2.8.0",
        "Returns a count of unique pattern subscriptions.",
        "", |_| Ok(PubSubCommand::NumPat)),
    row!("pubsub|numsub", -2, [PUBSUB, LOADING, STALE], (0, 0, 0), [], "pubsub", "2.8.0",
        "Returns a count of subscribers to channels.",
        "[channel [channel ...]]", |a: &mut Args| Ok(PubSubCommand::NumSub { channels: a.collect() })),
];

/// `PUBSUB CHANNELS [pattern]`.
fn channels(args: &mut Args) -> Result<PubSubCommand, CommandError> {
    if args.len() > 1 {
        return Err(CommandError::SubcommandSyntax {
            subcommand: "CHANNELS".into(),
            command: "PUBSUB".into(),
        });
    }
    Ok(PubSubCommand::Channels {
        pattern: args.next(),
    })
}

/// `PUBLISH channel message`.
fn publish(args: &mut Args) -> Result<PubSubCommand, CommandError> {
    let (Some(channel), Some(message)) = (args.next(), args.next()) else {
        return Err(CommandError::Syntax);
    };
    Ok(PubSubCommand::Publish { channel, message })
}
