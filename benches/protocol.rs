//! Protocol throughput: parsing and encoding RESP requests and replies, and native binary
//! frames. Figures are recorded in docs/benchmarks.md ("Protocol (criterion)").

// A benchmark whose set-up fails should stop loudly: expect and unwrap are its checks.
#![allow(clippy::expect_used, clippy::unwrap_used)]

use bytes::{Bytes, BytesMut};
use cairn::protocol::binary::{self, Op, Request, Response};
use cairn::protocol::resp::{encode_request, parse_reply, parse_request};
use cairn::protocol::{Limits, Reply, RespVersion};
use criterion::measurement::{Measurement, ValueFormatter, WallTime};
use criterion::{black_box, criterion_group, criterion_main, BatchSize, Criterion, Throughput};
use std::time::Duration;

const VALUE: [u8; 100] = [b'x'; 100];

/// 16 pipelined `SET key:NNNNNN <100 bytes>` requests.
fn set_batch() -> BytesMut {
    let mut out = BytesMut::new();
    for i in 0..16 {
        let key = format!("key:{:06}", i * 7919);
        encode_request(&[&b"SET"[..], key.as_bytes(), &VALUE[..]], &mut out);
    }
    out
}

fn one_request(args: &[&[u8]]) -> BytesMut {
    let mut out = BytesMut::new();
    encode_request(args, &mut out);
    out
}

fn bench_parse_requests(c: &mut Criterion) {
    let limits = Limits::default();
    let mut g = c.benchmark_group("resp/parse_request");
    let cases = [
        ("get", one_request(&[b"GET", b"key:000123"])),
        ("set_100b", one_request(&[b"SET", b"key:000123", &VALUE])),
        ("pipeline_16_set_100b", set_batch()),
        ("inline_get", BytesMut::from(&b"GET key:000123\r\n"[..])),
    ];
    for (name, input) in cases {
        g.throughput(Throughput::Bytes(input.len() as u64));
        g.bench_function(name, |b| {
            b.iter_batched(
                || input.clone(),
                |mut buf| {
                    while let Ok(Some(args)) = parse_request(&mut buf, &limits) {
                        black_box(args);
                    }
                    buf
                },
                BatchSize::SmallInput,
            );
        });
    }
    // The server's steady state: one long-lived read buffer, refilled and drained. The
    // copy into the buffer (what a socket read does) is included in the time.
    let batch = set_batch();
    g.throughput(Throughput::Bytes(batch.len() as u64));
    let mut buf = BytesMut::with_capacity(64 * 1024);
    g.bench_function("pipeline_16_set_100b_read_buffer", |b| {
        b.iter(|| {
            buf.extend_from_slice(&batch);
            while let Ok(Some(args)) = parse_request(&mut buf, &limits) {
                black_box(args);
            }
        });
    });
    g.finish();
}

fn bench_encode_requests(c: &mut Criterion) {
    let mut g = c.benchmark_group("resp/encode_request");
    let get: [&[u8]; 2] = [b"GET", b"key:000123"];
    let set: [&[u8]; 3] = [b"SET", b"key:000123", &VALUE];
    for (name, args) in [("get", &get[..]), ("set_100b", &set[..])] {
        g.throughput(Throughput::Bytes(one_request(args).len() as u64));
        let mut out = BytesMut::with_capacity(4096);
        g.bench_function(name, |b| {
            b.iter(|| {
                out.clear();
                encode_request(black_box(args), &mut out);
            });
        });
    }
    g.finish();
}

fn replies() -> Vec<(&'static str, Reply)> {
    vec![
        ("ok", Reply::ok()),
        ("bulk_100b", Reply::Bulk(Bytes::from_static(&VALUE))),
        ("integer", Reply::Integer(1_234_567)),
        (
            "array_16_bulk_100b",
            Reply::Array(vec![Reply::Bulk(Bytes::from_static(&VALUE)); 16]),
        ),
    ]
}

fn bench_replies(c: &mut Criterion) {
    let limits = Limits::default();
    let mut g = c.benchmark_group("resp/encode_reply");
    for (name, reply) in replies() {
        let mut sized = BytesMut::new();
        reply.encode(RespVersion::Resp2, &mut sized);
        g.throughput(Throughput::Bytes(sized.len() as u64));
        let mut out = BytesMut::with_capacity(8192);
        g.bench_function(name, |b| {
            b.iter(|| {
                out.clear();
                black_box(&reply).encode(RespVersion::Resp2, &mut out);
            });
        });
    }
    g.finish();
    let mut g = c.benchmark_group("resp/parse_reply");
    for (name, reply) in replies() {
        let mut input = BytesMut::new();
        reply.encode(RespVersion::Resp2, &mut input);
        g.throughput(Throughput::Bytes(input.len() as u64));
        g.bench_function(name, |b| {
            b.iter_batched(
                || input.clone(),
                |mut buf| {
                    black_box(parse_reply(&mut buf, &limits).ok());
                    buf
                },
                BatchSize::SmallInput,
            );
        });
    }
    g.finish();
}

fn bench_binary(c: &mut Criterion) {
    let limits = Limits::default();
    let mut g = c.benchmark_group("binary");
    let mut batch = BytesMut::new();
    for i in 0..16u64 {
        binary::encode_request(
            &Request {
                id: i,
                op: Op::Set {
                    key: Bytes::from(format!("key:{:06}", i * 7919)),
                    value: Bytes::from_static(&VALUE),
                    condition: binary::Condition::None,
                    expiry_ms: None,
                },
            },
            &mut batch,
        );
    }
    g.throughput(Throughput::Bytes(batch.len() as u64));
    g.bench_function("parse_request/pipeline_16_set_100b", |b| {
        b.iter_batched(
            || batch.clone(),
            |mut buf| {
                while let Ok(Some(req)) = binary::parse_request(&mut buf, &limits) {
                    black_box(req);
                }
                buf
            },
            BatchSize::SmallInput,
        );
    });
    let resp = Response {
        id: 1,
        more: false,
        body: Reply::Bulk(Bytes::from_static(&VALUE)),
    };
    let mut one = BytesMut::new();
    binary::encode_response(&resp, &mut one);
    g.throughput(Throughput::Bytes(one.len() as u64));
    let mut out = BytesMut::with_capacity(4096);
    g.bench_function("encode_response/bulk_100b", |b| {
        b.iter(|| {
            out.clear();
            binary::encode_response(black_box(&resp), &mut out);
        });
    });
    g.bench_function("parse_response/bulk_100b", |b| {
        b.iter_batched(
            || one.clone(),
            |mut buf| {
                black_box(binary::parse_response(&mut buf, &limits).ok());
                buf
            },
            BatchSize::SmallInput,
        );
    });
    g.finish();
}

/// CPU time of the benchmarking thread (`CLOCK_THREAD_CPUTIME_ID`). The benchmark machine
/// is shared, so wall time includes the time this thread waited for a core; CPU time
/// measures the parser alone. Reported beside the wall-time figures, never instead of them.
struct ThreadCpuTime;

fn thread_cpu_now() -> Duration {
    let mut ts = libc::timespec {
        tv_sec: 0,
        tv_nsec: 0,
    };
    // SAFETY: clock_gettime writes one timespec through a valid pointer.
    let rc = unsafe { libc::clock_gettime(libc::CLOCK_THREAD_CPUTIME_ID, &raw mut ts) };
    match (u64::try_from(ts.tv_sec), u32::try_from(ts.tv_nsec)) {
        (Ok(secs), Ok(nanos)) if rc == 0 => Duration::new(secs, nanos),
        _ => Duration::ZERO,
    }
}

static WALL: WallTime = WallTime;

impl Measurement for ThreadCpuTime {
    type Intermediate = Duration;
    type Value = Duration;
    fn start(&self) -> Duration {
        thread_cpu_now()
    }
    fn end(&self, start: Duration) -> Duration {
        thread_cpu_now().saturating_sub(start)
    }
    fn add(&self, a: &Duration, b: &Duration) -> Duration {
        *a + *b
    }
    fn zero(&self) -> Duration {
        Duration::ZERO
    }
    fn to_f64(&self, v: &Duration) -> f64 {
        v.as_nanos() as f64
    }
    fn formatter(&self) -> &dyn ValueFormatter {
        WALL.formatter()
    }
}

fn bench_cpu_time(c: &mut Criterion<ThreadCpuTime>) {
    let limits = Limits::default();
    let mut g = c.benchmark_group("cpu_time");
    let batch = set_batch();
    g.throughput(Throughput::Bytes(batch.len() as u64));
    g.bench_function("resp/parse_request/pipeline_16_set_100b", |b| {
        b.iter_batched(
            || batch.clone(),
            |mut buf| {
                while let Ok(Some(args)) = parse_request(&mut buf, &limits) {
                    black_box(args);
                }
                buf
            },
            BatchSize::SmallInput,
        );
    });
    let mut buf = BytesMut::with_capacity(64 * 1024);
    g.bench_function("resp/parse_request/pipeline_16_set_100b_read_buffer", |b| {
        b.iter(|| {
            buf.extend_from_slice(&batch);
            while let Ok(Some(args)) = parse_request(&mut buf, &limits) {
                black_box(args);
            }
        });
    });
    g.finish();
}

criterion_group! {
    name = cpu;
    config = Criterion::default().with_measurement(ThreadCpuTime);
    targets = bench_cpu_time
}

criterion_group!(
    benches,
    bench_parse_requests,
    bench_encode_requests,
    bench_replies,
    bench_binary
);
criterion_main!(benches, cpu);
