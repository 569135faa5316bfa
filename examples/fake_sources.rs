//! Local fake sources for rehearsing the live tracker (README, "Going live"): a news site
//! and a Binance klines API on one replay clock, serving the real shared data
//! (`../shared/data`, read at run time). The same code serves `tests/live_day.rs`.
//!
//! ```sh
//! cargo run --release --example fake_sources -- [--port 8399] [--start 2025-01-27T00:00:00Z]
//!     [--speed 1800] [--data-dir ../shared/data]
//! ```

#[path = "../tests/support/fake_sources.rs"]
mod fake_sources;

use std::path::PathBuf;

use anyhow::Context;
use catalyst::clock::Replay;
use chrono::Utc;

fn arg(args: &[String], name: &str) -> Option<String> {
    args.iter()
        .position(|a| a == name)
        .and_then(|i| args.get(i + 1).cloned())
}

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    let args: Vec<String> = std::env::args().skip(1).collect();
    if args.iter().any(|a| a == "--help" || a == "-h") {
        println!(
            "fake_sources [--port 8399] [--start 2025-01-27T00:00:00Z] [--speed 1800] [--data-dir ../shared/data]\n\
             A fake news site (the curated events and the NewsAPI headlines of January 2025, each\n\
             shown once the market time passes it) and a fake Binance klines API (the real shared\n\
             hourly closes up to the market time), for `catalyst serve --replay`."
        );
        return Ok(());
    }
    let port: u16 = arg(&args, "--port")
        .map_or(Ok(8399), |p| p.parse())
        .context("--port")?;
    let start = arg(&args, "--start").unwrap_or_else(|| "2025-01-27T00:00:00Z".into());
    let speed = arg(&args, "--speed").unwrap_or_else(|| "1800".into());
    let data = match arg(&args, "--data-dir") {
        Some(d) => PathBuf::from(d),
        None => catalyst::cli::demo::resolve_data_dir(None)?,
    };
    // Whole seconds: the tracker is given the same instant (`at=`) and agrees exactly.
    let now = chrono::DateTime::from_timestamp(Utc::now().timestamp(), 0).unwrap_or_else(Utc::now);
    let replay =
        Replay::parse(&format!("{start},speed={speed}"), now).map_err(anyhow::Error::msg)?;
    let prices = data.join("prices/binance-hourly-close");
    let symbols = fake_sources::symbols_in(&prices)
        .with_context(|| format!("reading {}", prices.display()))?;
    let symbol_refs: Vec<&str> = symbols.iter().map(String::as_str).collect();
    let closes = fake_sources::load_closes(&prices, &symbol_refs)?;
    let mut stories = fake_sources::curated_stories(catalyst::cli::demo::CURATED_EVENTS);
    let newsapi = data.join("news/newsapi-crypto-2025-01.json");
    if let Ok(json) = std::fs::read_to_string(&newsapi) {
        stories.extend(fake_sources::newsapi_stories(&json));
    }
    let fake = fake_sources::Fake::new(replay, stories, closes);
    let (addr, server) = fake_sources::serve(fake.clone(), ([127, 0, 0, 1], port).into())
        .await
        .with_context(|| format!("listening on 127.0.0.1:{port}"))?;
    println!(
        "fake news site: http://{addr}/feed.xml ({} stories, each shown once the market time passes it)",
        fake.stories.len()
    );
    println!(
        "fake Binance:   http://{addr}/api/v3/klines ({} tokens' real hourly closes from {})",
        symbols.len(),
        prices.display()
    );
    println!(
        "market time:    {} and {}x the wall clock",
        replay.start.format("%Y-%m-%d %H:%M UTC"),
        replay.speed
    );
    println!("\nFor the tracker, in another terminal:\n");
    println!("export CATALYST_BINANCE_URL=http://{addr}");
    println!(
        "export CATALYST_REPLAY={},speed={},at={}",
        replay.start.to_rfc3339(),
        replay.speed,
        replay.at.timestamp()
    );
    println!("\nCtrl-C stops.");
    tokio::select! {
        _ = tokio::signal::ctrl_c() => {}
        _ = server => {}
    }
    Ok(())
}
