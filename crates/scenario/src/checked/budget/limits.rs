//! How much memory this process may use: the budget variable, or the smallest of the available memory,
//! the cgroup's memory limit and the address-space limit.

use crate::check::Invalid;

/// The environment variable that replaces the budget (bytes, or with a binary unit: `512MiB`, `4GiB`).
pub const BUDGET_VARIABLE: &str = "MEANFIELD_MEMORY_BUDGET";

/// Virtual memory glibc's malloc reserves per thread's arena: it counts against `ulimit -v`.
const ARENA: u64 = 64 << 20;

/// How much memory this process may use, and which limit says so.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Budget {
    pub bytes: u64,
    pub source: &'static str,
}

/// How much memory this process may use: [`BUDGET_VARIABLE`] when it is set, otherwise the smallest of
/// the available memory, the cgroup's memory limit (less what its processes hold) and the address-space
/// limit (`ulimit -v`, less what this process has mapped and its threads' allocator arenas).
pub fn budget() -> Result<Budget, Invalid> {
    if let Some(text) = std::env::var_os(BUDGET_VARIABLE) {
        let text = text.to_string_lossy();
        let bytes = parse_bytes(&text).ok_or_else(|| Invalid {
            path: BUDGET_VARIABLE.into(),
            message: format!("'{text}' is not an amount of memory; give bytes or e.g. 512MiB, 4GiB"),
        })?;
        return Ok(Budget { bytes, source: BUDGET_VARIABLE });
    }
    let mut system = sysinfo::System::new();
    system.refresh_memory();
    let mut budget = Budget { bytes: system.available_memory(), source: "available memory" };
    let mut lower = |bytes: u64, source| {
        if bytes < budget.bytes {
            budget = Budget { bytes, source };
        }
    };
    if let Some(cgroup) = system.cgroup_limits()
        && cgroup.total_memory < system.total_memory()
    {
        lower(cgroup.total_memory.saturating_sub(cgroup.rss), "the cgroup's memory limit");
    }
    if let Some(limit) = address_space_limit() {
        let pid = sysinfo::get_current_pid().ok();
        let mapped = pid
            .and_then(|pid| {
                let refresh = sysinfo::ProcessRefreshKind::nothing().with_memory();
                system.refresh_processes_specifics(sysinfo::ProcessesToUpdate::Some(&[pid]), false, refresh);
                system.process(pid).map(sysinfo::Process::virtual_memory)
            })
            .unwrap_or(0);
        let threads = std::thread::available_parallelism().map_or(1, |n| n.get()) as u64;
        let arenas = ARENA.saturating_mul(threads + 1);
        lower(limit.saturating_sub(mapped).saturating_sub(arenas), "the address-space limit, ulimit -v");
    }
    Ok(budget)
}

/// The soft address-space limit (`ulimit -v`) in bytes; `None` when unlimited.
#[cfg(unix)]
fn address_space_limit() -> Option<u64> {
    let mut limit = libc::rlimit { rlim_cur: 0, rlim_max: 0 };
    // SAFETY: getrlimit writes one `rlimit` through a pointer to a live, properly aligned local.
    #[allow(unsafe_code)]
    let status = unsafe { libc::getrlimit(libc::RLIMIT_AS, &mut limit) };
    (status == 0 && limit.rlim_cur != libc::RLIM_INFINITY).then_some(limit.rlim_cur)
}

#[cfg(not(unix))]
fn address_space_limit() -> Option<u64> {
    None
}

/// Bytes written as a number with an optional binary unit (`4096`, `512MiB`, `1.5 GiB`, `4G`).
fn parse_bytes(text: &str) -> Option<u64> {
    let text = text.trim();
    let split = text.find(|c: char| !(c.is_ascii_digit() || c == '.')).unwrap_or(text.len());
    let (number, unit) = text.split_at(split);
    let number: f64 = number.parse().ok()?;
    let power = match unit.trim().trim_end_matches("iB").trim_end_matches('B') {
        "" => 0,
        "K" | "k" => 1,
        "M" => 2,
        "G" => 3,
        "T" => 4,
        "P" => 5,
        _ => return None,
    };
    let bytes = number * 1024f64.powi(power);
    (bytes.is_finite() && bytes >= 0.0 && bytes < u64::MAX as f64).then_some(bytes as u64)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn budgets_parse_with_binary_units() {
        let cases =
            [("4096", Some(4096)), ("512MiB", Some(512 << 20)), ("1.5 GiB", Some(3 << 29)), ("4G", Some(4 << 30))];
        for (text, bytes) in cases {
            assert_eq!(parse_bytes(text), bytes, "{text}");
        }
        for bad in ["", "lots", "4XB", "-1", "1e400"] {
            assert_eq!(parse_bytes(bad), None, "{bad}");
        }
    }
}
