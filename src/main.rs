//! The `spurlos` binary: parse the command line, load settings, run the command.

use clap::Parser;
use spurlos::cli::{self, Cli, Command};
use spurlos::startup::Application;
use tracing_subscriber::EnvFilter;

/// mimalloc instead of glibc's allocator: hits are made on the HTTP workers and freed on the
/// journal and writer threads, and glibc's per-thread arenas spent about a tenth of the
/// ingestion CPU in `malloc`/`free` and consolidation (BENCHMARKS.md).
#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;

#[tokio::main]
async fn main() -> std::process::ExitCode {
    // Whatever spurlos creates (database, salts, spool, tokens) is for its own user only.
    // SAFETY: umask only sets the process's file-creation mask; it cannot fail.
    unsafe {
        libc::umask(0o077);
    }
    let cli = Cli::parse();
    tracing_subscriber::fmt()
        .with_env_filter(
            EnvFilter::try_from_env("SPURLOS_LOG").unwrap_or_else(|_| EnvFilter::new("info")),
        )
        .with_writer(std::io::stderr)
        .with_ansi(std::io::IsTerminal::is_terminal(&std::io::stderr()))
        .init();
    match run(cli).await {
        Ok(()) => std::process::ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("error: {e:#}");
            std::process::ExitCode::FAILURE
        }
    }
}

async fn run(cli: Cli) -> anyhow::Result<()> {
    let settings = cli::settings(&cli)?;
    match cli.command {
        Command::Serve => {
            let app = Application::build(settings).await?;
            tracing::info!(port = app.port(), "spurlos is listening");
            app.run_until_stopped().await?;
            Ok(())
        }
        Command::MigrateStore => cli::migrate_store(settings).await,
        Command::Restore { file } => cli::restore(settings, &file).await,
        other => cli::run_admin(other, settings).await,
    }
}
