//! The event page's charts, with their queries: prices of what the story is about and of
//! the market around the news, and the categories' CAAR over event time with each one's
//! no-event band.

use std::collections::BTreeMap;

use sqlx::PgPool;

use super::chart::{self, Chart, Line, XAxis};
use crate::prices::BarInterval;
use crate::study::engine::bar_zero;
use crate::study::StudyParams;

/// At most this many tokens on the price chart beside the market and the categories.
const MAX_TOKENS: usize = 5;
/// At most this many category indexes on the price chart.
const MAX_CATEGORIES: usize = 2;

fn unit(interval: BarInterval) -> &'static str {
    if interval == BarInterval::Hour {
        "hours"
    } else {
        "days"
    }
}

/// Prices around the news, each as % change from the start of the event span: the market
/// proxy, the tokens the story is about, and each subject category as the equal-weighted
/// index of its tokens. Empty when no prices are stored around the event.
pub async fn price_chart(
    pool: &PgPool,
    event_id: i64,
    event_time: chrono::DateTime<chrono::Utc>,
    params: &StudyParams,
) -> Result<String, sqlx::Error> {
    let interval = params.interval;
    let span = params.event_span();
    let step = chrono::Duration::seconds(interval.seconds());
    let bar0 = bar_zero(event_time, interval);
    let t_bar0 = chrono::DateTime::from_timestamp(bar0 * interval.seconds(), 0).unwrap_or_default();
    let from = t_bar0 + step * (span.start - 1);
    let to = t_bar0 + step * (span.end - 1);
    let proxy = if params.proxy.as_str() == "ETH" {
        "ETH"
    } else {
        "BTC"
    };
    // Series: the proxy, subject tokens, members of subject categories (for the indexes).
    let rows = sqlx::query!(
        r#"WITH subject_tokens AS (
             SELECT DISTINCT g.token_id FROM event_token_tags g
             WHERE g.event_id = $4 AND NOT g.ambiguous AND COALESCE(g.salience, 'subject') = 'subject'),
           subject_categories AS (
             SELECT DISTINCT c.id, c.name FROM event_category_tags g JOIN categories c ON c.id = g.category_id
             WHERE g.event_id = $4 AND COALESCE(g.salience, 'subject') = 'subject'
               AND NOT c.excluded_from_aggregates)
           SELECT t.symbol, b.open_time, b.close,
                  (t.symbol = $5) AS "is_proxy!",
                  (t.id IN (SELECT token_id FROM subject_tokens)) AS "is_subject!",
                  (SELECT array_agg(sc.name ORDER BY sc.name) FROM subject_categories sc
                   JOIN token_categories tc ON tc.category_id = sc.id WHERE tc.token_id = t.id) AS "categories?"
           FROM tokens t
           -- Per token through the primary key: joined flat, the planner scanned every
           -- token's bars in the time range (a parallel scan of all 936 k hourly bars,
           -- 65 ms at any number of events). OFFSET 0 keeps the subquery per token.
           CROSS JOIN LATERAL (
             SELECT b.open_time, b.close FROM price_bars b
             WHERE b.token_id = t.id AND b.interval = $1 AND b.open_time BETWEEN $2 AND $3
             OFFSET 0) b
           WHERE (t.symbol = $5 OR t.id IN (SELECT token_id FROM subject_tokens)
                  OR t.id IN (SELECT tc.token_id FROM token_categories tc
                              WHERE tc.category_id IN (SELECT id FROM subject_categories)))
           ORDER BY t.symbol, b.open_time"#,
        interval.as_str(),
        from,
        to,
        event_id,
        proxy
    )
    .fetch_all(pool)
    .await?;
    let x_of = |t: chrono::DateTime<chrono::Utc>| {
        (t - t_bar0).num_seconds() as f64 / interval.seconds() as f64 + 1.0
    };
    // Each token's path as % change from its first close in the window.
    let mut by_symbol: BTreeMap<String, Vec<(f64, f64)>> = BTreeMap::new();
    let mut proxy_seen = false;
    let mut subjects: Vec<String> = Vec::new();
    let mut members: BTreeMap<String, Vec<String>> = BTreeMap::new();
    for r in &rows {
        by_symbol
            .entry(r.symbol.clone())
            .or_default()
            .push((x_of(r.open_time), r.close));
        proxy_seen |= r.is_proxy;
        if r.is_subject && !r.is_proxy && !subjects.contains(&r.symbol) {
            subjects.push(r.symbol.clone());
        }
        for c in r.categories.iter().flatten() {
            let m = members.entry(c.clone()).or_default();
            if !m.contains(&r.symbol) {
                m.push(r.symbol.clone());
            }
        }
    }
    let change = |pts: &[(f64, f64)]| -> Vec<(f64, f64)> {
        let Some(base) = pts.first().map(|p| p.1) else {
            return Vec::new();
        };
        pts.iter()
            .map(|(x, c)| (*x, (c / base - 1.0) * 100.0))
            .collect()
    };
    let mut series: Vec<(String, Vec<(f64, f64)>)> = Vec::new();
    if proxy_seen {
        if let Some(p) = by_symbol.get(proxy) {
            series.push((format!("market ({proxy})"), change(p)));
        }
    }
    for (name, tokens) in members.iter().take(MAX_CATEGORIES) {
        // The index: the mean % change of the members with a price at each bar.
        let mut sum: BTreeMap<i64, (f64, usize)> = BTreeMap::new();
        for t in tokens {
            for (x, v) in change(by_symbol.get(t).map(Vec::as_slice).unwrap_or(&[])) {
                let e = sum.entry(x.round() as i64).or_insert((0.0, 0));
                e.0 += v;
                e.1 += 1;
            }
        }
        let pts: Vec<(f64, f64)> = sum
            .into_iter()
            .map(|(x, (s, n))| (x as f64, s / n as f64))
            .collect();
        if pts.len() > 1 {
            series.push((format!("{name} index"), pts));
        }
    }
    for s in subjects.iter().take(MAX_TOKENS) {
        if let Some(p) = by_symbol.get(s) {
            series.push((s.clone(), change(p)));
        }
    }
    if series.is_empty() {
        return Ok(String::new());
    }
    let colours = chart::distinct_colours(series.iter().map(|s| s.0.as_str()));
    let lines = series
        .into_iter()
        .zip(colours)
        .map(|((label, points), c)| Line {
            label,
            colour: Some(c),
            points,
            band: Vec::new(),
        })
        .collect();
    Ok(Chart {
        title: "Prices around the news, change since the start of the window".into(),
        x_label: format!("{} from the news (bar 0)", unit(interval)),
        y_label: "change (%)".into(),
        lines,
        markers: Vec::new(),
        event_x: Some(0.0),
        shade_before: None,
        x_axis: XAxis::EventTime,
    }
    .render())
}

/// The CAAR over event time of the categories the story is about (and the score's
/// category), each with its own 95% no-event band (1.96·σ·√bars of its portfolio).
pub async fn caar_chart(
    pool: &PgPool,
    run_id: Option<i64>,
    event_id: i64,
    params: &StudyParams,
    shown: &[String],
) -> Result<String, sqlx::Error> {
    // The ranking window's position among the run's windows (0 matches nothing).
    let ranking_ord = params
        .windows
        .iter()
        .position(|w| *w == params.ranking_window)
        .map_or(0, |i| i as i32 + 1);
    let span = params.event_span();
    // Figures 1 and 17 of a window's row of window_values: n_tokens and portfolio_sigma
    // (the column order of the view study_category_results, migration 0020).
    let rows = sqlx::query!(
        r#"SELECT c.name, r.caar_path::float8[] AS caar_path, r.window_values[$3][17] AS portfolio_sigma
           FROM study_category_outcomes r JOIN categories c ON c.id = r.category_id
           WHERE r.run_id = $1 AND r.event_id = $2
             AND r.caar_path IS NOT NULL AND r.window_values[$3][1] >= $4
           ORDER BY c.name"#,
        run_id,
        event_id,
        ranking_ord,
        params.min_category_tokens as f64
    )
    .fetch_all(pool)
    .await?;
    let rows: Vec<_> = rows
        .into_iter()
        .filter(|r| shown.contains(&r.name))
        .take(6)
        .collect();
    if rows.is_empty() {
        return Ok(String::new());
    }
    let x = |j: usize| f64::from(span.start) + j as f64 + 1.0;
    let colours = chart::distinct_colours(rows.iter().map(|r| r.name.as_str()));
    let lines = rows
        .iter()
        .zip(colours)
        .map(|(r, c)| Line {
            label: r.name.clone(),
            colour: Some(c),
            points: std::iter::once((f64::from(span.start), 0.0))
                .chain(
                    r.caar_path
                        .iter()
                        .flatten()
                        .enumerate()
                        .map(|(j, v)| (x(j), v * 100.0)),
                )
                .collect(),
            band: r
                .portfolio_sigma
                .map(|sigma| {
                    (0..=span.len() as usize)
                        .map(|j| {
                            (
                                f64::from(span.start) + j as f64,
                                196.0 * sigma * (j as f64).sqrt(),
                            )
                        })
                        .collect()
                })
                .unwrap_or_default(),
        })
        .collect();
    Ok(Chart {
        title: "Cumulative average abnormal return by category".into(),
        x_label: format!("{} from the news (bar 0)", unit(params.interval)),
        y_label: "CAAR (%)".into(),
        lines,
        markers: Vec::new(),
        event_x: Some(0.0),
        shade_before: None,
        x_axis: XAxis::EventTime,
    }
    .render())
}
