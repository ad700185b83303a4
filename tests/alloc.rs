//! The per-step hot loop (sample a batch, take a step) allocates nothing: a counting global allocator
//! counts this thread's allocations across many steps of every dynamics and data law.

#![allow(clippy::unwrap_used)] // test code: a failed unwrap is a failed test

use meanfield_core::progress::NoProgress;
use meanfield_core::{Purpose, StepWorkspace, StreamKey};
use meanfield_scenario::Scenario;
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

fn scenario(data: &str, dynamics: &str) -> String {
    format!(
        r#"Scenario(
            name: "alloc", replicas: 1,
            model: OneHidden(width: 32, activation: Tanh,
                c: Trained(Gaussian(mean: 0.0, std: 1.0)),
                w: Trained(Gaussian(mean: 0.0, std: 1.0, per_sqrt_dim: true)),
                b: Trained(Constant(0.0))),
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
    let cases = [
        (
            "TeacherStudent(dim: 4, teacher: Network(width: 3, activation: Tanh), noise: 0.1)",
            "OnlineSgd(step: PerNeuron(1.0))",
        ),
        ("IsotropicGaussians(dim: 4, delta: 0.5)", "MinibatchSgd(step: Fixed(0.01), batch: 8)"),
        (
            &format!("Dataset(path: \"{}\", target: Name(\"y\"), sampling: Epochs)", csv.display()),
            "NoisySgd(step: Fixed(0.01), batch: 2, weight_decay: 0.1, temperature: 0.01)",
        ),
        ("TeacherStudent(dim: 4, teacher: SingleIndex(link: Relu))", "NoisySgd(step: Fixed(0.01), temperature: 0.1)"),
    ];
    for (data, dynamics) in cases {
        let text = scenario(data, dynamics);
        let scenario = Scenario::from_text(&text, "alloc", dir.path()).unwrap();
        let plan = &scenario.plans().unwrap()[0];
        let key = |purpose| StreamKey::replica(1, "", 0, purpose).stream();
        let mut model = (plan.model)(&mut key(Purpose::Init)).model;
        let (mut data_rng, mut noise_rng) = (key(Purpose::Data), key(Purpose::Noise));
        let mut stream = plan.data.stream();
        let batch = plan.dynamics.batch_size();
        let (mut x, mut y) = (vec![0.0; batch * model.input_dim()], vec![0.0; batch]);
        let mut work = StepWorkspace::new(model.params().len(), batch);

        let before = allocations();
        for _ in 0..500 {
            stream.fill(&mut data_rng, &mut x, &mut y);
            plan.dynamics.step(model.as_mut(), &x, &y, &mut work, &mut noise_rng).unwrap();
        }
        assert_eq!(allocations() - before, 0, "{dynamics} on {data} allocated");
    }
    // The counter works: a run (which allocates its records) is seen.
    let before = allocations();
    let scenario = Scenario::from_text(
        &scenario("IsotropicGaussians(dim: 2, delta: 0.5)", "OnlineSgd(step: Fixed(0.1))"),
        "alloc",
        dir.path(),
    )
    .unwrap();
    meanfield_dynamics::run_replica(&scenario.plans().unwrap()[0], 0, &NoProgress);
    assert!(allocations() > before);
}
