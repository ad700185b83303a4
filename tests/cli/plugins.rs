//! Plugins end to end, with real libraries: the examples of `plugins/` and the broken fixtures of
//! `tests/plugins/`, built by [`common::plugin_dir`] before the first test that needs them.

#![allow(clippy::unwrap_used)] // test code: a failed unwrap is a failed test

use crate::common::{self, SMALL, assert_same_bits, meanfield, plugin_dir, plugin_lib, root, scenario_path};
use meanfield_core::summary::Summary;
use meanfield_core::{DataDistribution, FaultLog, Purpose, StreamKey};
use meanfield_scenario::CheckedScenario;
use meanfield_scenario::plugins;
use std::path::Path;
use std::process::{Command, Stdio};
use std::sync::Arc;
use std::time::{Duration, Instant};

/// `lib:` for a plugin built by the tests: an absolute path without the platform's prefix and suffix.
fn lib(name: &str) -> String {
    plugin_dir().join(name).display().to_string()
}

/// SMALL with its activation replaced by `activation`.
fn with_activation(activation: &str) -> String {
    SMALL.replacen("activation: Tanh", &format!("activation: {activation}"), 1)
}

/// SMALL with its data law replaced by `data`.
fn with_data(data: &str) -> String {
    let from = "data: TeacherStudent(dim: 3, teacher: SingleIndex(link: Tanh))";
    assert!(SMALL.contains(from));
    SMALL.replacen(from, &format!("data: {data}"), 1)
}

/// Writes `scenario` into a fresh directory as `bad.ron` (plus `extra` files), runs `commands` there, and
/// checks each exits with `code`, never panics the host, and prints every fragment of `expected`.
fn check_with(
    scenario: &str,
    extra: &[(&str, &[u8])],
    commands: &[&str],
    code: i32,
    expected: &[&str],
) -> tempfile::TempDir {
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(dir.path().join("bad.ron"), scenario.replace("{OUT}", "out")).unwrap();
    for (name, bytes) in extra {
        std::fs::write(dir.path().join(name), bytes).unwrap();
    }
    for command in commands {
        let out = meanfield(&[command, "bad.ron"], dir.path());
        assert_eq!(out.code, Some(code), "`{command}` exit code\n{}", out.stderr);
        assert!(!out.stderr.contains("thread 'main' panicked"), "the host panicked:\n{}", out.stderr);
        for fragment in expected {
            assert!(out.stderr.contains(fragment), "`{command}`: missing {fragment:?} in:\n{}", out.stderr);
        }
    }
    dir
}

/// A fault found while building (before any step): `check` and `run` both exit 1 with the message.
fn check(scenario: &str, expected: &[&str]) {
    check_with(scenario, &[], &["check", "run"], 1, expected);
}

#[test]
fn a_missing_library_lists_where_it_was_looked_for() {
    check(
        &with_activation(r#"Plugin(lib: "nowhere/swish", name: "swish")"#),
        &["bad.ron:8:", "plugin library 'nowhere/swish' not found", "nowhere/libswish.so"],
    );
}

#[test]
fn a_file_that_is_not_a_shared_library_is_refused() {
    check_with(
        &with_activation(r#"Plugin(lib: "fake", name: "swish")"#),
        &[("libfake.so", b"not a library\n")],
        &["check", "run"],
        1,
        &["cannot load", "libfake.so as a shared library"],
    );
}

#[test]
fn a_library_without_the_descriptor_symbol_is_refused() {
    check(
        &with_activation(&format!(r#"Plugin(lib: "{}", name: "swish")"#, lib("fixture_no_descriptor"))),
        &["is not a meanfield plugin", "no symbol `mf_plugin_descriptor`"],
    );
}

#[test]
fn an_abi_version_mismatch_is_refused_before_the_descriptor_is_touched() {
    // The fixture's descriptor function aborts the process: reaching it would fail this test.
    check(
        &with_activation(&format!(r#"Plugin(lib: "{}", name: "swish")"#, lib("fixture_abi_mismatch"))),
        &["built for plugin ABI version 999", "speaks version 1", "rebuild the plugin"],
    );
}

#[test]
fn a_descriptor_of_another_size_is_refused() {
    check(
        &with_activation(&format!(r#"Plugin(lib: "{}", name: "swish")"#, lib("fixture_wrong_size"))),
        &["unusable plugin descriptor", "descriptor size 16 bytes"],
    );
}

#[test]
fn an_unknown_name_lists_what_the_plugin_provides() {
    check(
        &with_activation(&format!(r#"Plugin(lib: "{}", name: "swishy")"#, lib("swish"))),
        &["bad.ron:8:", "no activation named 'swishy'", "it provides swish, softplus"],
    );
    // A distribution is not an activation, even in a library that has one by that name.
    check(
        &with_activation(&format!(r#"Plugin(lib: "{}", name: "panics_in_sample")"#, lib("fixture_faulty"))),
        &["no activation named 'panics_in_sample'", "panics_in_eval, nan, strict"],
    );
}

#[test]
fn parameter_errors_of_the_plugin_point_into_the_scenario() {
    let scenario = with_activation(&format!(
        r#"Plugin(lib: "{}", name: "strict", params: (threshold: 1.0, extra: 2))"#,
        lib("fixture_faulty")
    ));
    let line = scenario.lines().nth(7).unwrap();
    let col = line.find("extra").unwrap() + 1;
    check(&scenario, &[&format!("bad.ron:8:{col}:"), "rejected its parameters", "Unexpected field named `extra`"]);
    // Rejected by the plugin's own check rather than by serde: points at the parameters.
    let scenario = with_activation(&format!(
        r#"Plugin(lib: "{}", name: "strict", params: (threshold: -1.0))"#,
        lib("fixture_faulty")
    ));
    check(&scenario, &["bad.ron:8:", "threshold must be >= 0, got -1"]);
    // The example plugin checks its values too.
    check(
        &with_activation(&format!(r#"Plugin(lib: "{}", name: "swish", params: (beta: 0.0))"#, lib("swish"))),
        &["beta must be positive"],
    );
}

#[test]
fn a_panic_inside_eval_is_reported_with_its_message_and_location() {
    let dir = check_with(
        &with_activation(&format!(r#"Plugin(lib: "{}", name: "panics_in_eval")"#, lib("fixture_faulty"))),
        &[],
        &["run"],
        1,
        &[
            "error: a plugin failed during the run",
            "activation 'panics_in_eval'",
            "panicked at tests/plugins/faulty/src/lib.rs",
            "deliberate panic in eval",
        ],
    );
    // What finished is kept: the records before the failure (the risk at t = 0 is NaN, as the
    // activation failed, but the files are complete).
    assert!(
        dir.path().join("out/latest/summary.ron").is_file() && dir.path().join("out/latest/timeseries.csv").is_file()
    );
}

#[test]
fn a_panic_inside_sample_is_reported_with_its_message() {
    // After the two calls of the determinism probe: inside the run.
    check_with(
        &with_data(&format!(
            r#"Plugin(lib: "{}", name: "panics_in_sample", params: (dim: 3, after: 2))"#,
            lib("fixture_faulty")
        )),
        &[],
        &["run"],
        1,
        &[
            "error: a plugin failed during the run",
            "data distribution 'panics_in_sample'",
            "deliberate panic in sample",
        ],
    );
    // At once: the probe finds it, so `check` refuses it too.
    check(
        &with_data(&format!(r#"Plugin(lib: "{}", name: "panics_in_sample", params: (dim: 3))"#, lib("fixture_faulty"))),
        &["data distribution 'panics_in_sample'", "deliberate panic in sample"],
    );
}

#[test]
fn a_plugin_returning_nan_is_divergence() {
    check_with(
        &with_activation(&format!(r#"Plugin(lib: "{}", name: "nan")"#, lib("fixture_faulty"))),
        &[],
        &["run"],
        3,
        &["replica 0 of the run's only point diverged at step 1", "non-finite", "replica(s) diverged"],
    );
}

fn run_in(dir: &Path, text: &str, threads: usize) -> Summary {
    let scenario = CheckedScenario::from_text(text, "test.ron", &root().join("scenarios")).unwrap();
    let report = common::run_scenario(&scenario, Some(threads), dir);
    assert!(report.divergences.is_empty() && report.faults.is_empty());
    report.summary
}

#[test]
fn the_plugin_softplus_gives_bit_identical_trajectories_to_the_built_in() {
    let plugin_softplus = format!(r#"Plugin(lib: "{}", name: "softplus")"#, lib("swish"));
    // The student's activation and the teacher's link both go through the plugin.
    let builtin = SMALL.replace("{OUT}", "unused").replace("Steps(200)", "Steps(3000)").replace("Tanh", "Softplus");
    let plugin = builtin.replace("Softplus", &plugin_softplus);
    assert_eq!(plugin.matches("name: \"softplus\"").count(), 2);
    let dir = tempfile::tempdir().unwrap();
    run_in(&dir.path().join("builtin"), &builtin, 2);
    run_in(&dir.path().join("plugin"), &plugin, 2);
    let file = |d: &str| dir.path().join(d).join("timeseries.csv");
    assert_same_bits(&file("builtin"), &file("plugin"), "timeseries.csv of the plugin softplus against the built-in");
}

/// Both example scenarios, with replicas on one and on two threads: the plugin instances are shared
/// read-only by concurrently running replicas, and the results must not depend on it.
#[test]
fn example_plugin_scenarios_are_reproducible_across_thread_counts() {
    for name in ["plugin_swish", "plugin_gaussian_mixture"] {
        let text = std::fs::read_to_string(scenario_path(&format!("{name}.ron"))).unwrap();
        let dir = tempfile::tempdir().unwrap();
        run_in(&dir.path().join("one"), &text, 1);
        let summary = run_in(&dir.path().join("two"), &text, 2);
        for file in ["timeseries.csv", "summary.ron"] {
            let path = |d: &str| dir.path().join(d).join(file);
            assert_same_bits(&path("one"), &path("two"), format!("{name}: {file} on 2 threads against 1"));
        }
        let spec = meanfield::Scenario::load(scenario_path(&format!("{name}.ron"))).resolve().unwrap().spec.snapshot;
        meanfield::testing::assert_summary_snapshot!(summary, spec, &format!("scenarios/{name}.snap"));
    }
}

#[test]
fn a_bare_name_is_found_on_the_plugin_path() {
    let dir = tempfile::tempdir().unwrap();
    let text = with_activation(r#"Plugin(lib: "swish", name: "swish", params: (beta: 2.0))"#).replace("{OUT}", "out");
    std::fs::write(dir.path().join("s.ron"), text).unwrap();
    let without = meanfield(&["check", "s.ron"], dir.path());
    assert_eq!(without.code, Some(1), "no plugin path, no plugin\n{}", without.stderr);
    let out = std::process::Command::new(env!("CARGO_BIN_EXE_meanfield"))
        .args(["run", "s.ron", "--quiet"])
        .env(plugins::PLUGIN_PATH_VAR, plugin_dir())
        .current_dir(dir.path())
        .output()
        .unwrap();
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    let summary = std::fs::read_to_string(dir.path().join("out/latest/summary.ron")).unwrap();
    assert!(summary.contains("swish(beta: 2.0)"), "the model names the plugin and its parameters:\n{summary}");
}

#[test]
fn inspect_and_list_show_what_plugins_provide() {
    let dir = tempfile::tempdir().unwrap();
    let out = meanfield(&["plugins", "inspect", &plugin_lib("gaussian_mixture").display().to_string()], dir.path());
    assert_eq!(out.code, Some(0), "{}", out.stderr);
    for fragment in ["plugin gaussian_mixture 0.1.0, ABI version 1", "data distribution", "with log-density"] {
        assert!(out.stdout.contains(fragment), "{fragment:?} in\n{}", out.stdout);
    }
    let out = std::process::Command::new(env!("CARGO_BIN_EXE_meanfield"))
        .args(["plugins", "list"])
        .env(plugins::PLUGIN_PATH_VAR, plugin_dir())
        .output()
        .unwrap();
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(out.status.success());
    for fragment in
        ["built-in activations: Identity, Tanh", "activation         swish", "not usable: ", "ABI version 999"]
    {
        assert!(stdout.contains(fragment), "{fragment:?} in\n{stdout}");
    }
    let out = meanfield(&["plugins", "inspect", "/nonexistent/libx.so"], dir.path());
    assert_eq!(out.code, Some(1));
    assert!(out.stderr.contains("not found"), "{}", out.stderr);
}

/// The host's RNG reaches the plugin intact: a one-component mixture's sample mean is its mean within
/// 5 standard errors (σ/√n = 0.5/√20000 ≈ 0.0035 per coordinate; a generator that repeated or
/// truncated draws would be far off), and the log-density matches the closed form
/// log N(m; m, s²I) = −d·log(s√(2π)) at the mean.
#[test]
fn a_plugin_distribution_samples_from_the_host_rng_and_gives_its_log_density() {
    let library = plugins::open(&plugin_lib("gaussian_mixture")).unwrap();
    let params = "(components: [(weight: 1.0, mean: [1.0, -2.0], std: 0.5, label: 3.0)])";
    let dist = library.distribution("gaussian_mixture", params, Arc::new(FaultLog::default())).unwrap();
    assert_eq!(dist.dim(), 2);
    let n = 20_000;
    let (mut x, mut y) = (vec![0.0; 2 * n], vec![0.0; n]);
    dist.stream().fill(&mut StreamKey::shared(9, Purpose::Data).stream(), &mut x, &mut y);
    assert!(y.iter().all(|&v| v == 3.0));
    let mean = |j: usize| x.iter().skip(j).step_by(2).sum::<f64>() / n as f64;
    let tolerance = 5.0 * 0.5 / (n as f64).sqrt();
    assert!((mean(0) - 1.0).abs() < tolerance && (mean(1) + 2.0).abs() < tolerance, "{} {}", mean(0), mean(1));
    // Same stream, same samples: the plugin draws only from the host's generator.
    let mut again = vec![0.0; 2 * n];
    dist.stream().fill(&mut StreamKey::shared(9, Purpose::Data).stream(), &mut again, &mut y);
    assert_same_bits(&x, &again, "a second fill from the same stream");

    let mut out = [0.0];
    dist.log_density(&[1.0, -2.0], &[3.0], &mut out).unwrap().unwrap();
    let expected = -2.0 * (0.5 * (2.0 * std::f64::consts::PI).sqrt()).ln();
    assert!((out[0] - expected).abs() < 1e-12, "{} vs {expected}", out[0]);
    assert!(dist.has_log_density());
}

#[test]
fn plugin_parameters_cannot_be_swept_and_say_so() {
    let text = with_activation(r#"Plugin(lib: "swish", name: "swish", params: (beta: 1.0))"#).replace(
        "observables:",
        "sweep: (fields: [(\"model.activation.params.beta\", [1.0, 2.0])]),\n    observables:",
    );
    check(&text, &["sweep.fields", "plugin parameters cannot be swept"]);
}

/// `meanfield args` in `cwd` with `env` set, cores never dumped (a test of a fatal signal would leave
/// one per run).
fn meanfield_with(args: &[&str], cwd: &Path, env: &[(&str, &str)]) -> (std::process::ExitStatus, String, String) {
    let mut command = Command::new(env!("CARGO_BIN_EXE_meanfield"));
    command.args(args).current_dir(cwd).envs(env.iter().copied());
    no_core_dumps(&mut command);
    let out = command.output().unwrap();
    (out.status, String::from_utf8_lossy(&out.stdout).into_owned(), String::from_utf8_lossy(&out.stderr).into_owned())
}

#[allow(unsafe_code)]
fn no_core_dumps(command: &mut Command) {
    use std::os::unix::process::CommandExt;
    // SAFETY: setrlimit is async-signal-safe, so it may run between fork and exec.
    unsafe {
        command.pre_exec(|| {
            let none = libc::rlimit { rlim_cur: 0, rlim_max: 0 };
            libc::setrlimit(libc::RLIMIT_CORE, &none);
            Ok(())
        });
    }
}

/// Every broken field of a descriptor is refused by `run`, `check` and `plugins inspect` with one
/// message naming the library file and the field.
#[test]
fn a_broken_descriptor_is_refused_naming_the_file_and_the_field() {
    let file = plugin_lib("fixture_bad_descriptor");
    let check = |case: &str, field: &str| {
        let dir = tempfile::tempdir().unwrap();
        let scenario =
            with_activation(&format!(r#"Plugin(lib: "{}", name: "identity")"#, lib("fixture_bad_descriptor")));
        std::fs::write(dir.path().join("bad.ron"), scenario.replace("{OUT}", "out")).unwrap();
        let inspect = ["plugins", "inspect", file.to_str().unwrap()];
        for args in [&["run", "bad.ron"][..], &["check", "bad.ron"], &inspect] {
            let (status, _, stderr) = meanfield_with(args, dir.path(), &[("MF_FIXTURE_DESCRIPTOR", case)]);
            assert_eq!(status.code(), Some(1), "{case}: `{args:?}`\n{stderr}");
            let expected = format!("{}: unusable plugin descriptor: {field}", file.display());
            assert!(stderr.contains(&expected), "{case}: `{args:?}`: {expected:?} in\n{stderr}");
            assert_eq!(stderr.matches("error:").count(), 1, "{case}: one message\n{stderr}");
        }
        assert!(!dir.path().join("out").exists(), "{case}: nothing is written");
    };
    check("null_name", "activations[0].name is a null pointer with length 5");
    check("non_utf8", "activations[0].name is not UTF-8");
    check("plugin_name", "the plugin's `name` is not UTF-8");
    check("huge_len", "activations[0].params claims a length of 1099511627776 bytes");
    check("huge_count", "`activation_count` is 18446744073709551615");
    check("null_array", "`distributions` is a null pointer with `distribution_count` 2");
    check("null_eval", "activations[0].eval is a null function pointer");
    check("twins", "activations[0] and activations[1] are both named 'identity'");
    // Unset, the same library is valid.
    let (status, stdout, stderr) = meanfield_with(&["plugins", "inspect", file.to_str().unwrap()], Path::new("."), &[]);
    assert!(status.success() && stdout.contains("raw_growing_dim"), "{stderr}");
}

/// A path that is not a library is named for what it is: `run`/`check` through a scenario's `lib`, and
/// `plugins inspect` given the path.
#[test]
fn a_plugin_path_that_is_not_a_regular_file_says_what_it_is() {
    let dir = tempfile::tempdir().unwrap();
    let lib_dir = dir.path().join("libs");
    std::fs::create_dir_all(lib_dir.join("libdirectory.so")).unwrap();
    std::fs::write(lib_dir.join("libempty.so"), b"").unwrap();
    let fifo = std::ffi::CString::new(lib_dir.join("libfifo.so").to_str().unwrap()).unwrap();
    #[allow(unsafe_code)]
    // SAFETY: a valid C string.
    let made = unsafe { libc::mkfifo(fifo.as_ptr(), 0o600) };
    assert_eq!(made, 0, "mkfifo");
    let check = |lib: &str, path: &str, what: &str| {
        let expected = format!("{path} is {what}, not a plugin library");
        check_with(
            &with_activation(&format!(r#"Plugin(lib: "{lib}", name: "x")"#)),
            &[],
            &["check", "run"],
            1,
            &[&expected],
        );
        let (status, _, stderr) = meanfield_with(&["plugins", "inspect", path], dir.path(), &[]);
        assert_eq!(status.code(), Some(1), "{stderr}");
        assert!(stderr.contains(&expected), "{expected:?} in\n{stderr}");
    };
    let libs = lib_dir.display();
    check(&format!("{libs}/directory"), &format!("{libs}/libdirectory.so"), "a directory");
    check(&format!("{libs}/fifo"), &format!("{libs}/libfifo.so"), "a FIFO (named pipe)");
    check(&format!("{libs}/empty"), &format!("{libs}/libempty.so"), "an empty file");
    check("/dev/zero", "/dev/zero", "a character device");
}

/// A distribution whose `dim` grows after creation is a refusal naming it, never a read past a buffer:
/// through the SDK (which reads `dim` once) and written against the raw ABI (the host asks again after
/// each call).
#[test]
fn a_dimension_that_changes_is_a_fault_not_a_crash() {
    check(
        &with_data(&format!(r#"Plugin(lib: "{}", name: "grows_dim")"#, lib("fixture_crashes"))),
        &["data distribution 'grows_dim'", "failed in `sample`: dim() changed from 3 to"],
    );
    check(
        &with_data(&format!(r#"Plugin(lib: "{}", name: "raw_growing_dim")"#, lib("fixture_bad_descriptor"))),
        &["data distribution 'raw_growing_dim'", "`dim` changed from 3 to 4 after the instance was made"],
    );
}

#[test]
fn a_distribution_with_a_generator_of_its_own_is_refused() {
    check(
        &with_data(&format!(r#"Plugin(lib: "{}", name: "global_rng")"#, lib("fixture_crashes"))),
        &["data distribution 'global_rng'", "gave different samples from the same random stream", "plugins check"],
    );
}

/// The one run directory a run made under `root` (its `output`): `root/<date and time>`.
fn the_run_dir(root: &Path) -> std::path::PathBuf {
    let dirs: Vec<_> = std::fs::read_dir(root).unwrap().map(|e| e.unwrap().path()).filter(|p| p.is_dir()).collect();
    assert_eq!(dirs.len(), 1, "one run directory in {}: {dirs:?}", root.display());
    dirs[0].clone()
}

/// `exit(0)` from a plugin mid-run is not success: exit code 4, what was running, how to resume, and no
/// outputs claimed.
#[test]
fn a_plugin_calling_exit_cannot_make_a_run_look_successful() {
    let dir = tempfile::tempdir().unwrap();
    let scenario = with_activation(&format!(r#"Plugin(lib: "{}", name: "exits")"#, lib("fixture_crashes")));
    std::fs::write(dir.path().join("bad.ron"), scenario.replace("{OUT}", "out")).unwrap();
    let (status, stdout, stderr) = meanfield_with(&["run", "bad.ron"], dir.path(), &[]);
    assert_eq!(status.code(), Some(4), "{stderr}");
    for fragment in [
        "error: `meanfield run bad.ron` did not finish: exit() was called while running `eval` of activation 'exits'",
        "libfixture_crashes.so",
        "continue with `meanfield run bad.ron --resume out/20",
    ] {
        assert!(stderr.contains(fragment), "{fragment:?} in\n{stderr}");
    }
    assert!(!stdout.contains("results written"), "{stdout}");
    let run_dir = the_run_dir(&dir.path().join("out"));
    assert!(!run_dir.join("summary.ron").exists() && run_dir.join("checkpoint/header.ron").is_file());
}

/// A fatal signal inside a plugin call names the signal, the call and the resume command, then the
/// process dies of that signal (so shells and schedulers see what happened).
#[test]
fn a_fatal_signal_in_a_plugin_names_the_call_and_the_resume_command() {
    use std::os::unix::process::ExitStatusExt;
    let check = |activation: &str, signal: i32, name: &str| {
        let dir = tempfile::tempdir().unwrap();
        let scenario = with_activation(&format!(r#"Plugin(lib: "{}", name: "{activation}")"#, lib("fixture_crashes")));
        std::fs::write(dir.path().join("bad.ron"), scenario.replace("{OUT}", "out")).unwrap();
        let (status, _, stderr) = meanfield_with(&["run", "bad.ron"], dir.path(), &[]);
        assert_eq!(status.signal(), Some(signal), "{activation}: {status:?}\n{stderr}");
        for fragment in [
            format!("error: `meanfield run bad.ron` died of {name}"),
            format!("while running `eval` of activation '{activation}' in "),
            "continue with `meanfield run bad.ron --resume out/20".to_owned(),
        ] {
            assert!(stderr.contains(&fragment), "{activation}: {fragment:?} in\n{stderr}");
        }
    };
    check("segfaults", libc::SIGSEGV, "SIGSEGV");
    check("aborts", libc::SIGABRT, "SIGABRT");
    // Reported from the alternate signal stack: the thread's own stack is exhausted.
    check("overflows_stack", libc::SIGSEGV, "SIGSEGV");
}

/// Starts `meanfield run bad.ron` on the plugin activation that never returns; returns the child and
/// the lines of its stderr as they come.
fn start_hanging_run(dir: &Path, outputs: &str) -> (std::process::Child, std::sync::mpsc::Receiver<String>) {
    let scenario = with_activation(&format!(r#"Plugin(lib: "{}", name: "hangs")"#, lib("fixture_crashes")))
        .replace("observables:", &format!("outputs: {outputs},\n    observables:"));
    std::fs::write(dir.join("bad.ron"), scenario.replace("{OUT}", "out")).unwrap();
    let mut child = Command::new(env!("CARGO_BIN_EXE_meanfield"))
        .args(["run", "bad.ron"])
        .current_dir(dir)
        .stderr(Stdio::piped())
        .stdout(Stdio::null())
        .spawn()
        .unwrap();
    let stderr = child.stderr.take().unwrap();
    let (send, lines) = std::sync::mpsc::channel();
    std::thread::spawn(move || {
        use std::io::BufRead;
        for line in std::io::BufReader::new(stderr).lines().map_while(Result::ok) {
            let _ = send.send(line);
        }
    });
    (child, lines)
}

/// Waits for a line containing `fragment` (collecting every line into `seen`).
fn wait_for(lines: &std::sync::mpsc::Receiver<String>, fragment: &str, seen: &mut Vec<String>) {
    let deadline = Instant::now() + Duration::from_secs(60);
    while !seen.iter().any(|l| l.contains(fragment)) {
        let left = deadline.saturating_duration_since(Instant::now());
        match lines.recv_timeout(left) {
            Ok(line) => seen.push(line),
            Err(_) => panic!("no line with {fragment:?}; stderr so far:\n{}", seen.join("\n")),
        }
    }
}

fn interrupt(child: &std::process::Child) {
    #[allow(unsafe_code)]
    // SAFETY: kill(2) on our own child's pid.
    let sent = unsafe { libc::kill(child.id() as libc::pid_t, libc::SIGINT) };
    assert_eq!(sent, 0);
}

/// Waits at most `limit` for the child to end.
fn ended_within(child: &mut std::process::Child, limit: Duration) -> std::process::ExitStatus {
    let deadline = Instant::now() + limit;
    loop {
        if let Some(status) = child.try_wait().unwrap() {
            return status;
        }
        if Instant::now() > deadline {
            child.kill().unwrap();
            panic!("still running {limit:?} after the last Ctrl-C");
        }
        std::thread::sleep(Duration::from_millis(20));
    }
}

/// The first Ctrl-C asks to stop at the next chunk boundary (which a plugin stuck in a call never
/// reaches), the second quits at once with 130; the checkpoint stays.
#[test]
fn a_second_ctrl_c_stops_a_run_stuck_inside_a_plugin_call() {
    let dir = tempfile::tempdir().unwrap();
    let (mut child, lines) = start_hanging_run(dir.path(), "(checkpoint_seconds: Some(60.0))");
    let mut seen = Vec::new();
    wait_for(&lines, "inside a call that never returns", &mut seen);
    interrupt(&child);
    wait_for(&lines, "stopping at the next chunk boundary", &mut seen);
    std::thread::sleep(Duration::from_millis(300));
    assert!(child.try_wait().unwrap().is_none(), "the first Ctrl-C does not quit:\n{}", seen.join("\n"));
    interrupt(&child);
    let status = ended_within(&mut child, Duration::from_secs(5));
    seen.extend(lines.iter());
    let stderr = seen.join("\n");
    assert_eq!(status.code(), Some(130), "{stderr}");
    for fragment in [
        "second Ctrl-C: quitting at once while running `eval` of activation 'hangs'",
        "continue with `meanfield run bad.ron --resume out/20",
    ] {
        assert!(stderr.contains(fragment), "{fragment:?} in\n{stderr}");
    }
    let header = std::fs::read_to_string(the_run_dir(&dir.path().join("out")).join("checkpoint/header.ron")).unwrap();
    assert!(header.contains("scenario_sha256"), "the checkpoint is intact:\n{header}");
}

/// Without checkpoints nothing could be kept: the first Ctrl-C says so and quits.
#[test]
fn ctrl_c_without_checkpoints_says_nothing_is_kept() {
    let dir = tempfile::tempdir().unwrap();
    let (mut child, lines) = start_hanging_run(dir.path(), "(checkpoint_seconds: None)");
    let mut seen = Vec::new();
    wait_for(&lines, "inside a call that never returns", &mut seen);
    interrupt(&child);
    let status = ended_within(&mut child, Duration::from_secs(5));
    seen.extend(lines.iter());
    let stderr = seen.join("\n");
    assert_eq!(status.code(), Some(130), "{stderr}");
    assert!(stderr.contains("this run keeps no checkpoint") && stderr.contains("nothing of it is kept"), "{stderr}");
    let runs: Vec<_> =
        std::fs::read_dir(dir.path().join("out")).into_iter().flatten().map(|e| e.unwrap().path()).collect();
    assert!(runs.iter().all(|run| !run.join("checkpoint").exists()), "no checkpoint in {runs:?}");
}

/// `meanfield plugins check`: the example plugins pass every check; each broken fixture fails the
/// check it breaks, with the reason, and the exit code says so.
#[test]
fn plugins_check_passes_the_examples_and_fails_each_broken_contract() {
    let check = |lib: &str, args: &[&str], code: i32, expected: &[&str]| {
        let file = plugin_lib(lib);
        let mut all = vec!["plugins", "check", file.to_str().unwrap()];
        all.extend(args);
        let (status, stdout, stderr) = meanfield_with(&all, Path::new("."), &[]);
        assert_eq!(status.code(), Some(code), "{lib} {args:?}\n{stdout}\n{stderr}");
        for fragment in expected {
            assert!(stdout.contains(fragment), "{lib} {args:?}: {fragment:?} in\n{stdout}");
        }
        stdout
    };
    let checks = ["create", "sizes", "determinism", "NaN and infinite inputs", "thread safety", "panics"];
    let swish = check("swish", &["--params", "swish=(beta: 1.5)"], 0, &["all 14 checks passed"]);
    let mixture = "gaussian_mixture=(components: [(weight: 1.0, mean: [1.0, -2.0], std: 0.5, label: 1.0), (weight: 2.0, \
         mean: [0.0, 0.0], std: 1.0, label: -1.0)])";
    let gaussian = check("gaussian_mixture", &["--params", mixture], 0, &["log-density of its own samples"]);
    for (stdout, component) in [(&swish, "activation 'softplus'"), (&gaussian, "data distribution 'gaussian_mixture'")]
    {
        for name in checks {
            assert!(stdout.contains(&format!("PASS  {component}: {name}")), "{component} {name} in\n{stdout}");
        }
    }
    check(
        "swish",
        &[],
        1,
        &["FAIL  activation 'swish': create", "--params swish='(…)'", "PASS  activation 'softplus'"],
    );
    check(
        "fixture_crashes",
        &["--only", "global_rng"],
        1,
        &[
            "FAIL  data distribution 'global_rng': determinism: two draws of inputs from the same random stream differ",
            "FAIL  data distribution 'global_rng': thread safety",
            "PASS  data distribution 'global_rng': sizes",
        ],
    );
    check(
        "fixture_crashes",
        &["--only", "grows_dim"],
        1,
        &["FAIL  data distribution 'grows_dim': sizes", "dim() changed"],
    );
    check(
        "fixture_faulty",
        &["--only", "nan"],
        1,
        &[
            "FAIL  activation 'nan': finite outputs for finite inputs: the value at z = -10 is NaN",
            "PASS  activation 'nan': NaN and infinite inputs",
        ],
    );
    check(
        "fixture_faulty",
        &["--only", "panics_in_eval"],
        1,
        &["FAIL  activation 'panics_in_eval': panics: activation 'panics_in_eval'", "deliberate panic in eval"],
    );
    // `strict` ignores the derivative it is asked for.
    check(
        "fixture_faulty",
        &["--only", "strict", "--params", "strict=(threshold: 1.0)"],
        1,
        &["FAIL  activation 'strict': sizes: asked for 1 derivatives, it left derivatives[0] unwritten"],
    );
    let (status, _, stderr) = meanfield_with(
        &["plugins", "check", plugin_lib("swish").to_str().unwrap(), "--only", "swsh"],
        Path::new("."),
        &[],
    );
    assert_eq!(status.code(), Some(1));
    assert!(stderr.contains("has no component 'swsh'; it provides swish, softplus"), "{stderr}");
}
