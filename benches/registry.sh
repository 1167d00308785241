#!/usr/bin/env bash
# What fetching a gate's policies from a registry costs: `sealgate check` of
# examples/gates/ml-release.toml with its six modules named `oci://…@sha256:…`
# in a real registry (Debian's docker-registry on loopback, TLS from a CA of
# its own, htpasswd basic auth with a cost-5 bcrypt hash), wall time (median
# of N) for:
#   cold   empty OCI store, empty precompiled cache: fetch and compile
#   fetch  empty OCI store, warm precompiled cache: the fetch alone
#   warm   both warm: what every run after the first pays
#   files  the same gate from local files, for the ratio
#   gate-cold  `check --gate oci://…@sha256` of the whole gate pushed as one
#              artifact (`gate push --key`), `--publishers`: empty store and cache
#   gate-fetch the same, empty store, warm cache
#   gate-warm  the same, both warm (the signature re-verified from the store)
# and an admission decision by `sealgate serve` whose bundles are in the
# image's registry (`[admission] registry`, cache-ttl 1s), one pinned image:
#   admit-cold    the cache expired: referrers listed, manifest and bundle fetched, verified
#   admit-cached  within the TTL: verified from the cached lookup
#
#   cargo build --release --locked --bin sealgate
#   for p in pii lineage encryption retention drift quality; do
#       target/release/sealgate policy build policies/$p --out-dir target/policies; done
#   bash benches/registry.sh [N]          # needs docker-registry and openssl
set -euo pipefail
cd "$(dirname "$0")/.."
n=${1:-9}
repo=$PWD
sealgate=$repo/target/release/sealgate
meta=$repo/examples/metadata/churn-model.json
work=$(mktemp -d)
registry_pid=
cleanup() { [ -n "$registry_pid" ] && kill "$registry_pid" 2>/dev/null; rm -rf "$work"; }
trap cleanup EXIT

# A CA, the registry's certificate for 127.0.0.1, credentials.
cd "$work"
openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:prime256v1 -nodes -keyout ca.key -out ca.pem \
    -days 1 -subj "/CN=bench CA" 2>/dev/null
openssl req -newkey ec -pkeyopt ec_paramgen_curve:prime256v1 -nodes -keyout key.pem -out leaf.csr \
    -subj "/CN=127.0.0.1" 2>/dev/null
printf 'subjectAltName=IP:127.0.0.1\nbasicConstraints=CA:FALSE\n' >ext.cnf
openssl x509 -req -in leaf.csr -CA ca.pem -CAkey ca.key -CAcreateserial -out cert.pem -days 1 \
    -extfile ext.cnf 2>/dev/null
echo 'bench:$2b$05$r3VEzp6cYrMX37ljZk33/Olzpwdb9DpSBc4tMNiBAtcdTVoMirhFq' >htpasswd  # sealgate-test-password
port=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')
cat >config.yml <<YAML
version: 0.1
log: {level: error}
storage: {filesystem: {rootdirectory: $work/data}}
http: {addr: "127.0.0.1:$port", tls: {certificate: $work/cert.pem, key: $work/key.pem}}
auth: {htpasswd: {realm: bench, path: $work/htpasswd}}
YAML
mkdir docker
printf '{"auths":{"127.0.0.1:%s":{"username":"bench","password":"sealgate-test-password"}}}' "$port" >docker/config.json
docker-registry serve config.yml >/dev/null 2>&1 &
registry_pid=$!
for _ in $(seq 100); do (exec 3<>"/dev/tcp/127.0.0.1/$port") 2>/dev/null && break; sleep 0.1; done
export SEALGATE_REGISTRY_CA=$work/ca.pem DOCKER_CONFIG=$work/docker

# Push the six policies; the gate names each by the digest printed.
cp "$repo/examples/gates/ml-release.toml" gate.toml
for p in pii lineage encryption retention drift quality; do
    digest=$(SEALGATE_OCI_STORE=$work/publisher "$sealgate" policy push "$repo/target/policies/$p.wasm" \
        "oci://127.0.0.1:$port/sealgate/$p:bench" | sed -n 's/.*@\(sha256:[0-9a-f]*\).*/\1/p')
    sed -i "s|\"../../target/policies/$p.wasm\"|\"oci://127.0.0.1:$port/sealgate/$p@$digest\"|" gate.toml
done

run() { # run MODE: median ms of n runs
    local times=() i start end gate=$work/gate.toml
    [ "$1" = files ] && gate=$repo/examples/gates/ml-release.toml
    for ((i = 0; i < n; i++)); do
        case $1 in
            cold) rm -rf "$work/store" "$work/cache" ;;
            fetch) rm -rf "$work/store" ;;
        esac
        start=$(date +%s%N)
        SEALGATE_OCI_STORE=$work/store SEALGATE_CACHE_DIR=$work/cache "$sealgate" check --gate "$gate" \
            --metadata "$meta" >/dev/null
        end=$(date +%s%N)
        times+=($(((end - start) / 1000000)))
    done
    printf '%-6s median %5d ms (of %d; min %d, max %d)\n' "$1" \
        "$(printf '%s\n' "${times[@]}" | sort -n | sed -n "$(((n + 1) / 2))p")" "$n" \
        "$(printf '%s\n' "${times[@]}" | sort -n | head -1)" "$(printf '%s\n' "${times[@]}" | sort -n | tail -1)"
}
run cold
run fetch
run warm
run files

# The whole gate as one signed artifact, run with a publishers file.
"$sealgate" keygen --out "$work/keys" --name compliance >/dev/null
mkdir -p "$work/gatedir/policies"
cp "$repo/examples/gates/ml-release.toml" "$work/gatedir/gate.toml"
for p in pii lineage encryption retention drift quality; do
    cp "$repo/target/policies/$p.wasm" "$work/gatedir/policies/"
    sed -i "s|\"../../target/policies/$p.wasm\"|\"policies/$p.wasm\"|" "$work/gatedir/gate.toml"
done
gate_ref=$(SEALGATE_OCI_STORE=$work/publisher "$sealgate" gate push "$work/gatedir/gate.toml" \
    "oci://127.0.0.1:$port/compliance/ml-release:bench" --key "$work/keys/compliance.key" |
    sed -n 's/^pushed gate .* as \(oci:[^ ]*\)$/\1/p')
printf 'api-version = "sealgate/publishers/v1"\n[[publishers]]\nname = "compliance"\npublic-key = "%s"\n' \
    "$work/keys/compliance.pub" >publishers.toml
run_gate() { # run_gate MODE: median ms of n runs
    local times=() i start end
    for ((i = 0; i < n; i++)); do
        case $1 in
            gate-cold) rm -rf "$work/store" "$work/cache" ;;
            gate-fetch) rm -rf "$work/store" ;;
        esac
        start=$(date +%s%N)
        SEALGATE_OCI_STORE=$work/store SEALGATE_CACHE_DIR=$work/cache "$sealgate" check --gate "$gate_ref" \
            --publishers publishers.toml --metadata "$meta" >/dev/null
        end=$(date +%s%N)
        times+=($(((end - start) / 1000000)))
    done
    report "$1" ms "${times[@]}"
}
report() { # report NAME UNIT VALUES...: median, min, max
    local name=$1 unit=$2
    shift 2
    local sorted
    sorted=$(printf '%s\n' "$@" | sort -n)
    printf '%-12s median %7s %s (of %d; min %s, max %s)\n' "$name" \
        "$(sed -n "$(((n + 1) / 2))p" <<<"$sorted")" "$unit" "$n" "$(head -1 <<<"$sorted")" "$(tail -1 <<<"$sorted")"
}
run_gate gate-cold
run_gate gate-fetch
run_gate gate-warm

# Admission against the registry store: one image (an OCI manifest pushed
# for the purpose), attested with `attest --push`.
image=$(SEALGATE_OCI_STORE=$work/publisher "$sealgate" policy push "$repo/target/policies/pii.wasm" \
    "oci://127.0.0.1:$port/acme/model:1" | sed -n 's/.*@\(sha256:[0-9a-f]*\).*/\1/p')
python3 - "$meta" "${image#sha256:}" >image-meta.json <<'PY'
import json, sys
doc = json.load(open(sys.argv[1]))
doc["artifact"]["digest"] = {"sha256": sys.argv[2]}
json.dump(doc, sys.stdout)
PY
"$sealgate" keygen --out "$work/keys" --name release-ci >/dev/null
SEALGATE_OCI_STORE=$work/store SEALGATE_CACHE_DIR=$work/cache "$sealgate" attest --gate "$repo/examples/gates/ml-release.toml" \
    --metadata image-meta.json --digest "$image" --key "$work/keys/release-ci.key" --out image.intoto.jsonl \
    --push "oci://127.0.0.1:$port/acme/model@$image" >/dev/null 2>&1
printf 'api-version = "sealgate/trust/v1"\n[[keys]]\nname = "release-ci"\npublic-key = "%s"\n' \
    "$work/keys/release-ci.pub" >trust.toml
serve_port=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')
cat >serve.toml <<TOML
api-version = "sealgate/server/v1"
listen = "127.0.0.1:$serve_port"
gates = ["$repo/examples/gates/ml-release.toml"]
[trust]
release = "trust.toml"
[admission]
trust = "release"
registry = { ca = "$work/ca.pem", docker-config = "$work/docker/config.json", cache-ttl = "1s", timeout = "10s" }
TOML
SEALGATE_CACHE_DIR=$work/cache "$sealgate" serve --config serve.toml 2>serve.log &
serve_pid=$!
trap 'kill $serve_pid 2>/dev/null; cleanup' EXIT
for _ in $(seq 100); do (exec 3<>"/dev/tcp/127.0.0.1/$serve_port") 2>/dev/null && break; sleep 0.1; done
printf '{"apiVersion":"admission.k8s.io/v1","kind":"AdmissionReview","request":{"uid":"b","kind":{"group":"","version":"v1","kind":"Pod"},"operation":"CREATE","object":{"spec":{"containers":[{"name":"m","image":"127.0.0.1:%s/acme/model@%s"}]}}}}' \
    "$port" "$image" >review.json
admit() { curl -s -H 'content-type: application/json' --data-binary @review.json \
    "http://127.0.0.1:$serve_port/v1/admission"; }
admit_ms() { curl -s -o /dev/null -w '%{time_total}' -H 'content-type: application/json' \
    --data-binary @review.json "http://127.0.0.1:$serve_port/v1/admission" | awk '{printf "%.1f", $1 * 1000}'; }
grep -q '"allowed":true' <<<"$(admit)" || { echo "the bench image was not admitted" >&2; cat serve.log >&2; exit 1; }
cold=() cached=()
for ((i = 0; i < n; i++)); do
    sleep 1.1 # past the TTL: looked up again
    cold+=("$(admit_ms)")
    cached+=("$(admit_ms)")
done
report admit-cold ms "${cold[@]}"
report admit-cached ms "${cached[@]}"
