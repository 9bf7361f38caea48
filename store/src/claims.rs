//! A claim request: what [`CouponStore::claim_coupons`] decides, in batches (the host's
//! group commit) or one at a time.
//!
//! [`CouponStore::claim_coupons`]: crate::CouponStore::claim_coupons

/// One claim to decide.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ClaimRequest {
    pub coupon_id: String,
    pub user_id: String,
    /// The client's idempotency key; empty means "not idempotent".
    pub idempotency_key: String,
    pub now_ms: u64,
    /// The push the claim came from, and the claimer's A/B variant, for analytics.
    pub push_id: Option<String>,
    pub variant: Option<String>,
    /// Where it is claimed. Only a coupon offered there can be claimed: the room
    /// merchant's, bound to that room or to none. Any other reads as unknown.
    pub offered_in: Option<OfferedIn>,
    /// Issued to this viewer by the merchant's side (a plugin's `issue-coupon`, e.g. a
    /// lottery prize) rather than claimed: a locked coupon can be issued, and stays locked
    /// for everyone else. Quota, validity and the per-user limit still hold.
    pub issued: bool,
    /// The claimer is a guest (no identity minted by the merchant): refused by coupons for
    /// signed-in viewers only.
    pub guest: bool,
}

/// A room, as the place a coupon is claimed in.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct OfferedIn {
    pub merchant_id: String,
    pub room_id: String,
}

impl ClaimRequest {
    /// A claim with no analytics tags and no room restriction.
    pub fn new(coupon_id: &str, user_id: &str, idempotency_key: &str, now_ms: u64) -> Self {
        ClaimRequest {
            coupon_id: coupon_id.to_owned(),
            user_id: user_id.to_owned(),
            idempotency_key: idempotency_key.to_owned(),
            now_ms,
            push_id: None,
            variant: None,
            offered_in: None,
            issued: false,
            guest: false,
        }
    }

    /// The same request as an issue to the viewer (see [`ClaimRequest::issued`]).
    pub fn issue(mut self) -> Self {
        self.issued = true;
        self
    }
}
