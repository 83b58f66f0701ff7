//! INFO's replication section, with the fields Redis 7 prints, from `server/replication`.
//! Offsets are engine sequence numbers (Cairn's replication offset), not stream bytes.

use std::sync::atomic::Ordering;

use super::Lines;
use crate::server::shared::Shared;

/// Field names of the first replicas listed (Lines' names are static).
const SLAVE_NAMES: [&str; 16] = [
    "slave0", "slave1", "slave2", "slave3", "slave4", "slave5", "slave6", "slave7", "slave8",
    "slave9", "slave10", "slave11", "slave12", "slave13", "slave14", "slave15",
];

/// The replication section.
pub(super) fn replication(shared: &Shared) -> Lines {
    let repl = &shared.replication;
    let state = repl.state();
    let offset = shared.db.get().map_or(0, |db| db.last_sequence());
    let (priority, read_only) = {
        let c = shared.config.read();
        (c.replica_priority, c.replica_read_only)
    };
    let yes_no = |b: bool| if b { "1" } else { "0" }.to_string();
    let mut lines: Lines = Vec::new();
    match &state.primary {
        None => {
            let replicas = repl.replicas();
            lines.push(("role", "master".into()));
            lines.push(("connected_slaves", replicas.len().to_string()));
            for (name, r) in SLAVE_NAMES.iter().zip(&replicas) {
                lines.push((
                    name,
                    format!(
                        "ip={},port={},state={},offset={},lag={}",
                        r.ip,
                        r.port,
                        if r.online { "online" } else { "wait_bgsave" },
                        r.ack,
                        r.last_ack.elapsed().as_secs()
                    ),
                ));
            }
        }
        Some((host, port)) => {
            let link = &state.link;
            let loading = repl.loading.load(Ordering::Relaxed);
            lines.push(("role", "slave".into()));
            lines.push(("master_host", host.clone()));
            lines.push(("master_port", port.to_string()));
            lines.push((
                "master_link_status",
                if link.up { "up" } else { "down" }.into(),
            ));
            lines.push((
                "master_last_io_seconds_ago",
                link.last_io
                    .map_or("-1".into(), |t| t.elapsed().as_secs().to_string()),
            ));
            lines.push((
                "master_sync_in_progress",
                yes_no(link.phase == "sync" || loading),
            ));
            lines.push(("slave_read_repl_offset", offset.to_string()));
            lines.push(("slave_repl_offset", offset.to_string()));
            lines.push(("slave_priority", priority.to_string()));
            lines.push(("slave_read_only", yes_no(read_only)));
            lines.push(("replica_announced", "1".into()));
            lines.push(("connected_slaves", repl.replicas().len().to_string()));
            if !link.up {
                lines.push((
                    "master_link_down_since_seconds",
                    link.down_since.elapsed().as_secs().to_string(),
                ));
            }
        }
    }
    let (first, histlen, size) = repl.backlog.span();
    lines.extend([
        ("master_failover_state", "no-failover".into()),
        ("master_replid", state.replid),
        ("master_replid2", state.replid2),
        ("master_repl_offset", offset.to_string()),
        ("second_repl_offset", state.second_offset.to_string()),
        ("repl_backlog_active", "1".into()),
        ("repl_backlog_size", size.to_string()),
        ("repl_backlog_first_byte_offset", first.to_string()),
        ("repl_backlog_histlen", histlen.to_string()),
    ]);
    lines
}
