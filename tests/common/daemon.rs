//! The real programs some tests run beside familydns (Unbound, NSD, chromedriver): finding
//! them, a free port for them, waiting until they answer, and stopping them with every
//! process they started.

use std::net::SocketAddr;
use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::time::Duration;

/// The first of `names` found on `PATH` or in the sbin directories (where Debian puts
/// daemons, and which a non-root `PATH` often lacks).
pub fn find_program(names: &[&str]) -> Option<PathBuf> {
    let path = std::env::var_os("PATH").unwrap_or_default();
    let sbin = ["/usr/sbin", "/usr/local/sbin", "/sbin"].map(PathBuf::from);
    std::env::split_paths(&path)
        .chain(sbin)
        .flat_map(|dir| names.iter().map(move |n| dir.join(n)))
        .find(|p| p.is_file())
}

/// A started program, killed with the processes it started when the test ends however it
/// ends (NSD's servers, Chromium under chromedriver outlive their parent otherwise).
pub struct Daemon(pub Child);

impl Daemon {
    /// Starts `command` with its output discarded.
    pub fn start(command: &mut Command) -> Daemon {
        let child = command
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .unwrap_or_else(|e| panic!("cannot start {command:?}: {e}"));
        Daemon(child)
    }
}

impl Drop for Daemon {
    fn drop(&mut self) {
        let tree = descendants(self.0.id());
        let _ = self.0.kill();
        let _ = self.0.wait();
        if !tree.is_empty() {
            let _ = Command::new("kill")
                .arg("-9")
                .args(tree.iter().map(u32::to_string))
                .stderr(Stdio::null())
                .status();
        }
    }
}

/// The processes below `root`, from the parent ids in `/proc/*/stat`.
fn descendants(root: u32) -> Vec<u32> {
    let parents: Vec<(u32, u32)> = std::fs::read_dir("/proc")
        .into_iter()
        .flatten()
        .flatten()
        .filter_map(|e| {
            let pid: u32 = e.file_name().to_str()?.parse().ok()?;
            let stat = std::fs::read_to_string(e.path().join("stat")).ok()?;
            // `pid (comm) state ppid ...`; comm may hold spaces and parentheses.
            let ppid = stat
                .rsplit_once(')')?
                .1
                .split_whitespace()
                .nth(1)?
                .parse()
                .ok()?;
            Some((pid, ppid))
        })
        .collect();
    let mut tree = vec![root];
    let mut i = 0;
    while i < tree.len() {
        let parent = tree[i];
        tree.extend(
            parents
                .iter()
                .filter(|(_, pp)| *pp == parent)
                .map(|(p, _)| *p),
        );
        i += 1;
    }
    tree.remove(0);
    tree
}

/// A loopback port free for both UDP and TCP: taken and released, for a program that binds
/// it right after.
pub async fn free_port() -> u16 {
    let (udp, _tcp) = super::udp_and_tcp().await;
    udp.local_addr().unwrap().port()
}

/// Waits (bounded) until a DNS server answers on `addr`: any well-formed query gets an
/// answer, even REFUSED, once it listens.
pub async fn dns_is_up(addr: SocketAddr) -> bool {
    super::eventually(Duration::from_secs(10), async || {
        let probe = async {
            let sock = tokio::net::UdpSocket::bind("127.0.0.1:0").await.ok()?;
            sock.connect(addr).await.ok()?;
            // The root, type A, RD set.
            let q = [0u8, 1, 1, 0, 0, 1, 0, 0, 0, 0, 0, 0, 0, 0, 1, 0, 1];
            sock.send(&q).await.ok()?;
            let mut buf = [0u8; 512];
            tokio::time::timeout(Duration::from_millis(200), sock.recv(&mut buf))
                .await
                .ok()?
                .ok()
        };
        probe.await.is_some()
    })
    .await
}

/// The start of an `unbound.conf` that runs Unbound in the foreground on `127.0.0.1:port`,
/// with no privileges to drop, logging to stderr, serving loopback, allowed to ask
/// loopback servers; each test adds its own module, zones and forwarding.
pub fn unbound_server(dir: &std::path::Path, port: u16) -> String {
    format!(
        r#"server:
  interface: 127.0.0.1
  port: {port}
  do-daemonize: no
  username: ""
  chroot: ""
  directory: "{dir}"
  pidfile: ""
  use-syslog: no
  logfile: ""
  do-ip6: no
  access-control: 127.0.0.0/8 allow
  do-not-query-localhost: no
"#,
        dir = dir.display()
    )
}
