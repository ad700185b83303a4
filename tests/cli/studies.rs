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

/// The small scenario's risk still falls over the last half of its 10 time units at every width: the
/// error-scaling study lists every point as not converged (in the summary and on the console), fits none,
/// and says why; with the criterion relaxed to 100% they converge and are fitted.
#[test]
fn unconverged_points_are_listed_not_fitted() {
    let dir = tempfile::tempdir().unwrap();
    let study = |within: &str| {
        crate::common::SMALL.replace("{OUT}", "out").replace(
            "observables: [Risk(samples: 100), Moments],",
            &format!(
                "observables: [Risk(samples: 100), Moments],\n    study: ErrorScaling(times: [10.0]{within}),\n    \
                 sweep: (width: [4, 8]),"
            ),
        )
    };
    std::fs::write(dir.path().join("strict.ron"), study("")).unwrap();
    let out = crate::common::meanfield(&["run", "strict.ron", "--out", "strict"], dir.path());
    assert_eq!(out.code, Some(0), "{}", out.stderr);
    assert!(out.stdout.contains("slope none (0 of 2 widths converged: a slope needs two)"), "{}", out.stdout);
    assert!(out.stdout.contains("not fitted, not converged"), "{}", out.stdout);
    assert!(out.stdout.contains("width=4") && out.stdout.contains("width=8"), "{}", out.stdout);
    let summary = meanfield_sinks::summary::read(&dir.path().join("strict/summary.ron")).unwrap();
    let study_summary = summary.study.unwrap();
    assert_eq!(study_summary.unconverged.len(), 2, "{study_summary:?}");
    assert!(study_summary.unconverged.iter().all(|u| u.change >= 0.02), "{study_summary:?}");

    std::fs::write(dir.path().join("relaxed.ron"), study(", converged_within: 1.0")).unwrap();
    let out = crate::common::meanfield(&["run", "relaxed.ron", "--out", "relaxed"], dir.path());
    assert_eq!(out.code, Some(0), "{}", out.stderr);
    let summary = meanfield_sinks::summary::read(&dir.path().join("relaxed/summary.ron")).unwrap();
    let fit = &summary.study.unwrap().fits[0];
    assert_eq!(fit.widths_fitted, [4, 8], "{fit:?}");
    assert!(fit.slope.is_some(), "{fit:?}");
}
