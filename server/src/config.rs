//! The command line's parsing, and `mywp serve`'s own flags. Every other setting lives in
//! the one settings tree, [`mywp_jobs::settings::Settings`], which the command line
//! flattens; the config file and `dataplane.env` feed it through [`Layers`].

use std::{ffi::OsString, net::SocketAddr};

use clap::{Args, CommandFactory, FromArgMatches};
use mywp_jobs::settings::Layers;

use crate::cli::Cli;

#[derive(Debug, Clone, Args)]
pub struct ServeArgs {
    /// The panel's address.
    #[arg(long, env = "MYWP_LISTEN", default_value = "127.0.0.1:3000")]
    pub listen: SocketAddr,

    /// Serve the panel only; run workers with `mywp worker`.
    #[arg(long, env = "MYWP_NO_WORKERS")]
    pub no_workers: bool,

    /// Set when the panel is reached over https: cookies then get `Secure`.
    #[arg(long, env = "MYWP_SECURE_COOKIES")]
    pub secure_cookies: bool,
}

/// Parses `args` once, with the config file and the data plane's `dataplane.env` as
/// defaults under the flags and the environment. Bad input exits with clap's message; an
/// unreadable config file is an error naming it.
pub fn parse_cli(args: Vec<OsString>) -> anyhow::Result<Cli> {
    let cmd = Cli::command();
    let layers = Layers::discover(&cmd, &args)?;
    let matches = layers.apply(cmd).get_matches_from(args);
    Ok(Cli::from_arg_matches(&matches).unwrap_or_else(|e| e.exit()))
}
