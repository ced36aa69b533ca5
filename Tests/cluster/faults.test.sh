#!/usr/bin/env bash
# Faults on 3 simulated machines (agent TTL 5 s) while units are started and stopped, judged
# from each machine's own systemd by the invariant checker in faults-lib.sh: kill -9 of a
# fleetd and of the store holder's fleetd (each restarted at once) and of a fleetd restarted
# only after the TTL (its units orphans meanwhile), a network cut shorter and one longer than
# the TTL, the engine leader frozen (SIGSTOP) past its lease, a store outage shorter than the
# TTL, and with FLEET_STORE=etcd an etcd member killed and restarted.
# Each invariant is one check; its violations are listed under it. The long run with more
# faults of each kind and a summary table is scripts/fault-soak.
#
# Machine 1 runs no engine on the embedded store (it holds the store, and freezing it would
# freeze every machine, not test the leader's handover).
set -uo pipefail
HERE=$(cd "$(dirname "$0")" && pwd)
ROOT=$(cd "$HERE/../.." && pwd)
source "$HERE/lib.sh"
source "$HERE/faults-lib.sh"
export RIG=${RIG:-faults}
export FLEET_BIN=${FLEET_BIN:-$(cd "$ROOT" && swift build --show-bin-path)}
export FLEET_AGENT_TTL=5
export FLEET_STORE=${FLEET_STORE:-embedded}
[ "$FLEET_STORE" = etcd ] || export FLEET_ARGS_1="--disable-engine"
RIGCMD=$ROOT/scripts/rig
CLUSTER=$ROOT/scripts/dev-cluster
FAULT_TTL=$FLEET_AGENT_TTL
FAULT_N=3
FAULT_DIR=$(mktemp -d)
KEEP=${FAULT_KEEP_LOGS:-}   # set to keep the logs (their directory is printed)
trap 'fault_workload_stop; fault_sampler_stop; "$CLUSTER" down >/dev/null 2>&1; [ -n "$KEEP" ] || rm -rf "$FAULT_DIR"' EXIT
cd "$FAULT_DIR"

check "cluster of 3 machines comes up ($FLEET_STORE store)" "$CLUSTER" up 3
eval "$("$CLUSTER" env)"
check "stable units (4 plain, 2 with Isolation=stop) start" fault_setup

fault_sampler_start
# shellcheck disable=SC2086 # a list of unit names
fault_workload_start $FAULT_WORK
sleep 2   # a few samples and workload operations before the first fault

fault_kill_fleetd 2
fault_kill_fleetd 1   # the store holder on the embedded store
fault_cut 3 2         # shorter than the TTL: nothing may move
# Losses past the TTL of a machine that is not the engine leader (the leader's loss is the
# freeze below): cut off, then fleetd killed (its units orphans meanwhile). A lost machine
# stays empty, so a fresh batch of units goes to it before the second loss.
fault_cut "$(fault_non_leader)" $((FAULT_TTL + 4))
fault_reseed k
fault_kill_fleetd "$(fault_non_leader)" $((FAULT_TTL + 3))
fault_freeze_leader "$(fault_freeze_seconds)"
fault_store_outage 2
fault_store_outage $((FAULT_TTL - 1))   # still shorter than the TTL: nothing may move
[ "$FLEET_STORE" = etcd ] && fault_etcd_member 2

fault_workload_stop
sleep 1
fault_sampler_stop
fault_final_state

report=$(fault_analyse)
echo "$report" | grep '^metric' | sed 's/^/    /'
declare -A name=(
  [1]="every launched unit is active on a reachable machine within TTL + 1 s of each fault"
  [2]="every launched unit runs on exactly one machine 5 s after each fault healed"
  [3]="a fenced unit (Isolation=stop) never runs on two machines at once"
  [4]="an outage shorter than the TTL stops or restarts nothing on healthy machines"
  [5]="no acknowledged write is lost"
  [6]="fleetd never exits on its own"
  [handover]="another machine takes the engine lease while the leader is frozen"
  [scenario]="every fault was injected and healed as planned"
)
for inv in 1 2 3 4 5 6 handover scenario; do
  v=$(awk -v i="$inv" '$1 == "violation" && $2 == i { $1 = $2 = ""; sub(/^ +/, ""); print }' <<<"$report")
  if [ -z "$v" ]; then ok "${name[$inv]}"
  else not_ok "${name[$inv]} ($(wc -l <<<"$v") violations)"; sed 's/^/    # /' <<<"$v" | head -30; fi
done
check "the checker sampled (at least 100 rounds)" test "$(awk '$2 == "rounds" {print $3}' <<<"$report")" -ge 100
[ -n "$KEEP" ] && echo "    logs kept in $FAULT_DIR"

cd /
"$CLUSTER" down >/dev/null 2>&1
trap '[ -n "$KEEP" ] || rm -rf "$FAULT_DIR"' EXIT
check "teardown leaves nothing behind" "$RIGCMD" leftovers
finish faults
