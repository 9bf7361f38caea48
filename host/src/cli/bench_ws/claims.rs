//! Concurrent coupon claims and flash-sale buys: K joined viewers claim one coupon of quota
//! Q (K > Q) at the same moment, then buy one unit each of a flash sale of stock Q at the
//! same moment, then of a sale of the same stock sold by SKU (four sizes of Q/4 each, the
//! viewers spread over them): what choosing, checking and writing a SKU costs a buy. Reports the answer's latency (send to result, per request) and checks that
//! exactly Q claims and Q buys succeeded, both in the answers and in the stored counts.
//!
//! Before those, the same K connections send a `ping` at the same moment: the transport's
//! floor for K simultaneous requests on this machine (read, decode, reply, write, for every
//! connection), against which the claims' and buys' own cost can be read.

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
const PRODUCT: &str = "bench-flash";
const PRODUCT_SKUS: &str = "bench-flash-sizes";
const SIZES: [&str; 4] = ["s", "m", "l", "xl"];
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
#[derive(Clone)]
enum Storm {
    Ping,
    Claim,
    /// A buy of one unit in this flash sale.
    Buy(Arc<str>),
    /// A buy of one unit of size `SIZES[i % 4]` in this flash sale sold by SKU.
    BuySku(Arc<str>),
}

impl Storm {
    fn request(&self, i: usize) -> String {
        match self {
            Storm::Ping => json!({"type": "ping", "client_ms": 0}),
            Storm::Claim => {
                json!({"type": "claim", "coupon_id": COUPON, "key": format!("bench-claim-{i}")})
            }
            Storm::Buy(sale) => {
                json!({"type": "buy", "sale_id": sale, "quantity": 1, "key": format!("bench-buy-{i}")})
            }
            Storm::BuySku(sale) => json!({"type": "buy", "sale_id": sale, "quantity": 1,
                "sku": SIZES[i % SIZES.len()], "key": format!("bench-sku-{i}")}),
        }
        .to_string()
    }

    fn answer(&self) -> &'static str {
        match self {
            Storm::Ping => r#"{"type":"pong""#,
            Storm::Claim => r#"{"type":"claim_result""#,
            Storm::Buy(_) | Storm::BuySku(_) => r#"{"type":"buy_result""#,
        }
    }

    fn name(&self) -> &'static str {
        match self {
            Storm::Ping => "ping (floor)",
            Storm::Claim => "claim",
            Storm::Buy(_) => "buy",
            Storm::BuySku(_) => "buy by SKU",
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
            // Group by kind: drop the coupon or sale id from the message.
            let e = v["error"].as_str().unwrap_or("no error text");
            Outcome::Refused(redact(e))
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
        .map(|(i, ws)| {
            tokio::spawn(claimer(
                ws,
                i,
                kind.clone(),
                clock,
                hist.clone(),
                start_rx.clone(),
            ))
        })
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

/// An error text without the coupon or sale id, so that refusals group by kind.
fn redact(e: &str) -> String {
    let e = e.replace(COUPON, "<coupon>");
    match e.find("fs_") {
        Some(at) => {
            let end = e[at..].find(' ').map_or(e.len(), |n| at + n);
            format!("{}<sale>{}", &e[..at], &e[end..])
        }
        None => e,
    }
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
        // The same storms by viewers with device ids (as the viewer page sends): their
        // claims and buys also pass the guest throttles, in the same run.
        for devices in [false, true] {
            let (size_rows, size_notes, exact) = one(opts, k, quota, devices).await?;
            rows.extend(size_rows);
            notes.extend(size_notes);
            all_exact &= exact;
        }
    }
    println!();
    println!(
        "Concurrent claims and buys: K viewers send a ping at the same moment (the transport's floor), then claim a coupon of quota K/4 at the same moment, then buy one unit of a flash sale of stock K/4 at the same moment"
    );
    println!();
    println!(
        "| K | request | quota / stock | ok | refused | no answer | p50 | p99 | max | answers/s | stored count | CPU server / bench / softirq / other (cores) | target |"
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

/// One size: a fresh server, K joined viewers, then the ping, claim and buy storms.
async fn one(
    opts: &Opts,
    k: usize,
    quota: u32,
    devices: bool,
) -> anyhow::Result<(Vec<String>, Vec<String>, bool)> {
    let who = if devices {
        " (guests with device ids)"
    } else {
        ""
    };
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
    server
        .api(
            "PUT",
            &format!("/api/products/{PRODUCT}"),
            // PUT replaces the whole product: every field.
            Some(
                json!({"title": "Bench flash item", "price_cents": 1000, "currency": "CNY",
                "image_url": "", "buy_url": "", "stock": quota, "description": "",
                "faq": [], "specs": [], "skus": []}),
            ),
        )
        .await?;
    let sale = server
        .api(
            "POST",
            &format!("/api/rooms/{ROOM}/flash-sales"),
            Some(json!({
                "product_id": PRODUCT, "price_cents": 500, "stock": quota, "per_user_limit": 1,
                "starts_ms": 0, "ends_ms": crate::store::now_ms() + 3_600_000
            })),
        )
        .await?;
    let Some(sale_id) = sale["id"].as_str() else {
        bail!("creating the flash sale answered {sale}");
    };
    let sale_id: Arc<str> = sale_id.into();
    // The same stock in four sizes (the first takes the remainder).
    let share = |i: usize| quota / 4 + if i == 0 { quota % 4 } else { 0 };
    let skus: Vec<Value> = SIZES
        .iter()
        .enumerate()
        .map(|(i, id)| json!({"id": id, "name": id.to_uppercase(), "stock": share(i)}))
        .collect();
    server
        .api(
            "POST",
            "/api/products",
            Some(json!({"id": PRODUCT_SKUS, "title": "Bench tee", "price_cents": 1000, "skus": skus})),
        )
        .await?;
    let sized = server
        .api(
            "POST",
            &format!("/api/rooms/{ROOM}/flash-sales"),
            Some(json!({
                "product_id": PRODUCT_SKUS, "price_cents": 500, "per_user_limit": 1,
                "starts_ms": 0, "ends_ms": crate::store::now_ms() + 3_600_000
            })),
        )
        .await?;
    let Some(sized_id) = sized["id"].as_str() else {
        bail!("creating the flash sale by SKU answered {sized}");
    };
    let sized_id: Arc<str> = sized_id.into();
    let (conns, _) = client::join_many_with(server.addr, k, opts.concurrency, devices).await?;
    let mut pings = storm(conns, Storm::Ping, &server, opts).await;
    let mut claims = storm(
        std::mem::take(&mut pings.conns),
        Storm::Claim,
        &server,
        opts,
    )
    .await;
    let mut buys = storm(
        std::mem::take(&mut claims.conns),
        Storm::Buy(sale_id.clone()),
        &server,
        opts,
    )
    .await;
    let sized_buys = storm(
        std::mem::take(&mut buys.conns),
        Storm::BuySku(sized_id.clone()),
        &server,
        opts,
    )
    .await;
    let coupons = server.api("GET", "/api/coupons", None).await?;
    let claimed = coupons
        .as_array()
        .and_then(|a| a.iter().find(|c| c["id"] == COUPON))
        .and_then(|c| c["claimed"].as_u64());
    let sales = server
        .api("GET", &format!("/api/rooms/{ROOM}/flash-sales"), None)
        .await?;
    let sale_of = |id: &str| {
        sales
            .as_array()
            .and_then(|a| a.iter().find(|s| s["id"] == id))
    };
    let sold = sale_of(&sale_id).and_then(|s| s["sold"].as_u64());
    // Sold by SKU: the sale's count, and only if every size sold exactly its stock.
    let sized_sold = sale_of(&sized_id)
        .filter(|s| {
            s["skus"]
                .as_array()
                .is_some_and(|k| k.iter().all(|k| k["sold"] == k["stock"]))
        })
        .and_then(|s| s["sold"].as_u64());
    drop(server);

    let expected = u64::from(quota).min(k as u64);
    let mut exact = true;
    let mut rows = Vec::new();
    let mut notes = Vec::new();
    for (kind, result, stored) in [
        (Storm::Ping, &pings, None),
        (Storm::Claim, &claims, Some(claimed)),
        (Storm::Buy(sale_id), &buys, Some(sold)),
        (Storm::BuySku(sized_id), &sized_buys, Some(sized_sold)),
    ] {
        let lost: u64 = result.lost.values().sum();
        let refused: u64 = result.refused.values().sum();
        let p99 = result.hist.quantile_us(0.99);
        let (limit, stored_text, target) = match stored {
            None => {
                exact &= lost == 0 && refused == 0;
                ("—".to_owned(), "—".to_owned(), "—".to_owned())
            }
            Some(stored) => {
                let right = result.ok == expected && stored == Some(expected) && lost == 0;
                exact &= right;
                (
                    quota.to_string(),
                    stored.map_or("?".into(), |s| s.to_string()),
                    format!(
                        "p99 ≤ 20 ms: {}; exactly {expected} ok: {}",
                        verdict(p99 <= TARGET_P99_US),
                        if right { "yes" } else { "NO" }
                    ),
                )
            }
        };
        rows.push(format!(
            "| {k} | {}{who} | {limit} | {} | {refused} | {lost} | {} | {} | {} | {:.0} | {stored_text} | {} | {target} |",
            kind.name(),
            result.ok,
            ms(result.hist.quantile_us(0.50)),
            ms(p99),
            ms(result.hist.max_us()),
            per_sec(result.hist.count(), result.span_ns),
            result.cpu,
        ));
        notes.extend(
            result
                .refused
                .iter()
                .chain(result.lost.iter())
                .map(|(e, n)| format!("{k} × {}: {n} × {e}", kind.name())),
        );
        if result.ok > expected && stored.is_some() {
            notes.push(format!(
                "OVERSOLD: {} {} requests succeeded for {expected}",
                result.ok,
                kind.name()
            ));
        }
    }
    Ok((rows, notes, exact))
}
