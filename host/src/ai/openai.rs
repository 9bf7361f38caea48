//! A client for OpenAI-compatible chat-completions servers (OpenAI, vLLM, llama.cpp, Ollama).
//!
//! [`OpenAiProvider`] POSTs one chat completion per request to
//! `{base_url}/chat/completions`: a system message that casts the model as the room's AI
//! host and lists the request's context as the only facts to use, then the viewer's prompt.
//! It returns the trimmed `choices[0].message.content`. Failures map onto precise
//! [`AiError`] variants. The API key is sent only as a bearer token and is never logged or
//! printed, not even by `Debug`.

use super::{AiError, AiFuture, AiProvider, AiRequest};
use serde_json::{Value, json};
use std::fmt;
use std::time::Duration;

/// The completion's token limit: answers are at most two sentences.
const MAX_TOKENS: u32 = 200;
/// A low temperature keeps answers close to the facts.
const TEMPERATURE: f64 = 0.2;
/// How much of an error body [`AiError::Http`] keeps, in characters.
const BODY_EXCERPT_CHARS: usize = 200;
/// The most response body read; a completion of 200 tokens is far smaller.
const MAX_BODY_BYTES: usize = 1 << 20;

/// Where and how to reach the chat-completions server.
#[derive(Clone)]
pub struct OpenAiConfig {
    /// The API root, e.g. `https://api.openai.com/v1` or `http://127.0.0.1:11434/v1`.
    pub base_url: String,
    /// The model name the server knows, e.g. `gpt-4o-mini` or `qwen2.5:7b`.
    pub model: String,
    /// Sent as `Authorization: Bearer <key>` when set; local servers usually need none.
    pub api_key: Option<String>,
    /// The limit for the whole exchange, from connecting to reading the body.
    pub timeout: Duration,
}

impl fmt::Debug for OpenAiConfig {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("OpenAiConfig")
            .field("base_url", &self.base_url)
            .field("model", &self.model)
            .field("api_key", &self.api_key.as_ref().map(|_| "<redacted>"))
            .field("timeout", &self.timeout)
            .finish()
    }
}

/// An [`AiProvider`] backed by an OpenAI-compatible chat-completions endpoint.
pub struct OpenAiProvider {
    config: OpenAiConfig,
    endpoint: String,
    /// The HTTP client, or why it could not be built (reported by every answer).
    client: Result<reqwest::Client, String>,
}

impl fmt::Debug for OpenAiProvider {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("OpenAiProvider")
            .field("config", &self.config)
            .field("endpoint", &self.endpoint)
            .finish_non_exhaustive()
    }
}

impl OpenAiProvider {
    /// A provider for `config`. A client that cannot be built makes every answer fail with
    /// [`AiError::Config`] instead of failing here.
    pub fn new(config: OpenAiConfig) -> Self {
        let endpoint = format!("{}/chat/completions", config.base_url.trim_end_matches('/'));
        let client = reqwest::Client::builder()
            .timeout(config.timeout)
            .build()
            .map_err(|e| error_chain(&e));
        OpenAiProvider {
            config,
            endpoint,
            client,
        }
    }

    /// The URL completions are posted to.
    pub fn endpoint(&self) -> &str {
        &self.endpoint
    }

    async fn complete(&self, req: &AiRequest) -> Result<String, AiError> {
        let client = self
            .client
            .as_ref()
            .map_err(|e| AiError::Config(e.clone()))?;
        let body = json!({
            "model": self.config.model,
            "messages": [
                {"role": "system", "content": system_prompt(&req.context)},
                {"role": "user", "content": req.prompt},
            ],
            "max_tokens": MAX_TOKENS,
            "temperature": TEMPERATURE,
        });
        let mut request = client.post(&self.endpoint).json(&body);
        if let Some(key) = &self.config.api_key {
            // `bearer_auth` marks the header sensitive, so it stays out of reqwest's logs too.
            request = request.bearer_auth(key);
        }
        tracing::debug!(endpoint = %self.endpoint, model = %self.config.model, "asking the AI endpoint");
        let mut response = request.send().await.map_err(map_reqwest)?;
        let status = response.status();
        let (bytes, truncated) = read_capped(&mut response).await?;
        let text = String::from_utf8_lossy(&bytes);
        if !status.is_success() {
            tracing::warn!(endpoint = %self.endpoint, status = status.as_u16(), "AI endpoint refused");
            return Err(AiError::Http {
                status: status.as_u16(),
                body_excerpt: excerpt(&text),
            });
        }
        if truncated {
            return Err(AiError::BadResponse(format!(
                "response larger than {MAX_BODY_BYTES} bytes"
            )));
        }
        parse_content(&text)
    }
}

impl AiProvider for OpenAiProvider {
    fn name(&self) -> &'static str {
        "openai"
    }

    fn answer<'a>(&'a self, req: &'a AiRequest) -> AiFuture<'a> {
        Box::pin(self.complete(req))
    }
}

/// The system message: who the model is, how to answer, and the only facts to use.
fn system_prompt(context: &[String]) -> String {
    let facts: Vec<&str> = context
        .iter()
        .map(|c| c.trim())
        .filter(|c| !c.is_empty())
        .collect();
    let facts = if facts.is_empty() {
        "(none)".to_owned()
    } else {
        format!("\n- {}", facts.join("\n- "))
    };
    format!(
        "You are the AI host of a live-commerce room. Answer the viewer in the viewer's \
         language, in at most two sentences, using only these facts: {facts}\n\
         If the facts do not answer the question, say you don't know yet and that the host \
         will answer soon."
    )
}

/// Read the body, keeping at most [`MAX_BODY_BYTES`]; the flag says whether more was sent.
async fn read_capped(response: &mut reqwest::Response) -> Result<(Vec<u8>, bool), AiError> {
    let mut body = Vec::new();
    while let Some(chunk) = response.chunk().await.map_err(map_reqwest)? {
        let room = MAX_BODY_BYTES - body.len();
        if chunk.len() > room {
            body.extend_from_slice(&chunk[..room]);
            return Ok((body, true));
        }
        body.extend_from_slice(&chunk);
    }
    Ok((body, false))
}

/// The trimmed `choices[0].message.content` of a completion body.
fn parse_content(text: &str) -> Result<String, AiError> {
    let value: Value = serde_json::from_str(text)
        .map_err(|e| AiError::BadResponse(format!("not JSON ({e}): {}", excerpt(text))))?;
    let Some(content) = value.pointer("/choices/0/message/content") else {
        return Err(AiError::BadResponse(match value.get("error") {
            Some(error) => format!("error instead of choices: {}", excerpt(&error.to_string())),
            None => format!("no choices[0].message.content: {}", excerpt(text)),
        }));
    };
    let content = content
        .as_str()
        .ok_or_else(|| AiError::BadResponse(format!("content is not a string: {content}")))?
        .trim();
    if content.is_empty() {
        return Err(AiError::BadResponse("empty content".to_owned()));
    }
    Ok(content.to_owned())
}

/// The first [`BODY_EXCERPT_CHARS`] characters of a trimmed body.
fn excerpt(text: &str) -> String {
    text.trim().chars().take(BODY_EXCERPT_CHARS).collect()
}

/// Classify a reqwest failure.
fn map_reqwest(e: reqwest::Error) -> AiError {
    if e.is_timeout() {
        AiError::Timeout
    } else if e.is_builder() {
        AiError::Config(error_chain(&e))
    } else {
        AiError::Transport(error_chain(&e))
    }
}

/// An error and its sources as one line: reqwest's own message hides the root cause.
fn error_chain(e: &dyn std::error::Error) -> String {
    let mut out = e.to_string();
    let mut source = e.source();
    while let Some(cause) = source {
        out.push_str(": ");
        out.push_str(&cause.to_string());
        source = cause.source();
    }
    out
}

#[cfg(test)]
mod tests;
