#!/usr/bin/env bash
# The mDNS bridge inside fleetd (--mdns) end to end: a unit with [X-Discovery] Port=8080 started
# through fleet on machine 1 is seen by avahi-browse on machine 2 with machine 1's address and
# port; stopping it withdraws it. Each machine runs its own system D-Bus and avahi-daemon.
set -uo pipefail
HERE=$(cd "$(dirname "$0")" && pwd)
ROOT=$(cd "$HERE/../.." && pwd)
source "$HERE/lib.sh"
export RIG=${RIG:-fleetmdns}
export FLEET_BIN=${FLEET_BIN:-$(cd "$ROOT" && swift build --show-bin-path)}
export FLEET_ARGS_1="--mdns" FLEET_ARGS_2="--mdns"
RIGCMD=$ROOT/scripts/rig
CLUSTER=$ROOT/scripts/dev-cluster
WORK=$(mktemp -d)
trap '"$CLUSTER" down >/dev/null 2>&1; rm -rf "$WORK"' EXIT
on() { local k=$1; shift; "$RIGCMD" exec "$k" "$@"; }
daemons_up() {
  on "$1" systemd-run --user --quiet --unit=sysbus dbus-daemon --system --nofork --nopidfile &&
    on "$1" sh -c 'for i in $(seq 50); do [ -S /run/dbus/system_bus_socket ] && exit 0; sleep 0.1; done; exit 1' &&
    on "$1" systemd-run --user --quiet --unit=avahi avahi-daemon --no-drop-root --no-chroot --no-rlimits &&
    on "$1" sh -c 'for i in $(seq 50); do avahi-daemon --check 2>/dev/null && exit 0; sleep 0.1; done; exit 1'
}
browse() { on 2 avahi-browse -rpt _web._tcp 2>/dev/null | grep '^=;[^;]*;IPv4;' | sort -u; }

check "cluster of 2 machines with fleetd --mdns comes up" "$CLUSTER" up 2
eval "$("$CLUSTER" env)"
check "system bus + avahi-daemon on machine 1" daemons_up 1
check "system bus + avahi-daemon on machine 2" daemons_up 2
A1=$("$RIGCMD" addr 1)
printf '[Service]\nExecStart=/bin/sleep infinity\n\n[X-Fleet]\nMachineID=%s\n\n[X-Discovery]\nPort=8080\nTXT=version=7\n' \
  "$("$RIGCMD" machine-id 1)" > "$WORK/web@.service"
check "fleetctl start web@1 (pinned to machine 1)" bash -c "cd '$WORK' && '$FLEET_BIN/fleetctl' start web@1.service >/dev/null"
wait_until 15 "machine 2's avahi-browse sees web-1 at $A1:8080 with its TXT" \
  bash -c "$(declare -f on browse); RIGCMD='$RIGCMD'; browse | grep -q \"web-1;.*;$A1;8080;.*version=7\""
check "fleetctl stop web@1" bash -c "'$FLEET_BIN/fleetctl' stop web@1.service >/dev/null 2>&1"
wait_until 15 "stopping the unit withdraws it from mDNS" bash -c "$(declare -f on browse); RIGCMD='$RIGCMD'; ! browse | grep -q 'web-1;'"

"$CLUSTER" down >/dev/null 2>&1
trap 'rm -rf "$WORK"' EXIT
check "teardown leaves nothing behind" "$RIGCMD" leftovers
finish mdns-fleet
