//! Sandbox limits: what one plugin call may consume, with safe defaults.
//!
//! Threat model for each limit (what a malicious guest can still do is in the comment):
//! a plugin can spin, allocate, flood output and hammer its KV space; each limit turns that
//! into a fault of the one call, which the room survives.

use serde::{Deserialize, Serialize};
use wasmtime::ResourceLimiter;

/// Limits for plugin calls. Every field is configurable; `Default` is safe for a shared host.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(default)]
pub struct Limits {
    /// Wall-clock CPU budget of one batch, enforced by epoch interruption (server). A guest
    /// can still burn this much CPU per batch on one plugin worker thread.
    pub cpu_ms_per_batch: u64,
    /// Instruction budget of one batch, enforced by fuel (local runner only, where counts
    /// must be exact and reported).
    pub fuel_per_batch: u64,
    /// Linear memory per instance, enforced by a limiter. A guest can still reserve this much.
    pub memory_bytes: usize,
    /// Actions one call may return; more is a fault and none of them apply.
    pub max_actions_per_call: usize,
    /// Bytes of text across one call's actions.
    pub max_output_bytes: usize,
    /// Log lines kept per call (stdout/stderr included); the rest are counted and dropped.
    pub max_log_lines_per_call: usize,
    /// Bytes of log kept per call.
    pub max_log_bytes_per_call: usize,
    /// Largest `.wasm` the transport accepts: a cap on request bodies, not the policy.
    /// What an upload may hold is decided by what it costs (`code`, `memory_bytes` and
    /// the merchant's code allowance), because the byte size of a component says little:
    /// an embedded CPython is 18 MB, two thirds of it data segments (the standard library).
    pub max_upload_bytes: usize,
    /// Code one merchant's plugin may hold unless the operator gives that merchant an
    /// override (`PUT /api/operator/merchants/{id}/plugin-limits`); at most
    /// `code.max_code_bytes`, the node's ceiling. Bounds, through the compile deadline,
    /// how long one upload may keep a compile slot.
    pub merchant_code_bytes: usize,
    /// Events in one batch; longer batches are split.
    pub max_batch_events: usize,
    /// Faults among the last `fault_window_batches` batches at which the plugin is
    /// disabled for the room (a fault *rate*: a fresh instance after each fault does not
    /// reset it).
    pub max_faults: u32,
    /// Batches the fault rate is counted over.
    pub fault_window_batches: u32,
    /// CPU time one plugin may use in one room per `cpu_window_ms` of event time; past it
    /// the plugin is disabled for the room. A guest can still use this much steadily.
    pub cpu_ms_per_window: u64,
    /// The sliding window of the CPU budget, in event time.
    pub cpu_window_ms: u64,
    /// The shortest timer a plugin may set.
    pub min_timer_delay_ms: u32,
    /// Timers one plugin may have armed in one room.
    pub max_timers: usize,
    /// KV quotas per plugin × room.
    pub kv: KvQuota,
    /// What an upload's code may hold, and what compiling it may cost.
    pub code: CodeLimits,
}

impl Default for Limits {
    fn default() -> Self {
        Limits {
            cpu_ms_per_batch: 20,
            fuel_per_batch: 100_000_000,
            memory_bytes: 16 << 20,
            max_actions_per_call: 64,
            max_output_bytes: 64 << 10,
            max_log_lines_per_call: 32,
            max_log_bytes_per_call: 8 << 10,
            max_upload_bytes: 64 << 20,
            merchant_code_bytes: 16 << 20,
            max_batch_events: 256,
            max_faults: 5,
            fault_window_batches: 100,
            cpu_ms_per_window: 500,
            cpu_window_ms: 10_000,
            min_timer_delay_ms: 100,
            max_timers: 16,
            kv: KvQuota::default(),
            code: CodeLimits::default(),
        }
    }
}

/// Static limits on an upload's code, checked before it is compiled (`precheck.rs`), and
/// the budget of the compile itself (`compile.rs`).
///
/// Threat model: a component crafted so that Cranelift spends minutes and hundreds of MB
/// on it. The static limits refuse the known shapes (huge functions, many functions, deep
/// nesting, many live values) in milliseconds; a component that stays under all of them
/// is compiled in a child process that is killed at `compile_timeout_ms` and cannot grow
/// past `compile_memory_bytes`, so every upload is answered in bounded time and memory.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(default)]
pub struct CodeLimits {
    /// Functions with a body, across the component's core modules.
    pub max_functions: u32,
    /// Bytes of all function bodies: the node's ceiling, whatever a merchant's allowance.
    pub max_code_bytes: usize,
    /// Bytes of one function body.
    pub max_function_bytes: usize,
    /// Locals one function declares.
    pub max_locals: u32,
    /// Values one function keeps on its operand stack at once.
    pub max_operand_stack: u32,
    /// Depth of nested blocks, loops and ifs in one function.
    pub max_nesting: u32,
    /// Wall-clock budget of one compile, before the allowance for its size.
    pub compile_timeout_ms: u64,
    /// Extra compile time per whole MiB of code (function bodies). The static limits
    /// exclude the shapes whose compile cost is not linear, so what is left grows with the
    /// amount of code; a fixed deadline would refuse big honest plugins or let small bombs
    /// run long.
    pub compile_ms_per_mib: u64,
    /// The deadline never exceeds this, however much code.
    pub max_compile_timeout_ms: u64,
    /// Memory (data segment and anonymous mappings) of the compiling child process.
    pub compile_memory_bytes: u64,
}

impl Default for CodeLimits {
    fn default() -> Self {
        CodeLimits {
            max_functions: 20_000,
            max_code_bytes: 64 << 20,
            max_function_bytes: 512 << 10,
            max_locals: 10_000,
            max_operand_stack: 2_048,
            max_nesting: 1_024,
            compile_timeout_ms: 4_000,
            compile_ms_per_mib: 4_000,
            max_compile_timeout_ms: 60_000,
            compile_memory_bytes: 1 << 30,
        }
    }
}

impl CodeLimits {
    /// The compile deadline of a component holding `code_bytes` of function bodies:
    /// `compile_timeout_ms` plus `compile_ms_per_mib` per whole MiB, at most
    /// `max_compile_timeout_ms` (and never below the base).
    pub fn compile_deadline_ms(&self, code_bytes: usize) -> u64 {
        let mib = (code_bytes >> 20) as u64;
        self.compile_timeout_ms
            .saturating_add(self.compile_ms_per_mib.saturating_mul(mib))
            .min(self.max_compile_timeout_ms.max(self.compile_timeout_ms))
    }
}

/// KV quotas for one plugin × room space.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(default)]
pub struct KvQuota {
    pub max_key_bytes: usize,
    pub max_value_bytes: usize,
    pub max_keys: usize,
    pub max_total_bytes: usize,
}

impl Default for KvQuota {
    fn default() -> Self {
        KvQuota {
            max_key_bytes: 256,
            max_value_bytes: 16 << 10,
            max_keys: 1024,
            max_total_bytes: 1 << 20,
        }
    }
}

/// The memory limit was hit; carried as the trap's error so faults can name it.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("memory limit exceeded: the plugin asked for {requested} bytes, the limit is {limit}")]
pub struct MemoryLimitExceeded {
    pub requested: usize,
    pub limit: usize,
}

/// Enforces the memory limit and remembers the peak, for the runner's report.
#[derive(Debug)]
pub struct MemoryLimiter {
    limit: usize,
    /// Largest linear memory size seen, in bytes.
    pub peak: usize,
}

impl MemoryLimiter {
    pub fn new(limit: usize) -> Self {
        MemoryLimiter { limit, peak: 0 }
    }
}

impl ResourceLimiter for MemoryLimiter {
    fn memory_growing(
        &mut self,
        _current: usize,
        desired: usize,
        _maximum: Option<usize>,
    ) -> wasmtime::Result<bool> {
        if desired > self.limit {
            // Trap at once with a clear reason rather than let the guest's allocator abort.
            return Err(MemoryLimitExceeded {
                requested: desired,
                limit: self.limit,
            }
            .into());
        }
        self.peak = self.peak.max(desired);
        Ok(true)
    }

    fn table_growing(
        &mut self,
        _current: usize,
        desired: usize,
        _maximum: Option<usize>,
    ) -> wasmtime::Result<bool> {
        // Tables hold function references; 10k entries is far beyond any real plugin.
        Ok(desired as u64 <= super::precheck::MAX_TABLE_ELEMENTS)
    }
}
