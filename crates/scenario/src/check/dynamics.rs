//! The dynamics' values: the step rule and the batch, each also at the point's width (where a rule scaled
//! with the width gives the η or B the point runs with), weight decay and temperature, and the finite data
//! full-batch GD needs.

use super::{Invalid, at_least_one, invalid, non_negative, positive};
use crate::spec::*;
use meanfield_core::StepRule;

/// Checks `spec.dynamics` at the point's width and returns its step rule.
pub(super) fn check_dynamics(spec: &ScenarioSpec) -> Result<StepRule, Invalid> {
    match &spec.dynamics {
        DynamicsSpec::FullBatchGd { .. } => {
            let finite = match &spec.data {
                DataSpec::Dataset { sampling, .. } | DataSpec::Sample { sampling, .. } => Some(*sampling),
                _ => None,
            };
            match finite {
                None => {
                    return Err(invalid(
                        "dynamics",
                        "FullBatchGd needs finite data: a Dataset or a Sample(size:, from:)",
                    ));
                }
                Some(SamplingSpec::WithReplacement) => {
                    return Err(invalid(
                        "data.sampling",
                        "FullBatchGd visits every row once per step: use sampling: Epochs",
                    ));
                }
                Some(SamplingSpec::Epochs) => {}
            }
        }
        DynamicsSpec::NoisySgd { weight_decay, temperature, .. } => {
            non_negative("dynamics.weight_decay", *weight_decay)?;
            non_negative("dynamics.temperature", *temperature)?;
        }
        DynamicsSpec::OnlineSgd { .. } | DynamicsSpec::MinibatchSgd { .. } => {}
        // Its `interval` is the step rule's value: named as itself before the step checks would call it the step.
        DynamicsSpec::GradientFlow { .. } => crate::checked::population::check_flow(spec)?,
    }
    let width = spec.model.step_width();
    let rule = spec.dynamics.step();
    check_step(rule, width)?;
    if let Some(batch) = spec.dynamics.batch() {
        check_batch(batch, width)?;
    }
    Ok(rule)
}

fn finite(path: &str, v: f64) -> Result<(), Invalid> {
    if v.is_finite() { Ok(()) } else { Err(invalid(path, format!("must be finite, got {v}"))) }
}

/// η > 0 and finite; a scaled rule also at `width`, where N^exponent may overflow or vanish.
fn check_step(rule: StepRule, width: usize) -> Result<(), Invalid> {
    match rule {
        StepRule::Fixed(v) | StepRule::PerNeuron(v) => positive("dynamics.step", v),
        StepRule::Scaled { eta0, exponent } => {
            positive("dynamics.step.eta0", eta0)?;
            finite("dynamics.step.exponent", exponent)?;
            let eta = rule.step_size(width);
            if eta.is_finite() && eta > 0.0 {
                return Ok(());
            }
            Err(invalid(
                "dynamics.step",
                format!(
                    "Scaled(eta0: {eta0}, exponent: {exponent}) gives a step of {eta} at width {width}: it must be \
                     finite and positive; choose a smaller |exponent|"
                ),
            ))
        }
    }
}

/// B ≥ 1; a scaled rule's b0 > 0, its exponent finite, and the B it gives at `width` a count.
fn check_batch(batch: BatchSpec, width: usize) -> Result<(), Invalid> {
    match batch {
        BatchSpec::Fixed(b) => at_least_one("dynamics.batch", b),
        BatchSpec::Scaled { b0, exponent, reference } => {
            positive("dynamics.batch.b0", b0)?;
            finite("dynamics.batch.exponent", exponent)?;
            positive("dynamics.batch.reference", reference)?;
            batch.at_width(width).map(|_| ()).map_err(|message| invalid("dynamics.batch", message))
        }
    }
}

/// In epochs a batch visits distinct rows: one larger than the data set would have to repeat rows within a
/// batch (with replacement it is only a larger sample, which is fine).
pub(crate) fn check_batch_rows(spec: &ScenarioSpec, batch: usize, rows: Option<usize>) -> Result<(), Invalid> {
    let epochs = match &spec.data {
        DataSpec::Dataset { sampling, .. } | DataSpec::Sample { sampling, .. } => *sampling == SamplingSpec::Epochs,
        _ => false,
    };
    match rows {
        Some(rows) if epochs && batch > rows => Err(Invalid {
            path: "dynamics.batch".into(),
            message: format!(
                "{batch} is larger than the data set's {rows} rows, which a batch in epochs visits without \
                 repeating: use a batch of at most {rows} or `sampling: WithReplacement`"
            ),
        }),
        _ => Ok(()),
    }
}
