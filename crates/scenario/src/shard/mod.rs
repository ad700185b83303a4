//! Shards: one run cut into deterministic slices of its replicas that run anywhere (Slurm array tasks,
//! GNU parallel, several machines), and their merge into exactly what the unsharded run writes.
//!
//! A run's shards live in `<run dir>/shards/<index>-of-<count>/`, each with its own lock, a checkpoint
//! whose `finished.log` holds the shard's replicas, and [`SHARD_MANIFEST`]. The run directory is `--out`,
//! or `<output root>/sharded-<12 hex digits of the scenario's SHA-256>`: every task of a run finds the
//! same one without agreeing on anything, and another scenario (another `--set`) gets another. A replica's
//! bits depend only on its plan and its streams, so the shards' replicas together are the run's. A merge
//! reads them one point at a time and hands them to the code that writes a run once its replicas are done
//! (the sinks, the studies, the LDP estimators), so its files are the unsharded run's, byte for byte.

mod merge;

pub use merge::{MergeReport, merge};

use crate::run::{RunOptions, checkpoint_header, thread_pool};
use crate::spec::LdpMethod;
use crate::{CheckedScenario, RunError};
use meanfield_dynamics::{PointPlan, Unfinished, run_replicas_with};
use meanfield_sinks::{AtomicFile, CheckpointStore, RunDir, SHARDS, SinkError};
use serde::{Deserialize, Serialize};
use std::fmt;
use std::ops::Range;
use std::path::{Path, PathBuf};
use std::str::FromStr;
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

/// The manifest of a shard directory: written when the shard starts (`finished: false`), rewritten when
/// all its replicas are done.
pub const SHARD_MANIFEST: &str = "shard.json";
const FORMAT: u32 = 1;

/// Shard `index` of `count` (`--shard index/count`, numbered from 0 as Slurm's array indices).
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct Shard {
    pub index: usize,
    pub count: usize,
}

impl FromStr for Shard {
    type Err = String;

    fn from_str(text: &str) -> Result<Shard, String> {
        let (index, count) = text
            .split_once('/')
            .ok_or_else(|| format!("expected INDEX/COUNT such as 0/4 (shard 0 of 4), found '{text}'"))?;
        let number = |part: &str, what: &str| {
            part.trim().parse::<usize>().map_err(|_| format!("'{part}' in '{text}' is not a {what} (0, 1, 2, …)"))
        };
        let (index, count) = (number(index, "shard index")?, number(count, "count of shards")?);
        if count == 0 {
            return Err(format!("'{text}': the count of shards must be at least 1"));
        }
        if index >= count {
            return Err(format!("'{text}': the shards of {count} are numbered 0 to {}", count - 1));
        }
        Ok(Shard { index, count })
    }
}

impl fmt::Display for Shard {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}/{}", self.index, self.count)
    }
}

impl Shard {
    /// `2-of-4`: the shard's directory under `shards/`.
    pub fn dir_name(&self) -> String {
        format!("{}-of-{}", self.index, self.count)
    }

    fn from_dir_name(name: &str) -> Option<Shard> {
        let (index, count) = name.split_once("-of-")?;
        Shard::from_str(&format!("{index}/{count}")).ok()
    }

    /// The replicas of each point (`replicas[p]` of them) this shard runs: numbering the run's replicas
    /// point after point, the global indices `[index·T/count, (index+1)·T/count)` of the T in all, so the
    /// shards cover every replica once and differ in size by at most one.
    pub fn replicas(&self, replicas: &[usize]) -> Vec<Range<usize>> {
        let total: u128 = replicas.iter().map(|&r| r as u128).sum();
        let (lo, hi) =
            (total * self.index as u128 / self.count as u128, total * (self.index as u128 + 1) / self.count as u128);
        let mut start = 0u128;
        replicas
            .iter()
            .map(|&count| {
                let (first, end) = (start, start + count as u128);
                start = end;
                // Both lie in [0, count], so they fit a usize.
                let (from, to) = (lo.clamp(first, end) - first, hi.clamp(first, end) - first);
                from as usize..to as usize
            })
            .collect()
    }
}

/// The replicas of one point a shard holds, by their indices in the whole run.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ShardReplicas {
    pub label: String,
    pub first: usize,
    pub count: usize,
}

/// What [`SHARD_MANIFEST`] holds.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct ShardManifest {
    pub format: u32,
    pub shard: usize,
    pub shards: usize,
    /// Every replica of the shard is in its checkpoint's `finished.log`.
    pub finished: bool,
    pub scenario_name: String,
    /// The file the shard was run from (a merge reads `scenario_text`, not this).
    pub scenario_source: String,
    /// Where the scenario's relative paths (data files, plugins) start.
    pub scenario_base_dir: PathBuf,
    pub scenario_sha256: String,
    /// The resolved scenario (`meanfield show`), which a merge checks and runs the analyses of.
    pub scenario_text: String,
    pub meanfield_version: String,
    pub git_commit: String,
    /// The run directory whose `shards/` holds this shard.
    pub run_dir: PathBuf,
    pub replicas: Vec<ShardReplicas>,
    /// The command that runs this shard, or continues it from its checkpoint.
    pub command: String,
    pub host: String,
    pub threads: usize,
    pub started_unix_seconds: u64,
    /// Of the latest part (a resumed shard counts from its resume).
    pub wall_seconds: f64,
    pub resumed: bool,
    /// Failures of components (plugins) inside the shard, one per affected point (as a run reports them).
    #[serde(default)]
    pub faults: Vec<String>,
}

impl ShardManifest {
    fn read(dir: &Path) -> Result<ShardManifest, ShardError> {
        let path = dir.join(SHARD_MANIFEST);
        let text = std::fs::read_to_string(&path)
            .map_err(|e| ShardError::Manifest { path: path.clone(), reason: e.to_string() })?;
        let manifest: ShardManifest = serde_json::from_str(&text)
            .map_err(|e| ShardError::Manifest { path: path.clone(), reason: e.to_string() })?;
        if manifest.format != FORMAT {
            let reason = format!("format {} (this meanfield reads format {FORMAT})", manifest.format);
            return Err(ShardError::Manifest { path, reason });
        }
        if manifest.shard >= manifest.shards {
            let reason =
                format!("shard {} of {} is not a shard (they are numbered from 0)", manifest.shard, manifest.shards);
            return Err(ShardError::Manifest { path, reason });
        }
        Ok(manifest)
    }

    fn write(&self, dir: &Path) -> Result<(), SinkError> {
        let text = serde_json::to_string_pretty(self)
            .map_err(|e| SinkError::Serialize { what: SHARD_MANIFEST.into(), message: e.to_string() })?;
        AtomicFile::write_all(&dir.join(SHARD_MANIFEST), (text + "\n").as_bytes()).map(|_| ())
    }

    fn shard(&self) -> Shard {
        Shard { index: self.shard, count: self.shards }
    }

    fn replica_count(&self) -> usize {
        self.replicas.iter().map(|r| r.count).sum()
    }

    /// The command that runs shard `shard` of the same run.
    fn command_for(&self, shard: Shard) -> String {
        self.command.replace(&format!("--shard {}", self.shard()), &format!("--shard {shard}"))
    }
}

#[derive(Debug, thiserror::Error)]
pub enum ShardError {
    #[error(
        "--shard {shard}: {} shards for {replicas} replicas would leave some without work: use at most {replicas}",
        shard.count
    )]
    TooMany { shard: Shard, replicas: usize },
    #[error("--shards 0: a run needs at least one shard")]
    NoCount,
    #[error(
        "--shard: this scenario's `ldp.method` is Cloning, whose populations run in the analysis, which shards do not split: run it unsharded"
    )]
    Cloning,
    #[error(
        "{} holds shard {shard} of another run ({found}; this is {expected}): choose another run directory with --out, or move it away",
        dir.display()
    )]
    Foreign { dir: PathBuf, shard: Shard, found: String, expected: String },
    #[error("{}: {reason}", path.display())]
    Manifest { path: PathBuf, reason: String },
    #[error(
        "{} holds no shards: name shard directories (<index>-of-<count>, with a {SHARD_MANIFEST}), a `shards` directory, or the run directory holding it",
        dir.display()
    )]
    NoShards { dir: PathBuf },
    #[error(
        "{} is not a shard of the same run as {}: {differs}; merge the shards of one run",
        other.display(),
        first.display()
    )]
    Mixed { first: PathBuf, other: PathBuf, differs: String },
    #[error("shard {shard} is given twice, {} and {}: merge one of them", first.display(), second.display())]
    Duplicate { shard: Shard, first: PathBuf, second: PathBuf },
    #[error("{}", incomplete_message(.missing, .unfinished, .commands, .sbatch.as_deref()))]
    Incomplete { missing: Vec<Shard>, unfinished: Vec<(Shard, PathBuf)>, commands: Vec<String>, sbatch: Option<String> },
    #[error(
        "{} holds {found} finished replicas of {point}, its {SHARD_MANIFEST} says {expected}: the shard is damaged; delete the directory and run it again with `{command}`",
        dir.display()
    )]
    Damaged { dir: PathBuf, point: String, found: usize, expected: usize, command: String },
    #[error(
        "the shards in {} were made with scenario SHA-256 {expected}, but their scenario now resolves to {found} (it reads data files or plugins that changed?): rerun the shards",
        dir.display()
    )]
    Changed { dir: PathBuf, expected: String, found: String },
    #[error("the merge into {} was stopped: nothing of it is kept; run it again", dir.display())]
    Stopped { dir: PathBuf },
    #[error(
        "the shards are in different run directories ({} and {}): name the merged run's directory with --out",
        first.display(),
        second.display()
    )]
    NoCommonDir { first: PathBuf, second: PathBuf },
}

fn incomplete_message(
    missing: &[Shard],
    unfinished: &[(Shard, PathBuf)],
    commands: &[String],
    sbatch: Option<&str>,
) -> String {
    let count = missing.first().or(unfinished.first().map(|(s, _)| s)).map_or(0, |s| s.count);
    let mut parts = Vec::new();
    if !missing.is_empty() {
        let list: Vec<String> = missing.iter().map(|s| s.index.to_string()).collect();
        parts.push(format!("shard(s) {} of {count} are missing", list.join(", ")));
    }
    if !unfinished.is_empty() {
        let list: Vec<String> = unfinished.iter().map(|(s, dir)| format!("{} ({})", s.index, dir.display())).collect();
        parts.push(format!("shard(s) {} of {count} did not finish", list.join(", ")));
    }
    let mut message = format!("{}; run them (an unfinished one continues from its checkpoint):", parts.join(" and "));
    for command in commands {
        message.push_str(&format!("\n  {command}"));
    }
    if let Some(sbatch) = sbatch {
        message.push_str(&format!("\nor on Slurm:\n  {sbatch}"));
    }
    message.push_str("\nthen merge again");
    message
}

/// Refuses to cut `scenario` into `shard.count` shards when some would be empty or its work is not in
/// its replicas (cloning populations run in the analysis).
pub fn check_shards(scenario: &CheckedScenario, shard: Shard) -> Result<(), ShardError> {
    if matches!(scenario.spec.ldp.as_ref().map(|l| &l.method), Some(LdpMethod::Cloning { .. })) {
        return Err(ShardError::Cloning);
    }
    let total: usize = scenario.points.len().saturating_mul(scenario.spec.replicas);
    if shard.count == 0 {
        return Err(ShardError::NoCount);
    }
    if shard.count > total {
        return Err(ShardError::TooMany { shard, replicas: total });
    }
    Ok(())
}

/// The run directory of `scenario`'s shards: `out`, or `<output root>/sharded-<SHA-256 prefix>`.
pub fn run_dir(scenario: &CheckedScenario, out: Option<&Path>) -> PathBuf {
    match out {
        Some(dir) => dir.to_owned(),
        None => scenario.output_dir().join(format!("sharded-{}", &scenario.sha256()[..12])),
    }
}

/// The directory of `shard` of `scenario` in the run directory `out` (see [`run_dir`]), absolute.
pub fn shard_dir(scenario: &CheckedScenario, out: Option<&Path>, shard: Shard) -> PathBuf {
    absolute(&run_dir(scenario, out)).join(SHARDS).join(shard.dir_name())
}

/// `path` from the root (an empty one, as the directory of a bare file name, is the current directory).
pub(crate) fn absolute(path: &Path) -> PathBuf {
    let path = if path.as_os_str().is_empty() { Path::new(".") } else { path };
    std::path::absolute(path).unwrap_or_else(|_| path.to_owned())
}

/// What [`run_shard`] did.
#[derive(Debug, Clone)]
pub struct ShardReport {
    pub shard: Shard,
    pub dir: PathBuf,
    /// The replicas it holds.
    pub replicas: usize,
    /// It had finished before: nothing was run.
    pub already_finished: bool,
    pub resumed: bool,
    pub diverged: usize,
    pub wall_seconds: f64,
    /// Plugin failures inside the shard (the merge reports them too).
    pub faults: Vec<String>,
}

/// The command that runs `shard` of `scenario` into `run_dir`.
pub fn shard_command(scenario: &CheckedScenario, shard: Shard, run_dir: &Path) -> String {
    let embedded = scenario.origin.starts_with('<');
    let file = if embedded { String::new() } else { format!(" {}", quote(&scenario.origin)) };
    let default_base = Path::new(&scenario.origin).parent().map(absolute);
    let base = match default_base {
        Some(dir) if !embedded && dir != absolute(&scenario.base_dir) => {
            format!(" --base-dir {}", quote(&absolute(&scenario.base_dir).display().to_string()))
        }
        _ => String::new(),
    };
    let overrides: String = scenario.overrides.iter().map(|o| format!(" --set {}", quote(&o.to_string()))).collect();
    format!("meanfield run{file}{base}{overrides} --shard {shard} --out {}", quote(&run_dir.display().to_string()))
}

/// `text` as one shell word.
pub fn quote(text: &str) -> String {
    let plain = !text.is_empty() && text.chars().all(|c| c.is_ascii_alphanumeric() || "/._-=:,+@%".contains(c));
    if plain { text.to_owned() } else { format!("'{}'", text.replace('\'', r"'\''")) }
}

/// Runs shard `shard` of `scenario` into `<run dir>/shards/<index>-of-<count>/` (the run directory is
/// `options.output` or [`run_dir`]): its replicas into its checkpoint, then [`SHARD_MANIFEST`] says it
/// finished. A finished shard is left alone; one with a checkpoint of the same scenario continues from it
/// (a requeued or preempted task resumes by itself); one of another run is refused.
pub fn run_shard(
    scenario: &CheckedScenario,
    plans: &[PointPlan],
    shard: Shard,
    options: &RunOptions<'_>,
) -> Result<ShardReport, RunError> {
    check_shards(scenario, shard)?;
    let per_point: Vec<usize> = plans.iter().map(|p| p.info.replicas).collect();
    let run_dir = absolute(&run_dir(scenario, options.output.as_deref()));
    let dir = shard_dir(scenario, options.output.as_deref(), shard);
    let ranges = shard.replicas(&per_point);
    let sha = scenario.sha256();
    let report = |already_finished, resumed, diverged, wall_seconds, faults| ShardReport {
        shard,
        dir: dir.clone(),
        replicas: ranges.iter().map(Range::len).sum(),
        already_finished,
        resumed,
        diverged,
        wall_seconds,
        faults,
    };
    let known = dir.join(SHARD_MANIFEST).exists();
    if known {
        let found = ShardManifest::read(&dir)?;
        if found.scenario_sha256 != sha || found.meanfield_version != options.version {
            let describe = |sha: &str, version: &str| format!("scenario SHA-256 {sha}, meanfield {version}");
            return Err(ShardError::Foreign {
                dir,
                shard,
                found: describe(&found.scenario_sha256, &found.meanfield_version),
                expected: describe(&sha, &options.version),
            }
            .into());
        }
        if found.finished {
            return Ok(report(true, false, 0, 0.0, found.faults));
        }
    }
    std::fs::create_dir_all(&dir).map_err(|source| RunError::Output { dir: dir.clone(), source })?;
    // The lock; a shard directory of this run that was started before holds our manifest, which is not
    // another run's results.
    let _lock = if known { RunDir::resume(&dir)? } else { RunDir::claim(&dir, options.force, &sha)? };
    let header = checkpoint_header(scenario, plans, &options.version);
    let interval = scenario.spec.outputs.checkpoint_seconds.map(Duration::from_secs_f64);
    let resumed = meanfield_sinks::checkpoint::read_header(&dir).is_some_and(|h| h.scenario_sha256 == sha);
    let pool = thread_pool(options)?;
    let store = if resumed {
        pool.install(|| CheckpointStore::resume(&dir, &header, interval, options.stop.clone()))?
    } else {
        CheckpointStore::create(&dir, &header, interval, options.stop.clone())?
    };
    let mut manifest = ShardManifest {
        format: FORMAT,
        shard: shard.index,
        shards: shard.count,
        finished: false,
        scenario_name: scenario.spec.name.clone(),
        scenario_source: scenario.origin.clone(),
        scenario_base_dir: absolute(&scenario.base_dir),
        scenario_sha256: sha.clone(),
        scenario_text: scenario.canonical(),
        meanfield_version: options.version.clone(),
        git_commit: options.git_commit.clone(),
        run_dir: run_dir.clone(),
        replicas: plans
            .iter()
            .zip(&ranges)
            .map(|(p, r)| ShardReplicas { label: p.info.label.clone(), first: r.start, count: r.len() })
            .collect(),
        command: shard_command(scenario, shard, &run_dir),
        host: sysinfo::System::host_name().unwrap_or_default(),
        threads: pool.current_num_threads(),
        started_unix_seconds: SystemTime::now().duration_since(UNIX_EPOCH).map_or(0, |d| d.as_secs()),
        wall_seconds: 0.0,
        resumed,
        faults: Vec::new(),
    };
    manifest.write(&dir)?;
    let clock = Instant::now();
    let (plans, _limits) = &pool.install(|| scenario.with_limits(plans.to_vec()))?;
    let points = match pool.install(|| run_replicas_with(plans, &ranges, options.progress, &store)) {
        Ok(points) => points,
        Err(Unfinished::Mismatch(m)) => return Err(m.into()),
        Err(Unfinished::Stopped) => {
            let resume = manifest.command.clone();
            return Err(match store.take_error() {
                Some(source) => RunError::CheckpointWrite { dir, source, resume },
                None => RunError::Interrupted {
                    dir,
                    finished: store.finished_count(),
                    total: manifest.replica_count(),
                    resume,
                },
            });
        }
    };
    manifest.finished = true;
    manifest.wall_seconds = clock.elapsed().as_secs_f64();
    manifest.faults =
        plans.iter().filter_map(|p| p.faults.first().map(|f| format!("{}: {f}", p.info.describe()))).collect();
    manifest.write(&dir)?;
    let diverged = points.iter().flat_map(|p| &p.replicas).filter(|r| r.divergence.is_some()).count();
    Ok(report(false, resumed, diverged, manifest.wall_seconds, manifest.faults))
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)] // test code: a failed unwrap is a failed test
    use super::*;

    #[test]
    fn shards_cover_every_replica_once_in_order() {
        for replicas in [vec![1], vec![7], vec![3, 5, 2], vec![100, 1, 0, 9], vec![4, 4, 4, 4]] {
            let total: usize = replicas.iter().sum();
            for count in 1..=total {
                let shards: Vec<Vec<Range<usize>>> =
                    (0..count).map(|index| Shard { index, count }.replicas(&replicas)).collect();
                let sizes: Vec<usize> = shards.iter().map(|s| s.iter().map(Range::len).sum()).collect();
                let (min, max) = (sizes.iter().min().unwrap(), sizes.iter().max().unwrap());
                assert!(max - min <= 1 && *min >= 1, "{replicas:?} in {count}: sizes {sizes:?}");
                for (point, &n) in replicas.iter().enumerate() {
                    // Shard after shard, the point's ranges follow each other from 0 to n.
                    let mut next = 0;
                    for shard in &shards {
                        let range = &shard[point];
                        if range.is_empty() {
                            continue;
                        }
                        assert_eq!(range.start, next, "{replicas:?} in {count}, point {point}: {shards:?}");
                        next = range.end;
                    }
                    assert_eq!(next, n, "{replicas:?} in {count}, point {point}: {shards:?}");
                }
            }
        }
    }

    #[test]
    fn shard_arguments_are_checked() {
        assert_eq!("2/4".parse::<Shard>(), Ok(Shard { index: 2, count: 4 }));
        assert_eq!(Shard { index: 2, count: 4 }.dir_name(), "2-of-4");
        assert_eq!(Shard::from_dir_name("2-of-4"), Some(Shard { index: 2, count: 4 }));
        for (text, says) in [
            ("4/4", "numbered 0 to 3"),
            ("0/0", "at least 1"),
            ("-1/4", "not a shard index"),
            ("1", "INDEX/COUNT"),
            ("1/x", "not a count"),
        ] {
            let error = text.parse::<Shard>().unwrap_err();
            assert!(error.contains(says), "{text}: {error}");
        }
        assert_eq!(Shard::from_dir_name("4-of-4"), None);
    }

    #[test]
    fn commands_quote_what_a_shell_would_split() {
        assert_eq!(quote("/a/b-c.ron"), "/a/b-c.ron");
        assert_eq!(quote("horizon=Steps(200)"), "'horizon=Steps(200)'");
        assert_eq!(quote("it's"), r"'it'\''s'");
        assert_eq!(quote(""), "''");
    }
}
