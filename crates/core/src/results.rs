//! What a run produces: records per replica, grouped by sweep point.

use serde::{Deserialize, Serialize};

/// The observables of one replica at one record time.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Record {
    pub step: u64,
    /// Physical time (see [`crate::StepRule`]).
    pub time: f64,
    /// One value per column of the point's observables.
    pub values: Vec<f64>,
}

/// Where and why a replica stopped early.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Divergence {
    pub step: u64,
    pub time: f64,
    pub message: String,
}

/// The records of one replica. A diverged replica keeps everything recorded before the divergence.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ReplicaResult {
    pub replica: usize,
    pub records: Vec<Record>,
    pub divergence: Option<Divergence>,
    /// log(dP/dQ) of the replica's initial weights: zero unless they were drawn from an importance-sampling
    /// proposal Q (a tilted initial law, see [`crate::InitLaw::log_likelihood_ratio`]).
    #[serde(default)]
    pub log_weight: f64,
    /// The particle parameters at the snapshot steps of the plan (only for replicas the plan snapshots).
    #[serde(default)]
    pub snapshots: Vec<Snapshot>,
}

/// A replica's whole parameter vector at one record step (the model's blocks, concatenated).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Snapshot {
    pub step: u64,
    pub time: f64,
    pub params: Vec<f64>,
}

impl ReplicaResult {
    /// The index of the record whose time is nearest `time` (None without records). Studies and
    /// estimators use it to pick "the state at time t" from schedules whose times differ with the width.
    pub fn nearest_record(&self, time: f64) -> Option<usize> {
        nearest_time(self.records.iter().map(|r| r.time), time)
    }
}

/// The index of the time nearest `time` (the first on a tie; None for no times).
pub fn nearest_time(times: impl IntoIterator<Item = f64>, time: f64) -> Option<usize> {
    times.into_iter().enumerate().min_by(|(_, a), (_, b)| (a - time).abs().total_cmp(&(b - time).abs())).map(|(i, _)| i)
}

/// Describes one sweep point: the values that distinguish it and the resolved run parameters.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct PointInfo {
    pub index: usize,
    /// e.g. `width=256,seed=3`; empty for a scenario without sweep.
    pub label: String,
    pub width: usize,
    pub seed: u64,
    pub replicas: usize,
    pub steps: u64,
    pub step_size: f64,
    pub time_per_step: f64,
    pub final_time: f64,
    pub model: String,
    pub data: String,
    pub dynamics: String,
}

/// All replicas of one sweep point.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct PointResult {
    pub info: PointInfo,
    pub columns: Vec<String>,
    pub replicas: Vec<ReplicaResult>,
}

/// The selection step of a population dynamics (cloning, DESIGN.md §1 large deviations): at each record,
/// given every clone's record, chooses which clone each slot continues from. The executor runs the clones
/// and copies states; an estimator implements this and keeps what it accumulates along the ancestry.
pub trait Selection {
    /// `records[r]` is clone r's record at this step and `log_weights[r]` the log likelihood ratio of its
    /// initial weights (zero unless drawn from a tilted law); set `parents[r]` to the clone whose state
    /// slot r takes (`parents[r] = r` keeps its own).
    fn select(&mut self, records: &[Record], log_weights: &[f64], parents: &mut [usize]);
}
