//! The components of a point that resolving builds: data laws (files read, plugin instances made),
//! activations, initial laws, the teacher, the checked model configuration.

use super::{CheckedModel, ModelKind, ResolveError};
use crate::plugins::{self, PluginError};
use crate::spec::*;
use meanfield_core::{Activation, DataDistribution, FaultLog, InitLaw, Model, Purpose, StreamKey};
use meanfield_models::{
    Kernel, KernelConfig, KernelParticles, ModelError, OneHidden, OneHiddenConfig, TwoHidden, TwoHiddenConfig,
};
use meanfield_samplers as samplers;
use std::path::Path;
use std::sync::Arc;

/// What building needs besides the spec: where relative paths start and where plugins record faults.
pub(super) struct ResolveContext<'a> {
    pub base_dir: &'a Path,
    pub faults: &'a Arc<FaultLog>,
}

fn plugin_error(path: &str, params: &str) -> impl FnOnce(PluginError) -> ResolveError {
    move |source| ResolveError::Plugin { path: path.to_owned(), params: params.to_owned(), source: Box::new(source) }
}

/// The activation a spec names, a plugin's loaded and built.
pub(super) fn activation(
    spec: &ActivationSpec,
    path: &str,
    ctx: &ResolveContext<'_>,
) -> Result<Arc<dyn Activation>, ResolveError> {
    match spec.source() {
        ActivationSource::Plugin { lib, name, params } => {
            let error = |e| plugin_error(path, params.text())(e);
            let library = plugins::resolve(lib, ctx.base_dir).and_then(|p| plugins::open(&p)).map_err(error)?;
            let built = library.activation(name, params.text(), ctx.faults.clone()).map_err(error)?;
            Ok(Arc::new(built))
        }
        ActivationSource::Builtin(builtin) => Ok(Arc::new(builtin)),
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
pub(super) fn teacher(
    spec: &TeacherSpec,
    dim: usize,
    seed: u64,
    ctx: &ResolveContext<'_>,
) -> Result<samplers::Teacher, ResolveError> {
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
        TeacherSpec::Linear { coefficients } => samplers::Teacher::Linear { coefficients: coefficients.clone() },
        TeacherSpec::Mixture { centres, variances, weights } => samplers::Teacher::Mixture {
            centres: centres.clone(),
            variances: variances.clone(),
            weights: weights.clone(),
        },
    })
}

/// The data law of a point. The teacher is drawn from the seed's shared stream, so every width of a
/// sweep learns the same target.
pub(super) fn data(
    spec: &DataSpec,
    seed: u64,
    ctx: &ResolveContext<'_>,
) -> Result<Arc<dyn DataDistribution>, ResolveError> {
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
                .map_err(ResolveError::Data)?;
            if *test_fraction > 0.0 {
                let mut rng = StreamKey::shared(seed, Purpose::Sample).stream();
                dataset.hold_out(*test_fraction, &mut rng).map_err(ResolveError::Data)?;
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

/// A point's model: its checked configuration, the initial laws of its blocks in storage order, and its
/// description.
pub(super) fn model(
    spec: &ModelSpec,
    dim: usize,
    batch: usize,
    ctx: &ResolveContext<'_>,
) -> Result<CheckedModel, ResolveError> {
    let model_error = |e: ModelError| ResolveError::Model(e.to_string());
    Ok(match spec {
        ModelSpec::OneHidden { width, activation: act_spec, scaling, c, w, b } => {
            let act = activation(act_spec, "model.activation", ctx)?;
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
            let config = config.check().map_err(model_error)?;
            let builtin_tanh = *act_spec == ActivationSpec::Tanh;
            let network = OneHidden::from_checked(&config);
            CheckedModel {
                blocks: network.blocks().to_vec(),
                laws: block_laws(&[c, w, b], dim),
                name,
                kind: ModelKind::OneHidden { config, builtin_tanh },
            }
        }
        ModelSpec::TwoHidden { width1, width2, activation1, activation2, w, u, c } => {
            let act1 = activation(activation1, "model.activation1", ctx)?;
            let act2 = activation(activation2, "model.activation2", ctx)?;
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
            let config = config.check().map_err(model_error)?;
            CheckedModel {
                blocks: TwoHidden::from_checked(&config).blocks().to_vec(),
                laws: block_laws(&[w, u, c], dim),
                name,
                kind: ModelKind::TwoHidden(config),
            }
        }
        ModelSpec::KernelParticles { width, kernel, c, z } => {
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
            let config = config.check().map_err(model_error)?;
            CheckedModel {
                blocks: KernelParticles::from_checked(&config).blocks().to_vec(),
                laws: block_laws(&[c, z], dim),
                name,
                kind: ModelKind::Kernel(config),
            }
        }
    })
}
