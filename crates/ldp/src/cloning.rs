//! Population dynamics (cloning) for path observables, after Giardinà, Kurchan & Peliti (2006) and
//! Lecomte & Tailleur (2007), at speed N.
//!
//! A_N = Σ_m c_m a(t_m) is a linear functional of one column a along the records (the value at one time,
//! or a time average). Its running value S_m = Σ_{j≤m} c_j a(t_j) + (Σ_{j>m} c_j) a(t_m) (the part still
//! to come predicted by the current value) telescopes: S_last = A_N. At each record every clone gets the
//! weight exp(N k (S_m − S_{m−1})) (times its initial likelihood ratio at the first record, so a tilted
//! initial law composes with cloning), the population's mean weight multiplies Z, and R clones are
//! resampled in proportion to their weights (systematic resampling). Then
//! Λ̂_N(k) = (1/N) log Z estimates (1/N) log E[e^{N k A_N}] without bias in Z, the final population samples
//! the tilted path law, so its mean of A_N estimates Λ'(k), and I = k Λ' − Λ.
//!
//! Why cloning rather than tilting the data law: it needs no density of the data (datasets, finite
//! samples and plugins without a log-density work alike), no change to any distribution, and its
//! weights are renewed at every record instead of multiplying over all steps × batch samples, whose
//! likelihood ratio degenerates exactly for the long paths where path observables matter. Its limit: it
//! cannot select on what a record does not show, and when the deviation is already decided at t = 0 (the
//! annealed initial configuration) the first selection is plain reweighting; there, tilt the initial law.
//!
//! Reliability: the number of distinct initial clones that still have descendants at the end. Below
//! `min_effective` the population has collapsed onto few ancestors and the estimate is that of a few
//! paths (reported `FewEffective`).

use crate::estimate::mean_with_band;
use crate::{Band, EstimateOptions, RateFunction, RatePoint, Reliability};
use meanfield_core::{Record, Selection};
use rand::{Rng, RngCore};

/// The selection of one population at one k.
#[derive(Debug)]
pub struct Cloning<R: RngCore> {
    particles: usize,
    k: f64,
    column: usize,
    /// c_m per record, and Σ_{j>m} c_j.
    coefficients: Vec<f64>,
    remaining: Vec<f64>,
    record: usize,
    rng: R,
    log_z: f64,
    /// Per clone, along its ancestry: Σ_{j<m} c_j a_j, and the running value S.
    banked: Vec<f64>,
    running: Vec<f64>,
    ancestors: Vec<usize>,
    weights: Vec<f64>,
    scratch: Vec<(f64, f64, usize)>,
}

impl<R: RngCore> Cloning<R> {
    /// A population of `clones` at `k` for A_N = Σ_m coefficients[m] · (column at record m), N = particles.
    pub fn new(particles: usize, k: f64, column: usize, coefficients: Vec<f64>, clones: usize, rng: R) -> Self {
        let remaining = (0..coefficients.len()).map(|m| coefficients[m + 1..].iter().sum::<f64>()).collect::<Vec<_>>();
        Cloning {
            particles,
            k,
            column,
            coefficients,
            remaining,
            record: 0,
            rng,
            log_z: 0.0,
            banked: vec![0.0; clones],
            running: vec![0.0; clones],
            ancestors: (0..clones).collect(),
            weights: vec![0.0; clones],
            scratch: Vec::with_capacity(clones),
        }
    }

    /// Λ̂(k), the final population's mean of A_N (Λ̂'(k)), and the number of surviving ancestors.
    pub fn estimate(&self) -> PopulationEstimate {
        let mut distinct = self.ancestors.clone();
        distinct.sort_unstable();
        distinct.dedup();
        let mean = self.running.iter().sum::<f64>() / self.running.len() as f64;
        PopulationEstimate { scgf: self.log_z / self.particles as f64, slope: mean, ancestors: distinct.len() }
    }
}

impl<R: RngCore> Selection for Cloning<R> {
    fn select(&mut self, records: &[Record], log_weights: &[f64], parents: &mut [usize]) {
        let m = self.record;
        self.record += 1;
        let n = self.particles as f64;
        let (c, rest) =
            (self.coefficients.get(m).copied().unwrap_or(0.0), self.remaining.get(m).copied().unwrap_or(0.0));
        let first = m == 0;
        for (r, record) in records.iter().enumerate() {
            let a = record.values[self.column];
            self.banked[r] += c * a;
            let next = self.banked[r] + rest * a;
            self.weights[r] = n * self.k * (next - self.running[r]) + if first { log_weights[r] } else { 0.0 };
            self.running[r] = next;
        }
        let top = self.weights.iter().copied().fold(f64::NEG_INFINITY, f64::max);
        let total: f64 = self.weights.iter().map(|w| (w - top).exp()).sum();
        let clones = records.len();
        self.log_z += top + (total / clones as f64).ln();
        // Systematic resampling: one uniform offset, R evenly spaced points through the cumulative weights.
        let offset: f64 = self.rng.random();
        let mut cumulative = 0.0;
        let mut slot = 0;
        for (r, w) in self.weights.iter().enumerate() {
            cumulative += (w - top).exp() / total * clones as f64;
            while slot < clones && (slot as f64 + offset) < cumulative {
                parents[slot] = r;
                slot += 1;
            }
        }
        for p in parents[slot..].iter_mut() {
            *p = clones - 1; // rounding left the last points past the end of the cumulative sum
        }
        self.scratch.clear();
        self.scratch.extend(parents.iter().map(|&p| (self.banked[p], self.running[p], self.ancestors[p])));
        for (r, &(banked, running, ancestor)) in self.scratch.iter().enumerate() {
            (self.banked[r], self.running[r], self.ancestors[r]) = (banked, running, ancestor);
        }
    }
}

/// One population's result at one k: Λ̂(k), the final mean of A_N, and the surviving ancestors.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct PopulationEstimate {
    pub scgf: f64,
    pub slope: f64,
    pub ancestors: usize,
}

/// The rate function of N = `particles` from independent populations: `runs[j]` holds every population's
/// estimate at k = `options.k[j]`. The populations' Z are pooled (Λ̂ = (1/N) log of their mean Z, the
/// tilted mean weighted by Z); the band is ± Student's t quantile × the standard error of the populations'
/// own Λ̂ and I (none with a single population); a k is reliable if every population kept `min_effective` ancestors.
pub fn rate_function_from_populations(
    particles: usize,
    clones: usize,
    options: &EstimateOptions,
    runs: &[Vec<PopulationEstimate>],
) -> RateFunction {
    let n = particles as f64;
    let points = options
        .k
        .iter()
        .zip(runs)
        .map(|(&k, populations)| {
            let g = populations.len() as f64;
            let top = populations.iter().map(|p| n * p.scgf).fold(f64::NEG_INFINITY, f64::max);
            let z: Vec<f64> = populations.iter().map(|p| (n * p.scgf - top).exp()).collect();
            let total: f64 = z.iter().sum();
            let scgf = (top + (total / g).ln()) / n;
            let slope = populations.iter().zip(&z).map(|(p, z)| p.slope * z).sum::<f64>() / total;
            let rate = k * slope - scgf;
            // The band is that of the populations' own estimates, placed around the pooled one.
            let half = |values: Vec<f64>| {
                let (_, band) = mean_with_band(&values, options.level);
                0.5 * (band.high - band.low)
            };
            let scgf_half = half(populations.iter().map(|p| p.scgf).collect());
            let rate_half = half(populations.iter().map(|p| k * p.slope - p.scgf).collect());
            let fewest = populations.iter().map(|p| p.ancestors).min().unwrap_or(0);
            RatePoint {
                k,
                scgf,
                slope,
                rate,
                scgf_band: Band { low: scgf - scgf_half, high: scgf + scgf_half },
                rate_band: Band { low: rate - rate_half, high: rate + rate_half },
                effective_sample_size: populations.iter().map(|p| p.ancestors as f64).sum(),
                reliability: if (fewest as f64) < options.min_effective {
                    Reliability::FewEffective
                } else {
                    Reliability::Reliable
                },
            }
        })
        .collect();
    RateFunction { particles, replicas: clones * runs.first().map_or(0, Vec::len), points }
}
