//! What a run produces: records per replica, grouped by sweep point.

use crate::rng::{Purpose, Stream, StreamKey};
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
    /// The particle parameters at the plan's particle steps (only for the replicas whose particles it
    /// keeps). Checkpoints written before the rename call it `snapshots`.
    #[serde(default, alias = "snapshots")]
    pub particles: Vec<Particles>,
}

/// A replica's whole parameter vector at one record step (the model's blocks, concatenated).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Particles {
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
    /// Every swept coordinate, `path=value` joined by commas in sweep order (see [`label`]), e.g.
    /// `width=256,seed=3`; empty for a scenario without sweep.
    pub label: String,
    /// The swept coordinates the label is made of, in sweep order (width, the fields, the seed last).
    /// Not written to the summary, whose label names them (a summary read back has none).
    #[serde(skip)]
    pub coordinates: Vec<Coordinate>,
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

impl PointInfo {
    /// The point as messages name it: `point 'width=32,seed=2'`, or `the run's only point` without sweep.
    pub fn describe(&self) -> String {
        if self.label.is_empty() { "the run's only point".to_owned() } else { format!("point '{}'", self.label) }
    }

    /// Whether the seed is one of the point's swept coordinates (then its label names it).
    pub fn seed_is_swept(&self) -> bool {
        self.coordinates.iter().any(|c| c.path == SEED)
    }

    /// The random stream of `replica` for `purpose`. Streams are keyed by the seed and the point's other
    /// coordinates: the seed is its own part of the key, so leaving it out of the point part keeps the
    /// streams (and every result) of a seed sweep what they were before labels named the seed.
    pub fn stream(&self, replica: u64, purpose: Purpose) -> Stream {
        let others: Vec<Coordinate> = self.coordinates.iter().filter(|c| c.path != SEED).cloned().collect();
        StreamKey::replica(self.seed, &label(&others), replica, purpose).stream()
    }
}

/// The path of the seed coordinate (swept by `sweep.seeds` or a field sweep of `seed`).
pub const SEED: &str = "seed";

/// One swept coordinate of a point: the path the sweep names (`width`, `dynamics.step`, `seed`) and the
/// value this point has.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Coordinate {
    pub path: String,
    pub value: CoordinateValue,
}

/// A swept value: whole numbers (widths, seeds, integer fields) exactly, other numbers as floats, and
/// any other value (an activation, a data law) by its short form (`Relu`, `SingleIndex(link:Relu)`).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(untagged)]
pub enum CoordinateValue {
    Whole(u64),
    Real(f64),
    Text(String),
}

impl std::fmt::Display for CoordinateValue {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            CoordinateValue::Whole(n) => write!(f, "{n}"),
            CoordinateValue::Real(v) => write!(f, "{v}"),
            CoordinateValue::Text(short) => f.write_str(short),
        }
    }
}

/// A point's label: `path=value` per coordinate, joined by commas (`width=32,seed=2`; empty for none).
/// Paths and values never hold `,` or `=`, so the label names one set of coordinates.
pub fn label(coordinates: &[Coordinate]) -> String {
    coordinates.iter().map(|c| format!("{}={}", c.path, c.value)).collect::<Vec<_>>().join(",")
}

/// The file-safe form of a label, used in file names: `,` becomes `_`, `=` becomes `-`, letters, digits
/// and `.` stay, and every other character is escaped as `~` and the hex digits of its UTF-8 bytes
/// (`data.noise=-0.1` → `data.noise-~2D0.1`). Since `_`, `-` and `~` of the label are escaped too, the
/// form is injective: two labels never share a file name.
pub fn file_safe(label: &str) -> String {
    let mut out = String::with_capacity(label.len());
    for c in label.chars() {
        match c {
            ',' => out.push('_'),
            '=' => out.push('-'),
            c if c.is_ascii_alphanumeric() || c == '.' => out.push(c),
            c => {
                let mut bytes = [0; 4];
                for byte in c.encode_utf8(&mut bytes).bytes() {
                    out.push_str(&format!("~{byte:02X}"));
                }
            }
        }
    }
    out
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

#[cfg(test)]
mod tests {
    use super::*;

    fn coordinates(pairs: &[(&str, CoordinateValue)]) -> Vec<Coordinate> {
        pairs.iter().map(|(path, value)| Coordinate { path: (*path).to_owned(), value: value.clone() }).collect()
    }

    #[test]
    fn labels_and_their_file_safe_forms() {
        use CoordinateValue::*;
        let check = |pairs: &[(&str, CoordinateValue)], expected_label: &str, expected_file: &str| {
            let label = label(&coordinates(pairs));
            assert_eq!(label, expected_label);
            assert_eq!(file_safe(&label), expected_file);
        };
        check(&[], "", "");
        check(&[("width", Whole(32)), ("seed", Whole(2))], "width=32,seed=2", "width-32_seed-2");
        check(&[("dynamics.step", Real(0.5))], "dynamics.step=0.5", "dynamics.step-0.5");
        check(&[("data.noise", Real(-0.1))], "data.noise=-0.1", "data.noise-~2D0.1");
        check(&[("data.test_fraction", Real(0.2))], "data.test_fraction=0.2", "data.test~5Ffraction-0.2");
        check(
            &[("data.teacher", Text("SingleIndex(link:Relu)".into()))],
            "data.teacher=SingleIndex(link:Relu)",
            "data.teacher-SingleIndex~28link~3ARelu~29",
        );
    }

    #[test]
    fn file_safe_forms_are_injective() {
        // Pairs that a lossy mapping (every unusual character to `_`) would merge.
        let labels = ["a=1,b=2", "a=1_b=2", "a-1,b-2", "a=1,b=-2", "a=1,b=~2", "a~2D1", "a=-1", "é", "e"];
        let forms: std::collections::BTreeSet<String> = labels.iter().map(|l| file_safe(l)).collect();
        assert_eq!(forms.len(), labels.len(), "{forms:?}");
        for form in &forms {
            assert!(form.chars().all(|c| c.is_ascii_alphanumeric() || "._-~".contains(c)), "{form}");
        }
    }

    #[test]
    fn streams_leave_the_seed_out_of_the_point_key() {
        use CoordinateValue::*;
        let info = |pairs: &[(&str, CoordinateValue)], seed| PointInfo {
            index: 0,
            label: label(&coordinates(pairs)),
            coordinates: coordinates(pairs),
            width: 8,
            seed,
            replicas: 1,
            steps: 1,
            step_size: 1.0,
            time_per_step: 1.0,
            final_time: 1.0,
            model: String::new(),
            data: String::new(),
            dynamics: String::new(),
        };
        let first = |info: PointInfo| rand::RngCore::next_u64(&mut info.stream(0, Purpose::Data));
        let old = |point: &str, seed| {
            rand::RngCore::next_u64(&mut StreamKey::replica(seed, point, 0, Purpose::Data).stream())
        };
        // A width × seeds point draws what the point labelled `width=8` drew before labels named the seed.
        assert_eq!(first(info(&[("width", Whole(8)), ("seed", Whole(3))], 3)), old("width=8", 3));
        assert_eq!(first(info(&[("seed", Whole(3))], 3)), old("", 3));
        assert_ne!(first(info(&[("width", Whole(8))], 3)), first(info(&[("width", Whole(16))], 3)));
    }
}
