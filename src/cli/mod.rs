//! The command line: argument definitions and what each command does.

pub mod demo;
#[path = "prices.rs"]
pub mod prices_cli;

use std::future::Future;
use std::net::SocketAddr;
use std::path::PathBuf;

use anyhow::Context;
use clap::{Args, Parser, Subcommand};

use crate::db::{Database, DbOptions};
use crate::ingest::{self, FeedLocation};
use crate::prices::BarInterval;
use crate::study::model::Model;
use crate::study::universe::{Proxy, ReturnKind};
use crate::study::{self, export, RunOptions, StudyParams, Window};
use crate::taxonomy;
use crate::web;

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
    #[arg(short, long, global = true, action = clap::ArgAction::Count)]
    pub verbose: u8,
    #[command(subcommand)]
    pub command: Command,
}

#[derive(Debug, Clone, Args)]
pub struct DbArgs {
    /// PostgreSQL URL. Without it, Catalyst runs a private PostgreSQL cluster (see --pg-dir).
    #[arg(long, env = "DATABASE_URL", global = true, hide_env_values = true)]
    pub database_url: Option<String>,
    /// Directory of the private cluster [default: ~/.local/share/catalyst/postgres;
    /// /var/lib/catalyst/postgres for root].
    #[arg(long, env = "CATALYST_PG_DIR", global = true)]
    pub pg_dir: Option<PathBuf>,
}

impl DbArgs {
    fn options(&self) -> DbOptions {
        DbOptions {
            database_url: self.database_url.clone().filter(|u| !u.is_empty()),
            pg_dir: self.pg_dir.clone(),
        }
    }
}

#[derive(Debug, Subcommand)]
pub enum Command {
    /// Apply the database migrations (every command also does this first).
    Migrate,
    /// Fetch an RSS/Atom/JSON feed (URL or file), store new articles, tag them.
    Ingest {
        /// Feed URL (http/https) or file path.
        #[arg(long, value_name = "URL|FILE")]
        feed: String,
        /// Source name to show [default: the feed's title].
        #[arg(long)]
        source_name: Option<String>,
    },
    /// Price bars.
    #[command(subcommand)]
    Prices(prices_cli::PricesCommand),
    /// Run the event study: every event whose inputs changed (new prices, new articles),
    /// or all with --all. `study export` writes the results.
    Study(StudyArgs),
    /// Serve the web UI.
    Serve {
        /// Address to listen on.
        #[arg(long, default_value = "127.0.0.1:8080")]
        addr: SocketAddr,
    },
    /// Load the demo data (curated events, 82 tokens' hourly prices), run the study, serve.
    Demo(demo::DemoArgs),
    /// Token taxonomy and tagging rules.
    #[command(subcommand)]
    Taxonomy(TaxonomyCommand),
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
    #[arg(long, default_value = "1h")]
    pub interval: BarInterval,
    /// Event windows in bars relative to bar 0, as START:END (END exclusive), comma-separated.
    #[arg(long, value_delimiter = ',', value_parser = parse_window, allow_hyphen_values = true)]
    pub windows: Option<Vec<Window>>,
    /// Ranking window, START:END [default: -24:24 hourly, -1:1 daily].
    #[arg(long, value_parser = parse_window, allow_hyphen_values = true)]
    pub ranking_window: Option<Window>,
    /// Estimation window, START:END [default: -744:-24 hourly, -91:-1 daily].
    #[arg(long, value_parser = parse_window, allow_hyphen_values = true)]
    pub estimation: Option<Window>,
    /// Minimum tokens for a category to enter the impact score.
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
pub async fn run(cli: Cli) -> anyhow::Result<()> {
    // Check the demo's data before starting any database.
    if let Command::Demo(args) = &cli.command {
        demo::resolve_data_dir(args.data_dir.as_deref())?;
    }
    let db = Database::open(&cli.db.options())
        .await
        .context("opening the database")?;
    tracing::debug!("using {}", db.describe());
    let result = match cli.command {
        // Serving commands shut down gracefully on their own.
        command @ (Command::Serve { .. } | Command::Demo(_)) => execute(&db, command).await,
        command => until_interrupted(execute(&db, command)).await,
    };
    db.close().await;
    result
}

async fn execute(db: &Database, command: Command) -> anyhow::Result<()> {
    let pool = &db.pool;
    ensure_taxonomy(pool).await?;
    match command {
        Command::Migrate => {
            println!("database is up to date ({})", db.describe());
        }
        Command::Ingest { feed, source_name } => {
            let client = ingest::feed::http_client()?;
            let location = FeedLocation::parse(&feed);
            let r = ingest::ingest_feed(pool, &client, &location, source_name.as_deref()).await?;
            println!(
                "{feed}: {} items, {} new, {} already stored, {} skipped",
                r.fetched,
                r.new,
                r.duplicates,
                r.skipped.len()
            );
        }
        Command::Prices(command) => prices_cli::run(pool, command).await?,
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
        Command::Study(args) => {
            let r = study::run(pool, &args.params(), RunOptions { all: args.all }).await?;
            println!(
                "study run {}: {} events, {} recomputed, {} with an impact score",
                r.run_id, r.events, r.computed, r.scored
            );
        }
        Command::Serve { addr } => {
            serve(db, addr).await?;
        }
        Command::Demo(args) => {
            demo::run(db, &args).await?;
        }
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
    }
    Ok(())
}

/// Serve until Ctrl-C or SIGTERM, then finish in-flight requests.
pub async fn serve(db: &Database, addr: SocketAddr) -> anyhow::Result<()> {
    web::serve(
        db.pool.clone(),
        addr,
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
    {
        let ctrl_c = tokio::signal::ctrl_c();
        #[cfg(unix)]
        {
            let mut term =
                match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
                    Ok(s) => s,
                    Err(_) => {
                        let _ = ctrl_c.await;
                        return;
                    }
                };
            tokio::select! {
                _ = ctrl_c => {},
                _ = term.recv() => {},
            }
        }
        #[cfg(not(unix))]
        {
            let _ = ctrl_c.await;
        }
    }
}
