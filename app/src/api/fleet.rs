//! Staff only: the web fleet that serves the sites.

use leptos::prelude::*;

use super::types::Fleet;
use crate::error::AppError;

/// The web fleet: in the AWS shape, the Auto Scaling group's instances per availability
/// zone, with their state and health; on a single host, that this host serves the sites.
#[server(prefix = "/api", endpoint = "web_fleet")]
pub async fn web_fleet() -> Result<Fleet, AppError> {
    use super::ssr::{access, respond::respond, state::state};
    respond(async move {
        access::staff()?;
        let Some(source) = state()?.fleet.clone() else {
            return Ok(Fleet {
                shape: "single-host".into(),
                nodes: vec![],
            });
        };
        match source().await {
            Ok(nodes) => Ok(Fleet {
                shape: "aws".into(),
                nodes,
            }),
            Err(e) => {
                tracing::warn!(error = %e, "cannot read the web fleet");
                Err(AppError::Unavailable(format!(
                    "The web fleet cannot be read right now: {e}"
                )))
            }
        }
    })
    .await
}
