//! Durable state: a facade over the store crates, so the host names one module.
//!
//! The traits, record types and errors are `livecart-store`'s (re-exported here whole);
//! each engine is a crate of its own behind them: `livecart-store-sqlite` (the embedded
//! default). The rest of the host holds an `Arc<dyn Store>` and never knows which engine
//! it has. What stays here is host logic over the traits: [`CommitQueue`], the group
//! commit of claims and buys, and [`StoreCatalog`], the store as the plugins' [`Catalog`].
//!
//! [`Catalog`]: crate::catalog::Catalog

mod catalog;
mod commit_queue;

pub use catalog::StoreCatalog;
pub use commit_queue::CommitQueue;
pub use livecart_store::*;
pub use livecart_store_sqlite::SqliteStore;
