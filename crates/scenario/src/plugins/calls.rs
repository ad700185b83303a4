//! Which plugin call is running, readable from a signal handler.
//!
//! Before every call into a plugin the host records a [`CallSite`]: static text such as
//! "`sample` of data distribution 'spirals' in /path/libspirals.so", formatted once when the library is
//! loaded. A fatal-signal handler or an `atexit` guard reads it with [`current`] (a thread-local `Cell`
//! with a const initialiser: no allocation, no lock, no lazy initialisation, so it is async-signal-safe)
//! and [`latest`] (for a thread other than the one in the call, such as Ctrl-C's).

use std::cell::Cell;
use std::sync::atomic::{AtomicPtr, AtomicUsize, Ordering};

/// One call of one component of one library, as the user reads it.
#[derive(Debug)]
pub struct CallSite {
    text: &'static str,
}

impl CallSite {
    /// Leaked once per component and call when the library is loaded (libraries are never unloaded).
    pub(crate) fn leak(text: String) -> &'static CallSite {
        Box::leak(Box::new(CallSite { text: Box::leak(text.into_boxed_str()) }))
    }

    pub fn text(&self) -> &'static str {
        self.text
    }
}

thread_local! {
    static CURRENT: Cell<Option<&'static CallSite>> = const { Cell::new(None) };
}

/// The call most recently entered on any thread, and how many are in progress.
static LATEST: AtomicPtr<CallSite> = AtomicPtr::new(std::ptr::null_mut());
static IN_PROGRESS: AtomicUsize = AtomicUsize::new(0);

/// Marks `site` as running on this thread until the returned scope is dropped.
pub(crate) fn enter(site: &'static CallSite) -> Scope {
    let previous = CURRENT.with(|c| c.replace(Some(site)));
    LATEST.store(std::ptr::from_ref(site).cast_mut(), Ordering::Relaxed);
    IN_PROGRESS.fetch_add(1, Ordering::Relaxed);
    Scope { previous }
}

#[derive(Debug)]
pub(crate) struct Scope {
    previous: Option<&'static CallSite>,
}

impl Drop for Scope {
    fn drop(&mut self) {
        CURRENT.with(|c| c.set(self.previous));
        IN_PROGRESS.fetch_sub(1, Ordering::Relaxed);
    }
}

/// The plugin call running on this thread. Async-signal-safe.
pub fn current() -> Option<&'static str> {
    CURRENT.with(Cell::get).map(CallSite::text)
}

/// Some plugin call in progress on any thread (the most recently entered one is named, as the best
/// guess while several run). Async-signal-safe.
pub fn latest() -> Option<&'static str> {
    if IN_PROGRESS.load(Ordering::Relaxed) == 0 {
        return None;
    }
    let site = LATEST.load(Ordering::Relaxed);
    // SAFETY: only ever set from a `&'static CallSite`.
    unsafe { site.as_ref() }.map(CallSite::text)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_call_is_current_only_inside_its_scope_and_nested_calls_restore_the_outer_one() {
        let (outer, inner) = (CallSite::leak("outer".into()), CallSite::leak("inner".into()));
        assert_eq!(current(), None);
        {
            let _outer = enter(outer);
            assert_eq!(current(), Some("outer"));
            {
                let _inner = enter(inner);
                assert_eq!((current(), latest()), (Some("inner"), Some("inner")));
            }
            assert_eq!(current(), Some("outer"));
            // Another thread sees no call of its own, but the latest one in progress.
            std::thread::scope(|s| {
                s.spawn(|| assert_eq!((current(), latest().is_some()), (None, true)));
            });
        }
        assert_eq!(current(), None);
    }
}
