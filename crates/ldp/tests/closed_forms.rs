//! The estimators against closed forms at t = 0, where the annealed LDP of A = (1/N) Σ φ(θ_i) with θ_i
//! i.i.d. from μ0 is Cramér's theorem: Λ(k) = log E e^{kφ(θ)} for every N, and along the parametric curve
//! I(k) = kΛ'(k) − Λ(k).

#![allow(clippy::unwrap_used)]

use meanfield_core::InitLaw;
use meanfield_ldp::{Ensemble, EstimateOptions, rate_function};
use meanfield_limit::quadrature::GaussianQuadrature;
use meanfield_samplers::{Gaussian, TiltedGaussian};
use rand::SeedableRng;
use rand_chacha::ChaCha8Rng;
use rand_distr::{Distribution, Normal};

/// R replicas of A = (1/N) Σ φ(θ_i), θ_i ~ N(mean, std²).
fn ensemble(particles: usize, replicas: usize, mean: f64, std: f64, phi: impl Fn(f64) -> f64, seed: u64) -> Ensemble {
    let mut rng = ChaCha8Rng::seed_from_u64(seed);
    let law = Normal::new(mean, std).unwrap();
    let values = (0..replicas)
        .map(|_| (0..particles).map(|_| phi(law.sample(&mut rng))).sum::<f64>() / particles as f64)
        .collect();
    Ensemble::new(particles, values)
}

fn options(k_max: f64, steps: i32) -> EstimateOptions {
    EstimateOptions {
        k: (-steps..=steps).map(|i| k_max * i as f64 / steps as f64).collect(),
        resamples: 400,
        level: 0.99,
        ..EstimateOptions::default()
    }
}

/// Checks the reliable points' bands against the exact Λ(k) and I(k); returns how many were reliable. The
/// bands are pointwise 99% bootstrap intervals over 25–90 correlated points, so a miss or two is expected
/// by chance; a biased estimate misses over a whole stretch of k. At most 10% of the reliable points may
/// miss: with the window switched off, the Gaussian case misses at 6 of 41 k, all at |k| ≥ 0.8, and fails.
fn check_against(estimate: &meanfield_ldp::RateFunction, exact: impl Fn(f64) -> (f64, f64)) -> usize {
    let (mut reliable, mut misses) = (0, Vec::new());
    for p in estimate.points.iter().filter(|p| p.reliable()) {
        let (lambda, rate) = exact(p.k);
        if !(p.scgf_band.contains(lambda) && p.rate_band.contains(rate)) {
            misses.push(p.k);
        }
        reliable += 1;
    }
    eprintln!("{reliable} of {} points reliable; outside their bands at k = {misses:?}", estimate.points.len());
    assert!(misses.len() * 10 <= reliable, "{} of {reliable} reliable points miss: k = {misses:?}", misses.len());
    reliable
}

/// Gaussian mean: Λ(k) = km + k²s²/2, so I(k) = k²s²/2 and I(a) = (a − m)²/2s².
#[test]
fn gaussian_mean_is_cramer() {
    let (m, s) = (0.3, 1.2);
    let sample = ensemble(10, 20_000, m, s, |t| t, 1);
    let estimate = rate_function(&sample, &options(1.0, 20), &mut ChaCha8Rng::seed_from_u64(2));
    let reliable = check_against(&estimate, |k| (k * m + 0.5 * k * k * s * s, 0.5 * k * k * s * s));
    assert!(reliable >= 25, "the window keeps most of |k| ≤ 1: {reliable} of 41");
    // The numeric Legendre transform inside the reliable range against (a − m)²/2s².
    let (lo, hi) = estimate.reliable_range().unwrap();
    for a in [lo + 0.25 * (hi - lo), m, hi - 0.25 * (hi - lo)] {
        let exact = (a - m).powi(2) / (2.0 * s * s);
        let numeric = estimate.legendre(a).unwrap();
        // The grid's step 0.05 in k costs at most ½(0.05)²s² in the sup; sampling adds ~1e-3.
        assert!((numeric - exact).abs() < 5e-3, "a = {a}: {numeric} vs {exact}");
    }
}

/// A bounded non-linear φ = tanh: Λ(k) = log E e^{k tanh θ} by quadrature (exact to 1e-12), and
/// Λ'(k) = E[tanh θ e^{k tanh θ}] / E[e^{k tanh θ}].
#[test]
fn bounded_nonlinear_average_is_cramer() {
    let (m, s) = (0.2, 1.0);
    let q = GaussianQuadrature::default();
    let exact = |k: f64| {
        let z = q.expectation(&[], |g| (k * (m + s * g).tanh()).exp());
        let first = q.expectation(&[], |g| (m + s * g).tanh() * (k * (m + s * g).tanh()).exp());
        let lambda = z.ln();
        (lambda, k * first / z - lambda)
    };
    let sample = ensemble(10, 20_000, m, s, f64::tanh, 3);
    let estimate = rate_function(&sample, &options(3.0, 20), &mut ChaCha8Rng::seed_from_u64(4));
    let reliable = check_against(&estimate, exact);
    assert!(reliable >= 15, "{reliable} of 41 reliable");
}

/// With few replicas the naive estimate turns linear in k (dominated by the extreme replica), the implied
/// rate function is wrong, and the window must exclude exactly those points.
#[test]
fn the_reliability_window_excludes_the_linear_branch() {
    let (m, s, n) = (0.0, 1.0, 10);
    let sample = ensemble(n, 200, m, s, |t| t, 5);
    let estimate = rate_function(&sample, &options(3.0, 30), &mut ChaCha8Rng::seed_from_u64(6));
    let mut sorted = sample.values.clone();
    sorted.sort_by(f64::total_cmp);
    let last = estimate.points.last().unwrap();
    // The linear branch: at k = 3 the tilted mean is pinned among the three largest replicas.
    assert!(last.slope >= sorted[197], "tilted mean {} below the third largest {}", last.slope, sorted[197]);
    let exact = |k: f64| k * m + 0.5 * k * k * s * s;
    let wrong: Vec<f64> = estimate.points.iter().filter(|p| !p.scgf_band.contains(exact(p.k))).map(|p| p.k).collect();
    let unreliable: Vec<f64> = estimate.points.iter().filter(|p| !p.reliable()).map(|p| p.k).collect();
    assert!(!wrong.is_empty(), "the naive estimate must fail somewhere for this test to mean anything");
    for k in &wrong {
        assert!(unreliable.contains(k), "k = {k} is wrong but reported reliable (unreliable: {unreliable:?})");
    }
    // The window is not empty: around k = 0 the estimate is reliable and right.
    assert!(check_against(&estimate, |k| (exact(k), 0.5 * k * k * s * s)) >= 3);
}

/// Importance sampling by tilting the Gaussian initial law: P(A ≥ 1) for A the mean of N = 20 standard
/// Gaussians is Φ̄(√20) ≈ 3.9e-6, so 10⁴ plain replicas expect 0.04 hits (none here). Drawn from the law
/// tilted towards a = 1, the weighted estimate (1/R) Σ w_r 1{A_r ≥ 1} must match the closed form within
/// 4 of its own standard errors (estimated from the same weights), with a relative error below 10%.
#[test]
fn importance_sampling_reaches_where_plain_sampling_has_no_samples() {
    let (n, r, a) = (20usize, 10_000usize, 1.0);
    let exact = 0.5 * libm::erfc(a * (n as f64).sqrt() / std::f64::consts::SQRT_2);
    let plain = ensemble(n, r, 0.0, 1.0, |t| t, 7);
    assert_eq!(plain.values.iter().filter(|v| **v >= a).count(), 0, "plain Monte Carlo has no sample there");

    let tilt = TiltedGaussian::towards(Gaussian { mean: 0.0, std: 1.0 }, a);
    let draw = |rng: &mut ChaCha8Rng, theta: &mut [f64]| {
        tilt.sample(rng, theta);
        tilt.log_likelihood_ratio(theta)
    };
    let mut rng = ChaCha8Rng::seed_from_u64(8);
    let mut theta = vec![0.0; n];
    let terms: Vec<f64> = (0..r)
        .map(|_| {
            let log_ratio = draw(&mut rng, &mut theta);
            let mean = theta.iter().sum::<f64>() / n as f64;
            if mean >= a { log_ratio.exp() } else { 0.0 }
        })
        .collect();
    let estimate = terms.iter().sum::<f64>() / r as f64;
    let se = (terms.iter().map(|t| (t - estimate).powi(2)).sum::<f64>() / (r as f64 - 1.0) / r as f64).sqrt();
    eprintln!("P(A ≥ 1): exact {exact:.4e}, importance sampling {estimate:.4e} ± {se:.1e}");
    assert!((estimate - exact).abs() < 4.0 * se, "{estimate} vs {exact} (se {se})");
    assert!(se / exact < 0.1, "relative error {}", se / exact);

    // The SCGF from the tilted ensemble, with its weights, at k = 1 (where the plain ensemble's tilted mean
    // lies beyond its sample): Λ(1) = ½ exactly.
    let mut rng = ChaCha8Rng::seed_from_u64(9);
    let (mut values, mut weights) = (Vec::with_capacity(r), Vec::with_capacity(r));
    for _ in 0..r {
        weights.push(draw(&mut rng, &mut theta));
        values.push(theta.iter().sum::<f64>() / n as f64);
    }
    let tilted = Ensemble::weighted(n, values, weights);
    let (lambda, slope, _) = meanfield_ldp::scgf(&tilted, 1.0);
    assert!((lambda - 0.5).abs() < 0.01 && (slope - 1.0).abs() < 0.02, "Λ(1) = {lambda}, Λ'(1) = {slope}");
    let (_, plain_slope, _) = meanfield_ldp::scgf(&plain, 1.0);
    let plain_max = plain.values.iter().copied().fold(f64::NEG_INFINITY, f64::max);
    assert!(plain_max < 1.0 && plain_slope <= plain_max, "plain: tilted mean {plain_slope} is capped by the sample");
}

/// The sample variance V = (1/N) Σ (θ_i − θ̄)² of N i.i.d. N(0, σ²) particles has N·V/σ² ~ χ²_{N−1}, so
/// Λ_N(k) = −((N − 1)/(2N)) log(1 − 2kσ²) exactly: a rate function with a genuine 1/N correction, whose
/// limit is Cramér's for θ², I(a) = ½(a/σ² − 1 − log(a/σ²)). (It is also a closed form for t > 0: SGD of a
/// linear network with frozen output weights moves every particle by the same vector, so V(t) = V(0).)
/// Fitting I_N = I + c/N across N = 5, 10, 20 must recover the limit where each N's numeric transform is
/// reliable: I_20 is off by 0.008–0.016 there (the 1/N correction); the fit must come within 0.006 and
/// closer than I_20 at every a (it comes within 0.004).
#[test]
fn finite_size_extrapolation_recovers_the_limit() {
    let sigma2 = 1.0;
    let curves: Vec<_> = [5usize, 10, 20]
        .iter()
        .enumerate()
        .map(|(i, &n)| {
            let mut rng = ChaCha8Rng::seed_from_u64(20 + i as u64);
            let law = Normal::new(0.0, 1.0).unwrap();
            let values = (0..20_000)
                .map(|_| {
                    let theta: Vec<f64> = (0..n).map(|_| law.sample(&mut rng)).collect();
                    let mean = theta.iter().sum::<f64>() / n as f64;
                    theta.iter().map(|t| (t - mean).powi(2)).sum::<f64>() / n as f64
                })
                .collect();
            let estimate =
                rate_function(&Ensemble::new(n, values), &options(0.45, 45), &mut ChaCha8Rng::seed_from_u64(30));
            // Λ_N itself against the closed form inside the window, for k ≤ 0.17 (what a ≤ 1.5 needs).
            // Closer to the singularity at k = 1/(2σ²) the tilted law's exponential tail reaches beyond what
            // 2·10⁴ replicas show, and the window's test (the sample must reach one tilted deviation past
            // the tilted mean) lets a biased stretch through: at N = 20, k = 0.20–0.27 miss their bands.
            let mut near = estimate.clone();
            near.points.retain(|p| p.k <= 0.17);
            let exact = |k: f64| {
                let lambda = -((n - 1) as f64 / (2.0 * n as f64)) * (1.0 - 2.0 * k * sigma2).ln();
                let slope = ((n - 1) as f64 / n as f64) * sigma2 / (1.0 - 2.0 * k * sigma2);
                (lambda, k * slope - lambda)
            };
            check_against(&near, exact);
            estimate
        })
        .collect();
    let limit = |a: f64| 0.5 * (a / sigma2 - 1.0 - (a / sigma2).ln());
    let fits = meanfield_ldp::extrapolate(&curves, &[0.6, 0.7, 1.3, 1.5]);
    assert!(fits.len() >= 3, "{fits:?}");
    for fit in &fits {
        let at_20 = curves[2].legendre(fit.value).unwrap();
        eprintln!("a = {}: I_20 {at_20:.4}, extrapolated {:.4}, exact {:.4}", fit.value, fit.limit, limit(fit.value));
        let error = (fit.limit - limit(fit.value)).abs();
        assert!(error < 0.006 && error < (at_20 - limit(fit.value)).abs(), "{fit:?} vs {}", limit(fit.value));
    }
}

/// The direct estimator −(1/N) log P̂(bin), shifted to 0 at its minimum, against (a − m)²/2s² for a
/// Gaussian mean: the shift's (1/N)·log(bin width × density prefactor) differs across bins only through
/// the density's curvature, so bins holding ≥ 200 replicas must be within 0.02.
#[test]
fn direct_histogram_estimate_matches_cramer() {
    let (m, s, n) = (0.0, 1.0, 20);
    let sample = ensemble(n, 50_000, m, s, |t| t, 11);
    let points = meanfield_ldp::direct_estimate(&sample, 30);
    let mut checked = 0;
    for p in points.iter().filter(|p| p.replicas >= 200) {
        let exact = (p.value - m).powi(2) / (2.0 * s * s);
        assert!((p.rate - exact).abs() < 0.02, "{p:?} vs {exact}");
        checked += 1;
    }
    assert!(checked >= 10, "{checked} bins checked");
}
