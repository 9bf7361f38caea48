//! Builder helpers for the plugin [`Manifest`].

use crate::{Capability, EventKind, Manifest};

impl Manifest {
    /// A manifest with a name and version, no capabilities and no subscriptions.
    pub fn new(name: &str, version: &str) -> Self {
        Manifest {
            name: name.to_owned(),
            version: version.to_owned(),
            description: String::new(),
            capabilities: Vec::new(),
            events: Vec::new(),
            example_config: None,
        }
    }

    /// A documented example config (a JSON object, at most 4 KiB) that the merchant
    /// console shows and offers, e.g. `include_str!("../config.json")`. The host checks at
    /// upload that the plugin accepts it.
    pub fn example_config(mut self, json: &str) -> Self {
        self.example_config = Some(json.to_owned());
        self
    }

    /// Set the one-line description shown in the merchant console.
    pub fn describe(mut self, description: &str) -> Self {
        self.description = description.to_owned();
        self
    }

    /// Ask for a capability.
    pub fn capability(mut self, capability: Capability) -> Self {
        if !self.capabilities.contains(&capability) {
            self.capabilities.push(capability);
        }
        self
    }

    /// Subscribe to event kinds.
    pub fn on(mut self, kinds: &[EventKind]) -> Self {
        for kind in kinds {
            if !self.events.contains(kind) {
                self.events.push(*kind);
            }
        }
        self
    }
}
