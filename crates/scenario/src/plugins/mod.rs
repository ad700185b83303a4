//! The plugin host: finds plugin libraries, loads them through the C ABI of [`meanfield_plugin::abi`],
//! and wraps what they provide as [`Activation`](meanfield_core::Activation)s and
//! [`DataDistribution`](meanfield_core::DataDistribution)s.
//!
//! Rules (DESIGN.md §3): refuse a path that is not a regular file before opening it (a FIFO would block
//! `dlopen`); open with `RTLD_NOW` so a missing symbol fails at load, not mid-run; read the ABI version,
//! then the descriptor's size, before anything else; validate every descriptor field (pointers, lengths,
//! counts, UTF-8, duplicate names, null function pointers) before using any; never unload (a library
//! stays loaded for the life of the process, so function pointers and `'static` names taken from it stay
//! valid); free plugin instances only through the plugin's own `destroy`; check the sizes of every call
//! (a `dim` that changes is a fault); every non-OK status becomes a typed [`PluginError`] (at build time)
//! or a fault in the point's [`FaultLog`](meanfield_core::FaultLog) plus NaN output (in the step loop,
//! where a call cannot fail). Each call is recorded in [`calls`] first, so a crash inside it can be
//! reported.
//!
//! Threading: an instance is created per scenario point and shared read-only by that point's replicas,
//! which call `eval`/`sample` concurrently; the SDK's traits require `Send + Sync` for that reason.
#![allow(unsafe_code)] // this module is the FFI boundary; each unsafe block says what it relies on

pub mod calls;
mod components;
pub mod conformance;

pub use components::{PluginActivation, PluginDistribution};

use calls::CallSite;
use meanfield_plugin::abi::*;
use std::collections::HashMap;
use std::ffi::c_void;
use std::fmt;
use std::path::{Path, PathBuf};
use std::sync::{Arc, LazyLock, Mutex};

/// The environment variable holding extra plugin directories (`:`-separated on Unix).
pub const PLUGIN_PATH_VAR: &str = "MEANFIELD_PLUGIN_PATH";

/// More components than any library could mean: a count above it is garbage, not a plugin.
const MAX_COMPONENTS: usize = 4096;
/// Longer names or parameter texts are garbage lengths, not text.
const MAX_TEXT: usize = 64 * 1024;
/// Input dimensions beyond this are refused before any buffer is sized by them.
pub const MAX_DIM: usize = 1 << 24;

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
    #[error("{} is {what}, not a plugin library (a shared library file)", path.display())]
    NotAFile { path: PathBuf, what: &'static str },
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
    #[error("{kind} '{name}' of {} failed in `{call}`: {message}", path.display())]
    Failed { path: PathBuf, kind: ComponentKind, name: String, call: &'static str, message: String },
    #[error("{kind} '{name}' of {} returned the unknown status {status}", path.display())]
    BadStatus { path: PathBuf, kind: ComponentKind, name: String, status: Status },
    #[error("{kind} '{name}' of {}: {message}", path.display())]
    BadCall { path: PathBuf, kind: ComponentKind, name: String, message: String },
    #[error(
        "data distribution '{name}' of {} gave different samples from the same random stream: a plugin must \
         draw only from the `rng` it is given, never from a generator of its own, or runs cannot be \
         reproduced (`meanfield plugins check {}` tests this and more)",
        path.display(),
        path.display()
    )]
    Nondeterministic { path: PathBuf, name: String },
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

/// Where each call of one component is recorded before it is made ([`calls`]).
#[derive(Debug)]
struct Sites {
    create: &'static CallSite,
    /// `eval` or `sample`.
    call: &'static CallSite,
    dim: &'static CallSite,
    log_density: &'static CallSite,
    destroy: &'static CallSite,
}

impl Sites {
    fn leak(kind: ComponentKind, name: &str, path: &Path) -> &'static Sites {
        let site = |call: &str| CallSite::leak(format!("`{call}` of {kind} '{name}' in {}", path.display()));
        let call = if kind == ComponentKind::Activation { "eval" } else { "sample" };
        Box::leak(Box::new(Sites {
            create: site("create"),
            call: site(call),
            dim: site("dim"),
            log_density: site("log_density"),
            destroy: site("destroy"),
        }))
    }
}

/// A component of a loaded library: its vtable, its validated name, and its call sites.
#[derive(Debug)]
struct Component<V: 'static> {
    vtable: &'static V,
    name: &'static str,
    params: &'static str,
    sites: &'static Sites,
}

/// A loaded plugin library (loaded once per process, never unloaded).
pub struct PluginLibrary {
    pub path: PathBuf,
    pub name: String,
    pub version: String,
    pub abi_version: u32,
    activations: Vec<Component<ActivationVTable>>,
    distributions: Vec<Component<DistributionVTable>>,
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
/// name is looked up in `base_dir`, then in each directory of `MEANFIELD_PLUGIN_PATH`. The first regular
/// file wins; when there is none but something else is there (a directory, a FIFO, a device), that is
/// what the error says.
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
    if let Some(found) = searched.iter().find(|p| p.is_file()) {
        return Ok(found.clone());
    }
    let other = searched
        .iter()
        .find_map(|p| Some((p, meanfield_core::files::not_a_regular_file(&std::fs::metadata(p).ok()?)?)));
    Err(match other {
        Some((path, what)) => PluginError::NotAFile { path: path.clone(), what },
        None => PluginError::NotFound { lib: lib.to_owned(), searched },
    })
}

static LOADED: LazyLock<Mutex<HashMap<PathBuf, Arc<PluginLibrary>>>> = LazyLock::new(Default::default);

/// Loads the library at `path` (or returns it if this process loaded it before). A path that is not a
/// regular file is refused with what it is, before `dlopen` could block on it or read a device.
pub fn open(path: &Path) -> Result<Arc<PluginLibrary>, PluginError> {
    let missing = || PluginError::NotFound { lib: path.display().to_string(), searched: vec![path.to_owned()] };
    let metadata = std::fs::metadata(path).map_err(|_| missing())?;
    if let Some(what) = meanfield_core::files::not_a_regular_file(&metadata) {
        return Err(PluginError::NotAFile { path: path.to_owned(), what });
    }
    if metadata.len() == 0 {
        return Err(PluginError::NotAFile { path: path.to_owned(), what: "an empty file" });
    }
    let path = path.canonicalize().map_err(|_| missing())?;
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
    if !descriptor.is_aligned() {
        return Err(bad(format!("mf_plugin_descriptor returned the misaligned address {descriptor:p}")));
    }
    // SAFETY: non-null and aligned; every descriptor layout starts with `abi_version: u32, size: usize`,
    // so these two fields are readable whatever the rest of the layout is. Nothing else is read before
    // `size` matches.
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
    // SAFETY: the size matches this ABI's layout, whose fields are integers and raw pointers (any bits
    // are valid); the descriptor is static data of the (never unloaded) library.
    let descriptor: &'static PluginDescriptor = unsafe { &*descriptor };
    if descriptor.activation_vtable_size != size_of::<ActivationVTable>()
        || descriptor.distribution_vtable_size != size_of::<DistributionVTable>()
    {
        return Err(bad("vtable sizes differ from this meanfield's ABI".into()));
    }
    let activations = validate::activations(descriptor, path).map_err(bad)?;
    let distributions = validate::distributions(descriptor, path).map_err(bad)?;
    Ok(PluginLibrary {
        path: path.to_owned(),
        name: validate::text(descriptor.name, "the plugin's `name`").map_err(bad)?.to_owned(),
        version: validate::text(descriptor.version, "the plugin's `version`").map_err(bad)?.to_owned(),
        abi_version,
        activations,
        distributions,
    })
}

/// Every field of a descriptor, checked before it is used; each error names the field as the ABI does
/// (`activations[1].name`).
mod validate {
    use super::*;

    /// A descriptor string: empty, or a non-null pointer to at most [`MAX_TEXT`] bytes of UTF-8.
    pub(super) fn text(s: StrRef, field: &str) -> Result<&'static str, String> {
        if s.len == 0 {
            return Ok("");
        }
        if s.ptr.is_null() {
            return Err(format!("{field} is a null pointer with length {}", s.len));
        }
        if s.len > MAX_TEXT {
            return Err(format!("{field} claims a length of {} bytes (at most {MAX_TEXT})", s.len));
        }
        // SAFETY: non-null, of a sane length, static data of the never-unloaded library (the ABI's rule).
        std::str::from_utf8(unsafe { s.as_bytes() }).map_err(|e| format!("{field} is not UTF-8 ({e})"))
    }

    /// The array `field` of `count` elements: null only when empty, aligned, of a sane count.
    fn array<T>(ptr: *const T, (field, count_field): (&str, &str), count: usize) -> Result<(), String> {
        if count > MAX_COMPONENTS {
            return Err(format!("`{count_field}` is {count}: no library has more than {MAX_COMPONENTS} components"));
        }
        if count > 0 && ptr.is_null() {
            return Err(format!("`{field}` is a null pointer with `{count_field}` {count}"));
        }
        if count > 0 && !ptr.is_aligned() {
            return Err(format!("`{field}` is the misaligned address {ptr:p}"));
        }
        Ok(())
    }

    /// Each name non-empty and used once per kind.
    fn names(names: &[&'static str], field: &str) -> Result<(), String> {
        for (i, name) in names.iter().enumerate() {
            if name.is_empty() {
                return Err(format!("{field}[{i}].name is empty"));
            }
            if let Some(j) = names[..i].iter().position(|n| n == name) {
                return Err(format!("{field}[{j}] and {field}[{i}] are both named '{name}'"));
            }
        }
        Ok(())
    }

    /// A function pointer read as raw bits, so a null one is found before it is used as a function.
    ///
    /// # Safety
    /// `field` must point to a readable, pointer-sized field.
    unsafe fn non_null<F>(field: *const F, name: &str) -> Result<(), String> {
        // SAFETY: the caller's guarantee; a raw pointer accepts any bits.
        let raw = unsafe { field.cast::<*const c_void>().read() };
        if raw.is_null() { Err(format!("{name} is a null function pointer")) } else { Ok(()) }
    }

    pub(super) fn activations(d: &PluginDescriptor, path: &Path) -> Result<Vec<Component<ActivationVTable>>, String> {
        array(d.activations, ("activations", "activation_count"), d.activation_count)?;
        let mut out = Vec::with_capacity(d.activation_count);
        for i in 0..d.activation_count {
            // SAFETY: within an aligned array of `activation_count` vtables of the library's static data.
            let v = unsafe { d.activations.add(i) };
            let field = |f: &str| format!("activations[{i}].{f}");
            // SAFETY: each field of the vtable is readable; the raw reads accept any bits.
            let (name, params) =
                unsafe { (std::ptr::addr_of!((*v).name).read(), std::ptr::addr_of!((*v).params).read()) };
            let (name, params) = (text(name, &field("name"))?, text(params, &field("params"))?);
            // SAFETY: as above.
            unsafe {
                non_null(std::ptr::addr_of!((*v).create), &field("create"))?;
                non_null(std::ptr::addr_of!((*v).eval), &field("eval"))?;
                non_null(std::ptr::addr_of!((*v).destroy), &field("destroy"))?;
            }
            // SAFETY: every field now holds a valid value of its type.
            let vtable = unsafe { &*v };
            out.push(Component { vtable, name, params, sites: Sites::leak(ComponentKind::Activation, name, path) });
        }
        names(&out.iter().map(|c| c.name).collect::<Vec<_>>(), "activations")?;
        Ok(out)
    }

    pub(super) fn distributions(
        d: &PluginDescriptor,
        path: &Path,
    ) -> Result<Vec<Component<DistributionVTable>>, String> {
        array(d.distributions, ("distributions", "distribution_count"), d.distribution_count)?;
        let mut out = Vec::with_capacity(d.distribution_count);
        for i in 0..d.distribution_count {
            // SAFETY: within an aligned array of `distribution_count` vtables of the library's static data.
            let v = unsafe { d.distributions.add(i) };
            let field = |f: &str| format!("distributions[{i}].{f}");
            // SAFETY: each field of the vtable is readable; the raw reads accept any bits (`log_density`
            // is an `Option`, for which null is valid).
            let (name, params) =
                unsafe { (std::ptr::addr_of!((*v).name).read(), std::ptr::addr_of!((*v).params).read()) };
            let (name, params) = (text(name, &field("name"))?, text(params, &field("params"))?);
            // SAFETY: as above.
            unsafe {
                non_null(std::ptr::addr_of!((*v).create), &field("create"))?;
                non_null(std::ptr::addr_of!((*v).dim), &field("dim"))?;
                non_null(std::ptr::addr_of!((*v).sample), &field("sample"))?;
                non_null(std::ptr::addr_of!((*v).destroy), &field("destroy"))?;
            }
            // SAFETY: every field now holds a valid value of its type.
            let vtable = unsafe { &*v };
            out.push(Component { vtable, name, params, sites: Sites::leak(ComponentKind::Distribution, name, path) });
        }
        names(&out.iter().map(|c| c.name).collect::<Vec<_>>(), "distributions")?;
        Ok(out)
    }
}
