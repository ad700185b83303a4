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
use std::collections::{BTreeMap, HashMap};
use std::path::{Path, PathBuf};

/// In a directory that `meanfield plot` drew into: which table each figure file there was drawn from, so
/// that the next plot of the same table may redraw it and no other command replaces it unasked.
pub const PLOT_RECORD: &str = ".meanfield-plots.json";

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
    #[error(
        "{} and {} would both draw {}: plot them one at a time, or into different directories with --out",
        first.display(), second.display(), path.display()
    )]
    Collision { path: PathBuf, first: PathBuf, second: PathBuf },
    #[error(
        "{} already exists and is not a figure meanfield drew from {}: add --force to replace it, or plot into another directory with --out",
        path.display(), table.display()
    )]
    Exists { path: PathBuf, table: PathBuf },
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
    let mut reader = meanfield_core::files::open_regular(path, "a table")
        .map(csv::Reader::from_reader)
        .map_err(|e| PlotError::read(path, e))?;
    let header: Vec<String> =
        reader.headers().map(|h| h.iter().map(str::to_owned).collect()).map_err(|e| PlotError::read(path, e))?;
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

/// The files [`write_figure`] writes for `figure` into `out_dir`.
fn figure_paths(figure: &Figure, out_dir: &Path, formats: Formats) -> Vec<PathBuf> {
    let stem = file_stem(&figure.name);
    let svg = formats.svg.then(|| out_dir.join(format!("{stem}.svg")));
    let png = formats.png.then(|| out_dir.join(format!("{stem}.png")));
    svg.into_iter().chain(png).collect()
}

/// A path in a form that two spellings of one file share (the directory resolved when it exists).
fn identity(path: &Path) -> PathBuf {
    let absolute = std::path::absolute(path).unwrap_or_else(|_| path.to_owned());
    match (absolute.parent().and_then(|d| d.canonicalize().ok()), absolute.file_name()) {
        (Some(dir), Some(name)) => dir.join(name),
        _ => absolute,
    }
}

/// `dir`'s record of which table each figure there was drawn from (file name → table).
fn read_record(dir: &Path) -> BTreeMap<String, PathBuf> {
    std::fs::read_to_string(dir.join(PLOT_RECORD)).ok().and_then(|t| serde_json::from_str(&t).ok()).unwrap_or_default()
}

/// The file names `dir/manifest.json` lists: the files of the run in that directory.
fn run_files(dir: &Path) -> Vec<String> {
    let manifest: Option<serde_json::Value> =
        std::fs::read_to_string(dir.join("manifest.json")).ok().and_then(|t| serde_json::from_str(&t).ok());
    let files = manifest.as_ref().and_then(|m| m.get("files")?.as_array().cloned()).unwrap_or_default();
    files.iter().filter_map(|f| Some(Path::new(f.as_str()?).file_name()?.to_string_lossy().into_owned())).collect()
}

/// Plots each `(table, directory)`: the figures of every table into its directory, which is made if
/// absent. Nothing is written unless all of it may be: two tables whose figures would land on one path
/// are refused, and so is an existing file that is not a figure drawn from the same table (by an earlier
/// `meanfield plot`, recorded in [`PLOT_RECORD`], or by the run whose directory holds the table) unless
/// `force`. Returns the files written per table.
pub fn plot_tables(
    tables: &[(PathBuf, PathBuf)],
    formats: Formats,
    force: bool,
) -> Result<Vec<(PathBuf, Vec<PathBuf>)>, PlotError> {
    let mut planned = Vec::with_capacity(tables.len());
    let mut drawn_by: HashMap<PathBuf, &Path> = HashMap::new();
    for (table, dir) in tables {
        let figures = figures(table)?;
        let source = identity(table);
        // Drawn into the directory that holds the table: the figures of the run there are its own.
        let table_dir = table.parent().filter(|p| !p.as_os_str().is_empty()).unwrap_or(Path::new("."));
        let run = if identity(dir) == identity(table_dir) { run_files(dir) } else { Vec::new() };
        let record = read_record(dir);
        for path in figures.iter().flat_map(|f| figure_paths(f, dir, formats)) {
            let key = identity(&path);
            match drawn_by.insert(key, table) {
                Some(first) if identity(first) != source => {
                    return Err(PlotError::Collision { path, first: first.to_owned(), second: table.clone() });
                }
                _ => {}
            }
            let name = path.file_name().map(|n| n.to_string_lossy().into_owned()).unwrap_or_default();
            let ours = record.get(&name).is_some_and(|t| *t == source) || run.contains(&name);
            if !force && !ours && path.symlink_metadata().is_ok() {
                return Err(PlotError::Exists { path, table: table.clone() });
            }
        }
        planned.push((table, dir, figures, source));
    }
    let mut written = Vec::with_capacity(planned.len());
    for (table, dir, figures, source) in planned {
        std::fs::create_dir_all(dir).map_err(|e| SinkError::io(dir, e))?;
        let mut files = Vec::new();
        for figure in &figures {
            files.extend(write_figure(figure, dir, formats)?);
        }
        // Re-read: an earlier table of this command may have drawn into the same directory.
        let mut record = read_record(dir);
        for file in &files {
            record
                .insert(file.file_name().map(|n| n.to_string_lossy().into_owned()).unwrap_or_default(), source.clone());
        }
        let text = serde_json::to_string_pretty(&record)
            .map_err(|e| SinkError::Serialize { what: PLOT_RECORD.into(), message: e.to_string() })?;
        AtomicFile::write_all(&dir.join(PLOT_RECORD), (text + "\n").as_bytes())?;
        written.push((table.clone(), files));
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
