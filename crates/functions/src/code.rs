//! Deployment packages: a zip read and checked once when it is uploaded (every entry must
//! stay inside the code directory, no links, sizes within Lambda's quotas), its digest, and
//! unpacking it read-only into the directory execution environments start from.

use std::io::{Cursor, Read, Write as _};
use std::os::unix::fs::{OpenOptionsExt, PermissionsExt};
use std::path::{Component, Path, PathBuf};

use aws_lc_rs::digest;
use base64::engine::general_purpose::STANDARD;
use base64::Engine;

use crate::error::FunctionsError;

/// The largest zip accepted in `Code.ZipFile` (AWS: 50 MB zipped, direct upload).
pub const MAX_ZIPPED_BYTES: usize = 50 * 1024 * 1024;
/// The largest unpacked package (AWS: 250 MB).
pub const MAX_UNZIPPED_BYTES: u64 = 250 * 1024 * 1024;
/// Entries one package may hold, so a package cannot exhaust inodes.
const MAX_ENTRIES: usize = 100_000;

/// A zip that was read entry by entry and found safe to unpack.
#[derive(Debug, Clone)]
pub struct DeploymentPackage {
    pub zip: Vec<u8>,
    /// Base64 SHA-256 of the zip (`CodeSha256`).
    pub sha256: String,
    /// Hex of the same digest: the unpacked directory's name.
    pub sha256_hex: String,
}

fn unzip_failed() -> FunctionsError {
    FunctionsError::InvalidParameterValue(
        "Could not unzip uploaded file. Please check your file, then try to upload again.".into(),
    )
}

impl DeploymentPackage {
    /// Reads `zip`: refuses what is not a zip, entries that would land outside the code
    /// directory (`../`, absolute paths), links, duplicate paths, and packages past AWS's
    /// size quotas.
    pub fn read(zip: Vec<u8>) -> Result<Self, FunctionsError> {
        if zip.len() > MAX_ZIPPED_BYTES {
            return Err(FunctionsError::RequestEntityTooLarge(format!(
                "Zipped size must be smaller than {MAX_ZIPPED_BYTES} bytes"
            )));
        }
        let entries = entries(&zip)?;
        let mut total: u64 = 0;
        for entry in &entries {
            total = total.saturating_add(entry.size);
        }
        if total > MAX_UNZIPPED_BYTES {
            return Err(FunctionsError::InvalidParameterValue(format!(
                "Unzipped size must be smaller than {MAX_UNZIPPED_BYTES} bytes"
            )));
        }
        let d = digest::digest(&digest::SHA256, &zip);
        Ok(DeploymentPackage {
            sha256: STANDARD.encode(d.as_ref()),
            sha256_hex: d.as_ref().iter().map(|b| format!("{b:02x}")).collect(),
            zip,
        })
    }
}

/// One entry, as checked.
struct Entry {
    index: usize,
    path: PathBuf,
    dir: bool,
    executable: bool,
    size: u64,
}

/// Every entry of `zip`, each checked to stay inside the directory it is unpacked into.
fn entries(zip: &[u8]) -> Result<Vec<Entry>, FunctionsError> {
    let mut archive = zip::ZipArchive::new(Cursor::new(zip)).map_err(|_| unzip_failed())?;
    if archive.len() > MAX_ENTRIES {
        return Err(FunctionsError::InvalidParameterValue(format!(
            "A deployment package may hold at most {MAX_ENTRIES} files."
        )));
    }
    let mut out: Vec<Entry> = Vec::with_capacity(archive.len());
    let mut seen = std::collections::HashSet::new();
    for index in 0..archive.len() {
        let file = archive.by_index(index).map_err(|_| unzip_failed())?;
        let name = file.name().to_owned();
        let path = contained_path(&name).ok_or_else(|| {
            FunctionsError::InvalidParameterValue(format!(
                "Could not unzip uploaded file: the entry {name:?} would be written outside the function's directory."
            ))
        })?;
        if file.is_symlink() {
            return Err(FunctionsError::InvalidParameterValue(format!(
                "Could not unzip uploaded file: the entry {name:?} is a symbolic link, which deployment packages may not hold."
            )));
        }
        if path.as_os_str().is_empty() {
            continue;
        }
        if !seen.insert(path.clone()) {
            return Err(FunctionsError::InvalidParameterValue(format!(
                "Could not unzip uploaded file: the entry {name:?} appears twice."
            )));
        }
        out.push(Entry {
            index,
            dir: file.is_dir(),
            executable: file.unix_mode().is_some_and(|m| m & 0o111 != 0),
            size: file.size(),
            path,
        });
    }
    Ok(out)
}

/// The relative path an entry name stands for, or None if it leaves the directory (any
/// `..`, a root, a NUL).
fn contained_path(name: &str) -> Option<PathBuf> {
    if name.contains('\0') || name.starts_with('/') || name.contains('\\') {
        return None;
    }
    let mut path = PathBuf::new();
    for component in Path::new(name).components() {
        match component {
            Component::Normal(part) => path.push(part),
            Component::CurDir => {}
            Component::ParentDir | Component::RootDir | Component::Prefix(_) => return None,
        }
    }
    Some(path)
}

/// Unpacks `zip` (already [read](DeploymentPackage::read)) into `root/<sha256 hex>` unless it
/// is there already, and answers that directory. Files are written into a fresh directory
/// beside it and renamed into place once complete, then made read-only (0444, or 0555 for
/// entries marked executable; directories 0555), so an environment never starts from half a
/// package and cannot change its code.
pub fn unpack(root: &Path, sha256_hex: &str, zip: &[u8]) -> std::io::Result<PathBuf> {
    let target = root.join(sha256_hex);
    if target.is_dir() {
        return Ok(target);
    }
    std::fs::create_dir_all(root)?;
    let staging = root.join(format!(".{sha256_hex}.{}", uuid::Uuid::new_v4().simple()));
    std::fs::create_dir(&staging)?;
    let result = write_entries(&staging, zip).and_then(|dirs| {
        // Directories last and deepest first: a read-only parent would refuse its children.
        for dir in dirs.iter().rev() {
            std::fs::set_permissions(dir, std::fs::Permissions::from_mode(0o555))?;
        }
        std::fs::set_permissions(&staging, std::fs::Permissions::from_mode(0o555))?;
        match std::fs::rename(&staging, &target) {
            Ok(()) => Ok(()),
            // Another environment unpacked the same package first.
            Err(_) if target.is_dir() => {
                remove_tree(&staging);
                Ok(())
            }
            Err(e) => Err(e),
        }
    });
    if let Err(e) = result {
        remove_tree(&staging);
        return Err(e);
    }
    Ok(target)
}

fn write_entries(staging: &Path, zip: &[u8]) -> std::io::Result<Vec<PathBuf>> {
    let invalid = || std::io::Error::new(std::io::ErrorKind::InvalidData, "not a valid zip");
    let entries = entries(zip).map_err(|_| invalid())?;
    let mut archive = zip::ZipArchive::new(Cursor::new(zip)).map_err(|_| invalid())?;
    let mut dirs: Vec<PathBuf> = Vec::new();
    let mut written: u64 = 0;
    for entry in entries {
        let out = staging.join(&entry.path);
        if entry.dir {
            std::fs::create_dir_all(&out)?;
            dirs.push(out);
            continue;
        }
        if let Some(parent) = out.parent() {
            if !parent.is_dir() {
                std::fs::create_dir_all(parent)?;
                dirs.push(parent.to_path_buf());
            }
        }
        let mode = if entry.executable { 0o555 } else { 0o444 };
        let mut file = std::fs::OpenOptions::new()
            .write(true)
            .create_new(true)
            .mode(0o600)
            .open(&out)?;
        let reader = archive
            .by_index(entry.index)
            .map_err(|e| std::io::Error::new(std::io::ErrorKind::InvalidData, e))?;
        // The sizes a zip declares are not to be trusted: stop at the quota whatever it says.
        let mut limited = reader.take(MAX_UNZIPPED_BYTES - written + 1);
        let copied = std::io::copy(&mut limited, &mut file)?;
        written += copied;
        if written > MAX_UNZIPPED_BYTES {
            return Err(std::io::Error::new(
                std::io::ErrorKind::InvalidData,
                "the package unpacks to more than the quota",
            ));
        }
        file.flush()?;
        std::fs::set_permissions(&out, std::fs::Permissions::from_mode(mode))?;
    }
    dirs.sort();
    dirs.dedup();
    Ok(dirs)
}

/// Removes a directory tree this module wrote, read-only parts included.
pub fn remove_tree(path: &Path) {
    fn writable(path: &Path) {
        if let Ok(meta) = std::fs::symlink_metadata(path) {
            if meta.is_dir() {
                let _ = std::fs::set_permissions(path, std::fs::Permissions::from_mode(0o700));
                if let Ok(entries) = std::fs::read_dir(path) {
                    for entry in entries.flatten() {
                        writable(&entry.path());
                    }
                }
            }
        }
    }
    writable(path);
    let _ = std::fs::remove_dir_all(path);
}

#[cfg(test)]
mod tests {
    use super::*;

    fn zip_of(entries: &[(&str, &[u8], u32)]) -> Vec<u8> {
        let mut buf = Cursor::new(Vec::new());
        {
            let mut w = zip::ZipWriter::new(&mut buf);
            for (name, body, mode) in entries {
                let opts = zip::write::SimpleFileOptions::default().unix_permissions(*mode);
                w.start_file(*name, opts).unwrap();
                w.write_all(body).unwrap();
            }
            w.finish().unwrap();
        }
        buf.into_inner()
    }

    #[test]
    fn reads_and_unpacks_read_only() {
        let zip = zip_of(&[
            ("handler.py", b"def handler(e, c):\n    return e\n", 0o644),
            ("lib/util.py", b"X = 1\n", 0o644),
            ("bootstrap", b"#!/bin/sh\n", 0o755),
        ]);
        let package = DeploymentPackage::read(zip.clone()).unwrap();
        assert_eq!(package.sha256.len(), 44);
        let dir = tempfile::tempdir().unwrap();
        let code = unpack(dir.path(), &package.sha256_hex, &zip).unwrap();
        let mode = |p: &str| {
            std::fs::metadata(code.join(p))
                .unwrap()
                .permissions()
                .mode()
                & 0o777
        };
        assert_eq!(mode("handler.py"), 0o444);
        assert_eq!(mode("bootstrap"), 0o555);
        assert_eq!(mode("lib"), 0o555);
        assert_eq!(
            std::fs::read_to_string(code.join("lib/util.py")).unwrap(),
            "X = 1\n"
        );
        // A second unpack of the same package finds it in place.
        assert_eq!(unpack(dir.path(), &package.sha256_hex, &zip).unwrap(), code);
        remove_tree(dir.path());
    }

    #[test]
    fn refuses_what_would_escape() {
        for name in ["../evil.py", "a/../../evil.py", "/etc/passwd", "a\\..\\b"] {
            let zip = zip_of(&[(name, b"x", 0o644)]);
            assert!(
                matches!(
                    DeploymentPackage::read(zip),
                    Err(FunctionsError::InvalidParameterValue(_))
                ),
                "{name} accepted"
            );
        }
    }

    #[test]
    fn refuses_links_and_non_zips() {
        let mut buf = Cursor::new(Vec::new());
        {
            let mut w = zip::ZipWriter::new(&mut buf);
            w.add_symlink(
                "link",
                "/etc/passwd",
                zip::write::SimpleFileOptions::default(),
            )
            .unwrap();
            w.finish().unwrap();
        }
        assert!(DeploymentPackage::read(buf.into_inner()).is_err());
        assert!(DeploymentPackage::read(b"not a zip".to_vec()).is_err());
        assert!(DeploymentPackage::read(Vec::new()).is_err());
    }
}
