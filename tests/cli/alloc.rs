//! Allocation: the per-step hot loop (sample a batch, take a step) allocates nothing, the checked
//! scenario's memory estimate bounds what checking, building and running allocate (a counting global
//! allocator counts this thread's allocations and bytes), and sizes too large for this process are
//! refused before anything is allocated from them, also under `ulimit -v`.

#![allow(clippy::unwrap_used)] // test code: a failed unwrap is a failed test

use crate::common::{SMALL, meanfield};
use meanfield_core::progress::NoProgress;
use meanfield_core::{Purpose, ReplicaStreams, StreamKey};
use meanfield_scenario::CheckedScenario;
use std::alloc::{GlobalAlloc, Layout, System};
use std::cell::Cell;
use std::path::Path;
use std::process::Command;

struct Counting;

thread_local! {
    static ALLOCATIONS: Cell<usize> = const { Cell::new(0) };
    /// Bytes this thread allocated and has not freed (frees of other threads' blocks make it smaller).
    static LIVE: Cell<isize> = const { Cell::new(0) };
    /// The most `LIVE` has been since [`reset_peak`].
    static PEAK: Cell<isize> = const { Cell::new(0) };
}

fn grow(bytes: isize) {
    let live = LIVE.with(|l| {
        l.set(l.get() + bytes);
        l.get()
    });
    PEAK.with(|p| p.set(p.get().max(live)));
}

// SAFETY: forwards to the system allocator; only counts.
#[allow(unsafe_code)]
unsafe impl GlobalAlloc for Counting {
    unsafe fn alloc(&self, layout: Layout) -> *mut u8 {
        ALLOCATIONS.with(|c| c.set(c.get() + 1));
        grow(layout.size() as isize);
        unsafe { System.alloc(layout) }
    }
    unsafe fn dealloc(&self, ptr: *mut u8, layout: Layout) {
        grow(-(layout.size() as isize));
        unsafe { System.dealloc(ptr, layout) }
    }
    unsafe fn realloc(&self, ptr: *mut u8, layout: Layout, new_size: usize) -> *mut u8 {
        ALLOCATIONS.with(|c| c.set(c.get() + 1));
        grow(new_size as isize - layout.size() as isize);
        unsafe { System.realloc(ptr, layout, new_size) }
    }
}

/// Starts counting the peak anew; returns the bytes live now.
pub(crate) fn reset_peak() -> isize {
    let live = LIVE.with(Cell::get);
    PEAK.with(|p| p.set(live));
    live
}

/// The most bytes this thread held at once since [`reset_peak`] returned `start`.
pub(crate) fn peak_since(start: isize) -> u128 {
    (PEAK.with(Cell::get) - start).max(0) as u128
}

#[global_allocator]
static GLOBAL: Counting = Counting;

fn allocations() -> usize {
    ALLOCATIONS.with(Cell::get)
}

fn scenario(data: &str, dynamics: &str, bias: bool, replicas: usize) -> String {
    let b = if bias { "b: Trained(Constant(0.0))," } else { "" };
    format!(
        r#"Scenario(
            name: "alloc", replicas: {replicas},
            model: OneHidden(width: 32, activation: Tanh,
                c: Trained(Gaussian(mean: 0.0, std: 1.0)),
                w: Trained(Gaussian(mean: 0.0, std: 1.0, per_sqrt_dim: true)),
                {b}),
            data: {data},
            dynamics: {dynamics},
            horizon: Steps(10),
        )"#
    )
}

#[test]
fn steps_do_not_allocate() {
    let dir = tempfile::tempdir().unwrap();
    let csv = dir.path().join("rows.csv");
    std::fs::write(&csv, "a,b,y\n1,2,0.5\n2,1,-0.5\n0,1,1.0\n").unwrap();
    let network = "TeacherStudent(dim: 4, teacher: Network(width: 3, activation: Tanh), noise: 0.1)";
    let dataset = format!("Dataset(path: \"{}\", target: Name(\"y\"), sampling: Epochs)", csv.display());
    // (data, dynamics, bias, replicas): SGD through the descent direction (a bias, or noise), the fused
    // plain step alone (online and minibatch) and in lanes (eight replicas of an online network).
    let cases = [
        (network, "OnlineSgd(step: PerNeuron(1.0))", true, 1),
        ("IsotropicGaussians(dim: 4, delta: 0.5)", "MinibatchSgd(step: Fixed(0.01), batch: 8)", true, 1),
        (&dataset, "NoisySgd(step: Fixed(0.01), batch: 2, weight_decay: 0.1, temperature: 0.01)", true, 1),
        (
            "TeacherStudent(dim: 4, teacher: SingleIndex(link: Relu))",
            "NoisySgd(step: Fixed(0.01), temperature: 0.1)",
            true,
            1,
        ),
        (network, "OnlineSgd(step: PerNeuron(1.0))", false, 1),
        ("IsotropicGaussians(dim: 4, delta: 0.5)", "MinibatchSgd(step: Fixed(0.01), batch: 8)", false, 1),
        (network, "OnlineSgd(step: PerNeuron(1.0))", false, 8),
    ];
    for (data, dynamics, bias, replicas) in cases {
        let text = scenario(data, dynamics, bias, replicas);
        let scenario = CheckedScenario::from_text(&text, "alloc", dir.path()).unwrap();
        let plan = &scenario.plans()[0];
        let group = plan.dynamics.group(replicas);
        assert_eq!(group > 1, replicas > 1, "{dynamics}, {replicas} replicas: lanes as expected");
        let mut stepper = plan.dynamics.stepper(group);
        let mut params = vec![0.0; plan.blocks.iter().map(|b| b.rows * b.cols).sum()];
        let mut streams: Vec<ReplicaStreams<'_>> = (0..group)
            .map(|r| {
                let key = |purpose| StreamKey::replica(1, "", r as u64, purpose).stream();
                (plan.init)(&mut params, &mut key(Purpose::Init));
                stepper.set_params(r, &params);
                ReplicaStreams {
                    data: plan.data.stream(),
                    data_rng: key(Purpose::Data),
                    noise_rng: key(Purpose::Noise),
                }
            })
            .collect();
        let mut diverged = vec![None; group];

        let before = allocations();
        for _ in 0..50 {
            stepper.advance(10, &mut streams, &mut diverged);
        }
        assert_eq!(allocations() - before, 0, "{dynamics} on {data} (bias {bias}, {replicas} replicas) allocated");
        assert!(diverged.iter().all(Option::is_none));
    }
    // The counter works: a run (which allocates its records) is seen.
    let before = allocations();
    let scenario = CheckedScenario::from_text(
        &scenario("IsotropicGaussians(dim: 2, delta: 0.5)", "OnlineSgd(step: Fixed(0.1))", true, 1),
        "alloc",
        dir.path(),
    )
    .unwrap();
    meanfield_dynamics::run_replica(&scenario.plans()[0], 0, &NoProgress);
    assert!(allocations() > before);
}

#[test]
fn the_estimate_bounds_what_checking_building_and_running_allocate() {
    let dir = tempfile::tempdir().unwrap();
    let rows: String = (0..200).map(|i| format!("{},{},{}\n", i % 7, i % 5, (i % 3) as f64 - 1.0)).collect();
    std::fs::write(dir.path().join("rows.csv"), format!("a,b,y\n{rows}")).unwrap();
    let particles = "record: Every(0.5), outputs: (csv: false, plots: [], particles: Some((times: [0.0, 5.0, 10.0], replicas: 2))),";
    // (what, replacements of SMALL): the small scenario, a wide minibatch network, a data file read in
    // epochs, a histogram with particle files, a teacher network swept over widths and seeds.
    let cases: [(&str, Vec<(&str, &str)>); 5] = [
        ("small", vec![]),
        (
            "wide minibatch",
            vec![
                ("width: 8", "width: 512"),
                ("OnlineSgd(step: Fixed(0.05))", "MinibatchSgd(step: Fixed(0.05), batch: 64)"),
            ],
        ),
        (
            "data file",
            vec![(
                "TeacherStudent(dim: 3, teacher: SingleIndex(link: Tanh))",
                "Dataset(path: \"rows.csv\", target: Name(\"y\"), sampling: Epochs, test_fraction: 0.25)",
            )],
        ),
        (
            "histogram and particle files",
            vec![
                ("Moments]", "Moments, Histogram(of: Coordinate(\"w\", 0), bins: 500, range: (-2.0, 2.0))]"),
                ("record: Every(2.0),", particles),
            ],
        ),
        (
            "swept teacher network",
            vec![
                ("SingleIndex(link: Tanh)", "Network(width: 64, activation: Tanh)"),
                ("record: Every(2.0),", "record: Every(2.0), sweep: (width: [8, 64], seeds: [1, 2]),"),
            ],
        ),
    ];
    for (what, replacements) in cases {
        let text = replacements.iter().fold(SMALL.replace("{OUT}", "out"), |t, (from, to)| {
            assert!(t.contains(from), "{what}: {from}");
            t.replacen(from, to, 1)
        });
        let start = reset_peak();
        let scenario = CheckedScenario::from_text(&text, what, dir.path()).unwrap();
        let plans = scenario.plans();
        // The run keeps every replica's results until they are written.
        let results: Vec<_> = plans
            .iter()
            .flat_map(|plan| (0..plan.info.replicas).map(|r| meanfield_dynamics::run_replica(plan, r, &NoProgress)))
            .collect();
        let peak = peak_since(start);
        let estimate = scenario.memory.estimate.bytes.0;
        assert!(results.iter().all(|r| r.divergence.is_none()), "{what}: a replica diverged");
        assert!(peak <= estimate, "{what}: allocated {peak} bytes at once, more than the estimate {estimate}");
        // Not a bound by being huge: within a small factor of what was held (and the threads' share).
        assert!(estimate < 64 * peak + (16 << 20), "{what}: estimate {estimate} for {peak} bytes held");
    }
}

/// Writes `scenario` (SMALL varied) to `bad.ron` in `dir` and runs `meanfield <command> bad.ron` there,
/// under `ulimit -v 4194304` (4 GiB of address space) when `limited`, with the budget variable set to
/// `budget` otherwise.
fn meanfield_in(dir: &Path, command: &str, limited: bool, budget: &str) -> crate::common::Outcome {
    if !limited {
        let out = Command::new(env!("CARGO_BIN_EXE_meanfield"))
            .args([command, "bad.ron"])
            .current_dir(dir)
            .env("MEANFIELD_MEMORY_BUDGET", budget)
            .output()
            .unwrap();
        return crate::common::Outcome {
            code: out.status.code(),
            stdout: String::from_utf8_lossy(&out.stdout).into_owned(),
            stderr: String::from_utf8_lossy(&out.stderr).into_owned(),
        };
    }
    let script = r#"ulimit -v 4194304 || exit 97; exec "$0" "$@""#;
    let out = Command::new("sh")
        .args(["-c", script, env!("CARGO_BIN_EXE_meanfield"), command, "bad.ron"])
        .current_dir(dir)
        .env_remove("MEANFIELD_MEMORY_BUDGET")
        .output()
        .unwrap();
    assert_ne!(out.status.code(), Some(97), "this shell cannot set ulimit -v");
    crate::common::Outcome {
        code: out.status.code(),
        stdout: String::from_utf8_lossy(&out.stdout).into_owned(),
        stderr: String::from_utf8_lossy(&out.stderr).into_owned(),
    }
}

/// A refusal to expect: the scenario, the start of its message, and the budget it is judged by without
/// the ulimit (`None`: the case fits in 4 GiB, only a smaller budget refuses it).
struct Refusal {
    scenario: String,
    message: String,
    budget: Option<&'static str>,
}

/// SMALL with `replacements`.
fn small_with(replacements: &[(&str, String)]) -> String {
    replacements.iter().fold(SMALL.to_owned(), |t, (from, to)| {
        assert!(t.contains(from), "{from}");
        t.replacen(from, to, 1)
    })
}

/// Sizes no process here can hold, each named by its field and the words before the need.
fn huge_cases() -> Vec<Refusal> {
    let values = format!("[{}]", (1..=1000).map(|v| format!("{v}.0")).collect::<Vec<_>>().join(", "));
    let sweep_1e9 = format!(
        "record: Every(2.0), sweep: (fields: [(\"data.noise\", {values}), (\"dynamics.step\", {values}), (\"model.c.Trained.std\", {values})]),"
    );
    let record = "horizon: Steps(200),\n    record: Every(2.0),";
    let case = |from: &str, to: &str, field: &str, what: &str| Refusal {
        scenario: small_with(&[(from, to.to_owned())]),
        message: format!("{field}: {what}"),
        budget: Some("16GiB"),
    };
    vec![
        case("replicas: 2", "replicas: 1000000000000000", "replicas", "1e15 replicas need"),
        case("width: 8", "width: 1000000000000", "model.width", "a width of 1e12 needs"),
        case("dim: 3", "dim: 10000000000", "data.dim", "a dimension of 1e10 needs"),
        case("Risk(samples: 100)", "Risk(samples: 1000000000000)", "observables.samples", "1e12 risk samples need"),
        case(
            "Moments]",
            "Histogram(of: Coordinate(\"w\", 0), bins: 1000000000000, range: (0.0, 1.0))]",
            "observables.bins",
            "1e12 histogram bins need",
        ),
        case("record: Every(2.0),", &sweep_1e9, "sweep", "1e9 sweep points need"),
        case(
            record,
            "horizon: Steps(10000000000000), record: LogSpaced(1000000000000),",
            "record",
            "1e12 record steps need",
        ),
        case(record, "horizon: Steps(10000000000000), record: Every(1e-300),", "record", "1e13 record steps need"),
        case(
            "OnlineSgd(step: Fixed(0.05))",
            "MinibatchSgd(step: Fixed(0.05), batch: 1000000000000)",
            "dynamics.batch",
            "a batch of 1e12 needs",
        ),
        case(
            "SingleIndex(link: Tanh)",
            "Network(width: 4294967296, activation: Tanh)",
            "data.teacher.width",
            "a teacher network of width 4.3e9 needs",
        ),
        case(
            "record: Every(2.0),",
            // 2^53, the largest whole number a sweep takes written as a float (the sweep refuses 1e300 itself).
            "record: Every(2.0), sweep: (fields: [(\"model.width\", [8.0, 9007199254740992])]),",
            "sweep.fields",
            "a width of 9e15 ('model.width') needs",
        ),
        case(
            "record: Every(2.0),",
            // 2^63 is a whole number of the width's type, exact in a sweep when written as a whole number.
            "record: Every(2.0), sweep: (width: [8, 9223372036854775808]),",
            "sweep.width",
            "a width of 9.2e18 needs more than 16 EiB",
        ),
        Refusal {
            budget: None,
            ..case(
                "dim: 3, teacher: SingleIndex(link: Tanh)",
                "dim: 200, teacher: ThreeSpin, inputs: Sphere",
                "data.dim",
                "ThreeSpin couplings of dimension 200 need",
            )
        },
    ]
}

/// Data files that are not tables: (file name, what to create, the message).
fn bad_files(dir: &Path) -> Vec<(String, &'static str)> {
    std::fs::write(dir.join("empty.csv"), "").unwrap();
    std::fs::write(dir.join("header.csv"), "a,b,y\n").unwrap();
    std::fs::create_dir(dir.join("folder.csv")).unwrap();
    let fifo = Command::new("mkfifo").arg(dir.join("pipe.csv")).status().unwrap();
    assert!(fifo.success(), "mkfifo failed");
    // A valid 2 × 2 NPY file whose header claims 10^9 × 10^9 values (the same header length).
    let npy = dir.join("huge.npy");
    ndarray_npy::write_npy(&npy, &ndarray::array![[1.0, 2.0], [3.0, 4.0]]).unwrap();
    let bytes = std::fs::read(&npy).unwrap();
    let end = bytes.iter().position(|&b| b == b'\n').unwrap() + 1;
    let (small, huge) = ("(2, 2)", "(1000000000, 1000000000)");
    let header = String::from_utf8(bytes[10..end].to_vec()).unwrap().replacen(small, huge, 1).replacen(
        &format!("{}\n", " ".repeat(huge.len() - small.len())),
        "\n",
        1,
    );
    std::fs::write(&npy, [&bytes[..10], header.as_bytes(), &bytes[end..]].concat()).unwrap();
    vec![
        ("/dev/zero".into(), "/dev/zero: is a character device, not a data file"),
        ("empty.csv".into(), "empty.csv: is empty"),
        ("header.csv".into(), "header.csv: has no rows, only a header line"),
        ("folder.csv".into(), "folder.csv: is a directory, not a data file"),
        ("pipe.csv".into(), "pipe.csv: is a FIFO (named pipe), not a data file"),
        ("huge.npy".into(), "huge.npy: its header claims shape [1000000000, 1000000000]"),
    ]
}

/// Every huge size and bad file is one refusal with exit 1 naming the field and the need (or the file),
/// from `check` and from `run`; under `ulimit -v` (`limited`) nothing aborts or dies of a signal either.
fn refuses_everything(limited: bool) {
    let dir = tempfile::tempdir().unwrap();
    let mut cases = huge_cases();
    for (file, message) in bad_files(dir.path()) {
        let data = format!("Dataset(path: \"{file}\", target: Name(\"y\"))");
        let from = "TeacherStudent(dim: 3, teacher: SingleIndex(link: Tanh))";
        cases.push(Refusal { scenario: small_with(&[(from, data)]), message: message.into(), budget: Some("16GiB") });
    }
    for Refusal { scenario, message: expected, budget } in cases {
        // The ThreeSpin couplings (61 MiB) are refused by a budget of 32 MiB, and fit in 4 GiB.
        let budget = match budget {
            None if limited => continue,
            None => "32MiB",
            Some(budget) => budget,
        };
        std::fs::write(dir.path().join("bad.ron"), scenario.replace("{OUT}", "out")).unwrap();
        for command in ["check", "run"] {
            let out = meanfield_in(dir.path(), command, limited, budget);
            let context = format!("`{command}` (ulimit -v: {limited}) for {expected:?}:\n{}", out.stderr);
            assert_eq!(out.code, Some(1), "exit 1, no signal: {context}");
            assert!(!out.stderr.contains("memory allocation"), "abort: {context}");
            assert!(!out.stderr.contains("panicked"), "panic: {context}");
            assert!(out.stderr.contains(&expected), "message: {context}");
            if !expected.contains(".csv") && !expected.contains(".npy") && !expected.contains("/dev/zero") {
                let limit = if limited { "(the address-space limit, ulimit -v)" } else { "(MEANFIELD_MEMORY_BUDGET)" };
                assert!(out.stderr.contains("; this process may use "), "budget: {context}");
                assert!(out.stderr.contains(limit), "budget source: {context}");
                assert_eq!(out.stderr.matches("error").count(), 1, "one message: {context}");
            }
        }
    }
}

#[test]
fn huge_sizes_and_bad_files_are_refused_before_allocating() {
    refuses_everything(false);
}

#[test]
fn under_ulimit_v_4_gib_nothing_aborts() {
    refuses_everything(true);
}

#[test]
fn legal_extremes_run_and_check_prints_the_estimate() {
    let dir = tempfile::tempdir().unwrap();
    // (replacement, records of the point): a record interval below the step is every step, as are
    // log-spaced times far more than the steps (each step once); a step of 10^12 checks without allocating.
    let cases = [
        ("record: Every(2.0),", "record: Every(1e-300),", 201),
        ("record: Every(2.0),", "record: LogSpaced(1000000000000),", 201),
        ("Fixed(0.05)", "Fixed(1000000000000.0)", 201),
    ];
    for (from, to, records) in cases {
        std::fs::write(dir.path().join("ok.ron"), SMALL.replace("{OUT}", "out").replacen(from, to, 1)).unwrap();
        let out = meanfield(&["check", "ok.ron"], dir.path());
        assert_eq!(out.code, Some(0), "{to}: {}", out.stderr);
        assert!(out.stdout.contains(&format!("records={records} ")), "{to}: {}", out.stdout);
        let memory = out.stdout.lines().find(|l| l.trim_start().starts_with("memory: needs about ")).unwrap_or("");
        assert!(memory.contains(" KiB of ") || memory.contains(" MiB of "), "{to}: {}", out.stdout);
    }
    let budget = Command::new(env!("CARGO_BIN_EXE_meanfield"))
        .args(["check", "ok.ron"])
        .current_dir(dir.path())
        .env("MEANFIELD_MEMORY_BUDGET", "lots")
        .output()
        .unwrap();
    let stderr = String::from_utf8_lossy(&budget.stderr);
    assert_eq!(budget.status.code(), Some(1), "{stderr}");
    assert!(stderr.contains("MEANFIELD_MEMORY_BUDGET: 'lots' is not an amount of memory"), "{stderr}");
}

/// A plugin's data dimension is known only once its instance is built: the estimate is made again with
/// it, so held-out risk samples of a 200-dimensional plugin law are refused where those of a
/// 2-dimensional one fit.
#[test]
fn the_estimate_is_made_again_with_a_plugin_datas_dimension() {
    let dir = tempfile::tempdir().unwrap();
    let scenario = |dim: usize| {
        let mean = vec!["1.0"; dim].join(", ");
        let data = format!(
            r#"Plugin(lib: "{}", name: "gaussian_mixture", params: (components: [(weight: 1.0, mean: [{mean}], std: 0.3, label: 1.0)]))"#,
            crate::common::plugin_dir().join("gaussian_mixture").display()
        );
        small_with(&[
            ("TeacherStudent(dim: 3, teacher: SingleIndex(link: Tanh))", data),
            ("Risk(samples: 100)", "Risk(samples: 20000)".into()),
        ])
    };
    // 20 000 samples of 201 numbers are 32 MB; of 3 numbers, 480 kB.
    std::fs::write(dir.path().join("bad.ron"), scenario(200).replace("{OUT}", "out")).unwrap();
    let out = meanfield_in(dir.path(), "check", false, "8MiB");
    assert_eq!(out.code, Some(1), "{}", out.stderr);
    assert!(out.stderr.contains("need") && out.stderr.contains("this process may use 8.0 MiB"), "{}", out.stderr);
    std::fs::write(dir.path().join("bad.ron"), scenario(2).replace("{OUT}", "out")).unwrap();
    let out = meanfield_in(dir.path(), "check", false, "8MiB");
    assert_eq!(out.code, Some(0), "{}", out.stderr);
}
