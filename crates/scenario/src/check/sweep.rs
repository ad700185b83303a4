//! Sweeps: the points of a scenario, width outermost, then the listed fields in order, seeds innermost;
//! any numeric field can be swept, reached through a JSON view of the spec.

use super::{Invalid, invalid};
use crate::spec::*;
use serde_json::Value;

/// One point of a sweep: the values that distinguish it (`label`, used to key its random streams), its
/// seed, and the scenario with the swept values filled in.
#[derive(Debug, Clone, PartialEq)]
pub struct Point {
    pub label: String,
    pub seed: u64,
    pub spec: ScenarioSpec,
}

/// A sweep that cannot be expanded: the path is within `sweep`.
fn sweep_error(path: &str, message: impl Into<String>) -> Invalid {
    invalid(&format!("sweep.{path}"), message)
}

/// Expands the sweep into points: width outermost, then the listed fields in order, seeds innermost.
pub fn expand(spec: &ScenarioSpec) -> Result<Vec<Point>, Invalid> {
    let sweep = &spec.sweep;
    if spec.study.is_some() && sweep.width.as_ref().is_none_or(|w| w.len() < 2) {
        return Err(sweep_error(
            "width",
            "a study compares widths: give at least two, e.g. `sweep: (width: [64, 256])`",
        ));
    }
    let mut axes: Vec<(String, Vec<f64>)> = Vec::new();
    if let Some(widths) = &sweep.width {
        if widths.is_empty() {
            return Err(sweep_error("width", "is empty: list at least one width"));
        }
        axes.push(("model.width".into(), widths.iter().map(|w| *w as f64).collect()));
    }
    for (path, values) in &sweep.fields {
        if values.is_empty() {
            return Err(sweep_error("fields", format!("'{path}' has no values")));
        }
        axes.push((path.clone(), values.clone()));
    }
    if sweep.seeds.as_ref().is_some_and(Vec::is_empty) {
        return Err(sweep_error("seeds", "is empty: list at least one seed"));
    }

    let base = serde_json::to_value(spec).map_err(|e| sweep_error("fields", e.to_string()))?;
    let mut combos: Vec<Vec<f64>> = vec![Vec::new()];
    for (_, values) in &axes {
        combos = combos.into_iter().flat_map(|c| values.iter().map(move |v| [c.clone(), vec![*v]].concat())).collect();
    }
    let mut points = Vec::new();
    for combo in combos {
        let mut value = base.clone();
        let mut label = Vec::new();
        for ((path, _), v) in axes.iter().zip(&combo) {
            if path == "model.width" {
                // A width sweep of the two-hidden-layer network sets both widths (N1 = N2 = N).
                let targets: &[&str] = match spec.model {
                    ModelSpec::OneHidden { .. } | ModelSpec::KernelParticles { .. } => &["model.width"],
                    ModelSpec::TwoHidden { .. } => &["model.width1", "model.width2"],
                };
                for target in targets {
                    set_path(&mut value, target, *v).map_err(|m| sweep_error("width", m))?;
                }
                label.push(format!("width={v}"));
            } else {
                set_path(&mut value, path, *v).map_err(|m| sweep_error("fields", m))?;
                label.push(format!("{path}={v}"));
            }
        }
        let resolved: ScenarioSpec = if axes.is_empty() {
            spec.clone()
        } else {
            serde_json::from_value(value).map_err(|e| sweep_error("fields", e.to_string()))?
        };
        // Without a seed list the point keeps its own seed (which a field sweep of `seed` may have set).
        let seeds = sweep.seeds.clone().unwrap_or_else(|| vec![resolved.seed]);
        for &seed in &seeds {
            points.push(Point { label: label.join(","), seed, spec: ScenarioSpec { seed, ..resolved.clone() } });
        }
    }
    Ok(points)
}

fn is_variant(key: &str) -> bool {
    key.chars().next().is_some_and(char::is_uppercase)
}

/// Sets the number at dotted `path`, looking through enum variants (`model.width` reaches the `width` of
/// `OneHidden`, `dynamics.step` the α of `PerNeuron(α)`).
fn set_path(root: &mut Value, path: &str, v: f64) -> Result<(), String> {
    let mut node = root;
    let mut walked = String::new();
    for segment in path.split('.') {
        node = through_variants(node, Some(segment));
        let Value::Object(map) = node else {
            if walked.ends_with("params") && node.is_string() {
                return Err(format!(
                    "'{path}': plugin parameters cannot be swept (they reach the plugin as text); \
                     write one scenario per value instead"
                ));
            }
            return Err(format!("'{path}': '{walked}' has no fields"));
        };
        if !map.contains_key(segment) {
            let known: Vec<_> = map.keys().cloned().collect();
            return Err(format!("'{path}': no field '{segment}' in '{walked}'; known: {}", known.join(", ")));
        }
        node = map.get_mut(segment).expect("checked above");
        walked = if walked.is_empty() { segment.to_owned() } else { format!("{walked}.{segment}") };
    }
    let node = through_variants(node, None);
    match node {
        Value::Number(n) if n.is_u64() || n.is_i64() => {
            if v.fract() != 0.0 || v < 0.0 {
                return Err(format!("'{path}' takes whole numbers, got {v}"));
            }
            *node = Value::from(v as u64);
        }
        Value::Number(_) => *node = Value::from(v),
        other => return Err(format!("'{path}' is not a number (it is {other})")),
    }
    Ok(())
}

/// Descends through single-key objects whose key is a variant name (`{"OneHidden": {...}}`), unless the key
/// is the segment being looked for.
fn through_variants<'v>(mut node: &'v mut Value, segment: Option<&str>) -> &'v mut Value {
    loop {
        let descend = match &*node {
            Value::Object(map) if map.len() == 1 => {
                let key = map.keys().next().expect("one key");
                is_variant(key) && Some(key.as_str()) != segment
            }
            _ => false,
        };
        if !descend {
            return node;
        }
        node = node.as_object_mut().and_then(|m| m.values_mut().next()).expect("one key");
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use meanfield_core::StepRule;

    fn spec(sweep: &str) -> ScenarioSpec {
        let text = format!(
            r#"Scenario(name: "t", seed: 5,
                model: OneHidden(width: 4, activation: Tanh, c: Trained(Constant(1.0)), w: Trained(Constant(0.0))),
                data: IsotropicGaussians(dim: 2, delta: 0.5),
                dynamics: OnlineSgd(step: PerNeuron(1.0)), horizon: Steps(1), sweep: {sweep})"#
        );
        crate::parse::parse(&text, "t").unwrap()
    }

    fn summary(points: &[Point]) -> Vec<(String, u64)> {
        points.iter().map(|p| (p.label.clone(), p.seed)).collect()
    }

    #[test]
    fn sweeps_expand_width_outermost_seeds_innermost() {
        let points = expand(&spec(r#"(width: [2, 8], seeds: [1, 2], fields: [("dynamics.step", [0.5])])"#)).unwrap();
        let expected = [
            ("width=2,dynamics.step=0.5", 1),
            ("width=2,dynamics.step=0.5", 2),
            ("width=8,dynamics.step=0.5", 1),
            ("width=8,dynamics.step=0.5", 2),
        ];
        assert_eq!(summary(&points), expected.map(|(l, s)| (l.to_owned(), s)));
        assert_eq!(points[2].spec.model.step_width(), 8);
        assert_eq!(points[0].spec.dynamics.step(), StepRule::PerNeuron(0.5));
    }

    #[test]
    fn fields_reach_into_variants_and_keep_integers_whole() {
        let points = expand(&spec(r#"(fields: [("model.w.Trained", [0.25]), ("seed", [7])])"#)).unwrap();
        let ModelSpec::OneHidden { w, .. } = &points[0].spec.model else { panic!("the spec is one-hidden") };
        assert_eq!(*w, BlockSpec::Trained(InitSpec::Constant(0.25)));
        assert_eq!(points[0].seed, 7, "a seed set by a field sweep is kept");
        let err = expand(&spec(r#"(fields: [("model.width", [2.5])])"#)).unwrap_err();
        assert_eq!(err.message, "'model.width' takes whole numbers, got 2.5");
        let err = expand(&spec(r#"(fields: [("model.activation", [1.0])])"#)).unwrap_err();
        assert!(err.message.starts_with("'model.activation' is not a number"), "{}", err.message);
    }
}
