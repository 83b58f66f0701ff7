//! The bloom filter over a table's user keys: a get consults it before any data block,
//! so a key the table does not hold costs no block read most of the time.
//!
//! Layout: `lines` cache lines of 64 bytes (512 bits), then one byte with the number of
//! probes. A key's 64-bit xxh3 hash picks one line with its upper 32 bits and the probes'
//! bits inside that line with its lower 32 bits (each probe takes the top 9 bits of a
//! 32-bit state, then multiplies the state by the golden-ratio constant), so a probe costs
//! one cache miss, not one per probe (`RocksDB`'s "fast local bloom"). An empty filter (no
//! bytes) or an unknown probe count answers "maybe" for every key.

use xxhash_rust::xxh3::xxh3_64;

/// Bytes per cache line, the unit a key's probes stay inside.
const LINE: usize = 64;
/// Multiplier stepping the in-line probe state (2^32 / golden ratio).
const STEP: u32 = 0x9e37_79b9;
/// Most probes a filter may use.
const MAX_PROBES: u8 = 16;

/// The hash of a user key that the filter is built and probed with.
#[inline]
pub(crate) fn key_hash(key: &[u8]) -> u64 {
    xxh3_64(key)
}

/// The number of probes for a bits-per-key budget: a little under the `ln 2 * bits` of a
/// classic bloom filter, because confining probes to one line makes more of them cost
/// false positives.
fn probes_for(bits_per_key: usize) -> u8 {
    match bits_per_key {
        0..=2 => 1,
        3 => 2,
        4..=5 => 3,
        6 => 4,
        7..=8 => 5,
        9..=10 => 6,
        11 => 7,
        12..=14 => 8,
        15..=16 => 9,
        17..=18 => 10,
        19..=22 => 11,
        23..=25 => 12,
        _ => 13,
    }
}

#[inline]
fn line_of(h: u64, lines: usize) -> usize {
    (((h >> 32) * lines as u64) >> 32) as usize
}

/// Builds the filter for the given key hashes; `bits_per_key` 0 builds none (empty).
pub(crate) fn build(hashes: &[u64], bits_per_key: usize) -> Vec<u8> {
    if bits_per_key == 0 || hashes.is_empty() {
        return Vec::new();
    }
    let probes = probes_for(bits_per_key);
    let lines = (hashes.len().saturating_mul(bits_per_key))
        .div_ceil(LINE * 8)
        .clamp(1, u32::MAX as usize);
    let mut out = vec![0u8; lines * LINE + 1];
    for &h in hashes {
        let line = &mut out[line_of(h, lines) * LINE..][..LINE];
        let mut s = (h & 0xffff_ffff) as u32;
        for _ in 0..probes {
            let bit = (s >> (32 - 9)) as usize;
            line[bit / 8] |= 1 << (bit % 8);
            s = s.wrapping_mul(STEP);
        }
    }
    out[lines * LINE] = probes;
    out
}

/// Whether a key with hash `h` may be in the set `filter` was built from. An empty or
/// unknown filter answers yes (it may only cost a block read, never a wrong answer).
#[inline]
pub(crate) fn may_contain(filter: &[u8], h: u64) -> bool {
    let Some((&probes, bits)) = filter.split_last() else {
        return true;
    };
    let lines = bits.len() / LINE;
    if lines == 0 || probes == 0 || probes > MAX_PROBES {
        return true;
    }
    let line = &bits[line_of(h, lines) * LINE..][..LINE];
    let mut s = (h & 0xffff_ffff) as u32;
    for _ in 0..probes {
        let bit = (s >> (32 - 9)) as usize;
        if line[bit / 8] & (1 << (bit % 8)) == 0 {
            return false;
        }
        s = s.wrapping_mul(STEP);
    }
    true
}

/// Whether a filter's shape is one this code writes (checked when a table is opened, so a
/// damaged filter is reported rather than silently answering "maybe").
pub(crate) fn well_formed(filter: &[u8]) -> bool {
    match filter.split_last() {
        None => true,
        Some((&probes, bits)) => {
            !bits.is_empty() && bits.len() % LINE == 0 && (1..=MAX_PROBES).contains(&probes)
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn no_false_negatives_and_few_false_positives() {
        let hashes: Vec<u64> = (0..10_000u32)
            .map(|i| key_hash(format!("key{i}").as_bytes()))
            .collect();
        let f = build(&hashes, 10);
        assert!(well_formed(&f));
        assert!(hashes.iter().all(|&h| may_contain(&f, h)));
        let fp = (0..10_000u32)
            .filter(|i| may_contain(&f, key_hash(format!("other{i}").as_bytes())))
            .count();
        assert!(fp < 250, "{fp} false positives in 10000");
    }

    #[test]
    fn empty_filters_say_maybe() {
        assert!(build(&[], 10).is_empty());
        assert!(build(&[1, 2], 0).is_empty());
        assert!(may_contain(&[], 42));
        assert!(well_formed(&[]));
        assert!(!well_formed(&[0u8; 65][..64]));
    }
}
