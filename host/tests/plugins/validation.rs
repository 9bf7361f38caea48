//! Upload validation: each bad input gets its precise error and the registry is unchanged.

use crate::common::*;
use livecart::plugin::InvalidPlugin;
use livecart::plugin::registry::{Registry, RegistryError};
use livecart::store::SqliteStore;
use std::sync::Arc;

fn registry() -> Registry {
    Registry::new(Arc::new(SqliteStore::in_memory().expect("store")))
}

fn refused(bytes: &[u8]) -> InvalidPlugin {
    let reg = registry();
    let err = match reg.upload(epoch_engine(), "m1", bytes) {
        Err(RegistryError::Invalid(e)) => e,
        Err(other) => panic!("expected an invalid-plugin error, got {other}"),
        Ok((v, _)) => panic!("accepted {}", v.name),
    };
    assert!(
        reg.versions("m1", None).expect("versions").is_empty(),
        "registry unchanged"
    );
    err
}

#[test]
fn not_wasm_is_refused() {
    assert_eq!(refused(b"#!/bin/sh\necho hi\n"), InvalidPlugin::NotWasm);
}

#[test]
fn core_module_is_refused_with_a_hint() {
    // The smallest valid core module: magic and version 1.
    let err = refused(b"\0asm\x01\0\0\0");
    assert_eq!(err, InvalidPlugin::CoreModule);
    assert!(err.to_string().contains("livecart plugin build"));
}

#[test]
fn component_for_another_world_is_refused() {
    let err = refused(&plugin_bytes("other-world"));
    assert_eq!(
        err.to_string(),
        "the component does not export `livecart:plugin/guest@0.2.0` or `livecart:plugin/guest@0.1.0`: it was built for another world (its exports: render)"
    );
}

#[test]
fn import_without_its_capability_is_refused() {
    let err = refused(&plugin_bytes("sneaky"));
    assert_eq!(
        err.to_string(),
        "the component imports an interface its manifest did not ask for: capability `catalog-read` not granted: import livecart:plugin/catalog@0.1.0 needs it"
    );
}

#[test]
fn oversized_file_is_refused_before_parsing() {
    // The transport cap: what a plugin may hold is judged by its code (policy.rs).
    let mut bytes = plugin_bytes("hello");
    bytes.resize((64 << 20) + 1, 0);
    assert_eq!(
        refused(&bytes),
        InvalidPlugin::TooLarge {
            size: (64 << 20) + 1,
            limit: 64 << 20
        }
    );
}

#[test]
fn garbage_after_a_component_header_is_refused() {
    let err = refused(b"\0asm\x0d\0\x01\0garbage");
    assert_eq!(
        err.to_string(),
        "invalid component: unexpected end-of-file (at offset 0xa)"
    );
}

#[test]
fn invalid_config_json_is_refused_and_nothing_is_enabled() {
    let reg = registry();
    let (v, _) = reg
        .upload(epoch_engine(), "m1", &plugin_bytes("like-coupon"))
        .expect("upload");
    for (config, want) in [
        (
            "{\"thresholds\": [",
            "invalid config: not valid JSON: EOF while parsing a list at line 1 column 16",
        ),
        (
            "[1, 2]",
            "invalid config: must be a JSON object, e.g. {\"thresholds\": [...]}",
        ),
    ] {
        let err = reg
            .enable(epoch_engine(), "room-1", &v.hash, config)
            .expect_err("refused");
        assert_eq!(err.to_string(), want);
    }
    assert!(reg.bindings("room-1").expect("bindings").is_empty());
}

#[test]
fn a_config_the_plugin_cannot_use_is_refused_at_enable_with_its_own_message() {
    let reg = registry();
    let (v, _) = reg
        .upload(epoch_engine(), "m1", &plugin_bytes("keyword-push"))
        .expect("upload");
    let err = reg
        .enable(epoch_engine(), "room-1", &v.hash, "{}")
        .expect_err("refused");
    assert!(matches!(err, RegistryError::InvalidConfig(_)), "{err}");
    assert_eq!(
        err.to_string(),
        "invalid config: the plugin refused it: missing field `rules` at line 1 column 2"
    );
    assert!(reg.bindings("room-1").expect("bindings").is_empty());
    // Its sample config is accepted.
    reg.enable(
        epoch_engine(),
        "room-1",
        &v.hash,
        &repo_file("plugins/keyword-push/config.json"),
    )
    .expect("the sample config is accepted");
}
