//! `catalyst moves ...`: scan the prices for moves and match them with stories; measure
//! the detector's false alarms on ordinary days.

use std::collections::BTreeMap;
use std::time::Instant;

use clap::Subcommand;
use sqlx::PgPool;

use crate::moves::{self, detect::Params};

#[derive(Debug, Subcommand)]
pub enum MovesCommand {
    /// Find the moves of the market, every category and every token in the stored hourly
    /// bars, place them on the finest bars stored, match them with stories and replace
    /// the stored moves. docs/moves.md.
    Scan {
        /// Keep moves whose calibrated p is at most this.
        #[arg(long, default_value_t = Params::default().alpha)]
        alpha: f64,
    },
    /// How often the detector alarms on ordinary days: each series' null built from one
    /// half of its ordinary days (by day parity) and judged on the other half.
    FalseAlarms {
        #[arg(long, default_value_t = Params::default().alpha)]
        alpha: f64,
    },
}

pub async fn run(pool: &PgPool, command: MovesCommand) -> anyhow::Result<()> {
    match command {
        MovesCommand::Scan { alpha } => {
            anyhow::ensure!(
                alpha > 0.0 && alpha <= 1.0,
                "--alpha must be in (0, 1], got {alpha}"
            );
            let started = Instant::now();
            let r = moves::scan(pool, &Params { alpha }).await?;
            println!(
                "moves: {} series over {} hours; {} moves at p <= {alpha} ({} placed on 1m/5m bars), {} explained by a story ({:.1}s)",
                r.series,
                r.hours,
                r.moves,
                r.refined,
                r.explained,
                started.elapsed().as_secs_f64()
            );
        }
        MovesCommand::FalseAlarms { alpha } => {
            anyhow::ensure!(
                alpha > 0.0 && alpha <= 1.0,
                "--alpha must be in (0, 1], got {alpha}"
            );
            let (grid, all, events) = moves::load_series(pool).await?;
            let table = tokio::task::spawn_blocking(move || {
                let mut by_kind: BTreeMap<String, (usize, moves::false_alarms::Rates)> =
                    BTreeMap::new();
                let per: Vec<(String, moves::false_alarms::Rates)> = {
                    use rayon::prelude::*;
                    all.par_iter()
                        .map(|s| {
                            let kind = match s.series {
                                crate::study::series::Series::Market => "market",
                                crate::study::series::Series::Category { .. } => "category",
                                crate::study::series::Series::Token { .. } => "token",
                            };
                            (
                                format!("{kind} {}", s.basis_name),
                                moves::false_alarms::rates(&grid, &s.basis, &events, alpha),
                            )
                        })
                        .collect()
                };
                for (k, r) in per {
                    let e = by_kind.entry(k).or_default();
                    e.0 += 1;
                    e.1.add(&r);
                }
                by_kind
            })
            .await?;
            println!("false alarms at alpha {alpha} on ordinary hours (null from the other half of the days)");
            println!(
                "{:<18} {:>7} {:>10} {:>10} {:>8} {:>10}",
                "series", "count", "hours", "per hour", "days", "per day"
            );
            for (k, (n, r)) in table {
                println!(
                    "{:<18} {:>7} {:>10} {:>9.2}% {:>8} {:>9.1}%",
                    k,
                    n,
                    r.hours,
                    100.0 * r.per_hour(),
                    r.days,
                    100.0 * r.per_day()
                );
            }
        }
    }
    Ok(())
}
