#!/usr/bin/env bash
# Run every livecart check: install what is missing, build the plugins, then formatting,
# clippy (warnings are errors) and the whole test suite.
set -euo pipefail
cd "$(dirname "$0")/.."
source scripts/lib.sh

ensure_apt "${BASE_PACKAGES[@]}" "${TEST_PACKAGES[@]}"
ensure_rust
ensure_web

build_plugins
echo "==> cargo fmt --check"
cargo fmt --all --check
echo "==> cargo clippy"
cargo clippy --workspace --all-targets --locked -- -D warnings
echo "==> cargo test"
cargo test --workspace --locked
