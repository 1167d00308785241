#!/usr/bin/env bash
# The main job: build sealgate, the six shipped policies and the Rego engine
# from source, then run the ml-release gate on every example model. The clean
# model must PASS (exit 0); each of the others breaks something a policy
# guards and must FAIL (exit 1) with findings (docs/metadata.md lists which).
# Then the model-card gate (a Rego policy): the documented model passes, the
# undocumented one fails.
set -euo pipefail
cd "$(dirname "$0")/.."
rustup target add wasm32-unknown-unknown
cargo build --release --locked --bin sealgate
sealgate=target/release/sealgate
for policy in pii lineage encryption retention drift quality rego-engine; do
    "$sealgate" policy build "policies/$policy" --out-dir target/policies
done

status=0
run() {
    local model=$1 expected=$2 gate=${3:-ml-release} code=0
    echo
    echo "\$ sealgate check --gate examples/gates/$gate.toml --metadata examples/metadata/$model.json"
    "$sealgate" check --gate "examples/gates/$gate.toml" --metadata "examples/metadata/$model.json" || code=$?
    echo "(exit $code)"
    if [ "$code" -ne "$expected" ]; then
        echo "release-gate: expected exit $expected for $model ($gate), got $code" >&2
        status=1
    fi
}
run churn-model 0
run churn-model-pii 1
run churn-model-drifted 1
run churn-model-exposed-storage 1
run churn-model-unvalidated 1
run churn-model-documented 0 model-card
run churn-model 1 model-card
exit $status
