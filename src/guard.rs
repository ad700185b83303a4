//! Process guards: nothing a plugin (or a library it uses) does to the process may look like success or
//! end it without saying what happened and how to continue.
//!
//! - An `atexit` handler, armed while a command runs: if anything calls `exit` before the command has
//!   finished (a plugin calling `exit(0)` mid-run), it prints that the command did not finish and the
//!   resume command, and ends the process with [`EXIT_ENDED_EARLY`] instead of the status `exit` was given.
//! - Handlers of the fatal signals (SIGSEGV, SIGBUS, SIGILL, SIGFPE, SIGABRT), running on an alternate
//!   signal stack so that a stack overflow is reported too: they print the signal, the plugin call that
//!   was running and the resume command, then die by the signal's default action.
//!
//! Both run where almost nothing is allowed (a signal handler; `exit` in another thread), so they only
//! `write(2)` bytes formatted beforehand ([`set_resume`]), read atomics and thread-locals, and call
//! `access`, `raise` and `_exit`, all async-signal-safe.
//!
//! Each unsafe item is allowed on its own, with its reason.

use meanfield_scenario::plugins::calls;
use std::ffi::CString;
use std::path::Path;
use std::sync::atomic::{AtomicBool, AtomicPtr, Ordering};

/// Lets a closed pipe on stdout end the process as it ends `cat` (`meanfield check s.ron | head -1`), instead
/// of a panic in `println!`: Rust starts programs with SIGPIPE ignored. Every result is written to files
/// before anything is printed, so a reader that stops early loses only the printed summary.
pub(crate) fn die_quietly_on_a_closed_pipe() {
    // SAFETY: setting a signal's disposition to its default has no preconditions; it runs before any
    // thread is started.
    #[allow(unsafe_code)]
    unsafe {
        libc::signal(libc::SIGPIPE, libc::SIG_DFL);
    }
}

/// Exit code when the process was ended (by `exit`) before the command finished.
pub(crate) const EXIT_ENDED_EARLY: i32 = 4;

/// The signals whose default action kills the process with no word from meanfield.
const FATAL: [(libc::c_int, &str); 5] = [
    (libc::SIGSEGV, "SIGSEGV (invalid memory access, or a stack overflow)"),
    (libc::SIGBUS, "SIGBUS (bad memory access)"),
    (libc::SIGILL, "SIGILL (illegal instruction)"),
    (libc::SIGFPE, "SIGFPE (arithmetic fault)"),
    (libc::SIGABRT, "SIGABRT (abort)"),
];

/// Bytes formatted before anything can go wrong, for the handlers.
#[derive(Debug)]
struct Prepared {
    /// "meanfield run", "meanfield check", … as the user typed it.
    command: Box<[u8]>,
    /// The run's checkpoint directory (C string for `access`) and the line to print when it exists.
    resume: Option<(CString, Box<[u8]>)>,
}

static PREPARED: AtomicPtr<Prepared> = AtomicPtr::new(std::ptr::null_mut());
static EXIT_ARMED: AtomicBool = AtomicBool::new(false);

fn prepare(prepared: Prepared) {
    // Leaked: a handler may read the previous one at any moment, so none is ever freed.
    PREPARED.store(Box::into_raw(Box::new(prepared)), Ordering::SeqCst);
}

fn prepared() -> Option<&'static Prepared> {
    // SAFETY: only ever set to a leaked `Box`, never freed.
    #[allow(unsafe_code)]
    let prepared = unsafe { PREPARED.load(Ordering::SeqCst).as_ref() };
    prepared
}

/// Writes `bytes` to stderr with `write(2)` (async-signal-safe), retrying short writes.
fn write_stderr(mut bytes: &[u8]) {
    while !bytes.is_empty() {
        // SAFETY: `bytes` is a valid buffer of its length; write(2) is async-signal-safe.
        #[allow(unsafe_code)]
        let written = unsafe { libc::write(libc::STDERR_FILENO, bytes.as_ptr().cast(), bytes.len()) };
        if written <= 0 {
            return;
        }
        bytes = &bytes[written as usize..];
    }
}

/// "while running `sample` of …" or "outside any plugin call", then the resume line. Async-signal-safe.
fn write_context() {
    match calls::current().or_else(calls::latest) {
        Some(call) => {
            write_stderr(b" while running ");
            write_stderr(call.as_bytes());
        }
        None => write_stderr(b" outside any plugin call"),
    }
    write_stderr(b"\n");
    let Some((checkpoint, line)) = prepared().and_then(|p| p.resume.as_ref()) else { return };
    // SAFETY: a valid C string; access(2) is async-signal-safe.
    #[allow(unsafe_code)]
    let exists = unsafe { libc::access(checkpoint.as_ptr(), libc::F_OK) } == 0;
    if exists {
        write_stderr(line);
    } else {
        write_stderr(b"meanfield: this run kept no checkpoint: nothing of it can be resumed\n");
    }
}

/// `` `meanfield run s.ron` ``. Async-signal-safe.
fn write_command() {
    write_stderr(b"`");
    write_stderr(prepared().map_or(&b"meanfield"[..], |p| &p.command));
    write_stderr(b"`");
}

/// Set by the first thread that reports a fatal signal: several threads can fault at once (every replica
/// running the same broken plugin), and only one may write while the others wait for it to end the process.
static REPORTING: AtomicBool = AtomicBool::new(false);

extern "C" fn on_fatal_signal(signal: libc::c_int) {
    if REPORTING.swap(true, Ordering::SeqCst) {
        loop {
            // SAFETY: pause(2) is async-signal-safe; this thread sleeps until the reporting one has
            // ended the process.
            #[allow(unsafe_code)]
            unsafe {
                libc::pause();
            }
        }
    }
    let name = FATAL.iter().find(|(s, _)| *s == signal).map_or("a fatal signal", |(_, name)| name);
    write_stderr(b"\nmeanfield: error: ");
    write_command();
    write_stderr(b" died of ");
    write_stderr(name.as_bytes());
    write_context();
    // Back to the default action, and raised again: the signal is delivered when this handler returns
    // (it is blocked while the handler runs) and ends the process as it would have (a core dump, the
    // shell's "Segmentation fault"). A fault that is not raised (a bad access) happens again on return.
    // SAFETY: signal(2) and raise(3) are async-signal-safe.
    #[allow(unsafe_code)]
    unsafe {
        libc::signal(signal, libc::SIG_DFL);
        libc::raise(signal);
    }
}

extern "C" fn on_exit() {
    if !EXIT_ARMED.load(Ordering::SeqCst) {
        return;
    }
    write_stderr(b"\nmeanfield: error: ");
    write_command();
    write_stderr(b" did not finish: exit() was called");
    write_context();
    // SAFETY: _exit(2) ends the process at once, without running the remaining atexit handlers (which
    // could not change the verdict) — the one way to replace the status `exit` was called with.
    #[allow(unsafe_code)]
    unsafe {
        libc::_exit(EXIT_ENDED_EARLY)
    }
}

/// Installs the signal handlers (with an alternate stack for this thread) and the `atexit` handler.
/// Called once, at the start of `main`; `command` names what runs, for the messages.
pub(crate) fn install(command: &str) {
    prepare(Prepared { command: command.as_bytes().into(), resume: None });
    install_alternate_stack();
    for (signal, _) in FATAL {
        // SAFETY: a zeroed sigaction is a valid value to fill in; the handler only does
        // async-signal-safe work (see the module documentation).
        #[allow(unsafe_code)]
        unsafe {
            let mut action: libc::sigaction = std::mem::zeroed();
            action.sa_sigaction = on_fatal_signal as extern "C" fn(libc::c_int) as libc::sighandler_t;
            action.sa_flags = libc::SA_ONSTACK;
            libc::sigemptyset(&mut action.sa_mask);
            libc::sigaction(signal, &action, std::ptr::null_mut());
        }
    }
    // SAFETY: registers a function with C linkage and no arguments, as atexit(3) requires.
    #[allow(unsafe_code)]
    unsafe {
        libc::atexit(on_exit);
    }
}

/// The handlers run on an alternate stack, or a stack overflow could not be reported (the handler
/// would need the stack that just ran out). Rust's runtime gives the main thread and every thread it
/// spawns one (the worker threads of a run included); this gives the calling thread one if it has none.
fn install_alternate_stack() {
    const SIZE: usize = 64 * 1024;
    // SAFETY: sigaltstack(2) reads and writes only the `stack_t`s given; the stack memory is leaked, so
    // it stays valid for the life of the thread.
    #[allow(unsafe_code)]
    unsafe {
        let mut current: libc::stack_t = std::mem::zeroed();
        if libc::sigaltstack(std::ptr::null(), &mut current) != 0 || current.ss_flags & libc::SS_DISABLE == 0 {
            return;
        }
        let memory: &'static mut [u8] = Box::leak(vec![0u8; SIZE].into_boxed_slice());
        let stack = libc::stack_t { ss_sp: memory.as_mut_ptr().cast(), ss_flags: 0, ss_size: SIZE };
        libc::sigaltstack(&stack, std::ptr::null_mut());
    }
}

/// While this lives, an `exit` from anywhere is turned into [`EXIT_ENDED_EARLY`] with a message.
#[derive(Debug)]
pub(crate) struct Armed(());

pub(crate) fn arm() -> Armed {
    EXIT_ARMED.store(true, Ordering::SeqCst);
    Armed(())
}

impl Drop for Armed {
    fn drop(&mut self) {
        EXIT_ARMED.store(false, Ordering::SeqCst);
    }
}

/// From now on, the messages end with `resume` when `checkpoint` exists.
pub(crate) fn set_resume(checkpoint: &Path, resume: &str) {
    let command = prepared().map_or_else(|| b"meanfield run".to_vec().into(), |p| p.command.clone());
    let line = format!("meanfield: the checkpoint holds what was saved: continue with `{resume}`\n");
    let resume = CString::new(checkpoint.as_os_str().as_encoded_bytes()).ok().map(|c| (c, line.into_bytes().into()));
    prepare(Prepared { command, resume });
}

/// Ends the process at once with `code` after `message`, the plugin call in progress and the resume line
/// (for the second Ctrl-C, from the Ctrl-C thread: the run may be stuck in a call that never returns).
pub(crate) fn quit_now(message: &str, code: i32) -> ! {
    write_stderr(b"\n");
    write_stderr(message.as_bytes());
    write_context();
    // SAFETY: _exit(2) ends the process without running atexit handlers or destructors, which could wait
    // on the stuck thread; files are already written atomically, so the checkpoint stays intact.
    #[allow(unsafe_code)]
    unsafe {
        libc::_exit(code)
    }
}
