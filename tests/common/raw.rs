//! A bare RESP connection for differential tests: it sends one request (or a pipeline of
//! them in one write) and returns the exact bytes of each reply, so two servers' answers
//! can be compared byte for byte.

use std::io::{Read, Write};
use std::net::TcpStream;
use std::time::Duration;

use bytes::BytesMut;
use cairn::protocol::resp::{encode_request, parse_reply};
use cairn::protocol::Limits;

/// A connection that sends one request and returns its reply's exact bytes.
pub struct Raw {
    stream: TcpStream,
    buf: BytesMut,
}

impl Raw {
    /// Connects to `addr`, with a read timeout so a missing reply fails the test.
    pub fn connect(addr: &str) -> Raw {
        let stream = TcpStream::connect(addr).expect("connect");
        stream
            .set_read_timeout(Some(Duration::from_secs(10)))
            .expect("timeout");
        Raw {
            stream,
            buf: BytesMut::new(),
        }
    }

    /// Sends `args` as one request and returns the bytes of the reply.
    pub fn call<A: AsRef<[u8]>>(&mut self, args: &[A]) -> Vec<u8> {
        let mut out = BytesMut::new();
        encode_request(args, &mut out);
        self.stream.write_all(&out).expect("send");
        self.reply()
    }

    /// Sends every request of `requests` in one write (so the server reads them as one
    /// pipelined round) and returns the bytes of each reply, in order.
    pub fn pipeline<A: AsRef<[u8]>>(&mut self, requests: &[Vec<A>]) -> Vec<Vec<u8>> {
        let mut out = BytesMut::new();
        for args in requests {
            encode_request(args, &mut out);
        }
        self.stream.write_all(&out).expect("send");
        requests.iter().map(|_| self.reply()).collect()
    }

    /// The next reply's bytes.
    fn reply(&mut self) -> Vec<u8> {
        loop {
            let mut probe = self.buf.clone();
            if let Ok(Some(_)) = parse_reply(&mut probe, &Limits::default()) {
                let len = self.buf.len() - probe.len();
                return self.buf.split_to(len).to_vec();
            }
            let mut chunk = [0u8; 4096];
            let n = self.stream.read(&mut chunk).expect("read");
            assert!(n > 0, "the server closed the connection");
            self.buf.extend_from_slice(&chunk[..n]);
        }
    }

    /// Sends `line` split at single spaces (an empty word where two spaces meet).
    pub fn words(&mut self, line: &str) -> Vec<u8> {
        let args: Vec<&[u8]> = line.split(' ').map(str::as_bytes).collect();
        self.call(&args)
    }
}
