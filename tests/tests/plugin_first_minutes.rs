//! A plugin developer's first ten minutes, from a directory outside this repository:
//! `plugin new` → build → `plugin test` → `plugin upload` → `plugin enable` → a viewer is
//! greeted in a served room → `plugin logs` → `plugin disable`.

mod cluster;

use cluster::{Client, WAIT};
use livecart_e2e::{Serve, livecart, root};
use std::path::Path;
use std::process::{Command, Output};

/// One test at a time: a cold cargo build of a new project and a compile of CPython each
/// take both cores of a small machine, and the compile has a deadline.
fn one_at_a_time() -> std::sync::MutexGuard<'static, ()> {
    static ONE: std::sync::Mutex<()> = std::sync::Mutex::new(());
    ONE.lock().unwrap_or_else(|e| e.into_inner())
}

fn cli(args: &[&str], cwd: &Path) -> Output {
    Command::new(livecart())
        .args(args)
        .current_dir(cwd)
        // The project builds into its own target/, whatever the developer's shell says.
        .env_remove("CARGO_TARGET_DIR")
        .output()
        .expect("running livecart")
}

/// `plugin test` of `wasm` on the project's sample events and config.
fn replay(wasm: &str, project: &Path) -> Output {
    let args = [
        "plugin",
        "test",
        wasm,
        "--events",
        "events.jsonl",
        "--config",
        "config.json",
    ];
    cli(&args, project)
}

fn ok(out: &Output) -> String {
    let text = String::from_utf8_lossy(&out.stdout).into_owned();
    assert!(
        out.status.success(),
        "{text}\n{}",
        String::from_utf8_lossy(&out.stderr)
    );
    text
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_new_plugin_goes_from_the_template_to_a_served_room() {
    let one = one_at_a_time();
    let home = tempfile::tempdir().expect("tempdir");
    let (dir, sdk) = (home.path(), root().join("plugin-sdk"));
    let sdk = sdk.to_str().unwrap_or_default();
    let new = || cli(&["plugin", "new", "greeter", "--sdk", sdk], dir);
    let made = ok(&new());
    assert!(made.contains("created plugin greeter"), "{made}");
    let project = dir.join("greeter");
    for file in [
        "Cargo.toml",
        "src/lib.rs",
        "events.jsonl",
        "config.json",
        "README.md",
    ] {
        assert!(project.join(file).is_file(), "{file} is missing");
    }
    // A second `new` refuses to overwrite it.
    let again = new();
    assert!(!again.status.success());
    let why = String::from_utf8_lossy(&again.stderr);
    assert!(why.contains("already exists and is not empty"), "{why}");

    let built = ok(&cli(&["plugin", "build", "greeter"], dir));
    let wasm = project.join("target/plugins/greeter.wasm");
    assert!(built.contains("greeter.wasm") && wasm.is_file(), "{built}");
    let wasm = wasm.to_str().unwrap_or_default().to_owned();

    let tested = ok(&replay(&wasm, &project));
    assert!(tested.contains("Welcome to the show, Ana!"), "{tested}");
    // The heavy part (a cold cargo build) is done.
    drop(one);

    let s = Serve::start(&["--no-demo-stream"]);
    let server = format!("http://{}", s.addr);
    let api = |args: &[&str]| {
        let mut all = args.to_vec();
        all.extend(["--server", &server, "--token", &s.merchant_token]);
        cli(&all, &project)
    };
    let uploaded = ok(&api(&["plugin", "upload", &wasm]));
    assert!(uploaded.starts_with("uploaded greeter 0.1.0"), "{uploaded}");

    // A config the plugin cannot use is refused with its own message, and nothing changes.
    std::fs::write(project.join("bad.json"), r#"{"greeting": 5}"#).expect("write");
    let refused = api(&[
        "plugin", "enable", "--room", "demo", &wasm, "--config", "bad.json",
    ]);
    assert_eq!(refused.status.code(), Some(1));
    let why = String::from_utf8_lossy(&refused.stderr);
    assert!(why.contains("invalid type: integer `5`"), "{why}");

    let enabled = ok(&api(&[
        "plugin",
        "enable",
        "--room",
        "demo",
        &wasm,
        "--config",
        "config.json",
    ]));
    assert!(
        enabled.starts_with("enabled greeter in room demo"),
        "{enabled}"
    );

    let (mut viewer, _) = Client::join(&s.addr, "Mei", None).await;
    let deadline = tokio::time::Instant::now() + WAIT;
    loop {
        let left = deadline.saturating_duration_since(tokio::time::Instant::now());
        let frame = viewer
            .next(left)
            .await
            .expect("the greeting within the wait");
        if frame["type"] == "system" && frame["text"] == "Welcome to the show, Mei!" {
            break;
        }
    }

    let logs = ok(&api(&["plugin", "logs", "--room", "demo", "greeter"]));
    assert!(logs.starts_with("greeter enabled (hash "), "{logs}");
    assert!(logs.contains("no faults"), "{logs}");
    let disabled = ok(&api(&["plugin", "disable", "--room", "demo", "greeter"]));
    assert_eq!(disabled, "disabled greeter in room demo\n");
    let logs = ok(&api(&["plugin", "logs", "--room", "demo", "greeter"]));
    assert!(logs.starts_with("greeter disabled"), "{logs}");

    // A wrong token is the server's refusal, exit 1; no server at all is exit 2.
    let denied = cli(
        &[
            "plugin", "upload", &wasm, "--server", &server, "--token", "nope",
        ],
        &project,
    );
    assert_eq!(denied.status.code(), Some(1), "{denied:?}");
    let gone = cli(
        &[
            "plugin",
            "upload",
            &wasm,
            "--server",
            "http://127.0.0.1:9",
            "--token",
            "t",
        ],
        &project,
    );
    assert_eq!(gone.status.code(), Some(2), "{gone:?}");

    // The manifest's example config is the project's config.json: one the plugin refuses
    // makes the build unusable, and `plugin check` says why.
    let _one = one_at_a_time();
    std::fs::write(project.join("config.json"), r#"{"greeting": 5}"#).expect("write");
    ok(&cli(&["plugin", "build", "."], &project));
    let checked = cli(&["plugin", "check", &wasm], &project);
    assert_eq!(checked.status.code(), Some(1));
    let why = String::from_utf8_lossy(&checked.stderr);
    assert!(
        why.contains("its example config is refused: the plugin refused it: invalid type"),
        "{why}"
    );
}

/// `plugin new --lang python|js`: each project builds with its language's toolchain (the
/// ones `./scripts/test.sh` installs), passes `plugin check` with its example config, and
/// greets in `plugin test`.
#[test]
fn python_and_javascript_projects_build_with_their_toolchains() {
    let _one = one_at_a_time();
    let tools = livecart_e2e::target_dir().join("plugin-tools");
    let (py, js) = (
        tools.join("py/bin/componentize-py"),
        tools.join("js/node_modules/.bin/jco"),
    );
    assert!(
        py.is_file() && js.is_file(),
        "the plugin toolchains are missing from {}: run ./scripts/test.sh",
        tools.display()
    );
    let home = tempfile::tempdir().expect("tempdir");
    for (lang, name) in [("python", "hi-py"), ("js", "hi-js")] {
        let made = ok(&cli(&["plugin", "new", name, "--lang", lang], home.path()));
        assert!(made.contains(&format!("plugin {name} in")), "{made}");
        let project = home.path().join(name);
        let mut build = if lang == "python" {
            let mut c = Command::new(&py);
            c.args(["-d", "wit", "-w", "plugin", "componentize", "app", "-o"]);
            c
        } else {
            let mut c = Command::new(&js);
            let source = project.join(format!("{name}.js"));
            c.arg("componentize")
                .arg(source)
                .arg("--wit")
                .arg(project.join("wit"))
                .args([
                    "-n",
                    "plugin",
                    "--backend",
                    "quickjs",
                    "--backend-qjs-disable-async",
                    "-o",
                ]);
            c
        };
        let built = build
            .arg(format!("{name}.wasm"))
            .current_dir(&project)
            .output()
            .expect("running the toolchain");
        assert!(built.status.success(), "{lang}: {built:?}");
        let wasm = format!("{name}.wasm");
        let checked = ok(&cli(&["plugin", "check", &wasm], &project));
        assert!(
            checked.contains(r#"example config: {"greeting":"Welcome to the show"}"#),
            "{checked}"
        );
        let tested = ok(&replay(&wasm, &project));
        assert!(
            tested.contains("Welcome to the show, Bo!"),
            "{lang}: {tested}"
        );
    }
}
