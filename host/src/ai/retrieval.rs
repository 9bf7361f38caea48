//! The embedded AI host: answers from the catalog by token overlap, with no network.
//!
//! [`RetrievalAnswerer`] gathers candidate answers — for each product in scope its FAQ
//! entries, its spec pairs and its description sentences, then the request's context strings
//! (a `Q: … A: …` line counts as an FAQ entry) — and returns the candidate whose text best
//! overlaps the prompt. When nothing overlaps enough it
//! says it does not know, in Chinese when the prompt contains CJK text and in English
//! otherwise. Tokens are lowercased ASCII words (minus stop words, with a trailing plural
//! "s" stripped) and, for CJK text, character bigrams plus single characters at a lower
//! weight. Scoring is integer arithmetic and ties go to the earlier candidate, so the same
//! catalog and prompt always give the same answer.

use super::{AiFuture, AiProvider, AiRequest};
use crate::catalog::{Catalog, Product};
use std::collections::{BTreeMap, HashSet};
use std::sync::Arc;

/// The English answer when no candidate matches.
pub const DONT_KNOW_EN: &str = "Sorry, I don't know that yet — the host will answer soon.";
/// The Chinese answer when no candidate matches.
pub const DONT_KNOW_ZH: &str = "抱歉，我暂时不知道，主播稍后为您解答。";

/// How many products are searched when the request names none.
const CATALOG_SCAN_LIMIT: usize = 100;
/// The weight of a matching English word.
const WORD_WEIGHT: u32 = 10;
/// The weight of a matching CJK character bigram.
const BIGRAM_WEIGHT: u32 = 10;
/// The weight of a matching single CJK character.
const CHAR_WEIGHT: u32 = 3;
/// The least relevance an answer needs: one word, one bigram, or four single characters.
const MIN_RELEVANCE: u32 = 10;

/// English words that carry no meaning for matching.
const STOP_WORDS: &[&str] = &[
    "a", "about", "an", "and", "any", "are", "be", "can", "could", "did", "do", "does", "for",
    "had", "has", "have", "how", "i", "in", "is", "it", "its", "me", "my", "of", "on", "or", "our",
    "please", "tell", "that", "the", "there", "these", "this", "those", "to", "was", "we", "what",
    "which", "who", "with", "you", "your",
];

/// CJK function characters: never a token alone, and a bigram of two of them is dropped.
const CJK_STOP_CHARS: &str =
    "的了吗呢吧啊呀嘛么什是有这那哪个些我你您他她它们在和与也都就还请问怎样多少几能可以会要不没";

/// The embedded default provider: answers from the catalog, or says it does not know.
pub struct RetrievalAnswerer {
    catalog: Arc<dyn Catalog>,
}

impl RetrievalAnswerer {
    pub fn new(catalog: Arc<dyn Catalog>) -> Self {
        RetrievalAnswerer { catalog }
    }

    /// The best answer for `req`, or the don't-know text in the prompt's language.
    fn best_answer(&self, req: &AiRequest) -> String {
        let prompt = prompt_tokens(&req.prompt);
        let mut best = Best::default();
        if !prompt.is_empty() {
            // Catalog entries come first, so they win ties against the plugin's context.
            for product in self.products_in_scope(req.product_id.as_deref()) {
                consider_product(&mut best, &prompt, &product);
            }
            let empty = HashSet::new();
            for text in req
                .context
                .iter()
                .map(|c| c.trim())
                .filter(|c| !c.is_empty())
            {
                // A "Q: … A: …" line is an FAQ entry: match the question, answer the answer.
                match split_qa(text) {
                    Some((q, a)) => {
                        best.consider(&prompt, &token_set(q), &token_set(a), &empty, || {
                            a.to_owned()
                        })
                    }
                    None => best.consider(&prompt, &token_set(text), &empty, &empty, || {
                        text.to_owned()
                    }),
                }
            }
        }
        best.answer
            .unwrap_or_else(|| dont_know(&req.prompt).to_owned())
    }

    /// The named product when it exists, otherwise the first products of the catalog.
    fn products_in_scope(&self, product_id: Option<&str>) -> Vec<Product> {
        if let Some(product) = product_id.and_then(|id| self.catalog.get(id)) {
            return vec![product];
        }
        self.catalog.list(CATALOG_SCAN_LIMIT)
    }
}

impl AiProvider for RetrievalAnswerer {
    fn name(&self) -> &'static str {
        "retrieval"
    }

    fn answer<'a>(&'a self, req: &'a AiRequest) -> AiFuture<'a> {
        Box::pin(std::future::ready(Ok(self.best_answer(req))))
    }
}

/// Offer every candidate of one product: FAQ entries, spec pairs, description sentences.
fn consider_product(best: &mut Best, prompt: &Prompt, product: &Product) {
    let title = token_set(&product.title);
    let empty = HashSet::new();
    for faq in &product.faq {
        // The question is what a viewer's prompt resembles; the answer counts at half weight.
        let question = token_set(&faq.question);
        let answer = token_set(&faq.answer);
        best.consider(prompt, &question, &answer, &title, || {
            faq.answer.trim().to_owned()
        });
    }
    for (name, value) in &product.specs {
        let text = token_set(&format!("{name} {value}"));
        best.consider(prompt, &text, &empty, &title, || {
            let (name, value) = (name.trim(), value.trim());
            match product.title.trim() {
                "" => format!("{name}: {value}"),
                title => format!("{title} — {name}: {value}"),
            }
        });
    }
    for sentence in sentences(&product.description) {
        best.consider(prompt, &token_set(sentence), &empty, &title, || {
            sentence.to_owned()
        });
    }
}

/// Split a context line of the form `Q: question A: answer` (ASCII or full-width colons).
fn split_qa(text: &str) -> Option<(&str, &str)> {
    let rest = text
        .strip_prefix("Q:")
        .or_else(|| text.strip_prefix("Q："))?;
    let (q, a) = rest.split_once(" A:").or_else(|| rest.split_once(" A："))?;
    let (q, a) = (q.trim(), a.trim());
    (!q.is_empty() && !a.is_empty()).then_some((q, a))
}

/// The prompt's distinct tokens and their weights.
type Prompt = BTreeMap<String, u32>;

/// The best candidate seen so far.
#[derive(Default)]
struct Best {
    rank: u32,
    answer: Option<String>,
}

impl Best {
    /// Score one candidate and keep it when it is relevant and strictly better than the best.
    ///
    /// Prompt tokens found in `primary` count fully; those only in `secondary` count half.
    /// Tokens only in the product `title` add half their weight to the rank but not to the
    /// relevance, so naming a product prefers its entries without making them relevant.
    fn consider(
        &mut self,
        prompt: &Prompt,
        primary: &HashSet<String>,
        secondary: &HashSet<String>,
        title: &HashSet<String>,
        answer: impl FnOnce() -> String,
    ) {
        let (mut relevance, mut bonus) = (0u32, 0u32);
        for (token, &weight) in prompt {
            if primary.contains(token) {
                relevance += weight;
            } else if secondary.contains(token) {
                relevance += weight / 2;
            } else if title.contains(token) {
                bonus += weight / 2;
            }
        }
        let rank = relevance + bonus;
        if relevance >= MIN_RELEVANCE && rank > self.rank {
            let text = answer();
            if !text.is_empty() {
                self.rank = rank;
                self.answer = Some(text);
            }
        }
    }
}

/// The don't-know answer in the prompt's language.
fn dont_know(prompt: &str) -> &'static str {
    if prompt.chars().any(is_cjk) {
        DONT_KNOW_ZH
    } else {
        DONT_KNOW_EN
    }
}

/// The prompt's tokens, each once, at its highest weight.
fn prompt_tokens(text: &str) -> Prompt {
    let mut out = Prompt::new();
    for (token, weight) in tokenize(text) {
        let slot = out.entry(token).or_insert(0);
        *slot = (*slot).max(weight);
    }
    out
}

/// A candidate text's tokens, for membership tests.
fn token_set(text: &str) -> HashSet<String> {
    tokenize(text).into_iter().map(|(token, _)| token).collect()
}

/// Split text into weighted tokens: ASCII words, CJK bigrams and single CJK characters.
fn tokenize(text: &str) -> Vec<(String, u32)> {
    let mut out = Vec::new();
    let mut word = String::new();
    let mut prev_cjk: Option<char> = None;
    for c in text.chars().map(fold_fullwidth) {
        if c.is_ascii_alphanumeric() {
            prev_cjk = None;
            word.push(c.to_ascii_lowercase());
            continue;
        }
        flush_word(&mut word, &mut out);
        if !is_cjk(c) {
            prev_cjk = None;
            continue;
        }
        let stop = is_cjk_stop(c);
        if !stop {
            out.push((c.to_string(), CHAR_WEIGHT));
        }
        if let Some(prev) = prev_cjk
            && !(stop && is_cjk_stop(prev))
        {
            out.push(([prev, c].iter().collect(), BIGRAM_WEIGHT));
        }
        prev_cjk = Some(c);
    }
    flush_word(&mut word, &mut out);
    out
}

/// Emit the pending ASCII word unless it is a stop word, with a plural "s" stripped.
fn flush_word(word: &mut String, out: &mut Vec<(String, u32)>) {
    if word.is_empty() {
        return;
    }
    let mut token = std::mem::take(word);
    // Check before stripping too, so "does" is not kept as "doe".
    if STOP_WORDS.contains(&token.as_str()) {
        return;
    }
    if token.len() > 3 && token.ends_with('s') && !token.ends_with("ss") {
        token.pop();
    }
    if !STOP_WORDS.contains(&token.as_str()) {
        out.push((token, WORD_WEIGHT));
    }
}

/// Map fullwidth ASCII forms (e.g. "ＸＬ") to ASCII; other characters are unchanged.
fn fold_fullwidth(c: char) -> char {
    match c {
        '\u{FF01}'..='\u{FF5E}' => char::from_u32(u32::from(c) - 0xFEE0).unwrap_or(c),
        _ => c,
    }
}

/// Whether `c` is a CJK ideograph, kana or hangul syllable.
fn is_cjk(c: char) -> bool {
    matches!(c,
        '\u{3040}'..='\u{30FF}'     // Hiragana and Katakana.
        | '\u{3400}'..='\u{4DBF}'   // CJK Extension A.
        | '\u{4E00}'..='\u{9FFF}'   // CJK Unified Ideographs.
        | '\u{AC00}'..='\u{D7AF}'   // Hangul syllables.
        | '\u{F900}'..='\u{FAFF}'   // CJK Compatibility Ideographs.
        | '\u{20000}'..='\u{2FA1F}' // Supplementary ideographs.
    )
}

fn is_cjk_stop(c: char) -> bool {
    CJK_STOP_CHARS.contains(c)
}

/// The description's sentences, trimmed, with their terminators, empty ones dropped.
///
/// A sentence ends at `。！？；!?;` or a line break, and at `.` only before whitespace or
/// the end, so decimals such as "1.5" stay whole.
fn sentences(text: &str) -> Vec<&str> {
    let mut out = Vec::new();
    let mut start = 0;
    let mut chars = text.char_indices().peekable();
    while let Some((i, c)) = chars.next() {
        let ends = match c {
            '。' | '！' | '？' | '；' | '!' | '?' | ';' | '\n' => true,
            '.' => chars.peek().is_none_or(|&(_, next)| next.is_whitespace()),
            _ => false,
        };
        if ends {
            let end = i + c.len_utf8();
            out.push(text[start..end].trim());
            start = end;
        }
    }
    out.push(text[start..].trim());
    out.retain(|s| !s.is_empty());
    out
}

#[cfg(test)]
mod tests;
