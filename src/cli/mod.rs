//! The command line: argument definitions and what each command does.

pub mod config;
#[path = "context.rs"]
pub mod context_cli;
pub mod db;
pub mod demo;
pub mod events;
pub mod ingest;
#[path = "moves.rs"]
pub mod moves_cli;
#[path = "prices.rs"]
pub mod prices_cli;
pub mod sources;
pub mod worker;

use std::future::Future;
use std::net::SocketAddr;
use std::path::PathBuf;

use anyhow::Context;
use clap::{Args, Parser, Subcommand};

use crate::db::{Database, DbOptions};
use crate::prices::BarInterval;
use crate::study::model::Model;
use crate::study::universe::{Proxy, ReturnKind};
use crate::study::{self, export, RunOptions, StudyParams, Window};
use crate::taxonomy;
use crate::web;
use config::Settings;

#[derive(Debug, Parser)]
#[command(
    name = "catalyst",
    version,
    about = "What did this news do to the market? Ingest headlines, load prices, run event studies, rank events by impact."
)]
pub struct Cli {
    #[command(flatten)]
    pub db: DbArgs,
    /// More log output (-v: debug, -vv: trace). RUST_LOG overrides.
    #[arg(short, long, global = true, action = clap::ArgAction::Count, help_heading = "Global options")]
    pub verbose: u8,
    /// Configuration file [env CATALYST_CONFIG; default: ./catalyst.toml, then
    /// /etc/catalyst/catalyst.toml, if present]. See docs/operations.md.
    #[arg(
        long,
        global = true,
        value_name = "FILE",
        help_heading = "Global options"
    )]
    pub config: Option<PathBuf>,
    /// Log format: text, or json (one object per line) [env CATALYST_LOG_FORMAT; default:
    /// text].
    #[arg(long, global = true, help_heading = "Global options")]
    pub log_format: Option<config::LogFormat>,
    #[command(subcommand)]
    pub command: Command,
}

/// The database comes from `DATABASE_URL` (environment only: the URL may carry a
/// password). Without it, Catalyst runs a private PostgreSQL cluster in `--pg-dir`.
#[derive(Debug, Clone, Args)]
pub struct DbArgs {
    /// Directory of the private cluster, used when DATABASE_URL is not set [env
    /// CATALYST_PG_DIR; default: ~/.local/share/catalyst/postgres, /var/lib/catalyst/postgres
    /// for root].
    #[arg(long, global = true, help_heading = "Global options")]
    pub pg_dir: Option<PathBuf>,
}

impl Cli {
    /// The settings given as flags.
    pub fn flags(&self) -> config::Flags {
        config::Flags {
            config: self.config.clone(),
            pg_dir: self.db.pg_dir.clone(),
            addr: match &self.command {
                Command::Serve { addr, .. } => *addr,
                Command::Demo(d) => d.addr,
                _ => None,
            },
            log_format: self.log_format,
        }
    }
}

fn db_options(settings: &Settings) -> DbOptions {
    DbOptions {
        database_url: settings.database_url.value.clone(),
        pg_dir: settings.pg_dir.value.clone(),
    }
}

#[derive(Debug, Subcommand)]
pub enum Command {
    /// Apply the database migrations (every command also does this first).
    Migrate,
    /// Fetch the configured sources once (all enabled ones, or those named with
    /// --source), or one ad-hoc feed with --feed; store new articles, tag them.
    /// Exit status 3 when some sources failed (the others still ran); every status:
    /// docs/operations.md, "Exit statuses".
    Ingest {
        /// Ad-hoc feed URL (http/https) or file path, instead of the sources file [default:
        /// the sources file's sources].
        #[arg(long, value_name = "URL|FILE", conflicts_with = "source")]
        feed: Option<String>,
        /// Source name to show for --feed [default: the feed's title].
        #[arg(long, requires = "feed")]
        source_name: Option<String>,
        /// Only this source from the sources file (repeatable) [default: every enabled
        /// source].
        #[arg(long, value_name = "NAME")]
        source: Vec<String>,
        #[command(flatten)]
        sources_file: sources::SourcesFileArg,
    },
    /// News sources: list them with their health, or check one.
    #[command(subcommand)]
    Sources(sources::SourcesCommand),
    /// Poll each enabled source at its own interval until Ctrl-C or SIGTERM; with
    /// --prices and --study, also the price bars and the study (`serve` without the web).
    /// Several workers (on one machine or many) can share one database.
    Worker(worker::WorkerArgs),
    /// Price bars.
    #[command(subcommand)]
    Prices(prices_cli::PricesCommand),
    /// Context assets (equities, ETFs): import their daily bars, rebuild their betas,
    /// export every event's context. docs/context.md.
    #[command(subcommand)]
    Context(context_cli::ContextCommand),
    /// Moves found in the prices, matched with the stories that explain them (and those
    /// no story explains). docs/moves.md.
    #[command(subcommand)]
    Moves(moves_cli::MovesCommand),
    /// Run the event study: every event whose inputs changed (new prices, new articles),
    /// or all with --all. `study export` writes the results.
    Study(StudyArgs),
    /// The live tracker in one process: the web UI, source polling, price bars (the
    /// history the study needs on the first start, then upkeep) and the study on new or
    /// matured stories. Each part can be switched off (and runs alone in `catalyst
    /// worker`). With CATALYST_WEB_DATABASE_URL set, pages and the API read through that
    /// (read-only) connection.
    Serve {
        /// Address to listen on [env CATALYST_ADDR; default: 127.0.0.1:8080].
        #[arg(long)]
        addr: Option<SocketAddr>,
        /// The web UI only: no source polling, prices or study (a split deployment's web
        /// server, beside `catalyst worker --prices --study`).
        #[arg(long)]
        no_worker: bool,
        /// Do not poll the news sources.
        #[arg(long)]
        no_ingest: bool,
        /// Do not fetch price bars (neither the history nor upkeep).
        #[arg(long)]
        no_prices: bool,
        /// Do not run the study.
        #[arg(long)]
        no_study: bool,
        #[command(flatten)]
        jobs: worker::JobArgs,
    },
    /// Load the demo data (curated events, 82 tokens' hourly prices), run the study, serve.
    Demo(demo::DemoArgs),
    /// Token taxonomy and tagging rules.
    #[command(subcommand)]
    Taxonomy(TaxonomyCommand),
    /// Events (stories): show how articles were grouped, split a wrong merge.
    #[command(subcommand)]
    Events(events::EventsCommand),
    /// Configuration: show every setting and where it came from, and check it works.
    #[command(subcommand)]
    Config(ConfigCommand),
    /// Database administration: read-only roles.
    #[command(subcommand)]
    Db(db::DbCommand),
}

#[derive(Debug, Subcommand)]
pub enum ConfigCommand {
    /// Print the effective settings (secrets redacted) and check them: the file parses,
    /// the database answers, the web's read-only connection is read-only. Exit 1 on a
    /// problem.
    Check,
}

#[derive(Debug, Args)]
#[command(args_conflicts_with_subcommands = true)]
pub struct StudyArgs {
    #[command(subcommand)]
    pub command: Option<StudyCommand>,
    /// Recompute every event, not only those whose inputs changed.
    #[arg(long)]
    pub all: bool,
    /// Normal-return model: market-model, market-adjusted, mean-adjusted.
    #[arg(long, default_value = "market-model")]
    pub model: Model,
    /// Market proxy: btc (eth for BTC itself), eth, ew (equal-weighted), vw (value-weighted).
    #[arg(long, default_value = "btc")]
    pub proxy: Proxy,
    /// Return kind: simple or log.
    #[arg(long, default_value = "simple")]
    pub returns: ReturnKind,
    /// Bar interval: 1h, or 1d (UTC days; resampled from hourly bars when no daily ones).
    #[arg(long, default_value = "1h", value_parser = parse_study_interval)]
    pub interval: BarInterval,
    /// Event windows in bars relative to bar 0, as START:END (END exclusive), comma-separated
    /// [default: -24:0,0:1,0:4,0:24,-24:24,-24:72 hourly; -1:0,0:1,0:3,-1:1,-1:3,0:7 daily].
    #[arg(long, value_delimiter = ',', value_parser = parse_window, allow_hyphen_values = true)]
    pub windows: Option<Vec<Window>>,
    /// Ranking window, START:END [default: -24:24 hourly, -1:1 daily].
    #[arg(long, value_parser = parse_window, allow_hyphen_values = true)]
    pub ranking_window: Option<Window>,
    /// Estimation window, START:END [default: -744:-24 hourly, -91:-1 daily].
    #[arg(long, value_parser = parse_window, allow_hyphen_values = true)]
    pub estimation: Option<Window>,
    /// Minimum tokens for a category to enter the impact score [default: 5].
    #[arg(long)]
    pub min_category_tokens: Option<usize>,
    /// Leave high-impact events' windows out of other events' estimation windows.
    #[arg(long)]
    pub exclude_confounders: bool,
}

impl StudyArgs {
    pub fn params(&self) -> StudyParams {
        let mut p = match self.interval {
            BarInterval::Hour => StudyParams::hourly(),
            BarInterval::Day => StudyParams::daily(),
            // Refused by `parse_study_interval`; kept hourly should a caller build the args.
            BarInterval::Minute | BarInterval::FiveMinutes => StudyParams::hourly(),
        };
        p.model = self.model;
        p.proxy = self.proxy;
        p.return_kind = self.returns;
        p.exclude_confounders = self.exclude_confounders;
        if let Some(w) = &self.windows {
            p.windows = w.clone();
        }
        if let Some(w) = self.ranking_window {
            p.ranking_window = w;
        }
        if !p.windows.contains(&p.ranking_window) {
            p.windows.push(p.ranking_window);
        }
        if let Some(w) = self.estimation {
            p.estimation = w;
        }
        if let Some(n) = self.min_category_tokens {
            p.min_category_tokens = n;
        }
        p
    }
}

/// The study's grids: hourly or daily. Minute bars are stored for a closer look at event
/// days, but the study's windows, estimation and null are calibrated in hours and days.
fn parse_study_interval(s: &str) -> Result<BarInterval, String> {
    match s.parse::<BarInterval>()? {
        i if i.is_intraday() => Err(format!(
            "the study runs on 1h or 1d bars, not {s} (intraday bars are for `prices` only)"
        )),
        i => Ok(i),
    }
}

fn parse_window(s: &str) -> Result<Window, String> {
    let (a, b) = s
        .split_once(':')
        .ok_or_else(|| format!("{s:?}: expected START:END, e.g. -24:24"))?;
    let parse = |v: &str| {
        v.trim()
            .parse::<i32>()
            .map_err(|_| format!("{s:?}: {v:?} is not a whole number of bars"))
    };
    let w = Window::new(parse(a)?, parse(b)?);
    if w.is_empty() {
        return Err(format!(
            "{s:?}: the window is empty (END must exceed START)"
        ));
    }
    Ok(w)
}

#[derive(Debug, Subcommand)]
pub enum StudyCommand {
    /// Write the latest run's per-token or per-category results (columns: docs/study.md).
    Export {
        /// csv or json (one object per line).
        #[arg(long, default_value = "csv")]
        format: export::Format,
        /// Which results.
        #[arg(long, default_value = "categories")]
        table: export::Table,
        /// Output file [default: standard output].
        #[arg(long)]
        out: Option<PathBuf>,
    },
    /// Score neutral placebo stories at ordinary hours (outside every event's span) and
    /// print the false-positive rate at the 5% level before and after calibration, per
    /// category, for the market and overall (a Markdown table; docs/study.md).
    Placebo {
        /// Placebo hours scored per story.
        #[arg(long, default_value_t = 2000)]
        hours: usize,
        /// At most this many other ordinary hours build the null (never a placebo hour).
        #[arg(long, default_value_t = 10_000)]
        null_hours: usize,
        /// Random splits of the ordinary hours to average (split k uses seed + k).
        #[arg(long, default_value_t = 10)]
        splits: usize,
        /// Seed of the first split's draw of hours and stories.
        #[arg(long, default_value_t = 1)]
        seed: u64,
    },
    /// Judge every token's and category's volume, volatility and taker-buy share at
    /// ordinary hours against a null of other ordinary hours, as a study run does, and
    /// print the false-positive rate at the 5% level (a Markdown table; docs/study.md).
    ActivityPlacebo {
        /// Ordinary hours tested per split.
        #[arg(long, default_value_t = 2000)]
        hours: usize,
        /// Random splits of the ordinary hours to average (split k uses seed + k).
        #[arg(long, default_value_t = 10)]
        splits: usize,
        /// Seed of the first split's draw of hours.
        #[arg(long, default_value_t = 1)]
        seed: u64,
    },
}

#[derive(Debug, Subcommand)]
pub enum TaxonomyCommand {
    /// Load tokens and categories (CSV: symbol,name,categories,aliases) and tagging rules.
    Load {
        /// Taxonomy CSV [default: the built-in config/taxonomy.csv].
        #[arg(long)]
        file: Option<PathBuf>,
        /// Tagging rules TOML [default: the built-in config/tagging.toml].
        #[arg(long)]
        tagging: Option<PathBuf>,
    },
}

/// Run a command; Ctrl-C or SIGTERM stops it and still shuts the private database down.
pub async fn run(cli: Cli, settings: Settings) -> anyhow::Result<()> {
    // Before anything slow (a no-op when `main` did it already).
    let _ = stop_requested();
    // Check the demo's data before starting any database.
    if let Command::Demo(args) = &cli.command {
        demo::resolve_data_dir(args.data_dir.as_deref())?;
    }
    if let Command::Config(ConfigCommand::Check) = cli.command {
        return db::config_check(&settings).await;
    }
    // Serving commands take their port first: a busy port is reported before any set-up.
    let serves = match &cli.command {
        Command::Serve { .. } => true,
        Command::Demo(d) => !d.no_serve,
        _ => false,
    };
    let listener = match serves {
        true => Some(web::bind(settings.addr.value).await?),
        false => None,
    };
    // Its errors name the server, the database and where the URL came from.
    let db = Database::open(&db_options(&settings)).await?;
    tracing::debug!("using {}", db.describe());
    let result = match cli.command {
        // Serving commands shut down gracefully on their own.
        command @ (Command::Serve { .. } | Command::Demo(_) | Command::Worker(_)) => {
            execute(&db, &settings, command, listener).await
        }
        command => until_interrupted(execute(&db, &settings, command, listener)).await,
    };
    db.close().await;
    result
}

async fn execute(
    db: &Database,
    settings: &Settings,
    command: Command,
    listener: Option<tokio::net::TcpListener>,
) -> anyhow::Result<()> {
    let pool = &db.pool;
    ensure_taxonomy(pool).await?;
    match command {
        Command::Migrate => {
            println!("database is up to date ({})", db.describe());
        }
        Command::Ingest {
            feed: Some(feed),
            source_name,
            sources_file,
            ..
        } => ingest::feed(pool, &feed, source_name.as_deref(), &sources_file).await?,
        Command::Ingest {
            feed: None,
            source,
            sources_file,
            ..
        } => ingest::sources(pool, &source, &sources_file).await?,
        Command::Sources(command) => sources::execute(pool, command).await?,
        Command::Worker(args) => worker::run(db, &args).await?,
        Command::Prices(command) => prices_cli::run(pool, command).await?,
        Command::Context(command) => context_cli::run(pool, command).await?,
        Command::Moves(command) => moves_cli::run(pool, command).await?,
        Command::Study(StudyArgs {
            command: Some(StudyCommand::Export { format, table, out }),
            ..
        }) => {
            let n = match &out {
                Some(path) => {
                    let mut file = std::io::BufWriter::new(
                        std::fs::File::create(path)
                            .with_context(|| format!("creating {}", path.display()))?,
                    );
                    export::export(pool, table, format, &mut file).await?
                }
                None => export::export(pool, table, format, &mut std::io::stdout().lock()).await?,
            };
            if let Some(path) = out {
                println!("{n} rows written to {}", path.display());
            }
        }
        Command::Study(StudyArgs {
            command:
                Some(StudyCommand::Placebo {
                    hours,
                    null_hours,
                    splits,
                    seed,
                }),
            ..
        }) => {
            let params = StudyParams::default();
            let rows =
                study::placebo_report(pool, &params, hours, null_hours, splits, seed).await?;
            print!("{}", study::placebo::markdown(&rows));
        }
        Command::Study(StudyArgs {
            command:
                Some(StudyCommand::ActivityPlacebo {
                    hours,
                    splits,
                    seed,
                }),
            ..
        }) => {
            let params = StudyParams::default();
            let rows = study::activity_placebo_report(pool, &params, hours, splits, seed).await?;
            print!("{}", study::activity::fpr_markdown(&rows, hours));
        }
        Command::Study(args) => {
            let r = study::run(pool, &args.params(), RunOptions { all: args.all }).await?;
            println!(
                "study run {}: {} events, {} recomputed, {} with an impact score",
                r.run_id, r.events, r.computed, r.scored
            );
        }
        Command::Serve {
            no_worker,
            no_ingest,
            no_prices,
            no_study,
            jobs,
            ..
        } => {
            let listener = listener.context("no listening socket")?;
            let parts = worker::Parts {
                ingest: !(no_worker || no_ingest),
                prices: !(no_worker || no_prices),
                study: !(no_worker || no_study),
            };
            worker::serve(db, settings, listener, parts, &jobs).await?
        }
        Command::Demo(args) => {
            demo::run(db, settings, &args, listener).await?;
        }
        Command::Db(command) => {
            db::execute(pool, command).await?;
        }
        Command::Config(ConfigCommand::Check) => {
            db::config_check(settings).await?;
        }
        Command::Events(command) => events::run(pool, command).await?,
        Command::Taxonomy(TaxonomyCommand::Load { file, tagging }) => {
            let read = |p: &PathBuf| {
                std::fs::read_to_string(p).with_context(|| format!("reading {}", p.display()))
            };
            let (tax_text, tax_name) = match &file {
                Some(p) => (read(p)?, p.display().to_string()),
                None => (
                    taxonomy::BUILTIN_TAXONOMY.to_string(),
                    "built-in taxonomy".into(),
                ),
            };
            let (rules_text, rules_name) = match &tagging {
                Some(p) => (read(p)?, p.display().to_string()),
                None => (
                    taxonomy::BUILTIN_TAGGING.to_string(),
                    "built-in tagging rules".into(),
                ),
            };
            let tokens = taxonomy::parse_taxonomy(&tax_text, &tax_name)?;
            let rules = taxonomy::parse_tagging(&rules_text, &rules_name)?;
            taxonomy::store::save(pool, &tokens, &rules).await?;
            println!("loaded {} tokens from {tax_name}", tokens.len());
        }
    }
    Ok(())
}

/// Exit statuses, the same for every command (docs/operations.md, "Exit statuses"); cron
/// and systemd read them.
pub mod exit {
    /// Done.
    pub const OK: u8 = 0;
    /// An error (configuration, database, input, provider); what was already committed
    /// stays, nothing half-written.
    pub const ERROR: u8 = 1;
    /// A command-line usage error (clap's).
    pub const USAGE: u8 = 2;
    /// `ingest`, `sources check`: at least one source failed; the others ran and stored
    /// their articles.
    pub const SOURCES_FAILED: u8 = 3;
}

/// An error and its causes on one line, each said once: a cause whose text its parent
/// already includes (a message built as "{path}: {source}") is not repeated.
pub fn error_line(e: &anyhow::Error) -> String {
    let mut line = String::new();
    for cause in e.chain() {
        let text = cause.to_string();
        if line.is_empty() {
            line = text;
        } else if !line.contains(&text) {
            line.push_str(": ");
            line.push_str(&text);
        }
    }
    let timed_out = e.chain().any(|c| {
        c.downcast_ref::<sqlx::Error>()
            .is_some_and(crate::db::is_statement_timeout)
    });
    if timed_out {
        line.push_str(&format!(
            " (a statement ran past the limit of {}: set it higher, or 0 for no limit)",
            crate::db::STATEMENT_TIMEOUT_VAR
        ));
    }
    line
}

/// Run `work` unless Ctrl-C or SIGTERM comes first (then its transaction rolls back).
pub async fn until_interrupted<T>(
    work: impl Future<Output = anyhow::Result<T>>,
) -> anyhow::Result<T> {
    tokio::select! {
        r = work => r,
        _ = shutdown_signal() => {
            tracing::warn!("interrupted; stopping");
            Err(anyhow::anyhow!("interrupted"))
        }
    }
}

/// Load the built-in taxonomy into a database that has none.
pub async fn ensure_taxonomy(pool: &sqlx::PgPool) -> anyhow::Result<()> {
    if taxonomy::store::is_empty(pool).await? {
        let tokens = taxonomy::parse_taxonomy(taxonomy::BUILTIN_TAXONOMY, "built-in taxonomy")?;
        let rules = taxonomy::parse_tagging(taxonomy::BUILTIN_TAGGING, "built-in tagging rules")?;
        taxonomy::store::save(pool, &tokens, &rules).await?;
        tracing::info!(tokens = tokens.len(), "loaded the built-in taxonomy");
    } else {
        let rules = taxonomy::parse_tagging(taxonomy::BUILTIN_TAGGING, "built-in tagging rules")?;
        if taxonomy::store::ensure_salience(pool, &rules.salience).await? {
            tracing::info!(
                "loaded the built-in salience rules; `catalyst events retag` applies them to stored articles"
            );
        }
    }
    Ok(())
}

/// The pool the web pages read through: the read-only connection when one is
/// configured, else a second pool on the main database; either way with the pages'
/// statement limit.
pub async fn web_pool(db: &Database, settings: &Settings) -> anyhow::Result<sqlx::PgPool> {
    Ok(match &settings.web_database_url.value {
        Some(url) => {
            let pool = crate::db::connect_web(url)
                .await
                .context("connecting with CATALYST_WEB_DATABASE_URL")?;
            tracing::info!("pages read through CATALYST_WEB_DATABASE_URL");
            pool
        }
        // The pages' own pool: their own statement limit (CATALYST_WEB_STATEMENT_TIMEOUT).
        None => crate::db::web_pool_of(&db.pool).await?,
    })
}

/// Serve on `listener` until Ctrl-C or SIGTERM, then finish in-flight requests.
pub async fn serve_on(pool: sqlx::PgPool, listener: tokio::net::TcpListener) -> anyhow::Result<()> {
    let addr = listener
        .local_addr()
        .context("reading the listening address")?;
    web::serve_on(
        pool,
        listener,
        |bound| {
            println!("Catalyst is serving on http://{bound}/  (Ctrl-C to stop)");
        },
        shutdown_signal(),
    )
    .await
    .with_context(|| format!("serving on {addr}"))
}

/// Completes on Ctrl-C or SIGTERM.
pub async fn shutdown_signal() {
    let mut stop = stop_requested();
    let _ = stop.wait_for(|stopped| *stopped).await;
}

static STOP: std::sync::OnceLock<std::sync::Arc<tokio::sync::watch::Sender<bool>>> =
    std::sync::OnceLock::new();

/// A receiver that turns true on Ctrl-C or SIGTERM. The first call installs the handlers
/// (synchronously: from then on SIGTERM no longer kills the process outright, it asks it
/// to stop); `main` calls it first thing, so a signal that comes while the database is
/// still being opened is not lost, and a worker that gets it then stops cleanly.
pub fn stop_requested() -> tokio::sync::watch::Receiver<bool> {
    STOP.get_or_init(|| {
        let tx = std::sync::Arc::new(tokio::sync::watch::channel(false).0);
        let signalled = tx.clone();
        #[cfg(unix)]
        {
            use tokio::signal::unix::{signal, SignalKind};
            let term = signal(SignalKind::terminate()).ok();
            let int = signal(SignalKind::interrupt()).ok();
            tokio::spawn(async move {
                let recv = |s: Option<tokio::signal::unix::Signal>| async move {
                    match s {
                        Some(mut s) => {
                            s.recv().await;
                        }
                        None => std::future::pending::<()>().await,
                    }
                };
                tokio::select! {
                    _ = recv(term) => {},
                    _ = recv(int) => {},
                }
                signalled.send_replace(true);
            });
        }
        #[cfg(not(unix))]
        tokio::spawn(async move {
            let _ = tokio::signal::ctrl_c().await;
            signalled.send_replace(true);
        });
        tx
    })
    .subscribe()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[derive(Debug, thiserror::Error)]
    #[error("{path}: {source}")]
    struct Io {
        path: String,
        source: std::io::Error,
    }

    #[test]
    fn an_error_line_says_each_cause_once() {
        let io = || std::io::Error::new(std::io::ErrorKind::NotFound, "No such file or directory");
        let e = anyhow::Error::new(Io {
            path: "/x.csv".into(),
            source: io(),
        });
        assert_eq!(error_line(&e), "/x.csv: No such file or directory");
        let e = anyhow::Error::new(io()).context("reading /x.csv");
        assert_eq!(error_line(&e), "reading /x.csv: No such file or directory");
    }

    #[test]
    fn every_option_shows_its_default_and_global_options_stand_apart() {
        use clap::CommandFactory;
        fn walk(cmd: &clap::Command, path: &str, missing: &mut Vec<String>) {
            for arg in cmd.get_arguments() {
                let id = arg.get_id().as_str();
                if arg.is_positional() || matches!(id, "help" | "version") {
                    continue;
                }
                let flag = matches!(
                    arg.get_action(),
                    clap::ArgAction::SetTrue | clap::ArgAction::Count
                );
                let help = format!(
                    "{} {}",
                    arg.get_help().map(|h| h.to_string()).unwrap_or_default(),
                    arg.get_long_help()
                        .map(|h| h.to_string())
                        .unwrap_or_default()
                );
                let documented = flag
                    || !arg.get_default_values().is_empty()
                    || help.contains("default:")
                    || arg.is_required_set();
                if !documented {
                    missing.push(format!("{path} --{id}"));
                }
                if arg.is_global_set() {
                    assert_eq!(
                        arg.get_help_heading(),
                        Some("Global options"),
                        "{path} --{id}"
                    );
                }
            }
            for sub in cmd.get_subcommands() {
                walk(sub, &format!("{path} {}", sub.get_name()), missing);
            }
        }
        let mut missing = Vec::new();
        walk(&Cli::command(), "catalyst", &mut missing);
        assert!(
            missing.is_empty(),
            "options without a default shown: {missing:#?}"
        );
    }
}
