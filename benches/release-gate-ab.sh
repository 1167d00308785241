#!/usr/bin/env bash
# A/B of the release gate: median wall time of `sealgate check` (the six-policy
# gate on the clean example, warm precompiled cache, each binary with its own
# cache and key), two release binaries interleaved run by run.
#
#   git worktree add /tmp/old <commit> && (cd /tmp/old && cargo build --release --locked)
#   cargo build --release --locked
#   bash benches/release-gate-ab.sh /tmp/old/target/release/sealgate target/release/sealgate [N]
set -u
cd "$(dirname "$0")/.."
bin_old=$1; bin_new=$2
N=${3:-31}
W=$(mktemp -d)
for b in old new; do mkdir -p $W/$b/cache $W/$b/config; chmod 700 $W/$b/cache; done
run() { XDG_CONFIG_HOME=$W/$1/config $2 check --gate examples/gates/ml-release.toml --metadata examples/metadata/churn-model.json --cache-dir $W/$1/cache >/dev/null 2>&1; }
run old $bin_old; run new $bin_new   # warm both caches
for ((i=0;i<N;i++)); do
  # Alternate which goes first, so neither always runs on a warmer machine.
  order="old new"; if ((i % 2)); then order="new old"; fi
  for b in $order; do
    bin=bin_$b; s=$(date +%s%N); run $b ${!bin}; e=$(date +%s%N); echo "$b $(( (e-s)/1000 ))" >> $W/times
  done
done
for b in old new; do
  grep "^$b " $W/times | awk '{print $2}' | sort -n | awk -v b=$b '{a[NR]=$1} END {printf "%s: median %.2f ms over %d runs\n", b, a[int((NR+1)/2)]/1000, NR}'
done
