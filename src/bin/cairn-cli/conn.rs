//! The two ways cairn-cli talks to a server: the native protocol through the blocking
//! client (commands go as the `Resp` op, answers come in RESP3 shapes), or plain RESP2
//! (`--resp`, optionally RESP3 with `-3`) over a TCP stream, as redis-cli does; either over
//! TLS with `--tls`.

use std::io::{self, Read, Write};
use std::net::{TcpStream, ToSocketAddrs};
use std::sync::Arc;
use std::time::Duration;

use bytes::{Bytes, BytesMut};
use cairn::client::{blocking, ClientOptions, Error, TlsOptions};
use cairn::protocol::{resp, Limits, Reply};
use rustls::{ClientConfig, ClientConnection, StreamOwned};
use rustls_pki_types::ServerName;

/// A failure to reach the server, as the one line to print.
pub struct Unreachable(pub String);

/// `io::Error`'s text without Rust's ` (os error N)` suffix, as redis-cli prints it.
pub fn io_text(e: &io::Error) -> String {
    let text = e.to_string();
    match text.find(" (os error") {
        Some(i) => text[..i].to_string(),
        None => text,
    }
}

fn unreachable(addr: &str, e: &io::Error) -> Unreachable {
    Unreachable(format!(
        "Could not connect to Cairn at {addr}: {}",
        io_text(e)
    ))
}

/// What to connect to and how.
pub struct Target {
    pub addr: String,
    pub user: Option<String>,
    pub password: Option<String>,
    pub resp: bool,
    pub resp3: bool,
    pub tls: Option<TlsOptions>,
}

pub enum Conn {
    Native(blocking::Client),
    Resp(RespConn),
}

impl Conn {
    pub fn open(target: &Target) -> Result<Conn, Unreachable> {
        if target.resp {
            let tls = match &target.tls {
                Some(options) => Some(Tls {
                    config: cairn::tls::client_config(options)
                        .map_err(|e| Unreachable(e.to_string()))?,
                    name: cairn::tls::server_name(options, &target.addr)
                        .map_err(|e| Unreachable(e.to_string()))?,
                }),
                None => None,
            };
            let mut conn = RespConn {
                addr: target.addr.clone(),
                user: target.user.clone(),
                password: target.password.clone(),
                resp3: target.resp3,
                tls,
                stream: None,
                input: BytesMut::new(),
            };
            conn.connect()?;
            return Ok(Conn::Resp(conn));
        }
        let options = ClientOptions {
            username: target.user.clone(),
            password: target.password.clone(),
            // A person waits at the prompt; long commands (KEYS on a big database) may run.
            request_timeout: None,
            tls: target.tls.clone(),
            ..ClientOptions::default()
        };
        match blocking::Client::connect_with(&target.addr, options) {
            Ok(c) => Ok(Conn::Native(c)),
            Err(Error::Connect { source, .. }) => Err(unreachable(&target.addr, &source)),
            Err(e) => Err(Unreachable(format!(
                "Could not connect to Cairn at {}: {e}",
                target.addr
            ))),
        }
    }

    /// Runs one command. `Ok` holds the reply (error replies included); `Err` a line about
    /// the connection.
    pub fn call(&mut self, args: &[Bytes]) -> Result<Reply, String> {
        match self {
            Conn::Native(c) => match c.command(args) {
                Ok(reply) => Ok(reply),
                Err(Error::Server { message }) => Ok(Reply::Error(message.into())),
                Err(Error::Connect { addr, source }) => Err(format!(
                    "Could not connect to Cairn at {addr}: {}",
                    io_text(&source)
                )),
                Err(e) => Err(format!("Error: {e}")),
            },
            Conn::Resp(c) => c.call(args),
        }
    }
}

/// What a RESP connection reads and writes: a TCP stream, or TLS over one.
trait Stream: Read + Write {}

impl<S: Read + Write> Stream for S {}

/// `--tls`'s client configuration, read once.
struct Tls {
    config: Arc<ClientConfig>,
    name: ServerName<'static>,
}

/// A RESP connection, reopened on the next command after it breaks.
pub struct RespConn {
    addr: String,
    user: Option<String>,
    password: Option<String>,
    resp3: bool,
    tls: Option<Tls>,
    stream: Option<Box<dyn Stream>>,
    input: BytesMut,
}

impl RespConn {
    fn connect(&mut self) -> Result<(), Unreachable> {
        let addrs = self
            .addr
            .to_socket_addrs()
            .map_err(|e| unreachable(&self.addr, &e))?;
        let mut last = io::Error::new(io::ErrorKind::NotFound, "no address");
        let mut socket = None;
        for a in addrs {
            match TcpStream::connect_timeout(&a, Duration::from_secs(5)) {
                Ok(s) => {
                    let _ = s.set_nodelay(true);
                    socket = Some(s);
                    break;
                }
                Err(e) => last = e,
            }
        }
        let Some(mut socket) = socket else {
            return Err(unreachable(&self.addr, &last));
        };
        self.input.clear();
        self.stream = Some(match &self.tls {
            None => Box::new(socket),
            Some(tls) => {
                let mut session = ClientConnection::new(tls.config.clone(), tls.name.clone())
                    .map_err(|e| Unreachable(format!("TLS: {e}")))?;
                // Handshake now, so a refused certificate is said at connect.
                while session.is_handshaking() {
                    session
                        .complete_io(&mut socket)
                        .map_err(|e| unreachable(&self.addr, &e))?;
                }
                Box::new(StreamOwned::new(session, socket))
            }
        });
        for (i, setup) in [self.password.is_some(), self.resp3]
            .into_iter()
            .enumerate()
        {
            if !setup {
                continue;
            }
            let args: Vec<Vec<u8>> = if i == 0 {
                let mut a = vec![b"AUTH".to_vec()];
                if let Some(user) = &self.user {
                    a.push(user.clone().into_bytes());
                }
                a.push(self.password.clone().unwrap_or_default().into_bytes());
                a
            } else {
                vec![b"HELLO".to_vec(), b"3".to_vec()]
            };
            match self.exchange(&args) {
                Ok(Reply::Error(m)) if i == 0 => {
                    eprintln!("AUTH failed: {}", String::from_utf8_lossy(&m));
                }
                Ok(_) => {}
                Err(e) => return Err(unreachable(&self.addr, &e)),
            }
        }
        Ok(())
    }

    fn exchange<A: AsRef<[u8]>>(&mut self, args: &[A]) -> io::Result<Reply> {
        let stream = self
            .stream
            .as_mut()
            .ok_or_else(|| io::Error::new(io::ErrorKind::NotConnected, "not connected"))?;
        let mut out = BytesMut::new();
        resp::encode_request(args, &mut out);
        stream.write_all(&out)?;
        stream.flush()?;
        self.read_reply()
    }

    /// The next reply (or push) the server sends.
    fn read_reply(&mut self) -> io::Result<Reply> {
        let stream = self
            .stream
            .as_mut()
            .ok_or_else(|| io::Error::new(io::ErrorKind::NotConnected, "not connected"))?;
        let limits = Limits::default();
        let mut buf = vec![0u8; 64 * 1024];
        loop {
            match resp::parse_reply(&mut self.input, &limits) {
                Ok(Some(reply)) => return Ok(reply),
                Ok(None) => {}
                Err(e) => return Err(io::Error::new(io::ErrorKind::InvalidData, e.to_string())),
            }
            let n = stream.read(&mut buf)?;
            if n == 0 {
                return Err(io::Error::new(
                    io::ErrorKind::UnexpectedEof,
                    "Server closed the connection",
                ));
            }
            self.input.extend_from_slice(&buf[..n]);
        }
    }

    /// After SUBSCRIBE or PSUBSCRIBE: the next push (a confirmation or a message).
    pub fn next_push(&mut self) -> Result<Reply, String> {
        let read = self.read_reply();
        read.map_err(|e| self.broken(&e))
    }

    fn call(&mut self, args: &[Bytes]) -> Result<Reply, String> {
        if self.stream.is_none() {
            self.connect().map_err(|Unreachable(line)| line)?;
        }
        let exchanged = self.exchange(args);
        exchanged.map_err(|e| self.broken(&e))
    }

    /// Forgets a connection that failed (the next command reconnects); the line saying so.
    fn broken(&mut self, e: &io::Error) -> String {
        self.stream = None;
        format!("Error: {}", io_text(e))
    }
}
