//! A site's MySQL database: the server it lives on and how the panel administers it
//! ([`DbServer`]), and the site's own identity there — database name, user and password —
//! derived once here for every part that needs it (the database step, the site's config,
//! the snapshots' dump and load).

mod server;

use sha2::{Digest, Sha256};

pub use server::{AdminLogin, DbServer, ReloadLogin};

use crate::{
    domain::{SiteSpec, StepError},
    secrets::{MasterKey, Secret},
};

/// MySQL 8 limits user names to 32 characters (MariaDB allows more; RDS MySQL does not).
pub const MAX_USER_LEN: usize = 32;

/// A site's database and the user it connects as.
pub struct SiteDatabase {
    /// The database, and the user's name (the same): only `[a-z0-9_]`, at most 32.
    pub name: String,
    /// The user's password, derived from the master key.
    pub password: Secret,
}

impl SiteDatabase {
    pub fn of(site: &SiteSpec, key: &MasterKey) -> Result<Self, StepError> {
        let name = site_db_name(&site.slug);
        if !is_identifier(&name) {
            return Err(StepError::permanent(format!(
                "refusing the database identifier {name:?}"
            )));
        }
        let password = key.derive("db-password", &site.slug);
        // Derived passwords are 64 hex digits: nothing to escape anywhere they go.
        if !password.expose().bytes().all(|b| b.is_ascii_hexdigit()) {
            return Err(StepError::permanent(
                "the derived database password is not hex",
            ));
        }
        Ok(Self { name, password })
    }
}

/// The database and user name of a site: `wp_<slug with '_' for '-'>`, or when longer than
/// 32 characters, its first 23 characters + `_` + 8 hex digits of a hash of the slug.
pub fn site_db_name(slug: &str) -> String {
    let name = format!("wp_{}", slug.replace('-', "_"));
    if name.len() <= MAX_USER_LEN {
        return name;
    }
    let hash = hex::encode(Sha256::digest(slug.as_bytes()));
    format!("{}_{}", &name[..MAX_USER_LEN - 9], &hash[..8])
}

/// Only `[a-z0-9_]` ever goes into SQL as an identifier.
fn is_identifier(name: &str) -> bool {
    !name.is_empty()
        && name.len() <= MAX_USER_LEN
        && name
            .bytes()
            .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'_')
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_fit_mysql() {
        assert_eq!(site_db_name("my-blog"), "wp_my_blog");
        let long = "a".repeat(40);
        let long2 = format!("{}b", "a".repeat(39));
        assert_eq!(site_db_name(&long).len(), 32);
        assert_ne!(site_db_name(&long), site_db_name(&long2));
        assert!(is_identifier("wp_x1"));
        assert!(!is_identifier("wp`x"));
    }
}
