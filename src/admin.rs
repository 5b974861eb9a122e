//! The admin endpoints on the metrics listener, and the CLI's client for them.
//!
//! `POST /admin/reload`, `POST /admin/allow?profile=kids&name=youtube.com&for=45m`,
//! `POST /admin/pause?profile=kids&until=20:00` (or `&for=30m`),
//! `POST /admin/resume?profile=kids`, `POST /admin/budget?profile=kids&add=30m`,
//! `GET /admin/overrides`, `GET /admin/log?profile=kids`.
//! Every request needs `Authorization: Bearer <metrics.admin_token>`; without a token in the
//! config the endpoints do not exist. They answer only where the metrics listener listens
//! (loopback by default).

use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use axum::Router;
use axum::extract::{Query, State};
use axum::http::{HeaderMap, StatusCode, header};
use axum::routing::{get, post};
use jiff::Timestamp;

use crate::budget::Budgets;
use crate::overrides::{self, Overrides};
use crate::reload::Reloader;
use crate::server::Clock;

#[derive(Clone)]
struct Admin {
    /// Also the source of the token: a rotated `admin_token` is checked from the moment
    /// its reload ends, on connections already open too.
    reloader: Arc<Reloader>,
    overrides: Arc<Overrides>,
    budgets: Arc<Budgets>,
    /// The server's clock: "for 45m" starts when the queries' clock says it is now.
    clock: Clock,
}

type Reply = (StatusCode, String);

pub fn router(
    reloader: Arc<Reloader>,
    overrides: Arc<Overrides>,
    budgets: Arc<Budgets>,
    clock: Clock,
) -> Router {
    let admin = Admin {
        reloader,
        overrides,
        budgets,
        clock,
    };
    Router::new()
        .route("/admin/reload", post(reload))
        .route("/admin/allow", post(allow))
        .route("/admin/pause", post(pause))
        .route("/admin/resume", post(resume))
        .route("/admin/budget", post(budget))
        .route("/admin/overrides", get(list))
        .route("/admin/log", get(log))
        .with_state(admin)
}

/// The bearer token of a request (empty when it has none).
pub(crate) fn bearer(headers: &HeaderMap) -> &str {
    headers
        .get(header::AUTHORIZATION)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.strip_prefix("Bearer "))
        .unwrap_or("")
}

/// Where the CLI reaches the server's metrics listener: its address, or loopback when it
/// listens on every address.
pub fn endpoint(metrics: &crate::config::MetricsConfig) -> SocketAddr {
    let mut addr = metrics.listen;
    if addr.ip().is_unspecified() {
        addr.set_ip(std::net::Ipv4Addr::LOCALHOST.into());
    }
    addr
}

fn authorized(admin: &Admin, headers: &HeaderMap) -> Result<(), Reply> {
    let given = bearer(headers);
    let config = admin.reloader.config();
    let token = config
        .metrics
        .as_ref()
        .and_then(|m| m.admin_token.as_deref())
        .unwrap_or("");
    if same_secret(given, token) {
        Ok(())
    } else {
        Err((
            StatusCode::UNAUTHORIZED,
            "missing or wrong bearer token\n".into(),
        ))
    }
}

/// The parents' page checks its CSRF tokens with this too.
pub(crate) use crate::secret::same_secret;

/// The query parameters of the admin endpoints, percent-decoded by axum's `Query`.
#[derive(Debug, Default, serde::Deserialize)]
struct Params {
    profile: Option<String>,
    name: Option<String>,
    #[serde(rename = "for")]
    duration: Option<String>,
    until: Option<String>,
    /// Minutes granted to a profile's budgets for today (`30m`).
    add: Option<String>,
}

/// Rows `GET /admin/log` returns at most, whatever `limit` asks.
const MAX_LOG_ROWS: usize = 10_000;

fn bad(message: impl Into<String>) -> Reply {
    (StatusCode::BAD_REQUEST, format!("{}\n", message.into()))
}

/// The profile named in the request, checked against the live configuration.
fn profile<'p>(admin: &Admin, p: &'p Params) -> Result<(&'p str, jiff::tz::TimeZone), Reply> {
    let name = p
        .profile
        .as_deref()
        .ok_or_else(|| bad("missing `profile`"))?;
    Ok((name, admin.reloader.profile_zone(name).map_err(bad)?))
}

/// `for=45m` from now, or `until=20:00` (see [`overrides::end_time`]).
fn end_time(p: &Params, tz: &jiff::tz::TimeZone, now: Timestamp) -> Result<Timestamp, Reply> {
    overrides::end_time(p.duration.as_deref(), p.until.as_deref(), tz, now)
        .map_err(|e| bad(e.to_string()))
}

async fn reload(State(admin): State<Admin>, headers: HeaderMap) -> Reply {
    if let Err(e) = authorized(&admin, &headers) {
        return e;
    }
    match admin.reloader.reload().await {
        Ok(()) => (StatusCode::OK, "reloaded\n".into()),
        Err(e) => (
            StatusCode::UNPROCESSABLE_ENTITY,
            format!("reload failed, still serving the last good configuration:\n{e}\n"),
        ),
    }
}

async fn allow(State(admin): State<Admin>, headers: HeaderMap, Query(p): Query<Params>) -> Reply {
    let result = (|| {
        authorized(&admin, &headers)?;
        let (profile, tz) = profile(&admin, &p)?;
        let name = p.name.as_deref().ok_or_else(|| bad("missing `name`"))?;
        let now = (admin.clock)();
        let until = end_time(&p, &tz, now)?;
        admin
            .overrides
            .allow(profile, name, until, now)
            .map_err(|e| bad(e.to_string()))?;
        Ok((
            StatusCode::OK,
            format!(
                "{name} allowed for profile {profile} until {}\n",
                until.to_zoned(tz)
            ),
        ))
    })();
    result.unwrap_or_else(|e| e)
}

async fn pause(State(admin): State<Admin>, headers: HeaderMap, Query(p): Query<Params>) -> Reply {
    let result = (|| {
        authorized(&admin, &headers)?;
        let (profile, tz) = profile(&admin, &p)?;
        let now = (admin.clock)();
        let until = end_time(&p, &tz, now)?;
        admin
            .overrides
            .pause(profile, until, now)
            .map_err(|e| bad(e.to_string()))?;
        Ok((
            StatusCode::OK,
            format!("profile {profile} paused until {}\n", until.to_zoned(tz)),
        ))
    })();
    result.unwrap_or_else(|e| e)
}

async fn resume(State(admin): State<Admin>, headers: HeaderMap, Query(p): Query<Params>) -> Reply {
    let result = (|| {
        authorized(&admin, &headers)?;
        let (profile, _) = profile(&admin, &p)?;
        admin
            .overrides
            .clear(profile, (admin.clock)())
            .map_err(|e| bad(e.to_string()))?;
        Ok((
            StatusCode::OK,
            format!("profile {profile}: pause and timed exceptions ended\n"),
        ))
    })();
    result.unwrap_or_else(|e| e)
}

/// `add=30m` more for today to every budget of the profile; answers what is left.
async fn budget(State(admin): State<Admin>, headers: HeaderMap, Query(p): Query<Params>) -> Reply {
    let result = (|| {
        authorized(&admin, &headers)?;
        let name = p
            .profile
            .as_deref()
            .ok_or_else(|| bad("missing `profile`"))?;
        let add = p.add.as_deref().ok_or_else(|| bad("missing `add`"))?;
        let now = (admin.clock)();
        let left = admin
            .reloader
            .with_profile(name, |p| admin.budgets.grant(p.budget_owner(), add, now))
            .map_err(bad)?
            .map_err(|e| bad(e.to_string()))?;
        let lines: String = left.iter().map(|l| format!("{name}: {l}\n")).collect();
        Ok((StatusCode::OK, lines))
    })();
    result.unwrap_or_else(|e| e)
}

/// `GET /admin/log?profile=kids&blocked=true&since=2h&device=…&name=…&limit=…`: the query
/// log as JSON, newest first (what `familydns log --json` prints).
async fn log(
    State(admin): State<Admin>,
    headers: HeaderMap,
    Query(request): Query<crate::querylog::Request>,
) -> Result<axum::Json<Vec<crate::querylog::Row>>, Reply> {
    authorized(&admin, &headers)?;
    let config = admin.reloader.config();
    let path = config
        .query_log
        .as_ref()
        .map(|l| l.path.clone())
        .ok_or_else(|| (StatusCode::NOT_FOUND, "the query log is off\n".into()))?;
    let filter = request.filter((admin.clock)(), MAX_LOG_ROWS).map_err(bad)?;
    let failed = |e: String| (StatusCode::INTERNAL_SERVER_ERROR, format!("{e}\n"));
    let rows = tokio::task::spawn_blocking(move || {
        let conn = crate::querylog::open_read_only(&path).map_err(|e| e.to_string())?;
        crate::querylog::rows(&conn, &filter).map_err(|e| e.to_string())
    })
    .await
    .map_err(|e| failed(e.to_string()))?
    .map_err(failed)?;
    Ok(axum::Json(rows))
}

async fn list(State(admin): State<Admin>, headers: HeaderMap) -> Reply {
    if let Err(e) = authorized(&admin, &headers) {
        return e;
    }
    (StatusCode::OK, admin.overrides.describe())
}

/// The CLI side: POSTs to `path` on the running server with `params` in the query string
/// (percent-encoded, so any profile or name arrives as written) and returns the status and
/// body.
pub async fn request(
    addr: SocketAddr,
    token: &str,
    path: &str,
    params: &[(&str, &str)],
) -> Result<(u16, String), reqwest::Error> {
    send(reqwest::Method::POST, addr, token, path, params, None).await
}

/// As [`request`], with GET: the endpoints that only read (`/admin/log`).
pub async fn request_get(
    addr: SocketAddr,
    token: &str,
    path: &str,
    params: &[(&str, &str)],
) -> Result<(u16, String), reqwest::Error> {
    send(reqwest::Method::GET, addr, token, path, params, None).await
}

/// Sends `method` to `path` on the running server with `params` in the query string and,
/// when given, `body` as JSON (the complaints API's CLI); returns the status and body.
pub async fn send(
    method: reqwest::Method,
    addr: SocketAddr,
    token: &str,
    path: &str,
    params: &[(&str, &str)],
    body: Option<&serde_json::Value>,
) -> Result<(u16, String), reqwest::Error> {
    let mut url =
        reqwest::Url::parse(&format!("http://{addr}")).expect("a socket address makes a valid URL");
    url.set_path(path);
    if !params.is_empty() {
        url.query_pairs_mut().extend_pairs(params);
    }
    let request = reqwest::Client::builder()
        .connect_timeout(Duration::from_secs(5))
        // A reload of large lists takes a while; the server ends connections after
        // CONNECTION_LIFETIME anyway.
        .timeout(crate::metrics::CONNECTION_LIFETIME)
        .build()?
        .request(method, url)
        .bearer_auth(token);
    let response = match body {
        Some(body) => request
            .header(reqwest::header::CONTENT_TYPE, "application/json")
            .body(body.to_string()),
        None => request,
    }
    .send()
    .await?;
    let status = response.status().as_u16();
    Ok((status, response.text().await?))
}
