//! The points a memory estimate looks at: how many a sweep has, and the few whose needs bound all of them.

use crate::check;
use crate::spec::*;

/// The number of points of a sweep (the product of its axes' lengths and the seeds), saturating.
pub(super) fn sweep_points(sweep: &SweepSpec) -> u128 {
    let lengths = sweep.width.iter().map(Vec::len).chain(sweep.fields.iter().map(|(_, v)| v.len()));
    let seeds = sweep.seeds.as_ref().map_or(1, Vec::len);
    lengths.chain([seeds]).fold(1u128, |n, len| n.saturating_mul(len.max(1) as u128))
}

/// Axes of a sweep beyond which only their largest values are combined (2^this points are estimated).
const MAX_EXTREME_AXES: usize = 8;

/// The points whose needs bound every point's: each axis at its smallest and largest value (a need
/// grows with a size, and falls with a step or an interval), expanded one at a time without expanding
/// the sweep. Points the checks would refuse are left out (their refusal is the better message).
pub(super) fn worst_points(spec: &ScenarioSpec) -> Vec<ScenarioSpec> {
    let sweep = &spec.sweep;
    if sweep.width.is_none() && sweep.fields.is_empty() {
        return vec![spec.clone()];
    }
    // A numeric axis is bounded by its extremes; any other (activations, data laws) by all its values.
    let extremes = |values: &[SweepValue]| -> Vec<SweepValue> {
        if values.iter().any(|v| v.number().is_none()) {
            return values.to_vec();
        }
        let number = |v: &&SweepValue| v.number().unwrap_or(0.0);
        let low = values.iter().min_by(|a, b| number(a).total_cmp(&number(b)));
        let mut both: Vec<SweepValue> =
            low.into_iter().chain(values.iter().max_by(|a, b| number(a).total_cmp(&number(b)))).cloned().collect();
        both.dedup();
        both
    };
    let mut axes: Vec<Vec<SweepValue>> = Vec::new();
    if let Some(widths) = &sweep.width {
        axes.push(extremes(&widths.iter().filter_map(|w| SweepValue::new(&w.to_string())).collect::<Vec<_>>()));
    }
    axes.extend(sweep.fields.iter().map(|(_, values)| extremes(values)));
    for axis in axes.iter_mut().skip(MAX_EXTREME_AXES) {
        axis.drain(..axis.len().saturating_sub(1));
    }
    let mut combos: Vec<Vec<SweepValue>> = vec![Vec::new()];
    for axis in &axes {
        combos =
            combos.iter().flat_map(|c| axis.iter().map(move |v| [&c[..], std::slice::from_ref(v)].concat())).collect();
    }
    combos
        .into_iter()
        .filter_map(|combo| {
            let mut values = combo.into_iter();
            let width =
                sweep.width.as_ref().and_then(|_| values.next()).map(|w| vec![w.number().unwrap_or(0.0) as usize]);
            let fields = sweep.fields.iter().zip(values).map(|((path, _), v)| (path.clone(), vec![v])).collect();
            let single = SweepSpec { width, seeds: None, fields };
            let one = ScenarioSpec { sweep: single, study: None, ..spec.clone() };
            let point = check::expand(&one).ok()?.into_iter().next()?;
            check::validate(&point.spec).is_ok().then_some(point.spec)
        })
        .collect()
}
