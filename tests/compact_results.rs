//! Migrations 0019 and 0020 store token and category results compactly (one row per
//! event and token, per event and category); the old tables become views with the same
//! columns. Results stored before each migration must read back the same through those
//! views.

mod common;

use sqlx::{Connection, PgConnection, PgPool, Row};

/// The migration files numbered up to `last`, in order.
fn migrations_up_to(last: u32) -> Vec<(u32, String)> {
    let dir = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("migrations");
    let mut files: Vec<(u32, String)> = std::fs::read_dir(&dir)
        .expect("migrations folder")
        .filter_map(|e| {
            let path = e.ok()?.path();
            let name = path.file_name()?.to_str()?.to_string();
            let version: u32 = name.split('_').next()?.parse().ok()?;
            if version > last || !name.ends_with(".sql") {
                return None;
            }
            Some((version, std::fs::read_to_string(&path).ok()?))
        })
        .collect();
    files.sort_by_key(|f| f.0);
    files
}

async fn apply(pool: &PgPool, sql: &str) {
    sqlx::raw_sql(sql)
        .execute(pool)
        .await
        .expect("migration applies");
}

#[tokio::test]
async fn results_stored_before_the_compact_layout_read_back_the_same() {
    let files = migrations_up_to(19);
    assert_eq!(files.last().map(|f| f.0), Some(19));
    // A database of its own, migrated up to 0018 by hand.
    let s = Scratch::migrated_to(18, "up").await;
    let pool = &s.pool;
    // Two windows in the run's parameters, in this order: [0, 24) then [-24, 0).
    apply(
        pool,
        r#"INSERT INTO tokens (id, symbol, name) OVERRIDING SYSTEM VALUE VALUES (1, 'FET', 'Fetch.ai'), (2, 'NEAR', 'NEAR');
           INSERT INTO events (id, event_time, headline) OVERRIDING SYSTEM VALUE VALUES (7, '2025-01-27 06:00Z', 'A story');
           INSERT INTO study_runs (id, params_key, model, return_kind, market_proxy, interval, params, status) OVERRIDING SYSTEM VALUE
           VALUES (3, 'k', 'market-model', 'simple', 'btc', '1h',
                   '{"windows": [{"start": 0, "end": 24}, {"start": -24, "end": 0}]}', 'complete');
           INSERT INTO study_token_estimates VALUES
             (3, 7, 1, 0.001, 1.2, 0.02, 718, 720, -25, '{0.5, -0.25, 0.125}'),
             (3, 7, 2, -0.002, 0.9, 0.03, 717, 719, -25, '{0.0625, -0.75}');
           INSERT INTO study_token_results VALUES
             (3, 7, 1, 0, 24, -0.12, 0.0096, -1.2247, -0.15, -0.064, -0.086),
             (3, 7, 1, -24, 0, 0.01, 0.0096, NULL, 0.02, 0.01, 0.01),
             (3, 7, 2, 0, 24, 0.05, 0.0216, 0.3402, -0.01, -0.064, 0.054),
             (3, 7, 2, -24, 0, -0.02, 0.0216, -0.1361, -0.03, 0.01, -0.04);"#,
    )
    .await;
    let before = snapshot(pool).await;
    assert_eq!(before.len(), 4);

    apply(pool, &files[files.len() - 1].1).await;
    let after = snapshot(pool).await;
    assert_eq!(after, before, "the views read back what the tables held");

    // Stored once per pair, with the run's windows numbered in parameter order.
    let pairs: i64 = sqlx::query_scalar("SELECT count(*) FROM study_token_outcomes")
        .fetch_one(pool)
        .await
        .unwrap();
    assert_eq!(pairs, 2);
    let windows: Vec<(i16, i32, i32)> = sqlx::query_as(
        "SELECT ord, window_start, window_end FROM study_run_windows WHERE run_id = 3 ORDER BY ord",
    )
    .fetch_all(pool)
    .await
    .unwrap();
    assert_eq!(windows, vec![(1, 0, 24), (2, -24, 0)]);
    // The token view of the public interface reads the same figures.
    let fet: (f64, Option<f64>, f64) = sqlx::query_as(
        "SELECT car, scar, beta FROM token_reaction_all_runs
         WHERE token = 'FET' AND window_start = -24",
    )
    .fetch_one(pool)
    .await
    .unwrap();
    assert_eq!(fet, (0.01, None, 1.2));

    s.drop_db().await;
}

/// Every token-window row with its estimates, as text (exact: the paths held values that
/// float4 represents exactly).
async fn snapshot(pool: &PgPool) -> Vec<String> {
    sqlx::query(
        "SELECT r.token_id, r.window_start, r.window_end, r.car, r.car_variance, r.scar,
                r.token_return, r.market_return, r.car_market_adjusted,
                s.alpha, s.beta, s.sigma, s.df, s.n_estimation, s.path_start, s.ar_path
         FROM study_token_results r
         JOIN study_token_estimates s USING (run_id, event_id, token_id)
         ORDER BY 1, 2",
    )
    .fetch_all(pool)
    .await
    .unwrap()
    .iter()
    .map(|r| {
        format!(
            "{} [{},{}) car {} var {} scar {:?} ret {} mkt {} adj {} | a {} b {} s {} df {} m {} from {} path {:?}",
            r.get::<i32, _>(0),
            r.get::<i32, _>(1),
            r.get::<i32, _>(2),
            r.get::<f64, _>(3),
            r.get::<f64, _>(4),
            r.get::<Option<f64>, _>(5),
            r.get::<f64, _>(6),
            r.get::<f64, _>(7),
            r.get::<f64, _>(8),
            r.get::<f64, _>(9),
            r.get::<f64, _>(10),
            r.get::<f64, _>(11),
            r.get::<f64, _>(12),
            r.get::<i32, _>(13),
            r.get::<i32, _>(14),
            r.get::<Vec<f64>, _>(15),
        )
    })
    .collect()
}

/// A database of its own, migrated by hand up to `last`; dropped by [`Scratch::drop_db`].
struct Scratch {
    pool: PgPool,
    admin: PgConnection,
    name: String,
}

impl Scratch {
    async fn migrated_to(last: u32, tag: &str) -> Scratch {
        let db = common::test_db().await;
        let name = format!("catalyst_{tag}_{}", std::process::id());
        let admin_url = common::with_database(&db.url, "postgres");
        let mut admin = PgConnection::connect(&admin_url).await.unwrap();
        sqlx::query(&format!("DROP DATABASE IF EXISTS {name}"))
            .execute(&mut admin)
            .await
            .unwrap();
        sqlx::query(&format!("CREATE DATABASE {name}"))
            .execute(&mut admin)
            .await
            .unwrap();
        let pool = PgPool::connect(&common::with_database(&db.url, &name))
            .await
            .unwrap();
        for (_, sql) in migrations_up_to(last) {
            apply(&pool, &sql).await;
        }
        Scratch { pool, admin, name }
    }

    async fn drop_db(mut self) {
        self.pool.close().await;
        sqlx::query(&format!("DROP DATABASE {} WITH (FORCE)", self.name))
            .execute(&mut self.admin)
            .await
            .unwrap();
    }
}

/// Rows of a query as JSON text, to compare before and after a migration.
async fn rows_as_json(pool: &PgPool, sql: &str) -> Vec<String> {
    sqlx::query_scalar::<_, String>(&format!("SELECT to_jsonb(q)::text FROM ({sql}) q"))
        .fetch_all(pool)
        .await
        .unwrap()
}

#[tokio::test]
async fn category_results_stored_before_0020_read_back_the_same() {
    let files = migrations_up_to(20);
    assert_eq!(files.last().map(|f| f.0), Some(20));
    let s = Scratch::migrated_to(19, "cat20").await;
    let pool = &s.pool;
    // Two windows, [0, 24) then [-24, 0); "ai" has both, "meme" only [0, 24); the path is
    // on the ranking window's row, as 0001 stored it.
    apply(
        pool,
        r#"INSERT INTO categories (id, slug, name) OVERRIDING SYSTEM VALUE VALUES (1, 'ai', 'AI'), (2, 'meme', 'Meme');
           INSERT INTO events (id, event_time, headline) OVERRIDING SYSTEM VALUE VALUES (7, '2025-01-27 06:00Z', 'A story');
           INSERT INTO study_runs (id, params_key, model, return_kind, market_proxy, interval, params, status) OVERRIDING SYSTEM VALUE
           VALUES (3, 'k', 'market-model', 'simple', 'btc', '1h',
                   '{"windows": [{"start": 0, "end": 24}, {"start": -24, "end": 0}],
                     "ranking_window": {"start": 0, "end": 24}, "min_category_tokens": 2}', 'complete');
           INSERT INTO study_run_windows VALUES (3, 1, 0, 24), (3, 2, -24, 0);
           INSERT INTO study_category_results VALUES
             (3, 7, 1, 0, 24, 4, -0.125, NULL, 0.05, -5.0, 0.015, -4.5, 0.0001, -3.25, 0.047, -2.5, 0.088, 0.4,
              -0.12, -2.75, 0.0061, 0.031, -2.1, 0.035, -1.9, 0.057, 0, '{0, -0.5, -0.125}'),
             (3, 7, 1, -24, 0, 4, 0.01, 0.02, 0.03, 0.66, 0.55, 0.5, 0.61, 0.4, 0.71, 0.3, 0.77, 0.4,
              0.011, 0.2, 0.84, 0.031, NULL, NULL, 0.1, 0.92, 3, NULL),
             (3, 7, 2, 0, 24, 2, 0.25, NULL, NULL, NULL, NULL, 1.5, 0.13, NULL, NULL, NULL, NULL, NULL,
              0.24, 1.1, 0.46, 0.2, 0.3, 0.76, 1.4, 0.16, 2, '{0.25}');
           INSERT INTO study_event_scores (run_id, event_id, impact_score, computed_at, input_fingerprint)
           VALUES (3, 7, 2.5, now(), 'f');"#,
    )
    .await;
    let table = "SELECT * FROM study_category_results ORDER BY category_id, window_start";
    let reaction = "SELECT * FROM category_reaction_all_runs ORDER BY category, window_start";
    let impact = "SELECT most_moved_category, most_moved_caar, most_moved_t FROM event_impact";
    let before = (
        rows_as_json(pool, table).await,
        rows_as_json(pool, reaction).await,
        rows_as_json(pool, impact).await,
    );
    assert_eq!(before.0.len(), 3);

    apply(pool, &files[files.len() - 1].1).await;
    let after_table = rows_as_json(pool, table).await;
    // The path is stored once per category: the view shows it on every window's row.
    let path_fixed: Vec<String> = before
        .0
        .iter()
        .map(|r| r.replace(r#""caar_path": null"#, r#""caar_path": [0, -0.5, -0.125]"#))
        .collect();
    assert_eq!(after_table, path_fixed);
    assert_eq!(rows_as_json(pool, reaction).await, before.1);
    assert_eq!(rows_as_json(pool, impact).await, before.2);
    assert!(before.2[0].contains(r#""most_moved_category": "meme""#));

    // One row per category, both windows in its array; the mask marks the windows with
    // results ("meme" has only the first).
    let stored: Vec<(i32, i32, i32)> = sqlx::query_as(
        "SELECT category_id, array_length(window_values, 1), window_mask
         FROM study_category_outcomes ORDER BY 1",
    )
    .fetch_all(pool)
    .await
    .unwrap();
    assert_eq!(stored, vec![(1, 2, 3), (2, 2, 1)]);
    s.drop_db().await;
}
