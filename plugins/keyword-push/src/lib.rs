//! keyword-push: push a product card when a comment mentions one of its keywords.
//!
//! Config:
//! `{"rules":[{"product":"sku-tee","keywords":["尺码","size","多大"],"style":"compact"}],
//!   "cooldown_ms":30000,"duration_ms":8000}`.
//! `style` is optional (room default), `cooldown_ms` defaults to 30000 and `duration_ms` to
//! 8000. Keywords match case-insensitively for ASCII letters. A keyword that begins (ends)
//! with a Latin letter or digit matches only at a word boundary there, so "hat" matches
//! "a hat?" but not "that" or "What"; CJK keywords match as substrings ("尺码" in
//! "这件有什么尺码"), as Chinese has no spaces between words. The first
//! matching rule wins, at most one push per comment, and each product is pushed at most once
//! per cooldown (event server time; last push kept in the KV key `last:<product>`).
//! Needs `product-push` and `kv`; subscribes to `comment`.

use livecart_sdk::prelude::*;
use serde::Deserialize;
use std::borrow::Cow;

#[derive(Deserialize)]
struct RawConfig {
    rules: Vec<RawRule>,
    #[serde(default = "default_cooldown_ms")]
    cooldown_ms: u64,
    #[serde(default = "default_duration_ms")]
    duration_ms: u32,
}

fn default_cooldown_ms() -> u64 {
    30_000
}

fn default_duration_ms() -> u32 {
    8_000
}

#[derive(Deserialize)]
struct RawRule {
    product: String,
    keywords: Vec<String>,
    style: Option<String>,
}

struct Rule {
    product: String,
    /// ASCII-lowercased once, at configure time.
    keywords: Vec<String>,
    style: Option<String>,
    /// `last:<product>`, the KV key holding the last push time (Unix ms).
    key: String,
}

#[derive(Default)]
pub struct KeywordPush {
    rules: Vec<Rule>,
    cooldown_ms: u64,
    duration_ms: u32,
}

impl KeywordPush {
    fn from_config(config: RawConfig) -> Result<Self> {
        if config.rules.is_empty() {
            return Err("invalid config: `rules` must list at least one rule".into());
        }
        let mut rules = Vec::with_capacity(config.rules.len());
        for r in config.rules {
            if r.product.trim().is_empty() {
                return Err("invalid config: every rule needs a non-empty `product`".into());
            }
            if r.keywords.is_empty() || r.keywords.iter().any(|k| k.trim().is_empty()) {
                return Err(format!(
                    "invalid config: rule for {:?} needs at least one keyword, none empty",
                    r.product
                )
                .into());
            }
            rules.push(Rule {
                key: format!("last:{}", r.product),
                keywords: r.keywords.iter().map(|k| k.to_ascii_lowercase()).collect(),
                product: r.product,
                style: r.style,
            });
        }
        Ok(KeywordPush {
            rules,
            cooldown_ms: config.cooldown_ms,
            duration_ms: config.duration_ms,
        })
    }

    /// The first rule with a keyword in `text`, if any. Pure: no host calls.
    fn matching_rule(&self, text: &str) -> Option<&Rule> {
        let text = ascii_lowercase(text);
        self.rules
            .iter()
            .find(|r| r.keywords.iter().any(|k| mentions(&text, k)))
    }
}

/// Whether `text` contains `keyword`, on a word boundary wherever the keyword's edge is a
/// Latin letter or digit.
fn mentions(text: &str, keyword: &str) -> bool {
    let word = |c: Option<char>| c.is_some_and(|c| c.is_ascii_alphanumeric());
    let (first, last) = (keyword.chars().next(), keyword.chars().next_back());
    text.match_indices(keyword).any(|(at, _)| {
        let before = text[..at].chars().next_back();
        let after = text[at + keyword.len()..].chars().next();
        let glued_before = word(first) && word(before);
        let glued_after = word(last) && word(after);
        !(glued_before || glued_after)
    })
}

/// `text` with ASCII letters lowercased; borrows when there is nothing to change.
fn ascii_lowercase(text: &str) -> Cow<'_, str> {
    if text.bytes().any(|b| b.is_ascii_uppercase()) {
        Cow::Owned(text.to_ascii_lowercase())
    } else {
        Cow::Borrowed(text)
    }
}

impl Plugin for KeywordPush {
    fn manifest() -> Manifest {
        Manifest::new("keyword-push", "0.1.0")
            .example_config(include_str!("../config.json"))
            .describe("Pushes a product card when a comment mentions one of its keywords.")
            .capability(Capability::ProductPush)
            .capability(Capability::Kv)
            .on(&[EventKind::Comment])
    }

    fn configure(&mut self, config: &Config) -> Result {
        *self = KeywordPush::from_config(config.parse()?)?;
        Ok(())
    }

    fn on_comment(&mut self, cx: &mut Context, comment: &Comment) -> Result {
        // Hot path: a comment that matches no rule makes no host call.
        let Some(rule) = self.matching_rule(&comment.text) else {
            return Ok(());
        };
        let now = cx.now_ms();
        if let Some(last) = kv::get_u64(&rule.key)
            && now.saturating_sub(last) < self.cooldown_ms
        {
            return Ok(());
        }
        kv::set_u64(&rule.key, now)?;
        cx.push_product(&rule.product, rule.style.as_deref(), self.duration_ms);
        Ok(())
    }
}

export_plugin!(KeywordPush);

#[cfg(test)]
mod tests {
    use super::*;

    fn plugin(json: &str) -> Result<KeywordPush> {
        KeywordPush::from_config(Config::from_json(json).parse()?)
    }

    const RULES: &str = r#"{"rules":[
        {"product":"sku-tee","keywords":["尺码","Size","多大"],"style":"compact"},
        {"product":"sku-cap","keywords":["cap","帽子"]}]}"#;

    #[test]
    fn defaults_apply() -> Result {
        let p = plugin(RULES)?;
        assert_eq!(p.cooldown_ms, 30_000);
        assert_eq!(p.duration_ms, 8_000);
        assert_eq!(p.rules[0].key, "last:sku-tee");
        assert_eq!(p.rules[1].style, None);
        Ok(())
    }

    #[test]
    fn keywords_match_ascii_case_insensitively_and_cjk_as_substrings() -> Result {
        let p = plugin(RULES)?;
        let product = |text: &str| p.matching_rule(text).map(|r| r.product.as_str());
        assert_eq!(product("What SIZE should I get?"), Some("sku-tee"));
        assert_eq!(product("这件有什么尺码"), Some("sku-tee"));
        assert_eq!(product("我170穿多大？"), Some("sku-tee"));
        assert_eq!(product("nice CAP"), Some("sku-cap"));
        assert_eq!(product("帽子好看"), Some("sku-cap"));
        // First matching rule wins.
        assert_eq!(product("cap size?"), Some("sku-tee"));
        assert_eq!(product("hello everyone"), None);
        assert_eq!(product(""), None);
        Ok(())
    }

    #[test]
    fn latin_keywords_match_whole_words_only() -> Result {
        let p = plugin(r#"{"rules":[{"product":"sku-cap","keywords":["hat","T恤"]}]}"#)?;
        let product = |text: &str| p.matching_rule(text).map(|r| r.product.as_str());
        assert_eq!(product("that is nice"), None);
        assert_eq!(product("What a show"), None);
        assert_eq!(product("hatch"), None);
        assert_eq!(product("Is the hat in stock?"), Some("sku-cap"));
        assert_eq!(product("HAT!"), Some("sku-cap"));
        assert_eq!(product("那个hat多少钱"), Some("sku-cap"));
        // A keyword ending in CJK needs no boundary after it.
        assert_eq!(product("这件T恤好看"), Some("sku-cap"));
        assert_eq!(product("ST恤"), None);
        Ok(())
    }

    #[test]
    fn invalid_configs_are_rejected() {
        for bad in [
            "{}",
            r#"{"rules":[]}"#,
            r#"{"rules":[{"product":"","keywords":["a"]}]}"#,
            r#"{"rules":[{"product":"p","keywords":[]}]}"#,
            r#"{"rules":[{"product":"p","keywords":[""]}]}"#,
        ] {
            assert!(plugin(bad).is_err(), "{bad}");
        }
    }
}
