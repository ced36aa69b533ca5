#!/usr/bin/env bash
# The walking skeleton end to end on 3 simulated machines with real systemd: fleetctl start
# places units, each machine's own systemd runs them, stop and destroy undo it, bad input is
# refused without storing anything, and teardown leaves nothing behind.
set -uo pipefail
HERE=$(cd "$(dirname "$0")" && pwd)
ROOT=$(cd "$HERE/../.." && pwd)
source "$HERE/lib.sh"
export RIG=${RIG:-fleettest}
export FLEET_BIN=${FLEET_BIN:-$(cd "$ROOT" && swift build --show-bin-path)}
RIGCMD=$ROOT/scripts/rig
CLUSTER=$ROOT/scripts/dev-cluster
pid1_cgroup=$(cat /proc/1/cgroup)
WORK=$(mktemp -d)
trap '"$CLUSTER" down >/dev/null 2>&1; rm -rf "$WORK"' EXIT

fleetctl() { "$FLEET_BIN/fleetctl" "$@"; }

# machine_of UNIT: the rig number of the machine fleet placed UNIT on.
machine_of() {
  local id k
  id=$(fleetctl list-unit-files --full --no-legend --fields unit,target | awk -v u="$1" '$1==u {print $2}' | cut -d/ -f1)
  for k in 1 2 3; do [ "$("$RIGCMD" machine-id "$k")" = "$id" ] && { echo "$k"; return; }; done
  return 1
}
# on_machine UNIT STATE: systemd on the unit's own machine reports STATE for it.
systemd_state() { "$RIGCMD" exec "$1" systemctl --user is-active "$2" 2>/dev/null; }
is_state() { [ "$(systemd_state "$1" "$2")" = "$3" ]; }

check "cluster of 3 machines comes up" "$CLUSTER" up 3
eval "$("$CLUSTER" env)"
check "list-machines shows 3 machines" test "$(fleetctl list-machines --no-legend | wc -l)" -eq 3
if [ "${FLEET_STORE:-embedded}" = etcd ]; then
  # The rig's etcd speaks plain HTTP: fleetd says loudly that the store is open to whoever reaches it.
  check "fleetd warns that etcd is reached over plain HTTP" bash -c "'$CLUSTER' logs 1 | grep -q 'INSECURE: etcd over plain HTTP'"
fi

cp "$ROOT/examples/hello@.service" "$WORK/"
cd "$WORK"
out=$(fleetctl start hello@1 hello@2 hello@3 2>&1); rc=$?
echo "$out" | sed 's/^/    /'
check "fleetctl start of three instances exits 0" test $rc -eq 0
check "start reports each unit launched on a machine" test "$(grep -c 'launched on' <<<"$out")" -eq 3
check "fleetctl wrote the three units in one batch request, not three PUTs" bash -c \
  "curl -s --unix-socket '${FLEETCTL_ENDPOINT#unix://}' http://fleetd/metrics | grep -q '^fleet_api_requests_total{resource=\"batch/units\",method=\"POST\",code=\"200\"} 1\$'"

declare -A where
for i in 1 2 3; do
  where[$i]=$(machine_of "hello@$i.service")
  check "hello@$i is active in its machine's own systemd (machine ${where[$i]:-?})" is_state "${where[$i]:-1}" "hello@$i.service" active
done
check "least-loaded placement spreads the units over all 3 machines" \
  test "$(printf '%s\n' "${where[@]}" | sort -u | wc -l)" -eq 3
other=$(( where[1] % 3 + 1 ))
check "a unit placed elsewhere is not running on machine $other" \
  bash -c "[ \"\$('$RIGCMD' exec $other systemctl --user is-active hello@1.service)\" != active ]"
wait_until 10 "list-units shows three active units" \
  bash -c "[ \$('$FLEET_BIN/fleetctl' list-units --no-legend --fields unit,active | grep -c active) -eq 3 ]"
wait_until 10 "unit stdout reached machine ${where[1]}'s log" grep -q "hello 1 from" "$("$RIGCMD" dir "${where[1]}")/units.log"

out=$(fleetctl stop hello@2.service 2>&1); rc=$?
check "fleetctl stop exits 0 and reports success" bash -c "[ $rc -eq 0 ] && grep -q 'Successfully stopped units \[hello@2.service\]' <<<'$out'"
check "hello@2 is inactive on its machine after stop" is_state "${where[2]}" hello@2.service inactive
check "list-unit-files shows hello@2 loaded" \
  bash -c "'$FLEET_BIN/fleetctl' list-unit-files --no-legend --fields unit,dstate,state | grep -Eq '^hello@2.service\s+loaded\s+loaded'"

check "fleetctl destroy exits 0" fleetctl destroy hello@3.service
check "hello@3 is gone from list-unit-files" bash -c "! '$FLEET_BIN/fleetctl' list-unit-files --no-legend | grep -q hello@3"
unitdir=$("$RIGCMD" exec "${where[3]}" sh -c 'echo $XDG_RUNTIME_DIR/systemd/user')
check "hello@3's unit file is removed from its machine" "$RIGCMD" exec "${where[3]}" test ! -e "$unitdir/hello@3.service"
check "hello@3 is no longer active on its machine" bash -c "[ \"\$('$RIGCMD' exec ${where[3]} systemctl --user is-active hello@3.service)\" != active ]"

# Bad input: refused with a clear message and a non-zero exit, and nothing stored.
printf '[Service]\nExecStart=/bin/true\nthis line is not an option\n' > "$WORK/broken.service"
expect_fail "a malformed unit file is rejected" "Error creating units: .*broken.service.*line 3" fleetctl start broken.service
expect_fail "a bad unit name is rejected" "invalid character" fleetctl start 'bad!name.service'
expect_fail "a unit with no file anywhere is rejected" "unable to find Unit(nothere.service)" fleetctl submit nothere.service
check "nothing from bad input was stored" bash -c "! '$FLEET_BIN/fleetctl' list-unit-files --no-legend | grep -Eq 'broken|bad|nothere'"
expect_fail "an endpoint that is down gives one clear line" "Error retrieving list of active machines" \
  fleetctl --endpoint unix:///nonexistent/fleet.sock list-machines

"$CLUSTER" down >/dev/null 2>&1
trap 'rm -rf "$WORK"' EXIT
check "teardown leaves no netns, cgroup, process or state behind" "$RIGCMD" leftovers
check "PID 1's cgroup is unchanged" test "$pid1_cgroup" = "$(cat /proc/1/cgroup)"
finish cluster-skeleton
