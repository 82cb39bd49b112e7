//! Secrets: a redacting wrapper, and the master key every per-site secret is derived from.
//!
//! Per-site secrets (database passwords, WordPress salts, login-link keys) are never stored:
//! they are derived from the master key with HMAC-SHA256, so an `ensure` that runs again
//! derives the same value and nothing secret sits in the control-plane database.

use std::{fmt, io::Write, os::unix::fs::OpenOptionsExt, path::Path};

use hmac::{Hmac, Mac};
use rand::RngCore;
use sha2::Sha256;

/// A secret string: no `Debug`, `Display` or `Serialize` shows its contents.
#[derive(Clone, PartialEq, Eq)]
pub struct Secret(String);

impl Secret {
    pub fn new(value: impl Into<String>) -> Self {
        Self(value.into())
    }
    /// The secret itself, for the one place that must use it.
    pub fn expose(&self) -> &str {
        &self.0
    }
}

impl fmt::Debug for Secret {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("Secret(***)")
    }
}

/// The installation's master key: 32 random bytes in a file only its owner can read.
#[derive(Clone)]
pub struct MasterKey([u8; 32]);

impl fmt::Debug for MasterKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("MasterKey(***)")
    }
}

impl MasterKey {
    /// Reads the key at `path`, creating it (mode 0600) on first use.
    pub fn load_or_create(path: &Path) -> std::io::Result<Self> {
        match std::fs::read_to_string(path) {
            Ok(text) => Self::from_hex(text.trim()).ok_or_else(|| {
                std::io::Error::new(
                    std::io::ErrorKind::InvalidData,
                    format!("{} does not hold a 64-digit hex key", path.display()),
                )
            }),
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
                let dir = path.parent().unwrap_or(Path::new("."));
                std::fs::create_dir_all(dir)?;
                let mut key = [0u8; 32];
                rand::thread_rng().fill_bytes(&mut key);
                // Written whole to a private temporary file, then linked into place: a reader
                // never sees a half-written key, and of two racing creators one key wins.
                let tmp = dir.join(format!(
                    ".master.key.{}.{:x}",
                    std::process::id(),
                    rand::random::<u64>()
                ));
                let mut file = std::fs::OpenOptions::new()
                    .write(true)
                    .create_new(true)
                    .mode(0o600)
                    .open(&tmp)?;
                file.write_all(hex::encode(key).as_bytes())?;
                file.sync_all()?;
                let linked = std::fs::hard_link(&tmp, path);
                std::fs::remove_file(&tmp)?;
                match linked {
                    Ok(()) => Ok(Self(key)),
                    Err(e) if e.kind() == std::io::ErrorKind::AlreadyExists => {
                        Self::load_or_create(path)
                    }
                    Err(e) => Err(e),
                }
            }
            Err(e) => Err(e),
        }
    }

    pub fn from_hex(text: &str) -> Option<Self> {
        let bytes = hex::decode(text).ok()?;
        Some(Self(bytes.try_into().ok()?))
    }

    /// A stable secret for `purpose` (e.g. `"db-password"`) of `subject` (e.g. a site slug).
    pub fn derive(&self, purpose: &str, subject: &str) -> Secret {
        let mut mac = Hmac::<Sha256>::new_from_slice(&self.0).expect("any key length works");
        mac.update(purpose.as_bytes());
        mac.update(&[0]);
        mac.update(subject.as_bytes());
        Secret(hex::encode(mac.finalize().into_bytes()))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn derivation_is_stable_and_separated() {
        let key = MasterKey([7; 32]);
        assert_eq!(key.derive("db", "blog"), key.derive("db", "blog"));
        assert_ne!(key.derive("db", "blog"), key.derive("db", "blog2"));
        assert_ne!(key.derive("db", "blog"), key.derive("salt", "blog"));
        assert_eq!(key.derive("db", "blog").expose().len(), 64);
    }

    #[test]
    fn debug_never_shows_a_secret() {
        let key = MasterKey([7; 32]);
        let secret = key.derive("db", "blog");
        assert_eq!(format!("{secret:?}"), "Secret(***)");
        assert_eq!(format!("{key:?}"), "MasterKey(***)");
    }

    #[test]
    fn key_file_is_created_once_and_private() {
        let dir = std::env::temp_dir().join(format!("mywp-key-{}", std::process::id()));
        let path = dir.join("master.key");
        let a = MasterKey::load_or_create(&path).unwrap();
        let b = MasterKey::load_or_create(&path).unwrap();
        assert_eq!(a.0, b.0);
        use std::os::unix::fs::PermissionsExt;
        let mode = std::fs::metadata(&path).unwrap().permissions().mode();
        assert_eq!(mode & 0o777, 0o600);
        std::fs::remove_dir_all(dir).unwrap();
    }
}
