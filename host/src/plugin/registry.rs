//! The plugin registry: uploaded versions (by content hash), which version each room runs
//! with which config, rollback, and the fault log merchants read.
//!
//! The registry only changes after validation succeeds: an invalid upload or config leaves
//! it exactly as it was. Runtime state (warm instances) is rebuilt from it with
//! [`Registry::load_room`]; KV state is keyed by plugin name, so switching versions keeps it.

use super::engine::{CompiledPlugin, PluginEngine};
use super::env::RoomEnv;
use super::fault::Fault;
use super::logsink::LogLine;
use super::policy::Allowance;
use super::room::RoomPlugins;
use super::validate::InvalidPlugin;
use crate::store::{Binding, FaultRecord, LogRecord, Store, StoreError, VersionRecord, now_ms};
use std::sync::Arc;

/// Log lines kept per plugin and room for the merchant; older ones are dropped.
pub const KEPT_LOG_LINES: usize = 500;

/// Why a registry operation was refused.
#[derive(Debug, thiserror::Error)]
pub enum RegistryError {
    #[error("invalid plugin: {0}")]
    Invalid(#[from] InvalidPlugin),
    #[error("invalid config: {0}")]
    InvalidConfig(String),
    #[error("no plugin version {0}")]
    UnknownVersion(String),
    #[error("plugin `{name}` is not enabled in room `{room}`")]
    NotBound { room: String, name: String },
    #[error("plugin `{name}` has no earlier version in room `{room}` to roll back to")]
    NoPrevious { room: String, name: String },
    #[error("plugin version {hash} belongs to another owner")]
    Forbidden { hash: String },
    #[error("loading the plugin's state failed: {0}")]
    State(String),
    #[error(transparent)]
    Store(#[from] StoreError),
}

/// The registry over the store.
pub struct Registry {
    store: Arc<dyn Store>,
}

impl Registry {
    pub fn new(store: Arc<dyn Store>) -> Self {
        Registry { store }
    }

    /// Validate and store an upload. The same bytes uploaded twice are one version. The
    /// owner's code allowance (the node's default or the operator's override for that
    /// merchant) is checked first, before anything is compiled.
    pub fn upload(
        &self,
        engine: &PluginEngine,
        owner: &str,
        bytes: &[u8],
    ) -> Result<(VersionRecord, Arc<CompiledPlugin>), RegistryError> {
        let merchant = match self.store.plugin_limits(owner) {
            Ok(limits) => limits,
            // Owners that are not merchants (the demo seed, tests) get the defaults.
            Err(StoreError::NotFound(_)) => Default::default(),
            Err(e) => return Err(e.into()),
        };
        Allowance::of(engine.limits(), &merchant)
            .admit(bytes)
            .map_err(InvalidPlugin::Code)?;
        let plugin = engine.load(bytes)?;
        check_example_config(engine, &plugin)?;
        if let Some(existing) = self.store.plugin_version(&plugin.hash)? {
            if existing.owner != owner {
                return Err(RegistryError::Forbidden {
                    hash: plugin.hash.clone(),
                });
            }
            return Ok((existing, plugin));
        }
        let m = &plugin.manifest;
        let record = VersionRecord {
            hash: plugin.hash.clone(),
            owner: owner.to_owned(),
            name: m.name.clone(),
            label: m.version.clone(),
            manifest: manifest_json(&plugin),
            size: bytes.len(),
            uploaded_ms: now_ms(),
        };
        self.store.put_plugin_version(&record, bytes)?;
        tracing::info!(name = %m.name, hash = %plugin.hash, "plugin version stored");
        Ok((record, plugin))
    }

    /// Versions of an owner's plugins, newest first.
    pub fn versions(
        &self,
        owner: &str,
        name: Option<&str>,
    ) -> Result<Vec<VersionRecord>, RegistryError> {
        Ok(self.store.plugin_versions(owner, name)?)
    }

    /// Enable version `hash` in `room` with `config` (a JSON object; empty means `{}`).
    /// Replaces whatever version of the same plugin the room had: that is an upgrade.
    ///
    /// The config is checked by the plugin itself before anything changes: a throwaway
    /// instance receives `config-changed` with it (no state, no effects; its actions are
    /// dropped), so a config the plugin cannot use is refused now, with the plugin's own
    /// message, rather than faulting at the first event of the show.
    pub fn enable(
        &self,
        engine: &PluginEngine,
        room: &str,
        hash: &str,
        config: &str,
    ) -> Result<Binding, RegistryError> {
        let config = normalize_config(config)?;
        let version = self
            .store
            .plugin_version(hash)?
            .ok_or_else(|| RegistryError::UnknownVersion(hash.to_owned()))?;
        let plugin = self.compiled(engine, hash)?;
        try_config(engine, &plugin, room, &config)?;
        Ok(self.store.bind_plugin(room, &version.name, hash, &config)?)
    }

    /// Go back to the version (and config) the room ran before the current one.
    pub fn rollback(&self, room: &str, name: &str) -> Result<Binding, RegistryError> {
        let current = self.bound(room, name)?;
        let (hash, config) = self
            .store
            .previous_binding(room, name, &current.hash)?
            .ok_or_else(|| RegistryError::NoPrevious {
                room: room.to_owned(),
                name: name.to_owned(),
            })?;
        Ok(self.store.bind_plugin(room, name, &hash, &config)?)
    }

    /// Turn a plugin off in a room (its state is kept for when it comes back).
    pub fn disable(&self, room: &str, name: &str) -> Result<(), RegistryError> {
        self.bound(room, name)?;
        self.store.set_plugin_enabled(room, name, false, None)?;
        Ok(())
    }

    pub fn bindings(&self, room: &str) -> Result<Vec<Binding>, RegistryError> {
        Ok(self.store.bindings(room)?)
    }

    /// Record a runtime fault; when it disabled the plugin, record that too.
    pub fn record_fault(
        &self,
        room: &str,
        name: &str,
        hash: &str,
        fault: &Fault,
        disabled: bool,
    ) -> Result<(), RegistryError> {
        self.store.record_plugin_fault(&FaultRecord {
            room: room.to_owned(),
            name: name.to_owned(),
            hash: hash.to_owned(),
            kind: fault.kind().to_owned(),
            message: fault.to_string(),
            at_ms: now_ms(),
        })?;
        if disabled {
            let reason = match fault {
                Fault::CpuBudget { .. } => format!("disabled: {fault}"),
                _ => format!("disabled after repeated faults; last: {fault}"),
            };
            self.store
                .set_plugin_enabled(room, name, false, Some(&reason))?;
        }
        Ok(())
    }

    pub fn faults(
        &self,
        room: &str,
        name: &str,
        limit: usize,
    ) -> Result<Vec<FaultRecord>, RegistryError> {
        Ok(self.store.plugin_faults(room, name, limit)?)
    }

    /// Keep one call's log lines for the merchant (the newest [`KEPT_LOG_LINES`]).
    pub fn record_logs(
        &self,
        room: &str,
        name: &str,
        hash: &str,
        lines: &[LogLine],
    ) -> Result<(), RegistryError> {
        let at_ms = now_ms();
        let records: Vec<LogRecord> = lines
            .iter()
            .map(|l| LogRecord {
                room: room.to_owned(),
                name: name.to_owned(),
                hash: hash.to_owned(),
                at_ms,
                level: l.level.to_owned(),
                source: l.source.name().to_owned(),
                message: l.message.clone(),
            })
            .collect();
        Ok(self.store.record_plugin_logs(&records, KEPT_LOG_LINES)?)
    }

    /// The newest `limit` log lines of a plugin in a room, newest first.
    pub fn logs(
        &self,
        room: &str,
        name: &str,
        limit: usize,
    ) -> Result<Vec<LogRecord>, RegistryError> {
        Ok(self.store.plugin_logs(room, name, limit)?)
    }

    /// Build the room's runtime from its enabled bindings.
    pub fn load_room(
        &self,
        engine: &PluginEngine,
        env: RoomEnv,
    ) -> Result<RoomPlugins, RegistryError> {
        let mut room = RoomPlugins::new(env);
        for binding in self.store.bindings(&room.env().room_id)? {
            if !binding.enabled {
                continue;
            }
            let plugin = self.compiled(engine, &binding.hash)?;
            room.enable(engine, plugin, &binding.config)
                .map_err(|e| RegistryError::State(format!("{e:#}")))?;
        }
        Ok(room)
    }

    /// The compiled form of a stored version (compiled once per engine).
    pub fn compiled(
        &self,
        engine: &PluginEngine,
        hash: &str,
    ) -> Result<Arc<CompiledPlugin>, RegistryError> {
        if let Some(p) = engine.cached(hash) {
            return Ok(p);
        }
        let bytes = self
            .store
            .plugin_wasm(hash)?
            .ok_or_else(|| RegistryError::UnknownVersion(hash.to_owned()))?;
        Ok(engine.load(&bytes)?)
    }

    fn bound(&self, room: &str, name: &str) -> Result<Binding, RegistryError> {
        self.store
            .binding(room, name)?
            .ok_or_else(|| RegistryError::NotBound {
                room: room.to_owned(),
                name: name.to_owned(),
            })
    }
}

/// The manifest's example config, if it has one, must be one the plugin accepts.
pub fn check_example_config(
    engine: &PluginEngine,
    plugin: &Arc<CompiledPlugin>,
) -> Result<(), RegistryError> {
    let Some(example) = &plugin.manifest.example_config else {
        return Ok(());
    };
    try_config(engine, plugin, "example", example).map_err(|e| match e {
        RegistryError::InvalidConfig(why) => {
            InvalidPlugin::Manifest(format!("its example config is refused: {why}")).into()
        }
        other => other,
    })
}

/// Run `config` through a throwaway instance of `plugin` with a `config-changed` event.
fn try_config(
    engine: &PluginEngine,
    plugin: &Arc<CompiledPlugin>,
    room: &str,
    config: &str,
) -> Result<(), RegistryError> {
    use super::model::{EventBody, EventRecord};
    let env = RoomEnv {
        seeds: Default::default(),
        room_id: room.to_owned(),
        room: Arc::new(super::env::SharedRoom::new(room)),
        catalog: Arc::new(crate::catalog::MemoryCatalog::default()),
        kv: Arc::new(super::kv::MemoryKv::default()),
    };
    let mut slot = super::slot::PluginSlot::new(engine, plugin.clone(), config, env)
        .map_err(|e| RegistryError::State(e.to_string()))?;
    let event = EventRecord {
        seed: None,
        id: 1,
        room: room.to_owned(),
        time_ms: now_ms(),
        media_ms: None,
        body: EventBody::ConfigChanged {},
    };
    match slot.handle(engine, &[event.to_wit()]).fault {
        None | Some(Fault::Host(_)) => Ok(()),
        Some(Fault::Plugin(message)) => {
            // The SDK says "configure: invalid config: …"; the error says "invalid config".
            let reason = message.strip_prefix("configure: ").unwrap_or(&message);
            let reason = reason.strip_prefix("invalid config: ").unwrap_or(reason);
            Err(RegistryError::InvalidConfig(format!(
                "the plugin refused it: {reason}"
            )))
        }
        Some(fault) => Err(RegistryError::InvalidConfig(format!(
            "the plugin failed while reading it: {fault}"
        ))),
    }
}

/// Config must be a JSON object; returns it re-serialized compactly.
pub fn normalize_config(config: &str) -> Result<String, RegistryError> {
    if config.trim().is_empty() {
        return Ok("{}".into());
    }
    let value: serde_json::Value = serde_json::from_str(config)
        .map_err(|e| RegistryError::InvalidConfig(format!("not valid JSON: {e}")))?;
    if !value.is_object() {
        return Err(RegistryError::InvalidConfig(
            "must be a JSON object, e.g. {\"thresholds\": [...]}".into(),
        ));
    }
    Ok(value.to_string())
}

/// The manifest as merchants see it.
pub fn manifest_json(plugin: &CompiledPlugin) -> serde_json::Value {
    use super::bindings::{capability_name, event_kind_name};
    let m = &plugin.manifest;
    serde_json::json!({
        "name": m.name,
        "version": m.version,
        "description": m.description,
        "capabilities": m.capabilities.iter().map(|c| capability_name(*c)).collect::<Vec<_>>(),
        "events": m.events.iter().map(|k| event_kind_name(*k)).collect::<Vec<_>>(),
        "example_config": m.example_config,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_normalized_config_normalizes_to_itself_floats_included() {
        // Fuzzing (plugin_config) found floats that drifted by one ulp on every save.
        for config in [
            r#"{ "max_quese": 666666666666666666666666666666666666666666 }"#,
            r#"{"max_qn":6.666666666666668e+40,"note":666.6666666666667}"#,
            r#"{"a":4.6666666666666667e+95,"b":[1e-300,0.1,-0.0]}"#,
        ] {
            let once = normalize_config(config).expect("valid");
            assert_eq!(normalize_config(&once).expect("valid"), once, "{config}");
        }
    }
}
