//! The AWS shape's snapshot vault: the site's prefix in the shared S3 bucket,
//! `sites/<slug>/snapshots/<id>/<name>`, beside its media. Files up to 64 MiB go up in one
//! PutObject; bigger ones (a large site's wp-content) in 64 MiB parts of a multipart upload,
//! which S3 needs past 5 GiB anyway. Deleting removes every version, as the media step does.

use std::{path::Path, sync::Arc};

use aws_sdk_s3::{
    presigning::PresigningConfig,
    primitives::{ByteStream, Length},
    types::{CompletedMultipartUpload, CompletedPart},
};
use futures::{future::BoxFuture, FutureExt};

use super::{media::delete_every_version, media_prefix, step_error, AwsClients, AwsConfig};
use crate::{
    domain::SiteSlug,
    drivers::StepError,
    snapshots::{Download, SnapshotKey, Vault},
};

/// How long a download link works.
pub const DOWNLOAD_LINK_LIFETIME: std::time::Duration = std::time::Duration::from_secs(300);

/// The part size of multipart uploads, and the size from which they are used.
pub const PART_SIZE: u64 = 64 * 1024 * 1024;

pub struct S3Vault {
    clients: AwsClients,
    cfg: Arc<AwsConfig>,
    part_size: u64,
}

/// `sites/<slug>/snapshots/`: under the site's prefix, outside its `media/` (which
/// CloudFront serves), so snapshots are never public.
pub fn snapshots_prefix(slug: &SiteSlug) -> String {
    format!("{}snapshots/", media_prefix(slug))
}

impl S3Vault {
    pub fn new(clients: AwsClients, cfg: Arc<AwsConfig>) -> Self {
        Self::with_part_size(clients, cfg, PART_SIZE)
    }

    /// With another part size (at least 5 MiB, S3's minimum): tests use a small one.
    pub fn with_part_size(clients: AwsClients, cfg: Arc<AwsConfig>, part_size: u64) -> Self {
        Self {
            clients,
            cfg,
            part_size: part_size.max(5 * 1024 * 1024),
        }
    }

    fn prefix(&self, key: &SnapshotKey) -> Result<String, StepError> {
        Ok(format!("{}{}/", snapshots_prefix(&key.slug), key.id))
    }

    fn bucket(&self) -> &str {
        &self.cfg.media_bucket
    }

    async fn body(path: &Path, offset: u64, length: u64) -> Result<ByteStream, StepError> {
        ByteStream::read_from()
            .path(path)
            .offset(offset)
            .length(Length::Exact(length))
            .build()
            .await
            .map_err(|e| StepError::transient(format!("cannot read {}: {e}", path.display())))
    }

    async fn put_file(&self, key: &str, from: &Path) -> Result<(), StepError> {
        let size = tokio::fs::metadata(from)
            .await
            .map_err(|e| StepError::transient(format!("cannot read {}: {e}", from.display())))?
            .len();
        let what = format!("write s3://{}/{key}", self.bucket());
        if size <= self.part_size {
            self.clients
                .s3
                .put_object()
                .bucket(self.bucket())
                .key(key)
                .body(Self::body(from, 0, size).await?)
                .send()
                .await
                .map_err(|e| step_error(&what, e))?;
            return Ok(());
        }
        let upload = self
            .clients
            .s3
            .create_multipart_upload()
            .bucket(self.bucket())
            .key(key)
            .send()
            .await
            .map_err(|e| step_error(&what, e))?;
        let upload_id = upload
            .upload_id()
            .ok_or_else(|| StepError::transient(format!("{what}: S3 gave no upload id")))?
            .to_string();
        let uploaded = self.upload_parts(key, from, size, &upload_id).await;
        if uploaded.is_err() {
            // Parts of an abandoned upload are billed until aborted.
            let _ = self
                .clients
                .s3
                .abort_multipart_upload()
                .bucket(self.bucket())
                .key(key)
                .upload_id(&upload_id)
                .send()
                .await;
        }
        uploaded
    }

    async fn upload_parts(
        &self,
        key: &str,
        from: &Path,
        size: u64,
        upload_id: &str,
    ) -> Result<(), StepError> {
        let what = format!("write s3://{}/{key}", self.bucket());
        let mut parts = Vec::new();
        let mut offset = 0;
        while offset < size {
            let length = self.part_size.min(size - offset);
            let number = (parts.len() + 1) as i32;
            let out = self
                .clients
                .s3
                .upload_part()
                .bucket(self.bucket())
                .key(key)
                .upload_id(upload_id)
                .part_number(number)
                .body(Self::body(from, offset, length).await?)
                .send()
                .await
                .map_err(|e| step_error(&what, e))?;
            parts.push(
                CompletedPart::builder()
                    .part_number(number)
                    .set_e_tag(out.e_tag().map(str::to_string))
                    .build(),
            );
            offset += length;
        }
        self.clients
            .s3
            .complete_multipart_upload()
            .bucket(self.bucket())
            .key(key)
            .upload_id(upload_id)
            .multipart_upload(
                CompletedMultipartUpload::builder()
                    .set_parts(Some(parts))
                    .build(),
            )
            .send()
            .await
            .map_err(|e| step_error(&what, e))?;
        Ok(())
    }

    async fn get_file(&self, key: &str, to: &Path) -> Result<(), StepError> {
        let what = format!("read s3://{}/{key}", self.bucket());
        let out = match self
            .clients
            .s3
            .get_object()
            .bucket(self.bucket())
            .key(key)
            .send()
            .await
        {
            Ok(out) => out,
            Err(e) if e.as_service_error().is_some_and(|e| e.is_no_such_key()) => {
                return Err(StepError::Permanent(format!(
                    "the snapshot file s3://{}/{key} is missing",
                    self.bucket()
                )))
            }
            Err(e) => return Err(step_error(&what, e)),
        };
        let mut file = tokio::fs::File::create(to)
            .await
            .map_err(|e| StepError::transient(format!("cannot write {}: {e}", to.display())))?;
        let mut body = out.body.into_async_read();
        tokio::io::copy(&mut body, &mut file)
            .await
            .map_err(|e| StepError::transient(format!("{what}: {e}")))?;
        Ok(())
    }
}

impl Vault for S3Vault {
    fn location(&self, slug: &SiteSlug) -> String {
        format!("s3://{}/{}", self.bucket(), snapshots_prefix(slug))
    }

    fn prepare<'a>(&'a self, slug: &'a SiteSlug) -> BoxFuture<'a, Result<(), StepError>> {
        // Prefixes need no making; the bucket is checked by `mywp infra check`.
        let _ = slug;
        async { Ok(()) }.boxed()
    }

    fn put<'a>(
        &'a self,
        key: &'a SnapshotKey,
        name: &'a str,
        from: &'a Path,
    ) -> BoxFuture<'a, Result<(), StepError>> {
        async move {
            let object = format!("{}{name}", self.prefix(key)?);
            self.put_file(&object, from).await
        }
        .boxed()
    }

    fn get<'a>(
        &'a self,
        key: &'a SnapshotKey,
        name: &'a str,
        to: &'a Path,
    ) -> BoxFuture<'a, Result<(), StepError>> {
        async move {
            let object = format!("{}{name}", self.prefix(key)?);
            self.get_file(&object, to).await
        }
        .boxed()
    }

    fn download<'a>(
        &'a self,
        key: &'a SnapshotKey,
        name: &'a str,
        save_as: &'a str,
    ) -> BoxFuture<'a, Result<Download, StepError>> {
        async move {
            let object = format!("{}{name}", self.prefix(key)?);
            let presigning = PresigningConfig::expires_in(DOWNLOAD_LINK_LIFETIME)
                .map_err(StepError::permanent)?;
            let request = self
                .clients
                .s3
                .get_object()
                .bucket(self.bucket())
                .key(&object)
                .response_content_disposition(format!("attachment; filename=\"{save_as}\""))
                .presigned(presigning)
                .await
                .map_err(|e| {
                    step_error(
                        &format!("sign a link to s3://{}/{object}", self.bucket()),
                        e,
                    )
                })?;
            Ok(Download::Url(request.uri().to_string()))
        }
        .boxed()
    }

    fn delete<'a>(&'a self, key: &'a SnapshotKey) -> BoxFuture<'a, Result<(), StepError>> {
        async move {
            let prefix = self.prefix(key)?;
            delete_every_version(&self.clients.s3, self.bucket(), &prefix).await
        }
        .boxed()
    }

    fn delete_site<'a>(&'a self, slug: &'a SiteSlug) -> BoxFuture<'a, Result<(), StepError>> {
        async move {
            delete_every_version(&self.clients.s3, self.bucket(), &snapshots_prefix(slug)).await
        }
        .boxed()
    }
}
