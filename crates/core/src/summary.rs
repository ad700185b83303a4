//! The plain records that a run's analyses return and the sinks write (`summary.ron`, `summary.json`,
//! `study.csv`, `ldp.csv`): per point the final values across replicas and the risk curve, the tagged
//! particles' correlation and the inter-layer dependence; the study's scaling fits; the large-deviation
//! estimates. Analyses (`meanfield-ldp`) fill them; the sinks (`meanfield-sinks`) only write them.

use crate::results::{Divergence, PointInfo};
use serde::{Deserialize, Serialize};

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
    pub layer_dependence: Option<DependenceCurve>,
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
    pub ldp: Option<LdpSummary>,
}

/// The dependence curve of one point.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct DependenceCurve {
    /// The two blocks whose particles are compared, e.g. ("w", "c").
    pub blocks: (String, String),
    pub time: Vec<f64>,
    pub dependence: Vec<f64>,
    pub standard_error: Vec<f64>,
    pub null_level: Vec<f64>,
}

/// One row of the study table: a quantity at one time and width, in one group of the sweep.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct StudyRow {
    pub quantity: String,
    /// The swept coordinates other than the width and the seed that the row's points share
    /// (`dynamics.batch.exponent=1`), empty when the sweep has no others.
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub group: String,
    /// The time of the records used: the record nearest the requested time.
    pub time: f64,
    pub width: usize,
    pub replicas: usize,
    pub value: f64,
    /// The bootstrap standard deviation of the value.
    pub standard_error: f64,
    /// False when no point of this width had converged (see [`StudySummary::unconverged`]): the row is
    /// shown, from all its points, but not fitted.
    #[serde(default = "yes", skip_serializing_if = "is_true")]
    pub converged: bool,
}

fn yes() -> bool {
    true
}

fn is_true(v: &bool) -> bool {
    *v
}

/// The fitted log-log slope of a quantity at one time, in one group of the sweep.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ScalingFit {
    pub quantity: String,
    /// As [`StudyRow::group`].
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub group: String,
    pub time: f64,
    pub slope: Option<f64>,
    /// The bootstrap percentile interval of the slope.
    pub interval: Option<(f64, f64)>,
    pub expected_slope: f64,
    /// The widths the fit used: those with two finished replicas, of converged points where the study has a
    /// convergence criterion.
    #[serde(default)]
    pub widths_fitted: Vec<usize>,
    /// Why there is no slope, when there is none.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub note: Option<String>,
}

/// A point left out of a study's fits: the across-replica mean of `column` changed by `change`
/// (relative, |m(t) − m(t/2)| / |m(t/2)|) between the records nearest t/2 and t, more than the study's
/// `converged_within`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Unconverged {
    pub column: String,
    pub group: String,
    /// The study time t asked for.
    pub time: f64,
    pub width: usize,
    /// The point's label.
    pub label: String,
    /// The relative change of the across-replica mean over the last half of the time window.
    pub change: f64,
    /// The standard error of `change` from the spread of the replicas' own changes (0 with fewer than 4).
    #[serde(default)]
    pub noise: f64,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct StudySummary {
    pub kind: String,
    pub fits: Vec<ScalingFit>,
    pub rows: Vec<StudyRow>,
    /// The convergence criterion, for the studies that have one (`ErrorScaling`, `FluctuationScaling`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub converged_within: Option<f64>,
    /// The points the criterion left out, at each study time.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub unconverged: Vec<Unconverged>,
}

/// The large-deviation estimates of a run.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct LdpSummary {
    pub column: String,
    /// What A_N is, in words (e.g. "mean(c) at t = 0").
    pub observable: String,
    pub ensemble: String,
    pub points: Vec<LdpPoint>,
    /// Quenched runs only: per label, the mean over its configurations (the points that differ only in
    /// their seed) of the quenched SCGF, with its rate function: the estimate for typical configurations.
    #[serde(default)]
    pub quenched: Vec<LdpPoint>,
    /// I_N = I + c/N across the points' widths, on 21 values of A inside every point's reliable range
    /// (empty with fewer than two widths or no common range).
    pub extrapolation: Vec<Extrapolation>,
}

/// The rate function of one sweep point.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct LdpPoint {
    pub label: String,
    pub width: usize,
    /// The point's seed (in a quenched run, which configuration); that of the first for an average.
    #[serde(default)]
    pub seed: u64,
    /// The time of the (last) record used: the nearest to the requested one.
    pub time: f64,
    pub rate_function: RateFunction,
    /// The direct estimator's bins, when asked for (replicas only).
    #[serde(default)]
    pub direct: Vec<HistogramPoint>,
}

#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct Band {
    pub low: f64,
    pub high: f64,
}

impl Band {
    pub fn contains(&self, v: f64) -> bool {
        self.low <= v && v <= self.high
    }
}

/// Why a point is or is not trusted.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub enum Reliability {
    Reliable,
    /// The tilted law reaches beyond the `margin`-th most extreme replica: Λ̂ is biased, then linear.
    OutsideSample,
    /// Too few replicas carry the tilted average.
    FewEffective,
}

/// The estimate at one k.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct RatePoint {
    pub k: f64,
    pub scgf: f64,
    /// Λ̂'(k): the value a of A that this k describes.
    pub slope: f64,
    /// I(a) = k a − Λ̂(k).
    pub rate: f64,
    pub scgf_band: Band,
    pub rate_band: Band,
    pub effective_sample_size: f64,
    pub reliability: Reliability,
}

impl RatePoint {
    pub fn reliable(&self) -> bool {
        self.reliability == Reliability::Reliable
    }
}

/// The rate function of one ensemble.
#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize)]
pub struct RateFunction {
    pub particles: usize,
    pub replicas: usize,
    pub points: Vec<RatePoint>,
}

impl RateFunction {
    /// The numeric Legendre–Fenchel transform sup_k [k a − Λ̂(k)] over the reliable points, at `a`.
    pub fn legendre(&self, a: f64) -> Option<f64> {
        self.points.iter().filter(|p| p.reliable()).map(|p| p.k * a - p.scgf).reduce(f64::max)
    }

    /// The typical value of A (the zero of the rate function): the tilted mean at the k nearest 0.
    pub fn typical_value(&self) -> f64 {
        self.points.iter().min_by(|a, b| a.k.abs().total_cmp(&b.k.abs())).map_or(f64::NAN, |p| p.slope)
    }

    /// The range of a covered by reliable points.
    pub fn reliable_range(&self) -> Option<(f64, f64)> {
        let slopes = self.points.iter().filter(|p| p.reliable()).map(|p| p.slope);
        let (lo, hi) = slopes.fold((f64::INFINITY, f64::NEG_INFINITY), |(lo, hi), s| (lo.min(s), hi.max(s)));
        (lo <= hi).then_some((lo, hi))
    }
}

/// One bin of the direct estimator.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct HistogramPoint {
    /// The bin's centre.
    pub value: f64,
    pub replicas: usize,
    /// −(1/N) log P̂(A ∈ bin), shifted so that its minimum over the bins is 0 (the shift, (1/N) log of
    /// the bin width and of the density's prefactor, vanishes as N → ∞).
    pub rate: f64,
}

/// I_N(a) = I(a) + c(a)/N fitted across system sizes at one a.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Extrapolation {
    pub value: f64,
    pub limit: f64,
    pub correction: f64,
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
            for point in &mut study.unconverged {
                point.change = r(point.change);
                point.noise = r(point.noise);
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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rounding_keeps_significant_digits() {
        assert_eq!(round_significant(0.012345678, 4), 0.01235);
        assert_eq!(round_significant(-98765.4321, 3), -98800.0);
        assert!(round_significant(f64::NAN, 3).is_nan());
    }
}
