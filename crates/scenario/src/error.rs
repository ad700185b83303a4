//! Scenario errors: every one names where in the file the problem is and what would be accepted.

use std::fmt;

/// A place in a scenario file (1-based line and column) with the text of that line.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Location {
    pub origin: String,
    pub line: usize,
    pub col: usize,
    pub text: String,
}

impl Location {
    /// The location `line:col` of `source`, if that line exists.
    pub fn new(origin: &str, source: &str, line: usize, col: usize) -> Option<Location> {
        let text = source.lines().nth(line.checked_sub(1)?)?.to_owned();
        Some(Location { origin: origin.to_owned(), line, col: col.max(1), text })
    }

    /// Best-effort location of the field at a dotted `path` (e.g. `model.width`): each segment is looked
    /// up as `name:` after the previous one. `None` when the field is not written in the file (a default).
    pub fn of_field(origin: &str, source: &str, path: &str) -> Option<Box<Location>> {
        Location::at_offset(origin, source, field_offset(source, path)?)
    }

    /// The location of `line:col` (1-based) inside `value`, the text written after the field at `path`
    /// (a plugin's parameters, which the plugin parsed on its own).
    pub fn within_field(
        origin: &str,
        source: &str,
        path: &str,
        value: &str,
        line: usize,
        col: usize,
    ) -> Option<Box<Location>> {
        Location::within_offset(origin, source, field_offset(source, path)?, value, line, col)
    }

    /// The location of `line:col` (1-based) inside `value`, written after byte `field` of `source`.
    pub fn within_offset(
        origin: &str,
        source: &str,
        field: usize,
        value: &str,
        line: usize,
        col: usize,
    ) -> Option<Box<Location>> {
        let start = field + source.get(field..)?.find(value)?;
        let line_start: usize = value.split_inclusive('\n').take(line.checked_sub(1)?).map(str::len).sum();
        let in_line = value[line_start..].char_indices().nth(col.saturating_sub(1)).map_or(0, |(i, _)| i);
        Location::at_offset(origin, source, start + line_start + in_line)
    }

    pub fn at_offset(origin: &str, source: &str, offset: usize) -> Option<Box<Location>> {
        let before = source.get(..offset)?;
        let line = before.matches('\n').count() + 1;
        let col = before.len() - before.rfind('\n').map_or(0, |i| i + 1) + 1;
        Location::new(origin, source, line, col).map(Box::new)
    }
}

/// Byte offset of the field at a dotted `path`, each segment looked up after the previous one.
fn field_offset(source: &str, path: &str) -> Option<usize> {
    let mut offset = 0;
    for segment in path.split('.') {
        offset += find_field(&source[offset..], segment)?;
    }
    Some(offset)
}

/// Offset of the first `segment` written as a field name (`segment` then optional spaces then `:`),
/// not part of a longer identifier and not in a `//` comment.
fn find_field(text: &str, segment: &str) -> Option<usize> {
    let is_ident = |c: char| c.is_alphanumeric() || c == '_';
    let mut start = 0;
    while let Some(found) = text[start..].find(segment) {
        let at = start + found;
        let after = &text[at + segment.len()..];
        let line_start = text[..at].rfind('\n').map_or(0, |i| i + 1);
        let in_comment = text[line_start..at].contains("//");
        let boundary_before = !text[..at].chars().next_back().is_some_and(is_ident);
        if boundary_before && !in_comment && after.trim_start_matches([' ', '\t']).starts_with(':') {
            return Some(at);
        }
        start = at + segment.len();
    }
    None
}

impl fmt::Display for Location {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let number = self.line.to_string();
        let pad = " ".repeat(number.len());
        let caret = " ".repeat(self.text.chars().take(self.col - 1).count());
        write!(f, "{pad} |\n{number} | {}\n{pad} | {caret}^", self.text)
    }
}

/// Everything that can be wrong with a scenario before it runs.
#[derive(Debug, thiserror::Error)]
pub enum ScenarioError {
    #[error("cannot read scenario {path}: {source}")]
    Read { path: String, source: std::io::Error },
    #[error("{}:{}:{}: {message}\n{location}", location.origin, location.line, location.col)]
    Syntax { message: String, location: Box<Location> },
    #[error("{origin}: {message}")]
    SyntaxNoPosition { origin: String, message: String },
    #[error("{}{path}: {message}{}", prefix(origin, location), suffix(location))]
    Invalid { origin: String, path: String, message: String, location: Option<Box<Location>> },
    // The inner errors are fields named `error`, not `source`: the message already contains them, and a
    // `source` would be printed a second time by error-chain printers (anyhow's `{:#}`).
    #[error("{origin}: data: {error}")]
    Data { origin: String, error: meanfield_samplers::DatasetError },
    #[error("{}{path}: {error}{}", prefix(origin, location), suffix(location))]
    Plugin { origin: String, path: String, location: Option<Box<Location>>, error: Box<crate::plugins::PluginError> },
}

fn prefix(origin: &str, location: &Option<Box<Location>>) -> String {
    match location {
        Some(l) => format!("{}:{}:{}: ", l.origin, l.line, l.col),
        None => format!("{origin}: "),
    }
}

fn suffix(location: &Option<Box<Location>>) -> String {
    location.as_ref().map(|l| format!("\n{l}")).unwrap_or_default()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn fields_are_found_by_path() {
        let text = "Scenario(\n  // width: 3\n  model: OneHidden(\n    width: 0,\n  ),\n  sweep: (width: [1]),\n)";
        let at = Location::of_field("s.ron", text, "model.width").unwrap();
        assert_eq!((at.line, at.col), (4, 5));
        let at = Location::of_field("s.ron", text, "sweep.width").unwrap();
        assert_eq!((at.line, at.col), (6, 11));
        assert!(Location::of_field("s.ron", text, "model.bias").is_none());
        assert_eq!(at.to_string(), "  |\n6 |   sweep: (width: [1]),\n  |           ^");
    }
}
