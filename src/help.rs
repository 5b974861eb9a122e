//! What the child's page says about a block, in plain words: why a category is blocked and
//! what the child can do, and, for the categories a parent asked to be alerted about, where
//! to find help at once. Pure data, so the config can check a `country` against it and the
//! page can show it without either depending on the other.
//!
//! The helplines are national services that are free for children and young people; a
//! parent replaces any text with `[parents.help]`.

/// Countries with a default helpline (ISO 3166-1 alpha-2), and the text shown.
const HELPLINES: &[(&str, &str)] = &[
    (
        "AU",
        "Kids Helpline: call 1800 55 1800, free, any time. Lifeline: 13 11 14.",
    ),
    (
        "CA",
        "Kids Help Phone: call 1-800-668-6868 or text CONNECT to 686868, any time. You can also call or text 988.",
    ),
    (
        "DE",
        "Nummer gegen Kummer: 116 111, kostenlos. TelefonSeelsorge: 0800 111 0 111, kostenlos, rund um die Uhr.",
    ),
    (
        "FR",
        "3114 : numéro national de prévention du suicide, gratuit, 24h/24. Fil Santé Jeunes : 0 800 235 236.",
    ),
    (
        "GB",
        "Childline: call 0800 1111, free, any time, or chat at childline.org.uk. Samaritans: 116 123.",
    ),
    (
        "IE",
        "Childline: call 1800 66 66 66, free, any time. Samaritans: 116 123.",
    ),
    (
        "NL",
        "De Kindertelefoon: 0800 0432, gratis. 113 Zelfmoordpreventie: 113 of 0800 0113.",
    ),
    (
        "US",
        "Call or text 988, the Suicide & Crisis Lifeline, any time. It is free and private.",
    ),
];

/// The helpline text when no country is set, or one without a default.
const ANY_COUNTRY: &str = "Talk to a parent, a teacher or another adult you trust. In most of Europe, 116 111 is a free helpline for children.";

/// Whether `country` has a default helpline (the config warns a parent whose country has
/// none that the generic text will be shown).
pub fn has_helpline(country: &str) -> bool {
    HELPLINES
        .iter()
        .any(|(c, _)| c.eq_ignore_ascii_case(country))
}

/// The default helpline text for `country`.
pub fn helpline(country: Option<&str>) -> &'static str {
    country
        .and_then(|country| {
            HELPLINES
                .iter()
                .find(|(c, _)| c.eq_ignore_ascii_case(country))
        })
        .map_or(ANY_COUNTRY, |(_, text)| text)
}

/// Why a site of `category` is blocked, in words a child understands.
pub fn why(category: &str) -> String {
    let reason = match category {
        "adult" => "shows sex or nudity, which is not made for children",
        "gambling" => "is about betting money, which can cost a lot and is hard to stop",
        "malware" => "is known to spread viruses or harm devices",
        "phishing" => "tries to trick people into giving away passwords or money",
        "drugs" => "sells or promotes drugs",
        "violence" => "shows violence that can be upsetting",
        "weapons" => "sells or promotes weapons",
        "sects" => "belongs to a group known to pressure and manipulate people",
        "dating" => "is a dating site for adults",
        "bypass" => "is a way around the family filter (a VPN, proxy or private DNS)",
        "social" => "is a social network, which your family limits",
        "video" => "is a video site, which your family limits",
        "games" => "is a game site, which your family limits",
        "ads" => "shows ads or tracks what people do online",
        _ => {
            return format!(
                "This site is in the `{category}` category, which your family's settings block."
            );
        }
    };
    format!("This site {reason}.")
}

/// What the child can do about any block.
pub const WHAT_TO_DO: &str =
    "If you think it should not be blocked, tap \"Ask\" and say why, or talk to your parent.";

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_known_country_gets_its_helpline_and_others_the_generic_text() {
        assert!(helpline(Some("gb")).contains("0800 1111"));
        assert!(has_helpline("US"));
        assert!(!has_helpline("XX"));
        assert_eq!(helpline(Some("XX")), ANY_COUNTRY);
        assert_eq!(helpline(None), ANY_COUNTRY);
    }

    #[test]
    fn every_category_gets_a_sentence() {
        assert_eq!(
            why("gambling"),
            "This site is about betting money, which can cost a lot and is hard to stop."
        );
        assert!(why("knitting").contains("`knitting`"));
    }
}
