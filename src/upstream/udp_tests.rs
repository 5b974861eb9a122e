//! The UDP client against a scripted upstream: a plain socket on loopback that answers (or
//! does not) as each test needs.

use std::net::UdpSocket as StdSocket;
use std::time::Duration;

use super::*;

/// A query for `name`/A with ID 0, as the client's caller encodes it.
fn query(name: &str) -> Vec<u8> {
    let mut q = vec![0, 0, 0x01, 0x00, 0, 1, 0, 0, 0, 0, 0, 0];
    for label in name.split('.').filter(|l| !l.is_empty()) {
        q.push(label.len() as u8);
        q.extend_from_slice(label.as_bytes());
    }
    q.extend_from_slice(&[0, 0, 1, 0, 1]);
    q
}

/// `request` turned into a reply with `ancount` in its header (a marker the test reads).
fn reply(request: &[u8], ancount: u8) -> Vec<u8> {
    let mut r = request.to_vec();
    r[2] |= 0x80;
    r[7] = ancount;
    r
}

fn upstream() -> (StdSocket, SocketAddr) {
    let socket = StdSocket::bind("127.0.0.1:0").unwrap();
    socket
        .set_read_timeout(Some(Duration::from_secs(5)))
        .unwrap();
    let addr = socket.local_addr().unwrap();
    (socket, addr)
}

#[tokio::test]
async fn only_a_response_with_the_id_and_the_question_is_taken() {
    let (up, addr) = upstream();
    let client = UdpUpstream::new(addr, 1);
    let answering = std::thread::spawn(move || {
        let mut buf = [0u8; 512];
        let (n, from) = up.recv_from(&mut buf).unwrap();
        let request = &buf[..n];
        // Another question under the right ID, the right question under another ID, and
        // the query itself sent back without the response bit: all three are dropped.
        let mut other = reply(&query("evil.example."), 1);
        other[..2].copy_from_slice(&request[..2]);
        up.send_to(&other, from).unwrap();
        let mut wrong_id = reply(request, 2);
        wrong_id[0] ^= 0xff;
        up.send_to(&wrong_id, from).unwrap();
        up.send_to(request, from).unwrap();
        // The right one, its name in other letter case (an upstream may change it).
        let mut right = reply(request, 3);
        right[13..18].make_ascii_uppercase();
        up.send_to(&right, from).unwrap();
    });
    let mut request = query("www.example.");
    let got = client.exchange(&mut request).await.unwrap();
    answering.join().unwrap();
    assert_eq!(got[7], 3, "the matching reply, not a decoy");
    assert_eq!(
        got[..2],
        request[..2],
        "under the ID the query was sent with"
    );
}

#[tokio::test]
async fn a_withdrawn_query_leaves_nothing_waiting() {
    let (_silent, addr) = upstream();
    let client = UdpUpstream::new(addr, 1);
    for _ in 0..3 {
        let mut request = query("www.example.");
        let asked = tokio::time::timeout(Duration::from_millis(50), client.exchange(&mut request));
        assert!(asked.await.is_err(), "nothing answers");
    }
    let channel = client.slots[0].load_full().expect("the socket was opened");
    let state = channel.shared.state.lock().unwrap();
    assert!(state.waiting.is_empty(), "{} left", state.waiting.len());
    assert_eq!(state.sent, 3);
}

#[tokio::test]
async fn the_socket_moves_to_a_new_port_after_its_queries() {
    let (up, addr) = upstream();
    let client = UdpUpstream::new(addr, 1);
    let total = ROTATE_AFTER as usize + 1;
    let answering = std::thread::spawn(move || {
        let mut ports = std::collections::BTreeSet::new();
        let mut buf = [0u8; 512];
        for _ in 0..total {
            let (n, from) = up.recv_from(&mut buf).unwrap();
            ports.insert(from.port());
            up.send_to(&reply(&buf[..n], 1), from).unwrap();
        }
        ports
    });
    let mut ids = std::collections::HashSet::new();
    for _ in 0..total {
        let mut request = query("www.example.");
        client.exchange(&mut request).await.unwrap();
        ids.insert(u16::from_be_bytes([request[0], request[1]]));
    }
    let ports = answering.join().unwrap();
    assert_eq!(
        ports.len(),
        2,
        "one port for the first {ROTATE_AFTER}, then another"
    );
    // 4097 draws of 65,536 IDs: a counter or a constant would give far fewer distinct ones.
    assert!(ids.len() > 3900, "{} distinct IDs", ids.len());
}

#[tokio::test]
async fn an_unreachable_upstream_fails_the_query_at_once() {
    let (closed, addr) = upstream();
    drop(closed);
    let client = UdpUpstream::new(addr, 1);
    let mut request = query("www.example.");
    let asked = tokio::time::timeout(Duration::from_secs(5), client.exchange(&mut request));
    let result = asked.await.expect("failed before the timeout");
    assert!(result.is_err(), "port unreachable is an error");
}

#[test]
fn a_question_is_read_only_when_there_is_exactly_one_uncompressed() {
    let q = query("www.example.");
    assert_eq!(question(&q), Some(&q[12..]));
    let mut two = q.clone();
    two[5] = 2;
    assert_eq!(question(&two), None, "two questions");
    let mut pointer = q.clone();
    pointer[12] = 0xc0;
    assert_eq!(question(&pointer), None, "a compression pointer");
    assert_eq!(question(&q[..q.len() - 1]), None, "cut short");
    assert_eq!(question(&q[..5]), None, "no question at all");
}

#[test]
fn questions_match_by_name_in_any_case_but_type_exactly() {
    let asked = &query("www.example.")[12..];
    let mut upper = asked.to_vec();
    let name = upper.len() - 4;
    upper[..name].make_ascii_uppercase();
    assert!(same_question(asked, &upper));
    // Type 65 (HTTPS) is the byte 'A': it must not match type 97 ('a').
    let mut https = asked.to_vec();
    let n = https.len();
    https[n - 3] = 65;
    let mut other = https.clone();
    other[n - 3] = 97;
    assert!(!same_question(&https, &other));
}
