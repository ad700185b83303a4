//! RON text → [`ScenarioSpec`], with errors that point into the file.

use crate::checked::Locator;
use crate::error::{Location, ScenarioError};
use crate::spec::ScenarioSpec;
use ron::extensions::Extensions;

/// The RON options of scenario files: `Some(…)` may be left out around optional values.
pub fn ron_options() -> ron::Options {
    ron::Options::default().with_default_extension(Extensions::IMPLICIT_SOME)
}

pub fn parse(text: &str, origin: &str) -> Result<ScenarioSpec, ScenarioError> {
    parse_located(text, origin, |line, col| Location::new(origin, text, line, col).map(Box::new))
}

/// The scenario in `path` with the files it extends and `overrides` applied, read but not checked (for
/// tools that look at the schema's values: no data file is read, no plugin loaded).
pub fn parse_file(
    path: &std::path::Path,
    overrides: &[crate::compose::Override],
) -> Result<ScenarioSpec, ScenarioError> {
    let origin = path.display().to_string();
    let text = crate::checked::read_scenario_file(path)
        .map_err(|source| ScenarioError::Read { path: origin.clone(), source })?;
    let base_dir = path.parent().unwrap_or(std::path::Path::new("."));
    let mut spec = match crate::compose::compose(&text, &origin, base_dir, overrides)? {
        None => parse(&text, &origin)?,
        Some(c) => parse_located(&c.text, &origin, |line, col| c.location_at(line, col))?,
    };
    upgrade(&mut spec, &Locator { origin: &origin, text: &text, composed: None })?;
    Ok(spec)
}

/// Parses `text`, placing an error at what `locate` says the text's `line:col` is (a composed scenario's
/// text maps back into the files it was composed from).
pub fn parse_located<T: serde::de::DeserializeOwned>(
    text: &str,
    origin: &str,
    locate: impl Fn(usize, usize) -> Option<Box<Location>>,
) -> Result<T, ScenarioError> {
    ron_options().from_str(text).map_err(|e| {
        let message = message(in_user_terms(e.code));
        match locate(e.span.start.line, e.span.start.col) {
            Some(location) => ScenarioError::Syntax { message, location },
            None => ScenarioError::SyntaxNoPosition { origin: origin.to_owned(), message },
        }
    })
}

/// Refuses `text` that is not RON at all, with ron's message at its place (before it is read as a tree).
pub fn check_syntax(text: &str, origin: &str) -> Result<(), ScenarioError> {
    parse_located::<serde::de::IgnoredAny>(text, origin, |line, col| {
        Location::new(origin, text, line, col).map(Box::new)
    })
    .map(|_| ())
}

/// Moves what `spec` says under a deprecated name to the new one, returning one warning per name used;
/// both names at once are refused.
pub(crate) fn upgrade(spec: &mut ScenarioSpec, locator: &Locator<'_>) -> Result<Vec<String>, ScenarioError> {
    let origin = locator.origin;
    let mut warnings = Vec::new();
    if let Some(particles) = spec.outputs.deprecated_snapshots.take() {
        if spec.outputs.particles.is_some() {
            return Err(ScenarioError::Invalid {
                origin: origin.to_owned(),
                location: locator.field("outputs.snapshots"),
                path: "outputs.snapshots".into(),
                message: "is the old name of `particles`, which is given too: keep only `particles`".into(),
            });
        }
        spec.outputs.particles = Some(particles);
        warnings.push(format!(
            "{origin}: `outputs.snapshots` is deprecated: call it `outputs.particles` (it writes particles/*.npy)"
        ));
    }
    Ok(warnings)
}

/// The error with the names of the schema's Rust types (`in enum \`ActivationSpec\``) left out: the
/// location already points at the value, and the user never wrote those names. Struct variants
/// (`in \`OneHidden\``) and the file's own struct names (`Scenario`, `Sweep`) are what the user wrote, and
/// stay.
fn in_user_terms(code: ron::Error) -> ron::Error {
    let internal = |outer: Option<String>| {
        outer.filter(|name| !name.ends_with("Spec") && name != "TestFunction" && !name.contains('+'))
    };
    match code {
        // The outer name of a variant is always the enum's Rust type.
        ron::Error::NoSuchEnumVariant { expected, found, .. } => {
            ron::Error::NoSuchEnumVariant { expected, found, outer: None }
        }
        ron::Error::NoSuchStructField { expected, found, outer } => {
            ron::Error::NoSuchStructField { expected, found, outer: internal(outer) }
        }
        ron::Error::MissingStructField { field, outer } => {
            ron::Error::MissingStructField { field, outer: internal(outer) }
        }
        ron::Error::DuplicateStructField { field, outer } => {
            ron::Error::DuplicateStructField { field, outer: internal(outer) }
        }
        other => other,
    }
}

/// The error's text, with the integer errors said in the scenario's terms (the field is at the caret).
fn message(code: ron::Error) -> String {
    match code {
        ron::Error::IntegerOutOfBounds => {
            format!("this field takes a whole number from 0 to {}, and this one is outside that range", u64::MAX)
        }
        ron::Error::InvalidIntegerDigit { base: 10, .. } => {
            "this field takes a whole number, written with digits only (1000000, not 1e6)".to_owned()
        }
        ron::Error::InvalidValueForType { expected, found } => {
            let expected = match expected.as_str() {
                "usize" | "u64" | "u32" | "u16" | "u8" => "a whole number from 0".to_owned(),
                "f64" | "f32" => "a number".to_owned(),
                other => other.to_owned(),
            };
            format!("expected {expected} but found {found} instead")
        }
        other => other.to_string(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Integer fields given a negative, a too large or a written-as-float value, and a misspelt variant:
    /// each message is in the scenario's terms, without a Rust type name.
    #[test]
    fn parse_errors_use_the_scenarios_words() {
        let base = r#"Scenario(name: "t", replicas: REPLICAS, model: OneHidden(width: 4, activation: ACT,
            c: Trained(Constant(1.0)), w: Trained(Constant(0.0))), data: IsotropicGaussians(dim: 2, delta: 0.5),
            dynamics: OnlineSgd(step: PerNeuron(1.0)), horizon: Steps(1))"#;
        let cases = [
            ("-1", "Tanh", "a whole number from 0 to 18446744073709551615"),
            ("18446744073709551616", "Tanh", "a whole number from 0 to 18446744073709551615"),
            ("1e6", "Tanh", "written with digits only (1000000, not 1e6)"),
            ("2", "Tahn", "Unexpected enum variant named `Tahn`, expected one of `Identity`"),
        ];
        for (replicas, activation, expected) in cases {
            let text = base.replace("REPLICAS", replicas).replace("ACT", activation);
            let error = parse(&text, "t.ron").unwrap_err().to_string();
            assert!(error.contains(expected), "{replicas}, {activation}: {error}");
            for internal in ["Spec", "usize", "u64", "f64"] {
                assert!(!error.contains(internal), "{internal} in {error}");
            }
        }
    }
}
