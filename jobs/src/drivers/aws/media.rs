//! The media step: the site's prefix `sites/<slug>/` in the shared S3 bucket, marked by a
//! small object `sites/<slug>/.mywp` that carries the site's id. Removal deletes every
//! object version and delete marker under the prefix, a page (≤ 1000) at a time, so a
//! versioned bucket keeps nothing of a deleted site either.

use std::sync::Arc;

use aws_sdk_s3::{
    primitives::ByteStream,
    types::{Delete, ObjectIdentifier},
};

use super::{classify, step_error, AwsClients, AwsConfig};
use crate::{
    domain::SiteSlug,
    drivers::{Driver, Ensured, Removed, SiteSpec, StepError},
};

/// The marker object's name inside the prefix.
pub const MARKER_NAME: &str = ".mywp";
/// The marker's user metadata key holding the site's id (`x-amz-meta-mywp-site-id`).
pub const SITE_ID_METADATA: &str = "mywp-site-id";

/// The site's prefix in the media bucket: `sites/<slug>/` (the trailing slash keeps
/// `blog` from matching `blog-2`).
pub fn media_prefix(slug: &SiteSlug) -> String {
    format!("sites/{slug}/")
}

/// The media step's driver.
pub struct MediaDriver {
    clients: AwsClients,
    cfg: Arc<AwsConfig>,
}

impl MediaDriver {
    pub fn new(clients: AwsClients, cfg: Arc<AwsConfig>) -> Self {
        Self { clients, cfg }
    }

    async fn ensure_site(&self, site: &SiteSpec) -> Result<Ensured, StepError> {
        let bucket = &self.cfg.media_bucket;
        let prefix = media_prefix(&site.slug);
        let key = format!("{prefix}{MARKER_NAME}");
        let resource = format!("s3://{bucket}/{prefix}");
        let id = site.id.to_string();
        let what = format!("read s3://{bucket}/{key}");
        match self
            .clients
            .s3
            .head_object()
            .bucket(bucket)
            .key(&key)
            .send()
            .await
        {
            Ok(head) => {
                let owner = head.metadata().and_then(|m| m.get(SITE_ID_METADATA));
                return match owner {
                    Some(owner) if *owner == id => Ok(Ensured::Done { resource }),
                    // Another site of the same name left its media behind: never mix
                    // two tenants' files.
                    Some(owner) => Err(StepError::Permanent(format!(
                        "the media prefix {resource} belongs to site {owner}, not to this \
                         site ({id}): delete that site's media first"
                    ))),
                    // A marker without an owner: not ours to adopt silently.
                    None => Err(StepError::Permanent(format!(
                        "{resource} exists but its marker names no site: delete it first"
                    ))),
                };
            }
            Err(e) if e.as_service_error().is_some_and(|e| e.is_not_found()) => {}
            Err(e) => return Err(step_error(&what, e)),
        }
        self.clients
            .s3
            .put_object()
            .bucket(bucket)
            .key(&key)
            .metadata(SITE_ID_METADATA, &id)
            .content_type("text/plain; charset=utf-8")
            .body(ByteStream::from(
                format!("MyWP media of site {} (id {id})\n", site.slug).into_bytes(),
            ))
            .send()
            .await
            .map_err(|e| step_error(&format!("write s3://{bucket}/{key}"), e))?;
        Ok(Ensured::Done { resource })
    }

    /// Deletes every version and delete marker under the prefix, so that nothing of the
    /// site is left even in a versioned bucket (the AWS shape's bucket keeps versions).
    async fn remove_site(&self, site: &SiteSpec) -> Result<(), StepError> {
        let prefix = media_prefix(&site.slug);
        delete_every_version(&self.clients.s3, &self.cfg.media_bucket, &prefix).await
    }
}

/// Deletes every object version and delete marker under `prefix` in `bucket`, a page
/// (≤ 1000, DeleteObjects' limit too) at a time; succeeds when nothing is there.
pub async fn delete_every_version(
    s3: &aws_sdk_s3::Client,
    bucket: &str,
    prefix: &str,
) -> Result<(), StepError> {
    loop {
        // Always the first page: what this pass deletes is gone from the next listing.
        let page = s3
            .list_object_versions()
            .bucket(bucket)
            .prefix(prefix)
            .send()
            .await
            .map_err(|e| step_error(&format!("list s3://{bucket}/{prefix}"), e))?;
        let versions = page.versions().iter().map(|v| (v.key(), v.version_id()));
        let markers = page
            .delete_markers()
            .iter()
            .map(|m| (m.key(), m.version_id()));
        let ids = versions
            .chain(markers)
            .filter_map(|(key, version)| Some((key?, version)))
            .map(|(key, version)| {
                ObjectIdentifier::builder()
                    .key(key)
                    .set_version_id(version.filter(|v| *v != "null").map(str::to_string))
                    .build()
            })
            .collect::<Result<Vec<_>, _>>()
            .map_err(StepError::permanent)?;
        if ids.is_empty() {
            return Ok(());
        }
        let count = ids.len();
        let delete = Delete::builder()
            .set_objects(Some(ids))
            .quiet(true)
            .build()
            .map_err(StepError::permanent)?;
        let what = format!("delete what is under s3://{bucket}/{prefix}");
        let out = s3
            .delete_objects()
            .bucket(bucket)
            .delete(delete)
            .send()
            .await
            .map_err(|e| step_error(&what, e))?;
        if let Some(err) = out.errors().first() {
            let code = err.code().unwrap_or("");
            let status = if code == "AccessDenied" { 403 } else { 500 };
            let message = format!(
                "{} ({} of {count} keys failed)",
                err.message().unwrap_or(""),
                out.errors().len(),
            );
            return Err(classify(&what, status, code, &message));
        }
    }
}

impl Driver for MediaDriver {
    async fn ensure(&self, site: &SiteSpec) -> Result<Ensured, StepError> {
        self.ensure_site(site).await
    }

    async fn remove(&self, site: &SiteSpec) -> Result<Removed, StepError> {
        self.remove_site(site).await.map(|()| Removed::Gone)
    }
}
