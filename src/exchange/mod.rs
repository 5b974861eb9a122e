//! The threat exchange between parties, as standard DNS Response Policy Zones (RPZ), so a
//! party running BIND, Unbound, PowerDNS or Knot takes part without running familydns.
//!
//! - **Publish** ([`Publisher`]): the accepted names, one RPZ zone per category under
//!   `[exchange] zone`, served over TCP by AXFR and IXFR (a bounded journal of diffs per
//!   zone, so a removal travels as an IXFR deletion), every transfer TSIG-signed with the
//!   subscriber's key, and a NOTIFY to each subscriber when a serial changes. The zones hold
//!   names only: never who complained, nor any client or query data.
//! - **Subscribe** ([`subscribe::fetch`]): a `[[list]]` whose source is
//!   `rpz+axfr://IP:PORT/ZONE#key` is transferred (IXFR from the cached serial, else AXFR)
//!   into `cache_dir`, where the list machinery reads it as an RPZ list; a NOTIFY from the
//!   primary ([`Inbox`]) makes the refresher fetch it at once.
//!
//! The zone content and its diffs are pure ([`zone`]); the sockets are thin edges around it.

mod inbox;
mod notify;
mod publish;
mod serve;
pub mod subscribe;
mod tsig;
mod wire;
pub mod zone;

use std::collections::{BTreeMap, BTreeSet};
use std::sync::Arc;

pub use inbox::Inbox;
pub use publish::Publisher;

/// The accepted names the complaints side publishes: category → names (lowercase, no
/// trailing dot). Sent whole on every change; the publisher diffs it against its zones.
pub type Accepted = Arc<BTreeMap<String, BTreeSet<String>>>;

/// Seconds since the epoch now, as TSIG and serials count them.
///
/// This is the real time, never the policy clock a test pins: a TSIG signature is checked
/// against the peer's own clock (BIND answers BADTIME outside five minutes), so protocol
/// time cannot be injected without breaking every real peer, and no decision depends on it.
pub fn unix_now() -> u64 {
    u64::try_from(jiff::Timestamp::now().as_second()).unwrap_or(0)
}
