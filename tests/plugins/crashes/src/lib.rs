//! Plugins that end, crash or hang the process, and distributions that break the contract silently:
//! for the process guards, Ctrl-C and `meanfield plugins check`.
#![allow(unsafe_code)]

use meanfield_plugin::rand::RngCore;
use meanfield_plugin::{Activation, Distribution, HostRng, export_plugin};
use std::sync::atomic::{AtomicBool, AtomicU64, AtomicUsize, Ordering};

/// An activation without parameters whose `eval` is `$body`.
macro_rules! activation {
    ($type:ident, $name:literal, |$z:ident, $value:ident| $body:block) => {
        #[derive(Debug)]
        pub struct $type;

        impl Activation for $type {
            const NAME: &'static str = $name;
            type Params = ();
            fn new(_: ()) -> Result<Self, String> {
                Ok($type)
            }
            fn eval(&self, $z: &[f64], $value: &mut [f64], _: Option<&mut [f64]>) $body
        }
    };
}

activation!(Exits, "exits", |_z, _value| {
    // What a plugin (or a C library it wraps) might do on an error it cannot handle.
    std::process::exit(0)
});

activation!(Segfaults, "segfaults", |_z, _value| {
    // SAFETY: none: writing through a null pointer is the point.
    unsafe { std::ptr::null_mut::<f64>().write_volatile(1.0) }
});

activation!(Aborts, "aborts", |_z, _value| { std::process::abort() });

activation!(OverflowsStack, "overflows_stack", |z, value| {
    value[0] = recurse(z.len() as u64) as f64;
});

#[allow(unconditional_recursion)]
#[inline(never)]
fn recurse(depth: u64) -> u64 {
    let mut frame = [depth; 512];
    std::hint::black_box(&mut frame);
    recurse(depth + 1) + frame[1]
}

static ENTERED: AtomicBool = AtomicBool::new(false);

activation!(Hangs, "hangs", |_z, _value| {
    // Says once that it is inside the call, so a test knows when to send Ctrl-C.
    if !ENTERED.swap(true, Ordering::SeqCst) {
        eprintln!("fixture: inside a call that never returns");
    }
    loop {
        std::thread::sleep(std::time::Duration::from_millis(100));
    }
});

/// Its dimension grows by one at every call of `dim`: the host must never size a buffer by a later value.
#[derive(Debug)]
pub struct GrowsDim {
    calls: AtomicUsize,
}

impl Distribution for GrowsDim {
    const NAME: &'static str = "grows_dim";
    type Params = ();
    fn new(_: ()) -> Result<Self, String> {
        Ok(GrowsDim { calls: AtomicUsize::new(0) })
    }
    fn dim(&self) -> usize {
        3 + self.calls.fetch_add(1, Ordering::SeqCst)
    }
    fn sample(&self, rng: &mut HostRng<'_>, x: &mut [f64], y: &mut [f64]) {
        x.iter_mut().chain(y.iter_mut()).for_each(|v| *v = (rng.next_u32() as f64) / 4e9);
    }
}

/// Draws from a generator of its own (a global state), not from the host's: nondeterministic.
#[derive(Debug)]
pub struct GlobalRng;

static STATE: AtomicU64 = AtomicU64::new(0x9e37_79b9_7f4a_7c15);

impl Distribution for GlobalRng {
    const NAME: &'static str = "global_rng";
    type Params = ();
    fn new(_: ()) -> Result<Self, String> {
        Ok(GlobalRng)
    }
    fn dim(&self) -> usize {
        2
    }
    fn sample(&self, _: &mut HostRng<'_>, x: &mut [f64], y: &mut [f64]) {
        for v in x.iter_mut().chain(y.iter_mut()) {
            let s = STATE.fetch_add(0x9e37_79b9_7f4a_7c15, Ordering::Relaxed);
            *v = (s >> 11) as f64 / (1u64 << 53) as f64;
        }
    }
}

export_plugin!(
    activations: [Exits, Segfaults, Aborts, OverflowsStack, Hangs],
    distributions: [GrowsDim, GlobalRng],
);
