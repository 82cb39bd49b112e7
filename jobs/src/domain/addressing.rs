//! How sites are addressed: their platform hostname (`<slug>.<platform domain>`) and the
//! URL of any hostname as the sites are served. One value, shared by the pipeline (the
//! hostnames a site answers to), the drivers (WordPress's URLs) and the panel (links).

use super::{Hostname, SiteSlug, SiteSpec};

/// The platform domain and how sites are reached.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SiteAddressing {
    /// Sites are `<slug>.<platform_domain>`.
    pub platform_domain: Hostname,
    /// The port sites answer on (omitted from URLs when 80; ignored under https).
    pub port: u16,
    /// Sites are reached over https through a proxy that terminates TLS (CloudFront and
    /// the ALB in the AWS shape): their URLs are `https://<host>`.
    pub https: bool,
}

impl SiteAddressing {
    /// The site's platform hostname, `<slug>.<platform domain>`.
    pub fn platform_host(&self, slug: &SiteSlug) -> Hostname {
        Hostname::parse(&self.platform_host_of(slug))
            .expect("a slug label under a DNS name is a DNS name")
    }

    /// The platform hostname of a site known by its stored slug, as text (the panel's
    /// display of a row).
    pub fn platform_host_of(&self, slug: &str) -> String {
        format!("{slug}.{}", self.platform_domain)
    }

    /// `host`'s URL as the sites are served, without a trailing slash: https behind a
    /// proxy, else http on the sites' port.
    pub fn url_of(&self, host: &str) -> String {
        if self.https {
            return format!("https://{host}");
        }
        match self.port {
            80 => format!("http://{host}"),
            port => format!("http://{host}:{port}"),
        }
    }

    /// The platform URL of the site with (stored) slug `slug`, e.g.
    /// `http://blog.localhost:8080`.
    pub fn site_url(&self, slug: &str) -> String {
        self.url_of(&self.platform_host_of(slug))
    }

    /// The site's address, what WordPress calls its home: its primary domain if it has
    /// one, else its platform hostname.
    pub fn home_host(&self, site: &SiteSpec) -> Hostname {
        site.primary
            .clone()
            .unwrap_or_else(|| self.platform_host(&site.slug))
    }

    /// [`Self::home_host`] as a URL without a trailing slash.
    pub fn home_url(&self, site: &SiteSpec) -> String {
        self.url_of(&self.home_host(site))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn addressing(port: u16, https: bool) -> SiteAddressing {
        SiteAddressing {
            platform_domain: Hostname::parse("sites.example.net").unwrap(),
            port,
            https,
        }
    }

    #[test]
    fn urls() {
        let slug = SiteSlug::parse("blog").unwrap();
        assert_eq!(
            addressing(8080, false).site_url(&slug),
            "http://blog.sites.example.net:8080"
        );
        assert_eq!(
            addressing(80, false).site_url(&slug),
            "http://blog.sites.example.net"
        );
        assert_eq!(
            addressing(80, true).site_url(&slug),
            "https://blog.sites.example.net"
        );
    }
}
