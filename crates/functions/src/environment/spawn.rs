//! Starting an environment's process, and waiting for it.
//!
//! Hand-written over `clone(2)` because neither std's nor tokio's `Command` can start a child
//! *in* a new PID namespace: `unshare(CLONE_NEWPID)` in `pre_exec` only moves the child's
//! children, which would leave a fork of Rampart (its whole memory, copy-on-write) waiting
//! above every environment. Here the process Rampart starts is itself PID 1 of its namespace:
//! killing it ends every process the function started, even ones that left its process group.
//!
//! Between `clone` and `execve` the child runs on a copy of Rampart's memory with one thread,
//! so it makes only system calls on what was prepared before the clone — no allocation, no
//! lock — and uses raw system calls where glibc would act on other threads (`setresuid`
//! broadcasts to every thread glibc knows of, threads the child does not have). A failure is
//! written to a close-on-exec pipe as (stage, errno); end of file means `execve` succeeded.

use std::ffi::{CString, NulError};
use std::io;
use std::os::fd::{AsRawFd, FromRawFd, OwnedFd, RawFd};
use std::os::unix::process::ExitStatusExt;
use std::process::ExitStatus;

use tokio::io::unix::AsyncFd;
use tokio::io::AsyncReadExt;
use zeroize::Zeroizing;

use super::jail::Jail;
use super::sandbox::Confinement;

/// Where the child stopped before `execve`, for the error Rampart reports.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[repr(u32)]
pub enum Stage {
    Clone = 0,
    Stdio = 1,
    Jail = 2,
    WorkingDirectory = 3,
    Identity = 4,
    Confinement = 5,
    Exec = 6,
}

impl Stage {
    fn from_u32(n: u32) -> Self {
        match n {
            1 => Stage::Stdio,
            2 => Stage::Jail,
            3 => Stage::WorkingDirectory,
            4 => Stage::Identity,
            5 => Stage::Confinement,
            6 => Stage::Exec,
            _ => Stage::Clone,
        }
    }

    pub fn as_str(self) -> &'static str {
        match self {
            Stage::Clone => "clone",
            Stage::Stdio => "standard streams",
            Stage::Jail => "namespaces and mounts",
            Stage::WorkingDirectory => "working directory",
            Stage::Identity => "user and group",
            Stage::Confinement => "limits, Landlock and seccomp",
            Stage::Exec => "exec",
        }
    }
}

/// Why a process did not start.
#[derive(Debug)]
pub struct SpawnError {
    pub stage: Stage,
    pub error: io::Error,
}

impl std::fmt::Display for SpawnError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{}: {}", self.stage.as_str(), self.error)
    }
}

/// A user and group an environment runs as instead of Rampart's.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Identity {
    pub uid: u32,
    pub gid: u32,
}

/// Everything the child needs, prepared before the clone.
pub struct Spawn {
    program: CString,
    argv: Vec<CString>,
    /// `NAME=value`, NUL-terminated: credentials among them, wiped when dropped.
    envp: Vec<Zeroizing<Vec<u8>>>,
    cwd: CString,
    stdout: OwnedFd,
    stderr: OwnedFd,
    stdin: OwnedFd,
    /// Namespaces, the environment's own root and identity; `None` runs in Rampart's.
    pub jail: Option<(Jail, Identity)>,
    pub confinement: Confinement,
}

fn nul(e: NulError) -> io::Error {
    io::Error::new(io::ErrorKind::InvalidInput, e)
}

impl Spawn {
    pub fn new(
        program: &std::path::Path,
        args: &[String],
        variables: &[(String, Zeroizing<String>)],
        cwd: &std::path::Path,
        stdout: OwnedFd,
        stderr: OwnedFd,
        confinement: Confinement,
    ) -> io::Result<Self> {
        use std::os::unix::ffi::OsStrExt;
        let program = CString::new(program.as_os_str().as_bytes()).map_err(nul)?;
        let mut argv = vec![program.clone()];
        for a in args {
            argv.push(CString::new(a.as_bytes()).map_err(nul)?);
        }
        let mut envp = Vec::with_capacity(variables.len());
        for (name, value) in variables {
            if name.contains(['=', '\0']) || value.contains('\0') {
                return Err(io::Error::new(
                    io::ErrorKind::InvalidInput,
                    "an environment variable holds '=' in its name or a NUL",
                ));
            }
            let mut entry = Zeroizing::new(Vec::with_capacity(name.len() + value.len() + 2));
            entry.extend_from_slice(name.as_bytes());
            entry.push(b'=');
            entry.extend_from_slice(value.as_bytes());
            entry.push(0);
            envp.push(entry);
        }
        let stdin = std::fs::File::open("/dev/null")?.into();
        Ok(Spawn {
            program,
            argv,
            envp,
            cwd: CString::new(cwd.as_os_str().as_bytes()).map_err(nul)?,
            stdout: above_stdio(stdout)?,
            stderr: above_stdio(stderr)?,
            stdin: above_stdio(stdin)?,
            jail: None,
            confinement,
        })
    }

    /// Starts the process. With a jail it is PID 1 of new PID, mount and IPC namespaces, in a
    /// root of its own, as the jail's identity.
    pub async fn start(mut self) -> Result<Process, SpawnError> {
        let at = |stage| move |error| SpawnError { stage, error };
        let (report_read, report_write) = pipe().map_err(at(Stage::Clone))?;
        let pid = self.clone_child(&report_write);
        drop(report_write);
        if pid < 0 {
            return Err(SpawnError {
                stage: Stage::Clone,
                error: io::Error::last_os_error(),
            });
        }
        let pid = pid as libc::pid_t;
        // Wait for exec (end of file) or the child's report of why it stopped.
        let mut report = [0u8; 8];
        let mut got = 0;
        let mut receiver = tokio::net::unix::pipe::Receiver::from_owned_fd(report_read)
            .map_err(at(Stage::Clone))?;
        while got < report.len() {
            match receiver.read(&mut report[got..]).await {
                Ok(0) => break,
                Ok(n) => got += n,
                Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
                Err(e) => {
                    kill_and_reap(pid);
                    return Err(SpawnError {
                        stage: Stage::Clone,
                        error: e,
                    });
                }
            }
        }
        if got == report.len() {
            let stage = u32::from_ne_bytes(report[..4].try_into().unwrap_or_default());
            let errno = i32::from_ne_bytes(report[4..].try_into().unwrap_or_default());
            kill_and_reap(pid);
            return Err(SpawnError {
                stage: Stage::from_u32(stage),
                error: io::Error::from_raw_os_error(errno),
            });
        }
        Process::watch(pid).map_err(|error| {
            kill_and_reap(pid);
            SpawnError {
                stage: Stage::Clone,
                error,
            }
        })
    }
}

impl Spawn {
    /// Clones the child, which runs [`child`] and never comes back; answers its pid (or -1).
    fn clone_child(&mut self, report_write: &OwnedFd) -> libc::c_long {
        let argv: Vec<*const libc::c_char> = self
            .argv
            .iter()
            .map(|a| a.as_ptr())
            .chain([std::ptr::null()])
            .collect();
        let envp: Vec<*const libc::c_char> = self
            .envp
            .iter()
            .map(|e| e.as_ptr().cast())
            .chain([std::ptr::null()])
            .collect();
        let flags = match self.jail {
            Some(_) => libc::CLONE_NEWPID | libc::CLONE_NEWNS | libc::CLONE_NEWIPC,
            None => 0,
        };
        // SAFETY: a clone without CLONE_VM is a fork: the child gets a copy of this memory and
        // runs only `child`, which never returns (it execs or exits).
        let pid = unsafe {
            libc::syscall(
                libc::SYS_clone,
                (flags | libc::SIGCHLD) as libc::c_ulong,
                0usize,
                0usize,
                0usize,
                0usize,
            )
        };
        if pid == 0 {
            // SAFETY: in the child, before exec; see `child`.
            unsafe { child(self, &argv, &envp, report_write.as_raw_fd()) }
        }
        pid
    }
}

/// `fd`, moved above 0-2 if it is one of them (Rampart may run with its standard streams
/// closed), so that placing the child's streams never overwrites another of them.
fn above_stdio(fd: OwnedFd) -> io::Result<OwnedFd> {
    if fd.as_raw_fd() > 2 {
        return Ok(fd);
    }
    // SAFETY: F_DUPFD_CLOEXEC makes a new descriptor numbered 3 or more for an open one.
    let moved = unsafe { libc::fcntl(fd.as_raw_fd(), libc::F_DUPFD_CLOEXEC, 3) };
    if moved < 0 {
        return Err(io::Error::last_os_error());
    }
    // SAFETY: the descriptor was just created and is ours.
    Ok(unsafe { OwnedFd::from_raw_fd(moved) })
}

/// A close-on-exec, non-blocking pipe (read end, write end).
fn pipe() -> io::Result<(OwnedFd, OwnedFd)> {
    let mut fds = [0 as RawFd; 2];
    // SAFETY: pipe2 writes two descriptors into the array we pass.
    if unsafe { libc::pipe2(fds.as_mut_ptr(), libc::O_CLOEXEC | libc::O_NONBLOCK) } != 0 {
        return Err(io::Error::last_os_error());
    }
    // SAFETY: both descriptors were just created and are owned by nobody else.
    Ok(unsafe { (OwnedFd::from_raw_fd(fds[0]), OwnedFd::from_raw_fd(fds[1])) })
}

/// The child's side, from clone to exec. Runs on one thread of a copy of Rampart's memory:
/// system calls only, on what `spawn` prepared.
///
/// # Safety
/// Only to be called in the child of `clone`, which it never returns from.
unsafe fn child(
    spawn: &mut Spawn,
    argv: &[*const libc::c_char],
    envp: &[*const libc::c_char],
    report: RawFd,
) -> ! {
    let fail = |stage: Stage, errno: i32| -> ! {
        let mut bytes = [0u8; 8];
        bytes[..4].copy_from_slice(&(stage as u32).to_ne_bytes());
        bytes[4..].copy_from_slice(&errno.to_ne_bytes());
        libc::write(report, bytes.as_ptr().cast(), bytes.len());
        libc::_exit(127)
    };
    let errno = || {
        io::Error::last_os_error()
            .raw_os_error()
            .unwrap_or(libc::EIO)
    };
    // Rust ignores SIGPIPE; the runtime gets the default, as any program started from a shell.
    libc::signal(libc::SIGPIPE, libc::SIG_DFL);
    let mut no_signals: libc::sigset_t = std::mem::zeroed();
    libc::sigemptyset(&mut no_signals);
    libc::sigprocmask(libc::SIG_SETMASK, &no_signals, std::ptr::null_mut());
    // Its own process group (the whole tree is signalled at once).
    if libc::setpgid(0, 0) != 0 {
        fail(Stage::Clone, errno());
    }
    for (fd, target) in [
        (spawn.stdin.as_raw_fd(), 0),
        (spawn.stdout.as_raw_fd(), 1),
        (spawn.stderr.as_raw_fd(), 2),
    ] {
        if libc::dup2(fd, target) < 0 {
            fail(Stage::Stdio, errno());
        }
    }
    if let Some((jail, _)) = &spawn.jail {
        if let Err(e) = jail.enter() {
            fail(Stage::Jail, e);
        }
    }
    if libc::chdir(spawn.cwd.as_ptr()) != 0 {
        fail(Stage::WorkingDirectory, errno());
    }
    // Limits are set while still privileged: lowering a limit never needs privilege, but one
    // above Rampart's own hard limit would.
    if let Err(e) = spawn.confinement.enter_limits() {
        fail(Stage::Confinement, e.raw_os_error().unwrap_or(libc::EPERM));
    }
    if let Some((_, identity)) = &spawn.jail {
        // Raw system calls: glibc's wrappers would signal threads this process does not have.
        let gid = identity.gid as libc::c_long;
        let uid = identity.uid as libc::c_long;
        let groups = [identity.gid];
        if libc::syscall(libc::SYS_setgroups, 1 as libc::c_long, groups.as_ptr()) != 0
            || libc::syscall(libc::SYS_setresgid, gid, gid, gid) != 0
            || libc::syscall(libc::SYS_setresuid, uid, uid, uid) != 0
        {
            fail(Stage::Identity, errno());
        }
    }
    // After the identity change, which clears the parent-death signal.
    if let Err(e) = spawn.confinement.enter_rules() {
        fail(Stage::Confinement, e.raw_os_error().unwrap_or(libc::EPERM));
    }
    libc::execve(spawn.program.as_ptr(), argv.as_ptr(), envp.as_ptr());
    fail(Stage::Exec, errno())
}

/// Kills a child that failed to start (or is abandoned) and reaps it.
fn kill_and_reap(pid: libc::pid_t) {
    // SAFETY: signals and waits for our own child; no memory is shared.
    unsafe {
        libc::kill(pid, libc::SIGKILL);
        let mut status = 0;
        libc::waitpid(pid, &mut status, 0);
    }
}

/// A started process: its pid and a pidfd that becomes readable when it exits. Dropping it
/// kills the process (for PID 1 of a namespace: every process in it) and reaps it.
pub struct Process {
    pid: libc::pid_t,
    exited: AsyncFd<OwnedFd>,
    status: Option<ExitStatus>,
}

impl Process {
    fn watch(pid: libc::pid_t) -> io::Result<Self> {
        // SAFETY: pidfd_open takes a pid and flags and answers a new descriptor.
        let fd = unsafe { libc::syscall(libc::SYS_pidfd_open, pid, 0 as libc::c_uint) };
        if fd < 0 {
            return Err(io::Error::last_os_error());
        }
        // SAFETY: the descriptor was just created and is ours.
        let fd = unsafe { OwnedFd::from_raw_fd(fd as RawFd) };
        Ok(Process {
            pid,
            // SAFETY: the descriptor is owned by the AsyncFd, so it stays open while registered.
            exited: unsafe { AsyncFd::register_with_interest(fd, tokio::io::Interest::READABLE) }?,
            status: None,
        })
    }

    /// Its pid (in Rampart's namespace), which is also its process group.
    pub fn id(&self) -> i32 {
        self.pid
    }

    /// Its exit status if it has exited (reaping it), without waiting.
    pub fn try_wait(&mut self) -> io::Result<Option<ExitStatus>> {
        if self.status.is_none() {
            self.status = reap(self.pid)?;
        }
        Ok(self.status)
    }

    /// Waits until it exits. Cancel-safe.
    pub async fn wait(&mut self) -> io::Result<ExitStatus> {
        loop {
            if let Some(status) = self.try_wait()? {
                return Ok(status);
            }
            let mut ready = self.exited.readable().await?;
            match reap(self.pid)? {
                Some(status) => {
                    self.status = Some(status);
                    return Ok(status);
                }
                None => ready.clear_ready(),
            }
        }
    }
}

/// The exit status of our child `pid` if it has exited (reaping it), without waiting.
fn reap(pid: libc::pid_t) -> io::Result<Option<ExitStatus>> {
    let mut status = 0;
    // SAFETY: waits without blocking for our own child.
    match unsafe { libc::waitpid(pid, &mut status, libc::WNOHANG) } {
        0 => Ok(None),
        n if n == pid => Ok(Some(ExitStatus::from_raw(status))),
        _ => Err(io::Error::last_os_error()),
    }
}

impl Drop for Process {
    fn drop(&mut self) {
        if self.status.is_some() {
            return;
        }
        // SAFETY: signals our own child and reaps it if it is already gone.
        let reaped = unsafe {
            libc::kill(self.pid, libc::SIGKILL);
            let mut status = 0;
            libc::waitpid(self.pid, &mut status, libc::WNOHANG) == self.pid
        };
        if !reaped {
            // Killed but not yet gone: a short-lived thread reaps it so no zombie is left.
            let pid = self.pid;
            let _ = std::thread::Builder::new()
                .name("reap-environment".into())
                .spawn(move || kill_and_reap(pid));
        }
    }
}
