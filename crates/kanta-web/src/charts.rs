//! Server-rendered SVG charts: [`LineChart`], [`BarChart`] and [`Heatmap`].
//!
//! Every chart renders to a self-contained `<svg>` string (no scripts, no external
//! fonts, no external references) that can be put inline into an askama template with
//! `|safe`: all text and every `href` is escaped here. Output is deterministic: the same
//! input gives the same bytes (coordinates are written with two decimals).
//!
//! Charts are accessible: `<svg role="img" aria-labelledby="{id}-title {id}-desc">` with a
//! `<title>` and a `<desc>`; every bar, cell and point carries its own `<title>`.
//! Data that is empty or not finite renders an empty-state chart instead of panicking.

use std::fmt::{self, Write};

/// Okabe–Ito colours (safe for the common colour-vision deficiencies), darkest first.
pub const PALETTE: [&str; 7] = [
    "#0072B2", "#E69F00", "#009E73", "#CC79A7", "#D55E00", "#56B4E9", "#000000",
];

/// Colour of the `i`-th series.
pub fn series_color(i: usize) -> &'static str {
    PALETTE[i % PALETTE.len()]
}

/// Escapes `& < > " '` for use in XML text and attribute values.
pub fn escape(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for c in s.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&#39;"),
            // Control characters are not allowed in XML 1.0.
            c if (c as u32) < 0x20 && c != '\n' && c != '\t' => out.push(' '),
            c => out.push(c),
        }
    }
    out
}

/// Estimated rendered width of `s` in pixels: counts characters, not bytes, so that
/// "Ääkköset" is as wide as "Aakkoset".
pub fn text_width(s: &str, font_size: f64) -> f64 {
    s.chars().count() as f64 * font_size * 0.6
}

/// How values and tick labels are written.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum NumberFormat {
    /// As many decimals as the tick step needs (values: none if whole, else two).
    #[default]
    Auto,
    /// `0.84` → `84%` (ticks get the decimals their step needs).
    Percent,
    /// A fixed number of decimals.
    Fixed(u8),
}

impl NumberFormat {
    /// Formats a single value (tooltips, heatmap cells).
    pub fn value(self, v: f64) -> String {
        match self {
            NumberFormat::Auto if v.fract() == 0.0 && v.abs() < 1e15 => fixed(v, 0),
            NumberFormat::Auto => fixed(v, 2),
            NumberFormat::Percent => format!("{}%", fixed(v * 100.0, 0)),
            NumberFormat::Fixed(d) => fixed(v, d as usize),
        }
    }

    /// Formats an axis tick whose neighbours are `step` apart.
    pub fn tick(self, v: f64, step: f64) -> String {
        match self {
            NumberFormat::Auto => fixed(v, step_decimals(step)),
            NumberFormat::Percent => format!("{}%", fixed(v * 100.0, step_decimals(step * 100.0))),
            NumberFormat::Fixed(d) => fixed(v, d as usize),
        }
    }
}

fn step_decimals(step: f64) -> usize {
    if !step.is_finite() || step <= 0.0 {
        return 0;
    }
    // A small tolerance so that 0.1 (really 0.1000…01) needs one decimal, not two.
    (-(step.log10() + 1e-9).floor()).clamp(0.0, 6.0) as usize
}

/// A number as [`NumberFormat`] writes it, in the language's convention: thousands
/// grouped (`1,234` in English; the Finnish way when `decimal_comma`, `1 234` with a
/// narrow no-break space), and in Finnish a decimal comma and a no-break space before
/// `%`: `12.5` → `12,5`, `84%` → `84 %`.
pub fn localize(s: String, decimal_comma: bool) -> String {
    let sep = if decimal_comma { '\u{202f}' } else { ',' };
    let s = group_thousands(&s, sep);
    if !decimal_comma {
        return s;
    }
    let s = s.replace('.', ",");
    match s.strip_suffix('%') {
        Some(n) => format!("{n}\u{a0}%"),
        None => s,
    }
}

/// `-1234567.5` → `-1,234,567.5` with `sep` between groups of three digits of the
/// whole part; anything else (a sign, decimals, `%`) is kept as it is.
fn group_thousands(s: &str, sep: char) -> String {
    let start = s.find(|c: char| c.is_ascii_digit()).unwrap_or(s.len());
    let end = s[start..]
        .find(|c: char| !c.is_ascii_digit())
        .map_or(s.len(), |i| start + i);
    let digits = &s[start..end];
    if digits.len() <= 3 {
        return s.to_string();
    }
    let mut out = String::with_capacity(s.len() + digits.len() / 3 * 3);
    out.push_str(&s[..start]);
    for (i, c) in digits.chars().enumerate() {
        if i > 0 && (digits.len() - i).is_multiple_of(3) {
            out.push(sep);
        }
        out.push(c);
    }
    out.push_str(&s[end..]);
    out
}

/// The smallest text a chart shows, in CSS pixels: an SVG is never drawn narrower
/// than makes its text this high (it scrolls sideways inside its box instead).
pub const MIN_TEXT_PX: f64 = 10.0;

/// `{:.d}` without a `-` on a value that rounds to zero.
fn fixed(v: f64, d: usize) -> String {
    let s = format!("{v:.d$}");
    match s.strip_prefix('-') {
        Some(rest) if rest.chars().all(|c| c == '0' || c == '.') => rest.to_string(),
        _ => s,
    }
}

/// A coordinate written with two decimals.
struct Coord(f64);

impl fmt::Display for Coord {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let v = if self.0.is_finite() { self.0 } else { 0.0 };
        f.write_str(&fixed(v, 2))
    }
}

/// Axis ticks: evenly spaced values `step` apart, a 1, 2 or 5 times a power of ten.
#[derive(Debug, Clone, PartialEq)]
pub struct Ticks {
    pub values: Vec<f64>,
    pub step: f64,
}

impl Ticks {
    pub fn min(&self) -> f64 {
        self.values[0]
    }
    pub fn max(&self) -> f64 {
        self.values[self.values.len() - 1]
    }
}

/// "Nice" ticks covering `min..=max` with about `target` ticks (at least two).
///
/// A zero-width range is widened to include zero (or to `0..=1` at zero); non-finite
/// input gives `0..=1`.
pub fn nice_ticks(min: f64, max: f64, target: usize) -> Ticks {
    let (mut lo, mut hi) = if min.is_finite() && max.is_finite() {
        (min.min(max), min.max(max))
    } else {
        (0.0, 1.0)
    };
    if lo == hi {
        if lo == 0.0 {
            hi = 1.0;
        } else if lo > 0.0 {
            lo = 0.0;
        } else {
            hi = 0.0;
        }
    }
    let intervals = target.max(2) as f64 - 1.0;
    let step = nice_step((hi - lo) / intervals);
    let first = (lo / step + 1e-9).floor() as i64;
    let last = (hi / step - 1e-9).ceil() as i64;
    let values = (first..=last)
        .map(|i| {
            let v = i as f64 * step;
            // Drop float noise such as 0.30000000000000004.
            let scale = 10f64.powi(step_decimals(step) as i32 + 2);
            let v = (v * scale).round() / scale;
            if v == 0.0 { 0.0 } else { v }
        })
        .collect();
    Ticks { values, step }
}

fn nice_step(raw: f64) -> f64 {
    let exp = raw.log10().floor();
    let base = 10f64.powf(exp);
    let f = raw / base;
    let nice = if f < 1.5 {
        1.0
    } else if f < 3.0 {
        2.0
    } else if f < 7.0 {
        5.0
    } else {
        10.0
    };
    nice * base
}

/// Space around the plot area, in pixels.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Margin {
    pub top: f64,
    pub right: f64,
    pub bottom: f64,
    pub left: f64,
}

/// Settings shared by all charts.
#[derive(Debug, Clone, PartialEq)]
pub struct ChartOptions {
    /// Prefix of the element ids (`{id}-title`, `{id}-desc`); unique within a page.
    pub id: String,
    pub title: String,
    /// Text of `<desc>`; a summary of the data when `None`.
    pub description: Option<String>,
    pub width: f64,
    pub height: f64,
    pub margin: Margin,
    pub x_label: Option<String>,
    pub y_label: Option<String>,
    pub x_format: NumberFormat,
    pub y_format: NumberFormat,
    pub font_size: f64,
    /// Shown instead of a plot when there is no finite data.
    pub empty_text: String,
    /// Write numbers the Finnish way: a decimal comma, and a space before `%`
    /// (`12,5 %`).
    pub decimal_comma: bool,
}

impl ChartOptions {
    pub fn new(id: &str, title: &str) -> Self {
        ChartOptions {
            id: id.to_string(),
            title: title.to_string(),
            description: None,
            width: 640.0,
            height: 320.0,
            margin: Margin {
                top: 48.0,
                right: 16.0,
                bottom: 44.0,
                left: 56.0,
            },
            x_label: None,
            y_label: None,
            x_format: NumberFormat::Auto,
            y_format: NumberFormat::Auto,
            font_size: 12.0,
            empty_text: "No data".to_string(),
            decimal_comma: false,
        }
    }

    pub fn decimal_comma(mut self, on: bool) -> Self {
        self.decimal_comma = on;
        self
    }

    pub fn empty_text(mut self, text: &str) -> Self {
        self.empty_text = text.to_string();
        self
    }

    pub fn size(mut self, width: f64, height: f64) -> Self {
        self.width = width;
        self.height = height;
        self
    }

    pub fn description(mut self, desc: &str) -> Self {
        self.description = Some(desc.to_string());
        self
    }

    pub fn x_label(mut self, label: &str) -> Self {
        self.x_label = Some(label.to_string());
        self
    }

    pub fn y_label(mut self, label: &str) -> Self {
        self.y_label = Some(label.to_string());
        self
    }

    pub fn y_format(mut self, format: NumberFormat) -> Self {
        self.y_format = format;
        self
    }

    pub fn x_format(mut self, format: NumberFormat) -> Self {
        self.x_format = format;
        self
    }

    fn dims(&self) -> (f64, f64) {
        let ok = |v: f64, d: f64| {
            if v.is_finite() && v >= 100.0 {
                v.min(10_000.0)
            } else {
                d
            }
        };
        (ok(self.width, 640.0), ok(self.height, 320.0))
    }

    fn safe_id(&self) -> String {
        let mut id: String = self
            .id
            .chars()
            .map(|c| {
                if c.is_ascii_alphanumeric() || c == '-' || c == '_' {
                    c
                } else {
                    '-'
                }
            })
            .collect();
        if !id.starts_with(|c: char| c.is_ascii_alphabetic()) {
            id.insert_str(0, "chart-");
        }
        id
    }

    fn font(&self) -> f64 {
        if self.font_size.is_finite() && self.font_size > 4.0 {
            self.font_size.min(48.0)
        } else {
            12.0
        }
    }
}

/// The plot area inside the margins.
#[derive(Debug, Clone, Copy)]
struct Plot {
    left: f64,
    top: f64,
    right: f64,
    bottom: f64,
}

impl Plot {
    /// `extra_top`: rows of legend; `min_left`: room wanted for left labels.
    fn new(w: f64, h: f64, m: Margin, extra_top: f64, min_left: f64) -> Plot {
        let c = |v: f64| {
            if v.is_finite() {
                v.clamp(0.0, 400.0)
            } else {
                0.0
            }
        };
        let left = c(m.left).max(min_left).min(w * 0.5);
        let right = (w - c(m.right)).max(left + 10.0).min(w);
        let top = (c(m.top) + extra_top).min(h * 0.5);
        let bottom = (h - c(m.bottom)).max(top + 10.0).min(h);
        Plot {
            left,
            top,
            right,
            bottom,
        }
    }

    fn width(&self) -> f64 {
        self.right - self.left
    }

    fn height(&self) -> f64 {
        self.bottom - self.top
    }
}

/// Linear map of `v` from `d0..d1` to `r0..r1`, clamped to the range.
fn scale(v: f64, d0: f64, d1: f64, r0: f64, r1: f64) -> f64 {
    let t = if d1 == d0 { 0.5 } else { (v - d0) / (d1 - d0) };
    let t = if t.is_finite() {
        t.clamp(0.0, 1.0)
    } else {
        0.0
    };
    r0 + t * (r1 - r0)
}

/// Builds the SVG markup; all text passed in is escaped here.
struct Svg {
    out: String,
    font: f64,
    width: f64,
    height: f64,
    decimal_comma: bool,
}

impl Svg {
    fn begin(opts: &ChartOptions, kind: &str, summary: &str) -> Svg {
        let (w, h) = opts.dims();
        let id = opts.safe_id();
        let font = opts.font();
        let mut out = String::with_capacity(4096);
        let desc = opts
            .description
            .clone()
            .unwrap_or_else(|| summary.to_string());
        let _ = write!(
            out,
            "<svg xmlns=\"http://www.w3.org/2000/svg\" class=\"chart chart-{kind}\" \
             viewBox=\"0 0 {} {}\" width=\"{}\" height=\"{}\" style=\"min-width: {}px\" role=\"img\" \
             aria-labelledby=\"{id}-title {id}-desc\" \
             font-family=\"system-ui, -apple-system, 'Segoe UI', sans-serif\" font-size=\"{}\">\
             <title id=\"{id}-title\">{}</title><desc id=\"{id}-desc\">{}</desc>",
            Coord(w),
            Coord(h),
            Coord(w),
            Coord(h),
            // Shrunk to fit a narrow screen, the text stays at least MIN_TEXT_PX high.
            Coord((w * MIN_TEXT_PX / font).ceil()),
            Coord(font),
            escape(&opts.title),
            escape(&desc),
        );
        let mut svg = Svg {
            out,
            font,
            width: w,
            height: h,
            decimal_comma: opts.decimal_comma,
        };
        svg.text(
            8.0,
            8.0 + font * 1.3,
            "start",
            &opts.title,
            "chart-title",
            " font-weight=\"600\"",
        );
        svg
    }

    /// A formatted number in the chart's convention (see [`localize`]).
    fn num(&self, s: String) -> String {
        localize(s, self.decimal_comma)
    }

    /// `extra`: additional, already escaped attributes (starting with a space).
    fn text(&mut self, x: f64, y: f64, anchor: &str, content: &str, class: &str, extra: &str) {
        let _ = write!(
            self.out,
            "<text class=\"{class}\" x=\"{}\" y=\"{}\" text-anchor=\"{anchor}\"{extra}>{}</text>",
            Coord(x.clamp(0.0, self.width)),
            Coord(y.clamp(0.0, self.height)),
            escape(content)
        );
    }

    fn line(&mut self, x1: f64, y1: f64, x2: f64, y2: f64, class: &str, stroke: &str) {
        let _ = write!(
            self.out,
            "<line class=\"{class}\" x1=\"{}\" y1=\"{}\" x2=\"{}\" y2=\"{}\" stroke=\"{stroke}\"/>",
            Coord(x1),
            Coord(y1),
            Coord(x2),
            Coord(y2)
        );
    }

    /// Opens `<a href>` when there is a link; returns whether it did.
    fn link_open(&mut self, href: Option<&str>) -> bool {
        match href {
            Some(h) if !h.is_empty() => {
                let _ = write!(self.out, "<a href=\"{}\">", escape(h));
                true
            }
            _ => false,
        }
    }

    fn link_close(&mut self, opened: bool) {
        if opened {
            self.out.push_str("</a>");
        }
    }

    /// Horizontal legend rows starting at `y`; returns nothing, layout via [`legend_rows`].
    fn legend(&mut self, entries: &[(String, String)], left: f64, y: f64, right: f64) {
        let mut x = left;
        let mut y = y;
        self.out.push_str("<g class=\"legend\">");
        for (name, color) in entries {
            let w = legend_entry_width(name, self.font);
            if x > left && x + w > right {
                x = left;
                y += self.font * 1.4;
            }
            let _ = write!(
                self.out,
                "<rect x=\"{}\" y=\"{}\" width=\"{}\" height=\"{}\" fill=\"{color}\"/>",
                Coord(x),
                Coord(y - self.font * 0.8),
                Coord(self.font * 0.8),
                Coord(self.font * 0.8)
            );
            self.text(x + self.font * 1.1, y, "start", name, "legend-label", "");
            x += w;
        }
        self.out.push_str("</g>");
    }

    fn y_axis(&mut self, plot: Plot, ticks: &Ticks, fmt: NumberFormat, label: Option<&str>) {
        let (d0, d1) = (ticks.min(), ticks.max());
        self.out.push_str("<g class=\"axis axis-y\">");
        for &v in &ticks.values {
            let y = scale(v, d0, d1, plot.bottom, plot.top);
            self.line(plot.left, y, plot.right, y, "grid", "#e5e5e5");
            let t = self.num(fmt.tick(v, ticks.step));
            self.text(plot.left - 6.0, y + self.font * 0.35, "end", &t, "tick", "");
        }
        self.out.push_str("</g>");
        if let Some(label) = label {
            let x = (self.font * 1.1).max(1.0);
            let y = (plot.top + plot.bottom) / 2.0;
            let _ = write!(
                self.out,
                "<text class=\"axis-label\" x=\"{}\" y=\"{}\" text-anchor=\"middle\" \
                 transform=\"rotate(-90 {} {})\">{}</text>",
                Coord(x),
                Coord(y),
                Coord(x),
                Coord(y),
                escape(label)
            );
        }
    }

    /// Category labels under the plot, thinned out when they would overlap.
    fn x_categories(&mut self, plot: Plot, labels: &[String]) {
        if labels.is_empty() {
            return;
        }
        let band = plot.width() / labels.len() as f64;
        let widest = labels
            .iter()
            .map(|l| text_width(l, self.font))
            .fold(0.0, f64::max)
            + 6.0;
        let every = ((widest / band).ceil() as usize).max(1);
        self.out.push_str("<g class=\"axis axis-x\">");
        for (i, l) in labels.iter().enumerate().filter(|(i, _)| i % every == 0) {
            let x = plot.left + (i as f64 + 0.5) * band;
            self.text(x, plot.bottom + self.font * 1.4, "middle", l, "tick", "");
        }
        self.out.push_str("</g>");
    }

    fn x_numeric(&mut self, plot: Plot, ticks: &Ticks, fmt: NumberFormat) {
        let (d0, d1) = (ticks.min(), ticks.max());
        self.out.push_str("<g class=\"axis axis-x\">");
        for &v in &ticks.values {
            let x = scale(v, d0, d1, plot.left, plot.right);
            self.line(x, plot.bottom, x, plot.bottom + 4.0, "tick-mark", "#999999");
            let t = self.num(fmt.tick(v, ticks.step));
            self.text(x, plot.bottom + self.font * 1.4, "middle", &t, "tick", "");
        }
        self.out.push_str("</g>");
    }

    fn x_label(&mut self, plot: Plot, h: f64, label: Option<&str>) {
        if let Some(label) = label {
            let x = (plot.left + plot.right) / 2.0;
            self.text(x, h - 6.0, "middle", label, "axis-label", "");
        }
    }

    fn finish(mut self) -> String {
        self.out.push_str("</svg>");
        self.out
    }
}

fn legend_entry_width(name: &str, font: f64) -> f64 {
    font * 1.1 + text_width(name, font) + font * 1.2
}

/// Number of legend rows needed between `left` and `right`.
fn legend_rows(names: &[&str], font: f64, left: f64, right: f64) -> usize {
    if names.is_empty() {
        return 0;
    }
    let (mut rows, mut x) = (1, left);
    for n in names {
        let w = legend_entry_width(n, font);
        if x > left && x + w > right {
            rows += 1;
            x = left;
        }
        x += w;
    }
    rows
}

/// A chart frame with title and a message instead of a plot.
fn empty_chart(opts: &ChartOptions, kind: &str) -> String {
    let mut svg = Svg::begin(opts, kind, &opts.empty_text);
    let (w, h) = opts.dims();
    svg.text(
        w / 2.0,
        h / 2.0,
        "middle",
        &opts.empty_text,
        "chart-empty",
        " fill=\"#666666\"",
    );
    svg.finish()
}

/// Room left of the plot for the y axis: its widest tick label, and the axis title
/// (turned on its side) when there is one, so that neither touches the other.
fn y_axis_room(opts: &ChartOptions, ticks: &Ticks, fmt: NumberFormat) -> f64 {
    let font = opts.font();
    let widest = ticks
        .values
        .iter()
        .map(|v| {
            text_width(
                &localize(fmt.tick(*v, ticks.step), opts.decimal_comma),
                font,
            )
        })
        .fold(0.0, f64::max);
    let title = if opts.y_label.is_some() {
        font * 1.6
    } else {
        0.0
    };
    widest + 10.0 + title
}

/// Where the legend and plot go, given the legend entries.
fn layout(opts: &ChartOptions, names: &[&str], min_left: f64) -> (Plot, f64) {
    let (w, h) = opts.dims();
    let font = opts.font();
    let left = opts.margin.left.max(min_left);
    let rows = legend_rows(names, font, left, w - opts.margin.right);
    let extra = rows.saturating_sub(1) as f64 * font * 1.4;
    let plot = Plot::new(w, h, opts.margin, extra, min_left);
    let legend_y = 8.0 + font * 1.3 + font * 1.6;
    (plot, legend_y)
}

fn finite_range(values: impl IntoIterator<Item = f64>) -> Option<(f64, f64)> {
    values
        .into_iter()
        .filter(|v| v.is_finite())
        .fold(None, |acc, v| match acc {
            None => Some((v, v)),
            Some((lo, hi)) => Some((f64::min(lo, v), f64::max(hi, v))),
        })
}

// ---------------------------------------------------------------------------------------
// Line chart
// ---------------------------------------------------------------------------------------

/// One point of a line; `band` is the `(lower, upper)` interval around `y`.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct LinePoint {
    pub x: f64,
    pub y: f64,
    pub band: Option<(f64, f64)>,
}

/// A named line. With categories, `x` is the category index (0, 1, …).
#[derive(Debug, Clone, PartialEq)]
pub struct LineSeries {
    pub name: String,
    pub points: Vec<LinePoint>,
}

impl LineSeries {
    /// A line through `(x, y)` points.
    pub fn new(name: &str, points: impl IntoIterator<Item = (f64, f64)>) -> Self {
        LineSeries {
            name: name.to_string(),
            points: points
                .into_iter()
                .map(|(x, y)| LinePoint { x, y, band: None })
                .collect(),
        }
    }

    /// A line through `(x, y, lower, upper)` points, with an interval band.
    pub fn with_band(name: &str, points: impl IntoIterator<Item = (f64, f64, f64, f64)>) -> Self {
        LineSeries {
            name: name.to_string(),
            points: points
                .into_iter()
                .map(|(x, y, lo, hi)| LinePoint {
                    x,
                    y,
                    band: Some((lo, hi)),
                })
                .collect(),
        }
    }
}

/// Lines over a numeric or categorical x axis, optionally as steps (survival curves) and
/// with translucent interval bands behind the lines.
#[derive(Debug, Clone, PartialEq)]
pub struct LineChart {
    pub options: ChartOptions,
    pub series: Vec<LineSeries>,
    /// When not empty, the x axis shows these labels and `x` is a category index.
    pub categories: Vec<String>,
    /// Draw each line as steps (horizontal, then vertical), as for Kaplan–Meier curves.
    pub step: bool,
    /// Draw a marker (`<circle>`) for each point.
    pub markers: bool,
    /// Fixed y range; otherwise nice ticks around the data.
    pub y_domain: Option<(f64, f64)>,
    /// Include zero in the automatic y range.
    pub include_zero: bool,
}

impl LineChart {
    pub fn new(options: ChartOptions) -> Self {
        LineChart {
            options,
            series: Vec::new(),
            categories: Vec::new(),
            step: false,
            markers: true,
            y_domain: None,
            include_zero: false,
        }
    }

    pub fn series(mut self, series: LineSeries) -> Self {
        self.series.push(series);
        self
    }

    pub fn categories<S: Into<String>>(mut self, labels: impl IntoIterator<Item = S>) -> Self {
        self.categories = labels.into_iter().map(Into::into).collect();
        self
    }

    pub fn step(mut self, step: bool) -> Self {
        self.step = step;
        self
    }

    pub fn markers(mut self, markers: bool) -> Self {
        self.markers = markers;
        self
    }

    pub fn y_domain(mut self, min: f64, max: f64) -> Self {
        self.y_domain = Some((min, max));
        self
    }

    pub fn include_zero(mut self, include: bool) -> Self {
        self.include_zero = include;
        self
    }

    /// Points that can be drawn, sorted by x.
    fn valid_points(&self, s: &LineSeries) -> Vec<LinePoint> {
        let n = self.categories.len() as f64;
        let mut pts: Vec<LinePoint> = s
            .points
            .iter()
            .filter(|p| p.x.is_finite() && p.y.is_finite())
            .filter(|p| self.categories.is_empty() || (p.x >= 0.0 && p.x < n))
            .map(|p| LinePoint {
                band: p.band.filter(|(lo, hi)| lo.is_finite() && hi.is_finite()),
                ..*p
            })
            .collect();
        pts.sort_by(|a, b| a.x.total_cmp(&b.x));
        pts
    }

    pub fn render(&self) -> String {
        let series: Vec<(usize, &LineSeries, Vec<LinePoint>)> = self
            .series
            .iter()
            .enumerate()
            .map(|(i, s)| (i, s, self.valid_points(s)))
            .filter(|(_, _, p)| !p.is_empty())
            .collect();
        if series.is_empty() {
            return empty_chart(&self.options, "line");
        }
        let all = || series.iter().flat_map(|(_, _, p)| p.iter());
        let y_values = all()
            .flat_map(|p| {
                [
                    p.y,
                    p.band.map_or(p.y, |b| b.0),
                    p.band.map_or(p.y, |b| b.1),
                ]
            })
            .chain(self.include_zero.then_some(0.0));
        let y_ticks = match self.y_domain {
            Some((a, b)) if a.is_finite() && b.is_finite() && a < b => {
                let t = nice_ticks(a, b, 6);
                let values: Vec<f64> = t
                    .values
                    .iter()
                    .copied()
                    .filter(|v| *v >= a && *v <= b)
                    .collect();
                Ticks {
                    values: if values.len() >= 2 {
                        values
                    } else {
                        vec![a, b]
                    },
                    step: t.step,
                }
            }
            _ => {
                let (lo, hi) = finite_range(y_values).unwrap_or((0.0, 1.0));
                nice_ticks(lo, hi, 6)
            }
        };
        let (y0, y1) = match self.y_domain {
            Some((a, b)) if a.is_finite() && b.is_finite() && a < b => (a, b),
            _ => (y_ticks.min(), y_ticks.max()),
        };
        let x_ticks = if self.categories.is_empty() {
            let (lo, hi) = finite_range(all().map(|p| p.x)).unwrap_or((0.0, 1.0));
            Some(nice_ticks(lo, hi, 6))
        } else {
            None
        };

        let names: Vec<&str> = series.iter().map(|(_, s, _)| s.name.as_str()).collect();
        let room = y_axis_room(&self.options, &y_ticks, self.options.y_format);
        let (plot, legend_y) = layout(&self.options, &names, room);
        let n_points: usize = series.iter().map(|(_, _, p)| p.len()).sum();
        let summary = format!(
            "Line chart with {} series and {} points.",
            series.len(),
            n_points
        );
        let mut svg = Svg::begin(&self.options, "line", &summary);
        let (_, h) = self.options.dims();

        let n_cat = self.categories.len().max(1) as f64;
        let px = |x: f64| match &x_ticks {
            Some(t) => scale(x, t.min(), t.max(), plot.left, plot.right),
            None => plot.left + (x.floor() + 0.5) * plot.width() / n_cat,
        };
        let py = |y: f64| scale(y, y0, y1, plot.bottom, plot.top);

        svg.y_axis(
            plot,
            &y_ticks,
            self.options.y_format,
            self.options.y_label.as_deref(),
        );
        match &x_ticks {
            Some(t) => svg.x_numeric(plot, t, self.options.x_format),
            None => svg.x_categories(plot, &self.categories),
        }
        svg.line(
            plot.left,
            plot.bottom,
            plot.right,
            plot.bottom,
            "axis-line",
            "#999999",
        );
        svg.x_label(plot, h, self.options.x_label.as_deref());

        // Bands first, so that they sit behind every line.
        for (i, _, pts) in &series {
            let color = series_color(*i);
            for run in pts.split(|p| p.band.is_none()).filter(|r| !r.is_empty()) {
                let mut upper: Vec<(f64, f64)> = Vec::new();
                let mut lower: Vec<(f64, f64)> = Vec::new();
                for (k, p) in run.iter().enumerate() {
                    let (lo, hi) = p.band.unwrap_or((p.y, p.y));
                    if self.step && k > 0 {
                        let (plo, phi) = run[k - 1].band.unwrap_or((p.y, p.y));
                        upper.push((px(p.x), py(phi)));
                        lower.push((px(p.x), py(plo)));
                    }
                    upper.push((px(p.x), py(hi)));
                    lower.push((px(p.x), py(lo)));
                }
                svg.out.push_str("<polygon class=\"band\" points=\"");
                for (k, (x, y)) in upper.iter().chain(lower.iter().rev()).enumerate() {
                    let sep = if k == 0 { "" } else { " " };
                    let _ = write!(svg.out, "{sep}{},{}", Coord(*x), Coord(*y));
                }
                let _ = write!(
                    svg.out,
                    "\" fill=\"{color}\" fill-opacity=\"0.2\" stroke=\"none\"/>"
                );
            }
        }
        for (i, s, pts) in &series {
            let color = series_color(*i);
            svg.out.push_str("<path class=\"line\" d=\"");
            for (k, p) in pts.iter().enumerate() {
                if k == 0 {
                    let _ = write!(svg.out, "M{},{}", Coord(px(p.x)), Coord(py(p.y)));
                } else {
                    if self.step {
                        let _ = write!(svg.out, " L{},{}", Coord(px(p.x)), Coord(py(pts[k - 1].y)));
                    }
                    let _ = write!(svg.out, " L{},{}", Coord(px(p.x)), Coord(py(p.y)));
                }
            }
            let _ = write!(
                svg.out,
                "\" fill=\"none\" stroke=\"{color}\" stroke-width=\"2\" stroke-linejoin=\"round\"/>"
            );
            if self.markers {
                for p in pts {
                    let x_text = if self.categories.is_empty() {
                        svg.num(self.options.x_format.value(p.x))
                    } else {
                        self.categories[p.x.floor() as usize].clone()
                    };
                    let _ = write!(
                        svg.out,
                        "<circle class=\"point\" cx=\"{}\" cy=\"{}\" r=\"3\" fill=\"{color}\"><title>{}</title></circle>",
                        Coord(px(p.x)),
                        Coord(py(p.y)),
                        escape(&format!(
                            "{}: {}, {}",
                            s.name,
                            x_text,
                            svg.num(self.options.y_format.value(p.y))
                        ))
                    );
                }
            }
        }
        let entries: Vec<(String, String)> = series
            .iter()
            .map(|(i, s, _)| (s.name.clone(), series_color(*i).to_string()))
            .collect();
        svg.legend(
            &entries,
            plot.left,
            legend_y,
            svg.width - self.options.margin.right,
        );
        svg.finish()
    }
}

// ---------------------------------------------------------------------------------------
// Bar chart
// ---------------------------------------------------------------------------------------

/// A named series of bars, one value per category (`NaN` = no bar), each optionally
/// linking to the customers behind it.
#[derive(Debug, Clone, PartialEq)]
pub struct BarSeries {
    pub name: String,
    pub values: Vec<f64>,
    /// `links[i]` is the `href` of the bar of category `i` (may be shorter than `values`).
    pub links: Vec<Option<String>>,
    /// `intervals[i]`: `(lower, upper)` drawn as a whisker over the bar of category `i`
    /// (grouped bars only).
    pub intervals: Vec<Option<(f64, f64)>>,
}

impl BarSeries {
    pub fn new(name: &str, values: impl IntoIterator<Item = f64>) -> Self {
        BarSeries {
            name: name.to_string(),
            values: values.into_iter().collect(),
            links: Vec::new(),
            intervals: Vec::new(),
        }
    }

    pub fn intervals(mut self, intervals: impl IntoIterator<Item = Option<(f64, f64)>>) -> Self {
        self.intervals = intervals.into_iter().collect();
        self
    }

    pub fn links<S: Into<String>>(mut self, links: impl IntoIterator<Item = Option<S>>) -> Self {
        self.links = links.into_iter().map(|l| l.map(Into::into)).collect();
        self
    }
}

/// How several series share a category.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum BarMode {
    /// Side by side.
    #[default]
    Grouped,
    /// On top of each other: positive values up from zero, negative values down.
    Stacked,
}

/// Categories × series as vertical bars, with a zero line.
#[derive(Debug, Clone, PartialEq)]
pub struct BarChart {
    pub options: ChartOptions,
    pub categories: Vec<String>,
    pub series: Vec<BarSeries>,
    pub mode: BarMode,
}

impl BarChart {
    pub fn new<S: Into<String>>(
        options: ChartOptions,
        categories: impl IntoIterator<Item = S>,
    ) -> Self {
        BarChart {
            options,
            categories: categories.into_iter().map(Into::into).collect(),
            series: Vec::new(),
            mode: BarMode::Grouped,
        }
    }

    pub fn series(mut self, series: BarSeries) -> Self {
        self.series.push(series);
        self
    }

    pub fn mode(mut self, mode: BarMode) -> Self {
        self.mode = mode;
        self
    }

    fn value(&self, s: &BarSeries, c: usize) -> Option<f64> {
        s.values.get(c).copied().filter(|v| v.is_finite())
    }

    /// The whisker of a bar that has a value, in grouped mode.
    fn interval(&self, s: &BarSeries, c: usize) -> Option<(f64, f64)> {
        self.value(s, c)?;
        if self.mode != BarMode::Grouped {
            return None;
        }
        s.intervals
            .get(c)
            .copied()
            .flatten()
            .filter(|(lo, hi)| lo.is_finite() && hi.is_finite())
            .map(|(lo, hi)| (lo.min(hi), lo.max(hi)))
    }

    pub fn render(&self) -> String {
        let n = self.categories.len();
        let n_bars = (0..n)
            .flat_map(|c| self.series.iter().map(move |s| (s, c)))
            .filter(|(s, c)| self.value(s, *c).is_some())
            .count();
        if n == 0 || n_bars == 0 {
            return empty_chart(&self.options, "bar");
        }
        let (lo, hi) = match self.mode {
            BarMode::Grouped => {
                let r = finite_range((0..n).flat_map(|c| {
                    self.series.iter().flat_map(move |s| {
                        let iv = self.interval(s, c);
                        [self.value(s, c), iv.map(|i| i.0), iv.map(|i| i.1)]
                            .into_iter()
                            .flatten()
                    })
                }));
                r.unwrap_or((0.0, 0.0))
            }
            BarMode::Stacked => (0..n).fold((0.0f64, 0.0f64), |(lo, hi), c| {
                let vals = || self.series.iter().filter_map(|s| self.value(s, c));
                let pos: f64 = vals().filter(|v| *v > 0.0).sum();
                let neg: f64 = vals().filter(|v| *v < 0.0).sum();
                (lo.min(neg), hi.max(pos))
            }),
        };
        let ticks = nice_ticks(lo.min(0.0), hi.max(0.0), 6);
        let (d0, d1) = (ticks.min(), ticks.max());

        let names: Vec<&str> = self.series.iter().map(|s| s.name.as_str()).collect();
        let room = y_axis_room(&self.options, &ticks, self.options.y_format);
        let (plot, legend_y) = layout(&self.options, &names, room);
        let summary = format!(
            "Bar chart of {} series over {} categories, {} bars.",
            self.series.len(),
            n,
            n_bars
        );
        let mut svg = Svg::begin(&self.options, "bar", &summary);
        let (_, h) = self.options.dims();
        svg.y_axis(
            plot,
            &ticks,
            self.options.y_format,
            self.options.y_label.as_deref(),
        );
        svg.x_categories(plot, &self.categories);
        svg.x_label(plot, h, self.options.x_label.as_deref());

        let py = |v: f64| scale(v, d0, d1, plot.bottom, plot.top);
        let band = plot.width() / n as f64;
        let inner = band * 0.8;
        let k = self.series.len().max(1) as f64;
        svg.out.push_str("<g class=\"bars\">");
        for (c, category) in self.categories.iter().enumerate() {
            let x0 = plot.left + c as f64 * band + (band - inner) / 2.0;
            let (mut pos, mut neg) = (0.0f64, 0.0f64);
            for (i, s) in self.series.iter().enumerate() {
                let Some(v) = self.value(s, c) else { continue };
                let (x, w, a, b) = match self.mode {
                    BarMode::Grouped => (x0 + i as f64 * inner / k, inner / k, 0.0, v),
                    BarMode::Stacked if v >= 0.0 => {
                        pos += v;
                        (x0, inner, pos - v, pos)
                    }
                    BarMode::Stacked => {
                        neg += v;
                        (x0, inner, neg - v, neg)
                    }
                };
                let (ya, yb) = (py(a), py(b));
                let link = s.links.get(c).and_then(|l| l.as_deref());
                let interval = self.interval(s, c);
                let fmt = |v: f64| svg.num(self.options.y_format.value(v));
                let mut title = format!("{}, {}: {}", s.name, category, fmt(v));
                if let Some((lo, hi)) = interval {
                    let _ = write!(title, " ({} – {})", fmt(lo), fmt(hi));
                }
                let opened = svg.link_open(link);
                let _ = write!(
                    svg.out,
                    "<rect class=\"bar\" x=\"{}\" y=\"{}\" width=\"{}\" height=\"{}\" fill=\"{}\"><title>{}</title></rect>",
                    Coord(x),
                    Coord(ya.min(yb)),
                    Coord((w - 1.0).max(1.0)),
                    Coord((ya - yb).abs()),
                    series_color(i),
                    escape(&title)
                );
                svg.link_close(opened);
                if let Some((lo, hi)) = interval {
                    let (cx, cap) = (x + (w - 1.0).max(1.0) / 2.0, (w * 0.15).clamp(2.0, 12.0));
                    let (ylo, yhi) = (py(lo), py(hi));
                    svg.out.push_str("<g class=\"whisker\">");
                    svg.line(cx, ylo, cx, yhi, "whisker-line", "#1a1a1a");
                    svg.line(cx - cap, ylo, cx + cap, ylo, "whisker-cap", "#1a1a1a");
                    svg.line(cx - cap, yhi, cx + cap, yhi, "whisker-cap", "#1a1a1a");
                    svg.out.push_str("</g>");
                }
            }
        }
        svg.out.push_str("</g>");
        let y_zero = py(0.0);
        svg.line(
            plot.left,
            y_zero,
            plot.right,
            y_zero,
            "zero-line",
            "#333333",
        );
        let entries: Vec<(String, String)> = self
            .series
            .iter()
            .enumerate()
            .map(|(i, s)| (s.name.clone(), series_color(i).to_string()))
            .collect();
        svg.legend(
            &entries,
            plot.left,
            legend_y,
            svg.width - self.options.margin.right,
        );
        svg.finish()
    }
}

// ---------------------------------------------------------------------------------------
// Heatmap
// ---------------------------------------------------------------------------------------

/// An RGB colour.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Rgb(pub u8, pub u8, pub u8);

impl Rgb {
    /// Linear mix: `t = 0` gives `self`, `t = 1` gives `other`.
    pub fn mix(self, other: Rgb, t: f64) -> Rgb {
        let t = if t.is_finite() {
            t.clamp(0.0, 1.0)
        } else {
            0.0
        };
        let m = |a: u8, b: u8| (a as f64 + (b as f64 - a as f64) * t).round() as u8;
        Rgb(m(self.0, other.0), m(self.1, other.1), m(self.2, other.2))
    }
}

impl fmt::Display for Rgb {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "#{:02x}{:02x}{:02x}", self.0, self.1, self.2)
    }
}

/// Rows × columns of values coloured from `low_color` (at `min`) to `high_color` (at
/// `max`); missing or non-finite cells stay blank.
#[derive(Debug, Clone, PartialEq)]
pub struct Heatmap {
    pub options: ChartOptions,
    pub rows: Vec<String>,
    pub columns: Vec<String>,
    /// `values[row][column]`; short rows are padded with blanks.
    pub values: Vec<Vec<Option<f64>>>,
    /// `links[row][column]`: `href` of the cell.
    pub links: Vec<Vec<Option<String>>>,
    pub min: f64,
    pub max: f64,
    pub low_color: Rgb,
    pub high_color: Rgb,
    /// Write each value in its cell in this format (e.g. `Percent` → "84%").
    pub cell_text: Option<NumberFormat>,
}

impl Heatmap {
    /// A heatmap over `0..=1` in blues.
    pub fn new<R: Into<String>, C2: Into<String>>(
        options: ChartOptions,
        rows: impl IntoIterator<Item = R>,
        columns: impl IntoIterator<Item = C2>,
        values: Vec<Vec<Option<f64>>>,
    ) -> Self {
        Heatmap {
            options,
            rows: rows.into_iter().map(Into::into).collect(),
            columns: columns.into_iter().map(Into::into).collect(),
            values,
            links: Vec::new(),
            min: 0.0,
            max: 1.0,
            low_color: Rgb(0xf7, 0xfb, 0xff),
            high_color: Rgb(0x08, 0x30, 0x6b),
            cell_text: None,
        }
    }

    pub fn range(mut self, min: f64, max: f64) -> Self {
        self.min = min;
        self.max = max;
        self
    }

    pub fn colors(mut self, low: Rgb, high: Rgb) -> Self {
        self.low_color = low;
        self.high_color = high;
        self
    }

    pub fn cell_text(mut self, format: NumberFormat) -> Self {
        self.cell_text = Some(format);
        self
    }

    pub fn links(mut self, links: Vec<Vec<Option<String>>>) -> Self {
        self.links = links;
        self
    }

    fn cell(&self, r: usize, c: usize) -> Option<f64> {
        self.values
            .get(r)?
            .get(c)
            .copied()
            .flatten()
            .filter(|v| v.is_finite())
    }

    fn t(&self, v: f64) -> f64 {
        if self.min.is_finite() && self.max.is_finite() && self.max > self.min {
            ((v - self.min) / (self.max - self.min)).clamp(0.0, 1.0)
        } else {
            1.0
        }
    }

    /// The options with the chart made wide and tall enough for every cell's text
    /// (when cells show their values), given the room of the row labels.
    fn fitted_options(&self, label_w: f64) -> ChartOptions {
        let mut options = self.options.clone();
        let Some(fmt) = self.cell_text else {
            return options;
        };
        let font = options.font();
        let (nr, nc) = (self.rows.len() as f64, self.columns.len() as f64);
        let widest = (0..self.rows.len())
            .flat_map(|r| (0..self.columns.len()).map(move |c| (r, c)))
            .filter_map(|(r, c)| self.cell(r, c))
            .map(|v| text_width(&localize(fmt.value(v), options.decimal_comma), font))
            .fold(0.0, f64::max);
        let (w, h) = options.dims();
        let m = options.margin;
        let left = m.left.max(label_w);
        let top = (8.0 + font * 2.9 + font * 0.6).max(m.top);
        options.width = w.max(left + nc * (widest + 6.0) + m.right);
        options.height = h.max(top + nr * (font + 8.0) + m.bottom);
        options
    }

    pub fn render(&self) -> String {
        let (nr, nc) = (self.rows.len(), self.columns.len());
        let n_cells = (0..nr)
            .flat_map(|r| (0..nc).map(move |c| (r, c)))
            .filter(|&(r, c)| self.cell(r, c).is_some())
            .count();
        if n_cells == 0 {
            return empty_chart(&self.options, "heatmap");
        }
        let font = self.options.font();
        let label_w = self
            .rows
            .iter()
            .map(|r| text_width(r, font))
            .fold(0.0, f64::max)
            + 10.0;
        // Wide and tall enough that every cell's text fits it ("100%" included).
        let options = self.fitted_options(label_w);
        let (mut plot, legend_y) = layout(&options, &[], label_w);
        // Keep room for the colour legend row.
        plot.top = plot.top.max(legend_y + font * 0.6).min(plot.bottom - 10.0);
        let summary =
            format!("Heatmap of {nr} rows and {nc} columns, {n_cells} cells with values.");
        let mut svg = Svg::begin(&options, "heatmap", &summary);
        let (_, h) = options.dims();

        let cw = plot.width() / nc as f64;
        let ch = plot.height() / nr as f64;
        svg.out.push_str("<g class=\"row-labels\">");
        for (r, label) in self.rows.iter().enumerate() {
            let y = plot.top + (r as f64 + 0.5) * ch + font * 0.35;
            svg.text(plot.left - 6.0, y, "end", label, "tick", "");
        }
        svg.out.push_str("</g>");
        svg.x_categories(plot, &self.columns);
        svg.x_label(plot, h, options.x_label.as_deref());

        svg.out.push_str("<g class=\"cells\">");
        for (r, row) in self.rows.iter().enumerate() {
            for (c, column) in self.columns.iter().enumerate() {
                let Some(v) = self.cell(r, c) else { continue };
                let t = self.t(v);
                let fill = self.low_color.mix(self.high_color, t);
                let (x, y) = (plot.left + c as f64 * cw, plot.top + r as f64 * ch);
                let text = svg.num(self.cell_text.unwrap_or(NumberFormat::Auto).value(v));
                let link = self
                    .links
                    .get(r)
                    .and_then(|l| l.get(c))
                    .and_then(|l| l.as_deref());
                let opened = svg.link_open(link);
                let _ = write!(
                    svg.out,
                    "<rect class=\"cell\" x=\"{}\" y=\"{}\" width=\"{}\" height=\"{}\" fill=\"{fill}\"><title>{}</title></rect>",
                    Coord(x),
                    Coord(y),
                    Coord((cw - 1.0).max(0.5)),
                    Coord((ch - 1.0).max(0.5)),
                    escape(&format!("{row}, {column}: {text}"))
                );
                if self.cell_text.is_some()
                    && cw >= text_width(&text, font) + 4.0
                    && ch >= font + 2.0
                {
                    let color = if t > 0.55 { "#ffffff" } else { "#1a1a1a" };
                    let attrs = format!(" fill=\"{color}\" pointer-events=\"none\"");
                    svg.text(
                        x + cw / 2.0,
                        y + ch / 2.0 + font * 0.35,
                        "middle",
                        &text,
                        "cell-text",
                        &attrs,
                    );
                }
                svg.link_close(opened);
            }
        }
        svg.out.push_str("</g>");

        // Colour legend: five swatches from min to max.
        let fmt = self.cell_text.unwrap_or(NumberFormat::Auto);
        let (lo, hi) = if self.max > self.min {
            (self.min, self.max)
        } else {
            (self.min, self.min)
        };
        svg.out.push_str("<g class=\"legend\">");
        let mut x = plot.left;
        let (lo_text, hi_text) = (svg.num(fmt.value(lo)), svg.num(fmt.value(hi)));
        svg.text(x, legend_y, "start", &lo_text, "legend-label", "");
        x += text_width(&lo_text, font) + 4.0;
        for k in 0..5 {
            let fill = self.low_color.mix(self.high_color, k as f64 / 4.0);
            let _ = write!(
                svg.out,
                "<rect x=\"{}\" y=\"{}\" width=\"{}\" height=\"{}\" fill=\"{fill}\" stroke=\"#cccccc\"/>",
                Coord(x),
                Coord(legend_y - font * 0.8),
                Coord(font * 1.2),
                Coord(font * 0.8)
            );
            x += font * 1.2;
        }
        svg.text(x + 4.0, legend_y, "start", &hi_text, "legend-label", "");
        svg.out.push_str("</g>");
        svg.finish()
    }
}

// ---------------------------------------------------------------------------------------
// Sparkline
// ---------------------------------------------------------------------------------------

/// A small line with no axes and no text: a metric's recent values at a glance, the
/// figures themselves written beside it. Missing values break the line; the
/// optional baseline is a dashed level line.
#[derive(Debug, Clone, PartialEq)]
pub struct Sparkline {
    /// Prefix of the element ids; unique within a page.
    pub id: String,
    /// What the line shows (`<title>`), e.g. "Logins, last 12 weeks".
    pub title: String,
    pub values: Vec<Option<f64>>,
    pub baseline: Option<f64>,
    pub width: f64,
    pub height: f64,
}

impl Sparkline {
    pub fn new(id: &str, title: &str, values: Vec<Option<f64>>) -> Self {
        Sparkline {
            id: id.to_string(),
            title: title.to_string(),
            values,
            baseline: None,
            width: 120.0,
            height: 28.0,
        }
    }

    pub fn baseline(mut self, b: Option<f64>) -> Self {
        self.baseline = b.filter(|b| b.is_finite());
        self
    }

    pub fn render(&self) -> String {
        let id = ChartOptions::new(&self.id, "").safe_id();
        let (w, h) = (
            self.width.clamp(20.0, 1000.0),
            self.height.clamp(8.0, 200.0),
        );
        let pad = 3.0;
        let mut out = String::with_capacity(1024);
        let _ = write!(
            out,
            "<svg xmlns=\"http://www.w3.org/2000/svg\" class=\"sparkline\" viewBox=\"0 0 {} {}\" \
             width=\"{}\" height=\"{}\" role=\"img\" aria-labelledby=\"{id}-title\">\
             <title id=\"{id}-title\">{}</title>",
            Coord(w),
            Coord(h),
            Coord(w),
            Coord(h),
            escape(&self.title)
        );
        let values = || {
            self.values
                .iter()
                .flatten()
                .copied()
                .filter(|v| v.is_finite())
        };
        let Some((lo, hi)) = finite_range(values().chain(self.baseline)) else {
            out.push_str("</svg>");
            return out;
        };
        let n = self.values.len().max(2) as f64 - 1.0;
        let px = |i: usize| pad + i as f64 * (w - 2.0 * pad) / n;
        let py = |v: f64| {
            if hi > lo {
                scale(v, lo, hi, h - pad, pad)
            } else {
                h / 2.0
            }
        };
        if let Some(b) = self.baseline {
            let y = py(b);
            let _ = write!(
                out,
                "<line class=\"baseline\" x1=\"{}\" y1=\"{}\" x2=\"{}\" y2=\"{}\" stroke=\"#8c969e\" stroke-dasharray=\"3 2\"/>",
                Coord(pad),
                Coord(y),
                Coord(w - pad),
                Coord(y)
            );
        }
        let mut run: Vec<(f64, f64)> = Vec::new();
        let mut runs: Vec<Vec<(f64, f64)>> = Vec::new();
        for (i, v) in self.values.iter().enumerate() {
            match v.filter(|v| v.is_finite()) {
                Some(v) => run.push((px(i), py(v))),
                None if !run.is_empty() => runs.push(std::mem::take(&mut run)),
                None => {}
            }
        }
        if !run.is_empty() {
            runs.push(run);
        }
        for r in &runs {
            out.push_str("<polyline class=\"line\" points=\"");
            for (k, (x, y)) in r.iter().enumerate() {
                let sep = if k == 0 { "" } else { " " };
                let _ = write!(out, "{sep}{},{}", Coord(*x), Coord(*y));
            }
            out.push_str("\" fill=\"none\" stroke=\"#0072B2\" stroke-width=\"1.5\" stroke-linejoin=\"round\"/>");
        }
        if let Some(Some(v)) = self.values.last().filter(|v| v.is_some_and(f64::is_finite)) {
            let _ = write!(
                out,
                "<circle class=\"latest\" cx=\"{}\" cy=\"{}\" r=\"2.5\" fill=\"#0072B2\"/>",
                Coord(px(self.values.len() - 1)),
                Coord(py(*v))
            );
        }
        out.push_str("</svg>");
        out
    }
}

/// Restyles series `series` (0-based) of a rendered [`LineChart`]: its line drawn
/// with the SVG dash pattern `dash` (e.g. `"7 5"`) and its markers with radius
/// `radius`, so that two lines which coincide both stay visible (a wide marker under
/// a dashed line). The series is found by its palette colour.
pub fn restyle_line_series(svg: &str, series: usize, dash: Option<&str>, radius: f64) -> String {
    let color = series_color(series);
    let line = format!("stroke=\"{color}\" stroke-width=\"2\" stroke-linejoin=\"round\"/>");
    let dashed = match dash {
        Some(d) => format!(
            "stroke=\"{color}\" stroke-width=\"2\" stroke-linejoin=\"round\" stroke-dasharray=\"{}\"/>",
            escape(d)
        ),
        None => line.clone(),
    };
    svg.replace(&line, &dashed).replace(
        &format!("r=\"3\" fill=\"{color}\""),
        &format!("r=\"{}\" fill=\"{color}\"", Coord(radius)),
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A small stack-based XML check: every opened element is closed in order, attribute
    /// values are quoted, text holds no raw `<`/`>` and only known entities.
    fn check_xml(svg: &str) -> Result<(), String> {
        let mut stack: Vec<String> = Vec::new();
        let mut rest = svg;
        let mut roots = 0;
        loop {
            let (text, after) = match rest.find('<') {
                Some(i) => (&rest[..i], Some(&rest[i + 1..])),
                None => (rest, None),
            };
            if text.contains('>') {
                return Err(format!("raw '>' in text {text:?}"));
            }
            check_entities(text)?;
            if !text.trim().is_empty() && stack.is_empty() {
                return Err(format!("text outside the root: {text:?}"));
            }
            let Some(after) = after else { break };
            let end = after.find('>').ok_or("unterminated tag")?;
            let tag = &after[..end];
            rest = &after[end + 1..];
            if tag.contains('<') {
                return Err(format!("'<' inside tag {tag:?}"));
            }
            if let Some(name) = tag.strip_prefix('/') {
                match stack.pop() {
                    Some(open) if open == name.trim() => {}
                    other => return Err(format!("</{name}> closes {other:?}")),
                }
                continue;
            }
            let self_closing = tag.ends_with('/');
            let body = tag.trim_end_matches('/');
            let name: String = body.chars().take_while(|c| !c.is_whitespace()).collect();
            if name.is_empty() || !name.chars().all(|c| c.is_ascii_alphanumeric() || c == '-') {
                return Err(format!("bad element name in {tag:?}"));
            }
            check_attributes(&body[name.len()..])?;
            if stack.is_empty() {
                roots += 1;
            }
            if !self_closing {
                stack.push(name);
            }
        }
        if !stack.is_empty() {
            return Err(format!("unclosed {stack:?}"));
        }
        if roots != 1 || !svg.starts_with("<svg ") {
            return Err(format!("{roots} roots"));
        }
        Ok(())
    }

    fn check_entities(s: &str) -> Result<(), String> {
        for (i, _) in s.match_indices('&') {
            let ok = ["&amp;", "&lt;", "&gt;", "&quot;", "&#39;"]
                .iter()
                .any(|e| s[i..].starts_with(e));
            if !ok {
                return Err(format!("bare '&' in {s:?}"));
            }
        }
        Ok(())
    }

    /// ` name="value" name="value"` — each value double-quoted, without `<` or `"`.
    fn check_attributes(mut s: &str) -> Result<(), String> {
        loop {
            s = s.trim_start();
            if s.is_empty() {
                return Ok(());
            }
            let eq = s
                .find("=\"")
                .ok_or(format!("attribute without quoted value: {s:?}"))?;
            let name = &s[..eq];
            if name.is_empty()
                || !name
                    .chars()
                    .all(|c| c.is_ascii_alphanumeric() || c == '-' || c == ':')
            {
                return Err(format!("bad attribute name {name:?}"));
            }
            let value_and_rest = &s[eq + 2..];
            let close = value_and_rest
                .find('"')
                .ok_or("unterminated attribute value")?;
            check_entities(&value_and_rest[..close])?;
            s = &value_and_rest[close + 1..];
            if !s.is_empty() && !s.starts_with(char::is_whitespace) {
                return Err(format!("no space after attribute {name}"));
            }
        }
    }

    fn attr_values<'a>(svg: &'a str, name: &str) -> Vec<&'a str> {
        let pat = format!(" {name}=\"");
        svg.match_indices(&pat)
            .map(|(i, _)| {
                let v = &svg[i + pat.len()..];
                &v[..v.find('"').unwrap()]
            })
            .collect()
    }

    /// Every x/y coordinate (attributes, polygon points, path data) lies in the viewBox.
    fn check_coordinates(svg: &str, w: f64, h: f64) {
        let num = |s: &str| {
            s.parse::<f64>()
                .unwrap_or_else(|_| panic!("not a number: {s:?}"))
        };
        for a in ["x", "x1", "x2", "cx"] {
            for v in attr_values(svg, a) {
                let v = num(v);
                assert!((0.0..=w).contains(&v), "{a}={v} outside 0..{w}");
            }
        }
        for a in ["y", "y1", "y2", "cy"] {
            for v in attr_values(svg, a) {
                let v = num(v);
                assert!((0.0..=h).contains(&v), "{a}={v} outside 0..{h}");
            }
        }
        for a in ["width", "height"] {
            for v in attr_values(svg, a) {
                assert!(num(v) >= 0.0, "negative {a}");
            }
        }
        let pairs = attr_values(svg, "points")
            .into_iter()
            .chain(attr_values(svg, "d"));
        for data in pairs {
            for pair in data.split([' ', 'M', 'L']).filter(|p| !p.is_empty()) {
                let (x, y) = pair.split_once(',').unwrap();
                let (x, y) = (num(x), num(y));
                assert!(
                    (0.0..=w).contains(&x) && (0.0..=h).contains(&y),
                    "({x},{y}) outside"
                );
            }
        }
    }

    fn check(svg: &str) {
        check_xml(svg).unwrap_or_else(|e| panic!("{e}\n{svg}"));
        check_coordinates(svg, 640.0, 320.0);
        assert!(svg.contains("role=\"img\""));
        assert!(!svg.to_lowercase().contains("<script"));
    }

    fn count(svg: &str, needle: &str) -> usize {
        svg.matches(needle).count()
    }

    fn survival() -> LineChart {
        LineChart::new(ChartOptions::new("surv", "Survival").y_format(NumberFormat::Percent))
            .step(true)
            .series(LineSeries::with_band(
                "All customers",
                [
                    (0.0, 1.0, 1.0, 1.0),
                    (3.0, 0.9, 0.85, 0.95),
                    (6.0, 0.8, 0.72, 0.88),
                    (12.0, 0.7, 0.6, 0.8),
                ],
            ))
            .series(LineSeries::new(
                "Premium",
                [(0.0, 1.0), (6.0, 0.95), (12.0, 0.9)],
            ))
            .y_domain(0.0, 1.0)
    }

    #[test]
    fn checker_rejects_broken_markup() {
        assert!(check_xml("<svg a=\"1\"><g></svg></g>").is_err());
        assert!(check_xml("<svg><g></g>").is_err());
        assert!(check_xml("<svg><text>a < b</text></svg>").is_err());
        assert!(check_xml("<svg><text>R&D</text></svg>").is_err());
        assert!(check_xml("<svg x=1></svg>").is_err());
        assert!(check_xml("<svg x=\"1\"><text>R&amp;D</text><rect/></svg>").is_ok());
    }

    #[test]
    fn line_chart_with_band_and_steps() {
        let svg = survival().render();
        check(&svg);
        assert_eq!(count(&svg, "<circle class=\"point\""), 7);
        assert_eq!(count(&svg, "<path class=\"line\""), 2);
        assert_eq!(count(&svg, "<polygon class=\"band\""), 1);
        // The band is drawn before (behind) the lines.
        assert!(svg.find("class=\"band\"").unwrap() < svg.find("class=\"line\"").unwrap());
        // Steps: 4 points give 1 M + 3 × 2 L.
        let d = attr_values(&svg, "d")[0];
        assert_eq!(d.matches('L').count(), 6);
        assert!(svg.contains(">100%</text>") && svg.contains(">0%</text>"));
        assert!(svg.contains("aria-labelledby=\"surv-title surv-desc\""));
        assert!(svg.contains("<title id=\"surv-title\">Survival</title>"));
        assert!(svg.contains("<desc id=\"surv-desc\">"));
        assert!(svg.contains("class=\"legend\"") && svg.contains(">Premium</text>"));
    }

    #[test]
    fn line_chart_with_categories_and_gaps() {
        let svg = LineChart::new(ChartOptions::new("rev", "Revenue"))
            .categories(["Jan", "Feb", "Mar"])
            .series(LineSeries::new(
                "Revenue",
                [(0.0, 120.0), (1.0, f64::NAN), (2.0, 137.0), (7.0, 1.0)],
            ))
            .render();
        check(&svg);
        assert_eq!(count(&svg, "<circle class=\"point\""), 2);
        assert!(svg.contains(">Feb</text>"));
    }

    #[test]
    fn output_is_deterministic() {
        assert_eq!(survival().render(), survival().render());
    }

    #[test]
    fn grouped_and_stacked_bars() {
        let chart = BarChart::new(
            ChartOptions::new("flow", "Customers"),
            ["Jan", "Feb", "Mar"],
        )
        .series(
            BarSeries::new("Won", [10.0, 12.0, 8.0])
                .links([Some("/customers?won=2026-01&x=<1>"), None]),
        )
        .series(BarSeries::new("Kept", [100.0, 105.0, f64::NAN]))
        .series(BarSeries::new("Lost", [-5.0, -7.0, -4.0]));
        let grouped = chart.clone().render();
        check(&grouped);
        assert_eq!(count(&grouped, "<rect class=\"bar\""), 8);
        assert_eq!(count(&grouped, "<a href="), 1);
        assert!(grouped.contains("<a href=\"/customers?won=2026-01&amp;x=&lt;1&gt;\">"));
        assert_eq!(count(&grouped, "class=\"zero-line\""), 1);

        let stacked = chart.mode(BarMode::Stacked).render();
        check(&stacked);
        assert_eq!(count(&stacked, "<rect class=\"bar\""), 8);
        // Negative values go below the zero line.
        let zero: f64 = attr_values(&stacked, "y1")
            .iter()
            .zip(
                stacked
                    .match_indices("<line class=")
                    .map(|(i, _)| &stacked[i..]),
            )
            .find(|(_, l)| l.starts_with("<line class=\"zero-line\""))
            .map(|(y, _)| y.parse().unwrap())
            .unwrap();
        let lost_bar = stacked.find("Lost, Jan").unwrap();
        let rect = &stacked[stacked[..lost_bar].rfind("<rect").unwrap()..lost_bar];
        let y: f64 = attr_values(rect, "y")[0].parse().unwrap();
        assert!(
            (y - zero).abs() < 0.01,
            "lost bar starts at zero line: {y} vs {zero}"
        );
        let won_bar = stacked.find("Won, Jan").unwrap();
        let rect = &stacked[stacked[..won_bar].rfind("<rect").unwrap()..won_bar];
        let y: f64 = attr_values(rect, "y")[0].parse().unwrap();
        let h: f64 = attr_values(rect, "height")[0].parse().unwrap();
        assert!((y + h - zero).abs() < 0.01, "won bar ends at zero line");
    }

    #[test]
    fn bars_with_interval_whiskers() {
        let chart = BarChart::new(ChartOptions::new("fc", "Forecast"), ["1", "3", "12"]).series(
            BarSeries::new("Expected", [10.0, 30.0, 100.0]).intervals([
                Some((8.0, 12.0)),
                None,
                Some((140.0, 60.0)),
            ]),
        );
        let svg = chart.clone().render();
        check(&svg);
        assert_eq!(count(&svg, "<g class=\"whisker\">"), 2);
        assert!(svg.contains("<title>Expected, 12: 100 (60 – 140)</title>"));
        // The axis reaches the highest upper bound.
        assert!(svg.contains(">140</text>"), "{svg}");
        let stacked = chart.mode(BarMode::Stacked).render();
        assert_eq!(count(&stacked, "class=\"whisker\""), 0);
    }

    #[test]
    fn heatmap_cells_blank_and_text() {
        let values = vec![
            vec![Some(1.0), Some(0.84), Some(0.7)],
            vec![Some(1.0), Some(0.9), None],
            vec![Some(1.0), Some(f64::NAN)],
        ];
        let svg = Heatmap::new(
            ChartOptions::new("cohorts", "Cohort retention"),
            ["2026-01", "2026-02", "2026-03"],
            ["M0", "M1", "M2"],
            values,
        )
        .cell_text(NumberFormat::Percent)
        .links(vec![vec![None, Some("/c?cohort=1&m=1".to_string())]])
        .render();
        check(&svg);
        assert_eq!(count(&svg, "<rect class=\"cell\""), 6);
        assert!(svg.contains(">84%</text>"));
        assert_eq!(count(&svg, "<a href=\"/c?cohort=1&amp;m=1\">"), 1);
        // Darkest colour at the top of the range, lightest at the bottom.
        assert!(svg.contains("fill=\"#08306b\""));
        assert!(svg.contains(">2026-03</text>"));
    }

    #[test]
    fn heatmap_custom_range_and_colours() {
        let svg = Heatmap::new(
            ChartOptions::new("h", "H"),
            ["a"],
            ["x", "y"],
            vec![vec![Some(-10.0), Some(10.0)]],
        )
        .range(-10.0, 10.0)
        .colors(Rgb(255, 255, 255), Rgb(0, 0, 0))
        .render();
        check(&svg);
        assert!(svg.contains("fill=\"#ffffff\"><title>a, x: -10</title>"));
        assert!(svg.contains("fill=\"#000000\"><title>a, y: 10</title>"));
    }

    #[test]
    fn empty_and_nan_data_render_empty_state() {
        let svgs = [
            LineChart::new(ChartOptions::new("a", "A")).render(),
            LineChart::new(ChartOptions::new("b", "B"))
                .series(LineSeries::new(
                    "s",
                    [(f64::NAN, 1.0), (1.0, f64::INFINITY)],
                ))
                .render(),
            BarChart::new(ChartOptions::new("c", "C"), Vec::<String>::new()).render(),
            BarChart::new(ChartOptions::new("d", "D"), ["x"])
                .series(BarSeries::new("s", [f64::NAN]))
                .render(),
            Heatmap::new(ChartOptions::new("e", "E"), ["r"], ["c"], vec![vec![None]]).render(),
            Heatmap::new(
                ChartOptions::new("f", "F"),
                Vec::<String>::new(),
                ["c"],
                vec![],
            )
            .render(),
        ];
        for svg in &svgs {
            check(svg);
            assert!(svg.contains("class=\"chart-empty\""), "{svg}");
            assert!(svg.contains(">No data</text>"));
        }
    }

    #[test]
    fn degenerate_options_do_not_break_the_frame() {
        let mut opts = ChartOptions::new("1 bad id\"", "T").size(f64::NAN, -5.0);
        opts.margin.left = f64::INFINITY;
        opts.font_size = 0.0;
        let svg = BarChart::new(opts, ["x"])
            .series(BarSeries::new("s", [0.0]))
            .render();
        check(&svg);
        assert!(svg.contains("aria-labelledby=\"chart-1-bad-id--title chart-1-bad-id--desc\""));
    }

    #[test]
    fn user_text_is_escaped() {
        let evil = "<script>alert('x')</script> & \"q\"";
        let mut opts = ChartOptions::new("x", evil)
            .x_label(evil)
            .y_label(evil)
            .description(evil);
        opts.empty_text = evil.to_string();
        let svgs = [
            LineChart::new(opts.clone())
                .series(LineSeries::new(evil, [(0.0, 1.0)]))
                .render(),
            LineChart::new(opts.clone()).render(),
            BarChart::new(opts.clone(), [evil])
                .series(BarSeries::new(evil, [1.0]))
                .render(),
            Heatmap::new(opts, [evil], [evil], vec![vec![Some(0.5)]]).render(),
        ];
        for svg in &svgs {
            check(svg);
            assert!(!svg.contains("<script"));
            assert!(
                svg.contains("&lt;script&gt;alert(&#39;x&#39;)&lt;/script&gt; &amp; &quot;q&quot;")
            );
        }
    }

    fn assert_nice(t: &Ticks, lo: f64, hi: f64) {
        let exp = t.step.log10().floor();
        let mantissa = t.step / 10f64.powf(exp);
        assert!(
            [1.0, 2.0, 5.0].iter().any(|m| (mantissa - m).abs() < 1e-9),
            "step {} is not 1-2-5",
            t.step
        );
        assert!(
            t.min() <= lo && t.max() >= hi,
            "{t:?} does not cover {lo}..{hi}"
        );
        assert!(
            (3..=12).contains(&t.values.len()) || t.values.len() == 2,
            "{t:?}"
        );
        for w in t.values.windows(2) {
            assert!((w[1] - w[0] - t.step).abs() < 1e-9);
        }
    }

    #[test]
    fn nice_ticks_for_typical_ranges() {
        let t = nice_ticks(0.0, 1.0, 6);
        assert_nice(&t, 0.0, 1.0);
        assert_eq!(t.values, vec![0.0, 0.2, 0.4, 0.6, 0.8, 1.0]);
        assert_eq!(
            t.values
                .iter()
                .map(|v| NumberFormat::Auto.tick(*v, t.step))
                .collect::<Vec<_>>(),
            ["0.0", "0.2", "0.4", "0.6", "0.8", "1.0"]
        );
        assert_eq!(NumberFormat::Percent.tick(0.6, t.step), "60%");

        let t = nice_ticks(0.0, 137.0, 6);
        assert_nice(&t, 0.0, 137.0);
        assert_eq!(t.step, 20.0);
        assert_eq!(t.max(), 140.0);
        assert_eq!(NumberFormat::Auto.tick(140.0, t.step), "140");

        let t = nice_ticks(-40.0, 250.0, 6);
        assert_nice(&t, -40.0, 250.0);
        assert_eq!(t.values, vec![-50.0, 0.0, 50.0, 100.0, 150.0, 200.0, 250.0]);

        let t = nice_ticks(5.0, 5.0, 6);
        assert_nice(&t, 0.0, 5.0);
        let t = nice_ticks(0.0, 0.0, 6);
        assert_eq!((t.min(), t.max()), (0.0, 1.0));
        let t = nice_ticks(-3.0, -3.0, 6);
        assert_nice(&t, -3.0, 0.0);
        let t = nice_ticks(f64::NAN, 1.0, 6);
        assert_eq!((t.min(), t.max()), (0.0, 1.0));
        let t = nice_ticks(0.001, 0.0013, 5);
        assert_nice(&t, 0.001, 0.0013);
    }

    #[test]
    fn number_formats() {
        assert_eq!(NumberFormat::Percent.value(0.84), "84%");
        assert_eq!(NumberFormat::Auto.value(3.0), "3");
        assert_eq!(NumberFormat::Auto.value(2.5), "2.50");
        assert_eq!(NumberFormat::Fixed(1).value(-0.01), "0.0");
        assert_eq!(Coord(-0.001).to_string(), "0.00");
        assert_eq!(Coord(f64::NAN).to_string(), "0.00");
    }

    #[test]
    fn finnish_numbers_have_a_decimal_comma_and_a_space_before_percent() {
        assert_eq!(localize("12.5".into(), true), "12,5");
        assert_eq!(localize("84%".into(), true), "84\u{a0}%");
        assert_eq!(localize("84%".into(), false), "84%");
        let svg = Heatmap::new(
            ChartOptions::new("h", "H").decimal_comma(true),
            ["a"],
            ["x"],
            vec![vec![Some(0.845)]],
        )
        .cell_text(NumberFormat::Percent)
        .render();
        check(&svg);
        assert!(svg.contains(">84\u{a0}%</text>"), "{svg}");
        let svg = LineChart::new(ChartOptions::new("l", "L").decimal_comma(true))
            .series(LineSeries::new("s", [(0.0, 0.25), (1.0, 0.5)]))
            .render();
        assert!(
            svg.contains(">0,25</text>") && svg.contains("s: 0, 0,25"),
            "{svg}"
        );
    }

    #[test]
    fn thousands_are_grouped_in_each_language() {
        assert_eq!(localize("1234".into(), false), "1,234");
        assert_eq!(localize("-1234567.50".into(), false), "-1,234,567.50");
        assert_eq!(localize("1234".into(), true), "1\u{202f}234");
        assert_eq!(localize("12345.5".into(), true), "12\u{202f}345,5");
        assert_eq!(localize("999".into(), true), "999");
        assert_eq!(localize("100%".into(), true), "100\u{a0}%");
        let svg = BarChart::new(
            ChartOptions::new("f", "F").y_label("Revenue (€)"),
            ["1", "3", "12"],
        )
        .series(BarSeries::new("Expected", [1200.0, 30_000.0, 120_000.0]))
        .render();
        check(&svg);
        assert!(svg.contains(">120,000</text>"), "{svg}");
        assert!(svg.contains(">Revenue (€)</text>"));
    }

    /// The x where the widest y tick label starts, and the right edge of the turned
    /// axis title: they must not meet.
    #[test]
    fn the_axis_title_does_not_touch_the_ticks() {
        let svg = BarChart::new(
            ChartOptions::new("f", "F").y_label("Revenue (€)"),
            ["1", "3", "12"],
        )
        .series(BarSeries::new("Expected", [1200.0, 30_000.0, 1_200_000.0]))
        .render();
        check(&svg);
        let font = 12.0;
        let ticks = svg.split("<g class=\"axis axis-y\">").nth(1).unwrap();
        let ticks = &ticks[..ticks.find("</g>").unwrap()];
        let leftmost = ticks
            .split("<text ")
            .skip(1)
            .map(|t| {
                let x: f64 = attr_values(&format!(" {t}"), "x")[0].parse().unwrap();
                let text = &t[t.find('>').unwrap() + 1..t.find("</text>").unwrap()];
                x - text_width(text, font)
            })
            .fold(f64::INFINITY, f64::min);
        // The title's glyphs reach about 1.35 font sizes from the left edge.
        assert!(leftmost > font * 1.35 + 2.0, "ticks start at {leftmost}");
    }

    #[test]
    fn shrunk_charts_keep_their_text_legible() {
        let svg = survival().render();
        // 640 wide with 12 px text: never narrower than makes that text 10 px.
        assert!(svg.contains("style=\"min-width: 534.00px\""), "{svg}");
    }

    #[test]
    fn heatmap_cells_are_wide_enough_for_every_value() {
        let values = vec![vec![Some(1.0); 24]; 24];
        let svg = Heatmap::new(
            ChartOptions::new("h", "H")
                .size(760.0, 300.0)
                .decimal_comma(true),
            (0..24).map(|i| format!("{}/2024", i + 1)),
            (0..24).map(|i| i.to_string()),
            values,
        )
        .cell_text(NumberFormat::Percent)
        .render();
        check_xml(&svg).unwrap();
        assert_eq!(
            count(&svg, "class=\"cell-text\""),
            24 * 24,
            "every cell is labelled"
        );
        // And the colour legend's top.
        assert_eq!(count(&svg, ">100\u{a0}%</text>"), 24 * 24 + 1);
    }

    #[test]
    fn sparkline_draws_runs_and_the_latest_point() {
        let svg = Sparkline::new(
            "s",
            "Logins <12 weeks>",
            vec![Some(1.0), Some(3.0), None, Some(2.0), Some(5.0)],
        )
        .baseline(Some(2.5))
        .render();
        check_xml(&svg).unwrap();
        check_coordinates(&svg, 120.0, 28.0);
        assert_eq!(count(&svg, "<polyline"), 2);
        assert_eq!(count(&svg, "<circle"), 1);
        assert_eq!(count(&svg, "class=\"baseline\""), 1);
        assert!(svg.contains("Logins &lt;12 weeks&gt;"));
        assert!(!svg.contains("<text"), "no text to shrink");
        let empty = Sparkline::new("e", "E", vec![None, None]).render();
        check_xml(&empty).unwrap();
    }

    #[test]
    fn text_width_counts_characters() {
        assert_eq!(text_width("Ääkköset", 12.0), text_width("Aakkoset", 12.0));
        assert_eq!(text_width("Ääkköset", 10.0), 8.0 * 6.0);
        assert_eq!(escape("a&b<'\">"), "a&amp;b&lt;&#39;&quot;&gt;");
    }
}
