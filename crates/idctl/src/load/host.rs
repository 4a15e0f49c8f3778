//! What the machine did during a run, read from `/proc` (Linux; elsewhere nothing):
//! the resident memory and CPU time of the processes serving the stack's ports (found
//! by their listening sockets, so `idctl up` and separately run services both work),
//! of PostgreSQL's processes, and of the generator itself.

use std::collections::{BTreeMap, BTreeSet};
use std::net::SocketAddr;

use crate::endpoints::Endpoints;

/// Clock ticks per second of `/proc/PID/stat` times (USER_HZ, 100 on Linux).
const TICKS_PER_SECOND: f64 = 100.0;

/// One process serving some of the stack's services.
#[derive(Debug, Clone, PartialEq)]
pub struct Process {
    pub pid: u32,
    pub services: Vec<&'static str>,
    pub rss_kib: u64,
    pub hwm_kib: u64,
    pub cpu_ticks: u64,
}

#[derive(Debug, Clone, Default)]
pub struct Snapshot {
    pub stack: Vec<Process>,
    /// Summed over every process named `postgres`.
    pub postgres_cpu_ticks: Option<u64>,
    pub own_cpu_ticks: Option<u64>,
}

impl Snapshot {
    pub fn take(endpoints: &Endpoints) -> Snapshot {
        let urls = [
            ("acceptance", &endpoints.acceptance_url),
            ("review", &endpoints.review_url),
            ("production", &endpoints.production_url),
            ("status", &endpoints.status_url),
        ];
        let mut by_pid: BTreeMap<u32, Vec<&'static str>> = BTreeMap::new();
        let listening = listening_inodes();
        if !listening.is_empty() {
            let wanted: BTreeMap<u64, &'static str> = urls
                .iter()
                .filter_map(|(name, url)| {
                    let port = local_port(url)?;
                    listening.get(&port).map(|inode| (*inode, *name))
                })
                .collect();
            for (pid, inode) in socket_owners(&wanted.keys().copied().collect()) {
                if let Some(name) = wanted.get(&inode) {
                    by_pid.entry(pid).or_default().push(name);
                }
            }
        }
        let stack = by_pid
            .into_iter()
            .filter_map(|(pid, mut services)| {
                services.sort_by_key(|s| urls.iter().position(|(name, _)| name == s));
                services.dedup();
                let (rss_kib, hwm_kib) = memory(&format!("/proc/{pid}/status"))?;
                Some(Process {
                    pid,
                    services,
                    rss_kib,
                    hwm_kib,
                    cpu_ticks: cpu_ticks(&format!("/proc/{pid}/stat")).unwrap_or(0),
                })
            })
            .collect();
        Snapshot {
            stack,
            postgres_cpu_ticks: postgres_cpu_ticks(),
            own_cpu_ticks: cpu_ticks("/proc/self/stat"),
        }
    }
}

/// Seconds of CPU between two tick counts.
pub fn cpu_seconds(before: u64, after: u64) -> f64 {
    after.saturating_sub(before) as f64 / TICKS_PER_SECOND
}

/// The port of a URL on this machine (loopback or unspecified host), if it is one.
fn local_port(url: &str) -> Option<u16> {
    let rest = url.split_once("://").map_or(url, |(_, rest)| rest);
    let authority = rest.split('/').next()?;
    if let Ok(addr) = authority.parse::<SocketAddr>() {
        return (addr.ip().is_loopback() || addr.ip().is_unspecified()).then_some(addr.port());
    }
    let (host, port) = authority.rsplit_once(':')?;
    (host == "localhost").then(|| port.parse().ok()).flatten()
}

/// Listening TCP sockets: port -> socket inode.
fn listening_inodes() -> BTreeMap<u16, u64> {
    let mut out = BTreeMap::new();
    for file in ["/proc/net/tcp", "/proc/net/tcp6"] {
        if let Ok(text) = std::fs::read_to_string(file) {
            for (port, inode) in parse_listening(&text) {
                out.entry(port).or_insert(inode);
            }
        }
    }
    out
}

/// `(port, inode)` of each socket in state LISTEN (0A) of a `/proc/net/tcp` table.
fn parse_listening(text: &str) -> Vec<(u16, u64)> {
    text.lines()
        .skip(1)
        .filter_map(|line| {
            let fields: Vec<&str> = line.split_whitespace().collect();
            let local = fields.get(1)?;
            let state = fields.get(3)?;
            let inode = fields.get(9)?.parse::<u64>().ok()?;
            let port = u16::from_str_radix(local.rsplit_once(':')?.1, 16).ok()?;
            (*state == "0A").then_some((port, inode))
        })
        .collect()
}

/// The processes holding any of `inodes`: (pid, inode).
fn socket_owners(inodes: &BTreeSet<u64>) -> Vec<(u32, u64)> {
    let mut out = Vec::new();
    if inodes.is_empty() {
        return out;
    }
    let Ok(procs) = std::fs::read_dir("/proc") else {
        return out;
    };
    for entry in procs.flatten() {
        let Some(pid) = entry.file_name().to_str().and_then(|s| s.parse::<u32>().ok()) else {
            continue;
        };
        let Ok(fds) = std::fs::read_dir(entry.path().join("fd")) else {
            continue;
        };
        for fd in fds.flatten() {
            let Ok(target) = std::fs::read_link(fd.path()) else {
                continue;
            };
            let inode = target
                .to_str()
                .and_then(|t| t.strip_prefix("socket:["))
                .and_then(|t| t.strip_suffix(']'))
                .and_then(|t| t.parse::<u64>().ok());
            if let Some(inode) = inode.filter(|i| inodes.contains(i)) {
                out.push((pid, inode));
            }
        }
    }
    out
}

/// `VmRSS` and `VmHWM` in KiB from a `/proc/PID/status` file.
fn memory(path: &str) -> Option<(u64, u64)> {
    let text = std::fs::read_to_string(path).ok()?;
    parse_memory(&text)
}

fn parse_memory(text: &str) -> Option<(u64, u64)> {
    let field = |name: &str| {
        text.lines()
            .find_map(|line| line.strip_prefix(name))
            .and_then(|rest| rest.split_whitespace().next())
            .and_then(|n| n.parse::<u64>().ok())
    };
    Some((field("VmRSS:")?, field("VmHWM:").unwrap_or(0)))
}

/// User plus system time of a process, in clock ticks.
fn cpu_ticks(path: &str) -> Option<u64> {
    parse_cpu_ticks(&std::fs::read_to_string(path).ok()?)
}

/// Fields 14 and 15 (utime, stime) of `/proc/PID/stat`, counted after the command name
/// in parentheses (which may hold spaces).
fn parse_cpu_ticks(stat: &str) -> Option<u64> {
    let after_name = &stat[stat.rfind(')')? + 1..];
    let fields: Vec<&str> = after_name.split_whitespace().collect();
    // After the name: state is field 3, so utime (14) is index 11 here.
    let utime = fields.get(11)?.parse::<u64>().ok()?;
    let stime = fields.get(12)?.parse::<u64>().ok()?;
    Some(utime + stime)
}

/// CPU ticks of every process named `postgres` (the server and its backends).
fn postgres_cpu_ticks() -> Option<u64> {
    let procs = std::fs::read_dir("/proc").ok()?;
    let mut total = None;
    for entry in procs.flatten() {
        if entry.file_name().to_str().and_then(|s| s.parse::<u32>().ok()).is_none() {
            continue;
        }
        let is_postgres = std::fs::read_to_string(entry.path().join("comm")).is_ok_and(|c| c.trim() == "postgres");
        let ticks = is_postgres
            .then(|| cpu_ticks(&entry.path().join("stat").to_string_lossy()))
            .flatten();
        if let Some(ticks) = ticks {
            *total.get_or_insert(0) += ticks;
        }
    }
    total
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn listening_sockets_are_read_from_proc_net_tcp() {
        let text = "  sl  local_address rem_address   st tx_queue rx_queue tr tm->when retrnsmt   uid  timeout inode\n\
   0: 0100007F:C383 00000000:0000 0A 00000000:00000000 00:00000000 00000000  1000        0 123456 1 0000000000000000 100 0 0 10 0\n\
   1: 0100007F:C384 0100007F:9C40 01 00000000:00000000 00:00000000 00000000  1000        0 123457 1 0000000000000000 100 0 0 10 0\n";
        assert_eq!(parse_listening(text), vec![(50051, 123456)]);
    }

    #[test]
    fn memory_and_cpu_are_read_from_proc_files() {
        let status = "Name:\tidctl\nVmHWM:\t   51200 kB\nVmRSS:\t   40960 kB\n";
        assert_eq!(parse_memory(status), Some((40960, 51200)));
        let stat = "4242 (tokio worker 1) S 1 4242 4242 0 -1 4194560 100 0 0 0 250 50 0 0 20 0 8 0 1 0 0";
        assert_eq!(parse_cpu_ticks(stat), Some(300));
    }

    #[test]
    fn only_local_urls_have_a_local_port() {
        assert_eq!(local_port("https://127.0.0.1:50051"), Some(50051));
        assert_eq!(local_port("http://localhost:9100/metrics"), Some(9100));
        assert_eq!(local_port("https://[::1]:50052"), Some(50052));
        assert_eq!(local_port("https://example.org:50051"), None);
    }
}
