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

/// Refused by the static check with one function limited to 256 KiB, the default until an
/// embedded CPython (one 427 KB function: its interpreter loop) had to fit.
fn refused_at_256_kib(bytes: &[u8]) -> CodeLimitExceeded {
    let limits = livecart::plugin::limits::CodeLimits {
        max_function_bytes: 256 << 10,
        ..Default::default()
    };
    match livecart::plugin::precheck::check(bytes, &limits, 16 << 20) {
        Err(e) => e,
        Ok(stats) => panic!("accepted: {stats:?}"),
    }
}

#[test]
fn a_function_holding_100k_live_values_is_refused_before_compiling() {
    // The bomb as found: its one function is also far over the size limit.
    assert_eq!(
        refused_at_256_kib(&generate::live_values(100_000)).to_string(),
        "function 0 of core module 0 is 491746 bytes of code; the limit for one function is 262144"
    );
}

#[test]
fn a_function_with_100k_nested_blocks_is_refused_before_compiling() {
    assert_eq!(
        refused_at_256_kib(&generate::nested_blocks(100_000)).to_string(),
        "function 0 of core module 0 is 300002 bytes of code; the limit for one function is 262144"
    );
}

/// With one function allowed 512 KiB (the default since the Python plugins), the two
/// bombs above are still refused before compiling, by what makes them bombs, in
/// milliseconds.
#[test]
fn the_found_bombs_are_refused_before_compiling_under_the_default_limits() {
    let started = std::time::Instant::now();
    let live = refused(&generate::live_values(100_000));
    assert!(
        matches!(live, CodeLimitExceeded::OperandStack { limit: 2048, .. }),
        "{live}"
    );
    let nested = refused(&generate::nested_blocks(100_000));
    assert!(
        matches!(nested, CodeLimitExceeded::Nesting { limit: 1024, .. }),
        "{nested}"
    );
    let huge = refused(&generate::huge_function(1_000_000));
    assert!(
        matches!(huge, CodeLimitExceeded::FunctionBytes { limit, .. } if limit == 512 << 10),
        "{huge}"
    );
    assert!(
        started.elapsed() < std::time::Duration::from_secs(5),
        "{:?}",
        started.elapsed()
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
    let err = refused_at_256_kib(&generate::huge_function(1_000_000));
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
        "keyword-push-js",
        "keyword-push-py",
    ] {
        let stats = livecart::plugin::precheck::check(
            &plugin_bytes(name),
            &limits.code,
            limits.memory_bytes,
        )
        .unwrap_or_else(|e| panic!("{name}: {e}"));
        assert!(stats.functions > 0, "{name}: {stats:?}");
        // And within a merchant's default code allowance.
        let code = livecart::plugin::precheck::code_bytes(&plugin_bytes(name));
        // Section sizes: the bodies and their length prefixes.
        assert!(
            code >= stats.code_bytes,
            "{name}: {code} < {}",
            stats.code_bytes
        );
        assert!(code <= limits.merchant_code_bytes, "{name}: {code}");
    }
}

/// The deadline grows with the code: the base for small components, a per-MiB allowance
/// for big ones, never past the cap.
#[test]
fn the_compile_deadline_scales_with_the_code_and_is_bounded() {
    let code = livecart::plugin::limits::CodeLimits::default();
    assert_eq!(code.compile_deadline_ms(40_000), 4_000);
    assert_eq!(
        code.compile_deadline_ms(1_300_000),
        4_000 + code.compile_ms_per_mib
    );
    let python = code_bytes_of("keyword-push-py");
    assert!(code.compile_deadline_ms(python) >= 16_000, "{python}");
    assert_eq!(
        code.compile_deadline_ms(usize::MAX),
        code.max_compile_timeout_ms
    );
}

fn code_bytes_of(name: &str) -> usize {
    livecart::plugin::precheck::code_bytes(&plugin_bytes(name))
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
