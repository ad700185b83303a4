//! A figure as data (what the snapshot tests look at) and its rendering with plotters (SVG or PNG).

use plotters::chart::SeriesAnno;
use plotters::coord::Shift;
use plotters::coord::ranged1d::ValueFormatter;
use plotters::prelude::*;
use serde::Serialize;
use std::ops::Range;

/// One plot: axes, layers drawn in order, and notes printed under it.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Figure {
    /// The file stem the figure is written under (`risk`, `rate_function`, …).
    pub name: String,
    pub title: String,
    pub x_label: String,
    pub y_label: String,
    pub log_x: bool,
    pub log_y: bool,
    pub layers: Vec<Layer>,
    /// Lines of text under the plot: fitted slopes, what the bands mean.
    pub notes: Vec<String>,
}

/// What a figure draws. `series` picks the colour, so a band and its curve match.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub enum Layer {
    /// A filled band between two curves (spread over replicas, a confidence band).
    Band {
        series: usize,
        x: Vec<f64>,
        low: Vec<f64>,
        high: Vec<f64>,
    },
    Line {
        series: usize,
        label: String,
        x: Vec<f64>,
        y: Vec<f64>,
        dashed: bool,
    },
    /// Points with vertical error bars.
    Points {
        series: usize,
        label: String,
        x: Vec<f64>,
        y: Vec<f64>,
        low: Vec<f64>,
        high: Vec<f64>,
    },
    /// A histogram as a step line over its bin edges (`edges.len() == heights.len() + 1`).
    Steps {
        series: usize,
        label: String,
        edges: Vec<f64>,
        heights: Vec<f64>,
    },
    /// A grey vertical strip across the whole plot.
    Shade {
        label: String,
        from: f64,
        to: f64,
    },
}

/// Tableau's ten colours: distinguishable, and readable by most colour-blind readers.
const PALETTE: [RGBColor; 10] = [
    RGBColor(31, 119, 180),
    RGBColor(255, 127, 14),
    RGBColor(44, 160, 44),
    RGBColor(214, 39, 40),
    RGBColor(148, 103, 189),
    RGBColor(140, 86, 75),
    RGBColor(227, 119, 194),
    RGBColor(127, 127, 127),
    RGBColor(188, 189, 34),
    RGBColor(23, 190, 207),
];

/// The `series` of a curve drawn in black: a reference shared by every series (the limit).
pub const REFERENCE: usize = usize::MAX;

fn colour(series: usize) -> RGBColor {
    if series == REFERENCE { BLACK } else { PALETTE[series % PALETTE.len()] }
}

/// The dashes (length, gap in pixels) of a curve drawn `dashed` (a limit, a fit, an unreliable part).
const DASHED: (u32, u32) = (6, 4);

/// The line style of a series' solid curves: solid for the palette's first round of colours, then for
/// each further round dashes of its own length (3, 6, 9, … pixels, 2 apart: never [`DASHED`]), so that
/// the (colour, line style) pair of every series is distinct however many points a run has.
fn dashes(series: usize) -> Option<(u32, u32)> {
    let round = series / PALETTE.len();
    (series != REFERENCE && round > 0).then(|| (u32::try_from(round).unwrap_or(u32::MAX).saturating_mul(3), 2))
}

/// The segments of a 20-pixel legend sample of a line with `dashes` (at most four; unused ones empty).
fn legend_segments(dashes: Option<(u32, u32)>) -> [(i32, i32); 4] {
    let Some((length, gap)) = dashes else { return [(0, 20); 4] };
    let (length, period) = (length.min(20) as i32, (length + gap).min(20) as i32);
    std::array::from_fn(|k| {
        let start = (k as i32 * period).min(20);
        (start, (start + length).min(20))
    })
}

pub const WIDTH: u32 = 800;
pub const HEIGHT: u32 = 500;
const NOTE_HEIGHT: u32 = 18;

/// The text font, embedded so that neither backend needs a system font.
static DEJAVU_SANS: &[u8] = include_bytes!("../fonts/DejaVuSans.ttf");
const FONT: &str = "sans-serif";

fn register_font() {
    static ONCE: std::sync::Once = std::sync::Once::new();
    ONCE.call_once(|| {
        // The font is a fixed, valid file: failing to parse it is a build defect, caught by every test.
        if plotters::style::register_font(FONT, FontStyle::Normal, DEJAVU_SANS).is_err() {
            panic!("the embedded DejaVu Sans font does not parse");
        }
    });
}

impl Figure {
    /// The figure with every number rounded to `digits` significant digits: what snapshot tests compare,
    /// so that a change in the last bits of a result does not show as a different plot.
    pub fn rounded(&self, digits: usize) -> Figure {
        let round = |v: &f64| {
            if v.is_finite() && *v != 0.0 {
                format!("{:.*e}", digits.saturating_sub(1), v).parse().unwrap_or(*v)
            } else {
                *v
            }
        };
        let all = |values: &[f64]| values.iter().map(round).collect::<Vec<f64>>();
        let layers = self
            .layers
            .iter()
            .map(|layer| match layer {
                Layer::Band { series, x, low, high } => {
                    Layer::Band { series: *series, x: all(x), low: all(low), high: all(high) }
                }
                Layer::Line { series, label, x, y, dashed } => {
                    Layer::Line { series: *series, label: label.clone(), x: all(x), y: all(y), dashed: *dashed }
                }
                Layer::Points { series, label, x, y, low, high } => Layer::Points {
                    series: *series,
                    label: label.clone(),
                    x: all(x),
                    y: all(y),
                    low: all(low),
                    high: all(high),
                },
                Layer::Steps { series, label, edges, heights } => {
                    Layer::Steps { series: *series, label: label.clone(), edges: all(edges), heights: all(heights) }
                }
                Layer::Shade { label, from, to } => {
                    Layer::Shade { label: label.clone(), from: round(from), to: round(to) }
                }
            })
            .collect();
        Figure { layers, ..self.clone() }
    }

    /// All (x, y) values the layers draw, for the axis ranges.
    fn extent(&self) -> (Vec<f64>, Vec<f64>) {
        let (mut xs, mut ys) = (Vec::new(), Vec::new());
        for layer in &self.layers {
            match layer {
                Layer::Band { x, low, high, .. } => {
                    xs.extend(x);
                    ys.extend(low.iter().chain(high));
                }
                Layer::Line { x, y, .. } => {
                    xs.extend(x);
                    ys.extend(y);
                }
                Layer::Points { x, y, low, high, .. } => {
                    xs.extend(x);
                    ys.extend(y.iter().chain(low).chain(high));
                }
                Layer::Steps { edges, heights, .. } => {
                    xs.extend(edges);
                    ys.extend(heights);
                    ys.push(0.0);
                }
                Layer::Shade { from, to, .. } => xs.extend([from, to]),
            }
        }
        (xs, ys)
    }

    /// The figure as an SVG document.
    pub fn svg(&self) -> Result<String, String> {
        register_font();
        let mut out = String::new();
        {
            let root = SVGBackend::with_string(&mut out, (WIDTH, HEIGHT)).into_drawing_area();
            self.draw(&root)?;
            root.present().map_err(|e| e.to_string())?;
        }
        Ok(out)
    }

    /// The figure as PNG pixels written to `path` (whose name must end in `.png`).
    pub fn png(&self, path: &std::path::Path) -> Result<(), String> {
        register_font();
        let root = BitMapBackend::new(path, (WIDTH, HEIGHT)).into_drawing_area();
        self.draw(&root)?;
        root.present().map_err(|e| e.to_string())
    }

    fn draw<DB: DrawingBackend>(&self, root: &DrawingArea<DB, Shift>) -> Result<(), String> {
        let e = |e: DrawingAreaErrorKind<DB::ErrorType>| e.to_string();
        root.fill(&WHITE).map_err(e)?;
        let notes = self.notes.len() as u32;
        let (plot, below) = root.split_vertically(HEIGHT - NOTE_HEIGHT * notes - if notes > 0 { 6 } else { 0 });
        for (i, note) in self.notes.iter().enumerate() {
            below
                .draw(&Text::new(note.as_str(), (12, (NOTE_HEIGHT * i as u32) as i32), (FONT, 14).into_font()))
                .map_err(e)?;
        }
        let (xs, ys) = self.extent();
        let x = axis_range(&xs, self.log_x);
        let y = axis_range(&ys, self.log_y);
        let mut builder = ChartBuilder::on(&plot);
        builder.caption(&self.title, (FONT, 20)).margin(12).x_label_area_size(40).y_label_area_size(64);
        // Each combination of linear and log axes is its own coordinate type. plotters puts log ticks at
        // powers of ten only, so a range inside one decade would have none: the ticks are chosen here.
        let (x_ticks, y_ticks) = (log_ticks(&x), log_ticks(&y));
        match (self.log_x, self.log_y) {
            (false, false) => self.draw_layers(builder.build_cartesian_2d(x, y).map_err(e)?),
            (true, false) => {
                self.draw_layers(builder.build_cartesian_2d(x.log_scale().with_key_points(x_ticks), y).map_err(e)?)
            }
            (false, true) => {
                self.draw_layers(builder.build_cartesian_2d(x, y.log_scale().with_key_points(y_ticks)).map_err(e)?)
            }
            (true, true) => self.draw_layers(
                builder
                    .build_cartesian_2d(x.log_scale().with_key_points(x_ticks), y.log_scale().with_key_points(y_ticks))
                    .map_err(e)?,
            ),
        }
    }

    fn draw_layers<'a, DB, X, Y>(&self, mut chart: ChartContext<'a, DB, Cartesian2d<X, Y>>) -> Result<(), String>
    where
        DB: DrawingBackend + 'a,
        X: Ranged<ValueType = f64> + ValueFormatter<f64>,
        Y: Ranged<ValueType = f64> + ValueFormatter<f64>,
    {
        let e = |e: DrawingAreaErrorKind<DB::ErrorType>| e.to_string();
        let (y_low, y_high) = {
            let r = chart.y_range();
            (r.start, r.end)
        };
        chart
            .configure_mesh()
            .x_desc(&self.x_label)
            .y_desc(&self.y_label)
            .label_style((FONT, 13))
            .axis_desc_style((FONT, 15))
            .x_label_formatter(&|v| short(*v))
            .y_label_formatter(&|v| short(*v))
            .light_line_style(WHITE.mix(0.0))
            .draw()
            .map_err(e)?;
        let mut legend = false;
        for layer in &self.layers {
            match layer {
                Layer::Shade { label, from, to } => {
                    let shade = BLACK.mix(0.08).filled();
                    let series = chart
                        .draw_series(std::iter::once(Rectangle::new([(*from, y_low), (*to, y_high)], shade)))
                        .map_err(e)?;
                    if !label.is_empty() {
                        legend = true;
                        series.label(label).legend(move |(x, y)| Rectangle::new([(x, y - 5), (x + 20, y + 5)], shade));
                    }
                }
                Layer::Band { series, x, low, high } => {
                    let outline: Vec<(f64, f64)> =
                        x.iter().zip(low).chain(x.iter().zip(high).rev()).map(|(a, b)| (*a, *b)).collect();
                    chart
                        .draw_series(std::iter::once(Polygon::new(outline, colour(*series).mix(0.2).filled())))
                        .map_err(e)?;
                }
                Layer::Line { series, label, x, y, dashed } => {
                    let points: Vec<(f64, f64)> = x.iter().zip(y).map(|(a, b)| (*a, *b)).collect();
                    let pattern = if *dashed { Some(DASHED) } else { dashes(*series) };
                    let drawn = draw_line(&mut chart, points, colour(*series), pattern).map_err(e)?;
                    if !label.is_empty() {
                        legend = true;
                        legend_line(drawn, label, colour(*series), pattern);
                    }
                }
                Layer::Steps { series, label, edges, heights } => {
                    let mut points = vec![(edges[0], 0.0)];
                    for (k, h) in heights.iter().enumerate() {
                        points.extend([(edges[k], *h), (edges[k + 1], *h)]);
                    }
                    points.push((edges[heights.len()], 0.0));
                    let pattern = dashes(*series);
                    let drawn = draw_line(&mut chart, points, colour(*series), pattern).map_err(e)?;
                    if !label.is_empty() {
                        legend = true;
                        legend_line(drawn, label, colour(*series), pattern);
                    }
                }
                Layer::Points { series, label, x, y, low, high } => {
                    let c = colour(*series);
                    for i in 0..x.len() {
                        chart
                            .draw_series(std::iter::once(PathElement::new(
                                vec![(x[i], low[i]), (x[i], high[i])],
                                c.stroke_width(1),
                            )))
                            .map_err(e)?;
                    }
                    let drawn = chart
                        .draw_series(x.iter().zip(y).map(|(a, b)| Circle::new((*a, *b), 4, c.filled())))
                        .map_err(e)?;
                    if !label.is_empty() {
                        legend = true;
                        drawn.label(label).legend(move |(x, y)| Circle::new((x + 10, y), 4, c.filled()));
                    }
                }
            }
        }
        if legend {
            chart
                .configure_series_labels()
                .label_font((FONT, 13))
                .background_style(WHITE.mix(0.85))
                .border_style(BLACK.mix(0.4))
                .position(SeriesLabelPosition::UpperRight)
                .draw()
                .map_err(e)?;
        }
        Ok(())
    }
}

/// Draws a polyline in `colour`, solid or with `pattern` dashes.
fn draw_line<'a, 'b, DB, X, Y>(
    chart: &'b mut ChartContext<'a, DB, Cartesian2d<X, Y>>,
    points: Vec<(f64, f64)>,
    colour: RGBColor,
    pattern: Option<(u32, u32)>,
) -> Result<&'b mut SeriesAnno<'a, DB>, DrawingAreaErrorKind<DB::ErrorType>>
where
    DB: DrawingBackend + 'a,
    X: Ranged<ValueType = f64> + ValueFormatter<f64>,
    Y: Ranged<ValueType = f64> + ValueFormatter<f64>,
{
    let style = colour.stroke_width(2);
    match pattern {
        Some((length, gap)) => chart.draw_series(DashedLineSeries::new(points, length, gap, style)),
        None => chart.draw_series(LineSeries::new(points, style)),
    }
}

/// The legend entry of a line: `label` and a sample of the line in its colour and dashes.
fn legend_line<'a, DB: DrawingBackend + 'a>(
    drawn: &mut SeriesAnno<'a, DB>,
    label: &str,
    colour: RGBColor,
    pattern: Option<(u32, u32)>,
) {
    let style = colour.stroke_width(2);
    let segments = legend_segments(pattern);
    drawn.label(label).legend(move |(x, y)| {
        let segment = |k: usize| PathElement::new(vec![(segments[k].0, 0), (segments[k].1, 0)], style);
        EmptyElement::at((x, y)) + segment(0) + segment(1) + segment(2) + segment(3)
    });
}

/// The range of the finite values (positive ones on a log axis), padded by 5% (a factor on a log axis).
fn axis_range(values: &[f64], log: bool) -> Range<f64> {
    let usable = values.iter().copied().filter(|v| v.is_finite() && (!log || *v > 0.0));
    let (lo, hi) = usable.fold((f64::INFINITY, f64::NEG_INFINITY), |(lo, hi), v| (lo.min(v), hi.max(v)));
    if !lo.is_finite() {
        return if log { 0.1..10.0 } else { 0.0..1.0 };
    }
    if log {
        let pad = (hi / lo).powf(0.05).max(1.1);
        lo / pad..hi * pad
    } else {
        let pad = if hi > lo { 0.05 * (hi - lo) } else { 0.5 * lo.abs().max(1.0) };
        lo - pad..hi + pad
    }
}

/// Tick positions on a log axis over `range`: 1-2-5 in each decade, or every integer mantissa when that
/// gives fewer than three, or failing that five log-spaced values rounded to three significant digits.
fn log_ticks(range: &Range<f64>) -> Vec<f64> {
    let (lo, hi) = (range.start.max(f64::MIN_POSITIVE), range.end);
    let inside = |mantissas: &[f64]| -> Vec<f64> {
        let mut ticks = Vec::new();
        let mut decade = 10f64.powi(lo.log10().floor() as i32);
        while decade <= hi {
            ticks.extend(mantissas.iter().map(|m| m * decade).filter(|t| *t >= lo && *t <= hi));
            decade *= 10.0;
        }
        ticks
    };
    let ticks = inside(&[1.0, 2.0, 5.0]);
    if ticks.len() >= 3 {
        return ticks;
    }
    let ticks = inside(&[1.0, 2.0, 3.0, 4.0, 5.0, 6.0, 7.0, 8.0, 9.0]);
    if ticks.len() >= 3 {
        return ticks;
    }
    let mut ticks: Vec<f64> = (1..=5)
        .map(|i| {
            let t = lo * (hi / lo).powf(i as f64 / 6.0);
            let scale = 10f64.powi(t.log10().floor() as i32 - 2);
            (t / scale).round() * scale
        })
        .collect();
    ticks.dedup();
    ticks
}

/// Numbers in tick labels and legends: at most four significant digits, no trailing zeros.
pub(crate) fn short(v: f64) -> String {
    if v == 0.0 {
        return "0".to_owned();
    }
    let magnitude = v.abs().log10();
    if !(-3.0..5.0).contains(&magnitude) {
        return format!("{v:.1e}");
    }
    let decimals = (3.0 - magnitude.floor()).max(0.0) as usize;
    let s = format!("{v:.decimals$}");
    if s.contains('.') { s.trim_end_matches('0').trim_end_matches('.').to_owned() } else { s }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_series_has_its_own_colour_and_line_style() {
        let styles: Vec<_> = (0..200).map(|series| (colour(series), dashes(series))).collect();
        let distinct: std::collections::BTreeSet<_> = styles.iter().map(|(c, d)| ((c.0, c.1, c.2), *d)).collect();
        assert_eq!(distinct.len(), styles.len(), "a (colour, line style) pair repeats");
        assert!(styles.iter().all(|(_, d)| *d != Some(DASHED)), "a series looks like a limit's dashed curve");
        assert_eq!(dashes(REFERENCE), None);
        // The legend shows the dashes: a solid line is one stroke, dashes leave gaps.
        assert_eq!(legend_segments(None), [(0, 20); 4]);
        assert_eq!(legend_segments(Some((3, 2))), [(0, 3), (5, 8), (10, 13), (15, 18)]);
        assert_eq!(legend_segments(Some(DASHED)), [(0, 6), (10, 16), (20, 20), (20, 20)]);
    }

    #[test]
    fn tick_labels_are_short() {
        assert_eq!(short(0.25), "0.25");
        assert_eq!(short(1000.0), "1000");
        assert_eq!(short(12.3456), "12.35");
        assert_eq!(short(1e-5), "1.0e-5");
        assert_eq!(short(-0.5), "-0.5");
    }

    #[test]
    fn log_ticks_label_every_range() {
        assert_eq!(log_ticks(&(0.5..30.0)), [0.5, 1.0, 2.0, 5.0, 10.0, 20.0]);
        let labels = |r: Range<f64>| log_ticks(&r).iter().map(|t| short(*t)).collect::<Vec<_>>();
        assert_eq!(labels(0.35..0.95), ["0.4", "0.5", "0.6", "0.7", "0.8", "0.9"]);
        assert_eq!(labels(0.44..0.46), ["0.443", "0.447", "0.45", "0.453", "0.457"]);
    }

    #[test]
    fn log_ranges_ignore_non_positive_values() {
        let r = axis_range(&[0.0, -1.0, 1.0, 100.0, f64::NAN], true);
        assert!(r.start > 0.0 && r.start < 1.0 && r.end > 100.0);
        let flat = axis_range(&[2.0, 2.0], false);
        assert!(flat.start < 2.0 && flat.end > 2.0);
    }
}
