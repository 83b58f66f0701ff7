//! What the engine's flushes and compactions may drop of the server's data: keys whose
//! expiry has passed, and the elements of collections that are gone (deleted, overwritten,
//! expired, or of an older version), so a big key leaves the disk without anyone
//! deleting its elements one by one.
//!
//! It never drops what a reader of the present could reach: an element goes only when its
//! collection's header, read as it is now, is missing, expired, another type or another
//! version. A version that is dead stays dead (versions are never reused), so a verdict
//! is remembered for the elements that follow, which lie together.

use bytes::Bytes;
use parking_lot::Mutex;

use super::layout;
use super::value::{now_millis, Entry, Meta};
use crate::storage::{CompactionFilter, Lookup};

/// The server's compaction filter.
#[derive(Debug, Default)]
pub struct DeadRecords {
    /// The last collection looked up: its header's engine key, its version, and whether
    /// that version was live.
    last: Mutex<Option<(Bytes, u64, bool)>>,
}

impl CompactionFilter for DeadRecords {
    fn remove(&self, key: &[u8], value: &[u8]) -> bool {
        // Without a way to look at headers, only expiry is decided.
        key.first() != Some(&layout::ELEMENT) && expired(value)
    }

    fn remove_given(&self, key: &[u8], value: &[u8], current: &Lookup<'_>) -> bool {
        match key.first() {
            Some(&layout::ELEMENT) => self.orphan(key, current),
            Some(&layout::KEY) => expired(value),
            _ => false,
        }
    }
}

impl DeadRecords {
    /// Whether the element under `key` belongs to no live collection.
    fn orphan(&self, key: &[u8], current: &Lookup<'_>) -> bool {
        // An element key this server did not write is kept, never guessed at.
        let Some(element) = layout::element_of(key) else {
            return false;
        };
        let header = layout::key(element.db, element.key);
        if let Some((last, version, live)) = &*self.last.lock() {
            if last[..] == header[..] && *version == element.version {
                return !live;
            }
        }
        let live = match current(&header) {
            Ok(Some(raw)) => Meta::decode(&raw).is_ok_and(|meta| {
                meta.version == element.version && !meta.is_expired(now_millis())
            }),
            Ok(None) => false,
            // Unknown is kept, and not remembered.
            Err(_) => return false,
        };
        *self.last.lock() = Some((Bytes::copy_from_slice(&header), element.version, live));
        !live
    }
}

/// Whether a key's stored value has an expiry that has passed.
fn expired(value: &[u8]) -> bool {
    Entry::stored_expiry(value).is_some_and(|at| at <= now_millis())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::server::value::Kind;

    fn stored(expires_at: Option<u64>) -> Vec<u8> {
        Entry {
            value: Bytes::from_static(b"v"),
            expires_at,
        }
        .encode()
        .to_vec()
    }

    #[test]
    fn drops_only_expired_keys() {
        let none = |_: &[u8]| Ok(None);
        let now = now_millis();
        let filter = DeadRecords::default();
        let key = layout::key(0, b"k");
        assert!(filter.remove_given(&key, &stored(Some(now - 1)), &none));
        assert!(!filter.remove_given(&key, &stored(Some(now + 60_000)), &none));
        assert!(!filter.remove_given(&key, &stored(None), &none));
        // A header this server does not know is kept, never guessed at.
        assert!(!filter.remove_given(&key, b"\x07whatever", &none));
        let mut meta = Meta::new(Kind::Hash, 7);
        meta.expires_at = Some(now - 1);
        assert!(filter.remove_given(&key, &meta.encode(), &none));
        assert!(!filter.remove_given(layout::FORMAT_KEY, &stored(Some(1)), &none));
    }

    #[test]
    fn drops_elements_of_collections_that_are_gone() {
        let mut meta = Meta::new(Kind::Set, 7);
        meta.len = 1;
        let header = Bytes::copy_from_slice(&meta.encode());
        let live = |key: &[u8]| Ok((key == &layout::key(0, b"s")[..]).then(|| header.clone()));
        let element = |key: &[u8], version| {
            let mut k = layout::elements(0, key, version).to_vec();
            k.extend_from_slice(b"member");
            k
        };
        let filter = DeadRecords::default();
        assert!(!filter.remove_given(&element(b"s", 7), b"", &live));
        assert!(filter.remove_given(&element(b"s", 6), b"", &live));
        assert!(filter.remove_given(&element(b"gone", 7), b"", &live));
        let failing = |_: &[u8]| {
            Err(crate::storage::Error::io(
                "t",
                std::io::Error::other("test"),
            ))
        };
        assert!(!DeadRecords::default().remove_given(&element(b"x", 1), b"", &failing));
    }

    #[test]
    fn a_deleted_or_expired_collection_leaves_the_disk_at_compaction() {
        use crate::storage::{Db, Options, WriteBatch};
        use std::sync::Arc;
        let dir = tempfile::tempdir().unwrap();
        let options = Options {
            compaction_filter: Some(Arc::new(DeadRecords::default())),
            ..Options::default()
        };
        let db = Db::open(dir.path(), options).unwrap();
        let mut expired = Meta::new(Kind::Hash, 1);
        expired.len = 1000;
        expired.expires_at = Some(now_millis() + 200);
        let mut live = Meta::new(Kind::Set, 2);
        live.len = 1000;
        let mut batch = WriteBatch::new();
        for (key, meta) in [
            (&b"deleted"[..], expired),
            (b"expiring", expired),
            (b"kept", live),
        ] {
            let prefix = layout::elements(0, key, meta.version);
            for i in 0..1000u32 {
                let mut element = prefix.to_vec();
                element.extend_from_slice(&i.to_be_bytes());
                batch.put(&element, b"value");
            }
            batch.put(&layout::key(0, key), &meta.encode());
        }
        db.write(batch).unwrap();
        db.delete(&layout::key(0, b"deleted")).unwrap();
        std::thread::sleep(std::time::Duration::from_millis(300));
        db.flush().unwrap();
        db.compact().unwrap();
        let left = |key: &[u8], version| {
            let prefix = layout::elements(0, key, version);
            let end = layout::prefix_end(&prefix).unwrap();
            db.range(prefix..end).count()
        };
        assert_eq!(left(b"deleted", 1), 0);
        assert_eq!(left(b"expiring", 1), 0);
        assert_eq!(left(b"kept", 2), 1000);
    }
}
