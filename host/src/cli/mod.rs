//! Command-line interface: argument definitions and dispatch to each command.

pub mod admin;
mod bench;
mod bench_bombs;
mod bench_budget;
mod bench_bus;
mod bench_claims;
mod bench_media;
mod bench_rooms;
mod bench_soak;
mod bench_ws;
mod client;
pub mod config;
mod plugin;
mod plugin_api;
mod plugin_new;
mod serve;

use clap::{Parser, Subcommand};
use std::process::ExitCode;

/// livecart — live-commerce streaming host.
#[derive(Debug, Parser)]
#[command(name = "livecart", version, about)]
pub struct Cli {
    /// More log output (-v: debug, -vv: trace). `RUST_LOG` overrides.
    #[arg(short, long, global = true, action = clap::ArgAction::Count)]
    pub verbose: u8,
    /// Log line format on stderr: `text` for people, `json` (one object per line) for log
    /// shippers.
    #[arg(long, global = true, value_enum, default_value_t = LogFormat::Text, env = "LIVECART_LOG_FORMAT")]
    pub log_format: LogFormat,
    #[command(subcommand)]
    pub command: Command,
}

#[derive(Debug, Subcommand)]
#[allow(clippy::large_enum_variant)] // Parsed once per process; size does not matter.
pub enum Command {
    /// Run the host: HTTP, rooms and plugins, on the embedded SQLite store.
    Serve(serve::ServeArgs),
    /// Tools for plugin developers.
    #[command(subcommand)]
    Plugin(plugin::PluginCommand),
    /// The operator's commands: merchants and their API tokens, through a running server's
    /// operator API.
    Admin(admin::AdminArgs),
    /// Benchmarks (run with --release).
    #[command(subcommand)]
    Bench(bench::BenchCommand),
}

/// Run a parsed command; the exit code is the command's verdict.
pub fn run(cli: Cli) -> anyhow::Result<ExitCode> {
    match cli.command {
        Command::Serve(args) => serve::run(args),
        Command::Plugin(cmd) => plugin::run(cmd),
        Command::Admin(args) => admin::run(args),
        Command::Bench(cmd) => bench::run(cmd),
    }
}

/// How log lines are written.
#[derive(Clone, Copy, Debug, PartialEq, Eq, clap::ValueEnum)]
pub enum LogFormat {
    Text,
    Json,
}

/// Structured logs to stderr: text (coloured only when stderr is a terminal) or JSON lines.
pub fn init_tracing(verbose: u8, format: LogFormat) {
    use std::io::IsTerminal;
    let default = match verbose {
        0 => "info,wasmtime=warn,cranelift=warn",
        1 => "debug,wasmtime=info,cranelift=info",
        _ => "trace",
    };
    let filter = tracing_subscriber::EnvFilter::try_from_default_env()
        .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new(default));
    let builder = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(std::io::stderr);
    let _ = match format {
        LogFormat::Json => builder.json().with_current_span(false).try_init(),
        LogFormat::Text => builder
            .with_ansi(std::io::stderr().is_terminal())
            .try_init(),
    };
}
