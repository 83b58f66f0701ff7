//! The two shapes a memtable keeps a key in: `IndexKey` in the hash index (short keys
//! inline) and `OrderKey` in the ordered set (a 16-byte prefix beside the key). Both
//! compare, hash and borrow as the bytes they hold; neither knows of versions or locks.

use bytes::Bytes;

/// A key as the point index holds it: short keys inline in the hash bucket, so a lookup
/// compares the key without another cache miss (comparing through a pointer was the
/// largest single cost of a GET); long keys as a `Bytes` (a slice of the memtable's arena,
/// or of a large entry's payload). Hashes and compares as the `[u8]` it holds.
#[derive(Debug, Clone)]
pub(super) enum IndexKey {
    /// Up to [`IndexKey::INLINE`] bytes.
    Inline {
        len: u8,
        bytes: [u8; IndexKey::INLINE],
    },
    /// Longer keys.
    Shared(Bytes),
}

impl IndexKey {
    pub(super) const INLINE: usize = 30;

    pub(super) fn new(key: &Bytes) -> IndexKey {
        match u8::try_from(key.len()) {
            Ok(len) if key.len() <= Self::INLINE => {
                let mut bytes = [0u8; Self::INLINE];
                bytes[..key.len()].copy_from_slice(key);
                IndexKey::Inline { len, bytes }
            }
            _ => IndexKey::Shared(key.clone()),
        }
    }

    fn as_slice(&self) -> &[u8] {
        match self {
            IndexKey::Inline { len, bytes } => &bytes[..usize::from(*len)],
            IndexKey::Shared(b) => b,
        }
    }
}

impl std::borrow::Borrow<[u8]> for IndexKey {
    fn borrow(&self) -> &[u8] {
        self.as_slice()
    }
}

impl std::hash::Hash for IndexKey {
    fn hash<H: std::hash::Hasher>(&self, state: &mut H) {
        self.as_slice().hash(state);
    }
}

impl PartialEq for IndexKey {
    fn eq(&self, other: &Self) -> bool {
        self.as_slice() == other.as_slice()
    }
}

impl Eq for IndexKey {}

/// A key as the order set holds it: its first [`OrderKey::PREFIX`] bytes, zero-padded, as
/// big-endian integers beside the key itself. Keys whose padded prefixes differ compare as
/// those prefixes do, so most comparisons of an insert or a lookup read only the set's own
/// nodes, not the key bytes behind a pointer (a cache miss each, under random inserts,
/// and a large part of the insert's cost). The prefix is long because the server's element
/// keys are: every element of one collection starts with the same 20-odd bytes (type,
/// database, key, version; see `server::layout`), and a 16-byte prefix left every
/// comparison of a ZADD's new keys to the pointer. Orders, and borrows, as the `[u8]` it
/// holds.
#[derive(Debug, Clone)]
pub(super) struct OrderKey {
    prefix: [u128; 3],
    pub(super) key: Bytes,
}

impl OrderKey {
    /// Bytes of the key held beside it.
    pub(super) const PREFIX: usize = 48;

    pub(super) fn new(key: Bytes) -> OrderKey {
        let mut padded = [0u8; Self::PREFIX];
        let n = key.len().min(Self::PREFIX);
        padded[..n].copy_from_slice(&key[..n]);
        let word = |i: usize| {
            let mut bytes = [0u8; 16];
            bytes.copy_from_slice(&padded[16 * i..16 * (i + 1)]);
            u128::from_be_bytes(bytes)
        };
        OrderKey {
            prefix: [word(0), word(1), word(2)],
            key,
        }
    }
}

impl Ord for OrderKey {
    fn cmp(&self, other: &Self) -> std::cmp::Ordering {
        // Padded prefixes that differ order as the keys do: at the first byte where they
        // differ either both keys have a byte, or the shorter one ended (a zero pad) and
        // is a prefix of the longer. Equal prefixes say nothing (`a` and `a\0`).
        self.prefix
            .cmp(&other.prefix)
            .then_with(|| self.key.cmp(&other.key))
    }
}

impl PartialOrd for OrderKey {
    fn partial_cmp(&self, other: &Self) -> Option<std::cmp::Ordering> {
        Some(self.cmp(other))
    }
}

impl PartialEq for OrderKey {
    fn eq(&self, other: &Self) -> bool {
        self.key == other.key
    }
}

impl Eq for OrderKey {}

impl std::borrow::Borrow<[u8]> for OrderKey {
    fn borrow(&self) -> &[u8] {
        &self.key
    }
}
