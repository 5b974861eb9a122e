//! The parents' page: server-rendered HTML on the metrics/admin listener, under `/parents`.
//!
//! It exists only while the config has a `[parents]` section: the routes are always mounted,
//! and every request first looks at the live config, so a reload that adds, removes or
//! changes `[parents]` (a new password) applies at once, as a rotated admin token does. The
//! listener's own guard (a public bind needs `metrics.allow_remote`) keeps it off other
//! networks.
//!
//! `auth` is the login (password, sessions, CSRF; [`crate::attempts`] counts logins and asks),
//! `pages` gathers what the pages show, `render` writes the HTML, `actions` are the buttons
//! (pause, resume, allow, decline an ask, more budget), `edit` writes a profile back to its
//! TOML file, `complaints` files and reviews complaints about names, and `child` is the
//! child's page at `/`, where a device sees its blocks and asks.

mod actions;
mod auth;
mod child;
mod complaints;
mod edit;
mod pages;
mod render;
mod view;

use std::net::{IpAddr, SocketAddr};
use std::sync::{Arc, Mutex};

use axum::Router;
use axum::extract::{ConnectInfo, Request, State};
use axum::http::{HeaderMap, StatusCode, header};
use axum::middleware::{self, Next};
use axum::response::{IntoResponse, Redirect, Response};
use axum::routing::{get, post};
use jiff::Timestamp;

pub use auth::{PasswordError, hash_password};

use crate::attempts::Attempts;
use crate::budget::Budgets;
use crate::complaints::Complaints;
use crate::config::{Config, ParentsConfig};
use crate::notices::Notifier;
use crate::overrides::Overrides;
use crate::reload::Reloader;
use crate::server::Clock;
use auth::{Session, Sessions};

/// Devices whose asks are counted separately (see [`Attempts`]).
const MAX_ASKING_DEVICES: usize = 1_024;

/// What every handler of the page shares.
#[derive(Clone)]
struct Web {
    /// The live config (`[parents]`, profiles, the query log's path) and snapshot.
    reloader: Arc<Reloader>,
    overrides: Arc<Overrides>,
    budgets: Arc<Budgets>,
    complaints: Arc<Complaints>,
    /// The server's clock: sessions, rate limits and "today" follow the queries' clock.
    clock: Clock,
    sessions: Arc<Mutex<Sessions>>,
    /// Login attempts per source address.
    limiter: Arc<Mutex<Attempts<IpAddr>>>,
    /// Asks per device per hour.
    asks: Arc<Mutex<Attempts<String>>>,
    /// Takes asks to the parent's webhook.
    notices: Arc<Notifier>,
}

impl Web {
    fn now(&self) -> Timestamp {
        (self.clock)()
    }
}

/// The routes of the page. `metrics::serve` gives each request its peer's address
/// (`ConnectInfo`), which the login's rate limit counts by.
pub fn router(
    reloader: Arc<Reloader>,
    overrides: Arc<Overrides>,
    notices: Arc<Notifier>,
    budgets: Arc<Budgets>,
    complaints: Arc<Complaints>,
    clock: Clock,
) -> Router {
    let web = Web {
        reloader,
        overrides,
        budgets,
        complaints,
        clock,
        sessions: Arc::default(),
        limiter: Arc::new(Mutex::new(auth::login_limiter())),
        asks: Arc::new(Mutex::new(Attempts::new(
            std::time::Duration::from_secs(3600),
            MAX_ASKING_DEVICES,
        ))),
        notices,
    };
    Router::new()
        .route("/", get(child::page))
        .route("/ask", post(child::ask))
        .route("/parents", get(pages::overview))
        .route("/parents/login", get(pages::login_form).post(login))
        .route("/parents/logout", post(logout))
        .route("/parents/log", get(pages::log))
        .route("/parents/pause", post(actions::pause))
        .route("/parents/resume", post(actions::resume))
        .route("/parents/allow", post(actions::allow))
        .route("/parents/decline", post(actions::decline))
        .route("/parents/budget", post(actions::budget))
        .route("/parents/profile", get(edit::edit_form).post(edit::save))
        .route(
            "/parents/complaints",
            get(complaints::page).post(complaints::file),
        )
        .route("/parents/complaints/decide", post(complaints::decide))
        .route_layer(middleware::from_fn_with_state(
            web.clone(),
            only_when_configured,
        ))
        .with_state(web)
}

/// Why a request to the page was not served.
#[derive(Debug, thiserror::Error)]
enum WebError {
    #[error("not found")]
    NotFound,
    #[error("log in first")]
    LoggedOut,
    #[error("this form has expired: reload the page and try again")]
    BadCsrf,
    #[error("too many login attempts: wait a minute")]
    TooManyAttempts,
    #[error("{0}")]
    BadRequest(String),
    #[error("{0}")]
    Internal(String),
    /// An error on the child's page, which links back there rather than to the parents'.
    #[error("{1}")]
    Child(StatusCode, String),
}

impl IntoResponse for WebError {
    fn into_response(self) -> Response {
        let status = match &self {
            WebError::NotFound => StatusCode::NOT_FOUND,
            WebError::LoggedOut => return Redirect::to("/parents/login").into_response(),
            WebError::BadCsrf => StatusCode::FORBIDDEN,
            WebError::TooManyAttempts => StatusCode::TOO_MANY_REQUESTS,
            WebError::BadRequest(_) => StatusCode::BAD_REQUEST,
            WebError::Internal(_) => StatusCode::INTERNAL_SERVER_ERROR,
            WebError::Child(status, text) => {
                return (*status, render::message_back("Blocked", text, "/")).into_response();
            }
        };
        (status, render::message("Parents", &self.to_string())).into_response()
    }
}

/// 404 for everything under `/parents` while the live config has no `[parents]`.
async fn only_when_configured(State(web): State<Web>, request: Request, next: Next) -> Response {
    if web.reloader.config().parents.is_none() {
        return WebError::NotFound.into_response();
    }
    next.run(request).await
}

/// The live config and its `[parents]` (present: [`only_when_configured`] ran first, but a
/// reload may have removed it since).
fn parents(web: &Web) -> Result<(Arc<Config>, ParentsConfig), WebError> {
    let config = web.reloader.config();
    let parents = config.parents.clone().ok_or(WebError::NotFound)?;
    Ok((config, parents))
}

/// The logged-in session of a request: its id and a copy of it. A missing or ended session
/// sends the browser to the login form.
fn session(web: &Web, headers: &HeaderMap) -> Result<(String, Session), WebError> {
    let id = headers
        .get_all(header::COOKIE)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .find_map(auth::session_id)
        .ok_or(WebError::LoggedOut)?;
    let mut sessions = web.sessions.lock().expect("not poisoned");
    let session = sessions.get_mut(id, web.now()).ok_or(WebError::LoggedOut)?;
    Ok((id.to_owned(), session.clone()))
}

/// The session of a POST, whose form must carry the session's CSRF token.
fn session_for_post(web: &Web, headers: &HeaderMap, csrf: &str) -> Result<String, WebError> {
    let (id, session) = session(web, headers)?;
    if crate::admin::same_secret(csrf, &session.csrf) {
        Ok(id)
    } else {
        Err(WebError::BadCsrf)
    }
}

/// Leaves `message` for the session's next page and sends the browser there (303, so a
/// reload of that page does not post the form again).
fn done(web: &Web, id: &str, message: String, to: &str) -> Response {
    if let Some(s) = web
        .sessions
        .lock()
        .expect("not poisoned")
        .get_mut(id, web.now())
    {
        s.flash = Some(message);
    }
    Redirect::to(to).into_response()
}

/// The message [`done`] left for the session's next page, if any (shown once).
fn take_flash(web: &Web, id: &str) -> Option<String> {
    web.sessions
        .lock()
        .expect("not poisoned")
        .get_mut(id, web.now())
        .and_then(|s| s.flash.take())
}

#[derive(serde::Deserialize)]
struct LoginForm {
    password: String,
}

async fn login(
    State(web): State<Web>,
    ConnectInfo(peer): ConnectInfo<SocketAddr>,
    axum::Form(form): axum::Form<LoginForm>,
) -> Result<Response, WebError> {
    let (_, parents) = parents(&web)?;
    let now = web.now();
    if !web
        .limiter
        .lock()
        .expect("not poisoned")
        .attempt(peer.ip(), auth::MAX_ATTEMPTS, now)
    {
        return Err(WebError::TooManyAttempts);
    }
    let hash = parents.password_hash.clone();
    let ok = tokio::task::spawn_blocking(move || auth::verify_password(&form.password, &hash))
        .await
        .map_err(|e| WebError::Internal(e.to_string()))?;
    if !ok {
        return Ok((
            StatusCode::UNAUTHORIZED,
            render::login(Some("Wrong password.")),
        )
            .into_response());
    }
    let id = web
        .sessions
        .lock()
        .expect("not poisoned")
        .create(now, parents.session)
        .map_err(|e| WebError::Internal(e.to_string()))?;
    Ok((
        [(header::SET_COOKIE, auth::set_cookie(&id, parents.session))],
        Redirect::to("/parents"),
    )
        .into_response())
}

#[derive(serde::Deserialize)]
struct CsrfForm {
    csrf: String,
}

async fn logout(
    State(web): State<Web>,
    headers: HeaderMap,
    axum::Form(form): axum::Form<CsrfForm>,
) -> Result<Response, WebError> {
    let id = session_for_post(&web, &headers, &form.csrf)?;
    web.sessions.lock().expect("not poisoned").remove(&id);
    Ok((
        [(header::SET_COOKIE, auth::clear_cookie())],
        Redirect::to("/parents/login"),
    )
        .into_response())
}
