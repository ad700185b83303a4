//! Running a scenario: plans → executor on a thread pool → sinks → manifest.

use crate::spec::{LdpMethod, LdpSpec};
use crate::{Scenario, ScenarioError};
use meanfield_core::{Divergence, PointResult, Progress, Purpose, Sink, SinkError, StreamKey};
use meanfield_dynamics::{PointPlan, run_points, run_population};
use meanfield_sinks::{AtomicFile, CsvTimeSeries, Manifest, Summary, SummarySink};
use std::path::PathBuf;
use std::time::{Instant, SystemTime, UNIX_EPOCH};

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
    Study(#[from] meanfield_sinks::study::StudyError),
    #[error(transparent)]
    Ldp(#[from] meanfield_ldp::ensemble::LdpError),
    #[error("ldp: the cloning population at k = {k} stopped: {message}")]
    Cloning { k: f64, message: String },
}

pub struct RunOptions<'a> {
    /// Worker threads; `None` uses all cores. Results do not depend on it.
    pub threads: Option<usize>,
    /// Overrides the scenario's output directory.
    pub output: Option<PathBuf>,
    pub progress: &'a dyn Progress,
    /// Recorded in the manifest.
    pub version: String,
    pub git_commit: String,
}

impl std::fmt::Debug for RunOptions<'_> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("RunOptions").field("threads", &self.threads).field("output", &self.output).finish()
    }
}

#[derive(Debug, Clone)]
pub struct RunReport {
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
}

/// The rate functions of the `ldp` section: from the replicas of `points`, or from cloning populations.
fn ldp_summary(
    scenario: &Scenario,
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
                let key = StreamKey::replica(info.seed, &info.label, (j * populations + g) as u64, Purpose::Cloning);
                let mut selection =
                    meanfield_ldp::Cloning::new(info.width, k, column, coefficients.clone(), clones, key.stream());
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

/// Total SGD steps of a run (for progress bars and the manifest): every replica of every point, and with
/// `ldp` cloning every clone of every population at every k.
pub fn total_steps(scenario: &Scenario, plans: &[PointPlan]) -> u64 {
    let clones_per_point = match scenario.spec.ldp.as_ref().map(|l| (&l.method, l.points)) {
        Some((LdpMethod::Cloning { clones, populations }, points)) => (clones * populations * points) as u64,
        _ => 0,
    };
    plans.iter().map(|p| p.info.steps * (p.info.replicas as u64 + clones_per_point)).sum()
}

/// Runs the plans of `scenario` and writes `timeseries.csv`, `summary.ron` and `manifest.json` into the
/// output directory. Diverged replicas do not fail the run: they are reported in the summary and in
/// [`RunReport::divergences`], and everything they recorded before diverging is kept.
pub fn run(scenario: &Scenario, plans: &[PointPlan], options: &RunOptions<'_>) -> Result<RunReport, RunError> {
    let dir = options.output.clone().unwrap_or_else(|| scenario.output_dir());
    // Fail before computing anything if results could not be written.
    std::fs::create_dir_all(&dir).map_err(|source| RunError::Output { dir: dir.clone(), source })?;
    AtomicFile::create(&dir.join("summary.ron")).map_err(|e| match e {
        SinkError::Io { source, .. } => RunError::Output { dir: dir.clone(), source },
        other => RunError::Sink(other),
    })?;

    let mut builder = rayon::ThreadPoolBuilder::new();
    if let Some(threads) = options.threads {
        builder = builder.num_threads(threads);
    }
    let pool = builder
        .build()
        .map_err(|e| RunError::Threads { threads: options.threads.unwrap_or(0), message: e.to_string() })?;
    let started = SystemTime::now().duration_since(UNIX_EPOCH).map_or(0, |d| d.as_secs());
    let clock = Instant::now();
    let plans = &pool.install(|| scenario.with_limits(plans.to_vec()))?;
    let points = pool.install(|| run_points(plans, options.progress));

    let mut csv = CsvTimeSeries::create(&dir.join("timeseries.csv"))?;
    let mut summary = SummarySink::new(&dir.join("summary.ron"), &scenario.spec.name, &options.version);
    for point in &points {
        csv.point(point)?;
        summary.point(point)?;
    }
    let mut files = csv.finish()?;
    if let Some(study) = crate::build::study(&scenario.spec, plans) {
        let table = study.analyse(&points, scenario.spec.seed)?;
        files.push(table.write_csv(&dir.join("study.csv"))?);
        summary.set_study(table);
    }
    if let Some(ldp) = &scenario.spec.ldp {
        // After timeseries.csv: a cloning population that diverges must not lose the replicas' results.
        let table = pool.install(|| ldp_summary(scenario, ldp, plans, &points, options.progress))?;
        files.push(AtomicFile::write_all(&dir.join("ldp.csv"), table.to_csv().as_bytes())?);
        if let Some(direct) = table.direct_csv() {
            files.push(AtomicFile::write_all(&dir.join("ldp_direct.csv"), direct.as_bytes())?);
        }
        summary.set_ldp(table);
    }
    files.extend(summary.finish()?);
    // Everything: limits, replicas, analyses (an ldp bootstrap or cloning can outlast the replicas).
    let wall_seconds = clock.elapsed().as_secs_f64();
    let divergences: Vec<Divergence> =
        points.iter().flat_map(|p| p.replicas.iter().filter_map(|r| r.divergence.clone())).collect();
    let manifest_path = dir.join("manifest.json");
    files.push(manifest_path.clone());
    Manifest {
        scenario_name: scenario.spec.name.clone(),
        scenario_source: scenario.origin.clone(),
        scenario_sha256: scenario.sha256(),
        scenario_text: scenario.text.clone(),
        seeds: plans.iter().map(|p| p.info.seed).collect(),
        meanfield_version: options.version.clone(),
        git_commit: options.git_commit.clone(),
        threads: pool.current_num_threads(),
        started_unix_seconds: started,
        wall_seconds,
        steps_total: total_steps(scenario, plans),
        diverged_replicas: divergences.len(),
        files: files.clone(),
    }
    .write(&manifest_path)?;
    Ok(RunReport {
        output_dir: dir,
        files,
        summary: summary.summary().clone(),
        divergences,
        faults: plans.iter().filter_map(|p| p.faults.first().map(|f| format!("point {}: {f}", p.info.index))).collect(),
        threads: pool.current_num_threads(),
        wall_seconds,
    })
}
