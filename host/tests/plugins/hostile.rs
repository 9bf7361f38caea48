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
    let max = e.limits().max_faults as u64;
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

#[test]
fn a_sleeping_plugin_traps_at_once_and_its_neighbour_is_unaffected() {
    let e = epoch_engine();
    let env = room_env(
        "room-s",
        Arc::new(MemoryKv::default()),
        Arc::new(MemoryCatalog::default()),
    );
    let mut room = RoomPlugins::new(env);
    room.enable(
        e,
        e.load(&plugin_bytes("hostile")).expect("load"),
        r#"{"mode":"sleep"}"#,
    )
    .expect("enable hostile");
    room.enable(
        e,
        e.load(&plugin_bytes("keyword-push")).expect("load"),
        r#"{"rules":[{"product":"p","keywords":["size"]}],"cooldown_ms":0}"#,
    )
    .expect("enable keyword-push");
    let started = std::time::Instant::now();
    let reports = room.dispatch(e, &[comment(1, 0, "size?")]);
    let hostile = reports
        .iter()
        .find(|r| &*r.plugin == "hostile")
        .expect("ran");
    assert_eq!(
        fault_of(hostile),
        "blocking is not allowed: the plugin called `wasi:clocks/monotonic-clock.subscribe-duration` (e.g. std::thread::sleep); plugins must return at once and use timers to wait"
    );
    assert_eq!(hostile.fault.as_ref().map(Fault::kind), Some("blocking"));
    let push = reports
        .iter()
        .find(|r| &*r.plugin == "keyword-push")
        .expect("ran");
    assert_eq!(push.actions.len(), 1, "the neighbour still acts");
    // The sleep was 30 s: anything near it means the host call blocked.
    assert!(started.elapsed() < std::time::Duration::from_secs(25));
}

#[test]
fn a_timer_storm_is_refused_by_the_minimum_delay() {
    let e = epoch_engine();
    let mut s = hostile(e, "timer-storm");
    let r = s.handle(e, &[comment(1, 0, "go")]);
    assert_eq!(
        fault_of(&r),
        "output limit exceeded: set-timer `storm-0` with a delay of 0 ms; the minimum is 100 ms"
    );
    assert_eq!(s.armed_timers(), 0);
}

#[test]
fn too_many_armed_timers_are_refused_and_firing_frees_them() {
    use livecart::plugin::bindings::{Action, SetTimer};
    use livecart::plugin::budget::ArmedTimers;
    let limits = livecart::plugin::Limits::default();
    let set = |i: usize| {
        Action::SetTimer(SetTimer {
            name: format!("t{i}"),
            delay_ms: 1_000,
        })
    };
    let mut armed = ArmedTimers::default();
    let sixteen: Vec<Action> = (0..16).map(set).collect();
    armed.check(&sixteen, &limits).expect("16 fit");
    armed.apply(&sixteen);
    assert_eq!(
        armed.check(&[set(16)], &limits).map_err(|f| f.to_string()),
        Err(
            "output limit exceeded: 17 timers would be armed; the limit is 16 per plugin in a room"
                .into()
        )
    );
    // Re-arming an armed timer replaces it.
    armed.check(&[set(3)], &limits).expect("re-arm");
    armed.fired(&[ev(
        1,
        0,
        livecart::plugin::model::EventBody::TimerFired { name: "t0".into() },
    )]);
    armed
        .check(&[set(16)], &limits)
        .expect("a fired timer frees its place");
}

#[test]
fn the_runner_ends_a_replay_whose_timers_re_arm_forever() {
    use livecart::plugin::model::{EventBody, EventRecord};
    use livecart::runner::{Scenario, run};
    // 16 timers at the minimum delay, each re-armed when it fires: within every limit,
    // and without an end of its own.
    let scenario = Scenario {
        config: r#"{"mode":"timer-loop"}"#.into(),
        catalog: Arc::new(MemoryCatalog::default()),
        events: vec![EventRecord {
            seed: None,
            id: 1,
            room: "room-1".into(),
            time_ms: 0,
            media_ms: None,
            body: EventBody::Comment {
                comment_id: "c1".into(),
                user_id: "u1".into(),
                user_name: "Ann".into(),
                text: "go".into(),
            },
        }],
    };
    let ai = livecart::ai::RetrievalAnswerer::new(Arc::new(MemoryCatalog::default()));
    let summary = run(
        fuel_engine(),
        &plugin_bytes("hostile"),
        scenario,
        &ai,
        &mut |_| {},
        &mut |_| {},
    )
    .expect("the replay ends");
    assert_eq!(summary.faults, 0, "{:?}", summary.limits_hit);
    assert_eq!(summary.timers_pending, 16);
    assert_eq!(
        summary.stopped.as_deref(),
        Some("timers due over 60000 ms after the last recorded event were not fired")
    );
    // 600 rounds of 16 timers in the 60 s horizon, plus the comment.
    assert_eq!(summary.events, 1 + 16 * 600);
}

#[test]
fn a_memory_creep_is_disabled_by_its_fault_rate() {
    let e = epoch_engine();
    let mut s = hostile(e, "creep");
    let mut disabled_at = None;
    for i in 1..=200u64 {
        let r = s.handle(e, &[comment(i, i * 10, "go")]);
        if r.disabled {
            assert_eq!(r.fault.as_ref().map(Fault::kind), Some("memory"));
            disabled_at = Some(i);
            break;
        }
    }
    let at = disabled_at.expect("a creeping plugin is disabled");
    // Five faults, one every ~14 comments, each on a fresh instance: never 5 in a row.
    assert!(at > 50, "disabled at comment {at}");
    assert_eq!(s.consecutive_faults(), 1);
    assert_eq!(s.recent_faults(), 5);
}

#[test]
fn a_plugin_over_its_cpu_budget_is_disabled_and_says_why() {
    let e = epoch_engine();
    let mut s = hostile(e, "burn");
    let mut last = None;
    // ~5 ms a comment, every 10 ms of room time: over 500 ms per 10 s well before 400.
    for i in 1..=400u64 {
        let r = s.handle(e, &[comment(i, i * 10, "go")]);
        if r.disabled {
            last = r.fault;
            break;
        }
        assert!(r.fault.is_none(), "{:?}", r.fault);
    }
    match last {
        Some(Fault::CpuBudget {
            used_ms,
            window_ms,
            budget_ms,
        }) => {
            assert_eq!((window_ms, budget_ms), (10_000, 500));
            assert!(used_ms >= 500);
        }
        other => panic!("expected the cpu budget, got {other:?}"),
    }
    assert!(s.disabled().is_some());
    let r = s.handle(e, &[comment(999, 99_999, "go")]);
    assert!(
        r.actions.is_empty() && r.fault.is_some(),
        "a disabled plugin does not run"
    );
}
