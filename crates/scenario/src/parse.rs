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
        let message = e.code.to_string();
        match Location::new(origin, text, e.span.start.line, e.span.start.col) {
            Some(location) => ScenarioError::Syntax { message, location: Box::new(location) },
            None => ScenarioError::SyntaxNoPosition { origin: origin.to_owned(), message },
        }
    })
}
