//! `catalyst ingest`: one-shot ingest of configured sources (for cron and systemd
//! timers), or of one ad-hoc feed with `--feed`.
//!
//! Exit statuses: `super::exit` (docs/operations.md, "Exit statuses"); a failed source
//! makes the run [`SourcesFailed`], status 3.

use sqlx::PgPool;

use crate::ingest::http::Fetcher;
use crate::ingest::run;
use crate::ingest::source_store::{self, NamedClaim, RunStatus};
use crate::ingest::{self, FeedLocation};

use super::sources::SourcesFileArg;

/// Some sources failed: the process exits with code 3.
#[derive(Debug, thiserror::Error)]
#[error("{failed} of {total} sources failed")]
pub struct SourcesFailed {
    pub failed: usize,
    pub total: usize,
}

/// A one-shot run claims each source for at most this long (see `catalyst worker`).
pub const ONE_SHOT_LEASE_SECS: f64 = 1800.0;

/// Ad-hoc: one feed URL or file. A URL is fetched as configured sources are: with the
/// sources file's `[fetch]` settings (User-Agent, timeouts, retries, robots.txt).
pub async fn feed(
    pool: &PgPool,
    feed: &str,
    source_name: Option<&str>,
    file: &SourcesFileArg,
) -> anyhow::Result<()> {
    let fetcher = Fetcher::new(file.load()?.fetch)?.with_shared_spacing(pool.clone());
    let location = FeedLocation::parse(feed);
    let r = ingest::ingest_feed(pool, &fetcher, &location, source_name).await?;
    println!(
        "{feed}: {} items, {} new, {} already stored, {} skipped",
        r.fetched,
        r.new,
        r.duplicates,
        r.skipped.len()
    );
    if r.new > 0 {
        crate::worker::store::want(pool, crate::worker::STUDY_JOB).await?;
    }
    Ok(())
}

/// Run the named sources, or every enabled one, each once, one after the other. A
/// failing source never stops the others.
pub async fn sources(pool: &PgPool, names: &[String], file: &SourcesFileArg) -> anyhow::Result<()> {
    let config = file.load_and_sync(pool).await?;
    for n in names {
        if config.get(n).is_none() {
            anyhow::bail!("no source named {n:?} in the sources file");
        }
    }
    let names = if names.is_empty() {
        source_store::enabled_names(pool).await?
    } else {
        names.to_vec()
    };
    let fetcher = Fetcher::new(config.fetch.clone())?.with_shared_spacing(pool.clone());
    let worker = crate::worker::worker_id("ingest");
    let (mut failed, mut new) = (0, 0);
    for name in &names {
        let source =
            match source_store::claim_named(pool, name, &worker, ONE_SHOT_LEASE_SECS).await? {
                NamedClaim::Claimed(s) => *s,
                NamedClaim::Busy { by } => {
                    println!("{name}: skipped, being fetched by {by}");
                    continue;
                }
                NamedClaim::NotFound => anyhow::bail!("no source named {name:?}"),
            };
        let r = run::run_source(pool, &fetcher, &source, &worker).await;
        new += r.report.new;
        match (r.status, &r.error) {
            (RunStatus::Failed, e) => {
                failed += 1;
                println!(
                    "{name}: FAILED: {}",
                    e.as_deref().unwrap_or("unknown error")
                );
            }
            (RunStatus::NotModified, _) => println!("{name}: not modified"),
            (RunStatus::Ok, _) => println!(
                "{name}: {} items, {} new, {} already stored, {} skipped",
                r.report.fetched,
                r.report.new,
                r.report.duplicates,
                r.report.skipped.len()
            ),
        }
    }
    // A live tracker's study scores the new stories (when one runs: `catalyst serve`).
    if new > 0 {
        crate::worker::store::want(pool, crate::worker::STUDY_JOB).await?;
    }
    if failed > 0 {
        return Err(SourcesFailed {
            failed,
            total: names.len(),
        }
        .into());
    }
    Ok(())
}
