//! Redis Cluster's hash slots: which of the 16,384 slots a key belongs to.
//!
//! A key's slot is CRC16 (the XMODEM variant) of the key, modulo 16,384; when the key holds
//! a hash tag, a `{...}` with at least one byte inside, only the bytes between the first `{`
//! and the first `}` after it are hashed, so `{user1}.name` and `{user1}.mail` share a slot.
//! The server routes by it and the cluster client picks a node by it; both must agree with
//! Redis byte for byte, because cluster-aware Redis clients compute it themselves.

use crc::{Crc, CRC_16_XMODEM};

/// Number of hash slots in a cluster.
pub const SLOTS: u16 = 16_384;

const CRC16: Crc<u16> = Crc::<u16>::new(&CRC_16_XMODEM);

/// The hash slot of `key`.
pub fn key_slot(key: &[u8]) -> u16 {
    CRC16.checksum(hash_tag(key)) % SLOTS
}

/// The part of `key` that is hashed: its hash tag, or the whole key when it has none (no
/// `{`, no `}` after it, or nothing between them).
fn hash_tag(key: &[u8]) -> &[u8] {
    let Some(open) = memchr::memchr(b'{', key) else {
        return key;
    };
    let inside = &key[open + 1..];
    match memchr::memchr(b'}', inside) {
        Some(close) if close > 0 => &inside[..close],
        _ => key,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn slots_match_redis() {
        // Values from redis-server 7.0's CLUSTER KEYSLOT.
        assert_eq!(key_slot(b"foo"), 12182);
        assert_eq!(key_slot(b"bar"), 5061);
        assert_eq!(key_slot(b""), 0);
        assert_eq!(key_slot(b"123456789"), 12739);
    }

    #[test]
    fn hash_tags() {
        assert_eq!(key_slot(b"{user1000}.following"), key_slot(b"user1000"));
        assert_eq!(key_slot(b"{user1000}.followers"), key_slot(b"user1000"));
        // Only the first `{` counts, and the first `}` after it.
        assert_eq!(key_slot(b"foo{{bar}}zap"), key_slot(b"{bar"));
        assert_eq!(key_slot(b"foo{bar}{zap}"), key_slot(b"bar"));
        // Empty or unclosed tags hash the whole key.
        assert_eq!(hash_tag(b"foo{}{bar}"), b"foo{}{bar}");
        assert_eq!(hash_tag(b"foo{bar"), b"foo{bar");
        assert_eq!(hash_tag(b"}{x}"), b"x");
    }
}
