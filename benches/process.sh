#!/usr/bin/env bash
# Whole-process costs of the release CLI, as a pipeline step pays them:
# `sealgate check` with an empty and a warm precompiled cache, `attest` and
# `verify`, wall time (median of N) and peak RSS; and `openssl dgst -sha256`
# on the 1 GiB file the `digest_1gib` bench hashes, for the ratio.
#
#   cargo build --release --locked --bin sealgate
#   for p in pii lineage encryption retention drift quality; do
#       target/release/sealgate policy build policies/$p --out-dir target/policies; done
#   cargo bench -p sealgate-benches          # makes target/tmp/bench-1gib.bin
#   bash benches/process.sh [N]
set -euo pipefail
cd "$(dirname "$0")/.."
n=${1:-21}
sealgate=target/release/sealgate
gate=examples/gates/ml-release.toml
meta=examples/metadata/churn-model.json
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT

# Median wall time in ms of `n` runs of "$@" (a fresh cache per run when
# COLD=1), and the peak RSS (KiB) of the last run.
measure() {
    local times=() i start end
    for ((i = 0; i < n; i++)); do
        if [ "${COLD:-0}" = 1 ]; then rm -rf "$work/cache"; fi
        start=$(date +%s%N)
        "$@" >/dev/null 2>&1 || true
        end=$(date +%s%N)
        times+=($(((end - start) / 1000)))
    done
    local median
    median=$(printf '%s\n' "${times[@]}" | sort -n | sed -n "$(((n + 1) / 2))p")
    local rss
    if [ "${COLD:-0}" = 1 ]; then rm -rf "$work/cache"; fi
    /usr/bin/time -f '%M' -o "$work/rss" "$@" >/dev/null 2>&1 || true
    rss=$(tail -n 1 "$work/rss")
    printf '%-44s median %8.2f ms   peak RSS %6s KiB\n' "$label" "$(echo "$median / 1000" | bc -l)" "$rss"
}

export SEALGATE_CACHE_DIR="$work/cache"
mkdir -p "$work/cache" && chmod 700 "$work/cache"
"$sealgate" keygen --out "$work/keys" --name bench >/dev/null
artifact=../shared/fixtures/real/mlflow3-mlruns/358768659074516099/models/m-adc4bb85122d4bb8865ef4a378276603/artifacts/model.skops

label="check, empty cache (compile 6 policies)" COLD=1 measure "$sealgate" check --gate "$gate" --metadata "$meta"
"$sealgate" check --gate "$gate" --metadata "$meta" >/dev/null || true   # warm it
label="check, warm cache" measure "$sealgate" check --gate "$gate" --metadata "$meta"
label="attest, warm cache" measure "$sealgate" attest --gate "$gate" --metadata "$meta" \
    --artifact "$artifact" --key "$work/keys/bench.key" --out "$work/bundle.jsonl"
label="verify" measure "$sealgate" verify --bundle "$work/bundle.jsonl" --artifact "$artifact" \
    --key "$work/keys/bench.pub"

big=target/tmp/bench-1gib.bin
if [ -f "$big" ]; then
    n=5 label="openssl dgst -sha256, 1 GiB" measure openssl dgst -sha256 "$big"
fi
