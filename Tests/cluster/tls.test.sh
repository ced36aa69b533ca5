#!/usr/bin/env bash
# TLS with client certificates on fleetd's TCP listeners (issue 13 items 1-3, first step):
# fleetctl cluster init/issue make a CA and per-machine certificates; fleetd restarted with
# --tls-ca/--tls-cert/--tls-key serves the fleet API and the keys API over TLS only to clients
# with a certificate from the cluster CA; machine 2 reaches the store (machine 1's keys API)
# and passes status on to machine 1 with its own certificate; a discovery reader only reads
# /discovery, and machine 2 cannot write machine 1's presence or states. The cluster starts
# plain (FLEET_TLS=0, --insecure-plaintext) and is switched to TLS by hand, as an operator would;
# plain TCP without that flag is refused.
set -uo pipefail
HERE=$(cd "$(dirname "$0")" && pwd)
ROOT=$(cd "$HERE/../.." && pwd)
source "$HERE/lib.sh"
export RIG=${RIG:-fleet-tlstest}
export FLEET_TLS=0  # the manual flow: dev-cluster's own certificates would skip it
export FLEET_BIN=${FLEET_BIN:-$(cd "$ROOT" && swift build --show-bin-path)}
RIGCMD=$ROOT/scripts/rig
CLUSTER=$ROOT/scripts/dev-cluster
KEYS_PORT=${FLEET_KEYS_PORT:-4001}
API_PORT=${FLEET_API_PORT:-4002}
# Under /var/tmp: the machines share it (each has its own /run).
WORK=$(mktemp -d /var/tmp/fleet-tls-test.XXXXXX)
cleanup() {
  "$CLUSTER" down >/dev/null 2>&1
  rm -rf "$WORK"
}
trap cleanup EXIT

fleetctl() { "$FLEET_BIN/fleetctl" "$@"; }
on() { local k=$1; shift; "$RIGCMD" exec "$k" "$@"; }
has() { grep -qF -- "$1" <<<"$2"; }

check "cluster of 2 machines comes up (plain, as before)" "$CLUSTER" up 2
eval "$("$CLUSTER" env)"
a1=$("$RIGCMD" addr 1); a2=$("$RIGCMD" addr 2)
m1=$("$RIGCMD" machine-id 1); m2=$("$RIGCMD" machine-id 2)
check "--insecure-plaintext is logged loudly, naming what is plain" \
  bash -c "grep 'INSECURE: --insecure-plaintext' '$("$RIGCMD" dir 1)/fleetd.log' | grep -q 'keys API on $a1:$KEYS_PORT'"
expect_fail "without TLS files, --api-listen is refused unless --insecure-plaintext is given" \
  "would serve the fleet API as plain HTTP without TLS: give --tls-ca, --tls-cert and --tls-key.*or pass --insecure-plaintext" \
  on 2 timeout 20 "$FLEET_BIN/fleetd" --systemd-user --api-socket "$WORK/refused.sock" --data-dir "$WORK/refused" \
  --keys-listen none --api-listen "$a2:4999"

# --- the cluster identity ------------------------------------------------------------------
CA=$WORK/ca
check "cluster init makes the CA and an admin certificate" fleetctl cluster init --dir "$CA"
expect_fail "a second cluster init refuses to overwrite the CA" "exists already" fleetctl cluster init --dir "$CA"
check "the CA key is 0600 in a 0700 directory" test "$(stat -c %a "$CA/ca-key.pem") $(stat -c %a "$CA")" = "600 700"
for k in 1 2; do
  addr=$("$RIGCMD" addr "$k"); id=$("$RIGCMD" machine-id "$k")
  check "issue machine $k's certificate" fleetctl cluster issue --role machine --machine-id "$id" --ip "$addr" \
    --dir "$CA" --out "$WORK/m$k/node"
done
expect_fail "a machine certificate needs a machine ID" "machine ID" fleetctl cluster issue --role machine --dir "$CA" --out "$WORK/x"
fleetctl cluster init --dir "$WORK/other" >/dev/null  # another cluster's CA, for the refusals
check "openssl accepts machine 1's certificate under the CA" openssl verify -CAfile "$CA/ca.pem" "$WORK/m1/node.pem"

# --- fleetd with TLS -------------------------------------------------------------------------
tls_args() { echo "--tls-ca $CA/ca.pem --tls-cert $WORK/m$1/node.pem --tls-key $WORK/m$1/node-key.pem"; }
for k in 2 1; do on "$k" timeout 20 systemctl --user stop fleetd >/dev/null 2>&1; done
# shellcheck disable=SC2046 # the arguments are meant to split
check "machine 1 restarts with TLS" "$CLUSTER" start-fleetd 1 $(tls_args 1)
# shellcheck disable=SC2046
check "machine 2 restarts with TLS, its store at https://" "$CLUSTER" start-fleetd 2 $(tls_args 2) --store "https://$a1:$KEYS_PORT"
machines() { [ "$(fleetctl list-machines --no-legend 2>/dev/null | wc -l)" -ge 2 ]; }
wait_until 60 "both machines register again (machine 2 through the store over TLS)" machines
check "machine 1's log says TLS is on, as its machine" grep -q "fleetd.tls=on, as machine $m1" "$("$RIGCMD" dir 1)/fleetd.log"

curl_api() {  # curl_api K URL ARGS...: curl from machine K; prints the HTTP status, or fails
  local k=$1 url=$2; shift 2
  on "$k" curl -sS --max-time 10 -o /dev/null -w '%{http_code}' --cacert "$CA/ca.pem" "$@" "$url"
}
admin=(--cert "$CA/admin.pem" --key "$CA/admin-key.pem")
stranger=(--cert "$WORK/other/admin.pem" --key "$WORK/other/admin-key.pem")
API=https://$a1:$API_PORT/fleet/v1/machines
KEYS=https://$a1:$KEYS_PORT/v2/keys/
for target in "$API" "$KEYS"; do
  expect_fail "$target: no client certificate is refused in the handshake" "certificate required" curl_api 2 "$target"
  expect_fail "$target: another CA's certificate is refused in the handshake" "unknown ca" curl_api 2 "$target" "${stranger[@]}"
  check "$target: the admin certificate is served" test "$(curl_api 2 "$target" "${admin[@]}")" = 200
  expect_fail "$target: plain HTTP gets no answer" "Empty reply" on 2 curl -sS --max-time 5 -o /dev/null "http://${target#https://}"
done
expect_fail "a client that does not trust the cluster CA does not talk to fleetd" "unable to get local issuer" \
  on 2 curl -sS --max-time 5 -o /dev/null --cacert "$WORK/other/ca.pem" "${admin[@]}" "$API"

# --- roles ---------------------------------------------------------------------------------
check "issue a discovery-reader certificate" fleetctl cluster issue --role discovery-reader --dir "$CA" --out "$WORK/reader"
reader=(--cert "$WORK/reader.pem" --key "$WORK/reader-key.pem")
m2cert=(--cert "$WORK/m2/node.pem" --key "$WORK/m2/node-key.pem")
body() {  # body K URL ARGS...: the response body, from machine K
  local k=$1 url=$2; shift 2
  on "$k" curl -sS --max-time 10 --cacert "$CA/ca.pem" "$@" "$url"
}
KEYS_ROOT=https://$a1:$KEYS_PORT/v2/keys
check "the admin writes a discovery record" test "$(curl_api 2 "$KEYS_ROOT/discovery/web/one" "${admin[@]}" -X PUT -d value=x)" = 201
check "a discovery reader reads /discovery" test "$(curl_api 2 "$KEYS_ROOT/discovery/web/one" "${reader[@]}")" = 200
check "a discovery reader watches /discovery" test "$(curl_api 2 "$KEYS_ROOT/discovery?wait=true&waitIndex=1&recursive=true" "${reader[@]}")" = 200
check "a discovery reader may not write /discovery (403)" test "$(curl_api 2 "$KEYS_ROOT/discovery/web/two" "${reader[@]}" -X PUT -d value=y)" = 403
OUT=$(body 2 "$KEYS_ROOT/discovery/web/two" "${reader[@]}" -X PUT -d value=y)
check "the keys API's refusal is etcd's error shape (errorCode 110)" has '"errorCode":110' "$OUT"
check "a discovery reader may not read the registry (403)" test "$(curl_api 2 "$KEYS_ROOT/fleet/?recursive=true" "${reader[@]}")" = 403
check "a discovery reader may not list units (403)" test "$(curl_api 2 "https://$a1:$API_PORT/fleet/v1/units" "${reader[@]}")" = 403
OUT=$(body 2 "https://$a1:$API_PORT/fleet/v1/units" "${reader[@]}")
check "the fleet API's refusal is fleet's error shape" has '"error":{"code":403' "$OUT"
presence() { body 2 "$KEYS_ROOT/fleet/machines/$m1/object" "${admin[@]}" | python3 -c 'import json,sys; print(json.load(sys.stdin)["node"]["value"])'; }
before=$(presence)
check "machine 2 may not write machine 1's presence (403)" \
  test "$(curl_api 2 "$KEYS_ROOT/fleet/machines/$m1/object" "${m2cert[@]}" -X PUT -d value=rogue)" = 403
check "machine 2 may not write machine 1's unit states (403)" \
  test "$(curl_api 2 "$KEYS_ROOT/fleet/states/x.service/$m1" "${m2cert[@]}" -X PUT -d value=rogue)" = 403
check "machine 2 may not delete the machines directory (403)" \
  test "$(curl_api 2 "$KEYS_ROOT/fleet/machines?recursive=true&dir=true" "${m2cert[@]}" -X DELETE)" = 403
check "machine 1's presence is unchanged" test -n "$before" -a "$(presence)" = "$before"
check "the admin may not pass a request on (X-Fleet-Forwarded, 403)" \
  test "$(curl_api 2 "https://$a1:$API_PORT/fleet/v1/machines" "${admin[@]}" -H 'X-Fleet-Forwarded: 1')" = 403
OUT=$(body 2 "https://$a1:$API_PORT/metrics" "${admin[@]}")
check "refusals are counted in /metrics by role" has 'fleet_api_denied_total{role="discovery-reader"}' "$OUT"

# --- fleetctl over https ------------------------------------------------------------------
https_fleetctl() {  # from machine 2, to machine K's API
  local k=$1; shift
  on 2 "$FLEET_BIN/fleetctl" --endpoint "https://$("$RIGCMD" addr "$k"):$API_PORT" --ca-file "$CA/ca.pem" \
    --cert-file "$CA/admin.pem" --key-file "$CA/admin-key.pem" "$@"
}
OUT=$(https_fleetctl 1 list-machines --no-legend --full 2>&1)
check "fleetctl --endpoint https:// with the admin certificate lists both machines" \
  bash -c "has() { grep -qF -- \"\$1\" <<<\"\$2\"; }; has '$m1' '$OUT' && has '$m2' '$OUT'"
expect_fail "fleetctl without a client certificate is refused" "CERTIFICATE_REQUIRED" \
  on 2 "$FLEET_BIN/fleetctl" --request-timeout 5 --endpoint "https://$a1:$API_PORT" --ca-file "$CA/ca.pem" list-machines

# --- forwarding between fleetds over TLS -----------------------------------------------------
cd "$WORK"
printf '[Service]\nExecStart=/bin/sleep 100000\n[X-Fleet]\nMachineID=%s\n' "$m1" >pinned.service
check "start a unit on machine 1" fleetctl start pinned.service
OUT=$(https_fleetctl 2 status pinned.service 2>&1)
check "status asked of machine 2 is passed on to machine 1 over TLS" has "Loaded:" "$OUT"
check "destroy the unit" fleetctl destroy pinned.service

# --- quiet watches over TLS ------------------------------------------------------------------
# Machine 2 follows its assignments and the engine's lease through machine 1's keys API; at idle
# nothing changes there. The keys API's heartbeats keep those watches heard, so none is made
# anew over more than two TTLs (before, each was, every TTL: a new connection and a TLS
# handshake on machine 1 every few seconds).
silences() {  # machine 2's store-follow silences so far, all followers together
  body 2 "https://$a2:$API_PORT/metrics" "${admin[@]}" | awk '/^fleet_store_follow_silences_total/ {s += $2} END {print s + 0}'
}
OUT=$(body 2 "https://$a2:$API_PORT/metrics" "${admin[@]}")
check "machine 2 counts its agent's silent watches in /metrics" has 'fleet_store_follow_silences_total{follower="agent"}' "$OUT"
before=$(silences)
sleep 25  # the quiet spell is what is measured: 2.5 TTLs, each of which made the watches anew before
after=$(silences)
check "machine 2 made no quiet watch anew in 25 s of idle ($before, then $after)" test "$after" = "$before"

# --- a certificate for another machine ------------------------------------------------------
on 2 timeout 20 systemctl --user stop fleetd >/dev/null 2>&1
"$CLUSTER" start-fleetd 2 --tls-ca "$CA/ca.pem" --tls-cert "$WORK/m1/node.pem" --tls-key "$WORK/m1/node-key.pem" \
  --store "https://$a1:$KEYS_PORT" >/dev/null 2>&1
wait_until 20 "fleetd refuses to start with another machine's certificate, saying why" \
  grep -q "the TLS certificate is for machine $m1, but this is machine $m2" "$("$RIGCMD" dir 2)/fleetd.log"

finish tls
