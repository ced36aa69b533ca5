#!/usr/bin/env bash
# The mDNS bridge on 3 simulated machines, each with its own system D-Bus and avahi-daemon
# (transient user units, as on a real host they would be system services). Machine 1 runs
# fleet-mdns-bridge fed from a directory of discovery records; machine 2 browses with avahi-browse.
# Checks: a healthy record of machine 1 is announced with its address, port, TXT and tag subtype;
# unhealthy and other machines' records are not; TXT changes in place; unhealthy or removed
# records are withdrawn; a restarted avahi-daemon gets everything back; a bridge started before
# any bus or daemon waits and then publishes; the same name from two machines ends up as two
# names; stopping a bridge withdraws; and no mDNS packet reaches the real network.
#
# Needs avahi-daemon, avahi-utils and dbus (apt-get install -y --no-install-recommends
# avahi-daemon avahi-utils dbus); installs nothing. tcpdump is used if present.
# Environment: RIG (default mdnst), RIGCMD (default scripts/rig), MDNS_BRIDGE (the binary),
# MDNS_LOGS (a directory to keep the machines' units.log in).
set -uo pipefail
HERE=$(cd "$(dirname "$0")" && pwd)
ROOT=$(cd "$HERE/../.." && pwd)
source "$HERE/lib.sh"
export RIG=${RIG:-mdnst}
RIGCMD=${RIGCMD:-$ROOT/scripts/rig}
BRIDGE=${MDNS_BRIDGE:-$(cd "$ROOT" && swift build --show-bin-path 2>/dev/null)/fleet-mdns-bridge}
PATH=$PATH:/usr/sbin:/sbin

# ---- preflight: fail clearly rather than half-run ------------------------------------------
missing=""
for tool in avahi-daemon avahi-browse dbus-daemon systemd-run; do
  command -v "$tool" >/dev/null || missing="$missing $tool"
done
if [ -n "$missing" ]; then
  not_ok "missing:$missing (apt-get install -y --no-install-recommends avahi-daemon avahi-utils dbus)"
  finish mdns; exit 1
fi
if [ ! -x "$BRIDGE" ]; then
  not_ok "no bridge binary at $BRIDGE (swift build, or set MDNS_BRIDGE)"
  finish mdns; exit 1
fi

WORK=$(mktemp -d)
chmod 755 "$WORK"
TCPDUMP=""
cleanup() {
  [ -n "$TCPDUMP" ] && kill "$TCPDUMP" 2>/dev/null
  if [ -n "${MDNS_LOGS:-}" ]; then  # keep the machines' unit logs for a look afterwards
    mkdir -p "$MDNS_LOGS"
    for k in 1 2 3; do cp "$("$RIGCMD" dir $k 2>/dev/null)/units.log" "$MDNS_LOGS/m$k.units.log" 2>/dev/null; done
  fi
  "$RIGCMD" down >/dev/null 2>&1
  rm -rf "$WORK"
}
trap cleanup EXIT

on() { "$RIGCMD" exec "$@"; }
log_of() { cat "$("$RIGCMD" dir "$1")/units.log" 2>/dev/null; }

if ! "$RIGCMD" up 3 >/dev/null; then not_ok "rig of 3 machines comes up"; finish mdns; exit 1; fi
ok "rig of 3 machines comes up"
# Never start avahi where it could multicast on the real network: the machines must have
# network namespaces of their own.
rootns=$(readlink /proc/self/ns/net)
for k in 1 2 3; do
  if [ "$(on $k readlink /proc/self/ns/net)" = "$rootns" ]; then
    not_ok "machine $k is in the root network namespace; refusing to start avahi"; finish mdns; exit 1
  fi
done
M1=$("$RIGCMD" machine-id 1) M2=$("$RIGCMD" machine-id 2) M3=$("$RIGCMD" machine-id 3)
A1=$("$RIGCMD" addr 1) A3=$("$RIGCMD" addr 3)

# Read-only capture on the real uplink for the whole run (-p: no promiscuous mode).
UPLINK=$(ip route show default 2>/dev/null | awk '{for (i = 1; i < NF; i++) if ($i == "dev") {print $(i+1); exit}}')
if command -v tcpdump >/dev/null && [ -n "$UPLINK" ]; then
  tcpdump -p -n -i "$UPLINK" 'udp port 5353' >"$WORK/uplink.txt" 2>&1 &
  TCPDUMP=$!
fi

sysbus_up() {
  on "$1" systemd-run --user --quiet --unit=sysbus dbus-daemon --system --nofork --nopidfile &&
    on "$1" sh -c 'for i in $(seq 50); do [ -S /run/dbus/system_bus_socket ] && exit 0; sleep 0.1; done; exit 1'
}
avahi_up() {
  on "$1" systemctl --user reset-failed avahi.service 2>/dev/null
  on "$1" systemd-run --user --quiet --unit=avahi avahi-daemon --no-drop-root --no-chroot --no-rlimits &&
    on "$1" sh -c 'for i in $(seq 50); do avahi-daemon --check 2>/dev/null && exit 0; sleep 0.1; done; exit 1'
}
daemons_up() { sysbus_up "$1" && avahi_up "$1"; }
log_has() { log_of "$1" | grep -q -- "$2"; }
bridge_up() {  # K RECORDS-DIR MACHINE-ID
  on "$1" systemd-run --user --quiet --unit=mdns-bridge "$BRIDGE" --records "$2" --machine-id "$3"
}

# write_record DIR FILE SERVICE INSTANCE MACHINE PORT HEALTHY METADATA-JSON
write_record() {
  cat >"$1/.tmp" <<EOF
{"service":"$3","instance":"$4","unit":"$3@$4.service","machineID":"$5","machineName":"${5:0:8}",
 "address":"10.77.0.1x","ports":[{"port":$6,"proto":"tcp"}],"tags":["frontend"],"metadata":$8,
 "healthy":$7,"answerTTL":5,"since":"2026-01-01T00:00:00Z"}
EOF
  mv "$1/.tmp" "$1/$2.json"   # the bridge never sees a half-written file
}

# Browse from machine 2 (its own avahi-daemon and cache), IPv4 only, resolved, parsable:
# =;eth0;IPv4;NAME;TYPE;local;HOST;ADDRESS;PORT;"txt" "txt"...
browse() { on 2 avahi-browse -rpt "${1:-_web._tcp}" 2>/dev/null | grep '^=;[^;]*;IPv4;' | sort -u; }
# seen NAME ADDRESS [PATTERN]: machine 2 resolves NAME (_web._tcp) to ADDRESS:8080, the TXT matching PATTERN
seen() { browse | awk -F';' -v n="$1" -v a="$2" '$4 == n && $8 == a && $9 == "8080"' | grep -q -- "${3:-}"; }
gone() { ! browse | awk -F';' -v n="$1" -v a="$2" '$4 == n && $8 == a' | grep -q .; }

R1=$WORK/m1 R3=$WORK/m3
mkdir -p "$R1" "$R3"
chmod 755 "$R1" "$R3"

# Machine 3's bridge starts before its machine has a system bus or avahi-daemon: it must say
# so, stay up and publish once they come (checked further down).
write_record "$R3" web-1 web 1 "$M3" 8080 true '{"version":"3"}'
check "bridge on machine 3 starts with no system bus" bridge_up 3 "$R3" "$M3"

check "system bus + avahi-daemon on machine 1" daemons_up 1
check "system bus + avahi-daemon on machine 2" daemons_up 2

write_record "$R1" web-1 web 1 "$M1" 8080 true '{"version":"1"}'
write_record "$R1" web-2 web 2 "$M1" 8080 false '{"version":"1"}'   # unhealthy: not announced
write_record "$R1" web-3 web 3 "$M2" 8080 true '{"version":"1"}'    # machine 2's: not machine 1's job
check "bridge on machine 1 starts" bridge_up 1 "$R1" "$M1"

wait_until 10 "machine 2 sees web-1 at $A1:8080 (avahi-browse _web._tcp)" seen web-1 "$A1"
line=$(browse | awk -F';' '$4 == "web-1" && $8 == "'"$A1"'"')
echo "# $line"
txt_complete() {
  grep -q '"unit=web@1.service"' <<<"$line" && grep -q "\"machine=$M1\"" <<<"$line" &&
    grep -q '"tags=frontend"' <<<"$line" && grep -q '"version=1"' <<<"$line"
}
check "TXT carries unit, machine, tags and metadata" txt_complete
check "host is machine 1's mDNS name ($RIG-m1.local)" test "$(cut -d';' -f7 <<<"$line")" = "$RIG-m1.local"
subtype_found() { browse _frontend._sub._web._tcp | awk -F';' '$4 == "web-1"' | grep -q .; }
check "the tag is a subtype: _frontend._sub._web._tcp finds web-1" subtype_found
others_absent() { ! browse | awk -F';' '$4 == "web-2" || $4 == "web-3"' | grep -q .; }
check "the unhealthy web-2 and machine 2's web-3 are not announced" others_absent

write_record "$R1" web-1 web 1 "$M1" 8080 true '{"version":"2"}'
wait_until 10 "changed metadata shows up in TXT (version=2)" seen web-1 "$A1" '"version=2"'
check "TXT was updated in place, not re-registered" log_has 1 'TXT updated'

write_record "$R1" web-1 web 1 "$M1" 8080 false '{"version":"2"}'
wait_until 10 "an instance that turns unhealthy is withdrawn" gone web-1 "$A1"
write_record "$R1" web-1 web 1 "$M1" 8080 true '{"version":"2"}'
wait_until 10 "and comes back when healthy again" seen web-1 "$A1" '"version=2"'
write_record "$R1" web-1 web 1 "$M2" 8080 true '{"version":"2"}'
wait_until 10 "an instance that moves to another machine is withdrawn here" gone web-1 "$A1"
write_record "$R1" web-1 web 1 "$M1" 8080 true '{"version":"2"}'
wait_until 10 "and announced again when it moves back" seen web-1 "$A1" '"version=2"'

# avahi-daemon restart on machine 1: the goodbye withdraws it, the bridge reconnects and re-publishes.
connected_before=$(log_of 1 | grep -c 'connected to avahi-daemon')
check "avahi-daemon on machine 1 stops" on 1 systemctl --user stop avahi.service
wait_until 10 "machine 2 no longer sees web-1 while machine 1 has no avahi-daemon" gone web-1 "$A1"
check "the bridge logged the disconnect and kept running" \
  eval "log_has 1 'avahi-daemon went away' && on 1 systemctl --user -q is-active mdns-bridge.service"
sleep 1   # a second or so without a daemon: the bridge is retrying with backoff
check "avahi-daemon on machine 1 starts again" avahi_up 1
wait_until 15 "web-1 is re-published after the restart" seen web-1 "$A1" '"version=2"'
check "the bridge reconnected (connected $connected_before -> more times)" \
  test "$(log_of 1 | grep -c 'connected to avahi-daemon')" -gt "$connected_before"
# A quick restart: the daemon is back before the first retry, and a fresh daemon reports
# S_REGISTERING before S_RUNNING (the state where a nil entry group used to abort).
connected_before=$(log_of 1 | grep -c 'connected to avahi-daemon')
check "avahi-daemon on machine 1 restarts (systemctl restart)" on 1 systemctl --user restart avahi.service
reconnected() { [ "$(log_of 1 | grep -c 'connected to avahi-daemon')" -gt "$connected_before" ]; }
wait_until 15 "the bridge reconnects after the quick restart" reconnected
wait_until 15 "web-1 is announced again after the quick restart" seen web-1 "$A1" '"version=2"'

# Machine 3: its bridge has been waiting without a bus, then without a daemon.
check "machine 3's bridge said there is no system bus, and is still running" \
  eval "log_has 3 'there is no system D-Bus' && on 3 systemctl --user -q is-active mdns-bridge.service"
check "system bus on machine 3" sysbus_up 3
wait_until 10 "machine 3's bridge then says avahi-daemon is not on the bus" log_has 3 'avahi-daemon is not on the system D-Bus'
check "avahi-daemon on machine 3" avahi_up 3
# Same service and instance name from machines 1 and 3: one keeps web-1, the other is renamed.
two_names() {
  local rows; rows=$(browse | awk -F';' '$4 ~ /^web-1/ {print $4 ";" $8}' | sort -u)
  [ "$(wc -l <<<"$rows")" -eq 2 ] && [ "$(cut -d';' -f1 <<<"$rows" | sort -u | wc -l)" -eq 2 ] &&
    grep -q ";$A1\$" <<<"$rows" && grep -q ";$A3\$" <<<"$rows"
}
wait_until 20 "web-1 from machines 1 and 3 ends up under two distinct names" two_names
echo "# $(browse | awk -F';' '$4 ~ /^web-1/ {printf "%s@%s ", $4, $8}')"
check "the collision was resolved with an alternative name (avahi_alternative_service_name)" \
  eval "log_has 1 renaming || log_has 3 renaming"

rm -f "$R1/web-1.json"
wait_until 10 "removing the record withdraws machine 1's web-1" gone web-1 "$A1"
m3_announced() { browse | awk -F';' -v a="$A3" '$4 ~ /^web-1/ && $8 == a' | grep -q .; }
check "machine 3's instance is still announced" m3_announced

check "stopping machine 3's bridge (SIGTERM) succeeds" on 3 systemctl --user stop mdns-bridge.service
nothing_browsed() { ! browse | grep -q .; }
wait_until 10 "a stopped bridge withdraws what it announced" nothing_browsed
check "machine 3's bridge shut down cleanly" log_has 3 'fleet-mdns-bridge: stopped'
no_crash() { ! { log_of 1; log_of 3; } | grep -Eiq 'assert|fatal error|aborted|core dumped'; }
check "no bridge crashed (no assertion or fatal error in the logs)" no_crash

# ---- nothing reached the real network -----------------------------------------------------
for k in 1 2 3; do
  pid=$(on $k systemctl --user show -p MainPID --value avahi.service)
  ns=$(on $k readlink "/proc/$pid/ns/net" 2>/dev/null)
  check "machine $k's avahi-daemon (pid $pid) runs in the machine's own network namespace" \
    test -n "$ns" -a "$ns" != "$rootns"
done
no_root_listener() { ! ss -Hlun 'sport = :5353' | grep -q .; }
check "nothing listens on UDP 5353 in the root namespace" no_root_listener
hub_closed() { ! ip -n "$RIG-hub" route show default | grep -q .; }
check "the rig's hub has no route out" hub_closed
if [ -n "$TCPDUMP" ]; then
  kill -INT "$TCPDUMP" 2>/dev/null; wait "$TCPDUMP" 2>/dev/null; TCPDUMP=""
  captured=$(grep -o '[0-9]* packets captured' "$WORK/uplink.txt" | cut -d' ' -f1)
  check "no mDNS packet on the real $UPLINK (tcpdump -p: ${captured:-?} captured)" test "${captured:-1}" -eq 0
else
  echo "# tcpdump not installed: the real uplink was not captured (the checks above still hold)"
fi

finish mdns
