//! The checked scenario (linfa's pattern: unchecked parameters → `check` → valid parameters). A parsed
//! [`ScenarioSpec`] has every value validated ([`crate::check`]), its sweep expanded into points, and each
//! point resolved into parameters of the valid types: the data law built (a file read, a plugin instance
//! made), the model's configuration checked with its block layout and initial laws (or the quenched
//! configuration read), the SGD settings with their batch, the step schedule, the observables, and the
//! limit problem. Every failure on the way names the field (and its line) in the scenario. Building a run
//! from a [`CheckedScenario`] (`CheckedScenario::plans`, in `crate::build`) cannot fail.

pub mod budget;
mod components;
mod embedding;
mod limit;
mod observables;
pub(crate) mod population;
mod source;

pub use source::canonical;
pub(crate) use source::{Locator, read_scenario_file};

use crate::check::{self, Point};
use crate::compose::{Composed, Override};
use crate::error::ScenarioError;
use crate::plugins::{self, PluginError};
use crate::spec::*;
use components::{ResolveContext, data, model};
use limit::limit_problem;
use meanfield_core::{Block, DataDistribution, FaultLog, InitLaw, Observable, SgdSettings};
use meanfield_dynamics::{PointPlan, Schedule};
use meanfield_limit::distance::GridDensity;
use meanfield_limit::{
    Distance, EmbeddingDistance, EmbeddingProblem, EmbeddingSolution, LIMIT_RISK_COLUMN, LimitDistance, LimitProblem,
    LimitSolution,
};
use meanfield_models::{Checked, KernelConfig, OneHiddenConfig, TwoHiddenConfig};
use meanfield_samplers as samplers;
use rayon::prelude::*;
use sha2::{Digest, Sha256};
use std::path::{Path, PathBuf};
use std::sync::Arc;

/// A scenario whose every value was checked and whose points were resolved into valid parameters.
#[derive(Debug, Clone)]
pub struct CheckedScenario {
    pub spec: ScenarioSpec,
    /// The text it was read from (kept for the manifest and error messages).
    pub text: String,
    /// The file name, or `<embedded default>`.
    pub origin: String,
    /// Data file paths are relative to this directory (the scenario file's).
    pub base_dir: PathBuf,
    pub points: Vec<CheckedPoint>,
    /// The memory the run needs in this process, estimated before anything was allocated, and the budget.
    pub memory: budget::MemoryReport,
    /// The distinct limit problems of the points, each with the PDE times it is needed at and its points.
    limit_groups: Vec<LimitGroup>,
    /// One line per deprecated name the text used (it was read under the new one): the commands print
    /// them as warnings.
    pub deprecations: Vec<String>,
    /// The `--set` overrides it was read with (a resume command repeats them).
    pub overrides: Vec<Override>,
    /// The scenario composed from the files it extends and the overrides (`None`: the file as written),
    /// which places errors in the file and line where each value was written.
    composed: Option<Arc<Composed>>,
}

/// A distinct limit problem of a scenario, the PDE times it is needed at, and the points that share it.
#[derive(Debug, Clone)]
struct LimitGroup {
    problem: GroupProblem,
    times: Vec<f64>,
    members: Vec<usize>,
}

/// A limit problem of either solver.
#[derive(Debug, Clone)]
enum GroupProblem {
    Grid(LimitProblem),
    Embedding(EmbeddingProblem),
}

/// A solved limit: a grid PDE's or the neuronal embedding's.
#[derive(Debug, Clone)]
pub enum SolvedLimit {
    Grid(Arc<LimitSolution>),
    Embedding(Arc<EmbeddingSolution>),
}

impl SolvedLimit {
    /// The limit's risk at every solved time.
    pub fn risk(&self) -> &[f64] {
        match self {
            SolvedLimit::Grid(s) => &s.risk,
            SolvedLimit::Embedding(s) => &s.risk,
        }
    }

    /// The marginal densities (statistic label, density) at time `time` (k·η), if it was solved there.
    pub fn densities(&self, time: f64) -> Option<Vec<(String, GridDensity)>> {
        match self {
            SolvedLimit::Grid(s) => {
                let snapshot = s.snapshot(time)?;
                let labels = s.marginals.iter().map(|m| m.statistic.label());
                Some(labels.zip(s.marginal_densities[snapshot].iter().cloned()).collect())
            }
            SolvedLimit::Embedding(s) => Some(s.densities(s.snapshot(time)?)),
        }
    }
}

/// Plans with the solved limit of each (`None` where the point has none).
pub type PlansWithLimits = (Vec<PointPlan>, Vec<Option<SolvedLimit>>);

/// One sweep point with every parameter resolved.
#[derive(Debug, Clone)]
pub struct CheckedPoint {
    /// The values that distinguish it (`width=256,seed=2`), see [`meanfield_core::label`].
    pub label: String,
    /// The swept coordinates the label names, in sweep order.
    pub coordinates: Vec<meanfield_core::Coordinate>,
    pub seed: u64,
    /// The scenario with this point's swept values filled in.
    pub spec: ScenarioSpec,
    pub data: Arc<dyn DataDistribution>,
    pub model: CheckedModel,
    /// The SGD settings at the point's width, with the batch (a full batch is the data's rows).
    pub settings: SgdSettings,
    pub schedule: StepSchedule,
    pub initial: InitialWeights,
    pub observables: Vec<Arc<dyn Observable>>,
    /// Where this point's components (plugins) record failures that they turn into NaN.
    pub faults: Arc<FaultLog>,
    /// The point's gradient flow, when its dynamics is `GradientFlow`.
    pub flow: Option<population::Flow>,
}

/// A point's steps: the horizon, the record steps and the particle steps, in steps of its rule.
#[derive(Debug, Clone, PartialEq)]
pub struct StepSchedule {
    /// At least 1.
    pub steps: u64,
    /// Physical time per step (t = k·η for `Fixed(η)`, k/N for `PerNeuron`).
    pub time_per_step: f64,
    /// Sorted, the last is `steps`.
    pub record_steps: Vec<u64>,
    /// Record steps at which replicas `0..particle_replicas` keep their parameters.
    pub particle_steps: Vec<u64>,
    pub particle_replicas: usize,
}

/// A point's model: its checked configuration, parameter layout, initial laws and description.
#[derive(Debug, Clone)]
pub struct CheckedModel {
    pub kind: ModelKind,
    pub blocks: Vec<Block>,
    /// The initial law of each block, in storage order.
    pub laws: Vec<Arc<dyn InitLaw>>,
    pub name: String,
}

/// Which network, with its checked configuration.
#[derive(Debug, Clone)]
pub enum ModelKind {
    /// `builtin_tanh`: the activation is the built-in tanh.
    OneHidden {
        config: Checked<OneHiddenConfig>,
        builtin_tanh: bool,
    },
    TwoHidden(Checked<TwoHiddenConfig>),
    Kernel(Checked<KernelConfig>),
}

/// How the replicas of a point get their initial weights.
#[derive(Debug, Clone)]
pub enum InitialWeights {
    /// Drawn from the blocks' laws (each replica's own, or replica 0's for a quenched ensemble).
    Drawn { quenched: bool },
    /// One configuration, read from a file, for every replica.
    Configuration(Arc<[f64]>),
}

/// Why a point could not be resolved.
#[derive(Debug)]
pub(crate) enum ResolveError {
    Data(samplers::DatasetError),
    /// A value that only the built data law shows to be out of range.
    Invalid(check::Invalid),
    /// The model's dimensions do not fit (which the checks should have refused first).
    Model(String),
    /// The scenario's `limit` does not fit its model and data, or could not be solved.
    Limit(String),
    /// The quenched configuration file does not fit the model.
    Configuration(samplers::DatasetError),
    /// A plugin at `path` (the dotted path of its reference in the scenario) failed to load or build.
    Plugin {
        path: String,
        params: String,
        source: Box<PluginError>,
    },
}

impl CheckedScenario {
    /// Parses, checks and resolves scenario `text` (from `origin`; relative paths start at `base_dir`):
    /// reads its data files and loads its plugins.
    pub fn from_text(text: &str, origin: &str, base_dir: &Path) -> Result<CheckedScenario, ScenarioError> {
        CheckedScenario::from_text_with(text, origin, base_dir, &[])
    }

    /// [`CheckedScenario::from_text`] with the files `text` extends and `overrides` applied.
    pub fn from_text_with(
        text: &str,
        origin: &str,
        base_dir: &Path,
        overrides: &[Override],
    ) -> Result<CheckedScenario, ScenarioError> {
        CheckedScenario::from_text_as(text, origin, base_dir, overrides, budget::Holding::Whole)
    }

    /// [`CheckedScenario::from_text_with`] for a process that holds `holding` of the run's results (a
    /// shard, a merge): what its memory is checked against.
    pub fn from_text_as(
        text: &str,
        origin: &str,
        base_dir: &Path,
        overrides: &[Override],
        holding: budget::Holding,
    ) -> Result<CheckedScenario, ScenarioError> {
        let composed = crate::compose::compose(text, origin, base_dir, overrides)?.map(Arc::new);
        let locator = Locator { origin, text, composed: composed.as_deref() };
        let mut spec = match &composed {
            None => crate::parse::parse(text, origin)?,
            Some(c) => crate::parse::parse_located(&c.text, origin, |line, col| c.location_at(line, col))?,
        };
        let deprecations = crate::parse::upgrade(&mut spec, &locator)?;
        let locate = |invalid: check::Invalid, point: Option<&Point>| {
            let (message, location_path) = match point {
                Some(p) if !p.label.is_empty() => {
                    let by_width = invalid.path.starts_with("model.width") && spec.sweep.width.is_some();
                    let sweep_path = if by_width { "sweep.width" } else { "sweep.fields" };
                    (format!("{} (in sweep point '{}')", invalid.message, p.label), sweep_path.to_owned())
                }
                _ => (invalid.message, invalid.path.clone()),
            };
            ScenarioError::Invalid {
                origin: origin.to_owned(),
                location: locator.field(&location_path),
                path: invalid.path,
                message,
            }
        };
        check::validate(&spec).map_err(|e| locate(e, None))?;
        let memory = budget::within_budget(&spec, base_dir, holding).map_err(|e| locate(e, None))?;
        let points = check::expand(&spec).map_err(|e| locate(e, None))?;
        for point in &points {
            check::validate(&point.spec).map_err(|e| locate(e, Some(point)))?;
        }
        let mut scenario = CheckedScenario {
            spec,
            text: text.to_owned(),
            origin: origin.to_owned(),
            base_dir: base_dir.to_owned(),
            points: Vec::new(),
            memory,
            limit_groups: Vec::new(),
            deprecations,
            overrides: overrides.to_vec(),
            composed: composed.clone(),
        };
        // A plugin's data dimension is known once its first instance is built (it is the same at every
        // point: plugin parameters cannot be swept). The estimate, which took it as 1, is made again with
        // it then, before anything is sized by it.
        let mut memory = None;
        let mut dimension_known = |dim: usize| -> Result<(), ResolveError> {
            if memory.is_none() && has_plugin_data(&scenario.spec.data) {
                let report = scenario.memory.with_plugin_dim(&scenario.spec, &scenario.base_dir, dim);
                memory = Some(report.map_err(ResolveError::Invalid)?);
            }
            Ok(())
        };
        let resolved: Vec<CheckedPoint> = points
            .into_iter()
            .map(|point| resolve(point, &scenario.base_dir, &mut dimension_known).map_err(|e| scenario.error(e)))
            .collect::<Result<_, _>>()?;
        if let Some(memory) = memory {
            scenario.memory = memory;
        }
        scenario.points = resolved;
        scenario.limit_groups = scenario.limit_groups().map_err(|e| scenario.error(e))?;
        scenario.check_ldp_column()?;
        Ok(scenario)
    }

    /// The `ldp` section reads a recorded column (the limit's columns are added when it is solved).
    fn check_ldp_column(&self) -> Result<(), ScenarioError> {
        let (Some(ldp), Some(point)) = (&self.spec.ldp, self.points.first()) else { return Ok(()) };
        let from_limit =
            self.spec.limit.is_some() && (ldp.column.starts_with("W1(") || ldp.column == LIMIT_RISK_COLUMN);
        let columns: Vec<String> = point.observables.iter().flat_map(|o| o.columns()).collect();
        if from_limit || columns.contains(&ldp.column) {
            return Ok(());
        }
        Err(ScenarioError::Invalid {
            origin: self.origin.clone(),
            location: self.locator().field("ldp.column"),
            path: "ldp.column".into(),
            message: format!("'{}' is not recorded; the columns are: {}", ldp.column, columns.join(", ")),
        })
    }

    /// Solves the limit of every group of points that share one (they differ only in width, replicas or
    /// step rule) at the PDE times k·η of all their record steps, and adds a `LimitDistance` observable to
    /// each of their plans; returns the plans with each point's solution (`None` without a limit). The
    /// solves run in parallel on the current rayon pool; each is deterministic, so the thread count does not
    /// change the results.
    pub fn with_limits(&self, mut plans: Vec<PointPlan>) -> Result<PlansWithLimits, ScenarioError> {
        let mut limits = vec![None; plans.len()];
        let solutions: Vec<_> = self
            .limit_groups
            .par_iter()
            .map(|g| match &g.problem {
                GroupProblem::Grid(p) => p.solve(&g.times).map(|s| SolvedLimit::Grid(Arc::new(s))),
                GroupProblem::Embedding(p) => p.solve(&g.times).map(|s| SolvedLimit::Embedding(Arc::new(s))),
            })
            .collect();
        let distances: Vec<Distance> = self
            .spec
            .limit
            .iter()
            .flat_map(|l| l.distances())
            .map(|d| match *d {
                LimitDistanceSpec::W1 => Distance::W1,
                LimitDistanceSpec::W2 => Distance::W2,
                LimitDistanceSpec::SlicedW2 { directions } => Distance::SlicedW2 { directions },
                LimitDistanceSpec::Energy => Distance::Energy,
            })
            .collect();
        for (group, solution) in self.limit_groups.iter().zip(solutions) {
            let solution =
                solution.map_err(|e| self.error(ResolveError::Limit(format!("cannot solve the limit: {e}"))))?;
            for &m in &group.members {
                let step_size = plans[m].info.step_size;
                let observable: Arc<dyn Observable> = match &solution {
                    SolvedLimit::Grid(s) => Arc::new(
                        LimitDistance::new(s.clone(), step_size, distances.clone())
                            .map_err(|message| self.error(ResolveError::Limit(message)))?,
                    ),
                    SolvedLimit::Embedding(s) => Arc::new(EmbeddingDistance::new(s.clone(), step_size)),
                };
                plans[m].observables.push(observable);
                limits[m] = Some(solution.clone());
            }
        }
        Ok((plans, limits))
    }

    /// The distinct limit problems of the points, each with the PDE times it is needed at and its points.
    fn limit_groups(&self) -> Result<Vec<LimitGroup>, ResolveError> {
        if self.spec.limit.is_none() {
            return Ok(Vec::new());
        }
        let mut groups: Vec<(String, Vec<usize>)> = Vec::new();
        for (index, point) in self.points.iter().enumerate() {
            let mut key_spec = point.spec.clone();
            match &mut key_spec.model {
                ModelSpec::OneHidden { width, .. } => *width = 0,
                ModelSpec::TwoHidden { width1, width2, .. } => (*width1, *width2) = (0, 0),
                ModelSpec::KernelParticles { .. } => {}
            }
            let key = format!("{:?}|{:?}|{:?}|{}", key_spec.model, key_spec.data, key_spec.limit, point.seed)
                + &match key_spec.dynamics {
                    DynamicsSpec::NoisySgd { weight_decay, temperature, .. } => {
                        format!("|{weight_decay}|{temperature}")
                    }
                    _ => String::new(),
                };
            match groups.iter_mut().find(|(k, _)| *k == key) {
                Some((_, members)) => members.push(index),
                None => groups.push((key, vec![index])),
            }
        }
        let mut problems = Vec::with_capacity(groups.len());
        for (_, members) in groups {
            let first = &self.points[members[0]];
            let faults = Arc::new(FaultLog::default());
            let ctx = ResolveContext { base_dir: &self.base_dir, faults: &faults };
            let problem = match first.spec.limit {
                Some(LimitSpec::Embedding { .. }) => {
                    GroupProblem::Embedding(embedding::embedding_problem(&first.spec, first.seed, &first.data, &ctx)?)
                }
                _ => GroupProblem::Grid(limit_problem(&first.spec, first.seed, &ctx)?),
            };
            let mut times: Vec<f64> = members
                .iter()
                .flat_map(|&m| {
                    let point = &self.points[m];
                    point.schedule.record_steps.iter().map(|&k| k as f64 * point.settings.eta).collect::<Vec<_>>()
                })
                .collect();
            times.sort_by(f64::total_cmp);
            times.dedup();
            problems.push(LimitGroup { problem, times, members });
        }
        Ok(problems)
    }

    fn locator(&self) -> Locator<'_> {
        Locator { origin: &self.origin, text: &self.text, composed: self.composed.as_deref() }
    }

    fn error(&self, error: ResolveError) -> ScenarioError {
        let invalid = |path: &str, message: String| ScenarioError::Invalid {
            origin: self.origin.clone(),
            location: self.locator().field(path),
            path: path.into(),
            message,
        };
        match error {
            ResolveError::Data(error) => ScenarioError::Data { origin: self.origin.clone(), error },
            ResolveError::Invalid(check::Invalid { path, message }) => invalid(&path, message),
            ResolveError::Model(message) => invalid("model", message),
            ResolveError::Configuration(error) => invalid("ensemble", error.to_string()),
            ResolveError::Limit(message) => invalid("limit", message),
            ResolveError::Plugin { path, params, source: error } => {
                // A parameter error inside the plugin points into the params text, else at the reference.
                let location = match error.as_ref() {
                    plugins::PluginError::Rejected { line, col, .. } if *line > 0 => {
                        self.locator().within(&format!("{path}.params"), &params, *line as usize, *col as usize)
                    }
                    _ => None,
                }
                .or_else(|| self.locator().field(&format!("{path}.name")))
                .or_else(|| self.locator().field(&path));
                ScenarioError::Plugin { origin: self.origin.clone(), path, location, error }
            }
        }
    }

    /// The root of this scenario's run directories: `output`, or `results/<name>` (both checked to stay
    /// where they say: `name` is one path component, `output` has no `..`). Each run gets a new directory
    /// under it unless told where to write.
    pub fn output_dir(&self) -> PathBuf {
        PathBuf::from(self.spec.output.clone().unwrap_or_else(|| format!("results/{}", self.spec.name)))
    }

    /// The scenario fully resolved (the files it extends merged, the overrides applied, every default
    /// filled in) as canonical RON: what `meanfield show` prints, the manifest stores and the hash is of.
    /// Reading it back gives the same scenario. (Text a plugin's `params` hold is kept as written.)
    pub fn canonical(&self) -> String {
        canonical(&self.spec)
    }

    /// SHA-256 (hex) of [`CheckedScenario::canonical`]: comments, layout, the spelling of numbers and how
    /// the scenario was composed do not change it; any value does.
    pub fn sha256(&self) -> String {
        Sha256::digest(self.canonical().as_bytes()).iter().map(|b| format!("{b:02x}")).collect()
    }
}

fn has_plugin_data(data: &DataSpec) -> bool {
    match data {
        DataSpec::Plugin { .. } => true,
        DataSpec::Sample { from, .. } => has_plugin_data(from),
        _ => false,
    }
}

/// Resolves one sweep point: builds its data law (reading a file, making a plugin instance), tells
/// `dimension_known` the data's dimension, checks its observables against it, and resolves its model, SGD settings, step schedule, initial
/// weights and observables.
fn resolve(
    point: Point,
    base_dir: &Path,
    dimension_known: &mut dyn FnMut(usize) -> Result<(), ResolveError>,
) -> Result<CheckedPoint, ResolveError> {
    let Point { label, coordinates, seed, spec } = point;
    let faults = Arc::new(FaultLog::default());
    let ctx = ResolveContext { base_dir, faults: &faults };
    let data = data(&spec.data, seed, &ctx)?;
    let dim = data.dim();
    dimension_known(dim)?;
    check::validate_observables(&spec, Some(dim)).map_err(ResolveError::Invalid)?;
    let width = spec.model.step_width();
    let settings = match &spec.dynamics {
        DynamicsSpec::OnlineSgd { step } => SgdSettings::new(*step, width, 1, 0.0, 0.0),
        DynamicsSpec::FullBatchGd { step } => {
            let rows = data.size().ok_or_else(|| {
                ResolveError::Invalid(check::Invalid {
                    path: "dynamics".into(),
                    message: "FullBatchGd needs finite data: a Dataset or a Sample(size:, from:)".into(),
                })
            })?;
            SgdSettings::new(*step, width, rows, 0.0, 0.0)
        }
        DynamicsSpec::MinibatchSgd { step, batch } => {
            SgdSettings::new(*step, width, resolved(*batch, width)?, 0.0, 0.0)
        }
        DynamicsSpec::NoisySgd { step, batch, weight_decay, temperature } => {
            SgdSettings::new(*step, width, resolved(*batch, width)?, *weight_decay, *temperature)
        }
        DynamicsSpec::GradientFlow { training, .. } => population::settings(&spec, *training, width),
    };
    check::dynamics::check_batch_rows(&spec, settings.batch, data.size()).map_err(ResolveError::Invalid)?;
    let model = model(&spec.model, dim, settings.batch, &ctx)?;
    let schedule = schedule(&spec, &settings, width);
    check_times(&spec, &schedule, &label).map_err(ResolveError::Invalid)?;
    let initial = match &spec.ensemble {
        EnsembleSpec::QuenchedFrom(path) => {
            let configuration = samplers::read_configuration(&base_dir.join(path), &model.blocks)
                .map_err(ResolveError::Configuration)?;
            InitialWeights::Configuration(configuration.into())
        }
        EnsembleSpec::Quenched => InitialWeights::Drawn { quenched: true },
        EnsembleSpec::Annealed => InitialWeights::Drawn { quenched: false },
    };
    let observables = observables::observables(&spec, &data, seed, &ctx)?;
    let flow = population::flow(&spec, &data, seed, &ctx)?;
    Ok(CheckedPoint {
        label,
        coordinates,
        seed,
        spec,
        data,
        model,
        settings,
        schedule,
        initial,
        observables,
        faults,
        flow,
    })
}

/// The batch at the point's width (`check::validate` refused the rules that give none; this says so again
/// rather than assume it).
fn resolved(batch: BatchSpec, width: usize) -> Result<usize, ResolveError> {
    batch
        .at_width(width)
        .map_err(|message| ResolveError::Invalid(check::Invalid { path: "dynamics.batch".into(), message }))
}

/// The times a scenario asks for lie in [0, T], T the point's horizon in time: a later time would be
/// silently read at the last record instead.
fn check_times(spec: &ScenarioSpec, schedule: &StepSchedule, label: &str) -> Result<(), check::Invalid> {
    let horizon = schedule.steps as f64 * schedule.time_per_step;
    // Half a step of slack: a time equal to a written `horizon: Time(t)` is the last step even where the
    // horizon was rounded to whole steps.
    let latest = horizon + schedule.time_per_step / 2.0;
    let point = if label.is_empty() { String::new() } else { format!(" at sweep point '{label}'") };
    let mut times: Vec<(&str, f64)> = Vec::new();
    if let Some(ldp) = &spec.ldp {
        times.push(("ldp.time", ldp.time));
        times.extend(ldp.average_from.map(|t| ("ldp.average_from", t)));
    }
    if let Some(study) = &spec.study {
        times.extend(study.times().iter().map(|&t| ("study.times", t)));
    }
    if let Some(particles) = &spec.outputs.particles {
        times.extend(particles.times.iter().map(|&t| ("outputs.particles.times", t)));
    }
    match times.into_iter().find(|&(_, t)| !(0.0..=latest).contains(&t)) {
        Some((path, t)) => Err(check::Invalid {
            path: path.into(),
            message: format!("{t} lies outside the run's times [0, {horizon}]{point}: give a time within the horizon"),
        }),
        None => Ok(()),
    }
}

/// The steps of a point: its horizon, rounded to steps once; its record steps; the record steps nearest
/// the particle times.
fn schedule(spec: &ScenarioSpec, settings: &SgdSettings, width: usize) -> StepSchedule {
    let time_per_step = settings.rule.time_per_step(width);
    let steps = match spec.horizon {
        Horizon::Time(t) => (t / time_per_step).round() as u64,
        Horizon::Steps(n) => n,
    };
    let schedule = match spec.record {
        RecordSpec::Every(dt) => Schedule::Every(dt),
        RecordSpec::LogSpaced(n) => Schedule::LogSpaced(n),
    };
    let record_steps = schedule.steps(steps, settings.rule, width);
    let (particle_steps, particle_replicas) = match &spec.outputs.particles {
        Some(particles) => {
            let times = record_steps.iter().map(|&s| s as f64 * time_per_step);
            let mut chosen: Vec<u64> = particles
                .times
                .iter()
                .filter_map(|&t| meanfield_core::nearest_time(times.clone(), t).map(|i| record_steps[i]))
                .collect();
            chosen.sort_unstable();
            chosen.dedup();
            // `check::validate` refused more particle replicas than the point has.
            (chosen, particles.replicas)
        }
        None => (Vec::new(), 0),
    };
    StepSchedule { steps, time_per_step, record_steps, particle_steps, particle_replicas }
}
