//! The checks of the fields that say where results go: `name` (it names `results/<name>`) and `output`
//! (the root of the run directories). Neither may point somewhere other than it says.

use super::{Invalid, invalid};
use crate::spec::ScenarioSpec;
use std::path::{Component, Path};

pub(super) fn check_outputs(spec: &ScenarioSpec) -> Result<(), Invalid> {
    check_name(&spec.name)?;
    if let Some(output) = &spec.output {
        check_output(output)?;
    }
    Ok(())
}

/// One path component that a shell command cannot mistake for something else.
fn check_name(name: &str) -> Result<(), Invalid> {
    let problem = if name.trim().is_empty() {
        "is empty".to_owned()
    } else if name.contains(['/', '\\']) {
        format!("{name:?} has a path separator")
    } else if name == "." || name == ".." {
        format!("{name:?} names a directory, not a result")
    } else if name.chars().any(char::is_control) {
        format!("{name:?} has a control character")
    } else if name.starts_with('-') {
        format!("{name:?} starts with '-', which commands would read as an option")
    } else {
        return Ok(());
    };
    Err(invalid(
        "name",
        format!(
            "{problem}: the name of a result is one file name (letters, digits, '_', '-', '.'), used as results/<name>"
        ),
    ))
}

/// A directory that stays where it says. An absolute path is allowed: it says exactly where results go,
/// and no run ever replaces an earlier run's results, wherever they are. A relative path is relative to
/// the working directory and may not climb out of it with `..`, so it always lands below it.
fn check_output(output: &str) -> Result<(), Invalid> {
    let problem = if output.trim().is_empty() {
        "is empty: leave `output` out for results/<name>, or name a directory"
    } else if output.chars().any(char::is_control) {
        "has a control character"
    } else if output.starts_with('~') {
        "starts with '~', which is not expanded here: write the full path"
    } else if Path::new(output).components().any(|c| c == Component::ParentDir) {
        "climbs out of the working directory with '..': name a directory below it, or give an absolute path"
    } else {
        return Ok(());
    };
    Err(invalid("output", format!("{output:?} {problem}")))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_are_one_component_and_outputs_stay_below_the_working_directory() {
        for (name, ok) in [
            ("default", true),
            ("width-sweep_2.v1", true),
            ("", false),
            (" ", false),
            ("../../x", false),
            ("a/b", false),
            ("a\\b", false),
            (".", false),
            ("..", false),
            ("nul\0here", false),
            ("-rf", false),
        ] {
            assert_eq!(check_name(name).is_ok(), ok, "name {name:?}: {:?}", check_name(name));
        }
        for (output, ok) in [
            ("results/mine", true),
            ("/scratch/me/results", true),
            (".", true),
            ("", false),
            ("..", false),
            ("results/../../x", false),
            ("~/results", false),
            ("a\0b", false),
        ] {
            assert_eq!(check_output(output).is_ok(), ok, "output {output:?}: {:?}", check_output(output));
        }
    }
}
