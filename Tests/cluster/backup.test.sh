#!/usr/bin/env bash
# Backup and restore of the embedded store (issue 15 item 5), on 3 simulated machines:
#  1. `fleetctl backup FILE` against machine 1 (the store's fleetd) while units are being started:
#     an owner-only SQLite file, its size, index and key count printed; an existing FILE is
#     refused without --force; machine 2 (it follows the store) answers with what to do.
#  2. `fleetd restore FILE` refuses the store while machine 1's fleetd holds it.
#  3. Changes after the backup (a unit, a key); fleetd on machine 1 stopped, the backup restored,
#     fleetd started: the units and the key of the backup are back, the later ones gone (the
#     later unit, pinned to machine 3, stopped there), the replaced store kept aside, and
#     machines 2 and 3 follow the restored store (a unit pinned to machine 2 starts there):
#     their watches, at indexes past the backup's, are cleared by the restore's index jump.
#  4. The same after a lost disk: a fresh backup, the followers moved on past it, the store
#     removed, the backup restored into the empty data directory: machine 3's DNS answers a
#     unit started afterwards (its discovery watch re-read the store).
set -uo pipefail
HERE=$(cd "$(dirname "$0")" && pwd)
ROOT=$(cd "$HERE/../.." && pwd)
source "$HERE/lib.sh"
export RIG=${RIG:-fleetbackup}
export FLEET_BIN=${FLEET_BIN:-$(cd "$ROOT" && swift build --show-bin-path)}
RIGCMD=$ROOT/scripts/rig
CLUSTER=$ROOT/scripts/dev-cluster
WORK=$(mktemp -d)
cleanup() { "$CLUSTER" down >/dev/null 2>&1; rm -rf "$WORK"; }
trap cleanup EXIT

fleetctl() { "$FLEET_BIN/fleetctl" "$@"; }
mid() { "$RIGCMD" machine-id "$1"; }
active_on() { "$RIGCMD" exec "$2" systemctl --user is-active -q "$1"; }
active_anywhere() { local k; for k in 1 2 3; do active_on "$1" "$k" && return 0; done; return 1; }
active_nowhere() { ! active_anywhere "$1"; }
machines_are() { [ "$(fleetctl list-machines --no-legend 2>/dev/null | wc -l)" -eq "$1" ]; }
listed_active() { fleetctl list-units --no-legend --full --fields unit,active 2>/dev/null | grep -q "^$1[[:space:]]*active"; }
unit_file_absent() { ! fleetctl list-unit-files --no-legend --full --fields unit 2>/dev/null | grep -qx "$1"; }
dig_at() {  # dig_at K NAME: machine K's DNS server answers NAME with an address
  "$RIGCMD" exec 1 dig +short +time=1 +tries=1 @"$("$RIGCMD" addr "$1")" "$2" A 2>/dev/null | grep -qE '^10\.'
}
key() { mcurl 1 -s "$FLEET_KEYS_URL/v2/keys/backup-test/$1"; }
key_is() { key "$1" | grep -q "\"value\":\"$2\""; }
key_missing() { key "$1" | grep -q '"errorCode":100'; }
unit() {  # unit NAME [X-Fleet lines...]
  local name=$1; shift
  { printf '[Service]\nExecStart=/bin/sleep infinity\n'
    [ $# -gt 0 ] && { printf '[X-Fleet]\n'; printf '%s\n' "$@"; }; } > "$WORK/$name"
}

check "cluster of 3 machines comes up" "$CLUSTER" up 3
eval "$("$CLUSTER" env)"
M1=$("$RIGCMD" dir 1)
cd "$WORK"
for u in kept1 kept2 busy1 busy2 busy3; do unit "$u.service"; done
# Pinned to machines that follow the store: what they do after the restore shows they follow it.
unit later.service "MachineID=$(mid 3)"
unit pinned.service "MachineID=$(mid 2)"
check "fleetctl start kept1 kept2" fleetctl start kept1.service kept2.service
check "a key written before the backup" bash -c "mcurl 1 -s -XPUT '$FLEET_KEYS_URL/v2/keys/backup-test/before' -d value=1 | grep -q '\"action\":\"set\"'"

# 1. The backup, taken while units are being started.
fleetctl start --no-block busy1.service busy2.service busy3.service >/dev/null 2>&1 &
STARTER=$!
out=$(fleetctl backup "$WORK/store.db" 2>&1); rc=$?
wait "$STARTER"
echo "# $out"
check "fleetctl backup succeeds while units start" test "$rc" -eq 0
check "it prints the size, index and key count" grep -qE "^Wrote $WORK/store.db: [0-9]+ bytes, store index [0-9]+, [0-9]+ keys$" <<<"$out"
check "the backup is owner-only (0600)" test "$(stat -c %a "$WORK/store.db")" = 600
check "the backup is an SQLite file" bash -c "head -c 15 '$WORK/store.db' | grep -q 'SQLite format 3'"
check "no partial file is left" test ! -e "$WORK/store.db.partial"
check "no snapshot is left in machine 1's data dir" bash -c "! ls '$M1/fleet-data' | grep -q store-backup-"
expect_fail "an existing FILE is refused without --force" "give --force" fleetctl backup "$WORK/store.db"
check "--force replaces it" bash -c "'$FLEET_BIN/fleetctl' backup --force '$WORK/store.db' | grep -q '^Wrote'"
expect_fail "machine 2 (following the store) says where to take the backup" "does not hold the store" \
  fleetctl --endpoint "unix://$("$RIGCMD" dir 2)/fleet.sock" backup "$WORK/m2.db"
check "machine 2's refusal left no file" test ! -e "$WORK/m2.db"

# 2. A restore while fleetd holds the store is refused.
expect_fail "fleetd restore refuses the store fleetd holds" "in use by another process" \
  "$FLEET_BIN/fleetd" restore --config "$M1/fleet.conf" --data-dir "$M1/fleet-data" "$WORK/store.db"
check "... and moved nothing aside" bash -c "! ls '$M1/fleet-data' | grep -q before-restore"

# 3. Changes after the backup, then the restore.
wait_until 30 "the units started during the backup are active" listed_active busy3.service
check "fleetctl start later (after the backup)" fleetctl start later.service
wait_until 30 "later.service runs on machine 3" active_on later.service 3
check "a key written after the backup" bash -c "mcurl 1 -s -XPUT '$FLEET_KEYS_URL/v2/keys/backup-test/after' -d value=2 | grep -q '\"action\":\"set\"'"
check "machine 1: systemctl --user stop fleetd" "$RIGCMD" exec 1 timeout 20 systemctl --user stop fleetd
out=$("$FLEET_BIN/fleetd" restore --config "$M1/fleet.conf" --data-dir "$M1/fleet-data" "$WORK/store.db" 2>&1); rc=$?
echo "# $out"
check "fleetd restore succeeds on the stopped store" test "$rc" -eq 0
check "it installed machine 1's store, from its --data-dir" grep -q "as $M1/fleet-data/store.db:" <<<"$out"
check "it says where the old store went" grep -q "kept as $M1/fleet-data/store.db.before-restore-" <<<"$out"
check "the replaced store is kept aside" bash -c "ls '$M1/fleet-data' | grep -q '^store.db.before-restore-[0-9]*T[0-9]*Z$'"
check "the restored store is owner-only" test "$(stat -c %a "$M1/fleet-data/store.db")" = 600
"$CLUSTER" start-fleetd 1
wait_until 30 "fleetd is back on machine 1 (3 machines listed)" machines_are 3
check "the key from before the backup is back" key_is before 1
check "the key written after the backup is gone" key_missing after
for u in kept1 kept2; do
  wait_until 30 "$u.service is listed active again" listed_active "$u.service"
done
check "later.service is not in the restored store" unit_file_absent later.service
wait_until 30 "later.service is stopped on machine 3 (its agent follows the restored store)" active_nowhere later.service
check "fleetctl start pinned (machine 2, after the restore)" fleetctl start pinned.service
wait_until 30 "pinned.service runs on machine 2" active_on pinned.service 2

# 4. A store machine whose disk was lost: a fresh backup restored into an empty data directory.
#    The followers moved on past the backup (a burst of discovery writes), so only the restore's
#    index jump makes their watches re-read; machine 3's DNS then answers a unit started after.
unit after.service "MachineID=$(mid 2)"
check "a second backup" fleetctl backup "$WORK/second.db"
check "a burst of 150 discovery writes after it" "$RIGCMD" exec 1 bash -c \
  "for i in \$(seq 150); do curl -sf $FLEET_CURL_TLS -XPUT '$FLEET_KEYS_URL/v2/keys/discovery/backup-burst/x' -d value=\$i >/dev/null || exit 1; done"
check "machine 1: systemctl --user stop fleetd" "$RIGCMD" exec 1 timeout 20 systemctl --user stop fleetd
rm -f "$M1/fleet-data/store.db" "$M1/fleet-data/store.db-wal" "$M1/fleet-data/store.db-shm"
out=$("$FLEET_BIN/fleetd" restore --config "$M1/fleet.conf" --data-dir "$M1/fleet-data" "$WORK/second.db" 2>&1); rc=$?
echo "# $out"
check "fleetd restore into an empty data directory succeeds" test "$rc" -eq 0
check "... with nothing to keep aside" bash -c "! grep -q 'kept as' <<<'$out'"
"$CLUSTER" start-fleetd 1
wait_until 30 "fleetd is back on machine 1 (3 machines listed)" machines_are 3
check "fleetctl start after (machine 2)" fleetctl start after.service
wait_until 30 "machine 3's DNS answers after.fleet (its discovery watch re-read the restored store)" dig_at 3 after.fleet

finish backup.test.sh
