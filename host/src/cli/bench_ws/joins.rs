//! What the product bag costs a join: N guest viewers join the demo room with a bag of 0
//! products (the baseline), then of each size asked for, on one server in one run; joins
//! per second, server CPU per join, and the snapshot's size. Every snapshot reads the bag
//! from the store (one query joining `room_products` with `products`), so this is the
//! price of a late joiner seeing the whole list.

use super::client;
use super::server::{ServerChild, cpu_seconds};
use super::{Opts, Verdict};
use anyhow::Context;
use clap::Args;
use serde_json::json;

#[derive(Debug, Args)]
pub struct JoinsArgs {
    /// Viewers joining per bag size.
    #[arg(long, default_value_t = 2000)]
    pub conns: usize,
    /// Bag sizes to measure after the empty bag (at most 200, the bag's limit).
    #[arg(long, value_delimiter = ',', default_value = "20,200")]
    pub bag: Vec<usize>,
    /// Rounds per size; the table shows the best (the machine's speed moves).
    #[arg(long, default_value_t = 3)]
    pub rounds: usize,
}

pub async fn run(opts: &Opts, args: &JoinsArgs) -> anyhow::Result<Verdict> {
    let n = args.conns;
    if !(1..=20_000).contains(&n)
        || args.bag.iter().any(|&b| b > 200)
        || !(1..=10).contains(&args.rounds)
    {
        anyhow::bail!("--conns must be 1 to 20,000, --bag sizes at most 200, --rounds 1 to 10");
    }
    opts.check_fds(n + 1)?;
    let server = ServerChild::start(opts.demo_plugins.as_deref(), opts.quiet_wait).await?;
    let most = args.bag.iter().copied().max().unwrap_or(0);
    for i in 0..most {
        let product = json!({"id": format!("bench-{i:03}"), "title": format!("Bench product {i}"),
            "price_cents": 9900 + i, "currency": "CNY", "stock": 100,
            "image_url": format!("https://example.com/img/{i}.jpg"),
            "buy_url": format!("https://example.com/buy/{i}"),
            "description": "A product of the bench, with a description of a typical length."});
        server.api("POST", "/api/products", Some(product)).await?;
    }
    println!();
    println!(
        "Joins into the demo room by bag size ({n} guest viewers per round, best of {} rounds)",
        args.rounds
    );
    println!();
    println!("| bag products | snapshot bytes | joins/s | server CPU per join | vs empty bag |");
    println!("|---|---|---|---|---|");
    let mut baseline = None;
    for size in std::iter::once(0).chain(args.bag.iter().copied()) {
        let ids: Vec<String> = (0..size).map(|i| format!("bench-{i:03}")).collect();
        let path = format!("/api/rooms/{}/products", super::server::ROOM);
        server
            .api("PUT", &path, Some(json!({"product_ids": ids})))
            .await?;
        let mut ws = client::connect(server.addr).await?;
        client::send(&mut ws, &json!({"type": "hello", "v": 1, "name": "bench"})).await?;
        client::expect_type(&mut ws, "welcome").await?;
        client::send(
            &mut ws,
            &json!({"type": "join", "room": super::server::ROOM}),
        )
        .await?;
        let snap = client::expect_type(&mut ws, "snapshot").await?;
        let listed = snap["products"].as_array().map_or(0, Vec::len);
        anyhow::ensure!(
            listed == size,
            "the snapshot lists {listed} products, not {size}"
        );
        let bytes = snap.to_string().len();
        drop(ws);
        let (mut best_rate, mut best_cpu) = (0.0f64, f64::MAX);
        for _ in 0..args.rounds {
            let cpu0 = cpu_seconds(server.pid());
            let (viewers, took) = client::join_many(server.addr, n, opts.concurrency)
                .await
                .with_context(|| format!("joining with a bag of {size}"))?;
            let cpu = cpu_seconds(server.pid()) - cpu0;
            drop(viewers);
            best_rate = best_rate.max(n as f64 / took.as_secs_f64());
            best_cpu = best_cpu.min(cpu / n as f64);
            // Let the server close the sockets before the next round.
            tokio::time::sleep(std::time::Duration::from_secs(2)).await;
        }
        let base = *baseline.get_or_insert(best_cpu);
        println!(
            "| {size} | {bytes} | {best_rate:.0} | {:.1} µs | {} |",
            best_cpu * 1e6,
            if size == 0 {
                "baseline".into()
            } else {
                format!("{:+.0} % CPU", (best_cpu / base - 1.0) * 100.0)
            },
        );
    }
    Ok(true)
}
