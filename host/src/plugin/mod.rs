//! The sandboxed WebAssembly plugin platform.
//!
//! Merchants upload components built against the WIT contract in `plugin-sdk/wit`. The
//! pieces, in the order a plugin meets them:
//!
//! - [`validate`]: bytes → [`CompiledPlugin`], or a precise [`InvalidPlugin`] reason;
//! - [`policy`]: how much code a merchant may upload (default, override, ceiling);
//! - [`precheck`], [`compile`]: static code limits before compiling, and the compile
//!   budget (a child process with a deadline that grows with the code, and a memory cap);
//! - [`engine`]: the wasmtime engine, compile cache, pooling allocator and CPU meters;
//! - [`host`]: per-instance state and the contract's imports (plus deny-all WASI);
//! - [`gate`]: the capability gate, the only place grants are checked;
//! - [`slot`]: one plugin in one room — warm instance, KV transaction, fault record;
//! - [`room`]: the room's enabled plugins and batched event dispatch;
//! - [`warm`]: warm instances as a cache, evicted least recently used within a budget;
//! - [`budget`]: a plugin's fault rate, CPU time per window and armed timers in a room;
//! - [`kv`], [`limits`], [`fault`], [`logsink`]: state, bounds and failure reporting;
//! - [`model`]: the JSON form of events and actions (event files, reports, the API).

pub mod bindings;
pub mod budget;
pub mod compile;
pub mod componentize;
pub mod engine;
pub mod env;
pub mod fault;
pub mod gate;
pub mod host;
pub mod kv;
pub mod limits;
pub mod logsink;
pub mod model;
pub mod policy;
pub mod precheck;
pub mod random;
pub mod registry;
pub mod room;
pub mod slot;
pub mod validate;
pub mod warm;

pub use engine::{CompiledPlugin, CpuMeter, EngineConfig, PluginEngine};
pub use env::{RoomEnv, RoomView, SharedRoom};
pub use fault::Fault;
pub use limits::Limits;
pub use room::RoomPlugins;
pub use slot::{CallReport, PluginSlot};
pub use validate::{InvalidPlugin, content_hash};
