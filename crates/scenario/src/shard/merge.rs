//! `meanfield merge`: the shards' finished replicas, read one point at a time, written out by the code
//! that writes a run on one machine once its replicas are done (so the files are the same bytes).

use super::{SHARD_MANIFEST, Shard, ShardError, ShardManifest, absolute, quote};
use crate::checked::budget::Holding;
use crate::run::{RunFacts, RunOptions, RunReport, checkpoint_header, thread_pool, write_manifest, write_outputs};
use crate::{CheckedScenario, RunError};
use meanfield_core::PointResult;
use meanfield_dynamics::PointPlan;
use meanfield_sinks::{RunDir, SHARDS, read_finished};
use std::path::{Path, PathBuf};
use std::sync::atomic::Ordering;
use std::time::{Instant, SystemTime, UNIX_EPOCH};

/// The shard directories `path` names: itself, the `<index>-of-<count>` directories in it, or those of
/// its `shards/`.
fn shard_dirs(path: &Path) -> Result<Vec<PathBuf>, ShardError> {
    let is_shard = |p: &Path| {
        p.join(SHARD_MANIFEST).is_file()
            || p.file_name().and_then(|n| n.to_str()).and_then(Shard::from_dir_name).is_some()
    };
    if !path.is_dir() {
        return Err(ShardError::Manifest { path: path.to_owned(), reason: "no such directory".into() });
    }
    if is_shard(path) {
        return Ok(vec![path.to_owned()]);
    }
    let parent = if path.join(SHARDS).is_dir() { path.join(SHARDS) } else { path.to_owned() };
    let mut dirs: Vec<PathBuf> = std::fs::read_dir(&parent)
        .map_err(|e| ShardError::Manifest { path: parent.clone(), reason: e.to_string() })?
        .filter_map(|e| e.ok().map(|e| e.path()))
        .filter(|p| p.is_dir() && is_shard(p))
        .collect();
    if dirs.is_empty() {
        return Err(ShardError::NoShards { dir: path.to_owned() });
    }
    dirs.sort();
    Ok(dirs)
}

/// What [`merge`] did, beside the run's report.
#[derive(Debug, Clone)]
pub struct MergeReport {
    pub run: RunReport,
    pub shards: usize,
    /// The bytes of finished replicas read from the shards, and how long reading them took (streaming
    /// each shard's log, parsing and checking a point's lines; the sinks and analyses aside).
    pub read_bytes: u64,
    pub read_seconds: f64,
}

/// Merges the shards `paths` name (see [`shard_dirs`]) into one run directory (`options.output`, or the
/// run directory holding the shards), whose files are byte-identical to those of the unsharded run.
/// Refuses, naming them, shards that are missing, unfinished, given twice, or of another run.
/// `sbatch_array`: the array script that ran the shards, for the message that reruns missing ones.
pub fn merge(
    paths: &[PathBuf],
    options: &RunOptions<'_>,
    sbatch_array: Option<&Path>,
) -> Result<MergeReport, RunError> {
    let mut shards: Vec<(PathBuf, Option<ShardManifest>)> = Vec::new();
    for path in paths {
        for dir in shard_dirs(path)? {
            let manifest = if dir.join(SHARD_MANIFEST).exists() { Some(ShardManifest::read(&dir)?) } else { None };
            shards.push((absolute(&dir), manifest));
        }
    }
    let Some((first_dir, first)) = shards.iter().find_map(|(d, m)| m.as_ref().map(|m| (d.clone(), m.clone()))) else {
        return Err(ShardError::NoShards { dir: paths.first().cloned().unwrap_or_default() }.into());
    };
    let count = first.shards;
    let mut by_index: Vec<Option<(PathBuf, Option<ShardManifest>)>> = vec![None; count];
    for (dir, manifest) in shards {
        let shard = match &manifest {
            Some(m) => m.shard(),
            None => dir
                .file_name()
                .and_then(|n| n.to_str())
                .and_then(Shard::from_dir_name)
                .unwrap_or(Shard { index: 0, count: 0 }),
        };
        let differs = match &manifest {
            _ if shard.count != count => {
                Some(format!("it is shard {shard}, of {} shards, not of {count}", shard.count))
            }
            Some(m) if m.scenario_sha256 != first.scenario_sha256 => {
                Some(format!("its scenario SHA-256 is {}, not {}", m.scenario_sha256, first.scenario_sha256))
            }
            Some(m) if m.meanfield_version != first.meanfield_version => {
                Some(format!("it was made by meanfield {}, not {}", m.meanfield_version, first.meanfield_version))
            }
            _ => None,
        };
        if let Some(differs) = differs {
            return Err(ShardError::Mixed { first: first_dir, other: dir, differs }.into());
        }
        if let Some((seen, _)) = &by_index[shard.index] {
            return Err(ShardError::Duplicate { shard, first: seen.clone(), second: dir }.into());
        }
        by_index[shard.index] = Some((dir, manifest));
    }
    let missing: Vec<Shard> =
        (0..count).filter(|&i| by_index[i].is_none()).map(|index| Shard { index, count }).collect();
    let unfinished: Vec<(Shard, PathBuf)> = by_index
        .iter()
        .enumerate()
        .filter_map(|(index, s)| match s {
            Some((dir, m)) if !m.as_ref().is_some_and(|m| m.finished) => Some((Shard { index, count }, dir.clone())),
            _ => None,
        })
        .collect();
    if !missing.is_empty() || !unfinished.is_empty() {
        let mut indices: Vec<usize> =
            missing.iter().map(|s| s.index).chain(unfinished.iter().map(|(s, _)| s.index)).collect();
        indices.sort_unstable();
        let commands = indices.iter().map(|&index| first.command_for(Shard { index, count })).collect();
        let list: Vec<String> = indices.iter().map(ToString::to_string).collect();
        let sbatch = sbatch_array
            .map(|script| format!("sbatch --array={} {}", list.join(","), quote(&script.display().to_string())));
        return Err(ShardError::Incomplete { missing, unfinished, commands, sbatch }.into());
    }
    let shards: Vec<(PathBuf, ShardManifest)> =
        by_index.into_iter().flatten().filter_map(|(d, m)| Some((d, m?))).collect();

    let (text, source, base_dir) = (&first.scenario_text, &first.scenario_source, &first.scenario_base_dir);
    // Errors point into the resolved text the shards carry, so they name it; the result names the file.
    let carried = format!("{source} (as resolved in {})", first_dir.join(SHARD_MANIFEST).display());
    let mut scenario = CheckedScenario::from_text_as(text, &carried, base_dir, &[], Holding::Merge)?;
    scenario.origin.clone_from(source);
    if scenario.sha256() != first.scenario_sha256 {
        return Err(
            ShardError::Changed { dir: first_dir, expected: first.scenario_sha256, found: scenario.sha256() }.into()
        );
    }
    let plans = scenario.plans();
    let out = match &options.output {
        Some(out) => absolute(out),
        None => {
            let parent = |d: &Path| d.parent().and_then(Path::parent).map(Path::to_owned).unwrap_or_default();
            let common = parent(&shards[0].0);
            if let Some((dir, _)) = shards.iter().find(|(d, _)| parent(d) != common) {
                return Err(ShardError::NoCommonDir { first: shards[0].0.clone(), second: dir.clone() }.into());
            }
            common
        }
    };
    let root = absolute(&scenario.output_dir());
    let root = out.parent().filter(|p| *p == root).map(Path::to_owned);
    let run_dir = RunDir::claim_merged(&out, root.as_deref(), options.force, &scenario.sha256())?;
    let before = entries(&out);
    match write_merged(&scenario, &plans, &shards, options, &out) {
        Ok(mut merged) => {
            // The results are whole either way: a link that cannot be made is not a failed merge.
            if let Err(e) = run_dir.finish() {
                merged.run.warnings.push(e.to_string());
            }
            Ok(merged)
        }
        Err(e) => {
            // What it wrote before failing (particle files, timeseries.csv) would block a rerun: the
            // shards can always write it again.
            for name in entries(&out).difference(&before) {
                let path = out.join(name);
                let _ = if path.is_dir() { std::fs::remove_dir_all(&path) } else { std::fs::remove_file(&path) };
            }
            run_dir.discard_if_unused();
            Err(e)
        }
    }
}

/// The names in `dir` (none if it cannot be read).
fn entries(dir: &Path) -> std::collections::BTreeSet<std::ffi::OsString> {
    std::fs::read_dir(dir)
        .map_or_else(|_| Default::default(), |d| d.filter_map(|e| e.ok().map(|e| e.file_name())).collect())
}

/// Writes the merged run into `out`, reading the shards one point at a time.
fn write_merged(
    scenario: &CheckedScenario,
    plans: &[PointPlan],
    shards: &[(PathBuf, ShardManifest)],
    options: &RunOptions<'_>,
    out: &Path,
) -> Result<MergeReport, RunError> {
    let pool = thread_pool(options)?;
    let header = checkpoint_header(scenario, plans, &options.version);
    let started = SystemTime::now().duration_since(UNIX_EPOCH).map_or(0, |d| d.as_secs());
    let clock = Instant::now();
    let (plans, limits) = &pool.install(|| scenario.with_limits(plans.to_vec()))?;
    let (mut read_bytes, mut read_seconds) = (0, 0.0);
    let mut points = plans.iter().enumerate().map(|(index, plan)| {
        if options.stop.load(Ordering::Relaxed) {
            return Err(ShardError::Stopped { dir: out.to_owned() }.into());
        }
        let reading = Instant::now();
        let mut replicas = Vec::with_capacity(plan.info.replicas);
        for (dir, manifest) in shards {
            let expected = manifest.replicas.get(index).map_or(0, |r| r.count);
            if expected == 0 {
                continue;
            }
            let (found, bytes) = pool.install(|| read_finished(dir, &header, index))?;
            read_bytes += bytes;
            if found.len() != expected {
                let (found, command, point) = (found.len(), manifest.command.clone(), plan.info.describe());
                return Err(ShardError::Damaged { dir: dir.clone(), point, found, expected, command }.into());
            }
            replicas.extend(found);
        }
        replicas.sort_by_key(|r| r.replica);
        let misplaced = replicas.iter().enumerate().find(|(i, r)| r.replica != *i).map(|(i, _)| i);
        if let Some(gap) = misplaced.or((replicas.len() != plan.info.replicas).then_some(replicas.len())) {
            let dir = shards.first().map(|(d, _)| d.clone()).unwrap_or_default();
            let reason = format!("replica {gap} of point {} is not in its shard", plan.info.describe());
            return Err(ShardError::Manifest { path: dir.join(SHARD_MANIFEST), reason }.into());
        }
        read_seconds += reading.elapsed().as_secs_f64();
        Ok(PointResult { info: plan.info.clone(), columns: plan.columns(), replicas })
    });
    let mut written =
        write_outputs(scenario, (plans, limits), &mut points, &pool, out, &options.version, options.progress)?;
    drop(points);
    let wall_seconds = clock.elapsed().as_secs_f64();
    let facts = RunFacts {
        started_unix_seconds: started,
        wall_seconds,
        threads: pool.current_num_threads(),
        resumed: false,
        merged_shards: Some(shards.len()),
    };
    write_manifest(scenario, plans, out, (&options.version, &options.git_commit), &facts, &mut written)?;
    let run = RunReport {
        output_dir: out.to_owned(),
        files: written.files,
        summary: written.summary,
        divergences: written.divergences,
        faults: shards.iter().flat_map(|(_, m)| m.faults.iter().cloned()).collect(),
        threads: facts.threads,
        wall_seconds,
        warnings: Vec::new(),
    };
    Ok(MergeReport { run, shards: shards.len(), read_bytes, read_seconds })
}
