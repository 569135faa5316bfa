//! Database access: connection (external or private cluster), migrations, and the
//! one-time seeding of the built-in taxonomy.

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
    MIGRATOR.run(pool).await?;
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

/// A pool on `url`. Statements are logged at debug level, slow ones too (a first start's
/// migrations are slow by nature: they are no warning).
pub async fn connect(url: &str) -> Result<PgPool, DbError> {
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
    PgPoolOptions::new()
        .max_connections(8)
        .acquire_timeout(Duration::from_secs(30))
        .connect_with(options.clone())
        .await
        .map_err(connect_error)
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
