//! The unpacked packages on this node (`<root>/code/<sha256 hex>`) and when they go. A package
//! is unpacked once per node and shared by every function with the same zip, so it is removed
//! by a sweep rather than by the request that deleted or updated a function: a directory goes
//! once no function in the store names its package (deleted functions, old code after
//! `UpdateFunctionCode`) and no environment of this node still runs from it. The sweep runs
//! after a delete or an update on this node and every few minutes for what other nodes did.
//!
//! A sweep and an environment starting race safely: an environment takes a [`CodeLease`]
//! before it looks for its directory, the sweep moves directories aside under the same lock
//! before removing them, and a directory swept just before an environment needed it is simply
//! unpacked again from the store.

use std::collections::{HashMap, HashSet};
use std::path::Path;
use std::sync::{Arc, Mutex};
use std::time::{Duration, SystemTime};

use crate::code::remove_tree;

/// How old a half-unpacked staging directory must be before a sweep takes it for the
/// leftover of an interrupted unpack.
const STAGING_LEFTOVER: Duration = Duration::from_secs(3600);

/// The packages environments of this node run from, counted.
#[derive(Default)]
pub struct CodeInUse {
    counts: Mutex<HashMap<String, usize>>,
}

/// One environment's hold on its package's directory, released when dropped.
pub struct CodeLease {
    registry: Arc<CodeInUse>,
    sha256_hex: String,
}

impl Drop for CodeLease {
    fn drop(&mut self) {
        let mut counts = self
            .registry
            .counts
            .lock()
            .unwrap_or_else(|e| e.into_inner());
        if let Some(n) = counts.get_mut(&self.sha256_hex) {
            *n -= 1;
            if *n == 0 {
                counts.remove(&self.sha256_hex);
            }
        }
    }
}

impl CodeInUse {
    /// Holds the package `sha256_hex` for an environment (taken before its directory is
    /// looked for).
    pub fn lease(self: &Arc<Self>, sha256_hex: &str) -> CodeLease {
        *self
            .counts
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .entry(sha256_hex.to_owned())
            .or_default() += 1;
        CodeLease {
            registry: self.clone(),
            sha256_hex: sha256_hex.to_owned(),
        }
    }

    /// Removes from `code_root` every unpacked package that is neither `wanted` (named by a
    /// function in the store) nor leased, and staging leftovers; answers how many went.
    pub fn sweep(&self, code_root: &Path, wanted: &HashSet<String>) -> usize {
        let Ok(entries) = std::fs::read_dir(code_root) else {
            return 0;
        };
        let mut doomed = Vec::new();
        {
            let counts = self.counts.lock().unwrap_or_else(|e| e.into_inner());
            for entry in entries.flatten() {
                let name = entry.file_name().to_string_lossy().into_owned();
                let path = entry.path();
                if let Some(staging) = name.strip_prefix('.') {
                    // `.<sha>.<uuid>`: an unpack under way, or the leftover of one that was
                    // interrupted; `.trash-…`: a sweep's that was.
                    let old = entry
                        .metadata()
                        .and_then(|m| m.modified())
                        .ok()
                        .and_then(|t| SystemTime::now().duration_since(t).ok())
                        .is_some_and(|age| age > STAGING_LEFTOVER);
                    if staging.starts_with("trash-") || old {
                        doomed.push(path);
                    }
                    continue;
                }
                if wanted.contains(&name) || counts.contains_key(&name) {
                    continue;
                }
                // Moved aside under the lock: an environment leasing it from now on finds it
                // missing and unpacks it again.
                let trash = code_root.join(format!(".trash-{}", uuid::Uuid::new_v4().simple()));
                if std::fs::rename(&path, &trash).is_ok() {
                    doomed.push(trash);
                }
            }
        }
        let gone = doomed.len();
        for path in doomed {
            remove_tree(&path);
        }
        gone
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sweeps_what_no_function_names_and_no_environment_holds() {
        let root = tempfile::tempdir().unwrap();
        let code = root.path();
        for sha in ["named", "leased", "orphan"] {
            std::fs::create_dir_all(code.join(sha).join("lib")).unwrap();
            std::fs::write(code.join(sha).join("lib/x.py"), "x").unwrap();
        }
        // A read-only package, as unpacked.
        use std::os::unix::fs::PermissionsExt;
        std::fs::set_permissions(
            code.join("orphan/lib"),
            std::fs::Permissions::from_mode(0o555),
        )
        .unwrap();
        std::fs::create_dir(code.join(".trash-1")).unwrap();
        std::fs::create_dir(code.join(".fresh.staging")).unwrap();
        let in_use = Arc::new(CodeInUse::default());
        let lease = in_use.lease("leased");
        let wanted = HashSet::from(["named".to_owned()]);
        assert_eq!(in_use.sweep(code, &wanted), 2);
        let left = |n: &str| code.join(n).exists();
        assert!(left("named") && left("leased") && left(".fresh.staging"));
        assert!(!left("orphan") && !left(".trash-1"));
        drop(lease);
        assert_eq!(in_use.sweep(code, &wanted), 1);
        assert!(!left("leased"));
        // Two leases of one package: held until both are gone.
        std::fs::create_dir(code.join("twice")).unwrap();
        let (a, b) = (in_use.lease("twice"), in_use.lease("twice"));
        drop(a);
        assert_eq!(in_use.sweep(code, &wanted), 0);
        drop(b);
        assert_eq!(in_use.sweep(code, &wanted), 1);
    }
}
