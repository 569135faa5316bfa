//! One vocabulary: every figure the pages, the API, the CSV export and the SQL views show,
//! with its one label, its field name and its definition. Pages take their labels and
//! their hover explanations (`<abbr title>`) from here, and `/glossary` lists them all, so
//! a label cannot mean two things on two pages.

/// One figure.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Term {
    /// Anchor on `/glossary` (`/glossary#score`).
    pub id: &'static str,
    /// The label on every page.
    pub label: &'static str,
    /// Its name in the API, the CSV export and the `event_impact` view, where it has one.
    pub field: &'static str,
    /// One sentence: what it is.
    pub short: &'static str,
    /// How it is computed, and how to read it.
    pub long: &'static str,
}

/// The event list's and the event page's figures first, then the tables'.
pub const TERMS: &[Term] = &[
    Term {
        id: "score",
        label: "Score",
        field: "impact_score",
        short: "How unusual the reaction was compared with ordinary hours, as |z|: 1.96 is p 0.05, 3 is p 0.003.",
        long: "The corrected p below on the familiar |z| scale. Only the story's subjects count; \
               the reactions are measured in the first hour, the first 4 hours and the first 24 \
               hours from the report, with the 24 hours before it as evidence of its own; the \
               score takes the best of them and must hold against a second market model.",
    },
    Term {
        id: "p",
        label: "p",
        field: "p_value",
        short: "The share of ordinary hours with evidence at least this strong, corrected for every window, subject and model the score takes the best of.",
        long: "Calibrated on thousands of ordinary hours (random hours away from every story), \
               not on the normal distribution: crypto returns are fat-tailed and their \
               volatility clusters, so a t-test's p is too small. A p below 0.05 is \
               significant, and happens at 5% of ordinary hours.",
    },
    Term {
        id: "significant",
        label: "Significant",
        field: "significant",
        short: "p below 0.05 (score 1.96 or more).",
        long: "Measured on placebo stories at ordinary hours, the share called significant is \
               about 5% (docs/study.md has the table).",
    },
    Term {
        id: "q",
        label: "q",
        field: "q_value",
        short: "Benjamini–Hochberg q-value: the expected share of false discoveries among the ranked stories down to this one.",
        long: "A list cut at q 0.10 holds, on average, one false discovery in ten.",
    },
    Term {
        id: "abnormal-move",
        label: "Abnormal move",
        field: "top_move",
        short: "The move behind the score: what the story's strongest subject did beyond what its usual relation to the market predicts, over the window named beside it.",
        long: "A token's return minus α + β × the market's return (α, β from the 30 days \
               before); a category's is that of the equal-weighted portfolio of its tokens \
               kept for the event. Its window is one of the first hour, the first 4 hours, the \
               first 24 hours (from the close of the bar the story was published in) or the \
               24 hours before the report.",
    },
    Term {
        id: "market-move",
        label: "Market move",
        field: "market_return",
        short: "The market proxy's own return (BTC by default) from 24 hours before the story to 24 hours after, [−24h, +24h).",
        long: "Raw, not abnormal: what the whole market did around the story. A story can be \
               significant with a flat market (its subjects moved on their own) or not \
               significant in a falling market (everything fell together).",
    },
    Term {
        id: "strongest-token",
        label: "Strongest token",
        field: "",
        short: "The story's named token with the largest abnormal move (CAR) over [−24h, +24h).",
        long: "Shown for orientation; the score's evidence is the abnormal move above.",
    },
    Term {
        id: "calibrated-p",
        label: "Calibrated p",
        field: "top_p_calibrated",
        short: "One piece of evidence's p before the correction: the share of ordinary hours at least as strong in that window for that subject.",
        long: "The evidence table shows it for every subject and window; the score corrects the \
               best of them for the number of looks.",
    },
    Term {
        id: "t-test-p",
        label: "t-test p",
        field: "top_p_t",
        short: "The textbook p of the same evidence, assuming normal, independent returns.",
        long: "Shown for comparison: at ordinary hours a t-based 5% happens 12–15% of the time.",
    },
    Term {
        id: "model-dependent",
        label: "Model-dependent",
        field: "model_dependent",
        short: "The evidence holds against BTC but not against the equal-weighted index of all tokens.",
        long: "Much of the “abnormal” move then comes from the tokens' betas to BTC. Ranked by \
               the weaker of the two models.",
    },
    Term {
        id: "same-move",
        label: "Same move",
        field: "credited_to",
        short: "Another story is credited with this story's move: the one reported closest to the move's largest bar.",
        long: "Stories whose evidence is the same move (same asset, same direction, overlapping \
               windows) form an episode; only the credited story is ranked.",
    },
    Term {
        id: "not-ranked",
        label: "Not ranked",
        field: "not_ranked_reason",
        short: "The story names nothing tracked as its subject, or nothing it names can be measured; the reason is given.",
        long: "A passing mention (a modifier like “Bitcoin-inspired”, a name only in the \
               description, one item of a list) never makes a story about a market.",
    },
    Term {
        id: "mde",
        label: "Min. detectable",
        field: "top_mde",
        short: "The smallest abnormal move, in that window, that would be significant with 80% chance.",
        long: "Read from the same ordinary hours; shown where a story is not significant. \
               Smaller moves cannot be told from an ordinary hour.",
    },
    Term {
        id: "time-precision",
        label: "Time precision",
        field: "time_precision",
        short: "How exactly the first report's time is known: to the minute, to the hour, or only the day.",
        long: "A day-precision time is a placeholder hour on that day: the reaction windows may \
               start before or after the real report.",
    },
    Term {
        id: "car",
        label: "CAR",
        field: "car",
        short: "Cumulative abnormal return: a token's abnormal returns summed over a window of bars.",
        long: "Windows are in bars from bar 0, the bar holding the first report: [0, +24h) is \
               bar 0 and the 23 after it.",
    },
    Term {
        id: "caar",
        label: "CAAR",
        field: "caar",
        short: "Cumulative average abnormal return: the mean CAR of a category's tokens kept for the event (N).",
        long: "Equal-weighted: a small token counts as much as a large one.",
    },
    Term {
        id: "portfolio-car",
        label: "Portfolio CAR",
        field: "portfolio_car",
        short: "The CAR of the category's kept tokens held as one equal-weighted portfolio, with its own market model.",
        long: "Close to the CAAR (the same tokens); its t-test is robust to the tokens moving \
               together.",
    },
    Term {
        id: "portfolio-t",
        label: "Portfolio t",
        field: "portfolio_t",
        short: "The portfolio CAR divided by its standard deviation from the estimation window.",
        long: "Robust to cross-correlation, t-based (not calibrated).",
    },
    Term {
        id: "kp-t",
        label: "KP t",
        field: "kp_t",
        short: "Kolari–Pynnönen: the BMP test adjusted for the tokens' mean cross-correlation r̄.",
        long: "Robust to cross-correlation, t-based (not calibrated).",
    },
    Term {
        id: "rbar",
        label: "r̄",
        field: "mean_cross_correlation",
        short: "The mean correlation between the kept tokens' residuals on the estimation window.",
        long: "Crypto tokens' residuals are correlated (r̄ 0.3–0.6), which is why the \
               textbook tests below over-reject.",
    },
    Term {
        id: "naive",
        label: "Textbook tests",
        field: "t_stat, patell_z, bmp_t, rank_z, sign_z",
        short: "Cross-sectional t, Patell Z, BMP t, rank z and sign z: they assume independent tokens.",
        long: "Crypto tokens are not independent, so these overstate significance; shown for \
               comparison with the literature, never used for the score.",
    },
    Term {
        id: "scar",
        label: "SCAR",
        field: "scar",
        short: "A token's CAR divided by its standard deviation over the window.",
        long: "How many standard deviations the token moved; t-based.",
    },
    Term {
        id: "own-return",
        label: "Own return",
        field: "token_return",
        short: "A token's raw return over the window, before any market adjustment.",
        long: "The price change a holder saw.",
    },
    Term {
        id: "alpha-beta-sigma",
        label: "α, β, σ",
        field: "alpha, beta, sigma",
        short: "The token's market model on the estimation window: intercept, sensitivity to the market, residual volatility per bar.",
        long: "Fitted by least squares on the 30 days before the event (ending a day before).",
    },
    Term {
        id: "n",
        label: "N",
        field: "n_tokens",
        short: "Tokens of a category kept for the event: a full estimation window and every bar of the event span.",
        long: "Categories under 5 kept tokens never enter the score.",
    },
    Term {
        id: "volume-vs-normal",
        label: "Volume vs normal",
        field: "abnormal_ratio (measure volume)",
        short: "Traded volume over the window as a multiple of its normal level for those hours of the day and days of the week (×2.0: twice the usual).",
        long: "Log volume (base asset) against a normal level fitted on the 30 days before the \
               story: a mean plus an hour-of-day and a weekday effect, because crypto trades \
               more in US hours and less at weekends. The p compares the excess with the same \
               window at ordinary hours. The plain multiple of the 30-day mean, without the \
               hour and weekday profile, is raw_ratio.",
    },
    Term {
        id: "volatility-vs-normal",
        label: "Volatility vs normal",
        field: "abnormal_ratio (measure volatility)",
        short: "Price variance over the window, from each hour's high–low range, as a multiple of its normal level for those hours (×4.0: twice the usual swings).",
        long: "The Parkinson range variance ln(high/low)²/(4 ln 2) summed over the window's \
               bars, against the same sum of the normal levels fitted on the 30 days before \
               (hour-of-day and weekday profile). A variance ratio: its square root is the \
               ratio of volatilities. The p compares it with ordinary hours.",
    },
    Term {
        id: "taker-buy-share",
        label: "Taker-buy share",
        field: "abnormal (measure taker-buy)",
        short: "The change in the share of the day's volume bought by takers (aggressive buyers), against its 30-day mean, in percentage points.",
        long: "From Binance daily klines: taker-buy base volume over base volume, on the UTC \
               day of the story (and the two days from it), against the 30 days before. Below \
               zero: sellers were the ones in a hurry. Calibrated at ordinary days.",
    },
    Term {
        id: "session-return",
        label: "Session return",
        field: "session_return",
        short: "A context asset's (equity, ETF) move from the last close before the news to the first close after it.",
        long: "The close of the first US session closing after the report over the \
               previous session's close (16:00 New York: 21:00 UTC in winter, 20:00 in \
               summer). News on a weekend or holiday waits for the next session; the note \
               beside it says so (docs/context.md).",
    },
    Term {
        id: "gap-return",
        label: "Opening gap",
        field: "gap_return",
        short: "A context asset's open over the previous close: its move before the session opened.",
        long: "For news published outside trading hours, the first reaction of the stock \
               market.",
    },
    Term {
        id: "equity-beta",
        label: "Equity beta",
        field: "beta",
        short: "A crypto category's session return per unit of an equity's, fitted by least squares over the last 250 sessions.",
        long: "The category's return is the equal-weighted mean of its tokens' returns between \
               the hourly closes at consecutive US session closes, so both series cover the \
               same hours (docs/context.md, \"Betas\").",
    },
    Term {
        id: "move-onset",
        label: "Move onset",
        field: "onset",
        short: "When a move found in the prices began: the last high before a fall, the last low before a rise.",
        long: "Placed on the finest bars stored for that span (1-minute, 5-minute or hourly: \
               the move's resolution); the move ends at its extreme, the trough of a fall or \
               the peak of a rise. catalyst moves scan finds the moves of the market proxy, \
               of every category portfolio of at least 5 tokens and of every token, each \
               judged against ordinary hours of the same series (docs/moves.md).",
    },
    Term {
        id: "unexplained-move",
        label: "Unexplained move",
        field: "explained",
        short: "A move found in the prices that no story explains: no story about that series (a market-wide one for the market) was first reported from 24 hours before its onset to 24 hours after its extreme.",
        long: "The market moved and none of your sources said why: news they missed, news \
               from a source not followed, or a move with no news at all. Also where to look \
               when a feed is missing. An explained move is attributed to one story, the one \
               reported closest to the move's largest bar (the ranking's rule).",
    },
    Term {
        id: "news-lag",
        label: "News lag",
        field: "news_lag_s",
        short: "How long after a move's onset a report came: its publication time minus the onset (negative: reported before the move began).",
        long: "For a story, its first report; for a source, its first article about the move. \
               /sources gives each source's median over the moves it reported (day-precision \
               reports left out: their hour is unknown).",
    },
    Term {
        id: "share-before",
        label: "Share before the report",
        field: "share_before",
        short: "How much of a move, from its onset to its extreme, had already happened when the story was first reported: 0% (all of it came after) to 100% (all of it came before).",
        long: "Read from the move's path at the first report. A large share means the price \
               knew first: the report confirmed a move rather than started it.",
    },
    Term {
        id: "time-to-half",
        label: "Time to half the move",
        field: "",
        short: "From the first report to the moment the price had covered half of its move to the window's extreme (up to 12 hours after the report).",
        long: "Measured on the event page's reaction curve, at the finest bars stored (1-minute, \
               else 5-minute, else hourly): the cumulative log path of the story's moved \
               series, from 6 hours before the report to 12 hours after.",
    },
];

/// The term with this id. Panics on an unknown id: ids are constants of this crate, and a
/// test walks every use.
pub fn term(id: &str) -> &'static Term {
    TERMS
        .iter()
        .find(|t| t.id == id)
        .unwrap_or_else(|| panic!("glossary has no term {id:?}"))
}

/// `<abbr>` markup for a label: the label, its one-sentence definition on hover, and a
/// link target on `/glossary`. Escaped: the texts are ours but may hold `<` or `&`.
pub fn abbr(id: &str) -> String {
    let t = term(id);
    format!(
        r#"<abbr title="{}">{}</abbr>"#,
        escape(t.short),
        escape(t.label)
    )
}

fn escape(s: &str) -> String {
    s.replace('&', "&amp;")
        .replace('<', "&lt;")
        .replace('>', "&gt;")
        .replace('"', "&quot;")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ids_and_labels_are_unique() {
        for (i, a) in TERMS.iter().enumerate() {
            for b in &TERMS[i + 1..] {
                assert_ne!(a.id, b.id);
                assert_ne!(a.label, b.label, "one label, one figure");
            }
        }
    }

    #[test]
    fn abbr_escapes_and_explains() {
        let html = abbr("caar");
        assert!(html.starts_with("<abbr title=\"Cumulative average abnormal return"));
        assert!(html.ends_with(">CAAR</abbr>"));
        assert!(!abbr("q").contains("–\"") && abbr("q").contains("false discoveries"));
    }
}
