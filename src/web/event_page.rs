//! One event, `/events/{id}`: the answer first (time with its precision, sources, rank,
//! a one-sentence verdict, four tiles, the price chart around the news), then the
//! evidence, the tables, the tag audit and the parameters in sections that open on demand.

use std::collections::BTreeMap;

use askama::Template;
use axum::extract::{Path, State};
use axum::http::HeaderMap;
use axum::response::Html;

use super::badge::{Badge, BadgeFacts};
use super::error::WebError;
use super::event_charts;
use super::evidence::{self, EvidenceRow, Names, ScoreFacts, Verdict};
use super::format::{num, p_small, p_value, pct, pct_cell, sign_class, time_html, utc, Cell};
use super::glossary::abbr;
use super::run::current_run;
use super::AppState;
use crate::study::engine::Window;
use crate::study::score::Component;

pub struct ArticleView {
    pub title: String,
    pub url: Option<String>,
    pub source: String,
    pub published: String,
    pub summary: String,
    /// Why the article is in this event (stories), or empty when not recorded.
    pub story: String,
}

/// One of the four figures under the verdict.
pub struct Tile {
    /// Extra CSS class: "key" keeps its line under the figure on phones.
    pub class: &'static str,
    /// Label with its explanation (`<abbr>`, escaped).
    pub label: String,
    /// The figure (escaped HTML: a badge or a number with its field name).
    pub value: String,
    pub sub: String,
}

/// Column labels with their explanations (`<abbr>` markup from the glossary).
pub struct Labels {
    pub car: String,
    pub caar: String,
    pub portfolio_car: String,
    pub portfolio_t: String,
    pub kp_t: String,
    pub rbar: String,
    pub scar: String,
    pub own_return: String,
    pub n: String,
    pub calibrated_p: String,
    pub t_test_p: String,
    pub mde: String,
    pub abnormal_move: String,
    pub naive: String,
    pub alpha_beta_sigma: String,
}

impl Labels {
    fn new() -> Labels {
        Labels {
            car: abbr("car"),
            caar: abbr("caar"),
            portfolio_car: abbr("portfolio-car"),
            portfolio_t: abbr("portfolio-t"),
            kp_t: abbr("kp-t"),
            rbar: abbr("rbar"),
            scar: abbr("scar"),
            own_return: abbr("own-return"),
            n: abbr("n"),
            calibrated_p: abbr("calibrated-p"),
            t_test_p: abbr("t-test-p"),
            mde: abbr("mde"),
            abnormal_move: abbr("abnormal-move"),
            naive: abbr("naive"),
            alpha_beta_sigma: abbr("alpha-beta-sigma"),
        }
    }
}

/// One article's tags and why each was made ("Why these tags").
pub struct ArticleTagsView {
    pub title: String,
    pub source: String,
    pub tags: Vec<WhyTagView>,
}

pub struct WhyTagView {
    pub label: String,
    pub matched: String,
    pub rule: String,
    pub ambiguous: bool,
    pub note: String,
    /// subject or mention.
    pub salience: String,
    pub salience_note: String,
}

/// In words: why an article is in its event.
fn story_reason(reason: Option<&str>, similarity: Option<f64>, matched: Option<&str>) -> String {
    match (reason, similarity, matched) {
        (Some("new"), _, _) => "first article of this story".to_string(),
        (Some("similar"), Some(s), Some(title)) => {
            format!("joined: similarity {s:.2} with “{title}”")
        }
        (Some("similar"), Some(s), None) => format!("joined: similarity {s:.2}"),
        (Some("split"), _, _) => "moved here by a split".to_string(),
        (Some("backfill"), _, _) => "stored before story grouping existed".to_string(),
        _ => String::new(),
    }
}

pub struct TagView {
    pub label: String,
    pub rule: String,
    pub matched: String,
    pub ambiguous: bool,
    /// A passing mention (never a target of the score).
    pub mention: bool,
}

pub struct CategoryView {
    pub name: String,
    pub slug: String,
    pub tagged: bool,
    pub is_top: bool,
    pub n: i32,
    pub caar: Cell,
    pub caar_vw: String,
    pub portfolio_car: Cell,
    pub portfolio_t: String,
    pub portfolio_p: String,
    pub kp_t: String,
    pub kp_p: String,
    pub rbar: String,
    pub cs_t: String,
    pub cs_p: String,
    pub patell_z: String,
    pub bmp_t: String,
    pub rank_z: String,
    pub sign_z: String,
    pub positive: String,
    /// CAAR in every window, in the order of `EventPage::windows`.
    pub by_window: Vec<Cell>,
}

pub struct TokenView {
    pub symbol: String,
    pub name: String,
    /// A subject of the story (named, or in a category it is about).
    pub subject: bool,
    /// CAR over the summary window.
    pub car: Cell,
    pub alpha: String,
    pub beta: String,
    pub sigma: String,
    pub scar: String,
    pub token_return: String,
    pub by_window: Vec<Cell>,
}

pub struct MarketView {
    pub window: String,
    pub ret: Cell,
    pub z: String,
    pub p: String,
}

pub struct LinkView {
    pub id: i64,
    pub headline: String,
    pub time: String,
}

pub struct DroppedView {
    pub symbol: String,
    pub reason: String,
}

#[derive(Template)]
#[template(path = "events/show.html")]
pub struct EventPage {
    pub title: String,
    pub headline: String,
    /// A `<time>` element with the time's precision (escaped).
    pub time: String,
    /// Said when the time is not exact.
    pub precision_note: String,
    pub kind: String,
    /// The first few sources, each linking to its article: (source, url).
    pub source_links: Vec<(String, Option<String>)>,
    /// Sources beyond those.
    pub more_sources: usize,
    /// (rank, ranked stories) when the story is ranked.
    pub rank: Option<(i64, i64)>,
    pub tiles: Vec<Tile>,
    /// Link previews.
    pub og_description: String,
    pub og_url: String,
    pub score_label: String,
    pub labels: Labels,
    pub articles: Vec<ArticleView>,
    pub why_tags: Vec<ArticleTagsView>,
    pub token_tags: Vec<TagView>,
    pub category_tags: Vec<TagView>,
    pub has_run: bool,
    pub verdict: Option<Verdict>,
    pub evidence: Vec<EvidenceRow>,
    pub alternative_proxy: String,
    pub market: Vec<MarketView>,
    pub ranking_window: String,
    pub windows: Vec<String>,
    pub categories: Vec<CategoryView>,
    pub tokens: Vec<TokenView>,
    pub dropped: Vec<DroppedView>,
    pub overlapping: Vec<LinkView>,
    pub estimation_confounders: Vec<LinkView>,
    pub min_tokens: usize,
    pub proxy: String,
    pub model: String,
    pub run_params: String,
    /// Server-rendered SVG (labels escaped by `chart`), or empty.
    pub caar_chart: String,
    pub price_chart: String,
    /// Until it is scored: what it awaits (templates/live_status_event.html).
    pub awaiting: Option<super::live_status::AwaitingStory>,
    /// Volume, volatility and taker flow, when the run measured them.
    pub activity: Option<super::event_activity::ActivityView>,
    /// Equities around the news (templates/events/context.html).
    pub context: super::event_context::ContextSection,
    /// Moves matched with the story, its articles' lags and the reaction curve
    /// (templates/events/moves.html).
    pub moves: super::event_moves::MovesSection,
}

pub async fn show(
    State(state): State<AppState>,
    Path(id): Path<String>,
    headers: HeaderMap,
) -> Result<Html<String>, WebError> {
    let id: i64 = id
        .parse()
        .map_err(|_| WebError::BadRequest(format!("{id:?} is not an event id")))?;
    // Every query of this page is keyed by the event and the run: cached plans.
    let pool = &state.keyed;
    let event = sqlx::query!(
        "SELECT id, event_time, headline, kind, time_precision FROM events WHERE id = $1",
        id
    )
    .fetch_optional(pool);
    let (event, run) = tokio::try_join!(event, current_run(pool))?;
    let event = event.ok_or_else(|| WebError::NotFound(format!("There is no event {id}.")))?;
    let run_id = run.as_ref().map(|r| r.0);
    let params = run.map(|r| r.1).unwrap_or_default();
    let interval = params.interval;
    let label = |w: Window| w.label(interval);

    // Every query below depends only on the event and the run: they run at once, each on
    // a connection of its own (a cold page waits for the slowest, not for their sum).
    let article_rows = sqlx::query!(
        r#"SELECT a.title, a.canonical_url, a.published_at, a.summary, s.name AS source,
                  a.time_precision,
                  st.reason AS "reason?", st.similarity, m.title AS "matched_title?"
           FROM articles a JOIN sources s ON s.id = a.source_id
           LEFT JOIN article_stories st ON st.article_id = a.id
           LEFT JOIN articles m ON m.id = st.matched_article_id
           WHERE a.event_id = $1 ORDER BY a.published_at, a.id"#,
        id
    )
    .fetch_all(pool);
    let article_titles = sqlx::query!(
        r#"SELECT a.id, a.title, s.name AS source FROM articles a
           JOIN sources s ON s.id = a.source_id
           WHERE a.event_id = $1 ORDER BY a.published_at, a.id"#,
        id
    )
    .fetch_all(pool);
    let tag_rows = sqlx::query!(
        r#"SELECT g.article_id AS "article_id!", t.symbol || ' (' || t.name || ')' AS "label!",
                  g.matched_text AS "matched_text!", g.rule AS "rule!", g.ambiguous AS "ambiguous!",
                  g.note AS "note?", COALESCE(g.salience, 'subject') AS "salience!",
                  g.salience_note AS "salience_note?"
           FROM article_token_tags g JOIN tokens t ON t.id = g.token_id
           JOIN articles a ON a.id = g.article_id
           WHERE a.event_id = $1
           UNION ALL
           SELECT g.article_id, c.name, g.matched_text, g.rule, false, NULL,
                  COALESCE(g.salience, 'subject'), g.salience_note
           FROM article_category_tags g JOIN categories c ON c.id = g.category_id
           JOIN articles a ON a.id = g.article_id
           WHERE a.event_id = $1
           ORDER BY 1, 5, 7 DESC, 2, 3"#,
        id
    )
    .fetch_all(pool);
    let token_tag_rows = sqlx::query!(
        r#"SELECT DISTINCT t.symbol, t.name, g.rule AS "rule!", g.matched_text AS "matched_text!",
                  g.ambiguous AS "ambiguous!", g.salience = 'mention' AS "mention!"
           FROM event_token_tags g JOIN tokens t ON t.id = g.token_id
           WHERE g.event_id = $1 ORDER BY 5, 6, 1, 3, 4"#,
        id
    )
    .fetch_all(pool);
    let category_tag_rows = sqlx::query!(
        r#"SELECT DISTINCT c.name, g.rule AS "rule!", g.matched_text AS "matched_text!",
                  g.salience = 'mention' AS "mention!"
           FROM event_category_tags g JOIN categories c ON c.id = g.category_id
           WHERE g.event_id = $1 ORDER BY 4, 1, 2, 3"#,
        id
    )
    .fetch_all(pool);
    let score = sqlx::query!(
        r#"SELECT sc.impact_score, sc.not_ranked_reason, sc.p_value, sc.q_value, sc.p_primary,
                  sc.p_alternative, sc.alternative_proxy, sc.model_dependent, sc.calibrated,
                  sc.k_eff, sc.null_hours, sc.stronger_than, sc.top_component, sc.components,
                  sc.publication_bar_abnormal, sc.publication_bar_return, sc.credited_to,
                  (SELECT x.headline FROM events x WHERE x.id = sc.credited_to) AS "credited_headline?",
                  c.name AS "top_category?", sc.overlapping_events, sc.estimation_confounders,
                  sc.market_return, sc.top_value, sc.top_kind, sc.top_window_start,
                  sc.top_window_end, sc.top_pre_report, t.symbol AS "top_token?",
                  CASE WHEN sc.rank_key >= 0 THEN
                    (SELECT count(*) + 1 FROM study_event_scores o
                     WHERE o.run_id = sc.run_id AND o.rank_key >= 0
                       AND (o.rank_key, o.event_id) > (sc.rank_key, sc.event_id)) END AS "rank?",
                  (SELECT count(*) FROM study_event_scores o
                   WHERE o.run_id = sc.run_id AND o.rank_key >= 0) AS "ranked!"
           FROM study_event_scores sc
           LEFT JOIN categories c ON c.id = sc.top_category_id
           LEFT JOIN tokens t ON t.id = sc.top_token_id
           WHERE sc.run_id = $1 AND sc.event_id = $2"#,
        run_id,
        id
    )
    .fetch_optional(pool);
    let same_move_rows = sqlx::query!(
        r#"SELECT e.id, e.headline FROM study_event_scores sc JOIN events e ON e.id = sc.event_id
           WHERE sc.run_id = $1 AND sc.credited_to = $2 ORDER BY e.event_time, e.id"#,
        run_id,
        id
    )
    .fetch_all(pool);
    let name_rows = sqlx::query!("SELECT id, name FROM categories").fetch_all(pool);
    let symbol_rows = sqlx::query!("SELECT id, symbol FROM tokens").fetch_all(pool);
    let cat_rows = sqlx::query!(
        r#"SELECT c.name, c.slug, r.window_start AS "window_start!", r.window_end AS "window_end!",
                  r.n_tokens AS "n_tokens!", r.caar AS "caar!", r.caar_value_weighted,
                  r.t_stat, r.p_value, r.patell_z, r.bmp_t, r.kp_t, r.kp_p,
                  r.mean_cross_correlation, r.portfolio_car, r.portfolio_t, r.portfolio_p,
                  r.rank_z, r.sign_z, r.n_positive AS "n_positive!"
           FROM study_category_results r JOIN categories c ON c.id = r.category_id
           WHERE r.run_id = $1 AND r.event_id = $2
           ORDER BY c.name"#,
        run_id,
        id
    )
    .fetch_all(pool);
    let token_rows = sqlx::query!(
        r#"SELECT t.symbol, t.name, w.window_start, w.window_end,
                  s.window_values[w.ord][1] AS "car!", s.window_values[w.ord][3] AS scar,
                  s.window_values[w.ord][4] AS "token_return!",
                  s.alpha, s.beta, s.sigma,
                  (t.id IN (SELECT g.token_id FROM event_token_tags g
                            WHERE g.event_id = $2 AND NOT g.ambiguous
                              AND COALESCE(g.salience, 'subject') = 'subject')
                   OR t.id IN (SELECT tc.token_id FROM token_categories tc
                               JOIN event_category_tags g ON g.category_id = tc.category_id
                               WHERE g.event_id = $2
                                 AND COALESCE(g.salience, 'subject') = 'subject')) AS "is_subject!"
           FROM study_token_outcomes s
           JOIN study_run_windows w ON w.run_id = s.run_id
           JOIN tokens t ON t.id = s.token_id
           WHERE s.run_id = $1 AND s.event_id = $2"#,
        run_id,
        id
    )
    .fetch_all(pool);
    let market_rows = sqlx::query!(
        r#"SELECT window_start, window_end, market_return, z, p_value FROM study_market_moves
           WHERE run_id = $1 AND event_id = $2 ORDER BY window_start, window_end"#,
        run_id,
        id
    )
    .fetch_all(pool);
    let dropped_rows = sqlx::query!(
        r#"SELECT t.symbol, d.reason FROM study_dropped_tokens d JOIN tokens t ON t.id = d.token_id
           WHERE d.run_id = $1 AND d.event_id = $2 ORDER BY t.symbol"#,
        run_id,
        id
    )
    .fetch_all(pool);
    let rows = async {
        tokio::try_join!(
            article_rows,
            article_titles,
            tag_rows,
            token_tag_rows,
            category_tag_rows,
            score,
            same_move_rows,
            name_rows,
            symbol_rows,
            cat_rows,
            token_rows,
            market_rows,
            dropped_rows,
        )
        .map_err(WebError::from)
    };
    // The sections that need only the event and the run start with the rows above (a
    // round trip less on the page's critical path than after them).
    let activity = async {
        match run_id {
            Some(run) => {
                super::event_activity::load(pool, run, id, event.event_time, &params).await
            }
            None => Ok(None),
        }
    };
    let sections = async {
        tokio::try_join!(
            async {
                Ok::<_, WebError>(
                    event_charts::price_chart(pool, id, event.event_time, &params).await?,
                )
            },
            async { Ok::<_, WebError>(activity.await?) },
            async {
                Ok::<_, WebError>(
                    super::live_status::awaiting_story(pool, id, run_id, &params).await?,
                )
            },
            async {
                Ok::<_, WebError>(super::event_context::section(pool, id, event.event_time).await?)
            },
            async {
                Ok::<_, WebError>(super::event_moves::section(pool, id, event.event_time).await?)
            },
        )
    };
    let (
        (
            article_rows,
            article_titles,
            tag_rows,
            token_tag_rows,
            category_tag_rows,
            score,
            same_move_rows,
            name_rows,
            symbol_rows,
            cat_rows,
            token_rows,
            market_rows,
            dropped_rows,
        ),
        (price_chart, activity, awaiting, context, moves),
    ) = tokio::try_join!(rows, sections)?;

    let articles: Vec<ArticleView> = article_rows
        .into_iter()
        .map(|a| ArticleView {
            story: story_reason(
                a.reason.as_deref(),
                a.similarity,
                a.matched_title.as_deref(),
            ),
            title: a.title,
            url: a.canonical_url,
            source: a.source,
            published: super::format::utc_with_precision(a.published_at, &a.time_precision),
            summary: a.summary.unwrap_or_default(),
        })
        .collect();

    // Why these tags: every tag of every article, with the text and rule behind it.
    let mut why_tags: Vec<ArticleTagsView> = Vec::new();
    let mut index: BTreeMap<i64, usize> = BTreeMap::new();
    for r in article_titles {
        index.insert(r.id, why_tags.len());
        why_tags.push(ArticleTagsView {
            title: r.title,
            source: r.source,
            tags: Vec::new(),
        });
    }
    for r in tag_rows {
        let Some(&i) = index.get(&r.article_id) else {
            continue;
        };
        why_tags[i].tags.push(WhyTagView {
            label: r.label,
            matched: r.matched_text,
            rule: r.rule,
            ambiguous: r.ambiguous,
            note: r.note.unwrap_or_default(),
            salience: r.salience,
            salience_note: r.salience_note.unwrap_or_default(),
        });
    }

    let token_tags = token_tag_rows
        .into_iter()
        .map(|r| TagView {
            label: format!("{} ({})", r.symbol, r.name),
            rule: r.rule,
            matched: r.matched_text,
            ambiguous: r.ambiguous,
            mention: r.mention,
        })
        .collect();

    let category_tags: Vec<TagView> = category_tag_rows
        .into_iter()
        .map(|r| TagView {
            label: r.name,
            rule: r.rule,
            matched: r.matched_text,
            ambiguous: false,
            mention: r.mention,
        })
        .collect();
    // The categories the story is about (subjects).
    let tagged: Vec<String> = category_tags
        .iter()
        .filter(|t| !t.mention)
        .map(|t| t.label.clone())
        .collect();

    let same_move: Vec<(i64, String)> = same_move_rows
        .into_iter()
        .map(|r| (r.id, r.headline))
        .collect();

    let names: BTreeMap<i32, String> = name_rows.into_iter().map(|r| (r.id, r.name)).collect();
    let symbols: BTreeMap<i32, String> =
        symbol_rows.into_iter().map(|r| (r.id, r.symbol)).collect();
    let proxy = params.proxy.as_str().to_string();
    let facts = score.as_ref().map(|s| ScoreFacts {
        not_ranked_reason: s.not_ranked_reason.clone(),
        impact: s.impact_score,
        p_value: s.p_value,
        q_value: s.q_value,
        p_primary: s.p_primary,
        p_alternative: s.p_alternative,
        alternative_proxy: s.alternative_proxy.clone(),
        model_dependent: s.model_dependent,
        calibrated: s.calibrated,
        k_eff: s.k_eff,
        null_hours: s.null_hours,
        stronger_than: s.stronger_than,
        top_component: s.top_component,
        // Runs from before migration 0011 stored another shape: no components then.
        components: serde_json::from_value::<Vec<Component>>(s.components.clone())
            .unwrap_or_default(),
        publication_bar: s.publication_bar_abnormal.zip(s.publication_bar_return),
        credited_to: s.credited_to.zip(s.credited_headline.clone()),
        same_move: same_move.clone(),
    });
    let category_name = |id: i32| names.get(&id).cloned().unwrap_or_default();
    let token_symbol = |id: i32| symbols.get(&id).cloned().unwrap_or_default();
    let series_names = Names {
        category: &category_name,
        token: &token_symbol,
        proxy: &proxy,
    };
    let verdict = facts
        .as_ref()
        .map(|f| evidence::verdict(f, &series_names, interval));
    let evidence_rows = facts
        .as_ref()
        .map(|f| evidence::rows(f, &series_names, interval))
        .unwrap_or_default();
    let alternative_proxy = score
        .as_ref()
        .and_then(|s| s.alternative_proxy.clone())
        .unwrap_or_default();

    let windows: Vec<Window> = params.windows.clone();
    let rw = params.ranking_window;
    let top_category = score.as_ref().and_then(|s| s.top_category.clone());

    let mut categories: Vec<CategoryView> = Vec::new();
    let mut caar_by: BTreeMap<(String, Window), f64> = BTreeMap::new();
    for r in &cat_rows {
        caar_by.insert(
            (r.name.clone(), Window::new(r.window_start, r.window_end)),
            r.caar,
        );
    }
    for r in cat_rows
        .iter()
        .filter(|r| Window::new(r.window_start, r.window_end) == rw)
    {
        categories.push(CategoryView {
            tagged: tagged.contains(&r.name),
            is_top: top_category.as_deref() == Some(r.name.as_str()),
            name: r.name.clone(),
            slug: r.slug.clone(),
            n: r.n_tokens,
            caar: pct_cell(Some(r.caar)),
            caar_vw: pct(r.caar_value_weighted),
            portfolio_car: pct_cell(r.portfolio_car),
            portfolio_t: num(r.portfolio_t),
            portfolio_p: p_value(r.portfolio_p),
            kp_t: num(r.kp_t),
            kp_p: p_value(r.kp_p),
            rbar: num(r.mean_cross_correlation),
            cs_t: num(r.t_stat),
            cs_p: p_value(r.p_value),
            patell_z: num(r.patell_z),
            bmp_t: num(r.bmp_t),
            rank_z: num(r.rank_z),
            sign_z: num(r.sign_z),
            positive: format!("{}/{}", r.n_positive, r.n_tokens),
            by_window: windows
                .iter()
                .map(|w| pct_cell(caar_by.get(&(r.name.clone(), *w)).copied()))
                .collect(),
        });
    }
    // Tagged categories first, then by the robust statistic's strength.
    categories.sort_by(|a, b| {
        b.tagged
            .cmp(&a.tagged)
            .then(b.n.cmp(&a.n).then(a.name.cmp(&b.name)))
    });

    let mut tokens: Vec<TokenView> = Vec::new();
    let mut rw_car: BTreeMap<String, f64> = BTreeMap::new();
    let car_by: BTreeMap<(String, Window), f64> = token_rows
        .iter()
        .map(|r| {
            (
                (r.symbol.clone(), Window::new(r.window_start, r.window_end)),
                r.car,
            )
        })
        .collect();
    for r in token_rows
        .iter()
        .filter(|r| Window::new(r.window_start, r.window_end) == rw)
    {
        rw_car.insert(r.symbol.clone(), r.car);
        tokens.push(TokenView {
            symbol: r.symbol.clone(),
            name: r.name.clone(),
            subject: r.is_subject,
            car: pct_cell(Some(r.car)),
            alpha: format!("{:.5}", r.alpha),
            beta: format!("{:.2}", r.beta),
            sigma: pct(Some(r.sigma)).trim_start_matches('+').to_string(),
            scar: num(r.scar),
            token_return: pct(Some(r.token_return)),
            by_window: windows
                .iter()
                .map(|w| pct_cell(car_by.get(&(r.symbol.clone(), *w)).copied()))
                .collect(),
        });
    }
    // Subjects first, then by the size of the move.
    let size = |t: &TokenView| rw_car.get(&t.symbol).map_or(0.0, |v| v.abs());
    tokens.sort_by(|a, b| {
        b.subject
            .cmp(&a.subject)
            .then(size(b).total_cmp(&size(a)))
            .then(a.symbol.cmp(&b.symbol))
    });
    // The strongest token: of the subjects, else of every token measured.
    let strongest = tokens
        .iter()
        .filter(|t| t.subject)
        .max_by(|a, b| size(a).total_cmp(&size(b)))
        .map(|t| (t, true))
        .or_else(|| {
            tokens
                .iter()
                .max_by(|a, b| size(a).total_cmp(&size(b)))
                .map(|t| (t, false))
        })
        .map(|(t, subject)| (t.symbol.clone(), rw_car.get(&t.symbol).copied(), subject));

    let market = market_rows
        .into_iter()
        .map(|m| MarketView {
            window: label(Window::new(m.window_start, m.window_end)),
            ret: pct_cell(Some(m.market_return)),
            z: num(Some(m.z)),
            p: p_value(Some(m.p_value)),
        })
        .collect();

    let dropped: Vec<DroppedView> = dropped_rows
        .into_iter()
        .map(|r| DroppedView {
            symbol: r.symbol,
            reason: r.reason,
        })
        .collect();

    let links = |ids: &[i64]| {
        let ids = ids.to_vec();
        async move {
            Ok::<_, sqlx::Error>(
                sqlx::query!(
                    "SELECT id, headline, event_time FROM events WHERE id = ANY($1) ORDER BY event_time",
                    &ids
                )
                .fetch_all(pool)
                .await?
                .into_iter()
                .map(|r| LinkView {
                    id: r.id,
                    headline: r.headline,
                    time: utc(r.event_time),
                })
                .collect::<Vec<_>>(),
            )
        }
    };
    let shown_categories: Vec<String> =
        tagged.iter().cloned().chain(top_category.clone()).collect();
    let no_ids: &[i64] = &[];
    // The page's sections below read different tables and depend on nothing above but
    // the event, its score and the run: they run at once, each on a connection of its own
    // (a cold page waits for the slowest section, not for their sum).
    let (overlapping, estimation_confounders, caar_chart) = tokio::try_join!(
        async {
            Ok::<_, WebError>(
                links(score.as_ref().map_or(no_ids, |s| &s.overlapping_events)).await?,
            )
        },
        async {
            Ok::<_, WebError>(
                links(score.as_ref().map_or(no_ids, |s| &s.estimation_confounders)).await?,
            )
        },
        async {
            Ok::<_, WebError>(
                event_charts::caar_chart(pool, run_id, id, &params, &shown_categories).await?,
            )
        },
    )?;

    // An event the study has not scored, or could not measure, says exactly why.
    let verdict = match (run_id, verdict) {
        (Some(_), None) => Some(unscored_verdict(pool, run_id).await?),
        (_, Some(mut v))
            if score
                .as_ref()
                .and_then(|s| s.not_ranked_reason.as_deref())
                .is_some_and(|r| r == crate::study::score::NOT_MEASURABLE) =>
        {
            v.details = unmeasured_details(pool, &dropped, interval).await?;
            Some(v)
        }
        (_, v) => v,
    };
    let badge = score.as_ref().map(|sc| {
        Badge::of(
            &BadgeFacts {
                not_ranked_reason: sc.not_ranked_reason.as_deref(),
                same_move_as: sc.credited_headline.as_deref(),
                top_kind: sc.top_kind.as_deref(),
                top_category: sc.top_category.as_deref(),
                top_token: sc.top_token.as_deref(),
                proxy: &proxy,
                top_window: sc
                    .top_window_start
                    .zip(sc.top_window_end)
                    .map(|(a, b)| Window::new(a, b)),
                top_pre_report: sc.top_pre_report.unwrap_or(false),
                top_move: sc.top_value,
                p_value: sc.p_value,
                scored: true,
            },
            interval,
        )
    });
    let market_return = score.as_ref().and_then(|s| s.market_return);
    let tiles = if run_id.is_some() {
        vec![
            Tile {
                class: "",
                label: abbr("abnormal-move"),
                value: badge
                    .as_ref()
                    .map(Badge::html)
                    .unwrap_or_else(|| "–".into()),
                sub: "the move behind the score".into(),
            },
            Tile {
                class: "",
                label: format!("{} ({proxy}, {})", abbr("market-move"), label(rw)),
                value: format!(
                    r#"<span class="{}" data-field="market_return">{}</span>"#,
                    sign_class(market_return),
                    pct(market_return)
                ),
                sub: "the market proxy's own return".into(),
            },
            Tile {
                class: "key",
                label: abbr("score"),
                value: format!(
                    r#"<span data-field="impact_score">{}</span>"#,
                    num(score.as_ref().and_then(|s| s.impact_score))
                ),
                sub: format!(
                    r#"{} <span data-field="p_value">{}</span> · {} <span data-field="q_value">{}</span>{}"#,
                    abbr("p"),
                    p_small(score.as_ref().and_then(|s| s.p_value)),
                    abbr("q"),
                    super::format::html_escape(&p_value(score.as_ref().and_then(|s| s.q_value))),
                    match badge.as_ref().map(|b| b.kind) {
                        Some("significant") => " · significant",
                        Some("quiet") => " · not significant",
                        _ => "",
                    }
                ),
            },
            Tile {
                class: "",
                label: abbr("strongest-token"),
                value: match &strongest {
                    Some((symbol, car, _)) => format!(
                        r#"<a href="/tokens/{s}">{s}</a> <span class="{}">{}</span>"#,
                        sign_class(*car),
                        pct(*car),
                        s = super::format::html_escape(symbol)
                    ),
                    None => "–".into(),
                },
                sub: match &strongest {
                    Some((_, _, true)) => format!("CAR {}, of the story's subjects", label(rw)),
                    Some((_, _, false)) => {
                        format!("CAR {}, of every token (no subject token)", label(rw))
                    }
                    None => "no token measured".into(),
                },
            },
        ]
    } else {
        Vec::new()
    };
    let rank = score.as_ref().and_then(|s| s.rank.map(|r| (r, s.ranked)));
    let mut source_links: Vec<(String, Option<String>)> = Vec::new();
    for a in &articles {
        if !source_links.iter().any(|(s, _)| s == &a.source) {
            source_links.push((a.source.clone(), a.url.clone()));
        }
    }
    let more_sources = source_links.len().saturating_sub(SOURCES_SHOWN);
    source_links.truncate(SOURCES_SHOWN);
    let precision_note = match event.time_precision.as_str() {
        "day" => "Only the day of the first report is known: its hour is a placeholder, so the reaction windows may start before or after the real report.".to_string(),
        _ => String::new(),
    };
    let og_description = verdict
        .as_ref()
        .map(|v| v.headline.clone())
        .unwrap_or_else(|| "No study has run yet.".into());
    let page = EventPage {
        awaiting,
        activity,
        context,
        moves,
        title: event.headline.clone(),
        headline: event.headline,
        time: time_html(event.event_time, &event.time_precision),
        precision_note,
        kind: event.kind.unwrap_or_default(),
        source_links,
        more_sources,
        rank,
        tiles,
        og_description,
        og_url: public_url(&headers, &format!("/events/{id}")),
        score_label: abbr("score"),
        labels: Labels::new(),
        articles,
        why_tags,
        token_tags,
        category_tags,
        has_run: run_id.is_some(),
        verdict,
        evidence: evidence_rows,
        alternative_proxy,
        market,
        ranking_window: label(rw),
        windows: windows.iter().map(|w| label(*w)).collect(),
        categories,
        tokens,
        dropped,
        overlapping,
        estimation_confounders,
        min_tokens: params.min_category_tokens,
        model: params.model.as_str().to_string(),
        proxy,
        run_params: serde_json::to_string_pretty(&params).unwrap_or_default(),
        caar_chart,
        price_chart,
    };
    Ok(Html(page.render()?))
}

/// Sources named under the headline (the rest are in the articles section).
const SOURCES_SHOWN: usize = 3;

/// This page's address as the reader reached it, for link previews: the Host header
/// (only if it looks like a host), the scheme from a proxy's X-Forwarded-Proto.
pub fn public_url(headers: &HeaderMap, path: &str) -> String {
    let host = headers
        .get(axum::http::header::HOST)
        .and_then(|h| h.to_str().ok())
        .filter(|h| {
            !h.is_empty()
                && h.len() <= 255
                && h.chars()
                    .all(|c| c.is_ascii_alphanumeric() || ".-:[]".contains(c))
        });
    let scheme = match headers
        .get("x-forwarded-proto")
        .and_then(|h| h.to_str().ok())
    {
        Some("https") => "https",
        _ => "http",
    };
    match host {
        Some(h) => format!("{scheme}://{h}{path}"),
        None => path.to_string(),
    }
}

/// The verdict of a story the current run has not scored.
async fn unscored_verdict(
    pool: &sqlx::PgPool,
    run_id: Option<i64>,
) -> Result<Verdict, sqlx::Error> {
    let finished = sqlx::query_scalar!("SELECT finished_at FROM study_runs WHERE id = $1", run_id)
        .fetch_optional(pool)
        .await?
        .flatten();
    Ok(Verdict {
        kind: "unscored",
        headline: "Not scored yet: the current study run does not include this story.".into(),
        details: vec![format!(
            "The run{} predates it; the next run of catalyst study scores it once its \
             reaction windows have closed (the longest ends 24 hours after the report).",
            finished
                .map(|t| format!(" (finished {})", utc(t)))
                .unwrap_or_default()
        )],
    })
}

/// Why nothing of a story could be measured: the tokens left out and why, grouped by
/// reason, and where the stored prices start.
async fn unmeasured_details(
    pool: &sqlx::PgPool,
    dropped: &[DroppedView],
    interval: crate::prices::BarInterval,
) -> Result<Vec<String>, sqlx::Error> {
    if dropped.is_empty() {
        return Ok(Vec::new());
    }
    let mut by_reason: BTreeMap<&str, Vec<&str>> = BTreeMap::new();
    for d in dropped {
        by_reason.entry(&d.reason).or_default().push(&d.symbol);
    }
    let mut details: Vec<String> = by_reason
        .into_iter()
        .map(|(reason, symbols)| {
            let named = symbols
                .iter()
                .take(4)
                .copied()
                .collect::<Vec<_>>()
                .join(", ");
            let more = symbols.len().saturating_sub(4);
            if more > 0 {
                format!("{named} and {more} more: {reason}.")
            } else {
                format!("{named}: {reason}.")
            }
        })
        .collect();
    let first = sqlx::query_scalar!(
        r#"SELECT min(open_time) AS "first?" FROM price_bars WHERE interval = $1"#,
        interval.as_str()
    )
    .fetch_one(pool)
    .await?;
    if let Some(t) = first {
        details.push(format!(
            "Stored prices start {}; each token's market model needs most of the 30 days \
             before the event (the estimation window ends a day before it).",
            utc(t)
        ));
    }
    Ok(details)
}
