//! A site's MySQL database: the server it lives on and how the panel administers it
//! ([`DbServer`]), and the site's own identity there — database name, user and password —
//! derived once here for every part that needs it (the database step, the site's config,
//! the snapshots' dump and load).
//!
//! Names derive from the site's id, never from its slug: two sites never share a name, and
//! a slug a deleted site freed gives its next owner nothing of the old one (not even its
//! password). The database step records which site each name belongs to ([`registry`]).

pub mod registry;
mod server;

use sha2::{Digest, Sha256};

pub use server::{AdminLogin, DbServer, ReloadLogin};

use crate::{
    domain::{SiteSpec, StepError},
    secrets::{MasterKey, Secret},
};

/// MySQL 8 limits user names to 32 characters (MariaDB allows more; RDS MySQL does not).
pub const MAX_USER_LEN: usize = 32;

/// What sets this installation's database names apart from another's on the same server
/// (`MYWP_DB_NAMESPACE`, empty by default): `mywp<namespace>_<site id>`. Two panels sharing
/// one MySQL server (staging and production, or the tests' many panels) each give it their
/// own; site ids alone are unique only within one panel's database.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct DbNamespace(String);

impl DbNamespace {
    /// At most 8 of `[a-z0-9]`, so that a name with the largest id fits in 32 characters.
    pub const MAX_LEN: usize = 8;

    pub fn parse(input: &str) -> Result<Self, String> {
        if input.len() <= Self::MAX_LEN
            && input
                .bytes()
                .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit())
        {
            Ok(Self(input.to_string()))
        } else {
            Err(format!(
                "a database namespace is at most {} of a-z and 0-9, not {input:?}",
                Self::MAX_LEN
            ))
        }
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }

    /// The database and user name of site `id`: `mywp<namespace>_<id>`. Injective (the id
    /// follows the only `_`), and never a name the previous code gave (`wp_<slug>`).
    pub fn db_name(&self, id: i64) -> String {
        format!("mywp{}_{id}", self.0)
    }
}

/// A site's database and the user it connects as.
pub struct SiteDatabase {
    /// The database, and the user's name (the same): only `[a-z0-9_]`, at most 32.
    pub name: String,
    /// The user's password, derived from the master key and the name (so from the id).
    pub password: Secret,
}

impl SiteDatabase {
    pub fn of(site: &SiteSpec, ns: &DbNamespace, key: &MasterKey) -> Result<Self, StepError> {
        if site.id <= 0 {
            return Err(StepError::permanent(format!(
                "refusing the site id {} for a database name",
                site.id
            )));
        }
        let name = ns.db_name(site.id);
        checked(name.clone())?;
        let password = key.derive("site-db-password", &name);
        Ok(Self { name, password })
    }
}

/// The database and user name the previous code gave a site: `wp_<slug with '_' for '-'>`,
/// or when longer than 32 characters, its first 23 characters + `_` + 8 hex digits of a
/// hash of the slug — not injective (issue 9). Used only to move a site made before the
/// upgrade to its new name ([`crate::drivers::local::MariaDbDriver`]), never for new ones.
pub fn legacy_db_name(slug: &str) -> String {
    let name = format!("wp_{}", slug.replace('-', "_"));
    if name.len() <= MAX_USER_LEN {
        return name;
    }
    let hash = hex::encode(Sha256::digest(slug.as_bytes()));
    format!("{}_{}", &name[..MAX_USER_LEN - 9], &hash[..8])
}

/// The password the previous code derived for a site's legacy user (upgrade only: it
/// proves that the legacy database of that name was this site's).
pub fn legacy_db_password(slug: &str, key: &MasterKey) -> Secret {
    key.derive("db-password", slug)
}

/// Only `[a-z0-9_]`, at most 32 characters, ever goes into SQL as an identifier.
pub fn checked(name: String) -> Result<String, StepError> {
    let ok = !name.is_empty()
        && name.len() <= MAX_USER_LEN
        && name
            .bytes()
            .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'_');
    if ok {
        Ok(name)
    } else {
        Err(StepError::permanent(format!(
            "refusing the database identifier {name:?}"
        )))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn site(id: i64, slug: &str) -> SiteSpec {
        let no_hosts: [&str; 0] = [];
        SiteSpec::parse(id, slug, "T", "o@example.com", &no_hosts).unwrap()
    }

    #[test]
    fn names_come_from_the_id_and_fit_mysql() {
        let key = MasterKey::from_hex(&"07".repeat(32)).unwrap();
        let ns = DbNamespace::default();
        let a = SiteDatabase::of(&site(12, "my-blog"), &ns, &key).unwrap();
        assert_eq!(a.name, "mywp_12");
        // The same slug under another id: another name and another password.
        let b = SiteDatabase::of(&site(13, "my-blog"), &ns, &key).unwrap();
        assert_ne!(a.name, b.name);
        assert_ne!(a.password.expose(), b.password.expose());
        let big = DbNamespace::parse("abcdefgh").unwrap();
        let widest = SiteDatabase::of(&site(i64::MAX, "my-blog"), &big, &key).unwrap();
        assert_eq!(widest.name.len(), MAX_USER_LEN);
        assert!(DbNamespace::parse("abcdefghi").is_err());
        assert!(DbNamespace::parse("a_b").is_err());
        assert!(SiteDatabase::of(&site(0, "my-blog"), &ns, &key).is_err());
        assert!(checked("wp`x".into()).is_err());
    }

    #[test]
    fn the_legacy_names_collided_and_the_new_ones_do_not() {
        // Issue 9's attack: a long slug, and the 29-character slug made of its first 20
        // characters and 8 hex digits of its hash.
        let long = "the-quick-brown-fox-jumps-over-the-lazy-dog";
        let victim = legacy_db_name(long);
        let hash = &victim[victim.len() - 8..];
        let crafted = format!("{}-{hash}", &long[..20]);
        assert_eq!(crafted.len(), 29);
        assert_eq!(legacy_db_name(&crafted), victim, "the old scheme collides");
        let ns = DbNamespace::default();
        assert_ne!(ns.db_name(1), ns.db_name(2));
        // A new name never looks like a legacy one (those start with `wp_`).
        assert!(!ns.db_name(12).starts_with("wp_"));
        assert_eq!(legacy_db_name("s12"), "wp_s12");
    }
}
