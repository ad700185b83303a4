//! `meanfield`: run and check scenario files. Thin by design: everything it does is a call into
//! `meanfield-scenario`; this file only parses arguments, shows progress and prints results.

mod cluster;
mod guard;
mod progress;
mod snapshot_command;

use clap::{Parser, Subcommand, ValueEnum};
use meanfield_scenario::BuiltinActivation;
use meanfield_scenario::Summary;
use meanfield_scenario::compose::Override;
use meanfield_scenario::plugins::{self, PLUGIN_PATH_VAR, PluginLibrary};
use meanfield_scenario::spec::DataSpec;
use meanfield_scenario::templates;
use meanfield_scenario::{CheckedScenario, RunError, run::point_steps, run::total_steps};
use std::io::IsTerminal;
use std::path::{Path, PathBuf};
use std::process::ExitCode;
use std::str::FromStr;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};

/// The scenario `meanfield` runs without arguments.
const DEFAULT_SCENARIO: &str = include_str!("../scenarios/default.ron");
const DEFAULT_ORIGIN: &str = "<embedded default>";

/// Exit code of a run that finished but had diverged replicas (their partial results are written).
const EXIT_DIVERGED: u8 = 3;
/// Exit code of a run stopped by Ctrl-C (its checkpoint is written), as shells report SIGINT.
pub(crate) const EXIT_INTERRUPTED: u8 = 130;

#[derive(Debug, Parser)]
#[command(name = "meanfield", version, about = "Mean-field SGD of wide networks as interacting particle systems")]
struct Cli {
    #[command(subcommand)]
    command: Option<Command>,
}

#[derive(Debug, Subcommand)]
enum Command {
    /// Run a scenario file (without FILE: the embedded default demonstration).
    Run {
        file: Option<PathBuf>,
        /// Worker threads (default: all cores). Results are identical for any value.
        #[arg(long)]
        threads: Option<usize>,
        /// The run directory: absent or empty (or see --force). Default: a new directory under the
        /// scenario's `output` (results/<name>/<UTC date and time>, with results/<name>/latest pointing
        /// at the newest finished run).
        #[arg(long, conflicts_with = "resume")]
        out: Option<PathBuf>,
        /// With --out: replace the results an earlier run wrote there (only those; other files stay).
        #[arg(long, requires = "out")]
        force: bool,
        /// Continue the interrupted run whose output directory (with its `checkpoint/`) is DIR. The
        /// results are byte-identical to those of an uninterrupted run.
        #[arg(long, value_name = "DIR")]
        resume: Option<PathBuf>,
        /// No progress display and no table.
        #[arg(long, short)]
        quiet: bool,
        /// Run only shard INDEX of COUNT (INDEX from 0, as Slurm's array indices): a fixed slice of the
        /// replicas, into <run dir>/shards/INDEX-of-COUNT/ (the run dir is --out, or
        /// results/<name>/sharded-<hash>). A finished shard is left alone; an interrupted one continues.
        /// `meanfield merge` then writes what the unsharded run writes.
        #[arg(long, value_name = "INDEX/COUNT", value_parser = meanfield::Shard::from_str, conflicts_with = "resume")]
        shard: Option<meanfield::Shard>,
        /// Relative paths in the scenario (data files, plugins) start here instead of FILE's directory.
        #[arg(long, value_name = "DIR", requires = "file")]
        base_dir: Option<PathBuf>,
        #[command(flatten)]
        overrides: Overrides,
    },
    /// Merge the shards of a run (`meanfield run --shard`) into exactly what the unsharded run writes.
    ///
    /// DIR: shard directories, a `shards` directory, or the run directory holding it. Refuses, naming
    /// them, shards that are missing, unfinished, given twice or of another run.
    Merge {
        #[arg(required = true)]
        dirs: Vec<PathBuf>,
        /// The merged run's directory (default: the run directory holding the shards).
        #[arg(long)]
        out: Option<PathBuf>,
        /// With --out: replace the results an earlier run wrote there.
        #[arg(long, requires = "out")]
        force: bool,
        /// Worker threads for the analyses (default: all cores).
        #[arg(long)]
        threads: Option<usize>,
        /// The Slurm array script that ran the shards: a refusal for missing shards then also prints the
        /// `sbatch --array=…` command that reruns just them.
        #[arg(long, value_name = "SCRIPT")]
        sbatch_array: Option<PathBuf>,
        /// No table.
        #[arg(long, short)]
        quiet: bool,
    },
    /// Write a Slurm job array of a scenario's shards and the job that merges them (--submit: submit both).
    ///
    /// The job directory (default <run dir>/slurm) holds the scenario frozen as resolved, array.sh (one
    /// shard per task) and merge.sh (submitted with --dependency=afterany on the array).
    Slurm(cluster::SlurmArgs),
    /// Redraw the plots of result tables (timeseries.csv, study.csv, ldp.csv) without running anything.
    Plot {
        #[arg(required = true)]
        files: Vec<PathBuf>,
        /// Where to write the images (default: next to each table).
        #[arg(long)]
        out: Option<PathBuf>,
        /// Image formats (default: both).
        #[arg(long, value_enum)]
        format: Vec<ImageFormat>,
        /// Replace existing files that are not figures drawn from the same table.
        #[arg(long)]
        force: bool,
    },
    /// Write DIR/report.html: one self-contained page with the run's scenario, manifest, plots and tables.
    Report { dir: PathBuf },
    /// Time the benchmark workloads (all without names): ns per weight update and the final risk.
    Bench {
        /// online-100, online-1000, online-10000, minibatch-1000, ensemble-64, and merge (4 shards of
        /// 20 000 replicas merged: the MB/s at which it reads them; not in --json).
        workloads: Vec<String>,
        /// Worker threads (default: all cores).
        #[arg(long)]
        threads: Option<usize>,
        /// Also write the results as JSON to this file.
        #[arg(long)]
        json: Option<PathBuf>,
        /// Print each workload's scenario file instead of running it.
        #[arg(long)]
        show: bool,
    },
    /// Validate a scenario file without running it; prints the sweep points.
    Check {
        file: PathBuf,
        #[command(flatten)]
        overrides: Overrides,
    },
    /// Print a scenario fully resolved (the files it extends merged, overrides applied, every default
    /// written) as the canonical RON the manifest stores and a resume checks.
    Show {
        file: PathBuf,
        #[command(flatten)]
        overrides: Overrides,
    },
    /// Start a scenario of your own from a shipped template: writes NAME.ron, a short file that extends
    /// the template (copied next to it with the pieces of scenarios/common/ it uses), with every field you
    /// can override listed in comments.
    New {
        /// The new scenario's name (its file is NAME.ron, its results go to results/NAME).
        #[arg(required_unless_present = "list")]
        name: Option<String>,
        /// The template (see --list).
        #[arg(long, required_unless_present = "list")]
        from: Option<String>,
        /// Where to write (default: the current directory).
        #[arg(long, default_value = ".")]
        dir: PathBuf,
        /// List the templates.
        #[arg(long, conflicts_with_all = ["name", "from"])]
        list: bool,
    },
    /// Snapshot-test scenarios: their headline numbers against `x.snap` beside `x.ron`.
    ///
    /// Runs each scenario in a temporary directory and writes its headline numbers to `x.snap` beside
    /// `x.ron`, in insta's format. An existing different snapshot is never replaced: the new one goes to
    /// `x.snap.new`, to review (here with --review, or with `cargo insta review`).
    Snapshot {
        /// Scenario files (with --review: whose pending snapshots to review; default: all under the
        /// current directory).
        files: Vec<PathBuf>,
        /// Compare with the existing snapshots instead (for CI): exit 1 on a difference beyond the
        /// scenario's `snapshot.tolerance` or a missing snapshot, writing `x.snap.new`.
        #[arg(long, conflicts_with = "review")]
        check: bool,
        /// Review pending `x.snap.new`: show each diff and ask to accept, reject or skip.
        #[arg(long)]
        review: bool,
        /// With --review: accept every pending snapshot without asking.
        #[arg(long, requires = "review", conflicts_with = "reject")]
        accept: bool,
        /// With --review: reject (delete) every pending snapshot without asking.
        #[arg(long, requires = "review")]
        reject: bool,
        /// Worker threads (default: all cores). Snapshots are identical for any value.
        #[arg(long)]
        threads: Option<usize>,
        #[command(flatten)]
        overrides: Overrides,
    },
    /// Write a plugin crate (an activation or a data distribution) from a template, with a scenario that
    /// uses it and a snapshot test of that scenario's results, ready for `cargo test`.
    NewPlugin {
        /// The plugin's name, snake_case (the crate, the library and the component are named after it).
        name: String,
        /// What the plugin provides.
        #[arg(long, value_parser = clap::value_parser!(templates::plugin::PluginKind))]
        kind: templates::plugin::PluginKind,
        /// Where to create the crate directory NAME (default: the current directory).
        #[arg(long, default_value = ".")]
        dir: PathBuf,
    },
    /// Print the embedded default scenario (a starting point for your own).
    ShowDefault,
    /// Inspect plugin libraries.
    Plugins {
        #[command(subcommand)]
        command: PluginsCommand,
    },
}

/// `--set PATH=VALUE`, repeatable, on every command that reads a scenario.
#[derive(Debug, Clone, Default, clap::Args)]
pub(crate) struct Overrides {
    /// Override one field (repeatable; the value in RON syntax): --set model.width=512,
    /// --set data.teacher='SingleIndex(link: Relu)', --set dynamics.step=0.5 (the number of PerNeuron(α)).
    #[arg(long = "set", value_name = "PATH=VALUE")]
    set: Vec<Override>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
enum ImageFormat {
    Svg,
    Png,
}

#[derive(Debug, Subcommand)]
enum PluginsCommand {
    /// List what a plugin library provides: names, kinds, parameters, ABI version.
    Inspect {
        /// A library file, or a name looked up like a scenario's `lib` (current directory, then
        /// MEANFIELD_PLUGIN_PATH).
        path: String,
    },
    /// List the built-in activations and data distributions, and the plugins on MEANFIELD_PLUGIN_PATH.
    List,
    /// Test every component of a plugin library against what meanfield relies on (sizes, determinism
    /// under the host's random stream, NaN handling, thread safety, panics): one PASS/FAIL line per check,
    /// exit code 1 if any fails.
    Check {
        /// A library file, or a name looked up as for `inspect`.
        path: String,
        /// Parameters (RON) of one component, as a scenario would give them: NAME='(beta: 1.0)'.
        /// Components without them are made with `()`.
        #[arg(long = "params", value_name = "NAME=RON")]
        params: Vec<String>,
        /// Check only this component (repeatable; default: all).
        #[arg(long = "only", value_name = "NAME")]
        only: Vec<String>,
    },
}

fn load(file: Option<&Path>, overrides: &Overrides) -> anyhow::Result<CheckedScenario> {
    load_in(file, None, overrides, meanfield::Holding::Whole)
}

/// [`load`], with relative paths starting at `base_dir` when given, for a process holding `holding`.
fn load_in(
    file: Option<&Path>,
    base_dir: Option<&Path>,
    overrides: &Overrides,
    holding: meanfield::Holding,
) -> anyhow::Result<CheckedScenario> {
    let mut scenario = match file {
        Some(path) => meanfield::Scenario::load(path),
        None => meanfield::Scenario::from_ron(DEFAULT_SCENARIO, ".").named(DEFAULT_ORIGIN),
    };
    if let Some(dir) = base_dir {
        scenario = scenario.with_base_dir(dir);
    }
    let scenario = scenario.with_overrides(&overrides.set).holding(holding).resolve()?;
    for deprecation in &scenario.deprecations {
        eprintln!("warning: {deprecation}");
    }
    Ok(scenario)
}

fn main() -> ExitCode {
    guard::die_quietly_on_a_closed_pipe();
    let cli = Cli::parse();
    let command = cli.command.unwrap_or(Command::Run {
        file: None,
        threads: None,
        out: None,
        force: false,
        resume: None,
        quiet: false,
        shard: None,
        base_dir: None,
        overrides: Overrides::default(),
    });
    guard::install(&command_line());
    // Until `execute` returns, an `exit` from anywhere (a plugin) is not success.
    let armed = guard::arm();
    let outcome = execute(command);
    drop(armed);
    match outcome {
        Ok(code) => code,
        Err(e) => {
            // Every error type of the project writes its cause into its own message; the alternate form
            // would print each cause a second time.
            eprintln!("error: {e}");
            ExitCode::FAILURE
        }
    }
}

/// The command as typed, for the guards' messages (`meanfield run scenario.ron`).
fn command_line() -> String {
    let args: Vec<String> = std::env::args().skip(1).take(3).collect();
    if args.is_empty() { "meanfield".to_owned() } else { format!("meanfield {}", args.join(" ")) }
}

/// The file `plugins inspect` and `plugins check` read: a path, or a name looked up like a scenario's
/// `lib`. Anything that exists at `path` (a directory, a FIFO) is opened as given, so `open` says what it is.
fn plugin_file(path: &str) -> anyhow::Result<PathBuf> {
    Ok(if Path::new(path).symlink_metadata().is_ok() {
        PathBuf::from(path)
    } else {
        plugins::resolve(path, Path::new("."))?
    })
}

fn execute(command: Command) -> anyhow::Result<ExitCode> {
    match command {
        Command::ShowDefault => {
            print!("{DEFAULT_SCENARIO}");
            Ok(ExitCode::SUCCESS)
        }
        Command::Plugins { command: PluginsCommand::Inspect { path } } => {
            print_library(&*plugins::open(&plugin_file(&path)?)?);
            Ok(ExitCode::SUCCESS)
        }
        Command::Plugins { command: PluginsCommand::Check { path, params, only } } => {
            check_plugin(&path, &params, &only)
        }
        Command::Plugins { command: PluginsCommand::List } => {
            list_plugins();
            Ok(ExitCode::SUCCESS)
        }
        Command::Show { file, overrides } => {
            print!("{}", load(Some(&file), &overrides)?.canonical());
            Ok(ExitCode::SUCCESS)
        }
        Command::NewPlugin { name, kind, dir } => {
            let crate_dir = templates::plugin::new_plugin(&name, kind, &dir)?;
            println!(
                "created {0}: `cd {0} && cargo test` runs its scenario against its snapshot; `cargo build --release` \
                 then `meanfield run {0}/scenarios/{name}.ron` runs it",
                crate_dir.display()
            );
            Ok(ExitCode::SUCCESS)
        }
        Command::New { list: true, .. } => {
            for template in templates::TEMPLATES {
                println!("{:<32} {}", template.name, template.description());
            }
            Ok(ExitCode::SUCCESS)
        }
        Command::New { name, from, dir, .. } => {
            let (Some(name), Some(from)) = (name, from) else { anyhow::bail!("new needs NAME and --from TEMPLATE") };
            let written = templates::write_new(&name, &from, &dir)?;
            println!("wrote {}; run it with `meanfield run {}`", names_of(&written), written[0].display());
            Ok(ExitCode::SUCCESS)
        }
        Command::Check { file, overrides } => {
            let scenario = load(Some(&file), &overrides)?;
            let plans = scenario.plans();
            println!("{}: ok, {} point(s) × {} replica(s)", scenario.origin, plans.len(), scenario.spec.replicas);
            println!("  memory: {}", scenario.memory);
            for plan in &plans {
                let i = &plan.info;
                println!(
                    "  [{}] {} steps={} T={} records={} | {} | {} | {}",
                    i.index,
                    with_seed(&i.label, i.seed, i.seed_is_swept()),
                    i.steps,
                    i.final_time,
                    plan.record_steps.len(),
                    i.model,
                    i.data,
                    i.dynamics
                );
            }
            Ok(ExitCode::SUCCESS)
        }
        Command::Plot { files, out, format, force } => {
            let formats = meanfield_scenario::plot::Formats {
                svg: format.is_empty() || format.contains(&ImageFormat::Svg),
                png: format.is_empty() || format.contains(&ImageFormat::Png),
            };
            let tables: Vec<(PathBuf, PathBuf)> = files
                .iter()
                .map(|file| {
                    let dir = match &out {
                        Some(dir) => dir.clone(),
                        None => {
                            file.parent().filter(|p| !p.as_os_str().is_empty()).unwrap_or(Path::new(".")).to_owned()
                        }
                    };
                    (file.clone(), dir)
                })
                .collect();
            for (file, written) in meanfield_scenario::plot::plot_tables(&tables, formats, force)? {
                println!("{}: {}", file.display(), names(&written));
            }
            Ok(ExitCode::SUCCESS)
        }
        Command::Report { dir } => {
            let path = meanfield_scenario::plot::write_report(&dir)?;
            println!("report written to {}", path.display());
            Ok(ExitCode::SUCCESS)
        }
        Command::Run { file, threads, out, force, resume: None, quiet, shard: Some(shard), base_dir, overrides } => {
            let holding = meanfield::Holding::Shard { count: shard.count };
            let scenario = load_in(file.as_deref(), base_dir.as_deref(), &overrides, holding)?;
            cluster::run_shard(&scenario, shard, cluster::Where { threads, out, force, quiet })
        }
        Command::Run { file, threads, out, force, resume, quiet, base_dir, overrides, .. } => {
            let scenario = load_in(file.as_deref(), base_dir.as_deref(), &overrides, meanfield::Holding::Whole)?;
            run(scenario, threads, out, force, resume, quiet)
        }
        Command::Merge { dirs, out, force, threads, sbatch_array, quiet } => {
            cluster::merge(&dirs, sbatch_array.as_deref(), cluster::Where { threads, out, force, quiet })
        }
        Command::Slurm(args) => {
            // The tasks hold a shard each; the merge job's own need goes into merge.sh.
            let holding = meanfield::Holding::Shard { count: args.shards.max(1) };
            let scenario = load_in(Some(&args.file), None, &args.overrides, holding)?;
            cluster::slurm(&scenario, &args)
        }
        Command::Snapshot { files, review: true, accept, reject, .. } => {
            snapshot_command::review(&files, accept, reject)
        }
        Command::Snapshot { files, check, threads, overrides, .. } => {
            snapshot_command::take(&files, &overrides.set, check, threads)
        }
        Command::Bench { workloads, threads, json, show } => bench(&workloads, threads, json.as_deref(), show),
    }
}

fn run(
    scenario: CheckedScenario,
    threads: Option<usize>,
    out: Option<PathBuf>,
    force: bool,
    resume: Option<PathBuf>,
    quiet: bool,
) -> anyhow::Result<ExitCode> {
    let plans = scenario.plans();
    let total = total_steps(&scenario, &plans);
    if !quiet {
        eprintln!(
            "meanfield: scenario '{}' ({}): {} point(s) × {} replica(s), {} steps{}",
            scenario.spec.name,
            scenario.origin,
            plans.len(),
            scenario.spec.replicas,
            total,
            resume.as_ref().map_or(String::new(), |d| format!(", resuming {}", d.display()))
        );
    }
    let points = plans
        .iter()
        .map(|p| progress::PointTotal {
            name: if p.info.label.is_empty() { format!("N = {}", p.info.width) } else { p.info.label.clone() },
            steps: point_steps(&scenario, p),
            replicas: p.info.replicas,
        })
        .collect();
    let display = progress::Display::new(quiet, std::io::stderr().is_terminal(), points)?;
    let stop = stop_on_ctrl_c(scenario.spec.outputs.checkpoint_seconds.is_some() || resume.is_some())?;
    // Once claimed, a crash or an `exit` inside the run can name the directory to resume.
    let on_claimed = |dir: &Path| {
        guard::set_resume(&dir.join("checkpoint"), &meanfield_scenario::run::resume_command(&scenario, dir));
    };
    let config = meanfield::RunConfig {
        out: out.or_else(|| resume.clone()),
        force,
        threads,
        progress: &display,
        stop,
        resume: resume.is_some(),
        on_claimed: Some(&on_claimed),
    };
    let outcome = meanfield::run_checked(&scenario, &config);
    display.finish();
    let report = match outcome {
        Ok(report) => report,
        Err(meanfield::Error::Run(e @ RunError::Interrupted { .. })) => {
            eprintln!("meanfield: {e}");
            return Ok(ExitCode::from(EXIT_INTERRUPTED));
        }
        Err(e) => return Err(e.into()),
    };
    Ok(report_results(&report, quiet))
}

/// Prints a finished run's tables (unless `quiet`), its warnings and where its results are; its exit code.
pub(crate) fn report_results(report: &meanfield::Results, quiet: bool) -> ExitCode {
    if !quiet {
        print_risk_table(&report.summary);
        print_study(&report.summary);
        print_ldp(&report.summary);
    }
    for d in &report.divergences {
        eprintln!("warning: {}", d.message);
    }
    for warning in &report.warnings {
        eprintln!("warning: {warning}");
    }
    for fault in &report.faults {
        eprintln!("error: a plugin failed during the run: {fault}");
    }
    let timing =
        report.timing.map_or(String::new(), |t| format!(" in {:.2} s on {} thread(s)", t.wall_seconds, t.threads));
    println!("results written to {}/ ({}){timing}", report.dir.display(), names(&report.files));
    if !report.faults.is_empty() {
        ExitCode::FAILURE
    } else if report.divergences.is_empty() {
        ExitCode::SUCCESS
    } else {
        eprintln!(
            "error: {} replica(s) diverged (see above); what they recorded before diverging is kept",
            report.divergences.len()
        );
        ExitCode::from(EXIT_DIVERGED)
    }
}

/// The flag a Ctrl-C (or a SIGTERM, as Slurm sends) sets. With checkpoints, the first stops at the
/// executor's next chunk boundary, saving the running replicas; the second quits at once, also while a
/// plugin call never returns. Without, nothing could be kept, so the first quits.
pub(crate) fn stop_on_ctrl_c(checkpointed: bool) -> anyhow::Result<Arc<AtomicBool>> {
    let stop = Arc::new(AtomicBool::new(false));
    let flag = stop.clone();
    ctrlc::set_handler(move || {
        if !checkpointed {
            let message = "meanfield: interrupted; this run keeps no checkpoint (`outputs.checkpoint_seconds` is \
                           None), so nothing of it is kept";
            guard::quit_now(message, EXIT_INTERRUPTED.into());
        }
        if flag.swap(true, Ordering::SeqCst) {
            guard::quit_now("meanfield: second Ctrl-C: quitting at once", EXIT_INTERRUPTED.into());
        }
        eprintln!(
            "\nmeanfield: interrupted (Ctrl-C or SIGTERM): stopping at the next chunk boundary, saving the running \
             replicas to the checkpoint (Ctrl-C again to quit at once)"
        );
    })?;
    Ok(stop)
}

fn check_plugin(path: &str, params: &[String], only: &[String]) -> anyhow::Result<ExitCode> {
    let params = params
        .iter()
        .map(|p| {
            let (name, text) = p
                .split_once('=')
                .ok_or_else(|| anyhow::anyhow!("--params {p:?}: expected NAME=RON, e.g. swish='(beta: 1.0)'"))?;
            Ok((name.to_owned(), text.to_owned()))
        })
        .collect::<anyhow::Result<std::collections::HashMap<_, _>>>()?;
    let library = plugins::open(&plugin_file(path)?)?;
    let names: Vec<String> = library.components().into_iter().map(|c| c.name).collect();
    let unknown = params.keys().map(|n| ("--params", n)).chain(only.iter().map(|n| ("--only", n)));
    if let Some((option, name)) = unknown.into_iter().find(|(_, n)| !names.contains(n)) {
        anyhow::bail!(
            "{option} {name}: {} has no component '{name}'; it provides {}",
            library.path.display(),
            names.join(", ")
        );
    }
    println!("{}: plugin {} {}", library.path.display(), library.name, library.version);
    let lines = plugins::conformance::check_library(&library, &params, only);
    for line in &lines {
        println!("{line}");
    }
    let failed = lines.iter().filter(|l| l.outcome.is_err()).count();
    if failed == 0 {
        println!("all {} checks passed", lines.len());
        Ok(ExitCode::SUCCESS)
    } else {
        eprintln!("error: {failed} of {} checks failed", lines.len());
        Ok(ExitCode::FAILURE)
    }
}

/// The workload of `meanfield bench` that times a merge of shards (not an SGD workload: the peers have
/// none, and `--json` holds the SGD workloads only).
const MERGE_WORKLOAD: &str = "merge";

fn bench(names: &[String], threads: Option<usize>, json: Option<&Path>, show: bool) -> anyhow::Result<ExitCode> {
    use meanfield_scenario::bench::{WORKLOADS, Workload};
    let with_merge = names.is_empty() || names.iter().any(|n| n == MERGE_WORKLOAD);
    let workloads: Vec<Workload> = if names.is_empty() {
        WORKLOADS.to_vec()
    } else {
        names
            .iter()
            .filter(|name| *name != MERGE_WORKLOAD)
            .map(|name| {
                Workload::find(name).ok_or_else(|| {
                    let known: Vec<&str> = WORKLOADS.iter().map(|w| w.name).chain([MERGE_WORKLOAD]).collect();
                    anyhow::anyhow!("unknown workload '{name}' (known: {})", known.join(", "))
                })
            })
            .collect::<anyhow::Result<_>>()?
    };
    if show {
        for w in &workloads {
            println!("// {}\n{}", w.name, w.scenario_text());
        }
        return Ok(ExitCode::SUCCESS);
    }
    let mut results = Vec::with_capacity(workloads.len());
    for w in &workloads {
        let r = meanfield_scenario::bench::run(w, threads)?;
        println!(
            "{:<15} N={:<6} d={:<3} batch={:<3} steps={:<5} replicas={:<3} threads={} seconds={:.4} ns_per_weight_update={:.4} final_risk={:.5}",
            r.workload,
            r.width,
            r.dim,
            r.batch,
            r.steps,
            r.replicas,
            r.threads,
            r.seconds,
            r.ns_per_weight_update,
            r.final_risk
        );
        results.push(r);
    }
    if with_merge && !show {
        let m = meanfield_scenario::bench::merge(threads, env!("CARGO_PKG_VERSION"))?;
        println!(
            "{:<15} replicas={} shards={} bytes={} read_seconds={:.4} read_MB_per_s={:.0} merge_seconds={:.4}",
            MERGE_WORKLOAD,
            m.replicas,
            m.shards,
            m.bytes,
            m.read_seconds,
            m.read_mb_per_second(),
            m.merge_seconds
        );
    }
    if let Some(path) = json {
        let text = serde_json::to_string_pretty(&results)?;
        std::fs::write(path, text + "\n").map_err(|e| anyhow::anyhow!("cannot write {}: {e}", path.display()))?;
    }
    Ok(ExitCode::SUCCESS)
}

/// Paths for a one-line listing.
fn names_of(paths: &[PathBuf]) -> String {
    paths.iter().map(|p| p.display().to_string()).collect::<Vec<_>>().join(", ")
}

/// File names for a one-line listing; particle files are counted, not listed.
fn names(files: &[PathBuf]) -> String {
    let particles = files.iter().filter(|f| f.extension().is_some_and(|e| e == "npy")).count();
    let mut names: Vec<String> = files
        .iter()
        .filter(|f| f.extension().is_none_or(|e| e != "npy"))
        .map(|f| f.file_name().map_or_else(|| f.display().to_string(), |n| n.to_string_lossy().into_owned()))
        .collect();
    if particles > 0 {
        names.push(format!("{particles} particle files in particles/"));
    }
    names.join(", ")
}

fn print_library(library: &PluginLibrary) {
    println!("{}", library.path.display());
    println!("  plugin {} {}, ABI version {}", library.name, library.version, library.abi_version);
    for c in library.components() {
        let density = if c.log_density { ", with log-density" } else { "" };
        println!("  {:<18} {:<20} params: {}{density}", c.kind.to_string(), c.name, c.params);
    }
}

fn list_plugins() {
    println!("built-in activations: {}", BuiltinActivation::NAMES.join(", "));
    println!("built-in data distributions: {}", DataSpec::BUILTIN_NAMES.join(", "));
    let dirs = plugins::search_path();
    if dirs.is_empty() {
        println!("{PLUGIN_PATH_VAR} is not set: no plugin directories to list");
    }
    for dir in dirs {
        let Ok(entries) = std::fs::read_dir(&dir) else {
            println!("{}: cannot read this directory", dir.display());
            continue;
        };
        let mut files: Vec<PathBuf> = entries
            .filter_map(|e| e.ok().map(|e| e.path()))
            .filter(|p| p.to_string_lossy().ends_with(std::env::consts::DLL_SUFFIX))
            .collect();
        files.sort();
        if files.is_empty() {
            println!("{}: no plugin libraries", dir.display());
        }
        for file in files {
            match plugins::open(&file) {
                Ok(library) => print_library(&library),
                Err(e) => println!(
                    "{}
  not usable: {e}",
                    file.display()
                ),
            }
        }
    }
}

/// The fitted slopes of a study, one line per quantity and time.
fn print_study(summary: &Summary) {
    let Some(study) = &summary.study else { return };
    println!("{} study: log-log slope against the width, 95% bootstrap interval", study.kind);
    for fit in &study.fits {
        let slope = match (fit.slope, &fit.note) {
            (Some(s), _) => format!("{s:+.3}"),
            (None, Some(note)) => format!("none ({note})"),
            (None, None) => "none".to_owned(),
        };
        let interval = fit.interval.map_or(String::new(), |(lo, hi)| format!(" [{lo:+.3}, {hi:+.3}]"));
        let quantity =
            if fit.group.is_empty() { fit.quantity.clone() } else { format!("{} ({})", fit.quantity, fit.group) };
        println!("  {quantity:<36} t = {:<8} slope {slope}{interval}   (theory {:+.1})", fit.time, fit.expected_slope);
    }
    if let (Some(within), false) = (study.converged_within, study.unconverged.is_empty()) {
        println!(
            "  not fitted, not converged (the mean moved by more than {}% and more than twice its standard error \
             over the last half of the time):",
            within * 100.0
        );
        for point in &study.unconverged {
            println!(
                "    {:<40} t = {:<8} mean {} changed by {:.1}% ± {:.1}%",
                point.label,
                point.time,
                point.column,
                point.change * 100.0,
                point.noise * 100.0
            );
        }
    }
}

/// Per point of an `ldp` section: the reliable k, the range of A they cover and the largest rate there.
fn print_ldp(summary: &Summary) {
    let Some(ldp) = &summary.ldp else { return };
    println!("large deviations of {} ({}); the table is in ldp.csv", ldp.observable, ldp.ensemble);
    let shown = if ldp.quenched.is_empty() {
        &ldp.points
    } else {
        println!("  {} configurations; their averages (E log Z, aligned at the typical values):", ldp.points.len());
        &ldp.quenched
    };
    for point in shown {
        let f = &point.rate_function;
        let reliable: Vec<_> = f.points.iter().filter(|p| p.reliable()).collect();
        let label = if point.label.is_empty() { format!("N = {}", point.width) } else { point.label.clone() };
        match (reliable.first(), reliable.last(), f.reliable_range()) {
            (Some(lo), Some(hi), Some((a_lo, a_hi))) => println!(
                "  {label:<40} reliable k in [{:+.3}, {:+.3}] ({} of {}): A in [{a_lo:.4}, {a_hi:.4}], I up to {:.4}",
                lo.k,
                hi.k,
                reliable.len(),
                f.points.len(),
                reliable.iter().map(|p| p.rate).fold(0.0, f64::max)
            ),
            _ => println!("  {label:<40} no reliable k: more replicas, a narrower k range, or a tilt"),
        }
    }
    if !ldp.extrapolation.is_empty() {
        println!("  I_N = I + c/N fitted at {} values of A (summary.ron, `extrapolation`)", ldp.extrapolation.len());
    }
}

/// A point's label with its seed, which the label holds already when the seed is swept.
fn with_seed(label: &str, seed: u64, swept: bool) -> String {
    match (swept, label.is_empty()) {
        (true, _) => label.to_owned(),
        (false, true) => format!("seed={seed}"),
        (false, false) => format!("{label} seed={seed}"),
    }
}

/// Mean risk (± std over replicas) of every point at up to six times, read from the summary.
fn print_risk_table(summary: &Summary) {
    let Some(first) = summary.points.iter().find_map(|p| p.risk.as_ref()) else { return };
    let n = first.time.len();
    let picks: Vec<f64> = (0..6.min(n)).map(|k| first.time[k * (n - 1) / 5.min(n - 1).max(1)]).collect();
    print!("{:<28}", "risk (mean ± std)");
    for t in &picks {
        print!("{:>20}", format!("t = {t:.3}"));
    }
    println!();
    for point in &summary.points {
        let label =
            if point.info.label.is_empty() { format!("N={}", point.info.width) } else { point.info.label.clone() };
        print!("{:<28}", with_seed(&label, point.info.seed, point.info.seed_is_swept()));
        if let Some(curve) = &point.risk {
            for t in &picks {
                let j = (0..curve.time.len())
                    .min_by(|&a, &b| (curve.time[a] - t).abs().total_cmp(&(curve.time[b] - t).abs()))
                    .unwrap_or(0);
                print!("{:>20}", format!("{:.4} ± {:.4}", curve.mean[j], curve.std[j]));
            }
        }
        println!();
    }
}
