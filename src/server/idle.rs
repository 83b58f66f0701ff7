//! How a worker goes to sleep. Before its thread sleeps in the kernel (`epoll_wait`), a
//! worker that was busy a moment ago yields the CPU for a few microseconds: under load the
//! next requests usually arrive meanwhile, so the worker finds them without having slept,
//! and the clients sending them need not wake it. Waking a sleeping thread costs the
//! sender a scheduler wake-up: under redis-benchmark's unpipelined GETs the server slept
//! twice as often as Redis, which is busier per request, and the client's extra system
//! time for those wake-ups was its whole gap to Redis (docs/benchmarks.md). A worker does not linger when its last sleep was long (light load: an
//! idle server burns nothing) or when a connection waits for an fsync (what wakes it then
//! is the WAL syncer, not a client, and lingering would take the core from the syncer).

use std::cell::Cell;
use std::time::{Duration, Instant};

/// How long a busy worker yields before it sleeps.
const LINGER: Duration = Duration::from_micros(5);
/// A sleep shorter than this means the worker is busy.
const BUSY_SLEEP: Duration = Duration::from_micros(200);

thread_local! {
    /// When this worker's thread went to sleep (while it sleeps), and whether its last
    /// sleep was short.
    static SLEEP: Cell<(Option<Instant>, bool)> = const { Cell::new((None, false)) };
    /// Connections of this worker waiting for an fsync.
    static DISK_WAITS: Cell<u32> = const { Cell::new(0) };
}

/// For the runtime's `on_thread_park`: called just before the worker's thread sleeps.
pub(super) fn before_sleep() {
    let (_, busy) = SLEEP.get();
    if busy && DISK_WAITS.get() == 0 {
        let started = Instant::now();
        while started.elapsed() < LINGER {
            // Yield rather than spin: whatever else wants this core (the WAL syncer, a
            // client on the same machine) runs meanwhile.
            std::thread::yield_now();
        }
    }
    SLEEP.set((Some(Instant::now()), busy));
}

/// For the runtime's `on_thread_unpark`: called when the worker's thread wakes.
pub(super) fn after_wake() {
    let (slept_at, _) = SLEEP.get();
    SLEEP.set((None, slept_at.is_some_and(|t| t.elapsed() < BUSY_SLEEP)));
}

/// Held by a connection while it waits for an fsync, on its worker's thread.
pub(super) struct DiskWait(());

impl DiskWait {
    pub(super) fn begin() -> DiskWait {
        DISK_WAITS.set(DISK_WAITS.get().saturating_add(1));
        DiskWait(())
    }
}

impl Drop for DiskWait {
    fn drop(&mut self) {
        DISK_WAITS.set(DISK_WAITS.get().saturating_sub(1));
    }
}
