//! A category's or a token's page, `/categories/{slug}` and `/tokens/{symbol}`: its price
//! (a category's: the equal-weighted index of its tokens) with the events marked, sized by
//! impact and coloured by direction; the stories about it first, then the market-wide
//! ones; a category's tokens with their own moves. Aliases resolve (`/tokens/RNDR` goes to
//! RENDER's page).

use std::collections::BTreeMap;

use askama::Template;
use axum::extract::{Path, State};
use axum::response::{Html, IntoResponse, Redirect, Response};
use chrono::NaiveDate;

use super::api_types::HistoryRow;
use super::chart::{self, Chart, Line, Marker, XAxis};
use super::error::WebError;
use super::format::{num, pct, pct_cell, time_html, Cell};
use super::glossary::abbr;
use super::history_query as q;
use super::run::current_run;
use super::AppState;
use crate::prices::BarInterval;
use crate::study::engine::{Window, RANKING_WINDOW};

pub struct RowView {
    pub id: i64,
    pub time: String,
    pub headline: String,
    pub moved: Cell,
    pub score: String,
}

pub struct MemberView {
    pub symbol: String,
    pub name: String,
    pub period: Cell,
    pub last_30d: Cell,
}

#[derive(Template)]
#[template(path = "history.html")]
pub struct HistoryPage {
    pub title: String,
    pub subject: String,
    /// "Category · 17 tokens" or the token's categories (escaped HTML with links).
    pub about: String,
    pub window: String,
    /// The moved column's label (CAAR or CAR, with its explanation).
    pub moved_label: String,
    pub score_label: String,
    pub subject_rows: Vec<RowView>,
    pub market_rows: Vec<RowView>,
    pub members: Vec<MemberView>,
    pub chart: String,
    pub chart_caption: String,
    pub api_href: String,
    /// A category's betas to equities (templates/context_betas.html); none on token pages.
    pub betas: super::event_context::BetasSection,
}

/// The run the pages show, its summary window and bar interval.
pub async fn ranking(
    pool: &sqlx::PgPool,
) -> Result<(Option<i64>, Window, BarInterval), sqlx::Error> {
    Ok(match current_run(pool).await? {
        Some((id, p)) => (Some(id), p.ranking_window, p.interval),
        None => (None, RANKING_WINDOW, BarInterval::Hour),
    })
}

/// The equal-weighted index of several tokens' daily closes, as % change since its first
/// day: each day the mean of the members' daily returns (members with a close that day
/// and the day before), chained.
pub fn equal_weight_index(closes: &[(i32, NaiveDate, f64)]) -> Vec<(NaiveDate, f64)> {
    let mut by_day: BTreeMap<NaiveDate, Vec<(i32, f64)>> = BTreeMap::new();
    for (id, day, close) in closes {
        by_day.entry(*day).or_default().push((*id, *close));
    }
    let mut last: BTreeMap<i32, f64> = BTreeMap::new();
    let mut level = 1.0;
    let mut out = Vec::new();
    for (day, members) in by_day {
        let rets: Vec<f64> = members
            .iter()
            .filter_map(|(id, c)| last.get(id).map(|prev| c / prev - 1.0))
            .filter(|r| r.is_finite())
            .collect();
        if !rets.is_empty() {
            level *= 1.0 + rets.iter().sum::<f64>() / rets.len() as f64;
        }
        for (id, c) in members {
            last.insert(id, c);
        }
        out.push((day, (level - 1.0) * 100.0));
    }
    out
}

fn day_x(d: NaiveDate) -> f64 {
    use chrono::Datelike;
    f64::from(d.num_days_from_ce() - 719_163)
}

/// The price line with a marker per event: sized by impact score, coloured by the
/// direction of the move shown in the tables.
fn price_chart(
    title: &str,
    label: &str,
    series: &[(NaiveDate, f64)],
    rows: &[&HistoryRow],
) -> String {
    if series.len() < 2 {
        return String::new();
    }
    let points: Vec<(f64, f64)> = series.iter().map(|(d, v)| (day_x(*d), *v)).collect();
    let level_at = |x: f64| {
        points
            .iter()
            .rev()
            .find(|p| p.0 <= x)
            .or(points.first())
            .map(|p| p.1)
            .unwrap_or(0.0)
    };
    let markers = rows
        .iter()
        .filter_map(|r| {
            let x = q::epoch_days(r.event_time);
            if x < points[0].0 || x > points[points.len() - 1].0 {
                return None;
            }
            let moved = r.caar.or(r.car);
            Some(Marker {
                x,
                y: level_at(x),
                radius: 3.0 + 1.5 * r.impact_score.unwrap_or(0.0).min(4.0),
                direction: match moved {
                    Some(m) if m > 0.0 => "up",
                    Some(m) if m < 0.0 => "down",
                    _ => "flat",
                },
                title: format!(
                    "{} · {} · {} · score {}",
                    r.headline,
                    r.event_time.format("%Y-%m-%d"),
                    pct(moved),
                    num(r.impact_score)
                ),
                href: format!("/events/{}", r.event_id),
            })
        })
        .collect();
    Chart {
        title: title.to_string(),
        x_label: "date (UTC)".into(),
        y_label: "change since the start (%)".into(),
        lines: vec![Line {
            label: label.to_string(),
            colour: Some(chart::PALETTE[0]),
            points,
            band: Vec::new(),
        }],
        markers,
        event_x: None,
        shade_before: None,
        x_axis: XAxis::Days,
    }
    .render()
}

fn row_view(r: &HistoryRow) -> RowView {
    RowView {
        id: r.event_id,
        time: time_html(r.event_time, &r.time_precision),
        headline: r.headline.clone(),
        moved: pct_cell(r.caar.or(r.car)),
        score: num(r.impact_score),
    }
}

/// A token's return between two days of a daily series (% change values).
fn change_between(series: &[(NaiveDate, f64)], from: NaiveDate) -> Option<f64> {
    let last = series.last()?.1;
    let first = series.iter().find(|(d, _)| *d >= from)?.1;
    Some((1.0 + last / 100.0) / (1.0 + first / 100.0) - 1.0)
}

/// A token's daily closes as % change since its first day.
fn as_change(closes: &[(NaiveDate, f64)]) -> Vec<(NaiveDate, f64)> {
    let Some(base) = closes.first().map(|c| c.1) else {
        return Vec::new();
    };
    closes
        .iter()
        .map(|(d, c)| (*d, (c / base - 1.0) * 100.0))
        .collect()
}

pub async fn category(
    State(state): State<AppState>,
    Path(slug): Path<String>,
) -> Result<Response, WebError> {
    let pool = &state.pool;
    // No category has a NUL character (PostgreSQL refuses one in text).
    let cat = if slug.contains('\0') {
        None
    } else {
        q::category(pool, &slug).await?
    };
    let cat = cat.ok_or_else(|| WebError::NotFound(format!("There is no category {slug:?}.")))?;
    let (run_id, rw, interval) = ranking(pool).await?;
    let (subject, market) = q::category_events(pool, run_id, cat.id, rw).await?;
    let members = q::members(pool, cat.id).await?;
    let ids: Vec<i32> = members.iter().map(|m| m.0).collect();
    let closes = q::daily_closes(pool, &ids, interval).await?;
    let index = equal_weight_index(&closes);
    let marked: Vec<&HistoryRow> = subject.iter().chain(&market).collect();
    let chart = price_chart(
        &format!("{} index with its events", cat.name),
        &format!("{} index", cat.name),
        &index,
        &marked,
    );
    let last_day = index.last().map(|d| d.0);
    let mut member_views: Vec<MemberView> = members
        .iter()
        .map(|(id, symbol, name)| {
            let own: Vec<(NaiveDate, f64)> = closes
                .iter()
                .filter(|c| c.0 == *id)
                .map(|c| (c.1, c.2))
                .collect();
            let series = as_change(&own);
            let first = index.first().map(|d| d.0);
            MemberView {
                symbol: symbol.clone(),
                name: name.clone(),
                period: pct_cell(first.and_then(|f| change_between(&series, f))),
                last_30d: pct_cell(
                    last_day.and_then(|l| change_between(&series, l - chrono::Days::new(30))),
                ),
            }
        })
        .collect();
    member_views.sort_by(|a, b| a.symbol.cmp(&b.symbol));
    let page = HistoryPage {
        title: format!("{} category", cat.name),
        subject: cat.name.clone(),
        about: format!("Category · {} tokens", members.len()),
        window: rw.label(interval),
        moved_label: abbr("caar"),
        score_label: abbr("score"),
        subject_rows: subject.iter().map(row_view).collect(),
        market_rows: market.iter().map(row_view).collect(),
        members: member_views,
        chart,
        chart_caption: format!(
            "The equal-weighted index of the {} tokens' daily closes; a dot per event of the tables below, sized by its impact score, green where the category rose (CAAR over {}), red where it fell.",
            members.len(),
            rw.label(interval)
        ),
        api_href: format!("/api/v1/categories/{}/events", cat.slug),
        betas: super::event_context::category_betas(&state.pool, &cat.slug).await?,
    };
    Ok(Html(page.render()?).into_response())
}

pub async fn token(
    State(state): State<AppState>,
    Path(name): Path<String>,
) -> Result<Response, WebError> {
    let pool = &state.pool;
    let tok = if name.contains('\0') {
        None
    } else {
        q::token(pool, &name).await?
    };
    let tok = tok.ok_or_else(|| WebError::NotFound(format!("There is no token {name:?}.")))?;
    // One address per token: an alias or another case goes to the symbol's page.
    if tok.symbol != name {
        return Ok(Redirect::permanent(&format!("/tokens/{}", tok.symbol)).into_response());
    }
    let (run_id, rw, interval) = ranking(pool).await?;
    let (subject, market) = q::token_events(pool, run_id, tok.id, rw).await?;
    let closes = q::daily_closes(pool, &[tok.id], interval).await?;
    let series = as_change(&closes.iter().map(|c| (c.1, c.2)).collect::<Vec<_>>());
    let marked: Vec<&HistoryRow> = subject.iter().chain(&market).collect();
    let chart = price_chart(
        &format!("{} price with its events", tok.symbol),
        &tok.symbol,
        &series,
        &marked,
    );
    let about = if tok.categories.is_empty() {
        format!("{} · no category", super::format::html_escape(&tok.name))
    } else {
        format!(
            "{} · {}",
            super::format::html_escape(&tok.name),
            tok.categories
                .iter()
                .map(|(slug, name)| format!(
                    r#"<a href="/categories/{}">{}</a>"#,
                    super::format::html_escape(slug),
                    super::format::html_escape(name)
                ))
                .collect::<Vec<_>>()
                .join(", ")
        )
    };
    let page = HistoryPage {
        title: format!("{} ({})", tok.symbol, tok.name),
        subject: format!("{} ({})", tok.symbol, tok.name),
        about,
        window: rw.label(interval),
        moved_label: abbr("car"),
        score_label: abbr("score"),
        subject_rows: subject.iter().map(row_view).collect(),
        market_rows: market.iter().map(row_view).collect(),
        members: Vec::new(),
        chart,
        chart_caption: format!(
            "{}'s daily close as % change since the first stored day; a dot per event of the tables below, sized by its impact score, green where {} rose beyond the market model (CAR over {}), red where it fell.",
            tok.symbol,
            tok.symbol,
            rw.label(interval)
        ),
        api_href: format!("/api/v1/tokens/{}/events", tok.symbol),
        betas: super::event_context::no_betas(),
    };
    Ok(Html(page.render()?).into_response())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn d(s: &str) -> NaiveDate {
        s.parse().unwrap()
    }

    #[test]
    fn the_index_chains_the_mean_daily_return_of_the_members_present() {
        // Token 1: 100 -> 110 -> 121 (+10%, +10%); token 2 from day 2: 50 -> 45 (-10%).
        let closes = vec![
            (1, d("2024-01-01"), 100.0),
            (1, d("2024-01-02"), 110.0),
            (2, d("2024-01-02"), 50.0),
            (1, d("2024-01-03"), 121.0),
            (2, d("2024-01-03"), 45.0),
        ];
        let idx = equal_weight_index(&closes);
        assert_eq!(idx.len(), 3);
        assert_eq!(idx[0], (d("2024-01-01"), 0.0));
        assert!((idx[1].1 - 10.0).abs() < 1e-9, "{idx:?}");
        // Day 3: mean of +10% and -10% is 0: the index stays at +10%.
        assert!((idx[2].1 - 10.0).abs() < 1e-9, "{idx:?}");
    }

    #[test]
    fn change_between_days_of_a_percent_series() {
        let s = vec![
            (d("2024-01-01"), 0.0),
            (d("2024-01-02"), 10.0),
            (d("2024-01-03"), 21.0),
        ];
        let c = change_between(&s, d("2024-01-02")).unwrap();
        assert!((c - 0.1).abs() < 1e-12, "{c}");
        assert_eq!(change_between(&s, d("2024-02-01")), None);
    }
}
