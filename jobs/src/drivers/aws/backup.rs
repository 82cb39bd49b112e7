//! The backup step: an AWS Backup plan per site, `mywp-site-<id>-<slug>`, tagged with the
//! site's id, with a daily rule into the shared vault (kept 35 days, AWS Backup's default
//! for EFS) and a selection of the resources tagged `mywp:site-id = <id>`, assumed through
//! the platform's backup role. AWS refuses to delete a plan that still has selections:
//! removal deletes them first.
//!
//! moto has plans and tags but no selections: with `MYWP_AWS_BACKUP_SELECTIONS=off` the
//! emulator tests skip them, and the selection logic is tested against recorded AWS
//! responses instead (`jobs/tests/aws_recorded.rs`).

use std::sync::Arc;

use aws_sdk_backup::{
    error::ProvideErrorMetadata,
    types::{
        BackupPlanInput, BackupRuleInput, BackupSelection, Condition, ConditionType, Lifecycle,
    },
};

use super::{step_error, AwsClients, AwsConfig};
use crate::drivers::{Driver, Ensured, Removed, SiteSpec, StepError};

/// The tag that marks everything of a site in AWS (`mywp:site-id = <id>`).
pub const SITE_TAG: &str = "mywp:site-id";

/// How long recovery points are kept.
const RETENTION_DAYS: i64 = 35;

/// The site's plan name (letters, digits, `-`, `_`, `.`; at most 50 characters).
pub fn backup_plan_name(site: &SiteSpec) -> String {
    let name = format!("mywp-site-{}-{}", site.id, site.slug);
    name.chars().take(50).collect()
}

/// The backup step's driver.
pub struct BackupDriver {
    clients: AwsClients,
    cfg: Arc<AwsConfig>,
}

impl BackupDriver {
    pub fn new(clients: AwsClients, cfg: Arc<AwsConfig>) -> Self {
        Self { clients, cfg }
    }

    /// The id of the site's (not deleted) plan, found by name.
    pub async fn plan_id(&self, site: &SiteSpec) -> Result<Option<String>, StepError> {
        let name = backup_plan_name(site);
        let mut token: Option<String> = None;
        loop {
            let out = self
                .clients
                .backup
                .list_backup_plans()
                .set_next_token(token.take())
                .send()
                .await
                .map_err(|e| step_error("list the backup plans", e))?;
            let found = out.backup_plans_list().iter().find(|p| {
                p.backup_plan_name() == Some(name.as_str()) && p.deletion_date().is_none()
            });
            if let Some(plan) = found {
                return Ok(plan.backup_plan_id().map(str::to_string));
            }
            match out.next_token() {
                Some(next) if !next.is_empty() => token = Some(next.to_string()),
                _ => return Ok(None),
            }
        }
    }

    fn plan_input(&self, site: &SiteSpec) -> Result<BackupPlanInput, StepError> {
        let rule = BackupRuleInput::builder()
            .rule_name("daily")
            .target_backup_vault_name(&self.cfg.backup_vault)
            .schedule_expression("cron(0 3 * * ? *)")
            .start_window_minutes(60)
            .completion_window_minutes(360)
            .lifecycle(
                Lifecycle::builder()
                    .delete_after_days(RETENTION_DAYS)
                    .build(),
            )
            .build()
            .map_err(StepError::permanent)?;
        BackupPlanInput::builder()
            .backup_plan_name(backup_plan_name(site))
            .rules(rule)
            .build()
            .map_err(StepError::permanent)
    }

    async fn ensure_plan(&self, site: &SiteSpec) -> Result<String, StepError> {
        if let Some(id) = self.plan_id(site).await? {
            return Ok(id);
        }
        let out = self
            .clients
            .backup
            .create_backup_plan()
            .backup_plan(self.plan_input(site)?)
            .backup_plan_tags(SITE_TAG, site.id.to_string())
            .backup_plan_tags("mywp:site", site.slug.as_str())
            .creator_request_id(format!("mywp-site-{}", site.id))
            .send()
            .await;
        match out {
            Ok(out) => out
                .backup_plan_id()
                .map(str::to_string)
                .ok_or_else(|| StepError::transient("AWS Backup returned no plan id")),
            // Made by an attempt whose answer was lost: adopt it.
            Err(e) if e.code() == Some("AlreadyExistsException") => self
                .plan_id(site)
                .await?
                .ok_or_else(|| StepError::transient("the backup plan is not listed yet")),
            Err(e) => Err(step_error(
                &format!("create the backup plan of {}", site.slug),
                e,
            )),
        }
    }

    /// The plan's selections: (id, name).
    pub async fn selections(&self, plan_id: &str) -> Result<Vec<(String, String)>, StepError> {
        let mut found = Vec::new();
        let mut token: Option<String> = None;
        loop {
            let out = self
                .clients
                .backup
                .list_backup_selections()
                .backup_plan_id(plan_id)
                .set_next_token(token.take())
                .send()
                .await
                .map_err(|e| step_error(&format!("list the selections of plan {plan_id}"), e))?;
            found.extend(out.backup_selections_list().iter().map(|s| {
                (
                    s.selection_id().unwrap_or_default().to_string(),
                    s.selection_name().unwrap_or_default().to_string(),
                )
            }));
            match out.next_token() {
                Some(next) if !next.is_empty() => token = Some(next.to_string()),
                _ => return Ok(found),
            }
        }
    }

    async fn ensure_selection(&self, site: &SiteSpec, plan_id: &str) -> Result<(), StepError> {
        let name = "site-resources";
        if self
            .selections(plan_id)
            .await?
            .iter()
            .any(|(_, n)| n == name)
        {
            return Ok(());
        }
        let selection = BackupSelection::builder()
            .selection_name(name)
            .iam_role_arn(&self.cfg.backup_role_arn)
            .list_of_tags(
                Condition::builder()
                    .condition_type(ConditionType::Stringequals)
                    .condition_key(SITE_TAG)
                    .condition_value(site.id.to_string())
                    .build()
                    .map_err(StepError::permanent)?,
            )
            .build()
            .map_err(StepError::permanent)?;
        self.clients
            .backup
            .create_backup_selection()
            .backup_plan_id(plan_id)
            .backup_selection(selection)
            .creator_request_id(format!("mywp-site-{}-selection", site.id))
            .send()
            .await
            .map_err(|e| match e.code() {
                // The same creator request id: made already.
                Some("AlreadyExistsException") => StepError::transient("the selection exists"),
                _ => step_error(&format!("select the resources of {}", site.slug), e),
            })?;
        Ok(())
    }
}

impl Driver for BackupDriver {
    async fn ensure(&self, site: &SiteSpec) -> Result<Ensured, StepError> {
        let plan_id = self.ensure_plan(site).await?;
        if self.cfg.backup_selections {
            self.ensure_selection(site, &plan_id).await?;
        }
        Ok(Ensured::Done {
            resource: format!("backup-plan:{plan_id} (daily, kept {RETENTION_DAYS} days)"),
        })
    }

    async fn remove(&self, site: &SiteSpec) -> Result<Removed, StepError> {
        let Some(plan_id) = self.plan_id(site).await? else {
            return Ok(Removed::Gone);
        };
        let backup = &self.clients.backup;
        if self.cfg.backup_selections {
            for (id, _) in self.selections(&plan_id).await? {
                match backup
                    .delete_backup_selection()
                    .backup_plan_id(&plan_id)
                    .selection_id(&id)
                    .send()
                    .await
                {
                    Ok(_) => {}
                    Err(e) if e.code() == Some("ResourceNotFoundException") => {}
                    Err(e) => return Err(step_error(&format!("delete selection {id}"), e)),
                }
            }
        }
        match backup
            .delete_backup_plan()
            .backup_plan_id(&plan_id)
            .send()
            .await
        {
            Ok(_) => Ok(Removed::Gone),
            Err(e) if e.code() == Some("ResourceNotFoundException") => Ok(Removed::Gone),
            Err(e) => Err(step_error(&format!("delete backup plan {plan_id}"), e)),
        }
    }
}
