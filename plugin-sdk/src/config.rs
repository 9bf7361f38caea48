//! The merchant-supplied configuration of this plugin in this room.

use crate::Result;
use crate::bindings::livecart::plugin0_1_0::config as host;

/// The config as the merchant gave it (JSON text). Passed to [`crate::Plugin::configure`].
#[derive(Debug, Clone)]
pub struct Config {
    raw: String,
}

impl Config {
    /// Fetch the current config from the host.
    pub fn load() -> Self {
        Config { raw: host::get() }
    }

    /// A config from JSON text, for tests of plugin logic outside the host.
    pub fn from_json(raw: &str) -> Self {
        Config {
            raw: raw.to_owned(),
        }
    }

    /// The JSON text ("{}" when the merchant gave none).
    pub fn raw(&self) -> &str {
        &self.raw
    }

    /// Parse the config into your own type; unknown fields are up to your serde attributes.
    pub fn parse<T: serde::de::DeserializeOwned>(&self) -> Result<T> {
        serde_json::from_str(&self.raw).map_err(|e| format!("invalid config: {e}").into())
    }
}
