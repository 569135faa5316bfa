//! Test support: a fresh, migrated database per test, on real PostgreSQL.
//!
//! With `DATABASE_URL` set, test databases are created on that server. Without it, each
//! test binary starts a private cluster (the same code as `catalyst` itself) in a
//! temporary directory and stops it at exit. Either way every test gets its own database,
//! copied from a migrated template with the built-in taxonomy loaded.
#![allow(dead_code)]

use std::path::PathBuf;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Mutex, OnceLock};

use catalyst::db::{self, EmbeddedServer};
use sqlx::{Connection, PgConnection, PgPool};

struct Cluster {
    admin_url: String,
    template: String,
}

static CLUSTER: OnceLock<Cluster> = OnceLock::new();
static EMBEDDED: Mutex<Option<(EmbeddedServer, PathBuf)>> = Mutex::new(None);
static COUNTER: AtomicUsize = AtomicUsize::new(0);

static EXTERNAL_ADMIN_URL: OnceLock<String> = OnceLock::new();

/// At exit on an external server: drop this process's databases (connections still open
/// from test pools are forced closed).
extern "C" fn drop_own_databases() {
    let Some(url) = EXTERNAL_ADMIN_URL.get().cloned() else {
        return;
    };
    let _ = std::thread::spawn(move || {
        let rt = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .ok()?;
        rt.block_on(async {
            let mut admin = PgConnection::connect(&url).await.ok()?;
            let pid = std::process::id();
            let names: Vec<String> = sqlx::query_scalar(
                "SELECT datname FROM pg_database WHERE datname LIKE $1 OR datname = $2",
            )
            .bind(format!("catalyst\\_t\\_{pid}\\_%"))
            .bind(format!("catalyst_tpl_{pid}"))
            .fetch_all(&mut admin)
            .await
            .ok()?;
            for name in names {
                let _ = sqlx::query(&format!("DROP DATABASE IF EXISTS {name} WITH (FORCE)"))
                    .execute(&mut admin)
                    .await;
            }
            Some(())
        })
    })
    .join();
}

extern "C" fn stop_embedded() {
    if let Ok(mut guard) = EMBEDDED.lock() {
        if let Some((mut server, dir)) = guard.take() {
            server.stop();
            let _ = std::fs::remove_dir_all(dir);
        }
    }
}

/// `url` with its database name replaced.
pub fn with_database(url: &str, database: &str) -> String {
    let mut u = url::Url::parse(url).expect("test database URL parses");
    u.set_path(&format!("/{database}"));
    u.to_string()
}

fn cluster() -> &'static Cluster {
    CLUSTER.get_or_init(|| {
        // Own thread and runtime: tests each run their own runtime, which cannot nest.
        std::thread::spawn(|| {
            let rt = tokio::runtime::Builder::new_current_thread()
                .enable_all()
                .build()
                .expect("runtime");
            rt.block_on(init_cluster())
        })
        .join()
        .expect("test cluster set-up panicked")
    })
}

async fn init_cluster() -> Cluster {
    let admin_url = match std::env::var("DATABASE_URL").ok().filter(|u| !u.is_empty()) {
        Some(url) => {
            let _ = EXTERNAL_ADMIN_URL.set(url.clone());
            unsafe {
                libc::atexit(drop_own_databases);
            }
            url
        }
        None => {
            let dir = tempfile::Builder::new()
                .prefix("catalyst-test-")
                .tempdir_in("/tmp")
                .expect("temp dir")
                .keep();
            let server = EmbeddedServer::start(&dir).expect("private test cluster starts");
            let url = server.url("postgres");
            *EMBEDDED.lock().expect("lock") = Some((server, dir));
            unsafe {
                libc::atexit(stop_embedded);
            }
            url
        }
    };
    let mut admin = PgConnection::connect(&admin_url)
        .await
        .expect("connect to the test server");
    drop_stale_databases(&mut admin).await;
    let template = format!("catalyst_tpl_{}", std::process::id());
    sqlx::query(&format!("DROP DATABASE IF EXISTS {template}"))
        .execute(&mut admin)
        .await
        .expect("drop old template");
    sqlx::query(&format!("CREATE DATABASE {template}"))
        .execute(&mut admin)
        .await
        .expect("create template");
    let pool = db::connect(&with_database(&admin_url, &template))
        .await
        .expect("connect template");
    db::MIGRATOR.run(&pool).await.expect("migrate template");
    catalyst::cli::ensure_taxonomy(&pool)
        .await
        .expect("taxonomy in template");
    pool.close().await;
    Cluster {
        admin_url,
        template,
    }
}

/// Databases left by test runs whose process is gone.
async fn drop_stale_databases(admin: &mut PgConnection) {
    let names: Vec<String> = sqlx::query_scalar(
        "SELECT datname FROM pg_database WHERE datname LIKE 'catalyst\\_tpl\\_%' OR datname LIKE 'catalyst\\_t\\_%'",
    )
    .fetch_all(&mut *admin)
    .await
    .unwrap_or_default();
    for name in names {
        let pid = name
            .trim_start_matches("catalyst_tpl_")
            .trim_start_matches("catalyst_t_")
            .split('_')
            .next()
            .and_then(|p| p.parse::<i32>().ok());
        let alive = pid.is_some_and(|p| unsafe { libc::kill(p, 0) } == 0);
        if !alive {
            let _ = sqlx::query(&format!("DROP DATABASE IF EXISTS {name}"))
                .execute(&mut *admin)
                .await;
        }
    }
}

/// A fresh database for one test.
pub struct TestDb {
    pub pool: PgPool,
    pub url: String,
}

pub async fn test_db() -> TestDb {
    let cluster = cluster();
    let name = format!(
        "catalyst_t_{}_{}",
        std::process::id(),
        COUNTER.fetch_add(1, Ordering::SeqCst)
    );
    let mut admin = PgConnection::connect(&cluster.admin_url)
        .await
        .expect("connect admin");
    // Concurrent copies of one template can collide ("being accessed by other users").
    let create = format!("CREATE DATABASE {name} TEMPLATE {}", cluster.template);
    let mut attempt = 0;
    while let Err(e) = sqlx::query(&create).execute(&mut admin).await {
        attempt += 1;
        assert!(attempt < 50, "create test database {name}: {e}");
        tokio::time::sleep(std::time::Duration::from_millis(100)).await;
    }
    admin.close().await.ok();
    let url = with_database(&cluster.admin_url, &name);
    let pool = db::connect(&url).await.expect("connect test database");
    TestDb { pool, url }
}

/// The repository's shared data folder (`../shared/data`), required by the real-data tests.
pub fn shared_data_dir() -> PathBuf {
    let dir = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../shared/data");
    assert!(
        dir.join("prices/binance-hourly-close").is_dir(),
        "real-data tests need the shared data folder at {} (see README)",
        dir.display()
    );
    dir
}

pub fn fixture(path: &str) -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join("tests/fixtures")
        .join(path)
}

/// The polite fetcher with test timings: no host spacing, one quick retry.
pub fn fetcher() -> catalyst::ingest::http::Fetcher {
    use std::time::Duration;
    catalyst::ingest::http::Fetcher::new(catalyst::ingest::http::FetchConfig {
        user_agent: "catalyst-test/1.0".into(),
        timeout: Duration::from_secs(10),
        retries: 1,
        backoff_base: Duration::from_millis(10),
        backoff_max: Duration::from_millis(100),
        host_interval: Duration::ZERO,
        ..Default::default()
    })
    .expect("the HTTP client builds")
}

/// GET `path` through the real router (no socket): status and body.
pub async fn get_page(
    state: &catalyst::web::AppState,
    path: &str,
) -> (axum::http::StatusCode, String) {
    use http_body_util::BodyExt;
    use tower::ServiceExt;
    let resp = catalyst::web::router(state.clone())
        .oneshot(
            axum::http::Request::get(path)
                .body(axum::body::Body::empty())
                .expect("a valid request"),
        )
        .await
        .expect("the router answers");
    let status = resp.status();
    let body = resp
        .into_body()
        .collect()
        .await
        .expect("the body is read")
        .to_bytes();
    (
        status,
        String::from_utf8(body.to_vec()).expect("pages are UTF-8"),
    )
}
