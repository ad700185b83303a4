//! The mean-field limit problem of a point's `limit` section, checked against its model and data.

use super::ResolveError;
use super::components::{ResolveContext, activation, teacher};
use crate::spec::*;
use meanfield_limit::{Law, LimitData, LimitProblem, OutputWeights, Unit};
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
             TeacherStudent data with dim 1 and Gaussian inputs (Grid) or on IsotropicGaussians with c frozen (Radial)"
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
        _ => (0.0, 0.0),
    };
    let activation = activation(act, "model.activation", ctx)?;
    let (data, c, w_range, cells) = match (limit, &spec.data) {
        (
            LimitSpec::Grid { cells, w: w_range, c: c_range },
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
            (LimitData::ScalarGaussian { teacher: units, noise: *noise }, c, *w_range, *cells)
        }
        (LimitSpec::Radial { cells, max }, DataSpec::IsotropicGaussians { dim, delta }) => {
            let BlockSpec::Frozen(InitSpec::Constant(c0)) = c else {
                return Err(unsupported("a Radial limit needs c frozen at a Constant"));
            };
            (LimitData::Isotropic { dim: *dim, delta: *delta }, OutputWeights::Frozen(*c0), (0.0, *max), *cells)
        }
        (LimitSpec::Grid { .. }, _) => return Err(unsupported("a Grid limit needs TeacherStudent data")),
        (LimitSpec::Radial { .. }, _) => return Err(unsupported("a Radial limit needs IsotropicGaussians data")),
    };
    let problem = LimitProblem { activation, data, c, w_law, w_range, cells, weight_decay, temperature };
    problem.check().map_err(|e| ResolveError::Limit(e.to_string()))?;
    Ok(problem)
}
