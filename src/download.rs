//! Downloading URL lists: conditional GET into an on-disk cache, so a router that boots
//! before its uplink still filters with yesterday's lists.
//!
//! Each list is fetched with `If-None-Match` / `If-Modified-Since` from the last download, a
//! size cap and a timeout, and written atomically (temp file, then rename) to `cache_dir`.
//! List hosts are resolved through our own upstreams, never through ourselves: on a router
//! whose system resolver is familydns, asking ourselves would wait on ourselves.

use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Duration;

use hickory_proto::rr::{Name, RData, RecordType};
use reqwest::header::{ETAG, IF_MODIFIED_SINCE, IF_NONE_MATCH, LAST_MODIFIED};

use crate::config::ListConfig;
use crate::lists::MAX_LIST_BYTES;
use crate::upstream::{Forwarder, Outcome};

const FETCH_TIMEOUT: Duration = Duration::from_secs(60);

/// What a fetch did.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Fetched {
    /// A new copy is in the cache.
    Updated,
    /// The server says our copy is current (304).
    NotModified,
}

pub struct Downloader {
    client: reqwest::Client,
}

impl Downloader {
    pub fn new(forwarder: Arc<Forwarder>) -> Downloader {
        let client = reqwest::Client::builder()
            .timeout(FETCH_TIMEOUT)
            .dns_resolver(Arc::new(UpstreamResolver(forwarder)))
            .user_agent(concat!("familydns/", env!("CARGO_PKG_VERSION")))
            .build()
            .expect("TLS backend available");
        Downloader { client }
    }

    /// Fetches `list.url` into `list.source` unless unchanged.
    pub async fn fetch(&self, list: &ListConfig) -> Result<Fetched, String> {
        let url = list.url.as_deref().ok_or("not a downloaded list")?;
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
        let mut response = request.send().await.map_err(|e| e.to_string())?;
        if response.status() == reqwest::StatusCode::NOT_MODIFIED {
            return Ok(Fetched::NotModified);
        }
        if !response.status().is_success() {
            return Err(format!("HTTP {}", response.status()));
        }
        let header = |name| {
            response
                .headers()
                .get(name)
                .and_then(|v: &reqwest::header::HeaderValue| v.to_str().ok())
                .map(str::to_owned)
        };
        let new_meta = [
            ("etag", header(ETAG)),
            ("last-modified", header(LAST_MODIFIED)),
        ]
        .iter()
        .filter_map(|(k, v)| v.as_ref().map(|v| format!("{k}: {v}\n")))
        .collect::<String>();
        let mut body = Vec::new();
        while let Some(chunk) = response.chunk().await.map_err(|e| e.to_string())? {
            body.extend_from_slice(&chunk);
            if body.len() as u64 > MAX_LIST_BYTES {
                return Err(format!("larger than {MAX_LIST_BYTES} bytes"));
            }
        }
        write_atomically(&list.source, &body).map_err(|e| e.to_string())?;
        write_atomically(&meta_path, new_meta.as_bytes()).map_err(|e| e.to_string())?;
        Ok(Fetched::Updated)
    }
}

fn meta_path(source: &Path) -> PathBuf {
    source.with_extension("meta")
}

fn write_atomically(path: &Path, bytes: &[u8]) -> std::io::Result<()> {
    if let Some(dir) = path.parent() {
        std::fs::create_dir_all(dir)?;
    }
    let tmp = path.with_extension("tmp");
    std::fs::write(&tmp, bytes)?;
    std::fs::rename(&tmp, path)
}

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
                    forwarder.resolve(&name, rtype).await
                {
                    addrs.extend(answer.answers.iter().filter_map(|r| match &r.data {
                        RData::A(a) => Some(SocketAddr::new(a.0.into(), 0)),
                        RData::AAAA(a) => Some(SocketAddr::new(a.0.into(), 0)),
                        _ => None,
                    }));
                }
            }
            if addrs.is_empty() {
                return Err(format!("{host}: no address from the upstreams").into());
            }
            Ok(Box::new(addrs.into_iter()) as reqwest::dns::Addrs)
        })
    }
}
