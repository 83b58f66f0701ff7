//! The handshake: the client's opening bytes (magic, version, credentials) and the
//! server's answer. Nothing else is sent before it completes.

use bytes::{BufMut, Bytes, BytesMut};
use nom::number::streaming::{le_u16, u8 as nom_u8};

use super::{incomplete, NomResult, MAGIC};
use crate::protocol::{Limits, ProtocolError};

/// Handshake flag: credentials follow.
const HS_CREDENTIALS: u8 = 0x01;
/// Handshake flag: the credentials include a username.
const HS_USERNAME: u8 = 0x02;

/// Username and password sent in the handshake or with [`Op::Auth`](super::Op::Auth).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Credentials {
    /// The ACL user; `None` means the default user (`requirepass`).
    pub username: Option<Bytes>,
    /// The password.
    pub password: Bytes,
}

/// The client's opening message.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Handshake {
    /// The newest protocol version the client speaks.
    pub version: u8,
    /// Credentials to authenticate with before the first request, if any.
    pub credentials: Option<Credentials>,
}

/// The server's answer to a [`Handshake`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum HandshakeReply {
    /// Frames may follow, in the given version.
    Accepted {
        /// The version both sides will speak (at most the client's).
        version: u8,
        /// The server's name and version, e.g. `cairn 0.1.0`.
        server: Bytes,
    },
    /// The connection will be closed.
    Rejected {
        /// Error text with its code word, e.g. `NOPROTO unsupported protocol version`.
        message: Bytes,
    },
}

fn short_bytes(input: &[u8]) -> NomResult<'_, &[u8]> {
    let (input, len) = le_u16(input)?;
    nom::bytes::streaming::take(len)(input)
}

fn put_short_bytes(out: &mut BytesMut, b: &[u8]) {
    // Credentials and handshake texts are at most 64 KiB by format; longer ones are cut.
    let len = u16::try_from(b.len()).unwrap_or(u16::MAX);
    out.put_u16_le(len);
    out.put_slice(&b[..usize::from(len)]);
}

/// Client side: the handshake, appended to `out`. Credentials longer than 65,535 bytes
/// are cut to that length.
pub fn encode_handshake(hs: &Handshake, out: &mut BytesMut) {
    out.put_u8(MAGIC);
    out.put_u8(hs.version);
    match &hs.credentials {
        None => out.put_u8(0),
        Some(c) => {
            let user = if c.username.is_some() { HS_USERNAME } else { 0 };
            out.put_u8(HS_CREDENTIALS | user);
            if let Some(u) = &c.username {
                put_short_bytes(out, u);
            }
            put_short_bytes(out, &c.password);
        }
    }
}

/// Version, flags, and the lengths of the username and password if present.
type HandshakeFields = (u8, u8, Option<usize>, Option<usize>);

fn handshake_fields(input: &[u8]) -> NomResult<'_, HandshakeFields> {
    let (input, _) = nom_u8(input)?;
    let (input, version) = nom_u8(input)?;
    let (mut input, flags) = nom_u8(input)?;
    let (mut user, mut pass) = (None, None);
    if flags & HS_CREDENTIALS != 0 {
        if flags & HS_USERNAME != 0 {
            let (rest, u) = short_bytes(input)?;
            user = Some(u.len());
            input = rest;
        }
        let (rest, p) = short_bytes(input)?;
        pass = Some(p.len());
        input = rest;
    }
    Ok((input, (version, flags, user, pass)))
}

/// Server side: the client's handshake from the front of `buf`. `Ok(None)`: incomplete,
/// nothing consumed. A first byte other than [`MAGIC`] or unknown flag bits are errors.
/// The version is returned as sent: the server decides whether it can speak it.
pub fn parse_handshake(
    buf: &mut BytesMut,
    _limits: &Limits,
) -> Result<Option<Handshake>, ProtocolError> {
    if let Some(&b) = buf.first() {
        if b != MAGIC {
            return Err(ProtocolError::Invalid {
                what: "handshake magic byte",
            });
        }
    }
    // The flags are checked as soon as they are in, not after the credentials.
    if let Some(&flags) = buf.get(2) {
        if flags & !(HS_CREDENTIALS | HS_USERNAME) != 0
            || (flags & HS_USERNAME != 0 && flags & HS_CREDENTIALS == 0)
        {
            return Err(ProtocolError::Invalid {
                what: "handshake flags",
            });
        }
    }
    let Some((rest, (version, _flags, user, pass))) = incomplete(handshake_fields(buf))? else {
        return Ok(None);
    };
    let len = buf.len() - rest.len();
    let frame = buf.split_to(len).freeze();
    // Layout after the 3 fixed bytes: [u16 len, username] u16 len, password.
    let mut at = 3;
    let mut take = |n: usize| {
        let b = frame.slice(at + 2..at + 2 + n);
        at += 2 + n;
        b
    };
    let username = user.map(&mut take);
    let credentials = pass.map(|p| Credentials {
        username,
        password: take(p),
    });
    Ok(Some(Handshake {
        version,
        credentials,
    }))
}

/// Server side: the answer to a handshake, appended to `out`. Texts longer than 65,535
/// bytes are cut to that length.
pub fn encode_handshake_reply(reply: &HandshakeReply, out: &mut BytesMut) {
    out.put_u8(MAGIC);
    match reply {
        HandshakeReply::Accepted { version, server } => {
            out.put_u8(0);
            out.put_u8(*version);
            put_short_bytes(out, server);
        }
        HandshakeReply::Rejected { message } => {
            out.put_u8(1);
            put_short_bytes(out, message);
        }
    }
}

/// Magic, status, version and text length of a handshake reply; an unknown magic or
/// status stops the parse there (the caller reports it).
fn handshake_reply_fields(input: &[u8]) -> NomResult<'_, (u8, u8, u8, usize)> {
    let (input, magic) = nom_u8(input)?;
    let (input, status) = nom_u8(input)?;
    if magic != MAGIC || status > 1 {
        return Ok((input, (magic, status, 0, 0)));
    }
    let (input, version) = if status == 0 {
        nom_u8(input)?
    } else {
        (input, 0)
    };
    let (input, text) = short_bytes(input)?;
    Ok((input, (magic, status, version, text.len())))
}

/// Client side: the server's answer to the handshake from the front of `buf`.
pub fn parse_handshake_reply(
    buf: &mut BytesMut,
    _limits: &Limits,
) -> Result<Option<HandshakeReply>, ProtocolError> {
    let parsed = incomplete(handshake_reply_fields(buf))?;
    let Some((rest, (magic, status, version, text_len))) = parsed else {
        return Ok(None);
    };
    if magic != MAGIC {
        return Err(ProtocolError::Invalid {
            what: "handshake magic byte",
        });
    }
    if status > 1 {
        return Err(ProtocolError::Invalid {
            what: "handshake status",
        });
    }
    let len = buf.len() - rest.len();
    let frame = buf.split_to(len).freeze();
    let text = frame.slice(len - text_len..);
    Ok(Some(if status == 0 {
        HandshakeReply::Accepted {
            version,
            server: text,
        }
    } else {
        HandshakeReply::Rejected { message: text }
    }))
}
