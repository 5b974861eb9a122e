//! `[dnstap]`: where the dnstap stream goes.

use std::net::SocketAddr;
use std::path::PathBuf;

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DnstapConfig {
    pub target: DnstapTarget,
    /// The `identity` field of every message: which instance answered.
    pub identity: String,
    /// Events waiting for the writer at most; past it they are dropped and counted.
    pub queue: usize,
}

/// A collector: a unix socket (`socket = "/run/dnstap.sock"`) or TCP (`tcp = "ip:port"`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum DnstapTarget {
    Unix(PathBuf),
    Tcp(SocketAddr),
}
