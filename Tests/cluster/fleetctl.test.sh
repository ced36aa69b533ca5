#!/usr/bin/env bash
# fleetctl's output formats and errors, byte for byte where fleet defines them, against a
# 2-machine simulated cluster: headers, tab separation, --no-legend, --full, --fields, sorted
# rows, '-' placeholders; restart and verify; --replace by desired state; flags fleet accepted,
# --help without a cluster; wrong argument counts, unknown commands, flags and fields, missing
# units, an endpoint that is down and malformed endpoint URLs; SIGHUP to a fleetd.
set -uo pipefail
HERE=$(cd "$(dirname "$0")" && pwd)
ROOT=$(cd "$HERE/../.." && pwd)
source "$HERE/lib.sh"
export RIG=${RIG:-fleet-ctltest}
export FLEET_BIN=${FLEET_BIN:-$(cd "$ROOT" && swift build --show-bin-path)}
export FLEET_ARGS_1="--metadata region=east,disk=ssd"
RIGCMD=$ROOT/scripts/rig
CLUSTER=$ROOT/scripts/dev-cluster
WORK=$(mktemp -d)
trap '"$CLUSTER" down >/dev/null 2>&1; rm -rf "$WORK"' EXIT

fleetctl() { "$FLEET_BIN/fleetctl" "$@"; }
# same WHAT EXPECTED ACTUAL: passes when the two texts are identical; shows both otherwise.
same() {
  if [ "$2" = "$3" ]; then ok "$1"; else not_ok "$1"; diff <(printf '%s\n' "$2") <(printf '%s\n' "$3") | sed 's/^/    /'; fi
}
# run CMD...: sets OUT, ERR and RC.
run() { OUT=$("$@" 2>"$WORK/err"); RC=$?; ERR=$(cat "$WORK/err"); }
# tabs ROW: the row's cells joined by single spaces (cells are separated by runs of tabs only).
cells() { tr -s '\t' ' '; }

check "cluster of 2 machines comes up" "$CLUSTER" up 2
eval "$("$CLUSTER" env)"
m1=$("$RIGCMD" machine-id 1); m2=$("$RIGCMD" machine-id 2)
a1=$("$RIGCMD" addr 1); a2=$("$RIGCMD" addr 2)
sorted=$(printf '%s %s -\n%s %s disk=ssd,region=east\n' "$m2" "$a2" "$m1" "$a1" | sort)

# --- list-machines -------------------------------------------------------------------------
run fleetctl list-machines
same "list-machines header is MACHINE IP METADATA" "MACHINE IP METADATA" "$(head -1 <<<"$OUT" | cells)"
check "list-machines separates columns with tabs only" bash -c "! grep -q ' ' <<<'$OUT'"
same "list-machines rows: short IDs, IPs, sorted metadata or -, sorted by ID" \
  "$(awk '{print substr($1,1,8) "... " $2 " " $3}' <<<"$sorted")" "$(tail -n +2 <<<"$OUT" | cells)"
run fleetctl list-machines --full --no-legend
same "list-machines --full --no-legend: full IDs and no header" "$sorted" "$(cells <<<"$OUT")"
run fleetctl list-machines -l --no-legend --fields ip,machine
same "list-machines -l --fields ip,machine keeps the given order" "$(awk '{print $2 " " $1}' <<<"$sorted")" "$(cells <<<"$OUT")"
run fleetctl list-machines --fields machine,nope
same "an unknown field is refused with fleet's message" 'Invalid key in output format: "nope"' "$ERR"
check "an unknown field exits 1" test "$RC" -eq 1
run fleetctl list-machines --fields ''
same "empty --fields is refused with fleet's message" "Must define output format" "$ERR"
check "empty --fields exits 1" test "$RC" -eq 1

# --- units: start, list-unit-files, list-units ----------------------------------------------
cp "$ROOT/examples/hello@.service" "$WORK/"
printf '[Unit]\nDescription=pinned to east\n[Service]\nExecStart=/bin/sleep 100000\n[X-Fleet]\nMachineMetadata=region=east\n' >"$WORK/east.service"
cd "$WORK"
run fleetctl start east.service
same "start prints fleet's two lines" "$(printf 'Unit east.service inactive\nUnit east.service launched on %s.../%s' "${m1:0:8}" "$a1")" "$OUT"
check "start exits 0" test "$RC" -eq 0
check "submit of a template exits 0" fleetctl submit hello@.service
run fleetctl list-unit-files
same "list-unit-files header is UNIT HASH DSTATE STATE TARGET" "UNIT HASH DSTATE STATE TARGET" "$(head -1 <<<"$OUT" | cells)"
hash=$(tail -n +2 <<<"$OUT" | awk '$1=="east.service" {print $2}')
check "hashes are 7 hex digits" grep -Eq '^[0-9a-f]{7}$' <<<"$hash"
same "list-unit-files rows, sorted, with - for an unplaced template" \
  "$(printf 'east.service %s launched launched %s.../%s\nhello@.service' "$hash" "${m1:0:8}" "$a1")" \
  "$(tail -n +2 <<<"$OUT" | cells | sed 's/^\(hello@.service\) .*/\1/')"
check "the template's row reads inactive inactive -" bash -c "grep -Pq '^hello@\.service\t+[0-9a-f]{7}\t+inactive\t+inactive\t+-$' <<<'$OUT'"
printf '[Service]\nExecStart=/bin/true\n' >"$WORK/plain.service"
fleetctl submit plain.service >/dev/null 2>&1
# Issue 11: accepted before, this unit trapped the agent's health check once it became active.
printf '[Service]\nExecStart=/bin/true\n\n[X-Discovery]\nCheck=tcp\nPort=80\nCheckInterval=inf\n' >"$WORK/flappy.service"
expect_fail "submit refuses an [X-Discovery] number out of bounds and says which" "CheckInterval=inf" \
  fleetctl submit "$WORK/flappy.service"
run fleetctl list-unit-files --full --no-legend --fields unit,hash,desc,target,global
check "list-unit-files --full: 40-digit hash, full machine ID, description, global" \
  grep -Pq "^east\.service\t+${hash}[0-9a-f]{33}\t+pinned to east\t+${m1}/${a1}\t+false$" <<<"$OUT"
check "desc is - when a unit has none, target - when unplaced" grep -Pq '^plain\.service\t+[0-9a-f]{40}\t+-\t+-\t+false$' <<<"$OUT"
wait_until 20 "list-units shows east.service active" bash -c "'$FLEET_BIN/fleetctl' list-units --no-legend | grep -q active"
run fleetctl list-units
same "list-units header and row" "$(printf 'UNIT MACHINE ACTIVE SUB\neast.service %s.../%s active running' "${m1:0:8}" "$a1")" "$(cells <<<"$OUT")"
run fleetctl list-units --full --no-legend --fields unit,load,hash,machine
same "list-units --full --fields unit,load,hash,machine" "east.service loaded ${hash}$(
  fleetctl list-unit-files --full --no-legend --fields unit,hash | awk '$1=="east.service" {print substr($2,8)}') ${m1}/${a1}" "$(cells <<<"$OUT")"

# --- restart, stop --no-block, verify ----------------------------------------------------------
before=$("$RIGCMD" exec 1 systemctl --user show -p InvocationID --value east.service)
run fleetctl restart east.service
same "restart of a launched unit: loaded, then launched" \
  "$(printf 'Unit east.service loaded on %s.../%s\nUnit east.service launched on %s.../%s' "${m1:0:8}" "$a1" "${m1:0:8}" "$a1")" "$OUT"
check "restart exits 0" test "$RC" -eq 0
after=$("$RIGCMD" exec 1 systemctl --user show -p InvocationID --value east.service)
check "systemd ran the unit anew (new invocation ID)" test -n "$after" -a "$before" != "$after"
check "the restarted unit is active" bash -c "[ \"\$('$RIGCMD' exec 1 systemctl --user is-active east.service)\" = active ]"
run fleetctl restart hello@.service
same "restart of an inactive unit says so" "Unable to restart unit hello@.service in state inactive" "$ERR"
check "and exits 1" test "$RC" -eq 1
run fleetctl stop --no-block east.service
same "stop --no-block triggers and returns" "Triggered unit east.service stop" "$OUT"
run fleetctl verify east.service
same "verify is deprecated" "WARNING: The signed/verified units feature is DEPRECATED and cannot be used." "$ERR"
check "verify exits 2" test "$RC" -eq 2

# --- --replace (issue 12): fleet's rule by desired state; start --replace restarts in place --------
# on K ARGS...: systemctl --user show -p ARGS --value swap.service on machine K.
swap_prop() { "$RIGCMD" exec "$1" systemctl --user show -p "$2" --value swap.service; }
printf '[Service]\nExecStart=/bin/sleep 100001\n' >"$WORK/swap.service"
run fleetctl start swap.service
check "swap.service starts" test "$RC" -eq 0
swap_target=$(fleetctl list-unit-files --full --no-legend --fields unit,target | awk '$1=="swap.service" {print $2}')
sk=1; [ "${swap_target%%/*}" = "$m2" ] && sk=2
pid_before=$(swap_prop $sk MainPID)
printf '[Service]\nExecStart=/bin/sleep 100002\n' >"$WORK/swap.service"
for verb in submit load; do
  run fleetctl $verb --replace swap.service
  same "$verb --replace of a launched unit: fleet's warning" \
    "Warning: can not replace Unit(swap.service) in state 'launched', use the appropriate command" "$ERR"
  check "$verb --replace of a launched unit exits 0, as in fleet" test "$RC" -eq 0
  check "$verb --replace leaves the unit launched with its old contents" bash -c \
    "'$FLEET_BIN/fleetctl' list-unit-files --no-legend --fields unit,dstate | grep -Pq '^swap\.service\t+launched$' && '$FLEET_BIN/fleetctl' cat swap.service | grep -q 100001"
  check "$verb --replace leaves the process alone (same main PID)" test "$(swap_prop $sk MainPID)" = "$pid_before"
done
run fleetctl start --replace swap.service
check "start --replace of a launched unit exits 0" test "$RC" -eq 0
check "start --replace: the cluster holds the new contents" bash -c "'$FLEET_BIN/fleetctl' cat swap.service | grep -q 100002"
same "start --replace: still on the same machine" "$swap_target" \
  "$(fleetctl list-unit-files --full --no-legend --fields unit,target | awk '$1=="swap.service" {print $2}')"
wait_until 20 "start --replace: its machine restarted it with the new contents" bash -c \
  "'$RIGCMD' exec $sk systemctl --user show -p ExecStart --value swap.service | grep -q 100002 && [ \"\$('$RIGCMD' exec $sk systemctl --user is-active swap.service)\" = active ]"
check "start --replace: a new process (new main PID)" test "$(swap_prop $sk MainPID)" != "$pid_before"
fleetctl destroy swap.service >/dev/null 2>&1

# --- flags fleet accepted, help without a cluster, the version (issue 12) ----------------------------
fleetctl status east.service >/dev/null 2>&1; plain_rc=$?
run fleetctl status --no-block --block-attempts 3 east.service
check "status --no-block --block-attempts N are accepted and ignored (as plain status, not 64)" \
  test "$RC" -eq "$plain_rc" -a "$RC" -ne 64 -a -n "$OUT"
run fleetctl submit --sign east.service
same "submit --sign: fleet's deprecation warning" "WARNING: The signed/verified units feature is DEPRECATED and cannot be used." "$ERR"
check "submit --sign exits 2, as in fleet" test "$RC" -eq 2
check "every command's --help works without a cluster (unreachable endpoint, exit 0)" bash -c \
  "for c in submit load start stop restart unload destroy cat status journal ssh list-units list-unit-files list-machines list-services discover announce verify version; do '$FLEET_BIN/fleetctl' --endpoint unix:///nonexistent/fleet.sock \$c --help | grep -q USAGE || { echo \$c; exit 1; }; done"
run fleetctl --endpoint unix:///nonexistent/fleet.sock ssh --help
check "ssh --help shows help, not a connection error" test "$RC" -eq 0 -a -z "$ERR"
check "ssh --help is ssh's usage" grep -q 'USAGE: fleetctl ssh' <<<"$OUT"
run fleetctl help
check "fleetctl help shows the version, as fleet's does" grep -q "VERSION: $(fleetctl version | awk '{print $3}')" <<<"$OUT"

# --- argument counts, missing units ---------------------------------------------------------
for args in "" "east.service hello@.service"; do
  # shellcheck disable=SC2086 # the arguments are split on purpose
  run fleetctl cat $args
  same "cat with ${args:-no} arguments: One unit file must be provided" "One unit file must be provided" "$ERR"
  check "cat with ${args:-no} arguments exits 1" test "$RC" -eq 1
done
run fleetctl cat nothere.service
same "cat of a missing unit" "Unit nothere.service not found" "$ERR"
check "cat of a missing unit exits 1" test "$RC" -eq 1
run fleetctl stop nothere.service
same "stop of a missing unit" "Units not found in registry" "$ERR"
check "stop of a missing unit exits 0, as in fleet" test "$RC" -eq 0
run fleetctl start
same "start with no units" "No units given" "$ERR"

# --- unknown commands and flags ---------------------------------------------------------------
run fleetctl lst-units
same "an unknown command gets a suggestion" "Unknown command 'lst-units'. Did you mean 'list-units'?" "$ERR"
check "an unknown command exits non-zero" test "$RC" -ne 0
run fleetctl list-units --fulll
check "an unknown flag gets a suggestion" grep -q "Unknown option '--fulll'. Did you mean '--full'?" <<<"$ERR"
check "an unknown flag exits non-zero" test "$RC" -ne 0
run fleetctl list-m --no-legend
check "a unique prefix runs the command" test "$(wc -l <<<"$OUT")" -eq 2
check "every command's --help has an example" bash -c "for c in submit load start stop restart unload destroy cat list-units list-unit-files list-machines verify version; do '$FLEET_BIN/fleetctl' \$c --help | grep -q Example || { echo \$c; exit 1; }; done"

# --- endpoints ----------------------------------------------------------------------------------
run fleetctl --endpoint unix:///nonexistent/fleet.sock list-machines
check "an endpoint that is down: fleet's first line" grep -q '^Error retrieving list of active machines from fleet API (.*)$' <<<"$(head -1 <<<"$ERR")"
same "an endpoint that is down: then the possible issues" "Possible issues:" "$(sed -n 2p <<<"$ERR")"
check "an endpoint that is down exits 1" test "$RC" -eq 1
run env FLEETCTL_ENDPOINT=unix:///nonexistent/fleet.sock "$FLEET_BIN/fleetctl" list-units
check "FLEETCTL_ENDPOINT is used when --endpoint is not given" test "$RC" -eq 1
run env FLEETCTL_ENDPOINT=unix:///nonexistent/fleet.sock "$FLEET_BIN/fleetctl" --endpoint "$FLEETCTL_ENDPOINT" list-machines --no-legend
check "--endpoint wins over FLEETCTL_ENDPOINT" test "$RC" -eq 0 -a "$(wc -l <<<"$OUT")" -eq 2
run fleetctl --endpoint unix://var/run/fleet.sock list-machines
same "a unix endpoint without an absolute path" 'Unable to initialize client: unable to connect to host "var" with scheme "unix"' "$ERR"
check "exits 1" test "$RC" -eq 1
run fleetctl --endpoint /var/run/fleet.sock list-units
check "an endpoint without a scheme: URL scheme undefined, exit 1" bash -c "[ $RC -eq 1 ] && grep -q 'URL scheme undefined' <<<'$ERR'"

# --- SIGHUP (issue 12): fleetd reloads and keeps serving ------------------------------------------
"$RIGCMD" exec 2 systemctl --user kill --kill-who=main --signal=HUP fleetd
wait_until 10 "fleetd logs 'Reloading configuration' on SIGHUP" bash -c "'$CLUSTER' logs 2 | grep -q 'Reloading configuration'"
check "fleetd is still running after SIGHUP" bash -c "[ \"\$('$RIGCMD' exec 2 systemctl --user is-active fleetd)\" = active ]"
run fleetctl --endpoint "unix://$("$RIGCMD" dir 2)/fleet.sock" list-machines --no-legend
check "and still serves its API (2 machines through machine 2)" test "$RC" -eq 0 -a "$(wc -l <<<"$OUT")" -eq 2

cd "$ROOT"
"$CLUSTER" down >/dev/null 2>&1
trap 'rm -rf "$WORK"' EXIT
check "teardown leaves nothing behind" "$RIGCMD" leftovers
finish fleetctl
