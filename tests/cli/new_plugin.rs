//! `meanfield new-plugin` as a user runs it: in an empty directory outside the repository, the crate it
//! writes passes its own snapshot test with `cargo test`, and that test fails, with a readable diff, once
//! the plugin's results change.

use crate::common::{meanfield, root};
use std::process::Command;

/// `cargo test` in `crate_dir`, into the shared plugin target directory (the `cargo test` running this
/// holds the lock on `target/`), with this workspace's Cargo.lock so it resolves offline.
/// `insta_update` is insta's `INSTA_UPDATE` (`no`: as in CI; `new`: a failure writes the `.snap.new`).
fn cargo_test(crate_dir: &std::path::Path, insta_update: &str) -> std::process::Output {
    Command::new(env!("CARGO"))
        .args(["test", "--quiet", "--target-dir"])
        .arg(root().join("target/plugins"))
        .env("INSTA_UPDATE", insta_update)
        .current_dir(crate_dir)
        .output()
        .unwrap()
}

#[test]
fn a_new_plugin_passes_its_snapshot_test_and_fails_it_when_its_results_change() {
    let dir = tempfile::tempdir().unwrap();
    for (name, kind, param, changed) in [
        ("snap_activation", "activation", "params: (scale: 2.0)", "params: (scale: 2.5)"),
        ("snap_distribution", "distribution", "params: (dim: 4, noise: 0.1)", "params: (dim: 4, noise: 0.3)"),
    ] {
        let made = meanfield(&["new-plugin", name, "--kind", kind], dir.path());
        assert_eq!(made.code, Some(0), "{}", made.stderr);
        let crate_dir = dir.path().join(name);
        for file in ["Cargo.toml", "src/lib.rs", "tests/snapshot.rs"] {
            assert!(crate_dir.join(file).is_file(), "{file}");
        }
        std::fs::copy(root().join("Cargo.lock"), crate_dir.join("Cargo.lock")).unwrap();
        let passed = cargo_test(&crate_dir, "no");
        let stderr = String::from_utf8_lossy(&passed.stderr);
        assert!(passed.status.success(), "{name}: its snapshot test fails as generated:\n{stderr}");

        // The plugin's results change: the test fails naming what changed, and leaves the new snapshot to
        // review beside the old one.
        let scenario = crate_dir.join(format!("scenarios/{name}.ron"));
        let text = std::fs::read_to_string(&scenario).unwrap();
        assert!(text.contains(param), "{text}");
        std::fs::write(&scenario, text.replace(param, changed)).unwrap();
        let failed = cargo_test(&crate_dir, "new");
        let output = String::from_utf8_lossy(&failed.stdout).into_owned() + &String::from_utf8_lossy(&failed.stderr);
        assert!(!failed.status.success(), "{name}: a changed plugin still passes:\n{output}");
        assert!(output.contains("final[risk].mean"), "{name}: the diff names the number:\n{output}");
        assert!(crate_dir.join(format!("scenarios/{name}.snap.new")).is_file(), "{name}: {output}");
        let made_again = meanfield(&["new-plugin", name, "--kind", kind], dir.path());
        assert_eq!(made_again.code, Some(1));
        assert!(made_again.stderr.contains("exists"), "{}", made_again.stderr);
    }
}
