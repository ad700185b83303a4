//! The embedding solver against the closed moment system of identity activations, against the particles
//! (with the right and a deliberately wrong layer rate), and under refinement of its nodes.

use super::solution::{MarginalAtTime, fine_quantiles, smoothed};
use super::*;
use meanfield_core::Model;
use meanfield_models::{BuiltinActivation, TwoHidden, TwoHiddenConfig};
use rand::SeedableRng;
use rand_distr::{Distribution, StandardNormal};

const B: [f64; 3] = [1.0, -0.5, 0.25];

fn identity() -> Arc<dyn Activation> {
    Arc::new(BuiltinActivation::Identity)
}

fn linear_data(points: usize) -> Arc<DataQuadrature> {
    Arc::new(DataQuadrature::gaussian_inputs(3, points, |x| x.iter().zip(B).map(|(x, b)| x * b).sum(), 0.0))
}

/// The three-layer problem of scenarios/three_layer_limit_linear.ron: w ~ N(0, 1) per entry, u = 1,
/// c = 0.5, all trained.
fn linear_three_layer(nodes: usize) -> EmbeddingProblem {
    EmbeddingProblem {
        network: Network::TwoHidden { activation1: identity(), activation2: identity() },
        w_law: EntryLaw::Gaussian { mean: 0.0, std: 1.0 },
        u_law: EntryLaw::Constant(1.0),
        c_law: EntryLaw::Constant(0.5),
        trained: (true, true, true),
        nodes,
        c_nodes: 8,
        data: linear_data(64),
        tolerance: 1e-10,
    }
}

/// The closed moment system of identity activations with x ~ N(0, I), y = b·x (docs/guide/limits.md
/// derives it): with e = b − c a, the state (c, a = E[u w], S = E[w wᵀ], q = E u²) obeys, per trained
/// layer, c' = e·a; a' = c S e (u) + c q e (w); S' = c (e aᵀ + a eᵀ) (w); q' = 2 c e·a (u), and the risk
/// is ½|e|². For one hidden layer (a = E[c w], q = E c²): a' = S e (c) + q e (w), S' = e aᵀ + a eᵀ (w),
/// q' = 2 e·a (c). Integrated by classical RK4 with h = 10⁻³ (global error ~h⁴ ≈ 10⁻¹²), independently
/// of the solver's integrator. `u_rate` multiplies u's velocity (1 is right).
fn moment_risks(two_hidden: bool, (c0, a0, s0, q0): (f64, [f64; 3], f64, f64), u_rate: f64, times: &[f64]) -> Vec<f64> {
    // y = [c, a(3), S(9), q].
    let f = |y: &[f64]| -> Vec<f64> {
        let (c, a, s, q) = (y[0], &y[1..4], &y[4..13], y[13]);
        let scale = if two_hidden { c } else { 1.0 };
        let e: Vec<f64> = (0..3).map(|i| B[i] - if two_hidden { c * a[i] } else { a[i] }).collect();
        let ea: f64 = (0..3).map(|i| e[i] * a[i]).sum();
        let mut d = vec![0.0; 14];
        d[0] = if two_hidden { ea } else { 0.0 };
        for i in 0..3 {
            let se: f64 = (0..3).map(|j| s[i * 3 + j] * e[j]).sum();
            d[1 + i] = scale * (u_rate * se + q * e[i]);
            for j in 0..3 {
                d[4 + i * 3 + j] = scale * (e[i] * a[j] + a[i] * e[j]);
            }
        }
        d[13] = 2.0 * scale * u_rate * ea;
        d
    };
    let mut y = vec![0.0; 14];
    y[0] = c0;
    y[1..4].copy_from_slice(&a0);
    for i in 0..3 {
        y[4 + i * 4] = s0;
    }
    y[13] = q0;
    let h: f64 = 1e-3;
    let (mut t, mut out) = (0.0, Vec::new());
    let risk = |y: &[f64]| -> f64 {
        let c = if two_hidden { y[0] } else { 1.0 };
        0.5 * (0..3).map(|i| (B[i] - c * y[1 + i]).powi(2)).sum::<f64>()
    };
    for &target in times {
        while t < target - 1e-12 {
            let step = h.min(target - t);
            let k1 = f(&y);
            let k2 = f(&y.iter().zip(&k1).map(|(y, k)| y + 0.5 * step * k).collect::<Vec<_>>());
            let k3 = f(&y.iter().zip(&k2).map(|(y, k)| y + 0.5 * step * k).collect::<Vec<_>>());
            let k4 = f(&y.iter().zip(&k3).map(|(y, k)| y + step * k).collect::<Vec<_>>());
            for i in 0..14 {
                y[i] += step / 6.0 * (k1[i] + 2.0 * k2[i] + 2.0 * k3[i] + k4[i]);
            }
            t += step;
        }
        out.push(risk(&y));
    }
    out
}

fn record_times() -> Vec<f64> {
    (0..=16).map(|k| 0.25 * k as f64).collect()
}

/// The solver against the closed form at every record time of the shipped scenario, to 1e-6 in risk.
/// On moment-matched nodes and data points every expectation of the moment system (degree ≤ 2 in w0 and
/// x) is exact, so the node ODE *is* the moment system and the only errors are the integrators' (local
/// tolerance 1e-10, accumulated over a few hundred steps: ~1e-8) and rounding: 1e-6 is the issue's
/// bound, a hundred times above them. The same check with u's velocity doubled in the closed form fails
/// by far more than 1e-6, so the comparison sees a layer rate.
#[test]
fn three_layer_identity_limit_matches_the_moment_system() {
    let times = record_times();
    let solution = linear_three_layer(512).solve(&times).unwrap();
    let closed = moment_risks(true, (0.5, [0.0; 3], 1.0, 1.0), 1.0, &times);
    for (k, (solved, exact)) in solution.risk.iter().zip(&closed).enumerate() {
        assert!((solved - exact).abs() < 1e-6, "t = {}: solver {solved}, closed form {exact}", times[k]);
    }
    let wrong = moment_risks(true, (0.5, [0.0; 3], 1.0, 1.0), 2.0, &times);
    let gap = solution.risk.iter().zip(&wrong).map(|(a, b)| (a - b).abs()).fold(0.0, f64::max);
    assert!(gap > 1e-3, "a doubled u rate should move the risk, gap {gap}");
}

/// One hidden layer on the same data with c0 ~ N(0.3, 0.5²), w0 ~ N(0, 0.7²): the moment system closes for
/// any initial law (a(0) = E c0 E w0 = 0, S(0) = 0.49 I, q(0) = 0.09 + 0.25), and the joint nodes
/// match E c0, E c0², E w0 w0ᵀ exactly. Same tolerance and reasons as the three-layer check.
#[test]
fn one_hidden_identity_limit_matches_the_moment_system() {
    let problem = EmbeddingProblem {
        network: Network::OneHidden { activation: identity() },
        w_law: EntryLaw::Gaussian { mean: 0.0, std: 0.7 },
        u_law: EntryLaw::Constant(0.0),
        c_law: EntryLaw::Gaussian { mean: 0.3, std: 0.5 },
        trained: (true, false, true),
        nodes: 256,
        c_nodes: 2,
        data: linear_data(64),
        tolerance: 1e-10,
    };
    let times = record_times();
    let solution = problem.solve(&times).unwrap();
    let closed = moment_risks(false, (0.0, [0.0; 3], 0.49, 0.34), 1.0, &times);
    for (k, (solved, exact)) in solution.risk.iter().zip(&closed).enumerate() {
        assert!((solved - exact).abs() < 1e-6, "t = {}: solver {solved}, closed form {exact}", times[k]);
    }
}

/// The risk of a three-layer `TwoHidden` network (N1 × N2, identity activations) started as the linear
/// problem (w ~ N(0, 1) per entry, u = 1, c = 0.5) and moved by its descent direction averaged over the
/// 64 moment-matched data points, which is its exact expectation here (the direction is of degree 2 in
/// x): the particles' gradient flow, by Euler steps of 1/`per`, at t = 0.25, 0.5, …, 2. u's step is
/// multiplied by `u_factor` (1: the particle code's rate). The risk is exact on the same points.
fn particle_flow(n1: usize, n2: usize, per: usize, u_factor: f64) -> Vec<f64> {
    let data = linear_data(64);
    let mut rng = rand_chacha::ChaCha8Rng::seed_from_u64(40);
    let config = TwoHiddenConfig { max_batch: 64, ..TwoHiddenConfig::mean_field((n1, n2), 3, identity(), identity()) };
    let mut net = TwoHidden::new(config).unwrap();
    let (w_len, u_len) = (3 * n1, n1 * n2);
    {
        let p = net.params_mut();
        for v in &mut p[..w_len] {
            *v = StandardNormal.sample(&mut rng);
        }
        p[w_len..w_len + u_len].fill(1.0);
        p[w_len + u_len..].fill(0.5);
    }
    let mut direction = vec![0.0; net.params().len()];
    let mut residual = vec![0.0; 64];
    let mut risks = Vec::new();
    for step in 1..=2 * per {
        net.descent_direction(&data.x, &data.y, &mut residual, &mut direction);
        for (k, (p, d)) in net.params_mut().iter_mut().zip(&direction).enumerate() {
            let factor = if (w_len..w_len + u_len).contains(&k) { u_factor } else { 1.0 };
            *p += factor * d / per as f64;
        }
        if step % (per / 4) == 0 {
            let mut prediction = vec![0.0; 64];
            net.predict(&data.x, &mut prediction);
            risks.push(0.5 * prediction.iter().zip(&data.y).map(|(p, y)| (y - p).powi(2)).sum::<f64>() / 64.0);
        }
    }
    risks
}

/// The particles (`TwoHidden` with its per-layer rates) follow the limit, and would not with u stepped by
/// N2 instead of N1·N2 (its direction divided by N1). Since u and c start constant, the N2 second-layer
/// particles stay identical, so N2 = 4 loses nothing and N1 = 4096 is affordable: the particles' flow then
/// differs from the limit by the initial O(1/√N1) fluctuation of the empirical law of w0 and the Euler
/// steps' O(1/per); measured gaps are below 0.005 at every time (the risk falls from 0.66 to 10⁻⁵), so
/// the bound is 0.02. With the wrong rate the risk at t = 1 is several times the limit's.
#[test]
fn particles_follow_the_limit_only_with_the_right_layer_rates() {
    let times: Vec<f64> = (1..=8).map(|k| 0.25 * k as f64).collect();
    let limit = linear_three_layer(512).solve(&times).unwrap().risk;
    let gap = |particles: &[f64]| particles.iter().zip(&limit).map(|(p, l)| (p - l).abs()).fold(0.0, f64::max);
    let right = particle_flow(4096, 4, 512, 1.0);
    eprintln!("limit {limit:?}\nparticles {right:?}");
    assert!(gap(&right) < 0.02, "particles {right:?} against the limit {limit:?}");
    let wrong = particle_flow(4096, 4, 512, 1.0 / 4096.0);
    eprintln!("with u stepped by N2: {wrong:?}");
    assert!(gap(&wrong) > 0.05, "a wrong u rate went unnoticed: {wrong:?} against {limit:?}");
}

/// Refining the first-layer nodes of a tanh three-layer problem (d = 3, Gaussian u and c) converges: the
/// largest change of the risk curve against a reference of 8192 nodes falls from 32 to 2048 nodes by
/// more than a factor 10 (QMC on smooth integrands converges nearly like 1/n, if not monotonically at
/// every n; random nodes would gain only √64 = 8 over the same range, on average). The guide's
/// refinement table is the same measurement on scenarios/three_layer_limit.ron.
#[test]
fn refining_the_nodes_converges() {
    let tanh: Arc<dyn Activation> = Arc::new(BuiltinActivation::Tanh);
    let teacher = |x: &[f64]| (x[0] - 0.5 * x[1]).tanh() + 0.5 * (x[1] + x[2]).tanh();
    let data = Arc::new(DataQuadrature::gaussian_inputs(3, 128, teacher, 0.0));
    let times = [0.5, 1.0, 2.0];
    let curve = |nodes: usize| -> Vec<f64> {
        EmbeddingProblem {
            network: Network::TwoHidden { activation1: tanh.clone(), activation2: tanh.clone() },
            w_law: EntryLaw::Gaussian { mean: 0.0, std: 0.5 },
            u_law: EntryLaw::Gaussian { mean: 0.5, std: 1.0 },
            c_law: EntryLaw::Gaussian { mean: 0.0, std: 1.0 },
            trained: (true, true, true),
            nodes,
            c_nodes: 8,
            data: data.clone(),
            tolerance: 1e-9,
        }
        .solve(&times)
        .unwrap()
        .risk
    };
    let reference = curve(8192);
    let error: Vec<f64> = [32, 128, 512, 2048]
        .into_iter()
        .map(|n| curve(n).iter().zip(&reference).map(|(a, b)| (a - b).abs()).fold(0.0, f64::max))
        .collect();
    eprintln!("largest change of the risk curve against 8192 nodes, at 32, 128, 512, 2048 nodes: {error:?}");
    assert!(error[3] < error[0] / 10.0, "{error:?}");
}

/// At t = 0 the limit's u and c marginals are the initial laws N(0.3, 1.5²) and N(0, 1) themselves, so
/// their W1 to 2¹⁶ midpoint quantiles of those laws (themselves within ~10⁻⁵ of them) is the error of the
/// limit's representation. Taken as atoms, the 32 second-layer nodes (or 32 quantiles of u0 − m per node)
/// are 0.047·std from their law, about what N = 512 particles are from the limit; the refined c (2048
/// interpolated quantiles, W1 ≈ 0.8·√(ln n)/n ≈ 10⁻³ to the law) and the smoothed u (cells 0.003 wide,
/// an error of order their square) must be under 2·10⁻³.
#[test]
fn marginals_at_the_start_are_the_initial_laws() {
    let tanh: Arc<dyn Activation> = Arc::new(BuiltinActivation::Tanh);
    let data = Arc::new(DataQuadrature::gaussian_inputs(3, 32, |x| x[0].tanh(), 0.0));
    let (u_mean, u_std) = (0.3, 1.5);
    let solution = EmbeddingProblem {
        network: Network::TwoHidden { activation1: tanh.clone(), activation2: tanh },
        w_law: EntryLaw::Gaussian { mean: 0.0, std: 0.5 },
        u_law: EntryLaw::Gaussian { mean: u_mean, std: u_std },
        c_law: EntryLaw::Gaussian { mean: 0.0, std: 1.0 },
        trained: (true, true, true),
        nodes: 64,
        c_nodes: 32,
        data,
        tolerance: 1e-8,
    }
    .solve(&[0.0])
    .unwrap();
    let quantiles = |mean: f64, std: f64| -> Vec<f64> {
        let n = 1 << 16;
        fine_quantiles(EntryLaw::Gaussian { mean, std }, n)
    };
    for (label, mean, std) in [("u", u_mean, u_std), ("c[0]", 0.0, 1.0)] {
        let marginal = solution.marginals.iter().find(|m| m.label == label).unwrap();
        let w1 = marginal.laws[0].distance(&quantiles(mean, std));
        assert!(w1 < 2e-3, "W1 of the limit's {label} at t = 0 to its initial law: {w1}");
    }
}

/// The smoothed marginal against closed forms: for a point b, W1(δ_b, N(a, s²)) = E|a + sZ − b| =
/// s·(2φ(δ) + δ(2Φ(δ) − 1)) with δ = (b − a)/s, and W1(δ_b, U[a − l, a + l]) = ((b − a + l)² + (a + l − b)²)/(4l)
/// for |b − a| ≤ l (|b − a| beyond); a mixture averages them. The grid's CDF is piecewise linear on cells h ≈ 0.003 wide
/// and each atom is split between two grid points keeping its mean, so the error is of order
/// (width of the grid)·h²·max|f′| ≈ 20·10⁻⁵·0.25 = 5·10⁻⁵ at most; 10⁻⁴ bounds it, while splitting
/// an atom to its nearest grid point only (an error of order h) or a wrong noise scale fails.
#[test]
fn smoothed_marginal_matches_closed_forms() {
    let phi = |z: f64| (-0.5 * z * z).exp() / (2.0 * std::f64::consts::PI).sqrt();
    let gaussian = |a: f64, s: f64, b: f64| {
        let d = (b - a) / s;
        s * (2.0 * phi(d) + d * (2.0 * nodes::standard_normal_cdf(d) - 1.0))
    };
    let uniform = |a: f64, l: f64, b: f64| {
        if (b - a).abs() >= l { (b - a).abs() } else { ((b - a + l).powi(2) + (a + l - b).powi(2)) / (4.0 * l) }
    };
    let atoms = [-0.4, 0.1, 1.3];
    for b in [-1.0, 0.0, 0.2, 0.9, 2.5] {
        let law = MarginalAtTime::Density(smoothed(&atoms, EntryLaw::Gaussian { mean: 5.0, std: 1.2 }));
        let exact = atoms.iter().map(|&a| gaussian(a, 1.2, b)).sum::<f64>() / 3.0;
        let got = law.distance(&[b]);
        assert!((got - exact).abs() < 1e-4, "Gaussian noise, b = {b}: {got} against {exact}");
        let law = MarginalAtTime::Density(smoothed(&atoms, EntryLaw::Uniform { low: -2.0, high: 2.0 }));
        let exact = atoms.iter().map(|&a| uniform(a, 2.0, b)).sum::<f64>() / 3.0;
        let got = law.distance(&[b]);
        assert!((got - exact).abs() < 1e-4, "uniform noise, b = {b}: {got} against {exact}");
    }
}
