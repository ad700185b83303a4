//! Built-in observables: population risk, block moments, marginal histograms, test-function averages.

use meanfield_core::{
    Block, DEPENDENCE_COLUMN_PREFIX, Model, Observable, ObservationContext, PREDICTION_COLUMN_PREFIX, Statistic,
    TAGGED_COLUMN_PREFIX,
};
use serde::{Deserialize, Serialize};
use std::sync::Arc;

fn find_block<'m>(model: &'m dyn Model, name: &str) -> &'m Block {
    model
        .blocks()
        .iter()
        .find(|b| b.name == name)
        .unwrap_or_else(|| panic!("block '{name}' was checked to exist when the scenario was built"))
}

/// Population risk ½ E(y − ŷ)², estimated on the first `samples` rows of the replica's held-out sample.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Risk {
    pub samples: usize,
}

impl Observable for Risk {
    fn columns(&self) -> Vec<String> {
        vec!["risk".into()]
    }
    fn holdout_size(&self) -> usize {
        self.samples
    }
    fn observe(&self, ctx: &mut ObservationContext<'_>, out: &mut Vec<f64>) {
        let d = ctx.model.input_dim();
        let x = &ctx.holdout.x[..self.samples * d];
        let y = &ctx.holdout.y[..self.samples];
        ctx.scratch.resize(self.samples, 0.0);
        ctx.model.predict(x, &mut ctx.scratch[..]);
        let sum: f64 = y.iter().zip(ctx.scratch.iter()).map(|(y, p)| (y - p) * (y - p)).sum();
        out.push(0.5 * sum / self.samples as f64);
    }
}

/// A population loss in closed form, a function of a model's parameters.
pub type ClosedFormLoss = Arc<dyn Fn(&[f64]) -> f64 + Send + Sync>;

/// How [`PopulationRisk`] evaluates ½ E(f − ŷ)².
#[derive(Clone)]
pub enum Evaluation {
    /// A fixed evaluation set (rows of x, and the target at each), never trained on and the same for
    /// every replica and width of a seed: the widths are compared on common inputs.
    Sample { x: Arc<[f64]>, y: Arc<[f64]> },
    /// The loss in closed form, a function of the parameters.
    ClosedForm(ClosedFormLoss),
}

impl std::fmt::Debug for Evaluation {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Evaluation::Sample { y, .. } => write!(f, "Sample({} points)", y.len()),
            Evaluation::ClosedForm(_) => write!(f, "ClosedForm"),
        }
    }
}

/// The population loss ½ E(f − ŷ)², exactly or on a fixed evaluation set: column `population_risk`.
#[derive(Debug, Clone)]
pub struct PopulationRisk {
    pub evaluation: Evaluation,
}

/// The column [`PopulationRisk`] writes.
pub const POPULATION_RISK_COLUMN: &str = "population_risk";

impl Observable for PopulationRisk {
    fn columns(&self) -> Vec<String> {
        vec![POPULATION_RISK_COLUMN.into()]
    }
    fn observe(&self, ctx: &mut ObservationContext<'_>, out: &mut Vec<f64>) {
        match &self.evaluation {
            Evaluation::ClosedForm(loss) => out.push(loss(ctx.model.params())),
            Evaluation::Sample { x, y } => {
                ctx.scratch.resize(y.len(), 0.0);
                ctx.model.predict(x, &mut ctx.scratch[..]);
                let sum: f64 = y.iter().zip(ctx.scratch.iter()).map(|(y, p)| (y - p) * (y - p)).sum();
                out.push(0.5 * sum / y.len() as f64);
            }
        }
    }
}

/// The represented function ŷ at fixed test points (row-major, the model's input dimension): columns
/// `yhat(0)`, `yhat(1)`, … in the order given.
#[derive(Debug, Clone, PartialEq)]
pub struct Predictions {
    pub points: Vec<f64>,
    pub count: usize,
}

impl Observable for Predictions {
    fn columns(&self) -> Vec<String> {
        (0..self.count).map(|k| format!("{PREDICTION_COLUMN_PREFIX}{k})")).collect()
    }
    fn observe(&self, ctx: &mut ObservationContext<'_>, out: &mut Vec<f64>) {
        ctx.scratch.resize(self.count, 0.0);
        ctx.model.predict(&self.points, &mut ctx.scratch[..]);
        out.extend_from_slice(&ctx.scratch[..]);
    }
}

/// Mean and second moment of all entries of each listed block: columns `mean(c)`, `m2(c)`, …
#[derive(Debug, Clone, PartialEq)]
pub struct Moments {
    pub blocks: Vec<String>,
}

impl Observable for Moments {
    fn columns(&self) -> Vec<String> {
        self.blocks.iter().flat_map(|b| [format!("mean({b})"), format!("m2({b})")]).collect()
    }
    fn observe(&self, ctx: &mut ObservationContext<'_>, out: &mut Vec<f64>) {
        for name in &self.blocks {
            let values = &ctx.model.params()[find_block(ctx.model, name).range()];
            let n = values.len() as f64;
            out.push(values.iter().sum::<f64>() / n);
            out.push(values.iter().map(|v| v * v).sum::<f64>() / n);
        }
    }
}

/// The spread of each listed block's entries around their own mean, (1/n) Σ (θ − θ̄)² over the n
/// entries: columns `var(c)`, `var(w)`, … Unlike m2 − mean², it has no cancellation when the spread is
/// small next to the mean.
#[derive(Debug, Clone, PartialEq)]
pub struct Variances {
    pub blocks: Vec<String>,
}

impl Observable for Variances {
    fn columns(&self) -> Vec<String> {
        self.blocks.iter().map(|b| format!("var({b})")).collect()
    }
    fn observe(&self, ctx: &mut ObservationContext<'_>, out: &mut Vec<f64>) {
        for name in &self.blocks {
            let values = &ctx.model.params()[find_block(ctx.model, name).range()];
            let n = values.len() as f64;
            let mean = values.iter().sum::<f64>() / n;
            out.push(values.iter().map(|v| (v - mean) * (v - mean)).sum::<f64>() / n);
        }
    }
}

/// The statistic of two tagged particles i and j (propagation of chaos: across replicas, their
/// correlation vanishes as N grows). Columns `tag(i,<stat>)` and `tag(j,<stat>)`; the summary reports
/// the correlation across replicas of the first two `tag(` columns at every record time.
#[derive(Debug, Clone, PartialEq)]
pub struct Tagged {
    pub of: Statistic,
    pub particles: (usize, usize),
}

impl Observable for Tagged {
    fn columns(&self) -> Vec<String> {
        let label = self.of.label();
        let (i, j) = self.particles;
        vec![format!("{TAGGED_COLUMN_PREFIX}{i},{label})"), format!("{TAGGED_COLUMN_PREFIX}{j},{label})")]
    }
    fn observe(&self, ctx: &mut ObservationContext<'_>, out: &mut Vec<f64>) {
        let (i, j) = self.particles;
        let (mut vi, mut vj) = (f64::NAN, f64::NAN);
        let mut k = 0;
        self.of.for_each(ctx.model, |v| {
            if k == i {
                vi = v;
            }
            if k == j {
                vj = v;
            }
            k += 1;
        });
        out.push(vi);
        out.push(vj);
    }
}

/// The raw material of the inter-layer dependence of a two-hidden-layer network (DESIGN.md §1: in the
/// limit the first-layer particles w_i and the second-layer particles c_j become independent).
///
/// Within one network the joint empirical measure of all pairs (w_i, c_j) is *exactly* the product of its
/// marginals, so no single-network statistic can see the dependence. What the theory says is that the law
/// of a pair (w_i(t), c_j(t)) across the randomness of initialisation and data is a product in the limit.
/// By exchangeability, for any test functions f, g,
///   Cov(f(w_i), g(c_j)) = Cov(⟨f, μ1⟩, ⟨g, μ2⟩)   (covariance across replicas),
/// so the replicas' empirical feature means carry the whole cross-covariance, with a sampling error N
/// times smaller than a single tagged pair's. Per replica this records, for D random Fourier features
/// φ_k(θ) = √2 cos(ω_k·θ + b_k) with ω_k ~ N(0, I/s²) (a Gaussian kernel of bandwidth s), the means
/// `dep(w)[k]` = (1/N1) Σ_i φ_k(w_i) and `dep(c)[k]` = (1/N2) Σ_j ψ_k(c_j), and the squared Frobenius
/// norm of the within-network feature covariance of each layer, `dep(w)self` and `dep(c)self` (the
/// normaliser). The summary turns them into the HSIC of a pair (w_i, c_j), normalised to [0, 1].
/// The frequencies are drawn once per point and shared by its replicas.
#[derive(Debug, Clone, PartialEq)]
pub struct LayerDependence {
    first: FourierFeatures,
    second: FourierFeatures,
}

/// D random Fourier features of the rows of one block.
#[derive(Debug, Clone, PartialEq)]
struct FourierFeatures {
    block: String,
    /// `features × cols`, row-major.
    frequencies: Vec<f64>,
    phases: Vec<f64>,
}

impl FourierFeatures {
    fn new(block: &str, cols: usize, features: usize, bandwidth: f64, rng: &mut dyn rand::RngCore) -> FourierFeatures {
        use rand_distr::{Distribution, StandardNormal, Uniform};
        let frequencies =
            (0..features * cols).map(|_| StandardNormal.sample(&mut *rng)).map(|g: f64| g / bandwidth).collect();
        let phase = Uniform::new(0.0, std::f64::consts::TAU).expect("0 < 2π");
        let phases = (0..features).map(|_| phase.sample(&mut *rng)).collect();
        FourierFeatures { block: block.to_owned(), frequencies, phases }
    }

    fn features(&self) -> usize {
        self.phases.len()
    }

    /// Appends the D feature means, then ‖Ĉov‖²_F of the within-network feature covariance (with
    /// the 1/(N − 1) normalisation), using `scratch` for the D + D² accumulators.
    fn observe(&self, model: &dyn Model, scratch: &mut Vec<f64>, out: &mut Vec<f64>) {
        let block = find_block(model, &self.block);
        let rows = model.params()[block.range()].chunks_exact(block.cols);
        let n = rows.len();
        let d = self.features();
        scratch.clear();
        scratch.resize(2 * d + d * d, 0.0);
        let (phi, rest) = scratch.split_at_mut(d);
        let (sum, outer) = rest.split_at_mut(d);
        for row in rows {
            for (k, (omega, phase)) in self.frequencies.chunks_exact(block.cols).zip(&self.phases).enumerate() {
                let arg: f64 = omega.iter().zip(row).map(|(o, x)| o * x).sum::<f64>() + phase;
                phi[k] = std::f64::consts::SQRT_2 * arg.cos();
            }
            for k in 0..d {
                sum[k] += phi[k];
                for l in 0..d {
                    outer[k * d + l] += phi[k] * phi[l];
                }
            }
        }
        let nf = n as f64;
        out.extend(sum.iter().map(|s| s / nf));
        let mut frobenius = 0.0;
        for k in 0..d {
            for l in 0..d {
                let cov = (outer[k * d + l] - sum[k] * sum[l] / nf) / (nf - 1.0);
                frobenius += cov * cov;
            }
        }
        out.push(frobenius);
    }
}

impl LayerDependence {
    /// Features of the rows of blocks `first` (`cols.0` columns) and `second` (`cols.1`), with kernel
    /// bandwidths `bandwidths`; the frequencies come from `rng`.
    pub fn new(
        blocks: (&str, &str),
        cols: (usize, usize),
        features: usize,
        bandwidths: (f64, f64),
        rng: &mut dyn rand::RngCore,
    ) -> LayerDependence {
        LayerDependence {
            first: FourierFeatures::new(blocks.0, cols.0, features, bandwidths.0, rng),
            second: FourierFeatures::new(blocks.1, cols.1, features, bandwidths.1, rng),
        }
    }
}

impl Observable for LayerDependence {
    fn columns(&self) -> Vec<String> {
        [&self.first, &self.second]
            .iter()
            .flat_map(|f| {
                let b = &f.block;
                (0..f.features())
                    .map(move |k| format!("{DEPENDENCE_COLUMN_PREFIX}{b})[{k}]"))
                    .chain(std::iter::once(format!("{DEPENDENCE_COLUMN_PREFIX}{b})self")))
            })
            .collect()
    }
    fn observe(&self, ctx: &mut ObservationContext<'_>, out: &mut Vec<f64>) {
        self.first.observe(ctx.model, ctx.scratch, out);
        self.second.observe(ctx.model, ctx.scratch, out);
    }
}

/// Histogram of a statistic over the particles, as a density: column `hist(S)[lo:hi]` (bin k) holds
/// (number of particles in bin k) / (N · bin width). Particles outside the range are not counted, so the
/// columns integrate to the fraction of particles inside it.
#[derive(Debug, Clone, PartialEq)]
pub struct Histogram {
    pub of: Statistic,
    pub bins: usize,
    pub range: (f64, f64),
}

impl Histogram {
    pub fn bin_edges(&self) -> Vec<f64> {
        let (lo, hi) = self.range;
        (0..=self.bins).map(|k| lo + (hi - lo) * k as f64 / self.bins as f64).collect()
    }
}

impl Observable for Histogram {
    fn columns(&self) -> Vec<String> {
        // The bin's edges are in its name, so the table alone can be plotted: `hist(|w|)[0.5:0.75]`.
        let label = self.of.label();
        let edges = self.bin_edges();
        edges.windows(2).map(|e| format!("hist({label})[{}:{}]", e[0], e[1])).collect()
    }
    fn observe(&self, ctx: &mut ObservationContext<'_>, out: &mut Vec<f64>) {
        let start = out.len();
        out.resize(start + self.bins, 0.0);
        let (lo, hi) = self.range;
        let width = (hi - lo) / self.bins as f64;
        let counts = &mut out[start..];
        let mut total = 0usize;
        self.of.for_each(ctx.model, |v| {
            total += 1;
            if v >= lo && v < hi {
                let k = (((v - lo) / width) as usize).min(self.bins - 1);
                counts[k] += 1.0;
            }
        });
        for c in counts {
            *c /= total as f64 * width;
        }
    }
}

/// A scalar function g applied to a statistic.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub enum Function {
    Identity,
    Abs,
    Power(f64),
    Tanh,
    Sin(f64),
    Cos(f64),
    Exp(f64),
    /// 1 on [low, high), 0 elsewhere.
    Indicator(f64, f64),
}

impl Function {
    pub fn apply(self, v: f64) -> f64 {
        match self {
            Function::Identity => v,
            Function::Abs => v.abs(),
            Function::Power(p) => v.powf(p),
            Function::Tanh => v.tanh(),
            Function::Sin(freq) => (freq * v).sin(),
            Function::Cos(freq) => (freq * v).cos(),
            Function::Exp(rate) => (rate * v).exp(),
            Function::Indicator(lo, hi) => f64::from(u8::from(v >= lo && v < hi)),
        }
    }

    fn label(self, arg: &str) -> String {
        match self {
            Function::Identity => arg.to_owned(),
            Function::Abs => format!("abs({arg})"),
            Function::Power(p) => format!("pow({arg},{p})"),
            Function::Tanh => format!("tanh({arg})"),
            Function::Sin(f) => format!("sin({f}*{arg})"),
            Function::Cos(f) => format!("cos({f}*{arg})"),
            Function::Exp(r) => format!("exp({r}*{arg})"),
            Function::Indicator(lo, hi) => format!("1[{lo}<={arg}<{hi}]"),
        }
    }
}

/// A test function φ(θ) = g(s(θ)).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct TestFunction {
    pub of: Statistic,
    #[serde(default = "identity")]
    pub apply: Function,
}

fn identity() -> Function {
    Function::Identity
}

impl TestFunction {
    pub fn label(&self) -> String {
        self.apply.label(&self.of.label())
    }
}

/// ∫φ dμ_N = (1/N) Σ_i φ(θ_i) for each listed test function: columns `avg(…)`.
#[derive(Debug, Clone, PartialEq)]
pub struct Averages {
    pub functions: Vec<TestFunction>,
}

impl Observable for Averages {
    fn columns(&self) -> Vec<String> {
        self.functions.iter().map(|f| format!("avg({})", f.label())).collect()
    }
    fn observe(&self, ctx: &mut ObservationContext<'_>, out: &mut Vec<f64>) {
        for f in &self.functions {
            let (mut sum, mut n) = (0.0, 0usize);
            f.of.for_each(ctx.model, |v| {
                sum += f.apply.apply(v);
                n += 1;
            });
            out.push(sum / n as f64);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use meanfield_core::Holdout;
    use meanfield_models::{BuiltinActivation, OneHidden, OneHiddenConfig};
    use std::sync::Arc;

    fn model() -> OneHidden {
        let mut net = OneHidden::new(OneHiddenConfig {
            max_batch: 2,
            ..OneHiddenConfig::mean_field(4, 2, Arc::new(BuiltinActivation::Identity))
        })
        .unwrap();
        // c = (1, 2, 3, 4); w rows (3,4), (0,1), (1,0), (0,0)
        net.params_mut().copy_from_slice(&[1.0, 2.0, 3.0, 4.0, 3.0, 4.0, 0.0, 1.0, 1.0, 0.0, 0.0, 0.0]);
        net
    }

    fn observe(obs: &dyn Observable, holdout: &Holdout) -> Vec<f64> {
        let mut net = model();
        let mut scratch = Vec::new();
        let mut out = Vec::new();
        obs.observe(&mut ObservationContext { step: 0, model: &mut net, holdout, scratch: &mut scratch }, &mut out);
        assert_eq!(out.len(), obs.columns().len());
        out
    }

    #[test]
    fn moments_histograms_and_averages_by_hand() {
        let none = Holdout::default();
        let moments = observe(&Moments { blocks: vec!["c".into(), "w".into()] }, &none);
        assert_eq!(moments, [2.5, 7.5, 9.0 / 8.0, 27.0 / 8.0]);
        // |w_i| = 5, 1, 1, 0; bins of width 1 on [0, 4): 0 → bin 0, 1 and 1 → bin 1, 5 outside.
        let hist = observe(&Histogram { of: Statistic::Norm("w".into()), bins: 4, range: (0.0, 4.0) }, &none);
        assert_eq!(hist, [0.25, 0.5, 0.0, 0.0]);
        let avg = observe(
            &Averages {
                functions: vec![
                    TestFunction { of: Statistic::Coordinate("w".into(), 0), apply: Function::Power(2.0) },
                    TestFunction { of: Statistic::Norm("w".into()), apply: Function::Indicator(0.5, 2.0) },
                ],
            },
            &none,
        );
        assert_eq!(avg, [10.0 / 4.0, 0.5]);
    }

    #[test]
    fn risk_is_half_the_mean_squared_error() {
        // ŷ(x) = (1/4) Σ c_i w_i·x; at x = (1, 0): (3 + 0 + 3 + 0)/4 = 1.5, at x = (0, 1): (4 + 2)/4 = 1.5.
        let holdout = Holdout { x: vec![1.0, 0.0, 0.0, 1.0, 9.0, 9.0], y: vec![0.5, 3.5, 100.0] };
        let risk = observe(&Risk { samples: 2 }, &holdout);
        assert_eq!(risk, [0.5 * (1.0 + 4.0) / 2.0]);
    }
}
