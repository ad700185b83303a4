//! The templates of `meanfield new`: the shipped scenarios (`scenarios/*.ron`) and the pieces of
//! `scenarios/common/` they extend, embedded at build time (`build.rs`), so an installed binary can start
//! a scenario anywhere.

pub mod plugin;

use crate::compose::tree::{self, Kind};
use std::path::{Path, PathBuf};

include!(concat!(env!("OUT_DIR"), "/shipped.rs"));

/// A shipped scenario a new one can start from.
#[derive(Debug, Clone, Copy)]
pub struct Template {
    pub name: &'static str,
    pub text: &'static str,
}

/// Every shipped scenario, by name.
pub const TEMPLATES: &[Template] = &{
    let mut all = [Template { name: "", text: "" }; SHIPPED.len()];
    let mut k = 0;
    while k < SHIPPED.len() {
        all[k] = Template { name: SHIPPED[k].0, text: SHIPPED[k].1 };
        k += 1;
    }
    all
};

impl Template {
    pub fn find(name: &str) -> Option<Template> {
        TEMPLATES.iter().copied().find(|t| t.name == name.trim_end_matches(".ron"))
    }

    /// The scenario's `description`, or its first comment line.
    pub fn description(&self) -> String {
        let tree = tree::parse(self.text, 0).ok().map(|(_, t)| t);
        let written = tree.as_ref().and_then(|t| t.field("description")).and_then(|f| match &f.value.kind {
            Kind::Leaf(text) => ron::from_str::<String>(text).ok(),
            _ => None,
        });
        written.unwrap_or_else(|| {
            self.text.lines().find_map(|l| l.strip_prefix("//")).map(|l| l.trim().to_owned()).unwrap_or_default()
        })
    }

    /// The pieces of `scenarios/common/` this template extends, directly or through another piece.
    fn common_pieces(&self) -> Vec<(&'static str, &'static str)> {
        let mut pieces: Vec<(&'static str, &'static str)> = Vec::new();
        let mut pending = vec![self.text];
        while let Some(text) = pending.pop() {
            let Some(extends) = extends_of(text) else { continue };
            let Some(stem) = extends.strip_prefix("common/").and_then(|f| f.strip_suffix(".ron")) else { continue };
            if let Some(&(name, piece)) = COMMON.iter().find(|(name, _)| *name == stem)
                && !pieces.iter().any(|(n, _)| *n == name)
            {
                pieces.push((name, piece));
                pending.push(piece);
            }
        }
        pieces
    }
}

/// The file a scenario text's `extends` names, as written.
fn extends_of(text: &str) -> Option<String> {
    let (_, node) = tree::parse(text, 0).ok()?;
    match &node.field("extends")?.value.kind {
        Kind::Leaf(text) => ron::from_str::<String>(text).ok(),
        _ => None,
    }
}

/// Why `meanfield new` wrote nothing.
#[derive(Debug, thiserror::Error)]
pub enum NewError {
    #[error("'{0}' cannot name a scenario: use letters, digits, `_` and `-` (it names the file and results/<name>)")]
    BadName(String),
    #[error("no template '{name}'; the templates are: {known}")]
    UnknownTemplate { name: String, known: String },
    #[error("{0} exists: a new scenario never replaces a file (choose another name or --dir)")]
    Exists(PathBuf),
    #[error("{0} exists and differs from the shipped piece this template extends: move it away or use another --dir")]
    Differs(PathBuf),
    #[error("cannot write {path}: {error}")]
    Write { path: PathBuf, error: std::io::Error },
}

/// Writes `dir/NAME.ron`, a short scenario that extends the template `from`, with the template and the
/// common pieces it extends copied next to it (a copy already there and identical is kept). Returns the
/// files written, the new scenario first. Nothing is written when any file is in the way.
pub fn write_new(name: &str, from: &str, dir: &Path) -> Result<Vec<PathBuf>, NewError> {
    let valid = |c: char| c.is_ascii_alphanumeric() || c == '_' || c == '-';
    if name.is_empty() || name.starts_with('-') || !name.chars().all(valid) {
        return Err(NewError::BadName(name.to_owned()));
    }
    let template = Template::find(from).ok_or_else(|| NewError::UnknownTemplate {
        name: from.to_owned(),
        known: TEMPLATES.iter().map(|t| t.name).collect::<Vec<_>>().join(", "),
    })?;
    let new = dir.join(format!("{name}.ron"));
    if name == template.name {
        return Err(NewError::BadName(format!("{name}' is the template's own name, and '{name}")));
    }
    if new.symlink_metadata().is_ok() {
        return Err(NewError::Exists(new));
    }
    let mut copies = vec![(dir.join(format!("{}.ron", template.name)), template.text)];
    for (piece, text) in template.common_pieces() {
        copies.push((dir.join("common").join(format!("{piece}.ron")), text));
    }
    // Everything in the way is found before anything is written.
    let mut to_write = Vec::new();
    for (path, text) in copies {
        match std::fs::read_to_string(&path) {
            Ok(existing) if existing == text => {}
            Ok(_) => return Err(NewError::Differs(path)),
            Err(_) if path.symlink_metadata().is_ok() => return Err(NewError::Differs(path)),
            Err(_) => to_write.push((path, text.to_owned())),
        }
    }
    let overridable = overridable_fields(template);
    let text = format!(
        "// {name}: starts from the shipped template {t} ({description}).\n\
         // Everything not written here comes from {t}.ron. Uncomment a field to change it: a struct field\n\
         // merges with the template's (`model: (width: 512)` changes the width only), a list or a\n\
         // different variant replaces it. `meanfield show {name}.ron` prints the whole resolved scenario.\n\
         Scenario(\n    extends: \"{t}.ron\",\n    name: \"{name}\",\n{overridable})\n",
        t = template.name,
        description = template.description(),
    );
    let mut written = vec![new.clone()];
    to_write.insert(0, (new, text));
    for (path, text) in to_write {
        let create = |path: &Path| {
            if let Some(parent) = path.parent() {
                std::fs::create_dir_all(parent)?;
            }
            // `create_new`: a file that appeared since the checks is not replaced.
            use std::io::Write;
            std::fs::File::create_new(path)?.write_all(text.as_bytes())
        };
        create(&path).map_err(|error| NewError::Write { path: path.clone(), error })?;
        if !written.contains(&path) {
            written.push(path);
        }
    }
    Ok(written)
}

/// The template's top-level fields (after merging what it extends), each as a commented-out line with
/// the template's value.
fn overridable_fields(template: Template) -> String {
    let mut node = match tree::parse(template.text, 0) {
        Ok((_, node)) => node,
        Err(_) => return String::new(),
    };
    let mut text = template.text;
    let mut depth = 0;
    while let Some(base) = extends_of(text).and_then(|e| {
        let stem = e.strip_prefix("common/")?.strip_suffix(".ron")?.to_owned();
        COMMON.iter().find(|(n, _)| *n == stem).map(|(_, t)| *t)
    }) {
        depth += 1;
        if depth > crate::compose::MAX_EXTENDS_DEPTH {
            break;
        }
        if let Ok((_, base_node)) = tree::parse(base, 0) {
            node = crate::compose::merge(base_node, node);
        }
        text = base;
    }
    let Kind::Struct { fields, .. } = &node.kind else { return String::new() };
    let mut out = String::new();
    for field in fields.iter().filter(|f| !matches!(f.name.as_str(), "extends" | "name")) {
        out.push_str(&format!("    // {}: {},\n", field.name, field.value.inline()));
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_shipped_scenario_is_a_template_with_a_description() {
        assert!(TEMPLATES.len() >= 20, "{}", TEMPLATES.len());
        for template in TEMPLATES {
            assert!(!template.description().is_empty(), "{}", template.name);
            for (piece, _) in template.common_pieces() {
                assert!(COMMON.iter().any(|(n, _)| *n == piece), "{}: {piece}", template.name);
            }
        }
    }
}
