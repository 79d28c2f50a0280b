#!/usr/bin/env bash
# cmtpd_pool.sh - cmtpd -l, the worker pool (the recommended deployment): many
# sequential and concurrent connections served, at most -p workers, a worker
# recycled after -m connections and gone after -i idle seconds, a real deposit
# with `cmail send`, TLS session resumption (cmail send --tls-session; openssl
# s_client -sess_out/-sess_in says "Reused"), a Cmail peer's client certificate
# still seen and validated on a resumed session (and a plain client's resumed
# session carries none), -t 0 (no tickets) and -t 2 (tickets expire), -T
# (implicit TLS) in the pool, no ticket in stdin/stdout mode
# (systemd-socket-activate --inetd, as cmtpd.socket), SIGTERM stops the parent
# and every worker (no process left), workers leave by themselves when the
# parent is killed, bad option values refused.
# No Postfix: the injection listener is smtp-sink, the notary the real one.
. "$top_srcdir/test/shell/lib.sh"
. "$top_srcdir/test/shell/lib_mta.sh"
. "$top_srcdir/test/shell/lib_sink.sh"

PLAY=$top_builddir/test/tools/cmtp_play
LOADGEN=$top_builddir/test/tools/loadgen
CMTPD=$top_builddir/cmtpd/cmtpd
NOTARY=$top_builddir/notary/cmail-notary
if ! command -v smtp-sink >/dev/null && [ ! -x /usr/sbin/smtp-sink ]; then
  skip "smtp-sink (Debian package postfix) not installed"; cm_done; exit 0
fi
PATH=$PATH:/usr/sbin

P=$T/pki
"$CMAIL" pki init "$P" --domain example.org --user alice@example.org --user bob@example.org \
  >/dev/null || { not_ok "cmail pki init"; cm_done; exit 1; }
sink_setup example.org "$P"
mta_free_port PORT
sink_start_notary
sink_start_smtp

# workers PID: the pids of the children of PID
workers() { ps -o pid= --ppid "$1" 2>/dev/null | tr -d ' '; }
# alive PID...: true when one of them still runs (and is not a zombie)
alive() {
  local p
  for p in "$@"; do
    [ -e "/proc/$p" ] && ! grep -q '^State:.*Z' "/proc/$p/status" 2>/dev/null && return 0
  done
  return 1
}
# gone_within SECONDS PID...: wait until none of PID... runs
gone_within() {
  local s=$1 i; shift
  for i in $(seq $(( s * 10 ))); do alive "$@" || return 0; sleep 0.1; done
  return 1
}

# start_pool LOG ARGS...: cmtpd -l on $PORT; its pid in POOL_PID
start_pool() {
  local log=$1; shift
  : > "$log"
  "$CMTPD" -c "$T/cmail.conf" -L "$log" -l "127.0.0.1:$PORT" "$@" >>"$T/cmtpd.out" 2>&1 &
  POOL_PID=$!
  cm_on_exit "kill $POOL_PID 2>/dev/null"
  mta_wait_port "$PORT" 10
}

HELLO='< 220 CMTP
> STARTTLS
< 220
tls
> CELO client.example.org
< 250 DeliveryType CertifiedMail'
session() { printf '%s\n> QUIT\n< 221\n' "$HELLO" | "$PLAY" --ca "$P/ca.pem" --name mail.example.org --connect "127.0.0.1:$PORT" >>"$T/play.out" 2>&1; }

# --- sequential connections, recycling after -m ---------------------------
start_pool "$T/pool.log" -p 3 -m 3 -i 3
fails=0
for i in $(seq 10); do session || fails=$((fails + 1)); done
check "10 sequential sessions through the pool (-p 3 -m 3), 0 failed" test "$fails" -eq 0
[ "$fails" -eq 0 ] || sed 's/^/# /' "$T/play.out" | tail -5
# Which worker served which connection: "cmtpd[PID]: connect from".
grep -o 'cmtpd\[[0-9]*\]: connect from' "$T/pool.log" | grep -o '[0-9]*' | sort | uniq -c > "$T/per-worker"
nworkers=$(wc -l < "$T/per-worker")
maxper=$(awk '$1 > m { m = $1 } END { print m + 0 }' "$T/per-worker")
check "the connections were served by at least 4 workers (10 / max_use 3): $nworkers" test "$nworkers" -ge 4
check "no worker served more than max_use (3) connections: at most $maxper" test "$maxper" -le 3
check "worker processes are not the parent" sh -c "! grep -q ' $POOL_PID\$' '$T/per-worker'"
check_fails "no worker served its connections from the parent process" grep -q "cmtpd\[$POOL_PID\]: connect from" "$T/pool.log"

# --- concurrent connections, bounded by -p ---------------------------------
# 8 sessions that stay 1 s each, 3 workers at most: the others wait their turn.
: > "$T/play.out"
pids=""
for i in $(seq 8); do
  printf '%s\n! sleep 1\n> QUIT\n< 221\n' "$HELLO" |
    "$PLAY" --ca "$P/ca.pem" --name mail.example.org --connect "127.0.0.1:$PORT" >>"$T/play.out" 2>&1 &
  pids="$pids $!"
done
maxw=0
for i in $(seq 30); do
  n=$(workers "$POOL_PID" | wc -l); [ "$n" -gt "$maxw" ] && maxw=$n
  alive $pids || break
  sleep 0.1
done
fails=0
for p in $pids; do wait "$p" || fails=$((fails + 1)); done
check "8 concurrent sessions with 3 workers at most: 0 failed" test "$fails" -eq 0
[ "$fails" -eq 0 ] || sed 's/^/# /' "$T/play.out" | tail -5
check "never more than -p 3 workers (seen: $maxw)" test "$maxw" -le 3 -a "$maxw" -ge 1
check_output "the parent says when every worker is busy" "all 3 processes busy" cat "$T/pool.log"

# --- idle workers leave after -i seconds ------------------------------------
before=$(workers "$POOL_PID" | tr '\n' ' ')
check "idle workers exit after -i 3 s (were: $before)" gone_within 8 $before
check "the parent stays" alive "$POOL_PID"
check "a new connection after that gets a new worker" session

# --- SIGTERM stops everything, also a worker in a session --------------------
printf '%s\n! sleep 30\n> QUIT\n< 221\n' "$HELLO" |
  "$PLAY" --ca "$P/ca.pem" --name mail.example.org --connect "127.0.0.1:$PORT" >"$T/long.out" 2>&1 &
LONG=$!
for i in $(seq 50); do grep -q "TLS" "$T/pool.log" 2>/dev/null && [ -n "$(workers "$POOL_PID")" ] && break; sleep 0.1; done
sleep 0.5
ws=$(workers "$POOL_PID" | tr '\n' ' ')
check "a worker serves the long session" test -n "$ws"
kill -TERM "$POOL_PID"
check "SIGTERM: the parent exits" gone_within 12 "$POOL_PID"
check "SIGTERM: every worker is gone, the busy one too ($ws)" sh -c "! { $(declare -f alive); alive $ws; }"
check_fails "SIGTERM: nobody listens on the port any more" bash -c "exec 3<>/dev/tcp/127.0.0.1/$PORT"
wait "$LONG" 2>/dev/null
check_output "the parent logs its stop" "stopping: terminating the workers" cat "$T/pool.log"

# --- -m 1: one fresh process per connection ------------------------------------
start_pool "$T/m1.log" -m 1
for i in 1 2 3; do session; done
n=$(grep -o 'cmtpd\[[0-9]*\]: connect from' "$T/m1.log" | sort -u | wc -l)
check "-m 1: 3 connections, 3 different worker processes" test "$n" -eq 3
ws=$(workers "$POOL_PID" | tr '\n' ' ')
check "-m 1: no worker lingers after its connection ($ws)" sh -c "! { $(declare -f alive); alive $ws; } || sleep 1; ! { $(declare -f alive); alive $ws; }"

# --- a real deposit; TLS session resumption ---------------------------------
{ printf 'From: alice@example.org\r\nTo: bob@example.org\r\nSubject: pool\r\n\r\n'
  head -c 3000 /dev/urandom | base64 -w 76 | sed 's/$/\r/'; } > "$T/msg.eml"
send() {
  "$CMAIL" send --server "127.0.0.1:$PORT" --server-name mail.example.org --from alice@example.org \
    --cert "$P/users/alice@example.org.pem" --key "$P/users/alice@example.org.key" \
    --ca "$P/ca.pem" --crl "$P/crl.pem" --timeout 30 --to bob@example.org "$@" "$T/msg.eml"
}
: > "$T/m1.log"
check_output "cmail send deposits through the pool (-m 1), full handshake, session saved" "^deposited: envelope" \
  send --tls-session "$T/alice.sess"
check "the saved TLS session is a PEM session file, mode 0600" \
  sh -c "grep -q 'BEGIN SSL SESSION PARAMETERS' '$T/alice.sess' && test \"\$(stat -c %a '$T/alice.sess')\" = 600"
check_fails "the first connection was not resumed" grep -q "session resumed" "$T/m1.log"
check_output "the second cmail send resumes its session (in another worker) and deposits" "^deposited: envelope" \
  send --tls-session "$T/alice.sess"
check_output "cmtpd logs the resumed session" "TLS TLSv1.3 with cipher .*\(session resumed\)" cat "$T/m1.log"
n=$(grep -c "deposited, queued as" "$T/m1.log")
check "both deposits were accepted (DEPO 250): $n" test "$n" -eq 2
echo garbage > "$T/bad.sess"
check_output "a corrupt session file: a full handshake, the deposit goes through" "^deposited: envelope" \
  send --tls-session "$T/bad.sess"
kill -TERM "$POOL_PID"; gone_within 12 "$POOL_PID"

# openssl s_client, independently: -sess_out, then -sess_in says "Reused".
start_pool "$T/ossl.log"
sclient() {
  printf 'CELO client.example.org\nQUIT\n' | timeout 20 openssl s_client -connect "127.0.0.1:$PORT" \
    -starttls smtp -servername mail.example.org -CAfile "$P/ca.pem" -verify_return_error -crlf -ign_eof "$@" 2>&1
}
sclient -sess_out "$T/ossl.sess" > "$T/ossl1.out"
check_output "openssl s_client: the first session is new" "^New, TLSv1.3" cat "$T/ossl1.out"
sclient -sess_in "$T/ossl.sess" > "$T/ossl2.out"
check_output "openssl s_client -sess_in: the second session is Reused" "^Reused, TLSv1.3" cat "$T/ossl2.out"
check_output "and the CMTP session on it works (CELO 250)" "^250 OK" cat "$T/ossl2.out"

# A Cmail peer (server certificate as TLS client certificate): resumed, cmtpd
# still sees the certificate and validates it (peer verbs allowed).
psess() {
  printf 'CELO peer.example.org\nCHCK RCPT <bob@example.org>\nQUIT\n' | timeout 20 openssl s_client \
    -connect "127.0.0.1:$PORT" -starttls smtp -servername mail.example.org -CAfile "$P/ca.pem" \
    -cert "$P/server.pem" -key "$P/server.key" -crlf -ign_eof "$@" 2>&1
}
: > "$T/ossl.log"
psess -sess_out "$T/peer.sess" > "$T/peer1.out"
check_output "peer, full handshake: CHCK RCPT allowed" "^250 OK" cat "$T/peer1.out"
psess -sess_in "$T/peer.sess" > "$T/peer2.out"
check_output "peer, second connection: the session is Reused" "^Reused, TLSv1.3" cat "$T/peer2.out"
check_output "peer, resumed: CHCK RCPT still allowed (certificate seen again)" "^250 OK" cat "$T/peer2.out"
check_fails "peer, resumed: never 'Must authenticate'" grep -q "Must authenticate" "$T/peer2.out"
n=$(grep -c "Cmail server certificate" "$T/ossl.log")
check "cmtpd validated the peer certificate on both connections: $n" test "$n" -eq 2
# The resumed session of a plain client carries no certificate: peer verbs refused.
printf 'CELO client.example.org\nCHCK RCPT <bob@example.org>\nQUIT\n' | timeout 20 openssl s_client \
  -connect "127.0.0.1:$PORT" -starttls smtp -servername mail.example.org -CAfile "$P/ca.pem" -crlf -ign_eof \
  -sess_in "$T/ossl.sess" > "$T/plain2.out" 2>&1
check_output "a resumed session without client certificate: CHCK RCPT refused (530)" \
  "^530 5.7.0 Must authenticate as a Cmail server" cat "$T/plain2.out"
kill -TERM "$POOL_PID"; gone_within 12 "$POOL_PID"

# -t 0: no tickets, nothing to resume.
start_pool "$T/t0.log" -t 0
sclient -sess_out "$T/t0.sess" > "$T/t0a.out"
check_output "-t 0: a full handshake, the CMTP session works" "^250 OK" cat "$T/t0a.out"
check_fails "-t 0: no session ticket: openssl s_client has no session to save" test -s "$T/t0.sess"
kill -TERM "$POOL_PID"; gone_within 12 "$POOL_PID"

# -t 2: tickets live 2 s (and the keys are renewed): an older session is not resumed.
start_pool "$T/t2.log" -t 2 -m 1
sclient -sess_out "$T/t2.sess" > "$T/t2a.out"
sclient -sess_in "$T/t2.sess" > "$T/t2b.out"
check_output "-t 2: resumed at once" "^Reused, TLSv1.3" cat "$T/t2b.out"
sleep 3.5
sclient -sess_in "$T/t2.sess" > "$T/t2c.out"
check_output "-t 2: 3.5 s later the ticket is refused, a full handshake (New)" "^New, TLSv1.3" cat "$T/t2c.out"
kill -TERM "$POOL_PID"; gone_within 12 "$POOL_PID"

# -T: implicit TLS in the workers too; the session resumes.
start_pool "$T/tls.log" -T
itls() {
  printf 'CELO client.example.org\nQUIT\n' | timeout 20 openssl s_client -connect "127.0.0.1:$PORT" \
    -servername mail.example.org -CAfile "$P/ca.pem" -verify_return_error -crlf -ign_eof "$@" 2>&1
}
itls -sess_out "$T/itls.sess" > "$T/itls1.out"
check_output "-T: implicit TLS, the greeting comes inside TLS" "^220 mail.example.org CMTP" cat "$T/itls1.out"
itls -sess_in "$T/itls.sess" > "$T/itls2.out"
check_output "-T: the second connection resumes (Reused) and CELO works" "^250 OK" \
  sh -c "grep -q '^Reused, TLSv1.3' '$T/itls2.out' && cat '$T/itls2.out'"
kill -TERM "$POOL_PID"; gone_within 12 "$POOL_PID"

# One cmtpd per connection on stdin/stdout (as cmtpd.socket or spawn(8)): no ticket.
if command -v systemd-socket-activate >/dev/null; then
  : > "$T/inetd.log"
  systemd-socket-activate -l "127.0.0.1:$PORT" -a --inetd "$CMTPD" -c "$T/cmail.conf" -L "$T/inetd.log" \
    >>"$T/inetd.out" 2>&1 &
  SA_PID=$!
  cm_on_exit "kill $SA_PID 2>/dev/null"
  mta_wait_port "$PORT" 10
  sclient -sess_out "$T/inetd.sess" > "$T/inetd.out1"
  check_output "stdin/stdout mode (systemd-socket-activate --inetd): the session works" "^250 OK" cat "$T/inetd.out1"
  check_fails "stdin/stdout mode issues no session ticket (nothing saved by s_client)" test -s "$T/inetd.sess"
  kill "$SA_PID"; wait "$SA_PID" 2>/dev/null
else
  skip "systemd-socket-activate not installed"
fi

# A peer's certificate revoked after its full handshake: the resumed session still
# carries it, and cmtpd (a long-lived worker) checks it against the new CRL.
start_pool "$T/rev.log" -i 60
psess -sess_out "$T/peer3.sess" > "$T/rev1.out"
check_output "peer before the revocation: CHCK RCPT allowed" "^250 OK" cat "$T/rev1.out"
cp "$P/server.pem" "$P/users/peer-server@example.org.pem"
"$CMAIL" pki revoke "$P" peer-server@example.org >/dev/null 2>&1
rm -f "$P/users/peer-server@example.org.pem"
check_output "the peer's certificate is now on the CRL (openssl crl)" "Serial Number: *$(openssl x509 -in "$P/server.pem" -noout -serial | cut -d= -f2)" \
  openssl crl -in "$P/crl.pem" -noout -text
psess -sess_in "$T/peer3.sess" > "$T/rev2.out"
check_output "peer after the revocation: the session is Reused" "^Reused, TLSv1.3" cat "$T/rev2.out"
check_output "... and its certificate is refused (530, revoked)" "^530 5.7.0 Must authenticate as a Cmail server first: certificate refused: .*revoked" \
  cat "$T/rev2.out"
kill -TERM "$POOL_PID"; gone_within 12 "$POOL_PID"

# --- the parent killed outright: idle workers leave by themselves ----------------
start_pool "$T/kill.log" -i 60
session; session
ws=$(workers "$POOL_PID" | tr '\n' ' ')
check "an idle worker waits for connections ($ws)" test -n "$ws"
kill -KILL "$POOL_PID"; wait "$POOL_PID" 2>/dev/null
check "SIGKILL of the parent: the idle workers exit within 3 s" gone_within 3 $ws

# --- option values -------------------------------------------------------------
for bad in "-p 0" "-m 0" "-i 0" "-t -1" "-p 5000" "-m x"; do
  # shellcheck disable=SC2086
  "$CMTPD" -c "$T/cmail.conf" -l "127.0.0.1:$PORT" $bad >/dev/null 2>&1
  rc=$?
  check "cmtpd $bad is refused (exit 2)" test "$rc" -eq 2
done
cm_done
