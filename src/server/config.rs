//! The server's settings: what `cairn-server`'s flags and TOML file say, with defaults.
//!
//! The binary merges its sources (defaults < `--config` file < flags) into one [`Config`];
//! the server reads it at start and CONFIG GET/SET see and change its live parts.

use std::path::{Path, PathBuf};
use std::str::FromStr;
use std::time::Duration;

use serde::Deserialize;
use tokio::time::Instant;

use crate::storage::SyncPolicy;

/// When the write-ahead log is fsynced, as `--fsync` names it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Fsync {
    /// Before a write is acknowledged (group-committed): nothing acknowledged is lost.
    Always,
    /// Once a second in the background: a machine crash may lose the last second.
    Everysec,
    /// Never by Cairn; the OS writes back when it likes.
    Never,
}

impl Fsync {
    /// The engine policy this names.
    pub fn policy(self) -> SyncPolicy {
        match self {
            Fsync::Always => SyncPolicy::Always,
            Fsync::Everysec => SyncPolicy::EverySecond,
            Fsync::Never => SyncPolicy::Never,
        }
    }

    /// The name used on the command line and by CONFIG GET.
    pub fn name(self) -> &'static str {
        match self {
            Fsync::Always => "always",
            Fsync::Everysec => "everysec",
            Fsync::Never => "never",
        }
    }
}

impl FromStr for Fsync {
    type Err = String;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        match s.to_ascii_lowercase().as_str() {
            "always" => Ok(Fsync::Always),
            "everysec" => Ok(Fsync::Everysec),
            "never" | "no" => Ok(Fsync::Never),
            other => Err(format!(
                "'{other}' is not an fsync policy (always, everysec, never)"
            )),
        }
    }
}

/// Whether TLS clients must present a certificate (`tls-auth-clients`, Redis's values).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum TlsAuthClients {
    /// A client without a certificate signed by `tls-ca-cert-file` is refused (Redis's
    /// default).
    Yes,
    /// Any client is accepted; a certificate it presents must still be valid.
    Optional,
    /// No client certificate is asked for.
    No,
}

impl TlsAuthClients {
    /// The name used on the command line, in TOML and by CONFIG GET.
    pub fn name(self) -> &'static str {
        match self {
            TlsAuthClients::Yes => "yes",
            TlsAuthClients::Optional => "optional",
            TlsAuthClients::No => "no",
        }
    }
}

impl FromStr for TlsAuthClients {
    type Err = String;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        match s.to_ascii_lowercase().as_str() {
            "yes" => Ok(TlsAuthClients::Yes),
            "optional" => Ok(TlsAuthClients::Optional),
            "no" => Ok(TlsAuthClients::No),
            other => Err(format!("'{other}' is not yes, optional or no")),
        }
    }
}

/// One class's `client-output-buffer-limit`: a client whose unsent replies pass `hard`
/// bytes, or stay past `soft` bytes for more than `soft_seconds`, is disconnected. 0 turns a
/// limit off.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct OutputLimit {
    /// Bytes of unsent replies that disconnect at once.
    pub hard: u64,
    /// Bytes of unsent replies a client may hold for at most `soft_seconds`.
    pub soft: u64,
    /// How long a client may stay past `soft`.
    pub soft_seconds: u64,
}

impl OutputLimit {
    /// Whether either limit is set.
    pub fn is_set(&self) -> bool {
        self.hard > 0 || self.soft > 0
    }

    /// Whether a client holding `bytes` of output it has not taken is past this limit at
    /// `now`: past `hard`, or past `soft` for `soft_seconds` on end. `over_soft_since` is
    /// the caller's record of when the output went past `soft`, kept from one judgement to
    /// the next and updated here.
    pub fn is_over(&self, bytes: u64, over_soft_since: &mut Option<Instant>, now: Instant) -> bool {
        if self.hard > 0 && bytes > self.hard {
            return true;
        }
        if self.soft == 0 || bytes <= self.soft {
            *over_soft_since = None;
            return false;
        }
        let since = *over_soft_since.get_or_insert(now);
        // CONFIG SET may give any number of seconds: one past the clock's range is a
        // deadline never reached.
        since
            .checked_add(Duration::from_secs(self.soft_seconds))
            .is_some_and(|deadline| now >= deadline)
    }
}

/// `client-output-buffer-limit`, in Redis's syntax and with its defaults: `normal 0 0 0
/// replica 256mb 64mb 60 pubsub 32mb 8mb 60`.
///
/// Each class is judged on what its clients have not taken: `normal` on a connection's
/// unsent replies and its socket's queue, `pubsub` on a subscriber's queued messages (and,
/// as it writes them, on its unsent output and socket's queue), `replica` on a replica
/// link's unsent stream, its socket's queue and the backlog's batches the link has not
/// reached yet.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct OutputLimits {
    /// Ordinary clients.
    pub normal: OutputLimit,
    /// Replica links (`slave` in Redis's older spelling).
    pub replica: OutputLimit,
    /// Clients subscribed to pub/sub channels.
    pub pubsub: OutputLimit,
}

impl Default for OutputLimits {
    fn default() -> Self {
        const MB: u64 = 1024 * 1024;
        let limit = |hard, soft, soft_seconds| OutputLimit {
            hard,
            soft,
            soft_seconds,
        };
        OutputLimits {
            normal: limit(0, 0, 0),
            replica: limit(256 * MB, 64 * MB, 60),
            pubsub: limit(32 * MB, 8 * MB, 60),
        }
    }
}

impl OutputLimits {
    /// Applies a setting of one or more `class hard soft soft-seconds` groups; the classes it
    /// does not name keep their limits. Nothing changes when any group is bad; the errors
    /// are Redis's.
    pub fn apply(&mut self, text: &str) -> Result<(), String> {
        let words: Vec<&str> = text.split_whitespace().collect();
        if words.is_empty() || !words.len().is_multiple_of(4) {
            return Err("Wrong number of arguments in buffer limit configuration.".into());
        }
        let mut next = *self;
        for group in words.chunks(4) {
            let class = match group[0].to_ascii_lowercase().as_str() {
                "normal" => &mut next.normal,
                "replica" | "slave" => &mut next.replica,
                "pubsub" => &mut next.pubsub,
                _ => {
                    return Err(
                        "Invalid client class specified in buffer limit configuration.".into(),
                    )
                }
            };
            let bad =
                || "Error in hard, soft or soft_seconds setting in buffer limit configuration.";
            *class = OutputLimit {
                hard: parse_memory(group[1]).ok_or_else(bad)?,
                soft: parse_memory(group[2]).ok_or_else(bad)?,
                soft_seconds: group[3].parse().map_err(|_| bad())?,
            };
        }
        *self = next;
        Ok(())
    }

    /// The setting as CONFIG GET prints it: bytes, and Redis's `slave` for replicas.
    pub fn render(&self) -> String {
        let group = |name: &str, l: &OutputLimit| {
            format!("{name} {} {} {}", l.hard, l.soft, l.soft_seconds)
        };
        format!(
            "{} {} {}",
            group("normal", &self.normal),
            group("slave", &self.replica),
            group("pubsub", &self.pubsub)
        )
    }
}

impl FromStr for OutputLimits {
    type Err = String;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        let mut limits = OutputLimits::default();
        limits.apply(s)?;
        Ok(limits)
    }
}

impl<'de> Deserialize<'de> for OutputLimits {
    fn deserialize<D: serde::Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        let text = String::deserialize(deserializer)?;
        text.parse().map_err(serde::de::Error::custom)
    }
}

/// A memory size as Redis writes it: bytes, or a number with `k`/`m`/`g` (powers of 1000)
/// or `kb`/`mb`/`gb` (powers of 1024), in any case.
pub fn parse_memory(text: &str) -> Option<u64> {
    let lower = text.to_ascii_lowercase();
    let split = lower
        .find(|c: char| !c.is_ascii_digit())
        .unwrap_or(lower.len());
    let (digits, unit) = lower.split_at(split);
    let multiplier: u64 = match unit {
        "" | "b" => 1,
        "k" => 1000,
        "kb" => 1024,
        "m" => 1000 * 1000,
        "mb" => 1024 * 1024,
        "g" => 1000 * 1000 * 1000,
        "gb" => 1024 * 1024 * 1024,
        _ => return None,
    };
    digits.parse::<u64>().ok()?.checked_mul(multiplier)
}

/// Everything the server is configured with. Field names are the TOML keys (kebab-case).
// A list of settings, each a yes/no of its own: not a state machine in disguise.
#[allow(clippy::struct_excessive_bools)]
#[derive(Debug, Clone, Deserialize)]
#[serde(default, deny_unknown_fields, rename_all = "kebab-case")]
pub struct Config {
    /// Address to listen on.
    pub bind: String,
    /// TCP port for plaintext clients; 0 picks a free one (the chosen port is printed), or,
    /// when `tls-port` is set, means no plaintext listener at all (as in Redis).
    pub port: u16,
    /// TCP port for TLS clients; `None` = no TLS. 0 picks a free one.
    pub tls_port: Option<u16>,
    /// PEM certificate chain the server presents (leaf first).
    pub tls_cert_file: Option<PathBuf>,
    /// PEM private key of that certificate.
    pub tls_key_file: Option<PathBuf>,
    /// PEM CA certificates client certificates must chain to.
    pub tls_ca_cert_file: Option<PathBuf>,
    /// Whether TLS clients must present a certificate.
    pub tls_auth_clients: TlsAuthClients,
    /// A replica connects to its primary over TLS, checking the primary's certificate
    /// against `tls-ca-cert-file` and the `replicaof` host, and presenting
    /// `tls-client-cert-file` (or else `tls-cert-file`) when asked for one; it announces its
    /// TLS port.
    pub tls_replication: bool,
    /// PEM certificate chain this server presents when it is a TLS client (a replica's
    /// link); `None`: `tls-cert-file`, which must then allow client authentication.
    pub tls_client_cert_file: Option<PathBuf>,
    /// PEM private key of `tls-client-cert-file`.
    pub tls_client_key_file: Option<PathBuf>,
    /// Longest a TLS handshake may take before the connection is closed, in milliseconds.
    pub tls_handshake_timeout_ms: u64,
    /// Data directory.
    pub dir: PathBuf,
    /// Numbered databases clients may SELECT (0 to `databases - 1`; at most 256).
    pub databases: usize,
    /// WAL fsync policy.
    pub fsync: Fsync,
    /// Password clients must AUTH with; `None` = no authentication.
    pub requirepass: Option<String>,
    /// Most clients connected at once; more are refused with an error.
    pub maxclients: usize,
    /// Connections the kernel queues for the listener before they are accepted (`listen`'s
    /// backlog; the kernel caps it at `net.core.somaxconn`). Past it, a client's SYN is
    /// dropped and it retries a second later: a burst of connections needs room here.
    pub tcp_backlog: u32,
    /// Close a client idle this many seconds; 0 = never.
    pub timeout: u64,
    /// When a client that does not read its replies is disconnected.
    pub client_output_buffer_limit: OutputLimits,
    /// Turn transparent huge pages off for the process, as Redis does by default: they
    /// cost each new connection a fresh 2 MiB page (src/server/process.rs).
    pub disable_thp: bool,
    /// tracing filter, e.g. `info` or `cairn=debug`.
    pub log_level: String,
    /// Worker threads serving connections; 0 = half the cores (at least one), leaving the
    /// rest to the engine's background threads, the kernel's network work and, on a small
    /// machine, the clients.
    pub threads: usize,
    /// Largest memtable before it is flushed to a table, in bytes.
    pub memtable_bytes: usize,
    /// Cluster mode: this node serves the slots the cluster map gives it and redirects
    /// requests for other slots.
    pub cluster_enabled: bool,
    /// The cluster map file (the same on every node); `None` = `cluster.conf` in `dir`.
    pub cluster_config_file: Option<PathBuf>,
    /// This node's id in the map; `None` = the node whose address is this one's.
    pub cluster_node_id: Option<String>,
    /// The IP this node has in the map, when it is not the bound address.
    pub cluster_announce_ip: Option<String>,
    /// The primary this server replicates, as `"host port"`; `None`: it is a primary.
    /// REPLICAOF changes it, CONFIG REWRITE writes it back to the `--config` file.
    pub replicaof: Option<String>,
    /// The password a replica AUTHs with at its primary.
    pub masterauth: Option<String>,
    /// Sentinel promotes the replica with the lowest non-zero priority first; 0: never.
    pub replica_priority: u32,
    /// The IP a replica tells its primary to announce for it.
    pub replica_announce_ip: Option<String>,
    /// The port a replica tells its primary to announce for it; 0: the one it listens on.
    pub replica_announce_port: u16,
    /// Whether a replica refuses writes from clients (-READONLY).
    pub replica_read_only: bool,
    /// Writes are refused (-NOREPLICAS) unless this many replicas are connected with a
    /// lag of at most `min-replicas-max-lag` seconds; 0: no such check.
    pub min_replicas_to_write: u32,
    /// See `min-replicas-to-write`.
    pub min_replicas_max_lag: u64,
    /// Bytes of recent batches kept for replicas that reconnect (partial resync).
    pub repl_backlog_size: u64,
    /// Where BGSAVE and SAVE write their checkpoints; `None` = `checkpoints` in `dir`.
    pub checkpoint_dir: Option<PathBuf>,
    /// The file these settings were read from, if any (INFO server's `config_file`). Not a
    /// setting: the binary that read the file sets it.
    #[serde(skip)]
    pub config_file: Option<PathBuf>,
    /// The global allocator's name (INFO memory's `mem_allocator`). Not a setting: the
    /// binary that chose the allocator sets it; empty means the system's (`libc`).
    #[serde(skip)]
    pub allocator: &'static str,
}

impl Default for Config {
    fn default() -> Self {
        Config {
            bind: "127.0.0.1".into(),
            port: 7379,
            tls_port: None,
            tls_cert_file: None,
            tls_key_file: None,
            tls_ca_cert_file: None,
            tls_auth_clients: TlsAuthClients::Yes,
            tls_replication: false,
            tls_client_cert_file: None,
            tls_client_key_file: None,
            tls_handshake_timeout_ms: 10_000,
            dir: PathBuf::from("./cairn-data"),
            databases: 16,
            fsync: Fsync::Always,
            requirepass: None,
            maxclients: 10_000,
            tcp_backlog: 511,
            timeout: 0,
            client_output_buffer_limit: OutputLimits::default(),
            disable_thp: true,
            log_level: "info".into(),
            threads: 0,
            memtable_bytes: crate::storage::Options::default().memtable_bytes,
            cluster_enabled: false,
            cluster_config_file: None,
            cluster_node_id: None,
            cluster_announce_ip: None,
            replicaof: None,
            masterauth: None,
            replica_priority: 100,
            replica_announce_ip: None,
            replica_announce_port: 0,
            replica_read_only: true,
            min_replicas_to_write: 0,
            min_replicas_max_lag: 10,
            repl_backlog_size: 64 << 20,
            checkpoint_dir: None,
            config_file: None,
            allocator: "",
        }
    }
}

impl Config {
    /// Reads a TOML file of settings; missing keys keep their defaults.
    pub fn from_toml(text: &str) -> Result<Config, toml::de::Error> {
        toml::from_str(text)
    }

    /// The settings that change while the server runs (CONFIG SET, REPLICAOF), by TOML key,
    /// as CONFIG REWRITE writes them; `None`: unset, the key is removed.
    fn live_settings(&self) -> Vec<(&'static str, Option<toml_edit::Value>)> {
        let text = |s: &Option<String>| s.as_deref().map(toml_edit::Value::from);
        let int = |n: u64| Some(toml_edit::Value::from(i64::try_from(n).unwrap_or(i64::MAX)));
        vec![
            ("replicaof", text(&self.replicaof)),
            ("masterauth", text(&self.masterauth)),
            ("requirepass", text(&self.requirepass)),
            ("maxclients", int(self.maxclients as u64)),
            ("timeout", int(self.timeout)),
            (
                "client-output-buffer-limit",
                Some(self.client_output_buffer_limit.render().into()),
            ),
            ("replica-priority", int(u64::from(self.replica_priority))),
            ("replica-announce-ip", text(&self.replica_announce_ip)),
            (
                "replica-announce-port",
                int(u64::from(self.replica_announce_port)),
            ),
            ("replica-read-only", Some(self.replica_read_only.into())),
            (
                "min-replicas-to-write",
                int(u64::from(self.min_replicas_to_write)),
            ),
            ("min-replicas-max-lag", int(self.min_replicas_max_lag)),
        ]
    }

    /// CONFIG REWRITE: the TOML file at `path` with its live settings set to this config's
    /// (comments, order and every other key kept; a setting still at its default and not
    /// in the file is not added), written to a temporary file, synced and renamed over it,
    /// so a crash leaves the old file or the new one.
    pub fn rewrite(&self, path: &Path) -> Result<(), String> {
        let text = std::fs::read_to_string(path)
            .map_err(|e| format!("cannot read {}: {e}", path.display()))?;
        let mut file: toml_edit::DocumentMut = text
            .parse()
            .map_err(|e| format!("cannot parse {}: {e}", path.display()))?;
        let defaults = Config::default().live_settings();
        for ((key, value), (_, default)) in self.live_settings().into_iter().zip(defaults) {
            let Some(value) = value else {
                file.remove(key);
                continue;
            };
            match file.get_mut(key).and_then(toml_edit::Item::as_value_mut) {
                Some(old) => {
                    // Keep the comment before the key and after its value.
                    let decor = old.decor().clone();
                    *old = value;
                    *old.decor_mut() = decor;
                }
                None if default.as_ref().map(toml_edit::Value::to_string)
                    == Some(value.to_string()) => {}
                None => {
                    file.insert(key, toml_edit::Item::Value(value));
                }
            }
        }
        let temporary = path.with_file_name(format!(
            ".{}.rewrite",
            path.file_name()
                .map_or_else(String::new, |n| n.to_string_lossy().into_owned())
        ));
        let write = || -> std::io::Result<()> {
            let mut out = std::fs::File::create(&temporary)?;
            std::io::Write::write_all(&mut out, file.to_string().as_bytes())?;
            out.sync_all()?;
            std::fs::rename(&temporary, path)?;
            if let Some(dir) = path.parent().filter(|d| !d.as_os_str().is_empty()) {
                std::fs::File::open(dir)?.sync_all()?;
            }
            Ok(())
        };
        write().map_err(|e| format!("cannot write {}: {e}", path.display()))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn toml_overrides_defaults_and_rejects_unknown_keys() {
        let config = Config::from_toml("port = 6000\nfsync = \"everysec\"\n").unwrap();
        assert_eq!(config.port, 6000);
        assert_eq!(config.fsync, Fsync::Everysec);
        assert_eq!(config.bind, "127.0.0.1");
        assert!(Config::from_toml("prot = 1").is_err());
    }

    #[test]
    fn output_limits_parse_as_redis_does() {
        let mut limits = OutputLimits::default();
        assert_eq!(
            limits.render(),
            "normal 0 0 0 slave 268435456 67108864 60 pubsub 33554432 8388608 60"
        );
        limits.apply("normal 1k 1KB 1 replica 1g 1 1").unwrap();
        assert_eq!(
            limits.render(),
            "normal 1000 1024 1 slave 1000000000 1 1 pubsub 33554432 8388608 60"
        );
        let before = limits;
        for (bad, error) in [
            ("normal 1mb 512kb", "Wrong number"),
            ("", "Wrong number"),
            ("bogus 1 1 1", "Invalid client class"),
            ("normal 1 1 1 pubsub 1x 1 1", "Error in hard"),
            ("normal 1 1 -1", "Error in hard"),
        ] {
            assert!(limits.apply(bad).unwrap_err().starts_with(error), "{bad}");
        }
        assert_eq!(limits, before, "a bad setting changes nothing");
        let config =
            Config::from_toml("client-output-buffer-limit = \"normal 8mb 2mb 5\"\n").unwrap();
        assert_eq!(config.client_output_buffer_limit.normal.hard, 8 << 20);
        assert_eq!(parse_memory("18446744073709551615gb"), None);
    }

    #[test]
    fn an_output_limit_ends_a_client_past_hard_or_past_soft_for_its_seconds() {
        let limit = OutputLimit {
            hard: 100,
            soft: 10,
            soft_seconds: 2,
        };
        let start = Instant::now();
        let at = |secs| start + Duration::from_secs(secs);
        let mut since = None;
        assert!(limit.is_over(101, &mut since, at(0)), "past hard at once");
        assert!(!limit.is_over(50, &mut since, at(0)));
        assert!(
            !limit.is_over(50, &mut since, at(1)),
            "past soft for 1 s of 2"
        );
        assert!(!limit.is_over(5, &mut since, at(2)), "back under soft");
        assert_eq!(since, None, "which starts the clock again");
        assert!(!limit.is_over(50, &mut since, at(3)));
        assert!(limit.is_over(50, &mut since, at(5)), "past soft for 2 s");
        let forever = OutputLimit {
            soft_seconds: u64::MAX,
            ..limit
        };
        let mut since = None;
        assert!(!forever.is_over(50, &mut since, at(0)));
        assert!(
            !forever.is_over(50, &mut since, at(9)),
            "a deadline past the clock"
        );
        let unset = OutputLimit {
            hard: 0,
            soft: 0,
            soft_seconds: 0,
        };
        assert!(!unset.is_set() && !unset.is_over(u64::MAX, &mut None, at(0)));
    }

    #[test]
    fn fsync_names_parse() {
        assert_eq!("EverySec".parse::<Fsync>(), Ok(Fsync::Everysec));
        assert!("sometimes".parse::<Fsync>().is_err());
    }

    #[test]
    fn rewrite_sets_the_live_settings_and_keeps_the_rest_of_the_file() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("cairn.toml");
        let original = "# the port clients use\nport = 6000 # fixed\nreplica-priority = 10\n";
        std::fs::write(&path, original).unwrap();
        let mut config = Config::from_toml(original).unwrap();
        config.replicaof = Some("10.0.0.1 6379".into());
        config.replica_priority = 5;
        config.rewrite(&path).unwrap();
        let text = std::fs::read_to_string(&path).unwrap();
        assert!(
            text.starts_with("# the port clients use\nport = 6000 # fixed\n"),
            "{text}"
        );
        let read = Config::from_toml(&text).unwrap();
        assert_eq!(read.replicaof.as_deref(), Some("10.0.0.1 6379"));
        assert_eq!((read.port, read.replica_priority), (6000, 5));
        // Settings at their defaults are not added; REPLICAOF NO ONE removes the key.
        assert!(!text.contains("maxclients"), "{text}");
        config.replicaof = None;
        config.rewrite(&path).unwrap();
        let read = Config::from_toml(&std::fs::read_to_string(&path).unwrap()).unwrap();
        assert_eq!(read.replicaof, None);
        assert_eq!(
            std::fs::read_dir(dir.path()).unwrap().count(),
            1,
            "no temporary left"
        );
    }
}
