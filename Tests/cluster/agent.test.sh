#!/usr/bin/env bash
# The agent against real systemd on 3 simulated machines: after kill -9 and restart of fleetd
# it adopts its running units (same main PID) and removes orphans of units moved away while it
# was down; names that belong to the machine are refused; a unit the host already has is never
# touched; fenced units ([X-Fleet] Isolation=stop) stop before the TTL on a cut-off machine and
# never run twice; a missing data directory is not an empty cluster.
set -uo pipefail
HERE=$(cd "$(dirname "$0")" && pwd)
ROOT=$(cd "$HERE/../.." && pwd)
source "$HERE/lib.sh"
export RIG=${RIG:-fleetagent}
export FLEET_BIN=${FLEET_BIN:-$(cd "$ROOT" && swift build --show-bin-path)}
export FLEET_AGENT_TTL=${FLEET_AGENT_TTL:-5}
RIGCMD=$ROOT/scripts/rig
CLUSTER=$ROOT/scripts/dev-cluster
WORK=$(mktemp -d)
keep_logs() {  # FLEET_TEST_KEEP_LOGS=DIR keeps each machine's fleetd log there
  [ -n "${FLEET_TEST_KEEP_LOGS:-}" ] || return 0
  mkdir -p "$FLEET_TEST_KEEP_LOGS"
  local k; for k in 1 2 3; do cp "$("$RIGCMD" dir "$k")/fleetd.log" "$FLEET_TEST_KEEP_LOGS/fleetd-$k.log" 2>/dev/null; done
}
trap 'keep_logs; "$CLUSTER" down >/dev/null 2>&1; rm -rf "$WORK"' EXIT

fleetctl() { "$FLEET_BIN/fleetctl" "$@"; }
machine_of() {  # machine_of UNIT: rig number of the machine the unit is placed on
  local id k
  id=$(fleetctl list-unit-files --full --no-legend --fields unit,target | awk -v u="$1" '$1==u {print $2}' | cut -d/ -f1)
  for k in 1 2 3; do [ "$("$RIGCMD" machine-id "$k")" = "$id" ] && { echo "$k"; return; }; done
  return 1
}
main_pid() { "$RIGCMD" exec "$2" systemctl --user show -p MainPID --value "$1" 2>/dev/null; }
active_on() { "$RIGCMD" exec "$2" systemctl --user is-active -q "$1"; }
copies() {  # copies UNIT: on how many machines systemd runs it
  local n=0 k
  for k in 1 2 3; do active_on "$1" "$k" && n=$((n + 1)); done
  echo $n
}
unit() {  # unit NAME [X-Fleet lines...]
  local name=$1; shift
  { printf '[Service]\nExecStart=/bin/sleep infinity\n'
    [ $# -gt 0 ] && { printf '[X-Fleet]\n'; printf '%s\n' "$@"; }; } > "$WORK/$name"
}
copies_is() { [ "$(copies "$1")" -eq "$2" ]; }
not_placed_on() {  # not_placed_on K UNITS...: none of the units is placed on machine K
  local k=$1; shift
  local u; for u in "$@"; do [ "$(machine_of "$u")" != "$k" ] || return 1; done
}
fleetd_up() { [ "$(fleetctl list-machines --no-legend 2>/dev/null | wc -l)" -eq 3 ]; }

export FLEET_ARGS_2="--metadata fleet-test=fence" FLEET_ARGS_3="--metadata fleet-test=fence"
check "cluster of 3 machines comes up (agent TTL ${FLEET_AGENT_TTL}s)" "$CLUSTER" up 3
eval "$("$CLUSTER" env)"
cd "$WORK"

# --- kill -9 and a prompt restart: the units are adopted, not restarted ---
for i in 1 2 3 4 5 6; do unit "app$i.service"; done
fleetctl start app1.service app2.service app3.service app4.service app5.service app6.service >/dev/null
K=$(machine_of app2.service)
[ "$K" = 1 ] && K=$(machine_of app3.service)   # not the store's machine, so the cluster keeps its store
[ "$K" = 1 ] && K=2
mine=$(for i in 1 2 3 4 5 6; do [ "$(machine_of "app$i.service")" = "$K" ] && echo "app$i.service"; done)
declare -A pid
for u in $mine; do pid[$u]=$(main_pid "$u" "$K"); done
check "machine $K runs some units ($(echo $mine))" test -n "$mine"
"$RIGCMD" exec "$K" systemctl --user kill -s KILL fleetd
"$CLUSTER" start-fleetd "$K"
wait_until 20 "fleetd on machine $K is back" fleetd_up
wait_until 10 "its units are reported active again" bash -c "
  [ \$('$FLEET_BIN/fleetctl' list-units --no-legend --fields unit,active | grep -cw active) -ge 6 ]"
for u in $mine; do
  check "$u kept running on machine $K through kill -9 and restart (main PID ${pid[$u]})" \
    test "$(main_pid "$u" "$K")" = "${pid[$u]}"
done
check "log says the units were adopted" grep -q "adopted a unit found in systemd" "$("$RIGCMD" dir "$K")/fleetd.log"

# --- kill -9, down past the TTL: units move; on restart the old copies are removed ---
"$RIGCMD" exec "$K" systemctl --user kill -s KILL fleetd
wait_until 30 "machine $K's units move elsewhere while its fleetd is down" not_placed_on "$K" $mine
first=$(echo $mine | cut -d' ' -f1)
check "meanwhile the old copy of $first still runs on machine $K (nobody there to stop it)" active_on "$first" "$K"
"$CLUSTER" start-fleetd "$K"
wait_until 20 "fleetd on machine $K is back" fleetd_up
for u in $mine; do
  wait_until 10 "$u runs on exactly one machine after the restart" copies_is "$u" 1
done
unitdir=$("$RIGCMD" exec "$K" sh -c 'echo $XDG_RUNTIME_DIR/systemd/user')
check "no orphan unit file is left on machine $K" bash -c "! '$RIGCMD' exec $K ls $unitdir | grep -q '^app'"
check "destroy of every unit leaves none running anywhere" fleetctl destroy app1.service app2.service app3.service app4.service app5.service app6.service
wait_until 10 "no app unit runs on any machine" bash -c "for k in 1 2 3; do '$RIGCMD' exec \$k systemctl --user list-units --no-legend --plain 'app*' | grep -q running && exit 1; done; true"

# --- names that belong to the machine ---
unit fleetd.service; unit dbus.socket; unit systemd-journald.service
expect_fail "fleetd.service is refused" "reserved for fleet itself" fleetctl start fleetd.service
expect_fail "dbus.socket is refused" "belongs to the machine" fleetctl start dbus.socket
expect_fail "systemd-journald.service is refused" "belongs to the machine" fleetctl start systemd-journald.service
printf '[Service]\nExecStart=/bin/true\n' > "$WORK/-.mount"
expect_fail "-.mount is refused" "mount" fleetctl start -- "-.mount"
# A unit the host already has outside fleet's directory (each machine's own hostonly.service).
for k in 1 2 3; do
  "$RIGCMD" exec "$k" sh -c 'mkdir -p "$XDG_CONFIG_HOME/systemd/user" && printf "[Service]\nExecStart=/bin/sleep infinity\n" > "$XDG_CONFIG_HOME/systemd/user/hostonly.service" && systemctl --user daemon-reload && systemctl --user start hostonly.service'
done
hpid=$(main_pid hostonly.service 2)
unit hostonly.service
fleetctl submit hostonly.service >/dev/null
timeout 20 "$FLEET_BIN/fleetctl" start --no-block hostonly.service >/dev/null 2>&1
wait_until 15 "the agent reports the host's unit refused" bash -c "'$FLEET_BIN/fleetctl' list-units --no-legend --fields unit,load | grep -q '^hostonly.service.*refused'"
check "... and the host's own unit file is not shadowed" bash -c "for k in 1 2 3; do '$RIGCMD' exec \$k test ! -e $unitdir/hostonly.service || exit 1; done"
start=$SECONDS
check "destroy of it completes" timeout 30 "$FLEET_BIN/fleetctl" destroy hostonly.service
check "... within 10 s" test $((SECONDS - start)) -le 10
check "the host's unit still runs with the same PID" test "$(main_pid hostonly.service 2)" = "$hpid"
unit after.service
check "the agent still starts new units afterwards" bash -c "cd '$WORK' && timeout 30 '$FLEET_BIN/fleetctl' start after.service | grep -q 'launched on'"

# --- fencing: Isolation=stop units stop before the TTL on a cut-off machine, never run twice ---
# On machine 2 or 3 (never 1: cutting machine 1 would cut the store), away from kept.service.
unit fenced.service "Isolation=stop" "MachineMetadata=fleet-test=fence"
fleetctl start fenced.service >/dev/null
F=$(machine_of fenced.service)
unit kept.service "MachineID=$("$RIGCMD" machine-id "$F")"
fleetctl start kept.service >/dev/null
kpid=$(main_pid kept.service "$F")
"$RIGCMD" cut "$F"
cut_at=$(date +%s%N)
overlap=0 stopped_ms=""
deadline=$((SECONDS + 25))
while [ $SECONDS -lt $deadline ]; do
  n=$(copies fenced.service)
  [ "$n" -gt 1 ] && overlap=1
  if [ -z "$stopped_ms" ] && ! active_on fenced.service "$F"; then stopped_ms=$(( ($(date +%s%N) - cut_at) / 1000000 )); fi
  [ -n "$stopped_ms" ] && [ "$n" -eq 1 ] && break
  sleep 0.1
done
check "the fenced unit stopped on the cut-off machine before the ${FLEET_AGENT_TTL}s TTL (after ${stopped_ms:-never} ms)" \
  test -n "$stopped_ms" -a "${stopped_ms:-99999}" -lt $((FLEET_AGENT_TTL * 1000))
elsewhere() { [ "$(copies fenced.service)" -eq 1 ] && ! active_on fenced.service "$F"; }
wait_until 10 "the fenced unit runs on one machine other than the cut-off one" elsewhere
check "the fenced unit never ran on two machines at once" test $overlap -eq 0
check "the unfenced unit kept running on the cut-off machine (same PID)" test "$(main_pid kept.service "$F")" = "$kpid"
"$RIGCMD" mend "$F"
wait_until 20 "after the cut mends, machine $F is back" fleetd_up
wait_until 10 "the fenced unit still runs on exactly one machine" copies_is fenced.service 1

# --- a missing data directory is not an empty cluster ---
"$RIGCMD" exec 1 systemctl --user kill -s KILL fleetd
data=$("$RIGCMD" dir 1)/fleet-data
mv "$data" "$data.away"
"$CLUSTER" start-fleetd 1
wait_until 10 "fleetd on machine 1 refuses to start on a missing data directory" \
  grep -q "holds no fleet cluster" "$("$RIGCMD" dir 1)/fleetd.log"
check "... naming --init-store" grep -q -- "--init-store" "$("$RIGCMD" dir 1)/fleetd.log"
check "and machine 2's units keep running meanwhile" bash -c "[ -n \"\$('$RIGCMD' exec 2 systemctl --user list-units --no-legend --plain --state=active '*.service' | grep -E 'after|fenced|kept')\" ] || [ -n \"\$('$RIGCMD' exec 3 systemctl --user list-units --no-legend --plain --state=active '*.service' | grep -E 'after|fenced|kept')\" ]"
"$RIGCMD" exec 1 systemctl --user reset-failed fleetd >/dev/null 2>&1
mv "$data.away" "$data"
"$CLUSTER" start-fleetd 1
wait_until 20 "with its data back, machine 1 serves the cluster again" fleetd_up
check "the cluster still has its units" bash -c "'$FLEET_BIN/fleetctl' list-unit-files --no-legend | grep -q '^kept.service'"

keep_logs
"$CLUSTER" down >/dev/null 2>&1
trap 'rm -rf "$WORK"' EXIT
check "teardown leaves nothing behind" "$RIGCMD" leftovers
finish cluster-agent
