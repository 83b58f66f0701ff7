//! Size limits applied by every parser before it allocates or waits for bytes.
//!
//! It owns the numbers only; the parsers decide what to do when one is crossed (an error,
//! after which the connection must be closed). Defaults follow Redis.

/// Limits on what a peer may send. Every length field is checked against these before any
/// allocation, and element counts are never trusted for allocation at all.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Limits {
    /// Largest bulk string, in bytes (Redis's `proto-max-bulk-len`): 512 MiB.
    pub max_bulk_len: usize,
    /// Largest array (number of elements; a map counts its pairs): 1 Mi (1,048,576).
    pub max_array_len: usize,
    /// Longest inline command line or RESP length line, in bytes: 64 KiB.
    pub max_inline_len: usize,
    /// Deepest nesting of aggregates in a reply (a flat array has depth 1): 8.
    pub max_depth: usize,
    /// Largest native binary frame body, in bytes: 512 MiB.
    pub max_frame_len: usize,
}

impl Default for Limits {
    fn default() -> Self {
        Limits {
            max_bulk_len: 512 * 1024 * 1024,
            max_array_len: 1024 * 1024,
            max_inline_len: 64 * 1024,
            max_depth: 8,
            max_frame_len: 512 * 1024 * 1024,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn defaults_match_redis() {
        let l = Limits::default();
        assert_eq!(l.max_bulk_len, 536_870_912);
        assert_eq!(l.max_array_len, 1_048_576);
        assert_eq!(l.max_inline_len, 65_536);
        assert_eq!(l.max_depth, 8);
        assert_eq!(l.max_frame_len, 536_870_912);
    }
}
