//! Three nodes on NATS sharing one PostgreSQL store: a room's plugins run on exactly one
//! node (its lease), so a like threshold crossed by viewers on every node unlocks its
//! coupon once; a claim storm over the nodes grants exactly the quota; `kill -9` of the
//! lease holder moves the plugins to another node, whose viewers resume with no gap and
//! no duplicate and see the next threshold unlock once; with PostgreSQL stopped, claims
//! fail with a clear error, `/readyz` and the API say the store is unavailable, and what
//! was acknowledged before is still there after it comes back.

mod cluster;

use cluster::{Client, WAIT, one_at_a_time};
use futures_util::StreamExt;
use livecart_e2e::{NatsServer, PgCluster, Serve, enabled_hash, http};
use serde_json::{Value, json};
use std::time::Duration;

fn pg_node(nats: &NatsServer, store: &str) -> Serve {
    let url = nats.url();
    Serve::start(&[
        "--bus",
        &url,
        "--store",
        store,
        "--no-demo-stream",
        "--token-secret",
        "one-secret-for-every-node-of-the-cluster",
    ])
}

/// `livecart_room_plugin_leases` of a node, `None` when it does not answer.
fn leases(node: &Serve) -> Option<u64> {
    let (status, body) = http(&node.addr, "GET", "/metrics", None, "");
    (status == 200).then_some(())?;
    body.lines()
        .find_map(|l| l.strip_prefix("livecart_room_plugin_leases "))
        .and_then(|v| v.trim().parse().ok())
}

/// What a viewer saw of like-coupon's work: unlocked coupon ids and system texts.
#[derive(Default, Debug)]
struct Seen {
    unlocked: Vec<String>,
    system: Vec<String>,
    last: u64,
}

impl Client {
    /// Tap `count` likes, then read frames for `window`, recording unlocks.
    async fn like_and_watch(&mut self, count: u32, window: Duration, seen: &mut Seen) {
        if count > 0 {
            self.send(json!({"type": "like", "count": count})).await;
        }
        while let Some(f) = self.next(window).await {
            seen.last = seen.last.max(f["o"].as_u64().unwrap_or(0));
            match f["type"].as_str() {
                Some("coupon") if f["event"] == "unlocked" => {
                    seen.unlocked
                        .push(f["coupon"]["id"].as_str().unwrap_or("").to_owned());
                }
                Some("system") => seen
                    .system
                    .push(f["text"].as_str().unwrap_or("").to_owned()),
                _ => {}
            }
        }
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn plugins_run_on_one_node_move_on_kill_9_and_postgres_outages_lose_nothing() {
    let _one = one_at_a_time().await;
    let nats = NatsServer::start();
    let pg = PgCluster::start();
    let db = pg.create_db("cluster");
    // The first node sets the demo up in the shared store; the others find it there.
    let first = pg_node(&nats, &db);
    let mut nodes = vec![
        Some(first),
        Some(pg_node(&nats, &db)),
        Some(pg_node(&nats, &db)),
    ];
    let node = |nodes: &[Option<Serve>], i: usize| nodes[i].as_ref().expect("running").addr.clone();
    let token = nodes[0].as_ref().expect("first").merchant_token.clone();

    // like-coupon with two thresholds on the demo's locked coupons.
    let hash = enabled_hash(&node(&nodes, 0), &token, "demo", "like-coupon");
    let config = json!({"thresholds": [
        {"likes": 30, "coupon": "c-1k", "message": "thirty likes"},
        {"likes": 60, "coupon": "c-10k", "message": "sixty likes"},
    ]});
    let enable = json!({"hash": hash, "config": config}).to_string();
    let (status, body) = http(
        &node(&nodes, 1),
        "POST",
        "/api/rooms/demo/plugins",
        Some(&token),
        &enable,
    );
    assert!(
        status == 200 || status == 201,
        "enable on another node: {status} {body}"
    );

    // Exactly one node runs the room's plugins.
    let mut viewers = Vec::new();
    for i in 0..3 {
        let (c, snap) = Client::join(&node(&nodes, i), &format!("viewer{i}"), None).await;
        assert_eq!(snap.expect("snapshot")["type"], "snapshot");
        viewers.push(c);
    }
    let deadline = std::time::Instant::now() + WAIT;
    let holder = loop {
        let held: Vec<_> = nodes.iter().map(|n| n.as_ref().and_then(leases)).collect();
        if held.iter().filter(|h| **h == Some(1)).count() == 1
            && held.iter().all(|h| h.is_some_and(|h| h <= 1))
        {
            break held.iter().position(|h| *h == Some(1)).expect("holder");
        }
        assert!(
            std::time::Instant::now() < deadline,
            "no single lease holder: {held:?}"
        );
        tokio::time::sleep(Duration::from_millis(200)).await;
    };
    let epoch = {
        let (mut probe, snap) = Client::join(&node(&nodes, 0), "probe", None).await;
        probe.ws.close(None).await.ok();
        snap.expect("snapshot")["epoch"]
            .as_str()
            .expect("epoch")
            .to_owned()
    };

    // Viewers on every node tap likes until the first threshold is crossed: the coupon
    // unlocks once, and every viewer sees it once.
    let mut seen: Vec<Seen> = (0..3).map(|_| Seen::default()).collect();
    for _round in 0..20 {
        for (v, s) in viewers.iter_mut().zip(seen.iter_mut()) {
            v.like_and_watch(2, Duration::from_millis(100), s).await;
        }
        if seen.iter().all(|s| !s.unlocked.is_empty()) {
            break;
        }
    }
    for (v, s) in viewers.iter_mut().zip(seen.iter_mut()) {
        v.like_and_watch(0, Duration::from_millis(1500), s).await;
    }
    for (i, s) in seen.iter().enumerate() {
        assert_eq!(s.unlocked, vec!["c-1k"], "viewer{i}: {s:?}");
        assert_eq!(s.system, vec!["thirty likes"], "viewer{i}: {s:?}");
    }

    // kill -9 the holder: another node takes the room's plugins over.
    let killed = nodes[holder].take().expect("holder");
    let mut killed_child = killed.child;
    killed_child.0.kill().expect("kill -9");
    let t = std::time::Instant::now();
    let _ = killed_child.0.wait();
    // Its viewer sees the connection drop and resumes on a surviving node, as the page
    // does: a `pong` (not a snapshot) answers the ping after the resumed join.
    let survivor = (0..3).find(|i| nodes[*i].is_some()).expect("a survivor");
    let orphan = &mut viewers[holder];
    while tokio::time::timeout(WAIT, orphan.ws.next())
        .await
        .expect("the killed node's socket closes")
        .is_some_and(|m| m.is_ok())
    {}
    let resumed =
        Client::resume_and_ping(&node(&nodes, survivor), "orphan", &epoch, seen[holder].last).await;
    assert_eq!(
        resumed["type"], "pong",
        "resumed with nothing missed: {resumed}"
    );
    let resumed_after = t.elapsed();
    println!(
        "failover: the killed node's viewer resumed on another node {resumed_after:?} after kill -9"
    );
    let new_holder = loop {
        let held: Vec<_> = nodes.iter().map(|n| n.as_ref().and_then(leases)).collect();
        if let Some(i) = held.iter().position(|h| *h == Some(1)) {
            break i;
        }
        assert!(
            t.elapsed() < Duration::from_secs(10),
            "nobody took the lease over: {held:?}"
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    };
    let takeover = t.elapsed();
    println!("failover: lease taken over {takeover:?} after kill -9");
    assert!(
        takeover < Duration::from_secs(5),
        "takeover took {takeover:?}"
    );

    // Likes from the surviving viewers cross the second threshold: one unlock, and the
    // first coupon (its KV state is in PostgreSQL) does not unlock again.
    let last = seen[holder].last;
    drop(viewers.remove(holder));
    seen.remove(holder);
    for _round in 0..30 {
        for (v, s) in viewers.iter_mut().zip(seen.iter_mut()) {
            v.like_and_watch(2, Duration::from_millis(100), s).await;
        }
        if seen.iter().all(|s| s.unlocked.len() >= 2) {
            break;
        }
    }
    for (v, s) in viewers.iter_mut().zip(seen.iter_mut()) {
        v.like_and_watch(0, Duration::from_millis(1500), s).await;
    }
    for (i, s) in seen.iter().enumerate() {
        assert_eq!(
            s.unlocked,
            vec!["c-1k", "c-10k"],
            "viewer {i}: {s:?} (new holder {new_holder})"
        );
        assert_eq!(
            s.system,
            vec!["thirty likes", "sixty likes"],
            "viewer {i}: {s:?}"
        );
    }

    // The killed node's viewer resumes on a surviving node: it gets what it missed, the
    // second unlock, once, and nothing it had seen.
    let (mut back, first) =
        Client::join(&node(&nodes, survivor), "resumed", Some((&epoch, last))).await;
    let first = first.expect("the replay");
    assert_ne!(
        first["type"], "snapshot",
        "resumed, not a snapshot: {first}"
    );
    assert!(first["o"].as_u64().expect("offset") > last, "{first}");
    let mut missed = Seen::default();
    if first["type"] == "coupon" {
        missed
            .unlocked
            .push(first["coupon"]["id"].as_str().unwrap_or("").to_owned());
    } else if first["type"] == "system" {
        missed
            .system
            .push(first["text"].as_str().unwrap_or("").to_owned());
    }
    back.like_and_watch(0, Duration::from_millis(1000), &mut missed)
        .await;
    assert_eq!(
        missed.unlocked,
        vec!["c-10k"],
        "the resumed viewer: {missed:?}"
    );
    assert_eq!(
        missed.system,
        vec!["sixty likes"],
        "the resumed viewer: {missed:?}"
    );

    // A claim storm spread over the surviving nodes (and a third node started now)
    // grants exactly the quota, and PostgreSQL holds every granted claim.
    nodes[holder] = Some(pg_node(&nats, &db));
    let storm = json!({"id": "c-storm", "room_id": "demo", "title": "storm", "discount_cents": 100,
                       "quota": 10, "per_user_limit": 1, "unlocked": true})
    .to_string();
    let (status, body) = http(
        &node(&nodes, 0),
        "POST",
        "/api/coupons",
        Some(&token),
        &storm,
    );
    assert_eq!(status, 201, "{body}");
    let mut claimers = Vec::new();
    for i in 0..30 {
        let (c, _) = Client::join(&node(&nodes, i % 3), &format!("claimer{i}"), None).await;
        claimers.push(c);
    }
    for (i, c) in claimers.iter_mut().enumerate() {
        c.send(json!({"type": "claim", "coupon_id": "c-storm", "key": format!("storm-{i}")}))
            .await;
    }
    let mut granted = 0;
    for c in &mut claimers {
        let r = claim_result(c).await;
        granted += usize::from(r["ok"] == true);
    }
    assert_eq!(granted, 10, "exactly the quota, over three nodes");
    let (_, coupons) = http(&node(&nodes, 2), "GET", "/api/coupons", Some(&token), "");
    let coupons: Value = serde_json::from_str(&coupons).expect("json");
    let stored = coupons
        .as_array()
        .and_then(|c| c.iter().find(|c| c["id"] == "c-storm"))
        .map(|c| c["claimed"].clone());
    assert_eq!(
        stored,
        Some(json!(10)),
        "PostgreSQL holds every granted claim: {coupons}"
    );
    drop(claimers);

    // A claim is granted and acknowledged; then PostgreSQL stops.
    let claimer = &mut viewers[0];
    let claim = |key: &str| json!({"type": "claim", "coupon_id": "c-1k", "key": key});
    claimer.send(claim("before-the-outage")).await;
    let granted = claim_result(claimer).await;
    assert_eq!(granted["ok"], true, "{granted}");
    pg.stop();
    claimer.send(claim("during-the-outage")).await;
    let refused = claim_result(claimer).await;
    assert_eq!(refused["ok"], false, "{refused}");
    let error = refused["error"].as_str().unwrap_or_default().to_owned();
    assert!(!error.is_empty(), "a refused claim says why: {refused}");
    let (status, body) = http(&node(&nodes, survivor), "GET", "/readyz", None, "");
    assert_eq!(status, 503, "{body}");
    assert!(body.contains("\"store\""), "{body}");
    let (status, body) = http(
        &node(&nodes, survivor),
        "GET",
        "/api/coupons",
        Some(&token),
        "",
    );
    assert_eq!(
        status, 503,
        "the merchant API says the store is unavailable: {body}"
    );
    assert!(body.contains("store is unavailable"), "{body}");

    // PostgreSQL is back: ready again, and the acknowledged claim is there (its key
    // replays the same claim).
    pg.start_again();
    let deadline = std::time::Instant::now() + WAIT;
    while http(&node(&nodes, survivor), "GET", "/readyz", None, "").0 != 200 {
        assert!(
            std::time::Instant::now() < deadline,
            "not ready after PostgreSQL came back"
        );
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
    let claimer = &mut viewers[0];
    claimer.send(claim("before-the-outage")).await;
    let replayed = claim_result(claimer).await;
    assert_eq!(replayed["ok"], true, "{replayed}");
    assert_eq!(
        replayed["claim_id"], granted["claim_id"],
        "the same claim, kept"
    );
}

async fn claim_result(c: &mut Client) -> Value {
    loop {
        let f = c.next(WAIT).await.expect("a claim result");
        if f["type"] == "claim_result" {
            return f;
        }
    }
}
