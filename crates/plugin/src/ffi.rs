//! The `extern "C"` wrappers that [`export_plugin!`](crate::export_plugin) instantiates for each type.
//! Every wrapper catches panics and reports them, so that unwinding never crosses the ABI.

use crate::abi::*;
use crate::{Activation, Distribution, HostRng};
use serde::de::DeserializeOwned;
use std::any::Any;
use std::cell::RefCell;
use std::ffi::c_void;
use std::panic::{AssertUnwindSafe, catch_unwind};
use std::sync::Once;

pub const fn descriptor(
    name: &'static str,
    version: &'static str,
    activations: &'static [ActivationVTable],
    distributions: &'static [DistributionVTable],
) -> PluginDescriptor {
    PluginDescriptor {
        abi_version: ABI_VERSION,
        size: size_of::<PluginDescriptor>(),
        activation_vtable_size: size_of::<ActivationVTable>(),
        distribution_vtable_size: size_of::<DistributionVTable>(),
        name: StrRef::new(name),
        version: StrRef::new(version),
        activations: activations.as_ptr(),
        activation_count: activations.len(),
        distributions: distributions.as_ptr(),
        distribution_count: distributions.len(),
    }
}

pub const fn activation_vtable<A: Activation>() -> ActivationVTable {
    ActivationVTable {
        name: StrRef::new(A::NAME),
        params: StrRef::new(A::PARAMS),
        create: create_activation::<A>,
        eval: eval::<A>,
        destroy: destroy::<A>,
    }
}

pub const fn distribution_vtable<D: Distribution>() -> DistributionVTable {
    DistributionVTable {
        name: StrRef::new(D::NAME),
        params: StrRef::new(D::PARAMS),
        create: create_distribution::<D>,
        dim: dim::<D>,
        sample: sample::<D>,
        log_density: if D::HAS_LOG_DENSITY { Some(log_density::<D>) } else { None },
        destroy: destroy::<Fixed<D>>,
    }
}

/// A failure to report: message, and the 1-based line and column in the parameter text (0 = none).
type Failure = (String, u32, u32);

fn report(errors: *const ErrorSink, message: &str, line: u32, col: u32) {
    // SAFETY: the host passes a valid sink (or null) for the duration of the call; it copies the message
    // before returning.
    if let Some(sink) = unsafe { errors.as_ref() } {
        unsafe { (sink.report)(sink.ctx, StrRef::new(message), line, col) };
    }
}

thread_local! {
    /// Where the last panic on this thread happened (`file:line:col`), recorded by the hook of
    /// [`quiet_panics`].
    static PANIC_LOCATION: RefCell<Option<String>> = const { RefCell::new(None) };
}

/// Replaces the plugin's panic hook (the plugin's own copy of std has its own) by one that only records
/// the location: the host reports the panic, with message and location, as an error, so the default
/// hook's print (with a backtrace per call under RUST_BACKTRACE) would be noise on the user's terminal.
fn quiet_panics() {
    static ONCE: Once = Once::new();
    ONCE.call_once(|| {
        std::panic::set_hook(Box::new(|info| {
            let location = info.location().map(|l| format!("{}:{}:{}", l.file(), l.line(), l.column()));
            PANIC_LOCATION.with(|cell| *cell.borrow_mut() = location);
        }));
    });
}

fn panic_message(payload: &(dyn Any + Send)) -> String {
    let message = if let Some(s) = payload.downcast_ref::<&str>() {
        (*s).to_owned()
    } else if let Some(s) = payload.downcast_ref::<String>() {
        s.clone()
    } else {
        "(a payload that is not a string)".to_owned()
    };
    match PANIC_LOCATION.with(|cell| cell.borrow_mut().take()) {
        Some(location) => format!("panicked at {location}: {message}"),
        None => format!("panicked: {message}"),
    }
}

/// Runs `body`, turning `Err` into [`STATUS_ERROR`] and a panic into [`STATUS_PANIC`], both reported.
fn guarded(errors: *const ErrorSink, body: impl FnOnce() -> Result<(), Failure>) -> Status {
    match catch_unwind(AssertUnwindSafe(body)) {
        Ok(Ok(())) => STATUS_OK,
        Ok(Err((message, line, col))) => {
            report(errors, &message, line, col);
            STATUS_ERROR
        }
        Err(payload) => {
            report(errors, &panic_message(payload.as_ref()), 0, 0);
            STATUS_PANIC
        }
    }
}

/// Deserializes parameters with the options scenario files use (`Some(…)` may be left out).
fn parse_params<P: DeserializeOwned>(text: &str) -> Result<P, Failure> {
    let options = ron::Options::default().with_default_extension(ron::extensions::Extensions::IMPLICIT_SOME);
    options.from_str(text).map_err(|e| (e.code.to_string(), e.span.start.line as u32, e.span.start.col as u32))
}

/// The shared body of both `create`s.
///
/// # Safety
/// `params` must be readable, `instance` writable, for the call.
unsafe fn create_with<T, P: DeserializeOwned>(
    params: StrRef,
    instance: *mut *mut c_void,
    errors: *const ErrorSink,
    new: fn(P) -> Result<T, String>,
) -> Status {
    quiet_panics();
    guarded(errors, || {
        // SAFETY: the host passes its parameter text, valid for this call.
        let bytes = unsafe { params.as_bytes() };
        let text = std::str::from_utf8(bytes).map_err(|e| (format!("parameters are not UTF-8: {e}"), 0, 0))?;
        let built = new(parse_params(text)?).map_err(|message| (message, 0, 0))?;
        // SAFETY: `instance` is a writable out-pointer owned by the host.
        unsafe { *instance = Box::into_raw(Box::new(built)).cast::<c_void>() };
        Ok(())
    })
}

unsafe extern "C" fn create_activation<A: Activation>(
    params: StrRef,
    instance: *mut *mut c_void,
    errors: *const ErrorSink,
) -> Status {
    // SAFETY: forwarded from the host's call.
    unsafe { create_with(params, instance, errors, A::new) }
}

unsafe extern "C" fn create_distribution<D: Distribution>(
    params: StrRef,
    instance: *mut *mut c_void,
    errors: *const ErrorSink,
) -> Status {
    // SAFETY: forwarded from the host's call.
    unsafe { create_with(params, instance, errors, Fixed::<D>::new) }
}

/// A distribution with the dimension it reported when it was built. Every buffer length is computed
/// from this one value, so a `dim()` that changes later can never make a slice longer than the host's
/// buffer: the change is reported as an error instead.
struct Fixed<D> {
    dist: D,
    dim: usize,
}

impl<D: Distribution> Fixed<D> {
    fn new(params: D::Params) -> Result<Self, String> {
        let dist = D::new(params)?;
        let dim = dist.dim();
        if dim == 0 {
            return Err(format!("{}: dim() is 0; a distribution needs at least one input coordinate", D::NAME));
        }
        Ok(Fixed { dist, dim })
    }

    /// `n · dim` values, or an error when that does not fit in memory.
    fn len(&self, n: usize) -> Result<usize, Failure> {
        n.checked_mul(self.dim).ok_or_else(|| (format!("{n} samples of dimension {} overflow", self.dim), 0, 0))
    }

    /// After each call into the author's code: `dim()` must still be what it was at creation.
    fn still_fixed(&self) -> Result<(), Failure> {
        match self.dist.dim() {
            dim if dim == self.dim => Ok(()),
            dim => Err((format!("dim() changed from {} to {dim} after creation; it must stay fixed", self.dim), 0, 0)),
        }
    }
}

unsafe extern "C" fn destroy<T>(instance: *mut c_void) {
    if !instance.is_null() {
        // SAFETY: `instance` came from `Box::into_raw` in `create_with::<T>` and is destroyed once.
        // Dropping cannot unwind out: a panicking Drop is caught here.
        let _ = catch_unwind(AssertUnwindSafe(|| drop(unsafe { Box::from_raw(instance.cast::<T>()) })));
    }
}

unsafe extern "C" fn eval<A: Activation>(
    instance: *const c_void,
    z: *const f64,
    value: *mut f64,
    derivative: *mut f64,
    n: usize,
    errors: *const ErrorSink,
) -> Status {
    guarded(errors, || {
        // SAFETY: the host passes an instance of A made by `create_activation::<A>` and `n`-element
        // buffers, `value` and `derivative` (when non-null) not aliasing each other or `z`.
        let (act, z, value) = unsafe {
            (&*instance.cast::<A>(), std::slice::from_raw_parts(z, n), std::slice::from_raw_parts_mut(value, n))
        };
        let derivative = (!derivative.is_null()).then(|| unsafe { std::slice::from_raw_parts_mut(derivative, n) });
        act.eval(z, value, derivative);
        Ok(())
    })
}

unsafe extern "C" fn dim<D: Distribution>(instance: *const c_void) -> usize {
    // SAFETY: an instance made by `create_distribution::<D>`. The dimension read at creation: no call
    // into the author's code, so nothing here can panic or change.
    unsafe { &*instance.cast::<Fixed<D>>() }.dim
}

unsafe extern "C" fn sample<D: Distribution>(
    instance: *const c_void,
    rng: *const RngSource,
    n: usize,
    x: *mut f64,
    y: *mut f64,
    errors: *const ErrorSink,
) -> Status {
    guarded(errors, || {
        // SAFETY: an instance made by `create_distribution::<D>`.
        let fixed = unsafe { &*instance.cast::<Fixed<D>>() };
        let len = fixed.len(n)?;
        // SAFETY: the host passes `x` with n·dim and `y` with n writable values (dim as reported by the
        // vtable's `dim`, which is `fixed.dim`); `rng` is valid for the call.
        let (x, y, mut rng) = unsafe {
            (std::slice::from_raw_parts_mut(x, len), std::slice::from_raw_parts_mut(y, n), HostRng::new(&*rng))
        };
        fixed.dist.sample(&mut rng, x, y);
        fixed.still_fixed()
    })
}

unsafe extern "C" fn log_density<D: Distribution>(
    instance: *const c_void,
    n: usize,
    x: *const f64,
    y: *const f64,
    out: *mut f64,
    errors: *const ErrorSink,
) -> Status {
    guarded(errors, || {
        // SAFETY: an instance made by `create_distribution::<D>`.
        let fixed = unsafe { &*instance.cast::<Fixed<D>>() };
        let len = fixed.len(n)?;
        // SAFETY: `x` holds n·dim, `y` and `out` n values.
        let (x, y, out) = unsafe {
            (
                std::slice::from_raw_parts(x, len),
                std::slice::from_raw_parts(y, n),
                std::slice::from_raw_parts_mut(out, n),
            )
        };
        fixed.dist.log_density(x, y, out);
        fixed.still_fixed()
    })
}
