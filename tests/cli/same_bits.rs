//! The harness's own tests: [`assert_same_bits`] reports the first difference, where it is and both
//! values, for numbers, records and files.

use crate::common::assert_same_bits;
use meanfield_core::{Divergence, Record, ReplicaResult};

/// The message `f` panics with.
fn failure(f: impl FnOnce() + std::panic::UnwindSafe) -> String {
    let payload = std::panic::catch_unwind(f).expect_err("no panic");
    payload.downcast_ref::<String>().cloned().unwrap_or_default()
}

#[test]
fn numbers_compare_by_their_bits() {
    assert_same_bits(&[1.0, f64::NAN, 3.0][..], &[1.0, f64::NAN, 3.0][..], "equal bits");
    let message = failure(|| assert_same_bits(&vec![1.0, 2.0, 3.0], &vec![1.0, 2.5, 3.0], "values"));
    assert_eq!(
        message,
        "values: not the same bits at [1]\n  expected: 2.0 (bits 0x4000000000000000)\n    actual: 2.5 (bits 0x4004000000000000)"
    );
    assert!(failure(|| assert_same_bits(&0.0, &-0.0, "zero")).contains("actual: -0.0 (bits 0x8000000000000000)"));
    let message = failure(|| assert_same_bits(&vec![1.0, 2.0], &vec![1.0, 2.0, 3.0], "lengths"));
    assert_eq!(message, "lengths: not the same bits at len()\n  expected: 2\n    actual: 3");
}

#[test]
fn records_name_the_field_that_differs() {
    let record = |v: f64| Record { step: 20, time: 2.0, values: vec![0.5, v] };
    let replica = |v: f64| ReplicaResult {
        replica: 3,
        records: vec![record(0.25), record(v)],
        divergence: None,
        log_weight: 0.0,
        particles: Vec::new(),
    };
    assert_same_bits(&replica(1.0), &replica(1.0), "the same replica");
    let message = failure(|| assert_same_bits(&[replica(1.0)], &[replica(1.5)], "replicas"));
    assert!(message.starts_with("replicas: not the same bits at [0].records[1].values[1]\n"), "{message}");
    let diverged = ReplicaResult {
        divergence: Some(Divergence { step: 7, time: 0.7, message: "non-finite".into() }),
        ..replica(1.0)
    };
    let message = failure(|| assert_same_bits(&replica(1.0), &diverged, "divergence"));
    assert!(message.contains("at divergence\n  expected: None\n    actual: Some(Divergence { step: 7"), "{message}");
}

#[test]
fn files_name_the_first_line_or_byte_that_differs() {
    let dir = tempfile::tempdir().unwrap();
    let file = |name: &str, bytes: &[u8]| {
        std::fs::write(dir.path().join(name), bytes).unwrap();
        dir.path().join(name)
    };
    let (a, b) = (file("a.csv", b"x,y\n1,2\n3,4\n"), file("b.csv", b"x,y\n1,2.5\n3,4\n"));
    assert_same_bits(&a, &file("c.csv", b"x,y\n1,2\n3,4\n"), "equal files");
    let message = failure(|| assert_same_bits(&a, &b, "table"));
    let expected =
        format!("table: not the same bits at {}:2\n  expected: \"1,2\\n\"\n    actual: \"1,2.5\\n\"", a.display());
    assert_eq!(message, expected);
    let short = file("d.csv", b"x,y\n1,2\n");
    assert!(failure(|| assert_same_bits(&a, &short, "short")).ends_with("actual: (end of file)"));
    let (e, f) = (file("e.npy", b"\x93NUMPY\x00\x01"), file("f.npy", b"\x93NUMPY\x00\x02"));
    let message = failure(|| assert_same_bits(&e, &f, "array"));
    assert!(message.ends_with("e.npy, byte 7\n  expected: 0x01\n    actual: 0x02"), "{message}");
}
