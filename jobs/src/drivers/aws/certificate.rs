//! The certificate step: an ACM certificate (us-east-1, for CloudFront) covering the site's
//! own domains, validated by DNS. Validation records go into Route 53 when a hosted zone of
//! this account holds the domain; otherwise the step waits and its message tells the
//! customer which CNAME to create. Once ACM says ISSUED, the certificate and the domains are
//! attached to the site's distribution. The platform hostname needs none of this: the
//! platform's wildcard certificate covers it, so a site is live before its domains are.
//!
//! Certificates are tagged `mywp:site-id`; removal deletes the site's certificates and the
//! validation records it wrote, and waits while a distribution still uses a certificate.

use std::{sync::Arc, time::Duration};

use aws_sdk_acm::{
    error::ProvideErrorMetadata,
    types::{CertificateStatus, Tag, ValidationMethod},
};
use aws_sdk_route53::types::{
    Change, ChangeAction, ChangeBatch, ResourceRecord, ResourceRecordSet, RrType,
};

use super::{backup::SITE_TAG, normalize_zone_id, step_error, AwsClients, AwsConfig, CdnDriver};
use crate::drivers::{Driver, Ensured, Removed, SiteSpec, StepError};

/// How often a pending validation is looked at again.
const VALIDATION_POLL: Duration = Duration::from_secs(300);

/// One DNS record ACM asks for, and where it goes.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ValidationRecord {
    pub name: String,
    pub value: String,
    /// The hosted zone of this account that holds the name, if any.
    pub zone_id: Option<String>,
}

/// The certificate step's driver.
pub struct CertificateDriver {
    clients: AwsClients,
    cfg: Arc<AwsConfig>,
    cdn: Arc<CdnDriver>,
}

impl CertificateDriver {
    pub fn new(clients: AwsClients, cfg: Arc<AwsConfig>, cdn: Arc<CdnDriver>) -> Self {
        Self { clients, cfg, cdn }
    }

    /// The site's hostnames outside the platform domain, lowercase, deduplicated.
    pub fn custom_domains(&self, site: &SiteSpec) -> Vec<String> {
        let domain = &self.cfg.platform_domain;
        let mut names: Vec<String> = Vec::new();
        for host in &site.hostnames {
            let host = host.trim_end_matches('.').to_ascii_lowercase();
            let ours = host == *domain || host.ends_with(&format!(".{domain}"));
            if !ours && !names.contains(&host) {
                names.push(host);
            }
        }
        names
    }

    /// The ARNs of the site's certificates (found by tag, among those for its domains).
    pub async fn certificates(&self, site: &SiteSpec) -> Result<Vec<String>, StepError> {
        let acm = &self.clients.acm;
        let id = site.id.to_string();
        let mut arns = Vec::new();
        let mut token: Option<String> = None;
        loop {
            let out = acm
                .list_certificates()
                .set_next_token(token.take())
                .send()
                .await
                .map_err(|e| step_error("list the ACM certificates", e))?;
            for summary in out.certificate_summary_list() {
                let Some(arn) = summary.certificate_arn() else {
                    continue;
                };
                let tags = acm
                    .list_tags_for_certificate()
                    .certificate_arn(arn)
                    .send()
                    .await
                    .map_err(|e| step_error(&format!("read the tags of {arn}"), e))?;
                if tags
                    .tags()
                    .iter()
                    .any(|t| t.key() == SITE_TAG && t.value() == Some(id.as_str()))
                {
                    arns.push(arn.to_string());
                }
            }
            match out.next_token() {
                Some(next) if !next.is_empty() => token = Some(next.to_string()),
                _ => return Ok(arns),
            }
        }
    }

    async fn request(&self, site: &SiteSpec, domains: &[String]) -> Result<String, StepError> {
        let tag = Tag::builder()
            .key(SITE_TAG)
            .value(site.id.to_string())
            .build()
            .map_err(StepError::permanent)?;
        let out = self
            .clients
            .acm
            .request_certificate()
            .domain_name(&domains[0])
            .set_subject_alternative_names(Some(domains.to_vec()))
            .validation_method(ValidationMethod::Dns)
            // ACM returns the same certificate for the same token within an hour: the token
            // names the site and its set of domains, so a changed set gets a new one.
            .idempotency_token(idempotency_token(site.id, domains))
            .tags(tag)
            .send()
            .await
            .map_err(|e| {
                step_error(
                    &format!("request a certificate for {}", domains.join(", ")),
                    e,
                )
            })?;
        out.certificate_arn()
            .map(str::to_string)
            .ok_or_else(|| StepError::transient("ACM returned no certificate ARN"))
    }

    /// The hosted zone of this account whose domain holds `name`, the longest match.
    async fn zone_for(&self, name: &str) -> Result<Option<String>, StepError> {
        let name = name.trim_end_matches('.').to_ascii_lowercase();
        let mut best: Option<(usize, String)> = None;
        let mut marker: Option<String> = None;
        loop {
            let out = self
                .clients
                .route53
                .list_hosted_zones()
                .set_marker(marker.take())
                .send()
                .await
                .map_err(|e| step_error("list the hosted zones", e))?;
            for zone in out.hosted_zones() {
                if zone.config().is_some_and(|c| c.private_zone()) {
                    continue;
                }
                let zone_name = zone.name().trim_end_matches('.').to_ascii_lowercase();
                let inside = name == zone_name || name.ends_with(&format!(".{zone_name}"));
                if inside && best.as_ref().is_none_or(|(len, _)| zone_name.len() > *len) {
                    best = Some((zone_name.len(), normalize_zone_id(zone.id())));
                }
            }
            match out.next_marker() {
                Some(next) if out.is_truncated() => marker = Some(next.to_string()),
                _ => return Ok(best.map(|(_, id)| id)),
            }
        }
    }

    /// The validation records ACM asks for, each with the zone of ours that holds it.
    async fn validation_records(&self, arn: &str) -> Result<Vec<ValidationRecord>, StepError> {
        let detail = self.describe(arn).await?;
        let mut records: Vec<ValidationRecord> = Vec::new();
        for option in detail.domain_validation_options() {
            let Some(record) = option.resource_record() else {
                continue;
            };
            if records.iter().any(|r| r.name == record.name()) {
                continue;
            }
            records.push(ValidationRecord {
                name: record.name().to_string(),
                value: record.value().to_string(),
                zone_id: self.zone_for(record.name()).await?,
            });
        }
        Ok(records)
    }

    async fn describe(
        &self,
        arn: &str,
    ) -> Result<aws_sdk_acm::types::CertificateDetail, StepError> {
        self.clients
            .acm
            .describe_certificate()
            .certificate_arn(arn)
            .send()
            .await
            .map_err(|e| step_error(&format!("read certificate {arn}"), e))?
            .certificate()
            .cloned()
            .ok_or_else(|| StepError::transient("ACM returned no certificate"))
    }

    async fn write_records(
        &self,
        records: &[ValidationRecord],
        action: ChangeAction,
    ) -> Result<(), StepError> {
        for record in records {
            let Some(zone) = &record.zone_id else {
                continue;
            };
            let set = ResourceRecordSet::builder()
                .name(&record.name)
                .r#type(RrType::Cname)
                .ttl(300)
                .resource_records(
                    ResourceRecord::builder()
                        .value(&record.value)
                        .build()
                        .map_err(StepError::permanent)?,
                )
                .build()
                .map_err(StepError::permanent)?;
            let change = Change::builder()
                .action(action.clone())
                .resource_record_set(set)
                .build()
                .map_err(StepError::permanent)?;
            let batch = ChangeBatch::builder()
                .comment("MyWP: certificate validation")
                .changes(change)
                .build()
                .map_err(StepError::permanent)?;
            let result = self
                .clients
                .route53
                .change_resource_record_sets()
                .hosted_zone_id(zone)
                .change_batch(batch)
                .send()
                .await;
            match result {
                Ok(_) => {}
                // Deleting a record that is not there (any more): nothing to do.
                Err(e)
                    if action == ChangeAction::Delete && e.code() == Some("InvalidChangeBatch") => {
                }
                Err(e) => {
                    return Err(step_error(
                        &format!("write the validation record {}", record.name),
                        e,
                    ))
                }
            }
        }
        Ok(())
    }

    /// The site's certificate for exactly `domains`, if it has one, and its others (made
    /// for an earlier set of domains).
    async fn sort_certificates(
        &self,
        site: &SiteSpec,
        domains: &[String],
    ) -> Result<(Option<String>, Vec<String>), StepError> {
        let want = sorted(domains.iter().cloned());
        let (mut current, mut stale) = (None, Vec::new());
        for arn in self.certificates(site).await? {
            let detail = self.describe(&arn).await?;
            let names = sorted(
                detail
                    .subject_alternative_names()
                    .iter()
                    .map(|n| n.to_ascii_lowercase()),
            );
            if current.is_none() && names == want {
                current = Some(arn);
            } else {
                stale.push(arn);
            }
        }
        Ok((current, stale))
    }

    /// Deletes certificates the site no longer uses and their validation records, except
    /// records in `keep` (ACM asks the same record of every certificate for a name).
    /// `Some(waiting)` while CloudFront still holds one (a distribution update deploying).
    async fn delete_certificates(
        &self,
        arns: &[String],
        keep: &[ValidationRecord],
    ) -> Result<Option<Removed>, StepError> {
        for arn in arns {
            let records: Vec<ValidationRecord> = self
                .validation_records(arn)
                .await?
                .into_iter()
                .filter(|r| !keep.iter().any(|k| k.name == r.name))
                .collect();
            match self
                .clients
                .acm
                .delete_certificate()
                .certificate_arn(arn)
                .send()
                .await
            {
                Ok(_) => {}
                Err(e) if e.code() == Some("ResourceNotFoundException") => {}
                Err(e) if e.code() == Some("ResourceInUseException") => {
                    return Ok(Some(Removed::Waiting {
                        retry_after: Duration::from_secs(60),
                        reason: format!(
                            "certificate {arn} is still used by the site's distribution"
                        ),
                    }))
                }
                Err(e) => return Err(step_error(&format!("delete certificate {arn}"), e)),
            }
            self.write_records(&records, ChangeAction::Delete).await?;
        }
        Ok(None)
    }

    /// `Removed::Waiting` from [`Self::delete_certificates`] as an ensure's answer.
    fn still_replacing(resource: String, waiting: Removed) -> Ensured {
        match waiting {
            Removed::Waiting {
                retry_after,
                reason,
            } => Ensured::Waiting {
                resource,
                retry_after,
                reason: format!("replacing the site's previous certificate: {reason}"),
            },
            Removed::Gone => Ensured::Done { resource },
        }
    }
}

/// A sorted, deduplicated list of names.
fn sorted(names: impl Iterator<Item = String>) -> Vec<String> {
    let mut names: Vec<String> = names.collect();
    names.sort();
    names.dedup();
    names
}

/// ACM's idempotency token (`\w{1,32}`) for the site's certificate of `domains`.
fn idempotency_token(site_id: i64, domains: &[String]) -> String {
    use sha2::{Digest, Sha256};
    let set = sorted(domains.iter().cloned()).join(",");
    let hash = hex::encode(Sha256::digest(set.as_bytes()));
    format!("mywp{site_id}x{}", &hash[..12])
}

/// What the customer reads while validation is pending.
pub(crate) fn pending_message(records: &[ValidationRecord]) -> String {
    let theirs: Vec<String> = records
        .iter()
        .filter(|r| r.zone_id.is_none())
        .map(|r| format!("CNAME {} → {}", r.name, r.value))
        .collect();
    if theirs.is_empty() {
        "waiting for ACM to validate the domain (its DNS records are in place)".to_string()
    } else {
        format!(
            "waiting for DNS validation: create these records at your domain's DNS provider: {}",
            theirs.join("; ")
        )
    }
}

impl Driver for CertificateDriver {
    async fn ensure(&self, site: &SiteSpec) -> Result<Ensured, StepError> {
        let domains = self.custom_domains(site);
        let (current, stale) = self.sort_certificates(site, &domains).await?;
        if domains.is_empty() {
            let resource = "no custom domain: the platform certificate covers the site";
            if !stale.is_empty() {
                // The domains were removed: back to the platform's hostnames and certificate.
                let platform = (
                    self.cdn.platform_aliases(site),
                    self.cfg.platform_cert_arn.clone(),
                );
                self.cdn.converge(site, Some(platform)).await?;
                if let Some(waiting) = self.delete_certificates(&stale, &[]).await? {
                    return Ok(Self::still_replacing(resource.into(), waiting));
                }
            }
            return Ok(Ensured::Done {
                resource: resource.into(),
            });
        }
        let arn = match current {
            Some(arn) => arn,
            None => self.request(site, &domains).await?,
        };
        let records = self.validation_records(&arn).await?;
        self.write_records(&records, ChangeAction::Upsert).await?;
        let detail = self.describe(&arn).await?;
        let status = detail.status().cloned();
        match status {
            Some(CertificateStatus::Issued) => {
                let mut aliases: Vec<String> = site
                    .hostnames
                    .iter()
                    .map(|h| h.trim_end_matches('.').to_ascii_lowercase())
                    .collect();
                aliases.dedup();
                self.cdn
                    .converge(site, Some((aliases, arn.clone())))
                    .await?;
                let resource = format!("acm:{arn}");
                if let Some(waiting) = self.delete_certificates(&stale, &records).await? {
                    return Ok(Self::still_replacing(resource, waiting));
                }
                Ok(Ensured::Done { resource })
            }
            Some(CertificateStatus::PendingValidation) | None => Ok(Ensured::Waiting {
                resource: format!("acm:{arn}"),
                retry_after: VALIDATION_POLL,
                reason: pending_message(&records),
            }),
            Some(other) => Err(StepError::Permanent(format!(
                "the certificate for {} is {}{}: check the domains' DNS, then retry",
                domains.join(", "),
                other.as_str(),
                detail
                    .failure_reason()
                    .map(|r| format!(" ({})", r.as_str()))
                    .unwrap_or_default()
            ))),
        }
    }

    async fn remove(&self, site: &SiteSpec) -> Result<Removed, StepError> {
        let arns = self.certificates(site).await?;
        // A distribution still using one is the cdn step's to delete: wait for it.
        Ok(self
            .delete_certificates(&arns, &[])
            .await?
            .unwrap_or(Removed::Gone))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_new_set_of_domains_gets_a_new_token() {
        let a = idempotency_token(7, &["b.example".into(), "a.example".into()]);
        assert_eq!(
            a,
            idempotency_token(7, &["a.example".into(), "b.example".into()])
        );
        assert_ne!(a, idempotency_token(7, &["a.example".into()]));
        assert_ne!(
            a,
            idempotency_token(8, &["a.example".into(), "b.example".into()])
        );
        assert!(a.len() <= 32 && a.chars().all(|c| c.is_ascii_alphanumeric()));
    }

    #[test]
    fn the_customer_is_told_which_records_to_create() {
        let ours = ValidationRecord {
            name: "_a.blog.example.com.".into(),
            value: "_b.acm-validations.aws.".into(),
            zone_id: Some("Z1".into()),
        };
        assert!(pending_message(std::slice::from_ref(&ours)).contains("in place"));
        let theirs = ValidationRecord {
            zone_id: None,
            ..ours.clone()
        };
        let message = pending_message(&[ours, theirs]);
        assert!(
            message.contains("CNAME _a.blog.example.com. → _b.acm-validations.aws."),
            "{message}"
        );
    }
}
