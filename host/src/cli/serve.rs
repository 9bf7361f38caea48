//! `livecart serve`: the host on its embedded defaults, with a ready demo room.

use crate::ai::{AiProvider, OpenAiConfig, OpenAiProvider};
use crate::auth::{Claims, MIN_OPERATOR_TOKEN_LEN, OperatorToken, Role, TokenKey};
use crate::catalog::Product;
use crate::plugin::registry::Registry;
use crate::plugin::{CpuMeter, EngineConfig, PluginEngine};
use crate::room::bus::RoomBus;
use crate::room::{RoomConfig, RoomDeps, Rooms};
use crate::server::accept::{self, HttpLimits};
use crate::server::{AppState, app};
use crate::server::{drain, process};
use crate::store::{NewCoupon, SqliteStore, Store};
use anyhow::Context;
use clap::Args;
use std::io::Write;
use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::process::ExitCode;
use std::sync::Arc;
use std::time::Duration;

#[derive(Debug, Args)]
pub struct ServeArgs {
    /// A `livecart.toml` with any of these flags as keys (default: `./livecart.toml` if it
    /// exists). Flags and environment variables override it.
    #[arg(long, env = "LIVECART_CONFIG")]
    pub config: Option<PathBuf>,
    /// Address for HTTP (API, WebSocket, pages, DASH).
    #[arg(long, default_value = "127.0.0.1:8080", env = "LIVECART_LISTEN")]
    pub listen: SocketAddr,
    /// Directory for the SQLite database, secrets and the compiled-plugin cache.
    #[arg(long, default_value = ".livecart", env = "LIVECART_DATA_DIR")]
    pub data_dir: PathBuf,
    /// The store: `sqlite:PATH` (default `sqlite:<data-dir>/livecart.db`) or
    /// `postgres://USER@HOST:PORT/DB` for several nodes sharing one database.
    #[arg(long, env = "LIVECART_STORE")]
    pub store: Option<String>,
    /// Secret for signing room tokens (HS256). Default: generated once, kept in the data dir.
    #[arg(long, env = "LIVECART_TOKEN_SECRET", hide_env_values = true)]
    pub token_secret: Option<String>,
    /// The operator's token for `/api/operator/…` and `livecart admin` (at least 16
    /// characters). Default: generated once, kept in the data dir (`operator-token`) and
    /// printed at start.
    #[arg(long, env = "LIVECART_OPERATOR_TOKEN", hide_env_values = true)]
    pub operator_token: Option<String>,
    /// Answer plugins' AI questions with an OpenAI-compatible server at this base URL
    /// (default: the embedded answerer over each merchant's catalog).
    #[arg(long, env = "LIVECART_AI_URL")]
    pub ai_url: Option<String>,
    #[arg(long, default_value = "default", env = "LIVECART_AI_MODEL")]
    pub ai_model: String,
    #[arg(long, env = "LIVECART_AI_KEY", hide_env_values = true)]
    pub ai_key: Option<String>,
    /// Built example plugins to enable in the demo room on first start.
    #[arg(long, default_value = "target/plugins")]
    pub demo_plugins: PathBuf,
    /// Example plugin sources (for their sample configs and the demo catalog).
    #[arg(long, default_value = "plugins")]
    pub plugin_sources: PathBuf,
    /// Memory the warm plugin instances may hold together, MiB. Instances beyond it (or
    /// beyond the pool sized from it, one instance per MiB) are evicted least recently used
    /// and re-created on their next event; their state is kept.
    #[arg(long, default_value_t = 1024, env = "LIVECART_PLUGIN_MEMORY_MIB")]
    pub plugin_memory_mib: usize,
    /// Each merchant's default allowance of plugin code (function bodies), MiB; the
    /// operator can set another per merchant (`/api/operator/merchants/{id}/plugin-limits`),
    /// never past the node's ceiling of 64 MiB. The compile deadline grows with the code.
    #[arg(long, default_value_t = 16, env = "LIVECART_PLUGIN_CODE_MIB",
          value_parser = clap::value_parser!(u64).range(1..=64))]
    pub plugin_code_mib: u64,
    /// Linear memory one plugin instance may use, MiB (an embedded CPython takes about 13).
    #[arg(long, default_value_t = 16, env = "LIVECART_PLUGIN_INSTANCE_MIB",
          value_parser = clap::value_parser!(u64).range(1..=256))]
    pub plugin_instance_mib: u64,
    /// Serve the web pages from this directory (its `src/` and `node_modules/dashjs`) on
    /// every request instead of the copies built in: for working on the pages.
    #[arg(long)]
    pub web_dir: Option<PathBuf>,
    /// Milliseconds a connection has to send a complete HTTP request head, also between
    /// requests on a kept-alive connection; slower ones are closed (slowloris guard).
    #[arg(long, default_value_t = 10_000, env = "LIVECART_HEADER_TIMEOUT_MS")]
    pub header_timeout_ms: u64,
    /// Milliseconds a room client (WebSocket or long-poll) has for `hello` and `join`.
    #[arg(long, default_value_t = 10_000, env = "LIVECART_HELLO_TIMEOUT_MS")]
    pub hello_timeout_ms: u64,
    /// Guests on one network may claim a coupon (or buy a sale) this many times its
    /// per-user limit; a guest's device, once. Signed-in viewers are not throttled.
    #[arg(long, default_value_t = 5, env = "LIVECART_GUEST_CLAIMS_PER_NETWORK",
          value_parser = clap::value_parser!(u32).range(1..))]
    pub guest_claims_per_network: u32,
    /// Addresses of proxies (load balancers) whose `X-Forwarded-For` names the client,
    /// comma-separated; every other peer is the client itself.
    #[arg(long, value_delimiter = ',', env = "LIVECART_TRUSTED_PROXIES")]
    pub trusted_proxies: Vec<std::net::IpAddr>,
    /// Most open HTTP connections (WebSockets included); more get a 503. 0 is no cap. It
    /// is lowered to fit the file-descriptor limit.
    #[arg(long, default_value_t = 100_000, env = "LIVECART_MAX_CONNS")]
    pub max_conns: usize,
    /// Most open connections from one client IP (IPv6: one /64); more get a 503. 0 is no
    /// cap (use that behind a reverse proxy, which connects from one address).
    #[arg(long, default_value_t = 1_000, env = "LIVECART_MAX_CONNS_PER_IP")]
    pub max_conns_per_ip: usize,
    /// Give freed heap back to the OS (`malloc_trim`) once this many connections have
    /// closed since the busiest moment; 0 never trims.
    #[arg(long, default_value_t = 256, env = "LIVECART_HEAP_TRIM_AFTER")]
    pub heap_trim_after: u64,
    /// Milliseconds the graceful drain on SIGTERM or Ctrl-C may take (clients told to
    /// reconnect, claims answered, lives ended and recorded) before the process exits
    /// anyway; it exits 0 either way.
    #[arg(long, default_value_t = 10_000, env = "LIVECART_DRAIN_TIMEOUT_MS")]
    pub drain_timeout_ms: u64,
    /// The room bus: `memory` (one node) or `nats://HOST:PORT` (NATS JetStream; rooms
    /// span every node on the same server, and their history survives restarts).
    #[arg(long, default_value = "memory", env = "LIVECART_BUS")]
    pub bus: String,
    #[command(flatten)]
    pub media: crate::media::MediaArgs,
}

/// Which room bus `--bus` names.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum BusUrl {
    Memory,
    Nats(String),
}

impl std::str::FromStr for BusUrl {
    type Err = anyhow::Error;
    fn from_str(s: &str) -> anyhow::Result<Self> {
        let s = s.trim();
        if s == "memory" {
            Ok(BusUrl::Memory)
        } else if s.starts_with("nats://") && s.len() > "nats://".len() {
            Ok(BusUrl::Nats(s.to_owned()))
        } else {
            anyhow::bail!("--bus takes `memory` or `nats://HOST:PORT`, not `{s}`")
        }
    }
}

/// Connect the room bus `--bus` names; an unreachable NATS is an error at start.
async fn connect_bus(
    url: &BusUrl,
    history: crate::room::hub::HistoryLimits,
) -> anyhow::Result<RoomBus> {
    match url {
        BusUrl::Memory => Ok(RoomBus::in_process()),
        BusUrl::Nats(url) => {
            let mut config = livecart_bus_nats::NatsConfig::new(url);
            config.max_age = history.max_age;
            config.max_per_room = i64::try_from(history.max_frames).unwrap_or(i64::MAX);
            let backplane = livecart_bus_nats::NatsBackplane::connect(&config)
                .await
                .context("starting the NATS room bus")?;
            tracing::info!(url, "room bus: NATS JetStream");
            Ok(RoomBus::new(backplane))
        }
    }
}

/// Where other nodes reach this one: `--advertise-url`, else the listen address when it
/// is a concrete one, else this host's name with the port.
fn advertise_url(flag: Option<&str>, listen: SocketAddr) -> String {
    if let Some(url) = flag {
        return url.trim_end_matches('/').to_owned();
    }
    if !listen.ip().is_unspecified() {
        return format!("http://{listen}");
    }
    let host = std::fs::read_to_string("/proc/sys/kernel/hostname")
        .map(|h| h.trim().to_owned())
        .ok()
        .filter(|h| !h.is_empty())
        .unwrap_or_else(|| "localhost".into());
    format!("http://{host}:{}", listen.port())
}

/// The room every fresh install has.
pub const DEMO_ROOM: &str = "demo";

/// Open the store `--store` names; an unreachable or unusable database fails `serve` here,
/// at start, with the reason.
pub fn open_store(url: Option<&str>, data_dir: &std::path::Path) -> anyhow::Result<Arc<dyn Store>> {
    match url {
        None => Ok(Arc::new(
            SqliteStore::open(&data_dir.join("livecart.db")).context("opening the SQLite store")?,
        )),
        Some(url) if url.starts_with("sqlite:") => {
            let path = std::path::Path::new(&url["sqlite:".len()..]);
            Ok(Arc::new(SqliteStore::open(path).with_context(|| {
                format!("opening the SQLite store at {}", path.display())
            })?))
        }
        Some(url) if url.starts_with("postgres://") || url.starts_with("postgresql://") => {
            Ok(Arc::new(
                livecart_store_postgres::PostgresStore::connect(url)
                    .context("connecting to the PostgreSQL store")?,
            ))
        }
        Some(other) => {
            anyhow::bail!("--store {other:?}: expected sqlite:PATH or postgres://USER@HOST:PORT/DB")
        }
    }
}

pub fn run(args: ServeArgs) -> anyhow::Result<ExitCode> {
    crate::metrics::install_panic_hook();
    let limits = http_limits(&args);
    let bus_url: BusUrl = args.bus.parse()?;
    std::fs::create_dir_all(&args.data_dir)
        .with_context(|| format!("creating {}", args.data_dir.display()))?;
    let store = open_store(args.store.as_deref(), &args.data_dir)?;
    let mut config = EngineConfig::new(CpuMeter::Epoch);
    // One pool slot per MiB of the budget, plus an eighth for cold starts and uploads.
    let warm = args.plugin_memory_mib.clamp(16, 16 << 10);
    config.instance_slots = u32::try_from(warm + warm / 7).unwrap_or(u32::MAX);
    config.warm_budget_bytes = warm << 20;
    config.cache_dir = Some(args.data_dir.join("plugin-cache"));
    config.limits.merchant_code_bytes = (args.plugin_code_mib as usize) << 20;
    config.limits.memory_bytes = (args.plugin_instance_mib as usize) << 20;
    config.compile_worker = Some(
        crate::plugin::compile::CompileWorker::current_exe()
            .context("finding the livecart binary for the plugin compile worker")?,
    );
    let engine = Arc::new(PluginEngine::new(config).context("starting the plugin engine")?);
    let registry = Arc::new(Registry::new(store.clone()));
    let secret = match &args.token_secret {
        Some(s) => s.clone().into_bytes(),
        None => persistent_secret(&args.data_dir.join("token-secret"))?,
    };
    let tokens = TokenKey::new(&secret);
    let (operator, operator_shown) = operator_token(&args)?;
    let demo = seed_demo(&store, &engine, &registry, &args).context("preparing the demo room")?;
    let ai: Option<Arc<dyn AiProvider>> = args.ai_url.as_ref().map(|url| {
        Arc::new(OpenAiProvider::new(OpenAiConfig {
            base_url: url.clone(),
            model: args.ai_model.clone(),
            api_key: args.ai_key.clone(),
            timeout: Duration::from_secs(30),
        })) as Arc<dyn AiProvider>
    });
    let host_token = tokens.sign(&Claims {
        sub: "host-1".into(),
        name: "Host".into(),
        room: DEMO_ROOM.into(),
        role: Role::Host,
        exp: crate::auth::now_s() + 7 * 24 * 3600,
    });

    let stream_key = store
        .room(DEMO_ROOM)?
        .map(|r| r.stream_key)
        .unwrap_or_default();
    let runtime = tokio::runtime::Runtime::new().context("starting tokio")?;
    runtime.block_on(async move {
        let room_config = RoomConfig {
            handshake_timeout: Duration::from_millis(args.hello_timeout_ms),
            guests: crate::room::guests::GuestLimits {
                per_network: args.guest_claims_per_network,
                ..Default::default()
            },
            trusted_proxies: args.trusted_proxies.clone(),
            ..RoomConfig::default()
        };
        let bus = Arc::new(connect_bus(&bus_url, room_config.history).await?);
        let listener = listen(args.listen).with_context(|| format!("binding {}", args.listen))?;
        let addr = listener.local_addr()?;
        let (media, ingest, demo_stream) =
            crate::media::start(&args.media, &args.data_dir, store.clone(), Some(DEMO_ROOM))
                .await
                .context("starting media")?;
        let rooms = Arc::new(Rooms::with_bus(
            RoomDeps {
                store: store.clone(),
                engine: engine.clone(),
                registry: registry.clone(),
                ai,
                tokens,
                config: room_config,
                media: media.clone(),
            },
            bus,
        ));
        media.set_advertise(advertise_url(args.media.advertise_url.as_deref(), addr));
        crate::media::follow_lives(&media, rooms.clone());
        // From here a supervisor or a test may signal us: keep the signal for the drain.
        let signals = drain::Signals::install();
        // A closed stdout (e.g. piped into `head`) must not stop the server.
        let banner = format!(
            "livecart is running\n\
             \x20 viewer page:     http://{addr}/live/{DEMO_ROOM}\n\
             \x20 console:         http://{addr}/console   (sign in with the merchant token)\n\
             \x20 health:          http://{addr}/healthz\n\
             \x20 room websocket:  ws://{addr}/ws   (demo room: {DEMO_ROOM})\n\
             \x20 REST API:        http://{addr}/api/openapi.json\n\
             \x20 demo plugins:    http://{addr}/api/rooms/{DEMO_ROOM}/plugins\n\
             \x20 live DASH:       http://{addr}/media/{DEMO_ROOM}/live.mpd\n\
             \x20 live HLS:        http://{addr}/media/{DEMO_ROOM}/master.m3u8\n\
             \x20 live HTTP-FLV:   http://{addr}/media/{DEMO_ROOM}/live.flv\n\
             \x20 OBS ingest:      rtmp://{rtmp}/live  (RTMPS: rtmps://{rtmps}/live)\n\
             \x20 demo stream key: {stream_key}  {key_note}\n\
             \x20 merchant token:  {}\n\
             \x20 demo host token: {host_token}\n\
             \x20 operator token:  {operator_shown}   (livecart admin, /api/operator)\n\
             \x20 data:            {}\n\
             Press Ctrl-C to stop.\n",
            demo.merchant_token,
            args.data_dir.display(),
            rtmp = ingest.rtmp,
            rtmps = ingest.rtmps,
            key_note = if args.media.no_demo_stream {
                "(publish the demo room from OBS with it)"
            } else {
                "(the built-in demo stream holds the room; --no-demo-stream frees it)"
            },
        );
        let mut out = std::io::stdout();
        let _ = out.write_all(banner.as_bytes()).and_then(|()| out.flush());
        let state = AppState {
            store,
            engine,
            registry,
            rooms: rooms.clone(),
            media: media.clone(),
            pages: Arc::new(match args.web_dir {
                Some(dir) => crate::web::Pages::from_dir(dir),
                None => crate::web::Pages::embedded(),
            }),
            operator,
        };
        tracing::info!("HTTP: {}", accept::describe(&limits));
        let _trimmer = (args.heap_trim_after > 0)
            .then(|| process::spawn_trimmer(Duration::from_secs(5), args.heap_trim_after));
        let (stop_tx, mut stop_rx) = tokio::sync::watch::channel(false);
        let accept = accept::serve(listener, app(state), limits, async move {
            let _ = stop_rx.wait_for(|stop| *stop).await;
        });
        let mut accept = std::pin::pin!(accept);
        tokio::select! {
            served = &mut accept => return served.context("serving HTTP"),
            () = signals.recv() => {}
        }
        // The drain (see `server::drain`): readiness and room clients first, then the
        // listener, commits and media together, all within the deadline.
        rooms.begin_drain();
        let _ = stop_tx.send(true);
        let work = async {
            let (served, (), ()) =
                tokio::join!(accept, drain::rooms(&rooms), media.drain(demo_stream));
            served
        };
        match tokio::time::timeout(Duration::from_millis(args.drain_timeout_ms), work).await {
            Ok(served) => {
                served.context("serving HTTP")?;
                tracing::info!("drained; exiting");
            }
            Err(_) => tracing::warn!(
                "drain deadline of {} ms passed with {}; exiting",
                args.drain_timeout_ms,
                drain::leftovers(&rooms, &media)
            ),
        }
        anyhow::Ok(())
    })?;
    // Blocking tasks still running (none should be) must not hold the exit.
    runtime.shutdown_timeout(Duration::from_millis(500));
    Ok(ExitCode::SUCCESS)
}

/// The listener's limits from the flags, with the fd soft limit raised to the hard limit
/// and the global cap lowered to fit it.
fn http_limits(args: &ServeArgs) -> HttpLimits {
    let mut limits = HttpLimits {
        header_timeout: Duration::from_millis(args.header_timeout_ms),
        max_conns: args.max_conns,
        max_conns_per_ip: args.max_conns_per_ip,
    };
    match process::raise_fd_limit() {
        Ok((soft, hard)) => {
            let fit = process::fitting_conn_cap(args.max_conns, soft);
            if soft < 65_536 {
                tracing::warn!(
                    soft,
                    hard,
                    "the file-descriptor limit is low for a server: at most {fit} connections \
                     (raise the hard limit, e.g. `ulimit -Hn 1048576` or LimitNOFILE=)"
                );
            }
            if fit != args.max_conns {
                tracing::warn!(
                    wanted = args.max_conns,
                    cap = fit,
                    soft,
                    "connection cap lowered to fit the file-descriptor limit"
                );
            }
            limits.max_conns = fit;
        }
        Err(e) => tracing::warn!("reading the file-descriptor limit: {e}"),
    }
    limits
}

/// A listener with a deep accept queue: a reconnect storm of thousands of viewers must
/// not overflow the default backlog of 128 (dropped SYNs retry only after a second).
fn listen(addr: SocketAddr) -> std::io::Result<tokio::net::TcpListener> {
    let socket = match addr {
        SocketAddr::V4(_) => tokio::net::TcpSocket::new_v4()?,
        SocketAddr::V6(_) => tokio::net::TcpSocket::new_v6()?,
    };
    socket.set_reuseaddr(true)?;
    socket.bind(addr)?;
    socket.listen(4096)
}

/// The operator token and how the banner shows it: from `--operator-token` (or its env
/// var; not echoed), else generated once into the data dir (shown, so the operator can
/// copy it).
fn operator_token(args: &ServeArgs) -> anyhow::Result<(OperatorToken, String)> {
    if let Some(token) = &args.operator_token {
        let token = token.trim();
        anyhow::ensure!(
            token.len() >= MIN_OPERATOR_TOKEN_LEN,
            "--operator-token (LIVECART_OPERATOR_TOKEN) must have at least \
             {MIN_OPERATOR_TOKEN_LEN} characters"
        );
        return Ok((
            OperatorToken::new(token),
            "(set by --operator-token / LIVECART_OPERATOR_TOKEN)".into(),
        ));
    }
    let path = args.data_dir.join(OPERATOR_TOKEN_FILE);
    if let Ok(text) = std::fs::read_to_string(&path) {
        let token = text.trim();
        if token.len() >= MIN_OPERATOR_TOKEN_LEN {
            return Ok((OperatorToken::new(token), token.to_owned()));
        }
    }
    let token = format!(
        "op_{}",
        crate::random::random_hex(24).context("reading /dev/urandom")?
    );
    write_private(&path, token.as_bytes())?;
    Ok((OperatorToken::new(&token), token))
}

/// The file in the data dir that holds a generated operator token (`livecart admin`
/// reads it too).
pub const OPERATOR_TOKEN_FILE: &str = "operator-token";

/// A secret generated once and kept (mode 0600) in the data directory.
fn persistent_secret(path: &Path) -> anyhow::Result<Vec<u8>> {
    if let Ok(s) = std::fs::read(path)
        && s.len() >= 32
    {
        return Ok(s);
    }
    let secret = crate::random::random_hex(32)
        .context("reading /dev/urandom")?
        .into_bytes();
    write_private(path, &secret)?;
    Ok(secret)
}

fn write_private(path: &Path, bytes: &[u8]) -> anyhow::Result<()> {
    use std::os::unix::fs::OpenOptionsExt;
    let mut f = std::fs::OpenOptions::new()
        .write(true)
        .create(true)
        .truncate(true)
        .mode(0o600)
        .open(path)
        .with_context(|| format!("writing {}", path.display()))?;
    f.write_all(bytes)?;
    Ok(())
}

struct Demo {
    merchant_token: String,
}

/// The demo merchant, room, products, coupons and example plugins, created on first start.
fn seed_demo(
    store: &Arc<dyn Store>,
    engine: &PluginEngine,
    registry: &Registry,
    args: &ServeArgs,
) -> anyhow::Result<Demo> {
    let token_path = args.data_dir.join("demo-merchant-token");
    if let Ok(token) = std::fs::read_to_string(&token_path)
        && store.merchant_by_token(token.trim())?.is_some()
    {
        return Ok(Demo {
            merchant_token: token.trim().to_owned(),
        });
    }
    if store.room(DEMO_ROOM)?.is_some() {
        // Another node sharing this store (PostgreSQL) set the demo up: its merchant token
        // is in that node's data dir.
        return Ok(Demo {
            merchant_token: "(the demo was set up by another node sharing this store)".into(),
        });
    }
    let (merchant, token) = store.create_merchant("Demo Shop")?;
    write_private(&token_path, token.as_bytes())?;
    store.ensure_room(DEMO_ROOM, &merchant.id, "Demo live room")?;
    let catalog = args.plugin_sources.join("ai-host").join("catalog.json");
    if let Ok(text) = std::fs::read_to_string(&catalog) {
        let products: Vec<Product> = serde_json::from_str(&text)
            .with_context(|| format!("parsing {}", catalog.display()))?;
        for p in &products {
            store.upsert_product(&merchant.id, p)?;
        }
        // The live's product bag: every product of the demo catalog.
        let ids: Vec<String> = products.iter().map(|p| p.id.clone()).collect();
        store.set_bag(DEMO_ROOM, &ids)?;
    }
    for (id, title, cents) in [
        ("c-1k", "¥10 off — 1,000 likes", 1000),
        ("c-10k", "¥30 off — 10,000 likes", 3000),
        ("c-50k", "Free shipping — 50,000 likes", 800),
        // Never unlocked: only the lottery's winners get it (an issue, not a claim).
        ("c-lucky", "Lucky draw — ¥20 off", 2000),
    ] {
        let coupon = NewCoupon {
            id: Some(id.into()),
            room_id: Some(DEMO_ROOM.into()),
            title: title.into(),
            discount_cents: cents,
            quota: 1000,
            per_user_limit: 1,
            ..NewCoupon::default()
        };
        if store.coupon(id)?.is_none() {
            store.create_coupon(&merchant.id, &coupon)?;
        }
    }
    for name in ["like-coupon", "keyword-push", "ai-host", "lottery"] {
        let Ok(bytes) = std::fs::read(args.demo_plugins.join(format!("{name}.wasm"))) else {
            tracing::info!(
                name,
                "example plugin not built; skipping (run the demo script)"
            );
            continue;
        };
        let config = std::fs::read_to_string(args.plugin_sources.join(name).join("config.json"))
            .unwrap_or_else(|_| "{}".into());
        let seeded = registry
            .upload(engine, &merchant.id, &bytes)
            .and_then(|(v, _)| registry.enable(engine, DEMO_ROOM, &v.hash, &config));
        match seeded {
            Ok(b) => {
                tracing::info!(name, hash = %b.hash, "example plugin enabled in the demo room")
            }
            Err(e) => tracing::warn!(name, "could not enable example plugin: {e}"),
        }
    }
    Ok(Demo {
        merchant_token: token,
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use clap::Parser;

    fn serve_args(extra: &[&str]) -> ServeArgs {
        let argv = ["livecart", "serve"]
            .into_iter()
            .chain(extra.iter().copied());
        match crate::cli::Cli::try_parse_from(argv)
            .expect("parses")
            .command
        {
            crate::cli::Command::Serve(args) => args,
            _ => panic!("not serve"),
        }
    }

    #[test]
    fn a_generated_operator_token_is_kept_private_and_reused() {
        use std::os::unix::fs::PermissionsExt;
        let dir = tempfile::tempdir().expect("tempdir");
        let data = dir.path().to_str().expect("utf-8");
        let args = serve_args(&["--data-dir", data]);
        if args.operator_token.is_some() {
            return; // LIVECART_OPERATOR_TOKEN is set where the tests run.
        }
        let (key, shown) = operator_token(&args).expect("generated");
        assert!(shown.starts_with("op_") && shown.len() == 51, "{shown}");
        assert!(key.matches(&shown));
        let file = dir.path().join(OPERATOR_TOKEN_FILE);
        let mode = std::fs::metadata(&file).expect("file").permissions().mode();
        assert_eq!(mode & 0o777, 0o600);
        let (again, shown_again) = operator_token(&args).expect("reused");
        assert_eq!(shown_again, shown);
        assert!(again.matches(&shown));
    }

    #[test]
    fn a_configured_operator_token_is_not_echoed_and_must_be_long_enough() {
        let dir = tempfile::tempdir().expect("tempdir");
        let data = dir.path().to_str().expect("utf-8");
        let given = "a-long-enough-operator-token";
        let (key, shown) = operator_token(&serve_args(&[
            "--data-dir",
            data,
            "--operator-token",
            given,
        ]))
        .expect("configured");
        assert!(key.matches(given));
        assert!(!shown.contains(given), "{shown}");
        assert!(!dir.path().join(OPERATOR_TOKEN_FILE).exists());
        let e = operator_token(&serve_args(&[
            "--data-dir",
            data,
            "--operator-token",
            "short",
        ]))
        .expect_err("too short");
        assert!(e.to_string().contains("at least 16 characters"), "{e}");
    }
}
