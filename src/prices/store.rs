//! SQL for price_bars (and the tokens a price file may introduce).

use sqlx::PgConnection;
use sqlx::PgPool;

use super::{BarInterval, ImportReport, PriceError, PriceFile};

/// Rows per upsert statement: large enough to amortise round trips, small enough to keep
/// parameter arrays modest.
const BATCH_ROWS: usize = 20_000;

/// Store parsed files in one transaction. A file whose bars are all stored already with
/// the same closes (same count and sum over its time range) is skipped, so re-running an
/// import is cheap; anything else is upserted.
pub async fn save_files(
    pool: &PgPool,
    files: &[PriceFile],
    interval: BarInterval,
) -> Result<ImportReport, PriceError> {
    let mut report = ImportReport {
        files: files.len(),
        ..Default::default()
    };
    let mut tx = pool.begin().await?;
    for file in files {
        if file.bars.is_empty() {
            report.unchanged_files += 1;
            continue;
        }
        let (token_id, created) = token_id_or_create(&mut tx, &file.symbol).await?;
        if created {
            tracing::warn!(
                symbol = %file.symbol,
                file = %file.path.display(),
                "token not in the taxonomy: created without categories"
            );
            report.new_tokens.push(file.symbol.clone());
        }
        if already_stored(&mut tx, token_id, interval, file).await? {
            report.unchanged_files += 1;
            continue;
        }
        let source = format!(
            "csv:{}",
            file.path
                .file_name()
                .map(|n| n.to_string_lossy().into_owned())
                .unwrap_or_default()
        );
        for chunk in file.bars.chunks(BATCH_ROWS) {
            upsert_bars(&mut tx, token_id, interval, &source, chunk).await?;
        }
        report.bars += file.bars.len();
    }
    tx.commit().await?;
    Ok(report)
}

async fn token_id_or_create(
    conn: &mut PgConnection,
    symbol: &str,
) -> Result<(i32, bool), sqlx::Error> {
    if let Some(id) = sqlx::query_scalar!("SELECT id FROM tokens WHERE symbol = $1", symbol)
        .fetch_optional(&mut *conn)
        .await?
    {
        return Ok((id, false));
    }
    let id = sqlx::query_scalar!(
        "INSERT INTO tokens (symbol, name) VALUES ($1, $1) RETURNING id",
        symbol
    )
    .fetch_one(&mut *conn)
    .await?;
    Ok((id, true))
}

async fn already_stored(
    conn: &mut PgConnection,
    token_id: i32,
    interval: BarInterval,
    file: &PriceFile,
) -> Result<bool, sqlx::Error> {
    let (Some(first), Some(last)) = (file.bars.first(), file.bars.last()) else {
        return Ok(true);
    };
    let row = sqlx::query!(
        r#"SELECT count(*) AS "n!", COALESCE(sum(close), 0) AS "sum!" FROM price_bars
           WHERE token_id = $1 AND interval = $2 AND open_time BETWEEN $3 AND $4"#,
        token_id,
        interval.as_str(),
        first.open_time,
        last.open_time
    )
    .fetch_one(&mut *conn)
    .await?;
    let file_sum: f64 = file.bars.iter().map(|b| b.close).sum();
    let same_sum = (row.sum - file_sum).abs() <= 1e-9 * file_sum.abs().max(1.0);
    Ok(row.n as usize == file.bars.len() && same_sum)
}

async fn upsert_bars(
    conn: &mut PgConnection,
    token_id: i32,
    interval: BarInterval,
    source: &str,
    bars: &[super::Bar],
) -> Result<(), sqlx::Error> {
    let times: Vec<_> = bars.iter().map(|b| b.open_time).collect();
    let opens: Vec<Option<f64>> = bars.iter().map(|b| b.open).collect();
    let highs: Vec<Option<f64>> = bars.iter().map(|b| b.high).collect();
    let lows: Vec<Option<f64>> = bars.iter().map(|b| b.low).collect();
    let closes: Vec<f64> = bars.iter().map(|b| b.close).collect();
    let volumes: Vec<Option<f64>> = bars.iter().map(|b| b.volume).collect();
    let caps: Vec<Option<f64>> = bars.iter().map(|b| b.market_cap).collect();
    sqlx::query!(
        r#"INSERT INTO price_bars
             (token_id, interval, open_time, open, high, low, close, volume, market_cap, source)
           SELECT $1, $2, u.*, $10
           FROM UNNEST($3::timestamptz[], $4::float8[], $5::float8[], $6::float8[],
                       $7::float8[], $8::float8[], $9::float8[]) AS u
           ON CONFLICT (token_id, interval, open_time) DO UPDATE SET
             open = EXCLUDED.open, high = EXCLUDED.high, low = EXCLUDED.low,
             close = EXCLUDED.close, volume = EXCLUDED.volume,
             market_cap = EXCLUDED.market_cap, source = EXCLUDED.source"#,
        token_id,
        interval.as_str(),
        &times,
        &opens as &[Option<f64>],
        &highs as &[Option<f64>],
        &lows as &[Option<f64>],
        &closes,
        &volumes as &[Option<f64>],
        &caps as &[Option<f64>],
        source
    )
    .execute(&mut *conn)
    .await?;
    Ok(())
}
