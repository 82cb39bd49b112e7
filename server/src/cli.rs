//! The command line: `mywp serve | worker | migrate | staff add EMAIL | agent | infra check`.

use clap::{Parser, Subcommand};
use mywp_jobs::{
    domain::{Email, Password, Role},
    settings::{Settings, Shape},
    store::Store,
};
use rand::{distributions::Alphanumeric, Rng};

use crate::{agent::AgentArgs, config::ServeArgs};

#[derive(Debug, Parser)]
#[command(
    name = "mywp",
    version,
    about = "MyWP: the control plane of a WordPress hosting business"
)]
pub struct Cli {
    #[command(flatten)]
    pub settings: Settings,
    #[command(subcommand)]
    pub command: Command,
}

#[derive(Debug, Subcommand)]
pub enum Command {
    /// Serve the panel (and run the workers, unless --no-workers).
    Serve(ServeArgs),
    /// Run the workers only.
    Worker,
    /// Create or update the control-plane database's schema, then exit.
    Migrate,
    /// Manage staff accounts.
    Staff {
        #[command(subcommand)]
        command: StaffCommand,
    },
    /// On a web node: keep nginx's local sites directory a copy of the shared one (EFS),
    /// reloading nginx when it changes. Needs no database.
    Agent(AgentArgs),
    /// The shared infrastructure of the AWS shape.
    Infra {
        #[command(subcommand)]
        command: InfraCommand,
    },
}

#[derive(Debug, Subcommand)]
pub enum InfraCommand {
    /// Read every piece of infrastructure the configuration names back through the AWS
    /// APIs (and RDS over MySQL), and say what is missing or misconfigured. Exits 1 if
    /// anything is.
    Check,
}

#[derive(Debug, Subcommand)]
pub enum StaffCommand {
    /// Make EMAIL a staff account: an existing account is promoted; a new one is created
    /// with a generated password, printed once.
    Add { email: String },
}

/// Runs `staff add`: returns what to tell the operator.
pub async fn staff_add(store: &Store, email: &str) -> anyhow::Result<String> {
    let email = Email::parse(email)?;
    if let Some(account) = store.account_by_email(&email).await? {
        store.set_role(account.id, Role::Staff).await?;
        store
            .audit(
                None,
                "staff.add",
                &format!("account:{}", account.id),
                Some("promoted by CLI"),
                None,
            )
            .await?;
        return Ok(format!("{email} is now staff."));
    }
    let generated: String = rand::thread_rng()
        .sample_iter(&Alphanumeric)
        .take(20)
        .map(char::from)
        .collect();
    let password = Password::parse_new(&generated, &email)?;
    let hash = tokio::task::spawn_blocking(move || password.hash()).await?;
    let account = store.create_account(&email, &hash, Role::Staff).await?;
    store
        .audit(
            None,
            "staff.add",
            &format!("account:{}", account.id),
            Some("created by CLI"),
            None,
        )
        .await?;
    Ok(format!(
        "Created staff account {email} with password: {generated}\nIt is shown only this once."
    ))
}

/// Runs `infra check`: the report to print, and whether everything passed.
pub async fn infra_check(settings: &Settings) -> anyhow::Result<(String, bool)> {
    if settings.shape == Shape::SingleHost {
        return Ok((
            "MYWP_SHAPE is single-host: there is no shared infrastructure to check (set \
             MYWP_SHAPE=aws and the MYWP_AWS_* keys for the AWS shape)."
                .to_string(),
            true,
        ));
    }
    infra_check_aws(settings).await
}

#[cfg(not(feature = "aws"))]
async fn infra_check_aws(_settings: &Settings) -> anyhow::Result<(String, bool)> {
    anyhow::bail!("this mywp was built without the AWS shape: build it with `--features aws`")
}

#[cfg(feature = "aws")]
async fn infra_check_aws(settings: &Settings) -> anyhow::Result<(String, bool)> {
    use mywp_jobs::drivers::aws::{
        check_infrastructure, resolve_rds_secret, AwsClients, CheckOutcome,
    };
    let mut aws = mywp_jobs::drivers::aws::AwsConfig::from_settings(settings)?;
    let clients = AwsClients::new(&aws).await;
    resolve_rds_secret(&mut aws, &clients)
        .await
        .map_err(anyhow::Error::msg)?;
    let checks = check_infrastructure(&aws, &clients).await;
    let mut report = String::new();
    for check in &checks {
        let line = match &check.outcome {
            CheckOutcome::Ok(detail) => format!("ok       {}: {detail}\n", check.what),
            CheckOutcome::Problem(message) => format!("PROBLEM  {}: {message}\n", check.what),
        };
        report.push_str(&line);
    }
    let problems = checks.iter().filter(|c| !c.is_ok()).count();
    if problems == 0 {
        report.push_str("Everything the configuration names is in place.");
    } else {
        report.push_str(&format!(
            "{problems} problem(s): fix them, then run this again."
        ));
    }
    Ok((report, problems == 0))
}
