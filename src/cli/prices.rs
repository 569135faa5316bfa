//! `catalyst prices ...`: import, backfill, gaps, proxies, upkeep.

use std::io::IsTerminal;
use std::path::PathBuf;
use std::sync::Mutex;

use anyhow::Context;
use chrono::{DateTime, NaiveDate, Utc};
use clap::{Args, Subcommand, ValueEnum};
use indicatif::{ProgressBar, ProgressStyle};
use sqlx::PgPool;

use crate::prices::backfill::{self, BackfillEvent};
use crate::prices::binance::{self, Binance};
use crate::prices::coingecko::{self, ApiKey, CoinGecko};
use crate::prices::csv_source::CsvSource;
use crate::prices::provider::{HttpPolicy, Provider};
use crate::prices::{self, proxies, registry, store, upkeep, BarInterval};

#[derive(Debug, Subcommand)]
pub enum PricesCommand {
    /// Import bars from a CSV file or a directory of CSV files (see README for the formats).
    Import {
        /// A .csv file, or a directory whose .csv files are all imported.
        path: PathBuf,
        /// Token symbol [default: from the file name, BTCUSDT.csv → BTC].
        #[arg(long)]
        symbol: Option<String>,
        /// Bar interval of the file.
        #[arg(long, default_value = "1h")]
        interval: BarInterval,
        /// Do not rebuild the market proxies afterwards.
        #[arg(long)]
        no_proxies: bool,
    },
    /// Fetch the bars missing in [--from, --to) from a provider; resumable (rerun it).
    /// Without --from: the history the study needs (about 200 days back from now).
    Backfill {
        #[command(flatten)]
        range: RangeArgs,
        #[command(flatten)]
        source: SourceArgs,
    },
    /// Report missing bars per token (inside each token's own first..last bar by default).
    Gaps {
        #[command(flatten)]
        range: OptRangeArgs,
        /// Token registry TOML [default: the built-in config/tokens.toml].
        #[arg(long)]
        registry: Option<PathBuf>,
    },
    /// Rebuild the materialised market proxies (btc, eth, ew, vw, total-cap).
    Proxies {
        #[arg(long, default_value = "1h")]
        interval: BarInterval,
    },
    /// One upkeep pass: bring the last --lookback-hours of every token current.
    Upkeep {
        #[arg(long, default_value_t = 48)]
        lookback_hours: i64,
        #[arg(long, default_value = "1h")]
        interval: BarInterval,
        #[command(flatten)]
        source: SourceArgs,
    },
}

#[derive(Debug, Clone, Copy, ValueEnum)]
pub enum ProviderName {
    Binance,
    Coingecko,
    Csv,
}

#[derive(Debug, Clone, Args)]
pub struct SourceArgs {
    /// Token registry TOML [default: the built-in config/tokens.toml].
    #[arg(long)]
    pub(super) registry: Option<PathBuf>,
    /// Where bars come from.
    #[arg(long, value_enum, default_value = "binance")]
    provider: ProviderName,
    /// Binance REST base URL.
    #[arg(long, env = "CATALYST_BINANCE_URL", default_value = binance::DEFAULT_BASE_URL)]
    binance_url: String,
    /// CoinGecko REST base URL [default: the public API, or the pro API when
    /// COINGECKO_PRO_API_KEY is set]. Keys come only from the environment:
    /// COINGECKO_PRO_API_KEY or COINGECKO_DEMO_API_KEY.
    #[arg(long, env = "CATALYST_COINGECKO_URL")]
    coingecko_url: Option<String>,
    /// Directory of <BINANCE SYMBOL>.csv files [default: none; required with --provider
    /// csv].
    #[arg(long)]
    csv_dir: Option<PathBuf>,
}

#[derive(Debug, Args)]
pub struct RangeArgs {
    /// First bar (YYYY-MM-DD or RFC 3339, UTC) [default: as far back as the study's
    /// calibrated score needs, 200 days].
    #[arg(long, value_parser = parse_when)]
    from: Option<DateTime<Utc>>,
    /// End, exclusive [default: now; bars are fetched only once complete].
    #[arg(long, value_parser = parse_when)]
    to: Option<DateTime<Utc>>,
    /// Tokens (symbols or aliases), comma-separated [default: all in the registry].
    #[arg(long, value_delimiter = ',')]
    tokens: Option<Vec<String>>,
    #[arg(long, default_value = "1h")]
    interval: BarInterval,
}

#[derive(Debug, Args)]
pub struct OptRangeArgs {
    /// First bar (YYYY-MM-DD or RFC 3339, UTC) [default: each token's first bar].
    #[arg(long, value_parser = parse_when)]
    from: Option<DateTime<Utc>>,
    /// End, exclusive [default: each token's last bar].
    #[arg(long, value_parser = parse_when)]
    to: Option<DateTime<Utc>>,
    /// Tokens (symbols or aliases), comma-separated [default: all in the registry].
    #[arg(long, value_delimiter = ',')]
    tokens: Option<Vec<String>>,
    /// Bar interval.
    #[arg(long, default_value = "1h")]
    interval: BarInterval,
}

fn parse_when(s: &str) -> Result<DateTime<Utc>, String> {
    if let Ok(d) = NaiveDate::parse_from_str(s, "%Y-%m-%d") {
        return Ok(d.and_hms_opt(0, 0, 0).unwrap_or_default().and_utc());
    }
    prices::csv::parse_time(s)
        .ok_or_else(|| format!("{s:?} is not a date (YYYY-MM-DD) or an RFC 3339 time"))
}

pub(super) async fn load_registry(pool: &PgPool, file: Option<&PathBuf>) -> anyhow::Result<()> {
    let (text, name) = match file {
        Some(p) => (
            std::fs::read_to_string(p).with_context(|| format!("reading {}", p.display()))?,
            p.display().to_string(),
        ),
        None => (
            registry::BUILTIN_REGISTRY.to_string(),
            "built-in config/tokens.toml".into(),
        ),
    };
    let reg = registry::parse(&text, &name)?;
    store::save_registry(pool, &reg).await?;
    Ok(())
}

pub(super) fn provider(args: &SourceArgs) -> anyhow::Result<Provider> {
    let policy = HttpPolicy::default();
    Ok(match args.provider {
        ProviderName::Binance => Provider::Binance(Binance::new(&args.binance_url, policy)?),
        ProviderName::Coingecko => {
            let key = ApiKey::from_env();
            let base = args.coingecko_url.clone().unwrap_or_else(|| {
                match key {
                    Some(ApiKey::Pro(_)) => coingecko::PRO_BASE_URL,
                    _ => coingecko::DEFAULT_BASE_URL,
                }
                .to_string()
            });
            Provider::CoinGecko(CoinGecko::new(&base, key, policy)?)
        }
        ProviderName::Csv => {
            let dir = args
                .csv_dir
                .clone()
                .context("--provider csv needs --csv-dir DIR")?;
            Provider::Csv(CsvSource::new(dir))
        }
    })
}

/// Show one backfill event: on the progress bar when there is one, else as a log line.
fn show(bar: Option<&ProgressBar>, e: BackfillEvent<'_>) {
    match (bar, e) {
        (
            Some(bar),
            BackfillEvent::Page {
                symbol,
                id,
                stored,
                covered,
            },
        ) => {
            bar.inc(covered.max(0) as u64);
            bar.set_message(format!("{symbol} ({id}): +{stored}"));
        }
        (
            None,
            BackfillEvent::Page {
                symbol,
                id,
                stored,
                covered,
            },
        ) => eprintln!("{symbol} ({id}): {stored} bars stored of {covered} missing"),
        (_, BackfillEvent::TokenFailed { symbol, error }) => {
            let line = format!("{symbol}: failed: {error}");
            match bar {
                Some(bar) => bar.println(line),
                None => eprintln!("{line}"),
            }
        }
        (
            None,
            BackfillEvent::Planned {
                tokens,
                missing_bars,
            },
        ) => eprintln!("{missing_bars} bars missing over {tokens} tokens"),
        _ => {}
    }
}

pub async fn run(pool: &PgPool, command: PricesCommand) -> anyhow::Result<()> {
    match command {
        PricesCommand::Import {
            path,
            symbol,
            interval,
            no_proxies,
        } => {
            let r = prices::import(pool, &path, symbol.as_deref(), interval).await?;
            println!(
                "{}: {} files, {} bars stored, {} files already up to date",
                path.display(),
                r.files,
                r.bars,
                r.unchanged_files
            );
            // Only the bars the import wrote (and the one after each range) are rebuilt.
            if let (false, Some(changed)) = (no_proxies, r.changed) {
                proxies::rebuild(pool, interval, changed).await?;
            }
        }
        PricesCommand::Backfill { range, source } => {
            load_registry(pool, source.registry.as_ref()).await?;
            let provider = provider(&source)?;
            let to = range.to.unwrap_or_else(Utc::now);
            let from = match range.from {
                Some(from) => from,
                None => {
                    let history = crate::study::StudyParams::default().history();
                    let from = backfill::last_complete_bar_end(to - history, range.interval);
                    println!(
                        "fetching the missing bars of the {} days of history the study needs (from {})",
                        history.num_days(),
                        from.format("%Y-%m-%d %H:%M UTC")
                    );
                    from
                }
            };
            // The total is known only once planned: the bar is made then.
            let planned = Mutex::new(None::<ProgressBar>);
            let terminal = std::io::stderr().is_terminal();
            let on_event = |e: BackfillEvent<'_>| {
                if let (true, BackfillEvent::Planned { missing_bars, .. }) = (terminal, &e) {
                    let bar = ProgressBar::new((*missing_bars).max(0) as u64);
                    if let Ok(style) =
                        ProgressStyle::with_template("{bar:40} {pos}/{len} bars {eta} {wide_msg}")
                    {
                        bar.set_style(style);
                    }
                    if let Ok(mut p) = planned.lock() {
                        *p = Some(bar);
                    }
                    return;
                }
                let bar = planned.lock().ok().and_then(|p| p.clone());
                show(bar.as_ref(), e);
            };
            let report = backfill::backfill(
                pool,
                &provider,
                range.tokens.as_deref(),
                range.interval,
                from,
                to,
                &on_event,
            )
            .await?;
            if let Some(bar) = planned.lock().ok().and_then(|p| p.clone()) {
                bar.finish_and_clear();
            }
            if report.stored > 0 {
                proxies::build(pool, range.interval).await?;
                crate::worker::store::want(pool, crate::worker::STUDY_JOB).await?;
            }
            println!(
                "backfill from {}: {} tokens, {} bars missing before, {} stored in {} requests, {} still missing",
                provider.name(),
                report.tokens,
                report.missing_before,
                report.stored,
                report.requests,
                report.missing_after
            );
            if !report.no_provider_id.is_empty() {
                println!(
                    "no {} id: {}",
                    provider.name(),
                    report.no_provider_id.join(", ")
                );
            }
            if !report.failures.is_empty() {
                for (symbol, error) in &report.failures {
                    println!("failed: {symbol}: {error}");
                }
                anyhow::bail!(
                    "{} tokens failed (rerun to resume: stored pages are kept)",
                    report.failures.len()
                );
            }
        }
        PricesCommand::Gaps { range, registry } => {
            load_registry(pool, registry.as_ref()).await?;
            let tokens = store::tracked_tokens(pool, "binance", range.tokens.as_deref()).await?;
            let mut conn = pool.acquire().await?;
            let (mut total, mut with_gaps) = (0i64, 0usize);
            for t in &tokens {
                let Some((first, last)) = store::bar_span(pool, t.id, range.interval).await? else {
                    println!("{}: no bars", t.symbol);
                    continue;
                };
                let step = chrono::Duration::seconds(range.interval.seconds());
                let from = range.from.unwrap_or(first);
                let to = range.to.unwrap_or(last + step);
                let gaps = store::missing_ranges(&mut conn, t.id, range.interval, from, to).await?;
                let n: i64 = gaps.iter().map(|g| g.bars).sum();
                if n == 0 {
                    continue;
                }
                total += n;
                with_gaps += 1;
                let shown: Vec<String> = gaps
                    .iter()
                    .take(5)
                    .map(|g| format!("{} .. {} ({})", g.start, g.end, g.bars))
                    .collect();
                let more = if gaps.len() > 5 {
                    format!(", and {} more", gaps.len() - 5)
                } else {
                    String::new()
                };
                println!("{}: {n} missing bars: {}{more}", t.symbol, shown.join(", "));
            }
            println!(
                "{total} missing bars in {with_gaps} of {} tokens",
                tokens.len()
            );
            // Fields beyond the close: a bar may have a price and no volume.
            let coverage =
                store::field_coverage(pool, range.interval, range.from, range.to).await?;
            let by_id: std::collections::HashMap<i32, &store::FieldCoverage> =
                coverage.iter().map(|c| (c.token_id, c)).collect();
            println!("fields per token (bars with the field / bars stored):");
            for t in &tokens {
                let Some(c) = by_id.get(&t.id) else { continue };
                let pct = |n: i64| 100.0 * n as f64 / c.bars.max(1) as f64;
                println!(
                    "{}: {} bars; volume {} ({:.1}%), high/low {} ({:.1}%), taker-buy {} ({:.1}%)",
                    t.symbol,
                    c.bars,
                    c.volume,
                    pct(c.volume),
                    c.range,
                    pct(c.range),
                    c.taker,
                    pct(c.taker)
                );
            }
        }
        PricesCommand::Proxies { interval } => {
            let r = proxies::build(pool, interval).await?;
            let parts: Vec<String> = r.rows.iter().map(|(p, n)| format!("{p} {n}")).collect();
            println!(
                "market proxies ({}): {}",
                interval.as_str(),
                parts.join(", ")
            );
        }
        PricesCommand::Upkeep {
            lookback_hours,
            interval,
            source,
        } => {
            load_registry(pool, source.registry.as_ref()).await?;
            let provider = provider(&source)?;
            let mut opts = upkeep::UpkeepOptions::new(Utc::now());
            opts.interval = interval;
            opts.lookback = chrono::Duration::hours(lookback_hours);
            let r = upkeep::run_once(pool, std::slice::from_ref(&provider), &opts).await?;
            println!(
                "upkeep: {} tokens, {} bars stored in {} requests, {} locked by another worker, {} failed",
                r.tokens,
                r.stored,
                r.requests,
                r.locked_elsewhere,
                r.failures.len()
            );
        }
    }
    Ok(())
}
