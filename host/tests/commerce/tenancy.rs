//! What the operator does to merchants in the store: list, disable and re-enable, and a
//! merchant's API tokens issued, rotated and revoked; every refusal is typed.

use super::open;
use livecart::store::StoreError;

#[test]
fn merchants_are_listed_in_creation_order_with_trimmed_names() {
    let dir = tempfile::tempdir().expect("tempdir");
    let store = open(dir.path());
    let (a, _) = store.create_merchant("  Alice's shop ").expect("a");
    let (b, _) = store.create_merchant("小红的店").expect("b");
    assert_eq!(a.name, "Alice's shop");
    assert!(a.is_enabled() && a.disabled_ms.is_none());
    let listed: Vec<(String, String)> = store
        .merchants()
        .expect("list")
        .into_iter()
        .map(|m| (m.id, m.name))
        .collect();
    assert_eq!(listed, [(a.id, a.name), (b.id, b.name)]);
}

#[test]
fn a_merchant_name_must_be_one_to_eighty_printable_characters() {
    let dir = tempfile::tempdir().expect("tempdir");
    let store = open(dir.path());
    for bad in ["", "   ", "tab\there", &"x".repeat(81)] {
        assert!(
            matches!(store.create_merchant(bad), Err(StoreError::Invalid(_))),
            "{bad:?}"
        );
    }
    assert!(store.merchants().expect("list").is_empty());
    store.create_merchant(&"店".repeat(80)).expect("80 chars");
}

#[test]
fn a_disabled_merchant_is_still_found_by_token_but_marked_disabled() {
    let dir = tempfile::tempdir().expect("tempdir");
    let store = open(dir.path());
    let (m, token) = store.create_merchant("Shop").expect("create");
    let disabled = store.set_merchant_disabled(&m.id, true).expect("disable");
    assert!(!disabled.is_enabled() && disabled.disabled_ms.is_some());
    let found = store
        .merchant_by_token(&token)
        .expect("lookup")
        .expect("found");
    assert_eq!(found, disabled, "the lookup sees the disable at once");
    let enabled = store.set_merchant_disabled(&m.id, false).expect("enable");
    assert_eq!(enabled, m);
    assert_eq!(store.merchant_by_token(&token).expect("lookup"), Some(m));
}

#[test]
fn disabling_twice_or_enabling_an_enabled_merchant_is_a_conflict() {
    let dir = tempfile::tempdir().expect("tempdir");
    let store = open(dir.path());
    let (m, _) = store.create_merchant("Shop").expect("create");
    let e = store
        .set_merchant_disabled(&m.id, false)
        .expect_err("enabled already");
    assert!(
        matches!(&e, StoreError::Conflict(msg) if msg.contains("already enabled")),
        "{e}"
    );
    let first = store.set_merchant_disabled(&m.id, true).expect("disable");
    let e = store.set_merchant_disabled(&m.id, true).expect_err("twice");
    assert!(
        matches!(&e, StoreError::Conflict(msg) if msg.contains("already disabled")),
        "{e}"
    );
    assert_eq!(
        store.merchant(&m.id).expect("get"),
        Some(first),
        "unchanged"
    );
}

#[test]
fn unknown_merchants_and_other_merchants_tokens_are_not_found() {
    let dir = tempfile::tempdir().expect("tempdir");
    let store = open(dir.path());
    let (a, _) = store.create_merchant("A").expect("a");
    let (b, _) = store.create_merchant("B").expect("b");
    let b_token = store.tokens_of(&b.id).expect("tokens")[0].id.clone();
    let not_found = |r: Result<(), StoreError>| matches!(r, Err(StoreError::NotFound(_)));
    assert!(not_found(
        store.set_merchant_disabled("m_missing", true).map(drop)
    ));
    assert!(not_found(store.tokens_of("m_missing").map(drop)));
    assert!(not_found(store.issue_token("m_missing", "x").map(drop)));
    assert!(not_found(
        store.rotate_token("m_missing", &b_token).map(drop)
    ));
    assert!(not_found(store.revoke_token(&a.id, &b_token).map(drop)));
    assert!(not_found(store.rotate_token(&a.id, &b_token).map(drop)));
    assert!(not_found(store.revoke_token(&a.id, "tk_missing").map(drop)));
    assert_eq!(store.merchant("m_missing").expect("get"), None);
    assert_eq!(
        store.tokens_of(&b.id).expect("b untouched")[0].revoked_ms,
        None
    );
}

#[test]
fn issued_tokens_work_side_by_side_and_revoked_ones_never_again() {
    let dir = tempfile::tempdir().expect("tempdir");
    let store = open(dir.path());
    let (m, first) = store.create_merchant("Shop").expect("create");
    let (ci, ci_secret) = store.issue_token(&m.id, " ci ").expect("issue");
    assert_eq!(ci.label, "ci");
    assert!(ci.id.starts_with("tk_") && ci.id.len() == 15, "{}", ci.id);
    assert!(ci_secret.starts_with("lc_") && ci_secret.len() == 51);
    assert_eq!(
        store.merchant_by_token(&first).expect("lookup"),
        Some(m.clone())
    );
    assert_eq!(
        store.merchant_by_token(&ci_secret).expect("lookup"),
        Some(m.clone())
    );

    let revoked = store.revoke_token(&m.id, &ci.id).expect("revoke");
    assert!(revoked.revoked_ms.is_some());
    assert_eq!(store.merchant_by_token(&ci_secret).expect("lookup"), None);
    assert_eq!(
        store.merchant_by_token(&first).expect("lookup"),
        Some(m.clone())
    );
    let e = store.revoke_token(&m.id, &ci.id).expect_err("twice");
    assert!(
        matches!(&e, StoreError::Conflict(msg) if msg.contains("already revoked")),
        "{e}"
    );
    // Re-enabling a merchant does not bring a revoked token back.
    store.set_merchant_disabled(&m.id, true).expect("disable");
    store.set_merchant_disabled(&m.id, false).expect("enable");
    assert_eq!(store.merchant_by_token(&ci_secret).expect("lookup"), None);

    let labels: Vec<(String, bool)> = store
        .tokens_of(&m.id)
        .expect("tokens")
        .into_iter()
        .map(|t| (t.label, t.revoked_ms.is_some()))
        .collect();
    assert_eq!(labels, [("initial".into(), false), ("ci".into(), true)]);
    assert!(matches!(
        store.issue_token(&m.id, &"l".repeat(61)),
        Err(StoreError::Invalid(_))
    ));
}

#[test]
fn rotation_revokes_the_old_token_and_issues_one_with_its_label() {
    let dir = tempfile::tempdir().expect("tempdir");
    let store = open(dir.path());
    let (m, old_secret) = store.create_merchant("Shop").expect("create");
    let old = store.tokens_of(&m.id).expect("tokens")[0].clone();
    let (new, new_secret) = store.rotate_token(&m.id, &old.id).expect("rotate");
    assert_ne!(new.id, old.id);
    assert_eq!(new.label, "initial");
    assert_eq!(store.merchant_by_token(&old_secret).expect("lookup"), None);
    assert_eq!(
        store.merchant_by_token(&new_secret).expect("lookup"),
        Some(m.clone())
    );
    let e = store
        .rotate_token(&m.id, &old.id)
        .expect_err("rotate a revoked token");
    assert!(matches!(e, StoreError::Conflict(_)), "{e}");
    assert_eq!(
        store.tokens_of(&m.id).expect("tokens").len(),
        2,
        "no extra token"
    );
}
