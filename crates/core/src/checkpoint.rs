//! Checkpoints: what the executor saves of a replica so that a run can stop and continue later with
//! results byte-identical to an uninterrupted run.
//!
//! A replica's future depends only on its parameters, its step count and the positions of its random
//! streams (the data law's own per-replica state, e.g. the place in an epoch, is rebuilt by replaying the
//! data stream from its start: sampling is cheap next to stepping, and no `DataStream` has to expose its
//! state). So a [`ReplicaState`] holds those, with everything recorded so far.

use crate::results::{Particles, Record, ReplicaResult};
use serde::{Deserialize, Serialize};
use std::time::Duration;

/// A replica stopped between two steps, with all it needs to continue.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ReplicaState {
    pub replica: usize,
    /// Steps done.
    pub done: u64,
    /// The model's parameter vector after `done` steps.
    pub params: Vec<f64>,
    /// 32-bit word positions of the data and noise streams (`rand_chacha`'s `get_word_pos`). The data
    /// position is a check: replaying `done` batches must arrive at it.
    pub data_position: u128,
    pub noise_position: u128,
    pub records: Vec<Record>,
    #[serde(default, alias = "snapshots")]
    pub particles: Vec<Particles>,
    pub log_weight: f64,
}

/// What a checkpoint knows of one replica.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub enum Saved {
    Finished(ReplicaResult),
    Running(ReplicaState),
}

/// Where the executor saves replicas and learns that the run should stop. Implementations are shared by
/// all worker threads.
pub trait Checkpoints: Sync {
    /// What was saved of `replica` of point `point` by an earlier, interrupted run.
    fn saved(&self, point: usize, replica: usize) -> Option<Saved>;
    /// How often a running replica saves its state (`None`: only when the run is stopping).
    fn interval(&self) -> Option<Duration>;
    /// Whether the run should stop (Ctrl-C, or a checkpoint could not be written): running replicas save
    /// their state and return, replicas not yet started do not start.
    fn stopping(&self) -> bool;
    /// Saves a running replica. A failure stops the run (the implementation records why).
    fn save(&self, point: usize, state: &ReplicaState);
    /// Records a finished (or diverged) replica.
    fn finished(&self, point: usize, result: &ReplicaResult);
}

/// No checkpoints: nothing saved, never stopping.
#[derive(Debug, Clone, Copy, Default)]
pub struct NoCheckpoints;

impl Checkpoints for NoCheckpoints {
    fn saved(&self, _point: usize, _replica: usize) -> Option<Saved> {
        None
    }
    fn interval(&self) -> Option<Duration> {
        None
    }
    fn stopping(&self) -> bool {
        false
    }
    fn save(&self, _point: usize, _state: &ReplicaState) {}
    fn finished(&self, _point: usize, _result: &ReplicaResult) {}
}
