//! For the complaints tests: a config with `[complaints]` (a reporter's and a reviewer's
//! token), a client of the complaints API, and "is this name blocked now?" over real DNS.

use std::net::SocketAddr;
use std::time::{Duration, Instant};

use hickory_proto::rr::RecordType;
use serde_json::{Value, json};

use super::parents::config_with_lists;
use super::{Running, TestConfig, ede, udp_from};

pub const REPORTER: &str = "reporter-token-0123456789";
pub const REVIEWER: &str = "reviewer-token-0123456789";

/// `emma-tablet` (127.0.0.1) on `family`, which blocks `adult` always and `games` on
/// Saturdays 11:00–13:00 (the test clock starts at Saturday noon) and allows
/// `kept.example.test`; `parents-laptop` (127.0.0.2) on `open`, which blocks nothing.
const CLIENTS: &str = "[[client]]
name = \"emma-tablet\"
match = [\"127.0.0.1\"]
profile = \"family\"
[[client]]
name = \"parents-laptop\"
match = [\"127.0.0.2\"]
profile = \"open\"
";

const FAMILY: &str = "block = [\"adult\"]
allow = [\"kept.example.test\"]
[[schedule]]
days = [\"sat\"]
from = \"11:00\"
to = \"13:00\"
block = [\"games\"]
";

/// The config, with a fixed metrics port (the CLI finds the server through the config) and
/// `[complaints]` with a reporter's and a reviewer's token and `bounds` (extra keys).
pub fn config(upstream: SocketAddr, bounds: &str) -> TestConfig {
    let cfg = config_with_lists(
        upstream,
        CLIENTS,
        &[
            ("adult", "adult.example.test"),
            ("games", "games.example.test"),
        ],
        &[("family", FAMILY), ("open", "block = []\n")],
    );
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let main = std::fs::read_to_string(cfg.path()).unwrap().replace(
        "listen = \"127.0.0.1:0\"",
        &format!("listen = \"127.0.0.1:{port}\""),
    );
    std::fs::write(
        cfg.path(),
        format!(
            "{main}
[complaints]
{bounds}
[[complaints.token]]
name = \"school\"
role = \"reporter\"
token = \"{REPORTER}\"
[[complaints.token]]
name = \"alliance\"
role = \"reviewer\"
token_file = \"reviewer.token\"
"
        ),
    )
    .unwrap();
    std::fs::write(
        cfg.dir.path().join("reviewer.token"),
        format!("{REVIEWER}\n"),
    )
    .unwrap();
    cfg
}

/// The complaints API of a running server.
pub struct Api(String);

impl Api {
    pub fn of(fdns: &Running) -> Api {
        Api(format!(
            "http://{}/api/complaints",
            fdns.metrics_addr.unwrap()
        ))
    }

    pub async fn send(
        &self,
        post: bool,
        path: &str,
        token: &str,
        body: Option<Value>,
    ) -> (u16, String) {
        let http = reqwest::Client::builder()
            .timeout(Duration::from_secs(10))
            .build()
            .unwrap();
        let url = format!("{}{path}", self.0);
        let mut request = if post { http.post(url) } else { http.get(url) };
        if !token.is_empty() {
            request = request.bearer_auth(token);
        }
        if let Some(body) = body {
            request = request
                .header("content-type", "application/json")
                .body(body.to_string());
        }
        let response = request.send().await.unwrap();
        (response.status().as_u16(), response.text().await.unwrap())
    }

    pub async fn file(
        &self,
        token: &str,
        name: &str,
        category: &str,
        comment: &str,
    ) -> (u16, String) {
        let body = json!({"name": name, "category": category, "comment": comment});
        self.send(true, "", token, Some(body)).await
    }

    /// Files as the reporter and returns the new complaint's id.
    pub async fn filed(&self, name: &str, category: &str) -> i64 {
        let (status, body) = self.file(REPORTER, name, category, "").await;
        assert_eq!(status, 201, "{body}");
        serde_json::from_str::<Value>(&body).unwrap()["id"]
            .as_i64()
            .unwrap()
    }

    pub async fn decide(&self, token: &str, id: i64, ruling: &str) -> (u16, String) {
        self.send(true, &format!("/{id}/{ruling}"), token, None)
            .await
    }

    /// Decides as the reviewer, which must work.
    pub async fn decided(&self, id: i64, ruling: &str) -> Value {
        let (status, body) = self.decide(REVIEWER, id, ruling).await;
        assert_eq!(status, 200, "{body}");
        serde_json::from_str(&body).unwrap()
    }
}

/// The EDE text of the answer to `name` asked from `from`, if blocked (allowed answers and
/// the upstream's own NXDOMAINs carry none).
pub async fn blocked(fdns: &Running, from: &str, name: &str) -> Option<String> {
    let m = udp_from(
        fdns.dns_addrs[0],
        from.parse().unwrap(),
        name,
        RecordType::A,
        Some(1232),
    )
    .await;
    ede(&m).map(|(code, text)| format!("{code} {text}"))
}

/// How long after `since` the name is blocked for 127.0.0.1, and after how many queries,
/// asking in a tight loop (at most 5 s: a failure, then).
pub async fn time_to_block(fdns: &Running, name: &str, since: Instant) -> (Duration, u32) {
    let deadline = since + Duration::from_secs(5);
    let mut queries = 0;
    while Instant::now() < deadline {
        queries += 1;
        if blocked(fdns, "127.0.0.1", name).await.is_some() {
            return (since.elapsed(), queries);
        }
    }
    panic!("{name} not blocked within 5 s of its acceptance");
}
