//! `meanfield merge`: the shards' finished replicas gathered into one checkpoint, which a resume writes
//! out as the unsharded run would.

use super::{SHARD_MANIFEST, Shard, ShardError, ShardManifest, absolute, quote};
use crate::run::{RunOptions, RunReport, checkpoint_header, run_claimed_as};
use crate::{CheckedScenario, RunError};
use meanfield_sinks::{CheckpointStore, RunDir, SHARDS, SinkError, append_finished};
use std::path::{Path, PathBuf};
use std::time::Instant;

/// The shard directories `path` names: itself, the `<index>-of-<count>` directories in it, or those of
/// its `shards/`.
fn shard_dirs(path: &Path) -> Result<Vec<PathBuf>, ShardError> {
    let is_shard = |p: &Path| {
        p.join(SHARD_MANIFEST).is_file()
            || p.file_name().and_then(|n| n.to_str()).and_then(Shard::from_dir_name).is_some()
    };
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
    /// The bytes of finished replicas gathered from the shards, and how long gathering took (reading
    /// and writing only: the analyses come after).
    pub gathered_bytes: u64,
    pub gather_seconds: f64,
    /// Reading the gathered replicas back (parsing them, checking their checksums): the merge's time
    /// outside the run's own `wall_seconds` (limits, sinks, analyses) once gathered.
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

    let scenario = CheckedScenario::from_text(&first.scenario_text, &first.scenario_source, &first.scenario_base_dir)?;
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
    let sha = scenario.sha256();
    let run_dir = RunDir::claim_merged(&out, root.as_deref(), options.force, &sha)?;
    if options.force && out.join("checkpoint").exists() {
        std::fs::remove_dir_all(out.join("checkpoint")).map_err(|e| SinkError::io(out.join("checkpoint"), e))?;
    }
    let header = checkpoint_header(&scenario, &plans, &options.version);
    drop(CheckpointStore::create(&out, &header, None, options.stop.clone())?);
    let clock = Instant::now();
    let mut gathered_bytes = 0;
    for (dir, manifest) in &shards {
        let found = append_finished(&out, dir)?;
        if found != manifest.replica_count() {
            let command = manifest.command.clone();
            return Err(
                ShardError::Damaged { dir: dir.clone(), found, expected: manifest.replica_count(), command }.into()
            );
        }
        gathered_bytes += std::fs::metadata(dir.join("checkpoint").join("finished.log")).map_or(0, |m| m.len());
    }
    let gather_seconds = clock.elapsed().as_secs_f64();
    let resume = RunOptions {
        threads: options.threads,
        output: Some(out),
        force: false,
        progress: options.progress,
        version: options.version.clone(),
        git_commit: options.git_commit.clone(),
        resume: true,
        stop: options.stop.clone(),
    };
    let clock = Instant::now();
    let run = run_claimed_as(&scenario, &plans, &resume, run_dir, Some(count))?;
    let read_seconds = (clock.elapsed().as_secs_f64() - run.wall_seconds).max(0.0);
    Ok(MergeReport { run, shards: count, gathered_bytes, gather_seconds, read_seconds })
}
