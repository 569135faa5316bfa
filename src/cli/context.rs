//! `catalyst context ...`: import the context assets (equities, ETFs), rebuild their
//! betas, export the events' context.

use std::io::Write;
use std::path::PathBuf;
use std::time::Instant;

use anyhow::Context as _;
use clap::Subcommand;
use sqlx::PgPool;

use crate::context::{self, config};

#[derive(Debug, Subcommand)]
pub enum ContextCommand {
    /// Import the context assets' daily bars (idempotent), then rebuild the category
    /// betas. docs/context.md.
    Import {
        /// Assets file [default: the built-in config/context.toml].
        #[arg(long, value_name = "FILE")]
        file: Option<PathBuf>,
        /// Directory of the daily CSV files [default: equities/yahoo-daily in the shared
        /// data directory, found as `catalyst demo` finds it].
        #[arg(long, value_name = "DIR")]
        dir: Option<PathBuf>,
    },
    /// Recompute every crypto category's beta to every context asset (after new prices).
    Betas,
    /// Write every event's context (the event_context view) as CSV.
    Export {
        /// Output file [default: standard output].
        #[arg(long)]
        out: Option<PathBuf>,
    },
}

pub async fn run(pool: &PgPool, command: ContextCommand) -> anyhow::Result<()> {
    match command {
        ContextCommand::Import { file, dir } => {
            let (text, name) = match &file {
                Some(p) => (
                    std::fs::read_to_string(p)
                        .with_context(|| format!("reading {}", p.display()))?,
                    p.display().to_string(),
                ),
                None => (
                    config::BUILTIN_CONTEXT.to_string(),
                    "built-in config/context.toml".to_string(),
                ),
            };
            let assets = config::parse(&text, &name)?;
            let dir = match dir {
                Some(d) => d,
                None => super::demo::resolve_data_dir(None)?.join(context::EQUITIES_SUBDIR),
            };
            let started = Instant::now();
            let r = context::import(pool, &assets, &name, &dir).await?;
            println!(
                "context: {} assets, {} bars from {}, {} new or changed; {} category betas ({:.1}s)",
                r.assets,
                r.bars,
                dir.display(),
                r.changed,
                r.betas,
                started.elapsed().as_secs_f64()
            );
        }
        ContextCommand::Betas => {
            let n = context::rebuild_betas(pool).await?;
            println!("context: {n} category betas");
        }
        ContextCommand::Export { out } => {
            let rows = context::store::event_context_rows(pool).await?;
            let mut buf = Vec::new();
            write_csv(&rows, &mut buf)?;
            match &out {
                Some(p) => {
                    std::fs::write(p, &buf).with_context(|| format!("writing {}", p.display()))?;
                    println!("{} rows written to {}", rows.len(), p.display());
                }
                None => std::io::stdout().lock().write_all(&buf)?,
            }
        }
    }
    Ok(())
}

/// The view's columns, in its order; lists joined with ';'.
pub fn write_csv(
    rows: &[context::store::EventContextRow],
    out: &mut impl Write,
) -> anyhow::Result<()> {
    let mut w = csv::Writer::from_writer(out);
    w.write_record([
        "event_id",
        "event_time",
        "symbol",
        "asset_name",
        "asset_kind",
        "relevance",
        "for_categories",
        "session_date",
        "session_close_at",
        "previous_session_date",
        "previous_close",
        "session_open",
        "session_close",
        "session_return",
        "gap_return",
        "timing",
        "note",
    ])?;
    let opt = |v: Option<String>| v.unwrap_or_default();
    for r in rows {
        w.write_record([
            r.event_id.to_string(),
            r.event_time.to_rfc3339(),
            crate::study::export::spreadsheet_safe(&r.symbol).into_owned(),
            crate::study::export::spreadsheet_safe(&r.asset_name).into_owned(),
            r.asset_kind.clone(),
            r.relevance.clone(),
            r.for_categories.join(";"),
            opt(r.session_date.map(|d| d.to_string())),
            opt(r.session_close_at.map(|t| t.to_rfc3339())),
            opt(r.previous_session_date.map(|d| d.to_string())),
            opt(r.previous_close.map(|v| v.to_string())),
            opt(r.session_open.map(|v| v.to_string())),
            opt(r.session_close.map(|v| v.to_string())),
            opt(r.session_return.map(|v| v.to_string())),
            opt(r.gap_return.map(|v| v.to_string())),
            opt(r.timing.clone()),
            r.note.clone(),
        ])?;
    }
    w.flush()?;
    Ok(())
}
