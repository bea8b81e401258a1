//! How much memory an execution environment used, for the `REPORT` line's `Max Memory Used`.
//!
//! An environment is a process tree (the runtime and whatever it starts). Linux keeps each
//! process's peak resident set (`VmHWM` in `/proc/<pid>/status`); the tree's figure is the sum
//! of the peaks of its living processes, found from the runtime down through
//! `/proc/<pid>/task/<tid>/children`. That is an upper bound of what the tree held at once (its
//! processes need not have peaked together) and it misses processes that exited before it is
//! read — without a cgroup of its own per environment, this is the honest figure Linux
//! offers. Lambda reports the most an environment has used over all its invocations, so the
//! caller keeps the highest figure seen.
//!
//! Walking the tree reads every thread's `children` (a Node runtime has a dozen threads), on
//! every invocation. [`TreeWatch`] walks it again only when a process may have joined it: the
//! last process id the kernel handed out (`/proc/loadavg`, one short read) moved, which any
//! fork or thread on the host does, or [`RESCAN_AFTER`] passed. Otherwise it reads the peaks
//! of the processes it knows, which are the tree's: a process leaves it only by exiting (then
//! its `status` is gone and counts 0), and its id is not given to another without moving the
//! last id.

use std::collections::HashSet;
use std::sync::Mutex;
use std::time::{Duration, Instant};

/// Processes of one tree visited at most (a fork bomb stopped by `RLIMIT_NPROC` is smaller).
const MAX_PROCESSES: usize = 4096;

/// `VmHWM` of `pid`, in KiB (0 if it is gone or has no memory of its own, as a zombie).
fn peak_kib(pid: u32) -> u64 {
    std::fs::read_to_string(format!("/proc/{pid}/status"))
        .ok()
        .and_then(|status| {
            status
                .lines()
                .find_map(|l| l.strip_prefix("VmHWM:"))
                .and_then(|v| v.split_whitespace().next())
                .and_then(|kib| kib.parse::<u64>().ok())
        })
        .unwrap_or(0)
}

/// The children of every thread of `pid`.
fn children(pid: u32) -> Vec<u32> {
    let Ok(tasks) = std::fs::read_dir(format!("/proc/{pid}/task")) else {
        return Vec::new();
    };
    let mut found = Vec::new();
    for task in tasks.flatten() {
        if let Ok(list) = std::fs::read_to_string(task.path().join("children")) {
            found.extend(
                list.split_whitespace()
                    .filter_map(|p| p.parse::<u32>().ok()),
            );
        }
    }
    found
}

/// `root` and its living descendants (at most [`MAX_PROCESSES`]), root first.
pub(super) fn tree(root: u32) -> Vec<u32> {
    let mut seen = HashSet::new();
    let mut found = Vec::new();
    let mut pending = vec![root];
    while let Some(pid) = pending.pop() {
        if seen.len() >= MAX_PROCESSES || !seen.insert(pid) {
            continue;
        }
        found.push(pid);
        pending.extend(children(pid));
    }
    found
}

/// The sum of the peak resident sets of `root` and its living descendants, in KiB.
pub fn tree_peak_kib(root: u32) -> u64 {
    tree(root).into_iter().map(peak_kib).sum()
}

/// The longest a [`TreeWatch`] trusts its list of processes without walking the tree, even
/// though no process id was handed out: the ids wrap around, after `pid_max` of them.
pub const RESCAN_AFTER: Duration = Duration::from_secs(1);

/// The last process id handed out in this process's pid namespace (the last field of
/// `/proc/loadavg`; the ids of processes in the environments' own namespaces are handed out
/// in it too).
fn last_pid() -> Option<u32> {
    std::fs::read_to_string("/proc/loadavg")
        .ok()?
        .split_whitespace()
        .nth(4)?
        .parse()
        .ok()
}

/// One environment's process tree, walked again only when it may have grown (see the
/// module's documentation).
pub struct TreeWatch {
    root: u32,
    known: Mutex<Known>,
}

struct Known {
    pids: Vec<u32>,
    /// The last process id handed out when the tree was walked (`None`: never walked, or
    /// `/proc/loadavg` unreadable, which makes every read walk).
    last_pid: Option<u32>,
    walked_at: Instant,
}

impl TreeWatch {
    /// The tree under `root`, not walked yet.
    pub fn new(root: u32) -> Self {
        TreeWatch {
            root,
            known: Mutex::new(Known {
                pids: Vec::new(),
                last_pid: None,
                walked_at: Instant::now(),
            }),
        }
    }

    /// The sum of the peak resident sets of the tree's living processes, in KiB, as
    /// [`tree_peak_kib`] answers it.
    pub fn peak_kib(&self) -> u64 {
        let mut known = self.known.lock().unwrap_or_else(|e| e.into_inner());
        // Read before the walk: a process started during it moves the id, so the next read
        // walks again.
        let now = last_pid();
        if now.is_none() || now != known.last_pid || known.walked_at.elapsed() >= RESCAN_AFTER {
            known.pids = tree(self.root);
            known.last_pid = now;
            known.walked_at = Instant::now();
        }
        known.pids.iter().copied().map(peak_kib).sum()
    }
}

/// KiB as Lambda's whole megabytes, rounded up.
pub fn as_mb(kib: u64) -> u64 {
    kib.div_ceil(1024)
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A child's peak, once it has exec'd (0 if it never shows one).
    fn exec_peak(child: &std::process::Child) -> u64 {
        for _ in 0..100 {
            let peak = peak_kib(child.id());
            if peak > 0 {
                return peak;
            }
            std::thread::sleep(std::time::Duration::from_millis(10));
        }
        0
    }

    /// A child that stays alive a few seconds.
    fn sleeper() -> std::process::Child {
        std::process::Command::new("sleep")
            .arg("5")
            .spawn()
            .expect("sleep runs")
    }

    #[test]
    fn a_tree_counts_its_children() {
        let me = std::process::id();
        let alone = peak_kib(me);
        assert!(alone > 0);
        let mut child = sleeper();
        // The child's peak is readable once it has exec'd.
        let child_peak = exec_peak(&child);
        assert!(child_peak > 0);
        assert!(children(me).contains(&child.id()));
        assert!(tree_peak_kib(me) >= alone + child_peak);
        // A leaf's tree is itself. Read its own peak first: VmHWM only grows, and the child may
        // still be growing into `sleep` between two reads.
        let own = peak_kib(child.id());
        assert!(tree_peak_kib(child.id()) >= own);
        let _ = child.kill();
        let _ = child.wait();
        assert_eq!(tree_peak_kib(u32::MAX), 0);
        assert_eq!(TreeWatch::new(u32::MAX).peak_kib(), 0);
        assert_eq!(as_mb(1), 1);
        assert_eq!(as_mb(2048), 2);
        assert_eq!(as_mb(2049), 3);
    }

    /// A watch that already walked the tree sees a child started afterwards (its start moved
    /// the last process id).
    #[test]
    fn a_watch_sees_children_started_after_it_walked() {
        let me = std::process::id();
        let watch = TreeWatch::new(me);
        assert!(watch.peak_kib() > 0);
        // This process's own peak only grows: read now, it bounds what the tree holds later.
        let own = peak_kib(me);
        let mut child = sleeper();
        let child_peak = exec_peak(&child);
        assert!(child_peak > 0);
        // Well within RESCAN_AFTER of the first walk: only the moved process id makes this
        // read walk again.
        let with_child = watch.peak_kib();
        let _ = child.kill();
        let _ = child.wait();
        assert!(
            with_child >= own + child_peak,
            "{with_child} KiB misses the child's {child_peak} KiB"
        );
    }
}
