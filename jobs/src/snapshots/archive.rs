//! A site's wp-content in and out of a snapshot: a gzip-compressed tar archive of `./`
//! entries (snapshots taken before this module ran GNU tar read back the same way).
//!
//! Nothing here walks the tenant's tree as root. GNU tar does it, as the Unix user who owns
//! the site's wp-content (read with a no-follow stat of that directory: whichever user that
//! is), in a child process that drops root before it starts. Links the site planted, or a
//! directory it swaps for a link while the walk goes on, reach only what that user could
//! read or write anyway; links are archived as links. This process only compresses and
//! hashes the stream into the root-owned snapshot store, or decompresses it into tar.
//!
//! A restore unpacks into `wp-content.restoring` beside the live wp-content (made by root
//! in the root-owned site directory, handed to the owner through its file descriptor), then
//! swaps the two with renames: the site sees the old content or the new one, and a worker
//! killed half-way leaves the old content in place (or the new one, complete). The files
//! are created by their owner: nothing is chowned.

use std::{
    fs::File,
    os::unix::{
        fs::{MetadataExt, OpenOptionsExt, PermissionsExt},
        process::CommandExt,
    },
    path::{Path, PathBuf},
    process::{Child, Command, ExitStatus, Stdio},
};

use flate2::{read::GzDecoder, write::GzEncoder, Compression};
use nix::fcntl::OFlag;

use super::{HashingWriter, Written};
use crate::domain::StepError;

/// GNU tar (Debian's `tar`, always installed).
const TAR_BIN: &str = "tar";

/// The directory a restore unpacks into, beside the live one.
fn incoming(content: &Path) -> PathBuf {
    content.with_file_name("wp-content.restoring")
}

/// Where the replaced content goes until it is removed.
fn outgoing(content: &Path) -> PathBuf {
    content.with_file_name("wp-content.replaced")
}

fn io(what: &str, path: &Path, e: std::io::Error) -> StepError {
    StepError::transient(format!("cannot {what} {}: {e}", path.display()))
}

/// Who owns a site's wp-content: the user its archive is packed and unpacked as.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
struct Owner {
    uid: u32,
    gid: u32,
    mode: u32,
}

impl Owner {
    /// The owner of the directory `dir` itself (a link there is refused, not followed).
    fn of(dir: &Path) -> Result<Self, StepError> {
        let meta = std::fs::symlink_metadata(dir).map_err(|e| {
            if e.kind() == std::io::ErrorKind::NotFound {
                StepError::permanent(format!(
                    "{} does not exist: the site's files are missing",
                    dir.display()
                ))
            } else {
                io("read", dir, e)
            }
        })?;
        if !meta.is_dir() {
            return Err(StepError::permanent(format!(
                "{} is not a directory: refusing to archive or replace it",
                dir.display()
            )));
        }
        if meta.uid() == 0 {
            return Err(StepError::permanent(format!(
                "{} belongs to root: a site's files never do, refusing to work on them as root",
                dir.display()
            )));
        }
        Ok(Self {
            uid: meta.uid(),
            gid: meta.gid(),
            mode: meta.mode() & 0o7777,
        })
    }

    /// GNU tar, run as this owner with the owner's own group (its passwd entry's, or the
    /// uid itself for the sites' users, which have none): the child sets its groups, gid
    /// and uid before it executes anything (std drops the supplementary groups when it sets
    /// the uid as root). Never wp-content's group, which is nginx's: a set-gid program the
    /// tenant packed would come back set-gid to nginx's group (`--preserve-permissions`);
    /// run outside that group, the kernel drops the bit.
    fn tar(&self) -> Command {
        let gid = nix::unistd::User::from_uid(nix::unistd::Uid::from_raw(self.uid))
            .ok()
            .flatten()
            .map_or(self.uid, |user| user.gid.as_raw());
        let mut cmd = Command::new(TAR_BIN);
        cmd.uid(self.uid).gid(gid);
        cmd
    }
}

/// tar's error output, in a file beside `at` (a pipe could fill while this process is busy
/// with tar's stdout or stdin, and both would wait forever).
struct ErrorLog(PathBuf);

impl ErrorLog {
    fn beside(at: &Path) -> Result<(Self, Stdio), StepError> {
        let path = at.with_file_name("tar-errors.log");
        let file = File::create(&path).map_err(|e| io("write", &path, e))?;
        Ok((Self(path), Stdio::from(file)))
    }

    fn last_line(&self) -> String {
        let text = std::fs::read_to_string(&self.0).unwrap_or_default();
        text.trim()
            .lines()
            .last()
            .unwrap_or("no detail")
            .to_string()
    }
}

fn spawn(cmd: &mut Command) -> Result<Child, StepError> {
    cmd.spawn().map_err(|e| {
        if e.kind() == std::io::ErrorKind::NotFound {
            StepError::permanent("GNU tar is not installed on this host (apt-get install tar)")
        } else {
            StepError::transient(format!("cannot run {TAR_BIN}: {e}"))
        }
    })
}

fn wait(child: &mut Child) -> Result<ExitStatus, StepError> {
    child
        .wait()
        .map_err(|e| StepError::transient(format!("cannot wait for {TAR_BIN}: {e}")))
}

/// Archives the directory `content` into `out`.
pub fn pack(content: &Path, out: &Path) -> Result<Written, StepError> {
    let owner = Owner::of(content)?;
    let file = File::create(out).map_err(|e| io("write", out, e))?;
    let (errors, stderr) = ErrorLog::beside(out)?;
    let mut child = spawn(
        owner
            .tar()
            .args([
                "--create",
                "--file=-",
                "--format=gnu",
                // A file WordPress deletes while the walk goes on (a cache entry) is skipped.
                "--ignore-failed-read",
                "--warning=no-file-changed",
                "--warning=no-file-removed",
                "--directory",
            ])
            .arg(content)
            .arg(".")
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(stderr),
    )?;
    // Fast compression: uploads are mostly compressed already (images, video, zip), and
    // level 6 spent ~3x the CPU on them for almost nothing (see `make bench`, part 4).
    let mut gz = GzEncoder::new(HashingWriter::new(file), Compression::fast());
    let mut stdout = child.stdout.take().expect("stdout is piped");
    let copied = std::io::copy(&mut stdout, &mut gz);
    drop(stdout);
    if copied.is_err() {
        let _ = child.kill();
    }
    let status = wait(&mut child)?;
    copied.map_err(|e| io("write", out, e))?;
    match status.code() {
        Some(0) => {}
        // "Some files differ": a file changed while it was read. The archive is whole; the
        // snapshot of a live site is as of that moment.
        Some(1) => tracing::info!(content = %content.display(), "files changed while archived"),
        _ => {
            return Err(StepError::transient(format!(
                "cannot archive {}: {}",
                content.display(),
                errors.last_line()
            )))
        }
    }
    gz.finish()
        .and_then(|w| w.finish())
        .map_err(|e| io("write", out, e))
}

/// Replaces the directory `content` by the archive at `archive`.
pub fn unpack(archive: &Path, content: &Path) -> Result<(), StepError> {
    let new = incoming(content);
    let old = outgoing(content);
    // The live content, or the content a killed restore moved aside.
    let owner = Owner::of(content).or_else(|e| Owner::of(&old).map_err(|_| e))?;
    // What a killed restore left: its half-unpacked archive and its replaced content.
    remove_tree(&new)?;
    let live = std::fs::symlink_metadata(content).is_ok();
    if live {
        remove_tree(&old)?;
    }
    owned_dir(&new, owner)?;
    let (errors, stderr) = ErrorLog::beside(archive)?;
    let mut child = spawn(
        owner
            .tar()
            .args([
                "--extract",
                "--file=-",
                "--preserve-permissions",
                "--no-same-owner",
                "--directory",
            ])
            .arg(&new)
            .stdin(Stdio::piped())
            .stdout(Stdio::null())
            .stderr(stderr),
    )?;
    let file = File::open(archive).map_err(|e| io("read", archive, e))?;
    let mut stdin = child.stdin.take().expect("stdin is piped");
    // tar may stop reading early (a damaged archive): its exit status says why.
    let fed = std::io::copy(&mut GzDecoder::new(file), &mut stdin);
    drop(stdin);
    let status = wait(&mut child)?;
    if !status.success() {
        return Err(StepError::permanent(format!(
            "the snapshot's files archive cannot be unpacked: {}",
            errors.last_line()
        )));
    }
    fed.map_err(|e| {
        StepError::permanent(format!("the snapshot's files archive cannot be read: {e}"))
    })?;
    if live {
        std::fs::rename(content, &old).map_err(|e| io("move aside", content, e))?;
    }
    std::fs::rename(&new, content).map_err(|e| io("move into place", &new, e))?;
    remove_tree(&old)
}

/// Makes the directory `dir` (its parent is root's) and hands it to `owner` through its
/// file descriptor: whatever appears at that path meanwhile, only this directory changes.
fn owned_dir(dir: &Path, owner: Owner) -> Result<(), StepError> {
    std::fs::create_dir(dir).map_err(|e| io("create", dir, e))?;
    let handle = std::fs::OpenOptions::new()
        .read(true)
        .custom_flags((OFlag::O_NOFOLLOW | OFlag::O_DIRECTORY).bits())
        .open(dir)
        .map_err(|e| io("open", dir, e))?;
    std::os::unix::fs::fchown(&handle, Some(owner.uid), Some(owner.gid))
        .map_err(|e| io("chown", dir, e))?;
    handle
        .set_permissions(std::fs::Permissions::from_mode(owner.mode))
        .map_err(|e| io("chmod", dir, e))
}

/// Removes a tree: std's `remove_dir_all` never follows a link (it works beneath an open
/// directory, with no-follow opens), so a link planted inside removes only the link.
fn remove_tree(path: &Path) -> Result<(), StepError> {
    match std::fs::remove_dir_all(path) {
        Err(e) if e.kind() != std::io::ErrorKind::NotFound => Err(io("remove", path, e)),
        _ => Ok(()),
    }
}

#[cfg(test)]
mod tests;
