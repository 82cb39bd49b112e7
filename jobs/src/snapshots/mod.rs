//! Logical per-site snapshots: the site's database (a `mariadb-dump`) and its wp-content
//! (a tar archive), both gzip-compressed, with a manifest, kept in a [`Vault`]: a local
//! directory on a single host, the site's S3 prefix in the AWS shape. They are taken on a
//! schedule or on request, listed in the panel, and restored from it; a restore first
//! takes a snapshot of what it replaces.
//!
//! The pipeline runs them (`pipeline::backups`) under the site's lease, so a snapshot never
//! races the site's provisioning, its deletion or a restore. The backup step makes the
//! site's place in the vault, and its removal deletes every snapshot of the site.

mod archive;
mod dump;
mod vault;

use std::{io::Write, path::PathBuf, sync::Arc};

use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};

pub use vault::{Download, LocalVault, SnapshotKey, Vault};

use crate::{
    domain::{SiteSlug, SiteSpec, SnapshotFacts, StepError},
    secrets::MasterKey,
    sitedb::{DbNamespace, DbServer},
};

/// The files of a snapshot.
pub const DATABASE_FILE: &str = "database.sql.gz";
pub const FILES_FILE: &str = "files.tar.gz";
pub const MANIFEST_FILE: &str = "manifest.json";

/// What a snapshot's `manifest.json` says: enough to know what it is without the panel.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Manifest {
    pub format: u32,
    pub site_id: i64,
    pub slug: String,
    pub snapshot_id: i64,
    pub taken_at_ms: i64,
    pub database: Part,
    pub files: Part,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Part {
    pub name: String,
    pub bytes: u64,
    pub sha256: String,
}

/// How many bytes went through a [`HashingWriter`], and their SHA-256.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Written {
    pub bytes: u64,
    pub sha256: String,
}

/// A writer that counts and hashes what it writes.
pub struct HashingWriter<W> {
    inner: W,
    hash: Sha256,
    bytes: u64,
}

impl<W: Write> HashingWriter<W> {
    pub fn new(inner: W) -> Self {
        Self {
            inner,
            hash: Sha256::new(),
            bytes: 0,
        }
    }

    /// Flushes and says what was written.
    pub fn finish(mut self) -> std::io::Result<Written> {
        self.inner.flush()?;
        Ok(Written {
            bytes: self.bytes,
            sha256: hex::encode(self.hash.finalize()),
        })
    }
}

impl<W: Write> Write for HashingWriter<W> {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        let n = self.inner.write(buf)?;
        self.hash.update(&buf[..n]);
        self.bytes += n as u64;
        Ok(n)
    }

    fn flush(&mut self) -> std::io::Result<()> {
        self.inner.flush()
    }
}

/// The SHA-256 of the file at `path`.
fn file_sha256(path: &std::path::Path) -> std::io::Result<Written> {
    let mut writer = HashingWriter::new(std::io::sink());
    std::io::copy(&mut std::fs::File::open(path)?, &mut writer)?;
    writer.finish()
}

/// Where the sites' content is: what a snapshot reads and a restore writes.
#[derive(Debug, Clone)]
pub struct SiteContent {
    /// The sites' directories: `<sites_dir>/<slug>/wp-content`.
    pub sites_dir: PathBuf,
    /// The server of the sites' databases.
    pub db: DbServer,
    /// What sets this panel's database names apart on that server.
    pub db_namespace: DbNamespace,
    /// The sites' database passwords derive from it.
    pub master_key: MasterKey,
}

impl SiteContent {
    fn site_dir(&self, slug: &SiteSlug) -> PathBuf {
        self.sites_dir.join(slug.as_str())
    }

    fn database(&self, site: &SiteSpec) -> Result<dump::SiteDatabase, StepError> {
        dump::SiteDatabase::of(site, &self.db_namespace, &self.master_key, &self.db)
    }
}

/// Takes and restores snapshots of the sites whose content [`SiteContent`] locates.
pub struct Snapshots {
    web: SiteContent,
    vault: Arc<dyn Vault>,
    /// Where dumps and archives are staged; each operation gets its own directory.
    work_dir: PathBuf,
}

impl Snapshots {
    /// `work_dir` stages each snapshot before it goes to the vault: it needs room for the
    /// biggest site's compressed database and files.
    pub fn new(web: SiteContent, vault: Arc<dyn Vault>, work_dir: PathBuf) -> Self {
        Self {
            web,
            vault,
            work_dir,
        }
    }

    /// Snapshots on this host: in `<state>/snapshots/`, staged in `<state>/snapshot-work/`.
    pub fn local(web: SiteContent, state_dir: &std::path::Path) -> Self {
        let vault = Arc::new(LocalVault::new(state_dir.join("snapshots")));
        Self::new(web, vault, state_dir.join("snapshot-work"))
    }

    pub fn vault(&self) -> &Arc<dyn Vault> {
        &self.vault
    }

    fn work(&self) -> Result<tempfile::TempDir, StepError> {
        use std::os::unix::fs::DirBuilderExt;
        std::fs::DirBuilder::new()
            .recursive(true)
            .mode(0o700)
            .create(&self.work_dir)
            .map_err(|e| {
                StepError::transient(format!("cannot create {}: {e}", self.work_dir.display()))
            })?;
        remove_stale_work(&self.work_dir);
        tempfile::Builder::new()
            .prefix("op-")
            .tempdir_in(&self.work_dir)
            .map_err(|e| {
                StepError::transient(format!("cannot work in {}: {e}", self.work_dir.display()))
            })
    }

    /// Dumps the site's database and archives its wp-content into the vault as snapshot
    /// `id`. Taking it again overwrites it (a worker killed half-way starts over).
    pub async fn take(&self, site: &SiteSpec, id: i64) -> Result<SnapshotFacts, StepError> {
        let work = self.work()?;
        let (db_file, files_file) = (
            work.path().join(DATABASE_FILE),
            work.path().join(FILES_FILE),
        );
        let database = self.web.database(site)?;
        let content = self.web.site_dir(&site.slug).join("wp-content");
        let (dir, db_out, files_out) = (
            work.path().to_path_buf(),
            db_file.clone(),
            files_file.clone(),
        );
        let (db, files) = blocking(move || {
            let db = database.dump(&dir, &db_out)?;
            let files = archive::pack(&content, &files_out)?;
            Ok((db, files))
        })
        .await?;
        let key = SnapshotKey {
            slug: site.slug.clone(),
            id,
        };
        let manifest = Manifest {
            format: 1,
            site_id: site.id,
            slug: site.slug.to_string(),
            snapshot_id: id,
            taken_at_ms: crate::store::now_ms(),
            database: Part {
                name: DATABASE_FILE.into(),
                bytes: db.bytes,
                sha256: db.sha256.clone(),
            },
            files: Part {
                name: FILES_FILE.into(),
                bytes: files.bytes,
                sha256: files.sha256.clone(),
            },
        };
        let manifest_file = work.path().join(MANIFEST_FILE);
        let json = serde_json::to_vec_pretty(&manifest).map_err(StepError::permanent)?;
        std::fs::write(&manifest_file, json).map_err(|e| {
            StepError::transient(format!("cannot write {}: {e}", manifest_file.display()))
        })?;
        self.vault.put(&key, DATABASE_FILE, &db_file).await?;
        self.vault.put(&key, FILES_FILE, &files_file).await?;
        // Last: a snapshot with a manifest is complete.
        self.vault.put(&key, MANIFEST_FILE, &manifest_file).await?;
        Ok(SnapshotFacts {
            database_bytes: db.bytes as i64,
            database_sha256: db.sha256,
            files_bytes: files.bytes as i64,
            files_sha256: files.sha256,
        })
    }

    /// Replaces the site's database and wp-content by snapshot `id`'s, after checking both
    /// files against the checksums recorded when it was taken.
    pub async fn restore(
        &self,
        site: &SiteSpec,
        id: i64,
        expect: &SnapshotFacts,
    ) -> Result<(), StepError> {
        let work = self.work()?;
        let key = SnapshotKey {
            slug: site.slug.clone(),
            id,
        };
        let (db_file, files_file) = (
            work.path().join(DATABASE_FILE),
            work.path().join(FILES_FILE),
        );
        self.vault.get(&key, DATABASE_FILE, &db_file).await?;
        self.vault.get(&key, FILES_FILE, &files_file).await?;
        let database = self.web.database(site)?;
        let site_dir = self.web.site_dir(&site.slug);
        let content = site_dir.join("wp-content");
        let dir = work.path().to_path_buf();
        let expect = expect.clone();
        blocking(move || {
            verify(&db_file, &expect.database_sha256, id)?;
            verify(&files_file, &expect.files_sha256, id)?;
            // Visitors get a short 503 until the database and the files match again
            // (dataplane/prepend.php), whatever happens next.
            let _maintenance = Maintenance::start(&site_dir)?;
            database.load(&dir, &db_file)?;
            archive::unpack(&files_file, &content)
        })
        .await
    }

    /// Takes the site's maintenance page down if a restore left it up: call it only when no
    /// restore of the site runs (under the site's lease, with none under way).
    pub fn end_maintenance(&self, slug: &SiteSlug) {
        let marker = Maintenance::path(&self.web.site_dir(slug));
        match std::fs::remove_file(&marker) {
            Ok(()) => tracing::warn!(site = %slug, "took down a maintenance page a restore left"),
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => {}
            Err(e) => {
                tracing::warn!(path = %marker.display(), error = %e, "cannot end the maintenance page")
            }
        }
    }

    /// Deletes snapshot `id` of the site.
    pub async fn forget(&self, slug: &SiteSlug, id: i64) -> Result<(), StepError> {
        self.vault
            .delete(&SnapshotKey {
                slug: slug.clone(),
                id,
            })
            .await
    }
}

/// `<site dir>/maintenance` while it lives: the site answers 503 "being restored". A worker
/// killed meanwhile leaves it: the site's next pipeline run takes it down once no restore is
/// under way ([`Snapshots::end_maintenance`]).
struct Maintenance(PathBuf);

impl Maintenance {
    fn path(site_dir: &std::path::Path) -> PathBuf {
        site_dir.join("maintenance")
    }

    fn start(site_dir: &std::path::Path) -> Result<Self, StepError> {
        let path = Self::path(site_dir);
        std::fs::write(&path, "a restore is in progress\n")
            .map_err(|e| StepError::transient(format!("cannot write {}: {e}", path.display())))?;
        Ok(Self(path))
    }
}

impl Drop for Maintenance {
    fn drop(&mut self) {
        if let Err(e) = std::fs::remove_file(&self.0) {
            tracing::warn!(path = %self.0.display(), error = %e, "cannot end the maintenance page");
        }
    }
}

fn verify(path: &std::path::Path, sha256: &str, id: i64) -> Result<(), StepError> {
    let got = file_sha256(path)
        .map_err(|e| StepError::transient(format!("cannot read {}: {e}", path.display())))?;
    if got.sha256 == sha256 {
        Ok(())
    } else {
        Err(StepError::Permanent(format!(
            "snapshot {id} is damaged: {} does not match the checksum recorded when it was taken",
            path.file_name().unwrap_or_default().to_string_lossy()
        )))
    }
}

/// What a killed worker left in the work directory: operation directories untouched for a
/// day (no operation takes that long; a live one writes as it goes).
fn remove_stale_work(dir: &std::path::Path) {
    let day = std::time::Duration::from_secs(24 * 3600);
    for path in crate::fsutil::stale_entries(dir, "op-", day) {
        if let Err(e) = std::fs::remove_dir_all(&path) {
            tracing::warn!(path = %path.display(), error = %e, "cannot remove stale snapshot work");
        }
    }
}

/// Runs blocking work (child processes, archives) off the async threads.
async fn blocking<T: Send + 'static>(
    op: impl FnOnce() -> Result<T, StepError> + Send + 'static,
) -> Result<T, StepError> {
    tokio::task::spawn_blocking(op)
        .await
        .map_err(|e| StepError::transient(format!("the snapshot task failed: {e}")))?
}
