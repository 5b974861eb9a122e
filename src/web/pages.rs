//! What the pages show, gathered from the live config and snapshot, the overrides and the
//! query log. `render` turns it into HTML.

use std::collections::HashMap;

use axum::extract::{Query, State};
use axum::http::HeaderMap;
use axum::response::{IntoResponse, Response};
use jiff::Timestamp;
use jiff::tz::TimeZone;

use super::view::{LogQuery, LogView, Overview, ProfileView};
use super::{Web, WebError, render, session, take_flash};
use crate::config::Config;
use crate::notices::store::{self, AskFilter};
use crate::querylog::{self, Filter};

/// Names shown in "top blocked today".
const TOP_BLOCKED: usize = 10;
/// Blocked rows read to find them: a day of a busy child, not the whole log.
const TOP_BLOCKED_SCAN: usize = 5_000;
/// Rows the log page shows at most.
const LOG_ROWS: usize = 300;
/// Pending asks and today's alerts shown per profile at most.
const PENDING_SHOWN: usize = 50;
const ALERTS_SHOWN: usize = 50;

/// `HH:MM` in `tz`, with the day when it is not today.
pub(super) fn local_time(at: Timestamp, now: Timestamp, tz: &TimeZone) -> String {
    let at = at.to_zoned(tz.clone());
    if at.date() == now.to_zoned(tz.clone()).date() {
        at.strftime("%H:%M").to_string()
    } else {
        at.strftime("%a %d %b %H:%M").to_string()
    }
}

/// Local midnight that began today in `tz`.
fn start_of_today(now: Timestamp, tz: &TimeZone) -> Timestamp {
    now.to_zoned(tz.clone())
        .start_of_day()
        .map_or(now, |z| z.timestamp())
}

/// The query log of `config`, opened for reading, or why not.
pub(super) fn open_log(config: &Config) -> Result<rusqlite::Connection, String> {
    let path = &config
        .query_log
        .as_ref()
        .ok_or("The query log is off ([query_log] enabled = false).")?
        .path;
    if !path.exists() {
        return Err("Nothing logged yet.".to_owned());
    }
    querylog::open_read_only(path).map_err(|e| e.to_string())
}

fn overview_data(web: &Web) -> Overview {
    let config = web.reloader.config();
    let snapshot = web.reloader.snapshot().load_full();
    let now = web.now();
    let log = open_log(&config);
    let notices = config
        .query_log
        .as_ref()
        .and_then(|l| store::open(&l.path).ok());
    let mut log_note = log.as_ref().err().cloned();
    let profiles = snapshot
        .profiles
        .iter()
        .map(|p| {
            let tz = &p.timezone;
            let (paused, allowed) = web.overrides.in_force(&p.name, now);
            let effect = p.schedule_effect(now);
            let mut view = ProfileView {
                name: p.name.clone(),
                paused_until: paused.map(|t| local_time(t, now, tz)),
                bedtime: effect.block_all,
                schedule_blocks: effect.categories != 0,
                allowed: allowed
                    .into_iter()
                    .map(|a| (a.name, local_time(a.until, now, tz)))
                    .collect(),
                budgets: web.budgets.left(p.budget_owner(), now),
                queries: 0,
                blocked: 0,
                by_category: Vec::new(),
                top_blocked: Vec::new(),
                asks: Vec::new(),
                alerts: Vec::new(),
            };
            if let Some(db) = &notices
                && let Err(e) = waiting(db, &mut view, start_of_today(now, tz), now, tz)
            {
                log_note = Some(format!("Cannot read asks and alerts: {e}"));
            }
            if let Ok(conn) = &log
                && let Err(e) = today(conn, &mut view, start_of_today(now, tz))
            {
                log_note = Some(format!("Cannot read the query log: {e}"));
            }
            view
        })
        .collect();
    Overview { profiles, log_note }
}

/// Fills the pending asks and today's alerts of `view`.
fn waiting(
    conn: &rusqlite::Connection,
    view: &mut ProfileView,
    since: Timestamp,
    now: Timestamp,
    tz: &TimeZone,
) -> rusqlite::Result<()> {
    let pending = AskFilter {
        profile: Some(&view.name),
        pending_only: true,
        limit: PENDING_SHOWN,
        ..AskFilter::default()
    };
    view.asks = store::asks(conn, &pending)?
        .into_iter()
        .map(|a| (local_time(a.at, now, tz), a))
        .collect();
    view.alerts = store::alerts(conn, &view.name, since, ALERTS_SHOWN)?
        .into_iter()
        .map(|a| (local_time(a.at, now, tz), a))
        .collect();
    Ok(())
}

/// Fills today's counts and top blocked names of `view` from the log.
fn today(
    conn: &rusqlite::Connection,
    view: &mut ProfileView,
    since: Timestamp,
) -> rusqlite::Result<()> {
    for c in querylog::counts(conn, Some(&view.name), since)? {
        view.queries += c.n;
        if c.decision == "blocked" || c.decision == "budget" {
            view.blocked += c.n;
            let category = if c.category.is_empty() {
                "own rules".to_owned()
            } else {
                c.category
            };
            view.by_category.push((category, c.n));
        }
    }
    let rows = querylog::rows(
        conn,
        &Filter {
            profile: Some(view.name.clone()),
            blocked: true,
            since: Some(since),
            limit: TOP_BLOCKED_SCAN,
            ..Filter::default()
        },
    )?;
    view.top_blocked = most_common(rows.into_iter().map(|r| r.name));
    view.by_category
        .sort_by(|a, b| b.1.cmp(&a.1).then(a.0.cmp(&b.0)));
    Ok(())
}

/// The [`TOP_BLOCKED`] most frequent names, most first (ties by name).
fn most_common(names: impl Iterator<Item = String>) -> Vec<(String, u64)> {
    let mut n: HashMap<String, u64> = HashMap::new();
    for name in names {
        *n.entry(name).or_default() += 1;
    }
    let mut top: Vec<(String, u64)> = n.into_iter().collect();
    top.sort_by(|a, b| b.1.cmp(&a.1).then(a.0.cmp(&b.0)));
    top.truncate(TOP_BLOCKED);
    top
}

pub(super) async fn overview(
    State(web): State<Web>,
    headers: HeaderMap,
) -> Result<Response, WebError> {
    let (id, session) = session(&web, &headers)?;
    let flash = take_flash(&web, &id);
    // SQLite reads block: off the async threads.
    let w = web.clone();
    let data = tokio::task::spawn_blocking(move || overview_data(&w))
        .await
        .map_err(|e| WebError::Internal(e.to_string()))?;
    Ok(render::overview(&data, &session.csrf, flash.as_deref()).into_response())
}

pub(super) async fn login_form() -> Response {
    render::login(None).into_response()
}

/// A form field with something in it.
fn given(field: &Option<String>) -> Option<String> {
    field
        .as_deref()
        .map(str::trim)
        .filter(|s| !s.is_empty())
        .map(str::to_owned)
}

pub(super) async fn log(
    State(web): State<Web>,
    headers: HeaderMap,
    Query(q): Query<LogQuery>,
) -> Result<Response, WebError> {
    let (_, session) = session(&web, &headers)?;
    let since_text = given(&q.since).unwrap_or_else(|| "1d".to_owned());
    let since = crate::config::parse_duration(&since_text)
        .and_then(|d| jiff::SignedDuration::try_from(d).ok())
        .and_then(|d| web.now().checked_sub(d).ok())
        .ok_or_else(|| {
            WebError::BadRequest(format!("`{since_text}` is not a duration (e.g. 2h, 1d)"))
        })?;
    let filter = Filter {
        profile: given(&q.profile),
        device: given(&q.device),
        blocked: q.blocked.is_some(),
        since: Some(since),
        name: None,
        limit: LOG_ROWS,
    };
    let w = web.clone();
    let view = tokio::task::spawn_blocking(move || {
        let config = w.reloader.config();
        let now = w.now();
        let tz = &config.server.timezone;
        let profiles = config.profiles.iter().map(|p| p.name.clone()).collect();
        let (rows, note) = match open_log(&config)
            .and_then(|conn| querylog::rows(&conn, &filter).map_err(|e| e.to_string()))
        {
            Ok(rows) => (
                rows.into_iter()
                    .map(|r| (local_time(r.at, now, tz), r))
                    .collect(),
                None,
            ),
            Err(e) => (Vec::new(), Some(e)),
        };
        LogView {
            rows,
            note,
            profiles,
        }
    })
    .await
    .map_err(|e| WebError::Internal(e.to_string()))?;
    Ok(render::log(&view, &q, &since_text, &session.csrf).into_response())
}
