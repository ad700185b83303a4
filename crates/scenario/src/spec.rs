//! The scenario file schema (DESIGN.md §4): externally tagged enums, `deny_unknown_fields`, defaults for
//! everything optional. These are the unchecked parameters; [`crate::CheckedScenario`] holds the checked
//! ones.
//!
//! Long file: the whole schema in one place, so that it reads top to bottom as the scenario reference
//! (docs/guide/scenarios.md) does.

use meanfield_core::Statistic;
use meanfield_core::StepRule;
use meanfield_dynamics::TestFunction;
use meanfield_models::BuiltinActivation;
use ron::value::RawValue;
use serde::{Deserialize, Serialize};

mod batch;

pub use batch::{BatchSpec, LARGEST_BATCH};

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, rename = "Scenario")]
pub struct ScenarioSpec {
    pub name: String,
    #[serde(default)]
    pub description: String,
    #[serde(default = "default_seed")]
    pub seed: u64,
    #[serde(default = "one")]
    pub replicas: usize,
    /// Output directory, relative to the working directory; default `results/<name>`.
    #[serde(default)]
    pub output: Option<String>,
    pub model: ModelSpec,
    pub data: DataSpec,
    pub dynamics: DynamicsSpec,
    pub horizon: Horizon,
    #[serde(default = "default_record")]
    pub record: RecordSpec,
    #[serde(default = "default_observables")]
    pub observables: Vec<ObservableSpec>,
    #[serde(default)]
    pub sweep: SweepSpec,
    /// The mean-field limit to solve and measure the particles against (columns `W1(…)`, `risk_limit`).
    #[serde(default)]
    pub limit: Option<LimitSpec>,
    /// A scaling study across the widths of the sweep (`study.csv` and the summary's `study`).
    #[serde(default)]
    pub study: Option<StudySpec>,
    /// How replicas draw their initial weights: `Annealed` (each its own, the default), `Quenched` (one
    /// configuration for all, drawn from the seed) or `QuenchedFrom("file.npy")`; data streams are
    /// independent either way.
    #[serde(default)]
    pub ensemble: EnsembleSpec,
    /// Large deviations of a column at one time across the replicas (`ldp.csv`, the summary's `ldp`).
    #[serde(default)]
    pub ldp: Option<LdpSpec>,
    /// Which files a run writes besides `summary.ron` and `manifest.json`, and how often it checkpoints.
    #[serde(default)]
    pub outputs: OutputSpec,
    /// How `meanfield snapshot` writes and compares this scenario's `.snap`.
    #[serde(default)]
    pub snapshot: SnapshotSpec,
}

/// The sinks of a run (docs/output.md has their schemas).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct OutputSpec {
    /// `timeseries.csv`: one row per (point, replica, record).
    #[serde(default = "yes")]
    pub csv: bool,
    /// `timeseries.jsonl`: the same records as JSON lines.
    #[serde(default)]
    pub jsonl: bool,
    /// Image formats of the plots drawn from the tables (`[]`: none).
    #[serde(default = "default_plots")]
    pub plots: Vec<PlotFormat>,
    /// NPY files of the particles' parameters at chosen times.
    #[serde(default)]
    pub particles: Option<ParticlesSpec>,
    /// `particles` under its old name, accepted with a deprecation warning ("snapshot" now means a
    /// snapshot test); moved into `particles` when the scenario is read.
    #[serde(default, rename = "snapshots", skip_serializing_if = "Option::is_none")]
    pub deprecated_snapshots: Option<ParticlesSpec>,
    /// Seconds between checkpoints of running replicas (`None`: no checkpoints, and Ctrl-C stops at once).
    /// Finished replicas are checkpointed as they finish.
    #[serde(default = "default_checkpoint_seconds")]
    pub checkpoint_seconds: Option<f64>,
}

impl Default for OutputSpec {
    fn default() -> Self {
        OutputSpec {
            csv: true,
            jsonl: false,
            plots: default_plots(),
            particles: None,
            deprecated_snapshots: None,
            checkpoint_seconds: default_checkpoint_seconds(),
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub enum PlotFormat {
    Svg,
    Png,
}

/// The parameters of replicas `0..replicas` of every point at the records nearest `times`, written to
/// `particles/<point>_t=<time>_<block>.npy` as arrays of shape (replicas, rows, cols) per block.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ParticlesSpec {
    pub times: Vec<f64>,
    #[serde(default = "one")]
    pub replicas: usize,
}

fn default_plots() -> Vec<PlotFormat> {
    vec![PlotFormat::Svg, PlotFormat::Png]
}

fn default_checkpoint_seconds() -> Option<f64> {
    Some(60.0)
}

#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub enum EnsembleSpec {
    #[default]
    Annealed,
    /// One configuration drawn from the point's seed.
    Quenched,
    /// One configuration read from an NPY file (relative to the scenario): a 1-D array of the model's
    /// parameters in storage order, or one row per particle with the blocks' columns side by side.
    QuenchedFrom(String),
}

/// The rate function of A_N = `column` at `time` (the nearest record), or with `average_from: Some(t0)`
/// its time average over the records in [t0, time] (a path observable), estimated from the replicas of
/// every point, with N the point's width: the SCGF on `points` values of k in `k`, bootstrap bands
/// (`resamples`), the reliability of each k, and across widths the extrapolation I_N = I + c/N.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct LdpSpec {
    pub column: String,
    pub time: f64,
    #[serde(default)]
    pub average_from: Option<f64>,
    #[serde(default = "default_k")]
    pub k: (f64, f64),
    #[serde(default = "default_k_points")]
    pub points: usize,
    #[serde(default = "default_ldp_resamples")]
    pub resamples: usize,
    /// How the SCGF is estimated: from the replicas (default), or by population dynamics.
    #[serde(default)]
    pub method: LdpMethod,
    /// Also the direct estimator −(1/N) log P̂(A_N ∈ bin) on this many bins (`ldp_direct.csv`; replicas only).
    #[serde(default)]
    pub direct_bins: Option<usize>,
    /// The reliability window (default on); `false` reports every k reliable: the naive estimate.
    #[serde(default = "yes")]
    pub window: bool,
}

#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub enum LdpMethod {
    /// Λ̂(k) from the run's replicas (log-sum-exp), with bootstrap bands.
    #[default]
    Replicas,
    /// Population dynamics: for every k, `populations` independent populations of `clones` replicas,
    /// selected at every record by their increments of A_N (meanfield-ldp's `cloning`); the band is the
    /// spread across populations. The run's own replicas still give timeseries.csv and summary.ron.
    Cloning { clones: usize, populations: usize },
}

fn yes() -> bool {
    true
}
fn default_k() -> (f64, f64) {
    (-2.0, 2.0)
}
fn default_k_points() -> usize {
    41
}
fn default_ldp_resamples() -> usize {
    500
}

/// A study (DESIGN.md §1): an across-replica statistic at chosen times against the width N, with its
/// fitted log-log slope and a bootstrap interval (`resamples` resamplings of the replicas).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub enum StudySpec {
    /// Law of large numbers against the solved `limit`: the mean over replicas of the W1 distance of every
    /// marginal to the limit's, and of |risk − risk_limit|; both should fall like N^(−½).
    Lln {
        times: Vec<f64>,
        #[serde(default = "default_resamples")]
        resamples: usize,
    },
    /// N·Var across replicas of `column` (default the risk): levels off (slope 0) at the CLT scale.
    Fluctuations {
        #[serde(default = "risk_column")]
        column: String,
        times: Vec<f64>,
        #[serde(default = "default_resamples")]
        resamples: usize,
    },
    /// The mean of `column` (default the risk) against the width, Rotskoff–Vanden-Eijnden: slope −1. A point
    /// enters the fit only if that mean changed by less than `converged_within` (relative) over the last half
    /// of the time window.
    ErrorScaling {
        #[serde(default = "risk_column")]
        column: String,
        times: Vec<f64>,
        #[serde(default = "default_resamples")]
        resamples: usize,
        #[serde(default = "default_converged_within")]
        converged_within: f64,
    },
    /// The standard deviation across replicas of `column` (default the population risk) and the rms over
    /// test points of that of the represented function (the `yhat(…)` columns, with a `Predictions`
    /// observable) against the width, Rotskoff–Vanden-Eijnden: slope −1 for both. Converged points only, as
    /// for `ErrorScaling`.
    FluctuationScaling {
        #[serde(default = "population_risk_column")]
        column: String,
        times: Vec<f64>,
        #[serde(default = "default_resamples")]
        resamples: usize,
        #[serde(default = "default_converged_within")]
        converged_within: f64,
    },
    /// Propagation of chaos: |correlation| across replicas of the two `Tagged` particles, slope −1.
    Chaos {
        times: Vec<f64>,
        #[serde(default = "default_resamples")]
        resamples: usize,
    },
}

fn default_resamples() -> usize {
    2000
}
fn risk_column() -> String {
    "risk".into()
}
fn population_risk_column() -> String {
    "population_risk".into()
}
fn default_converged_within() -> f64 {
    0.02
}

impl StudySpec {
    pub fn times(&self) -> &[f64] {
        match self {
            StudySpec::Lln { times, .. }
            | StudySpec::Fluctuations { times, .. }
            | StudySpec::ErrorScaling { times, .. }
            | StudySpec::FluctuationScaling { times, .. }
            | StudySpec::Chaos { times, .. } => times,
        }
    }
    pub fn resamples(&self) -> usize {
        match self {
            StudySpec::Lln { resamples, .. }
            | StudySpec::Fluctuations { resamples, .. }
            | StudySpec::ErrorScaling { resamples, .. }
            | StudySpec::FluctuationScaling { resamples, .. }
            | StudySpec::Chaos { resamples, .. } => *resamples,
        }
    }

    /// The convergence criterion (column, relative change) of the studies that have one.
    pub fn convergence(&self) -> Option<(&str, f64)> {
        match self {
            StudySpec::ErrorScaling { column, converged_within, .. }
            | StudySpec::FluctuationScaling { column, converged_within, .. } => Some((column, *converged_within)),
            StudySpec::Lln { .. } | StudySpec::Fluctuations { .. } | StudySpec::Chaos { .. } => None,
        }
    }
}

/// The mean-field limit PDE of a scenario (DESIGN.md §1), solved once per distinct limit of its points.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub enum LimitSpec {
    /// One-hidden-layer network on `TeacherStudent` data with `dim: 1` and Gaussian inputs: a finite-volume
    /// grid of `cells` per axis over (c, w) when c is trained (give its range `c`), over w when c is frozen.
    Grid {
        cells: usize,
        w: (f64, f64),
        #[serde(default)]
        c: Option<(f64, f64)>,
        /// How the kernels U and V are computed: `Quadrature` (the default, any activation) or `ClosedForm`.
        #[serde(default)]
        kernels: LimitKernels,
        /// The distances to the limit recorded at every record time (default `[W1]`).
        #[serde(default = "default_distances")]
        distances: Vec<LimitDistanceSpec>,
    },
    /// `IsotropicGaussians` with c frozen: the density of r = |w| on [0, max] (Mei et al.'s reduction).
    Radial {
        cells: usize,
        max: f64,
        /// The distances to the limit recorded at every record time (default `[W1]`; `W1`, `W2`).
        #[serde(default = "default_distances")]
        distances: Vec<LimitDistanceSpec>,
    },
    /// The neuronal-embedding ODE (Nguyen–Pham) of a `OneHidden` (mean-field, no bias) or `TwoHidden`
    /// network on any data law: `nodes` quasi-Monte Carlo nodes for the first layer's initial law (for one
    /// hidden layer, the particles'), `c_nodes` for c's (two hidden layers), `data_points` for the data
    /// expectation (moment-matched QMC Gaussian inputs for `TeacherStudent` with Gaussian inputs, a fixed
    /// sample of the data law otherwise), and the integrator's local `tolerance`. Records the particles'
    /// `risk` on the same data points, `W1(…)` of every trained layer's marginal and `risk_limit`.
    Embedding {
        #[serde(default = "default_nodes")]
        nodes: usize,
        #[serde(default = "default_c_nodes")]
        c_nodes: usize,
        #[serde(default = "default_data_points")]
        data_points: usize,
        #[serde(default = "default_tolerance")]
        tolerance: f64,
    },
}

fn default_nodes() -> usize {
    1024
}
fn default_c_nodes() -> usize {
    16
}
fn default_data_points() -> usize {
    4096
}
fn default_tolerance() -> f64 {
    1e-8
}

impl LimitSpec {
    /// The distances the limit's observable records.
    pub fn distances(&self) -> &[LimitDistanceSpec] {
        match self {
            LimitSpec::Grid { distances, .. } | LimitSpec::Radial { distances, .. } => distances,
            LimitSpec::Embedding { .. } => &[LimitDistanceSpec::W1],
        }
    }
}

/// A distance between the particles and the solved limit, recorded as columns of `timeseries.csv`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub enum LimitDistanceSpec {
    /// W1 of every marginal of the grid, exact: columns `W1(c[0])`, `W1(w[0])` (or `W1(|w|)`).
    W1,
    /// W2 of every marginal, exact: columns `W2(…)`.
    W2,
    /// Sliced W2 of the joint law of (c, w) over evenly spread directions of the plane: column
    /// `SW2(c[0],w[0])`. Needs a `Grid` with c trained.
    SlicedW2 { directions: usize },
    /// The energy distance of the joint law of (c, w): column `energy(c[0],w[0])`. Needs a `Grid` with c
    /// trained.
    Energy,
}

fn default_distances() -> Vec<LimitDistanceSpec> {
    vec![LimitDistanceSpec::W1]
}

/// How a `Grid` limit computes the Gaussian kernels U(θ, θ') and V(θ) of its potential.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
pub enum LimitKernels {
    /// Gaussian quadrature of the activation, cut at its kinks: any activation.
    #[default]
    Quadrature,
    /// The exact closed forms of `Identity`, `Relu` and `Erf` units (Cho–Saul, Williams), for a student of
    /// one of these and a teacher of the same units.
    ClosedForm,
}

fn default_seed() -> u64 {
    1
}
fn one() -> usize {
    1
}
fn default_record() -> RecordSpec {
    RecordSpec::LogSpaced(30)
}
fn first_two() -> (usize, usize) {
    (0, 1)
}
fn default_observables() -> Vec<ObservableSpec> {
    vec![ObservableSpec::Risk { samples: 2000 }, ObservableSpec::Moments]
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub enum ModelSpec {
    /// ŷ = N^(−β) Σ c_i σ(w_i·x + b_i).
    OneHidden {
        width: usize,
        activation: ActivationSpec,
        #[serde(default)]
        scaling: Scaling,
        c: BlockSpec,
        w: BlockSpec,
        #[serde(default)]
        b: BlockSpec,
    },
    /// ŷ = (1/N2) Σ_j c_j σ2((1/N1) Σ_i u_ji σ1(w_i·x)), every layer in the mean-field scaling (see
    /// `meanfield_models::two_hidden` for the per-layer steps; `PerNeuron(α)` uses η = α/max(N1, N2)).
    TwoHidden {
        width1: usize,
        width2: usize,
        activation1: ActivationSpec,
        activation2: ActivationSpec,
        /// First layer, N1 × d.
        w: BlockSpec,
        /// Between the layers, N2 × N1.
        u: BlockSpec,
        /// Output weights, N2.
        c: BlockSpec,
    },
    /// Rotskoff–Vanden-Eijnden's kernel particles ŷ = (1/n) Σ c_i φ(x, z_i).
    KernelParticles { width: usize, kernel: KernelSpec, c: BlockSpec, z: BlockSpec },
}

/// The unit φ(x, z) of kernel particles.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub enum KernelSpec {
    /// φ = exp(−|x − z|²/2s²), s = `bandwidth`.
    Gaussian { bandwidth: f64 },
    /// φ = max(0, z·x/|z|): ReLU units with directions on the sphere.
    ReluSphere,
}

impl ModelSpec {
    /// The width that sets `PerNeuron` steps: N, or max(N1, N2).
    pub fn step_width(&self) -> usize {
        match self {
            ModelSpec::OneHidden { width, .. } | ModelSpec::KernelParticles { width, .. } => *width,
            ModelSpec::TwoHidden { width1, width2, .. } => (*width1).max(*width2),
        }
    }
}

/// The prefactor N^(−β).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
pub enum Scaling {
    /// β = 1.
    #[default]
    MeanField,
    /// β = ½ (NTK scaling).
    Lazy,
}

/// A parameter block: trained or frozen, with its initial law; only the bias may be absent.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub enum BlockSpec {
    Trained(InitSpec),
    Frozen(InitSpec),
    #[default]
    Absent,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub enum InitSpec {
    /// N(mean, std²); with `per_sqrt_dim: true` the std is std/√d (κ/√d in Mei et al.). A non-zero `tilt`
    /// h is importance sampling for large deviations: entries are drawn from the law tilted by e^{hθ},
    /// N(mean + h·std², std²), and each replica carries its likelihood ratio, which the `ldp` estimates
    /// use (h = (a − mean)/std² centres the mean of the block at a).
    Gaussian {
        mean: f64,
        std: f64,
        #[serde(default)]
        per_sqrt_dim: bool,
        #[serde(default)]
        tilt: f64,
    },
    Uniform {
        low: f64,
        high: f64,
    },
    Constant(f64),
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub enum DataSpec {
    /// x ~ `inputs` (default N(0, I_d)), y = f*(x) + noise·ε.
    TeacherStudent {
        dim: usize,
        teacher: TeacherSpec,
        #[serde(default)]
        noise: f64,
        #[serde(default)]
        inputs: InputsSpec,
    },
    /// Mei et al.: y = ±1, x | y ~ N(0, (1 + yΔ)² I_d).
    IsotropicGaussians { dim: usize, delta: f64 },
    /// Rows of a CSV (with header) or NPY file; the path is relative to the scenario file.
    Dataset {
        path: String,
        #[serde(default)]
        features: FeaturesSpec,
        target: ColumnSpec,
        #[serde(default)]
        sampling: SamplingSpec,
        /// Input columns to mean 0, variance 1.
        #[serde(default)]
        standardize: bool,
        /// The target to mean 0, variance 1 (risk then in units of its variance).
        #[serde(default)]
        standardize_target: bool,
        /// Fraction of the rows held out (chosen by the seed, the same for every width and replica) for
        /// the risk; 0 (the default) trains and measures on all rows, so the risk is in-sample.
        /// Standardisation uses the training rows only.
        #[serde(default)]
        test_fraction: f64,
    },
    /// P = `size` samples drawn once from `from` (shared by all widths and replicas of a seed), the
    /// training set of full-batch GD; held-out data comes from `from`, so the risk is the population risk.
    Sample {
        size: usize,
        from: Box<DataSpec>,
        #[serde(default = "epochs")]
        sampling: SamplingSpec,
    },
    /// A distribution from a plugin library (see [`crate::plugins::resolve`] for how `lib` is found).
    Plugin {
        lib: String,
        name: String,
        #[serde(default)]
        params: PluginParams,
    },
}

impl DataSpec {
    /// The built-in data laws, for listings.
    pub const BUILTIN_NAMES: &'static [&'static str] = &["TeacherStudent", "IsotropicGaussians", "Dataset", "Sample"];
}

/// An activation: a built-in (the variants of [`BuiltinActivation`], same syntax) or one from a plugin.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub enum ActivationSpec {
    Identity,
    Tanh,
    Relu,
    Sigmoid,
    Erf,
    Softplus,
    Ramp {
        s1: f64,
        s2: f64,
        t1: f64,
        t2: f64,
    },
    Plugin {
        lib: String,
        name: String,
        #[serde(default)]
        params: PluginParams,
    },
}

/// Where an activation comes from: a built-in, or a component of a plugin library.
#[derive(Debug, Clone, Copy)]
pub enum ActivationSource<'a> {
    Builtin(BuiltinActivation),
    Plugin { lib: &'a str, name: &'a str, params: &'a PluginParams },
}

impl ActivationSpec {
    /// The built-in this names, or the plugin component.
    pub fn source(&self) -> ActivationSource<'_> {
        ActivationSource::Builtin(match *self {
            ActivationSpec::Identity => BuiltinActivation::Identity,
            ActivationSpec::Tanh => BuiltinActivation::Tanh,
            ActivationSpec::Relu => BuiltinActivation::Relu,
            ActivationSpec::Sigmoid => BuiltinActivation::Sigmoid,
            ActivationSpec::Erf => BuiltinActivation::Erf,
            ActivationSpec::Softplus => BuiltinActivation::Softplus,
            ActivationSpec::Ramp { s1, s2, t1, t2 } => BuiltinActivation::Ramp { s1, s2, t1, t2 },
            ActivationSpec::Plugin { ref lib, ref name, ref params } => {
                return ActivationSource::Plugin { lib, name, params };
            }
        })
    }

    /// The built-in this names; `None` for a plugin.
    pub fn builtin(&self) -> Option<BuiltinActivation> {
        match self.source() {
            ActivationSource::Builtin(builtin) => Some(builtin),
            ActivationSource::Plugin { .. } => None,
        }
    }
}

/// A plugin's parameters: the RON text exactly as written in the scenario (`()` when left out). The
/// plugin deserializes it itself; the host only carries it, and maps the plugin's line:col back into
/// the scenario file. Plugin parameters cannot be swept (they are text, not numbers, to the host).
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(transparent)]
pub struct PluginParams(Box<RawValue>);

impl PluginParams {
    pub fn text(&self) -> &str {
        self.0.get_ron()
    }
}

impl Default for PluginParams {
    fn default() -> Self {
        PluginParams(RawValue::from_boxed_ron("()".into()).expect("`()` is valid RON"))
    }
}

impl PartialEq for PluginParams {
    fn eq(&self, other: &Self) -> bool {
        self.text() == other.text()
    }
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub enum TeacherSpec {
    /// f*(x) = (1/K) Σ_k a_k σ(w_k·x) with K = `width` units; a ~ N(0, 1) and w ~ N(0, I/d) by default.
    Network {
        width: usize,
        activation: ActivationSpec,
        #[serde(default = "standard_gaussian")]
        a: InitSpec,
        #[serde(default = "isotropic_gaussian")]
        w: InitSpec,
    },
    /// f*(x) = link(w*·x), w* ~ N(0, I/d) by default.
    SingleIndex {
        link: ActivationSpec,
        #[serde(default = "isotropic_gaussian")]
        w: InitSpec,
    },
    /// Rotskoff–Vanden-Eijnden's spherical 3-spin energy f*(x) = Σ_pqr a_pqr x_p x_q x_r with a_pqr i.i.d.
    /// N(0, 1) drawn from the seed (use `inputs: Sphere`, where E_a f*² = 1).
    ThreeSpin,
    /// f*(x) = Σ_k weight_k N(x; centre_k, variance_k) for 1-D inputs (`dim: 1`); the defaults are the
    /// RBF-particle example: centres −2, 0, 2, variances 0.5, 1, 0.5, weights 1, −2, 1.
    /// f*(x) = b*·x with the given coefficients b* (as many as `dim`), fixed rather than drawn.
    Linear { coefficients: Vec<f64> },
    Mixture {
        #[serde(default = "mixture_centres")]
        centres: Vec<f64>,
        #[serde(default = "mixture_variances")]
        variances: Vec<f64>,
        #[serde(default = "mixture_weights")]
        weights: Vec<f64>,
    },
}

fn mixture_centres() -> Vec<f64> {
    vec![-2.0, 0.0, 2.0]
}
fn mixture_variances() -> Vec<f64> {
    vec![0.5, 1.0, 0.5]
}
fn mixture_weights() -> Vec<f64> {
    vec![1.0, -2.0, 1.0]
}

/// The law of the inputs of teacher–student data.
#[derive(Debug, Clone, Copy, Default, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub enum InputsSpec {
    /// x ~ N(0, I_d).
    #[default]
    Gaussian,
    /// x uniform on the unit sphere S^(d−1).
    Sphere,
    /// Every coordinate uniform on [low, high).
    Uniform { low: f64, high: f64 },
}

fn epochs() -> SamplingSpec {
    SamplingSpec::Epochs
}

fn standard_gaussian() -> InitSpec {
    InitSpec::Gaussian { mean: 0.0, std: 1.0, per_sqrt_dim: false, tilt: 0.0 }
}
fn isotropic_gaussian() -> InitSpec {
    InitSpec::Gaussian { mean: 0.0, std: 1.0, per_sqrt_dim: true, tilt: 0.0 }
}

#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub enum FeaturesSpec {
    #[default]
    AllExceptTarget,
    Columns(Vec<ColumnSpec>),
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub enum ColumnSpec {
    Name(String),
    Index(usize),
}

#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
pub enum SamplingSpec {
    #[default]
    WithReplacement,
    Epochs,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub enum DynamicsSpec {
    /// One fresh sample per step.
    OnlineSgd { step: StepRule },
    /// The average update of `batch` fresh samples per step (a number, or `Scaled(b0:, exponent:)`).
    MinibatchSgd { step: StepRule, batch: BatchSpec },
    /// Gradient descent on the whole of a finite data set (`Dataset` or `Sample`, with `sampling: Epochs`):
    /// every step averages the update over all P rows.
    FullBatchGd { step: StepRule },
    /// Gradient flow θ' = E[(y − ŷ) ∂u/∂θ] on the population loss `training` (SGD's limit of small steps),
    /// integrated by an embedded Runge–Kutta 5(4) scheme to the relative `tolerance` per step; records and
    /// the horizon are in its physical time, one step being `interval` of it.
    GradientFlow {
        training: PopulationSpec,
        #[serde(default = "one_unit_of_time")]
        interval: f64,
        #[serde(default = "flow_tolerance")]
        tolerance: f64,
    },
    /// θ ← (1 − ηλ)θ + η·direction + √(2ητ) g (Mei et al.'s noisy SGD).
    NoisySgd {
        step: StepRule,
        #[serde(default)]
        batch: BatchSpec,
        #[serde(default)]
        weight_decay: f64,
        #[serde(default)]
        temperature: f64,
    },
}

impl DynamicsSpec {
    /// The step rule; gradient flow's steps are its `interval`s of physical time.
    pub fn step(&self) -> StepRule {
        match self {
            DynamicsSpec::OnlineSgd { step }
            | DynamicsSpec::MinibatchSgd { step, .. }
            | DynamicsSpec::NoisySgd { step, .. }
            | DynamicsSpec::FullBatchGd { step } => *step,
            DynamicsSpec::GradientFlow { interval, .. } => StepRule::Fixed(*interval),
        }
    }

    /// The batch as written: 1 for online SGD, `None` for full-batch GD (its batch is the data's rows).
    pub fn batch(&self) -> Option<BatchSpec> {
        match self {
            DynamicsSpec::OnlineSgd { .. } => Some(BatchSpec::Fixed(1)),
            DynamicsSpec::MinibatchSgd { batch, .. } | DynamicsSpec::NoisySgd { batch, .. } => Some(*batch),
            DynamicsSpec::FullBatchGd { .. } | DynamicsSpec::GradientFlow { .. } => None,
        }
    }
}

/// The population loss of gradient flow's `training` and of the `PopulationRisk` observable.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub enum PopulationSpec {
    /// Exact: Gaussian `KernelParticles` learning a `Mixture` teacher on `Uniform` inputs (Gaussian
    /// integrals with erf terms over the interval).
    ClosedForm,
    /// A fixed set of `size` samples of the data law, drawn once per seed from a stream of its own: gradient
    /// flow's training set and `PopulationRisk`'s evaluation set are different samples, and neither is
    /// what SGD trains on. For teacher–student data the targets are the teacher's, without label noise.
    Sample { size: usize },
}

fn one_unit_of_time() -> f64 {
    1.0
}
fn flow_tolerance() -> f64 {
    1e-8
}

/// How long to run: a physical time T or a number of steps.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub enum Horizon {
    Time(f64),
    Steps(u64),
}

#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub enum RecordSpec {
    /// Every Δt of physical time.
    Every(f64),
    /// n log-spaced times (plus t = 0).
    LogSpaced(usize),
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub enum ObservableSpec {
    /// ½ E(y − ŷ)² on a held-out sample of `samples` points drawn once per replica.
    Risk { samples: usize },
    /// The population loss ½ E(f − ŷ)² in closed form or on a fixed evaluation set (column
    /// `population_risk`): `PopulationRisk(ClosedForm)` or `PopulationRisk(Sample(size: 100000))`.
    PopulationRisk(PopulationSpec),
    /// The represented function ŷ at fixed inputs (each a list of `dim` numbers): columns `yhat(0)`, ….
    Predictions { at: Vec<Vec<f64>> },
    /// Mean and second moment of every block's entries.
    Moments,
    /// (1/n) Σ (θ − θ̄)² of every block's n entries (columns `var(c)`, `var(w)`, …).
    Variances,
    /// Density histogram of a per-particle statistic.
    Histogram { of: Statistic, bins: usize, range: (f64, f64) },
    /// (1/N) Σ φ(θ_i) for each test function.
    Averages(Vec<TestFunction>),
    /// The statistic of two tagged particles; the summary gives their correlation across replicas
    /// (propagation of chaos). Particles (0, 1) by default.
    Tagged {
        of: Statistic,
        #[serde(default = "first_two")]
        particles: (usize, usize),
    },
    /// Dependence between the first-layer particles w_i and the second-layer particles c_j of a
    /// `TwoHidden` network across replicas (a normalised HSIC with a Gaussian kernel of the given
    /// bandwidths, approximated by `features` random Fourier features per layer); the summary gives it
    /// with its standard error and null level at every record time.
    LayerDependence {
        #[serde(default = "default_features")]
        features: usize,
        #[serde(default = "unit_bandwidths")]
        bandwidths: (f64, f64),
    },
}

fn default_features() -> usize {
    16
}

fn unit_bandwidths() -> (f64, f64) {
    (1.0, 1.0)
}

/// Values to sweep; the points are the Cartesian product (width outermost, seeds innermost).
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, rename = "Sweep")]
pub struct SweepSpec {
    /// Widths N (sets `model.width`).
    #[serde(default)]
    pub width: Option<Vec<usize>>,
    /// Seeds, each a full independent repetition of the experiment.
    #[serde(default)]
    pub seeds: Option<Vec<u64>>,
    /// Any field by dotted path, with values in RON syntax: numbers (`("dynamics.step", [0.5, 1.0])`,
    /// `("data.noise", [0.0, 0.1])`) or any value of the field (`("model.activation", [Tanh, Relu])`).
    #[serde(default)]
    pub fields: Vec<(String, Vec<SweepValue>)>,
}

/// A swept value, in RON syntax as written (the field it sets gives it its type when a point is made).
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(transparent)]
pub struct SweepValue(Box<RawValue>);

impl SweepValue {
    /// A value from its RON text; `None` when the text is not one RON value.
    pub fn new(ron: &str) -> Option<SweepValue> {
        RawValue::from_boxed_ron(ron.into()).ok().map(SweepValue)
    }

    pub fn text(&self) -> &str {
        self.0.get_ron().trim()
    }

    /// The value as a number, when it is written as one.
    pub fn number(&self) -> Option<f64> {
        let text = self.text();
        crate::compose::tree::is_number(text).then(|| text.replace('_', "").parse().ok()).flatten()
    }
}

impl From<f64> for SweepValue {
    fn from(v: f64) -> Self {
        SweepValue::new(&format!("{v:?}")).expect("a float's Debug form is RON")
    }
}

impl PartialEq for SweepValue {
    fn eq(&self, other: &Self) -> bool {
        self.text() == other.text()
    }
}

/// How a snapshot test (`meanfield snapshot`, `meanfield::testing`) records and compares the scenario's
/// headline numbers.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, rename = "Snapshot")]
pub struct SnapshotSpec {
    /// Significant digits every number is rounded to (1 ..= 17): enough to see a real change, few
    /// enough that another platform's libm (last-bit differences amplified by SGD) does not.
    #[serde(default = "default_snapshot_digits")]
    pub digits: usize,
    #[serde(default)]
    pub tolerance: SnapshotTolerance,
}

impl Default for SnapshotSpec {
    fn default() -> Self {
        SnapshotSpec { digits: default_snapshot_digits(), tolerance: SnapshotTolerance::Exact }
    }
}

fn default_snapshot_digits() -> usize {
    6
}

/// When a new snapshot matches the stored one.
#[derive(Debug, Clone, Copy, Default, PartialEq, Serialize, Deserialize)]
pub enum SnapshotTolerance {
    /// Every number equal after rounding.
    #[default]
    Exact,
    /// A number with a standard error may move by up to k standard errors; the others as `Exact`.
    StdErr(f64),
}
