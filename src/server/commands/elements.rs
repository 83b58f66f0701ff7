//! What the commands of every collection type share: the cursor walk of HSCAN, SSCAN and
//! ZSCAN over one collection's elements.
//!
//! A cursor names the last element a call examined (kept in `ScanCursors`, as SCAN's are),
//! so a full iteration sees every element present throughout it, in element order. A cursor
//! of another collection, or of an older version of this one, resumes at the nearest place
//! in this one rather than failing: Redis takes any number as a cursor.

use std::ops::Bound;

use bytes::Bytes;

use crate::protocol::Reply;
use crate::server::keyspace::{ExecError, Keyspace};
use crate::server::layout;

/// Elements an xSCAN call examines when COUNT is not given (Redis's default).
const DEFAULT_COUNT: usize = 10;

/// One xSCAN call over the elements under `prefix` (their engine keys' common prefix):
/// examines up to `count` elements after `cursor`, handing each to `emit` as its suffix
/// (the engine key past `prefix`) and value; `emit` pushes the reply items it wants
/// (none, when MATCH rejects the element). Replies `[next cursor, items]`.
pub(crate) fn scan(
    ks: &Keyspace,
    prefix: &Bytes,
    cursor: u64,
    count: Option<usize>,
    mut emit: impl FnMut(&[u8], &Bytes, &mut Vec<Reply>),
) -> Result<Reply, ExecError> {
    let cursors = &ks.shared().cursors;
    let end = layout::prefix_end(prefix).map_or(Bound::Unbounded, Bound::Excluded);
    let start = if cursor == 0 {
        Some(Bound::Included(prefix.clone()))
    } else {
        match cursors.resume_key(cursor) {
            None => return Ok(Reply::error("ERR invalid cursor")),
            Some(key) if key.starts_with(prefix) => Some(Bound::Excluded(key)),
            Some(key) if key < *prefix => Some(Bound::Included(prefix.clone())),
            // Past this collection: the iteration is over.
            Some(_) => None,
        }
    };
    let mut items = Vec::new();
    let mut next = 0;
    if let Some(start) = start {
        let budget = count.unwrap_or(DEFAULT_COUNT).max(1);
        let mut elements = ks.elements(start, end, false);
        let mut last = None;
        for item in elements.by_ref().take(budget) {
            let (key, value) = item?;
            emit(&key[prefix.len()..], &value, &mut items);
            last = Some(key);
        }
        if let (Some(last), Some(more)) = (last, elements.next()) {
            more?;
            next = cursors.save(last);
        }
    }
    Ok(Reply::Array(vec![
        Reply::Bulk(Bytes::from(next.to_string())),
        Reply::Array(items),
    ]))
}
