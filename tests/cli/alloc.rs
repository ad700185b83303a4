//! The per-step hot loop (sample a batch, take a step) allocates nothing: a counting global allocator
//! counts this thread's allocations across many steps of every stepper and data law.

#![allow(clippy::unwrap_used)] // test code: a failed unwrap is a failed test

use meanfield_core::progress::NoProgress;
use meanfield_core::{Purpose, ReplicaStreams, StreamKey};
use meanfield_scenario::CheckedScenario;
use std::alloc::{GlobalAlloc, Layout, System};
use std::cell::Cell;

struct Counting;

thread_local! {
    static ALLOCATIONS: Cell<usize> = const { Cell::new(0) };
}

// SAFETY: forwards to the system allocator; only counts.
#[allow(unsafe_code)]
unsafe impl GlobalAlloc for Counting {
    unsafe fn alloc(&self, layout: Layout) -> *mut u8 {
        ALLOCATIONS.with(|c| c.set(c.get() + 1));
        unsafe { System.alloc(layout) }
    }
    unsafe fn dealloc(&self, ptr: *mut u8, layout: Layout) {
        unsafe { System.dealloc(ptr, layout) }
    }
    unsafe fn realloc(&self, ptr: *mut u8, layout: Layout, new_size: usize) -> *mut u8 {
        ALLOCATIONS.with(|c| c.set(c.get() + 1));
        unsafe { System.realloc(ptr, layout, new_size) }
    }
}

#[global_allocator]
static GLOBAL: Counting = Counting;

fn allocations() -> usize {
    ALLOCATIONS.with(Cell::get)
}

fn scenario(data: &str, dynamics: &str, bias: bool, replicas: usize) -> String {
    let b = if bias { "b: Trained(Constant(0.0))," } else { "" };
    format!(
        r#"Scenario(
            name: "alloc", replicas: {replicas},
            model: OneHidden(width: 32, activation: Tanh,
                c: Trained(Gaussian(mean: 0.0, std: 1.0)),
                w: Trained(Gaussian(mean: 0.0, std: 1.0, per_sqrt_dim: true)),
                {b}),
            data: {data},
            dynamics: {dynamics},
            horizon: Steps(10),
        )"#
    )
}

#[test]
fn steps_do_not_allocate() {
    let dir = tempfile::tempdir().unwrap();
    let csv = dir.path().join("rows.csv");
    std::fs::write(&csv, "a,b,y\n1,2,0.5\n2,1,-0.5\n0,1,1.0\n").unwrap();
    let network = "TeacherStudent(dim: 4, teacher: Network(width: 3, activation: Tanh), noise: 0.1)";
    let dataset = format!("Dataset(path: \"{}\", target: Name(\"y\"), sampling: Epochs)", csv.display());
    // (data, dynamics, bias, replicas): SGD through the descent direction (a bias, or noise), the fused
    // plain step alone (online and minibatch) and in lanes (eight replicas of an online network).
    let cases = [
        (network, "OnlineSgd(step: PerNeuron(1.0))", true, 1),
        ("IsotropicGaussians(dim: 4, delta: 0.5)", "MinibatchSgd(step: Fixed(0.01), batch: 8)", true, 1),
        (&dataset, "NoisySgd(step: Fixed(0.01), batch: 2, weight_decay: 0.1, temperature: 0.01)", true, 1),
        (
            "TeacherStudent(dim: 4, teacher: SingleIndex(link: Relu))",
            "NoisySgd(step: Fixed(0.01), temperature: 0.1)",
            true,
            1,
        ),
        (network, "OnlineSgd(step: PerNeuron(1.0))", false, 1),
        ("IsotropicGaussians(dim: 4, delta: 0.5)", "MinibatchSgd(step: Fixed(0.01), batch: 8)", false, 1),
        (network, "OnlineSgd(step: PerNeuron(1.0))", false, 8),
    ];
    for (data, dynamics, bias, replicas) in cases {
        let text = scenario(data, dynamics, bias, replicas);
        let scenario = CheckedScenario::from_text(&text, "alloc", dir.path()).unwrap();
        let plan = &scenario.plans()[0];
        let group = plan.dynamics.group(replicas);
        assert_eq!(group > 1, replicas > 1, "{dynamics}, {replicas} replicas: lanes as expected");
        let mut stepper = plan.dynamics.stepper(group);
        let mut params = vec![0.0; plan.blocks.iter().map(|b| b.rows * b.cols).sum()];
        let mut streams: Vec<ReplicaStreams<'_>> = (0..group)
            .map(|r| {
                let key = |purpose| StreamKey::replica(1, "", r as u64, purpose).stream();
                (plan.init)(&mut params, &mut key(Purpose::Init));
                stepper.set_params(r, &params);
                ReplicaStreams {
                    data: plan.data.stream(),
                    data_rng: key(Purpose::Data),
                    noise_rng: key(Purpose::Noise),
                }
            })
            .collect();
        let mut diverged = vec![None; group];

        let before = allocations();
        for _ in 0..50 {
            stepper.advance(10, &mut streams, &mut diverged);
        }
        assert_eq!(allocations() - before, 0, "{dynamics} on {data} (bias {bias}, {replicas} replicas) allocated");
        assert!(diverged.iter().all(Option::is_none));
    }
    // The counter works: a run (which allocates its records) is seen.
    let before = allocations();
    let scenario = CheckedScenario::from_text(
        &scenario("IsotropicGaussians(dim: 2, delta: 0.5)", "OnlineSgd(step: Fixed(0.1))", true, 1),
        "alloc",
        dir.path(),
    )
    .unwrap();
    meanfield_dynamics::run_replica(&scenario.plans()[0], 0, &NoProgress);
    assert!(allocations() > before);
}
