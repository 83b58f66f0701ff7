//! Settings of the whole process, made at start as Redis makes them: the open file limit,
//! sized for `maxclients`, and transparent huge pages, turned off.
//!
//! Every connection is a file descriptor, and the server needs some of its own (the
//! engine's WAL segments and manifest, the listeners, each worker's reactor). A soft
//! `RLIMIT_NOFILE` below `maxclients` plus those would make `accept` fail with `EMFILE`
//! before maxclients is reached, where a client should get Redis's
//! `-ERR max number of clients reached`. So at start, and when CONFIG SET raises
//! maxclients, the soft limit is raised toward that (up to the hard limit); when it cannot
//! go high enough, maxclients is what fits.
//!
//! Transparent huge pages make the allocator's first touch of a fresh arena fault in and
//! zero 2 MiB at a time, so each new connection's few small buffers can cost a whole huge
//! page: 10,000 idle connections took 400 MB of RSS and 8.8 s to accept with them, 153 MB
//! and 1.7 s without (docs/benchmarks.md). Redis turns them off for itself too
//! (`disable-thp yes`, its default), for the same reason and for fork's sake.

use rlimit::Resource;

/// Descriptors kept for the server's own files beside its clients' (Redis keeps 32; the
/// engine holds a few more: WAL segments, the manifest, tables being written).
pub const RESERVED_FDS: u64 = 64;

/// Raises the soft open file limit so that `maxclients` connections fit beside the
/// server's own files; returns the number of clients that fit, `maxclients` if all do.
pub fn fit_clients(maxclients: usize) -> usize {
    let wanted = files_for(maxclients);
    let Ok((soft, hard)) = Resource::NOFILE.get() else {
        return maxclients;
    };
    if soft >= wanted {
        return maxclients;
    }
    let target = wanted.min(hard);
    let limit = match Resource::NOFILE.set(target, hard) {
        Ok(()) => target,
        Err(error) => {
            tracing::warn!(%error, "cannot raise the open file limit to {target}");
            soft
        }
    };
    let fits = usize::try_from(limit.saturating_sub(RESERVED_FDS)).unwrap_or(usize::MAX);
    fits.min(maxclients)
}

/// The open files `maxclients` connections need beside the server's own (CONFIG SET may
/// ask for any number: it saturates rather than wraps).
fn files_for(maxclients: usize) -> u64 {
    u64::try_from(maxclients)
        .unwrap_or(u64::MAX)
        .saturating_add(RESERVED_FDS)
}

/// Sizes the open file limit for `maxclients` at start; returns the maxclients to run
/// with, lowered (with a warning saying what to do) when the limit cannot go high enough.
pub fn maxclients_at_start(maxclients: usize) -> usize {
    let fits = fit_clients(maxclients);
    if fits < maxclients {
        tracing::warn!(
            "maxclients {maxclients} needs {} open files, more than the hard limit allows; \
             maxclients has been reduced to {fits} to compensate for the low ulimit. \
             If you need higher maxclients increase 'ulimit -n'.",
            files_for(maxclients)
        );
    }
    fits
}

/// Turns transparent huge pages off for this process (`prctl(PR_SET_THP_DISABLE)`),
/// which applies to every later page fault, in memory mapped before this call too.
pub fn disable_transparent_huge_pages() {
    #[cfg(target_os = "linux")]
    {
        // SAFETY: PR_SET_THP_DISABLE takes integer arguments only and changes nothing but
        // how this process's future page faults are served.
        let done = unsafe { libc::prctl(libc::PR_SET_THP_DISABLE, 1, 0, 0, 0) };
        if done != 0 {
            let error = std::io::Error::last_os_error();
            tracing::warn!(%error, "cannot turn transparent huge pages off");
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_small_maxclients_fits_and_an_impossible_one_is_lowered() {
        assert_eq!(fit_clients(1), 1);
        let (_, hard) = Resource::NOFILE.get().expect("getrlimit");
        if hard < u64::from(u32::MAX) {
            for wanted in [usize::MAX / 2, usize::MAX] {
                assert_eq!(fit_clients(wanted) as u64, hard - RESERVED_FDS);
            }
        }
    }
}
