#!/usr/bin/env bash
# The main job: build sealgate and the six shipped policies from source, then
# run the ml-release gate on every example model. The clean model must PASS
# (exit 0); each of the others breaks something a policy guards and must FAIL
# (exit 1) with findings (docs/metadata.md lists which).
set -euo pipefail
cd "$(dirname "$0")/.."
rustup target add wasm32-unknown-unknown
cargo build --release --locked --bin sealgate
sealgate=target/release/sealgate
for policy in pii lineage encryption retention drift quality; do
    "$sealgate" policy build "policies/$policy" --out-dir target/policies
done

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
run churn-model 0
run churn-model-pii 1
run churn-model-drifted 1
run churn-model-exposed-storage 1
run churn-model-unvalidated 1
exit $status
