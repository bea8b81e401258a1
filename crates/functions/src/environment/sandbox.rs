//! What every execution environment's process is started under, applied between `fork` and
//! `exec` (so it binds the runtime and everything it starts): its own process group (the
//! whole tree is killed at once on timeout), no new privileges (setuid binaries cannot raise
//! them), death with Rampart, and resource limits — address space from `MemorySize`,
//! processes, open files, file size, no core dumps.
//!
//! Not yet here (the next slice): Landlock filesystem and network rules, a seccomp filter,
//! a PID namespace and an unprivileged uid when Rampart runs as root. `RLIMIT_NPROC` counts
//! every process of the user, and root is exempt from it.

/// The limits of one environment.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Limits {
    /// Bytes of address space (`RLIMIT_AS`): the function's `MemorySize`.
    pub address_space: u64,
    /// Processes and threads of the user (`RLIMIT_NPROC`).
    pub processes: u64,
    /// Open file descriptors (`RLIMIT_NOFILE`; Lambda's quota is 1024).
    pub open_files: u64,
    /// Largest file the environment may write (`RLIMIT_FSIZE`; Lambda's `/tmp` is 512 MB).
    pub file_size: u64,
}

impl Limits {
    /// The limits of a function with `memory_mb` megabytes.
    pub fn for_memory(memory_mb: u32) -> Self {
        Limits {
            address_space: u64::from(memory_mb) * 1024 * 1024,
            processes: 4096,
            open_files: 1024,
            file_size: 512 * 1024 * 1024,
        }
    }
}

fn check(result: libc::c_int) -> std::io::Result<()> {
    if result == 0 {
        Ok(())
    } else {
        Err(std::io::Error::last_os_error())
    }
}

fn limit(resource: libc::__rlimit_resource_t, value: u64) -> std::io::Result<()> {
    let rlim = libc::rlimit {
        rlim_cur: value as libc::rlim_t,
        rlim_max: value as libc::rlim_t,
    };
    // SAFETY: setrlimit reads the struct we pass and is async-signal-safe.
    check(unsafe { libc::setrlimit(resource, &rlim) })
}

/// Applies the sandbox to the calling process. Runs in the child between `fork` and `exec`:
/// only async-signal-safe calls, no allocation.
pub fn apply(limits: &Limits) -> std::io::Result<()> {
    // SAFETY: prctl with these constant arguments only sets flags on the calling process.
    unsafe {
        check(libc::prctl(libc::PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0))?;
        // The environment dies with Rampart rather than outliving it unsupervised.
        check(libc::prctl(libc::PR_SET_PDEATHSIG, libc::SIGKILL, 0, 0, 0))?;
    }
    limit(libc::RLIMIT_AS, limits.address_space)?;
    limit(libc::RLIMIT_NPROC, limits.processes)?;
    limit(libc::RLIMIT_NOFILE, limits.open_files)?;
    limit(libc::RLIMIT_FSIZE, limits.file_size)?;
    limit(libc::RLIMIT_CORE, 0)?;
    Ok(())
}

/// Kills every process of the group `pgid` (an environment's whole tree).
pub fn kill_group(pgid: i32) {
    if pgid > 1 {
        // SAFETY: kill with a negative pid signals a process group; no memory is touched.
        unsafe {
            libc::kill(-pgid, libc::SIGKILL);
        }
    }
}
