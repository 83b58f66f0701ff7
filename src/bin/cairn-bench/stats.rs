//! Measurements: per-operation counts, an HDR latency histogram and a throughput timeline,
//! kept per connection (no sharing on the hot path) and merged at the end; and their
//! reports, as a table for people and JSON for machines.

use std::fmt::Write as _;
use std::time::Duration;

use hdrhistogram::Histogram;
use serde_json::{json, Value};

use crate::workload::OpKind;

/// Width of a timeline bucket.
pub const TICK: Duration = Duration::from_millis(100);
/// Timeline buckets in a second.
pub const TICKS_PER_SECOND: usize = 10;
const _: () = assert!(TICK.as_millis() * TICKS_PER_SECOND as u128 == 1000);
/// Distinct error messages kept as examples.
const ERROR_SAMPLES: usize = 5;

/// One operation's measurements. Latencies are recorded in nanoseconds.
#[derive(Debug, Clone)]
pub struct OpStats {
    pub hist: Histogram<u64>,
    /// Operations issued (measured ones only: not during warm-up).
    pub sent: u64,
    /// Answered with a non-error reply.
    pub ok: u64,
    /// Error replies, and operations lost with a broken connection.
    pub errors: u64,
    /// GETs answered "no such key" (counted in `ok` too).
    pub misses: u64,
    /// Payload bytes moved: key and value of a SET, value of a GET, keys and values of a scan.
    pub bytes: u64,
    /// Completed operations per [`TICK`], from the start of measurement.
    pub timeline: Vec<u64>,
}

impl Default for OpStats {
    fn default() -> Self {
        // Auto-resizing: starts small, grows to whatever latency shows up.
        let hist = Histogram::new(3).unwrap_or_else(|_| unreachable_hist());
        OpStats {
            hist,
            sent: 0,
            ok: 0,
            errors: 0,
            misses: 0,
            bytes: 0,
            timeline: Vec::new(),
        }
    }
}

fn unreachable_hist() -> Histogram<u64> {
    // 3 significant figures is always a valid precision; this path never runs.
    Histogram::new_with_bounds(1, u64::MAX / 2, 2).unwrap_or_else(|_| std::process::abort())
}

impl OpStats {
    /// A completed operation `elapsed_ns` after it was sent, `at` after measurement began.
    pub fn record_ok(&mut self, latency_ns: u64, bytes: u64, at: Duration) {
        self.ok += 1;
        self.bytes += bytes;
        if self.hist.record(latency_ns.max(1)).is_err() {
            self.hist.saturating_record(latency_ns.max(1));
        }
        self.tick(at);
    }

    pub fn tick(&mut self, at: Duration) {
        let i = (at.as_nanos() / TICK.as_nanos()) as usize;
        if i >= self.timeline.len() {
            self.timeline.resize(i + 1, 0);
        }
        self.timeline[i] += 1;
    }

    pub fn merge(&mut self, o: &OpStats) {
        let _ = self.hist.add(&o.hist);
        self.sent += o.sent;
        self.ok += o.ok;
        self.errors += o.errors;
        self.misses += o.misses;
        self.bytes += o.bytes;
        if o.timeline.len() > self.timeline.len() {
            self.timeline.resize(o.timeline.len(), 0);
        }
        for (a, b) in self.timeline.iter_mut().zip(&o.timeline) {
            *a += b;
        }
    }

    /// Latency at quantile `q`, in microseconds.
    pub fn quantile_us(&self, q: f64) -> f64 {
        if self.hist.is_empty() {
            return 0.0;
        }
        self.hist.value_at_quantile(q) as f64 / 1000.0
    }

    pub fn max_us(&self) -> f64 {
        if self.hist.is_empty() {
            return 0.0;
        }
        self.hist.max() as f64 / 1000.0
    }
}

/// A whole run (one target, one round, or one embedded benchmark).
#[derive(Debug, Clone, Default)]
pub struct RunStats {
    pub ops: [OpStats; 4],
    /// Measured time: from the end of warm-up to the last reply.
    pub elapsed: Duration,
    /// Connections that could not be opened or broke.
    pub conn_errors: u64,
    /// A few distinct error messages, as examples.
    pub error_samples: Vec<String>,
}

impl RunStats {
    pub fn op(&mut self, k: OpKind) -> &mut OpStats {
        &mut self.ops[k.index()]
    }

    pub fn note_error(&mut self, msg: impl Into<String>) {
        let msg = msg.into();
        if self.error_samples.len() < ERROR_SAMPLES && !self.error_samples.contains(&msg) {
            self.error_samples.push(msg);
        }
    }

    pub fn merge(&mut self, o: &RunStats) {
        for (a, b) in self.ops.iter_mut().zip(&o.ops) {
            a.merge(b);
        }
        self.elapsed = self.elapsed.max(o.elapsed);
        self.conn_errors += o.conn_errors;
        for e in &o.error_samples {
            self.note_error(e.clone());
        }
    }

    /// Runs one after another (rounds): times add up, timelines are kept from the first.
    pub fn accumulate(&mut self, o: &RunStats) {
        let elapsed = self.elapsed + o.elapsed;
        let timelines: Vec<Vec<u64>> = self.ops.iter().map(|s| s.timeline.clone()).collect();
        self.merge(o);
        self.elapsed = elapsed;
        for (s, t) in self.ops.iter_mut().zip(timelines) {
            if !t.is_empty() {
                s.timeline = t;
            }
        }
    }

    /// Operations that appear in this run.
    pub fn present(&self) -> impl Iterator<Item = (OpKind, &OpStats)> {
        OpKind::ALL
            .into_iter()
            .map(|k| (k, &self.ops[k.index()]))
            .filter(|(_, s)| s.sent > 0 || s.ok > 0 || s.errors > 0)
    }

    pub fn total_errors(&self) -> u64 {
        self.ops.iter().map(|s| s.errors).sum::<u64>() + self.conn_errors
    }

    pub fn ops_per_sec(&self, s: &OpStats) -> f64 {
        per_sec(s.ok, self.elapsed)
    }

    pub fn total_ops_per_sec(&self) -> f64 {
        per_sec(self.ops.iter().map(|s| s.ok).sum(), self.elapsed)
    }

    /// Completed operations of every kind per [`TICK`].
    pub fn timeline(&self) -> Vec<u64> {
        let len = self.ops.iter().map(|s| s.timeline.len()).max().unwrap_or(0);
        let mut t = vec![0; len];
        for s in &self.ops {
            for (a, b) in t.iter_mut().zip(&s.timeline) {
                *a += b;
            }
        }
        t
    }

    /// The report table, with a heading line.
    pub fn table(&self, title: &str) -> String {
        let mut out = format!(
            "{title}  ({:.2} s measured)\n{:<6}{:>13}{:>9}{:>10}{:>10}{:>10}{:>10}{:>10}{:>11}{:>11}{:>9}\n",
            self.elapsed.as_secs_f64(),
            "op",
            "ops/s",
            "MB/s",
            "p50 us",
            "p90 us",
            "p99 us",
            "p99.9 us",
            "max us",
            "sent",
            "ok",
            "errors"
        );
        for (k, s) in self.present() {
            // Writing to a String cannot fail.
            let _ = writeln!(
                out,
                "{:<6}{:>13}{:>9.2}{:>10}{:>10}{:>10}{:>10}{:>10}{:>11}{:>11}{:>9}",
                k.name(),
                group(self.ops_per_sec(s)),
                s.bytes as f64 / self.elapsed.as_secs_f64().max(1e-9) / 1e6,
                us(s.quantile_us(0.5)),
                us(s.quantile_us(0.9)),
                us(s.quantile_us(0.99)),
                us(s.quantile_us(0.999)),
                us(s.max_us()),
                s.sent,
                s.ok,
                s.errors
            );
        }
        if self.present().count() > 1 {
            let _ = writeln!(out, "{:<6}{:>13}", "all", group(self.total_ops_per_sec()));
        }
        if self.conn_errors > 0 {
            let _ = writeln!(out, "connection errors: {}", self.conn_errors);
        }
        for e in &self.error_samples {
            let _ = writeln!(out, "error: {e}");
        }
        out
    }

    pub fn json(&self) -> Value {
        let mut ops = serde_json::Map::new();
        for (k, s) in self.present() {
            ops.insert(
                k.name().into(),
                json!({
                    "sent": s.sent,
                    "ok": s.ok,
                    "errors": s.errors,
                    "misses": s.misses,
                    "ops_per_sec": round(self.ops_per_sec(s)),
                    "mb_per_sec": round(s.bytes as f64 / self.elapsed.as_secs_f64().max(1e-9) / 1e6),
                    "latency_us": {
                        "p50": s.quantile_us(0.5),
                        "p90": s.quantile_us(0.9),
                        "p99": s.quantile_us(0.99),
                        "p99.9": s.quantile_us(0.999),
                        "max": s.max_us(),
                        "mean": round(if s.hist.is_empty() { 0.0 } else { s.hist.mean() / 1000.0 }),
                    },
                    "timeline_ops_per_sec": rates(&s.timeline),
                }),
            );
        }
        let sent: u64 = self.ops.iter().map(|s| s.sent).sum();
        let ok: u64 = self.ops.iter().map(|s| s.ok).sum();
        let errors: u64 = self.ops.iter().map(|s| s.errors).sum();
        json!({
            "elapsed_s": self.elapsed.as_secs_f64(),
            "ops": ops,
            "total": {
                "sent": sent,
                "ok": ok,
                "errors": errors,
                "ops_per_sec": round(self.total_ops_per_sec()),
            },
            "connection_errors": self.conn_errors,
            "error_samples": self.error_samples,
            "timeline": {
                "interval_s": TICK.as_secs_f64(),
                "ops_per_sec": rates(&self.timeline()),
                "per_second": per_second(&self.timeline(), self.elapsed),
            },
        })
    }
}

fn per_sec(n: u64, d: Duration) -> f64 {
    let s = d.as_secs_f64();
    if s <= 0.0 {
        0.0
    } else {
        n as f64 / s
    }
}

/// Operations completed in each whole second of the run (a partial last second is left
/// out).
pub fn per_second(t: &[u64], elapsed: Duration) -> Vec<u64> {
    t.chunks(TICKS_PER_SECOND)
        .take(elapsed.as_secs() as usize)
        .map(|c| c.iter().sum())
        .collect()
}

/// Counts per tick as rates per second.
pub fn rates(t: &[u64]) -> Vec<f64> {
    let per = 1.0 / TICK.as_secs_f64();
    t.iter().map(|&c| c as f64 * per).collect()
}

fn round(x: f64) -> f64 {
    (x * 100.0).round() / 100.0
}

fn us(x: f64) -> String {
    if x < 100.0 {
        format!("{x:.1}")
    } else {
        format!("{x:.0}")
    }
}

/// `1234567.8` as `1,234,568`.
pub fn group(x: f64) -> String {
    let s = format!("{:.0}", x.max(0.0));
    let mut out = String::with_capacity(s.len() + s.len() / 3);
    for (i, c) in s.chars().enumerate() {
        if i > 0 && (s.len() - i) % 3 == 0 {
            out.push(',');
        }
        out.push(c);
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn merge_adds_counts_and_timelines() {
        let mut a = OpStats {
            sent: 2,
            ..OpStats::default()
        };
        a.record_ok(1_000, 10, Duration::from_millis(50));
        a.record_ok(3_000, 10, Duration::from_millis(250));
        let mut b = OpStats {
            sent: 1,
            errors: 1,
            ..OpStats::default()
        };
        b.record_ok(2_000_000, 5, Duration::from_millis(10));
        a.merge(&b);
        assert_eq!((a.sent, a.ok, a.errors, a.bytes), (3, 3, 1, 25));
        assert_eq!(a.timeline, vec![2, 0, 1]);
        assert!(a.quantile_us(0.5) <= a.quantile_us(0.99));
        assert!((a.max_us() - 2000.0).abs() < 2.0);
    }

    #[test]
    fn groups_digits() {
        assert_eq!(group(1_234_567.4), "1,234,567");
        assert_eq!(group(999.0), "999");
        assert_eq!(group(0.0), "0");
    }
}
