//! The CSV tables of a run's analyses: `study.csv`, `ldp.csv` and `ldp_direct.csv`.

use crate::atomic::AtomicFile;
use meanfield_core::SinkError;
use meanfield_core::summary::{LdpPoint, LdpSummary, StudySummary};
use std::path::{Path, PathBuf};

/// Writes the table as CSV, plot-ready: `quantity,group,time,width,replicas,value,standard_error,converged`
/// (`group` the swept coordinates besides width and seed that the row's points share, empty without
/// them; `converged` false for a width none of whose points converged, shown but not fitted), then the fit
/// the row belongs to, repeated on each of its rows: `study_time` (the time asked for; `time` is the
/// record nearest it), `slope`, `slope_low`, `slope_high` (empty when there is none) and `expected_slope`.
pub fn write_study_csv(study: &StudySummary, path: &Path) -> Result<PathBuf, SinkError> {
    let io = |source| SinkError::Io { path: path.to_owned(), source };
    let mut csv = csv::Writer::from_writer(Vec::new());
    csv.write_record([
        "quantity",
        "group",
        "time",
        "width",
        "replicas",
        "value",
        "standard_error",
        "converged",
        "study_time",
        "slope",
        "slope_low",
        "slope_high",
        "expected_slope",
    ])
    .map_err(|e| io(e.into()))?;
    // Rows come in one run of increasing widths per fit, in the order of the fits.
    let mut fit = 0;
    let optional = |v: Option<f64>| v.map_or(String::new(), |v| v.to_string());
    for (i, row) in study.rows.iter().enumerate() {
        if i > 0 {
            let previous = &study.rows[i - 1];
            if row.quantity != previous.quantity || row.group != previous.group || row.width <= previous.width {
                fit += 1;
            }
        }
        let f = study.fits.get(fit);
        csv.write_record([
            row.quantity.clone(),
            row.group.clone(),
            row.time.to_string(),
            row.width.to_string(),
            row.replicas.to_string(),
            row.value.to_string(),
            row.standard_error.to_string(),
            row.converged.to_string(),
            optional(f.map(|f| f.time)),
            optional(f.and_then(|f| f.slope)),
            optional(f.and_then(|f| f.interval.map(|i| i.0))),
            optional(f.and_then(|f| f.interval.map(|i| i.1))),
            optional(f.map(|f| f.expected_slope)),
        ])
        .map_err(|e| io(e.into()))?;
    }
    let bytes = csv.into_inner().map_err(|e| io(e.into_error()))?;
    AtomicFile::write_all(path, &bytes)
}

/// The columns that name the point in both CSV tables: `label,width,seed,replicas,time`.
fn csv_prefix(point: &LdpPoint) -> Vec<String> {
    vec![
        point.label.clone(),
        point.width.to_string(),
        point.seed.to_string(),
        point.rate_function.replicas.to_string(),
        point.time.to_string(),
    ]
}

/// A CSV table in memory (the csv crate quotes labels that hold commas).
fn csv_table(header: &[&str], rows: impl Iterator<Item = Vec<String>>) -> Result<Vec<u8>, csv::Error> {
    let mut writer = csv::Writer::from_writer(Vec::new());
    writer.write_record(header)?;
    for row in rows {
        writer.write_record(&row)?;
    }
    writer.into_inner().map_err(|e| e.into_error().into())
}

/// Writes the direct estimator's bins to `path` as CSV, one row per point and bin; nothing (`None`) without
/// `direct_bins`.
pub fn write_ldp_direct_csv(ldp: &LdpSummary, path: &Path) -> Result<Option<PathBuf>, SinkError> {
    if ldp.points.iter().all(|p| p.direct.is_empty()) {
        return Ok(None);
    }
    let header = ["label", "width", "seed", "replicas", "time", "value", "bin_replicas", "rate"];
    let rows = ldp.points.iter().flat_map(|point| {
        point.direct.iter().map(|bin| {
            let mut row = csv_prefix(point);
            row.extend([bin.value.to_string(), bin.replicas.to_string(), bin.rate.to_string()]);
            row
        })
    });
    let bytes = csv_table(&header, rows).map_err(|e| SinkError::io(path, e.into()))?;
    AtomicFile::write_all(path, &bytes).map(Some)
}

/// Writes the rate functions to `path` as CSV, one row per point (configurations, then their averages)
/// and k.
pub fn write_ldp_csv(ldp: &LdpSummary, path: &Path) -> Result<PathBuf, SinkError> {
    let header = [
        "label",
        "width",
        "seed",
        "replicas",
        "time",
        "k",
        "scgf",
        "scgf_low",
        "scgf_high",
        "slope",
        "rate",
        "rate_low",
        "rate_high",
        "effective_sample_size",
        "reliable",
    ];
    let rows = ldp.points.iter().chain(&ldp.quenched).flat_map(|point| {
        point.rate_function.points.iter().map(|p| {
            let mut row = csv_prefix(point);
            row.extend(
                [
                    p.k,
                    p.scgf,
                    p.scgf_band.low,
                    p.scgf_band.high,
                    p.slope,
                    p.rate,
                    p.rate_band.low,
                    p.rate_band.high,
                    p.effective_sample_size,
                ]
                .map(|v| v.to_string()),
            );
            row.push(p.reliable().to_string());
            row
        })
    });
    let bytes = csv_table(&header, rows).map_err(|e| SinkError::io(path, e.into()))?;
    AtomicFile::write_all(path, &bytes)
}
