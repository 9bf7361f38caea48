//! Helpers for livecart's end-to-end tests: build and locate the `livecart` binary and
//! the built plugins, run commands, and stop child processes.

use std::path::{Path, PathBuf};
use std::process::{Child, Command, Output};
use std::sync::OnceLock;

/// The workspace root.
pub fn root() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .parent()
        .map(Path::to_path_buf)
        .unwrap_or_default()
}

/// The target directory the workspace builds into.
pub fn target_dir() -> PathBuf {
    std::env::var_os("CARGO_TARGET_DIR")
        .map(PathBuf::from)
        .unwrap_or_else(|| root().join("target"))
}

/// The `livecart` binary, built (once per test process) from the current sources.
pub fn livecart() -> &'static Path {
    static BIN: OnceLock<PathBuf> = OnceLock::new();
    BIN.get_or_init(|| {
        let cargo = std::env::var("CARGO").unwrap_or_else(|_| "cargo".into());
        let status = Command::new(cargo)
            .args(["build", "-q", "-p", "livecart", "--bin", "livecart"])
            .current_dir(root())
            .status()
            .expect("running cargo build");
        assert!(status.success(), "building livecart failed");
        target_dir().join("debug").join("livecart")
    })
}

/// A built plugin component.
pub fn plugin(name: &str) -> PathBuf {
    let path = target_dir().join("plugins").join(format!("{name}.wasm"));
    assert!(
        path.exists(),
        "{} is missing: run ./scripts/test.sh, which builds the plugins first",
        path.display()
    );
    path
}

/// Run `livecart` with `args` to completion.
pub fn run(args: &[&str]) -> Output {
    Command::new(livecart())
        .args(args)
        .current_dir(root())
        .env("RUST_LOG", "warn")
        // Compiled plugins are cached across tests and runs, as for a developer.
        .env("LIVECART_CACHE_DIR", target_dir().join("plugin-cache"))
        .output()
        .expect("running livecart")
}

/// A child process killed when dropped, so a failing test leaves nothing running.
pub struct KillOnDrop(pub Child);

impl Drop for KillOnDrop {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}
