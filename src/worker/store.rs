//! SQL for `worker_jobs`: claims on periodic jobs that are not per source.

use sqlx::PgPool;

/// Claim `name` if it is due and nobody holds it (creating its row on first use).
pub async fn claim(
    pool: &PgPool,
    name: &str,
    worker: &str,
    lease_secs: f64,
) -> Result<bool, sqlx::Error> {
    sqlx::query!(
        "INSERT INTO worker_jobs (name) VALUES ($1) ON CONFLICT (name) DO NOTHING",
        name
    )
    .execute(pool)
    .await?;
    let claimed = sqlx::query_scalar!(
        r#"UPDATE worker_jobs SET claimed_by = $2,
               claim_expires_at = now() + make_interval(secs => $3), last_started_at = now()
           WHERE name = (SELECT name FROM worker_jobs
                         WHERE name = $1 AND next_due_at <= now()
                           AND (claim_expires_at IS NULL OR claim_expires_at < now())
                         FOR UPDATE SKIP LOCKED)
           RETURNING name"#,
        name,
        worker,
        lease_secs
    )
    .fetch_optional(pool)
    .await?;
    Ok(claimed.is_some())
}

/// Record the run, release the claim and schedule the next run `every_secs` from now.
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
               next_due_at = now() + make_interval(secs => $5)
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

/// When `name` is next due (None before its first run: due now).
pub async fn next_due(
    pool: &PgPool,
    name: &str,
) -> Result<Option<chrono::DateTime<chrono::Utc>>, sqlx::Error> {
    sqlx::query_scalar!("SELECT next_due_at FROM worker_jobs WHERE name = $1", name)
        .fetch_optional(pool)
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

/// Give back this worker's claims.
pub async fn release_all(pool: &PgPool, worker: &str) -> Result<u64, sqlx::Error> {
    Ok(sqlx::query!(
        "UPDATE worker_jobs SET claimed_by = NULL, claim_expires_at = NULL WHERE claimed_by = $1",
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
}

/// Every periodic job, by name.
pub async fn all(pool: &PgPool) -> Result<Vec<JobStatus>, sqlx::Error> {
    sqlx::query_as!(
        JobStatus,
        r#"SELECT name, next_due_at, claimed_by, last_finished_at, last_status, last_summary
           FROM worker_jobs ORDER BY name"#
    )
    .fetch_all(pool)
    .await
}
