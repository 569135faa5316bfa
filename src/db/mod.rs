//! Database access: connection (external or private cluster), migrations, and the
//! one-time seeding of the built-in taxonomy.

pub mod copy;
pub mod embedded;
pub mod roles;

use std::path::PathBuf;
use std::str::FromStr;
use std::time::Duration;

use sqlx::postgres::{PgConnectOptions, PgPoolOptions};
use sqlx::{ConnectOptions, Connection, PgConnection, PgPool};

pub use embedded::EmbeddedServer;

/// The schema, embedded in the binary; applied at every start (a no-op when current).
pub static MIGRATOR: sqlx::migrate::Migrator = sqlx::migrate!("./migrations");

#[derive(Debug, thiserror::Error)]
pub enum DbError {
    #[error(transparent)]
    Embedded(#[from] embedded::EmbeddedError),
    #[error("invalid DATABASE_URL: {0}")]
    BadUrl(sqlx::Error),
    /// `target` names the server (host and port, or socket directory) and the database,
    /// and where the URL came from when known (`DATABASE_URL`).
    #[error("cannot connect to PostgreSQL at {target}: {error}")]
    Connect { target: String, error: sqlx::Error },
    #[error("migrations failed: {0}")]
    Migrate(#[from] sqlx::migrate::MigrateError),
    #[error("database error: {0}")]
    Sqlx(#[from] sqlx::Error),
    #[error("{var}: {value:?} is not a number of seconds (0: no limit)")]
    BadTimeout { var: &'static str, value: String },
}

/// Seconds a statement of a command or of the worker's jobs may run (0: no limit).
pub const STATEMENT_TIMEOUT_VAR: &str = "CATALYST_STATEMENT_TIMEOUT";
/// Seconds a statement of a web page may run (0: no limit).
pub const WEB_STATEMENT_TIMEOUT_VAR: &str = "CATALYST_WEB_STATEMENT_TIMEOUT";
/// Commands and jobs: bulk writes (a study's COPY, a price import) run for minutes at
/// scale, but a statement stuck for ten (a COPY once hung for 14) is stuck for good.
pub const STATEMENT_TIMEOUT: Duration = Duration::from_secs(600);
/// Pages: the router answers 503 after 30 s, so nobody waits for a statement past that.
pub const WEB_STATEMENT_TIMEOUT: Duration = Duration::from_secs(30);

/// The statement limit set by `var`, else `default`; `Duration::ZERO` means none.
pub fn statement_timeout(var: &'static str, default: Duration) -> Result<Duration, DbError> {
    match std::env::var(var) {
        Ok(value) => parse_timeout(&value).ok_or(DbError::BadTimeout { var, value }),
        Err(_) => Ok(default),
    }
}

/// Whole or fractional seconds, at least 0.
fn parse_timeout(value: &str) -> Option<Duration> {
    value
        .trim()
        .parse::<f64>()
        .ok()
        .and_then(|s| Duration::try_from_secs_f64(s).ok())
}

/// Whether `e` is PostgreSQL cancelling a statement that ran past its limit (SQLSTATE
/// 57014, query_canceled: also a cancel request, which Catalyst never sends).
pub fn is_statement_timeout(e: &sqlx::Error) -> bool {
    matches!(e, sqlx::Error::Database(db) if db.code().as_deref() == Some("57014"))
}

/// How to reach the database.
#[derive(Debug, Clone, Default)]
pub struct DbOptions {
    /// An existing database; when `None`, a private cluster is used.
    pub database_url: Option<String>,
    /// Directory of the private cluster; `None` means [`embedded::default_dir`].
    pub pg_dir: Option<PathBuf>,
}

/// A migrated connection pool, plus the private server behind it, if any.
pub struct Database {
    pub pool: PgPool,
    server: Option<EmbeddedServer>,
}

impl Database {
    /// Connect (starting the private cluster when no URL is given) and run migrations.
    pub async fn open(opts: &DbOptions) -> Result<Self, DbError> {
        let (url, server) = match &opts.database_url {
            Some(url) => (url.clone(), None),
            None => {
                let dir = opts.pg_dir.clone().unwrap_or_else(embedded::default_dir);
                let server = tokio::task::spawn_blocking(move || EmbeddedServer::start(&dir))
                    .await
                    .map_err(|e| DbError::Connect {
                        target: "the private cluster".into(),
                        error: sqlx::Error::Io(std::io::Error::other(e)),
                    })??;
                ensure_database(&server).await?;
                (server.url(embedded::DATABASE), Some(server))
            }
        };
        let pool = match connect(&url).await {
            // Say where the URL came from: a wrong one is the usual cause.
            Err(DbError::Connect { target, error }) if server.is_none() => {
                return Err(DbError::Connect {
                    target: format!("{target} (from DATABASE_URL)"),
                    error,
                })
            }
            other => other?,
        };
        migrate(&pool).await?;
        Ok(Database { pool, server })
    }

    /// Where the data lives, for log lines (never includes a password).
    pub fn describe(&self) -> String {
        match &self.server {
            Some(s) => format!("private PostgreSQL at {}", s.socket_dir().display()),
            None => "PostgreSQL from DATABASE_URL".to_string(),
        }
    }

    /// Close the pool, then stop the private server if this process started it.
    pub async fn close(mut self) {
        self.pool.close().await;
        if let Some(mut server) = self.server.take() {
            let _ = tokio::task::spawn_blocking(move || server.stop()).await;
        }
    }
}

/// Apply this binary's migrations, unless the database already carries newer ones: then a
/// newer binary has upgraded it, and this (older) one keeps working on the newer schema,
/// which migrations only ever extend (docs/operations.md, "Upgrades").
pub async fn migrate(pool: &PgPool) -> Result<(), DbError> {
    let ours = MIGRATOR.iter().map(|m| m.version).max().unwrap_or(0);
    let applied: Option<i64> = applied_version(pool).await?;
    if let Some(newest) = applied.filter(|&v| v > ours) {
        tracing::warn!(
            database = newest,
            binary = ours,
            "the database schema is newer than this binary; not migrating"
        );
        return Ok(());
    }
    // A migration may rewrite a large table: no statement limit for it. The connection
    // is closed afterwards rather than returned without its pool's limit.
    let mut conn = pool.acquire().await?;
    conn.close_on_drop();
    sqlx::query("SET statement_timeout = 0")
        .execute(&mut *conn)
        .await?;
    MIGRATOR.run(&mut *conn).await?;
    Ok(())
}

/// Whether `e` may pass if the statement is tried again: a lost or refused connection
/// (PostgreSQL restarting), an exhausted pool, a deadlock or serialization failure, or
/// the server shutting down or starting up.
pub fn is_transient(e: &sqlx::Error) -> bool {
    match e {
        sqlx::Error::Io(_) | sqlx::Error::PoolTimedOut | sqlx::Error::Protocol(_) => true,
        sqlx::Error::Database(db) => db.code().is_some_and(|code| {
            // 08: connection exceptions; 40001/40P01: serialization failure, deadlock;
            // 57P01-57P03: admin shutdown, crash shutdown, cannot connect now.
            code.starts_with("08")
                || matches!(&*code, "40001" | "40P01" | "57P01" | "57P02" | "57P03")
        }),
        _ => false,
    }
}

/// Run `op` until it succeeds, fails for good, or has failed `attempts` times on
/// [transient](is_transient) errors, waiting 0.5 s, 1 s, 2 s, ... between attempts. For
/// short bookkeeping writes whose loss would cost more than the wait (a job's outcome,
/// which also releases its claim).
pub async fn retry_transient<T, F, Fut>(
    what: &str,
    attempts: u32,
    mut op: F,
) -> Result<T, sqlx::Error>
where
    F: FnMut() -> Fut,
    Fut: std::future::Future<Output = Result<T, sqlx::Error>>,
{
    let mut wait = Duration::from_millis(500);
    let mut attempt = 1;
    loop {
        match op().await {
            Err(e) if attempt < attempts && is_transient(&e) => {
                tracing::warn!(attempt, "{what}: {e}; trying again in {wait:?}");
                tokio::time::sleep(wait).await;
                wait = (wait * 2).min(Duration::from_secs(8));
                attempt += 1;
            }
            other => return other,
        }
    }
}

/// Refresh the planner's statistics of `tables` after a bulk write. Autovacuum would get
/// there within a minute or so, but until then the planner plans for the old row counts
/// (right after a study, the uncached list cost 272 ms of database time instead of 7.6
/// ms). A failure is logged, not returned: statistics only make queries faster.
pub async fn analyze(pool: &PgPool, tables: &[&'static str]) {
    maintain(pool, "ANALYZE", tables).await
}

/// [`analyze`], and vacuum first: for tables of modest size after a bulk load, where the
/// vacuum also moves the GIN index's pending entries into the index (until then a search
/// reads them all: the planner chose a sequential scan over the headline index) and marks
/// pages all-visible for index-only scans.
pub async fn vacuum_analyze(pool: &PgPool, tables: &[&'static str]) {
    maintain(pool, "VACUUM (ANALYZE)", tables).await
}

async fn maintain(pool: &PgPool, verb: &str, tables: &[&'static str]) {
    if tables.is_empty() {
        return;
    }
    let started = std::time::Instant::now();
    // The names are constants of the caller, never input.
    let statement = format!("{verb} {}", tables.join(", "));
    match sqlx::query(&statement).execute(pool).await {
        Ok(_) => tracing::debug!(?tables, elapsed = ?started.elapsed(), "{verb} done"),
        Err(e) => tracing::warn!(
            ?tables,
            "{verb}: could not refresh the planner's statistics: {e}"
        ),
    }
}

/// The channel workers `LISTEN` on: a notification means "look at the queue now" (sources
/// were synced, claims were released), sparing them the wait for their next poll.
pub const WORKER_CHANNEL: &str = "catalyst_jobs";

/// Wake every listening worker (delivered at commit when `e` is in a transaction).
pub async fn wake_workers<'e, E>(e: E, why: &str) -> Result<(), sqlx::Error>
where
    E: sqlx::PgExecutor<'e>,
{
    sqlx::query("SELECT pg_notify($1, $2)")
        .bind(WORKER_CHANNEL)
        .bind(why)
        .execute(e)
        .await?;
    Ok(())
}

/// The newest migration applied to the database, if any.
pub async fn applied_version(pool: &PgPool) -> Result<Option<i64>, sqlx::Error> {
    // sqlx's own bookkeeping table, absent before the first migration (a query naming it
    // would fail to plan, so look it up first).
    let exists: bool = sqlx::query_scalar("SELECT to_regclass('_sqlx_migrations') IS NOT NULL")
        .fetch_one(pool)
        .await?;
    if !exists {
        return Ok(None);
    }
    sqlx::query_scalar("SELECT max(version) FROM _sqlx_migrations WHERE success")
        .fetch_one(pool)
        .await
}

/// Where `options` connect to, for error messages (never the password): `host:port,
/// database D`, or the socket directory.
pub fn describe_target(options: &PgConnectOptions) -> String {
    let place = match options.get_socket() {
        Some(dir) => format!("socket {}", dir.display()),
        None if options.get_host().starts_with('/') => {
            format!("socket {}", options.get_host())
        }
        None => format!("{}:{}", options.get_host(), options.get_port()),
    };
    match options.get_database() {
        Some(db) => format!("{place}, database {db}"),
        None => place,
    }
}

/// A pool on `url` for commands and jobs, its statements limited by
/// [`STATEMENT_TIMEOUT_VAR`]. Statements are logged at debug level, slow ones too (a first
/// start's migrations are slow by nature: they are no warning).
pub async fn connect(url: &str) -> Result<PgPool, DbError> {
    let timeout = statement_timeout(STATEMENT_TIMEOUT_VAR, STATEMENT_TIMEOUT)?;
    connect_with_plans(url, timeout, Plans::Auto).await
}

/// A pool on `url` for the web pages, its statements limited by
/// [`WEB_STATEMENT_TIMEOUT_VAR`].
pub async fn connect_web(url: &str) -> Result<PgPool, DbError> {
    let timeout = statement_timeout(WEB_STATEMENT_TIMEOUT_VAR, WEB_STATEMENT_TIMEOUT)?;
    connect_with_plans(url, timeout, Plans::Custom).await
}

/// A second pool on the database of `pool`, for the web pages (their own statement
/// limit, and their own connections: a busy worker does not starve the pages).
pub async fn web_pool_of(pool: &PgPool) -> Result<PgPool, DbError> {
    let timeout = statement_timeout(WEB_STATEMENT_TIMEOUT_VAR, WEB_STATEMENT_TIMEOUT)?;
    let options = (*pool.connect_options()).clone();
    pool_with(options, timeout, Plans::Custom).await
}

/// A pool beside the pages' `pool` (same database, role and statement limit) for the
/// queries whose shape no filter changes: an event's rows by id, the run, the taxonomy,
/// the page's rows by their ids. PostgreSQL caches their plans per connection
/// ([`Plans::Keyed`]), where the filtered queries on `pool` are planned at every execution.
pub async fn keyed_pool_of(pool: &PgPool) -> Result<PgPool, DbError> {
    // The same statement limit as `pool`'s connections, in milliseconds.
    let limit_ms: i64 = sqlx::query_scalar(
        "SELECT setting::bigint FROM pg_settings WHERE name = 'statement_timeout'",
    )
    .fetch_one(pool)
    .await
    .map_err(|error| DbError::Connect {
        target: describe_target(&pool.connect_options()),
        error,
    })?;
    let timeout = Duration::from_millis(limit_ms.max(0) as u64);
    let options = (*pool.connect_options()).clone();
    pool_with(options, timeout, Plans::Keyed).await
}

/// How a pool's connections plan their statements.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Plans {
    /// PostgreSQL's defaults: a generic plan after five executions when it is no worse,
    /// JIT compilation of costly plans. Bulk writes need the first: every foreign-key
    /// check is a prepared statement, and planning each one anew made the study's COPY
    /// 1.7x slower (docs/performance.md).
    Auto,
    /// The pages: always planned with the parameters' values (`plan_cache_mode =
    /// force_custom_plan`: the filters are parameters that are mostly NULL, and a generic
    /// plan cannot prune them: 8 ms instead of 0.06 ms for the unfiltered list at 10,000
    /// events), and never JIT-compiled (`jit = off`: a page's queries read few rows, but
    /// their cost estimates can pass `jit_above_cost`, and compiling took 30-60 ms of an
    /// event page whose query runs in 1 ms).
    Custom,
    /// The pages' queries keyed by ids (no optional filter): a generic plan from the first
    /// execution on each connection (`plan_cache_mode = force_generic_plan`): planning was
    /// most of a cold event page (about 30 statements, 0.3-1.9 ms of planning each, against
    /// well under 0.1 ms of execution), and with the default (`auto`) a statement was
    /// planned anew for its first five executions per connection, and for ever when its
    /// generic plan's estimate came out costlier (the tags' `UNION`: 1.9 ms per page).
    /// Every such statement finds its rows by an id through an index, whatever the value.
    /// No JIT, as for [`Plans::Custom`].
    Keyed,
}

/// A pool for pages on `url` whose statements run at most `timeout` (zero: no limit).
pub async fn connect_limited(url: &str, timeout: Duration) -> Result<PgPool, DbError> {
    connect_with_plans(url, timeout, Plans::Custom).await
}

/// A pool on `url` whose statements run at most `timeout` (zero: no limit), planned as
/// `plans` says.
pub async fn connect_with_plans(
    url: &str,
    timeout: Duration,
    plans: Plans,
) -> Result<PgPool, DbError> {
    let options = PgConnectOptions::from_str(url)
        .map_err(DbError::BadUrl)?
        .log_statements(log::LevelFilter::Debug)
        .log_slow_statements(log::LevelFilter::Debug, Duration::from_secs(2));
    let connect_error = |error| DbError::Connect {
        target: describe_target(&options),
        error,
    };
    // One direct attempt first: the pool would retry a refused connection until its
    // acquire timeout, and a wrong URL should fail at once.
    let probe = PgConnection::connect_with(&options)
        .await
        .map_err(connect_error)?;
    probe.close().await.ok();
    pool_with(options, timeout, plans).await
}

async fn pool_with(
    options: PgConnectOptions,
    timeout: Duration,
    plans: Plans,
) -> Result<PgPool, DbError> {
    let target = describe_target(&options);
    // Set on every connection the pool opens, so no statement escapes it.
    let planning = match plans {
        Plans::Auto => "SET plan_cache_mode = auto",
        Plans::Custom => "SET plan_cache_mode = force_custom_plan; SET jit = off",
        Plans::Keyed => "SET plan_cache_mode = force_generic_plan; SET jit = off",
    };
    let limit = format!(
        "SET statement_timeout = {}; {planning}",
        timeout.as_millis()
    );
    PgPoolOptions::new()
        .max_connections(8)
        .acquire_timeout(Duration::from_secs(30))
        .after_connect(move |conn, _| {
            let limit = limit.clone();
            Box::pin(async move {
                use sqlx::Executor;
                conn.execute(limit.as_str()).await?;
                Ok(())
            })
        })
        .connect_with(options)
        .await
        .map_err(|error| DbError::Connect { target, error })
}

/// Create the `catalyst` database in a fresh private cluster.
async fn ensure_database(server: &EmbeddedServer) -> Result<(), DbError> {
    let admin = PgConnectOptions::from_str(&server.url("postgres")).map_err(DbError::BadUrl)?;
    let mut conn = PgConnection::connect_with(&admin)
        .await
        .map_err(|error| DbError::Connect {
            target: describe_target(&admin),
            error,
        })?;
    let exists: bool =
        sqlx::query_scalar("SELECT EXISTS (SELECT 1 FROM pg_database WHERE datname = $1)")
            .bind(embedded::DATABASE)
            .fetch_one(&mut conn)
            .await?;
    if !exists {
        // The name is a constant, never user input.
        sqlx::query(&format!("CREATE DATABASE {}", embedded::DATABASE))
            .execute(&mut conn)
            .await?;
    }
    conn.close().await?;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::atomic::{AtomicU32, Ordering};

    fn io_error() -> sqlx::Error {
        sqlx::Error::Io(std::io::Error::new(
            std::io::ErrorKind::ConnectionReset,
            "connection reset",
        ))
    }

    #[test]
    fn connection_targets_name_the_server_and_database_but_never_the_password() {
        let target = |url: &str| describe_target(&PgConnectOptions::from_str(url).unwrap());
        assert_eq!(
            target("postgres://catalyst:secret@db.internal:5433/catalyst"),
            "db.internal:5433, database catalyst"
        );
        assert_eq!(
            target("postgres:///catalyst?host=/run/postgresql"),
            "socket /run/postgresql, database catalyst"
        );
        assert!(!target("postgres://u:secret@h/d").contains("secret"));
    }

    #[test]
    fn statement_timeouts_are_seconds_and_zero_is_none() {
        assert_eq!(parse_timeout("60"), Some(Duration::from_secs(60)));
        assert_eq!(parse_timeout(" 2.5 "), Some(Duration::from_millis(2_500)));
        assert_eq!(parse_timeout("0"), Some(Duration::ZERO));
        assert_eq!(parse_timeout("-1"), None);
        assert_eq!(parse_timeout("60s"), None);
        let err = DbError::BadTimeout {
            var: STATEMENT_TIMEOUT_VAR,
            value: "1m".into(),
        };
        assert!(err
            .to_string()
            .starts_with("CATALYST_STATEMENT_TIMEOUT: \"1m\""));
    }

    #[test]
    fn lost_connections_are_transient_and_bad_queries_are_not() {
        assert!(is_transient(&io_error()));
        assert!(is_transient(&sqlx::Error::PoolTimedOut));
        assert!(!is_transient(&sqlx::Error::RowNotFound));
        assert!(!is_transient(&sqlx::Error::ColumnNotFound("x".into())));
    }

    #[tokio::test]
    async fn retry_transient_tries_again_then_gives_up() {
        let calls = AtomicU32::new(0);
        let got = retry_transient("test", 3, || async {
            match calls.fetch_add(1, Ordering::SeqCst) {
                0 => Err(io_error()),
                n => Ok(n),
            }
        })
        .await;
        assert_eq!(got.ok(), Some(1));

        let calls = AtomicU32::new(0);
        let got: Result<(), _> = retry_transient("test", 2, || async {
            calls.fetch_add(1, Ordering::SeqCst);
            Err(io_error())
        })
        .await;
        assert!(got.is_err());
        assert_eq!(calls.load(Ordering::SeqCst), 2);

        // A permanent error is returned at once.
        let calls = AtomicU32::new(0);
        let got: Result<(), _> = retry_transient("test", 5, || async {
            calls.fetch_add(1, Ordering::SeqCst);
            Err(sqlx::Error::RowNotFound)
        })
        .await;
        assert!(got.is_err());
        assert_eq!(calls.load(Ordering::SeqCst), 1);
    }
}
