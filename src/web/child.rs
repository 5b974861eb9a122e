//! The child's page, at `/` of the web listener (`http://familydns.home.arpa/`): what was
//! blocked on this device in the last hour, why in plain words, and an "Ask" button that
//! sends the parent a request.
//!
//! There is no login: the device is known by its address, as the resolver knows it (its
//! `[[client]]` name, else the address), and the page shows only that device's own blocks.
//! Asks are rate-limited per device (`parents.asks_per_hour`) and stored with a bound (see
//! [`store`]); a form posted from another site is refused (`Sec-Fetch-Site`), so a page
//! elsewhere cannot ask in the child's name.

use std::net::SocketAddr;

use axum::extract::{ConnectInfo, Query, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Redirect, Response};
use jiff::SignedDuration;
use maud::{Markup, html};

use super::pages::{local_time, open_log};
use super::{Web, WebError, parents, render};
use crate::config::ParentsConfig;
use crate::help;
use crate::name::QueryName;
use crate::notices::store::{self, AskFilter};
use crate::notices::{Ask, AskState};
use crate::policy::Label;
use crate::querylog::{self, Filter};
use crate::snapshot::{Client, device_id};

/// How far back the page looks for blocks.
const LOOK_BACK: SignedDuration = SignedDuration::from_hours(1);
/// Blocked rows read for it at most.
const ROWS: usize = 500;
/// Distinct names shown at most.
const SHOWN: usize = 30;
/// Longest reason a child can give, in characters.
pub const MAX_REASON: usize = 300;

/// Who is looking at the page.
struct Device {
    id: String,
    profile: String,
    /// The profile's alert categories: blocks in them show help.
    alert: Vec<String>,
}

/// The device behind `peer`, or 403 for an address the resolver does not serve.
fn device(web: &Web, peer: SocketAddr) -> Result<Device, WebError> {
    let snapshot = web.reloader.snapshot().load_full();
    if !snapshot.is_allowed(peer.ip()) {
        return Err(WebError::Child(
            StatusCode::FORBIDDEN,
            "This page is for devices on this network.".to_owned(),
        ));
    }
    let client = Client::address(peer.ip());
    let (profile, name) = snapshot.device(&client, None);
    Ok(Device {
        id: device_id(name, &client),
        profile: profile.name.clone(),
        alert: profile.alert.clone(),
    })
}

/// One blocked name on the page.
struct Blocked {
    name: String,
    time: String,
    category: Option<String>,
    /// Blocked because a daily budget of its categories was spent, not by a rule.
    budget: bool,
}

/// What the page shows.
struct View {
    device: Device,
    blocked: Vec<Blocked>,
    asks: Vec<(String, Ask)>,
    /// Why the page cannot list blocks or take asks (the query log is off).
    note: Option<String>,
}

fn gather(web: &Web, device: Device) -> View {
    let config = web.reloader.config();
    let now = web.now();
    let tz = &config.server.timezone;
    let mut view = View {
        device,
        blocked: Vec::new(),
        asks: Vec::new(),
        note: None,
    };
    let filter = Filter {
        device: Some(view.device.id.clone()),
        blocked: true,
        since: now.checked_sub(LOOK_BACK).ok(),
        limit: ROWS,
        ..Filter::default()
    };
    match open_log(&config).and_then(|c| querylog::rows(&c, &filter).map_err(|e| e.to_string())) {
        Ok(rows) => {
            for row in rows {
                if view.blocked.len() < SHOWN && !view.blocked.iter().any(|b| b.name == row.name) {
                    view.blocked.push(Blocked {
                        time: local_time(row.at, now, tz),
                        budget: row.decision == Label::BudgetSpent.as_str(),
                        name: row.name,
                        category: row.category,
                    });
                }
            }
        }
        Err(e) => view.note = Some(e),
    }
    if let Some(log) = &config.query_log
        && let Ok(conn) = store::open(&log.path)
    {
        let mine = AskFilter {
            device: Some(&view.device.id),
            since: now.checked_sub(SignedDuration::from_hours(24)).ok(),
            limit: 20,
            ..AskFilter::default()
        };
        view.asks = store::asks(&conn, &mine)
            .unwrap_or_default()
            .into_iter()
            .map(|a| (local_time(a.at, now, tz), a))
            .collect();
    }
    view
}

#[derive(Debug, Default, serde::Deserialize)]
pub(super) struct PageQuery {
    /// Set after an ask: the name asked for.
    asked: Option<String>,
}

pub(super) async fn page(
    State(web): State<Web>,
    ConnectInfo(peer): ConnectInfo<SocketAddr>,
    Query(q): Query<PageQuery>,
) -> Result<Response, WebError> {
    let (_, parents) = parents(&web)?;
    let device = device(&web, peer)?;
    let w = web.clone();
    let view = tokio::task::spawn_blocking(move || gather(&w, device))
        .await
        .map_err(|e| WebError::Internal(e.to_string()))?;
    Ok(render(&view, &parents, q.asked.as_deref()).into_response())
}

#[derive(Debug, serde::Deserialize)]
pub(super) struct AskForm {
    name: String,
    #[serde(default)]
    reason: String,
}

pub(super) async fn ask(
    State(web): State<Web>,
    ConnectInfo(peer): ConnectInfo<SocketAddr>,
    headers: HeaderMap,
    axum::Form(form): axum::Form<AskForm>,
) -> Result<Response, WebError> {
    if headers
        .get("sec-fetch-site")
        .is_some_and(|v| v.as_bytes() == b"cross-site")
    {
        return Err(WebError::Child(
            StatusCode::FORBIDDEN,
            "Ask from this page itself.".to_owned(),
        ));
    }
    let (config, parents) = parents(&web)?;
    let device = device(&web, peer)?;
    let bad = |text: String| WebError::Child(StatusCode::BAD_REQUEST, text);
    let name = QueryName::parse(form.name.trim())
        .map_err(|e| bad(format!("`{}` is not a site name: {e}", form.name)))?;
    let reason = form.reason.trim();
    if reason.chars().count() > MAX_REASON {
        return Err(bad(format!(
            "Please say why in at most {MAX_REASON} letters."
        )));
    }
    let db = config
        .query_log
        .as_ref()
        .map(|l| l.path.clone())
        .ok_or_else(|| bad("Asking is off on this network.".to_owned()))?;
    let now = web.now();
    let allowed = web.asks.lock().expect("not poisoned").attempt(
        device.id.clone(),
        parents.asks_per_hour,
        now,
    );
    if !allowed {
        return Err(WebError::Child(
            StatusCode::TOO_MANY_REQUESTS,
            format!(
                "You have asked {} times this hour. Wait a little, or talk to your parent.",
                parents.asks_per_hour
            ),
        ));
    }
    let (name, reason) = (name.as_str().to_owned(), reason.to_owned());
    let stored = tokio::task::spawn_blocking(move || -> Result<Ask, String> {
        let conn = store::open(&db).map_err(|e| e.to_string())?;
        let id = store::add_ask(&conn, &device.id, &device.profile, &name, &reason, now)
            .map_err(|e| e.to_string())?;
        store::ask(&conn, id)
            .map_err(|e| e.to_string())?
            .ok_or_else(|| "the ask was not stored".to_owned())
    })
    .await
    .map_err(|e| WebError::Internal(e.to_string()))?
    .map_err(bad)?;
    let to = format!("/?asked={}", stored.name);
    web.notices.ask(stored);
    Ok(Redirect::to(&to).into_response())
}

/// The help text for a block in `category`: the parent's own, else the country's helpline.
fn helpline<'a>(parents: &'a ParentsConfig, category: &str) -> &'a str {
    parents.help.get(category).map_or_else(
        || help::helpline(parents.country.as_deref()),
        String::as_str,
    )
}

fn render(view: &View, parents: &ParentsConfig, asked: Option<&str>) -> Markup {
    let d = &view.device;
    render::page(
        "Blocked",
        None,
        html! {
            @if let Some(name) = asked {
                p.flash #asked { "Your parent got your question about " (name) "." }
            }
            section {
                h2 { "Blocked on this device" }
                p { "In the last hour, on " (d.id) "." }
                @if let Some(note) = &view.note { p { em { (note) } } }
                @if view.blocked.is_empty() && view.note.is_none() { p #nothing { "Nothing was blocked." } }
                @for b in &view.blocked { (blocked(b, d, parents)) }
            }
            section {
                h2 { "Ask for another site" }
                (ask_form(None))
            }
            @if !view.asks.is_empty() {
                section #asks {
                    h2 { "Your questions today" }
                    ul { @for (time, a) in &view.asks { li { (time) " " (a.name) ": " (ask_state(a)) } } }
                }
            }
        },
    )
}

fn blocked(b: &Blocked, d: &Device, parents: &ParentsConfig) -> Markup {
    let alert = b.category.as_ref().filter(|c| d.alert.contains(c));
    html! {
        div.blocked {
            h3.name { (b.name) }
            p { "Blocked at " (b.time) ". "
                @match (&b.category, b.budget) {
                    (Some(c), true) => { "Today's time for " (c) " is used up. It starts again at midnight." }
                    (Some(c), false) => { (help::why(c)) }
                    (None, _) => { "Your family's settings block this site." }
                }
            }
            @if let Some(c) = alert {
                p.help { strong { "If something is worrying you, you are not alone. " } (helpline(parents, c)) }
            }
            p { (help::WHAT_TO_DO) }
            (ask_form(Some(&b.name)))
        }
    }
}

fn ask_form(name: Option<&str>) -> Markup {
    html! {
        form method="post" action="/ask" {
            @match name {
                Some(n) => { input type="hidden" name="name" value=(n); }
                None => { input type="text" name="name" placeholder="example.com" aria-label="site" required; " " }
            }
            input type="text" name="reason" maxlength=(MAX_REASON) placeholder="Why? (optional)" aria-label="why";
            " "
            button { "Ask" }
        }
    }
}

fn ask_state(a: &Ask) -> String {
    match (a.state, &a.answer) {
        (AskState::Pending, _) => "waiting for your parent".to_owned(),
        (AskState::Approved, Some(answer)) => format!("yes, {answer}"),
        (AskState::Approved, None) => "yes".to_owned(),
        (AskState::Declined, _) => "no".to_owned(),
    }
}

#[cfg(test)]
mod tests {
    use jiff::Timestamp;

    use super::*;

    #[test]
    fn an_answered_ask_says_what_the_parent_gave() {
        let mut a = Ask {
            id: 1,
            at: Timestamp::UNIX_EPOCH,
            device: "tablet".into(),
            profile: "kids".into(),
            name: "example.com".into(),
            reason: String::new(),
            state: AskState::Pending,
            decided: None,
            answer: None,
        };
        assert_eq!(ask_state(&a), "waiting for your parent");
        a.state = AskState::Approved;
        a.answer = Some("until 18:30".into());
        assert_eq!(ask_state(&a), "yes, until 18:30");
    }
}
