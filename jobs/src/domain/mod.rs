//! The domain model's values, parsed at the edge: a value of these types is valid by
//! construction ("parse, don't validate").

mod account;
mod addressing;
mod dns;
mod hostname;
mod site;
mod site_spec;
mod step_error;

pub use account::{Email, Password, PasswordHash, Role};
pub use addressing::SiteAddressing;
pub use dns::{is_dns_label, is_dns_name, Hostname};
pub use hostname::CustomDomain;
pub use site::{SiteSlug, SiteStatus, SiteTitle};
pub use site_spec::SiteSpec;
pub use step_error::StepError;

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
