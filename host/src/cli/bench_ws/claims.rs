//! Concurrent coupon claims: K joined viewers claim one coupon of quota Q (K > Q) at the
//! same moment. Reports `claim_result` latency (send to result, per claimer) and checks
//! that exactly Q claims succeeded, both in the answers and in the stored `claimed` count.

use super::client::{self, Ws, per_sec};
use super::server::{CpuSpan, ROOM, ServerChild};
use super::{Clock, Histogram, Opts, Verdict, ms, verdict};
use anyhow::bail;
use clap::Args;
use futures_util::{SinkExt, StreamExt};
use serde_json::{Value, json};
use std::collections::BTreeMap;
use std::sync::Arc;
use std::time::Duration;
use tokio::sync::watch;
use tokio_tungstenite::tungstenite::Message;

#[derive(Debug, Args)]
pub struct ClaimsArgs {
    /// Connections claiming at once.
    #[arg(long, default_value_t = 2000)]
    pub conns: usize,
    /// The coupon's quota.
    #[arg(long, default_value_t = 500)]
    pub quota: u32,
}

impl Default for ClaimsArgs {
    fn default() -> Self {
        ClaimsArgs {
            conns: 2000,
            quota: 500,
        }
    }
}

const COUPON: &str = "bench-claim";
/// Target p99, µs.
const TARGET_P99_US: u64 = 20_000;

/// One claimer's answer.
enum Outcome {
    Ok,
    Refused(String),
    /// No answer: why.
    Lost(String),
}

async fn claimer(
    mut ws: Ws,
    i: usize,
    clock: Clock,
    hist: Arc<Histogram>,
    mut start: watch::Receiver<bool>,
) -> (Outcome, u64) {
    if start.wait_for(|s| *s).await.is_err() {
        return (Outcome::Lost("not started".into()), 0);
    }
    let sent = clock.ns();
    let claim = json!({"type": "claim", "coupon_id": COUPON, "key": format!("bench-claim-{i}")});
    if let Err(e) = ws.send(Message::Text(claim.to_string().into())).await {
        return (Outcome::Lost(format!("send: {e}")), sent);
    }
    let deadline = tokio::time::Instant::now() + Duration::from_secs(60);
    loop {
        let msg = match tokio::time::timeout_at(deadline, ws.next()).await {
            Err(_) => return (Outcome::Lost("no claim_result in 60 s".into()), sent),
            Ok(m) => m,
        };
        let text = match msg {
            Some(Ok(Message::Text(t))) => t,
            Some(Ok(Message::Close(f))) => return (Outcome::Lost(format!("closed: {f:?}")), sent),
            Some(Err(e)) => return (Outcome::Lost(e.to_string()), sent),
            None => return (Outcome::Lost("connection ended".into()), sent),
            Some(Ok(_)) => continue,
        };
        let t = text.as_str();
        if !t.starts_with(r#"{"type":"claim_result""#) && !t.starts_with(r#"{"type":"error""#) {
            continue;
        }
        let done = clock.ns();
        hist.record_ns(done.saturating_sub(sent));
        let v: Value = serde_json::from_str(t).unwrap_or(Value::Null);
        let outcome = if v["ok"] == true {
            Outcome::Ok
        } else if v["type"] == "error" {
            Outcome::Refused(format!("error frame: {}", v["code"]))
        } else {
            // Group by kind: drop the coupon id from the message.
            let e = v["error"].as_str().unwrap_or("no error text");
            Outcome::Refused(e.replace(COUPON, "<coupon>"))
        };
        return (outcome, done);
    }
}

pub async fn run(opts: &Opts, args: &ClaimsArgs) -> anyhow::Result<Verdict> {
    let k = args.conns;
    if !(1..=50_000).contains(&k) || args.quota == 0 {
        bail!("--conns must be 1 to 50,000 and --quota at least 1");
    }
    opts.check_fds(k)?;
    let server = ServerChild::start(opts.demo_plugins.as_deref(), opts.quiet_wait).await?;
    server
        .api(
            "POST",
            "/api/coupons",
            Some(json!({
                "id": COUPON, "room_id": ROOM, "title": "Bench coupon",
                "discount_cents": 100, "quota": args.quota, "unlocked": true
            })),
        )
        .await?;
    let (claimers, _) = client::join_many(server.addr, k, opts.concurrency).await?;
    let clock = Clock::new();
    let hist = Arc::new(Histogram::new());
    let (start_tx, start_rx) = watch::channel(false);
    let tasks: Vec<_> = claimers
        .into_iter()
        .enumerate()
        .map(|(i, ws)| tokio::spawn(claimer(ws, i, clock, hist.clone(), start_rx.clone())))
        .collect();
    tokio::time::sleep(Duration::from_secs(1)).await;
    super::server::wait_quiet(opts.quiet_wait).await;

    let cpu = CpuSpan::start(server.pid());
    let t_start = clock.ns();
    let _ = start_tx.send(true);
    let (mut ok, mut last) = (0u64, t_start);
    let mut refused: BTreeMap<String, u64> = BTreeMap::new();
    let mut lost: BTreeMap<String, u64> = BTreeMap::new();
    for t in tasks {
        match tokio::time::timeout(Duration::from_secs(90), t).await {
            Ok(Ok((outcome, done))) => {
                last = last.max(done);
                match outcome {
                    Outcome::Ok => ok += 1,
                    Outcome::Refused(e) => *refused.entry(e).or_default() += 1,
                    Outcome::Lost(e) => *lost.entry(e).or_default() += 1,
                }
            }
            Ok(Err(e)) => *lost.entry(format!("task: {e}")).or_default() += 1,
            Err(_) => *lost.entry("task timed out".into()).or_default() += 1,
        }
    }
    let cpu = cpu.finish();
    let coupons = server.api("GET", "/api/coupons", None).await?;
    let stored = coupons
        .as_array()
        .and_then(|a| a.iter().find(|c| c["id"] == COUPON))
        .and_then(|c| c["claimed"].as_u64());
    drop(server);

    let expected = u64::from(args.quota).min(k as u64);
    let exact = ok == expected && stored == Some(expected);
    let p99 = hist.quantile_us(0.99);
    let refused_n: u64 = refused.values().sum();
    let lost_n: u64 = lost.values().sum();
    println!();
    println!(
        "Concurrent coupon claims: {k} viewers claim a coupon of quota {} at once",
        args.quota
    );
    println!();
    println!(
        "| claimers | quota | ok | refused | no answer | p50 | p99 | max | answers/s | stored `claimed` | CPU server / bench / softirq / other (cores) | target |"
    );
    println!("|---|---|---|---|---|---|---|---|---|---|---|---|");
    println!(
        "| {k} | {} | {ok} | {refused_n} | {lost_n} | {} | {} | {} | {:.0} | {} | {cpu} | p99 ≤ 20 ms: {}; exactly {expected} ok: {} |",
        args.quota,
        ms(hist.quantile_us(0.50)),
        ms(p99),
        ms(hist.max_us()),
        per_sec(hist.count(), last.saturating_sub(t_start)),
        stored.map_or("?".into(), |s| s.to_string()),
        verdict(p99 <= TARGET_P99_US),
        if exact { "yes" } else { "NO" },
    );
    println!();
    for (e, n) in refused.iter().chain(lost.iter()) {
        println!("- {n} × {e}");
    }
    if ok > expected {
        println!("\nOVERSOLD: {ok} claims succeeded for a quota of {expected}");
    }
    Ok(exact && lost_n == 0)
}
