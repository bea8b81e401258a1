//! What every execution environment's process is started under, applied between `fork` and
//! `exec` (so it binds the runtime and everything it starts): its own process group (the
//! whole tree is killed at once on timeout), no new privileges (setuid binaries cannot raise
//! them), death with Rampart, resource limits — address space from `MemorySize`, processes,
//! open files, file size, no core dumps — and:
//!
//! - **Landlock** (built in Rampart, entered by the child): the filesystem is readable (and
//!   executable) only under the system's directories, the interpreter's installation, the
//!   function's code and the runtimes Rampart ships — so not `<data-dir>` (the store, the root
//!   key, the administrator's credentials), not another function's code or tmp, not `/proc`
//!   (no other process's environment) — and writable only in its own tmp directory and
//!   `/dev/null`; TCP connections only to Rampart's port and its own Runtime API port, no TCP
//!   listening; no signals to processes outside the environment, no abstract unix sockets
//!   outside it. Best effort: a kernel without Landlock (or an older ABI) enforces less.
//! - **seccomp**: a filter refusing what a function never needs and an attacker would want:
//!   `ptrace` and cross-process memory access, mounts and namespaces, kernel modules, kexec,
//!   BPF, perf events, the kernel keyring, userfaultfd, and the like (`EPERM`); `clone3` answers
//!   `ENOSYS` so the C library falls back to `clone`, whose namespace flags are refused.
//!
//! Not yet here: a PID namespace and an unprivileged uid when Rampart runs as root.
//! `RLIMIT_NPROC` counts every process of the user, and root is exempt from it.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use super::jail::Exposure;
use landlock::{
    Access, AccessFs, AccessNet, NetPort, PathBeneath, PathFd, Ruleset, RulesetAttr,
    RulesetCreated, RulesetCreatedAttr, Scope, ABI,
};
use seccompiler::{
    BpfProgram, SeccompAction, SeccompCmpArgLen, SeccompCmpOp, SeccompCondition, SeccompFilter,
    SeccompRule, TargetArch,
};

/// The Landlock ABI the rules are written for (7 on current kernels; older ones enforce the
/// subset they know).
const LANDLOCK_ABI: ABI = ABI::V6;

/// The system directories every runtime reads (libraries, certificates, zone data, `sh`).
pub const SYSTEM_READ_ONLY: &[&str] = &[
    "/usr", "/lib", "/lib64", "/lib32", "/bin", "/sbin", "/etc", "/opt",
];

/// The devices an environment may open (`/dev/null` read-write, the others read-only).
pub const DEVICES: &[&str] = &["/dev/null", "/dev/zero", "/dev/urandom", "/dev/random"];

/// System calls refused with `EPERM`.
const DENIED_SYSCALLS: &[i64] = &[
    libc::SYS_ptrace,
    libc::SYS_process_vm_readv,
    libc::SYS_process_vm_writev,
    libc::SYS_kcmp,
    libc::SYS_mount,
    libc::SYS_umount2,
    libc::SYS_pivot_root,
    libc::SYS_chroot,
    libc::SYS_setns,
    libc::SYS_unshare,
    libc::SYS_kexec_load,
    libc::SYS_kexec_file_load,
    libc::SYS_init_module,
    libc::SYS_finit_module,
    libc::SYS_delete_module,
    libc::SYS_bpf,
    libc::SYS_perf_event_open,
    libc::SYS_keyctl,
    libc::SYS_add_key,
    libc::SYS_request_key,
    libc::SYS_userfaultfd,
    libc::SYS_open_by_handle_at,
    libc::SYS_name_to_handle_at,
    libc::SYS_reboot,
    libc::SYS_swapon,
    libc::SYS_swapoff,
    libc::SYS_acct,
    libc::SYS_quotactl,
    libc::SYS_syslog,
    libc::SYS_settimeofday,
    libc::SYS_clock_settime,
    libc::SYS_clock_adjtime,
    libc::SYS_adjtimex,
    libc::SYS_sethostname,
    libc::SYS_setdomainname,
    libc::SYS_fanotify_init,
    libc::SYS_move_mount,
    libc::SYS_open_tree,
    libc::SYS_fsopen,
    libc::SYS_fsmount,
    libc::SYS_fsconfig,
    libc::SYS_fspick,
];

/// `clone` flags that make namespaces.
const NAMESPACE_FLAGS: &[i32] = &[
    libc::CLONE_NEWNS,
    libc::CLONE_NEWUTS,
    libc::CLONE_NEWIPC,
    libc::CLONE_NEWUSER,
    libc::CLONE_NEWPID,
    libc::CLONE_NEWNET,
    libc::CLONE_NEWCGROUP,
];

/// The Landlock ABI this kernel offers (0 without Landlock), for the operator's log: an
/// older kernel enforces only part of the rules.
pub fn kernel_landlock_abi() -> i64 {
    const LANDLOCK_CREATE_RULESET_VERSION: libc::c_uint = 1;
    // SAFETY: with a null attribute and size 0 and this flag, the call only answers the ABI
    // version; it creates nothing and reads no memory.
    let abi = unsafe {
        libc::syscall(
            libc::SYS_landlock_create_ruleset,
            std::ptr::null::<libc::c_void>(),
            0usize,
            LANDLOCK_CREATE_RULESET_VERSION,
        )
    };
    abi.max(0)
}

/// What an environment may reach.
#[derive(Debug, Clone)]
pub struct Reach {
    /// Readable and executable, beside [`SYSTEM_READ_ONLY`]: the code, the runtimes, the
    /// interpreter's installation.
    pub read_only: Vec<PathBuf>,
    /// The environment's own tmp directory.
    pub writable: PathBuf,
    /// TCP ports it may connect to (Rampart's, its Runtime API's).
    pub tcp_connect: Vec<u16>,
}

impl Reach {
    /// What of the host's filesystem an environment's own root shows (see [`super::jail`]):
    /// exactly what Landlock lets it read or write.
    pub fn exposures(&self) -> Vec<Exposure> {
        let read_only = SYSTEM_READ_ONLY
            .iter()
            .chain(DEVICES)
            .map(PathBuf::from)
            .chain(self.read_only.iter().cloned())
            .map(|path| Exposure {
                path,
                writable: false,
            });
        read_only
            .chain([
                Exposure {
                    path: self.writable.clone(),
                    writable: true,
                },
                Exposure {
                    path: "/dev/null".into(),
                    writable: true,
                },
            ])
            .collect()
    }
}

/// The confinement of one environment, built in Rampart before the process is started and
/// entered by the process between `fork` and `exec`.
pub struct Confinement {
    limits: Limits,
    landlock: Option<RulesetCreated>,
    filters: Vec<BpfProgram>,
}

fn io_error(what: &str, e: impl std::fmt::Display) -> std::io::Error {
    std::io::Error::other(format!("{what}: {e}"))
}

fn landlock_rules(reach: &Reach) -> std::io::Result<RulesetCreated> {
    let err = |e| io_error("Landlock", e);
    let read = AccessFs::from_read(LANDLOCK_ABI);
    let mut ruleset = Ruleset::default()
        .handle_access(AccessFs::from_all(LANDLOCK_ABI))
        .map_err(err)?
        .handle_access(AccessNet::from_all(LANDLOCK_ABI))
        .map_err(err)?
        .scope(Scope::from_all(LANDLOCK_ABI))
        .map_err(err)?
        .create()
        .map_err(err)?;
    let system = SYSTEM_READ_ONLY.iter().map(Path::new);
    for path in system.chain(reach.read_only.iter().map(PathBuf::as_path)) {
        // A directory this host does not have is simply not granted.
        if let Ok(fd) = PathFd::new(path) {
            ruleset = ruleset.add_rule(PathBeneath::new(fd, read)).map_err(err)?;
        }
    }
    for device in DEVICES {
        let access = match *device {
            "/dev/null" => AccessFs::ReadFile | AccessFs::WriteFile,
            _ => AccessFs::ReadFile.into(),
        };
        if let Ok(fd) = PathFd::new(device) {
            ruleset = ruleset
                .add_rule(PathBeneath::new(fd, access))
                .map_err(err)?;
        }
    }
    let tmp = PathFd::new(&reach.writable).map_err(|e| io_error("Landlock", e))?;
    ruleset = ruleset
        .add_rule(PathBeneath::new(tmp, AccessFs::from_all(LANDLOCK_ABI)))
        .map_err(err)?;
    for port in &reach.tcp_connect {
        ruleset = ruleset
            .add_rule(NetPort::new(*port, AccessNet::ConnectTcp))
            .map_err(err)?;
    }
    Ok(ruleset)
}

fn seccomp_filters() -> std::io::Result<Vec<BpfProgram>> {
    let err = |e| io_error("seccomp", e);
    let arch = TargetArch::try_from(std::env::consts::ARCH).map_err(err)?;
    let mut denied: BTreeMap<i64, Vec<SeccompRule>> =
        DENIED_SYSCALLS.iter().map(|n| (*n, Vec::new())).collect();
    let mut clone_rules = Vec::new();
    for flag in NAMESPACE_FLAGS {
        let flag = *flag as u64;
        let condition = SeccompCondition::new(
            0,
            SeccompCmpArgLen::Qword,
            SeccompCmpOp::MaskedEq(flag),
            flag,
        )
        .map_err(err)?;
        clone_rules.push(SeccompRule::new(vec![condition]).map_err(err)?);
    }
    denied.insert(libc::SYS_clone, clone_rules);
    let refuse = SeccompFilter::new(
        denied,
        SeccompAction::Allow,
        SeccompAction::Errno(libc::EPERM as u32),
        arch,
    )
    .map_err(err)?;
    let no_clone3 = SeccompFilter::new(
        BTreeMap::from([(libc::SYS_clone3, Vec::new())]),
        SeccompAction::Allow,
        SeccompAction::Errno(libc::ENOSYS as u32),
        arch,
    )
    .map_err(err)?;
    Ok(vec![
        refuse.try_into().map_err(err)?,
        no_clone3.try_into().map_err(err)?,
    ])
}

impl Confinement {
    /// Builds the rules of an environment with `limits` and `reach`.
    pub fn build(limits: Limits, reach: &Reach) -> std::io::Result<Self> {
        Ok(Confinement {
            limits,
            landlock: Some(landlock_rules(reach)?),
            filters: seccomp_filters()?,
        })
    }

    /// Sets the resource limits. Runs in the child between `clone` and `exec`, before it
    /// gives up root (a limit above Rampart's own hard limit needs privilege).
    pub fn enter_limits(&self) -> std::io::Result<()> {
        apply(&self.limits)
    }

    /// Enters the rules: death with Rampart, no new privileges, Landlock, seccomp. Runs in
    /// the child between `clone` and `exec`, after its user and group are set (changing them
    /// clears the parent-death signal): only system calls on what was built beforehand.
    pub fn enter_rules(&mut self) -> std::io::Result<()> {
        // SAFETY: prctl with these constant arguments only sets flags on the calling process.
        unsafe {
            check(libc::prctl(libc::PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0))?;
            // The environment dies with Rampart rather than outliving it unsupervised.
            check(libc::prctl(libc::PR_SET_PDEATHSIG, libc::SIGKILL, 0, 0, 0))?;
        }
        if let Some(ruleset) = self.landlock.take() {
            ruleset
                .restrict_self()
                .map_err(|_| std::io::Error::from_raw_os_error(libc::EPERM))?;
        }
        for filter in &self.filters {
            seccompiler::apply_filter(filter)
                .map_err(|_| std::io::Error::from_raw_os_error(libc::EPERM))?;
        }
        Ok(())
    }
}

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

/// Sets the limits of the calling process. Runs in the child between `clone` and `exec`:
/// only async-signal-safe calls, no allocation.
pub fn apply(limits: &Limits) -> std::io::Result<()> {
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
