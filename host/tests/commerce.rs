//! The commerce and analytics store against real SQLite files: merchant auth and tenancy
//! (disable, token issue/rotate/revoke), rooms,
//! product isolation, coupon claims and flash-sale buys (rules, idempotency, no oversell
//! under concurrency), persistence across reopen, per-minute analytics, CSV and A/B
//! assignment. Each concern has its own file under `tests/commerce/`.

#[path = "commerce/accounts.rs"]
mod accounts;
#[path = "commerce/analytics.rs"]
mod analytics;
#[path = "commerce/coupons.rs"]
mod coupons;
#[path = "commerce/flash.rs"]
mod flash;
#[path = "commerce/group_commit.rs"]
mod group_commit;
#[path = "commerce/persistence.rs"]
mod persistence;
#[path = "commerce/tenancy.rs"]
mod tenancy;

use livecart::catalog::{Faq, Product};
use livecart::store::{NewCoupon, SqliteStore, Store};
use std::path::Path;
use std::sync::Arc;

/// 2026-11-21T19:05:00Z.
pub(crate) const T0: u64 = 1_795_287_900_000;

pub(crate) fn open(dir: &Path) -> Arc<dyn Store> {
    Arc::new(SqliteStore::open(&dir.join("livecart.db")).expect("open store"))
}

pub(crate) fn product(id: &str, title: &str, price_cents: u64) -> Product {
    Product {
        id: id.into(),
        title: title.into(),
        price_cents,
        currency: "USD".into(),
        stock: 10,
        faq: vec![Faq {
            question: "Does it fit?".into(),
            answer: "Yes.".into(),
        }],
        specs: vec![("size".into(), "S, M, L".into())],
        ..Product::default()
    }
}

pub(crate) fn open_coupon(quota: u32, per_user_limit: u32) -> NewCoupon {
    NewCoupon {
        title: "5 off".into(),
        discount_cents: 500,
        quota,
        per_user_limit,
        unlocked: true,
        ..NewCoupon::default()
    }
}

/// Runs `per_thread` attempts on each of `threads` threads against one database file:
/// even threads share one `Store`, odd threads open their own connection, so both the
/// in-process lock and SQLite's file lock are exercised.
pub(crate) fn hammer<T: Send + 'static>(
    dir: &Path,
    threads: usize,
    attempt: impl Fn(&dyn Store, usize, usize) -> T + Send + Sync + 'static,
    per_thread: usize,
) -> Vec<T> {
    let shared = open(dir);
    let attempt = Arc::new(attempt);
    let barrier = Arc::new(std::sync::Barrier::new(threads));
    let handles: Vec<_> = (0..threads)
        .map(|t| {
            let store = if t % 2 == 0 {
                shared.clone()
            } else {
                open(dir)
            };
            let attempt = attempt.clone();
            let barrier = barrier.clone();
            std::thread::spawn(move || {
                barrier.wait();
                (0..per_thread)
                    .map(|i| attempt(&*store, t, i))
                    .collect::<Vec<T>>()
            })
        })
        .collect();
    handles
        .into_iter()
        .flat_map(|h| h.join().expect("thread"))
        .collect()
}
