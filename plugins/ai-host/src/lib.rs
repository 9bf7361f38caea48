//! ai-host: answer viewers' product questions with the AI host.
//!
//! Config: `{"max_questions_per_minute": 6}` (default 6, at least 1).
//! A question-like comment (a `?`/`？`, a leading how/what/which/when/where/why/does/do/is/
//! are/can/will, or one of 吗/怎么/多少/什么/哪/几/能不能/有没有) is sent to the AI host with
//! the catalog facts of the product the question names (the catalog product whose title
//! shares the most words with it — Latin words of three letters or more, CJK character
//! pairs), or else of the pinned product, as context; the answer is posted as a reply to the
//! comment. Questions are rate-limited per room per minute of event server time (KV key
//! `rl:<minute>`); questions over the limit are skipped. Other comments make no host call.
//! Needs `ai`, `messages`, `kv`, `room-read` and `catalog-read`; subscribes to `comment` and
//! `ai-reply`.

use livecart_sdk::prelude::*;
use livecart_sdk::{Product, catalog, log, room};
use serde::Deserialize;

#[derive(Deserialize)]
struct RawConfig {
    #[serde(default = "default_max")]
    max_questions_per_minute: u64,
}

fn default_max() -> u64 {
    6
}

#[derive(Default)]
pub struct AiHost {
    max_per_minute: u64,
}

/// Words that start an English question.
const QUESTION_WORDS: &[&str] = &[
    "how", "what", "which", "when", "where", "why", "does", "do", "is", "are", "can", "will",
];

/// Markers of a Chinese question.
const QUESTION_MARKERS: &[&str] = &["吗", "怎么", "多少", "什么", "哪", "几", "能不能", "有没有"];

/// Whether a comment looks like a question. Pure: no host calls.
fn is_question(text: &str) -> bool {
    if text.contains(['?', '？']) {
        return true;
    }
    let text = text.trim_start();
    let first_word_len = text
        .bytes()
        .position(|b| !b.is_ascii_alphabetic())
        .unwrap_or(text.len());
    let first_word = &text[..first_word_len];
    QUESTION_WORDS
        .iter()
        .any(|w| w.eq_ignore_ascii_case(first_word))
        || QUESTION_MARKERS.iter().any(|m| text.contains(m))
}

/// `9900` cents → `"99.00"`.
fn format_price(cents: u64) -> String {
    format!("{}.{:02}", cents / 100, cents % 100)
}

/// The words of a title or question that name a product: lowercased Latin words of three
/// or more letters, and each pair of adjacent CJK characters.
fn name_words(text: &str) -> Vec<String> {
    let mut words = Vec::new();
    for part in text.split(|c: char| !c.is_alphanumeric()) {
        let latin: String = part
            .chars()
            .filter(char::is_ascii_alphanumeric)
            .collect::<String>()
            .to_ascii_lowercase();
        if latin.len() >= 3 {
            words.push(latin);
        }
        let cjk: Vec<char> = part.chars().filter(|c| !c.is_ascii()).collect();
        words.extend(cjk.windows(2).map(|w| w.iter().collect::<String>()));
    }
    words
}

/// The product a question names: the one whose title shares the most name words with it.
fn named_product<'a>(question: &str, products: &'a [Product]) -> Option<&'a Product> {
    let asked = name_words(question);
    products
        .iter()
        .map(|p| {
            let shared = name_words(&p.title)
                .iter()
                .filter(|w| asked.contains(w))
                .count();
            (shared, p)
        })
        .filter(|(shared, _)| *shared > 0)
        .max_by_key(|(shared, _)| *shared)
        .map(|(_, p)| p)
}

/// What the AI host should know about a product.
fn product_context(p: &Product) -> Vec<String> {
    let mut context = vec![format!(
        "{}: {} {}",
        p.title,
        format_price(p.price_cents),
        p.currency
    )];
    if !p.description.is_empty() {
        context.push(p.description.clone());
    }
    context.extend(
        p.specs
            .iter()
            .map(|(name, value)| format!("{name}: {value}")),
    );
    context.extend(
        p.faq
            .iter()
            .map(|f| format!("Q: {} A: {}", f.question, f.answer)),
    );
    context
}

impl AiHost {
    /// Count one question against this minute's budget; false when it is spent.
    fn take_rate_slot(&self, now_ms: u64) -> Result<bool> {
        let key = format!("rl:{}", now_ms / 60_000);
        let count = kv::get_u64(&key).unwrap_or(0);
        if count >= self.max_per_minute {
            return Ok(false);
        }
        kv::set_u64(&key, count + 1)?;
        if count == 0 {
            forget_previous_minute(&key)?;
        }
        Ok(true)
    }
}

/// Delete the previous minute's counter so `rl:` keys do not pile up over a long stream.
/// `rl:minute` remembers which key that is.
fn forget_previous_minute(current: &str) -> Result {
    const POINTER: &str = "rl:minute";
    if let Some(previous) = kv::get_str(POINTER)
        && previous != current
    {
        kv::delete(&previous)?;
    }
    kv::set_str(POINTER, current)
}

impl Plugin for AiHost {
    fn manifest() -> Manifest {
        Manifest::new("ai-host", "0.1.0")
            .example_config(include_str!("../config.json"))
            .describe("Answers viewers' product questions with the AI host.")
            .capability(Capability::Ai)
            .capability(Capability::Messages)
            .capability(Capability::Kv)
            .capability(Capability::RoomRead)
            .capability(Capability::CatalogRead)
            .on(&[EventKind::Comment, EventKind::AiReply])
    }

    fn configure(&mut self, config: &Config) -> Result {
        let raw: RawConfig = config.parse()?;
        if raw.max_questions_per_minute == 0 {
            return Err("invalid config: `max_questions_per_minute` must be at least 1".into());
        }
        self.max_per_minute = raw.max_questions_per_minute;
        Ok(())
    }

    fn on_comment(&mut self, cx: &mut Context, comment: &Comment) -> Result {
        if !is_question(&comment.text) {
            return Ok(());
        }
        if !self.take_rate_slot(cx.now_ms())? {
            log::debug(&format!(
                "rate limit of {} questions per minute reached; skipping comment {}",
                self.max_per_minute, comment.comment_id
            ));
            return Ok(());
        }
        let products = catalog::list(100);
        let product = match named_product(&comment.text, &products) {
            Some(named) => Some(named.clone()),
            None => room::snapshot()
                .pinned_product
                .as_deref()
                .and_then(catalog::get),
        };
        let context = product.as_ref().map(product_context).unwrap_or_default();
        cx.ask_ai(
            &comment.comment_id,
            &comment.text,
            context,
            product.as_ref().map(|p| p.id.as_str()),
        );
        Ok(())
    }

    fn on_ai_reply(&mut self, cx: &mut Context, reply: &AiReply) -> Result {
        match &reply.answer {
            Ok(text) => cx.reply(&reply.request_id, text.clone()),
            Err(e) => log::warn(&format!("no AI answer for {}: {e}", reply.request_id)),
        }
        Ok(())
    }
}

export_plugin!(AiHost);

#[cfg(test)]
mod tests {
    use super::*;
    use livecart_sdk::FaqEntry;

    #[test]
    fn questions_are_detected() {
        for q in [
            "size?",
            "有货吗",
            "这件衣服有什么尺码？",
            "How big is it",
            "  what material",
            "Is it cotton",
            "DOES it shrink",
            "怎么洗",
            "多少钱",
            "哪个颜色好看",
            "几号发货",
            "能不能便宜点",
            "有没有XL",
        ] {
            assert!(is_question(q), "{q}");
        }
        for not in [
            "nice shirt",
            "island vibes",
            "donate",
            "hello 主播",
            "",
            "666",
        ] {
            assert!(!is_question(not), "{not}");
        }
    }

    fn product(id: &str, title: &str) -> Product {
        Product {
            id: id.into(),
            title: title.into(),
            price_cents: 100,
            currency: "CNY".into(),
            image_url: String::new(),
            buy_url: String::new(),
            stock: 1,
            description: String::new(),
            faq: Vec::new(),
            specs: Vec::new(),
        }
    }

    #[test]
    fn the_question_names_its_product_or_none() {
        let catalog = [
            product("sku-cap", "Baseball Cap"),
            product("sku-tee", "Cotton Tee 纯棉T恤"),
            product("sku-cup", "陶瓷马克杯"),
        ];
        let named = |q: &str| named_product(q, &catalog).map(|p| p.id.as_str());
        assert_eq!(named("Is the cotton tee true to size?"), Some("sku-tee"));
        assert_eq!(named("does the cap fit a big head?"), Some("sku-cap"));
        assert_eq!(named("纯棉的吗？"), Some("sku-tee"));
        assert_eq!(named("马克杯能进洗碗机吗"), Some("sku-cup"));
        assert_eq!(named("how much is shipping?"), None);
    }

    #[test]
    fn context_lists_price_description_specs_and_faq() {
        let p = Product {
            id: "sku-tee".into(),
            title: "Cotton Tee".into(),
            price_cents: 9905,
            currency: "CNY".into(),
            image_url: String::new(),
            buy_url: String::new(),
            stock: 3,
            description: "Soft tee".into(),
            faq: vec![FaqEntry {
                question: "What sizes?".into(),
                answer: "S to XL.".into(),
            }],
            specs: vec![("material".into(), "100% cotton".into())],
        };
        assert_eq!(
            product_context(&p),
            [
                "Cotton Tee: 99.05 CNY",
                "Soft tee",
                "material: 100% cotton",
                "Q: What sizes? A: S to XL."
            ]
        );
    }
}
