//! The checkpoint directory of a run, `<output>/checkpoint/`: what lets `meanfield run FILE --resume DIR`
//! continue an interrupted run with byte-identical results.
//!
//! - `header.ron`: the SHA-256 of the scenario's canonical form (and of each of its top-level fields, to
//!   name what differs), the program version and the points (label, replicas, steps); a checkpoint is
//!   only resumed by the same scenario and version. Comments and layout are not part of the scenario.
//! - `finished.log`: one line per finished replica, appended as it finishes. A kill can tear only the
//!   last line, which is then ignored (that replica runs again).
//! - `running/p<point>-r<replica>.ron`: the latest state of a running replica, rewritten atomically every
//!   interval and when the run stops; removed when the replica finishes.
//!
//! Every line is `<sha256 of the rest> <RON>`, so a corrupted file is refused rather than resumed wrong.
//! RON writes floats in Rust's shortest round-trip form, so states are restored exactly.

use crate::AtomicFile;
use meanfield_core::{Checkpoints, ReplicaResult, ReplicaState, Saved, SinkError};
use rayon::prelude::*;
use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};
use std::collections::HashMap;
use std::io::Write;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

const FORMAT: u32 = 1;
const FINISHED: &str = "finished.log";
const RUNNING: &str = "running";
const HEADER: &str = "header.ron";

/// What a checkpoint belongs to.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct CheckpointHeader {
    pub format: u32,
    pub scenario_sha256: String,
    /// Per top-level field of the scenario: its name and the SHA-256 of its canonical form.
    #[serde(default)]
    pub scenario_fields: Vec<(String, String)>,
    pub meanfield_version: String,
    /// Per point: label, replicas, steps.
    pub points: Vec<(String, usize, u64)>,
}

impl CheckpointHeader {
    pub fn new(scenario_sha256: String, meanfield_version: String, points: Vec<(String, usize, u64)>) -> Self {
        CheckpointHeader { format: FORMAT, scenario_sha256, scenario_fields: Vec::new(), meanfield_version, points }
    }

    /// The same header with the per-field hashes that name what differs when another scenario resumes it.
    pub fn with_fields(self, scenario_fields: Vec<(String, String)>) -> Self {
        CheckpointHeader { scenario_fields, ..self }
    }

    /// The top-level fields whose values differ between the two scenarios (empty when a header has none).
    fn differing_fields(&self, other: &CheckpointHeader) -> Vec<String> {
        let theirs: HashMap<&str, &str> = other.scenario_fields.iter().map(|(k, v)| (k.as_str(), v.as_str())).collect();
        let mine: HashMap<&str, &str> = self.scenario_fields.iter().map(|(k, v)| (k.as_str(), v.as_str())).collect();
        let mut names: Vec<String> = mine
            .iter()
            .filter(|(name, hash)| theirs.get(*name) != Some(*hash))
            .map(|(name, _)| name.to_string())
            .chain(theirs.keys().filter(|name| !mine.contains_key(*name)).map(|name| name.to_string()))
            .collect();
        names.sort();
        names
    }
}

/// The header of the checkpoint in `<output>/checkpoint`, when there is a readable one.
pub fn read_header(output: &Path) -> Option<CheckpointHeader> {
    ron::from_str(&std::fs::read_to_string(output.join("checkpoint").join(HEADER)).ok()?).ok()
}

/// Whether `<output>/checkpoint` holds work to resume: a finished replica or a running one's saved state.
/// A checkpoint without either (a run stopped or aborted before its first save) holds nothing to lose. A
/// checkpoint that cannot be read counts as work: it is never thrown away unasked.
pub fn has_progress(output: &Path) -> bool {
    let dir = output.join("checkpoint");
    if !dir.exists() {
        return false;
    }
    let finished = match std::fs::read(dir.join(FINISHED)) {
        Ok(log) => log.contains(&b'\n'),
        Err(e) => e.kind() != std::io::ErrorKind::NotFound,
    };
    let running = match std::fs::read_dir(dir.join(RUNNING)) {
        Ok(entries) => entries.filter_map(Result::ok).any(|e| e.path().extension().is_some_and(|x| x == "ron")),
        Err(e) => e.kind() != std::io::ErrorKind::NotFound,
    };
    finished || running
}

#[derive(Debug, thiserror::Error)]
pub enum CheckpointError {
    #[error("{dir} holds no checkpoint to resume (no {HEADER}): was it written by an interrupted run?")]
    Missing { dir: PathBuf },
    #[error(
        "the checkpoint in {dir} is from another scenario ({differs}): resume with the scenario file that started it"
    )]
    OtherScenario { dir: PathBuf, differs: String },
    #[error(
        "the checkpoint in {dir} was written by meanfield {found} (format {format}), this is {expected}: results would not be byte-identical, so it is not resumed"
    )]
    OtherVersion { dir: PathBuf, expected: String, found: String, format: u32 },
    #[error("the checkpoint in {dir} is for other points ({found}), this scenario has {expected}")]
    OtherPoints { dir: PathBuf, expected: String, found: String },
    #[error(
        "the checkpoint file {file} is corrupted at line {line}: {reason}; it cannot be resumed (delete the directory to start over)"
    )]
    Corrupted { file: PathBuf, line: usize, reason: String },
    #[error(
        "{dir} holds the checkpoint of an interrupted run: continue it with `--resume {dir}`, or add --force to start over"
    )]
    Exists { dir: PathBuf },
    #[error(transparent)]
    Io(#[from] SinkError),
}

/// A run's checkpoint directory, shared by the worker threads as their [`Checkpoints`].
#[derive(Debug)]
pub struct CheckpointStore {
    dir: PathBuf,
    interval: Option<Duration>,
    stop: Arc<AtomicBool>,
    saved: HashMap<(usize, usize), Saved>,
    log: Mutex<std::fs::File>,
    /// The first failure to write (then the run stops), and whether there was one (read without a lock by
    /// every replica at every check).
    error: Mutex<Option<SinkError>>,
    failed: AtomicBool,
    finished: AtomicUsize,
}

impl CheckpointStore {
    /// A fresh checkpoint in `<output>/checkpoint`. One left by an interrupted run is not replaced: that
    /// would throw away its work; the user resumes it or deletes it. One without work (see
    /// [`has_progress`]) is replaced.
    pub fn create(
        output: &Path,
        header: &CheckpointHeader,
        interval: Option<Duration>,
        stop: Arc<AtomicBool>,
    ) -> Result<CheckpointStore, CheckpointError> {
        let dir = output.join("checkpoint");
        if has_progress(output) {
            return Err(CheckpointError::Exists { dir: output.to_owned() });
        }
        if dir.exists() {
            std::fs::remove_dir_all(&dir).map_err(|e| SinkError::io(&dir, e))?;
        }
        std::fs::create_dir_all(dir.join(RUNNING)).map_err(|e| SinkError::io(&dir, e))?;
        let text = ron::ser::to_string_pretty(header, ron::ser::PrettyConfig::default())
            .map_err(|e| SinkError::Serialize { what: HEADER.into(), message: e.to_string() })?;
        AtomicFile::write_all(&dir.join(HEADER), text.as_bytes())?;
        Self::open(dir, HashMap::new(), interval, stop)
    }

    /// The checkpoint in `<output>/checkpoint`, checked against `header`, with everything it saved.
    pub fn resume(
        output: &Path,
        header: &CheckpointHeader,
        interval: Option<Duration>,
        stop: Arc<AtomicBool>,
    ) -> Result<CheckpointStore, CheckpointError> {
        let dir = output.join("checkpoint");
        let found: CheckpointHeader = match std::fs::read_to_string(dir.join(HEADER)) {
            Err(_) => return Err(CheckpointError::Missing { dir: output.to_owned() }),
            Ok(text) => ron::from_str(&text).map_err(|e| CheckpointError::Corrupted {
                file: dir.join(HEADER),
                line: e.span.start.line,
                reason: e.code.to_string(),
            })?,
        };
        if found.scenario_sha256 != header.scenario_sha256 {
            let differs = match header.differing_fields(&found).as_slice() {
                [] => format!("SHA-256 {}, this file has {}", found.scenario_sha256, header.scenario_sha256),
                fields => format!("it differs in {}", fields.join(", ")),
            };
            return Err(CheckpointError::OtherScenario { dir: output.to_owned(), differs });
        }
        if found.meanfield_version != header.meanfield_version || found.format != FORMAT {
            return Err(CheckpointError::OtherVersion {
                dir: output.to_owned(),
                expected: header.meanfield_version.clone(),
                found: found.meanfield_version,
                format: found.format,
            });
        }
        if found.points != header.points {
            let describe = |p: &[(String, usize, u64)]| format!("{} point(s)", p.len());
            return Err(CheckpointError::OtherPoints {
                dir: output.to_owned(),
                expected: describe(&header.points),
                found: describe(&found.points),
            });
        }
        let mut saved = HashMap::new();
        let mut running: Vec<PathBuf> = std::fs::read_dir(dir.join(RUNNING))
            .map_err(|e| SinkError::io(dir.join(RUNNING), e))?
            .filter_map(|e| e.ok().map(|e| e.path()))
            .filter(|p| p.extension().is_some_and(|x| x == "ron"))
            .collect();
        running.sort();
        for path in running {
            let text = std::fs::read_to_string(&path).map_err(|e| SinkError::io(&path, e))?;
            let entry = parse_line(text.trim_end_matches('\n'), &path, 1)?;
            saved.insert((entry.point, entry.replica()), entry.saved);
        }
        let log_path = dir.join(FINISHED);
        let log = std::fs::read_to_string(&log_path).unwrap_or_default();
        let complete = log.rfind('\n').map_or("", |end| &log[..end]);
        // Parsed in parallel (a merge reads every replica of a run here), inserted in file order.
        let lines: Vec<&str> = complete.lines().collect();
        let entries: Vec<Entry> = lines
            .par_iter()
            .enumerate()
            .map(|(i, line)| parse_line(line, &log_path, i + 1))
            .collect::<Result<_, _>>()?;
        for entry in entries {
            saved.insert((entry.point, entry.replica()), entry.saved);
        }
        // Drop a torn last line so that appends start on a line of their own.
        if complete.len() + 1 != log.len() && !log.is_empty() {
            let keep = if complete.is_empty() { 0 } else { complete.len() + 1 };
            let file =
                std::fs::OpenOptions::new().write(true).open(&log_path).map_err(|e| SinkError::io(&log_path, e))?;
            file.set_len(keep as u64).map_err(|e| SinkError::io(&log_path, e))?;
        }
        Self::open(dir, saved, interval, stop)
    }

    fn open(
        dir: PathBuf,
        saved: HashMap<(usize, usize), Saved>,
        interval: Option<Duration>,
        stop: Arc<AtomicBool>,
    ) -> Result<CheckpointStore, CheckpointError> {
        let path = dir.join(FINISHED);
        let log =
            std::fs::OpenOptions::new().create(true).append(true).open(&path).map_err(|e| SinkError::io(&path, e))?;
        let finished = saved.values().filter(|s| matches!(s, Saved::Finished(_))).count();
        Ok(CheckpointStore {
            dir,
            interval,
            stop,
            saved,
            log: Mutex::new(log),
            error: Mutex::new(None),
            failed: AtomicBool::new(false),
            finished: AtomicUsize::new(finished),
        })
    }

    pub fn dir(&self) -> &Path {
        &self.dir
    }

    /// Replicas finished so far, including those restored.
    pub fn finished_count(&self) -> usize {
        self.finished.load(Ordering::Relaxed)
    }

    /// The first write failure, which stopped the run.
    pub fn take_error(&self) -> Option<SinkError> {
        self.error.lock().ok().and_then(|mut e| e.take())
    }

    /// Removes the directory: the run's results are complete.
    pub fn remove(self) -> Result<(), SinkError> {
        drop(self.log);
        std::fs::remove_dir_all(&self.dir).map_err(|e| SinkError::io(&self.dir, e))
    }

    fn fail(&self, error: SinkError) {
        self.failed.store(true, Ordering::SeqCst);
        if let Ok(mut slot) = self.error.lock()
            && slot.is_none()
        {
            *slot = Some(error);
        }
    }

    fn running_path(&self, point: usize, replica: usize) -> PathBuf {
        self.dir.join(RUNNING).join(format!("p{point}-r{replica}.ron"))
    }
}

/// The finished replicas of point `point` in the checkpoint in `<from>/checkpoint`, whose header must be
/// `header` (the same scenario, version and points), in the order they finished: how a merge reads its
/// shards one point at a time. Streams the log, holding only that point's lines (told apart by the
/// point number each line starts with), which are parsed and checked in parallel; a torn last line is not
/// read. Also returns the bytes read.
pub fn read_finished(
    from: &Path,
    header: &CheckpointHeader,
    point: usize,
) -> Result<(Vec<ReplicaResult>, u64), CheckpointError> {
    use std::io::BufRead;
    let dir = from.join("checkpoint");
    let path = dir.join(HEADER);
    let text = std::fs::read_to_string(&path).map_err(|_| CheckpointError::Missing { dir: from.to_owned() })?;
    let found: CheckpointHeader = ron::from_str(&text).map_err(|e| CheckpointError::Corrupted {
        file: path,
        line: e.span.start.line,
        reason: e.code.to_string(),
    })?;
    if found != *header {
        let differs = match header.differing_fields(&found).as_slice() {
            [] => "its header differs".to_owned(),
            fields => format!("it differs in {}", fields.join(", ")),
        };
        return Err(CheckpointError::OtherScenario { dir: from.to_owned(), differs });
    }
    let log = dir.join(FINISHED);
    let file = std::fs::File::open(&log).map_err(|e| SinkError::io(&log, e))?;
    let mut reader = std::io::BufReader::with_capacity(1 << 20, file);
    let (mut lines, mut line, mut number, mut bytes) = (Vec::new(), Vec::new(), 0, 0);
    loop {
        line.clear();
        let n = reader.read_until(b'\n', &mut line).map_err(|e| SinkError::io(&log, e))?;
        if n == 0 || line.last() != Some(&b'\n') {
            break;
        }
        number += 1;
        bytes += n as u64;
        // Copied at its length: the reading buffer's capacity is reused, not kept with every line.
        let text = std::str::from_utf8(&line)
            .map_err(|_| CheckpointError::Corrupted { file: log.clone(), line: number, reason: "not UTF-8".into() })?
            .to_owned();
        // `<checksum> (point:<p>,saved:…)`: another point's line is skipped unparsed.
        let other = text
            .split_once(' ')
            .and_then(|(_, body)| body.strip_prefix("(point:"))
            .and_then(|rest| rest.split(',').next())
            .and_then(|p| p.parse::<usize>().ok())
            .is_some_and(|p| p != point);
        if !other {
            lines.push((number, text));
        }
    }
    let entries: Vec<Entry> = lines
        .par_iter()
        .map(|(number, text)| parse_line(text.trim_end_matches('\n'), &log, *number))
        .collect::<Result<_, _>>()?;
    let results = entries
        .into_iter()
        .filter(|e| e.point == point)
        .filter_map(|e| match e.saved {
            Saved::Finished(result) => Some(result),
            Saved::Running(_) => None,
        })
        .collect();
    Ok((results, bytes))
}

#[derive(Debug, Serialize, Deserialize)]
struct Entry {
    point: usize,
    saved: Saved,
}

impl Entry {
    fn replica(&self) -> usize {
        match &self.saved {
            Saved::Finished(r) => r.replica,
            Saved::Running(s) => s.replica,
        }
    }

    fn line(&self) -> Result<String, SinkError> {
        let body = ron::to_string(self)
            .map_err(|e| SinkError::Serialize { what: "a checkpoint entry".into(), message: e.to_string() })?;
        Ok(format!("{} {body}\n", hex(&Sha256::digest(body.as_bytes()))))
    }
}

fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

fn parse_line(line: &str, file: &Path, number: usize) -> Result<Entry, CheckpointError> {
    let corrupted = |reason: String| CheckpointError::Corrupted { file: file.to_owned(), line: number, reason };
    let (sum, body) = line.split_once(' ').ok_or_else(|| corrupted("no checksum".into()))?;
    if hex(&Sha256::digest(body.as_bytes())) != sum {
        return Err(corrupted("its checksum does not match its contents".into()));
    }
    ron::from_str(body).map_err(|e| corrupted(e.to_string()))
}

impl Checkpoints for CheckpointStore {
    fn saved(&self, point: usize, replica: usize) -> Option<Saved> {
        self.saved.get(&(point, replica)).cloned()
    }

    fn interval(&self) -> Option<Duration> {
        self.interval
    }

    fn stopping(&self) -> bool {
        self.stop.load(Ordering::Relaxed) || self.failed.load(Ordering::Relaxed)
    }

    fn save(&self, point: usize, state: &ReplicaState) {
        let path = self.running_path(point, state.replica);
        let written = Entry { point, saved: Saved::Running(state.clone()) }
            .line()
            .and_then(|line| AtomicFile::write_all(&path, line.as_bytes()));
        if let Err(e) = written {
            self.fail(e);
        }
    }

    fn finished(&self, point: usize, result: &ReplicaResult) {
        let path = self.dir.join(FINISHED);
        let line = match (Entry { point, saved: Saved::Finished(result.clone()) }).line() {
            Ok(line) => line,
            Err(e) => return self.fail(e),
        };
        let Ok(mut log) = self.log.lock() else {
            return self.fail(SinkError::io(&path, std::io::Error::other("a writer panicked")));
        };
        // After a failed append the log may end in a partial line: nothing may follow it. Both the check
        // and the marking happen under the lock, so no append slips in between.
        if self.failed.load(Ordering::SeqCst) {
            return;
        }
        if let Err(e) = log.write_all(line.as_bytes()).and_then(|()| log.flush()) {
            return self.fail(SinkError::io(&path, e));
        }
        drop(log);
        self.finished.fetch_add(1, Ordering::Relaxed);
        let _ = std::fs::remove_file(self.running_path(point, result.replica));
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use meanfield_core::Record;

    fn header() -> CheckpointHeader {
        CheckpointHeader::new("abc".into(), "0.1.0".into(), vec![("width=8".into(), 2, 100)])
    }

    fn state(replica: usize) -> ReplicaState {
        ReplicaState {
            replica,
            done: 7,
            // Values whose shortest decimal form is long, and the non-finite ones.
            params: vec![0.1 + 0.2, 1.0 / 3.0, -2.5e-300, f64::MIN_POSITIVE, 5e-324],
            data_position: u128::from(u64::MAX) + 5,
            noise_position: 3,
            records: vec![Record { step: 4, time: 0.4, values: vec![f64::NAN, f64::INFINITY, 1e300] }],
            particles: Vec::new(),
            log_weight: -0.75,
        }
    }

    #[test]
    fn states_round_trip_exactly_and_finished_replicas_win() {
        let out = tempfile::tempdir().unwrap();
        let stop = Arc::new(AtomicBool::new(false));
        let store = CheckpointStore::create(out.path(), &header(), None, stop.clone()).unwrap();
        store.save(0, &state(0));
        let error = store.take_error();
        assert!(error.is_none(), "{error:?}");
        store.save(0, &state(1));
        let result =
            ReplicaResult { replica: 1, records: Vec::new(), divergence: None, log_weight: 0.0, particles: Vec::new() };
        store.finished(0, &result);
        drop(store);
        let resumed = CheckpointStore::resume(out.path(), &header(), None, stop).unwrap();
        let got = resumed.saved(0, 0);
        let Some(Saved::Running(back)) = got else {
            panic!(
                "replica 0 is running: {got:?} {:?}",
                std::fs::read_dir(out.path().join("checkpoint/running")).unwrap().collect::<Vec<_>>()
            )
        };
        let bits = |v: &[f64]| v.iter().map(|x| x.to_bits()).collect::<Vec<_>>();
        assert_eq!(bits(&back.params), bits(&state(0).params));
        assert_eq!(bits(&back.records[0].values), bits(&state(0).records[0].values));
        assert_eq!(back.data_position, state(0).data_position);
        assert_eq!(resumed.saved(0, 1), Some(Saved::Finished(result)));
        assert_eq!(resumed.finished_count(), 1);
    }

    #[test]
    fn torn_last_lines_are_dropped_and_corrupted_lines_refused() {
        let out = tempfile::tempdir().unwrap();
        let stop = Arc::new(AtomicBool::new(false));
        let store = CheckpointStore::create(out.path(), &header(), None, stop.clone()).unwrap();
        let result = |replica| ReplicaResult {
            replica,
            records: Vec::new(),
            divergence: None,
            log_weight: 0.0,
            particles: Vec::new(),
        };
        store.finished(0, &result(0));
        store.finished(0, &result(1));
        drop(store);
        let log = out.path().join("checkpoint").join(FINISHED);
        let text = std::fs::read_to_string(&log).unwrap();
        // A kill in the middle of the second append.
        std::fs::write(&log, &text[..text.len() - 10]).unwrap();
        let resumed = CheckpointStore::resume(out.path(), &header(), None, stop.clone()).unwrap();
        assert!(resumed.saved(0, 0).is_some() && resumed.saved(0, 1).is_none());
        drop(resumed);
        assert_eq!(std::fs::read_to_string(&log).unwrap(), text.lines().next().unwrap().to_owned() + "\n");
        // One changed digit in a complete line.
        std::fs::write(&log, text.replacen("replica:0", "replica:3", 1)).unwrap();
        let error = CheckpointStore::resume(out.path(), &header(), None, stop.clone()).unwrap_err();
        assert!(matches!(error, CheckpointError::Corrupted { line: 1, .. }), "{error}");
        let other = CheckpointHeader { scenario_sha256: "def".into(), ..header() };
        let error = CheckpointStore::resume(out.path(), &other, None, stop).unwrap_err();
        assert!(error.to_string().contains("another scenario"), "{error}");
    }

    #[test]
    fn a_checkpoint_without_work_is_replaced_and_one_with_work_is_not() {
        let out = tempfile::tempdir().unwrap();
        let stop = Arc::new(AtomicBool::new(false));
        let fields = |seed: &str| vec![("name".to_owned(), "n".to_owned()), ("seed".to_owned(), seed.to_owned())];
        let first = header().with_fields(fields("1"));
        drop(CheckpointStore::create(out.path(), &first, None, stop.clone()).unwrap());
        assert!(!has_progress(out.path()), "a header and an empty log are no work");
        let store = CheckpointStore::create(out.path(), &first, None, stop.clone()).unwrap();
        store.save(0, &state(0));
        drop(store);
        assert!(has_progress(out.path()), "a saved state is work");
        let error = CheckpointStore::create(out.path(), &first, None, stop.clone()).unwrap_err();
        assert!(matches!(error, CheckpointError::Exists { .. }), "{error}");
        // Another value of one field: named.
        let other = CheckpointHeader { scenario_sha256: "def".into(), ..header().with_fields(fields("2")) };
        let error = CheckpointStore::resume(out.path(), &other, None, stop).unwrap_err();
        assert!(error.to_string().contains("(it differs in seed)"), "{error}");
    }

    #[test]
    fn a_merge_reads_one_point_of_a_log() {
        let out = tempfile::tempdir().unwrap();
        let stop = Arc::new(AtomicBool::new(false));
        let two_points =
            CheckpointHeader::new("abc".into(), "0.1.0".into(), vec![("a".into(), 3, 10), ("b".into(), 12, 10)]);
        let store = CheckpointStore::create(out.path(), &two_points, None, stop.clone()).unwrap();
        let result = |replica| ReplicaResult {
            replica,
            records: vec![meanfield_core::Record { step: 1, time: 0.1, values: vec![replica as f64 / 3.0] }],
            divergence: None,
            log_weight: 0.0,
            particles: Vec::new(),
        };
        // Both points, finished out of order, and a running state that is not a finished replica.
        for (point, replica) in [(1, 2), (0, 0), (1, 10), (0, 2), (1, 0)] {
            store.finished(point, &result(replica));
        }
        store.save(1, &state(5));
        drop(store);
        let (first, _) = read_finished(out.path(), &two_points, 0).unwrap();
        assert_eq!(first, vec![result(0), result(2)]);
        let (second, bytes) = read_finished(out.path(), &two_points, 1).unwrap();
        assert_eq!(second, vec![result(2), result(10), result(0)], "finished ones only, in order");
        let log = out.path().join("checkpoint").join(FINISHED);
        assert_eq!(bytes, std::fs::metadata(&log).unwrap().len(), "the whole log is read");
        // A torn last line is not read; another scenario's log is refused.
        let text = std::fs::read_to_string(&log).unwrap();
        std::fs::write(&log, &text[..text.len() - 5]).unwrap();
        assert_eq!(read_finished(out.path(), &two_points, 1).unwrap().0.len(), 2);
        let error = read_finished(out.path(), &header(), 1).unwrap_err();
        assert!(error.to_string().contains("another scenario"), "{error}");
    }
}
