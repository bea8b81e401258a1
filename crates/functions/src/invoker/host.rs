//! This node's side of running functions: its directories under `<data-dir>/functions`, the
//! Python runtime loop Rampart ships and whether the host's Python has `awslambdaric`, and
//! the port environments may reach Rampart on.

use std::path::{Path, PathBuf};
use std::time::Duration;

use super::Invoker;
use crate::code;
use crate::error::FunctionsError;
use crate::runtimes::PYTHON_BOOTSTRAP;

impl Invoker {
    pub(super) fn code_root(&self) -> PathBuf {
        self.host.root.join("code")
    }

    pub(super) fn runtimes_dir(&self) -> PathBuf {
        self.host.root.join("runtimes")
    }

    /// Forgets the private directories of environments of an earlier run. Nothing is written
    /// at start: the directories are made when a function first runs here.
    pub fn prepare_host(&self) -> std::io::Result<()> {
        let tmp = self.host.root.join("tmp");
        if tmp.exists() {
            code::remove_tree(&tmp);
        }
        Ok(())
    }

    /// This node's directories (`<root>` 0711; `code`, `tmp`, `runtimes`), made on first use.
    pub(super) fn host_dirs(&self) -> std::io::Result<()> {
        use std::os::unix::fs::PermissionsExt;
        if !self.host.root.is_dir() {
            std::fs::create_dir_all(&self.host.root)?;
            std::fs::set_permissions(&self.host.root, std::fs::Permissions::from_mode(0o711))?;
        }
        for dir in [
            self.code_root(),
            self.runtimes_dir(),
            self.host.root.join("tmp"),
            self.host.root.join("jail"),
        ] {
            std::fs::create_dir_all(dir)?;
        }
        Ok(())
    }

    /// The Python runtime loop Rampart ships, written (read-only) once per process.
    pub(super) async fn python_bootstrap(&self) -> Result<PathBuf, FunctionsError> {
        use std::os::unix::fs::PermissionsExt;
        let path = self.runtimes_dir().join("python_bootstrap.py");
        self.bootstrap_written
            .get_or_try_init(|| async {
                let staged = self.runtimes_dir().join(".python_bootstrap.py.new");
                let _ = std::fs::remove_file(&staged);
                std::fs::write(&staged, PYTHON_BOOTSTRAP)?;
                std::fs::set_permissions(&staged, std::fs::Permissions::from_mode(0o444))?;
                std::fs::rename(&staged, &path)
            })
            .await
            .map_err(|e| {
                FunctionsError::Service(format!("The Python runtime cannot be written: {e}"))
            })?;
        Ok(path)
    }

    pub(super) async fn python_has_ric(&self) -> bool {
        *self
            .python_ric
            .get_or_init(|| async {
                let probe = tokio::process::Command::new(&self.host.python)
                    .args(["-c", "import awslambdaric"])
                    .env_clear()
                    .stdin(std::process::Stdio::null())
                    .stdout(std::process::Stdio::null())
                    .stderr(std::process::Stdio::null())
                    .kill_on_drop(true)
                    .status();
                matches!(
                    tokio::time::timeout(Duration::from_secs(20), probe).await,
                    Ok(Ok(status)) if status.success()
                )
            })
            .await
    }
}

/// The port of `http(s)://host:port[/…]` (or the scheme's default).
pub(super) fn endpoint_port(endpoint: &str) -> Option<u16> {
    let (scheme, rest) = endpoint.split_once("://")?;
    let authority = rest.split('/').next()?;
    match authority.rsplit_once(':') {
        Some((_, port)) if !port.ends_with(']') => port.parse().ok(),
        _ => Some(if scheme == "https" { 443 } else { 80 }),
    }
}

pub(super) fn create_private_dir(dir: &Path) -> std::io::Result<()> {
    use std::os::unix::fs::{DirBuilderExt, PermissionsExt};
    std::fs::DirBuilder::new().mode(0o700).create(dir)?;
    std::fs::set_permissions(dir, std::fs::Permissions::from_mode(0o700))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn endpoint_ports() {
        assert_eq!(endpoint_port("http://127.0.0.1:4566"), Some(4566));
        assert_eq!(endpoint_port("https://[::1]:8443/"), Some(8443));
        assert_eq!(endpoint_port("https://rampart.example"), Some(443));
        assert_eq!(endpoint_port("http://[::1]"), Some(80));
        assert_eq!(endpoint_port("nonsense"), None);
    }
}
