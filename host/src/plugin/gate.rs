//! The capability gate: the one place that decides what a plugin may do.
//!
//! Every action a plugin returns and every host call it makes passes through here, and
//! upload validation uses the same table to refuse components that import an interface
//! their manifest did not ask for. No other module checks capabilities.
//!
//! Threat model: a malicious plugin can return any action and call any import it linked.
//! What it cannot do is get an effect the merchant did not grant: the host applies an
//! action only after [`check_action`] and answers an import only after [`check_call`].

use super::bindings::{Action, Capability, capability_name};

/// The capabilities a plugin was granted, as a bit set.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Grants(u16);

fn bit(cap: Capability) -> u16 {
    1 << (cap as u16)
}

impl Grants {
    /// Grants exactly the listed capabilities.
    pub fn of(caps: &[Capability]) -> Self {
        Grants(caps.iter().fold(0, |acc, c| acc | bit(*c)))
    }

    /// Whether `cap` is granted.
    pub fn has(self, cap: Capability) -> bool {
        self.0 & bit(cap) != 0
    }
}

/// A refused action or call, with what it needed.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("capability `{}` not granted: {what} needs it", capability_name(*.capability))]
pub struct Denied {
    /// The capability that was missing.
    pub capability: Capability,
    /// What the plugin tried, e.g. "action unlock-coupon" or "import livecart:plugin/kv".
    pub what: String,
}

/// The capability an action needs.
pub fn required_for(action: &Action) -> Capability {
    match action {
        Action::PushProduct(_) => Capability::ProductPush,
        Action::UnlockCoupon(_) | Action::IssueCoupon(_) => Capability::Coupons,
        Action::SystemMessage(_) | Action::Reply(_) => Capability::Messages,
        Action::PinComment(_) | Action::HideComment(_) => Capability::Moderation,
        Action::StartFlashSale(_) => Capability::FlashSales,
        Action::SetTimer(_) | Action::CancelTimer(_) => Capability::Timers,
        Action::AskAi(_) => Capability::Ai,
        Action::Metric(_) => Capability::Metrics,
    }
}

/// Check one action against the grants.
pub fn check_action(grants: Grants, action: &Action) -> Result<(), Denied> {
    let capability = required_for(action);
    if grants.has(capability) {
        Ok(())
    } else {
        Err(Denied {
            capability,
            what: format!("action {}", super::bindings::action_name(action)),
        })
    }
}

/// A host call that needs a capability.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum HostCall {
    /// Any `kv` function.
    Kv,
    /// `room.snapshot`.
    RoomSnapshot,
    /// Any `catalog` function.
    Catalog,
    /// `random.seed`.
    Random,
}

/// Check one host call against the grants.
pub fn check_call(grants: Grants, call: HostCall) -> Result<(), Denied> {
    let (capability, what) = match call {
        HostCall::Kv => (Capability::Kv, "call kv"),
        HostCall::RoomSnapshot => (Capability::RoomRead, "call room.snapshot"),
        HostCall::Catalog => (Capability::CatalogRead, "call catalog"),
        HostCall::Random => (Capability::Random, "call random.seed"),
    };
    if grants.has(capability) {
        Ok(())
    } else {
        Err(Denied {
            capability,
            what: what.to_owned(),
        })
    }
}

/// What importing an interface requires.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ImportRule {
    /// Always granted (`log`, `config`, shared types).
    Free,
    /// Needs a capability.
    Gated(Capability),
    /// Not part of the contract.
    Unknown,
}

/// The rule for importing a contract interface.
pub fn import_rule(interface: &str) -> ImportRule {
    match interface {
        "livecart:plugin/log@0.1.0"
        | "livecart:plugin/config@0.1.0"
        | "livecart:plugin/types@0.1.0"
        | "livecart:plugin/types@0.2.0" => ImportRule::Free,
        "livecart:plugin/kv@0.1.0" => ImportRule::Gated(Capability::Kv),
        "livecart:plugin/room@0.1.0" => ImportRule::Gated(Capability::RoomRead),
        "livecart:plugin/catalog@0.1.0" => ImportRule::Gated(Capability::CatalogRead),
        "livecart:plugin/random@0.2.0" => ImportRule::Gated(Capability::Random),
        _ => ImportRule::Unknown,
    }
}

/// Check a component's contract imports against the grants it asked for.
pub fn check_import(grants: Grants, interface: &str) -> Result<(), Denied> {
    match import_rule(interface) {
        ImportRule::Gated(capability) if !grants.has(capability) => Err(Denied {
            capability,
            what: format!("import {interface}"),
        }),
        _ => Ok(()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::plugin::bindings::IssueCoupon;

    #[test]
    fn coupon_action_without_coupons_grant_is_denied() {
        let grants = Grants::of(&[Capability::Messages]);
        let action = Action::IssueCoupon(IssueCoupon {
            coupon_id: "c1".into(),
            user_id: "u1".into(),
        });
        let denied = check_action(grants, &action).expect_err("must be denied");
        assert_eq!(
            denied.to_string(),
            "capability `coupons` not granted: action issue-coupon needs it"
        );
        assert!(check_action(Grants::of(&[Capability::Coupons]), &action).is_ok());
    }

    #[test]
    fn kv_import_needs_kv_grant() {
        assert!(check_import(Grants::default(), "livecart:plugin/log@0.1.0").is_ok());
        let denied = check_import(Grants::default(), "livecart:plugin/kv@0.1.0")
            .expect_err("kv import needs kv");
        assert_eq!(denied.capability, Capability::Kv);
        assert!(check_call(Grants::of(&[Capability::Kv]), HostCall::Kv).is_ok());
        assert!(check_call(Grants::default(), HostCall::Catalog).is_err());
    }

    #[test]
    fn random_import_and_call_need_the_random_grant() {
        let denied = check_import(Grants::default(), "livecart:plugin/random@0.2.0")
            .expect_err("random import needs random");
        assert_eq!(
            denied.to_string(),
            "capability `random` not granted: import livecart:plugin/random@0.2.0 needs it"
        );
        let denied = check_call(Grants::of(&[Capability::Kv]), HostCall::Random)
            .expect_err("random call needs random");
        assert_eq!(denied.what, "call random.seed");
        assert!(check_call(Grants::of(&[Capability::Random]), HostCall::Random).is_ok());
        assert!(check_import(Grants::default(), "livecart:plugin/types@0.2.0").is_ok());
    }
}
