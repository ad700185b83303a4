//! File sizes: a source file of a library crate longer than [`MAX_LINES`] says why in its first comment,
//! with a line `//! Long file: <reason>` in its leading `//!` block.

use super::Tree;

pub(crate) const MAX_LINES: usize = 600;

const MARKER: &str = "//! Long file:";

pub(crate) fn check(tree: &Tree) -> Vec<String> {
    let mut problems = Vec::new();
    // crates/<crate>/src/**/*.rs
    let sources = tree.files_under("crates", ".rs").into_iter().filter(|f| f.split('/').nth(2) == Some("src"));
    for file in sources {
        let Some(text) = tree.read(&file) else { continue };
        let lines = text.lines().count();
        if lines > MAX_LINES && !states_why(&text) {
            problems.push(format!(
                "{file} has {lines} lines (more than {MAX_LINES}): split it, or say why in its leading `//!` block \
                 with a line `{MARKER} <reason>`"
            ));
        }
    }
    problems
}

/// Whether the leading `//!` block (after any blank lines) has a `//! Long file:` line with a reason.
fn states_why(text: &str) -> bool {
    text.lines()
        .map(str::trim_start)
        .skip_while(|line| line.is_empty())
        .take_while(|line| line.starts_with("//!"))
        .any(|line| line.strip_prefix(MARKER).is_some_and(|reason| !reason.trim().is_empty()))
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A fixture whose `{long}` is replaced by enough lines to make its file longer than the limit.
    fn check(fixture: &str, expected: &[&str]) {
        let fixture = fixture.replace("{long}\n", &"fn f() {}\n".repeat(MAX_LINES));
        assert_eq!(super::check(&Tree::fixture(&fixture)), expected);
    }

    #[test]
    fn long_files_must_say_why() {
        check(
            "
//- /crates/core/src/long.rs
//! Steppers.
{long}
//- /crates/core/src/nested/why.rs
//! Steppers.
//!
//! Long file: one table of kernels, kept together so that they stay in step.
{long}
//- /crates/core/src/empty_reason.rs
//! Long file:
{long}
//- /crates/core/src/later_comment.rs
//! Steppers.

//! Long file: not in the leading block.
{long}
//- /crates/core/src/short.rs
//! Short.
fn f() {}
//- /crates/core/tests/long_test.rs
{long}
",
            &[
                "crates/core/src/empty_reason.rs has 601 lines (more than 600): split it, or say why in its leading \
                 `//!` block with a line `//! Long file: <reason>`",
                "crates/core/src/later_comment.rs has 603 lines (more than 600): split it, or say why in its \
                 leading `//!` block with a line `//! Long file: <reason>`",
                "crates/core/src/long.rs has 601 lines (more than 600): split it, or say why in its leading `//!` \
                 block with a line `//! Long file: <reason>`",
            ],
        );
    }

    #[test]
    fn exactly_the_limit_is_fine() {
        check(&format!("//- /crates/a/src/lib.rs\n{}", "fn f() {}\n".repeat(MAX_LINES)), &[]);
    }
}
