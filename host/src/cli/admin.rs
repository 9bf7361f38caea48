//! `livecart admin merchant … | token …`: the operator's commands, a client of the
//! operator REST API (`/api/operator/…`) of a running server.
//!
//! Talking to the API rather than to the database means the commands work against any
//! node of a deployment, from any machine, and go through the same checks and the same
//! store as every other request (a SQLite file that `serve` holds open, or Postgres). The
//! operator token comes from `--token` / `LIVECART_OPERATOR_TOKEN`, or, on the machine that
//! runs `serve`, from the `operator-token` file in its data dir.

use super::client::{ApiClient, Payload};
use anyhow::Context;
use clap::{Args, Subcommand};
use reqwest::Method;
use serde_json::Value;
use std::path::PathBuf;
use std::process::ExitCode;

#[derive(Debug, Args)]
pub struct AdminArgs {
    /// The livecart server (any node) to talk to.
    #[arg(
        long,
        global = true,
        default_value = "http://127.0.0.1:8080",
        env = "LIVECART_SERVER"
    )]
    pub server: String,
    /// The operator token. Default: the `operator-token` file in `--data-dir`.
    #[arg(
        long,
        global = true,
        env = "LIVECART_OPERATOR_TOKEN",
        hide_env_values = true
    )]
    pub token: Option<String>,
    /// The server's data directory, to read a generated operator token from.
    #[arg(
        long,
        global = true,
        default_value = ".livecart",
        env = "LIVECART_DATA_DIR"
    )]
    pub data_dir: PathBuf,
    /// Print the server's JSON answer instead of text.
    #[arg(long, global = true)]
    pub json: bool,
    #[command(subcommand)]
    pub command: AdminCommand,
}

#[derive(Debug, Subcommand)]
pub enum AdminCommand {
    /// Merchants: create, list, show, disable, enable.
    #[command(subcommand)]
    Merchant(MerchantCommand),
    /// A merchant's API tokens: list, issue, rotate, revoke.
    #[command(subcommand)]
    Token(TokenCommand),
}

#[derive(Debug, Subcommand)]
pub enum MerchantCommand {
    /// Create a merchant; prints its first API token (shown once).
    Create {
        /// The shop's display name (1 to 80 characters).
        #[arg(long)]
        name: String,
    },
    /// List every merchant.
    List,
    /// One merchant and its tokens.
    Show { merchant: String },
    /// Disable a merchant: its tokens, room tokens and stream keys stop working at once.
    Disable { merchant: String },
    /// Re-enable a disabled merchant.
    Enable { merchant: String },
}

#[derive(Debug, Subcommand)]
pub enum TokenCommand {
    /// A merchant's tokens (ids and labels, never secrets).
    List { merchant: String },
    /// Issue another token to a merchant; prints its secret (shown once).
    Issue {
        merchant: String,
        /// What the token is for ("ci", "shop tablet"…).
        #[arg(long, default_value = "")]
        label: String,
    },
    /// Replace a token with a new one (same label); the old one stops working.
    Rotate {
        merchant: String,
        /// The token's id (`tk_…`). (Not named `token`: that is the global `--token`.)
        #[arg(value_name = "TOKEN_ID")]
        token_id: String,
    },
    /// Revoke a token; it stops working at once.
    Revoke {
        merchant: String,
        /// The token's id (`tk_…`).
        #[arg(value_name = "TOKEN_ID")]
        token_id: String,
    },
}

pub use super::client::Refused;

/// Run a command: exit 0 with its output, 1 when the server refused (the reason on
/// stderr); failing to reach the server at all is an error (exit 2).
pub fn run(args: AdminArgs) -> anyhow::Result<ExitCode> {
    super::client::run_printing(execute(&args))
}

/// Run a command against the server and return what to print. A refusal is a
/// [`Refused`] inside the error.
pub async fn execute(args: &AdminArgs) -> anyhow::Result<String> {
    let client = ApiClient::new(&args.server, &operator_token(args)?)?;
    let (method, path, body) = request(&args.command);
    let segments: Vec<&str> = ["api", "operator"].into_iter().chain(path).collect();
    let body = body.map_or(Payload::None, Payload::Json);
    let answer = client.call(method, &segments, body).await?;
    if args.json {
        return Ok(format!("{}\n", serde_json::to_string_pretty(&answer)?));
    }
    Ok(render(&args.command, &answer))
}

/// The operator API request for a command: method, path segments after `/api/operator`,
/// and the JSON body.
fn request(cmd: &AdminCommand) -> (Method, Vec<&str>, Option<Value>) {
    use AdminCommand::{Merchant, Token};
    let m = "merchants";
    match cmd {
        Merchant(MerchantCommand::Create { name }) => (
            Method::POST,
            vec![m],
            Some(serde_json::json!({ "name": name })),
        ),
        Merchant(MerchantCommand::List) => (Method::GET, vec![m], None),
        Merchant(MerchantCommand::Show { merchant }) => (Method::GET, vec![m, merchant], None),
        Merchant(MerchantCommand::Disable { merchant }) => {
            (Method::POST, vec![m, merchant, "disable"], None)
        }
        Merchant(MerchantCommand::Enable { merchant }) => {
            (Method::POST, vec![m, merchant, "enable"], None)
        }
        Token(TokenCommand::List { merchant }) => (Method::GET, vec![m, merchant, "tokens"], None),
        Token(TokenCommand::Issue { merchant, label }) => (
            Method::POST,
            vec![m, merchant, "tokens"],
            Some(serde_json::json!({ "label": label })),
        ),
        Token(TokenCommand::Rotate { merchant, token_id }) => (
            Method::POST,
            vec![m, merchant, "tokens", token_id, "rotate"],
            None,
        ),
        Token(TokenCommand::Revoke { merchant, token_id }) => (
            Method::POST,
            vec![m, merchant, "tokens", token_id, "revoke"],
            None,
        ),
    }
}

/// `--token`, else the `operator-token` file in `--data-dir`.
fn operator_token(args: &AdminArgs) -> anyhow::Result<String> {
    if let Some(t) = &args.token {
        return Ok(t.trim().to_owned());
    }
    let path = args.data_dir.join(super::serve::OPERATOR_TOKEN_FILE);
    std::fs::read_to_string(&path)
        .map(|t| t.trim().to_owned())
        .with_context(|| {
            format!(
                "no operator token: pass --token, set LIVECART_OPERATOR_TOKEN, \
                 or point --data-dir at the server's data dir ({} is unreadable)",
                path.display()
            )
        })
}

/// A command's answer as text.
fn render(cmd: &AdminCommand, v: &Value) -> String {
    use AdminCommand::{Merchant, Token};
    match cmd {
        Merchant(MerchantCommand::Create { .. }) => format!(
            "created merchant {}\n{}",
            merchant_line(&v["merchant"]),
            secret_lines(&v["token"], &v["secret"])
        ),
        Merchant(MerchantCommand::List) => merchant_table(v),
        Merchant(MerchantCommand::Show { .. }) => format!(
            "{}\n{}",
            merchant_line(&v["merchant"]),
            token_table(&v["tokens"])
        ),
        Merchant(MerchantCommand::Disable { .. } | MerchantCommand::Enable { .. }) => {
            format!("{}\n", merchant_line(v))
        }
        Token(TokenCommand::List { .. }) => token_table(v),
        Token(TokenCommand::Issue { .. }) => secret_lines(&v["token"], &v["secret"]),
        Token(TokenCommand::Rotate { .. }) => format!(
            "revoked token {}\n{}",
            text(&v["replaces"]),
            secret_lines(&v["token"], &v["secret"])
        ),
        Token(TokenCommand::Revoke { .. }) => format!(
            "revoked token {} ({}) of {}\n",
            text(&v["id"]),
            label(&v["label"]),
            text(&v["merchant_id"])
        ),
    }
}

fn text(v: &Value) -> &str {
    v.as_str().unwrap_or("?")
}

fn label(v: &Value) -> String {
    match v.as_str() {
        Some("") | None => "no label".into(),
        Some(l) => format!("label {l:?}"),
    }
}

fn when(v: &Value) -> String {
    v.as_u64()
        .map_or_else(|| "-".into(), crate::store::rfc3339_utc)
}

fn merchant_line(m: &Value) -> String {
    let status = if m["disabled_ms"].is_null() {
        "enabled".to_owned()
    } else {
        format!("disabled since {}", when(&m["disabled_ms"]))
    };
    format!("{} {:?} ({status})", text(&m["id"]), text(&m["name"]))
}

fn merchant_table(list: &Value) -> String {
    let mut out = format!("{:<16} {:<9} {:<20} NAME\n", "ID", "STATUS", "CREATED");
    for m in list.as_array().into_iter().flatten() {
        let status = if m["disabled_ms"].is_null() {
            "enabled"
        } else {
            "disabled"
        };
        out += &format!(
            "{:<16} {:<9} {:<20} {}\n",
            text(&m["id"]),
            status,
            when(&m["created_ms"]),
            text(&m["name"])
        );
    }
    out
}

fn token_table(list: &Value) -> String {
    let mut out = format!("{:<17} {:<8} {:<20} LABEL\n", "TOKEN", "STATUS", "CREATED");
    for t in list.as_array().into_iter().flatten() {
        let status = if t["revoked_ms"].is_null() {
            "active"
        } else {
            "revoked"
        };
        out += &format!(
            "{:<17} {:<8} {:<20} {}\n",
            text(&t["id"]),
            status,
            when(&t["created_ms"]),
            text(&t["label"])
        );
    }
    out
}

fn secret_lines(token: &Value, secret: &Value) -> String {
    format!(
        "api token {} ({}) of {}:\n  {}\n(shown once: hand it to the merchant; `livecart admin token rotate` replaces it)\n",
        text(&token["id"]),
        label(&token["label"]),
        text(&token["merchant_id"]),
        text(secret)
    )
}
