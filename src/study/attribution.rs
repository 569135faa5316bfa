//! Attribution: a shared move is explained once. Pure.
//!
//! Several stories often fall around one market move (a sell-off reported by ten outlets
//! over a day, or a macro shock beside a token story). Each would otherwise be credited
//! with the whole move. The rule, applied to every ranked story (significant or not: two
//! stories about one thing at one time are grouped whatever the size of the move):
//!
//! 1. An event *claims* the move behind its score: its top component's series (the
//!    market, a category or a token), the direction of the move, and the bars of that
//!    component's window.
//! 2. Two claims are the *same move* when they name the same series, in the same
//!    direction, over overlapping bars. Same-move claims, transitively, form an *episode*.
//! 3. The move's time is the bar with the largest abnormal return (in the move's
//!    direction) in the window of the episode's strongest claim.
//! 4. The move is credited to the story whose first report is closest to that bar's
//!    opening (ties: the earlier report, then the stronger evidence). Every claim already
//!    concerns one of its story's subjects (scores only use subjects, and the market only
//!    for stories about the market as a whole), so a story merely published during a move
//!    never claims it.
//! 5. The other stories of the episode are shown as "same move" under the credited one
//!    and are not ranked on their own.
//!
//! The same function serves any detector of moves that wants one best story per move.

use super::series::Series;

/// One event's claim on a move.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Claim {
    /// First report, seconds since the epoch.
    pub reported_at: i64,
    pub series: Series,
    /// +1 for a rise, −1 for a fall.
    pub direction: i8,
    /// Absolute bars `[start, end)` of the claimed window.
    pub bars: (i64, i64),
    /// Absolute bar of the largest abnormal bar.
    pub peak_bar: i64,
    /// ln p of the evidence (smaller is stronger).
    pub ln_p: f64,
}

/// What attribution decided for one claim.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Credit {
    /// Index of the claim the move is credited to (itself when credited).
    pub credited: usize,
    /// Claims in the episode (1 when the move is this story's alone).
    pub episode_size: usize,
}

fn find(parent: &mut [usize], mut i: usize) -> usize {
    while parent[i] != i {
        parent[i] = parent[parent[i]];
        i = parent[i];
    }
    i
}

/// Group claims into episodes and credit each episode's move to one story.
/// `bar_seconds` converts bars to times.
pub fn attribute(claims: &[Claim], bar_seconds: i64) -> Vec<Credit> {
    let n = claims.len();
    let mut parent: Vec<usize> = (0..n).collect();
    // Sort by series and start so that overlapping claims are neighbours in a sweep.
    let mut order: Vec<usize> = (0..n).collect();
    order.sort_by_key(|&i| (claims[i].series, claims[i].direction, claims[i].bars.0));
    let mut run_start = 0;
    while run_start < order.len() {
        let key = |i: usize| (claims[i].series, claims[i].direction);
        let mut run_end = run_start;
        while run_end < order.len() && key(order[run_end]) == key(order[run_start]) {
            run_end += 1;
        }
        // Within one series and direction, sweep by start, joining overlaps.
        let mut reach = i64::MIN;
        let mut anchor = order[run_start];
        for &i in &order[run_start..run_end] {
            let (a, b) = claims[i].bars;
            if a < reach {
                let (ra, rb) = (find(&mut parent, anchor), find(&mut parent, i));
                parent[rb] = ra;
            } else {
                anchor = i;
            }
            reach = reach.max(b);
        }
        run_start = run_end;
    }
    let mut groups: std::collections::BTreeMap<usize, Vec<usize>> = Default::default();
    for i in 0..n {
        let r = find(&mut parent, i);
        groups.entry(r).or_default().push(i);
    }
    let mut out = vec![
        Credit {
            credited: 0,
            episode_size: 1
        };
        n
    ];
    for members in groups.values() {
        let strongest = members
            .iter()
            .copied()
            .min_by(|&a, &b| {
                claims[a]
                    .ln_p
                    .total_cmp(&claims[b].ln_p)
                    .then(claims[a].reported_at.cmp(&claims[b].reported_at))
            })
            .expect("non-empty group");
        let move_at = claims[strongest].peak_bar * bar_seconds;
        let credited = members
            .iter()
            .copied()
            .min_by(|&a, &b| {
                let (ca, cb) = (&claims[a], &claims[b]);
                (ca.reported_at - move_at)
                    .abs()
                    .cmp(&(cb.reported_at - move_at).abs())
                    .then(ca.reported_at.cmp(&cb.reported_at))
                    .then(ca.ln_p.total_cmp(&cb.ln_p))
            })
            .expect("non-empty group");
        for &m in members {
            out[m] = Credit {
                credited,
                episode_size: members.len(),
            };
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    const H: i64 = 3600;

    fn claim(reported_h: i64, series: Series, bars: (i64, i64), peak: i64, ln_p: f64) -> Claim {
        Claim {
            reported_at: reported_h * H,
            series,
            direction: -1,
            bars,
            peak_bar: peak,
            ln_p,
        }
    }

    #[test]
    fn stories_around_one_move_form_an_episode_credited_to_the_closest_report() {
        let ai = Series::Category { category_id: 1 };
        let claims = [
            // Reported 17 h after the fall began, claims it "before the first report".
            claim(117, ai, (93, 117), 105, -9.0),
            // Reported at the trough's hour: closest to the move.
            claim(104, ai, (104, 128), 105, -6.0),
            // Another series: its own episode.
            claim(104, Series::Market, (104, 105), 104, -4.0),
            // Same series, far away in time: its own episode.
            claim(500, ai, (500, 524), 510, -5.0),
        ];
        let c = attribute(&claims, H);
        assert_eq!(
            c[0],
            Credit {
                credited: 1,
                episode_size: 2
            }
        );
        assert_eq!(
            c[1],
            Credit {
                credited: 1,
                episode_size: 2
            }
        );
        assert_eq!(
            c[2],
            Credit {
                credited: 2,
                episode_size: 1
            }
        );
        assert_eq!(
            c[3],
            Credit {
                credited: 3,
                episode_size: 1
            }
        );
    }

    #[test]
    fn opposite_directions_are_different_moves_and_chains_join() {
        let t = Series::Token { token_id: 7 };
        let mut up = claim(10, t, (10, 34), 12, -5.0);
        up.direction = 1;
        let claims = [
            claim(10, t, (10, 34), 12, -5.0),
            up,
            // Overlaps the first; the next overlaps only this one: one chain.
            claim(30, t, (30, 54), 40, -7.0),
            claim(50, t, (50, 74), 60, -4.0),
        ];
        let c = attribute(&claims, H);
        assert_eq!(c[1].episode_size, 1);
        assert_eq!(c[0].episode_size, 3);
        // The strongest claim (index 2) peaks at bar 40: the report at hour 30 is closest.
        assert_eq!(c[0].credited, 2);
        assert_eq!(c[3].credited, 2);
    }
}
