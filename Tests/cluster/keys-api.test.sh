#!/usr/bin/env bash
# fleetd's etcd-v2 keys API against clients nobody here wrote: Debian's etcdctl (ETCDCTL_API=2)
# and curl long-poll watches, on the embedded store; plus bad input and restart durability.
set -uo pipefail
HERE=$(cd "$(dirname "$0")" && pwd)
ROOT=$(cd "$HERE/../.." && pwd)
source "$HERE/lib.sh"
export RIG=${RIG:-fleetkeys}
export FLEET_BIN=${FLEET_BIN:-$(cd "$ROOT" && swift build --show-bin-path)}
RIGCMD=$ROOT/scripts/rig
CLUSTER=$ROOT/scripts/dev-cluster
WORK=$(mktemp -d)
trap '"$CLUSTER" down >/dev/null 2>&1; rm -rf "$WORK"' EXIT

check "one machine with fleetd comes up" "$CLUSTER" up 1
eval "$("$CLUSTER" env)"
EP=$FLEET_KEYS_URL
# etcdctl's TLS flags: the admin certificate (none with FLEET_TLS=0).
ETCDCTL_TLS=${FLEET_TLS_DIR:+--ca-file $FLEET_TLS_DIR/ca.pem --cert-file $FLEET_TLS_DIR/admin.pem --key-file $FLEET_TLS_DIR/admin-key.pem}
# ctl ARGS...: etcdctl v2 run on machine 1 against fleetd's keys API.
# shellcheck disable=SC2086 # ETCDCTL_TLS is several arguments
ctl() { "$RIGCMD" exec 1 env ETCDCTL_API=2 etcdctl --endpoints "$EP" $ETCDCTL_TLS "$@"; }
curl_m1() { mcurl 1 -s "$@"; }
is() { [ "$1" = "$2" ] || { echo "    expected [$2], got [$1]" >&2; return 1; }; }

check "etcdctl set" ctl set /t/a hello
check "etcdctl get" is "$(ctl get /t/a)" hello
check "etcdctl mk creates" ctl mk /t/b first
expect_fail "etcdctl mk refuses an existing key" "Key already exists" ctl mk /t/b second
check "etcdctl update changes an existing key" ctl update /t/b second
expect_fail "etcdctl update refuses a missing key" "Key not found" ctl update /t/missing x
check "etcdctl set --swap-with-value swaps on a match" ctl set /t/b third --swap-with-value second
expect_fail "etcdctl set --swap-with-value refuses a mismatch" "Compare failed" ctl set /t/b fourth --swap-with-value nope
check "etcdctl mkdir" ctl mkdir /t/dir
check "etcdctl ls -r lists the tree sorted" is "$(ctl ls -r /t | tr '\n' ' ')" "/t/a /t/b /t/dir "
check "etcdctl rmdir removes an empty dir" ctl rmdir /t/dir
check "etcdctl rm" ctl rm /t/a
expect_fail "etcdctl get of a removed key" "Key not found" ctl get /t/a
check "etcdctl set --ttl" ctl set /t/ttl short --ttl 1
wait_until 5 "a key with --ttl 1 expires" bash -c "! ETCDCTL_API=2 '$RIGCMD' exec 1 env ETCDCTL_API=2 etcdctl --endpoints $EP $ETCDCTL_TLS get /t/ttl"
check "etcdctl cluster-health" bash -c "'$RIGCMD' exec 1 env ETCDCTL_API=2 etcdctl --endpoints $EP $ETCDCTL_TLS cluster-health | grep -q 'cluster is healthy'"

# etcdctl watch and a curl long poll both wake on a change. Both watch from the index before
# the write, so neither can miss it however long they take to start.
start_index=$(curl_m1 -si "$EP/v2/keys/" | tr -d '\r' | awk -F': ' 'tolower($1)=="x-etcd-index" {print $2}')
ctl watch --after-index "$start_index" /t/w > "$WORK/etcdctl-watch.out" 2>&1 &
W1=$!
curl_m1 -m 30 "$EP/v2/keys/t?wait=true&recursive=true&waitIndex=$((start_index + 1))" > "$WORK/curl-watch.out" &
W2=$!
ctl set /t/w changed >/dev/null
wait_until 5 "etcdctl watch prints the new value" grep -q changed "$WORK/etcdctl-watch.out"
wait_until 5 "curl long poll returns the set event" grep -q '"action":"set"' "$WORK/curl-watch.out"
kill $W1 $W2 2>/dev/null
index=$(curl_m1 -s "$EP/v2/keys/t/w" | sed -n 's/.*"modifiedIndex":\([0-9]*\).*/\1/p')
check "X-Etcd-Index header present" bash -c "mcurl 1 -si '$EP/v2/keys/t/w' | grep -qi '^x-etcd-index: [0-9]'"
check "watch with waitIndex replays history at once" bash -c "mcurl 1 -s -m 5 '$EP/v2/keys/t/w?wait=true&waitIndex=$index' | grep -q changed"

# Bad input gets etcd's error codes; nothing crashes.
code() { curl_m1 -o /dev/null -w '%{http_code}' "$@"; }
check "malformed ttl → 400 (errorCode 202)" bash -c "mcurl 1 -s -XPUT '$EP/v2/keys/t/x' -d value=1 -d ttl=abc | grep -q '\"errorCode\":202'"
check "malformed prevIndex → 400 (errorCode 203)" bash -c "mcurl 1 -s -XPUT '$EP/v2/keys/t/x?prevIndex=xyz' -d value=1 | grep -q '\"errorCode\":203'"
check "malformed boolean → 400 (errorCode 209)" is "$(code -XGET "$EP/v2/keys/t?recursive=maybe")" 400
check "write to / → errorCode 107" bash -c "mcurl 1 -s -XPUT '$EP/v2/keys/' -d value=1 | grep -q '\"errorCode\":107'"
check "a key with .. is refused" is "$(code -XPUT "$EP/v2/keys/a/..%2F..%2Fetc" -d value=1)" 400
check "a 2 MiB value is refused" bash -c "head -c 2097152 /dev/zero | tr '\\0' a > '$WORK/big'; [ \"\$(mcurl 1 -s -o /dev/null -w '%{http_code}' -XPUT '$EP/v2/keys/t/big' --data-urlencode value@$WORK/big)\" != 200 ]"
check "unknown method → 405" is "$(code -XPATCH "$EP/v2/keys/t/x")" 405
# Issue 11: each of these used to be accepted and then crash fleetd (and again after a restart).
check "a ttl beyond etcd's lease maximum → errorCode 202" bash -c "mcurl 1 -s -XPUT '$EP/v2/keys/t/x?ttl=9223372036854775807' -d value=1 | grep -q '\"errorCode\":202'"
check "the largest ttl is stored and read back" bash -c "mcurl 1 -s -XPUT '$EP/v2/keys/t/long?ttl=9000000000' -d value=1 | grep -q '\"ttl\":9000000000'"
check "a key 100 levels deep → 400 (errorCode 209)" bash -c "mcurl 1 -s -XPUT '$EP/v2/keys$(printf '/d%.0s' $(seq 100))' -d value=1 | grep -q '\"errorCode\":209'"
check "a 2 MiB body → 413" bash -c "[ \"\$(mcurl 1 -s -o /dev/null -w '%{http_code}' -XPUT '$EP/v2/keys/t/big' --data-binary @$WORK/big)\" = 413 ]"
check "fleetd still answers" is "$(code "$EP/v2/keys/t/long")" 200
check "fleetd still answers after bad input" is "$(ctl get /t/b)" third

# Durability across a restart of fleetd: the keys and the index come back.
before=$(curl_m1 -si "$EP/v2/keys/t/b" | tr -d '\r' | awk -F': ' 'tolower($1)=="x-etcd-index" {print $2}')
"$RIGCMD" exec 1 systemctl --user kill -s KILL fleetd
"$CLUSTER" start-fleetd 1
wait_until 20 "fleetd answers again after kill -9 and restart" bash -c "'$RIGCMD' exec 1 env ETCDCTL_API=2 etcdctl --endpoints $EP $ETCDCTL_TLS get /t/b"
check "data survives the kill -9" is "$(ctl get /t/b)" third
after=$(curl_m1 -si "$EP/v2/keys/t/b" | tr -d '\r' | awk -F': ' 'tolower($1)=="x-etcd-index" {print $2}')
check "the index did not go backwards ($before -> $after)" test "${after:-0}" -ge "${before:-1}"

"$CLUSTER" down >/dev/null 2>&1
trap 'rm -rf "$WORK"' EXIT
check "teardown leaves nothing behind" "$RIGCMD" leftovers
finish cluster-keys-api
