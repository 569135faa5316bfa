//! `catalyst demo`: the curated events and the shared hourly prices, through the real
//! ingest, import and study code, then the web UI.

use std::path::{Path, PathBuf};
use std::time::Instant;

use anyhow::{bail, Context};
use clap::Args;
use serde::Deserialize;

use super::config::Settings;
use crate::db::Database;
use crate::ingest::{self, FeedLocation};
use crate::prices::{self, store::ImportMode, BarInterval};
use crate::study::{self, RunOptions, StudyParams};

/// The 31 curated real events of 2024–2025 (copied from shared/data/news).
pub const CURATED_EVENTS: &str = include_str!("../../demo/curated-events-2024-2025.csv");
/// Where the price files sit inside the data directory.
pub const PRICES_SUBDIR: &str = "prices/binance-hourly-close";
/// Hourly OHLCV with base-asset volume (read when present).
pub const OHLCV_SUBDIR: &str = "prices/binance-spot-ohlcv-1h";
/// Daily klines with trade counts and taker-buy volume (read when present).
pub const KLINES_SUBDIR: &str = "prices/binance-spot-klines-1d";
/// Intraday OHLCV (`volume` = base volume), each folder one interval: 5-minute bars of 25
/// tokens for 2025 H1 (BTC from 2024), of 17 around the 2024-08-05 crash, and 1-minute
/// bars of BTC, ETH (and SOL) over the DeepSeek weeks and the same crash. Stored under
/// their own interval: the study reads `1h` only, so its figures do not move.
pub const INTRADAY_SUBDIRS: [(&str, BarInterval); 4] = [
    ("prices/binance-spot-ohlcv-5m", BarInterval::FiveMinutes),
    (
        "prices/binance-spot-ohlcv-5m-2024-08-01_10",
        BarInterval::FiveMinutes,
    ),
    (
        "prices/binance-spot-ohlcv-1m/2025-01-01_2025-02-04",
        BarInterval::Minute,
    ),
    (
        "prices/binance-spot-ohlcv-1m/2024-08-01_2024-08-10",
        BarInterval::Minute,
    ),
];
pub const DEMO_SOURCE_NAME: &str = "Catalyst curated events";

#[derive(Debug, Clone, Args)]
pub struct DemoArgs {
    /// Data directory holding prices/binance-hourly-close/*.csv [env CATALYST_DEMO_DATA;
    /// default: the first ../shared/data found beside the current directory or one of its
    /// parents, else beside the binary or one of its parents].
    #[arg(long, env = "CATALYST_DEMO_DATA", hide_env = true)]
    pub data_dir: Option<PathBuf>,
    /// Address to serve on [env CATALYST_ADDR; default: 127.0.0.1:8080].
    #[arg(long)]
    pub addr: Option<std::net::SocketAddr>,
    /// Load the data and run the study, then exit without serving.
    #[arg(long)]
    pub no_serve: bool,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DemoReport {
    pub events_new: usize,
    pub price_files: usize,
    pub bars: usize,
    pub study_events: usize,
    /// Events the study recomputed (0 when nothing changed).
    pub computed: usize,
    /// 1- and 5-minute bars stored (0 when all were stored already).
    pub intraday_bars: usize,
}

/// Where the demo looks for its data when no directory is given, in order: `../shared/data`
/// from the working directory and each of its parents, then from the binary's directory
/// and each of its parents (`target/release/catalyst` in a clone finds the clone's
/// neighbour). Decided at run time: a binary copied elsewhere looks around itself, not
/// where it was built.
pub fn data_dir_candidates(cwd: Option<&Path>, exe: Option<&Path>) -> Vec<PathBuf> {
    let beside = |start: &Path| -> Vec<PathBuf> {
        start
            .ancestors()
            .map(|a| a.join("../shared/data"))
            .collect()
    };
    let mut out: Vec<PathBuf> = Vec::new();
    for dir in cwd.into_iter().chain(exe.and_then(Path::parent)) {
        for c in beside(dir) {
            if !out.contains(&c) {
                out.push(c);
            }
        }
    }
    out
}

/// Find the data directory: the one given (flag or `CATALYST_DEMO_DATA`), else the first
/// of [`data_dir_candidates`] that holds the price files.
pub fn resolve_data_dir(given: Option<&Path>) -> anyhow::Result<PathBuf> {
    let has_prices = |d: &Path| d.join(PRICES_SUBDIR).is_dir();
    let tidy = |d: PathBuf| std::fs::canonicalize(&d).unwrap_or(d);
    if let Some(d) = given {
        if has_prices(d) {
            return Ok(tidy(d.to_path_buf()));
        }
        bail!(
            "{}: no {PRICES_SUBDIR}/ folder here; pass --data-dir (or set CATALYST_DEMO_DATA) \
             with the folder that holds it",
            d.display()
        );
    }
    let cwd = std::env::current_dir().ok();
    let exe = std::env::current_exe().ok();
    let candidates = data_dir_candidates(cwd.as_deref(), exe.as_deref());
    candidates
        .iter()
        .find(|d| has_prices(d))
        .cloned()
        .map(tidy)
        .ok_or_else(|| {
            anyhow::anyhow!(
                "demo data not found: no ../shared/data beside {} or its parents{}; pass \
                 --data-dir DIR (or set CATALYST_DEMO_DATA), where DIR/{PRICES_SUBDIR}/ holds \
                 hourly price files (SYMBOLUSDT.csv with open_time,close)",
                cwd.as_deref()
                    .map_or("the working directory".into(), |d| d.display().to_string()),
                exe.as_deref()
                    .map(|e| format!(" nor beside the binary {}", e.display()))
                    .unwrap_or_default()
            )
        })
}

#[derive(Debug, Deserialize)]
struct CuratedRow {
    published_at: String,
    time_precision: String,
    kind: String,
    title: String,
    summary: String,
}

fn xml_escape(s: &str) -> String {
    s.replace('&', "&amp;")
        .replace('<', "&lt;")
        .replace('>', "&gt;")
        .replace('"', "&quot;")
        .replace('\'', "&apos;")
}

/// Render the curated events CSV as an RSS 2.0 feed: one item per event, the event kind
/// as the item category, a stable guid (the items have no links of their own).
pub fn curated_to_rss(csv_text: &str) -> anyhow::Result<String> {
    let mut reader = csv::Reader::from_reader(csv_text.as_bytes());
    let mut items = String::new();
    for (i, row) in reader.deserialize::<CuratedRow>().enumerate() {
        let row = row.with_context(|| format!("curated events, row {}", i + 2))?;
        let published = chrono::DateTime::parse_from_rfc3339(&row.published_at)
            .with_context(|| format!("curated events, row {}: published_at", i + 2))?;
        let guid = format!(
            "catalyst-curated:{}:{}",
            row.published_at,
            crate::ingest::normalize::title_key(&row.title).replace(' ', "-")
        );
        items.push_str(&format!(
            "<item><title>{}</title><description>{}</description><pubDate>{}</pubDate>\
             <guid isPermaLink=\"false\">{}</guid><category>{}</category>\
             <category domain=\"time-precision\">{}</category></item>\n",
            xml_escape(&row.title),
            xml_escape(&row.summary),
            published.to_rfc2822(),
            xml_escape(&guid),
            xml_escape(&row.kind),
            xml_escape(&row.time_precision),
        ));
    }
    Ok(format!(
        "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n<rss version=\"2.0\"><channel>\
         <title>{DEMO_SOURCE_NAME}</title><link>https://example.invalid/catalyst</link>\
         <description>Real market-moving news of 2024-2025, curated for Catalyst</description>\n\
         {items}</channel></rss>\n"
    ))
}

/// Where the real NewsAPI headlines of January 2025 sit inside the data directory.
pub const NEWSAPI_FILE: &str = "news/newsapi-crypto-2025-01.json";

#[derive(Debug, Deserialize)]
struct NewsApiResponse {
    articles: Vec<NewsApiArticle>,
}

#[derive(Debug, Deserialize)]
struct NewsApiArticle {
    source: NewsApiSource,
    title: Option<String>,
    description: Option<String>,
    url: Option<String>,
    #[serde(rename = "publishedAt")]
    published_at: Option<String>,
}

#[derive(Debug, Deserialize)]
struct NewsApiSource {
    name: Option<String>,
}

/// A NewsAPI `/v2/everything` response as one RSS 2.0 feed per publisher: (publisher,
/// feed). The articles keep their own links, so they are stored under their URLs.
pub fn newsapi_to_feeds(json: &str) -> anyhow::Result<Vec<(String, String)>> {
    let response: NewsApiResponse =
        serde_json::from_str(json).context("NewsAPI response: not the expected JSON")?;
    let mut by_source: std::collections::BTreeMap<String, String> = Default::default();
    for (i, a) in response.articles.iter().enumerate() {
        let (Some(title), Some(published)) = (&a.title, &a.published_at) else {
            continue;
        };
        let published = chrono::DateTime::parse_from_rfc3339(published)
            .with_context(|| format!("NewsAPI article {i}: publishedAt"))?;
        let source = a.source.name.clone().unwrap_or_else(|| "unknown".into());
        let link = a
            .url
            .as_deref()
            .map(|u| format!("<link>{}</link>", xml_escape(u)))
            .unwrap_or_default();
        by_source.entry(source).or_default().push_str(&format!(
            "<item><title>{}</title>{link}<description>{}</description><pubDate>{}</pubDate></item>\n",
            xml_escape(title),
            xml_escape(a.description.as_deref().unwrap_or("")),
            published.to_rfc2822(),
        ));
    }
    Ok(by_source
        .into_iter()
        .map(|(source, items)| {
            let rss = format!(
                "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n<rss version=\"2.0\"><channel>\
                 <title>{}</title><link>https://example.invalid/newsapi</link>\
                 <description>NewsAPI articles of January 2025</description>\n{items}</channel></rss>\n",
                xml_escape(&source)
            );
            (source, rss)
        })
        .collect())
}

/// Ingest the real NewsAPI headlines of January 2025 from the data directory, one feed
/// per publisher (the feeds are written to `dir`, never into the repository).
pub async fn ingest_newsapi(
    pool: &sqlx::PgPool,
    data_dir: &Path,
    dir: &Path,
) -> anyhow::Result<(usize, usize)> {
    let path = data_dir.join(NEWSAPI_FILE);
    let text =
        std::fs::read_to_string(&path).with_context(|| format!("reading {}", path.display()))?;
    let fetcher = ingest::http::Fetcher::new(Default::default())?;
    let (mut fetched, mut new) = (0, 0);
    for (i, (source, rss)) in newsapi_to_feeds(&text)?.into_iter().enumerate() {
        let feed_path = dir.join(format!("newsapi-{i:02}.rss"));
        std::fs::write(&feed_path, rss)
            .with_context(|| format!("writing {}", feed_path.display()))?;
        let r = ingest::ingest_feed(
            pool,
            &fetcher,
            &FeedLocation::File(feed_path),
            Some(&format!("{source} (NewsAPI)")),
        )
        .await?;
        fetched += r.fetched;
        new += r.new;
    }
    Ok((fetched, new))
}

/// Load everything the demo needs and run the study. Idempotent: a second run adds
/// nothing and skips price files already stored.
pub async fn setup(pool: &sqlx::PgPool, data_dir: &Path) -> anyhow::Result<DemoReport> {
    super::ensure_taxonomy(pool).await?;

    let started = Instant::now();
    // Per user: another user's leftover folder in /tmp must not be in the way.
    let feed_dir =
        std::env::temp_dir().join(format!("catalyst-demo-{}", nix::unistd::Uid::effective()));
    std::fs::create_dir_all(&feed_dir)
        .with_context(|| format!("creating {}", feed_dir.display()))?;
    let feed_path = feed_dir.join("curated-events.rss");
    std::fs::write(&feed_path, curated_to_rss(CURATED_EVENTS)?)
        .with_context(|| format!("writing {}", feed_path.display()))?;
    // A file: the fetcher's HTTP settings do not come into it.
    let fetcher = ingest::http::Fetcher::new(Default::default())?;
    let ingested = ingest::ingest_feed(
        pool,
        &fetcher,
        &FeedLocation::File(feed_path),
        Some(DEMO_SOURCE_NAME),
    )
    .await?;
    println!(
        "news: {} curated events, {} new ({:.1}s)",
        ingested.fetched,
        ingested.new,
        started.elapsed().as_secs_f64()
    );
    let started = Instant::now();
    let (headlines, headlines_new) = if data_dir.join(NEWSAPI_FILE).is_file() {
        ingest_newsapi(pool, data_dir, &feed_dir).await?
    } else {
        (0, 0)
    };
    println!(
        "news: {headlines} real headlines of January 2025 (NewsAPI), {headlines_new} new ({:.1}s)",
        started.elapsed().as_secs_f64()
    );

    let started = Instant::now();
    let price_dir = data_dir.join(PRICES_SUBDIR);
    let imported = prices::import(pool, &price_dir, None, BarInterval::Hour).await?;
    println!(
        "prices: {} files, {} bars stored, {} already up to date ({:.1}s)",
        imported.files,
        imported.bars,
        imported.unchanged_files,
        started.elapsed().as_secs_f64()
    );
    // Volume and ranges from the hourly OHLCV, on the hours of the closes above: the two
    // agree wherever both exist (except the close files' last bar, still forming when
    // they were downloaded), and the study's grid stays the closes' own.
    let ohlcv_dir = data_dir.join(OHLCV_SUBDIR);
    if ohlcv_dir.is_dir() {
        let started = Instant::now();
        let r = prices::import_as(pool, &ohlcv_dir, BarInterval::Hour, ImportMode::Enrich).await?;
        println!(
            "prices: volume and ranges (hourly OHLCV), {} files, {} bars enriched, {} already up to date ({:.1}s)",
            r.files,
            r.bars,
            r.unchanged_files,
            started.elapsed().as_secs_f64()
        );
    }
    // Taker flow: daily klines with trade counts and taker-buy volume.
    let klines_dir = data_dir.join(KLINES_SUBDIR);
    if klines_dir.is_dir() {
        let started = Instant::now();
        let r = prices::import(pool, &klines_dir, None, BarInterval::Day).await?;
        println!(
            "prices: daily klines, {} files, {} bars stored, {} already up to date ({:.1}s)",
            r.files,
            r.bars,
            r.unchanged_files,
            started.elapsed().as_secs_f64()
        );
    }
    // The market series analysts query (`market_proxy_bars`), as `prices import` builds
    // them; only when bars changed, so a second demo run stays quick.
    if imported.bars > 0 {
        let started = Instant::now();
        let built = prices::proxies::build(pool, BarInterval::Hour).await?;
        let parts: Vec<String> = built.rows.iter().map(|(p, n)| format!("{p} {n}")).collect();
        println!(
            "market proxies: {} ({:.1}s)",
            parts.join(", "),
            started.elapsed().as_secs_f64()
        );
    }

    let intraday_bars = import_intraday(pool, data_dir).await?;

    // The equities context (docs/context.md), when the shared data has it.
    let equities = data_dir.join(crate::context::EQUITIES_SUBDIR);
    if equities.is_dir() {
        let started = Instant::now();
        let name = "built-in config/context.toml";
        let assets = crate::context::config::parse(crate::context::BUILTIN_CONTEXT, name)?;
        let r = crate::context::import(pool, &assets, name, &equities).await?;
        println!(
            "context: {} equities and ETFs, {} daily bars, {} new or changed; {} category betas ({:.1}s)",
            r.assets,
            r.bars,
            r.changed,
            r.betas,
            started.elapsed().as_secs_f64()
        );
    }

    let started = Instant::now();
    let studied = study::run(pool, &StudyParams::default(), RunOptions::default()).await?;
    println!(
        "study: {} events, {} recomputed, {} scored ({:.1}s)",
        studied.events,
        studied.computed,
        studied.scored,
        started.elapsed().as_secs_f64()
    );

    // The market's own moves and the stories that explain them (docs/moves.md).
    let started = Instant::now();
    let moved = crate::moves::scan(pool, &crate::moves::detect::Params::default()).await?;
    println!(
        "moves: {} found in {} series, {} placed on 1m/5m bars, {} explained by a story ({:.1}s)",
        moved.moves,
        moved.series,
        moved.refined,
        moved.explained,
        started.elapsed().as_secs_f64()
    );
    Ok(DemoReport {
        events_new: ingested.new + headlines_new,
        price_files: imported.files,
        bars: imported.bars,
        study_events: studied.events,
        computed: studied.computed,
        intraday_bars,
    })
}

/// The intraday folders that exist, each imported under its interval (read where they
/// are, never copied), with the market proxies of that interval rebuilt over the bars
/// written. A folder whose files are all stored writes nothing. Returns the bars stored.
async fn import_intraday(pool: &sqlx::PgPool, data_dir: &Path) -> anyhow::Result<usize> {
    let mut stored = 0;
    for (sub, interval) in INTRADAY_SUBDIRS {
        let dir = data_dir.join(sub);
        if !dir.is_dir() {
            continue;
        }
        let started = Instant::now();
        let r = prices::import(pool, &dir, None, interval).await?;
        let mut proxies = String::new();
        if let Some(changed) = r.changed {
            let built = prices::proxies::rebuild(pool, interval, changed).await?;
            let rows: usize = built.rows.iter().map(|(_, n)| n).sum();
            proxies = format!(", {rows} proxy rows");
        }
        println!(
            "prices: {} ({}), {} files, {} bars stored, {} already up to date{proxies} ({:.1}s)",
            sub.trim_start_matches("prices/"),
            interval.as_str(),
            r.files,
            r.bars,
            r.unchanged_files,
            started.elapsed().as_secs_f64()
        );
        stored += r.bars;
    }
    Ok(stored)
}

/// Set the demo up, then serve on `listener` (bound before the set-up, so a busy port is
/// reported at once) unless `--no-serve`.
pub async fn run(
    db: &Database,
    settings: &Settings,
    args: &DemoArgs,
    listener: Option<tokio::net::TcpListener>,
) -> anyhow::Result<()> {
    let data_dir = resolve_data_dir(args.data_dir.as_deref())?;
    println!("demo data: {}", data_dir.display());
    super::until_interrupted(setup(&db.pool, &data_dir)).await?;
    match listener {
        Some(listener) if !args.no_serve => {
            super::serve_on(super::web_pool(db, settings).await?, listener).await
        }
        _ => Ok(()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_data_directory_is_looked_for_beside_the_working_directory_then_the_binary() {
        let c = data_dir_candidates(
            Some(Path::new("/home/u/catalyst/src")),
            Some(Path::new("/opt/catalyst/target/release/catalyst")),
        );
        let at = |p: &str| {
            c.iter()
                .position(|x| x == Path::new(p))
                .unwrap_or_else(|| panic!("{p} not among {c:?}"))
        };
        assert_eq!(at("/home/u/catalyst/src/../shared/data"), 0);
        assert!(at("/home/u/catalyst/../shared/data") < at("/opt/catalyst/../shared/data"));
        // Nothing fixed when the binary was built.
        assert!(!c.iter().any(|p| p.starts_with(env!("CARGO_MANIFEST_DIR"))));
    }

    #[test]
    fn curated_events_render_as_a_feed_the_parser_reads_back() {
        let rss = curated_to_rss(CURATED_EVENTS).unwrap();
        let feed = crate::ingest::feed::parse(rss.as_bytes(), "curated.rss").unwrap();
        assert_eq!(feed.items.len(), 31);
        assert!(feed.skipped.is_empty());
        let deepseek = feed
            .items
            .iter()
            .find(|i| i.title.starts_with("Crypto market nosedives"))
            .unwrap();
        assert_eq!(
            deepseek.published_at.to_rfc3339(),
            "2025-01-27T10:00:00+00:00"
        );
        assert_eq!(deepseek.categories[0], "ai");
        assert!(deepseek.summary.as_deref().unwrap().contains("RNDR -14.6%"));
        let ampersand = feed
            .items
            .iter()
            .find(|i| i.title.contains("Liberation Day"))
            .unwrap();
        assert!(ampersand.title.contains("\"Liberation Day\""));
    }
}
