#!/usr/bin/env bash
# test/shell/crash.sh - crash consistency (issue 8, Reliability): the whole stack of
# lib_cmail.sh (cmail-notary, cmail-milter, cmtpd under Postfix spawn(8), Postfix,
# Dovecot with the CPOP plugin) is driven with `cmail send` (alice -> bob, some Cc
# carol) and `cmail fetch` (bob answers the challenges), and in every round one
# component is killed with SIGKILL at a random point of a deposit or a retrieval,
# then restarted:
#   cmtpd        the spawn(8) children, mid-DATA or mid-DEPO
#   notary       cmail-notary while cmtpd has it SIGN, SEAL or RECORD, or while
#                the CPOP plugin has it RECEIPT/ANSWER
#   milter       cmail-milter during the injection of the stored form
#   postfix      kill -9 of the master, or `postfix abort`, during injection/delivery
#   dovecot      kill -9 of the master (LMTP delivery, a CPOP session), or of the
#                pop3 process during RETR / CHLG RESP
# Afterwards everything is up, the queue is flushed, bob fetches once more, and:
#   - every `cmail send` that exited 0 (DEPO got 250) reached each recipient's
#     mailbox (every delivery counted by X-Cmail-Envelope-Id, also those moved out
#     of the Maildir after a fetch round), with exactly one "deposited" row;
#   - a send that exited 75 or 1 is delivered at most once; no message is deposited
#     twice; no stored form is delivered twice into a mailbox (the Postfix -> LMTP
#     hop is at-least-once: cmail_deliver in lmtp saves a certified message once);
#   - `cmail evidence check` passes; no envelope has two "deposited" rows, no
#     envelope/recipient two "answered" rows;
#   - every message in a mailbox has its "queued" row; the spool directory is
#     empty (leftover names are printed); no delivery record of cmail_deliver is
#     left pending; no cmtpd process is left;
#   - bob's last `cmail fetch` succeeds (every message readable after the crashes);
#   - each answered message's receipt notice mail is in alice's mailbox exactly
#     once (it may be submitted twice: a crash between the submission and its
#     "receipt-sent" row, or two sessions answering at once; both submissions
#     carry one Message-ID and cmail_deliver saves it once; submissions are
#     counted from Postfix's log and reported).
# Then two deterministic cases (gdb stops cmail-notary when a journal row is on disk
# and kills it before it can reply): after "deposited" (cmtpd retries the RECORD)
# and after "answered" (bob answers again). See doc/reliability.md.
# Knobs: CRASH_ROUNDS (default 30; 500 for a long run), CRASH_SEED (printed; the
# same seed replays the same kills at the same random delays), CRASH_KEEP=DIR
# keeps the logs, CRASH_ONLY=name[,name] limits the kill points, CRASH_GDB=no skips
# the gdb cases.
. "$top_srcdir/test/shell/lib.sh"
. "$top_srcdir/test/shell/lib_mta.sh"
. "$top_srcdir/test/shell/lib_cmail.sh"

CMAIL_CPOP=yes
missing=$(cmail_stack_missing)
command -v sqlite3 >/dev/null || missing=${missing:-sqlite3}
if [ -n "$missing" ]; then skip "needs $missing"; cm_done; exit 0; fi
ROUNDS=${CRASH_ROUNDS:-30}
SEED=${CRASH_SEED:-$(( ($(date +%s) * 7 + $$) % 1000000 ))}

mta_init || { not_ok "mta_init"; cm_done; exit 1; }
DOVECOT_SSL_CERT=$T/pki/server.pem
DOVECOT_SSL_KEY=$T/pki/server.key
# The delivery plugin in lmtp (unless lib_cmail.sh loads it already): a certified
# message or receipt notice mail that Postfix delivers again is saved once.
DELIVER_PLUGIN=$top_builddir/dovecot-plugin/lib95_cmail_deliver_plugin.so
if ! grep -q cmail_deliver "$top_srcdir/test/shell/lib_cmail.sh"; then
  [ -f "$DELIVER_PLUGIN" ] || { skip "needs $DELIVER_PLUGIN"; cm_done; exit 0; }
  mkdir -p "$T/modules" && chmod 0755 "$T/modules"
  install -m 0644 "$DELIVER_PLUGIN" "$T/modules/"
  DOVECOT_EXTRA_CONF="protocol lmtp {
  mail_plugins = \$mail_plugins cmail_deliver
}"
fi
if ! cmail_stack_start; then not_ok "the Cmail stack starts"; mta_log_tail 40; cm_done; exit 1; fi
ok "the Cmail stack starts (notary, milter, cmtpd under spawn, Postfix, Dovecot with CPOP)"
[ -n "${CRASH_KEEP:-}" ] && cm_on_exit "mkdir -p '$CRASH_KEEP' && cp -r $T/postfix/maillog $T/dovecot/dovecot.log $T/notary.log $T/cmtpd.log $T/milter.log $T/rounds.log $T/sends $T/notary/evidence.db '$CRASH_KEEP'/ 2>/dev/null"
# The notary restarted by this test is stopped at exit too (its pid changes).
cm_on_exit 'kill $NOTARY_PID 2>/dev/null; kill $MILTER_PID 2>/dev/null'
echo "# CRASH_SEED=$SEED CRASH_ROUNDS=$ROUNDS (rerun with CRASH_SEED=$SEED to replay the same kills)"
RANDOM=$SEED
mkdir -p "$T/sends" "$T/fetch" "$T/msgs"
: > "$T/rounds.log"

# --- helpers (waiting, liveness, restarts: lib_crash.sh) ---
CRASH_LOG=$T/rounds.log
. "$top_srcdir/test/shell/lib_crash.sh"
DB=$T/notary/evidence.db
# sq SQL: a read-only query on the evidence journal
sq() { sqlite3 -readonly "$DB" "$1" 2>/dev/null; }
cmtpd_pids() { pgrep -f "^$CMTPD -c $CMAIL_CONF " 2>/dev/null; }
pop3_pids() {
  local p
  for p in $(mta_instance_pids dovecot); do
    [ "$(readlink "/proc/$p/exe" 2>/dev/null)" = /usr/lib/dovecot/pop3 ] && echo "$p"
  done
}
all_up() { retry notary_up && retry milter_up && retry postfix_up && retry dovecot_up; }

# --- traffic ---
nsend=0
# mkmsg ID SIZE CC: a message with a unique subject, SIZE bytes of body, Cc carol when CC=1
mkmsg() {
  local id=$1 size=$2 cc=$3 f=$T/msgs/$1.eml
  {
    printf 'From: Alice <alice@example.org>\r\nTo: bob@example.org\r\n'
    [ "$cc" = 1 ] && printf 'Cc: carol@example.org\r\n'
    printf 'Subject: crash-%s\r\nDate: %s\r\nMessage-ID: <crash.%s.%s@example.org>\r\n\r\n' \
      "$id" "$(date -R)" "$id" "$SEED"
    printf 'Message %s of crash round testing.\r\n' "$id"
    [ "$size" -gt 0 ] && head -c "$size" /dev/urandom | base64 -w 76 | sed 's/$/\r/'
  } > "$f"
}
# send_bg SIZE CC: one `cmail send` in the background; its output and exit status
# are kept in $T/sends/ID.{out,rc}, CC in ID.cc; its pid is added to JOBS
JOBS=()
send_bg() {
  nsend=$((nsend + 1))
  local id=$nsend
  mkmsg "$id" "$1" "$2"
  echo "$2" > "$T/sends/$id.cc"
  ( timeout -k 5 120 "$CMAIL" send --server "127.0.0.1:$CMTP_PORT" --server-name mail.example.org \
      --from alice@example.org --cert "$P/users/alice@example.org.pem" \
      --key "$P/users/alice@example.org.key" --ca "$P/ca.pem" --crl "$P/crl.pem" --timeout 60 \
      "$T/msgs/$id.eml" >"$T/sends/$id.out" 2>&1
    echo $? > "$T/sends/$id.rc" ) &
  JOBS+=($!)
}
# fetch_bg: bob's `cmail fetch` in the background; exit status in $T/fetch.rc
# snap [archive]: record "FILE ENVID SUBJECT" of every message in bob's and carol's
# mailboxes (FILE: the Maildir name without its flags, one per delivery) in
# $T/seen.USER. With "archive" (only between rounds, no fetch running), bob's
# messages that his client has (ENVID.eml written: what `cmail fetch --delete`
# would delete) are recorded and then moved out of the Maildir to $T/archive, so
# that each fetch does not go through every earlier message again. (Moving every
# message the journal calls "answered" would be wrong: a client whose CHLG RESP
# was cut off after "answered" has not got the ENVELOPE yet and answers again.)
snap() {
  local u f b
  mkdir -p "$T/archive"
  for u in bob carol; do
    for f in "$(mta_maildir "$u")"/new/* "$(mta_maildir "$u")"/cur/*; do
      [ -f "$f" ] || continue
      b=${f##*/}
      line=$(awk -v b="${b%%:*}" '/^\r?$/ { exit } /^X-Cmail-Envelope-Id:/ { e = $2 } /^Subject:/ { s = $2 }
           END { sub(/\r$/, "", e); sub(/\r$/, "", s); print b, (e == "" ? "-" : e), s }' "$f")
      echo "$line" >> "$T/seen.$u"
      if [ "$u" = bob ] && [ "${1:-}" = archive ]; then
        set -- "${1:-}" $line
        [ "$3" != - ] && [ -f "$T/fetch/$3.eml" ] && mv "$f" "$T/archive/"
      fi
    done
  done
}
: > "$T/seen.bob"; : > "$T/seen.carol"
mta_pass bob > "$T/bob.pass"
fetch_bg() {
  rm -f "$T/fetch.rc"
  ( timeout -k 5 120 "$CMAIL" fetch --server "127.0.0.1:$DOVECOT_POP3_PORT" --implicit-tls \
      --server-name mail.example.org --user bob@example.org \
      --password-file "$T/bob.pass" --cert "$P/users/bob@example.org.pem" \
      --key "$P/users/bob@example.org.key" --ca "$P/ca.pem" --crl "$P/crl.pem" --timeout 30 \
      --out "$T/fetch" "$@" >>"$T/fetch.out" 2>&1
    echo $? > "$T/fetch.rc" ) &
  JOBS+=($!)
}
# wait_jobs: wait for the sends and fetches started (not for the daemons)
wait_jobs() { [ ${#JOBS[@]} -gt 0 ] && wait "${JOBS[@]}" 2>/dev/null; JOBS=(); }

# --- kill points: NAME COMPONENT TRIGGER-FILE TRIGGER-PATTERN MAX-DELAY-MS KIND BIG ---
# KIND deposit: two sends are started, the kill comes at most MAX-DELAY-MS after the
# trigger; KIND fetch: three sends are delivered first, then bob fetches. BIG 1: the
# first message is 2 MB, so that DATA (and the hashing, SIGN, SEAL) takes a while.
POINTS=(
  "cmtpd-data      cmtpd   cmtpd.log  'TLS TLSv'                 300 deposit 1"
  "cmtpd-depo      cmtpd   cmtpd.log  'deposit notice issued'    300 deposit 0"
  "notary-sign     notary  cmtpd.log  'TLS TLSv'                 400 deposit 1"
  "notary-seal     notary  cmtpd.log  'deposit notice issued'    300 deposit 0"
  "milter-inject   milter  cmtpd.log  'deposit notice issued'    300 deposit 0"
  "postfix-kill    postfix cmtpd.log  'deposit notice issued'    400 deposit 0"
  "postfix-abort   postfix-abort cmtpd.log 'deposit notice issued' 600 deposit 0"
  "dovecot-lmtp    dovecot cmtpd.log  'deposit notice issued'    500 deposit 0"
  "pop3-chlg       pop3    dovecot    'RETR [0-9]+: receipt notice of' 100 fetch 0"
  "dovecot-chlg    dovecot dovecot    'RETR [0-9]+: receipt notice of' 100 fetch 0"
  "notary-answer   notary  dovecot    'RETR [0-9]+: receipt notice of' 100 fetch 0"
)
if [ -n "${CRASH_ONLY:-}" ]; then
  sel=()
  for p in "${POINTS[@]}"; do
    case ",$CRASH_ONLY," in *",${p%% *},"*) sel+=("$p") ;; esac
  done
  POINTS=("${sel[@]}")
fi
[ ${#POINTS[@]} -gt 0 ] || { not_ok "CRASH_ONLY=$CRASH_ONLY names no kill point"; cm_done; exit 1; }

# do_kill COMPONENT: SIGKILL it (postfix-abort: `postfix abort`); prints what was killed
do_kill() {
  local pids i
  case $1 in
    cmtpd) pids=$(cmtpd_pids | tr '\n' ' ') ;;
    notary) pids=$NOTARY_PID ;;
    milter) pids=$MILTER_PID ;;
    postfix) pids=$(pf_master) ;;
    dovecot) pids=$(dc_master) ;;
    pop3) pids=$(pop3_pids | tr '\n' ' ') ;;
    postfix-abort)
      pids=$(pf_master)
      postfix -c "$POSTFIX_CONF" abort >>"$T/postfix/start.out" 2>&1
      # abort signals the master; wait until it is gone (postfix_up tests the pid)
      for i in $(seq 100); do alive "$pids" || break; sleep 0.05; done
      echo "postfix abort [$pids]"
      return ;;
  esac
  [ -n "${pids// /}" ] && kill -9 $pids 2>/dev/null
  echo "kill -9 $1 [${pids% }]"
}

failed_restart=0
t_start=$(date +%s)
for round in $(seq 1 "$ROUNDS"); do
  all_up || { failed_restart=$((failed_restart + 1)); all_up; }
  eval "set -- ${POINTS[$(( RANDOM % ${#POINTS[@]} ))]}"
  name=$1 comp=$2 tfile=$3 tpat=$4 maxd=$5 kind=$6 big=$7
  case $tfile in dovecot) tfile=$DOVECOT_LOG ;; *) tfile=$T/$tfile ;; esac
  delay=$(( RANDOM % (maxd + 1) ))
  restart_delay=$(( RANDOM % 400 ))
  # Message sizes: mostly small, sometimes large enough for DATA to take a while.
  s1=$(( RANDOM % 3 == 0 ? 300000 : 2000 )) s2=$(( RANDOM % 4 == 0 ? 600000 : 500 ))
  [ "$big" = 1 ] && s1=2000000
  cc1=$(( RANDOM % 2 ))
  first=$((nsend + 1))
  if [ "$kind" = fetch ]; then
    nb=$(mta_count_mail bob)
    send_bg "$s2" "$cc1"; send_bg 500 0; send_bg 800 0; wait_jobs
    wait_for_mail bob "$(( nb + $(cat "$T"/sends/{$((nsend - 2)),$((nsend - 1)),$nsend}.rc | grep -c '^0$') ))" 10 2>/dev/null
  fi
  base=$(count "$tfile" "$tpat")
  if [ "$kind" = fetch ]; then fetch_bg; else send_bg "$s1" "$cc1"; send_bg "$s2" 0; fi
  if wait_more "$tfile" "$tpat" "$base" 30; then
    ms_sleep "$delay"
    what=$(do_kill "$comp")
    note "round $round/$ROUNDS: $name: $what ${delay} ms after /$tpat/, restart after ${restart_delay} ms (sends $first..$nsend)"
  else
    note "round $round/$ROUNDS: $name: trigger /$tpat/ not seen in 30 s, no kill (sends $first..$nsend)"
  fi
  ms_sleep "$restart_delay"
  all_up || failed_restart=$((failed_restart + 1))
  wait_jobs
  [ "$kind" = fetch ] && snap archive
done
t_rounds=$(( $(date +%s) - t_start ))
all_up || failed_restart=$((failed_restart + 1))
check "every component restarted after every kill" test "$failed_restart" -eq 0
note "$ROUNDS rounds in ${t_rounds} s, $nsend sends"

# --- deterministic: the notary killed between a journal commit and its reply ---
# gdb_kill_after COND OUT CMD...: attach gdb to cmail-notary, run CMD, and have gdb
# kill the notary as soon as cm_evidence_append() returns (the row is on disk) for
# an event matching COND; 0 when that happened, 1 when not, 2 when gdb cannot attach
gdb_kill_after() {
  local cond=$1 out=$T/$2 i
  shift 2
  gdb -p "$NOTARY_PID" -batch -nx -ex 'set pagination off' \
    -ex "break cm_evidence_append if $cond" -ex continue -ex finish -ex kill > "$out" 2>&1 &
  GDB_PID=$!
  for i in $(seq 100); do grep -q "^Breakpoint 1 at" "$out" 2>/dev/null && break; sleep 0.1; done
  if ! grep -q "^Breakpoint 1 at" "$out"; then
    note "gdb could not attach to cmail-notary (ptrace not allowed?)"
    sed 's/^/#   /' "$out" | tail -3
    kill "$GDB_PID" 2>/dev/null
    wait "$GDB_PID" 2>/dev/null
    return 2
  fi
  sleep 0.5
  "$@"
  for i in $(seq 300); do kill -0 "$GDB_PID" 2>/dev/null || break; sleep 0.1; done
  if kill -0 "$GDB_PID" 2>/dev/null || alive "$NOTARY_PID"; then
    kill -9 "$GDB_PID" "$NOTARY_PID" 2>/dev/null
    note "gdb: the breakpoint ($cond) was not hit within 30 s"
    sed 's/^/#   /' "$out" | tail -5
    return 1
  fi
  return 0
}
gdb_dup="" gid="" gdb_ans="" aid=""
if command -v gdb >/dev/null && [ "${CRASH_GDB:-yes}" = yes ]; then
  # 1. After "deposited" (event[0] == 'd'): cmtpd retries the RECORD on a new
  # connection (5 times, 1 s apart) and the notary is back at once.
  all_up
  gdb_kill_after 'event[0] == 100' gdb1.out send_bg 500 0
  case $? in
    0) gid=$nsend gdb_dup=run
       note "gdb: cmail-notary killed right after committing a deposited row (send $gid)" ;;
    2) skip "notary killed after committing deposited (gdb cannot attach here)" ;;
    *) wait_jobs
       case $(cat "$T/sends/$nsend.rc" 2>/dev/null) in
         126|127) skip "notary killed after committing deposited: cmail could not run (binary being rebuilt in this tree)" ;;
         *) not_ok "notary killed after committing deposited: the scenario ran" ;;
       esac ;;
  esac
  notary_up
  wait_jobs
  if [ "$gdb_dup" = run ]; then
    gdb_env=$(sed -n 's/^deposited: envelope \([^,]*\),.*/\1/p' "$T/sends/$gid.out")
    rows=$(sq "select count(*) from evidence where envelope_id='$gdb_env' and event='deposited'")
    check "notary killed between commit and reply: cmail send still gets DEPO 250" test "$(cat "$T/sends/$gid.rc")" = 0
    if [ "${rows:-0}" = 1 ]; then
      ok "notary killed between commit and reply: one deposited row"
    else
      cm_n=$((cm_n + 1))
      echo "not ok $cm_n - notary killed between commit and reply: one deposited row ($rows: cmtpd's retried RECORD appended again)"
    fi
  fi
  # 2. After "answered" (event 'a....e..'; not answer-refused): bob's CHLG RESP
  # fails, his next fetch answers again ("answered before"). Is the receipt notice
  # mail still sent to alice? (checked with the other receipt notice mails below)
  all_up
  fetch_bg; wait_jobs			# everything delivered so far is answered
  nb=$(mta_count_mail bob)
  send_bg 500 0; wait_jobs
  aid=$nsend
  wait_for_mail bob "$(( nb + 1 ))" 30 2>/dev/null
  gdb_kill_after 'event[0] == 97 && event[6] == 101' gdb2.out fetch_bg
  case $? in
    0) gdb_ans=run
       note "gdb: cmail-notary killed right after committing an answered row (send $aid)" ;;
    2) skip "notary killed after committing answered (gdb cannot attach here)" ;;
    *) not_ok "notary killed after committing answered: the scenario ran" ;;
  esac
  wait_jobs
  notary_up
fi

# queue_empty SECONDS: until Postfix lists no message (postqueue -p)
queue_empty() {
  local i
  for i in $(seq $(( $1 * 2 ))); do
    timeout -k 2 10 postqueue -c "$POSTFIX_CONF" -p 2>/dev/null | grep -q '^Mail queue is empty' && return 0
    sleep 0.5
  done
  timeout -k 2 10 postqueue -c "$POSTFIX_CONF" -p 2>&1 | head -20
  return 1
}

# --- settle: a last deposit, flush the queue, bob fetches everything ---
send_bg 100 1; wait_jobs
timeout -k 5 30 postqueue -c "$POSTFIX_CONF" -f >/dev/null 2>&1
check "the Postfix queue drains after the crashes" queue_empty 90
fetch_bg; wait_jobs
rc=$(cat "$T/fetch.rc" 2>/dev/null)
if [ "$rc" = 0 ]; then ok "bob's last cmail fetch after all the crashes: exit 0"; else
  not_ok "bob's last cmail fetch after all the crashes: exit ${rc:-?}"; tail -20 "$T/fetch.out" | sed 's/^/# /'
fi
timeout -k 5 30 postqueue -c "$POSTFIX_CONF" -f >/dev/null 2>&1
check "the receipt notice mails leave the queue" queue_empty 60
# Files Postfix's own processes left when killed mid-write (not queued mail: no
# client was told 250; `postsuper -p` removes them)
debris=$(find "$T/postfix/spool/incoming" "$T/postfix/spool/maildrop" -type f 2>/dev/null | wc -l)
[ "$debris" -gt 0 ] && note "Postfix left $debris incomplete queue file(s) of killed processes (not mail: postqueue does not list them)"

# --- invariants ---
# USER.ids: "ENVID SUBJECT" of every delivery into USER's mailbox (seen by snap)
snap
for u in bob carol; do
  sort -u "$T/seen.$u" | awk '{ print $2, $3 }' > "$T/$u.ids"
done

n0=0 n75=0 n1=0 nother=0 nenv=0 lost=0 nodepo=0 bad=""
for rcf in "$T"/sends/*.rc; do
  id=$(basename "$rcf" .rc) rc=$(cat "$rcf") cc=$(cat "$T/sends/$id.cc")
  rcpts="bob"; [ "$cc" = 1 ] && rcpts="bob carol"
  case $rc in
    0)
      n0=$((n0 + 1))
      env=$(sed -n 's/^deposited: envelope \([^,]*\),.*/\1/p' "$T/sends/$id.out")
      for u in $rcpts; do
        c=$(awk -v e="$env" '$1 == e' "$T/$u.ids" | wc -l)
        if [ -z "$env" ] || [ "$c" -lt 1 ]; then
          lost=$((lost + 1)); bad="$bad send $id ($env) is not in $u's mailbox;"
        fi
      done
      [ "$id" = "$gid" ] ||
      [ "$(sq "select count(*) from evidence where envelope_id='$env' and event='deposited'")" = 1 ] ||
        { nodepo=$((nodepo + 1)); bad="$bad send $id ($env) has no single deposited row;"; } ;;
    75) n75=$((n75 + 1)) ;;
    1) n1=$((n1 + 1)) ;;
    126|127) nenv=$((nenv + 1)); note "send $id could not run cmail (exit $rc: binary rebuilt meanwhile?), ignored" ;;
    *) nother=$((nother + 1)); bad="$bad send $id exited $rc;" ;;
  esac
done
note "cmail send exits: $n0 deposited (0), $n75 temporary (75), $n1 refused (1), $nother other"
# Per kill point: rounds, kills that hit a process, and the exits of the sends of those rounds.
sed -n 's|^round [0-9]*/[0-9]*: \([a-z0-9-]*\): \(.*\) (sends \([0-9]*\)\.\.\([0-9]*\))$|\1 \3 \4 \2|p' "$T/rounds.log" |
while read -r pt a b what; do
  hit=1
  case $what in *"[]"*|*"no kill"*) hit=0 ;; esac
  for i in $(seq "$a" "$b"); do echo "$pt $hit $(cat "$T/sends/$i.rc" 2>/dev/null)"; done
  echo "$pt $hit round"
done | awk '$3 == "round" { r[$1]++; h[$1] += $2; next } { s[$1, $3]++ }
  END { for (p in r) printf "# %-14s %3d rounds, %3d kills hit a process; sends of these rounds: %d exit 0, %d exit 75, %d exit 1\n",
        p, r[p], h[p], s[p, 0], s[p, 75], s[p, 1] }' | sort | tee -a "$T/rounds.log"
delivered_failed=$(for rcf in "$T"/sends/*.rc; do id=$(basename "$rcf" .rc)
  [ "$(cat "$rcf")" != 0 ] && awk -v s="crash-$id" '$2 == s' "$T/bob.ids" | sort -u; done | wc -l)
note "sends that failed (75/1) but were delivered anyway: $delivered_failed"
[ -n "$bad" ] && echo "# $bad" | tr ';' '\n' | head -40
check "enough traffic: at least $ROUNDS sends got DEPO 250" test "$n0" -ge "$ROUNDS"
check "every cmail send exited 0, 75 or 1 (none hung or crashed)" test "$nother" -eq 0
check "every send whose DEPO got 250 reached each recipient's mailbox" test "$lost" -eq 0
check "every send whose DEPO got 250 has exactly one deposited row" test "$nodepo" -eq 0
# Two envelope ids for one subject: a message deposited twice (never expected).
redep=$(cat "$T/bob.ids" "$T/carol.ids" | sort -u | awk '{ print $2 }' | sort | uniq -d)
check "no message was deposited twice (one envelope id per subject)" test -z "$redep"
# One envelope id twice in a mailbox: one Postfix queue file delivered twice.
redeliv=0
for u in bob carol; do
  for e in $(awk '{ print $1 }' "$T/$u.ids" | sort | uniq -d); do
    redeliv=$((redeliv + 1))
    q=$(sq "select details from evidence where envelope_id='$e' and event='queued'" | sed -n 's/^queue_id=//p' | head -1)
    note "stored form $e is in $u's mailbox $(awk -v e="$e" '$1 == e' "$T/$u.ids" | wc -l) times; Postfix queue id $q:"
    grep -F "${q:-none}: to=<$u@" "$POSTFIX_LOG" | sed 's/^.*\(status=.*\)$/#     \1/' | cut -c1-200
  done
done
check "no stored form was delivered twice into a mailbox ($redeliv redelivered)" test "$redeliv" -eq 0
# What cmail_deliver kept out: Postfix delivered again, lmtp answered 250 without saving.
ndup=$(grep -c 'duplicate of certified message .*not saved again' "$DOVECOT_LOG")
note "cmail_deliver: $ndup redelivered stored form(s) not saved again"
check_output "cmail evidence check: chain intact" "chain intact" cmail_evidence check
# (the deterministic gdb scenario above has its own check)
d=$(sq "select envelope_id from evidence where event='deposited' and envelope_id != '${gdb_env:-}' group by envelope_id having count(*) > 1")
check "no envelope has two deposited rows (random rounds)" test -z "$d"
[ -n "$d" ] && echo "$d" | sed 's/^/# two deposited rows: /'
d=$(sq "select envelope_id || ' ' || replace(details, char(10), ' ') from evidence where event='answered'" |
    sed -n 's/^\([^ ]*\) .*recipient=\([^ ]*\).*/\1 \2/p' | sort | uniq -d)
check "no envelope/recipient has two answered rows" test -z "$d"
noq=0
for e in $(awk '{ print $1 }' "$T/bob.ids" "$T/carol.ids" | sort -u); do
  [ "$e" = - ] && continue
  [ "$(sq "select count(*) from evidence where envelope_id='$e' and event='queued'")" -ge 1 ] || noq=$((noq + 1))
done
check "every certified message in a mailbox has its queued row" test "$noq" -eq 0
left=$(ls -A "$T/spool")
check "no file is left in the spool directory${left:+ (left: $(echo $left | cut -c1-200))}" test -z "$left"
# cmail_deliver's records: a delivery cut off between "about to save" and "saved"
# leaves HASH.pending until Postfix delivers again; with the queue drained, none.
pend=$(find "$T/mail" -path '*/cmail-delivered/*.pending' 2>/dev/null | wc -l)
check "no delivery record is left pending (cmail_deliver)" test "$pend" -eq 0
for i in $(seq 50); do [ -z "$(cmtpd_pids)" ] && break; sleep 0.1; done
check "no cmtpd process is left" test -z "$(cmtpd_pids)"

# --- retrieval: every message bob holds is answered once; receipt notice mails ---
unanswered=0
for e in $(awk '$1 != "-" { print $1 }' "$T/bob.ids"); do
  [ "$(sq "select count(*) from evidence where envelope_id='$e' and event='answered' and details like '%recipient=bob@example.org%'")" = 1 ] ||
    unanswered=$((unanswered + 1))
done
check "every certified message of bob is answered exactly once after the last fetch" test "$unanswered" -eq 0
# "SUBJECT MESSAGE-ID" of each receipt notice mail in alice's mailbox
for f in "$(mta_maildir alice)"/new/* "$(mta_maildir alice)"/cur/*; do
  [ -f "$f" ] || continue
  awk '/^\r?$/ { exit } /^Subject: Receipt notice: / { s = $4 } /^Message-ID:/ { m = $2 }
       END { sub(/\r$/, "", m); if (s != "") print s, m }' "$f"
done | sort > "$T/receipts.mid"
awk '{ print $1 }' "$T/receipts.mid" > "$T/receipts"
# The Message-ID of a receipt notice mail is fixed per envelope and recipient: one
# subject twice in the mailbox is a duplicate, whether submitted or delivered twice.
rtwice=$(uniq -d "$T/receipts" | wc -l)
# Submissions: Postfix's cleanup logs the Message-ID of every mail it queues.
grep -o 'message-id=<cmail-receipt\.[^>]*>' "$POSTFIX_LOG" | sort | uniq -c | awk '$1 > 1' > "$T/receipts.subs"
rsub2=$(wc -l < "$T/receipts.subs")
rdupdel=$(grep -c 'duplicate of receipt notice mail' "$DOVECOT_LOG")
rlost=0 rlost_gap=0
while read -r e s; do
  [ "$e" = - ] && continue
  [ "$s" = "crash-$aid" ] && continue	# the gdb scenario: checked below
  n=$(grep -cx -- "$s" "$T/receipts")
  [ "$n" -ge 1 ] && continue
  [ "$(sq "select count(*) from evidence where envelope_id='$e' and event='answered'")" = 0 ] && continue
  # Lost: does the journal say "answered" without "receipt-sent"?
  if [ "$(sq "select count(*) from evidence where envelope_id='$e' and event='receipt-sent'")" = 0 ]; then
    rlost_gap=$((rlost_gap + 1)); note "receipt notice mail of $s ($e) lost: answered, never mailed"
    grep -F "$e" "$DOVECOT_LOG" | grep -F 'cmail:' | cut -c1-220 | sed 's/^/#     /'
  else
    rlost=$((rlost + 1)); note "receipt notice mail of $s ($e) lost although journalled receipt-sent"
  fi
done < <(sort -u "$T/bob.ids")
note "receipt notice mails: $(wc -l < "$T/receipts") in alice's mailbox, $rtwice there twice; $rsub2 submitted more than once (at-least-once submission), $rdupdel deliveries not saved again by cmail_deliver; $rlost_gap lost between answered and the submission, $rlost lost otherwise"
[ "$rsub2" -gt 0 ] && sed 's/^/#   submitted /' "$T/receipts.subs" | head -10
check "no receipt notice mail is twice in alice's mailbox (submitted twice or not)" test "$rtwice" -eq 0
check "no receipt notice mail journalled as sent was lost" test "$rlost" -eq 0
if [ "$gdb_ans" = run ]; then
  n=$(grep -cx -- "crash-$aid" "$T/receipts")
  check "notary killed between answered and its reply: the receipt notice mail still reaches alice once ($n)" test "$n" = 1
fi
check "every answered message's receipt notice mail reached alice ($rlost_gap lost)" test "$rlost_gap" -eq 0
cm_done
