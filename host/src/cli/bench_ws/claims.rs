//! Concurrent coupon claims: K joined viewers claim one coupon of quota Q (K > Q) at the
//! same moment. Reports `claim_result` latency (send to result, per claimer) and checks
//! that exactly Q claims succeeded, both in the answers and in the stored `claimed` count.
//!
//! Before the claims, the same K connections send a `ping` at the same moment: the
//! transport's floor for K simultaneous requests on this machine (read, decode, reply,
//! write, for every connection), against which the claims' own cost can be read.

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
    /// Connections claiming at once, one row each against a fresh server.
    #[arg(long, value_delimiter = ',', default_value = "200,1000,2000")]
    pub conns: Vec<usize>,
    /// The coupon's quota; a quarter of the claimers when absent.
    #[arg(long)]
    pub quota: Option<u32>,
}

impl Default for ClaimsArgs {
    fn default() -> Self {
        ClaimsArgs {
            conns: vec![200, 1000, 2000],
            quota: None,
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

/// One storm: what each connection sends, and the start of the answer it waits for.
#[derive(Clone, Copy)]
enum Storm {
    Ping,
    Claim,
}

impl Storm {
    fn request(self, i: usize) -> String {
        match self {
            Storm::Ping => json!({"type": "ping", "client_ms": 0}),
            Storm::Claim => {
                json!({"type": "claim", "coupon_id": COUPON, "key": format!("bench-claim-{i}")})
            }
        }
        .to_string()
    }

    fn answer(self) -> &'static str {
        match self {
            Storm::Ping => r#"{"type":"pong""#,
            Storm::Claim => r#"{"type":"claim_result""#,
        }
    }
}

/// Send the storm's request at the start signal and wait for its answer; the connection
/// comes back for the next storm.
async fn claimer(
    mut ws: Ws,
    i: usize,
    storm: Storm,
    clock: Clock,
    hist: Arc<Histogram>,
    mut start: watch::Receiver<bool>,
) -> (Outcome, u64, Ws) {
    if start.wait_for(|s| *s).await.is_err() {
        return (Outcome::Lost("not started".into()), 0, ws);
    }
    let sent = clock.ns();
    if let Err(e) = ws.send(Message::Text(storm.request(i).into())).await {
        return (Outcome::Lost(format!("send: {e}")), sent, ws);
    }
    let deadline = tokio::time::Instant::now() + Duration::from_secs(60);
    loop {
        let msg = match tokio::time::timeout_at(deadline, ws.next()).await {
            Err(_) => return (Outcome::Lost("no answer in 60 s".into()), sent, ws),
            Ok(m) => m,
        };
        let text = match msg {
            Some(Ok(Message::Text(t))) => t,
            Some(Ok(Message::Close(f))) => {
                return (Outcome::Lost(format!("closed: {f:?}")), sent, ws);
            }
            Some(Err(e)) => return (Outcome::Lost(e.to_string()), sent, ws),
            None => return (Outcome::Lost("connection ended".into()), sent, ws),
            Some(Ok(_)) => continue,
        };
        let t = text.as_str();
        if !t.starts_with(storm.answer()) && !t.starts_with(r#"{"type":"error""#) {
            continue;
        }
        let done = clock.ns();
        hist.record_ns(done.saturating_sub(sent));
        let v: Value = serde_json::from_str(t).unwrap_or(Value::Null);
        let outcome = if v["type"] == "error" {
            Outcome::Refused(format!("error frame: {}", v["code"]))
        } else if v["ok"] == true || v["type"] == "pong" {
            Outcome::Ok
        } else {
            // Group by kind: drop the coupon id from the message.
            let e = v["error"].as_str().unwrap_or("no error text");
            Outcome::Refused(e.replace(COUPON, "<coupon>"))
        };
        return (outcome, done, ws);
    }
}

/// What one storm measured.
struct StormResult {
    hist: Arc<Histogram>,
    ok: u64,
    refused: BTreeMap<String, u64>,
    lost: BTreeMap<String, u64>,
    /// From the start signal to the last answer, ns.
    span_ns: u64,
    cpu: String,
    /// The connections that are still there, for the next storm.
    conns: Vec<Ws>,
}

async fn storm(conns: Vec<Ws>, kind: Storm, server: &ServerChild, opts: &Opts) -> StormResult {
    let clock = Clock::new();
    let hist = Arc::new(Histogram::new());
    let (start_tx, start_rx) = watch::channel(false);
    let tasks: Vec<_> = conns
        .into_iter()
        .enumerate()
        .map(|(i, ws)| tokio::spawn(claimer(ws, i, kind, clock, hist.clone(), start_rx.clone())))
        .collect();
    tokio::time::sleep(Duration::from_secs(1)).await;
    super::server::wait_quiet(opts.quiet_wait).await;

    let cpu = CpuSpan::start(server.pid());
    let t_start = clock.ns();
    let _ = start_tx.send(true);
    let mut result = StormResult {
        hist,
        ok: 0,
        refused: BTreeMap::new(),
        lost: BTreeMap::new(),
        span_ns: 0,
        cpu: String::new(),
        conns: Vec::new(),
    };
    let mut last = t_start;
    for t in tasks {
        match tokio::time::timeout(Duration::from_secs(90), t).await {
            Ok(Ok((outcome, done, ws))) => {
                last = last.max(done);
                match outcome {
                    Outcome::Ok => result.ok += 1,
                    Outcome::Refused(e) => *result.refused.entry(e).or_default() += 1,
                    Outcome::Lost(e) => *result.lost.entry(e).or_default() += 1,
                }
                result.conns.push(ws);
            }
            Ok(Err(e)) => *result.lost.entry(format!("task: {e}")).or_default() += 1,
            Err(_) => *result.lost.entry("task timed out".into()).or_default() += 1,
        }
    }
    result.cpu = cpu.finish();
    result.span_ns = last.saturating_sub(t_start);
    result
}

pub async fn run(opts: &Opts, args: &ClaimsArgs) -> anyhow::Result<Verdict> {
    if args.conns.is_empty() || args.conns.iter().any(|k| !(1..=50_000).contains(k)) {
        bail!("--conns must be 1 to 50,000 each");
    }
    if args.quota == Some(0) {
        bail!("--quota must be at least 1");
    }
    let mut rows = Vec::new();
    let mut notes = Vec::new();
    let mut all_exact = true;
    for &k in &args.conns {
        let quota = args.quota.unwrap_or((k / 4).max(1) as u32);
        let (row, note, exact) = one(opts, k, quota).await?;
        rows.push(row);
        notes.extend(note);
        all_exact &= exact;
    }
    println!();
    println!(
        "Concurrent coupon claims: K viewers claim a coupon of quota K/4 at the same moment; before that the same K send a ping at the same moment (the transport's floor)"
    );
    println!();
    println!(
        "| claimers | quota | ok | refused | no answer | ping storm p50 / p99 | claims p50 | p99 | max | answers/s | stored `claimed` | CPU server / bench / softirq / other (cores) | target |"
    );
    println!("|---|---|---|---|---|---|---|---|---|---|---|---|---|");
    for row in rows {
        println!("{row}");
    }
    println!();
    for note in notes {
        println!("- {note}");
    }
    Ok(all_exact)
}

/// One size: a fresh server, K joined viewers, the ping storm, then the claim storm.
async fn one(opts: &Opts, k: usize, quota: u32) -> anyhow::Result<(String, Vec<String>, bool)> {
    opts.check_fds(k)?;
    let server = ServerChild::start(opts.demo_plugins.as_deref(), opts.quiet_wait).await?;
    server
        .api(
            "POST",
            "/api/coupons",
            Some(json!({
                "id": COUPON, "room_id": ROOM, "title": "Bench coupon",
                "discount_cents": 100, "quota": quota, "unlocked": true
            })),
        )
        .await?;
    let (conns, _) = client::join_many(server.addr, k, opts.concurrency).await?;
    let pings = storm(conns, Storm::Ping, &server, opts).await;
    let claims = storm(pings.conns, Storm::Claim, &server, opts).await;
    let coupons = server.api("GET", "/api/coupons", None).await?;
    let stored = coupons
        .as_array()
        .and_then(|a| a.iter().find(|c| c["id"] == COUPON))
        .and_then(|c| c["claimed"].as_u64());
    drop(server);

    let expected = u64::from(quota).min(k as u64);
    let ok = claims.ok;
    let lost_n: u64 = claims.lost.values().sum::<u64>() + pings.lost.values().sum::<u64>();
    let exact = ok == expected && stored == Some(expected) && lost_n == 0;
    let hist = &claims.hist;
    let p99 = hist.quantile_us(0.99);
    let row = format!(
        "| {k} | {quota} | {ok} | {} | {lost_n} | {} / {} | {} | {} | {} | {:.0} | {} | {} | p99 ≤ 20 ms: {}; exactly {expected} ok: {} |",
        claims.refused.values().sum::<u64>(),
        ms(pings.hist.quantile_us(0.50)),
        ms(pings.hist.quantile_us(0.99)),
        ms(hist.quantile_us(0.50)),
        ms(p99),
        ms(hist.max_us()),
        per_sec(hist.count(), claims.span_ns),
        stored.map_or("?".into(), |s| s.to_string()),
        claims.cpu,
        verdict(p99 <= TARGET_P99_US),
        if exact { "yes" } else { "NO" },
    );
    let mut notes: Vec<String> = claims
        .refused
        .iter()
        .chain(claims.lost.iter())
        .map(|(e, n)| format!("{k} claimers: {n} × {e}"))
        .collect();
    notes.extend(
        pings
            .refused
            .iter()
            .chain(pings.lost.iter())
            .map(|(e, n)| format!("{k} pings: {n} × {e}")),
    );
    if ok > expected {
        notes.push(format!(
            "OVERSOLD: {ok} claims succeeded for a quota of {expected}"
        ));
    }
    Ok((row, notes, exact))
}
