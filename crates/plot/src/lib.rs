//! Plots of a run's result tables, as SVG and PNG, with no system fonts (DejaVu Sans is embedded), and the
//! run report (`report.html`).
//!
//! Plots are made from the files a run writes, never from its memory, so `meanfield plot FILE.csv` redraws
//! exactly what the run drew. A [`Figure`] is plain data (snapshot-tested); [`Figure::svg`] and
//! [`Figure::png`] render it.
//!
//! | table            | figures                                                                      |
//! |------------------|------------------------------------------------------------------------------|
//! | `timeseries.csv` | `risk` (replica bands, the limit dashed), `marginal_<stat>_<point>` per point |
//! | `study.csv`      | `scaling_<quantity>`: log-log against N with the fitted slope and interval   |
//! | `ldp.csv`        | `rate_function`: estimates, bootstrap bands, the unreliable region shaded    |

pub mod figure;
pub mod report;
pub mod tables;

pub use figure::{Figure, Layer};
use meanfield_core::SinkError;
use meanfield_sinks::{AtomicFile, file_stem};
pub use report::write_report;
use std::path::{Path, PathBuf};

#[derive(Debug, thiserror::Error)]
pub enum PlotError {
    #[error("cannot read {path}: {message}")]
    Read { path: PathBuf, message: String },
    #[error("{path}: {message}")]
    Format { path: PathBuf, message: String },
    #[error(
        "cannot plot {path}: it is not a table meanfield plots (timeseries.csv, study.csv or ldp.csv); its columns are {columns}"
    )]
    Unknown { path: PathBuf, columns: String },
    #[error("cannot draw {path}: {message}")]
    Draw { path: PathBuf, message: String },
    #[error(transparent)]
    Write(#[from] SinkError),
}

impl PlotError {
    fn read(path: &Path, e: impl std::fmt::Display) -> PlotError {
        PlotError::Read { path: path.to_owned(), message: e.to_string() }
    }
}

/// Which image files to write per figure.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Formats {
    pub svg: bool,
    pub png: bool,
}

impl Default for Formats {
    fn default() -> Self {
        Formats { svg: true, png: true }
    }
}

/// The figures of one table, chosen by its columns.
pub fn figures(path: &Path) -> Result<Vec<Figure>, PlotError> {
    let header: Vec<String> = csv::Reader::from_path(path)
        .and_then(|mut r| r.headers().map(|h| h.iter().map(str::to_owned).collect()))
        .map_err(|e| PlotError::read(path, e))?;
    let has = |c: &str| header.iter().any(|h| h == c);
    if has("replica") && has("step") {
        tables::timeseries(path)
    } else if has("quantity") && has("standard_error") {
        tables::study(path)
    } else if has("rate") && has("reliable") {
        tables::ldp(path)
    } else {
        Err(PlotError::Unknown { path: path.to_owned(), columns: header.join(", ") })
    }
}

/// Plots one table into `out_dir`; returns the files written.
pub fn plot_file(path: &Path, out_dir: &Path, formats: Formats) -> Result<Vec<PathBuf>, PlotError> {
    let mut written = Vec::new();
    for figure in figures(path)? {
        written.extend(write_figure(&figure, out_dir, formats)?);
    }
    Ok(written)
}

/// Plots every table of a run directory that has figures (`timeseries.csv`, `study.csv`, `ldp.csv`).
pub fn plot_run(dir: &Path, formats: Formats) -> Result<Vec<PathBuf>, PlotError> {
    let mut written = Vec::new();
    for table in ["timeseries.csv", "study.csv", "ldp.csv"] {
        let path = dir.join(table);
        if path.exists() {
            written.extend(plot_file(&path, dir, formats)?);
        }
    }
    Ok(written)
}

/// Writes `figure` as `<name>.svg` and/or `<name>.png`, each appearing only when complete.
pub fn write_figure(figure: &Figure, out_dir: &Path, formats: Formats) -> Result<Vec<PathBuf>, PlotError> {
    let stem = file_stem(&figure.name);
    let mut written = Vec::new();
    if formats.svg {
        let path = out_dir.join(format!("{stem}.svg"));
        let svg = figure.svg().map_err(|message| PlotError::Draw { path: path.clone(), message })?;
        written.push(AtomicFile::write_all(&path, svg.as_bytes())?);
    }
    if formats.png {
        let path = out_dir.join(format!("{stem}.png"));
        // The encoder picks the format from the extension, so the partial file ends in .png too.
        let partial = out_dir.join(format!(".meanfield-{stem}.partial.png"));
        let drawn = figure.png(&partial).map_err(|message| PlotError::Draw { path: path.clone(), message });
        let renamed = drawn
            .and_then(|()| std::fs::rename(&partial, &path).map_err(|e| PlotError::Write(SinkError::io(&path, e))));
        if renamed.is_err() {
            let _ = std::fs::remove_file(&partial);
        }
        renamed?;
        written.push(path);
    }
    Ok(written)
}
