//! Differential test of the list commands: a seeded random sequence of list commands (and
//! DEL/EXISTS/TYPE/EXPIRE/RENAME/GET/SET on the same few keys, so the WRONGTYPE paths are
//! hit) sent to a cairn-server and a scratch redis-server, the replies compared byte for
//! byte in RESP2 and RESP3; and a property test of the same commands against an in-memory
//! model. Non-blocking forms only here (a blocking pop on a non-empty list answers at
//! once and is included); `tests/lists_blocking.rs` covers the waiting.

#![allow(clippy::expect_used, clippy::unwrap_used)]
// The model's small numbers: casts cannot wrap, and short names read as the op's fields.
#![allow(
    clippy::cast_possible_wrap,
    clippy::cast_sign_loss,
    clippy::cast_possible_truncation,
    clippy::many_single_char_names,
    clippy::trivially_copy_pass_by_ref
)]

mod common;

use std::collections::{HashMap, VecDeque};

use bytes::BytesMut;
use common::random::Random;
use common::raw::Raw;
use common::scratch_redis::ScratchRedis;
use common::TestServer;
use proptest::prelude::*;

/// A small integer, sometimes one at the ends of `i64`.
fn int(r: &mut Random) -> String {
    let n = r.below(14) as i64 - 7;
    match r.below(20) {
        0 => "9223372036854775807".into(),
        1 => "-9223372036854775808".into(),
        _ => n.to_string(),
    }
}

const KEYS: &[&str] = &["a", "b", "c", "s"];
const ELEMENTS: &[&str] = &["x", "y", "z", "", "xx"];

/// One random request.
fn request(r: &mut Random) -> Vec<String> {
    let key = r.pick(KEYS).to_string();
    let other = r.pick(KEYS).to_string();
    let end = || ["LEFT", "RIGHT", "left"];
    let mut words: Vec<String> = match r.below(26) {
        0 | 1 => vec![r.pick(&["LPUSH", "RPUSH"]).into(), key],
        2 => vec![r.pick(&["LPUSHX", "RPUSHX"]).into(), key],
        3 | 4 => vec![r.pick(&["LPOP", "RPOP"]).into(), key],
        5 => vec![
            r.pick(&["LPOP", "RPOP"]).into(),
            key,
            r.below(5).to_string(),
        ],
        6 | 7 => vec!["LRANGE".into(), key, int(r), int(r)],
        8 => vec!["LINDEX".into(), key, int(r)],
        9 => vec!["LSET".into(), key, int(r), r.pick(ELEMENTS).into()],
        10 => vec![
            "LINSERT".into(),
            key,
            r.pick(&["BEFORE", "AFTER"]).into(),
            r.pick(ELEMENTS).into(),
            r.pick(ELEMENTS).into(),
        ],
        11 => vec!["LLEN".into(), key],
        12 => vec!["LREM".into(), key, int(r), r.pick(ELEMENTS).into()],
        13 => vec!["LTRIM".into(), key, int(r), int(r)],
        14 => {
            let mut w = vec!["LPOS".into(), key, r.pick(ELEMENTS).into()];
            for _ in 0..r.below(3) {
                w.push(r.pick(&["RANK", "COUNT", "MAXLEN"]).into());
                w.push(int(r));
            }
            w
        }
        15 => vec![
            "LMOVE".into(),
            key,
            other,
            r.pick(&end()).into(),
            r.pick(&end()).into(),
        ],
        16 => vec!["RPOPLPUSH".into(), key, other],
        17 => {
            let mut w = vec![
                "LMPOP".into(),
                "2".into(),
                key,
                other,
                r.pick(&end()).into(),
            ];
            if r.below(2) == 0 {
                w.push("COUNT".into());
                w.push((r.below(4) + 1).to_string());
            }
            w
        }
        // The blocking forms, on a list made non-empty first (they never wait here).
        18 => vec![
            r.pick(&["BLPOP", "BRPOP"]).into(),
            key,
            other,
            "0.01".into(),
        ],
        19 => vec!["DEL".into(), key],
        20 => vec!["EXISTS".into(), key, other],
        21 => vec!["TYPE".into(), key],
        22 => vec!["RENAME".into(), key, other],
        23 => vec!["SET".into(), "s".into(), "v".into()],
        24 => vec!["GET".into(), key],
        _ => vec!["EXPIRE".into(), key, "100".into()],
    };
    if matches!(words[0].as_str(), "LPUSH" | "RPUSH" | "LPUSHX" | "RPUSHX") {
        for _ in 0..=r.below(4) {
            words.push(r.pick(ELEMENTS).into());
        }
    }
    words
}

#[test]
fn list_replies_agree_with_redis() {
    let Some(redis) = ScratchRedis::start("list differential test against Redis") else {
        return;
    };
    let server = TestServer::start(&[]);
    let ours_addr = server.addr.to_string();
    let mut failures = Vec::new();
    for protocol in ["2", "3"] {
        let (mut ours, mut theirs) = (Raw::connect(&ours_addr), Raw::connect(&redis.addr));
        for side in [&mut ours, &mut theirs] {
            side.call(&[b"HELLO".to_vec(), protocol.as_bytes().to_vec()]);
            side.call(&[b"FLUSHALL".to_vec()]);
        }
        let mut random = Random(0x9e37_79b9_7f4a_7c15 + u64::from(protocol == "3"));
        for _ in 0..2500 {
            let mut words = request(&mut random);
            if words[0] == "BLPOP" || words[0] == "BRPOP" {
                // Never wait: make sure the first key is a list.
                let push = vec![
                    b"RPUSH".to_vec(),
                    words[1].clone().into_bytes(),
                    b"w".to_vec(),
                ];
                let (a, b) = (ours.call(&push), theirs.call(&push));
                if a != b {
                    continue;
                }
                if !a.starts_with(b":") {
                    words = vec!["LLEN".into(), words[1].clone()];
                }
            }
            let args: Vec<Vec<u8>> = words.iter().map(|w| w.clone().into_bytes()).collect();
            let (mine, want) = (ours.call(&args), theirs.call(&args));
            if mine != want {
                failures.push(format!(
                    "RESP{protocol} {}: cairn {:?}, redis {:?}",
                    words.join(" "),
                    String::from_utf8_lossy(&mine),
                    String::from_utf8_lossy(&want)
                ));
            }
        }
        for key in KEYS {
            let args = vec![
                b"LRANGE".to_vec(),
                key.as_bytes().to_vec(),
                b"0".to_vec(),
                b"-1".to_vec(),
            ];
            assert_eq!(ours.call(&args), theirs.call(&args), "final {key}");
        }
    }
    assert!(
        failures.is_empty(),
        "{} disagreements, the first:\n{}",
        failures.len(),
        failures
            .iter()
            .take(8)
            .cloned()
            .collect::<Vec<_>>()
            .join("\n")
    );
}

/// The model: a deque per key.
fn apply(model: &mut HashMap<String, VecDeque<String>>, op: &(u8, u8, i8, i8, u8)) -> Vec<String> {
    let (kind, key, i, j, e) = *op;
    let key = KEYS[usize::from(key) % 3].to_string();
    let element = ELEMENTS[usize::from(e) % ELEMENTS.len()].to_string();
    let list = model.entry(key.clone()).or_default();
    let words = match kind % 6 {
        0 => {
            list.push_front(element.clone());
            vec!["LPUSH".into(), key, element]
        }
        1 => {
            list.push_back(element.clone());
            vec!["RPUSH".into(), key, element]
        }
        2 => {
            list.pop_front();
            vec!["LPOP".into(), key]
        }
        3 => {
            // LINSERT BEFORE the first match of `element`.
            if let Some(at) = list.iter().position(|x| *x == element) {
                list.insert(at, "ins".into());
            }
            vec![
                "LINSERT".into(),
                key,
                "BEFORE".into(),
                element,
                "ins".into(),
            ]
        }
        4 => {
            let count = i64::from(i % 3);
            let mut removed = 0;
            let limit = if count == 0 {
                usize::MAX
            } else {
                count.unsigned_abs() as usize
            };
            if count >= 0 {
                let mut at = 0;
                while at < list.len() {
                    if list[at] == element && removed < limit {
                        list.remove(at);
                        removed += 1;
                    } else {
                        at += 1;
                    }
                }
            } else {
                let mut at = list.len();
                while at > 0 {
                    at -= 1;
                    if list[at] == element && removed < limit {
                        list.remove(at);
                        removed += 1;
                    }
                }
            }
            vec!["LREM".into(), key, count.to_string(), element]
        }
        _ => {
            let len = list.len() as i64;
            let (mut s, mut t) = (i64::from(i), i64::from(j));
            if s < 0 {
                s += len;
            }
            if t < 0 {
                t += len;
            }
            s = s.max(0);
            if s > t || s >= len {
                list.clear();
            } else {
                let t = t.min(len - 1);
                let kept: VecDeque<String> = list
                    .iter()
                    .skip(s as usize)
                    .take((t - s + 1) as usize)
                    .cloned()
                    .collect();
                *list = kept;
            }
            vec!["LTRIM".into(), key, i.to_string(), j.to_string()]
        }
    };
    words
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 12, ..ProptestConfig::default() })]

    #[test]
    fn lists_behave_like_a_deque(ops in proptest::collection::vec(
        (any::<u8>(), any::<u8>(), -6i8..6, -6i8..6, any::<u8>()), 1..120)) {
        let server = TestServer::start(&[]);
        let mut con = Raw::connect(&server.addr.to_string());
        let mut model = HashMap::new();
        for op in &ops {
            let words = apply(&mut model, op);
            let args: Vec<Vec<u8>> = words.iter().map(|w| w.clone().into_bytes()).collect();
            con.call(&args);
        }
        for key in &KEYS[..3] {
            let want = model.get(*key).cloned().unwrap_or_default();
            let mut expected = BytesMut::new();
            cairn::protocol::Reply::Array(
                want.iter().map(|e| cairn::protocol::Reply::Bulk(bytes::Bytes::from(e.clone()))).collect(),
            ).encode(cairn::protocol::RespVersion::Resp2, &mut expected);
            let got = con.call(&[b"LRANGE".to_vec(), key.as_bytes().to_vec(), b"0".to_vec(), b"-1".to_vec()]);
            prop_assert_eq!(String::from_utf8_lossy(&got), String::from_utf8_lossy(&expected));
            let len = con.call(&[b"LLEN".to_vec(), key.as_bytes().to_vec()]);
            prop_assert_eq!(String::from_utf8_lossy(&len).into_owned(), format!(":{}\r\n", want.len()));
        }
    }
}
