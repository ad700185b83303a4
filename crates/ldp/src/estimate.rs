//! The estimators. With x_r = N k A_r + log w_r (w_r = 1 without importance sampling):
//!
//! - SCGF: Λ̂(k) = (1/N) log[(1/R) Σ_r e^{x_r}], computed as a log-sum-exp;
//! - its derivative, the tilted mean: Λ̂'(k) = Σ_r e^{x_r} A_r / Σ_r e^{x_r};
//! - the effective sample size of the tilted average: (Σ e^{x_r})² / Σ e^{2x_r};
//! - the rate function, parametrically: a = Λ̂'(k), I(a) = k a − Λ̂(k); numerically: sup_k [k a − Λ̂(k)]
//!   over the reliable k.
//!
//! **Reliability** (Rohwer, Angeletti & Touchette 2015): for large |k| the sum is dominated by the most
//! extreme replicas, Λ̂ turns linear with slope max A (or min A), and the "rate function" it implies is an
//! artefact of R. Before that, the tilted law's far side is already missing from the sample, and Λ̂ is
//! biased while its bootstrap band (which cannot see missing tails) stays narrow; the sample's effective
//! sample size is then overestimated too. So a point k is reported reliable only if the tilted mean plus
//! `spread` tilted standard deviations (minus, for k < 0) still lies inside the sample with `margin`
//! replicas beyond it, and its effective sample size is at least `min_effective`.

use crate::{Band, Ensemble, Extrapolation, HistogramPoint, RateFunction, RatePoint, Reliability};
use meanfield_core::stats::{least_squares, quantile};
use rand::{Rng, RngCore, SeedableRng};
use rand_chacha::ChaCha8Rng;
use rayon::prelude::*;
use serde::{Deserialize, Serialize};

/// Λ̂(k), Λ̂'(k) and the effective sample size.
pub fn scgf(ensemble: &Ensemble, k: f64) -> (f64, f64, f64) {
    scgf_in(ensemble, k, &mut Tilt::default())
}

/// Lanes of the sums over replicas: independent chains, so a sum does not wait on each addition.
const LANES: usize = 8;

/// [`scgf`] with its buffers: the bootstrap calls it resamples × k-grid times.
fn scgf_in(ensemble: &Ensemble, k: f64, tilt: &mut Tilt) -> (f64, f64, f64) {
    let r = ensemble.replicas() as f64;
    let top = tilt.weights(ensemble, k);
    // Σ e, Σ e² and Σ e·A, each in LANES partial sums over the replicas r ≡ l (mod LANES) then the rest
    // in order: no division per replica and no chain through every replica. The weights are positive,
    // so Σ e·A / Σ e loses nothing to cancellation in Σ e, and Σ e·A errs by at most R·ε·Σ e|A| (the
    // summation bound), far below the bootstrap's own spread.
    let (weights, values) = (&tilt.weights[..], &ensemble.values[..]);
    let mut acc = [[0.0; LANES]; 3];
    let (mut w, mut v) = (weights.chunks_exact(LANES), values.chunks_exact(LANES));
    for (w, v) in (&mut w).zip(&mut v) {
        for l in 0..LANES {
            acc[0][l] += w[l];
            acc[1][l] += w[l] * w[l];
            acc[2][l] += w[l] * v[l];
        }
    }
    let [mut sum, mut sum_sq, mut weighted] = acc.map(|lanes| lanes.iter().sum::<f64>());
    for (e, a) in w.remainder().iter().zip(v.remainder()) {
        sum += e;
        sum_sq += e * e;
        weighted += e * a;
    }
    ((top + sum.ln() - r.ln()) / ensemble.particles as f64, weighted / sum, sum * sum / sum_sq)
}

/// The tilted weights of an ensemble at one k, and the buffers they are computed in.
#[derive(Debug, Default)]
struct Tilt {
    exponents: Vec<f64>,
    weights: Vec<f64>,
}

impl Tilt {
    /// Fills `weights` with every replica's e^{x_r − top} ≤ 1 (so no sum overflows), x_r = N k A_r + log w_r,
    /// and returns top, the largest x_r.
    fn weights(&mut self, ensemble: &Ensemble, k: f64) -> f64 {
        let n = ensemble.particles as f64;
        let exponents = &mut self.exponents;
        exponents.clear();
        let values = ensemble.values.iter();
        match &ensemble.log_weights {
            // `+ 0.0` as `log_weight` adds it: the same bits with and without importance weights of 1.
            None => exponents.extend(values.map(|a| n * k * a + 0.0)),
            Some(log_weights) => exponents.extend(values.zip(log_weights).map(|(a, w)| n * k * a + w)),
        }
        // The maximum in lanes (it does not depend on the order; NaN is skipped as by f64::max).
        let mut lanes = [f64::NEG_INFINITY; LANES];
        let mut chunks = exponents.chunks_exact(LANES);
        for chunk in &mut chunks {
            for l in 0..LANES {
                lanes[l] = lanes[l].max(chunk[l]);
            }
        }
        let top = chunks.remainder().iter().chain(&lanes).copied().fold(f64::NEG_INFINITY, f64::max);
        exponents.iter_mut().for_each(|x| *x -= top);
        self.weights.resize(exponents.len(), 0.0);
        // meanfield's own exponential: vectorised, and the same bits with any C library.
        meanfield_kernels::exp_slice(exponents, &mut self.weights);
        top
    }
}

/// The tilted standard deviation of A at k about the tilted mean `mean` ([`scgf`]'s slope), by a second
/// pass, Σ e (A − mean)² / Σ e, which cannot cancel.
fn tilted_deviation(ensemble: &Ensemble, k: f64, mean: f64) -> f64 {
    let mut tilt = Tilt::default();
    tilt.weights(ensemble, k);
    let (mut sum, mut spread) = (0.0, 0.0);
    for (e, a) in tilt.weights.iter().zip(&ensemble.values) {
        sum += e;
        spread += e * (a - mean) * (a - mean);
    }
    (spread / sum).sqrt()
}

/// The mean of a few independent estimates (cloning populations, quenched configurations) and the band
/// mean ± t·s/√n at `level`, with Student's t for n − 1 degrees of freedom: a few estimates give a few
/// degrees of freedom, and 1.96 would make the band too narrow. The band is NaN for one estimate.
pub(crate) fn mean_with_band(values: &[f64], level: f64) -> (f64, Band) {
    use statrs::distribution::{ContinuousCDF, StudentsT};
    let n = values.len() as f64;
    let mean = values.iter().sum::<f64>() / n;
    let variance = values.iter().map(|v| (v - mean).powi(2)).sum::<f64>() / (n - 1.0);
    let t = match StudentsT::new(0.0, 1.0, n - 1.0) {
        Ok(t) if values.len() > 1 => t.inverse_cdf(0.5 + level / 2.0),
        _ => f64::NAN,
    };
    let half = t * (variance / n).sqrt();
    (mean, Band { low: mean - half, high: mean + half })
}

/// How the rate function is estimated.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct EstimateOptions {
    /// The k grid.
    pub k: Vec<f64>,
    /// Bootstrap resamples of the replicas.
    pub resamples: usize,
    /// Confidence level of the bands.
    pub level: f64,
    /// Smallest effective sample size of a reliable point.
    pub min_effective: f64,
    /// Replicas that must lie beyond a reliable point's tilted mean plus `spread` tilted deviations.
    pub margin: usize,
    /// How many tilted standard deviations of A the sample must reach beyond the tilted mean.
    pub spread: f64,
    /// Bins of the direct estimator −(1/N) log P̂ alongside the Legendre transform (none: not computed).
    pub direct_bins: Option<usize>,
    /// Whether the reliability window runs (without it every point is reported reliable).
    pub window: bool,
}

impl Default for EstimateOptions {
    fn default() -> Self {
        EstimateOptions {
            k: (-40..=40).map(|i| i as f64 * 0.05).collect(),
            resamples: 1000,
            level: 0.95,
            min_effective: 20.0,
            margin: 10,
            spread: 1.0,
            direct_bins: None,
            window: true,
        }
    }
}

/// What the estimators have found for one ensemble so far.
#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize)]
pub struct Estimate {
    pub rate_function: RateFunction,
    /// The direct estimator's bins (empty unless a [`DirectHistogram`] ran).
    pub direct: Vec<HistogramPoint>,
}

/// One estimator of the large deviations of an ensemble. Estimators compose: each adds its part to the
/// [`Estimate`] the previous ones left (the SCGF and Legendre points, then their bands, then which of
/// them are reliable, and independently the direct histogram), so a scenario chooses the chain.
pub trait Estimator: Send + Sync + std::fmt::Debug {
    fn estimate(&self, ensemble: &Ensemble, rng: &mut dyn RngCore, estimate: &mut Estimate);
}

/// Λ̂(k) on a k grid by log-sum-exp, with the parametric Legendre–Fenchel transform a = Λ̂'(k),
/// I = k a − Λ̂(k), and the effective sample size. Its points start reliable with no band.
#[derive(Debug, Clone, PartialEq)]
pub struct Scgf {
    pub k: Vec<f64>,
}

impl Estimator for Scgf {
    fn estimate(&self, ensemble: &Ensemble, _rng: &mut dyn RngCore, estimate: &mut Estimate) {
        let none = Band { low: f64::NAN, high: f64::NAN };
        estimate.rate_function = RateFunction {
            particles: ensemble.particles,
            replicas: ensemble.replicas(),
            points: self
                .k
                .iter()
                .map(|&k| {
                    let (lambda, slope, effective) = scgf(ensemble, k);
                    RatePoint {
                        k,
                        scgf: lambda,
                        slope,
                        rate: k * slope - lambda,
                        scgf_band: none,
                        rate_band: none,
                        effective_sample_size: effective,
                        reliability: Reliability::Reliable,
                    }
                })
                .collect(),
        };
    }
}

/// Percentile-bootstrap bands of Λ̂ and I at every point: `resamples` resamplings of the replicas, each
/// from its own generator seeded in order from the given stream, so they run in parallel with results
/// identical for any thread count.
#[derive(Debug, Clone, PartialEq)]
pub struct BootstrapBands {
    pub resamples: usize,
    pub level: f64,
}

impl Estimator for BootstrapBands {
    fn estimate(&self, ensemble: &Ensemble, rng: &mut dyn RngCore, estimate: &mut Estimate) {
        let r = ensemble.replicas();
        let ks: Vec<f64> = estimate.rate_function.points.iter().map(|p| p.k).collect();
        let seeds: Vec<u64> = (0..self.resamples).map(|_| rng.next_u64()).collect();
        let per_resample: Vec<Vec<(f64, f64)>> = seeds
            .par_iter()
            .map(|&seed| {
                let mut rng = ChaCha8Rng::seed_from_u64(seed);
                let picks: Vec<usize> = (0..r).map(|_| rng.random_range(0..r)).collect();
                let sample = ensemble.resample(&picks);
                let mut tilt = Tilt::default();
                ks.iter()
                    .map(|&k| {
                        let (lambda, slope, _) = scgf_in(&sample, k, &mut tilt);
                        (lambda, k * slope - lambda)
                    })
                    .collect()
            })
            .collect();
        let tail = (1.0 - self.level) / 2.0;
        let band = |mut values: Vec<f64>| {
            values.sort_by(f64::total_cmp);
            Band { low: quantile(&values, tail), high: quantile(&values, 1.0 - tail) }
        };
        for (j, point) in estimate.rate_function.points.iter_mut().enumerate() {
            let (lambdas, rates): (Vec<f64>, Vec<f64>) = per_resample.iter().map(|e| e[j]).unzip();
            (point.scgf_band, point.rate_band) = (band(lambdas), band(rates));
        }
    }
}

/// The reliability window of Rohwer, Angeletti & Touchette (module doc): marks the points whose tilted
/// law reaches beyond the sample (`OutsideSample`) or rests on too few replicas (`FewEffective`).
#[derive(Debug, Clone, PartialEq)]
pub struct ReliabilityWindow {
    pub min_effective: f64,
    pub margin: usize,
    pub spread: f64,
}

impl Estimator for ReliabilityWindow {
    fn estimate(&self, ensemble: &Ensemble, _rng: &mut dyn RngCore, estimate: &mut Estimate) {
        let r = ensemble.replicas();
        let mut sorted = ensemble.values.clone();
        sorted.sort_by(f64::total_cmp);
        let margin = self.margin.min(r.saturating_sub(1) / 2);
        let (low_edge, high_edge) = (sorted[margin], sorted[r - 1 - margin]);
        for point in &mut estimate.rate_function.points {
            let k = point.k;
            let (_, slope, effective) = scgf(ensemble, k);
            let deviation = tilted_deviation(ensemble, k, slope);
            // Tilting towards large A (k > 0) needs the sample to reach beyond the tilted law's upper side.
            let reach = self.spread * deviation;
            let (down, up) = if k > 0.0 {
                (0.0, reach)
            } else if k < 0.0 {
                (reach, 0.0)
            } else {
                (0.0, 0.0)
            };
            point.reliability = if slope - down <= low_edge || slope + up >= high_edge {
                Reliability::OutsideSample
            } else if effective < self.min_effective {
                Reliability::FewEffective
            } else {
                Reliability::Reliable
            };
        }
    }
}

/// The direct estimator −(1/N) log P̂(A_N ∈ bin) ([`direct_estimate`]).
#[derive(Debug, Clone, PartialEq)]
pub struct DirectHistogram {
    pub bins: usize,
}

impl Estimator for DirectHistogram {
    fn estimate(&self, ensemble: &Ensemble, _rng: &mut dyn RngCore, estimate: &mut Estimate) {
        estimate.direct = direct_estimate(ensemble, self.bins);
    }
}

impl EstimateOptions {
    /// The chain these options describe: the SCGF on the k grid, its bootstrap bands, the reliability
    /// window (unless switched off), and the direct histogram when `direct_bins` is set.
    pub fn estimators(&self) -> Vec<Box<dyn Estimator>> {
        let mut chain: Vec<Box<dyn Estimator>> = vec![
            Box::new(Scgf { k: self.k.clone() }),
            Box::new(BootstrapBands { resamples: self.resamples, level: self.level }),
        ];
        if self.window {
            chain.push(Box::new(ReliabilityWindow {
                min_effective: self.min_effective,
                margin: self.margin,
                spread: self.spread,
            }));
        }
        if let Some(bins) = self.direct_bins {
            chain.push(Box::new(DirectHistogram { bins }));
        }
        chain
    }
}

/// Runs `estimators` in turn on `ensemble`.
pub fn run_estimators(estimators: &[Box<dyn Estimator>], ensemble: &Ensemble, rng: &mut dyn RngCore) -> Estimate {
    let mut estimate = Estimate::default();
    for estimator in estimators {
        estimator.estimate(ensemble, rng, &mut estimate);
    }
    estimate
}

/// The SCGF and the rate function on the k grid, with bootstrap bands and the reliability of each point:
/// the chain of `options` without the direct histogram.
pub fn rate_function(ensemble: &Ensemble, options: &EstimateOptions, rng: &mut dyn RngCore) -> RateFunction {
    let options = EstimateOptions { direct_bins: None, ..options.clone() };
    run_estimators(&options.estimators(), ensemble, rng).rate_function
}

/// The direct estimator −(1/N) log P̂(A_N ∈ bin) on `bins` equal bins over the sample range, for bins that
/// hold at least one replica.
pub fn direct_estimate(ensemble: &Ensemble, bins: usize) -> Vec<HistogramPoint> {
    let n = ensemble.particles as f64;
    let (lo, hi) = ensemble.values.iter().fold((f64::INFINITY, f64::NEG_INFINITY), |(l, h), v| (l.min(*v), h.max(*v)));
    let width = (hi - lo) / bins as f64;
    let mut mass = vec![0.0; bins];
    let mut count = vec![0usize; bins];
    let top = (0..ensemble.replicas()).map(|r| ensemble.log_weight(r)).fold(f64::NEG_INFINITY, f64::max);
    for (r, v) in ensemble.values.iter().enumerate() {
        let b = if width > 0.0 { (((v - lo) / width) as usize).min(bins - 1) } else { 0 };
        mass[b] += (ensemble.log_weight(r) - top).exp();
        count[b] += 1;
    }
    let raw: Vec<(usize, f64)> = (0..bins)
        .filter(|&b| count[b] > 0)
        .map(|b| (b, -(mass[b].ln() + top - (ensemble.replicas() as f64).ln()) / n))
        .collect();
    let floor = raw.iter().map(|(_, v)| *v).fold(f64::INFINITY, f64::min);
    raw.into_iter()
        .map(|(b, v)| HistogramPoint { value: lo + (b as f64 + 0.5) * width, replicas: count[b], rate: v - floor })
        .collect()
}

/// Fits I_N(a) = I(a) + c(a)/N by least squares in 1/N at every a of `values`, from the numeric
/// Legendre transform of each rate function (a value outside one's reliable range is skipped there).
pub fn extrapolate(curves: &[RateFunction], values: &[f64]) -> Vec<Extrapolation> {
    values
        .iter()
        .filter_map(|&a| {
            let points: Vec<(f64, f64)> = curves
                .iter()
                .filter(|c| c.reliable_range().is_some_and(|(lo, hi)| lo <= a && a <= hi))
                .filter_map(|c| c.legendre(a).map(|i| (1.0 / c.particles as f64, i)))
                .collect();
            if points.len() < 2 {
                return None;
            }
            let (inverse_n, rate): (Vec<f64>, Vec<f64>) = points.into_iter().unzip();
            let (limit, correction) = least_squares(&inverse_n, &rate);
            Some(Extrapolation { value: a, limit, correction })
        })
        .collect()
}
