//! DNS names: the one rule for a label, and a validated hostname. Slugs, customers'
//! domains, the platform domain, server-block file names and the agent all use it.

use super::Invalid;

/// A DNS label as the platform uses it: 1 to 63 of `[a-z0-9-]`, not starting or ending
/// with `-` (lower case: names are normalised before they are checked).
pub fn is_dns_label(label: &str) -> bool {
    !label.is_empty()
        && label.len() <= 63
        && !label.starts_with('-')
        && !label.ends_with('-')
        && label
            .bytes()
            .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-')
}

/// A lowercase ASCII DNS name (IDNA-normalised already): labels per [`is_dns_label`],
/// 253 characters at most.
pub fn is_dns_name(name: &str) -> bool {
    !name.is_empty() && name.len() <= 253 && name.split('.').all(is_dns_label)
}

/// A hostname a site answers to: its platform hostname or a customer's domain, in its
/// lowercase ASCII (IDNA) form. Safe to put into nginx and PHP configuration verbatim.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct Hostname(String);

impl Hostname {
    /// `name` (a trailing dot and capitals are accepted) as a hostname.
    pub fn parse(name: &str) -> Result<Self, Invalid> {
        let name = name.trim().trim_end_matches('.').to_ascii_lowercase();
        if is_dns_name(&name) {
            Ok(Self(name))
        } else {
            Err(Invalid::new(
                "hostname",
                format!("{name:?} is not a DNS name"),
            ))
        }
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl std::ops::Deref for Hostname {
    type Target = str;
    fn deref(&self) -> &str {
        &self.0
    }
}

impl std::fmt::Display for Hostname {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.0)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn labels_and_names() {
        assert!(is_dns_label("my-blog2"));
        assert!(!is_dns_label("-x"));
        assert!(!is_dns_label("x-"));
        assert!(!is_dns_label("a_b"));
        assert!(!is_dns_label("Ab"));
        assert!(!is_dns_label(""));
        assert!(!is_dns_label(&"a".repeat(64)));
        assert!(is_dns_name("blog.example.com"));
        assert!(!is_dns_name("blog.example.com;"));
        assert!(!is_dns_name("a..b"));
        assert!(!is_dns_name(&format!(
            "{}.com",
            vec!["a".repeat(60); 5].join(".")
        )));
    }

    #[test]
    fn hostnames_are_normalised_or_refused() {
        assert_eq!(
            Hostname::parse("Blog.Example.COM.").unwrap().as_str(),
            "blog.example.com"
        );
        for bad in ["", "a b.com", "x;y.com", "bücher.example", "a..b"] {
            assert!(Hostname::parse(bad).is_err(), "{bad:?}");
        }
    }
}
