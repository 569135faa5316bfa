//! Server-rendered SVG line charts. Pure: series in, SVG text out (every label escaped).
//!
//! Readable at a glance: labelled axes, a dashed line at the event (bar 0), a shaded
//! 95% band of what no event would produce, and one colour per series kept by name so a
//! category has the same colour on every page.

use std::fmt::Write;

/// One line.
pub struct Line {
    pub label: String,
    /// Colour; `None` picks the series name's stable colour.
    pub colour: Option<&'static str>,
    /// (x, y) points; y in percent.
    pub points: Vec<(f64, f64)>,
}

/// A chart of lines over event time.
pub struct Chart {
    pub title: String,
    pub x_label: String,
    pub y_label: String,
    pub lines: Vec<Line>,
    /// Half-width of the shaded band at each x (percent), centred on 0.
    pub band: Vec<(f64, f64)>,
    /// Where to draw the event marker.
    pub event_x: Option<f64>,
}

const W: f64 = 720.0;
const H: f64 = 300.0;
const LEFT: f64 = 56.0;
const RIGHT: f64 = 150.0;
const TOP: f64 = 28.0;
const BOTTOM: f64 = 40.0;
/// Colour-blind-safe palette (Okabe–Ito, then Tol's muted), dark enough on white.
pub const PALETTE: &[&str] = &[
    "#0072B2", "#D55E00", "#009E73", "#CC79A7", "#E69F00", "#56B4E9", "#000000", "#882255",
    "#117733", "#332288", "#AA4499", "#999933",
];

/// A stable colour for a series name.
pub fn colour(name: &str) -> &'static str {
    let h = name.bytes().fold(2_166_136_261u32, |h, b| {
        (h ^ u32::from(b)).wrapping_mul(16_777_619)
    });
    PALETTE[h as usize % PALETTE.len()]
}

fn esc(s: &str) -> String {
    s.replace('&', "&amp;")
        .replace('<', "&lt;")
        .replace('>', "&gt;")
        .replace('"', "&quot;")
}

/// Round step for about `n` ticks over `span`.
fn nice_step(span: f64, n: f64) -> f64 {
    let raw = (span / n).max(1e-9);
    let mag = 10f64.powf(raw.log10().floor());
    let f = raw / mag;
    let nice = if f < 1.5 {
        1.0
    } else if f < 3.0 {
        2.0
    } else if f < 7.0 {
        5.0
    } else {
        10.0
    };
    nice * mag
}

impl Chart {
    pub fn render(&self) -> String {
        let xs = self
            .lines
            .iter()
            .flat_map(|l| l.points.iter().map(|p| p.0))
            .chain(self.band.iter().map(|b| b.0));
        let ys = self
            .lines
            .iter()
            .flat_map(|l| l.points.iter().map(|p| p.1))
            .chain(self.band.iter().flat_map(|b| [b.1, -b.1]));
        let (mut x0, mut x1) = xs.fold((f64::INFINITY, f64::NEG_INFINITY), |(a, b), x| {
            (a.min(x), b.max(x))
        });
        let (mut y0, mut y1) = ys
            .filter(|y| y.is_finite())
            .fold((0.0f64, 0.0f64), |(a, b), y| (a.min(y), b.max(y)));
        if !x0.is_finite() || x1 <= x0 {
            (x0, x1) = (0.0, 1.0);
        }
        if y1 - y0 < 1e-9 {
            (y0, y1) = (y0 - 1.0, y1 + 1.0);
        }
        let pad = (y1 - y0) * 0.05;
        let (y0, y1) = (y0 - pad, y1 + pad);
        let px = |x: f64| LEFT + (x - x0) / (x1 - x0) * (W - LEFT - RIGHT);
        let py = |y: f64| TOP + (y1 - y) / (y1 - y0) * (H - TOP - BOTTOM);

        let mut s = String::new();
        let _ = write!(
            s,
            r#"<svg class="chart" viewBox="0 0 {W} {H}" role="img" aria-label="{t}" xmlns="http://www.w3.org/2000/svg"><title>{t}</title>"#,
            t = esc(&self.title)
        );
        let _ = write!(
            s,
            r##"<rect x="{LEFT}" y="{TOP}" width="{}" height="{}" fill="#fff" stroke="#d8dee4"/>"##,
            W - LEFT - RIGHT,
            H - TOP - BOTTOM
        );
        // Band.
        if !self.band.is_empty() {
            let mut d = String::new();
            for (i, (x, w)) in self.band.iter().enumerate() {
                let _ = write!(
                    d,
                    "{}{:.1},{:.1} ",
                    if i == 0 { "M" } else { "L" },
                    px(*x),
                    py(*w)
                );
            }
            for (x, w) in self.band.iter().rev() {
                let _ = write!(d, "L{:.1},{:.1} ", px(*x), py(-*w));
            }
            let _ = write!(
                s,
                r##"<path d="{d}Z" fill="#e7ecf3"><title>95% band of a CAR with no event</title></path>"##
            );
        }
        // Grid and y ticks.
        let step = nice_step(y1 - y0, 5.0);
        let mut t = (y0 / step).ceil() * step;
        while t <= y1 {
            let y = py(t);
            let _ = write!(
                s,
                r##"<line x1="{LEFT}" x2="{}" y1="{y:.1}" y2="{y:.1}" stroke="{}" stroke-width="1"/><text x="{}" y="{:.1}" text-anchor="end" font-size="11" fill="#5c6773">{}%</text>"##,
                W - RIGHT,
                if t.abs() < step / 2.0 {
                    "#9aa4ae"
                } else {
                    "#eef1f4"
                },
                LEFT - 6.0,
                y + 4.0,
                fmt_tick(t, step)
            );
            t += step;
        }
        // x ticks.
        let xstep = nice_step(x1 - x0, 8.0);
        let mut t = (x0 / xstep).ceil() * xstep;
        while t <= x1 {
            let x = px(t);
            let _ = write!(
                s,
                r##"<text x="{x:.1}" y="{}" text-anchor="middle" font-size="11" fill="#5c6773">{}</text>"##,
                H - BOTTOM + 16.0,
                fmt_tick(t, xstep)
            );
            t += xstep;
        }
        if let Some(ex) = self.event_x {
            let x = px(ex);
            let _ = write!(
                s,
                r##"<line x1="{x:.1}" x2="{x:.1}" y1="{TOP}" y2="{}" stroke="#1b1f24" stroke-dasharray="4 3"/><text x="{:.1}" y="{}" font-size="11" fill="#1b1f24">news</text>"##,
                H - BOTTOM,
                x + 4.0,
                TOP + 12.0
            );
        }
        // Lines and legend.
        for (i, line) in self.lines.iter().enumerate() {
            let c = line.colour.unwrap_or_else(|| colour(&line.label));
            let mut d = String::new();
            let mut pen = false;
            for (x, y) in &line.points {
                if !y.is_finite() {
                    pen = false;
                    continue;
                }
                let _ = write!(
                    d,
                    "{}{:.1},{:.1} ",
                    if pen { "L" } else { "M" },
                    px(*x),
                    py(*y)
                );
                pen = true;
            }
            let _ = write!(
                s,
                r#"<path d="{d}" fill="none" stroke="{c}" stroke-width="2"><title>{}</title></path>"#,
                esc(&line.label)
            );
            let ly = TOP + 14.0 + i as f64 * 16.0;
            let _ = write!(
                s,
                r##"<line x1="{}" x2="{}" y1="{ly:.1}" y2="{ly:.1}" stroke="{c}" stroke-width="3"/><text x="{}" y="{:.1}" font-size="12" fill="#1b1f24">{}</text>"##,
                W - RIGHT + 8.0,
                W - RIGHT + 24.0,
                W - RIGHT + 28.0,
                ly + 4.0,
                esc(&line.label)
            );
        }
        let _ = write!(
            s,
            r##"<text x="{}" y="{}" text-anchor="middle" font-size="12" fill="#1b1f24">{}</text><text x="14" y="{}" text-anchor="middle" font-size="12" fill="#1b1f24" transform="rotate(-90 14 {})">{}</text></svg>"##,
            LEFT + (W - LEFT - RIGHT) / 2.0,
            H - 6.0,
            esc(&self.x_label),
            TOP + (H - TOP - BOTTOM) / 2.0,
            TOP + (H - TOP - BOTTOM) / 2.0,
            esc(&self.y_label)
        );
        s
    }
}

/// A word-sized line of a cumulative path (fractions), with a zero line; red when it
/// ends below zero. Decorative next to the numbers, so hidden from screen readers.
pub fn sparkline(values: &[f64]) -> String {
    let pts: Vec<(usize, f64)> = values
        .iter()
        .copied()
        .enumerate()
        .filter(|(_, v)| v.is_finite())
        .collect();
    if pts.len() < 2 {
        return String::new();
    }
    let (w, h) = (90.0, 22.0);
    let lo = pts.iter().map(|p| p.1).fold(0.0f64, f64::min);
    let hi = pts.iter().map(|p| p.1).fold(0.0f64, f64::max);
    let span = (hi - lo).max(1e-9);
    let n = (values.len() - 1).max(1) as f64;
    let x = |i: usize| i as f64 / n * w;
    let y = |v: f64| 1.0 + (hi - v) / span * (h - 2.0);
    let mut d = String::new();
    for (k, (i, v)) in pts.iter().enumerate() {
        let _ = write!(
            d,
            "{}{:.1},{:.1} ",
            if k == 0 { "M" } else { "L" },
            x(*i),
            y(*v)
        );
    }
    let last = pts.last().map(|p| p.1).unwrap_or(0.0);
    let c = if last < 0.0 { "#b42318" } else { "#067647" };
    format!(
        r##"<svg class="spark" viewBox="0 0 {w} {h}" width="{w}" height="{h}" aria-hidden="true" xmlns="http://www.w3.org/2000/svg"><line x1="0" x2="{w}" y1="{z:.1}" y2="{z:.1}" stroke="#c9d1d9" stroke-width="1"/><path d="{d}" fill="none" stroke="{c}" stroke-width="1.5"/></svg>"##,
        z = y(0.0)
    )
}

fn fmt_tick(v: f64, step: f64) -> String {
    if step >= 1.0 {
        format!("{}", v.round() as i64)
    } else {
        let decimals = (-step.log10().floor()) as usize;
        format!("{v:.decimals$}")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn renders_axes_marker_band_and_escaped_labels() {
        let chart = Chart {
            title: "CAAR <AI>".into(),
            x_label: "hours from the news".into(),
            y_label: "CAAR (%)".into(),
            lines: vec![Line {
                label: "AI & co".into(),
                colour: None,
                points: vec![(-2.0, 0.0), (-1.0, -1.5), (0.0, f64::NAN), (1.0, -3.0)],
            }],
            band: vec![(-2.0, 1.0), (1.0, 2.0)],
            event_x: Some(0.0),
        };
        let svg = chart.render();
        assert!(svg.starts_with("<svg") && svg.ends_with("</svg>"));
        assert!(svg.contains("CAAR &lt;AI&gt;") && !svg.contains("<AI>"));
        assert!(svg.contains("AI &amp; co"));
        assert!(svg.contains("hours from the news"));
        assert!(svg.contains(">news</text>"));
        assert!(svg.contains("95% band"));
        // The NaN breaks the line: two move-to commands.
        let path = svg.split("stroke-width=\"2\"").next().unwrap();
        assert_eq!(
            path.rsplit("<path d=\"")
                .next()
                .unwrap()
                .matches('M')
                .count(),
            2
        );
        assert_eq!(colour("AI"), colour("AI"));
    }

    #[test]
    fn sparklines_need_two_points_and_colour_by_the_end() {
        assert_eq!(sparkline(&[0.1]), "");
        let down = sparkline(&[0.0, 0.01, -0.02]);
        assert!(down.starts_with("<svg class=\"spark\"") && down.contains("#b42318"));
        assert!(sparkline(&[0.0, f64::NAN, 0.02]).contains("#067647"));
    }

    #[test]
    fn nice_steps() {
        assert_eq!(nice_step(10.0, 5.0), 2.0);
        assert_eq!(nice_step(0.7, 5.0), 0.1);
        assert_eq!(nice_step(96.0, 8.0), 10.0);
    }
}
