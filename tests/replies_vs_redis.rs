//! Differential test of replies: the same requests to a cairn-server and a redis-server,
//! the replies compared byte for byte, in RESP2 and RESP3.
//!
//! The Redis is a scratch `redis-server` (.ci/run installs it; under CI a missing one fails
//! the test, elsewhere the test says so and passes), or `CAIRN_REDIS_DIFF`.

// A failing test should fail loudly: expect and unwrap are its assertions.
#![allow(clippy::expect_used, clippy::unwrap_used)]

mod common;

use common::random::Random;
use common::raw::Raw;
use common::scratch_redis::ScratchRedis;
use common::TestServer;

/// A string over a small alphabet, so that long common subsequences are common.
fn text(random: &mut Random, max: usize) -> Vec<u8> {
    let len = random.below(max + 1);
    (0..len).map(|_| b"abcd"[random.below(4)]).collect()
}

#[test]
fn lcs_replies_agree_with_redis() {
    let Some(redis) = ScratchRedis::start("LCS differential test against Redis") else {
        return;
    };
    let server = TestServer::start(&[]);
    let ours_addr = server.addr.to_string();
    let mut failures = Vec::new();
    for protocol in [b"2", b"3"] {
        let (mut ours, mut theirs) = (Raw::connect(&ours_addr), Raw::connect(&redis.addr));
        for side in [&mut ours, &mut theirs] {
            side.call::<&[u8]>(&[b"HELLO", protocol]);
        }
        let mut random = Random(0x9e37_79b9_7f4a_7c15);
        let options: &[&[&[u8]]] = &[
            &[],
            &[b"LEN"],
            &[b"IDX"],
            &[b"IDX", b"WITHMATCHLEN"],
            &[b"IDX", b"MINMATCHLEN", b"2"],
            &[b"IDX", b"MINMATCHLEN", b"3", b"WITHMATCHLEN"],
            &[b"WITHMATCHLEN", b"IDX", b"MINMATCHLEN", b"-1"],
            &[b"LEN", b"IDX"],
            &[b"MINMATCHLEN", b"x"],
            &[b"MINMATCHLEN"],
            &[b"FOO"],
        ];
        for case in 0..300 {
            let (a, b) = (text(&mut random, 24), text(&mut random, 24));
            for side in [&mut ours, &mut theirs] {
                side.call::<&[u8]>(&[b"MSET", b"a", &a, b"b", &b]);
            }
            // Now and then one of the keys is missing: it counts as the empty string.
            let second: &[u8] = if case % 17 == 0 { b"missing" } else { b"b" };
            let option = options[case % options.len()];
            let mut args: Vec<&[u8]> = vec![b"LCS", b"a", second];
            args.extend_from_slice(option);
            let (mine, want) = (ours.call(&args), theirs.call(&args));
            if mine != want {
                failures.push(format!(
                    "RESP{} LCS {:?} {:?} {:?}: cairn {:?}, redis {:?}",
                    protocol[0] as char,
                    String::from_utf8_lossy(&a),
                    String::from_utf8_lossy(&b),
                    option
                        .iter()
                        .map(|o| String::from_utf8_lossy(o))
                        .collect::<Vec<_>>(),
                    String::from_utf8_lossy(&mine),
                    String::from_utf8_lossy(&want)
                ));
            }
        }
    }
    assert!(
        failures.is_empty(),
        "{} disagreements, the first:\n{}",
        failures.len(),
        failures
            .iter()
            .take(5)
            .cloned()
            .collect::<Vec<_>>()
            .join("\n")
    );
}

/// One INCRBYFLOAT case: the key's value before (`None`: absent), then increments applied
/// in turn.
struct FloatCase {
    stored: Option<&'static [u8]>,
    increments: &'static [&'static [u8]],
}

const fn float_case(
    stored: Option<&'static [u8]>,
    increments: &'static [&'static [u8]],
) -> FloatCase {
    FloatCase { stored, increments }
}

/// Redis computes INCRBYFLOAT in C long double and prints it with `%.17Lf`; these are the
/// sums where an f64 (or another printer) would answer otherwise, and the texts Redis's
/// `string2ld` accepts or refuses.
const FLOAT_CASES: &[FloatCase] = &[
    // Near 2^63, where f64 rounds and long double does not.
    float_case(Some(b"9223372036854775807"), &[b"1", b"1", b"-2"]),
    float_case(Some(b"-9223372036854775808"), &[b"-1", b"0.5"]),
    float_case(Some(b"18446744073709551615"), &[b"1"]),
    // Around 1e17, where f64 has no fractional digits left.
    float_case(Some(b"1e17"), &[b"0.1", b"0.1", b"1"]),
    float_case(None, &[b"100000000000000001", b"0.25"]),
    float_case(Some(b"123456789012345678"), &[b"0.5"]),
    // Fractions.
    float_case(None, &[b"10.5", b"0.1", b"-10.6"]),
    float_case(Some(b"3.0"), &[b"0", b"1.5e-3", b"-0.0015"]),
    float_case(Some(b"5.0e3"), &[b"2.0e2"]),
    float_case(None, &[b"-1.1", b"-2.2", b"3.3"]),
    float_case(None, &[b"0.3333333333333333333333"]),
    float_case(Some(b"1"), &[b"-0.9999999999999999"]),
    float_case(None, &[b"1e-20", b"-1e-20", b"-1e-20"]),
    float_case(None, &[b"1e-17", b"5e-18", b"4e-18"]),
    float_case(None, &[b".5", b"5.", b"+5", b"-.5"]),
    // Signed zeros: "-0" is printed "0".
    float_case(Some(b"-0"), &[b"-0", b"0", b"-0.0"]),
    float_case(None, &[b"-0"]),
    float_case(Some(b"0"), &[b"-1e-30"]),
    // Hexadecimal, as strtold reads it.
    float_case(None, &[b"0x10", b"0x1p3", b"0x.8", b"-0X1P-2"]),
    float_case(Some(b"0x1p-2"), &[b"1"]),
    // Beyond f64, within long double.
    float_case(
        Some(b"1.7976931348623157e308"),
        &[b"1.7976931348623157e308"],
    ),
    float_case(None, &[b"1e999", b"-1e999"]),
    float_case(None, &[b"1e-400", b"1e-4940"]),
    // Beyond long double: overflowing sums, infinities.
    float_case(Some(b"1.1e4932"), &[b"1.1e4932", b"-1"]),
    float_case(None, &[b"inf", b"-inf", b"INFINITY", b"1"]),
    float_case(Some(b"1"), &[b"inf"]),
    // Increments that are no number.
    float_case(
        Some(b"1"),
        &[
            b"nan", b"-nan", b"NaN", b" 1", b"1 ", b"\t1", b"", b"abc", b"1e5000", b"-1e5000",
            b"1e-5000", b"0x", b"1e", b"1.2.3", b"1\x002", b"--1", b"2",
        ],
    ),
    // Stored values that are no number (an infinite increment too: the stored value is
    // checked first).
    float_case(Some(b"abc"), &[b"1", b"inf", b"nan"]),
    float_case(Some(b" 1"), &[b"1"]),
    float_case(Some(b"1 "), &[b"1"]),
    float_case(Some(b""), &[b"1"]),
    float_case(Some(b"1e5000"), &[b"1"]),
    float_case(Some(b"1e-5000"), &[b"1"]),
    float_case(Some(b"nan"), &[b"1"]),
    float_case(Some(b"inf"), &[b"1"]),
    float_case(Some(b"1\x002"), &[b"1"]),
];

/// A random decimal float: sign, digits, perhaps a point and an exponent.
fn random_float(random: &mut Random) -> Vec<u8> {
    let mut text = Vec::new();
    match random.below(3) {
        0 => text.push(b'-'),
        1 if random.below(4) == 0 => text.push(b'+'),
        _ => {}
    }
    let digits = 1 + random.below(22);
    let point = random.below(digits + 2);
    for i in 0..digits {
        if i == point {
            text.push(b'.');
        }
        text.push(b"0123456789"[random.below(10)]);
    }
    if random.below(3) == 0 {
        text.push(b'e');
        if random.below(2) == 0 {
            text.push(b'-');
        }
        text.extend_from_slice(random.below(30).to_string().as_bytes());
    }
    text
}

#[test]
fn incrbyfloat_replies_agree_with_redis() {
    let Some(redis) = ScratchRedis::start("INCRBYFLOAT differential test against Redis") else {
        return;
    };
    let server = TestServer::start(&[]);
    let ours_addr = server.addr.to_string();
    let mut failures = Vec::new();
    let show = |args: &[&[u8]]| {
        args.iter()
            .map(|a| format!("{:?}", String::from_utf8_lossy(a)))
            .collect::<Vec<_>>()
            .join(" ")
    };
    for protocol in [b"2", b"3"] {
        let (mut ours, mut theirs) = (Raw::connect(&ours_addr), Raw::connect(&redis.addr));
        for side in [&mut ours, &mut theirs] {
            side.call::<&[u8]>(&[b"HELLO", protocol]);
        }
        let mut compare = |args: &[&[u8]]| {
            let (mine, want) = (ours.call(args), theirs.call(args));
            if mine != want {
                failures.push(format!(
                    "RESP{} {}: cairn {:?}, redis {:?}",
                    protocol[0] as char,
                    show(args),
                    String::from_utf8_lossy(&mine),
                    String::from_utf8_lossy(&want)
                ));
            }
        };
        for case in FLOAT_CASES {
            compare(&[b"DEL", b"k"]);
            if let Some(stored) = case.stored {
                compare(&[b"SET", b"k", stored]);
            }
            for increment in case.increments {
                compare(&[b"INCRBYFLOAT", b"k", increment]);
            }
            compare(&[b"GET", b"k"]);
        }
        // 0.1 again and again on one key: each sum is read back and rounded anew.
        compare(&[b"DEL", b"k"]);
        for _ in 0..100 {
            compare(&[b"INCRBYFLOAT", b"k", b"0.1"]);
        }
        for _ in 0..30 {
            compare(&[b"INCRBYFLOAT", b"k", b"-0.37"]);
        }
        // The longest text string2ld reads is 5,119 bytes.
        for len in [5_119, 5_120] {
            let mut padded_one = vec![b'0'; len - 1];
            padded_one.push(b'1');
            compare(&[b"SET", b"k", &padded_one]);
            compare(&[b"INCRBYFLOAT", b"k", b"1"]);
            compare(&[b"DEL", b"k"]);
            compare(&[b"INCRBYFLOAT", b"k", &padded_one]);
        }
        // The expiry is kept.
        compare(&[b"SET", b"k", b"1.5", b"EX", b"1000"]);
        compare(&[b"INCRBYFLOAT", b"k", b"1"]);
        compare(&[b"TTL", b"k"]);
        // Random decimals, stored and added.
        let mut random = Random(0x2545_f491_4f6c_dd1d);
        for _ in 0..300 {
            let (stored, increment) = (random_float(&mut random), random_float(&mut random));
            compare(&[b"SET", b"k", &stored]);
            compare(&[b"INCRBYFLOAT", b"k", &increment]);
        }
    }
    assert!(
        failures.is_empty(),
        "{} disagreements, the first:\n{}",
        failures.len(),
        failures
            .iter()
            .take(10)
            .cloned()
            .collect::<Vec<_>>()
            .join("\n")
    );
}
