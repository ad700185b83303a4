//! Summaries of a point's replicas: final values, the mean risk curve, the tagged particles' correlation and
//! the inter-layer dependence (the analyses behind `summary.ron`).

use crate::dependence::{self, DependenceColumns};
use meanfield_core::summary::{ColumnStats, DependenceCurve, PointSummary, RiskCurve, TaggedCorrelation};
use meanfield_core::{DEPENDENCE_COLUMN_PREFIX, PointResult, TAGGED_COLUMN_PREFIX};

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

/// The summary of one point: final values across its finished replicas, the mean risk curve, and the
/// tagged particles' correlation and the inter-layer dependence where their columns were recorded.
pub fn summarise_point(point: &PointResult) -> PointSummary {
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
            let mut curve = DependenceCurve {
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

/// Pearson's correlation; NaN when either sample is constant.
fn pearson(a: &[f64], b: &[f64]) -> f64 {
    let (ma, _) = mean_std(a);
    let (mb, _) = mean_std(b);
    let cov: f64 = a.iter().zip(b).map(|(x, y)| (x - ma) * (y - mb)).sum();
    let va: f64 = a.iter().map(|x| (x - ma) * (x - ma)).sum();
    let vb: f64 = b.iter().map(|y| (y - mb) * (y - mb)).sum();
    cov / (va * vb).sqrt()
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
}
