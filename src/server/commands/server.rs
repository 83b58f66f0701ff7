//! Server commands: COMMAND (the table clients and redis-cli's hints read), CONFIG, INFO,
//! TIME, SHUTDOWN. Their rows and parsers are in `protocol/command/server.rs`; CONFIG and INFO
//! have files of their own under `server/`.

mod config;
mod info;

use crate::server::checkpoints;
use bytes::Bytes;

use super::help;
use crate::protocol::command::{
    keys_of_request, lookup, AclCategories, ArgSpec, CommandListFilter, CommandQuery, CommandSpec,
    ServerCommand, COMMANDS,
};
use crate::protocol::Reply;
use crate::server::dispatch::Context;
use crate::server::pattern;
use crate::server::session::Session;
use crate::server::shared::Shared;

fn bulk(text: impl Into<String>) -> Reply {
    Reply::Bulk(Bytes::from(text.into()))
}

fn status(text: &'static str) -> Reply {
    Reply::Simple(Bytes::from_static(text.as_bytes()))
}

/// Runs a server command.
pub(crate) fn run(cx: &mut Context, command: ServerCommand) -> Reply {
    match command {
        ServerCommand::Command(query) => self::command(query),
        ServerCommand::Config(sub) => config::config(cx.shared, sub),
        ServerCommand::Info { sections } => info::info(cx.shared, &sections),
        ServerCommand::Time => time(),
        ServerCommand::Save { background } => checkpoints::save(cx.shared, background),
        ServerCommand::LastSave => Reply::count(cx.shared.checkpoints.last_save()),
        ServerCommand::Shutdown { abort, .. } => shutdown(cx.shared, cx.session, abort),
    }
}

/// COMMAND [COUNT | INFO ... | DOCS ... | LIST ... | GETKEYS ... | HELP]
fn command(query: CommandQuery) -> Reply {
    let named = |names: Vec<Bytes>| -> Vec<Option<&'static CommandSpec>> {
        if names.is_empty() {
            COMMANDS.iter().map(Some).collect()
        } else {
            names.iter().map(|n| lookup_named(n)).collect()
        }
    };
    match query {
        CommandQuery::All => Reply::Array(COMMANDS.iter().map(command_info).collect()),
        CommandQuery::Count => Reply::count(COMMANDS.len()),
        CommandQuery::Info(names) => Reply::Array(
            named(names)
                .into_iter()
                .map(|spec| spec.map_or(Reply::NullArray, command_info))
                .collect(),
        ),
        CommandQuery::Docs(names) => Reply::Map(
            named(names)
                .into_iter()
                .flatten()
                .map(|spec| (bulk(spec.name), command_docs(spec)))
                .collect(),
        ),
        // Subcommands are listed too, after their container, as Redis lists them.
        CommandQuery::List(filter) => Reply::Array(
            COMMANDS
                .iter()
                .flat_map(|spec| std::iter::once(spec).chain(spec.subcommands))
                .filter(|spec| match &filter {
                    None => true,
                    Some(CommandListFilter::Module(_)) => false,
                    Some(CommandListFilter::AclCat(cat)) => AclCategories::named(cat)
                        .is_some_and(|cat| spec.acl_categories().contains(cat)),
                    Some(CommandListFilter::Pattern(p)) => {
                        pattern::matches(p, spec.name.as_bytes())
                    }
                })
                .map(|spec| bulk(spec.name))
                .collect(),
        ),
        CommandQuery::GetKeys(args) => match keys_of_request(&args) {
            Ok(keys) => Reply::Array(keys.into_iter().map(Reply::Bulk).collect()),
            Err(error) => Reply::error(error.to_string()),
        },
        CommandQuery::Help => help(&[
            "COMMAND <subcommand> [<arg> [value] [opt] ...]. Subcommands are:",
            "(no subcommand)",
            "    Return details about all commands.",
            "COUNT",
            "    Return the total number of commands in this server.",
            "LIST",
            "    Return a list of all commands in this server.",
            "INFO [<command-name> ...]",
            "    Return details about the named commands.",
            "DOCS [<command-name> ...]",
            "    Return documentation details about the named commands.",
            "GETKEYS <full-command>",
            "    Return the keys from a full Redis command.",
            "HELP",
            "    Print this help.",
        ]),
    }
}

/// A command or subcommand by the name COMMAND INFO and DOCS take (`client|setname`).
fn lookup_named(name: &[u8]) -> Option<&'static CommandSpec> {
    match name.iter().position(|&b| b == b'|') {
        Some(bar) => lookup(&name[..bar])?.subcommand(&name[bar + 1..]),
        None => lookup(name),
    }
}

/// One command's entry in COMMAND / COMMAND INFO, in Redis 7's ten-field shape.
fn command_info(spec: &CommandSpec) -> Reply {
    Reply::Array(vec![
        bulk(spec.name),
        Reply::Integer(i64::from(spec.arity)),
        Reply::Set(
            spec.flags
                .reported()
                .map(|f| Reply::Simple(f.into()))
                .collect(),
        ),
        Reply::Integer(i64::from(spec.first_key)),
        Reply::Integer(i64::from(spec.last_key)),
        Reply::Integer(i64::from(spec.step)),
        Reply::Set(
            spec.acl_categories()
                .names()
                .map(|c| Reply::Simple(c.into()))
                .collect(),
        ),
        Reply::Set(Vec::new()),
        Reply::Array(Vec::new()),
        Reply::Array(spec.subcommands.iter().map(command_info).collect()),
    ])
}

/// One command's entry in COMMAND DOCS, with an `arguments` tree redis-cli builds its
/// hints from.
fn command_docs(spec: &CommandSpec) -> Reply {
    let mut fields = vec![
        (bulk("summary"), bulk(spec.summary)),
        (bulk("since"), bulk(spec.since)),
        (bulk("group"), bulk(spec.group)),
    ];
    let arguments = spec.arguments();
    if !arguments.is_empty() {
        fields.push((
            bulk("arguments"),
            Reply::Array(arguments.iter().map(argument_docs).collect()),
        ));
    }
    if !spec.subcommands.is_empty() {
        fields.push((
            bulk("subcommands"),
            Reply::Map(
                spec.subcommands
                    .iter()
                    .map(|sub| (bulk(sub.name), command_docs(sub)))
                    .collect(),
            ),
        ));
    }
    Reply::Map(fields)
}

/// One COMMAND DOCS argument map.
fn argument_docs(arg: &ArgSpec) -> Reply {
    let mut fields = vec![
        (bulk("name"), bulk(arg.name.clone())),
        (bulk("type"), bulk(arg.kind.as_str())),
    ];
    if let Some(token) = arg.token {
        fields.push((bulk("token"), bulk(token)));
    }
    let flags = arg.flags();
    if !flags.is_empty() {
        fields.push((
            bulk("flags"),
            Reply::Array(flags.into_iter().map(status).collect()),
        ));
    }
    if !arg.arguments().is_empty() {
        fields.push((
            bulk("arguments"),
            Reply::Array(arg.arguments().iter().map(argument_docs).collect()),
        ));
    }
    Reply::Map(fields)
}

/// TIME: unix seconds and microseconds.
fn time() -> Reply {
    let now = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap_or_default();
    Reply::Array(vec![
        bulk(now.as_secs().to_string()),
        bulk(now.subsec_micros().to_string()),
    ])
}

/// SHUTDOWN: stop accepting, finish in-flight requests, sync, exit.
fn shutdown(shared: &Shared, session: &mut Session, abort: bool) -> Reply {
    if abort {
        return Reply::error("ERR No shutdown in progress.");
    }
    tracing::info!(client = session.info.id, "SHUTDOWN requested");
    shared.shutdown.trigger();
    session.closing = true;
    Reply::ok()
}
