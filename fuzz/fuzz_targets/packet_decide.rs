//! Any bytes as a DNS packet: decode as the server would, then decide every query name
//! against a real list. No panic, whatever the name.
#![no_main]

use std::sync::OnceLock;

use familydns::config::ListConfig;
use familydns::filter::Blocklists;
use familydns::lists::Format;
use familydns::name::QueryName;
use libfuzzer_sys::fuzz_target;

fn lists() -> &'static Blocklists {
    static LISTS: OnceLock<Blocklists> = OnceLock::new();
    LISTS.get_or_init(|| {
        let source = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../../shared/data/domains/hagezi-nsfw.domains");
        Blocklists::load(
            &[ListConfig {
                name: "nsfw".into(),
                category: "adult".into(),
                source,
                format: Format::Domains,
                url: None,
                refresh: std::time::Duration::ZERO,
            }],
            false,
        )
    })
}

fuzz_target!(|data: &[u8]| {
    if let Ok(message) = hickory_proto::op::Message::from_vec(data) {
        for q in &message.queries {
            let name = QueryName::from_wire(q.name());
            let _ = lists()
                .matcher
                .lookup_fingerprints(name.fingerprints().as_slice(), u64::MAX);
            let _ = lists().patterns.lookup(name.as_str(), u64::MAX);
        }
    }
});
