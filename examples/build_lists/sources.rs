//! The public lists the bundled files are merged from: where each file is, its syntax, its
//! licence, and the *family* it belongs to. Lists of one family copy each other (StevenBlack's
//! porn alternate includes Sinfonietta's list), so leave-one-out holds out a whole family.

use std::collections::HashSet;
use std::path::{Path, PathBuf};

use familydns::lists::{self, Format, RuleKind};

/// Where a source file lives: the team's snapshot (`../shared/data`) or the files that
/// `tools/fetch-sources.sh` downloads at pinned commits (`tools/sources`).
#[derive(Clone, Copy)]
pub enum Root {
    Data,
    Fetched,
}

pub struct Source {
    pub id: &'static str,
    pub family: &'static str,
    pub category: &'static str,
    pub root: Root,
    pub path: &'static str,
    pub format: Format,
    pub origin: &'static str,
    pub licence: &'static str,
}

const UT1: &str = "CC BY-SA 4.0 (UT1, Université Toulouse Capitole)";
const HAGEZI: &str = "GPL-3.0";
const BP: &str = "Unlicense (file headers: MIT)";
const UT1_AT: &str = "olbat/ut1-blacklists @ 804da92a";
const HAGEZI_AT: &str = "hagezi/dns-blocklists via ones20250/hagezi-mirror-backup @ 7190126b";
const BP_AT: &str = "blocklistproject/Lists @ ee3bdbad";

macro_rules! src {
    ($id:expr, $family:expr, $cat:expr, $root:ident, $path:expr, $format:ident, $origin:expr, $lic:expr) => {
        Source {
            id: $id,
            family: $family,
            category: $cat,
            root: Root::$root,
            path: $path,
            format: Format::$format,
            origin: $origin,
            licence: $lic,
        }
    };
}

/// Every source, by category.
#[rustfmt::skip]
pub const SOURCES: &[Source] = &[
    src!("stevenblack-porn", "stevenblack", "adult", Data, "domains/stevenblack-porn-only-2026-06.domains", Domains, "StevenBlack/hosts porn-only via cyb3rko/stevenblack-hosts-trimmed @ 979c6849", "MIT"),
    src!("sinfonietta-porn", "stevenblack", "adult", Data, "hosts/sinfonietta-pornography-hosts", Hosts, "Sinfonietta/hostfiles @ 62631ce2", "MIT"),
    src!("hagezi-nsfw", "hagezi", "adult", Data, "domains/hagezi-nsfw.domains", Domains, HAGEZI_AT, HAGEZI),
    src!("oisd-nsfw-small", "oisd", "adult", Data, "domains/oisd-nsfw-small.domainswild2.txt", Domains, "sjhgvr/oisd via xxshade/oisd @ 8618eabf", "GPL-3.0"),
    src!("ut1-mixed-adult", "ut1", "adult", Data, "categories/ut1/mixed_adult.domains", Domains, UT1_AT, UT1),
    src!("stevenblack-gambling", "stevenblack", "gambling", Data, "domains/stevenblack-gambling-only-2026-06.domains", Domains, "StevenBlack/hosts gambling-only via cyb3rko/stevenblack-hosts-trimmed @ 979c6849", "MIT"),
    src!("sinfonietta-gambling", "stevenblack", "gambling", Data, "hosts/sinfonietta-gambling-hosts", Hosts, "Sinfonietta/hostfiles @ 62631ce2", "MIT"),
    src!("hagezi-gambling-medium", "hagezi", "gambling", Data, "adblock/hagezi-gambling.medium.txt", Adblock, HAGEZI_AT, HAGEZI),
    src!("blocklistproject-gambling", "blocklistproject", "gambling", Data, "categories/blocklistproject/gambling.hosts", Hosts, "blocklistproject/Lists @ f37f4dbf", BP),
    src!("ut1-gambling", "ut1", "gambling", Data, "categories/ut1/gambling.domains", Domains, UT1_AT, UT1),
    src!("ut1-arjel", "ut1", "gambling", Fetched, "ut1-arjel.domains", Domains, UT1_AT, UT1),
    src!("hagezi-tif-mini", "hagezi", "malware", Fetched, "hagezi-tif.mini.domains", Domains, HAGEZI_AT, HAGEZI),
    src!("blocklistproject-ransomware", "blocklistproject", "malware", Fetched, "blocklistproject-ransomware.hosts", Hosts, BP_AT, BP),
    src!("ut1-cryptojacking", "ut1", "malware", Fetched, "ut1-cryptojacking.domains", Domains, UT1_AT, UT1),
    src!("ut1-stalkerware", "ut1", "malware", Fetched, "ut1-stalkerware.domains", Domains, UT1_AT, UT1),
    src!("blocklistproject-phishing", "blocklistproject", "phishing", Fetched, "blocklistproject-phishing.domains", Domains, BP_AT, BP),
    src!("blocklistproject-scam", "blocklistproject", "phishing", Data, "categories/blocklistproject/scam.hosts", Hosts, BP_AT, BP),
    src!("ut1-phishing", "ut1", "phishing", Fetched, "ut1-phishing.domains", Domains, "olbat/ut1-blacklists @ 10d4b89b", UT1),
    src!("blocklistproject-drugs", "blocklistproject", "drugs", Data, "categories/blocklistproject/drugs.domains", Domains, BP_AT, BP),
    src!("blocklistproject-vaping", "blocklistproject", "drugs", Data, "categories/blocklistproject/vaping.domains", Domains, BP_AT, BP),
    src!("ut1-drogue", "ut1", "drugs", Data, "categories/ut1/drogue.domains", Domains, UT1_AT, UT1),
    src!("ut1-agressif", "ut1", "violence", Data, "categories/ut1/agressif.domains", Domains, UT1_AT, UT1),
    src!("sinfonietta-snuff", "stevenblack", "violence", Data, "hosts/sinfonietta-snuff-hosts", Hosts, "Sinfonietta/hostfiles @ 62631ce2", "MIT"),
    src!("ut1-dangerous-material", "ut1", "weapons", Data, "categories/ut1/dangerous_material.domains", Domains, UT1_AT, UT1),
    src!("ut1-sect", "ut1", "sects", Data, "categories/ut1/sect.domains", Domains, UT1_AT, UT1),
    src!("ut1-dating", "ut1", "dating", Data, "categories/ut1/dating.domains", Domains, UT1_AT, UT1),
    src!("ut1-redirector", "ut1", "bypass", Data, "bypass/ut1-redirector.domains", Domains, UT1_AT, UT1),
    src!("ut1-vpn", "ut1", "bypass", Data, "bypass/ut1-vpn.domains", Domains, UT1_AT, UT1),
    src!("ut1-doh", "ut1", "bypass", Data, "bypass/ut1-doh.domains", Domains, UT1_AT, UT1),
    src!("ut1-residential-proxies", "ut1", "bypass", Data, "bypass/ut1-residential-proxies.domains", Domains, UT1_AT, UT1),
    src!("hagezi-doh-vpn-proxy-bypass", "hagezi", "bypass", Data, "domains/hagezi-doh-vpn-proxy-bypass.domains", Domains, HAGEZI_AT, HAGEZI),
    src!("dibdot-doh", "dibdot", "bypass", Data, "bypass/dibdot-doh-domains_overall.txt", Domains, "dibdot/DoH-IP-blocklists @ 1089851d", "GPL-3.0"),
    src!("blocklistproject-redirect", "blocklistproject", "bypass", Data, "bypass/blocklistproject-redirect.hosts", Hosts, BP_AT, BP),
    src!("stevenblack-social", "stevenblack", "social", Data, "domains/stevenblack-social-only-2026-06.domains", Domains, "StevenBlack/hosts social-only via cyb3rko/stevenblack-hosts-trimmed @ 979c6849", "MIT"),
    src!("ut1-games", "ut1", "games", Data, "categories/ut1/games.domains", Domains, UT1_AT, UT1),
    src!("ut1-audio-video", "ut1", "video", Data, "categories/ut1/audio-video.domains", Domains, UT1_AT, UT1),
    src!("hagezi-light", "hagezi", "ads", Data, "adblock/hagezi-light.txt", Adblock, HAGEZI_AT, HAGEZI),
    src!("ut1-shopping", "ut1", "benign", Fetched, "ut1-shopping.domains", Domains, UT1_AT, UT1),
    src!("ut1-press", "ut1", "benign", Fetched, "ut1-press.domains", Domains, UT1_AT, UT1),
    src!("ut1-sports", "ut1", "benign", Fetched, "ut1-sports.domains", Domains, UT1_AT, UT1),
    src!("ut1-jobsearch", "ut1", "benign", Fetched, "ut1-jobsearch.domains", Domains, UT1_AT, UT1),
    src!("ut1-bank", "ut1", "benign", Fetched, "ut1-bank.domains", Domains, UT1_AT, UT1),
    src!("ut1-financial", "ut1", "benign", Fetched, "ut1-financial.domains", Domains, UT1_AT, UT1),
    src!("ut1-educational_games", "ut1", "benign", Fetched, "ut1-educational_games.domains", Domains, UT1_AT, UT1),
    src!("ut1-sexual_education", "ut1", "benign", Fetched, "ut1-sexual_education.domains", Domains, UT1_AT, UT1),
    src!("ut1-child", "ut1", "benign", Fetched, "ut1-child.domains", Domains, UT1_AT, UT1),
    src!("ut1-radio", "ut1", "benign", Fetched, "ut1-radio.domains", Domains, UT1_AT, UT1),
    src!("ut1-blog", "ut1", "benign", Fetched, "ut1-blog.domains", Domains, UT1_AT, UT1),
    src!("ut1-forums", "ut1", "benign", Fetched, "ut1-forums.domains", Domains, UT1_AT, UT1),
    src!("ut1-cooking", "ut1", "benign", Fetched, "ut1-cooking.domains", Domains, UT1_AT, UT1),
    src!("ut1-translation", "ut1", "benign", Fetched, "ut1-translation.domains", Domains, UT1_AT, UT1),
    src!("ut1-webmail", "ut1", "benign", Fetched, "ut1-webmail.domains", Domains, UT1_AT, UT1),
    src!("ut1-liste_blanche", "ut1", "benign", Fetched, "ut1-liste_blanche.domains", Domains, UT1_AT, UT1),
];

/// Category of UT1's non-harmful lists (shopping, press, sports, …): negatives that carry the
/// ordinary words the ranking lacks (`essex`, `cocktail`); not bundled.
pub const BENIGN: &str = "benign";

/// Categories that get keyword lists.
pub const KEYWORDS: &[&str] = &["adult", "gambling", "bypass"];

/// Categories the classifier learns.
pub const CLASSIFIED: &[&str] = &["adult", "gambling"];

/// Categories a family profile blocks; their union decides which ranking names are "clean".
pub const HARMFUL: &[&str] = &[
    "adult", "gambling", "malware", "phishing", "drugs", "violence", "weapons", "sects", "dating",
    "bypass",
];

impl Source {
    pub fn path(&self, data: &Path, fetched: &Path) -> PathBuf {
        match self.root {
            Root::Data => data.join(self.path),
            Root::Fetched => fetched.join(self.path),
        }
    }

    /// The names the list blocks (with their subdomains), parsed by familydns itself.
    /// Single-label rules are dropped: merged into a domains file they would block a TLD.
    pub fn load(&self, data: &Path, fetched: &Path) -> Result<HashSet<String>, lists::ListError> {
        let text = lists::read_list(&self.path(data, fetched))?;
        let mut names = HashSet::new();
        lists::parse_str(&text, self.format, |rule| {
            if matches!(rule.kind, RuleKind::Block | RuleKind::BlockSubdomains)
                && rule.name.contains('.')
            {
                names.insert(rule.name);
            }
        });
        Ok(names)
    }
}
