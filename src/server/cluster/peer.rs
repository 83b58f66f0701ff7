//! A connection from this node to another node of the cluster: RESP requests out, replies
//! in, over a blocking socket with timeouts. Slot moves use it (from their own thread) to
//! send a slot's keys to its new owner and the next map to every node.
//!
//! It speaks plaintext RESP to the peer's client port, authenticating with this node's own
//! `requirepass` (a cluster shares one password).

use std::io::{Read, Write};
use std::net::{TcpStream, ToSocketAddrs};
use std::time::Duration;

use bytes::BytesMut;

use crate::protocol::resp::{encode_request, parse_reply};
use crate::protocol::{Limits, Reply};

/// How long a peer may take to connect, or to answer a flushed batch.
const TIMEOUT: Duration = Duration::from_secs(10);

/// A RESP connection to another node.
pub(crate) struct Peer {
    addr: String,
    stream: TcpStream,
    out: BytesMut,
    input: BytesMut,
    limits: Limits,
}

impl Peer {
    /// Connects to `addr` (`ip:port`) and authenticates with `password` if one is set.
    pub fn connect(addr: &str, password: Option<&str>) -> Result<Peer, String> {
        let fail = |e: std::io::Error| format!("cannot reach {addr}: {e}");
        let sock = addr
            .to_socket_addrs()
            .map_err(fail)?
            .next()
            .ok_or_else(|| format!("cannot resolve {addr}"))?;
        let stream = TcpStream::connect_timeout(&sock, TIMEOUT).map_err(fail)?;
        stream.set_read_timeout(Some(TIMEOUT)).map_err(fail)?;
        stream.set_write_timeout(Some(TIMEOUT)).map_err(fail)?;
        stream.set_nodelay(true).map_err(fail)?;
        let mut peer = Peer {
            addr: addr.to_owned(),
            stream,
            out: BytesMut::new(),
            input: BytesMut::new(),
            limits: Limits::default(),
        };
        if let Some(password) = password {
            peer.call(&[b"AUTH".as_slice(), password.as_bytes()])?;
        }
        Ok(peer)
    }

    /// Queues a request; [`Peer::flush`] sends what is queued.
    pub fn send<A: AsRef<[u8]>>(&mut self, args: &[A]) {
        encode_request(args, &mut self.out);
    }

    /// Sends the queued requests.
    pub fn flush(&mut self) -> Result<(), String> {
        self.stream
            .write_all(&self.out)
            .map_err(|e| format!("cannot write to {}: {e}", self.addr))?;
        self.out.clear();
        Ok(())
    }

    /// Reads the next reply; an error reply is an `Err` with its text.
    pub fn reply(&mut self) -> Result<Reply, String> {
        loop {
            match parse_reply(&mut self.input, &self.limits) {
                Ok(Some(Reply::Error(text))) => {
                    return Err(format!(
                        "{} answered: {}",
                        self.addr,
                        String::from_utf8_lossy(&text)
                    ))
                }
                Ok(Some(reply)) => return Ok(reply),
                Ok(None) => {}
                Err(e) => return Err(format!("bad reply from {}: {e}", self.addr)),
            }
            let mut chunk = [0u8; 16 * 1024];
            let n = self
                .stream
                .read(&mut chunk)
                .map_err(|e| format!("cannot read from {}: {e}", self.addr))?;
            if n == 0 {
                return Err(format!("{} closed the connection", self.addr));
            }
            self.input.extend_from_slice(&chunk[..n]);
        }
    }

    /// Sends one request and reads its reply.
    pub fn call<A: AsRef<[u8]>>(&mut self, args: &[A]) -> Result<Reply, String> {
        self.send(args);
        self.flush()?;
        self.reply()
    }
}
