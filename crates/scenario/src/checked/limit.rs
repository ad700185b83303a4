//! The mean-field limit problem of a point's `limit` section, checked against its model and data.

use super::ResolveError;
use super::components::{ResolveContext, activation, teacher};
use crate::spec::*;
use meanfield_limit::{KernelUnit, Kernels, Law, LimitData, LimitProblem, OutputWeights, Unit};
use meanfield_samplers as samplers;

/// The mean-field limit problem of a point (its `limit` section), independent of the width.
pub(super) fn limit_problem(
    spec: &ScenarioSpec,
    seed: u64,
    ctx: &ResolveContext<'_>,
) -> Result<LimitProblem, ResolveError> {
    let unsupported = |what: &str| {
        ResolveError::Limit(format!(
            "{what}; the limit solvers cover OneHidden networks (mean-field scaling, no bias, w trained) on \
             TeacherStudent data with dim 1 and Gaussian inputs (Grid) or on IsotropicGaussians with c frozen (Radial); \
             limit: Embedding(...) covers OneHidden and TwoHidden networks on any data law"
        ))
    };
    let limit = spec.limit.as_ref().ok_or_else(|| unsupported("no limit given"))?;
    let ModelSpec::OneHidden { activation: act, scaling, c, w, b, .. } = &spec.model else {
        return Err(unsupported("the model is not OneHidden"));
    };
    if *scaling != Scaling::MeanField || !matches!(b, BlockSpec::Absent) {
        return Err(unsupported("the model has the lazy scaling or a bias"));
    }
    let data_dim = match &spec.data {
        DataSpec::TeacherStudent { dim, .. } | DataSpec::IsotropicGaussians { dim, .. } => *dim,
        _ => return Err(unsupported("the data is neither TeacherStudent nor IsotropicGaussians")),
    };
    let law = |init: &InitSpec, what: &str| -> Result<Law, ResolveError> {
        match *init {
            InitSpec::Gaussian { mean, std, per_sqrt_dim, .. } => {
                Ok(Law::Gaussian { mean, std: if per_sqrt_dim { std / (data_dim as f64).sqrt() } else { std } })
            }
            InitSpec::Uniform { low, high } => Ok(Law::Uniform { low, high }),
            InitSpec::Constant(_) => {
                Err(unsupported(&format!("{what} is trained from a constant, which has no density")))
            }
        }
    };
    let BlockSpec::Trained(w_init) = w else {
        return Err(unsupported("w is not trained"));
    };
    let w_law = law(w_init, "w")?;
    let (weight_decay, temperature) = match spec.dynamics {
        DynamicsSpec::NoisySgd { weight_decay, temperature, .. } => (weight_decay, temperature),
        DynamicsSpec::FullBatchGd { .. } => {
            return Err(unsupported("full-batch GD on a finite sample has another limit"));
        }
        DynamicsSpec::GradientFlow { .. } => {
            return Err(unsupported("gradient flow on a fixed population loss is compared with no solved limit"));
        }
        _ => (0.0, 0.0),
    };
    let activation = activation(act, "model.activation", ctx)?;
    let (data, c, w_range, cells, kernels) = match (limit, &spec.data) {
        (
            LimitSpec::Grid { cells, w: w_range, c: c_range, kernels, .. },
            DataSpec::TeacherStudent { dim, teacher: t, noise, inputs },
        ) => {
            if *dim != 1 || *inputs != InputsSpec::Gaussian {
                return Err(unsupported("a Grid limit needs dim 1 and Gaussian inputs"));
            }
            let units = match teacher(t, 1, seed, ctx)? {
                samplers::Teacher::Network { a, w, activation } => {
                    let k = a.len() as f64;
                    a.iter()
                        .zip(&w)
                        .map(|(a, w)| Unit { weight: a / k, scale: *w, activation: activation.clone() })
                        .collect()
                }
                samplers::Teacher::SingleIndex { w, link } => vec![Unit { weight: 1.0, scale: w[0], activation: link }],
                _ => return Err(unsupported("a Grid limit needs a Network or SingleIndex teacher")),
            };
            let c = match (c, c_range) {
                (BlockSpec::Trained(init), Some(range)) => {
                    OutputWeights::Trained { law: law(init, "c")?, range: *range }
                }
                (BlockSpec::Trained(_), None) => {
                    return Err(ResolveError::Limit("c is trained: give its grid range, `c: (low, high)`".into()));
                }
                (BlockSpec::Frozen(InitSpec::Constant(c0)), None) => OutputWeights::Frozen(*c0),
                (BlockSpec::Frozen(InitSpec::Constant(_)), Some(_)) => {
                    return Err(ResolveError::Limit("c is frozen: leave out its grid range".into()));
                }
                _ => return Err(unsupported("c must be trained, or frozen at a Constant")),
            };
            let kernels = match kernels {
                LimitKernels::Quadrature => Kernels::Quadrature,
                LimitKernels::ClosedForm => Kernels::ClosedForm(closed_form_unit(act, t)?),
            };
            (LimitData::ScalarGaussian { teacher: units, noise: *noise }, c, *w_range, *cells, kernels)
        }
        (LimitSpec::Radial { cells, max, .. }, DataSpec::IsotropicGaussians { dim, delta }) => {
            let BlockSpec::Frozen(InitSpec::Constant(c0)) = c else {
                return Err(unsupported("a Radial limit needs c frozen at a Constant"));
            };
            let data = LimitData::Isotropic { dim: *dim, delta: *delta };
            (data, OutputWeights::Frozen(*c0), (0.0, *max), *cells, Kernels::Quadrature)
        }
        (LimitSpec::Grid { .. }, _) => return Err(unsupported("a Grid limit needs TeacherStudent data")),
        (LimitSpec::Radial { .. }, _) => return Err(unsupported("a Radial limit needs IsotropicGaussians data")),
        (LimitSpec::Embedding { .. }, _) => return Err(unsupported("an Embedding limit is solved by its own solver")),
    };
    let problem = LimitProblem { activation, data, c, w_law, w_range, cells, weight_decay, temperature, kernels };
    problem.check().map_err(|e| ResolveError::Limit(e.to_string()))?;
    Ok(problem)
}

/// The unit whose closed-form Gaussian kernel a `ClosedForm` limit uses: the student's activation, which must
/// be `Identity`, `Relu` or `Erf`, and the teacher's units must be the same.
fn closed_form_unit(student: &ActivationSpec, teacher: &TeacherSpec) -> Result<KernelUnit, ResolveError> {
    let refuse = |why: String| ResolveError::Limit(format!("kernels: ClosedForm {why}; use kernels: Quadrature"));
    let unit = match student {
        ActivationSpec::Identity => KernelUnit::Linear,
        ActivationSpec::Relu => KernelUnit::Relu,
        ActivationSpec::Erf => KernelUnit::Erf,
        other => {
            let other = describe(other);
            return Err(refuse(format!("has closed forms for Identity, Relu and Erf units; the model's is {other}")));
        }
    };
    let teacher_activation = match teacher {
        TeacherSpec::Network { activation, .. } => activation,
        TeacherSpec::SingleIndex { link, .. } => link,
        _ => return Err(refuse("needs a Network or SingleIndex teacher".into())),
    };
    if teacher_activation != student {
        let (student, teacher) = (describe(student), describe(teacher_activation));
        return Err(refuse(format!(
            "needs the teacher's units to be the student's ({student}); the teacher's are {teacher}"
        )));
    }
    Ok(unit)
}

/// An activation as the scenario names it.
fn describe(activation: &ActivationSpec) -> String {
    match activation {
        ActivationSpec::Plugin { name, .. } => format!("the plugin activation '{name}'"),
        other => crate::check::as_written(other),
    }
}

#[cfg(test)]
mod tests {
    use crate::CheckedScenario;
    use std::path::Path;

    fn scenario(activation: &str, link: &str, kernels: &str) -> Result<CheckedScenario, crate::ScenarioError> {
        let text = format!(
            r#"Scenario(name: "closed", replicas: 1,
                model: OneHidden(width: 16, activation: {activation},
                    c: Trained(Gaussian(mean: 0.0, std: 0.5)), w: Trained(Gaussian(mean: 0.0, std: 1.0))),
                data: TeacherStudent(dim: 1, teacher: SingleIndex(link: {link})),
                dynamics: OnlineSgd(step: Fixed(0.05)), horizon: Time(1.0), record: Every(0.5),
                limit: Grid(cells: 32, w: (-5.0, 5.0), c: (-4.0, 4.0), kernels: {kernels}))"#
        );
        CheckedScenario::from_text(&text, "closed.ron", Path::new("."))
    }

    /// A ClosedForm limit gives the quadrature limit (to the 1e-12 the two kernels agree to, accumulated
    /// over the solve: see `meanfield_limit`'s test of the same), and is refused, naming the field, where
    /// no closed form applies.
    #[test]
    fn closed_form_kernels_are_checked_and_give_the_quadrature_limit() {
        let risk = |kernels: &str| {
            let scenario = scenario("Relu", "Relu", kernels).unwrap();
            let (_, limits) = scenario.with_limits(scenario.plans()).unwrap();
            limits[0].as_ref().unwrap().risk().to_vec()
        };
        let (quadrature, closed) = (risk("Quadrature"), risk("ClosedForm"));
        for (q, c) in quadrature.iter().zip(&closed) {
            assert!((q - c).abs() < 1e-10 * q.abs(), "{quadrature:?} against {closed:?}");
        }
        for (activation, link, fragment) in [
            ("Tanh", "Tanh", "has closed forms for Identity, Relu and Erf units; the model's is Tanh"),
            ("Relu", "Erf", "needs the teacher's units to be the student's (Relu); the teacher's are Erf"),
        ] {
            let message = scenario(activation, link, "ClosedForm").unwrap_err().to_string();
            assert!(message.contains("closed.ron:6:") && message.contains(fragment), "{message}");
        }
    }
}

#[cfg(test)]
mod distance_tests {
    use crate::CheckedScenario;
    use meanfield_core::progress::NoProgress;
    use std::path::Path;

    fn scenario(distances: &str, c: &str) -> Result<CheckedScenario, crate::ScenarioError> {
        let text = format!(
            r#"Scenario(name: "distances", replicas: 400, seed: 3,
                model: OneHidden(width: 50, activation: Tanh,
                    c: {c}, w: Trained(Gaussian(mean: 0.0, std: 0.7))),
                data: TeacherStudent(dim: 1, teacher: SingleIndex(link: Tanh)),
                dynamics: OnlineSgd(step: Fixed(0.02)), horizon: Steps(10), record: Every(0.2),
                observables: [Risk(samples: 10)],
                limit: Grid(cells: 60, w: (-4.5, 4.5), {range} distances: {distances}))"#,
            range = if c.starts_with("Trained") { "c: (-4.5, 4.5)," } else { "" },
        );
        CheckedScenario::from_text(&text, "distances.ron", Path::new("."))
    }

    /// At t = 0 the particles are N i.i.d. draws from ρ0, the limit's initial law, and the energy distance
    /// (a V-statistic) has the closed mean E[energy(μ_N, ρ0)] = E|X − X'|/N. With c and w independent
    /// N(0, 0.7²), X − X' is a centred Gaussian in the plane with covariance 2·0.49·I, so E|X − X'| =
    /// 0.7·√2·√(π/2) = 0.7·√π. Over 400 replicas the mean of N·energy has a standard error of about
    /// 0.7·√π·√(2/400) ≈ 0.09 (the V-statistic's N·energy is roughly a weighted χ² with variance 2δ²). The
    /// limit's cells carry their mass at their centres (width h = 0.15), which shifts the energy distance by
    /// O(h²) relative to the spread, N·h²/12 ≈ 0.1 at most here. The tolerance is 0.35: 4 standard errors;
    /// dropping the self term or a factor 2 moves the mean by 1.2 or more. The columns come in the listed
    /// order, W1 and W2 per marginal.
    #[test]
    fn joint_distances_at_the_start_have_their_closed_mean() {
        let checked =
            scenario("[W1, W2, SlicedW2(directions: 16), Energy]", "Trained(Gaussian(mean: 0.0, std: 0.7))").unwrap();
        let (plans, _) = checked.with_limits(checked.plans()).unwrap();
        let columns = plans[0].columns();
        let expected = [
            "risk",
            "W1(c[0])",
            "W1(w[0])",
            "W2(c[0])",
            "W2(w[0])",
            "SW2(c[0],w[0])",
            "energy(c[0],w[0])",
            "risk_limit",
        ];
        assert_eq!(columns, expected);
        let point = &meanfield_dynamics::run_points(&plans, &NoProgress)[0];
        let at_start = |column: &str| -> Vec<f64> {
            let k = columns.iter().position(|c| c == column).unwrap();
            point.replicas.iter().map(|r| r.records[0].values[k]).collect()
        };
        let n = 50.0;
        let mean = |v: &[f64]| v.iter().sum::<f64>() / v.len() as f64;
        let scaled_energy = mean(&at_start("energy(c[0],w[0])")) * n;
        let closed = 0.7 * std::f64::consts::PI.sqrt();
        eprintln!("N·energy at t = 0: {scaled_energy:.4} against the closed {closed:.4}");
        assert!((scaled_energy - closed).abs() < 0.35, "N·energy {scaled_energy} against {closed}");
        // W2 ≥ W1 on every marginal (Jensen), and the sliced distance is positive and of the marginals' order.
        for (w1, w2) in at_start("W1(w[0])").iter().zip(at_start("W2(w[0])")) {
            assert!(w2 >= *w1 - 1e-12);
        }
        let (sliced, w2) = (mean(&at_start("SW2(c[0],w[0])")), mean(&at_start("W2(w[0])")));
        assert!(sliced > 0.0 && sliced < 3.0 * w2, "SW2 {sliced} against W2 {w2}");
    }

    /// The joint distances need the (c, w) grid; each distance is listed once.
    #[test]
    fn joint_distances_are_refused_on_one_axis() {
        let message = scenario("[Energy]", "Frozen(Constant(1.0))").unwrap_err().to_string();
        assert!(message.contains("limit.distances") && message.contains("it needs a Grid with c trained"), "{message}");
        let message = scenario("[W1, W1]", "Trained(Gaussian(mean: 0.0, std: 0.7))").unwrap_err().to_string();
        assert!(message.contains("lists W1 twice"), "{message}");
    }
}
