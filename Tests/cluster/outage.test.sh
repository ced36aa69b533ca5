#!/usr/bin/env bash
# A machine that comes back keeps its units, and machine IDs are one per machine (issue 12,
# items 1-2), on 3 simulated machines with fleet's functional-suite TTL (3 s):
#   - machine 3 cut off for longer than the TTL and mended: its global unit and the unit only it
#     may run keep their main PIDs, its journal shows no stop or start of them, its fenced unit
#     stops during the cut and starts again after, units moved away run once, nothing flaps;
#   - the store unreachable for less than the TTL: no unfenced unit stops or restarts anywhere;
#   - a second fleetd started with machine 2's ID is refused (exit status, message naming the ID
#     and the fix) and machine 2 is not disturbed;
#   - machine 2's fleetd killed with -9 and restarted within the TTL is not taken for a duplicate.
# FLEET_STORE=etcd runs it on etcd. OUTAGE_CUT / OUTAGE_FREEZE set the two outages' seconds.
set -uo pipefail
HERE=$(cd "$(dirname "$0")" && pwd)
ROOT=$(cd "$HERE/../.." && pwd)
source "$HERE/lib.sh"
source "$HERE/outage-lib.sh"
export RIG=${RIG:-fleetoutage}
export FLEET_BIN=${FLEET_BIN:-$(cd "$ROOT" && swift build --show-bin-path)}
export FLEET_AGENT_TTL=${FLEET_AGENT_TTL:-3}
RIGCMD=$ROOT/scripts/rig
CLUSTER=$ROOT/scripts/dev-cluster
CUT=${OUTAGE_CUT:-10} FREEZE=${OUTAGE_FREEZE:-1.5}
keep_logs() {  # FLEET_TEST_KEEP_LOGS=DIR keeps each machine's fleetd log there
  [ -n "${FLEET_TEST_KEEP_LOGS:-}" ] || return 0
  mkdir -p "$FLEET_TEST_KEEP_LOGS"
  local k; for k in 1 2 3; do cp "$("$RIGCMD" dir "$k")/fleetd.log" "$FLEET_TEST_KEEP_LOGS/fleetd-$k.log" 2>/dev/null; done
}
trap 'keep_logs; "$CLUSTER" down >/dev/null 2>&1' EXIT

# round NAME CMD...: one outage round; its findings are the test's output.
round() {
  local what=$1 out rc=0; shift
  out=$("$@") || rc=$?
  echo "$out" | sed 's/^/  /'
  if [ $rc -eq 0 ]; then ok "$what"; else not_ok "$what"; fi
}

check "cluster of 3 machines comes up (agent TTL ${FLEET_AGENT_TTL}s, store ${FLEET_STORE:-embedded})" "$CLUSTER" up 3
eval "$("$CLUSTER" env)"
check "a global unit, units pinned to machine $OUTAGE_M (one fenced) and three free ones run" outage_setup

round "machine $OUTAGE_M cut off for ${CUT}s (TTL ${FLEET_AGENT_TTL}s) keeps its units when it comes back" outage_cut "$CUT"
round "a ${FREEZE}s store outage stops and restarts nothing" outage_freeze "$FREEZE"

# --- a second machine with machine 2's ID ---
fleetd_pid() { "$RIGCMD" exec "$1" systemctl --user show -p MainPID --value fleetd; }
m2_pid=$(fleetd_pid 2)
m2_global=$(outage_pid global.service 2)
m2_id=$("$RIGCMD" machine-id 2)
dup=$("$RIGCMD" dir 3)/duplicate
mkdir -p "$dup" && echo "$m2_id" >"$dup/machine-id"
if [ "${FLEET_STORE:-embedded}" = etcd ]; then store=(--etcd-servers "$("$CLUSTER" etcd endpoints)")
else store=(--store "$FLEET_KEYS_URL"); fi
# Machine 2's certificate too (or --insecure-plaintext): the clone is refused for its ID, not its TLS.
read -r -a transport <<<"$("$CLUSTER" fleetd-args 2)"
rc=0
err=$("$RIGCMD" exec 3 timeout 30 "$FLEET_BIN/fleetd" --systemd-user --api-socket "$dup/fleet.sock" --data-dir "$dup/data" \
  --agent-ttl "$FLEET_AGENT_TTL" --machine-id-file "$dup/machine-id" --keys-listen none "${store[@]}" "${transport[@]}" \
  2>&1 >/dev/null) || rc=$?
check "a fleetd started with machine 2's ID exits non-zero on its own (exit $rc)" test $rc -ne 0 -a $rc -ne 124
check "... saying the ID is a duplicate" grep -q "duplicate machine ID: $m2_id" <<<"$err"
check "... and how to fix it" grep -q "systemd-machine-id-setup" <<<"$err"
check "machine 2's fleetd was not disturbed (same PID)" test "$(fleetd_pid 2)" = "$m2_pid"
check "machine 2 is still listed with its own address" bash -c "'$FLEET_BIN/fleetctl' list-machines --no-legend --full | grep '^$m2_id' | grep -qw '$("$RIGCMD" addr 2)'"
check "machine 2's global unit kept running (same PID)" test "$(outage_pid global.service 2)" = "$m2_global"
[ $FAILED -eq 0 ] || echo "$err" | tail -5 | sed 's/^/  fleetd: /'

# --- kill -9 and a restart within the TTL: its own earlier session, not a duplicate ---
log2=$("$RIGCMD" dir 2)/fleetd.log
lines=$(wc -l <"$log2")
"$RIGCMD" exec 2 systemctl --user kill -s KILL fleetd
"$CLUSTER" start-fleetd 2
start=$(date +%s%N)
wait_until 20 "machine 2's fleetd restarted after kill -9 registers again" outage_machines_up
check "... at once, as its own session (no wait for the old record; $(( ($(date +%s%N) - start) / 1000000 )) ms)" \
  bash -c "! tail -n +$((lines + 1)) '$log2' | grep -q 'held by another fleetd session'"
sleep "$FLEET_AGENT_TTL"   # past the old record's TTL: a refused fleetd would have exited by now
check "... and keeps running" "$RIGCMD" exec 2 systemctl --user is-active -q fleetd
check "... and its global unit was adopted, not restarted" test "$(outage_pid global.service 2)" = "$m2_global"

keep_logs
"$CLUSTER" down >/dev/null 2>&1
trap - EXIT
check "teardown leaves nothing behind" "$RIGCMD" leftovers
finish cluster-outage
