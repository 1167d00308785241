#!/usr/bin/env bash
# What an ML team's CI does with sealgate, as two jobs (the same commands as
# github-workflow.yml):
#
#   train   collect the model's metadata from MLflow, DVC and the S3 settings;
#           attest the model file against the staging gate (signed bundle).
#           A FAILED gate stops the pipeline here (exit 1).
#   deploy  verify the bundle for the model's exact bytes under the trust
#           file; promote (copy into the registry) only if it is accepted.
#
# usage: pipeline.sh [train|deploy|all] WORKDIR [MODEL [ALIAS|VERSION]]
#   defaults: all, churn-model, champion (the MLflow store in ../shared).
# Exit: 0 promoted (or train passed), 1 refused by the gate or the verifier,
# 2 or 3 an error (sealgate's exit codes).
#
# Environment: SEALGATE (the binary; default: build it, and the policies
# unless the gate comes from a registry), FIXTURES (the real MLflow/DVC/S3
# records), GATE (a gate file, or the gate artifact by digest:
# oci://REGISTRY/REPO@sha256:…, as `sealgate gate push` printed it; then
# nothing is built but sealgate), PUBLISHERS (a publishers file the gate
# artifact must be signed under), TRUST, SEALGATE_SIGNING_KEY (the train
# job's private key; default: a demo key made in WORKDIR),
# SEALGATE_DECISION_LOG (default: WORKDIR/decisions.jsonl).
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
root=$(cd "$here/../.." && pwd)

stage=all
case "${1:-}" in train | deploy | all) stage=$1 && shift ;; esac
[ $# -ge 1 ] || { echo "usage: $0 [train|deploy|all] WORKDIR [MODEL [ALIAS|VERSION]]" >&2; exit 2; }
work=$1
model=${2:-churn-model}
selector=${3:-champion}
fixtures=${FIXTURES:-$root/../shared/fixtures/real}
gate=${GATE:-$here/staging.toml}
export SEALGATE_DECISION_LOG=${SEALGATE_DECISION_LOG:-$work/decisions.jsonl}
mkdir -p "$work"

if [ -z "${SEALGATE:-}" ]; then
    (cd "$root" && cargo build --release --locked --quiet --bin sealgate)
    SEALGATE=$root/target/release/sealgate
    # A gate from a registry brings its policies; a gate file needs them built.
    if [[ $gate != oci://* ]]; then
        for policy in pii lineage encryption quality; do
            "$SEALGATE" policy build "$root/policies/$policy" --out-dir "$root/target/policies" >/dev/null
        done
    fi
fi
publishers=()
[ -n "${PUBLISHERS:-}" ] && publishers=(--publishers "$PUBLISHERS")
sealgate() {
    echo "\$ sealgate $*"
    "$SEALGATE" "$@"
}

train() {
    local mlruns=$fixtures/mlflow3-mlruns version select
    if [[ $selector =~ ^[0-9]+$ ]]; then
        version=$selector select=(--model-version "$selector")
    else
        version=$(cat "$mlruns/models/$model/aliases/$selector") select=(--alias "$selector")
    fi
    # The model file the run logged: what is promoted, so what is attested.
    local model_id
    model_id=$(sed -n 's/^model_id: //p' "$mlruns/models/$model/version-$version/meta.yaml")
    cp "$(echo "$mlruns"/*/models/"$model_id"/artifacts/model.skops)" "$work/model.skops"

    local key=${SEALGATE_SIGNING_KEY:-}
    if [ -z "$key" ]; then
        # Local demo only: in CI the private key is a secret, and the trust
        # file and public key are committed where the deploy job reads them.
        key=$work/keys/train-ci.key
        [ -f "$key" ] || sealgate keygen --out "$work/keys" --name train-ci >/dev/null
        cp "$here/trust.toml" "$work/trust.toml"
    fi

    echo "== train: collect and attest $model ($selector)"
    sealgate collect --mlflow "$mlruns" --model "$model" "${select[@]}" \
        --dvc "$fixtures/dvc-project" --storage "$fixtures"/cloud/*.json \
        --artifact "$work/model.skops" --out "$work/metadata.json"
    local code=0
    sealgate attest --gate "$gate" "${publishers[@]}" --metadata "$work/metadata.json" \
        --artifact "$work/model.skops" --key "$key" \
        --out "$work/model.skops.intoto.jsonl" || code=$?
    if [ "$code" -ne 0 ]; then
        echo "== train: the gate did not pass (exit $code); $model is not promoted" >&2
        exit "$code"
    fi
}

deploy() {
    echo "== deploy: verify before promotion"
    local code=0
    sealgate verify --bundle "$work/model.skops.intoto.jsonl" \
        --artifact "$work/model.skops" --trust "${TRUST:-$work/trust.toml}" || code=$?
    if [ "$code" -ne 0 ]; then
        echo "== deploy: verification refused (exit $code); $model is not promoted" >&2
        exit "$code"
    fi
    # Content-addressed, and written whole or not at all.
    local digest dest
    digest=$(sha256sum "$work/model.skops" | cut -d' ' -f1)
    dest=$work/registry/$model/sha256-$digest
    mkdir -p "$dest.tmp"
    cp "$work/model.skops" "$work/model.skops.intoto.jsonl" "$dest.tmp/"
    rm -rf "$dest" && mv "$dest.tmp" "$dest"
    sealgate log verify "$SEALGATE_DECISION_LOG"
    echo "== deploy: promoted $model to $dest"
}

case $stage in
    train) train ;;
    deploy) deploy ;;
    all) train && deploy ;;
esac
