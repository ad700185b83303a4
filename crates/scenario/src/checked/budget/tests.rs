//! The memory estimate: the field it names, the need it computes, and how it grows.

use super::*;
use crate::spec::ScenarioSpec;
use std::path::Path;

fn spec(text: &str) -> ScenarioSpec {
    crate::parse::parse(text, "t").unwrap()
}

fn scenario(replace: &[(&str, &str)]) -> ScenarioSpec {
    let mut text = r#"Scenario(name: "t", replicas: 4,
        model: OneHidden(width: 32, activation: Tanh, c: Trained(Constant(1.0)), w: Trained(Constant(0.0))),
        data: TeacherStudent(dim: 3, teacher: SingleIndex(link: Relu)),
        dynamics: OnlineSgd(step: Fixed(0.1)), horizon: Steps(100))"#
        .to_owned();
    for (from, to) in replace {
        assert!(text.contains(from), "{from}");
        text = text.replacen(from, to, 1);
    }
    spec(&text)
}

#[test]
fn bytes_read_in_binary_units() {
    let cases = [(512, "512 B"), (1 << 10, "1.0 KiB"), (1_258_291, "1.2 MiB"), (22 << 30, "22 GiB")];
    for (bytes, text) in cases {
        assert_eq!(Bytes(bytes).to_string(), text);
    }
    assert_eq!(Bytes(1 << 64).to_string(), "more than 16 EiB");
    assert_eq!(count(1_000_000_000_000_000), "1e15");
    assert_eq!(count(u64::MAX as u128), "1.8e19");
    assert_eq!(count(4096), "4096");
}

/// (replacements, the field named, the words, at least this many bytes)
type Case<'a> = (&'a [(&'a str, &'a str)], &'a str, &'a str, u128);

#[test]
fn the_dominating_field_is_named_with_the_need() {
    let cases: [Case<'_>; 8] = [
        (&[("replicas: 4", "replicas: 1000000000000000")], "replicas", "1e15 replicas need", 1 << 60),
        (&[("width: 32", "width: 1000000000000")], "model.width", "a width of 1e12 needs", 1 << 45),
        (&[("dim: 3", "dim: 10000000000")], "data.dim", "a dimension of 1e10 needs", 1 << 40),
        (
            &[("horizon: Steps(100)", "horizon: Steps(100), observables: [Risk(samples: 1000000000000)]")],
            "observables.samples",
            "1e12 risk samples need",
            1 << 45,
        ),
        (
            &[(
                "horizon: Steps(100)",
                "horizon: Steps(100), observables: [Histogram(of: Coordinate(\"w\", 0), bins: 1000000000000, range: (0.0, 1.0))]",
            )],
            "observables.bins",
            "1e12 histogram bins need",
            1 << 45,
        ),
        (
            &[("horizon: Steps(100)", "horizon: Steps(10000000000000), record: Every(1e-300)")],
            "record",
            "1e13 record steps need",
            1 << 45,
        ),
        (
            &[("SingleIndex(link: Relu)", "Network(width: 4294967296, activation: Tanh)")],
            "data.teacher.width",
            "a teacher network of width 4.3e9 needs",
            1 << 36,
        ),
        (
            // 2^53, the largest whole number a `fields` sweep takes.
            &[(
                "horizon: Steps(100)",
                "horizon: Steps(100), sweep: (fields: [(\"model.width\", [8.0, 9007199254740992])])",
            )],
            "sweep.fields",
            "a width of 9e15 ('model.width') needs",
            1 << 53,
        ),
    ];
    for (replace, field, what, at_least) in cases {
        let estimate = estimate(&scenario(replace), Path::new("."));
        assert_eq!((estimate.field.as_str(), estimate.what.as_str()), (field, what), "{replace:?}");
        assert!(estimate.bytes.0 >= at_least, "{replace:?}: {}", estimate.bytes);
    }
}

#[test]
fn sweep_points_are_counted_before_they_are_expanded() {
    let values = format!("[{}]", (0..1000).map(|v| format!("{}.0", v + 1)).collect::<Vec<_>>().join(", "));
    let sweep = format!(
        "horizon: Steps(100), sweep: (fields: [(\"data.noise\", {values}), (\"dynamics.step\", {values}), (\"model.c.Trained\", {values})])"
    );
    let huge = scenario(&[("horizon: Steps(100)", &sweep)]);
    assert_eq!(sweep_points(&huge.sweep), 1_000_000_000);
    let estimate = estimate(&huge, Path::new("."));
    assert_eq!((estimate.field.as_str(), estimate.what.as_str()), ("sweep", "1e9 sweep points need"));
    let err = refuse_over(&estimate, &Budget { bytes: 16 << 30, source: "test" }).unwrap_err();
    assert!(err.message.ends_with("; this process may use 16 GiB (test)"), "{}", err.message);
}

#[test]
fn the_need_grows_with_every_size() {
    // Doubling any size doubles (about) its part, so the whole grows.
    let base = estimate(&scenario(&[]), Path::new(".")).bytes;
    let larger = [
        ("replicas: 4", "replicas: 400000"),
        ("width: 32", "width: 320000"),
        ("dim: 3", "dim: 30000"),
        ("horizon: Steps(100)", "horizon: Steps(100), record: Every(0.1)"),
        ("OnlineSgd(step: Fixed(0.1))", "MinibatchSgd(step: Fixed(0.1), batch: 100000)"),
    ];
    for (from, to) in larger {
        let bytes = estimate(&scenario(&[(from, to)]), Path::new(".")).bytes;
        assert!(bytes > base, "{to}: {bytes} ≤ {base}");
    }
}

/// A batch scaled with the width is counted at each point's width: 8·N² is 512 at N = 8, harmless, and
/// 8e10 at N = 10^5, which dominates and is named; the same rule at N = 8 alone is not.
#[test]
fn a_scaled_batch_is_counted_at_each_width() {
    let dynamics =
        ("OnlineSgd(step: Fixed(0.1))", "MinibatchSgd(step: Fixed(0.1), batch: Scaled(b0: 8, exponent: 2.0))");
    let wide = scenario(&[dynamics, ("horizon: Steps(100)", "horizon: Steps(100), sweep: (width: [8, 100000])")]);
    let estimate = estimate(&wide, Path::new("."));
    assert_eq!((estimate.field.as_str(), estimate.what.as_str()), ("dynamics.batch", "a batch of 8e10 needs"));
    let narrow = scenario(&[dynamics, ("width: 32", "width: 8")]);
    let small = estimate_at(&narrow, Path::new("."), None).bytes.0;
    let plain = |b: &str| {
        let dynamics = format!("MinibatchSgd(step: Fixed(0.1), batch: {b})");
        estimate_at(
            &scenario(&[("OnlineSgd(step: Fixed(0.1))", &dynamics), ("width: 32", "width: 8")]),
            Path::new("."),
            None,
        )
        .bytes
        .0
    };
    // B = 512 at N = 8 either way: the two differ only by the copies of the scenario's text each point
    // holds (`Scaled(b0: 8.0, exponent: 2.0)` is longer than `512`), while a batch of 1024 is 100 kB more.
    assert!(small.abs_diff(plain("512")) < 1024, "{small} against {}", plain("512"));
    assert!(plain("1024") > small + 50_000, "{} against {small}", plain("1024"));
}

#[test]
fn the_estimate_is_made_again_once_a_plugins_data_dimension_is_known() {
    let plugin = scenario(&[(
        "TeacherStudent(dim: 3, teacher: SingleIndex(link: Relu))",
        r#"Plugin(lib: "somewhere", name: "law")"#,
    )]);
    let budget = Budget { bytes: 16 << 30, source: "test" };
    assert_eq!(refuse_over(&estimate_at(&plugin, Path::new("."), Some(3)), &budget), Ok(()), "small data fits");
    // 32 units × 10^15 inputs: far beyond any budget, named by the dimension the plugin reported.
    let err = refuse_over(&estimate_at(&plugin, Path::new("."), Some(1_000_000_000_000_000)), &budget).unwrap_err();
    assert_eq!(err.path, "data");
    assert!(err.message.starts_with("the plugin's data of dimension 1e15 needs "), "{}", err.message);
}

#[test]
fn extreme_values_anywhere_give_an_estimate_without_panicking() {
    let network = [("SingleIndex(link: Relu)", "Network(width: 4, activation: Tanh)")];
    let paths = ["replicas", "model.width", "data.dim", "data.teacher.width", "dynamics.step", "horizon", "record"];
    let values = [0.0, 1.0, 2.5, -1.0, 1e300, u64::MAX as f64, 2f64.powi(63), f64::NAN, f64::INFINITY];
    for path in paths {
        for v in values {
            let mut spec = scenario(&network);
            spec.sweep.fields = vec![(path.to_owned(), vec![v.into(), 3.0.into()])];
            let estimate = estimate(&spec, Path::new("."));
            assert!(estimate.bytes.0 > 0, "{path} = {v}");
            // What is refused names the swept field, or a field the swept value sized.
            let budget = Budget { bytes: 1 << 40, source: "test" };
            if let Err(err) = refuse_over(&estimate, &budget) {
                assert!(err.path == "sweep.fields" || err.path == "record", "{path} = {v}: {err:?}");
            }
        }
    }
}
