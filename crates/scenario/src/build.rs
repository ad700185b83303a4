//! Checked scenario point → the components the executor runs.

use crate::check::{Point, model_blocks};
use crate::plugins::{self, PluginError};
use crate::spec::*;
use meanfield_core::{
    Activation, DataDistribution, FaultLog, InitLaw, Model, Observable, PointInfo, Purpose, StreamKey,
};
use meanfield_dynamics::{
    Averages, Histogram, LayerDependence, ModelFactory, Moments, PointPlan, Risk, Schedule, Sgd, Tagged,
};
use meanfield_models::{Kernel, KernelConfig, KernelParticles, OneHidden, OneHiddenConfig, TwoHidden, TwoHiddenConfig};
use meanfield_samplers as samplers;
use std::path::Path;
use std::sync::Arc;

/// Why a point's components could not be built.
#[derive(Debug)]
pub(crate) enum BuildError {
    Data(samplers::DatasetError),
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
        InitSpec::Gaussian { mean, std, per_sqrt_dim } => {
            let std = if per_sqrt_dim { std / (dim as f64).sqrt() } else { std };
            Arc::new(samplers::Gaussian { mean, std })
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

/// The data law of a point. The teacher is drawn from the seed's shared stream, so every width of a
/// sweep learns the same target.
pub(crate) fn data(
    spec: &DataSpec,
    seed: u64,
    ctx: &BuildContext<'_>,
) -> Result<Arc<dyn DataDistribution>, BuildError> {
    Ok(match spec {
        DataSpec::TeacherStudent { dim, teacher, noise, inputs } => {
            let mut rng = StreamKey::shared(seed, Purpose::Teacher).stream();
            let teacher = match teacher {
                TeacherSpec::Network { width, activation: act, a, w } => samplers::Teacher::network(
                    *width,
                    *dim,
                    activation(act, "data.teacher.activation", ctx)?,
                    init_law(a, *dim).as_ref(),
                    init_law(w, *dim).as_ref(),
                    &mut rng,
                ),
                TeacherSpec::SingleIndex { link, w } => samplers::Teacher::single_index(
                    *dim,
                    activation(link, "data.teacher.link", ctx)?,
                    init_law(w, *dim).as_ref(),
                    &mut rng,
                ),
                TeacherSpec::ThreeSpin => samplers::Teacher::three_spin(*dim, &mut rng),
                TeacherSpec::Mixture { centres, variances, weights } => samplers::Teacher::Mixture {
                    centres: centres.clone(),
                    variances: variances.clone(),
                    weights: weights.clone(),
                },
            };
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

/// A model factory: `make` builds the network, whose blocks then get their initial laws from the
/// replica's Init stream.
fn factory(laws: Vec<Arc<dyn InitLaw>>, make: impl Fn() -> Box<dyn Model> + Send + Sync + 'static) -> ModelFactory {
    Arc::new(move |rng| {
        let mut net = make();
        samplers::initialize_blocks(net.as_mut(), &laws, rng);
        net
    })
}

/// A replica's model factory (random initial particles from the given stream) and the model's description.
fn model(
    spec: &ModelSpec,
    dim: usize,
    batch: usize,
    ctx: &BuildContext<'_>,
) -> Result<(ModelFactory, String), BuildError> {
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
            let make = move || -> Box<dyn Model> {
                Box::new(OneHidden::new(config.clone()).expect("dimensions were validated"))
            };
            (factory(laws, make), name)
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
            let make = move || -> Box<dyn Model> {
                Box::new(TwoHidden::new(config.clone()).expect("dimensions were validated"))
            };
            (factory(laws, make), name)
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
            let make = move || -> Box<dyn Model> {
                Box::new(KernelParticles::new(config.clone()).expect("dimensions were validated"))
            };
            (factory(laws, make), name)
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
    let (dynamics, rule, batch) = match &spec.dynamics {
        DynamicsSpec::OnlineSgd { step } => (Sgd::new(*step, width, 1, 0.0, 0.0), *step, 1),
        DynamicsSpec::FullBatchGd { step } => {
            let rows = data.size().expect("FullBatchGd was validated to have finite data");
            (Sgd::new(*step, width, rows, 0.0, 0.0), *step, rows)
        }
        DynamicsSpec::MinibatchSgd { step, batch } => (Sgd::new(*step, width, *batch, 0.0, 0.0), *step, *batch),
        DynamicsSpec::NoisySgd { step, batch, weight_decay, temperature } => {
            (Sgd::new(*step, width, *batch, *weight_decay, *temperature), *step, *batch)
        }
    };
    let (model, model_name) = model(&spec.model, dim, batch, ctx)?;
    let block_names: Vec<String> = model_blocks(spec, Some(dim)).iter().map(|(n, _)| (*n).to_owned()).collect();
    let observables: Vec<Arc<dyn Observable>> = spec
        .observables
        .iter()
        .map(|o| -> Arc<dyn Observable> {
            match o {
                ObservableSpec::Risk { samples } => Arc::new(Risk { samples: *samples }),
                ObservableSpec::Moments => Arc::new(Moments { blocks: block_names.clone() }),
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
        step_size: dynamics.step_size(),
        time_per_step,
        final_time: steps as f64 * time_per_step,
        model: model_name,
        data: data.name(),
        dynamics: meanfield_core::Dynamics::name(&dynamics),
    };
    Ok(PointPlan {
        record_steps: schedule.steps(steps, rule, width),
        info,
        model,
        data,
        dynamics: Arc::new(dynamics),
        observables,
        faults: ctx.faults.clone(),
    })
}
