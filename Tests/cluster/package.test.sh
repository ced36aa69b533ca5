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
ROOT=$(cd "$(dirname "$0")/../.." && pwd)
export RIG=${RIG:-fleet-pkgtest}
source "$ROOT/Tests/cluster/package-lib.sh"
DEB=$(package_deb)
if [ -z "$DEB" ]; then
  echo "ok # SKIP package: no .deb (run scripts/package, or give FLEET_PACKAGE=path.deb)"
  finish package; exit
fi
[ -f "$DEB" ] || { not_ok "FLEET_PACKAGE=$DEB is no file"; finish package; exit; }
echo "# package: $DEB"
N=2
KEYS_PORT=4001
WORK=$(mktemp -d)
trap 'package_teardown "$N"; rm -rf "$WORK"' EXIT

# --- the package itself ------------------------------------------------------------------------
contents=$(dpkg-deb -c "$DEB")
for path in ./usr/bin/fleetd ./usr/bin/fleetctl ./usr/bin/fleet-dns ./lib/systemd/system/fleetd.service \
  ./etc/fleet/fleet.conf ./usr/share/bash-completion/completions/fleetctl ./usr/share/zsh/vendor-completions/_fleetctl \
  ./usr/share/fish/vendor_completions.d/fleetctl.fish ./usr/share/man/man1/fleetctl.1.gz ./usr/share/doc/fleet/copyright; do
  check "the package holds $path" grep -qE " $path\$" <<<"$contents"
done
check "fleet.conf is a conffile" bash -c "dpkg-deb -I '$DEB' conffiles | grep -qx /etc/fleet/fleet.conf"
check "every file is root's" bash -c "! grep -v ' root/root ' <<<'$contents'"

# --- installed into each machine's prefix ---------------------------------------------------------
if "$RIGCMD" up "$N"; then ok "$N simulated machines come up"
else not_ok "$N simulated machines come up"; finish package; exit; fi
store_addr=$("$RIGCMD" addr 1)
for k in $(seq 1 "$N"); do
  root=$(prefix "$k")
  check "machine $k: dpkg -x into its prefix" package_unpack "$k" "$DEB"
  check "machine $k: the packaged fleetd needs no Swift runtime library" \
    bash -c "! ldd '$root/usr/bin/fleetd' | grep -qE 'libswift|libFoundation|not found'"
  check "machine $k: configured (fleet.conf lines, a drop-in)" package_configure "$k" "$store_addr" "$KEYS_PORT"
  check "machine $k: the packaged fleetd.service loads" package_link_unit "$k"
done
check "machine 1: systemctl start fleetd (the packaged unit), a new cluster" package_start 1 init
for k in $(seq 2 "$N"); do check "machine $k: systemctl start fleetd (the packaged unit)" package_start "$k"; done

wait_until 60 "list-machines (the packaged fleetctl) shows $N machines" machines_up "$N"
for k in $(seq 1 "$N"); do
  pid=$(main_pid "$k")
  check "machine $k: fleetd runs (pid $pid)" test "$pid" -gt 0
  # The hardening is in force: no new privileges, a seccomp filter, only CAP_NET_BIND_SERVICE (bit 10).
  check "machine $k: NoNewPrivileges and a seccomp filter" \
    bash -c "grep -qP '^NoNewPrivs:\t1' /proc/$pid/status && grep -qP '^Seccomp:\t2' /proc/$pid/status"
  check "machine $k: the capability bounding set is CAP_NET_BIND_SERVICE alone" \
    grep -qP '^CapBnd:\t0000000000000400$' "/proc/$pid/status"
  # The hardening leaves the manager's own socket reachable (else fleetd would fall back to D-Bus).
  wait_until 10 "machine $k: fleetd reaches systemd on the manager's own socket" \
    grep -q "systemd_connection=direct" "$("$RIGCMD" dir "$k")/fleetd.log"
done

# --- a unit, started through the packaged fleetd ----------------------------------------------------
cp "$ROOT/examples/hello@.service" "$WORK/"
check "fleetctl start hello@1" bash -c "cd '$WORK' && '$(prefix 1)/usr/bin/fleetctl' --endpoint 'unix://$("$RIGCMD" dir 1)/fleet.sock' start hello@1"
k_hello=$(machine_of hello@1.service || echo 0)
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
