//! Checked scenario point → the components the executor runs.

use crate::check::{Point, model_blocks};
use crate::plugins::{self, PluginError};
use crate::spec::*;
use meanfield_core::{
    Activation, Block, DataDistribution, Dynamics, FaultLog, InitLaw, Model, Observable, PointInfo, Purpose,
    SgdSettings, StreamKey, TAGGED_COLUMN_PREFIX,
};
use meanfield_dynamics::{
    Averages, Histogram, Initializer, LayerDependence, ModelBuilder, Moments, PointPlan, Risk, Schedule, Sgd, Tagged,
    Variances,
};
use meanfield_ldp::Study;
use meanfield_limit::{LIMIT_RISK_COLUMN, Law, LimitData, LimitProblem, OutputWeights, Unit};
use meanfield_models::{
    Kernel, KernelConfig, KernelParticles, OneHidden, OneHiddenConfig, OneHiddenSgd, TwoHidden, TwoHiddenConfig,
};
use meanfield_samplers as samplers;
use std::path::Path;
use std::sync::Arc;

/// Why a point's components could not be built.
#[derive(Debug)]
pub(crate) enum BuildError {
    Data(samplers::DatasetError),
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

/// What building needs besides the spec: where relative paths start and where plugins record faults.
pub(crate) struct BuildContext<'a> {
    pub base_dir: &'a Path,
    pub faults: &'a Arc<FaultLog>,
}

fn plugin_error(path: &str, params: &str) -> impl FnOnce(PluginError) -> BuildError {
    move |source| BuildError::Plugin { path: path.to_owned(), params: params.to_owned(), source: Box::new(source) }
}

fn activation(spec: &ActivationSpec, path: &str, ctx: &BuildContext<'_>) -> Result<Arc<dyn Activation>, BuildError> {
    match spec {
        ActivationSpec::Plugin { lib, name, params } => {
            let error = |e| plugin_error(path, params.text())(e);
            let library = plugins::resolve(lib, ctx.base_dir).and_then(|p| plugins::open(&p)).map_err(error)?;
            let built = library.activation(name, params.text(), ctx.faults.clone()).map_err(error)?;
            Ok(Arc::new(built))
        }
        builtin => Ok(Arc::new(builtin.builtin().expect("every other variant is a built-in"))),
    }
}

/// The initial law of a block; `per_sqrt_dim` standard deviations are divided by √d here.
fn init_law(spec: &InitSpec, dim: usize) -> Arc<dyn InitLaw> {
    match *spec {
        InitSpec::Gaussian { mean, std, per_sqrt_dim, tilt } => {
            let std = if per_sqrt_dim { std / (dim as f64).sqrt() } else { std };
            let law = samplers::Gaussian { mean, std };
            if tilt == 0.0 { Arc::new(law) } else { Arc::new(samplers::TiltedGaussian { law, h: tilt }) }
        }
        InitSpec::Uniform { low, high } => Arc::new(samplers::Uniform { low, high }),
        InitSpec::Constant(v) => Arc::new(samplers::Constant(v)),
    }
}

fn column(spec: &ColumnSpec) -> samplers::Column {
    match spec {
        ColumnSpec::Name(n) => samplers::Column::Name(n.clone()),
        ColumnSpec::Index(i) => samplers::Column::Index(*i),
    }
}

fn sampling_of(spec: SamplingSpec) -> samplers::Sampling {
    match spec {
        SamplingSpec::WithReplacement => samplers::Sampling::WithReplacement,
        SamplingSpec::Epochs => samplers::Sampling::Epochs,
    }
}

/// The target function of teacher–student data, drawn from the seed's shared stream (so every width of a
/// sweep, and the limit solver, see the same one).
fn teacher(spec: &TeacherSpec, dim: usize, seed: u64, ctx: &BuildContext<'_>) -> Result<samplers::Teacher, BuildError> {
    let mut rng = StreamKey::shared(seed, Purpose::Teacher).stream();
    Ok(match spec {
        TeacherSpec::Network { width, activation: act, a, w } => samplers::Teacher::network(
            *width,
            dim,
            activation(act, "data.teacher.activation", ctx)?,
            init_law(a, dim).as_ref(),
            init_law(w, dim).as_ref(),
            &mut rng,
        ),
        TeacherSpec::SingleIndex { link, w } => samplers::Teacher::single_index(
            dim,
            activation(link, "data.teacher.link", ctx)?,
            init_law(w, dim).as_ref(),
            &mut rng,
        ),
        TeacherSpec::ThreeSpin => samplers::Teacher::three_spin(dim, &mut rng),
        TeacherSpec::Mixture { centres, variances, weights } => samplers::Teacher::Mixture {
            centres: centres.clone(),
            variances: variances.clone(),
            weights: weights.clone(),
        },
    })
}

/// The data law of a point. The teacher is drawn from the seed's shared stream, so every width of a
/// sweep learns the same target.
pub(crate) fn data(
    spec: &DataSpec,
    seed: u64,
    ctx: &BuildContext<'_>,
) -> Result<Arc<dyn DataDistribution>, BuildError> {
    Ok(match spec {
        DataSpec::TeacherStudent { dim, teacher: spec, noise, inputs } => {
            let teacher = teacher(spec, *dim, seed, ctx)?;
            let inputs = match *inputs {
                InputsSpec::Gaussian => samplers::Inputs::Gaussian,
                InputsSpec::Sphere => samplers::Inputs::Sphere,
                InputsSpec::Uniform { low, high } => samplers::Inputs::Uniform { low, high },
            };
            Arc::new(samplers::TeacherStudent { dim: *dim, teacher, noise: *noise, inputs })
        }
        DataSpec::IsotropicGaussians { dim, delta } => {
            Arc::new(samplers::IsotropicGaussians { dim: *dim, delta: *delta })
        }
        DataSpec::Dataset { path, features, target, sampling, standardize, standardize_target, test_fraction } => {
            let features = match features {
                FeaturesSpec::AllExceptTarget => samplers::ColumnSelection::AllExceptTarget,
                FeaturesSpec::Columns(cols) => samplers::ColumnSelection::Columns(cols.iter().map(column).collect()),
            };
            let sampling = sampling_of(*sampling);
            let mut dataset = samplers::Dataset::load(&ctx.base_dir.join(path), &features, &column(target), sampling)
                .map_err(BuildError::Data)?;
            if *test_fraction > 0.0 {
                let mut rng = StreamKey::shared(seed, Purpose::Sample).stream();
                dataset.hold_out(*test_fraction, &mut rng).map_err(BuildError::Data)?;
            }
            if *standardize {
                dataset.standardize_inputs();
            }
            if *standardize_target {
                dataset.standardize_target();
            }
            Arc::new(dataset)
        }
        DataSpec::Sample { size, from, sampling } => {
            let law = data(from, seed, ctx)?;
            let mut rng = StreamKey::shared(seed, Purpose::Sample).stream();
            Arc::new(samplers::FiniteSample::draw(law, *size, sampling_of(*sampling), &mut rng))
        }
        DataSpec::Plugin { lib, name, params } => {
            let error = |e| plugin_error("data", params.text())(e);
            let library = plugins::resolve(lib, ctx.base_dir).and_then(|p| plugins::open(&p)).map_err(error)?;
            Arc::new(library.distribution(name, params.text(), ctx.faults.clone()).map_err(error)?)
        }
    })
}

/// The initial laws of the present blocks, in the model's storage order.
fn block_laws(blocks: &[&BlockSpec], dim: usize) -> Vec<Arc<dyn InitLaw>> {
    blocks
        .iter()
        .filter_map(|b| match b {
            BlockSpec::Trained(init) | BlockSpec::Frozen(init) => Some(init_law(init, dim)),
            BlockSpec::Absent => None,
        })
        .collect()
}

/// The names of the trained blocks, for the model's description.
fn trained(blocks: &[(&str, &BlockSpec)]) -> String {
    let names: Vec<&str> = blocks.iter().filter(|(_, b)| matches!(b, BlockSpec::Trained(_))).map(|(n, _)| *n).collect();
    names.join("+")
}

/// The initializer of a model with `blocks`: every block drawn from its law, in storage order.
fn initializer(blocks: Vec<Block>, laws: Vec<Arc<dyn InitLaw>>) -> Initializer {
    Arc::new(move |params, rng| samplers::initialize_blocks(&blocks, params, &laws, rng))
}

/// What the build of a point's model gives: how to make it, how its replicas draw their initial weights,
/// its description, and its plain-SGD stepping where the model has a fused one.
struct BuiltModel {
    builder: ModelBuilder,
    laws: Vec<Arc<dyn InitLaw>>,
    name: String,
    fused: Option<OneHiddenSgd>,
}

/// A point's model: its builder, initial laws and description, and for a one-hidden-layer network without
/// bias under plain SGD its fused stepping (chosen here, once).
fn model(
    spec: &ModelSpec,
    dim: usize,
    settings: &SgdSettings,
    ctx: &BuildContext<'_>,
) -> Result<BuiltModel, BuildError> {
    let batch = settings.batch;
    Ok(match spec {
        ModelSpec::OneHidden { width, activation: act_spec, scaling, c, w, b } => {
            let act = activation(act_spec, "model.activation", ctx)?;
            let laws = block_laws(&[c, w, b], dim);
            let config = OneHiddenConfig {
                beta: match scaling {
                    Scaling::MeanField => 1.0,
                    Scaling::Lazy => 0.5,
                },
                bias: *b != BlockSpec::Absent,
                train_c: matches!(c, BlockSpec::Trained(_)),
                train_w: matches!(w, BlockSpec::Trained(_)),
                train_b: matches!(b, BlockSpec::Trained(_)),
                max_batch: batch,
                ..OneHiddenConfig::mean_field(*width, dim, act.clone())
            };
            let name = format!(
                "one-hidden(N={width},d={dim},{},beta={},trained={})",
                act.name(),
                config.beta,
                trained(&[("c", c), ("w", w), ("b", b)])
            );
            let fused = OneHiddenSgd::new(config.clone(), settings).map_err(|e| BuildError::Model(e.to_string()))?;
            let fused = match act_spec {
                ActivationSpec::Tanh => fused.map(OneHiddenSgd::with_builtin_tanh),
                _ => fused,
            };
            let make = move || -> Box<dyn Model> {
                Box::new(OneHidden::new(config.clone()).expect("the configuration passed its check above"))
            };
            BuiltModel { builder: Arc::new(make), laws, name, fused }
        }
        ModelSpec::TwoHidden { width1, width2, activation1, activation2, w, u, c } => {
            let act1 = activation(activation1, "model.activation1", ctx)?;
            let act2 = activation(activation2, "model.activation2", ctx)?;
            let laws = block_laws(&[w, u, c], dim);
            let config = TwoHiddenConfig {
                train_w: matches!(w, BlockSpec::Trained(_)),
                train_u: matches!(u, BlockSpec::Trained(_)),
                train_c: matches!(c, BlockSpec::Trained(_)),
                max_batch: batch,
                ..TwoHiddenConfig::mean_field((*width1, *width2), dim, act1.clone(), act2.clone())
            };
            let name = format!(
                "two-hidden(N1={width1},N2={width2},d={dim},{},{},trained={})",
                act1.name(),
                act2.name(),
                trained(&[("w", w), ("u", u), ("c", c)])
            );
            TwoHidden::new(config.clone()).map_err(|e| BuildError::Model(e.to_string()))?;
            let make = move || -> Box<dyn Model> {
                Box::new(TwoHidden::new(config.clone()).expect("the configuration passed its check above"))
            };
            BuiltModel { builder: Arc::new(make), laws, name, fused: None }
        }
        ModelSpec::KernelParticles { width, kernel, c, z } => {
            let laws = block_laws(&[c, z], dim);
            let config = KernelConfig {
                width: *width,
                dim,
                kernel: match *kernel {
                    KernelSpec::Gaussian { bandwidth } => Kernel::Gaussian { bandwidth },
                    KernelSpec::ReluSphere => Kernel::ReluSphere,
                },
                train_c: matches!(c, BlockSpec::Trained(_)),
                train_z: matches!(z, BlockSpec::Trained(_)),
                max_batch: batch,
            };
            let name = format!(
                "kernel(n={width},d={dim},{},trained={})",
                config.kernel.describe(),
                trained(&[("c", c), ("z", z)])
            );
            KernelParticles::new(config.clone()).map_err(|e| BuildError::Model(e.to_string()))?;
            let make = move || -> Box<dyn Model> {
                Box::new(KernelParticles::new(config.clone()).expect("the configuration passed its check above"))
            };
            BuiltModel { builder: Arc::new(make), laws, name, fused: None }
        }
    })
}

/// The components of one point. `data` is the point's data law (already built: it may have read a file).
pub(crate) fn plan(
    index: usize,
    point: &Point,
    data: Arc<dyn DataDistribution>,
    replicas: usize,
    ctx: &BuildContext<'_>,
) -> Result<PointPlan, BuildError> {
    let spec = &point.spec;
    let dim = data.dim();
    let width = spec.model.step_width();
    let settings = match &spec.dynamics {
        DynamicsSpec::OnlineSgd { step } => SgdSettings::new(*step, width, 1, 0.0, 0.0),
        DynamicsSpec::FullBatchGd { step } => {
            let rows = data.size().expect("FullBatchGd was validated to have finite data");
            SgdSettings::new(*step, width, rows, 0.0, 0.0)
        }
        DynamicsSpec::MinibatchSgd { step, batch } => SgdSettings::new(*step, width, *batch, 0.0, 0.0),
        DynamicsSpec::NoisySgd { step, batch, weight_decay, temperature } => {
            SgdSettings::new(*step, width, *batch, *weight_decay, *temperature)
        }
    };
    let rule = settings.rule;
    let BuiltModel { builder, laws, name: model_name, fused } = model(&spec.model, dim, &settings, ctx)?;
    let blocks = builder().blocks().to_vec();
    // The one choice of stepping: a model's fused plain SGD where it has one, SGD through the descent
    // direction otherwise.
    let dynamics: Arc<dyn Dynamics> = match fused {
        Some(fused) => Arc::new(fused),
        None => Arc::new(Sgd::new(settings, builder)),
    };
    let block_names: Vec<String> = model_blocks(spec, Some(dim)).iter().map(|(n, _)| (*n).to_owned()).collect();
    let observables: Vec<Arc<dyn Observable>> = spec
        .observables
        .iter()
        .map(|o| -> Arc<dyn Observable> {
            match o {
                ObservableSpec::Risk { samples } => Arc::new(Risk { samples: *samples }),
                ObservableSpec::Moments => Arc::new(Moments { blocks: block_names.clone() }),
                ObservableSpec::Variances => Arc::new(Variances { blocks: block_names.clone() }),
                ObservableSpec::Histogram { of, bins, range } => {
                    Arc::new(Histogram { of: of.clone(), bins: *bins, range: *range })
                }
                ObservableSpec::Averages(functions) => Arc::new(Averages { functions: functions.clone() }),
                ObservableSpec::Tagged { of, particles } => Arc::new(Tagged { of: of.clone(), particles: *particles }),
                ObservableSpec::LayerDependence { features, bandwidths } => {
                    let mut rng = StreamKey::shared(point.seed, Purpose::Features).stream();
                    Arc::new(LayerDependence::new(("w", "c"), (dim, 1), *features, *bandwidths, &mut rng))
                }
            }
        })
        .collect();

    let time_per_step = rule.time_per_step(width);
    let steps = match spec.horizon {
        Horizon::Time(t) => (t / time_per_step).round() as u64,
        Horizon::Steps(n) => n,
    };
    let schedule = match spec.record {
        RecordSpec::Every(dt) => Schedule::Every(dt),
        RecordSpec::LogSpaced(n) => Schedule::LogSpaced(n),
    };
    let info = PointInfo {
        index,
        label: point.label.clone(),
        width,
        seed: point.seed,
        replicas,
        steps,
        step_size: settings.eta,
        time_per_step,
        final_time: steps as f64 * time_per_step,
        model: model_name,
        data: data.name(),
        dynamics: settings.name(),
    };
    let init = match &spec.ensemble {
        EnsembleSpec::QuenchedFrom(path) => quenched_from(&blocks, &ctx.base_dir.join(path))?,
        EnsembleSpec::Annealed | EnsembleSpec::Quenched => initializer(blocks.clone(), laws),
    };
    let record_steps = schedule.steps(steps, rule, width);
    let (snapshot_steps, snapshot_replicas) = match &spec.outputs.snapshots {
        Some(snapshots) => {
            let times = record_steps.iter().map(|&s| s as f64 * info.time_per_step);
            let mut chosen: Vec<u64> = snapshots
                .times
                .iter()
                .filter_map(|&t| meanfield_core::nearest_time(times.clone(), t).map(|i| record_steps[i]))
                .collect();
            chosen.sort_unstable();
            chosen.dedup();
            (chosen, snapshots.replicas.min(spec.replicas))
        }
        None => (Vec::new(), 0),
    };
    Ok(PointPlan {
        record_steps,
        snapshot_steps,
        snapshot_replicas,
        info,
        blocks,
        batch: settings.batch,
        init,
        data,
        dynamics,
        observables,
        faults: ctx.faults.clone(),
        ensemble: match spec.ensemble {
            EnsembleSpec::Annealed => meanfield_dynamics::Ensemble::Annealed,
            EnsembleSpec::Quenched | EnsembleSpec::QuenchedFrom(_) => meanfield_dynamics::Ensemble::Quenched,
        },
    })
}

/// The initializer that starts every replica from the configuration in `path` (read and checked once here).
fn quenched_from(blocks: &[Block], path: &Path) -> Result<Initializer, BuildError> {
    let configuration = samplers::read_configuration(path, blocks).map_err(BuildError::Configuration)?;
    Ok(Arc::new(move |params, _| {
        params.copy_from_slice(&configuration);
        0.0
    }))
}

/// The mean-field limit problem of a point (its `limit` section), independent of the width.
pub(crate) fn limit_problem(
    spec: &ScenarioSpec,
    seed: u64,
    ctx: &BuildContext<'_>,
) -> Result<LimitProblem, BuildError> {
    let unsupported = |what: &str| {
        BuildError::Limit(format!(
            "{what}; the limit solvers cover OneHidden networks (mean-field scaling, no bias, w trained) on \
             TeacherStudent data with dim 1 and Gaussian inputs (Grid) or on IsotropicGaussians with c frozen (Radial)"
        ))
    };
    let limit = spec.limit.as_ref().ok_or_else(|| unsupported("no limit given"))?;
    let ModelSpec::OneHidden { activation: act, scaling, c, w, b, .. } = &spec.model else {
        return Err(unsupported("the model is not OneHidden"));
    };
    if *scaling != Scaling::MeanField || !matches!(b, BlockSpec::Absent) {
        return Err(unsupported("the model has the lazy scaling or a bias"));
    }
    let data_dim = match &spec.data {
        DataSpec::TeacherStudent { dim, .. } | DataSpec::IsotropicGaussians { dim, .. } => *dim,
        _ => return Err(unsupported("the data is neither TeacherStudent nor IsotropicGaussians")),
    };
    let law = |init: &InitSpec, what: &str| -> Result<Law, BuildError> {
        match *init {
            InitSpec::Gaussian { mean, std, per_sqrt_dim, .. } => {
                Ok(Law::Gaussian { mean, std: if per_sqrt_dim { std / (data_dim as f64).sqrt() } else { std } })
            }
            InitSpec::Uniform { low, high } => Ok(Law::Uniform { low, high }),
            InitSpec::Constant(_) => {
                Err(unsupported(&format!("{what} is trained from a constant, which has no density")))
            }
        }
    };
    let BlockSpec::Trained(w_init) = w else {
        return Err(unsupported("w is not trained"));
    };
    let w_law = law(w_init, "w")?;
    let (weight_decay, temperature) = match spec.dynamics {
        DynamicsSpec::NoisySgd { weight_decay, temperature, .. } => (weight_decay, temperature),
        DynamicsSpec::FullBatchGd { .. } => {
            return Err(unsupported("full-batch GD on a finite sample has another limit"));
        }
        _ => (0.0, 0.0),
    };
    let activation = activation(act, "model.activation", ctx)?;
    let (data, c, w_range, cells) = match (limit, &spec.data) {
        (
            LimitSpec::Grid { cells, w: w_range, c: c_range },
            DataSpec::TeacherStudent { dim, teacher: t, noise, inputs },
        ) => {
            if *dim != 1 || *inputs != InputsSpec::Gaussian {
                return Err(unsupported("a Grid limit needs dim 1 and Gaussian inputs"));
            }
            let units = match teacher(t, 1, seed, ctx)? {
                samplers::Teacher::Network { a, w, activation } => {
                    let k = a.len() as f64;
                    a.iter()
                        .zip(&w)
                        .map(|(a, w)| Unit { weight: a / k, scale: *w, activation: activation.clone() })
                        .collect()
                }
                samplers::Teacher::SingleIndex { w, link } => vec![Unit { weight: 1.0, scale: w[0], activation: link }],
                _ => return Err(unsupported("a Grid limit needs a Network or SingleIndex teacher")),
            };
            let c = match (c, c_range) {
                (BlockSpec::Trained(init), Some(range)) => {
                    OutputWeights::Trained { law: law(init, "c")?, range: *range }
                }
                (BlockSpec::Trained(_), None) => {
                    return Err(BuildError::Limit("c is trained: give its grid range, `c: (low, high)`".into()));
                }
                (BlockSpec::Frozen(InitSpec::Constant(c0)), None) => OutputWeights::Frozen(*c0),
                (BlockSpec::Frozen(InitSpec::Constant(_)), Some(_)) => {
                    return Err(BuildError::Limit("c is frozen: leave out its grid range".into()));
                }
                _ => return Err(unsupported("c must be trained, or frozen at a Constant")),
            };
            (LimitData::ScalarGaussian { teacher: units, noise: *noise }, c, *w_range, *cells)
        }
        (LimitSpec::Radial { cells, max }, DataSpec::IsotropicGaussians { dim, delta }) => {
            let BlockSpec::Frozen(InitSpec::Constant(c0)) = c else {
                return Err(unsupported("a Radial limit needs c frozen at a Constant"));
            };
            (LimitData::Isotropic { dim: *dim, delta: *delta }, OutputWeights::Frozen(*c0), (0.0, *max), *cells)
        }
        (LimitSpec::Grid { .. }, _) => return Err(unsupported("a Grid limit needs TeacherStudent data")),
        (LimitSpec::Radial { .. }, _) => return Err(unsupported("a Radial limit needs IsotropicGaussians data")),
    };
    let problem = LimitProblem { activation, data, c, w_law, w_range, cells, weight_decay, temperature };
    problem.check().map_err(|e| BuildError::Limit(e.to_string()))?;
    Ok(problem)
}

/// The study of a scenario, with the columns its quantities read (W1 columns come from the limit).
pub(crate) fn study(spec: &ScenarioSpec, plans: &[PointPlan]) -> Option<Study> {
    use meanfield_ldp::{Quantity, Statistic};
    let study = spec.study.as_ref()?;
    let columns = plans.first().map(|p| p.columns()).unwrap_or_default();
    let quantity = |statistic, expected_slope| Quantity { statistic, expected_slope };
    let (kind, quantities) = match study {
        StudySpec::Lln { .. } => {
            let mut q: Vec<Quantity> = columns
                .iter()
                .filter(|c| c.starts_with("W1("))
                .map(|c| quantity(Statistic::Mean(c.clone()), -0.5))
                .collect();
            if columns.iter().any(|c| c == "risk") {
                q.push(quantity(Statistic::MeanAbsDifference("risk".into(), LIMIT_RISK_COLUMN.into()), -0.5));
            }
            ("lln", q)
        }
        StudySpec::Fluctuations { column, .. } => {
            ("fluctuations", vec![quantity(Statistic::ScaledVariance(column.clone()), 0.0)])
        }
        StudySpec::ErrorScaling { column, .. } => {
            ("error_scaling", vec![quantity(Statistic::Mean(column.clone()), -1.0)])
        }
        StudySpec::Chaos { .. } => {
            let tagged: Vec<&String> = columns.iter().filter(|c| c.starts_with(TAGGED_COLUMN_PREFIX)).take(2).collect();
            let pair = match tagged[..] {
                [a, b] => (a.clone(), b.clone()),
                _ => ("tag(i)".into(), "tag(j)".into()),
            };
            ("chaos", vec![quantity(Statistic::AbsCorrelation(pair.0, pair.1), -1.0)])
        }
    };
    Some(Study {
        kind: kind.into(),
        quantities,
        times: study.times().to_vec(),
        resamples: study.resamples(),
        level: 0.95,
    })
}
