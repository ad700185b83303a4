//! The run directory: the one directory a run writes its results into, owned by that run alone.
//!
//! The rule (docs/guide/outputs.md): a run writes only into a directory that holds no other run's
//! results. Without a directory of its own choosing a run gets a new one under its root,
//! `<root>/<UTC date and time>` (`-2`, `-3` when taken in the same second), and `<root>/latest` points at
//! the newest finished one. A directory the user names must be absent or empty; `force` replaces the
//! results meanfield wrote there before (the files its manifest lists, or its known outputs), never other
//! files. For as long as it runs, a run holds an exclusive lock on its directory ([`LOCK_FILE`]).

use crate::checkpoint;
use fs4::fs_std::FileExt;
use std::collections::BTreeSet;
use std::io::{Read, Seek, Write};
use std::path::{Component, Path, PathBuf};

/// The lock file inside a run directory. It holds the running process's pid, for the message of a
/// second run; the lock itself is an flock, released by the kernel when its process ends however it ends,
/// so the file a killed run leaves behind blocks nothing.
pub const LOCK_FILE: &str = ".meanfield.lock";
/// The directory inside a run directory that holds its shards (`shards/<index>-of-<count>/`).
pub const SHARDS: &str = "shards";
/// The directory inside a run directory where `meanfield slurm` writes its job scripts and logs.
pub const JOBS: &str = "slurm";
/// The link in a root to its newest finished run directory.
pub const LATEST: &str = "latest";

/// The files every run directory may hold, whatever its manifest says (`report.html` is written later by
/// `meanfield report`; `.meanfield-plots.json` by `meanfield plot`).
const KNOWN_FILES: &[&str] = &[
    "manifest.json",
    "summary.ron",
    "summary.json",
    "timeseries.csv",
    "timeseries.jsonl",
    "limit.csv",
    "study.csv",
    "ldp.csv",
    "ldp_direct.csv",
    "report.html",
    ".meanfield-plots.json",
];
/// The stems of the figures a run draws (crates/plot), for a directory without a manifest.
const FIGURE_STEMS: &[&str] = &["risk", "marginal_", "scaling_", "rate_function"];

#[derive(Debug, thiserror::Error)]
pub enum RunDirError {
    #[error("output directory {} is not usable: {source}", path.display())]
    Io { path: PathBuf, source: std::io::Error },
    #[error(
        "{} is in use by another meanfield run ({holder}): wait for it to finish, or run into another directory",
        dir.display()
    )]
    Locked { dir: PathBuf, holder: String },
    #[error(
        "{} already holds results ({found}): run into a new or empty directory (without --out meanfield makes one), or add --force to replace the results meanfield wrote there",
        dir.display()
    )]
    Occupied { dir: PathBuf, found: String },
    #[error(
        "{} holds the checkpoint of an interrupted run of this scenario: continue it with `--resume {}`, or add --force to discard it and start over",
        dir.display(),
        dir.display()
    )]
    Unfinished { dir: PathBuf },
    #[error(
        "{} holds the checkpoint of an interrupted run of another scenario: resume it with that scenario, add --force to discard it, or run into another directory",
        dir.display()
    )]
    UnfinishedOther { dir: PathBuf },
    #[error(
        "{} holds {found}, named like meanfield's results but not listed in its manifest: a new run could write over it, so move it away first",
        dir.display()
    )]
    Stray { dir: PathBuf, found: String },
    #[error(
        "{} holds {found} but no manifest.json of a meanfield run: --force replaces only a run's results, so choose another directory or move the files away",
        dir.display()
    )]
    NoManifest { dir: PathBuf, found: String },
    #[error(
        "{} is not the link meanfield keeps to the newest run: move it away (meanfield points {LATEST} at each finished run)",
        path.display()
    )]
    Latest { path: PathBuf },
}

fn io(path: &Path) -> impl FnOnce(std::io::Error) -> RunDirError + '_ {
    move |source| RunDirError::Io { path: path.to_owned(), source }
}

/// A run directory locked by this process; dropping it releases the lock.
#[derive(Debug)]
pub struct RunDir {
    path: PathBuf,
    /// The root whose `latest` link points here once the run finishes.
    root: Option<PathBuf>,
    /// Whether this run made the directory (so that a run that failed before writing anything removes it).
    created: bool,
    _lock: RunLock,
}

impl RunDir {
    /// A new run directory under `root`, named after the current UTC second.
    pub fn new_under(root: &Path) -> Result<RunDir, RunDirError> {
        let latest = root.join(LATEST);
        if latest.symlink_metadata().is_ok_and(|m| !m.file_type().is_symlink()) {
            return Err(RunDirError::Latest { path: latest });
        }
        std::fs::create_dir_all(root).map_err(io(root))?;
        let stamp = humantime::format_rfc3339_seconds(std::time::SystemTime::now()).to_string();
        // 2026-12-04T18:50:12Z → 2026-12-04T18-50-12: no colons (not allowed in Windows names, and they
        // separate entries of PATH-like lists).
        let stamp = stamp.trim_end_matches('Z').replace(':', "-");
        for n in 1..=1000 {
            let name = if n == 1 { stamp.clone() } else { format!("{stamp}-{n}") };
            let path = root.join(&name);
            // create_dir, not create_dir_all: it fails if the name is taken, even by a run started this instant.
            match std::fs::create_dir(&path) {
                Ok(()) => {
                    let lock = RunLock::acquire(&path)?;
                    return Ok(RunDir { path, root: Some(root.to_owned()), created: true, _lock: lock });
                }
                Err(e) if e.kind() == std::io::ErrorKind::AlreadyExists => continue,
                Err(e) => return Err(io(&path)(e)),
            }
        }
        Err(io(root)(std::io::Error::other("a thousand runs started in this second")))
    }

    /// `dir` as the run directory: absent or empty (a stale lock, an unfinished temporary file or a
    /// checkpoint without work do not count), or with `force`, emptied of what meanfield wrote there.
    /// `scenario_sha256` tells whether a checkpoint there belongs to this scenario (then the message says
    /// how to resume it).
    pub fn claim(dir: &Path, force: bool, scenario_sha256: &str) -> Result<RunDir, RunDirError> {
        Self::claim_beside(dir, force, scenario_sha256, &[])
    }

    /// [`RunDir::claim`] for the merge of the shards in `dir/shards/` (its [`SHARDS`] and [`JOBS`]
    /// directories belong to this run, so they do not count as results), with `root`'s `latest` link
    /// following it once merged.
    pub fn claim_merged(
        dir: &Path,
        root: Option<&Path>,
        force: bool,
        scenario_sha256: &str,
    ) -> Result<RunDir, RunDirError> {
        let mut run_dir = Self::claim_beside(dir, force, scenario_sha256, &[SHARDS, JOBS])?;
        run_dir.root = root.map(Path::to_owned);
        Ok(run_dir)
    }

    fn claim_beside(dir: &Path, force: bool, scenario_sha256: &str, own: &[&str]) -> Result<RunDir, RunDirError> {
        let created = !dir.exists();
        std::fs::create_dir_all(dir).map_err(io(dir))?;
        let lock = RunLock::acquire(dir)?;
        let mut found = Vec::new();
        for entry in std::fs::read_dir(dir).map_err(io(dir))? {
            let entry = entry.map_err(io(dir))?;
            let name = entry.file_name().to_string_lossy().into_owned();
            if name == LOCK_FILE || own.contains(&name.as_str()) {
                continue;
            }
            if is_partial(&name) {
                // What a killed run was writing: never a result.
                let _ = std::fs::remove_file(entry.path());
            } else if name != "checkpoint" || !is_meanfield_checkpoint(dir) {
                // A `checkpoint` that is not meanfield's (no header of ours) is the user's, like any file.
                found.push(name);
            } else if !checkpoint::has_progress(dir) {
                std::fs::remove_dir_all(entry.path()).map_err(io(&entry.path()))?;
            } else if !force {
                return Err(match checkpoint::read_header(dir) {
                    Some(h) if h.scenario_sha256 == scenario_sha256 => RunDirError::Unfinished { dir: dir.to_owned() },
                    _ => RunDirError::UnfinishedOther { dir: dir.to_owned() },
                });
            }
        }
        if !found.is_empty() {
            if !force {
                found.sort();
                let more = found.len().saturating_sub(3);
                let mut shown = found.iter().take(3).cloned().collect::<Vec<_>>().join(", ");
                if more > 0 {
                    shown.push_str(&format!(" and {more} more"));
                }
                return Err(RunDirError::Occupied { dir: dir.to_owned(), found: shown });
            }
            remove_previous_results(dir)?;
        }
        Ok(RunDir { path: dir.to_owned(), root: None, created, _lock: lock })
    }

    /// The existing run directory `dir`, to resume the run whose checkpoint it holds. When it is one of
    /// the dated directories of a root, that root's `latest` link follows it once the run finishes.
    pub fn resume(dir: &Path) -> Result<RunDir, RunDirError> {
        let lock = RunLock::acquire(dir)?;
        let dated = dir.file_name().and_then(|n| n.to_str()).is_some_and(is_dated);
        let root = dir.parent().filter(|p| dated && !p.as_os_str().is_empty()).map(Path::to_owned);
        Ok(RunDir { path: dir.to_owned(), root, created: false, _lock: lock })
    }

    pub fn path(&self) -> &Path {
        &self.path
    }

    /// The run finished: its root's `latest` link (if it has a root) now points at it. The link is made
    /// under a temporary name and renamed over the old one, so `latest` always names a whole run.
    pub fn finish(&self) -> Result<(), RunDirError> {
        let (Some(root), Some(name)) = (&self.root, self.path.file_name()) else { return Ok(()) };
        let latest = root.join(LATEST);
        if latest.symlink_metadata().is_ok_and(|m| !m.file_type().is_symlink()) {
            return Err(RunDirError::Latest { path: latest });
        }
        let temporary = root.join(format!(".meanfield-latest-{}.partial", std::process::id()));
        let _ = std::fs::remove_file(&temporary);
        link(Path::new(name), &temporary).map_err(io(&temporary))?;
        std::fs::rename(&temporary, &latest).map_err(|e| {
            let _ = std::fs::remove_file(&temporary);
            io(&latest)(e)
        })
    }

    /// The run failed: a directory it made and left without results (at most a checkpoint without work)
    /// is removed, so that a failed start leaves nothing to trip over.
    pub fn discard_if_unused(self) {
        let RunDir { path, created, _lock, .. } = self;
        if !created || checkpoint::has_progress(&path) {
            return;
        }
        let _ = std::fs::remove_dir_all(path.join("checkpoint"));
        drop(_lock);
        // Only succeeds when nothing else is left.
        let _ = std::fs::remove_dir(&path);
    }
}

#[cfg(unix)]
fn link(target: &Path, link: &Path) -> std::io::Result<()> {
    std::os::unix::fs::symlink(target, link)
}

#[cfg(not(unix))]
fn link(target: &Path, link: &Path) -> std::io::Result<()> {
    std::os::windows::fs::symlink_dir(target, link)
}

/// Whether `name` is one that [`RunDir::new_under`] gives: a UTC second, with `-<n>` when it was taken.
fn is_dated(name: &str) -> bool {
    let (Some(stamp), Some(rest)) = (name.get(..19), name.get(19..)) else { return false };
    // 2026-12-04T18-50-12 → 2026-12-04T18:50:12Z.
    let mut rfc3339 = stamp.to_owned();
    rfc3339.replace_range(13..14, ":");
    rfc3339.replace_range(16..17, ":");
    let suffix_ok = rest.is_empty() || rest.strip_prefix('-').is_some_and(|n| n.parse::<u32>().is_ok_and(|n| n >= 2));
    suffix_ok && humantime::parse_rfc3339(&(rfc3339 + "Z")).is_ok()
}

/// A temporary file of [`crate::AtomicFile`] (or of a PNG being drawn), which a kill can leave behind.
fn is_partial(name: &str) -> bool {
    name.starts_with(".meanfield-") && name.contains(".partial")
}

/// The directories of the particles' NPY files: today's, and that of runs before the rename.
const PARTICLE_DIRS: [&str; 2] = ["particles", "snapshots"];

/// Whether `dir/checkpoint` is a checkpoint meanfield wrote: a directory whose header reads as ours.
fn is_meanfield_checkpoint(dir: &Path) -> bool {
    dir.join("checkpoint").symlink_metadata().is_ok_and(|m| m.is_dir()) && checkpoint::read_header(dir).is_some()
}

/// Removes what an earlier run wrote into `dir`: exactly the files its manifest lists (relative to the
/// directory, wherever it was when the manifest was written), and a checkpoint of meanfield's. Without a
/// manifest nothing says which files are a run's, so nothing but the checkpoint is removed and the other
/// files refuse the run; a file named like a result (a known output, a figure, a particle file) that the
/// manifest does not list refuses it too, since the new run would write over it.
fn remove_previous_results(dir: &Path) -> Result<(), RunDirError> {
    // Files a run may write: the fixed names, figures and particle files (a linked particle directory is
    // never a run's).
    let mut outputs: Vec<PathBuf> = list(dir)
        .into_iter()
        .filter(|name| {
            let stem = name.strip_suffix(".svg").or_else(|| name.strip_suffix(".png"));
            KNOWN_FILES.contains(&name.as_str()) || stem.is_some_and(|s| FIGURE_STEMS.iter().any(|f| s.starts_with(f)))
        })
        .map(PathBuf::from)
        .collect();
    // A `checkpoint` of someone else's: the new run would write its own into it.
    if dir.join("checkpoint").symlink_metadata().is_ok() && !is_meanfield_checkpoint(dir) {
        outputs.push(PathBuf::from("checkpoint"));
    }
    for name in PARTICLE_DIRS {
        let particles = dir.join(name);
        if particles.symlink_metadata().is_ok_and(|m| m.file_type().is_symlink()) {
            outputs.push(PathBuf::from(name));
        } else {
            outputs.extend(list(&particles).into_iter().map(|n| Path::new(name).join(n)));
        }
    }
    let listed: BTreeSet<PathBuf> = manifest_files(dir).unwrap_or_default().into_iter().collect();
    let strays: Vec<String> =
        outputs.iter().filter(|f| !listed.contains(*f)).map(|f| f.display().to_string()).collect();
    if !strays.is_empty() {
        return Err(RunDirError::Stray { dir: dir.to_owned(), found: strays.join(", ") });
    }
    if listed.is_empty() {
        let others: Vec<String> = list(dir).into_iter().filter(|n| n != LOCK_FILE && n != "checkpoint").collect();
        if !others.is_empty() {
            return Err(RunDirError::NoManifest { dir: dir.to_owned(), found: others.join(", ") });
        }
    }
    for target in listed {
        let path = dir.join(&target);
        match std::fs::remove_file(&path) {
            Err(e) if e.kind() != std::io::ErrorKind::NotFound => return Err(io(&path)(e)),
            _ => {}
        }
    }
    for name in PARTICLE_DIRS {
        let _ = std::fs::remove_dir(dir.join(name));
    }
    if is_meanfield_checkpoint(dir) {
        let checkpoint = dir.join("checkpoint");
        std::fs::remove_dir_all(&checkpoint).map_err(io(&checkpoint))?;
    }
    Ok(())
}

/// The names in a directory (none when it cannot be read).
fn list(dir: &Path) -> Vec<String> {
    std::fs::read_dir(dir)
        .map(|entries| entries.filter_map(|e| e.ok()?.file_name().into_string().ok()).collect())
        .unwrap_or_default()
}

/// The files `dir/manifest.json` lists, relative to the run directory: the manifest lists itself, which
/// says where the directory was when it was written. Entries that would leave the directory are skipped.
fn manifest_files(dir: &Path) -> Option<Vec<PathBuf>> {
    let text = std::fs::read_to_string(dir.join("manifest.json")).ok()?;
    let manifest: serde_json::Value = serde_json::from_str(&text).ok()?;
    let files: Vec<PathBuf> =
        manifest.get("files")?.as_array()?.iter().filter_map(|f| f.as_str()).map(PathBuf::from).collect();
    let base = files.iter().find(|f| f.file_name().is_some_and(|n| n == "manifest.json"))?.parent()?.to_owned();
    Some(
        files
            .iter()
            .filter_map(|f| f.strip_prefix(&base).ok())
            .filter(|f| f.components().all(|c| matches!(c, Component::Normal(_))))
            .map(Path::to_owned)
            .collect(),
    )
}

/// The exclusive lock on a run directory.
#[derive(Debug)]
struct RunLock {
    /// Held open for the lock (an flock belongs to the open file).
    _file: std::fs::File,
    path: PathBuf,
}

impl RunLock {
    fn acquire(dir: &Path) -> Result<RunLock, RunDirError> {
        let path = dir.join(LOCK_FILE);
        // A holder that finishes removes the file; a process that opened it just before and locks it just
        // after would hold a lock on a removed file. It sees that (the path no longer names its file) and
        // opens the path again.
        for _ in 0..10 {
            let mut file = std::fs::OpenOptions::new()
                .read(true)
                .write(true)
                .create(true)
                .truncate(false)
                .open(&path)
                .map_err(io(&path))?;
            if !file.try_lock_exclusive().map_err(io(&path))? {
                let mut text = String::new();
                let _ = file.read_to_string(&mut text);
                let holder = match text.trim() {
                    "" => "it is starting".to_owned(),
                    pid => format!("pid {pid}"),
                };
                return Err(RunDirError::Locked { dir: dir.to_owned(), holder });
            }
            if !names_file(&path, &file) {
                continue;
            }
            file.set_len(0)
                .and_then(|()| file.rewind())
                .and_then(|()| writeln!(file, "{}", std::process::id()))
                .and_then(|()| file.flush())
                .map_err(io(&path))?;
            return Ok(RunLock { _file: file, path });
        }
        Err(io(&path)(std::io::Error::other("the lock file keeps being replaced")))
    }
}

impl Drop for RunLock {
    fn drop(&mut self) {
        // Removed while still locked (the lock goes with the file handle, right after), so no run ever
        // sees this run's pid once it is gone.
        let _ = std::fs::remove_file(&self.path);
    }
}

#[cfg(unix)]
fn names_file(path: &Path, file: &std::fs::File) -> bool {
    use std::os::unix::fs::MetadataExt;
    match (std::fs::metadata(path), file.metadata()) {
        (Ok(a), Ok(b)) => a.dev() == b.dev() && a.ino() == b.ino(),
        _ => false,
    }
}

#[cfg(not(unix))]
fn names_file(path: &Path, _file: &std::fs::File) -> bool {
    path.exists()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_locked_directory_is_refused_with_the_pid_and_released_on_drop() {
        let dir = tempfile::tempdir().unwrap();
        let first = RunDir::claim(dir.path(), false, "abc").unwrap();
        let pid = std::fs::read_to_string(dir.path().join(LOCK_FILE)).unwrap();
        assert_eq!(pid.trim(), std::process::id().to_string());
        // flock locks belong to open file descriptions, so a second open in this process conflicts too.
        let second = RunDir::claim(dir.path(), false, "abc").unwrap_err();
        assert!(second.to_string().contains(&format!("pid {}", std::process::id())), "{second}");
        drop(first);
        assert!(!dir.path().join(LOCK_FILE).exists());
        // A stale lock file (a killed run's) does not block.
        std::fs::write(dir.path().join(LOCK_FILE), "999999\n").unwrap();
        RunDir::claim(dir.path(), false, "abc").unwrap();
    }

    #[test]
    fn new_directories_never_reuse_a_name_and_latest_follows_the_finished_one() {
        let root = tempfile::tempdir().unwrap();
        let a = RunDir::new_under(root.path()).unwrap();
        let b = RunDir::new_under(root.path()).unwrap();
        assert_ne!(a.path(), b.path());
        let names = [a.path(), b.path()].map(|p| p.file_name().unwrap().to_str().unwrap().to_owned());
        assert!(names.iter().all(|n| is_dated(n)), "{names:?}");
        for other in ["latest", "2026-12-04T18-50-12-1", "2026-13-04T18-50-12", "2026-12-04T18-50-12x", "out"] {
            assert!(!is_dated(other), "{other}");
        }
        b.finish().unwrap();
        assert_eq!(std::fs::read_link(root.path().join(LATEST)).unwrap(), b.path().file_name().unwrap());
        a.finish().unwrap();
        assert_eq!(std::fs::read_link(root.path().join(LATEST)).unwrap(), a.path().file_name().unwrap());
        // A resumed dated run moves latest when it finishes; a resumed directory of another name does not.
        let b_path = b.path().to_owned();
        drop((a, b));
        RunDir::resume(&b_path).unwrap().finish().unwrap();
        assert_eq!(std::fs::read_link(root.path().join(LATEST)).unwrap(), b_path.file_name().unwrap());
        let named = root.path().join("mine");
        std::fs::create_dir(&named).unwrap();
        RunDir::resume(&named).unwrap().finish().unwrap();
        assert_eq!(std::fs::read_link(root.path().join(LATEST)).unwrap(), b_path.file_name().unwrap());
        // A real directory named latest is not replaced.
        let other = tempfile::tempdir().unwrap();
        std::fs::create_dir(other.path().join(LATEST)).unwrap();
        assert!(matches!(RunDir::new_under(other.path()), Err(RunDirError::Latest { .. })));
    }

    /// The particle files of a run from before their rename sit in `snapshots/`, and go too.
    #[test]
    fn force_removes_what_the_manifest_lists_and_keeps_other_files() {
        let dir = tempfile::tempdir().unwrap();
        let old = Path::new("/somewhere/else/run");
        let listed = [
            old.join("timeseries.csv"),
            old.join("risk.svg"),
            old.join("particles/x.npy"),
            old.join("snapshots/y.npy"),
            old.join("manifest.json"),
        ];
        std::fs::create_dir(dir.path().join("particles")).unwrap();
        std::fs::create_dir(dir.path().join("snapshots")).unwrap();
        for file in ["timeseries.csv", "risk.svg", "particles/x.npy", "snapshots/y.npy", "notes.txt", "by_hand.svg"] {
            std::fs::write(dir.path().join(file), "x").unwrap();
        }
        let manifest = serde_json::json!({ "files": listed });
        std::fs::write(dir.path().join("manifest.json"), manifest.to_string()).unwrap();
        let refused = RunDir::claim(dir.path(), false, "abc").unwrap_err();
        assert!(matches!(refused, RunDirError::Occupied { .. }), "{refused}");
        drop(RunDir::claim(dir.path(), true, "abc").unwrap());
        let mut left = list(dir.path());
        left.sort();
        assert_eq!(left, ["by_hand.svg", "notes.txt"]);
        // A file named like a figure that the manifest does not list: refused, not overwritten.
        std::fs::write(dir.path().join("manifest.json"), manifest.to_string()).unwrap();
        std::fs::write(dir.path().join("risk_by_hand.svg"), "mine").unwrap();
        let refused = RunDir::claim(dir.path(), true, "abc").unwrap_err();
        assert!(refused.to_string().contains("holds risk_by_hand.svg, named like"), "{refused}");
        assert_eq!(std::fs::read_to_string(dir.path().join("risk_by_hand.svg")).unwrap(), "mine");
    }

    /// What is not provably a run's is never removed, with or without --force: a `checkpoint` folder of the
    /// user's, a known output name the manifest does not list, particle files behind a link, files without a
    /// manifest.
    #[test]
    fn force_never_removes_what_no_manifest_or_header_says_is_a_run() {
        let check = |setup: &dyn Fn(&Path), refusal: &str| {
            let dir = tempfile::tempdir().unwrap();
            setup(dir.path());
            let before = list(dir.path()).len();
            for force in [false, true] {
                let refused = RunDir::claim(dir.path(), force, "abc").unwrap_err().to_string();
                let expected = if force { refusal } else { "already holds results" };
                assert!(refused.contains(expected), "force {force}: {refused}");
                assert_eq!(list(dir.path()).len(), before, "force {force}: something was removed");
            }
        };
        let manifest = |dir: &Path, files: &[&str]| {
            let listed: Vec<PathBuf> = files.iter().map(|f| dir.join(f)).collect();
            let text = serde_json::json!({ "files": listed }).to_string();
            std::fs::write(dir.join("manifest.json"), text).unwrap();
        };
        check(
            &|dir| {
                std::fs::create_dir(dir.join("checkpoint")).unwrap();
                std::fs::write(dir.join("checkpoint/model.pt"), "weights").unwrap();
                manifest(dir, &["manifest.json"]);
            },
            "holds checkpoint, named like",
        );
        check(
            &|dir| {
                std::fs::write(dir.join("study.csv"), "mine").unwrap();
                manifest(dir, &["manifest.json"]);
            },
            "holds study.csv, named like",
        );
        check(
            &|dir| {
                let elsewhere = dir.join("elsewhere");
                std::fs::create_dir(&elsewhere).unwrap();
                std::fs::write(elsewhere.join("x.npy"), "mine").unwrap();
                std::os::unix::fs::symlink(&elsewhere, dir.join("particles")).unwrap();
                manifest(dir, &["manifest.json", "particles/x.npy"]);
            },
            "holds particles, named like",
        );
        check(&|dir| std::fs::write(dir.join("notes.txt"), "mine").unwrap(), "no manifest.json of a meanfield run");
    }
}
