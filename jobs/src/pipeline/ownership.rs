//! The ownership checks of a site's domains, run under the site's lease before its steps:
//! each domain due is looked up in DNS, judged (`domain::ownership`), its new state
//! recorded with its next check, spread so that domains added together are not checked
//! together for ever. A domain that starts or stops being served sends the site through
//! its steps again (the nginx server block, the distribution's aliases, the certificate).

use std::time::Duration;

use super::Pipeline;
use crate::{
    domain::{judge, next_state, Challenge, Hostname, SiteSlug},
    store::{now_ms, Recorded, SiteRow, StoreError},
};

impl Pipeline {
    /// Checks the site's domains that are due; true when what the site serves changed (it
    /// was then asked to reconverge).
    pub(super) async fn check_due_domains(&self, site: &SiteRow) -> Result<bool, StoreError> {
        let now = now_ms();
        let due = self.store.domains_due(site.id, now).await?;
        if due.is_empty() {
            return Ok(false);
        }
        let slug = SiteSlug::from_stored(&site.slug)
            .map_err(|e| StoreError::Config(format!("site {}: {}", site.id, e.message)))?;
        let platform_host = self.settings.addressing.platform_host(&slug);
        let mut served_changed = false;
        for row in due {
            let Ok(domain) = Hostname::parse(&row.hostname) else {
                tracing::warn!(site_id = site.id, hostname = %row.hostname, "a stored domain is not a DNS name");
                continue;
            };
            let challenge = Challenge::new(domain, platform_host.clone(), &row.token());
            let answers = self.dns.answers(&challenge).await;
            let checked = next_state(row.proof, judge(&challenge, &answers), &challenge);
            let due_at = now_ms() + spread(self.settings.domain_check_every).as_millis() as i64;
            let recorded = self
                .store
                .record_domain_check(&row, &checked, now_ms(), due_at)
                .await?;
            tracing::info!(
                site_id = site.id,
                hostname = %row.hostname,
                state = checked.state.as_str(),
                outcome = ?recorded,
                "domain ownership checked"
            );
            if let Recorded::Saved {
                served_changed: true,
            } = recorded
            {
                served_changed = true;
            }
        }
        if served_changed {
            self.store.reconverge_site(site.id).await?;
        }
        Ok(served_changed)
    }
}

/// When a domain is checked next: somewhere in the last quarter of `every`, at random, so
/// checks that fell due together drift apart.
fn spread(every: Duration) -> Duration {
    every.mul_f64(0.75 + 0.25 * rand::random::<f64>())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn checks_spread_over_the_last_quarter() {
        let every = Duration::from_secs(3600);
        let picks: Vec<Duration> = (0..200).map(|_| spread(every)).collect();
        assert!(picks
            .iter()
            .all(|d| *d >= every.mul_f64(0.75) && *d <= every));
        let distinct: std::collections::BTreeSet<_> = picks.iter().collect();
        assert!(distinct.len() > 150, "spread out, not all at one time");
    }
}
