#!/usr/bin/env bash
# A rolling upgrade of a 3-machine cluster installed from the Debian package (issue 15 items 3
# and 4): every machine runs the old package (FLEET_PACKAGE_OLD), one unit per machine; then one
# machine at a time, store holder last, the new package (FLEET_PACKAGE, else the newest
# dist/fleet_*_amd64.deb) is unpacked over the old (an edited fleet.conf kept, as dpkg keeps a
# conffile) and `systemctl restart fleetd` runs the new fleetd. Checked after each machine: it is
# back in list-machines, running the new binary, and every unit still runs with the same main
# PID; and throughout, every unit's DNS name answers from at least one machine.
#
# Needs two packages, so two release builds: scripts/test makes them with scripts/build-packages
# (this commit's, and the upgrade base's, an older fleet); run alone without FLEET_PACKAGE_OLD it
# skips. FLEET_PACKAGE_OLD=$FLEET_PACKAGE (one package) checks the restart alone. fleetd's stop leaves its units running for the new fleetd to adopt;
# restart.test.sh checks the same restarts with the debug build on every run.
set -uo pipefail
ROOT=$(cd "$(dirname "$0")/../.." && pwd)
export RIG=${RIG:-fleet-pkgupgrade}
source "$ROOT/Tests/cluster/package-lib.sh"
NEW=$(package_deb)
OLD=${FLEET_PACKAGE_OLD:-}
if [ -z "$OLD" ] || [ -z "$NEW" ]; then
  echo "ok # SKIP package-upgrade: needs FLEET_PACKAGE_OLD=old.deb and a new one (FLEET_PACKAGE or dist/)"
  finish package-upgrade; exit
fi
for deb in "$OLD" "$NEW"; do [ -f "$deb" ] || { not_ok "$deb is no file"; finish package-upgrade; exit; }; done
echo "# package-upgrade: $OLD -> $NEW"
N=3
KEYS_PORT=4001
WORK=$(mktemp -d)
PROBE_PID=""
cleanup() {
  [ -z "$PROBE_PID" ] || kill "$PROBE_PID" 2>/dev/null
  package_teardown "$N"
  rm -rf "$WORK"
}
trap cleanup EXIT

if "$RIGCMD" up "$N"; then ok "$N simulated machines come up"
else not_ok "$N simulated machines come up"; finish package-upgrade; exit; fi
store_addr=$("$RIGCMD" addr 1)
for k in $(seq 1 "$N"); do
  check "machine $k: the old package unpacked" package_unpack "$k" "$OLD"
  check "machine $k: configured" package_configure "$k" "$store_addr" "$KEYS_PORT"
  check "machine $k: the old fleetd.service loaded" package_link_unit "$k"
done
check "machine 1: fleetd started, a new cluster" package_start 1 init
for k in $(seq 2 "$N"); do check "machine $k: fleetd started" package_start "$k"; done
wait_until 60 "list-machines shows $N machines" machines_up "$N"

# --- one unit per machine, and their main PIDs ------------------------------------------------------
cp "$ROOT/examples/hello@.service" "$WORK/"
units=()
for i in $(seq 1 "$N"); do units+=("hello@$i.service"); done
check "fleetctl start ${units[*]}" bash -c "cd '$WORK' && '$(prefix 1)/usr/bin/fleetctl' --endpoint 'unix://$("$RIGCMD" dir 1)/fleet.sock' start ${units[*]}"
declare -A where pid_of
unit_pid() { on "$1" systemctl --user show --property=MainPID --value "$2"; }
for u in "${units[@]}"; do
  where[$u]=$(machine_of "$u" || echo 0)
  running() { [ "$(unit_pid "${where[$u]}" "$u")" -gt 0 ] 2>/dev/null; }
  wait_until 20 "$u runs on machine ${where[$u]}" running
  pid_of[$u]=$(unit_pid "${where[$u]}" "$u")
done

# --- DNS throughout: every 200 ms each instance's name is asked of every machine --------------------
# A probe round fails when no machine answers a name with an address.
addrs=$(for k in $(seq 1 "$N"); do "$RIGCMD" addr "$k"; done)
probe() {
  local i a answered
  while :; do
    for i in $(seq 1 "$N"); do
      answered=""
      for a in $addrs; do
        if on 1 dig +short +time=1 +tries=1 @"$a" "$i.hello.fleet" A 2>/dev/null | grep -qE '^10\.'; then answered=1; break; fi
      done
      echo "$i ${answered:-miss}" >>"$WORK/probe"
    done
    sleep 0.2
  done
}
dns_all() { local i; for i in $(seq 1 "$N"); do on 1 dig +short @"$store_addr" "$i.hello.fleet" A | grep -qE '^10\.' || return 1; done; }
wait_until 20 "every instance's DNS name answers before the upgrade" dns_all
probe & PROBE_PID=$!

# --- the upgrade, one machine at a time, store holder last -------------------------------------------
for k in $(seq "$N" -1 1); do
  old_pid=$(main_pid "$k")
  check "machine $k: the new package unpacked over the old" package_unpack "$k" "$NEW"
  check "machine $k: its edited fleet.conf kept" grep -q 'package-lib.sh' "$(prefix "$k")/etc/fleet/fleet.conf"
  check "machine $k: the new fleetd.service loaded" package_link_unit "$k"
  check "machine $k: systemctl restart fleetd" on "$k" systemctl --user restart fleetd
  wait_until 60 "machine $k is back in list-machines" machines_up "$N"
  new_pid=$(main_pid "$k")
  check "machine $k: a new fleetd ($old_pid -> $new_pid) from the new package" \
    bash -c "[ '$new_pid' -gt 0 ] && [ '$new_pid' != '$old_pid' ] && [ \"\$(readlink /proc/$new_pid/exe)\" = '$(prefix "$k")/usr/bin/fleetd' ]"
  for u in "${units[@]}"; do
    check "after machine $k: $u still runs on machine ${where[$u]} with main PID ${pid_of[$u]}" \
      test "$(unit_pid "${where[$u]}" "$u")" = "${pid_of[$u]}"
  done
done
kill "$PROBE_PID" 2>/dev/null; wait "$PROBE_PID" 2>/dev/null; PROBE_PID=""
rounds=$(wc -l <"$WORK/probe") misses=$(grep -c miss "$WORK/probe")
echo "# DNS probes: $rounds, unanswered: $misses"
check "every instance's DNS name answered throughout ($misses of $rounds probes unanswered)" test "$misses" -eq 0

finish package-upgrade
