//! `livecart bench claims`: coupon claim storms through each node's commit queue, one
//! node on SQLite against several nodes on one PostgreSQL database, in the same run.
//!
//! Run in release: `livecart bench claims --postgres postgres://…` (any empty database;
//! `scripts/bench-cluster.sh` starts a throwaway cluster). Each "node" is what a `serve`
//! process has: its own store connection pool and its own commit queue (group commit per
//! node). Every round, K claimers (spread round-robin over the nodes) claim one coupon
//! of quota K/4 at the same moment; the bench reports answers per second and latency
//! percentiles, and checks that exactly the quota was granted and that the store agrees.

use crate::store::{ClaimRequest, CommitQueue, NewCoupon, SqliteStore, Store};
use anyhow::Context;
use clap::Args;
use std::process::ExitCode;
use std::sync::Arc;
use std::time::{Duration, Instant};

#[derive(Debug, Args)]
pub struct ClaimsArgs {
    /// An empty PostgreSQL database for the cluster run.
    #[arg(long, env = "LIVECART_BENCH_POSTGRES")]
    postgres: String,
    /// Nodes sharing the PostgreSQL database.
    #[arg(long, default_value_t = 3)]
    nodes: usize,
    /// Claimers per storm.
    #[arg(long, default_value_t = 2000)]
    claimers: usize,
    /// Storms per setup.
    #[arg(long, default_value_t = 5)]
    rounds: usize,
}

/// One storm's outcome.
struct Storm {
    granted: usize,
    latencies: Vec<Duration>,
    wall: Duration,
}

pub fn run(args: ClaimsArgs) -> anyhow::Result<ExitCode> {
    let runtime = tokio::runtime::Runtime::new().context("starting tokio")?;
    runtime.block_on(async move {
        let path = std::env::temp_dir().join(format!("livecart-bench-claims-{}.db", std::process::id()));
        let _ = std::fs::remove_file(&path);
        let sqlite: Arc<dyn Store> = Arc::new(SqliteStore::open(&path)?);
        let pg: Vec<Arc<dyn Store>> = (0..args.nodes.max(1))
            .map(|_| {
                livecart_store_postgres::PostgresStore::connect(&args.postgres)
                    .map(|s| Arc::new(s) as Arc<dyn Store>)
                    .context("connecting to --postgres")
            })
            .collect::<anyhow::Result<_>>()?;
        println!(
            "| setup | claimers | quota | rounds | granted each round | answers/s (median round) | p50 | p99 | max |"
        );
        println!("|---|---|---|---|---|---|---|---|---|");
        let one = "1 node, SQLite".to_owned();
        let many = format!("{} nodes, PostgreSQL", pg.len());
        for (label, stores) in [(one, vec![sqlite]), (many, pg)] {
            let report = setup(&stores, args.claimers, args.rounds).await?;
            println!("| {label} | {report}");
        }
        for suffix in ["", "-wal", "-shm"] {
            let _ = std::fs::remove_file(format!("{}{suffix}", path.display()));
        }
        Ok(ExitCode::SUCCESS)
    })
}

async fn setup(
    stores: &[Arc<dyn Store>],
    claimers: usize,
    rounds: usize,
) -> anyhow::Result<String> {
    let queues: Vec<Arc<CommitQueue>> = stores
        .iter()
        .map(|s| Arc::new(CommitQueue::new(s.clone())))
        .collect();
    let quota = (claimers / 4).max(1);
    let (merchant, _) = stores[0].create_merchant("bench")?;
    let mut storms = Vec::new();
    for round in 0..rounds {
        let coupon = stores[0].create_coupon(
            &merchant.id,
            &NewCoupon {
                title: format!("bench {round}"),
                discount_cents: 100,
                quota: u32::try_from(quota)?,
                per_user_limit: 1,
                unlocked: true,
                ..NewCoupon::default()
            },
        )?;
        let storm = storm(&queues, &coupon.id, claimers).await;
        anyhow::ensure!(
            storm.granted == quota,
            "round {round}: {} granted for a quota of {quota}",
            storm.granted
        );
        let stored = stores[stores.len() - 1]
            .coupon(&coupon.id)?
            .context("the coupon")?
            .claimed;
        anyhow::ensure!(
            usize::try_from(stored).ok() == Some(quota),
            "round {round}: the store says {stored} claimed for {quota} granted"
        );
        storms.push(storm);
    }
    let mut rates: Vec<f64> = storms
        .iter()
        .map(|s| claimers as f64 / s.wall.as_secs_f64())
        .collect();
    rates.sort_by(f64::total_cmp);
    let mut all: Vec<Duration> = storms.iter().flat_map(|s| s.latencies.clone()).collect();
    all.sort();
    let pct = |p: f64| all[((all.len() - 1) as f64 * p) as usize];
    Ok(format!(
        "{claimers} | {quota} | {rounds} | {quota} (checked in the store) | {:.0} | {:.1} ms | {:.1} ms | {:.1} ms |",
        rates[rates.len() / 2],
        ms(pct(0.5)),
        ms(pct(0.99)),
        ms(all[all.len() - 1]),
    ))
}

/// `claimers` claims of `coupon` at once, round-robin over the nodes' queues.
async fn storm(queues: &[Arc<CommitQueue>], coupon: &str, claimers: usize) -> Storm {
    let start = Arc::new(tokio::sync::Barrier::new(claimers + 1));
    let mut tasks = Vec::with_capacity(claimers);
    for i in 0..claimers {
        let (queue, start, coupon) = (
            queues[i % queues.len()].clone(),
            start.clone(),
            coupon.to_owned(),
        );
        tasks.push(tokio::spawn(async move {
            start.wait().await;
            let t = Instant::now();
            let granted = queue
                .claim(ClaimRequest {
                    coupon_id: coupon.clone(),
                    user_id: format!("{coupon}-u{i}"),
                    idempotency_key: format!("{coupon}-k{i}"),
                    now_ms: crate::store::now_ms(),
                    push_id: None,
                    variant: None,
                    offered_in: None,
                    issued: false,
                    guest: false,
                })
                .await
                .is_ok();
            (granted, t.elapsed())
        }));
    }
    start.wait().await;
    let t = Instant::now();
    let mut storm = Storm {
        granted: 0,
        latencies: Vec::with_capacity(claimers),
        wall: Duration::ZERO,
    };
    for task in tasks {
        if let Ok((granted, latency)) = task.await {
            storm.granted += usize::from(granted);
            storm.latencies.push(latency);
        }
    }
    storm.wall = t.elapsed();
    storm
}

fn ms(d: Duration) -> f64 {
    d.as_secs_f64() * 1000.0
}
