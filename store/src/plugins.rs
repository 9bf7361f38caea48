//! Plugin rows: versions, room bindings (with history for rollback), faults and KV.

use crate::StoreError;
use serde::Serialize;

/// One uploaded plugin version.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct VersionRecord {
    pub hash: String,
    pub owner: String,
    pub name: String,
    /// The manifest's own version label.
    pub label: String,
    /// The manifest as JSON.
    pub manifest: serde_json::Value,
    pub size: usize,
    pub uploaded_ms: u64,
}

/// A plugin enabled (or once enabled) in a room.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct Binding {
    pub room: String,
    pub name: String,
    pub hash: String,
    pub config: String,
    pub enabled: bool,
    /// Why the runtime disabled it, if it did.
    pub disabled_reason: Option<String>,
    pub updated_ms: u64,
}

/// One recorded plugin fault.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct FaultRecord {
    pub room: String,
    pub name: String,
    pub hash: String,
    pub kind: String,
    pub message: String,
    pub at_ms: u64,
}

/// One line of a plugin's log in a room, as the merchant reads it: the plugin's own lines
/// (`log`, stdout, stderr) and the host's about the call (e.g. the random seeds it used).
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct LogRecord {
    pub room: String,
    pub name: String,
    pub hash: String,
    pub at_ms: u64,
    /// `debug`, `info`, `warn` or `error`.
    pub level: String,
    /// `log`, `stdout`, `stderr` or `host`.
    pub source: String,
    pub message: String,
}

/// Where plugin KV spaces persist (the host's `plugin::kv` keeps them in memory and writes
/// each committed call through this). Every store implements it; tests also use an
/// in-memory one.
pub trait KvBackend: Send + Sync {
    /// Every entry of one space.
    fn load(&self, plugin: &str, room: &str) -> anyhow::Result<Vec<(String, Vec<u8>)>>;
    /// Apply one committed call's changes atomically (`None` deletes).
    fn apply(
        &self,
        plugin: &str,
        room: &str,
        changes: &[(String, Option<Vec<u8>>)],
    ) -> anyhow::Result<()>;
}

/// Plugin versions, room bindings with their history, faults, and (through the
/// [`KvBackend`] supertrait) plugin KV spaces.
///
/// Contract: versions are content-addressed and immutable — storing a hash again changes
/// nothing. Binding a plugin writes the binding and a history row in one transaction, so
/// [`previous_binding`](Self::previous_binding) always finds what the room ran before.
/// [`KvBackend::apply`] commits one call's changes all or nothing. Lookups of unknown rows
/// are `Ok(None)` (or `Ok(false)` for changes); orderings are as documented per method.
pub trait PluginStore: KvBackend {
    /// Store a version (a no-op if the hash is already stored). Returns whether it was new.
    fn put_plugin_version(&self, v: &VersionRecord, wasm: &[u8]) -> Result<bool, StoreError>;

    /// One version's record by hash.
    fn plugin_version(&self, hash: &str) -> Result<Option<VersionRecord>, StoreError>;

    /// One version's component bytes by hash.
    fn plugin_wasm(&self, hash: &str) -> Result<Option<Vec<u8>>, StoreError>;

    /// Versions of one owner's plugin, newest first (all names when `name` is `None`).
    fn plugin_versions(
        &self,
        owner: &str,
        name: Option<&str>,
    ) -> Result<Vec<VersionRecord>, StoreError>;

    /// Enable `hash` as the room's version of its plugin with `config`, remembering the
    /// change for rollback. `hash` must be a stored version (an engine enforces it with
    /// a foreign key; the error is a backend error, not `NotFound`).
    fn bind_plugin(
        &self,
        room: &str,
        name: &str,
        hash: &str,
        config: &str,
    ) -> Result<Binding, StoreError>;

    /// The room's binding of plugin `name`, enabled or not.
    fn binding(&self, room: &str, name: &str) -> Result<Option<Binding>, StoreError>;

    /// All of a room's bindings, by plugin name.
    fn bindings(&self, room: &str) -> Result<Vec<Binding>, StoreError>;

    /// The (hash, config) the room used before its current version of `name`, if any.
    fn previous_binding(
        &self,
        room: &str,
        name: &str,
        current_hash: &str,
    ) -> Result<Option<(String, String)>, StoreError>;

    /// Turn a binding off (merchant action) or record why the runtime did. Returns whether
    /// the binding exists.
    fn set_plugin_enabled(
        &self,
        room: &str,
        name: &str,
        enabled: bool,
        reason: Option<&str>,
    ) -> Result<bool, StoreError>;

    /// Append a fault to the plugin's log in its room.
    fn record_plugin_fault(&self, f: &FaultRecord) -> Result<(), StoreError>;

    /// The newest `limit` faults of a plugin in a room, newest first.
    fn plugin_faults(
        &self,
        room: &str,
        name: &str,
        limit: usize,
    ) -> Result<Vec<FaultRecord>, StoreError>;

    /// Append log lines (of one plugin in one room, in order) and keep only the newest
    /// `keep` lines of that plugin there.
    fn record_plugin_logs(&self, lines: &[LogRecord], keep: usize) -> Result<(), StoreError>;

    /// The newest `limit` log lines of a plugin in a room, newest first.
    fn plugin_logs(
        &self,
        room: &str,
        name: &str,
        limit: usize,
    ) -> Result<Vec<LogRecord>, StoreError>;
}
