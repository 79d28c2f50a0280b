# test/shell/lib_crash.sh - helpers of the crash tests (crash.sh, crash_s2s.sh):
# waiting, liveness, and restarting the components of the current stack
# (lib_cmail.sh variables: T, NOTARY_PID, MILTER_PID, CMAIL_CONF, POSTFIX_CONF, ...).
#
# Source it after lib_cmail.sh and set CRASH_LOG (the round log) first.
#   ms_sleep MS; count FILE PATTERN; wait_more FILE PATTERN BASE SECONDS
#   note TEXT: a line in $CRASH_LOG and a TAP comment
#   alive PID; pf_master; dc_master
#   notary_up, milter_up, postfix_up, dovecot_up: restart the component when it
#       is not running, and wait until it serves again (1 and a note if not)
#   retry FN: FN, and twice more a second apart if it fails

ms_sleep() { sleep "$(printf '%d.%03d' $(( $1 / 1000 )) $(( $1 % 1000 )))"; }
# count FILE PATTERN: lines of FILE matching PATTERN (0 when none)
count() { local n; n=$(grep -Ec -- "$2" "$1" 2>/dev/null); echo "${n:-0}"; }
# wait_more FILE PATTERN BASE SECONDS: until FILE has more than BASE matching lines
wait_more() {
  local i=0 lim=$(( $4 * 20 ))
  while [ "$(count "$1" "$2")" -le "$3" ]; do
    i=$((i + 1)); [ $i -gt $lim ] && return 1; sleep 0.05
  done
}
note() { echo "$*" >> "$CRASH_LOG"; echo "# $*"; }
# alive PID: the process exists and is not a zombie
alive() { [ -n "$1" ] && kill -0 "$1" 2>/dev/null && ! grep -q '^State:.*Z' "/proc/$1/status" 2>/dev/null; }
pf_master() { head -1 "$T/postfix/spool/pid/master.pid" 2>/dev/null | tr -d ' '; }
dc_master() { cat "$T/dovecot/run/master.pid" 2>/dev/null; }

notary_up() {
  alive "$NOTARY_PID" && return 0
  rm -f "$T/run/notary.sock"
  "$NOTARY" -f -c "$CMAIL_CONF" >>"$T/notary.log" 2>&1 &
  NOTARY_PID=$!
  local i
  for i in $(seq 100); do [ -S "$T/run/notary.sock" ] && break; sleep 0.05; done
  chmod 0666 "$T/run/notary.sock" 2>/dev/null
  [ -S "$T/run/notary.sock" ] || { note "cmail-notary ($T) did not restart"; return 1; }
}
milter_up() {
  alive "$MILTER_PID" && return 0
  rm -f "$T/run/milter.sock"
  cmail_start_milter
  [ -S "$T/run/milter.sock" ] || { note "cmail-milter ($T) did not restart"; return 1; }
}
postfix_up() {
  alive "$(pf_master)" && return 0
  local i
  # The children notice that their master is gone and exit; then the ports are free.
  for i in $(seq 100); do [ -z "$(mta_instance_pids postfix)" ] && break; sleep 0.05; done
  [ -n "$(mta_instance_pids postfix)" ] && kill -9 $(mta_instance_pids postfix) 2>/dev/null
  timeout -k 5 30 postfix -c "$POSTFIX_CONF" start >>"$T/postfix/start.out" 2>&1
  mta_wait_port "$CMTP_PORT" 20 && mta_wait_port "$INJ_PORT" 20 &&
    { [ -z "$RELAY_INJ_PORT" ] || mta_wait_port "$RELAY_INJ_PORT" 20; } &&
    mta_wait_port "$POSTFIX_SMTP_PORT" 20 || { note "Postfix ($T) did not restart"; return 1; }
}
dovecot_up() {
  local i old
  old=$(dc_master)
  alive "$old" && return 0
  # A killed master may stay a zombie for a moment (or, where nothing reaps
  # orphans, for good): dovecot would take its pid file for a running master.
  for i in $(seq 40); do [ -n "$old" ] && kill -0 "$old" 2>/dev/null || break; sleep 0.05; done
  [ -n "$old" ] && kill -0 "$old" 2>/dev/null && rm -f "$T/dovecot/run/master.pid"
  for i in $(seq 100); do [ -z "$(mta_instance_pids dovecot)" ] && break; sleep 0.05; done
  [ -n "$(mta_instance_pids dovecot)" ] && kill -9 $(mta_instance_pids dovecot) 2>/dev/null
  timeout -k 5 30 dovecot -c "$DOVECOT_CONF" >>"$T/dovecot/start.out" 2>&1
  mta_wait_port "$DOVECOT_POP3_PORT" 20 && mta_wait_file "$DOVECOT_LMTP" 20 ||
    { note "Dovecot ($T) did not restart"; return 1; }
}
# retry FN: FN, and twice more a second apart if it fails (a daemon may fail to
# start while its binary is being rebuilt in a development tree)
retry() { "$1" && return 0; sleep 1; "$1" && return 0; sleep 1; "$1"; }
