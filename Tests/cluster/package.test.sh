#!/usr/bin/env bash
# fleet as installed from its Debian package (issue 15 item 4): the .deb is unpacked into each
# simulated machine's own prefix (dpkg -x into the machine's state dir), and fleetd runs from the
# packaged fleetd.service and the packaged fleet.conf, changed only where a simulated machine
# must differ (a drop-in: the binary's prefix, the user manager's bus, no PrivateTmp because the
# machines live under /var/tmp; a few lines at the end of fleet.conf: its addresses and paths).
# The unit's hardening (ProtectSystem, seccomp, one capability, ...) is in force, so a directive
# that stopped fleetd from working fails here. Checks list-machines, a unit start, DNS, reload.
#
# Needs a package: FLEET_PACKAGE=path.deb, else the newest dist/fleet_*_amd64.deb
# (scripts/package makes it: a release build, so scripts/test does not). Without one it skips.
set -uo pipefail
HERE=$(cd "$(dirname "$0")" && pwd)
ROOT=$(cd "$HERE/../.." && pwd)
source "$HERE/lib.sh"
export RIG=${RIG:-fleet-pkgtest}
RIGCMD=$ROOT/scripts/rig
DEB=${FLEET_PACKAGE:-$(ls -t "$ROOT"/dist/fleet_*_amd64.deb 2>/dev/null | head -n1)}
if [ -z "$DEB" ]; then
  echo "ok # SKIP package: no .deb (run scripts/package, or give FLEET_PACKAGE=path.deb)"
  finish package; exit
fi
[ -f "$DEB" ] || { not_ok "FLEET_PACKAGE=$DEB is no file"; finish package; exit; }
echo "# package: $DEB"
N=2
KEYS_PORT=4001
WORK=$(mktemp -d)
cleanup() {
  local k
  for k in $(seq "$N" -1 1); do "$RIGCMD" exec "$k" timeout 20 systemctl --user stop fleetd >/dev/null 2>&1; done
  "$RIGCMD" down >/dev/null 2>&1
  rm -rf "$WORK"
}
trap cleanup EXIT

on() { local k=$1; shift; "$RIGCMD" exec "$k" "$@"; }
prefix() { echo "$("$RIGCMD" dir "$1")/root"; }
fleetctl() { "$(prefix 1)/usr/bin/fleetctl" --endpoint "unix://$("$RIGCMD" dir 1)/fleet.sock" "$@"; }
main_pid() { on "$1" systemctl --user show --property=MainPID --value fleetd; }

# --- the package itself ------------------------------------------------------------------------
contents=$(dpkg-deb -c "$DEB")
for path in ./usr/bin/fleetd ./usr/bin/fleetctl ./usr/bin/fleet-dns ./lib/systemd/system/fleetd.service \
  ./etc/fleet/fleet.conf ./usr/share/bash-completion/completions/fleetctl ./usr/share/zsh/vendor-completions/_fleetctl \
  ./usr/share/fish/vendor_completions.d/fleetctl.fish ./usr/share/doc/fleet/copyright; do
  check "the package holds $path" grep -qE " $path\$" <<<"$contents"
done
check "fleet.conf is a conffile" bash -c "dpkg-deb -I '$DEB' conffiles | grep -qx /etc/fleet/fleet.conf"
check "every file is root's" bash -c "! grep -v ' root/root ' <<<'$contents'"

# --- installed into each machine's prefix ---------------------------------------------------------
if "$RIGCMD" up "$N"; then ok "$N simulated machines come up"
else not_ok "$N simulated machines come up"; finish package; exit; fi
store_addr=$("$RIGCMD" addr 1)
for k in $(seq 1 "$N"); do
  dir=$("$RIGCMD" dir "$k") addr=$("$RIGCMD" addr "$k") root=$(prefix "$k")
  check "machine $k: dpkg -x into its prefix" dpkg -x "$DEB" "$root"
  check "machine $k: the packaged fleetd needs no Swift runtime library" \
    bash -c "! ldd '$root/usr/bin/fleetd' | grep -qE 'libswift|libFoundation|not found'"
  {
    echo
    echo "# --- a simulated machine (Tests/cluster/package.test.sh) ---"
    echo "systemd_user=true"
    echo "data_dir=$dir/fleet-data"
    echo "api_socket=$dir/fleet.sock"
    echo "api_listen=$addr:4002"
    echo "dns_listen=$addr:53"
    if [ "$k" = 1 ]; then echo "keys_listen=$addr:$KEYS_PORT"
    else echo "store=http://$store_addr:$KEYS_PORT"; echo "keys_listen=none"; fi
  } >>"$root/etc/fleet/fleet.conf"
  # The sandbox hides paths by bind-mounting PID 1's /run/systemd/inaccessible/* over them
  # (ProtectKernelTunables, ProtectKernelLogs); a simulated machine's /run is its own, so it
  # gets them here.
  on "$k" sh -c 'mkdir -p /run/systemd/inaccessible && cd /run/systemd/inaccessible &&
    { [ -e reg ] || install -m 0 /dev/null reg; } && { [ -e dir ] || install -d -m 0 dir; } &&
    { [ -e fifo ] || mkfifo -m 0 fifo; } && { [ -e chr ] || mknod -m 0 chr c 0 0; } &&
    { [ -e blk ] || mknod -m 0 blk b 0 0; }'
  units=$dir/config/systemd/user
  mkdir -p "$units/fleetd.service.d"
  cp "$root/lib/systemd/system/fleetd.service" "$units/"
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
done
# A new cluster's first start, as docs/packaging.md has it: FLEET_INIT_STORE in a runtime drop-in
# on the first machine, removed once fleetd runs.
init=$("$RIGCMD" dir 1)/xdg/systemd/user/fleetd.service.d
mkdir -p "$init" && printf '[Service]\nEnvironment=FLEET_INIT_STORE=true\n' >"$init/init.conf"
for k in $(seq 1 "$N"); do
  on "$k" systemctl --user daemon-reload
  if on "$k" systemctl --user start fleetd; then ok "machine $k: systemctl start fleetd (the packaged unit)"
  else
    not_ok "machine $k: systemctl start fleetd (the packaged unit)"
    on "$k" systemctl --user status --no-pager fleetd 2>&1 | tail -n 8 | sed 's/^/    /'
    tail -n 5 "$("$RIGCMD" dir "$k")/fleetd.log" 2>/dev/null | sed 's/^/    /'
  fi
done
rm -rf "$init"; on 1 systemctl --user daemon-reload

machines_up() { [ "$(fleetctl list-machines --no-legend 2>/dev/null | wc -l)" -eq "$N" ]; }
wait_until 60 "list-machines (the packaged fleetctl) shows $N machines" machines_up
for k in $(seq 1 "$N"); do
  pid=$(main_pid "$k")
  check "machine $k: fleetd runs (pid $pid)" test "$pid" -gt 0
  # The hardening is in force: no new privileges, a seccomp filter, only CAP_NET_BIND_SERVICE (bit 10).
  check "machine $k: NoNewPrivileges and a seccomp filter" \
    bash -c "grep -qP '^NoNewPrivs:\t1' /proc/$pid/status && grep -qP '^Seccomp:\t2' /proc/$pid/status"
  check "machine $k: the capability bounding set is CAP_NET_BIND_SERVICE alone" \
    grep -qP '^CapBnd:\t0000000000000400$' "/proc/$pid/status"
done

# --- a unit, started through the packaged fleetd ----------------------------------------------------
cp "$ROOT/examples/hello@.service" "$WORK/"
check "fleetctl start hello@1" bash -c "cd '$WORK' && '$(prefix 1)/usr/bin/fleetctl' --endpoint 'unix://$("$RIGCMD" dir 1)/fleet.sock' start hello@1"
where=$(fleetctl list-unit-files --full --no-legend --fields unit,target | awk '$1=="hello@1.service" {print $2}' | cut -d/ -f1)
k_hello=0
for k in $(seq 1 "$N"); do [ "$("$RIGCMD" machine-id "$k")" = "$where" ] && k_hello=$k; done
check "hello@1 is placed on a machine" test "$k_hello" -gt 0
active() { [ "$(on "$k_hello" systemctl --user is-active hello@1.service)" = active ]; }
wait_until 20 "hello@1 is active in machine $k_hello's systemd" active
dns() { on 1 dig +short +time=1 +tries=1 @"$store_addr" hello.fleet A | grep -qE '^10\.'; }
wait_until 20 "discovery DNS from the packaged fleetd answers hello.fleet" dns

# --- systemctl reload (ExecReload: SIGHUP re-reads fleet.conf) -------------------------------------
pid=$(main_pid "$N")
check "machine $N: systemctl reload fleetd" on "$N" systemctl --user reload fleetd
wait_until 10 "fleetd logged the reload" grep -q "Reloading configuration" "$("$RIGCMD" dir "$N")/fleetd.log"
check "machine $N: same fleetd after the reload" test "$(main_pid "$N")" = "$pid"

finish package
