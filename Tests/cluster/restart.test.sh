#!/usr/bin/env bash
# Restarting fleetd keeps the units it runs (issue 15 item 3), on 3 simulated machines:
#  1. fleetd is stopped (SIGTERM, as `systemctl restart` does) and started again on each machine in
#     turn, the store's machine last: every unit (three hello@ instances with DNS names, a global
#     unit on every machine, a fenced Isolation=stop unit) keeps its main PID on every machine,
#     list-units shows the same placements and states, and every DNS name answers from every
#     machine whose fleetd is up, probed every 200 ms throughout.
#  2. fleetd stopped and not back within the TTL: the systemd-side fence stops the fenced unit
#     before the engine starts it elsewhere (never two copies); the restart then removes what
#     moved away meanwhile and adopts the rest.
#  1b. systemd re-executes (`daemon-reexec`, as a package upgrade does), which closes fleetd's
#     direct connection: every unit keeps its PID, fleetd (same process) hears of a unit stopped
#     behind its back and starts one again.
#  3. `fleetd --drain-on-stop`: a stop stops and unloads the machine's units and withdraws it,
#     and the engine moves them at once.
set -uo pipefail
HERE=$(cd "$(dirname "$0")" && pwd)
ROOT=$(cd "$HERE/../.." && pwd)
source "$HERE/lib.sh"
export RIG=${RIG:-fleetrestart}
export FLEET_BIN=${FLEET_BIN:-$(cd "$ROOT" && swift build --show-bin-path)}
export FLEET_AGENT_TTL=${FLEET_AGENT_TTL:-10}
RIGCMD=$ROOT/scripts/rig
CLUSTER=$ROOT/scripts/dev-cluster
WORK=$(mktemp -d)
PROBE_PID=""
keep_logs() {  # FLEET_TEST_KEEP_LOGS=DIR keeps each machine's fleetd log there
  [ -n "${FLEET_TEST_KEEP_LOGS:-}" ] || return 0
  mkdir -p "$FLEET_TEST_KEEP_LOGS"
  local k; for k in 1 2 3; do cp "$("$RIGCMD" dir "$k")/fleetd.log" "$FLEET_TEST_KEEP_LOGS/fleetd-$k.log" 2>/dev/null; done
}
cleanup() {
  [ -z "$PROBE_PID" ] || { kill "$PROBE_PID" 2>/dev/null; wait "$PROBE_PID" 2>/dev/null; }
  keep_logs; "$CLUSTER" down >/dev/null 2>&1; rm -rf "$WORK"
}
trap cleanup EXIT

fleetctl() { "$FLEET_BIN/fleetctl" "$@"; }
mid() { "$RIGCMD" machine-id "$1"; }
machine_of() {  # machine_of UNIT: rig number of the machine the unit is placed on
  local id k
  id=$(fleetctl list-unit-files --full --no-legend --fields unit,target | awk -v u="$1" '$1==u {print $2}' | cut -d/ -f1)
  for k in 1 2 3; do [ "$(mid "$k")" = "$id" ] && { echo "$k"; return; }; done
  return 1
}
main_pid() { "$RIGCMD" exec "$2" systemctl --user show -p MainPID --value "$1" 2>/dev/null; }
active_on() { "$RIGCMD" exec "$2" systemctl --user is-active -q "$1"; }
copies() { local n=0 k; for k in 1 2 3; do active_on "$1" "$k" && n=$((n + 1)); done; echo $n; }
machines_are() { [ "$(fleetctl list-machines --no-legend 2>/dev/null | wc -l)" -eq "$1" ]; }
log_of() { "$RIGCMD" dir "$1"; }
unit() {  # unit NAME [X-Fleet lines...]
  local name=$1; shift
  { printf '[Service]\nExecStart=/bin/sleep infinity\n'
    [ $# -gt 0 ] && { printf '[X-Fleet]\n'; printf '%s\n' "$@"; }; } > "$WORK/$name"
}
# The unit table fleetctl shows (unit, machine, active, sub), sorted.
table() { fleetctl list-units --no-legend --full --fields unit,machine,active,sub 2>/dev/null | sort; }
same_table() { [ "$(table)" = "$1" ]; }
dig_at() {  # dig_at K NAME: machine K's DNS server answers NAME with an address
  "$RIGCMD" exec 1 dig +short +time=1 +tries=1 @"$("$RIGCMD" addr "$1")" "$2" A 2>/dev/null | grep -qE '^10\.'
}
dig_status() {  # dig_status K NAME: how machine K's DNS server answers NAME (rcode, or no answer)
  "$RIGCMD" exec 1 dig +time=1 +tries=1 @"$("$RIGCMD" addr "$1")" "$2" A 2>&1 | grep -oE 'status: [A-Z]+|ANSWER: [0-9]+|timed out|refused' | tr '\n' ' '
}

# fleetd on machines 2 and 3 carries metadata the fenced unit asks for: never the store's machine.
export FLEET_ARGS_2="--metadata fleet-test=fence" FLEET_ARGS_3="--metadata fleet-test=fence"
check "cluster of 3 machines comes up (agent TTL ${FLEET_AGENT_TTL}s)" "$CLUSTER" up 3
eval "$("$CLUSTER" env)"
cd "$WORK"

cp "$ROOT/examples/hello@.service" "$WORK/"
unit global.service "Global=true"
unit fenced.service "Isolation=stop" "MachineMetadata=fleet-test=fence"
units=(hello@1.service hello@2.service hello@3.service fenced.service)
check "fleetctl start ${units[*]} global.service" fleetctl start "${units[@]}" global.service
declare -A pid   # pid[unit@k]: the unit's main PID on machine k
record_pids() {
  local u k
  pid=()
  for u in "${units[@]}"; do k=$(machine_of "$u") && pid[$u@$k]=$(main_pid "$u" "$k"); done
  for k in 1 2 3; do pid[global.service@$k]=$(main_pid global.service "$k"); done
}
all_running() {
  local u k
  for u in "${units[@]}"; do k=$(machine_of "$u") && active_on "$u" "$k" || return 1; done
  for k in 1 2 3; do active_on global.service "$k" || return 1; done
}
wait_until 30 "every unit runs (the global one on all 3 machines)" all_running
wait_until 10 "list-units reports all 7 active" bash -c "[ \$('$FLEET_BIN/fleetctl' list-units --no-legend --fields active | grep -cx active) -eq 7 ]"
record_pids
before=$(table)
dns_everywhere() { local i k; for i in 1 2 3; do for k in 1 2 3; do dig_at "$k" "$i.hello.fleet" || return 1; done; done; }
wait_until 20 "every hello instance's DNS name answers on every machine" dns_everywhere
same_pids() {  # same_pids: every unit still runs with the main PID recorded, on the same machine
  local key
  for key in "${!pid[@]}"; do
    [ "$(main_pid "${key%@*}" "${key##*@}")" = "${pid[$key]}" ] || { echo "# ${key%@*} on machine ${key##*@}: PID ${pid[$key]} -> $(main_pid "${key%@*}" "${key##*@}")"; return 1; }
  done
}

# --- 1. a rolling restart, with DNS probed throughout -------------------------------------------------
# Each round asks every hello name of every machine whose fleetd is up ($WORK/down names the one
# being restarted); a round with any miss is logged.
probe() {
  local i k down
  while :; do
    down=$(cat "$WORK/down" 2>/dev/null)
    for i in 1 2 3; do
      for k in 1 2 3; do
        [ "$k" = "$down" ] && continue
        if dig_at "$k" "$i.hello.fleet"; then echo "ok" >>"$WORK/probe"
        else echo "miss $i.hello.fleet @m$k at $(date +%T.%N) ($(dig_status "$k" "$i.hello.fleet")after)" >>"$WORK/probe"; fi
      done
    done
    echo x >>"$WORK/rounds"
    sleep 0.2
  done
}
rounds_done() { wc -l <"$WORK/rounds" 2>/dev/null || echo 0; }
: >"$WORK/rounds"
probe & PROBE_PID=$!
for k in 3 2 1; do
  echo "$k" >"$WORK/down"
  # Two more rounds: the one running may have read the file before it changed.
  seen=$(rounds_done)
  wait_until 20 "the DNS prober leaves machine $k out" bash -c "[ \$(wc -l <'$WORK/rounds') -ge $((seen + 2)) ]"
  start=$(date +%s%N)
  check "machine $k: systemctl --user stop fleetd" "$RIGCMD" exec "$k" timeout 20 systemctl --user stop fleetd
  stopped_ms=$(( ($(date +%s%N) - start) / 1000000 ))
  # TLS connections closing must not wait NIOSSL's 5 s for close_notify (the store holder's peers).
  check "machine $k: fleetd stopped within 2 s (${stopped_ms} ms)" test "$stopped_ms" -lt 2000
  check "machine $k: its log says the units were left running" grep -q "leaving [0-9]* units running for a restart" "$(log_of "$k")/fleetd.log"
  "$CLUSTER" start-fleetd "$k"
  wait_until 20 "machine $k: fleetd is back (3 machines listed)" machines_are 3
  wait_until 20 "machine $k: its DNS answers again" dig_at "$k" "1.hello.fleet"
  echo "# machine $k: restarted in $(( ($(date +%s%N) - start) / 1000000 )) ms"
  rm -f "$WORK/down"
  check "after machine $k: every unit keeps its main PID on every machine" same_pids
  wait_until 10 "after machine $k: list-units shows the same placements and states" same_table "$before"
done
kill "$PROBE_PID" 2>/dev/null; wait "$PROBE_PID" 2>/dev/null; PROBE_PID=""
rounds=$(wc -l <"$WORK/probe") misses=$(grep -c miss "$WORK/probe")
echo "# DNS probes: $rounds, unanswered: $misses"; grep miss "$WORK/probe" | head -5 | sed 's/^/# /'
check "every DNS name answered on every running machine throughout ($misses of $rounds unanswered)" test "$misses" -eq 0
check "nothing was moved: no unit was started again anywhere" same_pids

# --- 1b. systemd re-executes (as a package upgrade does): fleetd carries on -----------------------------
# fleetd talks to systemd on the manager's own socket, which systemd closes when it re-executes.
X=$(machine_of hello@1.service)
fleetd_pid() { "$RIGCMD" exec "$X" systemctl --user show -p MainPID --value fleetd; }
before_reexec=$(fleetd_pid)
check "machine $X: fleetd reaches systemd on the manager's own socket" grep -q "systemd_connection=direct" "$(log_of "$X")/fleetd.log"
check "machine $X: systemctl --user daemon-reexec" "$RIGCMD" exec "$X" timeout 20 systemctl --user daemon-reexec
check "after the re-exec: every unit keeps its main PID" same_pids
check "machine $X: hello@1 stopped behind fleet's back" "$RIGCMD" exec "$X" systemctl --user stop hello@1.service
wait_until 10 "list-units shows hello@1 inactive: systemd's news reaches fleetd after the re-exec" \
  bash -c "'$FLEET_BIN/fleetctl' list-units --no-legend --fields unit,active | grep -qE '^hello@1.service[[:space:]]+inactive'"
check "fleetctl stop hello@1.service" fleetctl stop hello@1.service
check "fleetctl start hello@1.service" fleetctl start hello@1.service
wait_until 10 "hello@1 runs again on machine $X, started through the new connection" active_on hello@1.service "$X"
check "machine $X: fleetd is the same process (PID $before_reexec)" test "$(fleetd_pid)" = "$before_reexec"
record_pids

# --- 2. down past the TTL: the fence still stops the fenced unit, the restart cleans up ---------------
F=$(machine_of fenced.service)
G=$((F == 2 ? 3 : 2))   # the other fence machine
check "machine $F: systemctl --user stop fleetd (and stays down)" "$RIGCMD" exec "$F" timeout 20 systemctl --user stop fleetd
twice=0
fenced_moved() {
  [ "$(copies fenced.service)" -le 1 ] || twice=1
  ! active_on fenced.service "$F" && active_on fenced.service "$G"
}
wait_until $((FLEET_AGENT_TTL * 3)) "fenced.service is stopped on machine $F by the fence timer and runs on machine $G" fenced_moved
check "fenced.service never ran on two machines at once" test "$twice" -eq 0
check "global.service (Isolation=keep) kept running on machine $F" test "$(main_pid global.service "$F")" = "${pid[global.service@$F]}"
"$CLUSTER" start-fleetd "$F"
wait_until 20 "machine $F: fleetd is back" machines_are 3
moved=$(for u in hello@1.service hello@2.service hello@3.service; do [ -n "${pid[$u@$F]:-}" ] && echo "$u"; done)
for u in $moved; do
  wait_until 15 "$u (moved off machine $F while it was down) runs on exactly one machine after the restart" bash -c "[ \$(for k in 1 2 3; do '$RIGCMD' exec \$k systemctl --user is-active -q $u && echo x; done | wc -l) -eq 1 ]"
done
check "fenced.service is not started again on machine $F" bash -c "! '$RIGCMD' exec $F systemctl --user is-active -q fenced.service"
check "global.service adopted on machine $F with the same main PID" test "$(main_pid global.service "$F")" = "${pid[global.service@$F]}"

# --- 3. --drain-on-stop: the units stop and move at once ----------------------------------------------
D=$(machine_of fenced.service)   # machine 2 or 3, so the store stays up
record_pids
mine=$(for u in "${units[@]}"; do [ -n "${pid[$u@$D]:-}" ] && echo "$u"; done)
"$RIGCMD" exec "$D" timeout 20 systemctl --user stop fleetd
"$CLUSTER" start-fleetd "$D" --drain-on-stop
wait_until 20 "machine $D: fleetd --drain-on-stop is up" machines_are 3
check "machine $D: its units were adopted by the draining fleetd (same PIDs)" same_pids
check "machine $D: systemctl --user stop fleetd (drain)" "$RIGCMD" exec "$D" timeout 20 systemctl --user stop fleetd
check "machine $D: its log says it drained" grep -q "drained" "$(log_of "$D")/fleetd.log"
check "machine $D: global.service was stopped" bash -c "! '$RIGCMD' exec $D systemctl --user is-active -q global.service"
for u in $mine; do
  check "machine $D: $u was stopped" bash -c "! '$RIGCMD' exec $D systemctl --user is-active -q $u"
  wait_until 10 "$u runs on another machine right away (not after the TTL)" bash -c "[ \$(for k in 1 2 3; do '$RIGCMD' exec \$k systemctl --user is-active -q $u && echo x; done | wc -l) -eq 1 ]"
done
wait_until 5 "list-machines drops machine $D at once" machines_are 2

keep_logs
"$CLUSTER" down >/dev/null 2>&1
trap 'rm -rf "$WORK"' EXIT
check "teardown leaves nothing behind" "$RIGCMD" leftovers
finish cluster-restart
