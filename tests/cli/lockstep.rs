//! Ensembles of small online networks run in lanes (several replicas per vector register, see
//! `meanfield_models::OneHiddenSgd`); each replica's records, kept particles and divergence must be exactly those of
//! the replica run alone.

#![allow(clippy::unwrap_used)] // test code: a failed unwrap is a failed test

use crate::common::assert_same_bits;
use meanfield_core::progress::NoProgress;
use meanfield_core::{Checkpoints, PointResult, ReplicaResult, ReplicaState, Saved};
use meanfield_dynamics::{run_points, run_points_with, run_replica, time_replicas};
use meanfield_scenario::CheckedScenario;
use std::path::Path;
use std::sync::Mutex;
use std::time::Duration;

/// Thirteen replicas (a group of eight and one of four with AVX-512, three of four without, and one alone)
/// with a step so large that most diverge between steps 1250 and 1500, some through a non-finite residual
/// inside a step and one through non-finite parameters at a record, while some reach the horizon of 1400
/// steps: lanes must stop one at a time.
fn scenario() -> CheckedScenario {
    let text = r#"Scenario(
        name: "lanes", seed: 5, replicas: 13,
        model: OneHidden(width: 24, activation: Tanh,
            c: Trained(Gaussian(mean: 0.0, std: 1.0)),
            w: Trained(Gaussian(mean: 0.0, std: 1.0, per_sqrt_dim: true))),
        data: TeacherStudent(dim: 5, teacher: SingleIndex(link: Tanh)),
        dynamics: OnlineSgd(step: Fixed(4.0)),
        horizon: Steps(1400),
        record: Every(40.0),
        observables: [Risk(samples: 200)],
        outputs: (particles: Some((times: [0.0, 2000.0, 5600.0], replicas: 6))),
    )"#;
    CheckedScenario::from_text(text, "lanes.ron", Path::new(".")).unwrap()
}

#[test]
fn replicas_in_lanes_give_the_bits_of_replicas_alone() {
    let plans = scenario().plans();
    let [PointResult { replicas, .. }] = &run_points(&plans, &NoProgress)[..] else { panic!("one point") };
    let mut finished = 0;
    for (r, in_lanes) in replicas.iter().enumerate() {
        let alone = run_replica(&plans[0], r, &NoProgress);
        assert_same_bits(&alone, in_lanes, format!("replica {r} in lanes against alone"));
        finished += usize::from(alone.divergence.is_none());
    }
    // The case the test is about: some lanes stop while others go on.
    assert!((1..replicas.len()).contains(&finished), "{finished} of {} replicas finished", replicas.len());
    let causes: Vec<_> = replicas.iter().filter_map(|r| r.divergence.as_ref()).map(|d| d.message.clone()).collect();
    assert!(causes.iter().any(|m| m.contains("prediction became non-finite")), "{causes:?}");
}

/// `meanfield bench` steps through the same lanes: its final records are those of the run.
#[test]
fn timed_replicas_step_in_the_same_lanes() {
    let text = r#"Scenario(
        name: "timed", seed: 3, replicas: 6,
        model: OneHidden(width: 40, activation: Tanh,
            c: Trained(Gaussian(mean: 0.0, std: 1.0)),
            w: Trained(Gaussian(mean: 0.0, std: 1.0, per_sqrt_dim: true))),
        data: TeacherStudent(dim: 10, teacher: SingleIndex(link: Tanh)),
        dynamics: OnlineSgd(step: Fixed(0.5)),
        horizon: Steps(500),
        record: Every(250.0),
        observables: [Risk(samples: 100)],
    )"#;
    let plans = CheckedScenario::from_text(text, "timed.ron", Path::new(".")).unwrap().plans();
    let timed = time_replicas(&plans[0], 6).unwrap();
    for (r, record) in timed.records.iter().enumerate() {
        let alone = run_replica(&plans[0], r, &NoProgress);
        let last = alone.records.last().unwrap();
        assert_same_bits(last, record, format!("replica {r} timed against its run's last record"));
    }
}

/// Saves every running replica at every chance (each record and every `PROGRESS_EVERY` steps), or
/// resumes from one saved state.
#[derive(Default)]
struct EveryState {
    saved: Mutex<Vec<ReplicaState>>,
    resume_from: Option<ReplicaState>,
}

impl Checkpoints for EveryState {
    fn saved(&self, _point: usize, replica: usize) -> Option<Saved> {
        self.resume_from.clone().filter(|s| s.replica == replica).map(Saved::Running)
    }
    fn interval(&self) -> Option<Duration> {
        Some(Duration::ZERO)
    }
    fn stopping(&self) -> bool {
        false
    }
    fn save(&self, _point: usize, state: &ReplicaState) {
        self.saved.lock().unwrap().push(state.clone());
    }
    fn finished(&self, _point: usize, _result: &ReplicaResult) {}
}

/// Lanes draw their samples several steps at a time, but a replica saved in lanes stands where it would
/// alone: every state saved on the way (records at steps that are not multiples of the block, and step
/// 4096, where replicas save between records) resumes, the restore's replay of the data stream arriving
/// where the state says, to the uninterrupted results.
#[test]
fn replicas_saved_in_lanes_resume_where_they_stood() {
    let text = r#"Scenario(
        name: "saved", seed: 8, replicas: 12,
        model: OneHidden(width: 16, activation: Tanh,
            c: Trained(Gaussian(mean: 0.0, std: 1.0)),
            w: Trained(Gaussian(mean: 0.0, std: 1.0, per_sqrt_dim: true))),
        data: TeacherStudent(dim: 5, teacher: SingleIndex(link: Tanh)),
        dynamics: OnlineSgd(step: Fixed(0.5)),
        horizon: Steps(4500),
        record: Every(155.0),
        observables: [Risk(samples: 50)],
    )"#;
    let plans = CheckedScenario::from_text(text, "saved.ron", Path::new(".")).unwrap().plans();
    let [PointResult { replicas: reference, .. }] = &run_points(&plans, &NoProgress)[..] else { panic!("one point") };
    let saving = EveryState::default();
    let [PointResult { replicas: saved_run, .. }] = &run_points_with(&plans, &NoProgress, &saving).unwrap()[..] else {
        panic!("one point")
    };
    assert_same_bits(reference, saved_run, "replicas saved at every chance against a run that never saves");
    let states = saving.saved.into_inner().unwrap();
    let steps: Vec<u64> = states.iter().map(|s| s.done).collect();
    assert!(steps.contains(&310) && steps.contains(&4096), "saved at {steps:?}");
    for state in states {
        let (replica, done) = (state.replica, state.done);
        let resuming = EveryState { resume_from: Some(state), ..EveryState::default() };
        let resumed = run_points_with(&plans, &NoProgress, &resuming)
            .unwrap_or_else(|e| panic!("replica {replica} saved at step {done}: {e:?}"));
        let what = format!("replica {replica} resumed from step {done}");
        assert_same_bits(&reference[replica], &resumed[0].replicas[replica], what);
    }
}
