//! Merchants and their API tokens: what the operator creates, lists, disables and
//! re-enables, and the tokens it issues, rotates and revokes. Only the SHA-256 of a token
//! is ever stored.

use crate::StoreError;
use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};

/// The longest display name of a merchant, in characters.
pub const MAX_NAME_CHARS: usize = 80;
/// The longest label of an API token, in characters.
pub const MAX_LABEL_CHARS: usize = 60;

/// A merchant account.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct Merchant {
    pub id: String,
    /// The shop's display name (what the console shows).
    pub name: String,
    pub created_ms: u64,
    /// When the operator disabled this merchant; `None` while it is enabled.
    pub disabled_ms: Option<u64>,
}

impl Merchant {
    /// Whether the merchant may use its tokens, room tokens and stream keys.
    pub fn is_enabled(&self) -> bool {
        self.disabled_ms.is_none()
    }
}

/// One API token of a merchant, as the operator sees it: never the secret itself.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct ApiToken {
    /// `tk_` and 12 hex digits; names the token for rotation and revocation.
    pub id: String,
    pub merchant_id: String,
    /// What the operator called it ("initial", "ci", "shop tablet"…); may be empty.
    pub label: String,
    pub created_ms: u64,
    /// When it was revoked (or rotated away); a revoked token never works again.
    pub revoked_ms: Option<u64>,
}

/// What the operator allows one merchant's plugins instead of the node's defaults. Only the
/// fields that are set override; every value stays under the node's ceiling, which the
/// host applies on top.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct PluginLimits {
    /// Bytes of code (function bodies) one plugin may hold; the compile deadline follows.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub max_code_bytes: Option<u64>,
}

impl PluginLimits {
    /// Whether nothing is overridden.
    pub fn is_empty(&self) -> bool {
        self.max_code_bytes.is_none()
    }
}

/// What the database keeps of a token: its SHA-256, hex-encoded.
pub fn token_hash(token: &str) -> String {
    hex::encode(Sha256::digest(token.as_bytes()))
}

/// A display name, trimmed: 1 to [`MAX_NAME_CHARS`] characters, no control characters.
pub fn valid_name(name: &str) -> Result<String, StoreError> {
    let name = name.trim();
    let chars = name.chars().count();
    if chars == 0 || chars > MAX_NAME_CHARS {
        return Err(StoreError::Invalid(format!(
            "a merchant name must have 1 to {MAX_NAME_CHARS} characters"
        )));
    }
    if name.chars().any(char::is_control) {
        return Err(StoreError::Invalid(
            "a merchant name must not contain control characters".into(),
        ));
    }
    Ok(name.to_owned())
}

/// A token label, trimmed: at most [`MAX_LABEL_CHARS`] characters, no control characters.
pub fn valid_label(label: &str) -> Result<String, StoreError> {
    let label = label.trim();
    if label.chars().count() > MAX_LABEL_CHARS || label.chars().any(char::is_control) {
        return Err(StoreError::Invalid(format!(
            "a token label must have at most {MAX_LABEL_CHARS} characters and no control characters"
        )));
    }
    Ok(label.to_owned())
}

/// Merchant accounts and their API tokens.
///
/// Contract: a token's secret is shown once, by the call that issues it; the store keeps
/// only its hex SHA-256, so tokens stay valid when data moves between backends. Merchant
/// ids (`m_` and 12 hex digits), token ids (`tk_` and 12 hex digits) and token secrets
/// (`lc_` and 48 hex digits) are unique and random (OS CSPRNG). Lookups of an unknown or
/// empty token or id are `Ok(None)`, never an error; changing an unknown merchant, or a
/// token that is not that merchant's, is [`StoreError::NotFound`]; a change that the
/// current state already contradicts (disabling a disabled merchant, revoking a revoked
/// token) is [`StoreError::Conflict`] and changes nothing. Names and labels are validated
/// ([`StoreError::Invalid`]) and stored trimmed.
///
/// Disabling and revoking take effect at once, everywhere: the next
/// [`merchant_by_token`](Self::merchant_by_token) in any process sees them. An
/// implementation must therefore not cache token lookups (a Postgres one reads the token
/// and its merchant in one query per lookup, and changes them with one conditional
/// `UPDATE … WHERE disabled_ms IS NULL` / `WHERE revoked_ms IS NULL … RETURNING`, so two
/// operators racing to disable get one success and one conflict). A rotation revokes the
/// old token and issues its replacement in one transaction: never both valid, never
/// neither.
pub trait MerchantStore {
    /// Create an enabled merchant named `name` with a fresh API token labelled "initial",
    /// both in one transaction; the token's secret is returned once.
    fn create_merchant(&self, name: &str) -> Result<(Merchant, String), StoreError>;

    /// The merchant whose unrevoked API token this is, if any (`None` for an empty, unknown
    /// or revoked token). A *disabled* merchant is returned too, with `disabled_ms` set, so
    /// callers can say "disabled" rather than "invalid token"; they must refuse it.
    fn merchant_by_token(&self, token: &str) -> Result<Option<Merchant>, StoreError>;

    /// One merchant by id.
    fn merchant(&self, id: &str) -> Result<Option<Merchant>, StoreError>;

    /// Every merchant, enabled or not, in creation order.
    fn merchants(&self) -> Result<Vec<Merchant>, StoreError>;

    /// Disable (`true`) or re-enable (`false`) a merchant; returns it as stored afterwards.
    /// Disabling stamps `disabled_ms`; its tokens stay (revoked ones stay revoked) and work
    /// again once it is re-enabled. `Conflict` if it already is in that state.
    fn set_merchant_disabled(&self, id: &str, disabled: bool) -> Result<Merchant, StoreError>;

    /// A merchant's tokens, revoked ones included, in the order they were issued.
    /// `NotFound` for an unknown merchant.
    fn tokens_of(&self, merchant_id: &str) -> Result<Vec<ApiToken>, StoreError>;

    /// Issue another API token to a merchant (disabled or not: it works while the
    /// merchant is enabled); the secret is returned once.
    fn issue_token(&self, merchant_id: &str, label: &str)
    -> Result<(ApiToken, String), StoreError>;

    /// Replace one of a merchant's tokens: revoke it and issue a new one with the same
    /// label, in one transaction. `Conflict` if it is already revoked.
    fn rotate_token(
        &self,
        merchant_id: &str,
        token_id: &str,
    ) -> Result<(ApiToken, String), StoreError>;

    /// Revoke one of a merchant's tokens; it stops working at once. Returns the token as
    /// stored afterwards. `Conflict` if it is already revoked.
    fn revoke_token(&self, merchant_id: &str, token_id: &str) -> Result<ApiToken, StoreError>;

    /// The operator's plugin-limit override for a merchant; the empty override when none
    /// was set. `NotFound` for an unknown merchant. Read at every upload, never cached, so
    /// a change applies to the next upload on every node.
    fn plugin_limits(&self, merchant_id: &str) -> Result<PluginLimits, StoreError>;

    /// Replace a merchant's plugin-limit override (the empty one clears it); returns it as
    /// stored. `NotFound` for an unknown merchant. Plugins already uploaded stay.
    fn set_plugin_limits(
        &self,
        merchant_id: &str,
        limits: &PluginLimits,
    ) -> Result<PluginLimits, StoreError>;
}
