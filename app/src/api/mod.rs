//! The server functions: the panel's whole API, each at a stable endpoint under `/api`.

pub mod auth;
pub mod domains;
pub mod fleet;
pub mod sites;
pub mod snapshots;
#[cfg(feature = "ssr")]
pub mod ssr;
pub mod types;
