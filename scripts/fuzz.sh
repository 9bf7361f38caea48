#!/usr/bin/env bash
# Coverage-guided fuzzing of the parsers of untrusted bytes (afl.rs + AFL++).
#
#   ./scripts/fuzz.sh [TARGET|all] [EXECS]     (default: all, 1000000 executions each)
#
# Targets run one after another (each takes a core). Findings go to
# $CARGO_TARGET_DIR/fuzz-out/<target>/; the checked-in corpus (fuzz/corpus/<target>) is the
# input. Prints execs, execs/s, corpus size, crashes and hangs per target, and exits
# non-zero on any crash or hang. Not part of CI; see docs/fuzzing.md.
set -euo pipefail
cd "$(dirname "$0")/.."
source scripts/lib.sh

TARGETS=(rtmp_chunks amf flv_tags sps mp4_boxes room_protocol plugin_config)
MEDIA_TARGETS=(rtmp_chunks amf flv_tags sps mp4_boxes)
which=${1:-all}
execs=${2:-1000000}
if [ "$which" = all ]; then run=("${TARGETS[@]}"); else run=("$which"); fi

# Not Debian's afl++: its 4.04c afl-fuzz/afl-showmap abort on the forkserver of
# cargo-afl 0.18's runtime ("Unable to request new process from fork server"). cargo-afl
# builds its bundled AFL++ (afl-fuzz, afl-cmin.bash) once per rustc instead; that needs
# only a C toolchain. "Already built" is fine.
ensure_apt build-essential
command -v cargo-afl >/dev/null || cargo install cargo-afl --locked
cargo afl config --build >/dev/null 2>&1 || true

# Media-only targets build without the host crate (no wasmtime): much quicker.
features=(--no-default-features --features afl)
for t in "${run[@]}"; do
    [[ " ${MEDIA_TARGETS[*]} " == *" $t "* ]] || features=(--features afl,host)
done
# cargo-afl adds `-C debug-assertions -C overflow_checks`: overflows are crashes too.
echo "==> building fuzz targets (${features[*]})"
cargo afl build --release --locked -p livecart-fuzz "${features[@]}"

target=$(target_dir)
out_root="$target/fuzz-out"
mkdir -p "$out_root"
# In a container: no CPU governor to read, no core dump pattern to set, no TTY for the UI,
# and other builds share the cores (no pinning).
export AFL_SKIP_CPUFREQ=1 AFL_I_DONT_CARE_ABOUT_MISSING_CRASHES=1 AFL_NO_UI=1 AFL_NO_AFFINITY=1
failed=0
printf '%-14s %10s %9s %7s %8s %6s\n' target execs execs/s corpus crashes hangs > "$out_root/summary.txt"
for t in "${run[@]}"; do
    out="$out_root/$t"
    rm -rf "$out"
    echo "==> fuzzing $t to $execs executions"
    cargo afl fuzz -i "fuzz/corpus/$t" -o "$out" -E "$execs" -t 1000 -m none \
        -- "$target/release/$t" > "$out.log" 2>&1 || { echo "afl-fuzz failed: see $out.log"; failed=1; continue; }
    stats="$out/default/fuzzer_stats"
    get() { awk -F' *: *' -v k="$1" '$1 == k { print $2 }' "$stats"; }
    crashes=$(get saved_crashes); hangs=$(get saved_hangs)
    printf '%-14s %10s %9s %7s %8s %6s\n' "$t" "$(get execs_done)" "$(get execs_per_sec)" \
        "$(get corpus_count)" "$crashes" "$hangs" | tee -a "$out_root/summary.txt"
    [ "${crashes:-0}" = 0 ] && [ "${hangs:-0}" = 0 ] || failed=1
done
echo "==> summary ($out_root/summary.txt)"
cat "$out_root/summary.txt"
exit "$failed"
