//! `meanfield slurm`: a scenario's shards as a Slurm job array, and their merge as a job that runs
//! after it. The job directory holds the scenario frozen as resolved (what it extends and its overrides
//! applied: a queued task cannot see later edits), the two sbatch scripts and the tasks' logs.

use crate::CheckedScenario;
use crate::checked::budget::Holding;
use crate::shard::{Shard, absolute, check_shards, quote, run_dir};
use meanfield_sinks::{AtomicFile, SinkError};
use std::path::PathBuf;

/// What the job scripts ask of Slurm, and where they write.
#[derive(Debug, Clone)]
pub struct SlurmOptions {
    pub shards: usize,
    pub partition: Option<String>,
    /// `--time` as Slurm reads it (`MM`, `HH:MM:SS`, `D-HH:MM:SS`, …).
    pub time: Option<String>,
    pub cpus_per_task: usize,
    pub account: Option<String>,
    /// `--mem` as Slurm reads it (`500M`, `4G`); `None`: the scenario's memory estimate per shard.
    pub mem: Option<String>,
    /// The run directory (its `shards/` and the merged result); `None`: as `meanfield run --shard`.
    pub out: Option<PathBuf>,
    /// Where the scripts go; `None`: `<run directory>/slurm`.
    pub job_dir: Option<PathBuf>,
    /// The `meanfield` the tasks run (this one).
    pub program: PathBuf,
    /// The directory the tasks run in (relative `output` roots start there).
    pub workdir: PathBuf,
}

#[derive(Debug, thiserror::Error)]
pub enum SlurmError {
    #[error("--{option} {value:?}: {reason}")]
    Option { option: &'static str, value: String, reason: String },
    #[error(
        "{what} {path:?} has a space or a %, which an #SBATCH line cannot hold: run from, or write to, another directory"
    )]
    Path { what: &'static str, path: String },
    #[error(transparent)]
    Shard(#[from] crate::shard::ShardError),
    #[error(transparent)]
    Write(#[from] SinkError),
    #[error(
        "{} already holds the job scripts of another submission ({file} differs): queued tasks run those, so choose another --job-dir or --out",
        dir.display()
    )]
    JobExists { dir: PathBuf, file: String },
    #[error("cannot run `{command}`: {reason}")]
    Sbatch { command: String, reason: String },
}

/// The files of a job directory.
#[derive(Debug, Clone)]
pub struct SlurmJob {
    pub dir: PathBuf,
    pub scenario: PathBuf,
    pub array: PathBuf,
    pub merge: PathBuf,
    /// The run directory: the shards, then the merged result.
    pub run_dir: PathBuf,
    pub array_text: String,
    pub merge_text: String,
    pub shards: usize,
}

/// Slurm's time formats: minutes, minutes:seconds, hours:minutes:seconds, days-hours,
/// days-hours:minutes, days-hours:minutes:seconds.
fn valid_time(text: &str) -> bool {
    let digits = |s: &str| !s.is_empty() && s.chars().all(|c| c.is_ascii_digit());
    let (days, clock) = match text.split_once('-') {
        Some((days, clock)) => (Some(days), clock),
        None => (None, text),
    };
    let parts: Vec<&str> = clock.split(':').collect();
    days.is_none_or(digits) && parts.iter().all(|p| digits(p)) && (1..=3).contains(&parts.len())
}

fn check_options(options: &SlurmOptions) -> Result<(), SlurmError> {
    let refuse = |option, value: &str, reason: &str| {
        Err(SlurmError::Option { option, value: value.to_owned(), reason: reason.to_owned() })
    };
    if let Some(time) = &options.time
        && !valid_time(time)
    {
        return refuse("time", time, "expected Slurm's form: MINUTES, HH:MM:SS or DAYS-HH:MM:SS");
    }
    if let Some(mem) = &options.mem {
        let number = mem.trim_end_matches(['K', 'M', 'G', 'T']);
        if number.is_empty() || !number.chars().all(|c| c.is_ascii_digit()) || mem.len() > number.len() + 1 {
            return refuse("mem", mem, "expected a size such as 500M or 4G");
        }
    }
    for (option, value) in [("partition", &options.partition), ("account", &options.account)] {
        if let Some(value) = value
            && (value.is_empty() || !value.chars().all(|c| c.is_ascii_alphanumeric() || "_.,-".contains(c)))
        {
            return refuse(option, value, "expected a Slurm name (letters, digits, _ . , -)");
        }
    }
    if options.cpus_per_task == 0 {
        return refuse("cpus-per-task", "0", "a task needs at least one CPU");
    }
    Ok(())
}

/// `bytes` for `--mem`, in whole MiB, with room for the program itself.
fn mem_of(bytes: u128) -> String {
    const MIB: u128 = 1 << 20;
    format!("{}M", (bytes + 256 * MIB).div_ceil(MIB))
}

/// The memory a task holding `holding` of `scenario`'s results needs on `threads` threads.
fn memory_of(scenario: &CheckedScenario, holding: Holding, threads: usize) -> u128 {
    scenario.memory.for_process(&scenario.spec, &scenario.base_dir, holding, threads).bytes.0
}

/// Writes the job directory: the frozen scenario, `array.sh` (one task per shard) and `merge.sh`.
/// Rewriting the same job is allowed; another job's scripts are not replaced.
pub fn write_job(scenario: &CheckedScenario, options: &SlurmOptions) -> Result<SlurmJob, SlurmError> {
    check_options(options)?;
    check_shards(scenario, Shard { index: 0, count: options.shards })?;
    let run_dir = absolute(&run_dir(scenario, options.out.as_deref()));
    let dir = absolute(&options.job_dir.clone().unwrap_or_else(|| run_dir.join(meanfield_sinks::JOBS)));
    let (scenario_file, array, merge) = (dir.join("scenario.ron"), dir.join("array.sh"), dir.join("merge.sh"));
    let logs = dir.join("logs");
    let n = options.shards;
    let program = quote(&absolute(&options.program).display().to_string());
    let base_dir = quote(&absolute(&scenario.base_dir).display().to_string());
    let name = &scenario.spec.name;
    // A job name is one word in the #SBATCH line and in squeue's columns.
    let job: String =
        name.chars().map(|c| if c.is_ascii_alphanumeric() || "_.-".contains(c) { c } else { '_' }).collect();
    // #SBATCH values are not shell words: a space would end one, and Slurm expands % in file names.
    let workdir = absolute(&options.workdir);
    for (what, path) in [("the job directory (--job-dir)", &logs), ("the current directory", &workdir)] {
        let path = path.display().to_string();
        if path.contains(|c: char| c.is_whitespace() || c == '%') {
            return Err(SlurmError::Path { what, path });
        }
    }
    let sha = scenario.sha256();
    let head = |job: &str, mem: String, output: &str| {
        let mut lines = vec![
            "#!/bin/bash".to_owned(),
            format!("#SBATCH --job-name={job}"),
            format!("#SBATCH --cpus-per-task={}", options.cpus_per_task),
            format!("#SBATCH --mem={}", options.mem.clone().unwrap_or(mem)),
            format!("#SBATCH --output={}", logs.join(output).display()),
            "#SBATCH --open-mode=append".to_owned(),
            format!("#SBATCH --chdir={}", workdir.display()),
        ];
        for (option, value) in
            [("partition", &options.partition), ("time", &options.time), ("account", &options.account)]
        {
            if let Some(value) = value {
                lines.push(format!("#SBATCH --{option}={value}"));
            }
        }
        lines
    };
    let mut array_lines = head(
        &format!("meanfield-{job}"),
        mem_of(memory_of(scenario, Holding::Shard { count: n }, options.cpus_per_task)),
        "shard-%a.out",
    );
    array_lines.insert(2, format!("#SBATCH --array=0-{}", n - 1));
    array_lines.extend([
        format!("# meanfield slurm: shard $SLURM_ARRAY_TASK_ID of {n} of scenario '{name}' (SHA-256 {sha})."),
        "# A requeued or rerun task continues from its shard's checkpoint; a finished shard is left alone.".to_owned(),
        "set -eu".to_owned(),
        format!(
            "exec {program} run {} --base-dir {base_dir} --shard \"$SLURM_ARRAY_TASK_ID/{n}\" --out {} --threads \"${{SLURM_CPUS_PER_TASK:-{}}}\" --quiet",
            quote(&scenario_file.display().to_string()),
            quote(&run_dir.display().to_string()),
            options.cpus_per_task
        ),
    ]);
    let merge_mem = mem_of(memory_of(scenario, Holding::Merge, options.cpus_per_task));
    let mut merge_lines = head(&format!("meanfield-{job}-merge"), merge_mem, "merge.out");
    merge_lines.extend([
        format!(
            "# meanfield slurm: merges the {n} shards of '{name}' into {} once the array has ended.",
            run_dir.display()
        ),
        "# If some did not finish, it names them and prints the sbatch command that reruns just them.".to_owned(),
        "set -eu".to_owned(),
        format!(
            "exec {program} merge {} --sbatch-array {} --threads \"${{SLURM_CPUS_PER_TASK:-{}}}\" --quiet",
            quote(&run_dir.join(meanfield_sinks::SHARDS).display().to_string()),
            quote(&array.display().to_string()),
            options.cpus_per_task
        ),
    ]);
    let frozen = format!(
        "// Frozen by `meanfield slurm` from {} (SHA-256 {sha}): the resolved scenario the tasks run.\n// Relative paths in it start at {}.\n{}",
        scenario.origin,
        scenario.base_dir.display(),
        scenario.canonical()
    );
    let files =
        [(&scenario_file, frozen), (&array, array_lines.join("\n") + "\n"), (&merge, merge_lines.join("\n") + "\n")];
    for (path, text) in &files {
        if let Ok(existing) = std::fs::read_to_string(path)
            && existing != *text
        {
            let file = path.file_name().map(|n| n.to_string_lossy().into_owned()).unwrap_or_default();
            return Err(SlurmError::JobExists { dir: dir.clone(), file });
        }
    }
    std::fs::create_dir_all(&logs).map_err(|e| SinkError::io(&logs, e))?;
    for (path, text) in &files {
        AtomicFile::write_all(path, text.as_bytes())?;
    }
    let [_, (_, array_text), (_, merge_text)] = files;
    Ok(SlurmJob { dir, scenario: scenario_file, array, merge, run_dir, array_text, merge_text, shards: n })
}

/// Submits the array, then the merge with `--dependency=afterany:<array>`: their job ids.
pub fn submit(job: &SlurmJob) -> Result<(String, String), SlurmError> {
    let sbatch = |args: &[&str]| -> Result<String, SlurmError> {
        let command = format!("sbatch {}", args.join(" "));
        let output = std::process::Command::new("sbatch").args(args).output().map_err(|e| SlurmError::Sbatch {
            command: command.clone(),
            reason: format!("{e} (is Slurm's sbatch on PATH?)"),
        })?;
        if !output.status.success() {
            let reason = String::from_utf8_lossy(&output.stderr).trim().to_owned();
            return Err(SlurmError::Sbatch { command, reason });
        }
        // --parsable prints `<id>` or `<id>;<cluster>`.
        let stdout = String::from_utf8_lossy(&output.stdout);
        let id = stdout.trim().split(';').next().unwrap_or_default().to_owned();
        if id.is_empty() || !id.chars().all(|c| c.is_ascii_digit()) {
            return Err(SlurmError::Sbatch {
                command,
                reason: format!("it printed {:?}, not a job id", stdout.trim()),
            });
        }
        Ok(id)
    };
    let array = sbatch(&["--parsable", &job.array.display().to_string()])?;
    let merge = sbatch(&["--parsable", &format!("--dependency=afterany:{array}"), &job.merge.display().to_string()])?;
    Ok((array, merge))
}
