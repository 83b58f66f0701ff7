//! Publish/subscribe commands, over the server's [`Hub`](crate::server::pubsub::Hub).
//!
//! SUBSCRIBE and its kin answer with one push per channel or pattern (`subscribe`, the
//! channel, the client's subscription count after it), so they write their frames into the
//! request's reply slot themselves ([`subscription`]); PUBLISH and PUBSUB answer once, as
//! every other command does ([`run`]).

use std::sync::Arc;

use bytes::Bytes;

use super::help;
use crate::protocol::command::PubSubCommand;
use crate::protocol::Reply;
use crate::server::pubsub::{Kind, Subscriptions};
use crate::server::replies::Replies;
use crate::server::session::Session;
use crate::server::shared::Shared;

/// PUBLISH and PUBSUB's subcommands.
pub(crate) fn run(shared: &Shared, command: PubSubCommand) -> Reply {
    match command {
        PubSubCommand::Publish { channel, message } => {
            let limit = shared.config.read().client_output_buffer_limit.pubsub;
            Reply::count(
                shared
                    .pubsub
                    .publish(&channel, &message, limit, &shared.stats),
            )
        }
        PubSubCommand::Channels { pattern } => Reply::Array(
            shared
                .pubsub
                .channels(pattern.as_deref())
                .into_iter()
                .map(Reply::Bulk)
                .collect(),
        ),
        // A flat array of channel, count, ... in RESP3 too, as Redis sends it.
        PubSubCommand::NumSub { channels } => Reply::Array(
            channels
                .into_iter()
                .flat_map(|channel| {
                    let count = shared.pubsub.subscribers(&channel);
                    [Reply::Bulk(channel), Reply::count(count)]
                })
                .collect(),
        ),
        PubSubCommand::NumPat => Reply::count(shared.pubsub.pattern_count()),
        PubSubCommand::Help => help(&[
            "PUBSUB <subcommand> [<arg> [value] [opt] ...]. Subcommands are:",
            "CHANNELS [<pattern>]",
            "    Return the currently active channels matching a <pattern> (default: '*').",
            "NUMPAT",
            "    Return number of subscriptions to patterns.",
            "NUMSUB [<channel> ...]",
            "    Return the number of subscribers for the specified channels, excluding",
            "    pattern subscriptions(default: no channels).",
            "HELP",
            "    Prints this help.",
        ]),
        // The subscription commands answer through `subscription`.
        PubSubCommand::Subscribe { .. }
        | PubSubCommand::Unsubscribe { .. }
        | PubSubCommand::PSubscribe { .. }
        | PubSubCommand::PUnsubscribe { .. } => {
            Reply::error("ERR Command not allowed inside a transaction")
        }
    }
}

/// Whether `command` changes the client's subscriptions (and answers with a push per
/// channel or pattern).
pub(crate) fn is_subscription(command: &PubSubCommand) -> bool {
    matches!(
        command,
        PubSubCommand::Subscribe { .. }
            | PubSubCommand::Unsubscribe { .. }
            | PubSubCommand::PSubscribe { .. }
            | PubSubCommand::PUnsubscribe { .. }
    )
}

/// SUBSCRIBE, UNSUBSCRIBE, PSUBSCRIBE, PUNSUBSCRIBE: changes the session's subscriptions
/// and writes one push per channel or pattern into `out`.
pub(crate) fn subscription(
    shared: &Arc<Shared>,
    session: &mut Session,
    command: PubSubCommand,
    out: &mut Replies,
) {
    let resp = session.resp;
    let subs = session
        .pubsub
        .get_or_insert_with(|| Subscriptions::new(shared.pubsub.clone(), session.info.clone()));
    // What was published before this command ran goes out before its confirmations: once
    // unsubscribed, the client must get nothing more from the channel.
    subs.mailbox().send_to(out, resp);
    let (word, kind, subscribe, names): (&'static [u8], Kind, bool, Vec<Bytes>) = match command {
        PubSubCommand::Subscribe { channels } => (b"subscribe", Kind::Channel, true, channels),
        PubSubCommand::PSubscribe { patterns } => (b"psubscribe", Kind::Pattern, true, patterns),
        PubSubCommand::Unsubscribe { channels } => (b"unsubscribe", Kind::Channel, false, channels),
        PubSubCommand::PUnsubscribe { patterns } => {
            (b"punsubscribe", Kind::Pattern, false, patterns)
        }
        _ => return,
    };
    // Unsubscribing from none named: from all of them.
    let names = if names.is_empty() && !subscribe {
        subs.names(kind)
    } else {
        names
    };
    let confirm = |out: &mut Replies, name: Option<Bytes>, count: usize| {
        let push = Reply::Push(vec![
            Reply::Bulk(Bytes::from_static(word)),
            name.map_or(Reply::Null, Reply::Bulk),
            Reply::count(count),
        ]);
        out.reply(resp, push);
    };
    if names.is_empty() {
        // Unsubscribing from all when there is nothing: one confirmation, of nothing.
        confirm(out, None, subs.count());
    }
    for name in names {
        let count = if subscribe {
            subs.subscribe(kind, &name)
        } else {
            subs.unsubscribe(kind, &name)
        };
        confirm(out, Some(name), count);
    }
    if subs.count() == 0 {
        // Back to a normal client: the mailbox goes (nothing can be queued in it now).
        session.pubsub = None;
    }
}
