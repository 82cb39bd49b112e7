//! The steps of a site's provisioning pipeline, the DAG between them, and where each stands.

use serde::{Deserialize, Serialize};

/// One step of a site's provisioning.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum StepKind {
    Database,
    Files,
    Media,
    Wordpress,
    Cdn,
    Dns,
    Certificate,
    Backup,
}

impl StepKind {
    /// Every step, in a topological order of the DAG.
    pub const ALL: [StepKind; 8] = [
        StepKind::Database,
        StepKind::Files,
        StepKind::Media,
        StepKind::Wordpress,
        StepKind::Cdn,
        StepKind::Dns,
        StepKind::Certificate,
        StepKind::Backup,
    ];

    /// The steps that must be done before this one starts.
    pub fn needs(self) -> &'static [StepKind] {
        match self {
            StepKind::Wordpress => &[StepKind::Database, StepKind::Files],
            StepKind::Dns => &[StepKind::Cdn],
            StepKind::Backup => &[StepKind::Database, StepKind::Files],
            _ => &[],
        }
    }

    pub fn as_str(self) -> &'static str {
        match self {
            StepKind::Database => "database",
            StepKind::Files => "files",
            StepKind::Media => "media",
            StepKind::Wordpress => "wordpress",
            StepKind::Cdn => "cdn",
            StepKind::Dns => "dns",
            StepKind::Certificate => "certificate",
            StepKind::Backup => "backup",
        }
    }

    /// What the step provides, in a customer's words.
    pub fn describe(self) -> &'static str {
        match self {
            StepKind::Database => "MySQL database and user",
            StepKind::Files => "Site directory and configuration",
            StepKind::Media => "Media storage",
            StepKind::Wordpress => "WordPress install and web server",
            StepKind::Cdn => "Content delivery network",
            StepKind::Dns => "DNS records",
            StepKind::Certificate => "TLS certificate",
            StepKind::Backup => "Backup plan",
        }
    }
}

/// Where a step stands.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum StepState {
    /// Not started yet.
    Pending,
    /// A worker is on it now.
    Running,
    /// Created, but not ready yet; a job will look again later.
    Waiting,
    /// Done: the resource exists and is ready.
    Done,
    /// Gave up: the last error says why; staff can retry.
    Failed,
    /// This deployment has no implementation of the step: nothing was done.
    Unavailable,
    /// Being removed.
    Removing,
    /// Removed (or never existed).
    Removed,
}

impl StepState {
    pub const ALL: [StepState; 8] = [
        StepState::Pending,
        StepState::Running,
        StepState::Waiting,
        StepState::Done,
        StepState::Failed,
        StepState::Unavailable,
        StepState::Removing,
        StepState::Removed,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            StepState::Pending => "pending",
            StepState::Running => "running",
            StepState::Waiting => "waiting",
            StepState::Done => "done",
            StepState::Failed => "failed",
            StepState::Unavailable => "unavailable",
            StepState::Removing => "removing",
            StepState::Removed => "removed",
        }
    }

    /// Done, or nothing to do here: the steps that need this one may start.
    pub fn satisfies_dependents(self) -> bool {
        matches!(self, StepState::Done | StepState::Unavailable)
    }
}

stored_names!(StepKind, "step");
stored_names!(StepState, "step state");

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn all_is_topologically_ordered() {
        for (i, step) in StepKind::ALL.iter().enumerate() {
            for need in step.needs() {
                let j = StepKind::ALL.iter().position(|s| s == need).unwrap();
                assert!(j < i, "{step:?} needs {need:?}, which comes later");
            }
        }
    }

    #[test]
    fn names_round_trip() {
        for step in StepKind::ALL {
            assert_eq!(StepKind::parse(step.as_str()), Some(step));
        }
        assert_eq!(StepKind::parse("nope"), None);
        assert_eq!(StepState::parse("waiting"), Some(StepState::Waiting));
        for state in StepState::ALL {
            assert_eq!(StepState::try_from(state.as_str().to_owned()), Ok(state));
        }
        let unknown = StepKind::try_from("nope".to_owned()).unwrap_err();
        assert_eq!(unknown.to_string(), "unknown step \"nope\"");
    }
}
