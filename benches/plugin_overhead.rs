//! The cost of a plugin activation per SGD step, against the built-in one: one online step of a
//! one-hidden-layer network with N = 1000, d = 20 (the C-ABI call is made once per step for all N
//! units, so its fixed cost is amortised over N evaluations of softplus).
//!
//! `cargo bench --bench plugin_overhead` (builds the example plugins first, as the tests do).

#![allow(clippy::unwrap_used, missing_docs)]

#[path = "../tests/cli/common.rs"]
mod common;

#[path = "common/mod.rs"]
mod pool;

use criterion::{Criterion, criterion_group, criterion_main};
use meanfield_scenario::CheckedScenario;

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
/// Steps per measured call, as the executor advances a stepper.
const STEPS: u64 = 16;

fn sgd_step(c: &mut Criterion) {
    let plugin_softplus =
        format!(r#"Plugin(lib: "{}", name: "softplus")"#, common::plugin_dir().join("swish").display());
    let mut group = c.benchmark_group(format!("{STEPS} online steps, N=1000, d=20"));
    for (label, activation) in [("built-in softplus", "Softplus".to_owned()), ("plugin softplus", plugin_softplus)] {
        let text = scenario(&activation);
        let scenario = CheckedScenario::from_text(&text, "bench", std::path::Path::new(".")).unwrap();
        let plan = scenario.plans().remove(0);
        let mut stepper = plan.dynamics.stepper(1);
        let mut params = vec![0.0; plan.blocks.iter().map(|b| b.rows * b.cols).sum()];
        (plan.init)(&mut params, &mut meanfield_core::StreamKey::shared(1, meanfield_core::Purpose::Init).stream());
        stepper.set_params(0, &params);
        let mut streams = [pool::pooled_streams(plan.data.as_ref(), POOL, 0)];
        let mut diverged = [None];
        group.bench_function(label, |b| b.iter(|| stepper.advance(STEPS, &mut streams, &mut diverged)));
    }
    group.finish();
}

criterion_group!(benches, sgd_step);
criterion_main!(benches);
