//! Wire formats: bytes to `Command` / `Reply` and back.
//!
//! It knows no sockets and no storage, and never imports `storage` or `server`.
