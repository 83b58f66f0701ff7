//! INFO: the sections tools and test harnesses read (server, clients, memory, persistence,
//! stats, cluster, keyspace), as `field:value` lines under `# Section` headers.

use std::fmt::Write as _;
use std::ops::Bound;

use bytes::Bytes;

use crate::protocol::Reply;
use crate::server::commands::connection::{CAIRN_VERSION, REDIS_VERSION};
use crate::server::commands::scan::live_entries;
use crate::server::keyspace::Keyspace;
use crate::server::shared::{Shared, Stats};
use crate::storage::WritesRefused;

/// One section's lines.
type Lines = Vec<(&'static str, String)>;

/// What makes one section's lines.
type Section = fn(&Shared) -> Lines;

/// The sections, in the order INFO prints them.
const SECTIONS: [(&str, Section); 7] = [
    ("server", server),
    ("clients", clients),
    ("memory", memory),
    ("persistence", persistence),
    ("stats", stats),
    ("cluster", cluster),
    ("keyspace", keyspace),
];

/// INFO [section ...]: the sections asked for (all of them for none, `all`, `default` or
/// `everything`).
pub(super) fn info(shared: &Shared, sections: &[Bytes]) -> Reply {
    let wanted = |name: &str| {
        sections.is_empty()
            || sections.iter().any(|s| {
                [name, "all", "default", "everything"]
                    .iter()
                    .any(|n| s.eq_ignore_ascii_case(n.as_bytes()))
            })
    };
    let mut out = String::new();
    for (name, lines) in SECTIONS.iter().filter(|(name, _)| wanted(name)) {
        if !out.is_empty() {
            out.push_str("\r\n");
        }
        let _ = write!(
            out,
            "# {}{}\r\n",
            name[..1].to_ascii_uppercase(),
            &name[1..]
        );
        for (field, value) in lines(shared) {
            let _ = write!(out, "{field}:{value}\r\n");
        }
    }
    Reply::Verbatim {
        format: *b"txt",
        text: Bytes::from(out),
    }
}

fn server(shared: &Shared) -> Lines {
    let uptime = shared.started.elapsed().as_secs();
    let executable = std::env::current_exe()
        .map(|p| p.display().to_string())
        .unwrap_or_default();
    vec![
        ("redis_version", REDIS_VERSION.into()),
        ("cairn_version", CAIRN_VERSION.into()),
        ("redis_mode", "standalone".into()),
        (
            "os",
            format!("{} {}", std::env::consts::OS, std::env::consts::ARCH),
        ),
        ("arch_bits", usize::BITS.to_string()),
        ("process_id", std::process::id().to_string()),
        ("run_id", shared.run_id.clone()),
        ("tcp_port", shared.config.read().port.to_string()),
        ("uptime_in_seconds", uptime.to_string()),
        ("uptime_in_days", (uptime / 86_400).to_string()),
        ("executable", executable),
    ]
}

fn clients(shared: &Shared) -> Lines {
    vec![
        ("connected_clients", shared.clients.count().to_string()),
        ("maxclients", shared.config.read().maxclients.to_string()),
    ]
}

/// Resident memory of this process in bytes, from /proc (0 where unavailable).
fn resident_bytes() -> u64 {
    std::fs::read_to_string("/proc/self/statm")
        .ok()
        .and_then(|s| s.split_whitespace().nth(1)?.parse::<u64>().ok())
        .map_or(0, |pages| pages * 4096)
}

fn memory(_: &Shared) -> Lines {
    let rss = resident_bytes();
    vec![
        ("used_memory", rss.to_string()),
        (
            "used_memory_human",
            format!("{:.2}M", rss as f64 / 1_048_576.0),
        ),
        ("used_memory_rss", rss.to_string()),
        ("maxmemory", "0".into()),
    ]
}

fn persistence(shared: &Shared) -> Lines {
    let engine = shared.db.stats();
    let config = shared.config.read();
    let tables: Vec<String> = engine.tables.iter().map(u64::to_string).collect();
    vec![
        ("loading", "0".into()),
        ("aof_enabled", "1".into()),
        ("cairn_fsync", config.fsync.name().into()),
        ("cairn_last_sequence", engine.last_sequence.to_string()),
        ("cairn_dir", config.dir.display().to_string()),
        ("cairn_memtable_bytes", engine.memtable_bytes.to_string()),
        ("cairn_table_bytes", engine.table_bytes.to_string()),
        // Tables per level, level 0 first.
        ("cairn_tables_per_level", tables.join(",")),
        ("cairn_wal_fsyncs", engine.wal_syncs.to_string()),
        // Redis's field for a failing append-only file, which tools watch.
        (
            "aof_last_write_status",
            if engine.writes_refused.is_some() {
                "err"
            } else {
                "ok"
            }
            .into(),
        ),
        (
            "cairn_writes_refused",
            match engine.writes_refused {
                None => "no",
                Some(WritesRefused::UntilSpace) => "until-space",
                Some(WritesRefused::UntilReopened) => "until-restart",
            }
            .into(),
        ),
    ]
}

fn stats(shared: &Shared) -> Lines {
    let stats = &shared.stats;
    vec![
        (
            "total_connections_received",
            Stats::get(&stats.connections_received).to_string(),
        ),
        (
            "total_commands_processed",
            Stats::get(&stats.commands_processed).to_string(),
        ),
        (
            "rejected_connections",
            Stats::get(&stats.rejected_connections).to_string(),
        ),
        ("expired_keys", Stats::get(&stats.expired_keys).to_string()),
        (
            "keyspace_hits",
            Stats::get(&stats.keyspace_hits).to_string(),
        ),
        (
            "keyspace_misses",
            Stats::get(&stats.keyspace_misses).to_string(),
        ),
        // Redis 7.2's name.
        (
            "client_output_buffer_limit_disconnections",
            Stats::get(&stats.output_limit_disconnections).to_string(),
        ),
    ]
}

/// `cluster_enabled:1` in cluster mode, else `0` (tools read it to pick a cluster client).
fn cluster(shared: &Shared) -> Lines {
    vec![(
        "cluster_enabled",
        u8::from(shared.cluster.is_some()).to_string(),
    )]
}

/// `db0:keys=N,expires=M,avg_ttl=0`, counted by a walk (the engine keeps no key count).
fn keyspace(shared: &Shared) -> Lines {
    let ks = Keyspace::new(shared);
    let (mut keys, mut expires) = (0u64, 0u64);
    let everything = (Bound::Unbounded, Bound::Unbounded);
    for (_, entry) in live_entries(ks.shared(), everything, false, ks.now()).flatten() {
        keys += 1;
        expires += u64::from(entry.expires_at.is_some());
    }
    if keys == 0 {
        return Vec::new();
    }
    vec![("db0", format!("keys={keys},expires={expires},avg_ttl=0"))]
}
