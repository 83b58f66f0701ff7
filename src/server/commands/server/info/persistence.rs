//! INFO's persistence and stats sections: the engine's log as Redis's append-only file,
//! BGSAVE's checkpoints as its RDB saves, and the server's counters (`Stats`), with the
//! constants that are true of Cairn (no forks, no eviction).

use std::time::Instant;

use super::Lines;
use crate::server::shared::{Shared, Stats};
use crate::storage::WritesRefused;

/// Persistence: Cairn has no RDB files and no forks; its write-ahead log plays the AOF's
/// part (`aof_enabled:1`), appended in place and never rewritten (flushes cut it instead).
pub(super) fn persistence(shared: &Shared) -> Lines {
    let engine = shared.db.get().map(|db| db.stats()).unwrap_or_default();
    let saves = shared.checkpoints.info();
    let config = shared.config.read();
    let tables: Vec<String> = engine.tables.iter().map(u64::to_string).collect();
    let (zero, never) = (|| "0".to_string(), || "-1".to_string());
    vec![
        // The engine is open before the server listens: nothing is served while loading.
        ("loading", zero()),
        ("async_loading", zero()),
        ("current_cow_peak", zero()),
        ("current_cow_size", zero()),
        ("current_cow_size_age", zero()),
        ("current_fork_perc", "0.00".into()),
        ("current_save_keys_processed", zero()),
        ("current_save_keys_total", zero()),
        // Every acknowledged change is already in the log.
        ("rdb_changes_since_last_save", zero()),
        // BGSAVE and SAVE take checkpoints (`server::checkpoints`).
        (
            "rdb_bgsave_in_progress",
            u8::from(saves.in_progress).to_string(),
        ),
        ("rdb_last_save_time", saves.last_save.to_string()),
        (
            "rdb_last_bgsave_status",
            if saves.last_ok { "ok" } else { "err" }.into(),
        ),
        ("rdb_last_bgsave_time_sec", saves.last_seconds.to_string()),
        (
            "rdb_current_bgsave_time_sec",
            saves.current_seconds.to_string(),
        ),
        ("rdb_saves", saves.saves.to_string()),
        ("rdb_last_cow_size", zero()),
        ("rdb_last_load_keys_expired", zero()),
        ("rdb_last_load_keys_loaded", zero()),
        ("aof_enabled", "1".into()),
        ("cairn_fsync", config.fsync.name().into()),
        ("cairn_last_sequence", engine.last_sequence.to_string()),
        ("cairn_dir", config.dir.display().to_string()),
        ("cairn_memtable_bytes", engine.memtable_bytes.to_string()),
        ("cairn_table_bytes", engine.table_bytes.to_string()),
        // Tables per level, level 0 first.
        ("cairn_tables_per_level", tables.join(",")),
        // The commit pipeline's cost model: batches per WAL write is the group commit's
        // group size, batches per fsync what each fsync made durable.
        ("cairn_wal_batches", engine.batches.to_string()),
        ("cairn_wal_writes", engine.wal_writes.to_string()),
        ("cairn_wal_fsyncs", engine.wal_syncs.to_string()),
        ("aof_rewrite_in_progress", zero()),
        ("aof_rewrite_scheduled", zero()),
        ("aof_last_rewrite_time_sec", never()),
        ("aof_current_rewrite_time_sec", never()),
        ("aof_last_bgrewrite_status", "ok".into()),
        ("aof_rewrites", zero()),
        ("aof_rewrites_consecutive_failures", zero()),
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
        ("aof_last_cow_size", zero()),
        ("module_fork_in_progress", zero()),
        ("module_fork_last_cow_size", zero()),
        // The log written since start, over a base of nothing: no file has this size,
        // since flushes delete the segments tables have taken over.
        ("aof_current_size", engine.wal_bytes.to_string()),
        ("aof_base_size", zero()),
        ("aof_pending_rewrite", zero()),
        // A write is in the log before it is acknowledged: nothing waits in a buffer, and
        // an fsync never holds a write back (it holds the reply).
        ("aof_buffer_length", zero()),
        ("aof_pending_bio_fsync", zero()),
        ("aof_delayed_fsync", zero()),
    ]
}

pub(super) fn stats(shared: &Shared) -> Lines {
    let stats = &shared.stats;
    let get = |counter| Stats::get(counter).to_string();
    let commands = Stats::get(&stats.commands_processed);
    let (input, output) = (
        Stats::get(&stats.net_input_bytes),
        Stats::get(&stats.net_output_bytes),
    );
    let [ops, input_rate, output_rate] =
        stats
            .rates
            .lock()
            .sample(shared.started, Instant::now(), [commands, input, output]);
    let zero = || "0".to_string();
    let kbps = |rate: f64| format!("{:.2}", rate / 1024.0);
    vec![
        (
            "total_connections_received",
            get(&stats.connections_received),
        ),
        ("total_commands_processed", commands.to_string()),
        ("instantaneous_ops_per_sec", format!("{ops:.0}")),
        ("total_net_input_bytes", input.to_string()),
        ("total_net_output_bytes", output.to_string()),
        // No replication.
        ("total_net_repl_input_bytes", zero()),
        ("total_net_repl_output_bytes", zero()),
        ("instantaneous_input_kbps", kbps(input_rate)),
        ("instantaneous_output_kbps", kbps(output_rate)),
        ("instantaneous_input_repl_kbps", "0.00".into()),
        ("instantaneous_output_repl_kbps", "0.00".into()),
        ("rejected_connections", get(&stats.rejected_connections)),
        ("sync_full", get(&shared.replication.sync_full)),
        ("sync_partial_ok", get(&shared.replication.sync_partial_ok)),
        (
            "sync_partial_err",
            get(&shared.replication.sync_partial_err),
        ),
        ("expired_keys", get(&stats.expired_keys)),
        // Keys expire when read or written, and leave the disk in compaction: there is no
        // active expiry cycle to sample, cap or time.
        ("expired_stale_perc", "0.00".into()),
        ("expired_time_cap_reached_count", zero()),
        ("expire_cycle_cpu_milliseconds", zero()),
        // No eviction (no maxmemory, no maxmemory-clients).
        ("evicted_keys", zero()),
        ("evicted_clients", zero()),
        ("total_eviction_exceeded_time", zero()),
        ("current_eviction_exceeded_time", zero()),
        ("keyspace_hits", get(&stats.keyspace_hits)),
        ("keyspace_misses", get(&stats.keyspace_misses)),
        // Channels and patterns with a subscriber; Cairn has no sharded pub/sub.
        ("pubsub_channels", shared.pubsub.channel_count().to_string()),
        ("pubsub_patterns", shared.pubsub.pattern_count().to_string()),
        ("pubsubshard_channels", zero()),
        // No forks, no MIGRATE, no replicas, no defragmentation, no CLIENT TRACKING.
        ("latest_fork_usec", zero()),
        ("total_forks", zero()),
        ("migrate_cached_sockets", zero()),
        ("slave_expires_tracked_keys", zero()),
        ("active_defrag_hits", zero()),
        ("active_defrag_misses", zero()),
        ("active_defrag_key_hits", zero()),
        ("active_defrag_key_misses", zero()),
        ("total_active_defrag_time", zero()),
        ("current_active_defrag_time", zero()),
        ("tracking_total_keys", zero()),
        ("tracking_total_items", zero()),
        ("tracking_total_prefixes", zero()),
        // Redis counts errors it sends a primary or reads from its AOF; Cairn has neither.
        ("unexpected_error_replies", zero()),
        ("total_error_replies", stats.errors.total().to_string()),
        // No RESTORE, so no payload to sanitize.
        ("dump_payload_sanitizations", zero()),
        ("total_reads_processed", get(&stats.reads_processed)),
        ("total_writes_processed", get(&stats.writes_processed)),
        ("io_threaded_reads_processed", zero()),
        ("io_threaded_writes_processed", zero()),
        // Redis 7.2's name, at 7.2's place.
        (
            "client_output_buffer_limit_disconnections",
            get(&stats.output_limit_disconnections),
        ),
        // Redis resizes its reply buffers from its cron; Cairn's never are by a policy.
        ("reply_buffer_shrinks", zero()),
        ("reply_buffer_expands", zero()),
    ]
}
