//! SQL for `worker_jobs`: claims on periodic jobs that are not per source (price
//! upkeep, the first-start backfill, the live study).

use sqlx::PgPool;

/// When a job may run, besides its schedule.
#[derive(Debug, Clone, Copy, Default)]
pub struct Gate<'a> {
    /// A writer's request ([`want`]) makes the job due this long after its last start
    /// (so a burst of requests runs it once, not back to back).
    pub min_gap_secs: f64,
    /// The job waits while any of these jobs is claimed (the study and price upkeep wait
    /// for the first-start backfill).
    pub blocked_by: &'a [&'a str],
}

/// Claim `name` if it is due (its schedule, or a request [`want`] older than the gap)
/// and nobody holds it nor a job it waits for (creating its row on first use).
pub async fn claim(
    pool: &PgPool,
    name: &str,
    worker: &str,
    lease_secs: f64,
    gate: Gate<'_>,
) -> Result<bool, sqlx::Error> {
    sqlx::query!(
        "INSERT INTO worker_jobs (name) VALUES ($1) ON CONFLICT (name) DO NOTHING",
        name
    )
    .execute(pool)
    .await?;
    let blocked_by: Vec<String> = gate.blocked_by.iter().map(|s| s.to_string()).collect();
    let claimed = sqlx::query_scalar!(
        r#"UPDATE worker_jobs SET claimed_by = $2,
               claim_expires_at = now() + make_interval(secs => $3), last_started_at = now()
           WHERE name = (SELECT name FROM worker_jobs
                         WHERE name = $1
                           AND (next_due_at <= now()
                                OR (wanted_at IS NOT NULL
                                    AND (last_started_at IS NULL
                                         OR last_started_at <= now() - make_interval(secs => $4))))
                           AND (claim_expires_at IS NULL OR claim_expires_at < now())
                           AND NOT EXISTS (SELECT 1 FROM worker_jobs b
                                           WHERE b.name = ANY($5) AND b.claim_expires_at > now())
                         FOR UPDATE SKIP LOCKED)
           RETURNING name"#,
        name,
        worker,
        lease_secs,
        gate.min_gap_secs,
        &blocked_by
    )
    .fetch_optional(pool)
    .await?;
    Ok(claimed.is_some())
}

/// Record the run, release the claim and schedule the next run `every_secs` from now. A
/// request made while the job ran ([`want`]) stays: it asks for data the run may not
/// have seen.
pub async fn finish(
    pool: &PgPool,
    name: &str,
    worker: &str,
    ok: bool,
    summary: &str,
    every_secs: f64,
) -> Result<(), sqlx::Error> {
    sqlx::query!(
        r#"UPDATE worker_jobs SET claimed_by = NULL, claim_expires_at = NULL,
               last_finished_at = now(), last_status = $3, last_summary = $4,
               next_due_at = now() + make_interval(secs => $5),
               progress_done = NULL, progress_total = NULL,
               wanted_at = CASE WHEN wanted_at > last_started_at THEN wanted_at END
           WHERE name = $1 AND claimed_by = $2"#,
        name,
        worker,
        if ok { "ok" } else { "failed" },
        summary,
        every_secs
    )
    .execute(pool)
    .await?;
    Ok(())
}

/// Ask for job `name` to run soon (new articles or bars for the study), and wake the
/// workers. Nothing happens when no worker runs that job (no row).
pub async fn want(pool: &PgPool, name: &str) -> Result<(), sqlx::Error> {
    let asked = sqlx::query!(
        "UPDATE worker_jobs SET wanted_at = now() WHERE name = $1",
        name
    )
    .execute(pool)
    .await?
    .rows_affected();
    if asked > 0 {
        crate::db::wake_workers(pool, name).await?;
    }
    Ok(())
}

/// Record how far the running job has come (the first-start backfill: tokens done of
/// tokens to do).
pub async fn progress(
    pool: &PgPool,
    name: &str,
    worker: &str,
    done: usize,
    total: usize,
) -> Result<(), sqlx::Error> {
    sqlx::query!(
        "UPDATE worker_jobs SET progress_done = $3, progress_total = $4
         WHERE name = $1 AND claimed_by = $2",
        name,
        worker,
        i32::try_from(done).unwrap_or(i32::MAX),
        i32::try_from(total).unwrap_or(i32::MAX)
    )
    .execute(pool)
    .await?;
    Ok(())
}

/// When `name` is next due (now before its first run); `None` while a job it waits for
/// is claimed (its end wakes the worker).
pub async fn next_due(
    pool: &PgPool,
    name: &str,
    gate: Gate<'_>,
) -> Result<Option<chrono::DateTime<chrono::Utc>>, sqlx::Error> {
    let blocked_by: Vec<String> = gate.blocked_by.iter().map(|s| s.to_string()).collect();
    sqlx::query_scalar!(
        r#"SELECT CASE WHEN EXISTS (SELECT 1 FROM worker_jobs b
                                     WHERE b.name = ANY($3) AND b.claim_expires_at > now())
                       THEN NULL
                       ELSE coalesce((SELECT least(next_due_at,
                                                   CASE WHEN wanted_at IS NOT NULL THEN
                                                        coalesce(last_started_at + make_interval(secs => $2), now())
                                                   END)
                                      FROM worker_jobs WHERE name = $1), now())
                  END AS due"#,
        name,
        gate.min_gap_secs,
        &blocked_by
    )
    .fetch_one(pool)
    .await
}

/// Extend `worker`'s claim on a job it is still running (heartbeat).
pub async fn renew(
    pool: &PgPool,
    name: &str,
    worker: &str,
    lease_secs: f64,
) -> Result<bool, sqlx::Error> {
    Ok(sqlx::query!(
        r#"UPDATE worker_jobs SET claim_expires_at = now() + make_interval(secs => $3)
           WHERE name = $1 AND claimed_by = $2"#,
        name,
        worker,
        lease_secs
    )
    .execute(pool)
    .await?
    .rows_affected()
        == 1)
}

/// Give back this worker's claim on `name` (its job ended without recording an outcome).
pub async fn release(pool: &PgPool, name: &str, worker: &str) -> Result<bool, sqlx::Error> {
    Ok(sqlx::query!(
        "UPDATE worker_jobs SET claimed_by = NULL, claim_expires_at = NULL, progress_done = NULL, progress_total = NULL
         WHERE name = $1 AND claimed_by = $2",
        name,
        worker
    )
    .execute(pool)
    .await?
    .rows_affected()
        == 1)
}

/// Give back this worker's claims.
pub async fn release_all(pool: &PgPool, worker: &str) -> Result<u64, sqlx::Error> {
    Ok(sqlx::query!(
        "UPDATE worker_jobs SET claimed_by = NULL, claim_expires_at = NULL, progress_done = NULL, progress_total = NULL
         WHERE claimed_by = $1",
        worker
    )
    .execute(pool)
    .await?
    .rows_affected())
}

/// One periodic job as `/sources` shows it.
#[derive(Debug, Clone)]
pub struct JobStatus {
    pub name: String,
    pub next_due_at: chrono::DateTime<chrono::Utc>,
    pub claimed_by: Option<String>,
    pub last_finished_at: Option<chrono::DateTime<chrono::Utc>>,
    pub last_status: Option<String>,
    pub last_summary: Option<String>,
    /// While it runs: (done, total), for jobs that report progress.
    pub progress_done: Option<i32>,
    pub progress_total: Option<i32>,
}

/// Every periodic job, by name.
pub async fn all(pool: &PgPool) -> Result<Vec<JobStatus>, sqlx::Error> {
    sqlx::query_as!(
        JobStatus,
        r#"SELECT name, next_due_at, claimed_by, last_finished_at, last_status, last_summary,
                  progress_done, progress_total
           FROM worker_jobs ORDER BY name"#
    )
    .fetch_all(pool)
    .await
}
