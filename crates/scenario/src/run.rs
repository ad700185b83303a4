//! Running a scenario: plans → executor on a thread pool → sinks → manifest.

use crate::checked::SolvedLimit;
use crate::spec::{LdpMethod, LdpSpec, PlotFormat};
use crate::{CheckedScenario, ScenarioError};
use meanfield_core::summary::Summary;
use meanfield_core::{Checkpoints, Divergence, NoCheckpoints, PointResult, Progress, Purpose, Sink, SinkError};
use meanfield_dynamics::{Mismatch, PointPlan, Unfinished, run_points_with, run_population};
pub use meanfield_sinks::RunDir;
use meanfield_sinks::{
    AtomicFile, CheckpointError, CheckpointHeader, CheckpointStore, CsvTimeSeries, JsonLines, Manifest, RunDirError,
};
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

/// The rate functions of the `ldp` section: from the replicas of `points`, or from cloning populations.
fn ldp_summary(
    scenario: &CheckedScenario,
    ldp: &LdpSpec,
    plans: &[PointPlan],
    points: &[PointResult],
    progress: &dyn Progress,
) -> Result<meanfield_ldp::LdpSummary, RunError> {
    let options = meanfield_ldp::EstimateOptions {
        k: (0..ldp.points).map(|i| ldp.k.0 + (ldp.k.1 - ldp.k.0) * i as f64 / (ldp.points - 1) as f64).collect(),
        resamples: ldp.resamples,
        direct_bins: ldp.direct_bins,
        window: ldp.window,
        ..Default::default()
    };
    // The plans already say how replicas drew their weights (build resolved the ensemble spec).
    let disorder = match plans.first().map(|p| p.ensemble) {
        Some(meanfield_dynamics::Ensemble::Quenched) => meanfield_ldp::Disorder::Quenched,
        _ => meanfield_ldp::Disorder::Annealed,
    };
    let functional = match ldp.average_from {
        None => meanfield_ldp::Functional::At(ldp.time),
        Some(from) => meanfield_ldp::Functional::Average { from, to: ldp.time },
    };
    let LdpMethod::Cloning { clones, populations } = ldp.method else {
        return Ok(meanfield_ldp::ensemble::analyse(
            points,
            &ldp.column,
            functional,
            disorder,
            &options.estimators(),
            scenario.spec.seed,
        )?);
    };
    let mut out = Vec::with_capacity(plans.len());
    for plan in plans {
        let info = &plan.info;
        let columns = plan.columns();
        let column = columns.iter().position(|c| *c == ldp.column).ok_or_else(|| {
            meanfield_ldp::ensemble::LdpError::MissingColumn { column: ldp.column.clone(), known: columns.join(", ") }
        })?;
        let times: Vec<f64> = plan.record_steps.iter().map(|&s| s as f64 * info.time_per_step).collect();
        let coefficients = functional.coefficients(&times, &info.label)?;
        let last = coefficients.iter().rposition(|&c| c != 0.0).unwrap_or(0);
        let mut runs = Vec::with_capacity(options.k.len());
        for (j, &k) in options.k.iter().enumerate() {
            let mut estimates = Vec::with_capacity(populations);
            for g in 0..populations {
                let stream = info.stream((j * populations + g) as u64, Purpose::Cloning);
                let mut selection =
                    meanfield_ldp::Cloning::new(info.width, k, column, coefficients.clone(), clones, stream);
                // Population g uses replicas g·clones.., the same for every k (common random numbers).
                run_population(plan, g * clones, clones, &mut selection, progress)
                    .map_err(|d| RunError::Cloning { k, message: d.message })?;
                estimates.push(selection.estimate());
            }
            runs.push(estimates);
        }
        out.push(meanfield_ldp::LdpPoint {
            label: info.label.clone(),
            width: info.width,
            seed: info.seed,
            time: times[last],
            rate_function: meanfield_ldp::rate_function_from_populations(info.width, clones, &options, &runs),
            direct: Vec::new(),
        });
    }
    Ok(meanfield_ldp::ensemble::summarise(&ldp.column, functional, disorder, out))
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
    run_claimed_as(scenario, plans, options, run_dir, None)
}

/// [`run_claimed`]; `merged_shards`: the run is the merge of that many shards, whose replicas the
/// checkpoint in `run_dir` holds (`options.resume` then writes them out).
pub(crate) fn run_claimed_as(
    scenario: &CheckedScenario,
    plans: &[PointPlan],
    options: &RunOptions<'_>,
    run_dir: RunDir,
    merged_shards: Option<usize>,
) -> Result<RunReport, RunError> {
    match run_in(scenario, plans, options, run_dir.path(), merged_shards) {
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
    merged_shards: Option<usize>,
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
    let written = write_outputs(scenario, (plans, limits), &points, &pool, &dir, options);
    let (files, summary) = match (written, store) {
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
    let divergences: Vec<Divergence> =
        points.iter().flat_map(|p| p.replicas.iter().filter_map(|r| r.divergence.clone())).collect();
    let manifest_path = dir.join("manifest.json");
    let mut files = files;
    files.push(manifest_path.clone());
    Manifest {
        scenario_name: scenario.spec.name.clone(),
        scenario_source: scenario.origin.clone(),
        scenario_sha256: scenario.sha256(),
        scenario_text: scenario.canonical(),
        scenario_overrides: scenario.overrides.iter().map(ToString::to_string).collect(),
        seeds: plans.iter().map(|p| p.info.seed).collect(),
        meanfield_version: options.version.clone(),
        git_commit: options.git_commit.clone(),
        threads: pool.current_num_threads(),
        started_unix_seconds: started,
        wall_seconds,
        steps_total: total_steps(scenario, plans),
        diverged_replicas: divergences.len(),
        // A merge resumes the checkpoint it gathered: that is how it is made, not a continued run.
        resumed: options.resume && merged_shards.is_none(),
        merged_shards,
        files: files.clone(),
    }
    .write(&manifest_path)?;
    Ok(RunReport {
        output_dir: dir,
        files,
        summary,
        divergences,
        faults: plans.iter().filter_map(|p| p.faults.first().map(|f| format!("{}: {f}", p.info.describe()))).collect(),
        threads: pool.current_num_threads(),
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

/// Everything a finished run writes but the manifest: the sinks, the analyses and the plots.
fn write_outputs(
    scenario: &CheckedScenario,
    (plans, limits): (&[PointPlan], &[Option<SolvedLimit>]),
    points: &[PointResult],
    pool: &rayon::ThreadPool,
    dir: &Path,
    options: &RunOptions<'_>,
) -> Result<(Vec<PathBuf>, Summary), RunError> {
    let outputs = &scenario.spec.outputs;
    let mut sinks: Vec<Box<dyn Sink>> = Vec::new();
    if outputs.csv {
        sinks.push(Box::new(CsvTimeSeries::create(&dir.join("timeseries.csv"))?));
    }
    if outputs.jsonl {
        sinks.push(Box::new(JsonLines::create(&dir.join("timeseries.jsonl"))?));
    }
    let mut summary = Summary {
        scenario: scenario.spec.name.clone(),
        version: options.version.clone(),
        points: Vec::with_capacity(points.len()),
        study: None,
        ldp: None,
    };
    let mut files = Vec::new();
    for (point, plan) in points.iter().zip(plans) {
        for sink in &mut sinks {
            sink.point(point)?;
        }
        summary.points.push(meanfield_ldp::summarise_point(point));
        if outputs.particles.is_some() {
            files.extend(meanfield_sinks::write_particles(&dir.join("particles"), point, &plan.blocks)?);
        }
    }
    for sink in &mut sinks {
        files.extend(sink.finish()?);
    }
    if let Some(path) = write_limit_csv(&dir.join("limit.csv"), plans, limits)? {
        files.push(path);
    }
    if let Some(study) = crate::build::study(&scenario.spec, plans) {
        let table = study.analyse(points, scenario.spec.seed)?;
        files.push(meanfield_sinks::write_study_csv(&table, &dir.join("study.csv"))?);
        summary.study = Some(table);
    }
    if let Some(ldp) = &scenario.spec.ldp {
        // After timeseries.csv: a cloning population that diverges must not lose the replicas' results.
        let table = pool.install(|| ldp_summary(scenario, ldp, plans, points, options.progress))?;
        files.push(meanfield_sinks::write_ldp_csv(&table, &dir.join("ldp.csv"))?);
        files.extend(meanfield_sinks::write_ldp_direct_csv(&table, &dir.join("ldp_direct.csv"))?);
        summary.ldp = Some(table);
    }
    if !outputs.plots.is_empty() {
        let formats = meanfield_plot::Formats {
            svg: outputs.plots.contains(&PlotFormat::Svg),
            png: outputs.plots.contains(&PlotFormat::Png),
        };
        files.extend(meanfield_plot::plot_run(dir, formats)?);
    }
    files.extend(meanfield_sinks::summary::write(dir, &summary)?);
    meanfield_sinks::distinct_paths(&files)?;
    Ok((files, summary))
}

/// `limit.csv`: the solved limit's marginal densities at every record time of every point that has one,
/// as `label,time,statistic,lo,hi,density` (one row per grid cell; densities normalised to total mass 1).
fn write_limit_csv(
    path: &Path,
    plans: &[PointPlan],
    limits: &[Option<SolvedLimit>],
) -> Result<Option<PathBuf>, RunError> {
    if limits.iter().all(Option::is_none) {
        return Ok(None);
    }
    let io = |e: csv::Error| SinkError::io(path, std::io::Error::other(e));
    let mut csv = csv::Writer::from_writer(Vec::new());
    csv.write_record(["label", "time", "statistic", "lo", "hi", "density"]).map_err(io)?;
    for (plan, limit) in plans.iter().zip(limits) {
        let Some(limit) = limit else { continue };
        for &step in &plan.record_steps {
            // The limit was solved at PDE time k·η of every record step k.
            let Some(densities) = limit.densities(step as f64 * plan.info.step_size) else { continue };
            let time = (step as f64 * plan.info.time_per_step).to_string();
            for (statistic, density) in &densities {
                let total: f64 = density.masses.iter().sum();
                for (k, mass) in density.masses.iter().enumerate() {
                    let (lo, hi) = (density.edges[k], density.edges[k + 1]);
                    let row = [
                        plan.info.label.clone(),
                        time.clone(),
                        statistic.clone(),
                        lo.to_string(),
                        hi.to_string(),
                        (mass / total / (hi - lo)).to_string(),
                    ];
                    csv.write_record(row).map_err(io)?;
                }
            }
        }
    }
    let bytes = csv.into_inner().map_err(|e| SinkError::io(path, e.into_error()))?;
    Ok(Some(AtomicFile::write_all(path, &bytes)?))
}
