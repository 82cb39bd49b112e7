//! The domain model's values, parsed at the edge: a value of these types is valid by
//! construction ("parse, don't validate").

mod account;
mod hostname;
mod site;

pub use account::{Email, Password, PasswordHash, Role};
pub use hostname::CustomDomain;
pub use site::{SiteSlug, SiteStatus, SiteTitle};

/// Bad input, with the form field it belongs to and a message a customer can act on.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{message}")]
pub struct Invalid {
    pub field: &'static str,
    pub message: String,
}

impl Invalid {
    pub fn new(field: &'static str, message: impl Into<String>) -> Self {
        Self {
            field,
            message: message.into(),
        }
    }
}
