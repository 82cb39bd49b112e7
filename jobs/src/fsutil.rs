//! File-system helpers of the local drivers and the snapshots: atomic writes, owned
//! directories, symlinks, what a killed process left behind.
//!
//! Everything is written through a temporary file in the same directory and renamed into
//! place, so a worker killed at any instant leaves either the old or the new file.

use std::{
    fs,
    io::{self, Write},
    os::unix::fs::{OpenOptionsExt, PermissionsExt},
    path::{Path, PathBuf},
};

use nix::unistd::{chown, Gid, Uid, User};

use crate::domain::StepError;

/// An OS user's ids.
#[derive(Debug, Clone, Copy)]
pub struct Owner {
    pub uid: u32,
    pub gid: u32,
}

impl Owner {
    pub fn root() -> Self {
        Self { uid: 0, gid: 0 }
    }

    /// Looks up `name` in the user database.
    pub fn of_user(name: &str) -> Result<Self, StepError> {
        match User::from_name(name) {
            Ok(Some(u)) => Ok(Self { uid: u.uid.as_raw(), gid: u.gid.as_raw() }),
            Ok(None) => Err(StepError::permanent(format!(
                "the OS user {name:?} does not exist on this host (run scripts/dataplane.sh install)"
            ))),
            Err(e) => Err(StepError::transient(format!("cannot look up the OS user {name:?}: {e}"))),
        }
    }
}

pub fn io_err(what: &str, path: &Path, e: io::Error) -> StepError {
    let msg = format!("{what} {}: {e}", path.display());
    match e.kind() {
        io::ErrorKind::PermissionDenied
        | io::ErrorKind::InvalidInput
        | io::ErrorKind::InvalidData => StepError::Permanent(msg),
        _ => StepError::Transient(msg),
    }
}

fn set_owner(path: &Path, owner: Owner) -> io::Result<()> {
    chown(
        path,
        Some(Uid::from_raw(owner.uid)),
        Some(Gid::from_raw(owner.gid)),
    )
    .map_err(io::Error::from)
}

/// The start of the names of `path`'s temporary files (see [`write_atomic`]).
pub fn temp_prefix(path: &Path) -> String {
    let name = path.file_name().and_then(|n| n.to_str()).unwrap_or("file");
    format!(".{name}.tmp-")
}

fn temp_path(path: &Path) -> PathBuf {
    let name = path.file_name().and_then(|n| n.to_str()).unwrap_or("file");
    let nonce: u64 = rand::random();
    path.with_file_name(format!(".{name}.tmp-{}-{nonce:016x}", std::process::id()))
}

/// Reads `path`, `None` when it does not exist.
pub fn read_if_exists(path: &Path) -> Result<Option<Vec<u8>>, StepError> {
    match fs::read(path) {
        Ok(bytes) => Ok(Some(bytes)),
        Err(e) if e.kind() == io::ErrorKind::NotFound => Ok(None),
        Err(e) => Err(io_err("cannot read", path, e)),
    }
}

/// Writes `contents` to `path` atomically with `mode` and `owner`; returns whether anything
/// changed (contents, mode or owner).
pub fn write_atomic(
    path: &Path,
    contents: &[u8],
    mode: u32,
    owner: Owner,
) -> Result<bool, StepError> {
    use std::os::unix::fs::MetadataExt;
    if let Ok(meta) = fs::symlink_metadata(path) {
        if meta.is_file()
            && meta.mode() & 0o7777 == mode
            && meta.uid() == owner.uid
            && meta.gid() == owner.gid
            && read_if_exists(path)?.as_deref() == Some(contents)
        {
            return Ok(false);
        }
    }
    let tmp = temp_path(path);
    let result = (|| -> io::Result<()> {
        let mut file = fs::OpenOptions::new()
            .write(true)
            .create_new(true)
            .mode(0o600)
            .open(&tmp)?;
        set_owner(&tmp, owner)?;
        file.set_permissions(fs::Permissions::from_mode(mode))?;
        file.write_all(contents)?;
        file.sync_all()?;
        fs::rename(&tmp, path)?;
        if let Some(dir) = path.parent() {
            fs::File::open(dir)?.sync_all()?;
        }
        Ok(())
    })();
    if let Err(e) = result {
        let _ = fs::remove_file(&tmp);
        return Err(io_err("cannot write", path, e));
    }
    Ok(true)
}

/// Creates the directory `path` (not its parents) if missing, then sets its mode and owner.
pub fn ensure_dir(path: &Path, mode: u32, owner: Owner) -> Result<(), StepError> {
    match fs::create_dir(path) {
        Ok(()) => {}
        Err(e) if e.kind() == io::ErrorKind::AlreadyExists && path.is_dir() => {}
        Err(e) => return Err(io_err("cannot create the directory", path, e)),
    }
    set_owner(path, owner).map_err(|e| io_err("cannot chown", path, e))?;
    fs::set_permissions(path, fs::Permissions::from_mode(mode))
        .map_err(|e| io_err("cannot chmod", path, e))
}

/// Makes `link` a symlink to `target`, atomically replacing whatever symlink or file is there.
pub fn ensure_symlink(target: &Path, link: &Path) -> Result<(), StepError> {
    if fs::read_link(link).ok().as_deref() == Some(target) {
        return Ok(());
    }
    let tmp = temp_path(link);
    std::os::unix::fs::symlink(target, &tmp)
        .map_err(|e| io_err("cannot create the symlink", &tmp, e))?;
    fs::rename(&tmp, link).map_err(|e| {
        let _ = fs::remove_file(&tmp);
        io_err("cannot place the symlink", link, e)
    })
}

/// Removes a file; succeeds when it is already gone. Returns whether it existed.
pub fn remove_file_if_exists(path: &Path) -> Result<bool, StepError> {
    match fs::remove_file(path) {
        Ok(()) => Ok(true),
        Err(e) if e.kind() == io::ErrorKind::NotFound => Ok(false),
        Err(e) => Err(io_err("cannot remove", path, e)),
    }
}

/// The entries of `dir` named `prefix…` untouched for longer than `age`: what a process
/// killed half-way left behind.
pub fn stale_entries(dir: &Path, prefix: &str, age: std::time::Duration) -> Vec<PathBuf> {
    let Ok(entries) = std::fs::read_dir(dir) else {
        return Vec::new();
    };
    entries
        .flatten()
        .filter(|entry| entry.file_name().to_string_lossy().starts_with(prefix))
        .filter(|entry| {
            entry
                .metadata()
                .and_then(|m| m.modified())
                .ok()
                .and_then(|t| t.elapsed().ok())
                .is_some_and(|elapsed| elapsed > age)
        })
        .map(|entry| entry.path())
        .collect()
}
