//! The answer of an event page: a verdict in words and the evidence table behind the
//! score. Pure: a stored score in, sentences and rows out.

use crate::prices::BarInterval;
use crate::study::calibration::LEVEL;
use crate::study::score::Component;
use crate::study::series::Series;

use super::format::{num, p_small, pct, share, sign_class, window_words};

/// What the page knows about an event's score (one row of `study_event_scores`).
#[derive(Debug, Clone, Default)]
pub struct ScoreFacts {
    pub not_ranked_reason: Option<String>,
    pub impact: Option<f64>,
    pub p_value: Option<f64>,
    pub q_value: Option<f64>,
    pub p_primary: Option<f64>,
    pub p_alternative: Option<f64>,
    pub alternative_proxy: Option<String>,
    pub model_dependent: bool,
    pub calibrated: bool,
    pub k_eff: Option<f64>,
    pub null_hours: Option<i32>,
    pub stronger_than: Option<f64>,
    /// 1-based index of the top component.
    pub top_component: Option<i32>,
    pub components: Vec<Component>,
    pub publication_bar: Option<(f64, f64)>,
    /// The story credited with the same move: (id, headline).
    pub credited_to: Option<(i64, String)>,
    /// Other stories on this story's move: (id, headline).
    pub same_move: Vec<(i64, String)>,
}

/// The verdict: one sentence first, then what qualifies it.
#[derive(Debug, Clone, PartialEq)]
pub struct Verdict {
    /// significant, quiet, unranked or same-move (a CSS class too).
    pub kind: &'static str,
    pub headline: String,
    pub details: Vec<String>,
}

/// One row of the evidence table.
#[derive(Debug, Clone, PartialEq)]
pub struct EvidenceRow {
    pub what: String,
    pub window: String,
    pub pre_report: bool,
    pub is_top: bool,
    pub moved: String,
    pub moved_class: &'static str,
    pub p_t: String,
    pub p_calibrated: String,
    pub stronger_than: String,
    pub alt_moved: String,
    pub alt_class: &'static str,
    pub alt_p_calibrated: String,
    /// Minimum detectable move, shown where the component is not significant.
    pub mde: String,
}

/// Names of what a series is: "AI", "ADA", "the market (BTC)".
pub struct Names<'a> {
    pub category: &'a (dyn Fn(i32) -> String + Sync),
    pub token: &'a (dyn Fn(i32) -> String + Sync),
    pub proxy: &'a str,
}

impl Names<'_> {
    pub fn of(&self, s: Series) -> String {
        match s {
            Series::Market => format!("the market ({})", self.proxy),
            Series::Category { category_id } => (self.category)(category_id),
            Series::Token { token_id } => (self.token)(token_id),
        }
    }
}

fn p_of(ln: Option<f64>) -> Option<f64> {
    ln.map(f64::exp)
}

/// The evidence table: every component, the top one marked.
pub fn rows(f: &ScoreFacts, names: &Names, interval: BarInterval) -> Vec<EvidenceRow> {
    let significant = f.p_value.is_some_and(|p| p < LEVEL);
    f.components
        .iter()
        .enumerate()
        .map(|(i, c)| {
            let e = c.primary();
            let alt = c.models.get(1);
            let p_cal = p_of(e.ln_p_calibrated);
            EvidenceRow {
                what: names.of(c.series),
                window: window_words(c.window, c.pre_report, interval),
                pre_report: c.pre_report,
                is_top: f.top_component == Some(i as i32 + 1),
                moved: pct(Some(e.abnormal)),
                moved_class: sign_class(Some(e.abnormal)),
                p_t: p_small(Some(e.ln_p_t.exp())),
                p_calibrated: p_small(p_cal),
                stronger_than: share(e.stronger_than),
                alt_moved: pct(alt.map(|a| a.abnormal)),
                alt_class: sign_class(alt.map(|a| a.abnormal)),
                alt_p_calibrated: p_small(alt.and_then(|a| p_of(a.ln_p_calibrated))),
                mde: if significant {
                    String::new()
                } else {
                    c.mde
                        .map(|m| format!("±{}", pct(Some(m)).trim_start_matches('+')))
                        .unwrap_or_default()
                },
            }
        })
        .collect()
}

/// "at 12.5% of ordinary hours" for p = 0.125; "once in about 80 ordinary hours" for
/// p = 0.0125.
fn once_in(p: Option<f64>) -> String {
    match p {
        Some(p) if (0.05..1.0).contains(&p) => format!("at {} of ordinary hours", share(Some(p))),
        Some(p) if p > 0.0 && p < 1.0 => {
            let n = 1.0 / p;
            let rounded = if n < 100.0 {
                n.round()
            } else {
                let mag = 10f64.powf(n.log10().floor() - 1.0);
                (n / mag).round() * mag
            };
            format!("once in about {} ordinary hours", group_thousands(rounded))
        }
        Some(p) if p >= 1.0 => "at every ordinary hour".to_string(),
        _ => "–".to_string(),
    }
}

fn group_thousands(v: f64) -> String {
    if v >= 1e15 {
        return format!("{v:.0e}");
    }
    let digits = format!("{v:.0}");
    let mut out = String::new();
    for (i, c) in digits.chars().enumerate() {
        if i > 0 && (digits.len() - i) % 3 == 0 {
            out.push(',');
        }
        out.push(c);
    }
    out
}

/// The verdict in words.
pub fn verdict(f: &ScoreFacts, names: &Names, interval: BarInterval) -> Verdict {
    if let Some(why) = &f.not_ranked_reason {
        return Verdict {
            kind: "unranked",
            headline: format!("Not ranked: {why}."),
            details: Vec::new(),
        };
    }
    let top = f
        .top_component
        .and_then(|i| f.components.get((i - 1).max(0) as usize));
    let Some(top) = top else {
        return Verdict {
            kind: "unranked",
            headline: "No score: the study has not scored this story yet.".into(),
            details: Vec::new(),
        };
    };
    let e = top.primary();
    let what = names.of(top.series);
    let when = window_words(top.window, top.pre_report, interval);
    let relation = match top.series {
        Series::Market => "beyond its usual drift".to_string(),
        Series::Token { token_id } => {
            // The proxy's own token is measured against the other of BTC and ETH.
            let against = match ((names.token)(token_id).as_str(), names.proxy) {
                ("BTC", "BTC") => "ETH",
                ("ETH", "ETH") => "BTC",
                _ => names.proxy,
            };
            format!("beyond its normal relation to {against}")
        }
        Series::Category { .. } => format!("beyond its normal relation to {}", names.proxy),
    };
    let moved = format!(
        "{what} moved {} {relation} in {when}",
        pct(Some(e.abnormal))
    );
    let score = format!(
        "score {}, corrected p {}",
        num(f.impact),
        p_small(f.p_value)
    );
    let significant = f.p_value.is_some_and(|p| p < LEVEL);
    let mut details = Vec::new();
    let (kind, headline) = if let Some((id, lead)) = &f.credited_to {
        details.push(format!("Its own evidence: {moved} ({score})."));
        (
            "same-move",
            format!(
                "Same move as “{lead}” (event {id}): that story's first report is closest to \
                 the move, so the move is credited to it, and this story is not ranked on its own."
            ),
        )
    } else if significant {
        let pre = if top.pre_report {
            " — before this story was first reported"
        } else {
            ""
        };
        (
            "significant",
            format!("Significant ({score}): {moved}{pre}."),
        )
    } else {
        (
            "quiet",
            format!(
                "Not significant ({score}): the strongest evidence, {what} {} in {when}, is \
                 within what ordinary hours produce.",
                pct(Some(e.abnormal))
            ),
        )
    };
    if f.calibrated {
        let hours = e.null_hours;
        let stronger = match e.stronger_than {
            Some(s) if s >= 1.0 => format!("stronger than every one of {hours} ordinary hours"),
            s => format!("stronger than {} of {hours} ordinary hours", share(s)),
        };
        details.push(format!(
            "Before correction that move is {stronger} (calibrated p {}; the t-test's p {} \
             assumes normal, independent returns). The score takes the best of {} components, \
             worth {} independent looks: corrected, evidence at least this strong comes {}.",
            p_small(p_of(e.ln_p_calibrated)),
            p_small(Some(e.ln_p_t.exp())),
            f.components.len(),
            f.k_eff
                .map(|k| format!("{k:.1}"))
                .unwrap_or_else(|| "–".into()),
            once_in(f.p_value),
        ));
    } else {
        details.push(
            "Too few ordinary hours to calibrate this story's statistics: t-based p-values, \
             Bonferroni-corrected over its components."
                .to_string(),
        );
    }
    if !significant && f.credited_to.is_none() {
        if let Some(m) = top.mde {
            details.push(format!(
                "Moves smaller than {} over {when} cannot be told from an ordinary hour for {what} \
                 (80% power at the corrected 5% level).",
                pct(Some(m)).trim_start_matches('+')
            ));
        }
    }
    if let (Some(alt), Some(alt_proxy)) = (top.models.get(1), &f.alternative_proxy) {
        if f.model_dependent {
            details.push(format!(
                "Model-dependent: against the {alt_proxy} the same move is {} (calibrated p {}) \
                 instead of {} against {} — much of it is the tokens' sensitivity to {}. Ranked \
                 by the weaker of the two.",
                pct(Some(alt.abnormal)),
                p_small(p_of(alt.ln_p_calibrated)),
                pct(Some(e.abnormal)),
                names.proxy,
                names.proxy,
            ));
        } else {
            details.push(format!(
                "Checked against the {alt_proxy}: corrected p {} there, {} against {}.",
                p_small(f.p_alternative),
                p_small(f.p_primary),
                names.proxy
            ));
        }
    }
    if let Some((abnormal, raw)) = f.publication_bar {
        details.push(format!(
            "Published inside a bar: that bar ({what} {} abnormal, {} raw) holds both the \
             minutes before and after the report, so it is reported here and not scored; \
             reactions are measured from its close.",
            pct(Some(abnormal)),
            pct(Some(raw))
        ));
    }
    if !f.same_move.is_empty() {
        let others: Vec<String> = f.same_move.iter().map(|(_, h)| format!("“{h}”")).collect();
        details.push(format!(
            "Same move, also reported by {}.",
            others.join(", ")
        ));
    }
    Verdict {
        kind,
        headline,
        details,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::study::engine::Window;
    use crate::study::score::ModelEvidence;

    fn evidence(proxy: &str, abnormal: f64, ln_p: f64) -> ModelEvidence {
        ModelEvidence {
            proxy: proxy.into(),
            abnormal,
            raw: abnormal,
            t: 3.0,
            ln_p_t: ln_p - 1.0,
            ln_p_calibrated: Some(ln_p),
            stronger_than: Some(0.993),
            null_hours: 4000,
            sd: 0.01,
        }
    }

    fn facts(p: f64, model_dependent: bool) -> ScoreFacts {
        ScoreFacts {
            impact: Some(2.5),
            p_value: Some(p),
            p_primary: Some(p / 2.0),
            p_alternative: Some(p),
            alternative_proxy: Some("equal-weighted index".into()),
            model_dependent,
            calibrated: true,
            k_eff: Some(3.2),
            null_hours: Some(4000),
            stronger_than: Some(0.99),
            top_component: Some(1),
            components: vec![Component {
                series: Series::Category { category_id: 3 },
                window: Window::new(0, 1),
                pre_report: false,
                models: vec![
                    evidence("BTC", 0.031, -5.0),
                    evidence("equal-weighted index", 0.004, -1.0),
                ],
                mde: Some(0.021),
            }],
            ..Default::default()
        }
    }

    fn names<'a>(
        cat: &'a (dyn Fn(i32) -> String + Sync),
        tok: &'a (dyn Fn(i32) -> String + Sync),
    ) -> Names<'a> {
        Names {
            category: cat,
            token: tok,
            proxy: "BTC",
        }
    }

    #[test]
    fn significant_verdict_says_what_moved_when_and_how_unusual() {
        let cat = |_| "AI".to_string();
        let tok = |_| "X".to_string();
        let n = names(&cat, &tok);
        let v = verdict(&facts(0.012, false), &n, BarInterval::Hour);
        assert_eq!(v.kind, "significant");
        assert_eq!(
            v.headline,
            "Significant (score 2.50, corrected p 0.012): AI moved +3.10% beyond its normal \
             relation to BTC in the first hour."
        );
        assert!(
            v.details[0].contains("stronger than 99.3% of 4000 ordinary hours"),
            "{:?}",
            v.details
        );
        assert!(
            v.details[0].contains("comes once in about 83 ordinary hours"),
            "{:?}",
            v.details
        );
        assert!(v
            .details
            .iter()
            .any(|d| d.contains("Checked against the equal-weighted index")));
        let rows = rows(&facts(0.012, false), &n, BarInterval::Hour);
        assert!(rows[0].is_top && rows[0].mde.is_empty());
    }

    #[test]
    fn quiet_verdict_gives_the_minimum_detectable_move_and_flags_model_dependence() {
        let cat = |_| "AI".to_string();
        let tok = |_| "X".to_string();
        let n = names(&cat, &tok);
        let v = verdict(&facts(0.2, true), &n, BarInterval::Hour);
        assert_eq!(v.kind, "quiet");
        assert!(
            v.details
                .iter()
                .any(|d| d.starts_with("Moves smaller than 2.10% over the first hour")),
            "{:?}",
            v.details
        );
        assert!(v.details.iter().any(|d| d.starts_with(
            "Model-dependent: against the equal-weighted index the same move is +0.40%"
        )));
        assert_eq!(
            rows(&facts(0.2, true), &n, BarInterval::Hour)[0].mde,
            "±2.10%"
        );
    }

    #[test]
    fn rates_read_as_once_in_so_many_hours() {
        assert_eq!(once_in(Some(0.0125)), "once in about 80 ordinary hours");
        assert_eq!(once_in(Some(0.424)), "at 42.4% of ordinary hours");
        assert_eq!(
            once_in(Some(1.3e-6)),
            "once in about 770,000 ordinary hours"
        );
        assert_eq!(once_in(Some(1e-30)), "once in about 1e30 ordinary hours");
    }

    #[test]
    fn bitcoin_is_measured_against_ether_when_it_is_the_proxy() {
        let cat = |_| "AI".to_string();
        let tok = |_| "BTC".to_string();
        let n = names(&cat, &tok);
        let mut f = facts(0.01, false);
        f.components[0].series = Series::Token { token_id: 1 };
        let v = verdict(&f, &n, BarInterval::Hour);
        assert!(
            v.headline
                .contains("BTC moved +3.10% beyond its normal relation to ETH"),
            "{}",
            v.headline
        );
    }

    #[test]
    fn unranked_and_same_move_verdicts() {
        let cat = |_| "AI".to_string();
        let tok = |_| "X".to_string();
        let n = names(&cat, &tok);
        let f = ScoreFacts {
            not_ranked_reason: Some("tracked markets are only mentioned in passing".into()),
            ..Default::default()
        };
        assert_eq!(
            verdict(&f, &n, BarInterval::Hour).headline,
            "Not ranked: tracked markets are only mentioned in passing."
        );
        let mut f = facts(0.01, false);
        f.credited_to = Some((7, "Lead story".into()));
        let v = verdict(&f, &n, BarInterval::Hour);
        assert_eq!(v.kind, "same-move");
        assert!(v
            .headline
            .starts_with("Same move as “Lead story” (event 7)"));
    }
}
