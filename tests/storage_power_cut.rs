//! Power-cut test: a child process (this test binary, re-executed) writes with
//! `SyncPolicy::Always` from several threads while `Faults::record_syncs` records what each
//! fsync made durable, and prints every acknowledged write; the parent SIGKILLs it at a
//! random moment, then builds the directory a power cut would have left (the recorded
//! durable state, plus for each file's unsynced part: nothing, everything, or some whole
//! 4 KiB pages of it), opens the engine on that, and checks that it opens and that every
//! thread's keys are exactly as after its last acknowledged write, or as after the one
//! write it may have had in flight. The next round's child continues on the recovered
//! directory, so recovery's own writes are cut too.
//!
//! The model of what survives is `storage::faults`' (POSIX, strictly), and for the
//! directory: a name whose entry changed since the directory's last fsync (created,
//! removed, renamed, replaced) is, after the cut, as it was at that fsync or as it is now,
//! by a coin per name: metadata may be written back at any time, and in any order (a
//! journalling file system such as ext4 would keep one directory's changes in order; POSIX
//! does not promise it). So the engine must fsync the directory before a new name is relied
//! on by another one (a manifest named by `CURRENT`, a table by the manifest). A rename is
//! not kept atomic either, which allows a renamed file under both names or neither: states
//! the engine survives, since it relies on no name before the directory's fsync.
//!
//! `CAIRN_POWER_CUT_SEED=<n>` replays a seed's workloads and tears (the kill moments stay
//! random); a failure prints the seed and keeps the directories.

// A failing test should fail loudly: expect and unwrap are its assertions.
#![allow(clippy::expect_used, clippy::unwrap_used)]

mod common;

use std::collections::{BTreeMap, BTreeSet};
use std::fs;
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use cairn::storage::{Db, Faults, Options, SyncPolicy, WriteBatch};
use rand::rngs::StdRng;
use rand::{Rng, SeedableRng};

const CHILD_DIR: &str = "CAIRN_POWER_CUT_DIR";
const CHILD_SHADOW: &str = "CAIRN_POWER_CUT_SHADOW";
const CHILD_SEED: &str = "CAIRN_POWER_CUT_CHILD_SEED";
const THREADS: usize = 3;
/// Keys each thread owns (and overwrites, deletes, batches).
const KEYS: usize = 48;
const ROUNDS: u64 = 24;
const PAGE: usize = 4096;

/// Small everything, so that a few hundred milliseconds of writes roll segments, flush
/// memtables and compact.
fn options() -> Options {
    Options {
        sync: SyncPolicy::Always,
        memtable_bytes: 16 << 10,
        wal_segment_bytes: 32 << 10,
        block_bytes: 512,
        level0_compaction_trigger: 2,
        idle_compaction: Some(Duration::from_millis(20)),
        ..Options::default()
    }
}

/// One write of a thread: its batch's puts (`Some`) and deletes (`None`).
type Op = Vec<(String, Option<String>)>;

/// The `i`th write of thread `t` under `seed`: the parent regenerates what the child wrote.
fn ops(seed: u64, t: usize) -> impl Iterator<Item = Op> {
    let mut rng = StdRng::seed_from_u64(seed.wrapping_mul(31).wrapping_add(t as u64));
    (0u64..).map(move |i| {
        let n = if rng.gen_bool(0.25) {
            rng.gen_range(2..6)
        } else {
            1
        };
        let mut keys = BTreeSet::new();
        while keys.len() < n {
            keys.insert(rng.gen_range(0..KEYS));
        }
        keys.into_iter()
            .map(|k| {
                let key = format!("t{t}/k{k:03}");
                let value = (!rng.gen_bool(0.15))
                    .then(|| format!("{seed}-{t}-{i}-{}", "v".repeat(rng.gen_range(0..300))));
                (key, value)
            })
            .collect()
    })
}

/// The child's body; a no-op when run as an ordinary test.
#[test]
fn power_cut_child() {
    let (Ok(dir), Ok(shadow), Ok(seed)) = (
        std::env::var(CHILD_DIR),
        std::env::var(CHILD_SHADOW),
        std::env::var(CHILD_SEED),
    ) else {
        return;
    };
    let seed: u64 = seed.parse().expect("seed");
    fs::create_dir_all(&dir).expect("child dir");
    Faults::for_dir(&dir)
        .record_syncs(PathBuf::from(shadow))
        .expect("record syncs");
    let db = Db::open(&dir, options()).expect("child open");
    println!("OPEN");
    let threads: Vec<_> = (0..THREADS)
        .map(|t| {
            let db = db.clone();
            std::thread::spawn(move || {
                for (i, op) in ops(seed, t).enumerate() {
                    let mut b = WriteBatch::new();
                    for (k, v) in &op {
                        match v {
                            Some(v) => b.put(k.as_bytes(), v.as_bytes()),
                            None => b.delete(k.as_bytes()),
                        }
                    }
                    db.write(b).expect("child write");
                    // One write(2) of a short line: whole in the pipe, or not at all.
                    println!("A {t} {i}");
                }
            })
        })
        .collect();
    for t in threads {
        let _ = t.join();
    }
}

/// The whole state, read back by a scan; point reads must agree.
fn read_all(db: &Db) -> BTreeMap<String, String> {
    let mut out = BTreeMap::new();
    for kv in db.range::<&[u8], _>(..) {
        let (k, v) = kv.expect("scan");
        out.insert(
            String::from_utf8(k.to_vec()).expect("utf8 key"),
            String::from_utf8(v.to_vec()).expect("utf8 value"),
        );
    }
    for (k, v) in &out {
        let got = db.get(k.as_bytes()).expect("get");
        assert_eq!(
            got.as_deref(),
            Some(v.as_bytes()),
            "get {k} disagrees with the scan"
        );
    }
    out
}

/// `name -> id` of the regular files in `dir`.
fn listing(dir: &Path) -> BTreeMap<String, String> {
    let mut out = BTreeMap::new();
    for entry in fs::read_dir(dir).expect("read dir") {
        let entry = entry.expect("entry");
        let meta = fs::symlink_metadata(entry.path()).expect("stat");
        if meta.is_file() {
            out.insert(
                entry.file_name().to_string_lossy().into_owned(),
                Faults::file_id(&meta),
            );
        }
    }
    out
}

/// What is left of a file whose durable content is `base` and whose content in the page
/// cache was `newer` (`None`: no newer content survives, the file was replaced or removed).
fn tear(base: &[u8], newer: Option<&[u8]>, rng: &mut StdRng) -> (Vec<u8>, &'static str) {
    let Some(new) = newer.filter(|n| *n != base) else {
        return (base.to_vec(), "synced");
    };
    match rng.gen_range(0..4) {
        0 => (base.to_vec(), "lost"),
        1 => (new.to_vec(), "written"),
        _ => {
            // The size may or may not have been written back; each page either was or
            // was not, and a page not written reads as it was durably (or zeros).
            let len = if rng.gen_bool(0.5) {
                new.len()
            } else {
                base.len()
            };
            let mut out = vec![0u8; len];
            for start in (0..len).step_by(PAGE) {
                let end = (start + PAGE).min(len);
                let src = if rng.gen_bool(0.5) { new } else { base };
                if start < src.len() {
                    let e = end.min(src.len());
                    out[start..e].copy_from_slice(&src[start..e]);
                }
            }
            (out, "torn")
        }
    }
}

/// Builds in `out` the directory a power cut leaves of `live`, from what `shadow` recorded
/// as durable. Returns a line per file saying what was done, for a failure's report.
fn power_cut(live: &Path, shadow: &Path, out: &Path, rng: &mut StdRng) -> Vec<String> {
    let durable: BTreeMap<String, String> = fs::read_to_string(shadow.join("DIR"))
        .expect("shadow DIR")
        .lines()
        .map(|l| {
            let (id, name) = l.split_once(' ').expect("DIR line");
            (name.to_string(), id.to_string())
        })
        .collect();
    let current = listing(live);
    let names: BTreeSet<&String> = durable.keys().chain(current.keys()).collect();
    fs::create_dir_all(out).expect("cut dir");
    let mut notes = Vec::new();
    for name in names {
        let (d, c) = (durable.get(name), current.get(name));
        let (chosen, why) = if d == c {
            (d, "entry durable")
        } else if rng.gen_bool(0.5) {
            (d, "entry as at the last dir fsync")
        } else {
            (c, "entry as now")
        };
        let Some(id) = chosen else {
            notes.push(format!("{name}: absent ({why})"));
            continue;
        };
        let base = fs::read(shadow.join("files").join(id)).unwrap_or_default();
        let newer = (c == Some(id)).then(|| fs::read(live.join(name)).expect("read live"));
        let (content, how) = tear(&base, newer.as_deref(), rng);
        notes.push(format!(
            "{name} ({id}): {why}; {how}: {} bytes (durable {}, page cache {})",
            content.len(),
            base.len(),
            newer.as_ref().map_or(0, Vec::len)
        ));
        fs::write(out.join(name), content).expect("write cut file");
    }
    notes
}

/// Checks the state recovered in round `round`: for each thread, exactly the state after
/// its last acknowledged write or after the next one.
fn check(
    base: &BTreeMap<String, String>,
    got: &BTreeMap<String, String>,
    seed: u64,
    acked: &[Option<usize>],
) -> Result<(), String> {
    for (t, &last) in acked.iter().enumerate() {
        let prefix = format!("t{t}/");
        let mut state: BTreeMap<String, String> = base
            .iter()
            .filter(|(k, _)| k.starts_with(&prefix))
            .map(|(k, v)| (k.clone(), v.clone()))
            .collect();
        let apply = |state: &mut BTreeMap<String, String>, op: &Op| {
            for (k, v) in op {
                match v {
                    Some(v) => state.insert(k.clone(), v.clone()),
                    None => state.remove(k),
                };
            }
        };
        let mut ops = ops(seed, t);
        for _ in 0..last.map_or(0, |l| l + 1) {
            apply(&mut state, &ops.next().expect("op"));
        }
        let mut maybe = state.clone();
        apply(&mut maybe, &ops.next().expect("op"));
        let mine: BTreeMap<String, String> = got
            .iter()
            .filter(|(k, _)| k.starts_with(&prefix))
            .map(|(k, v)| (k.clone(), v.clone()))
            .collect();
        if mine != state && mine != maybe {
            let diff: Vec<String> = state
                .keys()
                .chain(mine.keys())
                .collect::<BTreeSet<_>>()
                .into_iter()
                .filter(|k| state.get(*k) != mine.get(*k))
                .take(5)
                .map(|k| {
                    let short = |v: Option<&String>| {
                        v.map_or("(none)".to_string(), |v| v.chars().take(24).collect())
                    };
                    format!(
                        "{k}: acknowledged {}, in flight {}, recovered {}",
                        short(state.get(k)),
                        short(maybe.get(k)),
                        short(mine.get(k))
                    )
                })
                .collect();
            return Err(format!(
                "thread {t} (last acknowledged write {last:?}): recovered state is neither \
                 after its last acknowledged write nor after the next: {diff:#?}"
            ));
        }
    }
    if let Some(k) = got.keys().find(|k| !k.starts_with('t')) {
        return Err(format!("unexpected key {k}"));
    }
    Ok(())
}

#[test]
fn acknowledged_writes_survive_a_power_cut() {
    let seed: u64 = std::env::var("CAIRN_POWER_CUT_SEED")
        .ok()
        .and_then(|s| s.parse().ok())
        .unwrap_or_else(|| rand::thread_rng().gen_range(0..1 << 32));
    eprintln!("power cut: seed {seed} (CAIRN_POWER_CUT_SEED={seed} replays it)");
    let root = tempfile::tempdir().expect("tempdir");
    let started = Instant::now();
    let mut live = root.path().join("round-0");
    fs::create_dir_all(&live).expect("round-0");
    let mut base: BTreeMap<String, String> = BTreeMap::new();
    let mut rng = StdRng::seed_from_u64(seed);
    let mut total_acked = 0;
    for round in 0..ROUNDS {
        let round_seed = seed.wrapping_add(round.wrapping_mul(1_000_003));
        let shadow = root.path().join(format!("shadow-{round}"));
        // Now and then early, to cut the child's own recovery and first writes.
        let after = if rng.gen_bool(0.25) {
            rng.gen_range(0..40)
        } else {
            rng.gen_range(40..500)
        };
        let lines = common::crash::run_and_kill(
            "power_cut_child",
            &[
                (CHILD_DIR, live.display().to_string()),
                (CHILD_SHADOW, shadow.display().to_string()),
                (CHILD_SEED, round_seed.to_string()),
            ],
            Duration::from_millis(after),
        );
        // (The harness's "test ... " may precede it on its line.)
        let opened = lines.iter().any(|l| l.ends_with("OPEN"));
        let shadow = &shadow;
        let mut acked: Vec<Option<usize>> = vec![None; THREADS];
        for line in &lines {
            let mut parts = line.split(' ');
            if let (Some("A"), Some(t), Some(i)) = (parts.next(), parts.next(), parts.next()) {
                let (t, i): (usize, usize) = (t.parse().unwrap(), i.parse().unwrap());
                // Each thread acknowledges in order.
                assert_eq!(acked[t].map_or(0, |l| l + 1), i, "thread {t} out of order");
                acked[t] = Some(i);
                total_acked += 1;
            }
        }
        let cut = root.path().join(format!("round-{}", round + 1));
        let notes = if shadow.join("DIR").exists() {
            power_cut(&live, shadow, &cut, &mut rng)
        } else {
            // Killed before recording started: nothing changed since the last round.
            copy_dir(&live, &cut);
            vec!["(killed before recording began: directory copied as it was)".into()]
        };
        let fail = |what: String| -> ! {
            let log = fs::read_to_string(shadow.join("LOG")).unwrap_or_default();
            // Out of the temporary directory, so that it outlives the test.
            let kept = std::env::temp_dir().join(format!("cairn-power-cut-{seed}-{round}"));
            let _ = fs::remove_dir_all(&kept);
            let kept = match fs::rename(root.path(), &kept) {
                Ok(()) => kept,
                Err(_) => root.path().to_path_buf(),
            };
            let tail: Vec<&str> = log.lines().rev().take(40).collect::<Vec<_>>();
            panic!(
                "power cut: seed {seed}, round {round} (child seed {round_seed}, killed after \
                 {after} ms, opened: {opened}, acknowledged {acked:?}): {what}\n\
                 directories kept in {} (round-{round}: the child's, round-{}: after the cut, \
                 shadow-{round}: what it recorded)\n\
                 the cut:\n  {}\nlast recorded fsyncs, newest first:\n  {}",
                kept.display(),
                round + 1,
                notes.join("\n  "),
                tail.join("\n  ")
            );
        };
        let db = match Db::open(&cut, options()) {
            Ok(db) => db,
            Err(e) => fail(format!("recovery refused: {e}")),
        };
        let got = read_all(&db);
        if let Err(e) = check(&base, &got, round_seed, &acked) {
            fail(e);
        }
        drop(db);
        eprintln!(
            "round {round}: killed after {after} ms, acknowledged {acked:?}, {} keys recovered",
            got.len()
        );
        if std::env::var_os("CAIRN_POWER_CUT_VERBOSE").is_some() {
            eprintln!("  {}", notes.join("\n  "));
        }
        base = got;
        live = cut;
    }
    assert!(total_acked > 0, "the child never acknowledged a write");
    eprintln!(
        "power cut: {ROUNDS} rounds, {total_acked} writes acknowledged, {:?}",
        started.elapsed()
    );
}

fn copy_dir(from: &Path, to: &Path) {
    fs::create_dir_all(to).expect("mkdir");
    for entry in fs::read_dir(from).expect("read dir") {
        let entry = entry.expect("entry");
        if entry.file_type().expect("type").is_file() {
            fs::copy(entry.path(), to.join(entry.file_name())).expect("copy");
        }
    }
}
