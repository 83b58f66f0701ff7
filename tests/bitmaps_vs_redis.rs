//! Differential test of the bitmap commands: one random sequence of SETBIT, GETBIT,
//! BITCOUNT, BITPOS, BITOP, BITFIELD, `BITFIELD_RO`, GET, SET, APPEND and DEL requests, valid
//! and not, sent to a cairn-server and to a redis-server, in RESP2 and RESP3; every reply
//! must agree byte for byte. A few keys take every request, so operations see each
//! other's values, missing keys and values of every length.
//!
//! The Redis is a scratch `redis-server` (.ci/run installs it; under CI a missing one fails
//! the test, elsewhere the test says so and passes), or `CAIRN_REDIS_DIFF`. The sequence
//! comes from a seeded RNG: `CAIRN_BITMAP_SEED` picks another, `CAIRN_BITMAP_ROUNDS` sets
//! the number of requests per protocol.

// A failing test should fail loudly: expect and unwrap are its assertions.
#![allow(clippy::expect_used, clippy::unwrap_used)]

mod common;

use common::raw::Raw;
use common::scratch_redis::ScratchRedis;
use common::TestServer;
use rand::rngs::StdRng;
use rand::{Rng, SeedableRng};

/// The keys every request picks from: few, so that requests meet each other's values.
const KEYS: &[&str] = &["a", "b", "c", "d"];

/// Random requests, mostly valid, some broken in each way Redis refuses.
struct Requests {
    rng: StdRng,
}

impl Requests {
    /// One of `words`.
    fn pick(&mut self, words: &[&str]) -> String {
        words[self.rng.gen_range(0..words.len())].to_string()
    }

    /// True one time in `n`.
    fn one_in(&mut self, n: u32) -> bool {
        self.rng.gen_ratio(1, n)
    }

    fn key(&mut self) -> String {
        self.pick(KEYS)
    }

    /// A SETBIT/GETBIT offset: mostly within a few bytes, sometimes further, sometimes
    /// not one.
    fn offset(&mut self) -> String {
        if self.one_in(20) {
            return self.pick(&["-1", "x", "4294967296", "01", "#3", "", "1.5"]);
        }
        let max = if self.one_in(10) { 4000 } else { 160 };
        self.rng.gen_range(0..max).to_string()
    }

    /// A range index: small, negative or not, now and then extreme or no number.
    fn index(&mut self) -> String {
        if self.one_in(25) {
            return self.pick(&["x", "9223372036854775807", "-9223372036854775808", "+1", ""]);
        }
        self.rng.gen_range(-30..40).to_string()
    }

    fn unit(&mut self) -> String {
        if self.one_in(15) {
            return self.pick(&["FOO", "bits", ""]);
        }
        self.pick(&["BIT", "BYTE", "bit", "byte"])
    }

    /// A value to SET or APPEND: biased towards all-zero and all-one bytes, so BITPOS
    /// meets runs of both.
    fn value(&mut self) -> Vec<u8> {
        let len = self.rng.gen_range(0..12);
        (0..len)
            .map(|_| match self.rng.gen_range(0..4) {
                0 => 0x00,
                1 => 0xff,
                _ => self.rng.gen(),
            })
            .collect()
    }

    /// A BITFIELD type and its width (0 for a bad one).
    fn field_type(&mut self) -> (String, u32) {
        if self.one_in(30) {
            return (self.pick(&["u64", "i65", "u0", "x8", "i", "U8", "i-1"]), 0);
        }
        let signed = self.rng.gen_bool(0.5);
        let bits = if self.one_in(3) {
            self.pick(&["1", "8", "63", "64"]).parse().unwrap()
        } else {
            self.rng.gen_range(1..=64)
        };
        let bits = if signed { bits } else { bits.min(63) };
        (format!("{}{bits}", if signed { 'i' } else { 'u' }), bits)
    }

    /// A BITFIELD offset: a bit, or `#n` fields of the type's width.
    fn field_offset(&mut self) -> String {
        match self.rng.gen_range(0..12) {
            0..=2 => format!("#{}", self.rng.gen_range(0..10)),
            3 if self.one_in(4) => self.pick(&["-1", "#-1", "x", "4294967296", "#x"]),
            _ => self.rng.gen_range(0..120).to_string(),
        }
    }

    /// A SET value or INCRBY increment for a field of `bits` bits: near its limits, past
    /// them, or anywhere in i64.
    fn field_value(&mut self, bits: u32) -> String {
        let bits = bits.clamp(1, 64);
        let max = if bits == 64 {
            i64::MAX
        } else {
            (1i64 << (bits - 1)) - 1
        };
        let umax = if bits >= 63 {
            i64::MAX
        } else {
            (1i64 << bits) - 1
        };
        let near = [
            0,
            1,
            -1,
            max,
            -max - 1,
            umax,
            max.saturating_add(1),
            (-max - 1).saturating_sub(1),
            umax.saturating_add(1),
            i64::MAX,
            i64::MIN,
        ];
        match self.rng.gen_range(0..10) {
            0..=4 => near[self.rng.gen_range(0..near.len())].to_string(),
            5 if self.one_in(5) => self.pick(&["x", "1.5", "9223372036854775808"]),
            5..=7 => self.rng.gen_range(-300i64..300).to_string(),
            _ => self.rng.gen::<i64>().to_string(),
        }
    }

    /// A BITCOUNT or BITPOS range: 0 to 4 arguments, two indexes then units, so that
    /// every count (each command refuses some) comes up.
    fn range(&mut self, args: &mut Vec<Vec<u8>>) {
        for i in 0..self.rng.gen_range(0..=4) {
            let arg = if i < 2 { self.index() } else { self.unit() };
            args.push(arg.into_bytes());
        }
    }

    /// BITFIELD's operations (and, for `BITFIELD_RO`, mostly GETs).
    fn bitfield_ops(&mut self, read_only: bool, args: &mut Vec<Vec<u8>>) {
        for _ in 0..self.rng.gen_range(0..5) {
            let op = if read_only && !self.one_in(10) {
                "GET".to_string()
            } else {
                self.pick(&["GET", "SET", "INCRBY", "OVERFLOW", "get", "incrby"])
            };
            if op.eq_ignore_ascii_case("OVERFLOW") {
                args.push(op.into_bytes());
                let kind = if self.one_in(15) {
                    self.pick(&["FOO", "sat "])
                } else {
                    self.pick(&["WRAP", "SAT", "FAIL", "fail"])
                };
                args.push(kind.into_bytes());
                continue;
            }
            let (ty, bits) = self.field_type();
            args.push(op.clone().into_bytes());
            // Now and then an operation short of its arguments.
            if self.one_in(40) {
                continue;
            }
            args.push(ty.into_bytes());
            args.push(self.field_offset().into_bytes());
            if !op.eq_ignore_ascii_case("GET") {
                args.push(self.field_value(bits).into_bytes());
            }
        }
    }

    fn next(&mut self) -> Vec<Vec<u8>> {
        let mut args: Vec<Vec<u8>> = Vec::new();
        let push = |args: &mut Vec<Vec<u8>>, s: String| args.push(s.into_bytes());
        match self.rng.gen_range(0..100) {
            0..=17 => {
                push(&mut args, "SETBIT".into());
                push(&mut args, self.key());
                push(&mut args, self.offset());
                let bit = if self.one_in(20) {
                    self.pick(&["2", "-1", "x", "01", ""])
                } else {
                    self.pick(&["0", "1"])
                };
                push(&mut args, bit);
            }
            18..=24 => {
                push(&mut args, "GETBIT".into());
                push(&mut args, self.key());
                push(&mut args, self.offset());
            }
            25..=36 => {
                push(&mut args, "BITCOUNT".into());
                push(&mut args, self.key());
                self.range(&mut args);
            }
            37..=50 => {
                push(&mut args, "BITPOS".into());
                push(&mut args, self.key());
                let bit = if self.one_in(20) {
                    self.pick(&["2", "-1", "x"])
                } else {
                    self.pick(&["0", "1"])
                };
                push(&mut args, bit);
                self.range(&mut args);
            }
            51..=58 => {
                push(&mut args, "BITOP".into());
                let op = if self.one_in(20) {
                    self.pick(&["NAND", "", "ANDX"])
                } else {
                    self.pick(&["AND", "OR", "XOR", "NOT", "and", "not"])
                };
                push(&mut args, op);
                push(&mut args, self.key());
                for _ in 0..self.rng.gen_range(1..=4) {
                    push(&mut args, self.key());
                }
            }
            59..=73 => {
                push(&mut args, "BITFIELD".into());
                push(&mut args, self.key());
                self.bitfield_ops(false, &mut args);
            }
            74..=78 => {
                push(&mut args, "BITFIELD_RO".into());
                push(&mut args, self.key());
                self.bitfield_ops(true, &mut args);
            }
            79..=85 => {
                push(&mut args, "GET".into());
                push(&mut args, self.key());
            }
            86..=91 => {
                push(&mut args, "SET".into());
                push(&mut args, self.key());
                args.push(self.value());
            }
            92..=96 => {
                push(&mut args, "APPEND".into());
                push(&mut args, self.key());
                args.push(self.value());
            }
            _ => {
                push(&mut args, "DEL".into());
                push(&mut args, self.key());
            }
        }
        args
    }
}

/// A request or reply as readable text.
fn show(words: &[Vec<u8>]) -> String {
    words
        .iter()
        .map(|w| format!("{:?}", String::from_utf8_lossy(w)))
        .collect::<Vec<_>>()
        .join(" ")
}

#[test]
fn bitmap_replies_agree_with_redis() {
    let Some(redis) = ScratchRedis::start("bitmap differential test against Redis") else {
        return;
    };
    let server = TestServer::start(&[]);
    let seed: u64 = std::env::var("CAIRN_BITMAP_SEED")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(0x6269_746d_6170);
    let rounds: usize = std::env::var("CAIRN_BITMAP_ROUNDS")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(1500);
    let started = std::time::Instant::now();
    for protocol in ["2", "3"] {
        let mut ours = Raw::connect(&server.addr.to_string());
        let mut theirs = Raw::connect(&redis.addr);
        for side in [&mut ours, &mut theirs] {
            side.call(&["HELLO", protocol]);
            side.call(&["FLUSHALL"]);
        }
        let mut requests = Requests {
            rng: StdRng::seed_from_u64(seed ^ u64::from(protocol == "3")),
        };
        // Every request is shown on failure with the ones before it on the same keys,
        // since a divergence may come from an earlier write.
        let mut history: Vec<String> = Vec::new();
        for i in 0..rounds {
            let args = requests.next();
            let (mine, want) = (ours.call(&args), theirs.call(&args));
            history.push(show(&args));
            assert!(
                mine == want,
                "RESP{protocol}, seed {seed}, request {i}: {}\n  cairn {:?}\n  redis {:?}\n\
                 the requests before it:\n  {}",
                show(&args),
                String::from_utf8_lossy(&mine),
                String::from_utf8_lossy(&want),
                history
                    .iter()
                    .rev()
                    .skip(1)
                    .take(12)
                    .cloned()
                    .collect::<Vec<_>>()
                    .join("\n  ")
            );
        }
        // The values the sequence left behind, byte for byte.
        for key in KEYS {
            assert_eq!(
                ours.call(&["GET", key]),
                theirs.call(&["GET", key]),
                "RESP{protocol}, seed {seed}: key {key} at the end"
            );
        }
    }
    eprintln!(
        "{} bitmap requests compared in {:?}",
        2 * rounds,
        started.elapsed()
    );
}
