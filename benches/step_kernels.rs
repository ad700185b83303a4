//! The step kernels of the `meanfield bench` workloads, one step at a time: the online step at N = 1000
//! and 10000 and the minibatch step (B = 64) at N = 1000, d = 20, the step of one group of `ensemble-64`
//! (replicas of N = 100, d = 10 in the lanes of a `Lockstep`), and the activation over 1000 units.
//! `cargo bench --bench step_kernels`.

#![allow(clippy::unwrap_used, missing_docs)]

use criterion::{Criterion, Throughput, criterion_group};
use meanfield_core::{Activation, Purpose, StepWorkspace, StreamKey};
use meanfield_scenario::Scenario;
use meanfield_scenario::bench::Workload;

/// Samples drawn once and cycled through, so that the benchmark measures the step, not the sampler.
const POOL: usize = 256;

fn steps(c: &mut Criterion) {
    let mut group = c.benchmark_group("sgd step");
    for name in ["online-1000", "online-10000", "minibatch-1000"] {
        let workload = Workload::find(name).unwrap();
        let scenario = Scenario::from_text(&workload.scenario_text(), name, std::path::Path::new(".")).unwrap();
        let plan = scenario.plans().unwrap().remove(0);
        let mut model = (plan.model)(&mut StreamKey::shared(1, Purpose::Init).stream()).model;
        let (d, batch) = (model.input_dim(), workload.batch);
        let (mut x, mut y) = (vec![0.0; POOL * batch * d], vec![0.0; POOL * batch]);
        plan.data.stream().fill(&mut StreamKey::shared(1, Purpose::Data).stream(), &mut x, &mut y);
        let mut work = StepWorkspace::new(model.params().len(), batch);
        let mut noise = StreamKey::shared(1, Purpose::Noise).stream();
        let mut k = 0;
        group.throughput(Throughput::Elements((workload.width * d * batch) as u64));
        group.bench_function(name, |b| {
            b.iter(|| {
                k = (k + 1) % POOL;
                let (xs, ys) = (&x[k * batch * d..(k + 1) * batch * d], &y[k * batch..(k + 1) * batch]);
                // Told the next batch, as the executor tells it within a run of steps.
                let next = (k + 1) % POOL;
                let next_x = &x[next * batch * d..(next + 1) * batch * d];
                plan.dynamics.step_before(model.as_mut(), xs, ys, Some(next_x), &mut work, &mut noise).unwrap();
            })
        });
    }
    group.finish();
}

/// One step of the replicas of `ensemble-64` that share a `Lockstep`, each with its own sample.
fn ensemble_step(c: &mut Criterion) {
    let name = "ensemble-64";
    let workload = Workload::find(name).unwrap();
    let scenario = Scenario::from_text(&workload.scenario_text(), name, std::path::Path::new(".")).unwrap();
    let plan = scenario.plans().unwrap().remove(0);
    let eta = plan.dynamics.plain_online_step().unwrap();
    let model = (plan.model)(&mut StreamKey::shared(1, Purpose::Init).stream()).model;
    let mut lanes = model.lockstep(workload.replicas).unwrap();
    let (d, n) = (model.input_dim(), lanes.lanes());
    for lane in 0..n {
        lanes.load(lane, model.params());
    }
    let (mut x, mut y) = (vec![0.0; POOL * n * d], vec![0.0; POOL * n]);
    plan.data.stream().fill(&mut StreamKey::shared(1, Purpose::Data).stream(), &mut x, &mut y);
    let mut residual = vec![0.0; n];
    let mut k = 0;
    let mut group = c.benchmark_group("sgd step");
    group.throughput(Throughput::Elements((workload.width * d * n) as u64));
    group.bench_function(format!("{name}, {n} replicas in lanes"), |b| {
        b.iter(|| {
            k = (k + 1) % POOL;
            let next = (k + 1) % POOL;
            let (xs, ys, next_x) =
                (&x[k * n * d..(k + 1) * n * d], &y[k * n..(k + 1) * n], &x[next * n * d..(next + 1) * n * d]);
            lanes.sgd_step(xs, ys, eta, &mut residual, Some(next_x));
        })
    });
    group.finish();
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

criterion_group!(benches, steps, ensemble_step, activation);

/// `criterion_main!`, inside a rayon pool: `meanfield run` and `meanfield bench` step on the pool's worker
/// threads, where a wide network's parallel pass is a cheap fork-join. Called from a thread outside the pool,
/// every pass would wait for the pool through a lock and a wake-up, which is not what a run pays: the
/// `minibatch-1000` step took 174–210 µs that way where `meanfield bench` spent 139 µs per step.
fn main() {
    let pool = rayon::ThreadPoolBuilder::new().build().unwrap();
    pool.install(|| {
        benches();
        Criterion::default().configure_from_args().final_summary();
    });
}
