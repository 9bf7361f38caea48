//! Embeds the web pages into the binary: every file of `web/src/` and the players (dash.js,
//! hls.js) from `web/node_modules` (installed by `npm ci` in the README's two commands), each also
//! gzip-compressed when that makes it smaller (with the system's `gzip`; without it, only
//! the plain files). Writes `$OUT_DIR/web_assets.rs`, a table of `(name, bytes, gzipped)`
//! that `src/web.rs` includes.
//!
//! Without `web/node_modules` the build still succeeds: the player scripts are then missing
//! from the table, the viewer page says so, and a cargo warning names the fix.

use std::fmt::Write as _;
use std::path::{Path, PathBuf};

/// The player scripts: the name served under `/assets/` and where npm puts it.
const PLAYERS: [(&str, &str); 2] = [
    ("dash.all.min.js", "dashjs/dist"),
    ("hls.min.js", "hls.js/dist"),
];

fn main() {
    let manifest = PathBuf::from(std::env::var_os("CARGO_MANIFEST_DIR").expect("cargo sets it"));
    let web = manifest.join("..").join("web");
    let src = web.join("src");
    println!("cargo:rerun-if-changed={}", src.display());
    // npm ci rewrites this file, so a fresh install is noticed.
    println!(
        "cargo:rerun-if-changed={}",
        web.join("node_modules")
            .join(".package-lock.json")
            .display()
    );

    let mut files: Vec<(String, PathBuf)> = Vec::new();
    if let Ok(entries) = std::fs::read_dir(&src) {
        for entry in entries.flatten() {
            let path = entry.path();
            let Some(name) = path.file_name().and_then(|n| n.to_str()) else {
                continue;
            };
            if path.is_file() && !name.starts_with('.') {
                files.push((name.to_owned(), path.clone()));
            }
        }
    }
    for (name, dir) in PLAYERS {
        let path = web.join("node_modules").join(dir).join(name);
        if path.is_file() {
            files.push((name.to_owned(), path));
        } else {
            println!(
                "cargo:warning={} is missing: the viewer page will lack a player \
                 (run `npm ci` in web/, or use scripts/demo.sh which does)",
                path.display()
            );
        }
    }
    files.sort();

    let out_dir = PathBuf::from(std::env::var_os("OUT_DIR").expect("cargo sets it"));
    let mut out = String::from(
        "/// An embedded web file: name, bytes, gzip-compressed bytes when smaller.\n\
         pub type Asset = (&'static str, &'static [u8], Option<&'static [u8]>);\n\
         /// Every embedded web file.\n\
         pub static ASSETS: &[Asset] = &[\n",
    );
    for (name, path) in &files {
        let gz = gzip(path, &out_dir.join(format!("{name}.gz")));
        let _ = writeln!(
            out,
            "    ({name:?}, include_bytes!({:?}), {}),",
            absolute(path).display(),
            match gz {
                Some(gz) => format!("Some(include_bytes!({:?}))", gz.display()),
                None => "None".to_owned(),
            }
        );
    }
    out.push_str("];\n");
    std::fs::write(out_dir.join("web_assets.rs"), out).expect("writing web_assets.rs");
}

/// `src` compressed with `gzip -9` into `dest`, if that worked and saved bytes.
fn gzip(src: &Path, dest: &Path) -> Option<PathBuf> {
    let output = std::process::Command::new("gzip")
        .args(["-9", "-n", "-c"])
        .arg(src)
        .output()
        .ok()?;
    let plain = std::fs::metadata(src).ok()?.len();
    if !output.status.success() || output.stdout.len() as u64 >= plain {
        return None;
    }
    std::fs::write(dest, &output.stdout).ok()?;
    Some(dest.to_path_buf())
}

fn absolute(path: &Path) -> PathBuf {
    std::fs::canonicalize(path).unwrap_or_else(|_| path.to_path_buf())
}
