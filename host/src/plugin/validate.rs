//! Turning uploaded bytes into a [`CompiledPlugin`], or a precise reason why not.
//!
//! Checks run cheapest first: size, magic, component vs. core module, the static code
//! limits (`precheck`), compilation under its budget (`compile`), the
//! world's export, every import (known, and granted by the manifest), then the manifest
//! itself, read by calling `describe` in a sandboxed throwaway instance.

use super::bindings::{GUEST_EXPORT, GUEST_EXPORTS, GUEST_V1, GuestPre, Manifest};
use super::compile::CompileBudgetError;
use super::engine::{CompileError, CompiledPlugin, PluginEngine};
use super::env::{RoomEnv, SharedRoom};
use super::fault::Fault;
use super::gate::{self, Denied, Grants};
use super::host::HostState;
use super::kv::{KvSpace, MemoryKv};
use super::precheck::{self, CodeLimitExceeded};
use crate::catalog::MemoryCatalog;
use sha2::{Digest, Sha256};
use std::sync::Arc;
use wasmtime::component::types::ComponentItem;

/// Why bytes are not an uploadable plugin. Messages are shown to merchants as they are.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum InvalidPlugin {
    #[error("file is {size} bytes; the upload limit is {limit} bytes")]
    TooLarge { size: usize, limit: usize },
    #[error("not a WebAssembly file: it does not start with the `\\0asm` magic bytes")]
    NotWasm,
    #[error(
        "this is a core WebAssembly module, not a component: build it with `livecart plugin build`, or wrap it with `wasm-tools component new`"
    )]
    CoreModule,
    #[error("unsupported WebAssembly binary version/layer {0:02x?}")]
    UnknownVersion([u8; 4]),
    #[error("invalid component: {0}")]
    Compile(String),
    /// The code breaks a static limit (checked before compiling).
    #[error("{0}")]
    Code(CodeLimitExceeded),
    /// Compiling hit its time or memory budget, or the host could not compile now.
    #[error("{0}")]
    Budget(CompileBudgetError),
    #[error(
        "the component does not export `{GUEST_EXPORT}` or `{GUEST_V1}`: it was built for another world (its exports: {exports})"
    )]
    WrongWorld { exports: String },
    #[error(
        "the component targets `{found}`, but this host implements `{GUEST_EXPORT}` and `{GUEST_V1}`"
    )]
    ContractVersion { found: String },
    #[error("the component imports `{0}`, which livecart does not provide")]
    UnknownImport(String),
    #[error("the component imports an interface its manifest did not ask for: {0}")]
    Undeclared(Denied),
    #[error("linking failed: {0}")]
    Link(String),
    #[error("describe() failed: {0}")]
    Describe(Fault),
    #[error("invalid manifest: {0}")]
    Manifest(String),
}

/// WASI packages the host links (all denied, see `host::deny_all_wasi`).
const WASI_PACKAGES: &[&str] = &[
    "wasi:io/",
    "wasi:clocks/",
    "wasi:random/",
    "wasi:cli/",
    "wasi:filesystem/",
    "wasi:sockets/",
];

/// The content hash that names a plugin version.
pub fn content_hash(bytes: &[u8]) -> String {
    hex::encode(Sha256::digest(bytes))
}

impl PluginEngine {
    /// Validate and compile a plugin, or say precisely why it cannot be used. Compiles once
    /// per content hash; later loads of the same bytes are a map lookup.
    pub fn load(&self, bytes: &[u8]) -> Result<Arc<CompiledPlugin>, InvalidPlugin> {
        let limit = self.limits().max_upload_bytes;
        if bytes.len() > limit {
            return Err(InvalidPlugin::TooLarge {
                size: bytes.len(),
                limit,
            });
        }
        check_header(bytes)?;
        let hash = content_hash(bytes);
        if let Some(plugin) = self.cached(&hash) {
            return Ok(plugin);
        }
        let code = precheck::check(bytes, &self.limits().code, self.limits().memory_bytes)
            .map_err(InvalidPlugin::Code)?;
        let component = self.compile(&hash, bytes).map_err(|e| match e {
            CompileError::Wasmtime(e) => InvalidPlugin::Compile(format!("{e:#}")),
            CompileError::Budget(CompileBudgetError::Invalid(msg)) => InvalidPlugin::Compile(msg),
            CompileError::Budget(e) => InvalidPlugin::Budget(e),
        })?;
        let ty = component.component_type();

        let exports: Vec<String> = ty
            .exports(&self.engine)
            .map(|(n, _)| n.to_owned())
            .collect();
        let Some(export) = GUEST_EXPORTS
            .iter()
            .find(|want| exports.iter().any(|e| e == *want))
        else {
            if let Some(other) = exports
                .iter()
                .find(|e| e.starts_with("livecart:plugin/guest@"))
            {
                return Err(InvalidPlugin::ContractVersion {
                    found: other.clone(),
                });
            }
            return Err(InvalidPlugin::WrongWorld {
                exports: if exports.is_empty() {
                    "none".into()
                } else {
                    exports.join(", ")
                },
            });
        };

        let mut contract_imports = Vec::new();
        for (name, item) in ty.imports(&self.engine) {
            if !matches!(item.ty, ComponentItem::ComponentInstance(_)) {
                return Err(InvalidPlugin::UnknownImport(name.to_owned()));
            }
            if gate::import_rule(name) != gate::ImportRule::Unknown {
                contract_imports.push(name.to_owned());
            } else if !WASI_PACKAGES.iter().any(|p| name.starts_with(p)) {
                return Err(InvalidPlugin::UnknownImport(name.to_owned()));
            }
        }

        let instance_pre = self
            .linker
            .instantiate_pre(&component)
            .map_err(|e| InvalidPlugin::Link(format!("{e:#}")))?;
        let pre = GuestPre::new(export, instance_pre)
            .map_err(|e| InvalidPlugin::Link(format!("{e:#}")))?;

        let manifest = self.describe(&pre)?;
        check_manifest(&manifest)?;
        let grants = Grants::of(&manifest.capabilities);
        for name in &contract_imports {
            gate::check_import(grants, name).map_err(InvalidPlugin::Undeclared)?;
        }
        let subscriptions = manifest
            .events
            .iter()
            .fold(0u16, |acc, k| acc | (1 << *k as u16));

        let plugin = Arc::new(CompiledPlugin {
            hash,
            size: bytes.len(),
            code,
            manifest,
            grants,
            subscriptions,
            pre,
        });
        self.remember(plugin.clone());
        Ok(plugin)
    }

    /// Call `describe` in a throwaway instance that has no grants and an empty world.
    fn describe(&self, pre: &GuestPre<HostState>) -> Result<Manifest, InvalidPlugin> {
        let env = RoomEnv {
            seeds: Default::default(),
            room_id: String::new(),
            room: Arc::new(SharedRoom::new("")),
            catalog: Arc::new(MemoryCatalog::default()),
            kv: Arc::new(MemoryKv::default()),
        };
        let state = HostState::new(
            Grants::default(),
            Arc::from("{}"),
            env,
            KvSpace::new(self.limits().kv.clone(), Vec::new()),
            self.limits(),
        );
        let mut store = wasmtime::Store::new(&self.engine, state);
        store.limiter(|s| &mut s.limiter);
        self.arm(&mut store);
        let fuel = self.meter() == super::engine::CpuMeter::Fuel;
        let fault = |e| InvalidPlugin::Describe(Fault::from_call_error(e, self.limits(), fuel));
        let guest = pre.instantiate(&mut store).map_err(fault)?;
        guest.describe(&mut store).map_err(fault)
    }
}

fn check_header(bytes: &[u8]) -> Result<(), InvalidPlugin> {
    if bytes.len() < 8 || &bytes[..4] != b"\0asm" {
        return Err(InvalidPlugin::NotWasm);
    }
    let version = [bytes[4], bytes[5], bytes[6], bytes[7]];
    match version {
        [1, 0, 0, 0] => Err(InvalidPlugin::CoreModule),
        [_, _, 1, 0] => Ok(()),
        other => Err(InvalidPlugin::UnknownVersion(other)),
    }
}

/// The largest example config a manifest may carry.
pub const MAX_EXAMPLE_CONFIG: usize = 4096;

fn check_manifest(m: &Manifest) -> Result<(), InvalidPlugin> {
    let bad = |msg: String| Err(InvalidPlugin::Manifest(msg));
    let name_ok = !m.name.is_empty()
        && m.name.len() <= 64
        && m.name
            .bytes()
            .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-')
        && !m.name.starts_with('-');
    if !name_ok {
        return bad(format!(
            "name {:?} must be 1-64 lowercase letters, digits or '-', not starting with '-'",
            m.name
        ));
    }
    if m.version.is_empty() || m.version.len() > 32 {
        return bad(format!("version {:?} must be 1-32 bytes", m.version));
    }
    if m.description.len() > 280 {
        return bad(format!(
            "description is {} bytes; the limit is 280",
            m.description.len()
        ));
    }
    if m.events.is_empty() {
        return bad("it subscribes to no events, so it would never run".into());
    }
    if let Some(example) = &m.example_config {
        if example.len() > MAX_EXAMPLE_CONFIG {
            return bad(format!(
                "example config is {} bytes; the limit is {MAX_EXAMPLE_CONFIG}",
                example.len()
            ));
        }
        match serde_json::from_str::<serde_json::Value>(example) {
            Ok(v) if v.is_object() => {}
            Ok(_) => return bad("example config must be a JSON object".into()),
            Err(e) => return bad(format!("example config is not valid JSON: {e}")),
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn header_checks_name_the_problem() {
        assert_eq!(check_header(b"hello world"), Err(InvalidPlugin::NotWasm));
        assert_eq!(
            check_header(b"\0asm\x01\0\0\0"),
            Err(InvalidPlugin::CoreModule)
        );
        assert!(check_header(b"\0asm\x0d\0\x01\0").is_ok());
    }

    #[test]
    fn an_example_config_must_be_a_small_json_object() {
        let with = |example: &str| Manifest {
            name: "p".into(),
            version: "1".into(),
            description: String::new(),
            capabilities: Vec::new(),
            events: vec![crate::plugin::bindings::EventKind::Comment],
            example_config: Some(example.into()),
        };
        let msg = |example: &str| match check_manifest(&with(example)) {
            Err(e) => e.to_string(),
            Ok(()) => "ok".into(),
        };
        assert_eq!(msg(r#"{"a": 1}"#), "ok");
        assert_eq!(
            msg("[1]"),
            "invalid manifest: example config must be a JSON object"
        );
        assert!(msg("{").starts_with("invalid manifest: example config is not valid JSON"));
        let big = format!(r#"{{"a": "{}"}}"#, "x".repeat(MAX_EXAMPLE_CONFIG));
        assert_eq!(
            msg(&big),
            format!(
                "invalid manifest: example config is {} bytes; the limit is 4096",
                big.len()
            )
        );
    }
}
