//! Command-line flags and their parsing; no behaviour.

use std::path::PathBuf;
use std::time::Duration;

use clap::Parser;

use crate::workload::{KeyPattern, Mix, ValueSize};

/// Load generator for Cairn and any Redis-compatible server, and db_bench-style storage
/// benchmark for Cairn's engine in process.
///
/// Network mode (default): drive ADDR over Cairn's native protocol, or RESP with --resp.
/// Embedded mode (--embedded DIR): run --benchmarks straight on the storage engine.
#[derive(Debug, Clone, Parser)]
#[command(name = "cairn-bench", version)]
// Its bools are clap flags, each its own switch on the command line.
#[allow(clippy::struct_excessive_bools)]
pub struct Args {
    /// Server address (host:port).
    #[arg(short = 'a', long, default_value = "127.0.0.1:7379")]
    pub addr: String,
    /// Speak RESP (the Redis protocol) instead of Cairn's native binary protocol.
    #[arg(long)]
    pub resp: bool,
    /// Drive a Cairn (or Redis) cluster: ADDR (and --compare's) is any node in cluster
    /// mode. Its CLUSTER SLOTS is read at start; each connection then has a link to every
    /// primary and sends each request to its key's slot owner (a scan to its start key's,
    /// which reads that node's keys only). Redirects are not followed: a MOVED counts as an
    /// error.
    #[arg(long)]
    pub cluster: bool,
    /// Password to authenticate with (native handshake, or RESP AUTH).
    #[arg(long)]
    pub auth: Option<String>,
    /// Connect over TLS (to the server's tls-port), in either protocol.
    #[arg(long)]
    pub tls: bool,
    /// With --tls: the CA certificates (PEM) the server's certificate must chain to.
    #[arg(long, value_name = "FILE", requires = "tls")]
    pub cacert: Option<PathBuf>,
    /// With --tls: the client certificate (PEM) to present, with --key.
    #[arg(long, value_name = "FILE", requires = "tls")]
    pub cert: Option<PathBuf>,
    /// With --tls: the private key (PEM) of --cert.
    #[arg(long, value_name = "FILE", requires = "tls")]
    pub key: Option<PathBuf>,
    /// With --tls: the server name to check and send (default: the host).
    #[arg(long, value_name = "HOST", requires = "tls")]
    pub sni: Option<String>,
    /// Connections.
    #[arg(short = 'c', long, default_value_t = 50)]
    pub clients: usize,
    /// Runtime worker threads (embedded mode: OS threads running the benchmark).
    #[arg(long, default_value_t = 1)]
    pub threads: usize,
    /// Requests in flight per connection.
    #[arg(short = 'P', long, default_value_t = 1)]
    pub pipeline: usize,
    /// Stop after this many measured operations (after warm-up).
    #[arg(short = 'n', long, conflicts_with = "duration")]
    pub requests: Option<u64>,
    /// Stop after this long measured, e.g. 10s, 500ms, 2m [default: 10s].
    #[arg(short = 'd', long, value_parser = parse_duration)]
    pub duration: Option<Duration>,
    /// Run this long before measuring (operations then are not counted).
    #[arg(long, value_parser = parse_duration, default_value = "2s")]
    pub warmup: Duration,
    /// Number of distinct keys.
    #[arg(short = 'k', long, default_value_t = 100_000)]
    pub keyspace: u64,
    /// sequential, uniform, zipfian or zipfian:THETA (theta in (0,1), default 0.99; the
    /// hot keys scattered over the key space, as YCSB's scrambled zipfian)
    /// [default: zipfian for --workload ycsb-*, else uniform].
    #[arg(long, value_parser = KeyPattern::parse)]
    pub key_pattern: Option<KeyPattern>,
    /// Operation mix as weights SET:GET[:SCAN[:RMW]], e.g. 1:9 or 5:0:95 [default: 1:1].
    #[arg(long, value_parser = Mix::parse, conflicts_with = "workload")]
    pub ratio: Option<Mix>,
    /// Named mix: ycsb-a (50% read, 50% update), ycsb-b (95/5), ycsb-c (reads),
    /// ycsb-e (95% scan, 5% insert), ycsb-f (50% read, 50% read-modify-write), scan, set, get.
    #[arg(short = 'w', long)]
    pub workload: Option<String>,
    /// Value size in bytes, fixed (100) or a uniform range (64-1024).
    #[arg(long, value_parser = ValueSize::parse, default_value = "100")]
    pub value_size: ValueSize,
    /// Pairs read by a scan (network SCAN operations, embedded seekrandom).
    #[arg(long, default_value_t = 100)]
    pub scan_length: u64,
    /// Prefix of every key (followed by a zero-padded index).
    #[arg(long, default_value = "key:")]
    pub key_prefix: String,
    /// Write every key of the key space once before the benchmark (not measured).
    #[arg(long)]
    pub load: bool,
    /// A second server: the same workload runs against both, rounds interleaved (A, B, A, B...).
    #[arg(long, value_name = "ADDR")]
    pub compare: Option<String>,
    /// Names for the servers in reports and the plot, e.g. `cairn,redis` [default: addresses].
    #[arg(long, value_name = "A,B")]
    pub labels: Option<String>,
    /// Rounds per server [default: 3 with --compare, else 1].
    #[arg(long)]
    pub rounds: Option<usize>,
    /// Embedded mode: run --benchmarks on a storage engine in DIR (created if missing).
    #[arg(long, value_name = "DIR")]
    pub embedded: Option<PathBuf>,
    /// Embedded benchmarks, in order.
    #[arg(
        long,
        default_value = "fillseq,fillrandom,overwrite,readrandom,readseq,seekrandom"
    )]
    pub benchmarks: String,
    /// Embedded: operations per benchmark, and the key space.
    #[arg(long, default_value_t = 100_000)]
    pub num: u64,
    /// Embedded: WAL sync policy, always, everysec or never.
    #[arg(long, default_value = "everysec", value_parser = ["always", "everysec", "never"])]
    pub fsync: String,
    /// Write the results as JSON to FILE.
    #[arg(long, value_name = "FILE")]
    pub json: Option<PathBuf>,
    /// Draw latency percentiles and throughput over time to FILE (SVG).
    #[arg(long, value_name = "FILE.svg")]
    pub plot: Option<PathBuf>,
    /// Random seed (key choice, operation mix, values).
    #[arg(long, default_value_t = 1)]
    pub seed: u64,
    /// No progress bar.
    #[arg(short = 'q', long)]
    pub quiet: bool,
}

/// `10s`, `500ms`, `2m`, `1h`, or plain seconds (`1.5`).
pub fn parse_duration(s: &str) -> Result<Duration, String> {
    let s = s.trim();
    let split = s
        .find(|c: char| !(c.is_ascii_digit() || c == '.'))
        .unwrap_or(s.len());
    let (num, unit) = s.split_at(split);
    let n: f64 = num
        .parse()
        .map_err(|_| format!("duration `{s}`: expected a number and a unit (10s, 500ms)"))?;
    let secs = match unit {
        "" | "s" => n,
        "ms" => n / 1e3,
        "us" => n / 1e6,
        "m" | "min" => n * 60.0,
        "h" => n * 3600.0,
        _ => {
            return Err(format!(
                "duration `{s}`: unknown unit `{unit}` (ms, s, m, h)"
            ))
        }
    };
    if !secs.is_finite() || secs < 0.0 {
        return Err(format!("duration `{s}` is out of range"));
    }
    Ok(Duration::from_secs_f64(secs))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn durations() {
        assert_eq!(parse_duration("10s"), Ok(Duration::from_secs(10)));
        assert_eq!(parse_duration("250ms"), Ok(Duration::from_millis(250)));
        assert_eq!(parse_duration("2m"), Ok(Duration::from_secs(120)));
        assert_eq!(parse_duration("1.5"), Ok(Duration::from_millis(1500)));
        assert!(parse_duration("5 parsecs").is_err());
    }

    #[test]
    fn flags_parse() {
        let a = Args::try_parse_from([
            "cairn-bench",
            "--workload",
            "ycsb-a",
            "--value-size",
            "64-1024",
            "-P",
            "16",
            "--duration",
            "1s",
        ])
        .expect("parse");
        assert_eq!(a.pipeline, 16);
        assert_eq!(a.value_size, ValueSize { min: 64, max: 1024 });
        assert!(
            Args::try_parse_from(["cairn-bench", "--ratio", "1:1", "--workload", "ycsb-a"])
                .is_err()
        );
        assert!(Args::try_parse_from(["cairn-bench", "-n", "5", "--duration", "1s"]).is_err());
    }
}
