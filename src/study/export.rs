//! `catalyst study export`: a run's per-token and per-category results as CSV or JSON
//! lines. Columns are documented in docs/study.md.

use std::io::Write;

use sqlx::PgPool;

#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum Format {
    Csv,
    Json,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum Table {
    Tokens,
    Categories,
    /// Volume, volatility and taker-buy share per token or category (docs/study.md).
    Activity,
}

#[derive(Debug, thiserror::Error)]
pub enum ExportError {
    #[error("no completed study run: run `catalyst study` first")]
    NoRun,
    #[error("database error while exporting: {0}")]
    Db(#[from] sqlx::Error),
    #[error("writing the export: {0}")]
    Io(#[from] std::io::Error),
    #[error("writing the export: {0}")]
    Csv(#[from] csv::Error),
}

/// Column names, in order, of each table.
pub const TOKEN_COLUMNS: &[&str] = &[
    "run_id",
    "event_id",
    "event_time",
    "headline",
    "symbol",
    "window_start",
    "window_end",
    "car",
    "car_variance",
    "scar",
    "token_return",
    "market_return",
    "car_market_adjusted",
    "alpha",
    "beta",
    "sigma",
    "df",
];
pub const CATEGORY_COLUMNS: &[&str] = &[
    "run_id",
    "event_id",
    "event_time",
    "headline",
    "category",
    "window_start",
    "window_end",
    "n_tokens",
    "caar",
    "caar_value_weighted",
    "t_stat",
    "p_value",
    "patell_z",
    "patell_p",
    "bmp_t",
    "bmp_p",
    "kp_t",
    "kp_p",
    "mean_cross_correlation",
    "portfolio_car",
    "portfolio_t",
    "portfolio_p",
    "rank_z",
    "rank_p",
    "sign_z",
    "sign_p",
    "n_positive",
];

pub const ACTIVITY_COLUMNS: &[&str] = &[
    "run_id",
    "event_id",
    "event_time",
    "headline",
    "level",
    "series",
    "measure",
    "window_start",
    "window_end",
    "n_tokens",
    "raw_excess",
    "raw_ratio",
    "abnormal",
    "abnormal_ratio",
    "z",
    "p_value",
    "null_hours",
];

/// The latest completed run.
pub async fn latest_run(pool: &PgPool) -> Result<Option<i64>, sqlx::Error> {
    sqlx::query_scalar!(
        "SELECT id FROM study_runs WHERE status = 'complete' ORDER BY finished_at DESC LIMIT 1"
    )
    .fetch_optional(pool)
    .await
}

/// A text cell as a spreadsheet should read it. A cell starting with `=`, `+`, `-` or
/// `@` (or a tab or carriage return) is run as a formula by Excel, LibreOffice and Google
/// Sheets (CSV injection: a headline is written by strangers); a leading apostrophe makes
/// it text. Only text goes through here: numbers keep their sign.
pub fn spreadsheet_safe(s: &str) -> std::borrow::Cow<'_, str> {
    if s.starts_with(['=', '+', '-', '@', '\t', '\r']) {
        std::borrow::Cow::Owned(format!("'{s}"))
    } else {
        std::borrow::Cow::Borrowed(s)
    }
}

fn cell(v: &serde_json::Value) -> String {
    match v {
        serde_json::Value::Null => String::new(),
        serde_json::Value::String(s) => spreadsheet_safe(s).into_owned(),
        other => other.to_string(),
    }
}

/// Write `table` of the latest run to `out`. Returns the number of rows.
pub async fn export(
    pool: &PgPool,
    table: Table,
    format: Format,
    out: &mut dyn Write,
) -> Result<usize, ExportError> {
    let run = latest_run(pool).await?.ok_or(ExportError::NoRun)?;
    // Each row comes back as one JSON object with the documented columns.
    let rows: Vec<serde_json::Value> = match table {
        Table::Tokens => sqlx::query_scalar!(
            r#"SELECT json_build_object(
                 'run_id', r.run_id, 'event_id', r.event_id, 'event_time', e.event_time,
                 'headline', e.headline, 'symbol', t.symbol, 'window_start', r.window_start,
                 'window_end', r.window_end, 'car', r.car, 'car_variance', r.car_variance,
                 'scar', r.scar, 'token_return', r.token_return, 'market_return', r.market_return,
                 'car_market_adjusted', r.car_market_adjusted, 'alpha', s.alpha, 'beta', s.beta,
                 'sigma', s.sigma, 'df', s.df)::jsonb AS "row!"
               FROM study_token_results r
               JOIN events e ON e.id = r.event_id
               JOIN tokens t ON t.id = r.token_id
               JOIN study_token_outcomes s
                 ON s.run_id = r.run_id AND s.event_id = r.event_id AND s.token_id = r.token_id
               WHERE r.run_id = $1
               ORDER BY e.event_time, r.event_id, t.symbol, r.window_start, r.window_end"#,
            run
        )
        .fetch_all(pool)
        .await?,
        Table::Categories => sqlx::query_scalar!(
            r#"SELECT json_build_object(
                 'run_id', r.run_id, 'event_id', r.event_id, 'event_time', e.event_time,
                 'headline', e.headline, 'category', c.slug, 'window_start', r.window_start,
                 'window_end', r.window_end, 'n_tokens', r.n_tokens, 'caar', r.caar,
                 'caar_value_weighted', r.caar_value_weighted, 't_stat', r.t_stat,
                 'p_value', r.p_value, 'patell_z', r.patell_z, 'patell_p', r.patell_p,
                 'bmp_t', r.bmp_t, 'bmp_p', r.bmp_p, 'kp_t', r.kp_t, 'kp_p', r.kp_p,
                 'mean_cross_correlation', r.mean_cross_correlation,
                 'portfolio_car', r.portfolio_car, 'portfolio_t', r.portfolio_t,
                 'portfolio_p', r.portfolio_p, 'rank_z', r.rank_z, 'rank_p', r.rank_p,
                 'sign_z', r.sign_z, 'sign_p', r.sign_p, 'n_positive', r.n_positive)::jsonb AS "row!"
               FROM study_category_results r
               JOIN events e ON e.id = r.event_id
               JOIN categories c ON c.id = r.category_id
               WHERE r.run_id = $1
               ORDER BY e.event_time, r.event_id, c.slug, r.window_start, r.window_end"#,
            run
        )
        .fetch_all(pool)
        .await?,
        Table::Activity => sqlx::query_scalar!(
            r#"SELECT to_jsonb(v) AS "row!" FROM activity_reaction_all_runs v
               WHERE v.run_id = $1
               ORDER BY v.event_time, v.event_id, v.level DESC, v.series, v.measure,
                        v.window_start, v.window_end"#,
            run
        )
        .fetch_all(pool)
        .await?,
    };
    let columns = match table {
        Table::Tokens => TOKEN_COLUMNS,
        Table::Categories => CATEGORY_COLUMNS,
        Table::Activity => ACTIVITY_COLUMNS,
    };
    match format {
        Format::Json => {
            for row in &rows {
                // Key order follows the documented columns.
                let ordered: serde_json::Map<String, serde_json::Value> = columns
                    .iter()
                    .map(|c| (c.to_string(), row.get(*c).cloned().unwrap_or_default()))
                    .collect();
                serde_json::to_writer(&mut *out, &ordered).map_err(std::io::Error::other)?;
                out.write_all(b"\n")?;
            }
        }
        Format::Csv => {
            let mut w = csv::Writer::from_writer(&mut *out);
            w.write_record(columns)?;
            for row in &rows {
                w.write_record(
                    columns
                        .iter()
                        .map(|c| cell(row.get(*c).unwrap_or(&serde_json::Value::Null))),
                )?;
            }
            w.flush()?;
        }
    }
    Ok(rows.len())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn formulas_in_text_cells_are_made_text_and_numbers_are_left_alone() {
        for f in ["=HYPERLINK(\"x\")", "+1+1", "-2+3", "@SUM(A1)", "\tX"] {
            assert_eq!(spreadsheet_safe(f), format!("'{f}"));
        }
        assert_eq!(spreadsheet_safe("Bitcoin falls"), "Bitcoin falls");
        assert_eq!(cell(&serde_json::json!(-0.05)), "-0.05");
        assert_eq!(cell(&serde_json::json!("=1+1")), "'=1+1");
    }
}
