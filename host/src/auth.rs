//! Identities and signed tokens.
//!
//! WebSocket clients present a JWT (RFC 7519) signed with HMAC-SHA256 (`alg: HS256`) under
//! the host's configured secret; it names the user, their role in one room, and when it
//! expires. Viewers without a token get a guest identity. Merchants call the REST API with
//! API tokens (checked against the store, see `store::commerce`); the operator calls its
//! routes with the one [`OperatorToken`].

use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD as B64;
use hmac::{Hmac, Mac};
use serde::{Deserialize, Serialize};
use sha2::Sha256;

/// A user's role in a room. Order matters: a higher role may do what a lower one may.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Role {
    Viewer,
    Moderator,
    Host,
}

/// What a room token says.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Claims {
    /// User id.
    pub sub: String,
    /// Display name.
    pub name: String,
    /// The room this token is for.
    pub room: String,
    pub role: Role,
    /// Expiry, Unix seconds.
    pub exp: u64,
}

/// Why a token was refused. Messages are safe to show to clients.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum TokenError {
    #[error("token is malformed")]
    Malformed,
    #[error("token algorithm must be HS256")]
    Algorithm,
    #[error("token signature is invalid")]
    Signature,
    #[error("token has expired")]
    Expired,
}

/// Signs and verifies room tokens with one secret.
#[derive(Clone)]
pub struct TokenKey {
    secret: Vec<u8>,
}

impl std::fmt::Debug for TokenKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("TokenKey(..)")
    }
}

#[derive(Serialize, Deserialize)]
struct Header {
    alg: String,
    #[serde(default)]
    typ: Option<String>,
}

impl TokenKey {
    pub fn new(secret: &[u8]) -> Self {
        TokenKey {
            secret: secret.to_vec(),
        }
    }

    fn mac(&self) -> Hmac<Sha256> {
        // HMAC accepts keys of any length, so this cannot fail.
        <Hmac<Sha256> as Mac>::new_from_slice(&self.secret)
            .unwrap_or_else(|_| unreachable!("hmac takes any key length"))
    }

    /// A signed token for `claims`.
    pub fn sign(&self, claims: &Claims) -> String {
        let header = B64.encode(br#"{"alg":"HS256","typ":"JWT"}"#);
        let payload = B64.encode(serde_json::to_vec(claims).unwrap_or_default());
        let signing_input = format!("{header}.{payload}");
        let mut mac = self.mac();
        mac.update(signing_input.as_bytes());
        let sig = B64.encode(mac.finalize().into_bytes());
        format!("{signing_input}.{sig}")
    }

    /// Verify a token's signature and expiry against `now_s` (Unix seconds).
    pub fn verify(&self, token: &str, now_s: u64) -> Result<Claims, TokenError> {
        let mut parts = token.split('.');
        let (Some(h), Some(p), Some(s), None) =
            (parts.next(), parts.next(), parts.next(), parts.next())
        else {
            return Err(TokenError::Malformed);
        };
        let header: Header = B64
            .decode(h)
            .ok()
            .and_then(|b| serde_json::from_slice(&b).ok())
            .ok_or(TokenError::Malformed)?;
        if header.alg != "HS256" {
            return Err(TokenError::Algorithm);
        }
        let sig = B64.decode(s).map_err(|_| TokenError::Malformed)?;
        let mut mac = self.mac();
        mac.update(h.as_bytes());
        mac.update(b".");
        mac.update(p.as_bytes());
        // Constant-time comparison.
        mac.verify_slice(&sig).map_err(|_| TokenError::Signature)?;
        let claims: Claims = B64
            .decode(p)
            .ok()
            .and_then(|b| serde_json::from_slice(&b).ok())
            .ok_or(TokenError::Malformed)?;
        if claims.exp <= now_s {
            return Err(TokenError::Expired);
        }
        Ok(claims)
    }
}

/// The operator's credential: the one bearer token that may create, disable and issue
/// tokens to merchants (`/api/operator/…`, `livecart admin`).
///
/// Only an HMAC tag of the token is kept, and a presented token is checked by comparing
/// its tag in constant time (`verify_slice`), so neither the token's bytes nor its length
/// leak through timing.
#[derive(Clone)]
pub struct OperatorToken {
    tag: Vec<u8>,
}

impl std::fmt::Debug for OperatorToken {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("OperatorToken(..)")
    }
}

/// The shortest operator token `livecart serve` accepts from a flag or the environment.
pub const MIN_OPERATOR_TOKEN_LEN: usize = 16;

impl OperatorToken {
    /// The key of the tags; it need not be secret: it only makes every tag the same length.
    const TAG_KEY: &'static [u8] = b"livecart operator token v1";

    pub fn new(token: &str) -> Self {
        OperatorToken {
            tag: Self::mac(token).finalize().into_bytes().to_vec(),
        }
    }

    fn mac(token: &str) -> Hmac<Sha256> {
        let mut mac = <Hmac<Sha256> as Mac>::new_from_slice(Self::TAG_KEY)
            .unwrap_or_else(|_| unreachable!("hmac takes any key length"));
        mac.update(token.as_bytes());
        mac
    }

    /// Whether `presented` is the operator token (constant time; an empty token never is).
    pub fn matches(&self, presented: &str) -> bool {
        !presented.is_empty() && Self::mac(presented).verify_slice(&self.tag).is_ok()
    }
}

/// Unix seconds now.
pub fn now_s() -> u64 {
    crate::store::now_ms() / 1000
}

#[cfg(test)]
mod tests {
    use super::*;

    fn claims(exp: u64) -> Claims {
        Claims {
            sub: "u1".into(),
            name: "Ann".into(),
            room: "r1".into(),
            role: Role::Host,
            exp,
        }
    }

    #[test]
    fn operator_token_matches_itself_only() {
        let op = OperatorToken::new("op_0123456789abcdef");
        assert!(op.matches("op_0123456789abcdef"));
        for wrong in [
            "",
            "op_0123456789abcdeF",
            "op_0123456789abcde",
            "op_0123456789abcdef0",
        ] {
            assert!(!op.matches(wrong), "{wrong:?}");
        }
        assert!(!OperatorToken::new("").matches(""));
        assert_eq!(format!("{op:?}"), "OperatorToken(..)");
    }

    #[test]
    fn round_trip_and_every_refusal() {
        let key = TokenKey::new(b"secret");
        let token = key.sign(&claims(2_000));
        assert_eq!(key.verify(&token, 1_000), Ok(claims(2_000)));
        assert_eq!(key.verify(&token, 2_000), Err(TokenError::Expired));
        assert_eq!(
            TokenKey::new(b"other").verify(&token, 1_000),
            Err(TokenError::Signature)
        );
        assert_eq!(key.verify("abc", 1_000), Err(TokenError::Malformed));
        // A token claiming "none" must never pass.
        let none = format!(
            "{}.{}.",
            B64.encode(br#"{"alg":"none"}"#),
            token.split('.').nth(1).unwrap_or_default()
        );
        assert_eq!(key.verify(&none, 1_000), Err(TokenError::Algorithm));
        // Tampering with the payload breaks the signature.
        let mut parts: Vec<&str> = token.split('.').collect();
        let forged = B64.encode(serde_json::to_vec(&claims(9_999)).unwrap_or_default());
        parts[1] = &forged;
        assert_eq!(
            key.verify(&parts.join("."), 1_000),
            Err(TokenError::Signature)
        );
    }
}
