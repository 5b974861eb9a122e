//! For the parents' page tests: a config with `[parents]` and a few category lists, a server
//! clock the test moves, and an HTTP client that keeps the session cookie.

use std::net::SocketAddr;
use std::sync::atomic::{AtomicI64, Ordering};
use std::sync::{Arc, OnceLock};
use std::time::Duration;

use hickory_proto::op::ResponseCode;
use hickory_proto::rr::RecordType;

use super::{Running, TEST_NOW, TestConfig, eventually, udp};

/// The parents' password in the tests.
pub const PASSWORD: &str = "correct horse battery staple";

/// Its argon2 hash, made once per test binary (hashing is slow on purpose).
pub fn password_hash() -> &'static str {
    static HASH: OnceLock<String> = OnceLock::new();
    HASH.get_or_init(|| familydns::web::hash_password(PASSWORD).unwrap())
}

/// The family's profile as a parent wrote it, comments and all.
pub const FAMILY: &str = "# The family's profile: the parents' page must keep these comments.
block = [\"adult\"] # the basics
deny = [\"txt.example.test\"] # no TXT records for anyone
safe_search = false
";

/// [`super::HEAD`] with `[parents]` (the test password), the query log in the config's
/// directory, `clients`, one list per `(category, name)` (a file `<category>.txt` holding
/// `name`), and the given profiles.
pub fn config_with_lists(
    upstream: SocketAddr,
    clients: &str,
    lists: &[(&str, &str)],
    profiles: &[(&str, &str)],
) -> TestConfig {
    let mut main = format!(
        "{}
[parents]
password_hash = \"{}\"
[query_log]
path = \"querylog.db\"
{clients}",
        super::HEAD,
        password_hash()
    );
    for (category, _) in lists {
        main.push_str(&format!(
            "[[list]]\nname = \"{category}\"\ncategory = \"{category}\"\nsource = \"{category}.txt\"\n"
        ));
    }
    let cfg = TestConfig::new(&main, upstream, profiles);
    for (category, name) in lists {
        std::fs::write(
            cfg.dir.path().join(format!("{category}.txt")),
            format!("{name}\n"),
        )
        .unwrap();
    }
    cfg
}

/// Three category lists, `[parents]`, the query log, and `emma-tablet` (127.0.0.1) on the
/// family profile ([`FAMILY`]).
pub fn parents_config(upstream: SocketAddr) -> TestConfig {
    config_with_lists(
        upstream,
        "[[client]]
name = \"emma-tablet\"
match = [\"127.0.0.1\"]
profile = \"family\"
",
        &[
            ("adult", "adult.example.test"),
            ("games", "games.example.test"),
            ("social", "social.example.test"),
        ],
        &[("family", FAMILY)],
    )
}

/// The server's clock, which the test moves forward.
#[derive(Clone)]
pub struct TestClock(Arc<AtomicI64>);

impl TestClock {
    /// At [`TEST_NOW`].
    pub fn new() -> TestClock {
        let now: jiff::Timestamp = TEST_NOW.parse().unwrap();
        TestClock(Arc::new(AtomicI64::new(now.as_millisecond())))
    }

    pub fn advance(&self, by: Duration) {
        self.0
            .fetch_add(i64::try_from(by.as_millis()).unwrap(), Ordering::SeqCst);
    }
}

/// Starts the server of `cfg` on `clock`.
pub async fn start_on(cfg: &TestConfig, clock: &TestClock) -> Running {
    let config = familydns::config::load(&cfg.path()).unwrap();
    let ms = clock.0.clone();
    familydns::app::start_with_clock(
        config,
        Arc::new(move || jiff::Timestamp::from_millisecond(ms.load(Ordering::SeqCst)).unwrap()),
    )
    .await
    .expect("familydns starts")
}

/// An HTTP client of the page that follows no redirects and keeps the session cookie.
pub struct Client {
    base: String,
    http: reqwest::Client,
    pub cookie: Option<String>,
}

/// Status, `Location` and `Set-Cookie` headers, and body of an answer.
pub struct Answer {
    pub status: u16,
    pub location: Option<String>,
    pub set_cookie: Option<String>,
    pub body: String,
}

impl Client {
    pub fn new(fdns: &Running) -> Client {
        Client {
            base: format!("http://{}", fdns.metrics_addr.unwrap()),
            http: reqwest::Client::builder()
                .redirect(reqwest::redirect::Policy::none())
                .timeout(super::CLIENT_TIMEOUT * 4)
                .build()
                .unwrap(),
            cookie: None,
        }
    }

    async fn send(&self, request: reqwest::RequestBuilder) -> Answer {
        let request = match &self.cookie {
            Some(c) => request.header("cookie", c),
            None => request,
        };
        let response = request.send().await.unwrap();
        let header = |name: &str| {
            response
                .headers()
                .get(name)
                .map(|v| v.to_str().unwrap().to_owned())
        };
        Answer {
            status: response.status().as_u16(),
            location: header("location"),
            set_cookie: header("set-cookie"),
            body: response.text().await.unwrap(),
        }
    }

    pub async fn get(&self, path: &str) -> Answer {
        self.send(self.http.get(format!("{}{path}", self.base)))
            .await
    }

    pub async fn post(&self, path: &str, form: &[(&str, &str)]) -> Answer {
        self.send(self.http.post(format!("{}{path}", self.base)).form(form))
            .await
    }

    /// Logs in with `password`; keeps the cookie when it worked.
    pub async fn login(&mut self, password: &str) -> Answer {
        let answer = self.post("/parents/login", &[("password", password)]).await;
        if let Some(c) = &answer.set_cookie {
            self.cookie = Some(c.split(';').next().unwrap().to_owned());
        }
        answer
    }

    /// The CSRF token in the forms of the overview.
    pub async fn csrf(&self) -> String {
        let page = self.get("/parents").await;
        assert_eq!(page.status, 200, "{}", page.body);
        csrf_in(&page.body)
    }
}

/// A client of the page logged in with [`PASSWORD`].
pub async fn logged_in(fdns: &Running) -> Client {
    let mut c = Client::new(fdns);
    let answer = c.login(PASSWORD).await;
    assert_eq!(answer.status, 303, "{}", answer.body);
    c
}

/// The value of the first `csrf` field in a page.
pub fn csrf_in(page: &str) -> String {
    let start = page.find("name=\"csrf\" value=\"").expect("a csrf field") + 19;
    page[start..start + 64].to_owned()
}

/// A child's morning, asked through the real server from `emma-tablet` (127.0.0.1): an adult
/// name twice (blocked by its list), a name on the profile's deny list, an allowed name. The server logs them as it
/// answers (asynchronously: read the log until they are there).
pub async fn ask_as_a_child(fdns: &Running) {
    for name in [
        "adult.example.test.",
        "adult.example.test.",
        "txt.example.test.",
        "www.example.test.",
    ] {
        udp(fdns.dns_addrs[0], name, RecordType::A).await;
    }
}

/// The rcode of an A query for `name` from 127.0.0.1 (`emma-tablet` in [`parents_config`]).
pub async fn a_rcode(fdns: &Running, name: &str) -> ResponseCode {
    udp(fdns.dns_addrs[0], name, RecordType::A)
        .await
        .metadata
        .response_code
}

/// Waits (bounded) until `name` gets `want`: reloads after a file edit take a moment.
pub async fn until_rcode(fdns: &Running, name: &str, want: ResponseCode) -> bool {
    eventually(Duration::from_secs(10), async || {
        a_rcode(fdns, name).await == want
    })
    .await
}
