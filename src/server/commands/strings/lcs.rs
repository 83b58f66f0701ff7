//! LCS: the longest common subsequence of two strings, computed as Redis's `lcsCommand`
//! does, with the same bound on the memory it takes.

use bytes::Bytes;

use crate::protocol::command::MAX_STRING_LEN;
use crate::protocol::Reply;
use crate::server::keyspace::{ExecError, Keyspace};

/// LCS's options (see [`StringCommand::Lcs`]).
pub(super) struct LcsOptions {
    pub len: bool,
    pub idx: bool,
    pub min_match_len: u64,
    pub with_match_len: bool,
}

/// LCS key1 key2 [LEN] [IDX] [MINMATCHLEN len] [WITHMATCHLEN], as Redis's `lcsCommand`
/// computes it: the dynamic-programming table of LCS lengths, then one walk back from its
/// end that collects the subsequence and the matching ranges (last first). A missing key
/// is the empty string. The table takes 4 bytes per pair of positions, refused past
/// proto-max-bulk-len as Redis refuses it.
pub(super) fn lcs(ks: &Keyspace, keys: &[Bytes], opts: &LcsOptions) -> Result<Reply, ExecError> {
    let value = |i: usize| -> Result<Bytes, ExecError> {
        let key = keys.get(i).map_or(&b""[..], |k| &k[..]);
        Ok(ks.get(key)?.map(|e| e.value).unwrap_or_default())
    };
    let (a, b) = (value(0)?, value(1)?);
    let (alen, blen) = (a.len(), b.len());
    let width = blen + 1;
    let cells = (alen + 1).saturating_mul(width);
    if cells.saturating_mul(4) > MAX_STRING_LEN {
        return Ok(Reply::error(
            "ERR Insufficient memory, transient memory for LCS exceeds proto-max-bulk-len",
        ));
    }
    let mut table: Vec<u32> = Vec::new();
    if table.try_reserve_exact(cells).is_err() {
        return Ok(Reply::error(
            "ERR Insufficient memory, failed allocating transient memory for LCS",
        ));
    }
    table.resize(cells, 0);
    let at = |i: usize, j: usize| i * width + j;
    for i in 1..=alen {
        for j in 1..=blen {
            table[at(i, j)] = if a[i - 1] == b[j - 1] {
                table[at(i - 1, j - 1)] + 1
            } else {
                table[at(i - 1, j)].max(table[at(i, j - 1)])
            };
        }
    }
    let total = table[at(alen, blen)];
    if opts.len && !opts.idx {
        return Ok(Reply::Integer(i64::from(total)));
    }
    let mut sequence = vec![0u8; total as usize];
    let mut ranges = Vec::new();
    let mut left = total as usize;
    // The current range, as (a start, a end, b start, b end); `None` between ranges.
    let mut range: Option<(usize, usize, usize, usize)> = None;
    let (mut i, mut j) = (alen, blen);
    while i > 0 && j > 0 {
        let mut emit = false;
        if a[i - 1] == b[j - 1] {
            sequence[left - 1] = a[i - 1];
            match &mut range {
                None => range = Some((i - 1, i - 1, j - 1, j - 1)),
                // Contiguous with the range: extend it backwards.
                Some((a_start, _, b_start, _)) if *a_start == i && *b_start == j => {
                    *a_start -= 1;
                    *b_start -= 1;
                }
                Some(_) => emit = true,
            }
            // A match at the first byte of either string ends the walk.
            if range.is_some_and(|(a_start, _, b_start, _)| a_start == 0 || b_start == 0) {
                emit = true;
            }
            left -= 1;
            i -= 1;
            j -= 1;
        } else {
            if table[at(i - 1, j)] > table[at(i, j - 1)] {
                i -= 1;
            } else {
                j -= 1;
            }
            emit = range.is_some();
        }
        if emit {
            if let Some((a_start, a_end, b_start, b_end)) = range.take() {
                let length = a_end - a_start + 1;
                if opts.idx && u64::try_from(length).is_ok_and(|n| n >= opts.min_match_len) {
                    let pair = |start: usize, end: usize| {
                        Reply::Array(vec![Reply::count(start), Reply::count(end)])
                    };
                    let mut entry = vec![pair(a_start, a_end), pair(b_start, b_end)];
                    if opts.with_match_len {
                        entry.push(Reply::count(length));
                    }
                    ranges.push(Reply::Array(entry));
                }
            }
        }
    }
    if !opts.idx {
        return Ok(Reply::Bulk(Bytes::from(sequence)));
    }
    Ok(Reply::Map(vec![
        (
            Reply::Bulk(Bytes::from_static(b"matches")),
            Reply::Array(ranges),
        ),
        (
            Reply::Bulk(Bytes::from_static(b"len")),
            Reply::Integer(i64::from(total)),
        ),
    ]))
}
