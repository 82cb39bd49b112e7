//! `mywp`: the panel, the workers and the operator's commands, in one binary.

use mywp::{
    cli::{infra_check, staff_add, Command, InfraCommand, StaffCommand},
    config::parse_cli,
    shutdown_signal, Application, ControlPlane,
};
use mywp_jobs::store::Store;
use tracing_subscriber::EnvFilter;

fn main() -> anyhow::Result<()> {
    // Before any file is made (the SQLite database and its WAL, snapshots, logs).
    mywp_jobs::fsutil::keep_files_private();
    tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()?
        .block_on(run())
}

async fn run() -> anyhow::Result<()> {
    tracing_subscriber::fmt()
        .with_env_filter(
            EnvFilter::try_from_default_env().unwrap_or_else(|_| EnvFilter::new("info,sqlx=warn")),
        )
        .init();
    let cli = parse_cli(std::env::args_os().collect())?;
    match cli.command {
        Command::Serve(serve) => {
            let app = Application::build(cli.settings, serve).await?;
            let addr = app.addr();
            let host = if addr.ip().is_loopback() {
                "localhost".to_string()
            } else {
                addr.ip().to_string()
            };
            println!("MyWP is serving at http://{host}:{}", addr.port());
            app.run_until(shutdown_signal()).await
        }
        Command::Worker => {
            let plane = ControlPlane::open(cli.settings).await?;
            tracing::info!("worker started");
            plane.run_workers(shutdown_signal()).await
        }
        Command::Agent(args) => mywp::agent::run(args, shutdown_signal()).await,
        Command::Migrate => {
            Store::open(&cli.settings.database_url()).await?;
            println!("The database is up to date.");
            Ok(())
        }
        Command::Staff {
            command: StaffCommand::Add { email },
        } => {
            let store = Store::open(&cli.settings.database_url()).await?;
            println!("{}", staff_add(&store, &email).await?);
            Ok(())
        }
        Command::Infra {
            command: InfraCommand::Check,
        } => {
            let (report, ok) = infra_check(&cli.settings).await?;
            println!("{report}");
            if !ok {
                std::process::exit(1);
            }
            Ok(())
        }
    }
}
