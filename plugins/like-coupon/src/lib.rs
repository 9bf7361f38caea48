//! like-coupon: unlock room coupons as the like total crosses thresholds.
//!
//! Config:
//! `{"thresholds":[{"likes":1000,"coupon":"c-1k","message":"1,000 likes! Coupon unlocked"}]}`.
//! `message` is optional (default: "1,000 likes! Coupon c-1k unlocked"). Each coupon is
//! unlocked at most once per room, ever: the KV key `unlocked:<coupon>` records it, set with
//! compare-and-set so that restarts and concurrent instances never unlock twice.
//! Needs `coupons`, `messages` and `kv`; subscribes to `likes`.

use livecart_sdk::prelude::*;
use serde::Deserialize;

#[derive(Deserialize)]
struct RawConfig {
    thresholds: Vec<RawThreshold>,
}

#[derive(Deserialize)]
struct RawThreshold {
    likes: u64,
    coupon: String,
    message: Option<String>,
}

/// One threshold, ready to use.
struct Threshold {
    likes: u64,
    coupon: String,
    message: String,
    /// `unlocked:<coupon>`, the KV key that records the unlock.
    key: String,
}

#[derive(Default)]
pub struct LikeCoupon {
    /// Ascending by `likes`.
    thresholds: Vec<Threshold>,
    /// Thresholds this instance knows are unlocked (a cache of the KV keys).
    unlocked: Vec<bool>,
}

/// Validate the config and sort its thresholds by `likes`.
fn thresholds_from(config: RawConfig) -> Result<Vec<Threshold>> {
    if config.thresholds.is_empty() {
        return Err("invalid config: `thresholds` must list at least one threshold".into());
    }
    let mut out: Vec<Threshold> = Vec::with_capacity(config.thresholds.len());
    for t in config.thresholds {
        if t.likes == 0 {
            return Err(format!(
                "invalid config: threshold for coupon {:?} has `likes` 0; it must be at least 1",
                t.coupon
            )
            .into());
        }
        if t.coupon.trim().is_empty() {
            return Err("invalid config: every threshold needs a non-empty `coupon`".into());
        }
        if out.iter().any(|o| o.coupon == t.coupon) {
            return Err(format!("invalid config: coupon {:?} appears twice", t.coupon).into());
        }
        let message = t.message.unwrap_or_else(|| {
            format!(
                "{} likes! Coupon {} unlocked",
                group_thousands(t.likes),
                t.coupon
            )
        });
        out.push(Threshold {
            likes: t.likes,
            key: format!("unlocked:{}", t.coupon),
            coupon: t.coupon,
            message,
        });
    }
    out.sort_by_key(|t| t.likes);
    Ok(out)
}

/// `1234567` → `"1,234,567"`.
fn group_thousands(n: u64) -> String {
    let digits = n.to_string();
    let mut out = String::with_capacity(digits.len() + digits.len() / 3);
    for (i, c) in digits.chars().enumerate() {
        if i > 0 && (digits.len() - i).is_multiple_of(3) {
            out.push(',');
        }
        out.push(c);
    }
    out
}

impl Plugin for LikeCoupon {
    fn manifest() -> Manifest {
        Manifest::new("like-coupon", "0.1.0")
            .example_config(include_str!("../config.json"))
            .describe("Unlocks coupons when the room's likes reach configured thresholds.")
            .capability(Capability::Coupons)
            .capability(Capability::Messages)
            .capability(Capability::Kv)
            .on(&[EventKind::Likes])
    }

    fn configure(&mut self, config: &Config) -> Result {
        self.thresholds = thresholds_from(config.parse()?)?;
        self.unlocked = vec![false; self.thresholds.len()];
        Ok(())
    }

    fn on_likes(&mut self, cx: &mut Context, likes: &Likes) -> Result {
        // Hot path: thresholds known unlocked are skipped and the first one not reached
        // ends the loop, so an event below the next threshold makes no host call.
        for (t, done) in self.thresholds.iter().zip(self.unlocked.iter_mut()) {
            if *done {
                continue;
            }
            if likes.total < t.likes {
                break;
            }
            // False means an earlier instance already unlocked it: just remember that.
            if kv::compare_and_set(&t.key, None, Some(b"1"))? {
                cx.unlock_coupon(&t.coupon);
                cx.system_message(t.message.clone());
            }
            *done = true;
        }
        Ok(())
    }
}

export_plugin!(LikeCoupon);

#[cfg(test)]
mod tests {
    use super::*;

    fn parse(json: &str) -> Result<Vec<Threshold>> {
        thresholds_from(Config::from_json(json).parse()?)
    }

    #[test]
    fn thresholds_are_sorted_and_defaulted() -> Result {
        let t = parse(
            r#"{"thresholds":[{"likes":10000,"coupon":"c-10k"},
                               {"likes":1000,"coupon":"c-1k","message":"yay"}]}"#,
        )?;
        assert_eq!(t[0].likes, 1000);
        assert_eq!(t[0].message, "yay");
        assert_eq!(t[0].key, "unlocked:c-1k");
        assert_eq!(t[1].message, "10,000 likes! Coupon c-10k unlocked");
        Ok(())
    }

    #[test]
    fn invalid_configs_are_rejected() {
        for bad in [
            "{}",
            r#"{"thresholds":[]}"#,
            r#"{"thresholds":[{"likes":0,"coupon":"c"}]}"#,
            r#"{"thresholds":[{"likes":5,"coupon":""}]}"#,
            r#"{"thresholds":[{"likes":5,"coupon":"c"},{"likes":6,"coupon":"c"}]}"#,
        ] {
            let err = parse(bad).err();
            assert!(
                err.as_ref()
                    .is_some_and(|e| e.0.starts_with("invalid config")),
                "{bad}: {err:?}"
            );
        }
    }

    #[test]
    fn thousands_are_grouped() {
        assert_eq!(group_thousands(7), "7");
        assert_eq!(group_thousands(999), "999");
        assert_eq!(group_thousands(1000), "1,000");
        assert_eq!(group_thousands(1234567), "1,234,567");
    }
}
