#!/usr/bin/env bash
# The keys API against etcd itself: one fleetd (embedded store, or on etcd with FLEET_STORE=etcd)
# and one real etcd 3.4 member with --enable-v2 get the same requests (Tests/cluster/keys-diff.py),
# and their answers must match in status, errorCode, action and node shape. Differences kept on
# purpose are listed, with their reason, in the script's KEPT table and in its output.
set -uo pipefail
HERE=$(cd "$(dirname "$0")" && pwd)
ROOT=$(cd "$HERE/../.." && pwd)
source "$HERE/lib.sh"
export RIG=${RIG:-fleetkeysdiff}
export FLEET_BIN=${FLEET_BIN:-$(cd "$ROOT" && swift build --show-bin-path)}
RIGCMD=$ROOT/scripts/rig
CLUSTER=$ROOT/scripts/dev-cluster
trap '"$CLUSTER" down >/dev/null 2>&1' EXIT

check "one machine with fleetd comes up" "$CLUSTER" up 1
eval "$("$CLUSTER" env)"
FLEET=$FLEET_KEYS_URL
# The reference etcd runs on machine 1 as a unit of its systemd, on that machine's own loopback
# (its own network namespace), so it goes away with the machine.
REF_PORT=12479
REF=http://127.0.0.1:$REF_PORT
dir=$("$RIGCMD" dir 1)
check "a reference etcd member with --enable-v2 starts" "$RIGCMD" exec 1 systemd-run --user --quiet \
  --unit=keys-diff-etcd --property=StandardOutput=append:"$dir/ref-etcd.log" \
  --property=StandardError=append:"$dir/ref-etcd.log" \
  etcd --name ref --data-dir "$dir/ref-etcd" --enable-v2=true \
  --listen-client-urls "$REF" --advertise-client-urls "$REF" \
  --listen-peer-urls http://127.0.0.1:$((REF_PORT + 1)) --initial-advertise-peer-urls http://127.0.0.1:$((REF_PORT + 1)) \
  --initial-cluster ref=http://127.0.0.1:$((REF_PORT + 1)) --initial-cluster-state new
wait_until 30 "the reference etcd answers the v2 keys API" \
  mcurl 1 -sf -o /dev/null "$REF/v2/keys/"

check "fleetd answers the same requests as etcd (store: ${FLEET_STORE:-embedded})" \
  "$RIGCMD" exec 1 python3 "$HERE/keys-diff.py" "$REF" "$FLEET" --store "${FLEET_STORE:-embedded}"

"$CLUSTER" down >/dev/null 2>&1
trap - EXIT
finish keys-diff
