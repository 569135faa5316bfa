//! The impact badge: one story's answer in the same words wherever it appears (the list,
//! the event page's first tile, the Atom feed): direction, asset, size, window and
//! significance. Pure: the stored score in, escaped HTML and plain text out.

use crate::prices::BarInterval;
use crate::study::calibration::LEVEL;
use crate::study::engine::Window;

use super::format::{html_escape, pct, window_words};

/// What a badge needs of a story's score (a `ListItem`'s fields).
#[derive(Debug, Clone, Default)]
pub struct BadgeFacts<'a> {
    pub not_ranked_reason: Option<&'a str>,
    /// The headline of the story credited with the same move.
    pub same_move_as: Option<&'a str>,
    /// market, target-category or target-token.
    pub top_kind: Option<&'a str>,
    pub top_category: Option<&'a str>,
    pub top_token: Option<&'a str>,
    pub proxy: &'a str,
    pub top_window: Option<Window>,
    pub top_pre_report: bool,
    pub top_move: Option<f64>,
    pub p_value: Option<f64>,
    /// Whether the study has scored the story at all.
    pub scored: bool,
}

/// The badge, in parts.
#[derive(Debug, Clone, PartialEq)]
pub struct Badge {
    /// significant, quiet, same-move, unranked or unscored (not yet, or awaiting prices;
    /// a CSS class too).
    pub kind: &'static str,
    /// up, down or flat (a CSS class too).
    pub direction: &'static str,
    pub asset: String,
    /// "-2.28%", or empty.
    pub size: String,
    /// "in the first hour", or empty.
    pub window: String,
    /// "significant", "not significant", "same move", "not ranked", "awaiting prices",
    /// "not scored yet".
    pub verdict: String,
}

impl Badge {
    pub fn of(f: &BadgeFacts, interval: BarInterval) -> Badge {
        let asset = match f.top_kind {
            Some("market") => format!("market ({})", f.proxy),
            Some("target-token") => f.top_token.unwrap_or_default().to_string(),
            Some(_) => f.top_category.unwrap_or_default().to_string(),
            None => String::new(),
        };
        let direction = match f.top_move {
            Some(m) if m > 0.0 => "up",
            Some(m) if m < 0.0 => "down",
            _ => "flat",
        };
        let window = f
            .top_window
            .map(|w| format!("in {}", window_words(w, f.top_pre_report, interval)))
            .unwrap_or_default();
        let significant = f.p_value.is_some_and(|p| p < LEVEL);
        let awaiting = f
            .not_ranked_reason
            .is_some_and(|r| r.starts_with(crate::study::score::AWAITING_PRICES));
        let (kind, verdict) = if awaiting {
            ("unscored", crate::study::score::AWAITING_PRICES.to_string())
        } else if f.not_ranked_reason.is_some() {
            ("unranked", "not ranked".to_string())
        } else if f.same_move_as.is_some() {
            ("same-move", "same move".to_string())
        } else if !f.scored {
            ("unscored", "not scored yet".to_string())
        } else if significant {
            ("significant", "significant".to_string())
        } else {
            ("quiet", "not significant".to_string())
        };
        let measured = matches!(kind, "significant" | "quiet" | "same-move");
        Badge {
            kind,
            direction: if measured { direction } else { "flat" },
            asset: if measured { asset } else { String::new() },
            size: if measured {
                pct(f.top_move)
            } else {
                String::new()
            },
            window: if measured { window } else { String::new() },
            verdict,
        }
    }

    /// The badge as plain text: "▼ AI -2.28% in the first hour · significant".
    pub fn text(&self) -> String {
        let mut parts: Vec<&str> = Vec::new();
        let arrow = self.arrow();
        if !arrow.is_empty() {
            parts.push(arrow);
        }
        for p in [&self.asset, &self.size, &self.window] {
            if !p.is_empty() {
                parts.push(p);
            }
        }
        let head = parts.join(" ");
        if head.is_empty() {
            self.verdict.clone()
        } else {
            format!("{head} · {}", self.verdict)
        }
    }

    fn arrow(&self) -> &'static str {
        match self.direction {
            "up" => "▲",
            "down" => "▼",
            _ => "",
        }
    }

    /// The badge as HTML: each part in its own element, the move tagged with its API field
    /// name so tests (and scrapers) can check it against the API.
    pub fn html(&self) -> String {
        let mut s = format!(r#"<span class="badge {} {}">"#, self.kind, self.direction);
        let arrow = self.arrow();
        if !arrow.is_empty() {
            s.push_str(&format!(
                r#"<span class="arrow" aria-hidden="true">{arrow}</span> "#
            ));
        }
        if !self.asset.is_empty() {
            s.push_str(&format!(
                r#"<span class="asset">{}</span> "#,
                html_escape(&self.asset)
            ));
        }
        if !self.size.is_empty() {
            s.push_str(&format!(
                r#"<span class="size" data-field="top_move">{}</span> "#,
                html_escape(&self.size)
            ));
        }
        if !self.window.is_empty() {
            s.push_str(&format!(
                r#"<span class="window">{}</span> · "#,
                html_escape(&self.window)
            ));
        }
        s.push_str(&format!(
            r#"<span class="sig">{}</span></span>"#,
            html_escape(&self.verdict)
        ));
        s
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn facts() -> BadgeFacts<'static> {
        BadgeFacts {
            top_kind: Some("target-category"),
            top_category: Some("AI"),
            proxy: "BTC",
            top_window: Some(Window::new(0, 1)),
            top_move: Some(-0.0228),
            p_value: Some(0.014),
            scored: true,
            ..Default::default()
        }
    }

    #[test]
    fn a_significant_fall_reads_in_words() {
        let b = Badge::of(&facts(), BarInterval::Hour);
        assert_eq!(b.text(), "▼ AI -2.28% in the first hour · significant");
        assert_eq!(b.kind, "significant");
        let html = b.html();
        assert!(html.starts_with(r#"<span class="badge significant down">"#));
        assert!(html.contains(r#"<span class="size" data-field="top_move">-2.28%</span>"#));
    }

    #[test]
    fn quiet_market_pre_report_and_unranked_badges() {
        let mut f = facts();
        f.top_kind = Some("market");
        f.p_value = Some(0.2);
        f.top_pre_report = true;
        f.top_window = Some(Window::new(-24, 0));
        f.top_move = Some(0.031);
        assert_eq!(
            Badge::of(&f, BarInterval::Hour).text(),
            "▲ market (BTC) +3.10% in the 24 hours before the report · not significant"
        );
        f.not_ranked_reason = Some("no subject");
        let b = Badge::of(&f, BarInterval::Hour);
        assert_eq!(b.text(), "not ranked");
        assert_eq!(b.kind, "unranked");
        f.not_ranked_reason = Some("awaiting prices: scored once its last window closes");
        assert_eq!(Badge::of(&f, BarInterval::Hour).text(), "awaiting prices");
        let unscored = BadgeFacts {
            proxy: "BTC",
            ..Default::default()
        };
        assert_eq!(
            Badge::of(&unscored, BarInterval::Hour).text(),
            "not scored yet"
        );
    }

    #[test]
    fn names_are_escaped() {
        let mut f = facts();
        f.top_category = Some("<AI & co>");
        assert!(Badge::of(&f, BarInterval::Hour)
            .html()
            .contains("&lt;AI &amp; co&gt;"));
    }
}
