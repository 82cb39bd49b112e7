//! Where snapshots are kept: a directory on this host (single host) or the site's prefix in
//! the shared S3 bucket (AWS, `drivers::aws::S3Vault`). A snapshot is a few named files
//! under `<site>/<snapshot id>/`; its manifest is written last, so a snapshot without one
//! is incomplete.

use std::path::{Path, PathBuf};

use futures::{future::BoxFuture, FutureExt};

use crate::domain::{SiteSlug, StepError};

/// One snapshot's place in a vault.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SnapshotKey {
    pub slug: SiteSlug,
    pub id: i64,
}

/// How a customer downloads a snapshot file.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Download {
    /// A file of this host, for the panel to send.
    File(PathBuf),
    /// A link that works for a few minutes (a presigned S3 URL).
    Url(String),
}

/// A place that keeps snapshot files.
pub trait Vault: Send + Sync {
    /// Where `slug`'s snapshots are, for people (`/var/lib/mywp/snapshots/blog/`,
    /// `s3://bucket/sites/blog/snapshots/`).
    fn location(&self, slug: &SiteSlug) -> String;
    /// Makes room for `slug`'s snapshots (nothing to do where space is implicit).
    fn prepare<'a>(&'a self, slug: &'a SiteSlug) -> BoxFuture<'a, Result<(), StepError>>;
    /// Stores the file at `from` as `name` of snapshot `key`.
    fn put<'a>(
        &'a self,
        key: &'a SnapshotKey,
        name: &'a str,
        from: &'a Path,
    ) -> BoxFuture<'a, Result<(), StepError>>;
    /// Copies `name` of snapshot `key` into the file `to`.
    fn get<'a>(
        &'a self,
        key: &'a SnapshotKey,
        name: &'a str,
        to: &'a Path,
    ) -> BoxFuture<'a, Result<(), StepError>>;
    /// How `name` of snapshot `key` is downloaded, saved as `save_as` on the customer's side.
    fn download<'a>(
        &'a self,
        key: &'a SnapshotKey,
        name: &'a str,
        save_as: &'a str,
    ) -> BoxFuture<'a, Result<Download, StepError>>;
    /// Deletes snapshot `key`; succeeds when it is already gone.
    fn delete<'a>(&'a self, key: &'a SnapshotKey) -> BoxFuture<'a, Result<(), StepError>>;
    /// Deletes every snapshot of `slug`; succeeds when there is none.
    fn delete_site<'a>(&'a self, slug: &'a SiteSlug) -> BoxFuture<'a, Result<(), StepError>>;
}

/// Snapshots in a directory of this host: `<root>/<slug>/<id>/<name>`, readable by the
/// panel's user only (dumps hold the sites' data, password hashes included).
#[derive(Debug, Clone)]
pub struct LocalVault {
    root: PathBuf,
}

impl LocalVault {
    pub fn new(root: PathBuf) -> Self {
        Self { root }
    }

    fn site_dir(&self, slug: &SiteSlug) -> Result<PathBuf, StepError> {
        Ok(self.root.join(slug.as_str()))
    }

    fn snapshot_dir(&self, key: &SnapshotKey) -> Result<PathBuf, StepError> {
        Ok(self.site_dir(&key.slug)?.join(key.id.to_string()))
    }
}

fn io(what: &str, path: &Path, e: std::io::Error) -> StepError {
    StepError::Transient(format!("cannot {what} {}: {e}", path.display()))
}

fn private_dir(path: &Path) -> Result<(), StepError> {
    use std::os::unix::fs::{DirBuilderExt, PermissionsExt};
    std::fs::DirBuilder::new()
        .recursive(true)
        .mode(0o700)
        .create(path)
        .map_err(|e| io("create", path, e))?;
    std::fs::set_permissions(path, std::fs::Permissions::from_mode(0o700))
        .map_err(|e| io("restrict", path, e))
}

fn remove_tree(path: &Path) -> Result<(), StepError> {
    match std::fs::remove_dir_all(path) {
        Err(e) if e.kind() != std::io::ErrorKind::NotFound => Err(io("remove", path, e)),
        _ => Ok(()),
    }
}

/// A blocking file operation, off the async threads.
fn blocking<'a>(
    op: impl FnOnce() -> Result<(), StepError> + Send + 'static,
) -> BoxFuture<'a, Result<(), StepError>> {
    async move {
        tokio::task::spawn_blocking(op)
            .await
            .map_err(|e| StepError::transient(format!("the vault task failed: {e}")))?
    }
    .boxed()
}

impl Vault for LocalVault {
    fn location(&self, slug: &SiteSlug) -> String {
        format!("{}/", self.root.join(slug.as_str()).display())
    }

    fn prepare<'a>(&'a self, slug: &'a SiteSlug) -> BoxFuture<'a, Result<(), StepError>> {
        let dir = self.site_dir(slug);
        let root = self.root.clone();
        blocking(move || {
            private_dir(&root)?;
            private_dir(&dir?)
        })
    }

    fn put<'a>(
        &'a self,
        key: &'a SnapshotKey,
        name: &'a str,
        from: &'a Path,
    ) -> BoxFuture<'a, Result<(), StepError>> {
        let dir = self.snapshot_dir(key);
        let (name, from) = (name.to_string(), from.to_path_buf());
        blocking(move || {
            let dir = dir?;
            private_dir(&dir)?;
            let to = dir.join(&name);
            // The work directory is usually on the same file system: a rename is enough.
            if std::fs::rename(&from, &to).is_err() {
                let tmp = dir.join(format!(".{name}.partial"));
                std::fs::copy(&from, &tmp).map_err(|e| io("write", &tmp, e))?;
                std::fs::rename(&tmp, &to).map_err(|e| io("write", &to, e))?;
            }
            Ok(())
        })
    }

    fn get<'a>(
        &'a self,
        key: &'a SnapshotKey,
        name: &'a str,
        to: &'a Path,
    ) -> BoxFuture<'a, Result<(), StepError>> {
        let dir = self.snapshot_dir(key);
        let (name, to) = (name.to_string(), to.to_path_buf());
        blocking(move || {
            let from = dir?.join(&name);
            match std::fs::copy(&from, &to) {
                Ok(_) => Ok(()),
                Err(e) if e.kind() == std::io::ErrorKind::NotFound => Err(StepError::Permanent(
                    format!("the snapshot file {} is missing", from.display()),
                )),
                Err(e) => Err(io("read", &from, e)),
            }
        })
    }

    fn download<'a>(
        &'a self,
        key: &'a SnapshotKey,
        name: &'a str,
        _save_as: &'a str,
    ) -> BoxFuture<'a, Result<Download, StepError>> {
        async move {
            let path = self.snapshot_dir(key)?.join(name);
            if path.is_file() {
                Ok(Download::File(path))
            } else {
                Err(StepError::Permanent(format!(
                    "the snapshot file {} is missing",
                    path.display()
                )))
            }
        }
        .boxed()
    }

    fn delete<'a>(&'a self, key: &'a SnapshotKey) -> BoxFuture<'a, Result<(), StepError>> {
        let dir = self.snapshot_dir(key);
        blocking(move || remove_tree(&dir?))
    }

    fn delete_site<'a>(&'a self, slug: &'a SiteSlug) -> BoxFuture<'a, Result<(), StepError>> {
        let dir = self.site_dir(slug);
        blocking(move || remove_tree(&dir?))
    }
}
