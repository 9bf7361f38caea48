//! `livecart plugin upload | enable | disable | logs`: a client of the merchant REST API
//! (`/api/plugins`, `/api/rooms/{room}/plugins`) of a running server, with a merchant API
//! token. Exit codes as for every API command (`client.rs`): 1 with the server's own
//! message when it refuses, 2 when it cannot be reached.

use super::client::{self, ApiClient, Payload};
use anyhow::Context;
use clap::{Args, Subcommand};
use reqwest::Method;
use serde_json::Value;
use sha2::{Digest, Sha256};
use std::path::{Path, PathBuf};
use std::process::ExitCode;

/// The server and the merchant's credential.
#[derive(Debug, Args)]
pub struct ServerArgs {
    /// The livecart server to talk to.
    #[arg(long, default_value = "http://127.0.0.1:8080", env = "LIVECART_SERVER")]
    pub server: String,
    /// The merchant's API token (`livecart serve` prints the demo merchant's).
    #[arg(long, env = "LIVECART_TOKEN", hide_env_values = true)]
    pub token: String,
    /// Print the server's JSON answer instead of text.
    #[arg(long)]
    pub json: bool,
}

#[derive(Debug, Subcommand)]
pub enum ApiCommand {
    /// Upload a plugin component to the server; prints the version's hash.
    Upload {
        /// The plugin component (.wasm).
        file: PathBuf,
        #[command(flatten)]
        server: ServerArgs,
    },
    /// Enable an uploaded version in a room, with a config (replaces the running version
    /// of the same plugin there).
    Enable {
        /// The room's id.
        #[arg(long)]
        room: String,
        /// The version: its hash, or the uploaded `.wasm` file (hashed here).
        version: String,
        /// The plugin's config for the room (a JSON file).
        #[arg(long)]
        config: Option<PathBuf>,
        #[command(flatten)]
        server: ServerArgs,
    },
    /// Disable a plugin in a room.
    Disable {
        #[arg(long)]
        room: String,
        /// The plugin's name.
        name: String,
        #[command(flatten)]
        server: ServerArgs,
    },
    /// A room's plugins: version, enabled or why disabled, recent faults and log lines
    /// (the plugin's own and the host's, e.g. the random seeds a draw used).
    Logs {
        #[arg(long)]
        room: String,
        /// Only this plugin.
        name: Option<String>,
        /// Log lines to show per plugin, the newest.
        #[arg(long, default_value_t = 20)]
        lines: usize,
        #[command(flatten)]
        server: ServerArgs,
    },
}

impl ApiCommand {
    fn server(&self) -> &ServerArgs {
        match self {
            ApiCommand::Upload { server, .. }
            | ApiCommand::Enable { server, .. }
            | ApiCommand::Disable { server, .. }
            | ApiCommand::Logs { server, .. } => server,
        }
    }
}

pub fn run(cmd: ApiCommand) -> anyhow::Result<ExitCode> {
    client::run_printing(execute(&cmd))
}

/// Run a command against the server and return what to print; a refusal is a
/// [`client::Refused`] inside the error.
pub async fn execute(cmd: &ApiCommand) -> anyhow::Result<String> {
    let args = cmd.server();
    let api = ApiClient::new(&args.server, &args.token)?;
    let text = |v: &Value, rendered: String| {
        if args.json {
            serde_json::to_string_pretty(v).map(|s| s + "\n")
        } else {
            Ok(rendered)
        }
    };
    match cmd {
        ApiCommand::Upload { file, .. } => {
            let bytes =
                std::fs::read(file).with_context(|| format!("reading {}", file.display()))?;
            let v = api
                .call(
                    Method::POST,
                    &["api", "plugins"],
                    Payload::Bytes(bytes, "application/wasm"),
                )
                .await?;
            Ok(text(
                &v,
                format!(
                    "uploaded {} {} ({} bytes)\n  hash: {}\n",
                    s(&v["name"]),
                    s(&v["label"]),
                    v["size"],
                    s(&v["hash"])
                ),
            )?)
        }
        ApiCommand::Enable {
            room,
            version,
            config,
            ..
        } => {
            let hash = version_hash(version)?;
            let mut body = serde_json::json!({ "hash": hash });
            if let Some(path) = config {
                // Sent as text: the server checks it and says what is wrong with it.
                let config = std::fs::read_to_string(path)
                    .with_context(|| format!("reading {}", path.display()))?;
                body["config"] = Value::String(config);
            }
            let v = api
                .call(
                    Method::POST,
                    &["api", "rooms", room, "plugins"],
                    Payload::Json(body),
                )
                .await?;
            Ok(text(
                &v,
                format!(
                    "enabled {} in room {}\n  hash: {}\n",
                    s(&v["name"]),
                    s(&v["room"]),
                    s(&v["hash"])
                ),
            )?)
        }
        ApiCommand::Disable { room, name, .. } => {
            let v = api
                .call(
                    Method::DELETE,
                    &["api", "rooms", room, "plugins", name],
                    Payload::None,
                )
                .await?;
            Ok(text(&v, format!("disabled {name} in room {room}\n"))?)
        }
        ApiCommand::Logs {
            room, name, lines, ..
        } => {
            let mut v = api
                .call(
                    Method::GET,
                    &["api", "rooms", room, "plugins"],
                    Payload::None,
                )
                .await?;
            if let (Some(name), Some(list)) = (name, v["plugins"].as_array_mut()) {
                list.retain(|p| p["binding"]["name"] == name.as_str());
                if list.is_empty() {
                    return Err(client::Refused {
                        status: 404,
                        message: format!("no plugin {name} in room {room}"),
                    }
                    .into());
                }
            }
            if let Some(list) = v["plugins"].as_array_mut() {
                for p in list.iter_mut() {
                    let name = s(&p["binding"]["name"]).to_owned();
                    let path = ["api", "rooms", room, "plugins", &name, "logs"];
                    let mut logs = api.call(Method::GET, &path, Payload::None).await?;
                    if let Some(l) = logs["logs"].as_array_mut() {
                        l.truncate(*lines);
                    }
                    p["logs"] = logs["logs"].take();
                }
            }
            Ok(text(&v, render_logs(&v))?)
        }
    }
}

/// A version given as a hash, or as the `.wasm` file it is the hash of.
fn version_hash(version: &str) -> anyhow::Result<String> {
    let is_hash = version.len() == 64 && version.bytes().all(|b| b.is_ascii_hexdigit());
    if is_hash && !Path::new(version).exists() {
        return Ok(version.to_ascii_lowercase());
    }
    let bytes = std::fs::read(version).with_context(|| {
        format!("{version} is neither a version hash (64 hex digits) nor a readable .wasm file")
    })?;
    Ok(hex::encode(Sha256::digest(bytes)))
}

fn s(v: &Value) -> &str {
    v.as_str().unwrap_or("?")
}

/// One block per plugin: its status line, its faults (newest first), then its recent log
/// lines in the order they were written.
fn render_logs(v: &Value) -> String {
    let plugins = v["plugins"].as_array().map_or(&[][..], Vec::as_slice);
    if plugins.is_empty() {
        return "no plugins in this room\n".to_owned();
    }
    let mut out = String::new();
    for p in plugins {
        let b = &p["binding"];
        let status = match (b["enabled"].as_bool(), b["disabled_reason"].as_str()) {
            (Some(true), _) => "enabled".to_owned(),
            (_, Some(reason)) => format!("disabled: {reason}"),
            _ => "disabled".to_owned(),
        };
        out += &format!("{} {} (hash {})\n", s(&b["name"]), status, s(&b["hash"]));
        let faults = p["faults"].as_array().map_or(&[][..], Vec::as_slice);
        if faults.is_empty() {
            out += "  no faults\n";
        }
        for f in faults {
            let when = f["at_ms"]
                .as_u64()
                .map_or_else(|| "-".into(), crate::store::rfc3339_utc);
            out += &format!("  {when} {}: {}\n", s(&f["kind"]), s(&f["message"]));
        }
        let logs = p["logs"].as_array().map_or(&[][..], Vec::as_slice);
        if !logs.is_empty() {
            out += "  log:\n";
        }
        for l in logs.iter().rev() {
            let when = l["at_ms"]
                .as_u64()
                .map_or_else(|| "-".into(), crate::store::rfc3339_utc);
            out += &format!(
                "    {when} {}/{}: {}\n",
                s(&l["level"]),
                s(&l["source"]),
                s(&l["message"])
            );
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_version_is_a_hash_or_the_file_it_hashes() {
        let hash = "ab".repeat(32);
        assert_eq!(version_hash(&hash.to_uppercase()).ok(), Some(hash));
        let dir = tempfile::tempdir().expect("tempdir");
        let file = dir.path().join("p.wasm");
        std::fs::write(&file, b"abc").expect("write");
        assert_eq!(
            version_hash(&file.display().to_string()).ok().as_deref(),
            Some("ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad")
        );
        let e = version_hash("nope").expect_err("neither").to_string();
        assert!(e.contains("neither a version hash"), "{e}");
    }

    #[test]
    fn logs_show_status_and_faults() {
        let v = serde_json::json!({"plugins": [{
            "binding": {"name": "p", "hash": "h", "enabled": false, "disabled_reason": "5 faults"},
            "faults": [{"kind": "trap", "message": "boom", "at_ms": 0}],
            "logs": [{"level": "info", "source": "host", "message": "second", "at_ms": 0},
                     {"level": "warn", "source": "log", "message": "first", "at_ms": 0}]
        }]});
        let text = render_logs(&v);
        assert!(
            text.starts_with("p disabled: 5 faults (hash h)\n"),
            "{text}"
        );
        assert!(text.contains("trap: boom"), "{text}");
        let (first, second) = (text.find("warn/log: first"), text.find("info/host: second"));
        assert!(
            first.is_some() && first < second,
            "oldest line first: {text}"
        );
    }
}
