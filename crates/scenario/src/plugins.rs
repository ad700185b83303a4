//! The plugin host: finds plugin libraries, loads them through the C ABI of [`meanfield_plugin::abi`],
//! and wraps what they provide as [`Activation`]s and [`DataDistribution`]s.
//!
//! Rules (DESIGN.md §3): open with `RTLD_NOW` so a missing symbol fails at load, not mid-run; read the
//! ABI version, then the descriptor's size, before anything else; never unload (a library stays loaded
//! for the life of the process, so function pointers and `'static` names taken from it stay valid);
//! free plugin instances only through the plugin's own `destroy`; every non-OK status becomes a typed
//! [`PluginError`] (at build time) or a fault in the point's [`FaultLog`] plus NaN output (in the step
//! loop, where a call cannot fail).
//!
//! Threading: an instance is created per scenario point and shared read-only by that point's replicas,
//! which call `eval`/`sample` concurrently; the SDK's traits require `Send + Sync` for that reason.
#![allow(unsafe_code)] // this module is the FFI boundary; each unsafe block says what it relies on

use meanfield_core::{Activation, DataDistribution, DataStream, FaultLog};
use meanfield_plugin::abi::*;
use rand::RngCore;
use std::collections::HashMap;
use std::ffi::c_void;
use std::fmt;
use std::path::{Path, PathBuf};
use std::sync::{Arc, LazyLock, Mutex};

/// The environment variable holding extra plugin directories (`:`-separated on Unix).
pub const PLUGIN_PATH_VAR: &str = "MEANFIELD_PLUGIN_PATH";

/// What a plugin component is.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ComponentKind {
    Activation,
    Distribution,
}

impl fmt::Display for ComponentKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            ComponentKind::Activation => "activation",
            ComponentKind::Distribution => "data distribution",
        })
    }
}

#[derive(Debug, thiserror::Error)]
pub enum PluginError {
    #[error("plugin library '{lib}' not found; looked for: {}{}", list_paths(searched), build_hint(lib))]
    NotFound { lib: String, searched: Vec<PathBuf> },
    #[error("cannot load {path} as a shared library: {message}")]
    Open { path: PathBuf, message: String },
    #[error("{path} is not a meanfield plugin: it has no symbol `{symbol}` ({message})")]
    MissingSymbol { path: PathBuf, symbol: &'static str, message: String },
    #[error(
        "{path} was built for plugin ABI version {found}, but this meanfield speaks version {expected}: \
         rebuild the plugin against this meanfield's meanfield-plugin crate"
    )]
    AbiMismatch { path: PathBuf, found: u32, expected: u32 },
    #[error("{path}: unusable plugin descriptor: {message}")]
    BadDescriptor { path: PathBuf, message: String },
    #[error("{path} has no {kind} named '{name}'; it provides {}", list_names(available))]
    UnknownName { path: PathBuf, kind: ComponentKind, name: String, available: Vec<String> },
    #[error("{kind} '{name}' of {} rejected its parameters: {message}", path.display())]
    Rejected { path: PathBuf, kind: ComponentKind, name: String, message: String, line: u32, col: u32 },
    #[error("{kind} '{name}' of {} {message}", path.display())]
    Panicked { path: PathBuf, kind: ComponentKind, name: String, message: String },
    #[error("{kind} '{name}' of {} returned the unknown status {status}", path.display())]
    BadStatus { path: PathBuf, kind: ComponentKind, name: String, status: Status },
}

/// libloading's errors keep dlerror's text (the reason) in their source.
fn describe(error: &libloading::Error) -> String {
    let mut message = error.to_string();
    let mut source = std::error::Error::source(error);
    while let Some(s) = source {
        message.push_str(&format!(": {s}"));
        source = s.source();
    }
    message
}

fn list_paths(paths: &[PathBuf]) -> String {
    paths.iter().map(|p| p.display().to_string()).collect::<Vec<_>>().join(", ")
}

fn list_names(names: &[String]) -> String {
    if names.is_empty() { "none".to_owned() } else { names.join(", ") }
}

fn build_hint(lib: &str) -> &'static str {
    if lib.contains("target/plugins") {
        " (the plugins of this repository are built by `cargo xtask build-plugins`)"
    } else {
        ""
    }
}

/// One component a library provides, as `meanfield plugins inspect` shows it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ComponentInfo {
    pub kind: ComponentKind,
    pub name: String,
    /// The parameter syntax the plugin documents.
    pub params: String,
    /// For distributions: whether it gives its log-density.
    pub log_density: bool,
}

/// A loaded plugin library (loaded once per process, never unloaded).
pub struct PluginLibrary {
    pub path: PathBuf,
    pub name: String,
    pub version: String,
    pub abi_version: u32,
    activations: &'static [ActivationVTable],
    distributions: &'static [DistributionVTable],
}

impl fmt::Debug for PluginLibrary {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("PluginLibrary").field("path", &self.path).field("name", &self.name).finish()
    }
}

/// The directories of `MEANFIELD_PLUGIN_PATH`.
pub fn search_path() -> Vec<PathBuf> {
    std::env::var_os(PLUGIN_PATH_VAR).map(|v| std::env::split_paths(&v).collect()).unwrap_or_default()
}

/// The file a scenario's `lib` names. `lib` is a path whose last part is the library's name, with or
/// without the platform's prefix and suffix (`swish`, `libswish.so`, `../target/plugins/release/swish`).
/// A relative path with directories is relative to `base_dir` (the scenario file's directory); a bare
/// name is looked up in `base_dir`, then in each directory of `MEANFIELD_PLUGIN_PATH`.
pub fn resolve(lib: &str, base_dir: &Path) -> Result<PathBuf, PluginError> {
    let given = Path::new(lib);
    let file = given.file_name().map(|f| f.to_string_lossy().into_owned()).unwrap_or_default();
    let mut names = vec![file.clone()];
    if !file.ends_with(std::env::consts::DLL_SUFFIX) {
        names.insert(0, format!("{}{file}{}", std::env::consts::DLL_PREFIX, std::env::consts::DLL_SUFFIX));
    }
    let parent = given.parent().filter(|p| !p.as_os_str().is_empty());
    let dirs: Vec<PathBuf> = match parent {
        Some(p) => vec![base_dir.join(p)],
        None => std::iter::once(base_dir.to_owned()).chain(search_path()).collect(),
    };
    let searched: Vec<PathBuf> = dirs.iter().flat_map(|d| names.iter().map(move |n| d.join(n))).collect();
    searched
        .iter()
        .find(|p| p.is_file())
        .cloned()
        .ok_or_else(|| PluginError::NotFound { lib: lib.to_owned(), searched })
}

static LOADED: LazyLock<Mutex<HashMap<PathBuf, Arc<PluginLibrary>>>> = LazyLock::new(Default::default);

/// Loads the library at `path` (or returns it if this process loaded it before).
pub fn open(path: &Path) -> Result<Arc<PluginLibrary>, PluginError> {
    let path = path
        .canonicalize()
        .map_err(|_| PluginError::NotFound { lib: path.display().to_string(), searched: vec![path.to_owned()] })?;
    let mut loaded = LOADED.lock().unwrap_or_else(|poisoned| poisoned.into_inner());
    if let Some(library) = loaded.get(&path) {
        return Ok(library.clone());
    }
    let library = Arc::new(load(&path)?);
    loaded.insert(path, library.clone());
    Ok(library)
}

#[cfg(unix)]
fn dlopen_now(path: &Path) -> Result<libloading::Library, libloading::Error> {
    use libloading::os::unix::{Library, RTLD_LOCAL, RTLD_NOW};
    // SAFETY: loading runs the library's initialisers: we trust code the user named in a scenario,
    // as with any program they run. RTLD_NOW resolves every symbol now, so a library with an
    // unresolvable symbol fails here instead of aborting later in a call.
    unsafe { Library::open(Some(path), RTLD_NOW | RTLD_LOCAL) }.map(Into::into)
}

#[cfg(not(unix))]
fn dlopen_now(path: &Path) -> Result<libloading::Library, libloading::Error> {
    // SAFETY: as above; Windows resolves imports at load time.
    unsafe { libloading::Library::new(path) }
}

fn load(path: &Path) -> Result<PluginLibrary, PluginError> {
    let library = dlopen_now(path).map_err(|e| PluginError::Open { path: path.to_owned(), message: describe(&e) })?;
    // Never unloaded: function pointers and 'static data taken from it must stay valid.
    let library: &'static libloading::Library = Box::leak(Box::new(library));
    let missing = |symbol: &'static str| {
        move |e: libloading::Error| PluginError::MissingSymbol { path: path.to_owned(), symbol, message: describe(&e) }
    };

    // SAFETY: the symbol's type is fixed by the ABI; the call has no arguments and returns a plain u32.
    let abi_version = unsafe {
        let version =
            library.get::<unsafe extern "C" fn() -> u32>(ABI_VERSION_SYMBOL).map_err(missing(ABI_VERSION_SYMBOL))?;
        version()
    };
    if abi_version != ABI_VERSION {
        return Err(PluginError::AbiMismatch { path: path.to_owned(), found: abi_version, expected: ABI_VERSION });
    }
    // SAFETY: same ABI version, so the symbol has this type.
    let descriptor = unsafe {
        let get = library
            .get::<unsafe extern "C" fn() -> *const PluginDescriptor>(DESCRIPTOR_SYMBOL)
            .map_err(missing(DESCRIPTOR_SYMBOL))?;
        get()
    };
    let bad = |message: String| PluginError::BadDescriptor { path: path.to_owned(), message };
    if descriptor.is_null() {
        return Err(bad("mf_plugin_descriptor returned null".into()));
    }
    // SAFETY: non-null; every descriptor layout starts with `abi_version: u32, size: usize`, so these two
    // fields are readable whatever the rest of the layout is. Nothing else is read before `size` matches.
    let (declared_version, size) = unsafe {
        (std::ptr::addr_of!((*descriptor).abi_version).read(), std::ptr::addr_of!((*descriptor).size).read())
    };
    if declared_version != ABI_VERSION {
        return Err(PluginError::AbiMismatch { path: path.to_owned(), found: declared_version, expected: ABI_VERSION });
    }
    if size != size_of::<PluginDescriptor>() {
        return Err(bad(format!(
            "descriptor size {size} bytes, expected {} (built with another meanfield-plugin?)",
            size_of::<PluginDescriptor>()
        )));
    }
    // SAFETY: the size matches this ABI's layout; the descriptor is static data of the (never unloaded)
    // library.
    let descriptor: &'static PluginDescriptor = unsafe { &*descriptor };
    if descriptor.activation_vtable_size != size_of::<ActivationVTable>()
        || descriptor.distribution_vtable_size != size_of::<DistributionVTable>()
    {
        return Err(bad("vtable sizes differ from this meanfield's ABI".into()));
    }
    // SAFETY: arrays of `count` vtables in the library's static data (or dangling with count 0).
    let (activations, distributions) = unsafe {
        (
            static_slice(descriptor.activations, descriptor.activation_count),
            static_slice(descriptor.distributions, descriptor.distribution_count),
        )
    };
    let text = |s: StrRef, what: &str| {
        // SAFETY: descriptor strings point to static data of the library.
        std::str::from_utf8(unsafe { s.as_bytes() })
            .map(str::to_owned)
            .map_err(|e| bad(format!("{what} is not UTF-8: {e}")))
    };
    for v in activations {
        text(v.name, "an activation name")?;
        text(v.params, "an activation's parameter syntax")?;
    }
    for v in distributions {
        text(v.name, "a distribution name")?;
        text(v.params, "a distribution's parameter syntax")?;
    }
    Ok(PluginLibrary {
        path: path.to_owned(),
        name: text(descriptor.name, "the plugin name")?,
        version: text(descriptor.version, "the plugin version")?,
        abi_version,
        activations,
        distributions,
    })
}

/// # Safety
/// `ptr` must point to `len` initialised values that live for the rest of the process (or `len == 0`).
unsafe fn static_slice<T>(ptr: *const T, len: usize) -> &'static [T] {
    if len == 0 || ptr.is_null() { &[] } else { unsafe { std::slice::from_raw_parts(ptr, len) } }
}

/// Names checked to be UTF-8 when the library was loaded.
fn name_of(s: StrRef) -> &'static str {
    // SAFETY: static data of a never-unloaded library, validated in `load`.
    std::str::from_utf8(unsafe { s.as_bytes() }).unwrap_or("?")
}

/// A message a plugin reported through an [`ErrorSink`].
#[derive(Debug, Default)]
struct Reported {
    message: Option<String>,
    line: u32,
    col: u32,
}

unsafe extern "C" fn collect(ctx: *mut c_void, message: StrRef, line: u32, col: u32) {
    // SAFETY: `ctx` is the `Reported` of the `with_sink` call that is on the stack; the message is
    // valid for this callback and copied here.
    let reported = unsafe { &mut *ctx.cast::<Reported>() };
    reported.message = Some(String::from_utf8_lossy(unsafe { message.as_bytes() }).into_owned());
    (reported.line, reported.col) = (line, col);
}

/// Calls `f` with an error sink and returns its status with whatever the plugin reported.
fn with_sink(f: impl FnOnce(*const ErrorSink) -> Status) -> (Status, Reported) {
    let mut reported = Reported::default();
    let sink = ErrorSink { ctx: (&raw mut reported).cast::<c_void>(), report: collect };
    let status = f(&sink);
    (status, reported)
}

impl PluginLibrary {
    /// Every component the library provides, activations first.
    pub fn components(&self) -> Vec<ComponentInfo> {
        let activations = self.activations.iter().map(|v| ComponentInfo {
            kind: ComponentKind::Activation,
            name: name_of(v.name).to_owned(),
            params: name_of(v.params).to_owned(),
            log_density: false,
        });
        let distributions = self.distributions.iter().map(|v| ComponentInfo {
            kind: ComponentKind::Distribution,
            name: name_of(v.name).to_owned(),
            params: name_of(v.params).to_owned(),
            log_density: v.log_density.is_some(),
        });
        activations.chain(distributions).collect()
    }

    fn unknown(&self, kind: ComponentKind, name: &str) -> PluginError {
        let available = self.components().into_iter().filter(|c| c.kind == kind).map(|c| c.name).collect();
        PluginError::UnknownName { path: self.path.clone(), kind, name: name.to_owned(), available }
    }

    fn failure(&self, kind: ComponentKind, name: &str, status: Status, reported: Reported) -> PluginError {
        let (path, name) = (self.path.clone(), name.to_owned());
        let message = reported.message.unwrap_or_else(|| "(no message)".into());
        match status {
            STATUS_ERROR => PluginError::Rejected { path, kind, name, message, line: reported.line, col: reported.col },
            STATUS_PANIC => PluginError::Panicked { path, kind, name, message },
            status => PluginError::BadStatus { path, kind, name, status },
        }
    }

    fn create(
        &self,
        kind: ComponentKind,
        name: &str,
        (create, destroy): (CreateFn, DestroyFn),
        params: &str,
    ) -> Result<Instance, PluginError> {
        let mut instance: *mut c_void = std::ptr::null_mut();
        // SAFETY: `params` outlives the call; `instance` is a valid out-pointer.
        let (status, reported) = with_sink(|sink| unsafe { create(StrRef::new(params), &mut instance, sink) });
        if status != STATUS_OK {
            return Err(self.failure(kind, name, status, reported));
        }
        if instance.is_null() {
            return Err(PluginError::BadStatus { path: self.path.clone(), kind, name: name.to_owned(), status });
        }
        Ok(Instance { ptr: instance, destroy })
    }

    /// An instance of the activation `name` with `params` (RON text). `faults` receives its failures
    /// during the run.
    pub fn activation(
        self: &Arc<Self>,
        name: &str,
        params: &str,
        faults: Arc<FaultLog>,
    ) -> Result<PluginActivation, PluginError> {
        let kind = ComponentKind::Activation;
        let vtable =
            self.activations.iter().find(|v| name_of(v.name) == name).ok_or_else(|| self.unknown(kind, name))?;
        let instance = self.create(kind, name, (vtable.create, vtable.destroy), params)?;
        Ok(PluginActivation { library: self.clone(), vtable, instance, label: label(name, params), faults })
    }

    /// An instance of the distribution `name` with `params` (RON text).
    pub fn distribution(
        self: &Arc<Self>,
        name: &str,
        params: &str,
        faults: Arc<FaultLog>,
    ) -> Result<PluginDistribution, PluginError> {
        let kind = ComponentKind::Distribution;
        let vtable =
            self.distributions.iter().find(|v| name_of(v.name) == name).ok_or_else(|| self.unknown(kind, name))?;
        let instance = self.create(kind, name, (vtable.create, vtable.destroy), params)?;
        // SAFETY: an instance of this vtable.
        let dim = unsafe { (vtable.dim)(instance.ptr) };
        if dim == 0 {
            return Err(PluginError::Rejected {
                path: self.path.clone(),
                kind,
                name: name.to_owned(),
                message: "the distribution reports dimension 0".into(),
                line: 0,
                col: 0,
            });
        }
        Ok(PluginDistribution { library: self.clone(), vtable, instance, dim, label: label(name, params), faults })
    }
}

/// `name(params)` with the parameter text on one line, for model and data descriptions.
fn label(name: &str, params: &str) -> String {
    let mut params = params.split_whitespace().collect::<Vec<_>>().join(" ");
    for (from, to) in [("[ ", "["), ("( ", "("), (" ]", "]"), (" )", ")"), (",]", "]"), (",)", ")")] {
        params = params.replace(from, to);
    }
    if params == "()" { name.to_owned() } else { format!("{name}{params}") }
}

/// A plugin-owned instance, freed by the plugin's own `destroy` (never by the host's allocator).
#[derive(Debug)]
struct Instance {
    ptr: *mut c_void,
    destroy: DestroyFn,
}

impl Drop for Instance {
    fn drop(&mut self) {
        // SAFETY: made by the `create` of the vtable `destroy` comes from; dropped once.
        unsafe { (self.destroy)(self.ptr) }
    }
}

// SAFETY: the SDK only exports types that are `Send + Sync` (bounds of its traits), and the host only
// calls `&self` methods concurrently.
unsafe impl Send for Instance {}
unsafe impl Sync for Instance {}

/// An activation from a plugin.
pub struct PluginActivation {
    library: Arc<PluginLibrary>,
    vtable: &'static ActivationVTable,
    instance: Instance,
    label: String,
    faults: Arc<FaultLog>,
}

impl fmt::Debug for PluginActivation {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("PluginActivation").field("label", &self.label).field("library", &self.library).finish()
    }
}

impl Activation for PluginActivation {
    fn name(&self) -> String {
        self.label.clone()
    }

    fn eval(&self, z: &[f64], value: &mut [f64], mut derivative: Option<&mut [f64]>) {
        // Once a component of this point failed, its replicas are all stopping: don't call the plugin
        // again (a panicking plugin would otherwise panic once per call until then).
        if self.faults.first().is_some() {
            fill_nan(value, derivative);
            return;
        }
        // Never let a length mismatch become an out-of-bounds write in the plugin.
        let n = z.len().min(value.len()).min(derivative.as_deref().map_or(usize::MAX, <[f64]>::len));
        let derivative_ptr = derivative.as_deref_mut().map_or(std::ptr::null_mut(), <[f64]>::as_mut_ptr);
        // SAFETY: all buffers hold at least n values; `value` and `derivative` are distinct &mut slices.
        let (status, reported) = with_sink(|sink| unsafe {
            (self.vtable.eval)(self.instance.ptr, z.as_ptr(), value.as_mut_ptr(), derivative_ptr, n, sink)
        });
        if status != STATUS_OK {
            fill_nan(value, derivative);
            let name = name_of(self.vtable.name);
            self.faults.record(|| self.library.failure(ComponentKind::Activation, name, status, reported).to_string());
        }
    }
}

fn fill_nan(value: &mut [f64], derivative: Option<&mut [f64]>) {
    value.fill(f64::NAN);
    if let Some(d) = derivative {
        d.fill(f64::NAN);
    }
}

/// A data distribution from a plugin. Its streams are stateless: each `fill` is one `sample` call with
/// the replica's generator.
pub struct PluginDistribution {
    library: Arc<PluginLibrary>,
    vtable: &'static DistributionVTable,
    instance: Instance,
    dim: usize,
    label: String,
    faults: Arc<FaultLog>,
}

impl fmt::Debug for PluginDistribution {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("PluginDistribution").field("label", &self.label).field("dim", &self.dim).finish()
    }
}

unsafe extern "C" fn host_next_u32(ctx: *mut c_void) -> u32 {
    // SAFETY: `ctx` is the `&mut dyn RngCore` of the `fill` call in progress.
    unsafe { (*ctx.cast::<&mut dyn RngCore>()).next_u32() }
}

unsafe extern "C" fn host_fill_u64(ctx: *mut c_void, out: *mut u64, n: usize) {
    // SAFETY: as above; `out` holds n writable u64 (the SDK passes its own buffer).
    let (rng, out) = unsafe { (&mut *ctx.cast::<&mut dyn RngCore>(), std::slice::from_raw_parts_mut(out, n)) };
    out.iter_mut().for_each(|v| *v = rng.next_u64());
}

unsafe extern "C" fn host_fill_bytes(ctx: *mut c_void, out: *mut u8, n: usize) {
    if n == 0 {
        return;
    }
    // SAFETY: as above; `out` holds n writable bytes.
    unsafe { (*ctx.cast::<&mut dyn RngCore>()).fill_bytes(std::slice::from_raw_parts_mut(out, n)) }
}

impl PluginDistribution {
    fn sample(&self, rng: &mut dyn RngCore, x: &mut [f64], y: &mut [f64]) -> Result<(), PluginError> {
        let n = y.len().min(x.len() / self.dim);
        let mut rng: &mut dyn RngCore = rng;
        let source = RngSource {
            ctx: (&raw mut rng).cast::<c_void>(),
            next_u32: host_next_u32,
            fill_u64: host_fill_u64,
            fill_bytes: host_fill_bytes,
        };
        // SAFETY: x holds n·dim and y n values; `source` and its context outlive the call.
        let (status, reported) = with_sink(|sink| unsafe {
            (self.vtable.sample)(self.instance.ptr, &source, n, x.as_mut_ptr(), y.as_mut_ptr(), sink)
        });
        if status == STATUS_OK {
            Ok(())
        } else {
            Err(self.library.failure(ComponentKind::Distribution, name_of(self.vtable.name), status, reported))
        }
    }

    /// Whether the plugin gives its log-density.
    pub fn has_log_density(&self) -> bool {
        self.vtable.log_density.is_some()
    }

    /// `out[i] = log p(x_i, y_i)`; `None` when the plugin has no log-density.
    pub fn log_density(&self, x: &[f64], y: &[f64], out: &mut [f64]) -> Option<Result<(), PluginError>> {
        let log_density = self.vtable.log_density?;
        let n = y.len().min(out.len()).min(x.len() / self.dim);
        // SAFETY: x holds n·dim values, y and out n each.
        let (status, reported) = with_sink(|sink| unsafe {
            log_density(self.instance.ptr, n, x.as_ptr(), y.as_ptr(), out.as_mut_ptr(), sink)
        });
        Some(if status == STATUS_OK {
            Ok(())
        } else {
            Err(self.library.failure(ComponentKind::Distribution, name_of(self.vtable.name), status, reported))
        })
    }
}

impl DataDistribution for PluginDistribution {
    fn dim(&self) -> usize {
        self.dim
    }

    fn name(&self) -> String {
        self.label.clone()
    }

    fn stream(&self) -> Box<dyn DataStream + '_> {
        Box::new(PluginStream(self))
    }
}

struct PluginStream<'a>(&'a PluginDistribution);

impl DataStream for PluginStream<'_> {
    fn fill(&mut self, rng: &mut meanfield_core::Stream, x: &mut [f64], y: &mut [f64]) {
        // As in `PluginActivation::eval`: after a fault, the plugin is not called again.
        if self.0.faults.first().is_some() {
            x.fill(f64::NAN);
            y.fill(f64::NAN);
            return;
        }
        if let Err(e) = self.0.sample(rng, x, y) {
            x.fill(f64::NAN);
            y.fill(f64::NAN);
            self.0.faults.record(|| e.to_string());
        }
    }
}
