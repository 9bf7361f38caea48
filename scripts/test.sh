#!/usr/bin/env bash
# Run every livecart check: install what is missing, build the plugins, then formatting,
# clippy (warnings are errors) and the whole test suite.
set -euo pipefail
cd "$(dirname "$0")/.."
source scripts/lib.sh

ensure_apt "${BASE_PACKAGES[@]}" "${TEST_PACKAGES[@]}"
ensure_rust
ensure_web
prune_target 30
# A CI run starts from a fresh clone: incremental caches would only cost time and disk.
[ -n "${CI:-}" ] && export CARGO_INCREMENTAL=0

echo "==> cargo fmt --check"
cargo fmt --all --check
echo "==> cargo clippy"
cargo clippy --workspace --all-targets --locked -- -D warnings
echo "==> cargo test (build)"
cargo test --workspace --locked --no-run
# The test build made target/debug/livecart with the same features: no second host build.
build_plugins target/debug/livecart
echo "==> cargo test"
cargo test --workspace --locked
