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
