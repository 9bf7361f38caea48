//! Fan-out latency: a host pushes product cards (Critical frames, never sampled) to N
//! viewers in one room; every viewer records receive time − send time for every card.
//!
//! Each push carries its index and the host's send time (ns on the bench clock) in the
//! card's `style`, which the server echoes. The latency is end to end: the host's
//! WebSocket send, the server's decode, product lookup and push record (SQLite), the
//! room fan-out, each connection's write, and the viewer's read in this process. A steady
//! phase (`rate` pushes/s for `secs`) is followed by a burst of pushes sent back to back,
//! which shows the peak delivery rate.

use super::client::{self, Ws, per_sec};
use super::server::{CpuSpan, ServerChild};
use super::{Clock, Histogram, Opts, Verdict, ms, verdict};
use anyhow::{Context, bail};
use clap::Args;
use futures_util::{SinkExt, StreamExt};
use serde_json::json;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;
use tokio::sync::watch;
use tokio_tungstenite::tungstenite::Message;

#[derive(Debug, Args)]
pub struct FanoutArgs {
    /// Viewer counts to measure, each against a fresh server.
    #[arg(long, value_delimiter = ',', default_value = "1000,10000")]
    pub viewers: Vec<usize>,
    /// Host pushes per second in the steady phase (the host's rate limit is 20/s).
    #[arg(long, default_value_t = 10)]
    pub rate: u32,
    /// Seconds of steady pushing.
    #[arg(long, default_value_t = 10)]
    pub secs: u64,
    /// Pushes sent back to back after the steady phase (0 skips the burst).
    #[arg(long, default_value_t = 20)]
    pub burst: u32,
}

impl Default for FanoutArgs {
    fn default() -> Self {
        FanoutArgs {
            viewers: vec![1000, 10_000],
            rate: 10,
            secs: 10,
            burst: 20,
        }
    }
}

const PRODUCT: &str = "bench-sku";
const STYLE: &str = r#""style":"bench:"#;

/// What every viewer records into.
struct Shared {
    clock: Clock,
    steady: Histogram,
    burst: Histogram,
    host_echo: Histogram,
    steady_count: usize,
    sent_ns: Vec<AtomicU64>,
    first_ns: Vec<AtomicU64>,
    last_ns: Vec<AtomicU64>,
    received: AtomicU64,
    resyncs: AtomicU64,
}

impl Shared {
    fn record(&self, i: usize, sent: u64, now: u64) {
        let lat = now.saturating_sub(sent);
        if i < self.steady_count {
            self.steady.record_ns(lat);
        } else {
            self.burst.record_ns(lat);
        }
        self.first_ns[i].fetch_min(now, Ordering::Relaxed);
        self.last_ns[i].fetch_max(now, Ordering::Relaxed);
        self.received.fetch_add(1, Ordering::Relaxed);
    }

    /// Deliveries of messages `range`: (last receipt, spread histogram, first-viewer
    /// histogram).
    fn per_message(&self, range: std::ops::Range<usize>) -> (u64, Histogram, Histogram) {
        let (spread, first) = (Histogram::new(), Histogram::new());
        let mut last = 0;
        for i in range {
            let (f, l) = (
                self.first_ns[i].load(Ordering::Relaxed),
                self.last_ns[i].load(Ordering::Relaxed),
            );
            if f == u64::MAX {
                continue;
            }
            spread.record_ns(l.saturating_sub(f));
            first.record_ns(f.saturating_sub(self.sent_ns[i].load(Ordering::Relaxed)));
            last = last.max(l);
        }
        (last, spread, first)
    }
}

/// `(index, send ns)` from a product frame this bench pushed.
fn parse_push(text: &str) -> Option<(usize, u64)> {
    if !text.starts_with(r#"{"type":"product""#) {
        return None;
    }
    let rest = &text[text.find(STYLE)? + STYLE.len()..];
    let (i, ns) = rest[..rest.find('"')?].split_once(':')?;
    Some((i.parse().ok()?, ns.parse().ok()?))
}

async fn viewer(mut ws: Ws, sh: Arc<Shared>, mut stop: watch::Receiver<bool>) -> bool {
    let total = sh.sent_ns.len();
    loop {
        tokio::select! {
            biased;
            _ = stop.changed() => return false,
            m = ws.next() => match m {
                Some(Ok(Message::Text(t))) => {
                    let t = t.as_str();
                    if let Some((i, sent)) = parse_push(t) {
                        if i < total {
                            sh.record(i, sent, sh.clock.ns());
                        }
                    } else if t.starts_with(r#"{"type":"snapshot""#) {
                        sh.resyncs.fetch_add(1, Ordering::Relaxed);
                    }
                }
                Some(Ok(Message::Close(_))) | Some(Err(_)) | None => return true,
                Some(Ok(_)) => {}
            }
        }
    }
}

/// The host's own copy of each card (server processing without the fan-out) and any
/// error frame it gets.
async fn host_reader(
    mut stream: futures_util::stream::SplitStream<Ws>,
    sh: Arc<Shared>,
    mut stop: watch::Receiver<bool>,
) -> Option<String> {
    loop {
        tokio::select! {
            biased;
            _ = stop.changed() => return None,
            m = stream.next() => match m {
                Some(Ok(Message::Text(t))) => {
                    let t = t.as_str();
                    if let Some((_, sent)) = parse_push(t) {
                        sh.host_echo.record_ns(sh.clock.ns().saturating_sub(sent));
                    } else if t.starts_with(r#"{"type":"error""#) {
                        return Some(t.chars().take(200).collect());
                    }
                }
                Some(Ok(Message::Close(f))) => return Some(format!("host closed: {f:?}")),
                Some(Err(e)) => return Some(format!("host connection: {e}")),
                None => return Some("host connection ended".into()),
                Some(Ok(_)) => {}
            }
        }
    }
}

/// Wait until `received` reaches `want` or `limit` passes.
async fn wait_for(received: &AtomicU64, want: u64, limit: Duration) {
    let deadline = tokio::time::Instant::now() + limit;
    while received.load(Ordering::Relaxed) < want && tokio::time::Instant::now() < deadline {
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}

pub async fn run(opts: &Opts, args: &FanoutArgs) -> anyhow::Result<Verdict> {
    if !(1..=20).contains(&args.rate) || !(1..=120).contains(&args.secs) || args.burst > 35 {
        bail!("--rate must be 1 to 20, --secs 1 to 120 and --burst at most 35");
    }
    println!();
    println!(
        "Fan-out: host product pushes to N viewers in one room ({}/s for {} s, then {} back to back)",
        args.rate, args.secs, args.burst
    );
    println!();
    println!(
        "| viewers | pushes | delivered | p50 | p99 | max | first viewer p50 | spread p99 | frames/s | burst frames/s | burst p99 | joins/s | CPU server / bench / softirq / other (cores) | target |"
    );
    println!("|---|---|---|---|---|---|---|---|---|---|---|---|---|---|");
    let mut ok = true;
    for &n in &args.viewers {
        if !(1..=50_000).contains(&n) {
            bail!("viewer counts must be 1 to 50,000");
        }
        opts.check_fds(n + 1)?;
        ok &= one(opts, args, n).await?;
    }
    Ok(ok)
}

async fn one(opts: &Opts, args: &FanoutArgs, n: usize) -> anyhow::Result<Verdict> {
    let server = ServerChild::start(opts.demo_plugins.as_deref(), opts.quiet_wait).await?;
    server
        .api(
            "POST",
            "/api/products",
            Some(json!({
                "id": PRODUCT, "title": "Bench tee", "price_cents": 9900, "currency": "CNY",
                "image_url": "https://example.com/tee.jpg",
                "buy_url": "https://example.com/buy/tee", "stock": 100,
                "description": "A heavyweight crew-neck tee in soft combed cotton."
            })),
        )
        .await?;
    let (host, welcome) = client::join(server.addr, Some(&server.host_token))
        .await
        .context("host join")?;
    if welcome["user"]["role"] != "host" {
        bail!("the host token did not give the host role: {welcome}");
    }
    let (viewers, join_time) = client::join_many(server.addr, n, opts.concurrency).await?;

    let steady = (args.rate as u64 * args.secs) as usize;
    let total = steady + args.burst as usize;
    let atomics = |v: u64| (0..total).map(|_| AtomicU64::new(v)).collect::<Vec<_>>();
    let sh = Arc::new(Shared {
        clock: Clock::new(),
        steady: Histogram::new(),
        burst: Histogram::new(),
        host_echo: Histogram::new(),
        steady_count: steady,
        sent_ns: atomics(0),
        first_ns: atomics(u64::MAX),
        last_ns: atomics(0),
        received: AtomicU64::new(0),
        resyncs: AtomicU64::new(0),
    });
    let (stop_tx, stop_rx) = watch::channel(false);
    let tasks: Vec<_> = viewers
        .into_iter()
        .map(|ws| tokio::spawn(viewer(ws, sh.clone(), stop_rx.clone())))
        .collect();
    let (mut sink, stream) = host.split();
    let host_task = tokio::spawn(host_reader(stream, sh.clone(), stop_rx.clone()));
    // Let join-time online counts settle.
    tokio::time::sleep(Duration::from_secs(1)).await;
    super::server::wait_quiet(opts.quiet_wait).await;

    let push = |i: usize, ns: u64| {
        Message::Text(
            json!({"type": "push", "product_id": PRODUCT, "style": format!("bench:{i}:{ns}")})
                .to_string()
                .into(),
        )
    };
    let cpu = CpuSpan::start(server.pid());
    let mut tick = tokio::time::interval(Duration::from_secs_f64(1.0 / f64::from(args.rate)));
    tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    for i in 0..steady {
        tick.tick().await;
        let ns = sh.clock.ns();
        sh.sent_ns[i].store(ns, Ordering::Relaxed);
        sink.send(push(i, ns)).await.context("host push")?;
    }
    wait_for(&sh.received, (n * steady) as u64, Duration::from_secs(10)).await;
    let cpu = cpu.finish();
    let steady_received = sh.received.load(Ordering::Relaxed);
    for i in steady..total {
        let ns = sh.clock.ns();
        sh.sent_ns[i].store(ns, Ordering::Relaxed);
        sink.send(push(i, ns)).await.context("host push")?;
    }
    wait_for(&sh.received, (n * total) as u64, Duration::from_secs(15)).await;

    let _ = stop_tx.send(true);
    let mut closed = 0;
    for t in tasks {
        if let Ok(Ok(true)) = tokio::time::timeout(Duration::from_secs(10), t).await {
            closed += 1;
        }
    }
    let host_error = tokio::time::timeout(Duration::from_secs(5), host_task)
        .await
        .ok()
        .and_then(Result::ok)
        .flatten();
    drop(server);

    let received = sh.received.load(Ordering::Relaxed);
    let expected = (n * total) as u64;
    let (last_steady, spread, first) = sh.per_message(0..steady);
    let steady_rate = per_sec(
        steady_received,
        last_steady.saturating_sub(sh.sent_ns[0].load(Ordering::Relaxed)),
    );
    let (burst_rate, burst_p99) = if total > steady {
        let (last_burst, _, _) = sh.per_message(steady..total);
        let start = sh.sent_ns[steady].load(Ordering::Relaxed);
        (
            format!(
                "{:.0}",
                per_sec(received - steady_received, last_burst.saturating_sub(start))
            ),
            ms(sh.burst.quantile_us(0.99)),
        )
    } else {
        ("—".into(), "—".into())
    };
    let p99 = sh.steady.quantile_us(0.99);
    let target = match n {
        1000 => format!("p99 ≤ 5 ms: {}", verdict(p99 <= 5_000)),
        10_000 => format!("p99 ≤ 30 ms: {}", verdict(p99 <= 30_000)),
        _ => "—".into(),
    };
    println!(
        "| {n} | {steady} + {} | {received} / {expected} | {} | {} | {} | {} | {} | {steady_rate:.0} | {burst_rate} | {burst_p99} | {:.0} | {cpu} | {target} |",
        total - steady,
        ms(sh.steady.quantile_us(0.50)),
        ms(p99),
        ms(sh.steady.max_us()),
        ms(first.quantile_us(0.50)),
        ms(spread.quantile_us(0.99)),
        n as f64 / join_time.as_secs_f64().max(1e-3),
    );
    let complete = received == expected && host_error.is_none();
    if !complete {
        println!(
            "\nnote ({n} viewers): {received} of {expected} cards delivered, {closed} viewers closed, {} resyncs, host echo p50 {}; host error: {}\n",
            sh.resyncs.load(Ordering::Relaxed),
            ms(sh.host_echo.quantile_us(0.5)),
            host_error.as_deref().unwrap_or("none"),
        );
    }
    Ok(complete)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn pushes_are_recognised_by_their_style() {
        let card = r#"{"type":"product","o":3,"card":{"push_id":"push_1","product":{"id":"bench-sku"},"style":"bench:7:123456","duration_ms":8000}}"#;
        assert_eq!(parse_push(card), Some((7, 123_456)));
        assert_eq!(parse_push(r#"{"type":"product","style":"bench:x"}"#), None);
        assert_eq!(parse_push(r#"{"type":"online","count":3}"#), None);
    }
}
