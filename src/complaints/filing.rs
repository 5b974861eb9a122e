//! What a complaint says, checked before anything is stored: a domain name (normalised as the
//! lists' names are), a category some list declares, a comment and an optional contact of
//! bounded length. Pure, so every channel (page, API, CLI) refuses the same input the same way.

use std::collections::BTreeSet;

use serde::{Deserialize, Serialize};

use crate::name::{self, NameError};

/// A complaint as filed, before or after [`check`].
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Filing {
    pub name: String,
    pub category: String,
    #[serde(default)]
    pub comment: String,
    /// How the reviewer can reach the reporter; shown to reviewers only, never published.
    #[serde(default)]
    pub contact: Option<String>,
}

/// Where a complaint came from.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Via {
    Page,
    Cli,
    Api,
}

impl Via {
    pub fn as_str(self) -> &'static str {
        match self {
            Via::Page => "page",
            Via::Cli => "cli",
            Via::Api => "api",
        }
    }

    pub fn parse(s: &str) -> Via {
        match s {
            "page" => Via::Page,
            "cli" => Via::Cli,
            _ => Via::Api,
        }
    }
}

/// Why a filing was refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum FilingError {
    #[error("`{0}` is not a domain name: {1}")]
    BadName(String, NameError),
    #[error("`{0}` is a top-level domain: complain about a name under it")]
    TopLevel(String),
    #[error("no list has category `{category}` (known categories: {known})")]
    UnknownCategory { category: String, known: String },
    #[error("the {field} is {chars} characters long: at most {max} are kept")]
    TooLong {
        field: &'static str,
        chars: usize,
        max: u32,
    },
}

/// `filing` with its name normalised and its text trimmed, or why it is refused.
/// `categories` are the live config's list categories; `max_chars` bounds comment and contact.
pub fn check(
    filing: Filing,
    categories: &BTreeSet<&str>,
    max_chars: u32,
) -> Result<Filing, FilingError> {
    let name = name::normalize(filing.name.trim())
        .map_err(|e| FilingError::BadName(filing.name.clone(), e))?;
    if !name.contains('.') {
        return Err(FilingError::TopLevel(name));
    }
    let category = filing.category.trim();
    if !categories.contains(category) {
        let known: Vec<&str> = categories.iter().copied().collect();
        return Err(FilingError::UnknownCategory {
            category: category.to_owned(),
            known: known.join(", "),
        });
    }
    let bounded = |field, text: &str| {
        let chars = text.chars().count();
        if chars > max_chars as usize {
            Err(FilingError::TooLong {
                field,
                chars,
                max: max_chars,
            })
        } else {
            Ok(text.to_owned())
        }
    };
    let comment = bounded("comment", filing.comment.trim())?;
    let contact = match filing.contact.as_deref().map(str::trim) {
        Some(c) if !c.is_empty() => Some(bounded("contact", c)?),
        _ => None,
    };
    Ok(Filing {
        name,
        category: category.to_owned(),
        comment,
        contact,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn filing(name: &str, category: &str, comment: &str) -> Filing {
        Filing {
            name: name.to_owned(),
            category: category.to_owned(),
            comment: comment.to_owned(),
            contact: Some("  ".to_owned()),
        }
    }

    fn cats() -> BTreeSet<&'static str> {
        ["adult", "gambling"].into_iter().collect()
    }

    #[test]
    fn normalises_and_trims() {
        let f = check(filing(" Bücher.Example. ", "adult", " why \n"), &cats(), 10).unwrap();
        assert_eq!(f.name, "xn--bcher-kva.example");
        assert_eq!(f.comment, "why");
        assert_eq!(f.contact, None);
    }

    #[test]
    fn refuses_bad_input_with_reasons() {
        let err = |f| check(f, &cats(), 5).unwrap_err().to_string();
        assert!(err(filing("a..b", "adult", "")).contains("not a domain name"));
        assert!(err(filing("com", "adult", "")).contains("top-level"));
        assert_eq!(
            err(filing("x.example", "drugs", "")),
            "no list has category `drugs` (known categories: adult, gambling)"
        );
        assert_eq!(
            err(filing("x.example", "adult", "ééééé!")),
            "the comment is 6 characters long: at most 5 are kept"
        );
        let mut long_contact = filing("x.example", "adult", "");
        long_contact.contact = Some("123456".to_owned());
        assert!(err(long_contact).starts_with("the contact is 6"));
    }
}
