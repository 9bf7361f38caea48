//! `livecart admin …` as the operator types it, parsed by the real CLI and run against a
//! server on port 0 through the operator API.

use crate::harness::*;
use clap::Parser;
use livecart::cli::admin::{self, Refused};
use livecart::cli::{Cli, Command};

/// Parse `livecart admin <args>` against the test server and run it.
async fn admin_with(s: &Server, token: Option<&str>, args: &[&str]) -> anyhow::Result<String> {
    let server = format!("http://{}", s.addr);
    let mut argv = vec!["livecart", "admin", "--server", &server];
    if let Some(token) = token {
        argv.extend(["--token", token]);
    }
    argv.extend(args);
    let cli = Cli::try_parse_from(argv).expect("the command parses");
    let Command::Admin(args) = cli.command else {
        panic!("not an admin command")
    };
    admin::execute(&args).await
}

async fn admin(s: &Server, args: &[&str]) -> String {
    admin_with(s, Some(OPERATOR_TOKEN), args)
        .await
        .unwrap_or_else(|e| panic!("livecart admin {args:?}: {e:#}"))
}

async fn refused(s: &Server, token: Option<&str>, args: &[&str]) -> Refused {
    let e = admin_with(s, token, args).await.expect_err("refused");
    match e.downcast::<Refused>() {
        Ok(r) => r,
        Err(e) => panic!("expected a refusal, got {e:#}"),
    }
}

/// The `lc_…` secret an output shows.
fn secret_in(out: &str) -> String {
    out.split_whitespace()
        .find(|w| w.starts_with("lc_"))
        .unwrap_or_else(|| panic!("no secret in {out}"))
        .to_owned()
}

fn id_in(out: &str, prefix: &str) -> String {
    out.split(|c: char| !(c.is_ascii_alphanumeric() || c == '_'))
        .find(|w| w.starts_with(prefix))
        .unwrap_or_else(|| panic!("no {prefix} id in {out}"))
        .to_owned()
}

#[tokio::test]
async fn admin_creates_disables_and_reenables_a_merchant() {
    let s = start(fast()).await;
    let out = admin(&s, &["merchant", "create", "--name", "Bob's Boutique"]).await;
    assert!(out.starts_with("created merchant m_"), "{out}");
    assert!(out.contains("\"Bob's Boutique\" (enabled)"), "{out}");
    let secret = secret_in(&out);
    let id = id_in(&out, "m_");
    assert_eq!(http(&s, "GET", "/api/me", Some(&secret), None).await.0, 200);

    let list = admin(&s, &["merchant", "list"]).await;
    let lines: Vec<&str> = list.lines().collect();
    assert!(lines[0].starts_with("ID") && lines.len() == 3, "{list}");
    assert!(
        lines[2].starts_with(&id) && lines[2].ends_with("Bob's Boutique"),
        "{list}"
    );

    let out = admin(&s, &["merchant", "disable", &id]).await;
    assert!(out.contains("(disabled since 20"), "{out}");
    assert_eq!(http(&s, "GET", "/api/me", Some(&secret), None).await.0, 403);
    let r = refused(&s, Some(OPERATOR_TOKEN), &["merchant", "disable", &id]).await;
    assert_eq!(r.status, 409);
    assert_eq!(
        r.to_string(),
        format!("the server refused (409): merchant {id} is already disabled")
    );
    admin(&s, &["merchant", "enable", &id]).await;
    assert_eq!(http(&s, "GET", "/api/me", Some(&secret), None).await.0, 200);

    let json = admin(&s, &["--json", "merchant", "show", &id]).await;
    let v: serde_json::Value = serde_json::from_str(&json).expect("--json prints JSON");
    assert_eq!(v["merchant"]["name"], "Bob's Boutique");
}

#[tokio::test]
async fn admin_issues_rotates_and_revokes_tokens() {
    let s = start(fast()).await;
    let id = id_in(
        &admin(&s, &["merchant", "create", "--name", "Shop B"]).await,
        "m_",
    );
    let out = admin(&s, &["token", "issue", &id, "--label", "ci"]).await;
    assert!(out.contains("(label \"ci\")"), "{out}");
    let (ci_id, ci) = (id_in(&out, "tk_"), secret_in(&out));
    assert_eq!(http(&s, "GET", "/api/me", Some(&ci), None).await.0, 200);

    let out = admin(&s, &["token", "rotate", &id, &ci_id]).await;
    assert!(
        out.starts_with(&format!("revoked token {ci_id}\n")),
        "{out}"
    );
    let (new_id, new) = (
        id_in(out.lines().nth(1).unwrap_or_default(), "tk_"),
        secret_in(&out),
    );
    assert_eq!(http(&s, "GET", "/api/me", Some(&ci), None).await.0, 401);
    assert_eq!(http(&s, "GET", "/api/me", Some(&new), None).await.0, 200);

    let out = admin(&s, &["token", "revoke", &id, &new_id]).await;
    assert_eq!(
        out,
        format!("revoked token {new_id} (label \"ci\") of {id}\n")
    );
    assert_eq!(http(&s, "GET", "/api/me", Some(&new), None).await.0, 401);
    assert_eq!(
        refused(&s, Some(OPERATOR_TOKEN), &["token", "revoke", &id, &new_id])
            .await
            .status,
        409
    );

    let table = admin(&s, &["token", "list", &id]).await;
    let statuses: Vec<&str> = table
        .lines()
        .skip(1)
        .filter_map(|l| l.split_whitespace().nth(1))
        .collect();
    assert_eq!(statuses, ["active", "revoked", "revoked"], "{table}");
}

#[tokio::test]
async fn admin_says_why_it_was_refused_or_could_not_connect() {
    let s = start(fast()).await;
    let r = refused(&s, Some("op_wrong_wrong_wrong"), &["merchant", "list"]).await;
    assert_eq!(
        (r.status, r.message.as_str()),
        (401, "invalid operator token")
    );
    let r = refused(&s, Some(&s.merchant_token), &["merchant", "list"]).await;
    assert_eq!(r.status, 403);
    let r = refused(&s, Some(OPERATOR_TOKEN), &["merchant", "show", "m_missing"]).await;
    assert_eq!(
        (r.status, r.message.as_str()),
        (404, "unknown merchant m_missing")
    );
    // An id cannot reach another route: it is one percent-encoded path segment.
    let r = refused(
        &s,
        Some(OPERATOR_TOKEN),
        &["merchant", "show", "../../rooms"],
    )
    .await;
    assert_eq!(r.status, 404);
    let r = refused(
        &s,
        Some(OPERATOR_TOKEN),
        &["merchant", "create", "--name", " "],
    )
    .await;
    assert_eq!(r.status, 422);

    let cli = |server: &str| {
        let cli = Cli::try_parse_from([
            "livecart",
            "admin",
            "--server",
            server,
            "--token",
            OPERATOR_TOKEN,
            "merchant",
            "list",
        ])
        .expect("parses");
        match cli.command {
            Command::Admin(args) => args,
            _ => panic!("not admin"),
        }
    };
    let e = admin::execute(&cli("ftp://example"))
        .await
        .expect_err("bad URL");
    assert!(
        e.to_string().contains("is not an http:// or https:// URL"),
        "{e:#}"
    );
    let closed = std::net::TcpListener::bind("127.0.0.1:0").expect("bind");
    let dead = format!("http://{}", closed.local_addr().expect("addr"));
    drop(closed);
    let e = admin::execute(&cli(&dead))
        .await
        .expect_err("nobody listening");
    assert!(e.downcast_ref::<Refused>().is_none());
    assert!(
        format!("{e:#}").contains("is livecart serve running there?"),
        "{e:#}"
    );
}

#[tokio::test]
async fn admin_reads_a_generated_operator_token_from_the_data_dir() {
    let s = start(fast()).await;
    let dir = tempfile::tempdir().expect("tempdir");
    let data_dir = dir.path().to_str().expect("utf-8 path").to_owned();
    let e = admin_with(&s, None, &["--data-dir", &data_dir, "merchant", "list"])
        .await
        .expect_err("no token anywhere");
    assert!(format!("{e:#}").contains("no operator token"), "{e:#}");
    std::fs::write(
        dir.path().join("operator-token"),
        format!("{OPERATOR_TOKEN}\n"),
    )
    .expect("write");
    let out = admin_with(&s, None, &["--data-dir", &data_dir, "merchant", "list"])
        .await
        .expect("token from the data dir");
    assert!(out.contains("Shop A"), "{out}");
}

/// `token rotate M TOKEN_ID` once stored the token id into the global `--token` (clap gave
/// both the same id), so the operator token sent was the token id and every rotation and
/// revocation answered 401.
#[test]
fn a_token_id_argument_does_not_replace_the_operator_token() {
    let cli = Cli::try_parse_from([
        "livecart",
        "admin",
        "--token",
        "op_secret",
        "token",
        "revoke",
        "m_1",
        "tk_2",
    ])
    .expect("parses");
    let Command::Admin(args) = cli.command else {
        panic!("not admin")
    };
    assert_eq!(args.token.as_deref(), Some("op_secret"));
}
