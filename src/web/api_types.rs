//! The API's response documents, typed: the OpenAPI schemas are derived from these, and
//! every response goes through them (a document that does not fit fails loudly in the
//! tests rather than drifting from its schema).

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

/// One event with its articles, tags, score and the summary window's results.
#[derive(Debug, Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct EventDetail {
    #[schema(example = 12)]
    pub id: i64,
    /// The first report's time (UTC).
    pub event_time: DateTime<Utc>,
    /// How exactly event_time is known: exact, hour or day.
    #[schema(example = "exact")]
    pub time_precision: String,
    #[schema(example = "DeepSeek R1 tops the App Store; AI tokens slide")]
    pub headline: String,
    /// The feed's category of the first article (ai, etf, macro, ...).
    pub kind: Option<String>,
    pub articles: Vec<ArticleOut>,
    pub token_tags: Vec<TokenTagOut>,
    pub category_tags: Vec<CategoryTagOut>,
    /// The current run's score; null when the run has not scored the event.
    pub score: Option<ScoreOut>,
    /// The market proxy's move in every window of the run.
    pub market: Vec<MarketMoveOut>,
    /// Category results over the run's summary window ([-24h, +24h) by default).
    pub categories: Vec<CategoryResultOut>,
    /// Token results over the summary window.
    pub tokens: Vec<TokenResultOut>,
    /// Volume, volatility and taker-buy share per token and category and window (the
    /// activity_reaction view; docs/study.md, "Volume and volatility").
    pub activity: Vec<ActivityOut>,
    /// Equities and ETFs around the news: those configured for the event's categories,
    /// then the market-wide ones (docs/context.md).
    #[serde(default)]
    pub context: Vec<ContextMoveOut>,
}

/// One activity measure of a token or category in one window.
#[derive(Debug, Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct ActivityOut {
    /// token or category.
    #[schema(example = "category")]
    pub level: String,
    /// Token symbol or category slug.
    #[schema(example = "ai")]
    pub series: String,
    /// volume, volatility or taker-buy.
    #[schema(example = "volume")]
    pub measure: String,
    #[schema(example = 0)]
    pub window_start: i32,
    #[schema(example = 4)]
    pub window_end: i32,
    #[schema(example = "[0,4)")]
    pub window_label: String,
    pub n_tokens: i32,
    /// Excess over the estimation-window mean, no seasonal profile (log units; share
    /// points for taker-buy).
    #[schema(example = 0.87)]
    pub raw_excess: f64,
    /// exp(raw_excess); null for taker-buy.
    pub raw_ratio: Option<f64>,
    /// Excess over the seasonal normal: what the test judges.
    pub abnormal: f64,
    /// exp(abnormal): "Volume vs normal", "Volatility vs normal"; null for taker-buy.
    pub abnormal_ratio: Option<f64>,
    pub z: Option<f64>,
    /// Calibrated two-sided p against ordinary hours.
    pub p_value: Option<f64>,
    pub null_hours: i32,
}

/// One context asset's move around an event: the `event_context` view's row.
#[derive(Debug, Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct ContextMoveOut {
    #[schema(example = "NVDA")]
    pub symbol: String,
    pub asset_name: String,
    /// equity, etf or index.
    pub asset_kind: String,
    /// category (configured for one of the event's categories) or market-wide.
    pub relevance: String,
    /// The event's categories the asset gives context for.
    pub for_categories: Vec<String>,
    /// The first US session closing after the report (New York date).
    pub session_date: Option<chrono::NaiveDate>,
    /// Its close in UTC.
    pub session_close_at: Option<DateTime<Utc>>,
    /// The session before it: the last close before the news.
    pub previous_session_date: Option<chrono::NaiveDate>,
    pub previous_close: Option<f64>,
    pub session_open: Option<f64>,
    pub session_close: Option<f64>,
    /// Session return: session_close / previous_close - 1 (fraction).
    #[schema(example = -0.1697)]
    pub session_return: Option<f64>,
    /// Opening gap: session_open / previous_close - 1.
    pub gap_return: Option<f64>,
    /// before-open, during-session, after-close, weekend or holiday.
    pub timing: Option<String>,
    /// The timing in words ("published on Saturday: first session Monday 2025-01-27").
    pub note: String,
}

#[derive(Debug, Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct ArticleOut {
    pub title: String,
    pub url: Option<String>,
    pub source: String,
    pub published_at: DateTime<Utc>,
    /// exact, hour or day.
    pub time_precision: String,
    pub summary: Option<String>,
}

#[derive(Debug, Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct TokenTagOut {
    #[schema(example = "FET")]
    pub symbol: String,
    /// The tagging rule that matched (symbol, name, alias, declared ticker).
    pub rule: String,
    pub matched_text: String,
    /// Ambiguous tags are kept for audit and never used.
    pub ambiguous: bool,
    /// subject (scored) or mention (not scored); null for tags stored before 0011.
    pub salience: Option<String>,
    pub salience_note: Option<String>,
}

#[derive(Debug, Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct CategoryTagOut {
    #[schema(example = "ai")]
    pub category: String,
    pub rule: String,
    pub matched_text: String,
    pub salience: Option<String>,
    pub salience_note: Option<String>,
}

/// One row of `study_event_scores` (docs/sql.md describes every column; the list's
/// fields of the same names mean the same).
#[derive(Debug, Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct ScoreOut {
    /// The corrected calibrated p as |z|; null when not ranked.
    #[schema(example = 2.46)]
    pub impact_score: Option<f64>,
    /// targets, market or spillover.
    pub driver: Option<String>,
    /// target-category, target-token or market.
    pub top_kind: Option<String>,
    pub top_category_id: Option<i32>,
    pub top_token_id: Option<i32>,
    /// The abnormal move behind the score (fraction), the list's `top_move`.
    #[schema(example = -0.0228)]
    pub top_value: Option<f64>,
    pub top_stat: Option<f64>,
    /// The t-test's p of the top component, the list's `top_p_t`.
    pub top_p: Option<f64>,
    pub targets_p: Option<f64>,
    pub spillover_p: Option<f64>,
    pub spillover_tests: i32,
    /// Every component (subject × window) with its evidence under each market model.
    #[schema(value_type = Vec<Object>)]
    pub components: serde_json::Value,
    pub naive_score: Option<f64>,
    pub naive_category_id: Option<i32>,
    /// The market proxy's return over the summary window.
    pub market_return: Option<f64>,
    pub market_z: Option<f64>,
    pub overlapping_events: Vec<i64>,
    pub estimation_confounders: Vec<i64>,
    pub input_fingerprint: String,
    pub computed_at: DateTime<Utc>,
    pub not_ranked_reason: Option<String>,
    #[schema(example = 0.014)]
    pub p_value: Option<f64>,
    pub ln_p: Option<f64>,
    pub p_primary: Option<f64>,
    pub p_alternative: Option<f64>,
    pub alternative_proxy: Option<String>,
    pub model_dependent: bool,
    pub calibrated: bool,
    pub k_eff: Option<f64>,
    pub null_hours: Option<i32>,
    pub stronger_than: Option<f64>,
    pub q_value: Option<f64>,
    pub top_window_start: Option<i32>,
    pub top_window_end: Option<i32>,
    pub top_pre_report: Option<bool>,
    pub top_p_calibrated: Option<f64>,
    pub top_stronger_than: Option<f64>,
    pub top_mde: Option<f64>,
    pub publication_bar_abnormal: Option<f64>,
    pub publication_bar_return: Option<f64>,
    pub move_peak_at: Option<DateTime<Utc>>,
    /// 1-based index into `components`.
    pub top_component: Option<i32>,
    pub credited_to: Option<i64>,
    pub episode_size: i32,
    /// The list's sort key: the score, -1 for "same move", -2 for not ranked.
    pub rank_key: Option<f64>,
}

#[derive(Debug, Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct MarketMoveOut {
    #[schema(example = -24)]
    pub window_start: i32,
    #[schema(example = 24)]
    pub window_end: i32,
    #[schema(example = -0.064)]
    pub market_return: f64,
    pub z: f64,
    pub p_value: f64,
}

/// A category's results for one event and window (docs/sql.md, study_category_results).
#[derive(Debug, Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct CategoryResultOut {
    #[schema(example = "ai")]
    pub category: String,
    pub category_id: i32,
    pub window_start: i32,
    pub window_end: i32,
    #[schema(example = 14)]
    pub n_tokens: i32,
    #[schema(example = -0.0114)]
    pub caar: f64,
    pub caar_value_weighted: Option<f64>,
    pub cross_sd: Option<f64>,
    pub t_stat: Option<f64>,
    pub p_value: Option<f64>,
    pub patell_z: Option<f64>,
    pub patell_p: Option<f64>,
    pub bmp_t: Option<f64>,
    pub bmp_p: Option<f64>,
    pub kp_t: Option<f64>,
    pub kp_p: Option<f64>,
    pub mean_cross_correlation: Option<f64>,
    pub portfolio_car: Option<f64>,
    pub portfolio_t: Option<f64>,
    pub portfolio_p: Option<f64>,
    pub portfolio_sigma: Option<f64>,
    pub rank_z: Option<f64>,
    pub rank_p: Option<f64>,
    pub sign_z: Option<f64>,
    pub sign_p: Option<f64>,
    pub n_positive: i32,
}

/// A token's results for one event and window (docs/sql.md, study_token_results).
#[derive(Debug, Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct TokenResultOut {
    #[schema(example = "RENDER")]
    pub symbol: String,
    pub token_id: i32,
    pub window_start: i32,
    pub window_end: i32,
    #[schema(example = -0.111)]
    pub car: f64,
    pub car_variance: f64,
    pub scar: Option<f64>,
    pub token_return: f64,
    pub market_return: f64,
    pub car_market_adjusted: f64,
}

/// A category and its tokens.
#[derive(Debug, Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct CategoryOut {
    #[schema(example = "ai")]
    pub slug: String,
    #[schema(example = "AI")]
    pub name: String,
    pub excluded_from_aggregates: bool,
    #[schema(example = json!(["FET", "RENDER", "TAO"]))]
    pub tokens: Vec<String>,
}

/// A token, its aliases and categories, and how many price bars are stored.
#[derive(Debug, Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct TokenOut {
    #[schema(example = "RENDER")]
    pub symbol: String,
    #[schema(example = "Render")]
    pub name: String,
    #[schema(example = json!(["RNDR"]))]
    pub aliases: Vec<String>,
    #[schema(example = json!(["ai", "depin"]))]
    pub categories: Vec<String>,
    pub bars: i64,
}

/// One event in a category's or a token's history, over one window. Category rows carry
/// the category's figures, token rows the token's; the names are those of the event page.
#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
pub struct HistoryRow {
    pub event_id: i64,
    pub event_time: DateTime<Utc>,
    pub time_precision: String,
    pub headline: String,
    /// The story is about this category or token (a subject tag).
    pub subject: bool,
    /// Categories: tokens kept.
    pub n_tokens: Option<i32>,
    /// Categories: mean CAR of the kept tokens (fraction).
    #[schema(example = -0.0114)]
    pub caar: Option<f64>,
    pub portfolio_car: Option<f64>,
    pub portfolio_t: Option<f64>,
    pub portfolio_p: Option<f64>,
    /// Tokens: cumulative abnormal return (fraction).
    pub car: Option<f64>,
    pub scar: Option<f64>,
    /// Tokens: raw return over the window.
    pub token_return: Option<f64>,
    /// The event's impact score and p, as in the list.
    pub impact_score: Option<f64>,
    pub p_value: Option<f64>,
}

/// A category's or a token's history over one window.
#[derive(Debug, Serialize, Deserialize, ToSchema)]
pub struct HistoryOut {
    /// The category slug or token symbol.
    pub subject: String,
    pub window_start: i32,
    pub window_end: i32,
    /// Stories about it, strongest reaction first.
    pub subject_events: Vec<HistoryRow>,
    /// Other events (market-wide stories), by the size of its reaction.
    pub market_events: Vec<HistoryRow>,
}

/// One move found in the prices (`catalyst moves scan`), with the story it is attributed
/// to. The figures and their labels are those of `/moves` (see `/glossary`).
#[derive(Debug, Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct MoveOut {
    #[schema(example = 41)]
    pub id: i64,
    /// "market", a category slug or a token symbol.
    #[schema(example = "ai")]
    pub series: String,
    /// market, category or token.
    #[schema(example = "category")]
    pub series_kind: String,
    /// raw (the series' own log return) or abnormal (beyond beta times the market's).
    #[schema(example = "abnormal")]
    pub basis: String,
    /// -1 a fall, +1 a rise.
    #[schema(example = -1)]
    pub direction: i16,
    /// The move in its basis, in log terms, from the onset to the extreme.
    #[schema(example = -0.16)]
    pub size_log: f64,
    /// The same move as a simple return: exp(size_log) - 1 (-0.148 = -14.8%).
    #[schema(example = -0.148)]
    pub size_pct: f64,
    /// The page's label for the size: the simple percentage and the basis.
    #[schema(example = "-14.79% abnormal")]
    pub size_label: String,
    /// Move onset: when the move began (the last high before a fall, low before a rise).
    pub onset: DateTime<Utc>,
    /// When it ended: the trough of a fall, the peak of a rise.
    pub extreme_at: DateTime<Utc>,
    /// extreme_at minus onset, in seconds.
    #[schema(example = 18_000)]
    pub duration_s: i64,
    /// Interval of the bars that placed the onset and the extreme (1m, 5m or 1h).
    #[schema(example = "5m")]
    pub resolution: String,
    /// Calibrated at ordinary hours of the same series and basis.
    #[schema(example = 0.002)]
    pub p_value: f64,
    /// The detection statistic.
    #[schema(example = -4.1)]
    pub z: f64,
    /// Length of the detection window, hours.
    #[schema(example = 6)]
    pub window_hours: i32,
    /// Tokens in the series.
    #[schema(example = 14)]
    pub n_tokens: i32,
    /// True when a story is matched with the move; false: an unexplained move.
    pub explained: bool,
    /// Stories whose first report fell near the move and whose subjects include the series.
    #[schema(example = 1)]
    pub candidate_stories: i64,
    /// The story the move is attributed to (link: /events/{id}); null when unexplained.
    pub best_event_id: Option<i64>,
    pub best_headline: Option<String>,
    /// News lag of that story in seconds: its first report minus the onset (negative:
    /// reported before the move began).
    pub news_lag_s: Option<i64>,
    /// The same lag in words, as the page shows it.
    #[schema(example = "2 h 5 min")]
    pub news_lag: Option<String>,
    /// Share before the report: the part of the move (0 to 1) already done at the story's
    /// first report.
    #[schema(example = 0.35)]
    pub share_before: Option<f64>,
}

/// A page of moves.
#[derive(Debug, Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct MovesPage {
    pub moves: Vec<MoveOut>,
    /// Pass as `after` for the next page; null on the last page.
    pub next: Option<String>,
    /// Moves matching the series filter that no story explains (every page).
    pub unexplained: i64,
    /// Moves matching the series filter with a story (every page).
    pub explained: i64,
}
