#!/usr/bin/env bash
# fleetd's configuration file (issue 15 item 1): machine 2's fleetd restarted with
# --config FILE in fleet.conf syntax publishes the public IP and metadata from the file
# (list-machines shows them), reports fleet keys that mean nothing here, a flag overrides
# the file, --print-config names where each value came from, a bad file stops fleetd at
# start with file:line, and SIGHUP re-reads the file (a bad edit is logged, fleetd stays up).
set -uo pipefail
HERE=$(cd "$(dirname "$0")" && pwd)
ROOT=$(cd "$HERE/../.." && pwd)
source "$HERE/lib.sh"
export RIG=${RIG:-fleet-conftest}
export FLEET_BIN=${FLEET_BIN:-$(cd "$ROOT" && swift build --show-bin-path)}
RIGCMD=$ROOT/scripts/rig
CLUSTER=$ROOT/scripts/dev-cluster
# Under /var/tmp: the machines share it (each has its own /run).
WORK=$(mktemp -d /var/tmp/fleet-config-test.XXXXXX)
cleanup() {
  "$CLUSTER" down >/dev/null 2>&1
  rm -rf "$WORK"
}
trap cleanup EXIT

fleetctl() { "$FLEET_BIN/fleetctl" "$@"; }
on() { local k=$1; shift; "$RIGCMD" exec "$k" "$@"; }
has() { grep -qF -- "$1" <<<"$2"; }
# A loopback address: list-machines only shows it, nothing is sent there.
IP=127.0.2.2

check "cluster of 2 machines comes up" "$CLUSTER" up 2
eval "$("$CLUSTER" env)"
m2=$("$RIGCMD" machine-id 2)
LOG2=$("$RIGCMD" dir 2)/fleetd.log
# The machines share the host's /etc: dev-cluster must point fleetd at a file of its own.
pid1=$(on 1 systemctl --user show --property=MainPID --value fleetd)
check "dev-cluster's fleetd reads its machine's own fleet.conf, never /etc/fleet/fleet.conf" \
  grep -qzx "FLEET_CONFIG=$("$RIGCMD" dir 1)/fleet.conf" "/proc/$pid1/environ"

CONF=$WORK/fleet.conf
cat >"$CONF" <<CONF
# fleet.conf for machine 2, in fleet's syntax
public_ip="$IP"
metadata = role=file,disk=ssd   # scheduling metadata
token_limit=50
enable_grpc=true
CONF

machine2() { fleetctl list-machines --full --no-legend 2>/dev/null | grep -F "$m2"; }
shows() { has "$1" "$(machine2)"; }

# --- from the file -----------------------------------------------------------------------------
on 2 timeout 20 systemctl --user stop fleetd >/dev/null 2>&1
check "machine 2 restarts with --config" "$CLUSTER" start-fleetd 2 --config "$CONF"
wait_until 60 "list-machines shows machine 2 with the file's public IP" shows "$IP"
check "and the file's metadata" shows "disk=ssd,role=file"
wait_until 10 "fleetd logs the fleet key it ignores, with file and line" \
  grep -qF "$CONF:5: enable_grpc is ignored" "$LOG2"

# --- --print-config ------------------------------------------------------------------------------
PRINTED=$(on 2 env FLEET_TOKEN_LIMIT=60 "$FLEET_BIN/fleetd" --config "$CONF" --print-config --agent-ttl 7 2>&1)
check "--print-config exits 0 and names the file" has "# configuration file $CONF" "$PRINTED"
check "--print-config: public_ip from the file, with its line" \
  grep -qE "^public_ip = $IP +# file $CONF:2\$" <<<"$PRINTED"
check "--print-config: the flag wins" grep -qE "^agent_ttl = 7 +# flag --agent-ttl\$" <<<"$PRINTED"
check "--print-config: the environment beats the file" \
  grep -qE "^token_limit = 60 +# env FLEET_TOKEN_LIMIT\$" <<<"$PRINTED"
check "--print-config: defaults are marked" grep -qE "^prefix = /fleet +# default\$" <<<"$PRINTED"
check "--print-config: the ignored fleet key is listed" has "# enable_grpc = true" "$PRINTED"

# --- bad files stop fleetd before it starts anything -----------------------------------------------
printf 'public_ip=%s\nagent_tll=30s\n' "$IP" >"$WORK/typo.conf"
expect_fail "an unknown key is refused with file, line and a suggestion" \
  "$WORK/typo.conf:2: unknown key 'agent_tll' (did you mean 'agent_ttl'?)" \
  on 2 "$FLEET_BIN/fleetd" --config "$WORK/typo.conf"
printf 'agent_ttl=forever\n' >"$WORK/bad.conf"
expect_fail "a bad value is refused with file and line" "$WORK/bad.conf:1: agent_ttl must be" \
  on 2 "$FLEET_BIN/fleetd" --config "$WORK/bad.conf" --print-config
expect_fail "a missing named file is refused" "no such file" on 2 "$FLEET_BIN/fleetd" --config "$WORK/absent.conf"

# --- a flag overrides the file ------------------------------------------------------------------------
on 2 timeout 20 systemctl --user stop fleetd >/dev/null 2>&1
check "machine 2 restarts with --config and --metadata" "$CLUSTER" start-fleetd 2 --config "$CONF" --metadata role=flag
wait_until 60 "list-machines shows the flag's metadata" shows "role=flag"
check "and still the file's public IP" shows "$IP"
check "and not the file's metadata" bash -c "! grep -qF disk=ssd <<<'$(machine2)'"

# --- SIGHUP re-reads the file ------------------------------------------------------------------------------
hup() { on 2 systemctl --user kill --signal=HUP fleetd; }
printf 'public_ip=%s\nverbosity=1\ncolour=blue\n' "$IP" >"$CONF"
check "SIGHUP with a broken file" hup
wait_until 10 "the failed reload is logged with file and line" grep -qF "$CONF:3: unknown key 'colour'" "$LOG2"
check "fleetd keeps running" on 2 systemctl --user is-active --quiet fleetd
check "machine 2 stays listed" shows "$IP"
# Only verbosity changes (the flag still beats the file's metadata): applied without a restart.
printf 'public_ip=%s\nmetadata=role=new\ntoken_limit=50\nenable_grpc=true\nverbosity=1\n' "$IP" >"$CONF"
check "SIGHUP with a good file" hup
# verbosity=1 applies at once: the re-read file's value, logged as the new level.
wait_until 10 "the reload applies the file's verbosity" grep -qF "fleetd.log_level=debug [fleetd] configuration reloaded" "$LOG2"

finish "config"
