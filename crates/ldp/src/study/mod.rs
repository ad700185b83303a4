//! Studies (DESIGN.md §1): how an across-replica statistic of one sweep point scales with the width N.
//!
//! Each quantity is computed per width at chosen times from the finished replicas, and its log-log slope
//! against N is fitted by least squares, once per group of points that share every swept coordinate but
//! the width and the seed (`gather`). The confidence interval is a percentile bootstrap: replicas are
//! resampled with replacement within every width, the statistic recomputed and the slope refitted,
//! from a stream keyed by the seed, so the interval is reproducible. A quantity that is not positive at
//! some width (a correlation of the wrong sign) gets no fit; with a convergence criterion, the points
//! still moving over the last half of the time window are listed instead of fitted.

mod gather;
#[cfg(test)]
mod tests;

use gather::{WidthSample, converged, gather};
use meanfield_core::stats::{least_squares, quantile};
use meanfield_core::summary::{ScalingFit, StudyRow, StudySummary};
use meanfield_core::{PointResult, Purpose, StreamKey};
use rand::Rng;
use serde::{Deserialize, Serialize};

/// A statistic across replicas of the values of some columns at one record.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub enum Statistic {
    /// The mean of a column.
    Mean(String),
    /// The mean of |a − b| between two columns.
    MeanAbsDifference(String, String),
    /// N times the sample variance of a column (the CLT scale: levels off under the LLN's fluctuations).
    ScaledVariance(String),
    /// |Pearson correlation| between two columns (tagged particles: propagation of chaos).
    AbsCorrelation(String, String),
    /// The sample standard deviation (n − 1) of a column: the fluctuations of a loss around its mean.
    StdDev(String),
    /// √(mean over the columns of their sample variances): the root mean square over test points of the
    /// standard deviation of the represented function (the `yhat(…)` columns).
    RmsStdDev(Vec<String>),
}

/// The sample variance (n − 1) of `v`.
fn variance(v: &[f64]) -> f64 {
    let m = v.iter().sum::<f64>() / v.len() as f64;
    v.iter().map(|x| (x - m).powi(2)).sum::<f64>() / (v.len() as f64 - 1.0)
}

impl Statistic {
    fn columns(&self) -> Vec<&str> {
        match self {
            Statistic::Mean(a) | Statistic::ScaledVariance(a) | Statistic::StdDev(a) => vec![a],
            Statistic::MeanAbsDifference(a, b) | Statistic::AbsCorrelation(a, b) => vec![a, b],
            Statistic::RmsStdDev(columns) => columns.iter().map(String::as_str).collect(),
        }
    }

    pub fn label(&self) -> String {
        match self {
            Statistic::Mean(a) => format!("mean {a}"),
            Statistic::MeanAbsDifference(a, b) => format!("mean |{a} − {b}|"),
            Statistic::ScaledVariance(a) => format!("N·Var {a}"),
            Statistic::AbsCorrelation(a, b) => format!("|corr({a}, {b})|"),
            Statistic::StdDev(a) => format!("sd {a}"),
            // Named by the columns' common name: `yhat(0)`, `yhat(1)`, … are `rms sd yhat`.
            Statistic::RmsStdDev(columns) => {
                let first = columns.first().map_or("", |c| c.split('(').next().unwrap_or(c));
                format!("rms sd {first}")
            }
        }
    }

    /// The statistic of `values[column][replica]` (replicas picked by `pick`) at width `n`.
    fn compute(&self, values: &[Vec<f64>], pick: &[usize], n: usize) -> f64 {
        let get = |c: usize| pick.iter().map(|&r| values[c][r]).collect::<Vec<f64>>();
        let mean = |v: &[f64]| v.iter().sum::<f64>() / v.len() as f64;
        match self {
            Statistic::Mean(_) => mean(&get(0)),
            Statistic::MeanAbsDifference(..) => {
                let (a, b) = (get(0), get(1));
                a.iter().zip(&b).map(|(x, y)| (x - y).abs()).sum::<f64>() / a.len() as f64
            }
            Statistic::ScaledVariance(_) => n as f64 * variance(&get(0)),
            Statistic::StdDev(_) => variance(&get(0)).sqrt(),
            Statistic::RmsStdDev(columns) => {
                let mean_variance = (0..columns.len()).map(|c| variance(&get(c))).sum::<f64>() / columns.len() as f64;
                mean_variance.sqrt()
            }
            Statistic::AbsCorrelation(..) => {
                let (a, b) = (get(0), get(1));
                let (ma, mb) = (mean(&a), mean(&b));
                let cov: f64 = a.iter().zip(&b).map(|(x, y)| (x - ma) * (y - mb)).sum();
                let va: f64 = a.iter().map(|x| (x - ma).powi(2)).sum();
                let vb: f64 = b.iter().map(|y| (y - mb).powi(2)).sum();
                (cov / (va * vb).sqrt()).abs()
            }
        }
    }
}

/// One quantity of a study and the slope theory predicts for it.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Quantity {
    pub statistic: Statistic,
    /// The predicted log-log slope against N (for `ScaledVariance`, of N·Var: 0).
    pub expected_slope: f64,
}

/// What a study measures: quantities at times (physical, matched to the nearest record of each point).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Study {
    pub kind: String,
    pub quantities: Vec<Quantity>,
    pub times: Vec<f64>,
    pub resamples: usize,
    /// Confidence level of the intervals (0.95).
    pub level: f64,
    /// The points that enter the fits, when only converged ones do.
    #[serde(default)]
    pub convergence: Option<Convergence>,
}

/// A point enters the fits at study time t only if the across-replica mean of `column` changed by less
/// than `within` (relative) between the records nearest t/2 and t: the last half of the time window.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Convergence {
    pub column: String,
    pub within: f64,
}

/// Why a study cannot be computed from the results.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum StudyError {
    #[error("the study needs column '{column}', which the run does not record (columns: {known})")]
    MissingColumn { column: String, known: String },
    #[error("the study compares widths: the sweep must have at least two widths with two finished replicas each")]
    TooFewWidths,
}

/// Least-squares slope of log y against log x (none if some y is not positive).
fn log_log_slope(x: &[f64], y: &[f64]) -> Option<f64> {
    if y.iter().any(|v| !(*v > 0.0 && v.is_finite())) || x.len() < 2 {
        return None;
    }
    let log = |v: &[f64]| v.iter().map(|v| v.ln()).collect::<Vec<f64>>();
    Some(least_squares(&log(x), &log(y)).1)
}

impl Study {
    /// Computes the table and the fits from the results of every point.
    /// The times whose nearest records [`Study::analyse`] reads: each study time, and its half with a
    /// convergence criterion. The study reads no other record.
    pub fn record_times(&self) -> Vec<f64> {
        let halves = self.convergence.iter().flat_map(|_| self.times.iter().map(|t| t / 2.0));
        self.times.iter().copied().chain(halves).collect()
    }

    pub fn analyse(&self, points: &[PointResult], seed: u64) -> Result<StudySummary, StudyError> {
        let mut rng = StreamKey::shared(seed, Purpose::Bootstrap).stream();
        let (mut rows, mut fits, mut unconverged) = (Vec::new(), Vec::new(), Vec::new());
        let mut passes = Vec::with_capacity(self.times.len());
        for &time in &self.times {
            let (pass, left_out) = converged(points, self.convergence.as_ref(), time)?;
            passes.push(pass);
            unconverged.extend(left_out);
        }
        for quantity in &self.quantities {
            for (&time, pass) in self.times.iter().zip(&passes) {
                for group in gather(points, pass, &quantity.statistic.columns(), time)? {
                    let (group_rows, fit) = self.fit(quantity, time, &group.label, &group.samples, &mut rng);
                    rows.extend(group_rows);
                    fits.push(fit);
                }
            }
        }
        let converged_within = self.convergence.as_ref().map(|c| c.within);
        Ok(StudySummary { kind: self.kind.clone(), fits, rows, converged_within, unconverged })
    }

    /// The rows of one group's widths and the fit of its converged ones.
    fn fit(
        &self,
        quantity: &Quantity,
        time: f64,
        group: &str,
        samples: &[WidthSample],
        rng: &mut meanfield_core::rng::Stream,
    ) -> (Vec<StudyRow>, ScalingFit) {
        let statistic = &quantity.statistic;
        let fitted: Vec<usize> = (0..samples.len()).filter(|&k| samples[k].converged).collect();
        let widths: Vec<f64> = fitted.iter().map(|&k| samples[k].width as f64).collect();
        let all = |s: &WidthSample| (0..s.values[0].len()).collect::<Vec<_>>();
        let values: Vec<f64> = samples.iter().map(|s| statistic.compute(&s.values, &all(s), s.width)).collect();
        let mut replicates = vec![Vec::with_capacity(self.resamples); samples.len()];
        let mut slopes = Vec::with_capacity(self.resamples);
        let mut pick = Vec::new();
        for _ in 0..self.resamples {
            let resampled: Vec<f64> = samples
                .iter()
                .map(|s| {
                    let r = s.values[0].len();
                    pick.clear();
                    pick.extend((0..r).map(|_| rng.random_range(0..r)));
                    statistic.compute(&s.values, &pick, s.width)
                })
                .collect();
            for (list, v) in replicates.iter_mut().zip(&resampled) {
                list.push(*v);
            }
            let resampled: Vec<f64> = fitted.iter().map(|&k| resampled[k]).collect();
            if let Some(slope) = log_log_slope(&widths, &resampled) {
                slopes.push(slope);
            }
        }
        let mut rows = Vec::with_capacity(samples.len());
        for ((s, value), reps) in samples.iter().zip(&values).zip(&replicates) {
            let finite: Vec<f64> = reps.iter().copied().filter(|v| v.is_finite()).collect();
            rows.push(StudyRow {
                quantity: statistic.label(),
                group: group.to_owned(),
                time: s.time,
                width: s.width,
                replicas: s.values[0].len(),
                value: *value,
                standard_error: variance(&finite).sqrt(),
                converged: s.converged,
            });
        }
        let fitted_values: Vec<f64> = fitted.iter().map(|&k| values[k]).collect();
        let slope = log_log_slope(&widths, &fitted_values);
        let note = match slope {
            Some(_) => None,
            None if fitted.len() < 2 && fitted.len() < samples.len() => {
                Some(format!("{} of {} widths converged: a slope needs two", fitted.len(), samples.len()))
            }
            None if fitted.len() < 2 => Some("a slope needs two widths with two finished replicas each".to_owned()),
            None => Some("a value is not positive, so it has no logarithm".to_owned()),
        };
        slopes.sort_by(f64::total_cmp);
        // Only an interval most resamples agree on: with many non-positive resamples it would be
        // conditioned on the lucky ones.
        let interval = (slope.is_some() && slopes.len() * 10 >= self.resamples * 9).then(|| {
            let tail = (1.0 - self.level) / 2.0;
            (quantile(&slopes, tail), quantile(&slopes, 1.0 - tail))
        });
        let fit = ScalingFit {
            quantity: statistic.label(),
            group: group.to_owned(),
            time,
            slope,
            interval,
            expected_slope: quantity.expected_slope,
            widths_fitted: fitted.iter().map(|&k| samples[k].width).collect(),
            note,
        };
        (rows, fit)
    }
}
