//! Population losses of a point: the closed form where one exists, else fixed sample sets drawn once per
//! seed (gradient flow's training set, `PopulationRisk`'s evaluation set), and the gradient flow itself.

use super::ResolveError;
use super::components::{ResolveContext, teacher};
use crate::check::{self, Invalid};
use crate::spec::*;
use meanfield_core::{DataDistribution, Purpose, SgdSettings, StreamKey};
use meanfield_dynamics::{FlowSettings, Objective};
use meanfield_models::MixtureOnInterval;
use meanfield_samplers as samplers;
use std::sync::Arc;

/// The largest sample set a population loss may draw (rows); the memory budget sees its size too.
pub(crate) const MAX_POPULATION_SAMPLES: usize = 100_000_000;

/// A loss as the stepper or the observable uses it.
#[derive(Debug, Clone)]
pub enum PopulationLoss {
    ClosedForm(Arc<MixtureOnInterval>),
    /// Rows of x (the data's dimension) and the target at each.
    Sample {
        x: Arc<[f64]>,
        y: Arc<[f64]>,
    },
}

/// A point's gradient flow: the integrator's settings and the loss it descends.
#[derive(Debug, Clone)]
pub struct Flow {
    pub settings: FlowSettings,
    pub loss: PopulationLoss,
}

/// Gradient flow's objective in closed form, for the blocks `train` (c, z) that are trained.
pub(crate) struct ClosedFormLoss {
    pub problem: Arc<MixtureOnInterval>,
    pub train: (bool, bool),
}

impl Objective for ClosedFormLoss {
    fn direction(&mut self, params: &[f64], direction: &mut [f64]) -> f64 {
        self.problem.direction(params, direction, self.train)
    }
}

impl Flow {
    /// A short description for summaries, e.g. `gradient-flow(interval=1,tolerance=1e-8,training=closed-form)`.
    pub fn name(&self) -> String {
        let training = match &self.loss {
            PopulationLoss::ClosedForm(_) => "closed-form".to_owned(),
            PopulationLoss::Sample { y, .. } => format!("sample({})", y.len()),
        };
        let FlowSettings { interval, tolerance } = self.settings;
        format!("gradient-flow(interval={interval},tolerance={tolerance:e},training={training})")
    }
}

/// The closed-form problem of the spec, or why it has none (`path` names the field that asked for it).
pub(crate) fn closed_form(spec: &ScenarioSpec, path: &str) -> Result<MixtureOnInterval, Invalid> {
    let refuse = |why: &str| Invalid {
        path: path.to_owned(),
        message: format!(
            "ClosedForm needs Gaussian KernelParticles learning a Mixture teacher on dim 1 Uniform inputs ({why}); \
             use Sample(size: …) for any other model or data"
        ),
    };
    let ModelSpec::KernelParticles { kernel, .. } = &spec.model else {
        return Err(refuse("the model is not KernelParticles"));
    };
    let KernelSpec::Gaussian { bandwidth } = kernel else {
        return Err(refuse("the kernel is not Gaussian"));
    };
    let DataSpec::TeacherStudent {
        dim: 1, teacher: TeacherSpec::Mixture { centres, variances, weights }, inputs, ..
    } = population_law(&spec.data)
    else {
        return Err(refuse("the data is not TeacherStudent with dim 1 and a Mixture teacher"));
    };
    let InputsSpec::Uniform { low, high } = *inputs else {
        return Err(refuse("the inputs are not Uniform"));
    };
    let components = centres.iter().zip(variances).zip(weights).map(|((m, v), w)| (*m, *v, *w)).collect();
    Ok(MixtureOnInterval { components, low, high, bandwidth: *bandwidth })
}

/// The law whose population a loss is over: a finite `Sample`'s source law, else the data law itself.
fn population_law(data: &DataSpec) -> &DataSpec {
    match data {
        DataSpec::Sample { from, .. } => population_law(from),
        other => other,
    }
}

/// Checks a `PopulationSpec` at `path` against the spec (its size, or that a closed form exists).
pub(crate) fn check_population(spec: &ScenarioSpec, population: PopulationSpec, path: &str) -> Result<(), Invalid> {
    match population {
        PopulationSpec::ClosedForm => closed_form(spec, path).map(|_| ()),
        PopulationSpec::Sample { size } if size == 0 || size > MAX_POPULATION_SAMPLES => Err(Invalid {
            path: format!("{path}.size"),
            message: format!("must be between 1 and {MAX_POPULATION_SAMPLES}, got {size}"),
        }),
        PopulationSpec::Sample { .. } => match population_law(&spec.data) {
            // Without held-out rows a data set's "population" would be its training rows.
            DataSpec::Dataset { test_fraction, .. } if *test_fraction == 0.0 && path == "observables" => Err(Invalid {
                path: path.to_owned(),
                message: "PopulationRisk(Sample(…)) on a Dataset needs held-out rows to evaluate on: set \
                              data.test_fraction (without them it would measure the training error)"
                    .into(),
            }),
            _ => Ok(()),
        },
    }
}

/// The loss of `population` for a point whose data law is `data`: sample sets come from `purpose`'s
/// shared stream, and for teacher–student data their targets are the teacher's without label noise.
pub(super) fn population_loss(
    spec: &ScenarioSpec,
    population: PopulationSpec,
    data: &Arc<dyn DataDistribution>,
    seed: u64,
    purpose: Purpose,
    ctx: &ResolveContext<'_>,
) -> Result<PopulationLoss, ResolveError> {
    let size = match population {
        PopulationSpec::ClosedForm => {
            let problem = closed_form(spec, "observables").map_err(ResolveError::Invalid)?;
            return Ok(PopulationLoss::ClosedForm(Arc::new(problem)));
        }
        PopulationSpec::Sample { size } => size,
    };
    let dim = data.dim();
    let mut x = vec![0.0; size * dim];
    let mut y = vec![0.0; size];
    let mut rng = StreamKey::shared(seed, purpose).stream();
    let clean = match population_law(&spec.data) {
        DataSpec::TeacherStudent { dim, teacher: t, inputs, .. } => {
            let inputs = match *inputs {
                InputsSpec::Gaussian => samplers::Inputs::Gaussian,
                InputsSpec::Sphere => samplers::Inputs::Sphere,
                InputsSpec::Uniform { low, high } => samplers::Inputs::Uniform { low, high },
            };
            Some(samplers::TeacherStudent { dim: *dim, teacher: teacher(t, *dim, seed, ctx)?, noise: 0.0, inputs })
        }
        _ => None,
    };
    match &clean {
        Some(law) => law.holdout().fill(&mut rng, &mut x, &mut y),
        // Gradient flow trains on the training data; an evaluation set comes from the held-out data (a data
        // set's held-out rows, which the check made sure exist).
        None if purpose == Purpose::Training => data.stream().fill(&mut rng, &mut x, &mut y),
        None => data.holdout().fill(&mut rng, &mut x, &mut y),
    }
    Ok(PopulationLoss::Sample { x: x.into(), y: y.into() })
}

/// The gradient flow of a point whose dynamics is `GradientFlow`, else `None`.
pub(super) fn flow(
    spec: &ScenarioSpec,
    data: &Arc<dyn DataDistribution>,
    seed: u64,
    ctx: &ResolveContext<'_>,
) -> Result<Option<Flow>, ResolveError> {
    let DynamicsSpec::GradientFlow { training, interval, tolerance } = spec.dynamics else {
        return Ok(None);
    };
    let loss = population_loss(spec, training, data, seed, Purpose::Training, ctx)?;
    Ok(Some(Flow { settings: FlowSettings { interval, tolerance }, loss }))
}

/// Samples of gradient flow's training set passed through the model at once.
const FLOW_CHUNK: usize = 256;

/// Gradient flow's settings as the SGD family's: its steps are intervals, and the model's batch is the
/// chunk the training set is passed through it in.
pub(super) fn settings(spec: &ScenarioSpec, training: PopulationSpec, width: usize) -> SgdSettings {
    let chunk = match training {
        PopulationSpec::Sample { size } => size.min(FLOW_CHUNK),
        PopulationSpec::ClosedForm => 1,
    };
    SgdSettings::new(spec.dynamics.step(), width, chunk, 0.0, 0.0)
}

/// The dynamics checks of `GradientFlow`.
pub(crate) fn check_flow(spec: &ScenarioSpec) -> Result<(), Invalid> {
    let DynamicsSpec::GradientFlow { training, interval, tolerance } = spec.dynamics else {
        return Ok(());
    };
    if !(interval.is_finite() && interval > 0.0) {
        return Err(check::invalid("dynamics.interval", format!("must be positive and finite, got {interval}")));
    }
    // Below 1e-14 the local error is rounding, which no step size can reach: the step would shrink forever.
    if !(1e-14..=0.1).contains(&tolerance) {
        return Err(check::invalid("dynamics.tolerance", format!("must be between 1e-14 and 0.1, got {tolerance}")));
    }
    check_population(spec, training, "dynamics.training")
}

/// The largest number of test points of `Predictions` (each is a column of timeseries.csv).
const MAX_PREDICTION_POINTS: usize = 10_000;

/// `Predictions(at: …)`: some points, each of the data's dimension (once known), every value finite.
pub(crate) fn check_prediction_points(at: &[Vec<f64>], dim: Option<usize>) -> Result<(), Invalid> {
    if at.is_empty() || at.len() > MAX_PREDICTION_POINTS {
        return Err(check::invalid(
            "observables.at",
            format!("needs between 1 and {MAX_PREDICTION_POINTS} points, got {}", at.len()),
        ));
    }
    for (k, point) in at.iter().enumerate() {
        if let Some(d) = dim.filter(|d| *d != point.len()) {
            return Err(check::invalid(
                "observables.at",
                format!("point {k} has {} coordinates; the inputs have {d}", point.len()),
            ));
        }
        if point.is_empty() || point.iter().any(|v| !v.is_finite()) {
            return Err(check::invalid(
                "observables.at",
                format!("point {k} must be a non-empty list of finite numbers"),
            ));
        }
    }
    Ok(())
}
