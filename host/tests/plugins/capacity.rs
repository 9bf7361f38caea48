//! More rooms than warm instances: the instance pool is a cache, and the host's shortage is
//! never a plugin's fault.

use crate::common::*;
use livecart::catalog::MemoryCatalog;
use livecart::plugin::kv::MemoryKv;
use livecart::plugin::{CpuMeter, EngineConfig, PluginEngine, RoomPlugins};
use std::sync::Arc;

/// An engine whose pool holds 8 instances (7 kept warm).
fn small_pool() -> PluginEngine {
    let mut c = EngineConfig::new(CpuMeter::Epoch);
    c.instance_slots = 8;
    c.limits.cpu_ms_per_batch = 10_000;
    c.cache_dir = Some(target_dir().join("plugin-cache"));
    PluginEngine::new(c).expect("engine")
}

#[test]
fn every_room_acts_when_rooms_outnumber_the_instance_pool() {
    let e = small_pool();
    let plugins = [
        ("like-coupon", repo_file("plugins/like-coupon/config.json")),
        (
            "keyword-push",
            repo_file("plugins/keyword-push/config.json"),
        ),
        ("ai-host", repo_file("plugins/ai-host/config.json")),
    ];
    let compiled: Vec<_> = plugins
        .iter()
        .map(|(name, config)| (e.load(&plugin_bytes(name)).expect("load"), config.clone()))
        .collect();
    let mut rooms: Vec<RoomPlugins> = (0..30)
        .map(|i| {
            let env = room_env(
                &format!("room-{i}"),
                Arc::new(MemoryKv::default()),
                Arc::new(MemoryCatalog::default()),
            );
            let mut room = RoomPlugins::new(env);
            for (plugin, config) in &compiled {
                room.enable(&e, plugin.clone(), config).expect("enable");
            }
            room
        })
        .collect();
    // Two rounds, so every room's instances are evicted and come back at least once.
    for round in 0..2u64 {
        for (i, room) in rooms.iter_mut().enumerate() {
            let id = round * 100 + i as u64;
            let events = [
                likes(id * 2 + 1, 1_200, 1_200 * (round + 1)),
                comment(id * 2 + 2, id * 1000, "What size is it?"),
            ];
            let reports = room.dispatch(&e, &events);
            for r in &reports {
                assert!(r.fault.is_none(), "room-{i} {}: {:?}", r.plugin, r.fault);
            }
            let acted = |name: &str| {
                reports
                    .iter()
                    .filter(|r| &*r.plugin == name)
                    .map(|r| r.actions.len())
                    .sum::<usize>()
            };
            if round == 0 {
                assert!(
                    acted("like-coupon") > 0,
                    "room-{i}: like-coupon did not act"
                );
            }
            assert!(acted("keyword-push") > 0 || round > 0, "room-{i}: no push");
            assert!(acted("ai-host") > 0, "room-{i}: ai-host did not act");
        }
    }
    let stats = e.warm_cache().stats();
    assert!(stats.instances <= 7, "{stats:?}");
    assert!(stats.evictions >= 2 * 90 - 7, "{stats:?}");
}

#[test]
fn an_evicted_instance_keeps_its_state() {
    let e = small_pool();
    let config = repo_file("plugins/like-coupon/config.json");
    let plugin = e.load(&plugin_bytes("like-coupon")).expect("load");
    let kv = Arc::new(MemoryKv::default());
    let env = room_env("room-k", kv, Arc::new(MemoryCatalog::default()));
    let mut slot =
        livecart::plugin::PluginSlot::new(&e, plugin.clone(), &config, env).expect("slot");
    assert_eq!(
        ok(&e, &mut slot, likes(1, 1_200, 1_200)).len(),
        2,
        "c-1k unlocked"
    );
    // Eight other slots take every warm place.
    let mut others: Vec<_> = (0..8)
        .map(|_| slot_with(&e, "like-coupon", &config, Arc::new(MemoryKv::default())))
        .enumerate()
        .map(|(i, mut s)| {
            ok(&e, &mut s, likes(10 + i as u64, 1, 1));
            s
        })
        .collect();
    assert!(!slot.is_warm(), "the oldest instance was evicted");
    // The threshold is remembered in KV: the same total does not unlock c-1k again.
    assert!(ok(&e, &mut slot, likes(2, 10, 1_210)).is_empty());
    others.clear();
}
