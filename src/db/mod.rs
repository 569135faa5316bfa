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
    #[error("cannot connect to the database: {0}")]
    Connect(sqlx::Error),
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
                    .map_err(|e| DbError::Connect(sqlx::Error::Io(std::io::Error::other(e))))??;
                ensure_database(&server).await?;
                (server.url(embedded::DATABASE), Some(server))
            }
        };
        let pool = connect(&url).await?;
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

/// A pool on `url`, with statement logging kept at debug level.
pub async fn connect(url: &str) -> Result<PgPool, DbError> {
    let options = PgConnectOptions::from_str(url)
        .map_err(DbError::BadUrl)?
        .log_statements(log::LevelFilter::Debug)
        .log_slow_statements(log::LevelFilter::Warn, Duration::from_secs(2));
    // One direct attempt first: the pool would retry a refused connection until its
    // acquire timeout, and a wrong URL should fail at once.
    let probe = PgConnection::connect_with(&options)
        .await
        .map_err(DbError::Connect)?;
    probe.close().await.ok();
    PgPoolOptions::new()
        .max_connections(8)
        .acquire_timeout(Duration::from_secs(30))
        .connect_with(options)
        .await
        .map_err(DbError::Connect)
}

/// Create the `catalyst` database in a fresh private cluster.
async fn ensure_database(server: &EmbeddedServer) -> Result<(), DbError> {
    let admin = PgConnectOptions::from_str(&server.url("postgres")).map_err(DbError::BadUrl)?;
    let mut conn = PgConnection::connect_with(&admin)
        .await
        .map_err(DbError::Connect)?;
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
