//! The executor: runs every replica of every sweep point, in parallel, reproducibly.
//!
//! A replica is a sequential loop (sample a batch, step, record on schedule) whose randomness comes only
//! from its own streams, so its result does not depend on the thread that runs it. Replicas of all points
//! are spread over the current rayon pool and collected back in (point, replica) order, which makes the
//! output identical for any number of threads. Small online networks under plain SGD run in groups, one
//! replica per vector lane of a [`Lockstep`], which changes no replica's bits (see [`Group`]).

use meanfield_core::{
    Checkpoints, DataDistribution, Divergence, Dynamics, FaultLog, Holdout, Lockstep, Model, NoCheckpoints, Observable,
    ObservationContext, PointInfo, PointResult, Progress, Purpose, Record, ReplicaResult, ReplicaState, Saved,
    Selection, Snapshot, StepWorkspace, StreamKey,
};
use rand::RngCore;
use rayon::prelude::*;
use std::sync::Arc;
use std::time::Instant;

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
    /// Record steps at which replicas `0..snapshot_replicas` keep their whole parameter vector.
    pub snapshot_steps: Vec<u64>,
    pub snapshot_replicas: usize,
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

/// Steps whose samples a [`Group`] draws at once from each replica's stream. Drawn step by step,
/// `ensemble-64` spent about 4 % of its time in its teacher's link, one tanh at a time (a run with the link
/// removed took 0.344 against 0.357 ns per weight update, the fastest of eight alternated runs).
const DRAW_BLOCK: usize = 16;

/// One replica in motion: its model, streams and buffers, advanced record by record. `run_replica` drives
/// one to its horizon; `run_population` drives many in lockstep and copies states between them.
struct Replica<'p> {
    plan: &'p PlanRef<'p>,
    replica: usize,
    model: Box<dyn Model>,
    log_weight: f64,
    holdout: Holdout,
    data: Box<dyn meanfield_core::DataStream + 'p>,
    data_rng: meanfield_core::rng::Stream,
    noise_rng: meanfield_core::rng::Stream,
    x: Vec<f64>,
    y: Vec<f64>,
    /// The following step's batch, drawn ahead within a run of steps (see [`Replica::steps`]).
    next_x: Vec<f64>,
    next_y: Vec<f64>,
    work: StepWorkspace,
    scratch: Vec<f64>,
    done: u64,
    /// Whether this replica keeps parameter snapshots, and those kept so far.
    snapshots: Option<Vec<Snapshot>>,
}

/// A plan with its column count, computed once.
struct PlanRef<'p> {
    plan: &'p PointPlan,
    columns: usize,
}

impl<'p> Replica<'p> {
    fn new(plan: &'p PlanRef<'p>, replica: usize) -> Replica<'p> {
        let (p, key) = (plan.plan, |purpose| plan.plan.key(replica, purpose));
        let init_replica = match p.ensemble {
            Ensemble::Annealed => replica,
            Ensemble::Quenched => 0,
        };
        let InitialModel { model, log_weight } = (p.model)(&mut p.key(init_replica, Purpose::Init).stream());
        let d = model.input_dim();
        let batch = p.dynamics.batch_size();
        let holdout_size = p.observables.iter().map(|o| o.holdout_size()).max().unwrap_or(0);
        let mut holdout = Holdout { x: vec![0.0; holdout_size * d], y: vec![0.0; holdout_size] };
        if holdout_size > 0 {
            p.data.holdout().fill_stream(&mut key(Purpose::Holdout).stream(), &mut holdout.x, &mut holdout.y);
        }
        let work = StepWorkspace::new(model.params().len(), batch);
        Replica {
            plan,
            replica,
            model,
            log_weight,
            holdout,
            data: p.data.stream(),
            data_rng: key(Purpose::Data).stream(),
            noise_rng: key(Purpose::Noise).stream(),
            x: vec![0.0; batch * d],
            y: vec![0.0; batch],
            next_x: vec![0.0; batch * d],
            next_y: vec![0.0; batch],
            work,
            scratch: Vec::new(),
            done: 0,
            snapshots: (replica < p.snapshot_replicas && !p.snapshot_steps.is_empty()).then(Vec::new),
        }
    }

    /// Continues from a checkpoint: the parameters and the noise stream are restored, the data stream is
    /// replayed for `done` steps (so a stream with state of its own, e.g. an epoch order, is rebuilt too)
    /// and must arrive where the checkpoint says. `Err` when it does not: the checkpoint is from another
    /// scenario or program.
    fn restore(&mut self, state: &ReplicaState) -> Result<(), String> {
        if state.params.len() != self.model.params().len() {
            return Err(format!(
                "it holds {} parameters, the model has {}",
                state.params.len(),
                self.model.params().len()
            ));
        }
        for _ in 0..state.done {
            self.data.fill_stream(&mut self.data_rng, &mut self.x, &mut self.y);
        }
        if self.data_rng.get_word_pos() != state.data_position {
            return Err(format!("its data stream position does not match a replay of {} steps", state.done));
        }
        self.noise_rng.set_word_pos(state.noise_position);
        self.model.params_mut().copy_from_slice(&state.params);
        self.done = state.done;
        self.log_weight = state.log_weight;
        self.snapshots = self.snapshots.as_ref().map(|_| state.snapshots.clone());
        Ok(())
    }

    fn state(&self, records: &[Record]) -> ReplicaState {
        ReplicaState {
            replica: self.replica,
            done: self.done,
            params: self.model.params().to_vec(),
            data_position: self.data_rng.get_word_pos(),
            noise_position: self.noise_rng.get_word_pos(),
            records: records.to_vec(),
            snapshots: self.snapshots.clone().unwrap_or_default(),
            log_weight: self.log_weight,
        }
    }

    fn time_of(&self, step: u64) -> f64 {
        step as f64 * self.plan.plan.info.time_per_step
    }

    fn divergence(&self, step: u64, what: String) -> Divergence {
        let info = &self.plan.plan.info;
        // A component that failed (a plugin panic) wrote NaN: its reason is the real cause.
        let what = match self.plan.plan.faults.first() {
            Some(fault) => format!("{fault} (its output was replaced by NaN)"),
            None => what,
        };
        Divergence {
            step,
            time: self.time_of(step),
            message: format!(
                "replica {} of point {} diverged at step {step} (t = {}): {what}",
                self.replica,
                if info.label.is_empty() { "0".to_owned() } else { format!("'{}'", info.label) },
                self.time_of(step)
            ),
        }
    }

    /// Steps to `target` and records the observables there.
    fn advance(&mut self, target: u64, progress: &dyn Progress) -> Result<Record, Divergence> {
        self.step_to(target, progress, &mut |_| false).map(|stopped| stopped.expect("never paused"))
    }

    /// Steps to `target` and records the observables there; every `PROGRESS_EVERY` steps asks `pause`
    /// (given the steps done) whether to stop early, and returns `Ok(None)` if it did.
    fn step_to(
        &mut self,
        target: u64,
        progress: &dyn Progress,
        pause: &mut dyn FnMut(&Self) -> bool,
    ) -> Result<Option<Record>, Divergence> {
        if !self.steps(target, progress, pause)? {
            return Ok(None);
        }
        self.observe().map(Some)
    }

    /// The stepping loop: steps to `target`; `Ok(false)` if `pause` stopped it early.
    fn steps(
        &mut self,
        target: u64,
        progress: &dyn Progress,
        pause: &mut dyn FnMut(&Self) -> bool,
    ) -> Result<bool, Divergence> {
        let plan = self.plan.plan;
        let point = plan.info.index;
        let mut drawn = false;
        while self.done < target {
            if drawn {
                std::mem::swap(&mut self.x, &mut self.next_x);
                std::mem::swap(&mut self.y, &mut self.next_y);
            } else {
                self.data.fill_stream(&mut self.data_rng, &mut self.x, &mut self.y);
            }
            drawn = draws_ahead(self.done + 1, target);
            if drawn {
                self.data.fill_stream(&mut self.data_rng, &mut self.next_x, &mut self.next_y);
            }
            let next_x = if drawn { Some(&self.next_x[..]) } else { None };
            if let Err(bad) = plan.dynamics.step_before(
                self.model.as_mut(),
                &self.x,
                &self.y,
                next_x,
                &mut self.work,
                &mut self.noise_rng,
            ) {
                return Err(self.divergence(self.done + 1, non_finite_residual(bad.residual)));
            }
            self.done += 1;
            if self.done.is_multiple_of(PROGRESS_EVERY) {
                progress.advance(point, PROGRESS_EVERY);
                if self.done < target && pause(self) {
                    return Ok(false);
                }
            }
        }
        Ok(true)
    }

    /// Checks the parameters and records the observables at the current step.
    fn observe(&mut self) -> Result<Record, Divergence> {
        let plan = self.plan.plan;
        if self.model.params().iter().any(|p| !p.is_finite()) {
            return Err(self.divergence(self.done, "parameters became non-finite; the step is too large".to_owned()));
        }
        let mut values = Vec::with_capacity(self.plan.columns);
        let mut ctx = ObservationContext {
            step: self.done,
            model: self.model.as_mut(),
            holdout: &self.holdout,
            scratch: &mut self.scratch,
        };
        for observable in &plan.observables {
            observable.observe(&mut ctx, &mut values);
        }
        let time = self.time_of(self.done);
        if let Some(snapshots) = &mut self.snapshots
            && plan.snapshot_steps.binary_search(&self.done).is_ok()
        {
            snapshots.push(Snapshot { step: self.done, time, params: self.model.params().to_vec() });
        }
        Ok(Record { step: self.done, time, values })
    }

    fn finish(&self, progress: &dyn Progress) {
        progress.advance(self.plan.plan.info.index, self.done % PROGRESS_EVERY);
        progress.replica_done(self.plan.plan.info.index);
    }

    fn result(&mut self, records: Vec<Record>, divergence: Option<Divergence>) -> ReplicaResult {
        ReplicaResult {
            replica: self.replica,
            records,
            divergence,
            log_weight: self.log_weight,
            snapshots: self.snapshots.take().unwrap_or_default(),
        }
    }
}

/// Whether a run of steps to `target` draws the batch of step `next + 1` before step `next` runs, so that
/// a model can start its forward pass early (`Model::fused_sgd_step`); the stream's order is unchanged.
/// Never across the end of the run or a point where the replica may be saved (a multiple of
/// `PROGRESS_EVERY`): there the stream stands exactly after the batches of the steps done, which is what a
/// restore replays.
fn draws_ahead(next: u64, target: u64) -> bool {
    next < target && !next.is_multiple_of(PROGRESS_EVERY)
}

fn non_finite_residual(residual: f64) -> String {
    format!("the prediction became non-finite (residual {residual}); the step is too large")
}

/// Replicas of one point stepped together in the lanes of a [`Lockstep`]: the ensemble path for small
/// online networks under plain SGD. Each replica keeps its own streams, records and divergence, drawn,
/// stepped and recorded exactly as [`Replica::steps`] and [`Replica::observe`] do alone, so the results
/// are the same bit for bit; the lanes only share the vector registers. The replicas' models hold their
/// parameters only after [`Group::sync`].
struct Group<'p> {
    replicas: Vec<Replica<'p>>,
    lanes: Box<dyn Lockstep>,
    eta: f64,
    /// This step's samples and the next one's, lane-major (lane r's sample at r·d), and their labels.
    x: Vec<f64>,
    y: Vec<f64>,
    next_x: Vec<f64>,
    next_y: Vec<f64>,
    residual: Vec<f64>,
    /// Each lane's samples of the steps `block_first..block_first + block_len`, drawn in one call of its
    /// stream (lane r's from r·DRAW_BLOCK samples on): a stream asked for several samples labels them
    /// together, a teacher's link in one vector call.
    block_x: Vec<f64>,
    block_y: Vec<f64>,
    block_first: u64,
    block_len: usize,
    /// Steps done by every replica still running.
    done: u64,
    /// Why each lane's replica stopped, once it diverged; its lane then holds zeros (a finite state that
    /// costs the others nothing) and its replica keeps the step count and records of the moment.
    diverged: Vec<Option<Divergence>>,
}

impl<'p> Group<'p> {
    /// The replicas in lanes, if the point's dynamics is plain online SGD and its model has lanes for
    /// exactly this many replicas; the replicas back otherwise.
    fn new(replicas: Vec<Replica<'p>>) -> Result<Group<'p>, Vec<Replica<'p>>> {
        let first = &replicas[0];
        let (Some(eta), Some(mut lanes)) =
            (first.plan.plan.dynamics.plain_online_step(), first.model.lockstep(replicas.len()))
        else {
            return Err(replicas);
        };
        if lanes.lanes() != replicas.len() || replicas.iter().any(|r| r.done != 0) {
            return Err(replicas);
        }
        for (lane, replica) in replicas.iter().enumerate() {
            lanes.load(lane, replica.model.params());
        }
        let (n, d) = (replicas.len(), first.model.input_dim());
        Ok(Group {
            lanes,
            eta,
            x: vec![0.0; n * d],
            y: vec![0.0; n],
            next_x: vec![0.0; n * d],
            next_y: vec![0.0; n],
            residual: vec![0.0; n],
            block_x: vec![0.0; n * DRAW_BLOCK * d],
            block_y: vec![0.0; n * DRAW_BLOCK],
            block_first: 0,
            block_len: 0,
            done: 0,
            diverged: vec![None; n],
            replicas,
        })
    }

    fn running(&self) -> impl Iterator<Item = usize> + '_ {
        self.diverged.iter().enumerate().filter(|(_, d)| d.is_none()).map(|(lane, _)| lane)
    }

    /// Puts the sample of step `step` (numbered from 0) of every running replica into `x`/`y` (or
    /// `next_x`/`next_y`), drawing the samples of up to [`DRAW_BLOCK`] steps when the block is used up: never
    /// past `target` or a multiple of `PROGRESS_EVERY`, where a replica may be saved and its stream must
    /// stand exactly after the samples of the steps done (as for [`draws_ahead`]).
    fn draw(&mut self, step: u64, target: u64, ahead: bool) {
        let d = self.x.len() / self.y.len();
        if step >= self.block_first + self.block_len as u64 {
            let len = (DRAW_BLOCK as u64).min(target - step).min(PROGRESS_EVERY - step % PROGRESS_EVERY) as usize;
            for (lane, replica) in self.replicas.iter_mut().enumerate() {
                if self.diverged[lane].is_none() {
                    let (x, y) = (&mut self.block_x[lane * DRAW_BLOCK * d..], &mut self.block_y[lane * DRAW_BLOCK..]);
                    replica.data.fill_stream(&mut replica.data_rng, &mut x[..len * d], &mut y[..len]);
                }
            }
            (self.block_first, self.block_len) = (step, len);
        }
        let sample = (step - self.block_first) as usize;
        let (x, y) = if ahead { (&mut self.next_x, &mut self.next_y) } else { (&mut self.x, &mut self.y) };
        for lane in 0..self.replicas.len() {
            if self.diverged[lane].is_none() {
                let first = lane * DRAW_BLOCK + sample;
                x[lane * d..][..d].copy_from_slice(&self.block_x[first * d..][..d]);
                y[lane] = self.block_y[first];
            }
        }
    }

    /// [`Replica::steps`] for every running lane at once.
    fn steps(&mut self, target: u64, progress: &dyn Progress, pause: &mut dyn FnMut(&mut Self) -> bool) -> bool {
        let point = self.replicas[0].plan.plan.info.index;
        let mut drawn = false;
        while self.done < target {
            if drawn {
                std::mem::swap(&mut self.x, &mut self.next_x);
                std::mem::swap(&mut self.y, &mut self.next_y);
            } else {
                self.draw(self.done, target, false);
            }
            drawn = draws_ahead(self.done + 1, target);
            if drawn {
                self.draw(self.done + 1, target, true);
            }
            let next_x = if drawn { Some(&self.next_x[..]) } else { None };
            self.lanes.sgd_step(&self.x, &self.y, self.eta, &mut self.residual, next_x);
            for lane in 0..self.replicas.len() {
                if self.diverged[lane].is_none() && !self.residual[lane].is_finite() {
                    let why = non_finite_residual(self.residual[lane]);
                    self.stop_lane(lane, |replica, done| replica.divergence(done + 1, why));
                }
            }
            self.done += 1;
            if self.done.is_multiple_of(PROGRESS_EVERY) {
                progress.advance(point, PROGRESS_EVERY * self.running().count() as u64);
                if self.done < target && pause(self) {
                    return false;
                }
            }
        }
        true
    }

    /// Stops lane `lane` with the divergence `why` makes of its replica at the steps done.
    fn stop_lane(&mut self, lane: usize, why: impl FnOnce(&Replica<'p>, u64) -> Divergence) {
        let replica = &mut self.replicas[lane];
        replica.done = self.done;
        self.diverged[lane] = Some(why(replica, self.done));
        let zeros = vec![0.0; replica.model.params().len()];
        self.lanes.load(lane, &zeros);
    }

    /// Brings the running replicas' models and step counts up to date.
    fn sync(&mut self) {
        for lane in 0..self.replicas.len() {
            if self.diverged[lane].is_none() {
                let replica = &mut self.replicas[lane];
                self.lanes.unload(lane, replica.model.params_mut());
                replica.done = self.done;
            }
        }
    }

    /// [`Replica::observe`] of every running lane: its record, or it stops (the parameters diverged).
    fn observe(&mut self, records: &mut [Vec<Record>]) {
        self.sync();
        for lane in 0..self.replicas.len() {
            if self.diverged[lane].is_none() {
                match self.replicas[lane].observe() {
                    Ok(record) => records[lane].push(record),
                    Err(divergence) => self.stop_lane(lane, |_, _| divergence),
                }
            }
        }
    }
}

/// Runs one replica of a point to its horizon, or until it diverges.
pub fn run_replica(plan: &PointPlan, replica: usize, progress: &dyn Progress) -> ReplicaResult {
    match run_replica_with(plan, replica, progress, &NoCheckpoints) {
        Ok(result) => result,
        Err(Stopped) => unreachable!("NoCheckpoints never stops a run"),
    }
}

/// The run stopped before every replica finished (Ctrl-C, or a checkpoint could not be written); what
/// was done is in the checkpoints.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Stopped;

/// A checkpoint's saved state does not fit the replica it is for.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("the checkpoint of replica {replica} of point {point} does not fit this scenario: {reason}")]
pub struct Mismatch {
    pub point: usize,
    pub replica: usize,
    pub reason: String,
}

/// [`run_replica`] with checkpoints: starts from what `checkpoints` saved of the replica, saves its state
/// every interval, and stops (saving) when the run is stopping. The result is the same as without
/// checkpoints, however often it was interrupted. A saved state that does not fit is reported to
/// `checkpoints` as a stop; [`run_points_with`] returns it as a [`Mismatch`].
pub fn run_replica_with(
    plan: &PointPlan,
    replica: usize,
    progress: &dyn Progress,
    checkpoints: &dyn Checkpoints,
) -> Result<ReplicaResult, Stopped> {
    run_replica_checked(plan, replica, progress, checkpoints).map_err(|e| match e {
        Interruption::Stopped | Interruption::Mismatch(_) => Stopped,
    })
}

enum Interruption {
    Stopped,
    Mismatch(Mismatch),
}

fn run_replica_checked(
    plan: &PointPlan,
    replica: usize,
    progress: &dyn Progress,
    checkpoints: &dyn Checkpoints,
) -> Result<ReplicaResult, Interruption> {
    let point = plan.info.index;
    let saved = checkpoints.saved(point, replica);
    if let Some(Saved::Finished(result)) = saved {
        progress.advance(point, result.records.last().map_or(0, |r| r.step));
        progress.replica_done(point);
        return Ok(result);
    }
    if checkpoints.stopping() {
        return Err(Interruption::Stopped);
    }
    let plan = PlanRef { plan, columns: plan.columns().len() };
    let mut state = Replica::new(&plan, replica);
    let mut records = Vec::with_capacity(plan.plan.record_steps.len());
    if let Some(Saved::Running(saved)) = saved {
        state.restore(&saved).map_err(|reason| Interruption::Mismatch(Mismatch { point, replica, reason }))?;
        records = saved.records;
        progress.advance(point, state.done - state.done % PROGRESS_EVERY);
    }
    let interval = checkpoints.interval();
    let mut last_saved = Instant::now();
    let mut divergence = None;
    let mut stopped = false;
    let mut pause = |replica: &Replica<'_>, records: &[Record]| {
        let due = interval.is_some_and(|every| last_saved.elapsed() >= every);
        let stop = checkpoints.stopping();
        if due || stop {
            checkpoints.save(point, &replica.state(records));
            last_saved = Instant::now();
        }
        stop
    };
    for &record_step in &plan.plan.record_steps {
        if record_step < state.done || records.last().is_some_and(|r: &Record| r.step >= record_step) {
            continue;
        }
        let outcome = {
            let done_records: &[Record] = &records;
            state.step_to(record_step, progress, &mut |r| pause(r, done_records))
        };
        match outcome {
            Ok(Some(record)) => records.push(record),
            Ok(None) => {
                stopped = true;
                break;
            }
            Err(diverged) => {
                divergence = Some(diverged);
                break;
            }
        }
        if pause(&state, &records) && records.len() < plan.plan.record_steps.len() {
            stopped = true;
            break;
        }
    }
    if stopped {
        return Err(Interruption::Stopped);
    }
    state.finish(progress);
    let result = state.result(records, divergence);
    checkpoints.finished(point, &result);
    Ok(result)
}

/// How replicas `0..replicas` of `plan` run: as `(first, count)` groups in lanes (one [`Lockstep`] for
/// `count` replicas), each as wide as the model offers for the replicas left, then the rest alone (`count`
/// 1). Asks a model built for the purpose, which costs one initialisation, only when the dynamics is plain
/// online SGD and there is more than one replica.
fn unit_sizes(plan: &PointPlan, replicas: usize) -> Vec<(usize, usize)> {
    let mut sizes = Vec::new();
    let mut first = 0;
    if replicas > 1 && plan.dynamics.plain_online_step().is_some() {
        let model = (plan.model)(&mut plan.key(0, Purpose::Init).stream()).model;
        let lanes_for = |left: usize| model.lockstep(left).map(|l| l.lanes()).filter(|&l| l > 1 && l <= left);
        while let Some(lanes) = lanes_for(replicas - first) {
            let groups = (replicas - first) / lanes;
            sizes.extend((0..groups).map(|g| (first + g * lanes, lanes)));
            first += groups * lanes;
        }
    }
    sizes.extend((first..replicas).map(|r| (r, 1)));
    sizes
}

/// The replicas `first..first + count` of one point, run by one task: in lanes when `count` > 1, alone
/// otherwise.
#[derive(Debug, Clone, Copy)]
struct Unit {
    point: usize,
    first: usize,
    count: usize,
}

/// Every point's replicas as units ([`unit_sizes`]).
fn units(plans: &[PointPlan]) -> Vec<Unit> {
    let mut units = Vec::new();
    for (point, plan) in plans.iter().enumerate() {
        let sizes = unit_sizes(plan, plan.info.replicas);
        units.extend(sizes.into_iter().map(|(first, count)| Unit { point, first, count }));
    }
    units
}

/// [`run_replica_checked`] for the replicas of a unit. Lanes start only from scratch: a unit with a
/// replica saved by an interrupted run runs its replicas alone (with the same results).
fn run_unit_checked(
    plan: &PointPlan,
    unit: Unit,
    progress: &dyn Progress,
    checkpoints: &dyn Checkpoints,
) -> Vec<Result<ReplicaResult, Interruption>> {
    let (point, range) = (plan.info.index, unit.first..unit.first + unit.count);
    let alone = |range: std::ops::Range<usize>| -> Vec<_> {
        range.map(|r| run_replica_checked(plan, r, progress, checkpoints)).collect()
    };
    if unit.count == 1 || range.clone().any(|r| checkpoints.saved(point, r).is_some()) || checkpoints.stopping() {
        return alone(range);
    }
    let plan_ref = PlanRef { plan, columns: plan.columns().len() };
    let replicas: Vec<Replica<'_>> = range.clone().map(|r| Replica::new(&plan_ref, r)).collect();
    let Ok(mut group) = Group::new(replicas) else {
        return alone(range);
    };
    let mut records: Vec<Vec<Record>> = vec![Vec::with_capacity(plan.record_steps.len()); unit.count];
    let interval = checkpoints.interval();
    let mut last_saved = Instant::now();
    let mut pause = |group: &mut Group<'_>, records: &[Vec<Record>]| {
        let due = interval.is_some_and(|every| last_saved.elapsed() >= every);
        let stop = checkpoints.stopping();
        if due || stop {
            group.sync();
            for lane in group.running().collect::<Vec<_>>() {
                checkpoints.save(point, &group.replicas[lane].state(&records[lane]));
            }
            last_saved = Instant::now();
        }
        stop
    };
    let mut stopped = false;
    for &record_step in &plan.record_steps {
        let done_records: &[Vec<Record>] = &records;
        if !group.steps(record_step, progress, &mut |g| pause(g, done_records)) {
            stopped = true;
            break;
        }
        group.observe(&mut records);
        if group.running().next().is_none() {
            break;
        }
        let unfinished = group.running().any(|lane| records[lane].len() < plan.record_steps.len());
        if pause(&mut group, &records) && unfinished {
            stopped = true;
            break;
        }
    }
    group.sync();
    let Group { mut replicas, diverged, .. } = group;
    replicas
        .iter_mut()
        .zip(diverged)
        .zip(records)
        .map(|((replica, divergence), records)| {
            // A diverged replica has finished, even when the others stopped: as alone.
            if stopped && divergence.is_none() {
                return Err(Interruption::Stopped);
            }
            replica.finish(progress);
            let result = replica.result(records, divergence);
            checkpoints.finished(point, &result);
            Ok(result)
        })
        .collect()
}

/// Replicas trained by [`time_replicas`]: their final records and the wall seconds of the stepping.
#[derive(Debug, Clone, PartialEq)]
pub struct Timed {
    pub records: Vec<Record>,
    pub seconds: f64,
}

/// Trains replicas `0..replicas` of `plan` to the horizon in parallel on the current rayon pool, with the
/// stepping loop of [`run_replica`], and times the stepping alone: the replicas are built (initial
/// weights, held-out samples) before the clock starts and observed after it stops. What `meanfield bench`
/// measures.
pub fn time_replicas(plan: &PointPlan, replicas: usize) -> Result<Timed, Divergence> {
    let specs = unit_sizes(plan, replicas);
    let plan = PlanRef { plan, columns: plan.columns().len() };
    // The units of `run_points` (lanes where the point has them, the rest alone), each built by a worker
    // thread as `run_points` builds them: built on the calling thread, `ensemble-64` ran 1.5× instead of
    // 1.6–2.0× faster on two threads than on one (measured, alternated; the likely cause is neighbouring
    // units' small buffers sharing cache lines).
    let mut units: Vec<Result<Group<'_>, Vec<Replica<'_>>>> = specs
        .into_par_iter()
        .map(|(first, count)| {
            let chunk: Vec<Replica<'_>> = (first..first + count).map(|r| Replica::new(&plan, r)).collect();
            if count > 1 { Group::new(chunk) } else { Err(chunk) }
        })
        .collect();
    let horizon = plan.plan.info.steps;
    let none = &meanfield_core::progress::NoProgress;
    let clock = Instant::now();
    units.par_iter_mut().try_for_each(|unit| match unit {
        Ok(group) => {
            group.steps(horizon, none, &mut |_| false);
            match group.diverged.iter().flatten().next() {
                Some(divergence) => Err(divergence.clone()),
                None => Ok(()),
            }
        }
        Err(alone) => alone.iter_mut().try_for_each(|s| s.steps(horizon, none, &mut |_| false).map(|_| ())),
    })?;
    let seconds = clock.elapsed().as_secs_f64();
    let mut records = Vec::with_capacity(replicas);
    for unit in &mut units {
        match unit {
            Ok(group) => {
                group.sync();
                for replica in &mut group.replicas {
                    records.push(replica.observe()?);
                }
            }
            Err(alone) => {
                for replica in alone {
                    records.push(replica.observe()?);
                }
            }
        }
    }
    Ok(Timed { records, seconds })
}

/// Runs `clones` replicas of a point in lockstep (replica indices `first..first + clones`, so
/// populations with disjoint ranges are independent), calling `selection` at every record step and then
/// copying each chosen parent's parameters into its slot. Every slot keeps its own data and noise
/// streams, so copies diverge after the selection. Clones advance in parallel on the current rayon pool;
/// the selection is sequential, so results are identical for any thread count. A diverged clone stops
/// the population: its divergence is returned.
pub fn run_population(
    plan: &PointPlan,
    first: usize,
    clones: usize,
    selection: &mut dyn Selection,
    progress: &dyn Progress,
) -> Result<(), Divergence> {
    let plan = PlanRef { plan, columns: plan.columns().len() };
    let mut population: Vec<Replica<'_>> = (first..first + clones).map(|r| Replica::new(&plan, r)).collect();
    let log_weights: Vec<f64> = population.iter().map(|c| c.log_weight).collect();
    let size = population.first().map_or(0, |c| c.model.params().len());
    let mut parents = vec![0; clones];
    let mut states = vec![0.0; clones * size];
    for &record_step in &plan.plan.record_steps {
        let records: Vec<Record> =
            population.par_iter_mut().map(|clone| clone.advance(record_step, progress)).collect::<Result<_, _>>()?;
        selection.select(&records, &log_weights, &mut parents);
        for (state, clone) in states.chunks_exact_mut(size.max(1)).zip(&population) {
            state[..size].copy_from_slice(clone.model.params());
        }
        for (clone, &parent) in population.iter_mut().zip(&parents) {
            clone.model.params_mut().copy_from_slice(&states[parent * size..(parent + 1) * size]);
        }
    }
    for clone in &population {
        clone.finish(progress);
    }
    Ok(())
}

/// Runs all replicas of all points on the current rayon pool; results come back in point order, each
/// point's replicas in replica order.
pub fn run_points(plans: &[PointPlan], progress: &dyn Progress) -> Vec<PointResult> {
    match run_points_with(plans, progress, &NoCheckpoints) {
        Ok(points) => points,
        Err(_) => unreachable!("NoCheckpoints never stops a run"),
    }
}

/// Why [`run_points_with`] returned without every result.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Unfinished {
    /// Stopped (Ctrl-C, or a checkpoint could not be written); the checkpoints hold what was done.
    Stopped,
    /// A saved state does not fit its replica.
    Mismatch(Mismatch),
}

/// [`run_points`] with checkpoints (see [`run_replica_with`]).
pub fn run_points_with(
    plans: &[PointPlan],
    progress: &dyn Progress,
    checkpoints: &dyn Checkpoints,
) -> Result<Vec<PointResult>, Unfinished> {
    let units = units(plans);
    let outcomes: Vec<Vec<Result<ReplicaResult, Interruption>>> =
        units.par_iter().map(|&unit| run_unit_checked(&plans[unit.point], unit, progress, checkpoints)).collect();
    let mut results = Vec::with_capacity(plans.iter().map(|p| p.info.replicas).sum());
    let mut stopped = false;
    for outcome in outcomes.into_iter().flatten() {
        match outcome {
            Ok(result) => results.push(result),
            Err(Interruption::Mismatch(m)) => return Err(Unfinished::Mismatch(m)),
            Err(Interruption::Stopped) => stopped = true,
        }
    }
    if stopped {
        return Err(Unfinished::Stopped);
    }
    let mut points = Vec::with_capacity(plans.len());
    for plan in plans.iter().rev() {
        let replicas = results.split_off(results.len() - plan.info.replicas);
        points.push(PointResult { info: plan.info.clone(), columns: plan.columns(), replicas });
    }
    points.reverse();
    Ok(points)
}
