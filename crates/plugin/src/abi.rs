//! The C ABI between the meanfield host and a plugin library (DESIGN.md §3).
//!
//! Rust has no stable ABI, so only `#[repr(C)]` structs, integers, floats, raw pointers and
//! `extern "C"` function pointers cross the boundary. Strings are UTF-8 `(ptr, len)` pairs owned by the
//! side that passes them and valid only for the call (or for `'static` in descriptors). Nothing is
//! freed by the side that did not allocate it: plugin instances are destroyed by the plugin's own
//! `destroy`; error messages are copied by the host inside the callback.
//!
//! Load order on the host: `mf_plugin_abi_version()` first; only if it equals [`ABI_VERSION`] is
//! `mf_plugin_descriptor()` called, and of the descriptor only `abi_version` and `size` are read until
//! `size` is known to match.

use std::ffi::c_void;

/// Bumped on any change to the types of this module.
pub const ABI_VERSION: u32 = 1;

/// `extern "C" fn() -> u32`, returning [`ABI_VERSION`] of the SDK the plugin was built with.
pub const ABI_VERSION_SYMBOL: &str = "mf_plugin_abi_version";
/// `extern "C" fn() -> *const PluginDescriptor`, a pointer to static data.
pub const DESCRIPTOR_SYMBOL: &str = "mf_plugin_descriptor";

/// Result of every fallible plugin call.
pub type Status = i32;
/// Success.
pub const STATUS_OK: Status = 0;
/// The plugin refused (bad parameters, …); the message was reported through the [`ErrorSink`].
pub const STATUS_ERROR: Status = 1;
/// The plugin panicked; the panic message was reported through the [`ErrorSink`].
pub const STATUS_PANIC: Status = 2;

/// A borrowed UTF-8 string.
#[repr(C)]
#[derive(Debug, Clone, Copy)]
pub struct StrRef {
    pub ptr: *const u8,
    pub len: usize,
}

impl StrRef {
    pub const fn new(s: &str) -> StrRef {
        StrRef { ptr: s.as_ptr(), len: s.len() }
    }

    /// # Safety
    /// `ptr` must point to `len` readable bytes that stay valid for `'a`.
    pub unsafe fn as_bytes<'a>(self) -> &'a [u8] {
        if self.len == 0 {
            return &[];
        }
        // SAFETY: the caller guarantees `ptr..ptr+len` is readable for 'a; len > 0 so ptr is non-null.
        unsafe { std::slice::from_raw_parts(self.ptr, self.len) }
    }
}

/// Where a plugin reports why a call failed. `line`/`col` (1-based, 0 = unknown) locate a parameter
/// error inside the parameter text, so the host can point into the scenario file.
#[repr(C)]
#[derive(Debug)]
pub struct ErrorSink {
    pub ctx: *mut c_void,
    pub report: unsafe extern "C" fn(ctx: *mut c_void, message: StrRef, line: u32, col: u32),
}

/// The host's random number generator, lent to the plugin for one `sample` call. Plugins draw all their
/// randomness from it, which keeps results reproducible and independent of threads.
#[repr(C)]
#[derive(Debug)]
pub struct RngSource {
    pub ctx: *mut c_void,
    pub next_u32: unsafe extern "C" fn(ctx: *mut c_void) -> u32,
    pub fill_u64: unsafe extern "C" fn(ctx: *mut c_void, out: *mut u64, n: usize),
    pub fill_bytes: unsafe extern "C" fn(ctx: *mut c_void, out: *mut u8, n: usize),
}

/// `create(params, &mut instance, errors)`: parses `params` (RON text) and builds an instance.
pub type CreateFn =
    unsafe extern "C" fn(params: StrRef, instance: *mut *mut c_void, errors: *const ErrorSink) -> Status;
/// Frees an instance made by `create` of the same vtable.
pub type DestroyFn = unsafe extern "C" fn(instance: *mut c_void);

/// One activation σ provided by a plugin.
#[repr(C)]
#[derive(Debug)]
pub struct ActivationVTable {
    pub name: StrRef,
    /// The parameter syntax, for `meanfield plugins inspect` (e.g. `(slope: f64)`).
    pub params: StrRef,
    pub create: CreateFn,
    /// `value[i] = σ(z[i])`, and `derivative[i] = σ'(z[i])` unless `derivative` is null; `n` entries each.
    /// Called concurrently from several threads on one instance.
    pub eval: unsafe extern "C" fn(
        instance: *const c_void,
        z: *const f64,
        value: *mut f64,
        derivative: *mut f64,
        n: usize,
        errors: *const ErrorSink,
    ) -> Status,
    pub destroy: DestroyFn,
}

/// One data distribution of (x, y) pairs provided by a plugin.
#[repr(C)]
#[derive(Debug)]
pub struct DistributionVTable {
    pub name: StrRef,
    pub params: StrRef,
    pub create: CreateFn,
    /// Input dimension d of an instance (fixed for its lifetime).
    pub dim: unsafe extern "C" fn(instance: *const c_void) -> usize,
    /// Fills `x` (`n × d`, row-major) and `y` (`n`) with samples drawn from `rng`.
    /// Called concurrently from several threads on one instance, each with its own `rng`.
    pub sample: unsafe extern "C" fn(
        instance: *const c_void,
        rng: *const RngSource,
        n: usize,
        x: *mut f64,
        y: *mut f64,
        errors: *const ErrorSink,
    ) -> Status,
    /// Optional (null when the plugin has none): `out[i] = log p(x_i, y_i)` for `n` pairs.
    pub log_density: Option<
        unsafe extern "C" fn(
            instance: *const c_void,
            n: usize,
            x: *const f64,
            y: *const f64,
            out: *mut f64,
            errors: *const ErrorSink,
        ) -> Status,
    >,
    pub destroy: DestroyFn,
}

/// What a plugin library provides. `abi_version` and `size` come first and never move, so a host can
/// reject a descriptor of another layout before reading anything else.
#[repr(C)]
#[derive(Debug)]
pub struct PluginDescriptor {
    pub abi_version: u32,
    /// `size_of::<PluginDescriptor>()` in the SDK that built the plugin.
    pub size: usize,
    pub activation_vtable_size: usize,
    pub distribution_vtable_size: usize,
    /// The plugin crate's name and version.
    pub name: StrRef,
    pub version: StrRef,
    pub activations: *const ActivationVTable,
    pub activation_count: usize,
    pub distributions: *const DistributionVTable,
    pub distribution_count: usize,
}

// SAFETY: descriptors and vtables hold only pointers to 'static immutable data and function pointers,
// so sharing them between threads cannot race. They are built once by `export_plugin!` as statics.
unsafe impl Sync for PluginDescriptor {}
unsafe impl Sync for ActivationVTable {}
unsafe impl Sync for DistributionVTable {}
