//! How many CPUs this process may use.

/// The number of CPUs this process can use: the CPUs in its affinity mask, further limited
/// by a cgroup CPU quota (`cpu.max`, or `cpu.cfs_quota_us` under cgroup v1), at least 1.
///
/// This is what sizes a pool by default. CPython's `cpu_count()` counts every CPU of the
/// machine even when the process may use fewer; its `process_cpu_count()` (3.13) honours
/// the affinity mask but not the quota. [`os_cpu_count`] gives the machine's count.
///
/// ```
/// let n = multiproc_process::cpu_count();
/// assert!(n >= 1 && n <= multiproc_process::os_cpu_count());
/// ```
pub fn cpu_count() -> usize {
    // std reads the affinity mask and the cgroup v1/v2 quota on every call.
    std::thread::available_parallelism().map_or(1, |n| n.get())
}

/// The number of CPUs the machine has online, whatever this process may use.
///
/// ```
/// use multiproc_process::{cpu_count, os_cpu_count};
/// // The machine has at least as many CPUs as this process may use.
/// assert!(os_cpu_count() >= cpu_count());
/// ```
pub fn os_cpu_count() -> usize {
    std::fs::read_to_string("/sys/devices/system/cpu/online")
        .ok()
        .and_then(|s| parse_cpu_list(s.trim()))
        .unwrap_or_else(cpu_count)
}

/// Counts the CPUs in a list such as `0-3,8,10-11`.
fn parse_cpu_list(s: &str) -> Option<usize> {
    let mut n = 0;
    for part in s.split(',') {
        match part.split_once('-') {
            Some((a, b)) => {
                n += b
                    .parse::<usize>()
                    .ok()?
                    .checked_sub(a.parse::<usize>().ok()?)?
                    + 1
            }
            None => {
                part.parse::<usize>().ok()?;
                n += 1;
            }
        }
    }
    Some(n)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn cpu_lists() {
        assert_eq!(parse_cpu_list("0"), Some(1));
        assert_eq!(parse_cpu_list("0-3,8,10-11"), Some(7));
        assert_eq!(parse_cpu_list("x"), None);
        assert_eq!(parse_cpu_list("3-1"), None);
    }
}
