//! Collection commands in pipelined rounds: the commands of one round stage their writes
//! together and later ones read through them (`server::round`), elements included. One
//! server gets random hash, list, set and sorted-set commands in pipelines of up to 48 (a
//! round commits part-way when its staged writes fill up); a second server gets the same
//! commands one at a time, each its own round. Every reply must be the same, byte for
//! byte, and so must the data at the end. Random picks (SPOP, SRANDMEMBER, HRANDFIELD)
//! are left out: two servers may pick differently.
#![allow(clippy::expect_used, clippy::unwrap_used)]

mod collections;
mod common;

use collections::{words, Random};
use common::raw::Raw;
use common::TestServer;

/// A few keys per type, so pipelined commands keep meeting the same collections.
const HASHES: [&str; 2] = ["h1", "h2"];
const LISTS: [&str; 2] = ["l1", "l2"];
const SETS: [&str; 3] = ["s1", "s2", "s3"];
const ZSETS: [&str; 3] = ["z1", "z2", "z3"];

/// A number in `lo..lo + span`.
fn int(rng: &mut Random, lo: i64, span: usize) -> i64 {
    lo + i64::try_from(rng.below(span)).unwrap()
}

fn random_request(rng: &mut Random) -> String {
    let (hash, list) = (rng.pick(&HASHES), rng.pick(&LISTS));
    let (set, zset) = (rng.pick(&SETS), rng.pick(&ZSETS));
    let (field, m) = (format!("f{}", rng.below(6)), format!("m{}", rng.below(8)));
    let (a, b) = (int(rng, -4, 11), int(rng, -4, 11));
    match rng.below(44) {
        0 | 1 => format!("HSET {hash} {field} v{a}"),
        2 => {
            // Enough fields that the round's staged writes fill up and commit part-way.
            let fields: Vec<String> = (0..rng.below(40)).map(|i| format!("g{i} {i}")).collect();
            format!("HSET {hash} {field} x {}", fields.join(" "))
        }
        3 => format!("HGET {hash} {field}"),
        4 => format!("HDEL {hash} {field} f{}", rng.below(6)),
        5 => format!("HINCRBY {hash} n{} {a}", rng.below(2)),
        6 => format!("HSETNX {hash} {field} nx"),
        7 => format!("HGETALL {hash}"),
        8 => format!("HMGET {hash} {field} f1 n0"),
        9 => format!("HLEN {hash}"),
        10 | 11 => format!("LPUSH {list} {m}"),
        12 => format!("RPUSH {list} {m} {m}x"),
        13 => format!("LPOP {list}"),
        14 => format!("RPOP {list} {}", rng.below(3)),
        15 => format!("LRANGE {list} {a} {b}"),
        16 => format!("LINDEX {list} {a}"),
        17 => format!("LSET {list} {a} set{b}"),
        18 => format!("LINSERT {list} BEFORE {m} ins"),
        19 => format!("LREM {list} {a} {m}"),
        20 => format!("LTRIM {list} {a} {}", b + 4),
        21 => format!("LMOVE {list} {} LEFT RIGHT", rng.pick(&LISTS)),
        22 => format!("LPOS {list} {m} RANK {}", if a == 0 { 1 } else { a }),
        23 | 24 => format!("SADD {set} {m}"),
        25 => format!("SREM {set} {m}"),
        26 => format!("SISMEMBER {set} {m}"),
        27 => format!("SMEMBERS {set}"),
        28 => format!("SMOVE {set} {} {m}", rng.pick(&SETS)),
        29 => format!("SINTERSTORE {set} {} {}", rng.pick(&SETS), rng.pick(&SETS)),
        30 => format!("SUNION {set} {}", rng.pick(&SETS)),
        31 => format!("SINTERCARD 2 {set} {}", rng.pick(&SETS)),
        32 | 33 => format!("ZADD {zset} {a} {m}"),
        34 => format!("ZINCRBY {zset} {b} {m}"),
        35 => format!("ZRANGE {zset} 0 -1 WITHSCORES"),
        36 => format!("ZRANGEBYSCORE {zset} {} {}", a.min(b), a.max(b)),
        37 => format!("ZRANK {zset} {m}"),
        38 => format!("ZREM {zset} {m}"),
        39 => format!("ZPOPMIN {zset} {}", rng.below(3)),
        40 => format!("ZREMRANGEBYSCORE {zset} {a} {b}"),
        41 => format!(
            "ZUNIONSTORE {zset} 2 {} {}",
            rng.pick(&ZSETS),
            rng.pick(&ZSETS)
        ),
        42 => format!("ZSCORE {zset} {m}"),
        _ => format!(
            "{} {}",
            ["TYPE", "DEL", "EXISTS"][rng.below(3)],
            rng.pick(&[hash, list, set, zset])
        ),
    }
}

/// What a key holds, read the same way from both servers.
fn dump(raw: &mut Raw) -> Vec<Vec<u8>> {
    let mut out = Vec::new();
    for h in HASHES {
        out.push(raw.words(&format!("HGETALL {h}")));
    }
    for l in LISTS {
        out.push(raw.words(&format!("LRANGE {l} 0 -1")));
    }
    for s in SETS {
        out.push(raw.words(&format!("SMEMBERS {s}")));
    }
    for z in ZSETS {
        out.push(raw.words(&format!("ZRANGE {z} 0 -1 WITHSCORES")));
    }
    out
}

#[test]
fn pipelined_collection_commands_answer_as_one_at_a_time() {
    let pipelined = TestServer::start(&[]);
    let alone = TestServer::start(&[]);
    let mut ours = Raw::connect(&pipelined.addr.to_string());
    let mut reference = Raw::connect(&alone.addr.to_string());
    let mut rng = Random(0x0bad_5eed_cafe_f00d);
    let mut sent = 0;
    while sent < 6000 {
        let requests: Vec<Vec<Vec<u8>>> = (0..=rng.below(48))
            .map(|_| words(&random_request(&mut rng)))
            .collect();
        sent += requests.len();
        let replies = ours.pipeline(&requests);
        for (request, reply) in requests.iter().zip(replies) {
            let expected = reference.call(request);
            assert_eq!(
                String::from_utf8_lossy(&reply),
                String::from_utf8_lossy(&expected),
                "pipelined {:?} (request {sent} or before)",
                request
                    .iter()
                    .map(|w| String::from_utf8_lossy(w).into_owned())
                    .collect::<Vec<_>>()
                    .join(" "),
            );
        }
    }
    assert_eq!(dump(&mut ours), dump(&mut reference));
}
