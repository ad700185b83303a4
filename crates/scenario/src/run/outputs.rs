//! What a run writes once its replicas are done: the sinks point by point, the analyses (studies, LDP
//! estimates) on what they read of the points, the plots, the summary and the manifest. A point goes to
//! the sinks whole and is then thinned to the records the analyses read, so a merge that reads its shards
//! one point at a time holds one point's records at once, not the run's.

use super::RunError;
use crate::CheckedScenario;
use crate::checked::SolvedLimit;
use crate::spec::{LdpMethod, LdpSpec, PlotFormat};
use meanfield_core::summary::Summary;
use meanfield_core::{Divergence, PointResult, Progress, Purpose, Sink, SinkError};
use meanfield_dynamics::{PointPlan, run_population};
use meanfield_sinks::{AtomicFile, CsvTimeSeries, JsonLines};
use std::path::{Path, PathBuf};

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
    let functional = functional_of(ldp);
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

/// What [`write_outputs`] wrote and found.
pub(crate) struct Written {
    pub(crate) files: Vec<PathBuf>,
    pub(crate) summary: Summary,
    pub(crate) divergences: Vec<Divergence>,
}

/// Everything a finished run writes but the manifest: the sinks, the analyses and the plots. `points`
/// yields the points in order, each with all its replicas (a run's from memory, a merge's read from its
/// shards); each is written, summarised and thinned to what the analyses read before the next is taken.
pub(crate) fn write_outputs(
    scenario: &CheckedScenario,
    (plans, limits): (&[PointPlan], &[Option<SolvedLimit>]),
    points: &mut dyn Iterator<Item = Result<PointResult, RunError>>,
    pool: &rayon::ThreadPool,
    dir: &Path,
    version: &str,
    progress: &dyn Progress,
) -> Result<Written, RunError> {
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
        version: version.to_owned(),
        points: Vec::with_capacity(plans.len()),
        study: None,
        ldp: None,
    };
    let study = crate::build::study(&scenario.spec, plans);
    let analysed_times = study.as_ref().map_or_else(Vec::new, meanfield_ldp::Study::record_times);
    let functional = scenario.spec.ldp.as_ref().map(functional_of);
    let mut files = Vec::new();
    let mut divergences = Vec::new();
    let mut thinned = Vec::with_capacity(plans.len());
    for plan in plans {
        let point = points.next().ok_or_else(|| RunError::Output {
            dir: dir.to_owned(),
            source: std::io::Error::other("fewer points than the plans"),
        })??;
        for sink in &mut sinks {
            sink.point(&point)?;
        }
        summary.points.push(meanfield_ldp::summarise_point(&point));
        if outputs.particles.is_some() {
            files.extend(meanfield_sinks::write_particles(&dir.join("particles"), &point, &plan.blocks)?);
        }
        divergences.extend(point.replicas.iter().filter_map(|r| r.divergence.clone()));
        thinned.push(thin(point, &analysed_times, functional.as_ref()));
    }
    for sink in &mut sinks {
        files.extend(sink.finish()?);
    }
    if let Some(path) = write_limit_csv(&dir.join("limit.csv"), plans, limits)? {
        files.push(path);
    }
    if let Some(study) = study {
        let table = study.analyse(&thinned, scenario.spec.seed)?;
        files.push(meanfield_sinks::write_study_csv(&table, &dir.join("study.csv"))?);
        summary.study = Some(table);
    }
    if let Some(ldp) = &scenario.spec.ldp {
        // After timeseries.csv: a cloning population that diverges must not lose the replicas' results.
        let table = pool.install(|| ldp_summary(scenario, ldp, plans, &thinned, progress))?;
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
    Ok(Written { files, summary, divergences })
}

/// How the run whose manifest is written went.
pub(crate) struct RunFacts {
    pub(crate) started_unix_seconds: u64,
    pub(crate) wall_seconds: f64,
    pub(crate) threads: usize,
    pub(crate) resumed: bool,
    pub(crate) merged_shards: Option<usize>,
}

/// Writes `manifest.json` last, listing `written.files` and itself (added to them).
pub(crate) fn write_manifest(
    scenario: &CheckedScenario,
    plans: &[PointPlan],
    dir: &Path,
    (version, git_commit): (&str, &str),
    facts: &RunFacts,
    written: &mut Written,
) -> Result<(), RunError> {
    let manifest_path = dir.join("manifest.json");
    written.files.push(manifest_path.clone());
    meanfield_sinks::Manifest {
        scenario_name: scenario.spec.name.clone(),
        scenario_source: scenario.origin.clone(),
        scenario_sha256: scenario.sha256(),
        scenario_text: scenario.canonical(),
        scenario_overrides: scenario.overrides.iter().map(ToString::to_string).collect(),
        seeds: plans.iter().map(|p| p.info.seed).collect(),
        meanfield_version: version.to_owned(),
        git_commit: git_commit.to_owned(),
        threads: facts.threads,
        started_unix_seconds: facts.started_unix_seconds,
        wall_seconds: facts.wall_seconds,
        steps_total: super::total_steps(scenario, plans),
        diverged_replicas: written.divergences.len(),
        resumed: facts.resumed,
        merged_shards: facts.merged_shards,
        files: written.files.clone(),
    }
    .write(&manifest_path)?;
    Ok(())
}

/// The reduction of the `ldp` section's column over each replica's records.
fn functional_of(ldp: &LdpSpec) -> meanfield_ldp::Functional {
    match ldp.average_from {
        None => meanfield_ldp::Functional::At(ldp.time),
        Some(from) => meanfield_ldp::Functional::Average { from, to: ldp.time },
    }
}

/// `point` with only what the analyses read: of each finished replica, the records nearest the study's
/// `times` and those of the LDP `functional` (the nearest record of a set is among any subset holding
/// it, so the analyses find the same records); of a diverged replica, which no analysis reads, its
/// divergence; no kept particles (written already). Replicas of a point share their record times.
fn thin(mut point: PointResult, times: &[f64], functional: Option<&meanfield_ldp::Functional>) -> PointResult {
    let Some(first) = point.replicas.iter().find(|r| r.divergence.is_none()) else {
        for replica in &mut point.replicas {
            replica.records.clear();
            replica.particles.clear();
        }
        return point;
    };
    let record_times: Vec<f64> = first.records.iter().map(|r| r.time).collect();
    let mut keep: Vec<usize> =
        times.iter().filter_map(|&t| meanfield_core::results::nearest_time(record_times.iter().copied(), t)).collect();
    if let Some(functional) = functional {
        keep.extend(functional.records(&record_times));
    }
    keep.sort_unstable();
    keep.dedup();
    for replica in &mut point.replicas {
        replica.particles.clear();
        if replica.divergence.is_some() {
            replica.records.clear();
        } else {
            let records = std::mem::take(&mut replica.records);
            replica.records = keep.iter().filter_map(|&i| records.get(i).cloned()).collect();
        }
    }
    point
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
