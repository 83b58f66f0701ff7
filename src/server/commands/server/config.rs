//! CONFIG: GET and SET over the settings that exist (some of them live), RESETSTAT, and
//! REWRITE, which writes the live settings (the replication ones among them, which
//! REPLICAOF and Sentinel change) back to the `--config` file.

use bytes::Bytes;

use super::bulk;
use crate::protocol::command::ConfigCommand;
use crate::protocol::Reply;
use crate::server::commands::help;
use crate::server::pattern;
use crate::server::process;
use crate::server::shared::{Shared, Stats};

/// CONFIG GET/SET/RESETSTAT/REWRITE/HELP.
pub(super) fn config(shared: &Shared, command: ConfigCommand) -> Reply {
    match command {
        ConfigCommand::Get(patterns) => get(shared, &patterns),
        ConfigCommand::Set(pairs) => set(shared, &pairs),
        ConfigCommand::ResetStat => reset_stat(&shared.stats),
        ConfigCommand::Rewrite => rewrite(shared),
        ConfigCommand::Help => config_help(),
    }
}

/// CONFIG GET pattern [pattern ...]: the settings whose names match, as a map.
fn get(shared: &Shared, patterns: &[Bytes]) -> Reply {
    let config = shared.config.read();
    let appendfsync = match config.fsync.name() {
        "never" => "no",
        other => other,
    };
    let settings: Vec<(&str, String)> = vec![
        ("bind", config.bind.clone()),
        ("port", config.port.to_string()),
        ("dir", config.dir.display().to_string()),
        ("appendonly", "yes".into()),
        ("appendfsync", appendfsync.into()),
        ("save", String::new()),
        (
            "requirepass",
            config.requirepass.clone().unwrap_or_default(),
        ),
        ("maxclients", config.maxclients.to_string()),
        ("tcp-backlog", config.tcp_backlog.to_string()),
        (
            "disable-thp",
            if config.disable_thp { "yes" } else { "no" }.to_string(),
        ),
        ("timeout", config.timeout.to_string()),
        (
            "client-output-buffer-limit",
            config.client_output_buffer_limit.render(),
        ),
        ("databases", config.databases.to_string()),
        ("maxmemory", "0".into()),
        ("proto-max-bulk-len", shared.limits.max_bulk_len.to_string()),
        ("tls-port", config.tls_port.unwrap_or(0).to_string()),
        ("tls-cert-file", path(config.tls_cert_file.as_deref())),
        ("tls-key-file", path(config.tls_key_file.as_deref())),
        ("tls-ca-cert-file", path(config.tls_ca_cert_file.as_deref())),
        (
            "tls-client-cert-file",
            path(config.tls_client_cert_file.as_deref()),
        ),
        (
            "tls-client-key-file",
            path(config.tls_client_key_file.as_deref()),
        ),
        ("tls-auth-clients", config.tls_auth_clients.name().into()),
        (
            "tls-replication",
            if config.tls_replication { "yes" } else { "no" }.into(),
        ),
        ("replicaof", config.replicaof.clone().unwrap_or_default()),
        ("masterauth", config.masterauth.clone().unwrap_or_default()),
        ("replica-priority", config.replica_priority.to_string()),
        (
            "replica-announce-ip",
            config.replica_announce_ip.clone().unwrap_or_default(),
        ),
        (
            "replica-announce-port",
            config.replica_announce_port.to_string(),
        ),
        ("replica-read-only", yes_no(config.replica_read_only)),
        (
            "min-replicas-to-write",
            config.min_replicas_to_write.to_string(),
        ),
        (
            "min-replicas-max-lag",
            config.min_replicas_max_lag.to_string(),
        ),
        ("repl-backlog-size", config.repl_backlog_size.to_string()),
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

/// CONFIG REWRITE, with Redis's error when the server was started without a file.
fn rewrite(shared: &Shared) -> Reply {
    let config = shared.config.read().clone();
    let Some(path) = config.config_file.clone() else {
        return Reply::error("ERR The server is running without a config file");
    };
    match config.rewrite(&path) {
        Ok(()) => Reply::ok(),
        Err(error) => {
            tracing::warn!(%error, "CONFIG REWRITE failed");
            Reply::error(format!("ERR Rewriting config file: {error}"))
        }
    }
}

/// A yes/no setting as CONFIG GET shows it.
fn yes_no(on: bool) -> String {
    if on { "yes" } else { "no" }.into()
}

/// A file setting as CONFIG GET shows it: the path, or empty when unset.
fn path(file: Option<&std::path::Path>) -> String {
    file.map(|p| p.display().to_string()).unwrap_or_default()
}

/// C's `INT_MAX`: the largest value of Redis's integer settings.
const INT_MAX: u64 = 2_147_483_647;

/// `number` if it is at most `max`, or Redis's CONFIG SET error for a value out of range.
fn in_range(name: &str, number: Result<u64, Reply>, max: u64) -> Result<u64, Reply> {
    number.and_then(|n| {
        if n <= max {
            Ok(n)
        } else {
            Err(Reply::error(format!(
                "ERR CONFIG SET failed (possibly related to argument '{name}') - argument must be between 0 and {max} inclusive"
            )))
        }
    })
}

/// CONFIG SET parameter value [parameter value ...]: every pair is checked before any is
/// applied, as Redis does, so a bad one changes nothing.
fn set(shared: &Shared, pairs: &[(Bytes, Bytes)]) -> Reply {
    let mut config = shared.config.read().clone();
    for (name, value) in pairs {
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
            "maxclients" => number().and_then(|n| {
                let wanted = usize::try_from(n).unwrap_or(usize::MAX);
                match process::fit_clients(wanted) {
                    fits if fits < wanted => Err(Reply::error(format!(
                        "ERR CONFIG SET failed (possibly related to argument '{name_text}') - The operating system is not able to handle the specified number of clients, try with {fits}"
                    ))),
                    _ => {
                        config.maxclients = wanted;
                        Ok(())
                    }
                }
            }),
            "timeout" => number().map(|n| config.timeout = n),
            "client-output-buffer-limit" => config
                .client_output_buffer_limit
                .apply(&value_text)
                .map_err(|e| {
                    Reply::error(format!(
                        "ERR CONFIG SET failed (possibly related to argument '{name_text}') - {e}"
                    ))
                }),
            "requirepass" => {
                config.requirepass = (!value_text.is_empty()).then_some(value_text);
                Ok(())
            }
            "masterauth" => {
                config.masterauth = (!value_text.is_empty()).then_some(value_text);
                Ok(())
            }
            "replica-announce-ip" => {
                config.replica_announce_ip = (!value_text.is_empty()).then_some(value_text);
                Ok(())
            }
            "replica-priority" => in_range(&name_text, number(), INT_MAX)
                .map(|n| config.replica_priority = u32::try_from(n).unwrap_or(u32::MAX)),
            "replica-announce-port" => in_range(&name_text, number(), u64::from(u16::MAX))
                .map(|n| config.replica_announce_port = u16::try_from(n).unwrap_or(u16::MAX)),
            "min-replicas-to-write" => in_range(&name_text, number(), INT_MAX)
                .map(|n| config.min_replicas_to_write = u32::try_from(n).unwrap_or(u32::MAX)),
            "min-replicas-max-lag" => in_range(&name_text, number(), INT_MAX)
                .map(|n| config.min_replicas_max_lag = n),
            "replica-read-only" => match value_text.to_ascii_lowercase().as_str() {
                on @ ("yes" | "no") => {
                    config.replica_read_only = on == "yes";
                    Ok(())
                }
                _ => Err(Reply::error(format!(
                    "ERR CONFIG SET failed (possibly related to argument '{name_text}') - argument must be 'yes' or 'no'"
                ))),
            },
            "save" | "appendonly" => Ok(()),
            "bind" | "port" | "dir" | "appendfsync" | "databases" | "maxmemory"
            | "proto-max-bulk-len" | "tcp-backlog" | "disable-thp" | "tls-port" | "tls-cert-file" | "tls-key-file"
            | "tls-ca-cert-file" | "tls-client-cert-file" | "tls-client-key-file" | "tls-auth-clients"
            | "tls-replication" | "repl-backlog-size"
            | "replicaof" => Err(Reply::error(format!(
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

/// CONFIG RESETSTAT: the INFO stats counters back to zero.
fn reset_stat(stats: &Stats) -> Reply {
    for counter in [
        &stats.commands_processed,
        &stats.connections_received,
        &stats.rejected_connections,
        &stats.output_limit_disconnections,
        &stats.keyspace_hits,
        &stats.keyspace_misses,
        &stats.expired_keys,
    ] {
        counter.store(0, std::sync::atomic::Ordering::Relaxed);
    }
    Reply::ok()
}

/// CONFIG HELP
fn config_help() -> Reply {
    help(&[
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
    ])
}
