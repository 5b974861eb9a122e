//! `GET /trends?since=30d&format=json|csv` on the metrics listener: the shared (noisy)
//! report, for a coordinating party that collects it from many instances. It needs
//! `Authorization: Bearer <trends.token>` and answers 404 while no token is set.

use std::sync::Arc;

use axum::Router;
use axum::extract::{Query, State};
use axum::http::{HeaderMap, StatusCode, header};
use axum::response::{IntoResponse, Response};
use axum::routing::get;

use super::{Clock, View, read, since_day};
use crate::reload::Reloader;
use crate::secret::same_secret;

#[derive(Clone)]
struct Trends {
    reloader: Arc<Reloader>,
    clock: Clock,
}

#[derive(serde::Deserialize)]
struct Params {
    since: Option<String>,
    format: Option<String>,
}

/// The route, served from the live config (a reload may set, change or remove the token).
pub fn router(reloader: Arc<Reloader>, clock: Clock) -> Router {
    Router::new()
        .route("/trends", get(trends))
        .with_state(Trends { reloader, clock })
}

async fn trends(
    State(state): State<Trends>,
    headers: HeaderMap,
    Query(params): Query<Params>,
) -> Response {
    let config = state.reloader.config();
    let Some(trends) = config.trends.clone().filter(|t| t.token.is_some()) else {
        return (StatusCode::NOT_FOUND, "trends are off (no trends.token)\n").into_response();
    };
    let given = headers
        .get(header::AUTHORIZATION)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.strip_prefix("Bearer "))
        .unwrap_or("");
    if !same_secret(given, trends.token.as_deref().unwrap_or("")) {
        return (StatusCode::UNAUTHORIZED, "missing or wrong bearer token\n").into_response();
    }
    let since = match since_day(params.since.as_deref().unwrap_or("30d"), (state.clock)()) {
        Ok(day) => day,
        Err(e) => return (StatusCode::BAD_REQUEST, format!("since: {e}\n")).into_response(),
    };
    let csv = match params.format.as_deref() {
        None | Some("json") => false,
        Some("csv") => true,
        Some(other) => {
            let e = format!("format: expected json or csv, not `{other}`\n");
            return (StatusCode::BAD_REQUEST, e).into_response();
        }
    };
    match tokio::task::spawn_blocking(move || read(&trends, View::Shared, since)).await {
        Ok(Ok(report)) if csv => {
            ([(header::CONTENT_TYPE, "text/csv")], report.to_csv()).into_response()
        }
        Ok(Ok(report)) => (
            [(header::CONTENT_TYPE, "application/json")],
            report.to_json(),
        )
            .into_response(),
        Ok(Err(e)) => (StatusCode::INTERNAL_SERVER_ERROR, format!("{e}\n")).into_response(),
        Err(e) => (StatusCode::INTERNAL_SERVER_ERROR, format!("{e}\n")).into_response(),
    }
}
