//! Analytics of product pushes: what was pushed, which viewers displayed it, who clicked,
//! claimed and bought, per product per minute per A/B variant, and the CSV export.
//!
//! Attribution rules:
//! - a push counts in the minute of its `server_send_ms`, under its own variant;
//! - a display is an ack with `displayed_ms`, in that minute, under the ack's variant (or
//!   the push's); acks are unique per push × user, the first value of each field wins;
//! - a click is unique per push × user (the first one counts), in its own minute, under
//!   its variant (or the push's);
//! - a claim counts only when tagged with a push (see [`CouponStore::tag_claim`] and
//!   [`CouponStore::claim_coupons`]): under that push's product, in the claim's
//!   minute;
//! - a purchase is any order of the product in one of the merchant's rooms, in the order's
//!   minute, under the variant it was tagged with ([`SaleStore::tag_order`]) or `""`.
//!
//! Clicks and claims belong to the room of their push; variants are whatever the rooms
//! layer assigned (with [`ab_variant`]) — a client-supplied variant is untrusted text, so
//! the CSV export neutralizes spreadsheet formulas.
//!
//! [`CouponStore::tag_claim`]: crate::CouponStore::tag_claim
//! [`CouponStore::claim_coupons`]: crate::CouponStore::claim_coupons
//! [`SaleStore::tag_order`]: crate::SaleStore::tag_order

use crate::StoreError;
use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};
use std::fmt::Write as _;

/// A product card sent to a room.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Push {
    pub push_id: String,
    pub room_id: String,
    pub product_id: String,
    /// The A/B variant of the card when the whole push uses one.
    #[serde(default)]
    pub variant: Option<String>,
    pub server_send_ms: u64,
    /// The media timestamp the card belongs to (for replays), if known.
    #[serde(default)]
    pub media_ms: Option<u64>,
    /// `"host"` or `"plugin:<name>"`.
    pub source: String,
}

/// A viewer's acknowledgement of a push: received and (maybe) displayed.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Ack {
    pub push_id: String,
    #[serde(default)]
    pub variant: Option<String>,
    #[serde(default)]
    pub received_ms: Option<u64>,
    #[serde(default)]
    pub displayed_ms: Option<u64>,
    /// The video's media time (ms on the live's presentation timeline) when the card was
    /// displayed: with the push's `media_ms`, the card's sync error.
    #[serde(default)]
    pub displayed_media_ms: Option<u64>,
}

/// A viewer's click on a pushed card.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Click {
    pub push_id: String,
    pub product_id: String,
    pub user_id: String,
    #[serde(default)]
    pub variant: Option<String>,
    pub at_ms: u64,
}

/// One product × variant in one minute.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct MinuteRow {
    /// The minute's start, Unix ms.
    pub minute_ms: u64,
    pub product_id: String,
    /// `""` when none.
    pub variant: String,
    pub pushes: u64,
    pub displays: u64,
    pub clicks: u64,
    pub claims: u64,
    pub purchases: u64,
    /// Clicks per display; 0 when nothing was displayed.
    pub ctr: f64,
    /// Purchases per click; 0 when nothing was clicked.
    pub conversion: f64,
}

/// The variants of the product-card experiment, whose name is the room id.
pub const CARD_VARIANTS: &[&str] = &["a", "b"];

/// The A/B variant of `user_id` in `experiment`: SHA-256 of `experiment:user_id`, its
/// first 8 bytes as a big-endian u64, modulo the number of variants. Empty when there are
/// no variants.
pub fn ab_variant(user_id: &str, experiment: &str, variants: &[&str]) -> String {
    if variants.is_empty() {
        return String::new();
    }
    let digest = Sha256::new()
        .chain_update(experiment.as_bytes())
        .chain_update(b":")
        .chain_update(user_id.as_bytes())
        .finalize();
    let mut first = [0u8; 8];
    first.copy_from_slice(&digest[..8]);
    let n = u64::from_be_bytes(first);
    let len = variants.len() as u64;
    let index = usize::try_from(n % len).unwrap_or(0);
    variants[index].to_owned()
}

/// Pushes, viewer acks and clicks, and the per-minute numbers over them.
///
/// Contract: every write is idempotent — a push is unique by `push_id`, an ack and a click
/// by push × user, and a repeat never counts twice (the first value of each field wins);
/// an ack batch is applied all or nothing. Reads follow the attribution rules of this
/// module; time ranges are `[from_ms, to_ms)`.
pub trait AnalyticsStore {
    /// Record a push. Returns whether it was new (a repeated `push_id` is ignored).
    fn record_push(&self, push: &Push) -> Result<bool, StoreError>;

    /// One push by id.
    fn push(&self, push_id: &str) -> Result<Option<Push>, StoreError>;

    /// A room's pushes sent in `[from_ms, to_ms)`, in send order (for replays).
    fn pushes_of_room(
        &self,
        room_id: &str,
        from_ms: u64,
        to_ms: u64,
    ) -> Result<Vec<Push>, StoreError>;

    /// Record a batch of one viewer's acks in one transaction. A repeated ack for the same
    /// push and user changes nothing, except that it fills in a field still empty (an ack
    /// with `received_ms` first, then one with `displayed_ms`).
    fn record_acks(&self, room_id: &str, user_id: &str, acks: &[Ack]) -> Result<(), StoreError>;

    /// Record a click. Returns whether it was the user's first click on that push (only
    /// the first counts).
    fn record_click(&self, click: &Click) -> Result<bool, StoreError>;

    /// Per-minute numbers for the merchant's rooms (or one of them) with events in
    /// `[from_ms, to_ms)`, sorted by minute, product and variant.
    fn analytics_by_minute(
        &self,
        merchant_id: &str,
        room_id: Option<&str>,
        from_ms: u64,
        to_ms: u64,
    ) -> Result<Vec<MinuteRow>, StoreError>;
}

/// `num / den`, or 0 when `den` is 0.
pub fn ratio(num: u64, den: u64) -> f64 {
    if den == 0 {
        0.0
    } else {
        num as f64 / den as f64
    }
}

/// The rows as CSV: a header line, then one line per row with the minute in RFC 3339 UTC
/// and the ratios with four decimals. Text fields are quoted when needed, and ones a
/// spreadsheet would run as a formula get a leading `'`.
pub fn analytics_csv(rows: &[MinuteRow]) -> String {
    let mut out = String::from(
        "minute,product_id,variant,pushes,displays,clicks,claims,purchases,ctr,conversion\n",
    );
    for r in rows {
        // Writing to a String cannot fail.
        let _ = writeln!(
            out,
            "{},{},{},{},{},{},{},{},{:.4},{:.4}",
            rfc3339_utc(r.minute_ms),
            csv_field(&r.product_id),
            csv_field(&r.variant),
            r.pushes,
            r.displays,
            r.clicks,
            r.claims,
            r.purchases,
            r.ctr,
            r.conversion
        );
    }
    out
}

/// One CSV text field: formula starters defused, quoted if it holds a separator or quote.
fn csv_field(s: &str) -> String {
    let defused = if s.starts_with(['=', '+', '-', '@', '\t', '\r']) {
        format!("'{s}")
    } else {
        s.to_owned()
    };
    if defused.contains([',', '"', '\n', '\r']) {
        format!("\"{}\"", defused.replace('"', "\"\""))
    } else {
        defused
    }
}

/// Unix ms as RFC 3339 UTC to the second, e.g. `2026-11-21T19:05:00Z`.
pub fn rfc3339_utc(ms: u64) -> String {
    let secs = ms / 1000;
    let days = secs / 86_400;
    let rem = secs % 86_400;
    let (y, m, d) = civil_from_days(days);
    format!(
        "{y:04}-{m:02}-{d:02}T{:02}:{:02}:{:02}Z",
        rem / 3600,
        rem % 3600 / 60,
        rem % 60
    )
}

/// The proleptic Gregorian date of a day count since 1970-01-01 (Howard Hinnant's
/// `civil_from_days`, for non-negative days).
fn civil_from_days(days: u64) -> (u64, u64, u64) {
    let z = days + 719_468;
    let era = z / 146_097;
    let doe = z - era * 146_097;
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let d = doy - (153 * mp + 2) / 5 + 1;
    let m = if mp < 10 { mp + 3 } else { mp - 9 };
    let y = yoe + era * 400 + u64::from(m <= 2);
    (y, m, d)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rfc3339_matches_known_instants() {
        assert_eq!(rfc3339_utc(0), "1970-01-01T00:00:00Z");
        assert_eq!(rfc3339_utc(951_782_400_000), "2000-02-29T00:00:00Z");
        assert_eq!(rfc3339_utc(1_795_287_900_000), "2026-11-21T19:05:00Z");
    }

    #[test]
    fn csv_fields_are_quoted_and_defused() {
        assert_eq!(csv_field("p1"), "p1");
        assert_eq!(csv_field("a,b"), "\"a,b\"");
        assert_eq!(csv_field("say \"hi\""), "\"say \"\"hi\"\"\"");
        assert_eq!(csv_field("=HYPERLINK(1)"), "'=HYPERLINK(1)");
    }
}
