//! `livecart plugin new | build | check | test | upload | enable | disable | logs`: the
//! plugin developer's tools. `new` is `plugin_new.rs`; the server's API commands are
//! `plugin_api.rs`.

use crate::ai::{AiProvider, OpenAiConfig, OpenAiProvider, RetrievalAnswerer};
use crate::catalog::{Catalog, MemoryCatalog};
use crate::plugin::bindings::{capability_name, event_kind_name};
use crate::plugin::compile::{self, CompileWorker};
use crate::plugin::componentize::{self, PluginTarget};
use crate::plugin::engine::worker_engine;
use crate::plugin::registry::{RegistryError, normalize_config};
use crate::plugin::{CpuMeter, EngineConfig, Limits, PluginEngine, model};
use crate::runner;
use anyhow::Context;
use clap::{Args, Subcommand};
use std::io::Write;
use std::path::PathBuf;
use std::process::ExitCode;
use std::sync::Arc;
use std::time::Duration;

#[derive(Debug, Subcommand)]
pub enum PluginCommand {
    /// Create a plugin project (a crate that builds outside this repository).
    New(super::plugin_new::NewArgs),
    /// Validate a file as an uploadable plugin (world, imports, size, capabilities).
    Check {
        /// The plugin component (.wasm).
        file: PathBuf,
    },
    /// Replay recorded room events through a plugin in the real sandbox.
    Test(TestArgs),
    /// Build plugin crates into components (wasm32-unknown-unknown + componentize).
    Build {
        /// Plugin crate directories (one cargo workspace).
        #[arg(required = true)]
        crates: Vec<PathBuf>,
        /// Build for wasm32-wasip2 instead (a component importing WASI).
        #[arg(long)]
        wasip2: bool,
        /// Where to write `<name>.wasm` (default: `<target>/plugins`).
        #[arg(long)]
        out_dir: Option<PathBuf>,
    },
    #[command(flatten)]
    Api(super::plugin_api::ApiCommand),
    /// Internal: compile a component read from stdin under a memory and CPU limit and write
    /// the precompiled artifact to stdout (the server's compile budget runs this).
    #[command(hide = true)]
    CompileWorker {
        #[arg(long)]
        meter: String,
        #[arg(long)]
        memory_bytes: u64,
        #[arg(long)]
        cpu_secs: u64,
    },
}

#[derive(Debug, Args)]
pub struct TestArgs {
    /// The plugin component (.wasm).
    pub file: PathBuf,
    /// Recorded events, one JSON object per line.
    #[arg(long)]
    pub events: PathBuf,
    /// The plugin's config (JSON object).
    #[arg(long)]
    pub config: Option<PathBuf>,
    /// The merchant catalog (JSON array of products), for `catalog` and the AI host.
    #[arg(long)]
    pub catalog: Option<PathBuf>,
    /// Instruction budget per batch.
    #[arg(long, default_value_t = Limits::default().fuel_per_batch)]
    pub fuel: u64,
    /// Memory limit per instance, MiB.
    #[arg(long, default_value_t = 16)]
    pub memory_mib: usize,
    /// Answer `ask-ai` with an OpenAI-compatible server at this base URL instead of the
    /// embedded catalog answerer (e.g. http://127.0.0.1:11434/v1).
    #[arg(long)]
    pub ai_url: Option<String>,
    /// Model name for --ai-url.
    #[arg(long, default_value = "default")]
    pub ai_model: String,
    /// API key for --ai-url.
    #[arg(long, env = "LIVECART_AI_KEY", hide_env_values = true)]
    pub ai_key: Option<String>,
}

pub fn run(cmd: PluginCommand) -> anyhow::Result<ExitCode> {
    match cmd {
        PluginCommand::New(args) => super::plugin_new::run(args),
        PluginCommand::Api(cmd) => super::plugin_api::run(cmd),
        PluginCommand::Check { file } => check(file),
        PluginCommand::Test(args) => test(args),
        PluginCommand::Build {
            crates,
            wasip2,
            out_dir,
        } => {
            let target = if wasip2 {
                PluginTarget::Wasip2
            } else {
                PluginTarget::Core
            };
            for path in componentize::build(&crates, target, out_dir.as_deref())? {
                let size = std::fs::metadata(&path).map(|m| m.len()).unwrap_or(0);
                println!("{} ({size} bytes)", path.display());
            }
            Ok(ExitCode::SUCCESS)
        }
        PluginCommand::CompileWorker {
            meter,
            memory_bytes,
            cpu_secs,
        } => {
            let meter =
                CpuMeter::from_name(&meter).with_context(|| format!("unknown meter {meter:?}"))?;
            let engine = worker_engine(meter)?;
            let code = compile::worker_main(&engine, memory_bytes, cpu_secs);
            Ok(ExitCode::from(u8::try_from(code).unwrap_or(1)))
        }
    }
}

/// An engine config for the CLI tools: compiles run in the compile worker, as on a server.
fn tool_engine_config(meter: CpuMeter) -> EngineConfig {
    let mut config = EngineConfig::new(meter);
    config.cache_dir = cache_dir();
    config.compile_worker = CompileWorker::current_exe().ok();
    config
}

fn check(file: PathBuf) -> anyhow::Result<ExitCode> {
    let bytes = std::fs::read(&file).with_context(|| format!("reading {}", file.display()))?;
    let engine = PluginEngine::new(tool_engine_config(CpuMeter::Fuel))?;
    let loaded = engine
        .load(&bytes)
        .map_err(RegistryError::from)
        .and_then(|plugin| {
            crate::plugin::registry::check_example_config(&engine, &plugin).map(|()| plugin)
        });
    match loaded {
        Ok(plugin) => {
            let m = &plugin.manifest;
            println!("ok: {} {} ({} bytes)", m.name, m.version, plugin.size);
            println!("  hash:         {}", plugin.hash);
            if !m.description.is_empty() {
                println!("  description:  {}", m.description);
            }
            let caps: Vec<_> = m.capabilities.iter().map(|c| capability_name(*c)).collect();
            let events: Vec<_> = m.events.iter().map(|k| event_kind_name(*k)).collect();
            println!("  capabilities: {}", caps.join(", "));
            println!("  events:       {}", events.join(", "));
            if let Some(example) = &m.example_config {
                let compact = serde_json::from_str::<serde_json::Value>(example)
                    .map_or_else(|_| example.clone(), |v| v.to_string());
                println!("  example config: {compact}");
            }
            let c = &plugin.code;
            println!(
                "  code:         {} functions, {} bytes; largest function {} bytes, {} locals, {} stack values, nesting {}",
                c.functions,
                c.code_bytes,
                c.max_function_bytes,
                c.max_locals,
                c.max_operand_stack,
                c.max_nesting
            );
            Ok(ExitCode::SUCCESS)
        }
        Err(RegistryError::Invalid(e)) => {
            eprintln!("invalid plugin {}: {e}", file.display());
            Ok(ExitCode::from(1))
        }
        Err(e) => {
            eprintln!("invalid plugin {}: {e}", file.display());
            Ok(ExitCode::from(1))
        }
    }
}

fn test(args: TestArgs) -> anyhow::Result<ExitCode> {
    let bytes =
        std::fs::read(&args.file).with_context(|| format!("reading {}", args.file.display()))?;
    let events_text = std::fs::read_to_string(&args.events)
        .with_context(|| format!("reading {}", args.events.display()))?;
    let events = model::parse_events(&events_text, "demo")
        .map_err(|e| anyhow::anyhow!("{}: {e}", args.events.display()))?;
    let config = match &args.config {
        Some(p) => {
            let text =
                std::fs::read_to_string(p).with_context(|| format!("reading {}", p.display()))?;
            normalize_config(&text).map_err(|e| anyhow::anyhow!("{}: {e}", p.display()))?
        }
        None => "{}".to_owned(),
    };
    let catalog: Arc<dyn Catalog> = match &args.catalog {
        Some(p) => {
            let text =
                std::fs::read_to_string(p).with_context(|| format!("reading {}", p.display()))?;
            Arc::new(
                MemoryCatalog::from_json(&text)
                    .with_context(|| format!("parsing {}", p.display()))?,
            )
        }
        None => Arc::new(MemoryCatalog::default()),
    };
    let ai: Box<dyn AiProvider> = match &args.ai_url {
        Some(url) => Box::new(OpenAiProvider::new(OpenAiConfig {
            base_url: url.clone(),
            model: args.ai_model.clone(),
            api_key: args.ai_key.clone(),
            timeout: Duration::from_secs(30),
        })),
        None => Box::new(RetrievalAnswerer::new(catalog.clone())),
    };
    let mut config_engine = tool_engine_config(CpuMeter::Fuel);
    config_engine.limits.fuel_per_batch = args.fuel;
    config_engine.limits.memory_bytes = args.memory_mib << 20;
    config_engine.instance_slots = 4;
    let engine = PluginEngine::new(config_engine)?;

    let stdout = std::io::stdout();
    let mut out = stdout.lock();
    let mut write_line = |line: runner::RunLine| {
        if let Ok(text) = serde_json::to_string(&line) {
            let _ = writeln!(out, "{text}");
        }
    };
    let mut log = |line: &str| eprintln!("{line}");
    let scenario = runner::Scenario {
        config,
        catalog,
        events,
    };
    let summary = match runner::run(
        &engine,
        &bytes,
        scenario,
        ai.as_ref(),
        &mut write_line,
        &mut log,
    ) {
        Ok(summary) => summary,
        Err(e) => {
            eprintln!("error: {e:#}");
            return Ok(ExitCode::from(2));
        }
    };
    println!("{}", serde_json::json!({ "summary": summary }));
    eprintln!(
        "{} events, {} batches, {} actions, {} instructions (max {} per batch), peak memory {} KiB, {} faults{}",
        summary.events,
        summary.batches,
        summary.actions,
        summary.instructions,
        summary.max_batch_instructions,
        summary.peak_memory_bytes / 1024,
        summary.faults,
        if summary.limits_hit.is_empty() {
            String::new()
        } else {
            format!(" (limits hit: {})", summary.limits_hit.join(", "))
        }
    );
    Ok(if summary.trapped() {
        ExitCode::from(1)
    } else {
        ExitCode::SUCCESS
    })
}

/// Where the developer tools cache compiled plugins: `$LIVECART_CACHE_DIR`, else
/// `$XDG_CACHE_HOME/livecart`, else `~/.cache/livecart`.
fn cache_dir() -> Option<PathBuf> {
    if let Some(dir) = std::env::var_os("LIVECART_CACHE_DIR") {
        return Some(PathBuf::from(dir));
    }
    if let Some(dir) = std::env::var_os("XDG_CACHE_HOME") {
        return Some(PathBuf::from(dir).join("livecart"));
    }
    std::env::var_os("HOME").map(|h| PathBuf::from(h).join(".cache").join("livecart"))
}
