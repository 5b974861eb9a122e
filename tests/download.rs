//! URL lists: downloaded from a real HTTP server on loopback, refreshed with conditional GET,
//! cached on disk, and used from the cache when the server is gone.

mod common;

use std::net::SocketAddr;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use axum::Router;
use axum::extract::State;
use axum::http::{HeaderMap, StatusCode, header};
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use common::*;
use hickory_proto::op::ResponseCode;
use hickory_proto::rr::RecordType;

/// The list publisher: serves `/list.txt` with an ETag and counts 304s.
#[derive(Clone, Default)]
struct Publisher {
    body: Arc<Mutex<String>>,
    not_modified: Arc<AtomicUsize>,
}

async fn list(State(p): State<Publisher>, headers: HeaderMap) -> Response {
    let body = p.body.lock().unwrap().clone();
    let etag = format!("\"{}\"", body.len());
    if headers
        .get(header::IF_NONE_MATCH)
        .and_then(|v| v.to_str().ok())
        == Some(etag.as_str())
    {
        p.not_modified.fetch_add(1, Ordering::SeqCst);
        return StatusCode::NOT_MODIFIED.into_response();
    }
    ([(header::ETAG, etag)], body).into_response()
}

async fn publish(p: Publisher) -> (SocketAddr, tokio::task::JoinHandle<()>) {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    let app = Router::new().route("/list.txt", get(list)).with_state(p);
    let task = tokio::spawn(async move {
        axum::serve(listener, app).await.unwrap();
    });
    (addr, task)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn url_lists_refresh_and_survive_the_publisher_going_away() {
    let upstream = start_upstream().await;
    let publisher = Publisher::default();
    *publisher.body.lock().unwrap() = "# a real list\nnothing.test\n".into();
    let (addr, server) = publish(publisher.clone()).await;
    let lists = format!(
        "[[list]]\nname = \"remote\"\ncategory = \"r\"\nsource = \"http://{addr}/list.txt\"\nrefresh = \"1s\"\n"
    );
    let cfg = TestConfig::new(
        &format!("{HEAD}{lists}"),
        upstream.addr,
        &[("family", "block = [\"r\"]\n")],
    );
    let fdns = cfg.start().await;
    assert_eq!(
        rcode(&fdns, "txt.example.test.").await,
        ResponseCode::NoError
    );

    // The publisher adds a name: after the next refresh it is blocked.
    *publisher.body.lock().unwrap() = "# a real list\nnothing.test\ntxt.example.test\n".into();
    assert!(
        eventually(Duration::from_secs(5), async || rcode(
            &fdns,
            "txt.example.test."
        )
        .await
            == ResponseCode::NXDomain)
        .await
    );
    // Unchanged lists are not downloaded again: the ETag gets 304s.
    assert!(
        eventually(Duration::from_secs(5), async || publisher
            .not_modified
            .load(Ordering::SeqCst)
            > 0)
        .await
    );
    let metrics = http_get(fdns.metrics_addr.unwrap(), "/metrics").await;
    assert!(
        metrics.contains("familydns_list_fetch_ok{list=\"remote\"} 1"),
        "{metrics}"
    );

    // The publisher goes away and familydns restarts: it filters from its cached copy.
    server.abort();
    fdns.shut_down().await;
    let fdns = cfg.start().await;
    assert_eq!(
        rcode(&fdns, "txt.example.test.").await,
        ResponseCode::NXDomain,
        "from the cache"
    );
    assert!(
        eventually(Duration::from_secs(5), async || http_get(
            fdns.metrics_addr.unwrap(),
            "/metrics"
        )
        .await
        .contains("familydns_list_fetch_ok{list=\"remote\"} 0"))
        .await
    );
}

#[tokio::test]
async fn a_list_with_neither_network_nor_cache_is_reported_not_fatal() {
    let upstream = start_upstream().await;
    // Nothing listens on this port.
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let lists = format!(
        "[[list]]\nname = \"unreachable\"\ncategory = \"r\"\nsource = \"http://127.0.0.1:{port}/list.txt\"\n\
         [[list]]\nname = \"local\"\ncategory = \"r\"\nsource = \"{}\"\n",
        fixture("domains/hagezi-nsfw.domains").display()
    );
    let cfg = TestConfig::new(
        &format!("{HEAD}{lists}"),
        upstream.addr,
        &[("family", "block = [\"r\"]\n")],
    );
    let fdns = cfg.start().await;
    let health = http_get(fdns.metrics_addr.unwrap(), "/health").await;
    assert!(health.contains("list unreachable:"), "{health}");
    // The other lists still filter.
    let name = std::fs::read_to_string(fixture("domains/hagezi-nsfw.domains"))
        .unwrap()
        .lines()
        .find(|l| !l.starts_with('#') && !l.is_empty())
        .unwrap()
        .to_owned();
    let m = udp(fdns.dns_addrs[0], &format!("{name}."), RecordType::A).await;
    assert_eq!(m.metadata.response_code, ResponseCode::NXDomain);
}

/// The `/health` page of a running server.
async fn health(fdns: &Running) -> String {
    http_get(fdns.metrics_addr.unwrap(), "/health").await
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_portal_page_an_empty_body_or_a_shrunken_list_never_replaces_the_last_good_copy() {
    let upstream = start_upstream().await;
    let publisher = Publisher::default();
    let good: String = (0..10)
        .map(|i| format!("n{i}.nothing.test\n"))
        .chain(["txt.example.test\n".to_owned()])
        .collect();
    *publisher.body.lock().unwrap() = good.clone();
    let (addr, _server) = publish(publisher.clone()).await;
    let lists = format!(
        "[[list]]\nname = \"remote\"\ncategory = \"r\"\nsource = \"http://{addr}/list.txt\"\nrefresh = \"1s\"\n"
    );
    let cfg = TestConfig::new(
        &format!("{HEAD}{lists}"),
        upstream.addr,
        &[("family", "block = [\"r\"]\n")],
    );
    let fdns = cfg.start().await;
    assert!(
        eventually(Duration::from_secs(5), async || rcode(
            &fdns,
            "txt.example.test."
        )
        .await
            == ResponseCode::NXDomain)
        .await,
        "the good copy is downloaded"
    );
    let cached = cfg.dir.path().join("cache/remote.list");
    assert_eq!(std::fs::read_to_string(&cached).unwrap(), good);

    for (body, reported) in [
        (
            "<!DOCTYPE html>\n<html><body>Sign in to the hotel Wi-Fi</body></html>\n".to_owned(),
            "an HTML page",
        ),
        (String::new(), "an empty body"),
        (
            "# a truncated list\nn1.nothing.test\nn2.nothing.test\n".to_owned(),
            "fewer than half of the last good copy's 11",
        ),
    ] {
        *publisher.body.lock().unwrap() = body.clone();
        assert!(
            eventually(Duration::from_secs(5), async || {
                let h = health(&fdns).await;
                h.contains("list remote: download: refused, keeping the last good copy")
                    && h.contains(reported)
            })
            .await,
            "{body:?} is reported on /health: {}",
            health(&fdns).await
        );
        assert_eq!(
            std::fs::read_to_string(&cached).unwrap(),
            good,
            "{body:?} did not replace the cache"
        );
        assert_eq!(
            rcode(&fdns, "txt.example.test.").await,
            ResponseCode::NXDomain,
            "{body:?}: still filtering with the last good copy"
        );
    }
    let metrics = http_get(fdns.metrics_addr.unwrap(), "/metrics").await;
    assert!(
        metrics.contains("familydns_list_fetch_ok{list=\"remote\"} 0"),
        "{metrics}"
    );

    // A good list again (half is enough) clears the report.
    let half: String = good.lines().skip(5).map(|l| format!("{l}\n")).collect();
    *publisher.body.lock().unwrap() = half.clone();
    assert!(
        eventually(Duration::from_secs(5), async || !health(&fdns)
            .await
            .contains("list remote"))
        .await
    );
    assert_eq!(std::fs::read_to_string(&cached).unwrap(), half);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn lists_named_a_dot_b_and_a_underscore_b_keep_their_own_cache() {
    let upstream = start_upstream().await;
    let (dot, underscore) = (Publisher::default(), Publisher::default());
    *dot.body.lock().unwrap() = "txt.example.test\n".into();
    *underscore.body.lock().unwrap() = "www.example.test\n".into();
    let (dot_addr, dot_server) = publish(dot).await;
    let (underscore_addr, underscore_server) = publish(underscore).await;
    let lists = format!(
        "[[list]]\nname = \"a.b\"\ncategory = \"r\"\nsource = \"http://{dot_addr}/list.txt\"\n\
         [[list]]\nname = \"a_b\"\ncategory = \"r\"\nsource = \"http://{underscore_addr}/list.txt\"\n"
    );
    let cfg = TestConfig::new(
        &format!("{HEAD}{lists}"),
        upstream.addr,
        &[("family", "block = [\"r\"]\n")],
    );
    let fdns = cfg.start().await;
    let both_blocked = async || {
        rcode(&fdns, "txt.example.test.").await == ResponseCode::NXDomain
            && udp(fdns.dns_addrs[0], "www.example.test.", RecordType::A)
                .await
                .metadata
                .response_code
                == ResponseCode::NXDomain
    };
    assert!(eventually(Duration::from_secs(5), both_blocked).await);

    // Without the publishers, a restart filters both from two distinct cache files.
    dot_server.abort();
    underscore_server.abort();
    fdns.shut_down().await;
    let fdns = cfg.start().await;
    assert_eq!(
        rcode(&fdns, "txt.example.test.").await,
        ResponseCode::NXDomain
    );
    let m = udp(fdns.dns_addrs[0], "www.example.test.", RecordType::A).await;
    assert_eq!(m.metadata.response_code, ResponseCode::NXDomain);
}

/// A list publisher over TLS on loopback, with the test CA's certificate for 127.0.0.1:
/// `/list.txt` is a good list, `/downgrade` redirects to `to` over plain HTTP.
async fn publish_tls(to: String) -> SocketAddr {
    use tokio_rustls::rustls::pki_types::pem::PemObject;
    use tokio_rustls::rustls::pki_types::{CertificateDer, PrivateKeyDer};
    let certs = vec![CertificateDer::from_pem_file(fixture("tls/server.pem")).unwrap()];
    let key = PrivateKeyDer::from_pem_file(fixture("tls/server.key")).unwrap();
    let provider = Arc::new(tokio_rustls::rustls::crypto::ring::default_provider());
    let config = tokio_rustls::rustls::ServerConfig::builder_with_provider(provider)
        .with_safe_default_protocol_versions()
        .unwrap()
        .with_no_client_auth()
        .with_single_cert(certs, key)
        .unwrap();
    let acceptor = tokio_rustls::TlsAcceptor::from(Arc::new(config));
    let app = Router::new()
        .route("/list.txt", get(|| async { "txt.example.test\n" }))
        .route(
            "/downgrade",
            get(move || async move { axum::response::Redirect::temporary(&to) }),
        );
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    tokio::spawn(async move {
        while let Ok((tcp, _)) = listener.accept().await {
            let (acceptor, app) = (acceptor.clone(), app.clone());
            tokio::spawn(async move {
                let Ok(tls) = acceptor.accept(tcp).await else {
                    return;
                };
                let _ = hyper::server::conn::http1::Builder::new()
                    .serve_connection(
                        hyper_util::rt::TokioIo::new(tls),
                        hyper_util::service::TowerToHyperService::new(app),
                    )
                    .await;
            });
        }
    });
    addr
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn https_never_redirects_to_http() {
    // The plain-HTTP side of the redirect, counting what reaches it.
    let plain = Publisher::default();
    *plain.body.lock().unwrap() = "www.example.test\n".into();
    let hits = Arc::new(AtomicUsize::new(0));
    let counted = hits.clone();
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let plain_addr = listener.local_addr().unwrap();
    let app = Router::new()
        .route("/list.txt", get(list))
        .with_state(plain)
        .layer(axum::middleware::from_fn(
            move |req: axum::extract::Request, next: axum::middleware::Next| {
                counted.fetch_add(1, Ordering::SeqCst);
                next.run(req)
            },
        ));
    tokio::spawn(async move { axum::serve(listener, app).await.unwrap() });
    let tls = publish_tls(format!("http://{plain_addr}/list.txt")).await;

    let upstream = start_upstream().await;
    let cfg = TestConfig::new(HEAD, upstream.addr, &[("family", "")]);
    let config = familydns::config::load(&cfg.path()).unwrap();
    let forwarder = Arc::new(familydns::upstream::Forwarder::new(&config.upstream).unwrap());
    let ca = reqwest::Certificate::from_pem(&std::fs::read(fixture("tls/ca.pem")).unwrap());
    let downloader = familydns::download::Downloader::with_roots(forwarder, vec![ca.unwrap()]);
    let list = |path: &str| familydns::config::ListConfig {
        name: "remote".into(),
        category: "r".into(),
        source: cfg.dir.path().join("cache/remote.list"),
        format: familydns::lists::Format::Auto,
        url: Some(format!("https://127.0.0.1:{}{path}", tls.port())),
        refresh: Duration::from_secs(3600),
    };

    // Over TLS the list downloads: the refusal below is the redirect's, not the TLS setup's.
    assert_eq!(
        downloader.fetch(&list("/list.txt")).await.unwrap(),
        familydns::download::Fetched::Updated
    );
    let cached = list("/list.txt").source;
    assert_eq!(
        std::fs::read_to_string(&cached).unwrap(),
        "txt.example.test\n"
    );

    let error = downloader
        .fetch(&list("/downgrade"))
        .await
        .unwrap_err()
        .to_string();
    assert!(error.contains("refused a redirect from https"), "{error}");
    assert_eq!(hits.load(Ordering::SeqCst), 0, "nothing went out over HTTP");
    assert_eq!(
        std::fs::read_to_string(&cached).unwrap(),
        "txt.example.test\n"
    );
}
