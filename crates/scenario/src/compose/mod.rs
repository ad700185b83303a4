//! Composing a scenario before serde reads it: `extends: "base.ron"` (merged field by field), `--set
//! path=value` overrides, and setting a swept value at its path. All three work on the syntax tree of
//! [`tree`], which keeps where each part was written, so an error in an inherited field or an override
//! points at the file (or the `--set` argument) and line where it was written.
//!
//! Merge rule: structs merge field by field; an enum with the same variant merges its fields (a struct
//! written without a name merges into any); a different variant replaces the value; lists, maps, tuples
//! and plain values replace.

pub mod tree;

use crate::error::{Location, ScenarioError};
use std::path::{Path, PathBuf};
use tree::{At, Field, Kind, Node};

/// The deepest chain of `extends` followed (a deeper one is almost surely a mistake, and is refused).
pub const MAX_EXTENDS_DEPTH: usize = 16;

/// One `--set path=value` override: a dotted field path and a value in RON syntax.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Override {
    pub path: String,
    pub value: String,
}

impl std::str::FromStr for Override {
    type Err = String;

    fn from_str(text: &str) -> Result<Self, String> {
        match text.split_once('=') {
            Some((path, value)) if !path.trim().is_empty() && !value.trim().is_empty() => {
                Ok(Override { path: path.trim().to_owned(), value: value.trim().to_owned() })
            }
            _ => Err(format!("'{text}': expected PATH=VALUE, e.g. model.width=512 or dynamics.step=PerNeuron(0.5)")),
        }
    }
}

impl std::fmt::Display for Override {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{}={}", self.path, self.value)
    }
}

/// A text a tree was read from: a file, or one `--set` argument.
#[derive(Debug, Clone)]
struct Source {
    name: String,
    text: String,
}

/// A scenario composed from its file, the files it extends and the overrides: the text serde reads, and
/// where each part of it was written.
#[derive(Debug, Clone)]
pub struct Composed {
    /// The merged scenario printed as RON (the text serde reads; not what the user wrote).
    pub text: String,
    map: Vec<tree::Segment>,
    sources: Vec<Source>,
    tree: Node,
}

impl Composed {
    /// Where the printed text's `line:col` (1-based, as ron reports it) was written.
    pub fn location_at(&self, line: usize, col: usize) -> Option<Box<Location>> {
        let line_start: usize = self.text.split_inclusive('\n').take(line.checked_sub(1)?).map(str::len).sum();
        let in_line = self.text[line_start..].char_indices().nth(col.saturating_sub(1)).map_or(0, |(i, _)| i);
        self.location(tree::locate(&self.map, line_start + in_line)?)
    }

    /// Where the field at dotted `path` was written (`None` for a default no file wrote).
    pub fn location_of(&self, path: &str) -> Option<Box<Location>> {
        let mut node = &self.tree;
        let mut at = node.at;
        for segment in path.split('.') {
            let (next, field_at) = step(node, segment)?;
            node = next;
            at = field_at;
        }
        // A value written elsewhere than its field's name (set by `--set`, or a number of a variant the
        // base wrote) is pointed at where it was written.
        let mut value = node.without_some();
        while let Kind::Tuple { name: Some(_), items } = &value.kind {
            if value.at.source != at.source || items.len() != 1 {
                break;
            }
            value = items[0].without_some();
        }
        if value.at.source != at.source {
            at = value.at;
        }
        self.location(at)
    }

    /// The location of `line:col` (1-based) inside `value`, the text of the field at `path` (a plugin's
    /// parameters, which the plugin parsed on its own).
    pub fn location_within(&self, path: &str, value: &str, line: usize, col: usize) -> Option<Box<Location>> {
        let field = self.location_of(path)?;
        let source = self.sources.iter().find(|s| s.name == field.origin)?;
        let field_offset: usize =
            source.text.split_inclusive('\n').take(field.line - 1).map(str::len).sum::<usize>() + field.col - 1;
        Location::within_offset(&source.name, &source.text, field_offset, value, line, col)
    }

    fn location(&self, at: At) -> Option<Box<Location>> {
        let source = self.sources.get(at.source)?;
        Location::at_offset(&source.name, &source.text, at.offset)
    }
}

/// A field of `node` by name, looking through `Some(…)`, a variant name written in the path
/// (`dynamics.step.Scaled.exponent`) and one-value variants (`Trained(Gaussian(…))`): the node reached
/// and where its name was written.
fn step<'n>(node: &'n Node, segment: &str) -> Option<(&'n Node, At)> {
    let node = node.without_some();
    if let Some(field) = node.field(segment) {
        return Some((&field.value, field.at));
    }
    match &node.kind {
        _ if node.name() == Some(segment) => Some((node, node.at)),
        Kind::Tuple { name: Some(_), items } if items.len() == 1 => step(&items[0], segment),
        _ => None,
    }
}

/// Composes the scenario `text` read from `origin` (relative `extends` paths start at `base_dir`) with
/// the files it extends and the overrides; `None` when it extends nothing and nothing is overridden (serde
/// then reads the file as written).
pub fn compose(
    text: &str,
    origin: &str,
    base_dir: &Path,
    overrides: &[Override],
) -> Result<Option<Composed>, ScenarioError> {
    let mut sources = Vec::new();
    let (attributes, mut root) = read_tree(text, origin, &mut sources)?;
    if root.field("extends").is_none() && overrides.is_empty() {
        return Ok(None);
    }
    let mut chain = vec![origin.to_owned()];
    let mut seen = vec![std::fs::canonicalize(origin).unwrap_or_else(|_| PathBuf::from(origin))];
    let mut dir = base_dir.to_owned();
    let mut bases = Vec::new();
    let mut child = &mut root;
    // Each file's `extends`, taken out of its tree, names the next; the chain is merged from the root down.
    while let Some(extends) = take_field(child, "extends") {
        let at = extends.at;
        let file = string_value(&extends.value).ok_or_else(|| {
            invalid_at(&sources, at, "extends", "takes one file name in quotes, e.g. `extends: \"base.ron\"`".into())
        })?;
        let path = dir.join(&file);
        chain.push(path.display().to_string());
        if chain.len() > MAX_EXTENDS_DEPTH + 1 {
            return Err(invalid_at(
                &sources,
                at,
                "extends",
                format!("goes deeper than {MAX_EXTENDS_DEPTH} files: {}", chain.join(" extends ")),
            ));
        }
        let canonical = std::fs::canonicalize(&path).unwrap_or_else(|_| path.clone());
        if seen.contains(&canonical) {
            return Err(invalid_at(&sources, at, "extends", format!("is a cycle: {}", chain.join(" extends "))));
        }
        seen.push(canonical);
        let base_text = crate::checked::read_scenario_file(&path)
            .map_err(|error| invalid_at(&sources, at, "extends", format!("cannot read {}: {error}", path.display())))?;
        let (_, base) = read_tree(&base_text, &path.display().to_string(), &mut sources)?;
        dir = path.parent().map(Path::to_owned).unwrap_or_default();
        bases.push(base);
        child = bases.last_mut().expect("just pushed");
    }
    let mut merged = bases.pop();
    while let Some(next) = bases.pop() {
        merged = Some(merge(merged.expect("set"), next));
    }
    let mut root = match merged {
        Some(base) => merge(base, root),
        None => root,
    };
    for o in overrides {
        let name = format!("--set {o}");
        // The source text is the whole argument, so that an error's caret sits under the value in it.
        let offset = name.len() - o.value.len();
        let source = sources.len();
        sources.push(Source { name: "--set".into(), text: name.clone() });
        let (_, mut value) = parse_value(&o.value, source).map_err(|message| ScenarioError::Syntax {
            message: format!("{name}: {message}"),
            location: Box::new(Location::new("--set", &name, 1, offset + 1).expect("one line")),
        })?;
        shift(&mut value, offset);
        set(&mut root, &o.path, value, SetMode::Override).map_err(|message| ScenarioError::Invalid {
            origin: "--set".into(),
            path: o.path.clone(),
            message: message.replace(&format!("'{}'", o.path), "").trim_start_matches([':', ' ']).to_owned(),
            location: Location::new("--set", &name, 1, 7).map(Box::new),
        })?;
    }
    let (text, map) = tree::print_mapped(&attributes, &root);
    Ok(Some(Composed { text, map, sources, tree: root }))
}

/// Moves every position of `node` by `by` bytes (a value parsed alone, written after `--set path=`).
fn shift(node: &mut Node, by: usize) {
    node.at.offset += by;
    match &mut node.kind {
        Kind::Struct { fields, .. } => {
            for f in fields {
                f.at.offset += by;
                shift(&mut f.value, by);
            }
        }
        Kind::Tuple { items, .. } | Kind::List(items) => items.iter_mut().for_each(|n| shift(n, by)),
        Kind::Map(entries) => entries.iter_mut().for_each(|(k, v)| {
            shift(k, by);
            shift(v, by)
        }),
        Kind::Leaf(_) => {}
    }
}

/// Reads `text` as a RON tree: a syntax error is ron's own message at its place in the file.
fn read_tree(text: &str, origin: &str, sources: &mut Vec<Source>) -> Result<(Vec<String>, Node), ScenarioError> {
    crate::parse::check_syntax(text, origin)?;
    let source = sources.len();
    sources.push(Source { name: origin.to_owned(), text: text.to_owned() });
    tree::parse(text, source).map_err(|(offset, message)| ScenarioError::Syntax {
        message,
        location: Location::at_offset(origin, text, offset)
            .unwrap_or_else(|| Box::new(Location { origin: origin.to_owned(), line: 1, col: 1, text: String::new() })),
    })
}

/// A value in RON syntax alone (an override's or a sweep's), as a tree from `source`.
pub fn parse_value(text: &str, source: usize) -> Result<(Vec<String>, Node), String> {
    crate::parse::ron_options()
        .from_str::<serde::de::IgnoredAny>(text)
        .map_err(|e| format!("'{text}' is not a RON value: {}", e.code))?;
    tree::parse(text, source).map_err(|(_, message)| format!("'{text}' is not a RON value: {message}"))
}

fn invalid_at(sources: &[Source], at: At, path: &str, message: String) -> ScenarioError {
    let source = &sources[at.source];
    ScenarioError::Invalid {
        origin: source.name.clone(),
        path: path.into(),
        message,
        location: Location::at_offset(&source.name, &source.text, at.offset),
    }
}

/// Removes the field `name` of a struct node and returns it.
fn take_field(node: &mut Node, name: &str) -> Option<Field> {
    let Kind::Struct { fields, .. } = &mut node.kind else { return None };
    let index = fields.iter().position(|f| f.name == name)?;
    Some(fields.remove(index))
}

/// The text of a string leaf (`"base.ron"`), escapes resolved.
fn string_value(node: &Node) -> Option<String> {
    match &node.kind {
        Kind::Leaf(text) => ron::from_str::<String>(text).ok(),
        _ => None,
    }
}

/// `child` written over `base`, by the merge rule of this module.
pub fn merge(base: Node, child: Node) -> Node {
    let base = into_without_some(base);
    let child = into_without_some(child);
    match (base.kind, child.kind) {
        (Kind::Struct { name: base_name, fields: base_fields }, Kind::Struct { name, fields })
            if name.is_none() || base_name.is_none() || name == base_name =>
        {
            let mut merged: Vec<Field> = Vec::with_capacity(base_fields.len() + fields.len());
            let mut fields: Vec<Option<Field>> = fields.into_iter().map(Some).collect();
            for base_field in base_fields {
                match fields.iter_mut().find(|f| f.as_ref().is_some_and(|f| f.name == base_field.name)) {
                    Some(slot) => {
                        let field = slot.take().expect("found");
                        merged.push(Field { value: merge(base_field.value, field.value), ..field });
                    }
                    None => merged.push(base_field),
                }
            }
            merged.extend(fields.into_iter().flatten());
            Node { kind: Kind::Struct { name: name.or(base_name), fields: merged }, at: child.at }
        }
        (_, kind) => Node { kind, at: child.at },
    }
}

fn into_without_some(node: Node) -> Node {
    match node.kind {
        Kind::Tuple { name: Some(name), mut items } if name == "Some" && items.len() == 1 => {
            into_without_some(items.pop().expect("one item"))
        }
        kind => Node { kind, ..node },
    }
}

/// How [`set`] treats what it finds.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SetMode {
    /// A `--set` on the tree of the files: a field they do not write is added (serde then refuses a
    /// misspelt one, listing the fields), and serde checks the value's type.
    Override,
    /// A sweep on the tree of the whole scenario (every default written): every field exists, a number
    /// must fit the field it sets (a whole number for an integer field), and plugin parameters are refused.
    Sweep,
}

/// What [`set`] wrote: a number into a number field (whole or not), or a value replaced whole.
#[derive(Debug, Clone, PartialEq)]
pub enum Assigned {
    Whole(u64),
    Real(f64),
    Value(String),
}

/// The largest whole number a sweep can set: its values are floats, exact up to 2^53.
const LARGEST_WHOLE: f64 = 9_007_199_254_740_992.0;

/// Sets the field at dotted `path` of `root` to `value`. A path names fields, looking through variants:
/// `model.width` reaches the `width` of `OneHidden`, and a variant's name may be written
/// (`dynamics.step.Scaled.exponent`). A bare number where the path ends on a variant holding one number
/// (`dynamics.step` of `PerNeuron(α)`, `model.w` of `Trained(Constant(c))`) sets that number; any other
/// value replaces the field's value.
pub fn set(root: &mut Node, path: &str, value: Node, mode: SetMode) -> Result<Assigned, String> {
    let segments: Vec<&str> = path.split('.').collect();
    let identifier = |s: &&str| {
        s.starts_with(|c: char| c.is_ascii_alphabetic() || c == '_')
            && s.chars().all(|c| c.is_ascii_alphanumeric() || c == '_')
    };
    if !segments.iter().all(identifier) {
        return Err(format!("'{path}' is not a field path: give field names joined by dots, e.g. model.width"));
    }
    walk(root, &segments, path, "", value, mode)
}

fn walk(
    node: &mut Node,
    segments: &[&str],
    path: &str,
    walked: &str,
    value: Node,
    mode: SetMode,
) -> Result<Assigned, String> {
    let Some((&segment, rest)) = segments.split_first() else { return assign(node, path, value, mode) };
    let place = if walked.is_empty() { "the scenario".to_owned() } else { format!("'{walked}'") };
    let deeper = if walked.is_empty() { segment.to_owned() } else { format!("{walked}.{segment}") };
    let node = into_some_inner(node);
    if mode == SetMode::Sweep && segment == "params" && node.name() == Some("Plugin") {
        return Err(format!(
            "'{path}': plugin parameters cannot be swept (the plugin reads them, and its data dimension is \
             sized once for the whole run); write one scenario per value instead"
        ));
    }
    if node.name() == Some(segment) && segment.starts_with(|c: char| c.is_ascii_uppercase()) {
        return walk(node, rest, path, walked, value, mode);
    }
    match &mut node.kind {
        Kind::Struct { fields, .. } => {
            if let Some(field) = fields.iter_mut().find(|f| f.name == segment) {
                return walk(&mut field.value, rest, path, &deeper, value, mode);
            }
            if mode == SetMode::Sweep {
                let known: Vec<&str> = fields.iter().map(|f| f.name.as_str()).collect();
                return Err(format!("'{path}': no field '{segment}' in {place}; known: {}", known.join(", ")));
            }
            let at = value.at;
            let placeholder = Node { kind: Kind::Struct { name: None, fields: Vec::new() }, at };
            fields.push(Field { name: segment.to_owned(), at, value: placeholder });
            let field = fields.last_mut().expect("just pushed");
            if rest.is_empty() {
                field.value = value;
                return Ok(assigned(&field.value));
            }
            walk(&mut field.value, rest, path, &deeper, value, mode)
        }
        Kind::Tuple { name: Some(_), items } if items.len() == 1 => {
            walk(&mut items[0], segments, path, walked, value, mode)
        }
        Kind::Leaf(text) if text == "None" => Err(format!(
            "'{path}': the scenario has no '{walked}' section; write the whole section (`{walked}: …`) first"
        )),
        Kind::Leaf(text) => Err(format!("'{path}': '{walked}' is `{text}`, which has no fields; set '{walked}' whole")),
        Kind::List(_) | Kind::Map(_) => Err(format!("'{path}': '{walked}' is a list; lists are set whole")),
        Kind::Tuple { .. } => Err(format!("'{path}': '{walked}' has no field '{segment}'; set '{walked}' whole")),
    }
}

/// The value inside `Some(…)`, which an optional field may be written with.
fn into_some_inner(node: &mut Node) -> &mut Node {
    let is_some = matches!(&node.kind, Kind::Tuple { name: Some(n), items } if n == "Some" && items.len() == 1);
    if !is_some {
        return node;
    }
    let Kind::Tuple { items, .. } = &mut node.kind else { unreachable!("matched above") };
    into_some_inner(&mut items[0])
}

/// The node a number sets: through `Some(…)` and the variants that hold one value.
fn number_target(node: &mut Node) -> &mut Node {
    let node = into_some_inner(node);
    if matches!(&node.kind, Kind::Tuple { name: Some(_), items } if items.len() == 1) {
        let Kind::Tuple { items, .. } = &mut node.kind else { unreachable!("matched above") };
        return number_target(&mut items[0]);
    }
    node
}

fn assigned(value: &Node) -> Assigned {
    Assigned::Value(value.compact())
}

fn assign(node: &mut Node, path: &str, value: Node, mode: SetMode) -> Result<Assigned, String> {
    let Some(number) = value.number().map(str::to_owned) else {
        let done = assigned(&value);
        *node = value;
        return Ok(done);
    };
    // A number sets the number the field holds, through the variants that wrap it.
    let target = number_target(node);
    let Some(written) = target.number() else {
        return Err(format!("'{path}' is not a number (it is {})", target.compact()));
    };
    let digits = number.replace('_', "");
    let v: f64 = digits.parse().map_err(|_| format!("'{path}': {number} is not a number"))?;
    let set = if mode == SetMode::Sweep && tree::is_whole_literal(written) {
        // A whole number written as one is exact at any size (a width, a seed); one written as a float is
        // exact up to 2^53.
        let whole = match digits.parse::<u64>() {
            Ok(w) => Some(w),
            Err(_) if v.fract() == 0.0 && (0.0..=LARGEST_WHOLE).contains(&v) => Some(v as u64),
            Err(_) => None,
        };
        let Some(whole) = whole else {
            return Err(format!(
                "'{path}' takes whole numbers from 0 to {} (or, written as floats, to 2^53 = 9007199254740992) \
                 in a sweep, got {number}",
                u64::MAX
            ));
        };
        target.kind = Kind::Leaf(whole.to_string());
        Assigned::Whole(whole)
    } else {
        target.kind = Kind::Leaf(number);
        Assigned::Real(v)
    };
    target.at = value.at;
    Ok(set)
}

#[cfg(test)]
mod tests;
