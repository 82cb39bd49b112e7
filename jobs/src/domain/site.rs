//! Sites: slugs, titles and statuses.

use super::{is_dns_label, unicode::invisible_in_title, Invalid};

/// Names no customer may take: they are the platform's own hostnames or look like them.
const RESERVED: &[&str] = &[
    "www",
    "admin",
    "administrator",
    "api",
    "app",
    "mail",
    "smtp",
    "imap",
    "pop",
    "pop3",
    "ftp",
    "sftp",
    "ssh",
    "ns",
    "ns1",
    "ns2",
    "dns",
    "mx",
    "panel",
    "dashboard",
    "console",
    "staff",
    "support",
    "help",
    "status",
    "billing",
    "login",
    "signup",
    "auth",
    "oauth",
    "sso",
    "static",
    "assets",
    "cdn",
    "media",
    "files",
    "backup",
    "backups",
    "root",
    "localhost",
    "test",
    "mywp",
    "wordpress",
    "wp",
    "webmail",
    "cpanel",
    "autoconfig",
    "autodiscover",
    "blog-admin",
];

/// A site's subdomain: a DNS label of 3 to 40 lower-case letters, digits and hyphens.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct SiteSlug(String);

impl SiteSlug {
    pub const MAX_LEN: usize = 40;

    pub fn parse(input: &str) -> Result<Self, Invalid> {
        let slug = input.trim().to_ascii_lowercase();
        let bad = |m: String| Err(Invalid::new("slug", m));
        if slug.is_empty() {
            return bad("Choose a subdomain for your site.".into());
        }
        if let Some(c) = slug
            .chars()
            .find(|c| !(c.is_ascii_lowercase() || c.is_ascii_digit() || *c == '-'))
        {
            return bad(format!(
                "A subdomain can hold only letters a–z, digits and hyphens; {c:?} is not allowed."
            ));
        }
        if slug.len() < 3 || slug.len() > Self::MAX_LEN {
            return bad(format!(
                "A subdomain must be 3 to {} characters long.",
                Self::MAX_LEN
            ));
        }
        if !is_dns_label(&slug) {
            return bad("A subdomain cannot start or end with a hyphen.".into());
        }
        if slug.get(2..4) == Some("--") {
            return bad("A subdomain cannot have hyphens in its third and fourth places.".into());
        }
        if RESERVED.contains(&slug.as_str()) {
            return bad(format!("\"{slug}\" is reserved: choose another subdomain."));
        }
        Ok(Self(slug))
    }

    /// A slug the control plane stored: it passed [`Self::parse`] when the site was made,
    /// but the rules for new names (reserved words, length) may have grown since, so only
    /// what keeps it a safe DNS label is checked again.
    pub fn from_stored(stored: &str) -> Result<Self, Invalid> {
        if is_dns_label(stored) && stored.len() <= Self::MAX_LEN {
            Ok(Self(stored.to_string()))
        } else {
            Err(Invalid::new(
                "slug",
                format!("the stored site name {stored:?} is not a DNS label"),
            ))
        }
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl std::ops::Deref for SiteSlug {
    type Target = str;
    fn deref(&self) -> &str {
        &self.0
    }
}

impl std::fmt::Display for SiteSlug {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.0)
    }
}

/// A site's title: 1 to 80 printable characters, none invisible or changing the text's
/// direction (a title that reads differently from what it holds).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SiteTitle(String);

impl SiteTitle {
    pub fn parse(input: &str) -> Result<Self, Invalid> {
        let title = input.trim();
        if title.is_empty() {
            return Err(Invalid::new("title", "Give your site a title."));
        }
        if title.chars().count() > 80 {
            return Err(Invalid::new(
                "title",
                "Keep the title to 80 characters or fewer.",
            ));
        }
        if title.chars().any(char::is_control) {
            return Err(Invalid::new(
                "title",
                "The title cannot hold control characters.",
            ));
        }
        if let Some(what) = invisible_in_title(title) {
            return Err(Invalid::new(
                "title",
                format!("The title holds an invisible character, a {what}: remove it."),
            ));
        }
        Ok(Self(title.to_owned()))
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }
}

/// Where a site stands as a whole.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SiteStatus {
    /// Steps are being carried out.
    Provisioning,
    /// Every available step is done: the site answers on its hostname.
    Live,
    /// A step failed for good; staff or the customer can retry.
    Failed,
    /// Its resources are being removed.
    Deleting,
    /// A removal failed; staff can retry.
    DeleteFailed,
}

impl SiteStatus {
    pub const ALL: [SiteStatus; 5] = [
        SiteStatus::Provisioning,
        SiteStatus::Live,
        SiteStatus::Failed,
        SiteStatus::Deleting,
        SiteStatus::DeleteFailed,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            SiteStatus::Provisioning => "provisioning",
            SiteStatus::Live => "live",
            SiteStatus::Failed => "failed",
            SiteStatus::Deleting => "deleting",
            SiteStatus::DeleteFailed => "delete_failed",
        }
    }
}

stored_names!(SiteStatus, "site status");

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn slugs() {
        assert_eq!(SiteSlug::parse(" My-Blog ").unwrap().as_str(), "my-blog");
        assert!(SiteSlug::parse("a1b").is_ok());
        assert!(SiteSlug::parse(&"a".repeat(40)).is_ok());
        for bad in [
            "", "ab", "-abc", "abc-", "ab--c", "my_blog", "my.blog", "blög", "www", "admin", "api",
            "mail",
        ] {
            assert!(SiteSlug::parse(bad).is_err(), "{bad:?} was accepted");
        }
        assert!(SiteSlug::parse(&"a".repeat(41)).is_err());
        assert!(SiteSlug::parse("www")
            .unwrap_err()
            .message
            .contains("reserved"));
    }

    #[test]
    fn titles() {
        assert_eq!(
            SiteTitle::parse("  Ann's Blog ").unwrap().as_str(),
            "Ann's Blog"
        );
        assert!(SiteTitle::parse("   ").is_err());
        assert!(SiteTitle::parse(&"x".repeat(81)).is_err());
        assert!(SiteTitle::parse("a\u{7}b").is_err());
        assert!(SiteTitle::parse("!!! ???").is_ok());
        assert!(SiteTitle::parse("🎉🚀").is_ok());
        for (bad, name) in [
            ("Ann\u{AD}s Blog", "soft hyphen (U+00AD)"),
            ("Blog \u{202E}gnp.exe", "right-to-left override (U+202E)"),
            ("a\u{200B}b", "zero-width space (U+200B)"),
        ] {
            let err = SiteTitle::parse(bad).unwrap_err().message;
            assert!(err.contains(name), "{bad:?}: {err}");
        }
    }

    #[test]
    fn statuses_round_trip() {
        for status in SiteStatus::ALL {
            assert_eq!(SiteStatus::try_from(status.as_str().to_owned()), Ok(status));
        }
        assert!(SiteStatus::try_from("gone".to_owned()).is_err());
    }
}
