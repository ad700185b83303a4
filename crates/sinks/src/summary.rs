//! The RON summary of a run: per point, the resolved parameters, divergences, final values across
//! replicas, and the mean risk curve. It holds no timings, so it is byte-identical between runs of the
//! same scenario and seed, whatever the thread count; snapshot tests compare it.

use crate::atomic::AtomicFile;
use meanfield_core::{Divergence, PointInfo, PointResult, Sink, SinkError};

/// Columns of the tagged-particles observable start with this (see `meanfield_dynamics::Tagged`; the
/// sinks do not depend on dynamics, so the convention is written in both places and tested end to end).
const TAGGED_COLUMN_PREFIX: &str = "tag(";
/// Likewise for `meanfield_dynamics::LayerDependence`.
const DEPENDENCE_COLUMN_PREFIX: &str = "dep(";
use crate::dependence::{self, DependenceColumns, LayerDependence};
use crate::study::StudySummary;
use serde::{Deserialize, Serialize};
use std::path::{Path, PathBuf};

/// Across-replica statistics of one column at the final record time (finished replicas only).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ColumnStats {
    pub column: String,
    pub mean: f64,
    /// Sample standard deviation (n − 1); 0 with a single replica.
    pub std: f64,
    pub min: f64,
    pub max: f64,
}

/// The risk averaged over finished replicas at every record time.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct RiskCurve {
    pub time: Vec<f64>,
    pub mean: Vec<f64>,
    pub std: Vec<f64>,
}

/// The Pearson correlation across finished replicas of two tagged particles' statistic (the first two
/// columns starting with `tag(`), at every record time. Under propagation of chaos it is 0 at t = 0 (up
/// to its sampling error ≈ 1/√replicas) and O(1/N) later.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct TaggedCorrelation {
    pub columns: (String, String),
    pub time: Vec<f64>,
    pub correlation: Vec<f64>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct PointSummary {
    pub info: PointInfo,
    pub finished: usize,
    pub diverged: Vec<Divergence>,
    #[serde(rename = "final")]
    pub final_values: Vec<ColumnStats>,
    pub risk: Option<RiskCurve>,
    /// Only with a `Tagged` observable (left out of the file otherwise, so older summaries still read).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub tagged_correlation: Option<TaggedCorrelation>,
    /// Only with a `LayerDependence` observable.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub layer_dependence: Option<LayerDependence>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Summary {
    pub scenario: String,
    pub version: String,
    pub points: Vec<PointSummary>,
    /// Only for a scenario with a `study`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub study: Option<StudySummary>,
    /// Only for a scenario with an `ldp` section.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub ldp: Option<meanfield_ldp::LdpSummary>,
}

fn mean_std(values: &[f64]) -> (f64, f64) {
    let n = values.len() as f64;
    // Equal values (a limit's column, the same for every replica) have no spread; their rounded mean
    // would otherwise show one of ~1e-18.
    if values.windows(2).all(|w| w[0] == w[1]) {
        return (values.first().copied().unwrap_or(f64::NAN), 0.0);
    }
    let mean = values.iter().sum::<f64>() / n;
    let std = if values.len() > 1 {
        (values.iter().map(|v| (v - mean).powi(2)).sum::<f64>() / (n - 1.0)).sqrt()
    } else {
        0.0
    };
    (mean, std)
}

impl PointSummary {
    pub fn from_point(point: &PointResult) -> PointSummary {
        let finished: Vec<_> = point.replicas.iter().filter(|r| r.divergence.is_none()).collect();
        let diverged = point.replicas.iter().filter_map(|r| r.divergence.clone()).collect();
        let final_values = if finished.is_empty() {
            Vec::new()
        } else {
            point
                .columns
                .iter()
                .enumerate()
                .map(|(k, column)| {
                    let values: Vec<f64> =
                        finished.iter().map(|r| r.records.last().map_or(f64::NAN, |rec| rec.values[k])).collect();
                    let (mean, std) = mean_std(&values);
                    ColumnStats {
                        column: column.clone(),
                        mean,
                        std,
                        min: values.iter().copied().fold(f64::INFINITY, f64::min),
                        max: values.iter().copied().fold(f64::NEG_INFINITY, f64::max),
                    }
                })
                .collect()
        };
        let risk = point.columns.iter().position(|c| c == "risk").filter(|_| !finished.is_empty()).map(|k| {
            let records = &finished[0].records;
            let mut curve = RiskCurve { time: Vec::new(), mean: Vec::new(), std: Vec::new() };
            for (j, record) in records.iter().enumerate() {
                let values: Vec<f64> = finished.iter().map(|r| r.records[j].values[k]).collect();
                let (mean, std) = mean_std(&values);
                curve.time.push(record.time);
                curve.mean.push(mean);
                curve.std.push(std);
            }
            curve
        });
        let tagged: Vec<usize> =
            (0..point.columns.len()).filter(|&k| point.columns[k].starts_with(TAGGED_COLUMN_PREFIX)).take(2).collect();
        let tagged_correlation = match tagged[..] {
            [a, b] if finished.len() >= 2 => {
                let records = &finished[0].records;
                let correlation = (0..records.len())
                    .map(|j| {
                        let values = |k: usize| finished.iter().map(|r| r.records[j].values[k]).collect::<Vec<_>>();
                        pearson(&values(a), &values(b))
                    })
                    .collect();
                Some(TaggedCorrelation {
                    columns: (point.columns[a].clone(), point.columns[b].clone()),
                    time: records.iter().map(|r| r.time).collect(),
                    correlation,
                })
            }
            _ => None,
        };
        let layer_dependence = DependenceColumns::find(&point.columns, DEPENDENCE_COLUMN_PREFIX)
            .filter(|_| !finished.is_empty())
            .map(|cols| {
                let records = &finished[0].records;
                let mut curve = LayerDependence {
                    blocks: cols.blocks.clone(),
                    time: Vec::new(),
                    dependence: Vec::new(),
                    standard_error: Vec::new(),
                    null_level: Vec::new(),
                };
                for (j, record) in records.iter().enumerate() {
                    let gather = |ks: &[usize]| {
                        finished.iter().flat_map(|r| ks.iter().map(|&k| r.records[j].values[k])).collect::<Vec<_>>()
                    };
                    let (a, b) = (gather(&cols.first.0), gather(&cols.second.0));
                    let (self_a, self_b) = (gather(&[cols.first.1]), gather(&[cols.second.1]));
                    let (value, se, null) = dependence::estimate(&dependence::Sample {
                        a: &a,
                        da: cols.first.0.len(),
                        b: &b,
                        db: cols.second.0.len(),
                        self_a: &self_a,
                        self_b: &self_b,
                    });
                    curve.time.push(record.time);
                    curve.dependence.push(value);
                    curve.standard_error.push(se);
                    curve.null_level.push(null);
                }
                curve
            });
        PointSummary {
            info: point.info.clone(),
            finished: finished.len(),
            diverged,
            final_values,
            risk,
            tagged_correlation,
            layer_dependence,
        }
    }
}

/// Pearson's correlation; NaN when either sample is constant.
fn pearson(a: &[f64], b: &[f64]) -> f64 {
    let (ma, _) = mean_std(a);
    let (mb, _) = mean_std(b);
    let cov: f64 = a.iter().zip(b).map(|(x, y)| (x - ma) * (y - mb)).sum();
    let va: f64 = a.iter().map(|x| (x - ma) * (x - ma)).sum();
    let vb: f64 = b.iter().map(|y| (y - mb) * (y - mb)).sum();
    cov / (va * vb).sqrt()
}

/// Rounds to `digits` significant digits (for snapshots that must survive last-bit differences between
/// platforms' libm).
pub fn round_significant(v: f64, digits: usize) -> f64 {
    if !v.is_finite() || v == 0.0 {
        return v;
    }
    format!("{:.*e}", digits.saturating_sub(1), v).parse().unwrap_or(v)
}

impl Summary {
    pub fn to_ron(&self) -> Result<String, SinkError> {
        let config = ron::ser::PrettyConfig::new().depth_limit(4).separate_tuple_members(false);
        ron::ser::to_string_pretty(self, config)
            .map(|s| s + "\n")
            .map_err(|e| SinkError::Serialize { what: "summary".into(), message: e.to_string() })
    }

    pub fn read(path: &Path) -> Result<Summary, String> {
        let text = std::fs::read_to_string(path).map_err(|e| format!("{}: {e}", path.display()))?;
        ron::from_str(&text).map_err(|e| format!("{}: {e}", path.display()))
    }

    /// A copy with every float rounded to `digits` significant digits.
    pub fn rounded(&self, digits: usize) -> Summary {
        let r = |v: f64| round_significant(v, digits);
        let rv = |v: &[f64]| v.iter().map(|v| r(*v)).collect::<Vec<_>>();
        let mut out = self.clone();
        for p in &mut out.points {
            p.info.step_size = r(p.info.step_size);
            p.info.time_per_step = r(p.info.time_per_step);
            p.info.final_time = r(p.info.final_time);
            for d in &mut p.diverged {
                d.time = r(d.time);
            }
            for s in &mut p.final_values {
                (s.mean, s.std, s.min, s.max) = (r(s.mean), r(s.std), r(s.min), r(s.max));
            }
            if let Some(curve) = &mut p.risk {
                (curve.time, curve.mean, curve.std) = (rv(&curve.time), rv(&curve.mean), rv(&curve.std));
            }
            if let Some(curve) = &mut p.tagged_correlation {
                (curve.time, curve.correlation) = (rv(&curve.time), rv(&curve.correlation));
            }
            if let Some(c) = &mut p.layer_dependence {
                (c.time, c.dependence) = (rv(&c.time), rv(&c.dependence));
                (c.standard_error, c.null_level) = (rv(&c.standard_error), rv(&c.null_level));
            }
        }
        if let Some(study) = &mut out.study {
            for fit in &mut study.fits {
                fit.slope = fit.slope.map(r);
                fit.interval = fit.interval.map(|(a, b)| (r(a), r(b)));
            }
            for row in &mut study.rows {
                (row.value, row.standard_error) = (r(row.value), r(row.standard_error));
            }
        }
        if let Some(ldp) = &mut out.ldp {
            for point in ldp.points.iter_mut().chain(&mut ldp.quenched) {
                point.time = r(point.time);
                for p in &mut point.rate_function.points {
                    (p.k, p.scgf, p.slope, p.rate) = (r(p.k), r(p.scgf), r(p.slope), r(p.rate));
                    (p.scgf_band.low, p.scgf_band.high) = (r(p.scgf_band.low), r(p.scgf_band.high));
                    (p.rate_band.low, p.rate_band.high) = (r(p.rate_band.low), r(p.rate_band.high));
                    p.effective_sample_size = r(p.effective_sample_size);
                }
                for bin in &mut point.direct {
                    (bin.value, bin.rate) = (r(bin.value), r(bin.rate));
                }
            }
            for e in &mut ldp.extrapolation {
                (e.value, e.limit, e.correction) = (r(e.value), r(e.limit), r(e.correction));
            }
        }
        out
    }
}

/// Collects point summaries and writes `summary.ron` at the end.
#[derive(Debug)]
pub struct SummarySink {
    path: PathBuf,
    summary: Summary,
}

impl SummarySink {
    pub fn new(path: &Path, scenario: &str, version: &str) -> SummarySink {
        SummarySink {
            path: path.to_owned(),
            summary: Summary {
                scenario: scenario.to_owned(),
                version: version.to_owned(),
                points: Vec::new(),
                study: None,
                ldp: None,
            },
        }
    }

    pub fn summary(&self) -> &Summary {
        &self.summary
    }

    pub fn set_study(&mut self, study: StudySummary) {
        self.summary.study = Some(study);
    }

    pub fn set_ldp(&mut self, ldp: meanfield_ldp::LdpSummary) {
        self.summary.ldp = Some(ldp);
    }
}

impl Sink for SummarySink {
    fn point(&mut self, point: &PointResult) -> Result<(), SinkError> {
        self.summary.points.push(PointSummary::from_point(point));
        Ok(())
    }
    fn finish(&mut self) -> Result<Vec<PathBuf>, SinkError> {
        Ok(vec![AtomicFile::write_all(&self.path, self.summary.to_ron()?.as_bytes())?])
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn pearson_matches_a_hand_computation() {
        assert!((pearson(&[1.0, 2.0, 3.0], &[2.0, 4.0, 6.5]) - 0.997_948_715_788_673_3).abs() < 1e-12);
        assert!((pearson(&[1.0, 2.0, 3.0], &[3.0, 2.0, 1.0]) + 1.0).abs() < 1e-15);
        assert!(pearson(&[1.0, 1.0], &[1.0, 2.0]).is_nan());
    }

    #[test]
    fn rounding_keeps_significant_digits() {
        assert_eq!(round_significant(0.012345678, 4), 0.01235);
        assert_eq!(round_significant(-98765.4321, 3), -98800.0);
        assert!(round_significant(f64::NAN, 3).is_nan());
    }
}
