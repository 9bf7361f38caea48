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
    /// Largest accepted `.wasm` upload.
    pub max_upload_bytes: usize,
    /// Events in one batch; longer batches are split.
    pub max_batch_events: usize,
    /// Consecutive faults after which the plugin is disabled for the room.
    pub max_consecutive_faults: u32,
    /// KV quotas per plugin × room.
    pub kv: KvQuota,
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
            max_upload_bytes: 1 << 20,
            max_batch_events: 256,
            max_consecutive_faults: 5,
            kv: KvQuota::default(),
        }
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
        Ok(desired <= 10_000)
    }
}
