#!/usr/bin/env bash
# Tests/cluster/rig.test.sh: proves the simulated-machine rig (scripts/rig) does what fleet's
# cluster tests rely on: separate machines with their own manager, identity and network,
# a working partition switch, unit output in each machine's own journal (and units.log), and a
# teardown that leaves nothing.
#
#   Tests/cluster/rig.test.sh            (as root; RIG=rigtest unless RIG is set)
#
# Prints "ok - ..." / "not ok - ..." per check and, last, "rig: N passed, M failed".
# Exits non-zero if any check failed. The rig is torn down on every exit path.
set -uo pipefail

ROOT=$(cd "$(dirname "$(readlink -f "$0")")/../.." && pwd)
RIG_CMD=$ROOT/scripts/rig
export RIG=${RIG:-rigtest}
FAIL_RIG=${RIG}-f                       # a second, short-lived rig for the failed-`up` check

passed=0 failed=0
rig_up=0                                # set once our `up` ran: only then is the rig ours to tear down

rig() { "$RIG_CMD" "$@"; }
ok() { passed=$((passed + 1)); echo "ok - $*"; }
not_ok() { failed=$((failed + 1)); echo "not ok - $*"; }
note() { sed 's/^/#   /'; }             # indent diagnostics under a failed check

# check DESCRIPTION CMD...: one assertion.
check() {
  local desc=$1
  shift
  if "$@"; then ok "$desc"; else not_ok "$desc"; fi
}

# eventually SECONDS CMD...: poll CMD until it succeeds or the deadline passes. This is how
# the test waits for anything asynchronous; there are no fixed sleeps.
now_ms() { local t=${EPOCHREALTIME//[!0-9]/}; echo $((t / 1000)); }
eventually() {
  local deadline=$(($(now_ms) + $1 * 1000))
  shift
  until "$@" >/dev/null 2>&1; do
    (($(now_ms) < deadline)) || return 1
    sleep 0.05
  done
}

on() { local k=$1; shift; rig exec "$k" "$@"; }       # run on machine k
is_active() { [ "$(on "$1" systemctl --user is-active "$2" 2>/dev/null)" = active ]; }
pings() { on "$1" ping -c1 -W1 "$2" >/dev/null 2>&1; }
seconds_since() { local d=$(($(now_ms) - $1)); printf '%d.%02d' $((d / 1000)) $((d % 1000 / 10)); }

# A signal can land while a command runs with its output sent to /dev/null (`eventually`),
# and the trap then inherits that redirection; so the summary goes to the saved stdout (fd 3).
exec 3>&1
finish() {
  local rc=$?
  trap - EXIT
  {
    if [ "$rig_up" = 1 ]; then
      echo "# tearing down $RIG after an early exit"
      rig down >/dev/null 2>&1 || echo "# down failed; check: RIG=$RIG scripts/rig leftovers"
    fi
    ((rc == 0)) || ((failed > 0)) || not_ok "test script aborted (status $rc)"
    echo "rig: $passed passed, $failed failed"
  } >&3 2>&3
  exit $((failed > 0 ? 1 : 0))        # an EXIT trap must exit explicitly to set the status
}
trap finish EXIT
trap 'exit 130' INT
trap 'exit 143' TERM

# ---- preconditions ---------------------------------------------------------------------

[ "$(id -u)" = 0 ] || { not_ok "must run as root"; exit 1; }
command -v ping >/dev/null || { not_ok "ping missing (apt-get install iputils-ping)"; exit 1; }
if ! RIG=$RIG rig leftovers >/dev/null; then
  not_ok "rig $RIG already exists; take it down first: RIG=$RIG scripts/rig down"
  exit 1
fi
pid1_cgroup_before=$(cat /proc/1/cgroup)
host_name=$(cat /proc/sys/kernel/hostname)

# ---- the PID 1 guard -------------------------------------------------------------------
# Run only the init's guard (it never starts systemd in this mode) in a cgroup namespace
# created where PID 1 lives. It must refuse. Skipped if this test is not in PID 1's cgroup.
if [ "$(grep name=systemd /proc/self/cgroup | cut -d: -f3)" = "$(grep name=systemd /proc/1/cgroup | cut -d: -f3)" ]; then
  out=$(unshare --mount --cgroup -- "$ROOT/scripts/rig-machine-init" --guard-only 2>&1)
  rc=$?
  if ((rc != 0)) && [[ $out == *REFUSING* ]]; then
    ok "machine init refuses to start systemd when PID 1 is in its cgroup namespace root"
  else
    not_ok "machine init guard did not refuse (status $rc)"
    note <<<"$out"
  fi
else
  ok "# skip guard check: this test does not share PID 1's cgroup"
fi

# ---- up --------------------------------------------------------------------------------

t0=$(now_ms)
rig_up=1
if out=$(rig up 3 2>&1); then
  up_s=$(seconds_since "$t0")
  ok "up 3 machines (${up_s}s)"
else
  not_ok "up 3 machines"
  note <<<"$out"
  exit 1
fi

check "count is 3" [ "$(rig count)" = 3 ]
check "up refuses a rig that already exists" eval '! rig up 1 >/dev/null 2>&1'
check "exec on a machine that does not exist fails" eval '! rig exec 4 true 2>/dev/null'

net=${RIG_NET:-10.77.0}
declare -a addr mid
for k in 1 2 3; do
  addr[$k]=$(rig addr $k)
  mid[$k]=$(rig machine-id $k)
  check "m$k: address is $net.$((10 + k))" [ "${addr[$k]}" = "$net.$((10 + k))" ]
  check "m$k: eth0 carries that address" eval "on $k ip -4 -o addr show dev eth0 | grep -q ' ${addr[$k]}/24 '"
  check "m$k: hostname is $RIG-m$k" [ "$(on $k cat /proc/sys/kernel/hostname)" = "$RIG-m$k" ]
  check "m$k: /etc/machine-id and /var/lib/dbus/machine-id are its own id" \
    [ "$(on $k cat /etc/machine-id /var/lib/dbus/machine-id | sort -u)" = "${mid[$k]}" ]
  check "m$k: env has RIG_MACHINE=$k and RIG_ADDR" [ "$(on $k sh -c 'echo $RIG_MACHINE $RIG_ADDR')" = "$k ${addr[$k]}" ]
  check "m$k: exec runs in its cgroup namespace (cgroup /rig-exec)" \
    eval "on $k cat /proc/self/cgroup | grep -qx '[0-9]*:name=systemd:/rig-exec'"
  check "m$k: manager is running" eval "[[ \$(on $k systemctl --user is-system-running) =~ ^(running|degraded)\$ ]]"
done
check "machine ids are distinct 32-hex ids" eval \
  '[ "$(printf "%s\n" "${mid[@]}" | grep -cE "^[0-9a-f]{32}$")" = 3 ] && [ "$(printf "%s\n" "${mid[@]}" | sort -u | wc -l)" = 3 ]'
check "machine ids differ from the host's" eval '! printf "%s\n" "${mid[@]}" | grep -qx "$(cat /etc/machine-id)"'
check "the host keeps its hostname" [ "$(cat /proc/sys/kernel/hostname)" = "$host_name" ]
check "PID 1 lies outside the machines' cgroup namespace" eval "on 1 cat /proc/1/cgroup | grep -q ':name=systemd:/\.\.'"

out=$(on 2 sh -c 'exit 7')
check "exec passes the exit status through" [ $? = 7 ]
check "exec passes stdin through" [ "$(echo through | on 2 cat)" = through ]

# ---- units -------------------------------------------------------------------------------
# One unit per machine, written into that machine's runtime unit dir. ${RIG_ADDR} is
# expanded by the machine's manager (it is in its environment); $$ is a literal $ for sh.
for k in 1 2 3; do
  on $k sh -c 'cat >"$XDG_RUNTIME_DIR/systemd/user/hello.service"' <<'UNIT'
[Service]
SyslogIdentifier=hello
ExecStart=/bin/sh -c 'echo "hello from $$(hostname) at ${RIG_ADDR}"; exec sleep infinity'
UNIT
  on $k systemctl --user daemon-reload && on $k systemctl --user start hello.service
  check "m$k: hello.service started" eventually 10 is_active $k hello.service
  pid=$(on $k systemctl --user show -p MainPID --value hello.service)
  check "m$k: hello.service runs in the rig's cgroup m$k/app.slice" \
    eval "grep -q ':name=systemd:.*/$RIG/m$k/app.slice/hello.service\$' /proc/$pid/cgroup"
done

on 1 sh -c 'printf "[Service]\nExecStart=/bin/sleep infinity\n" >"$XDG_RUNTIME_DIR/systemd/user/only1.service"'
on 1 systemctl --user daemon-reload && on 1 systemctl --user start only1.service
check "m1: only1.service active" eventually 10 is_active 1 only1.service
for k in 2 3; do
  check "m$k: only1.service is not active" eval "! is_active $k only1.service"
  check "m$k: only1.service is not-found" [ "$(on $k systemctl --user show -p LoadState --value only1.service)" = not-found ]
done

# The env printed by `rig env K` reaches K's manager from the root namespace, and only K's.
bus_get_unit() {
  (
    eval "$(rig env "$1")"
    busctl --user call org.freedesktop.systemd1 /org/freedesktop/systemd1 \
      org.freedesktop.systemd1.Manager GetUnit s "$2"
  ) >/dev/null 2>&1
}
check "rig env 1: m1's manager knows only1.service over its bus" bus_get_unit 1 only1.service
check "rig env 2: m2's manager does not" eval '! bus_get_unit 2 only1.service'
check "m1: session bus reports m1's machine id" \
  [ "$(on 1 busctl --user call org.freedesktop.DBus /org/freedesktop/DBus org.freedesktop.DBus.Peer GetMachineId)" = "s \"${mid[1]}\"" ]

# Unit stdout lands in the machine's own units.log (copied from its journal).
log1=$(rig dir 1)/units.log
check "m1: unit stdout lands in units.log" \
  eventually 10 grep -qxF "hello: hello from $RIG-m1 at ${addr[1]}" "$log1"
check "m3: unit stdout lands in its own units.log" \
  eventually 10 grep -qxF "hello: hello from $RIG-m3 at ${addr[3]}" "$(rig dir 3)/units.log"
check "m2's units.log holds nothing from m1" eval "! grep -q '$RIG-m1' '$(rig dir 2)/units.log'"

# ---- journal -------------------------------------------------------------------------------
# Each machine runs its own systemd-journald. A unit's stdout lines carry _SYSTEMD_UNIT=<unit>
# (its cgroup is /app.slice/<unit> in the machine's cgroup namespace), the manager's messages
# about it USER_UNIT=<unit>; fleet's journal reader matches either.
journal() { local k=$1; shift; on "$k" journalctl --no-pager --quiet --all "$@" 2>&1; }
journal_has() { journal "$1" -o cat "${@:3}" | grep -qxF -- "$2"; }   # K LINE MATCH...
hello1="hello from $RIG-m1 at ${addr[1]}"
for k in 1 2 3; do
  check "m$k: journald made its sockets (socket, stdout, dev-log)" \
    on $k test -S /run/systemd/journal/socket -a -S /run/systemd/journal/stdout -a -S /run/systemd/journal/dev-log
  check "m$k: the journal is in its state dir, under its own machine id" [ -d "$(rig dir $k)/journal/${mid[$k]}" ]
  check "m$k: host's /var/log/journal and /run/log/journal have no journal of this machine" \
    eval "[ ! -e '/var/log/journal/${mid[$k]}' ] && [ ! -e '/run/log/journal/${mid[$k]}' ]"
done
check "m1: journalctl _SYSTEMD_UNIT=hello.service shows hello's line" \
  eventually 10 journal_has 1 "$hello1" _SYSTEMD_UNIT=hello.service
check "m1: journalctl --unit hello.service shows hello's line" eventually 10 journal_has 1 "$hello1" --unit hello.service
check "m1: the manager's 'Started' message carries USER_UNIT=hello.service" \
  eventually 10 journal_has 1 "Started hello.service." USER_UNIT=hello.service
check "m3: journalctl --unit hello.service shows m3's own line" \
  eventually 10 journal_has 3 "hello from $RIG-m3 at ${addr[3]}" --unit hello.service
check "m2: journalctl --unit hello.service shows m2's line and nothing else" \
  eventually 10 eval "[ \"\$(journal 2 -o cat --unit hello.service)\" = 'hello from $RIG-m2 at ${addr[2]}' ]"
check "m2's journal holds nothing from m1" eval "! journal 2 -o cat | grep -qF '$RIG-m1'"
check "the host reads m1's journal with journalctl -D" \
  eval "journalctl -D '$(rig dir 1)/journal' --no-pager -q -o cat _SYSTEMD_UNIT=hello.service | grep -qxF '$hello1'"
check "m1: no kernel messages in the machine's journal (ReadKMsg=no)" [ -z "$(journal 1 -o cat _TRANSPORT=kernel)" ]
check "m1: the host's /var/log/journal is covered (empty, read-only)" \
  eval "[ -z \"\$(on 1 ls -A /var/log/journal)\" ] && on 1 findmnt -n -o OPTIONS /var/log/journal | grep -q '^ro,' || [ ! -d /var/log/journal ]"

# ---- network -----------------------------------------------------------------------------

check "m1 pings m3" eventually 10 pings 1 "${addr[3]}"
check "m1 pings m2" eventually 10 pings 1 "${addr[2]}"
rig cut 2
check "cut 2: m1 can no longer reach m2" eval "! pings 1 ${addr[2]}"
check "cut 2: m1 still reaches m3" pings 1 "${addr[3]}"
check "cut 2: m2 cannot reach the hub" eval "! pings 2 $net.1"
rig mend 2
check "mend 2: m1 reaches m2 again" eventually 10 pings 1 "${addr[2]}"
check "mend 2: m2 reaches m3 (default route back)" eventually 10 pings 2 "${addr[3]}"

# ---- down --------------------------------------------------------------------------------

t0=$(now_ms)
if out=$(rig down 2>&1); then
  ok "down ($(seconds_since "$t0")s)"
  rig_up=0
else
  not_ok "down"
  note <<<"$out"
fi
out=$(rig leftovers)
rc=$?
if ((rc == 0)) && [ -z "$out" ]; then ok "leftovers: nothing left"; else not_ok "leftovers: something left"; note <<<"$out"; fi
check "down again is a no-op that succeeds" eval 'rig down 2>/dev/null'
check "no process of the machines survives" eval "! grep -l ':name=systemd:.*/$RIG/m[0-9]' /proc/[0-9]*/cgroup 2>/dev/null | grep -q ."

# ---- a failed up cleans up after itself ----------------------------------------------------
# A zero wait makes `up` fail after its machines were launched: the trap must take them down.
out=$(RIG=$FAIL_RIG RIG_UP_TIMEOUT=0 rig up 2 2>&1)
rc=$?
check "failed up exits non-zero and says why" eval "((rc != 0)) && [[ \$out == *'did not come up'* ]]"
left=$(RIG=$FAIL_RIG rig leftovers)
if [ $? = 0 ]; then ok "failed up left nothing behind"; else not_ok "failed up left something"; note <<<"$left"; RIG=$FAIL_RIG rig down >/dev/null 2>&1; fi

check "/proc/1/cgroup unchanged" [ "$(cat /proc/1/cgroup)" = "$pid1_cgroup_before" ]
