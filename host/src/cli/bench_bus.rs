//! `livecart bench bus`: the room bus hop, publish → receive, in-process against NATS
//! JetStream in the same run.
//!
//! Run in release: `cargo run --release -p livecart -- bench bus` (starts its own
//! `nats-server -js` on a free port with a temp store, or uses `--nats URL`). One node
//! publishes comment-sized messages into a room at a steady rate; every node (each with
//! its own connection, as separate processes would have) receives them; latency is from
//! `publish` to the subscriber's callback. Prints a Markdown table for BENCHMARKS.md.

use anyhow::Context;
use bytes::Bytes;
use livecart_bus::{Backplane, Event, InProcess};
use livecart_bus_nats::{NatsBackplane, NatsConfig};
use std::process::ExitCode;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

#[derive(Debug, clap::Args)]
pub struct BusArgs {
    /// A NATS server with JetStream; default: start `nats-server -js` for the run.
    #[arg(long)]
    pub nats: Option<String>,
    /// Nodes on the NATS bus (each receives every message).
    #[arg(long, default_value_t = 3)]
    pub nodes: usize,
    /// Messages per bus.
    #[arg(long, default_value_t = 5_000)]
    pub messages: usize,
    /// Messages per second.
    #[arg(long, default_value_t = 1_000)]
    pub rate: u32,
}

/// A `nats-server` child and its store dir, killed and removed on drop.
struct Server(std::process::Child, std::path::PathBuf);

impl Drop for Server {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
        let _ = std::fs::remove_dir_all(&self.1);
    }
}

fn start_nats() -> anyhow::Result<(Server, String)> {
    let port = std::net::TcpListener::bind("127.0.0.1:0")?
        .local_addr()?
        .port();
    let dir =
        std::env::temp_dir().join(format!("livecart-bench-nats-{}-{port}", std::process::id()));
    let child = std::process::Command::new("nats-server")
        .args(["-js", "-a", "127.0.0.1", "-p", &port.to_string(), "-sd"])
        .arg(&dir)
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::null())
        .spawn()
        .context("starting nats-server (apt-get install nats-server, or pass --nats URL)")?;
    let server = Server(child, dir);
    let deadline = Instant::now() + Duration::from_secs(10);
    while std::net::TcpStream::connect(("127.0.0.1", port)).is_err() {
        anyhow::ensure!(Instant::now() < deadline, "nats-server did not start");
        std::thread::sleep(Duration::from_millis(50));
    }
    Ok((server, format!("nats://127.0.0.1:{port}")))
}

/// Receive latencies, all nodes together.
type Samples = Arc<Mutex<Vec<Duration>>>;

/// Publish `n` messages at `rate` from `nodes[0]`; every node's subscription records the
/// latency of each. Returns the sorted samples and how many were expected.
async fn run_bus(
    nodes: &[Arc<dyn Backplane>],
    room: &str,
    n: usize,
    rate: u32,
) -> (Vec<Duration>, usize) {
    let base = Instant::now();
    let samples: Samples = Arc::default();
    let ready = Arc::new(std::sync::atomic::AtomicUsize::new(0));
    let subs: Vec<_> = nodes
        .iter()
        .map(|node| {
            let (samples, ready) = (samples.clone(), ready.clone());
            node.subscribe(
                room,
                Arc::new(move |event| match event {
                    Event::Message(m) => {
                        let Some(sent) = m.payload.get(..8) else {
                            return;
                        };
                        let mut nanos = [0u8; 8];
                        nanos.copy_from_slice(sent);
                        let sent = Duration::from_nanos(u64::from_le_bytes(nanos));
                        let lat = base.elapsed().saturating_sub(sent);
                        samples.lock().unwrap_or_else(|p| p.into_inner()).push(lat);
                    }
                    Event::Ready { .. } => {
                        ready.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
                    }
                    Event::Counters(_) => {}
                }),
            )
        })
        .collect();
    let deadline = Instant::now() + Duration::from_secs(10);
    while ready.load(std::sync::atomic::Ordering::Relaxed) < nodes.len()
        && Instant::now() < deadline
    {
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    // A comment as the room bus carries it (about 330 bytes of JSON).
    let body = format!(
        r#"{{"msg":{{"type":"comment","o":0,"comment":{{"id":"c_18a2f3","user":{{"id":"g_18a2e1","name":"Guest e1","role":"viewer"}},"text":"{}","ts":1763751600000}}}},"class":"chat","author":"g_18a2e1","effect":{{"comment":{{}}}}}}"#,
        "这个颜色还有M码吗? is there an M in this colour?".repeat(2)
    );
    let mut tick = tokio::time::interval(Duration::from_secs(1) / rate.max(1));
    for _ in 0..n {
        tick.tick().await;
        let mut payload = Vec::with_capacity(8 + body.len());
        payload.extend_from_slice(&(base.elapsed().as_nanos() as u64).to_le_bytes());
        payload.extend_from_slice(body.as_bytes());
        nodes[0].publish(room, Bytes::from(payload));
    }
    let expected = n * nodes.len();
    let deadline = Instant::now() + Duration::from_secs(10);
    while samples.lock().unwrap_or_else(|p| p.into_inner()).len() < expected
        && Instant::now() < deadline
    {
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    drop(subs);
    let mut got = std::mem::take(&mut *samples.lock().unwrap_or_else(|p| p.into_inner()));
    got.sort_unstable();
    (got, expected)
}

fn pct(s: &[Duration], q: f64) -> Duration {
    if s.is_empty() {
        return Duration::ZERO;
    }
    s[((s.len() as f64 * q) as usize).min(s.len() - 1)]
}

fn ms(d: Duration) -> String {
    format!("{:.3} ms", d.as_secs_f64() * 1000.0)
}

pub fn run(args: BusArgs) -> anyhow::Result<ExitCode> {
    let runtime = tokio::runtime::Runtime::new().context("starting tokio")?;
    runtime.block_on(async move {
        let (_server, url) = match &args.nats {
            Some(url) => (None, url.clone()),
            None => {
                let (server, url) = start_nats()?;
                (Some(server), url)
            }
        };
        let local: Vec<Arc<dyn Backplane>> = vec![InProcess::new()];
        let mut nats: Vec<Arc<dyn Backplane>> = Vec::new();
        for _ in 0..args.nodes.max(1) {
            let node = NatsBackplane::connect(&NatsConfig::new(&url))
                .await
                .context("connecting to NATS")?;
            nats.push(node);
        }
        let room = format!("bench-{:x}", livecart_bus::now_ms());
        let (a, a_n) = run_bus(&local, &room, args.messages, args.rate).await;
        let (b, b_n) = run_bus(&nats, &room, args.messages, args.rate).await;
        println!(
            "| bus | nodes | messages | rate | received | p50 | p99 | max | p50 over in-process |"
        );
        println!("|---|---|---|---|---|---|---|---|---|");
        for (name, nodes, s, expected) in [
            ("in-process", 1, &a, a_n),
            ("NATS JetStream", nats.len(), &b, b_n),
        ] {
            println!(
                "| {name} | {nodes} | {} | {}/s | {} / {expected} | {} | {} | {} | {} |",
                args.messages,
                args.rate,
                s.len(),
                ms(pct(s, 0.5)),
                ms(pct(s, 0.99)),
                ms(s.last().copied().unwrap_or_default()),
                ms(pct(s, 0.5).saturating_sub(pct(&a, 0.5))),
            );
        }
        Ok(ExitCode::SUCCESS)
    })
}
