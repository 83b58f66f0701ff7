//! How the server stores a key's value in the engine: a string is a one-byte header, an
//! optional expiry, then the user's bytes; a hash, list, set or sorted set is a header of
//! its own ([`Meta`]: type, expiry, version, length) whose elements lie in records of their
//! own (see `server::layout`).
//!
//! The engine stores opaque bytes; expiry is the server's concept, so it lives here. The
//! format is part of the on-disk format (docs/storage-format.md, "Values") and the compaction
//! filter reads it to drop expired keys, so it must only ever be extended, never changed.

use bytes::{Buf, Bytes};

/// Header byte of a string without expiry: `0x00`, then the value.
const PLAIN: u8 = 0x00;
/// Header byte of a string with expiry: `0x01`, unix-epoch milliseconds as u64 LE, then the value.
const EXPIRING: u8 = 0x01;
/// Header byte of a collection: `0x02`, then the rest of [`Meta`]'s fixed-size form.
const COLLECTION: u8 = 0x02;
/// Bytes of a collection's header: tag, kind, expiry, version, length, head, tail.
pub const META_LEN: usize = 2 + 5 * 8;

/// Whether a stored value is a collection's header (else a string).
pub fn is_collection(raw: &[u8]) -> bool {
    raw.first() == Some(&COLLECTION)
}

/// What a collection is.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Kind {
    /// A hash: field -> value.
    Hash,
    /// A list: index -> element.
    List,
    /// A set of members.
    Set,
    /// A sorted set: member -> score, and (score, member) in order.
    ZSet,
}

impl Kind {
    /// The name TYPE reports and SCAN's TYPE filter takes.
    pub fn name(self) -> &'static str {
        match self {
            Kind::Hash => "hash",
            Kind::List => "list",
            Kind::Set => "set",
            Kind::ZSet => "zset",
        }
    }

    fn tag(self) -> u8 {
        match self {
            Kind::Hash => 1,
            Kind::List => 2,
            Kind::Set => 3,
            Kind::ZSet => 4,
        }
    }

    fn of_tag(tag: u8) -> Option<Kind> {
        Some(match tag {
            1 => Kind::Hash,
            2 => Kind::List,
            3 => Kind::Set,
            4 => Kind::ZSet,
            _ => return None,
        })
    }
}

/// A collection's header: the record under its key. Its elements are the engine records
/// under `layout::elements(db, key, version)`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Meta {
    /// What the collection is.
    pub kind: Kind,
    /// When the key expires, in unix-epoch milliseconds; `None` = never.
    pub expires_at: Option<u64>,
    /// Names this incarnation of the key: elements of another version are not its own.
    pub version: u64,
    /// How many elements (fields, members) it has; a collection is never empty.
    pub len: u64,
    /// A list's first index (the rest: 0).
    pub head: u64,
    /// A list's index after its last (the rest: 0).
    pub tail: u64,
}

impl Meta {
    /// An empty collection of `kind` at `version`; a list's indexes start in the middle of
    /// the u64 range, so it can grow a long way at both ends.
    pub fn new(kind: Kind, version: u64) -> Meta {
        let middle = if kind == Kind::List { 1 << 63 } else { 0 };
        Meta {
            kind,
            expires_at: None,
            version,
            len: 0,
            head: middle,
            tail: middle,
        }
    }

    /// Whether the key is expired at `now` (unix ms).
    pub fn is_expired(&self, now: u64) -> bool {
        is_past(self.expires_at, now)
    }

    /// The stored form.
    pub fn encode(&self) -> [u8; META_LEN] {
        let mut out = [0u8; META_LEN];
        out[0] = COLLECTION;
        out[1] = self.kind.tag();
        // Expiry 0 (the epoch) is always past: a key never keeps it, so it can mean none.
        let fields = [
            self.expires_at.unwrap_or(0),
            self.version,
            self.len,
            self.head,
            self.tail,
        ];
        for (i, field) in fields.iter().enumerate() {
            out[2 + 8 * i..10 + 8 * i].copy_from_slice(&field.to_le_bytes());
        }
        out
    }

    /// Parses the stored form.
    pub fn decode(raw: &[u8]) -> Result<Meta, BadValue> {
        let bad = || BadValue(raw.first().copied().unwrap_or(0), raw.len());
        let (&[COLLECTION, tag], rest) = raw.split_first_chunk::<2>().ok_or_else(bad)? else {
            return Err(bad());
        };
        let kind = Kind::of_tag(tag).ok_or_else(bad)?;
        let mut fields = [0u64; 5];
        for (i, field) in fields.iter_mut().enumerate() {
            let bytes = rest.get(8 * i..8 * i + 8).ok_or_else(bad)?;
            let mut le = [0u8; 8];
            le.copy_from_slice(bytes);
            *field = u64::from_le_bytes(le);
        }
        let [expires_at, version, len, head, tail] = fields;
        Ok(Meta {
            kind,
            expires_at: (expires_at != 0).then_some(expires_at),
            version,
            len,
            head,
            tail,
        })
    }
}

/// A key's value as stored: a string, or a collection's header.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Record {
    /// A string.
    Str(Entry),
    /// A hash, list, set or sorted set.
    Coll(Meta),
}

impl Record {
    /// Parses the stored form of either.
    pub fn decode(raw: Bytes) -> Result<Record, BadValue> {
        if is_collection(&raw) {
            Meta::decode(&raw).map(Record::Coll)
        } else {
            Entry::decode(raw).map(Record::Str)
        }
    }

    /// When the key expires.
    pub fn expires_at(&self) -> Option<u64> {
        match self {
            Record::Str(entry) => entry.expires_at,
            Record::Coll(meta) => meta.expires_at,
        }
    }

    /// Sets when the key expires.
    pub fn set_expires_at(&mut self, at: Option<u64>) {
        match self {
            Record::Str(entry) => entry.expires_at = at,
            Record::Coll(meta) => meta.expires_at = at,
        }
    }

    /// Whether the key is expired at `now` (unix ms).
    pub fn is_expired(&self, now: u64) -> bool {
        is_past(self.expires_at(), now)
    }

    /// The name TYPE reports.
    pub fn type_name(&self) -> &'static str {
        match self {
            Record::Str(_) => "string",
            Record::Coll(meta) => meta.kind.name(),
        }
    }
}

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

    /// The expiry of a stored value (a string or a collection's header) without decoding
    /// the rest: what the compaction filter needs. `None` for values without expiry or
    /// with an unknown header.
    pub fn stored_expiry(raw: &[u8]) -> Option<u64> {
        if is_collection(raw) {
            return Meta::decode(raw).ok().and_then(|meta| meta.expires_at);
        }
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
    fn a_collection_header_round_trips() {
        let mut meta = Meta::new(Kind::List, 99);
        meta.len = 3;
        meta.tail += 3;
        meta.expires_at = Some(1_700_000_000_000);
        assert_eq!(Meta::decode(&meta.encode()), Ok(meta));
        let raw = Bytes::copy_from_slice(&meta.encode());
        assert_eq!(Entry::stored_expiry(&raw), meta.expires_at);
        assert_eq!(Record::decode(raw), Ok(Record::Coll(meta)));
        assert!(Meta::decode(&meta.encode()[..20]).is_err());
        assert!(Meta::decode(b"\x02\x09").is_err());
    }
}
