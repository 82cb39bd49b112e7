//! What a pass changes, computed from the two directories' contents: no I/O here.

use std::collections::{BTreeMap, HashMap};

use mywp_jobs::drivers::local::slug_of_server_block;
use sha2::{Digest as _, Sha256};

/// Whether `file_name` names a site's server block, `<slug>.conf` (the contract the
/// provisioning worker writes by: [`slug_of_server_block`]). In the local directory,
/// exactly these files are the agent's: it writes, replaces and deletes them, and no others.
pub fn is_site_file(file_name: &str) -> bool {
    slug_of_server_block(file_name).is_some()
}

/// The SHA-256 of a file's content: how a rejected block is remembered.
pub type ContentHash = [u8; 32];

pub fn content_hash(bytes: &[u8]) -> ContentHash {
    Sha256::digest(bytes).into()
}

/// A site file seen in the shared directory.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Shared {
    /// Read completely: this is what the local copy must be.
    Content(Vec<u8>),
    /// There, but not read completely this pass (an I/O error, or it changed while being
    /// read): its local copy, if any, is left exactly as it is.
    Held(String),
}

/// What a pass does to the local directory.
#[derive(Debug, Default, Clone, PartialEq, Eq)]
pub struct ChangeSet {
    /// Site files the local directory does not have yet, with their content.
    pub added: BTreeMap<String, Vec<u8>>,
    /// Site files whose local copy differs, with the shared content.
    pub changed: BTreeMap<String, Vec<u8>>,
    /// Local site files that are no longer in the shared directory.
    pub removed: Vec<String>,
}

impl ChangeSet {
    pub fn is_empty(&self) -> bool {
        self.added.is_empty() && self.changed.is_empty() && self.removed.is_empty()
    }

    /// The files to write (added and changed), in name order.
    pub fn writes(&self) -> Vec<(String, Vec<u8>)> {
        let mut writes: Vec<_> = self
            .added
            .iter()
            .chain(&self.changed)
            .map(|(name, content)| (name.clone(), content.clone()))
            .collect();
        writes.sort_by(|a, b| a.0.cmp(&b.0));
        writes
    }
}

/// The change set taking `local` (the agent's files in the local directory) to `shared`.
///
/// A shared file whose content was rejected before (same hash in `rejected`) is not tried
/// again: its local copy stays as it is until the shared content changes. A [`Shared::Held`]
/// file is left alone. Only a name absent from `shared` is removed, so nothing is deleted
/// because of a file that could not be read.
pub fn plan(
    shared: &BTreeMap<String, Shared>,
    local: &BTreeMap<String, Vec<u8>>,
    rejected: &HashMap<String, ContentHash>,
) -> ChangeSet {
    let mut set = ChangeSet::default();
    for (name, file) in shared {
        let Shared::Content(content) = file else {
            continue;
        };
        if rejected.get(name) == Some(&content_hash(content)) {
            continue;
        }
        match local.get(name) {
            None => {
                set.added.insert(name.clone(), content.clone());
            }
            Some(current) if current != content => {
                set.changed.insert(name.clone(), content.clone());
            }
            Some(_) => {}
        }
    }
    set.removed = local
        .keys()
        .filter(|name| !shared.contains_key(*name))
        .cloned()
        .collect();
    set
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn site_file_names() {
        for ok in [
            "a.conf",
            "blog.conf",
            "my-blog-2.conf",
            "0.conf",
            &format!("{}.conf", "a".repeat(40)),
        ] {
            assert!(is_site_file(ok), "{ok} should be a site file");
        }
        for bad in [
            ".conf",
            "a",
            "a.conf.bak",
            "a.CONF",
            "Blog.conf",
            "-blog.conf",
            "blog-.conf",
            "-.conf",
            "my_blog.conf",
            "my.blog.conf",
            "../a.conf",
            "a/b.conf",
            ".a.conf",
            ".a.conf.tmp-1-2",
            "a b.conf",
            "é.conf",
            &format!("{}.conf", "a".repeat(41)),
        ] {
            assert!(!is_site_file(bad), "{bad} should not be a site file");
        }
    }

    fn shared(files: &[(&str, &str)]) -> BTreeMap<String, Shared> {
        files
            .iter()
            .map(|(n, c)| (n.to_string(), Shared::Content(c.as_bytes().to_vec())))
            .collect()
    }

    fn local(files: &[(&str, &str)]) -> BTreeMap<String, Vec<u8>> {
        files
            .iter()
            .map(|(n, c)| (n.to_string(), c.as_bytes().to_vec()))
            .collect()
    }

    fn names(map: &BTreeMap<String, Vec<u8>>) -> Vec<&str> {
        map.keys().map(String::as_str).collect()
    }

    #[test]
    fn added_changed_removed_and_unchanged() {
        let set = plan(
            &shared(&[("a.conf", "A"), ("b.conf", "B2"), ("c.conf", "C")]),
            &local(&[("b.conf", "B1"), ("c.conf", "C"), ("d.conf", "D")]),
            &HashMap::new(),
        );
        assert_eq!(names(&set.added), ["a.conf"]);
        assert_eq!(set.added["a.conf"], b"A");
        assert_eq!(names(&set.changed), ["b.conf"]);
        assert_eq!(set.changed["b.conf"], b"B2");
        assert_eq!(set.removed, ["d.conf"]);
        let writes: Vec<_> = set.writes().into_iter().map(|(n, _)| n).collect();
        assert_eq!(writes, ["a.conf", "b.conf"]);
    }

    #[test]
    fn in_sync_is_empty() {
        let files = [("a.conf", "A"), ("b.conf", "B")];
        let set = plan(&shared(&files), &local(&files), &HashMap::new());
        assert!(set.is_empty(), "{set:?}");
        assert!(plan(&BTreeMap::new(), &BTreeMap::new(), &HashMap::new()).is_empty());
    }

    #[test]
    fn empty_shared_dir_removes_every_local_site_file() {
        let set = plan(
            &BTreeMap::new(),
            &local(&[("a.conf", "A"), ("b.conf", "B")]),
            &HashMap::new(),
        );
        assert_eq!(set.removed, ["a.conf", "b.conf"]);
        assert!(set.added.is_empty() && set.changed.is_empty());
    }

    #[test]
    fn a_held_file_is_neither_changed_nor_removed() {
        let mut files = shared(&[("a.conf", "A2")]);
        files.insert("b.conf".into(), Shared::Held("changed while read".into()));
        files.insert("c.conf".into(), Shared::Held("EIO".into()));
        let set = plan(
            &files,
            &local(&[("a.conf", "A1"), ("b.conf", "B")]),
            &HashMap::new(),
        );
        assert_eq!(names(&set.changed), ["a.conf"]);
        assert!(set.added.is_empty(), "{set:?}");
        assert!(set.removed.is_empty(), "{set:?}");
    }

    #[test]
    fn a_rejected_content_is_skipped_until_it_changes() {
        let rejected: HashMap<_, _> = [
            ("new.conf".to_string(), content_hash(b"broken")),
            ("old.conf".to_string(), content_hash(b"broken too")),
        ]
        .into();
        let set = plan(
            &shared(&[("new.conf", "broken"), ("old.conf", "broken too")]),
            &local(&[("old.conf", "last good")]),
            &rejected,
        );
        assert!(set.is_empty(), "rejected contents are not retried: {set:?}");

        let set = plan(
            &shared(&[("new.conf", "fixed"), ("old.conf", "fixed too")]),
            &local(&[("old.conf", "last good")]),
            &rejected,
        );
        assert_eq!(names(&set.added), ["new.conf"]);
        assert_eq!(names(&set.changed), ["old.conf"]);
    }

    #[test]
    fn a_rejected_file_deleted_from_the_shared_dir_is_removed() {
        let rejected: HashMap<_, _> = [("a.conf".to_string(), content_hash(b"broken"))].into();
        let set = plan(
            &BTreeMap::new(),
            &local(&[("a.conf", "last good")]),
            &rejected,
        );
        assert_eq!(set.removed, ["a.conf"]);
    }
}
