//! Accounts: emails, passwords and roles.

use argon2::{
    password_hash::{rand_core::OsRng, PasswordHasher, PasswordVerifier, SaltString},
    Argon2,
};

use super::Invalid;

/// A syntactically valid email address, trimmed and lower-cased.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct Email(String);

impl Email {
    pub fn parse(input: &str) -> Result<Self, Invalid> {
        let email = input.trim().to_lowercase();
        let bad = |m: &str| Err(Invalid::new("email", m));
        if email.is_empty() {
            return bad("Enter your email address.");
        }
        if email.len() > 254 {
            return bad("That email address is too long.");
        }
        let Some((local, domain)) = email.split_once('@') else {
            return bad("An email address needs an @, as in name@example.com.");
        };
        if local.is_empty() || local.len() > 64 || domain.contains('@') {
            return bad("That is not a valid email address.");
        }
        if local
            .chars()
            .any(|c| c.is_whitespace() || c.is_control() || "<>()[]\\,;:\"".contains(c))
        {
            return bad("The part before the @ has characters an address cannot have.");
        }
        let labels: Vec<&str> = domain.split('.').collect();
        let label_ok = |l: &&str| {
            !l.is_empty()
                && l.len() <= 63
                && !l.starts_with('-')
                && !l.ends_with('-')
                && l.chars().all(|c| c.is_alphanumeric() || c == '-')
        };
        if labels.len() < 2 || !labels.iter().all(label_ok) {
            return bad("The part after the @ must be a domain, as in example.com.");
        }
        Ok(Self(email))
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl std::fmt::Display for Email {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.0)
    }
}

/// A password good enough to accept. It neither prints nor serializes.
pub struct Password(String);

impl std::fmt::Debug for Password {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("Password(***)")
    }
}

const COMMON: &[&str] = &[
    "password",
    "password1",
    "password123",
    "passw0rd",
    "123456789",
    "1234567890",
    "qwertyuiop",
    "iloveyou",
    "letmein123",
    "welcome123",
    "wordpress",
    "wordpress1",
    "administrator",
    "qwerty123",
];

impl Password {
    pub const MIN_LEN: usize = 10;

    /// A new password: long enough, not common, not the email.
    pub fn parse_new(input: &str, email: &Email) -> Result<Self, Invalid> {
        let bad = |m: &str| Err(Invalid::new("password", m));
        let chars = input.chars().count();
        if chars < Self::MIN_LEN {
            return bad("Use at least 10 characters for your password.");
        }
        if chars > 128 {
            return bad("Use at most 128 characters for your password.");
        }
        let lower = input.to_lowercase();
        let first = lower.chars().next();
        if COMMON.contains(&lower.as_str()) || lower.chars().all(|c| Some(c) == first) {
            return bad("That password is too easy to guess: pick a less common one.");
        }
        if lower == email.as_str() || email.as_str().starts_with(&format!("{lower}@")) {
            return bad("Your password must not be your email address.");
        }
        Ok(Self(input.to_owned()))
    }

    /// A password as typed at login: only its presence is checked.
    pub fn for_login(input: &str) -> Result<Self, Invalid> {
        if input.is_empty() {
            return Err(Invalid::new("password", "Enter your password."));
        }
        Ok(Self(input.to_owned()))
    }

    /// An argon2id hash of the password, with a fresh salt.
    pub fn hash(&self) -> PasswordHash {
        let salt = SaltString::generate(&mut OsRng);
        let hash = Argon2::default()
            .hash_password(self.0.as_bytes(), &salt)
            .expect("argon2 with default parameters does not fail")
            .to_string();
        PasswordHash(hash)
    }

    /// Whether the password matches `hash` (constant-time in the hash comparison).
    pub fn verify(&self, hash: &PasswordHash) -> bool {
        argon2::PasswordHash::new(&hash.0)
            .map(|parsed| {
                Argon2::default()
                    .verify_password(self.0.as_bytes(), &parsed)
                    .is_ok()
            })
            .unwrap_or(false)
    }
}

/// An argon2id PHC string, as stored.
#[derive(Clone, PartialEq, Eq)]
pub struct PasswordHash(pub String);

impl std::fmt::Debug for PasswordHash {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("PasswordHash(***)")
    }
}

impl PasswordHash {
    /// A hash of a random password: verifying against it costs as much as a real one, so an
    /// unknown email and a wrong password take the same time.
    pub fn decoy() -> &'static PasswordHash {
        static DECOY: std::sync::OnceLock<PasswordHash> = std::sync::OnceLock::new();
        DECOY.get_or_init(|| Password("decoy-password-never-matches".into()).hash())
    }
}

/// What an account may do.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Role {
    Customer,
    Staff,
}

impl Role {
    pub const ALL: [Role; 2] = [Role::Customer, Role::Staff];

    pub fn as_str(self) -> &'static str {
        match self {
            Role::Customer => "customer",
            Role::Staff => "staff",
        }
    }
}

stored_names!(Role, "role");

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn emails() {
        assert_eq!(
            Email::parse("  Ann@Example.COM ").unwrap().as_str(),
            "ann@example.com"
        );
        for bad in [
            "",
            "ann",
            "ann@",
            "@example.com",
            "ann@example",
            "a b@example.com",
            "ann@-x.com",
            "a@b@c.com",
        ] {
            assert!(Email::parse(bad).is_err(), "{bad:?} was accepted");
        }
        assert_eq!(Email::parse("ann").unwrap_err().field, "email");
    }

    #[test]
    fn passwords() {
        let email = Email::parse("ann@example.com").unwrap();
        assert!(Password::parse_new("correct horse battery", &email).is_ok());
        for weak in ["short", "password123", "aaaaaaaaaaaa", "ann@example.com"] {
            let err = Password::parse_new(weak, &email).unwrap_err();
            assert_eq!(err.field, "password", "{weak:?}");
        }
    }

    #[test]
    fn roles_round_trip() {
        for role in Role::ALL {
            assert_eq!(Role::try_from(role.as_str().to_owned()), Ok(role));
        }
        assert!(Role::try_from("admin".to_owned()).is_err());
    }

    #[test]
    fn hashes_are_argon2id_and_verify() {
        let email = Email::parse("ann@example.com").unwrap();
        let pw = Password::parse_new("correct horse battery", &email).unwrap();
        let hash = pw.hash();
        assert!(hash.0.starts_with("$argon2id$"));
        assert!(pw.verify(&hash));
        assert!(!Password::for_login("wrong horse battery")
            .unwrap()
            .verify(&hash));
        assert!(!pw.verify(PasswordHash::decoy()));
        assert_eq!(
            format!("{pw:?} {hash:?}"),
            "Password(***) PasswordHash(***)"
        );
    }
}
