//! The media step: the site's prefix `sites/<slug>/` in the shared S3 bucket, marked by a
//! small object `sites/<slug>/.mywp` that carries the site's id. Removal deletes every
//! object under the prefix, a page (≤ 1000 keys) at a time.
//!
//! The bucket is expected unversioned (or to expire noncurrent versions by lifecycle):
//! removal deletes the current objects, not older versions.

use std::sync::Arc;

use aws_sdk_s3::{
    primitives::ByteStream,
    types::{Delete, ObjectIdentifier},
};
use futures::{future::BoxFuture, FutureExt};

use super::{classify, step_error, AwsClients, AwsConfig};
use crate::drivers::{local::check_slug, Ensured, SiteSpec, StepDriver, StepError};

/// The marker object's name inside the prefix.
pub const MARKER_NAME: &str = ".mywp";
/// The marker's user metadata key holding the site's id (`x-amz-meta-mywp-site-id`).
pub const SITE_ID_METADATA: &str = "mywp-site-id";

/// The site's prefix in the media bucket: `sites/<slug>/` (the trailing slash keeps
/// `blog` from matching `blog-2`).
pub fn media_prefix(slug: &str) -> String {
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
        check_slug(&site.slug)?;
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

    async fn remove_site(&self, site: &SiteSpec) -> Result<(), StepError> {
        check_slug(&site.slug)?;
        let bucket = &self.cfg.media_bucket;
        let prefix = media_prefix(&site.slug);
        let s3 = &self.clients.s3;
        let mut token: Option<String> = None;
        loop {
            let page = s3
                .list_objects_v2()
                .bucket(bucket)
                .prefix(&prefix)
                .set_continuation_token(token.take())
                .send()
                .await
                .map_err(|e| step_error(&format!("list s3://{bucket}/{prefix}"), e))?;
            let ids = page
                .contents()
                .iter()
                .filter_map(|o| o.key())
                .map(|k| ObjectIdentifier::builder().key(k).build())
                .collect::<Result<Vec<_>, _>>()
                .map_err(StepError::permanent)?;
            // A page holds at most 1000 keys, DeleteObjects' limit too.
            if !ids.is_empty() {
                let delete = Delete::builder()
                    .set_objects(Some(ids))
                    .quiet(true)
                    .build()
                    .map_err(StepError::permanent)?;
                let what = format!("delete the media under s3://{bucket}/{prefix}");
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
                        "{} ({} of {} keys failed)",
                        err.message().unwrap_or(""),
                        out.errors().len(),
                        page.key_count().unwrap_or(0)
                    );
                    return Err(classify(&what, status, code, &message));
                }
            }
            match page.next_continuation_token() {
                Some(next) if page.is_truncated() == Some(true) => token = Some(next.to_string()),
                _ => return Ok(()),
            }
        }
    }
}

impl StepDriver for MediaDriver {
    fn ensure<'a>(&'a self, site: &'a SiteSpec) -> BoxFuture<'a, Result<Ensured, StepError>> {
        self.ensure_site(site).boxed()
    }

    fn remove<'a>(&'a self, site: &'a SiteSpec) -> BoxFuture<'a, Result<(), StepError>> {
        self.remove_site(site).boxed()
    }
}
