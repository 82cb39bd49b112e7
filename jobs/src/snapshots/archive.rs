//! A site's wp-content in and out of a snapshot: a gzip-compressed tar archive.
//!
//! Symbolic links are archived as links, never followed, so a link a site made to a file
//! outside its directory never pulls that file in. A restore unpacks next to the live
//! wp-content, hands every file to the live directory's owner, then swaps the two with
//! renames: the site sees the old content or the new one, and a worker killed half-way
//! leaves the old content in place (or the new one, complete).

use std::{
    os::unix::fs::{lchown, MetadataExt},
    path::{Path, PathBuf},
};

use flate2::{read::GzDecoder, write::GzEncoder, Compression};

use super::{HashingWriter, Written};
use crate::domain::StepError;

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

/// Archives the directory `content` into `out`.
pub fn pack(content: &Path, out: &Path) -> Result<Written, StepError> {
    if !content.is_dir() {
        return Err(StepError::permanent(format!(
            "{} does not exist: the site's files are missing",
            content.display()
        )));
    }
    let file = std::fs::File::create(out).map_err(|e| io("write", out, e))?;
    // Fast compression: uploads are mostly compressed already (images, video, zip), and
    // level 6 spent ~3x the CPU on them for almost nothing (see `make bench`, part 4).
    let gz = GzEncoder::new(HashingWriter::new(file), Compression::fast());
    let mut tar = tar::Builder::new(gz);
    tar.follow_symlinks(false);
    tar.mode(tar::HeaderMode::Complete);
    // A file WordPress deletes while it is read (a cache entry) fails the archive: retried.
    tar.append_dir_all(".", content)
        .map_err(|e| io("archive", content, e))?;
    let gz = tar.into_inner().map_err(|e| io("write", out, e))?;
    gz.finish()
        .and_then(|w| w.finish())
        .map_err(|e| io("write", out, e))
}

/// Replaces the directory `content` by the archive at `archive`.
pub fn unpack(archive: &Path, content: &Path) -> Result<(), StepError> {
    let owner = std::fs::metadata(content)
        .or_else(|_| std::fs::metadata(outgoing(content)))
        .map_err(|e| io("read", content, e))?;
    let (uid, gid) = (owner.uid(), owner.gid());
    let new = incoming(content);
    let old = outgoing(content);
    // What a killed restore left: its half-unpacked archive and its replaced content.
    remove_tree(&new)?;
    if content.exists() {
        remove_tree(&old)?;
    }
    std::fs::create_dir(&new).map_err(|e| io("create", &new, e))?;
    let file = std::fs::File::open(archive).map_err(|e| io("read", archive, e))?;
    let mut tar = tar::Archive::new(GzDecoder::new(file));
    tar.set_preserve_permissions(true);
    tar.set_preserve_ownerships(false);
    tar.set_overwrite(true);
    // `unpack` refuses entries that would land outside `new` (`..`, absolute paths,
    // writes through a link).
    tar.unpack(&new).map_err(|e| {
        StepError::permanent(format!(
            "the snapshot's files archive cannot be unpacked: {e}"
        ))
    })?;
    chown_tree(&new, uid, gid)?;
    if content.exists() {
        std::fs::rename(content, &old).map_err(|e| io("move aside", content, e))?;
    }
    std::fs::rename(&new, content).map_err(|e| io("move into place", &new, e))?;
    remove_tree(&old)
}

/// Gives `dir` and everything under it (links themselves, not their targets) to uid:gid.
fn chown_tree(dir: &Path, uid: u32, gid: u32) -> Result<(), StepError> {
    lchown(dir, Some(uid), Some(gid)).map_err(|e| io("chown", dir, e))?;
    let entries = std::fs::read_dir(dir).map_err(|e| io("read", dir, e))?;
    for entry in entries {
        let entry = entry.map_err(|e| io("read", dir, e))?;
        let path = entry.path();
        let kind = entry.file_type().map_err(|e| io("read", &path, e))?;
        if kind.is_dir() {
            chown_tree(&path, uid, gid)?;
        } else {
            lchown(&path, Some(uid), Some(gid)).map_err(|e| io("chown", &path, e))?;
        }
    }
    Ok(())
}

fn remove_tree(path: &Path) -> Result<(), StepError> {
    match std::fs::remove_dir_all(path) {
        Err(e) if e.kind() != std::io::ErrorKind::NotFound => Err(io("remove", path, e)),
        _ => Ok(()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn round_trip_keeps_links_as_links_and_drops_later_files() {
        let dir = tempfile::tempdir().unwrap();
        let content = dir.path().join("wp-content");
        std::fs::create_dir_all(content.join("uploads/2026")).unwrap();
        std::fs::write(content.join("uploads/2026/a.txt"), "first").unwrap();
        let outside = dir.path().join("secret.txt");
        std::fs::write(&outside, "not the site's").unwrap();
        std::os::unix::fs::symlink(&outside, content.join("link")).unwrap();

        let archive = dir.path().join("files.tar.gz");
        let written = pack(&content, &archive).unwrap();
        assert_eq!(written.bytes, std::fs::metadata(&archive).unwrap().len());
        assert_eq!(written.sha256.len(), 64);

        std::fs::write(content.join("uploads/2026/a.txt"), "changed").unwrap();
        std::fs::write(content.join("later.txt"), "made after").unwrap();
        unpack(&archive, &content).unwrap();

        let read = |p: &str| std::fs::read_to_string(content.join(p)).unwrap();
        assert_eq!(read("uploads/2026/a.txt"), "first");
        assert!(!content.join("later.txt").exists());
        let link = std::fs::symlink_metadata(content.join("link")).unwrap();
        assert!(link.file_type().is_symlink(), "archived as a link");
        assert!(!incoming(&content).exists() && !outgoing(&content).exists());
    }

    #[test]
    fn a_restore_killed_between_the_renames_completes() {
        let dir = tempfile::tempdir().unwrap();
        let content = dir.path().join("wp-content");
        std::fs::create_dir_all(&content).unwrap();
        std::fs::write(content.join("a.txt"), "snap").unwrap();
        let archive = dir.path().join("files.tar.gz");
        pack(&content, &archive).unwrap();
        // The live content was moved aside, the new one not yet moved in.
        std::fs::rename(&content, outgoing(&content)).unwrap();
        std::fs::create_dir(incoming(&content)).unwrap();
        unpack(&archive, &content).unwrap();
        assert_eq!(
            std::fs::read_to_string(content.join("a.txt")).unwrap(),
            "snap"
        );
        assert!(!outgoing(&content).exists());
    }
}
