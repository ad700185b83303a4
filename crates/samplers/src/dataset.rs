//! A finite data set read from a CSV or NPY file and sampled with replacement or in epochs.

use meanfield_core::{DataDistribution, DataStream, Stream};
use ndarray::Array2;
use rand::seq::SliceRandom;
use rand::{Rng, RngCore};
use std::path::{Path, PathBuf};

/// A column of the file: by header name (CSV only) or by 0-based index.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Column {
    Name(String),
    Index(usize),
}

/// Which columns are the inputs x.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ColumnSelection {
    /// Every column but the target, in file order.
    AllExceptTarget,
    Columns(Vec<Column>),
}

/// How training samples are drawn from the rows.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Sampling {
    /// Independent uniform rows.
    WithReplacement,
    /// Every row once per epoch, in an order reshuffled at the start of each epoch.
    Epochs,
}

/// Why a data file could not be used. Line numbers are 1-based lines of the file (the CSV header is
/// line 1).
#[derive(Debug, thiserror::Error)]
pub enum DatasetError {
    #[error("cannot read data file {path}: {message}")]
    Read { path: PathBuf, message: String },
    #[error("{path}:{line}: column '{column}': {message}")]
    Cell { path: PathBuf, line: u64, column: String, message: String },
    #[error("{path}: unknown column {column}; the file has columns {known}")]
    UnknownColumn { path: PathBuf, column: String, known: String },
    #[error("{path}: {message}")]
    Shape { path: PathBuf, message: String },
}

/// The rows of a data set: inputs (rows × dim, row-major) and targets. Training samples come from `x`,
/// `y`; the held-out sample of the risk comes from `test` when rows were held out (`hold_out`), and from
/// the training rows otherwise (the risk is then in-sample).
#[derive(Debug, Clone)]
pub struct Dataset {
    pub path: PathBuf,
    pub x: Array2<f64>,
    pub y: Vec<f64>,
    pub test: Option<(Array2<f64>, Vec<f64>)>,
    pub sampling: Sampling,
}

impl Dataset {
    /// Reads `path` (`.npy`: a 2-D float64 array; anything else: CSV with a header line) and selects
    /// the columns. A path that is not a non-empty regular file is refused before it is read, an NPY
    /// header that claims more data than the file holds before anything is allocated.
    pub fn load(
        path: &Path,
        features: &ColumnSelection,
        target: &Column,
        sampling: Sampling,
    ) -> Result<Dataset, DatasetError> {
        crate::file::regular_file_len(path)?;
        let (header, table) =
            if path.extension().is_some_and(|e| e == "npy") { read_npy(path)? } else { read_csv(path)? };
        let resolve = |column: &Column| -> Result<usize, DatasetError> {
            let unknown = || DatasetError::UnknownColumn {
                path: path.to_owned(),
                column: match column {
                    Column::Name(n) => format!("'{n}'"),
                    Column::Index(i) => format!("index {i}"),
                },
                known: describe_columns(&header, table.ncols()),
            };
            match column {
                Column::Index(i) if *i < table.ncols() => Ok(*i),
                Column::Name(name) => header.iter().position(|h| h == name).ok_or_else(unknown),
                Column::Index(_) => Err(unknown()),
            }
        };
        let target = resolve(target)?;
        let inputs: Vec<usize> = match features {
            ColumnSelection::AllExceptTarget => (0..table.ncols()).filter(|&c| c != target).collect(),
            ColumnSelection::Columns(cols) => cols.iter().map(resolve).collect::<Result<_, _>>()?,
        };
        if inputs.is_empty() {
            return Err(DatasetError::Shape { path: path.to_owned(), message: "no input columns selected".into() });
        }
        if table.nrows() == 0 {
            let message = if header.is_empty() { "has no rows" } else { "has no rows, only a header line" };
            return Err(DatasetError::Shape { path: path.to_owned(), message: message.into() });
        }
        let x = table.select(ndarray::Axis(1), &inputs);
        let y = table.column(target).to_vec();
        Ok(Dataset { path: path.to_owned(), x, y, test: None, sampling })
    }

    /// Moves round(`fraction` · rows) rows, chosen uniformly by `rng`, to the test set (call before
    /// standardising, so that the test rows play no part in the scaling). At least one row stays on each
    /// side, or this is an error.
    pub fn hold_out(&mut self, fraction: f64, rng: &mut dyn RngCore) -> Result<(), DatasetError> {
        let rows = self.rows();
        let test = (fraction * rows as f64).round() as usize;
        if test == 0 || test >= rows {
            return Err(DatasetError::Shape {
                path: self.path.clone(),
                message: format!(
                    "holding out {fraction} of {rows} rows leaves {test} test rows; need 1 to {}",
                    rows - 1
                ),
            });
        }
        let mut order: Vec<usize> = (0..rows).collect();
        order.shuffle(rng);
        let (train, held) = order.split_at(rows - test);
        let take = |idx: &[usize]| (self.x.select(ndarray::Axis(0), idx), idx.iter().map(|&r| self.y[r]).collect());
        let (x, y) = take(train);
        self.test = Some(take(held));
        (self.x, self.y) = (x, y);
        Ok(())
    }

    /// Shifts and scales every input column to mean 0, variance 1 over the training rows (the test rows
    /// get the same transformation).
    pub fn standardize_inputs(&mut self) {
        for k in 0..self.dim() {
            let (mean, scale) = moments(self.x.column(k));
            self.x.column_mut(k).mapv_inplace(|v| (v - mean) * scale);
            if let Some((x, _)) = &mut self.test {
                x.column_mut(k).mapv_inplace(|v| (v - mean) * scale);
            }
        }
    }

    /// Shifts and scales the target to mean 0, variance 1 over the training rows (the risk is then in
    /// units of the target's variance: R² = 1 − 2·risk).
    pub fn standardize_target(&mut self) {
        let (mean, scale) = moments(ndarray::ArrayView1::from(&self.y[..]));
        let apply = |y: &mut Vec<f64>| y.iter_mut().for_each(|v| *v = (*v - mean) * scale);
        apply(&mut self.y);
        if let Some((_, y)) = &mut self.test {
            apply(y);
        }
    }

    /// Training rows.
    pub fn rows(&self) -> usize {
        self.y.len()
    }
}

/// The mean and 1/std of a column (1 for a constant column, which is then only centred).
fn moments(col: ndarray::ArrayView1<'_, f64>) -> (f64, f64) {
    let n = col.len() as f64;
    let mean = col.sum() / n;
    let std = (col.iter().map(|v| (v - mean).powi(2)).sum::<f64>() / n).sqrt();
    (mean, if std > 0.0 { 1.0 / std } else { 1.0 })
}

fn describe_columns(header: &[String], ncols: usize) -> String {
    if header.is_empty() {
        format!("indices 0..{ncols} (an NPY file has no column names)")
    } else {
        header.iter().enumerate().map(|(i, h)| format!("{i}:'{h}'")).collect::<Vec<_>>().join(", ")
    }
}

fn read_npy(path: &Path) -> Result<(Vec<String>, Array2<f64>), DatasetError> {
    let header = crate::file::npy_header(path)?;
    if header.shape.len() != 2 {
        return Err(DatasetError::Shape {
            path: path.to_owned(),
            message: format!("has shape {:?}; a data set is a 2-D array (rows × columns)", header.shape),
        });
    }
    let table: Array2<f64> = ndarray_npy::read_npy(path)
        .map_err(|e| DatasetError::Read { path: path.to_owned(), message: e.to_string() })?;
    if let Some(((row, col), v)) = table.indexed_iter().find(|(_, v)| !v.is_finite()) {
        return Err(DatasetError::Cell {
            path: path.to_owned(),
            line: row as u64,
            column: format!("index {col}"),
            message: format!("value {v} is not finite (row index {row})"),
        });
    }
    Ok((Vec::new(), table))
}

/// A model's parameters from an NPY file (a quenched initial configuration), in the model's storage order:
/// either a 1-D array of every parameter, or a 2-D array with one row per particle whose columns are the
/// blocks' columns side by side (c, then w's d columns, then b for a one-hidden-layer network), which
/// needs every block to have one row per particle.
pub fn read_configuration(path: &Path, blocks: &[meanfield_core::Block]) -> Result<Vec<f64>, DatasetError> {
    let shape_error = |message: String| DatasetError::Shape { path: path.to_owned(), message };
    let total: usize = blocks.iter().map(|b| b.rows * b.cols).sum();
    // (rows, columns) of the one-row-per-particle layout, when every block has one row per particle.
    let per_particle = blocks
        .first()
        .filter(|first| blocks.iter().all(|b| b.rows == first.rows))
        .map(|first| (first.rows, blocks.iter().map(|b| b.cols).sum::<usize>()));
    // The header's shape is compared with the model's before the data is read.
    let header = crate::file::npy_header(path)?;
    let fits = match header.shape[..] {
        [len] => len == total,
        [rows, cols] => per_particle == Some((rows, cols)),
        _ => false,
    };
    if !fits {
        let layout = blocks.iter().map(|b| format!("{} {}×{}", b.name, b.rows, b.cols)).collect::<Vec<_>>().join(", ");
        let or_rows = per_particle
            .map_or(String::new(), |(rows, cols)| format!(" or a {rows} × {cols} array (one row per particle)"));
        return Err(shape_error(format!(
            "has shape {:?}; the model's parameters ({layout}) need a 1-D array of {total} values{or_rows}",
            header.shape
        )));
    }
    let array: ndarray::ArrayD<f64> = ndarray_npy::read_npy(path)
        .map_err(|e| DatasetError::Read { path: path.to_owned(), message: e.to_string() })?;
    if let Some((index, v)) = array.indexed_iter().find(|(_, v)| !v.is_finite()) {
        return Err(shape_error(format!("value {v} at index {index:?} is not finite")));
    }
    let [rows, _] = *array.shape() else { return Ok(array.iter().copied().collect()) };
    let mut params = vec![0.0; total];
    let mut first_col = 0;
    for block in blocks {
        for i in 0..rows {
            for j in 0..block.cols {
                params[block.offset + i * block.cols + j] = array[[i, first_col + j]];
            }
        }
        first_col += block.cols;
    }
    Ok(params)
}

fn read_csv(path: &Path) -> Result<(Vec<String>, Array2<f64>), DatasetError> {
    let read_error = |message: String| DatasetError::Read { path: path.to_owned(), message };
    let mut reader =
        csv::ReaderBuilder::new().trim(csv::Trim::All).from_path(path).map_err(|e| read_error(e.to_string()))?;
    let header: Vec<String> =
        reader.headers().map_err(|e| read_error(e.to_string()))?.iter().map(str::to_owned).collect();
    let mut values = Vec::new();
    let mut rows = 0;
    for record in reader.records() {
        let record = record.map_err(|e| read_error(e.to_string()))?;
        let line = record.position().map_or(0, |p| p.line());
        for (col, cell) in record.iter().enumerate() {
            let column = header.get(col).cloned().unwrap_or_else(|| format!("index {col}"));
            let cell_error =
                |message: String| DatasetError::Cell { path: path.to_owned(), line, column: column.clone(), message };
            if cell.is_empty() {
                return Err(cell_error("missing value".into()));
            }
            let v: f64 = cell.parse().map_err(|_| cell_error(format!("'{cell}' is not a number")))?;
            if !v.is_finite() {
                return Err(cell_error(format!("'{cell}' is not finite")));
            }
            // Grows with the file's cells, whose count its length bounds; a failed reservation is an error.
            values.try_reserve(1).map_err(|e| read_error(format!("cannot hold its values: {e}")))?;
            values.push(v);
        }
        rows += 1;
    }
    let table = Array2::from_shape_vec((rows, header.len()), values).map_err(|e| read_error(e.to_string()))?;
    Ok((header, table))
}

impl DataDistribution for Dataset {
    fn dim(&self) -> usize {
        self.x.ncols()
    }
    fn size(&self) -> Option<usize> {
        Some(self.rows())
    }

    /// Names the file only, not its directory: summaries must not depend on where the project is checked out.
    fn name(&self) -> String {
        let file =
            self.path.file_name().map_or_else(|| self.path.display().to_string(), |f| f.to_string_lossy().into());
        match &self.test {
            None => format!("dataset({file},rows={},d={})", self.rows(), self.dim()),
            Some((_, y)) => format!("dataset({file},rows={},test={},d={})", self.rows(), y.len(), self.dim()),
        }
    }
    fn stream(&self) -> Box<dyn DataStream + '_> {
        Box::new(DatasetStream::new(&self.x, &self.y, self.sampling))
    }
    fn holdout(&self) -> Box<dyn DataStream + '_> {
        match &self.test {
            Some((x, y)) => Box::new(DatasetStream::new(x, y, self.sampling)),
            None => self.stream(),
        }
    }
}

struct DatasetStream<'a> {
    x: &'a Array2<f64>,
    y: &'a [f64],
    sampling: Sampling,
    /// The current epoch's order (Epochs) — a permutation reshuffled in place, so no allocation per step.
    order: Vec<usize>,
    next: usize,
}

impl<'a> DatasetStream<'a> {
    fn new(x: &'a Array2<f64>, y: &'a [f64], sampling: Sampling) -> DatasetStream<'a> {
        DatasetStream { x, y, sampling, order: (0..y.len()).collect(), next: y.len() }
    }
}

impl DataStream for DatasetStream<'_> {
    fn fill(&mut self, rng: &mut Stream, x: &mut [f64], y: &mut [f64]) {
        let rows = self.y.len();
        for (xb, yb) in x.chunks_exact_mut(self.x.ncols()).zip(y.iter_mut()) {
            let row = match self.sampling {
                Sampling::WithReplacement => rng.random_range(0..rows),
                Sampling::Epochs => {
                    if self.next == rows {
                        self.order.shuffle(rng);
                        self.next = 0;
                    }
                    self.next += 1;
                    self.order[self.next - 1]
                }
            };
            for (dst, src) in xb.iter_mut().zip(self.x.row(row)) {
                *dst = *src;
            }
            *yb = self.y[row];
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use meanfield_core::{Purpose, StreamKey};
    use std::io::Write;

    fn csv_file(text: &str) -> tempfile::NamedTempFile {
        let mut file = tempfile::Builder::new().suffix(".csv").tempfile().unwrap();
        file.write_all(text.as_bytes()).unwrap();
        file
    }

    fn load(file: &tempfile::NamedTempFile, sampling: Sampling) -> Result<Dataset, DatasetError> {
        Dataset::load(file.path(), &ColumnSelection::AllExceptTarget, &Column::Name("y".into()), sampling)
    }

    #[test]
    fn epochs_visit_every_row_once() {
        let file = csv_file("a,y,b\n0,0,10\n1,1,11\n2,2,12\n3,3,13\n4,4,14\n");
        let data = load(&file, Sampling::Epochs).unwrap();
        assert_eq!(data.dim(), 2);
        let mut stream = data.stream();
        let mut rng = StreamKey::shared(1, Purpose::Data).stream();
        for _ in 0..3 {
            let (mut x, mut y) = (vec![0.0; 10], vec![0.0; 5]);
            stream.fill(&mut rng, &mut x, &mut y);
            let mut seen = y.clone();
            seen.sort_by(f64::total_cmp);
            assert_eq!(seen, [0.0, 1.0, 2.0, 3.0, 4.0]);
            for (row, label) in x.chunks(2).zip(&y) {
                assert_eq!(row, [*label, label + 10.0], "inputs stay with their label");
            }
        }
    }

    #[test]
    fn bad_cells_name_line_and_column() {
        let missing = csv_file("a,y\n1,2\n3,\n");
        let err = load(&missing, Sampling::WithReplacement).unwrap_err().to_string();
        assert!(err.ends_with(":3: column 'y': missing value"), "{err}");
        let text = csv_file("a,y\n1,2\nfoo,4\n");
        let err = load(&text, Sampling::WithReplacement).unwrap_err().to_string();
        assert!(err.ends_with(":3: column 'a': 'foo' is not a number"), "{err}");
    }

    #[test]
    fn unknown_columns_list_the_known_ones() {
        let file = csv_file("a,b\n1,2\n");
        let err = load(&file, Sampling::WithReplacement).unwrap_err().to_string();
        assert!(err.contains("unknown column 'y'; the file has columns 0:'a', 1:'b'"), "{err}");
    }

    #[test]
    fn files_without_rows_or_with_a_lying_header_are_refused_before_reading() {
        let header_only = csv_file("a,y\n");
        let err = load(&header_only, Sampling::Epochs).unwrap_err().to_string();
        assert!(err.ends_with(": has no rows, only a header line"), "{err}");
        let empty = csv_file("");
        assert!(load(&empty, Sampling::Epochs).unwrap_err().to_string().ends_with(": is empty"));
        // A valid 2 × 2 file whose header is rewritten to claim 10^9 × 10^9 values.
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("huge.npy");
        ndarray_npy::write_npy(&path, &ndarray::array![[1.0, 2.0], [3.0, 4.0]]).unwrap();
        let (small, huge) = ("(2, 2)", "(1000000000, 1000000000)");
        let bytes = std::fs::read(&path).unwrap();
        let end = bytes.iter().position(|&b| b == b'\n').unwrap() + 1;
        let text = String::from_utf8(bytes[10..end].to_vec()).unwrap();
        // The same header length: the longer shape takes the place of padding spaces.
        let padding = " ".repeat(huge.len() - small.len());
        let header = text.replacen(small, huge, 1).replacen(&format!("{padding}\n"), "\n", 1);
        let lying = [&bytes[..10], header.as_bytes(), &bytes[end..]].concat();
        std::fs::write(&path, lying).unwrap();
        let err = Dataset::load(&path, &ColumnSelection::AllExceptTarget, &Column::Index(0), Sampling::Epochs)
            .unwrap_err()
            .to_string();
        assert!(err.contains("huge.npy: its header claims shape"), "{err}");
        let err = read_configuration(&path, &[]).unwrap_err().to_string();
        assert!(err.contains("its header claims shape"), "{err}");
    }

    #[test]
    fn npy_files_are_read_by_index() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("table.npy");
        let table = ndarray::array![[1.0, 2.0, 3.0], [4.0, 5.0, 6.0]];
        ndarray_npy::write_npy(&path, &table).unwrap();
        let data = Dataset::load(
            &path,
            &ColumnSelection::Columns(vec![Column::Index(2)]),
            &Column::Index(0),
            Sampling::WithReplacement,
        )
        .unwrap();
        assert_eq!(data.x, ndarray::array![[3.0], [6.0]]);
        assert_eq!(data.y, [1.0, 4.0]);
    }

    #[test]
    fn standardized_columns_have_zero_mean_unit_variance() {
        let file = csv_file("a,y\n1,0\n2,0\n3,0\n6,0\n");
        let mut data = load(&file, Sampling::Epochs).unwrap();
        data.standardize_inputs();
        let col = data.x.column(0);
        assert!(col.sum().abs() < 1e-12);
        assert!((col.iter().map(|v| v * v).sum::<f64>() / 4.0 - 1.0).abs() < 1e-12);
    }

    #[test]
    fn held_out_rows_are_a_disjoint_seeded_split_scaled_by_the_training_rows() {
        // y = 10·a, so every row is identified by its label.
        let text = (0..10).fold(String::from("a,y\n"), |t, i| t + &format!("{i},{}\n", 10 * i));
        let file = csv_file(&text);
        let split = |seed| {
            let mut data = load(&file, Sampling::Epochs).unwrap();
            data.hold_out(0.3, &mut StreamKey::shared(seed, Purpose::Sample).stream()).unwrap();
            data
        };
        let data = split(1);
        let (test_x, test_y) = data.test.clone().unwrap();
        assert_eq!((data.rows(), test_y.len()), (7, 3));
        let mut all: Vec<f64> = data.y.iter().chain(&test_y).copied().collect();
        all.sort_by(f64::total_cmp);
        assert_eq!(all, (0..10).map(|i| f64::from(10 * i)).collect::<Vec<_>>(), "a partition of the rows");
        assert_eq!(split(1).y, data.y, "the split is a function of the seed");
        assert_ne!(split(2).y, data.y);
        // The held-out stream visits only test rows, inputs with their labels.
        let mut stream = data.holdout();
        let (mut x, mut y) = (vec![0.0; 6], vec![0.0; 6]);
        stream.fill(&mut StreamKey::shared(1, Purpose::Holdout).stream(), &mut x, &mut y);
        assert!(y.iter().all(|v| test_y.contains(v)));
        assert!(x.iter().zip(&y).all(|(a, y)| 10.0 * a == *y));
        // Standardising uses the training rows' mean and spread only.
        let mut scaled = data.clone();
        scaled.standardize_inputs();
        let (mean, inv) = moments(data.x.column(0));
        assert!(scaled.x.column(0).sum().abs() < 1e-12);
        let test_scaled = &scaled.test.as_ref().unwrap().0;
        for (raw, s) in test_x.column(0).iter().zip(test_scaled.column(0)) {
            assert!((s - (raw - mean) * inv).abs() < 1e-12);
        }
        let err =
            load(&file, Sampling::Epochs).unwrap().hold_out(0.01, &mut StreamKey::shared(1, Purpose::Sample).stream());
        assert!(err.unwrap_err().to_string().contains("leaves 0 test rows; need 1 to 9"));
    }
}
