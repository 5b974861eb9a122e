//! Downloading URL lists: conditional GET into an on-disk cache, so a router that boots
//! before its uplink still filters with yesterday's lists.
//!
//! Each list is fetched with `If-None-Match` / `If-Modified-Since` from the last download, a
//! size cap and a timeout, and written atomically (temp file, fsync, then rename) to `cache_dir`.
//! List hosts are resolved through our own upstreams, never through ourselves: on a router
//! whose system resolver is familydns, asking ourselves would wait on ourselves.
//!
//! The network cannot poison the cache: a body is parsed before it is written, and a captive
//! portal's HTML page, an empty body, or a list that lost more than half of the last good
//! copy's rules is refused, keeping the last good copy. A redirect from https to http is
//! refused, so a network that can rewrite plain HTTP cannot swap in its own list.

use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Duration;

use hickory_proto::rr::{Name, RData, RecordType};
use reqwest::header::{CONTENT_TYPE, ETAG, IF_MODIFIED_SINCE, IF_NONE_MATCH, LAST_MODIFIED};

use crate::atomic_file;
use crate::config::ListConfig;
use crate::lists::{self, CappedError, MAX_LIST_BYTES};
use crate::upstream::{Dnssec, Forwarder, Outcome};

const FETCH_TIMEOUT: Duration = Duration::from_secs(60);
/// Redirects followed before giving up (reqwest's default).
const MAX_REDIRECTS: usize = 10;

/// What a fetch did.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Fetched {
    /// A new copy is in the cache.
    Updated,
    /// The server says our copy is current (304).
    NotModified,
}

/// Why a fetch left the cached copy as it was.
#[derive(Debug, thiserror::Error)]
pub enum FetchError {
    #[error("not a downloaded list")]
    NotDownloaded,
    /// reqwest's own message says only "error sending request": the causes say why.
    #[error("{}", with_causes(.0))]
    Http(#[from] reqwest::Error),
    #[error("HTTP {0}")]
    Status(reqwest::StatusCode),
    #[error("larger than {MAX_LIST_BYTES} bytes")]
    TooLarge,
    /// The server answered, but with something that is not a list we would trust over the
    /// last good copy.
    #[error("refused, keeping the last good copy: {0}")]
    Refused(#[from] Refusal),
    #[error("cannot write the cache: {0}")]
    Cache(#[from] std::io::Error),
}

/// What was wrong with a body the server sent (see [`check`]).
#[derive(Debug, thiserror::Error)]
pub enum Refusal {
    #[error("bad gzip: {0}")]
    BadGzip(std::io::Error),
    #[error("the server sent an HTML page, not a list (a captive portal?)")]
    Html,
    #[error("the server sent an empty body")]
    Empty,
    #[error("the body holds no rules")]
    NoRules,
    #[error(
        "{rules} rules, fewer than half of the last good copy's {previous} (if the list \
         really shrank, delete {} to accept it)",
        cached.display()
    )]
    Shrunk {
        rules: u64,
        previous: u64,
        cached: PathBuf,
    },
}

/// An error and its sources, `: `-separated.
fn with_causes(e: &dyn std::error::Error) -> String {
    let mut out = e.to_string();
    let mut source = e.source();
    while let Some(cause) = source {
        out.push_str(": ");
        out.push_str(&cause.to_string());
        source = cause.source();
    }
    out
}

pub struct Downloader {
    client: reqwest::Client,
}

impl Downloader {
    pub fn new(forwarder: Arc<Forwarder>) -> Downloader {
        Downloader::with_roots(forwarder, Vec::new())
    }

    /// A downloader that also trusts `roots` (tests serve lists over TLS with their own CA).
    pub fn with_roots(forwarder: Arc<Forwarder>, roots: Vec<reqwest::Certificate>) -> Downloader {
        let mut builder = reqwest::Client::builder()
            .timeout(FETCH_TIMEOUT)
            .redirect(reqwest::redirect::Policy::custom(no_downgrade))
            .dns_resolver(Arc::new(UpstreamResolver(forwarder)))
            .user_agent(concat!("familydns/", env!("CARGO_PKG_VERSION")));
        for root in roots {
            builder = builder.add_root_certificate(root);
        }
        Downloader {
            client: builder.build().expect("TLS backend available"),
        }
    }

    /// Fetches `list.url` into `list.source` unless unchanged or not a list worth keeping.
    pub async fn fetch(&self, list: &ListConfig) -> Result<Fetched, FetchError> {
        let url = list.url.as_deref().ok_or(FetchError::NotDownloaded)?;
        let meta_path = meta_path(&list.source);
        let meta = std::fs::read_to_string(&meta_path).unwrap_or_default();
        let mut request = self.client.get(url);
        if list.source.is_file() {
            for line in meta.lines() {
                if let Some(etag) = line.strip_prefix("etag: ") {
                    request = request.header(IF_NONE_MATCH, etag);
                } else if let Some(lm) = line.strip_prefix("last-modified: ") {
                    request = request.header(IF_MODIFIED_SINCE, lm);
                }
            }
        }
        let mut response = request.send().await?;
        if response.status() == reqwest::StatusCode::NOT_MODIFIED {
            return Ok(Fetched::NotModified);
        }
        if !response.status().is_success() {
            return Err(FetchError::Status(response.status()));
        }
        let header = |name| {
            response
                .headers()
                .get(name)
                .and_then(|v: &reqwest::header::HeaderValue| v.to_str().ok())
                .map(str::to_owned)
        };
        let html = header(CONTENT_TYPE).is_some_and(|t| t.contains("html"));
        let new_meta = [
            ("etag", header(ETAG)),
            ("last-modified", header(LAST_MODIFIED)),
        ]
        .iter()
        .filter_map(|(k, v)| v.as_ref().map(|v| format!("{k}: {v}\n")))
        .collect::<String>();
        let mut body = Vec::new();
        while let Some(chunk) = response.chunk().await? {
            body.extend_from_slice(&chunk);
            if body.len() as u64 > MAX_LIST_BYTES {
                return Err(FetchError::TooLarge);
            }
        }
        let text = decode(body)?;
        check(list, &text, html)?;
        write_atomically(&list.source, text.as_bytes())?;
        write_atomically(&meta_path, new_meta.as_bytes())?;
        Ok(Fetched::Updated)
    }
}

/// reqwest's redirect policy: follow up to [`MAX_REDIRECTS`], never from https to http.
fn no_downgrade(attempt: reqwest::redirect::Attempt<'_>) -> reqwest::redirect::Action {
    let downgrade = attempt.url().scheme() == "http"
        && attempt.previous().iter().any(|u| u.scheme() == "https");
    if downgrade {
        let to = attempt.url().to_string();
        attempt.error(format!("refused a redirect from https to {to}"))
    } else if attempt.previous().len() > MAX_REDIRECTS {
        attempt.error("too many redirects")
    } else {
        attempt.follow()
    }
}

/// The body as text; a gzip body (a `.gz` URL) is decompressed, since the cache file is read
/// as plain text.
fn decode(body: Vec<u8>) -> Result<String, FetchError> {
    let bytes = if body.starts_with(&[0x1f, 0x8b]) {
        lists::read_capped(flate2::read::GzDecoder::new(body.as_slice())).map_err(|e| match e {
            CappedError::Io(e) => Refusal::BadGzip(e).into(),
            CappedError::TooLarge => FetchError::TooLarge,
        })?
    } else {
        body
    };
    Ok(lists::text(bytes))
}

/// Refuses what would make a category silently filter less: an HTML page (a captive portal
/// or an error page answered with 200), a body with no rules, or fewer than half the rules
/// of the last good copy (a truncated or replaced list).
fn check(list: &ListConfig, text: &str, html_type: bool) -> Result<(), Refusal> {
    let body = text.trim_start();
    let start: String = body
        .chars()
        .take(15)
        .collect::<String>()
        .to_ascii_lowercase();
    // A list served as text/html by mistake still starts with a rule or a comment, not a tag.
    let tagged = (html_type && body.starts_with('<'))
        || start.starts_with("<!doctype html")
        || start.starts_with("<html");
    if tagged {
        return Err(Refusal::Html);
    }
    if text.trim().is_empty() {
        return Err(Refusal::Empty);
    }
    let rules = rule_count(text, list);
    if rules == 0 {
        return Err(Refusal::NoRules);
    }
    let previous = lists::read_list(&list.source)
        .map(|t| rule_count(&t, list))
        .unwrap_or(0);
    if rules < previous.div_ceil(2) {
        return Err(Refusal::Shrunk {
            rules,
            previous,
            cached: list.source.clone(),
        });
    }
    Ok(())
}

fn rule_count(text: &str, list: &ListConfig) -> u64 {
    lists::parse_str(text, list.format, |_| ()).rules
}

fn meta_path(source: &Path) -> PathBuf {
    source.with_extension("meta")
}

/// Replaces a cache file whole ([`atomic_file::write`]), creating `cache_dir` on first use.
fn write_atomically(path: &Path, bytes: &[u8]) -> std::io::Result<()> {
    if let Some(dir) = path.parent() {
        std::fs::create_dir_all(dir)?;
    }
    atomic_file::write(path, bytes)
}

/// A list host none of the upstreams gave an address for.
#[derive(Debug, thiserror::Error)]
#[error("{0}: no address from the upstreams")]
struct NoAddress(String);

/// reqwest's resolver, answered by familydns's own upstreams.
struct UpstreamResolver(Arc<Forwarder>);

impl reqwest::dns::Resolve for UpstreamResolver {
    fn resolve(&self, name: reqwest::dns::Name) -> reqwest::dns::Resolving {
        let forwarder = self.0.clone();
        let host = name.as_str().to_owned();
        Box::pin(async move {
            let name = Name::from_ascii(format!("{}.", host.trim_end_matches('.')))?;
            let mut addrs: Vec<SocketAddr> = Vec::new();
            for rtype in [RecordType::A, RecordType::AAAA] {
                if let Outcome::Answer { answer, .. } | Outcome::Stale(answer) =
                    forwarder.resolve(&name, rtype, Dnssec::default()).await
                {
                    addrs.extend(answer.answers.iter().filter_map(|r| match &r.data {
                        RData::A(a) => Some(SocketAddr::new(a.0.into(), 0)),
                        RData::AAAA(a) => Some(SocketAddr::new(a.0.into(), 0)),
                        _ => None,
                    }));
                }
            }
            if addrs.is_empty() {
                return Err(NoAddress(host).into());
            }
            Ok(Box::new(addrs.into_iter()) as reqwest::dns::Addrs)
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn list() -> ListConfig {
        ListConfig {
            name: "l".into(),
            category: "c".into(),
            source: PathBuf::from("/nonexistent/familydns-test.list"),
            format: crate::lists::Format::Auto,
            url: Some("https://example.test/l".into()),
            refresh: Duration::from_secs(60),
        }
    }

    #[test]
    fn html_is_told_from_lists() {
        for page in [
            "<html></html>",
            "\n  <!DOCTYPE HTML>\n<p>",
            "<HTML lang=en>",
        ] {
            assert!(check(&list(), page, false).is_err(), "{page}");
        }
        // Served as text/html: refused only when it also looks like markup.
        assert!(check(&list(), "<head><title>Wi-Fi</title>", true).is_err());
        assert!(check(&list(), "# a list\nexample.com\n", true).is_ok());
        assert!(check(&list(), "example.com\n", false).is_ok());
    }
}
