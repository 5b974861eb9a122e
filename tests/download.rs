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
    drop(fdns);
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
