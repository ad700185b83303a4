//! The observables of a point, built from their checked spec: held-out and evaluation sets drawn, kernels
//! of random features fixed by the seed.

use super::components::ResolveContext;
use super::{ResolveError, population};
use crate::check::model_blocks;
use crate::spec::*;
use meanfield_core::{DataDistribution, Observable, Purpose, StreamKey};
use meanfield_dynamics::{
    Averages, Evaluation, Histogram, LayerDependence, Moments, PopulationRisk, Predictions, Risk, Tagged, Variances,
};
use std::sync::Arc;

/// The observables of a point, checked against its model and data.
pub(super) fn observables(
    spec: &ScenarioSpec,
    data: &Arc<dyn DataDistribution>,
    seed: u64,
    ctx: &ResolveContext<'_>,
) -> Result<Vec<Arc<dyn Observable>>, ResolveError> {
    let dim = data.dim();
    let block_names: Vec<String> = model_blocks(spec, Some(dim)).iter().map(|(n, _)| (*n).to_owned()).collect();
    spec.observables
        .iter()
        .map(|o| -> Result<Arc<dyn Observable>, ResolveError> {
            Ok(match o {
                ObservableSpec::Risk { samples } => Arc::new(Risk { samples: *samples }),
                ObservableSpec::PopulationRisk(population) => {
                    let evaluation =
                        match population::population_loss(spec, *population, data, seed, Purpose::Evaluation, ctx)? {
                            population::PopulationLoss::Sample { x, y } => Evaluation::Sample { x, y },
                            population::PopulationLoss::ClosedForm(problem) => {
                                Evaluation::ClosedForm(Arc::new(move |params: &[f64]| problem.loss(params)))
                            }
                        };
                    Arc::new(PopulationRisk { evaluation })
                }
                ObservableSpec::Predictions { at } => {
                    Arc::new(Predictions { points: at.iter().flatten().copied().collect(), count: at.len() })
                }
                ObservableSpec::Moments => Arc::new(Moments { blocks: block_names.clone() }),
                ObservableSpec::Variances => Arc::new(Variances { blocks: block_names.clone() }),
                ObservableSpec::Histogram { of, bins, range } => {
                    Arc::new(Histogram { of: of.clone(), bins: *bins, range: *range })
                }
                ObservableSpec::Averages(functions) => Arc::new(Averages { functions: functions.clone() }),
                ObservableSpec::Tagged { of, particles } => Arc::new(Tagged { of: of.clone(), particles: *particles }),
                ObservableSpec::LayerDependence { features, bandwidths } => {
                    let mut rng = StreamKey::shared(seed, Purpose::Features).stream();
                    Arc::new(LayerDependence::new(("w", "c"), (dim, 1), *features, *bandwidths, &mut rng))
                }
            })
        })
        .collect()
}
