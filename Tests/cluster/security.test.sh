#!/usr/bin/env bash
# The security stage (issue 13, "Done when"): every TCP listener of fleetd on 3 simulated
# machines with TLS on, tried without credentials, with another CA's certificate, with an
# expired and a not-yet-valid certificate, over plain HTTP, with the discovery-reader role
# writing, and with a machine certificate writing another machine's presence and states and
# (not leading the engine) a schedule, a placement or the lease: each is refused in the
# handshake or with 403 in etcd's or fleet's error shape, and a dump of every key and value in
# the store is the same before and after. Then the intended uses: fleetctl as admin over TLS, a
# reader watching /discovery over HTTPS, status and journal passed on between machines, and
# the engine placing units after a change of leader (schedules written by machines, checked
# against the lease). Last, the rotations docs/security.md describes: a machine's certificate,
# and the CA (a bundle of both, then new certificates, then the new CA alone).
#
# Listeners (checked to be the only TCP ones): the fleet API (4002, every machine; /metrics is
# served there, so behind the same TLS and roles), the keys API (4001, machine 1, which holds the
# store), DNS (53, UDP and TCP, every machine; open by design, bounded by RRL, see
# docs/security.md).
#
# Runs whatever dev-cluster's default: FLEET_TLS=0 keeps the cluster plain at first, and the
# test restarts every fleetd with certificates by hand (as tls.test.sh does).
set -uo pipefail
HERE=$(cd "$(dirname "$0")" && pwd)
ROOT=$(cd "$HERE/../.." && pwd)
source "$HERE/lib.sh"
export RIG=${RIG:-fleet-sectest}
export FLEET_BIN=${FLEET_BIN:-$(cd "$ROOT" && swift build --show-bin-path)}
export FLEET_TLS=0
LEASE_TTL=5
# Machine 1 holds the store and runs no engine, so the leader is machine 2 or 3 and a change
# of leader does not take the store away.
export FLEET_ARGS_1="--disable-engine"
export FLEET_ARGS_2="--engine-lease-ttl $LEASE_TTL" FLEET_ARGS_3="--engine-lease-ttl $LEASE_TTL"
RIGCMD=$ROOT/scripts/rig
CLUSTER=$ROOT/scripts/dev-cluster
KEYS_PORT=${FLEET_KEYS_PORT:-4001}
API_PORT=${FLEET_API_PORT:-4002}
WORK=$(mktemp -d /var/tmp/fleet-security-test.XXXXXX)  # shared by the machines
WATCH_PID=""
cleanup() {
  [ -n "$WATCH_PID" ] && kill "$WATCH_PID" 2>/dev/null
  "$CLUSTER" down >/dev/null 2>&1
  rm -rf "$WORK"
}
trap cleanup EXIT

fleetctl() { "$FLEET_BIN/fleetctl" "$@"; }
on() { local k=$1; shift; "$RIGCMD" exec "$k" "$@"; }
has() { grep -qF -- "$1" <<<"$2"; }

check "cluster of 3 machines comes up (plain)" "$CLUSTER" up 3
eval "$("$CLUSTER" env)"
a1=$("$RIGCMD" addr 1)
declare -A ID ADDR
for k in 1 2 3; do ID[$k]=$("$RIGCMD" machine-id "$k"); ADDR[$k]=$("$RIGCMD" addr "$k"); done

# --- identities: the cluster's, and the bad ones -------------------------------------------
CA=$WORK/ca
fleetctl cluster init --dir "$CA" >/dev/null
for k in 1 2 3; do
  fleetctl cluster issue --role machine --machine-id "${ID[$k]}" --ip "${ADDR[$k]}" --dir "$CA" --out "$WORK/m$k" >/dev/null
done
fleetctl cluster issue --role discovery-reader --dir "$CA" --out "$WORK/reader" >/dev/null
fleetctl cluster init --dir "$WORK/other" >/dev/null  # another cluster's CA and admin
check "an expired admin certificate can be issued (--not-before in the past)" \
  fleetctl cluster issue --role admin --not-before 2020-01-01 --validity-days 1 --dir "$CA" --out "$WORK/expired"
check "a not-yet-valid admin certificate can be issued (--not-before in the future)" \
  fleetctl cluster issue --role admin --not-before 2999-01-01 --validity-days 1 --dir "$CA" --out "$WORK/future"
check "openssl sees the expired certificate as expired" \
  bash -c "openssl verify -CAfile '$CA/ca.pem' '$WORK/expired.pem' 2>&1 | grep -q 'certificate has expired'"
expect_fail "--not-before must be a day" "YYYY-MM-DD" fleetctl cluster issue --role admin --not-before soon --dir "$CA" --out "$WORK/x"

# --- every fleetd with TLS ------------------------------------------------------------------
tls_args() { echo "--tls-ca $CA/ca.pem --tls-cert $WORK/m$1.pem --tls-key $WORK/m$1-key.pem"; }
for k in 3 2 1; do on "$k" timeout 20 systemctl --user stop fleetd >/dev/null 2>&1; done
# shellcheck disable=SC2046 # the arguments are meant to split
check "machine 1 restarts with TLS" "$CLUSTER" start-fleetd 1 $(tls_args 1)
for k in 2 3; do
  # shellcheck disable=SC2046
  check "machine $k restarts with TLS, its store at https://" "$CLUSTER" start-fleetd "$k" $(tls_args "$k") \
    --store "https://$a1:$KEYS_PORT"
done
machines() { [ "$(fleetctl list-machines --no-legend 2>/dev/null | wc -l)" -ge 3 ]; }
wait_until 60 "all 3 machines register again over TLS" machines
fleetctl cluster issue --role machine --machine-id "${ID[3]}" --ip "${ADDR[3]}" --not-before 2020-01-01 \
  --validity-days 1 --dir "$CA" --out "$WORK/m3-expired" >/dev/null
OUT=$(on 3 timeout 20 "$FLEET_BIN/fleetd" --tls-ca "$CA/ca.pem" --tls-cert "$WORK/m3-expired.pem" \
  --tls-key "$WORK/m3-expired-key.pem" --data-dir "$WORK/nodata" --api-socket "$WORK/x.sock" 2>&1)
check "a fleetd refuses to start with an expired certificate, saying so" has "expired at" "$OUT"

# Every TCP listener on every machine is one this test tries.
for k in 1 2 3; do
  ports=$(on "$k" ss -Hltn | awk '{print $4}' | sed 's/.*://' | sort -un | tr '\n' ' ')
  want="53 $API_PORT "; [ "$k" = 1 ] && want="53 $KEYS_PORT $API_PORT "
  check "machine $k listens on TCP ${want}and nothing else (found: $ports)" test "$ports" = "$want"
done

admin=(--cert "$CA/admin.pem" --key "$CA/admin-key.pem")
reader=(--cert "$WORK/reader.pem" --key "$WORK/reader-key.pem")
stranger=(--cert "$WORK/other/admin.pem" --key "$WORK/other/admin-key.pem")
expired=(--cert "$WORK/expired.pem" --key "$WORK/expired-key.pem")
future=(--cert "$WORK/future.pem" --key "$WORK/future-key.pem")
mcert() { echo "--cert $WORK/m$1.pem --key $WORK/m$1-key.pem"; }
status() {  # status K URL ARGS...: the HTTP status of a request from machine K
  local k=$1 url=$2; shift 2
  on "$k" curl -sS --max-time 10 -o /dev/null -w '%{http_code}' --cacert "$CA/ca.pem" "$@" "$url"
}
body() {  # body K URL ARGS...: the response body of a request from machine K
  local k=$1 url=$2; shift 2
  on "$k" curl -sS --max-time 10 --cacert "$CA/ca.pem" "$@" "$url"
}
KEYS=https://$a1:$KEYS_PORT/v2/keys
# Every key and value in the store (no indexes, TTLs or expirations: refreshes move those).
dump() {
  body 2 "$KEYS/?recursive=true" "${admin[@]}" | python3 -c '
import json, sys
def walk(n):
    if n.get("dir"):
        for c in n.get("nodes", []): yield from walk(c)
    else:
        yield "%s=%s" % (n["key"], n.get("value", ""))
print("\n".join(sorted(walk(json.load(sys.stdin)["node"]))))'
}
leader() {  # the number of the machine holding the engine lease
  local id k; id=$(body 2 "$KEYS/fleet/lease/engine-leader" "${admin[@]}" | python3 -c 'import json,sys; print(json.load(sys.stdin)["node"]["value"])' 2>/dev/null)
  for k in 1 2 3; do [ "${ID[$k]}" = "$id" ] && { echo "$k"; return 0; }; done; return 1
}
wait_until 30 "an engine leader is elected (machine 2 or 3)" leader
L=$(leader); N=$((5 - L))  # the leader, and the other engine machine (not leading)
echo "# engine leader: machine $L; the machine that does not lead: $N"
check "the admin writes a discovery record" test "$(status 2 "$KEYS/discovery/web/one" "${admin[@]}" -X PUT -d value=x)" = 201
before=$(dump)
check "the store dump holds the cluster (presence of all 3 machines)" \
  test "$(grep -c '^/fleet/machines/.*/object=' <<<"$before")" = 3

# --- refusals ---------------------------------------------------------------------------------
TLS_TARGETS=("https://$a1:$API_PORT/fleet/v1/machines" "https://${ADDR[2]}:$API_PORT/fleet/v1/machines"
             "https://$a1:$API_PORT/metrics" "$KEYS/")
for target in "${TLS_TARGETS[@]}"; do
  expect_fail "$target: no client certificate: refused in the handshake" "certificate required" status 3 "$target"
  expect_fail "$target: another CA's certificate: refused in the handshake" "unknown ca" status 3 "$target" "${stranger[@]}"
  expect_fail "$target: an expired certificate: refused in the handshake" "certificate expired" status 3 "$target" "${expired[@]}"
  expect_fail "$target: a not-yet-valid certificate: refused in the handshake" "alert" status 3 "$target" "${future[@]}"
  expect_fail "$target: plain HTTP: no answer" "Empty reply" on 3 curl -sS --max-time 5 -o /dev/null "http://${target#https://}"
done
expect_fail "a client trusting another CA does not talk to fleetd" "unable to get local issuer" \
  on 3 curl -sS --max-time 5 -o /dev/null --cacert "$WORK/other/ca.pem" "${admin[@]}" "$KEYS/"

etcd_shape() { has '"errorCode":110' "$1"; }
fleet_shape() { has '"error":{"code":403' "$1"; }
refused() {  # refused WHAT SHAPE K URL ARGS...: 403 with the given error shape
  local what=$1 shape=$2 k=$3 url=$4; shift 4
  local out code
  out=$(on "$k" curl -sS --max-time 10 --cacert "$CA/ca.pem" -w '\n%{http_code}' "$@" "$url")
  code=${out##*$'\n'}
  if [ "$code" = 403 ] && "$shape" "${out%$'\n'*}"; then ok "$what (403)"; else not_ok "$what (got $code: ${out%$'\n'*})"; fi
}
# The discovery reader.
refused "a reader may not write /discovery" etcd_shape 3 "$KEYS/discovery/web/two" "${reader[@]}" -X PUT -d value=y
refused "a reader may not delete /discovery records" etcd_shape 3 "$KEYS/discovery/web/one" "${reader[@]}" -X DELETE
refused "a reader may not read the registry" etcd_shape 3 "$KEYS/fleet/?recursive=true" "${reader[@]}"
refused "a reader may not create a unit" fleet_shape 3 "https://$a1:$API_PORT/fleet/v1/units/evil.service" "${reader[@]}" \
  -X PUT -H 'Content-Type: application/json' -d '{"desiredState":"launched","options":[{"section":"Service","name":"ExecStart","value":"/bin/true"}]}'
refused "a reader may not read metrics" fleet_shape 3 "https://$a1:$API_PORT/metrics" "${reader[@]}"
# A machine, as machine N (which does not lead the engine).
# shellcheck disable=SC2046
{
refused "machine $N may not write machine $L's presence" etcd_shape "$N" "$KEYS/fleet/machines/${ID[$L]}/object" $(mcert "$N") -X PUT -d value=rogue
refused "machine $N may not delete machine $L's presence" etcd_shape "$N" "$KEYS/fleet/machines/${ID[$L]}/object" $(mcert "$N") -X DELETE
refused "machine $N may not write machine $L's unit states" etcd_shape "$N" "$KEYS/fleet/states/x.service/${ID[$L]}" $(mcert "$N") -X PUT -d value=rogue
refused "machine $N may not write a schedule (for machine $L) without the lease" etcd_shape "$N" \
  "$KEYS/fleet/schedule/${ID[$L]}/rogue.service" $(mcert "$N") -X PUT -d 'value={"hash":"00","desiredState":"launched"}'
refused "machine $N may not write a schedule (for itself) without the lease" etcd_shape "$N" \
  "$KEYS/fleet/schedule/${ID[$N]}/rogue.service" $(mcert "$N") -X PUT -d 'value={"hash":"00","desiredState":"launched"}'
refused "machine $N may not place a unit without the lease" etcd_shape "$N" "$KEYS/fleet/job/rogue.service/target" $(mcert "$N") -X PUT -d "value=${ID[$N]}"
refused "machine $N may not take the lease machine $L holds" etcd_shape "$N" "$KEYS/fleet/lease/engine-leader" $(mcert "$N") -X PUT -d "value=${ID[$N]}"
refused "machine $N may not delete the lease machine $L holds" etcd_shape "$N" "$KEYS/fleet/lease/engine-leader" $(mcert "$N") -X DELETE
refused "machine $N may not delete the whole registry" etcd_shape "$N" "$KEYS/fleet?recursive=true" $(mcert "$N") -X DELETE
refused "machine $N may not create a unit through the fleet API" fleet_shape "$N" "https://$a1:$API_PORT/fleet/v1/units/evil.service" $(mcert "$N") \
  -X PUT -H 'Content-Type: application/json' -d '{"desiredState":"launched","options":[{"section":"Service","name":"ExecStart","value":"/bin/true"}]}'
refused "machine $N may not create units in a batch through the fleet API" fleet_shape "$N" "https://$a1:$API_PORT/fleet/v1/batch/units" $(mcert "$N") \
  -X POST -H 'Content-Type: application/json' -d '{"units":[{"name":"evil.service","desiredState":"launched","options":[{"section":"Service","name":"ExecStart","value":"/bin/true"}]}]}'
refused "a reader may not create units in a batch" fleet_shape 3 "https://$a1:$API_PORT/fleet/v1/batch/units" "${reader[@]}" \
  -X POST -H 'Content-Type: application/json' -d '{"units":[{"name":"evil.service","desiredState":"launched","options":[{"section":"Service","name":"ExecStart","value":"/bin/true"}]}]}'
}
# A batch of writes (POST /v2/batch) is judged write by write: one refused refuses it all.
batch_of() {  # batch_of KEY...: a batch putting value=rogue at each key
  local writes="" key
  for key in "$@"; do writes+="${writes:+,}{\"method\":\"PUT\",\"key\":\"$key\",\"form\":\"value=rogue\"}"; done
  printf '{"writes":[%s]}' "$writes"
}
BATCH=https://$a1:$KEYS_PORT/v2/batch
# shellcheck disable=SC2046
{
refused "machine $N may not write machine $L's unit states inside a batch of its own" etcd_shape "$N" "$BATCH" $(mcert "$N") \
  -X POST -H 'Content-Type: application/json' -d "$(batch_of "/fleet/states/x.service/${ID[$N]}" "/fleet/states/x.service/${ID[$L]}")"
refused "machine $N may not place a unit inside a batch without the lease" etcd_shape "$N" "$BATCH" $(mcert "$N") \
  -X POST -H 'Content-Type: application/json' -d "$(batch_of "/discovery/web/batch" "/fleet/job/rogue.service/target")"
refused "a reader may not send a batch of writes" etcd_shape 3 "$BATCH" "${reader[@]}" \
  -X POST -H 'Content-Type: application/json' -d "$(batch_of "/discovery/web/batch")"
}
refused "the admin may not pass a request on (X-Fleet-Forwarded)" fleet_shape 3 "https://$a1:$API_PORT/fleet/v1/machines" "${admin[@]}" -H 'X-Fleet-Forwarded: 1'
# The same rules through another machine's API (its keys API rides on it, over machine 1's store).
refused "a reader may not write /discovery through machine 2's API" etcd_shape 3 "https://${ADDR[2]}:$API_PORT/v2/keys/discovery/web/two" "${reader[@]}" -X PUT -d value=y
after=$(dump)
check "nothing changed in the store" test "$before" = "$after"
if [ "$before" != "$after" ]; then diff <(echo "$before") <(echo "$after") | sed 's/^/# /'; fi
# The engine of the machine that does not lead keeps trying the lease (create-only): the store
# refuses that itself, and only the test's own two lease writes above were refused by role.
lease_refusals=$(grep -c 'http.path=/v2/keys/fleet/lease/engine-leader' "$("$RIGCMD" dir 1)/fleetd.log")
check "only the test's 2 lease writes were refused, none of the engines' (found $lease_refusals)" test "$lease_refusals" = 2
OUT=$(body 2 "https://$a1:$API_PORT/metrics" "${admin[@]}")
check "refusals of machines are counted in /metrics" has 'fleet_api_denied_total{role="machine"}' "$OUT"
check "refusals of readers are counted in /metrics" has 'fleet_api_denied_total{role="discovery-reader"}' "$OUT"

# DNS is open by design: an answer for anyone who asks, never more than the UDP cap.
check "DNS answers without credentials (it is meant to)" on 3 dig +short +time=2 +tries=1 @"$a1" web.fleet
size=$(on 3 dig +time=2 +tries=1 +bufsize=65535 @"$a1" web.fleet ANY | sed -n 's/.*MSG SIZE  rcvd: \([0-9]*\).*/\1/p')
check "DNS ANY is minimal ($size bytes)" test -n "$size" -a "${size:-99999}" -le 512

# --- intended uses -----------------------------------------------------------------------------
https_fleetctl() {  # https_fleetctl K ARGS...: fleetctl as admin from machine 3, to machine K's API
  local k=$1; shift
  on 3 "$FLEET_BIN/fleetctl" --request-timeout 10 --endpoint "https://${ADDR[$k]}:$API_PORT" --ca-file "$CA/ca.pem" \
    --cert-file "$CA/admin.pem" --key-file "$CA/admin-key.pem" "$@"
}
check "fleetctl as admin over TLS lists the 3 machines" \
  test "$(https_fleetctl 2 list-machines --no-legend 2>/dev/null | wc -l)" = 3
# A reader's long poll on /discovery, answered by the admin's next write.
index=$(body 3 "$KEYS/discovery" "${reader[@]}" -o /dev/null -D - | sed -n 's/^X-Etcd-Index: \([0-9]*\).*/\1/ip' | tr -d '\r')
on 3 curl -sS --max-time 30 --cacert "$CA/ca.pem" "${reader[@]}" \
  "$KEYS/discovery?wait=true&recursive=true&waitIndex=$((index + 1))" >"$WORK/watch.out" 2>&1 &
WATCH_PID=$!
status 2 "$KEYS/discovery/web/two" "${admin[@]}" -X PUT -d value=watched >/dev/null
wait_until 20 "a reader watching /discovery over HTTPS sees the new record" grep -q '"value":"watched"' "$WORK/watch.out"
WATCH_PID=""

cd "$WORK"
printf '[Service]\nExecStart=/bin/sh -c "echo security-stage-journal; exec sleep 100000"\n[X-Fleet]\nMachineID=%s\n' "${ID[$L]}" >pinned.service
check "start a unit on machine $L (over TLS)" https_fleetctl 1 start pinned.service
wait_until 30 "it runs on machine $L (the engine leader wrote its schedule)" \
  bash -c "'$FLEET_BIN/fleetctl' list-units --no-legend --fields unit,active | grep -q 'pinned.service.*active'"
OUT=$(https_fleetctl "$N" status pinned.service 2>&1)
check "status asked of machine $N is passed on to machine $L" has "Loaded:" "$OUT"
OUT=$(https_fleetctl "$N" journal --lines 20 pinned.service 2>&1)
check "journal asked of machine $N is passed on to machine $L" has "security-stage-journal" "$OUT"

# A machine's batch of writes it may make goes through; the writes that pile up in a start go
# to the store's machine in batches, none refused for its role.
# shellcheck disable=SC2046
OUT=$(body "$N" "$BATCH" $(mcert "$N") -X POST -H 'Content-Type: application/json' -d "$(batch_of /batch-probe/a /batch-probe/b)")
check "machine $N's own batch of two writes is applied (201 each)" test "$(grep -o '"status":201' <<<"$OUT" | wc -l)" = 2
denied() { body 2 "https://$a1:$API_PORT/metrics" "${admin[@]}" | awk '$1 == "fleet_api_denied_total{role=\"machine\"}" { print $2 }'; }
denied_before=$(denied)
printf '[Service]\nExecStart=/bin/sleep 100000\n' >batch@.service
units=$(for i in $(seq 1 30); do printf 'batch@%s.service ' "$i"; done)
# shellcheck disable=SC2086
if https_fleetctl 1 start --no-block $units >"$WORK/start.out" 2>&1; then ok "start 30 units over TLS"
else not_ok "start 30 units over TLS: $(tail -3 "$WORK/start.out")"; fi
wait_until 60 "the 30 units are active" \
  bash -c "[ \$('$FLEET_BIN/fleetctl' list-units --no-legend --fields unit,active | grep -c '^batch@.*active') = 30 ]"
batched=0
for k in 2 3; do
  n=$(body 2 "https://${ADDR[$k]}:$API_PORT/metrics" "${admin[@]}" | awk '$1 == "fleet_store_batched_writes_total" { print int($2) }')
  batched=$((batched + ${n:-0}))
done
check "machines 2 and 3 sent piled-up writes in batches ($batched writes)" test "$batched" -gt 0
check "no machine's request was refused in the start" test "$(denied)" = "$denied_before"
# shellcheck disable=SC2086
https_fleetctl 1 destroy $units >/dev/null 2>&1

# A change of leader: machine L stops (and gives up its lease); N takes over and must place.
on "$L" timeout 20 systemctl --user stop fleetd >/dev/null 2>&1
leads() { [ "$(leader)" = "$1" ]; }
wait_until $((LEASE_TTL * 3)) "machine $N takes the engine lease" leads "$N"
printf '[Service]\nExecStart=/bin/sleep 100000\n' >after.service
check "start a unit after the change of leader" https_fleetctl "$N" start after.service
wait_until 30 "the new leader (machine $N) placed it and it runs" \
  bash -c "'$FLEET_BIN/fleetctl' list-units --no-legend --fields unit,active | grep -q 'after.service.*active'"
refused "machine $L (no longer leading) may not write a schedule" etcd_shape "$N" \
  "$KEYS/fleet/schedule/${ID[$N]}/rogue.service" --cert "$WORK/m$L.pem" --key "$WORK/m$L-key.pem" -X PUT -d 'value={}'
check "destroy the units" fleetctl destroy pinned.service after.service

# --- rotation (the steps docs/security.md gives), one machine at a time --------------------
# restart_tls K CA CERT: machine K's fleetd again with the CA bundle CA and its certificate CERT.
restart_tls() {
  local k=$1 ca=$2 cert=$3 store=()
  [ "$k" = 1 ] || store=(--store "https://$a1:$KEYS_PORT")
  on "$k" timeout 20 systemctl --user stop fleetd >/dev/null 2>&1
  "$CLUSTER" start-fleetd "$k" --tls-ca "$ca" --tls-cert "$cert.pem" --tls-key "$cert-key.pem" "${store[@]}"
}
serves() {  # serves K CA ADMIN: machine K's API answers ADMIN (a prefix) over TLS, registered
  on 3 "$FLEET_BIN/fleetctl" --request-timeout 5 --endpoint "https://${ADDR[$1]}:$API_PORT" --ca-file "$2" \
    --cert-file "$3.pem" --key-file "$3-key.pem" list-machines --no-legend >/dev/null 2>&1
}
# A machine's certificate: issue a new one, restart its fleetd with it.
fleetctl cluster issue --role machine --machine-id "${ID[3]}" --ip "${ADDR[3]}" --dir "$CA" --out "$WORK/m3-new" >/dev/null
check "machine 3 restarts with a new certificate" restart_tls 3 "$CA/ca.pem" "$WORK/m3-new"
wait_until 30 "machine 3 serves and is registered with its new certificate" serves 3 "$CA/ca.pem" "$CA/admin"
# The CA: trust old and new, move every machine to a certificate of the new CA, then drop the old.
NEW=$WORK/newca
fleetctl cluster init --dir "$NEW" >/dev/null
cat "$CA/ca.pem" "$NEW/ca.pem" >"$WORK/both.pem"
for k in 1 2 3; do
  fleetctl cluster issue --role machine --machine-id "${ID[$k]}" --ip "${ADDR[$k]}" --dir "$NEW" --out "$WORK/n$k" >/dev/null
done
cert_of() { if [ "$1" = 3 ]; then echo "$WORK/m3-new"; else echo "$WORK/m$1"; fi; }
for k in 1 2 3; do
  restart_tls "$k" "$WORK/both.pem" "$(cert_of "$k")" >/dev/null
  wait_until 30 "CA rotation, step 1: machine $k trusts both CAs" serves "$k" "$WORK/both.pem" "$CA/admin"
done
for k in 1 2 3; do
  restart_tls "$k" "$WORK/both.pem" "$WORK/n$k" >/dev/null
  wait_until 30 "CA rotation, step 2: machine $k serves a certificate of the new CA" serves "$k" "$NEW/ca.pem" "$NEW/admin"
done
for k in 1 2 3; do
  restart_tls "$k" "$NEW/ca.pem" "$WORK/n$k" >/dev/null
  wait_until 30 "CA rotation, step 3: machine $k trusts only the new CA" serves "$k" "$NEW/ca.pem" "$NEW/admin"
done
wait_until 30 "all 3 machines are registered after the rotation" machines
expect_fail "the old CA's admin certificate is refused after the rotation" "unknown ca" \
  on 3 curl -sS --max-time 5 -o /dev/null --cacert "$NEW/ca.pem" "${admin[@]}" "https://$a1:$API_PORT/fleet/v1/machines"

finish security
