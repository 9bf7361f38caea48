//! AI answers to plugins' `ask-ai` actions.
//!
//! A plugin emits `ask-ai {request_id, prompt, context, product_id}`; the room runtime turns
//! it into an [`AiRequest`], asks an [`AiProvider`], and later delivers the answer to the
//! plugin as an `ai-reply` event. Two providers exist:
//!
//! - [`retrieval::RetrievalAnswerer`]: the embedded default. It needs no network and answers
//!   from the best-matching catalog entry (FAQ, spec, description sentence) or the request's
//!   own context, and says it does not know otherwise;
//! - [`openai::OpenAiProvider`]: a client for any OpenAI-compatible chat-completions server
//!   (OpenAI, vLLM, llama.cpp server, Ollama).

pub mod openai;
pub mod retrieval;

pub use openai::{OpenAiConfig, OpenAiProvider};
pub use retrieval::RetrievalAnswerer;

/// One question for the AI host, as a plugin asked it.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct AiRequest {
    /// The viewer's question, in the viewer's language.
    pub prompt: String,
    /// Facts the plugin supplies to answer from (e.g. the pinned product's details).
    pub context: Vec<String>,
    /// The product the question is about, when the plugin knows it.
    pub product_id: Option<String>,
}

/// Why a provider produced no answer.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum AiError {
    /// The endpoint answered with a non-2xx status.
    #[error("AI endpoint answered HTTP {status}: {body_excerpt}")]
    Http {
        /// The HTTP status code.
        status: u16,
        /// The first 200 characters of the response body.
        body_excerpt: String,
    },
    /// The request could not be sent or the response could not be read.
    #[error("AI endpoint unreachable: {0}")]
    Transport(String),
    /// The endpoint did not answer within the configured timeout.
    #[error("AI endpoint timed out")]
    Timeout,
    /// The endpoint answered 2xx, but not with a usable completion.
    #[error("AI endpoint sent an unusable response: {0}")]
    BadResponse(String),
    /// The provider's configuration cannot work (e.g. an invalid base URL).
    #[error("AI provider misconfigured: {0}")]
    Config(String),
}

/// The future a provider returns: the answer text, or why there is none.
pub type AiFuture<'a> =
    std::pin::Pin<Box<dyn std::future::Future<Output = Result<String, AiError>> + Send + 'a>>;

/// Something that answers viewers' questions.
pub trait AiProvider: Send + Sync {
    /// A short name for logs and reports, e.g. `"retrieval"` or `"openai"`.
    fn name(&self) -> &'static str;
    /// Answer one request.
    fn answer<'a>(&'a self, req: &'a AiRequest) -> AiFuture<'a>;
}
