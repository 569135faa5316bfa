//! Placebo events at ordinary hours: how often does a score call a story significant when
//! nothing happened? Pure.
//!
//! Ordinary hours are split in two: the null is built from one part and placebo stories
//! are scored at hours of the other, so no hour judges itself. Each placebo story is a
//! neutral headline ("X Institute publishes its quarterly survey of AI tokens") about one
//! category with enough tokens, one token, or the market as a whole. The rate of
//! "significant" among them is the false-positive rate, reported *before* (t-based
//! p-values, the old ±24 h window, the largest of targets, market and spillovers) and
//! *after* (the calibrated, corrected score).

use rayon::prelude::*;

use super::calibration::LEVEL;
use super::engine::{StudyParams, Window};
use super::null::{self, NullTable};
use super::score::{ModelCtx, ScoreInput, Scorer, Targets};
use super::series::{fit_on, market_fit, market_stat, token_fit, window_stat, Frame, WindowStat};
use super::stats::{normal_two_sided_p, t_two_sided_p, z_of_two_sided_p};
use super::universe::Universe;

/// A kind of placebo story.
#[derive(Debug, Clone, PartialEq)]
pub struct PlaceboStory {
    /// What the table calls it: a category slug, "market", or "overall".
    pub label: String,
    pub targets: Targets,
}

/// One row of the false-positive table.
#[derive(Debug, Clone, PartialEq)]
pub struct FprRow {
    pub label: String,
    /// Placebo hours scored (per split).
    pub hours: usize,
    /// Share called significant before calibration (mean over splits).
    pub before: f64,
    /// Share called significant by the calibrated score (mean over splits).
    pub after: f64,
    /// Lowest and highest `after` over the splits.
    pub after_range: (f64, f64),
    /// Random splits (placebo hours / null hours) averaged.
    pub splits: usize,
}

/// Average the rows of several splits (same stories in the same order).
pub fn average(splits: &[Vec<FprRow>]) -> Vec<FprRow> {
    let Some(first) = splits.first() else {
        return Vec::new();
    };
    let k = splits.len() as f64;
    first
        .iter()
        .enumerate()
        .map(|(i, r)| {
            let rows: Vec<&FprRow> = splits.iter().filter_map(|s| s.get(i)).collect();
            let afters: Vec<f64> = rows.iter().map(|r| r.after).collect();
            FprRow {
                label: r.label.clone(),
                hours: rows.iter().map(|r| r.hours).min().unwrap_or(0),
                before: rows.iter().map(|r| r.before).sum::<f64>() / k,
                after: afters.iter().sum::<f64>() / k,
                after_range: (
                    afters.iter().copied().fold(f64::INFINITY, f64::min),
                    afters.iter().copied().fold(f64::NEG_INFINITY, f64::max),
                ),
                splits: rows.len(),
            }
        })
        .collect()
}

/// The 99% binomial interval of a rate of `LEVEL` over `n` trials (normal approximation).
pub fn binomial_interval_99(n: usize) -> (f64, f64) {
    let sd = (LEVEL * (1.0 - LEVEL) / n as f64).sqrt();
    (LEVEL - 2.5758 * sd, LEVEL + 2.5758 * sd)
}

/// Split ordinary hours into a pool of placebo hours (`n_pool`, in random order) and null
/// hours (the rest, at most `n_null`, ascending), drawn with `seed`.
pub fn split_hours(
    eligible: &[i64],
    n_pool: usize,
    n_null: usize,
    seed: u64,
) -> (Vec<i64>, Vec<i64>) {
    let mut shuffled = eligible.to_vec();
    fastrand::Rng::with_seed(seed).shuffle(&mut shuffled);
    let pool: Vec<i64> = shuffled.iter().copied().take(n_pool).collect();
    let mut rest: Vec<i64> = shuffled.iter().copied().skip(n_pool).take(n_null).collect();
    rest.sort_unstable();
    (pool, rest)
}

/// The score before calibration, for the "before" column: the largest of the targets
/// (categories by their portfolio t, tokens by their CAR t; Bonferroni over targets), the
/// market's own move (z) and the spillovers (every other category with enough tokens;
/// Bonferroni over them), all over [−24 h, +24 h) with t-based p-values, as |z|.
pub fn score_before(
    u: &Universe,
    params: &StudyParams,
    bar0: i64,
    targets: &Targets,
) -> Option<f64> {
    let w = Window::new(-24, 24);
    let frame = Frame::new(u, params, bar0, &[]);
    let model = params.model;
    let fits: Vec<Option<super::model::Fit>> = u
        .tokens
        .iter()
        .map(|t| token_fit(u, t, params, &frame, &[]).ok())
        .collect();
    let category_stat = |c: &super::universe::UCategory| -> Option<WindowStat> {
        let kept: Vec<usize> = c
            .members
            .iter()
            .copied()
            .filter(|&i| fits[i].is_some())
            .collect();
        if kept.len() < params.min_category_tokens {
            return None;
        }
        let p = u.portfolio(&kept);
        let f = fit_on(model, &p.sums, &frame, &[]).ok()?;
        window_stat(u, model, &f, &p.returns, &u.markets[0], frame.window(u, w))
    };
    let t_p = |s: &WindowStat| t_two_sided_p(s.t, s.df).unwrap_or(1.0);
    let bonferroni = |ps: Vec<f64>| {
        let k = ps.len() as f64;
        ps.into_iter()
            .fold(None, |m: Option<f64>, p| Some(m.map_or(p, |m| m.min(p))))
            .map(|p| (p * k).min(1.0))
    };
    let mut target_ps = Vec::new();
    let mut spill_ps = Vec::new();
    for c in &u.categories {
        if let Some(s) = category_stat(c) {
            if targets.categories.contains(&c.id) {
                target_ps.push(t_p(&s));
            } else {
                spill_ps.push(t_p(&s));
            }
        }
    }
    for (i, t) in u.tokens.iter().enumerate() {
        if targets.tokens.contains(&t.id) {
            if let Some(f) = &fits[i] {
                if let Some(s) = window_stat(
                    u,
                    model,
                    f,
                    &t.returns,
                    &u.markets[t.market],
                    frame.window(u, w),
                ) {
                    target_ps.push(t_p(&s));
                }
            }
        }
    }
    let market = market_fit(u, &frame, &[])
        .and_then(|f| market_stat(u, &f, frame.window(u, w)))
        .map(|s| normal_two_sided_p(s.t));
    [bonferroni(target_ps), market, bonferroni(spill_ps)]
        .into_iter()
        .flatten()
        .map(z_of_two_sided_p)
        .max_by(f64::total_cmp)
}

/// The placebo stories of the table: one per category with at least the minimum number of
/// tokens, one about the market as a whole; "overall" draws one of them per hour, or a
/// token (to cover token targets too).
pub fn stories(
    u: &Universe,
    params: &StudyParams,
    slugs: &dyn Fn(i32) -> String,
) -> Vec<PlaceboStory> {
    let mut out: Vec<PlaceboStory> = u
        .categories
        .iter()
        .filter(|c| c.members.len() >= params.min_category_tokens)
        .map(|c| PlaceboStory {
            label: slugs(c.id),
            targets: Targets {
                categories: vec![c.id],
                tagged: true,
                ..Default::default()
            },
        })
        .collect();
    out.push(PlaceboStory {
        label: "market".into(),
        targets: Targets {
            market_wide: true,
            tagged: true,
            ..Default::default()
        },
    });
    out
}

/// One split of the ordinary hours and what to score on it.
pub struct Split<'a> {
    /// Placebo hours, in random order.
    pub pool: &'a [i64],
    /// Hours scored per story (the first where it can be scored).
    pub n_test: usize,
    /// The hours the null is built from (none of `pool`).
    pub null_hours: &'a [i64],
    /// Seed of the "overall" draw.
    pub seed: u64,
}

/// False-positive rates of `stories`: each story at the first `n_test` hours of the pool
/// where it can be scored, and "overall": at each pool hour one story drawn at random
/// among the stories and the single tokens.
pub fn evaluate(
    primary: &Universe,
    alternative: Option<&Universe>,
    params: &StudyParams,
    split: &Split,
    stories: &[PlaceboStory],
) -> Vec<FprRow> {
    let Split {
        pool,
        n_test,
        null_hours,
        seed,
    } = *split;
    let n1 = null::build(primary, params, null_hours);
    let n2: Option<NullTable> = alternative.map(|u| null::build(u, params, null_hours));
    let mut models = vec![ModelCtx {
        u: primary,
        null: &n1,
    }];
    if let (Some(u), Some(n)) = (alternative, &n2) {
        models.push(ModelCtx { u, null: n });
    }
    let scorer = Scorer::new(params, models);
    let judge = |h: i64, t: &Targets| -> Option<(bool, bool)> {
        let after = scorer.score(&ScoreInput {
            bar0: h,
            targets: t.clone(),
            ..Default::default()
        });
        after.ln_p?;
        let before = score_before(primary, params, h, t)?;
        Some((before >= z_of_two_sided_p(LEVEL), after.significant()))
    };
    let row = |label: &str, judged: Vec<Option<(bool, bool)>>| {
        let kept: Vec<(bool, bool)> = judged.into_iter().flatten().take(n_test).collect();
        let n = kept.len().max(1) as f64;
        let after = kept.iter().filter(|j| j.1).count() as f64 / n;
        FprRow {
            label: label.to_string(),
            hours: kept.len(),
            before: kept.iter().filter(|j| j.0).count() as f64 / n,
            after,
            after_range: (after, after),
            splits: 1,
        }
    };
    let mut rows: Vec<FprRow> = stories
        .iter()
        .map(|s| {
            row(
                &s.label,
                pool.par_iter().map(|&h| judge(h, &s.targets)).collect(),
            )
        })
        .collect();
    // Overall: one random headline per hour, among the stories and single tokens.
    let mut kinds: Vec<Targets> = stories.iter().map(|s| s.targets.clone()).collect();
    kinds.extend(primary.tokens.iter().map(|t| Targets {
        tokens: vec![t.id],
        tagged: true,
        ..Default::default()
    }));
    let mut rng = fastrand::Rng::with_seed(seed);
    let draws: Vec<(i64, Targets)> = pool
        .iter()
        .map(|&h| (h, kinds[rng.usize(..kinds.len())].clone()))
        .collect();
    rows.push(row(
        "overall",
        draws.par_iter().map(|(h, t)| judge(*h, t)).collect(),
    ));
    rows
}

/// The table as Markdown: rates in percent, the range over splits, and the 99% binomial
/// interval around 5% for the hours of one split.
pub fn markdown(rows: &[FprRow]) -> String {
    let mut out = String::from(
        "| placebo story about | hours per split | significant before | significant after (mean) | after, range over splits | 99% interval around 5% |\n|---|---|---|---|---|---|\n",
    );
    for r in rows {
        let (lo, hi) = binomial_interval_99(r.hours.max(1));
        let inside = if r.after >= lo && r.after <= hi {
            ""
        } else {
            " (outside)"
        };
        out.push_str(&format!(
            "| {} | {} | {:.1}% | {:.1}%{inside} | {:.1}–{:.1}% | {:.1}–{:.1}% |\n",
            r.label,
            r.hours,
            r.before * 100.0,
            r.after * 100.0,
            r.after_range.0 * 100.0,
            r.after_range.1 * 100.0,
            lo * 100.0,
            hi * 100.0
        ));
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn binomial_interval_of_2000_hours() {
        let (lo, hi) = binomial_interval_99(2000);
        assert!(
            (lo - 0.0374).abs() < 0.0005 && (hi - 0.0626).abs() < 0.0005,
            "{lo} {hi}"
        );
    }

    #[test]
    fn split_hours_are_disjoint_and_reproducible() {
        let eligible: Vec<i64> = (0..5000).collect();
        let (t, n) = split_hours(&eligible, 1000, 3000, 3);
        assert_eq!((t.len(), n.len()), (1000, 3000));
        assert!(n.windows(2).all(|w| w[0] < w[1]));
        assert!(t.iter().all(|h| n.binary_search(h).is_err()));
        assert_eq!(split_hours(&eligible, 1000, 3000, 3), (t, n));
    }
}
