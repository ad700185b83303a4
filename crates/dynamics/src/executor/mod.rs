//! The executor: runs every replica of every sweep point, in parallel, reproducibly.
//!
//! A replica is a sequential loop (sample a batch, step, record on schedule) whose randomness comes only
//! from its own streams, so its result does not depend on the thread that runs it. The replicas of a point
//! are cut into units as its dynamics groups them (one replica, or several stepped side by side in vector
//! lanes, which changes no replica's bits), the units of all points are spread over the current rayon pool,
//! and the results are collected back in (point, replica) order, which makes the output identical for any
//! number of threads. Single runs, sweeps, ensembles, cloning populations and `meanfield bench` all run
//! through the same [`Unit`]: it advances its stepper in chunks that end at record points and at the points
//! where it may be saved or stopped, and records, saves and stops between chunks.

mod unit;

use meanfield_core::{
    Block, Checkpoints, DataDistribution, Divergence, Dynamics, FaultLog, NoCheckpoints, Observable, PointInfo,
    PointResult, Progress, Record, ReplicaResult, Saved, Selection,
};
use rand::RngCore;
use rayon::prelude::*;
use std::ops::Range;
use std::sync::Arc;
use std::time::Instant;
use unit::Unit;

/// Fills a replica's parameter vector (laid out as the plan's blocks) with its initial weights drawn from
/// the given stream; returns log(dμ0/dq) of them when they were drawn from an importance-sampling proposal q
/// instead of μ0 (zero otherwise).
pub type Initializer = Arc<dyn Fn(&mut [f64], &mut dyn RngCore) -> f64 + Send + Sync>;

/// Everything needed to run the replicas of one sweep point.
#[derive(Clone)]
pub struct PointPlan {
    pub info: PointInfo,
    /// The model's parameter blocks, in storage order.
    pub blocks: Vec<Block>,
    /// Samples per step (a restored replica replays its data stream batch by batch).
    pub batch: usize,
    pub init: Initializer,
    pub data: Arc<dyn DataDistribution>,
    pub dynamics: Arc<dyn Dynamics>,
    pub observables: Vec<Arc<dyn Observable>>,
    /// Sorted steps at which observables are recorded; the last is `info.steps`.
    pub record_steps: Vec<u64>,
    /// Where this point's components (plugins) record failures that they turned into NaN.
    pub faults: Arc<FaultLog>,
    /// The initial weights of the replicas: each its own (annealed) or one configuration for all.
    pub ensemble: Ensemble,
    /// Record steps at which replicas `0..particle_replicas` keep their whole parameter vector.
    pub particle_steps: Vec<u64>,
    pub particle_replicas: usize,
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

    /// Replicas `first..first + count` cut into units as the dynamics groups them, as `(first, count)`.
    fn units(&self, first: usize, count: usize) -> Vec<(usize, usize)> {
        let mut units = Vec::new();
        let (mut next, end) = (first, first + count);
        while next < end {
            let size = self.dynamics.group(end - next).clamp(1, end - next);
            units.push((next, size));
            next += size;
        }
        units
    }
}

/// The run stopped before every replica finished (Ctrl-C, or a checkpoint could not be written); what
/// was done is in the checkpoints.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Stopped;

/// A checkpoint's saved state does not fit the replica it is for.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("the checkpoint of replica {replica} of {point} does not fit this scenario: {reason}")]
pub struct Mismatch {
    /// The point as messages name it (`point 'width=8,seed=2'`).
    pub point: String,
    pub replica: usize,
    pub reason: String,
}

/// Why [`run_points_with`] returned without every result.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Unfinished {
    /// Stopped (Ctrl-C, or a checkpoint could not be written); the checkpoints hold what was done.
    Stopped,
    /// A saved state does not fit its replica.
    Mismatch(Mismatch),
}

enum Interruption {
    Stopped,
    Mismatch(Mismatch),
}

/// Runs one replica of a point to its horizon, or until it diverges, alone (a unit of one).
pub fn run_replica(plan: &PointPlan, replica: usize, progress: &dyn Progress) -> ReplicaResult {
    match run_replica_with(plan, replica, progress, &NoCheckpoints) {
        Ok(result) => result,
        Err(Stopped) => unreachable!("NoCheckpoints never stops a run"),
    }
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
    match run_unit(plan, (replica, 1), progress, checkpoints).pop() {
        Some(Ok(result)) => Ok(result),
        _ => Err(Stopped),
    }
}

/// Runs the replicas `first..first + count` of `plan` as one unit, from scratch, or each alone when one of
/// them was saved by an interrupted run (a unit continues from a checkpoint only with a single replica,
/// since its replicas step together; the results are the same).
fn run_unit(
    plan: &PointPlan,
    (first, count): (usize, usize),
    progress: &dyn Progress,
    checkpoints: &dyn Checkpoints,
) -> Vec<Result<ReplicaResult, Interruption>> {
    let point = plan.info.index;
    let range = first..first + count;
    if count > 1 && (checkpoints.stopping() || range.clone().any(|r| checkpoints.saved(point, r).is_some())) {
        return range.flat_map(|r| run_unit(plan, (r, 1), progress, checkpoints)).collect();
    }
    let saved = if count == 1 { checkpoints.saved(point, first) } else { None };
    if let Some(Saved::Finished(result)) = saved {
        progress.advance(point, result.records.last().map_or(0, |r| r.step));
        progress.replica_done(point);
        return vec![Ok(result)];
    }
    if checkpoints.stopping() {
        return vec![Err(Interruption::Stopped)];
    }
    let mut unit = Unit::new(plan, first, count);
    if let Some(Saved::Running(state)) = saved {
        if let Err(reason) = unit.restore(state) {
            return vec![Err(Interruption::Mismatch(Mismatch { point: plan.info.describe(), replica: first, reason }))];
        }
        progress.advance(point, unit.done());
    }
    let interval = checkpoints.interval();
    let mut last_saved = Instant::now();
    let mut pause = |unit: &mut Unit<'_>| {
        let due = interval.is_some_and(|every| last_saved.elapsed() >= every);
        let stop = checkpoints.stopping();
        if due || stop {
            for k in unit.running().collect::<Vec<_>>() {
                checkpoints.save(point, &unit.state(k));
            }
            last_saved = Instant::now();
        }
        stop
    };
    let total = plan.record_steps.len();
    let mut stopped = false;
    for &record_step in &plan.record_steps {
        // A restored replica has recorded up to where it stopped.
        if record_step < unit.done()
            || (0..count).any(|k| unit.records(k).last().is_some_and(|r| r.step >= record_step))
        {
            continue;
        }
        if !unit.step_to(record_step, progress, &mut pause) {
            stopped = true;
            break;
        }
        unit.observe();
        if unit.running().next().is_none() {
            break;
        }
        let unfinished = unit.running().any(|k| unit.records(k).len() < total);
        if pause(&mut unit) && unfinished {
            stopped = true;
            break;
        }
    }
    (0..unit.len())
        .map(|k| {
            // A diverged replica has finished, even when the others stopped.
            if stopped && !unit.diverged(k) {
                return Err(Interruption::Stopped);
            }
            let result = unit.result(k, progress);
            checkpoints.finished(point, &result);
            Ok(result)
        })
        .collect()
}

/// Runs all replicas of all points on the current rayon pool; results come back in point order, each
/// point's replicas in replica order.
pub fn run_points(plans: &[PointPlan], progress: &dyn Progress) -> Vec<PointResult> {
    match run_points_with(plans, progress, &NoCheckpoints) {
        Ok(points) => points,
        Err(_) => unreachable!("NoCheckpoints never stops a run"),
    }
}

/// [`run_points`] with checkpoints (see [`run_replica_with`]).
pub fn run_points_with(
    plans: &[PointPlan],
    progress: &dyn Progress,
    checkpoints: &dyn Checkpoints,
) -> Result<Vec<PointResult>, Unfinished> {
    let all: Vec<Range<usize>> = plans.iter().map(|p| 0..p.info.replicas).collect();
    run_replicas_with(plans, &all, progress, checkpoints)
}

/// [`run_points_with`] for the replicas `replicas[p]` of each point `p` only (a shard of a run): each
/// point's result holds those replicas, in replica order. A replica's bits do not depend on which others
/// run beside it, so the replicas of all shards together are those of the whole run.
pub fn run_replicas_with(
    plans: &[PointPlan],
    replicas: &[Range<usize>],
    progress: &dyn Progress,
    checkpoints: &dyn Checkpoints,
) -> Result<Vec<PointResult>, Unfinished> {
    let units: Vec<(usize, (usize, usize))> = plans
        .iter()
        .zip(replicas)
        .enumerate()
        .flat_map(|(point, (plan, range))| {
            plan.units(range.start, range.len()).into_iter().map(move |unit| (point, unit))
        })
        .collect();
    let outcomes: Vec<Vec<Result<ReplicaResult, Interruption>>> =
        units.par_iter().map(|&(point, unit)| run_unit(&plans[point], unit, progress, checkpoints)).collect();
    let mut results = Vec::with_capacity(replicas.iter().map(Range::len).sum());
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
    for (plan, range) in plans.iter().zip(replicas).rev() {
        let replicas = results.split_off(results.len() - range.len());
        points.push(PointResult { info: plan.info.clone(), columns: plan.columns(), replicas });
    }
    points.reverse();
    Ok(points)
}

/// Replicas trained by [`time_replicas`]: their final records and the wall seconds of the stepping.
#[derive(Debug, Clone, PartialEq)]
pub struct Timed {
    pub records: Vec<Record>,
    pub seconds: f64,
}

/// Trains replicas `0..replicas` of `plan` to the horizon in parallel on the current rayon pool, in the
/// units of [`run_points`], and times the stepping alone: the units are built (initial weights, held-out
/// samples) before the clock starts and observed after it stops. What `meanfield bench` measures.
pub fn time_replicas(plan: &PointPlan, replicas: usize) -> Result<Timed, Divergence> {
    // Each unit is built by a worker thread, as `run_points` builds them, so that its buffers are that
    // thread's.
    let mut units: Vec<Unit<'_>> =
        plan.units(0, replicas).into_par_iter().map(|(first, count)| Unit::new(plan, first, count)).collect();
    let horizon = plan.info.steps;
    let none = &meanfield_core::progress::NoProgress;
    let clock = Instant::now();
    units.par_iter_mut().for_each(|unit| {
        unit.step_to(horizon, none, &mut |_| false);
    });
    let seconds = clock.elapsed().as_secs_f64();
    let mut records = Vec::with_capacity(replicas);
    for unit in &mut units {
        if let Some(divergence) = unit.first_divergence() {
            return Err(divergence.clone());
        }
        unit.observe();
        if let Some(divergence) = unit.first_divergence() {
            return Err(divergence.clone());
        }
        records.extend((0..unit.len()).filter_map(|k| unit.records(k).last().cloned()));
    }
    Ok(Timed { records, seconds })
}

/// Runs `clones` replicas of a point as one population (replica indices `first..first + clones`, so
/// populations with disjoint ranges are independent), calling `selection` at every record step and then
/// copying each chosen parent's parameters into its slot. Every slot keeps its own data and noise
/// streams, so copies diverge after the selection. The clones advance in parallel on the current rayon
/// pool, in the units of [`run_points`]; the selection is sequential, so results are identical for any
/// thread count. A diverged clone stops the population: its divergence is returned.
pub fn run_population(
    plan: &PointPlan,
    first: usize,
    clones: usize,
    selection: &mut dyn Selection,
    progress: &dyn Progress,
) -> Result<(), Divergence> {
    let mut units: Vec<Unit<'_>> =
        plan.units(first, clones).into_iter().map(|(first, count)| Unit::new(plan, first, count)).collect();
    let log_weights: Vec<f64> = units.iter().flat_map(|u| u.log_weights()).collect();
    // (unit, place in the unit) of every clone, in clone order.
    let slots: Vec<(usize, usize)> =
        units.iter().enumerate().flat_map(|(u, unit)| (0..unit.len()).map(move |k| (u, k))).collect();
    let size: usize = plan.blocks.iter().map(|b| b.rows * b.cols).sum();
    let mut parents = vec![0; clones];
    let mut states = vec![0.0; clones * size];
    for &record_step in &plan.record_steps {
        units.par_iter_mut().for_each(|unit| {
            unit.step_to(record_step, progress, &mut |_| false);
            unit.observe();
        });
        if let Some(divergence) = units.iter().find_map(|u| u.first_divergence()) {
            return Err(divergence.clone());
        }
        let records: Vec<Record> = units
            .iter()
            .flat_map(|u| (0..u.len()).map(|k| u.records(k).last().cloned().expect("each clone recorded")))
            .collect();
        units.iter_mut().for_each(Unit::clear_records);
        selection.select(&records, &log_weights, &mut parents);
        for (&(u, k), state) in slots.iter().zip(states.chunks_exact_mut(size.max(1))) {
            state[..size].copy_from_slice(units[u].params(k));
        }
        for (&(u, k), &parent) in slots.iter().zip(&parents) {
            units[u].set_params(k, &states[parent * size..(parent + 1) * size]);
        }
    }
    for unit in &mut units {
        for k in 0..unit.len() {
            unit.result(k, progress);
        }
    }
    Ok(())
}
