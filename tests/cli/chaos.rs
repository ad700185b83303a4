//! Propagation of chaos made exact: the cross-replica correlation of two tagged particles against a
//! closed form.
//!
//! A linear network with frozen output weights, ŷ = (1/N) Σ_i w_i·x, learning a noise-free linear teacher
//! y = w*·x: every particle's step is the same vector η·r·x, so w_i(t) − w_i(0) is common to all
//! particles, and at convergence (w̄ = w*) w_i(∞) = w_i(0) − w̄(0) + w*, whatever path SGD took. With
//! i.i.d. initial coordinates of variance σ², the tagged coordinates w_0[0], w_1[0] then have, across
//! replicas, covariance −σ²/N and variance σ²(1 − 1/N): correlation −1/(N − 1). At t = 0 they are
//! independent: correlation 0.

#![allow(clippy::unwrap_used)] // test code: a failed unwrap is a failed test

use crate::common;
use meanfield_scenario::CheckedScenario;

const REPLICAS: usize = 400;

#[test]
fn tagged_particles_decorrelate_like_one_over_n() {
    let scenario = CheckedScenario::from_file(&common::scenario_path("propagation_of_chaos.ron")).unwrap();
    let dir = tempfile::tempdir().unwrap();
    let report = common::run_scenario(&scenario, None, dir.path());
    // Fisher's z = atanh(r) has standard error 1/√(R − 3) whatever ρ; 4 of them leave a false alarm rate
    // below 1e-4 per check. N = 2 is exact to rounding and pins the formula (−1/N would give −0.5); a
    // tagged pair that is one particle twice gives +1 and fails every check (tried).
    let band = 4.0 / ((REPLICAS - 3) as f64).sqrt();
    for point in &report.summary.points {
        let n = point.info.width as f64;
        let tagged = point.tagged_correlation.as_ref().unwrap();
        let risk = point.final_values.iter().find(|c| c.column == "risk").unwrap();
        assert!(risk.max < 1e-12, "N = {n}: not converged (risk {})", risk.max);
        let (start, end) = (tagged.correlation[0], *tagged.correlation.last().unwrap());
        assert!(start.atanh().abs() < band, "N = {n}: at t = 0 the correlation is {start}");
        let expected = -1.0 / (n - 1.0);
        if n == 2.0 {
            assert!((end + 1.0).abs() < 1e-9, "N = 2: w_0 + w_1 is pinned, correlation {end}");
        } else {
            assert!((end.atanh() - expected.atanh()).abs() < band, "N = {n}: {end} vs {expected}");
        }
    }

    // The Chaos study fits |correlation| at t = 20 against N; its bootstrap interval must contain the
    // slope of the exact 1/(N − 1) over the same widths (−1.30 for 2, 4, 8, 16).
    let widths: Vec<f64> = report.summary.points.iter().map(|p| p.info.width as f64).collect();
    let exact: Vec<f64> = widths.iter().map(|n| 1.0 / (n - 1.0)).collect();
    let log = |v: &[f64]| v.iter().map(|v| v.ln()).collect::<Vec<f64>>();
    let exact_slope = meanfield_core::stats::least_squares(&log(&widths), &log(&exact)).1;
    let fit = &report.summary.study.as_ref().unwrap().fits[0];
    let (lo, hi) = fit.interval.unwrap();
    eprintln!("chaos slope {:?} [{lo}, {hi}], exact {exact_slope}", fit.slope);
    assert!(lo <= exact_slope && exact_slope <= hi, "{fit:?} against {exact_slope}");
}
