//! The registry: versions by content hash, per-room enablement, live upgrade and rollback
//! keeping KV state, fault records, and persistence across a restart.

use crate::common::*;
use livecart::catalog::MemoryCatalog;
use livecart::plugin::registry::Registry;
use livecart::plugin::{Fault, RoomEnv};
use livecart::store::{SqliteStore, Store};
use std::sync::Arc;

const CONFIG_V1: &str =
    r#"{"thresholds":[{"likes":100,"coupon":"c-100"},{"likes":200,"coupon":"c-200"}]}"#;

/// The same component with an extra custom section: a distinct version (new content hash)
/// of the same plugin, as a rebuilt upload would be.
fn second_build(bytes: &[u8]) -> Vec<u8> {
    let mut out = bytes.to_vec();
    let name = b"livecart-test-build";
    let payload = b"v2";
    out.push(0); // custom section id
    out.push((1 + name.len() + payload.len()) as u8);
    out.push(name.len() as u8);
    out.extend_from_slice(name);
    out.extend_from_slice(payload);
    out
}

fn env(store: &Arc<dyn Store>) -> RoomEnv {
    room_env("live-1", store.clone(), Arc::new(MemoryCatalog::default()))
}

#[test]
fn upgrade_and_rollback_while_live_keep_kv_state() {
    let e = epoch_engine();
    let dir = tempfile::tempdir().expect("tempdir");
    let db = dir.path().join("livecart.db");
    let store: Arc<dyn Store> = Arc::new(SqliteStore::open(&db).expect("store"));
    let reg = Registry::new(store.clone());

    let v1_bytes = plugin_bytes("like-coupon");
    let (v1, _) = reg.upload(e, "m1", &v1_bytes).expect("upload v1");
    assert_eq!(v1.name, "like-coupon");
    assert_eq!(
        reg.upload(e, "m1", &v1_bytes).expect("same bytes").0.hash,
        v1.hash
    );
    reg.enable(epoch_engine(), "live-1", &v1.hash, CONFIG_V1)
        .expect("enable");

    let mut room = reg.load_room(e, env(&store)).expect("room");
    let reports = room.dispatch(e, &[likes(1, 150, 150)]);
    assert_eq!(actions(&reports[0])[0]["coupon_id"], "c-100");

    // Upgrade while live: a new version of the same plugin replaces the old one.
    let (v2, _) = reg
        .upload(e, "m1", &second_build(&v1_bytes))
        .expect("upload v2");
    assert_ne!(v2.hash, v1.hash);
    assert_eq!(
        reg.versions("m1", Some("like-coupon"))
            .expect("versions")
            .len(),
        2
    );
    reg.enable(epoch_engine(), "live-1", &v2.hash, CONFIG_V1)
        .expect("upgrade");
    room.enable(e, reg.compiled(e, &v2.hash).expect("compiled"), CONFIG_V1)
        .expect("swap");
    // v2 knows c-100 was unlocked (KV survived the upgrade) and unlocks only c-200.
    let reports = room.dispatch(e, &[likes(2, 100, 250)]);
    assert_eq!(&*reports[0].version, v2.hash);
    let coupons: Vec<_> = actions(&reports[0])
        .into_iter()
        .filter(|a| a["type"] == "unlock-coupon")
        .collect();
    assert_eq!(coupons.len(), 1);
    assert_eq!(coupons[0]["coupon_id"], "c-200");

    // Roll back: v1 again, state still there.
    let back = reg.rollback("live-1", "like-coupon").expect("rollback");
    assert_eq!(back.hash, v1.hash);
    room.enable(
        e,
        reg.compiled(e, &back.hash).expect("compiled"),
        &back.config,
    )
    .expect("swap back");
    let reports = room.dispatch(e, &[likes(3, 100, 350)]);
    assert_eq!(&*reports[0].version, v1.hash);
    assert!(reports[0].actions.is_empty(), "nothing unlocks twice");

    // A restart loses nothing: versions, bindings and KV come back from SQLite.
    drop(room);
    drop(reg);
    drop(store);
    let store: Arc<dyn Store> = Arc::new(SqliteStore::open(&db).expect("reopen"));
    let reg = Registry::new(store.clone());
    assert_eq!(reg.versions("m1", None).expect("versions").len(), 2);
    let bindings = reg.bindings("live-1").expect("bindings");
    assert_eq!(bindings.len(), 1);
    assert_eq!(bindings[0].hash, v1.hash);
    let mut room = reg.load_room(e, env(&store)).expect("room after restart");
    assert!(room.dispatch(e, &[likes(4, 10, 360)])[0].actions.is_empty());
}

#[test]
fn faults_are_recorded_and_disabling_is_visible_to_the_merchant() {
    let e = epoch_engine();
    let store: Arc<dyn Store> = Arc::new(SqliteStore::in_memory().expect("store"));
    let reg = Registry::new(store.clone());
    let (v, _) = reg
        .upload(e, "m1", &plugin_bytes("hostile"))
        .expect("upload");
    reg.enable(
        epoch_engine(),
        "live-2",
        &v.hash,
        r#"{"mode":"undeclared"}"#,
    )
    .expect("enable");
    let mut room = reg
        .load_room(
            e,
            room_env("live-2", store.clone(), Arc::new(MemoryCatalog::default())),
        )
        .expect("room");
    for i in 1..=e.limits().max_faults as u64 {
        for r in room.dispatch(e, &[comment(i, i, "hi")]) {
            let fault = r.fault.as_ref().expect("faults");
            reg.record_fault("live-2", &r.plugin, &r.version, fault, r.disabled)
                .expect("record");
        }
    }
    let faults = reg.faults("live-2", "hostile", 10).expect("faults");
    assert_eq!(faults.len(), 5);
    assert_eq!(faults[0].kind, "denied");
    let binding = &reg.bindings("live-2").expect("bindings")[0];
    assert!(!binding.enabled);
    assert_eq!(
        binding.disabled_reason.as_deref(),
        Some(
            "disabled after repeated faults; last: capability `coupons` not granted: action unlock-coupon needs it"
        )
    );
    assert!(matches!(room.slots()[0].disabled(), Some(Fault::Denied(_))));
    // Disabled bindings are not loaded again.
    let room = reg
        .load_room(
            e,
            room_env("live-2", store, Arc::new(MemoryCatalog::default())),
        )
        .expect("room");
    assert!(room.slots().is_empty());
}

#[test]
fn rollback_without_history_and_unknown_versions_are_clear_errors() {
    let e = epoch_engine();
    let reg = Registry::new(Arc::new(SqliteStore::in_memory().expect("store")));
    assert_eq!(
        reg.enable(epoch_engine(), "r", "deadbeef", "{}")
            .expect_err("unknown")
            .to_string(),
        "no plugin version deadbeef"
    );
    let (v, _) = reg.upload(e, "m1", &plugin_bytes("hello")).expect("upload");
    reg.enable(epoch_engine(), "r", &v.hash, "")
        .expect("enable");
    assert_eq!(
        reg.rollback("r", "hello")
            .expect_err("no history")
            .to_string(),
        "plugin `hello` has no earlier version in room `r` to roll back to"
    );
    assert_eq!(
        reg.upload(e, "m2", &plugin_bytes("hello"))
            .expect_err("other owner")
            .to_string(),
        format!("plugin version {} belongs to another owner", v.hash)
    );
}
