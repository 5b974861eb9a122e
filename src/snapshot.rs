//! Everything a query needs that a reload can change, compiled into one immutable value.
//!
//! The server holds the current `Snapshot` in an `ArcSwap`: a query loads it once and keeps
//! that `Arc` to the end, so a reload never changes the rules under a query in flight.

use std::collections::HashMap;
use std::net::IpAddr;

use jiff::Timestamp;

use crate::budget::Usage;
use crate::clients::{ClientId, NetworkTable};
use crate::complaints::Accepted;
use crate::config::Config;
use crate::directory::Subscribers;
use crate::filter::{Blocklists, ClassifierLayer};
use crate::name::QueryName;
use crate::overrides::ProfileOverrides;
use crate::policy::{Decision, Policy, Profile, SpecialNames};

/// Who is asking, as far as we may believe it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Client {
    /// The source address, or the ECS address a trusted forwarder passed along.
    pub ip: IpAddr,
    /// The MAC a trusted forwarder passed along (EDNS0 65001 / 65073).
    pub mac: Option<[u8; 6]>,
    /// The id an encrypted connection named (the DoH path, the DoT server name).
    pub id: Option<ClientId>,
}

impl Client {
    pub fn address(ip: IpAddr) -> Client {
        Client {
            ip,
            mac: None,
            id: None,
        }
    }
}

/// How the query log, the child's page and alerts name a device: its `[[client]]` name,
/// else the id its encrypted connection named, else the MAC a trusted forwarder gave, else
/// its address.
pub fn device_id(name: Option<&str>, client: &Client) -> String {
    match (name, client.id, client.mac) {
        (Some(name), _, _) => name.to_owned(),
        (None, Some(id), _) => id.to_string(),
        (None, None, Some(mac)) => mac.map(|b| format!("{b:02x}")).join(":"),
        (None, None, None) => client.ip.to_canonical().to_string(),
    }
}

#[derive(Debug)]
pub struct Snapshot {
    pub blocklists: Blocklists,
    /// Safe-search hosts, bypass canaries and DoH/DoT endpoints (built in).
    pub special: SpecialNames,
    pub profiles: Vec<Profile>,
    default_profile: usize,
    /// `[[client]]` entries by address, by MAC and by id: indexes into `devices`.
    clients: NetworkTable<usize>,
    macs: HashMap<[u8; 6], usize>,
    ids: HashMap<ClientId, usize>,
    /// Each `[[client]]`: its profile (an index into `profiles`) and its name.
    devices: Vec<(usize, String)>,
    allowed: NetworkTable<()>,
    trusted: NetworkTable<()>,
    proxies: NetworkTable<()>,
    /// The child's page: the name devices look up (`parents.page_name`) and its address.
    pub page: Option<(String, IpAddr)>,
}

/// A list that could not be loaded.
#[derive(Debug, thiserror::Error)]
#[error("{}", .0.join("\n"))]
pub struct SnapshotError(pub Vec<String>);

impl Snapshot {
    /// Reads every list and compiles the config. Fails if any list cannot be read, so that a
    /// reload never swaps in a snapshot that silently filters less.
    pub fn build(config: &Config, keep_provenance: bool) -> Result<Snapshot, SnapshotError> {
        let mut blocklists = Blocklists::load(&config.lists, keep_provenance);
        if let Some(path) = &config.classifier {
            let model = std::fs::read(path)
                .map_err(|e| e.to_string())
                .and_then(|bytes| {
                    ClassifierLayer::new(&bytes, |c| blocklists.mask_for([c]))
                        .map_err(|e| e.to_string())
                });
            match model {
                Ok(layer) => blocklists.classifier = Some(layer),
                Err(e) => return Err(SnapshotError(vec![format!("{}: {e}", path.display())])),
            }
        }
        // A downloaded list with no cached copy yet (first boot without internet) is reported
        // but not fatal: the other lists still filter. A local file that cannot be read is.
        let errors: Vec<String> = blocklists
            .lists
            .iter()
            .zip(&config.lists)
            .filter(|(_, c)| c.url.is_none())
            .filter_map(|(l, _)| l.error.clone())
            .collect();
        if !errors.is_empty() {
            return Err(SnapshotError(errors));
        }
        let profiles: Vec<Profile> = config
            .profiles
            .iter()
            .map(|p| Profile::compile(p, &blocklists))
            .collect();
        let index = |name: &str| profiles.iter().position(|p| p.name == name);
        let default_profile =
            index(&config.default_profile).expect("config validation checks default_profile");
        let mut clients = NetworkTable::default();
        let mut macs = HashMap::new();
        let mut ids = HashMap::new();
        let mut devices = Vec::new();
        for (device, client) in config.clients.iter().enumerate() {
            let profile = index(&client.profile).expect("config validation checks profiles");
            devices.push((profile, client.name.clone()));
            for &net in &client.networks {
                clients.insert(net, device);
            }
            for &mac in &client.macs {
                macs.entry(mac).or_insert(device);
            }
            for &id in &client.ids {
                ids.entry(id).or_insert(device);
            }
        }
        Ok(Snapshot {
            blocklists,
            special: SpecialNames::new(),
            default_profile,
            clients,
            macs,
            ids,
            devices,
            allowed: config.server.allow_clients.iter().copied().collect(),
            trusted: config.server.trusted_forwarders.iter().copied().collect(),
            proxies: config.server.trusted_proxies.iter().copied().collect(),
            page: config
                .parents
                .as_ref()
                .map(|p| (p.page_name.clone(), p.page_address)),
            profiles,
        })
    }

    /// Whether `ip` may use the resolver at all (`server.allow_clients`).
    pub fn is_allowed(&self, ip: IpAddr) -> bool {
        self.allowed.contains(ip)
    }

    /// Whether `ip` may name the real client in a PROXY v2 header: `server.trusted_proxies`.
    pub fn is_proxy(&self, ip: IpAddr) -> bool {
        self.proxies.contains(ip)
    }

    /// Whether `ip` may tell us who its clients are (MAC, ECS): `server.trusted_forwarders`.
    pub fn is_trusted(&self, ip: IpAddr) -> bool {
        self.trusted.contains(ip)
    }

    /// The profile for a client address: its most specific `[[client]]` match, else the
    /// default profile.
    pub fn profile_for(&self, ip: IpAddr) -> &Profile {
        self.profile_for_client(&Client::address(ip))
    }

    /// The profile for a client: by the id of its encrypted connection, else by MAC when a
    /// trusted forwarder gave one, when a `[[client]]` lists them, else by address (the
    /// forwarder's ECS subnet, or the source). An id is the most specific: it follows the
    /// device off the home network.
    pub fn profile_for_client(&self, client: &Client) -> &Profile {
        self.device(client, None).0
    }

    /// The client's profile and, when a `[[client]]` names it, its name (the query log's
    /// "device"). A client no `[[client]]` matches (by id, MAC or address) gets its profile
    /// from the subscriber `directory` when it lists the client with a profile this config
    /// has, else the default profile.
    pub fn device(
        &self,
        client: &Client,
        directory: Option<&Subscribers>,
    ) -> (&Profile, Option<&str>) {
        let by_id = client.id.and_then(|id| self.ids.get(&id));
        let by_mac = || client.mac.and_then(|m| self.macs.get(&m));
        match by_id
            .or_else(by_mac)
            .or_else(|| self.clients.lookup(client.ip))
        {
            Some(&device) => {
                let (profile, name) = &self.devices[device];
                (&self.profiles[*profile], Some(name))
            }
            None => {
                let subscriber = directory
                    .and_then(|d| d.profile(client.ip, client.mac))
                    .and_then(|name| self.profile_named(name));
                (
                    subscriber.unwrap_or(&self.profiles[self.default_profile]),
                    None,
                )
            }
        }
    }

    pub fn profile_named(&self, name: &str) -> Option<&Profile> {
        self.profiles.iter().find(|p| p.name == name)
    }

    /// The policy of `profile` in this snapshot, with its timed exceptions and pause, its
    /// budgets' usage today and the names accepted from complaints: what the server and `familydns check` decide, explain and check
    /// CNAME chains with.
    pub fn policy<'s>(
        &'s self,
        profile: &'s Profile,
        timed: Option<&'s ProfileOverrides>,
        usage: &'s [Usage],
        accepted: Option<&'s Accepted>,
    ) -> Policy<'s> {
        Policy {
            blocklists: &self.blocklists,
            special: &self.special,
            profile,
            timed,
            usage,
            accepted,
        }
    }

    /// Decides a name for a profile at `now`, without timed exceptions, pause or budgets.
    pub fn decide_name<'s>(
        &'s self,
        profile: &'s Profile,
        name: &QueryName,
        now: Timestamp,
    ) -> Decision<'s> {
        self.policy(profile, None, &[], None).decide(name, now)
    }
}
