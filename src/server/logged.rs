//! What the query log is told of an answered question: the one place that turns the
//! pipeline's view of a query (who, which profile, what was decided and why) into a
//! [`querylog::Entry`].

use std::time::Duration;

use hickory_proto::rr::Name;
use jiff::Timestamp;

use super::answer::Reply;
use super::plan::Question;
use crate::policy::{Label, Profile};
use crate::querylog::Entry;
use crate::snapshot::{Client, device_id};

/// An answered question, as far as the log and the metrics care.
pub struct Answered<'s> {
    pub profile: Option<&'s Profile>,
    pub device: Option<&'s str>,
    pub category: Option<&'s str>,
    pub label: Label,
    pub reply: Reply,
}

impl Answered<'_> {
    /// An answer given before any profile was looked up (refused, rate limited).
    pub fn early(label: Label, reply: Reply) -> Self {
        Answered {
            profile: None,
            device: None,
            category: None,
            label,
            reply,
        }
    }

    /// Who asked (see [`device_id`]).
    pub fn device_id(&self, client: &Client) -> String {
        device_id(self.device, client)
    }

    /// The log entry, or `None` when the question had no profile or no name, or the
    /// profile logs nothing.
    pub fn entry(
        &self,
        q: &Question<'_>,
        client: &Client,
        at: Timestamp,
        took: Duration,
    ) -> Option<Entry> {
        let profile = self.profile?;
        let (name, qtype, _) = q.query?;
        let device = self.device_id(client);
        let name = log_text(name);
        let reason = self.reply.ede.as_ref().map_or("", |(_, text)| {
            text.strip_prefix("familydns: ").unwrap_or(text)
        });
        Some(Entry {
            at,
            device,
            profile: profile.name.clone(),
            name,
            qtype: qtype.into(),
            decision: self.label.as_str(),
            reason: reason.to_owned(),
            category: self.category.map(str::to_owned),
            micros: u32::try_from(took.as_micros()).unwrap_or(u32::MAX),
            mode: profile.log,
            keep_days: profile.log_days,
        })
    }
}

/// `name` as the log shows it: lowercase, without the trailing dot. Host-name bytes are
/// copied as they are; a name with any other byte takes hickory's escaped spelling.
fn log_text(name: &Name) -> String {
    let plain = |b: &u8| b.is_ascii_alphanumeric() || matches!(b, b'-' | b'_');
    if !name.iter().all(|label| label.iter().all(plain)) {
        let mut text = name.to_lowercase().to_ascii();
        if text.len() > 1 && text.ends_with('.') {
            text.pop();
        }
        return text;
    }
    let mut text = String::with_capacity(name.len());
    for label in name.iter() {
        if !text.is_empty() {
            text.push('.');
        }
        text.extend(label.iter().map(|b| char::from(b.to_ascii_lowercase())));
    }
    if text.is_empty() {
        text.push('.');
    }
    text
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn log_names_are_lowercase_without_the_dot_and_odd_bytes_escaped() {
        let text = |n: &str| log_text(&Name::from_ascii(n).unwrap());
        assert_eq!(text("WWW.Example.COM."), "www.example.com");
        assert_eq!(text("_dmarc.x-y.example"), "_dmarc.x-y.example");
        assert_eq!(text("."), ".");
        let odd = Name::from_labels(vec![b"a b".to_vec(), b"Example".to_vec()]).unwrap();
        assert_eq!(
            log_text(&odd),
            odd.to_lowercase().to_ascii().trim_end_matches('.')
        );
    }
}
