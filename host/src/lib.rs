//! livecart: a live-commerce streaming host.
//!
//! The library behind the `livecart` binary. See ARCHITECTURE.md for the code map.

pub mod ai;
pub mod api;
pub mod auth;
pub mod catalog;
pub mod cli;
pub mod media;
pub mod metrics;
pub mod plugin;
pub mod random;
pub mod room;
pub mod runner;
pub mod server;
pub mod store;
pub mod web;
