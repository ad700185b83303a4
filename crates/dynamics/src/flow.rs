//! Gradient flow θ' = direction(θ) on a population loss, integrated with an error-controlled step.
//!
//! The direction has the model's convention (E[(y − ŷ) ∂u_i/∂θ_i], −n ∂L/∂θ_i), so SGD with `Fixed(η)` is
//! this flow's Euler scheme on noisy directions and both share the time t = k·η. One step of the
//! executor is one `interval` of physical time, which the integrator crosses in as many embedded
//! Dormand–Prince 5(4) steps as its tolerance needs. Every interval starts by trying the whole interval,
//! whatever the last one ended with: an interval's arithmetic then depends only on the parameters at its
//! start, so a replica resumed from a checkpoint (which saves parameters only) gets the same bits.

use crate::ModelBuilder;
use meanfield_core::{Diverged, Dynamics, Model, ReplicaStreams, Stepper};
use meanfield_kernels::dormand_prince;
use std::sync::Arc;

/// A population loss and its descent direction.
pub trait Objective: Send {
    /// Writes the descent direction at `params` (zero for frozen parameters) and returns the loss there.
    fn direction(&mut self, params: &[f64], direction: &mut [f64]) -> f64;
}

/// Builds one replica's objective (each stepper owns its scratch).
pub type ObjectiveBuilder = Arc<dyn Fn() -> Box<dyn Objective> + Send + Sync>;

/// The loss ½ (1/M) Σ (y − ŷ)² of a fixed training set of M samples, through the model's own descent
/// direction, `chunk` samples at a time (the model's batch).
pub struct TrainingSet {
    model: Box<dyn Model>,
    x: Arc<[f64]>,
    y: Arc<[f64]>,
    chunk: usize,
    residual: Vec<f64>,
    part: Vec<f64>,
}

impl std::fmt::Debug for TrainingSet {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "TrainingSet({} samples)", self.y.len())
    }
}

impl TrainingSet {
    /// `model` has batch at least `chunk`; `x` holds `y.len()` rows of the model's input dimension.
    pub fn new(model: Box<dyn Model>, x: Arc<[f64]>, y: Arc<[f64]>) -> TrainingSet {
        let chunk = model.max_batch().min(y.len()).max(1);
        let params = model.params().len();
        TrainingSet { model, x, y, chunk, residual: vec![0.0; chunk], part: vec![0.0; params] }
    }
}

impl Objective for TrainingSet {
    fn direction(&mut self, params: &[f64], direction: &mut [f64]) -> f64 {
        self.model.params_mut().copy_from_slice(params);
        direction.fill(0.0);
        let (d, m) = (self.model.input_dim(), self.y.len());
        let mut loss = 0.0;
        for (x, y) in self.x.chunks(self.chunk * d).zip(self.y.chunks(self.chunk)) {
            let residual = &mut self.residual[..y.len()];
            self.part.fill(0.0);
            self.model.descent_direction(x, y, residual, &mut self.part);
            // The chunk's mean direction, weighted by its share of the set.
            let share = y.len() as f64 / m as f64;
            for (total, part) in direction.iter_mut().zip(&self.part) {
                *total += share * part;
            }
            loss += residual.iter().map(|r| r * r).sum::<f64>();
        }
        0.5 * loss / m as f64
    }
}

/// The integrator's settings.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct FlowSettings {
    /// Physical time of one executor step.
    pub interval: f64,
    /// Relative and absolute tolerance of the local error per unit step, in the RMS norm over parameters.
    pub tolerance: f64,
}

/// Gradient flow on an objective, one replica per stepper.
#[derive(Clone)]
pub struct GradientFlow {
    settings: FlowSettings,
    model: ModelBuilder,
    objective: ObjectiveBuilder,
}

impl std::fmt::Debug for GradientFlow {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("GradientFlow").field("settings", &self.settings).finish()
    }
}

impl GradientFlow {
    pub fn new(settings: FlowSettings, model: ModelBuilder, objective: ObjectiveBuilder) -> GradientFlow {
        GradientFlow { settings, model, objective }
    }
}

impl Dynamics for GradientFlow {
    fn group(&self, _left: usize) -> usize {
        1
    }

    fn stepper(&self, _replicas: usize) -> Box<dyn Stepper> {
        let model = (self.model)();
        let n = model.params().len();
        Box::new(FlowStepper {
            model,
            objective: (self.objective)(),
            settings: self.settings,
            step: self.settings.interval,
            stages: vec![vec![0.0; n]; 7],
            trial: vec![0.0; n],
            fresh: false,
        })
    }
}

/// Below this fraction of the interval the flow is taken to have blown up: a smooth gradient flow never
/// needs it, and a bound keeps every executor step finite (so Ctrl-C is seen).
const SMALLEST_STEP: f64 = 1e-9;

struct FlowStepper {
    model: Box<dyn Model>,
    objective: Box<dyn Objective>,
    settings: FlowSettings,
    /// The step size to try next within the interval being crossed.
    step: f64,
    /// k_1 … k_7; k_1 holds the direction at the current parameters when `fresh`.
    stages: Vec<Vec<f64>>,
    trial: Vec<f64>,
    fresh: bool,
}

impl FlowStepper {
    /// Integrates over one interval; `Err` with the loss (or the step) that was not finite.
    fn cross_interval(&mut self) -> Result<(), f64> {
        let mut left = self.settings.interval;
        self.step = left;
        let tol = self.settings.tolerance;
        let mut params = std::mem::take(&mut self.trial);
        while left > 0.0 {
            if !self.fresh {
                let loss = self.objective.direction(self.model.params(), &mut self.stages[0]);
                check(loss, &self.stages[0])?;
                self.fresh = true;
            }
            let h = self.step.min(left);
            let objective = &mut self.objective;
            let mut derivative = |y: &[f64], dy: &mut [f64]| check(objective.direction(y, dy), dy).is_ok();
            // A stage that left the finite region gives an infinite error: retried smaller.
            let error =
                dormand_prince::attempt(self.model.params(), h, tol, &mut self.stages, &mut params, &mut derivative);
            if error.is_finite() && error <= 1.0 {
                self.model.params_mut().copy_from_slice(&params);
                self.stages.swap(0, 6);
                left -= h;
                if left < 1e-12 * self.settings.interval {
                    left = 0.0;
                }
                self.step = if h < self.step { self.step } else { h * grow(error) };
            } else {
                self.step = h * if error.is_finite() { grow(error).min(0.9) } else { 0.1 };
                if self.step < SMALLEST_STEP * self.settings.interval {
                    self.trial = params;
                    return Err(f64::NAN);
                }
            }
        }
        self.trial = params;
        Ok(())
    }
}

/// The factor of the next step after an error `error` (≤ 1: accepted), with a safety factor 0.9 and
/// the usual bounds on how fast it may change.
fn grow(error: f64) -> f64 {
    if error == 0.0 { 5.0 } else { (0.9 * error.powf(-0.2)).clamp(0.2, 5.0) }
}

fn check(loss: f64, direction: &[f64]) -> Result<(), f64> {
    if !loss.is_finite() {
        return Err(loss);
    }
    match direction.iter().find(|v| !v.is_finite()) {
        Some(v) => Err(*v),
        None => Ok(()),
    }
}

impl Stepper for FlowStepper {
    fn replicas(&self) -> usize {
        1
    }
    fn model(&mut self, _: usize) -> &mut dyn Model {
        self.model.as_mut()
    }
    fn set_params(&mut self, _: usize, params: &[f64]) {
        self.model.params_mut().copy_from_slice(params);
        self.fresh = false;
    }
    fn advance(&mut self, steps: u64, _: &mut [ReplicaStreams<'_>], diverged: &mut [Option<Diverged>]) {
        if diverged[0].is_some() {
            return;
        }
        for k in 0..steps {
            if let Err(residual) = self.cross_interval() {
                diverged[0] = Some(Diverged { completed: k, residual });
                return;
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use meanfield_core::{Block, Purpose, StreamKey};

    /// θ' = −Aθ for a diagonal A: one block of "parameters" whose objective is the quadratic ½θᵀAθ.
    #[derive(Debug)]
    struct Params(Vec<f64>, Vec<Block>);

    impl Model for Params {
        fn blocks(&self) -> &[Block] {
            &self.1
        }
        fn params(&self) -> &[f64] {
            &self.0
        }
        fn params_mut(&mut self) -> &mut [f64] {
            &mut self.0
        }
        fn input_dim(&self) -> usize {
            1
        }
        fn width(&self) -> usize {
            self.0.len()
        }
        fn max_batch(&self) -> usize {
            1
        }
        fn predict(&mut self, _: &[f64], out: &mut [f64]) {
            out.fill(0.0);
        }
        fn descent_direction(&mut self, _: &[f64], _: &[f64], _: &mut [f64], _: &mut [f64]) {}
        fn beta(&self) -> f64 {
            1.0
        }
        fn clone_box(&self) -> Box<dyn Model> {
            Box::new(Params(self.0.clone(), self.1.clone()))
        }
    }

    struct Quadratic(Vec<f64>);

    impl Objective for Quadratic {
        fn direction(&mut self, params: &[f64], direction: &mut [f64]) -> f64 {
            let mut loss = 0.0;
            for ((d, p), a) in direction.iter_mut().zip(params).zip(&self.0) {
                *d = -a * p;
                loss += 0.5 * a * p * p;
            }
            loss
        }
    }

    fn flow(rates: &[f64], tolerance: f64) -> Box<dyn Stepper> {
        let n = rates.len();
        let model: ModelBuilder = Arc::new(move || {
            let block = Block { name: "c".into(), offset: 0, rows: n, cols: 1, trainable: true };
            Box::new(Params(vec![0.0; n], vec![block]))
        });
        let rates = rates.to_vec();
        let objective: ObjectiveBuilder = Arc::new(move || Box::new(Quadratic(rates.clone())));
        GradientFlow::new(FlowSettings { interval: 0.5, tolerance }, model, objective).stepper(1)
    }

    fn no_streams() -> Vec<ReplicaStreams<'static>> {
        struct Never;
        impl meanfield_core::DataStream for Never {
            fn fill(&mut self, _: &mut meanfield_core::Stream, _: &mut [f64], _: &mut [f64]) {
                unreachable!("gradient flow draws no data")
            }
        }
        vec![ReplicaStreams {
            data: Box::new(Never),
            data_rng: StreamKey::shared(0, Purpose::Data).stream(),
            noise_rng: StreamKey::shared(0, Purpose::Noise).stream(),
        }]
    }

    /// θ(t) = θ0 e^(−at) exactly, over rates spread by 10⁴ (a stiff-ish problem, where a fixed explicit step
    /// would need the smallest time scale throughout). A fifth-order method at tolerance 1e-10 keeps the
    /// global error within about 1e-9 relative; a wrong tableau entry gives first-order errors of 1e-2.
    #[test]
    fn exponential_decay_is_exact_to_the_tolerance() {
        let rates = [1e-2, 0.3, 1.0, 10.0, 100.0];
        let mut stepper = flow(&rates, 1e-10);
        let start = [1.0, -2.0, 0.5, 3.0, 1.0];
        stepper.set_params(0, &start);
        let mut diverged = [None];
        stepper.advance(8, &mut no_streams(), &mut diverged);
        assert_eq!(diverged, [None]);
        let t = 8.0 * 0.5;
        for ((got, a), s) in stepper.model(0).params().iter().zip(rates).zip(start) {
            let want = s * (-a * t).exp();
            assert!((got - want).abs() < 1e-9 * s.abs() + 1e-14, "rate {a}: {got} vs {want}");
        }
    }

    /// Stopping after two intervals and restarting a fresh stepper from the saved parameters (what a
    /// checkpoint does) gives the bits of four uninterrupted intervals.
    #[test]
    fn a_resumed_flow_gets_the_same_bits() {
        let rates = [1e-2, 0.3, 1.0, 10.0, 100.0];
        let start = [1.0, -2.0, 0.5, 3.0, 1.0];
        let mut whole = flow(&rates, 1e-6);
        whole.set_params(0, &start);
        let mut diverged = [None];
        whole.advance(4, &mut no_streams(), &mut diverged);
        let mut first = flow(&rates, 1e-6);
        first.set_params(0, &start);
        first.advance(2, &mut no_streams(), &mut diverged);
        let saved = first.model(0).params().to_vec();
        let mut resumed = flow(&rates, 1e-6);
        resumed.set_params(0, &saved);
        resumed.advance(2, &mut no_streams(), &mut diverged);
        assert_eq!(diverged, [None]);
        let bits = |v: &[f64]| v.iter().map(|x| x.to_bits()).collect::<Vec<_>>();
        assert_eq!(bits(resumed.model(0).params()), bits(whole.model(0).params()));
    }

    /// A looser tolerance is cheaper and less accurate, but still controlled: the error shrinks when the
    /// tolerance does (here 1e-4 → 1e-8 must gain at least a factor 100).
    #[test]
    fn the_error_follows_the_tolerance() {
        let error_at = |tol: f64| {
            let mut stepper = flow(&[1.0], tol);
            stepper.set_params(0, &[1.0]);
            let mut diverged = [None];
            stepper.advance(4, &mut no_streams(), &mut diverged);
            (stepper.model(0).params()[0] - (-2.0f64).exp()).abs()
        };
        let (loose, tight) = (error_at(1e-4), error_at(1e-8));
        assert!(loose < 1e-3 && tight * 100.0 < loose.max(1e-12), "{loose} vs {tight}");
    }

    /// A flow that blows up in finite time (θ' = θ², from 1: θ = 1/(1 − t)) is reported diverged on the
    /// interval that contains t = 1 (the fourth of 0.3), not integrated forever.
    #[test]
    fn a_blow_up_is_a_divergence() {
        struct Square;
        impl Objective for Square {
            fn direction(&mut self, params: &[f64], direction: &mut [f64]) -> f64 {
                direction[0] = params[0] * params[0];
                params[0]
            }
        }
        let model: ModelBuilder = Arc::new(|| {
            let block = Block { name: "c".into(), offset: 0, rows: 1, cols: 1, trainable: true };
            Box::new(Params(vec![0.0], vec![block]))
        });
        let objective: ObjectiveBuilder = Arc::new(|| Box::new(Square));
        let mut stepper =
            GradientFlow::new(FlowSettings { interval: 0.3, tolerance: 1e-8 }, model, objective).stepper(1);
        stepper.set_params(0, &[1.0]);
        let mut diverged = [None];
        stepper.advance(10, &mut no_streams(), &mut diverged);
        assert_eq!(diverged[0].map(|d| d.completed), Some(3), "{diverged:?}");
    }
}
