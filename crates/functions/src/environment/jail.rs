//! The root an environment sees when Rampart runs as root: a small read-only tmpfs holding
//! only what the environment may reach — the system's directories, the interpreter, the
//! function's code and the runtimes read-only, its own tmp directory writable, four devices —
//! each bound at the path it has on the host (so `LAMBDA_TASK_ROOT`, `TMPDIR` and the
//! interpreter's own paths are unchanged), entered with `pivot_root` in a mount namespace of
//! its own. Nothing else of the host's filesystem exists there: not `<data-dir>`, not other
//! functions' code or tmp, not `/proc` (no host process can be found, its own PID namespace
//! aside). This is what lets the environment run as an unprivileged uid although its code
//! lies under directories only root may enter (`<data-dir>` is 0700), and it is a second wall
//! behind Landlock, which still applies the same rules inside.
//!
//! The plan is made in Rampart; [`Jail::enter`] carries it out in the child between `clone`
//! and `exec` with system calls on prepared strings only.

use std::collections::BTreeSet;
use std::ffi::CString;
use std::os::unix::ffi::OsStrExt;
use std::path::{Path, PathBuf};

/// What the environment may see of the host's filesystem.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Exposure {
    /// An absolute host path, bound at the same path.
    pub path: PathBuf,
    pub writable: bool,
}

#[derive(Debug)]
enum Step {
    Dir(CString),
    /// An empty file to bind a device onto.
    File(CString),
    Symlink {
        target: CString,
        link: CString,
    },
    Bind {
        source: CString,
        target: CString,
        /// Per-mount flags set by a bind remount: read-only, nosuid, nodev, noexec as due.
        flags: libc::c_ulong,
    },
}

/// The prepared root of one environment.
#[derive(Debug)]
pub struct Jail {
    /// An empty directory of Rampart's the new root's tmpfs is mounted on (only inside the
    /// environment's mount namespace).
    mount_point: CString,
    steps: Vec<Step>,
}

fn c_path(path: &Path) -> std::io::Result<CString> {
    CString::new(path.as_os_str().as_bytes())
        .map_err(|e| std::io::Error::new(std::io::ErrorKind::InvalidInput, e))
}

/// The per-mount flags a bind of `path` keeps: its source's `noexec` (the jail never makes
/// something executable that the host does not), plus `nosuid`, and `nodev` unless it is a
/// device.
fn mount_flags(path: &Path, writable: bool, device: bool) -> libc::c_ulong {
    let mut flags = libc::MS_NOSUID;
    if !device {
        flags |= libc::MS_NODEV;
    }
    if !writable {
        flags |= libc::MS_RDONLY;
    }
    if let Ok(c) = c_path(path) {
        // SAFETY: statvfs fills the struct we pass for a NUL-terminated path.
        let mut st: libc::statvfs = unsafe { std::mem::zeroed() };
        if unsafe { libc::statvfs(c.as_ptr(), &mut st) } == 0 && st.f_flag & libc::ST_NOEXEC != 0 {
            flags |= libc::MS_NOEXEC;
        }
    }
    flags
}

impl Jail {
    /// Plans a root under `mount_point` showing `exposures` (missing paths are left out; a
    /// path under one already shown is shown through it; a symbolic link is recreated and
    /// its target shown).
    pub fn plan(mount_point: &Path, exposures: &[Exposure]) -> std::io::Result<Self> {
        let mut wanted: Vec<Exposure> = Vec::new();
        for e in exposures.iter().filter(|e| e.path.is_absolute()) {
            wanted.push(e.clone());
            if let Ok(real) = std::fs::canonicalize(&e.path) {
                if real != e.path {
                    wanted.push(Exposure {
                        path: real,
                        writable: e.writable,
                    });
                }
            }
        }
        // Parents before children, so a child already shown through its parent is skipped.
        wanted.sort_by(|a, b| {
            let depth = |p: &Path| p.components().count();
            depth(&a.path)
                .cmp(&depth(&b.path))
                .then(a.path.cmp(&b.path))
        });
        wanted.dedup_by(|later, kept| {
            let same = later.path == kept.path;
            if same {
                kept.writable |= later.writable;
            }
            same
        });
        let inside = |p: &Path| mount_point.join(p.strip_prefix("/").unwrap_or(p));
        let mut steps = Vec::new();
        let mut made: BTreeSet<PathBuf> = BTreeSet::new();
        let mut shown: Vec<PathBuf> = Vec::new();
        for e in wanted {
            let Ok(meta) = std::fs::symlink_metadata(&e.path) else {
                continue;
            };
            if shown.iter().any(|s| e.path.starts_with(s)) {
                // Already there through a parent; a writable directory under a read-only
                // parent is bound over itself (its mount point exists in the parent).
                if e.writable && meta.is_dir() {
                    steps.push(Step::Bind {
                        source: c_path(&e.path)?,
                        target: c_path(&inside(&e.path))?,
                        flags: mount_flags(&e.path, true, false),
                    });
                    shown.push(e.path);
                }
                continue;
            }
            let ancestors: Vec<&Path> = e
                .path
                .ancestors()
                .skip(1)
                .filter(|a| a.parent().is_some())
                .collect();
            for a in ancestors.into_iter().rev() {
                if made.insert(a.to_path_buf()) {
                    steps.push(Step::Dir(c_path(&inside(a))?));
                }
            }
            let target = c_path(&inside(&e.path))?;
            made.insert(e.path.clone());
            if meta.file_type().is_symlink() {
                steps.push(Step::Symlink {
                    target: c_path(&std::fs::read_link(&e.path)?)?,
                    link: target,
                });
                continue;
            }
            let device = {
                use std::os::unix::fs::FileTypeExt;
                meta.file_type().is_char_device()
            };
            steps.push(if meta.is_dir() {
                Step::Dir(target.clone())
            } else {
                Step::File(target.clone())
            });
            steps.push(Step::Bind {
                source: c_path(&e.path)?,
                target,
                flags: mount_flags(&e.path, e.writable, device),
            });
            shown.push(e.path);
        }
        Ok(Jail {
            mount_point: c_path(mount_point)?,
            steps,
        })
    }

    /// Builds the root and enters it. Runs in the child, which is alone in new mount and PID
    /// namespaces: system calls on the prepared strings only. Answers the errno of the first
    /// call that failed.
    pub fn enter(&self) -> Result<(), i32> {
        let errno = || {
            std::io::Error::last_os_error()
                .raw_os_error()
                .unwrap_or(libc::EIO)
        };
        let none = std::ptr::null::<libc::c_char>();
        // SAFETY: every pointer is a NUL-terminated string prepared by `plan` or a literal;
        // the calls change only this process's mount namespace and root.
        unsafe {
            // Nothing mounted here propagates back to the host.
            if libc::mount(
                none,
                c"/".as_ptr(),
                none,
                libc::MS_REC | libc::MS_PRIVATE,
                std::ptr::null(),
            ) != 0
            {
                return Err(errno());
            }
            if libc::mount(
                c"tmpfs".as_ptr(),
                self.mount_point.as_ptr(),
                c"tmpfs".as_ptr(),
                libc::MS_NOSUID | libc::MS_NODEV | libc::MS_NOEXEC,
                c"mode=0755,size=1m,nr_inodes=4096".as_ptr().cast(),
            ) != 0
            {
                return Err(errno());
            }
            for step in &self.steps {
                let done = match step {
                    Step::Dir(path) => {
                        let r = libc::mkdir(path.as_ptr(), 0o755);
                        r == 0 || errno() == libc::EEXIST
                    }
                    Step::File(path) => {
                        let fd = libc::open(
                            path.as_ptr(),
                            libc::O_CREAT | libc::O_WRONLY | libc::O_CLOEXEC,
                            0o644,
                        );
                        fd >= 0 && libc::close(fd) == 0
                    }
                    Step::Symlink { target, link } => {
                        libc::symlink(target.as_ptr(), link.as_ptr()) == 0
                    }
                    Step::Bind {
                        source,
                        target,
                        flags,
                    } => {
                        libc::mount(
                            source.as_ptr(),
                            target.as_ptr(),
                            none,
                            libc::MS_BIND | libc::MS_REC,
                            std::ptr::null(),
                        ) == 0
                            && libc::mount(
                                none,
                                target.as_ptr(),
                                none,
                                libc::MS_BIND | libc::MS_REMOUNT | flags,
                                std::ptr::null(),
                            ) == 0
                    }
                };
                if !done {
                    return Err(errno());
                }
            }
            // The root itself read-only, then made the root: `pivot_root(".", ".")` stacks the
            // old root over the new one, and detaching it leaves only the new.
            if libc::mount(
                none,
                self.mount_point.as_ptr(),
                none,
                libc::MS_BIND
                    | libc::MS_REMOUNT
                    | libc::MS_RDONLY
                    | libc::MS_NOSUID
                    | libc::MS_NODEV
                    | libc::MS_NOEXEC,
                std::ptr::null(),
            ) != 0
                || libc::chdir(self.mount_point.as_ptr()) != 0
                || libc::syscall(libc::SYS_pivot_root, c".".as_ptr(), c".".as_ptr()) != 0
                || libc::umount2(c".".as_ptr(), libc::MNT_DETACH) != 0
                || libc::chdir(c"/".as_ptr()) != 0
            {
                return Err(errno());
            }
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn describe(jail: &Jail) -> Vec<String> {
        jail.steps
            .iter()
            .map(|s| match s {
                Step::Dir(p) => format!("dir {}", p.to_string_lossy()),
                Step::File(p) => format!("file {}", p.to_string_lossy()),
                Step::Symlink { target, link } => format!(
                    "link {} -> {}",
                    link.to_string_lossy(),
                    target.to_string_lossy()
                ),
                Step::Bind {
                    source,
                    target,
                    flags,
                } => format!(
                    "bind {} {} {}",
                    source.to_string_lossy(),
                    target.to_string_lossy(),
                    if flags & libc::MS_RDONLY != 0 {
                        "ro"
                    } else {
                        "rw"
                    }
                ),
            })
            .collect()
    }

    #[test]
    fn plans_parents_first_links_and_skips_what_is_shown_or_missing() {
        let host = tempfile::tempdir().unwrap();
        let h = host.path();
        std::fs::create_dir_all(h.join("usr/lib")).unwrap();
        std::fs::create_dir_all(h.join("data/functions/code/abc")).unwrap();
        std::fs::create_dir_all(h.join("data/functions/tmp/e1")).unwrap();
        std::os::unix::fs::symlink("usr/lib", h.join("lib")).unwrap();
        let root = Path::new("/jail");
        let ro = |p: &str| Exposure {
            path: h.join(p),
            writable: false,
        };
        let jail = Jail::plan(
            root,
            &[
                ro("data/functions/code/abc"),
                ro("usr"),
                ro("usr/lib"),
                ro("lib"),
                ro("missing"),
                Exposure {
                    path: h.join("data/functions/tmp/e1"),
                    writable: true,
                },
            ],
        )
        .unwrap();
        let inside = |p: &str| format!("/jail{}", h.join(p).display());
        let steps = describe(&jail);
        let pos = |s: &str| {
            steps
                .iter()
                .position(|x| x == s)
                .unwrap_or_else(|| panic!("{s} not in {steps:#?}"))
        };
        let usr = pos(&format!(
            "bind {} {} ro",
            h.join("usr").display(),
            inside("usr")
        ));
        assert!(pos(&format!("dir {}", inside("usr"))) < usr);
        assert!(
            pos(&format!("dir {}", inside("data")))
                < pos(&format!("dir {}", inside("data/functions")))
        );
        pos(&format!(
            "bind {} {} ro",
            h.join("data/functions/code/abc").display(),
            inside("data/functions/code/abc")
        ));
        pos(&format!(
            "bind {} {} rw",
            h.join("data/functions/tmp/e1").display(),
            inside("data/functions/tmp/e1")
        ));
        pos(&format!("link {} -> usr/lib", inside("lib")));
        // usr/lib is shown through usr; the link's target too; the missing path not at all.
        assert!(!steps
            .iter()
            .any(|s| s.contains("usr/lib ") && s.starts_with("bind")));
        assert!(!steps.iter().any(|s| s.contains("missing")));
        // Nothing is made twice.
        let mut dirs: Vec<&String> = steps.iter().filter(|s| s.starts_with("dir")).collect();
        let before = dirs.len();
        dirs.dedup();
        assert_eq!(before, dirs.len());
    }
}
