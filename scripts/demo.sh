#!/usr/bin/env bash
# Run livecart on its embedded defaults (SQLite in ./.livecart, demo room with the example
# plugins). Installs what is missing first. Extra arguments go to `livecart serve`.
set -euo pipefail
cd "$(dirname "$0")/.."
source scripts/lib.sh

ensure_apt "${BASE_PACKAGES[@]}"
ensure_rust
ensure_npm

prune_target 10
cargo build -q --release --locked -p livecart
build_plugins target/release/livecart
echo "==> starting livecart"
exec target/release/livecart serve "$@"
