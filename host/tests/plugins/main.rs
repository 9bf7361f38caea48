//! Plugin platform tests through the real runtime: the example plugins, every hostile
//! fixture, upload validation and the registry. Needs the built plugins in
//! `target/plugins` (`./scripts/test.sh` builds them first).

mod bombs;
mod capacity;
mod common;
mod examples;
mod hostile;
mod languages;
mod random;
mod registry;
mod validation;
