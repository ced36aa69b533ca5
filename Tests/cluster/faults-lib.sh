# Fault injection on a dev-cluster, and the invariant checker that judges it.
# Sourced by Tests/cluster/faults.test.sh (the short CI run) and scripts/fault-soak (the long run).
#
# While a scenario runs, two background loops write to $FAULT_DIR:
#   samples.log  the sampler: every ~200 ms each machine's OWN systemd is asked (over its user
#                bus, from the root namespace, so a cut network does not blind it) for fleetd and
#                every unit named fz-*: "S <round ms> <machine> <unit> <ActiveState> <MainPID> <NRestarts>"
#                ("S <ms> <k> - error - -" when that machine's manager did not answer)
#   events.log   the scenario and the workload: "E <ms> <what> ..." (faults, machines down/up,
#                fleetctl operations and their exit codes, leader handovers, the final unit list)
# Afterwards `fault_analyse` replays both logs and prints "violation <invariant> <text>" and
# "metric <name> <value>" lines; the invariants are the ones of issue 11 (see `fault_analyse`).
#
# The caller sets RIGCMD, CLUSTER, FLEET_BIN, FAULT_DIR, FAULT_TTL (the agent TTL in seconds),
# FAULT_N (machines) and FLEET_STORE (embedded|etcd), and works in a directory holding the
# unit files (fleetctl start submits them from there).

FAULT_PREFIX=fz-
# The engine lease's TTL is the agent TTL (fleetd sets it so); FAULT_LEASE_TTL overrides it.

fault_now() { local t=${EPOCHREALTIME/./}; echo $((t / 1000)); }
fault_event() { echo "E $(fault_now) $*" >>"$FAULT_DIR/events.log"; }
fault_fleetctl() { "$FLEET_BIN/fleetctl" "$@"; }
fault_socket() { echo "$("$RIGCMD" dir "$1")/fleet.sock"; }

# fault_machine_of UNIT: the rig number of the machine the unit is placed on (list-unit-files).
fault_machine_of() {
  local id k
  id=$(fault_fleetctl list-unit-files --full --no-legend --fields unit,target 2>/dev/null |
    awk -v u="$1" '$1==u {print $2}' | cut -d/ -f1)
  [ -n "$id" ] && [ "$id" != - ] || return 1
  for k in $(seq "$FAULT_N"); do [ "$("$RIGCMD" machine-id "$k")" = "$id" ] && { echo "$k"; return 0; }; done
  return 1
}

# fault_unit_file NAME [X-Fleet lines...]: a long-running unit file in the working directory.
fault_unit_file() {
  local name=$1; shift
  { printf '[Service]\nExecStart=/bin/sleep infinity\n'
    [ $# -gt 0 ] && printf '\n[X-Fleet]\n' && printf '%s\n' "$@"; } >"$name"
}

# ---- the sampler ---------------------------------------------------------------------------

# fault_sampler_start: samples every machine's systemd every ~200 ms until fault_sampler_stop.
# One `systemctl show` per machine and round reads fleetd and every fz-* unit at once (state,
# main PID, restarts), straight from that machine's manager: what runs, not what fleet believes.
fault_sampler_start() {
  rm -f "$FAULT_DIR/stop-sampler"
  (
    local -a xdg
    local k t out o next off
    for k in $(seq "$FAULT_N"); do xdg[k]=$("$RIGCMD" dir "$k")/xdg; done
    # systemd stamps a unit's activation on CLOCK_MONOTONIC (shared by the rig's machines);
    # this offset turns the stamp into the wall-clock milliseconds the events are logged in
    off=$(python3 -c 'import time; print(int((time.time() - time.monotonic()) * 1e6))')
    while [ ! -e "$FAULT_DIR/stop-sampler" ]; do
      t=$(fault_now); out=""
      for k in $(seq "$FAULT_N"); do
        if o=$(XDG_RUNTIME_DIR=${xdg[k]} DBUS_SESSION_BUS_ADDRESS=unix:path=${xdg[k]}/bus timeout 2 \
          systemctl --user show -p Id,ActiveState,MainPID,NRestarts,ActiveEnterTimestampMonotonic fleetd.service "$FAULT_PREFIX*" 2>/dev/null); then
          out+="#M $k"$'\n'"$o"$'\n\n'
        else
          out+="#X $k"$'\n\n'
        fi
      done
      # Blocks of "Key=Value" lines, one block per unit, in any property order.
      awk -v t="$t" -v off="$off" 'BEGIN { RS = ""; FS = "\n" }
        /^#X/ { split($1, a, " "); print "S", t, a[2], "-", "error", "-", "-", "-"; next }
        /^#M/ { split($1, a, " "); k = a[2]; $0 = substr($0, length($1) + 2); if ($0 == "") next }
        { id = "-"; st = "-"; pid = "-"; nr = "-"; en = "-"
          for (i = 1; i <= NF; i++) {
            p = index($i, "="); key = substr($i, 1, p - 1); v = substr($i, p + 1)
            if (key == "Id") id = v; else if (key == "ActiveState") st = v
            else if (key == "MainPID") pid = v; else if (key == "NRestarts") nr = v
            else if (key == "ActiveEnterTimestampMonotonic" && v + 0 > 0) en = sprintf("%.0f", (v + off) / 1000)
          }
          if (id != "-") print "S", t, k, id, st, pid, nr, en }' <<<"$out" >>"$FAULT_DIR/samples.log"
      next=$((t + 200 - $(fault_now)))
      [ $next -gt 0 ] && sleep "0.$(printf '%03d' "$next")"
    done
  ) &
  FAULT_SAMPLER=$!
}

fault_sampler_stop() {
  touch "$FAULT_DIR/stop-sampler"
  [ -n "${FAULT_SAMPLER:-}" ] && wait "$FAULT_SAMPLER" 2>/dev/null
  FAULT_SAMPLER=
}

# ---- the workload: units started and stopped while faults happen -------------------------

# fault_workload_start UNIT...: alternates `fleetctl start/stop --no-block` on the units (each
# a file in the working directory), through each machine's API in turn, until
# fault_workload_stop. Every operation is logged with its exit code: exit 0 is an acknowledged
# write, which must never be lost. A failed operation is tried again on the unit's next turn.
fault_workload_start() {
  rm -f "$FAULT_DIR/stop-workload"
  local u
  for u in "$@"; do fault_event workload "$u"; done
  (
    local -a units=("$@")
    local -A did=()
    local i=0 u k op rc
    while [ ! -e "$FAULT_DIR/stop-workload" ]; do
      u=${units[i % ${#units[@]}]}; k=$((i % FAULT_N + 1)); i=$((i + 1))
      if [ "${did[$u]:-stop}" = stop ]; then op=start; else op=stop; fi
      fault_event begin "$op" "$u" "$k"
      timeout 20 "$FLEET_BIN/fleetctl" --endpoint "unix://$(fault_socket "$k")" --request-timeout 3 \
        "$op" --no-block "$u" >/dev/null 2>&1
      rc=$?
      fault_event end "$op" "$u" "$k" "$rc"
      [ $rc -eq 0 ] && did[$u]=$op
      sleep 0.3
    done
  ) &
  FAULT_WORKLOAD=$!
}

fault_workload_stop() {
  touch "$FAULT_DIR/stop-workload"
  [ -n "${FAULT_WORKLOAD:-}" ] && wait "$FAULT_WORKLOAD" 2>/dev/null
  FAULT_WORKLOAD=
}

# ---- helpers the faults use ---------------------------------------------------------------

# fault_fleetd_pid K: fleetd's main PID on machine K (the rig has no PID namespace).
fault_fleetd_pid() {
  "$RIGCMD" exec "$1" systemctl --user show -p MainPID --value fleetd.service
}

# fault_wait_api K SECONDS: machine K's fleetd answers its API (it answers 503 until registered).
fault_wait_api() {
  local deadline=$((SECONDS + $2))
  until "$FLEET_BIN/fleetctl" --endpoint "unix://$(fault_socket "$1")" --request-timeout 1 list-machines >/dev/null 2>&1; do
    [ $SECONDS -ge "$deadline" ] && return 1
    sleep 0.2
  done
}

# fault_lease_holder [SKIP]: the machine number holding lease/engine-leader, read through the keys
# API that every fleetd serves on its API socket, asking any machine but SKIP (a frozen one).
fault_lease_holder() {
  local k id m
  for k in $(seq "$FAULT_N"); do
    [ "$k" = "${1:-}" ] && continue
    id=$(curl -sf -m 1 --unix-socket "$(fault_socket "$k")" http://fleet/v2/keys/fleet/lease/engine-leader |
      sed -n 's/.*"value":"\([0-9a-f]*\)".*/\1/p') || continue
    [ -n "$id" ] || continue
    for m in $(seq "$FAULT_N"); do [ "$("$RIGCMD" machine-id "$m")" = "$id" ] && { echo "$m"; return 0; }; done
  done
  return 1
}

# fault_non_leader: a machine among 2 and 3 that does not hold the engine lease (machine 1 holds
# the embedded store), so that losing it tests a machine's loss, not the leader's.
fault_non_leader() {
  local l
  l=$(fault_lease_holder) || l=0
  if [ "$l" = 2 ]; then echo 3; else echo 2; fi
}

# fault_settle BEGIN_MS END_MS: waits until the checks a fault schedules have been sampled
# (TTL + 1 s after it began, 5 s after it healed), plus a second of margin.
fault_settle() {
  local until_ms=$(($1 + FAULT_TTL * 1000 + 2000)) wait_ms
  [ $((${2} + 6000)) -gt $until_ms ] && until_ms=$(($2 + 6000))
  wait_ms=$((until_ms - $(fault_now)))
  [ $wait_ms -gt 0 ] && sleep "$((wait_ms / 1000)).$(printf '%03d' $((wait_ms % 1000)))"
  return 0
}

# fault_class SECONDS: "short" when an outage of SECONDS is shorter than the agent TTL (nothing
# may move), otherwise "loss" (the machine's units must be re-placed).
fault_class() { if [ "$1" -lt "$FAULT_TTL" ]; then echo short; else echo loss; fi; }

# ---- the faults (each bounded; each logs begin/end and which machines were unreachable) ----

# fault_kill_fleetd K [DOWN_SECONDS]: kill -9 of fleetd on K, restarted after DOWN_SECONDS (2).
# Down longer than the TTL, the machine is lost while its units keep running (orphans): they
# must run elsewhere within TTL + 1 s, and the restarted fleetd must leave one copy of each.
fault_kill_fleetd() {
  local k=$1 down=${2:-2} b kind=kill9 class
  class=$(fault_class "$down")
  [ "$k" = 1 ] && kind=kill9-m1
  [ "$class" = loss ] && kind=$kind-long
  b=$(fault_now)
  fault_event fault begin "$kind" "$class" "$k" "$down"
  fault_event down "$k" kill9
  fault_event fleetd-down "$k"
  "$RIGCMD" exec "$k" systemctl --user kill -s KILL fleetd >/dev/null 2>&1 ||
    fault_event violation scenario "could not kill fleetd on m$k"
  sleep "$down"
  # The killed unit is collected (--collect); start-fleetd runs it again under the same name.
  local tries=0
  until "$CLUSTER" start-fleetd "$k" >/dev/null 2>&1; do
    tries=$((tries + 1)); [ $tries -ge 10 ] && break; sleep 0.2
  done
  fault_wait_api "$k" 30 || fault_event violation scenario "fleetd on m$k did not answer within 30 s of its restart"
  fault_event fleetd-up "$k"
  fault_event up "$k" kill9
  fault_event fault end "$kind"
  fault_settle "$b" "$(fault_now)"
}

# fault_cut K SECONDS: machine K's network down for SECONDS, then back.
fault_cut() {
  local k=$1 s=$2 b class
  class=$(fault_class "$s")
  b=$(fault_now)
  fault_event fault begin "cut-$class" "$class" "$k" "$s"
  fault_event down "$k" cut
  "$RIGCMD" cut "$k"
  sleep "$s"
  "$RIGCMD" mend "$k"
  fault_event up "$k" cut
  fault_event fault end "cut-$class"
  fault_settle "$b" "$(fault_now)"
}

# fault_freeze_seconds: how long to freeze the leader so that another engine can take the lease
# before the thaw: the lease runs out at most a lease TTL after the freeze, and another engine
# takes it at its next wake-up (at the latest its tick, every third of the TTL); 2 s of margin.
fault_freeze_seconds() { local lease=${FAULT_LEASE_TTL:-$FAULT_TTL}; echo $((lease + lease / 3 + 2)); }

# fault_freeze_leader SECONDS: SIGSTOP of the engine leader's fleetd for SECONDS (past its lease
# when SECONDS > the lease TTL), then SIGCONT. Logs when another machine took the lease.
fault_freeze_leader() {
  local s=$1 l pid b l2="" end
  l=$(fault_lease_holder) || { fault_event violation scenario "no engine leader found before freezing it"; return 1; }
  pid=$(fault_fleetd_pid "$l")
  b=$(fault_now)
  fault_event fault begin freeze-leader "$(fault_class "$s")" "$l" "$s"
  fault_event down "$l" freeze
  kill -STOP "$pid"
  end=$((b + s * 1000))
  while [ "$(fault_now)" -lt $end ]; do
    if [ -z "$l2" ] && l2=$(fault_lease_holder "$l") && [ "$l2" != "$l" ]; then
      fault_event leader "$l" "$l2" $(($(fault_now) - b))
    else
      [ "${l2:-}" = "$l" ] && l2=""
    fi
    sleep 0.2
  done
  kill -CONT "$pid"
  [ -n "$l2" ] || fault_event leader "$l" none -1
  fault_event up "$l" freeze
  fault_event fault end freeze-leader
  fault_settle "$b" "$(fault_now)"
}

# fault_store_outage SECONDS: the store unreachable (dev-cluster store-outage): on the embedded
# store machine 1 is cut off; on etcd every member is frozen.
fault_store_outage() {
  local s=$1 b target=0
  [ "${FLEET_STORE:-embedded}" = etcd ] || target=1
  b=$(fault_now)
  fault_event fault begin store-outage "$(fault_class "$s")" "$target" "$s"
  [ $target = 1 ] && fault_event down 1 store-outage
  "$CLUSTER" store-outage "$s"
  [ $target = 1 ] && fault_event up 1 store-outage
  fault_event fault end store-outage
  fault_settle "$b" "$(fault_now)"
}

# fault_etcd_member M [DOWN_SECONDS]: kill -9 of etcd member M, restarted on its data after
# DOWN_SECONDS (2); the other two keep a quorum, so fleet should not notice.
fault_etcd_member() {
  local m=$1 down=${2:-2} b
  b=$(fault_now)
  fault_event fault begin etcd-kill9 short 0 "$down"
  "$CLUSTER" etcd kill "$m" KILL >/dev/null || fault_event violation scenario "could not kill etcd member $m"
  sleep "$down"
  "$CLUSTER" etcd restart "$m" >/dev/null || fault_event violation scenario "etcd member $m did not come back"
  fault_event fault end etcd-kill9
  fault_settle "$b" "$(fault_now)"
}

# fault_final_state: records list-unit-files (unit and desired state) for the acknowledged-write
# check, asking each machine in turn until one answers, and any crash in fleetd's logs.
fault_final_state() {
  local k out answered="" line
  for k in $(seq "$FAULT_N"); do
    out=$("$FLEET_BIN/fleetctl" --endpoint "unix://$(fault_socket "$k")" --request-timeout 5 \
      list-unit-files --no-legend --fields unit,dstate 2>/dev/null) || continue
    while read -r u d; do [ -n "$u" ] && fault_event final "$u" "$d"; done <<<"$out"
    fault_event final-done "$k"
    answered=$k
    break
  done
  [ -n "$answered" ] || fault_event violation scenario "no machine answered list-unit-files at the end"
  # A crash that the scenario's own kills would hide from the samples still leaves its trace.
  for k in $(seq "$FAULT_N"); do
    line=$(grep -m1 -E 'Fatal error|Segmentation fault|Illegal instruction|Trace/breakpoint|SIGABRT' \
      "$("$RIGCMD" dir "$k")/fleetd.log" 2>/dev/null) &&
      fault_event violation 6 "fleetd on m$k crashed: $line"
  done
  return 0
}

# fault_reseed TAG: a fresh batch of stable units (fz-TAG-a, fz-TAG-b, fz-TAG-c with
# Isolation=stop) in place of the previous batch, which is destroyed. Fleet never moves units
# back, so a machine that was lost is empty afterwards; new units go to the least loaded
# machines, so the next loss has units to re-place.
fault_reseed() {
  local u batch="fz-$1-a.service fz-$1-b.service fz-$1-c.service"
  if [ -n "${FAULT_BATCH:-}" ]; then
    for u in $FAULT_BATCH; do fault_event unstable "$u"; done
    # shellcheck disable=SC2086 # a list of unit names
    timeout 30 "$FLEET_BIN/fleetctl" destroy $FAULT_BATCH >/dev/null 2>&1 ||
      fault_event violation scenario "could not destroy $FAULT_BATCH"
  fi
  fault_unit_file "fz-$1-a.service"; fault_unit_file "fz-$1-b.service"
  fault_unit_file "fz-$1-c.service" "Isolation=stop"; fault_event fenced "fz-$1-c.service"
  # shellcheck disable=SC2086 # a list of unit names
  if timeout 60 "$FLEET_BIN/fleetctl" start --block-attempts 20 $batch >/dev/null 2>&1; then
    for u in $batch; do fault_event stable "$u"; done
  else
    fault_event violation scenario "the batch $batch did not start"
  fi
  FAULT_BATCH=$batch
}

# ---- the analyser -------------------------------------------------------------------------

# fault_analyse: replays events.log and samples.log; prints one line per violation,
#   violation <1-6|scenario> <text>
# and the measurements as "metric <name> <value>". The invariants:
#   1  every launched unit is active on some reachable machine by TTL + 1 s after a fault began
#   2  every launched unit runs on exactly one machine 5 s after the fault healed
#   3  a fenced unit ([X-Fleet] Isolation=stop) never runs on two machines in one sample round
#   4  an outage shorter than the TTL stops or restarts (main PID change) nothing on a machine
#      it did not hit; except that fenced units may be stopped everywhere by a store-wide outage
#      that reaches the fence point (TTL - max(1 s, TTL/10)), and must then run again (1, 2)
#   5  no acknowledged write is lost: every unit whose fleetctl start/stop exited 0 is still in
#      list-unit-files at the end, with the desired state of its last acknowledged operation
#   6  fleetd never exits on its own: active, same main PID, no restarts, on every machine
#      except between a scenario's kill and restart of it
# "Launched" means: a unit started before the scenario and never touched (stable), or a workload
# unit whose last operation before the fault was an acknowledged start and which the workload
# did not touch again before the check. "Reachable" means the machine was not cut off, frozen,
# or without fleetd at that moment. Units are "running" in any of active, activating,
# deactivating, reloading; a copy counts for invariants 1 and 2 only when active.
fault_analyse() {
  sort -s -n -k2,2 "$FAULT_DIR/events.log" >"$FAULT_DIR/events.sorted"
  awk -v ttl="$FAULT_TTL" -v n="$FAULT_N" -v store="${FLEET_STORE:-embedded}" '
    function viol(inv, text) { print "violation", inv, text; nviol++ }
    function steady(u, a, b,    i, last) {
      if (u in stable) return stable[u] < a && unstable[u] > b
      if (!(u in opn)) return 0
      last = 0
      for (i = 1; i <= opn[u]; i++) {
        if (ob[u, i] < a) last = i
        else if (ob[u, i] <= b) return 0
      }
      return last && opk[u, last] == "start" && orc[u, last] == 0 && oe[u, last] < a
    }
    function reach(k, t,    i) {
      for (i = 1; i <= nd[k]; i++) if (t >= ds[k, i] && t <= de[k, i]) return 0
      return 1
    }
    # state(k, u): reading st[k, u] would create the element, so every read goes through here.
    function state(k, u) { return ((k, u) in st) ? st[k, u] : "" }
    function running(s) { return s == "active" || s == "activating" || s == "deactivating" || s == "reloading" }
    function where(u,    k, s) {
      s = ""
      for (k = 1; k <= n; k++) if ((k, u) in st) s = s " m" k "=" st[k, u]
      return s == "" ? " nowhere" : s
    }
    function pct(arr, cnt, p,    i, j, x, idx) {   # arr is sorted in place (insertion sort)
      if (cnt == 0) return "-"
      for (i = 2; i <= cnt; i++) { x = arr[i]; j = i - 1; while (j >= 1 && arr[j] > x) { arr[j + 1] = arr[j]; j-- } arr[j + 1] = x }
      idx = int((cnt * p + 99) / 100); if (idx < 1) idx = 1; if (idx > cnt) idx = cnt
      return arr[idx]
    }
    function rel(f, t) { return "+" (t - fb[f]) "ms" }
    function flush2(u) {
      if (again2[u]) viol(2, u ": the copies last reported (" substr(last2[u], 2) ") were still there at the next " again2[u] " after-heal checks")
      again2[u] = 0; last2[u] = ""
    }
    # A fault that takes the whole store away (machine 1 on the embedded store) for about the
    # fence point or longer (the agent TTL less max(1 s, TTL/10)) rightly stops fenced units
    # everywhere: no machine can tell it from being cut off itself. A killed fleetd needs about
    # 2 s more to serve again.
    function fencedmaystop(f,    eff) {
      if (!(fkind[f] ~ /outage/ || (fkind[f] ~ /^kill9-m1/ && store != "etcd"))) return 0
      eff = fsecs[f] + (fkind[f] ~ /^kill9/ ? 2 : 0.5)
      return eff >= ttl - (ttl / 10 > 1 ? ttl / 10 : 1)
    }
    function fname(f) { return fkind[f] " " fsecs[f] "s" (ftarget[f] ? " of m" ftarget[f] : "") }
    function at(t) { return "run+" sprintf("%.1f", (t - t0) / 1000) "s" }
    # One sample round (all machines) at time T, in st/pid/sampled.
    function round(T,    k, u, f, i, c, on, s, ok, p, key, e) {
      rounds++
      if (firstT == "") firstT = T
      lastT = T
      # 6: fleetd on each machine
      for (k = 1; k <= n; k++) {
        if (!(k in sampled)) continue
        killed = 0
        # a round is stamped when it starts and asks the machines one after another, so one
        # stamped up to a second before a kill may already see its result
        for (i = 1; i <= nk[k]; i++) if (T + 1000 >= ks[k, i] && T <= ke[k, i]) killed = 1
        if (killed) { fpid[k] = ""; fbad[k] = 0; continue }
        s = state(k, "fleetd.service"); p = pid[k, "fleetd.service"]
        if (s != "active") {
          if (!fbad[k]) viol(6, "fleetd on m" k " is " s " at " at(T) " outside any kill by the scenario")
          fbad[k] = 1; continue
        }
        fbad[k] = 0
        if (fpid[k] == "") fpid[k] = p
        else if (p != fpid[k]) { viol(6, "fleetd on m" k " changed main PID " fpid[k] " -> " p " at " at(T) " outside any kill by the scenario"); fpid[k] = p }
        if (nres[k, "fleetd.service"] + 0 > 0 && !frest[k]) { viol(6, "fleetd on m" k " was restarted by systemd (NRestarts=" nres[k, "fleetd.service"] ")"); frest[k] = 1 }
      }
      # 3 and duplicate counts
      for (u in allu) {
        c = 0; on = ""
        for (k = 1; k <= n; k++) if (running(state(k, u))) { c++; on = on " m" k }
        if (c >= 2) {
          if (!dup[u]) {
            if (u in fenced) { dupf++; viol(3, "fenced " u " runs on" on " at " at(T) nearest(T)) } else dupp++
          }
          dup[u] = 1
        } else dup[u] = 0
      }
      for (f = 1; f <= nf; f++) {
        # baselines at the first round after a fault began (from the round before it)
        if (!based[f] && T >= fb[f]) {
          based[f] = 1
          for (key in pst) {
            split(key, kk, SUBSEP); k = kk[1]; u = kk[2]
            if (u == "fleetd.service" || pst[key] != "active") continue
            if (fclass[f] == "short") { bn[f]++; bk[f, bn[f]] = k; bu[f, bn[f]] = u; bp[f, bn[f]] = ppid[key] }
            if (fclass[f] == "loss" && k == ftarget[f] && !elsewhere(u, k)) { rn[f]++; ru[f, rn[f]] = u }
          }
        }
        # 4: nothing disturbed by a short outage, until 5 s after it healed
        if (based[f] && fclass[f] == "short" && T <= fe[f] + 5000) {
          for (i = 1; i <= bn[f]; i++) {
            if (bdone[f, i]) continue
            k = bk[f, i]; u = bu[f, i]
            if (!(k in sampled) || !steady(u, fb[f], T)) continue
            if (state(k, u) != "active" || pid[k, u] != bp[f, i]) {
              bdone[f, i] = 1
              if (k == ftarget[f]) disttarget++
              else if ((u in fenced) && fencedmaystop(f)) fencedstopped++
              else { disthealthy++; viol(4, fname(f) ": " u " on healthy m" k " was " (state(k, u) == "active" ? "restarted (PID " bp[f, i] " -> " pid[k, u] ")" : "stopped (" (state(k, u) == "" ? "gone" : state(k, u)) ")") " at " rel(f, T)) }
            }
          }
        }
        # re-placement time of the units a lost machine ran, while it is lost (after the heal a
        # unit that stayed where it was is no longer missing, and a later move is not this one)
        if (based[f] && fclass[f] == "loss") {
          for (i = 1; i <= rn[f]; i++) {
            if (rdone[f, i]) continue
            u = ru[f, i]
            if (T > fe[f]) { rdone[f, i] = 1; replmissing++; continue }
            # a unit the workload stopped or started meanwhile moves when the workload says so:
            # its next copy measures fleetctl, not the re-placement of the units of a lost machine
            if (!steady(u, fb[f], T)) { rdone[f, i] = 1; repltouched++; continue }
            for (k = 1; k <= n; k++) if (k != ftarget[f] && reach(k, T) && state(k, u) == "active") {
              # when systemd says the copy became active (exact; a round stamps its start, so this
              # may lie past T), else when a round first saw it
              e = ((k, u) in ent) ? ent[k, u] : "-"; e = (e != "-" && e + 0 >= fb[f]) ? e + 0 : T
              rdone[f, i] = 1; nlat++; lat[nlat] = e - fb[f]
              kl = fkind[f]; nkl[kl]++; klat[kl, nkl[kl]] = e - fb[f]; break
            }
          }
        }
        # 1: launched units active on a reachable machine by TTL + 1 s
        if (!c1[f] && T >= fb[f] + ttl * 1000 + 1000) {
          c1[f] = 1
          for (u in allu) {
            if (!steady(u, fb[f], T)) continue
            ok = 0
            for (k = 1; k <= n; k++) if (reach(k, T) && state(k, u) == "active") ok = 1
            if (!ok) viol(1, fname(f) ": " u " not active on a reachable machine at " rel(f, T) ":" where(u))
          }
        }
        # 2: exactly one copy 5 s after the fault healed
        if (!c2[f] && fe[f] < 1e17 && T >= fe[f] + 5000) {
          c2[f] = 1
          for (u in allu) {
            if (!steady(u, fb[f], T)) continue
            c = 0; ok = 0
            for (k = 1; k <= n; k++) if (running(state(k, u))) { c++; if (state(k, u) == "active") ok = 1 }
            # The same copies as at the previous check: one report, the repeats counted.
            if (c != 1 || !ok) if (last2[u] == where(u)) { again2[u]++; continue }
            flush2(u)
            if (c == 1 && ok) continue
            last2[u] = where(u)
            viol(2, fname(f) ": " u " runs on " c " machines 5 s after the heal (" rel(f, T) "):" where(u))
          }
        }
      }
      # keep this round as the previous one
      for (key in pst) delete pst[key]
      for (key in st) { pst[key] = st[key]; ppid[key] = pid[key] }
    }

    # elsewhere(u, k): u ran on a machine other than k in the previous round (a duplicate).
    function elsewhere(u, k,    m) {
      for (m = 1; m <= n; m++) if (m != k && ((m, u) in pst) && running(pst[m, u])) return 1
      return 0
    }
    # nearest(T): the fault a moment of the run belongs to, for the reader of a violation.
    function nearest(T,    f, best) {
      for (f = 1; f <= nf; f++) if (fb[f] <= T) best = f
      return best ? " (" rel(best, T) " after " fname(best) " began)" : " (before any fault)"
    }
    FILENAME == ARGV[1] {
      t = $2
      if (t0 == "") t0 = t
      if ($3 == "stable") { stable[$4] = t; unstable[$4] = 1e18; allu[$4] = 1 }
      else if ($3 == "unstable") unstable[$4] = t
      else if ($3 == "fenced") fenced[$4] = 1
      else if ($3 == "workload") allu[$4] = 1
      else if ($3 == "begin") { i = ++opn[$5]; ob[$5, i] = t; opk[$5, i] = $4; orc[$5, i] = -1; oe[$5, i] = 1e18 }
      else if ($3 == "end") { i = opn[$5]; oe[$5, i] = t; orc[$5, i] = $7 }
      else if ($3 == "fault" && $4 == "begin") { nf++; fb[nf] = t; fkind[nf] = $5; fclass[nf] = $6; ftarget[nf] = $7; fsecs[nf] = $8; fe[nf] = 1e18; kinds[$5]++ }
      else if ($3 == "fault" && $4 == "end") fe[nf] = t
      else if ($3 == "down") { i = ++nd[$4]; ds[$4, i] = t; de[$4, i] = 1e18 }
      else if ($3 == "up") de[$4, nd[$4]] = t
      else if ($3 == "fleetd-down") { i = ++nk[$4]; ks[$4, i] = t; ke[$4, i] = 1e18 }
      else if ($3 == "fleetd-up") ke[$4, nk[$4]] = t
      else if ($3 == "leader") { nlead++; if ($6 + 0 >= 0) { nho++; ho[nho] = $6 } else viol("handover", "no machine took the engine lease while m" $4 " was frozen") }
      else if ($3 == "final") { final[$4] = $5 }
      else if ($3 == "final-done") havefinal = 1
      else if ($3 == "violation") { inv = $4; $1 = $2 = $3 = $4 = ""; sub(/^ +/, ""); viol(inv, $0) }
      next
    }
    # samples: S <round ms> <k> <unit> <state> <pid> <nrestarts> <ms it last became active, or ->
    $2 != cur { if (cur != "") round(cur); cur = $2; for (key in st) delete st[key]; for (key in pid) delete pid[key]; for (key in ent) delete ent[key]; for (key in sampled) delete sampled[key] }
    $5 == "error" { next }
    { sampled[$3] = 1; st[$3, $4] = $5; pid[$3, $4] = $6; nres[$3, $4] = $7; ent[$3, $4] = $8; if ($4 != "fleetd.service") allu[$4] = allu[$4] }
    END {
      if (cur != "") round(cur)
      for (f = 1; f <= nf; f++) {
        if (!c1[f]) viol("scenario", "sampling ended before the TTL + 1 s check of fault " f " (" fname(f) ")")
        if (!c2[f]) viol("scenario", "sampling ended before the 5 s after-heal check of fault " f " (" fname(f) ")")
        for (i = 1; i <= rn[f]; i++) if (!rdone[f, i]) replmissing++
      }
      for (u in again2) flush2(u)
      # 5: acknowledged writes
      if (!havefinal) viol(5, "no final list-unit-files to check acknowledged writes against")
      for (u in stable) {
        if (unstable[u] < 1e17) continue   # destroyed by the scenario
        checked++
        if (final[u] != "launched") { lost++; viol(5, "stable " u " (acknowledged launched) is " (u in final ? final[u] : "missing") " in list-unit-files") }
      }
      for (u in opn) {
        acked = 0; for (i = 1; i <= opn[u]; i++) if (orc[u, i] == 0) acked++
        nacked += acked
        if (!acked) continue
        checked++; i = opn[u]
        want = orc[u, i] == 0 ? (opk[u, i] == "start" ? "launched" : "loaded") : ""
        if (!(u in final)) { lost++; viol(5, u " (" acked " acknowledged operations) is missing from list-unit-files") }
        else if (want != "" && final[u] != want) { lost++; viol(5, u ": last acknowledged fleetctl " opk[u, i] " wants " want ", list-unit-files shows " final[u]) }
      }
      for (k in kinds) print "metric faults." k, kinds[k]
      print "metric faults", nf + 0
      print "metric rounds", rounds + 0
      print "metric sample_period_ms", (rounds > 1 ? int((lastT - firstT) / (rounds - 1)) : "-")
      print "metric acked_ops", nacked + 0
      print "metric acked_units_checked", checked + 0
      print "metric acked_units_lost", lost + 0
      print "metric duplicates_fenced", dupf + 0
      print "metric duplicates_plain", dupp + 0
      print "metric replaced", nlat + 0
      print "metric replace_missing", replmissing + 0
      print "metric replace_touched", repltouched + 0
      print "metric replace_p50_ms", pct(lat, nlat, 50)
      print "metric replace_p99_ms", pct(lat, nlat, 99)
      for (kl in nkl) {
        for (i = 1; i <= nkl[kl]; i++) one[i] = klat[kl, i]
        print "metric replace." kl "_p50_ms", pct(one, nkl[kl], 50)
        print "metric replace." kl "_max_ms", pct(one, nkl[kl], 100)
      }
      print "metric handovers", nho + 0
      print "metric handover_p50_ms", pct(ho, nho, 50)
      print "metric handover_max_ms", pct(ho, nho, 100)
      print "metric disturbed_healthy", disthealthy + 0
      print "metric fenced_stopped_by_store_outage", fencedstopped + 0
      print "metric disturbed_target", disttarget + 0
      print "metric violations", nviol + 0
    }' "$FAULT_DIR/events.sorted" "$FAULT_DIR/samples.log"
}

# ---- a whole run ----------------------------------------------------------------------------

# fault_setup: units for a run in the working directory, started and running. Stable units are
# never touched by the workload; fz-f* carry Isolation=stop (fenced).
FAULT_STABLE="fz-s1.service fz-s2.service fz-s3.service fz-s4.service fz-f1.service fz-f2.service"
FAULT_WORK="fz-w1.service fz-w2.service fz-w3.service fz-wf1.service"
fault_setup() {
  local u
  for u in $FAULT_STABLE $FAULT_WORK; do
    case $u in fz-f* | fz-wf*) fault_unit_file "$u" "Isolation=stop"; fault_event fenced "$u" ;; *) fault_unit_file "$u" ;; esac
  done
  # shellcheck disable=SC2086 # a list of unit names
  timeout 90 "$FLEET_BIN/fleetctl" start --block-attempts 20 $FAULT_STABLE >/dev/null 2>&1 || return 1
  for u in $FAULT_STABLE; do fault_event stable "$u"; done
}
