//! Extreme values in every numeric field of every shipped scenario: checking (and building) answers Ok or
//! one typed error, never a panic or an abort, and what it holds at once stays within the scenario's
//! memory estimate.
//!
//! Each scenario is written out by the RON serialiser (so every field, defaults included, is in the
//! text) and every number in it outside strings and comments is replaced by each extreme in turn; a
//! property test then replaces several at once.

use crate::alloc::{peak_since, reset_peak};
use crate::common::root;
use meanfield_scenario::{CheckedScenario, ScenarioSpec};
use proptest::prelude::*;
use std::ops::Range;
use std::panic::{AssertUnwindSafe, catch_unwind};
use std::path::{Path, PathBuf};
use std::sync::OnceLock;

/// Zero, a negative, NaN, both infinities, the largest magnitudes of f64 and u64, and a denormal-scale
/// positive number.
const EXTREMES: [&str; 8] = ["0", "-1", "NaN", "inf", "-inf", "1e300", "18446744073709551615", "1e-300"];

/// The shipped scenarios but the plugin ones (their libraries are checked by `meanfield plugins check`),
/// each as the serialiser writes it, with the directory its data paths are relative to.
fn scenarios() -> &'static [(String, String, PathBuf)] {
    static SCENARIOS: OnceLock<Vec<(String, String, PathBuf)>> = OnceLock::new();
    SCENARIOS.get_or_init(read_scenarios)
}

fn read_scenarios() -> Vec<(String, String, PathBuf)> {
    let dir = root().join("scenarios");
    let mut files: Vec<PathBuf> = std::fs::read_dir(&dir).unwrap().map(|e| e.unwrap().path()).collect();
    files.sort();
    files
        .into_iter()
        .filter(|f| f.extension().is_some_and(|e| e == "ron") && !f.to_string_lossy().contains("plugin_"))
        .map(|f| {
            let spec: ScenarioSpec = meanfield_scenario::parse::parse_file(&f, &[]).unwrap();
            let written = meanfield_scenario::parse::ron_options().to_string(&spec).unwrap();
            (f.file_name().unwrap().to_string_lossy().into_owned(), written, dir.clone())
        })
        .collect()
}

/// The byte ranges of the numbers in RON `text`, outside strings.
fn numbers(text: &str) -> Vec<Range<usize>> {
    let bytes = text.as_bytes();
    let mut found = Vec::new();
    let (mut i, mut in_string) = (0, false);
    while i < bytes.len() {
        let b = bytes[i];
        if in_string {
            match b {
                b'\\' => i += 1,
                b'"' => in_string = false,
                _ => {}
            }
            i += 1;
            continue;
        }
        let starts_number = b.is_ascii_digit() || (b == b'-' && bytes.get(i + 1).is_some_and(u8::is_ascii_digit));
        let after_identifier = i > 0 && (bytes[i - 1].is_ascii_alphanumeric() || bytes[i - 1] == b'_');
        if b == b'"' {
            in_string = true;
            i += 1;
        } else if starts_number && !after_identifier {
            let start = i;
            i += 1;
            while i < bytes.len() && (bytes[i].is_ascii_alphanumeric() || matches!(bytes[i], b'.' | b'+' | b'-')) {
                // `1e-5` and `2.5e+3` continue the number; a `-` after anything but an exponent does not.
                if matches!(bytes[i], b'+' | b'-') && !matches!(bytes[i - 1], b'e' | b'E') {
                    break;
                }
                i += 1;
            }
            found.push(start..i);
        } else {
            i += 1;
        }
    }
    found
}

/// `text` with the numbers at `replacements` (sorted, disjoint) replaced.
fn substitute(text: &str, replacements: &[(Range<usize>, &str)]) -> String {
    let mut out = String::with_capacity(text.len() + 64);
    let mut at = 0;
    for (range, value) in replacements {
        out.push_str(&text[at..range.start]);
        out.push_str(value);
        at = range.end;
    }
    out.push_str(&text[at..]);
    out
}

/// Checks and builds `text`: `Err` with what happened if that panicked or gave an unclear error (an
/// error is a fine answer).
fn check(text: &str, base_dir: &Path) -> Result<(), String> {
    let start = reset_peak();
    let outcome = catch_unwind(AssertUnwindSafe(|| {
        CheckedScenario::from_text(text, "extremes.ron", base_dir)
            .map(|scenario| (scenario.plans().len(), scenario.memory.estimate.bytes.0))
    }));
    // What checking and building held at once on this thread, which the estimate must bound.
    let peak = peak_since(start);
    match outcome {
        Ok(Ok((0, _))) => Err("a checked scenario without points".into()),
        Ok(Ok((_, estimate))) if peak > estimate => {
            Err(format!("checking and building held {peak} bytes, more than the estimate {estimate}"))
        }
        Ok(Ok(_)) => Ok(()),
        Ok(Err(error)) => {
            let message = error.to_string();
            if message.is_empty() || message.contains("Spec`") {
                Err(format!("unclear error {message:?}"))
            } else {
                Ok(())
            }
        }
        Err(payload) => {
            let message = payload
                .downcast_ref::<String>()
                .cloned()
                .or_else(|| payload.downcast_ref::<&str>().map(|s| (*s).to_owned()))
                .unwrap_or_default();
            Err(format!("panicked: {message}"))
        }
    }
}

#[test]
fn every_numeric_field_at_every_extreme_is_checked_without_panicking() {
    let (mut cases, mut failures) = (0, Vec::new());
    for (name, text, base_dir) in scenarios() {
        let numbers = numbers(text);
        assert!(numbers.len() >= 5, "{name}: the scanner found only {} numbers in\n{text}", numbers.len());
        for range in &numbers {
            for extreme in EXTREMES {
                let changed = substitute(text, &[(range.clone(), extreme)]);
                if let Err(failure) = check(&changed, base_dir) {
                    let context = &text[range.start.saturating_sub(40)..range.end];
                    failures.push(format!("{name}: …{context} → {extreme}: {failure}"));
                }
                cases += 1;
            }
        }
    }
    assert!(cases > 1000, "only {cases} cases");
    assert!(failures.is_empty(), "{} of {cases} cases failed:\n{}", failures.len(), failures.join("\n"));
}

#[test]
fn the_scanner_finds_numbers_and_skips_strings_and_names() {
    let text = r#"(name: "w2 -3", width: 8, step: Fixed(-0.5e-3), k: (-1.5, 2), w2: 7)"#;
    let found: Vec<&str> = numbers(text).into_iter().map(|r| &text[r]).collect();
    assert_eq!(found, ["8", "-0.5e-3", "-1.5", "2", "7"]);
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 64, failure_persistence: None, ..ProptestConfig::default() })]

    /// Several fields at once: sizes that are each fine but huge together, or a range whose ends both
    /// changed.
    #[test]
    fn several_extremes_at_once_are_checked_without_panicking(
        scenario in 0usize..64,
        picks in prop::collection::vec((0usize..1000, 0usize..EXTREMES.len()), 2..5),
    ) {
        let all = scenarios();
        let (name, text, base_dir) = &all[scenario % all.len()];
        let numbers = numbers(text);
        let mut replacements: Vec<(Range<usize>, &str)> =
            picks.iter().map(|&(n, e)| (numbers[n % numbers.len()].clone(), EXTREMES[e])).collect();
        replacements.sort_by_key(|(r, _)| r.start);
        replacements.dedup_by_key(|(r, _)| r.start);
        let described: Vec<String> =
            replacements.iter().map(|(r, e)| format!("{} → {e}", &text[r.clone()])).collect();
        let outcome = check(&substitute(text, &replacements), base_dir);
        prop_assert!(outcome.is_ok(), "{name}: {}: {}", described.join(", "), outcome.unwrap_err());
    }
}
