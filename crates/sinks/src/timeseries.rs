//! The CSV time series: one row per (point, replica, record time).
//!
//! Columns: `point,label,width,seed`, then one column per swept coordinate other than the width and the
//! seed, named by its path (`dynamics.step`, `data.noise`), then `replica,step,time` and one column per
//! observable value (`risk`, `mean(w)`, `hist(|w|)[0]`, …). Floats are written in the shortest form that
//! reads back to the same f64, so the file is exact.

use crate::atomic::AtomicFile;
use meanfield_core::{Coordinate, PointInfo, PointResult, SEED, Sink, SinkError};
use std::path::{Path, PathBuf};

#[derive(Debug)]
pub struct CsvTimeSeries {
    path: PathBuf,
    writer: Option<csv::Writer<AtomicFile>>,
    /// The coordinate and observable columns of the first point, which every point must have.
    columns: Option<(Vec<String>, Vec<String>)>,
}

/// The coordinates that get their own column: all but the width and the seed, which always have one.
pub(crate) fn extra_coordinates(info: &PointInfo) -> impl Iterator<Item = &Coordinate> {
    info.coordinates.iter().filter(|c| c.path != "width" && c.path != SEED)
}

impl CsvTimeSeries {
    pub fn create(path: &Path) -> Result<CsvTimeSeries, SinkError> {
        let file = AtomicFile::create(path)?;
        Ok(CsvTimeSeries { path: path.to_owned(), writer: Some(csv::Writer::from_writer(file)), columns: None })
    }

    fn csv_error(&self, e: csv::Error) -> SinkError {
        SinkError::io(&self.path, std::io::Error::other(e))
    }
}

impl Sink for CsvTimeSeries {
    fn point(&mut self, point: &PointResult) -> Result<(), SinkError> {
        let writer = self.writer.as_mut().expect("point() after finish()");
        let mut result = Ok(());
        let coordinates: Vec<String> = extra_coordinates(&point.info).map(|c| c.path.clone()).collect();
        match &self.columns {
            None => {
                let header = ["point", "label", "width", "seed"]
                    .into_iter()
                    .map(str::to_owned)
                    .chain(coordinates.iter().cloned())
                    .chain(["replica", "step", "time"].map(str::to_owned))
                    .chain(point.columns.iter().cloned());
                result = writer.write_record(header);
                self.columns = Some((coordinates, point.columns.clone()));
            }
            Some((swept, columns)) if *columns != point.columns || *swept != coordinates => {
                return Err(SinkError::Serialize {
                    what: self.path.display().to_string(),
                    message: format!(
                        "{} has columns {:?}, earlier points {:?}",
                        point.info.describe(),
                        [coordinates, point.columns.clone()].concat(),
                        [swept.clone(), columns.clone()].concat()
                    ),
                });
            }
            Some(_) => {}
        }
        let info = &point.info;
        for replica in &point.replicas {
            for record in &replica.records {
                if result.is_err() {
                    break;
                }
                let point_columns =
                    [info.index.to_string(), info.label.clone(), info.width.to_string(), info.seed.to_string()];
                let record_columns = [replica.replica.to_string(), record.step.to_string(), record.time.to_string()];
                let row = point_columns
                    .into_iter()
                    .chain(extra_coordinates(info).map(|c| c.value.to_string()))
                    .chain(record_columns)
                    .chain(record.values.iter().map(f64::to_string));
                result = writer.write_record(row);
            }
        }
        result.map_err(|e| self.csv_error(e))
    }

    fn finish(&mut self) -> Result<Vec<PathBuf>, SinkError> {
        let writer = self.writer.take().expect("finish() once");
        let file = writer.into_inner().map_err(|e| SinkError::io(&self.path, std::io::Error::other(e.to_string())))?;
        Ok(vec![file.commit()?])
    }
}
