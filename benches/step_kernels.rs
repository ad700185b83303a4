//! The steppers of the `meanfield bench` workloads, a run of steps at a time: the online step at N = 1000
//! and 10000 and the minibatch step (B = 64) at N = 1000, d = 20, the steps of one group of `ensemble-64`
//! (replicas of N = 100, d = 10 stepped together in vector lanes), and the activation over 1000 units.
//! `cargo bench --bench step_kernels`.

#![allow(clippy::unwrap_used, missing_docs)]

mod common;

use criterion::{Criterion, Throughput, criterion_group};
use meanfield_core::Activation;
use meanfield_scenario::CheckedScenario;
use meanfield_scenario::bench::Workload;

/// Samples per replica, drawn once and cycled through.
const POOL: usize = 256;
/// Steps per measured call: the executor advances a stepper by runs of steps, within which an online step
/// computes the next sample's forward pass.
const STEPS: u64 = 16;

/// `STEPS` steps of one stepper of `name`'s workload: the first unit `run_points` makes for it (one
/// replica, or the replicas of `ensemble-64` that step together in lanes).
fn bench_workload(c: &mut Criterion, name: &str) {
    let workload = Workload::find(name).unwrap();
    let scenario = CheckedScenario::from_text(&workload.scenario_text(), name, std::path::Path::new(".")).unwrap();
    let plan = scenario.plans().remove(0);
    let replicas = plan.dynamics.group(workload.replicas);
    let mut stepper = plan.dynamics.stepper(replicas);
    let mut params = vec![0.0; plan.blocks.iter().map(|b| b.rows * b.cols).sum()];
    let mut streams = Vec::new();
    for r in 0..replicas {
        let mut rng = meanfield_core::StreamKey::replica(1, "", r as u64, meanfield_core::Purpose::Init).stream();
        (plan.init)(&mut params, &mut rng);
        stepper.set_params(r, &params);
        streams.push(common::pooled_streams(plan.data.as_ref(), POOL * workload.batch, r as u64));
    }
    let mut diverged = vec![None; replicas];
    let d = plan.data.dim();
    let mut group = c.benchmark_group("sgd steps");
    group.throughput(Throughput::Elements(STEPS * (workload.width * d * workload.batch * replicas) as u64));
    let label = if replicas > 1 { format!("{name}, {replicas} replicas in lanes") } else { name.to_owned() };
    group.bench_function(format!("{label}, {STEPS} steps"), |b| {
        b.iter(|| {
            stepper.advance(STEPS, &mut streams, &mut diverged);
            assert!(diverged.iter().all(Option::is_none));
        })
    });
    group.finish();
}

fn steps(c: &mut Criterion) {
    for name in ["online-1000", "online-10000", "minibatch-1000", "ensemble-64"] {
        bench_workload(c, name);
    }
}

fn activation(c: &mut Criterion) {
    use meanfield_models::BuiltinActivation;
    // z from −2.5 to 2.5: every range of erf's approximation.
    let z: Vec<f64> = (0..1000).map(|i| (i as f64 - 500.0) / 200.0).collect();
    let (mut v, mut dv) = (vec![0.0; 1000], vec![0.0; 1000]);
    let mut group = c.benchmark_group("activation, 1000 units");
    group.throughput(Throughput::Elements(1000));
    for (name, activation) in [("tanh", BuiltinActivation::Tanh), ("erf", BuiltinActivation::Erf)] {
        group.bench_function(format!("{name} value and derivative"), |b| {
            b.iter(|| activation.eval(&z, &mut v, Some(&mut dv)))
        });
    }
    group.finish();
}

criterion_group!(benches, steps, activation);

/// `criterion_main!`, inside a rayon pool: `meanfield run` and `meanfield bench` step on the pool's worker
/// threads, where a wide network's parallel pass is a cheap fork-join. Called from a thread outside the pool,
/// every pass would wait for the pool through a lock and a wake-up, which is not what a run pays.
fn main() {
    let pool = rayon::ThreadPoolBuilder::new().build().unwrap();
    pool.install(|| {
        benches();
        Criterion::default().configure_from_args().final_summary();
    });
}
