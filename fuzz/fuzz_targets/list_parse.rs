//! Any bytes, in every list format: no panic, and every rule is a normalised name.
#![no_main]

use familydns::lists::{Format, RuleKind, parse_str};
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let text = String::from_utf8_lossy(data);
    for format in [Format::Auto, Format::Hosts, Format::Adblock, Format::Rpz, Format::Regex, Format::Keywords] {
        parse_str(&text, format, |rule| {
            if !matches!(rule.kind, RuleKind::Regex | RuleKind::Keyword) {
                assert_eq!(familydns::name::normalize(&rule.name).as_deref(), Ok(rule.name.as_str()));
            }
        });
    }
});
