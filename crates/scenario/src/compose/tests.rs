#![allow(clippy::unwrap_used)] // test code: a failed unwrap is a failed test

use super::*;
use crate::CheckedScenario;
use crate::spec::{ActivationSpec, DynamicsSpec, ModelSpec};
use meanfield_core::StepRule;

const BASE: &str = r#"Scenario(
    name: "base",
    replicas: 2,
    model: OneHidden(
        width: 8,
        activation: Tanh,
        c: Trained(Gaussian(mean: 0.0, std: 1.0)),
        w: Trained(Gaussian(mean: 0.0, std: 1.0, per_sqrt_dim: true)),
    ),
    data: IsotropicGaussians(dim: 2, delta: 0.5),
    dynamics: OnlineSgd(step: PerNeuron(1.0)),
    horizon: Steps(10),
    observables: [Risk(samples: 100)],
)"#;

fn node(text: &str) -> Node {
    tree::parse(text, 0).unwrap().1
}

/// Writes `files` into a new directory and returns it.
fn files(files: &[(&str, &str)]) -> tempfile::TempDir {
    let dir = tempfile::tempdir().unwrap();
    for (name, text) in files {
        let path = dir.path().join(name);
        std::fs::create_dir_all(path.parent().unwrap()).unwrap();
        std::fs::write(path, text).unwrap();
    }
    dir
}

fn load(dir: &Path, file: &str, overrides: &[&str]) -> Result<CheckedScenario, ScenarioError> {
    let overrides: Vec<Override> = overrides.iter().map(|o| o.parse().unwrap()).collect();
    CheckedScenario::from_file_with(&dir.join(file), &overrides)
}

#[test]
fn structs_and_same_variants_merge_field_by_field_and_the_rest_replaces() {
    let check = |base: &str, child: &str, expected: &str| {
        assert_eq!(merge(node(base), node(child)).compact(), expected, "{child} over {base}");
    };
    // A struct merges field by field, fields the child adds come last.
    check("(a: 1, b: (x: 1, y: 2))", "(b: (y: 3), c: 4)", "(a:1,b:(x:1,y:3),c:4)");
    // The same variant merges its fields; a struct written without a name merges into any variant.
    check(
        "M(a: OneHidden(width: 4, activation: Tanh))",
        "M(a: OneHidden(width: 8))",
        "M(a:OneHidden(width:8,activation:Tanh))",
    );
    check(
        "(a: OneHidden(width: 4, activation: Tanh))",
        "(a: (activation: Relu))",
        "(a:OneHidden(width:4,activation:Relu))",
    );
    // A different variant replaces the value, fields and all.
    check("(d: OnlineSgd(step: Fixed(1.0)))", "(d: MinibatchSgd(batch: 4))", "(d:MinibatchSgd(batch:4))");
    // Lists, maps, tuple variants and plain values replace.
    check("(w: [1, 2, 3])", "(w: [4])", "(w:[4])");
    check("(m: {\"a\": 1})", "(m: {\"b\": 2})", "(m:{\"b\":2})");
    check("(s: PerNeuron(1.0))", "(s: PerNeuron(0.5))", "(s:PerNeuron(0.5))");
    check("(l: Some(Grid(cells: 4, t: 1)))", "(l: Grid(cells: 8))", "(l:Grid(cells:8,t:1))");
    check("(l: Grid(cells: 4))", "(l: None)", "(l:None)");
}

#[test]
fn a_scenario_extends_files_through_several_levels() {
    let dir = files(&[
        ("common/base.ron", BASE),
        ("mid.ron", r#"Scenario(extends: "common/base.ron", model: OneHidden(width: 16), replicas: 3)"#),
        ("top.ron", r#"Scenario(extends: "mid.ron", name: "top", model: (activation: Relu))"#),
    ]);
    let scenario = load(dir.path(), "top.ron", &[]).unwrap();
    assert_eq!(scenario.spec.name, "top");
    assert_eq!(scenario.spec.replicas, 3);
    let ModelSpec::OneHidden { width, activation, .. } = &scenario.spec.model else { panic!("one hidden") };
    assert_eq!((*width, activation), (16, &ActivationSpec::Relu));
    // The same scenario written out in one file is the same scenario: same canonical form and hash.
    let flat =
        BASE.replace("\"base\"", "\"top\"").replace("width: 8", "width: 16").replace("replicas: 2", "replicas: 3");
    let flat = CheckedScenario::from_text(&flat.replace("Tanh", "Relu"), "flat.ron", dir.path()).unwrap();
    assert_eq!(scenario.canonical(), flat.canonical());
    assert_eq!(scenario.sha256(), flat.sha256());
}

#[test]
fn cycles_and_chains_deeper_than_sixteen_are_refused_naming_the_chain() {
    let dir =
        files(&[("a.ron", r#"Scenario(extends: "b.ron", name: "a")"#), ("b.ron", r#"Scenario(extends: "a.ron")"#)]);
    let error = load(dir.path(), "a.ron", &[]).unwrap_err().to_string();
    assert!(
        error.contains("extends: is a cycle:") && error.contains("a.ron extends") && error.contains("b.ron extends"),
        "{error}"
    );

    let mut chain: Vec<(String, String)> = (0..=MAX_EXTENDS_DEPTH)
        .map(|k| (format!("s{k}.ron"), format!(r#"Scenario(extends: "s{}.ron")"#, k + 1)))
        .collect();
    chain.push((format!("s{}.ron", MAX_EXTENDS_DEPTH + 1), BASE.to_owned()));
    let refs: Vec<(&str, &str)> = chain.iter().map(|(a, b)| (a.as_str(), b.as_str())).collect();
    let dir = files(&refs);
    let error = load(dir.path(), "s0.ron", &[]).unwrap_err().to_string();
    assert!(error.contains("goes deeper than 16 files"), "{error}");
    // Sixteen levels are fine.
    let error = load(dir.path(), "s1.ron", &[]);
    assert!(error.is_ok(), "{error:?}");
}

/// An error in an inherited field points at the file and line where it was written; one in an override
/// at the `--set` argument; a syntax error in a base at its place in the base.
#[test]
fn errors_point_where_the_value_was_written() {
    let dir = files(&[
        ("base.ron", &BASE.replace("delta: 0.5", "delta: -0.5")),
        ("child.ron", "Scenario(\n    extends: \"base.ron\",\n    name: \"child\",\n)"),
        ("good.ron", "Scenario(\n    extends: \"ok.ron\",\n    name: \"good\",\n    model: OneHidden(width: 0),\n)"),
        ("ok.ron", BASE),
        ("broken.ron", "Scenario(extends: \"bad.ron\", name: \"x\")"),
        ("bad.ron", "Scenario(\n  name: \"bad\"\n  replicas: 2)"),
    ]);
    let check = |file: &str, overrides: &[&str], at: (&str, usize, usize), message: &str| {
        let error = load(dir.path(), file, overrides).unwrap_err();
        let text = error.to_string();
        let (origin, line, col) = at;
        assert!(text.contains(&format!("{origin}:{line}:{col}: ")), "{file} {overrides:?}: {text}");
        assert!(text.contains(message), "{file} {overrides:?}: {text}");
    };
    check("child.ron", &[], ("base.ron", 10, 38), "data.delta");
    check("good.ron", &[], ("good.ron", 4, 22), "model.width: must be at least 1");
    check("good.ron", &["model.width=16", "data.delta=1"], ("--set", 1, 18), "data.delta");
    check("ok.ron", &["dynamics.step=-1"], ("--set", 1, 21), "dynamics.step: must be positive");
    check("broken.ron", &[], ("bad.ron", 3, 3), "Expected comma");
    check("ok.ron", &["model.widht=3"], ("--set", 1, 19), "expected one of `width`, `activation`");
    check("ok.ron", &["model.activation=Tahn"], ("--set", 1, 24), "Unexpected enum variant named `Tahn`");
}

#[test]
fn overrides_set_fields_numbers_of_variants_and_whole_values() {
    let dir = files(&[("s.ron", BASE)]);
    let scenario = load(
        dir.path(),
        "s.ron",
        &["model.width=512", "dynamics.step=0.5", "model.activation=Relu", "outputs.jsonl=true", "seed=9"],
    )
    .unwrap();
    let ModelSpec::OneHidden { width, activation, .. } = &scenario.spec.model else { panic!("one hidden") };
    assert_eq!((*width, activation), (512, &ActivationSpec::Relu));
    assert_eq!(scenario.spec.dynamics.step(), StepRule::PerNeuron(0.5));
    assert!(scenario.spec.outputs.jsonl, "a section the file leaves at its default is written by the override");
    assert_eq!(scenario.spec.seed, 9);
    let scenario = load(dir.path(), "s.ron", &["dynamics=MinibatchSgd(step: Fixed(0.1), batch: 4)"]).unwrap();
    assert!(matches!(scenario.spec.dynamics, DynamicsSpec::MinibatchSgd { .. }));
    // The path may name the variant; the last override of a field wins.
    let scenario =
        load(dir.path(), "s.ron", &["dynamics.step.PerNeuron=0.25", "model.OneHidden.width=4", "model.width=6"])
            .unwrap();
    assert_eq!(scenario.spec.dynamics.step(), StepRule::PerNeuron(0.25));
    assert_eq!(scenario.spec.model.step_width(), 6);
    assert_eq!(scenario.overrides.len(), 3);

    let refused = |o: &str, message: &str| {
        let error = load(dir.path(), "s.ron", &[o]).unwrap_err().to_string();
        assert!(error.contains(message), "{o}: {error}");
    };
    refused("model.activation=1.0", "is not a number (it is Tanh)");
    refused("model.activation.beta=1.0", "'model.activation' is `Tanh`, which has no fields");
    refused("observables.x=1", "'observables' is a list; lists are set whole");
    refused("model..width=1", "is not a field path");
    refused("model.{width}=1", "is not a field path");
    refused("model.width=OneHidden(", "is not a RON value");
    assert!("model.width".parse::<Override>().unwrap_err().contains("expected PATH=VALUE"));
}

#[test]
fn every_shipped_scenario_reads_back_from_its_canonical_form() {
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../scenarios");
    for template in crate::templates::TEMPLATES {
        let path = root.join(format!("{}.ron", template.name));
        // Parsed only: plugins and data files are not needed to compare the schema's values.
        let spec = crate::parse::parse_file(&path, &[]).unwrap();
        let canonical = crate::checked::canonical(&spec);
        let again: crate::ScenarioSpec = crate::parse::parse(&canonical, "canonical").unwrap();
        assert_eq!(again, spec, "{}", template.name);
        assert_eq!(crate::checked::canonical(&again), canonical, "{}", template.name);
    }
}
