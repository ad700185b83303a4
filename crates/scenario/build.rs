//! Embeds the shipped scenarios (`scenarios/*.ron`, the templates of `meanfield new`) and the pieces they
//! extend (`scenarios/common/*.ron`): the list is made from the directory, so a new scenario file is a
//! template without a code change.

use std::fmt::Write;
use std::path::{Path, PathBuf};

fn ron_files(dir: &Path) -> Vec<PathBuf> {
    let mut files: Vec<PathBuf> = std::fs::read_dir(dir)
        .unwrap_or_else(|e| panic!("cannot read {}: {e}", dir.display()))
        .filter_map(|e| e.ok().map(|e| e.path()))
        .filter(|p| p.extension().is_some_and(|e| e == "ron"))
        .collect();
    files.sort();
    files
}

fn main() {
    let manifest = PathBuf::from(std::env::var("CARGO_MANIFEST_DIR").expect("cargo sets it"));
    let scenarios = manifest.join("../../scenarios").canonicalize().expect("scenarios/ is in the workspace");
    let common = scenarios.join("common");
    println!("cargo:rerun-if-changed={}", scenarios.display());
    println!("cargo:rerun-if-changed={}", common.display());
    let mut out = String::new();
    for (name, dir) in [("SHIPPED", &scenarios), ("COMMON", &common)] {
        writeln!(out, "pub(crate) const {name}: &[(&str, &str)] = &[").expect("writing to a String cannot fail");
        let files = if dir.is_dir() { ron_files(dir) } else { Vec::new() };
        for file in files {
            println!("cargo:rerun-if-changed={}", file.display());
            let stem = file.file_stem().expect("a file").to_string_lossy().into_owned();
            writeln!(out, "    ({stem:?}, include_str!({:?})),", file.display().to_string())
                .expect("writing to a String cannot fail");
        }
        writeln!(out, "];").expect("writing to a String cannot fail");
    }
    let path = PathBuf::from(std::env::var("OUT_DIR").expect("cargo sets it")).join("shipped.rs");
    std::fs::write(path, out).expect("OUT_DIR is writable");
}
