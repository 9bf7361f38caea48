//! Unguessable identifiers and secrets, from the operating system's randomness (the one
//! source the store crates use too).

pub use livecart_store::random_hex;
