//! The HTML of the pages (maud: checked at compile time, escaped by default). No JavaScript:
//! every button is a form, so the page works on any phone browser.

use maud::{DOCTYPE, Markup, PreEscaped, html};

use super::view::{LogQuery, LogView, Overview, ProfileView};

/// Small enough to inline; readable on a phone (one column, large touch targets).
const CSS: &str = "
body{font-family:system-ui,sans-serif;margin:0;background:#f4f5f7;color:#222}
header{background:#234;color:#fff;padding:.6em 1em;display:flex;gap:1em;align-items:center;flex-wrap:wrap}
header a{color:#fff}header form{margin-left:auto}
main{max-width:46em;margin:auto;padding:.5em}
section{background:#fff;border-radius:.5em;padding:.8em 1em;margin:.8em 0;box-shadow:0 1px 2px #0002}
h2{margin:.2em 0}.status{font-weight:bold}.paused{color:#b30}.ok{color:#275}
button,input,select,textarea{font-size:1em;padding:.45em .7em;margin:.15em 0}
button{border:1px solid #567;border-radius:.3em;background:#eef}
form.inline{display:inline}
.flash{background:#dfd;border:1px solid #8b8;padding:.6em;border-radius:.4em}
.error{background:#fdd;border:1px solid #c88;padding:.6em;border-radius:.4em;white-space:pre-wrap}
table{border-collapse:collapse;width:100%;font-size:.9em}td,th{padding:.3em;border-bottom:1px solid #ddd;text-align:left}
td.time{white-space:nowrap}td.name{overflow-wrap:anywhere}
tr.blocked td{color:#a20}ul.top li,ul.asks li{margin:.3em 0}li.alert{color:#a20}
div.blocked{border-top:1px solid #ddd;padding:.3em 0}p.help{background:#ffe;border:1px solid #cc8;padding:.6em;border-radius:.4em}
textarea{width:100%;box-sizing:border-box;font-family:monospace}
label.cat{display:inline-block;min-width:9em;padding:.2em 0}
";

/// The frame of every page: a viewport for phones and the navigation once logged in.
pub(super) fn page(title: &str, csrf: Option<&str>, body: Markup) -> Markup {
    html! {
        (DOCTYPE)
        html lang="en" {
            head {
                meta charset="utf-8";
                meta name="viewport" content="width=device-width, initial-scale=1";
                title { (title) " · familydns" }
                style { (PreEscaped(CSS)) }
            }
            body {
                header {
                    strong { "familydns" }
                    @if let Some(csrf) = csrf {
                        a href="/parents" { "Overview" }
                        a href="/parents/log" { "Log" }
                        a href="/parents/complaints" { "Complaints" }
                        form.inline method="post" action="/parents/logout" {
                            input type="hidden" name="csrf" value=(csrf);
                            button { "Log out" }
                        }
                    }
                }
                main { (body) }
            }
        }
    }
}

/// A page with one sentence: errors, and "not found".
pub(super) fn message(title: &str, text: &str) -> Markup {
    message_back(title, text, "/parents")
}

/// A page with one sentence and a link back to `back`.
pub(super) fn message_back(title: &str, text: &str, back: &str) -> Markup {
    page(
        title,
        None,
        html! { section { p.error { (text) } p { a href=(back) { "Back" } } } },
    )
}

pub(super) fn login(error: Option<&str>) -> Markup {
    page(
        "Log in",
        None,
        html! {
            section {
                h2 { "Parents' page" }
                @if let Some(e) = error { p.error { (e) } }
                form method="post" action="/parents/login" {
                    label { "Password " input type="password" name="password" autofocus required; }
                    " "
                    button #login { "Log in" }
                }
            }
        },
    )
}

/// A hidden CSRF field: every form carries it and every POST checks it.
pub(super) fn csrf_field(csrf: &str) -> Markup {
    html! { input type="hidden" name="csrf" value=(csrf); }
}

pub(super) fn overview(data: &Overview, csrf: &str, flash: Option<&str>) -> Markup {
    page(
        "Overview",
        Some(csrf),
        html! {
            @if let Some(f) = flash { p.flash #flash { (f) } }
            @if let Some(note) = &data.log_note { p { em { (note) } } }
            @for p in &data.profiles { (profile(p, csrf)) }
        },
    )
}

fn status(p: &ProfileView) -> Markup {
    html! {
        p.status {
            @if let Some(until) = &p.paused_until {
                span.paused { "Paused until " (until) }
            } @else if p.bedtime {
                span.paused { "Bedtime: only allowed names resolve" }
            } @else if p.schedule_blocks {
                span.paused { "School hours: more categories blocked" }
            } @else {
                span.ok { "Filtering as usual" }
            }
        }
        @if p.paused_until.is_some() && p.bedtime {
            p { "Bedtime is on as well." }
        }
    }
}

fn profile(p: &ProfileView, csrf: &str) -> Markup {
    html! {
        section id=(format!("profile-{}", p.name)) {
            h2 { (p.name) }
            (status(p))
            form method="post" action="/parents/pause" {
                (csrf_field(csrf))
                input type="hidden" name="profile" value=(p.name);
                "Pause: "
                button name="for" value="30m" { "30 min" } " "
                button name="for" value="1h" { "1 h" } " "
                input type="time" name="until" aria-label="until";
                button { "Until" }
            }
            @if p.paused_until.is_some() || !p.allowed.is_empty() {
                form method="post" action="/parents/resume" {
                    (csrf_field(csrf))
                    input type="hidden" name="profile" value=(p.name);
                    button { "Resume (end pause and timed allows)" }
                }
            }
            @for (name, until) in &p.allowed { p { "Allowed: " (name) " until " (until) } }
            @if !p.alerts.is_empty() {
                h3 { "Alerts today" }
                ul.alerts {
                    @for (time, a) in &p.alerts {
                        li.alert { (time) " " (a.device) ": a site in " strong { (a.category) } " was blocked" }
                    }
                }
            }
            @if !p.asks.is_empty() { (asks(p, csrf)) }
            @if !p.budgets.is_empty() { (budgets(p, csrf)) }
            p.counts { (p.queries) " queries today, " (p.blocked) " blocked" }
            @if !p.by_category.is_empty() { (chart(&p.by_category)) }
            @if !p.top_blocked.is_empty() {
                h3 { "Blocked most today" }
                ul.top {
                    @for (name, n) in &p.top_blocked {
                        li { (name) " (" (n) ") " (allow_form(&p.name, Some(name), None, csrf)) }
                    }
                }
            }
            h3 { "Allow a name" }
            (allow_form(&p.name, None, None, csrf))
            p { a href=(format!("/parents/profile?profile={}", p.name)) { "Edit categories, allow and deny" }
                " · "
                a href=(format!("/parents/log?profile={}&blocked=on", p.name)) { "Blocked queries" } }
        }
    }
}

/// The child's asks waiting for an answer: allow for a while, always, or decline.
fn asks(p: &ProfileView, csrf: &str) -> Markup {
    html! {
        h3 { "Asks" }
        ul.asks {
            @for (time, a) in &p.asks {
                li.ask id=(format!("ask-{}", a.id)) {
                    (time) " " (a.device) " asks for " strong { (a.name) }
                    @if !a.reason.is_empty() { ": “" (a.reason) "”" }
                    br;
                    (allow_form(&p.name, Some(&a.name), Some(a.id), csrf))
                    " "
                    form.inline method="post" action="/parents/decline" {
                        (csrf_field(csrf))
                        input type="hidden" name="ask" value=(a.id);
                        button { "Decline" }
                    }
                }
            }
        }
    }
}

/// What is left of each daily budget, and buttons that grant more for today.
fn budgets(p: &ProfileView, csrf: &str) -> Markup {
    html! {
        @for b in &p.budgets {
            p.budget {
                @if b.minutes() == 0 { span.paused { "Budget spent: " } } @else { "Budget left: " }
                (b.budget) ": " (b.minutes()) " of " (b.allowed) " min today"
            }
        }
        form method="post" action="/parents/budget" {
            (csrf_field(csrf))
            input type="hidden" name="profile" value=(p.name);
            "More budget today: "
            button name="add" value="15m" { "+15 min" } " "
            button name="add" value="30m" { "+30 min" } " "
            button name="add" value="1h" { "+1 h" }
        }
    }
}

/// Allow buttons for a name (given, or typed in).
fn allow_form(profile: &str, name: Option<&str>, ask: Option<i64>, csrf: &str) -> Markup {
    html! {
        form.inline method="post" action="/parents/allow" {
            (csrf_field(csrf))
            input type="hidden" name="profile" value=(profile);
            @if let Some(ask) = ask { input type="hidden" name="ask" value=(ask); }
            @match name {
                Some(n) => { input type="hidden" name="name" value=(n); }
                None => { input type="text" name="name" placeholder="example.com" required; }
            }
            " "
            button name="for" value="30m" { "30 min" } " "
            button name="for" value="1h" { "1 h" } " "
            button name="for" value="today" { "Today" } " "
            button name="for" value="always" { "Always" }
        }
    }
}

/// Horizontal bars of blocked queries per category: inline SVG, no script, scales to the
/// screen.
fn chart(bars: &[(String, u64)]) -> Markup {
    const ROW: usize = 26;
    const LABEL: usize = 110;
    const WIDTH: usize = 400;
    let max = bars.iter().map(|b| b.1).max().unwrap_or(1).max(1);
    let height = ROW * bars.len() + 4;
    html! {
        svg.chart viewBox=(format!("0 0 {WIDTH} {height}")) width="100%" role="img"
            aria-label="blocked queries by category" xmlns="http://www.w3.org/2000/svg" {
            @for (i, (category, n)) in bars.iter().enumerate() {
                @let y = i * ROW + 2;
                @let w = (u128::from(*n) * (WIDTH - LABEL - 50) as u128 / u128::from(max)).max(2);
                text x="0" y=(y + 17) font-size="14" { (category) }
                rect x=(LABEL) y=(y + 3) width=(w) height=(ROW - 8) fill="#c44" rx="3" {}
                text x=(LABEL as u128 + w + 6) y=(y + 17) font-size="14" { (n) }
            }
        }
    }
}

pub(super) fn log(view: &LogView, q: &LogQuery, since: &str, csrf: &str) -> Markup {
    let selected = q.profile.as_deref().unwrap_or("");
    page(
        "Log",
        Some(csrf),
        html! {
            section {
                h2 { "Query log" }
                form method="get" action="/parents/log" {
                    select name="profile" aria-label="profile" {
                        option value="" { "every profile" }
                        @for p in &view.profiles {
                            option value=(p) selected[p.as_str() == selected] { (p) }
                        }
                    }
                    " "
                    input type="text" name="device" placeholder="device"
                        value=(q.device.as_deref().unwrap_or(""));
                    " "
                    label { input type="checkbox" name="blocked" checked[q.blocked.is_some()]; " blocked only" }
                    " since "
                    input type="text" name="since" value=(since) size="4";
                    " "
                    button { "Show" }
                }
                @if let Some(note) = &view.note { p { em { (note) } } }
                table {
                    tr { th { "time" } th { "device" } th { "profile" } th { "name" } th { "what" } }
                    @for (time, r) in &view.rows {
                        tr class=(r.decision) {
                            td.time { (time) }
                            td { (r.device) }
                            td { (r.profile) }
                            td.name { (r.name) " " small { (r.qtype) } }
                            td { (r.decision) @if !r.reason.is_empty() { ": " (r.reason) } }
                        }
                    }
                }
                @if view.rows.is_empty() && view.note.is_none() { p { "No queries match." } }
            }
        },
    )
}
