//! SQL for `fetch_hosts`: the per-host request spacing shared by all fetching processes.

use std::time::Duration;

use sqlx::PgPool;

/// Book the next request slot of `host`, `interval` after the previous booking (or now),
/// and return how long to wait for it. The row lock serialises bookings of one host
/// across processes; times are the database's, so clocks of different machines do not
/// matter.
pub async fn book(pool: &PgPool, host: &str, interval: Duration) -> Result<Duration, sqlx::Error> {
    let wait_secs = sqlx::query_scalar!(
        r#"INSERT INTO fetch_hosts AS h (host, next_allowed_at)
           VALUES ($1, now() + make_interval(secs => $2))
           ON CONFLICT (host) DO UPDATE
             SET next_allowed_at = GREATEST(h.next_allowed_at, now()) + make_interval(secs => $2)
           RETURNING EXTRACT(EPOCH FROM h.next_allowed_at - now())::float8 - $2 AS "wait!""#,
        host,
        interval.as_secs_f64()
    )
    .fetch_one(pool)
    .await?;
    Ok(Duration::from_secs_f64(wait_secs.max(0.0)))
}
