//! The ranked list, `/`: the answer first (how many events, how many significant, one
//! badge per story), filters behind one line with removable chips, a timeline of impact
//! by date, and pages both ways. A bad filter shows the page with the form and the
//! error, never a bare error page.

use askama::Template;
use axum::extract::State;
use axum::http::StatusCode;
use axum::response::{Html, IntoResponse, Response};

use super::badge::{Badge, BadgeFacts};
use super::chart;
use super::error::WebError;
use super::format::{ago, num, p_small, p_value, pct, sign_class, time_html};
use super::glossary::abbr;
use super::list_query::{
    fetch_page_in_run, overview, prev_page, resolve, ListCounts, ListFilter, ListItem, ListQuery,
    PrevPage, TimelinePoint,
};
use super::run::current_run;
use super::AppState;
use crate::prices::BarInterval;
use crate::study::engine::Window;
use crate::study::StudyParams;

pub struct Choice {
    pub value: String,
    pub label: String,
    pub selected: bool,
}

/// The filter form, as the reader typed it (so a bad value is shown to be fixed).
#[derive(Default)]
pub struct FormState {
    pub q: String,
    pub token: String,
    pub kind: String,
    pub source: String,
    pub from: String,
    pub to: String,
    pub min_score: String,
    pub per_page: String,
    pub window: String,
    pub significant: bool,
    pub sort: String,
    pub categories: Vec<Choice>,
    pub sort_categories: Vec<Choice>,
    /// The other filters, carried by the search box.
    pub hidden: Vec<(String, String)>,
}

/// An active filter, and the list without it.
pub struct Chip {
    pub label: String,
    pub remove_href: String,
}

pub struct ListRow {
    pub id: i64,
    /// The badge's kind, as a CSS class: significant, quiet, same-move, unranked, unscored.
    pub kind: &'static str,
    pub headline: String,
    /// A `<time>` element (escaped).
    pub time: String,
    pub ago: String,
    pub source: String,
    pub articles: i64,
    pub sources: i64,
    pub same_move_others: i64,
    /// The impact badge (escaped HTML).
    pub badge: String,
    pub not_ranked: Option<String>,
    pub same_move_as: Option<(i64, String)>,
    pub scored: bool,
    pub score: String,
    pub p: String,
    pub q: String,
    pub model_dependent: bool,
    /// Server-rendered SVG, or empty.
    pub sparkline: String,
    pub market: String,
    pub market_class: &'static str,
    pub category_caar: Option<String>,
}

#[derive(Template)]
#[template(path = "events/list.html")]
pub struct ListPage {
    pub title: String,
    pub total: i64,
    pub significant_total: i64,
    pub has_run: bool,
    pub error: Option<String>,
    pub form: FormState,
    pub chips: Vec<Chip>,
    pub timeline: String,
    pub rows: Vec<ListRow>,
    pub filtered: bool,
    pub prev_page: Option<String>,
    pub next_page: Option<String>,
    pub csv_href: String,
    pub api_href: String,
    pub feed_href: String,
    pub score_label: String,
    pub p_label: String,
    pub q_label: String,
    pub market_label: String,
    pub caar_label: String,
    /// The live tracker's status (templates/live_status.html).
    pub live: super::live_status::LiveStatus,
}

/// `/`: the ranked list.
pub async fn list(
    State(state): State<AppState>,
    axum::extract::Query(query): axum::extract::Query<ListQuery>,
) -> Result<Response, WebError> {
    let (pool, keyed) = (&state.pool, &state.keyed);
    // The run and the filter's names (categories, token) are read at once.
    let parsed = async {
        match ListFilter::parse(&query) {
            Ok(f) => resolve(keyed, f).await,
            Err(e) => Err(WebError::BadRequest(e)),
        }
    };
    let (run, parsed) = tokio::join!(current_run(keyed), parsed);
    let run = run?;
    let filter = match parsed {
        Ok(f) => f,
        Err(WebError::BadRequest(message)) => {
            // The page, its form as typed, and what to fix: never a bare error page.
            let page = ListPage {
                live: super::live_status::live_status(keyed).await?,
                error: Some(message),
                form: form_as_typed(&categories(keyed).await?, &query),
                filtered: true,
                ..empty_page(run.as_ref().map(|r| &r.1))
            };
            return Ok((StatusCode::BAD_REQUEST, Html(page.render()?)).into_response());
        }
        Err(other) => return Err(other),
    };
    // The page (and the cursor back), the counts and timeline, the live status and the
    // form's choices are independent: they run at once, each on a connection of its own.
    let page_and_prev = async {
        let result = fetch_page_in_run(pool, keyed, filter.clone(), run.as_ref()).await?;
        let prev = match result.items.first() {
            Some(first) if filter.after.is_some() => {
                prev_page(pool, &filter, run.as_ref(), (first.sort_key, first.id)).await?
            }
            _ => PrevPage::None,
        };
        Ok::<_, WebError>((result, prev))
    };
    let default_params = StudyParams::default();
    let live = async {
        let (run_id, params) = match &run {
            Some((id, p)) => (Some(*id), p),
            None => (None, &default_params),
        };
        Ok::<_, WebError>(super::live_status::live_status_in_run(keyed, run_id, params).await?)
    };
    let choices = async { Ok::<_, WebError>(categories(keyed).await?) };
    let ((result, prev), (counts, points), live, choices) = tokio::try_join!(
        page_and_prev,
        overview(pool, &filter, run.as_ref()),
        live,
        choices
    )?;
    let params = run.as_ref().map(|r| &r.1);
    let proxy = params
        .map(|p| p.proxy.as_str())
        .unwrap_or("BTC")
        .to_string();
    let interval = params.map(|p| p.interval).unwrap_or(BarInterval::Hour);
    let span = params.map(|p| p.event_span());
    let qs = filter.query_string();
    let with = |extra: &str| {
        let sep = if qs.is_empty() || extra.is_empty() {
            ""
        } else {
            "&"
        };
        format!("{qs}{sep}{extra}")
    };
    let page_qs = with(&filter.after.map(cursor).unwrap_or_default());
    let rows: Vec<ListRow> = result
        .items
        .iter()
        .map(|item| row(item, &proxy, interval, span))
        .collect();
    let ListCounts {
        events,
        significant,
    } = counts;
    let mut page = ListPage {
        live,
        total: events,
        significant_total: significant,
        form: form_of(&choices, &filter),
        chips: chips(&filter),
        timeline: timeline(&points),
        rows,
        filtered: filter != ListFilter::default(),
        prev_page: match prev {
            PrevPage::None => None,
            PrevPage::First => Some(format!("/?{qs}")),
            PrevPage::After(c) => Some(format!("/?{}", with(&format!("after={c}")))),
        },
        next_page: result
            .next_after
            .map(|c| format!("/?{}", with(&format!("after={c}")))),
        csv_href: format!("/events.csv?{page_qs}"),
        api_href: format!("/api/v1/events?{page_qs}"),
        feed_href: feed_href(&filter),
        ..empty_page(params)
    };
    page.caar_label = match (&filter.sort_category, filter.by_caar) {
        (Some(c), true) => format!(
            "CAAR of {c} {}",
            filter
                .caar_window
                .or(params.map(|p| p.ranking_window))
                .map(|w| w.label(interval))
                .unwrap_or_default()
        ),
        _ => String::new(),
    };
    Ok(Html(page.render()?).into_response())
}

fn cursor(after: (f64, i64)) -> String {
    format!("after={}_{}", after.0, after.1)
}

/// The page with nothing in it yet: labels and links that do not depend on the rows.
fn empty_page(params: Option<&StudyParams>) -> ListPage {
    let proxy = params.map(|p| p.proxy.as_str()).unwrap_or("BTC");
    let window = params
        .map(|p| p.ranking_window.label(p.interval))
        .unwrap_or_default();
    ListPage {
        title: "Events ranked by market impact".into(),
        total: 0,
        significant_total: 0,
        has_run: params.is_some(),
        error: None,
        form: FormState::default(),
        chips: Vec::new(),
        timeline: String::new(),
        rows: Vec::new(),
        filtered: false,
        prev_page: None,
        next_page: None,
        csv_href: "/events.csv".into(),
        api_href: "/api/v1/events".into(),
        feed_href: "/feed.xml".into(),
        score_label: abbr("score"),
        p_label: abbr("p"),
        q_label: abbr("q"),
        market_label: format!("{} ({proxy}, {window})", abbr("market-move")),
        caar_label: String::new(),
        live: Default::default(),
    }
}

/// The feed of this list's filters (the feed lists significant stories, newest first).
fn feed_href(filter: &ListFilter) -> String {
    let f = ListFilter {
        significant: false,
        by_time: false,
        by_caar: false,
        sort_category: None,
        caar_window: None,
        after: None,
        per_page: None,
        min_score: None,
        ..filter.clone()
    };
    let qs = f.query_string();
    if qs.is_empty() {
        "/feed.xml".into()
    } else {
        format!("/feed.xml?{qs}")
    }
}

/// One story's row.
fn row(item: &ListItem, proxy: &str, interval: BarInterval, span: Option<Window>) -> ListRow {
    let facts = BadgeFacts {
        not_ranked_reason: item.not_ranked_reason.as_deref(),
        same_move_as: item.credited_headline.as_deref(),
        top_kind: item.top_kind.as_deref(),
        top_category: item.top_category.as_deref(),
        top_token: item.top_token.as_deref(),
        proxy,
        top_window: item
            .top_window_start
            .zip(item.top_window_end)
            .map(|(a, b)| Window::new(a, b)),
        top_pre_report: item.top_pre_report.unwrap_or(false),
        top_move: item.top_move,
        p_value: item.p_value,
        scored: item.impact_score.is_some() || item.not_ranked_reason.is_some(),
    };
    let badge = Badge::of(&facts, interval);
    let sparkline = match (&item.target_path, span, facts.top_window) {
        (Some(path), Some(span), Some(w)) if badge.kind != "unranked" => {
            around_the_news(path, span, w, badge.direction)
        }
        _ => String::new(),
    };
    ListRow {
        id: item.id,
        kind: badge.kind,
        headline: item.headline.clone(),
        time: time_html(item.event_time, &item.time_precision),
        ago: ago(item.event_time, chrono::Utc::now()),
        source: item.source.clone().unwrap_or_default(),
        articles: item.articles,
        sources: item.sources,
        same_move_others: item.same_move_others,
        badge: badge.html(),
        not_ranked: item.not_ranked_reason.clone(),
        same_move_as: item.credited_to.zip(item.credited_headline.clone()),
        scored: facts.scored,
        score: num(item.impact_score),
        p: p_small(item.p_value),
        q: p_value(item.q_value),
        model_dependent: item.model_dependent,
        sparkline,
        market: pct(item.market_return),
        market_class: sign_class(item.market_return),
        category_caar: item.category_caar.map(|v| pct(Some(v))),
    }
}

/// Hours from the news the sparkline covers: the 24 before and the 24 after, the windows
/// the score reads.
const SPARK_BEFORE: i32 = 24;
const SPARK_AFTER: i32 = 24;

/// The sparkline of a cumulative path over the event span (`path[j]`: the sum to the end
/// of bar `span.start + j`), from 24 bars before the news to 24 after, rebased to zero at
/// its start, with the news tick and the evidence window shaded.
fn around_the_news(path: &[f64], span: Window, evidence: Window, direction: &str) -> String {
    // The path's value at the start of bar m: the sum to the end of bar m - 1.
    let at_start_of = |m: i32| -> Option<f64> {
        let j = m - 1 - span.start;
        if j < 0 {
            return if m == span.start { Some(0.0) } else { None };
        }
        path.get(j as usize).copied()
    };
    let Some(base) = at_start_of(-SPARK_BEFORE) else {
        return String::new();
    };
    let values: Vec<f64> = (-SPARK_BEFORE..=SPARK_AFTER)
        .map(|m| at_start_of(m).map(|v| v - base).unwrap_or(f64::NAN))
        .collect();
    let point = |bar: i32| (bar + SPARK_BEFORE).clamp(0, SPARK_BEFORE + SPARK_AFTER) as usize;
    chart::sparkline(
        &values,
        point(0),
        point(evidence.start)..point(evidence.end),
        direction,
    )
}

/// The timeline strip of the filter's ranked stories.
fn timeline(points: &[TimelinePoint]) -> String {
    let events: Vec<chart::TimelineEvent> = points
        .iter()
        .map(|p| chart::TimelineEvent {
            day: p.event_time.timestamp() as f64 / 86_400.0,
            score: p.impact_score,
            direction: match p.top_move {
                Some(m) if m > 0.0 => "up",
                Some(m) if m < 0.0 => "down",
                _ => "flat",
            },
            significant: p.significant,
            title: format!(
                "{} · {} · score {}",
                p.headline,
                p.event_time.format("%Y-%m-%d"),
                num(Some(p.impact_score))
            ),
            href: format!("/events/{}", p.id),
        })
        .collect();
    chart::timeline(&events)
}

/// Each active filter as a chip that removes it.
fn chips(filter: &ListFilter) -> Vec<Chip> {
    let mut out = Vec::new();
    let mut push = |label: String, without: ListFilter| {
        let qs = without.query_string();
        out.push(Chip {
            label,
            remove_href: if qs.is_empty() {
                "/".into()
            } else {
                format!("/?{qs}")
            },
        });
    };
    let f = || ListFilter {
        after: None,
        ..filter.clone()
    };
    if let Some(q) = &filter.q {
        push(format!("search: {q}"), ListFilter { q: None, ..f() });
    }
    if let Some(c) = &filter.category {
        push(
            format!("category: {c}"),
            ListFilter {
                category: None,
                ..f()
            },
        );
    }
    if let Some(t) = &filter.token {
        push(format!("token: {t}"), ListFilter { token: None, ..f() });
    }
    if let Some(k) = &filter.kind {
        push(format!("kind: {k}"), ListFilter { kind: None, ..f() });
    }
    if let Some(s) = &filter.source {
        push(
            format!("source: {s}"),
            ListFilter {
                source: None,
                ..f()
            },
        );
    }
    if let Some(d) = filter.from {
        push(format!("from {d}"), ListFilter { from: None, ..f() });
    }
    if let Some(d) = filter.to {
        push(format!("to {d}"), ListFilter { to: None, ..f() });
    }
    if let Some(m) = filter.min_score {
        push(
            format!("score ≥ {m}"),
            ListFilter {
                min_score: None,
                ..f()
            },
        );
    }
    if filter.significant {
        push(
            "significant only".into(),
            ListFilter {
                significant: false,
                ..f()
            },
        );
    }
    if filter.by_time {
        push(
            "newest first".into(),
            ListFilter {
                by_time: false,
                ..f()
            },
        );
    }
    if filter.by_caar {
        push(
            format!(
                "by |CAAR| of {}{}",
                filter.sort_category.as_deref().unwrap_or("–"),
                filter
                    .caar_window
                    .map(|w| format!(" in {}:{}", w.start, w.end))
                    .unwrap_or_default()
            ),
            ListFilter {
                by_caar: false,
                sort_category: None,
                caar_window: None,
                ..f()
            },
        );
    }
    if let Some(n) = filter.per_page {
        push(
            format!("{n} per page"),
            ListFilter {
                per_page: None,
                ..f()
            },
        );
    }
    out
}

/// The taxonomy's categories, (slug, name) by name: the choices of the form's two
/// category menus.
async fn categories(pool: &sqlx::PgPool) -> Result<Vec<(String, String)>, sqlx::Error> {
    Ok(
        sqlx::query!("SELECT slug, name FROM categories ORDER BY name")
            .fetch_all(pool)
            .await?
            .into_iter()
            .map(|c| (c.slug, c.name))
            .collect(),
    )
}

fn category_choices(categories: &[(String, String)], selected: Option<&str>) -> Vec<Choice> {
    categories
        .iter()
        .map(|(slug, name)| Choice {
            selected: selected == Some(slug.as_str()),
            value: slug.clone(),
            label: name.clone(),
        })
        .collect()
}

/// The form for a filter that parsed.
fn form_of(categories: &[(String, String)], filter: &ListFilter) -> FormState {
    let hidden = {
        let f = ListFilter {
            q: None,
            after: None,
            ..filter.clone()
        };
        url::form_urlencoded::parse(f.query_string().as_bytes())
            .map(|(k, v)| (k.into_owned(), v.into_owned()))
            .collect()
    };
    FormState {
        q: filter.q.clone().unwrap_or_default(),
        token: filter.token.clone().unwrap_or_default(),
        kind: filter.kind.clone().unwrap_or_default(),
        source: filter.source.clone().unwrap_or_default(),
        from: filter.from.map(|d| d.to_string()).unwrap_or_default(),
        to: filter.to.map(|d| d.to_string()).unwrap_or_default(),
        min_score: filter.min_score.map(|v| v.to_string()).unwrap_or_default(),
        per_page: filter.per_page.map(|v| v.to_string()).unwrap_or_default(),
        window: filter
            .caar_window
            .map(|w| format!("{}:{}", w.start, w.end))
            .unwrap_or_default(),
        significant: filter.significant,
        sort: if filter.by_time {
            "time"
        } else if filter.by_caar {
            "caar"
        } else {
            "impact"
        }
        .into(),
        categories: category_choices(categories, filter.category.as_deref()),
        sort_categories: category_choices(categories, filter.sort_category.as_deref()),
        hidden,
    }
}

/// The form as typed, for a query that did not parse.
fn form_as_typed(categories: &[(String, String)], q: &ListQuery) -> FormState {
    let s = |v: &Option<String>| v.clone().unwrap_or_default();
    FormState {
        q: s(&q.q),
        token: s(&q.token),
        kind: s(&q.kind),
        source: s(&q.source),
        from: s(&q.from),
        to: s(&q.to),
        min_score: s(&q.min_score),
        per_page: s(&q.per_page),
        window: s(&q.window),
        significant: matches!(q.significant.as_deref(), Some("1" | "on" | "true" | "yes")),
        sort: q.sort.clone().unwrap_or_else(|| "impact".into()),
        categories: category_choices(categories, q.category.as_deref()),
        sort_categories: category_choices(categories, q.sort_category.as_deref()),
        hidden: Vec::new(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_sparkline_starts_a_day_before_the_news_and_marks_it() {
        // Span [-25, 72): path[j] is the sum to the end of bar -25 + j; 0.01 per bar.
        let span = Window::new(-25, 72);
        let path: Vec<f64> = (1..=97).map(|k| k as f64 * 0.01).collect();
        let svg = around_the_news(&path, span, Window::new(0, 1), "up");
        assert!(svg.starts_with("<svg class=\"spark up\""), "{svg}");
        // 49 points (bars -24..=24 starts), the news at point 24 of 48: x = 48.0.
        assert!(svg.contains(r#"<line class="news" x1="48.0""#), "{svg}");
        // The window [0, 1) shades points 24 to 25.
        assert!(
            svg.contains(r#"<rect class="spark-window" x="48.0""#),
            "{svg}"
        );
        // A span that starts after -24 has no sparkline rather than a wrong one.
        assert_eq!(
            around_the_news(&path, Window::new(-10, 72), Window::new(0, 1), "up"),
            ""
        );
    }

    #[test]
    fn chips_remove_one_filter_each() {
        let f = ListFilter {
            category: Some("ai".into()),
            token: Some("FET".into()),
            significant: true,
            after: Some((1.5, 3)),
            ..Default::default()
        };
        let c = chips(&f);
        assert_eq!(c.len(), 3);
        assert_eq!(c[0].label, "category: ai");
        assert_eq!(c[0].remove_href, "/?token=FET&significant=1");
        assert_eq!(c[2].remove_href, "/?category=ai&token=FET");
        assert!(chips(&ListFilter::default()).is_empty());
    }
}
