//! SQL for the price tables: price_bars (and the tokens a price file may introduce),
//! token_provider_ids and the registry's token flags, market_proxy_bars.

use std::fmt::Write as _;

use chrono::{DateTime, Utc};
use sqlx::PgConnection;
use sqlx::PgPool;

use super::proxies::ProxyBar;
use super::registry::Registry;
#[cfg(test)]
use super::Flow;
use super::{Bar, BarInterval, ImportReport, PriceError, PriceFile};
use crate::db::copy::{copy_binary, BinaryRows, CopyError};

/// Bytes per COPY message: large enough to amortise, small enough to stream.
const COPY_CHUNK: usize = 4 << 20;

/// How long one file's COPY may take before the import gives up. A COPY blocked behind a
/// lock (a `LOCK TABLE`, a long migration) would otherwise wait forever with the import's
/// transaction open; the largest shared file (157,536 5-minute bars) needs about a second
/// at psql's own COPY rate (docs/performance.md), so 5 minutes is only ever a stuck COPY.
/// The merge of staged rows (an INSERT, not a COPY) is not limited.
pub const COPY_TIMEOUT: std::time::Duration = std::time::Duration::from_secs(300);

/// Store parsed files in one transaction. A file whose bars are all stored already with
/// the same closes (same count and sum over its time range) is skipped, so re-running an
/// import is cheap. A file whose token has nothing stored over its range is streamed
/// with `COPY` straight into price_bars; the others go through a temporary staging table
/// and one `INSERT ... SELECT ... ON CONFLICT DO UPDATE`. A failure anywhere rolls the
/// whole import back.
pub async fn save_files(
    pool: &PgPool,
    files: &[PriceFile],
    interval: BarInterval,
) -> Result<ImportReport, PriceError> {
    save_files_as(pool, files, interval, ImportMode::Upsert).await
}

/// How an import treats bars already stored.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum ImportMode {
    /// The file's bars replace stored ones (fields the file lacks are kept).
    #[default]
    Upsert,
    /// Only bars at times with nothing stored are added: a second source fills the first
    /// one's gaps and never overrides it.
    FillGaps,
    /// Only bars at times already stored, and only their fields beyond the close (volume,
    /// high/low, taker flow): a second source adds detail to the first one's bars and
    /// changes neither its closes nor its hours.
    Enrich,
}

/// [`save_files`] with a choice of [`ImportMode`].
pub async fn save_files_as(
    pool: &PgPool,
    files: &[PriceFile],
    interval: BarInterval,
    mode: ImportMode,
) -> Result<ImportReport, PriceError> {
    save_files_within(pool, files, interval, mode, COPY_TIMEOUT).await
}

/// [`save_files_as`] with each file's COPY limited to `copy_timeout`. After a bulk write
/// the planner's statistics of price_bars are refreshed (`ANALYZE`).
pub async fn save_files_within(
    pool: &PgPool,
    files: &[PriceFile],
    interval: BarInterval,
    mode: ImportMode,
    copy_timeout: std::time::Duration,
) -> Result<ImportReport, PriceError> {
    use sqlx::Connection as _;
    let mut conn = pool.acquire().await?;
    let result = save_on(&mut conn, files, interval, mode, copy_timeout).await;
    if let Err(PriceError::CopyTimeout { .. }) = &result {
        // The server may still be inside the COPY: this connection is not fit to be
        // reused, and dropping it ends the transaction (nothing is stored). Not a
        // graceful close: that waits for the server to answer, i.e. for the lock.
        let _ = conn.detach().close_hard().await;
    } else {
        drop(conn);
    }
    let report = result?;
    if report.bars > 0 {
        analyze(pool, AnalyzedTable::PriceBars).await?;
    }
    Ok(report)
}

async fn save_on(
    conn: &mut PgConnection,
    files: &[PriceFile],
    interval: BarInterval,
    mode: ImportMode,
    copy_timeout: std::time::Duration,
) -> Result<ImportReport, PriceError> {
    use sqlx::Connection as _;
    let mut report = ImportReport {
        files: files.len(),
        ..Default::default()
    };
    let mut tx = conn.begin().await?;
    let mut staged = false;
    // Tokens in the staging table: a token met again (two files of one symbol) first
    // merges what is staged, since one INSERT may not upsert a key twice.
    let mut staged_tokens = std::collections::HashSet::new();
    // Every token met in this import (copied directly or staged).
    let mut seen_tokens = std::collections::HashSet::new();
    let mut buf = String::with_capacity(COPY_CHUNK + 4096);
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
        let part;
        let file = if mode == ImportMode::Upsert {
            file
        } else {
            let have = stored_closes(&mut tx, token_id, interval, file).await?;
            let bars: Vec<Bar> = match mode {
                ImportMode::FillGaps => file
                    .bars
                    .iter()
                    .filter(|b| !have.contains_key(&b.open_time))
                    .cloned()
                    .collect(),
                _ => file
                    .bars
                    .iter()
                    .filter_map(|b| {
                        have.get(&b.open_time)
                            .map(|&close| Bar { close, ..b.clone() })
                    })
                    .collect(),
            };
            part = PriceFile {
                path: file.path.clone(),
                symbol: file.symbol.clone(),
                bars,
            };
            if part.bars.is_empty() {
                report.unchanged_files += 1;
                continue;
            }
            &part
        };
        let stored = stored_in_range(&mut tx, token_id, interval, file).await?;
        if stored.same_as(file) {
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
        // Fast path: nothing of this token stored over the file's range, the token not met
        // before in this import, one bar per time: COPY straight into price_bars (no
        // conflict is possible, so no merge is needed).
        let first_time = seen_tokens.insert(token_id);
        let unique_times = file
            .bars
            .windows(2)
            .all(|w| w[0].open_time < w[1].open_time);
        if stored.count == 0 && first_time && unique_times {
            let rows = direct_rows(token_id, interval, &file.bars, &source);
            copy_direct(&mut tx, &rows, copy_timeout, &file.path).await?;
            report.bars += file.bars.len();
            report.touch(&file.bars);
            continue;
        }
        if !staged {
            create_stage(&mut tx).await?;
            staged = true;
        }
        if !staged_tokens.insert(token_id) {
            report.widen(merge_stage(&mut tx, interval).await?);
            sqlx::raw_sql("TRUNCATE price_bars_stage")
                .execute(&mut *tx)
                .await?;
            staged_tokens.clear();
            staged_tokens.insert(token_id);
        }
        let copy = copy_bars(&mut tx, COPY_STAGE, &file.bars, &mut buf, |buf, bar| {
            stage_row(buf, token_id, bar, &source)
        });
        within(copy_timeout, &file.path, copy).await?;
        report.bars += file.bars.len();
    }
    if staged {
        report.widen(merge_stage(&mut tx, interval).await?);
    }
    tx.commit().await?;
    Ok(report)
}

const COPY_STAGE: &str = "COPY price_bars_stage FROM STDIN (FORMAT csv)";
/// The direct path's COPY target; [`direct_rows`] writes its fields in this order.
const DIRECT_TARGET: &str = "price_bars (token_id, interval, open_time, open, high, low, close, volume, market_cap, base_volume, trades, taker_buy_base, taker_buy_quote, volume_24h, source)";
const DIRECT_FIELDS: i16 = 15;

/// A file's rows for the direct path in binary COPY form: the server stores each float
/// and time as sent instead of parsing text (CSV parsing was most of the server's work).
fn direct_rows(token_id: i32, interval: BarInterval, bars: &[Bar], source: &str) -> Vec<u8> {
    let mut rows = BinaryRows::default();
    for bar in bars {
        let f = &bar.flow;
        rows.row(DIRECT_FIELDS)
            .i32(token_id)
            .text(interval.as_str())
            .timestamptz(bar.open_time)
            .opt_f64(bar.open)
            .opt_f64(bar.high)
            .opt_f64(bar.low)
            .f64(bar.close)
            .opt_f64(bar.volume)
            .opt_f64(bar.market_cap)
            .opt_f64(f.base_volume)
            .opt_i64(f.trades)
            .opt_f64(f.taker_buy_base)
            .opt_f64(f.taker_buy_quote)
            .opt_f64(f.volume_24h)
            .text(source);
    }
    rows.finish()
}

/// COPY a file's [`direct_rows`] into price_bars, given up after `limit` with an error
/// naming the file.
async fn copy_direct(
    conn: &mut PgConnection,
    rows: &[u8],
    limit: std::time::Duration,
    path: &std::path::Path,
) -> Result<(), PriceError> {
    match copy_binary(conn, DIRECT_TARGET, rows, limit).await {
        Ok(_) => Ok(()),
        Err(CopyError::Db(e)) => Err(e.into()),
        Err(CopyError::TimedOut { .. }) => Err(PriceError::CopyTimeout {
            path: path.display().to_string(),
            secs: limit.as_secs_f64(),
        }),
    }
}

// The staging table is temporary, so these statements cannot be checked at compile time.
async fn create_stage(conn: &mut PgConnection) -> Result<(), sqlx::Error> {
    sqlx::raw_sql(
        "CREATE TEMP TABLE price_bars_stage (
           token_id integer, open_time bigint, open float8, high float8, low float8,
           close float8, volume float8, market_cap float8, base_volume float8, trades bigint,
           taker_buy_base float8, taker_buy_quote float8, volume_24h float8, source text
         ) ON COMMIT DROP",
    )
    .execute(conn)
    .await?;
    Ok(())
}

/// A file's COPY, given up after `limit` with an error naming the file.
async fn within(
    limit: std::time::Duration,
    path: &std::path::Path,
    copy: impl std::future::Future<Output = Result<(), sqlx::Error>>,
) -> Result<(), PriceError> {
    match tokio::time::timeout(limit, copy).await {
        Ok(r) => Ok(r?),
        Err(_) => Err(PriceError::CopyTimeout {
            path: path.display().to_string(),
            secs: limit.as_secs_f64(),
        }),
    }
}

/// Move staged rows into price_bars; rows that would not change are not rewritten. A field
/// the new bar does not have keeps its stored value: importing closes over OHLCV bars
/// loses no volume. Returns the first and last open time of the rows written (`None`:
/// nothing changed), for the proxies' incremental rebuild.
async fn merge_stage(
    conn: &mut PgConnection,
    interval: BarInterval,
) -> Result<Option<Span>, sqlx::Error> {
    let r: (Option<DateTime<Utc>>, Option<DateTime<Utc>>) = sqlx::query_as(
        "WITH written AS (
         INSERT INTO price_bars
           (token_id, interval, open_time, open, high, low, close, volume, market_cap,
            base_volume, trades, taker_buy_base, taker_buy_quote, volume_24h, source)
         SELECT token_id, $1, to_timestamp(open_time), open, high, low, close, volume,
                market_cap, base_volume, trades, taker_buy_base, taker_buy_quote, volume_24h,
                source
         FROM price_bars_stage
         ON CONFLICT (token_id, interval, open_time) DO UPDATE SET
           open = COALESCE(EXCLUDED.open, price_bars.open),
           high = COALESCE(EXCLUDED.high, price_bars.high),
           low = COALESCE(EXCLUDED.low, price_bars.low),
           close = EXCLUDED.close,
           volume = COALESCE(EXCLUDED.volume, price_bars.volume),
           market_cap = COALESCE(EXCLUDED.market_cap, price_bars.market_cap),
           base_volume = COALESCE(EXCLUDED.base_volume, price_bars.base_volume),
           trades = COALESCE(EXCLUDED.trades, price_bars.trades),
           taker_buy_base = COALESCE(EXCLUDED.taker_buy_base, price_bars.taker_buy_base),
           taker_buy_quote = COALESCE(EXCLUDED.taker_buy_quote, price_bars.taker_buy_quote),
           volume_24h = COALESCE(EXCLUDED.volume_24h, price_bars.volume_24h),
           source = EXCLUDED.source
         WHERE (price_bars.open, price_bars.high, price_bars.low, price_bars.close,
                price_bars.volume, price_bars.market_cap, price_bars.base_volume,
                price_bars.trades, price_bars.taker_buy_base, price_bars.taker_buy_quote,
                price_bars.volume_24h, price_bars.source)
               IS DISTINCT FROM
               (COALESCE(EXCLUDED.open, price_bars.open), COALESCE(EXCLUDED.high, price_bars.high),
                COALESCE(EXCLUDED.low, price_bars.low), EXCLUDED.close,
                COALESCE(EXCLUDED.volume, price_bars.volume),
                COALESCE(EXCLUDED.market_cap, price_bars.market_cap),
                COALESCE(EXCLUDED.base_volume, price_bars.base_volume),
                COALESCE(EXCLUDED.trades, price_bars.trades),
                COALESCE(EXCLUDED.taker_buy_base, price_bars.taker_buy_base),
                COALESCE(EXCLUDED.taker_buy_quote, price_bars.taker_buy_quote),
                COALESCE(EXCLUDED.volume_24h, price_bars.volume_24h), EXCLUDED.source)
         RETURNING open_time)
         SELECT min(open_time), max(open_time) FROM written",
    )
    .bind(interval.as_str())
    .fetch_one(conn)
    .await?;
    Ok(r.0.zip(r.1))
}

/// One COPY per file (it holds the connection while open), sent in chunks of
/// [`COPY_CHUNK`] bytes.
async fn copy_bars(
    conn: &mut PgConnection,
    statement: &str,
    bars: &[Bar],
    buf: &mut String,
    row: impl Fn(&mut String, &Bar),
) -> Result<(), sqlx::Error> {
    let mut copy = conn.copy_in_raw(statement).await?;
    for bar in bars {
        row(buf, bar);
        if buf.len() >= COPY_CHUNK {
            copy.send(buf.as_bytes()).await?;
            buf.clear();
        }
    }
    if !buf.is_empty() {
        copy.send(buf.as_bytes()).await?;
        buf.clear();
    }
    copy.finish().await?;
    Ok(())
}

/// One staging row in COPY's CSV form (an empty field is NULL).
fn stage_row(buf: &mut String, token_id: i32, bar: &Bar, source: &str) {
    let _ = write!(buf, "{token_id},{}", bar.open_time.timestamp());
    bar_fields(buf, bar, source);
}

/// The fields after the key: prices, volumes, market cap, flow, source, newline.
fn bar_fields(buf: &mut String, bar: &Bar, source: &str) {
    let opt = |buf: &mut String, v: Option<f64>| {
        buf.push(',');
        if let Some(v) = v {
            let _ = write!(buf, "{v}");
        }
    };
    opt(buf, bar.open);
    opt(buf, bar.high);
    opt(buf, bar.low);
    let _ = write!(buf, ",{}", bar.close);
    opt(buf, bar.volume);
    opt(buf, bar.market_cap);
    let f = &bar.flow;
    opt(buf, f.base_volume);
    buf.push(',');
    if let Some(n) = f.trades {
        let _ = write!(buf, "{n}");
    }
    opt(buf, f.taker_buy_base);
    opt(buf, f.taker_buy_quote);
    opt(buf, f.volume_24h);
    buf.push_str(",\"");
    buf.push_str(&source.replace('"', "\"\""));
    buf.push_str("\"\n");
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

/// What price_bars holds of a file's token over the file's time range.
struct StoredRange {
    /// Bars stored in the range (any source).
    count: usize,
    /// The file's bars stored already: same time, same close, and at least as many known
    /// optional fields.
    matched: usize,
}

/// Known optional fields of a bar (high, quote and base volume, taker-buy volume).
fn filled(b: &Bar) -> i32 {
    [b.high, b.volume, b.flow.base_volume, b.flow.taker_buy_base]
        .iter()
        .filter(|v| v.is_some())
        .count() as i32
}

impl StoredRange {
    /// Every bar of the file is stored with its close and no field the store lacks.
    /// (Other bars in the range, from another file or provider, do not matter.)
    fn same_as(&self, file: &PriceFile) -> bool {
        self.matched == file.bars.len()
    }
}

/// Time and close of the bars stored over a file's time range.
async fn stored_closes(
    conn: &mut PgConnection,
    token_id: i32,
    interval: BarInterval,
    file: &PriceFile,
) -> Result<std::collections::HashMap<DateTime<Utc>, f64>, sqlx::Error> {
    let (Some(first), Some(last)) = (file.bars.first(), file.bars.last()) else {
        return Ok(Default::default());
    };
    let rows = sqlx::query!(
        "SELECT open_time, close FROM price_bars
         WHERE token_id = $1 AND interval = $2 AND open_time BETWEEN $3 AND $4",
        token_id,
        interval.as_str(),
        first.open_time,
        last.open_time
    )
    .fetch_all(&mut *conn)
    .await?;
    Ok(rows.into_iter().map(|r| (r.open_time, r.close)).collect())
}

async fn stored_in_range(
    conn: &mut PgConnection,
    token_id: i32,
    interval: BarInterval,
    file: &PriceFile,
) -> Result<StoredRange, sqlx::Error> {
    let (Some(first), Some(last)) = (file.bars.first(), file.bars.last()) else {
        return Ok(StoredRange {
            count: 0,
            matched: 0,
        });
    };
    let times: Vec<DateTime<Utc>> = file.bars.iter().map(|b| b.open_time).collect();
    let closes: Vec<f64> = file.bars.iter().map(|b| b.close).collect();
    let fields: Vec<i32> = file.bars.iter().map(filled).collect();
    let row = sqlx::query!(
        r#"SELECT
             (SELECT count(*) FROM price_bars
              WHERE token_id = $1 AND interval = $2 AND open_time BETWEEN $3 AND $4) AS "n!",
             (SELECT count(*) FROM price_bars p
              JOIN UNNEST($5::timestamptz[], $6::float8[], $7::int4[]) AS f (t, c, k)
                ON p.open_time = f.t
              WHERE p.token_id = $1 AND p.interval = $2 AND p.close = f.c
                AND (p.high IS NOT NULL)::int + (p.volume IS NOT NULL)::int
                    + (p.base_volume IS NOT NULL)::int + (p.taker_buy_base IS NOT NULL)::int
                    >= f.k) AS "matched!""#,
        token_id,
        interval.as_str(),
        first.open_time,
        last.open_time,
        &times,
        &closes,
        &fields
    )
    .fetch_one(&mut *conn)
    .await?;
    Ok(StoredRange {
        count: row.n as usize,
        matched: row.matched as usize,
    })
}

/// Upsert one page of bars (at most a few thousand): sorted by time, one bar per time
/// (the last given wins), in one statement.
pub async fn upsert_bars(
    conn: &mut PgConnection,
    token_id: i32,
    interval: BarInterval,
    source: &str,
    bars: &[super::Bar],
) -> Result<(), sqlx::Error> {
    let bars = &dedupe(bars);
    let times: Vec<_> = bars.iter().map(|b| b.open_time).collect();
    let opens: Vec<Option<f64>> = bars.iter().map(|b| b.open).collect();
    let highs: Vec<Option<f64>> = bars.iter().map(|b| b.high).collect();
    let lows: Vec<Option<f64>> = bars.iter().map(|b| b.low).collect();
    let closes: Vec<f64> = bars.iter().map(|b| b.close).collect();
    let volumes: Vec<Option<f64>> = bars.iter().map(|b| b.volume).collect();
    let caps: Vec<Option<f64>> = bars.iter().map(|b| b.market_cap).collect();
    let base: Vec<Option<f64>> = bars.iter().map(|b| b.flow.base_volume).collect();
    let trades: Vec<Option<i64>> = bars.iter().map(|b| b.flow.trades).collect();
    let taker_base: Vec<Option<f64>> = bars.iter().map(|b| b.flow.taker_buy_base).collect();
    let taker_quote: Vec<Option<f64>> = bars.iter().map(|b| b.flow.taker_buy_quote).collect();
    let v24: Vec<Option<f64>> = bars.iter().map(|b| b.flow.volume_24h).collect();
    // A field the new bar lacks keeps its stored value (see merge_stage).
    sqlx::query!(
        r#"INSERT INTO price_bars
             (token_id, interval, open_time, open, high, low, close, volume, market_cap,
              base_volume, trades, taker_buy_base, taker_buy_quote, volume_24h, source)
           SELECT $1, $2, u.*, $15
           FROM UNNEST($3::timestamptz[], $4::float8[], $5::float8[], $6::float8[],
                       $7::float8[], $8::float8[], $9::float8[], $10::float8[], $11::int8[],
                       $12::float8[], $13::float8[], $14::float8[]) AS u
           ON CONFLICT (token_id, interval, open_time) DO UPDATE SET
             open = COALESCE(EXCLUDED.open, price_bars.open),
             high = COALESCE(EXCLUDED.high, price_bars.high),
             low = COALESCE(EXCLUDED.low, price_bars.low),
             close = EXCLUDED.close,
             volume = COALESCE(EXCLUDED.volume, price_bars.volume),
             market_cap = COALESCE(EXCLUDED.market_cap, price_bars.market_cap),
             base_volume = COALESCE(EXCLUDED.base_volume, price_bars.base_volume),
             trades = COALESCE(EXCLUDED.trades, price_bars.trades),
             taker_buy_base = COALESCE(EXCLUDED.taker_buy_base, price_bars.taker_buy_base),
             taker_buy_quote = COALESCE(EXCLUDED.taker_buy_quote, price_bars.taker_buy_quote),
             volume_24h = COALESCE(EXCLUDED.volume_24h, price_bars.volume_24h),
             source = EXCLUDED.source"#,
        token_id,
        interval.as_str(),
        &times,
        &opens as &[Option<f64>],
        &highs as &[Option<f64>],
        &lows as &[Option<f64>],
        &closes,
        &volumes as &[Option<f64>],
        &caps as &[Option<f64>],
        &base as &[Option<f64>],
        &trades as &[Option<i64>],
        &taker_base as &[Option<f64>],
        &taker_quote as &[Option<f64>],
        &v24 as &[Option<f64>],
        source
    )
    .execute(&mut *conn)
    .await?;
    Ok(())
}

/// Sorted by open time, one bar per time: a page may repeat a bar or come out of order,
/// and one statement may not upsert the same key twice.
pub fn dedupe(bars: &[Bar]) -> Vec<Bar> {
    let mut v: Vec<(usize, &Bar)> = bars.iter().enumerate().collect();
    // Stable by time, later input last; keep the last of each time.
    v.sort_by_key(|(i, b)| (b.open_time, *i));
    let mut out: Vec<Bar> = Vec::with_capacity(v.len());
    for (_, b) in v {
        match out.last_mut() {
            Some(last) if last.open_time == b.open_time => *last = b.clone(),
            _ => out.push(b.clone()),
        }
    }
    out
}

/// Store the registry: tokens it adds (the taxonomy's names win for known ones), the
/// stablecoin flag, categories (added, never removed), and provider ids (replaced).
pub async fn save_registry(pool: &PgPool, registry: &Registry) -> Result<(), sqlx::Error> {
    let mut tx = pool.begin().await?;
    for t in &registry.tokens {
        let id = sqlx::query_scalar!(
            r#"INSERT INTO tokens (symbol, name, exclude_from_aggregates) VALUES ($1, $2, $3)
               ON CONFLICT (symbol) DO UPDATE SET exclude_from_aggregates = EXCLUDED.exclude_from_aggregates
               RETURNING id"#,
            t.symbol,
            t.name,
            t.stablecoin
        )
        .fetch_one(&mut *tx)
        .await?;
        sqlx::query!(
            r#"INSERT INTO categories (slug, name)
               SELECT s, initcap(replace(s, '-', ' ')) FROM UNNEST($1::text[]) s
               ON CONFLICT (slug) DO NOTHING"#,
            &t.categories
        )
        .execute(&mut *tx)
        .await?;
        sqlx::query!(
            r#"INSERT INTO token_categories (token_id, category_id)
               SELECT $1, c.id FROM categories c WHERE c.slug = ANY($2)
               ON CONFLICT DO NOTHING"#,
            id,
            &t.categories
        )
        .execute(&mut *tx)
        .await?;
        sqlx::query!("DELETE FROM token_provider_ids WHERE token_id = $1", id)
            .execute(&mut *tx)
            .await?;
        for provider in ["binance", "coingecko"] {
            let ls = t.listings(provider);
            let ids: Vec<String> = ls.iter().map(|l| l.id.clone()).collect();
            let from: Vec<Option<DateTime<Utc>>> = ls.iter().map(|l| l.from).collect();
            let until: Vec<Option<DateTime<Utc>>> = ls.iter().map(|l| l.until).collect();
            sqlx::query!(
                r#"INSERT INTO token_provider_ids (token_id, provider, external_id, valid_from, valid_until)
                   SELECT $1, $2, u.* FROM UNNEST($3::text[], $4::timestamptz[], $5::timestamptz[]) AS u"#,
                id,
                provider,
                &ids,
                &from as &[Option<DateTime<Utc>>],
                &until as &[Option<DateTime<Utc>>]
            )
            .execute(&mut *tx)
            .await?;
        }
    }
    tx.commit().await
}

/// A tracked token and how one provider names it over time.
#[derive(Debug, Clone)]
pub struct TrackedToken {
    pub id: i32,
    pub symbol: String,
    /// (provider id, valid from, valid until); the open ends are the extreme times.
    pub listings: Vec<(String, DateTime<Utc>, DateTime<Utc>)>,
}

/// Tokens (all, or the given symbols or aliases) with their ids at `provider`.
pub async fn tracked_tokens(
    pool: &PgPool,
    provider: &str,
    symbols: Option<&[String]>,
) -> Result<Vec<TrackedToken>, sqlx::Error> {
    let upper: Option<Vec<String>> =
        symbols.map(|s| s.iter().map(|x| x.trim().to_ascii_uppercase()).collect());
    let rows = sqlx::query!(
        r#"SELECT t.id, t.symbol, p.external_id AS "external_id?", p.valid_from, p.valid_until
           FROM tokens t
           LEFT JOIN token_provider_ids p ON p.token_id = t.id AND p.provider = $1
           WHERE $2::text[] IS NULL OR t.symbol = ANY($2)
              OR EXISTS (SELECT 1 FROM token_aliases a WHERE a.token_id = t.id AND upper(a.alias) = ANY($2))
           ORDER BY t.symbol, p.valid_from NULLS FIRST"#,
        provider,
        upper.as_deref() as Option<&[String]>
    )
    .fetch_all(pool)
    .await?;
    let mut out: Vec<TrackedToken> = Vec::new();
    for r in rows {
        if out.last().map(|t| t.id) != Some(r.id) {
            out.push(TrackedToken {
                id: r.id,
                symbol: r.symbol.clone(),
                listings: Vec::new(),
            });
        }
        if let (Some(id), Some(last)) = (r.external_id, out.last_mut()) {
            last.listings.push((
                id,
                r.valid_from.unwrap_or(DateTime::<Utc>::MIN_UTC),
                r.valid_until.unwrap_or(DateTime::<Utc>::MAX_UTC),
            ));
        }
    }
    Ok(out)
}

/// A run of missing bars: `[start, end)`, `bars` of them.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct MissingRange {
    pub start: DateTime<Utc>,
    pub end: DateTime<Utc>,
    pub bars: i64,
}

/// The bars of `interval` opening in `[from, to)` that the token does not have, as
/// runs of consecutive bars. `from` is rounded up to the grid.
pub async fn missing_ranges(
    conn: &mut PgConnection,
    token_id: i32,
    interval: BarInterval,
    from: DateTime<Utc>,
    to: DateTime<Utc>,
) -> Result<Vec<MissingRange>, sqlx::Error> {
    let step = interval.seconds();
    let first = from.timestamp().div_euclid(step) * step
        + if from.timestamp().rem_euclid(step) == 0 {
            0
        } else {
            step
        };
    let rows = sqlx::query!(
        r#"SELECT min(g) AS "start!", max(g) AS "last!", count(*) AS "bars!"
           FROM (SELECT g, row_number() OVER (ORDER BY g) AS k
                 FROM generate_series(to_timestamp($3::bigint), $4::timestamptz - make_interval(secs => 1),
                                      make_interval(secs => $5::bigint)) g
                 WHERE NOT EXISTS (SELECT 1 FROM price_bars p
                                   WHERE p.token_id = $1 AND p.interval = $2 AND p.open_time = g)) s
           GROUP BY g - make_interval(secs => k * $5::bigint)
           ORDER BY 1"#,
        token_id,
        interval.as_str(),
        first,
        to,
        step
    )
    .fetch_all(conn)
    .await?;
    Ok(rows
        .into_iter()
        .map(|r| MissingRange {
            start: r.start,
            end: r.last + chrono::Duration::seconds(step),
            bars: r.bars,
        })
        .collect())
}

/// First and last bar of a token, if it has any.
pub async fn bar_span(
    pool: &PgPool,
    token_id: i32,
    interval: BarInterval,
) -> Result<Option<(DateTime<Utc>, DateTime<Utc>)>, sqlx::Error> {
    let r = sqlx::query!(
        r#"SELECT min(open_time) AS first, max(open_time) AS last FROM price_bars
           WHERE token_id = $1 AND interval = $2"#,
        token_id,
        interval.as_str()
    )
    .fetch_one(pool)
    .await?;
    Ok(r.first.zip(r.last))
}

/// Try to take the upkeep lock of a token for this session (connection). Held across the
/// provider's HTTP requests, so it is a session lock rather than a transaction's: no
/// transaction stays open while waiting on the network. Give it back with
/// [`unlock_token`]; it also goes when the connection does (a worker that dies).
pub async fn try_lock_token(conn: &mut PgConnection, token_id: i32) -> Result<bool, sqlx::Error> {
    // Key space 0x7072 ("pr") keeps price locks apart from any other advisory lock.
    sqlx::query_scalar!(
        r#"SELECT pg_try_advisory_lock(28786, $1) AS "locked!""#,
        token_id
    )
    .fetch_one(conn)
    .await
}

/// Release the lock [`try_lock_token`] took.
pub async fn unlock_token(conn: &mut PgConnection, token_id: i32) -> Result<bool, sqlx::Error> {
    sqlx::query_scalar!(
        r#"SELECT pg_advisory_unlock(28786, $1) AS "unlocked!""#,
        token_id
    )
    .fetch_one(conn)
    .await
}

/// Open times from `.0` to `.1`, both included.
pub type Span = (DateTime<Utc>, DateTime<Utc>);

/// The bars the market indices are built from, to `each` as (token, open time, close,
/// market cap) in (token, open time) order: tokens that enter aggregates (no stablecoin,
/// nothing in an excluded category), with `span` those opening in it and the grid bar
/// before it (whose close the first return needs). Streamed: a full history is about a
/// million rows.
pub async fn each_aggregate_bar(
    conn: &mut PgConnection,
    interval: BarInterval,
    span: Option<Span>,
    mut each: impl FnMut(i32, DateTime<Utc>, f64, Option<f64>),
) -> Result<(), sqlx::Error> {
    use futures_util::TryStreamExt as _;
    let mut rows = sqlx::query!(
        r#"SELECT p.token_id, p.open_time, p.close, p.market_cap
           FROM price_bars p
           WHERE p.interval = $1
             AND p.token_id IN (
               SELECT t.id FROM tokens t
               WHERE NOT t.exclude_from_aggregates AND NOT EXISTS (
                 SELECT 1 FROM token_categories x JOIN categories c ON c.id = x.category_id
                 WHERE x.token_id = t.id AND c.excluded_from_aggregates))
             AND ($3::timestamptz IS NULL OR p.open_time >= $3 - make_interval(secs => $2::bigint))
             AND ($4::timestamptz IS NULL OR p.open_time <= $4)
           ORDER BY p.token_id, p.open_time"#,
        interval.as_str(),
        interval.seconds(),
        span.map(|s| s.0),
        span.map(|s| s.1),
    )
    .fetch(conn);
    while let Some(r) = rows.try_next().await? {
        each(r.token_id, r.open_time, r.close, r.market_cap);
    }
    Ok(())
}

/// (open time, close) of one token's bars, in time order; with `span`, those opening in it.
pub async fn closes_of(
    conn: &mut PgConnection,
    symbol: &str,
    interval: BarInterval,
    span: Option<Span>,
) -> Result<Vec<(DateTime<Utc>, f64)>, sqlx::Error> {
    sqlx::query_as(
        r#"SELECT p.open_time, p.close FROM price_bars p JOIN tokens t ON t.id = p.token_id
           WHERE t.symbol = $1 AND p.interval = $2
             AND ($3::timestamptz IS NULL OR p.open_time >= $3)
             AND ($4::timestamptz IS NULL OR p.open_time <= $4)
           ORDER BY p.open_time"#,
    )
    .bind(symbol)
    .bind(interval.as_str())
    .bind(span.map(|s| s.0))
    .bind(span.map(|s| s.1))
    .fetch_all(conn)
    .await
}

/// Take the proxies' writer lock for the transaction: two rebuilds at once (two upkeep
/// workers, an import during upkeep) would both insert the same keys, or chain one's
/// levels on the other's half-written rows; the second waits for the first to commit.
pub async fn lock_proxies(conn: &mut PgConnection) -> Result<(), sqlx::Error> {
    sqlx::query!("SELECT name FROM writer_locks WHERE name = 'proxies' FOR UPDATE")
        .fetch_optional(conn)
        .await?;
    Ok(())
}

/// The stored proxy rows of `interval` and `proxy` opening at or after `from` (all with
/// `None`), in time order.
pub async fn stored_proxies(
    conn: &mut PgConnection,
    interval: BarInterval,
    proxy: &str,
    from: Option<DateTime<Utc>>,
) -> Result<Vec<ProxyBar>, sqlx::Error> {
    let rows: Vec<(DateTime<Utc>, f64, Option<f64>, i32)> = sqlx::query_as(
        "SELECT open_time, level, ret, n_tokens FROM market_proxy_bars
         WHERE interval = $1 AND proxy = $2 AND ($3::timestamptz IS NULL OR open_time >= $3)
         ORDER BY open_time",
    )
    .bind(interval.as_str())
    .bind(proxy)
    .bind(from)
    .fetch_all(conn)
    .await?;
    Ok(rows
        .into_iter()
        .map(|(open_time, level, ret, n_tokens)| ProxyBar {
            proxy: proxy.to_string(),
            open_time,
            level,
            ret,
            n_tokens,
        })
        .collect())
}

/// The last stored row of a proxy opening before `before`.
pub async fn proxy_before(
    conn: &mut PgConnection,
    interval: BarInterval,
    proxy: &str,
    before: DateTime<Utc>,
) -> Result<Option<ProxyBar>, sqlx::Error> {
    let row: Option<(DateTime<Utc>, f64, Option<f64>, i32)> = sqlx::query_as(
        "SELECT open_time, level, ret, n_tokens FROM market_proxy_bars
         WHERE interval = $1 AND proxy = $2 AND open_time < $3
         ORDER BY open_time DESC LIMIT 1",
    )
    .bind(interval.as_str())
    .bind(proxy)
    .bind(before)
    .fetch_optional(conn)
    .await?;
    Ok(row.map(|(open_time, level, ret, n_tokens)| ProxyBar {
        proxy: proxy.to_string(),
        open_time,
        level,
        ret,
        n_tokens,
    }))
}

/// Delete the stored proxies of `interval` that `bars` replace: all of them (`None`), or
/// from `from` on, every proxy up to `to` and the listed `chained` ones (whose levels
/// chain, so a change moves every later level) to the end. Then insert `bars`.
pub async fn replace_proxies(
    conn: &mut PgConnection,
    interval: BarInterval,
    span: Option<Span>,
    chained: &[&str],
    bars: &[ProxyBar],
) -> Result<(), sqlx::Error> {
    sqlx::query(
        "DELETE FROM market_proxy_bars
         WHERE interval = $1
           AND ($2::timestamptz IS NULL
                OR (open_time >= $2 AND (open_time <= $3 OR proxy = ANY($4))))",
    )
    .bind(interval.as_str())
    .bind(span.map(|s| s.0))
    .bind(span.map(|s| s.1))
    .bind(chained)
    .execute(&mut *conn)
    .await?;
    for chunk in bars.chunks(50_000) {
        let proxies: Vec<&str> = chunk.iter().map(|b| b.proxy.as_str()).collect();
        let times: Vec<DateTime<Utc>> = chunk.iter().map(|b| b.open_time).collect();
        let levels: Vec<f64> = chunk.iter().map(|b| b.level).collect();
        let rets: Vec<Option<f64>> = chunk.iter().map(|b| b.ret).collect();
        let ns: Vec<i32> = chunk.iter().map(|b| b.n_tokens).collect();
        sqlx::query!(
            r#"INSERT INTO market_proxy_bars (proxy, interval, open_time, level, ret, n_tokens)
               SELECT u.proxy, $1, u.t, u.level, u.ret, u.n
               FROM UNNEST($2::text[], $3::timestamptz[], $4::float8[], $5::float8[], $6::int4[])
                 AS u(proxy, t, level, ret, n)"#,
            interval.as_str(),
            &proxies as &[&str],
            &times,
            &levels,
            &rets as &[Option<f64>],
            &ns
        )
        .execute(&mut *conn)
        .await?;
    }
    Ok(())
}

/// Refresh the planner's statistics after a bulk write: autovacuum gets there only later,
/// and until it does the queries that follow (proxies, the study) plan on stale row counts.
pub async fn analyze(pool: &PgPool, table: AnalyzedTable) -> Result<(), sqlx::Error> {
    let sql = match table {
        AnalyzedTable::PriceBars => "ANALYZE price_bars",
        AnalyzedTable::MarketProxyBars => "ANALYZE market_proxy_bars",
    };
    sqlx::raw_sql(sql).execute(pool).await?;
    Ok(())
}

/// The tables [`analyze`] refreshes (a fixed list: no name is ever spliced into SQL).
#[derive(Debug, Clone, Copy)]
pub enum AnalyzedTable {
    PriceBars,
    MarketProxyBars,
}

/// Per token: bars stored, and how many carry each optional field (volume: base or quote;
/// range: high and low; taker: taker-buy volume), over `[from, to)` (all time by default).
pub struct FieldCoverage {
    pub token_id: i32,
    pub bars: i64,
    pub volume: i64,
    pub range: i64,
    pub taker: i64,
}

pub async fn field_coverage(
    pool: &PgPool,
    interval: BarInterval,
    from: Option<DateTime<Utc>>,
    to: Option<DateTime<Utc>>,
) -> Result<Vec<FieldCoverage>, sqlx::Error> {
    sqlx::query_as!(
        FieldCoverage,
        r#"SELECT token_id, count(*) AS "bars!",
                  count(*) FILTER (WHERE base_volume IS NOT NULL OR volume IS NOT NULL) AS "volume!",
                  count(*) FILTER (WHERE high IS NOT NULL AND low IS NOT NULL) AS "range!",
                  count(taker_buy_base) AS "taker!"
           FROM price_bars
           WHERE interval = $1 AND ($2::timestamptz IS NULL OR open_time >= $2)
             AND ($3::timestamptz IS NULL OR open_time < $3)
           GROUP BY token_id"#,
        interval.as_str(),
        from,
        to
    )
    .fetch_all(pool)
    .await
}

#[cfg(test)]
mod tests {
    use super::*;
    use chrono::TimeZone;

    fn bar(h: u32, close: f64) -> Bar {
        Bar {
            open_time: Utc.with_ymd_and_hms(2024, 1, 1, h, 0, 0).unwrap(),
            open: None,
            high: None,
            low: None,
            close,
            volume: None,
            market_cap: None,
            flow: Flow::default(),
        }
    }

    #[test]
    fn dedupe_sorts_and_keeps_the_last_of_each_time() {
        let got = dedupe(&[bar(2, 2.0), bar(0, 1.0), bar(2, 2.5), bar(1, 1.5)]);
        let closes: Vec<f64> = got.iter().map(|b| b.close).collect();
        assert_eq!(closes, vec![1.0, 1.5, 2.5]);
    }

    #[test]
    fn staging_rows_are_csv_with_empty_nulls() {
        let mut buf = String::new();
        let mut b = bar(1, 2.5);
        b.volume = Some(10.0);
        stage_row(&mut buf, 7, &b, "csv:a\"b.csv");
        assert_eq!(buf, "7,1704070800,,,,2.5,10,,,,,,,\"csv:a\"\"b.csv\"\n");
        b.flow.trades = Some(12);
        b.flow.base_volume = Some(0.5);
        buf.clear();
        stage_row(&mut buf, 7, &b, "x");
        assert_eq!(buf, "7,1704070800,,,,2.5,10,,0.5,12,,,,\"x\"\n");
    }
}
