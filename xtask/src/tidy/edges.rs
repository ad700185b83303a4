//! Crate edges: the workspace crates each workspace crate may have as normal dependencies (DESIGN.md §2).
//! Dev- and build-dependencies are free.

use serde_json::Value;
use std::collections::{BTreeMap, BTreeSet};
use std::path::Path;

/// Which packages a row of [`CRATE_EDGES`] is about.
#[derive(Debug, Clone, Copy)]
enum Who {
    /// The package of this name.
    Crate(&'static str),
    /// Every package whose manifest is under this directory of the workspace (with a trailing `/`).
    Under(&'static str),
}

/// The workspace crates a package may have as normal dependencies.
#[derive(Debug, Clone, Copy)]
enum MayDependOn {
    Only(&'static [&'static str]),
    Anything,
}

use MayDependOn::{Anything, Only};
use Who::{Crate, Under};

/// The library crates: what the composition root (meanfield-scenario) may depend on.
const LIBRARIES: &[&str] = &[
    "meanfield-kernels",
    "meanfield-core",
    "meanfield-plugin",
    "meanfield-models",
    "meanfield-samplers",
    "meanfield-dynamics",
    "meanfield-limit",
    "meanfield-ldp",
    "meanfield-sinks",
    "meanfield-plot",
];

/// DESIGN.md §2's table. A package is matched by name first, then by the directory of its manifest; a
/// workspace package that matches no row is an error, so a new crate must be added here.
const CRATE_EDGES: &[(Who, MayDependOn)] = &[
    (Crate("meanfield-kernels"), Only(&[])),
    (Crate("meanfield-core"), Only(&[])),
    (Crate("meanfield-plugin"), Only(&[])),
    (Crate("meanfield-models"), Only(&["meanfield-core", "meanfield-kernels"])),
    (Crate("meanfield-samplers"), Only(&["meanfield-core", "meanfield-kernels", "meanfield-models"])),
    (Crate("meanfield-dynamics"), Only(&["meanfield-core", "meanfield-kernels"])),
    (Crate("meanfield-limit"), Only(&["meanfield-core", "meanfield-kernels"])),
    (Crate("meanfield-ldp"), Only(&["meanfield-core", "meanfield-kernels"])),
    (Crate("meanfield-sinks"), Only(&["meanfield-core"])),
    (Crate("meanfield-plot"), Only(&["meanfield-core", "meanfield-sinks"])),
    (Crate("meanfield-scenario"), Only(LIBRARIES)),
    // The root package: the `meanfield` binary.
    (Crate("meanfield"), Only(&["meanfield-scenario"])),
    (Under("plugins/"), Only(&["meanfield-plugin"])),
    (Under("tests/plugins/"), Only(&["meanfield-plugin"])),
    (Crate("xtask"), Anything),
    // The Python extension crate (PyO3).
    (Under("python/"), Anything),
];

/// The row of [`CRATE_EDGES`] for the package `name` whose manifest is at `manifest` (relative to the
/// workspace root, `/`-separated).
fn rule_for(name: &str, manifest: &str) -> Option<(Who, MayDependOn)> {
    let by_name = CRATE_EDGES.iter().find(|(who, _)| matches!(who, Crate(n) if *n == name));
    let by_dir = || CRATE_EDGES.iter().find(|(who, _)| matches!(who, Under(dir) if manifest.starts_with(dir)));
    by_name.or_else(by_dir).copied()
}

/// Checks the normal dependencies between workspace packages in `metadata` (the JSON of
/// `cargo metadata --format-version 1 --no-deps`) against [`CRATE_EDGES`].
pub(crate) fn check(metadata: &Value) -> Vec<String> {
    let Some(packages) = metadata["packages"].as_array() else {
        return vec!["cargo metadata's output has no `packages` list".to_owned()];
    };
    let root = Path::new(metadata["workspace_root"].as_str().unwrap_or_default());
    let members: Option<BTreeSet<&str>> =
        metadata["workspace_members"].as_array().map(|ids| ids.iter().filter_map(Value::as_str).collect());
    let packages: Vec<&Value> = packages
        .iter()
        .filter(|p| members.as_ref().is_none_or(|m| p["id"].as_str().is_some_and(|id| m.contains(id))))
        .collect();
    let workspace: BTreeSet<&str> = packages.iter().filter_map(|p| p["name"].as_str()).collect();

    // package → (its manifest, its normal dependencies on workspace packages)
    let mut edges: BTreeMap<&str, (String, BTreeSet<&str>)> = BTreeMap::new();
    for package in &packages {
        let name = package["name"].as_str().unwrap_or("<unnamed>");
        let manifest = Path::new(package["manifest_path"].as_str().unwrap_or_default());
        let manifest = manifest.strip_prefix(root).unwrap_or(manifest).to_string_lossy().replace('\\', "/");
        let deps = package["dependencies"].as_array().map(Vec::as_slice).unwrap_or_default();
        let normal = deps
            .iter()
            .filter(|dep| dep["kind"].is_null())
            .filter_map(|dep| dep["name"].as_str())
            .filter(|dep| workspace.contains(dep));
        edges.entry(name).or_insert_with(|| (manifest, BTreeSet::new())).1.extend(normal);
    }

    let mut problems = Vec::new();
    for (name, (manifest, deps)) in &edges {
        let Some((who, may)) = rule_for(name, manifest) else {
            problems.push(format!(
                "crate {name} ({manifest}) is not in tidy's table of crate edges; add it with the crates it may \
                 depend on (CRATE_EDGES in xtask/src/tidy/edges.rs)"
            ));
            continue;
        };
        let Only(allowed) = may else { continue };
        for dep in deps.iter().filter(|dep| !allowed.contains(dep)) {
            let subject = match who {
                Crate(_) => name.to_string(),
                Under(dir) => format!("crates under {dir}"),
            };
            let allowed = match allowed {
                [] => format!("{subject} may depend on no workspace crate"),
                _ => format!("{subject} may depend only on {}", allowed.join(", ")),
            };
            problems.push(format!("{name} depends on {dep}; {allowed} (DESIGN.md §2)"));
        }
    }
    problems
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    /// Packages in a line-per-package fixture, `<manifest dir> <name>: <dep> dev:<dep> build:<dep> …`, as
    /// the JSON of cargo metadata (of a workspace at `/ws`).
    fn metadata(fixture: &str) -> Value {
        let mut packages = Vec::new();
        for line in fixture.lines().map(str::trim).filter(|l| !l.is_empty()) {
            let (head, deps) = line.split_once(':').unwrap_or((line, ""));
            let (dir, name) = head.split_once(' ').expect("`<dir> <name>: deps`");
            let dir = if dir == "." { "/ws".to_owned() } else { format!("/ws/{dir}") };
            let dependencies: Vec<Value> = deps
                .split_whitespace()
                .map(|dep| match dep.split_once(':') {
                    Some((kind, dep)) => json!({ "name": dep, "kind": kind }),
                    None => json!({ "name": dep, "kind": null }),
                })
                .collect();
            packages.push(json!({
                "name": name.trim(),
                "id": format!("path+file://{dir}#{}", name.trim()),
                "manifest_path": format!("{dir}/Cargo.toml"),
                "dependencies": dependencies,
            }));
        }
        let members: Vec<Value> = packages.iter().map(|p| p["id"].clone()).collect();
        json!({ "packages": packages, "workspace_members": members, "workspace_root": "/ws" })
    }

    fn check(fixture: &str, expected: &[&str]) {
        let problems = super::check(&metadata(fixture));
        assert_eq!(problems, expected, "for the workspace\n{fixture}");
    }

    #[test]
    fn allowed_edges_pass() {
        check(
            "
            crates/core meanfield-core:
            crates/kernels meanfield-kernels:
            crates/models meanfield-models: meanfield-core meanfield-kernels serde
            crates/scenario meanfield-scenario: meanfield-core meanfield-models
            . meanfield: meanfield-scenario anyhow
            plugins/swish swish: meanfield-plugin
            crates/plugin meanfield-plugin:
            xtask xtask: meanfield-scenario meanfield-core
            python/meanfield meanfield-python: meanfield meanfield-core
            ",
            &[],
        );
    }

    #[test]
    fn forbidden_edges_name_both_crates_and_what_is_allowed() {
        check(
            "
            crates/core meanfield-core:
            crates/models meanfield-models: meanfield-core
            crates/ldp meanfield-ldp: meanfield-core meanfield-models
            crates/kernels meanfield-kernels: meanfield-core
            crates/scenario meanfield-scenario: meanfield-models
            . meanfield: meanfield-scenario meanfield-core
            plugins/swish swish: meanfield-plugin meanfield-models
            crates/plugin meanfield-plugin:
            tests/plugins/faulty fixture_faulty: meanfield-scenario
            ",
            &[
                "fixture_faulty depends on meanfield-scenario; crates under tests/plugins/ may depend only on \
                 meanfield-plugin (DESIGN.md §2)",
                "meanfield depends on meanfield-core; meanfield may depend only on meanfield-scenario (DESIGN.md §2)",
                "meanfield-kernels depends on meanfield-core; meanfield-kernels may depend on no workspace crate \
                 (DESIGN.md §2)",
                "meanfield-ldp depends on meanfield-models; meanfield-ldp may depend only on meanfield-core, \
                 meanfield-kernels (DESIGN.md §2)",
                "swish depends on meanfield-models; crates under plugins/ may depend only on meanfield-plugin \
                 (DESIGN.md §2)",
            ],
        );
    }

    #[test]
    fn dev_and_build_dependencies_are_free() {
        check(
            "
            crates/core meanfield-core:
            crates/models meanfield-models: meanfield-core
            crates/sinks meanfield-sinks: meanfield-core dev:meanfield-models build:meanfield-models
            ",
            &[],
        );
    }

    #[test]
    fn unknown_crates_are_reported() {
        check(
            "
            crates/core meanfield-core:
            crates/extra meanfield-extra: meanfield-core
            ",
            &["crate meanfield-extra (crates/extra/Cargo.toml) is not in tidy's table of crate edges; add it with \
               the crates it may depend on (CRATE_EDGES in xtask/src/tidy/edges.rs)"],
        );
    }

    /// The real workspace's metadata, with a forbidden normal edge meanfield-sinks → meanfield-models added:
    /// exactly that edge's error appears, and it goes away with the edge (today's tree may have other
    /// violations: they are the same with and without the injection).
    #[test]
    fn an_added_forbidden_edge_fails_the_real_workspace() {
        let mut metadata = super::super::metadata(&crate::root()).unwrap();
        let baseline = super::check(&metadata);
        let expected = "meanfield-sinks depends on meanfield-models; meanfield-sinks may depend only on \
                        meanfield-core (DESIGN.md §2)";
        assert!(!baseline.iter().any(|p| p == expected), "the real tree already has the edge: {baseline:#?}");

        let sinks = sinks_dependencies(&mut metadata);
        sinks.push(json!({ "name": "meanfield-models", "kind": null, "path": "/ignored" }));
        let injected = super::check(&metadata);
        let added: Vec<&String> = injected.iter().filter(|p| !baseline.contains(p)).collect();
        assert_eq!(added, [expected]);
        assert!(baseline.iter().all(|p| injected.contains(p)));

        sinks_dependencies(&mut metadata).pop();
        assert_eq!(super::check(&metadata), baseline);

        // The same edge as a dev-dependency is allowed.
        sinks_dependencies(&mut metadata).push(json!({ "name": "meanfield-models", "kind": "dev" }));
        assert_eq!(super::check(&metadata), baseline);
    }

    fn sinks_dependencies(metadata: &mut Value) -> &mut Vec<Value> {
        let packages = metadata["packages"].as_array_mut().unwrap();
        let sinks = packages.iter_mut().find(|p| p["name"] == "meanfield-sinks").expect("meanfield-sinks exists");
        sinks["dependencies"].as_array_mut().unwrap()
    }
}
