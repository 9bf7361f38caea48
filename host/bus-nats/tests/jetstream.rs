//! The JetStream bus against a real `nats-server -js` (Debian's 2.9.10): nodes agree on
//! every room message and its sequence, a late node replays the history, and a server
//! restart loses nothing once the nodes have reconnected.

use bytes::Bytes;
use livecart_bus::{Backplane, Event, Subscription};
use livecart_bus_nats::{NatsBackplane, NatsConfig};
use livecart_e2e::NatsServer;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

type Seen = Arc<Mutex<Vec<Event>>>;

fn follow(bus: &NatsBackplane, room: &str) -> (Seen, Subscription) {
    let seen: Seen = Arc::default();
    let s = seen.clone();
    let sub = bus.subscribe(room, Arc::new(move |e| s.lock().expect("lock").push(e)));
    (seen, sub)
}

fn messages(seen: &Seen) -> Vec<(u64, Bytes)> {
    seen.lock()
        .expect("lock")
        .iter()
        .filter_map(|e| match e {
            Event::Message(m) => Some((m.seq, m.payload.clone())),
            _ => None,
        })
        .collect()
}

fn ready(seen: &Seen) -> Option<u64> {
    seen.lock().expect("lock").iter().find_map(|e| match e {
        Event::Ready { floor } => Some(*floor),
        _ => None,
    })
}

async fn until(what: &str, limit: Duration, ok: impl Fn() -> bool) {
    let deadline = Instant::now() + limit;
    while !ok() {
        assert!(Instant::now() < deadline, "timed out waiting for {what}");
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}

async fn node(server: &NatsServer) -> Arc<NatsBackplane> {
    NatsBackplane::connect(&NatsConfig::new(&server.url()))
        .await
        .expect("connect")
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn three_nodes_see_the_same_messages_with_the_same_sequences_and_a_late_one_replays() {
    let server = NatsServer::start();
    let nodes = [
        node(&server).await,
        node(&server).await,
        node(&server).await,
    ];
    assert_eq!(
        nodes[0].epoch(),
        nodes[2].epoch(),
        "the epoch names the stream"
    );
    let followers: Vec<_> = nodes.iter().map(|n| follow(n, "room.1")).collect();
    let (_other, _other_sub) = follow(&nodes[0], "room 2");
    for (_, (seen, _)) in nodes.iter().zip(&followers) {
        until("ready", Duration::from_secs(10), || ready(seen).is_some()).await;
    }
    for i in 0..30 {
        nodes[i % 3].publish("room.1", Bytes::from(format!("m{i}")));
        nodes[0].publish("room 2", Bytes::from(format!("other{i}")));
    }
    for (seen, _) in &followers {
        until("30 messages", Duration::from_secs(10), || {
            messages(seen).len() >= 30
        })
        .await;
    }
    let first = messages(&followers[0].0);
    assert_eq!(first.len(), 30);
    assert!(first.windows(2).all(|w| w[0].0 < w[1].0), "sequences grow");
    for (seen, _) in &followers[1..] {
        assert_eq!(
            messages(seen),
            first,
            "every node, the same order and sequences"
        );
    }
    // Messages from one node keep their publish order.
    let from_node0: Vec<_> = first
        .iter()
        .map(|(_, p)| String::from_utf8_lossy(p).to_string())
        .filter(|p| p[1..].parse::<usize>().is_ok_and(|i| i % 3 == 0))
        .collect();
    let expected: Vec<_> = (0..30).step_by(3).map(|i| format!("m{i}")).collect();
    assert_eq!(from_node0, expected);

    // A node that opens the room later (or restarted) replays the retained history, then
    // is ready with the floor just before it.
    let late = node(&server).await;
    let (seen, _sub) = follow(&late, "room.1");
    until("late ready", Duration::from_secs(10), || {
        ready(&seen).is_some()
    })
    .await;
    assert_eq!(messages(&seen), first);
    assert_eq!(ready(&seen), Some(first[0].0 - 1));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_server_restart_loses_no_message_and_duplicates_none() {
    let mut server = NatsServer::start();
    let (a, b) = (node(&server).await, node(&server).await);
    let (seen_a, _sa) = follow(&a, "r");
    let (seen_b, _sb) = follow(&b, "r");
    until("ready", Duration::from_secs(10), || {
        ready(&seen_a).is_some() && ready(&seen_b).is_some()
    })
    .await;
    for i in 0..5 {
        a.publish("r", Bytes::from(format!("before{i}")));
    }
    until("before", Duration::from_secs(10), || {
        messages(&seen_b).len() == 5
    })
    .await;

    server.stop();
    tokio::time::sleep(Duration::from_millis(300)).await;
    server.start_again();
    // Published while the nodes may still be reconnecting: retried until acknowledged.
    for i in 0..5 {
        b.publish("r", Bytes::from(format!("after{i}")));
    }
    until("after the restart", Duration::from_secs(30), || {
        messages(&seen_a).len() >= 10 && messages(&seen_b).len() >= 10
    })
    .await;
    tokio::time::sleep(Duration::from_millis(500)).await;
    let got = messages(&seen_a);
    assert_eq!(got, messages(&seen_b));
    let texts: Vec<_> = got
        .iter()
        .map(|(_, p)| String::from_utf8_lossy(p).to_string())
        .collect();
    let expected: Vec<_> = (0..5)
        .map(|i| format!("before{i}"))
        .chain((0..5).map(|i| format!("after{i}")))
        .collect();
    assert_eq!(texts, expected);
}

#[tokio::test]
async fn an_unreachable_server_is_an_error_at_connect() {
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .expect("free port")
        .port();
    let mut config = NatsConfig::new(&format!("nats://127.0.0.1:{port}"));
    config.connect_timeout = Duration::from_secs(2);
    let err = NatsBackplane::connect(&config)
        .await
        .expect_err("no server");
    assert!(err.to_string().contains("cannot connect"), "{err}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn each_node_hears_the_other_nodes_counters_not_its_own() {
    let server = NatsServer::start();
    let (a, b) = (node(&server).await, node(&server).await);
    let (seen_a, _sa) = follow(&a, "r");
    let (seen_b, _sb) = follow(&b, "r");
    until("ready", Duration::from_secs(10), || {
        ready(&seen_a).is_some() && ready(&seen_b).is_some()
    })
    .await;
    let counters = |seen: &Seen| -> Vec<(u64, u32)> {
        seen.lock()
            .expect("lock")
            .iter()
            .filter_map(|e| match e {
                Event::Counters(c) => Some((c.likes, c.online)),
                _ => None,
            })
            .collect()
    };
    // Core NATS delivers only to subscriptions that exist: announce until heard.
    let deadline = Instant::now() + Duration::from_secs(10);
    while counters(&seen_b).is_empty() {
        assert!(Instant::now() < deadline, "b never heard a's counters");
        a.publish_counters("r", 7, 2);
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    assert_eq!(counters(&seen_b)[0], (7, 2));
    assert!(
        counters(&seen_a).is_empty(),
        "a node ignores its own counters"
    );
}

/// A node's view of a room's lease: whether it holds it now.
fn compete(bus: &NatsBackplane, room: &str) -> (Arc<Mutex<bool>>, Subscription) {
    let held = Arc::new(Mutex::new(false));
    let h = held.clone();
    let sub = bus.lease(room, Arc::new(move |now| *h.lock().expect("lock") = now));
    (held, sub)
}

fn holds(held: &Arc<Mutex<bool>>) -> bool {
    *held.lock().expect("lock")
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn one_node_holds_a_room_lease_and_hands_it_over_when_it_lets_go_or_loses_the_server() {
    let mut server = NatsServer::start();
    let (a, b) = (node(&server).await, node(&server).await);
    let (held_a, lease_a) = compete(&a, "r");
    until("a to take the free lease", Duration::from_secs(5), || {
        holds(&held_a)
    })
    .await;
    let (held_b, lease_b) = compete(&b, "r");
    // Other rooms are leased independently.
    let (held_other, _other) = compete(&b, "other");
    until("b to take another room", Duration::from_secs(5), || {
        holds(&held_other)
    })
    .await;
    tokio::time::sleep(Duration::from_secs(4)).await; // past the lease time: a renews
    assert!(holds(&held_a) && !holds(&held_b), "exactly one holder");

    // a lets go (closes the room): b takes over at its next try.
    let t = Instant::now();
    drop(lease_a);
    assert!(!holds(&held_a));
    until(
        "b to take the released lease",
        Duration::from_secs(5),
        || holds(&held_b),
    )
    .await;
    assert!(
        t.elapsed() < Duration::from_secs(2),
        "released, so no expiry wait: {:?}",
        t.elapsed()
    );

    // Forwarded inputs reach the room's subscribers on other nodes.
    let got = Arc::new(Mutex::new(Vec::new()));
    let g = got.clone();
    let _fwd = b.subscribe_forwarded("r", Arc::new(move |p| g.lock().expect("lock").push(p)));
    tokio::time::sleep(Duration::from_millis(300)).await; // the core subscription is up
    a.forward("r", Bytes::from_static(b"event"));
    until("the forwarded input", Duration::from_secs(5), || {
        !got.lock().expect("lock").is_empty()
    })
    .await;

    // b loses the server: it gives the lease up by itself rather than believe it holds it.
    server.stop();
    until(
        "b to give up a lease it cannot renew",
        Duration::from_secs(5),
        || !holds(&held_b),
    )
    .await;
    server.start_again();
    until("b to take the lease again", Duration::from_secs(15), || {
        holds(&held_b)
    })
    .await;
    drop(lease_b);
}
