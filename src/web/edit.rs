//! Profile editing: blocked categories, `allow` and `deny`, written back to the profile's
//! TOML file with `toml_edit`, so the parent's comments and the other keys stay as they were.
//!
//! An edit is checked as the new text of the file ([`config::check_profile`]) before it is
//! written; a bad one is shown with its errors and the file is left alone. A good one is
//! written atomically (temp file, rename), and the config watcher reloads it as it reloads
//! any edit, so the page and a text editor are the same path.

use std::sync::Mutex;

use axum::extract::{Query, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use maud::{Markup, html};
use toml_edit::{Array, DocumentMut, Item, Value};

use super::{Web, WebError, done, render, session, session_for_post};
use crate::config::{self, ProfileConfig};

/// One edit of a profile file at a time: "always allow" and a save must not both read the
/// old file and write over each other.
static WRITING: Mutex<()> = Mutex::new(());

/// The profile of the live config named `name` (its file is taken from there, never from the
/// form).
fn profile(web: &Web, name: &str) -> Result<ProfileConfig, WebError> {
    web.reloader
        .config()
        .profiles
        .iter()
        .find(|p| p.name == name)
        .cloned()
        .ok_or_else(|| WebError::BadRequest(format!("no profile named `{name}`")))
}

/// Sets `key` to the array `values`, in place when it is already an array, so that the
/// comment after it stays.
fn set_array(doc: &mut DocumentMut, key: &str, values: &[String]) {
    match doc.get_mut(key).and_then(Item::as_array_mut) {
        Some(array) => {
            array.clear();
            for v in values {
                array.push(v.as_str());
            }
        }
        None => {
            let array: Array = values.iter().map(String::as_str).collect();
            doc.insert(key, Item::Value(Value::Array(array)));
        }
    }
}

/// Applies `change` to the profile's file, checks the result as a profile and writes it.
/// The outer error is a failure to edit at all; the inner one the check's errors (the file
/// is then untouched).
fn update(
    web: &Web,
    name: &str,
    change: impl FnOnce(&mut DocumentMut),
) -> Result<Result<(), String>, WebError> {
    let profile = profile(web, name)?;
    let _writing = WRITING.lock().expect("not poisoned");
    let text = std::fs::read_to_string(&profile.file)
        .map_err(|e| WebError::Internal(format!("cannot read {}: {e}", profile.file.display())))?;
    let mut doc: DocumentMut = match text.parse() {
        Ok(doc) => doc,
        Err(e) => return Ok(Err(format!("{}: {e}", profile.file.display()))),
    };
    change(&mut doc);
    let new = doc.to_string();
    if let Err(errors) = config::check_profile(&web.reloader.config(), &profile.file, &new) {
        return Ok(Err(errors.to_string()));
    }
    crate::atomic_file::write(&profile.file, new.as_bytes())
        .map_err(|e| WebError::Internal(format!("cannot write {}: {e}", profile.file.display())))?;
    Ok(Ok(()))
}

/// "Always": adds `name` to the profile's `allow`, unless it is there already.
pub(super) fn allow_always(
    web: &Web,
    profile_name: &str,
    name: &str,
) -> Result<Result<(), String>, WebError> {
    let mut allow = profile(web, profile_name)?.allow;
    let name = name.trim().trim_end_matches('.').to_lowercase();
    if !allow.contains(&name) {
        allow.push(name);
    }
    update(web, profile_name, |doc| set_array(doc, "allow", &allow))
}

/// Names typed one per line (commas and spaces separate too; `#` starts a comment).
fn names(text: &str) -> Vec<String> {
    text.lines()
        .map(|l| l.split('#').next().unwrap_or(""))
        .flat_map(|l| l.split([',', ' ', '\t']))
        .map(str::trim)
        .filter(|n| !n.is_empty())
        .map(str::to_owned)
        .collect()
}

/// What the form shows: the profile's values, or what the parent typed when it was refused.
struct Form {
    profile: String,
    block: Vec<String>,
    allow: String,
    deny: String,
}

fn form_page(web: &Web, form: &Form, csrf: &str, error: Option<&str>) -> Markup {
    let config = web.reloader.config();
    let categories = config.categories();
    render::page(
        &format!("Edit {}", form.profile),
        Some(csrf),
        html! {
            section {
                h2 { "Edit " (form.profile) }
                @if let Some(e) = error {
                    p { strong { "Not saved: the profile would not load." } }
                    pre.error #error { (e) }
                }
                form method="post" action="/parents/profile" {
                    input type="hidden" name="csrf" value=(csrf);
                    input type="hidden" name="profile" value=(form.profile);
                    h3 { "Blocked categories" }
                    @for c in &categories {
                        label.cat {
                            input type="checkbox" name="block" value=(c)
                                checked[form.block.iter().any(|b| b == c)];
                            " " (c)
                        }
                    }
                    h3 { "Always allowed (one name per line)" }
                    textarea name="allow" rows="5" { (form.allow) }
                    h3 { "Always blocked (one name per line)" }
                    textarea name="deny" rows="5" { (form.deny) }
                    p { button #save { "Save" } " " a href="/parents" { "Cancel" } }
                }
            }
        },
    )
}

#[derive(serde::Deserialize)]
pub(super) struct Which {
    profile: String,
}

pub(super) async fn edit_form(
    State(web): State<Web>,
    headers: HeaderMap,
    Query(which): Query<Which>,
) -> Result<Response, WebError> {
    let (_, session) = session(&web, &headers)?;
    let p = profile(&web, &which.profile)?;
    let form = Form {
        profile: p.name,
        block: p.block,
        allow: p.allow.join("\n"),
        deny: p.deny.join("\n"),
    };
    Ok(form_page(&web, &form, &session.csrf, None).into_response())
}

/// The posted form: repeated `block` fields, so read as pairs.
pub(super) async fn save(
    State(web): State<Web>,
    headers: HeaderMap,
    axum::Form(fields): axum::Form<Vec<(String, String)>>,
) -> Result<Response, WebError> {
    let field = |key: &str| {
        fields
            .iter()
            .find(|(k, _)| k == key)
            .map(|(_, v)| v.clone())
            .unwrap_or_default()
    };
    let id = session_for_post(&web, &headers, &field("csrf"))?;
    let form = Form {
        profile: field("profile"),
        block: fields
            .iter()
            .filter(|(k, _)| k == "block")
            .map(|(_, v)| v.clone())
            .collect(),
        allow: field("allow"),
        deny: field("deny"),
    };
    let (allow, deny) = (names(&form.allow), names(&form.deny));
    let w = web.clone();
    let (name, block) = (form.profile.clone(), form.block.clone());
    let result = tokio::task::spawn_blocking(move || {
        update(&w, &name, |doc| {
            set_array(doc, "block", &block);
            set_array(doc, "allow", &allow);
            set_array(doc, "deny", &deny);
        })
    })
    .await
    .map_err(|e| WebError::Internal(e.to_string()))??;
    match result {
        Ok(()) => {
            let message = format!(
                "{} saved: the resolver applies it within a few seconds.",
                form.profile
            );
            Ok(done(&web, &id, message, "/parents"))
        }
        Err(errors) => {
            let csrf = field("csrf");
            Ok((
                StatusCode::UNPROCESSABLE_ENTITY,
                form_page(&web, &form, &csrf, Some(&errors)),
            )
                .into_response())
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn arrays_are_replaced_in_place_and_comments_stay() {
        let text = "# Emma's profile\nblock = [\"adult\"] # the basics\nsafe_search = true # strict\n\n# Bedtime\n[[schedule]]\ndays = [\"mon\"]\nfrom = \"21:00\"\nto = \"07:00\"\nblock_all = true\n";
        let mut doc: DocumentMut = text.parse().unwrap();
        set_array(&mut doc, "block", &["adult".into(), "gambling".into()]);
        set_array(&mut doc, "deny", &["tiktok.com".into()]);
        let out = doc.to_string();
        for kept in ["# Emma's profile", "# the basics", "# strict", "# Bedtime"] {
            assert!(out.contains(kept), "{out}");
        }
        assert!(out.contains(r#"block = ["adult", "gambling"]"#), "{out}");
        let deny = out.find("deny = [\"tiktok.com\"]").expect("deny added");
        assert!(
            deny < out.find("[[schedule]]").unwrap(),
            "top-level keys before tables: {out}"
        );
    }

    #[test]
    fn names_are_read_one_per_line() {
        assert_eq!(
            names("a.com\n  b.com, c.com # note\n\n# d.com\n"),
            ["a.com", "b.com", "c.com"]
        );
    }
}
