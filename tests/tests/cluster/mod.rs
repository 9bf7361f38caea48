//! What the cluster tests share: a room client over a real WebSocket and a node on NATS.
// Each test binary uses part of it.
#![allow(dead_code)]

use futures_util::{SinkExt, StreamExt};
use livecart_e2e::{NatsServer, Serve};
use serde_json::{Value, json};
use std::time::Duration;
use tokio::net::TcpStream;
use tokio_tungstenite::tungstenite::Message;
use tokio_tungstenite::{MaybeTlsStream, WebSocketStream};

pub const ROOM: &str = "demo";
pub const WAIT: Duration = Duration::from_secs(15);

/// The cluster tests start three nodes each: one at a time on a small machine.
pub async fn one_at_a_time() -> tokio::sync::MutexGuard<'static, ()> {
    static ONE: tokio::sync::Mutex<()> = tokio::sync::Mutex::const_new(());
    ONE.lock().await
}

pub struct Client {
    pub ws: WebSocketStream<MaybeTlsStream<TcpStream>>,
    pub name: String,
}

impl Client {
    /// Connect as a guest and join the room; returns the client and the first frame.
    pub async fn join(
        addr: &str,
        name: &str,
        resume: Option<(&str, u64)>,
    ) -> (Client, Option<Value>) {
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
    pub async fn resume_and_ping(addr: &str, name: &str, epoch: &str, offset: u64) -> Value {
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

    pub async fn send(&mut self, v: Value) {
        self.ws
            .send(Message::text(v.to_string()))
            .await
            .expect("send");
    }

    pub async fn comment(&mut self, text: &str) {
        self.send(json!({"type": "comment", "text": text})).await;
    }

    /// The next frame other than pings and counters, within `limit`.
    pub async fn next(&mut self, limit: Duration) -> Option<Value> {
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
    pub async fn state(&mut self, kind: &str, field: &str, want: u64) {
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
    pub async fn comments_from(&mut self, author: &str, n: usize) -> Vec<(u64, String)> {
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
pub fn comment(frame: &Value, author: &str) -> Option<(u64, String)> {
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

pub fn node(nats: &NatsServer) -> Serve {
    let url = nats.url();
    Serve::start(&[
        "--bus",
        &url,
        "--no-demo-stream",
        "--token-secret",
        "one-secret-for-every-node-of-the-cluster",
    ])
}
