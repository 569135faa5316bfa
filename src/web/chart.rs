//! Server-rendered SVG charts. Pure: series in, SVG text out (every label escaped).
//!
//! Readable at a glance and on a phone: every chart is drawn twice, wide (720 units, for
//! screens from 700 px) and compact (360 units, legend below, for phones), and the page's
//! stylesheet shows one, so text is never drawn smaller than 11 px. Colours come from
//! the stylesheet where they are not a series' own (dark mode), and a series keeps one
//! colour and its own band.

use std::fmt::Write;

/// One line.
pub struct Line {
    pub label: String,
    /// Colour; `None` picks the series name's stable colour.
    pub colour: Option<&'static str>,
    /// (x, y) points; y in percent. A non-finite y breaks the line.
    pub points: Vec<(f64, f64)>,
    /// Half-width of this series' shaded band at each x (percent), centred on 0.
    pub band: Vec<(f64, f64)>,
}

/// A point of interest on a line chart: an event on a price chart.
pub struct Marker {
    pub x: f64,
    pub y: f64,
    /// Radius in chart units (3 to 9 reads well).
    pub radius: f64,
    /// up, down or flat: the CSS class that colours it.
    pub direction: &'static str,
    /// Hover text.
    pub title: String,
    /// Where a click goes.
    pub href: String,
}

/// How the x axis reads.
#[derive(Clone, Copy, PartialEq)]
pub enum XAxis {
    /// Bars from the news (bar 0).
    EventTime,
    /// Calendar days since the Unix epoch, labelled as dates.
    Days,
}

/// A chart of lines.
pub struct Chart {
    pub title: String,
    pub x_label: String,
    pub y_label: String,
    pub lines: Vec<Line>,
    pub markers: Vec<Marker>,
    /// Where to draw the news marker.
    pub event_x: Option<f64>,
    /// Shade the plot left of this x: what happened before the news.
    pub shade_before: Option<f64>,
    pub x_axis: XAxis,
}

/// Colour-blind-safe palette (Okabe–Ito, then Tol's muted): distinct on white and on the
/// dark theme's background.
pub const PALETTE: &[&str] = &[
    "#0072B2", "#D55E00", "#009E73", "#CC79A7", "#E69F00", "#56B4E9", "#44AA99", "#882255",
    "#117733", "#332288", "#AA4499", "#999933",
];

/// A stable colour for a series name (the same category, the same colour on every page).
pub fn colour(name: &str) -> &'static str {
    let h = name.bytes().fold(2_166_136_261u32, |h, b| {
        (h ^ u32::from(b)).wrapping_mul(16_777_619)
    });
    PALETTE[h as usize % PALETTE.len()]
}

/// Stable colours for several series, distinct from each other: each takes its name's
/// colour unless an earlier one has it, then the next free one.
pub fn distinct_colours<'a>(names: impl IntoIterator<Item = &'a str>) -> Vec<&'static str> {
    let mut used: Vec<&'static str> = Vec::new();
    for name in names {
        let start = PALETTE.iter().position(|c| *c == colour(name)).unwrap_or(0);
        let pick = (0..PALETTE.len())
            .map(|k| PALETTE[(start + k) % PALETTE.len()])
            .find(|c| !used.contains(c))
            .unwrap_or(PALETTE[start]);
        used.push(pick);
    }
    used
}

pub(crate) fn esc(s: &str) -> String {
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

/// The geometry of one rendering.
struct Frame {
    w: f64,
    h: f64,
    left: f64,
    right: f64,
    top: f64,
    bottom: f64,
    /// Legend to the right of the plot (wide) or under it (compact).
    legend_right: bool,
    x_ticks: f64,
    class: &'static str,
}

const FONT: f64 = 12.0;

impl Chart {
    /// Both renderings, the stylesheet shows one.
    pub fn render(&self) -> String {
        let legend_rows = self.lines.len().div_ceil(2) as f64;
        let wide = Frame {
            w: 720.0,
            h: 300.0,
            left: 56.0,
            right: 190.0,
            top: 28.0,
            bottom: 40.0,
            legend_right: true,
            x_ticks: 8.0,
            class: "chart wide-chart",
        };
        let compact = Frame {
            w: 360.0,
            h: 250.0 + legend_rows * 18.0,
            left: 58.0,
            right: 10.0,
            top: 24.0,
            bottom: 40.0 + legend_rows * 18.0,
            legend_right: false,
            x_ticks: 4.0,
            class: "chart compact-chart",
        };
        let mut s = self.render_in(&wide);
        s.push_str(&self.render_in(&compact));
        s
    }

    fn render_in(&self, f: &Frame) -> String {
        let xs = self.lines.iter().flat_map(|l| {
            l.points
                .iter()
                .map(|p| p.0)
                .chain(l.band.iter().map(|b| b.0))
        });
        let ys = self
            .lines
            .iter()
            .flat_map(|l| {
                l.points
                    .iter()
                    .map(|p| p.1)
                    .chain(l.band.iter().flat_map(|b| [b.1, -b.1]))
            })
            .chain(self.markers.iter().map(|m| m.y));
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
        let plot_w = f.w - f.left - f.right;
        let plot_h = f.h - f.top - f.bottom;
        let px = |x: f64| f.left + (x - x0) / (x1 - x0) * plot_w;
        let py = |y: f64| f.top + (y1 - y) / (y1 - y0) * plot_h;

        let mut s = String::new();
        let _ = write!(
            s,
            r#"<svg class="{}" viewBox="0 0 {} {}" role="img" aria-label="{t}" xmlns="http://www.w3.org/2000/svg"><title>{t}</title>"#,
            f.class,
            f.w,
            f.h,
            t = esc(&self.title)
        );
        let _ = write!(
            s,
            r#"<rect class="plot" x="{}" y="{}" width="{plot_w}" height="{plot_h}"/>"#,
            f.left, f.top
        );
        if let Some(sx) = self.shade_before.filter(|x| *x > x0) {
            let right = px(sx.min(x1));
            let _ = write!(
                s,
                r#"<rect class="before" x="{}" y="{}" width="{:.1}" height="{plot_h}"><title>before the news</title></rect>"#,
                f.left,
                f.top,
                (right - f.left).max(0.0)
            );
        }
        // Bands: one per series, in its colour.
        for line in self.lines.iter().filter(|l| !l.band.is_empty()) {
            let c = line.colour.unwrap_or_else(|| colour(&line.label));
            let mut d = String::new();
            for (i, (x, w)) in line.band.iter().enumerate() {
                let _ = write!(
                    d,
                    "{}{:.1},{:.1} ",
                    if i == 0 { "M" } else { "L" },
                    px(*x),
                    py(*w)
                );
            }
            for (x, w) in line.band.iter().rev() {
                let _ = write!(d, "L{:.1},{:.1} ", px(*x), py(-*w));
            }
            let _ = write!(
                s,
                r#"<path d="{d}Z" fill="{c}" fill-opacity="0.12"><title>{}: 95% range with no event</title></path>"#,
                esc(&line.label)
            );
        }
        // Grid and y ticks.
        let step = nice_step(y1 - y0, 5.0);
        let mut t = (y0 / step).ceil() * step;
        while t <= y1 {
            let y = py(t);
            let _ = write!(
                s,
                r#"<line class="{}" x1="{}" x2="{}" y1="{y:.1}" y2="{y:.1}"/><text class="tick" x="{}" y="{:.1}" text-anchor="end" font-size="{FONT}">{}%</text>"#,
                if t.abs() < step / 2.0 { "zero" } else { "grid" },
                f.left,
                f.w - f.right,
                f.left - 5.0,
                y + 4.0,
                fmt_tick(t, step)
            );
            t += step;
        }
        // x ticks.
        match self.x_axis {
            XAxis::EventTime => {
                let xstep = nice_step(x1 - x0, f.x_ticks);
                let mut t = (x0 / xstep).ceil() * xstep;
                while t <= x1 {
                    let _ = write!(
                        s,
                        r#"<text class="tick" x="{:.1}" y="{}" text-anchor="middle" font-size="{FONT}">{}</text>"#,
                        px(t),
                        f.h - f.bottom + 16.0,
                        fmt_tick(t, xstep)
                    );
                    t += xstep;
                }
            }
            XAxis::Days => {
                for (x, label) in date_ticks(x0, x1, f.x_ticks as usize) {
                    let _ = write!(
                        s,
                        r#"<text class="tick" x="{:.1}" y="{}" text-anchor="middle" font-size="{FONT}">{label}</text>"#,
                        px(x),
                        f.h - f.bottom + 16.0,
                    );
                }
            }
        }
        if let Some(ex) = self.event_x {
            let x = px(ex);
            let _ = write!(
                s,
                r#"<line class="news" x1="{x:.1}" x2="{x:.1}" y1="{}" y2="{}"/><text class="label" x="{:.1}" y="{}" font-size="{FONT}">news</text>"#,
                f.top,
                f.h - f.bottom,
                x + 4.0,
                f.top + 13.0
            );
        }
        // Lines.
        for line in &self.lines {
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
        }
        // Markers, largest first so small ones stay clickable.
        let mut markers: Vec<&Marker> = self.markers.iter().collect();
        markers.sort_by(|a, b| b.radius.total_cmp(&a.radius));
        for m in markers {
            if !m.y.is_finite() {
                continue;
            }
            let _ = write!(
                s,
                r#"<a href="{}"><circle class="marker {}" cx="{:.1}" cy="{:.1}" r="{:.1}"><title>{}</title></circle></a>"#,
                esc(&m.href),
                m.direction,
                px(m.x),
                py(m.y),
                m.radius,
                esc(&m.title)
            );
        }
        // Legend.
        for (i, line) in self.lines.iter().enumerate() {
            let c = line.colour.unwrap_or_else(|| colour(&line.label));
            let (lx, ly) = if f.legend_right {
                (f.w - f.right + 8.0, f.top + 14.0 + i as f64 * 18.0)
            } else {
                (
                    f.left + (i % 2) as f64 * (plot_w / 2.0),
                    f.h - f.bottom + 40.0 + (i / 2) as f64 * 18.0,
                )
            };
            let _ = write!(
                s,
                r#"<line x1="{lx:.1}" x2="{:.1}" y1="{ly:.1}" y2="{ly:.1}" stroke="{c}" stroke-width="3"/><text class="label" x="{:.1}" y="{:.1}" font-size="{FONT}">{}</text>"#,
                lx + 16.0,
                lx + 20.0,
                ly + 4.0,
                esc(&line.label)
            );
        }
        let _ = write!(
            s,
            r#"<text class="label" x="{}" y="{}" text-anchor="middle" font-size="{FONT}">{}</text><text class="label" x="13" y="{}" text-anchor="middle" font-size="{FONT}" transform="rotate(-90 13 {})">{}</text></svg>"#,
            f.left + plot_w / 2.0,
            f.h - f.bottom + 32.0,
            esc(&self.x_label),
            f.top + plot_h / 2.0,
            f.top + plot_h / 2.0,
            esc(&self.y_label)
        );
        s
    }
}

/// Tick positions (days since the epoch) and labels for a calendar axis: months, or
/// quarters and years on long spans.
fn date_ticks(x0: f64, x1: f64, n: usize) -> Vec<(f64, String)> {
    use chrono::{Datelike, NaiveDate};
    let day = |x: f64| {
        NaiveDate::from_num_days_from_ce_opt(x.floor() as i32 + 719_163).unwrap_or(NaiveDate::MIN)
    };
    let (a, b) = (day(x0), day(x1));
    let months = (b.year() - a.year()) * 12 + b.month() as i32 - a.month() as i32;
    let every = [1, 2, 3, 6, 12, 24]
        .into_iter()
        .find(|k| months / k < n as i32)
        .unwrap_or(24);
    let mut out = Vec::new();
    let (mut y, mut m) = (a.year(), a.month());
    loop {
        // The first of the next month at or after x0.
        if let Some(d) = NaiveDate::from_ymd_opt(y, m, 1) {
            let x = (d.num_days_from_ce() - 719_163) as f64;
            if x > x1 {
                break;
            }
            if x >= x0 && (y * 12 + m as i32 - 1) % every == 0 {
                let label = if every >= 12 {
                    format!("{y}")
                } else {
                    d.format("%Y-%m").to_string()
                };
                out.push((x, label));
            }
        }
        m += 1;
        if m > 12 {
            m = 1;
            y += 1;
        }
        if y > 9999 {
            break;
        }
    }
    out
}

/// A word-sized cumulative path (fractions) around the news: `values[k]` is the path at
/// point k. A zero line, the news tick at point `news_at`, the window the number beside
/// it covers shaded (`window`: a range of points), coloured by `direction` (up, down or
/// flat) so the colour always agrees with that number's sign. Decorative next to the
/// numbers, so hidden from screen readers.
pub fn sparkline(
    values: &[f64],
    news_at: usize,
    window: std::ops::Range<usize>,
    direction: &str,
) -> String {
    let pts: Vec<(usize, f64)> = values
        .iter()
        .copied()
        .enumerate()
        .filter(|(_, v)| v.is_finite())
        .collect();
    if pts.len() < 2 {
        return String::new();
    }
    let (w, h) = (96.0, 24.0);
    let lo = pts.iter().map(|p| p.1).fold(0.0f64, f64::min);
    let hi = pts.iter().map(|p| p.1).fold(0.0f64, f64::max);
    let span = (hi - lo).max(1e-9);
    let last = values.len() - 1;
    let n = last.max(1) as f64;
    let x = |i: usize| i.min(last) as f64 / n * w;
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
    let shade = if window.end > window.start {
        let (a, b) = (x(window.start), x(window.end));
        format!(
            r#"<rect class="spark-window" x="{a:.1}" y="0" width="{:.1}" height="{h}"/>"#,
            (b - a).max(1.0)
        )
    } else {
        String::new()
    };
    let tick = x(news_at);
    format!(
        r#"<svg class="spark {direction}" viewBox="0 0 {w} {h}" width="{w}" height="{h}" aria-hidden="true" xmlns="http://www.w3.org/2000/svg">{shade}<line class="zero" x1="0" x2="{w}" y1="{z:.1}" y2="{z:.1}"/><line class="news" x1="{tick:.1}" x2="{tick:.1}" y1="0" y2="{h}"/><path class="spark-line" d="{d}"/></svg>"#,
        z = y(0.0)
    )
}

/// A move's path, word-sized: `values[k]` is the cumulative log move at point k (the
/// chart is drawn in those units), the span from the onset to the extreme shaded and
/// both ends marked, coloured by `direction` (up or down). `onset` and `extreme` are
/// positions in points (fractional when the move was placed on finer bars than the
/// path's step). Decorative beside the numbers, so hidden from screen readers.
pub fn move_path(values: &[f32], onset: f64, extreme: f64, direction: &str) -> String {
    let pts: Vec<(usize, f64)> = values
        .iter()
        .map(|v| f64::from(*v))
        .enumerate()
        .filter(|(_, v)| v.is_finite())
        .collect();
    if pts.len() < 2 {
        return String::new();
    }
    let (w, h) = (120.0, 32.0);
    let lo = pts.iter().map(|p| p.1).fold(0.0f64, f64::min);
    let hi = pts.iter().map(|p| p.1).fold(0.0f64, f64::max);
    let span = (hi - lo).max(1e-9);
    let last = (values.len() - 1).max(1) as f64;
    let x = |i: f64| i.clamp(0.0, last) / last * (w - 6.0) + 3.0;
    let y = |v: f64| 3.0 + (hi - v) / span * (h - 6.0);
    // The path's value at a fractional point: the nearer stored point.
    let at = |i: f64| {
        let k = i.round().clamp(0.0, last) as usize;
        values
            .get(k)
            .map(|v| f64::from(*v))
            .filter(|v| v.is_finite())
            .unwrap_or(0.0)
    };
    let mut d = String::new();
    for (k, (i, v)) in pts.iter().enumerate() {
        let _ = write!(
            d,
            "{}{:.1},{:.1} ",
            if k == 0 { "M" } else { "L" },
            x(*i as f64),
            y(*v)
        );
    }
    let (a, b) = (x(onset), x(extreme));
    format!(
        r#"<svg class="spark move {direction}" viewBox="0 0 {w} {h}" width="{w}" height="{h}" aria-hidden="true" xmlns="http://www.w3.org/2000/svg"><rect class="spark-window" x="{a:.1}" y="0" width="{:.1}" height="{h}"/><line class="zero" x1="0" x2="{w}" y1="{z:.1}" y2="{z:.1}"/><path class="spark-line" d="{d}"/><circle class="onset" cx="{a:.1}" cy="{:.1}" r="2.5"/><circle class="extreme" cx="{b:.1}" cy="{:.1}" r="2.5"/></svg>"#,
        (b - a).max(1.0),
        y(at(onset)),
        y(at(extreme)),
        z = y(0.0)
    )
}

/// One event on the timeline strip.
pub struct TimelineEvent {
    /// Days since the epoch.
    pub day: f64,
    /// Impact score (bar height); unranked stories are not drawn.
    pub score: f64,
    pub direction: &'static str,
    pub significant: bool,
    pub title: String,
    pub href: String,
}

/// Impact by date: one bar per ranked story, height its score, coloured by direction,
/// the significance line at 1.96. Wide and compact like the charts.
pub fn timeline(events: &[TimelineEvent]) -> String {
    if events.is_empty() {
        return String::new();
    }
    let mut s = String::new();
    for (w, class, ticks) in [
        (720.0, "timeline wide-chart", 8),
        (360.0, "timeline compact-chart", 4),
    ] {
        let (h, left, right, top, bottom) = (96.0, 30.0, 8.0, 6.0, 22.0);
        let x0 = events.iter().map(|e| e.day).fold(f64::INFINITY, f64::min) - 1.0;
        let x1 = events
            .iter()
            .map(|e| e.day)
            .fold(f64::NEG_INFINITY, f64::max)
            + 1.0;
        let top_score = events
            .iter()
            .map(|e| e.score)
            .fold(3.0f64, f64::max)
            .min(10.0);
        let plot_h = h - top - bottom;
        let px = |x: f64| left + (x - x0) / (x1 - x0).max(1.0) * (w - left - right);
        let py = |v: f64| top + (1.0 - v.min(top_score) / top_score) * plot_h;
        let _ = write!(
            s,
            r#"<svg class="{class}" viewBox="0 0 {w} {h}" role="img" aria-label="Impact by date" xmlns="http://www.w3.org/2000/svg"><title>Impact by date</title><line class="zero" x1="{left}" x2="{}" y1="{:.1}" y2="{:.1}"/><line class="threshold" x1="{left}" x2="{}" y1="{:.1}" y2="{:.1}"/><text class="tick" x="{}" y="{:.1}" text-anchor="end" font-size="{FONT}">1.96</text>"#,
            w - right,
            py(0.0),
            py(0.0),
            w - right,
            py(1.96),
            py(1.96),
            left - 3.0,
            py(1.96) + 4.0,
        );
        for e in events {
            let x = px(e.day);
            let _ = write!(
                s,
                r#"<a href="{}"><line class="bar {}{}" x1="{x:.1}" x2="{x:.1}" y1="{:.1}" y2="{:.1}"><title>{}</title></line></a>"#,
                esc(&e.href),
                e.direction,
                if e.significant { " significant" } else { "" },
                py(0.0),
                py(e.score).min(py(0.0) - 1.5),
                esc(&e.title)
            );
        }
        for (x, label) in date_ticks(x0, x1, ticks) {
            let _ = write!(
                s,
                r#"<text class="tick" x="{:.1}" y="{}" text-anchor="middle" font-size="{FONT}">{label}</text>"#,
                px(x),
                h - 5.0
            );
        }
        s.push_str("</svg>");
    }
    s
}

/// Volume around the news as bars: one per bar of the span (`(hours from the news,
/// multiple of normal)`), the normal level (1×) as a line, the news as a dashed line.
/// Wide and compact like the charts. Empty without bars.
pub fn volume_bars(title: &str, bars: &[(f64, f64)], unit: &str) -> String {
    let pts: Vec<(f64, f64)> = bars
        .iter()
        .copied()
        .filter(|(_, v)| v.is_finite() && *v >= 0.0)
        .collect();
    if pts.is_empty() {
        return String::new();
    }
    let x0 = pts.iter().map(|p| p.0).fold(f64::INFINITY, f64::min);
    let x1 = pts.iter().map(|p| p.0).fold(f64::NEG_INFINITY, f64::max) + 1.0;
    let top = pts.iter().map(|p| p.1).fold(2.0f64, f64::max).min(20.0);
    let mut s = String::new();
    for (w, class, ticks) in [
        (720.0, "chart wide-chart", 8.0),
        (360.0, "chart compact-chart", 4.0),
    ] {
        let (h, left, right, top_pad, bottom) = (170.0, 44.0, 10.0, 24.0, 36.0);
        let plot_w = w - left - right;
        let plot_h = h - top_pad - bottom;
        let px = |x: f64| left + (x - x0) / (x1 - x0).max(1.0) * plot_w;
        let py = |v: f64| top_pad + (1.0 - v.min(top) / top) * plot_h;
        let bar_w = (plot_w / (x1 - x0).max(1.0) * 0.8).max(1.0);
        let _ = write!(
            s,
            r#"<svg class="{class} volume-bars" viewBox="0 0 {w} {h}" role="img" aria-label="{t}" xmlns="http://www.w3.org/2000/svg"><title>{t}</title><text class="label" x="{left}" y="15" font-size="{FONT}">{t}</text>"#,
            t = esc(title)
        );
        for &(x, v) in &pts {
            let y = py(v);
            let _ = write!(
                s,
                r#"<rect class="vbar {}" x="{:.1}" y="{y:.1}" width="{bar_w:.1}" height="{:.1}"><title>{x:+} {unit}: ×{v:.2}</title></rect>"#,
                if v >= 1.0 { "above" } else { "below" },
                px(x),
                (py(0.0) - y).max(0.5)
            );
        }
        let one = py(1.0);
        let _ = write!(
            s,
            r#"<line class="zero" x1="{left}" x2="{}" y1="{:.1}" y2="{:.1}"/><line class="normal" x1="{left}" x2="{}" y1="{one:.1}" y2="{one:.1}"/><text class="tick" x="{}" y="{:.1}" text-anchor="end" font-size="{FONT}">1×</text><text class="tick" x="{}" y="{:.1}" text-anchor="end" font-size="{FONT}">{}×</text>"#,
            w - right,
            py(0.0),
            py(0.0),
            w - right,
            left - 4.0,
            one + 4.0,
            left - 4.0,
            py(top) + 10.0,
            fmt_tick(top, 1.0),
        );
        if (x0..x1).contains(&0.0) {
            let nx = px(0.0);
            let _ = write!(
                s,
                r#"<line class="news" x1="{nx:.1}" x2="{nx:.1}" y1="{top_pad}" y2="{:.1}"/>"#,
                py(0.0)
            );
        }
        let step = ((x1 - x0) / ticks).max(1.0).ceil();
        let mut t = (x0 / step).ceil() * step;
        while t < x1 {
            let _ = write!(
                s,
                r#"<text class="tick" x="{:.1}" y="{:.1}" text-anchor="middle" font-size="{FONT}">{}</text>"#,
                px(t),
                h - bottom + 16.0,
                fmt_tick(t, 1.0)
            );
            t += step;
        }
        let _ = write!(
            s,
            r#"<text class="tick" x="{:.1}" y="{:.1}" text-anchor="middle" font-size="{FONT}">{} from the news</text></svg>"#,
            left + plot_w / 2.0,
            h - 4.0,
            esc(unit)
        );
    }
    s
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

    fn chart() -> Chart {
        Chart {
            title: "CAAR <AI>".into(),
            x_label: "hours from the news".into(),
            y_label: "CAAR (%)".into(),
            lines: vec![Line {
                label: "AI & co".into(),
                colour: None,
                points: vec![(-2.0, 0.0), (-1.0, -1.5), (0.0, f64::NAN), (1.0, -3.0)],
                band: vec![(-2.0, 1.0), (1.0, 2.0)],
            }],
            markers: Vec::new(),
            event_x: Some(0.0),
            shade_before: None,
            x_axis: XAxis::EventTime,
        }
    }

    #[test]
    fn renders_two_sizes_with_axes_marker_band_and_escaped_labels() {
        let svg = chart().render();
        assert_eq!(svg.matches("<svg").count(), 2);
        assert!(svg.contains("wide-chart") && svg.contains("compact-chart"));
        assert!(svg.contains("CAAR &lt;AI&gt;") && !svg.contains("<AI>"));
        assert!(svg.contains("AI &amp; co"));
        assert!(svg.contains("hours from the news"));
        assert!(svg.contains(">news</text>"));
        assert!(svg.contains("AI &amp; co: 95% range with no event"));
        // No text under 12 units: at 390 px the compact chart is drawn at about 1:1.
        assert!(!svg.contains("font-size=\"11\"") && !svg.contains("font-size=\"10\""));
        // The NaN breaks the line: two move-to commands.
        let wide = svg.split("</svg>").next().unwrap();
        let path = wide.split("stroke-width=\"2\"").next().unwrap();
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
    fn markers_link_to_their_events_and_dates_label_the_axis() {
        let mut c = chart();
        c.x_axis = XAxis::Days;
        c.lines[0].points = vec![(19_700.0, 0.0), (19_800.0, 5.0)];
        c.lines[0].band.clear();
        c.markers.push(Marker {
            x: 19_750.0,
            y: 2.0,
            radius: 6.0,
            direction: "down",
            title: "DeepSeek <R1>".into(),
            href: "/events/7".into(),
        });
        let svg = c.render();
        assert!(svg.contains(r#"<a href="/events/7"><circle class="marker down""#));
        assert!(svg.contains("DeepSeek &lt;R1&gt;"));
        // 19,700 days after 1970-01-01 is 2023-12-09: the first tick is 2024-01.
        assert!(svg.contains(">2024-01</text>"), "{svg}");
    }

    #[test]
    fn distinct_colours_never_repeat_within_a_chart() {
        let names = [
            "AI", "Layer 1", "Meme", "DeFi", "Gaming", "Privacy", "Oracles",
        ];
        let c = distinct_colours(names);
        for (i, a) in c.iter().enumerate() {
            assert!(!c[i + 1..].contains(a));
        }
        assert_eq!(c[0], colour("AI"));
    }

    #[test]
    fn sparklines_take_their_colour_from_the_number_and_mark_the_news() {
        assert_eq!(sparkline(&[0.1], 0, 0..0, "up"), "");
        let s = sparkline(&[0.0, 0.01, -0.02, 0.03], 1, 2..3, "down");
        assert!(s.starts_with("<svg class=\"spark down\""));
        assert!(s.contains("class=\"news\"") && s.contains("spark-window"));
    }

    #[test]
    fn timeline_draws_one_bar_per_story_in_both_sizes() {
        let ev = |day: f64, score: f64| TimelineEvent {
            day,
            score,
            direction: "up",
            significant: score > 1.96,
            title: format!("story {day}"),
            href: format!("/events/{day}"),
        };
        let svg = timeline(&[ev(19_800.0, 2.5), ev(19_900.0, 0.4)]);
        assert_eq!(svg.matches("<svg").count(), 2);
        assert_eq!(svg.matches("class=\"bar up significant\"").count(), 2);
        assert_eq!(svg.matches("class=\"bar up\"").count(), 2);
        assert!(timeline(&[]).is_empty());
    }

    #[test]
    fn move_paths_mark_the_onset_and_the_extreme() {
        assert_eq!(move_path(&[0.0], 0.0, 0.0, "down"), "");
        let s = move_path(&[0.0, 0.01, -0.05, -0.04], 1.0, 2.0, "down");
        assert!(s.starts_with("<svg class=\"spark move down\""));
        assert!(s.contains("class=\"onset\"") && s.contains("class=\"extreme\""));
        assert!(s.contains("spark-window"));
    }

    #[test]
    fn the_part_before_the_news_is_shaded() {
        let mut c = chart();
        c.shade_before = Some(0.0);
        assert!(c.render().contains("<rect class=\"before\""));
        assert!(!chart().render().contains("class=\"before\""));
    }

    #[test]
    fn nice_steps() {
        assert_eq!(nice_step(10.0, 5.0), 2.0);
        assert_eq!(nice_step(0.7, 5.0), 0.1);
        assert_eq!(nice_step(96.0, 8.0), 10.0);
    }
}
