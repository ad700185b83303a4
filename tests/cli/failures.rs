//! One case for every class of failure meanfield must survive: a size too large to hold, a value that
//! would be silently wrong, a file that is not what it claims, an output that would destroy a result, a
//! plugin that breaks its contract. Each runs through one `check` helper, once as it is and once under
//! `ulimit -v 4 GiB`, which asserts the exit code (or the signal), that stderr names the field or the file
//! in one error, that nothing panicked or aborted, and that no earlier result was touched.
//!
//! The subjects' own modules (`alloc`, `bad_input`, `labels`, `outputs`, `plugins`) hold the many
//! variants of each class and the cases that need timing (concurrent runs, Ctrl-C).

use crate::common::{SMALL, plugin_dir};
use std::os::unix::process::ExitStatusExt;
use std::path::{Path, PathBuf};
use std::process::Command;

/// How a case must end.
#[derive(Debug, Clone, Copy, PartialEq)]
enum Ends {
    Code(i32),
    Signal(i32),
}

struct Case {
    /// The class of failure, for messages.
    class: &'static str,
    /// Files to write into the case's directory before it runs (`{DIR}` in them is that directory).
    files: Vec<(&'static str, Vec<u8>)>,
    /// Commands that must succeed before it runs (making the files it works on).
    before: Vec<Vec<&'static str>>,
    args: Vec<&'static str>,
    ends: Ends,
    /// Fragments of stderr; the first names the field or file.
    stderr: Vec<String>,
}

/// The small scenario with `from` replaced by `to` (each must occur), its results under `out`.
fn small_with(changes: &[(&str, &str)]) -> Vec<u8> {
    let mut text = SMALL.replace("{OUT}", "out");
    for (from, to) in changes {
        assert!(text.contains(from), "SMALL no longer contains {from}");
        text = text.replacen(from, to, 1);
    }
    text.into_bytes()
}

/// A built test plugin as a scenario's `lib:`.
fn lib(name: &str) -> String {
    plugin_dir().join(name).display().to_string()
}

/// The earlier results every case starts with: a finished run in the scenario's output root (with its
/// `latest` link) and one in a directory of its own, with a figure.
const EARLIER: [(&str, &str); 5] = [
    ("out/2026-01-01T00-00-00/summary.ron", "(scenario: \"small\")\n"),
    ("out/2026-01-01T00-00-00/manifest.json", "{}\n"),
    ("kept/summary.ron", "(scenario: \"small\")\n"),
    ("kept/manifest.json", "{}\n"),
    ("kept/risk.svg", "<svg xmlns=\"http://www.w3.org/2000/svg\"/>\n"),
];

fn check(case: &Case) {
    for limited in [false, true] {
        let dir = tempfile::tempdir().unwrap();
        for (path, content) in EARLIER {
            std::fs::create_dir_all(dir.path().join(path).parent().unwrap()).unwrap();
            std::fs::write(dir.path().join(path), content).unwrap();
        }
        std::os::unix::fs::symlink("2026-01-01T00-00-00", dir.path().join("out/latest")).unwrap();
        for (name, content) in &case.files {
            let content = String::from_utf8_lossy(content).replace("{DIR}", &dir.path().display().to_string());
            std::fs::write(dir.path().join(name), content).unwrap();
        }
        for command in &case.before {
            let (ends, stderr) = run(dir.path(), command, false);
            assert_eq!(ends, Ends::Code(0), "{}: setting up with {command:?}:\n{stderr}", case.class);
        }
        let (ends, stderr) = run(dir.path(), &case.args, limited);
        let context = format!("{} (ulimit -v 4 GiB: {limited}): {:?}\n{stderr}", case.class, case.args);
        assert_eq!(ends, case.ends, "how it ended: {context}");
        for never in ["panicked", "memory allocation of", "RUST_BACKTRACE"] {
            assert!(!stderr.contains(never), "{never:?}: {context}");
        }
        assert_eq!(stderr.matches("error:").count(), 1, "one error: {context}");
        for fragment in &case.stderr {
            assert!(stderr.contains(fragment.as_str()), "missing {fragment:?}: {context}");
        }
        for (path, content) in EARLIER {
            let now = std::fs::read_to_string(dir.path().join(path));
            assert_eq!(now.ok().as_deref(), Some(content), "{path} was touched: {context}");
        }
        let latest = std::fs::read_link(dir.path().join("out/latest")).unwrap();
        assert_eq!(latest, PathBuf::from("2026-01-01T00-00-00"), "out/latest moved: {context}");
    }
}

/// Runs the binary in `dir` with `args`, under `ulimit -v 4194304` (KiB) when `limited`, without core
/// dumps (a case that dies of a signal must not leave one).
fn run(dir: &Path, args: &[&str], limited: bool) -> (Ends, String) {
    // A limit that cannot be set must fail the case, not run it unlimited.
    let limits = if limited { "ulimit -c 0 && ulimit -v 4194304 || exit 97;" } else { "ulimit -c 0 || exit 97;" };
    let output = Command::new("sh")
        .arg("-c")
        .arg(format!("{limits} exec \"$0\" \"$@\""))
        .arg(env!("CARGO_BIN_EXE_meanfield"))
        .args(args)
        .current_dir(dir)
        .output()
        .unwrap();
    let ends = match (output.status.code(), output.status.signal()) {
        (Some(code), _) => Ends::Code(code),
        (None, Some(signal)) => Ends::Signal(signal),
        (None, None) => unreachable!("a process ends by a code or a signal"),
    };
    (ends, String::from_utf8_lossy(&output.stderr).into_owned())
}

fn scenario_case(class: &'static str, changes: &[(&str, &str)], ends: Ends, stderr: &[&str]) -> Case {
    Case {
        class,
        files: vec![("s.ron", small_with(changes))],
        before: Vec::new(),
        args: vec!["run", "s.ron", "--quiet"],
        ends,
        stderr: stderr.iter().map(|s| (*s).to_owned()).collect(),
    }
}

const DATA: &str = "TeacherStudent(dim: 3, teacher: SingleIndex(link: Tanh))";
const OBSERVABLES: &str = "observables: [Risk(samples: 100), Moments],";

fn cases() -> Vec<Case> {
    let refused = Ends::Code(1);
    let after_observables =
        |extra: &'static str| -> (&'static str, String) { (OBSERVABLES, format!("{OBSERVABLES}\n    {extra}")) };
    let (obs, ldp_late) = after_observables(r#"ldp: (column: "risk", time: 20.0),"#);
    let (_, seeds_twice) = after_observables("sweep: (seeds: [1, 2, 1]),");
    let (_, replicas_swept) = after_observables(r#"sweep: (fields: [("replicas", [2, 4])]),"#);
    let (_, width_overflow) = after_observables("sweep: (width: [4, 9223372036854775808]),");
    let activation =
        |name: &str, library: &str| format!(r#"activation: Plugin(lib: "{}", name: "{name}")"#, lib(library));
    let data_plugin = |name: &str, library: &str| format!(r#"Plugin(lib: "{}", name: "{name}")"#, lib(library));
    let exits = activation("exits", "fixture_crashes");
    let segfaults = activation("segfaults", "fixture_crashes");
    let global_rng = data_plugin("global_rng", "fixture_crashes");
    let directory_plugin = r#"activation: Plugin(lib: "{DIR}/out", name: "tanh")"#;
    let dataset = |path: &str| format!(r#"Dataset(path: "{path}", target: Name("y"))"#);
    let (zero, empty) = (dataset("/dev/zero"), dataset("empty.csv"));
    vec![
        // Sizes, refused before anything is allocated.
        scenario_case(
            "replicas beyond the memory",
            &[("replicas: 2", "replicas: 1000000000000000")],
            refused,
            &["replicas: 1e15 replicas need", "this process may use"],
        ),
        scenario_case(
            "a width beyond the memory",
            &[("width: 8", "width: 1000000000000")],
            refused,
            &["model.width: a width of 1e12 needs", "this process may use"],
        ),
        scenario_case(
            "a batch scaled with the width beyond the memory",
            &[(
                "OnlineSgd(step: Fixed(0.05))",
                "MinibatchSgd(step: Fixed(0.05), batch: Scaled(b0: 1, exponent: 16.0))",
            )],
            refused,
            &["dynamics.batch: a batch of 2.8e14 needs", "this process may use"],
        ),
        scenario_case(
            "risk samples beyond the memory",
            &[("Risk(samples: 100)", "Risk(samples: 1000000000000)")],
            refused,
            &["observables.samples", "this process may use"],
        ),
        scenario_case(
            "a width that is no machine integer, through a sweep",
            &[(obs, &width_overflow)],
            refused,
            &["sweep.width: a width of 9.2e18 needs more than 16 EiB"],
        ),
        // Data files that are not tables.
        scenario_case("/dev/zero as a data set", &[(DATA, &zero)], refused, &["/dev/zero: is a character device"]),
        Case {
            files: vec![("s.ron", small_with(&[(DATA, &empty)])), ("empty.csv", Vec::new())],
            ..scenario_case("an empty CSV", &[], refused, &["empty.csv: is empty"])
        },
        Case {
            args: vec!["check", "/dev/zero"],
            ..scenario_case("/dev/zero as the scenario file", &[], refused, &["/dev/zero: it is a character device"])
        },
        Case {
            args: vec!["run", "kept"],
            ..scenario_case("a directory as the scenario file", &[], refused, &["kept: it is a directory"])
        },
        Case {
            args: vec!["plot", "/dev/zero"],
            ..scenario_case(
                "/dev/zero as a table to plot",
                &[],
                refused,
                &["/dev/zero: it is a character device, not a table"],
            )
        },
        // Values that would be silently wrong.
        scenario_case(
            "a time past the horizon",
            &[(obs, &ldp_late)],
            refused,
            &["ldp.time: 20 lies outside the run's times [0, 10]"],
        ),
        scenario_case(
            "a test function with a NaN parameter",
            &[("Moments]", r#"Moments, Averages([(of: Norm("w"), apply: Power(NaN))])]"#)],
            refused,
            &["observables.apply: Power needs a finite parameter, got NaN"],
        ),
        scenario_case("a sweep value listed twice", &[(obs, &seeds_twice)], refused, &["sweep.seeds: lists 1 twice"]),
        scenario_case(
            "a swept field the run ignores",
            &[(obs, &replicas_swept)],
            refused,
            &["sweep.fields", "replicas"],
        ),
        scenario_case(
            "a result name that escapes results/",
            &[(r#"name: "small""#, r#"name: "../../x""#)],
            refused,
            &["name: \"../../x\" has a path separator"],
        ),
        scenario_case("an empty output", &[(r#"output: "out""#, r#"output: """#)], refused, &["output: \"\" is empty"]),
        // Outputs are owned: an earlier result is never replaced without --force.
        Case {
            args: vec!["run", "s.ron", "--quiet", "--out", "kept"],
            ..scenario_case(
                "a run into another run's directory",
                &[],
                refused,
                &["kept already holds results", "--force"],
            )
        },
        Case {
            before: vec![vec!["run", "s.ron", "--quiet", "--out", "first"]],
            args: vec!["plot", "first/timeseries.csv", "--out", "kept"],
            ..scenario_case(
                "a plot over an earlier file",
                &[],
                refused,
                &["kept/risk.svg already exists and is not a figure meanfield drew", "--force"],
            )
        },
        // The plugin boundary.
        scenario_case(
            "a plugin path that is a directory",
            &[("activation: Tanh", directory_plugin)],
            refused,
            &["is a directory"],
        ),
        scenario_case(
            "a plugin distribution with a generator of its own",
            &[(DATA, &global_rng)],
            refused,
            &["gave different samples from the same random stream"],
        ),
        scenario_case(
            "a plugin that calls exit(0) mid-run",
            &[("activation: Tanh", &exits)],
            Ends::Code(4),
            &["did not finish: exit() was called while running `eval` of activation 'exits'", "--resume out/20"],
        ),
        scenario_case(
            "a plugin that dies of SIGSEGV",
            &[("activation: Tanh", &segfaults)],
            Ends::Signal(libc::SIGSEGV),
            &["died of SIGSEGV", "activation 'segfaults'", "--resume out/20"],
        ),
    ]
}

#[test]
fn every_class_of_failure_is_one_message_and_touches_no_earlier_result() {
    let cases = cases();
    assert!(cases.len() >= 21);
    for case in &cases {
        check(case);
    }
}
