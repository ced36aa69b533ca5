# Shared by the installed-package tests (package.test.sh, package-upgrade.test.sh): fleet's .deb
# unpacked into each simulated machine's own prefix and run from its packaged fleetd.service and
# fleet.conf, changed only where a simulated machine must differ. Needs ROOT and RIG; brings lib.sh.
source "$ROOT/Tests/cluster/lib.sh"
RIGCMD=$ROOT/scripts/rig

# package_deb: FLEET_PACKAGE, else the newest dist/fleet_*_amd64.deb, else nothing.
package_deb() {
  if [ -n "${FLEET_PACKAGE:-}" ]; then echo "$FLEET_PACKAGE"; return; fi
  ls -t "$ROOT"/dist/fleet_*_amd64.deb 2>/dev/null | head -n1
}

on() { local k=$1; shift; "$RIGCMD" exec "$k" "$@"; }
prefix() { echo "$("$RIGCMD" dir "$1")/root"; }
main_pid() { on "$1" systemctl --user show --property=MainPID --value fleetd; }
# fleetctl from machine 1's prefix, on machine 1's API socket.
fleetctl() { "$(prefix 1)/usr/bin/fleetctl" --endpoint "unix://$("$RIGCMD" dir 1)/fleet.sock" "$@"; }

# package_unpack K DEB: dpkg -x DEB into machine K's prefix. As dpkg keeps an edited conffile on
# an upgrade, an fleet.conf already there is kept.
package_unpack() {
  local k=$1 deb=$2 root; root=$(prefix "$k")
  local conf=$root/etc/fleet/fleet.conf saved=""
  [ -f "$conf" ] && { saved=$(mktemp); cp "$conf" "$saved"; }
  dpkg -x "$deb" "$root" || return 1
  [ -z "$saved" ] || { cp "$saved" "$conf"; rm -f "$saved"; }
}

# package_tls K: the cluster CA (made once, beside the machines' state) and machine K's
# certificate, made with the packaged fleetctl as docs/deploy.md has it; prints the directory.
package_tls() {
  local k=$1 tls fleetctl_bin
  tls=$(dirname "$("$RIGCMD" dir 1)")/pkg-tls
  fleetctl_bin=$(prefix "$k")/usr/bin/fleetctl
  [ -f "$tls/ca.pem" ] || "$fleetctl_bin" cluster init --dir "$tls" >/dev/null || return 1
  [ -f "$tls/m$k.pem" ] || "$fleetctl_bin" cluster issue --dir "$tls" --role machine \
    --machine-id "$("$RIGCMD" machine-id "$k")" --ip "$("$RIGCMD" addr "$k")" --ip 127.0.0.1 --out "m$k" >/dev/null \
    || return 1
  echo "$tls"
}

# package_configure K STORE_ADDR KEYS_PORT: what machine K must change: lines appended to the
# packaged fleet.conf (its paths, addresses, certificate and store), and a drop-in for the
# packaged unit. TLS as on a real host: fleetd opens no plain TCP listener without
# insecure_plaintext.
package_configure() {
  local k=$1 store_addr=$2 keys_port=$3 dir addr root units tls
  dir=$("$RIGCMD" dir "$k") addr=$("$RIGCMD" addr "$k") root=$(prefix "$k")
  tls=$(package_tls "$k") || return 1
  {
    echo
    echo "# --- a simulated machine (Tests/cluster/package-lib.sh) ---"
    echo "systemd_user=true"
    echo "data_dir=$dir/fleet-data"
    echo "api_socket=$dir/fleet.sock"
    echo "api_listen=$addr:4002"
    echo "dns_listen=$addr:53"
    echo "tls_ca=$tls/ca.pem"
    echo "tls_cert=$tls/m$k.pem"
    echo "tls_key=$tls/m$k-key.pem"
    if [ "$k" = 1 ]; then echo "keys_listen=$addr:$keys_port"
    else echo "store=https://$store_addr:$keys_port"; echo "keys_listen=none"; fi
  } >>"$root/etc/fleet/fleet.conf"
  # The sandbox hides paths by bind-mounting PID 1's /run/systemd/inaccessible/* over them
  # (ProtectKernelTunables, ProtectKernelLogs); a simulated machine's /run is its own, so it
  # gets them here.
  on "$k" sh -c 'mkdir -p /run/systemd/inaccessible && cd /run/systemd/inaccessible &&
    { [ -e reg ] || install -m 0 /dev/null reg; } && { [ -e dir ] || install -d -m 0 dir; } &&
    { [ -e fifo ] || mkfifo -m 0 fifo; } && { [ -e chr ] || mknod -m 0 chr c 0 0; } &&
    { [ -e blk ] || mknod -m 0 blk b 0 0; }' || return 1
  units=$dir/config/systemd/user
  mkdir -p "$units/fleetd.service.d"
  cat >"$units/fleetd.service.d/machine.conf" <<UNIT
[Service]
ExecStart=
ExecStart=$root/usr/bin/fleetd
Environment=FLEET_CONFIG=$root/etc/fleet/fleet.conf
Environment=XDG_RUNTIME_DIR=$dir/xdg DBUS_SESSION_BUS_ADDRESS=unix:path=$dir/xdg/bus
# The machines' state (bus, unit directory, data) is under /var/tmp, which PrivateTmp would hide.
PrivateTmp=no
StandardOutput=append:$dir/fleetd.log
StandardError=append:$dir/fleetd.log
UNIT
}

# package_link_unit K: machine K's manager loads the packaged fleetd.service from its prefix
# (a copy: an upgrade copies the new one, as dpkg replaces /lib/systemd/system's).
package_link_unit() {
  local k=$1 dir; dir=$("$RIGCMD" dir "$k")
  cp "$(prefix "$k")/lib/systemd/system/fleetd.service" "$dir/config/systemd/user/" && on "$k" systemctl --user daemon-reload
}

# package_start K [init]: systemctl start fleetd on machine K; passes when it started. With init,
# a new cluster's first start as docs/packaging.md has it: FLEET_INIT_STORE in a runtime drop-in,
# removed once fleetd runs. Shows the unit's status and log when the start failed.
package_start() {
  local k=$1 init="" rc=0
  if [ "${2:-}" = init ]; then
    init=$("$RIGCMD" dir "$k")/xdg/systemd/user/fleetd.service.d
    mkdir -p "$init" && printf '[Service]\nEnvironment=FLEET_INIT_STORE=true\n' >"$init/init.conf"
  fi
  on "$k" systemctl --user daemon-reload
  on "$k" systemctl --user start fleetd || rc=$?
  [ -z "$init" ] || { rm -rf "$init"; on "$k" systemctl --user daemon-reload; }
  if [ $rc -ne 0 ]; then
    on "$k" systemctl --user status --no-pager fleetd 2>&1 | tail -n 8 | sed 's/^/    /'
    tail -n 5 "$("$RIGCMD" dir "$k")/fleetd.log" 2>/dev/null | sed 's/^/    /'
  fi
  return $rc
}

# package_teardown N: stops fleetd on machines N..1 (store holder last), then removes the rig.
package_teardown() {
  local n=$1 k
  for k in $(seq "$n" -1 1); do on "$k" timeout 20 systemctl --user stop fleetd >/dev/null 2>&1; done
  "$RIGCMD" down >/dev/null 2>&1
}

# machines_up N: list-machines shows N machines.
machines_up() { [ "$(fleetctl list-machines --no-legend 2>/dev/null | wc -l)" -eq "$1" ]; }

# machine_of UNIT: the rig number of the machine UNIT is placed on (nothing if none).
machine_of() {
  local id k n; n=$("$RIGCMD" count)
  id=$(fleetctl list-unit-files --full --no-legend --fields unit,target | awk -v u="$1" '$1==u {print $2}' | cut -d/ -f1)
  [ -n "$id" ] || return 1
  for k in $(seq 1 "$n"); do [ "$("$RIGCMD" machine-id "$k")" = "$id" ] && { echo "$k"; return; }; done
  return 1
}
