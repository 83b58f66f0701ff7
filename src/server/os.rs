//! What the operating system says about this process (INFO reads them): resident memory and its
//! peak, the machine's memory, CPU time (the process's, its children's and the worker
//! threads'), and the kernel's name. Each reading is one system call or one small /proc
//! file, taken when asked; none is kept.
//!
//! Where a reading is unavailable (another OS, an unreadable /proc), it is 0 or empty; it
//! never fails INFO.

use std::ffi::CStr;

/// Resident memory now and at its peak, in bytes.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub(crate) struct Resident {
    pub now: u64,
    pub peak: u64,
}

/// This process's resident memory (`VmRSS`) and its peak since start (`VmHWM`).
pub(crate) fn resident() -> Resident {
    let status = std::fs::read_to_string("/proc/self/status").unwrap_or_default();
    Resident {
        now: kib_field(&status, "VmRSS:").unwrap_or(0),
        peak: kib_field(&status, "VmHWM:").unwrap_or(0),
    }
}

/// The machine's memory (`MemTotal`), in bytes.
pub(crate) fn total_system_memory() -> u64 {
    let meminfo = std::fs::read_to_string("/proc/meminfo").unwrap_or_default();
    kib_field(&meminfo, "MemTotal:").unwrap_or(0)
}

/// The value of a `Name:   1234 kB` line, in bytes.
fn kib_field(text: &str, name: &str) -> Option<u64> {
    let line = text.lines().find(|l| l.starts_with(name))?;
    let kib: u64 = line[name.len()..].split_whitespace().next()?.parse().ok()?;
    Some(kib * 1024)
}

/// CPU time in seconds, in system and in user mode.
#[derive(Debug, Clone, Copy, Default, PartialEq)]
pub(crate) struct Cpu {
    pub sys: f64,
    pub user: f64,
}

/// The CPU time of this process (`children == false`) or of its waited-for children.
pub(crate) fn rusage(children: bool) -> Cpu {
    let who = if children {
        libc::RUSAGE_CHILDREN
    } else {
        libc::RUSAGE_SELF
    };
    // SAFETY: `rusage` is a plain C struct of integers, for which all zeroes is valid.
    let mut usage: libc::rusage = unsafe { std::mem::zeroed() };
    // SAFETY: getrusage writes the `rusage` we own and pass, nothing else.
    if unsafe { libc::getrusage(who, &raw mut usage) } != 0 {
        return Cpu::default();
    }
    let seconds = |t: libc::timeval| t.tv_sec as f64 + t.tv_usec as f64 / 1e6;
    Cpu {
        sys: seconds(usage.ru_stime),
        user: seconds(usage.ru_utime),
    }
}

/// The CPU time of the threads whose name starts with `prefix` (the workers, which run
/// every connection's event loop and commands: what Redis's main thread does), summed from
/// /proc/self/task/*/stat; `None` where /proc has no threads to read.
pub(crate) fn threads_cpu(prefix: &str) -> Option<Cpu> {
    // SAFETY: sysconf only reads a system constant.
    let ticks = unsafe { libc::sysconf(libc::_SC_CLK_TCK) };
    if ticks <= 0 {
        return None;
    }
    let mut total = Cpu::default();
    for task in std::fs::read_dir("/proc/self/task").ok()?.flatten() {
        let path = task.path();
        let named =
            std::fs::read_to_string(path.join("comm")).is_ok_and(|name| name.starts_with(prefix));
        if !named {
            continue;
        }
        let Some((user, sys)) = std::fs::read_to_string(path.join("stat"))
            .ok()
            .and_then(|stat| stat_times(&stat))
        else {
            continue;
        };
        total.user += user as f64 / ticks as f64;
        total.sys += sys as f64 / ticks as f64;
    }
    Some(total)
}

/// `utime` and `stime` (fields 14 and 15, in clock ticks) of a /proc/<pid>/stat line. The
/// command name (field 2) may hold spaces and parentheses, so fields count from the last `)`.
fn stat_times(stat: &str) -> Option<(u64, u64)> {
    let rest = &stat[stat.rfind(')')? + 1..];
    let mut fields = rest.split_whitespace().skip(11);
    Some((fields.next()?.parse().ok()?, fields.next()?.parse().ok()?))
}

/// The kernel's name, release and machine (`Linux 6.1.0 x86_64`), as Redis's `os` field.
pub(crate) fn uname() -> String {
    // SAFETY: `utsname` is a plain C struct of char arrays, for which all zeroes is valid.
    let mut name: libc::utsname = unsafe { std::mem::zeroed() };
    // SAFETY: uname writes the `utsname` we own and pass, nothing else.
    if unsafe { libc::uname(&raw mut name) } != 0 {
        return format!("{} {}", std::env::consts::OS, std::env::consts::ARCH);
    }
    let text = |field: &[libc::c_char]| {
        // SAFETY: uname fills each field with a NUL-terminated string within its array.
        unsafe { CStr::from_ptr(field.as_ptr()) }
            .to_string_lossy()
            .into_owned()
    };
    format!(
        "{} {} {}",
        text(&name.sysname),
        text(&name.release),
        text(&name.machine)
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn stat_times_count_fields_from_the_last_parenthesis() {
        let stat = "4242 (cairn (worker) 1) S 1 4242 4242 0 -1 4194560 100 0 0 0 \
                    731 215 0 0 20 0 5 0 100 1000 200";
        assert_eq!(stat_times(stat), Some((731, 215)));
        assert_eq!(stat_times("4242 (short) S 1"), None);
    }

    #[test]
    fn kib_fields_are_bytes() {
        let status = "Name:\tcairn\nVmHWM:\t   2048 kB\nVmRSS:\t   1024 kB\n";
        assert_eq!(kib_field(status, "VmRSS:"), Some(1024 * 1024));
        assert_eq!(kib_field(status, "VmHWM:"), Some(2048 * 1024));
        assert_eq!(kib_field(status, "VmSwap:"), None);
    }

    #[cfg(target_os = "linux")]
    #[test]
    fn this_process_is_measured() {
        let memory = resident();
        assert!(memory.now > 0 && memory.peak >= memory.now);
        assert!(total_system_memory() >= memory.now);
        assert!(uname().starts_with("Linux "));
        // This test's own thread is named after the test.
        assert!(threads_cpu("").is_some_and(|cpu| cpu.user + cpu.sys >= 0.0));
    }
}
