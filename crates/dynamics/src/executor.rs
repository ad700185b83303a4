//! The executor: runs every replica of every sweep point, in parallel, reproducibly.
//!
//! A replica is a sequential loop (sample a batch, step, record on schedule) whose randomness comes only
//! from its own streams, so its result does not depend on the thread that runs it. Replicas of all points
//! are spread over the current rayon pool and collected back in (point, replica) order, which makes the
//! output identical for any number of threads.

use meanfield_core::{
    DataDistribution, Divergence, Dynamics, FaultLog, Holdout, Model, Observable, ObservationContext, PointInfo,
    PointResult, Progress, Purpose, Record, ReplicaResult, StepWorkspace, StreamKey,
};
use rand::RngCore;
use rayon::prelude::*;
use std::sync::Arc;

/// Builds one replica's model with its initial particles drawn from the given stream.
pub type ModelFactory = Arc<dyn Fn(&mut dyn RngCore) -> InitialModel + Send + Sync>;

/// A replica's model at step 0, and log(dμ0/dq) of its initial weights when they were drawn from an
/// importance-sampling proposal q instead of μ0 (zero otherwise).
pub struct InitialModel {
    pub model: Box<dyn Model>,
    pub log_weight: f64,
}

impl std::fmt::Debug for InitialModel {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("InitialModel")
            .field("params", &self.model.params().len())
            .field("log_weight", &self.log_weight)
            .finish()
    }
}

/// Everything needed to run the replicas of one sweep point.
#[derive(Clone)]
pub struct PointPlan {
    pub info: PointInfo,
    pub model: ModelFactory,
    pub data: Arc<dyn DataDistribution>,
    pub dynamics: Arc<dyn Dynamics>,
    pub observables: Vec<Arc<dyn Observable>>,
    /// Sorted steps at which observables are recorded; the last is `info.steps`.
    pub record_steps: Vec<u64>,
    /// Where this point's components (plugins) record failures that they turned into NaN.
    pub faults: Arc<FaultLog>,
    /// The initial weights of the replicas: each its own (annealed) or one configuration for all.
    pub ensemble: Ensemble,
}

/// How the replicas of a point draw their initial weights (DESIGN.md §1, large deviations). Data streams
/// are independent per replica in both.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub enum Ensemble {
    /// Every replica draws its own initial weights from μ0.
    #[default]
    Annealed,
    /// One initial configuration, drawn once from the point's seed (replica 0's stream), shared by all.
    Quenched,
}

impl std::fmt::Debug for PointPlan {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("PointPlan").field("info", &self.info).field("record_steps", &self.record_steps).finish()
    }
}

impl PointPlan {
    /// The output columns, in order: those of every observable.
    pub fn columns(&self) -> Vec<String> {
        self.observables.iter().flat_map(|o| o.columns()).collect()
    }

    fn key(&self, replica: usize, purpose: Purpose) -> StreamKey<'_> {
        StreamKey::replica(self.info.seed, &self.info.label, replica as u64, purpose)
    }
}

/// How often a replica reports progress, in steps: rare enough to cost nothing, frequent enough for a bar.
const PROGRESS_EVERY: u64 = 4096;

/// Runs one replica of a point to its horizon, or until it diverges.
pub fn run_replica(plan: &PointPlan, replica: usize, progress: &dyn Progress) -> ReplicaResult {
    let info = &plan.info;
    let init_replica = match plan.ensemble {
        Ensemble::Annealed => replica,
        Ensemble::Quenched => 0,
    };
    let InitialModel { mut model, log_weight } = (plan.model)(&mut plan.key(init_replica, Purpose::Init).stream());
    let d = model.input_dim();
    let batch = plan.dynamics.batch_size();

    let holdout_size = plan.observables.iter().map(|o| o.holdout_size()).max().unwrap_or(0);
    let mut holdout = Holdout { x: vec![0.0; holdout_size * d], y: vec![0.0; holdout_size] };
    if holdout_size > 0 {
        plan.data.holdout().fill(&mut plan.key(replica, Purpose::Holdout).stream(), &mut holdout.x, &mut holdout.y);
    }

    let mut data = plan.data.stream();
    let mut data_rng = plan.key(replica, Purpose::Data).stream();
    let mut noise_rng = plan.key(replica, Purpose::Noise).stream();
    let (mut x, mut y) = (vec![0.0; batch * d], vec![0.0; batch]);
    let mut work = StepWorkspace::new(model.params().len(), batch);
    let mut scratch = Vec::new();
    let mut records = Vec::with_capacity(plan.record_steps.len());
    let num_columns = plan.columns().len();

    let time_of = |step: u64| step as f64 * info.time_per_step;
    let diverged = |step: u64, what: String| {
        // A component that failed (a plugin panic) wrote NaN: its reason is the real cause.
        let what = match plan.faults.first() {
            Some(fault) => format!("{fault} (its output was replaced by NaN)"),
            None => what,
        };
        Divergence {
            step,
            time: time_of(step),
            message: format!(
                "replica {replica} of point {} diverged at step {step} (t = {}): {what}",
                if info.label.is_empty() { "0".to_owned() } else { format!("'{}'", info.label) },
                time_of(step)
            ),
        }
    };

    let mut done = 0u64;
    for &record_step in &plan.record_steps {
        while done < record_step {
            data.fill(&mut data_rng, &mut x, &mut y);
            if let Err(bad) = plan.dynamics.step(model.as_mut(), &x, &y, &mut work, &mut noise_rng) {
                progress.advance(done % PROGRESS_EVERY);
                progress.replica_done();
                let what =
                    format!("the prediction became non-finite (residual {}); the step is too large", bad.residual);
                return ReplicaResult { replica, records, divergence: Some(diverged(done + 1, what)), log_weight };
            }
            done += 1;
            if done.is_multiple_of(PROGRESS_EVERY) {
                progress.advance(PROGRESS_EVERY);
            }
        }
        if model.params().iter().any(|p| !p.is_finite()) {
            progress.advance(done % PROGRESS_EVERY);
            progress.replica_done();
            let what = "parameters became non-finite; the step is too large".to_owned();
            return ReplicaResult { replica, records, divergence: Some(diverged(done, what)), log_weight };
        }
        let mut values = Vec::with_capacity(num_columns);
        let mut ctx =
            ObservationContext { step: done, model: model.as_mut(), holdout: &holdout, scratch: &mut scratch };
        for observable in &plan.observables {
            observable.observe(&mut ctx, &mut values);
        }
        records.push(Record { step: done, time: time_of(done), values });
    }
    progress.advance(done % PROGRESS_EVERY);
    progress.replica_done();
    ReplicaResult { replica, records, divergence: None, log_weight }
}

/// Runs all replicas of all points on the current rayon pool; results come back in point order, each
/// point's replicas in replica order.
pub fn run_points(plans: &[PointPlan], progress: &dyn Progress) -> Vec<PointResult> {
    let jobs: Vec<(usize, usize)> =
        plans.iter().enumerate().flat_map(|(p, plan)| (0..plan.info.replicas).map(move |r| (p, r))).collect();
    let mut results: Vec<ReplicaResult> = jobs.par_iter().map(|&(p, r)| run_replica(&plans[p], r, progress)).collect();
    let mut points = Vec::with_capacity(plans.len());
    for plan in plans.iter().rev() {
        let replicas = results.split_off(results.len() - plan.info.replicas);
        points.push(PointResult { info: plan.info.clone(), columns: plan.columns(), replicas });
    }
    points.reverse();
    points
}
