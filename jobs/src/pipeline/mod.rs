//! The provisioning pipeline: a small DAG of idempotent steps per site, run by workers
//! that hold a lease on the site while they work.

mod backups;
mod ownership;
pub mod plan;
mod retry;
mod runner;

pub use runner::{Outcome, Pipeline, Settings};
