//! The complaints page: "Report a site" (name, category, comment, optional contact), the
//! complaints waiting for review with Accept and Reject, and the accepted names with Remove.
//! Filing and deciding go through [`Complaints`](crate::complaints::Complaints), as the API's
//! do, recorded as by the parents' page; an accepted name is blocked when the page comes back.

use axum::extract::State;
use axum::http::HeaderMap;
use axum::response::{IntoResponse, Response};
use maud::{Markup, html};

use super::pages::local_time;
use super::render::{csrf_field, page as frame};
use super::{Web, WebError, done, session, session_for_post, take_flash};
use crate::complaints::{Complaint, ComplaintError, Filing, Ruling, Status, Via};

/// Who files and decides on this page, in the complaints' records.
const BY: &str = "parents' page";
/// Complaints shown per list.
const SHOWN: u32 = 100;
const HERE: &str = "/parents/complaints";

pub(super) async fn page(State(web): State<Web>, headers: HeaderMap) -> Result<Response, WebError> {
    let (id, session) = session(&web, &headers)?;
    let flash = take_flash(&web, &id);
    let listed = |status| web.complaints.list(Some(status), SHOWN);
    let lists = match (
        listed(Status::Pending).await,
        listed(Status::Accepted).await,
    ) {
        (Ok(pending), Ok(accepted)) => Ok((pending, accepted)),
        (Err(e), _) | (_, Err(e)) => Err(e.to_string()),
    };
    let config = web.reloader.config();
    let categories: Vec<&str> = config.categories().into_iter().collect();
    let when = |c: &Complaint| local_time(c.filed_at, web.now(), &config.server.timezone);
    let csrf = session.csrf.as_str();
    let body = html! {
        @if let Some(f) = &flash { p.flash #flash { (f) } }
        section {
            h2 { "Report a site" }
            form method="post" action=(HERE) {
                (csrf_field(csrf))
                p { input name="name" placeholder="bad.example" required; }
                p { select name="category" { @for c in &categories { option { (c) } } } }
                p { textarea name="comment" rows="2" placeholder="What is wrong with it (optional)" {} }
                p { input name="contact" placeholder="Your contact, for the reviewer (optional)"; }
                button { "Report" }
            }
        }
        @match &lists {
            Err(note) => section { p { em { (note) } } },
            Ok((pending, accepted)) => {
                section #pending {
                    h2 { "Waiting for review (" (pending.len()) ")" }
                    @for c in pending {
                        div.blocked {
                            (summary(c, &when(c)))
                            (decide_button(csrf, c.id, "accept", "Accept: block it"))
                            (decide_button(csrf, c.id, "reject", "Reject"))
                        }
                    }
                }
                section #accepted {
                    h2 { "Blocked after a complaint (" (accepted.len()) ")" }
                    @for c in accepted {
                        div.blocked {
                            (summary(c, &when(c)))
                            (decide_button(csrf, c.id, "remove", "Remove"))
                        }
                    }
                }
            }
        }
    };
    Ok(frame("Complaints", Some(csrf), body).into_response())
}

/// One complaint: the name, its category, who filed it and when, the comment and contact.
fn summary(c: &Complaint, when: &str) -> Markup {
    html! {
        p {
            "#" (c.id) " " strong { (c.name) } " in " (c.category)
            " (by " (c.filed_by) " via " (c.via.as_str()) ", " (when) ")"
            @if let Some(by) = &c.decided_by { ", accepted by " (by) }
            @if !c.comment.is_empty() { br; em { (c.comment) } }
            @if let Some(contact) = &c.contact { br; "Contact: " (contact) }
        }
    }
}

fn decide_button(csrf: &str, id: i64, ruling: &str, label: &str) -> Markup {
    html! {
        form.inline method="post" action="/parents/complaints/decide" {
            (csrf_field(csrf))
            input type="hidden" name="id" value=(id);
            input type="hidden" name="ruling" value=(ruling);
            button { (label) }
        }
    }
}

#[derive(serde::Deserialize)]
pub(super) struct FileForm {
    csrf: String,
    #[serde(flatten)]
    filing: Filing,
}

pub(super) async fn file(
    State(web): State<Web>,
    headers: HeaderMap,
    axum::Form(form): axum::Form<FileForm>,
) -> Result<Response, WebError> {
    let id = session_for_post(&web, &headers, &form.csrf)?;
    let config = web.reloader.config();
    let filed = web
        .complaints
        .file(form.filing, (Via::Page, BY), &config, web.now())
        .await;
    let message = outcome(filed, |c| {
        format!(
            "Complaint #{} about {} filed: it waits for review below.",
            c.id, c.name
        )
    })?;
    Ok(done(&web, &id, message, HERE))
}

#[derive(serde::Deserialize)]
pub(super) struct DecideForm {
    csrf: String,
    id: i64,
    ruling: Ruling,
}

pub(super) async fn decide(
    State(web): State<Web>,
    headers: HeaderMap,
    axum::Form(form): axum::Form<DecideForm>,
) -> Result<Response, WebError> {
    let id = session_for_post(&web, &headers, &form.csrf)?;
    let config = web.reloader.config();
    let decided = web
        .complaints
        .decide(form.id, form.ruling, BY, &config, web.now())
        .await;
    let message = outcome(decided, |c| match c.status {
        Status::Accepted => format!("{} is blocked in category {} now.", c.name, c.category),
        Status::Pending => format!("#{} waits for review.", c.id),
        _ => format!(
            "#{} {}: {} is not blocked by it.",
            c.id,
            c.status.as_str(),
            c.name
        ),
    })?;
    Ok(done(&web, &id, message, HERE))
}

/// The page's message for a filing or decision: what happened, or why it was refused (the
/// parent sees the reason where the form is). Only a failure of the server is an error page.
fn outcome(
    result: Result<Complaint, ComplaintError>,
    said: impl FnOnce(&Complaint) -> String,
) -> Result<String, WebError> {
    match result {
        Ok(c) => Ok(said(&c)),
        Err(e) if e.is_internal() => Err(WebError::Internal(e.to_string())),
        Err(e) => Ok(format!("Not done: {e}")),
    }
}
