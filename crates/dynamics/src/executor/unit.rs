//! A unit of work of the executor: replicas of one point advanced together by one stepper, with everything
//! each replica keeps for itself (streams, held-out sample, records, kept particles, where it stands).

use super::{Ensemble, PointPlan};
use meanfield_core::{
    Diverged, Divergence, Holdout, ObservationContext, Particles, Progress, Purpose, Record, ReplicaResult,
    ReplicaState, ReplicaStreams, Stepper, Stream,
};

/// Steps between the points where a unit reports progress and may be saved or stopped: rare enough to cost
/// nothing, frequent enough for a progress bar and a prompt Ctrl-C.
pub(super) const PROGRESS_EVERY: u64 = 4096;

/// What one replica of a unit keeps for itself.
#[derive(Debug)]
struct Replica {
    index: usize,
    log_weight: f64,
    holdout: Holdout,
    records: Vec<Record>,
    /// The particles kept so far, for a replica whose particles the plan keeps.
    particles: Option<Vec<Particles>>,
    /// Steps done (frozen at the divergence for a diverged replica).
    done: u64,
    divergence: Option<Divergence>,
}

/// Replicas `first..first + count` of one point, stepped by one stepper. All running replicas of a unit
/// have done the same steps.
pub(super) struct Unit<'p> {
    plan: &'p PointPlan,
    columns: usize,
    stepper: Box<dyn Stepper>,
    replicas: Vec<Replica>,
    streams: Vec<ReplicaStreams<'p>>,
    /// Per replica: how it stopped inside a step, as the stepper reports it (and is told not to step it).
    stopped: Vec<Option<Diverged>>,
    scratch: Vec<f64>,
    /// Steps done by every running replica.
    done: u64,
}

impl std::fmt::Debug for Unit<'_> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Unit").field("replicas", &self.replicas).field("done", &self.done).finish()
    }
}

impl<'p> Unit<'p> {
    /// The replicas `first..first + count` at step 0: a stepper from the plan's dynamics, each replica's
    /// initial weights from its Init stream (replica 0's for a quenched ensemble), its held-out sample and
    /// its streams.
    pub(super) fn new(plan: &'p PointPlan, first: usize, count: usize) -> Unit<'p> {
        let mut stepper = plan.dynamics.stepper(count);
        let size: usize = plan.blocks.iter().map(|b| b.rows * b.cols).sum();
        let holdout_size = plan.observables.iter().map(|o| o.holdout_size()).max().unwrap_or(0);
        let dim = plan.data.dim();
        let mut params = vec![0.0; size];
        let mut replicas = Vec::with_capacity(count);
        let mut streams = Vec::with_capacity(count);
        for (k, index) in (first..first + count).enumerate() {
            let key = |purpose| plan.stream(index, purpose);
            let init_replica = match plan.ensemble {
                Ensemble::Annealed => index,
                Ensemble::Quenched => 0,
            };
            let log_weight = (plan.init)(&mut params, &mut plan.stream(init_replica, Purpose::Init));
            stepper.set_params(k, &params);
            let mut holdout = Holdout { x: vec![0.0; holdout_size * dim], y: vec![0.0; holdout_size] };
            if holdout_size > 0 {
                plan.data.holdout().fill(&mut key(Purpose::Holdout), &mut holdout.x, &mut holdout.y);
            }
            replicas.push(Replica {
                index,
                log_weight,
                holdout,
                records: Vec::with_capacity(plan.record_steps.len()),
                particles: (index < plan.particle_replicas && !plan.particle_steps.is_empty()).then(Vec::new),
                done: 0,
                divergence: None,
            });
            streams.push(ReplicaStreams {
                data: plan.data.stream(),
                data_rng: key(Purpose::Data),
                noise_rng: key(Purpose::Noise),
            });
        }
        Unit {
            plan,
            columns: plan.columns().len(),
            stepper,
            replicas,
            streams,
            stopped: vec![None; count],
            scratch: Vec::new(),
            done: 0,
        }
    }

    /// Steps done by every running replica.
    pub(super) fn done(&self) -> u64 {
        self.done
    }

    /// The replicas still running, by their place in the unit.
    pub(super) fn running(&self) -> impl Iterator<Item = usize> + '_ {
        (0..self.replicas.len()).filter(|&k| self.replicas[k].divergence.is_none())
    }

    /// The records of the unit's `k`-th replica.
    pub(super) fn records(&self, k: usize) -> &[Record] {
        &self.replicas[k].records
    }

    /// The importance weights log(dμ0/dq) of the replicas' initial weights.
    pub(super) fn log_weights(&self) -> impl Iterator<Item = f64> + '_ {
        self.replicas.iter().map(|r| r.log_weight)
    }

    /// The first divergence of the unit's replicas.
    pub(super) fn first_divergence(&self) -> Option<&Divergence> {
        self.replicas.iter().find_map(|r| r.divergence.as_ref())
    }

    /// The parameters of the unit's `k`-th replica.
    pub(super) fn params(&mut self, k: usize) -> &[f64] {
        self.stepper.model(k).params()
    }

    /// Sets the parameters of the unit's `k`-th replica (a clone's new state).
    pub(super) fn set_params(&mut self, k: usize, params: &[f64]) {
        self.stepper.set_params(k, params);
    }

    /// Continues the unit's only replica from a checkpoint: the parameters, records and noise stream are
    /// restored, the data stream is replayed for `done` steps (so a stream with state of its own, e.g. an
    /// epoch order, is rebuilt too) and must arrive where the checkpoint says. `Err` when it does not: the
    /// checkpoint is from another scenario or program.
    pub(super) fn restore(&mut self, state: ReplicaState) -> Result<(), String> {
        debug_assert_eq!(self.replicas.len(), 1, "a unit that restores holds one replica");
        let expected = self.stepper.model(0).params().len();
        if state.params.len() != expected {
            return Err(format!("it holds {} parameters, the model has {expected}", state.params.len()));
        }
        let streams = &mut self.streams[0];
        let (batch, dim) = (self.plan.batch, self.plan.data.dim());
        let (mut x, mut y) = (vec![0.0; batch * dim], vec![0.0; batch]);
        for _ in 0..state.done {
            streams.fill(&mut x, &mut y);
        }
        if streams.data_rng.get_word_pos() != state.data_position {
            return Err(format!("its data stream position does not match a replay of {} steps", state.done));
        }
        streams.noise_rng.set_word_pos(state.noise_position);
        self.stepper.set_params(0, &state.params);
        let replica = &mut self.replicas[0];
        replica.done = state.done;
        replica.log_weight = state.log_weight;
        replica.records = state.records;
        replica.particles = replica.particles.as_ref().map(|_| state.particles);
        self.done = state.done;
        Ok(())
    }

    /// The state of the unit's `k`-th replica, for a checkpoint.
    pub(super) fn state(&mut self, k: usize) -> ReplicaState {
        let params = self.stepper.model(k).params().to_vec();
        let (replica, streams) = (&self.replicas[k], &self.streams[k]);
        ReplicaState {
            replica: replica.index,
            done: replica.done,
            params,
            data_position: streams.data_rng.get_word_pos(),
            noise_position: streams.noise_rng.get_word_pos(),
            records: replica.records.clone(),
            particles: replica.particles.clone().unwrap_or_default(),
            log_weight: replica.log_weight,
        }
    }

    /// Advances every running replica to step `target`, in chunks that end at `target` and at multiples of
    /// [`PROGRESS_EVERY`]; at each multiple before `target` reports progress and asks `pause` whether to
    /// stop, returning `false` if it did. A replica whose step fails stops there, diverged.
    pub(super) fn step_to(
        &mut self,
        target: u64,
        progress: &dyn Progress,
        pause: &mut dyn FnMut(&mut Unit<'p>) -> bool,
    ) -> bool {
        while self.done < target && self.running().next().is_some() {
            let end = target.min((self.done / PROGRESS_EVERY + 1) * PROGRESS_EVERY);
            let steps = end - self.done;
            self.stepper.advance(steps, &mut self.streams, &mut self.stopped);
            let mut advanced = 0;
            for k in 0..self.replicas.len() {
                if self.replicas[k].divergence.is_some() {
                    continue;
                }
                match self.stopped[k] {
                    Some(Diverged { completed, residual }) => {
                        let why =
                            format!("the prediction became non-finite (residual {residual}); the step is too large");
                        let divergence = self.plan.divergence(self.replicas[k].index, self.done + completed + 1, why);
                        let replica = &mut self.replicas[k];
                        replica.done = self.done + completed;
                        replica.divergence = Some(divergence);
                        advanced += completed;
                    }
                    None => {
                        self.replicas[k].done = end;
                        advanced += steps;
                    }
                }
            }
            progress.advance(self.plan.info.index, advanced);
            self.done = end;
            if end < target && end.is_multiple_of(PROGRESS_EVERY) && pause(self) {
                return false;
            }
        }
        true
    }

    /// Checks the parameters of every running replica and records its observables at the current step (and
    /// its parameters, at a particle step); a replica whose parameters are not finite stops, diverged.
    pub(super) fn observe(&mut self) {
        let Unit { plan, columns, stepper, replicas, stopped, scratch, done, .. } = self;
        let (step, time) = (*done, plan.time_of(*done));
        let keep_particles = plan.particle_steps.binary_search(&step).is_ok();
        for (k, replica) in replicas.iter_mut().enumerate().filter(|(_, r)| r.divergence.is_none()) {
            let model = stepper.model(k);
            if model.params().iter().any(|p| !p.is_finite()) {
                let why = "parameters became non-finite; the step is too large".to_owned();
                replica.divergence = Some(plan.divergence(replica.index, step, why));
                // Not stepped again: the stepper clears its state.
                stopped[k] = Some(Diverged { completed: 0, residual: f64::NAN });
                continue;
            }
            let mut values = Vec::with_capacity(*columns);
            let mut ctx = ObservationContext { step, model, holdout: &replica.holdout, scratch };
            for observable in &plan.observables {
                observable.observe(&mut ctx, &mut values);
            }
            if let Some(kept) = replica.particles.as_mut().filter(|_| keep_particles) {
                kept.push(Particles { step, time, params: ctx.model.params().to_vec() });
            }
            replica.records.push(Record { step, time, values });
        }
    }

    /// Forgets the records kept so far (a cloning population keeps only each record's selection).
    pub(super) fn clear_records(&mut self) {
        for replica in &mut self.replicas {
            replica.records.clear();
        }
    }

    /// The result of the unit's `k`-th replica, and its report to `progress` as done.
    pub(super) fn result(&mut self, k: usize, progress: &dyn Progress) -> ReplicaResult {
        progress.replica_done(self.plan.info.index);
        let replica = &mut self.replicas[k];
        ReplicaResult {
            replica: replica.index,
            records: std::mem::take(&mut replica.records),
            divergence: replica.divergence.clone(),
            log_weight: replica.log_weight,
            particles: replica.particles.take().unwrap_or_default(),
        }
    }

    /// Whether the unit's `k`-th replica diverged.
    pub(super) fn diverged(&self, k: usize) -> bool {
        self.replicas[k].divergence.is_some()
    }

    /// The replicas of the unit.
    pub(super) fn len(&self) -> usize {
        self.replicas.len()
    }
}

impl PointPlan {
    pub(super) fn stream(&self, replica: usize, purpose: Purpose) -> Stream {
        self.info.stream(replica as u64, purpose)
    }

    fn time_of(&self, step: u64) -> f64 {
        step as f64 * self.info.time_per_step
    }

    /// Replica `replica` diverged at step `step` because of `what`.
    fn divergence(&self, replica: usize, step: u64, what: String) -> Divergence {
        // A component that failed (a plugin panic) wrote NaN: its reason is the real cause.
        let what = match self.faults.first() {
            Some(fault) => format!("{fault} (its output was replaced by NaN)"),
            None => what,
        };
        Divergence {
            step,
            time: self.time_of(step),
            message: format!(
                "replica {replica} of {} diverged at step {step} (t = {}): {what}",
                self.info.describe(),
                self.time_of(step)
            ),
        }
    }
}
