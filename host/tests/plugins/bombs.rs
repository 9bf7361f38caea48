//! Compile bombs are refused before compiling, with the limit they break; what gets past
//! the static limits is stopped by the compile budget of the worker process.

use crate::common::*;
use livecart::plugin::compile::{CompileBudgetError, CompileWorker};
use livecart::plugin::precheck::{CodeLimitExceeded, FuncAt};
use livecart::plugin::{CpuMeter, EngineConfig, InvalidPlugin, PluginEngine};
use std::path::PathBuf;

#[path = "../../../plugins/hostile/bombs.rs"]
mod generate;

const FIRST: FuncAt = FuncAt {
    module: 0,
    function: 0,
};

fn refused(bytes: &[u8]) -> CodeLimitExceeded {
    match epoch_engine().load(bytes) {
        Err(InvalidPlugin::Code(e)) => e,
        Err(other) => panic!("expected a code limit, got {other}"),
        Ok(p) => panic!("accepted {}", p.manifest.name),
    }
}

#[test]
fn a_function_holding_100k_live_values_is_refused_before_compiling() {
    // The bomb as found: its one function is also far over the size limit.
    assert_eq!(
        refused(&generate::live_values(100_000)).to_string(),
        "function 0 of core module 0 is 491746 bytes of code; the limit for one function is 262144"
    );
}

#[test]
fn a_function_with_100k_nested_blocks_is_refused_before_compiling() {
    assert_eq!(
        refused(&generate::nested_blocks(100_000)).to_string(),
        "function 0 of core module 0 is 300002 bytes of code; the limit for one function is 262144"
    );
}

#[test]
fn too_many_live_values_in_a_small_function_are_refused() {
    let err = refused(&generate::live_values(10_000));
    assert!(
        matches!(
            err,
            CodeLimitExceeded::OperandStack {
                at: FIRST,
                limit: 2048,
                ..
            }
        ),
        "{err:?}"
    );
    let msg = err.to_string();
    assert!(
        msg.starts_with(
            "function 0 of core module 0 keeps over 2048 values live on its operand stack (at byte "
        ),
        "{msg}"
    );
    assert!(msg.ends_with("); the limit is 2048"), "{msg}");
    // Just under the limit is fine.
    assert!(!matches!(
        epoch_engine().load(&generate::live_values(2_000)),
        Err(InvalidPlugin::Code(_))
    ));
}

#[test]
fn deep_nesting_in_a_small_function_is_refused() {
    let err = refused(&generate::nested_blocks(50_000));
    assert!(
        matches!(
            err,
            CodeLimitExceeded::Nesting {
                at: FIRST,
                limit: 1024,
                ..
            }
        ),
        "{err:?}"
    );
    assert!(err.to_string().contains("nests blocks over 1024 deep"));
}

#[test]
fn a_component_with_75k_functions_is_refused_before_compiling() {
    assert_eq!(
        refused(&generate::many_functions(75_000)).to_string(),
        "the component defines 75000 functions; the limit is 20000"
    );
}

#[test]
fn a_one_megabyte_function_is_refused_before_compiling() {
    let err = refused(&generate::huge_function(1_000_000));
    match err {
        CodeLimitExceeded::FunctionBytes { at, found, limit } => {
            assert_eq!((at, limit), (FIRST, 256 << 10));
            assert!(found > 900_000, "{found}");
        }
        other => panic!("{other:?}"),
    }
}

#[test]
fn a_gibibyte_of_initial_memory_is_refused_with_what_was_declared_and_the_limit() {
    assert_eq!(
        refused(&generate::huge_memory(16_384)).to_string(),
        "core module 0 declares 1073741824 bytes of initial memory; the limit is 16777216 bytes"
    );
}

#[test]
fn every_example_plugin_is_within_the_static_limits() {
    let limits = livecart::plugin::Limits::default();
    for name in [
        "hello",
        "like-coupon",
        "keyword-push",
        "ai-host",
        "lottery",
        "compat-v1",
        "hostile",
    ] {
        let stats = livecart::plugin::precheck::check(
            &plugin_bytes(name),
            &limits.code,
            limits.memory_bytes,
        )
        .unwrap_or_else(|e| panic!("{name}: {e}"));
        assert!(stats.functions > 0, "{name}: {stats:?}");
    }
}

fn worker_engine(tune: impl FnOnce(&mut livecart::plugin::Limits)) -> PluginEngine {
    let mut c = EngineConfig::new(CpuMeter::Epoch);
    c.instance_slots = 4;
    c.compile_worker = Some(CompileWorker {
        exe: PathBuf::from(env!("CARGO_BIN_EXE_livecart")),
    });
    tune(&mut c.limits);
    PluginEngine::new(c).expect("engine")
}

#[test]
fn a_plugin_compiled_by_the_worker_loads_and_runs() {
    let e = worker_engine(|_| {});
    let plugin = e
        .load(&plugin_bytes("hello"))
        .expect("hello compiles in the worker");
    let env = room_env(
        "room-1",
        std::sync::Arc::new(livecart::plugin::kv::MemoryKv::default()),
        std::sync::Arc::new(livecart::catalog::MemoryCatalog::default()),
    );
    let mut slot = livecart::plugin::PluginSlot::new(&e, plugin, "{}", env).expect("slot");
    let report = slot.handle(&e, &[comment(1, 0, "hi")]);
    assert!(report.fault.is_none(), "{:?}", report.fault);
}

#[test]
fn a_compile_past_its_deadline_is_killed_and_refused() {
    let e = worker_engine(|l| l.code.compile_timeout_ms = 100);
    let bytes = generate::under_the_limits(6_000, 20);
    assert!(bytes.len() < e.limits().max_upload_bytes, "{}", bytes.len());
    match e.load(&bytes) {
        Err(InvalidPlugin::Budget(err)) => {
            assert_eq!(err, CompileBudgetError::Timeout { limit_ms: 100 });
            assert_eq!(
                InvalidPlugin::Budget(err).to_string(),
                "compiling took longer than 100 ms, the limit for one plugin"
            );
        }
        other => panic!("expected the compile deadline, got {other:?}"),
    }
}

#[test]
fn a_compile_past_its_memory_budget_is_refused() {
    let e = worker_engine(|l| {
        l.code.compile_memory_bytes = 32 << 20;
        l.code.compile_timeout_ms = 120_000;
    });
    // 20k functions need about 150 MB to compile; the worker gets 32 MiB.
    match e.load(&generate::many_functions(19_999)) {
        Err(InvalidPlugin::Budget(err)) => {
            assert_eq!(err, CompileBudgetError::Memory { limit: 32 << 20 });
            assert_eq!(
                InvalidPlugin::Budget(err).to_string(),
                "compiling needed more than 33554432 bytes of memory, the limit for one plugin"
            );
        }
        other => panic!("expected the compile memory budget, got {other:?}"),
    }
}
