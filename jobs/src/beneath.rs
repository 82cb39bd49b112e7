//! File operations, run as root, inside a directory tree a tenant can write, that never
//! follow a link the tenant planted.
//!
//! Every path is one name looked up in a directory already open (`openat` with
//! `O_NOFOLLOW`), and every change is made on an open descriptor (`fchown`, `fchmod`) or
//! with `AT_SYMLINK_NOFOLLOW`: a name the tenant swapped for a symlink, even between two
//! calls, is never resolved. Where a directory of the layout should be, a symlink is
//! removed (the link itself) and the directory made again; anything else is refused.

use std::{
    ffi::CStr,
    os::fd::{AsFd, BorrowedFd, OwnedFd},
    path::Path,
};

use rustix::{
    fs::{self, AtFlags, FileType, Gid, Mode, OFlags, Uid},
    io::Errno,
};

use crate::{domain::StepError, fsutil::Owner};

/// How often a directory of the layout is made again when something keeps replacing it.
const ATTEMPTS: usize = 5;

/// How deep [`chown_tree`] walks (WordPress's trees are far shallower).
const MAX_DEPTH: usize = 64;

fn err(what: &str, name: &str, e: Errno) -> StepError {
    let msg = format!("{what} {name}: {e}");
    match e {
        Errno::ACCESS | Errno::PERM | Errno::INVAL | Errno::NAMETOOLONG => {
            StepError::Permanent(msg)
        }
        _ => StepError::Transient(msg),
    }
}

fn dir_flags() -> OFlags {
    OFlags::RDONLY | OFlags::DIRECTORY | OFlags::NOFOLLOW | OFlags::CLOEXEC
}

/// Opens the directory at `path`, whose every component only root can change (the sites'
/// directory, a site's root-owned directory); its last component is not followed.
pub fn open_trusted_dir(path: &Path) -> Result<OwnedFd, StepError> {
    fs::open(path, dir_flags(), Mode::empty())
        .map_err(|e| err("cannot open the directory", &path.display().to_string(), e))
}

/// Opens the directory `name` in `dir`; `ELOOP` or `ENOTDIR` when it is a symlink or not a
/// directory (never followed).
pub fn open_dir(dir: BorrowedFd<'_>, name: &str) -> Result<OwnedFd, Errno> {
    fs::openat(dir, name, dir_flags(), Mode::empty())
}

/// What `name` in `dir` is, not following a symlink; `None` when nothing has that name.
pub fn kind_of(dir: BorrowedFd<'_>, name: &str) -> Result<Option<FileType>, StepError> {
    match fs::statat(dir, name, AtFlags::SYMLINK_NOFOLLOW) {
        Ok(st) => Ok(Some(FileType::from_raw_mode(st.st_mode))),
        Err(Errno::NOENT) => Ok(None),
        Err(e) => Err(err("cannot look at", name, e)),
    }
}

/// Sets the owner, then the mode (with any set-gid bit), of an open file.
pub fn set_owner_mode(
    fd: BorrowedFd<'_>,
    name: &str,
    owner: Owner,
    mode: u32,
) -> Result<(), StepError> {
    fs::fchown(
        fd,
        Some(Uid::from_raw(owner.uid)),
        Some(Gid::from_raw(owner.gid)),
    )
    .map_err(|e| err("cannot chown", name, e))?;
    fs::fchmod(fd, Mode::from_raw_mode(mode)).map_err(|e| err("cannot chmod", name, e))
}

/// Adds `bits` to an open file's mode if any is missing.
pub fn set_mode_at_least(fd: BorrowedFd<'_>, name: &str, bits: u32) -> Result<(), StepError> {
    let mode = fs::fstat(fd)
        .map_err(|e| err("cannot look at", name, e))?
        .st_mode
        & 0o7777;
    if mode & bits != bits {
        fs::fchmod(fd, Mode::from_raw_mode(mode | bits))
            .map_err(|e| err("cannot chmod", name, e))?;
    }
    Ok(())
}

/// Opens the directory `name` in `dir`, made if missing: a symlink in its place is removed
/// (the link, not what it points to) and the directory made; a file in its place is refused.
/// Its owner and mode are left to the caller.
pub fn open_or_make_dir(dir: BorrowedFd<'_>, name: &str) -> Result<OwnedFd, StepError> {
    for _ in 0..ATTEMPTS {
        match fs::mkdirat(dir, name, Mode::from_raw_mode(0o700)) {
            Ok(()) | Err(Errno::EXIST) => {}
            Err(e) => return Err(err("cannot create the directory", name, e)),
        }
        match open_dir(dir, name) {
            Ok(fd) => return Ok(fd),
            Err(Errno::LOOP | Errno::NOTDIR) => match kind_of(dir, name)? {
                Some(FileType::Symlink) => match fs::unlinkat(dir, name, AtFlags::empty()) {
                    Ok(()) | Err(Errno::NOENT) => {}
                    Err(e) => return Err(err("cannot remove the symlink", name, e)),
                },
                // Gone or a directory again since: look once more.
                None | Some(FileType::Directory) => {}
                Some(other) => {
                    return Err(StepError::Permanent(format!(
                        "{name} should be a directory but is a {other:?}: move it away"
                    )))
                }
            },
            Err(Errno::NOENT) => {}
            Err(e) => return Err(err("cannot open the directory", name, e)),
        }
    }
    Err(StepError::Transient(format!(
        "{name} keeps being replaced while it is being made a directory"
    )))
}

/// [`open_or_make_dir`], then sets its owner and mode on the open directory.
pub fn ensure_dir(
    dir: BorrowedFd<'_>,
    name: &str,
    mode: u32,
    owner: Owner,
) -> Result<OwnedFd, StepError> {
    let fd = open_or_make_dir(dir, name)?;
    set_owner_mode(fd.as_fd(), name, owner, mode)?;
    Ok(fd)
}

/// Makes `name` in `dir` a symlink to `target` (owned by root), replacing a symlink or file
/// there atomically; returns whether it changed. A directory in its place is refused.
pub fn ensure_symlink(dir: BorrowedFd<'_>, name: &str, target: &Path) -> Result<bool, StepError> {
    use std::os::unix::ffi::OsStrExt;
    let wanted = target.as_os_str().as_bytes();
    if let Ok(current) = fs::readlinkat(dir, name, Vec::new()) {
        if current.as_bytes() == wanted {
            return Ok(false);
        }
    }
    let tmp = format!(
        ".{name}.tmp-{}-{:016x}",
        std::process::id(),
        rand::random::<u64>()
    );
    fs::symlinkat(target, dir, tmp.as_str())
        .map_err(|e| err("cannot create the symlink", &tmp, e))?;
    fs::renameat(dir, tmp.as_str(), dir, name).map_err(|e| {
        let _ = fs::unlinkat(dir, tmp.as_str(), AtFlags::empty());
        match e {
            Errno::ISDIR | Errno::NOTEMPTY | Errno::EXIST => StepError::Permanent(format!(
                "{name} should be a link to {} but is a directory: move it away",
                target.display()
            )),
            e => err("cannot place the symlink", name, e),
        }
    })?;
    Ok(true)
}

/// What [`chown_tree`] did.
#[derive(Debug, Default, Clone, Copy, PartialEq, Eq)]
pub struct Chowned {
    /// Entries handed to the new owner.
    pub changed: u64,
    /// Files left as they were because they have other hard links (they may belong to a
    /// tree elsewhere).
    pub skipped_links: u64,
}

/// Hands every entry beneath `dir` owned by `from_uid` to `to` (symlinks themselves, never
/// what they point to), walking open directories only: a directory swapped for a symlink
/// while the walk runs is not entered. Files with more than one hard link are left alone.
pub fn chown_tree(dir: BorrowedFd<'_>, from_uid: u32, to: Owner) -> Result<Chowned, StepError> {
    let mut done = Chowned::default();
    walk(dir, from_uid, to, 0, &mut done)?;
    Ok(done)
}

fn walk(
    dir: BorrowedFd<'_>,
    from_uid: u32,
    to: Owner,
    depth: usize,
    done: &mut Chowned,
) -> Result<(), StepError> {
    if depth > MAX_DEPTH {
        return Err(StepError::Permanent(format!(
            "the directory tree is deeper than {MAX_DEPTH} levels"
        )));
    }
    let entries = fs::Dir::read_from(dir).map_err(|e| err("cannot list", "a directory", e))?;
    for entry in entries {
        let entry = entry.map_err(|e| err("cannot list", "a directory", e))?;
        let name: &CStr = entry.file_name();
        if name == c"." || name == c".." {
            continue;
        }
        let Ok(name) = name.to_str() else {
            // Not UTF-8: still handled, by its raw bytes.
            chown_entry(dir, name, from_uid, to, depth, done)?;
            continue;
        };
        chown_entry(dir, name, from_uid, to, depth, done)?;
    }
    Ok(())
}

fn chown_entry<P: rustix::path::Arg + Copy + std::fmt::Debug>(
    dir: BorrowedFd<'_>,
    name: P,
    from_uid: u32,
    to: Owner,
    depth: usize,
    done: &mut Chowned,
) -> Result<(), StepError> {
    let st = match fs::statat(dir, name, AtFlags::SYMLINK_NOFOLLOW) {
        Ok(st) => st,
        Err(Errno::NOENT) => return Ok(()),
        Err(e) => return Err(err("cannot look at", &format!("{name:?}"), e)),
    };
    let kind = FileType::from_raw_mode(st.st_mode);
    if kind == FileType::Directory {
        match fs::openat(dir, name, dir_flags(), Mode::empty()) {
            Ok(sub) => {
                walk(sub.as_fd(), from_uid, to, depth + 1, done)?;
                let st =
                    fs::fstat(&sub).map_err(|e| err("cannot look at", &format!("{name:?}"), e))?;
                if st.st_uid == from_uid {
                    fs::fchown(
                        &sub,
                        Some(Uid::from_raw(to.uid)),
                        Some(Gid::from_raw(to.gid)),
                    )
                    .map_err(|e| err("cannot chown", &format!("{name:?}"), e))?;
                    done.changed += 1;
                }
            }
            // Swapped for something else since: not ours to follow.
            Err(Errno::LOOP | Errno::NOTDIR | Errno::NOENT) => {}
            Err(e) => return Err(err("cannot open", &format!("{name:?}"), e)),
        }
        return Ok(());
    }
    if st.st_uid != from_uid {
        return Ok(());
    }
    if kind == FileType::RegularFile && st.st_nlink > 1 {
        done.skipped_links += 1;
        return Ok(());
    }
    match fs::chownat(
        dir,
        name,
        Some(Uid::from_raw(to.uid)),
        Some(Gid::from_raw(to.gid)),
        AtFlags::SYMLINK_NOFOLLOW,
    ) {
        Ok(()) => done.changed += 1,
        Err(Errno::NOENT) => {}
        Err(e) => return Err(err("cannot chown", &format!("{name:?}"), e)),
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use std::os::unix::fs::MetadataExt;

    use super::*;

    fn root() -> bool {
        rustix::process::geteuid().is_root()
    }

    #[test]
    fn a_planted_symlink_is_replaced_not_followed() {
        let tmp = tempfile::tempdir().unwrap();
        let victim = tmp.path().join("victim");
        std::fs::create_dir(&victim).unwrap();
        std::fs::set_permissions(&victim, std::os::unix::fs::PermissionsExt::from_mode(0o755))
            .unwrap();
        let tree = tmp.path().join("tree");
        std::fs::create_dir(&tree).unwrap();
        std::os::unix::fs::symlink(&victim, tree.join("uploads")).unwrap();
        let fd = open_trusted_dir(&tree).unwrap();
        let me = Owner {
            uid: rustix::process::geteuid().as_raw(),
            gid: rustix::process::getegid().as_raw(),
        };
        ensure_dir(fd.as_fd(), "uploads", 0o2750, me).unwrap();
        let meta = std::fs::symlink_metadata(tree.join("uploads")).unwrap();
        assert!(meta.is_dir(), "the link became a directory");
        assert_eq!(meta.mode() & 0o7777, 0o2750);
        assert_eq!(std::fs::metadata(&victim).unwrap().mode() & 0o7777, 0o755);
        // A file where a directory belongs is refused, with its name.
        std::fs::write(tree.join("plugins"), "x").unwrap();
        let e = ensure_dir(fd.as_fd(), "plugins", 0o2750, me).unwrap_err();
        assert!(e.to_string().contains("plugins"), "{e}");
    }

    #[test]
    fn chown_tree_hands_over_without_following() {
        if !root() {
            return;
        }
        let tmp = tempfile::tempdir().unwrap();
        let outside = tmp.path().join("outside");
        std::fs::create_dir(&outside).unwrap();
        std::fs::write(outside.join("secret"), "s").unwrap();
        let tree = tmp.path().join("tree");
        std::fs::create_dir_all(tree.join("a/b")).unwrap();
        std::fs::write(tree.join("a/b/file"), "f").unwrap();
        std::os::unix::fs::symlink(&outside, tree.join("a/link")).unwrap();
        let fd = open_trusted_dir(&tree).unwrap();
        let to = Owner {
            uid: 4_000_123,
            gid: 4_000_123,
        };
        let done = chown_tree(fd.as_fd(), 0, to).unwrap();
        assert_eq!(done.changed, 4, "a, a/b, a/b/file and the link itself");
        assert_eq!(
            std::fs::metadata(tree.join("a/b/file")).unwrap().uid(),
            to.uid
        );
        assert_eq!(
            std::fs::symlink_metadata(tree.join("a/link"))
                .unwrap()
                .uid(),
            to.uid
        );
        assert_eq!(std::fs::metadata(&outside).unwrap().uid(), 0);
        assert_eq!(std::fs::metadata(outside.join("secret")).unwrap().uid(), 0);
    }

    #[test]
    fn links_are_placed_over_links_and_refused_over_directories() {
        let tmp = tempfile::tempdir().unwrap();
        let fd = open_trusted_dir(tmp.path()).unwrap();
        let target = Path::new("/usr/share");
        assert!(ensure_symlink(fd.as_fd(), "l", target).unwrap());
        assert!(!ensure_symlink(fd.as_fd(), "l", target).unwrap());
        assert!(ensure_symlink(fd.as_fd(), "l", Path::new("/usr")).unwrap());
        assert_eq!(
            std::fs::read_link(tmp.path().join("l")).unwrap(),
            Path::new("/usr")
        );
        std::fs::create_dir(tmp.path().join("d")).unwrap();
        std::fs::write(tmp.path().join("d/x"), "x").unwrap();
        let e = ensure_symlink(fd.as_fd(), "d", target).unwrap_err();
        assert!(e.to_string().contains("is a directory"), "{e}");
    }
}
