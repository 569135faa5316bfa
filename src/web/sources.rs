//! `/sources`: every news source with its health (last run, failures in a row, next
//! poll, which worker holds it), its articles and events; the other worker jobs (price
//! upkeep); and the recent runs.

use askama::Template;
use axum::extract::State;
use axum::response::Html;
use axum::routing::get;
use axum::Router;
use chrono::{DateTime, Utc};

use crate::ingest::source_store;

use super::error::WebError;
use super::format::{ago, lag_words};
use super::format::{redact_url, redact_url_in, utc};
use super::AppState;

pub fn router() -> Router<AppState> {
    Router::new().route("/sources", get(list))
}

pub struct RunRow {
    pub source: String,
    pub input: String,
    pub finished: String,
    pub status: String,
    pub counts: String,
    pub error: String,
}

pub struct SourceRow {
    pub name: String,
    pub runs: i64,
    pub failures: i64,
    pub kind: String,
    pub url: String,
    pub articles: i64,
    pub events: i64,
    pub latest: String,
    pub health: Health,
}

/// How a source (or a worker job) is doing, from its last run.
pub struct Health {
    /// "ok", "not modified", "failing", "never run", "disabled".
    pub label: String,
    /// CSS class: "pos", "neg" or "".
    pub class: &'static str,
    /// When it last ran, and the last error while it fails.
    pub last_run: String,
    pub last_error: String,
    /// "in 12 minutes", "running on worker-1", "–" when disabled.
    pub next: String,
}

/// What the database says about a source's (or a job's) runs.
#[derive(Debug, Clone, Default)]
pub struct RunState {
    pub last_status: Option<String>,
    pub last_run: Option<DateTime<Utc>>,
    pub last_error: Option<String>,
    pub failures_in_a_row: i32,
    pub next_due: DateTime<Utc>,
    pub claimed_by: Option<String>,
}

impl Health {
    fn of(schedule: Schedule, state: RunState, now: DateTime<Utc>) -> Health {
        let RunState {
            last_status,
            last_run,
            last_error,
            failures_in_a_row,
            next_due,
            claimed_by,
        } = state;
        let last_status = last_status.as_deref();
        let enabled = schedule == Schedule::Polled;
        let (label, class) = match (schedule, last_status) {
            (Schedule::Disabled, _) => ("disabled".to_string(), ""),
            (Schedule::OnDemand, None) => ("ingested on demand".to_string(), ""),
            (Schedule::OnDemand, Some("failed")) => ("last ingest failed".to_string(), "neg"),
            (Schedule::OnDemand, Some(_)) => ("ingested on demand".to_string(), "pos"),
            (Schedule::Polled, None) => ("never run".to_string(), ""),
            (Schedule::Polled, Some("failed")) if failures_in_a_row > 1 => (
                format!("failing ({failures_in_a_row} runs in a row)"),
                "neg",
            ),
            (Schedule::Polled, Some("failed")) => ("failed".to_string(), "neg"),
            (Schedule::Polled, Some("not_modified")) => ("ok (not modified)".to_string(), "pos"),
            (Schedule::Polled, Some(other)) => (other.to_string(), "pos"),
        };
        let next = match (enabled, claimed_by) {
            (_, Some(worker)) => format!("running on {worker}"),
            (false, None) => "–".to_string(),
            (true, None) if next_due <= now => "due now".to_string(),
            (true, None) => ago(next_due, now),
        };
        Health {
            label,
            class,
            last_run: last_run
                .map(|t| format!("{} ({})", utc(t), ago(t, now)))
                .unwrap_or_else(|| "–".into()),
            last_error: if failures_in_a_row > 0 {
                last_error.unwrap_or_default()
            } else {
                String::new()
            },
            next,
        }
    }
}

/// Whether workers poll a source.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Schedule {
    Polled,
    /// A configured source switched off (or removed from the sources file).
    Disabled,
    /// An ad-hoc `ingest --feed` source: ingested when asked.
    OnDemand,
}

impl Schedule {
    fn of(enabled: bool, from_config: bool) -> Schedule {
        match (enabled, from_config) {
            (true, _) => Schedule::Polled,
            (false, true) => Schedule::Disabled,
            (false, false) => Schedule::OnDemand,
        }
    }
}

/// A periodic job other than a source (`worker_jobs`, e.g. prices-upkeep).
pub struct JobRow {
    pub name: String,
    pub health: Health,
    pub summary: String,
}

/// How early a source reports the moves found in the prices (view `source_timeliness`).
pub struct TimelinessRow {
    pub source: String,
    /// Moves it reported (an article in a story matched with the move).
    pub moves_reported: i64,
    /// The median lag of its first article to each move's onset, in words; "–" with none.
    pub median_lag: String,
    /// Moves it reported before every other source.
    pub first_to_report: i64,
}

#[derive(Template)]
#[template(path = "sources.html")]
pub struct SourcesPage {
    pub title: String,
    pub rows: Vec<SourceRow>,
    pub timeliness: Vec<TimelinessRow>,
    pub lag_label: String,
    pub jobs: Vec<JobRow>,
    pub runs: Vec<RunRow>,
}

/// Recent runs shown under the sources.
pub const RECENT_RUNS: i64 = 50;

async fn list(State(state): State<AppState>) -> Result<Html<String>, WebError> {
    let now = Utc::now();
    let rows = source_store::health(&state.pool)
        .await?
        .into_iter()
        .map(|r| SourceRow {
            health: Health::of(
                Schedule::of(r.enabled, r.from_config),
                RunState {
                    last_status: r.last_status,
                    last_run: r.last_run_at,
                    // Errors name the URL they failed on: shown redacted like the URL.
                    last_error: r.last_error.map(|e| redact_url_in(&e, &r.url)),
                    failures_in_a_row: r.consecutive_failures,
                    next_due: r.next_due_at,
                    claimed_by: r.claimed_by,
                },
                now,
            ),
            name: r.name,
            runs: r.runs,
            failures: r.failed_runs,
            kind: r.kind,
            // A public page: credentials in a source's URL are not shown.
            url: redact_url(&r.url),
            articles: r.articles,
            events: r.events,
            latest: r.latest_article.map(utc).unwrap_or_else(|| "–".into()),
        })
        .collect();
    let jobs = crate::worker::store::all(&state.pool)
        .await?
        .into_iter()
        .map(|r| {
            let failed = r.last_status.as_deref() == Some("failed");
            let last = r.last_summary.clone().unwrap_or_default();
            // A job that reports progress (the price backfill) says how far it has come.
            let summary = match (&r.claimed_by, r.progress_done, r.progress_total) {
                (Some(_), Some(done), Some(total)) if last.is_empty() => {
                    format!("running: {done} of {total} tokens")
                }
                (Some(_), Some(done), Some(total)) => {
                    format!("running: {done} of {total} tokens (last run: {last})")
                }
                _ => last,
            };
            JobRow {
                health: Health::of(
                    Schedule::Polled,
                    RunState {
                        last_error: r.last_summary.clone().filter(|_| failed),
                        // A job keeps no count: its last outcome is all there is.
                        failures_in_a_row: i32::from(failed),
                        last_status: r.last_status,
                        last_run: r.last_finished_at,
                        next_due: r.next_due_at,
                        claimed_by: r.claimed_by,
                    },
                    now,
                ),
                name: r.name,
                summary,
            }
        })
        .collect();
    let runs = source_store::recent_runs(&state.pool, RECENT_RUNS)
        .await?
        .into_iter()
        .map(|r| RunRow {
            source: r.source,
            input: redact_url(&r.input),
            finished: utc(r.finished_at),
            status: r.status,
            counts: format!(
                "{} items, {} new, {} already stored, {} skipped",
                r.fetched, r.new, r.duplicates, r.skipped
            ),
            error: r
                .error
                .map(|e| redact_url_in(&e, &r.input))
                .unwrap_or_default(),
        })
        .collect();
    let page = SourcesPage {
        title: "News sources".into(),
        rows,
        timeliness: timeliness(&state.pool).await?,
        lag_label: super::glossary::abbr("news-lag"),
        jobs,
        runs,
    };
    Ok(Html(page.render()?))
}

/// Every source with its timeliness: the fastest (smallest median lag) first, sources
/// that reported no move last.
async fn timeliness(pool: &sqlx::PgPool) -> Result<Vec<TimelinessRow>, sqlx::Error> {
    Ok(sqlx::query!(
        r#"SELECT s.name, COALESCE(t.moves_reported, 0) AS "moves_reported!",
                  t.median_lag_s AS "median_lag_s?",
                  COALESCE(t.first_to_report, 0) AS "first_to_report!"
           FROM sources s LEFT JOIN source_timeliness t ON t.source_id = s.id
           ORDER BY t.median_lag_s NULLS LAST, s.name"#
    )
    .fetch_all(pool)
    .await?
    .into_iter()
    .map(|r| TimelinessRow {
        source: r.name,
        moves_reported: r.moves_reported,
        // The median of two lags may fall between seconds: words are to the minute.
        median_lag: r
            .median_lag_s
            .filter(|v| v.is_finite())
            .map(|v| lag_words(v.round() as i64))
            .unwrap_or_else(|| "–".into()),
        first_to_report: r.first_to_report,
    })
    .collect())
}

#[cfg(test)]
mod tests {
    use super::*;
    use chrono::TimeZone;

    fn at(h: u32, m: u32) -> DateTime<Utc> {
        Utc.with_ymd_and_hms(2025, 1, 27, h, m, 0).unwrap()
    }

    #[test]
    fn health_says_how_a_source_is_doing() {
        let now = at(12, 0);
        let ran = |status: &str, error: Option<&str>, failures: i32, next_due| RunState {
            last_status: Some(status.into()),
            last_run: Some(at(11, 0)),
            last_error: error.map(str::to_string),
            failures_in_a_row: failures,
            next_due,
            claimed_by: None,
        };
        let failing = Health::of(
            Schedule::Polled,
            ran(
                "failed",
                Some("https://x.example/feed: server answered 503"),
                3,
                at(13, 0),
            ),
            now,
        );
        assert_eq!(failing.label, "failing (3 runs in a row)");
        assert_eq!(failing.class, "neg");
        assert!(failing.last_error.contains("503"));
        assert!(failing.last_run.starts_with("2025-01-27 11:00 UTC"));
        assert!(failing.next.starts_with("in "), "{}", failing.next);

        let ok = Health::of(Schedule::Polled, ran("ok", Some("old"), 0, at(11, 30)), now);
        assert_eq!((ok.label.as_str(), ok.class), ("ok", "pos"));
        assert_eq!(ok.last_error, "", "a recovered source shows no stale error");
        assert_eq!(ok.next, "due now");

        let never = RunState {
            next_due: at(11, 0),
            claimed_by: Some("w1".into()),
            ..RunState::default()
        };
        let running = Health::of(Schedule::Polled, never, now);
        assert_eq!(running.label, "never run");
        assert_eq!(running.next, "running on w1");
        assert_eq!(running.last_run, "–");

        let off = Health::of(Schedule::Disabled, ran("ok", None, 0, at(11, 0)), now);
        assert_eq!((off.label.as_str(), off.next.as_str()), ("disabled", "–"));

        let ad_hoc = Health::of(
            Schedule::OnDemand,
            ran(
                "failed",
                Some("https://x.example/feed: server answered 500"),
                1,
                at(11, 0),
            ),
            now,
        );
        assert_eq!(ad_hoc.label, "last ingest failed");
        assert_eq!(ad_hoc.next, "–");
        assert!(ad_hoc.last_error.contains("500"));
    }
}
