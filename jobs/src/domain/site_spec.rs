//! What a driver knows of the site it works on: built once from the control plane's rows,
//! with every name already parsed, so drivers never check a slug or a hostname again.

use super::{Hostname, Invalid, SiteSlug};

/// A site as the provisioning steps see it.
#[derive(Clone, PartialEq, Eq)]
pub struct SiteSpec {
    /// The site's id in the control plane: every resource name derived for the site that
    /// must be unique comes from it.
    pub id: i64,
    /// The DNS label the site is served under (`<slug>.<platform domain>`).
    pub slug: SiteSlug,
    /// The site's title, as WordPress shows it.
    pub title: String,
    /// The owner's email: WordPress's admin account.
    pub owner_email: String,
    /// Every hostname the site answers to, the platform hostname first, then the
    /// customer's own domains.
    pub hostnames: Vec<Hostname>,
    /// The customer's domain WordPress uses as the site's address; `None`: the platform
    /// hostname.
    pub primary: Option<Hostname>,
}

impl SiteSpec {
    /// A spec from plain strings (tools and tests), every name parsed; no primary domain.
    pub fn parse(
        id: i64,
        slug: &str,
        title: &str,
        owner_email: &str,
        hostnames: &[impl AsRef<str>],
    ) -> Result<SiteSpec, Invalid> {
        Ok(SiteSpec {
            id,
            slug: SiteSlug::from_stored(slug)?,
            title: title.to_string(),
            owner_email: owner_email.to_string(),
            hostnames: hostnames
                .iter()
                .map(|h| Hostname::parse(h.as_ref()))
                .collect::<Result<_, _>>()?,
            primary: None,
        })
    }
}

impl std::fmt::Debug for SiteSpec {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("SiteSpec")
            .field("id", &self.id)
            .field("slug", &self.slug)
            .finish_non_exhaustive()
    }
}
