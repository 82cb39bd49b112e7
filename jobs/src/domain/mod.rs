//! The domain model's values, parsed at the edge: a value of these types is valid by
//! construction ("parse, don't validate"), and the vocabulary the store, the pipeline and
//! the panel share (steps, snapshots). It depends on nothing else in the crate.

/// `parse` and `TryFrom<String>` (how the store decodes a name column) for an enum with
/// `ALL` and `as_str`: a name is spelled in one place only.
macro_rules! stored_names {
    ($ty:ident, $what:literal) => {
        impl $ty {
            /// The value `as_str` spells `name`, if any.
            pub fn parse(name: &str) -> Option<Self> {
                Self::ALL.into_iter().find(|v| v.as_str() == name)
            }
        }

        impl TryFrom<String> for $ty {
            type Error = $crate::domain::UnknownName;

            fn try_from(name: String) -> Result<Self, Self::Error> {
                Self::parse(&name).ok_or($crate::domain::UnknownName { what: $what, name })
            }
        }
    };
}

mod account;
mod addressing;
mod dns;
mod hostname;
mod ownership;
mod site;
mod site_spec;
mod snapshot;
mod step;
mod step_error;
mod unicode;

pub use account::{Email, Password, PasswordHash, Role};
pub use addressing::SiteAddressing;
pub use dns::{is_dns_label, is_dns_name, Hostname};
pub use hostname::CustomDomain;
pub use ownership::{
    judge, next_state, Answer, Answers, Challenge, ChallengeToken, Checked, ProofState, Verdict,
    CHALLENGE_LABEL,
};
pub use site::{SiteSlug, SiteStatus, SiteTitle};
pub use site_spec::SiteSpec;
pub use snapshot::{OpState, Retention, SnapshotFacts, SnapshotKind};
pub use step::{StepKind, StepState};
pub use step_error::StepError;

/// A stored name that names no value of its type: a row written by hand, or by a newer
/// version of MyWP.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("unknown {what} {name:?}")]
pub struct UnknownName {
    pub what: &'static str,
    pub name: String,
}

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
