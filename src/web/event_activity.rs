//! The event page's volume, volatility and taker-flow section, with its queries: one
//! sentence that says which window shows the volume reaction, a compact row per category
//! and token, and the hourly volume of the story's main subject as bars.

use std::collections::BTreeMap;

use sqlx::PgPool;

use super::chart;
use super::format::{html_escape, p_value};
use super::glossary::abbr;
use crate::study::engine::{bar_zero, Window};
use crate::study::StudyParams;

/// One measure of one series, in its most telling window (smallest p).
pub struct MeasureCell {
    /// "×2.38", "−2.1 pts", or "–".
    pub text: String,
    /// "[0, +4h]".
    pub window: String,
    pub p: String,
    /// "sig" when p < 0.05.
    pub class: &'static str,
    /// Hover: the plain multiple of the estimation-window mean and z.
    pub title: String,
}

pub struct ActivityRowView {
    pub name: String,
    pub href: String,
    /// The story is about it.
    pub subject: bool,
    pub n_tokens: i32,
    pub volume: MeasureCell,
    pub volatility: MeasureCell,
    pub taker: MeasureCell,
}

pub struct ActivityView {
    /// The answer, HTML (labels from the glossary, names escaped).
    pub sentence: String,
    pub rows: Vec<ActivityRowView>,
    /// Server-rendered SVG, or empty.
    pub chart: String,
    pub labels: ActivityLabels,
}

pub struct ActivityLabels {
    pub volume: String,
    pub volatility: String,
    pub taker: String,
}

struct Stat {
    window: Window,
    raw: f64,
    abnormal: f64,
    z: Option<f64>,
    p: Option<f64>,
}

#[derive(Default)]
struct SeriesStats {
    name: String,
    href: String,
    is_category: bool,
    subject: bool,
    n_tokens: i32,
    by_measure: BTreeMap<String, Vec<Stat>>,
}

/// The window with the smallest p (then the largest |z|) of one measure.
fn best(stats: &[Stat]) -> Option<&Stat> {
    stats.iter().min_by(|a, b| {
        let key = |s: &Stat| (s.p.unwrap_or(2.0), -s.z.map(f64::abs).unwrap_or(0.0));
        key(a)
            .partial_cmp(&key(b))
            .unwrap_or(std::cmp::Ordering::Equal)
    })
}

fn window_label(measure: &str, w: Window, params: &StudyParams) -> String {
    if measure == "taker-buy" {
        if w.len() == 1 {
            "the day".to_string()
        } else {
            format!("{} days", w.len())
        }
    } else {
        w.label(params.interval)
    }
}

fn cell(measure: &str, s: Option<&Stat>, params: &StudyParams) -> MeasureCell {
    let Some(s) = s else {
        return MeasureCell {
            text: "–".into(),
            window: String::new(),
            p: String::new(),
            class: "",
            title: "not measured: no volume, range or taker data around the story".into(),
        };
    };
    let (text, title) = if measure == "taker-buy" {
        (
            format!("{:+.1} pts", s.abnormal * 100.0),
            format!(
                "taker-buy share {:+.1} points against its 30-day mean; z {}",
                s.raw * 100.0,
                s.z.map(|z| format!("{z:.2}")).unwrap_or_else(|| "–".into())
            ),
        )
    } else {
        (
            format!("×{:.2}", s.abnormal.exp()),
            format!(
                "×{:.2} the plain 30-day mean (no hour-of-day or weekday profile); z {}",
                s.raw.exp(),
                s.z.map(|z| format!("{z:.2}")).unwrap_or_else(|| "–".into())
            ),
        )
    };
    let title = if s.p.is_none() {
        format!("{title}; no p: too few ordinary hours with data to calibrate")
    } else {
        title
    };
    MeasureCell {
        text,
        window: window_label(measure, s.window, params),
        p: p_value(s.p),
        class: if s.p.is_some_and(|p| p < 0.05) {
            "sig"
        } else {
            ""
        },
        title,
    }
}

/// The section for event `event_id` in run `run_id`; `None` when the run measured no
/// volume or volatility for it (no volume data around the story, or a daily run).
pub async fn load(
    pool: &PgPool,
    run_id: i64,
    event_id: i64,
    event_time: chrono::DateTime<chrono::Utc>,
    params: &StudyParams,
) -> Result<Option<ActivityView>, sqlx::Error> {
    let rows = sqlx::query!(
        r#"WITH subject_tokens AS (
             SELECT DISTINCT g.token_id FROM event_token_tags g
             WHERE g.event_id = $2 AND NOT g.ambiguous AND COALESCE(g.salience, 'subject') = 'subject'),
           subject_categories AS (
             SELECT DISTINCT g.category_id FROM event_category_tags g
             WHERE g.event_id = $2 AND COALESCE(g.salience, 'subject') = 'subject')
           SELECT a.token_id, a.category_id,
                  COALESCE(t.symbol, c.name) AS "name!",
                  COALESCE(t.symbol, c.slug) AS "key!",
                  COALESCE(a.token_id IN (SELECT token_id FROM subject_tokens)
                           OR a.category_id IN (SELECT category_id FROM subject_categories),
                           false) AS "subject!",
                  a.measure, a.window_start, a.window_end, a.n_tokens, a.raw_excess, a.abnormal,
                  a.z, a.p_value
           FROM study_activity a
           LEFT JOIN tokens t ON t.id = a.token_id
           LEFT JOIN categories c ON c.id = a.category_id
           WHERE a.run_id = $1 AND a.event_id = $2"#,
        run_id,
        event_id
    )
    .fetch_all(pool)
    .await?;
    if rows.is_empty() {
        return Ok(None);
    }
    let mut series: BTreeMap<(bool, String), SeriesStats> = BTreeMap::new();
    for r in rows {
        let is_category = r.category_id.is_some();
        let e = series
            .entry((!is_category, r.key.clone()))
            .or_insert_with(|| SeriesStats {
                name: r.name.clone(),
                href: if is_category {
                    format!("/categories/{}", r.key)
                } else {
                    format!("/tokens/{}", r.key)
                },
                is_category,
                ..Default::default()
            });
        e.subject |= r.subject;
        e.n_tokens = e.n_tokens.max(r.n_tokens);
        e.by_measure.entry(r.measure).or_default().push(Stat {
            window: Window::new(r.window_start, r.window_end),
            raw: r.raw_excess,
            abnormal: r.abnormal,
            z: r.z,
            p: r.p_value,
        });
    }
    let mut list: Vec<SeriesStats> = series.into_values().collect();
    // Subjects first (categories, then tokens), then BTC and ETH, then by volume p.
    let vol_p = |s: &SeriesStats| {
        s.by_measure
            .get("volume")
            .and_then(|v| best(v))
            .and_then(|b| b.p)
            .unwrap_or(2.0)
    };
    list.sort_by(|a, b| {
        let key = |s: &SeriesStats| {
            (
                !s.subject,
                !(s.name == "BTC" || s.name == "ETH"),
                !s.is_category,
            )
        };
        key(a)
            .cmp(&key(b))
            .then(
                vol_p(a)
                    .partial_cmp(&vol_p(b))
                    .unwrap_or(std::cmp::Ordering::Equal),
            )
            .then(a.name.cmp(&b.name))
    });
    // Categories the story is not about, unless their volume or volatility stands out,
    // are noise on this page (they are in the API and the view).
    list.retain(|s| {
        s.subject
            || !s.is_category
            || ["volume", "volatility"].iter().any(|m| {
                s.by_measure
                    .get(*m)
                    .and_then(|v| best(v))
                    .and_then(|b| b.p)
                    .is_some_and(|p| p < 0.05)
            })
    });
    let Some(main) = list.first() else {
        return Ok(None);
    };

    let sentence = sentence_for(main, params);
    let chart = volume_chart(pool, main, event_time, params).await?;
    let rows = list
        .iter()
        .map(|s| {
            let get = |m: &str| s.by_measure.get(m).and_then(|v| best(v));
            ActivityRowView {
                name: s.name.clone(),
                href: s.href.clone(),
                subject: s.subject,
                n_tokens: s.n_tokens,
                volume: cell("volume", get("volume"), params),
                volatility: cell("volatility", get("volatility"), params),
                taker: cell("taker-buy", get("taker-buy"), params),
            }
        })
        .collect();
    Ok(Some(ActivityView {
        sentence,
        rows,
        chart,
        labels: ActivityLabels {
            volume: abbr("volume-vs-normal"),
            volatility: abbr("volatility-vs-normal"),
            taker: abbr("taker-buy-share"),
        },
    }))
}

/// "Volume of AI ran ×2.1 its normal level over [0, +4h] (p 0.012), the window where it
/// stood out most; volatility ×3.0 over [0, +1h] (p 0.04)."
fn sentence_for(s: &SeriesStats, params: &StudyParams) -> String {
    let name = html_escape(&s.name);
    let vol = s.by_measure.get("volume").and_then(|v| best(v));
    let var = s.by_measure.get("volatility").and_then(|v| best(v));
    let mut out = String::new();
    if let Some(v) = vol {
        let verdict = if v.p.is_some_and(|p| p < 0.05) {
            "a volume reaction"
        } else {
            "no clear volume reaction"
        };
        out.push_str(&format!(
            "{} of {name}: ×{:.2} its normal level over {}, the window where it stood out most (p {}): {verdict}.",
            abbr("volume-vs-normal"),
            v.abnormal.exp(),
            html_escape(&window_label("volume", v.window, params)),
            html_escape(&p_value(v.p)),
        ));
        let whole = s
            .by_measure
            .get("volume")
            .and_then(|v| v.iter().find(|x| x.window == params.ranking_window));
        if let Some(w) = whole.filter(|w| w.window != v.window) {
            out.push_str(&format!(
                " Over {} it was ×{:.2} normal (×{:.2} the plain 30-day mean).",
                html_escape(&w.window.label(params.interval)),
                w.abnormal.exp(),
                w.raw.exp()
            ));
        }
    }
    if let Some(v) = var {
        out.push_str(&format!(
            " {}: ×{:.2} over {} (p {}).",
            abbr("volatility-vs-normal"),
            v.abnormal.exp(),
            html_escape(&window_label("volatility", v.window, params)),
            html_escape(&p_value(v.p)),
        ));
    }
    out.trim().to_string()
}

/// Hourly volume of the main series from a day before to a day after the news, as a
/// multiple of its estimation-window mean (a category: the geometric mean over its
/// tokens of each one's multiple).
async fn volume_chart(
    pool: &PgPool,
    main: &SeriesStats,
    event_time: chrono::DateTime<chrono::Utc>,
    params: &StudyParams,
) -> Result<String, sqlx::Error> {
    if params.interval != crate::prices::BarInterval::Hour {
        return Ok(String::new());
    }
    let bar0 = bar_zero(event_time, params.interval);
    let t = |bars: i32| {
        chrono::DateTime::from_timestamp((bar0 + i64::from(bars)) * 3600, 0).unwrap_or_default()
    };
    let key = main.href.rsplit('/').next().unwrap_or_default().to_string();
    let w = params.ranking_window;
    let rows = sqlx::query!(
        r#"WITH members AS (
             SELECT t.id FROM tokens t WHERE NOT $1 AND t.symbol = $2
             UNION
             SELECT tc.token_id FROM token_categories tc JOIN categories c ON c.id = tc.category_id
             JOIN tokens t ON t.id = tc.token_id
             WHERE $1 AND c.slug = $2 AND NOT t.exclude_from_aggregates),
           normal AS (
             SELECT p.token_id, avg(ln(p.base_volume)) AS mu FROM price_bars p
             WHERE p.interval = '1h' AND p.token_id IN (SELECT id FROM members)
               AND p.open_time >= $3 AND p.open_time < $4 AND p.base_volume > 0
             GROUP BY p.token_id)
           SELECT p.open_time, exp(avg(ln(p.base_volume) - n.mu)) AS "multiple!"
           FROM price_bars p JOIN normal n ON n.token_id = p.token_id
           WHERE p.interval = '1h' AND p.open_time >= $5 AND p.open_time < $6
             AND p.base_volume > 0
           GROUP BY p.open_time ORDER BY p.open_time"#,
        main.is_category,
        key,
        t(params.estimation.start),
        t(params.estimation.end),
        t(w.start),
        t(w.end)
    )
    .fetch_all(pool)
    .await?;
    let bars: Vec<(f64, f64)> = rows
        .iter()
        .map(|r| (((r.open_time.timestamp() / 3600) - bar0) as f64, r.multiple))
        .collect();
    Ok(chart::volume_bars(
        &format!(
            "Hourly volume of {} as a multiple of its 30-day mean",
            main.name
        ),
        &bars,
        "hours",
    ))
}
