//! `meanfield bench`: the workloads run, report the figure of merit and the final risk, write JSON, and an
//! unknown workload is refused with the known ones. (Speed itself is never asserted in a test.)

#![allow(clippy::unwrap_used)] // test code: a failed unwrap is a failed test

use crate::common::meanfield;

#[test]
fn bench_reports_every_requested_workload() {
    let dir = tempfile::tempdir().unwrap();
    let out = meanfield(&["bench", "online-100", "ensemble-64", "--threads", "2", "--json", "bench.json"], dir.path());
    assert_eq!(out.code, Some(0), "{}", out.stderr);
    assert_eq!(out.stdout.lines().count(), 2, "{}", out.stdout);
    assert!(out.stdout.contains("ns_per_weight_update=") && out.stdout.contains("final_risk="), "{}", out.stdout);
    let json: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(dir.path().join("bench.json")).unwrap()).unwrap();
    let rows = json.as_array().unwrap();
    assert_eq!(rows.len(), 2);
    for row in rows {
        // The student learns: the teacher's risk at the start is about ½ E tanh(w*·x)² ≈ 0.2 (N(0, 1) inputs
        // to tanh), and 2000 steps of η = 0.5 bring it far below (0.003 measured).
        let risk = row["final_risk"].as_f64().unwrap();
        assert!(risk.is_finite() && risk < 0.05, "{row}");
        assert!(row["ns_per_weight_update"].as_f64().unwrap() > 0.0);
    }
    assert_eq!(rows[1]["replicas"], 64);

    // The merge workload: 4 shards of 20 000 replicas, what they hold and how fast the merge read them.
    let merge = meanfield(&["bench", "merge", "--threads", "2"], dir.path());
    assert_eq!(merge.code, Some(0), "{}", merge.stderr);
    let line = merge.stdout.lines().find(|l| l.starts_with("merge ")).unwrap();
    let field = |name: &str| -> f64 {
        let value = line.split_whitespace().find_map(|w| w.strip_prefix(&format!("{name}="))).unwrap();
        value.parse().unwrap()
    };
    assert_eq!((field("replicas"), field("shards")), (20000.0, 4.0), "{line}");
    // Each replica's finished line holds its 5 records of 4 moments: hundreds of bytes.
    assert!(field("bytes") > 20000.0 * 100.0, "{line}");
    assert!(field("read_MB_per_s") > 0.0 && field("merge_seconds") >= field("read_seconds"), "{line}");

    let unknown = meanfield(&["bench", "online-7"], dir.path());
    assert_eq!(unknown.code, Some(1));
    assert!(
        unknown.stderr.contains("unknown workload 'online-7'")
            && unknown.stderr.contains("minibatch-1000")
            && unknown.stderr.contains("merge"),
        "{}",
        unknown.stderr
    );
}
