//! Sweeps: the points of a scenario, width outermost, then the listed fields in order, seeds innermost;
//! any field of a point can be swept, numbers or any other value, set on the syntax tree of the whole
//! scenario (`compose::set`, the mechanism `--set` uses). A point's label names every swept coordinate in
//! that order (`width=32,dynamics.step=0.5,model.activation=Relu,seed=2`).

use super::{Invalid, invalid};
use crate::compose::{self, Assigned, SetMode, tree};
use crate::spec::*;
use meanfield_core::{Coordinate, CoordinateValue, SEED};

/// One point of a sweep: its swept coordinates and their label, its seed, and the scenario with the
/// swept values filled in.
#[derive(Debug, Clone, PartialEq)]
pub struct Point {
    /// `meanfield_core::label` of the coordinates: every swept value, the seed included when swept.
    pub label: String,
    pub coordinates: Vec<Coordinate>,
    pub seed: u64,
    pub spec: ScenarioSpec,
}

/// A sweep that cannot be expanded: the path is within `sweep`.
fn sweep_error(path: &str, message: impl Into<String>) -> Invalid {
    invalid(&format!("sweep.{path}"), message)
}

/// The top-level sections that belong to the whole run, not to a point: a sweep cannot vary them.
const RUN_SECTIONS: [(&str, &str); 7] = [
    ("name", "names the run"),
    ("replicas", "is one ensemble size for the whole run (its check, progress and checkpoints count it once)"),
    ("sweep", "is the sweep itself"),
    ("outputs", "says what the whole run writes"),
    ("study", "compares the points of the whole run"),
    ("ldp", "is estimated once over the whole run"),
    ("snapshot", "says how the whole run is snapshot-tested"),
];

/// The first value of `values` that occurs again, if any, in linear time (a sweep may list millions).
fn repeated<T: Clone + Into<ValueKey>>(values: &[T]) -> Option<T> {
    let mut seen = std::collections::HashSet::with_capacity(values.len());
    values.iter().find(|v| !seen.insert((*v).clone().into())).cloned()
}

/// A sweep value as a key equal for equal values: numbers by value (0.0 and −0.0 are one value), others
/// by their short form.
#[derive(PartialEq, Eq, Hash)]
enum ValueKey {
    Number(u64),
    Text(String),
}

impl From<f64> for ValueKey {
    fn from(v: f64) -> Self {
        ValueKey::Number(if v == 0.0 { 0 } else { v.to_bits() })
    }
}

impl From<u64> for ValueKey {
    fn from(v: u64) -> Self {
        ValueKey::Number(v)
    }
}

impl From<usize> for ValueKey {
    fn from(v: usize) -> Self {
        ValueKey::Number(v as u64)
    }
}

impl From<SweepValue> for ValueKey {
    fn from(v: SweepValue) -> Self {
        match v.number() {
            Some(n) => ValueKey::from(n),
            None => ValueKey::Text(short_form(&v).unwrap_or_else(|_| v.text().to_owned())),
        }
    }
}

/// A value's form in a point's label: written compactly with `;` between fields, so that a label's `,`
/// still separates coordinates (`SingleIndex(link:Relu)`, `Network(width:4;activation:Tanh)`).
fn short_form(value: &SweepValue) -> Result<String, String> {
    let (_, node) = compose::parse_value(value.text(), 0)?;
    let short = node.compact().replace(',', ";");
    if short.contains('=') {
        return Err(format!("the value {} holds '=', which a point's label cannot", value.text()));
    }
    Ok(short)
}

/// A field path without the variant names it may spell out (`model.OneHidden.width` is `model.width`):
/// the form the checks compare.
fn canonical(path: &str) -> String {
    path.split('.').filter(|segment| !is_variant(segment)).collect::<Vec<_>>().join(".")
}

/// Refuses the sweeps that would run something other than what they say: repeated values (two points
/// under one label), a field swept twice or by two axes, a field of the whole run, a seed swept twice.
fn check_axes(spec: &ScenarioSpec) -> Result<(), Invalid> {
    let sweep = &spec.sweep;
    if let Some(widths) = &sweep.width {
        if widths.is_empty() {
            return Err(sweep_error("width", "is empty: list at least one width"));
        }
        if let Some(w) = repeated(widths) {
            return Err(sweep_error("width", format!("lists {w} twice: each width would run twice under one label")));
        }
    }
    if let Some(seeds) = &sweep.seeds {
        if seeds.is_empty() {
            return Err(sweep_error("seeds", "is empty: list at least one seed"));
        }
        if let Some(s) = repeated(seeds) {
            return Err(sweep_error("seeds", format!("lists {s} twice: that seed would run twice under one label")));
        }
    }
    for (k, (written, values)) in sweep.fields.iter().enumerate() {
        let field = |message: String| sweep_error("fields", format!("'{written}' {message}"));
        let path = &canonical(written);
        if values.is_empty() {
            return Err(field("has no values".into()));
        }
        if let Some(v) = values.iter().find(|v| v.number().is_some_and(|n| !n.is_finite())) {
            return Err(field(format!("has the value {}: sweep values must be finite numbers", v.text())));
        }
        for v in values {
            short_form(v).map_err(&field)?;
        }
        if let Some(v) = repeated(values) {
            let shown = v.number().map_or_else(|| v.text().to_owned(), |n| n.to_string());
            return Err(field(format!("lists {shown} twice: that value would run twice under one label")));
        }
        if sweep.fields[..k].iter().any(|(other, _)| canonical(other) == *path) {
            return Err(field("is listed twice: give all its values in one entry".into()));
        }
        let top = path.split('.').next().unwrap_or_default();
        if let Some((_, why)) = RUN_SECTIONS.iter().find(|(section, _)| *section == top) {
            return Err(field(format!(
                "cannot be swept: '{top}' {why}, so every point would get the scenario's value; \
                 write one scenario per value"
            )));
        }
        if sweep.width.is_some() && width_targets(&spec.model).contains(&path.as_str()) {
            return Err(field("is set by sweep.width too: sweep the width in one place".into()));
        }
        if path == SEED && sweep.seeds.is_some() {
            return Err(field("is swept by sweep.seeds too: give the seeds in one place".into()));
        }
    }
    Ok(())
}

/// The fields a width sweep sets: the two-hidden-layer network gets both widths (N1 = N2 = N).
fn width_targets(model: &ModelSpec) -> &'static [&'static str] {
    match model {
        ModelSpec::OneHidden { .. } | ModelSpec::KernelParticles { .. } => &["model.width"],
        ModelSpec::TwoHidden { .. } => &["model.width1", "model.width2"],
    }
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
    check_axes(spec)?;
    // One axis per swept field: its path in the label and its values (widths as whole numbers).
    let mut axes: Vec<(String, Vec<SweepValue>)> = Vec::new();
    if let Some(widths) = &sweep.width {
        let values = widths.iter().map(|w| SweepValue::new(&w.to_string()).expect("a number is RON")).collect();
        axes.push(("width".into(), values));
    }
    for (path, values) in &sweep.fields {
        axes.push((path.clone(), values.clone()));
    }

    // The whole scenario, every default written, as a tree the swept values are set in.
    let base = if axes.is_empty() {
        None
    } else {
        let text = ron::to_string(spec).map_err(|e| sweep_error("fields", e.to_string()))?;
        Some(tree::parse(&text, 0).map_err(|(_, m)| sweep_error("fields", m))?.1)
    };
    let mut combos: Vec<Vec<&SweepValue>> = vec![Vec::new()];
    for (_, values) in &axes {
        combos = combos.into_iter().flat_map(|c| values.iter().map(move |v| [c.clone(), vec![v]].concat())).collect();
    }
    let mut points = Vec::new();
    for combo in combos {
        let (coordinates, resolved) = match &base {
            None => (Vec::new(), spec.clone()),
            Some(base) => {
                let mut node = base.clone();
                let mut coordinates = Vec::new();
                for (k, ((path, _), v)) in axes.iter().zip(&combo).enumerate() {
                    // The width axis, first when there is one (a field may be named `width` only by mistake).
                    let set = if k == 0 && sweep.width.is_some() {
                        let mut set = CoordinateValue::Whole(0);
                        for target in width_targets(&spec.model) {
                            set = set_value(&mut node, target, v).map_err(|m| sweep_error("width", m))?;
                        }
                        set
                    } else {
                        set_value(&mut node, path, v).map_err(|m| sweep_error("fields", m))?
                    };
                    coordinates.push(Coordinate { path: path.clone(), value: set });
                }
                let (text, _) = tree::print_mapped(&[], &node);
                let spec: ScenarioSpec = crate::parse::ron_options().from_str(&text).map_err(|e| {
                    let values: Vec<String> = coordinates.iter().map(|c| format!("{}={}", c.path, c.value)).collect();
                    sweep_error("fields", format!("{} does not fit its field: {}", values.join(", "), e.code))
                })?;
                (coordinates, spec)
            }
        };
        // Without a seed list the point keeps its own seed (which a field sweep of `seed` may have set).
        match &sweep.seeds {
            None => points.push(Point {
                label: meanfield_core::label(&coordinates),
                coordinates,
                seed: resolved.seed,
                spec: resolved,
            }),
            Some(seeds) => {
                for &seed in seeds {
                    let mut coordinates = coordinates.clone();
                    coordinates.push(Coordinate { path: SEED.into(), value: CoordinateValue::Whole(seed) });
                    points.push(Point {
                        label: meanfield_core::label(&coordinates),
                        coordinates,
                        seed,
                        spec: ScenarioSpec { seed, ..resolved.clone() },
                    });
                }
            }
        }
    }
    Ok(points)
}

fn is_variant(key: &str) -> bool {
    key.chars().next().is_some_and(char::is_uppercase)
}

/// Sets the swept value `v` at dotted `path` of the scenario tree `node` (see [`compose::set`]), returning
/// the coordinate it makes. A field of a section the scenario does not have cannot be swept (a sweep does
/// not create sections).
fn set_value(node: &mut tree::Node, path: &str, v: &SweepValue) -> Result<CoordinateValue, String> {
    let (_, value) = compose::parse_value(v.text(), 0)?;
    Ok(match compose::set(node, path, value, SetMode::Sweep)? {
        Assigned::Whole(w) => CoordinateValue::Whole(w),
        Assigned::Real(r) => CoordinateValue::Real(r),
        Assigned::Value(_) => CoordinateValue::Text(short_form(v)?),
    })
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
    fn labels_name_every_swept_coordinate_in_sweep_order() {
        let check = |sweep: &str, expected: &[(&str, u64)]| {
            let points = expand(&spec(sweep)).unwrap();
            assert_eq!(summary(&points), expected.iter().map(|(l, s)| ((*l).to_owned(), *s)).collect::<Vec<_>>());
            for p in &points {
                assert_eq!(p.label, meanfield_core::label(&p.coordinates), "the label is made of the coordinates");
            }
        };
        check("()", &[("", 5)]);
        check("(seeds: [1, 2])", &[("seed=1", 1), ("seed=2", 2)]);
        check(
            r#"(width: [2, 8], seeds: [1, 2], fields: [("dynamics.step", [0.5])])"#,
            &[
                ("width=2,dynamics.step=0.5,seed=1", 1),
                ("width=2,dynamics.step=0.5,seed=2", 2),
                ("width=8,dynamics.step=0.5,seed=1", 1),
                ("width=8,dynamics.step=0.5,seed=2", 2),
            ],
        );
        // A field sweep of `seed` is a coordinate in its place among the fields.
        check(
            r#"(fields: [("seed", [7, 9]), ("data.delta", [0.25])])"#,
            &[("seed=7,data.delta=0.25", 7), ("seed=9,data.delta=0.25", 9)],
        );
        check(r#"(fields: [("model.width", [3])])"#, &[("model.width=3", 5)]);
    }

    #[test]
    fn swept_values_reach_the_points() {
        let points = expand(&spec(r#"(width: [2, 8], seeds: [1, 2], fields: [("dynamics.step", [0.5])])"#)).unwrap();
        assert_eq!(points[2].spec.model.step_width(), 8);
        assert_eq!(points[0].spec.dynamics.step(), StepRule::PerNeuron(0.5));
        assert_eq!(points[0].coordinates[0].value, CoordinateValue::Whole(2));
        assert_eq!(points[0].coordinates[1].value, CoordinateValue::Real(0.5));
        let points = expand(&spec(r#"(fields: [("model.w.Trained", [0.25]), ("seed", [7])])"#)).unwrap();
        let ModelSpec::OneHidden { w, .. } = &points[0].spec.model else { panic!("the spec is one-hidden") };
        assert_eq!(*w, BlockSpec::Trained(InitSpec::Constant(0.25)));
        assert_eq!(points[0].seed, 7, "a seed set by a field sweep is kept");
    }

    /// The exponents of a scaled step and batch are fields inside a variant: a sweep reaches them by the
    /// short path or the one that names the variant (one field either way), and the label names them.
    #[test]
    fn scaled_rules_are_swept_through_their_variant() {
        let scaled = |sweep: &str| {
            let text = format!(
                r#"Scenario(name: "t", seed: 5,
                    model: OneHidden(width: 4, activation: Tanh, c: Trained(Constant(1.0)), w: Trained(Constant(0.0))),
                    data: IsotropicGaussians(dim: 2, delta: 0.5),
                    dynamics: MinibatchSgd(step: Scaled(eta0: 0.5, exponent: -1.0), batch: Scaled(b0: 8, exponent: 1.0)),
                    horizon: Steps(1), sweep: {sweep})"#
            );
            expand(&crate::parse::parse(&text, "t").unwrap())
        };
        let points = scaled(r#"(width: [2], fields: [("dynamics.batch.exponent", [0.0, 1.0]), ("dynamics.step.Scaled.exponent", [-0.5])])"#)
            .unwrap();
        let labels: Vec<&str> = points.iter().map(|p| p.label.as_str()).collect();
        assert_eq!(
            labels,
            [
                "width=2,dynamics.batch.exponent=0,dynamics.step.Scaled.exponent=-0.5",
                "width=2,dynamics.batch.exponent=1,dynamics.step.Scaled.exponent=-0.5"
            ]
        );
        let DynamicsSpec::MinibatchSgd { step, batch } = points[1].spec.dynamics else { panic!("minibatch") };
        assert_eq!(step, StepRule::Scaled { eta0: 0.5, exponent: -0.5 });
        assert_eq!(batch, BatchSpec::Scaled { b0: 8.0, exponent: 1.0, reference: 1.0 });
        assert_eq!(batch.at_width(points[1].spec.model.step_width()), Ok(16));
        let err =
            scaled(r#"(fields: [("dynamics.batch.exponent", [1.0]), ("dynamics.batch.Scaled.exponent", [2.0])])"#)
                .unwrap_err();
        assert!(err.message.contains("is listed twice"), "{}", err.message);
        let err = scaled(r#"(fields: [("dynamics.batch", [4])])"#).unwrap_err();
        assert!(err.message.contains("'dynamics.batch' is not a number"), "{}", err.message);
    }

    #[test]
    fn sweeps_that_would_be_silently_wrong_are_refused() {
        let check = |sweep: &str, path: &str, message: &str| {
            let err = expand(&spec(sweep)).unwrap_err();
            assert_eq!(err.path, path, "{sweep}: {}", err.message);
            assert!(err.message.contains(message), "{sweep}: {}", err.message);
        };
        // One value twice would run twice under one label.
        check("(width: [8, 16, 8])", "sweep.width", "lists 8 twice");
        check("(seeds: [3, 1, 3])", "sweep.seeds", "lists 3 twice");
        check(r#"(fields: [("dynamics.step", [0.5, 1.0, 0.5])])"#, "sweep.fields", "'dynamics.step' lists 0.5 twice");
        check(
            r#"(fields: [("dynamics.step", [0.5]), ("dynamics.step", [1.0])])"#,
            "sweep.fields",
            "'dynamics.step' is listed twice",
        );
        // Two axes for one field.
        check(r#"(seeds: [1], fields: [("seed", [2])])"#, "sweep.fields", "'seed' is swept by sweep.seeds too");
        check(r#"(width: [8], fields: [("model.width", [4])])"#, "sweep.fields", "is set by sweep.width too");
        // A path that spells out the variant names the same field.
        check(r#"(width: [8], fields: [("model.OneHidden.width", [4])])"#, "sweep.fields", "is set by sweep.width too");
        check(
            r#"(fields: [("model.width", [4]), ("model.OneHidden.width", [8])])"#,
            "sweep.fields",
            "'model.OneHidden.width' is listed twice",
        );
        check(r#"(fields: [("dynamics.step", [0.0, -0.0])])"#, "sweep.fields", "lists -0 twice");
        // Fields of the whole run, and fields of sections the scenario does not have.
        check(r#"(fields: [("replicas", [2, 4])])"#, "sweep.fields", "'replicas' cannot be swept");
        check(r#"(fields: [("outputs.checkpoint_seconds", [1.0])])"#, "sweep.fields", "'outputs' says what");
        check(r#"(fields: [("ldp.time", [1.0])])"#, "sweep.fields", "'ldp' is estimated once");
        check(r#"(fields: [("study.resamples", [200])])"#, "sweep.fields", "'study' compares");
        check(r#"(fields: [("snapshot.digits", [4])])"#, "sweep.fields", "'snapshot' says how");
        check(r#"(fields: [("limit.cells", [64])])"#, "sweep.fields", "the scenario has no 'limit' section");
        // Numbers that are not whole numbers of the field, or not numbers at all.
        let whole = "takes whole numbers from 0 to 18446744073709551615 (or, written as floats, to 2^53 = \
                     9007199254740992) in a sweep";
        check(r#"(fields: [("model.width", [2.5])])"#, "sweep.fields", &format!("'model.width' {whole}, got 2.5"));
        check(r#"(fields: [("model.width", [1e300])])"#, "sweep.fields", &format!("{whole}, got 1e300"));
        check(r#"(fields: [("model.width", [-1])])"#, "sweep.fields", &format!("{whole}, got -1"));
        check(r#"(fields: [("seed", [18446744073709551616])])"#, "sweep.fields", whole);
        check(r#"(fields: [("seed", [1.8446744073709552e19])])"#, "sweep.fields", whole);
        check(r#"(fields: [("dynamics.step", [inf])])"#, "sweep.fields", "has the value inf");
        check(r#"(fields: [("dynamics.step", [NaN])])"#, "sweep.fields", "has the value NaN");
        check(r#"(fields: [("model.activation", [1.0])])"#, "sweep.fields", "'model.activation' is not a number");
        check(r#"(fields: [("width", [4.0])])"#, "sweep.fields", "'width': no field 'width' in the scenario");
        // Empty axes.
        check("(width: [])", "sweep.width", "is empty");
        check("(seeds: [])", "sweep.seeds", "is empty");
        check(r#"(fields: [("data.delta", [])])"#, "sweep.fields", "'data.delta' has no values");
    }

    /// A million seeds (which a quadratic search took minutes over), and a repeat at the very end.
    #[test]
    fn a_repeat_among_a_million_seeds_is_found() {
        let mut seeds: Vec<u64> = (0..1_000_000).collect();
        assert_eq!(repeated(&seeds), None);
        seeds.push(999_999);
        assert_eq!(repeated(&seeds), Some(999_999));
    }

    /// A whole number written as one is exact at any size; one written as a float up to 2^53.
    #[test]
    fn the_largest_exact_whole_numbers_are_accepted() {
        let points = expand(&spec(r#"(fields: [("seed", [9007199254740992.0, 18446744073709551615])])"#)).unwrap();
        assert_eq!(points[0].seed, 1 << 53);
        assert_eq!(points[1].seed, u64::MAX);
    }
}
