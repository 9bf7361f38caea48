//! Who may upload how much code: the node's default allowance, each merchant's override
//! from the operator, and the node's ceiling above both.
//!
//! The byte size of an upload is not what costs the host: an 18 MB CPython component is two
//! thirds data (its standard library) and compiles in about as long as 6.5 MB of code takes.
//! What an upload costs is its code (compile time and memory, the size of the compiled
//! artifact) and its linear memory. So the gate is the code a component holds, measured
//! from its code sections' headers before anything is validated or compiled; the
//! transport cap (`Limits::max_upload_bytes`) only stops absurd request bodies.
//!
//! Threat model: a merchant uploading a large component to take a compile slot for long.
//! The allowance bounds their code, the deadline (`CodeLimits::compile_deadline_ms`)
//! follows from it, and the node's `CodeLimits` still refuse every compile-bomb shape for
//! every merchant; an override can raise a merchant's allowance only up to the ceiling.

use super::limits::Limits;
use super::precheck::{self, CodeLimitExceeded};
use crate::store::PluginLimits;

/// What one merchant's upload may hold.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Allowance {
    /// Bytes of function bodies.
    pub max_code_bytes: usize,
}

impl Allowance {
    /// The node's default allowance with a merchant's override on top, capped at the
    /// node's ceiling.
    pub fn of(limits: &Limits, merchant: &PluginLimits) -> Self {
        let wanted = merchant
            .max_code_bytes
            .map_or(limits.merchant_code_bytes, |b| {
                usize::try_from(b).unwrap_or(usize::MAX)
            });
        Allowance {
            max_code_bytes: wanted.min(limits.code.max_code_bytes),
        }
    }

    /// Refuse `bytes` when they hold more code than this allowance. Cheap: reads section
    /// headers only, so it runs before the full check and the compile.
    pub fn admit(&self, bytes: &[u8]) -> Result<(), CodeLimitExceeded> {
        let found = precheck::code_bytes(bytes);
        if found > self.max_code_bytes {
            return Err(CodeLimitExceeded::MerchantCode {
                found,
                limit: self.max_code_bytes,
            });
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn an_override_raises_the_default_but_never_past_the_ceiling() {
        let limits = Limits::default();
        let none = PluginLimits::default();
        assert_eq!(
            Allowance::of(&limits, &none).max_code_bytes,
            limits.merchant_code_bytes
        );
        let more = PluginLimits {
            max_code_bytes: Some(32 << 20),
        };
        assert_eq!(Allowance::of(&limits, &more).max_code_bytes, 32 << 20);
        let absurd = PluginLimits {
            max_code_bytes: Some(u64::MAX),
        };
        assert_eq!(
            Allowance::of(&limits, &absurd).max_code_bytes,
            limits.code.max_code_bytes
        );
    }
}
