//! Tests of the embedded retrieval answerer, in English and Chinese.

use super::*;
use crate::catalog::{Faq, MemoryCatalog};

fn faq(question: &str, answer: &str) -> Faq {
    Faq {
        question: question.to_owned(),
        answer: answer.to_owned(),
    }
}

fn spec(name: &str, value: &str) -> (String, String) {
    (name.to_owned(), value.to_owned())
}

fn hoodie() -> Product {
    Product {
        id: "hoodie".to_owned(),
        title: "Cotton Hoodie".to_owned(),
        price_cents: 19900,
        currency: "CNY".to_owned(),
        stock: 12,
        description: "Made of 100% organic cotton. Weighs 0.5 kg! Machine washable at 30 degrees."
            .to_owned(),
        faq: vec![faq(
            "Does it shrink after washing?",
            "No, it is pre-shrunk.",
        )],
        specs: vec![spec("size", "S, M, L, XL"), spec("color", "grey, navy")],
        ..Product::default()
    }
}

fn shirt() -> Product {
    Product {
        id: "shirt".to_owned(),
        title: "纯棉衬衫".to_owned(),
        price_cents: 12900,
        currency: "CNY".to_owned(),
        description: "纯棉面料，透气舒适。适合春秋季节穿着。".to_owned(),
        faq: vec![
            faq("这件衣服有什么尺码？", "有 S、M、L、XL 四个尺码"),
            faq("可以机洗吗？", "可以机洗，建议冷水。"),
        ],
        specs: vec![spec("size", "XS, S")],
        ..Product::default()
    }
}

fn answerer(products: Vec<Product>) -> RetrievalAnswerer {
    RetrievalAnswerer::new(Arc::new(MemoryCatalog::new(products)))
}

fn request(prompt: &str, product_id: Option<&str>) -> AiRequest {
    AiRequest {
        prompt: prompt.to_owned(),
        context: Vec::new(),
        product_id: product_id.map(str::to_owned),
    }
}

async fn ask(ai: &RetrievalAnswerer, req: &AiRequest) -> String {
    ai.answer(req).await.expect("retrieval never fails")
}

#[tokio::test]
async fn retrieval_answers_english_spec_question() {
    let ai = answerer(vec![hoodie()]);
    let got = ask(&ai, &request("What sizes do you have?", None)).await;
    assert_eq!(got, "Cotton Hoodie — size: S, M, L, XL");
    let got = ask(&ai, &request("which colors?", None)).await;
    assert_eq!(got, "Cotton Hoodie — color: grey, navy");
}

#[tokio::test]
async fn retrieval_answers_english_faq_and_description() {
    let ai = answerer(vec![hoodie()]);
    let got = ask(&ai, &request("will it shrink?", None)).await;
    assert_eq!(got, "No, it is pre-shrunk.");
    let got = ask(&ai, &request("Is it washable in a machine?", None)).await;
    assert_eq!(got, "Machine washable at 30 degrees.");
    let got = ask(&ai, &request("how heavy, how many kg?", None)).await;
    assert_eq!(got, "Weighs 0.5 kg!");
}

#[tokio::test]
async fn retrieval_answers_chinese_faq_for_size_questions() {
    let ai = answerer(vec![hoodie(), shirt()]);
    for prompt in ["有哪些尺码", "尺码多大", "请问尺码有几种？"] {
        let got = ask(&ai, &request(prompt, None)).await;
        assert_eq!(got, "有 S、M、L、XL 四个尺码", "prompt {prompt}");
    }
    let got = ask(&ai, &request("能机洗吗", Some("shirt"))).await;
    assert_eq!(got, "可以机洗，建议冷水。");
    let got = ask(&ai, &request("面料怎么样", Some("shirt"))).await;
    assert_eq!(got, "纯棉面料，透气舒适。");
}

#[tokio::test]
async fn retrieval_says_it_does_not_know_in_the_prompts_language() {
    let ai = answerer(vec![hoodie(), shirt()]);
    let got = ask(&ai, &request("who won the football game?", None)).await;
    assert_eq!(got, DONT_KNOW_EN);
    let got = ask(&ai, &request("今天天气怎么样？", None)).await;
    assert_eq!(got, DONT_KNOW_ZH);
    let got = ask(&ai, &request("有什么吗？", None)).await;
    assert_eq!(got, DONT_KNOW_ZH);
    let got = ask(&ai, &request("   ", None)).await;
    assert_eq!(got, DONT_KNOW_EN);
    let empty = answerer(Vec::new());
    let got = ask(&empty, &request("what sizes?", None)).await;
    assert_eq!(got, DONT_KNOW_EN);
}

#[tokio::test]
async fn retrieval_scopes_to_the_named_product() {
    let ai = answerer(vec![hoodie(), shirt()]);
    // Both products have a size spec; without a product the earlier one wins the tie.
    let got = ask(&ai, &request("sizes?", None)).await;
    assert_eq!(got, "Cotton Hoodie — size: S, M, L, XL");
    let got = ask(&ai, &request("sizes?", Some("shirt"))).await;
    assert_eq!(got, "纯棉衬衫 — size: XS, S");
    // The hoodie's FAQ is out of scope when the shirt is named.
    let got = ask(&ai, &request("will it shrink?", Some("shirt"))).await;
    assert_eq!(got, DONT_KNOW_EN);
    // An unknown product falls back to the whole catalog.
    let got = ask(&ai, &request("will it shrink?", Some("nope"))).await;
    assert_eq!(got, "No, it is pre-shrunk.");
}

#[tokio::test]
async fn retrieval_title_words_prefer_that_product() {
    let ai = answerer(vec![hoodie(), shirt()]);
    let got = ask(&ai, &request("衬衫 size?", None)).await;
    assert_eq!(got, "纯棉衬衫 — size: XS, S");
    // A title alone is not an answer.
    let got = ask(&ai, &request("hoodie", None)).await;
    assert_eq!(got, DONT_KNOW_EN);
}

#[tokio::test]
async fn retrieval_answers_from_request_context() {
    let ai = answerer(vec![hoodie()]);
    let mut req = request("when does shipping start?", None);
    req.context = vec![
        "  ".to_owned(),
        "Shipping starts on Monday from Hangzhou.".to_owned(),
    ];
    assert_eq!(
        ask(&ai, &req).await,
        "Shipping starts on Monday from Hangzhou."
    );
    req.prompt = "who won the football game?".to_owned();
    assert_eq!(ask(&ai, &req).await, DONT_KNOW_EN);
}

#[test]
fn retrieval_tokenizer_words_and_cjk() {
    let tokens: Vec<String> = tokenize("What SIZES does the dress come in? ＸＬ")
        .into_iter()
        .map(|(t, _)| t)
        .collect();
    assert_eq!(tokens, ["size", "dress", "come", "xl"]);
    let tokens = tokenize("有哪些尺码");
    assert!(tokens.contains(&("尺码".to_owned(), BIGRAM_WEIGHT)));
    assert!(tokens.contains(&("尺".to_owned(), CHAR_WEIGHT)));
    assert!(!tokens.iter().any(|(t, _)| t == "哪些" || t == "有"));
}

#[test]
fn retrieval_sentences_keep_decimals_whole() {
    assert_eq!(
        sentences("Weighs 1.5 kg. Fits well!\n好看。舒适"),
        ["Weighs 1.5 kg.", "Fits well!", "好看。", "舒适"]
    );
}

#[test]
fn retrieval_provider_name() {
    assert_eq!(answerer(Vec::new()).name(), "retrieval");
}

#[test]
fn retrieval_answers_faq_lines_in_context_with_the_answer_only() {
    let answerer = RetrievalAnswerer::new(Arc::new(MemoryCatalog::default()));
    let req = AiRequest {
        prompt: "有哪些尺码".into(),
        context: vec![
            "Cotton Tee, 99.00 CNY".into(),
            "Q: 这件衣服有什么尺码？ A: 有 S、M、L、XL 四个尺码。".into(),
        ],
        product_id: None,
    };
    assert_eq!(answerer.best_answer(&req), "有 S、M、L、XL 四个尺码。");
}
