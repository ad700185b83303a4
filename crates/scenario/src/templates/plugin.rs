//! `meanfield new-plugin`: a plugin crate from a template, with a scenario that uses the plugin and a
//! snapshot test of its results that passes as generated.

use std::path::{Path, PathBuf};

/// What a plugin provides.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum PluginKind {
    Activation,
    Distribution,
}

impl std::str::FromStr for PluginKind {
    type Err = String;

    fn from_str(text: &str) -> Result<Self, String> {
        match text {
            "activation" => Ok(PluginKind::Activation),
            "distribution" => Ok(PluginKind::Distribution),
            other => Err(format!("--kind must be `activation` or `distribution`, got '{other}'")),
        }
    }
}

/// Why no plugin crate was written.
#[derive(Debug, thiserror::Error)]
pub enum NewPluginError {
    #[error("plugin name '{0}' must be snake_case: a lowercase letter, then lowercase letters, digits or _")]
    BadName(String),
    #[error("{0} exists: a new plugin never replaces a directory (choose another name or --dir)")]
    Exists(PathBuf),
    #[error("cannot write {path}: {error}")]
    Write { path: PathBuf, error: std::io::Error },
}

/// The meanfield source tree this binary was built from (its crates are the generated crate's path
/// dependencies), if it is still there.
fn source_tree() -> Option<PathBuf> {
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("../..");
    root.join("crates/plugin/Cargo.toml").is_file().then(|| root.canonicalize().ok()).flatten()
}

/// `path` written from `dir`: relative when both are inside `root` (the crate then works in any
/// checkout of the repository), absolute otherwise.
fn dependency_path(root: &Path, dir: &Path, path: &str) -> String {
    let inside = dir.canonicalize().ok().and_then(|d| d.strip_prefix(root).ok().map(Path::to_owned));
    let path = path.trim_start_matches('.').trim_start_matches('/');
    match inside {
        Some(relative) => {
            format!("{}{path}", "../".repeat(relative.components().count() + 1)).trim_end_matches('/').to_owned()
        }
        None if path.is_empty() => root.display().to_string(),
        None => root.join(path).display().to_string(),
    }
}

/// `snake_case` → `CamelCase`, for the plugin's type name.
fn type_name(name: &str) -> String {
    name.split('_')
        .map(|part| {
            let mut chars = part.chars();
            chars.next().map(|c| c.to_ascii_uppercase().to_string() + chars.as_str()).unwrap_or_default()
        })
        .collect()
}

/// Writes the plugin crate `name` of `kind` into `dir/name` and returns that directory: `Cargo.toml`,
/// `src/lib.rs`, `scenarios/name.ron` (a scenario using the plugin), `scenarios/name.snap` (its snapshot)
/// and `tests/snapshot.rs` (the test comparing them).
pub fn new_plugin(name: &str, kind: PluginKind, dir: &Path) -> Result<PathBuf, NewPluginError> {
    let valid = name.chars().next().is_some_and(|c| c.is_ascii_lowercase())
        && name.chars().all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '_');
    if !valid {
        return Err(NewPluginError::BadName(name.to_owned()));
    }
    let crate_dir = dir.join(name);
    if crate_dir.symlink_metadata().is_ok() {
        return Err(NewPluginError::Exists(crate_dir));
    }
    let version = env!("CARGO_PKG_VERSION");
    let (sdk, meanfield) = match source_tree() {
        Some(root) => (
            format!("{{ path = {:?} }}", dependency_path(&root, dir, "crates/plugin")),
            format!("{{ path = {:?}, features = [\"testing\"] }}", dependency_path(&root, dir, ".")),
        ),
        None => (format!("\"{version}\""), format!("{{ version = \"{version}\", features = [\"testing\"] }}")),
    };
    let (source, scenario, snap, lib_field) = match kind {
        PluginKind::Activation => (
            include_str!("plugin/activation.rs.tmpl"),
            include_str!("plugin/activation.ron.tmpl"),
            include_str!("plugin/activation.snap.tmpl"),
            "model.activation.lib",
        ),
        PluginKind::Distribution => (
            include_str!("plugin/distribution.rs.tmpl"),
            include_str!("plugin/distribution.ron.tmpl"),
            include_str!("plugin/distribution.snap.tmpl"),
            "data.lib",
        ),
    };
    let fill = |template: &str| {
        template
            .replace("{{name}}", name)
            .replace("{{Type}}", &type_name(name))
            .replace("{{sdk}}", &sdk)
            .replace("{{meanfield}}", &meanfield)
            .replace("{{lib_field}}", lib_field)
    };
    let files = [
        ("Cargo.toml".to_owned(), fill(include_str!("plugin/Cargo.toml.tmpl"))),
        ("src/lib.rs".to_owned(), fill(source)),
        (format!("scenarios/{name}.ron"), fill(scenario)),
        (format!("scenarios/{name}.snap"), fill(snap)),
        ("tests/snapshot.rs".to_owned(), fill(include_str!("plugin/snapshot_test.rs.tmpl"))),
    ];
    for (file, text) in files {
        let path = crate_dir.join(file);
        let write = || -> std::io::Result<()> {
            std::fs::create_dir_all(path.parent().expect("inside the crate"))?;
            std::fs::write(&path, text)
        };
        write().map_err(|error| NewPluginError::Write { path: path.clone(), error })?;
    }
    Ok(crate_dir)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn type_names_are_camel_case() {
        assert_eq!(type_name("leaky_tanh2"), "LeakyTanh2");
    }

    #[test]
    fn dependencies_are_relative_inside_the_tree_and_absolute_outside() {
        let root = source_tree().expect("tests run in the source tree");
        assert_eq!(dependency_path(&root, &root.join("plugins"), "crates/plugin"), "../../crates/plugin");
        let outside = std::env::temp_dir();
        assert_eq!(dependency_path(&root, &outside, "."), root.display().to_string());
        assert_eq!(dependency_path(&root, &root.join("plugins"), "."), "../..");
    }
}
