//! SQL of the activity measures: the volume, range and taker series they read from
//! `price_bars`, and the `study_activity` rows they write.

use chrono::{DateTime, Utc};
use sqlx::{PgConnection, PgPool};

use super::activity::{ActivityData, ActivityRow, Subject, TokenSeries};
use super::universe::Universe;

/// Rows written per statement.
const INSERT_BATCH: usize = 5_000;

/// 4 ln 2: the Parkinson range variance is ln(high/low)² / (4 ln 2).
fn parkinson(high: f64, low: f64) -> f64 {
    (high / low).ln().powi(2) / (4.0 * std::f64::consts::LN_2)
}

/// Every token's volume, range variance (hourly bars from `first_bar`, `len` of them) and
/// taker-buy share (days over the same span). A token with base-asset volume anywhere
/// uses only that; quote volume stands in only for tokens that have no base volume, so
/// one series never mixes the two units.
pub async fn load(pool: &PgPool, u: &Universe) -> Result<ActivityData, sqlx::Error> {
    let (tokens, first_bar, len) = (&u.tokens, u.first_bar, u.len);
    const HOUR: i64 = 3600;
    let from = DateTime::<Utc>::from_timestamp(first_bar * HOUR, 0).unwrap_or_default();
    let to =
        DateTime::<Utc>::from_timestamp((first_bar + len as i64) * HOUR, 0).unwrap_or_default();
    let pos: std::collections::HashMap<i32, usize> =
        tokens.iter().enumerate().map(|(i, t)| (t.id, i)).collect();
    let mut series: Vec<TokenSeries> = tokens
        .iter()
        .map(|t| TokenSeries {
            token_id: t.id,
            categories: t.categories.clone(),
            log_volume: vec![f64::NAN; len],
            range_variance: vec![f64::NAN; len],
            taker_share: Vec::new(),
        })
        .collect();
    let rows = sqlx::query!(
        r#"SELECT token_id, (extract(epoch FROM open_time)::bigint / 3600) AS "bar!",
                  base_volume, volume, high, low
           FROM price_bars
           WHERE interval = '1h' AND open_time >= $1 AND open_time < $2
             AND (base_volume IS NOT NULL OR volume IS NOT NULL OR high IS NOT NULL)"#,
        from,
        to
    )
    .fetch_all(pool)
    .await?;
    let mut has_base = vec![false; tokens.len()];
    for r in &rows {
        if let (Some(&i), Some(_)) = (pos.get(&r.token_id), r.base_volume) {
            has_base[i] = true;
        }
    }
    for r in rows {
        let Some(&i) = pos.get(&r.token_id) else {
            continue;
        };
        let g = r.bar - first_bar;
        if g < 0 || g as usize >= len {
            continue;
        }
        let g = g as usize;
        let volume = if has_base[i] { r.base_volume } else { r.volume };
        if let Some(v) = volume.filter(|v| *v > 0.0) {
            series[i].log_volume[g] = v.ln();
        }
        if let (Some(h), Some(l)) = (r.high, r.low) {
            if h >= l && l > 0.0 {
                series[i].range_variance[g] = parkinson(h, l);
            }
        }
    }

    let first_day = (first_bar * HOUR).div_euclid(86_400);
    let days = (len as i64 * HOUR / 86_400 + 2) as usize;
    let daily = sqlx::query!(
        r#"SELECT token_id, (extract(epoch FROM open_time)::bigint / 86400) AS "day!",
                  taker_buy_base AS "taker!", base_volume AS "base!"
           FROM price_bars
           WHERE interval = '1d' AND open_time >= $1 AND open_time < $2
             AND taker_buy_base IS NOT NULL AND base_volume > 0"#,
        from,
        to
    )
    .fetch_all(pool)
    .await?;
    for r in daily {
        let Some(&i) = pos.get(&r.token_id) else {
            continue;
        };
        let d = r.day - first_day;
        if d < 0 || d as usize >= days {
            continue;
        }
        let s = &mut series[i].taker_share;
        if s.is_empty() {
            s.resize(days, f64::NAN);
        }
        s[d as usize] = (r.taker / r.base).clamp(0.0, 1.0);
    }
    Ok(ActivityData {
        first_bar,
        bar_seconds: HOUR,
        first_day,
        tokens: series,
    })
}

/// Remove the run's activity rows, before a run writes its own with [`insert`].
pub async fn clear(conn: &mut PgConnection, run_id: i64) -> Result<(), sqlx::Error> {
    sqlx::query!("DELETE FROM study_activity WHERE run_id = $1", run_id)
        .execute(&mut *conn)
        .await?;
    Ok(())
}

/// Add rows to the run's (after [`clear`], in chunks of events).
pub async fn insert(
    conn: &mut PgConnection,
    run_id: i64,
    rows: &[(i64, ActivityRow)],
) -> Result<(), sqlx::Error> {
    for batch in rows.chunks(INSERT_BATCH) {
        let mut events = Vec::with_capacity(batch.len());
        let mut tokens: Vec<Option<i32>> = Vec::with_capacity(batch.len());
        let mut categories: Vec<Option<i32>> = Vec::with_capacity(batch.len());
        let mut measures = Vec::with_capacity(batch.len());
        let mut starts = Vec::with_capacity(batch.len());
        let mut ends = Vec::with_capacity(batch.len());
        let mut n_tokens = Vec::with_capacity(batch.len());
        let mut raw = Vec::with_capacity(batch.len());
        let mut abnormal = Vec::with_capacity(batch.len());
        let mut z: Vec<Option<f64>> = Vec::with_capacity(batch.len());
        let mut p: Vec<Option<f64>> = Vec::with_capacity(batch.len());
        let mut null_hours = Vec::with_capacity(batch.len());
        for (event_id, r) in batch {
            events.push(*event_id);
            let (t, c) = match r.m.subject {
                Subject::Token(t) => (Some(t), None),
                Subject::Category(c) => (None, Some(c)),
            };
            tokens.push(t);
            categories.push(c);
            measures.push(r.m.measure.as_str().to_string());
            starts.push(r.m.window.start);
            ends.push(r.m.window.end);
            n_tokens.push(r.m.n_tokens as i32);
            raw.push(r.m.raw);
            abnormal.push(r.m.abnormal);
            z.push(r.m.z.filter(|v| v.is_finite()));
            p.push(r.p);
            null_hours.push(r.null_hours as i32);
        }
        sqlx::query!(
            r#"INSERT INTO study_activity
                 (run_id, event_id, token_id, category_id, measure, window_start, window_end,
                  n_tokens, raw_excess, abnormal, z, p_value, null_hours)
               SELECT $1, u.* FROM UNNEST($2::int8[], $3::int4[], $4::int4[], $5::text[],
                   $6::int4[], $7::int4[], $8::int4[], $9::float8[], $10::float8[],
                   $11::float8[], $12::float8[], $13::int4[]) AS u"#,
            run_id,
            &events,
            &tokens as &[Option<i32>],
            &categories as &[Option<i32>],
            &measures,
            &starts,
            &ends,
            &n_tokens,
            &raw,
            &abnormal,
            &z as &[Option<f64>],
            &p as &[Option<f64>],
            &null_hours
        )
        .execute(&mut *conn)
        .await?;
    }
    Ok(())
}
