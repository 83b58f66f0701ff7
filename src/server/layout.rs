//! Where the server's data lies in the engine's one ordered key space: the engine key of a
//! user's key in a numbered database, of an element of a hash, list, set or sorted set, and
//! of the server's own records.
//!
//! ```text
//! key      0x00 | db | user key                                   -> string or collection header
//! element  0x01 | db | user key length (u32 BE) | user key | version (u64 BE) | suffix
//! server   0xFF | name                                            -> the server's own records
//! ```
//!
//! Keys of one database are contiguous and in user-key order, so SCAN, KEYS and RANGE walk
//! them without stepping over a single element; the elements of one collection are
//! contiguous and ordered by their suffix, so HGET of one field is one point read and
//! ZRANGEBYSCORE one seek. The version (see `value::Meta`) is new each time a collection is
//! created: deleting one drops only its header, and the elements of an older version are
//! invisible at once and dropped by compaction (`server::compaction`). The format is part
//! of the on-disk format (docs/storage-format.md, "Server keys") and must never change in
//! place; [`FORMAT`] names it.

use bytes::{BufMut, Bytes, BytesMut};
use smallvec::SmallVec;

/// First byte of the engine key of a user's key.
pub const KEY: u8 = 0x00;
/// First byte of the engine key of a collection's element.
pub const ELEMENT: u8 = 0x01;
/// The server record naming the key format, written when a data directory is created.
pub const FORMAT_KEY: &[u8] = b"\xffformat";
/// The key format this server writes and reads.
pub const FORMAT: &[u8] = b"cairn-keys-2";
/// The server record mapping numbered databases to stored ones, once a SWAPDB has run
/// (`server::databases`).
pub const DATABASES_KEY: &[u8] = b"\xffdatabases";
/// The server record every collection version drawn is below (`server::versions`).
pub const VERSION_FLOOR_KEY: &[u8] = b"\xffversion-floor";

/// Databases a server can have: the database number is one byte of every key.
pub const MAX_DATABASES: usize = 256;

/// An engine key built on the stack: no allocation for the keys of a point read.
pub type KeyBuf = SmallVec<[u8; 64]>;

/// The engine key of `key` in database `db`.
pub fn key(db: u8, key: &[u8]) -> KeyBuf {
    let mut out = KeyBuf::with_capacity(2 + key.len());
    out.push(KEY);
    out.push(db);
    out.extend_from_slice(key);
    out
}

/// The engine key of `key` in database `db`, to keep (a staged write).
pub fn key_bytes(db: u8, key: &[u8]) -> Bytes {
    let mut out = BytesMut::with_capacity(2 + key.len());
    out.put_u8(KEY);
    out.put_u8(db);
    out.put_slice(key);
    out.freeze()
}

/// The engine keys of every user key of database `db`: `[start, end)`.
pub fn database(db: u8) -> (Bytes, Bytes) {
    let start = Bytes::copy_from_slice(&[KEY, db]);
    let end = match db.checked_add(1) {
        Some(next) => Bytes::copy_from_slice(&[KEY, next]),
        None => Bytes::from_static(&[ELEMENT]),
    };
    (start, end)
}

/// The engine keys of every user key of every database: `[start, end)`.
pub fn every_database() -> (Bytes, Bytes) {
    (Bytes::from_static(&[KEY]), Bytes::from_static(&[ELEMENT]))
}

/// The common prefix of the engine keys of the elements of one version of a collection.
pub fn elements(db: u8, key: &[u8], version: u64) -> Bytes {
    let mut out = BytesMut::with_capacity(2 + 4 + key.len() + 8);
    out.put_u8(ELEMENT);
    out.put_u8(db);
    // Keys are at most 512 MB (the protocol's limit), so the length fits.
    out.put_u32(u32::try_from(key.len()).unwrap_or(u32::MAX));
    out.put_slice(key);
    out.put_u64(version);
    out.freeze()
}

/// The first engine key after every key starting with `prefix`, or `None` when there is
/// none (a prefix of only 0xFF bytes).
pub fn prefix_end(prefix: &[u8]) -> Option<Bytes> {
    let mut end = prefix.to_vec();
    while let Some(last) = end.pop() {
        if last < 0xFF {
            end.push(last + 1);
            return Some(Bytes::from(end));
        }
    }
    None
}

/// An element's engine key taken apart: its collection's engine key and version.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ElementOf<'a> {
    /// The database.
    pub db: u8,
    /// The user key of the collection.
    pub key: &'a [u8],
    /// The collection's version.
    pub version: u64,
    /// What follows the prefix (the field, member, score or index).
    pub suffix: &'a [u8],
}

/// Parses an element's engine key; `None` when `engine_key` is not one.
pub fn element_of(engine_key: &[u8]) -> Option<ElementOf<'_>> {
    let [ELEMENT, db, rest @ ..] = engine_key else {
        return None;
    };
    let (len, rest) = rest.split_first_chunk::<4>()?;
    let len = usize::try_from(u32::from_be_bytes(*len)).ok()?;
    if rest.len() < len {
        return None;
    }
    let (key, rest) = rest.split_at(len);
    let (version, suffix) = rest.split_first_chunk::<8>()?;
    Some(ElementOf {
        db: *db,
        key,
        version: u64::from_be_bytes(*version),
        suffix,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn keys_of_one_database_sort_together_and_apart_from_elements() {
        let mut keys = [
            key(1, b"a").to_vec(),
            key(0, b"\xff\xff").to_vec(),
            elements(0, b"", 1).to_vec(),
            key(0, b"").to_vec(),
            FORMAT_KEY.to_vec(),
        ];
        keys.sort();
        assert_eq!(keys[0], key(0, b"").to_vec());
        assert_eq!(keys[1], key(0, b"\xff\xff").to_vec());
        assert_eq!(keys[2], key(1, b"a").to_vec());
        assert_eq!(keys[4], FORMAT_KEY.to_vec());
        let (start, end) = database(0);
        assert!(keys[1].as_slice() >= &start[..] && keys[1].as_slice() < &end[..]);
        assert!(keys[2].as_slice() >= &end[..]);
        let (start, end) = database(255);
        assert!(key(255, b"\xff").as_slice() >= &start[..]);
        assert!(key(255, b"\xff").as_slice() < &end[..]);
    }

    #[test]
    fn an_element_key_parses_back() {
        let mut engine_key = elements(3, b"my\x00key", 42).to_vec();
        engine_key.extend_from_slice(b"field");
        let parsed = element_of(&engine_key).unwrap();
        assert_eq!(
            parsed,
            ElementOf {
                db: 3,
                key: b"my\x00key",
                version: 42,
                suffix: b"field"
            }
        );
        assert_eq!(element_of(&key(3, b"k")), None);
        assert_eq!(element_of(b"\x01\x00\x00\x00\x00\x09ab"), None);
    }

    #[test]
    fn one_collections_elements_do_not_share_a_prefix_with_anothers() {
        // "a" of version 1 and "a\x00..." can never interleave: the length comes first.
        let a = elements(0, b"a", 1);
        let ab = elements(0, b"ab", 1);
        assert!(!ab.starts_with(&a));
        assert_eq!(prefix_end(b"a\xff").as_deref(), Some(&b"b"[..]));
        assert_eq!(prefix_end(b"\xff\xff"), None);
    }
}
