//! meanfield as a library: load a scenario, run it, read its results, and snapshot-test them. The
//! `meanfield` command is built on this API and does nothing a library user could not.
//!
//! ```
//! # fn main() -> Result<(), meanfield::Error> {
//! let text = r#"Scenario(
//!     name: "tiny",
//!     model: OneHidden(width: 8, activation: Tanh,
//!                      c: Trained(Gaussian(mean: 0.0, std: 1.0)), w: Trained(Gaussian(mean: 0.0, std: 1.0))),
//!     data: TeacherStudent(dim: 2, teacher: SingleIndex(link: Tanh)),
//!     dynamics: OnlineSgd(step: Fixed(0.05)),
//!     horizon: Steps(40),
//!     record: Every(1.0),
//!     observables: [Risk(samples: 100)],
//!     outputs: (plots: [], checkpoint_seconds: None),
//! )"#;
//! let dir = std::env::temp_dir().join(format!("meanfield-doc-{}", std::process::id()));
//! let _ = std::fs::remove_dir_all(&dir);
//! let scenario = meanfield::Scenario::from_ron(text, ".");
//! let results = meanfield::run(&scenario, &meanfield::RunConfig { out: Some(dir.clone()), ..Default::default() })?;
//! let risk = results.summary.points[0].final_values.iter().find(|c| c.column == "risk").unwrap();
//! assert!(risk.mean.is_finite());
//! // A finished run reads back as the same summary.
//! assert_eq!(meanfield::load(&dir)?.summary, results.summary);
//! std::fs::remove_dir_all(&dir).unwrap();
//! # Ok(())
//! # }
//! ```

pub mod snapshot;
#[cfg(feature = "testing")]
pub mod testing;

pub use meanfield_scenario::checked::budget::Holding;
pub use meanfield_scenario::shard::{MergeReport, Shard, ShardReport};
pub use meanfield_scenario::{
    CheckedScenario, Divergence, NoProgress, Progress, RunError, ScenarioError, Summary, compose::Override,
    spec::SnapshotSpec,
};
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::sync::atomic::AtomicBool;

/// What can go wrong in this API: each message names the file or field.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    #[error(transparent)]
    Scenario(#[from] ScenarioError),
    #[error(transparent)]
    Run(#[from] RunError),
    /// A finished run's directory that cannot be read back.
    #[error("{0}")]
    Results(String),
    #[error(transparent)]
    Snapshot(#[from] snapshot::SnapshotError),
}

/// Where a scenario's text comes from.
#[derive(Debug, Clone)]
enum Source {
    /// A file, with the directory its relative paths start at when not its own.
    File(PathBuf, Option<PathBuf>),
    Text {
        text: String,
        origin: String,
        base_dir: PathBuf,
    },
}

/// A scenario not yet resolved: a file or a text, and the overrides to apply to it. Nothing is read,
/// checked or loaded until [`Scenario::resolve`] (which [`run`] calls).
#[derive(Debug, Clone)]
pub struct Scenario {
    source: Source,
    /// What of the run's results the process resolving it will hold (its memory is checked for that).
    holding: Holding,
    /// `(dotted path, RON value)`, in the order given.
    overrides: Vec<(String, String)>,
}

impl Scenario {
    /// The scenario file at `path` (its relative data and plugin paths start at its directory).
    pub fn load(path: impl AsRef<Path>) -> Scenario {
        Scenario {
            source: Source::File(path.as_ref().to_owned(), None),
            holding: Holding::Whole,
            overrides: Vec::new(),
        }
    }

    /// Relative paths (data files, plugins) start at `dir` instead of the file's directory (for text:
    /// instead of the `base_dir` it was given): how a frozen copy of a scenario runs elsewhere.
    pub fn with_base_dir(mut self, dir: impl AsRef<Path>) -> Scenario {
        match &mut self.source {
            Source::File(_, base) => *base = Some(dir.as_ref().to_owned()),
            Source::Text { base_dir, .. } => *base_dir = dir.as_ref().to_owned(),
        }
        self
    }

    /// A scenario written as RON text; its relative paths start at `base_dir`. Errors name it `<text>`
    /// (see [`Scenario::named`]).
    pub fn from_ron(text: impl Into<String>, base_dir: impl AsRef<Path>) -> Scenario {
        let source =
            Source::Text { text: text.into(), origin: "<text>".to_owned(), base_dir: base_dir.as_ref().into() };
        Scenario { source, holding: Holding::Whole, overrides: Vec::new() }
    }

    /// The name errors and the manifest give a scenario from text (a file keeps its path).
    pub fn named(mut self, name: impl Into<String>) -> Scenario {
        if let Source::Text { origin, .. } = &mut self.source {
            *origin = name.into();
        }
        self
    }

    /// Overrides the field at the dotted `path` with `value` in RON syntax, as the command line's `--set
    /// path=value` does: `.set("model.width", "64")`, `.set("model.activation", "Relu")`. Overrides apply
    /// after the files the scenario extends, in the order given; a wrong path or value is refused by
    /// [`Scenario::resolve`], naming it.
    pub fn set(mut self, path: impl Into<String>, value: impl Into<String>) -> Scenario {
        self.overrides.push((path.into(), value.into()));
        self
    }

    /// [`Scenario::set`] for each of `overrides` (the command line's `--set`), in order.
    pub fn with_overrides(mut self, overrides: &[Override]) -> Scenario {
        self.overrides.extend(overrides.iter().map(|o| (o.path.clone(), o.value.clone())));
        self
    }

    /// Resolve it for a process that holds `holding` of the run's results (a shard holds its replicas, a
    /// merge one point at a time): its memory is checked against what that process needs, not the run.
    pub fn holding(mut self, holding: Holding) -> Scenario {
        self.holding = holding;
        self
    }

    /// Where errors say the scenario comes from: its file, or its name.
    pub fn origin(&self) -> String {
        match &self.source {
            Source::File(path, _) => path.display().to_string(),
            Source::Text { origin, .. } => origin.clone(),
        }
    }

    /// The scenario file, if it is one.
    pub fn path(&self) -> Option<&Path> {
        match &self.source {
            Source::File(path, _) => Some(path),
            Source::Text { .. } => None,
        }
    }

    /// Reads, checks and resolves the scenario (its data read, its plugins loaded). Every way of running
    /// a scenario goes through here.
    pub fn resolve(&self) -> Result<CheckedScenario, ScenarioError> {
        let overrides: Vec<Override> =
            self.overrides.iter().map(|(path, value)| Override { path: path.clone(), value: value.clone() }).collect();
        match &self.source {
            Source::File(path, base_dir) => {
                let own = path.parent().map(Path::to_owned).unwrap_or_default();
                CheckedScenario::from_file_in(path, base_dir.as_ref().unwrap_or(&own), &overrides, self.holding)
            }
            Source::Text { text, origin, base_dir } => {
                CheckedScenario::from_text_as(text, origin, base_dir, &overrides, self.holding)
            }
        }
    }
}

/// How [`run`] runs: where to, on how many threads, what it reports on the way.
pub struct RunConfig<'a> {
    /// The run directory: absent or empty (or see `force`). `None`: a new dated directory under the
    /// scenario's `output` (`results/<name>/<UTC date and time>`, with `latest` pointing at it).
    pub out: Option<PathBuf>,
    /// With `out`: replace the results an earlier run wrote there (only those; other files stay).
    pub force: bool,
    /// Worker threads (`None`: all cores). Results are identical for any value.
    pub threads: Option<usize>,
    pub progress: &'a dyn Progress,
    /// Set it (from a Ctrl-C handler, another thread) to stop the run at its next chunk boundary; with
    /// checkpoints the running replicas are saved first and [`RunError::Interrupted`] says how to resume.
    pub stop: Arc<AtomicBool>,
    /// Continue the interrupted run whose checkpoint is in `out`.
    pub resume: bool,
    /// Called with the run directory once it is claimed, before anything is computed (the command line
    /// names it in its message should the process die).
    pub on_claimed: Option<&'a dyn Fn(&Path)>,
}

impl Default for RunConfig<'_> {
    fn default() -> Self {
        RunConfig {
            out: None,
            force: false,
            threads: None,
            progress: &NoProgress,
            stop: Arc::default(),
            resume: false,
            on_claimed: None,
        }
    }
}

impl std::fmt::Debug for RunConfig<'_> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("RunConfig")
            .field("out", &self.out)
            .field("force", &self.force)
            .field("threads", &self.threads)
            .field("resume", &self.resume)
            .finish_non_exhaustive()
    }
}

/// How long a run took and on how many threads (not known of a run read back with [`load`]).
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Timing {
    /// From the limits to the last analysis.
    pub wall_seconds: f64,
    pub threads: usize,
}

/// A finished run: where it is, its summary (what `summary.ron` and `summary.json` hold) and what went
/// wrong on the way.
#[derive(Debug, Clone)]
pub struct Results {
    pub dir: PathBuf,
    pub summary: Summary,
    /// The files the run wrote (of a run read back: the files in its directory).
    pub files: Vec<PathBuf>,
    /// Replicas that diverged (their records up to the divergence are kept).
    pub divergences: Vec<Divergence>,
    /// Plugin failures inside the run, one per affected point.
    pub faults: Vec<String>,
    /// What went wrong after every result was written, and deprecated spellings in the scenario.
    pub warnings: Vec<String>,
    pub timing: Option<Timing>,
}

/// Resolves `scenario` and runs it (see [`run_checked`]); the scenario's deprecation warnings come first
/// in [`Results::warnings`].
pub fn run(scenario: &Scenario, config: &RunConfig<'_>) -> Result<Results, Error> {
    let checked = scenario.resolve()?;
    let mut results = run_checked(&checked, config)?;
    results.warnings.splice(0..0, checked.deprecations.iter().map(ToString::to_string));
    Ok(results)
}

/// Runs a resolved scenario into its run directory, which is claimed (and locked) first: a run never
/// writes into a directory that holds another run's results unless `config.force` says to replace them.
pub fn run_checked(scenario: &CheckedScenario, config: &RunConfig<'_>) -> Result<Results, Error> {
    let plans = scenario.plans();
    let options = run_options(config);
    let run_dir = meanfield_scenario::run::claim(scenario, &options)?;
    if let Some(on_claimed) = config.on_claimed {
        on_claimed(run_dir.path());
    }
    let report = meanfield_scenario::run::run_claimed(scenario, &plans, &options, run_dir)?;
    Ok(results_of(report))
}

/// Runs shard `shard` of a resolved scenario into `<run dir>/shards/<index>-of-<count>/` (`config.out`
/// is the run directory; without it, `results/<name>/sharded-<hash>`); `config.on_claimed` is called with
/// the shard's directory. A finished shard is left alone;
/// an interrupted one continues from its checkpoint. [`merge`] combines the shards.
pub fn run_shard(scenario: &CheckedScenario, shard: Shard, config: &RunConfig<'_>) -> Result<ShardReport, Error> {
    let options = run_options(config);
    if let Some(on_claimed) = config.on_claimed {
        on_claimed(&meanfield_scenario::shard::shard_dir(scenario, config.out.as_deref(), shard));
    }
    Ok(meanfield_scenario::shard::run_shard(scenario, &scenario.plans(), shard, &options)?)
}

/// Merges finished shards (shard directories, a `shards` directory, or the run directory holding it)
/// into `config.out`, or the run directory holding them: the files are byte-identical to those of the
/// unsharded run. `sbatch_array`: the Slurm array script that ran them, named in the message that
/// reruns missing shards.
pub fn merge(
    dirs: &[PathBuf],
    config: &RunConfig<'_>,
    sbatch_array: Option<&Path>,
) -> Result<(Results, MergeReport), Error> {
    let report = meanfield_scenario::shard::merge(dirs, &run_options(config), sbatch_array)?;
    Ok((results_of(report.run.clone()), report))
}

fn results_of(report: meanfield_scenario::RunReport) -> Results {
    Results {
        dir: report.output_dir,
        summary: report.summary,
        files: report.files,
        divergences: report.divergences,
        faults: report.faults,
        warnings: report.warnings,
        timing: Some(Timing { wall_seconds: report.wall_seconds, threads: report.threads }),
    }
}

fn run_options<'a>(config: &RunConfig<'a>) -> meanfield_scenario::RunOptions<'a> {
    meanfield_scenario::RunOptions {
        threads: config.threads,
        output: config.out.clone(),
        force: config.force,
        progress: config.progress,
        version: env!("CARGO_PKG_VERSION").to_owned(),
        git_commit: env!("MEANFIELD_GIT_COMMIT").to_owned(),
        resume: config.resume,
        stop: config.stop.clone(),
    }
}

/// Reads back the finished run in `dir` (its `summary.ron`).
pub fn load(dir: impl AsRef<Path>) -> Result<Results, Error> {
    let dir = dir.as_ref();
    let summary = meanfield_scenario::read_summary(&dir.join("summary.ron")).map_err(Error::Results)?;
    let mut files: Vec<PathBuf> = std::fs::read_dir(dir)
        .map_err(|e| Error::Results(format!("{}: {e}", dir.display())))?
        .filter_map(|entry| entry.ok().map(|e| e.path()))
        .filter(|path| path.is_file())
        .collect();
    files.sort();
    let divergences = summary.points.iter().flat_map(|p| p.diverged.iter().cloned()).collect();
    Ok(Results {
        dir: dir.to_owned(),
        summary,
        files,
        divergences,
        faults: Vec::new(),
        warnings: Vec::new(),
        timing: None,
    })
}
