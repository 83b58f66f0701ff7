//! Wire formats: bytes to `Command` / `Reply` and back.
//!
//! It owns RESP2/RESP3 framing ([`resp`]), the reply model and its RESP encoding
//! ([`reply`]), the meaning of a request ([`command`]), the native binary protocol
//! ([`binary`]), Redis Cluster's key-to-slot hash ([`slot`]), the limits every parser enforces ([`limits`]), INCRBYFLOAT's long-double numbers
//! ([`long_double`]) and the one error type
//! ([`error`]). It knows no sockets and no storage, and never imports `storage` or
//! `server`. Every [`ProtocolError`] means: send it as an error reply, then close the
//! connection.

#![warn(clippy::cast_possible_truncation)]

pub mod binary;
pub mod command;
pub mod error;
pub mod limits;
pub mod long_double;
pub mod reply;
pub mod resp;
pub mod slot;

pub use command::{Command, CommandError};
pub use error::ProtocolError;
pub use limits::Limits;
pub use reply::{Reply, RespVersion};
