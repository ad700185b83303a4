//! Large deviations at speed N of an observable A_N of the weight evolution (DESIGN.md §1): from an
//! ensemble of R replicas' values of A_N (optionally with importance-sampling weights), the scaled cumulant
//! generating function Λ̂_N(k) = (1/N) log[(1/R) Σ_r exp(N k A_r)], the rate function by Legendre–Fenchel
//! transform (parametric and numeric), the direct histogram estimator, bootstrap bands, the reliability
//! window of Rohwer, Angeletti & Touchette (2015), and the finite-size extrapolation I_N = I + c/N.
//!
//! The other analyses of recorded data live here too: the studies' scaling fits ([`study`]), the inter-layer
//! dependence (HSIC, [`dependence`]) and the per-point summaries ([`summary`]). Estimators never see SGD: an
//! [`Ensemble`] is just numbers, and what they return is plain data (`meanfield_core::summary`).

pub mod dependence;
pub mod estimate;
pub mod study;
pub mod summary;

pub use estimate::{
    BootstrapBands, DirectHistogram, Estimate, EstimateOptions, Estimator, ReliabilityWindow, Scgf, direct_estimate,
    extrapolate, rate_function, run_estimators, scgf,
};
pub use meanfield_core::summary::{
    Band, Extrapolation, HistogramPoint, LdpPoint, LdpSummary, RateFunction, RatePoint, Reliability,
};
pub use study::{Convergence, Quantity, Statistic, Study, StudyError};
pub use summary::summarise_point;

/// The values A_r of one observable over R replicas of a system of N particles, and, when the replicas were
/// drawn from a tilted law, their log likelihood ratios log(dP/dQ) (importance sampling).
#[derive(Debug, Clone, PartialEq)]
pub struct Ensemble {
    pub particles: usize,
    pub values: Vec<f64>,
    pub log_weights: Option<Vec<f64>>,
}

impl Ensemble {
    pub fn new(particles: usize, values: Vec<f64>) -> Ensemble {
        Ensemble { particles, values, log_weights: None }
    }

    pub fn weighted(particles: usize, values: Vec<f64>, log_weights: Vec<f64>) -> Ensemble {
        assert_eq!(values.len(), log_weights.len(), "one weight per replica");
        Ensemble { particles, values, log_weights: Some(log_weights) }
    }

    pub fn replicas(&self) -> usize {
        self.values.len()
    }

    fn log_weight(&self, r: usize) -> f64 {
        self.log_weights.as_ref().map_or(0.0, |w| w[r])
    }

    /// The ensemble of the replicas `picks` (a bootstrap resample).
    pub fn resample(&self, picks: &[usize]) -> Ensemble {
        Ensemble {
            particles: self.particles,
            values: picks.iter().map(|&r| self.values[r]).collect(),
            log_weights: self.log_weights.as_ref().map(|w| picks.iter().map(|&r| w[r]).collect()),
        }
    }
}

pub mod cloning;
pub mod ensemble;
pub use cloning::{Cloning, PopulationEstimate, rate_function_from_populations};
pub use ensemble::{Disorder, Functional};
