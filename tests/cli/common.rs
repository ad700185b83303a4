//! The harness shared by the test modules (and by `benches/plugin_overhead.rs`, through
//! `tests/common/mod.rs`): paths, in-process runs, the `meanfield` binary, the plugin build, and
//! [`assert_same_bits`], the one comparison of every reproducibility check.
#![allow(dead_code, unreachable_pub, clippy::unwrap_used)]

use std::fmt::{Debug, Display};
use std::path::{Path, PathBuf};
use std::process::Command;

/// The repository root (scenario files are relative to it).
pub fn root() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
}

pub fn scenario_path(name: &str) -> PathBuf {
    root().join("scenarios").join(name)
}

/// Runs every point of `scenario` in-process on `threads` threads (`None`: all cores), writing into `out`.
pub fn run_scenario(
    scenario: &meanfield_scenario::CheckedScenario,
    threads: Option<usize>,
    out: &Path,
) -> meanfield_scenario::RunReport {
    let plans = scenario.plans();
    let options = meanfield_scenario::RunOptions {
        threads,
        output: Some(out.to_owned()),
        progress: &meanfield_core::progress::NoProgress,
        version: "test".into(),
        git_commit: "test".into(),
        force: false,
        resume: false,
        stop: Default::default(),
    };
    meanfield_scenario::run(scenario, &plans, &options).unwrap()
}

/// A scenario of `scenarios/` with its text changed by `replacements` (to scale it down for a test); each
/// replaced text must still be in the file, so the test cannot silently drift from the scenario.
pub fn scaled_scenario(name: &str, replacements: &[(&str, &str)]) -> meanfield_scenario::CheckedScenario {
    let path = scenario_path(&format!("{name}.ron"));
    let text = scaled_text(name, replacements);
    meanfield_scenario::CheckedScenario::from_text(&text, &path.display().to_string(), path.parent().unwrap()).unwrap()
}

/// The text of [`scaled_scenario`].
pub fn scaled_text(name: &str, replacements: &[(&str, &str)]) -> String {
    let mut text = std::fs::read_to_string(scenario_path(&format!("{name}.ron"))).unwrap();
    for (from, to) in replacements {
        assert!(text.contains(from), "{name}.ron no longer contains {from}");
        text = text.replace(from, to);
    }
    text
}

/// Output of one `meanfield` invocation.
#[derive(Debug)]
pub struct Outcome {
    pub code: Option<i32>,
    pub stdout: String,
    pub stderr: String,
}

/// Runs the `meanfield` binary with `args` in `cwd`.
pub fn meanfield(args: &[&str], cwd: &Path) -> Outcome {
    let out = Command::new(env!("CARGO_BIN_EXE_meanfield")).args(args).current_dir(cwd).output().unwrap();
    Outcome {
        code: out.status.code(),
        stdout: String::from_utf8_lossy(&out.stdout).into_owned(),
        stderr: String::from_utf8_lossy(&out.stderr).into_owned(),
    }
}

/// A small valid scenario; `{…}` placeholders are replaced by the callers' variations.
pub const SMALL: &str = r#"Scenario(
    name: "small",
    seed: 3,
    replicas: 2,
    output: "{OUT}",
    model: OneHidden(
        width: 8,
        activation: Tanh,
        c: Trained(Gaussian(mean: 0.0, std: 1.0)),
        w: Trained(Gaussian(mean: 0.0, std: 1.0, per_sqrt_dim: true)),
    ),
    data: TeacherStudent(dim: 3, teacher: SingleIndex(link: Tanh)),
    dynamics: OnlineSgd(step: Fixed(0.05)),
    horizon: Steps(200),
    record: Every(2.0),
    observables: [Risk(samples: 100), Moments],
)
"#;

/// The plugin crates: the examples in `plugins/` and the broken fixtures in `tests/plugins/`.
fn plugin_packages() -> Vec<String> {
    let mut names = Vec::new();
    for dir in ["plugins", "tests/plugins"] {
        for entry in std::fs::read_dir(root().join(dir)).unwrap() {
            let manifest = entry.unwrap().path().join("Cargo.toml");
            let Ok(text) = std::fs::read_to_string(&manifest) else { continue };
            let name = text.lines().find_map(|l| l.strip_prefix("name = ")).unwrap();
            names.push(name.trim_matches('"').to_owned());
        }
    }
    names.sort();
    names
}

/// Builds every plugin crate (once per test binary) the way `cargo xtask build-plugins` does, into
/// `target/plugins`, a target directory of its own: the `cargo test` running this holds the lock on
/// `target/`, so a nested build there would wait forever. It is `<root>/target/plugins` whatever
/// `CARGO_TARGET_DIR` the tests are built with (the explicit `--target-dir` wins over the inherited
/// variable), because the plugin scenarios name `../target/plugins/release/…`. Returns the directory of
/// the libraries.
pub fn plugin_dir() -> PathBuf {
    static BUILT: std::sync::OnceLock<PathBuf> = std::sync::OnceLock::new();
    BUILT
        .get_or_init(|| {
            let mut command = Command::new(env!("CARGO"));
            command.args(["build", "--release", "--quiet", "--target-dir", "target/plugins"]).current_dir(root());
            for package in plugin_packages() {
                command.args(["-p", &package]);
            }
            let status = command.status().unwrap();
            assert!(status.success(), "building the plugins failed: {command:?}");
            root().join("target/plugins/release")
        })
        .clone()
}

/// The file of the plugin library `name` built by [`plugin_dir`].
pub fn plugin_lib(name: &str) -> PathBuf {
    plugin_dir().join(format!("{}{name}{}", std::env::consts::DLL_PREFIX, std::env::consts::DLL_SUFFIX))
}

/// Where two values first differ bit for bit: the place (`[3].records[5].values[2]`, `summary.ron:12`)
/// and both values as printed.
#[derive(Debug)]
pub struct Difference {
    pub at: String,
    pub expected: String,
    pub actual: String,
}

impl Difference {
    fn new(at: impl Into<String>, expected: impl Display, actual: impl Display) -> Self {
        Difference { at: at.into(), expected: expected.to_string(), actual: actual.to_string() }
    }

    /// The same difference, one level further out (`prefix` is prepended to the place).
    fn within(mut self, prefix: &str) -> Self {
        self.at.insert_str(0, prefix);
        self
    }
}

/// Values compared by [`assert_same_bits`]: every number by its bits (`to_bits`, so −0 ≠ +0 and a NaN
/// equals only the same NaN), every other field exactly.
pub trait SameBits {
    /// Where `actual` first differs from `self` (the expected value); `None` when every bit agrees.
    fn difference(&self, actual: &Self) -> Option<Difference>;
}

/// Panics unless `expected` and `actual` agree bit for bit, naming `what` was compared, the first place
/// where they differ and both values there. Used by every reproducibility check (thread counts, lanes,
/// resumed runs, plugins against built-ins, redrawn plots): files compare byte for byte, reporting the
/// first differing line.
#[track_caller]
pub fn assert_same_bits<T: SameBits + ?Sized>(expected: &T, actual: &T, what: impl Display) {
    if let Some(d) = expected.difference(actual) {
        let at = match d.at.strip_prefix('.').unwrap_or(&d.at) {
            "" => String::new(),
            at => format!(" at {at}"),
        };
        panic!("{what}: not the same bits{at}\n  expected: {}\n    actual: {}", d.expected, d.actual);
    }
}

impl SameBits for f64 {
    fn difference(&self, actual: &Self) -> Option<Difference> {
        let show = |v: f64| format!("{v:?} (bits {:#018x})", v.to_bits());
        (self.to_bits() != actual.to_bits()).then(|| Difference::new("", show(*self), show(*actual)))
    }
}

/// Values without floating-point bits, compared with `==` and shown with `Debug`.
macro_rules! same_bits_by_eq {
    ($($ty:ty),*) => {$(
        impl SameBits for $ty {
            fn difference(&self, actual: &Self) -> Option<Difference> {
                (self != actual).then(|| Difference::new("", format!("{self:?}"), format!("{actual:?}")))
            }
        }
    )*};
}
same_bits_by_eq!(u64, usize, String, meanfield_core::summary::Reliability);

impl<T: SameBits> SameBits for [T] {
    fn difference(&self, actual: &Self) -> Option<Difference> {
        let first = self
            .iter()
            .zip(actual)
            .enumerate()
            .find_map(|(i, (e, a))| Some(e.difference(a)?.within(&format!("[{i}]"))));
        first.or_else(|| (self.len() != actual.len()).then(|| Difference::new(".len()", self.len(), actual.len())))
    }
}

impl<T: SameBits> SameBits for Vec<T> {
    fn difference(&self, actual: &Self) -> Option<Difference> {
        self.as_slice().difference(actual.as_slice())
    }
}

impl<T: SameBits, const N: usize> SameBits for [T; N] {
    fn difference(&self, actual: &Self) -> Option<Difference> {
        self.as_slice().difference(actual.as_slice())
    }
}

impl<T: SameBits + Debug> SameBits for Option<T> {
    fn difference(&self, actual: &Self) -> Option<Difference> {
        match (self, actual) {
            (Some(e), Some(a)) => e.difference(a),
            (None, None) => None,
            (e, a) => Some(Difference::new("", format!("{e:?}"), format!("{a:?}"))),
        }
    }
}

/// Structs compared field by field; the pattern is exhaustive, so a new field must be added here.
macro_rules! same_bits_by_field {
    ($($ty:ident { $($field:ident),* })*) => {$(
        impl SameBits for $ty {
            fn difference(&self, actual: &Self) -> Option<Difference> {
                let $ty { $($field),* } = self;
                None$(.or_else(|| Some($field.difference(&actual.$field)?.within(concat!(".", stringify!($field))))))*
            }
        }
    )*};
}
use meanfield_core::summary::{Band, RateFunction, RatePoint};
use meanfield_core::{Divergence, Particles, Record, ReplicaResult};
same_bits_by_field! {
    Record { step, time, values }
    Particles { step, time, params }
    Divergence { step, time, message }
    ReplicaResult { replica, records, divergence, log_weight, particles }
    Band { low, high }
    RatePoint { k, scgf, slope, rate, scgf_band, rate_band, effective_sample_size, reliability }
    RateFunction { particles, replicas, points }
}

/// A file, compared byte for byte: the first differing line of a text file (`path:line`), else the first
/// differing byte.
impl SameBits for Path {
    fn difference(&self, actual: &Self) -> Option<Difference> {
        let read = |path: &Path| std::fs::read(path).unwrap_or_else(|e| panic!("cannot read {}: {e}", path.display()));
        let (e, a) = (read(self), read(actual));
        if e == a {
            return None;
        }
        let name = self.display();
        if let (Ok(e), Ok(a)) = (std::str::from_utf8(&e), std::str::from_utf8(&a)) {
            let (mut e_lines, mut a_lines) = (e.split_inclusive('\n'), a.split_inclusive('\n'));
            for line in 1.. {
                match (e_lines.next(), a_lines.next()) {
                    (Some(x), Some(y)) if x == y => continue,
                    (x, y) => {
                        let show = |l: Option<&str>| l.map_or_else(|| "(end of file)".to_owned(), |l| format!("{l:?}"));
                        return Some(Difference::new(format!("{name}:{line}"), show(x), show(y)));
                    }
                }
            }
        }
        let i = e.iter().zip(&a).position(|(x, y)| x != y).unwrap_or(e.len().min(a.len()));
        let show =
            |b: &[u8]| b.get(i).map_or_else(|| format!("(end of file, {} bytes)", b.len()), |b| format!("{b:#04x}"));
        Some(Difference::new(format!("{name}, byte {i}"), show(&e), show(&a)))
    }
}

impl SameBits for PathBuf {
    fn difference(&self, actual: &Self) -> Option<Difference> {
        self.as_path().difference(actual.as_path())
    }
}

/// Whether a test's prerequisite (`what`) is here. Outside CI a missing one skips the test with a
/// message; under `.ci/run` (which installs them and sets `MEANFIELD_CI`) it fails the test, so that CI
/// never passes by skipping.
pub fn prerequisite(available: bool, what: &str) -> bool {
    if !available {
        assert!(std::env::var_os("MEANFIELD_CI").is_none(), "MEANFIELD_CI is set but {what} is missing");
        eprintln!("skipped: {what} is missing (`.ci/run` provides it)");
    }
    available
}

/// The rows of a CSV file as (header, rows).
pub fn read_csv(path: &Path) -> (Vec<String>, Vec<Vec<String>>) {
    let mut reader = csv::Reader::from_path(path).unwrap();
    let header = reader.headers().unwrap().iter().map(str::to_owned).collect();
    let rows = reader.records().map(|r| r.unwrap().iter().map(str::to_owned).collect()).collect();
    (header, rows)
}

/// Every file under `dir` (relative paths, sorted), but the manifest (it holds timings), and the shards
/// and Slurm job files a merged run was made of.
pub fn files(dir: &Path) -> Vec<PathBuf> {
    fn walk(root: &Path, dir: &Path, out: &mut Vec<PathBuf>) {
        for entry in std::fs::read_dir(dir).unwrap() {
            let path = entry.unwrap().path();
            if path.is_dir() && path.file_name().is_some_and(|n| n == "shards" || n == "slurm") {
                continue;
            } else if path.is_dir() {
                walk(root, &path, out);
            } else if path.file_name().is_some_and(|n| n != "manifest.json") {
                out.push(path.strip_prefix(root).unwrap().to_owned());
            }
        }
    }
    let mut out = Vec::new();
    walk(dir, dir, &mut out);
    out.sort();
    out
}

/// `b` holds the same files as `a`, byte for byte (manifests and shards aside).
pub fn assert_same_outputs(a: &Path, b: &Path) {
    let (left, right) = (files(a), files(b));
    assert_eq!(left, right, "different files");
    for file in &left {
        assert_same_bits(
            &a.join(file),
            &b.join(file),
            format!("{} of {} against {}", file.display(), b.display(), a.display()),
        );
    }
}
