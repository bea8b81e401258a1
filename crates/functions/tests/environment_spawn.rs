//! Starting environment processes: exit statuses, exec failures reported as such, and — when
//! the tests run as root — a jailed process that is PID 1 of its own namespace, runs as the
//! given uid in a root showing only what it was given, and takes every process it started
//! with it when dropped.

use std::os::fd::OwnedFd;
use std::path::{Path, PathBuf};
use std::time::Duration;

use rampart_functions::environment::jail::Jail;
use rampart_functions::environment::sandbox::{Confinement, Limits, Reach};
use rampart_functions::environment::spawn::{Identity, Process, Spawn, SpawnError, Stage};
use zeroize::Zeroizing;

fn is_root() -> bool {
    // SAFETY: geteuid only reads the process's effective uid.
    unsafe { libc::geteuid() == 0 }
}

/// `sh -c script` with TMPDIR = `tmp`, jailed as `identity` when given; its output to a file.
async fn start(
    script: &str,
    tmp: &Path,
    identity: Option<Identity>,
    out: &Path,
) -> Result<Process, SpawnError> {
    let reach = Reach {
        read_only: Vec::new(),
        writable: tmp.to_path_buf(),
        tcp_connect: Vec::new(),
    };
    let confinement = Confinement::build(Limits::for_memory(512), &reach).unwrap();
    let out: OwnedFd = std::fs::File::create(out).unwrap().into();
    let variables = vec![
        (
            "PATH".to_owned(),
            Zeroizing::new("/usr/bin:/bin".to_owned()),
        ),
        (
            "TMPDIR".to_owned(),
            Zeroizing::new(tmp.display().to_string()),
        ),
    ];
    let mut spawn = Spawn::new(
        Path::new("/bin/sh"),
        &["-c".to_owned(), script.to_owned()],
        &variables,
        tmp,
        out.try_clone().unwrap(),
        out,
        confinement,
    )
    .unwrap();
    if let Some(id) = identity {
        std::os::unix::fs::chown(tmp, Some(id.uid), Some(id.gid)).unwrap();
        let jail_dir = tmp.parent().unwrap().join("jail");
        std::fs::create_dir_all(&jail_dir).unwrap();
        spawn.jail = Some((Jail::plan(&jail_dir, &reach.exposures()).unwrap(), id));
    }
    spawn.start().await
}

fn dirs() -> (tempfile::TempDir, PathBuf, PathBuf) {
    let root = tempfile::tempdir().unwrap();
    let tmp = root.path().join("tmp");
    std::fs::create_dir(&tmp).unwrap();
    let out = root.path().join("out");
    (root, tmp, out)
}

#[tokio::test]
async fn answers_the_exit_status() {
    let (_root, tmp, out) = dirs();
    let mut p = start("echo hi; exit 3", &tmp, None, &out).await.unwrap();
    let status = tokio::time::timeout(Duration::from_secs(10), p.wait())
        .await
        .unwrap()
        .unwrap();
    assert_eq!(status.code(), Some(3));
    assert_eq!(std::fs::read_to_string(&out).unwrap(), "hi\n");
    // Asked again, the same status.
    assert_eq!(p.try_wait().unwrap().unwrap().code(), Some(3));
}

#[tokio::test]
async fn a_program_that_cannot_run_is_an_exec_failure() {
    let (_root, tmp, _) = dirs();
    let reach = Reach {
        read_only: Vec::new(),
        writable: tmp.clone(),
        tcp_connect: Vec::new(),
    };
    let confinement = Confinement::build(Limits::for_memory(128), &reach).unwrap();
    let null: OwnedFd = std::fs::File::create("/dev/null").unwrap().into();
    let spawn = Spawn::new(
        &tmp.join("no-such-bootstrap"),
        &[],
        &[],
        &tmp,
        null.try_clone().unwrap(),
        null,
        confinement,
    )
    .unwrap();
    let Err(e) = spawn.start().await else {
        panic!("a missing program started");
    };
    assert_eq!(e.stage, Stage::Exec);
    assert_eq!(e.error.raw_os_error(), Some(libc::ENOENT));
}

const JAILED_ID: Identity = Identity {
    uid: 3_000_000_901,
    gid: 3_000_000_901,
};

#[tokio::test]
async fn jailed_pid_1_as_its_uid_in_a_root_of_its_own() {
    if !is_root() {
        eprintln!("skipped: jails need root");
        return;
    }
    let (root, tmp, out) = dirs();
    let secret = root.path().join("secret");
    std::fs::write(&secret, "s").unwrap();
    let script = format!(
        "echo pid=$$ uid=$(id -u) gid=$(id -g); \
         test -e /proc/1 && echo proc; test -e {} && echo secret; \
         echo x > $TMPDIR/mine && echo wrote; touch /usr/injected 2>/dev/null && echo usr; true",
        secret.display()
    );
    let mut p = start(&script, &tmp, Some(JAILED_ID), &out).await.unwrap();
    let status = tokio::time::timeout(Duration::from_secs(10), p.wait())
        .await
        .unwrap()
        .unwrap();
    assert!(status.success(), "{status:?}");
    let said = std::fs::read_to_string(&out).unwrap();
    assert_eq!(said, "pid=1 uid=3000000901 gid=3000000901\nwrote\n");
    assert!(tmp.join("mine").exists());
}

fn processes_of(uid: u32) -> Vec<u32> {
    std::fs::read_dir("/proc")
        .unwrap()
        .flatten()
        .filter_map(|e| e.file_name().to_str()?.parse::<u32>().ok())
        .filter(|pid| {
            std::fs::read_to_string(format!("/proc/{pid}/status"))
                .ok()
                .and_then(|s| {
                    s.lines()
                        .find(|l| l.starts_with("Uid:"))
                        .and_then(|l| l.split_whitespace().nth(1)?.parse::<u32>().ok())
                })
                == Some(uid)
        })
        .collect()
}

#[tokio::test]
async fn dropping_a_jailed_process_ends_everything_it_started() {
    if !is_root() {
        eprintln!("skipped: jails need root");
        return;
    }
    let id = Identity {
        uid: 3_000_000_902,
        gid: 3_000_000_902,
    };
    let (_root, tmp, out) = dirs();
    // One child in its group, one that left it (its own session), then wait forever.
    let p = start(
        "sleep 1000 & setsid sleep 1000 & echo started; wait",
        &tmp,
        Some(id),
        &out,
    )
    .await
    .unwrap();
    let deadline = std::time::Instant::now() + Duration::from_secs(10);
    while processes_of(id.uid).len() < 3 {
        assert!(std::time::Instant::now() < deadline, "never started");
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    drop(p);
    let deadline = std::time::Instant::now() + Duration::from_secs(10);
    while !processes_of(id.uid).is_empty() {
        assert!(
            std::time::Instant::now() < deadline,
            "left running: {:?}",
            processes_of(id.uid)
        );
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}
