//! The SDK for meanfield plugins: new activations and data distributions in a shared library that a
//! scenario file loads by name, with no change to meanfield itself.
//!
//! A plugin author writes only safe Rust: a type implementing [`Activation`] or [`Distribution`], whose
//! parameters are any `serde::Deserialize` type read from the RON the scenario gives, and one
//! [`export_plugin!`] line. The macro writes the C ABI of [`abi`]: descriptors, vtables, and wrappers
//! that catch panics and turn errors into status codes (a panic must never cross `extern "C"`).
//!
//! ```
//! use meanfield_plugin::{Activation, export_plugin};
//! use serde::Deserialize;
//!
//! #[derive(Deserialize)]
//! #[serde(deny_unknown_fields)]
//! pub struct SwishParams { beta: f64 }
//!
//! pub struct Swish { beta: f64 }
//!
//! impl Activation for Swish {
//!     const NAME: &'static str = "swish";
//!     const PARAMS: &'static str = "(beta: f64)";
//!     type Params = SwishParams;
//!     fn new(p: SwishParams) -> Result<Self, String> { Ok(Swish { beta: p.beta }) }
//!     fn eval(&self, z: &[f64], value: &mut [f64], derivative: Option<&mut [f64]>) {
//!         for (z, v) in z.iter().zip(value.iter_mut()) { *v = z / (1.0 + (-self.beta * z).exp()); }
//!         if let Some(d) = derivative { /* … */ d.fill(0.0); }
//!     }
//! }
//!
//! export_plugin!(activations: [Swish], distributions: []);
//! ```
//!
//! # The threading contract
//! One instance is created per scenario point and shared **read-only** by all replicas of that point,
//! which run on several threads at once: `eval` and `sample` take `&self` and must not rely on being
//! called from one thread (hence the `Send + Sync` bounds). Randomness comes only from the [`HostRng`]
//! passed to `sample` (one per replica), never from a global or thread-local generator, so that results
//! are reproducible bit for bit and independent of the thread count.
//!
//! # Failures
//! `new` returns `Err(message)` for parameters it rejects; parameter text that does not deserialize is
//! reported with its line and column, which the host maps back into the scenario file. A panic in `eval`
//! or `sample` is caught: the host writes NaN, stops the affected replicas as diverged and reports the
//! panic message. Do not build plugins with `panic = "abort"`: the panic could not be caught.

#[allow(unsafe_code)] // the ABI types: raw pointers by nature
pub mod abi;
#[doc(hidden)]
#[allow(unsafe_code)]
pub mod ffi;

pub use rand;
pub use rand_distr;
pub use ron;
pub use serde;

use abi::RngSource;
use serde::de::DeserializeOwned;

/// An activation σ with its derivative, evaluated over slices (the host calls it once per batch of
/// pre-activations, so the per-call overhead is amortised over N·batch values).
pub trait Activation: Sized + Send + Sync + 'static {
    /// The name a scenario uses: `Plugin(lib: "…", name: NAME, params: …)`.
    const NAME: &'static str;
    /// The parameter syntax, shown by `meanfield plugins inspect`.
    const PARAMS: &'static str = "()";
    /// Deserialized from the scenario's `params` (RON). Use `()` for none.
    type Params: DeserializeOwned;

    fn new(params: Self::Params) -> Result<Self, String>;

    /// `value[i] = σ(z[i])` and, when `derivative` is given, `derivative[i] = σ'(z[i])`; all slices
    /// have the same length.
    fn eval(&self, z: &[f64], value: &mut [f64], derivative: Option<&mut [f64]>);
}

/// A law of (x, y) pairs with x ∈ ℝ^dim.
pub trait Distribution: Sized + Send + Sync + 'static {
    const NAME: &'static str;
    const PARAMS: &'static str = "()";
    /// Whether [`Distribution::log_density`] is provided (importance sampling needs it).
    const HAS_LOG_DENSITY: bool = false;
    type Params: DeserializeOwned;

    fn new(params: Self::Params) -> Result<Self, String>;

    /// Input dimension d. The SDK reads it once, when the instance is built, and sizes every buffer by
    /// that value; if it later returns something else, the call that notices fails with an error.
    fn dim(&self) -> usize;

    /// Fills `x` (row-major `n × dim`) and `y` (`n = y.len()`) with independent samples drawn from `rng`.
    fn sample(&self, rng: &mut HostRng<'_>, x: &mut [f64], y: &mut [f64]);

    /// `out[i] = log p(x_i, y_i)`; only called when `HAS_LOG_DENSITY` is true.
    fn log_density(&self, x: &[f64], y: &[f64], out: &mut [f64]) {
        let _ = (x, y);
        out.fill(f64::NAN);
    }
}

/// The host's random number generator for one `sample` call: a [`rand::RngCore`], so every `rand` and
/// `rand_distr` sampler works with it, and every draw is the host's own (the same stream a built-in
/// sampler would get).
#[derive(Debug)]
pub struct HostRng<'a> {
    source: &'a RngSource,
}

impl<'a> HostRng<'a> {
    /// # Safety
    /// `source` must hold callbacks that are valid for the lifetime `'a` (the host guarantees this for
    /// the duration of a `sample` call).
    #[allow(unsafe_code)]
    pub unsafe fn new(source: &'a RngSource) -> HostRng<'a> {
        HostRng { source }
    }
}

#[allow(unsafe_code)]
impl rand::RngCore for HostRng<'_> {
    fn next_u32(&mut self) -> u32 {
        // SAFETY: the host keeps `ctx` valid for the sample call this HostRng lives in.
        unsafe { (self.source.next_u32)(self.source.ctx) }
    }

    fn next_u64(&mut self) -> u64 {
        let mut v = 0u64;
        // SAFETY: as above; `out` points to one writable u64.
        unsafe { (self.source.fill_u64)(self.source.ctx, &mut v, 1) };
        v
    }

    fn fill_bytes(&mut self, dest: &mut [u8]) {
        // SAFETY: as above; `dest` is writable for its length.
        unsafe { (self.source.fill_bytes)(self.source.ctx, dest.as_mut_ptr(), dest.len()) }
    }
}

/// Exports the plugin's activations and distributions (each a list of types, possibly empty):
///
/// ```text
/// meanfield_plugin::export_plugin!(activations: [Swish, LeakyTanh], distributions: [Spirals]);
/// ```
///
/// Writes the two symbols the host looks for, `mf_plugin_abi_version` and `mf_plugin_descriptor`.
/// Use it once per library crate (with `crate-type = ["cdylib"]`).
#[macro_export]
macro_rules! export_plugin {
    (activations: [$($activation:ty),* $(,)?], distributions: [$($distribution:ty),* $(,)?] $(,)?) => {
        #[unsafe(no_mangle)]
        pub extern "C" fn mf_plugin_abi_version() -> u32 {
            $crate::abi::ABI_VERSION
        }

        #[unsafe(no_mangle)]
        pub extern "C" fn mf_plugin_descriptor() -> *const $crate::abi::PluginDescriptor {
            static ACTIVATIONS: &[$crate::abi::ActivationVTable] =
                &[$($crate::ffi::activation_vtable::<$activation>()),*];
            static DISTRIBUTIONS: &[$crate::abi::DistributionVTable] =
                &[$($crate::ffi::distribution_vtable::<$distribution>()),*];
            static DESCRIPTOR: $crate::abi::PluginDescriptor = $crate::ffi::descriptor(
                env!("CARGO_PKG_NAME"),
                env!("CARGO_PKG_VERSION"),
                ACTIVATIONS,
                DISTRIBUTIONS,
            );
            &DESCRIPTOR
        }
    };
}
