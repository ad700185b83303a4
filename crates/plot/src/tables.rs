//! Figures from the result tables a run writes (their schema is in docs/output.md). Every builder reads the
//! file in one streaming pass, so a 50 MB time series is plotted without holding it in memory.

use crate::PlotError;
use crate::figure::{Figure, Layer};
use std::collections::BTreeMap;
use std::path::Path;

/// A CSV file being read: its header and the position of the current record, for error messages.
struct Reader {
    path: std::path::PathBuf,
    csv: csv::Reader<std::fs::File>,
    header: Vec<String>,
}

impl Reader {
    fn open(path: &Path) -> Result<Reader, PlotError> {
        let mut csv = meanfield_core::files::open_regular(path, "a table")
            .map(csv::Reader::from_reader)
            .map_err(|e| PlotError::read(path, e))?;
        let header = csv.headers().map_err(|e| PlotError::read(path, e))?.iter().map(str::to_owned).collect();
        Ok(Reader { path: path.to_owned(), csv, header })
    }

    fn column(&self, name: &str) -> Result<usize, PlotError> {
        self.find(name).ok_or_else(|| PlotError::Format {
            path: self.path.clone(),
            message: format!("no column '{name}' (columns: {})", self.header.join(", ")),
        })
    }

    fn find(&self, name: &str) -> Option<usize> {
        self.header.iter().position(|h| h == name)
    }

    /// Calls `row` for every record.
    fn for_each(&mut self, mut row: impl FnMut(&Row<'_>) -> Result<(), PlotError>) -> Result<(), PlotError> {
        let mut record = csv::StringRecord::new();
        loop {
            match self.csv.read_record(&mut record) {
                Ok(false) => return Ok(()),
                Ok(true) => row(&Row { path: &self.path, record: &record })?,
                Err(e) => return Err(PlotError::read(&self.path, e)),
            }
        }
    }
}

struct Row<'a> {
    path: &'a Path,
    record: &'a csv::StringRecord,
}

impl Row<'_> {
    fn text(&self, column: usize) -> &str {
        self.record.get(column).unwrap_or("")
    }

    fn number(&self, column: usize) -> Result<f64, PlotError> {
        let text = self.text(column);
        text.parse().map_err(|_| PlotError::Format {
            path: self.path.to_owned(),
            message: format!(
                "line {}: '{text}' in column {} is not a number",
                self.record.position().map_or(0, |p| p.line()),
                column + 1
            ),
        })
    }
}

/// Mean and standard deviation by Welford's update (stable for long series).
#[derive(Debug, Clone, Copy, Default)]
struct Moments {
    n: f64,
    mean: f64,
    m2: f64,
}

impl Moments {
    fn push(&mut self, v: f64) {
        self.n += 1.0;
        let delta = v - self.mean;
        self.mean += delta / self.n;
        self.m2 += delta * (v - self.mean);
    }
    /// The spread over replicas (zero for one replica).
    fn std(&self) -> f64 {
        if self.n > 1.0 { (self.m2 / (self.n - 1.0)).sqrt() } else { 0.0 }
    }
}

/// A histogram column `hist(S)[lo:hi]`: its statistic and bin.
fn histogram_column(name: &str) -> Option<(&str, f64, f64)> {
    let inner = name.strip_prefix("hist(")?;
    let split = inner.rfind(")[")?;
    let (lo, hi) = inner[split + 2..].strip_suffix(']')?.split_once(':')?;
    Some((&inner[..split], lo.parse().ok()?, hi.parse().ok()?))
}

/// How a point is named in legends: its label, or its width when the run has no sweep.
fn point_name(label: &str, width: &str) -> String {
    if label.is_empty() { format!("N = {width}") } else { label.to_owned() }
}

/// One point's records, accumulated over replicas, keyed by step.
#[derive(Debug, Default)]
struct PointSeries {
    /// The point's label in the table (empty for a run without sweep).
    label: String,
    name: String,
    /// step → (time, risk, risk_limit, histogram column sums).
    steps: BTreeMap<u64, Cell>,
}

#[derive(Debug, Default, Clone)]
struct Cell {
    time: f64,
    risk: Moments,
    risk_limit: Option<f64>,
    histograms: Vec<Moments>,
}

/// Figures from `timeseries.csv`: the risk curves (with `limit.csv` or `risk_limit` for the limit where a
/// run solved one) and the marginal histograms over time.
pub fn timeseries(path: &Path) -> Result<Vec<Figure>, PlotError> {
    let mut reader = Reader::open(path)?;
    let (point, label, width, step, time) = (
        reader.column("point")?,
        reader.column("label")?,
        reader.column("width")?,
        reader.column("step")?,
        reader.column("time")?,
    );
    let risk = reader.find("risk");
    let risk_limit = reader.find("risk_limit");
    let histogram_columns: Vec<(usize, String, f64, f64)> = reader
        .header
        .iter()
        .enumerate()
        .filter_map(|(i, h)| histogram_column(h).map(|(s, lo, hi)| (i, s.to_owned(), lo, hi)))
        .collect();
    let mut points: BTreeMap<usize, PointSeries> = BTreeMap::new();
    reader.for_each(|row| {
        let index = row.number(point)? as usize;
        let series = points.entry(index).or_insert_with(|| PointSeries {
            label: row.text(label).to_owned(),
            name: point_name(row.text(label), row.text(width)),
            ..Default::default()
        });
        let cell = series.steps.entry(row.number(step)? as u64).or_default();
        cell.time = row.number(time)?;
        if let Some(c) = risk {
            cell.risk.push(row.number(c)?);
        }
        if let Some(c) = risk_limit {
            cell.risk_limit = Some(row.number(c)?);
        }
        cell.histograms.resize(histogram_columns.len(), Moments::default());
        for (k, (c, ..)) in histogram_columns.iter().enumerate() {
            cell.histograms[k].push(row.number(*c)?);
        }
        Ok(())
    })?;
    let points: Vec<PointSeries> = points.into_values().collect();
    let mut figures = Vec::new();
    if risk.is_some() {
        figures.push(risk_figure(&points));
    }
    let limit = read_limit(&path.with_file_name("limit.csv"))?;
    // One figure per statistic, also when two histograms of the scenario share it (their bins together).
    let mut statistics: Vec<&str> = Vec::new();
    for (_, statistic, ..) in &histogram_columns {
        if !statistics.contains(&statistic.as_str()) {
            statistics.push(statistic);
        }
    }
    for statistic in statistics {
        let bins: Vec<(usize, f64, f64)> = histogram_columns
            .iter()
            .enumerate()
            .filter(|(_, (_, s, ..))| s == statistic)
            .map(|(k, (_, _, lo, hi))| (k, *lo, *hi))
            .collect();
        for series in &points {
            figures.push(marginal_figure(statistic, &bins, series, &limit));
        }
    }
    Ok(figures)
}

fn risk_figure(points: &[PointSeries]) -> Figure {
    let mut layers = Vec::new();
    let mut positive = true;
    let limits: Vec<Option<Vec<(f64, f64)>>> =
        points.iter().map(|p| p.steps.values().map(|c| c.risk_limit.map(|l| (c.time, l))).collect()).collect();
    // Points that share one limit (a width sweep) show it once, in black.
    let shared = match limits.first() {
        Some(Some(first)) if limits.iter().all(|l| l.as_ref() == Some(first)) => Some(first.clone()),
        _ => None,
    };
    let limit_drawn = limits.iter().any(Option::is_some);
    for (i, p) in points.iter().enumerate() {
        let cells: Vec<&Cell> = p.steps.values().collect();
        let x: Vec<f64> = cells.iter().map(|c| c.time).collect();
        let mean: Vec<f64> = cells.iter().map(|c| c.risk.mean).collect();
        let std: Vec<f64> = cells.iter().map(|c| c.risk.std()).collect();
        let low: Vec<f64> = mean.iter().zip(&std).map(|(m, s)| m - s).collect();
        positive &= mean.iter().all(|m| *m > 0.0);
        layers.push(Layer::Band {
            series: i,
            x: x.clone(),
            low,
            high: mean.iter().zip(&std).map(|(m, s)| m + s).collect(),
        });
        layers.push(Layer::Line { series: i, label: p.name.clone(), x: x.clone(), y: mean, dashed: false });
        if let (None, Some(limit)) = (&shared, &limits[i]) {
            let (x, y) = limit.iter().copied().unzip();
            layers.push(Layer::Line { series: i, label: format!("{} limit", p.name), x, y, dashed: true });
        }
    }
    if let Some(limit) = shared {
        let (x, y) = limit.into_iter().unzip();
        layers.push(Layer::Line {
            series: crate::figure::REFERENCE,
            label: "mean-field limit".to_owned(),
            x,
            y,
            dashed: true,
        });
    }
    Figure {
        name: "risk".to_owned(),
        title: "Population risk".to_owned(),
        x_label: "time t".to_owned(),
        y_label: "risk".to_owned(),
        log_x: false,
        log_y: positive,
        layers,
        notes: vec![format!(
            "solid: mean over replicas; band: ± one standard deviation over replicas{}",
            if limit_drawn { "; dashed: the mean-field limit" } else { "" }
        )],
    }
}

/// The solved limit's marginals: (label, statistic) → [(time, bin edges, densities)].
type LimitMarginals = BTreeMap<(String, String), Vec<(f64, Vec<f64>, Vec<f64>)>>;

/// `limit.csv` next to the time series, if the run solved a limit.
fn read_limit(path: &Path) -> Result<LimitMarginals, PlotError> {
    let mut out = LimitMarginals::new();
    if !path.exists() {
        return Ok(out);
    }
    let mut reader = Reader::open(path)?;
    let (label, time, statistic, lo, hi, density) = (
        reader.column("label")?,
        reader.column("time")?,
        reader.column("statistic")?,
        reader.column("lo")?,
        reader.column("hi")?,
        reader.column("density")?,
    );
    reader.for_each(|row| {
        let snapshots = out.entry((row.text(label).to_owned(), row.text(statistic).to_owned())).or_default();
        let t = row.number(time)?;
        if snapshots.last().is_none_or(|(last, ..)| *last != t) {
            snapshots.push((t, vec![row.number(lo)?], Vec::new()));
        }
        if let Some((_, edges, densities)) = snapshots.last_mut() {
            edges.push(row.number(hi)?);
            densities.push(row.number(density)?);
        }
        Ok(())
    })?;
    Ok(out)
}

/// One point's histogram of `statistic` at the records nearest four evenly spaced times (the first and
/// the last among them), over the bins where any of them has mass.
fn marginal_figure(statistic: &str, bins: &[(usize, f64, f64)], point: &PointSeries, limit: &LimitMarginals) -> Figure {
    let cells: Vec<&Cell> = point.steps.values().collect();
    let last = cells.last().map_or(0.0, |c| c.time);
    let mut picks: Vec<usize> = (0..4)
        .filter_map(|j| {
            let t = last * j as f64 / 3.0;
            (0..cells.len()).min_by(|&a, &b| (cells[a].time - t).abs().total_cmp(&(cells[b].time - t).abs()))
        })
        .collect();
    picks.dedup();
    let occupied = |b: &(usize, f64, f64)| picks.iter().any(|&j| cells[j].histograms[b.0].mean > 0.0);
    let first_bin = bins.iter().position(occupied).unwrap_or(0).saturating_sub(1);
    let last_bin = (bins.iter().rposition(occupied).unwrap_or(bins.len().saturating_sub(1)) + 1).min(bins.len() - 1);
    let bins = &bins[first_bin..=last_bin];
    let (lo, hi) = (bins[0].1, bins[bins.len() - 1].2);
    let mut edges: Vec<f64> = bins.iter().map(|b| b.1).collect();
    edges.extend(bins.last().map(|b| b.2));
    let label = point.name.clone();
    // limit.csv names the point by its label ("" for a run without sweep), like timeseries.csv.
    let snapshots = limit.get(&(point.label.clone(), statistic.to_owned()));
    let mut layers = Vec::new();
    for (series, &j) in picks.iter().enumerate() {
        let cell = cells[j];
        layers.push(Layer::Steps {
            series,
            label: format!("t = {}", crate::figure::short(cell.time)),
            edges: edges.clone(),
            heights: bins.iter().map(|b| cell.histograms[b.0].mean).collect(),
        });
        let nearest =
            snapshots.and_then(|s| s.iter().min_by(|a, b| (a.0 - cell.time).abs().total_cmp(&(b.0 - cell.time).abs())));
        if let Some((_, limit_edges, density)) = nearest {
            let (x, y) = limit_edges
                .windows(2)
                .map(|w| 0.5 * (w[0] + w[1]))
                .zip(density.iter().copied())
                .filter(|(x, _)| (lo..=hi).contains(x))
                .unzip();
            layers.push(Layer::Line { series, label: String::new(), x, y, dashed: true });
        }
    }
    let notes = if snapshots.is_some() {
        vec![format!("steps: histogram of {statistic}, mean over replicas; dashed: the limit density at the same time")]
    } else {
        vec![format!("steps: histogram of {statistic}, mean over replicas (no limit solved for this run)")]
    };
    Figure {
        // The point's file-safe label keys the file name (injective, so two points never share a file);
        // `run` for the one point of a run without sweep, as its NPY snapshots.
        name: format!("marginal_{statistic}_{}", meanfield_sinks::point_stem(&point.label)),
        title: format!("Marginal of {statistic}, {label}"),
        x_label: statistic.to_owned(),
        y_label: "density".to_owned(),
        log_x: false,
        log_y: false,
        layers,
        notes,
    }
}

/// One figure per quantity of `study.csv`: the values against the width on log-log axes with ±1.96
/// standard errors, and the fitted line with its slope and bootstrap interval.
pub fn study(path: &Path) -> Result<Vec<Figure>, PlotError> {
    let mut reader = Reader::open(path)?;
    let (quantity, time, width, value, error) = (
        reader.column("quantity")?,
        // Widths share the time asked for; their records may sit at slightly different times.
        reader.find("study_time").map_or_else(|| reader.column("time"), Ok)?,
        reader.column("width")?,
        reader.column("value")?,
        reader.column("standard_error")?,
    );
    let fit =
        [reader.find("slope"), reader.find("slope_low"), reader.find("slope_high"), reader.find("expected_slope")];
    // Tables written before groups and the convergence criterion have neither column.
    let (group, converged) = (reader.find("group"), reader.find("converged"));
    let mut groups: Vec<StudyGroup> = Vec::new();
    reader.for_each(|row| {
        let (q, t) = (row.text(quantity), row.number(time)?);
        let g = group.map_or("", |c| row.text(c));
        if groups.last().is_none_or(|last| last.quantity != q || last.time != t || last.group != g) {
            let [slope, slope_low, slope_high, expected] = fit.map(|c| c.and_then(|c| row.text(c).parse().ok()));
            let interval = slope_low.zip(slope_high);
            let (quantity, group) = (q.to_owned(), g.to_owned());
            groups.push(StudyGroup { quantity, group, time: t, rows: Vec::new(), slope, interval, expected });
        }
        let point = StudyPoint {
            width: row.number(width)?,
            value: row.number(value)?,
            error: row.number(error)?,
            converged: converged.is_none_or(|c| row.text(c) != "false"),
        };
        groups.last_mut().expect("pushed").rows.push(point);
        Ok(())
    })?;
    let mut figures = Vec::new();
    for group in groups.chunk_by(|a, b| a.quantity == b.quantity) {
        figures.push(scaling_figure(&group[0].quantity, group));
    }
    Ok(figures)
}

/// The rows of `study.csv` for one quantity at one time in one group of the sweep, and the fit the table
/// gives for them: one series of the quantity's figure.
struct StudyGroup {
    quantity: String,
    group: String,
    time: f64,
    rows: Vec<StudyPoint>,
    slope: Option<f64>,
    interval: Option<(f64, f64)>,
    expected: Option<f64>,
}

struct StudyPoint {
    width: f64,
    value: f64,
    error: f64,
    /// Whether the width entered the fit (a point that had not converged is drawn, not fitted).
    converged: bool,
}

fn scaling_figure(quantity: &str, groups: &[StudyGroup]) -> Figure {
    let mut layers = Vec::new();
    let mut notes = Vec::new();
    for (series, group) in groups.iter().enumerate() {
        let t = crate::figure::short(group.time);
        let name = if group.group.is_empty() { format!("t = {t}") } else { format!("{}, t = {t}", group.group) };
        let rows = &group.rows;
        let x: Vec<f64> = rows.iter().map(|r| r.width).collect();
        layers.push(Layer::Points {
            series,
            label: name.clone(),
            x: x.clone(),
            y: rows.iter().map(|r| r.value).collect(),
            low: rows.iter().map(|r| (r.value - 1.96 * r.error).max(r.value * 1e-3)).collect(),
            high: rows.iter().map(|r| r.value + 1.96 * r.error).collect(),
        });
        // The least-squares line in log-log coordinates passes through the centroid of the points.
        // Over the fitted (converged) widths only.
        let fitted: Vec<&StudyPoint> = rows.iter().filter(|r| r.converged).collect();
        let usable: Vec<(f64, f64)> =
            fitted.iter().filter(|r| r.value > 0.0).map(|r| (r.width.ln(), r.value.ln())).collect();
        if let (Some(slope), false) = (group.slope, usable.is_empty()) {
            let n = usable.len() as f64;
            let (mx, my) = usable.iter().fold((0.0, 0.0), |(a, b), (x, y)| (a + x / n, b + y / n));
            let x: Vec<f64> = fitted.iter().map(|r| r.width).collect();
            let y = x.iter().map(|w| (my + slope * (w.ln() - mx)).exp()).collect();
            layers.push(Layer::Line { series, label: String::new(), x, y, dashed: true });
            let interval = group.interval.map_or(String::new(), |(lo, hi)| format!(" [{lo:+.3}, {hi:+.3}]"));
            let theory = group.expected.map_or(String::new(), |e| format!(", theory {e:+.2}"));
            notes.push(format!("{name}: fitted slope {slope:+.3}{interval}{theory}"));
        }
        let left_out: Vec<String> = rows.iter().filter(|r| !r.converged).map(|r| r.width.to_string()).collect();
        if !left_out.is_empty() {
            notes.push(format!("{name}: N = {} had not converged (drawn, not fitted)", left_out.join(", ")));
        }
    }
    notes.push(
        "points: estimate ± 1.96 standard errors; dashed: the least-squares fit of log value on log N".to_owned(),
    );
    Figure {
        name: format!("scaling_{quantity}"),
        title: format!("{quantity} against the width"),
        x_label: "width N".to_owned(),
        y_label: quantity.to_owned(),
        log_x: true,
        log_y: true,
        layers,
        notes,
    }
}

/// One rate-function curve of `ldp.csv`: a point (or configuration, or their average) in file order.
struct RateCurve {
    name: String,
    seed: String,
    points: Vec<RatePoint>,
}

/// A = Λ'(k), I(A) and its band, and whether k is inside the reliability window.
struct RatePoint {
    a: f64,
    rate: f64,
    low: f64,
    high: f64,
    reliable: bool,
}

/// The rate functions of `ldp.csv` against A = Λ'(k): estimate, bootstrap band, and shaded where no curve
/// is reliable. With many quenched configurations only their averages are drawn.
pub fn ldp(path: &Path) -> Result<Vec<Figure>, PlotError> {
    let mut reader = Reader::open(path)?;
    let (label, width, seed, slope, rate, low, high, reliable) = (
        reader.column("label")?,
        reader.column("width")?,
        reader.column("seed")?,
        reader.column("slope")?,
        reader.column("rate")?,
        reader.column("rate_low")?,
        reader.column("rate_high")?,
        reader.column("reliable")?,
    );
    let mut curves: Vec<RateCurve> = Vec::new();
    reader.for_each(|row| {
        let (name, seed) = (point_name(row.text(label), row.text(width)), row.text(seed));
        if curves.last().is_none_or(|c| c.name != name || c.seed != seed) {
            curves.push(RateCurve { name, seed: seed.to_owned(), points: Vec::new() });
        }
        let point = RatePoint {
            a: row.number(slope)?,
            rate: row.number(rate)?,
            low: row.number(low)?,
            high: row.number(high)?,
            reliable: row.text(reliable) == "true",
        };
        curves.last_mut().expect("pushed").points.push(point);
        Ok(())
    })?;
    // In tables written before labels named the seed, the configurations of a quenched run share a label
    // and differ by their seed: only then is it shown.
    let names: Vec<String> = curves
        .iter()
        .map(|c| {
            let shared = curves.iter().filter(|other| other.name == c.name).count() > 1;
            if shared { format!("{} (seed {})", c.name, c.seed) } else { c.name.clone() }
        })
        .collect();
    for (curve, name) in curves.iter_mut().zip(names) {
        curve.name = name;
    }
    if curves.len() > 6 && curves.iter().any(|c| c.name.contains("mean of")) {
        curves.retain(|c| c.name.contains("mean of"));
    }
    let mut layers = Vec::new();
    let mut reliable_ranges = Vec::new();
    for (series, curve) in curves.iter_mut().enumerate() {
        curve.points.sort_by(|a, b| a.a.total_cmp(&b.a));
        let points = &curve.points;
        let a: Vec<f64> = points.iter().map(|p| p.a).collect();
        let (low, high) = (points.iter().map(|p| p.low).collect(), points.iter().map(|p| p.high).collect());
        layers.push(Layer::Band { series, x: a.clone(), low, high });
        layers.push(Layer::Line {
            series,
            label: String::new(),
            x: a,
            y: points.iter().map(|p| p.rate).collect(),
            dashed: true,
        });
        let trusted: Vec<&RatePoint> = points.iter().filter(|p| p.reliable).collect();
        layers.push(Layer::Line {
            series,
            label: curve.name.clone(),
            x: trusted.iter().map(|p| p.a).collect(),
            y: trusted.iter().map(|p| p.rate).collect(),
            dashed: false,
        });
        if let (Some(first), Some(last)) = (trusted.first(), trusted.last()) {
            reliable_ranges.push((first.a, last.a));
        }
    }
    let all_a: Vec<f64> = curves.iter().flat_map(|c| c.points.iter().map(|p| p.a)).filter(|a| a.is_finite()).collect();
    let (a_min, a_max) = all_a.iter().fold((f64::INFINITY, f64::NEG_INFINITY), |(l, h), a| (l.min(*a), h.max(*a)));
    let covered_lo = reliable_ranges.iter().map(|r| r.0).fold(f64::INFINITY, f64::min);
    let covered_hi = reliable_ranges.iter().map(|r| r.1).fold(f64::NEG_INFINITY, f64::max);
    let mut shades = Vec::new();
    if reliable_ranges.is_empty() && a_min < a_max {
        shades.push(Layer::Shade { label: "no reliable estimate".to_owned(), from: a_min, to: a_max });
    } else {
        if a_min < covered_lo {
            shades.push(Layer::Shade { label: "no reliable estimate".to_owned(), from: a_min, to: covered_lo });
        }
        if covered_hi < a_max {
            let label = if shades.is_empty() { "no reliable estimate" } else { "" };
            shades.push(Layer::Shade { label: label.to_owned(), from: covered_hi, to: a_max });
        }
    }
    shades.extend(layers);
    Ok(vec![Figure {
        name: "rate_function".to_owned(),
        title: "Rate function I_N(A)".to_owned(),
        x_label: "A (value of the observable)".to_owned(),
        y_label: "I_N(A)".to_owned(),
        log_x: false,
        log_y: false,
        layers: shades,
        notes: vec![
            "solid: reliable estimate; dashed: outside the reliability window; band: bootstrap confidence band"
                .to_owned(),
        ],
    }])
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn histogram_columns_carry_their_bins() {
        assert_eq!(histogram_column("hist(|w|)[0.25:0.5]"), Some(("|w|", 0.25, 0.5)));
        assert_eq!(histogram_column("hist(w[0])[-1:0]"), Some(("w[0]", -1.0, 0.0)));
        assert_eq!(histogram_column("mean(w)"), None);
    }

    #[test]
    fn welford_matches_the_two_pass_formula() {
        let values = [1.0, 2.0, 4.0, 8.0];
        let mut m = Moments::default();
        values.iter().for_each(|v| m.push(*v));
        let mean = 3.75;
        let var = values.iter().map(|v| (v - mean) * (v - mean)).sum::<f64>() / 3.0;
        assert!((m.mean - mean).abs() < 1e-15 && (m.std() - var.sqrt()).abs() < 1e-14);
    }
}
