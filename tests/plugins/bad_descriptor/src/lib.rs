//! A library whose descriptor is broken in the way `MF_FIXTURE_DESCRIPTOR` names (one library, many
//! descriptors: the host must validate every field before using it, and name the field). Unset, the
//! descriptor is valid.
#![allow(unsafe_code)]

use meanfield_plugin::abi::*;
use meanfield_plugin::{Activation, ffi};
use std::ffi::c_void;
use std::sync::atomic::{AtomicUsize, Ordering};

#[derive(Debug)]
pub struct Identity;

impl Activation for Identity {
    const NAME: &'static str = "identity";
    type Params = ();
    fn new(_: ()) -> Result<Self, String> {
        Ok(Identity)
    }
    fn eval(&self, z: &[f64], value: &mut [f64], derivative: Option<&mut [f64]>) {
        value.copy_from_slice(z);
        if let Some(d) = derivative {
            d.fill(1.0);
        }
    }
}

const GOOD: ActivationVTable = ffi::activation_vtable::<Identity>();
const NULL: *const u8 = std::ptr::null();

/// The layout of `ActivationVTable` with nullable function pointers, to build one whose `eval` is null.
#[repr(C)]
pub struct NullableActivation {
    name: StrRef,
    params: StrRef,
    create: Option<CreateFn>,
    eval: Option<unsafe extern "C" fn()>,
    destroy: Option<DestroyFn>,
}
// SAFETY: static data only.
unsafe impl Sync for NullableActivation {}

static ONE: [ActivationVTable; 1] = [GOOD];
static NULL_NAME: [ActivationVTable; 1] = [ActivationVTable { name: StrRef { ptr: NULL, len: 5 }, ..GOOD }];
static HUGE_LEN: [ActivationVTable; 1] =
    [ActivationVTable { params: StrRef { ptr: b"()".as_ptr(), len: 1 << 40 }, ..GOOD }];
static NON_UTF8: [ActivationVTable; 1] =
    [ActivationVTable { name: StrRef { ptr: b"\xff\xfe".as_ptr(), len: 2 }, ..GOOD }];
static TWINS: [ActivationVTable; 2] = [GOOD, GOOD];
static NULL_EVAL: [NullableActivation; 1] = [NullableActivation {
    name: StrRef::new("identity"),
    params: StrRef::new("()"),
    create: Some(GOOD.create),
    eval: None,
    destroy: Some(GOOD.destroy),
}];

/// A distribution written against the raw ABI (no SDK) whose `dim` grows at every call.
static DIM_CALLS: AtomicUsize = AtomicUsize::new(0);

unsafe extern "C" fn raw_create(_: StrRef, instance: *mut *mut c_void, _: *const ErrorSink) -> Status {
    // SAFETY: the host's out-pointer; the instance is a dummy that is never dereferenced.
    unsafe { *instance = std::ptr::NonNull::<u64>::dangling().as_ptr().cast() };
    STATUS_OK
}

unsafe extern "C" fn raw_dim(_: *const c_void) -> usize {
    3 + DIM_CALLS.fetch_add(1, Ordering::SeqCst)
}

unsafe extern "C" fn raw_sample(
    _: *const c_void,
    _: *const RngSource,
    n: usize,
    x: *mut f64,
    y: *mut f64,
    _: *const ErrorSink,
) -> Status {
    // SAFETY: the host's buffers of n·3 (the dimension it was first told) and n values.
    unsafe {
        std::slice::from_raw_parts_mut(x, n * 3).fill(0.5);
        std::slice::from_raw_parts_mut(y, n).fill(1.0);
    }
    STATUS_OK
}

unsafe extern "C" fn raw_destroy(_: *mut c_void) {}

static RAW_GROWING: [DistributionVTable; 1] = [DistributionVTable {
    name: StrRef::new("raw_growing_dim"),
    params: StrRef::new("()"),
    create: raw_create,
    dim: raw_dim,
    sample: raw_sample,
    log_density: None,
    destroy: raw_destroy,
}];

const fn descriptor(
    name: StrRef,
    activations: *const ActivationVTable,
    activation_count: usize,
    distributions: *const DistributionVTable,
    distribution_count: usize,
) -> PluginDescriptor {
    PluginDescriptor {
        abi_version: ABI_VERSION,
        size: size_of::<PluginDescriptor>(),
        activation_vtable_size: size_of::<ActivationVTable>(),
        distribution_vtable_size: size_of::<DistributionVTable>(),
        name,
        version: StrRef::new("0.1.0"),
        activations,
        activation_count,
        distributions,
        distribution_count,
    }
}

const NAME: StrRef = StrRef::new("fixture_bad_descriptor");
const NO_DISTRIBUTIONS: *const DistributionVTable = std::ptr::null();

static VALID: PluginDescriptor = descriptor(NAME, ONE.as_ptr(), 1, RAW_GROWING.as_ptr(), 1);
static D_NULL_NAME: PluginDescriptor = descriptor(NAME, NULL_NAME.as_ptr(), 1, NO_DISTRIBUTIONS, 0);
static D_HUGE_LEN: PluginDescriptor = descriptor(NAME, HUGE_LEN.as_ptr(), 1, NO_DISTRIBUTIONS, 0);
static D_NON_UTF8: PluginDescriptor = descriptor(NAME, NON_UTF8.as_ptr(), 1, NO_DISTRIBUTIONS, 0);
static D_PLUGIN_NAME: PluginDescriptor =
    descriptor(StrRef { ptr: b"\xc3(".as_ptr(), len: 2 }, ONE.as_ptr(), 1, NO_DISTRIBUTIONS, 0);
static D_TWINS: PluginDescriptor = descriptor(NAME, TWINS.as_ptr(), 2, NO_DISTRIBUTIONS, 0);
static D_HUGE_COUNT: PluginDescriptor = descriptor(NAME, ONE.as_ptr(), usize::MAX, NO_DISTRIBUTIONS, 0);
static D_NULL_ARRAY: PluginDescriptor = descriptor(NAME, ONE.as_ptr(), 1, NO_DISTRIBUTIONS, 2);
static D_NULL_EVAL: PluginDescriptor =
    descriptor(NAME, NULL_EVAL.as_ptr().cast::<ActivationVTable>(), 1, NO_DISTRIBUTIONS, 0);

#[unsafe(no_mangle)]
pub extern "C" fn mf_plugin_abi_version() -> u32 {
    ABI_VERSION
}

#[unsafe(no_mangle)]
pub extern "C" fn mf_plugin_descriptor() -> *const PluginDescriptor {
    match std::env::var("MF_FIXTURE_DESCRIPTOR").as_deref() {
        Ok("null_name") => &D_NULL_NAME,
        Ok("huge_len") => &D_HUGE_LEN,
        Ok("non_utf8") => &D_NON_UTF8,
        Ok("plugin_name") => &D_PLUGIN_NAME,
        Ok("twins") => &D_TWINS,
        Ok("huge_count") => &D_HUGE_COUNT,
        Ok("null_array") => &D_NULL_ARRAY,
        Ok("null_eval") => &D_NULL_EVAL,
        _ => &VALID,
    }
}
