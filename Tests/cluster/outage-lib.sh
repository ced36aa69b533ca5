# Shared by Tests/cluster/outage.test.sh and scripts/outage-soak: a machine that comes back
# after an outage keeps its units (issue 12, item 1), measured by main PID and by the machine's
# own journal, never by what fleet reports.
#
# The caller sets RIGCMD, CLUSTER, FLEET_BIN, FLEET_AGENT_TTL, brings a 3-machine cluster up,
# exports FLEETCTL_ENDPOINT, then calls outage_setup once and outage_cut / outage_freeze per
# round. Each round prints one line per finding ("violation ..." or "ok ...") and returns 1 if
# it found a violation. The cut-off machine is OUTAGE_M (3: never machine 1, the embedded
# store's holder).
OUTAGE_M=${OUTAGE_M:-3}
OUTAGE_UNITS="global.service pinned.service single@1.service single@2.service single@3.service"

outage_fleetctl() { timeout 20 "$FLEET_BIN/fleetctl" "$@"; }
outage_pid() { "$RIGCMD" exec "$2" systemctl --user show -p MainPID --value "$1" 2>/dev/null; }
outage_active() { "$RIGCMD" exec "$2" systemctl --user is-active -q "$1"; }
outage_copies() {  # outage_copies UNIT: on how many machines systemd runs it
  local n=0 k
  for k in 1 2 3; do outage_active "$1" "$k" && n=$((n + 1)); done
  echo $n
}
outage_target() {  # outage_target UNIT: its target as list-unit-files shows it (ID/IP)
  outage_fleetctl list-unit-files --full --no-legend --fields unit,target | awk -v u="$1" '$1==u {print $2}'
}
outage_assigned() {  # outage_assigned MACHINE-ID UNIT: the engine's assignment key exists (keys API on machine 1)
  # Its own curl, not lib.sh's mcurl: scripts/outage-soak sources this file alone.
  # shellcheck disable=SC2086 # FLEET_CURL_TLS is several arguments
  "$RIGCMD" exec 1 curl ${FLEET_CURL_TLS:-} -sf --max-time 3 "$FLEET_KEYS_URL/v2/keys/fleet/schedule/$1/$2" >/dev/null
}
outage_one_copy() { [ "$(outage_copies "$1")" -eq 1 ]; }
outage_machines_up() { [ "$(outage_fleetctl list-machines --no-legend 2>/dev/null | wc -l)" -eq 3 ]; }

# outage_wait SECONDS CMD...: polls CMD every 100 ms; 0 if it held in time.
outage_wait() {
  local deadline=$(( $(date +%s%N) + $1 * 1000000000 )); shift
  until "$@" >/dev/null 2>&1; do
    [ "$(date +%s%N)" -ge $deadline ] && return 1
    sleep 0.1
  done
}

# outage_journal K SINCE_EPOCH: the manager's stop/start lines about fleet's test units on K.
outage_journal() {
  "$RIGCMD" exec "$1" journalctl --no-pager --quiet -o cat --since "@$2" 2>/dev/null \
    | grep -E "(Stopping|Stopped|Starting|Started) (global|pinned|fenced|single@[0-9]+)\.service" || true
}

# outage_setup: a global unit, a unit only machine OUTAGE_M may run, a fenced one pinned there
# too, and three that may run anywhere; all running.
outage_setup() {
  local dir id; dir=$(mktemp -d); id=$("$RIGCMD" machine-id "$OUTAGE_M")
  printf '[Service]\nExecStart=/bin/sleep infinity\n[X-Fleet]\nGlobal=true\n' >"$dir/global.service"
  printf '[Service]\nExecStart=/bin/sleep infinity\n[X-Fleet]\nMachineID=%s\n' "$id" >"$dir/pinned.service"
  printf '[Service]\nExecStart=/bin/sleep infinity\nTimeoutStopSec=1\n[X-Fleet]\nMachineID=%s\nIsolation=stop\n' "$id" >"$dir/fenced.service"
  printf '[Service]\nExecStart=/bin/sleep infinity\n' >"$dir/single@.service"
  (cd "$dir" && outage_fleetctl start global.service pinned.service fenced.service \
    single@1.service single@2.service single@3.service >/dev/null)
  local rc=$?
  rm -rf "$dir"
  [ $rc -eq 0 ] || return 1
  outage_wait 20 outage_all_running
}

outage_all_running() {
  local k u
  for k in 1 2 3; do outage_active global.service "$k" || return 1; done
  for u in pinned.service fenced.service; do outage_active "$u" "$OUTAGE_M" || return 1; done
  for u in single@1.service single@2.service single@3.service; do outage_one_copy "$u" || return 1; done
}

# outage_snapshot: "K UNIT PID" for every test unit running anywhere.
outage_snapshot() {
  local k u p
  for k in 1 2 3; do
    for u in $OUTAGE_UNITS fenced.service; do
      p=$(outage_pid "$u" "$k")
      [ -n "$p" ] && [ "$p" != 0 ] && echo "$k $u $p"
    done
  done
}

# outage_kept BEFORE UNITS...: prints a violation for each of UNITS whose "K UNIT PID" line in
# BEFORE is not running with the same PID now. Returns 1 if any.
outage_kept() {
  local before=$1 bad=0 k u p now; shift
  while read -r k u p; do
    [ -n "$k" ] || continue
    case " $* " in *" $u "*) ;; *) continue ;; esac
    now=$(outage_pid "$u" "$k")
    if [ "$now" != "$p" ]; then echo "violation $u on machine $k restarted or stopped (main PID $p -> ${now:-none})"; bad=1; fi
  done <<<"$before"
  return $bad
}

# outage_cut SECONDS: machine OUTAGE_M cut off for SECONDS (> TTL), then mended. Its global and
# pinned units must keep their main PIDs, with no stop/start in its journal; the fenced unit
# stops during the cut and runs there again after; units moved away while it was cut off run on
# exactly one machine; nothing flaps for 2 TTLs after it is back.
outage_cut() {
  local seconds=$1 m=$OUTAGE_M bad=0 u since before moved=""
  outage_wait 30 outage_all_running || { echo "violation cut: units not all running before the cut"; return 1; }
  before=$(outage_snapshot)
  for u in single@1.service single@2.service single@3.service; do outage_active "$u" "$m" && moved="$moved $u"; done
  since=$(date +%s)
  "$RIGCMD" cut "$m"
  sleep "$seconds"
  local fenced_down=0
  outage_active fenced.service "$m" || fenced_down=1
  # Before it is back, the cluster must still have the units it cannot move placed there; else
  # the machine's return races the engine's re-assignment (that race restarted them).
  local id; id=$("$RIGCMD" machine-id "$m")
  outage_target pinned.service | grep -q "^$id" \
    || { echo "violation cut: pinned.service was unscheduled from machine $m while it was away"; bad=1; }
  outage_assigned "$id" global.service \
    || { echo "violation cut: global.service was unassigned from machine $m while it was away"; bad=1; }
  "$RIGCMD" mend "$m"
  outage_wait 30 outage_machines_up || { echo "violation cut: machine $m not back within 30 s"; bad=1; }
  [ $fenced_down -eq 1 ] || { echo "violation cut: fenced.service still ran on machine $m after ${seconds}s cut off"; bad=1; }
  outage_wait 15 outage_active fenced.service "$m" || { echo "violation cut: fenced.service not started again on machine $m"; bad=1; }
  for u in $moved; do
    outage_wait 10 outage_one_copy "$u"
    [ "$(outage_copies "$u")" -eq 1 ] || { echo "violation cut: $u (moved away) runs on $(outage_copies "$u") machines"; bad=1; }
  done
  # Converged without flapping: the same PIDs for two TTLs after the return.
  local until=$((SECONDS + 2 * FLEET_AGENT_TTL))
  while [ $SECONDS -lt $until ]; do
    outage_kept "$before" global.service pinned.service >/dev/null || break
    sleep 0.5
  done
  outage_kept "$before" global.service pinned.service || bad=1
  local lines; lines=$(outage_journal "$m" "$since" | grep -E "(global|pinned)\.service" || true)
  [ -z "$lines" ] || { echo "violation cut: machine $m's journal shows: $(echo "$lines" | tr '\n' ';')"; bad=1; }
  [ $bad -eq 1 ] || echo "ok cut ${seconds}s: machine $m kept global and pinned (same PIDs, quiet journal); fenced stopped and restarted;${moved:+ moved:$moved}"
  return $bad
}

# outage_freeze SECONDS: the store unreachable for SECONDS (< TTL): nothing unfenced may stop or
# restart anywhere, by PID and by every machine's journal, for two TTLs after.
outage_freeze() {
  local seconds=$1 bad=0 k since before
  outage_wait 30 outage_all_running || { echo "violation freeze: units not all running before the freeze"; return 1; }
  before=$(outage_snapshot)
  since=$(date +%s)
  "$CLUSTER" store-outage "$seconds" >/dev/null
  sleep $((2 * FLEET_AGENT_TTL))
  # shellcheck disable=SC2086 # a list of unit names
  outage_kept "$before" $OUTAGE_UNITS || bad=1
  for k in 1 2 3; do
    local lines; lines=$(outage_journal "$k" "$since" | grep -v fenced || true)
    [ -z "$lines" ] || { echo "violation freeze: machine $k's journal shows: $(echo "$lines" | tr '\n' ';')"; bad=1; }
  done
  [ $bad -eq 1 ] || echo "ok freeze ${seconds}s: no unfenced unit stopped or restarted on any machine"
  return $bad
}
