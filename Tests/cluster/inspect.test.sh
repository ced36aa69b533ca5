#!/usr/bin/env bash
# fleetctl status, journal and journal -f for a unit on another simulated machine (answered by
# that machine's fleetd from its systemd and journald, reached through machine 1's fleetd);
# ssh and --tunnel with the real OpenSSH client and an sshd on a machine; the TLS flags
# against a TLS-terminating proxy (socat) in front of fleetd's API.
set -uo pipefail
HERE=$(cd "$(dirname "$0")" && pwd)
ROOT=$(cd "$HERE/../.." && pwd)
source "$HERE/lib.sh"
export RIG=${RIG:-fleet-insptest}
export FLEET_BIN=${FLEET_BIN:-$(cd "$ROOT" && swift build --show-bin-path)}
export FLEET_ARGS_3="--metadata role=logs"
RIGCMD=$ROOT/scripts/rig
CLUSTER=$ROOT/scripts/dev-cluster
WORK=$(mktemp -d)
PIDS=()
cleanup() {
  for pid in "${PIDS[@]}"; do kill "$pid" 2>/dev/null; done
  "$CLUSTER" down >/dev/null 2>&1
  rm -rf "$WORK"
}
trap cleanup EXIT

fleetctl() { "$FLEET_BIN/fleetctl" "$@"; }
run() { OUT=$("$@" 2>"$WORK/err"); RC=$?; ERR=$(cat "$WORK/err"); }
has() { grep -qF -- "$1" <<<"$2"; }

check "cluster of 3 machines comes up" "$CLUSTER" up 3
eval "$("$CLUSTER" env)"
m3=$("$RIGCMD" machine-id 3); a3=$("$RIGCMD" addr 3)
cd "$WORK"

# --- files: the store and the API socket are the owner's only (docs/security.md) ------------
D1DIR=$("$RIGCMD" dir 1)
check "store.db is 0600, its -wal too, in a 0700 data directory" \
  test "$(stat -c %a "$D1DIR/fleet-data/store.db") $(stat -c %a "$D1DIR/fleet-data/store.db-wal") $(stat -c %a "$D1DIR/fleet-data")" = "600 600 700"
check "the API socket is an owner-only socket" test "$(stat -c '%a %F' "$D1DIR/fleet.sock")" = "600 socket"

cat >talker.service <<'UNIT'
[Unit]
Description=talks to its journal
[Service]
ExecStart=/bin/sh -c 'echo "talker up on $(hostname)"; i=0; while true; do i=$((i+1)); echo "beat $i"; sleep 0.2; done'
[X-Fleet]
MachineMetadata=role=logs
UNIT
printf '[Service]\nExecStart=/bin/sh -c "echo about to fail; exit 3"\n[X-Fleet]\nMachineMetadata=role=logs\n' >fails.service
printf '[Service]\nExecStart=/bin/sleep 100000\n[X-Fleet]\nGlobal=true\n' >everywhere.service
printf '[Service]\nExecStart=/bin/sleep 100000\n' >idle.service

check "start talker (placed on machine 3 by metadata)" fleetctl start talker.service
check "talker runs on machine 3" bash -c "$FLEET_BIN/fleetctl list-units --no-legend --full --fields unit,machine | grep -q '^talker.service.$m3/$a3'"

# --- status --------------------------------------------------------------------------------
run fleetctl status talker.service
check "status exits 0 for an active unit" test "$RC" -eq 0
check "status starts like systemctl status: ● talker.service - talks to its journal" \
  test "$(head -1 <<<"$OUT")" = "● talker.service - talks to its journal"
check "status shows Active: active (running)" has "Active: active (running) since" "$OUT"
check "status shows the unit's processes in its cgroup" has "/bin/sh -c echo" "$OUT"
# The unit's first line reaches machine 3's journal a moment after the unit is active.
wait_until 10 "status ends with the unit's journal lines, written on machine 3" \
  bash -c "'$FLEET_BIN/fleetctl' status talker.service | grep -qF 'talker up on $RIG-m3'"
run fleetctl status nope.service
check "status of a missing unit: 'Unit nope.service does not exist.', exit 1" \
  test "$RC" -eq 1 -a "$ERR" = "Unit nope.service does not exist."
check "submit idle.service" fleetctl submit idle.service
run fleetctl status idle.service
check "status of a unit that is not loaded: fleet's message, exit 1" \
  test "$RC" -eq 1 -a "$ERR" = "Unit idle.service does not appear to be loaded."
run fleetctl start --block-attempts 3 fails.service
run fleetctl status fails.service
check "status of a failed unit exits 3, as systemctl" test "$RC" -eq 3
check "status of a failed unit shows × and the result" has "Active: failed (Result: exit-code)" "$OUT"
check "status of a failed unit shows the main process's exit" has "(code=exited, status=3/FAILURE)" "$OUT"
run fleetctl status talker fails
check "status of two units: both, separated by a blank line" \
  bash -c "grep -q '^● talker.service' <<<'$OUT' && grep -q '^× fails.service' <<<'$OUT' && grep -q '^$' <<<'$OUT'"
check "status of two units exits with the first non-zero status (3)" test "$RC" -eq 3
check "start the global unit" fleetctl start everywhere.service
wait_until 20 "the global unit runs on all 3 machines" \
  bash -c "[ \$($FLEET_BIN/fleetctl list-units --no-legend | grep -c '^everywhere.service.*active') -eq 3 ]"
run fleetctl status everywhere.service
check "status of a global unit shows it on each of the 3 machines" test "$(grep -c '^● everywhere.service' <<<"$OUT")" -eq 3

# --- journal -------------------------------------------------------------------------------
run fleetctl journal --lines 3 talker
[ "$(wc -l <<<"$OUT")" -eq 3 ] || sed 's/^/    | /' <<<"$OUT$ERR"   # shows what came instead
check "journal --lines 3 prints exactly 3 lines" test "$(wc -l <<<"$OUT")" -eq 3
check "journal lines are short format from machine 3: '<date> $RIG-m3 sh[pid]: beat N'" \
  bash -c "tail -1 <<<'$OUT' | grep -Eq '^[A-Z][a-z]{2} [0-9]{2} [0-9:]{8} $RIG-m3 sh\[[0-9]+\]: beat [0-9]+\$'"
run fleetctl journal --output cat -n 1 talker
check "journal --output cat -n 1: just the message" bash -c "grep -Eqx 'beat [0-9]+' <<<'$OUT'"
run fleetctl journal --output json -n 1 talker
check "journal --output json carries the unit's fields" has '"_SYSTEMD_UNIT":"talker.service"' "$OUT"
wait_until 20 "talker has written more than 10 lines" \
  bash -c "$FLEET_BIN/fleetctl journal -n 1 --output cat talker | grep -Eqx 'beat ([1-9][0-9]+)'"
run fleetctl journal talker
check "journal defaults to 10 lines" test "$(wc -l <<<"$OUT")" -eq 10
[ "$(wc -l <<<"$OUT")" -eq 10 ] || printf '%s\n' "$OUT" | sed 's/^/    /' 
# Journal readers of machine 3's fleetd: threads waiting in poll(2) (its sd-bus thread is one).
readers3() {
  local pid; pid=$("$RIGCMD" exec 3 systemctl --user show -p MainPID --value fleetd)
  for t in /proc/"$pid"/task/*; do cat "$t/wchan"; echo; done | grep -c poll_schedule
}
idle_readers=$(readers3)
"$FLEET_BIN/fleetctl" journal -f -n 0 --output cat talker >"$WORK/follow" 2>"$WORK/follow.err" &
follower=$!   # the fleetctl process itself (a shell function in the background would be a subshell)
PIDS+=("$follower")
wait_until 10 "journal -f prints new lines as machine 3's journal gets them" \
  bash -c "[ \$(grep -c '^beat' '$WORK/follow') -ge 3 ]"
check "journal -f is still following" kill -0 "$follower"
first=$(grep -m1 -o '[0-9]*$' "$WORK/follow"); last=$(tail -1 "$WORK/follow" | grep -o '[0-9]*$')
check "followed lines arrive in order ($first..$last)" test "$last" -gt "$first"
check "journal -f output carries no heartbeat bytes" bash -c "! grep -qP '\\x00' '$WORK/follow'"
check "while following, machine 3's fleetd runs one more journal reader" test "$(readers3)" -gt "$idle_readers"
kill "$follower"; wait "$follower" 2>/dev/null
export -f readers3; export RIGCMD
wait_until 10 "once the follower is gone, machine 3's fleetd stops its journal reader" \
  bash -c "[ \$(readers3) -le $idle_readers ]" || echo "    readers on machine 3: $(readers3), before following: $idle_readers"
run fleetctl journal
check "journal without a unit: 'One unit file must be provided.', exit 1" \
  test "$RC" -eq 1 -a "$ERR" = "One unit file must be provided."
run fleetctl journal everywhere.service
check "journal of a global unit: fleet's message, exit 1" \
  test "$RC" -eq 1 -a "$ERR" = "Unable to retrieve journal of global unit everywhere.service."
run fleetctl journal nope
check "journal of a missing unit: 'Unit nope.service does not exist.', exit 1" \
  test "$RC" -eq 1 -a "$ERR" = "Unit nope.service does not exist."
expect_fail "journal --output verbose is refused with the list of modes" "use one of short" \
  fleetctl journal --output verbose talker

# --- TLS flags, through a TLS-terminating proxy that wants a client certificate ---------------
# Each check names its own files: the dev cluster's admin certificate stays out of it.
unset FLEETCTL_CA_FILE FLEETCTL_CERT_FILE FLEETCTL_KEY_FILE
openssl req -x509 -newkey rsa:2048 -nodes -days 2 -subj /CN=fleet-test-ca -keyout ca.key -out ca.pem 2>/dev/null
openssl req -newkey rsa:2048 -nodes -subj /CN=127.0.0.1 -keyout server.key -out server.csr 2>/dev/null
printf 'subjectAltName=IP:127.0.0.1\n' >san.ext
openssl x509 -req -in server.csr -CA ca.pem -CAkey ca.key -CAcreateserial -days 2 -extfile san.ext -out server.pem 2>/dev/null
openssl req -newkey rsa:2048 -nodes -subj /CN=fleetctl -keyout client.key -out client.csr 2>/dev/null
openssl x509 -req -in client.csr -CA ca.pem -CAkey ca.key -CAcreateserial -days 2 -out client.pem 2>/dev/null
TLS_PORT=${FLEET_TEST_TLS_PORT:-14443}
socat "OPENSSL-LISTEN:$TLS_PORT,bind=127.0.0.1,reuseaddr,fork,cert=server.pem,key=server.key,cafile=ca.pem,verify=1" \
  "UNIX-CONNECT:${FLEETCTL_ENDPOINT#unix://}" 2>"$WORK/socat.log" &
PIDS+=($!)
wait_until 10 "TLS proxy listens on 127.0.0.1:$TLS_PORT" bash -c "echo >/dev/tcp/127.0.0.1/$TLS_PORT"
run fleetctl --endpoint "https://127.0.0.1:$TLS_PORT" --ca-file ca.pem --cert-file client.pem --key-file client.key list-machines --no-legend
check "https endpoint with --ca-file/--cert-file/--key-file lists 3 machines" test "$RC" -eq 0 -a "$(wc -l <<<"$OUT")" -eq 3
run env FLEETCTL_CA_FILE=ca.pem FLEETCTL_CERT_FILE=client.pem FLEETCTL_KEY_FILE=client.key \
  "$FLEET_BIN/fleetctl" --endpoint "https://127.0.0.1:$TLS_PORT" list-machines --no-legend
check "the same from FLEETCTL_CA_FILE/CERT_FILE/KEY_FILE" test "$RC" -eq 0 -a "$(wc -l <<<"$OUT")" -eq 3
run fleetctl --endpoint "https://127.0.0.1:$TLS_PORT" --etcd-cafile ca.pem --etcd-certfile client.pem --etcd-keyfile client.key list-machines --no-legend
check "fleet's deprecated --etcd-cafile/--etcd-certfile/--etcd-keyfile work too" test "$RC" -eq 0
run fleetctl --endpoint "https://127.0.0.1:$TLS_PORT" --request-timeout 2 --cert-file client.pem --key-file client.key list-units
check "without the CA the server is not trusted: one line on stderr saying so, exit 1" \
  bash -c "[ $RC -eq 1 ] && [ \$(wc -l <<<'$ERR') -eq 1 ] && grep -q CERTIFICATE_VERIFY_FAILED <<<'$ERR'"
run fleetctl --endpoint "https://127.0.0.1:$TLS_PORT" --request-timeout 2 --ca-file ca.pem list-machines
check "without a client certificate the proxy refuses: non-zero exit" test "$RC" -ne 0
run fleetctl --endpoint "https://127.0.0.1:$TLS_PORT" --ca-file missing.pem list-machines
check "a missing CA file: clear error naming it, exit 1" bash -c "[ $RC -eq 1 ] && grep -q 'cannot read the TLS files (missing.pem)' <<<'$ERR'"

# --- ssh and --tunnel: real OpenSSH, sshd on machine 3 -----------------------------------------
ssh-keygen -q -t ed25519 -N '' -f hostkey
ssh-keygen -q -t ed25519 -N '' -f id
cp id.pub authorized_keys
cat >sshd_config <<CONF
ListenAddress $a3
HostKey $WORK/hostkey
AuthorizedKeysFile $WORK/authorized_keys
StrictModes no
UsePAM no
PasswordAuthentication no
KbdInteractiveAuthentication no
PermitRootLogin prohibit-password
PidFile none
CONF
"$RIGCMD" exec 3 mkdir -m 755 -p /run/sshd
"$RIGCMD" exec 3 systemd-run --user --quiet --unit=test-sshd --collect /usr/sbin/sshd -D -e -f "$WORK/sshd_config"
eval "$(ssh-agent -a "$WORK/agent.sock" -s)" >/dev/null
PIDS+=("$SSH_AGENT_PID")
ssh-add -q id
wait_until 10 "sshd listens on machine 3" "$RIGCMD" exec 1 bash -c "echo >/dev/tcp/$a3/22"
# fleetctl runs on machine 1 (the machines' network), with the agent holding the key.
on1() { "$RIGCMD" exec 1 env SSH_AUTH_SOCK="$WORK/agent.sock" FLEETCTL_ENDPOINT="$FLEETCTL_ENDPOINT" "$FLEET_BIN/fleetctl" \
  --ssh-username root --known-hosts-file "$WORK/known_hosts" "$@"; }
run on1 --strict-host-key-checking=false ssh "${m3:0:6}" -- hostname
check "ssh MACHINE-PREFIX -- hostname runs on machine 3" test "$RC" -eq 0 -a "$OUT" = "$RIG-m3"
check "the new host key was recorded in --known-hosts-file" ssh-keygen -F "$a3" -f "$WORK/known_hosts"
run on1 ssh talker.service -- hostname
check "ssh UNIT runs on the unit's machine (known host, strict checking)" test "$RC" -eq 0 -a "$OUT" = "$RIG-m3"
run on1 ssh --unit talker -- 'exit 7'
check "ssh passes the remote command's exit status through (7)" test "$RC" -eq 7
run on1 ssh --machine "${m3:0:6}" --unit talker
check "ssh with --machine and --unit: fleet's message, exit 1" \
  test "$RC" -eq 1 -a "$ERR" = "Unable to proceed: Both machine and unit flags provided, please specify only one."
run on1 ssh zzzz-nothing
check "ssh to nothing: 'could not find matching unit or machine', exit 1" \
  test "$RC" -eq 1 -a "$ERR" = "Unable to proceed: could not find matching unit or machine"
sed "s|^\([^ ]*\) \([^ ]*\) .*|\1 \2 $(cut -d' ' -f2 id.pub)|" "$WORK/known_hosts" >"$WORK/known_hosts.bad"
run "$RIGCMD" exec 1 env SSH_AUTH_SOCK="$WORK/agent.sock" FLEETCTL_ENDPOINT="$FLEETCTL_ENDPOINT" "$FLEET_BIN/fleetctl" \
  --ssh-username root --known-hosts-file "$WORK/known_hosts.bad" ssh talker -- hostname
check "a changed host key is refused (OpenSSH's warning), non-zero exit" \
  bash -c "[ $RC -ne 0 ] && grep -q 'REMOTE HOST IDENTIFICATION HAS CHANGED' <<<'$ERR'"
sock3=$("$RIGCMD" dir 3)/fleet.sock
run on1 --tunnel "$a3" --endpoint "unix://$sock3" list-machines --no-legend
check "--tunnel HOST: the API of machine 3's socket through ssh -L lists 3 machines" \
  test "$RC" -eq 0 -a "$(wc -l <<<"$OUT")" -eq 3
run on1 --tunnel "$a3:2222" --endpoint "unix://$sock3" --ssh-timeout 2 list-machines
check "--tunnel to a port nobody listens on: one clear error, exit 1" \
  bash -c "[ $RC -eq 1 ] && grep -q 'Unable to initialize client: ssh tunnel to $a3:2222 failed' <<<'$ERR'"
# A new host with strict checking (issue 12): asked on standard input, as fleet did.
# onk FILE ARGS...: fleetctl on machine 1 with its own known-hosts FILE (empty at first).
onk() { local file=$1; shift; "$RIGCMD" exec 1 env SSH_AUTH_SOCK="$WORK/agent.sock" FLEETCTL_ENDPOINT="$FLEETCTL_ENDPOINT" \
  "$FLEET_BIN/fleetctl" --ssh-username root --known-hosts-file "$file" "$@"; }
run onk "$WORK/kh-no" --tunnel "$a3" --endpoint "unix://$sock3" list-machines --no-legend <<<"no"
check "--tunnel to a new host, answer no: exit 1" test "$RC" -eq 1
check "the question names the host" grep -q "The authenticity of host '$a3' can't be established" <<<"$ERR"
check "and the refusal is clear" grep -q "Host key verification failed: the key of $a3 was not accepted" <<<"$ERR"
check "nothing was recorded" bash -c "! ssh-keygen -F '$a3' -f '$WORK/kh-no' >/dev/null 2>&1"
run onk "$WORK/kh-eof" --tunnel "$a3" --endpoint "unix://$sock3" list-machines </dev/null
check "--tunnel to a new host, no input: refused, exit 1" test "$RC" -eq 1
run onk "$WORK/kh-yes" --tunnel "$a3" --endpoint "unix://$sock3" list-machines --no-legend <<<"yes"
check "--tunnel to a new host, answer yes: the tunnel works (3 machines)" test "$RC" -eq 0 -a "$(wc -l <<<"$OUT")" -eq 3
check "the key is recorded in --known-hosts-file" ssh-keygen -F "$a3" -f "$WORK/kh-yes"
run onk "$WORK/kh-yes" --tunnel "$a3" --endpoint "unix://$sock3" list-machines --no-legend </dev/null
check "then the host is known: no question, no input needed" bash -c "[ $RC -eq 0 ] && ! grep -q authenticity <<<'$ERR'"
run onk "$WORK/kh-ssh" ssh talker -- hostname <<<"yes"
check "ssh to a new host, answer yes on stdin: runs (no terminal needed)" test "$RC" -eq 0 -a "$OUT" = "$RIG-m3"
check "ssh recorded the key too" ssh-keygen -F "$a3" -f "$WORK/kh-ssh"
run onk "$WORK/kh-ssh-no" ssh talker -- hostname <<<"no"
check "ssh to a new host, answer no: exit 1" test "$RC" -eq 1
check "with fleetctl's message" grep -q 'Unable to proceed: Host key verification failed' <<<"$ERR"
run "$RIGCMD" exec 1 env PATH=/nonexistent "$FLEET_BIN/fleetctl" --endpoint "$FLEETCTL_ENDPOINT" ssh talker
check "without an ssh client: says to install openssh-client, exit 1" \
  bash -c "[ $RC -eq 1 ] && grep -q 'install openssh-client' <<<'$ERR'"

# --- the machine's own units are not fleet's to show (sshd here) ------------------------------
SOCK1=$("$RIGCMD" dir 1)/fleet.sock
for what in journal status; do
  run curl -s -o "$WORK/body" -w '%{http_code}' --unix-socket "$SOCK1" \
    "http://fleet/fleet/v1/units/test-sshd.service/$what?machineID=$m3"
  check "$what of machine 3's own test-sshd.service with ?machineID=: 404, not a fleet unit" \
    bash -c "[ '$OUT' = 404 ] && grep -q 'test-sshd.service is not a fleet unit' '$WORK/body'"
done
run fleetctl journal test-sshd.service
check "fleetctl journal test-sshd.service (not in the cluster): does not exist, exit 1" \
  test "$RC" -eq 1 -a "$ERR" = "Unit test-sshd.service does not exist."
printf '[Service]\nExecStart=/bin/sleep 100000\n[X-Fleet]\nMachineMetadata=role=logs\n' >test-sshd.service
check "submit a cluster unit named like machine 3's own test-sshd.service" fleetctl submit test-sshd.service
run fleetctl load --no-block test-sshd.service
wait_until 15 "machine 3's agent refuses it: list-units shows refused / host-unit" \
  bash -c "$FLEET_BIN/fleetctl list-units --no-legend --fields unit,load,sub | grep -Eq '^test-sshd.service\s+refused\s+host-unit'"
for what in journal status; do
  run fleetctl "$what" test-sshd.service
  check "fleetctl $what of the refused unit shows nothing of the host's: exit 1, the machine's own" \
    bash -c "[ $RC -eq 1 ] && grep -q \"is the machine's own, not fleet's\" <<<\"\$1\"" _ "$ERR"
done
check "the host's test-sshd still runs, untouched" "$RIGCMD" exec 3 systemctl --user is-active --quiet test-sshd
check "fleetd logged the refusal" bash -c "'$CLUSTER' logs 3 | grep -q 'refusing a unit that the host already has'"
"$RIGCMD" exec 3 systemctl --user stop test-sshd >/dev/null 2>&1

# --- a store an older fleetd left readable is tightened at start, with a log line ------------
"$RIGCMD" exec 1 systemctl --user kill -s KILL fleetd
chmod 644 "$D1DIR/fleet-data/store.db"; chmod 755 "$D1DIR/fleet-data"
"$RIGCMD" exec 1 systemctl --user reset-failed fleetd >/dev/null 2>&1
"$CLUSTER" start-fleetd 1
wait_until 20 "fleetd on machine 1 serves again after a restart" bash -c "'$FLEET_BIN/fleetctl' list-machines --no-legend | grep -c . | grep -qx 3"
check "the restart made store.db 0600 and the data directory 0700 again" \
  test "$(stat -c %a "$D1DIR/fleet-data/store.db") $(stat -c %a "$D1DIR/fleet-data")" = "600 700"
check "... and said so in its log" bash -c "grep -q 'store file was readable by other users; made it owner-only' '$D1DIR/fleetd.log' && grep -q 'data directory was open to other users' '$D1DIR/fleetd.log'"

check "destroy the test units" fleetctl destroy talker.service fails.service everywhere.service idle.service test-sshd.service
"$CLUSTER" down >/dev/null 2>&1
check "teardown leaves nothing behind" "$RIGCMD" leftovers
finish inspect
