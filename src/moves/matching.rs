//! Matching moves with stories. Pure.
//!
//! A story is a *candidate* for a move when it is about the moved series and was first
//! reported from `BEFORE` before the onset to `AFTER` after the extreme:
//! - a token's move: the token is one of the story's subjects;
//! - a category's move: the category is a subject, or a subject token is a member;
//! - the market's move: the story is about the market as a whole (the same
//!   `market_wide` the ranking uses).
//!
//! One candidate is the move's *best* story, by the ranking's own attribution rule
//! (`study::attribution::attribute`): the first report closest to the move's largest bar.
//! Each match carries the news lag (first report minus onset) and the share of the move
//! already done at the first report.

use crate::study::attribution::{attribute, Claim};
use crate::study::series::Series;

/// How far before the onset and after the extreme a first report may fall.
pub const BEFORE_S: i64 = 24 * 3600;
pub const AFTER_S: i64 = 24 * 3600;

/// What matching needs of a move.
#[derive(Debug, Clone)]
pub struct MoveForMatch {
    pub series: Series,
    pub direction: i8,
    pub onset: i64,
    pub extreme: i64,
    /// Opening time of the move's largest bar.
    pub peak_at: i64,
    /// Hourly cumulative path of the basis (boundary times `path_start + k * step`).
    pub path_start: i64,
    pub path_step: i64,
    pub path: Vec<f64>,
}

/// What matching needs of a story.
#[derive(Debug, Clone)]
pub struct StoryForMatch {
    pub event_id: i64,
    pub reported_at: i64,
    pub subject_tokens: Vec<i32>,
    pub subject_categories: Vec<i32>,
    pub market_wide: bool,
}

/// One candidate story of one move.
#[derive(Debug, Clone, PartialEq)]
pub struct Match {
    pub move_index: usize,
    pub event_id: i64,
    pub reported_at: i64,
    pub lag_s: i64,
    pub share_before: Option<f64>,
    pub is_best: bool,
}

/// Whether a story is about the moved series (`members`: the token ids of a category).
fn about(series: Series, story: &StoryForMatch, members: &dyn Fn(i32) -> bool) -> bool {
    match series {
        Series::Market => story.market_wide,
        Series::Token { token_id } => story.subject_tokens.contains(&token_id),
        Series::Category { category_id } => {
            story.subject_categories.contains(&category_id)
                || story.subject_tokens.iter().any(|&t| members(t))
        }
    }
}

/// Value of a path at time `t`, the last boundary at or before it (clamped to the path).
fn path_at(m: &MoveForMatch, t: i64) -> Option<f64> {
    if m.path.is_empty() {
        return None;
    }
    let k = (t - m.path_start)
        .div_euclid(m.path_step)
        .clamp(0, m.path.len() as i64 - 1);
    m.path.get(k as usize).copied()
}

/// Share of the move done at time `t`, 0 to 1.
pub fn share_before(m: &MoveForMatch, t: i64) -> Option<f64> {
    let (a, b) = (path_at(m, m.onset)?, path_at(m, m.extreme)?);
    let total = b - a;
    if t <= m.onset {
        return Some(0.0);
    }
    if t >= m.extreme {
        return Some(1.0);
    }
    if total == 0.0 {
        return None;
    }
    Some(((path_at(m, t)? - a) / total).clamp(0.0, 1.0))
}

/// Every candidate of every move, the best one marked. `is_member(category, token)`.
pub fn match_moves(
    moves: &[MoveForMatch],
    stories: &[StoryForMatch],
    is_member: &dyn Fn(i32, i32) -> bool,
) -> Vec<Match> {
    let mut by_time: Vec<&StoryForMatch> = stories.iter().collect();
    by_time.sort_by_key(|s| s.reported_at);
    let mut out = Vec::new();
    for (mi, m) in moves.iter().enumerate() {
        let (lo, hi) = (m.onset - BEFORE_S, m.extreme + AFTER_S);
        let from = by_time.partition_point(|s| s.reported_at < lo);
        let cands: Vec<&StoryForMatch> = by_time[from..]
            .iter()
            .take_while(|s| s.reported_at <= hi)
            .filter(|s| {
                let members = |t: i32| match m.series {
                    Series::Category { category_id } => is_member(category_id, t),
                    _ => false,
                };
                about(m.series, s, &members)
            })
            .copied()
            .collect();
        if cands.is_empty() {
            continue;
        }
        // The ranking's rule: every candidate claims this one move; the claim credited
        // is the report closest to the move's largest bar.
        let claims: Vec<Claim> = cands
            .iter()
            .map(|s| Claim {
                reported_at: s.reported_at,
                series: m.series,
                direction: m.direction,
                bars: (
                    m.onset / 3600,
                    m.extreme.div_euclid(3600).max(m.onset / 3600 + 1),
                ),
                peak_bar: m.peak_at.div_euclid(3600),
                ln_p: 0.0,
            })
            .collect();
        let best = attribute(&claims, 3600)
            .first()
            .map(|c| c.credited)
            .unwrap_or(0);
        for (ci, s) in cands.iter().enumerate() {
            out.push(Match {
                move_index: mi,
                event_id: s.event_id,
                reported_at: s.reported_at,
                lag_s: s.reported_at - m.onset,
                share_before: share_before(m, s.reported_at),
                is_best: ci == best,
            });
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    const H: i64 = 3600;

    fn ai_move() -> MoveForMatch {
        // A fall from hour 100 (0) to hour 115 (-0.16), linear.
        let path: Vec<f64> = (0..=30)
            .map(|k| {
                let h = 94 + k;
                -0.16 * ((h - 100).clamp(0, 15) as f64) / 15.0
            })
            .collect();
        MoveForMatch {
            series: Series::Category { category_id: 1 },
            direction: -1,
            onset: 100 * H,
            extreme: 115 * H,
            peak_at: 108 * H,
            path_start: 94 * H,
            path_step: H,
            path,
        }
    }

    fn story(id: i64, h: i64, tokens: Vec<i32>, cats: Vec<i32>) -> StoryForMatch {
        StoryForMatch {
            event_id: id,
            reported_at: h * H,
            subject_tokens: tokens,
            subject_categories: cats,
            market_wide: false,
        }
    }

    #[test]
    fn candidates_lags_shares_and_the_best_story() {
        let m = ai_move();
        let stories = vec![
            // About a member token, reported 17 h after the onset (after the trough).
            story(1, 117, vec![7], vec![]),
            // About the category, reported 9 h in: closest to the largest bar (hour 108).
            story(2, 109, vec![], vec![1]),
            // About something else.
            story(3, 108, vec![9], vec![]),
            // About the category but two days later.
            story(4, 160, vec![], vec![1]),
        ];
        let member = |c: i32, t: i32| c == 1 && t == 7;
        let ms = match_moves(&[m], &stories, &member);
        assert_eq!(ms.len(), 2);
        let m2 = ms.iter().find(|x| x.event_id == 2).unwrap();
        assert!(m2.is_best);
        assert_eq!(m2.lag_s, 9 * H);
        assert!((m2.share_before.unwrap() - 9.0 / 15.0).abs() < 1e-12);
        let m1 = ms.iter().find(|x| x.event_id == 1).unwrap();
        assert!(!m1.is_best);
        assert_eq!(m1.share_before, Some(1.0));
    }

    #[test]
    fn a_market_move_needs_a_story_about_the_market() {
        let mut m = ai_move();
        m.series = Series::Market;
        let mut wide = story(5, 104, vec![], vec![]);
        wide.market_wide = true;
        let stories = vec![story(6, 104, vec![7], vec![1]), wide];
        let ms = match_moves(&[m], &stories, &|_, _| true);
        assert_eq!(ms.len(), 1);
        assert_eq!(ms[0].event_id, 5);
        assert!((ms[0].share_before.unwrap() - 4.0 / 15.0).abs() < 1e-12);
    }
}
