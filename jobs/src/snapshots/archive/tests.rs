//! The archive round trip, the old format, and the attacks: links planted in wp-content,
//! and directories swapped for links to `/etc` and to a state directory while tar walks or
//! fills the tree, many times over. These run as root (as the workers do) and give the
//! tree to `nobody`, the tenant.

use std::{
    collections::BTreeMap,
    os::unix::fs::{lchown, symlink, MetadataExt, PermissionsExt},
    path::{Path, PathBuf},
    sync::{
        atomic::{AtomicBool, Ordering},
        Arc,
    },
};

use super::*;

/// `nobody:nogroup` on Debian: the tenant of these tests.
const TENANT: u32 = 65534;

fn is_root() -> bool {
    nix::unistd::geteuid().is_root()
}

/// A temporary directory the tenant can traverse.
fn tree() -> tempfile::TempDir {
    let dir = tempfile::tempdir().unwrap();
    std::fs::set_permissions(dir.path(), std::fs::Permissions::from_mode(0o755)).unwrap();
    dir
}

/// Gives `dir` and everything under it (links themselves) to the tenant.
fn give_to_tenant(dir: &Path) {
    lchown(dir, Some(TENANT), Some(TENANT)).unwrap();
    if std::fs::symlink_metadata(dir).unwrap().is_dir() {
        for entry in std::fs::read_dir(dir).unwrap() {
            give_to_tenant(&entry.unwrap().path());
        }
    }
}

/// A site's wp-content: `uploads/2026/a.txt`, `sub/a.txt`, the tenant's.
fn wp_content(dir: &Path) -> PathBuf {
    let content = dir.join("wp-content");
    std::fs::create_dir_all(content.join("uploads/2026")).unwrap();
    std::fs::create_dir_all(content.join("sub")).unwrap();
    std::fs::write(content.join("uploads/2026/a.txt"), "first").unwrap();
    std::fs::write(content.join("sub/a.txt"), "mine").unwrap();
    give_to_tenant(&content);
    content
}

/// A stand-in for `var/`: root's, unreadable to anyone else, with a secret in it.
fn state_dir(dir: &Path) -> PathBuf {
    let state = dir.join("state");
    std::fs::create_dir(&state).unwrap();
    std::fs::write(state.join("master.key"), "root's secret").unwrap();
    std::fs::set_permissions(&state, std::fs::Permissions::from_mode(0o700)).unwrap();
    state
}

/// An archive's entries: path -> is it a link.
fn entries(archive: &Path) -> BTreeMap<String, bool> {
    let file = File::open(archive).unwrap();
    let mut tar = tar::Archive::new(GzDecoder::new(file));
    tar.entries()
        .unwrap()
        .map(|e| {
            let e = e.unwrap();
            let path = e.path().unwrap().display().to_string();
            (path, e.header().entry_type().is_symlink())
        })
        .collect()
}

type Fingerprint = BTreeMap<String, (u32, u32, u32)>;

/// What must never change outside the tenant's tree: each entry's owner and mode (not
/// times: other tests on this host add users, which rewrites /etc/passwd).
fn fingerprint(dir: &Path) -> Fingerprint {
    std::fs::read_dir(dir)
        .unwrap()
        .filter_map(|e| {
            let e = e.ok()?;
            let m = std::fs::symlink_metadata(e.path()).ok()?;
            Some((
                e.file_name().to_string_lossy().into_owned(),
                (m.uid(), m.gid(), m.mode()),
            ))
        })
        .collect()
}

/// Every entry present both times kept its owner and mode (others come and go: /etc's
/// lock and backup files while users are added).
fn unchanged(before: &Fingerprint, after: &Fingerprint) {
    for (name, was) in before {
        if let Some(now) = after.get(name) {
            assert_eq!(was, now, "{name} changed owner or mode");
        }
    }
}

/// Swaps `victim` (a directory) for a link to each of `targets` in turn, until stopped.
fn swapper(
    victim: PathBuf,
    targets: Vec<PathBuf>,
    stop: Arc<AtomicBool>,
) -> std::thread::JoinHandle<u64> {
    std::thread::spawn(move || {
        let aside = victim.with_file_name("sub.aside");
        let mut swaps = 0;
        while !stop.load(Ordering::Relaxed) {
            for target in &targets {
                if std::fs::rename(&victim, &aside).is_ok() {
                    if symlink(target, &victim).is_ok() {
                        swaps += 1;
                        std::thread::yield_now();
                        let _ = std::fs::remove_file(&victim);
                    }
                    let _ = std::fs::rename(&aside, &victim);
                } else {
                    std::thread::yield_now();
                }
            }
        }
        swaps
    })
}

#[test]
fn round_trip_keeps_links_as_links_and_drops_later_files() {
    if !is_root() {
        return eprintln!("skipped: archives are packed as the site's owner, which needs root");
    }
    let dir = tree();
    let content = wp_content(dir.path());
    let state = state_dir(dir.path());
    symlink("/etc", content.join("etc")).unwrap();
    symlink(&state, content.join("state")).unwrap();
    symlink(state.join("master.key"), content.join("key.txt")).unwrap();
    give_to_tenant(&content);

    let archive = dir.path().join("files.tar.gz");
    let written = pack(&content, &archive).unwrap();
    assert_eq!(written.bytes, std::fs::metadata(&archive).unwrap().len());
    assert_eq!(written.sha256.len(), 64);
    let seen = entries(&archive);
    for link in ["./etc", "./state", "./key.txt"] {
        assert_eq!(
            seen.get(link),
            Some(&true),
            "{link} archived as a link: {seen:?}"
        );
    }
    assert!(
        seen.keys()
            .all(|p| !p.contains("passwd") && !p.contains("master")),
        "{seen:?}"
    );

    std::fs::write(content.join("uploads/2026/a.txt"), "changed").unwrap();
    std::fs::write(content.join("later.txt"), "made after").unwrap();
    unpack(&archive, &content).unwrap();

    let read = |p: &str| std::fs::read_to_string(content.join(p)).unwrap();
    assert_eq!(read("uploads/2026/a.txt"), "first");
    assert!(!content.join("later.txt").exists());
    let link = std::fs::symlink_metadata(content.join("etc")).unwrap();
    assert!(link.file_type().is_symlink(), "unpacked as a link");
    // Every file was made by the tenant: nothing of root's in the tree.
    for p in ["", "uploads", "uploads/2026/a.txt", "sub/a.txt", "etc"] {
        let m = std::fs::symlink_metadata(content.join(p)).unwrap();
        assert_eq!((m.uid(), m.gid()), (TENANT, TENANT), "{p}");
    }
    assert!(!incoming(&content).exists() && !outgoing(&content).exists());
}

/// wp-content as the files step leaves it: the tenant's, in nginx's group (www-data, 33),
/// set-gid. A set-gid program the tenant packs must not come back set-gid to nginx's
/// group: tar runs with the tenant's own group, and the kernel drops the bit.
#[test]
fn a_restore_never_makes_a_file_set_gid_to_nginxs_group() {
    if !is_root() {
        return eprintln!("skipped: archives are unpacked as the site's owner, which needs root");
    }
    const WEB_GID: u32 = 33;
    let dir = tree();
    let content = wp_content(dir.path());
    let tool = content.join("uploads/tool");
    std::fs::write(&tool, "#!/bin/sh\nid -g\n").unwrap();
    lchown(&tool, Some(TENANT), Some(TENANT)).unwrap();
    std::fs::set_permissions(&tool, std::fs::Permissions::from_mode(0o2755)).unwrap();
    lchown(&content, Some(TENANT), Some(WEB_GID)).unwrap();
    std::fs::set_permissions(&content, std::fs::Permissions::from_mode(0o2750)).unwrap();

    let archive = dir.path().join("files.tar.gz");
    pack(&content, &archive).unwrap();
    unpack(&archive, &content).unwrap();
    let m = std::fs::metadata(content.join("uploads/tool")).unwrap();
    assert_eq!(
        m.gid(),
        WEB_GID,
        "in nginx's group, from the set-gid wp-content"
    );
    assert_eq!(m.mode() & 0o6000, 0, "restored mode {:o}", m.mode());
    assert_eq!(m.mode() & 0o777, 0o755);
}

#[test]
fn a_restore_killed_between_the_renames_completes() {
    if !is_root() {
        return eprintln!("skipped: needs root");
    }
    let dir = tree();
    let content = wp_content(dir.path());
    let archive = dir.path().join("files.tar.gz");
    pack(&content, &archive).unwrap();
    // The live content was moved aside, the new one not yet moved in.
    std::fs::rename(&content, outgoing(&content)).unwrap();
    std::fs::create_dir(incoming(&content)).unwrap();
    unpack(&archive, &content).unwrap();
    assert_eq!(
        std::fs::read_to_string(content.join("sub/a.txt")).unwrap(),
        "mine"
    );
    assert!(!outgoing(&content).exists());
    assert_eq!(std::fs::metadata(&content).unwrap().uid(), TENANT);
}

#[test]
fn archives_made_before_gnu_tar_still_restore() {
    if !is_root() {
        return eprintln!("skipped: needs root");
    }
    let dir = tree();
    let content = wp_content(dir.path());
    // What the previous code wrote: the tar crate's walk, `./` entries, gzip.
    let archive = dir.path().join("old.tar.gz");
    let gz = flate2::write::GzEncoder::new(File::create(&archive).unwrap(), Compression::fast());
    let mut old = tar::Builder::new(gz);
    old.follow_symlinks(false);
    old.mode(tar::HeaderMode::Complete);
    old.append_dir_all(".", &content).unwrap();
    old.into_inner().unwrap().finish().unwrap();
    std::fs::write(content.join("sub/a.txt"), "changed").unwrap();
    unpack(&archive, &content).unwrap();
    assert_eq!(
        std::fs::read_to_string(content.join("sub/a.txt")).unwrap(),
        "mine"
    );
}

#[test]
fn what_is_not_a_tenant_directory_is_refused() {
    if !is_root() {
        return eprintln!("skipped: needs root");
    }
    let dir = tree();
    let archive = dir.path().join("files.tar.gz");
    let root_owned = dir.path().join("root-owned");
    std::fs::create_dir(&root_owned).unwrap();
    let e = pack(&root_owned, &archive).unwrap_err();
    assert!(e.to_string().contains("belongs to root"), "{e}");
    let link = dir.path().join("wp-content");
    symlink(&root_owned, &link).unwrap();
    let e = pack(&link, &archive).unwrap_err();
    assert!(e.to_string().contains("not a directory"), "{e}");
}

/// A directory swapped for a link to /etc and to the state directory while tar walks the
/// tree, 200 times: no archive ever holds a file from outside.
#[test]
fn a_directory_swapped_for_a_link_during_pack_is_never_followed() {
    if !is_root() {
        return eprintln!("skipped: needs root");
    }
    let dir = tree();
    let content = wp_content(dir.path());
    let state = state_dir(dir.path());
    let stop = Arc::new(AtomicBool::new(false));
    let racer = swapper(
        content.join("sub"),
        vec!["/etc".into(), state.clone()],
        Arc::clone(&stop),
    );
    let archive = dir.path().join("files.tar.gz");
    let mut links_seen = 0;
    for _ in 0..200 {
        pack(&content, &archive).unwrap();
        for (path, is_link) in entries(&archive) {
            let allowed = [
                "./",
                "./uploads/",
                "./uploads/2026/",
                "./uploads/2026/a.txt",
                "./sub/",
                "./sub/a.txt",
                "./sub",
                "./sub.aside/",
                "./sub.aside/a.txt",
            ];
            assert!(allowed.contains(&path.as_str()), "{path} is not the site's");
            links_seen += usize::from(is_link);
        }
    }
    stop.store(true, Ordering::Relaxed);
    let swaps = racer.join().unwrap();
    assert!(swaps > 0, "the race ran");
    eprintln!("{swaps} swaps; {links_seen} archives caught the link itself");
}

/// The same race while a restore unpacks: tar writes only as the tenant, so neither /etc
/// nor the state directory changes, and nothing outside is chowned.
#[test]
fn a_directory_swapped_for_a_link_during_unpack_changes_nothing_outside() {
    if !is_root() {
        return eprintln!("skipped: needs root");
    }
    let dir = tree();
    let content = wp_content(dir.path());
    let state = state_dir(dir.path());
    let outside = dir.path().join("outside");
    std::fs::create_dir(&outside).unwrap();
    std::fs::write(outside.join("keep.txt"), "root's").unwrap();
    let archive = dir.path().join("files.tar.gz");
    pack(&content, &archive).unwrap();
    let dirs = [PathBuf::from("/etc"), state.clone(), outside.clone()];
    let before: Vec<Fingerprint> = dirs.iter().map(|d| fingerprint(d)).collect();
    let stop = Arc::new(AtomicBool::new(false));
    let racer = swapper(
        incoming(&content).join("sub"),
        vec!["/etc".into(), state.clone(), outside.clone()],
        Arc::clone(&stop),
    );
    let mut done = 0;
    for _ in 0..200 {
        // A restore the race broke fails and leaves the live content: both are fine.
        if unpack(&archive, &content).is_ok() {
            done += 1;
        }
    }
    stop.store(true, Ordering::Relaxed);
    racer.join().unwrap();
    for (dir, was) in dirs.iter().zip(&before) {
        unchanged(was, &fingerprint(dir));
        assert!(
            !dir.join("a.txt").exists(),
            "tar wrote into {}",
            dir.display()
        );
    }
    assert_eq!(
        fingerprint(&outside),
        before[2],
        "nothing came or went there"
    );
    assert!(done > 0, "some restores went through");
    // The race may have left `sub` aside in the last tree swapped in: a calm restore.
    unpack(&archive, &content).unwrap();
    assert_eq!(
        std::fs::read_to_string(content.join("sub/a.txt")).unwrap(),
        "mine"
    );
}
