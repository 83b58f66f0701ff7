//! Where a request's reply goes: the connection's output buffer, framed in the connection's
//! protocol (a RESP reply, or a native response frame carrying the request's id).
//!
//! The dispatcher and the commands never know which protocol they answer: they hand a
//! [`Reply`], or, on the GET fast path, the bytes of a value where it lies.
//!
//! Every reply of a request passes here, so this is where error replies are counted for
//! INFO (`total_error_replies`, errorstats).

use bytes::BytesMut;

use super::shared::Stats;
use crate::protocol::{binary, Reply, RespVersion};

/// How replies are framed on one connection.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Framing {
    /// RESP, in the session's version (HELLO may change it between two replies).
    Resp,
    /// Native response frames, each carrying its request's id.
    Native,
}

/// The reply slot of one request.
pub(crate) struct Replies<'a> {
    out: &'a mut BytesMut,
    framing: Framing,
    /// The native request's id (0 for RESP).
    id: u64,
    /// Where error replies are counted.
    stats: &'a Stats,
}

impl<'a> Replies<'a> {
    /// The slot of request `id` (ignored under RESP), appending to `out`, counting error
    /// replies in `stats`.
    pub(crate) fn new(
        out: &'a mut BytesMut,
        framing: Framing,
        id: u64,
        stats: &'a Stats,
    ) -> Replies<'a> {
        Replies {
            out,
            framing,
            id,
            stats,
        }
    }

    /// Whether replies are native frames (which carry no pushes).
    pub(crate) fn is_native(&self) -> bool {
        self.framing == Framing::Native
    }

    /// Encodes `reply`; `version` is the session's RESP version once the command ran.
    pub(crate) fn reply(&mut self, version: RespVersion, reply: Reply) {
        count_errors(self.stats, &reply);
        match self.framing {
            Framing::Resp => reply.encode(version, self.out),
            Framing::Native => binary::encode_response(
                &binary::Response {
                    id: self.id,
                    more: false,
                    body: reply,
                },
                self.out,
            ),
        }
    }

    /// Encodes a bulk-string reply straight from `value`'s bytes.
    pub(crate) fn bulk(&mut self, value: &[u8]) {
        match self.framing {
            Framing::Resp => Reply::encode_bulk(value, self.out),
            Framing::Native => binary::encode_bulk_response(self.id, value, self.out),
        }
    }
}

/// Counts `reply` if it is an error (EXEC counts the errors inside its array itself).
fn count_errors(stats: &Stats, reply: &Reply) {
    if let Reply::Error(message) = reply {
        stats.errors.record(message);
    }
}
