//! CPU and memory accounting of the processes under load, read from `/proc`: `utime + stime` of
//! `/proc/<pid>/stat` before and after measuring, and `VmRSS` of `/proc/<pid>/status` at the end.

use std::{collections::BTreeMap, path::Path};

/// The processes watched under one name (several hub instances add up).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Watched {
    pub name: String,
    pub pids: Vec<u32>,
}

/// The name `/proc/<pid>/comm` holds: the first 15 bytes of the executable's name.
const COMM_LEN: usize = 15;

/// Every running process whose `comm` is `name` (compared on its first 15 bytes, as the kernel keeps it).
pub fn find_by_name(proc_root: &Path, name: &str) -> Vec<u32> {
    let wanted = &name.as_bytes()[..name.len().min(COMM_LEN)];
    let Ok(entries) = std::fs::read_dir(proc_root) else {
        return Vec::new();
    };
    let mut pids: Vec<u32> = entries
        .filter_map(Result::ok)
        .filter_map(|e| e.file_name().to_str()?.parse::<u32>().ok())
        .filter(|pid| {
            std::fs::read(proc_root.join(pid.to_string()).join("comm"))
                .is_ok_and(|comm| comm.strip_suffix(b"\n").unwrap_or(&comm) == wanted)
        })
        .collect();
    pids.sort_unstable();
    pids
}

/// The processes to watch: `--pid` entries by name, `--process` names found in `/proc`, loadgen itself
/// and, when running here, redis-server.
pub fn resolve(pids: &[(String, u32)], names: &[String]) -> Vec<Watched> {
    let proc_root = Path::new("/proc");
    let mut by_name: BTreeMap<String, Vec<u32>> = BTreeMap::new();
    for (name, pid) in pids {
        by_name.entry(name.clone()).or_default().push(*pid);
    }
    for name in names.iter().map(String::as_str).chain(["redis-server"]) {
        if !by_name.contains_key(name) {
            let found = find_by_name(proc_root, name);
            if !found.is_empty() {
                by_name.insert(name.to_string(), found);
            } else if names.iter().any(|n| n == name) {
                eprintln!("loadgen: no running process is named {name:?}; its CPU is not accounted");
            }
        }
    }
    by_name.insert("loadgen".into(), vec![std::process::id()]);
    by_name.into_iter().map(|(name, pids)| Watched { name, pids }).collect()
}

/// `utime + stime` of a process, in clock ticks, from the text of `/proc/<pid>/stat`.
pub fn parse_cpu_ticks(stat: &str) -> Option<u64> {
    // The command name (field 2) may hold spaces and parentheses: fields are counted after the last ')'.
    let rest = &stat[stat.rfind(')')? + 1..];
    let mut fields = rest.split_whitespace();
    // After ')' come field 3 (state) onwards; utime and stime are fields 14 and 15.
    let utime: u64 = fields.nth(11)?.parse().ok()?;
    let stime: u64 = fields.next()?.parse().ok()?;
    Some(utime + stime)
}

/// `VmRSS` in bytes, from the text of `/proc/<pid>/status`.
pub fn parse_rss_bytes(status: &str) -> Option<u64> {
    let line = status.lines().find(|l| l.starts_with("VmRSS:"))?;
    let kib: u64 = line.split_whitespace().nth(1)?.parse().ok()?;
    Some(kib * 1024)
}

/// CPU ticks a process has used so far; `None` once it is gone.
pub fn cpu_ticks(pid: u32) -> Option<u64> {
    parse_cpu_ticks(&std::fs::read_to_string(format!("/proc/{pid}/stat")).ok()?)
}

/// Resident memory of a process now.
pub fn rss_bytes(pid: u32) -> Option<u64> {
    parse_rss_bytes(&std::fs::read_to_string(format!("/proc/{pid}/status")).ok()?)
}

/// Clock ticks per second of `/proc` times (`getconf CLK_TCK`; 100, the Linux value, if that fails).
pub fn ticks_per_second() -> u64 {
    std::process::Command::new("getconf")
        .arg("CLK_TCK")
        .output()
        .ok()
        .and_then(|o| String::from_utf8(o.stdout).ok()?.trim().parse().ok())
        .filter(|t| *t > 0)
        .unwrap_or(100)
}

/// Ticks of each watched name's processes added up, in the order of `watched`.
pub fn snapshot(watched: &[Watched]) -> Vec<u64> {
    watched
        .iter()
        .map(|w| w.pids.iter().filter_map(|p| cpu_ticks(*p)).sum())
        .collect()
}

#[cfg(test)]
#[allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]
mod tests {
    use super::*;

    #[test]
    fn parses_stat_and_status() {
        let stat = "4242 (idp stub (x)) S 1 4242 4242 0 -1 4194560 812 0 0 0 1234 567 0 0 20 0 9 0 1000 1 2";
        assert_eq!(parse_cpu_ticks(stat), Some(1234 + 567));
        assert_eq!(parse_cpu_ticks("garbage"), None);
        let status = "Name:\thub\nVmPeak:\t  9000 kB\nVmRSS:\t   25600 kB\nThreads:\t3\n";
        assert_eq!(parse_rss_bytes(status), Some(25600 * 1024));
    }

    #[test]
    fn finds_this_process_and_accounts_its_cpu() {
        let me = std::process::id();
        let comm = std::fs::read_to_string("/proc/self/comm").unwrap();
        let found = find_by_name(Path::new("/proc"), comm.trim_end());
        assert!(found.contains(&me), "{found:?}");
        assert!(cpu_ticks(me).is_some());
        assert!(rss_bytes(me).unwrap() > 0);
        let watched = resolve(&[("hub".into(), me), ("hub".into(), me)], &[]);
        let hub = watched.iter().find(|w| w.name == "hub").unwrap();
        assert_eq!(hub.pids, vec![me, me]);
        assert!(watched.iter().any(|w| w.name == "loadgen"));
    }
}
