//! The `trustchat-server` command line.

use std::path::PathBuf;
use std::process::ExitCode;

use clap::{Parser, Subcommand};
use trustchat_server::{server, Config};

/// TrustChat: customer-support chat whose customers are known, and trusted
/// when the website proves who they are.
#[derive(Debug, Parser)]
#[command(name = "trustchat-server", version, about)]
struct Cli {
    /// What to do.
    #[command(subcommand)]
    command: Command,
}

/// The subcommands. `jwt verify|mint` and `agent add|list|remove` join
/// these as nested enums.
#[derive(Debug, Subcommand)]
enum Command {
    /// Serve the API, the widget and the demo portal.
    Serve(ServeArgs),
}

/// Options of `serve`.
#[derive(Debug, clap::Args)]
struct ServeArgs {
    /// The configuration file.
    #[arg(
        long,
        short,
        value_name = "FILE",
        default_value = "trustchat.toml",
        env = "TRUSTCHAT_CONFIG"
    )]
    config: PathBuf,
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    let result = match cli.command {
        Command::Serve(args) => serve(args),
    };
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(error) => {
            eprintln!("error: {error:#}");
            ExitCode::FAILURE
        }
    }
}

fn serve(args: ServeArgs) -> anyhow::Result<()> {
    let config = Config::load(&args.config)?;
    init_tracing(&config.server.log)?;
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()?;
    runtime.block_on(async {
        let listener = server::bind(&config).await?;
        server::run(config, listener, server::shutdown_signal()).await
    })
}

/// Logs to stderr, filtered by `server.log` / `TRUSTCHAT_LOG`.
fn init_tracing(filter: &str) -> anyhow::Result<()> {
    let filter = tracing_subscriber::EnvFilter::try_new(filter).map_err(|e| {
        anyhow::anyhow!("invalid log filter {filter:?} (server.log or TRUSTCHAT_LOG): {e}")
    })?;
    tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(std::io::stderr)
        .init();
    Ok(())
}
