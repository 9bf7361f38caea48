//! Long-polling fallback for clients that cannot use WebSocket: the same protocol and the
//! same connection logic (`conn::serve`), carried over plain HTTP.
//!
//! - `POST /lp` with a JSON array of client messages (usually `hello` and `join`) opens a
//!   session and answers `{"session": id, "frames": [...]}` with the first frames;
//! - `POST /lp/{session}` with a JSON array of client messages sends them;
//! - `GET /lp/{session}?wait_ms=25000` waits (at most 30 s) for frames and returns
//!   `{"frames": [...], "closed": null | {"code", "reason"}}`.
//!
//! Session ids are 128 random bits. A session nobody polls for `poll_idle` (60 s) is
//! closed. A session counts as online only while it is polled (see `presence`): while a
//! request of it is outstanding and for `poll_grace` (5 s) after the last one.

use super::Rooms;
use super::conn::{self, WsIn, WsOut};
use super::presence::Presence;
use axum::Json;
use axum::extract::{Path, Query, State};
use axum::http::{StatusCode, header};
use axum::response::{IntoResponse, Response};
use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};
use tokio::sync::mpsc;

/// The longest a poll waits.
const MAX_WAIT: Duration = Duration::from_secs(30);
/// Client messages one request may carry.
const MAX_BATCH: usize = 20;

struct Session {
    to_conn: mpsc::Sender<WsIn>,
    from_conn: tokio::sync::Mutex<mpsc::Receiver<WsOut>>,
    last_poll: Mutex<Instant>,
    presence: Arc<Presence>,
}

/// The long-polling sessions.
pub struct LongPoll {
    rooms: Arc<Rooms>,
    sessions: Mutex<HashMap<String, Arc<Session>>>,
}

impl LongPoll {
    pub fn new(rooms: Arc<Rooms>) -> Arc<Self> {
        Arc::new(LongPoll {
            rooms,
            sessions: Mutex::new(HashMap::new()),
        })
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, HashMap<String, Arc<Session>>> {
        self.sessions.lock().unwrap_or_else(|p| p.into_inner())
    }

    fn get(&self, id: &str) -> Option<Arc<Session>> {
        self.lock().get(id).cloned()
    }

    /// Drop sessions nobody polled for a while (their connections then close).
    fn reap(&self) {
        let now = Instant::now();
        let idle = self.rooms.deps.config.poll_idle;
        self.lock().retain(|_, s| {
            s.last_poll
                .lock()
                .map(|t| now.duration_since(*t) < idle)
                .unwrap_or(false)
        });
    }

    /// Sessions open now (polled or not).
    pub fn sessions(&self) -> usize {
        self.lock().len()
    }

    /// Reap idle sessions (every 10 s, or a quarter of `poll_idle` when that is shorter)
    /// until the server stops.
    pub fn spawn_reaper(self: &Arc<Self>) -> tokio::task::JoinHandle<()> {
        let weak = Arc::downgrade(self);
        let every = (self.rooms.deps.config.poll_idle / 4)
            .clamp(Duration::from_millis(10), Duration::from_secs(10));
        tokio::spawn(async move {
            let mut tick = tokio::time::interval(every);
            loop {
                tick.tick().await;
                match weak.upgrade() {
                    Some(lp) => lp.reap(),
                    None => return,
                }
            }
        })
    }
}

fn error(status: StatusCode, message: &str) -> Response {
    (status, Json(serde_json::json!({ "error": message }))).into_response()
}

/// The messages of a request body, or why it is refused (a 400).
fn parse_batch(body: &str) -> Result<Vec<String>, String> {
    let values: Vec<serde_json::Value> = serde_json::from_str(body)
        .map_err(|e| format!("the body must be a JSON array of protocol messages: {e}"))?;
    if values.len() > MAX_BATCH {
        return Err(format!("at most {MAX_BATCH} messages per request"));
    }
    Ok(values.iter().map(ToString::to_string).collect())
}

/// `POST /lp`: open a session.
pub async fn open(
    State(lp): State<Arc<LongPoll>>,
    peer: Option<axum::Extension<axum::extract::ConnectInfo<std::net::SocketAddr>>>,
    headers: axum::http::HeaderMap,
    body: String,
) -> Response {
    let ip = super::ws::client_ip(&lp.rooms, peer, &headers);
    let messages = match parse_batch(&body) {
        Ok(m) => m,
        Err(msg) => return error(StatusCode::BAD_REQUEST, &msg),
    };
    let (to_conn, from_client) = mpsc::channel::<WsIn>(64);
    let (to_client, from_conn) = mpsc::channel::<WsOut>(256);
    let sink = futures_util::sink::unfold(to_client, |tx, out: WsOut| async move {
        tx.send(out).await.map_err(|_| ())?;
        Ok::<_, ()>(tx)
    });
    // Unlike `stream::unfold`, polling this after the session is gone is fine.
    let mut from_client = from_client;
    let stream = futures_util::stream::poll_fn(move |cx| from_client.poll_recv(cx));
    let Some(id) = random_id() else {
        return error(StatusCode::INTERNAL_SERVER_ERROR, "internal error");
    };
    let presence = Presence::new(lp.rooms.deps.config.poll_grace);
    // The opening request is the session's first poll.
    let polling = presence.polling();
    tokio::spawn(conn::serve(
        lp.rooms.clone(),
        Box::pin(sink),
        Box::pin(stream),
        Some(presence.clone()),
        ip,
    ));
    for m in messages {
        let _ = to_conn.send(WsIn::Text(m)).await;
    }
    let session = Arc::new(Session {
        to_conn,
        from_conn: tokio::sync::Mutex::new(from_conn),
        last_poll: Mutex::new(Instant::now()),
        presence,
    });
    lp.lock().insert(id.clone(), session.clone());
    let (frames, closed) = collect(&session, Duration::from_secs(2)).await;
    drop(polling);
    reply(Some(&id), frames, closed)
}

/// `POST /lp/{session}`: send client messages.
pub async fn send(
    State(lp): State<Arc<LongPoll>>,
    Path(id): Path<String>,
    body: String,
) -> Response {
    let Some(session) = lp.get(&id) else {
        return error(StatusCode::NOT_FOUND, "unknown or expired session");
    };
    let messages = match parse_batch(&body) {
        Ok(m) => m,
        Err(msg) => return error(StatusCode::BAD_REQUEST, &msg),
    };
    for m in messages {
        if session.to_conn.try_send(WsIn::Text(m)).is_err() {
            return error(StatusCode::TOO_MANY_REQUESTS, "too many messages in flight");
        }
    }
    StatusCode::NO_CONTENT.into_response()
}

#[derive(serde::Deserialize)]
pub struct Wait {
    wait_ms: Option<u64>,
}

/// `GET /lp/{session}`: wait for frames.
pub async fn poll(
    State(lp): State<Arc<LongPoll>>,
    Path(id): Path<String>,
    Query(wait): Query<Wait>,
) -> Response {
    let Some(session) = lp.get(&id) else {
        return error(StatusCode::NOT_FOUND, "unknown or expired session");
    };
    if let Ok(mut t) = session.last_poll.lock() {
        *t = Instant::now();
    }
    let wait = Duration::from_millis(wait.wait_ms.unwrap_or(25_000)).min(MAX_WAIT);
    let polling = session.presence.polling();
    let (frames, closed) = collect(&session, wait).await;
    drop(polling);
    // The poll that just ended counts as the last one for expiry too.
    if let Ok(mut t) = session.last_poll.lock() {
        *t = Instant::now();
    }
    if closed.is_some() {
        lp.lock().remove(&id);
    }
    reply(None, frames, closed)
}

/// Wait up to `wait` for a first frame, then take everything ready.
async fn collect(session: &Session, wait: Duration) -> (Vec<Arc<str>>, Option<(u16, String)>) {
    let mut rx = session.from_conn.lock().await;
    let mut frames = Vec::new();
    let mut closed = None;
    let mut take = |out: WsOut, frames: &mut Vec<Arc<str>>| match out {
        WsOut::Text(t) => frames.push(t),
        WsOut::Close(code, reason) => closed = Some((code, reason)),
    };
    match tokio::time::timeout(wait, rx.recv()).await {
        Ok(Some(out)) => take(out, &mut frames),
        Ok(None) => return (frames, Some((1000, "closed".into()))),
        Err(_) => return (frames, None),
    }
    while let Ok(out) = rx.try_recv() {
        take(out, &mut frames);
    }
    (frames, closed)
}

fn reply(id: Option<&str>, frames: Vec<Arc<str>>, closed: Option<(u16, String)>) -> Response {
    // Frames are already JSON objects: splice them in without re-parsing.
    let mut body = String::from("{");
    if let Some(id) = id {
        body.push_str(&format!("\"session\":{},", serde_json::Value::from(id)));
    }
    body.push_str("\"frames\":[");
    body.push_str(&frames.iter().map(|f| &**f).collect::<Vec<_>>().join(","));
    body.push_str("],\"closed\":");
    body.push_str(&match closed {
        Some((code, reason)) => serde_json::json!({ "code": code, "reason": reason }).to_string(),
        None => "null".into(),
    });
    body.push('}');
    ([(header::CONTENT_TYPE, "application/json")], body).into_response()
}

/// An unguessable session id, or `None` when the OS has no randomness to give.
fn random_id() -> Option<String> {
    match crate::random::random_hex(16) {
        Ok(hex) => Some(format!("lp_{hex}")),
        Err(e) => {
            tracing::error!("no randomness for a session id: {e}");
            None
        }
    }
}
