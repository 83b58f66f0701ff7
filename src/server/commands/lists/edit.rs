//! The list commands that change the middle of a list: LSET (one point write), LINSERT and
//! LREM (which shift elements), LTRIM (which deletes from both ends).
//!
//! Elements are stored by absolute index, so opening or closing a gap in the middle moves
//! every element on one side of it. LINSERT and LREM move the shorter side: LINSERT at
//! offset `q` of `n` elements rewrites `min(q, n - q)` elements (and the header), so an
//! insert near either end is cheap and one in the middle costs n/2 writes; LREM reads the
//! list (O(n), as in Redis) and rewrites the survivors between its first and last removal
//! and whichever end is nearer, plus one delete per removed element. Every write of one
//! command is one atomic batch, so a crash never leaves a half-shifted list.

use bytes::Bytes;

use super::{not_integer, signed, span, List, Result};
use crate::protocol::Reply;
use crate::server::keyspace::{ExecError, Keyspace};

/// LSET key index element.
pub(super) fn lset(ks: &mut Keyspace, key: Bytes, index: Option<i64>, element: Bytes) -> Result {
    let Some(list) = List::load(ks, key)? else {
        return Ok(Reply::error("ERR no such key"));
    };
    let Some(index) = index else {
        return Ok(not_integer());
    };
    let Some(at) = list.absolute(index) else {
        return Ok(Reply::error("ERR index out of range"));
    };
    ks.put_element(list.at(at), element);
    list.save(ks);
    Ok(Reply::ok())
}

/// LINSERT key BEFORE|AFTER pivot element: the new length, -1 without the pivot, 0
/// without the list.
pub(super) fn linsert(
    ks: &mut Keyspace,
    key: Bytes,
    before: bool,
    pivot: &[u8],
    element: Bytes,
) -> Result {
    let Some(mut list) = List::load(ks, key)? else {
        return Ok(Reply::Integer(0));
    };
    let (head, tail) = (list.meta.head, list.meta.tail);
    let mut found = None;
    for item in list.walk(ks, head, tail, false) {
        let (engine_key, value) = item?;
        if value == pivot {
            found = Some(list.index_of(&engine_key) - head);
            break;
        }
    }
    let Some(offset) = found else {
        return Ok(Reply::Integer(-1));
    };
    // The new element's offset once inserted.
    let at = if before { offset } else { offset + 1 };
    let len = list.meta.len;
    if at <= len - at && head > 0 {
        // Move offsets [0, at) one down: the element lands just before the old `at`.
        let moved = read(ks, &list, head, head + at)?;
        for (i, value) in moved.into_iter().enumerate() {
            ks.put_element(list.at(head - 1 + i as u64), value);
        }
        ks.put_element(list.at(head + at - 1), element);
        list.meta.head -= 1;
    } else if tail < u64::MAX {
        // Move offsets [at, len) one up.
        let moved = read(ks, &list, head + at, tail)?;
        for (i, value) in moved.into_iter().enumerate() {
            ks.put_element(list.at(head + at + 1 + i as u64), value);
        }
        ks.put_element(list.at(head + at), element);
        list.meta.tail += 1;
    } else {
        return Ok(Reply::error("ERR list is full at this end"));
    }
    list.meta.len += 1;
    let len = list.meta.len;
    list.save(ks);
    Ok(Reply::Integer(signed(len)))
}

/// The elements at absolute indexes `[from, to)`.
fn read(
    ks: &Keyspace,
    list: &List,
    from: u64,
    to: u64,
) -> std::result::Result<Vec<Bytes>, ExecError> {
    let mut out = Vec::with_capacity(usize::try_from((to - from).min(1 << 16)).unwrap_or(0));
    for item in list.walk(ks, from, to, false) {
        out.push(item?.1);
    }
    Ok(out)
}

/// LREM key count element: how many were removed.
pub(super) fn lrem(ks: &mut Keyspace, key: Bytes, count: i64, element: &[u8]) -> Result {
    let Some(mut list) = List::load(ks, key)? else {
        return Ok(Reply::Integer(0));
    };
    let (head, tail) = (list.meta.head, list.meta.tail);
    let values = read(ks, &list, head, tail)?;
    let limit = if count == 0 {
        u64::MAX
    } else {
        count.unsigned_abs()
    };
    // Offsets removed, found from the head (or the tail for a negative count).
    let mut removed = vec![false; values.len()];
    let mut n = 0u64;
    let order: Box<dyn Iterator<Item = usize>> = if count < 0 {
        Box::new((0..values.len()).rev())
    } else {
        Box::new(0..values.len())
    };
    for i in order {
        if n == limit {
            break;
        }
        if values[i] == element {
            removed[i] = true;
            n += 1;
        }
    }
    if n == 0 {
        return Ok(Reply::Integer(0));
    }
    let first = removed.iter().position(|&r| r).unwrap_or(0);
    let last = removed.iter().rposition(|&r| r).unwrap_or(0);
    let survivors = |range: std::ops::Range<usize>| {
        range
            .filter(|&i| !removed[i])
            .map(|i| values[i].clone())
            .collect::<Vec<_>>()
    };
    if last < values.len() - first {
        // Close the gaps by moving the head side up: offsets [0, last] shift towards the tail.
        let kept = survivors(0..last);
        for i in 0..n {
            ks.delete_element(list.at(head + i));
        }
        for (i, value) in kept.into_iter().enumerate() {
            ks.put_element(list.at(head + n + i as u64), value);
        }
        list.meta.head += n;
    } else {
        // Move the tail side down: offsets past `first` shift towards the head.
        let kept = survivors(first + 1..values.len());
        for (i, value) in kept.into_iter().enumerate() {
            ks.put_element(list.at(head + first as u64 + i as u64), value);
        }
        for i in 0..n {
            ks.delete_element(list.at(tail - 1 - i));
        }
        list.meta.tail -= n;
    }
    list.meta.len -= n;
    list.save(ks);
    Ok(Reply::Integer(signed(n)))
}

/// LTRIM key start stop: deletes the elements outside the range (the whole key when none
/// is left, leaving its elements to compaction).
pub(super) fn ltrim(ks: &mut Keyspace, key: Bytes, start: i64, stop: i64) -> Result {
    let Some(mut list) = List::load(ks, key)? else {
        return Ok(Reply::ok());
    };
    let (head, tail) = (list.meta.head, list.meta.tail);
    match span(list.meta.len, start, stop) {
        None => list.meta.len = 0,
        Some((start, stop)) => {
            for index in head..head + start {
                ks.delete_element(list.at(index));
            }
            for index in head + stop + 1..tail {
                ks.delete_element(list.at(index));
            }
            list.meta.head = head + start;
            list.meta.tail = head + stop + 1;
            list.meta.len = stop - start + 1;
        }
    }
    list.save(ks);
    Ok(Reply::ok())
}
