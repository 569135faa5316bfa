use clap::Parser;
use tracing_subscriber::EnvFilter;

use catalyst::cli::config::{self, LogFormat, ProcessEnv};
use catalyst::cli::{self, Cli};

#[tokio::main]
async fn main() -> std::process::ExitCode {
    // First of all: Ctrl-C / SIGTERM now ask for a clean stop (see `cli::stop_requested`).
    let _ = cli::stop_requested();
    let args = Cli::parse();
    // Settings first: they say how to log.
    let flags = args.flags();
    let settings = match config::load_file(&flags, &ProcessEnv)
        .and_then(|file| config::resolve(&flags, &ProcessEnv, file))
    {
        Ok(s) => s,
        Err(e) => {
            eprintln!("error: {e}");
            return std::process::ExitCode::from(cli::exit::ERROR);
        }
    };
    let default_level = match args.verbose {
        0 => "catalyst=info,tower_http=warn,sqlx=warn",
        1 => "catalyst=debug,tower_http=debug,sqlx=info",
        _ => "trace",
    };
    // RUST_LOG, else -v, else the file's log.level, else the default.
    let level = match (&settings.log_level.origin, args.verbose) {
        (config::Origin::Env(_), _) | (_, 0) => settings.log_level.value.as_deref(),
        _ => None,
    };
    let filter = match level.map(EnvFilter::try_new) {
        Some(Ok(f)) => f,
        Some(Err(e)) => {
            eprintln!("error: log level {:?}: {e}", level.unwrap_or_default());
            return std::process::ExitCode::from(cli::exit::ERROR);
        }
        None => EnvFilter::new(default_level),
    };
    let logs = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(std::io::stderr);
    match settings.log_format.value {
        LogFormat::Text => logs.init(),
        LogFormat::Json => logs.json().flatten_event(true).init(),
    }
    match cli::run(args, settings).await {
        Ok(()) => std::process::ExitCode::from(cli::exit::OK),
        Err(e) => {
            // One line: the error and its causes, each once.
            eprintln!("error: {}", cli::error_line(&e));
            // The statuses of `cli::exit` (docs/operations.md, "Exit statuses"); 2 stays clap's.
            if e.downcast_ref::<cli::ingest::SourcesFailed>().is_some() {
                std::process::ExitCode::from(cli::exit::SOURCES_FAILED)
            } else {
                std::process::ExitCode::from(cli::exit::ERROR)
            }
        }
    }
}
