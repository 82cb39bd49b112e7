//! The command line: `mywp serve | worker | migrate | staff add EMAIL | agent`.

use clap::{Parser, Subcommand};
use mywp_jobs::{
    domain::{Email, Password, Role},
    store::Store,
};
use rand::{distributions::Alphanumeric, Rng};

use crate::{
    agent::AgentArgs,
    config::{Config, ServeArgs},
};

#[derive(Debug, Parser)]
#[command(
    name = "mywp",
    version,
    about = "MyWP: the control plane of a WordPress hosting business"
)]
pub struct Cli {
    #[command(flatten)]
    pub config: Config,
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
