//! `catalyst sources list|check` and the `--sources FILE` option shared by the commands
//! that read the sources file.

use std::path::{Path, PathBuf};

use anyhow::Context;
use clap::{Args, Subcommand};
use sqlx::PgPool;

use crate::ingest::http::Fetcher;
use crate::ingest::run::{self, Collected};
use crate::ingest::source_store::{self, SourceRow};
use crate::ingest::sources::{self, SourcesFile, BUILTIN_SOURCES};

/// The default sources file, relative to the working directory.
pub const DEFAULT_SOURCES_PATH: &str = "config/sources.toml";

#[derive(Debug, Clone, Args)]
pub struct SourcesFileArg {
    /// Sources file [default: config/sources.toml when it exists, else the built-in list].
    #[arg(long = "sources", env = "CATALYST_SOURCES", value_name = "FILE")]
    pub sources: Option<PathBuf>,
}

impl SourcesFileArg {
    /// Read and check the sources file.
    pub fn load(&self) -> anyhow::Result<SourcesFile> {
        let default = Path::new(DEFAULT_SOURCES_PATH);
        let path = match &self.sources {
            Some(p) => Some(p.as_path()),
            None if default.exists() => Some(default),
            None => None,
        };
        Ok(match path {
            Some(p) => {
                let text = std::fs::read_to_string(p)
                    .with_context(|| format!("reading the sources file {}", p.display()))?;
                sources::parse(&text, &p.display().to_string())?
            }
            None => sources::parse(BUILTIN_SOURCES, "built-in sources")?,
        })
    }

    /// Load the file and sync it into the database.
    pub async fn load_and_sync(&self, pool: &PgPool) -> anyhow::Result<SourcesFile> {
        let file = self.load()?;
        let r = source_store::sync(pool, &file)
            .await
            .context("saving the sources to the database")?;
        tracing::debug!(
            added = r.added,
            updated = r.updated,
            unchanged = r.unchanged,
            disabled = r.disabled,
            "sources synced"
        );
        Ok(file)
    }
}

#[derive(Debug, Subcommand)]
pub enum SourcesCommand {
    /// Show every source with its schedule and health (from its runs).
    List {
        #[command(flatten)]
        file: SourcesFileArg,
    },
    /// Fetch and parse one source without storing anything; print what it would ingest
    /// and any problems. Exit 3 when the source cannot be fetched or parsed.
    Check {
        /// Source name, as in the sources file.
        name: String,
        #[command(flatten)]
        file: SourcesFileArg,
    },
}

pub async fn execute(pool: &PgPool, command: SourcesCommand) -> anyhow::Result<()> {
    match command {
        SourcesCommand::List { file } => {
            file.load_and_sync(pool).await?;
            list(pool).await
        }
        SourcesCommand::Check { name, file } => {
            let f = file.load()?;
            check(&f, &name).await
        }
    }
}

async fn list(pool: &PgPool) -> anyhow::Result<()> {
    let rows = source_store::health(pool).await?;
    println!(
        "{:<20} {:<5} {:<6} {:>6} {:<12} {:<17} {:>4} {:>9} {:>8} {:<17} URL",
        "NAME",
        "KIND",
        "ON",
        "EVERY",
        "LAST",
        "LAST RUN (UTC)",
        "FAIL",
        "RUNS/FAIL",
        "ARTICLES",
        "NEXT DUE (UTC)"
    );
    for r in rows {
        let fmt = |t: chrono::DateTime<chrono::Utc>| t.format("%Y-%m-%d %H:%M").to_string();
        println!(
            "{:<20} {:<5} {:<6} {:>5}s {:<12} {:<17} {:>4} {:>9} {:>8} {:<17} {}",
            r.name,
            r.kind,
            match (r.enabled, r.from_config) {
                (true, _) => "yes",
                (false, true) => "no",
                // `ingest --feed`: ingested when asked, never polled.
                (false, false) => "ad hoc",
            },
            r.poll_interval_secs,
            r.last_status.as_deref().unwrap_or("never run"),
            r.last_run_at.map(fmt).unwrap_or_else(|| "-".into()),
            r.consecutive_failures,
            format!("{}/{}", r.runs, r.failed_runs),
            r.articles,
            if r.enabled {
                fmt(r.next_due_at)
            } else {
                "-".into()
            },
            r.url
        );
        if let Some(e) = &r.last_error {
            println!("{:<20} last error: {e}", "");
        }
        if let Some(by) = &r.claimed_by {
            println!("{:<20} being fetched by {by}", "");
        }
    }
    Ok(())
}

async fn check(file: &SourcesFile, name: &str) -> anyhow::Result<()> {
    let config = file
        .get(name)
        .with_context(|| format!("no source named {name:?} in the sources file"))?
        .clone();
    let fetcher = Fetcher::new(file.fetch.clone())?;
    let source = SourceRow {
        id: 0,
        config,
        etag: None,
        last_modified: None,
    };
    let collected = match run::collect(&fetcher, &source, None, false).await {
        Ok(c) => c,
        Err(e) => {
            println!("{name}: FAILED: {e}");
            return Err(super::ingest::SourcesFailed {
                failed: 1,
                total: 1,
            }
            .into());
        }
    };
    let Collected::Batch(batch) = collected else {
        println!("{name}: not modified");
        return Ok(());
    };
    println!(
        "{name}: {} items would be ingested, {} skipped",
        batch.items.len(),
        batch.skipped.len()
    );
    for item in &batch.items {
        println!(
            "  {}  {}",
            item.published_at.format("%Y-%m-%d %H:%M UTC"),
            item.title
        );
        if let Some(u) = &item.url {
            println!("      {u}");
        }
        if !item.declared_tickers.is_empty() {
            println!("      tickers: {}", item.declared_tickers.join(", "));
        }
    }
    for reason in &batch.skipped {
        println!("  problem: {reason}");
    }
    Ok(())
}
