//! Snapshot tests of a scenario's headline numbers: the one implementation behind `meanfield snapshot`
//! and [`crate::testing`].
//!
//! A snapshot is the file `x.snap` beside the scenario `x.ron`, in insta's format (a YAML header between
//! `---` lines, then the content), so `cargo insta review` can review a pending `x.snap.new` too. The
//! content is one entry per line, `key = value` or `key = value ± standard error`:
//!
//! ```text
//! points[width=16].final[risk].mean = 0.00844267 ± 0.00115542
//! study.fit[risk t=40].slope = -0.98 ± 0.05
//! ```
//! Every number is rounded to `snapshot.digits` significant digits; timings, paths and versions are left
//! out, so the content is the same on every machine and for any thread count.

use crate::{Error, RunConfig, Scenario, Summary};
use meanfield_scenario::spec::{SnapshotSpec, SnapshotTolerance};
use meanfield_scenario::summary::{Band, RateFunction, round_significant};
use std::fmt::Write as _;
use std::path::{Path, PathBuf};

/// A snapshot file that cannot be read or written.
#[derive(Debug, thiserror::Error)]
pub enum SnapshotError {
    #[error("cannot read snapshot {}: {source}", path.display())]
    Read { path: PathBuf, source: std::io::Error },
    #[error("cannot write snapshot {}: {source}", path.display())]
    Write { path: PathBuf, source: std::io::Error },
    #[error("{}:{line}: {message}", path.display())]
    Malformed { path: PathBuf, line: usize, message: String },
    #[error("{}: a snapshot is taken of a scenario file (`x.ron`, snapshot `x.snap`)", path.display())]
    NotAScenario { path: PathBuf },
}

/// The value of one entry.
#[derive(Debug, Clone, PartialEq)]
pub enum Value {
    Count(u64),
    Number(f64),
    Text(String),
}

/// One line of a snapshot.
#[derive(Debug, Clone, PartialEq)]
pub struct Entry {
    pub key: String,
    pub value: Value,
    /// The standard error of a number that has one (rounded like the number).
    pub standard_error: Option<f64>,
}

impl Entry {
    fn line(&self) -> String {
        let value = match &self.value {
            Value::Count(n) => n.to_string(),
            Value::Number(v) => format!("{v:?}"),
            Value::Text(s) => format!("{s:?}"),
        };
        match self.standard_error {
            Some(se) => format!("{} = {value} ± {se:?}", self.key),
            None => format!("{} = {value}", self.key),
        }
    }
}

/// The headline numbers of a run, in a fixed order.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct Headline {
    pub entries: Vec<Entry>,
}

/// The z of a two-sided 95% normal interval: the studies' and the ldp bootstrap bands are at 95%, so
/// their half-width over this is the standard error they imply.
const Z95: f64 = 1.959964;

fn band_error(low: f64, high: f64) -> Option<f64> {
    let se = (high - low) / (2.0 * Z95);
    (se.is_finite() && se >= 0.0).then_some(se)
}

/// Builds the entries, rounding every number as it goes and keeping keys unique.
struct Builder {
    digits: usize,
    headline: Headline,
    seen: std::collections::HashSet<String>,
}

impl Builder {
    fn push(&mut self, key: String, value: Value, standard_error: Option<f64>) {
        let mut unique = key.clone();
        let mut n = 2;
        while !self.seen.insert(unique.clone()) {
            unique = format!("{key}#{n}");
            n += 1;
        }
        let value = match value {
            // −0 and 0 are the same number; a snapshot should not flip between them.
            Value::Number(0.0) => Value::Number(0.0),
            Value::Number(v) => Value::Number(round_significant(v, self.digits)),
            other => other,
        };
        let standard_error =
            standard_error.filter(|se| se.is_finite()).map(|se| round_significant(se, self.digits).abs());
        self.headline.entries.push(Entry { key: unique, value, standard_error });
    }
    fn count(&mut self, key: String, n: usize) {
        self.push(key, Value::Count(n as u64), None);
    }
    fn number(&mut self, key: String, v: f64, se: Option<f64>) {
        self.push(key, Value::Number(v), se);
    }
    fn text(&mut self, key: String, s: impl Into<String>) {
        self.push(key, Value::Text(s.into()), None);
    }
    /// A number inside a key (a time, a k): rounded, shortest form.
    fn at(&self, v: f64) -> String {
        round_significant(v, self.digits).to_string()
    }
}

/// `label` if it names something, else `#index`.
fn name(label: &str, index: usize) -> String {
    if label.is_empty() { format!("#{index}") } else { label.to_owned() }
}

impl Headline {
    /// The headline numbers of `summary`: per point the final value of every column (mean ± its
    /// standard error, std), every study fit and row, every large-deviation estimate.
    pub fn of(summary: &Summary, digits: usize) -> Headline {
        let mut b = Builder { digits, headline: Headline::default(), seen: Default::default() };
        b.text("scenario".into(), summary.scenario.clone());
        for point in &summary.points {
            let p = format!("points[{}]", name(&point.info.label, point.info.index));
            let info = &point.info;
            // Not the seed: another seed is another sample of the same numbers, which `StdErr(k)`
            // accepts (a swept seed is in the label).
            b.count(format!("{p}.width"), info.width);
            b.count(format!("{p}.replicas"), info.replicas);
            b.push(format!("{p}.steps"), Value::Count(info.steps), None);
            b.number(format!("{p}.final_time"), info.final_time, None);
            b.count(format!("{p}.finished"), point.finished);
            b.count(format!("{p}.diverged"), point.diverged.len());
            let n = point.finished as f64;
            for column in &point.final_values {
                let c = format!("{p}.final[{}]", column.column);
                // Of the mean: s/√n. Of the sample std: s/√(2(n − 1)), its normal-theory standard error
                // (exact for Gaussian replicas, the right order for any law with a fourth moment).
                let (se_mean, se_std) = if point.finished >= 2 {
                    (Some(column.std / n.sqrt()), Some(column.std / (2.0 * (n - 1.0)).sqrt()))
                } else {
                    (None, None)
                };
                b.number(format!("{c}.mean"), column.mean, se_mean);
                b.number(format!("{c}.std"), column.std, se_std);
            }
            if let Some(tagged) = &point.tagged_correlation
                && let Some(&r) = tagged.correlation.last()
            {
                // The large-sample standard error of a Pearson correlation, (1 − r²)/√(n − 1).
                let se = (point.finished >= 2).then(|| (1.0 - r * r) / (n - 1.0).sqrt());
                b.number(format!("{p}.tagged_correlation"), r, se);
            }
            if let Some(dependence) = &point.layer_dependence
                && let (Some(&d), Some(&se)) = (dependence.dependence.last(), dependence.standard_error.last())
            {
                b.number(format!("{p}.layer_dependence"), d, Some(se));
            }
        }
        if let Some(study) = &summary.study {
            b.text("study.kind".into(), study.kind.clone());
            for fit in &study.fits {
                let group = if fit.group.is_empty() { String::new() } else { format!(" {}", fit.group) };
                let f = format!("study.fit[{}{group} t={}]", fit.quantity, b.at(fit.time));
                // The percentile interval's bounds move with the slope, so they carry its error.
                let se = fit.interval.and_then(|(lo, hi)| band_error(lo, hi));
                match fit.slope {
                    Some(slope) => b.number(format!("{f}.slope"), slope, se),
                    None => b.text(format!("{f}.slope"), "none"),
                }
                if let Some((lo, hi)) = fit.interval {
                    b.number(format!("{f}.interval.low"), lo, se);
                    b.number(format!("{f}.interval.high"), hi, se);
                }
                b.number(format!("{f}.expected_slope"), fit.expected_slope, None);
                let widths: Vec<String> = fit.widths_fitted.iter().map(ToString::to_string).collect();
                b.text(format!("{f}.widths_fitted"), widths.join(", "));
                if let Some(note) = &fit.note {
                    b.text(format!("{f}.note"), note.clone());
                }
            }
            for row in &study.rows {
                let group = if row.group.is_empty() { String::new() } else { format!(" {}", row.group) };
                let r = format!("study.row[{}{group} t={} N={}]", row.quantity, b.at(row.time), row.width);
                b.number(format!("{r}.value"), row.value, Some(row.standard_error));
                b.count(format!("{r}.replicas"), row.replicas);
                if !row.converged {
                    b.text(format!("{r}.converged"), "no");
                }
            }
            for point in &study.unconverged {
                let u = format!("study.unconverged[{} {} t={}]", point.label, point.column, b.at(point.time));
                b.number(format!("{u}.change"), point.change, (point.noise > 0.0).then_some(point.noise));
            }
        }
        if let Some(ldp) = &summary.ldp {
            b.text("ldp.observable".into(), ldp.observable.clone());
            b.text("ldp.ensemble".into(), ldp.ensemble.clone());
            let points = ldp.points.iter().map(|p| ("point", p)).chain(ldp.quenched.iter().map(|p| ("quenched", p)));
            for (kind, point) in points {
                let label = if point.label.is_empty() { format!("N={}", point.width) } else { point.label.clone() };
                // A swept seed is in the label already.
                let seed = if label.contains("seed=") { String::new() } else { format!(" seed={}", point.seed) };
                let l = format!("ldp.{kind}[{label}{seed} t={}]", b.at(point.time));
                rate_function(&mut b, &l, &point.rate_function);
                for bin in &point.direct {
                    let d = format!("{l}.direct[A={}]", b.at(bin.value));
                    b.number(format!("{d}.rate"), bin.rate, None);
                    b.count(format!("{d}.replicas"), bin.replicas);
                }
            }
            for e in &ldp.extrapolation {
                let x = format!("ldp.extrapolation[A={}]", b.at(e.value));
                b.number(format!("{x}.limit"), e.limit, None);
                b.number(format!("{x}.correction"), e.correction, None);
            }
        }
        b.headline
    }

    /// The content of the snapshot file.
    pub fn to_text(&self) -> String {
        self.entries.iter().map(|e| e.line() + "\n").collect()
    }

    /// Reads the content of a snapshot file back (`path` and `first_line` only name it in errors).
    pub fn parse(content: &str, path: &Path, first_line: usize) -> Result<Headline, SnapshotError> {
        let mut entries = Vec::new();
        for (i, line) in content.lines().enumerate() {
            if line.trim().is_empty() {
                continue;
            }
            let malformed = |message: &str| SnapshotError::Malformed {
                path: path.to_owned(),
                line: first_line + i,
                message: format!("{message}: {line}"),
            };
            // Keys have no ` = ` (their numbers are written `t=40`); a string value may.
            let (key, rest) = line.split_once(" = ").ok_or_else(|| malformed("expected `key = value`"))?;
            let (value, standard_error) = match rest.rsplit_once(" ± ") {
                Some((value, se)) if !rest.starts_with('"') => {
                    (value, Some(se.parse::<f64>().map_err(|_| malformed("not a standard error"))?))
                }
                _ => (rest, None),
            };
            let value = if let Some(quoted) = value.strip_prefix('"').and_then(|v| v.strip_suffix('"')) {
                Value::Text(unescape(quoted))
            } else if let Ok(n) = value.parse::<u64>() {
                Value::Count(n)
            } else {
                Value::Number(value.parse::<f64>().map_err(|_| malformed("not a number, a count or a string"))?)
            };
            entries.push(Entry { key: key.to_owned(), value, standard_error });
        }
        Ok(Headline { entries })
    }
}

fn rate_function(b: &mut Builder, prefix: &str, f: &RateFunction) {
    b.count(format!("{prefix}.replicas"), f.replicas);
    let se = |band: &Band| band_error(band.low, band.high);
    for point in &f.points {
        let k = format!("{prefix}.k[{}]", b.at(point.k));
        b.number(format!("{k}.scgf"), point.scgf, se(&point.scgf_band));
        b.number(format!("{k}.a"), point.slope, None);
        b.number(format!("{k}.rate"), point.rate, se(&point.rate_band));
        b.text(format!("{k}.reliability"), format!("{:?}", point.reliability));
    }
}

/// Undoes Rust's `{:?}` escaping of a string.
fn unescape(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    let mut chars = s.chars();
    while let Some(c) = chars.next() {
        if c != '\\' {
            out.push(c);
            continue;
        }
        match chars.next() {
            Some('n') => out.push('\n'),
            Some('t') => out.push('\t'),
            Some('r') => out.push('\r'),
            Some('0') => out.push('\0'),
            Some('u') => {
                let code: String = chars.by_ref().skip(1).take_while(|&c| c != '}').collect();
                out.extend(u32::from_str_radix(&code, 16).ok().and_then(char::from_u32));
            }
            Some(other) => out.push(other),
            None => out.push('\\'),
        }
    }
    out
}

/// How one entry of the new snapshot compares with the stored one.
#[derive(Debug, Clone, PartialEq)]
pub enum Change {
    /// The new entry is not in the stored snapshot.
    Added(Entry),
    /// The stored entry is not in the new one.
    Removed(Entry),
    /// Different beyond the tolerance.
    Changed { old: Entry, new: Entry, note: String },
    /// Equal, or within the tolerance.
    Kept { old: Entry, new: Entry },
}

/// Whether `new` matches `old` under `tolerance`; `Err` says by how much it does not.
pub fn entry_matches(old: &Entry, new: &Entry, tolerance: SnapshotTolerance) -> Result<(), String> {
    if old.line() == new.line() {
        return Ok(());
    }
    let SnapshotTolerance::StdErr(k) = tolerance else { return Err(String::new()) };
    match (&old.value, &new.value, old.standard_error, new.standard_error) {
        (Value::Number(a), Value::Number(b), Some(se_old), Some(se_new)) => {
            // The stored and the new value are two independent estimates (another seed, another
            // platform's last bits), each with its own standard error: their difference has the
            // standard error √(se_old² + se_new²). The old one alone would reject a correct run √2
            // times too often; the new one alone would let a run whose error grew pass itself.
            let allowed = k * se_old.hypot(se_new);
            let moved = (b - a).abs();
            if moved <= allowed {
                Ok(())
            } else {
                Err(format!("|Δ| = {moved:.3e} > {k}·√(se_old² + se_new²) = {allowed:.3e}"))
            }
        }
        // Without an error on both sides there is nothing to measure a change by: as `Exact`.
        _ => Err(String::new()),
    }
}

/// Compares `new` with `old` entry by entry, in the new snapshot's order (removed entries where they
/// stood).
pub fn compare(old: &Headline, new: &Headline, tolerance: SnapshotTolerance) -> Vec<Change> {
    let old_keys: Vec<&str> = old.entries.iter().map(|e| e.key.as_str()).collect();
    let new_keys: Vec<&str> = new.entries.iter().map(|e| e.key.as_str()).collect();
    let mut changes = Vec::new();
    for op in similar::capture_diff_slices(similar::Algorithm::Myers, &old_keys, &new_keys) {
        match op {
            similar::DiffOp::Equal { old_index, new_index, len } => {
                for j in 0..len {
                    let (o, n) = (&old.entries[old_index + j], &new.entries[new_index + j]);
                    changes.push(match entry_matches(o, n, tolerance) {
                        Ok(()) => Change::Kept { old: o.clone(), new: n.clone() },
                        Err(note) => Change::Changed { old: o.clone(), new: n.clone(), note },
                    });
                }
            }
            similar::DiffOp::Delete { old_index, old_len, .. } => {
                changes.extend(old.entries[old_index..old_index + old_len].iter().cloned().map(Change::Removed));
            }
            similar::DiffOp::Insert { new_index, new_len, .. } => {
                changes.extend(new.entries[new_index..new_index + new_len].iter().cloned().map(Change::Added));
            }
            similar::DiffOp::Replace { old_index, old_len, new_index, new_len } => {
                changes.extend(old.entries[old_index..old_index + old_len].iter().cloned().map(Change::Removed));
                changes.extend(new.entries[new_index..new_index + new_len].iter().cloned().map(Change::Added));
            }
        }
    }
    changes
}

/// The differences of `changes`, one line each, with one unchanged entry of context on either side:
/// `~ key: old → new`, `- key = old` (removed), `+ key = new` (added). Empty when nothing differs.
pub fn render_diff(changes: &[Change]) -> String {
    let differs = |c: &Change| !matches!(c, Change::Kept { .. });
    let mut out = String::new();
    let mut last_shown: Option<usize> = None;
    for (i, change) in changes.iter().enumerate() {
        let near = changes[i.saturating_sub(1)..(i + 2).min(changes.len())].iter().any(differs);
        if !near {
            continue;
        }
        if last_shown.is_some_and(|l| l + 1 < i) {
            out.push_str("  …\n");
        }
        last_shown = Some(i);
        let _ = match change {
            Change::Kept { new, .. } => writeln!(out, "  {}", new.line()),
            Change::Added(new) => writeln!(out, "+ {}", new.line()),
            Change::Removed(old) => writeln!(out, "- {}", old.line()),
            Change::Changed { old, new, note } => {
                let value = |e: &Entry| e.line().split_once(" = ").map_or_else(String::new, |(_, v)| v.to_owned());
                let note = if note.is_empty() { String::new() } else { format!("   ({note})") };
                writeln!(out, "~ {}: {} → {}{note}", new.key, value(old), value(new))
            }
        };
    }
    out
}

/// A snapshot file: its header lines (between the `---` lines) and its content.
#[derive(Debug, Clone, PartialEq)]
pub struct SnapFile {
    pub header: Vec<String>,
    pub content: String,
    /// The line number of the content's first line.
    pub content_line: usize,
}

impl SnapFile {
    /// A new snapshot of the scenario file named `source`, as insta writes one.
    pub fn new(source: &str, content: String) -> SnapFile {
        SnapFile {
            header: vec![format!("source: {}", yaml_string(source)), "expression: meanfield snapshot".to_owned()],
            content,
            content_line: 5,
        }
    }

    pub fn to_text(&self) -> String {
        let mut text = String::from("---\n");
        for line in &self.header {
            text.push_str(line);
            text.push('\n');
        }
        text.push_str("---\n");
        text.push_str(self.content.trim_end());
        text.push('\n');
        text
    }

    /// Reads `path`; `None` if there is no such file.
    pub fn read(path: &Path) -> Result<Option<SnapFile>, SnapshotError> {
        let text = match std::fs::read_to_string(path) {
            Ok(text) => text,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(None),
            Err(source) => return Err(SnapshotError::Read { path: path.to_owned(), source }),
        };
        let mut lines = text.lines();
        let malformed =
            |line, message: &str| SnapshotError::Malformed { path: path.to_owned(), line, message: message.to_owned() };
        if lines.next().map(str::trim_end) != Some("---") {
            return Err(malformed(1, "expected `---`, the start of insta's snapshot header"));
        }
        let mut header = Vec::new();
        loop {
            match lines.next() {
                Some(line) if line.trim_end() == "---" => break,
                Some(line) => header.push(line.to_owned()),
                None => return Err(malformed(header.len() + 2, "the header has no closing `---`")),
            }
        }
        let content: Vec<&str> = lines.collect();
        Ok(Some(SnapFile { content_line: header.len() + 3, header, content: content.join("\n") }))
    }

    /// Writes the file (whole or not at all: through a temporary file beside it).
    pub fn write(&self, path: &Path) -> Result<(), SnapshotError> {
        let error = |source| SnapshotError::Write { path: path.to_owned(), source };
        let dir = path.parent().filter(|d| !d.as_os_str().is_empty()).unwrap_or(Path::new("."));
        let mut file = tempfile::NamedTempFile::new_in(dir).map_err(error)?;
        std::io::Write::write_all(&mut file, self.to_text().as_bytes()).map_err(error)?;
        file.persist(path).map_err(|e| error(e.error))?;
        Ok(())
    }

    /// The header without `assertion_line:` (insta keeps it only in pending `.snap.new` files).
    pub fn for_acceptance(mut self) -> SnapFile {
        self.header.retain(|line| !line.starts_with("assertion_line:"));
        self
    }
}

/// `s` as a YAML scalar the way insta writes one: plain when that reads back as the same string.
fn yaml_string(s: &str) -> String {
    let plain = !s.is_empty()
        && !s.starts_with([' ', '&', '*', '?', '|', '-', '<', '>', '=', '!', '%', '@'])
        && !s.ends_with(' ')
        && !s.contains([':', '{', '}', '[', ']', ',', '#', '`', '"', '\'', '\\'])
        && !s.chars().any(char::is_control)
        && s.parse::<f64>().is_err()
        && !["true", "false", "null", "~", "yes", "no", "on", "off"].contains(&s.to_ascii_lowercase().as_str());
    if plain { s.to_owned() } else { format!("{:?}", s) }
}

/// The snapshot of the scenario file `scenario` (`x.ron` → `x.snap`).
pub fn snap_path(scenario: &Path) -> Result<PathBuf, SnapshotError> {
    if scenario.extension().is_none_or(|e| e != "ron") {
        return Err(SnapshotError::NotAScenario { path: scenario.to_owned() });
    }
    Ok(scenario.with_extension("snap"))
}

/// The pending snapshot beside `snap` (`x.snap` → `x.snap.new`), where insta puts one.
pub fn pending_path(snap: &Path) -> PathBuf {
    snap.with_extension("snap.new")
}

/// A scenario's snapshot just taken.
#[derive(Debug, Clone)]
pub struct Taken {
    pub spec: SnapshotSpec,
    pub headline: Headline,
    /// Diverged replicas, plugin faults and warnings of the run, one message each.
    pub warnings: Vec<String>,
}

/// Runs `scenario` in a temporary directory (removed afterwards, whatever happens) and takes its
/// headline numbers.
pub fn take(scenario: &Scenario, threads: Option<usize>) -> Result<Taken, Error> {
    let mut checked = scenario.resolve()?;
    // The snapshot is of the summary, which is computed from the records in memory: no table, figure,
    // particle file or checkpoint of a run that is deleted anyway.
    let outputs = &mut checked.spec.outputs;
    (outputs.csv, outputs.jsonl, outputs.particles, outputs.checkpoint_seconds) = (false, false, None, None);
    outputs.plots.clear();
    let dir = tempfile::Builder::new()
        .prefix("meanfield-snapshot-")
        .tempdir()
        .map_err(|e| Error::Results(format!("cannot make a temporary directory for the run: {e}")))?;
    let config = RunConfig { out: Some(dir.path().to_owned()), threads, ..Default::default() };
    let results = crate::run_checked(&checked, &config)?;
    let mut warnings: Vec<String> = checked.deprecations.clone();
    warnings.extend(results.divergences.iter().map(|d| d.message.clone()));
    warnings.extend(results.faults.iter().map(|f| format!("a plugin failed during the run: {f}")));
    warnings.extend(results.warnings);
    let spec = checked.spec.snapshot;
    Ok(Taken { headline: Headline::of(&results.summary, spec.digits), spec, warnings })
}

/// How a new snapshot compares with the stored one.
#[derive(Debug, Clone, PartialEq)]
pub enum Verdict {
    /// Identical content.
    Same,
    /// Different text, every difference within the tolerance.
    WithinTolerance,
    /// The readable diff.
    Differs(String),
    /// No stored snapshot.
    Missing,
}

/// Compares `taken` with the stored snapshot at `snap`.
pub fn verdict(snap: &Path, taken: &Taken) -> Result<Verdict, SnapshotError> {
    let Some(stored) = SnapFile::read(snap)? else { return Ok(Verdict::Missing) };
    let new = taken.headline.to_text();
    if stored.content.trim_end() == new.trim_end() {
        return Ok(Verdict::Same);
    }
    let old = Headline::parse(&stored.content, snap, stored.content_line)?;
    let changes = compare(&old, &taken.headline, taken.spec.tolerance);
    let diff = render_diff(&changes);
    Ok(if diff.is_empty() { Verdict::WithinTolerance } else { Verdict::Differs(diff) })
}

/// The diff between a stored snapshot and a pending one (for review: exact, since a pending snapshot is
/// the whole new text). Any other insta snapshot (not `key = value` lines) gets a plain line diff.
pub fn pending_diff(snap: &Path, pending: &Path) -> Result<String, SnapshotError> {
    let new_file = SnapFile::read(pending)?
        .ok_or_else(|| SnapshotError::Read { path: pending.to_owned(), source: std::io::ErrorKind::NotFound.into() })?;
    let old_file = SnapFile::read(snap)?;
    let old = match &old_file {
        Some(file) => Headline::parse(&file.content, snap, file.content_line),
        None => Ok(Headline::default()),
    };
    Ok(match (old, Headline::parse(&new_file.content, pending, new_file.content_line)) {
        (Ok(old), Ok(new)) => render_diff(&compare(&old, &new, SnapshotTolerance::Exact)),
        _ => {
            let old_content = old_file.as_ref().map_or("", |f| f.content.as_str());
            let diff = similar::TextDiff::from_lines(old_content, new_file.content.as_str());
            diff.unified_diff().context_radius(1).missing_newline_hint(false).to_string()
        }
    })
}

/// Accepts the pending snapshot beside `snap`: it becomes the snapshot (without `assertion_line`).
pub fn accept(snap: &Path) -> Result<(), SnapshotError> {
    let pending = pending_path(snap);
    let file = SnapFile::read(&pending)?
        .ok_or_else(|| SnapshotError::Read { path: pending.clone(), source: std::io::ErrorKind::NotFound.into() })?;
    file.for_acceptance().write(snap)?;
    std::fs::remove_file(&pending).map_err(|source| SnapshotError::Write { path: pending, source })
}

/// Rejects the pending snapshot beside `snap`: it is deleted.
pub fn reject(snap: &Path) -> Result<(), SnapshotError> {
    let pending = pending_path(snap);
    std::fs::remove_file(&pending).map_err(|source| SnapshotError::Write { path: pending, source })
}

/// The pending snapshots (`*.snap.new`) under `dir`, skipping hidden directories and `target/`, sorted.
pub fn find_pending(dir: &Path) -> Vec<PathBuf> {
    let mut found = Vec::new();
    let mut stack = vec![dir.to_owned()];
    while let Some(dir) = stack.pop() {
        let Ok(entries) = std::fs::read_dir(&dir) else { continue };
        for entry in entries.flatten() {
            let path = entry.path();
            let name = entry.file_name().to_string_lossy().into_owned();
            match entry.file_type() {
                Ok(t) if t.is_dir() && !name.starts_with('.') && name != "target" => stack.push(path),
                Ok(t) if t.is_file() && name.ends_with(".snap.new") => found.push(path),
                _ => {}
            }
        }
    }
    found.sort();
    found
}

#[cfg(test)]
mod tests {
    use super::*;

    fn entry(key: &str, value: f64, se: Option<f64>) -> Entry {
        Entry { key: key.into(), value: Value::Number(value), standard_error: se }
    }

    #[test]
    fn text_reads_back() {
        let headline = Headline {
            entries: vec![
                Entry {
                    key: "scenario".into(),
                    value: Value::Text("a \"b\" ± c = d at t = 2".into()),
                    standard_error: None,
                },
                Entry { key: "points[width=8].finished".into(), value: Value::Count(4), standard_error: None },
                entry("points[width=8].final[risk].mean", 0.0123, Some(1e-7)),
                entry("x", f64::NAN, None),
                entry("y", 4.0, None),
            ],
        };
        let text = headline.to_text();
        let back = Headline::parse(&text, Path::new("x.snap"), 5).unwrap();
        assert_eq!(back.to_text(), text);
    }

    #[test]
    fn std_err_tolerance_combines_both_errors() {
        let tolerance = SnapshotTolerance::StdErr(2.0);
        // 2·√(3² + 4²) = 10.
        assert!(entry_matches(&entry("m", 0.0, Some(3.0)), &entry("m", 10.0, Some(4.0)), tolerance).is_ok());
        assert!(entry_matches(&entry("m", 0.0, Some(3.0)), &entry("m", 10.1, Some(4.0)), tolerance).is_err());
        // Without an error on both sides: exact.
        assert!(entry_matches(&entry("m", 0.0, None), &entry("m", 1e-9, Some(4.0)), tolerance).is_err());
        assert!(
            entry_matches(&entry("m", 0.0, Some(3.0)), &entry("m", 1.0, Some(3.0)), SnapshotTolerance::Exact).is_err()
        );
    }

    #[test]
    fn the_diff_shows_changes_with_context() {
        let old = Headline { entries: (0..8).map(|i| entry(&format!("k{i}"), i as f64, None)).collect() };
        let mut new = old.clone();
        new.entries[6].value = Value::Number(60.0);
        new.entries.remove(1);
        let diff = render_diff(&compare(&old, &new, SnapshotTolerance::Exact));
        assert_eq!(diff, "  k0 = 0.0\n- k1 = 1.0\n  k2 = 2.0\n  …\n  k5 = 5.0\n~ k6: 6.0 → 60.0\n  k7 = 7.0\n");
    }
}
