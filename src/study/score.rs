//! The impact score: how strongly the market reacted to this story, calibrated against
//! ordinary hours. Pure.
//!
//! 1. **What is scored.** Only a story's *subjects* (tags that are not passing mentions):
//!    the categories it is about that have at least `min_category_tokens` tokens (their
//!    portfolio of exactly the kept tokens), the tokens it names, and the market's own move
//!    when the story is about the market as a whole (macro, regulation, ETFs, exchanges,
//!    BTC as the subject). A story with no subject is kept but not ranked, with the reason.
//! 2. **Where.** In the windows where a reaction lives, from the close of the bar that
//!    contains the publication time: `[0, 1h)`, `[0, 4h)`, `[0, 24h)`; and the 24 hours
//!    before it as a component of its own ("moved before the first report"). A
//!    publication inside a bar makes that bar the publication bar: reported, never scored.
//! 3. **How strong.** Each component's t is calibrated against the same statistic at
//!    ordinary hours (`calibration::Calibrator`). The event's statistic is the smallest
//!    calibrated p over its components, under each of two market models (the run's proxy
//!    and the equal-weighted index), and the larger of the two: evidence that vanishes
//!    under the second model does not rank. That choice is itself calibrated on ordinary
//!    hours (`calibration::JointNull`), so "significant" (corrected p < 0.05) happens at 5%
//!    of ordinary hours. The score is that corrected p on the |z| scale.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};

use serde::{Deserialize, Serialize};

use super::calibration::{JointNull, LEVEL};
use super::engine::{excluded_grid, EventInput, StudyParams, Window};
use super::null::{stats_at, NullTable};
use super::series::{Series, WindowStat};
use super::stats::{t_two_sided_ln_p, z_of_two_sided_ln_p};
use super::universe::Universe;

/// What a story is about, as the score sees it.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Targets {
    /// Tokens that are a subject of the story.
    pub tokens: Vec<i32>,
    /// Categories that are a subject of the story.
    pub categories: Vec<i32>,
    /// The story is about the market as a whole: its own move counts.
    pub market_wide: bool,
    /// Tags of any salience (a story without any has nothing tracked in it).
    pub tagged: bool,
}

/// One event to score.
#[derive(Debug, Clone, Default)]
pub struct ScoreInput {
    pub bar0: i64,
    /// The publication time falls inside a bar (not on a bar's opening).
    pub mid_bar: bool,
    pub targets: Targets,
    /// Absolute bar ranges left out of the estimation window.
    pub excluded: Vec<(i64, i64)>,
}

/// One component under one market model.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ModelEvidence {
    /// The model's market proxy (BTC, equal-weighted index, ...).
    pub proxy: String,
    /// The abnormal move: a CAR, a portfolio CAR, or the market's own move beyond its mean.
    pub abnormal: f64,
    /// The series' own compounded return over the window.
    pub raw: f64,
    /// abnormal / its standard deviation.
    pub t: f64,
    /// ln of the t-based two-sided p (t with the fit's df; normal for the market).
    pub ln_p_t: f64,
    /// ln of the p calibrated on ordinary hours; absent with too few ordinary hours.
    pub ln_p_calibrated: Option<f64>,
    /// Share of ordinary hours with a weaker statistic.
    pub stronger_than: Option<f64>,
    /// Ordinary hours behind the calibration.
    pub null_hours: usize,
    /// Standard deviation of `abnormal` (for the minimum detectable effect).
    pub sd: f64,
}

/// One score component: a series in a window, under each model.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Component {
    #[serde(flatten)]
    pub series: Series,
    pub window: Window,
    /// The window before the first report.
    pub pre_report: bool,
    /// [run's model, alternative model].
    pub models: Vec<ModelEvidence>,
    /// The smallest |abnormal move| this component would detect with 80% power while the
    /// event stays significant after correction (fraction), from the calibrated null.
    pub mde: Option<f64>,
}

impl Component {
    /// The evidence under the run's model.
    pub fn primary(&self) -> &ModelEvidence {
        &self.models[0]
    }
}

/// The publication bar of the top series: reported, not scored.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct PublicationBar {
    pub abnormal: f64,
    pub raw: f64,
}

/// An event's score and everything behind it.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct EventScore {
    /// Why the event is not ranked (None when it is).
    pub not_ranked: Option<String>,
    /// The corrected p on the |z| scale.
    pub impact: Option<f64>,
    /// ln of the corrected p (both models; the weaker's evidence).
    pub ln_p: Option<f64>,
    /// Corrected p under the run's model alone, and under the alternative alone.
    pub ln_p_primary: Option<f64>,
    pub ln_p_alternative: Option<f64>,
    /// Significant under the run's model, not under the alternative.
    pub model_dependent: bool,
    /// Every component was calibrated on ordinary hours (else t-based with Bonferroni).
    pub calibrated: bool,
    /// Effective number of independent looks (JointNull::k_eff).
    pub k_eff: Option<f64>,
    pub null_hours: usize,
    /// Share of ordinary hours whose evidence is weaker.
    pub stronger_than: Option<f64>,
    /// targets or market.
    pub driver: Option<String>,
    /// Index of the component the score comes from.
    pub top: Option<usize>,
    pub components: Vec<Component>,
    pub publication_bar: Option<PublicationBar>,
    /// Absolute bar of the top component's largest abnormal bar.
    pub peak_bar: Option<i64>,
}

impl EventScore {
    pub fn top_component(&self) -> Option<&Component> {
        self.top.and_then(|i| self.components.get(i))
    }

    pub fn significant(&self) -> bool {
        self.ln_p.is_some_and(|p| p < LEVEL.ln())
    }
}

/// One market model: its universe and its null.
pub struct ModelCtx<'a> {
    pub u: &'a Universe,
    pub null: &'a NullTable,
}

/// A component under one model: (model index, series, window).
type ComponentKey = (usize, Series, Window);

/// Scores events against the nulls of one or two models; caches the joint calibration
/// of each distinct set of components (many events share one).
pub struct Scorer<'a> {
    pub params: &'a StudyParams,
    /// [run's model, alternative] (the alternative may be absent).
    pub models: Vec<ModelCtx<'a>>,
    joint: Mutex<HashMap<Vec<ComponentKey>, Option<Arc<JointNull>>>>,
}

const NOT_TAGGED: &str = "it names no tracked token or category (it is kept and searchable)";
const ONLY_MENTIONS: &str =
    "tracked markets are only mentioned in passing (see Why these tags), so nothing the story \
     is about can be measured";
pub const NOT_MEASURABLE: &str =
    "none of its subjects can be measured: categories need enough tokens \
     with prices, tokens need prices over the estimation window and every bar around the report";

/// How the reason of a story whose windows have not all closed starts.
pub const AWAITING_PRICES: &str = "awaiting prices";

/// The reason of a story that is not measurable only because the bars its windows read
/// are not in yet (`maturity`: when they close).
pub fn awaiting_reason(
    maturity: &super::engine::Maturity,
    interval: crate::prices::BarInterval,
) -> String {
    format!(
        "{AWAITING_PRICES}: scored once its last window {} closes, at {} UTC",
        maturity.last_window.label(interval),
        maturity.complete_at.format("%Y-%m-%d %H:%M")
    )
}

impl EventScore {
    /// Not ranked because none of its subjects could be measured (which a story whose
    /// windows are still open cannot be).
    pub fn unmeasurable(&self) -> bool {
        self.not_ranked.as_deref() == Some(NOT_MEASURABLE)
    }
}

impl<'a> Scorer<'a> {
    pub fn new(params: &'a StudyParams, models: Vec<ModelCtx<'a>>) -> Self {
        Scorer {
            params,
            models,
            joint: Mutex::new(HashMap::new()),
        }
    }

    /// The joint calibration of `components` under the models `models`, cached.
    fn joint(
        &self,
        components: &[(Series, Window)],
        models: std::ops::Range<usize>,
    ) -> Option<Arc<JointNull>> {
        let mut key: Vec<ComponentKey> = components
            .iter()
            .flat_map(|&(s, w)| models.clone().map(move |m| (m, s, w)))
            .collect();
        key.sort();
        if let Some(hit) = self.joint.lock().ok().and_then(|m| m.get(&key).cloned()) {
            return hit;
        }
        // Per component, its leave-one-out column under each model.
        let columns: Vec<Vec<&[f64]>> = components
            .iter()
            .map(|&(s, w)| {
                models
                    .clone()
                    .filter_map(|m| self.models.get(m)?.null.get(s, w))
                    .map(|n| n.loo.as_slice())
                    .collect()
            })
            .collect();
        let n_hours = self.models.first().map_or(0, |m| m.null.hours.len());
        let built = JointNull::new(
            |h| {
                columns
                    .iter()
                    .map(|per_model| per_model.iter().map(|col| col[h]).collect())
                    .collect()
            },
            n_hours,
        )
        .map(Arc::new);
        if let Ok(mut m) = self.joint.lock() {
            m.insert(key, built.clone());
        }
        built
    }

    /// Score one event.
    pub fn score(&self, ev: &ScoreInput) -> EventScore {
        let params = self.params;
        let t = &ev.targets;
        let not_ranked = |why: &str| EventScore {
            not_ranked: Some(why.to_string()),
            ..Default::default()
        };
        if !t.tagged {
            return not_ranked(NOT_TAGGED);
        }
        if t.tokens.is_empty() && t.categories.is_empty() && !t.market_wide {
            return not_ranked(ONLY_MENTIONS);
        }
        let Some(primary) = self.models.first() else {
            return not_ranked(NOT_MEASURABLE);
        };
        let mut windows: Vec<(Window, bool)> =
            params.score_windows.iter().map(|&w| (w, false)).collect();
        windows.push((params.pre_window_for(ev.mid_bar), true));
        let ws: Vec<Window> = windows.iter().map(|w| w.0).collect();

        // The candidate series: market (if market-wide), target categories, target tokens.
        let mut series: Vec<Series> = Vec::new();
        if t.market_wide {
            series.push(Series::Market);
        }
        series.extend(
            t.categories
                .iter()
                .map(|&c| Series::Category { category_id: c }),
        );
        series.extend(t.tokens.iter().map(|&k| Series::Token { token_id: k }));
        let ev_input = EventInput {
            bar0: ev.bar0,
            excluded: ev.excluded.clone(),
        };
        let per_model: Vec<HashMap<Series, Vec<Option<WindowStat>>>> = self
            .models
            .iter()
            .map(|m| {
                let ex = excluded_grid(m.u, &ev_input);
                stats_at(m.u, params, &series, &ws, ev.bar0, &ex)
            })
            .collect();
        // A series is a component if the run's model measures it in every window.
        let measured: Vec<Series> = series
            .iter()
            .copied()
            .filter(|s| {
                per_model[0]
                    .get(s)
                    .is_some_and(|v| v.iter().all(Option::is_some))
            })
            .collect();
        if measured.is_empty() {
            return not_ranked(NOT_MEASURABLE);
        }

        let mut components = Vec::new();
        for &s in &measured {
            for (wi, &(w, pre)) in windows.iter().enumerate() {
                let models: Vec<ModelEvidence> = self
                    .models
                    .iter()
                    .zip(&per_model)
                    .filter_map(|(m, stats)| {
                        let st = stats.get(&s)?.get(wi).copied().flatten()?;
                        let null = m.null.get(s, w);
                        let ln_p_t = if s == Series::Market {
                            super::stats::normal_two_sided_ln_p(st.t)
                        } else {
                            t_two_sided_ln_p(st.t, st.df).unwrap_or(0.0)
                        };
                        Some(ModelEvidence {
                            proxy: m.u.proxy.as_str().to_string(),
                            abnormal: st.abnormal,
                            raw: st.raw,
                            t: st.t,
                            ln_p_t,
                            ln_p_calibrated: null.map(|n| n.calibrator.ln_p(st.t)),
                            stronger_than: null.map(|n| n.calibrator.weaker_share(st.t)),
                            null_hours: null.map_or(0, |n| n.calibrator.n()),
                            sd: st.sd,
                        })
                    })
                    .collect();
                // The alternative model must measure the same thing, or it is left out.
                let models = if models.len() == self.models.len() {
                    models
                } else {
                    models.into_iter().take(1).collect()
                };
                components.push(Component {
                    series: s,
                    window: w,
                    pre_report: pre,
                    models,
                    mde: None,
                });
            }
        }

        // Calibrated evidence where every component of the run's model has a null.
        let n_models = self
            .models
            .len()
            .min(components.iter().map(|c| c.models.len()).min().unwrap_or(1));
        let calibrated = components
            .iter()
            .all(|c| c.models.iter().all(|m| m.ln_p_calibrated.is_some()));
        let ln_p_of = |c: &Component, m: usize| -> f64 {
            let e = &c.models[m];
            if calibrated {
                e.ln_p_calibrated.unwrap_or(0.0)
            } else {
                e.ln_p_t
            }
        };
        let per_model_min = |m: usize| -> (f64, usize) {
            components
                .iter()
                .enumerate()
                .map(|(i, c)| (ln_p_of(c, m), i))
                .fold((f64::INFINITY, 0), |a, b| if b.0 < a.0 { b } else { a })
        };
        let mins: Vec<(f64, usize)> = (0..n_models).map(per_model_min).collect();
        // The event's statistic: the best component that holds under every model (each
        // component judged by its weaker model), and that component is the top one.
        let weaker = |c: &Component, p: &dyn Fn(&Component, usize) -> f64| {
            (0..n_models)
                .map(|m| p(c, m))
                .fold(f64::NEG_INFINITY, f64::max)
        };
        let (ln_s, top) = components
            .iter()
            .enumerate()
            .map(|(i, c)| (weaker(c, &ln_p_of), i))
            .fold((f64::INFINITY, 0), |a, b| if b.0 < a.0 { b } else { a });

        let mut score = EventScore {
            calibrated,
            top: Some(top),
            null_hours: primary.null.hours.len(),
            ..Default::default()
        };
        let keys: Vec<(Series, Window)> = components.iter().map(|c| (c.series, c.window)).collect();
        if calibrated {
            let joint = self.joint(&keys, 0..n_models);
            let primary_joint = self.joint(&keys, 0..1);
            match (&joint, &primary_joint) {
                (Some(j), Some(pj)) => {
                    score.ln_p = Some(j.corrected_ln_p(ln_s));
                    score.k_eff = Some(j.k_eff);
                    score.stronger_than = Some(j.weaker_share(ln_s));
                    score.ln_p_primary = Some(pj.corrected_ln_p(mins[0].0));
                    if n_models > 1 {
                        score.ln_p_alternative = self
                            .joint(&keys, 1..2)
                            .map(|aj| aj.corrected_ln_p(mins[1].0));
                    }
                    // Minimum detectable effect at the event's corrected 5% level.
                    let level = j.component_level(LEVEL);
                    for c in components.iter_mut() {
                        let e = &c.models[0];
                        c.mde = primary
                            .null
                            .get(c.series, c.window)
                            .map(|n| n.calibrator.mde(level) * e.sd);
                    }
                }
                _ => score.calibrated = false,
            }
        }
        if !score.calibrated {
            // Too few ordinary hours: t-based p-values, Bonferroni over the components,
            // the weaker model's.
            let k = components.len() as f64;
            let bonferroni = |m: (f64, usize)| (k.ln() + m.0).min(0.0);
            let t_mins: Vec<(f64, usize)> = (0..n_models)
                .map(|m| {
                    components
                        .iter()
                        .enumerate()
                        .map(|(i, c)| (c.models[m].ln_p_t, i))
                        .fold((f64::INFINITY, 0), |a, b| if b.0 < a.0 { b } else { a })
                })
                .collect();
            let ln_p_t = |c: &Component, m: usize| c.models[m].ln_p_t;
            let weakest = components
                .iter()
                .enumerate()
                .map(|(i, c)| (weaker(c, &ln_p_t), i))
                .fold((f64::INFINITY, 0), |a, b| if b.0 < a.0 { b } else { a });
            score.top = Some(weakest.1);
            score.ln_p = Some(bonferroni(weakest));
            score.ln_p_primary = Some(bonferroni(t_mins[0]));
            score.ln_p_alternative = t_mins.get(1).map(|m| bonferroni(*m));
            score.k_eff = Some(k);
        }
        // Model-dependent: the event's significance, or the run's model's strongest single
        // piece of evidence, is not there under the alternative model.
        let ln05 = LEVEL.ln();
        let vanishes = score.ln_p_primary.is_some_and(|p| p < ln05)
            && score.ln_p_alternative.is_some_and(|p| p >= ln05);
        let best_primary = (mins[0].1 < components.len()).then(|| &components[mins[0].1]);
        let top_vanishes = best_primary
            .is_some_and(|c| c.models.len() > 1 && ln_p_of(c, 0) < ln05 && ln_p_of(c, 1) >= ln05);
        score.model_dependent = vanishes || top_vanishes;
        score.impact = score.ln_p.map(z_of_two_sided_ln_p);
        let top_c = score.top.map(|i| &components[i]);
        score.driver = top_c.map(|c| {
            if c.series == Series::Market {
                "market".to_string()
            } else {
                "targets".to_string()
            }
        });
        if let Some(c) = top_c {
            let stats = &per_model[0];
            let wi = windows.iter().position(|w| w.0 == c.window).unwrap_or(0);
            score.peak_bar = stats
                .get(&c.series)
                .and_then(|v| v[wi])
                .map(|st| primary.u.first_bar + st.peak);
            if ev.mid_bar {
                let pb = stats_at(
                    primary.u,
                    params,
                    &[c.series],
                    &[Window::new(-1, 0)],
                    ev.bar0,
                    &excluded_grid(primary.u, &ev_input),
                );
                score.publication_bar =
                    pb.get(&c.series)
                        .and_then(|v| v[0])
                        .map(|st| PublicationBar {
                            abnormal: st.abnormal,
                            raw: st.raw,
                        });
            }
        }
        score.components = components;
        score
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::study::null;
    use crate::study::universe::{Proxy, ReturnKind, TokenInput};

    /// A synthetic market: BTC, ETH, six tokens of one category and sixteen others, each
    /// beta·BTC + noise;
    /// a shock of `shock` on the category's tokens at bar `at`.
    fn universe(n: usize, at: usize, shock: f64, proxy: Proxy) -> Universe {
        let mut state: u64 = 0x2545_F491_4F6C_DD1D;
        let mut noise = move || {
            state ^= state << 13;
            state ^= state >> 7;
            state ^= state << 17;
            (state as f64 / u64::MAX as f64 - 0.5) * 0.02
        };
        let btc: Vec<f64> = (0..n).map(|_| noise()).collect();
        let mut inputs = Vec::new();
        for i in 0..24 {
            let mut p = 100.0;
            let closes = (0..n)
                .map(|t| {
                    let r = if i == 0 {
                        btc[t]
                    } else {
                        let hit = (2..8).contains(&i) && t == at;
                        1.2 * btc[t] + noise() + if hit { shock } else { 0.0 }
                    };
                    p *= 1.0 + r;
                    p
                })
                .collect();
            inputs.push(TokenInput {
                id: i,
                symbol: match i {
                    0 => "BTC".into(),
                    1 => "ETH".into(),
                    _ => format!("T{i}"),
                },
                categories: if (2..8).contains(&i) { vec![9] } else { vec![] },
                closes,
                caps: None,
            });
        }
        Universe::build(0, n, inputs, ReturnKind::Simple, proxy).unwrap()
    }

    fn params() -> StudyParams {
        StudyParams {
            estimation: Window::new(-200, -24),
            windows: vec![Window::new(-24, 24)],
            null_hours: 1500,
            ..StudyParams::hourly()
        }
    }

    #[test]
    fn a_story_without_subjects_is_not_ranked() {
        let u = universe(3000, 2500, 0.0, Proxy::Btc);
        let p = params();
        let table = null::build(&u, &p, &[]);
        let scorer = Scorer::new(
            &p,
            vec![ModelCtx {
                u: &u,
                null: &table,
            }],
        );
        let s = scorer.score(&ScoreInput {
            bar0: 2500,
            ..Default::default()
        });
        assert_eq!(s.not_ranked.as_deref(), Some(NOT_TAGGED));
        let s = scorer.score(&ScoreInput {
            bar0: 2500,
            targets: Targets {
                tagged: true,
                ..Default::default()
            },
            ..Default::default()
        });
        assert_eq!(s.not_ranked.as_deref(), Some(ONLY_MENTIONS));
    }

    /// A 6% shock to the category in the first hour after the news is significant, in the
    /// one-hour window, under both models; the same story at an ordinary hour is not.
    #[test]
    fn a_sharp_reaction_is_significant_and_finite() {
        let n = 3000;
        let u = universe(n, 2500, 0.06, Proxy::Btc);
        let ew = universe(n, 2500, 0.06, Proxy::EqualWeighted);
        let p = params();
        let eligible = null::eligible_hours(&u, &p, &[2500]);
        let hours = null::sample_hours(&eligible, p.null_hours, 1);
        let (t1, t2) = (null::build(&u, &p, &hours), null::build(&ew, &p, &hours));
        let scorer = Scorer::new(
            &p,
            vec![
                ModelCtx { u: &u, null: &t1 },
                ModelCtx { u: &ew, null: &t2 },
            ],
        );
        let targets = Targets {
            categories: vec![9],
            tagged: true,
            ..Default::default()
        };
        let s = scorer.score(&ScoreInput {
            bar0: 2500,
            targets: targets.clone(),
            ..Default::default()
        });
        assert!(s.calibrated, "{s:?}");
        assert!(s.significant(), "{:?}", s.ln_p);
        assert!(s.impact.is_some_and(f64::is_finite));
        let top = s.top_component().unwrap();
        assert_eq!(top.window, Window::new(0, 1));
        assert!(!top.pre_report);
        assert!(top.primary().abnormal > 0.04, "{top:?}");
        assert!(!s.model_dependent);
        assert_eq!(s.peak_bar, Some(2500));
        // An ordinary hour far from the shock.
        let calm = scorer.score(&ScoreInput {
            bar0: 1500,
            targets,
            ..Default::default()
        });
        assert!(calm.ln_p.unwrap() > (0.001f64).ln(), "{:?}", calm.ln_p);
        assert!(calm
            .components
            .iter()
            .all(|c| c.mde.is_some_and(|m| m > 0.0)));
    }
}
