# Shared helpers for scripts/demo.sh and scripts/test.sh: idempotent installs.
# Sourced, not run.

# Run as root, or through sudo when there is one.
as_root() {
    if [ "$(id -u)" -eq 0 ]; then "$@"; else sudo "$@"; fi
}

# Install Debian packages that are not installed yet (one apt-get call, only if needed).
ensure_apt() {
    local missing=()
    for pkg in "$@"; do
        dpkg-query -W -f='${Status}' "$pkg" 2>/dev/null | grep -q "install ok installed" || missing+=("$pkg")
    done
    if [ "${#missing[@]}" -gt 0 ]; then
        echo "==> installing Debian packages: ${missing[*]}"
        as_root apt-get update -qq
        # Packages with a service (nginx, postgresql) must not start it: the tests run
        # their own instances on temp dirs and free ports. policy-rc.d says so to dpkg.
        local policy=/usr/sbin/policy-rc.d placed=
        if [ ! -e "$policy" ]; then
            as_root sh -c "printf '#!/bin/sh\nexit 101\n' > $policy && chmod +x $policy"
            placed=1
        fi
        as_root env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends "${missing[@]}"
        # (An `if`, not `&&`: a policy already in place must not make the function fail.)
        if [ -n "$placed" ]; then as_root rm -f "$policy"; fi
    fi
}

# Add rustup targets and components that are not installed yet.
ensure_rust() {
    local installed
    installed=$(rustup target list --installed)
    for target in wasm32-unknown-unknown wasm32-wasip2; do
        grep -qx "$target" <<<"$installed" || rustup target add "$target"
    done
    installed=$(rustup component list --installed)
    for component in rustfmt clippy; do
        grep -q "^$component" <<<"$installed" || rustup component add "$component"
    done
}

# Debian packages every command needs: a C toolchain for -sys crates, binaryen's wasm-opt
# (shrinks plugins), and GStreamer 1.22 for media: headers to build the bindings, the
# plugins the ladder and the demo source use (x264 is in "ugly", the H.264 decoder and AAC
# encoder in libav, clockoverlay in gstreamer1.0-x).
BASE_PACKAGES=(build-essential pkg-config binaryen
    libgstreamer1.0-dev libgstreamer-plugins-base1.0-dev
    gstreamer1.0-plugins-base gstreamer1.0-plugins-good gstreamer1.0-plugins-bad
    gstreamer1.0-plugins-ugly gstreamer1.0-libav gstreamer1.0-x)

# Real peers for the media tests: ffmpeg publishes and probes; GStreamer's RTSP server
# (driven from Python) is the camera; PostgreSQL 15 backs the Postgres store tests (a
# throwaway cluster per test run, never the system service); nats-server (2.9 in Debian
# 12, with JetStream) is the room bus of the cluster tests; prometheus_client parses
# `/metrics` as Prometheus would; python3-m3u8 reads the LL-HLS playlists as a third-party
# parser; nginx with its RTMP module is the ingest POP of
# deploy/ingest-pop, and nginx with Varnish the CDN edge of deploy/cdn-edge (each run on
# temp dirs and free ports, never as the system service).
TEST_PACKAGES=(ffmpeg python3-gi gir1.2-gst-rtsp-server-1.0 postgresql-15 nats-server
    python3-prometheus-client python3-m3u8 nginx libnginx-mod-rtmp varnish)

# Build the example plugins and test fixtures into <target>/plugins with an already built
# livecart binary ($1). Taking the binary, rather than `cargo run -p livecart`, matters: a
# `-p livecart` build resolves features differently from `cargo test --workspace`, and would
# compile wasmtime, GStreamer and the host a second time (minutes, and gigabytes of target/).
build_plugins() {
    local livecart=$1
    echo "==> building plugins"
    "$livecart" plugin build \
        plugins/hello plugins/like-coupon plugins/keyword-push plugins/ai-host plugins/lottery \
        plugins/sneaky plugins/other-world plugins/compat-v1
    # The hostile fixtures are wasm32-wasip2 on purpose: they exercise the deny-all WASI.
    "$livecart" plugin build --wasip2 plugins/hostile
    build_lang_plugins
}

# The target directory the build uses (cargo's, unless CARGO_TARGET_DIR moves it).
target_dir() {
    echo "${CARGO_TARGET_DIR:-target}"
}

# The Python and JavaScript plugin toolchains, pinned in scripts/plugin-tools and installed
# into <target>/plugin-tools once: componentize-py in a venv (Debian's python3 needs
# python3-venv for that), jco and its QuickJS backend from npm (`npm ci` from the lock,
# --prefer-offline so a warm npm cache needs no network). Reinstalled only when the pins
# change.
ensure_plugin_tools() {
    local tools
    tools="$(target_dir)/plugin-tools"
    mkdir -p "$tools"
    python3 -c 'import ensurepip, venv' 2>/dev/null || ensure_apt python3 python3-venv
    if ! cmp -s scripts/plugin-tools/requirements.txt "$tools/py/requirements.txt"; then
        echo "==> installing the Python plugin toolchain (componentize-py)"
        rm -rf "$tools/py"
        python3 -m venv "$tools/py"
        "$tools/py/bin/pip" install -q --disable-pip-version-check -r scripts/plugin-tools/requirements.txt
        cp scripts/plugin-tools/requirements.txt "$tools/py/requirements.txt"
    fi
    command -v npm >/dev/null 2>&1 || ensure_apt nodejs npm
    if ! cmp -s scripts/plugin-tools/package-lock.json "$tools/js/package-lock.json"; then
        echo "==> installing the JavaScript plugin toolchain (jco, componentize-qjs)"
        rm -rf "$tools/js"
        mkdir -p "$tools/js"
        cp scripts/plugin-tools/package.json scripts/plugin-tools/package-lock.json "$tools/js/"
        (cd "$tools/js" && npm ci --prefer-offline --no-audit --no-fund)
    fi
}

# Build plugin $1 (a directory under plugins/) with command "${@:3}" writing $2, unless a
# build of exactly these sources (the plugin's files, the contract, the toolchain pins)
# is cached: <target>/plugins/cache/<name>-<sha256>.wasm. A Python build takes ~10 s.
cached_build() {
    local dir=$1 out=$2 name key cache
    shift 2
    name=$(basename "$dir")
    key=$( (find -L "$dir" plugin-sdk/wit scripts/plugin-tools -type f \
        ! -name '*.wasm' ! -path '*/__pycache__/*' -print0 | sort -z | xargs -0 sha256sum) \
        | sha256sum | cut -c1-16)
    cache="$(dirname "$out")/cache/$name-$key.wasm"
    if [ ! -f "$cache" ]; then
        echo "==> building $name"
        mkdir -p "$(dirname "$cache")"
        "$@" "$cache.tmp.wasm"
        mv "$cache.tmp.wasm" "$cache"
    fi
    cp "$cache" "$out"
}

# The Python and JavaScript example plugins (plugins/keyword-push-py, -js), built with the
# toolchains above against their own world (wit/world.wit, which names only the imports
# they use) into <target>/plugins.
build_lang_plugins() {
    local tools out py=$PWD/plugins/keyword-push-py js=$PWD/plugins/keyword-push-js
    ensure_plugin_tools
    tools="$(realpath "$(target_dir)")/plugin-tools"
    out="$(realpath "$(target_dir)")/plugins"
    mkdir -p "$out"
    # Absolute paths: jco resolves the entry file from its own directory.
    cached_build plugins/keyword-push-py "$out/keyword-push-py.wasm" \
        "$tools/py/bin/componentize-py" -d "$py/wit" -w keyword-push \
        componentize -p "$py" app -o
    cached_build plugins/keyword-push-js "$out/keyword-push-js.wasm" \
        "$tools/js/node_modules/.bin/jco" componentize "$js/keyword-push.js" \
        --wit "$js/wit" -n keyword-push --backend quickjs --backend-qjs-disable-async -o
}

# A target/ kept between runs only grows: every change of a dependency or of the profiles
# leaves the old artifacts behind. When the disk holding it runs low (under $1 GiB free),
# drop the build caches so the run has room; a cold build costs minutes, a full disk fails.
prune_target() {
    local want_gib=$1 free_kib
    [ -d target ] || return 0
    free_kib=$(df -Pk target | awk 'NR == 2 { print $4 }')
    if [ "$free_kib" -lt $((want_gib * 1024 * 1024)) ]; then
        echo "==> only $((free_kib / 1024 / 1024)) GiB free: removing target/debug and target/release"
        rm -rf target/debug target/release
    fi
}

# web/'s npm packages (dash.js, which the build embeds in the viewer page, and playwright-core
# for the browser tests), reinstalled only when package-lock.json is newer than
# web/node_modules. Node and npm come from Debian when the machine has none.
ensure_npm() {
    command -v npm >/dev/null 2>&1 || ensure_apt nodejs npm
    if [ ! -d web/node_modules ] || [ web/package-lock.json -nt web/node_modules ]; then
        echo "==> npm ci (web/)"
        (cd web && npm ci --no-audit --no-fund)
        touch web/node_modules
    fi
}

# What the browser tests need: Debian's Chromium, a CJK font (the zh-CN screenshots of the
# viewer page are Chinese text, not boxes) and web/'s npm packages.
ensure_web() {
    ensure_apt chromium fonts-noto-cjk
    ensure_npm
}
