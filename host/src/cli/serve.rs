//! `livecart serve`: the host on its embedded defaults.

use crate::plugin::registry::Registry;
use crate::plugin::{CpuMeter, EngineConfig, PluginEngine};
use crate::server::{AppState, app};
use crate::store::Store;
use anyhow::Context;
use clap::Args;
use std::io::Write;
use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::process::ExitCode;
use std::sync::Arc;

#[derive(Debug, Args)]
pub struct ServeArgs {
    /// Address for HTTP (API, pages, DASH).
    #[arg(long, default_value = "127.0.0.1:8080", env = "LIVECART_LISTEN")]
    pub listen: SocketAddr,
    /// Directory for the SQLite database and the compiled-plugin cache.
    #[arg(long, default_value = ".livecart", env = "LIVECART_DATA_DIR")]
    pub data_dir: PathBuf,
    /// Built example plugins to enable in the demo room on first start.
    #[arg(long, default_value = "target/plugins")]
    pub demo_plugins: PathBuf,
    /// Example plugin sources (for their sample configs).
    #[arg(long, default_value = "plugins")]
    pub plugin_sources: PathBuf,
}

/// The room every fresh install has.
pub const DEMO_ROOM: &str = "demo";
/// The owner of plugins the host installs itself.
pub const SYSTEM_OWNER: &str = "livecart";

pub fn run(args: ServeArgs) -> anyhow::Result<ExitCode> {
    std::fs::create_dir_all(&args.data_dir)
        .with_context(|| format!("creating {}", args.data_dir.display()))?;
    let store = Arc::new(
        Store::open(&args.data_dir.join("livecart.db")).context("opening the SQLite store")?,
    );
    let mut config = EngineConfig::new(CpuMeter::Epoch);
    config.instance_slots = 256;
    config.cache_dir = Some(args.data_dir.join("plugin-cache"));
    let engine = Arc::new(PluginEngine::new(config).context("starting the plugin engine")?);
    let registry = Arc::new(Registry::new(store.clone()));
    seed_demo(&engine, &registry, &args.demo_plugins, &args.plugin_sources);

    let runtime = tokio::runtime::Runtime::new().context("starting tokio")?;
    runtime.block_on(async move {
        let listener = tokio::net::TcpListener::bind(args.listen)
            .await
            .with_context(|| format!("binding {}", args.listen))?;
        let addr = listener.local_addr()?;
        // A closed stdout (e.g. piped into `head`) must not stop the server.
        let banner = format!(
            "livecart is running\n  health:        http://{addr}/healthz\n  demo plugins:  http://{addr}/api/rooms/{DEMO_ROOM}/plugins\n  data:          {}\nPress Ctrl-C to stop.\n",
            args.data_dir.display()
        );
        let mut out = std::io::stdout();
        let _ = out.write_all(banner.as_bytes()).and_then(|()| out.flush());
        let state = AppState { engine, registry };
        axum::serve(listener, app(state))
            .with_graceful_shutdown(async {
                let _ = tokio::signal::ctrl_c().await;
            })
            .await
            .context("serving HTTP")
    })?;
    Ok(ExitCode::SUCCESS)
}

/// Enable the example plugins in the demo room the first time the host starts.
fn seed_demo(engine: &PluginEngine, registry: &Registry, built: &Path, sources: &Path) {
    match registry.bindings(DEMO_ROOM) {
        Ok(b) if b.is_empty() => {}
        _ => return,
    }
    for name in ["like-coupon", "keyword-push", "ai-host"] {
        let Ok(bytes) = std::fs::read(built.join(format!("{name}.wasm"))) else {
            tracing::info!(
                name,
                "example plugin not built; skipping (run the demo script)"
            );
            continue;
        };
        let config = std::fs::read_to_string(sources.join(name).join("config.json"))
            .unwrap_or_else(|_| "{}".into());
        let seeded = registry
            .upload(engine, SYSTEM_OWNER, &bytes)
            .and_then(|(v, _)| registry.enable(DEMO_ROOM, &v.hash, &config));
        match seeded {
            Ok(b) => {
                tracing::info!(name, hash = %b.hash, "example plugin enabled in the demo room")
            }
            Err(e) => tracing::warn!(name, "could not enable example plugin: {e}"),
        }
    }
}
