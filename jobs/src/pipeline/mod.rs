//! The provisioning pipeline: a small DAG of idempotent steps per site, run by workers
//! that hold a lease on the site while they work.

mod backups;
pub mod plan;
mod retry;
mod runner;
mod step;

pub use runner::{Outcome, Pipeline, Settings};
pub use step::{StepKind, StepState};
