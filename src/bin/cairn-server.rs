//! `cairn-server`: the Cairn database server.
//!
//! Settings come from defaults, then an optional TOML file (`--config`), then flags, each
//! overriding the one before. The server prints the address it listens on (useful with
//! `--port 0`), stops on SIGINT/SIGTERM or SHUTDOWN after finishing in-flight requests and
//! syncing the data, and exits non-zero with one clear line when it cannot start.
//!
//! It owns settings, logging, the allocator and signals; it never serves a request itself:
//! listening, connections and commands are `cairn::server`'s.

use std::path::PathBuf;

use anyhow::Context;
use clap::Parser;

use cairn::server::{Config, Fsync, Server, TlsAuthClients};

/// mimalloc rather than glibc's malloc: the server allocates and frees small buffers on every
/// request, and glibc's per-thread arenas kept growing and trimming their heaps with
/// `mprotect`/`munmap` system calls, often enough to show in the request rate (the strace
/// count is in docs/benchmarks.md, "Figures moved out of code comments").
#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;

/// Flags; each one given overrides the config file and the default.
#[derive(Debug, Parser)]
#[command(
    name = "cairn-server",
    version,
    about = "The Cairn key-value database server"
)]
struct Args {
    /// TOML file of settings (keys as the long flags: port, fsync, log-level, ...).
    #[arg(long, value_name = "FILE")]
    config: Option<PathBuf>,
    /// Address to listen on [default: 127.0.0.1].
    #[arg(long)]
    bind: Option<String>,
    /// TCP port; 0 picks a free one, or with --tls-port turns plaintext off [default: 7379].
    #[arg(long)]
    port: Option<u16>,
    /// TCP port for TLS clients (needs --tls-cert-file and --tls-key-file); 0 picks a free one.
    #[arg(long, value_name = "PORT")]
    tls_port: Option<u16>,
    /// PEM certificate chain the server presents.
    #[arg(long, value_name = "FILE")]
    tls_cert_file: Option<PathBuf>,
    /// PEM private key of that certificate.
    #[arg(long, value_name = "FILE")]
    tls_key_file: Option<PathBuf>,
    /// PEM CA certificates that client certificates must chain to.
    #[arg(long, value_name = "FILE")]
    tls_ca_cert_file: Option<PathBuf>,
    /// Client certificates: yes (required), optional, or no [default: yes].
    #[arg(long, value_name = "yes|optional|no")]
    tls_auth_clients: Option<TlsAuthClients>,
    /// Replicas connect to their primary over TLS: yes or no [default: no].
    #[arg(long, value_name = "yes|no", value_parser = yes_no)]
    tls_replication: Option<bool>,
    /// PEM certificate chain presented as a TLS client (a replica's link) [default: the
    /// --tls-cert-file].
    #[arg(long, value_name = "FILE")]
    tls_client_cert_file: Option<PathBuf>,
    /// PEM private key of that certificate [default: the --tls-key-file].
    #[arg(long, value_name = "FILE")]
    tls_client_key_file: Option<PathBuf>,
    /// Data directory [default: ./cairn-data].
    #[arg(long)]
    dir: Option<PathBuf>,
    /// When to fsync the write-ahead log: always, everysec or never [default: always].
    #[arg(long, value_name = "POLICY")]
    fsync: Option<Fsync>,
    /// Numbered databases clients may SELECT, 1 to 256 [default: 16].
    #[arg(long)]
    databases: Option<usize>,
    /// Require clients to AUTH with this password.
    #[arg(long)]
    requirepass: Option<String>,
    /// Most clients connected at once [default: 10000].
    #[arg(long)]
    maxclients: Option<usize>,
    /// Connections queued for accepting, as listen(2)'s backlog [default: 511].
    #[arg(long)]
    tcp_backlog: Option<u32>,
    /// Close clients idle this many seconds; 0 = never [default: 0].
    #[arg(long)]
    timeout: Option<u64>,
    /// When a client that does not read its replies is disconnected, in Redis's syntax
    /// [default: "normal 0 0 0 replica 256mb 64mb 60 pubsub 32mb 8mb 60"].
    #[arg(long, value_name = "CLASS HARD SOFT SECONDS")]
    client_output_buffer_limit: Option<String>,
    /// Log filter: error, warn, info, debug, trace, or a tracing directive [default: info].
    #[arg(long)]
    log_level: Option<String>,
    /// Worker threads serving connections; 0 = half the cores, at least one [default: 0].
    #[arg(long)]
    threads: Option<usize>,
    /// Cluster mode: serve the slots the cluster map gives this node: yes or no [default: no].
    #[arg(long, value_name = "yes|no", value_parser = yes_no)]
    cluster_enabled: Option<bool>,
    /// Where BGSAVE and SAVE write their checkpoints (online backups), on the data's file
    /// system so that tables are hard-linked [default: DIR/checkpoints].
    #[arg(long, value_name = "DIR")]
    checkpoint_dir: Option<PathBuf>,
    /// The cluster map file, the same on every node [default: DIR/cluster.conf].
    #[arg(long, value_name = "FILE")]
    cluster_config_file: Option<PathBuf>,
    /// This node's id in the cluster map (40 hex characters) [default: the node at this
    /// node's address].
    #[arg(long, value_name = "ID")]
    cluster_node_id: Option<String>,
    /// The IP this node has in the cluster map, when it is not the --bind address.
    #[arg(long, value_name = "IP")]
    cluster_announce_ip: Option<String>,
    /// Follow this primary: "HOST PORT" [default: none, a primary].
    #[arg(long, value_name = "HOST PORT")]
    replicaof: Option<String>,
}

impl Args {
    /// Defaults, overridden by the config file, overridden by flags.
    fn into_config(self) -> anyhow::Result<Config> {
        let mut config = match &self.config {
            Some(path) => {
                let text = std::fs::read_to_string(path)
                    .with_context(|| format!("cannot read config file {}", path.display()))?;
                Config::from_toml(&text)
                    .with_context(|| format!("bad config file {}", path.display()))?
            }
            None => Config::default(),
        };
        config.config_file = self
            .config
            .as_ref()
            .map(|path| std::fs::canonicalize(path).unwrap_or_else(|_| path.clone()));
        config.allocator = "mimalloc";
        macro_rules! take {
            ($($field:ident),*) => { $( if let Some(v) = self.$field { config.$field = v; } )* };
        }
        take!(
            bind,
            port,
            dir,
            databases,
            fsync,
            maxclients,
            tcp_backlog,
            timeout,
            log_level,
            threads
        );
        take!(tls_auth_clients, tls_replication, cluster_enabled);
        macro_rules! take_some {
            ($($field:ident),*) => { $( if self.$field.is_some() { config.$field = self.$field; } )* };
        }
        take_some!(tls_port, tls_cert_file, tls_key_file, tls_ca_cert_file);
        take_some!(tls_client_cert_file, tls_client_key_file);
        take_some!(cluster_config_file, cluster_node_id, cluster_announce_ip);
        take_some!(replicaof, checkpoint_dir);
        if let Some(text) = &self.client_output_buffer_limit {
            config
                .client_output_buffer_limit
                .apply(text)
                .map_err(|e| anyhow::anyhow!("--client-output-buffer-limit: {e}"))?;
        }
        if self.requirepass.is_some() {
            config.requirepass = self.requirepass;
        }
        Ok(config)
    }
}

/// Redis's spelling of a boolean setting.
fn yes_no(value: &str) -> Result<bool, String> {
    match value.to_ascii_lowercase().as_str() {
        "yes" => Ok(true),
        "no" => Ok(false),
        other => Err(format!("'{other}' is not yes or no")),
    }
}

fn main() {
    if let Err(error) = run() {
        eprintln!("cairn-server: {}", report(&error));
        std::process::exit(1);
    }
}

/// The error and its causes on one line, each cause once: the server's errors already say
/// their cause (`cannot listen on ADDR: Address in use`), which anyhow's `{:#}` would repeat.
fn report(error: &anyhow::Error) -> String {
    let mut text = error.to_string();
    for cause in error.chain().skip(1) {
        let cause = cause.to_string();
        if !text.contains(&cause) {
            text = format!("{text}: {cause}");
        }
    }
    text
}

fn run() -> anyhow::Result<()> {
    let config = Args::parse().into_config()?;
    tracing_subscriber::fmt()
        .with_env_filter(
            tracing_subscriber::EnvFilter::try_new(&config.log_level)
                .with_context(|| format!("bad --log-level '{}'", config.log_level))?,
        )
        .with_writer(std::io::stderr)
        .init();
    // This runtime only accepts and handles signals; connections run on the server's
    // worker threads (`--threads`).
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .context("cannot start the runtime")?;
    runtime.block_on(serve(config))
}

async fn serve(config: Config) -> anyhow::Result<()> {
    let fsync = config.fsync;
    let dir = config.dir.clone();
    let server = Server::bind(config).await?;
    // Tests and scripts read these lines to learn the ports.
    if let Some(addr) = server.plain_addr() {
        println!("cairn-server listening on {addr}");
    }
    if let Some(addr) = server.tls_addr() {
        println!("cairn-server listening on {addr} (tls)");
    }
    let (plain, tls) = (server.plain_addr(), server.tls_addr());
    tracing::info!(?plain, ?tls, dir = %dir.display(), fsync = fsync.name(), "ready");
    let stop = server.stop_handle();
    tokio::spawn(async move {
        wait_for_signal().await;
        tracing::info!("signal received");
        stop.stop();
    });
    server.run().await?;
    Ok(())
}

async fn wait_for_signal() {
    use tokio::signal::unix::{signal, SignalKind};
    match signal(SignalKind::terminate()) {
        Ok(mut term) => {
            tokio::select! {
                _ = tokio::signal::ctrl_c() => {}
                _ = term.recv() => {}
            }
        }
        Err(error) => {
            tracing::warn!(%error, "cannot listen for SIGTERM; only SIGINT stops the server");
            let _ = tokio::signal::ctrl_c().await;
        }
    }
}
