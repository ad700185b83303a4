//! The cost of a plugin activation per SGD step, against the built-in one: one online step of a
//! one-hidden-layer network with N = 1000, d = 20 (the C-ABI call is made once per step for all N
//! units, so its fixed cost is amortised over N evaluations of softplus).
//!
//! `cargo bench --bench plugin_overhead` (builds the example plugins first, as the tests do).

#![allow(clippy::unwrap_used, missing_docs)]

#[path = "../tests/common/mod.rs"]
mod common;

use criterion::{Criterion, criterion_group, criterion_main};
use meanfield_core::{Purpose, StepWorkspace, StreamKey};
use meanfield_scenario::Scenario;

/// The tests' small scenario, widened to the benchmark's size.
fn scenario(activation: &str) -> String {
    let text = common::SMALL.replace("width: 8", "width: 1000").replace("dim: 3", "dim: 20").replacen(
        "activation: Tanh",
        &format!("activation: {activation}"),
        1,
    );
    assert!(text.contains("width: 1000") && text.contains("dim: 20"), "SMALL changed: update this benchmark");
    text
}

/// Samples drawn once and cycled through, so that the benchmark measures the step, not the sampler.
const POOL: usize = 1024;

fn sgd_step(c: &mut Criterion) {
    let plugin_softplus =
        format!(r#"Plugin(lib: "{}", name: "softplus")"#, common::plugin_dir().join("swish").display());
    let mut group = c.benchmark_group("online step, N=1000, d=20");
    for (label, activation) in [("built-in softplus", "Softplus".to_owned()), ("plugin softplus", plugin_softplus)] {
        let text = scenario(&activation);
        let scenario = Scenario::from_text(&text, "bench", std::path::Path::new(".")).unwrap();
        let plan = scenario.plans().unwrap().remove(0);
        let mut model = (plan.model)(&mut StreamKey::shared(1, Purpose::Init).stream()).model;
        let d = model.input_dim();
        let (mut x, mut y) = (vec![0.0; POOL * d], vec![0.0; POOL]);
        plan.data.stream().fill(&mut StreamKey::shared(1, Purpose::Data).stream(), &mut x, &mut y);
        let mut work = StepWorkspace::new(model.params().len(), 1);
        let mut noise = StreamKey::shared(1, Purpose::Noise).stream();
        let mut k = 0;
        group.bench_function(label, |b| {
            b.iter(|| {
                k = (k + 1) % POOL;
                plan.dynamics
                    .step(model.as_mut(), &x[k * d..(k + 1) * d], &y[k..k + 1], &mut work, &mut noise)
                    .unwrap();
            })
        });
    }
    group.finish();
}

criterion_group!(benches, sgd_step);
criterion_main!(benches);
