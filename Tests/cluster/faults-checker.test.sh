#!/usr/bin/env bash
# The fault checker's analyser (faults-lib.sh) on made-up logs, no cluster: a clean run has no
# violation, and each invariant, broken on purpose, is reported (with the right number), so a
# passing faults.test.sh means the invariants held, not that the checker saw nothing.
set -uo pipefail
HERE=$(cd "$(dirname "$0")" && pwd)
source "$HERE/lib.sh"
source "$HERE/faults-lib.sh"
FAULT_DIR=$(mktemp -d)
FAULT_TTL=5
FAULT_N=3
trap 'rm -rf "$FAULT_DIR"' EXIT

# A log of a 40 s run, one round every 200 ms, with one fault: machine 3 cut from 10 s to 20 s
# (longer than the TTL). s1 runs on m1 throughout; s2 (fenced) runs on m3, which stops it at
# 13 s, and on m2 from 14 s; the workload starts w1 (acknowledged) at 2 s, it runs on m2.
# Each case below edits one thing with awk and expects that invariant (and only it) to fire.
clean_logs() {
  cat >"$FAULT_DIR/events.log" <<'EOF'
E 1000 stable s1
E 1000 stable s2
E 1000 fenced s2
E 1000 workload w1
E 2000 begin start w1 1
E 2100 end start w1 1 0
E 10000 fault begin cut-loss loss 3
E 10000 down 3 cut
E 20000 up 3 cut
E 20000 fault end cut-loss
E 40000 final s1 launched
E 40000 final s2 launched
E 40000 final w1 launched
E 40000 final-done 1
EOF
  local t
  for ((t = 1200; t <= 39000; t += 200)); do
    echo "S $t 1 fleetd.service active 100 0"
    echo "S $t 2 fleetd.service active 200 0"
    echo "S $t 3 fleetd.service active 300 0"
    echo "S $t 1 s1 active 11 0"
    [ $t -lt 13000 ] && echo "S $t 3 s2 active 31 0"
    [ $t -ge 13000 ] && [ $t -lt 14000 ] && echo "S $t 3 s2 deactivating 31 0"
    [ $t -ge 14000 ] && echo "S $t 2 s2 active 21 0"
    [ $t -ge 2400 ] && echo "S $t 2 w1 active 22 0"
  done >"$FAULT_DIR/samples.log"
}
# edit FILE AWK: rewrites one log.
edit() { awk "$2" "$FAULT_DIR/$1" >"$FAULT_DIR/x" && mv "$FAULT_DIR/x" "$FAULT_DIR/$1"; }
# violations INV: how many violations of INV the analyser reports (all reports land in $FAULT_DIR/out).
violations() { fault_analyse >"$FAULT_DIR/out"; awk -v i="$1" '$1 == "violation" && $2 == i' "$FAULT_DIR/out" | wc -l; }
total() { awk '$1 == "metric" && $2 == "violations" {print $3}' "$FAULT_DIR/out"; }

clean_logs
check "a clean run has no violations" test "$(violations 1)" -eq 0 -a "$(total)" -eq 0
check "... and measures the re-placement of s2 (4000 ms)" grep -qx "metric replace.cut-loss_p50_ms 4000" "$FAULT_DIR/out"

clean_logs; edit samples.log '!($4 == "s2" && $3 == 2 && $2 < 16200)'   # moved only at 16.2 s
check "1: a unit re-placed later than TTL + 1 s is reported" test "$(violations 1)" -eq 1 -a "$(total)" -eq 1

clean_logs; edit samples.log '{ print } $4 == "s1" && $2 >= 24000 { $3 = 2; $6 = 12; print }'   # s1 also on m2
check "2: a second copy 5 s after the heal is reported" test "$(violations 2)" -eq 1 -a "$(total)" -eq 1

clean_logs; edit samples.log '{ print } $4 == "s1" && $2 >= 24000 { $3 = 2; $6 = 12; print }'
printf 'E 26000 fault begin cut-short short 3 1\nE 27000 fault end cut-short\n' >>"$FAULT_DIR/events.log"
check "2: copies that persist through the next fault's check are reported once more, as persisting" \
  test "$(violations 2)" -eq 2 -a "$(grep -c 'still there at the next 1 after-heal' "$FAULT_DIR/out")" -eq 1

clean_logs; edit samples.log '{ print } $4 == "s2" && $3 == 2 && $2 < 14400 { $3 = 3; print }'
check "3: a fenced unit on two machines in one round is reported" test "$(violations 3)" -eq 1

clean_logs; edit events.log '{ sub(/cut-loss loss 3/, "cut-short short 3"); sub(/E 20000/, "E 12000"); print }'
edit samples.log '{ if ($4 == "s1" && $2 >= 11000) $6 = 12; print }'          # restarted on healthy m1
edit samples.log '!($4 == "s2" && ($3 == 2 || $2 >= 13000))'                    # and s2 stays on m3
edit samples.log '{ print } $4 == "s1" && $3 == 1 && $2 >= 13000 { $3 = 3; $4 = "s2"; $6 = 31; print }'
check "4: a unit restarted on a healthy machine by a short outage is reported" test "$(violations 4)" -eq 1 -a "$(total)" -eq 1

clean_logs; edit events.log '{ sub(/final w1 launched/, "final w1 loaded"); print }'
check "5: an acknowledged start whose unit is not launched at the end is reported" test "$(violations 5)" -eq 1
clean_logs; edit events.log '!/final s1/'
check "5: an acknowledged unit missing from list-unit-files is reported" test "$(violations 5)" -eq 1

clean_logs; edit samples.log '{ if ($4 == "fleetd.service" && $3 == 2 && $2 >= 30000) $6 = 201; print }'
check "6: fleetd's PID changing outside a scenario kill is reported" test "$(violations 6)" -eq 1 -a "$(total)" -eq 1
clean_logs; edit samples.log '{ if ($4 == "fleetd.service" && $3 == 1 && $2 >= 30000) $5 = "failed"; print }'
check "6: fleetd failing is reported once" test "$(violations 6)" -eq 1
clean_logs; edit samples.log '{ if ($4 == "fleetd.service" && $3 == 1 && $2 >= 29200) $6 = 101; print }'
printf 'E 29000 fleetd-down 1\nE 29500 fleetd-up 1\n' >>"$FAULT_DIR/events.log"
check "6: a new fleetd PID after the scenario restarted it is fine" test "$(violations 6)" -eq 0
# A round is stamped when it starts; the one stamped 200 ms before the kill already saw it.
clean_logs; edit samples.log '{ if ($4 == "fleetd.service" && $3 == 1 && $2 >= 28800 && $2 < 29600) { $5 = "inactive"; $6 = 0 }
  else if ($4 == "fleetd.service" && $3 == 1 && $2 >= 29600) $6 = 101; print }'
printf 'E 29000 fleetd-down 1\nE 29500 fleetd-up 1\n' >>"$FAULT_DIR/events.log"
check "6: a round stamped just before a scenario kill that sees fleetd gone is fine" test "$(violations 6)" -eq 0
clean_logs; edit samples.log '{ if ($4 == "fleetd.service" && $3 == 1 && $2 >= 26000 && $2 < 26400) { $5 = "inactive"; $6 = 0 }; print }'
printf 'E 29000 fleetd-down 1\nE 29500 fleetd-up 1\n' >>"$FAULT_DIR/events.log"
check "6: ... but fleetd gone three seconds before one is reported" test "$(violations 6)" -eq 1
# Re-placement is timed by the activation stamp systemd reports (8th field), when there is one.
clean_logs; edit samples.log '{ if ($3 == 2 && $4 == "s2") $8 = 13620; print }'
fault_analyse >"$FAULT_DIR/out"
check "re-placement is timed by systemd's activation stamp (3620 ms), not the round that saw it" \
  grep -qx "metric replace.cut-loss_p50_ms 3620" "$FAULT_DIR/out"
# A unit the workload stops during the fault moves when fleetctl says, not because of the loss.
clean_logs; printf 'E 12000 begin stop s2 1\nE 12100 end stop s2 1 0\n' >>"$FAULT_DIR/events.log"
edit events.log '$3 != "stable" || $4 != "s2"'; printf 'E 1000 workload s2\nE 1500 begin start s2 1\nE 1600 end start s2 1 0\n' >>"$FAULT_DIR/events.log"
fault_analyse >"$FAULT_DIR/out"
check "a unit the workload touched during the fault is left out of the re-placement times" \
  grep -qx "metric replace_touched 1" "$FAULT_DIR/out"

finish faults-checker
