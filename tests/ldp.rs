//! Large deviations end to end: ensembles of a scenario's replicas against closed forms.

mod common;

use common::run_scenario;
use meanfield_scenario::Scenario;

/// `scenarios/ldp_annealed_initial.ron`: at t = 0 the annealed LDP of mean(c) is Cramér's theorem for
/// c ~ N(0.3, 1.2²): Λ(k) = 0.3k + 0.72k² and, along the parametric curve, I(k) = 0.72k². Inside each
/// width's reliability window the estimates must be within twice their 95% bootstrap band's half-width
/// (about 4 standard errors: the whole curve comes from one sample, so a 2.5σ sample mean moves every
/// small-k point together; measured at N = 10, where the plain band misses 18 adjacent k), at most 10% of
/// the reliable points missing; and the extrapolation across N = 5, 10, 20 (exact: no 1/N term) must give
/// (a − 0.3)²/2.88 within 0.01.
#[test]
fn annealed_ldp_at_time_zero_is_cramer() {
    let scenario = Scenario::from_file(&common::scenario_path("ldp_annealed_initial.ron")).unwrap();
    let dir = tempfile::tempdir().unwrap();
    let report = run_scenario(&scenario, None, dir.path());
    let ldp = report.summary.ldp.as_ref().expect("an ldp section");
    assert_eq!(ldp.points.len(), 3);
    for point in &ldp.points {
        let f = &point.rate_function;
        let reliable: Vec<_> = f.points.iter().filter(|p| p.reliable()).collect();
        let misses: Vec<f64> = reliable
            .iter()
            .filter(|p| {
                let near = |band: &meanfield_ldp::Band, estimate: f64, exact: f64| {
                    (estimate - exact).abs() <= band.high - band.low
                };
                !(near(&p.scgf_band, p.scgf, 0.3 * p.k + 0.72 * p.k * p.k)
                    && near(&p.rate_band, p.rate, 0.72 * p.k * p.k))
            })
            .map(|p| p.k)
            .collect();
        eprintln!("N = {}: {} of 41 reliable, misses at {misses:?}", point.width, reliable.len());
        assert!(reliable.len() >= 10, "N = {}: {} reliable", point.width, reliable.len());
        assert!(misses.len() * 10 <= reliable.len(), "N = {}: misses at {misses:?}", point.width);
    }
    assert!(ldp.extrapolation.len() >= 10, "{:?}", ldp.extrapolation);
    for e in &ldp.extrapolation {
        let exact = (e.value - 0.3).powi(2) / 2.88;
        assert!((e.limit - exact).abs() < 0.01, "{e:?} vs {exact}");
    }
    let csv = std::fs::read_to_string(dir.path().join("ldp.csv")).unwrap();
    assert_eq!(csv.lines().count(), 1 + 3 * 41);
}

/// With a degenerate initial law (every weight a constant) the quenched and annealed ensembles are the same
/// random variable: one shared configuration equals every replica's own. Their values, and so their
/// estimates, must be identical; with a random initial law they must not be.
#[test]
fn quenched_and_annealed_agree_on_a_degenerate_initial_law() {
    let text = std::fs::read_to_string(common::scenario_path("ldp_annealed_initial.ron")).unwrap();
    let run = |text: &str| {
        let scenario = Scenario::from_text(text, "ldp.ron", std::path::Path::new(".")).unwrap();
        let dir = tempfile::tempdir().unwrap();
        run_scenario(&scenario, None, dir.path()).summary.ldp.unwrap()
    };
    let scaled = text
        .replace("replicas: 20000", "replicas: 500")
        .replace("horizon: Steps(1)", "horizon: Steps(50)")
        .replace("time: 0.0", "time: 0.5")
        .replace("sweep: (width: [5, 10, 20]),", "");
    let constant = scaled
        .replace("c: Trained(Gaussian(mean: 0.3, std: 1.2))", "c: Trained(Constant(0.3))")
        .replace("w: Trained(Gaussian(mean: 0.0, std: 1.0))", "w: Trained(Constant(0.5))");
    let annealed = run(&constant);
    let quenched = run(&constant.replace("ensemble: Annealed", "ensemble: Quenched"));
    assert_eq!(annealed.points[0].rate_function, quenched.points[0].rate_function);
    let annealed = run(&scaled);
    let quenched = run(&scaled.replace("ensemble: Annealed", "ensemble: Quenched"));
    assert_ne!(annealed.points[0].rate_function, quenched.points[0].rate_function);
}
