//! Faults: the ways one plugin call can fail, each with a message a merchant can act on.

use super::gate::Denied;
use super::limits::MemoryLimitExceeded;

/// Why a plugin call failed. A fault fails that call only: its actions are discarded and
/// its KV writes rolled back.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum Fault {
    /// The batch ran past its CPU time budget (epoch interruption).
    #[error("cpu limit exceeded: the batch ran longer than {limit_ms} ms")]
    CpuTime { limit_ms: u64 },
    /// The plugin used more CPU in the room than its budget per window of event time.
    #[error(
        "cpu budget exceeded: the plugin used {used_ms} ms of CPU in {window_ms} ms of room time; the budget is {budget_ms} ms"
    )]
    CpuBudget {
        used_ms: u64,
        window_ms: u64,
        budget_ms: u64,
    },
    /// The batch used up its instruction budget (fuel, local runner).
    #[error("instruction limit exceeded: the batch used more than {limit} instructions")]
    Fuel { limit: u64 },
    /// The plugin grew its memory past the limit.
    #[error("{0}")]
    Memory(MemoryLimitExceeded),
    /// The plugin returned more actions or text than allowed.
    #[error("output limit exceeded: {0}")]
    Output(String),
    /// The plugin returned an action, or made a call, it was not granted.
    #[error("{0}")]
    Denied(Denied),
    /// The plugin tried to wait in a host call (sleep, a clock subscription).
    #[error("{0}")]
    Blocking(String),
    /// The plugin trapped (panic, unreachable, out-of-bounds access...).
    #[error("trap: {0}")]
    Trap(String),
    /// The plugin's `handle` returned an error.
    #[error("plugin error: {0}")]
    Plugin(String),
    /// The host could not create an instance.
    #[error("instantiation failed: {0}")]
    Instantiate(String),
    /// The host itself failed (e.g. storage); not counted against the plugin.
    #[error("host error: {0}")]
    Host(String),
    /// A granted action the room could not carry out (e.g. a push of a product the
    /// merchant does not have): recorded so the merchant sees it, never counted against
    /// the plugin.
    #[error("action not applied: {0}")]
    Action(String),
}

impl Fault {
    /// Classify an error returned by a call into the guest.
    pub fn from_call_error(err: wasmtime::Error, limits: &super::Limits, fuel: bool) -> Fault {
        if let Some(trap) = err.downcast_ref::<wasmtime::Trap>() {
            match trap {
                wasmtime::Trap::Interrupt => {
                    return Fault::CpuTime {
                        limit_ms: limits.cpu_ms_per_batch,
                    };
                }
                wasmtime::Trap::OutOfFuel if fuel => {
                    return Fault::Fuel {
                        limit: limits.fuel_per_batch,
                    };
                }
                other => return Fault::Trap(other.to_string()),
            }
        }
        if let Some(mem) = err.downcast_ref::<MemoryLimitExceeded>() {
            return Fault::Memory(mem.clone());
        }
        if let Some(denied) = err.downcast_ref::<Denied>() {
            return Fault::Denied(denied.clone());
        }
        if let Some(blocking) = err.downcast_ref::<super::host::BlockingCall>() {
            return Fault::Blocking(blocking.to_string());
        }
        Fault::Trap(err.root_cause().to_string())
    }

    /// A short machine-readable kind, for logs and the registry.
    pub fn kind(&self) -> &'static str {
        match self {
            Fault::CpuTime { .. } => "cpu-time",
            Fault::CpuBudget { .. } => "cpu-budget",
            Fault::Fuel { .. } => "fuel",
            Fault::Memory(_) => "memory",
            Fault::Output(_) => "output",
            Fault::Denied(_) => "denied",
            Fault::Blocking(_) => "blocking",
            Fault::Trap(_) => "trap",
            Fault::Plugin(_) => "plugin",
            Fault::Instantiate(_) => "instantiate",
            Fault::Host(_) => "host",
            Fault::Action(_) => "action",
        }
    }
}

/// Faults serialize as `{"kind": "...", "message": "..."}` for the runner and the API.
impl serde::Serialize for Fault {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        use serde::ser::SerializeStruct;
        let mut st = s.serialize_struct("Fault", 2)?;
        st.serialize_field("kind", self.kind())?;
        st.serialize_field("message", &self.to_string())?;
        st.end()
    }
}
