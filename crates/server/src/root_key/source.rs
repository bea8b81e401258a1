//! Where the root key comes from: a keyring file (default `<data-dir>/root.key`), the
//! `RAMPART_ROOT_KEY` environment variable, or the standard output of `--root-key-cmd`.
//!
//! Every source yields a *keyring*: one key, or several during a rotation (newest first). The
//! forms, for a file or a command's output:
//!
//! * exactly 32 raw bytes — one key (the `master.key` of older installs is such a file);
//! * text: one key per line, `<key id> <base64 of 32 bytes>` or just `<base64>`; `#` starts a
//!   comment. The id, when given, must be the key's own (it catches a pasted wrong line).
//!
//! `RAMPART_ROOT_KEY` holds the text form; several keys may also be separated by commas.

use std::io::{Read, Write as _};
use std::os::unix::fs::{OpenOptionsExt, PermissionsExt};
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::sync::Mutex;
use std::time::{Duration, Instant};

use anyhow::{anyhow, bail, Context};
use base64::Engine;
use rampart_core::seal::KeySource;
use rampart_core::RootKey;
use zeroize::Zeroizing;

/// The environment variable a root key may be passed in.
pub const ROOT_KEY_ENV: &str = "RAMPART_ROOT_KEY";
/// How long `--root-key-cmd` may take.
const COMMAND_TIMEOUT: Duration = Duration::from_secs(30);

/// `RAMPART_ROOT_KEY` as the process found it; removed from the environment on capture.
static CAPTURED_ENV: Mutex<Option<Zeroizing<String>>> = Mutex::new(None);

/// Reads `RAMPART_ROOT_KEY` and removes it from the process environment, so that nothing this
/// process starts later (shell commands, functions) inherits it. `main` calls this before any
/// thread exists; later calls find nothing new.
pub fn capture_environment() {
    if let Some(value) = std::env::var_os(ROOT_KEY_ENV) {
        let value = Zeroizing::new(value.to_string_lossy().into_owned());
        wipe_environment_value();
        std::env::remove_var(ROOT_KEY_ENV);
        *CAPTURED_ENV.lock().unwrap_or_else(|e| e.into_inner()) = Some(value);
    }
}

/// Overwrites the variable's value where the C library keeps it. Unsetting alone only drops
/// the pointer: the bytes would stay in the environment block the kernel shows in
/// `/proc/<pid>/environ`.
fn wipe_environment_value() {
    let name = std::ffi::CString::new(ROOT_KEY_ENV).expect("no NUL in the name");
    // SAFETY: called before other threads exist (see `capture_environment`); `getenv`
    // returns a pointer to the NUL-terminated value inside the process's own, writable
    // environment strings, and exactly its `strlen` bytes are overwritten.
    unsafe {
        let value = libc::getenv(name.as_ptr());
        if !value.is_null() {
            std::ptr::write_bytes(value, 0, libc::strlen(value));
        }
    }
}

fn captured_env() -> Option<Zeroizing<String>> {
    capture_environment();
    CAPTURED_ENV
        .lock()
        .unwrap_or_else(|e| e.into_inner())
        .clone()
}

/// Which source this process takes its root keys from.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum SourceSpec {
    /// A keyring file. `adopted_legacy` marks `<data-dir>/master.key` of an older install,
    /// used because `root.key` does not exist (and renamed to it once it proved right).
    File { path: PathBuf, adopted_legacy: bool },
    /// `RAMPART_ROOT_KEY`.
    Environment,
    /// `--root-key-cmd`, run with `sh -c`.
    Command(String),
}

/// The default keyring file in a data directory.
pub fn default_file(data_dir: &Path) -> PathBuf {
    data_dir.join("root.key")
}

/// The key file of installs from before root keys had that name.
pub fn legacy_file(data_dir: &Path) -> PathBuf {
    data_dir.join("master.key")
}

impl SourceSpec {
    /// The source the options name, exactly one of them, or the data directory's key file.
    pub fn resolve(
        data_dir: &Path,
        root_key_file: Option<&Path>,
        deprecated_master_key_file: Option<&Path>,
        root_key_cmd: Option<&str>,
    ) -> anyhow::Result<SourceSpec> {
        let env = captured_env().is_some();
        let file = match (root_key_file, deprecated_master_key_file) {
            (Some(_), Some(_)) => {
                bail!("pass --root-key-file, not also --master-key-file (its deprecated name)")
            }
            (Some(path), None) => Some(path),
            (None, Some(path)) => {
                tracing::warn!("--master-key-file (RAMPART_MASTER_KEY_FILE) is deprecated; use --root-key-file (RAMPART_ROOT_KEY_FILE)");
                Some(path)
            }
            (None, None) => None,
        };
        let given =
            usize::from(file.is_some()) + usize::from(env) + usize::from(root_key_cmd.is_some());
        if given > 1 {
            bail!("the root key comes from one place: pass only one of --root-key-file, {ROOT_KEY_ENV}, --root-key-cmd");
        }
        Ok(if let Some(path) = file {
            SourceSpec::File {
                path: path.to_owned(),
                adopted_legacy: false,
            }
        } else if env {
            SourceSpec::Environment
        } else if let Some(cmd) = root_key_cmd {
            if cmd.trim().is_empty() {
                bail!("--root-key-cmd is empty");
            }
            SourceSpec::Command(cmd.to_owned())
        } else {
            let path = default_file(data_dir);
            let legacy = legacy_file(data_dir);
            if !path.exists() && legacy.exists() {
                SourceSpec::File {
                    path: legacy,
                    adopted_legacy: true,
                }
            } else {
                SourceSpec::File {
                    path,
                    adopted_legacy: false,
                }
            }
        })
    }

    /// How an operator names it, for messages.
    pub fn describe(&self) -> String {
        match self {
            SourceSpec::File { path, .. } => format!("the root key file {}", path.display()),
            SourceSpec::Environment => ROOT_KEY_ENV.to_owned(),
            SourceSpec::Command(_) => "the output of --root-key-cmd".to_owned(),
        }
    }

    /// The keys the source holds now; `Ok(None)` when the key file does not exist.
    pub fn load(&self) -> anyhow::Result<Option<Vec<RootKey>>> {
        match self {
            SourceSpec::File { path, .. } => load_file(path),
            SourceSpec::Environment => {
                let value = captured_env().ok_or_else(|| anyhow!("{ROOT_KEY_ENV} is not set"))?;
                let text = Zeroizing::new(value.replace(',', "\n"));
                parse_keyring(text.as_bytes())
                    .map(Some)
                    .map_err(|e| anyhow!("{ROOT_KEY_ENV}: {e}"))
            }
            SourceSpec::Command(cmd) => run_command(cmd)
                .and_then(|out| {
                    parse_keyring(&out).map_err(|e| anyhow!("the output of --root-key-cmd: {e}"))
                })
                .map(Some),
        }
    }

    /// The same source, for the keyring to re-read when it meets a key it does not hold. The
    /// environment cannot change under a running process, so it is not re-read.
    pub fn reloader(&self) -> Option<Box<dyn KeySource>> {
        match self {
            SourceSpec::Environment => None,
            other => Some(Box::new(Reloader(other.clone()))),
        }
    }
}

struct Reloader(SourceSpec);

impl KeySource for Reloader {
    fn load(&self) -> Result<Vec<RootKey>, String> {
        match self.0.load() {
            Ok(Some(keys)) => Ok(keys),
            Ok(None) => Err(format!("{} does not exist", self.0.describe())),
            Err(e) => Err(format!("{e:#}")),
        }
    }

    fn describe(&self) -> String {
        self.0.describe()
    }
}

fn load_file(path: &Path) -> anyhow::Result<Option<Vec<RootKey>>> {
    let mut file = match std::fs::File::open(path) {
        Ok(f) => f,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(None),
        Err(e) => return Err(e).with_context(|| format!("cannot read {}", path.display())),
    };
    let mode = file.metadata()?.permissions().mode();
    if mode & 0o077 != 0 {
        bail!(
            "{} is readable or writable by others (mode {:o}); chmod 600 it",
            path.display(),
            mode & 0o777
        );
    }
    let mut raw = Zeroizing::new(Vec::new());
    file.read_to_end(&mut raw)
        .with_context(|| format!("cannot read {}", path.display()))?;
    parse_keyring(&raw)
        .map(Some)
        .map_err(|e| anyhow!("{}: {e}", path.display()))
}

/// Runs `cmd` with `sh -c`, its standard output being the keyring. Its standard error goes to
/// ours (it is the command's own diagnostics); a failure or a timeout is an error.
fn run_command(cmd: &str) -> anyhow::Result<Zeroizing<Vec<u8>>> {
    let mut child = Command::new("sh")
        .arg("-c")
        .arg(cmd)
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::inherit())
        .spawn()
        .context("cannot run --root-key-cmd")?;
    let mut stdout = child.stdout.take().expect("piped");
    // Read on a thread so a command that never exits cannot hold us past the timeout.
    let reader = std::thread::spawn(move || {
        let mut out = Zeroizing::new(Vec::new());
        let _ = stdout.read_to_end(&mut out);
        out
    });
    let deadline = Instant::now() + COMMAND_TIMEOUT;
    let status = loop {
        if let Some(status) = child.try_wait()? {
            break status;
        }
        if Instant::now() > deadline {
            let _ = child.kill();
            let _ = child.wait();
            bail!(
                "--root-key-cmd did not finish within {} s",
                COMMAND_TIMEOUT.as_secs()
            );
        }
        std::thread::sleep(Duration::from_millis(10));
    };
    let out = reader
        .join()
        .map_err(|_| anyhow!("reading --root-key-cmd failed"))?;
    if !status.success() {
        bail!("--root-key-cmd failed ({status})");
    }
    Ok(out)
}

/// Parses a keyring in any of its forms (see the module documentation).
pub fn parse_keyring(raw: &[u8]) -> Result<Vec<RootKey>, String> {
    if raw.len() == 32 {
        return Ok(vec![RootKey::from_bytes(raw).map_err(|e| e.to_string())?]);
    }
    let text = std::str::from_utf8(raw)
        .map_err(|_| "not a root key: expected 32 raw bytes, or lines of base64".to_owned())?;
    let mut keys: Vec<RootKey> = Vec::new();
    for (n, line) in text.lines().enumerate() {
        let line = line.split('#').next().unwrap_or("").trim();
        if line.is_empty() {
            continue;
        }
        let fields: Vec<&str> = line.split_whitespace().collect();
        let (id, b64) = match fields.as_slice() {
            [b64] => (None, *b64),
            [id, b64] => (Some(*id), *b64),
            _ => return Err(format!("line {}: expected `<key id> <base64 key>`", n + 1)),
        };
        let bytes = Zeroizing::new(
            base64::engine::general_purpose::STANDARD
                .decode(b64)
                .map_err(|_| format!("line {}: not base64", n + 1))?,
        );
        let key = RootKey::from_bytes(&bytes).map_err(|_| {
            format!(
                "line {}: a root key is 32 bytes, this is {}",
                n + 1,
                bytes.len()
            )
        })?;
        if let Some(id) = id {
            if id != key.id().to_string() {
                return Err(format!(
                    "line {}: the key id {id} is not this key's (its id is {})",
                    n + 1,
                    key.id()
                ));
            }
        }
        if keys.iter().all(|k| k.id() != key.id()) {
            keys.push(key);
        }
    }
    if keys.is_empty() {
        return Err("holds no root key".into());
    }
    Ok(keys)
}

/// The text form of a keyring file.
pub fn format_keyring<'a>(keys: impl IntoIterator<Item = &'a RootKey>) -> Zeroizing<String> {
    let mut out = Zeroizing::new(String::from(
        "# Rampart root keyring. Keep it private (mode 0600) and never in the store or its\n\
         # backups. Every key listed opens the values sealed under it; the store records which\n\
         # one seals. One key per line: <key id> <base64 of 32 bytes>.\n",
    ));
    for key in keys {
        let b64 =
            Zeroizing::new(base64::engine::general_purpose::STANDARD.encode(key.expose_bytes()));
        out.push_str(&format!("{} {}\n", key.id(), b64.as_str()));
    }
    out
}

/// Writes a keyring file atomically (a 0600 temporary file renamed over `path`), so that a
/// reader — a server re-reading its key source — sees the old keyring or the new, never half.
pub fn write_keyring_file<'a>(
    path: &Path,
    keys: impl IntoIterator<Item = &'a RootKey>,
) -> anyhow::Result<()> {
    let text = format_keyring(keys);
    let dir = path
        .parent()
        .filter(|p| !p.as_os_str().is_empty())
        .unwrap_or(Path::new("."));
    let name = path
        .file_name()
        .ok_or_else(|| anyhow!("{} is not a file name", path.display()))?;
    let tmp = dir.join(format!(
        ".{}.tmp-{}",
        name.to_string_lossy(),
        uuid::Uuid::new_v4().simple()
    ));
    let result = (|| {
        let mut file = std::fs::OpenOptions::new()
            .write(true)
            .create_new(true)
            .mode(0o600)
            .open(&tmp)
            .with_context(|| format!("cannot create {}", tmp.display()))?;
        file.write_all(text.as_bytes())?;
        file.sync_all()?;
        std::fs::rename(&tmp, path)
            .with_context(|| format!("cannot replace {}", path.display()))?;
        // The rename is durable once the directory is.
        std::fs::File::open(dir)?.sync_all()?;
        anyhow::Ok(())
    })();
    if result.is_err() {
        let _ = std::fs::remove_file(&tmp);
    }
    result
}

/// Creates a keyring file holding `key`; refuses to replace an existing file.
pub fn create_keyring_file(path: &Path, key: &RootKey) -> anyhow::Result<()> {
    let text = format_keyring([key]);
    let mut file = std::fs::OpenOptions::new()
        .write(true)
        .create_new(true)
        .mode(0o600)
        .open(path)
        .with_context(|| format!("cannot create {}", path.display()))?;
    file.write_all(text.as_bytes())?;
    file.sync_all()?;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn keyring_forms() {
        let a = RootKey::generate();
        let b = RootKey::generate();
        let raw = parse_keyring(a.expose_bytes()).unwrap();
        assert_eq!(raw[0].id(), a.id());
        let text = format_keyring([&a, &b]);
        let parsed = parse_keyring(text.as_bytes()).unwrap();
        assert_eq!(
            parsed.iter().map(|k| k.id()).collect::<Vec<_>>(),
            vec![a.id(), b.id()]
        );
        let bare = base64::engine::general_purpose::STANDARD.encode(b.expose_bytes());
        assert_eq!(
            parse_keyring(format!("{bare}\n").as_bytes()).unwrap()[0].id(),
            b.id()
        );
        // A line whose id is not its key's is refused, as are short keys and empty keyrings.
        let wrong = format!("{} {bare}\n", a.id());
        assert!(parse_keyring(wrong.as_bytes())
            .unwrap_err()
            .contains("not this key's"));
        assert!(parse_keyring(b"AAAA\n").is_err());
        assert!(parse_keyring(b"# nothing\n\n").is_err());
        assert!(parse_keyring(&[0xff; 33]).is_err());
        assert!(parse_keyring(b"a b c\n").is_err());
    }

    #[test]
    fn keyring_files_are_private_and_replaced_atomically() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("root.key");
        let a = RootKey::generate();
        create_keyring_file(&path, &a).unwrap();
        assert!(create_keyring_file(&path, &a).is_err());
        assert_eq!(
            std::fs::metadata(&path).unwrap().permissions().mode() & 0o777,
            0o600
        );
        let b = RootKey::generate();
        write_keyring_file(&path, [&b, &a]).unwrap();
        assert_eq!(
            std::fs::metadata(&path).unwrap().permissions().mode() & 0o777,
            0o600
        );
        let ids: Vec<_> = load_file(&path)
            .unwrap()
            .unwrap()
            .iter()
            .map(|k| k.id())
            .collect();
        assert_eq!(ids, vec![b.id(), a.id()]);
        assert_eq!(
            std::fs::read_dir(dir.path()).unwrap().count(),
            1,
            "no temporary file left"
        );
        std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o640)).unwrap();
        assert!(load_file(&path)
            .unwrap_err()
            .to_string()
            .contains("chmod 600"));
        assert!(load_file(&dir.path().join("absent")).unwrap().is_none());
    }

    #[test]
    fn exactly_one_source_and_the_legacy_file() {
        let dir = tempfile::tempdir().unwrap();
        let d = dir.path();
        let file = |path: PathBuf, adopted_legacy| SourceSpec::File {
            path,
            adopted_legacy,
        };
        assert_eq!(
            SourceSpec::resolve(d, None, None, None).unwrap(),
            file(d.join("root.key"), false)
        );
        // An older install's master.key is adopted while root.key does not exist.
        std::fs::write(d.join("master.key"), [0u8; 32]).unwrap();
        assert_eq!(
            SourceSpec::resolve(d, None, None, None).unwrap(),
            file(d.join("master.key"), true)
        );
        std::fs::write(d.join("root.key"), "").unwrap();
        assert_eq!(
            SourceSpec::resolve(d, None, None, None).unwrap(),
            file(d.join("root.key"), false)
        );
        // --master-key-file is the deprecated name of --root-key-file.
        let other = d.join("other.key");
        assert_eq!(
            SourceSpec::resolve(d, None, Some(&other), None).unwrap(),
            file(other.clone(), false)
        );
        assert!(SourceSpec::resolve(d, Some(&other), Some(&other), None).is_err());
        assert!(SourceSpec::resolve(d, Some(&other), None, Some("cat k")).is_err());
        assert!(SourceSpec::resolve(d, None, None, Some("  ")).is_err());
        assert_eq!(
            SourceSpec::resolve(d, None, None, Some("cat k")).unwrap(),
            SourceSpec::Command("cat k".into())
        );
    }

    #[test]
    fn commands_yield_keys_and_fail_cleanly() {
        let key = RootKey::generate();
        let b64 = base64::engine::general_purpose::STANDARD.encode(key.expose_bytes());
        let spec = SourceSpec::Command(format!("printf '%s\\n' {b64}"));
        assert_eq!(spec.load().unwrap().unwrap()[0].id(), key.id());
        assert!(SourceSpec::Command("exit 3".into()).load().is_err());
        assert!(SourceSpec::Command("echo not-a-key".into()).load().is_err());
    }
}
