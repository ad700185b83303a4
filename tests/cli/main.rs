//! The end-to-end tests of the `meanfield` binary and of the library API it is built on, as one test
//! binary (ripgrep's layout: one `tests/cli/` crate, a module per subject, the harness in `common`).
//! One binary links once and builds the plugin crates once (see [`common::plugin_dir`]).
//!
//! Run one subject with `cargo test --test cli runs::`, one test with its full name. Snapshots live in
//! `tests/cli/snapshots/`, named after the module path (`cli__runs__default_summary.snap`).

#![allow(clippy::unwrap_used)] // test code: a failed unwrap is a failed test

mod common;

mod alloc;
mod bad_input;
mod bench;
mod chaos;
mod compose;
mod console;
mod dependence;
mod extremes;
mod failures;
mod full_batch;
mod labels;
mod ldp;
mod limit;
mod lln;
mod lockstep;
mod new_plugin;
mod outputs;
mod plugins;
mod runs;
mod rve;
mod same_bits;
mod shards;
mod slurm;
mod snapshot;
mod studies;
