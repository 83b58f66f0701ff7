//! Wire formats: bytes to `Command` / `Reply` and back.
//!
//! It knows no sockets and no storage, and never imports `storage` or `server`.

pub mod command;

pub use command::{Command, CommandError};
