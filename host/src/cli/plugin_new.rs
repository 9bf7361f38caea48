//! `livecart plugin new NAME [--lang rust|python|js]`: a plugin project that builds
//! outside this repository.
//!
//! Python and JavaScript projects get the plugin (`app.py`, or `NAME.js`), a world of their
//! own in `wit/world.wit` naming only the imports it uses, the contract this binary
//! implements copied into `wit/deps` (0.2.0 and the released 0.1.0), the samples and a
//! README with the componentize-py or jco commands; they need no livecart checkout.
//!
//! A Rust project is a workspace of its own with a `cdylib` crate, size-tuned
//! `[profile.release]` settings (what `livecart plugin build` uses outside this repository),
//! a hello-world `src/lib.rs`, sample `events.jsonl` and `config.json`, and a README with
//! the build, test and upload commands. The SDK (`livecart-sdk`, not published to a
//! registry) is a `path` dependency on the `plugin-sdk` of a livecart checkout: `--sdk
//! PATH`, else the one found above the `livecart` binary or the current directory. Without
//! a checkout, `--sdk-git URL` makes it a `git` dependency on the livecart repository.

use anyhow::{Context, bail};
use clap::{Args, ValueEnum};
use std::path::{Path, PathBuf};
use std::process::ExitCode;

#[derive(Debug, Args)]
pub struct NewArgs {
    /// The plugin's name: 1-64 lowercase letters, digits or '-', starting with a letter.
    /// It names the crate, the manifest and the directory.
    pub name: String,
    /// Where to create the `NAME` directory.
    #[arg(long, default_value = ".")]
    pub dir: PathBuf,
    /// The plugin's language.
    #[arg(long, value_enum, default_value_t = Lang::Rust)]
    pub lang: Lang,
    /// The `plugin-sdk` directory of a livecart checkout, for a path dependency (default:
    /// found above the `livecart` binary or the current directory).
    #[arg(long, env = "LIVECART_SDK", conflicts_with = "sdk_git")]
    pub sdk: Option<PathBuf>,
    /// Depend on the SDK from this git repository (livecart's) instead of a local checkout.
    #[arg(long)]
    pub sdk_git: Option<String>,
}

/// Languages a plugin project can be made for.
#[derive(Clone, Copy, Debug, PartialEq, Eq, ValueEnum)]
pub enum Lang {
    Rust,
    Python,
    Js,
}

const CARGO_TOML: &str = include_str!("plugin_template/Cargo.toml.in");
const LIB_RS: &str = include_str!("plugin_template/lib.rs.in");
const EVENTS: &str = include_str!("plugin_template/events.jsonl.in");
const CONFIG: &str = include_str!("plugin_template/config.json.in");
const README: &str = include_str!("plugin_template/README.md.in");
const GITIGNORE: &str = include_str!("plugin_template/gitignore.in");
const APP_PY: &str = include_str!("plugin_template/app.py.in");
const PLUGIN_JS: &str = include_str!("plugin_template/plugin.js.in");
const WORLD: &str = include_str!("plugin_template/world.wit.in");
const README_LANG: &str = include_str!("plugin_template/README.lang.md.in");
/// The contract this binary implements, for projects that bind it themselves.
const CONTRACT: &str = include_str!("../../../plugin-sdk/wit/plugin.wit");
const CONTRACT_V1: &str =
    include_str!("../../../plugin-sdk/wit/deps/livecart-plugin-0.1.0/plugin.wit");

pub fn run(args: NewArgs) -> anyhow::Result<ExitCode> {
    check_name(&args.name)?;
    if args.lang != Lang::Rust {
        return other_language(&args);
    }
    let sdk = Sdk::resolve(args.sdk.as_deref(), args.sdk_git.as_deref())?;
    let dir = args.dir.join(&args.name);
    ensure_empty(&dir)?;
    let fill = |template: &str| {
        template
            .replace("{{name}}", &args.name)
            .replace("{{type}}", &type_name(&args.name))
            .replace("{{sdk}}", &sdk.dependency())
            .replace("{{sdk_note}}", &sdk.note())
    };
    let files = [
        ("Cargo.toml", CARGO_TOML),
        ("src/lib.rs", LIB_RS),
        ("events.jsonl", EVENTS),
        ("config.json", CONFIG),
        ("README.md", README),
        (".gitignore", GITIGNORE),
    ];
    std::fs::create_dir_all(dir.join("src"))
        .with_context(|| format!("creating {}", dir.display()))?;
    for (path, template) in files {
        let path = dir.join(path);
        std::fs::write(&path, fill(template))
            .with_context(|| format!("writing {}", path.display()))?;
    }
    // The checkout's lock file pins the dependency versions the SDK is tested with (and
    // lets the project build from cargo's cache, offline); cargo drops what it does not use.
    if let Some(lock) = sdk.lock_file() {
        std::fs::copy(&lock, dir.join("Cargo.lock"))
            .with_context(|| format!("copying {}", lock.display()))?;
    }
    println!("created plugin {} in {}", args.name, dir.display());
    println!("  sdk: {}", sdk.describe());
    println!("next:");
    println!("  livecart plugin build {}", dir.display());
    println!(
        "  livecart plugin test {}/target/plugins/{}.wasm --events {d}/events.jsonl --config {d}/config.json",
        dir.display(),
        args.name,
        d = dir.display()
    );
    Ok(ExitCode::SUCCESS)
}

/// A Python or JavaScript project: the plugin, its world, the contract, samples, README.
fn other_language(args: &NewArgs) -> anyhow::Result<ExitCode> {
    let name = &args.name;
    let dir = args.dir.join(name);
    ensure_empty(&dir)?;
    let (language, toolchain, source, plugin, build) = match args.lang {
        Lang::Python => (
            "Python",
            "componentize-py 0.25.1 (`pip install componentize-py==0.25.1`, in a venv)",
            "app.py".to_owned(),
            APP_PY,
            format!("componentize-py -d wit -w plugin componentize app -o {name}.wasm"),
        ),
        _ => (
            "JavaScript",
            "jco 1.35 (`npm install @bytecodealliance/jco@1.35.0 @bytecodealliance/componentize-qjs`)",
            format!("{name}.js"),
            PLUGIN_JS,
            format!(
                "jco componentize \"$PWD/{name}.js\" --wit \"$PWD/wit\" -n plugin \\\n    \
                 --backend quickjs --backend-qjs-disable-async -o {name}.wasm"
            ),
        ),
    };
    let config = CONFIG.trim();
    let fill = |template: &str| {
        template
            .replace("{{name}}", name)
            .replace("{{config}}", config)
            .replace("{{language}}", language)
            .replace("{{toolchain}}", toolchain)
            .replace("{{build}}", &build)
    };
    let files = [
        (source.as_str(), fill(plugin)),
        ("wit/world.wit", fill(WORLD)),
        ("wit/deps/livecart-plugin/plugin.wit", CONTRACT.to_owned()),
        (
            "wit/deps/livecart-plugin-0.1.0/plugin.wit",
            CONTRACT_V1.to_owned(),
        ),
        ("events.jsonl", EVENTS.to_owned()),
        ("config.json", CONFIG.to_owned()),
        ("README.md", fill(README_LANG)),
        (".gitignore", "*.wasm\n__pycache__/\n".to_owned()),
    ];
    for (path, text) in files {
        let path = dir.join(path);
        if let Some(parent) = path.parent() {
            std::fs::create_dir_all(parent)
                .with_context(|| format!("creating {}", parent.display()))?;
        }
        std::fs::write(&path, text).with_context(|| format!("writing {}", path.display()))?;
    }
    println!("created {language} plugin {name} in {}", dir.display());
    println!("next, in {}:", dir.display());
    for line in build.lines() {
        println!("  {line}");
    }
    println!("  livecart plugin test {name}.wasm --events events.jsonl --config config.json");
    Ok(ExitCode::SUCCESS)
}

/// The manifest's rule for names, and also a valid cargo package name (which may not
/// start with a digit).
fn check_name(name: &str) -> anyhow::Result<()> {
    let ok = !name.is_empty()
        && name.len() <= 64
        && name
            .bytes()
            .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-')
        && name.as_bytes()[0].is_ascii_lowercase();
    if !ok {
        bail!(
            "invalid plugin name {name:?}: use 1-64 lowercase letters, digits or '-', \
             starting with a letter (e.g. `like-coupon`)"
        );
    }
    Ok(())
}

/// `like-coupon` → `LikeCoupon`.
fn type_name(name: &str) -> String {
    name.split('-')
        .filter(|part| !part.is_empty())
        .map(|part| {
            let mut chars = part.chars();
            chars.next().map_or_else(String::new, |c| {
                c.to_ascii_uppercase().to_string() + chars.as_str()
            })
        })
        .collect()
}

/// Refuse a path that is a file, or a directory with anything in it.
fn ensure_empty(dir: &Path) -> anyhow::Result<()> {
    if !dir.exists() {
        return Ok(());
    }
    if !dir.is_dir() {
        bail!("{} exists and is not a directory", dir.display());
    }
    let mut entries =
        std::fs::read_dir(dir).with_context(|| format!("reading {}", dir.display()))?;
    if entries.next().is_some() {
        bail!(
            "{} already exists and is not empty; choose another name or --dir",
            dir.display()
        );
    }
    Ok(())
}

/// How the project depends on `livecart-sdk`.
enum Sdk {
    Path(PathBuf),
    Git(String),
}

impl Sdk {
    fn resolve(path: Option<&Path>, git: Option<&str>) -> anyhow::Result<Sdk> {
        if let Some(url) = git {
            return Ok(Sdk::Git(url.to_owned()));
        }
        if let Some(path) = path {
            return sdk_dir(path).map(Sdk::Path).with_context(|| {
                format!(
                    "--sdk {}: not the plugin-sdk directory of a livecart checkout \
                     (it has no Cargo.toml for livecart-sdk)",
                    path.display()
                )
            });
        }
        let exe = std::env::current_exe().ok();
        let cwd = std::env::current_dir().ok();
        let found = [exe, cwd]
            .into_iter()
            .flatten()
            .flat_map(|start| start.ancestors().map(Path::to_path_buf).collect::<Vec<_>>())
            .find_map(|dir| sdk_dir(&dir.join("plugin-sdk")));
        found.map(Sdk::Path).context(
            "cannot find livecart's plugin-sdk (looked above the livecart binary and the \
             current directory): pass --sdk PATH to the plugin-sdk directory of a livecart \
             checkout, or --sdk-git URL of the livecart repository",
        )
    }

    /// The `[dependencies]` line.
    fn dependency(&self) -> String {
        match self {
            Sdk::Path(p) => format!(
                "livecart-sdk = {{ path = {} }}",
                toml_string(&p.display().to_string())
            ),
            Sdk::Git(url) => format!("livecart-sdk = {{ git = {} }}", toml_string(url)),
        }
    }

    /// The `Cargo.lock` of the checkout a path SDK belongs to.
    fn lock_file(&self) -> Option<PathBuf> {
        match self {
            Sdk::Path(p) => Some(p.parent()?.join("Cargo.lock")).filter(|l| l.is_file()),
            Sdk::Git(_) => None,
        }
    }

    fn describe(&self) -> String {
        match self {
            Sdk::Path(p) => format!("path {}", p.display()),
            Sdk::Git(url) => format!("git {url}"),
        }
    }

    /// What the README says about the dependency.
    fn note(&self) -> String {
        let how = match self {
            Sdk::Path(p) => format!(
                "a path dependency on the SDK of the livecart checkout at `{}`. If you move \
                 the project to another machine, point it at that machine's checkout, or use \
                 `livecart-sdk = {{ git = \"URL of the livecart repository\" }}`",
                p.display()
            ),
            Sdk::Git(url) => format!(
                "a git dependency on `{url}`; add `rev = \"...\"` to pin a version of the \
                 contract, or use `livecart-sdk = {{ path = \"../livecart/plugin-sdk\" }}` \
                 with a local checkout"
            ),
        };
        format!("```toml\n{}\n```\n\nThat is {how}.", self.dependency())
    }
}

/// `dir`, canonical, when it holds the `livecart-sdk` crate.
fn sdk_dir(dir: &Path) -> Option<PathBuf> {
    let manifest = std::fs::read_to_string(dir.join("Cargo.toml")).ok()?;
    if !manifest.contains("name = \"livecart-sdk\"") {
        return None;
    }
    std::fs::canonicalize(dir).ok()
}

/// A TOML basic string.
fn toml_string(s: &str) -> String {
    let mut out = String::with_capacity(s.len() + 2);
    out.push('"');
    for c in s.chars() {
        match c {
            '"' => out.push_str("\\\""),
            '\\' => out.push_str("\\\\"),
            c if c.is_control() => out.push_str(&format!("\\u{:04X}", u32::from(c))),
            c => out.push(c),
        }
    }
    out.push('"');
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_follow_the_manifest_rule_and_cargo() {
        for ok in ["hello", "like-coupon", "a1", "x-2-y"] {
            assert!(check_name(ok).is_ok(), "{ok}");
        }
        for bad in [
            "",
            "Hello",
            "-x",
            "1abc",
            "a_b",
            "a b",
            "é",
            &"a".repeat(65),
        ] {
            let e = check_name(bad).expect_err(bad).to_string();
            assert!(e.starts_with("invalid plugin name"), "{e}");
        }
    }

    #[test]
    fn type_names_are_camel_case() {
        assert_eq!(type_name("like-coupon"), "LikeCoupon");
        assert_eq!(type_name("a--b2"), "AB2");
        assert_eq!(type_name("hello"), "Hello");
    }

    #[test]
    fn toml_strings_escape_quotes_and_backslashes() {
        assert_eq!(toml_string(r#"C:\a "b""#), r#""C:\\a \"b\"""#);
    }
}
