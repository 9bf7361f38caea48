//! Every hostile fixture is contained: the exact fault, the room goes on.

use crate::common::*;
use livecart::catalog::MemoryCatalog;
use livecart::plugin::kv::{KvBackend, MemoryKv};
use livecart::plugin::{CallReport, Fault, PluginEngine, RoomPlugins};
use std::sync::Arc;

fn hostile(engine: &PluginEngine, mode: &str) -> livecart::plugin::PluginSlot {
    slot(engine, "hostile", &format!(r#"{{"mode":"{mode}"}}"#))
}

fn fault_of(report: &CallReport) -> String {
    report
        .fault
        .as_ref()
        .map(ToString::to_string)
        .unwrap_or_else(|| "no fault".into())
}

#[test]
fn infinite_loop_hits_the_cpu_limit_by_epoch() {
    let e = default_engine();
    let mut s = hostile(e, "loop");
    let r = s.handle(e, &[comment(1, 0, "go")]);
    assert_eq!(r.fault, Some(Fault::CpuTime { limit_ms: 20 }));
    assert_eq!(
        fault_of(&r),
        "cpu limit exceeded: the batch ran longer than 20 ms"
    );
    assert!(r.actions.is_empty());
}

#[test]
fn infinite_loop_runs_out_of_fuel_in_the_runner() {
    let e = fuel_engine();
    let mut s = hostile(e, "loop");
    let r = s.handle(e, &[comment(1, 0, "go")]);
    assert_eq!(r.fault, Some(Fault::Fuel { limit: 100_000_000 }));
    assert_eq!(r.fuel, Some(100_000_000));
}

#[test]
fn memory_bomb_hits_the_memory_limit() {
    let e = epoch_engine();
    let mut s = hostile(e, "memory-bomb");
    let r = s.handle(e, &[comment(1, 0, "go")]);
    match &r.fault {
        Some(Fault::Memory(m)) => assert_eq!(m.limit, 16 << 20),
        other => panic!("expected a memory fault, got {other:?}"),
    }
    assert!(fault_of(&r).starts_with("memory limit exceeded: the plugin asked for"));
    assert!(r.peak_memory <= 16 << 20);
}

#[test]
fn trap_is_reported_and_the_next_batch_gets_a_fresh_instance() {
    let e = epoch_engine();
    let mut s = hostile(e, "trap");
    let r = s.handle(e, &[comment(1, 0, "go")]);
    assert_eq!(
        r.fault,
        Some(Fault::Trap(
            "wasm trap: wasm `unreachable` instruction executed".into()
        ))
    );
    assert!(!s.is_warm(), "a trapped instance is dropped");
    s.set_config(r#"{"mode":"ok"}"#);
    let r = s.handle(e, &[comment(2, 0, "go")]);
    assert!(r.fault.is_none() && r.cold_start);
    assert_eq!(s.consecutive_faults(), 0);
}

#[test]
fn panic_message_reaches_the_plugin_log() {
    let e = epoch_engine();
    let mut s = hostile(e, "panic");
    let r = s.handle(e, &[comment(1, 0, "go")]);
    assert!(matches!(r.fault, Some(Fault::Trap(_))), "{:?}", r.fault);
    assert!(
        r.logs
            .iter()
            .any(|l| l.message.contains("hostile plugin panicked on purpose")),
        "{:?}",
        r.logs
    );
}

#[test]
fn output_flood_is_refused_whole() {
    let e = epoch_engine();
    let mut s = hostile(e, "flood");
    let r = s.handle(e, &[comment(1, 0, "go")]);
    assert_eq!(
        r.fault,
        Some(Fault::Output(
            "10000 actions returned, the limit is 64".into()
        ))
    );
    assert!(r.actions.is_empty());
}

#[test]
fn undeclared_capability_is_denied_by_the_gate() {
    let e = epoch_engine();
    let mut s = hostile(e, "undeclared");
    let r = s.handle(e, &[comment(1, 0, "go")]);
    assert_eq!(
        fault_of(&r),
        "capability `coupons` not granted: action unlock-coupon needs it"
    );
    assert!(r.actions.is_empty());
}

#[test]
fn kv_quota_abuse_fails_the_call_and_rolls_back_its_writes() {
    let e = epoch_engine();
    let kv = Arc::new(MemoryKv::default());
    let mut s = slot_with(e, "hostile", r#"{"mode":"kv-abuse"}"#, kv.clone());
    let r = s.handle(e, &[comment(1, 0, "go")]);
    let msg = fault_of(&r);
    assert!(
        msg.starts_with("plugin error: event 1 (comment): kv quota exceeded:"),
        "{msg}"
    );
    assert!(
        kv.load("hostile", "room-1").expect("load").is_empty(),
        "writes rolled back"
    );
}

#[test]
fn log_flood_is_bounded_and_counted() {
    let e = epoch_engine();
    let mut s = hostile(e, "log-flood");
    let r = s.handle(e, &[comment(1, 0, "go")]);
    assert!(r.fault.is_none(), "{:?}", r.fault);
    assert_eq!(r.logs.len(), 32);
    assert_eq!(r.logs.len() + r.logs_dropped, 11_000);
}

#[test]
fn wasi_is_denied_files_env_clock_and_network() {
    let e = epoch_engine();
    let mut s = hostile(e, "escape");
    let r = s.handle(e, &[comment(1, 0, "go")]);
    assert!(r.fault.is_none(), "{:?}", r.fault);
    let log: Vec<&str> = r.logs.iter().map(|l| l.message.as_str()).collect();
    let line = |prefix: &str| {
        log.iter()
            .find(|l| l.starts_with(prefix))
            .copied()
            .unwrap_or_else(|| panic!("no `{prefix}` line in {log:?}"))
    };
    assert!(line("fs:").contains("Err"), "{log:?}");
    assert!(line("env:").contains("Err"), "{log:?}");
    assert_eq!(line("clock:"), "clock: 0");
    assert!(line("net:").contains("Err"), "{log:?}");
}

#[test]
fn repeated_faults_disable_the_plugin_and_the_room_goes_on() {
    let e = epoch_engine();
    let env = room_env(
        "room-9",
        Arc::new(MemoryKv::default()),
        Arc::new(MemoryCatalog::default()),
    );
    let mut room = RoomPlugins::new(env);
    room.enable(
        e,
        e.load(&plugin_bytes("hostile")).expect("load"),
        r#"{"mode":"trap"}"#,
    )
    .expect("enable hostile");
    room.enable(
        e,
        e.load(&plugin_bytes("keyword-push")).expect("load"),
        r#"{"rules":[{"product":"p","keywords":["size"]}],"cooldown_ms":0}"#,
    )
    .expect("enable keyword-push");
    let max = e.limits().max_consecutive_faults as u64;
    for i in 1..=max + 2 {
        let reports = room.dispatch(e, &[comment(i, i * 1000, "size?")]);
        let hostile = reports.iter().find(|r| &*r.plugin == "hostile");
        let push = reports
            .iter()
            .find(|r| &*r.plugin == "keyword-push")
            .expect("keyword-push ran");
        assert_eq!(push.actions.len(), 1, "the healthy plugin keeps working");
        match hostile {
            Some(r) => {
                assert!(i <= max);
                assert_eq!(r.disabled, i == max);
            }
            None => assert!(i > max, "a disabled plugin gets no calls"),
        }
    }
    let slot = room
        .slots()
        .iter()
        .find(|s| s.name() == "hostile")
        .expect("slot");
    assert!(matches!(slot.disabled(), Some(Fault::Trap(_))));
}
