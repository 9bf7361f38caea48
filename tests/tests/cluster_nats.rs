//! Three `livecart serve` nodes on one NATS JetStream bus (`--bus nats://…`), each with its
//! own data dir and the demo room: viewers on different nodes see the same frames with the
//! same offsets in the same order; a client resumes on another node with no gap and no
//! duplicate; like totals and online counts are the cluster's; after NATS restarts, the
//! rooms carry on without restarting livecart; after every node restarts, a client
//! resumes with what it missed.
//!
//! And three nodes on NATS sharing one PostgreSQL store: a room's plugins run on exactly
//! one node (its lease), so a like threshold crossed by viewers on every node unlocks its
//! coupon once; `kill -9` of that node moves them to another, whose viewers resume with
//! no gap and no duplicate and see the next threshold unlock once; with PostgreSQL
//! stopped, claims fail with a clear error, `/readyz` says not ready, and what was
//! acknowledged before is still there after it comes back.
//!
//! And media across nodes: the node that does not package a live room relays its
//! `/media` to the one that does, so ffprobe reads the live from either.

use futures_util::{SinkExt, StreamExt};
use livecart_e2e::{NatsServer, PgCluster, Serve, http};
use serde_json::{Value, json};
use std::time::Duration;
use tokio::net::TcpStream;
use tokio_tungstenite::tungstenite::Message;
use tokio_tungstenite::{MaybeTlsStream, WebSocketStream};

const ROOM: &str = "demo";
const WAIT: Duration = Duration::from_secs(15);

/// The cluster tests start three nodes each: one at a time on a small machine.
async fn one_at_a_time() -> tokio::sync::MutexGuard<'static, ()> {
    static ONE: tokio::sync::Mutex<()> = tokio::sync::Mutex::const_new(());
    ONE.lock().await
}

struct Client {
    ws: WebSocketStream<MaybeTlsStream<TcpStream>>,
    name: String,
}

impl Client {
    /// Connect as a guest and join the room; returns the client and the first frame.
    async fn join(addr: &str, name: &str, resume: Option<(&str, u64)>) -> (Client, Option<Value>) {
        let (ws, _) = tokio_tungstenite::connect_async(format!("ws://{addr}/ws"))
            .await
            .expect("websocket");
        let mut c = Client {
            ws,
            name: name.to_owned(),
        };
        c.send(json!({"type": "hello", "v": 1, "name": name})).await;
        let welcome = c.next(WAIT).await.expect("welcome");
        assert_eq!(welcome["type"], "welcome", "{welcome}");
        let mut join = json!({"type": "join", "room": ROOM});
        if let Some((epoch, offset)) = resume {
            join["resume"] = json!({"epoch": epoch, "offset": offset});
        }
        c.send(join).await;
        let first = c.next(WAIT).await;
        (c, first)
    }

    /// Join `ROOM` on `addr` resuming after `offset`, then ping: the first frame after
    /// the join that is not a counter (a replayed frame, or the `pong` when nothing was
    /// missed; never a snapshot if the resume worked).
    async fn resume_and_ping(addr: &str, name: &str, epoch: &str, offset: u64) -> Value {
        let (ws, _) = tokio_tungstenite::connect_async(format!("ws://{addr}/ws"))
            .await
            .expect("websocket");
        let mut c = Client {
            ws,
            name: name.to_owned(),
        };
        c.send(json!({"type": "hello", "v": 1, "name": name})).await;
        let welcome = c.next(WAIT).await.expect("welcome");
        assert_eq!(welcome["type"], "welcome", "{welcome}");
        c.send(json!({"type": "join", "room": ROOM, "resume": {"epoch": epoch, "offset": offset}}))
            .await;
        c.send(json!({"type": "ping", "client_ms": 1})).await;
        c.next(WAIT).await.expect("an answer to the resumed join")
    }

    async fn send(&mut self, v: Value) {
        self.ws
            .send(Message::text(v.to_string()))
            .await
            .expect("send");
    }

    async fn comment(&mut self, text: &str) {
        self.send(json!({"type": "comment", "text": text})).await;
    }

    /// The next frame other than pings and counters, within `limit`.
    async fn next(&mut self, limit: Duration) -> Option<Value> {
        let deadline = tokio::time::Instant::now() + limit;
        loop {
            let msg = tokio::time::timeout_at(deadline, self.ws.next())
                .await
                .ok()??
                .ok()?;
            let Message::Text(text) = msg else {
                continue;
            };
            let v: Value = serde_json::from_str(&text).expect("json frame");
            if matches!(v["type"].as_str(), Some("ping" | "likes" | "online")) {
                continue;
            }
            return Some(v);
        }
    }

    /// Wait for a `likes` or `online` frame with `field == want`, within `WAIT`.
    async fn state(&mut self, kind: &str, field: &str, want: u64) {
        let deadline = tokio::time::Instant::now() + WAIT;
        let mut last = None;
        loop {
            let msg = tokio::time::timeout_at(deadline, self.ws.next())
                .await
                .ok()
                .flatten()
                .and_then(Result::ok)
                .unwrap_or_else(|| panic!("{}: no {kind} = {want}; last {last:?}", self.name));
            let Message::Text(text) = msg else {
                continue;
            };
            let v: Value = serde_json::from_str(&text).expect("json frame");
            if v["type"] == kind {
                if v[field] == want {
                    return;
                }
                last = Some(v);
            }
        }
    }

    /// Comment frames (offset, text) from `author`, until `n` have arrived.
    async fn comments_from(&mut self, author: &str, n: usize) -> Vec<(u64, String)> {
        let mut got = Vec::new();
        while got.len() < n {
            let frame = self
                .next(WAIT)
                .await
                .unwrap_or_else(|| panic!("{}: only {got:?} of {n} comments", self.name));
            if let Some(c) = comment(&frame, author) {
                got.push(c);
            }
        }
        got
    }
}

/// `(o, text)` of a comment frame by `author`.
fn comment(frame: &Value, author: &str) -> Option<(u64, String)> {
    (frame["type"] == "comment" && frame["comment"]["user"]["name"] == author).then(|| {
        (
            frame["o"].as_u64().expect("offset"),
            frame["comment"]["text"]
                .as_str()
                .unwrap_or_default()
                .to_owned(),
        )
    })
}

fn node(nats: &NatsServer) -> Serve {
    let url = nats.url();
    Serve::start(&[
        "--bus",
        &url,
        "--no-demo-stream",
        "--token-secret",
        "one-secret-for-every-node-of-the-cluster",
    ])
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn rooms_span_three_nodes_on_nats_resume_anywhere_and_survive_a_nats_restart() {
    let _one = one_at_a_time().await;
    let mut nats = NatsServer::start();
    let nodes = [node(&nats), node(&nats), node(&nats)];

    // A viewer on every node; the snapshots agree on the epoch (the stream's).
    let mut viewers = Vec::new();
    let mut epochs = Vec::new();
    for (i, n) in nodes.iter().enumerate() {
        let (c, snap) = Client::join(&n.addr, &format!("viewer{i}"), None).await;
        let snap = snap.expect("snapshot");
        assert_eq!(snap["type"], "snapshot", "{snap}");
        epochs.push(snap["epoch"].as_str().expect("epoch").to_owned());
        viewers.push(c);
    }
    assert!(epochs.iter().all(|e| *e == epochs[0]), "{epochs:?}");
    let epoch = epochs[0].clone();

    // Comments from posters on two nodes, interleaved.
    let (mut ann, _) = Client::join(&nodes[0].addr, "ann", None).await;
    let (mut bob, _) = Client::join(&nodes[1].addr, "bob", None).await;
    for i in 0..5 {
        ann.comment(&format!("ann {i}")).await;
        bob.comment(&format!("bob {i}")).await;
    }
    let mut seen = Vec::new();
    for v in &mut viewers {
        let mut mine = Vec::new();
        while mine.len() < 10 {
            let f = v.next(WAIT).await.expect("a comment");
            if let Some(c) = comment(&f, "ann").or_else(|| comment(&f, "bob")) {
                mine.push(c);
            }
        }
        seen.push(mine);
    }
    assert!(seen[0].windows(2).all(|w| w[0].0 < w[1].0), "{:?}", seen[0]);
    assert_eq!(seen[0], seen[1], "node 0 and node 1 viewers");
    assert_eq!(seen[0], seen[2], "node 0 and node 2 viewers");

    // Counters are the cluster's: likes tapped on node 0 and every node's connections
    // (three viewers and two posters), as seen on node 2.
    ann.send(json!({"type": "like", "count": 7})).await;
    viewers[2].state("likes", "total", 7).await;
    viewers[2].state("online", "count", 5).await;

    // Viewer 2 (on node 2) goes away after offset `last`, misses three comments, and
    // resumes on node 0: it gets exactly the three, in order, and no snapshot.
    let last = seen[2].last().expect("seen").0;
    drop(viewers.pop());
    for i in 0..3 {
        ann.comment(&format!("missed {i}")).await;
    }
    let missed = viewers[0].comments_from("ann", 3).await;
    let (mut back, first) = Client::join(&nodes[0].addr, "viewer2", Some((&epoch, last))).await;
    let first = first.expect("the replay");
    assert_ne!(
        first["type"], "snapshot",
        "resumed, not a snapshot: {first}"
    );
    let mut replayed = vec![comment(&first, "ann").expect("a missed comment")];
    replayed.extend(back.comments_from("ann", 2).await);
    assert_eq!(replayed, missed, "no gap, no duplicate");
    assert!(replayed[0].0 > last);

    // NATS restarts; the nodes reconnect and the room carries on.
    nats.stop();
    // While a node has lost the bus it says so: not ready, and chat refused clearly.
    let deadline = std::time::Instant::now() + WAIT;
    loop {
        let (status, body) = http(&nodes[1].addr, "GET", "/readyz", None, "");
        if status == 503 && body.contains("\"bus\"") {
            break;
        }
        assert!(
            std::time::Instant::now() < deadline,
            "still ready without NATS: {body}"
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    bob.comment("while NATS is down").await;
    let refused = loop {
        // bob has the room's earlier frames queued: the refusal comes after them.
        let f = bob.next(WAIT).await.expect("an error frame");
        if f["type"] == "error" {
            break f;
        }
    };
    assert_eq!(refused["type"], "error", "{refused}");
    assert_eq!(refused["code"], "bus_unavailable", "{refused}");
    nats.start_again();
    let deadline = std::time::Instant::now() + WAIT;
    while http(&nodes[1].addr, "GET", "/readyz", None, "").0 != 200 {
        assert!(
            std::time::Instant::now() < deadline,
            "not ready after NATS came back"
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    bob.comment("after the restart").await;
    let mut last = 0;
    for v in viewers.iter_mut().chain(std::iter::once(&mut back)) {
        let after = v.comments_from("bob", 1).await;
        assert_eq!(after[0].1, "after the restart");
        assert!(after[0].0 > missed[2].0, "offsets keep growing");
        last = after[0].0;
    }

    // The client leaves, misses two comments, and every node restarts (new processes):
    // it resumes on one of them and gets exactly the two, from JetStream.
    drop(back);
    for i in 0..2 {
        ann.comment(&format!("while away {i}")).await;
    }
    let away = viewers[0].comments_from("ann", 2).await;
    drop((viewers, ann, bob));
    drop(nodes);
    let nodes = [node(&nats), node(&nats), node(&nats)];
    let (mut back, first) = Client::join(&nodes[1].addr, "viewer2", Some((&epoch, last))).await;
    let first = first.expect("the replay");
    assert_ne!(
        first["type"], "snapshot",
        "resumed after a full restart: {first}"
    );
    let mut replayed: Vec<_> = comment(&first, "ann").into_iter().collect();
    let more = 2 - replayed.len();
    replayed.extend(back.comments_from("ann", more).await);
    assert_eq!(replayed, away);
}

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
    let (status, body) = http(
        &node(&nodes, 0),
        "GET",
        "/api/rooms/demo/plugins",
        Some(&token),
        "",
    );
    assert_eq!(status, 200, "{body}");
    let bindings: Value = serde_json::from_str(&body).expect("json");
    let hash = bindings["plugins"]
        .as_array()
        .and_then(|b| b.iter().find(|b| b["binding"]["name"] == "like-coupon"))
        .and_then(|b| b["binding"]["hash"].as_str())
        .expect("the demo runs like-coupon")
        .to_owned();
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

/// ffprobe's streams of a manifest URL, as `codec,width,height` lines.
fn probe(url: &str) -> String {
    let out = std::process::Command::new("timeout")
        .args([
            "30",
            "ffprobe",
            "-v",
            "error",
            "-show_entries",
            "stream=codec_name,width,height",
        ])
        .args(["-of", "csv=p=0", url])
        .output()
        .expect("ffprobe (apt-get install ffmpeg)");
    assert!(
        out.status.success(),
        "ffprobe {url}: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8_lossy(&out.stdout).into_owned()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_node_answers_media_for_a_room_packaged_on_another() {
    let _one = one_at_a_time().await;
    let nats = NatsServer::start();
    let url = nats.url();
    // Node a packages the demo room's stream; node b has no video of its own.
    let a = Serve::start(&[
        "--bus",
        &url,
        "--token-secret",
        "one-secret-for-every-node-of-the-cluster",
    ]);
    let b = node(&nats);
    let deadline = std::time::Instant::now() + Duration::from_secs(30);
    while http(&a.addr, "GET", "/media/demo/live.mpd", None, "").0 != 200 {
        assert!(
            std::time::Instant::now() < deadline,
            "the demo stream did not go live on a"
        );
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
    // b relays the manifest (a's, with its own availability start) and the segments.
    let deadline = std::time::Instant::now() + Duration::from_secs(10);
    let mpd = loop {
        let (status, body) = http(&b.addr, "GET", "/media/demo/live.mpd", None, "");
        if status == 200 {
            break body;
        }
        assert!(
            std::time::Instant::now() < deadline,
            "b did not relay the MPD: {status} {body}"
        );
        tokio::time::sleep(Duration::from_millis(200)).await;
    };
    assert!(mpd.contains("<MPD"), "{mpd}");
    let (status, master) = http(&b.addr, "GET", "/media/demo/master.m3u8", None, "");
    assert_eq!(status, 200, "{master}");
    assert!(master.starts_with("#EXTM3U"), "{master}");
    let streams = tokio::task::spawn_blocking({
        let url = format!("http://{}/media/demo/live.mpd", b.addr);
        move || probe(&url)
    })
    .await
    .expect("probe");
    assert!(streams.contains("h264"), "ffprobe through b: {streams}");
    // A room nobody packages is b's own 404, not a relay.
    let (status, _) = http(&b.addr, "GET", "/media/no-such-room/live.mpd", None, "");
    assert_eq!(status, 404);
}
