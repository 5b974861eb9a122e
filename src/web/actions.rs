//! The buttons: pause and resume a profile, allow a name for a while or always (also as the
//! answer to a child's ask), decline an ask, grant more budget for today. Timed ones go
//! through [`Overrides`](crate::overrides::Overrides), and grants through
//! [`Budgets`](crate::budget::Budgets), exactly as the admin endpoint's do;
//! "always" adds the name to the profile file's `allow` (see `edit`).

use axum::extract::State;
use axum::http::HeaderMap;
use axum::response::Response;
use jiff::Timestamp;
use jiff::tz::TimeZone;

use super::pages::local_time;
use super::{Web, WebError, done, edit, session_for_post};
use crate::notices::AskState;
use crate::notices::store;
use crate::overrides;

/// The fields of the pause, resume and allow forms; empty fields count as absent.
#[derive(Debug, serde::Deserialize)]
pub(super) struct ActionForm {
    csrf: String,
    profile: String,
    name: Option<String>,
    /// `30m`, `1h`; for allow also `today` and `always`.
    #[serde(rename = "for")]
    duration: Option<String>,
    /// A time of day (`20:00`): pause until then.
    until: Option<String>,
    /// The child's ask this allow answers, if any.
    ask: Option<i64>,
    /// Minutes granted to the profile's budgets for today (`30m`).
    add: Option<String>,
}

fn nonempty(s: &Option<String>) -> Option<&str> {
    s.as_deref().map(str::trim).filter(|s| !s.is_empty())
}

/// The time zone of a profile of the live snapshot.
fn zone(web: &Web, profile: &str) -> Result<TimeZone, WebError> {
    web.reloader
        .profile_zone(profile)
        .map_err(WebError::BadRequest)
}

/// When a pause or allow asked for at `now` ends (`today` ends at local midnight).
fn until(form: &ActionForm, tz: &TimeZone, now: Timestamp) -> Result<Timestamp, WebError> {
    let (duration, until) = match nonempty(&form.duration) {
        Some("today") => (None, Some("00:00")),
        d => (d, nonempty(&form.until)),
    };
    overrides::end_time(duration, until, tz, now).map_err(|e| WebError::BadRequest(e.to_string()))
}

pub(super) async fn pause(
    State(web): State<Web>,
    headers: HeaderMap,
    axum::Form(form): axum::Form<ActionForm>,
) -> Result<Response, WebError> {
    let id = session_for_post(&web, &headers, &form.csrf)?;
    let tz = zone(&web, &form.profile)?;
    let now = web.now();
    let end = until(&form, &tz, now)?;
    web.overrides
        .pause(&form.profile, end, now)
        .map_err(|e| WebError::Internal(e.to_string()))?;
    let message = format!(
        "{} paused until {}.",
        form.profile,
        local_time(end, now, &tz)
    );
    Ok(done(&web, &id, message, "/parents"))
}

pub(super) async fn resume(
    State(web): State<Web>,
    headers: HeaderMap,
    axum::Form(form): axum::Form<ActionForm>,
) -> Result<Response, WebError> {
    let id = session_for_post(&web, &headers, &form.csrf)?;
    zone(&web, &form.profile)?;
    web.overrides
        .clear(&form.profile, web.now())
        .map_err(|e| WebError::Internal(e.to_string()))?;
    let message = format!("{} resumed: pause and timed allows ended.", form.profile);
    Ok(done(&web, &id, message, "/parents"))
}

pub(super) async fn allow(
    State(web): State<Web>,
    headers: HeaderMap,
    axum::Form(form): axum::Form<ActionForm>,
) -> Result<Response, WebError> {
    let id = session_for_post(&web, &headers, &form.csrf)?;
    let tz = zone(&web, &form.profile)?;
    let name = nonempty(&form.name)
        .ok_or_else(|| WebError::BadRequest("which name?".to_owned()))?
        .to_owned();
    let now = web.now();
    let (message, granted) = if nonempty(&form.duration) == Some("always") {
        match edit::allow_always(&web, &form.profile, &name)? {
            Ok(()) => (
                format!("{name} is always allowed for {}.", form.profile),
                Some("always".to_owned()),
            ),
            Err(errors) => (format!("{name} was not added: {errors}"), None),
        }
    } else {
        let end = until(&form, &tz, now)?;
        web.overrides
            .allow(&form.profile, &name, end, now)
            .map_err(|e| WebError::BadRequest(e.to_string()))?;
        let end = local_time(end, now, &tz);
        (
            format!("{name} allowed for {} until {end}.", form.profile),
            Some(format!("until {end}")),
        )
    };
    if let (Some(ask), Some(granted)) = (form.ask, granted) {
        answer_ask(&web, ask, AskState::Approved, Some(granted)).await?;
    }
    Ok(done(&web, &id, message, "/parents"))
}

/// The decline button of an ask.
#[derive(Debug, serde::Deserialize)]
pub(super) struct DeclineForm {
    csrf: String,
    ask: i64,
}

pub(super) async fn decline(
    State(web): State<Web>,
    headers: HeaderMap,
    axum::Form(form): axum::Form<DeclineForm>,
) -> Result<Response, WebError> {
    let id = session_for_post(&web, &headers, &form.csrf)?;
    answer_ask(&web, form.ask, AskState::Declined, None).await?;
    Ok(done(&web, &id, "Declined.".to_owned(), "/parents"))
}

/// Records the parent's answer to an ask in the database the child's page reads.
async fn answer_ask(
    web: &Web,
    ask: i64,
    state: AskState,
    granted: Option<String>,
) -> Result<(), WebError> {
    let config = web.reloader.config();
    let db = config
        .query_log
        .as_ref()
        .map(|l| l.path.clone())
        .ok_or_else(|| WebError::BadRequest("asks need the query log".to_owned()))?;
    let now = web.now();
    tokio::task::spawn_blocking(move || {
        let conn = store::open(&db).map_err(|e| e.to_string())?;
        store::decide(&conn, ask, state, granted.as_deref(), now).map_err(|e| e.to_string())
    })
    .await
    .map_err(|e| WebError::Internal(e.to_string()))?
    .map_err(WebError::Internal)?;
    Ok(())
}

pub(super) async fn budget(
    State(web): State<Web>,
    headers: HeaderMap,
    axum::Form(form): axum::Form<ActionForm>,
) -> Result<Response, WebError> {
    let id = session_for_post(&web, &headers, &form.csrf)?;
    let add = nonempty(&form.add).ok_or_else(|| WebError::BadRequest("how long?".to_owned()))?;
    let now = web.now();
    let left = web
        .reloader
        .with_profile(&form.profile, |p| {
            web.budgets.grant(p.budget_owner(), add, now)
        })
        .map_err(WebError::BadRequest)?
        .map_err(|e| WebError::BadRequest(e.to_string()))?;
    let left: Vec<String> = left
        .iter()
        .map(|l| format!("{}: {} min", l.budget, l.minutes()))
        .collect();
    let message = format!("{} has {} left today.", form.profile, left.join("; "));
    Ok(done(&web, &id, message, "/parents"))
}
