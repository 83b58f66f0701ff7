//! List commands: pushes and pops at both ends, reads by index and range, LPOS, the moves
//! between lists, and the first, non-blocking attempt of the blocking pops (`server::
//! blocking` makes them wait). Their rows and parsers are in `protocol/command/lists.rs`;
//! the commands that edit the middle of a list (LSET, LINSERT, LREM, LTRIM) are in
//! `edit.rs`.
//!
//! A list is a header (`Meta`: `head`, the index of its first element, and `tail`, one
//! past its last) and one element record per index, suffix = the index as u64 big-endian
//! (docs/storage-format.md, "Lists"). A new list starts both at 2^63, so it can grow about
//! 2^63 elements either way: a push at either end is one element write and a header
//! write, LINDEX and LSET one point read, LRANGE one seek and a walk of what it returns.

use std::ops::Bound;

use bytes::{BufMut, Bytes, BytesMut};

mod edit;

use crate::protocol::command::{End, Keys, ListCommand};
use crate::protocol::Reply;
use crate::server::blocking::{self, block_if_none, out_of_range};
use crate::server::dispatch::Context;
use crate::server::keyspace::{ExecError, Keyspace};
use crate::server::value::{Kind, Meta};

type Result = std::result::Result<Reply, ExecError>;

/// Runs a list command on its keys.
pub(crate) fn run(cx: &mut Context, keys: Keys, command: ListCommand) -> Result {
    let woken = cx.session.woken;
    let ks = &mut *cx.ks;
    let mut keys = keys.into_iter();
    let key = keys.next().unwrap_or_default();
    match command {
        ListCommand::Push {
            end,
            elements,
            existing,
        } => push(ks, key, end, elements, existing),
        ListCommand::Pop { end, count } => pop_command(ks, key, end, count),
        ListCommand::Range { start, stop } => range(ks, &key, start, stop),
        ListCommand::Index { index } => lindex(ks, &key, index),
        ListCommand::Len => Ok(Reply::Integer(
            ks.collection(&key, Kind::List)?
                .map_or(0, |meta| signed(meta.len)),
        )),
        ListCommand::Set { index, element } => edit::lset(ks, key, index, element),
        ListCommand::Insert {
            before,
            pivot,
            element,
        } => edit::linsert(ks, key, before, &pivot, element),
        ListCommand::Rem { count, element } => edit::lrem(ks, key, count, &element),
        ListCommand::Trim { start, stop } => edit::ltrim(ks, key, start, stop),
        ListCommand::Pos {
            element,
            rank,
            count,
            maxlen,
        } => lpos(ks, &key, &element, rank, count, maxlen),
        ListCommand::Move { from, to, timeout } => {
            if let Some(error) = timeout.and_then(|t| out_of_range(ks, t)) {
                return Ok(error);
            }
            let destination = keys.next().unwrap_or_default();
            let reply = lmove(ks, key.clone(), destination, from, to, woken)?;
            Ok(block_if_none(cx, reply, vec![key], timeout, Reply::Null))
        }
        ListCommand::MPop {
            keys: _,
            end,
            count,
            timeout,
        } => {
            if let Some(error) = timeout.and_then(|t| out_of_range(ks, t)) {
                return Ok(error);
            }
            let all: Vec<Bytes> = std::iter::once(key).chain(keys).collect();
            let reply = mpop(ks, &all, end, count, true, woken)?;
            Ok(block_if_none(cx, reply, all, timeout, Reply::NullArray))
        }
        ListCommand::BPop { end, timeout } => {
            if let Some(error) = out_of_range(ks, timeout) {
                return Ok(error);
            }
            let all: Vec<Bytes> = std::iter::once(key).chain(keys).collect();
            let reply = mpop(ks, &all, end, 1, false, woken)?;
            Ok(block_if_none(
                cx,
                reply,
                all,
                Some(timeout),
                Reply::NullArray,
            ))
        }
    }
}

/// Redis's reply to an index that is not an integer.
pub(super) fn not_integer() -> Reply {
    Reply::error("ERR value is not an integer or out of range")
}

/// An integer reply of a count (counts fit `i64`: a list has fewer than 2^63 elements).
fn signed(n: u64) -> i64 {
    i64::try_from(n).unwrap_or(i64::MAX)
}

/// A list as a command works on it: its user key, header and element prefix.
pub(super) struct List {
    pub(super) key: Bytes,
    pub(super) meta: Meta,
    prefix: Bytes,
}

impl List {
    /// The live list under `key`, if any (WRONGTYPE if another type).
    pub(super) fn load(ks: &Keyspace, key: Bytes) -> std::result::Result<Option<List>, ExecError> {
        Ok(ks.collection(&key, Kind::List)?.map(|meta| List {
            prefix: ks.elements_of(&key, &meta),
            key,
            meta,
        }))
    }

    /// The list under `key`, or a new empty one.
    fn load_or_new(ks: &mut Keyspace, key: Bytes) -> std::result::Result<List, ExecError> {
        if let Some(list) = List::load(ks, key.clone())? {
            return Ok(list);
        }
        let meta = Meta::new(Kind::List, ks.new_version()?);
        Ok(List {
            prefix: ks.elements_of(&key, &meta),
            key,
            meta,
        })
    }

    /// The engine key of the element at absolute index `index`.
    pub(super) fn at(&self, index: u64) -> Bytes {
        let mut out = BytesMut::with_capacity(self.prefix.len() + 8);
        out.put_slice(&self.prefix);
        out.put_u64(index);
        out.freeze()
    }

    /// The absolute index of the element under the engine key `key`.
    pub(super) fn index_of(&self, key: &[u8]) -> u64 {
        let mut be = [0u8; 8];
        if let Some(suffix) = key.get(self.prefix.len()..self.prefix.len() + 8) {
            be.copy_from_slice(suffix);
        }
        u64::from_be_bytes(be)
    }

    /// The absolute index of a Redis index (negative from the end), if in the list.
    pub(super) fn absolute(&self, index: i64) -> Option<u64> {
        let len = i128::from(self.meta.len);
        let offset = if index < 0 {
            len + i128::from(index)
        } else {
            i128::from(index)
        };
        (0..len)
            .contains(&offset)
            .then(|| self.meta.head + u64::try_from(offset).unwrap_or(0))
    }

    /// The element at absolute index `index` (a missing record reads as empty: it cannot
    /// be missing unless the data is damaged).
    pub(super) fn get(&self, ks: &Keyspace, index: u64) -> std::result::Result<Bytes, ExecError> {
        Ok(ks.element(&self.at(index))?.unwrap_or_default())
    }

    /// Elements at absolute indexes `[from, to)`, in order or reversed, lazily.
    pub(super) fn walk<'k>(
        &self,
        ks: &'k Keyspace,
        from: u64,
        to: u64,
        reverse: bool,
    ) -> impl Iterator<Item = std::result::Result<(Bytes, Bytes), ExecError>> + 'k {
        ks.elements(
            Bound::Included(self.at(from)),
            Bound::Excluded(self.at(to)),
            reverse,
        )
    }

    fn push(&mut self, ks: &mut Keyspace, end: End, element: Bytes) {
        let index = match end {
            End::Left => {
                self.meta.head -= 1;
                self.meta.head
            }
            End::Right => {
                self.meta.tail += 1;
                self.meta.tail - 1
            }
        };
        self.meta.len += 1;
        ks.put_element(self.at(index), element);
    }

    fn pop(&mut self, ks: &mut Keyspace, end: End) -> std::result::Result<Bytes, ExecError> {
        let index = match end {
            End::Left => {
                self.meta.head += 1;
                self.meta.head - 1
            }
            End::Right => {
                self.meta.tail -= 1;
                self.meta.tail
            }
        };
        self.meta.len -= 1;
        let element = self.get(ks, index)?;
        ks.delete_element(self.at(index));
        Ok(element)
    }

    /// Stages the header (the key's removal when the list is empty).
    pub(super) fn save(self, ks: &mut Keyspace) {
        ks.put_meta(self.key, self.meta);
    }
}

/// LPUSH/RPUSH/LPUSHX/RPUSHX: the new length.
fn push(ks: &mut Keyspace, key: Bytes, end: End, elements: Vec<Bytes>, existing: bool) -> Result {
    let mut list = if existing {
        match List::load(ks, key)? {
            Some(list) => list,
            None => return Ok(Reply::Integer(0)),
        }
    } else {
        List::load_or_new(ks, key)?
    };
    // A list grows by at most u64::MAX / 2 each way from the middle: past that, refuse.
    let room = match end {
        End::Left => list.meta.head,
        End::Right => u64::MAX - list.meta.tail,
    };
    if room < elements.len() as u64 {
        return Ok(Reply::error("ERR list is full at this end"));
    }
    for element in elements {
        list.push(ks, end, element);
    }
    let len = list.meta.len;
    ks.shared().blocking.key_ready(ks.database(), &list.key);
    list.save(ks);
    Ok(Reply::Integer(signed(len)))
}

/// Pops up to `count` from `list`.
fn pop_many(
    ks: &mut Keyspace,
    list: &mut List,
    end: End,
    count: u64,
) -> std::result::Result<Vec<Reply>, ExecError> {
    let n = count.min(list.meta.len);
    let mut out = Vec::with_capacity(usize::try_from(n).unwrap_or(0));
    for _ in 0..n {
        out.push(Reply::Bulk(list.pop(ks, end)?));
    }
    Ok(out)
}

/// LPOP/RPOP key [count].
fn pop_command(ks: &mut Keyspace, key: Bytes, end: End, count: Option<u64>) -> Result {
    let Some(mut list) = List::load(ks, key)? else {
        return Ok(if count.is_some() {
            Reply::NullArray
        } else {
            Reply::Null
        });
    };
    let reply = match count {
        None => Reply::Bulk(list.pop(ks, end)?),
        Some(count) => Reply::Array(pop_many(ks, &mut list, end, count)?),
    };
    list.save(ks);
    Ok(reply)
}

/// LMPOP/BLMPOP (`with_count`: `[key, [elements]]`) and BLPOP/BRPOP (`[key, element]`)
/// from the first non-empty list of `keys`; `None` when all are empty. A key of another
/// type met before a non-empty list is WRONGTYPE.
fn mpop(
    ks: &mut Keyspace,
    keys: &[Bytes],
    end: End,
    count: u64,
    with_count: bool,
    woken: bool,
) -> std::result::Result<Option<Reply>, ExecError> {
    for key in keys {
        let Some(mut list) = blocking::source(List::load(ks, key.clone()), woken)? else {
            continue;
        };
        let mut popped = pop_many(ks, &mut list, end, count)?;
        list.save(ks);
        let key = Reply::Bulk(key.clone());
        return Ok(Some(if with_count {
            Reply::Array(vec![key, Reply::Array(popped)])
        } else {
            Reply::Array(vec![key, popped.pop().unwrap_or(Reply::Null)])
        }));
    }
    Ok(None)
}

/// LMOVE/RPOPLPUSH and the first try of BLMOVE/BRPOPLPUSH: the element moved, or `None`
/// when the source is empty. As Redis, the source's type is checked first, the
/// destination's only when there is something to move.
fn lmove(
    ks: &mut Keyspace,
    source: Bytes,
    destination: Bytes,
    from: End,
    to: End,
    woken: bool,
) -> std::result::Result<Option<Reply>, ExecError> {
    let Some(mut list) = blocking::source(List::load(ks, source), woken)? else {
        return Ok(None);
    };
    if list.key != destination {
        ks.collection(&destination, Kind::List)?;
    }
    let element = list.pop(ks, from)?;
    list.save(ks);
    // Reloaded: the destination may be the source, just changed.
    let mut target = List::load_or_new(ks, destination)?;
    target.push(ks, to, element.clone());
    ks.shared().blocking.key_ready(ks.database(), &target.key);
    target.save(ks);
    Ok(Some(Reply::Bulk(element)))
}

/// Redis's normalisation of a `start stop` pair over `len` elements: the offsets
/// `[start, stop]` (inclusive) within the list, or `None` when the range is empty.
pub(super) fn span(len: u64, start: i64, stop: i64) -> Option<(u64, u64)> {
    let len = i128::from(len);
    let mut start = i128::from(start);
    let mut stop = i128::from(stop);
    if start < 0 {
        start += len;
    }
    if stop < 0 {
        stop += len;
    }
    start = start.max(0);
    if start > stop || start >= len {
        return None;
    }
    stop = stop.min(len - 1);
    Some((u64::try_from(start).ok()?, u64::try_from(stop).ok()?))
}

/// LRANGE key start stop: one seek, then the elements it returns.
fn range(ks: &Keyspace, key: &Bytes, start: i64, stop: i64) -> Result {
    let Some(list) = List::load(ks, key.clone())? else {
        return Ok(Reply::Array(Vec::new()));
    };
    let Some((start, stop)) = span(list.meta.len, start, stop) else {
        return Ok(Reply::Array(Vec::new()));
    };
    let n = stop - start + 1;
    let mut out = Vec::with_capacity(usize::try_from(n.min(1 << 16)).unwrap_or(0));
    let from = list.meta.head + start;
    for item in list.walk(ks, from, from + n, false) {
        out.push(Reply::Bulk(item?.1));
    }
    Ok(Reply::Array(out))
}

/// LINDEX key index: one point read.
fn lindex(ks: &Keyspace, key: &Bytes, index: Option<i64>) -> Result {
    let Some(list) = List::load(ks, key.clone())? else {
        return Ok(Reply::Null);
    };
    let Some(index) = index else {
        return Ok(not_integer());
    };
    match list.absolute(index) {
        Some(at) => Ok(Reply::Bulk(list.get(ks, at)?)),
        None => Ok(Reply::Null),
    }
}

/// LPOS key element [RANK r] [COUNT n] [MAXLEN m], walking from the head (or the tail
/// for a negative rank) and stopping as soon as it has its answer.
fn lpos(
    ks: &Keyspace,
    key: &Bytes,
    element: &[u8],
    rank: i64,
    count: Option<u64>,
    maxlen: u64,
) -> Result {
    let none = || match count {
        Some(_) => Reply::Array(Vec::new()),
        None => Reply::Null,
    };
    let Some(list) = List::load(ks, key.clone())? else {
        return Ok(none());
    };
    let reverse = rank < 0;
    // Redis's i64::MIN, negated, stays negative: every match then counts, as rank -1.
    let skip = rank.unsigned_abs() - 1;
    let limit = if maxlen == 0 { u64::MAX } else { maxlen };
    let wanted = match count {
        Some(0) => u64::MAX,
        Some(n) => n,
        None => 1,
    };
    let mut matches = 0u64;
    let mut found = Vec::new();
    let walk = list.walk(ks, list.meta.head, list.meta.tail, reverse);
    for item in walk.take(usize::try_from(limit).unwrap_or(usize::MAX)) {
        let (engine_key, value) = item?;
        if value != element {
            continue;
        }
        matches += 1;
        if matches > skip || rank == i64::MIN {
            let offset = list.index_of(&engine_key) - list.meta.head;
            found.push(Reply::Integer(signed(offset)));
            if found.len() as u64 >= wanted {
                break;
            }
        }
    }
    Ok(match count {
        Some(_) => Reply::Array(found),
        None => found.pop().unwrap_or(Reply::Null),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn spans_normalise_as_redis_does() {
        assert_eq!(span(5, 0, -1), Some((0, 4)));
        assert_eq!(span(5, -100, 100), Some((0, 4)));
        assert_eq!(span(5, 3, 1), None);
        assert_eq!(span(5, 5, 10), None);
        assert_eq!(span(5, -2, -1), Some((3, 4)));
        assert_eq!(span(0, 0, -1), None);
        assert_eq!(span(5, i64::MIN, i64::MAX), Some((0, 4)));
    }

    #[test]
    fn index_keys_sort_in_list_order() {
        let list = List {
            key: Bytes::from_static(b"k"),
            meta: Meta::new(Kind::List, 1),
            prefix: Bytes::from_static(b"p"),
        };
        let mid = 1u64 << 63;
        let keys = [
            list.at(mid - 1),
            list.at(mid),
            list.at(mid + 1),
            list.at(u64::MAX),
        ];
        assert!(keys.windows(2).all(|w| w[0] < w[1]));
        assert_eq!(list.index_of(&list.at(mid + 7)), mid + 7);
    }
}
