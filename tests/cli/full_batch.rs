//! Full-batch gradient descent on a finite sample, against what linear least squares says.
//!
//! A linear network ŷ = w̄·x (output weights frozen at 1, so ŷ = (1/N) Σ w_i·x) trained by full-batch GD
//! on P noise-free samples y = w*·x of dimension d. GD only moves w̄ inside the span of the P inputs:
//! with P ≥ d that span is everything, w̄ → w*, and the population risk (held-out data from the law) goes
//! to 0; with P < d the component of w̄(0) − w* orthogonal to the samples never changes, so the
//! population risk stays at ½ E|P⊥(w̄(0) − w*)|² > 0 while the training error goes to 0.

#![allow(clippy::unwrap_used)] // test code: a failed unwrap is a failed test

use crate::common;
use meanfield_scenario::CheckedScenario;
use std::path::Path;

fn final_risk(size: usize) -> f64 {
    let text = format!(
        r#"Scenario(
    name: "full_batch",
    seed: 2,
    replicas: 2,
    model: OneHidden(
        width: 16,
        activation: Identity,
        c: Frozen(Constant(1.0)),
        w: Trained(Gaussian(mean: 0.0, std: 1.0)),
    ),
    data: Sample(size: {size}, from: TeacherStudent(dim: 8, teacher: SingleIndex(link: Identity))),
    dynamics: FullBatchGd(step: Fixed(0.2)),
    horizon: Time(200.0),
    record: LogSpaced(5),
    observables: [Risk(samples: 2000)],
)"#
    );
    let scenario = CheckedScenario::from_text(&text, "full_batch.ron", Path::new(".")).unwrap();
    assert_eq!(scenario.plans()[0].batch, size, "one step averages over all P samples");
    let dir = tempfile::tempdir().unwrap();
    let report = common::run_scenario(&scenario, None, dir.path());
    report.summary.points[0].final_values.iter().find(|c| c.column == "risk").unwrap().max
}

#[test]
fn full_batch_gd_generalises_exactly_when_the_sample_spans_the_inputs() {
    // GD on ½ mean (y − w̄·x)² is stable for η < 2/λmax of the sample covariance (1/P) Σ x xᵀ: λmax is about
    // (1 + √(d/P))² ≈ 2.3 for P = 32 and about |x|²/P ≈ 2 (up to ~4 in a draw) for P = 4; η = 0.2 is safe for
    // both (η = 0.5 diverges at P = 4). P = 32 ≥ d = 8: λmin ≈ (1 − √(d/P))² = 0.25, so 1000 steps contract
    // the error by (1 − 0.05)^1000 ≈ 1e-22 in norm: the population risk reaches rounding level.
    let spanning = final_risk(32);
    assert!(spanning < 1e-20, "P ≥ d: population risk {spanning}");
    // P = 4 < d = 8: half of the initial error's directions are never seen; its expected size is
    // ½ (d − P)/d · E|w̄(0) − w*|² ≈ ½ · ½ · (8/16 + 1) ≈ 0.37 per replica (w̄(0) averages 16 standard
    // particles, w* ~ N(0, I/8)); far above 1e-3 in any but a vanishingly unlikely draw, and finite (the
    // upper bound catches a diverging run, whose risk grows without becoming NaN).
    let short = final_risk(4);
    assert!(short > 1e-3 && short < 5.0, "P < d: the population risk stays of order 0.4, got {short}");
}
