#!/usr/bin/env bash
# test/shell/load.sh - load (issue 8, Reliability): on the stack of lib_cmail.sh
# (cmtpd under Postfix spawn(8), Dovecot's pop3 with the CPOP plugin), 200 CMTP and
# 200 CPOP sessions at once, held for LOAD_SECONDS (20; 60 for the full run), each
# doing real work (test/tools/loadgen: CMTP STARTTLS, CELO, DELV, MAIL/RCPT with
# CertificateRequested, NOOP loops with RSET/MAIL/RCPT; CPOP STLS, USER/PASS, CAPA,
# LIST, RETR of a certified message, NOOP/STAT/LIST loops, QUIT). Checks: 0 failed
# sessions; the memory of the cmtpd and pop3 processes (sum of RSS, sampled every
# second) bounded per process and not growing while the sessions are held; the idle
# CMTP sessions are closed by cmtpd itself (smtp_timeout) and sessions that never
# stop are cut at session_time_limit; afterwards no cmtpd, pop3 or pop3-login
# process of the test is left; no process limit was hit.
# Knobs: LOAD_SECONDS (20), LOAD_CMTP (200), LOAD_CPOP (200), LOAD_IDLE_TIMEOUT
# (cmtpd smtp_timeout for the test, 10), LOAD_RSS_MAX_KB (per-process peak, 65536).
. "$top_srcdir/test/shell/lib.sh"
. "$top_srcdir/test/shell/lib_mta.sh"
. "$top_srcdir/test/shell/lib_cmail.sh"

LOADGEN=$top_builddir/test/tools/loadgen
SECS=${LOAD_SECONDS:-20}
NCMTP=${LOAD_CMTP:-200}
NCPOP=${LOAD_CPOP:-200}
IDLE=${LOAD_IDLE_TIMEOUT:-10}
RSS_MAX=${LOAD_RSS_MAX_KB:-65536}
CMAIL_CPOP=yes
missing=$(cmail_stack_missing)
[ -z "$missing" ] && [ ! -x "$LOADGEN" ] && missing=$LOADGEN
if [ -n "$missing" ]; then skip "needs $missing"; cm_done; exit 0; fi

mta_init || { not_ok "mta_init"; cm_done; exit 1; }
DOVECOT_SSL_CERT=$T/pki/server.pem
DOVECOT_SSL_KEY=$T/pki/server.key
# Dovecot's defaults allow 100 processes per service and 10 connections per
# user and address: room for the sessions (login and pop3 processes both).
DOVECOT_EXTRA_CONF="default_process_limit = $(( NCPOP + 100 ))
default_client_limit = $(( 4 * NCPOP + 1000 ))
mail_max_userip_connections = $(( NCPOP + 50 ))"
if ! cmail_stack_start; then not_ok "the Cmail stack starts"; mta_log_tail 40; cm_done; exit 1; fi
ok "the Cmail stack starts (cmtpd under spawn, Dovecot pop3 with the CPOP plugin)"
# Postfix spawn(8) runs at most default_process_limit (100) cmtpd at once: the
# cmtp service of this test gets room for the sessions. The master sizes a
# listener's backlog by its process limit when it creates it, and a reload keeps
# the old socket (backlog 100: SYNs of a burst are dropped, connects take 1-3 s):
# stop and start Postfix instead (same configuration, same ports).
postconf -c "$POSTFIX_CONF" -F "127.0.0.1:$CMTP_PORT/inet/process_limit=$(( NCMTP + 50 ))"
timeout -k 5 30 postfix -c "$POSTFIX_CONF" stop >/dev/null 2>&1
mta_wait_gone postfix
timeout -k 5 30 postfix -c "$POSTFIX_CONF" start >/dev/null 2>&1
mta_wait_port "$CMTP_PORT" 20 && mta_wait_port "$POSTFIX_SMTP_PORT" 20 && mta_wait_port "$INJ_PORT" 20
if command -v ss >/dev/null; then
  check_output "the cmtp listener's backlog is $(( NCMTP + 50 ))" "LISTEN +0 +$(( NCMTP + 50 )) " \
    ss -ltn "sport = :$CMTP_PORT"
fi
check_output "the cmtp spawn service allows $(( NCMTP + 50 )) processes" "inet +n +n +n +- +$(( NCMTP + 50 )) +spawn" \
  postconf -c "$POSTFIX_CONF" -M "127.0.0.1:$CMTP_PORT/inet"
# cmtpd reads cmail.conf per connection: idle sessions end after $IDLE s.
sed -i "s/^smtp_timeout = .*/smtp_timeout = $IDLE/" "$CMAIL_CONF"

printf 'From: Alice <alice@example.org>\r\nTo: bob@example.org\r\nSubject: load\r\nDate: %s\r\nMessage-ID: <load.1@example.org>\r\n\r\nheld under load\r\n' \
  "$(date -R)" > "$T/msg.eml"
check "a certified message for bob is deposited" cmail_send_as alice "$T/msg.eml"
check "bob's mailbox has it" wait_for_mail bob 1
mta_pass bob > "$T/bob.pass"

# sample: one line "cmtpd N RSS_KB pop3 N RSS_KB login N RSS_KB" for this test's processes
sample() {
  local dm
  dm=$(cat "$T/dovecot/run/master.pid" 2>/dev/null)
  ps -e -o pid=,ppid=,rss=,comm=,args= 2>/dev/null | awk -v dm="${dm:-none}" -v c="$CMTPD -c $CMAIL_CONF" '
    index(substr($0, index($0, $5)), c) == 1 { cn++; cr += $3; next }
    $2 == dm && $4 == "pop3" { pn++; pr += $3; next }
    $2 == dm && $4 == "pop3-login" { ln++; lr += $3 }
    END { printf "cmtpd %d %d pop3 %d %d login %d %d\n", cn, cr, pn, pr, ln, lr }'
}
# pss: the sum of Pss (shared pages counted once) of this test's cmtpd, pop3 and
# pop3-login processes
pss() {
  local dm k
  dm=$(cat "$T/dovecot/run/master.pid" 2>/dev/null)
  ps -e -o pid=,ppid=,comm=,args= 2>/dev/null | awk -v dm="${dm:-none}" -v c="$CMTPD -c $CMAIL_CONF" '
    index(substr($0, index($0, $4)), c) == 1 { print $1 > "'"$T"'/pids.cmtpd"; next }
    $2 == dm && $3 == "pop3" { print $1 > "'"$T"'/pids.pop3"; next }
    $2 == dm && $3 == "pop3-login" { print $1 > "'"$T"'/pids.login" }'
  for k in cmtpd pop3 login; do
    printf '%s %s KB; ' "$k" "$(sed 's|.*|/proc/&/smaps_rollup|' "$T/pids.$k" 2>/dev/null |
      xargs -r awk '/^Pss:/ { s += $2 } END { print s + 0 }' 2>/dev/null)"
    rm -f "$T/pids.$k"
  done
}
check_output "the sampler sees no session yet" "^cmtpd 0 0 pop3 0 0" sample

echo "# $NCMTP CMTP + $NCPOP CPOP sessions held for $SECS s (LOAD_SECONDS), idle timeout $IDLE s"
t0=$(date +%s)
"$LOADGEN" cmtp --connect "127.0.0.1:$CMTP_PORT" --ca "$P/ca.pem" --server-name mail.example.org \
  --from alice@example.org --rcpt bob@example.org --sessions "$NCMTP" --seconds "$SECS" \
  --interval 1000 --ramp 3000 --timeout 60 --idle-wait $(( IDLE + 15 )) > "$T/cmtp.out" 2>&1 &
LG1=$!
"$LOADGEN" cpop --connect "127.0.0.1:$DOVECOT_POP3_PLAIN_PORT" --ca "$P/ca.pem" \
  --server-name mail.example.org --user bob@example.org --password-file "$T/bob.pass" \
  --sessions "$NCPOP" --seconds "$SECS" --interval 1000 --ramp 3000 --timeout 60 > "$T/cpop.out" 2>&1 &
LG2=$!
cm_on_exit "kill $LG1 $LG2 2>/dev/null"
: > "$T/samples"
pss_done=
while kill -0 "$LG1" 2>/dev/null || kill -0 "$LG2" 2>/dev/null; do
  echo "$(( $(date +%s) - t0 )) $(sample)" >> "$T/samples"
  # Once, in the middle of the hold: the proportional set size (shared pages
  # counted once), the memory these processes really cost.
  if [ -z "$pss_done" ] && [ $(( $(date +%s) - t0 )) -ge $(( SECS / 2 + 3 )) ]; then
    pss_done=1
    echo "# PSS in the middle of the hold: $(pss)"
  fi
  sleep 1
done
wait "$LG1"; rc1=$?
wait "$LG2"; rc2=$?
elapsed=$(( $(date +%s) - t0 ))
echo "# samples (seconds, processes and KB RSS of cmtpd, pop3, pop3-login):"
awk '{ printf "#   %s\n", $0 }' "$T/samples"
sed 's/^/# /' "$T/cmtp.out" | tail -12
sed 's/^/# /' "$T/cpop.out" | tail -12
check "all $NCMTP CMTP sessions succeeded (0 failures)" test "$rc1" -eq 0
check "no CMTP connect took a SYN retransmission (connect_ms_max < 1000)" \
  test "$(sed -n 's/.* connect_ms_max=\([0-9]*\) .*/\1/p' "$T/cmtp.out")" -lt 1000
check "all $NCPOP CPOP sessions succeeded (0 failures)" test "$rc2" -eq 0
check_output "every idle CMTP session was closed by cmtpd (smtp_timeout $IDLE s)" \
  "closed_by_server=$NCMTP " cat "$T/cmtp.out"

# --- memory: peak per-process RSS; growth between the first and the last full sample ---
peak=$(awk '{ if ($3 > a) a = $3; if ($6 > b) b = $6; if ($4 > c) c = $4; if ($7 > d) d = $7 }
  END { print a + 0, c + 0, b + 0, d + 0 }' "$T/samples")
read -r cmax cmaxkb pmax pmaxkb <<<"$peak"
lpeak=$(awk '{ if ($9 > a) a = $9; if ($10 > b) b = $10 } END { print a + 0, b + 0 }' "$T/samples")
echo "# peak pop3-login (TLS proxies): $lpeak (processes, KB RSS)"
echo "# peak: $cmax cmtpd processes, $cmaxkb KB RSS together; $pmax pop3 processes, $pmaxkb KB RSS together"
avg() { [ "$1" -gt 0 ] && echo $(( $2 / $1 )) || echo 0; }
echo "# per process at the peak: cmtpd $(avg "$cmax" "$cmaxkb") KB, pop3 $(avg "$pmax" "$pmaxkb") KB"
check "all $NCMTP cmtpd processes ran at once" test "$cmax" -ge "$NCMTP"
check "all $NCPOP pop3 processes ran at once" test "$pmax" -ge "$NCPOP"
check "cmtpd: at most $RSS_MAX KB per process at the peak" test "$(avg "$cmax" "$cmaxkb")" -le "$RSS_MAX"
check "pop3: at most $RSS_MAX KB per process at the peak" test "$(avg "$pmax" "$pmaxkb")" -le "$RSS_MAX"
# While every session is up (all processes there), the memory must not grow.
full=$(awk -v n="$NCMTP" -v m="$NCPOP" '$3 >= n && $6 >= m' "$T/samples")
first=$(echo "$full" | head -1) last=$(echo "$full" | tail -1)
echo "# first full sample: $first"
echo "# last full sample:  $last"
if [ -n "$first" ]; then
  read -r t1 _ _ c1 _ _ p1 _ _ _ <<<"$first"
  read -r t2 _ _ c2 _ _ p2 _ _ _ <<<"$last"
  echo "# growth while held: cmtpd $(( (c2 - c1) / NCMTP )) KB/process, pop3 $(( (p2 - p1) / NCPOP )) KB/process over $(( t2 - t1 )) s ($(echo "$full" | wc -l) samples)"
  check "cmtpd memory does not grow while held (< 10% + 1 MB)" test $(( c2 - c1 )) -le $(( c1 / 10 + 1024 ))
  check "pop3 memory does not grow while held (< 10% + 1 MB)" test $(( p2 - p1 )) -le $(( p1 / 10 + 1024 ))
else
  not_ok "no sample with all sessions up"
fi

# --- afterwards: every process gone by itself ---
for i in $(seq 100); do
  s=$(sample)
  [ "$s" = "cmtpd 0 0 pop3 0 0 login 0 0" ] && break
  sleep 0.2
done
check_output "no cmtpd, pop3 or pop3-login process is left" "^cmtpd 0 0 pop3 0 0 login 0 0$" echo "$s"
check_fails "Postfix never hit a process limit" grep -E "process limit|service .* is busy" "$POSTFIX_LOG"
check_fails "Dovecot never hit a process or connection limit" grep -Ei "process_limit|client_limit|Maximum number of connections" "$DOVECOT_LOG"
check_fails "no cmtpd session ended in an error" grep -Ei "fatal|panic|too many errors" "$T/cmtpd.log"

# --- a session that never stops is cut at session_time_limit ---
sed -i '/^session_time_limit/d' "$CMAIL_CONF"
echo "session_time_limit = 5" >> "$CMAIL_CONF"
check_output "20 CMTP sessions looping forever are ended by cmtpd at session_time_limit (5 s)" \
  "sessions=20 ok=20 failed=0 .*closed_by_server=20 " \
  "$LOADGEN" cmtp --connect "127.0.0.1:$CMTP_PORT" --ca "$P/ca.pem" --from alice@example.org \
  --rcpt bob@example.org --sessions 20 --seconds 0 --interval 300 --ramp 500 --until-closed 15
cat "$T/.out" | sed 's/^/# /' | tail -3
echo "# load: $NCMTP CMTP + $NCPOP CPOP sessions, $SECS s held, $elapsed s in all; peak RSS cmtpd ${cmaxkb} KB ($cmax processes), pop3 ${pmaxkb} KB ($pmax processes)"
cm_done
