//! The parents' page in a real browser: headless Chromium driven over WebDriver
//! (chromedriver, started here on a free loopback port), against the real server, with the
//! real `dig` asking the resolver what the page changed. Screenshots go to
//! `<target>/screenshots/`.
//!
//! Without `chromium`, `chromedriver` or `dig` (Debian: `chromium chromium-driver dnsutils`;
//! `.ci/run` installs them) the test prints `SKIPPED` and passes.

mod common;

use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::Duration;

use common::daemon::*;
use common::parents::*;
use common::*;
use fantoccini::{Client, ClientBuilder, Locator};

/// Chromium and chromedriver, when they and `dig` are installed; else the test says it
/// skips.
fn programs() -> Option<(PathBuf, PathBuf)> {
    let chromium = find_program(&["chromium", "chromium-browser"]);
    let chromedriver = find_program(&["chromedriver"]);
    let dig_found = find_program(&["dig"]);
    let (Some(chromium), Some(chromedriver), Some(_)) = (chromium, chromedriver, dig_found) else {
        println!("SKIPPED: chromium, chromedriver or dig is not installed");
        return None;
    };
    Some((chromium, chromedriver))
}

/// `dig @127.0.0.1 -p PORT name`: its status word (`NOERROR`, `NXDOMAIN`).
async fn dig(fdns: &Running, name: &str) -> String {
    let addr = fdns.dns_addrs[0];
    let name = name.to_owned();
    let out = tokio::task::spawn_blocking(move || {
        Command::new("dig")
            .args([
                &format!("@{}", addr.ip()),
                "-p",
                &addr.port().to_string(),
                &name,
                "+time=2",
                "+tries=1",
            ])
            .output()
            .unwrap()
    })
    .await
    .unwrap();
    let text = String::from_utf8_lossy(&out.stdout);
    text.split("status: ")
        .nth(1)
        .and_then(|s| s.split(',').next())
        .unwrap_or("no answer")
        .to_owned()
}

/// Waits (bounded) until dig says `want` for `name`: a profile edit is applied by the
/// config watcher's reload, a moment after the page wrote it.
async fn dig_until(fdns: &Running, name: &str, want: &str) {
    let held = eventually(Duration::from_secs(10), async || {
        dig(fdns, name).await == want
    })
    .await;
    assert!(
        held,
        "dig {name}: {} (wanted {want})",
        dig(fdns, name).await
    );
}

fn screenshots_dir() -> PathBuf {
    // `<target>/tmp`, wherever CARGO_TARGET_DIR puts the target directory.
    let dir = Path::new(env!("CARGO_TARGET_TMPDIR"))
        .parent()
        .unwrap()
        .join("screenshots");
    std::fs::create_dir_all(&dir).unwrap();
    dir
}

async fn screenshot(browser: &Client, name: &str) {
    let png = browser.screenshot().await.unwrap();
    assert!(png.starts_with(b"\x89PNG"), "a PNG");
    let path = screenshots_dir().join(name);
    std::fs::write(&path, png).unwrap();
    println!("screenshot: {}", path.display());
}

/// The page's text; empty while the browser is between pages (a click that submits a form
/// returns before the next page is there).
async fn body_text(browser: &Client) -> String {
    match browser.find(Locator::Css("body")).await {
        Ok(body) => body.text().await.unwrap_or_default(),
        Err(_) => String::new(),
    }
}

/// Waits (bounded) until the page shows `needle`; returns its text.
async fn wait_text(browser: &Client, needle: &str) -> String {
    let shown = eventually(Duration::from_secs(10), async || {
        body_text(browser).await.contains(needle)
    })
    .await;
    let text = body_text(browser).await;
    assert!(shown, "the page never showed `{needle}`: {text}");
    text
}

async fn click(browser: &Client, css: &str) {
    browser
        .find(Locator::Css(css))
        .await
        .unwrap_or_else(|e| panic!("{css}: {e}"))
        .click()
        .await
        .unwrap();
}

/// Starts chromedriver on a free loopback port and opens a headless Chromium session with
/// a phone-sized window and a fresh profile directory.
async fn open_browser(chromium: &Path, chromedriver: &Path, profile: &Path) -> (Daemon, Client) {
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let driver = Daemon::start(Command::new(chromedriver).arg(format!("--port={port}")));
    let up = eventually(Duration::from_secs(20), async || {
        tokio::net::TcpStream::connect(("127.0.0.1", port))
            .await
            .is_ok()
    })
    .await;
    assert!(up, "chromedriver listens on {port}");
    let caps = serde_json::json!({
        "goog:chromeOptions": {
            "binary": chromium,
            "args": [
                "--headless", "--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage",
                "--no-first-run", "--disable-background-networking",
                "--disable-component-update", "--disable-sync",
                "--window-size=430,1000",
                // No model downloads, no field trials: nothing but the page under test.
                "--disable-features=OptimizationGuideModelDownloading,OptimizationHints,OnDeviceModelService",
                "--disable-field-trial-config",
                format!("--user-data-dir={}", profile.display()),
            ],
        }
    });
    let serde_json::Value::Object(caps) = caps else {
        unreachable!()
    };
    let browser = ClientBuilder::new(hyper_util::client::legacy::connect::HttpConnector::new())
        .capabilities(caps)
        .connect(&format!("http://127.0.0.1:{port}"))
        .await
        .unwrap();
    (driver, browser)
}

/// A browser on the parents' page of a server with [`parents_config`]: everything a test
/// must keep alive until it ends.
struct Scene {
    browser: Client,
    _driver: Daemon,
    _profile: tempfile::TempDir,
    /// `http://` and the web listener's address.
    base: String,
    fdns: Running,
    cfg: TestConfig,
    _upstream: Upstream,
}

/// The [`Scene`], or `None` (the test skips) without Chromium, chromedriver or `dig`.
async fn scene() -> Option<Scene> {
    let (chromium, chromedriver) = programs()?;
    let upstream = start_upstream().await;
    let cfg = parents_config(upstream.addr);
    let fdns = cfg.start().await;
    let base = format!("http://{}", fdns.metrics_addr.unwrap());
    let profile = tempfile::tempdir().unwrap();
    let (driver, browser) = open_browser(&chromium, &chromedriver, profile.path()).await;
    Some(Scene {
        browser,
        _driver: driver,
        _profile: profile,
        base,
        fdns,
        cfg,
        _upstream: upstream,
    })
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_parent_logs_in_pauses_and_edits_a_profile_in_chromium() {
    // Bound in this order, dropped in the reverse: the browser first, the upstream last.
    let Some(Scene {
        _upstream,
        cfg,
        fdns,
        base,
        _profile,
        _driver,
        browser,
    }) = scene().await
    else {
        return;
    };
    ask_as_a_child(&fdns).await;

    // Logged out, the page sends the browser to the login form.
    browser.goto(&format!("{base}/parents")).await.unwrap();
    assert!(
        browser
            .current_url()
            .await
            .unwrap()
            .path()
            .ends_with("/parents/login")
    );
    browser
        .find(Locator::Css("input[name=password]"))
        .await
        .unwrap()
        .send_keys("a wrong guess")
        .await
        .unwrap();
    click(&browser, "#login").await;
    wait_text(&browser, "Wrong password.").await;
    browser
        .find(Locator::Css("input[name=password]"))
        .await
        .unwrap()
        .send_keys(PASSWORD)
        .await
        .unwrap();
    click(&browser, "#login").await;
    wait_text(&browser, "Filtering as usual").await;

    // The overview: today's counts from the log (whose writer may still be writing), the
    // chart, the top blocked names.
    let overview = eventually(Duration::from_secs(10), async || {
        browser.goto(&format!("{base}/parents")).await.unwrap();
        body_text(&browser)
            .await
            .contains("4 queries today, 3 blocked")
    })
    .await;
    assert!(overview, "{}", body_text(&browser).await);
    let text = body_text(&browser).await;
    assert!(text.contains("Filtering as usual"), "{text}");
    assert!(text.contains("adult.example.test (2)"), "{text}");
    assert!(browser.find(Locator::Css("svg.chart rect")).await.is_ok());
    screenshot(&browser, "parents-overview.png").await;

    // Pause for 30 minutes: dig is blocked; resume: it resolves again.
    assert_eq!(dig(&fdns, "www.example.test").await, "NOERROR");
    click(&browser, "#profile-family button[value='30m']").await;
    let text = wait_text(&browser, "family paused until 12:30.").await;
    assert!(text.contains("Paused until 12:30"), "{text}");
    assert_eq!(dig(&fdns, "www.example.test").await, "NXDOMAIN");
    screenshot(&browser, "parents-paused.png").await;
    click(
        &browser,
        "#profile-family form[action='/parents/resume'] button",
    )
    .await;
    wait_text(&browser, "family resumed").await;
    assert_eq!(dig(&fdns, "www.example.test").await, "NOERROR");

    // Edit the profile: a bad name is refused with its error and changes nothing.
    click(&browser, "#profile-family a[href^='/parents/profile']").await;
    wait_text(&browser, "Always blocked").await;
    let deny = browser
        .find(Locator::Css("textarea[name=deny]"))
        .await
        .unwrap();
    deny.send_keys("\nnot a..name").await.unwrap();
    click(&browser, "#save").await;
    let text = wait_text(&browser, "Not saved: the profile would not load.").await;
    assert!(text.contains("family.toml"), "{text}");
    screenshot(&browser, "parents-bad-edit.png").await;
    assert_eq!(dig(&fdns, "www.example.test").await, "NOERROR");

    // A good edit: deny www.example.test; dig sees it once the watcher has reloaded.
    let deny = browser
        .find(Locator::Css("textarea[name=deny]"))
        .await
        .unwrap();
    deny.clear().await.unwrap();
    deny.send_keys("txt.example.test\nwww.example.test")
        .await
        .unwrap();
    click(&browser, "label.cat input[value='games']").await;
    click(&browser, "#save").await;
    wait_text(&browser, "family saved").await;
    dig_until(&fdns, "www.example.test", "NXDOMAIN").await;
    dig_until(&fdns, "games.example.test", "NXDOMAIN").await;
    browser
        .goto(&format!("{base}/parents/profile?profile=family"))
        .await
        .unwrap();
    wait_text(&browser, "Always blocked").await;
    screenshot(&browser, "parents-edit.png").await;
    let file = std::fs::read_to_string(cfg.dir.path().join("profiles/family.toml")).unwrap();
    assert!(file.contains("# the basics"), "{file}");
    assert!(file.contains("\"games\""), "{file}");

    // The log, filtered to blocked queries.
    browser
        .goto(&format!("{base}/parents/log?profile=family&blocked=on"))
        .await
        .unwrap();
    let text = wait_text(&browser, "adult.example.test").await;
    let source = browser.source().await.unwrap();
    assert!(source.contains("<tr class=\"blocked\">"), "{source}");
    assert!(
        !source.contains("<tr class=\"allowed\">"),
        "blocked only: {text}"
    );
    screenshot(&browser, "parents-log.png").await;
    browser.close().await.unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_child_asks_and_a_parent_approves_in_chromium() {
    let Some(Scene {
        _upstream,
        cfg: _cfg,
        fdns,
        base,
        _profile,
        _driver,
        browser,
    }) = scene().await
    else {
        return;
    };
    // `txt.example.test` is on the family profile's deny list.
    assert_eq!(dig(&fdns, "txt.example.test").await, "NXDOMAIN");

    // The child's page (the browser is at 127.0.0.1, `emma-tablet`) lists the block.
    let listed = eventually(Duration::from_secs(10), async || {
        browser.goto(&format!("{base}/")).await.unwrap();
        body_text(&browser).await.contains("txt.example.test")
    })
    .await;
    let text = body_text(&browser).await;
    assert!(listed, "{text}");
    assert!(text.contains("emma-tablet"), "{text}");
    assert!(
        text.contains("Your family's settings block this site."),
        "{text}"
    );
    browser
        .find(Locator::Css("div.blocked input[name=reason]"))
        .await
        .unwrap()
        .send_keys("for my homework")
        .await
        .unwrap();
    click(&browser, "div.blocked button").await;
    let text = wait_text(&browser, "Your parent got your question").await;
    assert!(text.contains("waiting for your parent"), "{text}");
    screenshot(&browser, "child-page.png").await;

    // The parent logs in, sees the ask with its reason, and allows it for an hour.
    browser
        .goto(&format!("{base}/parents/login"))
        .await
        .unwrap();
    browser
        .find(Locator::Css("input[name=password]"))
        .await
        .unwrap()
        .send_keys(PASSWORD)
        .await
        .unwrap();
    click(&browser, "#login").await;
    let text = wait_text(&browser, "asks for txt.example.test").await;
    assert!(text.contains("for my homework"), "{text}");
    screenshot(&browser, "parents-ask.png").await;
    click(&browser, "li.ask button[value='1h']").await;
    wait_text(&browser, "txt.example.test allowed for family until 13:00.").await;
    assert_eq!(dig(&fdns, "txt.example.test").await, "NOERROR");

    // The child's page says yes.
    browser.goto(&format!("{base}/")).await.unwrap();
    wait_text(&browser, "yes, until 13:00").await;
    browser.close().await.unwrap();
}
