//! The unprivileged users environments run as when Rampart runs as root: one uid, with the
//! gid of the same number, per function on this node, from a range no account of the host
//! uses ([`FIRST_ID`]..). Two functions' processes therefore never share a user: neither can
//! signal or trace the other's (nor Rampart's, which is root), and `RLIMIT_NPROC` — which
//! root ignores — bounds each function's processes. Nothing is written for them: the ids are
//! given out again after a restart, when no environment of the last run is left.

use std::collections::HashMap;
use std::sync::Mutex;

use super::spawn::Identity;

/// The first uid and gid given to a function: above the ranges distributions and systemd
/// give to system, regular, dynamic and container users (which end below 2^31).
pub const FIRST_ID: u32 = 3_000_000_000;
/// How many functions of one node may have an id at once.
pub const IDS: u32 = 1 << 20;

/// The ids of this node's functions; none when Rampart does not run as root (it cannot
/// change user then, and environments run as Rampart's user).
pub struct Identities {
    ids: Option<Mutex<Assigned>>,
}

#[derive(Default)]
struct Assigned {
    by_function: HashMap<String, u32>,
    next: u32,
}

impl Identities {
    /// Ids for this process: given out only when it runs as root.
    pub fn for_this_process() -> Self {
        // SAFETY: geteuid reads the calling process's effective uid.
        let root = unsafe { libc::geteuid() } == 0;
        Identities::new(root)
    }

    pub fn new(give_out: bool) -> Self {
        Identities {
            ids: give_out.then(|| Mutex::new(Assigned::default())),
        }
    }

    /// The identity environments of `function` run as, given out on first use.
    pub fn of(&self, function: &str) -> Option<Identity> {
        let mut assigned = self.ids.as_ref()?.lock().unwrap_or_else(|e| e.into_inner());
        if let Some(id) = assigned.by_function.get(function) {
            return Some(Identity { uid: *id, gid: *id });
        }
        if assigned.by_function.len() as u32 >= IDS {
            return None;
        }
        // The next id no function holds (ids of deleted functions come round again last).
        let id = loop {
            let candidate = FIRST_ID + assigned.next % IDS;
            assigned.next = assigned.next.wrapping_add(1);
            if !assigned.by_function.values().any(|v| *v == candidate) {
                break candidate;
            }
        };
        assigned.by_function.insert(function.to_owned(), id);
        Some(Identity { uid: id, gid: id })
    }

    /// Forgets the id of a deleted function.
    pub fn release(&self, function: &str) {
        if let Some(ids) = &self.ids {
            ids.lock()
                .unwrap_or_else(|e| e.into_inner())
                .by_function
                .remove(function);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn one_id_per_function_and_none_without_root() {
        let ids = Identities::new(true);
        let a = ids.of("a").unwrap();
        let b = ids.of("b").unwrap();
        assert_ne!(a.uid, b.uid);
        assert_eq!(a.uid, a.gid);
        assert!(a.uid >= FIRST_ID && b.uid >= FIRST_ID);
        assert_eq!(ids.of("a"), Some(a));
        ids.release("a");
        let again = ids.of("a").unwrap();
        assert_ne!(again.uid, b.uid);
        assert_ne!(
            again.uid, a.uid,
            "a released id is not given out again at once"
        );
        assert_eq!(Identities::new(false).of("a"), None);
    }
}
