//! Building a plugin: `cargo build` for `wasm32-unknown-unknown`, then wrapping the core
//! module in a component.
//!
//! Rust plugins build smallest for `wasm32-unknown-unknown` (no WASI, ~35 KB for hello):
//! `wit-bindgen` embeds the contract in the module, and [`componentize`] turns it into the
//! component the host loads. `wasm32-wasip2` builds are components already and load as
//! they are (the host links a deny-all WASI for them), at roughly twice the size.

use anyhow::{Context, bail};
use std::path::{Path, PathBuf};
use std::process::Command;

/// Wrap a core module built with `wit-bindgen` into a component.
pub fn componentize(core: &[u8]) -> anyhow::Result<Vec<u8>> {
    wit_component::ComponentEncoder::default()
        .module(core)
        .context("reading the core module's embedded contract")?
        .validate(true)
        .encode()
        .context("encoding the component")
}

/// Which wasm target to build plugins for.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum PluginTarget {
    /// `wasm32-unknown-unknown`, then [`componentize`]: smallest, no WASI imports.
    Core,
    /// `wasm32-wasip2`: a component straight from rustc, importing WASI.
    Wasip2,
}

impl PluginTarget {
    fn triple(self) -> &'static str {
        match self {
            PluginTarget::Core => "wasm32-unknown-unknown",
            PluginTarget::Wasip2 => "wasm32-wasip2",
        }
    }
}

/// Build the plugin crates at `crate_dirs` (one workspace) with one `cargo build`, using
/// the size-tuned `plugin` profile (or `release` when the workspace has none), and write
/// each component to `<out_dir or <target>/plugins>/<name>.wasm`. Returns the paths.
pub fn build(
    crate_dirs: &[PathBuf],
    target: PluginTarget,
    out_dir: Option<&Path>,
) -> anyhow::Result<Vec<PathBuf>> {
    let Some(first) = crate_dirs.first() else {
        bail!("no plugin crate given");
    };
    let meta = Command::new("cargo")
        .args([
            "metadata",
            "--format-version",
            "1",
            "--no-deps",
            "--manifest-path",
        ])
        .arg(first.join("Cargo.toml"))
        .output()
        .context("running cargo metadata")?;
    if !meta.status.success() {
        bail!(
            "cargo metadata failed: {}",
            String::from_utf8_lossy(&meta.stderr)
        );
    }
    let meta: serde_json::Value = serde_json::from_slice(&meta.stdout)?;
    let mut names = Vec::new();
    for dir in crate_dirs {
        let manifest = std::fs::canonicalize(dir.join("Cargo.toml"))
            .with_context(|| format!("no Cargo.toml in {}", dir.display()))?
            .display()
            .to_string();
        let package = meta["packages"]
            .as_array()
            .and_then(|ps| ps.iter().find(|p| p["manifest_path"] == manifest.as_str()))
            .with_context(|| {
                format!(
                    "{} is not in the workspace of {}",
                    dir.display(),
                    first.display()
                )
            })?;
        names.push(
            package["name"]
                .as_str()
                .context("package without name")?
                .to_owned(),
        );
    }
    let target_dir = PathBuf::from(meta["target_directory"].as_str().context("no target dir")?);
    let profile = if workspace_has_plugin_profile(&meta) {
        "plugin"
    } else {
        "release"
    };
    let mut cmd = Command::new("cargo");
    cmd.args(["build", "--target", target.triple(), "--profile", profile])
        .arg("--manifest-path")
        .arg(first.join("Cargo.toml"));
    for name in &names {
        cmd.args(["-p", name]);
    }
    let status = cmd.status().context("running cargo build")?;
    if !status.success() {
        bail!("cargo build failed for {}", names.join(", "));
    }
    let built = target_dir.join(target.triple()).join(profile);
    let out_dir = match out_dir {
        Some(p) => p.to_path_buf(),
        None => target_dir.join("plugins"),
    };
    std::fs::create_dir_all(&out_dir)?;
    let mut outputs = Vec::new();
    for name in &names {
        let path = built.join(format!("{}.wasm", name.replace('-', "_")));
        let bytes = std::fs::read(&path).with_context(|| format!("reading {}", path.display()))?;
        let component = match target {
            PluginTarget::Core => componentize(&shrink(&path).unwrap_or(bytes))
                .with_context(|| format!("componentizing {}", path.display()))?,
            PluginTarget::Wasip2 => bytes,
        };
        let out = out_dir.join(format!("{name}.wasm"));
        std::fs::write(&out, component).with_context(|| format!("writing {}", out.display()))?;
        outputs.push(out);
    }
    Ok(outputs)
}

/// The features rustc's wasm32 targets emit by default, which `wasm-opt` must accept.
const WASM_FEATURES: &[&str] = &[
    "--enable-bulk-memory",
    "--enable-sign-ext",
    "--enable-mutable-globals",
    "--enable-nontrapping-float-to-int",
    "--enable-multivalue",
    "--enable-reference-types",
];

/// Run binaryen's `wasm-opt -Oz` over a core module when it is installed (the scripts
/// install it): about 13 % smaller plugins. Without it, or if it fails, the module is used
/// as rustc left it.
fn shrink(core: &Path) -> Option<Vec<u8>> {
    let out = core.with_extension("opt.wasm");
    let status = Command::new("wasm-opt")
        .arg("-Oz")
        .args(WASM_FEATURES)
        .arg(core)
        .arg("-o")
        .arg(&out)
        .status();
    match status {
        Ok(s) if s.success() => std::fs::read(&out).ok(),
        Ok(s) => {
            tracing::warn!("wasm-opt failed ({s}); using the unoptimized module");
            None
        }
        Err(_) => {
            tracing::info!("wasm-opt not found; install binaryen for smaller plugins");
            None
        }
    }
}

fn workspace_has_plugin_profile(meta: &serde_json::Value) -> bool {
    let Some(root) = meta["workspace_root"].as_str() else {
        return false;
    };
    std::fs::read_to_string(Path::new(root).join("Cargo.toml"))
        .map(|t| t.contains("[profile.plugin]"))
        .unwrap_or(false)
}
