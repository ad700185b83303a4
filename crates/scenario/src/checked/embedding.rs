//! The `Embedding` limit of a point, checked against its model, dynamics, initial laws and data.

use super::ResolveError;
use super::components::{ResolveContext, activation, teacher};
use crate::spec::*;
use meanfield_core::{DataDistribution, Purpose, StreamKey};
use meanfield_limit::{DataQuadrature, EmbeddingProblem, EntryLaw, Network};
use std::sync::Arc;

/// What the `Embedding` limit covers, said once in every refusal.
pub(crate) const COVERED: &str = "the Embedding limit covers OneHidden networks (mean-field scaling, no bias) and \
     TwoHidden networks, trained by OnlineSgd, MinibatchSgd or NoisySgd without weight decay and temperature, from \
     Gaussian (untilted), Uniform or Constant initial laws drawn per replica (Annealed or Quenched), on any data law, \
     with the risk recorded by the limit itself (no Risk observable)";

/// The embedding limit problem of a point with `limit: Embedding(...)`, whose data law is `data`.
pub(super) fn embedding_problem(
    spec: &ScenarioSpec,
    seed: u64,
    data: &Arc<dyn DataDistribution>,
    ctx: &ResolveContext<'_>,
) -> Result<EmbeddingProblem, ResolveError> {
    let refuse = |what: &str| ResolveError::Limit(format!("{what}; {COVERED}"));
    let Some(LimitSpec::Embedding { nodes, c_nodes, data_points, tolerance }) = spec.limit else {
        return Err(refuse("no Embedding limit given"));
    };
    match spec.dynamics {
        DynamicsSpec::OnlineSgd { .. } | DynamicsSpec::MinibatchSgd { .. } => {}
        DynamicsSpec::NoisySgd { weight_decay, temperature, .. } if weight_decay == 0.0 && temperature == 0.0 => {}
        DynamicsSpec::NoisySgd { .. } => return Err(refuse("the dynamics has weight decay or a temperature")),
        DynamicsSpec::FullBatchGd { .. } => return Err(refuse("full-batch GD on a finite sample has another limit")),
        DynamicsSpec::GradientFlow { .. } => {
            return Err(refuse("gradient flow on a fixed population loss is compared with no solved limit"));
        }
    }
    if matches!(spec.ensemble, EnsembleSpec::QuenchedFrom(_)) {
        return Err(refuse("the initial weights are read from a file, whose law the limit does not know"));
    }
    if spec.observables.iter().any(|o| matches!(o, ObservableSpec::Risk { .. })) {
        // The default observables hold a Risk too, so a scenario that lists none needs to be told.
        return Err(refuse(
            "the observables list Risk (the default list has one: write `observables: [...]` without it, \
             the limit records the particles' risk on its own data)",
        ));
    }
    let dim = data.dim();
    let law = |block: &BlockSpec, name: &str| -> Result<(EntryLaw, bool), ResolveError> {
        let (init, trained) = match block {
            BlockSpec::Trained(init) => (init, true),
            BlockSpec::Frozen(init) => (init, false),
            BlockSpec::Absent => return Err(refuse(&format!("{name} is absent"))),
        };
        let law = match *init {
            InitSpec::Gaussian { tilt, .. } if tilt != 0.0 => {
                return Err(refuse(&format!("{name} is drawn from a tilted law")));
            }
            InitSpec::Gaussian { mean, std, per_sqrt_dim, .. } => {
                EntryLaw::Gaussian { mean, std: if per_sqrt_dim { std / (dim as f64).sqrt() } else { std } }
            }
            InitSpec::Uniform { low, high } => EntryLaw::Uniform { low, high },
            InitSpec::Constant(value) => EntryLaw::Constant(value),
        };
        Ok((law, trained))
    };
    let (network, (w_law, w), (u_law, u), (c_law, c)) = match &spec.model {
        ModelSpec::OneHidden { activation: act, scaling, c, w, b, .. } => {
            if *scaling != Scaling::MeanField || !matches!(b, BlockSpec::Absent) {
                return Err(refuse("the model has the lazy scaling or a bias"));
            }
            let network = Network::OneHidden { activation: activation(act, "model.activation", ctx)? };
            (network, law(w, "w")?, (EntryLaw::Constant(0.0), false), law(c, "c")?)
        }
        ModelSpec::TwoHidden { activation1, activation2, w, u, c, .. } => {
            let network = Network::TwoHidden {
                activation1: activation(activation1, "model.activation1", ctx)?,
                activation2: activation(activation2, "model.activation2", ctx)?,
            };
            (network, law(w, "w")?, law(u, "u")?, law(c, "c")?)
        }
        ModelSpec::KernelParticles { .. } => return Err(refuse("the model is KernelParticles")),
    };
    let quadrature = match &spec.data {
        DataSpec::TeacherStudent { dim, teacher: t, noise, inputs: InputsSpec::Gaussian } => {
            let target = teacher(t, *dim, seed, ctx)?;
            DataQuadrature::gaussian_inputs(*dim, data_points, |x| target.target(x), *noise)
        }
        // A law that can only be sampled: one fixed sample of it, drawn from the seed's own stream.
        _ => {
            let mut rng = StreamKey::shared(seed, Purpose::LimitData).stream();
            let (mut x, mut y) = (vec![0.0; data_points * dim], vec![0.0; data_points]);
            data.stream().fill(&mut rng, &mut x, &mut y);
            DataQuadrature::sample(dim, x, y)
        }
    };
    let problem = EmbeddingProblem {
        network,
        w_law,
        u_law,
        c_law,
        trained: (w, u, c),
        nodes,
        c_nodes,
        data: Arc::new(quadrature),
        tolerance,
    };
    problem.check().map_err(|e| ResolveError::Limit(e.to_string()))?;
    Ok(problem)
}

#[cfg(test)]
mod tests {
    use crate::CheckedScenario;
    use meanfield_core::progress::NoProgress;
    use std::path::Path;

    fn linear(model: &str, extra: &str) -> Result<CheckedScenario, crate::ScenarioError> {
        let text = format!(
            r#"Scenario(name: "embedding", replicas: 2, seed: 5,
                model: {model},
                data: TeacherStudent(dim: 3, teacher: Linear(coefficients: [1.0, -0.5, 0.25])),
                dynamics: OnlineSgd(step: PerNeuron(1.0)), horizon: Time(1.0), record: Every(0.25),
                observables: [{extra}], limit: Embedding(nodes: 512, data_points: 64),
                sweep: (width: [32, 128]))"#
        );
        CheckedScenario::from_text(&text, "embedding.ron", Path::new("."))
    }

    const THREE_LAYER: &str = "TwoHidden(width1: 8, width2: 8, activation1: Identity, activation2: Identity,
        w: Trained(Gaussian(mean: 0.0, std: 1.0)), u: Trained(Constant(1.0)), c: Trained(Constant(0.5)))";

    /// A reduced run of scenarios/three_layer_limit_linear.ron: the columns are the particles' risk on the
    /// limit's data, a W1 per trained layer and the limit risk; at t = 0 the particles' risk is the limit's
    /// up to the O(1/√N) fluctuation of their initial w (|b|²/2 = 0.66, and c·mean(w) moves it by about
    /// 0.5·√(3/N)·|b| ≈ 0.1 at N = 32), and the limit's risk is the same at every width.
    #[test]
    fn a_three_layer_run_records_the_risk_and_the_distances_against_the_limit() {
        let checked = linear(THREE_LAYER, "").unwrap();
        let (plans, limits) = checked.with_limits(checked.plans()).unwrap();
        assert_eq!(plans[0].columns(), ["risk", "W1(|w|)", "W1(u)", "W1(c[0])", "risk_limit"]);
        assert_eq!(limits[0].as_ref().unwrap().risk(), limits[1].as_ref().unwrap().risk());
        let points = meanfield_dynamics::run_points(&plans, &NoProgress);
        for point in &points {
            for replica in &point.replicas {
                let start = &replica.records[0].values;
                assert!((start[0] - start[4]).abs() < 0.2, "{start:?}");
                assert!(start[2] == 0.0 && start[3] == 0.0, "u and c start at their constants: {start:?}");
            }
        }
    }

    /// A data law that can only be sampled (here uniform inputs) is one fixed sample of `data_points`
    /// points, the same for the limit at every width and for the particles' risk. With c = 0 both networks
    /// predict 0 at t = 0, so both risks are ½·mean(y²) over that sample exactly (to the rounding of
    /// a different summation order), the same at every width; against the law, ½E[y²] = ½|b|²/3 =
    /// 0.21875 for x uniform on [−1, 1]³, and one sample of 4096 points is within 4 of its standard errors
    /// (sd(½y²) = ½√(E y⁴ − (E y²)²) = 0.245 from E x⁴ = 1/5, so SE = 0.0038). A fresh sample per width,
    /// or particles measured on another sample, would break the equalities.
    #[test]
    fn a_sampled_data_law_is_one_fixed_sample_for_the_limit_and_the_particles() {
        let text = r#"Scenario(name: "sampled", replicas: 2, seed: 9,
            model: OneHidden(width: 16, activation: Tanh, c: Trained(Constant(0.0)),
                w: Trained(Gaussian(mean: 0.0, std: 1.0))),
            data: TeacherStudent(dim: 3, teacher: Linear(coefficients: [1.0, -0.5, 0.25]),
                inputs: Uniform(low: -1.0, high: 1.0)),
            dynamics: OnlineSgd(step: PerNeuron(1.0)), horizon: Time(0.5), record: Every(0.25),
            observables: [], limit: Embedding(nodes: 256, data_points: 4096), sweep: (width: [16, 64]))"#;
        let checked = CheckedScenario::from_text(text, "sampled.ron", Path::new(".")).unwrap();
        let (plans, limits) = checked.with_limits(checked.plans()).unwrap();
        let risk_limit = limits[0].as_ref().unwrap().risk()[0];
        assert_eq!(limits[0].as_ref().unwrap().risk(), limits[1].as_ref().unwrap().risk());
        assert!((risk_limit - 0.21875).abs() < 4.0 * 0.0038, "½ mean y² of the sample: {risk_limit}");
        for point in meanfield_dynamics::run_points(&plans, &NoProgress) {
            for replica in &point.replicas {
                let start = &replica.records[0].values;
                assert_eq!(plans[0].columns()[0], "risk");
                assert!((start[0] - risk_limit).abs() < 1e-12, "the particles' risk at t = 0: {start:?}");
            }
        }
    }

    /// What the solver cannot do is refused, naming `limit` and saying what is covered.
    #[test]
    fn limits_outside_the_solvers_are_refused_with_what_is_covered() {
        let cases = [
            (THREE_LAYER, "Risk(samples: 100)", "the observables list Risk"),
            (
                "KernelParticles(width: 8, kernel: Gaussian(bandwidth: 1.0), c: Trained(Constant(0.0)),
                    z: Trained(Gaussian(mean: 0.0, std: 1.0)))",
                "",
                "the model is KernelParticles",
            ),
            (
                "OneHidden(width: 8, activation: Tanh, c: Trained(Constant(0.0)),
                    w: Trained(Gaussian(mean: 0.0, std: 1.0)), b: Trained(Constant(0.0)))",
                "",
                "the model has the lazy scaling or a bias",
            ),
        ];
        for (model, extra, why) in cases {
            let message = linear(model, extra).unwrap_err().to_string();
            assert!(message.contains("embedding.ron:6:") && message.contains(why), "{message}");
            assert!(message.contains(super::COVERED), "{message}");
        }
        // The grid solvers point a two-hidden-layer network to the embedding.
        let text = r#"Scenario(name: "grid", model: TwoHidden(width1: 8, width2: 8, activation1: Tanh,
                activation2: Tanh, w: Trained(Gaussian(mean: 0.0, std: 1.0)), u: Trained(Gaussian(mean: 0.0, std: 1.0)),
                c: Trained(Gaussian(mean: 0.0, std: 1.0))),
            data: TeacherStudent(dim: 1, teacher: SingleIndex(link: Tanh)),
            dynamics: OnlineSgd(step: Fixed(0.05)), horizon: Time(1.0), limit: Grid(cells: 32, w: (-4.0, 4.0)))"#;
        let message = CheckedScenario::from_text(text, "grid.ron", Path::new(".")).unwrap_err().to_string();
        assert!(
            message.contains("the model is not OneHidden") && message.contains("limit: Embedding(...)"),
            "{message}"
        );
    }

    /// The guide's refinement table: the limit of scenarios/three_layer_limit.ron (its record times, its
    /// data points) at growing first- and second-layer nodes, against the finest: the largest change of
    /// the risk curve and of the W1 distance of c's and |w|'s marginals over the record times. Run with
    /// `cargo test --release -p meanfield-scenario refinement_table -- --ignored --nocapture`.
    #[test]
    #[ignore = "a measurement for the guide, not a check"]
    fn refinement_table() {
        use meanfield_limit::MarginalAtTime;
        use meanfield_limit::distance::{Order, wasserstein_1d};
        let path = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../scenarios/three_layer_limit.ron");
        let text = std::fs::read_to_string(&path).unwrap();
        let solve = |nodes: usize, c_nodes: usize| {
            let text = text
                .replace("nodes: 1024, c_nodes: 64", &format!("nodes: {nodes}, c_nodes: {c_nodes}"))
                .replace("width: [32, 64, 128, 256, 512]", "width: [32, 64]");
            let checked = CheckedScenario::from_text(&text, "three_layer_limit.ron", path.parent().unwrap()).unwrap();
            let (_, limits) = checked.with_limits(checked.plans()).unwrap();
            match limits[0].clone().unwrap() {
                crate::checked::SolvedLimit::Embedding(solution) => solution,
                crate::checked::SolvedLimit::Grid(_) => unreachable!("an Embedding limit"),
            }
        };
        let atoms = |law: &MarginalAtTime| match law {
            MarginalAtTime::Atoms { values, .. } => values.clone(),
            MarginalAtTime::Density(_) => unreachable!("|w| and c are atoms"),
        };
        let (finest_nodes, finest_c_nodes) = (2048, 128);
        let reference = solve(finest_nodes, finest_c_nodes);
        println!("| nodes | c_nodes | risk_limit | W1 of c's marginal | W1 of \\|w\\|'s marginal |");
        println!("|---|---|---|---|---|");
        for (nodes, c_nodes) in [(256, 16), (512, 32), (1024, 32), (1024, 64), (2048, 64)] {
            let solution = solve(nodes, c_nodes);
            let risk = solution.risk.iter().zip(&reference.risk).map(|(a, b)| (a - b).abs()).fold(0.0, f64::max);
            let marginal = |label: &str| {
                let find = |s: &meanfield_limit::EmbeddingSolution| s.marginals.iter().position(|m| m.label == label);
                let (mine, theirs) = (find(&solution).unwrap(), find(&reference).unwrap());
                (0..reference.times.len())
                    .map(|t| {
                        let a = atoms(&solution.marginals[mine].laws[t]);
                        wasserstein_1d(&a, &atoms(&reference.marginals[theirs].laws[t]), Order::W1)
                    })
                    .fold(0.0, f64::max)
            };
            println!("| {nodes} | {c_nodes} | {risk:.2e} | {:.2e} | {:.2e} |", marginal("c[0]"), marginal("|w|"));
        }
        println!("against {finest_nodes} × {finest_c_nodes} nodes; its risk_limit: {:?}", reference.risk);
    }
}
