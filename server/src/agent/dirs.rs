//! The two directories: the shared one read defensively, the local one written atomically.

use std::{
    collections::BTreeMap,
    fs,
    io::{self, Read, Write},
    os::unix::fs::{MetadataExt, OpenOptionsExt, PermissionsExt},
    path::Path,
};

use super::plan::{is_site_file, Shared};

/// A site file larger than this is held back, not copied (a server block is a few KiB).
pub const MAX_FILE_LEN: u64 = 1 << 20;

/// What the name of the agent's temporary files contains (`.<name><mark><pid>-<nonce>`).
const TEMP_MARK: &str = ".agent-tmp-";

/// Present in the local directory from the first change of a pass until nginx has reloaded:
/// an agent restarted after a crash (or after nginx was down) knows to reload.
const RELOAD_PENDING: &str = ".mywp-agent-reload-pending";

/// The shared directory as one pass sees it.
#[derive(Debug, Default)]
pub struct SharedListing {
    /// Every site file, read or held.
    pub files: BTreeMap<String, Shared>,
    /// `*.conf` entries that are not site files, with why: not copied, warned about once.
    pub skipped: Vec<(String, String)>,
}

/// Lists and reads the shared directory. An error while listing fails the whole listing:
/// a partial listing would look like deleted sites.
pub fn read_shared(dir: &Path) -> io::Result<SharedListing> {
    let mut listing = SharedListing::default();
    for entry in fs::read_dir(dir)? {
        let entry = entry?;
        let name = entry.file_name().to_string_lossy().into_owned();
        // Hidden files (a writer's temporary file before its rename) and files not ending in
        // `.conf` are not server blocks: ignored without a word.
        if name.starts_with('.') || !name.ends_with(".conf") {
            continue;
        }
        if !is_site_file(&name) {
            let why = "not a site file name ([a-z0-9-]{1,40}.conf, no '-' at either end)";
            listing.skipped.push((name, why.into()));
            continue;
        }
        let file = match entry.file_type() {
            Ok(kind) if kind.is_file() => read_whole(&entry.path()),
            Ok(_) => {
                listing.skipped.push((name, "not a regular file".into()));
                continue;
            }
            Err(e) => Shared::Held(format!("cannot stat it: {e}")),
        };
        listing.files.insert(name, file);
    }
    Ok(listing)
}

/// Reads a shared file, or says why it is held back this pass: an I/O error, too large, or
/// replaced or written to while it was read (same inode, size and mtime before and after).
fn read_whole(path: &Path) -> Shared {
    let read = || -> io::Result<Result<Vec<u8>, String>> {
        let file = fs::File::open(path)?;
        let before = file.metadata()?;
        if before.len() > MAX_FILE_LEN {
            return Ok(Err(format!("larger than {MAX_FILE_LEN} bytes")));
        }
        let mut bytes = Vec::with_capacity(before.len() as usize);
        (&file).take(MAX_FILE_LEN + 1).read_to_end(&mut bytes)?;
        let after = fs::metadata(path)?;
        let same = |m: &fs::Metadata| (m.ino(), m.len(), m.mtime(), m.mtime_nsec());
        if same(&before) != same(&after) || bytes.len() as u64 != after.len() {
            return Ok(Err("it changed while being read".into()));
        }
        Ok(Ok(bytes))
    };
    match read() {
        Ok(Ok(bytes)) => Shared::Content(bytes),
        Ok(Err(why)) => Shared::Held(why),
        Err(e) => Shared::Held(format!("cannot read it: {e}")),
    }
}

/// The agent's files in the local directory (site file names, anything but directories)
/// and their contents. Any error fails the whole listing.
pub fn read_local(dir: &Path) -> io::Result<BTreeMap<String, Vec<u8>>> {
    let mut files = BTreeMap::new();
    for entry in fs::read_dir(dir)? {
        let entry = entry?;
        let name = entry.file_name().to_string_lossy().into_owned();
        if !is_site_file(&name) || entry.file_type()?.is_dir() {
            continue;
        }
        let content = fs::read(entry.path())?;
        files.insert(name, content);
    }
    Ok(files)
}

/// Writes `dir/name` atomically, mode 0644: a temporary file renamed into place, so nginx
/// never reads half a block. (No fsync: after a crash the agent's first pass compares every
/// file with the shared directory and rewrites what differs.)
pub fn write_file(dir: &Path, name: &str, content: &[u8]) -> io::Result<()> {
    let tmp = dir.join(format!(
        ".{name}{TEMP_MARK}{}-{:016x}",
        std::process::id(),
        rand::random::<u64>()
    ));
    let result = (|| {
        let mut file = fs::OpenOptions::new()
            .write(true)
            .create_new(true)
            .mode(0o644)
            .open(&tmp)?;
        file.set_permissions(fs::Permissions::from_mode(0o644))?;
        file.write_all(content)?;
        fs::rename(&tmp, dir.join(name))
    })();
    if result.is_err() {
        let _ = fs::remove_file(&tmp);
    }
    result
}

/// Removes `dir/name`; already gone is fine.
pub fn remove_file(dir: &Path, name: &str) -> io::Result<()> {
    match fs::remove_file(dir.join(name)) {
        Err(e) if e.kind() != io::ErrorKind::NotFound => Err(e),
        _ => Ok(()),
    }
}

/// Sets `dir/name` to `content`, or removes it when `None`.
pub fn restore(dir: &Path, name: &str, content: Option<&[u8]>) -> io::Result<()> {
    match content {
        Some(content) => write_file(dir, name, content),
        None => remove_file(dir, name),
    }
}

/// Removes temporary files an earlier agent left behind (killed between create and rename).
pub fn remove_stale_temp_files(dir: &Path) -> io::Result<()> {
    for entry in fs::read_dir(dir)? {
        let name = entry?.file_name().to_string_lossy().into_owned();
        if name.starts_with('.') && name.contains(TEMP_MARK) {
            remove_file(dir, &name)?;
        }
    }
    Ok(())
}

pub fn reload_pending(dir: &Path) -> bool {
    dir.join(RELOAD_PENDING).exists()
}

pub fn set_reload_pending(dir: &Path, pending: bool) -> io::Result<()> {
    if pending {
        fs::write(dir.join(RELOAD_PENDING), b"")
    } else {
        remove_file(dir, RELOAD_PENDING)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn shared_listing_reads_site_files_and_skips_the_rest() {
        let tmp = tempfile::tempdir().unwrap();
        let dir = tmp.path();
        fs::write(dir.join("a.conf"), "A").unwrap();
        fs::write(dir.join("Bad_Name.conf"), "x").unwrap();
        fs::write(dir.join(".a.conf.tmp-1"), "partial").unwrap();
        fs::write(dir.join("README"), "x").unwrap();
        fs::create_dir(dir.join("d.conf")).unwrap();
        std::os::unix::fs::symlink("/etc/hostname", dir.join("l.conf")).unwrap();
        let listing = read_shared(dir).unwrap();
        assert_eq!(
            listing.files,
            BTreeMap::from([("a.conf".to_string(), Shared::Content(b"A".to_vec()))])
        );
        let mut skipped: Vec<_> = listing.skipped.iter().map(|(n, _)| n.as_str()).collect();
        skipped.sort();
        assert_eq!(skipped, ["Bad_Name.conf", "d.conf", "l.conf"]);
        assert!(read_shared(&dir.join("missing")).is_err());
    }

    #[test]
    fn local_writes_are_0644_and_leave_no_temp_files() {
        let tmp = tempfile::tempdir().unwrap();
        let dir = tmp.path();
        write_file(dir, "a.conf", b"one").unwrap();
        write_file(dir, "a.conf", b"two").unwrap();
        fs::write(dir.join("notes.txt"), "not ours").unwrap();
        fs::write(dir.join(".b.conf.agent-tmp-1-2"), "stale").unwrap();
        remove_stale_temp_files(dir).unwrap();
        let mode = fs::metadata(dir.join("a.conf"))
            .unwrap()
            .permissions()
            .mode();
        assert_eq!(mode & 0o777, 0o644);
        assert_eq!(
            read_local(dir).unwrap(),
            BTreeMap::from([("a.conf".to_string(), b"two".to_vec())])
        );
        let mut names: Vec<_> = fs::read_dir(dir)
            .unwrap()
            .map(|e| e.unwrap().file_name().into_string().unwrap())
            .collect();
        names.sort();
        assert_eq!(names, ["a.conf", "notes.txt"]);
        restore(dir, "a.conf", None).unwrap();
        remove_file(dir, "a.conf").unwrap();
        assert!(read_local(dir).unwrap().is_empty());
    }
}
