//! `timeseries.jsonl`: the records of the time series as JSON lines, one object per (point, replica,
//! record), written as each point arrives:
//!
//! `{"point":0,"label":"width=16","width":16,"seed":1,"replica":0,"step":0,"time":0.0,"values":{"risk":0.51,…}}`
//!
//! A swept coordinate other than the width and the seed is a field named by its path, after `seed`
//! (`"dynamics.step":0.5`), as in the CSV. `values` keeps the column order of `timeseries.csv`. JSON has
//! no NaN or infinity: non-finite values are written as `null`. Finite floats are written in their
//! shortest round-trip form, as in the CSV.

use crate::atomic::AtomicFile;
use crate::timeseries::extra_coordinates;
use meanfield_core::{Coordinate, PointResult, Sink, SinkError};
use serde::Serialize;
use std::io::{BufWriter, Write};
use std::path::{Path, PathBuf};

#[derive(Debug)]
pub struct JsonLines {
    path: PathBuf,
    writer: Option<BufWriter<AtomicFile>>,
}

impl JsonLines {
    pub fn create(path: &Path) -> Result<JsonLines, SinkError> {
        Ok(JsonLines { path: path.to_owned(), writer: Some(BufWriter::new(AtomicFile::create(path)?)) })
    }
}

#[derive(Serialize)]
struct Line<'a> {
    point: usize,
    label: &'a str,
    width: usize,
    seed: u64,
    #[serde(flatten)]
    coordinates: Coordinates<'a>,
    replica: usize,
    step: u64,
    time: f64,
    values: Values<'a>,
}

/// The swept coordinates of a point as fields named by their paths.
struct Coordinates<'a>(Vec<&'a Coordinate>);

impl Serialize for Coordinates<'_> {
    fn serialize<S: serde::Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        use serde::ser::SerializeMap;
        let mut map = serializer.serialize_map(Some(self.0.len()))?;
        for coordinate in &self.0 {
            map.serialize_entry(&coordinate.path, &coordinate.value)?;
        }
        map.end()
    }
}

/// The columns and values of one record as a JSON object in column order.
struct Values<'a> {
    columns: &'a [String],
    values: &'a [f64],
}

impl Serialize for Values<'_> {
    fn serialize<S: serde::Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        use serde::ser::SerializeMap;
        let mut map = serializer.serialize_map(Some(self.columns.len()))?;
        for (column, value) in self.columns.iter().zip(self.values) {
            map.serialize_entry(column, &value.is_finite().then_some(*value))?;
        }
        map.end()
    }
}

impl Sink for JsonLines {
    fn point(&mut self, point: &PointResult) -> Result<(), SinkError> {
        let writer = self.writer.as_mut().expect("point() after finish()");
        let info = &point.info;
        for replica in &point.replicas {
            for record in &replica.records {
                let line = Line {
                    point: info.index,
                    label: &info.label,
                    width: info.width,
                    seed: info.seed,
                    coordinates: Coordinates(extra_coordinates(info).collect()),
                    replica: replica.replica,
                    step: record.step,
                    time: record.time,
                    values: Values { columns: &point.columns, values: &record.values },
                };
                serde_json::to_writer(&mut *writer, &line).map_err(|e| SinkError::io(&self.path, e.into()))?;
                writer.write_all(b"\n").map_err(|e| SinkError::io(&self.path, e))?;
            }
        }
        Ok(())
    }

    fn finish(&mut self) -> Result<Vec<PathBuf>, SinkError> {
        let writer = self.writer.take().expect("finish() once");
        let file = writer.into_inner().map_err(|e| SinkError::io(&self.path, e.into_error()))?;
        Ok(vec![file.commit()?])
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use meanfield_core::{CoordinateValue, PointInfo, Record, ReplicaResult};

    #[test]
    fn one_object_per_record_with_its_coordinates_and_null_for_non_finite_values() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("timeseries.jsonl");
        let mut sink = JsonLines::create(&path).unwrap();
        let info = PointInfo {
            index: 0,
            label: "width=8,data.noise=0.5,seed=1".into(),
            coordinates: [
                ("width", CoordinateValue::Whole(8)),
                ("data.noise", CoordinateValue::Real(0.5)),
                ("seed", CoordinateValue::Whole(1)),
            ]
            .map(|(path, value)| Coordinate { path: path.into(), value })
            .into(),
            width: 8,
            seed: 1,
            replicas: 1,
            steps: 2,
            step_size: 0.1,
            time_per_step: 0.1,
            final_time: 0.2,
            model: String::new(),
            data: String::new(),
            dynamics: String::new(),
        };
        let records = vec![
            Record { step: 0, time: 0.0, values: vec![0.1 + 0.2, f64::NAN] },
            Record { step: 2, time: 0.2, values: vec![0.25, 1.0] },
        ];
        let replica = ReplicaResult { replica: 0, records, divergence: None, log_weight: 0.0, particles: Vec::new() };
        sink.point(&PointResult { info, columns: vec!["risk".into(), "m".into()], replicas: vec![replica] }).unwrap();
        sink.finish().unwrap();
        let text = std::fs::read_to_string(&path).unwrap();
        let lines: Vec<&str> = text.lines().collect();
        assert_eq!(
            lines[0],
            r#"{"point":0,"label":"width=8,data.noise=0.5,seed=1","width":8,"seed":1,"data.noise":0.5,"replica":0,"step":0,"time":0.0,"values":{"risk":0.30000000000000004,"m":null}}"#
        );
        assert_eq!(lines.len(), 2);
    }
}
