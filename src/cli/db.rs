//! `catalyst db ...` (roles) and `catalyst config check`.

use anyhow::{bail, Context};
use clap::Subcommand;
use sqlx::PgPool;

use super::config::{redact_url, Settings};
use crate::db::{self, embedded, roles};

#[derive(Debug, Subcommand)]
pub enum DbCommand {
    /// Make ROLE a read-only user of this database (SELECT on every table and view, also
    /// future ones; read-only transactions). For analysts and the web server.
    GrantReadonly {
        /// Role name (lower-case letters, digits, _).
        role: String,
        /// Create the role (LOGIN) if it does not exist. Its password, if any, comes from
        /// the environment variable CATALYST_ROLE_PASSWORD.
        #[arg(long)]
        create: bool,
    },
}

pub async fn execute(pool: &PgPool, command: DbCommand) -> anyhow::Result<()> {
    match command {
        DbCommand::GrantReadonly { role, create } => {
            let password = std::env::var("CATALYST_ROLE_PASSWORD")
                .ok()
                .filter(|p| !p.is_empty());
            let r = roles::grant_readonly(pool, &role, create, password.as_deref()).await?;
            println!(
                "{role}: {}read-only on database {}{}",
                if r.created { "created, " } else { "" },
                r.database,
                if r.password_set {
                    " (password set from CATALYST_ROLE_PASSWORD)"
                } else {
                    ""
                }
            );
            if !r.large_objects_revoked {
                println!(
                    "note: large objects are still writable by every role; a superuser can \
                     close that with:\n  {};",
                    roles::LARGE_OBJECT_REVOKE
                );
            }
        }
    }
    Ok(())
}

/// Print every setting with its origin, then check that the database answers and that
/// the web's connection, if configured, cannot write.
pub async fn config_check(settings: &Settings) -> anyhow::Result<()> {
    let show = |v: Option<String>| v.unwrap_or_else(|| "(not set)".into());
    println!(
        "config file: {}",
        settings
            .file
            .as_ref()
            .map(|p| p.display().to_string())
            .unwrap_or_else(|| "(none)".into())
    );
    let rows = [
        (
            "database.url",
            show(settings.database_url.value.as_deref().map(redact_url)),
            settings.database_url.origin.to_string(),
        ),
        (
            "database.pg_dir",
            show(
                settings
                    .pg_dir
                    .value
                    .as_ref()
                    .map(|p| p.display().to_string()),
            ),
            settings.pg_dir.origin.to_string(),
        ),
        (
            "web.addr",
            settings.addr.value.to_string(),
            settings.addr.origin.to_string(),
        ),
        (
            "web.database_url",
            show(settings.web_database_url.value.as_deref().map(redact_url)),
            settings.web_database_url.origin.to_string(),
        ),
        (
            "log.format",
            settings.log_format.value.to_string(),
            settings.log_format.origin.to_string(),
        ),
        (
            "log.level",
            show(settings.log_level.value.clone()),
            settings.log_level.origin.to_string(),
        ),
    ];
    for (key, value, origin) in rows {
        println!("  {key:<18} {value:<48} {origin}");
    }

    let mut problems = 0;
    let mut report = |ok: bool, what: String| {
        println!("{} {what}", if ok { "ok  " } else { "FAIL" });
        if !ok {
            problems += 1;
        }
    };
    match &settings.database_url.value {
        Some(url) => match check_database(url).await {
            Ok(what) => report(true, what),
            Err(e) => report(false, format!("DATABASE_URL: {}", super::error_line(&e))),
        },
        None => {
            let dir = settings
                .pg_dir
                .value
                .clone()
                .unwrap_or_else(embedded::default_dir);
            match embedded::find_bin_dir() {
                Ok(bin) => report(
                    true,
                    format!(
                        "private cluster in {} with the server binaries in {}",
                        dir.display(),
                        bin.display()
                    ),
                ),
                Err(e) => report(false, format!("private cluster: {e}")),
            }
        }
    }
    if let Some(url) = &settings.web_database_url.value {
        match check_read_only(url).await {
            Ok(what) => report(true, what),
            Err(e) => report(
                false,
                format!("CATALYST_WEB_DATABASE_URL: {}", super::error_line(&e)),
            ),
        }
    }
    if problems > 0 {
        bail!("{problems} problem(s) in the configuration");
    }
    Ok(())
}

async fn check_database(url: &str) -> anyhow::Result<String> {
    let pool = db::connect(url).await?;
    let version: String = sqlx::query_scalar("SHOW server_version")
        .fetch_one(&pool)
        .await?;
    let ours = db::MIGRATOR.iter().map(|m| m.version).max().unwrap_or(0);
    let applied: Option<i64> = db::applied_version(&pool).await?;
    pool.close().await;
    Ok(format!(
        "database answers (PostgreSQL {version}); schema at migration {}, this binary has {ours}",
        applied.map_or("none (migrated at the first command)".to_string(), |v| v
            .to_string())
    ))
}

/// Connect, read, then prove writes are refused: to a table, to a large object, and to
/// the lock writers take (each attempt in its own transaction, rolled back: a failed
/// statement aborts its transaction, so nothing is read after one).
async fn check_read_only(url: &str) -> anyhow::Result<String> {
    let pool = db::connect(url).await?;
    let user: String = sqlx::query_scalar("SELECT current_user::text")
        .fetch_one(&pool)
        .await?;
    let readable = sqlx::query_scalar::<_, i64>("SELECT count(*) FROM events")
        .fetch_one(&pool)
        .await;
    let mut can = Vec::new();
    for (what, sql) in [
        // Touches no row, but needs the UPDATE privilege.
        (
            "write tables",
            "UPDATE data_version SET version = version WHERE false",
        ),
        (
            "create large objects",
            "SELECT lo_from_bytea(0, '\\x00'::bytea)",
        ),
        (
            "take the writers' locks",
            "SELECT 1 FROM writer_locks FOR UPDATE",
        ),
    ] {
        let mut tx = pool.begin().await?;
        // The role's read-only default can be switched off in a session: try as it would.
        let attempt = async {
            sqlx::query("SET TRANSACTION READ WRITE")
                .execute(&mut *tx)
                .await?;
            sqlx::query(sql).execute(&mut *tx).await
        }
        .await;
        tx.rollback().await.ok();
        if attempt.is_ok() {
            can.push(what);
        }
    }
    pool.close().await;
    readable.context("reading the events table")?;
    if !can.is_empty() {
        bail!(
            "role {user} can {}; run `catalyst db grant-readonly {user}` and use that role \
             (large objects need it run by a superuser: see docs/operations.md)",
            can.join(", ")
        );
    }
    Ok(format!("web connection as {user} reads and cannot write"))
}
