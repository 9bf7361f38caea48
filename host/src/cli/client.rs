//! The HTTP client of the commands that talk to a running server's REST API
//! (`livecart admin …`, `livecart plugin upload|enable|disable|logs`), and their exit codes:
//! 0 with the command's output, 1 when the server refused (its own message on stderr), 2
//! when it could not be reached or the inputs are unusable.

use anyhow::Context;
use reqwest::{Method, Url};
use serde_json::Value;
use std::future::Future;
use std::process::ExitCode;
use std::time::Duration;

/// The server refused a request; `message` is its own `{"error": …}`.
#[derive(Debug, thiserror::Error)]
#[error("the server refused ({status}): {message}")]
pub struct Refused {
    pub status: u16,
    pub message: String,
}

/// A request body.
pub enum Payload {
    None,
    Json(Value),
    /// Raw bytes with their content type.
    Bytes(Vec<u8>, &'static str),
}

/// A server's base URL and the bearer token to send it.
pub struct ApiClient {
    http: reqwest::Client,
    base: Url,
    token: String,
}

impl ApiClient {
    pub fn new(server: &str, token: &str) -> anyhow::Result<Self> {
        let base = Url::parse(server)
            .ok()
            .filter(|u| matches!(u.scheme(), "http" | "https") && u.has_host())
            .with_context(|| format!("--server {server:?} is not an http:// or https:// URL"))?;
        let http = reqwest::Client::builder()
            .timeout(Duration::from_secs(30))
            .build()
            .context("building the HTTP client")?;
        Ok(ApiClient {
            http,
            base,
            token: token.trim().to_owned(),
        })
    }

    /// One request to the path made of `segments`; the answer's JSON (`null` for an empty
    /// answer such as 204), or [`Refused`] with the server's message.
    pub async fn call(
        &self,
        method: Method,
        segments: &[&str],
        body: Payload,
    ) -> anyhow::Result<Value> {
        let mut url = self.base.clone();
        // Each segment is percent-encoded: an id cannot climb out of its path position.
        url.path_segments_mut()
            .map_err(|()| anyhow::anyhow!("--server {} cannot be a base URL", self.base))?
            .pop_if_empty()
            .extend(segments);
        let mut req = self
            .http
            .request(method.clone(), url.clone())
            .bearer_auth(&self.token);
        req = match body {
            Payload::None => req,
            Payload::Json(v) => req.json(&v),
            Payload::Bytes(bytes, content_type) => req
                .header(reqwest::header::CONTENT_TYPE, content_type)
                .body(bytes),
        };
        let resp = req
            .send()
            .await
            .with_context(|| format!("{method} {url}: is livecart serve running there?"))?;
        let status = resp.status();
        let text = resp
            .text()
            .await
            .with_context(|| format!("reading the answer to {method} {url}"))?;
        let json: Option<Value> = serde_json::from_str(&text).ok();
        if !status.is_success() {
            let message = json
                .as_ref()
                .and_then(|v| v["error"].as_str())
                .map_or_else(|| text.trim().chars().take(200).collect(), str::to_owned);
            return Err(Refused {
                status: status.as_u16(),
                message,
            }
            .into());
        }
        if text.trim().is_empty() {
            return Ok(Value::Null);
        }
        json.with_context(|| format!("{method} {url} answered something that is not JSON"))
    }
}

/// Run `work` on a small runtime and print what it returns: exit 0, or 1 with the
/// server's reason when it refused; any other error goes up (exit 2).
pub fn run_printing(
    work: impl Future<Output = anyhow::Result<String>>,
) -> anyhow::Result<ExitCode> {
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .context("starting tokio")?;
    match runtime.block_on(work) {
        Ok(text) => {
            print!("{text}");
            Ok(ExitCode::SUCCESS)
        }
        Err(e) => match e.downcast_ref::<Refused>() {
            Some(refused) => {
                eprintln!("error: {refused}");
                Ok(ExitCode::from(1))
            }
            None => Err(e),
        },
    }
}
