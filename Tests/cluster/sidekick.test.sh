#!/usr/bin/env bash
# fleet's sidekick pattern against real systemd (issue 12, item 4): hello-discovery.service has
# [Install] WantedBy=hello.service, BindsTo=hello.service and [X-Fleet] MachineOf=hello.service.
# fleet enables a unit's [Install] section at runtime when it loads it, so on the machine that
# runs both, systemd itself starts the sidekick whenever hello starts and stops it with hello.
set -uo pipefail
HERE=$(cd "$(dirname "$0")" && pwd)
ROOT=$(cd "$HERE/../.." && pwd)
source "$HERE/lib.sh"
export RIG=${RIG:-fleetsidekick}
export FLEET_BIN=${FLEET_BIN:-$(cd "$ROOT" && swift build --show-bin-path)}
RIGCMD=$ROOT/scripts/rig
CLUSTER=$ROOT/scripts/dev-cluster
WORK=$(mktemp -d)
trap '"$CLUSTER" down >/dev/null 2>&1; rm -rf "$WORK"' EXIT

fleetctl() { "$FLEET_BIN/fleetctl" "$@"; }
machine_of() {  # machine_of UNIT: rig number of the machine the unit is placed on
  local id k
  id=$(fleetctl list-unit-files --full --no-legend --fields unit,target | awk -v u="$1" '$1==u {print $2}' | cut -d/ -f1)
  for k in 1 2; do [ "$("$RIGCMD" machine-id "$k")" = "$id" ] && { echo "$k"; return; }; done
  return 1
}
active_on() { "$RIGCMD" exec "$2" systemctl --user is-active -q "$1"; }
inactive_on() { ! active_on "$@"; }
linked_on() {  # linked_on K: the sidekick's WantedBy= link exists in machine K's runtime unit directory
  "$RIGCMD" exec "$1" sh -c 'test -L "$XDG_RUNTIME_DIR/systemd/user/hello.service.wants/hello-discovery.service"'
}

check "cluster of 2 machines comes up" "$CLUSTER" up 2
eval "$("$CLUSTER" env)"
cd "$WORK"
printf '[Unit]\nDescription=hello\n[Service]\nExecStart=/bin/sleep infinity\n' > hello.service
printf '%s\n' '[Unit]' 'Description=announces hello' 'BindsTo=hello.service' 'After=hello.service' \
  '[Service]' 'ExecStart=/bin/sleep infinity' '[Install]' 'WantedBy=hello.service' \
  '[X-Fleet]' 'MachineOf=hello.service' > hello-discovery.service

check "fleetctl starts hello and its sidekick" fleetctl start hello.service hello-discovery.service
K=$(machine_of hello.service)
check "both are placed on one machine (MachineOf)" test -n "$K" -a "$(machine_of hello-discovery.service)" = "$K"
K=${K:-1}
wait_until 20 "hello is active on machine $K" active_on hello.service "$K"
wait_until 20 "the sidekick is active on machine $K" active_on hello-discovery.service "$K"
check "the sidekick's [Install] section is enabled (runtime link)" linked_on "$K"

# systemd alone, behind fleet's back: BindsTo= stops the sidekick with hello, and the Wants=
# link that [Install] made starts it with hello again.
check "systemctl stop hello on its machine" "$RIGCMD" exec "$K" systemctl --user stop hello.service
wait_until 10 "the sidekick stopped with hello" inactive_on hello-discovery.service "$K"
check "systemctl start hello on its machine" "$RIGCMD" exec "$K" systemctl --user start hello.service
wait_until 10 "the sidekick started with hello, through systemd" active_on hello-discovery.service "$K"

# Unloading the sidekick disables its [Install] section again: hello then starts alone.
check "fleetctl unload the sidekick" fleetctl unload hello-discovery.service
wait_until 20 "the sidekick's link is gone" bash -c "! '$RIGCMD' exec $K sh -c 'test -e \"\$XDG_RUNTIME_DIR/systemd/user/hello.service.wants/hello-discovery.service\"'"
check "systemctl restart hello" "$RIGCMD" exec "$K" systemctl --user restart hello.service
check "hello runs without its unloaded sidekick" bash -c "'$RIGCMD' exec $K systemctl --user is-active -q hello.service && ! '$RIGCMD' exec $K systemctl --user is-active -q hello-discovery.service"
check "fleetctl destroy both" fleetctl destroy hello.service hello-discovery.service

"$CLUSTER" down >/dev/null 2>&1
trap - EXIT
finish sidekick
