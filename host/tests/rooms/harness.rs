//! A livecart server on port 0 with a merchant, a room, products and coupons, plus a
//! small WebSocket client.

use futures_util::{SinkExt, StreamExt};
use livecart::auth::{Claims, Role, TokenKey};
use livecart::catalog::Product;
use livecart::plugin::registry::Registry;
use livecart::plugin::{CpuMeter, EngineConfig, PluginEngine};
use livecart::room::{RoomConfig, RoomDeps, Rooms};
use livecart::server::accept::{self, HttpLimits};
use livecart::server::{AppState, app};
use livecart::store::{NewCoupon, SqliteStore, Store};
use serde_json::{Value, json};
use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;
use tokio::net::TcpStream;
use tokio_tungstenite::tungstenite::Message;
use tokio_tungstenite::{MaybeTlsStream, WebSocketStream};

pub const SECRET: &[u8] = b"test-secret";
/// The operator token of every test server.
pub const OPERATOR_TOKEN: &str = "op_test_operator_token";

pub struct Server {
    pub addr: std::net::SocketAddr,
    pub store: Arc<dyn Store>,
    pub merchant_token: String,
    pub room: String,
    pub rooms: Arc<Rooms>,
    /// What a second node sharing this one's store is built from.
    deps: RoomDeps,
    _dir: tempfile::TempDir,
    task: tokio::task::JoinHandle<()>,
}

impl Drop for Server {
    fn drop(&mut self) {
        self.task.abort();
    }
}

pub fn target_dir() -> PathBuf {
    std::env::var_os("CARGO_TARGET_DIR")
        .map(PathBuf::from)
        .unwrap_or_else(|| PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../target"))
}

pub fn plugin_bytes(name: &str) -> Vec<u8> {
    let path = target_dir().join("plugins").join(format!("{name}.wasm"));
    std::fs::read(&path)
        .unwrap_or_else(|e| panic!("{}: {e}; run ./scripts/test.sh", path.display()))
}

pub async fn start(config: RoomConfig) -> Server {
    start_with(config, HttpLimits::default()).await
}

/// A server whose HTTP listener has `limits` (caps, header timeout).
pub async fn start_with(config: RoomConfig, limits: HttpLimits) -> Server {
    start_tuned(config, limits, |_| {}).await
}

/// A server whose plugin engine settings `tune` changes first.
pub async fn start_tuned(
    config: RoomConfig,
    limits: HttpLimits,
    tune: impl FnOnce(&mut EngineConfig),
) -> Server {
    count_panics();
    let dir = tempfile::tempdir().expect("tempdir");
    let store: Arc<dyn Store> =
        Arc::new(SqliteStore::open(&dir.path().join("db.sqlite")).expect("store"));
    let mut ec = EngineConfig::new(CpuMeter::Epoch);
    ec.instance_slots = 16;
    ec.limits.cpu_ms_per_batch = 10_000;
    ec.cache_dir = Some(target_dir().join("plugin-cache"));
    tune(&mut ec);
    let engine = Arc::new(PluginEngine::new(ec).expect("engine"));
    let registry = Arc::new(Registry::new(store.clone()));
    let (merchant, merchant_token) = store.create_merchant("Shop A").expect("merchant");
    let room = store
        .create_room(&merchant.id, "Spring sale")
        .expect("room")
        .id;
    store
        .upsert_product(
            &merchant.id,
            &Product {
                id: "sku-tee".into(),
                title: "Cotton Tee".into(),
                price_cents: 9900,
                currency: "CNY".into(),
                buy_url: "https://shop.example/tee".into(),
                stock: 100,
                ..Product::default()
            },
        )
        .expect("product");
    for (id, quota) in [("c-1k", 1000), ("c-race", 10)] {
        store
            .create_coupon(
                &merchant.id,
                &NewCoupon {
                    id: Some(id.into()),
                    room_id: Some(room.clone()),
                    title: id.into(),
                    discount_cents: 500,
                    quota,
                    per_user_limit: 1,
                    unlocked: id == "c-race",
                    ..NewCoupon::default()
                },
            )
            .expect("coupon");
    }
    let deps = RoomDeps {
        store: store.clone(),
        engine: engine.clone(),
        registry: registry.clone(),
        ai: None,
        tokens: TokenKey::new(SECRET),
        config,
        media: Arc::new(livecart::room::timeline::NoMedia),
    };
    let rooms = Arc::new(Rooms::new(deps.clone()));
    let state = AppState {
        store: store.clone(),
        engine,
        registry,
        rooms: rooms.clone(),
        media: livecart::media::Media::disabled(),
        pages: Arc::new(livecart::web::Pages::embedded()),
        operator: livecart::auth::OperatorToken::new(OPERATOR_TOKEN),
    };
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
        .await
        .expect("bind");
    let addr = listener.local_addr().expect("addr");
    let task = tokio::spawn(async move {
        let _ = accept::serve(listener, app(state), limits, std::future::pending()).await;
    });
    Server {
        addr,
        store,
        merchant_token,
        room,
        rooms,
        deps,
        _dir: dir,
        task,
    }
}

impl Server {
    /// The rooms of another node sharing this one's store and plugin engine (with a bus
    /// of its own: no frames are shared, only what the store holds).
    pub fn another_node(&self) -> Arc<Rooms> {
        Arc::new(Rooms::new(self.deps.clone()))
    }
}

/// Test timings: fast flushes.
pub fn fast() -> RoomConfig {
    RoomConfig {
        flush_every: Duration::from_millis(100),
        ..RoomConfig::default()
    }
}

pub fn token(room: &str, user: &str, role: Role) -> String {
    TokenKey::new(SECRET).sign(&Claims {
        sub: user.into(),
        name: user.into(),
        room: room.into(),
        role,
        exp: livecart::auth::now_s() + 3600,
    })
}

pub struct Client {
    ws: WebSocketStream<MaybeTlsStream<TcpStream>>,
    /// Every frame received so far.
    pub seen: Vec<Value>,
}

impl Client {
    /// The snapshot this client got when it joined (a panic if it got none).
    pub fn snapshot(&self) -> Value {
        self.seen
            .iter()
            .find(|v| v["type"] == "snapshot")
            .cloned()
            .expect("snapshot")
    }

    pub async fn connect(server: &Server) -> Client {
        let (ws, _) = tokio_tungstenite::connect_async(format!("ws://{}/ws", server.addr))
            .await
            .expect("connect");
        Client {
            ws,
            seen: Vec::new(),
        }
    }

    /// Connect as a client behind a proxy (`X-Forwarded-For: forwarded_for`), say hello with
    /// `hello` (merged into `{"type":"hello","v":1}`) and join `room`.
    pub async fn join_as(server: &Server, room: &str, forwarded_for: &str, hello: Value) -> Client {
        use tokio_tungstenite::tungstenite::client::IntoClientRequest;
        let mut request = format!("ws://{}/ws", server.addr)
            .into_client_request()
            .expect("request");
        request.headers_mut().insert(
            "x-forwarded-for",
            forwarded_for.parse().expect("header value"),
        );
        let (ws, _) = tokio_tungstenite::connect_async(request)
            .await
            .expect("connect");
        let mut c = Client {
            ws,
            seen: Vec::new(),
        };
        let mut msg = json!({"type": "hello", "v": 1});
        if let (Some(m), Some(extra)) = (msg.as_object_mut(), hello.as_object()) {
            m.extend(extra.clone());
        }
        c.send(msg).await;
        c.expect_type("welcome").await;
        c.send(json!({"type": "join", "room": room})).await;
        c.expect_type("snapshot").await;
        c
    }

    /// Connect, say hello (with an optional token) and join; returns the client after the
    /// first frame after `welcome` (snapshot or replay) has arrived.
    pub async fn join(server: &Server, room: &str, token: Option<&str>) -> Client {
        let mut c = Client::connect(server).await;
        c.send(json!({"type": "hello", "v": 1, "token": token}))
            .await;
        c.expect_type("welcome").await;
        c.send(json!({"type": "join", "room": room})).await;
        c.expect_type("snapshot").await;
        c
    }

    pub async fn send(&mut self, v: Value) {
        self.ws
            .send(Message::Text(v.to_string().into()))
            .await
            .expect("send");
    }

    /// Send, ignoring a connection the server already closed.
    pub async fn try_send(&mut self, v: Value) -> bool {
        self.ws
            .send(Message::Text(v.to_string().into()))
            .await
            .is_ok()
    }

    /// Send any WebSocket message (e.g. a raw frame), ignoring errors.
    pub async fn send_message(&mut self, msg: Message) -> bool {
        self.ws.send(msg).await.is_ok()
    }

    pub async fn send_raw(&mut self, text: &str) {
        self.ws
            .send(Message::Text(text.into()))
            .await
            .expect("send");
    }

    /// The next text frame, or None on close/timeout.
    pub async fn next(&mut self) -> Option<Value> {
        loop {
            let msg = tokio::time::timeout(Duration::from_secs(10), self.ws.next())
                .await
                .ok()??;
            match msg.ok()? {
                Message::Text(t) => {
                    let v: Value = serde_json::from_str(&t).expect("server sends JSON");
                    self.seen.push(v.clone());
                    return Some(v);
                }
                Message::Close(frame) => {
                    self.seen.push(
                        json!({"closed": frame.map(|f| (u16::from(f.code), f.reason.to_string()))}),
                    );
                    return None;
                }
                _ => continue,
            }
        }
    }

    /// Read until a frame matches, failing after 10 s.
    pub async fn expect(&mut self, what: &str, pred: impl Fn(&Value) -> bool) -> Value {
        loop {
            match self.next().await {
                Some(v) if pred(&v) => return v,
                Some(_) => continue,
                None => panic!("no {what} frame; saw {:?}", self.seen),
            }
        }
    }

    pub async fn expect_type(&mut self, t: &str) -> Value {
        self.expect(t, |v| v["type"] == t).await
    }

    /// The close code and reason, reading until the server closes.
    pub async fn closed(&mut self) -> Option<(u16, String)> {
        while self.next().await.is_some() {}
        self.seen
            .last()
            .and_then(|v| serde_json::from_value(v["closed"].clone()).ok())
    }
}

thread_local! {
    /// Panics on this thread. Each test runs on its own thread, and a `#[tokio::test]`
    /// runtime runs the server's tasks on it too.
    static PANICS_HERE: std::cell::Cell<u64> = const { std::cell::Cell::new(0) };
}

/// Count panics per thread, on top of livecart's process-wide counter.
fn count_panics() {
    static ONCE: std::sync::Once = std::sync::Once::new();
    ONCE.call_once(|| {
        livecart::metrics::install_panic_hook();
        let counted = std::panic::take_hook();
        std::panic::set_hook(Box::new(move |info| {
            PANICS_HERE.with(|c| c.set(c.get() + 1));
            counted(info);
        }));
    });
}

/// Fail if anything panicked in this test, its server's tasks included: tokio catches a
/// task's panic, so it does not fail a test by itself.
pub fn assert_no_panics() {
    assert_eq!(
        PANICS_HERE.with(|c| c.get()),
        0,
        "a panic happened during this test (see the output above)"
    );
}

/// A blocking HTTP request with a merchant token; returns (status, body).
pub async fn http(
    server: &Server,
    method: &str,
    path: &str,
    token: Option<&str>,
    body: Option<Vec<u8>>,
) -> (u16, String) {
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    let mut s = TcpStream::connect(server.addr).await.expect("connect");
    let body = body.unwrap_or_default();
    let auth = token
        .map(|t| format!("Authorization: Bearer {t}\r\n"))
        .unwrap_or_default();
    let head = format!(
        "{method} {path} HTTP/1.1\r\nHost: x\r\nConnection: close\r\n{auth}Content-Type: application/json\r\nContent-Length: {}\r\n\r\n",
        body.len()
    );
    s.write_all(head.as_bytes()).await.expect("write");
    s.write_all(&body).await.expect("write body");
    let mut out = Vec::new();
    s.read_to_end(&mut out).await.expect("read");
    let text = String::from_utf8_lossy(&out).into_owned();
    let status = text.get(9..12).and_then(|s| s.parse().ok()).unwrap_or(0);
    let body = match text.split_once("\r\n\r\n") {
        Some((head, body))
            if head
                .to_ascii_lowercase()
                .contains("transfer-encoding: chunked") =>
        {
            dechunk(body)
        }
        Some((_, body)) => body.to_owned(),
        None => String::new(),
    };
    (status, body)
}

fn dechunk(mut s: &str) -> String {
    let mut out = String::new();
    while let Some((size, rest)) = s.split_once("\r\n") {
        let n = usize::from_str_radix(size.trim(), 16).unwrap_or(0);
        if n == 0 || rest.len() < n {
            break;
        }
        out.push_str(&rest[..n]);
        s = rest[n..].trim_start_matches("\r\n");
    }
    out
}

pub async fn api(server: &Server, method: &str, path: &str, body: Value) -> (u16, Value) {
    let (status, text) = http(
        server,
        method,
        path,
        Some(&server.merchant_token),
        Some(body.to_string().into_bytes()),
    )
    .await;
    (
        status,
        serde_json::from_str(&text).unwrap_or(Value::String(text)),
    )
}

/// Upload a plugin as the server's merchant.
pub async fn upload(server: &Server, bytes: &[u8]) -> (u16, Value) {
    let (status, text) = http(
        server,
        "POST",
        "/api/plugins",
        Some(&server.merchant_token),
        Some(bytes.to_vec()),
    )
    .await;
    (
        status,
        serde_json::from_str(&text).unwrap_or(Value::String(text)),
    )
}
