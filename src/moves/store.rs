//! SQL for moves: the fine bars a move is placed with, and writing a scan's moves and
//! matches (one transaction replacing the previous scan's).

use chrono::{DateTime, Utc};
use sqlx::PgPool;

/// One move, ready to store.
#[derive(Debug, Clone)]
pub struct MoveRow {
    pub series_kind: &'static str,
    pub token_id: Option<i32>,
    pub category_id: Option<i32>,
    pub basis: &'static str,
    pub direction: i16,
    pub onset: DateTime<Utc>,
    pub extreme_at: DateTime<Utc>,
    pub resolution: &'static str,
    pub size_log: f64,
    pub raw_log: f64,
    pub z: f64,
    pub window_hours: i32,
    pub p_value: f64,
    pub null_hours: i32,
    pub n_tokens: i32,
    pub path_start: DateTime<Utc>,
    pub path_step_s: i32,
    pub path: Vec<f32>,
}

/// One match, by the index of its move in the rows given to [`save`].
#[derive(Debug, Clone)]
pub struct MatchRow {
    pub move_index: usize,
    pub event_id: i64,
    pub first_report: DateTime<Utc>,
    pub lag_s: i64,
    pub share_before: Option<f64>,
    pub is_best: bool,
}

/// Where each token has bars of a fine interval: `(token, interval, first, last)`.
pub async fn fine_coverage(
    pool: &PgPool,
) -> Result<Vec<(i32, String, DateTime<Utc>, DateTime<Utc>)>, sqlx::Error> {
    Ok(sqlx::query!(
        r#"SELECT token_id, interval, min(open_time) AS "first!", max(open_time) AS "last!"
           FROM price_bars WHERE interval IN ('1m', '5m')
           GROUP BY token_id, interval"#
    )
    .fetch_all(pool)
    .await?
    .into_iter()
    .map(|r| (r.token_id, r.interval, r.first, r.last))
    .collect())
}

/// Fine closes of some tokens opening in `[from, to)`: `(token, open_time, close)`.
pub async fn fine_closes(
    pool: &PgPool,
    interval: &str,
    tokens: &[i32],
    from: DateTime<Utc>,
    to: DateTime<Utc>,
) -> Result<Vec<(i32, DateTime<Utc>, f64)>, sqlx::Error> {
    Ok(sqlx::query!(
        r#"SELECT token_id, open_time, close FROM price_bars
           WHERE interval = $1 AND token_id = ANY($2) AND open_time >= $3 AND open_time < $4"#,
        interval,
        tokens,
        from,
        to
    )
    .fetch_all(pool)
    .await?
    .into_iter()
    .map(|r| (r.token_id, r.open_time, r.close))
    .collect())
}

/// Replace every stored move and match with this scan's, in one transaction.
pub async fn save(
    pool: &PgPool,
    moves: &[MoveRow],
    matches: &[MatchRow],
) -> Result<(), sqlx::Error> {
    let mut tx = pool.begin().await?;
    sqlx::query!("DELETE FROM moves").execute(&mut *tx).await?;
    // Arrays of columns: one statement for every move. Paths go as array literals.
    let col = |f: &dyn Fn(&MoveRow) -> String| moves.iter().map(f).collect::<Vec<String>>();
    let kinds = col(&|m| m.series_kind.to_string());
    let bases = col(&|m| m.basis.to_string());
    let resolutions = col(&|m| m.resolution.to_string());
    let paths = col(&|m| {
        let v: Vec<String> = m.path.iter().map(|x| x.to_string()).collect();
        format!("{{{}}}", v.join(","))
    });
    let token_ids: Vec<Option<i32>> = moves.iter().map(|m| m.token_id).collect();
    let category_ids: Vec<Option<i32>> = moves.iter().map(|m| m.category_id).collect();
    let directions: Vec<i16> = moves.iter().map(|m| m.direction).collect();
    let onsets: Vec<DateTime<Utc>> = moves.iter().map(|m| m.onset).collect();
    let extremes: Vec<DateTime<Utc>> = moves.iter().map(|m| m.extreme_at).collect();
    let sizes: Vec<f64> = moves.iter().map(|m| m.size_log).collect();
    let raws: Vec<f64> = moves.iter().map(|m| m.raw_log).collect();
    let zs: Vec<f64> = moves.iter().map(|m| m.z).collect();
    let windows: Vec<i32> = moves.iter().map(|m| m.window_hours).collect();
    let ps: Vec<f64> = moves.iter().map(|m| m.p_value).collect();
    let nulls: Vec<i32> = moves.iter().map(|m| m.null_hours).collect();
    let ns: Vec<i32> = moves.iter().map(|m| m.n_tokens).collect();
    let starts: Vec<DateTime<Utc>> = moves.iter().map(|m| m.path_start).collect();
    let steps: Vec<i32> = moves.iter().map(|m| m.path_step_s).collect();
    let ids: Vec<i64> = sqlx::query_scalar!(
        r#"INSERT INTO moves (series_kind, token_id, category_id, basis, direction, onset,
                              extreme_at, resolution, size_log, raw_log, z, window_hours,
                              p_value, null_hours, n_tokens, path_start, path_step_s, path)
           SELECT k, t, c, b, d, o, x, r, s, rl, z, w, p, nh, n, ps, st, pa::real[]
           FROM UNNEST($1::text[], $2::int4[], $3::int4[], $4::text[], $5::int2[],
                       $6::timestamptz[], $7::timestamptz[], $8::text[], $9::float8[],
                       $10::float8[], $11::float8[], $12::int4[], $13::float8[], $14::int4[],
                       $15::int4[], $16::timestamptz[], $17::int4[], $18::text[])
                WITH ORDINALITY AS u(k, t, c, b, d, o, x, r, s, rl, z, w, p, nh, n, ps, st, pa, ord)
           ORDER BY ord
           RETURNING id"#,
        &kinds,
        &token_ids as &[Option<i32>],
        &category_ids as &[Option<i32>],
        &bases,
        &directions,
        &onsets,
        &extremes,
        &resolutions,
        &sizes,
        &raws,
        &zs,
        &windows,
        &ps,
        &nulls,
        &ns,
        &starts,
        &steps,
        &paths
    )
    .fetch_all(&mut *tx)
    .await?;
    // RETURNING keeps no promised order: look the ids up by the moves' unique key instead.
    let keyed = sqlx::query!(
        r#"SELECT id, series_kind, COALESCE(token_id, 0) AS "t!", COALESCE(category_id, 0) AS "c!",
                  basis, onset FROM moves"#
    )
    .fetch_all(&mut *tx)
    .await?;
    debug_assert_eq!(ids.len(), moves.len());
    let index: std::collections::HashMap<(String, i32, i32, String, DateTime<Utc>), i64> = keyed
        .into_iter()
        .map(|r| ((r.series_kind, r.t, r.c, r.basis, r.onset), r.id))
        .collect();
    let id_of = |m: &MoveRow| {
        index
            .get(&(
                m.series_kind.to_string(),
                m.token_id.unwrap_or(0),
                m.category_id.unwrap_or(0),
                m.basis.to_string(),
                m.onset,
            ))
            .copied()
    };
    let mut move_ids = Vec::with_capacity(matches.len());
    let mut event_ids = Vec::with_capacity(matches.len());
    let mut reports = Vec::with_capacity(matches.len());
    let mut lags = Vec::with_capacity(matches.len());
    let mut shares: Vec<Option<f64>> = Vec::with_capacity(matches.len());
    let mut bests = Vec::with_capacity(matches.len());
    for x in matches {
        let Some(id) = moves.get(x.move_index).and_then(id_of) else {
            continue;
        };
        move_ids.push(id);
        event_ids.push(x.event_id);
        reports.push(x.first_report);
        lags.push(x.lag_s);
        shares.push(x.share_before);
        bests.push(x.is_best);
    }
    sqlx::query!(
        r#"INSERT INTO move_matches (move_id, event_id, first_report, lag_s, share_before, is_best)
           SELECT * FROM UNNEST($1::int8[], $2::int8[], $3::timestamptz[], $4::int8[],
                                $5::float8[], $6::bool[])"#,
        &move_ids,
        &event_ids,
        &reports,
        &lags,
        &shares as &[Option<f64>],
        &bests
    )
    .execute(&mut *tx)
    .await?;
    tx.commit().await?;
    // The scan rewrites both tables: fresh statistics for the pages' plans.
    sqlx::query!("ANALYZE moves, move_matches")
        .execute(pool)
        .await?;
    Ok(())
}
