//! `meanfield plugins check LIB`: the conformance suite a plugin author runs. For every component of a
//! library, one [`Line`] per property the host relies on: it can be made, it fills exactly the sizes it
//! is asked for, it gives the same bits for the same input (for a distribution: for the same random
//! stream, which catches a generator of its own), it survives NaN and infinite inputs and gives finite
//! outputs for finite ones, concurrent instances on several threads give the bits one gives alone, and
//! no call panicked (the SDK catches panics and reports them; each is shown with its message).

use super::components::PROBE_SEED;
use super::{ComponentKind, PluginActivation, PluginDistribution, PluginError, PluginLibrary};
use meanfield_core::{FaultLog, Purpose, StreamKey};
use std::collections::HashMap;
use std::fmt;
use std::sync::Arc;

/// Written into every output buffer before a call, and past its end: a NaN with a payload no arithmetic
/// produces, so a value the plugin did not write, or wrote past the end, is recognised.
const SENTINEL: u64 = 0x7ff4_dead_beef_0001;
/// Guard values after each buffer.
const GUARD: usize = 16;
/// The sample counts and evaluation sizes the size check asks for.
const SIZES: [usize; 4] = [0, 1, 7, 1000];
/// Threads of the thread-safety check, and calls per thread.
const THREADS: usize = 4;
const ROUNDS: usize = 25;

/// The outcome of one check of one component.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Line {
    pub kind: ComponentKind,
    pub component: String,
    pub check: &'static str,
    /// `Err(reason)` when it failed.
    pub outcome: Result<(), String>,
}

impl fmt::Display for Line {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let (verdict, reason) = match &self.outcome {
            Ok(()) => ("PASS", String::new()),
            Err(reason) => ("FAIL", format!(": {reason}")),
        };
        write!(f, "{verdict}  {} '{}': {}{reason}", self.kind, self.component, self.check)
    }
}

/// Runs every check on every component of `library` named in `only` (all when empty). `params` gives
/// the parameter text (RON) per component name; a component without an entry is made with `()`.
pub fn check_library(library: &Arc<PluginLibrary>, params: &HashMap<String, String>, only: &[String]) -> Vec<Line> {
    let mut lines = Vec::new();
    for info in library.components().into_iter().filter(|c| only.is_empty() || only.contains(&c.name)) {
        let text = params.get(&info.name).map_or("()", String::as_str);
        let mut record = |check: &'static str, outcome: Result<(), String>| {
            lines.push(Line { kind: info.kind, component: info.name.clone(), check, outcome })
        };
        let hint = |e: PluginError| {
            let hint = if params.contains_key(&info.name) {
                String::new()
            } else {
                format!(" (parameters `{}`: give them with --params {}='(…)')", info.params, info.name)
            };
            format!("{e}{hint}")
        };
        let mut panics = Panics::default();
        let made = match info.kind {
            ComponentKind::Activation => {
                let make = || library.activation(&info.name, text, Arc::new(FaultLog::default()));
                make().map_err(hint).map(|instance| activation_checks(&instance, &make, &mut record, &mut panics))
            }
            ComponentKind::Distribution => {
                let make = || library.distribution_unprobed(&info.name, text, Arc::new(FaultLog::default()));
                make().map_err(hint).map(|instance| distribution_checks(&instance, &make, &mut record, &mut panics))
            }
        };
        // Without an instance there is nothing more to check.
        match made {
            Ok(()) => record("panics", panics.first.map_or(Ok(()), Err)),
            Err(reason) => record("create", Err(reason)),
        }
    }
    lines
}

/// The first panic any call reported (it also fails the check that made the call).
#[derive(Debug, Default)]
struct Panics {
    first: Option<String>,
}

impl Panics {
    fn note<T>(&mut self, result: Result<T, PluginError>) -> Result<T, String> {
        result.map_err(|e| {
            let message = e.to_string();
            if matches!(e, PluginError::Panicked { .. }) && self.first.is_none() {
                self.first = Some(message.clone());
            }
            message
        })
    }
}

/// A buffer of `n` values followed by [`GUARD`] guard values, all [`SENTINEL`].
fn guarded(n: usize) -> Vec<f64> {
    vec![f64::from_bits(SENTINEL); n + GUARD]
}

/// `Err` when a value of `buffer[..n]` was not written or one of its guard values was.
fn written_exactly(buffer: &[f64], n: usize, what: &str) -> Result<(), String> {
    if let Some(i) = buffer[..n].iter().position(|v| v.to_bits() == SENTINEL) {
        return Err(format!("asked for {n} {what}, it left {what}[{i}] unwritten"));
    }
    if buffer[n..].iter().any(|v| v.to_bits() != SENTINEL) {
        return Err(format!("asked for {n} {what}, it wrote past the end of the buffer"));
    }
    Ok(())
}

/// The first place where two runs differ, as a reason.
fn same_bits(what: &str, first: &[f64], second: &[f64]) -> Result<(), String> {
    match first.iter().zip(second).position(|(a, b)| a.to_bits() != b.to_bits()) {
        None => Ok(()),
        Some(i) => Err(format!("{what} differ at [{i}]: {:?}, then {:?}", first[i], second[i])),
    }
}

/// Finite inputs on [-10, 10].
fn grid(n: usize) -> Vec<f64> {
    (0..n).map(|i| -10.0 + 20.0 * i as f64 / n.max(2).saturating_sub(1) as f64).collect()
}

type Record<'a> = dyn FnMut(&'static str, Result<(), String>) + 'a;

fn activation_checks(
    act: &PluginActivation,
    make: &(dyn Fn() -> Result<PluginActivation, PluginError> + Sync),
    record: &mut Record<'_>,
    panics: &mut Panics,
) {
    record("create", Ok(()));
    let eval = |act: &PluginActivation, z: &[f64], panics: &mut Panics| {
        let (mut value, mut derivative) = (vec![0.0; z.len()], vec![0.0; z.len()]);
        panics.note(act.try_eval(z, &mut value, Some(&mut derivative)))?;
        Ok::<_, String>((value, derivative))
    };
    record(
        "sizes",
        SIZES.iter().try_for_each(|&n| {
            let z = grid(n);
            let (mut value, mut derivative) = (guarded(n), guarded(n));
            panics.note(act.try_eval(&z, &mut value[..n], Some(&mut derivative[..n])))?;
            written_exactly(&value, n, "values")?;
            written_exactly(&derivative, n, "derivatives")?;
            let mut alone = guarded(n);
            panics.note(act.try_eval(&z, &mut alone[..n], None))?;
            written_exactly(&alone, n, "values without derivatives")
        }),
    );
    let z = grid(1000);
    let reference = eval(act, &z, panics);
    record(
        "determinism",
        reference.clone().and_then(|(value, derivative)| {
            let (again, again_derivative) = eval(act, &z, panics)?;
            same_bits("two evaluations of the same inputs", &value, &again)?;
            same_bits("two derivatives of the same inputs", &derivative, &again_derivative)
        }),
    );
    record(
        "finite outputs for finite inputs",
        reference.clone().and_then(|(value, derivative)| {
            for (what, out) in [("value", &value), ("derivative", &derivative)] {
                if let Some(i) = out.iter().position(|v| !v.is_finite()) {
                    return Err(format!("the {what} at z = {} is {}", z[i], out[i]));
                }
            }
            Ok(())
        }),
    );
    let special = [f64::NAN, f64::INFINITY, f64::NEG_INFINITY, f64::MAX, -f64::MAX, f64::MIN_POSITIVE, -0.0];
    record("NaN and infinite inputs", eval(act, &special, panics).map(drop));
    record(
        "thread safety",
        reference.and_then(|(value, _)| {
            threads(|| {
                let own = make().map_err(|e| e.to_string())?;
                for round in 0..ROUNDS {
                    // Alternate the shared instance and one of this thread's own.
                    let (out, _) = eval(if round % 2 == 0 { act } else { &own }, &z, &mut Panics::default())?;
                    same_bits("concurrent evaluations and one alone", &value, &out)?;
                }
                Ok(())
            })
        }),
    );
}

fn distribution_checks(
    dist: &PluginDistribution,
    make: &(dyn Fn() -> Result<PluginDistribution, PluginError> + Sync),
    record: &mut Record<'_>,
    panics: &mut Panics,
) {
    record("create", Ok(()));
    let dim = meanfield_core::DataDistribution::dim(dist);
    let draw = |dist: &PluginDistribution, key: u64, n: usize, panics: &mut Panics| {
        let (mut x, mut y) = (vec![0.0; n * dim], vec![0.0; n]);
        let mut stream = StreamKey::replica(PROBE_SEED, "", key, Purpose::Data).stream();
        panics.note(dist.sample(&mut stream, &mut x, &mut y))?;
        Ok::<_, String>((x, y))
    };
    record(
        "sizes",
        SIZES.iter().try_for_each(|&n| {
            let (mut x, mut y) = (guarded(n * dim), guarded(n));
            let mut stream = StreamKey::shared(PROBE_SEED, Purpose::Data).stream();
            panics.note(dist.sample(&mut stream, &mut x[..n * dim], &mut y[..n]))?;
            written_exactly(&x, n * dim, "inputs")?;
            written_exactly(&y, n, "labels")
        }),
    );
    let n = 257;
    let reference = draw(dist, 0, n, panics);
    record(
        "determinism",
        reference.clone().and_then(|(x, y)| {
            let (again_x, again_y) = draw(dist, 0, n, panics)?;
            let hint = " (draw only from the rng passed to `sample`, never from a generator of your own)";
            same_bits("two draws of inputs from the same random stream", &x, &again_x).map_err(|e| e + hint)?;
            same_bits("two draws of labels from the same random stream", &y, &again_y).map_err(|e| e + hint)
        }),
    );
    record(
        "finite samples",
        reference.clone().and_then(|(x, y)| {
            if let Some(i) = x.iter().position(|v| !v.is_finite()) {
                return Err(format!("sample {} has input coordinate {} = {}", i / dim, i % dim, x[i]));
            }
            match y.iter().position(|v| !v.is_finite()) {
                Some(i) => Err(format!("sample {i} has the label {}", y[i])),
                None => Ok(()),
            }
        }),
    );
    if dist.has_log_density() {
        let density = |x: &[f64], y: &[f64], panics: &mut Panics| {
            let mut out = vec![0.0; y.len()];
            let result = dist.log_density(x, y, &mut out).unwrap_or(Ok(()));
            panics.note(result).map(|()| out)
        };
        record(
            "log-density of its own samples",
            reference.clone().and_then(|(x, y)| match density(&x, &y, panics)?.iter().position(|v| v.is_nan()) {
                Some(i) => Err(format!("the log-density of sample {i} is NaN")),
                None => Ok(()),
            }),
        );
        let x: Vec<f64> = (0..3 * dim).map(|i| [f64::NAN, f64::INFINITY, 1.0][i % 3]).collect();
        let y = [f64::NAN, f64::INFINITY, 0.0];
        record("NaN and infinite inputs", density(&x, &y, panics).map(drop));
    }
    record(
        "thread safety",
        reference.and_then(|_| {
            let alone: Vec<_> = (0..THREADS as u64).map(|key| draw(dist, key, 64, &mut Panics::default())).collect();
            let alone: Vec<_> = alone.into_iter().collect::<Result<_, _>>()?;
            let next = std::sync::atomic::AtomicUsize::new(0);
            threads(|| {
                let key = next.fetch_add(1, std::sync::atomic::Ordering::Relaxed) % THREADS;
                let own = make().map_err(|e| e.to_string())?;
                for round in 0..ROUNDS {
                    let (x, y) =
                        draw(if round % 2 == 0 { dist } else { &own }, key as u64, 64, &mut Panics::default())?;
                    same_bits("inputs drawn concurrently and alone", &alone[key].0, &x)?;
                    same_bits("labels drawn concurrently and alone", &alone[key].1, &y)?;
                }
                Ok(())
            })
        }),
    );
}

/// Runs `body` on [`THREADS`] threads at once; the first failure.
fn threads(body: impl Fn() -> Result<(), String> + Sync) -> Result<(), String> {
    std::thread::scope(|s| {
        let handles: Vec<_> = (0..THREADS).map(|_| s.spawn(&body)).collect();
        handles.into_iter().try_for_each(|h| h.join().unwrap_or_else(|_| Err("a check thread panicked".into())))
    })
}
