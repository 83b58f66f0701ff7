//! A replica's link to its primary: connect, handshake (`PING`, `AUTH`, `REPLCONF
//! listening-port`/`capa`, `PSYNC replid next-seq`), load a full sync when the primary
//! sends one, then apply every `CAIRN.BATCH` of the stream at the primary's sequence
//! numbers and acknowledge (`REPLCONF ACK <seq>`) each second and on `GETACK`. A broken
//! link is retried each second for as long as this server follows the same primary.
//! Under `tls-replication` the link is a TLS client of the primary's TLS port.
//!
//! The map of swapped databases is kept in memory as well as under its engine key: it is
//! reloaded after a batch that rewrote that key (the primary's SWAPDB) and after a full
//! sync, which must also bring data in the key format this server reads.
//!
//! A full sync is received into `sync.incoming.tmp/` beside the data, renamed to
//! `sync.incoming/` once whole (with the replication id in it), and put in place of the
//! data while commands are answered -LOADING; a crash in between is finished at the next
//! start ([`finish_restore`]).

use std::path::{Path, PathBuf};
use std::sync::atomic::Ordering;
use std::sync::Arc;
use std::time::{Duration, Instant};

use bytes::{Buf, Bytes, BytesMut};
use tokio::io::{AsyncRead, AsyncReadExt, AsyncWrite, AsyncWriteExt};
use tokio::net::TcpStream;
use tokio_rustls::TlsConnector;

use super::{engine_options, snapshot, write_id};
use crate::protocol::{resp, Limits, Reply};
use crate::server::layout;
use crate::server::shared::Shared;
use crate::storage::{restore_checkpoint, Db, WriteBatch, MAX_BATCH_BYTES};
use crate::tls::{self, TlsError, TlsOptions};

const INCOMING: &str = "sync.incoming";
const INCOMING_TMP: &str = "sync.incoming.tmp";

/// Why a link ended.
#[derive(Debug, thiserror::Error)]
enum LinkError {
    #[error("I/O: {0}")]
    Io(#[from] std::io::Error),
    #[error("TLS: {0}")]
    Tls(#[from] TlsError),
    #[error("primary said: {0}")]
    Refused(String),
    #[error("protocol: {0}")]
    Protocol(String),
    #[error("storage: {0}")]
    Storage(#[from] crate::storage::Error),
    #[error("the primary's data: {0}")]
    Data(String),
    #[error("replication was reconfigured")]
    Superseded,
}

/// Finishes a full sync a crash interrupted (before the engine opens), and clears a
/// partial download.
pub(crate) fn finish_restore(dir: &Path) -> crate::storage::Result<()> {
    let _ = std::fs::remove_dir_all(dir.join(INCOMING_TMP));
    let incoming = dir.join(INCOMING);
    if incoming.exists() {
        tracing::info!("finishing an interrupted full sync");
        restore_checkpoint(&incoming, dir)?;
    }
    Ok(())
}

/// Starts following the primary the state names, for the current generation.
pub(crate) fn start(shared: &Arc<Shared>) {
    let generation = shared.replication.generation.load(Ordering::SeqCst);
    let shared = shared.clone();
    tokio::spawn(async move {
        loop {
            let Some((host, port)) = shared.replication.state().primary else {
                return;
            };
            if shared.replication.generation.load(Ordering::SeqCst) != generation {
                return;
            }
            match follow(&shared, generation, &host, port).await {
                Err(LinkError::Superseded) => return,
                Err(error) => tracing::warn!(%host, port, %error, "link to primary lost"),
                Ok(()) => {}
            }
            shared.replication.update(|s| {
                if s.link.up {
                    s.link.down_since = Instant::now();
                }
                s.link.up = false;
                s.link.phase = "connect";
            });
            tokio::select! {
                () = tokio::time::sleep(Duration::from_secs(1)) => {}
                () = shared.shutdown.wait() => return,
            }
        }
    });
}

/// The link's halves, of a plaintext or a TLS stream alike.
type Reader = Box<dyn AsyncRead + Send + Unpin>;
type Writer = Box<dyn AsyncWrite + Send + Unpin>;

struct Wire {
    rd: Reader,
    wr: Writer,
    buf: BytesMut,
    limits: Limits,
}

impl Wire {
    async fn send(&mut self, args: &[&[u8]]) -> std::io::Result<()> {
        let mut out = BytesMut::new();
        resp::encode_request(args, &mut out);
        self.wr.write_all(&out).await
    }

    async fn reply(&mut self) -> Result<Reply, LinkError> {
        loop {
            match resp::parse_reply(&mut self.buf, &self.limits) {
                Ok(Some(reply)) => return Ok(reply),
                Ok(None) => {}
                Err(e) => return Err(LinkError::Protocol(e.to_string())),
            }
            if self.rd.read_buf(&mut self.buf).await? == 0 {
                return Err(std::io::Error::from(std::io::ErrorKind::UnexpectedEof).into());
            }
        }
    }

    /// One line (without CRLF), skipping the bare newlines a primary sends while it
    /// prepares a snapshot.
    async fn line(&mut self) -> Result<String, LinkError> {
        loop {
            while self.buf.first() == Some(&b'\n') {
                self.buf.advance(1);
            }
            if let Some(end) = self.buf.windows(2).position(|w| w == b"\r\n") {
                let line = String::from_utf8_lossy(&self.buf[..end]).into_owned();
                self.buf.advance(end + 2);
                return Ok(line);
            }
            if self.buf.len() > 64 * 1024 {
                return Err(LinkError::Protocol("status line too long".into()));
            }
            if self.rd.read_buf(&mut self.buf).await? == 0 {
                return Err(std::io::Error::from(std::io::ErrorKind::UnexpectedEof).into());
            }
        }
    }
}

/// The two halves of a connection to the primary: plaintext, or TLS under
/// `tls-replication`, the primary's certificate checked against `tls-ca-cert-file` and
/// `host`. Every file is read at each connect, so replaced files are picked up.
async fn connect(shared: &Shared, host: &str, port: u16) -> Result<(Reader, Writer), LinkError> {
    let timed_out = || std::io::Error::from(std::io::ErrorKind::TimedOut);
    let tcp = tokio::time::timeout(Duration::from_secs(5), TcpStream::connect((host, port)))
        .await
        .map_err(|_| timed_out())??;
    let _ = tcp.set_nodelay(true);
    let (tls, handshake) = {
        let c = shared.config.read();
        (
            c.tls_replication.then(|| tls_options(&c)),
            Duration::from_millis(c.tls_handshake_timeout_ms),
        )
    };
    let Some(options) = tls else {
        let (rd, wr) = tcp.into_split();
        return Ok((Box::new(rd), Box::new(wr)));
    };
    let options = options?;
    let name = tls::server_name(&options, &format!("{host}:{port}"))?;
    let connector = TlsConnector::from(tls::client_config(&options)?);
    let stream = tokio::time::timeout(handshake, connector.connect(name, tcp))
        .await
        .map_err(|_| timed_out())??;
    let (rd, wr) = tokio::io::split(stream);
    Ok((Box::new(rd), Box::new(wr)))
}

/// The TLS client settings of a replica's link: Redis's `tls-client-cert-file` and key,
/// or else the server's own certificate and key.
fn tls_options(config: &crate::server::Config) -> Result<TlsOptions, TlsError> {
    let ca_file = config
        .tls_ca_cert_file
        .clone()
        .ok_or_else(|| TlsError::Config {
            what: "replication TLS",
            reason: "tls-replication is on but tls-ca-cert-file is not set".into(),
        })?;
    let (cert_file, key_file) = match &config.tls_client_cert_file {
        Some(cert) => (Some(cert.clone()), config.tls_client_key_file.clone()),
        None => (config.tls_cert_file.clone(), config.tls_key_file.clone()),
    };
    Ok(TlsOptions {
        ca_file,
        cert_file,
        key_file,
        server_name: None,
    })
}

/// One connection to the primary, until it breaks.
async fn follow(
    shared: &Arc<Shared>,
    generation: u64,
    host: &str,
    port: u16,
) -> Result<(), LinkError> {
    let repl = &shared.replication;
    repl.update(|s| s.link.phase = "connecting");
    let (rd, wr) = connect(shared, host, port).await?;
    let mut wire = Wire {
        rd,
        wr,
        buf: BytesMut::new(),
        limits: Limits {
            max_bulk_len: MAX_BATCH_BYTES,
            ..Limits::default()
        },
    };
    let (auth, announce_ip, announce_port) = {
        let c = shared.config.read();
        (
            c.masterauth.clone(),
            c.replica_announce_ip.clone(),
            c.replica_announce_port,
        )
    };
    wire.send(&[b"PING"]).await?;
    let _ = wire.reply().await?;
    if let Some(password) = auth {
        wire.send(&[b"AUTH", password.as_bytes()]).await?;
        if let Reply::Error(e) = wire.reply().await? {
            return Err(LinkError::Refused(String::from_utf8_lossy(&e).into_owned()));
        }
    }
    let own_port = match announce_port {
        0 => repl.listening_port.load(Ordering::Relaxed).to_string(),
        p => p.to_string(),
    };
    wire.send(&[b"REPLCONF", b"listening-port", own_port.as_bytes()])
        .await?;
    let _ = wire.reply().await?;
    if let Some(ip) = announce_ip {
        wire.send(&[b"REPLCONF", b"ip-address", ip.as_bytes()])
            .await?;
        let _ = wire.reply().await?;
    }
    wire.send(&[b"REPLCONF", b"capa", b"eof", b"capa", b"psync2"])
        .await?;
    let _ = wire.reply().await?;
    let next = shared.db.get()?.last_sequence() + 1;
    let replid = {
        // A server restarted as a primary and made a replica again without a write of its
        // own holds exactly its previous history: ask to continue that one.
        let s = repl.state();
        if s.second_offset >= 0 && i64::try_from(next) == Ok(s.second_offset) {
            s.replid2
        } else {
            s.replid
        }
    };
    wire.send(&[b"PSYNC", replid.as_bytes(), next.to_string().as_bytes()])
        .await?;
    let line = wire.line().await?;
    let words: Vec<&str> = line.split_whitespace().collect();
    match words.as_slice() {
        ["+FULLRESYNC", id, seq] if id.len() == 40 && seq.parse::<u64>().is_ok() => {
            repl.update(|s| s.link.phase = "sync");
            load_full_sync(shared, &mut wire, id).await?;
        }
        ["+CONTINUE", rest @ ..] => {
            if let Some(id) = rest.first().filter(|id| **id != replid && id.len() == 40) {
                // The primary was promoted: our history is its previous one.
                let dir = shared.config.read().dir.clone();
                repl.update(|s| {
                    s.replid2 = std::mem::replace(&mut s.replid, (*id).to_string());
                    s.second_offset = i64::try_from(next).unwrap_or(i64::MAX);
                });
                let _ = write_id(&dir, id);
            }
        }
        _ => return Err(LinkError::Refused(line)),
    }
    if repl.generation.load(Ordering::SeqCst) != generation {
        return Err(LinkError::Superseded);
    }
    repl.update(|s| {
        s.link.up = true;
        s.link.phase = "connected";
        s.link.last_io = Some(Instant::now());
    });
    tracing::info!(host, port, "replicating");
    apply_stream(shared, generation, &mut wire).await
}

/// Receives the snapshot and puts it in place of the data.
async fn load_full_sync(
    shared: &Arc<Shared>,
    wire: &mut Wire,
    replid: &str,
) -> Result<(), LinkError> {
    let header = wire.line().await?;
    let len = header
        .strip_prefix('$')
        .and_then(|n| n.parse::<u64>().ok())
        .ok_or_else(|| LinkError::Protocol(format!("expected a snapshot bulk, got {header}")))?;
    let dir = shared.config.read().dir.clone();
    let tmp = dir.join(INCOMING_TMP);
    let _ = std::fs::remove_dir_all(&tmp);
    std::fs::create_dir_all(&tmp)?;
    snapshot::receive(&mut wire.rd, &mut wire.buf, len, &tmp).await?;
    write_id(&tmp, replid)?;
    let incoming = dir.join(INCOMING);
    std::fs::rename(&tmp, &incoming)?;
    std::fs::File::open(&dir)?.sync_all()?;
    let repl = &shared.replication;
    repl.loading.store(true, Ordering::SeqCst);
    let old = shared.db.take();
    let options = engine_options(&shared.config.read(), &repl.backlog);
    let at: PathBuf = dir.clone();
    let opened = tokio::task::spawn_blocking(move || {
        drop(old);
        let restored = restore_checkpoint(&incoming, &at);
        // Whatever happened, the slot gets an engine: the restored one, or the old one
        // (a failed restore is finished at the next start).
        let db = Db::open(&at, options);
        restored.and(db)
    })
    .await
    .map_err(|e| LinkError::Protocol(e.to_string()))?;
    let result = match opened {
        Ok(db) => {
            // Read before anyone can: the data must be in the key format this server
            // reads, and its map of swapped databases is the one commands go by.
            let readable = check_format(&db)
                .and_then(|()| shared.databases.reload(&db).map_err(LinkError::Data));
            repl.backlog.reset(db.last_sequence());
            shared.db.put(db);
            // Unreadable: commands keep getting -LOADING (answering from data this server
            // would misread is worse than not answering), and the link retries the sync.
            readable?;
            repl.update(|s| {
                s.replid = replid.to_string();
                s.replid2 = "0".repeat(40);
                s.second_offset = -1;
            });
            Ok(())
        }
        Err(e) => {
            if let Ok(db) = Db::open(&dir, engine_options(&shared.config.read(), &repl.backlog)) {
                shared.db.put(db);
            }
            Err(e.into())
        }
    };
    repl.loading.store(false, Ordering::SeqCst);
    result
}

/// Checks that a full sync installed data in the key format this server reads
/// (`layout::FORMAT`), as the primary wrote its record at its own start. A replica never
/// writes the record itself: a write of its own would take a sequence number that is the
/// primary's to give.
fn check_format(db: &Db) -> Result<(), LinkError> {
    match db.get(layout::FORMAT_KEY)? {
        Some(format) if format[..] == *layout::FORMAT => Ok(()),
        Some(format) => Err(LinkError::Data(format!(
            "its keys are in format `{}`, this server reads `{}`",
            String::from_utf8_lossy(&format),
            String::from_utf8_lossy(layout::FORMAT)
        ))),
        None => Err(LinkError::Data(format!(
            "it names no key format (an older Cairn?), this server reads `{}`",
            String::from_utf8_lossy(layout::FORMAT)
        ))),
    }
}

/// Applies the stream until it breaks; acknowledges each second.
async fn apply_stream(
    shared: &Arc<Shared>,
    generation: u64,
    wire: &mut Wire,
) -> Result<(), LinkError> {
    let repl = &shared.replication;
    let mut tick = tokio::time::interval(Duration::from_secs(1));
    let mut pending = None;
    loop {
        let mut ack_now = false;
        while let Some(args) = resp::parse_request(&mut wire.buf, &wire.limits)
            .map_err(|e| LinkError::Protocol(e.to_string()))?
        {
            match args.as_slice() {
                [cmd, payload] if cmd.eq_ignore_ascii_case(b"cairn.batch") => {
                    pending = Some(apply(shared, payload)?);
                }
                [cmd, sub, ..]
                    if cmd.eq_ignore_ascii_case(b"replconf")
                        && sub.eq_ignore_ascii_case(b"getack") =>
                {
                    ack_now = true;
                }
                _ => {}
            }
        }
        if ack_now {
            ack(shared, wire, &mut pending).await?;
        }
        tokio::select! {
            read = wire.rd.read_buf(&mut wire.buf) => {
                if read? == 0 {
                    return Err(std::io::Error::from(std::io::ErrorKind::UnexpectedEof).into());
                }
                repl.update(|s| s.link.last_io = Some(Instant::now()));
            }
            _ = tick.tick() => {
                if repl.generation.load(Ordering::SeqCst) != generation {
                    return Err(LinkError::Superseded);
                }
                ack(shared, wire, &mut pending).await?;
            }
        }
    }
}

/// Applies one batch at the primary's sequence numbers.
fn apply(shared: &Shared, payload: &Bytes) -> Result<crate::storage::WriteTicket, LinkError> {
    let (first, batch) = WriteBatch::from_payload(payload)?;
    let db = shared.db.get()?;
    if first <= db.last_sequence() {
        // Already held (a resent batch after a reconnect): nothing to do.
        return Ok(crate::storage::WriteTicket::ready());
    }
    let swapped = batch.touches(layout::DATABASES_KEY);
    let ticket = db.write_at(first, batch)?;
    if swapped {
        // The primary ran SWAPDB: its new map is visible now, and commands here must go by
        // it as they do there.
        shared.databases.reload(&db).map_err(LinkError::Data)?;
    }
    Ok(ticket)
}

/// Sends `REPLCONF ACK <seq>` once what was applied is durable.
async fn ack(
    shared: &Shared,
    wire: &mut Wire,
    pending: &mut Option<crate::storage::WriteTicket>,
) -> Result<(), LinkError> {
    if let Some(ticket) = pending.take() {
        ticket.await?;
    }
    let seq = shared.db.get()?.last_sequence();
    wire.send(&[b"REPLCONF", b"ACK", seq.to_string().as_bytes()])
        .await?;
    Ok(())
}
