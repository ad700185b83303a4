//! The commands that spread a run over many processes: `run --shard`, `merge` and `slurm`.

use crate::{EXIT_INTERRUPTED, Overrides, guard, progress, report_results, stop_on_ctrl_c};
use meanfield::{RunError, Shard};
use meanfield_scenario::CheckedScenario;
use meanfield_scenario::run::point_steps;
use meanfield_scenario::shard::quote;
use meanfield_scenario::slurm::{SlurmOptions, submit, write_job};
use std::io::IsTerminal;
use std::path::{Path, PathBuf};
use std::process::ExitCode;

/// Where and how a shard or a merge runs.
pub(crate) struct Where {
    pub(crate) threads: Option<usize>,
    pub(crate) out: Option<PathBuf>,
    pub(crate) force: bool,
    pub(crate) quiet: bool,
}

#[derive(Debug, clap::Args)]
pub(crate) struct SlurmArgs {
    /// The scenario file.
    pub(crate) file: PathBuf,
    /// How many shards (array tasks) to cut the replicas into.
    #[arg(long)]
    pub(crate) shards: usize,
    #[arg(long)]
    partition: Option<String>,
    /// Each task's time limit, as Slurm reads it (HH:MM:SS, D-HH:MM:SS, MINUTES).
    #[arg(long)]
    time: Option<String>,
    #[arg(long, default_value_t = 1)]
    cpus_per_task: usize,
    #[arg(long)]
    account: Option<String>,
    /// Each task's memory (500M, 4G; default: the scenario's memory estimate per shard).
    #[arg(long)]
    mem: Option<String>,
    /// The run directory: its `shards/` and then the merged result (default: results/<name>/sharded-<hash>).
    #[arg(long)]
    out: Option<PathBuf>,
    /// Where to write the scripts and the tasks' logs (default: <run directory>/slurm).
    #[arg(long)]
    job_dir: Option<PathBuf>,
    /// Submit the array and the merge with sbatch (without it: print the scripts).
    #[arg(long)]
    submit: bool,
    #[command(flatten)]
    pub(crate) overrides: Overrides,
}

/// Error messages of a run that stopped name how to continue; these exit as an interrupted run does.
fn interrupted(outcome: Result<ExitCode, meanfield::Error>) -> anyhow::Result<ExitCode> {
    match outcome {
        Err(meanfield::Error::Run(e @ RunError::Interrupted { .. })) => {
            eprintln!("meanfield: {e}");
            Ok(ExitCode::from(EXIT_INTERRUPTED))
        }
        other => Ok(other?),
    }
}

pub(crate) fn run_shard(scenario: &CheckedScenario, shard: Shard, at: Where) -> anyhow::Result<ExitCode> {
    let plans = scenario.plans();
    let ranges = shard.replicas(&plans.iter().map(|p| p.info.replicas).collect::<Vec<_>>());
    let points = plans
        .iter()
        .zip(&ranges)
        .map(|(p, range)| progress::PointTotal {
            name: if p.info.label.is_empty() { format!("N = {}", p.info.width) } else { p.info.label.clone() },
            steps: point_steps(scenario, p) / p.info.replicas.max(1) as u64 * range.len() as u64,
            replicas: range.len(),
        })
        .collect();
    let display = progress::Display::new(at.quiet, std::io::stderr().is_terminal(), points)?;
    // A shard always keeps its finished replicas; with `checkpoint_seconds` also running ones.
    let stop = stop_on_ctrl_c(true)?;
    let on_claimed = |dir: &Path| {
        let run_dir = dir.parent().and_then(Path::parent).unwrap_or(dir);
        guard::set_resume(&dir.join("checkpoint"), &meanfield_scenario::shard::shard_command(scenario, shard, run_dir));
    };
    let config = meanfield::RunConfig {
        out: at.out,
        force: at.force,
        threads: at.threads,
        progress: &display,
        stop,
        resume: false,
        on_claimed: Some(&on_claimed),
    };
    let outcome = meanfield::run_shard(scenario, shard, &config);
    display.finish();
    interrupted(outcome.map(|report| {
        if report.already_finished {
            println!("shard {shard} already finished in {}/: nothing to run", report.dir.display());
        } else {
            let resumed = if report.resumed { ", continued from its checkpoint" } else { "" };
            println!(
                "shard {shard}: {} replica(s) written to {}/ in {:.2} s{resumed}; merge with `meanfield merge {}`",
                report.replicas,
                report.dir.display(),
                report.wall_seconds,
                quote(&report.dir.parent().unwrap_or(&report.dir).display().to_string())
            );
        }
        if report.diverged > 0 {
            eprintln!("warning: {} replica(s) of this shard diverged; the merge reports them", report.diverged);
        }
        for fault in &report.faults {
            eprintln!("error: a plugin failed during the shard: {fault}");
        }
        if report.faults.is_empty() { ExitCode::SUCCESS } else { ExitCode::FAILURE }
    }))
}

pub(crate) fn merge(dirs: &[PathBuf], sbatch_array: Option<&Path>, at: Where) -> anyhow::Result<ExitCode> {
    let stop = stop_on_ctrl_c(true)?;
    let config = meanfield::RunConfig { out: at.out, force: at.force, threads: at.threads, stop, ..Default::default() };
    interrupted(meanfield::merge(dirs, &config, sbatch_array).map(|(results, merge)| {
        eprintln!(
            "meanfield: merged {} shards: read {:.1} MB of replicas in {:.3} s",
            merge.shards,
            merge.read_bytes as f64 / 1e6,
            merge.read_seconds
        );
        report_results(&results, at.quiet)
    }))
}

pub(crate) fn slurm(scenario: &CheckedScenario, args: &SlurmArgs) -> anyhow::Result<ExitCode> {
    let options = SlurmOptions {
        shards: args.shards,
        partition: args.partition.clone(),
        time: args.time.clone(),
        cpus_per_task: args.cpus_per_task,
        account: args.account.clone(),
        mem: args.mem.clone(),
        out: args.out.clone(),
        job_dir: args.job_dir.clone(),
        program: std::env::current_exe()?,
        workdir: std::env::current_dir()?,
    };
    let job = write_job(scenario, &options)?;
    let (array, merge) = (quote(&job.array.display().to_string()), quote(&job.merge.display().to_string()));
    if !args.submit {
        println!("# {array}\n{}\n# {merge}\n{}", job.array_text, job.merge_text);
        println!("# submit both (or run again with --submit):");
        println!("jobid=$(sbatch --parsable {array}) && sbatch --dependency=afterany:$jobid {merge}");
        return Ok(ExitCode::SUCCESS);
    }
    let (array_id, merge_id) = submit(&job)?;
    println!("submitted array job {array_id} ({} tasks) and merge job {merge_id} (after it ends)", job.shards);
    println!("follow them: squeue -j {array_id},{merge_id}");
    println!("afterwards:  sacct -j {array_id},{merge_id}");
    println!("logs:        {}/logs/", job.dir.display());
    println!("result:      {}/ once job {merge_id} has finished", job.run_dir.display());
    Ok(ExitCode::SUCCESS)
}
