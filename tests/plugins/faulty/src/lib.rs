//! Plugins that fail in every way a plugin can fail at run time, for the fault tests.

use meanfield_plugin::{Activation, Distribution, HostRng, export_plugin};
use serde::Deserialize;

/// Panics on every call of eval.
#[derive(Debug)]
pub struct PanicsInEval;

impl Activation for PanicsInEval {
    const NAME: &'static str = "panics_in_eval";
    type Params = ();
    fn new(_: ()) -> Result<Self, String> {
        Ok(PanicsInEval)
    }
    fn eval(&self, _: &[f64], _: &mut [f64], _: Option<&mut [f64]>) {
        panic!("deliberate panic in eval");
    }
}

/// Returns NaN: a numerical failure, which must look like divergence.
#[derive(Debug)]
pub struct Nan;

impl Activation for Nan {
    const NAME: &'static str = "nan";
    type Params = ();
    fn new(_: ()) -> Result<Self, String> {
        Ok(Nan)
    }
    fn eval(&self, _: &[f64], value: &mut [f64], derivative: Option<&mut [f64]>) {
        value.fill(f64::NAN);
        if let Some(d) = derivative {
            d.fill(f64::NAN);
        }
    }
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct StrictParams {
    pub threshold: f64,
}

/// Rejects parameters: by serde (unknown field, wrong type) and by value (negative threshold).
#[derive(Debug)]
pub struct Strict;

impl Activation for Strict {
    const NAME: &'static str = "strict";
    const PARAMS: &'static str = "(threshold: f64 >= 0)";
    type Params = StrictParams;
    fn new(p: StrictParams) -> Result<Self, String> {
        if p.threshold >= 0.0 { Ok(Strict) } else { Err(format!("threshold must be >= 0, got {}", p.threshold)) }
    }
    fn eval(&self, z: &[f64], value: &mut [f64], _: Option<&mut [f64]>) {
        value.copy_from_slice(z);
    }
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct DimParams {
    pub dim: usize,
    /// Calls of sample that succeed before it panics (the host's determinism probe makes two).
    #[serde(default)]
    pub after: usize,
}

/// Panics on every call of sample after the first `after`.
#[derive(Debug)]
pub struct PanicsInSample {
    dim: usize,
    after: usize,
    calls: std::sync::atomic::AtomicUsize,
}

impl Distribution for PanicsInSample {
    const NAME: &'static str = "panics_in_sample";
    type Params = DimParams;
    fn new(p: DimParams) -> Result<Self, String> {
        Ok(PanicsInSample { dim: p.dim, after: p.after, calls: Default::default() })
    }
    fn dim(&self) -> usize {
        self.dim
    }
    fn sample(&self, _: &mut HostRng<'_>, x: &mut [f64], y: &mut [f64]) {
        if self.calls.fetch_add(1, std::sync::atomic::Ordering::SeqCst) < self.after {
            x.fill(0.5);
            y.fill(1.0);
            return;
        }
        panic!("deliberate panic in sample");
    }
}

export_plugin!(activations: [PanicsInEval, Nan, Strict], distributions: [PanicsInSample]);
