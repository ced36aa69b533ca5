#!/usr/bin/env bash
# docs/deploy.md as written (issue 15: "fleetd --print-config and docs/deploy.md exist and match
# each other"). The guide's own blocks are taken from the file, not copied here:
#   1. every fleet.conf example (a fenced block starting "# /etc/fleet/fleet.conf on hostK") is
#      accepted by `fleetd --config FILE --print-config`, and every key in the guide's key table is
#      a key fleetd knows;
#   2. layout A on 3 simulated machines: the guide's certificates (fleetctl cluster init/issue
#      with the machine IDs and addresses), host1's and host2's fleet.conf (host3 = host2's with its
#      own address and files), host1 first with FLEET_INIT_STORE; then list-machines, the guide's
#      web@.service started, status passed on between machines, DNS, fleetctl from another machine
#      with the FLEETCTL_* variables and the admin certificate, and a restart keeping the unit's PID;
#   3. layout B: the guide's /etc/default/etcd on each machine (etcd as a unit of that machine's
#      systemd), its second CA, etcdctl's health check, and the guide's etcd fleet.conf.
# Only what a simulated machine must differ in is changed: addresses (10.0.0.K -> the machine's),
# the paths of the TLS files and the data, and the user manager (systemd_user, api_socket).
set -uo pipefail
HERE=$(cd "$(dirname "$0")" && pwd)
ROOT=$(cd "$HERE/../.." && pwd)
source "$HERE/lib.sh"
export RIG=${RIG:-fleet-deploytest}
export FLEET_BIN=${FLEET_BIN:-$(cd "$ROOT" && swift build --show-bin-path)}
RIGCMD=$ROOT/scripts/rig
GUIDE=$ROOT/docs/deploy.md
STATE=${RIG_STATE:-/var/tmp/fleet-rig/$RIG}
# Under /var/tmp: the machines share it (each has its own /run).
WORK=$(mktemp -d /var/tmp/fleet-deploy-test.XXXXXX)
cleanup() {
  "$RIGCMD" down >/dev/null 2>&1
  rm -rf "$WORK"
}
trap cleanup EXIT

fleetctl() { "$FLEET_BIN/fleetctl" "$@"; }
on() { local k=$1; shift; "$RIGCMD" exec "$k" "$@"; }
has() { grep -qF -- "$1" <<<"$2"; }

# The guide's blocks, each into a file of $WORK: conf-<embedded|etcd>-hostK (the fleet.conf
# examples), etcd-default-host1, web@.service (section 5's heredoc), and table-keys (the keys
# named in section 4's table).
python3 - "$GUIDE" "$WORK" <<'PY' || { echo "not ok - the guide's blocks could not be read"; exit 1; }
import re, sys
text, out = open(sys.argv[1]).read(), sys.argv[2]
blocks = re.findall(r"```(?:sh)?\n(.*?)```", text, re.S)
names = {}
for block in blocks:
    first = block.splitlines()[0] if block.strip() else ""
    m = re.match(r"# /etc/fleet/fleet\.conf on (host\d) \(10\.0\.0\.\d\)(, store on etcd)?", first)
    if m:
        names[f"conf-{'etcd' if m.group(2) else 'embedded'}-{m.group(1)}"] = block
    elif first == "# /etc/default/etcd on host1":
        names["etcd-default-host1"] = block
web = re.search(r"cat >web@\.service <<'EOF'\n(.*?\n)EOF\n", text, re.S)
if web:
    names["web@.service"] = web.group(1)
# The key table of section 4: rows starting with a backquoted key.
section = text.split("## 4. Configure each host", 1)[1].split("### Layout A", 1)[0]
keys = sorted({k for row in re.findall(r"^\| (`[^|]*)\|", section, re.M) for k in re.findall(r"`([a-z_]+)`", row)})
names["table-keys"] = "\n".join(keys) + "\n"
# Rows whose default is one literal (`embedded`, `10` (seconds ...)): KEY VALUE, to compare with
# what fleetd prints as the default.
defaults = []
for key, cell in re.findall(r"^\| `([a-z_]+)` \| ([^|]*)\|", section, re.M):
    m = re.fullmatch(r"`([^`]+)`(?: \(.*\))?\s*", cell)
    if m and m.group(1) not in keys:
        defaults.append(f"{key} {m.group(1)}")
names["table-defaults"] = "\n".join(defaults) + "\n"
for name, body in names.items():
    open(f"{out}/{name}", "w").write(body)
PY

# --- 1. the examples against fleetd --print-config (no machines needed) ------------------------------
accepts() { "$FLEET_BIN/fleetd" --config "$1" --print-config >/dev/null; }
for conf in "$WORK"/conf-*; do
  check "$(basename "$conf"): fleetd --print-config accepts it" accepts "$conf"
done
check "the guide has fleet.conf examples for both layouts" test -s "$WORK/conf-embedded-host1" -a -s "$WORK/conf-embedded-host2" -a -s "$WORK/conf-etcd-host2"
: >"$WORK/empty.conf"
printed=$("$FLEET_BIN/fleetd" --config "$WORK/empty.conf" --print-config)
unknown=()
while read -r key; do
  grep -qE "^(# )?$key = " <<<"$printed" || unknown+=("$key")
done <"$WORK/table-keys"
check "every key of the guide's table is one fleetd prints (unknown: ${unknown[*]:-none})" test ${#unknown[@]} -eq 0
wrong=()
while read -r key value; do
  grep -qE "^$key = $value +# default\$" <<<"$printed" || wrong+=("$key=$value")
done <"$WORK/table-defaults"
check "the guide's defaults are fleetd's ($(wc -l <"$WORK/table-defaults") compared; wrong: ${wrong[*]:-none})" test ${#wrong[@]} -eq 0

# --- machines ---------------------------------------------------------------------------------------
check "3 simulated machines" "$RIGCMD" up 3
addr() { "$RIGCMD" addr "$1"; }
dir() { "$RIGCMD" dir "$1"; }
# as_machine K FILE: the guide's file with machine K's address and paths, for layout A or B.
as_machine() {
  local k=$1 src=$2 d; d=$(dir "$1")
  python3 - "$src" "$k" "$(addr 1)" "$(addr 2)" "$(addr 3)" "$d" <<'PY'
import re, sys
src, k, addrs, d = sys.argv[1], sys.argv[2], sys.argv[3:6], sys.argv[6]
text = open(src).read()
own = "2" if "host2" in text.splitlines()[0] else "1"
out = []
for line in text.splitlines():
    key = line.split("=", 1)[0]
    # The guide: "host3 the same with its own address and files"; the store and etcd lists stay.
    if key not in ("store", "etcd_servers", "ETCD_INITIAL_CLUSTER"):
        line = line.replace(f"host{own}", f"host{k}").replace(f"fleet{own}", f"fleet{k}") \
                   .replace(f"etcd{own}", f"etcd{k}").replace(f"10.0.0.{own}", f"10.0.0.{k}")
    line = re.sub(r"10\.0\.0\.([1-3])", lambda m: addrs[int(m.group(1)) - 1], line)
    line = line.replace("/etc/fleet/tls", f"{d}/etc-fleet-tls").replace("/etc/fleet/etcd", f"{d}/etc-fleet-etcd") \
               .replace("/etc/etcd/tls", f"{d}/etc-etcd-tls").replace("/var/lib/etcd/default", f"{d}/etcd-data")
    out.append(line)
print("\n".join(out))
PY
}
sim_lines() {  # sim_lines K DATA: what a simulated machine adds to fleet.conf
  local d; d=$(dir "$1")
  printf '\n# --- a simulated machine ---\nsystemd_user=true\ndata_dir=%s/%s\napi_socket=%s/fleet.sock\n' "$d" "$2" "$d"
}
start_fleetd() {  # start_fleetd K [systemd-run options]: fleetd.service's job, on K's own manager
  local k=$1 d; shift; d=$(dir "$k")
  on "$k" systemd-run --user --quiet --unit=fleetd --collect --setenv=XDG_RUNTIME_DIR --setenv=DBUS_SESSION_BUS_ADDRESS \
    --setenv=FLEET_CONFIG="$d/fleet.conf" "$@" \
    --property=StandardOutput=append:"$d/fleetd.log" --property=StandardError=append:"$d/fleetd.log" "$FLEET_BIN/fleetd"
}
machines() { fleetctl list-machines --no-legend 2>/dev/null | wc -l; }
three_machines() { [ "$(machines)" -ge 3 ]; }

# --- 2. layout A: the embedded store on host1 --------------------------------------------------------
# Section 3's commands, with the rig's machine IDs and addresses.
CA=$WORK/fleet-ca
fleetctl cluster init --dir "$CA" >/dev/null
for k in 1 2 3; do
  fleetctl cluster issue --dir "$CA" --role machine --machine-id "$("$RIGCMD" machine-id "$k")" \
    --ip "$(addr "$k")" --ip 127.0.0.1 --out "host$k" >/dev/null
  install -d -m 0700 "$(dir "$k")/etc-fleet-tls"
  cp "$CA/ca.pem" "$CA/host$k.pem" "$CA/host$k-key.pem" "$(dir "$k")/etc-fleet-tls/"
done
as_machine 1 "$WORK/conf-embedded-host1" >"$(dir 1)/fleet.conf"
for k in 2 3; do as_machine "$k" "$WORK/conf-embedded-host2" >"$(dir "$k")/fleet.conf"; done
for k in 1 2 3; do sim_lines "$k" fleet-data >>"$(dir "$k")/fleet.conf"; done
check "host3's file is host2's with its own address" grep -qx "public_ip=$(addr 3)" "$(dir 3)/fleet.conf"

check "host1's first start, with FLEET_INIT_STORE" start_fleetd 1 --setenv=FLEET_INIT_STORE=true
export FLEETCTL_ENDPOINT=unix://$(dir 1)/fleet.sock
wait_until 30 "host1 is listed" bash -c "[ \$('$FLEET_BIN/fleetctl' list-machines --no-legend 2>/dev/null | wc -l) -ge 1 ]"
check "host1's fleetd runs with TLS" grep -qF "fleetd.tls=on" "$(dir 1)/fleetd.log"
check "host2 starts" start_fleetd 2
check "host3 starts" start_fleetd 3
wait_until 30 "fleetctl list-machines shows three machines" three_machines
check "no INSECURE line in any log" bash -c "! grep -h INSECURE $(dir 1)/fleetd.log $(dir 2)/fleetd.log $(dir 3)/fleetd.log"

# Section 5's first unit, from the guide's own heredoc.
mkdir -p "$WORK/units" && cp "$WORK/web@.service" "$WORK/units/web@.service"
check "fleetctl start web@1.service web@2.service" bash -c "cd '$WORK/units' && '$FLEET_BIN/fleetctl' start web@1.service web@2.service >/dev/null"
check "list-units shows both active" bash -c "[ \$('$FLEET_BIN/fleetctl' list-units --no-legend --fields unit,active | grep -c active) -eq 2 ]"
for u in web@1.service web@2.service; do
  check "fleetctl status $u (from its machine, passed on if elsewhere)" bash -c "'$FLEET_BIN/fleetctl' status $u | grep -q 'active (running)'"
done
wait_until 10 "dig @host2 web.fleet answers both instances" \
  bash -c "[ \$('$RIGCMD' exec 2 dig @$(addr 2) web.fleet +short | wc -l) -eq 2 ]"
check "fleetctl from another machine, with the FLEETCTL_* variables and the admin certificate" \
  bash -c "[ \$('$RIGCMD' exec 3 env FLEETCTL_ENDPOINT=https://$(addr 1):4002 FLEETCTL_CA_FILE=$CA/ca.pem \
    FLEETCTL_CERT_FILE=$CA/admin.pem FLEETCTL_KEY_FILE=$CA/admin-key.pem '$FLEET_BIN/fleetctl' list-machines --no-legend | wc -l) -eq 3 ]"
# Section 8: a restart (an upgrade) keeps the units running.
# The machine (1-3) a unit runs on; list-units --full shows MACHINEID/IP.
machine_of() {
  local m k; m=$(fleetctl list-units --no-legend --fields unit,machine --full | awk -v u="$1" '$1 == u {print $2}')
  for k in 1 2 3; do [ "${m%%/*}" = "$("$RIGCMD" machine-id "$k")" ] && echo "$k"; done
}
# Two units on three machines, least-loaded first: at least one runs on a follower.
unit=web@1.service k1=$(machine_of web@1.service)
[ "$k1" = 1 ] && unit=web@2.service k1=$(machine_of web@2.service)
pid=$(on "$k1" systemctl --user show -p MainPID --value "$unit")
check "systemctl restart fleetd on $unit's machine (host$k1)" on "$k1" systemctl --user restart fleetd
inst=${unit#web@}; inst=${inst%.service}
wait_until 20 "host$k1's new fleetd answers DNS for $inst.web.fleet" \
  bash -c "[ -n \"\$('$RIGCMD' exec $k1 dig @$(addr "$k1") $inst.web.fleet +short)\" ]"
wait_until 20 "host$k1 is listed" three_machines
check "$unit kept its main PID ($pid) across the restart" \
  bash -c "[ \"\$('$RIGCMD' exec $k1 systemctl --user show -p MainPID --value $unit)\" = '$pid' ]"
check "the stopping fleetd said it left the unit running" grep -qF "leaving 1 units running for a restart" "$(dir "$k1")/fleetd.log"
for k in 1 2 3; do on "$k" systemctl --user stop fleetd >/dev/null 2>&1; done
for k in 1 2 3; do on "$k" systemctl --user stop 'web@*' >/dev/null 2>&1; done

# --- 3. layout B: three etcd members, the guide's /etc/default/etcd ----------------------------------
ECA=$WORK/etcd-ca
fleetctl cluster init --dir "$ECA" >/dev/null
for k in 1 2 3; do
  d=$(dir "$k")
  fleetctl cluster issue --dir "$ECA" --role machine --machine-id "etcd$k" --ip "$(addr "$k")" --ip 127.0.0.1 --out "etcd$k" >/dev/null
  fleetctl cluster issue --dir "$ECA" --role machine --machine-id "fleet$k" --out "fleet$k" >/dev/null
  install -d -m 0700 "$d/etc-etcd-tls" "$d/etc-fleet-etcd"
  cp "$ECA/ca.pem" "$ECA/etcd$k.pem" "$ECA/etcd$k-key.pem" "$d/etc-etcd-tls/"
  cp "$ECA/ca.pem" "$ECA/fleet$k.pem" "$ECA/fleet$k-key.pem" "$d/etc-fleet-etcd/"
  as_machine "$k" "$WORK/etcd-default-host1" | grep -v '^#' >"$d/etcd.env"
  on "$k" systemd-run --user --quiet --no-block --unit=etcd --collect --setenv=XDG_RUNTIME_DIR --setenv=DBUS_SESSION_BUS_ADDRESS \
    --property=EnvironmentFile="$d/etcd.env" --property=Type=notify \
    --property=StandardOutput=append:"$d/etcd.log" --property=StandardError=append:"$d/etcd.log" /usr/bin/etcd
done
check "host3's etcd is etcd3 at its own address" grep -qx "ETCD_LISTEN_PEER_URLS=https://$(addr 3):2380" "$(dir 3)/etcd.env"
endpoints="https://$(addr 1):2379,https://$(addr 2):2379,https://$(addr 3):2379"
wait_until 30 "etcdctl endpoint health: all three members, over TLS with client certificates" \
  "$RIGCMD" exec 1 etcdctl --endpoints "$endpoints" --cacert "$(dir 1)/etc-etcd-tls/ca.pem" \
    --cert "$ECA/admin.pem" --key "$ECA/admin-key.pem" endpoint health
for k in 1 2 3; do
  { as_machine "$k" "$WORK/conf-etcd-host2"; sim_lines "$k" fleet-data-etcd; } >"$(dir "$k")/fleet.conf"
  : >"$(dir "$k")/fleetd.log"
done
check "host1's first fleetd on etcd, with FLEET_INIT_STORE" start_fleetd 1 --setenv=FLEET_INIT_STORE=true
wait_until 30 "host1 is listed" bash -c "[ \$('$FLEET_BIN/fleetctl' list-machines --no-legend 2>/dev/null | wc -l) -ge 1 ]"
check "host2 on etcd starts" start_fleetd 2
check "host3 on etcd starts" start_fleetd 3
wait_until 30 "fleetctl list-machines shows three machines on etcd" three_machines
check "no INSECURE line (etcd over TLS)" bash -c "! grep -h INSECURE $(dir 1)/fleetd.log $(dir 2)/fleetd.log $(dir 3)/fleetd.log"
check "fleetctl start web@3.service on etcd" bash -c "cd '$WORK/units' && '$FLEET_BIN/fleetctl' start web@3.service >/dev/null"
wait_until 10 "dig @host3 3.web.fleet answers" bash -c "[ -n \"\$('$RIGCMD' exec 3 dig @$(addr 3) 3.web.fleet +short)\" ]"
for k in 1 2 3; do on "$k" systemctl --user stop fleetd etcd 'web@*' >/dev/null 2>&1; done

finish "deploy-guide"
