//! From a run's replicas to rate functions: the values of one column at one time across the finished
//! replicas of each sweep point form an [`Ensemble`] with N the point's width; across widths the rate
//! functions are extrapolated to N → ∞.

use crate::estimate::mean_with_band;
use crate::{
    Band, Ensemble, Estimator, LdpPoint, LdpSummary, RateFunction, RatePoint, Reliability, extrapolate, run_estimators,
};
use meanfield_core::{PointResult, Purpose, StreamKey, nearest_time};
use serde::{Deserialize, Serialize};

/// How each replica's records reduce to the one number A_N whose large deviations are estimated.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub enum Functional {
    /// The column at the record nearest this time.
    At(f64),
    /// The mean of the column over the records with time in [from, to] (a path observable).
    Average { from: f64, to: f64 },
}

impl Functional {
    /// The indices of the records that enter A_N, given the record times.
    pub fn records(&self, times: &[f64]) -> Vec<usize> {
        match *self {
            Functional::At(time) => nearest_time(times.iter().copied(), time).into_iter().collect(),
            Functional::Average { from, to } => {
                // Record times are k·η: allow for the rounding of a time written in decimal.
                let slack = 1e-9 * to.abs().max(1.0);
                (0..times.len()).filter(|&i| (from - slack..=to + slack).contains(&times[i])).collect()
            }
        }
    }

    /// A_N = Σ_m c_m a(t_m) over records at `times`: the c_m (for cloning), or the empty window's error.
    pub fn coefficients(&self, times: &[f64], point: &str) -> Result<Vec<f64>, LdpError> {
        let used = self.records(times);
        if used.is_empty() {
            return Err(self.empty_window(point));
        }
        let mut c = vec![0.0; times.len()];
        for &i in &used {
            c[i] = 1.0 / used.len() as f64;
        }
        Ok(c)
    }

    fn empty_window(&self, point: &str) -> LdpError {
        let (from, to) = match *self {
            Functional::Average { from, to } => (from, to),
            Functional::At(time) => (time, time),
        };
        // `point` is a label: empty for the one point of a run without sweep.
        let point = if point.is_empty() { "the run's only point".to_owned() } else { format!("point '{point}'") };
        LdpError::EmptyWindow { point, from, to }
    }

    fn describe(&self, column: &str) -> String {
        match self {
            Functional::At(time) => format!("{column} at t = {time}"),
            Functional::Average { from, to } => format!("time average of {column} over [{from}, {to}]"),
        }
    }
}

/// Why the estimates cannot be made.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum LdpError {
    #[error("ldp: column '{column}' is not recorded (columns: {known})")]
    MissingColumn { column: String, known: String },
    /// `point` names the point (`point 'width=5,seed=2'`).
    #[error("ldp: no record of {point} lies in [{from}, {to}]; record more often or widen the window")]
    EmptyWindow { point: String, from: f64, to: f64 },
}

/// Runs the `estimators` on the `functional` of `column` for every point (points with fewer than two
/// finished replicas are skipped). Their randomness (the bootstrap) comes from the seed's `Bootstrap`
/// stream, so results are reproducible.
pub fn analyse(
    points: &[PointResult],
    column: &str,
    functional: Functional,
    disorder: Disorder,
    estimators: &[Box<dyn Estimator>],
    seed: u64,
) -> Result<LdpSummary, LdpError> {
    let mut rng = StreamKey::shared(seed, Purpose::Bootstrap).stream();
    let mut out = Vec::new();
    for point in points {
        let k = point
            .columns
            .iter()
            .position(|c| c == column)
            .ok_or_else(|| LdpError::MissingColumn { column: column.to_owned(), known: point.columns.join(", ") })?;
        let finished: Vec<_> = point.replicas.iter().filter(|r| r.divergence.is_none()).collect();
        let Some(first) = finished.first().filter(|_| finished.len() >= 2) else { continue };
        let times: Vec<f64> = first.records.iter().map(|r| r.time).collect();
        let records = functional.records(&times);
        let Some(&last) = records.last() else { return Err(functional.empty_window(&point.info.label)) };
        // Replicas of a point share their record times, so one replica's indices serve all.
        let values = finished
            .iter()
            .map(|r| records.iter().map(|&i| r.records[i].values[k]).sum::<f64>() / records.len() as f64)
            .collect();
        // Replicas drawn from a tilted initial law carry their likelihood ratios.
        let sample = if finished.iter().any(|r| r.log_weight != 0.0) {
            Ensemble::weighted(point.info.width, values, finished.iter().map(|r| r.log_weight).collect())
        } else {
            Ensemble::new(point.info.width, values)
        };
        let estimate = run_estimators(estimators, &sample, &mut rng);
        out.push(LdpPoint {
            label: point.info.label.clone(),
            width: point.info.width,
            seed: point.info.seed,
            time: first.records[last].time,
            rate_function: estimate.rate_function,
            direct: estimate.direct,
        });
    }
    Ok(summarise(column, functional, disorder, out))
}

/// The summary of per-point rate functions (from replicas or from cloning populations): for a quenched
/// run the configuration averages, and the extrapolation across widths.
pub fn summarise(column: &str, functional: Functional, disorder: Disorder, out: Vec<LdpPoint>) -> LdpSummary {
    let quenched = match disorder {
        Disorder::Annealed => Vec::new(),
        Disorder::Quenched => configuration_averages(&out),
    };
    // The quenched rate function is that of typical configurations: extrapolate their average.
    let curves = if quenched.is_empty() { &out } else { &quenched };
    let common = curves
        .iter()
        .map(|p| p.rate_function.reliable_range())
        .try_fold((f64::NEG_INFINITY, f64::INFINITY), |(lo, hi), range| range.map(|(l, h)| (lo.max(l), hi.min(h))));
    let widths: std::collections::BTreeSet<usize> = curves.iter().map(|p| p.width).collect();
    let extrapolation = match common {
        Some((lo, hi)) if lo < hi && widths.len() >= 2 => {
            let grid: Vec<f64> = (0..21).map(|i| lo + (hi - lo) * i as f64 / 20.0).collect();
            let curves: Vec<RateFunction> = curves.iter().map(|p| p.rate_function.clone()).collect();
            extrapolate(&curves, &grid)
        }
        _ => Vec::new(),
    };
    LdpSummary {
        column: column.to_owned(),
        observable: functional.describe(column),
        ensemble: format!("{disorder:?}"),
        points: out,
        quenched,
        extrapolation,
    }
}

/// How the replicas of a point drew their initial weights (the executor's ensemble).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub enum Disorder {
    /// Each replica its own: the estimates are those of the annealed LDP.
    Annealed,
    /// One configuration per point, shared by its replicas: each point's estimate is the quenched LDP of
    /// that configuration.
    Quenched,
}

/// A point's label without its seed (`width=5,seed=2` → `width=5`): what the configurations of one
/// quenched point share. Coordinates are `path=value` joined by commas (`meanfield_core::label`).
fn without_seed(label: &str) -> String {
    let seed = format!("{}=", meanfield_core::SEED);
    label.split(',').filter(|c| !c.starts_with(&seed)).collect::<Vec<_>>().join(",")
}

/// The quenched SCGF of a typical configuration, E_θ0 Λ_N(k; θ0) (the quenched "free energy" E log Z, as
/// against the annealed log E Z), estimated over the points that differ only in their seed (one
/// configuration each). Each configuration's curve is first aligned at its own typical value m(θ0) = Λ'(0)
/// and the aligned curves are averaged around the mean location m̄: the O(N^(−½)) scatter of m(θ0) across
/// configurations is not a large deviation, but its linear term k·m(θ0) would otherwise swamp the average
/// and its band. So Λ(k) = k m̄ + mean[Λ(k; θ0) − k m(θ0)], a = m̄ + mean[Λ'(k; θ0) − m(θ0)], and the rate
/// k a − Λ(k) is the mean of the configurations' rates at k, with band mean ± Student's t quantile × the standard error across
/// configurations. A k is reliable where it is for every configuration. By Jensen's inequality, with
/// E m(θ0) the annealed mean, the aligned annealed SCGF lies above this one at every N and k, so the
/// annealed rate function lies below the quenched one.
fn configuration_averages(points: &[LdpPoint]) -> Vec<LdpPoint> {
    let mut labels: Vec<String> = Vec::new();
    for point in points {
        let label = without_seed(&point.label);
        if !labels.contains(&label) {
            labels.push(label);
        }
    }
    labels
        .into_iter()
        .filter_map(|label| {
            let group: Vec<&LdpPoint> = points.iter().filter(|p| without_seed(&p.label) == label).collect();
            let m = group.len();
            (m >= 2).then(|| {
                let first = &group[0].rate_function;
                let typical: Vec<f64> = group.iter().map(|p| p.rate_function.typical_value()).collect();
                let location = typical.iter().sum::<f64>() / m as f64;
                let rate_points = (0..first.points.len())
                    .map(|j| {
                        let at = |f: &dyn Fn(&RatePoint, f64) -> f64| -> (f64, Band) {
                            let values: Vec<f64> =
                                group.iter().zip(&typical).map(|(p, &m)| f(&p.rate_function.points[j], m)).collect();
                            mean_with_band(&values, 0.95)
                        };
                        let k = first.points[j].k;
                        let (scgf, scgf_band) = at(&|p, m| k * location + p.scgf - k * m);
                        let (slope, _) = at(&|p, m| location + p.slope - m);
                        let (rate, rate_band) = at(&|p, _| p.rate);
                        let worst = group
                            .iter()
                            .map(|p| p.rate_function.points[j].reliability)
                            .find(|r| *r != Reliability::Reliable)
                            .unwrap_or(Reliability::Reliable);
                        let effective = group
                            .iter()
                            .map(|p| p.rate_function.points[j].effective_sample_size)
                            .fold(f64::INFINITY, f64::min);
                        RatePoint {
                            k,
                            scgf,
                            slope,
                            rate,
                            scgf_band,
                            rate_band,
                            effective_sample_size: effective,
                            reliability: worst,
                        }
                    })
                    .collect();
                LdpPoint {
                    direct: Vec::new(),
                    label: if label.is_empty() {
                        format!("mean of {m} configurations")
                    } else {
                        format!("{label} (mean of {m} configurations)")
                    },
                    width: group[0].width,
                    seed: group[0].seed,
                    time: group[0].time,
                    rate_function: RateFunction {
                        particles: first.particles,
                        replicas: group.iter().map(|p| p.rate_function.replicas).sum(),
                        points: rate_points,
                    },
                }
            })
        })
        .collect()
}
