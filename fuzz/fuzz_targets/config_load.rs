//! Any bytes as a config file: an error or a config, never a panic.
#![no_main]

use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let dir = std::env::temp_dir().join(format!("familydns-fuzz-{}", std::process::id()));
    let _ = std::fs::create_dir_all(dir.join("profiles"));
    let file = dir.join("familydns.toml");
    if std::fs::write(&file, data).is_ok() {
        let _ = familydns::config::load(&file);
    }
});
