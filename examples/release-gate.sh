#!/usr/bin/env bash
# The main job: build sealgate and the PII policy from source, then run the
# ml-release gate on both example models. The model with identifiers in its
# signature must FAIL (exit 1) with findings; the clean one must PASS (exit 0).
set -euo pipefail
cd "$(dirname "$0")/.."
rustup target add wasm32-unknown-unknown
cargo build --release --locked --bin sealgate
sealgate=target/release/sealgate
"$sealgate" policy build policies/pii --out-dir target/policies
"$sealgate" policy build policies/lineage --out-dir target/policies

status=0
run() {
    local model=$1 expected=$2 code=0
    echo
    echo "\$ sealgate check --gate examples/gates/ml-release.toml --metadata examples/metadata/$model.json"
    "$sealgate" check --gate examples/gates/ml-release.toml --metadata "examples/metadata/$model.json" || code=$?
    echo "(exit $code)"
    if [ "$code" -ne "$expected" ]; then
        echo "release-gate: expected exit $expected for $model, got $code" >&2
        status=1
    fi
}
run churn-model-pii 1
run churn-model 0
exit $status
