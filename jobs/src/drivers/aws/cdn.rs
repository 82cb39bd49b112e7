//! The cdn step: a CloudFront distribution per site. Dynamic pages go to the web fleet's
//! load balancer (the viewer's Host header forwarded, nothing cached); `/media/*` comes
//! from the site's prefix in the media bucket through an Origin Access Control, cached.
//! Aliases are the site's platform hostname, plus its own domains once their ACM
//! certificate is issued (the certificate step attaches them). Every distribution carries
//! the platform's AWS WAF web ACL (`MYWP_AWS_WEB_ACL_ARN`); one that lost it gets it back.
//!
//! A distribution takes minutes to deploy: `ensure` reports [`Ensured::Waiting`] until its
//! status is `Deployed`, so no worker waits. AWS refuses to delete an enabled distribution,
//! so removal disables it first, waits for that to deploy, then deletes with the ETag.
//!
//! Distributions are found by their comment, `MyWP site <slug> #<id>`; the caller
//! reference `mywp-site-<id>-<slug>` makes a retried create return `DistributionAlreadyExists`
//! instead of a second distribution.

use std::{sync::Arc, time::Duration};

use aws_sdk_cloudfront::{
    error::ProvideErrorMetadata,
    types::{
        Aliases, AllowedMethods, CacheBehavior, CacheBehaviors, CachedMethods, CustomOriginConfig,
        DefaultCacheBehavior, DistributionConfig, DistributionConfigWithTags, HttpVersion, Method,
        MinimumProtocolVersion, Origin, OriginAccessControlConfig, OriginAccessControlOriginTypes,
        OriginAccessControlSigningBehaviors, OriginAccessControlSigningProtocols,
        OriginProtocolPolicy, Origins, PriceClass, S3OriginConfig, SslSupportMethod, Tag, Tags,
        ViewerCertificate, ViewerProtocolPolicy,
    },
};
use futures::{future::BoxFuture, FutureExt};
use tokio::sync::OnceCell;

use super::{dns::AliasTarget, step_error, AliasTargets, AwsClients, AwsConfig};
use crate::drivers::{Driver, Ensured, Removed, SiteSpec, StepError};

/// CloudFront's managed cache policy "CachingDisabled" (WordPress pages are per visitor).
const CACHING_DISABLED: &str = "4135ea2d-6df8-44a3-9df3-4b5a84be39ad";
/// CloudFront's managed cache policy "CachingOptimized" (media files).
const CACHING_OPTIMIZED: &str = "658327ea-f89d-4fab-a63d-7e88639e58f6";
/// CloudFront's managed origin request policy "AllViewer": the Host header reaches the
/// load balancer, whose web nodes route by it.
const ALL_VIEWER: &str = "216adef6-5c7f-47e4-b989-5492eafa07d3";

const WEB_ORIGIN: &str = "web";
const MEDIA_ORIGIN: &str = "media";
/// How often a deploying distribution is looked at again.
const DEPLOY_POLL: Duration = Duration::from_secs(60);

/// What the panel knows of a site's distribution.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Distribution {
    pub id: String,
    pub arn: String,
    /// `d123.cloudfront.net`: where the site's DNS records point.
    pub domain_name: String,
    /// `InProgress` or `Deployed`.
    pub status: String,
    pub enabled: bool,
    pub aliases: Vec<String>,
    pub certificate_arn: Option<String>,
    /// The web ACL attached (for WAFv2, its ARN); `None` when there is none.
    pub web_acl: Option<String>,
}

/// The cdn step's driver.
pub struct CdnDriver {
    clients: AwsClients,
    cfg: Arc<AwsConfig>,
    /// The shared Origin Access Control of the media bucket, found or made once.
    oac: OnceCell<String>,
}

impl CdnDriver {
    pub fn new(clients: AwsClients, cfg: Arc<AwsConfig>) -> Self {
        Self {
            clients,
            cfg,
            oac: OnceCell::new(),
        }
    }

    /// The comment that marks a site's distribution.
    pub fn comment(site: &SiteSpec) -> String {
        format!("MyWP site {} #{}", site.slug, site.id)
    }

    /// The site's distribution, if it exists.
    pub async fn find(&self, site: &SiteSpec) -> Result<Option<Distribution>, StepError> {
        let comment = Self::comment(site);
        let mut marker: Option<String> = None;
        loop {
            let out = self
                .clients
                .cloudfront
                .list_distributions()
                .set_marker(marker.take())
                .max_items(100)
                .send()
                .await
                .map_err(|e| step_error("list the CloudFront distributions", e))?;
            let Some(list) = out.distribution_list() else {
                return Ok(None);
            };
            if let Some(found) = list.items().iter().find(|d| d.comment() == comment) {
                return Ok(Some(Distribution {
                    id: found.id().to_string(),
                    arn: found.arn().to_string(),
                    domain_name: found.domain_name().to_string(),
                    status: found.status().to_string(),
                    enabled: found.enabled(),
                    aliases: found
                        .aliases()
                        .map(|a| a.items().to_vec())
                        .unwrap_or_default(),
                    certificate_arn: found
                        .viewer_certificate()
                        .and_then(|v| v.acm_certificate_arn())
                        .map(str::to_string),
                    web_acl: Some(found.web_acl_id())
                        .filter(|id| !id.is_empty())
                        .map(str::to_string),
                }));
            }
            match list.next_marker() {
                Some(next) if list.is_truncated() => marker = Some(next.to_string()),
                _ => return Ok(None),
            }
        }
    }

    /// The shared Origin Access Control for the media bucket: adopted by name, made if absent.
    async fn origin_access_control(&self) -> Result<&str, StepError> {
        self.oac
            .get_or_try_init(|| async {
                let name = oac_name(&self.cfg.media_bucket);
                let cf = &self.clients.cloudfront;
                let mut marker = None;
                loop {
                    let out = cf
                        .list_origin_access_controls()
                        .set_marker(marker.take())
                        .send()
                        .await
                        .map_err(|e| step_error("list CloudFront's origin access controls", e))?;
                    let Some(list) = out.origin_access_control_list() else {
                        break;
                    };
                    if let Some(found) = list.items().iter().find(|o| o.name() == name) {
                        return Ok(found.id().to_string());
                    }
                    match list.next_marker() {
                        Some(next) if list.is_truncated() => marker = Some(next.to_string()),
                        _ => break,
                    }
                }
                let config = OriginAccessControlConfig::builder()
                    .name(&name)
                    .description("MyWP: CloudFront reads the sites' media from S3")
                    .signing_protocol(OriginAccessControlSigningProtocols::Sigv4)
                    .signing_behavior(OriginAccessControlSigningBehaviors::Always)
                    .origin_access_control_origin_type(OriginAccessControlOriginTypes::S3)
                    .build()
                    .map_err(StepError::permanent)?;
                let out = match cf
                    .create_origin_access_control()
                    .origin_access_control_config(config)
                    .send()
                    .await
                {
                    Ok(out) => out,
                    // Made by a try whose answer was lost, or by another worker: look again.
                    Err(e) if e.code() == Some("OriginAccessControlAlreadyExists") => {
                        return Err(StepError::transient(
                            "the media origin access control was just made: looking again",
                        ))
                    }
                    Err(e) => return Err(step_error("create the media origin access control", e)),
                };
                out.origin_access_control()
                    .map(|o| o.id().to_string())
                    .ok_or_else(|| StepError::transient("CloudFront returned no access control"))
            })
            .await
            .map(String::as_str)
    }

    /// The configuration the site's distribution should have.
    fn desired(
        &self,
        site: &SiteSpec,
        oac: &str,
        aliases: &[String],
        certificate_arn: &str,
    ) -> Result<DistributionConfig, StepError> {
        let cfg = &self.cfg;
        let web = Origin::builder()
            .id(WEB_ORIGIN)
            .domain_name(&cfg.alb_dns_name)
            .custom_origin_config(
                CustomOriginConfig::builder()
                    .http_port(80)
                    .https_port(443)
                    // CloudFront → ALB inside AWS; the ALB only admits CloudFront's
                    // origin-facing prefix list (deploy/mywp.yaml). TLS to the origin would
                    // need a certificate for every customer's Host header.
                    .origin_protocol_policy(OriginProtocolPolicy::HttpOnly)
                    .origin_read_timeout(60)
                    .origin_keepalive_timeout(5)
                    .build()
                    .map_err(StepError::permanent)?,
            )
            .build()
            .map_err(StepError::permanent)?;
        let media = Origin::builder()
            .id(MEDIA_ORIGIN)
            .domain_name(format!(
                "{}.s3.{}.amazonaws.com",
                cfg.media_bucket, cfg.region
            ))
            .origin_path(format!("/sites/{}", site.slug))
            .s3_origin_config(S3OriginConfig::builder().origin_access_identity("").build())
            .origin_access_control_id(oac)
            .build()
            .map_err(StepError::permanent)?;
        let all_methods = AllowedMethods::builder()
            .quantity(7)
            .set_items(Some(vec![
                Method::Get,
                Method::Head,
                Method::Options,
                Method::Put,
                Method::Post,
                Method::Patch,
                Method::Delete,
            ]))
            .cached_methods(get_head()?)
            .build()
            .map_err(StepError::permanent)?;
        let default = DefaultCacheBehavior::builder()
            .target_origin_id(WEB_ORIGIN)
            .viewer_protocol_policy(ViewerProtocolPolicy::RedirectToHttps)
            .allowed_methods(all_methods)
            .cache_policy_id(CACHING_DISABLED)
            .origin_request_policy_id(ALL_VIEWER)
            .compress(true)
            .build()
            .map_err(StepError::permanent)?;
        let media_behavior = CacheBehavior::builder()
            .path_pattern("/media/*")
            .target_origin_id(MEDIA_ORIGIN)
            .viewer_protocol_policy(ViewerProtocolPolicy::RedirectToHttps)
            .allowed_methods(
                AllowedMethods::builder()
                    .quantity(2)
                    .set_items(Some(vec![Method::Get, Method::Head]))
                    .cached_methods(get_head()?)
                    .build()
                    .map_err(StepError::permanent)?,
            )
            .cache_policy_id(CACHING_OPTIMIZED)
            .compress(true)
            .build()
            .map_err(StepError::permanent)?;
        DistributionConfig::builder()
            .caller_reference(format!("mywp-site-{}-{}", site.id, site.slug))
            .comment(Self::comment(site))
            .enabled(true)
            .aliases(
                Aliases::builder()
                    .quantity(aliases.len() as i32)
                    .set_items(Some(aliases.to_vec()))
                    .build()
                    .map_err(StepError::permanent)?,
            )
            .origins(
                Origins::builder()
                    .quantity(2)
                    .items(web)
                    .items(media)
                    .build()
                    .map_err(StepError::permanent)?,
            )
            .default_cache_behavior(default)
            .cache_behaviors(
                CacheBehaviors::builder()
                    .quantity(1)
                    .items(media_behavior)
                    .build()
                    .map_err(StepError::permanent)?,
            )
            .viewer_certificate(
                ViewerCertificate::builder()
                    .acm_certificate_arn(certificate_arn)
                    .ssl_support_method(SslSupportMethod::SniOnly)
                    .minimum_protocol_version(MinimumProtocolVersion::TlSv122021)
                    .build(),
            )
            .web_acl_id(cfg.web_acl.as_str())
            .price_class(PriceClass::PriceClass100)
            .http_version(HttpVersion::Http2and3)
            .is_ipv6_enabled(true)
            .build()
            .map_err(StepError::permanent)
    }

    /// The hostnames the distribution serves with the platform certificate: those inside
    /// the platform domain.
    pub fn platform_aliases(&self, site: &SiteSpec) -> Vec<String> {
        let domain = &self.cfg.platform_domain;
        let mut names: Vec<String> = Vec::new();
        for host in &site.hostnames {
            let host = host.trim_end_matches('.').to_ascii_lowercase();
            if host.ends_with(&format!(".{domain}")) && !names.contains(&host) {
                names.push(host);
            }
        }
        names
    }

    /// Creates the site's distribution, or brings it to `aliases` and `certificate_arn`.
    /// `None` keeps what the distribution has (the certificate step may have attached the
    /// site's own certificate and domains).
    pub async fn converge(
        &self,
        site: &SiteSpec,
        wanted: Option<(Vec<String>, String)>,
    ) -> Result<Distribution, StepError> {
        let oac = self.origin_access_control().await?.to_string();
        let Some(found) = self.find(site).await? else {
            let (aliases, cert) = wanted.unwrap_or_else(|| {
                (
                    self.platform_aliases(site),
                    self.cfg.platform_cert_arn.clone(),
                )
            });
            return self.create(site, &oac, &aliases, &cert).await;
        };
        let (aliases, cert) = match wanted {
            Some(wanted) => wanted,
            None => {
                let mut aliases = found.aliases.clone();
                for name in self.platform_aliases(site) {
                    if !aliases.contains(&name) {
                        aliases.push(name);
                    }
                }
                let cert = found
                    .certificate_arn
                    .clone()
                    .unwrap_or_else(|| self.cfg.platform_cert_arn.clone());
                (aliases, cert)
            }
        };
        let same_aliases = {
            let (mut a, mut b) = (found.aliases.clone(), aliases.clone());
            a.sort();
            b.sort();
            a == b
        };
        let same_acl = found.web_acl.as_deref() == Some(self.cfg.web_acl.as_str());
        if found.enabled
            && same_aliases
            && same_acl
            && found.certificate_arn.as_deref() == Some(&cert)
        {
            return Ok(found);
        }
        let desired = self.desired(site, &oac, &aliases, &cert)?;
        self.update(&found.id, |_| desired.clone()).await?;
        Ok(self.find(site).await?.unwrap_or(found))
    }

    async fn create(
        &self,
        site: &SiteSpec,
        oac: &str,
        aliases: &[String],
        cert: &str,
    ) -> Result<Distribution, StepError> {
        let config = self.desired(site, oac, aliases, cert)?;
        let tags = Tags::builder()
            .items(tag("mywp:site-id", &site.id.to_string())?)
            .items(tag("mywp:site", &site.slug)?)
            .build();
        let with_tags = DistributionConfigWithTags::builder()
            .distribution_config(config)
            .tags(tags)
            .build();
        let created = self
            .clients
            .cloudfront
            .create_distribution_with_tags()
            .distribution_config_with_tags(with_tags)
            .send()
            .await;
        match created {
            Ok(_) => {}
            // A create that went through but whose answer was lost: adopt it.
            Err(e) if e.code() == Some("DistributionAlreadyExists") => {}
            Err(e) => {
                return Err(step_error(
                    &format!("create the CloudFront distribution of {}", site.slug),
                    e,
                ))
            }
        }
        self.find(site).await?.ok_or_else(|| {
            StepError::transient("the new distribution is not listed yet: looking again")
        })
    }

    /// Reads the distribution's config and ETag, applies `change`, writes it back with
    /// If-Match (a concurrent change makes AWS answer PreconditionFailed: retried).
    async fn update(
        &self,
        id: &str,
        change: impl FnOnce(DistributionConfig) -> DistributionConfig,
    ) -> Result<(), StepError> {
        let cf = &self.clients.cloudfront;
        let current = cf
            .get_distribution_config()
            .id(id)
            .send()
            .await
            .map_err(|e| step_error(&format!("read distribution {id}"), e))?;
        let etag = current
            .e_tag()
            .ok_or_else(|| StepError::transient("CloudFront returned no ETag"))?
            .to_string();
        let config = current
            .distribution_config()
            .cloned()
            .ok_or_else(|| StepError::transient("CloudFront returned no configuration"))?;
        cf.update_distribution()
            .id(id)
            .if_match(etag)
            .distribution_config(change(config))
            .send()
            .await
            .map_err(|e| match e.code() {
                Some("PreconditionFailed") | Some("InvalidIfMatchVersion") => StepError::Transient(
                    format!("distribution {id} changed meanwhile: reading it again"),
                ),
                _ => step_error(&format!("update distribution {id}"), e),
            })?;
        Ok(())
    }

    async fn delete(&self, id: &str) -> Result<Removed, StepError> {
        let cf = &self.clients.cloudfront;
        let current = match cf.get_distribution().id(id).send().await {
            Ok(current) => current,
            Err(e) if e.code() == Some("NoSuchDistribution") => return Ok(Removed::Gone),
            Err(e) => return Err(step_error(&format!("read distribution {id}"), e)),
        };
        let etag = current
            .e_tag()
            .ok_or_else(|| StepError::transient("CloudFront returned no ETag"))?;
        match cf.delete_distribution().id(id).if_match(etag).send().await {
            Ok(_) => Ok(Removed::Gone),
            Err(e) => {
                let code = e.code().map(str::to_string);
                deletion_refused(
                    id,
                    code.as_deref(),
                    step_error(&format!("delete distribution {id}"), e),
                )
            }
        }
    }
}

/// What removing a distribution does next, from what AWS says of it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum RemovalStep {
    /// Enabled: disable it (AWS refuses to delete an enabled distribution).
    Disable,
    /// Disabled, still deploying that change.
    Wait,
    /// Disabled and deployed: delete it.
    Delete,
}

pub(crate) fn removal_step(dist: &Distribution) -> RemovalStep {
    match (dist.enabled, dist.status.as_str()) {
        (true, _) => RemovalStep::Disable,
        (false, "Deployed") => RemovalStep::Delete,
        (false, _) => RemovalStep::Wait,
    }
}

/// AWS's answers to a delete that mean "not yet" or "already gone".
pub(crate) fn deletion_refused(
    id: &str,
    code: Option<&str>,
    other: StepError,
) -> Result<Removed, StepError> {
    match code {
        Some("NoSuchDistribution") => Ok(Removed::Gone),
        // Still enabled, or disabled but not yet deployed: come back later.
        Some("DistributionNotDisabled") => Ok(Removed::Waiting {
            retry_after: DEPLOY_POLL,
            reason: format!("distribution {id} is not disabled everywhere yet"),
        }),
        Some("PreconditionFailed") | Some("InvalidIfMatchVersion") => Err(StepError::Transient(
            format!("distribution {id} changed meanwhile: reading it again"),
        )),
        _ => Err(other),
    }
}

/// `Done` once CloudFront says the distribution is deployed, else `Waiting`.
pub(crate) fn deployed_or_waiting(dist: &Distribution, resource: String) -> Ensured {
    if dist.status == "Deployed" {
        Ensured::Done { resource }
    } else {
        Ensured::Waiting {
            resource,
            retry_after: DEPLOY_POLL,
            reason: format!(
                "CloudFront is deploying distribution {} to its edge locations (usually 5 \
                 to 15 minutes)",
                dist.id
            ),
        }
    }
}

/// The origin access control's name: at most 64 characters.
fn oac_name(bucket: &str) -> String {
    let name = format!("mywp-media-{bucket}");
    name.chars().take(64).collect()
}

fn get_head() -> Result<CachedMethods, StepError> {
    CachedMethods::builder()
        .quantity(2)
        .set_items(Some(vec![Method::Get, Method::Head]))
        .build()
        .map_err(StepError::permanent)
}

fn tag(key: &str, value: &str) -> Result<Tag, StepError> {
    Tag::builder()
        .key(key)
        .value(value)
        .build()
        .map_err(StepError::permanent)
}

/// The dns step points each site's records at its distribution.
impl AliasTargets for CdnDriver {
    fn target<'a>(&'a self, site: &'a SiteSpec) -> BoxFuture<'a, Result<AliasTarget, StepError>> {
        async move {
            match self.find(site).await? {
                Some(dist) => Ok(AliasTarget::cloudfront(dist.domain_name)),
                None => Err(StepError::transient(
                    "the site has no CloudFront distribution yet (cdn step)",
                )),
            }
        }
        .boxed()
    }
}

impl Driver for CdnDriver {
    async fn ensure(&self, site: &SiteSpec) -> Result<Ensured, StepError> {
        let dist = self.converge(site, None).await?;
        let resource = format!("cloudfront:{} {}", dist.id, dist.domain_name);
        Ok(deployed_or_waiting(&dist, resource))
    }

    /// Disable, wait for that to deploy, delete: each call takes the next step.
    async fn remove(&self, site: &SiteSpec) -> Result<Removed, StepError> {
        let Some(dist) = self.find(site).await? else {
            return Ok(Removed::Gone);
        };
        let mut step = removal_step(&dist);
        if step == RemovalStep::Disable {
            self.update(&dist.id, |mut config| {
                config.enabled = false;
                config
            })
            .await?;
            // Usually minutes on AWS; an edge-less setup may be done already.
            step = match self.find(site).await? {
                Some(now) => removal_step(&now),
                None => return Ok(Removed::Gone),
            };
        }
        if step != RemovalStep::Delete {
            return Ok(Removed::Waiting {
                retry_after: DEPLOY_POLL,
                reason: format!(
                    "CloudFront is disabling distribution {}; it can be deleted once that \
                     is deployed",
                    dist.id
                ),
            });
        }
        self.delete(&dist.id).await
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn dist(enabled: bool, status: &str) -> Distribution {
        Distribution {
            id: "E1".into(),
            arn: "arn".into(),
            domain_name: "d1.cloudfront.net".into(),
            status: status.into(),
            enabled,
            aliases: vec![],
            certificate_arn: None,
            web_acl: None,
        }
    }

    #[test]
    fn removal_disables_waits_then_deletes() {
        assert_eq!(removal_step(&dist(true, "Deployed")), RemovalStep::Disable);
        assert_eq!(
            removal_step(&dist(true, "InProgress")),
            RemovalStep::Disable
        );
        assert_eq!(removal_step(&dist(false, "InProgress")), RemovalStep::Wait);
        assert_eq!(removal_step(&dist(false, "Deployed")), RemovalStep::Delete);
    }

    #[test]
    fn waiting_until_deployed() {
        let waiting = deployed_or_waiting(&dist(true, "InProgress"), "r".into());
        assert!(matches!(waiting, Ensured::Waiting { .. }), "{waiting:?}");
        let done = deployed_or_waiting(&dist(true, "Deployed"), "r".into());
        assert_eq!(
            done,
            Ensured::Done {
                resource: "r".into()
            }
        );
        assert!(oac_name(&"b".repeat(80)).len() <= 64);
    }
}
