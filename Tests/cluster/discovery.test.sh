#!/usr/bin/env bash
# Discovery on 3 simulated machines with real systemd: running units are registered under
# /discovery with their machine's address and [X-Discovery] ports, found by fleetctl, by an
# HTTP watch and by dig against fleet-dns; stopped units leave at once, a cut-off machine's
# records expire with the TTL, and a failing health check takes an instance out until it recovers.
set -uo pipefail
HERE=$(cd "$(dirname "$0")" && pwd)
ROOT=$(cd "$HERE/../.." && pwd)
source "$HERE/lib.sh"
export RIG=${RIG:-fleetdisc}
export FLEET_BIN=${FLEET_BIN:-$(cd "$ROOT" && swift build --show-bin-path)}
export FLEET_AGENT_TTL=5
RIGCMD=$ROOT/scripts/rig
CLUSTER=$ROOT/scripts/dev-cluster
WORK=$(mktemp -d)
chmod 755 "$WORK"
trap '"$CLUSTER" down >/dev/null 2>&1; rm -rf "$WORK"' EXIT
fleetctl() { "$FLEET_BIN/fleetctl" "$@"; }

check "cluster of 3 machines comes up" "$CLUSTER" up 3
eval "$("$CLUSTER" env)"
STORE=$FLEET_KEYS_URL
# An app that only watches /discovery holds a discovery-reader certificate (none when plain).
READER_TLS=${FLEET_TLS_DIR:+--cacert $FLEET_TLS_DIR/ca.pem --cert $FLEET_TLS_DIR/reader.pem --key $FLEET_TLS_DIR/reader-key.pem}
cd "$WORK"
cat > web@.service <<'UNIT'
[Service]
ExecStart=/bin/sleep infinity

[X-Discovery]
Port=8080
Tags=frontend
TXT=version=1
UNIT
# A long poll on the HTTP keys API, from machine 2, by an app with the discovery-reader role,
# from the store's index before anything registers (waitIndex, as etcd's clients do): it wakes
# with the first record even when the start is faster than curl's connection and request.
# shellcheck disable=SC2086 # READER_TLS is several arguments
IDX=$("$RIGCMD" exec 2 curl $READER_TLS -s -D - -o /dev/null "$STORE/v2/keys/discovery/web" | tr -d '\r' \
  | awk 'tolower($1) == "x-etcd-index:" {print $2}')
check "the store's index is read before anything registers (${IDX:-none})" test -n "$IDX"
# shellcheck disable=SC2086
"$RIGCMD" exec 2 curl $READER_TLS -s -m 60 "$STORE/v2/keys/discovery/web?wait=true&recursive=true&waitIndex=$((${IDX:-0} + 1))" > "$WORK/watch.out" &
WATCH=$!
check "start web@1..3" fleetctl start web@1 web@2 web@3
wait_until 10 "fleetctl discover web lists 3 healthy instances" \
  bash -c "[ \$('$FLEET_BIN/fleetctl' discover web | grep -c 'healthy\$') -eq 3 ]"
addrs=$(fleetctl discover web | awk 'NR>1 {print $2}' | sort | tr '\n' ' ')
check "the instances carry their machines' addresses ($addrs)" test "$addrs" = "10.77.0.11 10.77.0.12 10.77.0.13 "
check "the port from [X-Discovery] is in the record" bash -c "'$FLEET_BIN/fleetctl' discover web | grep -q '8080/tcp'"
wait_until 10 "the HTTP long poll woke with a discovery record" grep -q '"key":"/discovery/web/' "$WORK/watch.out"
kill $WATCH 2>/dev/null
check "list-services shows web with 3 instances" bash -c "'$FLEET_BIN/fleetctl' list-services --no-legend | grep -Eq '^web\s+3\s'"

# DNS: every machine answers for zone fleet. on its own address (dig runs on machine 2).
dig2() { "$RIGCMD" exec 2 dig +time=2 +tries=1 "$@"; }
D1=$("$RIGCMD" addr 1)
check "dig web.fleet A lists the three machine addresses" \
  test "$(dig2 @"$D1" web.fleet A +short | sort | tr '\n' ' ')" = "10.77.0.11 10.77.0.12 10.77.0.13 "
check "dig _web._tcp.fleet SRV gives port 8080 for three instances" \
  test "$(dig2 @"$D1" _web._tcp.fleet SRV +short | awk '$3==8080' | wc -l)" -eq 3
target=$(dig2 @"$D1" _web._tcp.fleet SRV +short | awk 'NR==1 {print $4}')
check "SRV targets resolve ($target)" bash -c "'$RIGCMD' exec 2 dig +short @$D1 $target A | grep -q '^10\.77\.0\.'"
check "SRV answers carry the targets' addresses in the additional section" \
  bash -c "'$RIGCMD' exec 2 dig @$D1 _web._tcp.fleet SRV | grep -A5 'ADDITIONAL SECTION' | grep -q 'machine.fleet.*IN.*A.*10.77.0'"
check "unknown names are NXDOMAIN" bash -c "'$RIGCMD' exec 2 dig @$D1 nope.fleet A | grep -q 'status: NXDOMAIN'"
check "names outside the zone are REFUSED" bash -c "'$RIGCMD' exec 2 dig @$D1 example.com A | grep -q 'status: REFUSED'"
check "machine 3 answers the same" test "$(dig2 @"$("$RIGCMD" addr 3)" web.fleet A +short | wc -l)" -eq 3

m2=$(fleetctl list-unit-files --full --no-legend --fields unit,target | awk '$1=="web@2.service" {print $2}' | cut -d/ -f2)
check "fleetctl stop web@2 succeeds" fleetctl stop web@2.service
wait_until 5 "web@2 ($m2) leaves discovery at once" bash -c "! '$FLEET_BIN/fleetctl' discover web | grep -q '^2\s'"
wait_until 5 "web@2's address ($m2) leaves the DNS answers" \
  bash -c "! '$RIGCMD' exec 2 dig +short @$D1 web.fleet A | grep -qx '$m2'"

# Truncation: a service with 40 instances does not fit 512 bytes of UDP.
for i in $(seq 1 40); do
  mcurl 1 -sf -XPUT "$STORE/v2/keys/discovery/big/i$i" --data-urlencode \
    "value={\"service\":\"big\",\"instance\":\"i$i\",\"machineID\":\"m$i\",\"machineName\":\"m$i\",\"address\":\"10.88.0.$i\",\"ports\":[{\"port\":9000,\"proto\":\"tcp\"}],\"tags\":[],\"metadata\":{},\"healthy\":true,\"answerTTL\":5,\"since\":\"2026-01-01T00:00:00Z\"}" >/dev/null
done
wait_until 5 "the 40 announced instances are in DNS (TCP)" \
  bash -c "[ \$('$RIGCMD' exec 2 dig +tcp +short @$D1 big.fleet A | wc -l) -eq 40 ]"
check "over UDP without EDNS the answer is truncated (TC set)" \
  bash -c "'$RIGCMD' exec 2 dig +noedns +notcp +ignore @$D1 big.fleet A | grep -q 'flags:.* tc'"
check "over TCP the full answer comes back" test "$(dig2 +tcp +short @"$D1" big.fleet A | wc -l)" -eq 40
check "an EDNS0 buffer of 4096 is honoured: all 40 over UDP, no TC" \
  bash -c "out=\$('$RIGCMD' exec 2 dig +bufsize=4096 +notcp +ignore @$D1 big.fleet A); ! grep -q 'flags:.* tc' <<<\"\$out\" && [ \$(grep -c '^big.fleet.*IN.*A' <<<\"\$out\") -eq 40 ]"

# Abuse limits (docs/security.md): a UDP reply is at most 1232 bytes whatever buffer the asker
# offers, ANY gets one HINFO, a flood from one /24 is rate-limited (fleetd's default 100/s),
# and --upstream relays only for allowed networks.
out=$(dig2 +bufsize=4096 +notcp +ignore @"$D1" _big._tcp.fleet SRV)
size=$(sed -n 's/.*MSG SIZE  rcvd: \([0-9]*\).*/\1/p' <<<"$out")
check "a 4096-byte EDNS buffer still gets at most 1232 bytes over UDP (${size:-none}), with TC" \
  bash -c "[ '${size:-99999}' -le 1232 ] && grep -q 'flags:.* tc' <<<\"\$1\"" _ "$out"
check "ANY is answered with one HINFO record (RFC 8482)" \
  test "$(dig2 +short @"$D1" big.fleet ANY)" = '"RFC8482" ""'
cat > "$WORK/flood.py" <<'PY'
# 500 queries for web.fleet from one socket as fast as they go; prints "answered tc total".
import socket, struct, sys
s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
s.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 1 << 20)
s.settimeout(1.0)
for i in range(500):
    s.sendto(struct.pack(">HHHHHH", i, 0x0100, 1, 0, 0, 0) + b"\x03web\x05fleet\x00" + struct.pack(">HH", 1, 1),
             (sys.argv[1], 53))
answered = tc = total = 0
try:
    while True:
        data = s.recv(4096)
        total += 1
        flags, ancount = struct.unpack(">H", data[2:4])[0], struct.unpack(">H", data[6:8])[0]
        if flags & 0x0200: tc += 1
        elif ancount: answered += 1
except socket.timeout:
    pass
print(answered, tc, total)
PY
read -r answered tc total < <("$RIGCMD" exec 2 python3 "$WORK/flood.py" "$D1")
check "a flood of 500 queries from one /24: about the burst answered ($answered), every 2nd limited one TC ($tc), the rest dropped ($total replies)" \
  bash -c "[ ${answered:-0} -ge 50 ] && [ ${answered:-999} -le 200 ] && [ ${tc:-0} -ge 100 ] && [ ${total:-500} -lt 450 ]"
wait_until 5 "after the flood the prefix is answered again" \
  bash -c "[ \$('$RIGCMD' exec 2 dig +time=1 +tries=1 +short @$D1 web.fleet A | wc -l) -ge 1 ]"
printf '[]' > "$WORK/none.json"
"$RIGCMD" exec 1 "$FLEET_BIN/fleet-dns" --records "$WORK/none.json" --zone other. --host "$D1" --port 5300 \
  --upstream "$D1:53" --forward-allow "$("$RIGCMD" addr 3)/32" --log-level warning >"$WORK/fleet-dns.log" 2>&1 &
disown $!   # ends with the rig (scripts/rig down stops everything on its machines)
wait_until 10 "fleet-dns --upstream relays for an allowed network (machine 3)" \
  bash -c "'$RIGCMD' exec 3 dig +time=1 +tries=1 +short -p 5300 @$D1 web.fleet A | grep -q '^10\.77\.0\.'"
check "... and answers REFUSED to a network not allowed (machine 2): never an open resolver" \
  bash -c "'$RIGCMD' exec 2 dig +time=2 +tries=1 -p 5300 @$D1 web.fleet A | grep -q 'status: REFUSED'"
# fleet-dns standalone on machine 2, following machine 1's keys API with the discovery-reader
# certificate: it may read only /discovery, index included.
D2=$("$RIGCMD" addr 2)
# shellcheck disable=SC2086 # the TLS arguments are several
"$RIGCMD" exec 2 "$FLEET_BIN/fleet-dns" --store "$STORE" ${FLEET_TLS_DIR:+--ca-file $FLEET_TLS_DIR/ca.pem \
  --cert-file $FLEET_TLS_DIR/reader.pem --key-file $FLEET_TLS_DIR/reader-key.pem} --host "$D2" --port 5301 \
  --log-level warning >"$WORK/fleet-dns-store.log" 2>&1 &
disown $!
wait_until 10 "fleet-dns following the keys API ($FLEET_SCHEME, discovery-reader) answers web.fleet" \
  bash -c "[ \$('$RIGCMD' exec 3 dig +time=1 +tries=1 +short -p 5301 @$D2 web.fleet A | wc -l) -ge 2 ]"

# A cut-off machine's records expire with the TTL (5 s here). Cut a machine other than the
# store's (m1): web@1 or web@3, whichever runs elsewhere.
machine_number() { local k; for k in 1 2 3; do [ "$("$RIGCMD" machine-id $k)" = "$1" ] && echo $k; done; }
cutk= inst=
for i in 1 3; do
  id=$(fleetctl list-unit-files --full --no-legend --fields unit,target | awk -v u="web@$i.service" '$1==u {print $2}' | cut -d/ -f1)
  k=$(machine_number "$id")
  if [ -n "$k" ] && [ "$k" != 1 ]; then cutk=$k inst=$i; break; fi
done
check "an instance runs off the store's machine (web@$inst on m$cutk)" test -n "$cutk"
if [ -n "$cutk" ]; then
  "$RIGCMD" cut "$cutk"
  cut_addr=$("$RIGCMD" addr "$cutk")
  # The record either expires or, once the engine has moved web@$inst, names its new machine.
  wait_until 15 "machine $cutk cut off: web@$inst stops pointing at $cut_addr within the TTL" \
    bash -c "! mcurl 1 -sf '$STORE/v2/keys/discovery/web/$inst' | grep -q '$cut_addr'"
  "$RIGCMD" mend "$cutk"
fi

# Health: an HTTP check that fails until a file exists. The server is socat answering 200 or
# 503 by that file (python's http.server would first wait out reverse DNS, unreachable here).
mkdir -p "$WORK/site"
cat > "$WORK/health.sh" <<'SH'
#!/bin/sh
if [ -e "$(dirname "$0")/site/healthz" ]; then printf 'HTTP/1.0 200 OK\r\n\r\nok'; else printf 'HTTP/1.0 503 Unavailable\r\n\r\n'; fi
SH
chmod +x "$WORK/health.sh"
cat > api.service <<UNIT
[Service]
ExecStart=/usr/bin/socat TCP-LISTEN:8081,fork,reuseaddr EXEC:$WORK/health.sh

[X-Discovery]
Port=8081
Check=http://127.0.0.1:8081/healthz
CheckInterval=0.5
UnhealthyAfter=1
UNIT
check "start api.service with an HTTP health check" fleetctl start api.service
wait_until 15 "api is registered but unhealthy while /healthz is missing" \
  bash -c "'$FLEET_BIN/fleetctl' discover api | grep -q 'unhealthy\$'"
check "an unhealthy instance is not in DNS answers" bash -c "! '$RIGCMD' exec 2 dig +short @$D1 api.fleet A | grep -q ."
touch "$WORK/site/healthz"
wait_until 15 "api becomes healthy once /healthz answers" bash -c "'$FLEET_BIN/fleetctl' discover api | awk 'NR>1 && \$NF==\"healthy\" {f=1} END {exit !f}'"
wait_until 5 "the healthy instance answers in DNS" bash -c "'$RIGCMD' exec 2 dig +short @$D1 api.fleet A | grep -q '^10\.77\.0\.'"
rm "$WORK/site/healthz"
wait_until 15 "api drops out again when the check fails" bash -c "'$FLEET_BIN/fleetctl' discover api | grep -q 'unhealthy\$'"
wait_until 5 "... and leaves the DNS answers" bash -c "! '$RIGCMD' exec 2 dig +short @$D1 api.fleet A | grep -q ."

# Sidekick announcements: registered while fleetctl announce runs, gone when it stops; and
# `discover --watch` into a file (block-buffered) shows each change at once.
"$FLEET_BIN/fleetctl" discover cache --watch >"$WORK/watch.out" 2>/dev/null &
WATCHER=$!
wait_until 10 "fleetctl discover --watch shows the (empty) table first" grep -q '^INSTANCE' "$WORK/watch.out"
"$FLEET_BIN/fleetctl" announce cache --port 11211 --address 10.77.0.99 --ttl 5 2>/dev/null &
ANNOUNCE=$!
wait_until 10 "fleetctl announce registers cache" bash -c "'$FLEET_BIN/fleetctl' discover cache | grep -q 10.77.0.99"
wait_until 5 "fleetctl discover --watch writes the change to a file at once" grep -q '^set .* 10\.77\.0\.99 ' "$WORK/watch.out"
kill -INT $ANNOUNCE
wait_until 10 "fleetctl announce exits on SIGINT" bash -c "! ps -o stat= -p $ANNOUNCE | grep -qv Z"
kill -9 $ANNOUNCE 2>/dev/null; wait $ANNOUNCE 2>/dev/null
wait_until 5 "stopping announce withdraws it at once" bash -c "! '$FLEET_BIN/fleetctl' discover cache | grep -q 10.77.0.99"
wait_until 5 "... and discover --watch writes the removal" grep -qE '^(delete|expire) ' "$WORK/watch.out"
kill $WATCHER 2>/dev/null; wait $WATCHER 2>/dev/null

"$CLUSTER" down >/dev/null 2>&1
trap 'rm -rf "$WORK"' EXIT
check "teardown leaves nothing behind" "$RIGCMD" leftovers
finish cluster-discovery
