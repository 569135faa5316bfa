//! The equities context on the pages: the event page's "Equities around the news"
//! (templates/events/context.html), the API's `context` array, and the category page's
//! betas to equities (templates/context_betas.html). The figures come from
//! `crate::context`; their labels and field names from the glossary and the
//! `event_context` view.

use chrono::{DateTime, NaiveDate, Utc};

use super::api_types::ContextMoveOut;
use super::format::{num, pct, sign_class};
use super::glossary::abbr;
use crate::context::{self, ContextMove};

/// One asset's line on the event page.
pub struct ContextRowView {
    pub symbol: String,
    pub name: String,
    /// "ai, ai-agents" or "market-wide".
    pub why: String,
    /// The session return, e.g. "-16.97%", and its sign class.
    pub session_return: String,
    pub class: &'static str,
    /// "Mon 27 Jan 2025 session (close 21:00 UTC)", or empty when no session.
    pub session: String,
    /// "previous close 142.62 (Fri 24 Jan 2025) → close 118.42", or empty.
    pub closes: String,
    /// The opening gap, or empty when the open is unknown.
    pub gap_return: String,
    pub gap_class: &'static str,
    pub note: String,
}

/// The section's labels (glossary).
pub struct ContextLabels {
    pub session_return: String,
    pub gap_return: String,
}

/// The event page's section: its rows and labels.
pub struct ContextSection {
    pub rows: Vec<ContextRowView>,
    pub labels: ContextLabels,
}

fn day(d: NaiveDate) -> String {
    d.format("%a %-d %b %Y").to_string()
}

/// A price with as many decimals as it needs to be read (two above 1).
fn price(v: f64) -> String {
    if v >= 1.0 {
        format!("{v:.2}")
    } else {
        format!("{v:.4}")
    }
}

fn row_view(m: &ContextMove) -> ContextRowView {
    let session = m.placement.session.map(|s| {
        format!(
            "{} session (close {} UTC)",
            day(s.date),
            s.close_at.format("%H:%M")
        )
    });
    let closes = match (m.previous_close, m.session_close, m.placement.previous) {
        (Some(p), Some(c), Some(prev)) => format!(
            "previous close {} ({}) → close {}",
            price(p),
            day(prev.date),
            price(c)
        ),
        _ => String::new(),
    };
    ContextRowView {
        symbol: m.symbol.clone(),
        name: m.name.clone(),
        why: if m.for_categories.is_empty() {
            "market-wide".to_string()
        } else {
            m.for_categories.join(", ")
        },
        session_return: pct(m.session_return),
        class: sign_class(m.session_return),
        session: session.unwrap_or_default(),
        closes,
        gap_return: m.gap_return.map(|g| pct(Some(g))).unwrap_or_default(),
        gap_class: sign_class(m.gap_return),
        note: m.placement.note.clone(),
    }
}

/// The event page's section (no rows when no context asset is stored).
pub async fn section(
    pool: &sqlx::PgPool,
    event_id: i64,
    event_time: DateTime<Utc>,
) -> Result<ContextSection, sqlx::Error> {
    let moves = context::moves_for_event(pool, event_id, event_time).await?;
    Ok(ContextSection {
        rows: moves.iter().map(row_view).collect(),
        labels: ContextLabels {
            session_return: abbr("session-return"),
            gap_return: abbr("gap-return"),
        },
    })
}

/// The API's `context` array of an event: the `event_context` view's columns.
pub async fn api_rows(
    pool: &sqlx::PgPool,
    event_id: i64,
    event_time: DateTime<Utc>,
) -> Result<Vec<ContextMoveOut>, sqlx::Error> {
    Ok(context::moves_for_event(pool, event_id, event_time)
        .await?
        .into_iter()
        .map(|m| ContextMoveOut {
            session_date: m.placement.session.map(|s| s.date),
            session_close_at: m.placement.session.map(|s| s.close_at),
            previous_session_date: m.placement.previous.map(|s| s.date),
            timing: m.placement.timing.map(|t| t.as_str().to_string()),
            note: m.placement.note,
            symbol: m.symbol,
            asset_name: m.name,
            asset_kind: m.kind,
            relevance: m.relevance.to_string(),
            for_categories: m.for_categories,
            previous_close: m.previous_close,
            session_open: m.session_open,
            session_close: m.session_close,
            session_return: m.session_return,
            gap_return: m.gap_return,
        })
        .collect())
}

/// One asset's row in a category's betas table.
pub struct BetaView {
    pub symbol: String,
    pub name: String,
    pub beta: String,
    pub beta_se: String,
    pub correlation: String,
    pub n: i32,
    pub span: String,
}

/// A category page's betas to equities, with the table's labels.
pub struct BetasSection {
    pub rows: Vec<BetaView>,
    pub beta_label: String,
    /// The regression window when every row has the same (then the rows' `span` is
    /// empty), so the table stays four narrow columns on a phone.
    pub common_span: String,
}

pub async fn category_betas(pool: &sqlx::PgPool, slug: &str) -> Result<BetasSection, sqlx::Error> {
    let mut rows: Vec<BetaView> = context::store::category_betas(pool, slug)
        .await?
        .into_iter()
        .map(|(symbol, name, b)| BetaView {
            symbol,
            name,
            beta: num(Some(b.beta)),
            beta_se: num(b.beta_se),
            correlation: num(b.correlation),
            n: b.n_sessions,
            span: format!("{} – {}", day(b.first_session), day(b.last_session)),
        })
        .collect();
    let first = rows.first().map(|r| r.span.clone()).unwrap_or_default();
    let common_span = if rows.iter().all(|r| r.span == first) {
        for r in &mut rows {
            r.span.clear();
        }
        first
    } else {
        String::new()
    };
    Ok(BetasSection {
        rows,
        beta_label: abbr("equity-beta"),
        common_span,
    })
}

/// No betas (token pages).
pub fn no_betas() -> BetasSection {
    BetasSection {
        rows: Vec::new(),
        beta_label: String::new(),
        common_span: String::new(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::context::sessions::session_for;

    #[test]
    fn a_row_says_the_move_its_session_and_closes() {
        let t = DateTime::parse_from_rfc3339("2025-01-27T10:00:00Z")
            .unwrap()
            .with_timezone(&Utc);
        let dates = ["2025-01-24", "2025-01-27"].map(|d| d.parse::<NaiveDate>().unwrap());
        let m = ContextMove {
            symbol: "NVDA".into(),
            name: "NVIDIA".into(),
            kind: "equity".into(),
            relevance: "category",
            for_categories: vec!["ai".into()],
            placement: session_for(t, &dates),
            previous_close: Some(142.62),
            session_open: Some(124.8),
            session_close: Some(118.42),
            session_return: Some(118.42 / 142.62 - 1.0),
            gap_return: Some(124.8 / 142.62 - 1.0),
        };
        let v = row_view(&m);
        assert_eq!(v.session_return, "-16.97%");
        assert_eq!(v.class, "neg");
        assert_eq!(v.session, "Mon 27 Jan 2025 session (close 21:00 UTC)");
        assert_eq!(
            v.closes,
            "previous close 142.62 (Fri 24 Jan 2025) → close 118.42"
        );
        assert_eq!(v.gap_return, "-12.49%");
        assert_eq!(v.why, "ai");
        assert_eq!(v.note, "published before the open of Monday 2025-01-27");
    }
}
