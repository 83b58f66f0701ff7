//! The log's records and segments against hand-made files: round trips, torn and
//! zero-filled tails, damage in the middle, and segment creation.

use super::*;
use crate::storage::batch::WriteBatch;

fn record(seq: u64, key: &[u8], value: &[u8]) -> Vec<u8> {
    let mut b = WriteBatch::new();
    b.put(key, value);
    let payload = b.into_payload(seq);
    let mut buf = Vec::new();
    encode_record(&mut buf, KIND_BATCH, &payload);
    buf
}

fn file_of(n: u64) -> Vec<u8> {
    let mut data = Vec::new();
    for i in 1..=n {
        data.extend(record(
            i,
            format!("key{i}").as_bytes(),
            &[i.to_le_bytes()[0]; 40],
        ));
    }
    data
}

fn read(data: Vec<u8>, newest: bool) -> (Result<Tail>, Vec<u64>) {
    let mut seqs = Vec::new();
    let r = read_segment(
        Path::new("000001.wal"),
        &Bytes::from(data),
        newest,
        |_, s, _, _| {
            seqs.push(s);
            Ok(())
        },
    );
    (r, seqs)
}

#[test]
fn round_trip() {
    let (r, seqs) = read(file_of(5), false);
    assert_eq!(r.ok(), Some(Tail::Clean));
    assert_eq!(seqs, vec![1, 2, 3, 4, 5]);
    let data = Bytes::from(record(9, b"k", b"v"));
    let (kind, range) = decode_at(&data, 0).expect("valid record");
    assert_eq!(kind, KIND_BATCH);
    let ops: Vec<_> = crate::storage::batch::Ops::new(&data[range]).collect();
    assert_eq!(ops[0].key, b"k");
    assert_eq!(ops[0].value, Some(&b"v"[..]));
}

#[test]
fn every_flipped_bit_is_caught() {
    let one = record(1, b"key", b"value");
    for byte in 0..one.len() {
        for bit in 0..8 {
            let mut d = one.clone();
            d[byte] ^= 1 << bit;
            assert!(decode_at(&d, 0).is_err(), "flip {byte}.{bit} undetected");
        }
    }
}

#[test]
fn flipped_bit_in_last_record_of_newest_is_a_torn_tail() {
    let mut data = file_of(3);
    let len = data.len();
    data[len - 5] ^= 0x10;
    let (r, seqs) = read(data, true);
    let third = (record(1, b"key1", &[1; 40]).len() * 2) as u64;
    assert!(matches!(r, Ok(Tail::Torn { offset, .. }) if offset == third));
    assert_eq!(seqs, vec![1, 2]);
}

#[test]
fn truncated_tail() {
    let full = file_of(3);
    let two = record(1, b"key1", &[1; 40]).len() * 2;
    for cut in two + 1..full.len() {
        let (r, seqs) = read(full[..cut].to_vec(), true);
        assert!(
            matches!(r, Ok(Tail::Torn { offset, .. }) if offset == two as u64),
            "cut {cut}: {r:?}"
        );
        assert_eq!(seqs, vec![1, 2]);
        // The same damage in an older segment is an error naming the offset.
        let (r, _) = read(full[..cut].to_vec(), false);
        assert!(
            matches!(r, Err(Error::Corruption { offset, .. }) if offset == two as u64),
            "cut {cut}"
        );
    }
}

#[test]
fn zero_filled_tail() {
    let mut data = file_of(2);
    let end = data.len() as u64;
    data.extend(std::iter::repeat_n(0u8, 4096));
    // Preallocated space never written, in the newest segment or an older one.
    for newest in [true, false] {
        let (r, seqs) = read(data.clone(), newest);
        assert!(matches!(r, Ok(Tail::Zeroed { offset }) if offset == end));
        assert_eq!(seqs, vec![1, 2]);
    }
    // A zeroed stretch with something after it is damage, not a tail.
    data.push(1);
    let (r, _) = read(data, false);
    assert!(matches!(r, Err(Error::Corruption { offset, .. }) if offset == end));
}

#[test]
fn a_segment_appends_in_place_and_spills_past_its_map() {
    let payload = |seq, key: &[u8], value: &[u8]| {
        let mut b = WriteBatch::new();
        b.put(key, value);
        b.into_payload(seq)
    };
    let (pa, pb) = (payload(1, b"k", b"v"), payload(2, b"key2", &[7; 100]));
    let (a, b) = (record(1, b"k", b"v"), record(2, b"key2", &[7; 100]));
    // Mapped, the first fits in the 64-byte map and the second does not; unmapped,
    // both are written with pwrite.
    for mapped in [true, false] {
        let dir = tempfile::tempdir().expect("tempdir");
        let seg = Segment::create(dir.path(), 1, 64, mapped).expect("create");
        seg.append_records(KIND_BATCH, [&pa[..]]).expect("append");
        seg.append_records(KIND_BATCH, [&pb[..]]).expect("append");
        seg.sync().expect("sync");
        let on_disk = std::fs::read(&seg.path).expect("read");
        assert_eq!(&on_disk[..a.len()], &a[..], "mapped: {mapped}");
        assert_eq!(
            &on_disk[a.len()..a.len() + b.len()],
            &b[..],
            "mapped: {mapped}"
        );
        drop(seg.finish().expect("finish"));
        let mut both = a.clone();
        both.extend_from_slice(&b);
        assert_eq!(
            std::fs::read(&seg.path).expect("read"),
            both,
            "mapped: {mapped}"
        );
    }
}

#[test]
fn bad_record_mid_file_is_an_error_with_its_offset() {
    let mut data = file_of(4);
    let rec = record(1, b"key1", &[1; 40]).len();
    data[rec + 20] ^= 0x01; // inside the second record's payload
    for newest in [true, false] {
        let (r, seqs) = read(data.clone(), newest);
        match r {
            Err(Error::Corruption { offset, path, .. }) => {
                assert_eq!(offset, rec as u64);
                assert_eq!(path, Path::new("000001.wal"));
            }
            other => panic!("expected corruption, got {other:?}"),
        }
        assert_eq!(seqs, vec![1]);
    }
}

#[test]
fn huge_length_field_is_not_trusted() {
    let mut data = file_of(1);
    data[4..8].copy_from_slice(&u32::MAX.to_le_bytes());
    assert_eq!(decode_at(&data, 0), Err(BadRecord::BadLength));
}

#[test]
fn segment_names() {
    let dir = tempfile::tempdir().expect("tempdir");
    for n in [3u64, 1, 1_000_000] {
        Segment::create(dir.path(), n, 0, true).expect("create");
    }
    fs::write(dir.path().join("LOCK"), b"").expect("write");
    fs::write(dir.path().join("x.wal"), b"").expect("write");
    assert_eq!(
        list_segments(dir.path()).expect("list"),
        vec![1, 3, 1_000_000]
    );
    assert!(Segment::create(dir.path(), 3, 0, true).is_err());
}
