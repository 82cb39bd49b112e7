//! File-system helpers of the local drivers and the snapshots: atomic writes, what a killed
//! process left behind. They take paths: use them only where no tenant can write a
//! component of the path; inside a site's wp-content use [`crate::beneath`].
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
/// An exclusive `flock` on `path` (created if missing), held until the value is dropped:
/// serialises a change across every process of this host. Blocking.
pub fn lock_exclusive(path: &Path) -> Result<nix::fcntl::Flock<std::fs::File>, StepError> {
    let file = std::fs::OpenOptions::new()
        .create(true)
        .truncate(false)
        .write(true)
        .open(path)
        .map_err(|e| StepError::transient(format!("cannot open {}: {e}", path.display())))?;
    nix::fcntl::Flock::lock(file, nix::fcntl::FlockArg::LockExclusive)
        .map_err(|(_, e)| StepError::transient(format!("cannot lock {}: {e}", path.display())))
}

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

/// Makes every file and directory this process creates private to its user (umask 077)
/// unless it sets a mode itself: the panel's database, its WAL, logs and snapshots must
/// not be readable by the sites' users on the same host. Called first thing by `mywp`.
pub fn keep_files_private() {
    rustix::process::umask(rustix::fs::Mode::from_raw_mode(0o077));
}
