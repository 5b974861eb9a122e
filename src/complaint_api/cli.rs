//! `familydns report NAME --category adult [--comment …] [--contact …]` and
//! `familydns complaints [list [--status pending|accepted|rejected|removed|all] | accept ID |
//! reject ID | remove ID]`.
//!
//! Both go through the running server's complaints API (see [`super`]), so that the
//! server stays the only writer and a decision is in force when the command returns. The
//! token is the config's `[[complaints.token]]` named by `--token`, else the first one that
//! may do what is asked.

use std::path::PathBuf;
use std::process::ExitCode;

use serde_json::{Value, json};

use crate::config::{self, Config, Role};

#[derive(clap::Args)]
pub struct ReportArgs {
    #[arg(long, default_value = "config/familydns.toml")]
    pub config: PathBuf,
    /// The name to block, with its subdomains.
    pub name: String,
    /// A category some `[[list]]` declares.
    #[arg(long)]
    pub category: String,
    #[arg(long, default_value = "")]
    pub comment: String,
    /// How the reviewer can reach you (shown to reviewers only, never published).
    #[arg(long)]
    pub contact: Option<String>,
    /// The `[[complaints.token]]` to file with, by name.
    #[arg(long)]
    pub token: Option<String>,
}

#[derive(clap::Args)]
pub struct ReviewArgs {
    #[arg(long, default_value = "config/familydns.toml")]
    pub config: PathBuf,
    /// The reviewer's `[[complaints.token]]`, by name.
    #[arg(long)]
    pub token: Option<String>,
    #[command(subcommand)]
    pub action: Option<Review>,
}

#[derive(clap::Subcommand)]
pub enum Review {
    /// List complaints, newest first (the pending ones unless `--status` says otherwise).
    List {
        #[arg(long, default_value = "pending")]
        status: String,
    },
    /// Accept: the name is blocked in its category when the command returns.
    Accept { id: i64 },
    /// Reject (also an accepted one, which unblocks it).
    Reject { id: i64 },
    /// Take an accepted name off its list again.
    Remove { id: i64 },
}

/// Files a complaint with the running server.
pub fn report(args: &ReportArgs) -> ExitCode {
    let body = json!({
        "name": args.name,
        "category": args.category,
        "comment": args.comment,
        "contact": args.contact,
        "via": "cli",
    });
    let request = Request {
        method: reqwest::Method::POST,
        path: "/api/complaints".to_owned(),
        query: Vec::new(),
        body: Some(body),
    };
    exit(
        call(&args.config, args.token.as_deref(), Role::Reporter, request)
            .map(|c| format!("filed: {}", line(&c))),
    )
}

/// Lists or decides complaints on the running server.
pub fn review(args: &ReviewArgs) -> ExitCode {
    let (id, verb) = match &args.action {
        None => (None, "pending"),
        Some(Review::List { status }) => (None, status.as_str()),
        Some(Review::Accept { id }) => (Some(id), "accept"),
        Some(Review::Reject { id }) => (Some(id), "reject"),
        Some(Review::Remove { id }) => (Some(id), "remove"),
    };
    let request = match id {
        Some(id) => Request {
            method: reqwest::Method::POST,
            path: format!("/api/complaints/{id}/{verb}"),
            query: Vec::new(),
            body: None,
        },
        None => Request {
            method: reqwest::Method::GET,
            path: "/api/complaints".to_owned(),
            query: match verb {
                "all" => Vec::new(),
                status => vec![("status", status.to_owned())],
            },
            body: None,
        },
    };
    let result = call(&args.config, args.token.as_deref(), Role::Reviewer, request);
    exit(result.map(|answer| match answer.as_array() {
        Some(list) if list.is_empty() => "no complaints".to_owned(),
        Some(list) => list.iter().map(line).collect::<Vec<_>>().join("\n"),
        None => line(&answer),
    }))
}

/// A request to the complaints API.
struct Request {
    method: reqwest::Method,
    path: String,
    query: Vec<(&'static str, String)>,
    body: Option<Value>,
}

fn exit(result: Result<String, String>) -> ExitCode {
    match result {
        Ok(text) => {
            println!("{text}");
            ExitCode::SUCCESS
        }
        Err(e) => {
            eprintln!("{e}");
            ExitCode::FAILURE
        }
    }
}

/// One complaint on one line, as a reviewer reads it.
fn line(c: &Value) -> String {
    let text = |key: &str| c[key].as_str().unwrap_or("").to_owned();
    let mut out = format!(
        "#{} {} {} in {} (by {} via {}, {})",
        c["id"],
        text("status"),
        text("name"),
        text("category"),
        text("filed_by"),
        text("via"),
        text("filed_at"),
    );
    if let Some(by) = c["decided_by"].as_str() {
        out.push_str(&format!(" decided by {by}"));
    }
    if !text("comment").is_empty() {
        out.push_str(&format!(": {:?}", text("comment")));
    }
    if let Some(contact) = c["contact"].as_str() {
        out.push_str(&format!(" [contact: {contact}]"));
    }
    out
}

/// Sends `request` with the token of `config` that fits `role`, and returns the answer's
/// JSON, or the server's error line.
fn call(
    config: &std::path::Path,
    token: Option<&str>,
    role: Role,
    request: Request,
) -> Result<Value, String> {
    let config = config::load(config).map_err(|e| e.to_string())?;
    let secret = pick_token(&config, token, role)?;
    let metrics = config
        .metrics
        .as_ref()
        .ok_or("the config has no [metrics] listener, where the complaints API lives")?;
    let addr = crate::admin::endpoint(metrics);
    let query: Vec<(&str, &str)> = request
        .query
        .iter()
        .map(|(k, v)| (*k, v.as_str()))
        .collect();
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .map_err(|e| e.to_string())?;
    let (status, text) = runtime
        .block_on(crate::admin::send(
            request.method,
            addr,
            secret,
            &request.path,
            &query,
            request.body.as_ref(),
        ))
        .map_err(|e| format!("cannot reach the server at {addr}: {e}"))?;
    if !(200..300).contains(&status) {
        return Err(format!("server answered {status}: {}", text.trim_end()));
    }
    serde_json::from_str(&text).map_err(|e| format!("unexpected answer ({e}): {text}"))
}

/// The secret of the token named `name`, else of the first token that may act as `role`.
fn pick_token<'c>(config: &'c Config, name: Option<&str>, role: Role) -> Result<&'c str, String> {
    let tokens = &config.complaints.tokens;
    let found = match name {
        Some(name) => tokens.iter().find(|t| t.name == name),
        None => tokens
            .iter()
            .find(|t| role == Role::Reporter || t.role == Role::Reviewer),
    };
    found.map(|t| t.secret.as_str()).ok_or_else(|| match name {
        Some(name) => format!("the config has no [[complaints.token]] named `{name}`"),
        None => format!(
            "the config has no [[complaints.token]] with role = \"{}\"",
            if role == Role::Reviewer {
                "reviewer"
            } else {
                "reporter"
            }
        ),
    })
}
