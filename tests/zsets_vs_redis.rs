//! Differential test of the sorted-set commands: one seeded random sequence of ZADD, ZRANGE
//! and the rest (with DEL, EXISTS, TYPE, EXPIRE, RENAME, GET and SET on the same keys, so
//! the WRONGTYPE paths run) sent to a cairn-server and a scratch redis-server, replies
//! compared byte for byte in RESP2 and RESP3; ZSCAN's full iteration is compared sorted.
//! Lex ranges run only on a key whose scores are all 0, where Redis defines them.
//! A proptest checks the same commands against an in-memory model.

#![allow(clippy::expect_used, clippy::unwrap_used)]

mod common;

use std::collections::BTreeMap;

use bytes::BytesMut;
use cairn::protocol::resp::parse_reply;
use cairn::protocol::{Limits, Reply};
use common::random::Random;
use common::raw::Raw;
use common::scratch_redis::ScratchRedis;
use common::TestServer;
use proptest::prelude::*;

const KEYS: &[&str] = &["z1", "z2", "z3", "s"];
const MEMBERS: &[&str] = &["a", "b", "c", "d", "e", "f", "gg", ""];
const SCORES: &[&str] = &[
    "0", "1", "-1", "2.5", "0.1", "inf", "-inf", "3", "1e20", "-0", "7", "x", "nan", "+5",
];
const BOUNDS: &[&str] = &[
    "-inf", "+inf", "0", "(0", "1", "(1", "2.5", "(3", "7", "x", "(", "-1", "1e400",
];
const LEX: &[&str] = &["-", "+", "[a", "(a", "[c", "(d", "[gg", "a", "[", "(", "(f"];
const INTS: &[&str] = &[
    "0",
    "1",
    "-1",
    "2",
    "-2",
    "5",
    "-100",
    "100",
    "x",
    "9223372036854775807",
];

/// One random request; a long match of one arm per command reads best as one function.
#[allow(clippy::many_single_char_names, clippy::too_many_lines)]
fn command(r: &mut Random) -> String {
    let key = r.pick(KEYS);
    let m = r.pick(MEMBERS);
    let s = r.pick(SCORES);
    let n = r.pick(INTS);
    let (b1, b2) = (r.pick(BOUNDS), r.pick(BOUNDS));
    let (l1, l2) = (r.pick(LEX), r.pick(LEX));
    match r.below(40) {
        0..=5 => {
            let opts = [
                "",
                "NX ",
                "XX ",
                "GT ",
                "LT ",
                "CH ",
                "INCR ",
                "GT CH ",
                "XX LT CH ",
                "NX XX ",
                "GT LT ",
            ];
            let opt = r.pick(&opts);
            let mut line = format!("ZADD {key} {opt}{s} {m}");
            for _ in 0..r.below(4) {
                let (score, member) = (r.pick(&SCORES[..11]), r.pick(MEMBERS));
                line = line + " " + score + " " + member;
            }
            line
        }
        6 => format!("ZINCRBY {key} {s} {m}"),
        7 => format!("ZSCORE {key} {m}"),
        8 => format!("ZMSCORE {key} {m} {} a", r.pick(MEMBERS)),
        9 => format!("ZRANK {key} {m}"),
        10 => format!("ZREVRANK {key} {m}"),
        11 | 12 => {
            let extra = r.pick(&[
                "",
                " WITHSCORES",
                " REV",
                " REV WITHSCORES",
                " LIMIT 0 1",
                " LIMIT 0 -1",
            ]);
            format!("ZRANGE {key} {n} {}{extra}", r.pick(INTS))
        }
        13 | 14 => {
            let extra = r.pick(&[
                "",
                " WITHSCORES",
                " LIMIT 1 2",
                " LIMIT 0 -1 WITHSCORES",
                " LIMIT -1 2",
                " REV",
                " REV LIMIT 0 1 WITHSCORES",
            ]);
            format!("ZRANGE {key} {b1} {b2} BYSCORE{extra}")
        }
        15 => format!(
            "ZRANGEBYSCORE {key} {b1} {b2}{}",
            r.pick(&["", " WITHSCORES", " LIMIT 0 2"])
        ),
        16 => format!(
            "ZREVRANGEBYSCORE {key} {b1} {b2}{}",
            r.pick(&["", " WITHSCORES", " LIMIT 1 1"])
        ),
        17 => format!(
            "ZREVRANGE {key} {n} {}{}",
            r.pick(INTS),
            r.pick(&["", " WITHSCORES"])
        ),
        18 => format!("ZREM {key} {m} {}", r.pick(MEMBERS)),
        19 => format!("ZREMRANGEBYSCORE {key} {b1} {b2}"),
        20 => format!("ZREMRANGEBYRANK {key} {n} {}", r.pick(INTS)),
        21 => format!("ZCARD {key}"),
        22 => format!("ZCOUNT {key} {b1} {b2}"),
        23 => format!(
            "ZPOPMIN {key}{}",
            r.pick(&["", " 0", " 1", " 3", " -1", " x"])
        ),
        24 => match r.below(4) {
            0 => format!("ZPOPMAX {key}{}", r.pick(&["", " 2", " 100"])),
            // The blocking pops, with a timeout short enough that an empty key costs
            // little; a bad timeout, and a key of another type on the way.
            1 => format!("BZPOPMIN {key} {} 0.01", r.pick(KEYS)),
            2 => format!("BZPOPMAX s {key} {}", r.pick(&["0.01", "-1", "x"])),
            _ => format!("BZPOPMAX {key} {} 0.01", r.pick(KEYS)),
        },
        25 => {
            let op = r.pick(&["ZUNIONSTORE", "ZINTERSTORE"]);
            let dest = r.pick(KEYS);
            let (a, b) = (r.pick(KEYS), r.pick(KEYS));
            let opt = r.pick(&[
                "",
                " WEIGHTS 2 -1",
                " AGGREGATE MIN",
                " AGGREGATE max",
                " WEIGHTS 1 x",
                " AGGREGATE foo",
                " WEIGHTS 0 inf",
            ]);
            match r.below(5) {
                0 => format!("{op} {dest} 1 {a}"),
                1 => format!("{op} {dest} {n} {a} {b}"),
                _ => format!("{op} {dest} 2 {a} {b}{opt}"),
            }
        }
        26 => format!("ZADD lex 0 {m} 0 {}", r.pick(MEMBERS)),
        27 => format!(
            "ZRANGEBYLEX lex {l1} {l2}{}",
            r.pick(&["", " LIMIT 0 2", " LIMIT 1 -1"])
        ),
        28 => format!("ZREVRANGEBYLEX lex {l1} {l2}"),
        29 => format!(
            "ZRANGE lex {l1} {l2} BYLEX{}",
            r.pick(&["", " REV", " LIMIT 1 1", " WITHSCORES"])
        ),
        30 => format!("ZLEXCOUNT lex {l1} {l2}"),
        31 => format!("ZREMRANGEBYLEX lex {l1} {l2}"),
        32 => format!("DEL {key}"),
        33 => format!("EXISTS {key} lex"),
        34 => format!("TYPE {key}"),
        35 => format!("EXPIRE {key} 100"),
        36 => format!("RENAME {key} {}", r.pick(KEYS)),
        37 => format!("GET {key}"),
        38 => "SET s str".to_string(),
        _ => "ZCARD lex".to_string(),
    }
}

/// A whole ZSCAN iteration's members and scores, sorted (Redis's order is unspecified),
/// or the first reply that is not a page.
fn zscan_all(side: &mut Raw, key: &str) -> Vec<Vec<u8>> {
    let mut cursor = b"0".to_vec();
    let mut items = Vec::new();
    for _ in 0..1000 {
        let reply = side.call(&[
            b"ZSCAN".to_vec(),
            key.as_bytes().to_vec(),
            cursor.clone(),
            b"COUNT".to_vec(),
            b"3".to_vec(),
        ]);
        let mut probe = BytesMut::from(&reply[..]);
        let parsed = parse_reply(&mut probe, &Limits::default())
            .unwrap()
            .unwrap();
        let Reply::Array(page) = parsed else {
            return vec![reply];
        };
        let [Reply::Bulk(next), Reply::Array(found)] = &page[..] else {
            return vec![reply];
        };
        for pair in found.chunks(2) {
            items.push(format!("{pair:?}").into_bytes());
        }
        cursor = next.to_vec();
        if cursor == b"0" {
            break;
        }
    }
    items.sort();
    items
}

#[test]
fn zset_replies_agree_with_redis() {
    let Some(redis) = ScratchRedis::start("sorted-set differential test against Redis") else {
        return;
    };
    let server = TestServer::start(&["--fsync", "never"]);
    let ours_addr = server.addr.to_string();
    let mut failures = Vec::new();
    for (protocol, seed) in [
        ("2", 0x9e37_79b9_7f4a_7c15u64),
        ("3", 0x1234_5678_9abc_def1),
    ] {
        let (mut ours, mut theirs) = (Raw::connect(&ours_addr), Raw::connect(&redis.addr));
        for side in [&mut ours, &mut theirs] {
            side.words(&format!("HELLO {protocol}"));
            side.words("FLUSHALL");
        }
        let mut random = Random(seed);
        for step in 0..1500 {
            let line = command(&mut random);
            let (mine, want) = (ours.words(&line), theirs.words(&line));
            if mine != want {
                failures.push(format!(
                    "RESP{protocol} step {step} {line}: cairn {:?}, redis {:?}",
                    String::from_utf8_lossy(&mine),
                    String::from_utf8_lossy(&want)
                ));
            }
            if step % 100 == 0 {
                for key in ["z1", "z2", "lex"] {
                    let (a, b) = (zscan_all(&mut ours, key), zscan_all(&mut theirs, key));
                    if a != b {
                        failures.push(format!(
                            "RESP{protocol} step {step} ZSCAN {key}: {a:?} vs {b:?}"
                        ));
                    }
                }
            }
        }
    }
    failures.truncate(20);
    assert!(failures.is_empty(), "{}", failures.join("\n"));
}

/// The model: member -> score.
type Model = BTreeMap<String, f64>;

fn model_range(model: &Model) -> Vec<(String, f64)> {
    let mut v: Vec<(String, f64)> = model.iter().map(|(m, s)| (m.clone(), *s)).collect();
    v.sort_by(|a, b| a.1.partial_cmp(&b.1).unwrap().then_with(|| a.0.cmp(&b.0)));
    v
}

#[derive(Debug, Clone)]
enum Op {
    Add(i32, String),
    Rem(String),
    PopMin(u8),
    RemRangeByScore(i32, i32),
}

fn op() -> impl Strategy<Value = Op> {
    let member = "[a-e]{1,2}";
    prop_oneof![
        4 => (-5i32..5, member).prop_map(|(s, m)| Op::Add(s, m)),
        1 => member.prop_map(Op::Rem),
        1 => (0u8..3).prop_map(Op::PopMin),
        1 => (-5i32..5, -5i32..5).prop_map(|(a, b)| Op::RemRangeByScore(a, b)),
    ]
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 8, ..ProptestConfig::default() })]

    #[test]
    fn zset_matches_a_model(ops in proptest::collection::vec(op(), 1..60)) {
        let server = TestServer::start(&["--fsync", "never"]);
        let mut con = server.redis();
        let mut model = Model::new();
        for op in ops {
            match op {
                Op::Add(s, m) => {
                    let added: i64 = redis::cmd("ZADD").arg("k").arg(s).arg(&m).query(&mut con).unwrap();
                    prop_assert_eq!(added, i64::from(model.insert(m, f64::from(s)).is_none()));
                }
                Op::Rem(m) => {
                    let n: i64 = redis::cmd("ZREM").arg("k").arg(&m).query(&mut con).unwrap();
                    prop_assert_eq!(n, i64::from(model.remove(&m).is_some()));
                }
                Op::PopMin(n) => {
                    let got: Vec<String> = redis::cmd("ZPOPMIN").arg("k").arg(n).query(&mut con).unwrap();
                    let want: Vec<String> = model_range(&model).into_iter().take(n.into())
                        .flat_map(|(m, s)| [m, s.to_string()]).collect();
                    for pair in want.chunks(2) {
                        model.remove(&pair[0]);
                    }
                    prop_assert_eq!(got, want);
                }
                Op::RemRangeByScore(a, b) => {
                    let n: usize = redis::cmd("ZREMRANGEBYSCORE").arg("k").arg(a).arg(b).query(&mut con).unwrap();
                    let before = model.len();
                    model.retain(|_, s| *s < f64::from(a) || *s > f64::from(b));
                    prop_assert_eq!(n, before - model.len());
                }
            }
            let got: Vec<String> = redis::cmd("ZRANGE").arg("k").arg(0).arg(-1).arg("WITHSCORES").query(&mut con).unwrap();
            let want: Vec<String> = model_range(&model).into_iter().flat_map(|(m, s)| [m, s.to_string()]).collect();
            prop_assert_eq!(got, want);
            let card: usize = redis::cmd("ZCARD").arg("k").query(&mut con).unwrap();
            prop_assert_eq!(card, model.len());
            for (rank, (m, _)) in model_range(&model).into_iter().enumerate() {
                let r: usize = redis::cmd("ZRANK").arg("k").arg(&m).query(&mut con).unwrap();
                prop_assert_eq!(r, rank);
            }
        }
    }
}
