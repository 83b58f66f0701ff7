//! INFO: every section and field Redis 7.0's INFO prints by default, in its order (server,
//! clients, memory, persistence, stats, replication, cpu, modules, errorstats, cluster,
//! keyspace), as `field:value` lines under `# Section` headers, plus Cairn's own `cairn_*`
//! fields (docs/operations.md, "Observing").
//!
//! It owns which sections a request selects and every field's value. A value is either
//! measured (counters in `Stats`, the engine's statistics, what the OS says: `server::os`)
//! or a constant that is true of Cairn (`role:master`, no forks, no Lua, no eviction); a
//! field Cairn cannot state truly is left out rather than invented (`tests/info_vs_redis.rs`
//! lists them). It never keeps state of its own but the rates' last sample (`Stats::rates`).
//! The persistence and stats sections live in `info/persistence.rs`.

use std::fmt::Write as _;
use std::ops::Bound;
use std::time::{SystemTime, UNIX_EPOCH};

use bytes::Bytes;

use crate::protocol::Reply;
use crate::server::commands::connection::{CAIRN_VERSION, REDIS_VERSION};
use crate::server::commands::scan::live_records;
use crate::server::listener::WORKER_NAME;
use crate::server::os;
use crate::server::shared::Shared;
use crate::server::value::now_millis;

mod persistence;
mod replication;

use persistence::{persistence, stats};

/// One section's lines, `field:value`; a line whose field is not a constant (errorstats')
/// has an empty field and the whole line as its value.
type Lines = Vec<(&'static str, String)>;

/// What makes one section's lines.
type Section = fn(&Shared) -> Lines;

/// The sections, in the order INFO prints them, with their headers. All are Redis's
/// `default` sections; `commandstats` and `latencystats`, which Redis adds for `all` and
/// `everything`, are not kept (per-command timing on every command), so those two words
/// select the same sections as `default`.
const SECTIONS: [(&str, &str, Section); 11] = [
    ("server", "Server", server),
    ("clients", "Clients", clients),
    ("memory", "Memory", memory),
    ("persistence", "Persistence", persistence),
    ("stats", "Stats", stats),
    ("replication", "Replication", replication::replication),
    ("cpu", "CPU", cpu),
    ("modules", "Modules", modules),
    ("errorstats", "Errorstats", errorstats),
    ("cluster", "Cluster", cluster),
    ("keyspace", "Keyspace", keyspace),
];

/// Whether INFO with `args` prints section `name`, as Redis 7.0 chooses: no argument means
/// `default`; `default`, `all` and `everything` select every section Cairn has; any other
/// word selects the section of that name (case-insensitive), and unknown words nothing.
fn selected(args: &[Bytes], name: &str) -> bool {
    args.is_empty()
        || args.iter().any(|arg| {
            [name, "default", "all", "everything"]
                .iter()
                .any(|word| arg.eq_ignore_ascii_case(word.as_bytes()))
        })
}

/// INFO [section ...]: the sections asked for, in INFO's order whatever the order asked.
pub(super) fn info(shared: &Shared, args: &[Bytes]) -> Reply {
    let mut out = String::new();
    for (_, header, lines) in SECTIONS.iter().filter(|(name, ..)| selected(args, name)) {
        if !out.is_empty() {
            out.push_str("\r\n");
        }
        let _ = write!(out, "# {header}\r\n");
        for (field, value) in lines(shared) {
            if field.is_empty() {
                let _ = write!(out, "{value}\r\n");
            } else {
                let _ = write!(out, "{field}:{value}\r\n");
            }
        }
    }
    Reply::Verbatim {
        format: *b"txt",
        text: Bytes::from(out),
    }
}

/// Seconds since the Unix epoch, with microseconds.
fn unix_time() -> std::time::Duration {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .unwrap_or_default()
}

fn server(shared: &Shared) -> Lines {
    let uptime = shared.started.elapsed().as_secs();
    let executable = std::env::current_exe()
        .map(|p| p.display().to_string())
        .unwrap_or_default();
    let config = shared.config.read();
    let config_file = config
        .config_file
        .as_ref()
        .map(|p| p.display().to_string())
        .unwrap_or_default();
    let now = unix_time();
    // Redis's build id is a hash of its build; Cairn's, of its version and target.
    let build = format!(
        "{CAIRN_VERSION} {} {}",
        std::env::consts::OS,
        std::env::consts::ARCH
    );
    vec![
        ("redis_version", REDIS_VERSION.into()),
        ("cairn_version", CAIRN_VERSION.into()),
        // What Redis prints when it was not built from a git checkout: Cairn is not Redis.
        ("redis_git_sha1", "00000000".into()),
        ("redis_git_dirty", "0".into()),
        (
            "redis_build_id",
            format!("{:016x}", xxhash_rust::xxh3::xxh3_64(build.as_bytes())),
        ),
        (
            "redis_mode",
            if shared.cluster.is_some() {
                "cluster"
            } else {
                "standalone"
            }
            .into(),
        ),
        ("os", os::uname()),
        ("arch_bits", usize::BITS.to_string()),
        // std's Instant reads CLOCK_MONOTONIC through clock_gettime on Unix.
        ("monotonic_clock", "POSIX clock_gettime".into()),
        // tokio's reactor (mio): epoll on Linux and Android, kqueue on the BSDs and macOS.
        (
            "multiplexing_api",
            if cfg!(any(target_os = "linux", target_os = "android")) {
                "epoll"
            } else {
                "kqueue"
            }
            .into(),
        ),
        // Rust's atomics are C11's memory model, compiled to the same builtins.
        ("atomicvar_api", "c11-builtin".into()),
        // Redis prints 0.0.0 when no GCC built it; rustc built Cairn.
        ("gcc_version", "0.0.0".into()),
        ("process_id", std::process::id().to_string()),
        // Cairn has no `supervised` setting: it never talks to systemd or upstart.
        ("process_supervised", "no".into()),
        ("run_id", shared.run_id.clone()),
        ("tcp_port", config.port.to_string()),
        ("server_time_usec", now.as_micros().to_string()),
        ("uptime_in_seconds", uptime.to_string()),
        ("uptime_in_days", (uptime / 86_400).to_string()),
        // Not printed: `hz` and `configured_hz`, the frequency of Redis's serverCron; Cairn
        // has no such periodic task whose frequency they could state.
        // Redis's LRU clock: seconds, modulo 2^24.
        ("lru_clock", (now.as_secs() & ((1 << 24) - 1)).to_string()),
        ("executable", executable),
        ("config_file", config_file),
        // Redis's I/O threads read and write for its main thread; Cairn has none (each
        // worker reads, runs and writes its own connections).
        ("io_threads_active", "0".into()),
    ]
}

fn clients(shared: &Shared) -> Lines {
    vec![
        ("connected_clients", shared.clients.count().to_string()),
        // Cairn has no cluster bus: nodes talk only while a slot moves.
        ("cluster_connections", "0".into()),
        ("maxclients", shared.config.read().maxclients.to_string()),
        // Not printed: `client_recent_max_input_buffer` and `_output_buffer`; Cairn does
        // not track its connections' buffer sizes.
        (
            "blocked_clients",
            shared.blocking.blocked_clients().to_string(),
        ),
        // No CLIENT TRACKING; blocked clients' timeouts are not kept in a table.
        ("tracking_clients", "0".into()),
        ("clients_in_timeout_table", "0".into()),
    ]
}

/// Bytes as Redis's `bytesToHuman` prints them: `512B`, `1.50K`, `920.06M`, `2.00G`.
fn human(bytes: u64) -> String {
    const UNITS: [&str; 5] = ["K", "M", "G", "T", "P"];
    if bytes < 1024 {
        return format!("{bytes}B");
    }
    let mut scale = 1024u64;
    for unit in UNITS {
        if bytes / 1024 < scale {
            return format!("{:.2}{unit}", bytes as f64 / scale as f64);
        }
        scale *= 1024;
    }
    // Past 1024 P, Redis prints bytes again.
    format!("{bytes}B")
}

/// `a / b` as Redis prints its ratios, 0 when `b` is 0.
fn ratio(a: u64, b: u64) -> String {
    format!("{:.2}", if b == 0 { 0.0 } else { a as f64 / b as f64 })
}

/// `a / b` as a percentage, as Redis prints `used_memory_peak_perc`.
fn percent(a: u64, b: u64) -> String {
    format!(
        "{:.2}%",
        if b == 0 {
            0.0
        } else {
            a as f64 * 100.0 / b as f64
        }
    )
}

/// `a - b` as a signed number of bytes.
fn difference(a: u64, b: u64) -> String {
    (i128::from(a) - i128::from(b)).to_string()
}

/// Memory figures. Cairn does not measure its allocator, so `used_memory` is the resident
/// memory, and the allocator's figures are what Redis itself reports for an allocator that
/// gives none (`cronUpdateMemoryStats`): resident = RSS, active = resident, allocated =
/// `used_memory`. Every ratio then reads 1.00; the formulas are Redis's.
fn memory(shared: &Shared) -> Lines {
    let resident = os::resident();
    let rss = resident.now;
    let used = rss;
    let peak = resident.peak.max(used);
    let startup = shared.startup_resident.min(used);
    // The data the engine holds in memory; everything else is overhead.
    let dataset = shared
        .db
        .get()
        .map(|db| db.stats())
        .unwrap_or_default()
        .memtable_bytes
        .min(used);
    let overhead = used - dataset;
    let (allocated, active, allocator_resident) = (used, rss, rss);
    let system = os::total_system_memory();
    let allocator = shared.config.read().allocator;
    let zero = || "0".to_string();
    vec![
        ("used_memory", used.to_string()),
        ("used_memory_human", human(used)),
        ("used_memory_rss", rss.to_string()),
        ("used_memory_rss_human", human(rss)),
        ("used_memory_peak", peak.to_string()),
        ("used_memory_peak_human", human(peak)),
        ("used_memory_peak_perc", percent(used, peak)),
        ("used_memory_overhead", overhead.to_string()),
        ("used_memory_startup", startup.to_string()),
        ("used_memory_dataset", dataset.to_string()),
        (
            "used_memory_dataset_perc",
            percent(dataset, used.saturating_sub(startup)),
        ),
        ("allocator_allocated", allocated.to_string()),
        ("allocator_active", active.to_string()),
        ("allocator_resident", allocator_resident.to_string()),
        ("total_system_memory", system.to_string()),
        ("total_system_memory_human", human(system)),
        // No Lua, no scripts, no functions.
        ("used_memory_lua", zero()),
        ("used_memory_vm_eval", zero()),
        ("used_memory_lua_human", human(0)),
        ("used_memory_scripts_eval", zero()),
        ("number_of_cached_scripts", zero()),
        ("number_of_functions", zero()),
        ("number_of_libraries", zero()),
        ("used_memory_vm_functions", zero()),
        ("used_memory_vm_total", zero()),
        ("used_memory_vm_total_human", human(0)),
        ("used_memory_functions", zero()),
        ("used_memory_scripts", zero()),
        ("used_memory_scripts_human", human(0)),
        // No memory limit and no eviction: the data set lives on disk.
        ("maxmemory", zero()),
        ("maxmemory_human", human(0)),
        ("maxmemory_policy", "noeviction".into()),
        ("allocator_frag_ratio", ratio(active, allocated)),
        ("allocator_frag_bytes", difference(active, allocated)),
        ("allocator_rss_ratio", ratio(allocator_resident, active)),
        (
            "allocator_rss_bytes",
            difference(allocator_resident, active),
        ),
        ("rss_overhead_ratio", ratio(rss, allocator_resident)),
        ("rss_overhead_bytes", difference(rss, allocator_resident)),
        ("mem_fragmentation_ratio", ratio(rss, used)),
        ("mem_fragmentation_bytes", difference(rss, used)),
        // No replication backlog or buffers, no AOF buffer (the log is written in place),
        // no cluster bus links.
        ("mem_not_counted_for_evict", zero()),
        ("mem_replication_backlog", zero()),
        ("mem_total_replication_buffers", zero()),
        ("mem_clients_slaves", zero()),
        // Not printed: `mem_clients_normal`; Cairn does not track its clients' buffers.
        ("mem_cluster_links", zero()),
        ("mem_aof_buffer", zero()),
        (
            "mem_allocator",
            if allocator.is_empty() {
                "libc"
            } else {
                allocator
            }
            .into(),
        ),
        // No defragmentation, no lazy freeing.
        ("active_defrag_running", zero()),
        ("lazyfree_pending_objects", zero()),
        ("lazyfreed_objects", zero()),
    ]
}

/// CPU seconds from getrusage; the "main thread" is the worker threads together, since
/// they do what Redis's main thread does (every connection's event loop and commands),
/// without the engine's background threads (log writer, flushes, compaction).
fn cpu(_: &Shared) -> Lines {
    let (process, children) = (os::rusage(false), os::rusage(true));
    // Where /proc cannot name the workers (not Linux), the whole process.
    let workers = os::threads_cpu(WORKER_NAME).unwrap_or(process);
    let seconds = |s: f64| format!("{s:.6}");
    vec![
        ("used_cpu_sys", seconds(process.sys)),
        ("used_cpu_user", seconds(process.user)),
        ("used_cpu_sys_children", seconds(children.sys)),
        ("used_cpu_user_children", seconds(children.user)),
        ("used_cpu_sys_main_thread", seconds(workers.sys)),
        ("used_cpu_user_main_thread", seconds(workers.user)),
    ]
}

/// No modules: the header alone, as Redis prints with none loaded.
fn modules(_: &Shared) -> Lines {
    Vec::new()
}

/// `errorstat_<PREFIX>:count=N` per error prefix sent, in byte order.
fn errorstats(shared: &Shared) -> Lines {
    shared
        .stats
        .errors
        .by_prefix()
        .into_iter()
        .map(|(prefix, count)| {
            let prefix = String::from_utf8_lossy(&prefix);
            ("", format!("errorstat_{prefix}:count={count}"))
        })
        .collect()
}

/// `cluster_enabled:1` in cluster mode, else `0` (tools read it to pick a cluster client).
fn cluster(shared: &Shared) -> Lines {
    vec![(
        "cluster_enabled",
        u8::from(shared.cluster.is_some()).to_string(),
    )]
}

/// `dbN:keys=K,expires=E,avg_ttl=0` for each database with keys, counted by a walk (the
/// engine keeps no key count).
fn keyspace(shared: &Shared) -> Lines {
    let now = now_millis();
    let databases = shared.config.read().databases;
    let mut lines = Vec::new();
    for db in (0..databases).filter_map(|db| u8::try_from(db).ok()) {
        let (mut keys, mut expires) = (0u64, 0u64);
        let everything = (Bound::Unbounded, Bound::Unbounded);
        for (_, record) in live_records(shared, db, everything, false, now).flatten() {
            keys += 1;
            expires += u64::from(record.expires_at().is_some());
        }
        if keys > 0 {
            lines.push((
                "",
                format!("db{db}:keys={keys},expires={expires},avg_ttl=0"),
            ));
        }
    }
    lines
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn human_is_redis_bytes_to_human() {
        assert_eq!(human(0), "0B");
        assert_eq!(human(1023), "1023B");
        assert_eq!(human(1024), "1.00K");
        assert_eq!(human(942_144), "920.06K");
        assert_eq!(human(6_832_128), "6.52M");
        assert_eq!(human(25_276_071_936), "23.54G");
        assert_eq!(human(1024u64.pow(4)), "1.00T");
        assert_eq!(human(1024u64.pow(5) * 3), "3.00P");
        assert_eq!(human(1024u64.pow(6)), format!("{}B", 1024u64.pow(6)));
    }

    #[test]
    fn ratios_and_differences_are_redis_formulas() {
        // Redis 7.0's own figures: rss 6832128 over used 942144 is 7.25... printed %.2f.
        assert_eq!(ratio(6_832_128, 942_144), "7.25");
        assert_eq!(difference(6_832_128, 942_144), "5889984");
        assert_eq!(difference(942_144, 6_832_128), "-5889984");
        // Cairn's used_memory is its RSS: no fragmentation can be seen.
        assert_eq!(ratio(5_000_000, 5_000_000), "1.00");
        assert_eq!(ratio(1, 0), "0.00");
        assert_eq!(percent(942_144, 940_000), "100.23%");
        assert_eq!(percent(1, 0), "0.00%");
    }

    #[test]
    fn sections_are_chosen_as_redis_chooses() {
        let args = |words: &[&str]| -> Vec<Bytes> {
            words
                .iter()
                .map(|w| Bytes::copy_from_slice(w.as_bytes()))
                .collect()
        };
        for everything in [&[][..], &["default"], &["ALL"], &["everything"]] {
            assert!(SECTIONS
                .iter()
                .all(|(name, ..)| selected(&args(everything), name)));
        }
        assert!(selected(&args(&["CPU"]), "cpu"));
        assert!(!selected(&args(&["cpu"]), "server"));
        assert!(!selected(&args(&["nosuch", "commandstats"]), "server"));
        assert!(selected(&args(&["keyspace", "errorstats"]), "errorstats"));
    }
}
