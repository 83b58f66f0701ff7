//! Hashes: a seeded random sequence of hash commands (and DEL, EXISTS, TYPE, EXPIRE,
//! RENAME, GET, SET on the same few keys, so WRONGTYPE paths are hit) sent to a
//! cairn-server and a scratch redis-server, replies compared exactly, sorted where Redis's
//! order is unspecified, by count and membership for random picks; and a property test of
//! the hash commands against an in-memory model.
//!
//! Under CI a missing redis-server fails the differential test; elsewhere it says so
//! and passes.

#![allow(clippy::expect_used, clippy::unwrap_used)]

mod collections;
mod common;

use std::collections::BTreeMap;

use cairn::protocol::Reply;
use collections::{bulks, scan_items, words, Pair, Random};
use common::scratch_redis::ScratchRedis;
use common::TestServer;
use proptest::prelude::*;

const KEYS: &[&str] = &["h1", "h2", "h3", "s"];
const FIELDS: &[&str] = &["a", "b", "c", "d", "e", "f", "g", "n", "x"];
const VALUES: &[&str] = &[
    "1",
    "-7",
    "0",
    "10.5",
    "abc",
    "",
    "9223372036854775807",
    "1e3",
];

fn random_request(rng: &mut Random) -> String {
    let key = rng.pick(KEYS);
    let field = rng.pick(FIELDS);
    let value = rng.pick(VALUES);
    let more = |rng: &mut Random, pairs: bool| -> String {
        let n = 1 + rng.below(4);
        (0..n)
            .map(|_| {
                if pairs {
                    format!("{} {}", rng.pick(FIELDS), rng.pick(VALUES))
                } else {
                    rng.pick(FIELDS).to_string()
                }
            })
            .collect::<Vec<_>>()
            .join(" ")
    };
    match rng.below(30) {
        0..=4 => format!("HSET {key} {}", more(rng, true)),
        5 => format!("HMSET {key} {}", more(rng, true)),
        6 => format!("HSETNX {key} {field} {value}"),
        7 | 8 => format!("HGET {key} {field}"),
        9 => format!("HMGET {key} {}", more(rng, false)),
        10 => format!("HGETALL {key}"),
        11 | 12 => format!("HDEL {key} {}", more(rng, false)),
        13 => format!("HEXISTS {key} {field}"),
        14 => format!(
            "HINCRBY {key} {field} {}",
            rng.pick(&["1", "-3", "x", "9223372036854775807"])
        ),
        15 => format!(
            "HINCRBYFLOAT {key} {field} {}",
            rng.pick(&["1.5", "-0.25", "x", "inf", "1e10", "0"])
        ),
        16 => format!("HKEYS {key}"),
        17 => format!("HVALS {key}"),
        18 => format!("HLEN {key}"),
        19 => format!("HSTRLEN {key} {field}"),
        20 => format!(
            "HRANDFIELD {key}{}",
            rng.pick(&[
                "",
                " 2",
                " -3",
                " 0",
                " 20",
                " 3 WITHVALUES",
                " -2 WITHVALUES",
                " 1 x"
            ])
        ),
        21 => format!(
            "HSCAN {key} 0{}",
            rng.pick(&["", " COUNT 100", " MATCH [a-c]*", " COUNT 0"])
        ),
        22 => format!("DEL {key}"),
        23 => format!("EXISTS {key}"),
        24 => format!("TYPE {key}"),
        25 => format!("EXPIRE {key} 100"),
        26 => format!("RENAME {key} {}", rng.pick(KEYS)),
        27 => format!("GET {key}"),
        28 => format!("SET {key} {value}"),
        _ => format!("HSET {key} {field}"),
    }
}

/// A pick's reply from ours is consistent with Redis's state: same shape, every field
/// present with its value.
fn check_pick(pair: &mut Pair, args: &[Vec<u8>], ours: &Reply, theirs: &Reply) {
    let request = String::from_utf8_lossy(&args.concat()).to_uppercase();
    let with_values = request.contains("WITHVALUES");
    let (a, b) = (bulks(ours), bulks(theirs));
    let count_fixed = !matches!(ours, Reply::Bulk(_));
    let same_shape = std::mem::discriminant(ours) == std::mem::discriminant(theirs)
        && (!count_fixed || a.len() == b.len());
    if !same_shape {
        pair.fail(args, ours, theirs);
        return;
    }
    let key = args[1].clone();
    let step = if with_values { 2 } else { 1 };
    for chunk in a.chunks(step) {
        let value = pair
            .theirs
            .call(&[b"HGET".to_vec(), key.clone(), chunk[0].to_vec()]);
        let ok = match (&value, chunk.get(1)) {
            (Reply::Bulk(v), Some(want)) => v == want,
            (Reply::Bulk(_), None) => true,
            _ => false,
        };
        if !ok {
            pair.fail(args, ours, &value);
        }
    }
}

#[test]
fn random_hash_commands_agree_with_redis() {
    let Some(redis) = ScratchRedis::start("hash differential test against Redis") else {
        return;
    };
    let server = TestServer::start(&[]);
    let mut pair = Pair::new(&server.addr.to_string(), &redis.addr);
    for protocol in ["2", "3"] {
        pair.ours.call(&words(&format!("HELLO {protocol}")));
        pair.theirs.call(&words(&format!("HELLO {protocol}")));
        pair.same(&words("FLUSHALL"));
        let mut rng = Random(0x9e37_79b9_7f4a_7c15 ^ u64::from(protocol == "3"));
        for _ in 0..2500 {
            let request = random_request(&mut rng);
            let args = words(&request);
            let name = request.split(' ').next().unwrap();
            match name {
                "HGETALL" | "HKEYS" | "HVALS" => {
                    pair.unordered(&args);
                }
                "HRANDFIELD" => {
                    let (ours, theirs) = (pair.ours.call(&args), pair.theirs.call(&args));
                    if matches!(ours, Reply::Error(_) | Reply::Null)
                        || matches!(theirs, Reply::Error(_) | Reply::Null)
                    {
                        if ours != theirs {
                            pair.fail(&args, &ours, &theirs);
                        }
                    } else {
                        check_pick(&mut pair, &args, &ours, &theirs);
                    }
                }
                "HSCAN" => {
                    let (ours, theirs) = (pair.ours.call(&args), pair.theirs.call(&args));
                    // Hashes of at most 9 fields: one call returns all of them in both.
                    let same = match (scan_items(&ours), scan_items(&theirs)) {
                        (Some(a), Some(b)) => a == b,
                        _ => ours == theirs,
                    };
                    if !same {
                        pair.fail(&args, &ours, &theirs);
                    }
                }
                _ => {
                    pair.same(&args);
                }
            }
        }
        // The end state agrees too.
        for key in KEYS {
            pair.unordered(&words(&format!("HGETALL {key}")));
        }
    }
    pair.check();
}

#[test]
fn huge_hrandfield_counts_are_refused_or_bounded() {
    let server = TestServer::start(&[]);
    let mut c = server.redis();
    let _: () = redis::cmd("HSET")
        .arg("h")
        .arg("a")
        .arg("1")
        .query(&mut c)
        .unwrap();
    let err = redis::cmd("HRANDFIELD")
        .arg("h")
        .arg("-9223372036854775807")
        .query::<Vec<String>>(&mut c)
        .unwrap_err();
    assert!(err.to_string().contains("out of range"), "{err}");
    let all: Vec<String> = redis::cmd("HRANDFIELD")
        .arg("h")
        .arg("9223372036854775807")
        .query(&mut c)
        .unwrap();
    assert_eq!(all, ["a"]);
}

#[test]
fn random_fields_of_a_big_hash_are_spread() {
    let server = TestServer::start(&[]);
    let mut c = server.redis();
    let mut cmd = redis::cmd("HSET");
    cmd.arg("big");
    for i in 0..2000 {
        cmd.arg(format!("field:{i}")).arg(i);
    }
    let _: i64 = cmd.query(&mut c).unwrap();
    let picks: Vec<String> = redis::cmd("HRANDFIELD")
        .arg("big")
        .arg(-300)
        .query(&mut c)
        .unwrap();
    assert_eq!(picks.len(), 300);
    let distinct: std::collections::BTreeSet<_> = picks.iter().collect();
    assert!(distinct.len() > 30, "{} distinct picks", distinct.len());
    let some: Vec<String> = redis::cmd("HRANDFIELD")
        .arg("big")
        .arg(100)
        .query(&mut c)
        .unwrap();
    let distinct: std::collections::BTreeSet<_> = some.iter().collect();
    assert_eq!(distinct.len(), 100);
    assert!(some.iter().all(|f| f.starts_with("field:")));
}

#[derive(Debug, Clone)]
enum Op {
    Set(u8, Vec<(u8, u8)>),
    Del(u8, Vec<u8>),
    IncrBy(u8, u8, i8),
    Get(u8, u8),
    Len(u8),
    GetAll(u8),
}

fn op() -> impl Strategy<Value = Op> {
    let key = 0u8..3;
    let field = 0u8..6;
    prop_oneof![
        (
            key.clone(),
            prop::collection::vec((field.clone(), 0u8..4), 1..5)
        )
            .prop_map(|(k, p)| Op::Set(k, p)),
        (key.clone(), prop::collection::vec(field.clone(), 1..4)).prop_map(|(k, f)| Op::Del(k, f)),
        (key.clone(), field.clone(), any::<i8>()).prop_map(|(k, f, d)| Op::IncrBy(k, f, d)),
        (key.clone(), field).prop_map(|(k, f)| Op::Get(k, f)),
        key.clone().prop_map(Op::Len),
        key.prop_map(Op::GetAll),
    ]
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 16, ..ProptestConfig::default() })]

    #[test]
    fn hashes_behave_as_a_map_of_maps(ops in prop::collection::vec(op(), 1..60)) {
        let server = TestServer::start(&[]);
        let mut c = server.redis();
        let mut model: BTreeMap<u8, BTreeMap<u8, String>> = BTreeMap::new();
        for op in ops {
            match op {
                Op::Set(k, pairs) => {
                    let mut cmd = redis::cmd("HSET");
                    cmd.arg(format!("k{k}"));
                    let hash = model.entry(k).or_default();
                    let mut added = std::collections::BTreeSet::new();
                    for (f, v) in &pairs {
                        cmd.arg(format!("f{f}")).arg(v.to_string());
                        if !hash.contains_key(f) {
                            added.insert(*f);
                        }
                        hash.insert(*f, v.to_string());
                    }
                    let n: usize = cmd.query(&mut c).unwrap();
                    prop_assert_eq!(n, added.len());
                }
                Op::Del(k, fields) => {
                    let mut cmd = redis::cmd("HDEL");
                    cmd.arg(format!("k{k}"));
                    let mut removed = 0;
                    if let Some(hash) = model.get_mut(&k) {
                        for f in &fields {
                            removed += usize::from(hash.remove(f).is_some());
                        }
                        if hash.is_empty() {
                            model.remove(&k);
                        }
                    }
                    for f in &fields {
                        cmd.arg(format!("f{f}"));
                    }
                    let n: usize = cmd.query(&mut c).unwrap();
                    prop_assert_eq!(n, removed);
                }
                Op::IncrBy(k, f, d) => {
                    let hash = model.entry(k).or_default();
                    let old: i64 = hash.get(&f).map_or(0, |v| v.parse().unwrap());
                    let new = old + i64::from(d);
                    hash.insert(f, new.to_string());
                    let n: i64 = redis::cmd("HINCRBY").arg(format!("k{k}")).arg(format!("f{f}"))
                        .arg(d).query(&mut c).unwrap();
                    prop_assert_eq!(n, new);
                }
                Op::Get(k, f) => {
                    let want = model.get(&k).and_then(|h| h.get(&f)).cloned();
                    let got: Option<String> = redis::cmd("HGET").arg(format!("k{k}"))
                        .arg(format!("f{f}")).query(&mut c).unwrap();
                    prop_assert_eq!(got, want);
                }
                Op::Len(k) => {
                    let want = model.get(&k).map_or(0, BTreeMap::len);
                    let got: usize = redis::cmd("HLEN").arg(format!("k{k}")).query(&mut c).unwrap();
                    prop_assert_eq!(got, want);
                }
                Op::GetAll(k) => {
                    let want: BTreeMap<String, String> = model.get(&k).map(|h| {
                        h.iter().map(|(f, v)| (format!("f{f}"), v.clone())).collect()
                    }).unwrap_or_default();
                    let got: BTreeMap<String, String> = redis::cmd("HGETALL")
                        .arg(format!("k{k}")).query(&mut c).unwrap();
                    prop_assert_eq!(got, want);
                }
            }
        }
    }
}
