//! cairn-bench: the load generator (network mode, native protocol or RESP) and the
//! db_bench-style storage benchmark (embedded mode) users run to judge Cairn.
//!
//! This file only wires flags to drivers and drivers to reports; the measuring lives in
//! `net` and `embedded`, the numbers in `stats`, the picture in `plot`. It must never send
//! a request through the client library: what it measures is the server, not a client's
//! overheads (`--cluster` reads the slot table with the client's `SlotMap` parser, once,
//! before the run).

mod args;
mod embedded;
mod net;
mod plot;
mod stats;
mod wire;
mod workload;

use std::fmt::Write as _;
use std::process::ExitCode;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use anyhow::{anyhow, Context, Result};
use cairn::client::TlsOptions;
use clap::Parser;
use indicatif::{ProgressBar, ProgressStyle};
use rand::rngs::SmallRng;
use rand::SeedableRng;
use serde_json::{json, Value};

use args::Args;
use cairn::storage::SyncPolicy;
use stats::{group, RunStats};
use workload::{KeyChooser, KeyFormat, KeyPattern, Mix, OpKind, ValuePool};

fn main() -> ExitCode {
    // Output piped into `head` and closed: end quietly, as Unix tools do, rather than
    // panicking in `println!`.
    // SAFETY: restoring a signal's default disposition at startup, before any thread.
    unsafe { libc::signal(libc::SIGPIPE, libc::SIG_DFL) };
    let args = Args::parse();
    let result = if args.embedded.is_some() {
        embedded_main(&args)
    } else {
        network_main(&args)
    };
    match result {
        Ok(true) => ExitCode::SUCCESS,
        Ok(false) => ExitCode::from(1),
        Err(e) => {
            eprintln!("cairn-bench: {e:#}");
            ExitCode::from(1)
        }
    }
}

// ---------------------------------------------------------------------------------------
// Progress
// ---------------------------------------------------------------------------------------

/// What the bar's length counts.
enum Goal {
    Operations(u64),
    Time(Duration),
}

/// A live progress bar with the current rate, drawn by its own thread until `stop`.
struct Progress {
    stop: Arc<AtomicBool>,
    thread: Option<std::thread::JoinHandle<()>>,
}

impl Progress {
    fn start(
        quiet: bool,
        prefix: String,
        goal: Goal,
        warmup_until: Instant,
        done: impl Fn() -> u64 + Send + 'static,
    ) -> Progress {
        let stop = Arc::new(AtomicBool::new(false));
        if quiet {
            return Progress { stop, thread: None };
        }
        let flag = stop.clone();
        let thread = std::thread::spawn(move || {
            let len = match goal {
                Goal::Operations(n) => n,
                Goal::Time(d) => d.as_millis() as u64,
            };
            let bar = ProgressBar::new(len.max(1));
            let style = ProgressStyle::with_template(
                "{prefix:.bold} [{bar:32.cyan/blue}] {percent:>3}% {elapsed:>4} {msg}",
            )
            .unwrap_or_else(|_| ProgressStyle::default_bar())
            .progress_chars("=> ");
            bar.set_style(style);
            bar.set_prefix(prefix);
            let (mut last_n, mut last_t) = (0, Instant::now());
            let mut measuring_since = None;
            while !flag.load(Ordering::Relaxed) {
                std::thread::sleep(Duration::from_millis(200));
                let now = Instant::now();
                let n = done();
                if now < warmup_until {
                    bar.set_message("warming up");
                    continue;
                }
                let since = *measuring_since.get_or_insert(now);
                let rate = (n - last_n.min(n)) as f64 / now.duration_since(last_t).as_secs_f64();
                (last_n, last_t) = (n, now);
                bar.set_position(match goal {
                    Goal::Operations(_) => n,
                    Goal::Time(_) => now.duration_since(since).as_millis() as u64,
                });
                bar.set_message(format!("{} ops/s, {} done", group(rate), group(n as f64)));
            }
            bar.finish_and_clear();
        });
        Progress {
            stop,
            thread: Some(thread),
        }
    }

    fn finish(mut self) {
        self.stop.store(true, Ordering::Relaxed);
        if let Some(t) = self.thread.take() {
            let _ = t.join();
        }
    }
}

// ---------------------------------------------------------------------------------------
// Network mode
// ---------------------------------------------------------------------------------------

/// What network mode runs, from the flags: the servers, their names for reports, and the
/// plan every run starts from.
struct Network {
    targets: Vec<String>,
    /// `--cluster`: each target's slot table, read at start.
    clusters: Vec<Option<Arc<cairn::client::SlotMap>>>,
    names: Vec<String>,
    workload_name: String,
    /// `resp` or `native`.
    protocol: &'static str,
    pattern: KeyPattern,
    rounds: usize,
    base: net::Plan,
}

/// What the measured rounds gave: every run's JSON, each target's first-round span (the
/// timeline drawn) and its stats summed over the rounds.
struct Rounds {
    ok: bool,
    runs_json: Vec<Value>,
    first_elapsed: Vec<f64>,
    summary: Vec<RunStats>,
}

fn network_main(args: &Args) -> Result<bool> {
    let mut setup = Network::from_args(args)?;
    let runtime = if args.threads <= 1 {
        tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()?
    } else {
        tokio::runtime::Builder::new_multi_thread()
            .worker_threads(args.threads)
            .enable_all()
            .build()?
    };
    if args.cluster {
        setup.read_clusters(&runtime)?;
    }
    println!(
        "cairn-bench: {} over {}{}, {} clients x pipeline {}, {} threads, {}, keys {} ({}), values {} B{}",
        setup.names.join(" vs "),
        setup.protocol,
        if args.cluster { " (cluster)" } else { "" },
        args.clients,
        args.pipeline,
        args.threads.max(1),
        setup.workload_name,
        args.keyspace,
        setup.pattern.describe(),
        args.value_size.describe(),
        match setup.base.stop {
            net::Stop::Requests(n) => format!(", {n} operations"),
            net::Stop::Duration(d) => format!(", {:.1} s", d.as_secs_f64()),
        }
    );

    let (mut ok, load_json) = if args.load {
        load(args, &runtime, &setup)?
    } else {
        (true, Vec::new())
    };
    let rounds = run_rounds(args, &runtime, &setup);
    ok &= rounds.ok;
    let Network { targets, names, .. } = &setup;
    if setup.rounds > 1 {
        for (t, s) in names.iter().zip(&rounds.summary) {
            print!(
                "\n{}",
                s.table(&format!(
                    "{t}, all {} rounds (latencies over every round)",
                    setup.rounds
                ))
            );
        }
    }
    let compare = if targets.len() == 2 {
        let c = comparison(names, &rounds.summary[0], &rounds.summary[1]);
        print!("\n{}", c.0);
        c.1
    } else {
        Value::Null
    };

    if let Some(path) = &args.json {
        let (mix, stop) = (setup.base.mix, setup.base.stop);
        let doc = json!({
            "tool": "cairn-bench",
            "version": env!("CARGO_PKG_VERSION"),
            "mode": "network",
            "config": {
                "targets": targets,
                "names": names,
                "protocol": setup.protocol,
                "cluster": setup.clusters.iter().map(|c| c.as_ref().map(|m| m.nodes().to_vec())).collect::<Vec<_>>(),
                "clients": args.clients,
                "threads": args.threads.max(1),
                "pipeline": args.pipeline,
                "requests": args.requests,
                "duration_s": match stop { net::Stop::Duration(d) => Some(d.as_secs_f64()), net::Stop::Requests(_) => None },
                "warmup_s": args.warmup.as_secs_f64(),
                "keyspace": args.keyspace,
                "key_pattern": setup.pattern.describe(),
                "key_prefix": args.key_prefix,
                "workload": setup.workload_name,
                "mix": { "set": mix.weights[0], "get": mix.weights[1], "scan": mix.weights[2], "rmw": mix.weights[3] },
                "value_size": { "min": args.value_size.min, "max": args.value_size.max },
                "scan_length": args.scan_length,
                "load": args.load,
                "rounds": setup.rounds,
                "seed": args.seed,
            },
            "load": load_json,
            "runs": rounds.runs_json,
            "summary": targets.iter().zip(names).zip(&rounds.summary).map(|((t, n), s)| json!({"target": t, "name": n, "stats": s.json()})).collect::<Vec<_>>(),
            "compare": compare,
            "ok": ok,
        });
        write_json(path, &doc)?;
    }
    if let Some(path) = &args.plot {
        network_plot(args, &setup, &rounds, path)?;
    }
    if !ok {
        eprintln!("cairn-bench: some requests failed (see the errors above)");
    }
    Ok(ok)
}

impl Network {
    fn from_args(args: &Args) -> Result<Network> {
        if args.clients == 0 || args.pipeline == 0 {
            return Err(anyhow!("--clients and --pipeline must be at least 1"));
        }
        let (mix, workload_name) = match (&args.workload, args.ratio) {
            (Some(w), _) => (Mix::named(w).map_err(anyhow::Error::msg)?, w.clone()),
            (None, Some(m)) => (m, format!("ratio {}", m.describe())),
            (None, None) => (
                Mix {
                    weights: [1, 1, 0, 0],
                },
                "ratio set=1 get=1".into(),
            ),
        };
        let pattern = args.key_pattern.clone().unwrap_or(match &args.workload {
            Some(w) if w.to_ascii_lowercase().starts_with("ycsb") => KeyPattern::Zipfian(0.99),
            _ => KeyPattern::Uniform,
        });
        let stop = match (args.requests, args.duration) {
            (Some(n), _) => net::Stop::Requests(n),
            (None, Some(d)) => net::Stop::Duration(d),
            (None, None) => net::Stop::Duration(Duration::from_secs(10)),
        };
        let rounds = args
            .rounds
            .unwrap_or(if args.compare.is_some() { 3 } else { 1 })
            .max(1);
        let mut targets = vec![args.addr.clone()];
        targets.extend(args.compare.clone());
        // Names for reports: --labels, else the addresses.
        let names: Vec<String> = match &args.labels {
            Some(l) => {
                let l: Vec<String> = l.split(',').map(|s| s.trim().to_string()).collect();
                if l.len() != targets.len() {
                    return Err(anyhow!(
                        "--labels names {} servers, but there are {}",
                        l.len(),
                        targets.len()
                    ));
                }
                l
            }
            None => targets.clone(),
        };

        let mut rng = SmallRng::seed_from_u64(args.seed);
        let values = ValuePool::new(args.value_size, &mut rng);
        let format = KeyFormat::new(&args.key_prefix, args.keyspace);
        let tls = match (args.tls, &args.cacert) {
            (false, _) => None,
            (true, None) => {
                anyhow::bail!("--tls needs --cacert: the CA the server's certificate must chain to")
            }
            (true, Some(ca_file)) => {
                let options = TlsOptions {
                    ca_file: ca_file.clone(),
                    cert_file: args.cert.clone(),
                    key_file: args.key.clone(),
                    server_name: args.sni.clone(),
                };
                let config = cairn::tls::client_config(&options)?;
                Some(net::Tls { options, config })
            }
        };
        let base = net::Plan {
            addr: String::new(),
            cluster: None,
            resp: args.resp,
            tls,
            auth: args.auth.clone(),
            clients: args.clients,
            pipeline: args.pipeline,
            stop,
            warmup: args.warmup,
            mix,
            keys: KeyChooser::new(&pattern, args.keyspace).map_err(anyhow::Error::msg)?,
            format,
            values,
            scan_length: args.scan_length,
            seed: args.seed,
        };
        Ok(Network {
            clusters: vec![None; targets.len()],
            targets,
            names,
            workload_name,
            protocol: if args.resp { "resp" } else { "native" },
            pattern,
            rounds,
            base,
        })
    }
}

impl Network {
    /// `--cluster`: reads each target's slot table and says what it found.
    fn read_clusters(&mut self, runtime: &tokio::runtime::Runtime) -> Result<()> {
        for (t, cluster) in self.targets.iter().zip(&mut self.clusters) {
            let plan = net::Plan {
                addr: t.clone(),
                ..self.base.clone()
            };
            let map = runtime.block_on(net::cluster_slots(&plan))?;
            let nodes: Vec<String> = (0..map.nodes().len())
                .map(|i| format!("{} ({} slots)", map.nodes()[i], map.slots_of(i)))
                .collect();
            println!(
                "cluster at {t}: {} primaries: {}",
                nodes.len(),
                nodes.join(", ")
            );
            *cluster = Some(Arc::new(map));
        }
        Ok(())
    }
}

/// `--load`: writes every key once into each target, in order. Whether all writes
/// succeeded, and each load's JSON.
fn load(
    args: &Args,
    runtime: &tokio::runtime::Runtime,
    setup: &Network,
) -> Result<(bool, Vec<Value>)> {
    let mut ok = true;
    let mut load_json = Vec::new();
    for (t, cluster) in setup.targets.iter().zip(&setup.clusters) {
        let plan = net::Plan {
            addr: t.clone(),
            cluster: cluster.clone(),
            stop: net::Stop::Requests(args.keyspace),
            warmup: Duration::ZERO,
            mix: Mix {
                weights: [1, 0, 0, 0],
            },
            keys: KeyChooser::new(&KeyPattern::Sequential, args.keyspace)
                .map_err(anyhow::Error::msg)?,
            ..setup.base.clone()
        };
        let s = run_network(runtime, plan, args.quiet, format!("load {t}"));
        println!(
            "loaded {} keys into {t} in {:.2} s ({} ops/s){}",
            s.ops[OpKind::Set.index()].ok,
            s.elapsed.as_secs_f64(),
            group(s.total_ops_per_sec()),
            if s.total_errors() > 0 {
                ", with errors:"
            } else {
                ""
            }
        );
        if s.total_errors() > 0 {
            ok = false;
            print!("{}", s.table(&format!("load {t}")));
        }
        load_json.push(json!({ "target": t, "stats": s.json() }));
    }
    Ok((ok, load_json))
}

/// The measured rounds: each target in turn, every round, each run's table printed.
fn run_rounds(args: &Args, runtime: &tokio::runtime::Runtime, setup: &Network) -> Rounds {
    let Network {
        targets,
        names,
        rounds,
        ..
    } = setup;
    let mut out = Rounds {
        ok: true,
        runs_json: Vec::new(),
        first_elapsed: vec![0.0; targets.len()],
        summary: vec![RunStats::default(); targets.len()],
    };
    for round in 1..=*rounds {
        for (i, t) in targets.iter().enumerate() {
            let plan = net::Plan {
                addr: t.clone(),
                cluster: setup.clusters[i].clone(),
                ..setup.base.clone()
            };
            let label = match (*rounds > 1, names[i] != *t) {
                (true, true) => format!("round {round}/{rounds} {} ({t})", names[i]),
                (true, false) => format!("round {round}/{rounds} {t}"),
                (false, true) => format!("{} ({t})", names[i]),
                (false, false) => t.clone(),
            };
            let s = run_network(runtime, plan, args.quiet, label.clone());
            print!("\n{}", s.table(&label));
            out.ok &= s.total_errors() == 0;
            out.runs_json
                .push(json!({ "target": t, "name": names[i], "round": round, "stats": s.json() }));
            if round == 1 {
                out.first_elapsed[i] = s.elapsed.as_secs_f64();
            }
            out.summary[i].accumulate(&s);
        }
    }
    out
}

/// `--plot`: each target's operations over the first round.
fn network_plot(
    args: &Args,
    setup: &Network,
    rounds: &Rounds,
    path: &std::path::Path,
) -> Result<()> {
    let mut series = Vec::new();
    for (group, (t, s)) in setup.names.iter().zip(&rounds.summary).enumerate() {
        // The timeline drawn is the first round's.
        let span = rounds.first_elapsed[group];
        for (shade, (k, op)) in s.present().enumerate() {
            let label = if setup.targets.len() > 1 {
                format!("{} {t}", k.name())
            } else {
                k.name().to_string()
            };
            series.push(plot::Series {
                label,
                stats: op,
                group,
                shade,
                span,
            });
        }
    }
    let title = format!(
        "cairn-bench {} ({}, {} clients, pipeline {}, {} keys {}, {} B values)",
        setup.workload_name,
        setup.protocol,
        args.clients,
        args.pipeline,
        args.keyspace,
        setup.pattern.describe(),
        args.value_size.describe()
    );
    plot::draw(path, &title, &series).map_err(|e| anyhow!("plot {}: {e}", path.display()))
}

fn run_network(
    runtime: &tokio::runtime::Runtime,
    plan: net::Plan,
    quiet: bool,
    label: String,
) -> RunStats {
    let plan = Arc::new(plan);
    let shared = Arc::new(net::Shared::new(&plan));
    let goal = match plan.stop {
        net::Stop::Requests(n) => Goal::Operations(n),
        net::Stop::Duration(d) => Goal::Time(d),
    };
    let counter = shared.clone();
    let progress = Progress::start(quiet, label, goal, shared.measure_start, move || {
        counter.done.load(Ordering::Relaxed)
    });
    let stats = runtime.block_on(net::run(plan, shared));
    progress.finish();
    stats
}

/// The side-by-side table and its JSON: A / B for throughput, and for latencies.
fn comparison(targets: &[String], a: &RunStats, b: &RunStats) -> (String, Value) {
    let mut out = format!(
        "comparison, {} / {} (throughput: higher is better for A; latency: lower is better for A)\n{:<6}{:>13}{:>13}{:>8}{:>10}{:>10}{:>8}{:>10}{:>10}{:>8}\n",
        targets[0], targets[1], "op", "A ops/s", "B ops/s", "ratio", "A p50", "B p50", "ratio", "A p99", "B p99", "ratio"
    );
    let mut ops = serde_json::Map::new();
    let ratio = |x: f64, y: f64| if y > 0.0 { x / y } else { f64::NAN };
    for k in OpKind::ALL {
        let (sa, sb) = (&a.ops[k.index()], &b.ops[k.index()]);
        if sa.sent == 0 && sb.sent == 0 {
            continue;
        }
        let (ta, tb) = (a.ops_per_sec(sa), b.ops_per_sec(sb));
        let (p50a, p50b) = (sa.quantile_us(0.5), sb.quantile_us(0.5));
        let (p99a, p99b) = (sa.quantile_us(0.99), sb.quantile_us(0.99));
        // Writing to a String cannot fail.
        let _ = writeln!(
            out,
            "{:<6}{:>13}{:>13}{:>8.2}{:>10.1}{:>10.1}{:>8.2}{:>10.1}{:>10.1}{:>8.2}",
            k.name(),
            group(ta),
            group(tb),
            ratio(ta, tb),
            p50a,
            p50b,
            ratio(p50a, p50b),
            p99a,
            p99b,
            ratio(p99a, p99b)
        );
        ops.insert(
            k.name().into(),
            json!({
                "a_ops_per_sec": ta, "b_ops_per_sec": tb, "throughput_ratio": ratio(ta, tb),
                "a_p50_us": p50a, "b_p50_us": p50b, "p50_ratio": ratio(p50a, p50b),
                "a_p99_us": p99a, "b_p99_us": p99b, "p99_ratio": ratio(p99a, p99b),
            }),
        );
    }
    let (ta, tb) = (a.total_ops_per_sec(), b.total_ops_per_sec());
    let _ = writeln!(
        out,
        "{:<6}{:>13}{:>13}{:>8.2}",
        "all",
        group(ta),
        group(tb),
        ratio(ta, tb)
    );
    let doc = json!({
        "a": targets[0], "b": targets[1], "ops": ops,
        "total": { "a_ops_per_sec": ta, "b_ops_per_sec": tb, "throughput_ratio": ratio(ta, tb) },
    });
    (out, doc)
}

fn write_json(path: &std::path::Path, doc: &Value) -> Result<()> {
    let text = serde_json::to_string_pretty(doc)?;
    std::fs::write(path, text + "\n").with_context(|| format!("write {}", path.display()))
}

// ---------------------------------------------------------------------------------------
// Embedded mode
// ---------------------------------------------------------------------------------------

fn embedded_main(args: &Args) -> Result<bool> {
    let dir = args
        .embedded
        .clone()
        .ok_or_else(|| anyhow!("--embedded DIR is required"))?;
    let benchmarks = embedded::Bench::parse_list(&args.benchmarks)?;
    let fsync = match args.fsync.as_str() {
        "always" => SyncPolicy::Always,
        "never" => SyncPolicy::Never,
        _ => SyncPolicy::EverySecond,
    };
    let pattern = args.key_pattern.clone().unwrap_or(KeyPattern::Uniform);
    let mut rng = SmallRng::seed_from_u64(args.seed);
    let plan = embedded::Plan {
        dir,
        benchmarks: benchmarks.clone(),
        num: args.num.max(1),
        threads: args.threads.max(1),
        fsync,
        format: KeyFormat::new(&args.key_prefix, args.num.max(1)),
        values: ValuePool::new(args.value_size, &mut rng),
        pattern: pattern.clone(),
        scan_length: args.scan_length,
        seed: args.seed,
    };
    println!(
        "cairn-bench embedded: {} ({} ops each, {} threads, fsync {}, keys {}, values {} B)",
        plan.dir.display(),
        plan.num,
        plan.threads,
        args.fsync,
        pattern.describe(),
        args.value_size.describe()
    );
    let db = embedded::open(&plan)?;
    let mut ok = true;
    let mut runs = Vec::new();
    for &bench in &plan.benchmarks {
        let done = Arc::new(AtomicU64::new(0));
        let counter = done.clone();
        let progress = Progress::start(
            args.quiet,
            bench.name().into(),
            Goal::Operations(plan.num),
            Instant::now(),
            move || counter.load(Ordering::Relaxed),
        );
        let s = embedded::run(&plan, &db, bench, &done)?;
        progress.finish();
        print!("\n{}", s.table(bench.name()));
        ok &= s.total_errors() == 0;
        runs.push((bench, s));
    }
    if let Err(e) = db.sync() {
        println!("error: final sync: {e}");
        ok = false;
    }
    if let Some(path) = &args.json {
        let doc = json!({
            "tool": "cairn-bench",
            "version": env!("CARGO_PKG_VERSION"),
            "mode": "embedded",
            "config": {
                "dir": plan.dir.display().to_string(),
                "benchmarks": plan.benchmarks.iter().map(|b| b.name()).collect::<Vec<_>>(),
                "num": plan.num,
                "threads": plan.threads,
                "fsync": args.fsync,
                "key_pattern": pattern.describe(),
                "key_prefix": args.key_prefix,
                "value_size": { "min": args.value_size.min, "max": args.value_size.max },
                "scan_length": args.scan_length,
                "seed": args.seed,
            },
            "runs": runs.iter().map(|(b, s)| json!({"benchmark": b.name(), "stats": s.json()})).collect::<Vec<_>>(),
            "ok": ok,
        });
        write_json(path, &doc)?;
    }
    if let Some(path) = &args.plot {
        embedded_plot(args, &plan, &runs, path)?;
    }
    Ok(ok)
}

/// `--plot`: every benchmark's operations, two shades of a colour per pair of benchmarks.
fn embedded_plot(
    args: &Args,
    plan: &embedded::Plan,
    runs: &[(embedded::Bench, RunStats)],
    path: &std::path::Path,
) -> Result<()> {
    let series: Vec<plot::Series> = runs
        .iter()
        .enumerate()
        .flat_map(|(i, (b, s))| {
            s.present().map(move |(_, op)| plot::Series {
                label: b.name().to_string(),
                stats: op,
                group: i / 2,
                shade: i % 2,
                span: s.elapsed.as_secs_f64(),
            })
        })
        .collect();
    let title = format!(
        "cairn-bench embedded ({} ops, {} threads, fsync {}, {} B values)",
        plan.num,
        plan.threads,
        args.fsync,
        args.value_size.describe()
    );
    plot::draw(path, &title, &series).map_err(|e| anyhow!("plot {}: {e}", path.display()))
}
