//! The samples a study fits: the points grouped by their swept coordinates other than the width and the
//! seed, pooled by width within a group (seeds pool their replicas), and the convergence criterion that
//! leaves out the points still moving.

use super::{Convergence, StudyError};
use meanfield_core::summary::Unconverged;
use meanfield_core::{Coordinate, PointResult, SEED};

/// The coordinate path of a width sweep.
const WIDTH: &str = "width";

/// One width of a group: N, the record time used and `values[column][replica]` of the finished replicas
/// at the record nearest the study time.
pub(super) struct WidthSample {
    pub width: usize,
    /// The time of the record used (the nearest to the requested one).
    pub time: f64,
    pub values: Vec<Vec<f64>>,
    /// Whether these are the replicas of converged points (else of all the width's points, none of which
    /// converged: shown, not fitted).
    pub converged: bool,
}

/// The points that share every swept coordinate but the width and the seed.
pub(super) struct Group {
    /// `meanfield_core::label` of those coordinates; empty when nothing else is swept.
    pub label: String,
    /// By increasing width, each with at least two replicas.
    pub samples: Vec<WidthSample>,
}

/// The group label of a point.
pub(super) fn group_label(point: &PointResult) -> String {
    let others: Vec<Coordinate> =
        point.info.coordinates.iter().filter(|c| c.path != WIDTH && c.path != SEED).cloned().collect();
    meanfield_core::label(&others)
}

/// The indices of `columns` in the point's columns.
fn indices(point: &PointResult, columns: &[&str]) -> Result<Vec<usize>, StudyError> {
    columns
        .iter()
        .map(|c| {
            point
                .columns
                .iter()
                .position(|k| k == c)
                .ok_or_else(|| StudyError::MissingColumn { column: (*c).to_owned(), known: point.columns.join(", ") })
        })
        .collect()
}

/// Whether each point has converged at study time `time` (all true without a criterion), and the points
/// that have not. A point converged when the across-replica mean of the criterion's column changed by
/// less than `within` (relative to its value at t/2), or by no more than twice the standard error of that
/// change, between the records nearest t/2 and t.
pub(super) fn converged(
    points: &[PointResult],
    convergence: Option<&Convergence>,
    time: f64,
) -> Result<(Vec<bool>, Vec<Unconverged>), StudyError> {
    let Some(criterion) = convergence else { return Ok((vec![true; points.len()], Vec::new())) };
    let (mut passes, mut unconverged) = (Vec::with_capacity(points.len()), Vec::new());
    for point in points {
        let column = indices(point, &[criterion.column.as_str()])?[0];
        let finished: Vec<_> = point.replicas.iter().filter(|r| r.divergence.is_none()).collect();
        let Some(first) = finished.first() else {
            passes.push(false);
            continue;
        };
        let values = |t: f64| {
            let record = first.nearest_record(t).expect("a finished replica has records");
            finished.iter().map(|r| r.records[record].values[column]).collect::<Vec<f64>>()
        };
        let (half, end) = (values(time / 2.0), values(time));
        let r = half.len() as f64;
        let base = half.iter().sum::<f64>() / r;
        // The change of each replica, paired: a replica-to-replica spread does not hide a drift every replica
        // shares, while the steps of a stationary noisy run average out in the mean.
        let steps: Vec<f64> = end.iter().zip(&half).map(|(e, h)| e - h).collect();
        let drift = steps.iter().sum::<f64>() / r;
        let change = if drift == 0.0 { 0.0 } else { drift.abs() / base.abs() };
        // Fewer than 4 replicas give no usable standard error (two differ by chance by a factor of several).
        let noise = if half.len() < 4 {
            0.0
        } else {
            let var = steps.iter().map(|s| (s - drift).powi(2)).sum::<f64>() / (r - 1.0);
            (var / r).sqrt() / base.abs()
        };
        // Converged: the mean moved by less than `within`, or by no more than twice its standard error (a
        // stationary noisy run, whose mean at two times differs by its noise alone, passes 95% of the time;
        // a drift of more than two standard errors and more than `within` does not). NaN fails.
        let pass = change < criterion.within || change <= 2.0 * noise;
        if !pass {
            unconverged.push(Unconverged {
                column: criterion.column.clone(),
                group: group_label(point),
                time,
                width: point.info.width,
                label: point.info.label.clone(),
                change,
                noise,
            });
        }
        passes.push(pass);
    }
    Ok((passes, unconverged))
}

/// The groups of `points` with the values of `columns` at the record nearest `time`; `passes[p]` says
/// whether point p converged. Groups come in the order of their first point, widths increasing.
pub(super) fn gather(
    points: &[PointResult],
    passes: &[bool],
    columns: &[&str],
    time: f64,
) -> Result<Vec<Group>, StudyError> {
    // Per group and width: the converged points' replicas and all the points' replicas.
    struct Pools {
        width: usize,
        time: f64,
        converged: Vec<Vec<f64>>,
        all: Vec<Vec<f64>>,
    }
    let mut groups: Vec<(String, Vec<Pools>)> = Vec::new();
    for (point, &pass) in points.iter().zip(passes) {
        let indices = indices(point, columns)?;
        let finished: Vec<_> = point.replicas.iter().filter(|r| r.divergence.is_none()).collect();
        let Some(first) = finished.first() else { continue };
        let record = first.nearest_record(time).expect("a finished replica has records");
        let values: Vec<Vec<f64>> =
            indices.iter().map(|&k| finished.iter().map(|r| r.records[record].values[k]).collect()).collect();
        let label = group_label(point);
        let at = match groups.iter().position(|(l, _)| *l == label) {
            Some(at) => at,
            None => {
                groups.push((label, Vec::new()));
                groups.len() - 1
            }
        };
        let widths = &mut groups[at].1;
        let width = point.info.width;
        let pools = match widths.iter().position(|p| p.width == width) {
            Some(k) => &mut widths[k],
            None => {
                let empty = vec![Vec::new(); columns.len()];
                let time = first.records[record].time;
                widths.push(Pools { width, time, converged: empty.clone(), all: empty });
                widths.last_mut().expect("pushed")
            }
        };
        for (k, column) in values.into_iter().enumerate() {
            if pass {
                pools.converged[k].extend(&column);
            }
            pools.all[k].extend(column);
        }
    }
    let groups: Vec<Group> = groups
        .into_iter()
        .map(|(label, pools)| {
            let mut samples: Vec<WidthSample> = pools
                .into_iter()
                .map(|p| {
                    let converged = !p.converged[0].is_empty();
                    let values = if converged { p.converged } else { p.all };
                    WidthSample { width: p.width, time: p.time, values, converged }
                })
                .filter(|s| s.values[0].len() >= 2)
                .collect();
            samples.sort_by_key(|s| s.width);
            Group { label, samples }
        })
        .collect();
    if groups.iter().all(|g| g.samples.len() < 2) {
        return Err(StudyError::TooFewWidths);
    }
    Ok(groups)
}
