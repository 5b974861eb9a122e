//! dnsdist (Debian's `dnsdist`) as the load balancer in front of familydns instances: PROXY
//! v2 to each backend, a health check every second, round robin.

use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::process::Command;

use super::daemon::{Daemon, dns_is_up, find_program, free_port};

/// The dnsdist program, or `None` (the caller's test is skipped, saying so).
pub fn find_dnsdist() -> Option<PathBuf> {
    let found = find_program(&["dnsdist"]);
    if found.is_none() {
        eprintln!("SKIPPED: dnsdist is not installed (apt-get install dnsdist)");
    }
    found
}

/// A running dnsdist; stopped when dropped.
pub struct Dnsdist {
    /// Where clients send their queries.
    pub front: SocketAddr,
    _daemon: Daemon,
}

/// Starts `program` on a free loopback port, its config in `dir`, balancing over
/// `backends` (named a, b, …) with PROXY v2, and waits until it answers.
pub async fn start_dnsdist(program: &Path, dir: &Path, backends: &[SocketAddr]) -> Dnsdist {
    let port = free_port().await;
    let mut conf = format!("setLocal(\"127.0.0.1:{port}\")\nsetACL({{\"127.0.0.0/8\"}})\n");
    for (backend, name) in backends.iter().zip('a'..) {
        conf.push_str(&format!(
            "newServer{{address=\"{backend}\", name=\"{name}\", useProxyProtocol=true, \
             checkName=\"www.example.test.\", checkInterval=1}}\n"
        ));
    }
    conf.push_str("setServerPolicy(roundrobin)\n");
    let path = dir.join("dnsdist.conf");
    std::fs::write(&path, conf).unwrap();
    let daemon = Daemon::start(
        Command::new(program)
            .args(["--supervised", "--disable-syslog", "-C"])
            .arg(&path),
    );
    let front: SocketAddr = format!("127.0.0.1:{port}").parse().unwrap();
    assert!(dns_is_up(front).await, "dnsdist answers on {front}");
    Dnsdist {
        front,
        _daemon: daemon,
    }
}
