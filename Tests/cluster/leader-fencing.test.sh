#!/usr/bin/env bash
# Engine fencing on 3 simulated machines: the engine leader's fleetd is frozen (SIGSTOP) past
# its lease, another machine takes over within one lease TTL (+ margin) and places units, and
# once the old leader runs again (SIGCONT) none of its writes land: the schedule stays exactly as
# the new leader wrote it (same modifiedIndex everywhere) and every unit keeps its main PID.
# Prints the measured handover time. Runs on the embedded store and with FLEET_STORE=etcd.
#
# Machines: m1 holds the store (embedded) and the fleetctl endpoint and runs no engine, so the
# leader is m2 or m3. The agent TTL (30 s) outlasts the freeze, so the frozen machine is not
# declared dead and nothing is rescheduled legitimately while it is stopped.
set -uo pipefail
HERE=$(cd "$(dirname "$0")" && pwd)
ROOT=$(cd "$HERE/../.." && pwd)
source "$HERE/lib.sh"
export RIG=${RIG:-fleetfence}
export FLEET_BIN=${FLEET_BIN:-$(cd "$ROOT" && swift build --show-bin-path)}
export FLEET_AGENT_TTL=30
LEASE_TTL=10  # the engine's lease TTL, shorter than the agent TTL here (by default they are equal)
export FLEET_ARGS_1="--disable-engine --engine-lease-ttl $LEASE_TTL"
export FLEET_ARGS_2="--engine-lease-ttl $LEASE_TTL" FLEET_ARGS_3="--engine-lease-ttl $LEASE_TTL"
RIGCMD=$ROOT/scripts/rig
CLUSTER=$ROOT/scripts/dev-cluster
WORK=$(mktemp -d)
STOPPED=""
cleanup() {
  # Never leave a frozen fleetd behind: it would hold up the teardown's clean stop.
  [ -n "$STOPPED" ] && "$RIGCMD" exec "$STOPPED" systemctl --user kill -s CONT fleetd >/dev/null 2>&1
  "$CLUSTER" down >/dev/null 2>&1; rm -rf "$WORK"
}
trap cleanup EXIT
fleetctl() { "$FLEET_BIN/fleetctl" "$@"; }

machine_number() {  # machine_number ID -> K
  local k; for k in 1 2 3; do [ "$("$RIGCMD" machine-id "$k")" = "$1" ] && { echo "$k"; return 0; }; done; return 1
}
keys() {  # keys PATH [QUERY]: a GET on machine 1's keys API
  mcurl 1 -sf --max-time 3 "$FLEET_KEYS_URL/v2/keys$1${2:+?$2}"
}
leader() {
  local id; id=$(keys /fleet/lease/engine-leader | sed -n 's/.*"value":"\([0-9a-f]*\)".*/\1/p')
  [ -n "$id" ] && machine_number "$id"
}
# The engine's outputs with their indexes: every target and assignment, one "key modifiedIndex
# value" line each. Equal dumps mean nobody wrote any of them, not even the same value again.
placements() {
  { keys /fleet/job recursive=true; keys /fleet/schedule recursive=true; } | python3 -c '
import json, sys
def walk(n):
    if n.get("dir"):
        for c in n.get("nodes", []): yield from walk(c)
    elif n["key"].endswith("/target") or "/schedule/" in n["key"]:
        yield "%s %s %s" % (n["key"], n["modifiedIndex"], n.get("value", ""))
for line in sys.stdin:
    if line.strip(): print("\n".join(sorted(walk(json.loads(line)["node"]))))'
}
pids() {  # every fleet unit on every machine with its main PID
  local k; for k in 1 2 3; do
    "$RIGCMD" exec "$k" systemctl --user list-units --no-legend --plain 'fence-*' | awk '{print $1}' |
      while read -r u; do echo "m$k $u $("$RIGCMD" exec "$k" systemctl --user show -p MainPID --value "$u")"; done
  done
}
now_ms() { echo $(( $(date +%s%N) / 1000000 )); }

check "cluster of 3 machines comes up (store: ${FLEET_STORE:-embedded})" "$CLUSTER" up 3
eval "$("$CLUSTER" env)"
cd "$WORK"
for i in 1 2 3 4 5 6; do printf '[Service]\nExecStart=/bin/sleep infinity\n' > "fence-$i.service"; done
check "six units start" fleetctl start fence-1.service fence-2.service fence-3.service fence-4.service \
  fence-5.service fence-6.service
wait_until 30 "all six run" bash -c "[ \$('$FLEET_BIN/fleetctl' list-units --no-legend --fields unit,active | awk '\$2 == \"active\"' | wc -l) -eq 6 ]"
L=$(leader)
check "an engine leader exists among m2-m3 (m$L)" test -n "$L" -a "$L" != 1
lease_before=$(keys /fleet/lease/engine-leader | sed -n 's/.*"createdIndex":\([0-9]*\).*/\1/p')

# --- freeze the leader, in the middle of placing a burst if the timing allows ---
for i in 7 8 9 10 11 12; do printf '[Service]\nExecStart=/bin/sleep infinity\n' > "fence-$i.service"; done
fleetctl start --no-block fence-7.service fence-8.service fence-9.service fence-10.service fence-11.service \
  fence-12.service >/dev/null 2>&1
"$RIGCMD" exec "$L" systemctl --user kill -s STOP fleetd && STOPPED=$L
stopped_at=$(now_ms)
check "the leader's fleetd on m$L is stopped" test -n "$STOPPED"

# Another machine takes over once the lease expires (its engine wakes on the lease key's expiry):
# within one TTL of the last renewal, plus slack for the store's expiry and the poll below.
margin=$(( LEASE_TTL + 3 ))
wait_until "$margin" "another machine takes the lease within ${margin}s (TTL ${LEASE_TTL}s)" \
  bash -c "id=\$(mcurl 1 -sf --max-time 3 $FLEET_KEYS_URL/v2/keys/fleet/lease/engine-leader | sed -n 's/.*\"value\":\"\\([0-9a-f]*\\)\".*/\\1/p'); [ -n \"\$id\" ] && [ \"\$id\" != '$("$RIGCMD" machine-id "$L")' ]"
handover_ms=$(( $(now_ms) - stopped_at ))
L2=$(leader)
lease_after=$(keys /fleet/lease/engine-leader | sed -n 's/.*"createdIndex":\([0-9]*\).*/\1/p')
echo "# handover: ${handover_ms} ms from SIGSTOP of m$L to m${L2:-?} holding the lease (term $lease_before -> $lease_after)"
check "the new lease is a new term" test -n "$lease_after" -a "$lease_after" != "$lease_before"

wait_until 20 "the new leader placed the whole burst (12 units placed)" bash -c "
  [ \$('$FLEET_BIN/fleetctl' list-unit-files --no-legend --fields unit,target | awk '\$2 != \"-\"' | wc -l) -eq 12 ]"
# Units placed on the frozen machine cannot start until it runs again; the others must.
frozen_id=$("$RIGCMD" machine-id "$L")
expected=$(fleetctl list-unit-files --full --no-legend --fields unit,target | awk -v m="$frozen_id" '$2 !~ m' | wc -l)
wait_until 20 "units placed on running machines are active ($expected)" bash -c "
  [ \$('$FLEET_BIN/fleetctl' list-units --no-legend --fields unit,active | awk '\$2 == \"active\"' | wc -l) -ge $expected ]"
before=$(placements)
pids_before=$(pids | grep -v "^m$L ")
check "the placements could be read" test -n "$before"

# --- the old leader runs again ---
"$RIGCMD" exec "$L" systemctl --user kill -s CONT fleetd && STOPPED=""
# Its engine wakes (pending ticks, watch events) and must let go without writing. Give it as
# long as it would take to do damage: a few passes' worth of wake-ups.
wait_until 15 "the old leader m$L logs that it lost the lead" \
  grep -q "engine leadership lost" "$("$RIGCMD" dir "$L")/fleetd.log"
sleep 5  # the absence of writes is the subject: a bounded quiet period, not a wait for an event
after=$(placements)
check "no target or assignment changed after SIGCONT (same values, same modifiedIndex)" test "$before" = "$after"
if [ "$before" != "$after" ]; then diff <(echo "$before") <(echo "$after") | sed 's/^/# /'; fi
check "m$L${L2:+ -> m$L2}: the lease stayed with the new leader" test "$(leader)" = "$L2"
check "units on the running machines kept their main PIDs" test "$(pids | grep -v "^m$L ")" = "$pids_before"
grep "engine leadership lost" "$("$RIGCMD" dir "$L")/fleetd.log" | tail -1 | sed 's/^/# m'"$L"': /'
wait_until 30 "the old leader's units run too" bash -c "
  [ \$('$FLEET_BIN/fleetctl' list-units --no-legend --fields unit,active | awk '\$2 == \"active\"' | wc -l) -eq 12 ]"
check "fleetctl shows 3 machines" bash -c "[ \$('$FLEET_BIN/fleetctl' list-machines --no-legend | wc -l) -eq 3 ]"

finish leader-fencing
