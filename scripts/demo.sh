#!/usr/bin/env bash
# Run livecart on its embedded defaults (SQLite in ./.livecart, demo room with the example
# plugins). Installs what is missing first. Extra arguments go to `livecart serve`.
set -euo pipefail
cd "$(dirname "$0")/.."
source scripts/lib.sh

ensure_apt "${BASE_PACKAGES[@]}"
ensure_rust
ensure_npm

build_plugins --release
echo "==> starting livecart"
exec cargo run -q --release -p livecart -- serve "$@"
