//! The worker process's own CPU time and memory, added to the answer to
//! `worker.getMetrics`: the sans-IO worker reads nothing of the system.

use serde_json::{json, Value};

/// Adds `cpuUserSeconds`, `cpuSystemSeconds` (getrusage) and
/// `residentMemoryBytes` (VmRSS from /proc, null where there is none).
pub fn add_process_usage(metrics: &mut Value) {
    use nix::sys::resource::{getrusage, UsageWho};
    if let Ok(usage) = getrusage(UsageWho::RUSAGE_SELF) {
        let seconds = |time: nix::sys::time::TimeVal| time.tv_sec() as f64 + time.tv_usec() as f64 / 1e6;
        metrics["cpuUserSeconds"] = json!(seconds(usage.user_time()));
        metrics["cpuSystemSeconds"] = json!(seconds(usage.system_time()));
    }
    metrics["residentMemoryBytes"] = json!(resident_memory_bytes());
}

/// The `VmRSS:` line of /proc/self/status, in bytes.
fn resident_memory_bytes() -> Option<u64> {
    let status = std::fs::read_to_string("/proc/self/status").ok()?;
    let line = status.lines().find(|line| line.starts_with("VmRSS:"))?;
    let kib: u64 = line.split_whitespace().nth(1)?.parse().ok()?;
    Some(kib * 1024)
}
