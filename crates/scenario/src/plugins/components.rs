//! Instances of plugin components, as the host's [`Activation`] and [`DataDistribution`]: every call
//! recorded in [`calls`](super::calls) first, every size checked, every failure a [`PluginError`].

use super::calls::{self, CallSite};
use super::{Component, ComponentInfo, ComponentKind, MAX_DIM, PluginError, PluginLibrary};
use meanfield_core::{Activation, DataDistribution, DataStream, FaultLog, Purpose, StreamKey};
use meanfield_plugin::abi::*;
use rand::RngCore;
use std::ffi::c_void;
use std::fmt;
use std::sync::Arc;

/// A message a plugin reported through an [`ErrorSink`].
#[derive(Debug, Default)]
pub(super) struct Reported {
    message: Option<String>,
    line: u32,
    col: u32,
}

unsafe extern "C" fn collect(ctx: *mut c_void, message: StrRef, line: u32, col: u32) {
    // SAFETY: `ctx` is the `Reported` of the `with_sink` call that is on the stack; the message is
    // valid for this callback and copied here (a null pointer is read as no text).
    let reported = unsafe { &mut *ctx.cast::<Reported>() };
    let bytes = if message.ptr.is_null() { &[][..] } else { unsafe { message.as_bytes() } };
    reported.message = Some(String::from_utf8_lossy(bytes).into_owned());
    (reported.line, reported.col) = (line, col);
}

/// Calls `f` with an error sink, recorded as `site`, and returns its status with whatever the plugin
/// reported.
fn with_sink(site: &'static CallSite, f: impl FnOnce(*const ErrorSink) -> Status) -> (Status, Reported) {
    let mut reported = Reported::default();
    let sink = ErrorSink { ctx: (&raw mut reported).cast::<c_void>(), report: collect };
    let status = {
        let _running = calls::enter(site);
        f(&sink)
    };
    (status, reported)
}

/// The parameters the probe and `plugins check` sample with: a fixed stream, so a difference between
/// two draws can only come from the plugin.
pub(super) const PROBE_SEED: u64 = 0x6d65_616e_6669_656c;
/// Rows per probe draw: enough that a generator of the plugin's own shows, few enough to cost nothing.
const PROBE_ROWS: usize = 4;

impl PluginLibrary {
    /// Every component the library provides, activations first.
    pub fn components(&self) -> Vec<ComponentInfo> {
        let activations = self.activations.iter().map(|c| ComponentInfo {
            kind: ComponentKind::Activation,
            name: c.name.to_owned(),
            params: c.params.to_owned(),
            log_density: false,
        });
        let distributions = self.distributions.iter().map(|c| ComponentInfo {
            kind: ComponentKind::Distribution,
            name: c.name.to_owned(),
            params: c.params.to_owned(),
            log_density: c.vtable.log_density.is_some(),
        });
        activations.chain(distributions).collect()
    }

    fn unknown(&self, kind: ComponentKind, name: &str) -> PluginError {
        let available = self.components().into_iter().filter(|c| c.kind == kind).map(|c| c.name).collect();
        PluginError::UnknownName { path: self.path.clone(), kind, name: name.to_owned(), available }
    }

    /// The error of a call that returned `status`: a refusal of `create` is about the parameters, one of
    /// any other `call` is a failure of that call.
    pub(super) fn failure(
        &self,
        (kind, name, call): (ComponentKind, &str, &'static str),
        status: Status,
        reported: Reported,
    ) -> PluginError {
        let (path, name) = (self.path.clone(), name.to_owned());
        let message = reported.message.unwrap_or_else(|| "(no message)".into());
        match status {
            STATUS_ERROR if call == "create" => {
                PluginError::Rejected { path, kind, name, message, line: reported.line, col: reported.col }
            }
            STATUS_ERROR => PluginError::Failed { path, kind, name, call, message },
            STATUS_PANIC => PluginError::Panicked { path, kind, name, message },
            status => PluginError::BadStatus { path, kind, name, status },
        }
    }

    pub(super) fn bad_call(&self, kind: ComponentKind, name: &str, message: String) -> PluginError {
        PluginError::BadCall { path: self.path.clone(), kind, name: name.to_owned(), message }
    }

    fn create<V>(
        &self,
        kind: ComponentKind,
        component: &Component<V>,
        (create, destroy): (CreateFn, DestroyFn),
        params: &str,
    ) -> Result<Instance, PluginError> {
        let mut instance: *mut c_void = std::ptr::null_mut();
        // SAFETY: `params` outlives the call; `instance` is a valid out-pointer.
        let (status, reported) =
            with_sink(component.sites.create, |sink| unsafe { create(StrRef::new(params), &mut instance, sink) });
        if status != STATUS_OK {
            return Err(self.failure((kind, component.name, "create"), status, reported));
        }
        if instance.is_null() {
            return Err(self.bad_call(kind, component.name, "`create` succeeded but returned no instance".into()));
        }
        Ok(Instance { ptr: instance, destroy, site: component.sites.destroy })
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
        let component = self.activations.iter().find(|c| c.name == name).ok_or_else(|| self.unknown(kind, name))?;
        let instance = self.create(kind, component, (component.vtable.create, component.vtable.destroy), params)?;
        Ok(PluginActivation {
            library: self.clone(),
            vtable: component.vtable,
            name: component.name,
            sites: component.sites,
            instance,
            label: label(name, params),
            faults,
        })
    }

    /// An instance of the distribution `name` with `params` (RON text), after the determinism probe: a
    /// few samples drawn twice from one stream must agree bit for bit.
    pub fn distribution(
        self: &Arc<Self>,
        name: &str,
        params: &str,
        faults: Arc<FaultLog>,
    ) -> Result<PluginDistribution, PluginError> {
        let dist = self.distribution_unprobed(name, params, faults)?;
        let draw = || {
            let (mut x, mut y) = (vec![0.0; PROBE_ROWS * dist.dim], vec![0.0; PROBE_ROWS]);
            dist.sample(&mut StreamKey::shared(PROBE_SEED, Purpose::Data).stream(), &mut x, &mut y).map(|()| (x, y))
        };
        let (first, second) = (draw()?, draw()?);
        let bits = |(x, y): &(Vec<f64>, Vec<f64>)| x.iter().chain(y).map(|v| v.to_bits()).collect::<Vec<_>>();
        if bits(&first) != bits(&second) {
            return Err(PluginError::Nondeterministic { path: self.path.clone(), name: name.to_owned() });
        }
        Ok(dist)
    }

    /// As [`Self::distribution`] without the probe (`plugins check` runs its own, longer tests).
    pub fn distribution_unprobed(
        self: &Arc<Self>,
        name: &str,
        params: &str,
        faults: Arc<FaultLog>,
    ) -> Result<PluginDistribution, PluginError> {
        let kind = ComponentKind::Distribution;
        let component = self.distributions.iter().find(|c| c.name == name).ok_or_else(|| self.unknown(kind, name))?;
        let instance = self.create(kind, component, (component.vtable.create, component.vtable.destroy), params)?;
        let dist = PluginDistribution {
            library: self.clone(),
            vtable: component.vtable,
            name: component.name,
            sites: component.sites,
            dim: 0,
            instance,
            label: label(name, params),
            faults,
        };
        let dim = dist.query_dim();
        let refuse = |message: String| self.bad_call(kind, name, message);
        match dim {
            0 => Err(refuse("`dim` is 0: a distribution needs at least one input coordinate".into())),
            d if d > MAX_DIM => Err(refuse(format!("`dim` is {d}, more than the {MAX_DIM} this meanfield accepts"))),
            dim => Ok(PluginDistribution { dim, ..dist }),
        }
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
    site: &'static CallSite,
}

impl Drop for Instance {
    fn drop(&mut self) {
        let _running = calls::enter(self.site);
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
    name: &'static str,
    sites: &'static super::Sites,
    instance: Instance,
    label: String,
    faults: Arc<FaultLog>,
}

impl fmt::Debug for PluginActivation {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("PluginActivation").field("label", &self.label).field("library", &self.library).finish()
    }
}

impl PluginActivation {
    /// One `eval` call, with its failure as an error: `value` (and `derivative`) must be as long as `z`.
    pub fn try_eval(&self, z: &[f64], value: &mut [f64], derivative: Option<&mut [f64]>) -> Result<(), PluginError> {
        let n = z.len();
        if value.len() != n || derivative.as_deref().is_some_and(|d| d.len() != n) {
            let message = format!("asked to evaluate {n} values into buffers of other lengths (a meanfield bug)");
            return Err(self.library.bad_call(ComponentKind::Activation, self.name, message));
        }
        let derivative_ptr = derivative.map_or(std::ptr::null_mut(), <[f64]>::as_mut_ptr);
        // SAFETY: all buffers hold n values; `value` and `derivative` are distinct &mut slices.
        let (status, reported) = with_sink(self.sites.call, |sink| unsafe {
            (self.vtable.eval)(self.instance.ptr, z.as_ptr(), value.as_mut_ptr(), derivative_ptr, n, sink)
        });
        if status == STATUS_OK {
            Ok(())
        } else {
            Err(self.library.failure((ComponentKind::Activation, self.name, "eval"), status, reported))
        }
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
        if let Err(e) = self.try_eval(z, value, derivative.as_deref_mut()) {
            fill_nan(value, derivative);
            self.faults.record(|| e.to_string());
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
    name: &'static str,
    sites: &'static super::Sites,
    /// As `dim` reported it when the instance was made; every later call must report the same.
    dim: usize,
    instance: Instance,
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
    if n == 0 || out.is_null() {
        return;
    }
    // SAFETY: as above; `out` holds n writable u64 (the SDK passes its own buffer).
    let (rng, out) = unsafe { (&mut *ctx.cast::<&mut dyn RngCore>(), std::slice::from_raw_parts_mut(out, n)) };
    out.iter_mut().for_each(|v| *v = rng.next_u64());
}

unsafe extern "C" fn host_fill_bytes(ctx: *mut c_void, out: *mut u8, n: usize) {
    if n == 0 || out.is_null() {
        return;
    }
    // SAFETY: as above; `out` holds n writable bytes.
    unsafe { (*ctx.cast::<&mut dyn RngCore>()).fill_bytes(std::slice::from_raw_parts_mut(out, n)) }
}

impl PluginDistribution {
    /// What the plugin's `dim` says now.
    fn query_dim(&self) -> usize {
        let _running = calls::enter(self.sites.dim);
        // SAFETY: an instance of this vtable.
        unsafe { (self.vtable.dim)(self.instance.ptr) }
    }

    /// After each call: the dimension every buffer was sized by must not have changed.
    fn dim_unchanged(&self) -> Result<(), PluginError> {
        match self.query_dim() {
            now if now == self.dim => Ok(()),
            now => Err(self.library.bad_call(
                ComponentKind::Distribution,
                self.name,
                format!("`dim` changed from {} to {now} after the instance was made; it must stay fixed", self.dim),
            )),
        }
    }

    /// The number of rows of `x` (n × dim) and `y` (n) when they agree, else the error naming both.
    fn rows(&self, x: usize, y: usize) -> Result<usize, PluginError> {
        if x == y.saturating_mul(self.dim) {
            return Ok(y);
        }
        let message =
            format!("buffers of {x} inputs and {y} labels do not hold whole samples of dimension {}", self.dim);
        Err(self.library.bad_call(ComponentKind::Distribution, self.name, message))
    }

    /// One `sample` call: `x` is `n × dim`, `y` is `n`.
    pub fn sample(&self, rng: &mut dyn RngCore, x: &mut [f64], y: &mut [f64]) -> Result<(), PluginError> {
        let n = self.rows(x.len(), y.len())?;
        let mut rng: &mut dyn RngCore = rng;
        let source = RngSource {
            ctx: (&raw mut rng).cast::<c_void>(),
            next_u32: host_next_u32,
            fill_u64: host_fill_u64,
            fill_bytes: host_fill_bytes,
        };
        // SAFETY: x holds n·dim and y n values; `source` and its context outlive the call.
        let (status, reported) = with_sink(self.sites.call, |sink| unsafe {
            (self.vtable.sample)(self.instance.ptr, &source, n, x.as_mut_ptr(), y.as_mut_ptr(), sink)
        });
        if status != STATUS_OK {
            return Err(self.library.failure((ComponentKind::Distribution, self.name, "sample"), status, reported));
        }
        self.dim_unchanged()
    }

    /// Whether the plugin gives its log-density.
    pub fn has_log_density(&self) -> bool {
        self.vtable.log_density.is_some()
    }

    /// `out[i] = log p(x_i, y_i)`; `None` when the plugin has no log-density.
    pub fn log_density(&self, x: &[f64], y: &[f64], out: &mut [f64]) -> Option<Result<(), PluginError>> {
        let log_density = self.vtable.log_density?;
        Some(self.call_log_density(log_density, x, y, out))
    }

    fn call_log_density(
        &self,
        log_density: LogDensityFn,
        x: &[f64],
        y: &[f64],
        out: &mut [f64],
    ) -> Result<(), PluginError> {
        let n = self.rows(x.len(), y.len())?;
        if out.len() != n {
            let message = format!("{n} samples but room for {} log-densities (a meanfield bug)", out.len());
            return Err(self.library.bad_call(ComponentKind::Distribution, self.name, message));
        }
        // SAFETY: x holds n·dim values, y and out n each.
        let (status, reported) = with_sink(self.sites.log_density, |sink| unsafe {
            log_density(self.instance.ptr, n, x.as_ptr(), y.as_ptr(), out.as_mut_ptr(), sink)
        });
        if status != STATUS_OK {
            let call = (ComponentKind::Distribution, self.name, "log_density");
            return Err(self.library.failure(call, status, reported));
        }
        self.dim_unchanged()
    }
}

/// The type of [`DistributionVTable::log_density`] when present.
type LogDensityFn =
    unsafe extern "C" fn(*const c_void, usize, *const f64, *const f64, *mut f64, *const ErrorSink) -> Status;

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
