//! Any bytes as a DNS packet from a client, through the server's real decode → decide →
//! encode path (`answer_offline`) against a real list. No panic, and every answer parses.
#![no_main]

use std::sync::OnceLock;

use familydns::snapshot::Snapshot;
use libfuzzer_sys::fuzz_target;

fn snapshot() -> &'static Snapshot {
    static SNAP: OnceLock<Snapshot> = OnceLock::new();
    SNAP.get_or_init(|| {
        let dir = std::env::temp_dir().join("familydns-fuzz-packet");
        std::fs::create_dir_all(dir.join("profiles")).unwrap();
        let repo = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("..");
        let adult = repo.join("blocklists/adult.domains.gz");
        std::fs::write(
            dir.join("familydns.toml"),
            format!(
                "default_profile = \"kids\"\n[server]\nlisten = [\"127.0.0.1:0\"]\n\
                 [upstream]\nservers = [\"udp://127.0.0.1:9\"]\n\
                 [[list]]\nname = \"adult\"\ncategory = \"adult\"\nsource = \"{}\"\n",
                adult.display()
            ),
        )
        .unwrap();
        std::fs::write(
            dir.join("profiles/kids.toml"),
            "block = [\"adult\"]\nsafe_search = true\nblock_bypass = true\n",
        )
        .unwrap();
        let config = familydns::config::load(&dir.join("familydns.toml")).unwrap();
        Snapshot::build(&config, false).unwrap()
    })
}

fuzz_target!(|data: &[u8]| {
    let src = "127.0.0.1".parse().unwrap();
    if let Some(bytes) =
        familydns::server::answer_offline(snapshot(), data, src, jiff::Timestamp::UNIX_EPOCH)
    {
        hickory_proto::op::Message::from_vec(&bytes).expect("our answers parse");
    }
});
