//! The complaints API on the metrics listener, and (`cli`) the commands that call it: the
//! HTTP side of [`crate::complaints`], as `admin` is of the timed exceptions.
//!
//! The API has tokens of its own
//! (`[[complaints.token]]`), apart from the admin token: a school or an operator gets a
//! reporter's token that can file and nothing else.
//!
//! - `POST /api/complaints` with JSON `{"name", "category", "comment", "contact"}`: files
//!   (any token); 201 and the complaint as JSON.
//! - `GET /api/complaints?status=pending&limit=100`: lists, newest first (reviewer).
//! - `POST /api/complaints/{id}/accept|reject|remove`: decides (reviewer); the name is blocked
//!   or unblocked when the answer comes.
//!
//! The token's name is recorded as who filed or decided. Errors are one line of text.
//! Tokens are read from the live config on each request, so a reload rotates them.

use std::sync::Arc;

use axum::extract::{Path, Query, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::post;
use axum::{Json, Router};
use serde::Deserialize;

pub mod cli;

use crate::admin::{bearer, same_secret};
use crate::complaints::{
    ComplaintError, Complaints, Filing, MAX_LISTED, Ruling, Status, StoreError, Via,
};
use crate::config::{ComplaintToken, Config, Role};
use crate::reload::Reloader;
use crate::server::Clock;

#[derive(Clone)]
struct Api {
    /// The live config: tokens, categories, bounds.
    reloader: Arc<Reloader>,
    complaints: Arc<Complaints>,
    clock: Clock,
}

pub fn router(reloader: Arc<Reloader>, complaints: Arc<Complaints>, clock: Clock) -> Router {
    Router::new()
        .route("/api/complaints", post(file).get(list))
        .route("/api/complaints/{id}/{ruling}", post(decide))
        .with_state(Api {
            reloader,
            complaints,
            clock,
        })
}

/// An answer that is not a success: a status and a line saying why.
struct Failure(StatusCode, String);

impl IntoResponse for Failure {
    fn into_response(self) -> Response {
        (self.0, format!("{}\n", self.1)).into_response()
    }
}

impl From<ComplaintError> for Failure {
    fn from(e: ComplaintError) -> Failure {
        let status = match &e {
            _ if e.is_internal() => StatusCode::INTERNAL_SERVER_ERROR,
            ComplaintError::Unavailable => StatusCode::SERVICE_UNAVAILABLE,
            ComplaintError::Filing(_) => StatusCode::BAD_REQUEST,
            ComplaintError::TooManyFilings { .. }
            | ComplaintError::Store(StoreError::TooManyPending(_)) => StatusCode::TOO_MANY_REQUESTS,
            ComplaintError::Store(StoreError::NotFound(_)) => StatusCode::NOT_FOUND,
            ComplaintError::Store(
                StoreError::Duplicate { .. }
                | StoreError::Transition { .. }
                | StoreError::TooManyAccepted(_),
            ) => StatusCode::CONFLICT,
            // The internal ones, handled first.
            ComplaintError::Task(_) | ComplaintError::Store(_) => StatusCode::INTERNAL_SERVER_ERROR,
        };
        Failure(status, e.to_string())
    }
}

/// The live config and the request's token, when the token may do what a `needs` may.
fn caller(
    api: &Api,
    headers: &HeaderMap,
    needs: Role,
) -> Result<(Arc<Config>, ComplaintToken), Failure> {
    let config = api.reloader.config();
    if config.complaints.tokens.is_empty() {
        return Err(Failure(
            StatusCode::NOT_FOUND,
            "the complaints API is off: the config has no [[complaints.token]]".into(),
        ));
    }
    let given = bearer(headers);
    let token = config
        .complaints
        .tokens
        .iter()
        .find(|t| same_secret(given, &t.secret))
        .cloned()
        .ok_or_else(|| {
            Failure(
                StatusCode::UNAUTHORIZED,
                "missing or wrong bearer token".into(),
            )
        })?;
    if needs == Role::Reviewer && token.role != Role::Reviewer {
        return Err(Failure(
            StatusCode::FORBIDDEN,
            format!(
                "token `{}` is a reporter's: only a reviewer's token can do this",
                token.name
            ),
        ));
    }
    Ok((config, token))
}

/// The body of `POST /api/complaints`.
#[derive(Deserialize)]
struct FileRequest {
    #[serde(flatten)]
    filing: Filing,
    /// `cli` when `familydns report` sends it; anything else counts as the API.
    via: Option<Via>,
}

async fn file(
    State(api): State<Api>,
    headers: HeaderMap,
    Json(request): Json<FileRequest>,
) -> Result<Response, Failure> {
    let (config, token) = caller(&api, &headers, Role::Reporter)?;
    let via = match request.via {
        Some(Via::Cli) => Via::Cli,
        _ => Via::Api,
    };
    let complaint = api
        .complaints
        .file(request.filing, (via, &token.name), &config, (api.clock)())
        .await?;
    Ok((StatusCode::CREATED, Json(complaint)).into_response())
}

#[derive(Deserialize)]
struct ListQuery {
    status: Option<Status>,
    limit: Option<u32>,
}

async fn list(
    State(api): State<Api>,
    headers: HeaderMap,
    Query(q): Query<ListQuery>,
) -> Result<Response, Failure> {
    caller(&api, &headers, Role::Reviewer)?;
    let listed = api
        .complaints
        .list(q.status, q.limit.unwrap_or(MAX_LISTED))
        .await?;
    Ok(Json(listed).into_response())
}

async fn decide(
    State(api): State<Api>,
    headers: HeaderMap,
    Path((id, ruling)): Path<(i64, String)>,
) -> Result<Response, Failure> {
    let (config, token) = caller(&api, &headers, Role::Reviewer)?;
    let ruling = Ruling::parse(&ruling).ok_or_else(|| {
        Failure(
            StatusCode::NOT_FOUND,
            format!("`{ruling}` is not a decision: accept, reject or remove"),
        )
    })?;
    let complaint = api
        .complaints
        .decide(id, ruling, &token.name, &config, (api.clock)())
        .await?;
    Ok(Json(complaint).into_response())
}
