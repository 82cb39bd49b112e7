//! A customer's own domain for a site: an internationalised name, stored as its IDNA
//! ASCII form (`bücher.example` → `xn--bcher-kva.example`). Invisible characters and
//! confusable labels are refused, also when typed as punycode (`xn--…`).

use super::{
    is_dns_label,
    unicode::{confusable_label, invisible_in},
    Hostname, Invalid,
};

/// A domain a customer maps to a site, e.g. `www.example.com`: at least two labels, not the
/// platform's domain or under it, not an address.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct CustomDomain(String);

impl CustomDomain {
    /// A domain name is at most 253 characters in its ASCII form.
    pub const MAX_LEN: usize = 253;

    pub fn parse(input: &str, platform_domain: &str) -> Result<Self, Invalid> {
        let bad = |m: String| Err(Invalid::new("hostname", m));
        let raw = input.trim();
        if raw.is_empty() {
            return bad("Enter a domain name, such as www.example.com.".into());
        }
        if raw.contains("://") || raw.contains('/') || raw.contains(':') || raw.contains('@') {
            return bad(format!(
                "Enter only the domain name, such as www.example.com, not {raw:?}."
            ));
        }
        if raw.starts_with('*') {
            return bad("Wildcard domains are not supported: add each name.".into());
        }
        let raw = raw.strip_suffix('.').unwrap_or(raw);
        // IDNA would drop a soft hyphen or a zero-width character silently, making a
        // different name than the one shown: refuse it instead.
        if let Some(what) = invisible_in(raw) {
            return bad(format!(
                "{raw:?} holds an invisible character, a {what}: type the domain again."
            ));
        }
        let Ok(ascii) = idna::domain_to_ascii(raw) else {
            return bad(format!("{raw:?} is not a valid domain name."));
        };
        // Judged as people read it, also when it was typed as punycode.
        let (unicode, decoded) = idna::domain_to_unicode(&ascii);
        if decoded.is_err() {
            return bad(format!("{raw:?} is not a valid domain name."));
        }
        if let Some(what) = invisible_in(&unicode) {
            return bad(format!(
                "{raw:?} holds an invisible character, a {what}: type the domain again."
            ));
        }
        if let Some(why) = unicode.split('.').find_map(confusable_label) {
            return bad(format!("{raw:?} is refused: {why}."));
        }
        if ascii.len() > Self::MAX_LEN {
            return bad(format!(
                "A domain name is at most {} characters long.",
                Self::MAX_LEN
            ));
        }
        let labels: Vec<&str> = ascii.split('.').collect();
        if labels.len() < 2 {
            return bad(format!(
                "{raw:?} is not a full domain name: add its ending, such as .com."
            ));
        }
        if let Some(label) = labels.iter().find(|l| !is_dns_label(l)) {
            return bad(format!(
                "{raw:?} is not a valid domain name: the part {label:?} may hold only letters, \
                 digits and inner hyphens."
            ));
        }
        let tld = labels[labels.len() - 1];
        if tld.bytes().all(|b| b.is_ascii_digit()) {
            return bad("Enter a domain name, not an IP address.".into());
        }
        let platform = platform_domain.trim_end_matches('.').to_ascii_lowercase();
        if ascii == platform || ascii.ends_with(&format!(".{platform}")) {
            return bad(format!(
                "Names under {platform} are the platform's: your site already has one."
            ));
        }
        if tld == "localhost" {
            return bad("Enter a public domain name.".into());
        }
        Ok(Self(ascii))
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }

    /// The domain as a hostname the site answers to.
    pub fn to_hostname(&self) -> Hostname {
        Hostname::parse(&self.0).expect("a parsed domain is a DNS name")
    }
}

impl std::fmt::Display for CustomDomain {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.0)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parse(s: &str) -> Result<String, String> {
        CustomDomain::parse(s, "sites.example.net")
            .map(|d| d.0)
            .map_err(|e| e.message)
    }

    #[test]
    fn domains_are_normalised() {
        assert_eq!(parse(" WWW.Example.COM. ").unwrap(), "www.example.com");
        assert_eq!(parse("bücher.example").unwrap(), "xn--bcher-kva.example");
        assert_eq!(parse("shop.example.co.uk").unwrap(), "shop.example.co.uk");
    }

    #[test]
    fn bad_domains_are_refused_with_a_reason() {
        for (input, needle) in [
            ("", "Enter a domain"),
            ("https://www.example.com/", "only the domain"),
            ("example.com:8080", "only the domain"),
            ("*.example.com", "Wildcard"),
            ("localhost", "full domain"),
            ("intranet", "full domain"),
            ("my_site.example.com", "letters, digits"),
            ("-bad.example.com", "letters, digits"),
            ("a..b.com", "not a valid"),
            ("10.0.0.1", "IP address"),
            ("blog.sites.example.net", "platform"),
            ("sites.example.net", "platform"),
            ("app.localhost", "public domain"),
        ] {
            let err = parse(input).expect_err(input);
            assert!(err.contains(needle), "{input:?}: {err}");
        }
        let long = format!("{}.com", vec!["a".repeat(60); 5].join("."));
        assert!(parse(&long).unwrap_err().contains("at most"));
    }

    #[test]
    fn invisible_and_confusable_domains_are_refused() {
        for (input, needle) in [
            ("ex\u{AD}ample.com", "soft hyphen (U+00AD)"),
            ("exa\u{200B}mple.com", "zero-width space (U+200B)"),
            ("www.\u{202E}moc.example", "right-to-left override (U+202E)"),
            ("p\u{430}ypal.com", "mixes letters"),
            (
                "\u{430}\u{440}\u{440}\u{4CF}\u{435}.com",
                "mistaken for the plain name \"apple\"",
            ),
        ] {
            let err = parse(input).expect_err(input);
            assert!(err.contains(needle), "{input:?}: {err}");
            // The same name typed as punycode is judged the same way.
            if let Some(puny) = idna::domain_to_ascii(input)
                .ok()
                .filter(|p| p.contains("xn--"))
            {
                let err = parse(&puny).expect_err(&puny);
                assert!(err.contains("refused"), "{puny:?}: {err}");
            }
        }
        assert_eq!(
            parse("xn--bcher-kva.example").unwrap(),
            "xn--bcher-kva.example"
        );
    }
}
