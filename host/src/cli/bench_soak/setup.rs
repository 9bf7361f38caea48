//! The soak's world: rooms with the example plugins, coupons for the claim storms, and
//! the live stream an ffmpeg child publishes into the demo room for the whole run.

use crate::cli::bench_media::stack::{self, ChildGuard};
use crate::cli::bench_ws::server::{ROOM, ServerChild};
use anyhow::{Context, bail};
use serde_json::{Value, json};
use std::path::Path;

/// The plugins every room runs (the demo room gets them, and the lottery, from `serve`).
const PLUGINS: [&str; 3] = ["like-coupon", "keyword-push", "ai-host"];

/// A small real ladder: a 640x360 source passed through and a 180p rung encoded, so the
/// live costs a fraction of a core and leaves the rest to the rooms.
pub const LADDER: &str = r#"{"passthrough":true,"source_kbps":800,
  "rungs":[{"height":360,"bitrate_kbps":800},{"height":180,"bitrate_kbps":300}]}"#;

/// The demo room plus `rooms - 1` new rooms of the demo merchant, each with the example
/// plugins; their ids, the demo room first.
pub async fn rooms(
    server: &ServerChild,
    rooms: usize,
    plugin_sources: &Path,
) -> anyhow::Result<Vec<String>> {
    let versions = server.api("GET", "/api/plugins", None).await?;
    let hash = |name: &str| -> anyhow::Result<String> {
        versions
            .as_array()
            .and_then(|a| a.iter().rev().find(|v| v["name"] == name))
            .and_then(|v| v["hash"].as_str())
            .map(str::to_owned)
            .with_context(|| {
                format!("plugin {name} is not in the demo merchant's plugins: is it built?")
            })
    };
    let hashes: Vec<String> = PLUGINS.iter().map(|n| hash(n)).collect::<Result<_, _>>()?;
    let mut ids = vec![ROOM.to_owned()];
    for k in 1..rooms {
        let room = server
            .api(
                "POST",
                "/api/rooms",
                Some(json!({"title": format!("Soak room {k}")})),
            )
            .await?;
        let Some(id) = room["id"].as_str() else {
            bail!("creating a room answered {room}");
        };
        for (name, hash) in PLUGINS.iter().zip(&hashes) {
            let config = config(server, id, name, plugin_sources).await?;
            server
                .api(
                    "POST",
                    &format!("/api/rooms/{id}/plugins"),
                    Some(json!({"hash": hash, "config": config})),
                )
                .await
                .with_context(|| format!("enabling {name} in {id}"))?;
        }
        ids.push(id.to_owned());
    }
    Ok(ids)
}

/// A plugin's config for `room`: like-coupon unlocks the room's own coupons (created
/// here); the others use their sample configs.
async fn config(
    server: &ServerChild,
    room: &str,
    name: &str,
    sources: &Path,
) -> anyhow::Result<Value> {
    if name == "like-coupon" {
        let mut thresholds = Vec::new();
        for likes in [1_000u64, 10_000, 50_000] {
            let id = format!("{room}-{likes}");
            server
                .api(
                    "POST",
                    "/api/coupons",
                    Some(json!({
                        "id": id, "room_id": room, "title": format!("{likes} likes"),
                        "discount_cents": 100, "quota": 100_000
                    })),
                )
                .await?;
            thresholds.push(json!({"likes": likes, "coupon": id}));
        }
        return Ok(json!({ "thresholds": thresholds }));
    }
    let path = sources.join(name).join("config.json");
    let text =
        std::fs::read_to_string(&path).with_context(|| format!("reading {}", path.display()))?;
    serde_json::from_str(&text).with_context(|| format!("parsing {}", path.display()))
}

/// A fresh room-less coupon of the demo merchant (claimable in every room), unlocked.
pub async fn storm_coupon(server: &ServerChild, id: &str, quota: u64) -> anyhow::Result<()> {
    server
        .api(
            "POST",
            "/api/coupons",
            Some(json!({
                "id": id, "title": "Soak storm", "discount_cents": 100,
                "quota": quota, "unlocked": true
            })),
        )
        .await?;
    Ok(())
}

/// The stored claim count of coupon `id`.
pub async fn claimed(server: &ServerChild, id: &str) -> anyhow::Result<u64> {
    let coupons = server.api("GET", "/api/coupons", None).await?;
    coupons
        .as_array()
        .and_then(|a| a.iter().find(|c| c["id"] == id))
        .and_then(|c| c["claimed"].as_u64())
        .with_context(|| format!("coupon {id} is not listed"))
}

/// ffmpeg publishing a 640x360 test pattern into the demo room in real time for `secs`.
pub fn publish(server: &ServerChild, secs: u64) -> anyhow::Result<ChildGuard> {
    let (Some(rtmp), Some(key)) = (server.rtmp, server.demo_stream_key.as_deref()) else {
        bail!("the server printed no RTMP ingest address or demo stream key");
    };
    let url = format!("rtmp://{rtmp}/live/{key}");
    stack::publish_live(&url, "640x360", &secs.to_string(), "veryfast", "800k")
}
