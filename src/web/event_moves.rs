//! The event page's moves (templates/events/moves.html): the moves found in the prices
//! that the story is matched with (migration 0017), with its news lag and the share of
//! each move done before its first report; how late each of its articles came; and the
//! reaction curve around the report at the finest bars stored, with the time the price
//! took to cover half of its move.

use std::collections::BTreeMap;

use chrono::{DateTime, Duration, Utc};
use sqlx::PgPool;

use super::chart::{self, Chart, Line, XAxis};
use super::format::{duration_words, lag_words, pct, share, time_html, utc_with_precision};
use super::glossary::abbr;

/// The reaction curve's span around the report.
const BEFORE: Duration = Duration::hours(6);
const AFTER: Duration = Duration::hours(12);
/// The market on the reaction curve (the study's default proxy).
const MARKET: &str = "BTC";

pub struct MatchedMoveView {
    pub id: i64,
    pub series: String,
    pub series_href: String,
    pub direction: &'static str,
    /// "-14.79%" and "abnormal": one label per number.
    pub size: String,
    pub basis: String,
    /// `<time>` elements (escaped).
    pub onset: String,
    pub extreme: String,
    /// This story's news lag and share before its report.
    pub lag: String,
    pub share_before: String,
    /// The move is attributed to this story.
    pub is_best: bool,
    /// The story it is attributed to instead, when another.
    pub attributed_to: Option<(i64, String)>,
}

pub struct ArticleLagView {
    pub series: String,
    pub title: String,
    pub source: String,
    pub published: String,
    pub lag: String,
    /// The earliest article about the move among every story matched with it.
    pub first: bool,
}

pub struct ReactionView {
    /// Server-rendered SVG (labels escaped by `chart`).
    pub chart: String,
    /// 1m, 5m or 1h.
    pub interval: String,
    /// Time to half the move, in a sentence; empty when the path does not move.
    pub sentence: String,
    /// What the curve shows (the moved series, or the story's subjects).
    pub subject: String,
}

pub struct MoveLabels {
    pub lag: String,
    pub share_before: String,
    pub onset: String,
    pub time_to_half: String,
}

pub struct MovesSection {
    pub moves: Vec<MatchedMoveView>,
    pub lags: Vec<ArticleLagView>,
    pub reaction: Option<ReactionView>,
    pub labels: MoveLabels,
}

fn series_href(kind: &str, series: &str) -> String {
    let enc: String = url::form_urlencoded::byte_serialize(series.as_bytes()).collect();
    match kind {
        "category" => format!("/categories/{enc}"),
        "token" => format!("/tokens/{enc}"),
        _ => "/moves?series=market".to_string(),
    }
}

/// Everything the section shows for event `id`, first reported at `event_time`.
pub async fn section(
    pool: &PgPool,
    id: i64,
    event_time: DateTime<Utc>,
) -> Result<MovesSection, sqlx::Error> {
    let matched = sqlx::query!(
        r#"SELECT m.move_id AS "id!", m.series_kind AS "series_kind!", m.series AS "series!",
                  m.basis AS "basis!", m.direction AS "direction!",
                  m.size_pct_simple AS "size_pct!", m.onset AS "onset!",
                  m.extreme_at AS "extreme_at!", mm.lag_s, mm.share_before, mm.is_best,
                  m.best_event_id AS "best_event_id?", m.best_headline AS "best_headline?",
                  m.token_id AS "token_id?", m.category_id AS "category_id?"
           FROM move_matches mm JOIN market_moves m ON m.move_id = mm.move_id
           WHERE mm.event_id = $1
           ORDER BY mm.is_best DESC, abs(m.size_log) DESC, m.move_id"#,
        id
    )
    .fetch_all(pool);
    let lags = sqlx::query!(
        r#"SELECT l.move_id AS "move_id!", l.source AS "source!", l.published_at AS "published_at!",
                  l.time_precision AS "time_precision!", l.lag_s AS "lag_s!",
                  l.first_for_move AS "first!", a.title
           FROM article_move_lags l JOIN articles a ON a.id = l.article_id
           WHERE l.event_id = $1
           ORDER BY l.move_id, l.published_at, l.article_id"#,
        id
    )
    .fetch_all(pool);
    // The section's reads depend only on the event: they run at once (a cold page waits
    // for the slowest, not for a chain of round trips). The story's own subjects are
    // read even when a matched move will name the curve's series instead.
    let market_id =
        sqlx::query_scalar!("SELECT id FROM tokens WHERE symbol = $1", MARKET).fetch_optional(pool);
    let (matched, lag_rows, subjects, market_id) =
        tokio::try_join!(matched, lags, subject_tokens(pool, id), market_id)?;
    let moves: Vec<MatchedMoveView> = matched
        .iter()
        .map(|m| MatchedMoveView {
            id: m.id,
            series: m.series.clone(),
            series_href: series_href(&m.series_kind, &m.series),
            direction: if m.direction < 0 { "down" } else { "up" },
            size: pct(Some(m.size_pct)),
            basis: m.basis.clone(),
            onset: time_html(m.onset, "exact"),
            extreme: time_html(m.extreme_at, "exact"),
            lag: lag_words(m.lag_s),
            share_before: share(m.share_before),
            is_best: m.is_best,
            attributed_to: m
                .best_event_id
                .filter(|b| *b != id)
                .zip(m.best_headline.clone()),
        })
        .collect();
    let series_of: BTreeMap<i64, String> =
        matched.iter().map(|m| (m.id, m.series.clone())).collect();
    let lags = lag_rows
        .into_iter()
        .map(|l| ArticleLagView {
            series: series_of.get(&l.move_id).cloned().unwrap_or_default(),
            title: l.title,
            source: l.source,
            published: utc_with_precision(l.published_at, &l.time_precision),
            // A report known only to the day has no lag worth stating.
            lag: if l.time_precision == "day" {
                "– (time of day unknown)".to_string()
            } else {
                lag_words(l.lag_s)
            },
            first: l.first,
        })
        .collect();

    // The curve: the best-matched move's series, else the story's subjects.
    let (subject_ids, subject) = match matched.first() {
        Some(m) => match m.series_kind.as_str() {
            "token" => (m.token_id.into_iter().collect(), m.series.clone()),
            "category" => (
                category_members(pool, m.category_id).await?,
                format!("{} (equal-weighted)", m.series),
            ),
            _ => (Vec::new(), format!("market ({MARKET})")),
        },
        None => subjects,
    };
    let reaction = match market_id {
        Some(market_id) => reaction(pool, event_time, market_id, &subject_ids, &subject).await?,
        None => None,
    };
    Ok(MovesSection {
        moves,
        lags,
        reaction,
        labels: MoveLabels {
            lag: abbr("news-lag"),
            share_before: abbr("share-before"),
            onset: abbr("move-onset"),
            time_to_half: abbr("time-to-half"),
        },
    })
}

async fn category_members(pool: &PgPool, category: Option<i32>) -> Result<Vec<i32>, sqlx::Error> {
    sqlx::query_scalar!(
        "SELECT token_id FROM token_categories WHERE category_id = $1 ORDER BY token_id",
        category
    )
    .fetch_all(pool)
    .await
}

/// The story's subject tokens (named, not ambiguous), else the members of its subject
/// categories; with a label for the curve.
async fn subject_tokens(pool: &PgPool, id: i64) -> Result<(Vec<i32>, String), sqlx::Error> {
    let named = sqlx::query!(
        r#"SELECT DISTINCT t.id, t.symbol FROM event_token_tags g JOIN tokens t ON t.id = g.token_id
           WHERE g.event_id = $1 AND NOT g.ambiguous AND COALESCE(g.salience, 'subject') = 'subject'
           ORDER BY t.symbol"#,
        id
    )
    .fetch_all(pool);
    let members = sqlx::query!(
        r#"SELECT DISTINCT tc.token_id AS "id!", c.slug AS "slug!"
           FROM event_category_tags g JOIN categories c ON c.id = g.category_id
           JOIN token_categories tc ON tc.category_id = c.id
           WHERE g.event_id = $1 AND COALESCE(g.salience, 'subject') = 'subject'
           ORDER BY 2, 1"#,
        id
    )
    .fetch_all(pool);
    // Both at once: one round trip (the members are unused when tokens are named).
    let (named, members) = tokio::try_join!(named, members)?;
    if !named.is_empty() {
        let label = match named.as_slice() {
            [one] => one.symbol.clone(),
            many => format!(
                "{} (equal-weighted)",
                many.iter()
                    .map(|t| t.symbol.as_str())
                    .collect::<Vec<_>>()
                    .join(", ")
            ),
        };
        return Ok((named.into_iter().map(|t| t.id).collect(), label));
    }
    let mut slugs: Vec<&str> = members.iter().map(|m| m.slug.as_str()).collect();
    slugs.dedup();
    let label = format!("{} (equal-weighted)", slugs.join(", "));
    Ok((members.iter().map(|m| m.id).collect(), label))
}

/// The finest interval with bars for `tokens` over the span: 1m, else 5m, else 1h.
fn finest(available: &[String]) -> Option<&'static str> {
    ["1m", "5m", "1h"]
        .into_iter()
        .find(|i| available.iter().any(|a| a == i))
}

fn interval_seconds(interval: &str) -> i64 {
    match interval {
        "1m" => 60,
        "5m" => 300,
        _ => 3_600,
    }
}

async fn reaction(
    pool: &PgPool,
    event_time: DateTime<Utc>,
    market_id: i32,
    subject_ids: &[i32],
    subject: &str,
) -> Result<Option<ReactionView>, sqlx::Error> {
    // The moved series decides the interval; with no subject tokens it is the market.
    let probe: Vec<i32> = if subject_ids.is_empty() {
        vec![market_id]
    } else {
        subject_ids.to_vec()
    };
    let (from, to) = (event_time - BEFORE, event_time + AFTER);
    // The market beside it, on its own finest bars (it may have no bars as fine): both
    // series' intervals, then both series' closes, read at once.
    let with_market = !subject_ids.is_empty();
    let market_probe = async {
        match with_market {
            true => finest_for(pool, &[market_id], from, to).await,
            false => Ok(None),
        }
    };
    let (interval, market_interval) =
        tokio::try_join!(finest_for(pool, &probe, from, to), market_probe)?;
    let Some(interval) = interval else {
        return Ok(None);
    };
    let market_closes = async {
        match market_interval {
            Some(i) => closes(pool, &[market_id], i, event_time).await.map(Some),
            None => Ok(None),
        }
    };
    let (subject_closes, market_closes) =
        tokio::try_join!(closes(pool, &probe, interval, event_time), market_closes)?;
    let subject_path = cumulative_mean(&subject_closes, &probe);
    if subject_path.len() < 2 {
        return Ok(None);
    }
    let market = market_closes
        .map(|c| cumulative_mean(&c, &[market_id]))
        .unwrap_or_default();
    let hours = |p: &[(i64, f64)]| -> Vec<(f64, f64)> {
        p.iter()
            .map(|(s, v)| (*s as f64 / 3_600.0, v * 100.0))
            .collect()
    };
    let mut lines = vec![Line {
        label: subject.to_string(),
        colour: Some(chart::PALETTE[0]),
        points: hours(&subject_path),
        band: Vec::new(),
    }];
    if market.len() > 1 {
        lines.push(Line {
            label: format!("market ({MARKET})"),
            colour: Some(chart::PALETTE[1]),
            points: hours(&market),
            band: Vec::new(),
        });
    }
    let svg = Chart {
        title: format!("Reaction curve, {interval} bars: cumulative log move around the report"),
        x_label: "hours from the first report".into(),
        y_label: "cumulative log move (%)".into(),
        lines,
        markers: Vec::new(),
        event_x: Some(0.0),
        shade_before: Some(0.0),
        x_axis: XAxis::EventTime,
    }
    .render();
    let sentence = match half_move(&subject_path) {
        Some(h) => format!(
            "{subject}: half of the move after the report ({} in log terms, to its extreme {} after the report) was done {} after the report.",
            pct(Some(h.size)),
            duration_words(h.extreme_s),
            duration_words(h.half_s)
        ),
        None => String::new(),
    };
    Ok(Some(ReactionView {
        chart: format!(r#"<div class="reaction" data-interval="{interval}">{svg}</div>"#),
        interval: interval.to_string(),
        sentence,
        subject: subject.to_string(),
    }))
}

/// The finest interval (1m, else 5m, else 1h) with bars for `tokens` in [from, to].
async fn finest_for(
    pool: &PgPool,
    tokens: &[i32],
    from: DateTime<Utc>,
    to: DateTime<Utc>,
) -> Result<Option<&'static str>, sqlx::Error> {
    let available = sqlx::query_scalar!(
        r#"SELECT DISTINCT interval AS "interval!" FROM price_bars
           WHERE token_id = ANY($1) AND interval IN ('1m', '5m', '1h')
             AND open_time BETWEEN $2 AND $3"#,
        tokens,
        from,
        to
    )
    .fetch_all(pool)
    .await?;
    Ok(finest(&available))
}

/// Each token's closes at `interval` over the curve's span, as (seconds from the report,
/// close). A bar's close stands at its end: the bars closing within the span.
async fn closes(
    pool: &PgPool,
    tokens: &[i32],
    interval: &str,
    event_time: DateTime<Utc>,
) -> Result<BTreeMap<i32, Vec<(i64, f64)>>, sqlx::Error> {
    let step = interval_seconds(interval);
    let rows = sqlx::query!(
        r#"SELECT token_id, open_time, close FROM price_bars
           WHERE interval = $1 AND token_id = ANY($2) AND open_time BETWEEN $3 AND $4
           ORDER BY token_id, open_time"#,
        interval,
        tokens,
        event_time - BEFORE - Duration::seconds(step),
        event_time + AFTER - Duration::seconds(step)
    )
    .fetch_all(pool)
    .await?;
    let mut by_token: BTreeMap<i32, Vec<(i64, f64)>> = BTreeMap::new();
    for r in rows {
        let secs = (r.open_time - event_time).num_seconds() + step;
        by_token
            .entry(r.token_id)
            .or_default()
            .push((secs, r.close));
    }
    Ok(by_token)
}

/// The equal-weighted cumulative log path of `tokens`: at each time, the mean over the
/// tokens with a close there of log(close / the token's first close in the span).
pub fn cumulative_mean(
    by_token: &BTreeMap<i32, Vec<(i64, f64)>>,
    tokens: &[i32],
) -> Vec<(i64, f64)> {
    let mut sum: BTreeMap<i64, (f64, usize)> = BTreeMap::new();
    for t in tokens {
        let Some(bars) = by_token.get(t) else {
            continue;
        };
        let Some(&(_, base)) = bars.iter().find(|(_, c)| *c > 0.0) else {
            continue;
        };
        for &(s, c) in bars.iter().filter(|(_, c)| *c > 0.0) {
            let e = sum.entry(s).or_insert((0.0, 0));
            e.0 += (c / base).ln();
            e.1 += 1;
        }
    }
    sum.into_iter()
        .map(|(s, (v, n))| (s, v / n as f64))
        .collect()
}

/// The move after the report and how fast it came.
#[derive(Debug, PartialEq)]
pub struct HalfMove {
    /// From the path at the report to its extreme after it (log).
    pub size: f64,
    /// Seconds from the report to that extreme.
    pub extreme_s: i64,
    /// Seconds from the report to the first point covering half of it.
    pub half_s: i64,
}

/// Time to half the move: the path at the report (its last point at or before time 0,
/// else its first after), the extreme after the report (the point farthest from it),
/// and the first point after the report at least half way there. `None` when nothing
/// follows the report or the path does not move.
pub fn half_move(path: &[(i64, f64)]) -> Option<HalfMove> {
    let start = path
        .iter()
        .rev()
        .find(|(s, _)| *s <= 0)
        .or_else(|| path.first())?;
    let after: Vec<&(i64, f64)> = path.iter().filter(|(s, _)| *s > start.0).collect();
    let extreme = after
        .iter()
        .max_by(|a, b| (a.1 - start.1).abs().total_cmp(&(b.1 - start.1).abs()))?;
    let size = extreme.1 - start.1;
    if size.abs() < 1e-12 {
        return None;
    }
    let half = after
        .iter()
        .find(|(_, v)| (v - start.1) * size.signum() >= size.abs() / 2.0)?;
    Some(HalfMove {
        size,
        extreme_s: extreme.0.max(0),
        half_s: half.0.max(0),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_finest_interval_stored_is_used() {
        let s = |v: &[&str]| v.iter().map(|x| x.to_string()).collect::<Vec<_>>();
        assert_eq!(finest(&s(&["1h", "5m"])), Some("5m"));
        assert_eq!(finest(&s(&["1h", "1m", "5m"])), Some("1m"));
        assert_eq!(finest(&s(&["1h"])), Some("1h"));
        assert_eq!(finest(&s(&["1d"])), None);
    }

    #[test]
    fn half_of_the_move_is_timed_from_the_report() {
        // At the report -1%, then down to -9% at +3 h: half (-4% more, to -5%) at +2 h.
        let path = [
            (-3_600, 0.0),
            (0, -0.01),
            (3_600, -0.03),
            (7_200, -0.05),
            (10_800, -0.09),
            (14_400, -0.07),
        ];
        let h = half_move(&path).unwrap();
        assert!((h.size + 0.08).abs() < 1e-12);
        assert_eq!((h.extreme_s, h.half_s), (10_800, 7_200));
        assert_eq!(half_move(&[(0, 0.0), (60, 0.0)]), None);
        assert_eq!(half_move(&[(-60, 0.0)]), None);
    }

    #[test]
    fn the_curve_is_the_mean_of_each_tokens_log_path() {
        let mut by: BTreeMap<i32, Vec<(i64, f64)>> = BTreeMap::new();
        by.insert(1, vec![(0, 100.0), (60, 110.0)]);
        by.insert(2, vec![(0, 50.0), (60, 45.0)]);
        let c = cumulative_mean(&by, &[1, 2]);
        assert_eq!(c[0], (0, 0.0));
        let want = ((1.1f64).ln() + (0.9f64).ln()) / 2.0;
        assert!((c[1].1 - want).abs() < 1e-12);
        assert!(cumulative_mean(&by, &[3]).is_empty());
    }
}
