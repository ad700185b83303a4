//! Scenario fields documented: every field and every enum variant of the scenario schema appears as inline
//! code in the scenario reference, [`DOC`].
//!
//! The schema is read from the `Deserialize` impls themselves, traced with serde-reflection from the root
//! type `ScenarioSpec`, so it is exactly what a scenario file may contain (serde's names: renames applied,
//! the types of other crates that the schema uses included).

use super::Tree;
use pulldown_cmark::{Event, Parser};
use serde::Serialize;
use serde::de::DeserializeOwned;
use serde_reflection::{ContainerFormat, Error, Format, Registry, Samples, Tracer, TracerConfig, VariantFormat};
use std::any::type_name;
use std::collections::{BTreeMap, BTreeSet, VecDeque};

/// The scenario reference page.
pub(crate) const DOC: &str = "docs/guide/scenarios.md";

pub(crate) fn check_workspace(tree: &Tree) -> Vec<String> {
    let doc = tree.read(DOC);
    let mut problems = Vec::new();
    if doc.is_none() {
        problems.push(format!("{DOC} is missing"));
    }
    match scenario_schema() {
        Ok((root, registry)) => {
            if let Some(doc) = doc {
                problems.extend(check(&registry, &root, &doc));
            }
        }
        Err(errors) => problems.extend(errors),
    }
    problems
}

/// The serde name of the scenario's root type and the registry of every container it reaches.
///
/// serde-reflection explores an enum behind an `Option`, a `Vec` or a map only in the first trace of a type
/// that contains it, and a nested enum moves on to its next variant only when its own type is traced: so
/// every enum of the schema is traced by itself as well. One left out of this list is not missed silently:
/// the registry names every enum with variants left, and the check reports them.
fn scenario_schema() -> Result<(String, Registry), Vec<String>> {
    use meanfield_scenario::spec::*;
    let mut schema = Schema::new();
    // A plugin's `params` are kept as raw RON text (ron's RawValue, whose Deserialize rejects the tracer's
    // default string ""); what they contain is the plugin's own schema, not the scenario's. A serialized
    // sample lets the tracer pass through; its container, `$ron::private::RawValue`, has no fields or
    // variants, and `check` skips it like every serde-private (`$…`) name.
    schema.sample(&PluginParams::default());
    // A batch is a number or `Scaled(b0:, exponent:)`, read with `deserialize_any`, which a tracer cannot
    // follow: the dynamics are traced from serialized samples instead (a batch in its `Scaled` form, whose
    // struct variant names its fields). Every variant has one, since the tracer visits by index (and so
    // deserializes a batch) any variant it has not seen serialized.
    let scaled = BatchSpec::Scaled { b0: 8.0, exponent: 1.0, reference: 1.0 };
    let step = meanfield_core::StepRule::Fixed(0.1);
    schema.sample(&DynamicsSpec::OnlineSgd { step });
    schema.sample(&DynamicsSpec::MinibatchSgd { step, batch: scaled });
    schema.sample(&DynamicsSpec::FullBatchGd { step });
    schema.sample(&DynamicsSpec::NoisySgd { step, batch: scaled, weight_decay: 0.0, temperature: 0.0 });
    let training = PopulationSpec::Sample { size: 10 };
    schema.sample(&DynamicsSpec::GradientFlow { training, interval: 1.0, tolerance: 1e-8 });
    let root = schema.trace::<ScenarioSpec>();
    schema.trace::<PlotFormat>();
    schema.trace::<EnsembleSpec>();
    schema.trace::<LdpMethod>();
    schema.trace::<StudySpec>();
    schema.trace::<LimitSpec>();
    schema.trace::<LimitKernels>();
    schema.trace::<LimitDistanceSpec>();
    schema.trace::<ModelSpec>();
    schema.trace::<KernelSpec>();
    schema.trace::<Scaling>();
    schema.trace::<BlockSpec>();
    schema.trace::<InitSpec>();
    schema.trace::<DataSpec>();
    schema.trace::<ActivationSpec>();
    schema.trace::<TeacherSpec>();
    schema.trace::<InputsSpec>();
    schema.trace::<FeaturesSpec>();
    schema.trace::<ColumnSpec>();
    schema.trace::<SamplingSpec>();
    schema.trace::<DynamicsSpec>();
    schema.trace::<Horizon>();
    schema.trace::<RecordSpec>();
    schema.trace::<ObservableSpec>();
    schema.trace::<PopulationSpec>();
    schema.trace::<SnapshotTolerance>();
    // The enums of other crates, named by a field of the spec that holds them (so that this list does not
    // depend on which crate defines them).
    schema.trace_field(|d: &DynamicsSpec| match d {
        DynamicsSpec::OnlineSgd { step } => Some(step),
        _ => None,
    });
    schema.trace_field(|o: &ObservableSpec| match o {
        ObservableSpec::Histogram { of, .. } => Some(of),
        _ => None,
    });
    schema.trace_field(|o: &ObservableSpec| match o {
        ObservableSpec::Averages(functions) => functions.first().map(|function| &function.apply),
        _ => None,
    });
    schema.finish(root)
}

/// A serde-reflection trace that collects its errors as tidy problems.
struct Schema {
    tracer: Tracer,
    samples: Samples,
    errors: Vec<String>,
}

impl Schema {
    fn new() -> Schema {
        Schema { tracer: Tracer::new(TracerConfig::default()), samples: Samples::new(), errors: Vec::new() }
    }

    /// Records a serialized value of `T`, for a type whose Deserialize accepts only some values.
    fn sample<T: Serialize>(&mut self, value: &T) {
        if let Err(error) = self.tracer.trace_value(&mut self.samples, value) {
            self.errors.push(format!("serde-reflection cannot trace a sample {}: {error}", type_name::<T>()));
        }
    }

    /// Traces `T` (every variant, if it is an enum); returns its serde name.
    fn trace<T: DeserializeOwned>(&mut self) -> Option<String> {
        match self.tracer.trace_type::<T>(&self.samples) {
            Ok((Format::TypeName(name), _)) => Some(name),
            Ok(_) => None,
            Err(error) => {
                self.errors.push(format!(
                    "serde-reflection cannot trace {}: {error} (a type whose Deserialize accepts only some values \
                     needs a sample in scenario_schema, xtask/src/tidy/fields.rs)",
                    type_name::<T>()
                ));
                None
            }
        }
    }

    /// Traces the type `F` of a field of `C`, picked out by `field`.
    fn trace_field<C, F: DeserializeOwned>(&mut self, _field: fn(&C) -> Option<&F>) {
        self.trace::<F>();
    }

    /// The root's name and the registry; or every problem met.
    fn finish(self, root: Option<String>) -> Result<(String, Registry), Vec<String>> {
        let mut errors = self.errors;
        match self.tracer.registry() {
            Ok(registry) => match root {
                Some(root) if errors.is_empty() => return Ok((root, registry)),
                _ => {}
            },
            Err(Error::MissingVariants(enums)) => errors.extend(enums.into_iter().map(|name| {
                format!(
                    "the scenario schema's enum {name} was not traced through all of its variants: add its type to \
                     scenario_schema (xtask/src/tidy/fields.rs)"
                )
            })),
            Err(error) => errors.push(format!("serde-reflection cannot trace the scenario schema: {error}")),
        }
        Err(errors)
    }
}

/// A field or variant name of the schema, and where it is.
#[derive(Debug)]
struct Name {
    kind: &'static str,
    name: String,
    /// The containing struct (`Scenario`), struct variant (`ModelSpec::OneHidden`) or enum (`ModelSpec`).
    container: String,
    /// Where it is written in a scenario, as a dotted path of fields from the root (like the sweep's
    /// `fields`): `model.width`; for a variant, the path of its enum: `ensemble`. A container used in
    /// several places (InitSpec) gets its shortest path from the root.
    path: String,
}

/// Checks that every field and variant of the schema (`registry`, reached from the container `root`)
/// appears as inline code in `doc`.
fn check(registry: &Registry, root: &str, doc: &str) -> Vec<String> {
    let documented = inline_code_words(doc);
    // (kind, name) → where it is, for one message per missing name.
    let mut missing: BTreeMap<(&str, &str), Vec<&Name>> = BTreeMap::new();
    let names = schema_names(registry, root);
    for name in &names {
        if !documented.contains(name.name.as_str()) {
            missing.entry((name.kind, &name.name)).or_default().push(name);
        }
    }
    missing
        .into_iter()
        .map(|((kind, name), places)| {
            let places: Vec<String> = places
                .iter()
                .map(|place| match kind {
                    "variant" => format!("of {}, e.g. at `{}`", place.container, place.path),
                    _ => format!("in {}, e.g. at `{}`", place.container, place.path),
                })
                .collect();
            format!("scenario {kind} `{name}` ({}) is not in {DOC} as inline code", places.join("; "))
        })
        .collect()
}

/// Every field and variant name reachable from `root`, in breadth-first order (so each container's path
/// is its shortest from the root).
fn schema_names(registry: &Registry, root: &str) -> Vec<Name> {
    let mut paths: BTreeMap<&str, String> = BTreeMap::new();
    let mut queue = VecDeque::from([(root, String::new())]);
    let mut names = Vec::new();
    let field_path =
        |path: &str, field: &str| if path.is_empty() { field.to_owned() } else { format!("{path}.{field}") };
    while let Some((container, path)) = queue.pop_front() {
        // serde-private containers (`$ron::private::RawValue`) are not part of the schema a user writes.
        if paths.contains_key(container) || container.starts_with('$') {
            continue;
        }
        paths.insert(container, path.clone());
        let Some(format) = registry.get(container) else { continue };
        match format {
            ContainerFormat::UnitStruct => {}
            ContainerFormat::NewTypeStruct(inner) => enqueue(inner, &path, &mut queue),
            ContainerFormat::TupleStruct(items) => items.iter().for_each(|f| enqueue(f, &path, &mut queue)),
            ContainerFormat::Struct(fields) => {
                for field in fields {
                    let at = field_path(&path, &field.name);
                    names.push(Name {
                        kind: "field",
                        name: field.name.clone(),
                        container: container.to_owned(),
                        path: at.clone(),
                    });
                    enqueue(&field.value, &at, &mut queue);
                }
            }
            ContainerFormat::Enum(variants) => {
                for variant in variants.values() {
                    names.push(Name {
                        kind: "variant",
                        name: variant.name.clone(),
                        container: container.to_owned(),
                        path: path.clone(),
                    });
                    match &variant.value {
                        VariantFormat::Variable(_) | VariantFormat::Unit => {}
                        VariantFormat::NewType(inner) => enqueue(inner, &path, &mut queue),
                        VariantFormat::Tuple(items) => items.iter().for_each(|f| enqueue(f, &path, &mut queue)),
                        VariantFormat::Struct(fields) => {
                            for field in fields {
                                let at = field_path(&path, &field.name);
                                names.push(Name {
                                    kind: "field",
                                    name: field.name.clone(),
                                    container: format!("{container}::{}", variant.name),
                                    path: at.clone(),
                                });
                                enqueue(&field.value, &at, &mut queue);
                            }
                        }
                    }
                }
            }
        }
    }
    names
}

/// Queues the containers that `format` refers to, at `path`.
fn enqueue<'a>(format: &'a Format, path: &str, queue: &mut VecDeque<(&'a str, String)>) {
    let mut referenced = Vec::new();
    type_names(format, &mut referenced);
    queue.extend(referenced.into_iter().map(|name| (name, path.to_owned())));
}

/// The names of the containers that `format` refers to (through options, sequences, maps and tuples).
fn type_names<'a>(format: &'a Format, out: &mut Vec<&'a str>) {
    match format {
        Format::TypeName(name) => out.push(name),
        Format::Option(inner) | Format::Seq(inner) => type_names(inner, out),
        Format::TupleArray { content, .. } => type_names(content, out),
        Format::Map { key, value } => {
            type_names(key, out);
            type_names(value, out);
        }
        Format::Tuple(items) => items.iter().for_each(|item| type_names(item, out)),
        _ => {}
    }
}

/// The identifiers written in the inline code spans of a Markdown text: `` `width` `` and
/// `` `OneHidden { width, activation }` `` both document `width`. Code blocks do not count.
fn inline_code_words(doc: &str) -> BTreeSet<String> {
    let mut words = BTreeSet::new();
    for event in Parser::new(doc) {
        if let Event::Code(code) = event {
            let identifiers = code.split(|c: char| !(c.is_alphanumeric() || c == '_')).filter(|w| !w.is_empty());
            words.extend(identifiers.map(str::to_owned));
        }
    }
    words
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde::Deserialize;

    #[derive(Debug, Deserialize)]
    #[serde(rename = "Experiment", deny_unknown_fields)]
    #[allow(dead_code)]
    struct Spec {
        name: String,
        #[serde(default)]
        model: Option<Model>,
        sweep: Vec<(String, Vec<f64>)>,
        ensemble: Ensemble,
    }

    #[derive(Debug, Deserialize)]
    #[allow(dead_code)]
    enum Model {
        OneHidden { width: usize, activation: Activation },
        Kernel { width: usize, inner: Box<Model> },
    }

    #[derive(Debug, Deserialize)]
    #[allow(dead_code)]
    enum Activation {
        Tanh,
        Ramp(f64, f64),
    }

    #[derive(Debug, Deserialize)]
    #[allow(dead_code)]
    enum Ensemble {
        Annealed,
        QuenchedFrom(String),
    }

    /// The schema of [`Spec`], tracing the enums in `enums`.
    fn spec_schema(enums: &[fn(&mut Schema)]) -> Result<(String, Registry), Vec<String>> {
        let mut schema = Schema::new();
        let root = schema.trace::<Spec>();
        enums.iter().for_each(|trace| trace(&mut schema));
        schema.finish(root)
    }

    /// Checks the schema of [`Spec`] against the reference page `doc`.
    fn check(doc: &str, expected: &[&str]) {
        let traced: [fn(&mut Schema); 3] =
            [|s| drop(s.trace::<Model>()), |s| drop(s.trace::<Activation>()), |s| drop(s.trace::<Ensemble>())];
        let (root, registry) = spec_schema(&traced).unwrap();
        assert_eq!(root, "Experiment");
        assert_eq!(super::check(&registry, &root, doc), expected, "for the page\n{doc}");
    }

    #[test]
    fn a_documented_schema_passes() {
        check(
            "
# Scenarios
`name`, `model`: `OneHidden { width, activation }` or `Kernel(width: 3, inner: …)`.
| field | |
|---|---|
| `sweep` | |
`ensemble` is `Annealed` or `QuenchedFrom(\"x.npy\")`; activations: `Tanh`, `Ramp`.
",
            &[],
        );
    }

    #[test]
    fn missing_names_are_reported_with_where_they_are() {
        check(
            "
# Scenarios
`name`, `model`: `OneHidden` or `Kernel`, with `inner`.
The activation: Tanh or `Ramp`. `sweep`.
```ron
ensemble: QuenchedFrom(\"x.npy\"),
```
`Annealed`
",
            &[
                "scenario field `activation` (in Model::OneHidden, e.g. at `model.activation`) is not in \
                 docs/guide/scenarios.md as inline code",
                "scenario field `ensemble` (in Experiment, e.g. at `ensemble`) is not in docs/guide/scenarios.md as \
                 inline code",
                "scenario field `width` (in Model::OneHidden, e.g. at `model.width`; in Model::Kernel, e.g. at \
                 `model.width`) is not in docs/guide/scenarios.md as inline code",
                "scenario variant `QuenchedFrom` (of Ensemble, e.g. at `ensemble`) is not in docs/guide/scenarios.md \
                 as inline code",
                "scenario variant `Tanh` (of Activation, e.g. at `model.activation`) is not in docs/guide/scenarios.md \
                 as inline code",
            ],
        );
    }

    #[test]
    fn an_enum_left_out_of_the_trace_is_reported() {
        let traced: [fn(&mut Schema); 2] = [|s| drop(s.trace::<Model>()), |s| drop(s.trace::<Ensemble>())];
        assert_eq!(
            spec_schema(&traced).unwrap_err(),
            ["the scenario schema's enum Activation was not traced through all of its variants: add its type to \
              scenario_schema (xtask/src/tidy/fields.rs)"]
        );
    }

    #[test]
    fn a_missing_page_is_reported() {
        let problems = check_workspace(&Tree::fixture("//- /docs/guide/other.md\n"));
        assert_eq!(problems, ["docs/guide/scenarios.md is missing"]);
    }

    /// The real schema traces completely, through nested enums, other crates' types and plugin params.
    #[test]
    fn the_scenario_schema_traces() {
        let (root, registry) = scenario_schema().unwrap();
        let names = schema_names(&registry, &root);
        let has = |kind: &str, name: &str, container: &str| {
            names.iter().any(|n| n.kind == kind && n.name == name && n.container == container)
        };
        assert!(has("field", "seed", &root), "{names:#?}");
        assert!(has("field", "width", "ModelSpec::OneHidden"));
        assert!(has("variant", "QuenchedFrom", "EnsembleSpec"));
        assert!(has("variant", "PerNeuron", "StepRule"));
        assert!(has("field", "params", "ActivationSpec::Plugin"));
        assert!(!names.iter().any(|n| n.container.starts_with('$')));
        // The schema, documented name by name, passes.
        let doc: String = names.iter().map(|n| format!("`{}`\n", n.name)).collect();
        assert_eq!(super::check(&registry, &root, &doc), Vec::<String>::new());
    }
}
