//! What to ask: the operation mix, which key, how big a value. Shared by the network and the
//! embedded drivers; it knows nothing of sockets or storage.
//!
//! Everything here is called once per request, so nothing allocates: keys are formatted
//! into a caller's reused buffer and values are slices of one random buffer.

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;

use rand::rngs::SmallRng;
use rand::Rng;

/// The operations a benchmark issues. Their order is the order of reports.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum OpKind {
    /// Write a key.
    Set,
    /// Read a key.
    Get,
    /// Ordered scan of `--scan-length` pairs from a key.
    Scan,
    /// Read a key, then write it (YCSB F): one operation, two requests.
    Rmw,
}

impl OpKind {
    pub const ALL: [OpKind; 4] = [OpKind::Set, OpKind::Get, OpKind::Scan, OpKind::Rmw];

    pub fn name(self) -> &'static str {
        match self {
            OpKind::Set => "set",
            OpKind::Get => "get",
            OpKind::Scan => "scan",
            OpKind::Rmw => "rmw",
        }
    }

    pub fn index(self) -> usize {
        self as usize
    }
}

/// Relative weights of SET, GET, SCAN and RMW.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Mix {
    pub weights: [u32; 4],
}

impl Mix {
    /// `SET:GET[:SCAN[:RMW]]`, e.g. `1:9` or `5:0:95`.
    pub fn parse(s: &str) -> Result<Mix, String> {
        let parts: Vec<&str> = s.split(':').collect();
        if parts.len() < 2 || parts.len() > 4 {
            return Err(format!(
                "ratio `{s}`: expected SET:GET, SET:GET:SCAN or SET:GET:SCAN:RMW"
            ));
        }
        let mut weights = [0u32; 4];
        for (w, p) in weights.iter_mut().zip(&parts) {
            *w = p
                .trim()
                .parse()
                .map_err(|_| format!("ratio `{s}`: `{p}` is not a whole number"))?;
        }
        if weights.iter().all(|&w| w == 0) {
            return Err(format!("ratio `{s}`: all weights are zero"));
        }
        Ok(Mix { weights })
    }

    /// A named workload: YCSB A, B, C, E, F, or `scan` (scans only).
    pub fn named(name: &str) -> Result<Mix, String> {
        let weights = match name.to_ascii_lowercase().as_str() {
            "ycsb-a" | "a" => [50, 50, 0, 0],
            "ycsb-b" | "b" => [5, 95, 0, 0],
            // Reads only: YCSB C is `get`.
            "ycsb-c" | "c" | "get" => [0, 100, 0, 0],
            "ycsb-e" | "e" => [5, 0, 95, 0],
            "ycsb-f" | "f" => [0, 50, 0, 50],
            "scan" => [0, 0, 100, 0],
            "set" => [100, 0, 0, 0],
            _ => {
                return Err(format!(
                    "unknown workload `{name}` (ycsb-a, ycsb-b, ycsb-c, ycsb-e, ycsb-f, scan, set, get)"
                ))
            }
        };
        Ok(Mix { weights })
    }

    /// The operations with a non-zero weight.
    pub fn kinds(&self) -> impl Iterator<Item = OpKind> + '_ {
        OpKind::ALL
            .into_iter()
            .filter(|k| self.weights[k.index()] > 0)
    }

    pub fn describe(&self) -> String {
        self.kinds()
            .map(|k| format!("{}={}", k.name(), self.weights[k.index()]))
            .collect::<Vec<_>>()
            .join(" ")
    }

    pub fn pick(&self, rng: &mut SmallRng) -> OpKind {
        let total: u32 = self.weights.iter().sum();
        let mut x = rng.gen_range(0..total);
        for k in OpKind::ALL {
            let w = self.weights[k.index()];
            if x < w {
                return k;
            }
            x -= w;
        }
        OpKind::Get
    }
}

/// YCSB's zipfian generator (Gray et al., "Quickly generating billion-record synthetic
/// databases", SIGMOD 1994): rank `r` (0-based) is drawn with probability proportional to
/// `1 / (r + 1)^theta`. Constant time per draw after an O(n) set-up.
#[derive(Debug, Clone)]
pub struct Zipfian {
    n: u64,
    alpha: f64,
    zetan: f64,
    eta: f64,
    half_pow_theta: f64,
}

impl Zipfian {
    /// `n` items, skew `theta` in (0, 1); YCSB uses 0.99.
    pub fn new(n: u64, theta: f64) -> Result<Zipfian, String> {
        if n == 0 {
            return Err("zipfian: the key space is empty".into());
        }
        if !(theta > 0.0 && theta < 1.0) {
            return Err(format!("zipfian theta {theta}: must be in (0, 1)"));
        }
        let zeta = |n: u64| (1..=n).map(|i| 1.0 / (i as f64).powf(theta)).sum::<f64>();
        let zetan = zeta(n);
        let zeta2 = zeta(2.min(n));
        let eta = if n <= 2 {
            0.0
        } else {
            (1.0 - (2.0 / n as f64).powf(1.0 - theta)) / (1.0 - zeta2 / zetan)
        };
        Ok(Zipfian {
            n,
            alpha: 1.0 / (1.0 - theta),
            zetan,
            eta,
            half_pow_theta: 0.5f64.powf(theta),
        })
    }

    /// A rank in `0..n`: 0 is the most frequent.
    pub fn next(&self, rng: &mut SmallRng) -> u64 {
        let u: f64 = rng.gen();
        let uz = u * self.zetan;
        if uz < 1.0 {
            return 0;
        }
        if uz < 1.0 + self.half_pow_theta {
            return 1.min(self.n - 1);
        }
        let r = part_of(self.n, (self.eta * u - self.eta + 1.0).powf(self.alpha));
        r.min(self.n - 1)
    }
}

/// How keys are chosen.
#[derive(Debug, Clone)]
pub enum KeyPattern {
    /// 0, 1, 2, ... shared by every connection, wrapping at the key space.
    Sequential,
    /// Uniformly random.
    Uniform,
    /// Zipfian with the given skew; ranks are scattered over the key space by a fixed
    /// bijection (as YCSB's scrambled zipfian), so the hot keys are not neighbours.
    Zipfian(f64),
}

impl KeyPattern {
    pub fn parse(s: &str) -> Result<KeyPattern, String> {
        match s.split_once(':') {
            None if s == "sequential" || s == "seq" => Ok(KeyPattern::Sequential),
            None if s == "uniform" || s == "random" => Ok(KeyPattern::Uniform),
            None if s == "zipfian" => Ok(KeyPattern::Zipfian(0.99)),
            Some(("zipfian", t)) => {
                let theta: f64 = t
                    .parse()
                    .map_err(|_| format!("zipfian theta `{t}` is not a number"))?;
                if !(theta > 0.0 && theta < 1.0) {
                    return Err(format!("zipfian theta {theta}: must be in (0, 1)"));
                }
                Ok(KeyPattern::Zipfian(theta))
            }
            _ => Err(format!(
                "key pattern `{s}`: expected sequential, uniform, zipfian or zipfian:THETA"
            )),
        }
    }

    pub fn describe(&self) -> String {
        match self {
            KeyPattern::Sequential => "sequential".into(),
            KeyPattern::Uniform => "uniform".into(),
            KeyPattern::Zipfian(t) => format!("zipfian:{t}"),
        }
    }
}

/// Draws key indexes; one per benchmark, shared (cheaply) by every connection.
#[derive(Debug, Clone)]
pub struct KeyChooser {
    keyspace: u64,
    kind: Chooser,
}

#[derive(Debug, Clone)]
enum Chooser {
    Sequential(Arc<AtomicU64>),
    Uniform,
    Zipfian(Arc<Zipfian>, Scatter),
}

/// `fraction` of `n`, rounded down: a whole number in `0..=n` for a fraction in [0, 1].
// The float is in 0.0..=n by the fraction's range, and `as` saturates beyond it.
#[allow(clippy::cast_possible_truncation, clippy::cast_sign_loss)]
fn part_of(n: u64, fraction: f64) -> u64 {
    (n as f64 * fraction) as u64
}

/// A bijection of `0..n`: `i -> (i * mult + add) mod n` with `mult` coprime to `n`. Ranks
/// 0, 1, 2... land far apart, so a skewed workload's hot keys do not share a block, a
/// cache line or a neighbourhood of the key order: sorted storage must not look better
/// than it would under YCSB, whose zipfian keys are hashed the same way.
#[derive(Debug, Clone, Copy)]
struct Scatter {
    n: u64,
    mult: u64,
    add: u64,
}

impl Scatter {
    fn new(n: u64) -> Scatter {
        fn gcd(a: u64, b: u64) -> u64 {
            if b == 0 {
                a
            } else {
                gcd(b, a % b)
            }
        }
        // About n / golden ratio, then the next value coprime to n.
        let mut mult = part_of(n, 0.618_033_988_75).max(1);
        while n > 1 && gcd(mult, n) != 1 {
            mult += 1;
        }
        Scatter {
            n,
            mult: mult % n.max(1),
            add: n / 3,
        }
    }

    fn map(&self, i: u64) -> u64 {
        ((u128::from(i) * u128::from(self.mult) + u128::from(self.add)) % u128::from(self.n)) as u64
    }
}

impl KeyChooser {
    pub fn new(pattern: &KeyPattern, keyspace: u64) -> Result<KeyChooser, String> {
        if keyspace == 0 {
            return Err("--keyspace must be at least 1".into());
        }
        let kind = match pattern {
            KeyPattern::Sequential => Chooser::Sequential(Arc::new(AtomicU64::new(0))),
            KeyPattern::Uniform => Chooser::Uniform,
            KeyPattern::Zipfian(theta) => Chooser::Zipfian(
                Arc::new(Zipfian::new(keyspace, *theta)?),
                Scatter::new(keyspace),
            ),
        };
        Ok(KeyChooser { keyspace, kind })
    }

    pub fn next(&self, rng: &mut SmallRng) -> u64 {
        match &self.kind {
            Chooser::Sequential(n) => n.fetch_add(1, Ordering::Relaxed) % self.keyspace,
            Chooser::Uniform => rng.gen_range(0..self.keyspace),
            Chooser::Zipfian(z, scatter) => scatter.map(z.next(rng)),
        }
    }
}

/// Formats keys as `prefix` + a zero-padded decimal index, so key order is index order and
/// a scan from key `i` meets keys `i+1, i+2, ...`.
#[derive(Debug, Clone)]
pub struct KeyFormat {
    prefix: Vec<u8>,
    width: usize,
}

impl KeyFormat {
    pub fn new(prefix: &str, keyspace: u64) -> KeyFormat {
        let digits = keyspace.saturating_sub(1).max(1).ilog10() as usize + 1;
        KeyFormat {
            prefix: prefix.as_bytes().to_vec(),
            width: digits.max(12),
        }
    }

    pub fn len(&self) -> usize {
        self.prefix.len() + self.width
    }

    /// Writes key `i` into `out` (cleared first).
    pub fn write(&self, i: u64, out: &mut Vec<u8>) {
        out.clear();
        out.extend_from_slice(&self.prefix);
        let start = out.len();
        out.resize(start + self.width, b'0');
        let mut n = i;
        let mut at = out.len();
        while n > 0 && at > start {
            at -= 1;
            out[at] = b'0' + (n % 10) as u8;
            n /= 10;
        }
    }
}

/// Value sizes: fixed, or uniform over an inclusive range.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ValueSize {
    pub min: usize,
    pub max: usize,
}

impl ValueSize {
    pub fn parse(s: &str) -> Result<ValueSize, String> {
        let num = |t: &str| {
            t.trim()
                .parse::<usize>()
                .map_err(|_| format!("value size `{t}` is not a whole number"))
        };
        let (min, max) = match s.split_once('-') {
            Some((a, b)) => (num(a)?, num(b)?),
            None => (num(s)?, num(s)?),
        };
        if min > max {
            return Err(format!(
                "value size range `{s}`: the minimum is over the maximum"
            ));
        }
        if max > 512 << 20 {
            return Err(format!("value size `{s}`: at most 512 MiB"));
        }
        Ok(ValueSize { min, max })
    }

    pub fn describe(&self) -> String {
        if self.min == self.max {
            self.min.to_string()
        } else {
            format!("{}-{}", self.min, self.max)
        }
    }
}

/// Random bytes that values are cut from: a value is a slice at a random offset, so values
/// differ (no compression shortcut) without generating bytes per request.
#[derive(Debug, Clone)]
pub struct ValuePool {
    data: Arc<Vec<u8>>,
    size: ValueSize,
}

impl ValuePool {
    pub fn new(size: ValueSize, rng: &mut SmallRng) -> ValuePool {
        let len = size.max + 4096;
        let data: Vec<u8> = (0..len).map(|_| rng.gen_range(b'!'..=b'~')).collect();
        ValuePool {
            data: Arc::new(data),
            size,
        }
    }

    pub fn next(&self, rng: &mut SmallRng) -> &[u8] {
        let len = if self.size.min == self.size.max {
            self.size.min
        } else {
            rng.gen_range(self.size.min..=self.size.max)
        };
        let off = rng.gen_range(0..=self.data.len() - len);
        &self.data[off..off + len]
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use rand::SeedableRng;

    #[test]
    fn zipfian_skew_matches_theta() {
        for theta in [0.5, 0.8, 0.99] {
            let z = Zipfian::new(1000, theta).expect("zipfian");
            let mut rng = SmallRng::seed_from_u64(7);
            let mut counts = vec![0u64; 1000];
            for _ in 0..2_000_000 {
                counts[z.next(&mut rng) as usize] += 1;
            }
            // rank 1 vs rank 10 (0-based 0 and 9): frequency ratio 10^theta
            let ratio = counts[0] as f64 / counts[9] as f64;
            let expect = 10f64.powf(theta);
            assert!(
                (ratio / expect - 1.0).abs() < 0.15,
                "theta {theta}: rank1/rank10 = {ratio:.2}, expected {expect:.2}"
            );
            // and the head's share matches 1/zeta(n)
            let share = counts[0] as f64 / 2_000_000.0;
            let expect_share = 1.0 / z.zetan;
            assert!(
                (share / expect_share - 1.0).abs() < 0.05,
                "theta {theta}: rank1 share {share}, expected {expect_share}"
            );
            assert!(counts.iter().skip(1).all(|&c| c <= counts[0]));
        }
    }

    #[test]
    fn zipfian_keys_are_scattered_one_to_one() {
        for n in [1u64, 2, 3, 10, 1000, 1024, 100_000] {
            let s = Scatter::new(n);
            let mut seen = vec![false; n as usize];
            for i in 0..n {
                let k = s.map(i) as usize;
                assert!(!seen[k], "n {n}: {i} maps onto a taken key {k}");
                seen[k] = true;
            }
        }
        // The hottest ranks are not neighbours in the key order.
        let s = Scatter::new(100_000);
        let hot: Vec<u64> = (0..4).map(|i| s.map(i)).collect();
        assert!(
            hot.windows(2).all(|w| w[0].abs_diff(w[1]) > 1000),
            "{hot:?}"
        );
        // And the skew survives the scattering: the hottest key is drawn as often as rank 0.
        let chooser = KeyChooser::new(&KeyPattern::Zipfian(0.99), 1000).expect("chooser");
        let mut rng = SmallRng::seed_from_u64(3);
        let mut counts = vec![0u64; 1000];
        for _ in 0..200_000 {
            counts[chooser.next(&mut rng) as usize] += 1;
        }
        let hottest = Scatter::new(1000).map(0) as usize;
        assert_eq!(counts.iter().max(), Some(&counts[hottest]));
    }

    #[test]
    fn zipfian_stays_in_range() {
        let z = Zipfian::new(3, 0.99).expect("zipfian");
        let mut rng = SmallRng::seed_from_u64(1);
        assert!((0..10_000).all(|_| z.next(&mut rng) < 3));
        assert!(Zipfian::new(10, 1.0).is_err());
        assert!(Zipfian::new(0, 0.5).is_err());
    }

    #[test]
    fn keys_sort_by_index() {
        let f = KeyFormat::new("key:", 1000);
        let mut a = Vec::new();
        let mut b = Vec::new();
        f.write(42, &mut a);
        assert_eq!(a, b"key:000000000042");
        f.write(999, &mut b);
        assert!(a < b);
        assert_eq!(a.len(), f.len());
    }

    #[test]
    fn parses_mixes_and_sizes() {
        assert_eq!(Mix::parse("1:9").map(|m| m.weights), Ok([1, 9, 0, 0]));
        assert_eq!(Mix::parse("1:8:1").map(|m| m.weights), Ok([1, 8, 1, 0]));
        assert!(Mix::parse("0:0").is_err());
        assert!(Mix::parse("1").is_err());
        assert_eq!(Mix::named("ycsb-f").map(|m| m.weights), Ok([0, 50, 0, 50]));
        assert_eq!(
            ValueSize::parse("64-1024"),
            Ok(ValueSize { min: 64, max: 1024 })
        );
        assert!(ValueSize::parse("9-3").is_err());
        assert!(matches!(
            KeyPattern::parse("zipfian:0.5"),
            Ok(KeyPattern::Zipfian(t)) if t.to_bits() == 0.5f64.to_bits()
        ));
        assert!(KeyPattern::parse("zipfian:1.5").is_err());
    }
}
