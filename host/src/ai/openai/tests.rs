//! Tests of the OpenAI-compatible client against a real local axum server.

use super::*;
use axum::Router;
use axum::body::Bytes;
use axum::extract::State;
use axum::http::{HeaderMap, Method, StatusCode, Uri};
use axum::response::{IntoResponse, Response};
use tokio::net::TcpListener;
use tokio::sync::mpsc;

/// What the server saw of one request.
#[derive(Debug)]
struct Seen {
    method: Method,
    path: String,
    authorization: Option<String>,
    content_type: Option<String>,
    body: Value,
}

/// How the test server answers every request.
#[derive(Clone)]
struct Canned {
    status: StatusCode,
    body: String,
    delay: Duration,
    seen: mpsc::UnboundedSender<Seen>,
}

/// A chat-completions stand-in on 127.0.0.1, stopped by [`TestServer::stop`].
struct TestServer {
    base_url: String,
    seen: mpsc::UnboundedReceiver<Seen>,
    task: tokio::task::JoinHandle<()>,
}

impl TestServer {
    async fn start(status: StatusCode, body: &str, delay: Duration) -> Self {
        let (tx, seen) = mpsc::unbounded_channel();
        let canned = Canned {
            status,
            body: body.to_owned(),
            delay,
            seen: tx,
        };
        let app = Router::new().fallback(record).with_state(canned);
        let listener = TcpListener::bind("127.0.0.1:0").await.expect("bind");
        let addr = listener.local_addr().expect("local addr");
        let task = tokio::spawn(async move {
            axum::serve(listener, app).await.expect("serve");
        });
        TestServer {
            base_url: format!("http://{addr}/v1"),
            seen,
            task,
        }
    }

    /// The one request the server received.
    fn take_seen(&mut self) -> Seen {
        let seen = self.seen.try_recv().expect("the server saw a request");
        assert!(self.seen.try_recv().is_err(), "exactly one request");
        seen
    }

    async fn stop(self) {
        self.task.abort();
        let joined = self.task.await;
        assert!(
            joined.is_err_and(|e| e.is_cancelled()),
            "server stopped by abort"
        );
    }
}

async fn record(
    State(canned): State<Canned>,
    method: Method,
    uri: Uri,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    let header = |name: &str| {
        headers
            .get(name)
            .and_then(|v| v.to_str().ok())
            .map(str::to_owned)
    };
    let seen = Seen {
        method,
        path: uri.path().to_owned(),
        authorization: header("authorization"),
        content_type: header("content-type"),
        body: serde_json::from_slice(&body).unwrap_or(Value::Null),
    };
    // The test may have stopped listening (the timeout case); that is fine.
    let _ = canned.seen.send(seen);
    tokio::time::sleep(canned.delay).await;
    let headers = [("content-type", "application/json")];
    (canned.status, headers, canned.body).into_response()
}

fn provider(base_url: &str, api_key: Option<&str>, timeout: Duration) -> OpenAiProvider {
    OpenAiProvider::new(OpenAiConfig {
        base_url: base_url.to_owned(),
        model: "test-model".to_owned(),
        api_key: api_key.map(str::to_owned),
        timeout,
    })
}

fn request() -> AiRequest {
    AiRequest {
        prompt: "What sizes do you have?".to_owned(),
        context: vec![
            "Cotton Hoodie — size: S, M, L, XL".to_owned(),
            "Price: 199 CNY".to_owned(),
        ],
        product_id: Some("hoodie".to_owned()),
    }
}

const COMPLETION: &str = r#"{"id":"c1","object":"chat.completion","choices":[
    {"index":0,"message":{"role":"assistant","content":"  S, M, L and XL.\n"},"finish_reason":"stop"}]}"#;
const TIMEOUT: Duration = Duration::from_secs(10);

#[tokio::test]
async fn openai_posts_chat_completion_and_returns_trimmed_content() {
    let mut server = TestServer::start(StatusCode::OK, COMPLETION, Duration::ZERO).await;
    // A trailing slash on the base URL must not double the path separator.
    let ai = provider(&format!("{}/", server.base_url), Some("sk-test"), TIMEOUT);
    assert_eq!(ai.name(), "openai");
    assert_eq!(
        ai.endpoint(),
        format!("{}/chat/completions", server.base_url)
    );

    let answer = ai.answer(&request()).await.expect("answer");
    assert_eq!(answer, "S, M, L and XL.");

    let seen = server.take_seen();
    assert_eq!(seen.method, Method::POST);
    assert_eq!(seen.path, "/v1/chat/completions");
    assert_eq!(seen.authorization.as_deref(), Some("Bearer sk-test"));
    assert_eq!(seen.content_type.as_deref(), Some("application/json"));
    let body = &seen.body;
    assert_eq!(body["model"], "test-model");
    assert_eq!(body["max_tokens"], 200);
    assert_eq!(body["temperature"], 0.2);
    let messages = body["messages"].as_array().expect("messages array");
    assert_eq!(messages.len(), 2);
    assert_eq!(messages[0]["role"], "system");
    let system = messages[0]["content"].as_str().expect("system content");
    assert!(
        system.contains("AI host of a live-commerce room"),
        "{system}"
    );
    assert!(
        system.contains("Cotton Hoodie — size: S, M, L, XL"),
        "{system}"
    );
    assert!(system.contains("Price: 199 CNY"), "{system}");
    assert_eq!(messages[1]["role"], "user");
    assert_eq!(messages[1]["content"], "What sizes do you have?");
    server.stop().await;
}

#[tokio::test]
async fn openai_sends_no_authorization_without_a_key() {
    let mut server = TestServer::start(StatusCode::OK, COMPLETION, Duration::ZERO).await;
    let ai = provider(&server.base_url, None, TIMEOUT);
    let answer = ai.answer(&request()).await.expect("answer");
    assert_eq!(answer, "S, M, L and XL.");
    assert_eq!(server.take_seen().authorization, None);
    server.stop().await;
}

#[tokio::test]
async fn openai_http_500_is_an_http_error_with_an_excerpt() {
    let body = format!("{{\"error\":\"{}\"}}", "x".repeat(500));
    let mut server =
        TestServer::start(StatusCode::INTERNAL_SERVER_ERROR, &body, Duration::ZERO).await;
    let ai = provider(&server.base_url, Some("sk-test"), TIMEOUT);
    let err = ai.answer(&request()).await.expect_err("500 is an error");
    let AiError::Http {
        status,
        body_excerpt,
    } = err
    else {
        panic!("expected AiError::Http, got {err:?}");
    };
    assert_eq!(status, 500);
    assert_eq!(body_excerpt.chars().count(), 200);
    assert!(body_excerpt.starts_with("{\"error\":\"xxx"));
    server.take_seen();
    server.stop().await;
}

#[tokio::test]
async fn openai_json_without_choices_is_a_bad_response() {
    let mut server = TestServer::start(StatusCode::OK, r#"{"id":"c1"}"#, Duration::ZERO).await;
    let ai = provider(&server.base_url, None, TIMEOUT);
    let err = ai.answer(&request()).await.expect_err("no choices");
    assert!(matches!(err, AiError::BadResponse(_)), "{err:?}");
    server.take_seen();
    server.stop().await;
}

#[tokio::test]
async fn openai_empty_or_non_json_content_is_a_bad_response() {
    let empty = r#"{"choices":[{"message":{"role":"assistant","content":"  "}}]}"#;
    for body in [
        empty,
        "not json",
        r#"{"choices":[{"message":{"content":null}}]}"#,
    ] {
        let server = TestServer::start(StatusCode::OK, body, Duration::ZERO).await;
        let ai = provider(&server.base_url, None, TIMEOUT);
        let err = ai.answer(&request()).await.expect_err("unusable body");
        assert!(matches!(err, AiError::BadResponse(_)), "{body}: {err:?}");
        server.stop().await;
    }
}

#[tokio::test]
async fn openai_slow_server_times_out() {
    let server = TestServer::start(StatusCode::OK, COMPLETION, Duration::from_secs(30)).await;
    let ai = provider(&server.base_url, None, Duration::from_millis(200));
    let err = ai.answer(&request()).await.expect_err("too slow");
    assert_eq!(err, AiError::Timeout);
    server.stop().await;
}

#[tokio::test]
async fn openai_unreachable_server_is_a_transport_error() {
    // Bind and release a port so nothing listens on it.
    let listener = TcpListener::bind("127.0.0.1:0").await.expect("bind");
    let addr = listener.local_addr().expect("local addr");
    drop(listener);
    let ai = provider(&format!("http://{addr}/v1"), None, TIMEOUT);
    let err = ai.answer(&request()).await.expect_err("nothing listens");
    assert!(matches!(err, AiError::Transport(_)), "{err:?}");
}

#[tokio::test]
async fn openai_invalid_base_url_is_a_config_error() {
    let ai = provider("not a url", None, TIMEOUT);
    let err = ai.answer(&request()).await.expect_err("bad URL");
    assert!(matches!(err, AiError::Config(_)), "{err:?}");
}

#[test]
fn openai_debug_never_shows_the_key() {
    let ai = provider("http://127.0.0.1:1/v1", Some("sk-secret-123"), TIMEOUT);
    let shown = format!("{ai:?}");
    assert!(!shown.contains("sk-secret-123"), "{shown}");
    assert!(shown.contains("<redacted>"), "{shown}");
}

#[test]
fn openai_system_prompt_without_context_says_none() {
    let prompt = system_prompt(&[" ".to_owned()]);
    assert!(
        prompt.contains("using only these facts: (none)"),
        "{prompt}"
    );
}
