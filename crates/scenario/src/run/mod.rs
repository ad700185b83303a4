//! Running a scenario: plans → executor on a thread pool → sinks → manifest.

use crate::spec::LdpMethod;
use crate::{CheckedScenario, ScenarioError};
mod outputs;

use meanfield_core::summary::Summary;
use meanfield_core::{Checkpoints, Divergence, NoCheckpoints, Progress, SinkError};
use meanfield_dynamics::{Mismatch, PointPlan, Unfinished, run_points_with};
pub use meanfield_sinks::RunDir;
use meanfield_sinks::{AtomicFile, CheckpointError, CheckpointHeader, CheckpointStore, RunDirError};
pub(crate) use outputs::{RunFacts, write_manifest, write_outputs};
use sha2::{Digest, Sha256};
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::sync::atomic::AtomicBool;
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

#[derive(Debug, thiserror::Error)]
pub enum RunError {
    #[error(transparent)]
    Scenario(#[from] ScenarioError),
    #[error("output directory {dir} is not usable: {source}")]
    Output { dir: PathBuf, source: std::io::Error },
    #[error(transparent)]
    Sink(#[from] SinkError),
    #[error("cannot start {threads} worker threads: {message}")]
    Threads { threads: usize, message: String },
    #[error("study: {0}")]
    Study(#[from] meanfield_ldp::StudyError),
    #[error(transparent)]
    Ldp(#[from] meanfield_ldp::ensemble::LdpError),
    #[error("ldp: the cloning population at k = {k} stopped: {message}")]
    Cloning { k: f64, message: String },
    #[error(transparent)]
    Checkpoint(#[from] CheckpointError),
    #[error(transparent)]
    RunDir(#[from] RunDirError),
    #[error(transparent)]
    Mismatch(#[from] Mismatch),
    #[error(transparent)]
    Shard(Box<crate::shard::ShardError>),
    #[error(
        "interrupted: {finished} of {total} replicas finished; the checkpoint is in {}: continue with `{resume}`",
        dir.join("checkpoint").display()
    )]
    Interrupted { dir: PathBuf, finished: usize, total: usize, resume: String },
    #[error(
        "{source}; the run stopped, and what finished is kept in {}: fix the cause (a full disk?) and continue with `{resume}`",
        dir.join("checkpoint").display()
    )]
    CheckpointWrite { dir: PathBuf, source: SinkError, resume: String },
    #[error(
        "{source}; every replica's results are kept in {}: fix the cause (a full disk?) and `{resume}` writes them without recomputing",
        dir.join("checkpoint").display()
    )]
    WriteKept { dir: PathBuf, source: Box<RunError>, resume: String },
    #[error(transparent)]
    Plot(#[from] meanfield_plot::PlotError),
    #[error("{0}")]
    Diverged(String),
}

impl From<crate::shard::ShardError> for RunError {
    fn from(error: crate::shard::ShardError) -> Self {
        RunError::Shard(Box::new(error))
    }
}

pub struct RunOptions<'a> {
    /// Worker threads; `None` uses all cores. Results do not depend on it.
    pub threads: Option<usize>,
    /// The run directory itself (absent or empty, see `force`), instead of a new one under the scenario's
    /// `output` root; with `resume`, the directory of the run to continue.
    pub output: Option<PathBuf>,
    /// Replace the results an earlier run wrote into `output` (only those: other files stay).
    pub force: bool,
    pub progress: &'a dyn Progress,
    /// Recorded in the manifest.
    pub version: String,
    pub git_commit: String,
    /// Continue the interrupted run whose checkpoint is in the output directory.
    pub resume: bool,
    /// Set (by a Ctrl-C handler) to stop the run; running replicas are checkpointed first.
    pub stop: Arc<AtomicBool>,
}

impl std::fmt::Debug for RunOptions<'_> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("RunOptions")
            .field("threads", &self.threads)
            .field("output", &self.output)
            .field("force", &self.force)
            .field("resume", &self.resume)
            .finish()
    }
}

#[derive(Debug, Clone)]
pub struct RunReport {
    /// The run directory the results are in.
    pub output_dir: PathBuf,
    pub files: Vec<PathBuf>,
    pub summary: Summary,
    pub divergences: Vec<Divergence>,
    /// Failures of components (plugin panics or errors inside the run), one per affected point. The
    /// replicas they hit are also in `divergences`.
    pub faults: Vec<String>,
    pub threads: usize,
    /// From the limits to the last analysis (not the writing of the manifest).
    pub wall_seconds: f64,
    /// What went wrong after every result was written (the `latest` link could not be made).
    pub warnings: Vec<String>,
}

/// SGD steps of one point (for its progress bar): every replica, and with `ldp` cloning every clone of
/// every population at every k.
/// Saturating: a count past u64::MAX steps could never finish anyway, and a display must not overflow.
pub fn point_steps(scenario: &CheckedScenario, plan: &PointPlan) -> u64 {
    let clones_per_point = match scenario.spec.ldp.as_ref().map(|l| (&l.method, l.points)) {
        Some((LdpMethod::Cloning { clones, populations }, points)) => {
            (*clones as u64).saturating_mul(*populations as u64).saturating_mul(points as u64)
        }
        _ => 0,
    };
    plan.info.steps.saturating_mul((plan.info.replicas as u64).saturating_add(clones_per_point))
}

/// Total SGD steps of a run (for progress bars and the manifest), saturating as [`point_steps`].
pub fn total_steps(scenario: &CheckedScenario, plans: &[PointPlan]) -> u64 {
    plans.iter().fold(0, |total, p| total.saturating_add(point_steps(scenario, p)))
}

/// Runs the plans of `scenario` and writes its outputs (`summary.ron`, `manifest.json` and the sinks of
/// `outputs`: `timeseries.csv`, `timeseries.jsonl`, particles, plots; `study.csv`, `ldp.csv`, `limit.csv`
/// where the scenario has them) into its run directory: a new one under the scenario's `output` root
/// (whose `latest` link then points at it), or `options.output`, which must hold no other run's results
/// (`options.force` replaces them). The directory is locked for the whole run. Diverged replicas do not
/// fail the run: they are reported in the summary and in [`RunReport::divergences`], and everything they
/// recorded before diverging is kept. With checkpoints (the default), finished replicas and the state of
/// running ones are kept in `<run directory>/checkpoint` until every output is written; `options.resume`
/// continues from there.
pub fn run(scenario: &CheckedScenario, plans: &[PointPlan], options: &RunOptions<'_>) -> Result<RunReport, RunError> {
    run_claimed(scenario, plans, options, claim(scenario, options)?)
}

/// The locked run directory that [`run`] with `options` writes into, claimed before anything is computed
/// (so a caller can name it, in a resume hint, before the run starts).
pub fn claim(scenario: &CheckedScenario, options: &RunOptions<'_>) -> Result<RunDir, RunError> {
    Ok(match (&options.output, options.resume) {
        (Some(dir), true) if !dir.is_dir() => return Err(CheckpointError::Missing { dir: dir.clone() }.into()),
        (Some(dir), true) => RunDir::resume(dir)?,
        (Some(dir), false) => RunDir::claim(dir, options.force, &scenario.sha256())?,
        (None, _) => RunDir::new_under(&scenario.output_dir())?,
    })
}

/// [`run`] into `run_dir`, from [`claim`] with the same `options`.
pub fn run_claimed(
    scenario: &CheckedScenario,
    plans: &[PointPlan],
    options: &RunOptions<'_>,
    run_dir: RunDir,
) -> Result<RunReport, RunError> {
    match run_in(scenario, plans, options, run_dir.path()) {
        // The results are whole either way: a link that cannot be made is not a failed run.
        Ok(mut report) => {
            if let Err(e) = run_dir.finish() {
                report.warnings.push(e.to_string());
            }
            Ok(report)
        }
        // These name the directory and how to continue there: it stays, whatever it holds.
        Err(e @ (RunError::Interrupted { .. } | RunError::CheckpointWrite { .. } | RunError::WriteKept { .. })) => {
            Err(e)
        }
        Err(e) => {
            run_dir.discard_if_unused();
            Err(e)
        }
    }
}

/// The top-level fields of the scenario with the SHA-256 of each one's canonical form, so that a refused
/// resume can name what differs.
fn field_hashes(scenario: &CheckedScenario) -> Vec<(String, String)> {
    let parsed = ron::to_string(&scenario.spec).ok().and_then(|text| ron::from_str::<ron::Value>(&text).ok());
    let Some(ron::Value::Map(fields)) = parsed else {
        return Vec::new();
    };
    fields
        .iter()
        .filter_map(|(key, value)| {
            let ron::Value::String(name) = key else { return None };
            let text = ron::to_string(value).ok()?;
            Some((name.clone(), Sha256::digest(text.as_bytes()).iter().map(|b| format!("{b:02x}")).collect()))
        })
        .collect()
}

/// The header of a checkpoint of `scenario`: a shard's and the whole run's are the same.
pub(crate) fn checkpoint_header(scenario: &CheckedScenario, plans: &[PointPlan], version: &str) -> CheckpointHeader {
    CheckpointHeader::new(
        scenario.sha256(),
        version.to_owned(),
        plans.iter().map(|p| (p.info.label.clone(), p.info.replicas, p.info.steps)).collect(),
    )
    .with_fields(field_hashes(scenario))
}

/// The worker threads of a run (`options.threads`, or all cores).
pub(crate) fn thread_pool(options: &RunOptions<'_>) -> Result<rayon::ThreadPool, RunError> {
    let mut builder = rayon::ThreadPoolBuilder::new();
    if let Some(threads) = options.threads {
        builder = builder.num_threads(threads);
    }
    builder.build().map_err(|e| RunError::Threads { threads: options.threads.unwrap_or(0), message: e.to_string() })
}

/// [`run`] in the locked run directory `dir`.
fn run_in(
    scenario: &CheckedScenario,
    plans: &[PointPlan],
    options: &RunOptions<'_>,
    dir: &Path,
) -> Result<RunReport, RunError> {
    let dir = dir.to_owned();
    // Fail before computing anything if results could not be written.
    AtomicFile::create(&dir.join("summary.ron")).map_err(|e| match e {
        SinkError::Io { source, .. } => RunError::Output { dir: dir.clone(), source },
        other => RunError::Sink(other),
    })?;

    let pool = thread_pool(options)?;
    let header = checkpoint_header(scenario, plans, &options.version);
    let interval = scenario.spec.outputs.checkpoint_seconds.map(Duration::from_secs_f64);
    let store = if options.resume {
        // On the run's threads: reading a checkpoint back is parallel.
        Some(pool.install(|| CheckpointStore::resume(&dir, &header, interval, options.stop.clone()))?)
    } else if interval.is_some() {
        Some(CheckpointStore::create(&dir, &header, interval, options.stop.clone())?)
    } else {
        None
    };
    let checkpoints: &dyn Checkpoints = store.as_ref().map_or(&NoCheckpoints, |s| s);
    let started = SystemTime::now().duration_since(UNIX_EPOCH).map_or(0, |d| d.as_secs());
    let clock = Instant::now();
    let (plans, limits) = &pool.install(|| scenario.with_limits(plans.to_vec()))?;
    let points = match pool.install(|| run_points_with(plans, options.progress, checkpoints)) {
        Ok(points) => points,
        Err(Unfinished::Mismatch(m)) => return Err(m.into()),
        Err(Unfinished::Stopped) => {
            let store = store.as_ref().expect("only a checkpoint store stops a run");
            let resume = resume_command(scenario, &dir);
            return Err(match store.take_error() {
                Some(source) => RunError::CheckpointWrite { dir, source, resume },
                None => RunError::Interrupted {
                    dir,
                    finished: store.finished_count(),
                    total: plans.iter().map(|p| p.info.replicas).sum(),
                    resume,
                },
            });
        }
    };
    let faults = plans.iter().filter_map(|p| p.faults.first().map(|f| format!("{}: {f}", p.info.describe()))).collect();
    let mut stream = points.into_iter().map(Ok);
    let written =
        write_outputs(scenario, (plans, limits), &mut stream, &pool, &dir, &options.version, options.progress);
    let mut written = match (written, store) {
        (Ok(written), store) => {
            if let Some(store) = store {
                store.remove()?;
            }
            written
        }
        // Only a failure to write is cured by writing again; a misfit analysis would fail the same way.
        (
            Err(e @ (RunError::Sink(SinkError::Io { .. }) | RunError::Plot(meanfield_plot::PlotError::Write(_)))),
            Some(_),
        ) => {
            let resume = resume_command(scenario, &dir);
            return Err(RunError::WriteKept { dir, source: Box::new(e), resume });
        }
        (Err(e), store) => {
            // An analysis that does not fit fails the same way on every resume: nothing to keep for.
            if let Some(store) = store {
                store.remove()?;
            }
            return Err(e);
        }
    };
    // Everything: limits, replicas, analyses (an ldp bootstrap or cloning can outlast the replicas).
    let wall_seconds = clock.elapsed().as_secs_f64();
    let facts = RunFacts {
        started_unix_seconds: started,
        wall_seconds,
        threads: pool.current_num_threads(),
        resumed: options.resume,
        merged_shards: None,
    };
    write_manifest(scenario, plans, &dir, (&options.version, &options.git_commit), &facts, &mut written)?;
    Ok(RunReport {
        output_dir: dir,
        files: written.files,
        summary: written.summary,
        divergences: written.divergences,
        faults,
        threads: facts.threads,
        wall_seconds,
        warnings: Vec::new(),
    })
}

/// The command that continues a run of `scenario` stopped with its checkpoint in `dir`.
pub fn resume_command(scenario: &CheckedScenario, dir: &Path) -> String {
    // The embedded default scenario is the one `meanfield run` runs without a file.
    let file = if scenario.origin.starts_with('<') { String::new() } else { format!(" {}", scenario.origin) };
    let overrides: String = scenario.overrides.iter().map(|o| format!(" --set '{o}'")).collect();
    format!("meanfield run{file}{overrides} --resume {}", dir.display())
}
