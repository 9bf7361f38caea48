//! Three `livecart serve` nodes on one NATS JetStream bus (`--bus nats://…`), each with its
//! own data dir and the demo room: viewers on different nodes see the same frames with the
//! same offsets in the same order; a client resumes on another node with no gap and no
//! duplicate; like totals and online counts are the cluster's; after NATS restarts, the rooms carry on without restarting livecart.

use futures_util::{SinkExt, StreamExt};
use livecart_e2e::{NatsServer, Serve};
use serde_json::{Value, json};
use std::time::Duration;
use tokio::net::TcpStream;
use tokio_tungstenite::tungstenite::Message;
use tokio_tungstenite::{MaybeTlsStream, WebSocketStream};

const ROOM: &str = "demo";
const WAIT: Duration = Duration::from_secs(15);

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
    tokio::time::sleep(Duration::from_millis(500)).await;
    nats.start_again();
    bob.comment("after the restart").await;
    for v in viewers.iter_mut().chain(std::iter::once(&mut back)) {
        let after = v.comments_from("bob", 1).await;
        assert_eq!(after[0].1, "after the restart");
        assert!(after[0].0 > missed[2].0, "offsets keep growing");
    }
}
