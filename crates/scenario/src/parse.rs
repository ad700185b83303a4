//! RON text → [`ScenarioSpec`], with errors that point into the file.

use crate::error::{Location, ScenarioError};
use crate::spec::ScenarioSpec;
use ron::extensions::Extensions;

/// The RON options of scenario files: `Some(…)` may be left out around optional values.
pub fn ron_options() -> ron::Options {
    ron::Options::default().with_default_extension(Extensions::IMPLICIT_SOME)
}

pub fn parse(text: &str, origin: &str) -> Result<ScenarioSpec, ScenarioError> {
    ron_options().from_str(text).map_err(|e| {
        let message = in_user_terms(e.code).to_string();
        match Location::new(origin, text, e.span.start.line, e.span.start.col) {
            Some(location) => ScenarioError::Syntax { message, location: Box::new(location) },
            None => ScenarioError::SyntaxNoPosition { origin: origin.to_owned(), message },
        }
    })
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
