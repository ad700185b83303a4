//! The CSV time series: one row per (point, replica, record time).
//!
//! Columns: `point,label,width,seed,replica,step,time`, then one column per observable value (`risk`,
//! `mean(w)`, `hist(|w|)[0]`, …). Floats are written in the shortest form that reads back to the same
//! f64, so the file is exact.

use crate::atomic::AtomicFile;
use meanfield_core::{PointResult, Sink, SinkError};
use std::path::{Path, PathBuf};

#[derive(Debug)]
pub struct CsvTimeSeries {
    path: PathBuf,
    writer: Option<csv::Writer<AtomicFile>>,
    columns: Option<Vec<String>>,
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
        match &self.columns {
            None => {
                let header = ["point", "label", "width", "seed", "replica", "step", "time"]
                    .into_iter()
                    .map(str::to_owned)
                    .chain(point.columns.iter().cloned());
                result = writer.write_record(header);
                self.columns = Some(point.columns.clone());
            }
            Some(columns) if *columns != point.columns => {
                return Err(SinkError::Serialize {
                    what: self.path.display().to_string(),
                    message: format!(
                        "point {} has columns {:?}, earlier points {:?}",
                        point.info.index, point.columns, columns
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
                let fixed = [
                    info.index.to_string(),
                    info.label.clone(),
                    info.width.to_string(),
                    info.seed.to_string(),
                    replica.replica.to_string(),
                    record.step.to_string(),
                    record.time.to_string(),
                ];
                result = writer.write_record(fixed.into_iter().chain(record.values.iter().map(f64::to_string)));
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
