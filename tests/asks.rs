//! The child asks, the parent decides; alerts reach the parent at once. Through the real
//! server: `familydns.home.arpa` resolves to the page, the child's page (as the device at
//! 127.0.0.1, `emma-tablet`) lists its blocks with help, an ask reaches a recording webhook
//! on loopback and the parents' page, an approval makes the next query resolve; a blocked
//! lookup in an alert category is POSTed once per device and category per hour.

mod common;

use std::net::SocketAddr;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use common::parents::*;
use common::raw::metric;
use common::*;
use hickory_proto::op::ResponseCode;
use hickory_proto::rr::{RData, RecordType};

/// A webhook receiver on loopback that keeps every JSON body it is sent.
struct Webhook {
    addr: SocketAddr,
    bodies: Arc<Mutex<Vec<serde_json::Value>>>,
}

impl Webhook {
    async fn start() -> Webhook {
        let bodies: Arc<Mutex<Vec<serde_json::Value>>> = Arc::default();
        let kept = bodies.clone();
        let app = axum::Router::new().route(
            "/hook",
            axum::routing::post(move |body: String| async move {
                kept.lock()
                    .unwrap()
                    .push(serde_json::from_str(&body).unwrap());
                "ok"
            }),
        );
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap();
        tokio::spawn(async move { axum::serve(listener, app).await.unwrap() });
        Webhook { addr, bodies }
    }

    fn of_kind(&self, kind: &str) -> Vec<serde_json::Value> {
        let bodies = self.bodies.lock().unwrap();
        bodies
            .iter()
            .filter(|b| b["kind"] == kind)
            .cloned()
            .collect()
    }

    /// Waits (bounded) until `n` bodies of `kind` arrived.
    async fn wait_for(&self, kind: &str, n: usize) -> Vec<serde_json::Value> {
        let arrived = eventually(Duration::from_secs(10), async || {
            self.of_kind(kind).len() >= n
        })
        .await;
        assert!(arrived, "{n} {kind} notice(s): got {:?}", self.bodies);
        self.of_kind(kind)
    }
}

/// The family profile alerts on `adult`; asks go to `hook`.
fn config(upstream: SocketAddr, hook: SocketAddr, asks_per_hour: u32) -> TestConfig {
    let cfg = parents_config(upstream);
    let main = std::fs::read_to_string(cfg.path()).unwrap().replace(
        "[parents]\n",
        &format!(
            "[parents]\nwebhook = \"http://{hook}/hook\"\nasks_per_hour = {asks_per_hour}\ncountry = \"GB\"\n"
        ),
    );
    std::fs::write(cfg.path(), main).unwrap();
    let profile = cfg.dir.path().join("profiles/family.toml");
    let body = std::fs::read_to_string(&profile).unwrap();
    std::fs::write(profile, format!("{body}alert = [\"adult\"]\n")).unwrap();
    cfg
}

/// The id of the first ask on the parents' overview.
fn first_ask(overview: &str) -> String {
    overview
        .split("id=\"ask-")
        .nth(1)
        .and_then(|s| s.split('"').next())
        .expect("an ask is on the overview")
        .to_owned()
}

async fn a_query(fdns: &Running, name: &str) -> hickory_proto::op::Message {
    udp(fdns.dns_addrs[0], name, RecordType::A).await
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_child_asks_and_the_parent_approves_from_the_page() {
    let upstream = start_upstream().await;
    let hook = Webhook::start().await;
    let cfg = config(upstream.addr, hook.addr, 5);
    let clock = TestClock::new();
    let fdns = start_on(&cfg, &clock).await;

    // The page's name resolves to the web listener's address, also during a pause.
    let page = a_query(&fdns, "FamilyDNS.home.arpa.").await;
    assert_eq!(page.metadata.response_code, ResponseCode::NoError);
    let addresses: Vec<_> = page.answers.iter().map(|r| r.data.clone()).collect();
    assert_eq!(addresses, [RData::A("127.0.0.1".parse().unwrap())]);

    // The child runs into a block; the child's page lists it, with why and help.
    assert_eq!(
        a_query(&fdns, "adult.example.test.")
            .await
            .metadata
            .response_code,
        ResponseCode::NXDomain
    );
    let child = Client::new(&fdns);
    let listed = eventually(Duration::from_secs(10), async || {
        child.get("/").await.body.contains("adult.example.test")
    })
    .await;
    let body = child.get("/").await.body;
    assert!(listed, "{body}");
    assert!(body.contains("emma-tablet"), "the device is named: {body}");
    assert!(body.contains("which is not made for children"), "{body}");
    assert!(
        body.contains("Childline"),
        "adult is an alert category: help: {body}"
    );

    // The child asks, with a reason; the parent's webhook hears it.
    let asked = child
        .post(
            "/ask",
            &[("name", "adult.example.test"), ("reason", "school project")],
        )
        .await;
    assert_eq!(asked.status, 303, "{}", asked.body);
    let asks = hook.wait_for("ask", 1).await;
    assert_eq!(asks[0]["name"], "adult.example.test");
    assert_eq!(asks[0]["reason"], "school project");
    assert_eq!(asks[0]["device"], "emma-tablet");
    assert!(
        child
            .get(asked.location.as_deref().unwrap())
            .await
            .body
            .contains("waiting for your parent")
    );

    // The parent sees it on the overview and approves it for an hour.
    let mut parent = Client::new(&fdns);
    parent.login(PASSWORD).await;
    let overview = parent.get("/parents").await.body;
    assert!(overview.contains("school project"), "{overview}");
    let id = first_ask(&overview);
    let csrf = csrf_in(&overview);
    let approve = parent
        .post(
            "/parents/allow",
            &[
                ("csrf", &csrf),
                ("profile", "family"),
                ("name", "adult.example.test"),
                ("ask", &id),
                ("for", "1h"),
            ],
        )
        .await;
    assert_eq!(approve.status, 303, "{}", approve.body);
    // The device's next query is forwarded (no restart, no reload); the test upstream has
    // no such name, so its own NXDOMAIN comes back, without familydns' block EDE.
    assert_eq!(upstream.queries_for("adult.example.test."), 0);
    let after = a_query(&fdns, "adult.example.test.").await;
    assert_eq!(ede(&after), None, "not blocked");
    assert_eq!(upstream.queries_for("adult.example.test."), 1);
    let answered = child.get("/").await.body;
    assert!(answered.contains("yes, until"), "{answered}");
    assert!(!parent.get("/parents").await.body.contains("id=\"ask-"));

    // A declined ask says no.
    child
        .post("/ask", &[("name", "games.example.test"), ("reason", "")])
        .await;
    let overview = parent.get("/parents").await.body;
    let id = first_ask(&overview);
    let declined = parent
        .post("/parents/decline", &[("csrf", &csrf), ("ask", &id)])
        .await;
    assert_eq!(declined.status, 303);
    assert!(child.get("/").await.body.contains("games.example.test: no"));
    // A forged decline (no CSRF token) is refused.
    let forged = parent.post("/parents/decline", &[("ask", &id)]).await;
    assert!(forged.status >= 400);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn asks_are_rate_limited_per_device_and_checked() {
    let upstream = start_upstream().await;
    let hook = Webhook::start().await;
    let cfg = config(upstream.addr, hook.addr, 2);
    let clock = TestClock::new();
    let fdns = start_on(&cfg, &clock).await;
    let child = Client::new(&fdns);
    for name in ["a.example.test", "b.example.test"] {
        assert_eq!(child.post("/ask", &[("name", name)]).await.status, 303);
    }
    let third = child.post("/ask", &[("name", "c.example.test")]).await;
    assert_eq!(third.status, 429, "{}", third.body);
    assert!(third.body.contains("You have asked 2 times this hour"));
    // An hour on, the device may ask again.
    clock.advance(Duration::from_secs(3600));
    assert_eq!(
        child
            .post("/ask", &[("name", "c.example.test")])
            .await
            .status,
        303
    );
    // Not a name, a reason too long, a form from another site: refused, nothing stored.
    let bad = child.post("/ask", &[("name", "not a name!")]).await;
    assert_eq!(bad.status, 400);
    let long = "x".repeat(301);
    let too_long = child
        .post("/ask", &[("name", "d.example.test"), ("reason", &long)])
        .await;
    assert_eq!(too_long.status, 400);
    assert_eq!(hook.wait_for("ask", 3).await.len(), 3);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_alert_category_alerts_once_per_device_per_hour() {
    let upstream = start_upstream().await;
    let hook = Webhook::start().await;
    let cfg = config(upstream.addr, hook.addr, 5);
    let clock = TestClock::new();
    let fdns = start_on(&cfg, &clock).await;

    // games is blocked by no list of this profile, adult is, and alerts.
    for _ in 0..3 {
        a_query(&fdns, "adult.example.test.").await;
    }
    let alerts = hook.wait_for("alert", 1).await;
    assert_eq!(alerts[0]["category"], "adult");
    assert_eq!(alerts[0]["device"], "emma-tablet");
    assert_eq!(alerts[0]["profile"], "family");
    assert_eq!(alerts[0]["time"], TEST_NOW);
    assert!(alerts[0].get("name").is_none(), "an alert carries no name");
    assert!(
        !alerts[0].to_string().contains("adult.example.test"),
        "{}",
        alerts[0]
    );

    // Within the hour, more lookups send nothing; the page shows the alert.
    clock.advance(Duration::from_secs(59 * 60));
    a_query(&fdns, "www.adult.example.test.").await;
    let mut parent = Client::new(&fdns);
    parent.login(PASSWORD).await;
    let shown = eventually(Duration::from_secs(10), async || {
        parent.get("/parents").await.body.contains("Alerts today")
    })
    .await;
    assert!(shown);
    // Notices are POSTed in order: once the ask that follows has arrived, a second alert
    // would have too.
    Client::new(&fdns)
        .post("/ask", &[("name", "adult.example.test")])
        .await;
    hook.wait_for("ask", 1).await;
    assert_eq!(hook.of_kind("alert").len(), 1);
    let sent = eventually(Duration::from_secs(10), async || {
        metric(&fdns, "familydns_notices_sent_total").await == 2
    })
    .await;
    assert!(sent, "one alert and one ask were sent");

    // An hour after the first, the next one alerts again.
    clock.advance(Duration::from_secs(60));
    a_query(&fdns, "adult.example.test.").await;
    assert_eq!(hook.wait_for("alert", 2).await.len(), 2);
}
