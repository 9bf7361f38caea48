//! The lottery in a served room, as a merchant runs it: viewers enter by commenting the
//! keyword, the timer draws, the winner is issued the prize coupon although it stays locked
//! for everyone else, and the announcement carries the seed the draw can be redone from.

mod cluster;

use cluster::{Client, WAIT};
use livecart_e2e::{Serve, enabled_hash, http};
use serde_json::{Value, json};

fn body(r: (u16, String), want: u16) -> Value {
    assert_eq!(r.0, want, "{}", r.1);
    serde_json::from_str(&r.1).expect("json")
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_lottery_draws_in_a_served_room_and_issues_its_locked_prize() {
    let s = Serve::start(&["--no-demo-stream"]);
    let (addr, token) = (s.addr.as_str(), Some(s.merchant_token.as_str()));
    let hash = enabled_hash(addr, &s.merchant_token, "demo", "lottery");
    let config = json!({"keyword": "抽奖", "winners": 1, "coupon": "c-lucky",
        "draw_after_ms": 1000, "round": "e2e"});
    let enable = json!({"hash": hash, "config": config}).to_string();
    let (status, text) = http(addr, "POST", "/api/rooms/demo/plugins", token, &enable);
    assert!(status == 200 || status == 201, "{status} {text}");

    let (mut mei, _) = Client::join(addr, "Mei", None).await;
    let (mut ben, _) = Client::join(addr, "Ben", None).await;
    let mut system = Vec::new();
    let deadline = tokio::time::Instant::now() + WAIT;
    // Mei enters first (her entry opens the lottery), then Ben: the entry order the
    // auditor redoes the draw with.
    mei.comment("我要抽奖").await;
    while system.is_empty() {
        let left = deadline.saturating_duration_since(tokio::time::Instant::now());
        let f = mei.next(left).await.expect("the lottery opens");
        if f["type"] == "system" {
            system.push(f["text"].as_str().unwrap_or_default().to_owned());
        }
    }
    ben.comment("抽奖!").await;
    while !system.iter().any(|t: &String| t.contains("Lottery drawn")) {
        let left = deadline.saturating_duration_since(tokio::time::Instant::now());
        let Some(f) = mei.next(left).await else {
            panic!("no draw within {WAIT:?}; system messages: {system:?}");
        };
        if f["type"] == "system" {
            system.push(f["text"].as_str().unwrap_or_default().to_owned());
        }
    }
    assert!(system[0].contains("Lottery open"), "{system:?}");
    let drawn = system.last().expect("drawn");
    assert!(drawn.contains("from 2 entrants"), "{drawn}");
    let seed = drawn
        .rsplit_once("(seed ")
        .and_then(|(_, s)| s.trim_end_matches(')').parse::<u64>().ok())
        .unwrap_or_else(|| panic!("no seed in {drawn}"));
    // An auditor redoes the draw from the announced seed and the entry order.
    let winner = ["Mei", "Ben"][(splitmix64(seed) % 2) as usize];
    assert!(
        drawn.contains(&format!("entrants: {winner} (seed")),
        "{winner}: {drawn}"
    );

    // The prize went to exactly one viewer and is still locked for the room.
    let coupon = body(http(addr, "GET", "/api/coupons/c-lucky", token, ""), 200);
    assert_eq!(coupon["claimed"], 1, "{coupon}");
    assert_eq!(coupon["unlocked"], false, "{coupon}");
    // The host recorded the seed in the plugin's log, which the merchant reads.
    let logs = body(
        http(
            addr,
            "GET",
            "/api/rooms/demo/plugins/lottery/logs",
            token,
            "",
        ),
        200,
    );
    let recorded = logs["logs"].as_array().is_some_and(|lines| {
        lines.iter().any(|l| {
            l["source"] == "host"
                && l["message"]
                    .as_str()
                    .is_some_and(|m| m.ends_with(&format!(": {seed}")))
        })
    });
    assert!(recorded, "seed {seed} is not in the plugin's log: {logs}");
}

/// The first output of SplitMix64 from `seed`, as docs/plugins.md specifies it.
fn splitmix64(seed: u64) -> u64 {
    let mut z = seed.wrapping_add(0x9e37_79b9_7f4a_7c15);
    z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
    z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
    z ^ (z >> 31)
}
