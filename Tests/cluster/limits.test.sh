#!/usr/bin/env bash
# fleetd's listeners under abuse, on one simulated machine: abandoned long-polls give their
# descriptors back, an idle connection is closed, connections beyond the cap are closed at once
# while fleetd keeps answering, and running out of descriptors does not kill fleetd.
# Counts and times are bounded: at most 300 connections, each phase a few seconds.
set -uo pipefail
HERE=$(cd "$(dirname "$0")" && pwd)
ROOT=$(cd "$HERE/../.." && pwd)
source "$HERE/lib.sh"
export RIG=${RIG:-fleetlimits}
export FLEET_BIN=${FLEET_BIN:-$(cd "$ROOT" && swift build --show-bin-path)}
RIGCMD=$ROOT/scripts/rig
CLUSTER=$ROOT/scripts/dev-cluster
WORK=$(mktemp -d)
trap '"$CLUSTER" down >/dev/null 2>&1; rm -rf "$WORK"' EXIT

# Plain HTTP (FLEET_TLS=0): the test holds hundreds of raw /dev/tcp connections with
# hand-written requests, one shell for all; the bounds it checks sit below TLS, per connection.
export FLEET_TLS=0
CAP=400   # above the 300 watches of phase 1
IDLE=3
export FLEET_ARGS_1="--http-max-connections $CAP --http-idle-timeout $IDLE"
check "one machine with fleetd comes up (cap $CAP, idle timeout ${IDLE}s)" "$CLUSTER" up 1
eval "$("$CLUSTER" env)"
ADDR=$("$RIGCMD" addr 1)
EP=http://$ADDR:4001
PID=$("$RIGCMD" exec 1 systemctl --user show -p MainPID --value fleetd)
fds() { ls /proc/"$PID"/fd | wc -l; }
at_most() { [ "$(fds)" -le "$1" ]; }
at_least() { [ "$(fds)" -ge "$1" ]; }
keys_answer() { "$RIGCMD" exec 1 curl -s -m 3 "$@" | grep -q '"value":"v"'; }
alive() { [ -d /proc/"$PID" ] && "$RIGCMD" exec 1 systemctl --user is-active -q fleetd; }

# hold N PATH SECONDS READY: one process on machine 1 opens N connections to the keys API,
# sends `GET PATH` on each (nothing when PATH is empty), touches READY, holds them SECONDS, exits.
hold() {
  "$RIGCMD" exec 1 bash -c '
    for i in $(seq "$1"); do
      exec {fd}<>"/dev/tcp/$5/4001" || break
      [ -n "$2" ] && printf "GET %s HTTP/1.1\r\nHost: x\r\n\r\n" "$2" >&$fd
    done
    touch "$4"; sleep "$3"' hold "$@" "$ADDR"
}

"$RIGCMD" exec 1 curl -s -XPUT "$EP/v2/keys/limits/k" -d value=v >/dev/null
check "fleetd's open-file limit was raised to its hard limit" \
  bash -c "awk '/Max open files/ {exit (\$4 == \$5) ? 0 : 1}' /proc/$PID/limits"
check "the keys API answers" keys_answer "$EP/v2/keys/limits/k"
BASE=$(fds)
echo "# fleetd $PID: $BASE descriptors at rest"

# 1. 150 abandoned long-polls and 150 abandoned streaming watches.
hold 150 "/v2/keys/limits/poll?wait=true" $((IDLE + 5)) "$WORK/polls" &
HOLD1=$!
hold 150 "/v2/keys/limits?wait=true&recursive=true&stream=true" $((IDLE + 5)) "$WORK/streams" &
HOLD2=$!
wait_until 10 "300 watches are open" bash -c "[ -e $WORK/polls ] && [ -e $WORK/streams ] && [ \$(ls /proc/$PID/fd | wc -l) -ge $((BASE + 290)) ]"
sleep $((IDLE + 1))   # longer than the idle timeout: a watch in flight must not be cut by it
check "watches in flight outlive the idle timeout ($(fds) descriptors)" at_least $((BASE + 290))
# A client that vanishes without a FIN is let go by TCP keepalive (60 s idle, 10 s x 6 probes).
check "accepted keys-API connections have TCP keepalive" bash -c \
  "'$RIGCMD' exec 1 ss -tnoH state established '( sport = :4001 )' | grep -q 'timer:(keepalive'"
wait $HOLD1 $HOLD2
wait_until 5 "the descriptors return to the baseline once the watchers' clients are gone" at_most $((BASE + 5))
check "the key is still answered" keys_answer "$EP/v2/keys/limits/k"

# 2. Idle connections are closed after the idle timeout, while their client still holds them.
hold 50 "" $((IDLE + 8)) "$WORK/idle" &
HOLD3=$!
wait_until 10 "50 idle connections are open" bash -c "[ -e $WORK/idle ] && [ \$(ls /proc/$PID/fd | wc -l) -ge $((BASE + 45)) ]"
wait_until $((IDLE + 5)) "idle connections are closed after ${IDLE}s" at_most $((BASE + 5))
wait $HOLD3

# 3. More connections than the cap: the excess is closed at once, fleetd keeps answering.
hold $((CAP + 50)) "/v2/keys/limits/cap?wait=true" 8 "$WORK/cap" &
HOLD4=$!
wait_until 10 "$((CAP + 50)) connections attempted" test -e "$WORK/cap"
# Closed unanswered: curl sees an empty reply (52) or, when the close beats its request, a
# reset (56); a connection left waiting would time out (28).
check "a connection over the cap is closed at once, not left hanging" \
  bash -c "'$RIGCMD' exec 1 curl -s -m 3 '$EP/v2/keys/limits/k'; rc=\$?; echo \"    curl: \$rc\" >&2; [ \$rc -eq 52 ] || [ \$rc -eq 56 ]"
check "fleetd holds no more than the cap of keys-API connections ($(fds) descriptors)" at_most $((BASE + CAP + 5))
check "fleetctl list-machines still answers (the API socket has its own cap)" \
  bash -c "'$FLEET_BIN/fleetctl' list-machines --no-legend | grep -q '$ADDR'"
check "the keys API still answers on the API's own listener" keys_answer "http://$ADDR:4002/v2/keys/limits/k"
wait $HOLD4
wait_until 5 "the descriptors return to the baseline" at_most $((BASE + 5))
check "the keys-API listener accepts again" keys_answer "$EP/v2/keys/limits/k"

# 4. Out of descriptors: accept fails with EMFILE; fleetd pauses accepting and carries on.
LIMITS=$(prlimit --pid "$PID" --nofile --noheadings --output SOFT,HARD | awk '{print $1":"$2}')
prlimit --pid "$PID" --nofile=$((BASE + 60)):"${LIMITS#*:}"
hold 150 "" 3 "$WORK/emfile" &
HOLD5=$!
wait $HOLD5
check "fleetd survives running out of descriptors" alive
check "fleetd logged the failed accepts" bash -c "grep -q 'accepting a connection failed' '$("$RIGCMD" dir 1)/fleetd.log'"
wait_until $((IDLE + 5)) "the descriptors return to the baseline" at_most $((BASE + 5))
prlimit --pid "$PID" --nofile="$LIMITS"
wait_until 5 "the keys API answers again" keys_answer "$EP/v2/keys/limits/k"
check "fleetctl list-machines answers again" bash -c "'$FLEET_BIN/fleetctl' list-machines --no-legend | grep -q '$ADDR'"
check "it is the same fleetd process" test "$("$RIGCMD" exec 1 systemctl --user show -p MainPID --value fleetd)" = "$PID"

"$CLUSTER" down >/dev/null 2>&1
trap 'rm -rf "$WORK"' EXIT
check "teardown leaves nothing behind" "$RIGCMD" leftovers
finish cluster-limits
