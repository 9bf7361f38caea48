//! Server memory per idle connection: the child's VmRSS before and after N guest viewers
//! have joined the demo room and gone quiet, and again after one product card has been
//! delivered to all of them (the first write can grow per-connection buffers).
//!
//! The baseline is taken with the room already open (a host connection joined), so the
//! difference is what each further viewer costs: its socket task, WebSocket buffers,
//! session, outbox and room subscription. Kernel socket buffers are not in RSS.

use super::client::{self, drain};
use super::server::ServerChild;
use super::{Opts, Verdict, verdict};
use anyhow::Context;
use clap::Args;
use futures_util::SinkExt;
use serde_json::json;
use std::time::Duration;
use tokio::sync::watch;
use tokio_tungstenite::tungstenite::Message;

#[derive(Debug, Args)]
pub struct MemoryArgs {
    /// Idle connections to open.
    #[arg(long, default_value_t = 10_000)]
    pub conns: usize,
    /// Seconds the server is left to settle before each reading.
    #[arg(long, default_value_t = 3)]
    pub settle: u64,
}

impl Default for MemoryArgs {
    fn default() -> Self {
        MemoryArgs {
            conns: 10_000,
            settle: 3,
        }
    }
}

/// Target, KiB per idle connection.
const TARGET_KIB: f64 = 6.0;

pub async fn run(opts: &Opts, args: &MemoryArgs) -> anyhow::Result<Verdict> {
    let n = args.conns;
    if !(1..=50_000).contains(&n) || args.settle > 60 {
        anyhow::bail!("--conns must be 1 to 50,000 and --settle at most 60");
    }
    opts.check_fds(n + 1)?;
    let settle = Duration::from_secs(args.settle);
    let server = ServerChild::start(opts.demo_plugins.as_deref(), opts.quiet_wait).await?;
    server
        .api(
            "POST",
            "/api/products",
            Some(
                json!({"id": "bench-sku", "title": "Bench tee", "price_cents": 9900,
                        "currency": "CNY", "buy_url": "https://example.com/buy/tee"}),
            ),
        )
        .await?;
    let (host, _) = client::join(server.addr, Some(&server.host_token))
        .await
        .context("host join")?;
    let (stop_tx, stop_rx) = watch::channel(false);
    let (mut host_sink, host_stream) = futures_util::StreamExt::split(host);
    let host_drain = tokio::spawn(drain_stream(host_stream, stop_rx.clone()));
    tokio::time::sleep(settle).await;
    let before = server.rss_kib()?;

    let (viewers, _) = client::join_many(server.addr, n, opts.concurrency).await?;
    let tasks: Vec<_> = viewers
        .into_iter()
        .map(|ws| tokio::spawn(drain(ws, stop_rx.clone())))
        .collect();
    tokio::time::sleep(settle).await;
    let joined = server.rss_kib()?;

    host_sink
        .send(Message::Text(
            json!({"type": "push", "product_id": "bench-sku"})
                .to_string()
                .into(),
        ))
        .await?;
    tokio::time::sleep(settle).await;
    let after_push = server.rss_kib()?;

    let _ = stop_tx.send(true);
    let mut closed = 0;
    let mut frames = 0;
    for t in tasks {
        if let Ok(Ok(d)) = tokio::time::timeout(Duration::from_secs(10), t).await {
            closed += u64::from(d.closed);
            frames += d.frames;
        }
    }
    let _ = tokio::time::timeout(Duration::from_secs(5), host_drain).await;
    drop(server);

    let per = |rss: u64| (rss.saturating_sub(before)) as f64 / n as f64;
    let mib = |kib: u64| format!("{:.1} MiB", kib as f64 / 1024.0);
    println!();
    println!("Idle memory per connection (server VmRSS, {n} joined guest viewers)");
    println!();
    println!(
        "| connections | RSS before | RSS joined + idle | KiB / conn | RSS after one card to all | KiB / conn | target |"
    );
    println!("|---|---|---|---|---|---|---|");
    let worst = per(joined).max(per(after_push));
    println!(
        "| {n} | {} | {} | {:.2} | {} | {:.2} | ≤ {TARGET_KIB} KiB: {} |",
        mib(before),
        mib(joined),
        per(joined),
        mib(after_push),
        per(after_push),
        verdict(worst <= TARGET_KIB),
    );
    if closed > 0 {
        println!("\nnote: {closed} of {n} idle viewers were closed by the server");
    }
    // Frames each viewer received while idle (online counts and the card): a sanity check
    // that the connections were live.
    if frames < n as u64 {
        println!("\nnote: only {frames} frames reached {n} idle viewers");
    }
    Ok(closed == 0)
}

async fn drain_stream(
    mut stream: futures_util::stream::SplitStream<client::Ws>,
    mut stop: watch::Receiver<bool>,
) {
    use futures_util::StreamExt;
    loop {
        tokio::select! {
            biased;
            _ = stop.changed() => return,
            m = stream.next() => if !matches!(m, Some(Ok(_))) { return },
        }
    }
}
