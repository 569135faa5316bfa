use clap::Parser;
use tracing_subscriber::EnvFilter;

use catalyst::cli::{self, Cli};

#[tokio::main]
async fn main() -> std::process::ExitCode {
    let args = Cli::parse();
    let default_level = match args.verbose {
        0 => "catalyst=info,tower_http=warn,sqlx=warn",
        1 => "catalyst=debug,tower_http=debug,sqlx=info",
        _ => "trace",
    };
    tracing_subscriber::fmt()
        .with_env_filter(
            EnvFilter::try_from_default_env().unwrap_or_else(|_| EnvFilter::new(default_level)),
        )
        .with_writer(std::io::stderr)
        .init();
    match cli::run(args).await {
        Ok(()) => std::process::ExitCode::SUCCESS,
        Err(e) => {
            // One line: the error and its causes.
            eprintln!("error: {e:#}");
            // 3: some sources failed (documented exit code of `ingest` and `sources check`);
            // 2 stays clap's, for command-line errors.
            if e.downcast_ref::<cli::ingest::SourcesFailed>().is_some() {
                std::process::ExitCode::from(3)
            } else {
                std::process::ExitCode::FAILURE
            }
        }
    }
}
