//! Snapshots of a site and the restores made from them: why one was taken, where an
//! operation stands, what a finished snapshot holds, and how many of each kind are kept.

/// Why a snapshot was taken.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum SnapshotKind {
    /// By the schedule (daily by default).
    Scheduled,
    /// Asked for by the site's owner.
    Manual,
    /// Taken just before a restore replaced the site's content, so nothing is lost.
    PreRestore,
}

impl SnapshotKind {
    pub const ALL: [SnapshotKind; 3] = [Self::Scheduled, Self::Manual, Self::PreRestore];

    pub fn as_str(self) -> &'static str {
        match self {
            Self::Scheduled => "scheduled",
            Self::Manual => "manual",
            Self::PreRestore => "pre_restore",
        }
    }
}

/// Where a snapshot or a restore stands.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum OpState {
    Pending,
    Running,
    Done,
    Failed,
}

impl OpState {
    pub const ALL: [OpState; 4] = [Self::Pending, Self::Running, Self::Done, Self::Failed];

    pub fn as_str(self) -> &'static str {
        match self {
            Self::Pending => "pending",
            Self::Running => "running",
            Self::Done => "done",
            Self::Failed => "failed",
        }
    }

    /// Pending or running: a worker has it, or will.
    pub fn is_active(self) -> bool {
        matches!(self, Self::Pending | Self::Running)
    }
}

stored_names!(SnapshotKind, "snapshot kind");
stored_names!(OpState, "operation state");

/// What a finished snapshot holds: each part's size and SHA-256, checked on restore.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SnapshotFacts {
    pub database_bytes: i64,
    pub database_sha256: String,
    pub files_bytes: i64,
    pub files_sha256: String,
}

/// How many finished snapshots of each kind a site keeps; older ones are deleted.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Retention {
    pub scheduled: usize,
    pub manual: usize,
    pub pre_restore: usize,
}

impl Default for Retention {
    /// Two weeks of daily snapshots, the five newest manual ones, the three newest taken
    /// before a restore.
    fn default() -> Self {
        Self {
            scheduled: 14,
            manual: 5,
            pre_restore: 3,
        }
    }
}

impl Retention {
    /// How many finished snapshots of `kind` are kept.
    pub fn keep(&self, kind: SnapshotKind) -> usize {
        match kind {
            SnapshotKind::Scheduled => self.scheduled,
            SnapshotKind::Manual => self.manual,
            SnapshotKind::PreRestore => self.pre_restore,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_round_trip() {
        for kind in SnapshotKind::ALL {
            assert_eq!(SnapshotKind::try_from(kind.as_str().to_owned()), Ok(kind));
        }
        for state in OpState::ALL {
            assert_eq!(OpState::try_from(state.as_str().to_owned()), Ok(state));
        }
        assert_eq!(
            SnapshotKind::parse("pre_restore"),
            Some(SnapshotKind::PreRestore)
        );
        assert!(OpState::try_from("paused".to_owned()).is_err());
    }
}
