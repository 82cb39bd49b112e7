//! MyWP's back end: the domain model, the control-plane store, the provisioning pipeline,
//! the drivers of each deployment shape and the apalis workers that run them.
//!
//! This crate knows nothing of the web UI: `app` and `server` depend on it, never the reverse.

pub mod beneath;
pub mod deployment;
pub mod domain;
pub mod drivers;
pub mod fsutil;
pub mod pipeline;
pub mod queue;
pub mod secrets;
pub mod settings;
pub mod sitedb;
pub mod snapshots;
pub mod store;
