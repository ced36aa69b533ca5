#!/usr/bin/env bash
# Scheduling on 4 simulated machines with real systemd: every [X-Fleet] option, global units
# with conflicts, templates with %i, Replaces, unplaceable units failing fast with a reason,
# engine leader handover after kill -9, rescheduling after a machine is cut off and after a
# clean stop, and nothing stopped on healthy machines while the store is briefly unreachable.
#
# Machines: m1 holds the store and does not run the engine; metadata m1 region=a, m2 region=a,
# m3 region=b slot=3, m4 region=b disk=ssd.
set -uo pipefail
HERE=$(cd "$(dirname "$0")" && pwd)
ROOT=$(cd "$HERE/../.." && pwd)
source "$HERE/lib.sh"
export RIG=${RIG:-fleetsched}
export FLEET_BIN=${FLEET_BIN:-$(cd "$ROOT" && swift build --show-bin-path)}
export FLEET_AGENT_TTL=5
export FLEET_ARGS_1="--disable-engine --metadata region=a"
export FLEET_ARGS_2="--metadata region=a"
export FLEET_ARGS_3="--metadata region=b,slot=3"
export FLEET_ARGS_4="--metadata region=b,disk=ssd"
RIGCMD=$ROOT/scripts/rig
CLUSTER=$ROOT/scripts/dev-cluster
WORK=$(mktemp -d)
trap '"$CLUSTER" down >/dev/null 2>&1; rm -rf "$WORK"' EXIT
fleetctl() { "$FLEET_BIN/fleetctl" "$@"; }

# unit NAME [X-Fleet lines...]: writes a long-running unit file into $WORK.
unit() {
  local name=$1; shift
  { printf '[Service]\nExecStart=/bin/sleep infinity\n'
    [ $# -gt 0 ] && printf '\n[X-Fleet]\n' && printf '%s\n' "$@"; } > "$WORK/$name"
}
machine_number() {  # machine_number ID -> K
  local k; for k in 1 2 3 4; do [ "$("$RIGCMD" machine-id "$k")" = "$1" ] && { echo "$k"; return 0; }; done; return 1
}
target_of() {  # target_of UNIT -> machine number, or nothing
  local id
  id=$(fleetctl list-unit-files --full --no-legend --fields unit,target | awk -v u="$1" '$1==u {print $2}' | cut -d/ -f1)
  [ -n "$id" ] && [ "$id" != - ] && machine_number "$id"
}
active_on() { [ "$("$RIGCMD" exec "$2" systemctl --user is-active "$1" 2>/dev/null)" = active ]; }
on_machine() { local t; t=$(target_of "$1") && [ "$t" = "$2" ] && active_on "$1" "$2"; }
on_one_of() { local u=$1 t; shift; t=$(target_of "$u") || return 1; for k in "$@"; do [ "$t" = "$k" ] && active_on "$u" "$t" && return 0; done; return 1; }
main_pid() { "$RIGCMD" exec "$2" systemctl --user show -p MainPID --value "$1"; }
leader() {
  local id; id=$(mcurl 1 -sf "$FLEET_KEYS_URL/v2/keys/fleet/lease/engine-leader" | sed -n 's/.*"value":"\([0-9a-f]*\)".*/\1/p')
  [ -n "$id" ] && machine_number "$id"
}

check "cluster of 4 machines with metadata comes up" "$CLUSTER" up 4
eval "$("$CLUSTER" env)"
cd "$WORK"

# --- constraints ---
unit meta-b.service "MachineMetadata=region=b"
unit ssd.service "MachineMetadata=region=b" "MachineMetadata=disk=ssd"
unit either.service 'MachineMetadata="region=a" "region=b"'
m2short=$("$RIGCMD" machine-id 2 | cut -c1-8)
unit pinned.service "MachineID=$m2short"
unit conflict-1.service "Conflicts=conflict-*.service"
unit conflict-2.service "Conflicts=conflict-*.service"
unit follower.service "MachineOf=conflict-1.service"
unit slot@.service "MachineMetadata=slot=%i"
check "start of constrained units succeeds" fleetctl start meta-b.service ssd.service either.service pinned.service \
  conflict-1.service conflict-2.service follower.service slot@3.service
check "MachineMetadata=region=b runs on m3 or m4" on_one_of meta-b.service 3 4
check "region=b AND disk=ssd runs on m4" on_machine ssd.service 4
check "region=a OR region=b placed somewhere" on_one_of either.service 1 2 3 4
check "MachineID=<8-char short ID> runs on m2" on_machine pinned.service 2
c1=$(target_of conflict-1.service); c2=$(target_of conflict-2.service)
check "Conflicts keeps conflict-1 and conflict-2 apart ($c1 vs $c2)" test -n "$c1" -a -n "$c2" -a "$c1" != "$c2"
check "MachineOf puts follower next to conflict-1" on_machine follower.service "$c1"
check "template instance with %i in metadata: slot@3 runs on m3" on_machine slot@3.service 3

# --- global units ---
unit global-a.service "Global=true" "MachineMetadata=region=a"
unit global-x.service "Global=true" "Conflicts=global-y.service"
unit global-y.service "Global=true"
out=$(fleetctl start global-a.service global-x.service global-y.service 2>&1)
check "start of global units triggers them" grep -q "Triggered global unit global-a.service start" <<<"$out"
wait_until 15 "global-a runs on m1 and m2 only" bash -c "
  [ \$('$FLEET_BIN/fleetctl' list-units --no-legend --fields unit,active | grep -c '^global-a.service.*active') -eq 2 ] &&
  [ \"\$('$RIGCMD' exec 3 systemctl --user is-active global-a.service)\" != active ]"
wait_until 15 "of two conflicting global units only the first by name runs, on all 4 machines" bash -c "
  [ \$('$FLEET_BIN/fleetctl' list-units --no-legend --fields unit,active | grep -c '^global-x.service.*active') -eq 4 ] &&
  ! '$FLEET_BIN/fleetctl' list-units --no-legend | grep -q '^global-y.service'"
check "list-unit-files shows global units as global" \
  bash -c "'$FLEET_BIN/fleetctl' list-unit-files --no-legend --fields unit,target,global | grep -Eq '^global-a.service\s+global\s+true'"

# --- Replaces ---
unit old.service "MachineMetadata=region=b"
check "old.service starts on m3 or m4" fleetctl start old.service
O=$(target_of old.service)
# MachineID cannot be combined with Replaces, so pin new.service by metadata only m$O has.
if [ "${O:-3}" = 3 ]; then pin="MachineMetadata=slot=3"; else pin="MachineMetadata=disk=ssd"; fi
unit new.service "$pin" "Replaces=old.service"
check "new.service ($pin, Replaces=old) starts" fleetctl start new.service
check "new.service runs on m$O" on_machine new.service "${O:-3}"
wait_until 15 "old.service was moved off m$O and runs on the other region=b machine" bash -c "
  ! '$RIGCMD' exec ${O:-3} systemctl --user is-active -q old.service &&
  '$RIGCMD' exec $(( ${O:-3} == 3 ? 4 : 3 )) systemctl --user is-active -q old.service"

# --- unplaceable: fail fast with the reason ---
unit nowhere.service "MachineMetadata=region=mars"
start=$SECONDS
expect_fail "an unplaceable unit fails start quickly, naming the constraint" "cannot be placed.*region=mars" \
  fleetctl start nowhere.service
check "... within 10 seconds" test $((SECONDS - start)) -le 10
check "list-unit-files carries the reason" \
  bash -c "'$FLEET_BIN/fleetctl' list-unit-files --no-legend --fields unit,reason | grep -q '^nowhere.service.*region=mars'"
expect_fail "an invalid requirement combination is refused" "MachineID cannot be used with Global" \
  bash -c "printf '[Service]\nExecStart=/bin/true\n[X-Fleet]\nGlobal=true\nMachineID=abc\n' > bad-combo.service; '$FLEET_BIN/fleetctl' submit bad-combo.service"
fleetctl destroy nowhere.service >/dev/null

# --- store briefly unreachable: nothing stopped on healthy machines ---
pid_before=$(main_pid pinned.service 2)
# The outage itself is the test subject, shorter than the 5 s TTL: machine 1 (the embedded
# store's) cut off, or with FLEET_STORE=etcd every etcd member frozen.
"$CLUSTER" store-outage 2 &
outage=$!
m2_api="unix://$("$RIGCMD" dir 2)/fleet.sock"
wait_until 5 "during the outage the store is unreachable (machine 2's API cannot list units)" \
  bash -c "! '$FLEET_BIN/fleetctl' --endpoint '$m2_api' --request-timeout 0.5 list-units"
wait "$outage"
wait_until 15 "after a 2 s store outage the cluster answers again" fleetctl list-machines
check "pinned.service kept running on m2 through the outage (same PID)" test "$(main_pid pinned.service 2)" = "$pid_before"

# --- leader handover after kill -9 ---
L=$(leader)
check "an engine leader exists among m2-m4 (m$L)" test -n "$L" -a "$L" != 1
"$RIGCMD" exec "$L" systemctl --user kill -s KILL fleetd
unit after-kill.service
start_out=$(timeout 60 "$FLEET_BIN/fleetctl" start --block-attempts 15 after-kill.service 2>&1)
check "a unit started after the leader was killed is placed" grep -q "launched on" <<<"$start_out"
L2=$(leader)
check "another machine took the lease (m$L -> m${L2:-none})" test -n "$L2" -a "$L2" != "$L"
# Units only m$L may run (pinned by ID or by metadata only it has) stay placed there while it
# is away, so it restarts nothing if it comes back; every other unit moves.
wait_until 30 "units of the killed machine m$L that another machine can run are rescheduled elsewhere" bash -c "
  ! '$FLEET_BIN/fleetctl' list-unit-files --full --no-legend --fields unit,target | grep \"\$('$RIGCMD' machine-id $L)\" \
    | grep -Evq '^(pinned|ssd|slot@3|new)\.service'"
"$CLUSTER" start-fleetd "$L"
wait_until 20 "the restarted machine m$L rejoins" bash -c "[ \$('$FLEET_BIN/fleetctl' list-machines --no-legend | wc -l) -eq 4 ]"

# --- a machine cut off: its units move within the TTL ---
unit roam.service "MachineMetadata=region=b"   # m3 or m4: never the store's machine
fleetctl start roam.service >/dev/null
R=$(target_of roam.service)
"$RIGCMD" cut "$R"
wait_until 30 "roam.service moves off the cut-off machine m$R and runs elsewhere" bash -c "
  t=\$('$FLEET_BIN/fleetctl' list-unit-files --full --no-legend --fields unit,target | awk '\$1==\"roam.service\" {print \$2}' | cut -d/ -f1);
  [ -n \"\$t\" ] && [ \"\$t\" != - ] && [ \"\$t\" != \"\$('$RIGCMD' machine-id $R)\" ]"
"$RIGCMD" mend "$R"
wait_until 30 "after it reconnects, m$R stops its stale copy of roam.service" bash -c "! '$RIGCMD' exec $R systemctl --user is-active -q roam.service"

# --- a draining stop of fleetd (--drain-on-stop): units move at once ---
E=$(target_of meta-b.service)   # m3 or m4, so the store (m1) stays up
"$RIGCMD" exec "$E" systemctl --user stop fleetd   # a plain stop: the units stay for the restart
"$CLUSTER" start-fleetd "$E" --drain-on-stop
wait_until 20 "m$E is back, draining on its next stop" bash -c "[ \$('$FLEET_BIN/fleetctl' list-machines --no-legend | wc -l) -eq 4 ]"
"$RIGCMD" exec "$E" systemctl --user stop fleetd
check "a draining stop unloads the machine's units (meta-b.service stopped on m$E)" bash -c "! '$RIGCMD' exec $E systemctl --user is-active -q meta-b.service"
wait_until 10 "meta-b.service runs on the other region=b machine right away" bash -c "
  t=\$('$FLEET_BIN/fleetctl' list-unit-files --full --no-legend --fields unit,state,target | awk '\$1==\"meta-b.service\" {print \$2, \$3}');
  [[ \"\$t\" == launched* ]] && [[ \"\$t\" != *\$('$RIGCMD' machine-id $E)* ]]"

"$CLUSTER" down >/dev/null 2>&1
trap 'rm -rf "$WORK"' EXIT
check "teardown leaves nothing behind" "$RIGCMD" leftovers
finish cluster-scheduling
