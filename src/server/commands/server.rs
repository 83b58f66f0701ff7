//! Server commands: COMMAND (the table clients and redis-cli's hints read), CONFIG, INFO,
//! TIME, SHUTDOWN. Their rows and parsers are in `protocol/command/server.rs`.

use std::fmt::Write as _;
use std::ops::Bound;

use bytes::Bytes;

use super::connection::{CAIRN_VERSION, REDIS_VERSION};
use super::scan::live_entries;
use crate::protocol::command::{
    keys_of_request, lookup, AclCategories, ArgSpec, CommandListFilter, CommandQuery, CommandSpec,
    ConfigCommand, ServerCommand, COMMANDS,
};
use crate::protocol::Reply;
use crate::server::dispatch::Context;
use crate::server::keyspace::Keyspace;
use crate::server::pattern;
use crate::server::session::Session;
use crate::server::shared::{Shared, Stats};

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
        ServerCommand::Config(sub) => config(cx.shared, sub),
        ServerCommand::Info { sections } => info(cx.shared, &sections),
        ServerCommand::Time => time(),
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
        CommandQuery::Count => Reply::Integer(COMMANDS.len() as i64),
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
        CommandQuery::Help => Reply::Array(
            [
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
            ]
            .into_iter()
            .map(status)
            .collect(),
        ),
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

/// CONFIG GET/SET/RESETSTAT/REWRITE/HELP over the settings that exist.
fn config(shared: &Shared, command: ConfigCommand) -> Reply {
    match command {
        ConfigCommand::Get(patterns) => {
            let config = shared.config.read();
            let settings: Vec<(&str, String)> = vec![
                ("bind", config.bind.clone()),
                ("port", config.port.to_string()),
                ("dir", config.dir.display().to_string()),
                ("appendonly", "yes".into()),
                (
                    "appendfsync",
                    match config.fsync.name() {
                        "never" => "no".into(),
                        other => other.into(),
                    },
                ),
                ("save", String::new()),
                (
                    "requirepass",
                    config.requirepass.clone().unwrap_or_default(),
                ),
                ("maxclients", config.maxclients.to_string()),
                ("timeout", config.timeout.to_string()),
                ("databases", "1".into()),
                ("maxmemory", "0".into()),
                ("proto-max-bulk-len", shared.limits.max_bulk_len.to_string()),
            ];
            Reply::Map(
                settings
                    .into_iter()
                    .filter(|(name, _)| {
                        patterns
                            .iter()
                            .any(|p| pattern::matches(&p.to_ascii_lowercase(), name.as_bytes()))
                    })
                    .map(|(name, value)| (bulk(name), bulk(value)))
                    .collect(),
            )
        }
        ConfigCommand::Set(pairs) => {
            // Validate everything before changing anything, as Redis does.
            let mut config = shared.config.read().clone();
            for (name, value) in &pairs {
                let name_text = String::from_utf8_lossy(name).to_ascii_lowercase();
                let value_text = String::from_utf8_lossy(value).into_owned();
                let number = || {
                    value_text.parse::<u64>().map_err(|_| {
                        Reply::error(format!(
                            "ERR CONFIG SET failed (possibly related to argument '{name_text}') - argument couldn't be parsed into an integer"
                        ))
                    })
                };
                let outcome = match name_text.as_str() {
                    "maxclients" => number().map(|n| config.maxclients = n as usize),
                    "timeout" => number().map(|n| config.timeout = n),
                    "requirepass" => {
                        config.requirepass = (!value_text.is_empty()).then_some(value_text);
                        Ok(())
                    }
                    "save" | "appendonly" => Ok(()),
                    "bind" | "port" | "dir" | "appendfsync" | "databases" | "maxmemory"
                    | "proto-max-bulk-len" => Err(Reply::error(format!(
                        "ERR CONFIG SET failed (possibly related to argument '{name_text}') - can't set immutable config"
                    ))),
                    _ => Err(Reply::error(format!(
                        "ERR Unknown option or number of arguments for CONFIG SET - '{name_text}'"
                    ))),
                };
                if let Err(reply) = outcome {
                    return reply;
                }
            }
            *shared.config.write() = config;
            Reply::ok()
        }
        ConfigCommand::ResetStat => {
            let stats = &shared.stats;
            for counter in [
                &stats.commands_processed,
                &stats.connections_received,
                &stats.rejected_connections,
                &stats.keyspace_hits,
                &stats.keyspace_misses,
                &stats.expired_keys,
            ] {
                counter.store(0, std::sync::atomic::Ordering::Relaxed);
            }
            Reply::ok()
        }
        ConfigCommand::Rewrite => Reply::error("ERR The server is running without a config file"),
        ConfigCommand::Help => Reply::Array(
            [
                "CONFIG <subcommand> [<arg> [value] [opt] ...]. Subcommands are:",
                "GET <pattern>",
                "    Return parameters matching the glob-like <pattern> and their values.",
                "SET <directive> <value>",
                "    Set the configuration <directive> to <value>.",
                "RESETSTAT",
                "    Reset statistics reported by the INFO command.",
                "REWRITE",
                "    Rewrite the configuration file.",
                "HELP",
                "    Print this help.",
            ]
            .into_iter()
            .map(status)
            .collect(),
        ),
    }
}

/// Resident memory of this process in bytes, from /proc (0 where unavailable).
fn resident_bytes() -> u64 {
    std::fs::read_to_string("/proc/self/statm")
        .ok()
        .and_then(|s| s.split_whitespace().nth(1)?.parse::<u64>().ok())
        .map_or(0, |pages| pages * 4096)
}

/// INFO [section ...]: server, clients, memory, persistence, stats, keyspace.
fn info(shared: &Shared, sections: &[Bytes]) -> Reply {
    const ALL: [&str; 6] = [
        "server",
        "clients",
        "memory",
        "persistence",
        "stats",
        "keyspace",
    ];
    let wanted = |name: &str| {
        sections.is_empty()
            || sections.iter().any(|s| {
                s.eq_ignore_ascii_case(name.as_bytes())
                    || s.eq_ignore_ascii_case(b"all")
                    || s.eq_ignore_ascii_case(b"default")
                    || s.eq_ignore_ascii_case(b"everything")
            })
    };
    let config = shared.config.read().clone();
    let stats = &shared.stats;
    let mut out = String::new();
    for section in ALL.iter().filter(|s| wanted(s)) {
        if !out.is_empty() {
            out.push_str("\r\n");
        }
        let uptime = shared.started.elapsed().as_secs();
        let lines: Vec<(String, String)> = match *section {
            "server" => vec![
                ("redis_version".into(), REDIS_VERSION.into()),
                ("cairn_version".into(), CAIRN_VERSION.into()),
                ("redis_mode".into(), "standalone".into()),
                (
                    "os".into(),
                    format!("{} {}", std::env::consts::OS, std::env::consts::ARCH),
                ),
                ("arch_bits".into(), (usize::BITS).to_string()),
                ("process_id".into(), std::process::id().to_string()),
                ("run_id".into(), shared.run_id.clone()),
                ("tcp_port".into(), config.port.to_string()),
                ("uptime_in_seconds".into(), uptime.to_string()),
                ("uptime_in_days".into(), (uptime / 86_400).to_string()),
                (
                    "executable".into(),
                    std::env::current_exe()
                        .map(|p| p.display().to_string())
                        .unwrap_or_default(),
                ),
            ],
            "clients" => vec![
                (
                    "connected_clients".into(),
                    shared.clients.count().to_string(),
                ),
                ("maxclients".into(), config.maxclients.to_string()),
            ],
            "memory" => {
                let rss = resident_bytes();
                vec![
                    ("used_memory".into(), rss.to_string()),
                    (
                        "used_memory_human".into(),
                        format!("{:.2}M", rss as f64 / 1048576.0),
                    ),
                    ("used_memory_rss".into(), rss.to_string()),
                    ("maxmemory".into(), "0".into()),
                ]
            }
            "persistence" => {
                let engine = shared.db.stats();
                let tables: Vec<String> = engine.tables.iter().map(u64::to_string).collect();
                vec![
                    ("loading".into(), "0".into()),
                    ("aof_enabled".into(), "1".into()),
                    ("cairn_fsync".into(), config.fsync.name().into()),
                    (
                        "cairn_last_sequence".into(),
                        engine.last_sequence.to_string(),
                    ),
                    ("cairn_dir".into(), config.dir.display().to_string()),
                    (
                        "cairn_memtable_bytes".into(),
                        engine.memtable_bytes.to_string(),
                    ),
                    ("cairn_table_bytes".into(), engine.table_bytes.to_string()),
                    // Tables per level, level 0 first.
                    ("cairn_tables_per_level".into(), tables.join(",")),
                    ("cairn_wal_fsyncs".into(), engine.wal_syncs.to_string()),
                ]
            }
            "stats" => vec![
                (
                    "total_connections_received".into(),
                    Stats::get(&stats.connections_received).to_string(),
                ),
                (
                    "total_commands_processed".into(),
                    Stats::get(&stats.commands_processed).to_string(),
                ),
                (
                    "rejected_connections".into(),
                    Stats::get(&stats.rejected_connections).to_string(),
                ),
                (
                    "expired_keys".into(),
                    Stats::get(&stats.expired_keys).to_string(),
                ),
                (
                    "keyspace_hits".into(),
                    Stats::get(&stats.keyspace_hits).to_string(),
                ),
                (
                    "keyspace_misses".into(),
                    Stats::get(&stats.keyspace_misses).to_string(),
                ),
            ],
            _ => keyspace_lines(shared),
        };
        let _ = write!(
            out,
            "# {}{}\r\n",
            section[..1].to_ascii_uppercase(),
            &section[1..]
        );
        for (name, value) in lines {
            let _ = write!(out, "{name}:{value}\r\n");
        }
    }
    Reply::Verbatim {
        format: *b"txt",
        text: Bytes::from(out),
    }
}

/// `db0:keys=N,expires=M,avg_ttl=0`, counted by a walk (the engine keeps no key count).
fn keyspace_lines(shared: &Shared) -> Vec<(String, String)> {
    let ks = Keyspace::new(shared);
    let (mut keys, mut expires) = (0u64, 0u64);
    for (_, entry) in live_entries(
        ks.db(),
        (Bound::Unbounded, Bound::Unbounded),
        false,
        ks.now(),
    )
    .flatten()
    {
        keys += 1;
        expires += u64::from(entry.expires_at.is_some());
    }
    if keys == 0 {
        return Vec::new();
    }
    vec![(
        "db0".into(),
        format!("keys={keys},expires={expires},avg_ttl=0"),
    )]
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
