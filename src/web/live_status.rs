//! What the live tracker is doing, for the pages: the first-start backfill's progress
//! ("backfilling prices: 41 of 82 tokens") and the new stories awaiting prices, with when
//! their first window closes and when they will be scored. Rendered by
//! `templates/live_status.html` (the list) and `templates/live_status_event.html` (one
//! event); the handlers only fill a field.

use chrono::{DateTime, Utc};
use sqlx::PgPool;

use super::run::current_run;
use crate::prices::BarInterval;
use crate::study::score::AWAITING_PRICES;
use crate::study::StudyParams;
use crate::worker::PRICE_BACKFILL_JOB;

/// New stories shown on the list at most.
pub const AWAITING_SHOWN: i64 = 20;

/// The backfill in progress: tokens done of tokens to do.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Backfill {
    pub done: i32,
    pub total: i32,
}

/// A story without a score yet.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AwaitingStory {
    pub id: i64,
    pub headline: String,
    /// First report, "2025-01-27 10:00 UTC".
    pub published: String,
    /// "prices" (its windows are open), or "the study" (they have closed: the next run
    /// scores it).
    pub waiting_for: &'static str,
    /// The first reaction window, "[0h, +1h]", and when it closes.
    pub first_window: String,
    pub first_window_closes: String,
    /// The last window, "[−24h, +72h]", and when it closes: the story is scored after.
    pub last_window: String,
    pub scored_after: String,
}

/// The live status of the list page.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct LiveStatus {
    pub backfill: Option<Backfill>,
    /// The newest stories without a score, newest first (at most [`AWAITING_SHOWN`]).
    pub awaiting: Vec<AwaitingStory>,
    /// How many more there are.
    pub more: i64,
}

fn utc(t: DateTime<Utc>) -> String {
    t.format("%Y-%m-%d %H:%M UTC").to_string()
}

/// The run the pages show and its parameters (the same rule as the list page's,
/// [`current_run`]), else no run and the defaults (what the live study runs).
async fn shown_params(pool: &PgPool) -> Result<(Option<i64>, StudyParams), sqlx::Error> {
    Ok(match current_run(pool).await? {
        Some((id, params)) => (Some(id), params),
        None => (None, StudyParams::default()),
    })
}

/// The close of the newest bar of BTC (the market proxy of the default study): windows
/// ending later are still open.
async fn prices_until(
    pool: &PgPool,
    interval: BarInterval,
) -> Result<Option<DateTime<Utc>>, sqlx::Error> {
    let newest = sqlx::query_scalar!(
        // One token's newest bar: the primary key read backwards from its end (a join with
        // tokens made PostgreSQL read every BTC bar, 2-6 ms a list page).
        r#"SELECT max(p.open_time) FROM price_bars p
           WHERE p.token_id = (SELECT id FROM tokens WHERE symbol = 'BTC') AND p.interval = $1"#,
        interval.as_str()
    )
    .fetch_one(pool)
    .await?;
    Ok(newest.map(|t| t + chrono::Duration::seconds(interval.seconds())))
}

fn awaiting(
    id: i64,
    headline: String,
    t0: DateTime<Utc>,
    params: &StudyParams,
    prices_until: Option<DateTime<Utc>>,
) -> AwaitingStory {
    let m = params.maturity(t0);
    let open = prices_until.is_none_or(|p| m.complete_at > p);
    AwaitingStory {
        id,
        headline,
        published: utc(t0),
        waiting_for: if open { "prices" } else { "the study" },
        first_window: m.first_window.label(params.interval),
        first_window_closes: utc(m.first_window_closes),
        last_window: m.last_window.label(params.interval),
        scored_after: utc(m.complete_at),
    }
}

/// The live status of the list page: the backfill in progress until one has completed
/// (the first start's, or one retrying failed tokens), and the newest stories
/// the run shown has not scored (or scored as awaiting prices).
pub async fn live_status(pool: &PgPool) -> Result<LiveStatus, sqlx::Error> {
    let (run_id, params) = shown_params(pool).await?;
    live_status_in_run(pool, run_id, &params).await
}

/// [`live_status`] for the run the caller has read. Its three reads are independent and
/// run at once, each on a connection of its own (a cold list page waits for the slowest,
/// not for the sum).
pub async fn live_status_in_run(
    pool: &PgPool,
    run_id: Option<i64>,
    params: &StudyParams,
) -> Result<LiveStatus, sqlx::Error> {
    let backfill = async {
        sqlx::query!(
            r#"SELECT progress_done AS "done!", progress_total AS "total!" FROM worker_jobs
               WHERE name = $1 AND claim_expires_at > now()
                 AND progress_done IS NOT NULL AND progress_total IS NOT NULL
                 -- Until a backfill has completed: the daily check after it is no news.
                 AND last_status IS DISTINCT FROM 'ok'"#,
            PRICE_BACKFILL_JOB
        )
        .fetch_optional(pool)
        .await
        .map(|row| {
            row.map(|r| Backfill {
                done: r.done,
                total: r.total,
            })
        })
    };
    // How many, without a scan: stories without a score of the run (every score's story
    // exists), plus those whose score says it awaits prices. Usually none: then the list
    // below is not walked at all.
    let total = sqlx::query_scalar!(
        r#"SELECT (SELECT count(*) FROM events)
                  - (SELECT count(*) FROM study_event_scores WHERE run_id = $1)
                  + (SELECT count(*) FROM study_event_scores
                     WHERE run_id = $1 AND not_ranked_reason LIKE $2 || '%') AS "n!""#,
        run_id,
        AWAITING_PRICES
    )
    .fetch_one(pool);
    let (backfill, total, until) =
        tokio::try_join!(backfill, total, prices_until(pool, params.interval))?;
    // The newest first, down the event-time index (the awaiting are the newest stories).
    let rows = if total > 0 {
        sqlx::query!(
            r#"SELECT e.id, e.event_time, e.headline
               FROM events e
               LEFT JOIN study_event_scores sc ON sc.run_id = $1 AND sc.event_id = e.id
               WHERE sc.event_id IS NULL OR sc.not_ranked_reason LIKE $2 || '%'
               ORDER BY e.event_time DESC, e.id DESC
               LIMIT $3"#,
            run_id,
            AWAITING_PRICES,
            AWAITING_SHOWN
        )
        .fetch_all(pool)
        .await?
    } else {
        Vec::new()
    };
    let awaiting: Vec<AwaitingStory> = rows
        .into_iter()
        .map(|r| awaiting(r.id, r.headline, r.event_time, params, until))
        .collect();
    Ok(LiveStatus {
        backfill,
        more: total - awaiting.len() as i64,
        awaiting,
    })
}

/// Event `id`'s status when the run shown (`run_id`, with `params`: the page's run, the
/// one [`current_run`] gives) has not scored it (or scored it as awaiting prices); `None`
/// once it has a score or a reason of its own.
pub async fn awaiting_story(
    pool: &PgPool,
    id: i64,
    run_id: Option<i64>,
    params: &StudyParams,
) -> Result<Option<AwaitingStory>, sqlx::Error> {
    let row = sqlx::query!(
        r#"SELECT e.event_time, e.headline FROM events e
           LEFT JOIN study_event_scores sc ON sc.run_id = $2 AND sc.event_id = e.id
           WHERE e.id = $1 AND (sc.event_id IS NULL OR sc.not_ranked_reason LIKE $3 || '%')"#,
        id,
        run_id,
        AWAITING_PRICES
    )
    .fetch_optional(pool);
    // Read at once with the row (one round trip, not two; unused when the story is scored).
    let (row, until) = tokio::try_join!(row, prices_until(pool, params.interval))?;
    let Some(r) = row else {
        return Ok(None);
    };
    Ok(Some(awaiting(id, r.headline, r.event_time, params, until)))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn t(s: &str) -> DateTime<Utc> {
        DateTime::parse_from_rfc3339(s).unwrap().with_timezone(&Utc)
    }

    #[test]
    fn a_new_story_says_when_its_first_window_closes_and_when_it_is_scored() {
        let p = StudyParams::default();
        let s = awaiting(
            7,
            "DeepSeek".into(),
            t("2025-01-27T10:00:00Z"),
            &p,
            Some(t("2025-01-28T00:00:00Z")),
        );
        assert_eq!(s.waiting_for, "prices");
        assert_eq!(s.first_window_closes, "2025-01-27 11:00 UTC");
        assert_eq!(s.scored_after, "2025-01-30 10:00 UTC");
        assert_eq!(
            s.last_window,
            p.maturity(t("2025-01-27T10:00:00Z"))
                .last_window
                .label(p.interval)
        );
        // Its windows have closed: only the study is missing.
        let s = awaiting(
            7,
            "DeepSeek".into(),
            t("2025-01-27T10:00:00Z"),
            &p,
            Some(t("2025-01-30T10:00:00Z")),
        );
        assert_eq!(s.waiting_for, "the study");
    }
}
