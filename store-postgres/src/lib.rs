//! [`PostgresStore`]: every `livecart-store` trait over PostgreSQL, for several nodes
//! sharing one database.
//!
//! **Driver.** tokio-postgres with a deadpool-postgres pool. It needs no database at build
//! time (unlike sqlx's checked queries), so the workspace builds and tests on a machine
//! with no server; it is async and pipelines the statements of one task on its connection;
//! and it is plain SQL with typed rows, as the SQLite engine is.
//!
//! **Sync traits over an async driver.** The store traits are synchronous (the host calls
//! them from `spawn_blocking` threads, the group-commit thread and, at start, from async
//! code). Each call is therefore sent as a task to this store's own small tokio runtime
//! and the calling thread waits for its answer on a channel: this works from any thread,
//! where `Handle::block_on` would panic inside an async context. Dropping the store shuts
//! the runtime down in the background, which is allowed anywhere.
//!
//! **Guarantees.** Claims and buys are decided in one transaction per batch: it first locks
//! the rows of every coupon (or sale) the batch touches, in id order (`SELECT … FOR UPDATE`,
//! so batches of different nodes never deadlock), then decides each request in order in a
//! savepoint; the counter moves only by a conditional `UPDATE … WHERE claimed < quota
//! RETURNING`, and `idem_key` is `UNIQUE`, so a key used by a racing transaction on another
//! node ends in a replay or `KeyReused`, never a second claim. Merchant disables and token
//! revocations are conditional `UPDATE … RETURNING`s, and token lookups one query, never
//! cached.
//!
//! **Schema.** Numbered SQL files in `migrations/`, embedded with `include_str!`, applied in
//! order in one transaction and recorded in `schema_migrations`; an advisory lock
//! lets several nodes start at once.

mod analytics;
mod audience;
mod bag;
mod buy_batch;
mod claim_batch;
mod claims;
mod images;
mod merchants;
mod plugins;
mod rooms;
mod sales;

use deadpool_postgres::{Manager, ManagerConfig, Object, Pool, RecyclingMethod};
use livecart_store::StoreError;
use std::future::Future;
use std::time::Duration;
use tokio_postgres::error::SqlState;

/// The schema, one file per version; never edit a released file, add the next one.
const MIGRATIONS: &[(i32, &str)] = &[
    (1, include_str!("../migrations/0001_schema.sql")),
    (2, include_str!("../migrations/0002_plugin_limits.sql")),
    (3, include_str!("../migrations/0003_plugin_logs.sql")),
    (4, include_str!("../migrations/0004_signed_in_only.sql")),
    (5, include_str!("../migrations/0005_room_products.sql")),
    (6, include_str!("../migrations/0006_min_spend.sql")),
    (7, include_str!("../migrations/0007_skus.sql")),
    (8, include_str!("../migrations/0008_audience.sql")),
    (9, include_str!("../migrations/0009_images.sql")),
    (10, include_str!("../migrations/0010_latency_mode.sql")),
];

/// Any constant shared by every node: the advisory lock that serializes migrations.
const MIGRATION_LOCK: i64 = 0x6c69_7665_6361_7274;

/// Connections per node: the group commit needs one, API and room reads the rest.
const POOL_SIZE: usize = 16;

/// The PostgreSQL store. Cheap to share (`Arc<dyn Store>`); one pool per value.
pub struct PostgresStore {
    pool: Pool,
    runtime: Option<tokio::runtime::Runtime>,
}

impl std::fmt::Debug for PostgresStore {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("PostgresStore")
            .field("pool", &self.pool.status())
            .finish()
    }
}

impl PostgresStore {
    /// Connect to `url` (`postgres://user@host:port/db`, or the key-value form), check
    /// that the database answers, and migrate it. An unreachable database is an error
    /// here, at start, not at the first request.
    pub fn connect(url: &str) -> Result<Self, StoreError> {
        let config: tokio_postgres::Config = url
            .parse()
            .map_err(|e| StoreError::Invalid(format!("postgres url: {e}")))?;
        let runtime = tokio::runtime::Builder::new_multi_thread()
            .worker_threads(2)
            .thread_name("livecart-pg")
            .enable_all()
            .build()
            .map_err(|e| StoreError::Unavailable(format!("postgres runtime: {e}")))?;
        let manager = Manager::from_config(
            config,
            tokio_postgres::NoTls,
            ManagerConfig {
                recycling_method: RecyclingMethod::Fast,
            },
        );
        let pool = Pool::builder(manager)
            .max_size(POOL_SIZE)
            .runtime(deadpool_postgres::Runtime::Tokio1)
            .wait_timeout(Some(Duration::from_secs(10)))
            .create_timeout(Some(Duration::from_secs(5)))
            .build()
            .map_err(|e| StoreError::Unavailable(format!("postgres pool: {e}")))?;
        let store = PostgresStore {
            pool,
            runtime: Some(runtime),
        };
        store.run(|mut db| async move { migrate(&mut db).await })?;
        Ok(store)
    }

    /// Run `f` with a pooled connection on this store's runtime and wait for its answer.
    fn run<T, E, F, Fut>(&self, f: F) -> Result<T, E>
    where
        T: Send + 'static,
        E: From<StoreError> + Send + 'static,
        F: FnOnce(Object) -> Fut + Send + 'static,
        Fut: Future<Output = Result<T, E>> + Send + 'static,
    {
        let runtime = self
            .runtime
            .as_ref()
            .ok_or_else(|| StoreError::Unavailable("postgres store is shut down".into()))?;
        let pool = self.pool.clone();
        let (answer, wait) = std::sync::mpsc::sync_channel(1);
        runtime.spawn(async move {
            let result = match pool.get().await {
                Ok(db) => f(db).await,
                Err(e) => Err(StoreError::Unavailable(format!("postgres: {e}")).into()),
            };
            let _ = answer.send(result);
        });
        wait.recv()
            .map_err(|_| StoreError::Unavailable("postgres task ended without an answer".into()))?
    }
}

// Every trait, so the host can hold it as `Arc<dyn Store>`.
const _: fn() = || {
    fn is_store<T: livecart_store::Store>() {}
    is_store::<PostgresStore>();
};

impl Drop for PostgresStore {
    fn drop(&mut self) {
        if let Some(runtime) = self.runtime.take() {
            runtime.shutdown_background();
        }
    }
}

/// Apply every migration the database has not recorded, in one transaction,
/// under an advisory lock so that nodes starting together migrate once.
async fn migrate(db: &mut Object) -> Result<(), StoreError> {
    let tx = db.transaction().await?;
    tx.execute("SELECT pg_advisory_xact_lock($1)", &[&MIGRATION_LOCK])
        .await?;
    tx.batch_execute(
        "CREATE TABLE IF NOT EXISTS schema_migrations (
             version    INTEGER PRIMARY KEY,
             applied_ms BIGINT NOT NULL
         )",
    )
    .await?;
    let current: i32 = tx
        .query_one(
            "SELECT COALESCE(MAX(version), 0) FROM schema_migrations",
            &[],
        )
        .await?
        .try_get(0)?;
    for (version, sql) in MIGRATIONS.iter().filter(|(v, _)| *v > current) {
        tx.batch_execute(sql).await?;
        tx.execute(
            "INSERT INTO schema_migrations (version, applied_ms) VALUES ($1, $2)",
            &[
                version,
                &livecart_store::util::to_i64(livecart_store::now_ms()),
            ],
        )
        .await?;
        tracing::info!(version, "postgres store migrated");
    }
    tx.commit().await?;
    Ok(())
}

impl PostgresStore {
    /// The schema version the database is at (for tests and diagnostics).
    pub fn schema_version(&self) -> Result<i32, StoreError> {
        self.run(|db| async move {
            Ok(db
                .query_one(
                    "SELECT COALESCE(MAX(version), 0) FROM schema_migrations",
                    &[],
                )
                .await?
                .try_get(0)?)
        })
    }
}

/// Whether an error is a unique-constraint violation (a generated id or key that exists).
fn is_unique_violation(e: &StoreError) -> bool {
    matches!(e, StoreError::Postgres(p) if p.code() == Some(&SqlState::UNIQUE_VIOLATION))
}

/// Evaluate an attempt (an `.await`ed expression that draws fresh random ids) again while
/// it fails on a unique violation, a handful of times (a collision is already unlikely).
macro_rules! fresh_ids {
    ($attempt:expr) => {{
        let mut tries = 0;
        loop {
            match $attempt {
                Err(e) if crate::is_unique_violation(&e) && tries < 3 => tries += 1,
                other => break other,
            }
        }
    }};
}
pub(crate) use fresh_ids;

/// A stored BIGINT back as `u64` (negative values, never written, read as 0).
fn u64_at(row: &tokio_postgres::Row, i: usize) -> Result<u64, tokio_postgres::Error> {
    Ok(livecart_store::util::to_u64(row.try_get(i)?))
}

/// A stored BIGINT back as `u32`, saturating.
fn u32_at(row: &tokio_postgres::Row, i: usize) -> Result<u32, tokio_postgres::Error> {
    Ok(livecart_store::util::to_u32(row.try_get(i)?))
}

/// A nullable stored BIGINT back as `Option<u64>`.
fn opt_u64_at(row: &tokio_postgres::Row, i: usize) -> Result<Option<u64>, tokio_postgres::Error> {
    Ok(row
        .try_get::<_, Option<i64>>(i)?
        .map(livecart_store::util::to_u64))
}
