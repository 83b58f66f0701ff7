//! How the server stores a string in the engine: a one-byte header, an optional expiry,
//! then the user's bytes.
//!
//! The engine stores opaque bytes; expiry is the server's concept, so it lives here. The
//! format is part of the on-disk format (docs/storage-format.md, "Values") and the compaction
//! filter reads it to drop expired keys, so it must only ever be extended, never changed.

use bytes::{Buf, Bytes};

/// Header byte of a string without expiry: `0x00`, then the value.
const PLAIN: u8 = 0x00;
/// Header byte of a string with expiry: `0x01`, unix-epoch milliseconds as u64 LE, then the value.
const EXPIRING: u8 = 0x01;

/// A string value with its optional expiry, as the commands see it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Entry {
    /// The user's bytes.
    pub value: Bytes,
    /// When the key expires, in unix-epoch milliseconds; `None` = never.
    pub expires_at: Option<u64>,
}

/// A stored value whose header this server does not understand.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("stored value has an unknown header (byte {0:#04x}, length {1})")]
pub struct BadValue(pub u8, pub usize);

impl Entry {
    /// A value that never expires.
    pub fn new(value: Bytes) -> Entry {
        Entry {
            value,
            expires_at: None,
        }
    }

    /// Whether the entry is expired at `now` (unix ms).
    pub fn is_expired(&self, now: u64) -> bool {
        is_past(self.expires_at, now)
    }

    /// The stored form (header, expiry, value).
    #[cfg(test)]
    pub fn encode(&self) -> bytes::BytesMut {
        use bytes::BufMut;
        let mut out = bytes::BytesMut::with_capacity(9 + self.value.len());
        out.put_slice(self.header().as_slice());
        out.put_slice(&self.value);
        out
    }

    /// The stored form's header (tag and expiry); the value follows it.
    pub fn header(&self) -> smallvec::SmallVec<[u8; 9]> {
        let mut header = smallvec::SmallVec::new();
        match self.expires_at {
            None => header.push(PLAIN),
            Some(at) => {
                header.push(EXPIRING);
                header.extend_from_slice(&at.to_le_bytes());
            }
        }
        header
    }

    /// Parses the stored form; the value is `raw` itself, advanced past the header (no copy,
    /// and no reference-count traffic as a slice would cost).
    pub fn decode(mut raw: Bytes) -> Result<Entry, BadValue> {
        let (start, expires_at) = parse_header(&raw)?;
        raw.advance(start);
        Ok(Entry {
            value: raw,
            expires_at,
        })
    }

    /// The expiry of a stored value without decoding the rest: what the compaction filter
    /// needs. `None` for values without expiry or with an unknown header.
    pub fn stored_expiry(raw: &[u8]) -> Option<u64> {
        parse_header(raw)
            .ok()
            .and_then(|(_, expires_at)| expires_at)
    }
}

/// An entry read where it lies, in the engine or in a staged write (see
/// `Keyspace::get_with`): what a command that only looks at the value needs.
#[derive(Debug, Clone, Copy)]
pub struct EntryRef<'a> {
    /// The stored form, or a staged entry's value.
    stored: &'a Bytes,
    /// Where the user's bytes start in `stored`.
    start: usize,
    /// When the key expires, in unix-epoch milliseconds; `None` = never.
    pub expires_at: Option<u64>,
}

impl<'a> EntryRef<'a> {
    /// Parses the stored form in place.
    pub fn decode(stored: &'a Bytes) -> Result<EntryRef<'a>, BadValue> {
        let (start, expires_at) = parse_header(stored)?;
        Ok(EntryRef {
            stored,
            start,
            expires_at,
        })
    }

    /// A staged entry, lent the same way.
    pub fn of(entry: &'a Entry) -> EntryRef<'a> {
        EntryRef {
            stored: &entry.value,
            start: 0,
            expires_at: entry.expires_at,
        }
    }

    /// The user's bytes.
    pub fn value(&self) -> &'a [u8] {
        &self.stored[self.start..]
    }

    /// Whether the entry is expired at `now` (unix ms); see [`Entry::is_expired`].
    pub fn is_expired(&self, now: u64) -> bool {
        is_past(self.expires_at, now)
    }

    /// The entry to keep: the same bytes, shared (a reference count), not copied.
    pub fn to_entry(self) -> Entry {
        Entry {
            value: self.stored.slice(self.start..),
            expires_at: self.expires_at,
        }
    }
}

/// The stored form's header: where the user's bytes start, and the expiry.
fn parse_header(raw: &[u8]) -> Result<(usize, Option<u64>), BadValue> {
    match raw {
        [PLAIN, ..] => Ok((1, None)),
        [EXPIRING, at @ ..] if at.len() >= 8 => {
            let mut bytes = [0u8; 8];
            bytes.copy_from_slice(&at[..8]);
            Ok((9, Some(u64::from_le_bytes(bytes))))
        }
        _ => Err(BadValue(raw.first().copied().unwrap_or(0), raw.len())),
    }
}

/// Whether an expiry is reached at `now`. Redis treats a key as gone from the millisecond
/// its expiry is reached.
fn is_past(expires_at: Option<u64>, now: u64) -> bool {
    expires_at.is_some_and(|at| at <= now)
}

/// The engine's compaction filter for the server's values: drops those whose expiry has
/// passed, so expired keys leave the disk without anyone reading them.
#[derive(Debug, Default)]
pub struct ExpiredFilter;

impl crate::storage::CompactionFilter for ExpiredFilter {
    fn remove(&self, _key: &[u8], value: &[u8]) -> bool {
        Entry::stored_expiry(value).is_some_and(|at| at <= now_millis())
    }
}

/// Milliseconds since the unix epoch, the clock expiry is measured on.
pub fn now_millis() -> u64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| u64::try_from(d.as_millis()).unwrap_or(u64::MAX))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn round_trips_with_and_without_expiry() {
        for entry in [
            Entry::new(Bytes::from_static(b"hello")),
            Entry::new(Bytes::new()),
            Entry {
                value: Bytes::from_static(b"v"),
                expires_at: Some(1_700_000_000_123),
            },
        ] {
            let raw = entry.encode().freeze();
            assert_eq!(Entry::decode(raw.clone()), Ok(entry.clone()));
            let lent = EntryRef::decode(&raw).unwrap();
            assert_eq!(lent.value(), &entry.value[..]);
            assert_eq!(lent.expires_at, entry.expires_at);
            assert_eq!(lent.to_entry(), entry);
            assert_eq!(EntryRef::of(&entry).to_entry(), entry);
            assert_eq!(Entry::stored_expiry(&raw), entry.expires_at);
        }
    }

    #[test]
    fn rejects_unknown_and_short_headers() {
        assert!(Entry::decode(Bytes::new()).is_err());
        assert!(Entry::decode(Bytes::from_static(b"\x07abc")).is_err());
        assert!(Entry::decode(Bytes::from_static(b"\x01abc")).is_err());
        assert!(EntryRef::decode(&Bytes::from_static(b"\x01abc")).is_err());
    }

    #[test]
    fn expiry_is_inclusive() {
        let entry = Entry {
            value: Bytes::new(),
            expires_at: Some(100),
        };
        assert!(!entry.is_expired(99));
        assert!(entry.is_expired(100));
    }

    #[test]
    fn the_compaction_filter_drops_only_expired_values() {
        use crate::storage::CompactionFilter;
        let stored = |expires_at| {
            Entry {
                value: Bytes::from_static(b"v"),
                expires_at,
            }
            .encode()
        };
        let now = now_millis();
        assert!(ExpiredFilter.remove(b"k", &stored(Some(now - 1))));
        assert!(!ExpiredFilter.remove(b"k", &stored(Some(now + 60_000))));
        assert!(!ExpiredFilter.remove(b"k", &stored(None)));
        // A header this server does not know is kept, never guessed at.
        assert!(!ExpiredFilter.remove(b"k", b"\x07whatever"));
    }
}
