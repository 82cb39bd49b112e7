//! The files step on the shared EFS file system: an access point per site, rooted at
//! `/sites/<slug>` with its own POSIX owner (uid/gid [`access_point_uid`]), and the site's
//! directory and generated config written on the mounted file system by the single-host
//! [`FilesDriver`] (the same code, pointed at `<mount>/sites`).
//!
//! The web nodes mount the whole file system; the access point is the site's own door into
//! it, confined to its directory: for per-site tools (SFTP, backups, a PHP pool per site)
//! that must not see other tenants' files. Access points are found by their tag
//! `mywp:site-id`, so a retry adopts what a lost answer created.

use std::sync::Arc;

use aws_sdk_efs::{
    error::ProvideErrorMetadata,
    types::{AccessPointDescription, CreationInfo, PosixUser, RootDirectory, Tag},
};

use super::{backup::SITE_TAG, step_error, AwsClients, AwsConfig};
use crate::drivers::{local::FilesDriver, Driver, Ensured, Removed, SiteSpec, StepError};

/// The POSIX uid and gid of a site's access point: 100000 + the site's id, above any
/// system or login user.
pub fn access_point_uid(site_id: i64) -> i64 {
    100_000 + site_id
}

/// The files step's driver in the AWS shape.
pub struct EfsFilesDriver {
    clients: AwsClients,
    cfg: Arc<AwsConfig>,
    directory: FilesDriver,
}

impl EfsFilesDriver {
    /// `directory` writes the site's directory under the mount's `sites/`.
    pub fn new(clients: AwsClients, cfg: Arc<AwsConfig>, directory: FilesDriver) -> Self {
        Self {
            clients,
            cfg,
            directory,
        }
    }

    /// The site's access points (one, unless something went wrong elsewhere).
    pub async fn access_points(
        &self,
        site: &SiteSpec,
    ) -> Result<Vec<AccessPointDescription>, StepError> {
        let id = site.id.to_string();
        let mut found = Vec::new();
        let mut token: Option<String> = None;
        loop {
            let out = self
                .clients
                .efs
                .describe_access_points()
                .file_system_id(&self.cfg.efs_id)
                .set_next_token(token.take())
                .send()
                .await
                .map_err(|e| {
                    step_error(&format!("list the access points of {}", self.cfg.efs_id), e)
                })?;
            found.extend(
                out.access_points()
                    .iter()
                    .filter(|ap| {
                        ap.tags()
                            .iter()
                            .any(|t| t.key() == SITE_TAG && t.value() == id)
                    })
                    .cloned(),
            );
            match out.next_token() {
                Some(next) if !next.is_empty() => token = Some(next.to_string()),
                _ => return Ok(found),
            }
        }
    }

    async fn ensure_access_point(&self, site: &SiteSpec) -> Result<String, StepError> {
        if let Some(ap) = self.access_points(site).await?.first() {
            let id = ap.access_point_id().unwrap_or_default().to_string();
            self.delete_all_but(site, &id).await?;
            return Ok(id);
        }
        let uid = access_point_uid(site.id);
        let tag = |k: &str, v: &str| {
            Tag::builder()
                .key(k)
                .value(v)
                .build()
                .map_err(StepError::permanent)
        };
        let out = self
            .clients
            .efs
            .create_access_point()
            .client_token(format!("mywp-site-{}", site.id))
            .file_system_id(&self.cfg.efs_id)
            .posix_user(
                PosixUser::builder()
                    .uid(uid)
                    .gid(uid)
                    .build()
                    .map_err(StepError::permanent)?,
            )
            .root_directory(
                RootDirectory::builder()
                    .path(format!("/sites/{}", site.slug))
                    .creation_info(
                        CreationInfo::builder()
                            .owner_uid(uid)
                            .owner_gid(uid)
                            .permissions("0755")
                            .build()
                            .map_err(StepError::permanent)?,
                    )
                    .build(),
            )
            .tags(tag("Name", &format!("mywp-{}", site.slug))?)
            .tags(tag(SITE_TAG, &site.id.to_string())?)
            .send()
            .await;
        match out {
            Ok(out) => {
                // EFS is idempotent on the client token, but a service that is not (or a
                // retry after a lost answer there) can leave a second one: keep this one.
                let id = out.access_point_id().unwrap_or_default().to_string();
                self.delete_all_but(site, &id).await?;
                Ok(id)
            }
            // The same client token: a create whose answer was lost. Adopt it.
            Err(e) if e.code() == Some("AccessPointAlreadyExists") => self
                .access_points(site)
                .await?
                .first()
                .and_then(|ap| ap.access_point_id().map(str::to_string))
                .ok_or_else(|| StepError::transient("the access point is not listed yet")),
            Err(e) => Err(step_error(
                &format!(
                    "create the access point of {} on {}",
                    site.slug, self.cfg.efs_id
                ),
                e,
            )),
        }
    }

    /// Deletes the site's access points other than `keep`.
    async fn delete_all_but(&self, site: &SiteSpec, keep: &str) -> Result<(), StepError> {
        for ap in self.access_points(site).await? {
            match ap.access_point_id() {
                Some(id) if id != keep => self.delete_access_point(id).await?,
                _ => {}
            }
        }
        Ok(())
    }

    async fn delete_access_point(&self, id: &str) -> Result<(), StepError> {
        match self
            .clients
            .efs
            .delete_access_point()
            .access_point_id(id)
            .send()
            .await
        {
            Ok(_) => Ok(()),
            Err(e) if e.code() == Some("AccessPointNotFound") => Ok(()),
            Err(e) => Err(step_error(&format!("delete access point {id}"), e)),
        }
    }
}

impl Driver for EfsFilesDriver {
    async fn ensure(&self, site: &SiteSpec) -> Result<Ensured, StepError> {
        let ap = self.ensure_access_point(site).await?;
        let mount = &self.cfg.efs_mount;
        if !mount.is_dir() {
            return Err(StepError::transient(format!(
                "the file system {} is not mounted at {}",
                self.cfg.efs_id,
                mount.display()
            )));
        }
        for dir in [self.cfg.sites_dir(), self.cfg.server_blocks_dir()] {
            std::fs::create_dir_all(&dir).map_err(|e| {
                StepError::transient(format!("cannot create {}: {e}", dir.display()))
            })?;
        }
        match self.directory.ensure(site).await? {
            Ensured::Done { resource } => Ok(Ensured::Done {
                resource: format!("efs:{}/{ap} {resource}", self.cfg.efs_id),
            }),
            waiting => Ok(waiting),
        }
    }

    async fn remove(&self, site: &SiteSpec) -> Result<Removed, StepError> {
        if let Removed::Waiting {
            retry_after,
            reason,
        } = self.directory.remove(site).await?
        {
            return Ok(Removed::Waiting {
                retry_after,
                reason,
            });
        }
        for ap in self.access_points(site).await? {
            if let Some(id) = ap.access_point_id() {
                self.delete_access_point(id).await?;
            }
        }
        Ok(Removed::Gone)
    }
}
