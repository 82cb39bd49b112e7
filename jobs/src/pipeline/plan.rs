//! The planner: which steps a run starts next, from the steps' rows alone. Pure (no store,
//! no drivers, no clock of its own), so the DAG rules are tested without either.

use std::collections::{BTreeMap, BTreeSet};

use crate::{
    domain::{StepKind, StepState},
    store::StepRow,
};

/// Which way a run carries a site.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Direction {
    /// Toward every step done: a step starts once every step it needs is done.
    Build,
    /// Toward every step removed: a step goes once every step needing it is removed.
    TearDown,
}

/// The steps to start now, in the order the DAG allows (topological for a build, reverse
/// for a tear-down). `now` is the clock in Unix ms; `in_flight`: steps this run has started
/// and not seen end (`Running` in the store may also be a killed worker's step, which must
/// be resumed, but not started twice); `failed_now`: removals that failed in this run (not
/// retried until the next run; a step that failed while being built *is* removed).
pub fn next_steps(
    steps: &BTreeMap<StepKind, StepRow>,
    direction: Direction,
    now: i64,
    in_flight: &BTreeSet<StepKind>,
    failed_now: &BTreeSet<StepKind>,
) -> Vec<StepKind> {
    let state = |kind: &StepKind| steps.get(kind).map_or(StepState::Pending, |r| r.state);
    let order: Vec<StepKind> = match direction {
        Direction::Build => StepKind::ALL.to_vec(),
        Direction::TearDown => StepKind::ALL.into_iter().rev().collect(),
    };
    order
        .into_iter()
        .filter(|kind| !in_flight.contains(kind))
        .filter(|kind| {
            let Some(row) = steps.get(kind) else {
                return false;
            };
            let not_before = row.next_attempt_at.is_some_and(|t| t > now);
            match direction {
                Direction::Build => {
                    let due = match row.state {
                        StepState::Pending
                        | StepState::Running
                        | StepState::Removing
                        | StepState::Removed => true,
                        StepState::Waiting => !not_before,
                        StepState::Done | StepState::Failed | StepState::Unavailable => false,
                    };
                    due && kind.needs().iter().all(|n| state(n).satisfies_dependents())
                }
                Direction::TearDown => {
                    // A removal waiting on AWS (a distribution being disabled) is due at its
                    // next attempt; one a killed worker left has none: due now.
                    let waiting = row.state == StepState::Removing && not_before;
                    let dependents_gone = StepKind::ALL
                        .iter()
                        .filter(|d| d.needs().contains(kind))
                        .all(|d| state(d) == StepState::Removed);
                    row.state != StepState::Removed
                        && !waiting
                        && !failed_now.contains(kind)
                        && dependents_gone
                }
            }
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn row(step: StepKind, state: StepState) -> StepRow {
        StepRow {
            step,
            state,
            attempts: 0,
            last_error: None,
            resource: None,
            started_at: None,
            finished_at: None,
            next_attempt_at: None,
        }
    }

    fn all(state: StepState) -> BTreeMap<StepKind, StepRow> {
        StepKind::ALL.map(|k| (k, row(k, state))).into()
    }

    fn set(steps: &mut BTreeMap<StepKind, StepRow>, kinds: &[StepKind], state: StepState) {
        for k in kinds {
            steps.get_mut(k).unwrap().state = state;
        }
    }

    const NONE: BTreeSet<StepKind> = BTreeSet::new();

    use StepKind::*;

    #[test]
    fn a_build_starts_what_needs_nothing_then_what_is_unblocked() {
        let mut steps = all(StepState::Pending);
        let first = next_steps(&steps, Direction::Build, 0, &NONE, &NONE);
        assert_eq!(first, vec![Database, Files, Media, Cdn, Certificate]);
        set(&mut steps, &[Database], StepState::Done);
        set(&mut steps, &[Files, Cdn], StepState::Unavailable);
        let in_flight = BTreeSet::from([Media, Certificate]);
        let next = next_steps(&steps, Direction::Build, 0, &in_flight, &NONE);
        assert_eq!(next, vec![Wordpress, Dns, Backup]);
    }

    #[test]
    fn a_build_skips_what_is_settled_or_in_flight() {
        let mut steps = all(StepState::Done);
        assert!(next_steps(&steps, Direction::Build, 0, &NONE, &NONE).is_empty());
        set(&mut steps, &[Media], StepState::Failed);
        set(&mut steps, &[Cdn], StepState::Unavailable);
        assert!(next_steps(&steps, Direction::Build, 0, &NONE, &NONE).is_empty());
        // A step a killed worker left running is resumed, unless this run started it.
        set(&mut steps, &[Files], StepState::Running);
        let resumed = next_steps(&steps, Direction::Build, 0, &NONE, &NONE);
        assert_eq!(resumed, vec![Files]);
        let mine = BTreeSet::from([Files]);
        assert!(next_steps(&steps, Direction::Build, 0, &mine, &NONE).is_empty());
    }

    #[test]
    fn a_waiting_step_is_due_at_its_next_attempt_and_blocks_its_dependents() {
        let mut steps = all(StepState::Done);
        set(&mut steps, &[Cdn], StepState::Waiting);
        set(&mut steps, &[Dns], StepState::Pending);
        steps.get_mut(&Cdn).unwrap().next_attempt_at = Some(1_000);
        assert!(next_steps(&steps, Direction::Build, 999, &NONE, &NONE).is_empty());
        assert_eq!(
            next_steps(&steps, Direction::Build, 1_000, &NONE, &NONE),
            vec![Cdn]
        );
    }

    #[test]
    fn a_failed_build_leaves_its_dependents_pending() {
        let mut steps = all(StepState::Pending);
        set(&mut steps, &[Database], StepState::Failed);
        set(
            &mut steps,
            &[Files, Media, Cdn, Certificate],
            StepState::Done,
        );
        assert_eq!(
            next_steps(&steps, Direction::Build, 0, &NONE, &NONE),
            vec![Dns]
        );
    }

    #[test]
    fn a_tear_down_removes_dependents_first() {
        let mut steps = all(StepState::Done);
        let first = next_steps(&steps, Direction::TearDown, 0, &NONE, &NONE);
        assert_eq!(first, vec![Backup, Certificate, Dns, Wordpress, Media]);
        set(&mut steps, &first, StepState::Removed);
        let second = next_steps(&steps, Direction::TearDown, 0, &NONE, &NONE);
        assert_eq!(second, vec![Cdn, Files, Database]);
    }

    #[test]
    fn a_tear_down_removes_failed_and_unavailable_steps_but_not_twice_in_a_run() {
        let mut steps = all(StepState::Removed);
        set(&mut steps, &[Database], StepState::Failed);
        set(&mut steps, &[Files], StepState::Unavailable);
        assert_eq!(
            next_steps(&steps, Direction::TearDown, 0, &NONE, &NONE),
            vec![Files, Database]
        );
        let failed = BTreeSet::from([Database]);
        assert_eq!(
            next_steps(&steps, Direction::TearDown, 0, &NONE, &failed),
            vec![Files]
        );
        let in_flight = BTreeSet::from([Files]);
        assert!(next_steps(&steps, Direction::TearDown, 0, &in_flight, &failed).is_empty());
    }

    #[test]
    fn a_removal_waiting_on_aws_is_due_at_its_next_attempt_and_blocks_what_it_needs() {
        let mut steps = all(StepState::Removed);
        set(&mut steps, &[Cdn], StepState::Done);
        set(&mut steps, &[Dns], StepState::Removing);
        steps.get_mut(&Dns).unwrap().next_attempt_at = Some(5_000);
        assert!(next_steps(&steps, Direction::TearDown, 4_999, &NONE, &NONE).is_empty());
        assert_eq!(
            next_steps(&steps, Direction::TearDown, 5_000, &NONE, &NONE),
            vec![Dns]
        );
        // Left by a killed worker (no next attempt): due now.
        steps.get_mut(&Dns).unwrap().next_attempt_at = None;
        assert_eq!(
            next_steps(&steps, Direction::TearDown, 0, &NONE, &NONE),
            vec![Dns]
        );
    }
}
