//! `meanfield bench`: the workloads of issue 8, run through the same scenario, model and dynamics code as
//! `meanfield run` (only the harness differs: it times the stepping loop and records once, at the end).
//!
//! Every workload is ŷ = (1/N) Σ c_i tanh(w_i·x) learning y = tanh(w*·x), w* ~ N(0, I/d), x ~ N(0, I_d),
//! from w_i ~ N(0, I/d), c_i ~ N(0, 1), with `Fixed(0.5)` steps, in float64. The peers in `bench/peers/`
//! do the same arithmetic.

use crate::{CheckedScenario, RunError};
use serde::Serialize;

/// One benchmark workload.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Workload {
    pub name: &'static str,
    pub width: usize,
    pub dim: usize,
    pub batch: usize,
    pub steps: u64,
    pub replicas: usize,
}

pub const WORKLOADS: [Workload; 5] = [
    Workload { name: "online-100", width: 100, dim: 20, batch: 1, steps: 2000, replicas: 1 },
    Workload { name: "online-1000", width: 1000, dim: 20, batch: 1, steps: 2000, replicas: 1 },
    Workload { name: "online-10000", width: 10000, dim: 20, batch: 1, steps: 2000, replicas: 1 },
    Workload { name: "minibatch-1000", width: 1000, dim: 20, batch: 64, steps: 500, replicas: 1 },
    Workload { name: "ensemble-64", width: 100, dim: 10, batch: 1, steps: 2000, replicas: 64 },
];

/// Held-out samples of the final risk (not timed).
const RISK_SAMPLES: usize = 1000;

impl Workload {
    pub fn find(name: &str) -> Option<Workload> {
        WORKLOADS.iter().copied().find(|w| w.name == name)
    }

    /// The workload as a scenario file.
    pub fn scenario_text(&self) -> String {
        let dynamics = if self.batch == 1 {
            "OnlineSgd(step: Fixed(0.5))".to_owned()
        } else {
            format!("MinibatchSgd(step: Fixed(0.5), batch: {})", self.batch)
        };
        format!(
            r#"Scenario(
    name: "{name}",
    seed: 1,
    replicas: {replicas},
    model: OneHidden(
        width: {width},
        activation: Tanh,
        c: Trained(Gaussian(mean: 0.0, std: 1.0)),
        w: Trained(Gaussian(mean: 0.0, std: 1.0, per_sqrt_dim: true)),
    ),
    data: TeacherStudent(dim: {dim}, teacher: SingleIndex(link: Tanh)),
    dynamics: {dynamics},
    horizon: Steps({steps}),
    observables: [Risk(samples: {RISK_SAMPLES})],
    outputs: (csv: false, plots: [], checkpoint_seconds: None),
)
"#,
            name = self.name,
            replicas = self.replicas,
            width = self.width,
            dim = self.dim,
            steps = self.steps,
        )
    }

    /// N·d·steps·batch·replicas: the weight updates of the `w` block, the figure of merit's denominator.
    pub fn weight_updates(&self) -> f64 {
        (self.width * self.dim) as f64 * self.steps as f64 * (self.batch * self.replicas) as f64
    }
}

/// What one benchmark run measured.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct BenchResult {
    pub workload: String,
    pub width: usize,
    pub dim: usize,
    pub batch: usize,
    pub steps: u64,
    pub replicas: usize,
    pub threads: usize,
    /// Wall seconds of the stepping loop (all replicas, in parallel).
    pub seconds: f64,
    pub ns_per_weight_update: f64,
    /// The risk after training, mean over replicas.
    pub final_risk: f64,
}

/// Runs `workload` on `threads` worker threads (`None`: all cores).
pub fn run(workload: &Workload, threads: Option<usize>) -> Result<BenchResult, RunError> {
    let scenario = CheckedScenario::from_text(&workload.scenario_text(), workload.name, std::path::Path::new("."))?;
    let plans = scenario.plans();
    let plan = plans.first().expect("a workload has no sweep: one point");
    let mut builder = rayon::ThreadPoolBuilder::new();
    if let Some(threads) = threads {
        builder = builder.num_threads(threads);
    }
    let pool =
        builder.build().map_err(|e| RunError::Threads { threads: threads.unwrap_or(0), message: e.to_string() })?;
    let timed = pool
        .install(|| meanfield_dynamics::time_replicas(plan, workload.replicas))
        .map_err(|d| RunError::Diverged(d.message))?;
    let risk = timed.records.iter().map(|r| r.values[0]).sum::<f64>() / timed.records.len() as f64;
    Ok(BenchResult {
        workload: workload.name.to_owned(),
        width: workload.width,
        dim: workload.dim,
        batch: workload.batch,
        steps: workload.steps,
        replicas: workload.replicas,
        threads: pool.current_num_threads(),
        seconds: timed.seconds,
        ns_per_weight_update: timed.seconds * 1e9 / workload.weight_updates(),
        final_risk: risk,
    })
}

/// The ensemble the merge benchmark shards and merges: 20 000 replicas of a small network, their moments
/// at 5 record times (the per-replica data of an LDP run such as `scenarios/ldp_scale.ron`, whose
/// replicas hold the same records).
const MERGE_SCENARIO: &str = r#"Scenario(
    name: "bench-merge",
    seed: 1,
    replicas: 20000,
    model: OneHidden(
        width: 10,
        activation: Tanh,
        c: Trained(Gaussian(mean: 0.0, std: 1.0)),
        w: Trained(Gaussian(mean: 0.0, std: 1.0, per_sqrt_dim: true)),
    ),
    data: TeacherStudent(dim: 5, teacher: SingleIndex(link: Tanh)),
    dynamics: OnlineSgd(step: PerNeuron(1.0)),
    horizon: Steps(100),
    record: Every(2.5),
    observables: [Moments],
    outputs: (plots: [], checkpoint_seconds: None),
)
"#;

/// Shards of the merge benchmark.
const MERGE_SHARDS: usize = 4;

/// What the merge benchmark measured: the bytes of finished replicas the shards hold, and how fast the
/// merge read them (streaming the logs, parsing and checking the lines).
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct MergeBench {
    pub replicas: usize,
    pub shards: usize,
    pub bytes: u64,
    pub read_seconds: f64,
    /// The whole merge: reading, writing the outputs and the summary.
    pub merge_seconds: f64,
}

impl MergeBench {
    pub fn read_mb_per_second(&self) -> f64 {
        self.bytes as f64 / 1e6 / self.read_seconds.max(1e-9)
    }
}

/// Runs [`MERGE_SCENARIO`] as shards in a temporary directory and times their merge.
pub fn merge(threads: Option<usize>, version: &str) -> Result<MergeBench, RunError> {
    let dir = std::env::temp_dir().join(format!("meanfield-bench-merge-{}", std::process::id()));
    let measured = merge_in(&dir, threads, version);
    let _ = std::fs::remove_dir_all(&dir);
    measured
}

fn merge_in(dir: &std::path::Path, threads: Option<usize>, version: &str) -> Result<MergeBench, RunError> {
    let scenario = CheckedScenario::from_text(MERGE_SCENARIO, "bench-merge", std::path::Path::new("."))?;
    let plans = scenario.plans();
    let options = crate::RunOptions {
        threads,
        output: Some(dir.to_owned()),
        force: false,
        progress: &meanfield_core::progress::NoProgress,
        version: version.to_owned(),
        git_commit: String::new(),
        resume: false,
        stop: Default::default(),
    };
    for index in 0..MERGE_SHARDS {
        crate::shard::run_shard(&scenario, &plans, crate::shard::Shard { index, count: MERGE_SHARDS }, &options)?;
    }
    let clock = std::time::Instant::now();
    let merged = crate::shard::merge(&[dir.join(meanfield_sinks::SHARDS)], &options, None)?;
    Ok(MergeBench {
        replicas: scenario.spec.replicas,
        shards: MERGE_SHARDS,
        bytes: merged.read_bytes,
        read_seconds: merged.read_seconds,
        merge_seconds: clock.elapsed().as_secs_f64(),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_workload_is_a_valid_scenario_of_its_size() {
        for w in WORKLOADS {
            let scenario = CheckedScenario::from_text(&w.scenario_text(), w.name, std::path::Path::new(".")).unwrap();
            let plans = scenario.plans();
            assert_eq!(plans.len(), 1);
            let info = &plans[0].info;
            assert_eq!((info.width, info.steps, info.replicas), (w.width, w.steps, w.replicas), "{}", w.name);
            assert_eq!(plans[0].batch, w.batch);
        }
    }
}
