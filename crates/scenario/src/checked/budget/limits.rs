//! How much memory this process may use: the budget variable, or the smallest of the available memory,
//! the cgroup's memory limit and the address-space limit.

use crate::check::Invalid;
use std::path::Path;

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
    // sysinfo reads only the cgroup at the root of /sys/fs/cgroup (a container's own); a batch job's
    // cgroup (a scheduler's --mem) is a sub-directory named in /proc/self/cgroup, limited by its ancestors.
    let membership = std::fs::read_to_string("/proc/self/cgroup").unwrap_or_default();
    if let Some(cgroup) = cgroup_memory(Path::new("/sys/fs/cgroup"), &membership) {
        lower(cgroup.limit.saturating_sub(cgroup.held), "the cgroup's memory limit");
    } else if let Some(cgroup) = system.cgroup_limits()
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

/// The memory limit of a cgroup and the anonymous memory its processes hold (page cache, which the
/// kernel reclaims under the limit, does not count).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
struct CgroupMemory {
    limit: u64,
    held: u64,
}

/// Limits of cgroup v1 at or above this are "unlimited" (the kernel writes 2^63 rounded down to a page).
const V1_UNLIMITED: u64 = 1 << 62;

/// The memory of this process's cgroup from `membership` (the text of /proc/self/cgroup) under `root`
/// (/sys/fs/cgroup): the smallest limit of its cgroup and of every ancestor (v2 `memory.max`, where `max`
/// is none; v1 `memory.limit_in_bytes` under `memory/`), and what the deepest one with statistics holds.
/// A cgroup namespace shows the process's cgroup as `/`, which is the root itself. `None` without a limit.
fn cgroup_memory(root: &Path, membership: &str) -> Option<CgroupMemory> {
    let read = |path: &Path| std::fs::read_to_string(path).ok();
    let stat = |dir: &Path, key: &str| {
        let text = read(&dir.join("memory.stat"))?;
        text.lines().find_map(|l| l.strip_prefix(key)?.strip_prefix(' ')?.trim().parse::<u64>().ok())
    };
    let mut found: Option<CgroupMemory> = None;
    for line in membership.lines() {
        let mut parts = line.splitn(3, ':');
        let (Some(id), Some(controllers), Some(path)) = (parts.next(), parts.next(), parts.next()) else { continue };
        let (base, limit_file, held_key) = if id == "0" && controllers.is_empty() {
            (root.to_owned(), "memory.max", "anon")
        } else if controllers.split(',').any(|c| c == "memory") {
            (root.join("memory"), "memory.limit_in_bytes", "total_rss")
        } else {
            continue;
        };
        let leaf = base.join(path.trim_start_matches('/'));
        let dirs = || leaf.ancestors().take_while(|d| d.starts_with(&base));
        let limit = dirs()
            .filter_map(|d| read(&d.join(limit_file))?.trim().parse::<u64>().ok())
            .filter(|&l| l < V1_UNLIMITED)
            .min();
        let Some(limit) = limit else { continue };
        let held = dirs().find_map(|d| stat(d, held_key)).unwrap_or(0);
        if found.is_none_or(|f| limit.saturating_sub(held) < f.limit.saturating_sub(f.held)) {
            found = Some(CgroupMemory { limit, held });
        }
    }
    found
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
    fn a_jobs_cgroup_is_limited_by_itself_and_its_ancestors() {
        let root = tempfile::tempdir().unwrap();
        let write = |path: &str, text: &str| {
            let path = root.path().join(path);
            std::fs::create_dir_all(path.parent().unwrap()).unwrap();
            std::fs::write(path, text).unwrap();
        };
        // v2: the job's own limit is 4 GiB, its parent's 1 GiB (the smaller wins), 100 MiB anonymous held.
        write("memory.max", "max\n");
        write("slurm/memory.max", "1073741824\n");
        write("slurm/job_7/memory.max", "4294967296\n");
        write("slurm/job_7/memory.stat", "file 999999999\nanon 104857600\n");
        // v1: 2 GiB on the job's cgroup, the root unlimited.
        write("memory/memory.limit_in_bytes", "9223372036854771712\n");
        write("memory/batch/memory.limit_in_bytes", "2147483648\n");
        write("memory/batch/memory.stat", "cache 5\ntotal_rss 1048576\n");
        let cases = [
            ("0::/slurm/job_7\n", Some(CgroupMemory { limit: 1 << 30, held: 100 << 20 })),
            ("0::/\n", None),
            ("4:memory:/batch\n3:cpu:/batch\n", Some(CgroupMemory { limit: 2 << 30, held: 1 << 20 })),
            ("4:cpu,memory:/elsewhere\n", None),
            ("", None),
        ];
        for (membership, expected) in cases {
            assert_eq!(cgroup_memory(root.path(), membership), expected, "{membership:?}");
        }
    }

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
