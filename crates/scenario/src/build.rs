//! A checked point → the plan the executor runs: the one place that chooses how a point's replicas step
//! (a model's fused plain SGD where it has one, SGD through the descent direction otherwise), and the
//! scenario's study. Nothing here can fail: every value was checked and resolved in [`crate::checked`].

use crate::checked::population::{ClosedFormLoss, Flow, PopulationLoss};
use crate::checked::{CheckedPoint, CheckedScenario, InitialWeights, ModelKind};
use crate::spec::*;
use meanfield_core::{Dynamics, Model, PREDICTION_COLUMN_PREFIX, PointInfo, TAGGED_COLUMN_PREFIX};
use meanfield_dynamics::{
    Ensemble, GradientFlow, Initializer, ModelBuilder, Objective, ObjectiveBuilder, PointPlan, Sgd, TrainingSet,
};
use meanfield_ldp::Study;
use meanfield_limit::LIMIT_RISK_COLUMN;
use meanfield_models::{KernelParticles, OneHidden, OneHiddenSgd, TwoHidden};
use meanfield_samplers as samplers;
use std::sync::Arc;

impl CheckedScenario {
    /// The plan of every point: what the executor runs. A scenario with a `limit` gets its limit's
    /// observable from [`CheckedScenario::with_limits`], which [`crate::run`] calls.
    pub fn plans(&self) -> Vec<PointPlan> {
        self.points.iter().enumerate().map(|(index, point)| plan(index, point, self.spec.replicas)).collect()
    }
}

/// The plan of point `index` with `replicas` replicas.
pub(crate) fn plan(index: usize, point: &CheckedPoint, replicas: usize) -> PointPlan {
    let (model, settings) = (&point.model, point.settings);
    let sgd = |builder: ModelBuilder| -> Arc<dyn Dynamics> { Arc::new(Sgd::new(settings, builder)) };
    let dynamics: Arc<dyn Dynamics> = match (&point.flow, &model.kind) {
        (Some(flow), kind) => gradient_flow(flow, kind),
        (None, kind) => sgd_dynamics(kind, &settings, sgd),
    };
    let init: Initializer = match &point.initial {
        InitialWeights::Drawn { .. } => {
            let (blocks, laws) = (model.blocks.clone(), model.laws.clone());
            Arc::new(move |params, rng| samplers::initialize_blocks(&blocks, params, &laws, rng))
        }
        InitialWeights::Configuration(configuration) => {
            let configuration = configuration.clone();
            Arc::new(move |params, _| {
                params.copy_from_slice(&configuration);
                0.0
            })
        }
    };
    let ensemble = match point.initial {
        InitialWeights::Drawn { quenched: false } => Ensemble::Annealed,
        InitialWeights::Drawn { quenched: true } | InitialWeights::Configuration(_) => Ensemble::Quenched,
    };
    let schedule = &point.schedule;
    let info = PointInfo {
        index,
        label: point.label.clone(),
        coordinates: point.coordinates.clone(),
        width: point.spec.model.step_width(),
        seed: point.seed,
        replicas,
        steps: schedule.steps,
        step_size: settings.eta,
        time_per_step: schedule.time_per_step,
        final_time: schedule.steps as f64 * schedule.time_per_step,
        model: model.name.clone(),
        data: point.data.name(),
        dynamics: point.flow.as_ref().map_or_else(|| settings.name(), Flow::name),
    };
    PointPlan {
        info,
        blocks: model.blocks.clone(),
        batch: settings.batch,
        init,
        data: point.data.clone(),
        dynamics,
        observables: point.observables.clone(),
        record_steps: schedule.record_steps.clone(),
        faults: point.faults.clone(),
        ensemble,
        particle_steps: schedule.particle_steps.clone(),
        particle_replicas: schedule.particle_replicas,
    }
}

/// A model kind's builder, with zero parameters.
fn model_builder(kind: &ModelKind) -> ModelBuilder {
    match kind {
        ModelKind::OneHidden { config, .. } => {
            let config = config.clone();
            Arc::new(move || -> Box<dyn Model> { Box::new(OneHidden::from_checked(&config)) })
        }
        ModelKind::TwoHidden(config) => {
            let config = config.clone();
            Arc::new(move || -> Box<dyn Model> { Box::new(TwoHidden::from_checked(&config)) })
        }
        ModelKind::Kernel(config) => {
            let config = config.clone();
            Arc::new(move || -> Box<dyn Model> { Box::new(KernelParticles::from_checked(&config)) })
        }
    }
}

/// SGD on a point's model: the fused one-hidden-layer stepper where it applies, else through the
/// descent direction.
fn sgd_dynamics(
    kind: &ModelKind,
    settings: &meanfield_core::SgdSettings,
    sgd: impl Fn(ModelBuilder) -> Arc<dyn Dynamics>,
) -> Arc<dyn Dynamics> {
    match kind {
        ModelKind::OneHidden { config, builtin_tanh } => match OneHiddenSgd::new(config.clone(), settings) {
            Some(fused) if *builtin_tanh => Arc::new(fused.with_builtin_tanh()),
            Some(fused) => Arc::new(fused),
            None => sgd(model_builder(kind)),
        },
        kind => sgd(model_builder(kind)),
    }
}

/// Gradient flow on the point's population loss: the closed form (kernel particles only, which the
/// check made sure of) or the training set through the model.
fn gradient_flow(flow: &Flow, kind: &ModelKind) -> Arc<dyn Dynamics> {
    let builder = model_builder(kind);
    let objective: ObjectiveBuilder = match &flow.loss {
        PopulationLoss::ClosedForm(problem) => {
            // Only kernel particles have a closed form (checked); their blocks say what is trained.
            let train = match kind {
                ModelKind::Kernel(config) => (config.get().train_c, config.get().train_z),
                _ => (true, true),
            };
            let problem = problem.clone();
            Arc::new(move || -> Box<dyn Objective> { Box::new(ClosedFormLoss { problem: problem.clone(), train }) })
        }
        PopulationLoss::Sample { x, y } => {
            let (x, y, builder) = (x.clone(), y.clone(), builder.clone());
            Arc::new(move || -> Box<dyn Objective> { Box::new(TrainingSet::new(builder(), x.clone(), y.clone())) })
        }
    };
    Arc::new(GradientFlow::new(flow.settings, builder, objective))
}

/// The study of a scenario, with the columns its quantities read (W1 columns come from the limit).
pub(crate) fn study(spec: &ScenarioSpec, plans: &[PointPlan]) -> Option<Study> {
    use meanfield_ldp::{Convergence, Quantity, Statistic};
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
        StudySpec::FluctuationScaling { column, .. } => {
            // The mean (Rotskoff–Vanden-Eijnden's error scaling) beside the fluctuations around it.
            let mut q = vec![
                quantity(Statistic::Mean(column.clone()), -1.0),
                quantity(Statistic::StdDev(column.clone()), -1.0),
            ];
            let predictions: Vec<String> =
                columns.iter().filter(|c| c.starts_with(PREDICTION_COLUMN_PREFIX)).cloned().collect();
            if !predictions.is_empty() {
                q.push(quantity(Statistic::RmsStdDev(predictions), -1.0));
            }
            ("fluctuation_scaling", q)
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
        convergence: study.convergence().map(|(column, within)| Convergence { column: column.to_owned(), within }),
    })
}
