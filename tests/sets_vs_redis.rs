//! Sets: a seeded random sequence of set commands (and DEL, EXISTS, TYPE, EXPIRE, RENAME,
//! GET, SET on the same few keys, so WRONGTYPE paths are hit) sent to a cairn-server and
//! a scratch redis-server, replies compared exactly, sorted where Redis's order is
//! unspecified, by count and membership for random picks (SPOP's picks are then removed
//! from Redis's copy with SREM, so both stay equal); and a property test of the set
//! commands against an in-memory model.
//!
//! Under CI a missing redis-server fails the differential test; elsewhere it says so
//! and passes.

#![allow(clippy::expect_used, clippy::unwrap_used)]

mod collections;
mod common;

use std::collections::{BTreeMap, BTreeSet};

use cairn::protocol::Reply;
use collections::{bulks, scan_items, words, Pair, Random};
use common::scratch_redis::ScratchRedis;
use common::TestServer;
use proptest::prelude::*;

const KEYS: &[&str] = &["s1", "s2", "s3", "h"];
const MEMBERS: &[&str] = &["a", "b", "c", "d", "e", "1", "2", "10", "x"];

fn random_request(rng: &mut Random) -> String {
    let key = rng.pick(KEYS);
    let member = rng.pick(MEMBERS);
    let some = |rng: &mut Random, from: &[&str]| -> String {
        let n = 1 + rng.below(4);
        (0..n).map(|_| rng.pick(from)).collect::<Vec<_>>().join(" ")
    };
    match rng.below(32) {
        0..=4 => format!("SADD {key} {}", some(rng, MEMBERS)),
        5 | 6 => format!("SREM {key} {}", some(rng, MEMBERS)),
        7 => format!("SMEMBERS {key}"),
        8 => format!("SISMEMBER {key} {member}"),
        9 => format!("SMISMEMBER {key} {}", some(rng, MEMBERS)),
        10 => format!("SCARD {key}"),
        11 => format!(
            "SPOP {key}{}",
            rng.pick(&["", " 0", " 2", " 20", " -1", " 1 2"])
        ),
        12 => format!(
            "SRANDMEMBER {key}{}",
            rng.pick(&["", " 0", " 2", " -3", " 20", " 1 2"])
        ),
        13 => format!("SINTER {}", some(rng, KEYS)),
        14 => format!("SUNION {}", some(rng, KEYS)),
        15 => format!("SDIFF {}", some(rng, KEYS)),
        16 => format!("SINTERSTORE {key} {}", some(rng, KEYS)),
        17 => format!("SUNIONSTORE {key} {}", some(rng, KEYS)),
        18 => format!("SDIFFSTORE {key} {}", some(rng, KEYS)),
        19 => {
            let n = 1 + rng.below(3);
            let keys = (0..n).map(|_| rng.pick(KEYS)).collect::<Vec<_>>().join(" ");
            format!(
                "SINTERCARD {n} {keys}{}",
                rng.pick(&["", " LIMIT 1", " LIMIT 0", " LIMIT -1"])
            )
        }
        20 => format!("SMOVE {key} {} {member}", rng.pick(KEYS)),
        21 => format!(
            "SSCAN {key} 0{}",
            rng.pick(&["", " COUNT 100", " MATCH [a-c]", " COUNT 0"])
        ),
        22 => format!("DEL {key}"),
        23 => format!("EXISTS {key}"),
        24 => format!("TYPE {key}"),
        25 => format!("EXPIRE {key} 100"),
        26 => format!("RENAME {key} {}", rng.pick(KEYS)),
        27 => format!("GET {key}"),
        28 => format!("SET {key} {member}"),
        29 => format!("HSET {key} {member} 1"),
        30 => format!(
            "SINTERCARD {}",
            rng.pick(&["0 s1", "3 s1", "x s1", "1 s1 FOO"])
        ),
        _ => format!("SADD {key} {member}"),
    }
}

/// Every item of `reply` is a member of `key` in Redis's copy.
fn all_members(pair: &mut Pair, key: &[u8], items: &[bytes::Bytes]) -> bool {
    if items.is_empty() {
        return true;
    }
    let mut args = vec![b"SMISMEMBER".to_vec(), key.to_vec()];
    args.extend(items.iter().map(|m| m.to_vec()));
    let reply = pair.theirs.call(&args);
    matches!(&reply, Reply::Array(found) if found.iter().all(|f| *f == Reply::Integer(1)))
}

#[test]
fn random_set_commands_agree_with_redis() {
    let Some(redis) = ScratchRedis::start("set differential test against Redis") else {
        return;
    };
    let server = TestServer::start(&[]);
    let mut pair = Pair::new(&server.addr.to_string(), &redis.addr);
    for protocol in ["2", "3"] {
        pair.ours.call(&words(&format!("HELLO {protocol}")));
        pair.theirs.call(&words(&format!("HELLO {protocol}")));
        pair.same(&words("FLUSHALL"));
        let mut rng = Random(0x2545_f491_4f6c_dd1d ^ u64::from(protocol == "3"));
        for _ in 0..3000 {
            let request = random_request(&mut rng);
            let args = words(&request);
            let name = request.split(' ').next().unwrap();
            match name {
                "SMEMBERS" | "SINTER" | "SUNION" | "SDIFF" => {
                    pair.unordered(&args);
                }
                "SSCAN" => {
                    let (ours, theirs) = (pair.ours.call(&args), pair.theirs.call(&args));
                    // At most 9 members: one call returns all of them in both.
                    let same = match (scan_items(&ours), scan_items(&theirs)) {
                        (Some(a), Some(b)) => a == b,
                        _ => ours == theirs,
                    };
                    if !same {
                        pair.fail(&args, &ours, &theirs);
                    }
                }
                "SRANDMEMBER" | "SPOP" => {
                    let ours = pair.ours.call(&args);
                    let items = bulks(&ours);
                    let picked = matches!(ours, Reply::Bulk(_))
                        || (matches!(ours, Reply::Array(_) | Reply::Set(_)) && !items.is_empty());
                    if !picked {
                        // Nothing random about it: the same reply.
                        let theirs = pair.theirs.call(&args);
                        if ours != theirs {
                            pair.fail(&args, &ours, &theirs);
                        }
                        continue;
                    }
                    let key = args[1].clone();
                    let card = pair.theirs.call(&[b"SCARD".to_vec(), key.clone()]);
                    let Reply::Integer(card) = card else {
                        pair.fail(&args, &ours, &card);
                        continue;
                    };
                    let distinct: BTreeSet<_> = items.iter().collect();
                    let count: Option<i64> = args
                        .get(2)
                        .map(|c| String::from_utf8_lossy(c).parse().unwrap());
                    let want = match count {
                        None => 1,
                        Some(c) if c < 0 => usize::try_from(c.unsigned_abs()).unwrap(),
                        Some(c) => usize::try_from(c.min(card)).unwrap(),
                    };
                    let unique = count.is_none_or(|c| c >= 0);
                    if items.len() != want
                        || (unique && distinct.len() != items.len())
                        || !all_members(&mut pair, &key, &items)
                    {
                        pair.fail(&args, &ours, &Reply::Integer(card));
                    }
                    if name == "SPOP" {
                        let mut srem = vec![b"SREM".to_vec(), key];
                        srem.extend(items.iter().map(|m| m.to_vec()));
                        pair.theirs.call(&srem);
                    }
                }
                _ => {
                    pair.same(&args);
                }
            }
        }
        for key in KEYS {
            pair.unordered(&words(&format!("SMEMBERS {key}")));
        }
    }
    pair.check();
}

#[test]
fn big_sets_pop_and_pick_every_member_eventually() {
    let server = TestServer::start(&[]);
    let mut c = server.redis();
    let members: Vec<String> = (0..1000).map(|i| format!("member:{i}")).collect();
    let added: usize = redis::cmd("SADD")
        .arg("big")
        .arg(&members)
        .query(&mut c)
        .unwrap();
    assert_eq!(added, 1000);
    let picks: Vec<String> = redis::cmd("SRANDMEMBER")
        .arg("big")
        .arg(-500)
        .query(&mut c)
        .unwrap();
    let distinct: BTreeSet<_> = picks.iter().collect();
    assert!(distinct.len() > 100, "{} distinct picks", distinct.len());
    let mut popped = BTreeSet::new();
    while popped.len() < 1000 {
        let some: Vec<String> = redis::cmd("SPOP").arg("big").arg(37).query(&mut c).unwrap();
        assert!(!some.is_empty());
        for m in some {
            assert!(popped.insert(m));
        }
    }
    assert_eq!(popped, members.into_iter().collect());
    let exists: i64 = redis::cmd("EXISTS").arg("big").query(&mut c).unwrap();
    assert_eq!(exists, 0);
}

#[derive(Debug, Clone)]
enum Op {
    Add(u8, Vec<u8>),
    Rem(u8, Vec<u8>),
    Card(u8),
    Members(u8),
    Inter(Vec<u8>),
    Union(Vec<u8>),
    Diff(Vec<u8>),
    Store(u8, u8, Vec<u8>),
    Move(u8, u8, u8),
}

fn op() -> impl Strategy<Value = Op> {
    let key = 0u8..3;
    let members = prop::collection::vec(0u8..8, 1..5);
    let keys = prop::collection::vec(0u8..3, 1..4);
    prop_oneof![
        (key.clone(), members.clone()).prop_map(|(k, m)| Op::Add(k, m)),
        (key.clone(), members).prop_map(|(k, m)| Op::Rem(k, m)),
        key.clone().prop_map(Op::Card),
        key.clone().prop_map(Op::Members),
        keys.clone().prop_map(Op::Inter),
        keys.clone().prop_map(Op::Union),
        keys.clone().prop_map(Op::Diff),
        (0u8..3, key.clone(), keys).prop_map(|(o, k, ks)| Op::Store(o, k, ks)),
        (key.clone(), key, 0u8..8).prop_map(|(a, b, m)| Op::Move(a, b, m)),
    ]
}

type Model = BTreeMap<u8, BTreeSet<u8>>;

fn combine(model: &Model, op: u8, keys: &[u8]) -> BTreeSet<u8> {
    let get = |k: &u8| model.get(k).cloned().unwrap_or_default();
    let mut out = get(&keys[0]);
    for k in &keys[1..] {
        let other = get(k);
        out = match op {
            0 => out.intersection(&other).copied().collect(),
            1 => out.union(&other).copied().collect(),
            _ => out.difference(&other).copied().collect(),
        };
    }
    out
}

fn names(keys: &[u8]) -> Vec<String> {
    keys.iter().map(|k| format!("k{k}")).collect()
}

fn members(set: &BTreeSet<u8>) -> BTreeSet<String> {
    set.iter().map(|m| format!("m{m}")).collect()
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 16, ..ProptestConfig::default() })]

    #[test]
    fn sets_behave_as_a_map_of_sets(ops in prop::collection::vec(op(), 1..60)) {
        let server = TestServer::start(&[]);
        let mut c = server.redis();
        let mut model = Model::new();
        for op in ops {
            match op {
                Op::Add(k, ms) => {
                    let set = model.entry(k).or_default();
                    let new: BTreeSet<u8> = ms.iter().filter(|m| !set.contains(m)).copied().collect();
                    set.extend(&ms);
                    let list: Vec<String> = ms.iter().map(|m| format!("m{m}")).collect();
                    let n: usize = redis::cmd("SADD").arg(format!("k{k}")).arg(list).query(&mut c).unwrap();
                    prop_assert_eq!(n, new.len());
                }
                Op::Rem(k, ms) => {
                    let mut removed = BTreeSet::new();
                    if let Some(set) = model.get_mut(&k) {
                        for m in &ms {
                            if set.remove(m) {
                                removed.insert(*m);
                            }
                        }
                        if set.is_empty() {
                            model.remove(&k);
                        }
                    }
                    let list: Vec<String> = ms.iter().map(|m| format!("m{m}")).collect();
                    let n: usize = redis::cmd("SREM").arg(format!("k{k}")).arg(list).query(&mut c).unwrap();
                    prop_assert_eq!(n, removed.len());
                }
                Op::Card(k) => {
                    let n: usize = redis::cmd("SCARD").arg(format!("k{k}")).query(&mut c).unwrap();
                    prop_assert_eq!(n, model.get(&k).map_or(0, BTreeSet::len));
                }
                Op::Members(k) => {
                    let got: BTreeSet<String> = redis::cmd("SMEMBERS").arg(format!("k{k}")).query(&mut c).unwrap();
                    prop_assert_eq!(got, model.get(&k).map(members).unwrap_or_default());
                }
                Op::Inter(ks) => {
                    let got: BTreeSet<String> = redis::cmd("SINTER").arg(names(&ks)).query(&mut c).unwrap();
                    prop_assert_eq!(got, members(&combine(&model, 0, &ks)));
                }
                Op::Union(ks) => {
                    let got: BTreeSet<String> = redis::cmd("SUNION").arg(names(&ks)).query(&mut c).unwrap();
                    prop_assert_eq!(got, members(&combine(&model, 1, &ks)));
                }
                Op::Diff(ks) => {
                    let got: BTreeSet<String> = redis::cmd("SDIFF").arg(names(&ks)).query(&mut c).unwrap();
                    prop_assert_eq!(got, members(&combine(&model, 2, &ks)));
                }
                Op::Store(o, dest, ks) => {
                    let result = combine(&model, o, &ks);
                    let name = ["SINTERSTORE", "SUNIONSTORE", "SDIFFSTORE"][usize::from(o)];
                    let n: usize = redis::cmd(name).arg(format!("k{dest}")).arg(names(&ks)).query(&mut c).unwrap();
                    prop_assert_eq!(n, result.len());
                    if result.is_empty() {
                        model.remove(&dest);
                    } else {
                        model.insert(dest, result);
                    }
                }
                Op::Move(a, b, m) => {
                    let here = model.get(&a).is_some_and(|s| s.contains(&m));
                    if here && a != b {
                        let src = model.get_mut(&a).unwrap();
                        src.remove(&m);
                        if src.is_empty() {
                            model.remove(&a);
                        }
                        model.entry(b).or_default().insert(m);
                    }
                    let n: i64 = redis::cmd("SMOVE").arg(format!("k{a}")).arg(format!("k{b}"))
                        .arg(format!("m{m}")).query(&mut c).unwrap();
                    prop_assert_eq!(n, i64::from(here));
                }
            }
        }
    }
}
