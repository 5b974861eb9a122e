//! The parent's webhook: one plain POST with a JSON body per notice.
//!
//! The body's `title`, `message` and `priority` are what Gotify's `/message` reads; Home
//! Assistant's webhook triggers take any JSON (the other fields are there for automations);
//! ntfy publishes the body to the topic of the URL. Nothing else is sent: an alert carries
//! the category, the device and the time, never the name that was looked up.

use std::time::Duration;

use jiff::Timestamp;
use serde::Serialize;

use super::store::{Alert, Ask};

/// A webhook that has not answered this soon has failed; the notice is not retried (the
/// page still shows it).
pub const TIMEOUT: Duration = Duration::from_secs(5);

/// What a notice is about.
#[derive(Debug, Clone)]
pub enum Notice {
    Ask(Ask),
    Alert(Alert),
}

#[derive(Serialize)]
struct Body<'a> {
    title: String,
    message: String,
    /// Gotify's 0–10; alerts are urgent.
    priority: u8,
    kind: &'static str,
    profile: &'a str,
    device: &'a str,
    time: Timestamp,
    #[serde(skip_serializing_if = "Option::is_none")]
    category: Option<&'a str>,
    #[serde(skip_serializing_if = "Option::is_none")]
    name: Option<&'a str>,
    #[serde(skip_serializing_if = "Option::is_none")]
    reason: Option<&'a str>,
}

impl Notice {
    /// The JSON body of the POST.
    pub fn body(&self) -> String {
        let body = match self {
            Notice::Ask(a) => Body {
                title: format!("{} asks for {}", a.device, a.name),
                message: if a.reason.is_empty() {
                    format!("{} ({}) asks to open {}.", a.device, a.profile, a.name)
                } else {
                    format!(
                        "{} ({}) asks to open {}: \"{}\"",
                        a.device, a.profile, a.name, a.reason
                    )
                },
                priority: 5,
                kind: "ask",
                profile: &a.profile,
                device: &a.device,
                time: a.at,
                category: None,
                name: Some(&a.name),
                reason: Some(&a.reason),
            },
            Notice::Alert(a) => Body {
                title: format!("Alert: {} on {}", a.category, a.device),
                message: format!(
                    "{} ({}) tried to open a site in the {} category. It was blocked.",
                    a.device, a.profile, a.category
                ),
                priority: 8,
                kind: "alert",
                profile: &a.profile,
                device: &a.device,
                time: a.at,
                category: Some(&a.category),
                name: None,
                reason: None,
            },
        };
        serde_json::to_string(&body).expect("plain strings serialize")
    }
}

/// Why a POST failed.
#[derive(Debug, thiserror::Error)]
pub enum WebhookError {
    #[error("{0}")]
    Http(#[from] reqwest::Error),
    #[error("answered {0}")]
    Status(reqwest::StatusCode),
}

/// A client that follows no redirects (a webhook that moved is a config to fix, not a hop
/// to take with a child's data) and gives up after [`TIMEOUT`].
pub fn client() -> reqwest::Client {
    reqwest::Client::builder()
        .timeout(TIMEOUT)
        .redirect(reqwest::redirect::Policy::none())
        .build()
        .expect("a client without custom TLS builds")
}

/// POSTs `notice` to `url`.
pub async fn post(
    client: &reqwest::Client,
    url: &str,
    notice: &Notice,
) -> Result<(), WebhookError> {
    let response = client
        .post(url)
        .header(reqwest::header::CONTENT_TYPE, "application/json")
        .body(notice.body())
        .send()
        .await?;
    if response.status().is_success() {
        Ok(())
    } else {
        Err(WebhookError::Status(response.status()))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn an_alert_carries_category_device_and_time_and_no_name() {
        let alert = Alert {
            at: Timestamp::from_second(1_800_000_000).unwrap(),
            device: "tablet".into(),
            profile: "kids".into(),
            category: "drugs".into(),
        };
        let body: serde_json::Value = serde_json::from_str(&Notice::Alert(alert).body()).unwrap();
        assert_eq!(body["kind"], "alert");
        assert_eq!(body["category"], "drugs");
        assert_eq!(body["device"], "tablet");
        assert_eq!(body["time"], "2027-01-15T08:00:00Z");
        assert!(body.get("name").is_none());
        assert!(body["priority"].as_u64().unwrap() > 5);
    }
}
