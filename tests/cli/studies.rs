//! The fluctuation study end to end (the LLN study is in `limit.rs`, the chaos study in `chaos.rs`).

use crate::common::{run_scenario, scaled_scenario};

/// `scenarios/fluctuations.ron` with widths 32 … 256 up to t = 1.
///
/// At t = 0 the particles are i.i.d., so N·Var[m2(c)] = Var(c²) = 2σ⁴ = 0.125 for σ = 0.5 exactly: every
/// width must be within 4 bootstrap standard errors of it (a study that forgot the factor N, tried, is off
/// by 32–256 times). At t = 1 the CLT says N·Var levels off: the fitted slope must be within ±0.4 of 0.
/// With 128 replicas the log of a sample variance has a standard deviation of about √(2/127) ≈ 0.13, so
/// the slope over a factor 8 in N has one of about 0.13/√(Σ(ln N − mean)²) ≈ 0.09: ±0.4 is over 4 of
/// them, while N-independent noise in the observable would give +1 and a missing N would give −1.
#[test]
fn scaled_variance_levels_off() {
    let scenario = scaled_scenario(
        "fluctuations",
        &[
            ("horizon: Time(4.0)", "horizon: Time(1.0)"),
            ("times: [0.0, 1.0, 4.0]", "times: [0.0, 1.0]"),
            ("width: [32, 128, 512, 2048]", "width: [32, 64, 128, 256]"),
        ],
    );
    let dir = tempfile::tempdir().unwrap();
    let report = run_scenario(&scenario, None, dir.path());
    let study = report.summary.study.as_ref().unwrap();
    assert_eq!(study.kind, "fluctuations");
    for row in &study.rows {
        eprintln!("t = {} N = {}: N·Var = {:.4} ± {:.4}", row.time, row.width, row.value, row.standard_error);
        if row.time == 0.0 {
            assert!((row.value - 0.125).abs() < 4.0 * row.standard_error, "{row:?}");
        }
    }
    let late = study.fits.iter().find(|f| f.time == 1.0).unwrap();
    eprintln!("{late:?}");
    assert!(late.slope.unwrap().abs() < 0.4, "{late:?}");
}
