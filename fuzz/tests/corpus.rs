//! Replays every checked-in corpus file and every crash regression of every fuzz target
//! through its harness, so `cargo test --workspace` keeps them passing without afl.

use std::path::{Path, PathBuf};

fn files(dir: &Path) -> Vec<PathBuf> {
    let Ok(entries) = std::fs::read_dir(dir) else {
        return Vec::new();
    };
    let mut files: Vec<PathBuf> = entries
        .filter_map(|e| e.ok().map(|e| e.path()))
        .filter(|p| p.is_file() && p.file_name().is_some_and(|n| n != ".gitkeep"))
        .collect();
    files.sort();
    files
}

#[test]
fn every_corpus_and_regression_input_passes() {
    let root = Path::new(env!("CARGO_MANIFEST_DIR"));
    for (target, harness) in livecart_fuzz::TARGETS {
        let corpus = files(&root.join("corpus").join(target));
        assert!(
            !corpus.is_empty(),
            "fuzz/corpus/{target} is missing or empty"
        );
        let regressions = files(&root.join("regressions").join(target));
        for path in corpus.iter().chain(&regressions) {
            let data =
                std::fs::read(path).unwrap_or_else(|e| panic!("reading {}: {e}", path.display()));
            harness(&data);
        }
    }
}
