#!/usr/bin/env bash
# test/shell/mta_smoke.sh - the private Postfix + Dovecot of lib_mta.sh work end to end:
# SMTP into Postfix, LMTP into Dovecot, the Maildir, IMAP and POP3 over TLS, and a
# clean stop that leaves no process and no listener behind.
. "$top_srcdir/test/shell/lib.sh"
. "$top_srcdir/test/shell/lib_mta.sh"

if ! why=$(mta_available); then
    skip "$why"
    cm_done
    exit 0
fi

# mta_listening PORT: true when PORT listens on 127.0.0.1 and on nothing else
mta_listening() {
    local l
    l=$(mta_listeners "$1")
    [ -n "$l" ] && [ -z "$(printf '%s\n' "$l" | grep -vx '127\.0\.0\.1')" ]
}

# has_line FILE LINE: FILE holds LINE exactly
has_line() { grep -qxF -- "$2" "$1"; }

# --- start --------------------------------------------------------------------
t0=$(mta_now)
check "mta_users creates alice and bob" mta_users alice bob:bobs-pw
check "Dovecot starts" dovecot_start
check "Postfix starts" postfix_start
echo "# start: dovecot ${MTA_DOVECOT_START_TIME:-?} s, postfix ${MTA_POSTFIX_START_TIME:-?} s," \
    "total with users and certificate $(mta_elapsed "$t0") s"
if [ "$cm_failed" -ne 0 ]; then
    mta_log_tail 40
    cm_done
    exit 1
fi

ports="$POSTFIX_SMTP_PORT $DOVECOT_IMAP_PORT $DOVECOT_POP3_PORT $DOVECOT_IMAP_PLAIN_PORT $DOVECOT_POP3_PLAIN_PORT"
n_distinct=$(printf '%s\n' $ports | sort -u | wc -l)
check "five distinct ports ($ports)" test "$n_distinct" -eq 5
bad=""
for p in $ports; do mta_listening "$p" || bad="$bad $p"; done
check "every listener is on 127.0.0.1 only${bad:+ (not:$bad)}" test -z "$bad"
check "LMTP is a unix socket ($DOVECOT_LMTP)" test -S "$DOVECOT_LMTP"
check_output "Postfix runs with our config directory" "^config_directory = $POSTFIX_CONF\$" \
    postconf -c "$POSTFIX_CONF" config_directory
check_output "Postfix delivers $MTA_DOMAIN to Dovecot LMTP" "^virtual_transport = lmtp:unix:$DOVECOT_LMTP\$" \
    postconf -c "$POSTFIX_CONF" virtual_transport
check_output "Dovecot runs with our base_dir" "^$T/dovecot/run\$" \
    doveconf -c "$DOVECOT_CONF" -h base_dir

# --- TLS ----------------------------------------------------------------------
for svc in IMAP:$DOVECOT_IMAP_PORT POP3:$DOVECOT_POP3_PORT; do
    name=${svc%:*} port=${svc#*:}
    echo Q | timeout -k 5 "$MTA_TIMEOUT" openssl s_client -connect "127.0.0.1:$port" \
        -CAfile "$DOVECOT_SSL_CA" -verify_hostname "$MTA_HOSTNAME" -verify_return_error \
        >"$T/tls.$name" 2>&1
    check_output "$name port speaks TLS with our certificate (verified)" \
        'Verify return code: 0 \(ok\)' cat "$T/tls.$name"
    check_output "$name TLS is 1.2 or 1.3" "(Protocol *: |New, )TLSv1\\.[23][ ,]" cat "$T/tls.$name"
done
# Plaintext on the implicit-TLS port: whatever comes back is no IMAP greeting.
greeting=$(timeout 5 bash -c 'exec 3<>/dev/tcp/127.0.0.1/'"$DOVECOT_IMAP_PORT"'
    printf "a LOGOUT\r\n" >&3; head -c 200 <&3' 2>/dev/null | tr -d '\r\0')
case $greeting in
    *'* OK'*) not_ok "IMAP TLS port gives no plaintext greeting ($greeting)" ;;
    *) ok "IMAP TLS port gives no plaintext greeting" ;;
esac

# --- SMTP in, LMTP to the Maildir ---------------------------------------------
token="smoke-$$-$RANDOM$RANDOM"
subject="Cmail MTA smoke $token"
cat >"$T/msg.eml" <<EOF
From: Alice <alice@$MTA_DOMAIN>
To: Bob <bob@$MTA_DOMAIN>
Subject: $subject
Message-ID: <$token@$MTA_DOMAIN>

Hello Bob,
body $token
.a line that starts with a dot
EOF
reply=$(smtp_send "alice@$MTA_DOMAIN" "bob@$MTA_DOMAIN" "$T/msg.eml")
rc=$?
check_output "Postfix accepts alice -> bob over SMTP ($reply)" '^250 .*queued as [0-9A-F]+' echo "$reply"
check "smtp_send reports success" test "$rc" -eq 0
qid=${reply##* }
reply=$(smtp_send "alice@$MTA_DOMAIN" "nobody@$MTA_DOMAIN" "$T/msg.eml")
rc=$?
check_output "an unknown local user is refused at RCPT ($reply)" '^550 5\.1\.1 ' echo "$reply"
check "smtp_send reports the refusal" test "$rc" -ne 0

check "the message lands in bob's Maildir" wait_for_mail bob 1
sleep 0.3   # a second (wrong) delivery would show up here
check "exactly one message for bob" test "$(mta_count_mail bob)" -eq 1
check "nothing for alice" test "$(mta_count_mail alice)" -eq 0
f=$(ls "$(mta_maildir bob)"/new/* "$(mta_maildir bob)"/cur/* 2>/dev/null | head -n 1)
check "stored Subject matches" has_line "${f:-/nonexistent}" "Subject: $subject"
check "stored body matches (dot line unstuffed)" has_line "${f:-/nonexistent}" ".a line that starts with a dot"
check_output "stored by Postfix queue id $qid via LMTP" "with ESMTP id $qid" cat "${f:-/dev/null}"
check_output "the file belongs to $MTA_MAIL_USER" "^$MTA_MAIL_USER\$" stat -c %U "${f:-/}"
check_output "Postfix logged delivery to Dovecot" "$qid: to=<bob@$MTA_DOMAIN>, relay=.*status=sent" cat "$POSTFIX_LOG"

check "the Postfix queue is empty afterwards" postfix_wait_queue_empty

# A user added while Postfix runs is known at once (mta_users reloads Postfix).
check "mta_users adds carol to the running instances" mta_users carol:carols-pw
reply=$(smtp_send "alice@$MTA_DOMAIN" "carol@$MTA_DOMAIN,bob@$MTA_DOMAIN" "$T/msg.eml")
check_output "Postfix accepts mail for carol and bob ($reply)" '^250 ' echo "$reply"
check "carol gets it" wait_for_mail carol 1
check "bob now has two messages" wait_for_mail bob 2

# --- IMAP over TLS ------------------------------------------------------------
imap_fetch bob bobs-pw 1 >"$T/imap.msg" 2>"$T/imap.err"
rc=$?
check "IMAP FETCH over TLS succeeds" test "$rc" -eq 0
check "IMAP: Subject matches" has_line "$T/imap.msg" "Subject: $subject"
check "IMAP: body matches" has_line "$T/imap.msg" "body $token"
check "IMAP: dot line intact" has_line "$T/imap.msg" ".a line that starts with a dot"
check "IMAP: same text as the Maildir file" cmp -s "$T/imap.msg" "${f:-/nonexistent}"
imap_fetch bob@"$MTA_DOMAIN" bobs-pw 1 >"$T/imap2.msg" 2>/dev/null
check "IMAP login with the full address works too" has_line "$T/imap2.msg" "Subject: $subject"
check_fails "IMAP refuses a wrong password" imap_fetch bob wrong-pw 1
imap_raw alice secret "SELECT INBOX" >"$T/imap.alice"
check_output "IMAP: alice's INBOX is empty" '^\* 0 EXISTS' cat "$T/imap.alice"
imap_fetch carol carols-pw 1 >"$T/imap.carol" 2>/dev/null
check "IMAP: carol reads her copy" has_line "$T/imap.carol" "body $token"

# --- POP3 over TLS ------------------------------------------------------------
pop3_list bob bobs-pw >"$T/pop3.list"
rc=$?
check "POP3 LIST over TLS succeeds" test "$rc" -eq 0
check_output "POP3 LIST shows exactly message 1" '^1 [0-9]+$' cat "$T/pop3.list"
check "POP3 LIST has two lines (bob's two messages)" test "$(wc -l <"$T/pop3.list")" -eq 2
pop3_retr bob bobs-pw 1 >"$T/pop3.msg"
rc=$?
check "POP3 RETR over TLS succeeds" test "$rc" -eq 0
check "POP3: Subject matches" has_line "$T/pop3.msg" "Subject: $subject"
check "POP3: body matches" has_line "$T/pop3.msg" "body $token"
check "POP3: dot line unstuffed" has_line "$T/pop3.msg" ".a line that starts with a dot"
check "POP3: same text as over IMAP" cmp -s "$T/pop3.msg" "$T/imap.msg"
check_fails "POP3 RETR of a missing message fails" pop3_retr bob bobs-pw 3
check_fails "POP3 refuses a wrong password" pop3_list bob wrong-pw

# --- one side down: Postfix queues, then delivers after a restart ---------------
check "dovecot_stop stops Dovecot alone" dovecot_stop
check "no Dovecot process of ours is left" test -z "$(mta_instance_pids dovecot)"
check "Postfix still runs" test -n "$(mta_instance_pids postfix)"
check_output "Postfix accepts mail while Dovecot is down" '^250 ' \
    smtp_send "alice@$MTA_DOMAIN" "alice@$MTA_DOMAIN" "$T/msg.eml"
check "postfix_stop stops Postfix with the message queued" postfix_stop
check "the message is in the deferred or active queue" \
    test -n "$(find "$T/postfix/spool/deferred" "$T/postfix/spool/active" -type f)"
check "Dovecot starts again" dovecot_start
check "Postfix starts again" postfix_start
timeout -k 5 "$MTA_TIMEOUT" postfix -c "$POSTFIX_CONF" flush >/dev/null 2>&1
check "the queued message reaches alice after the restart" wait_for_mail alice 1 30
ports="$ports $POSTFIX_SMTP_PORT $DOVECOT_IMAP_PORT $DOVECOT_POP3_PORT"
ports="$ports $DOVECOT_IMAP_PLAIN_PORT $DOVECOT_POP3_PLAIN_PORT"

# --- stop ---------------------------------------------------------------------
pids_before=$(mta_instance_pids | wc -l)
check "instance processes were found while running ($pids_before)" test "$pids_before" -ge 5
t0=$(mta_now)
mta_stop
echo "# stop: $(mta_elapsed "$t0") s"
left=$(mta_instance_pids)
check "no process of the instances remains${left:+ (left: $left)}" test -z "$left"
busy=""
for p in $ports; do mta_port_free "$p" || busy="$busy $p"; done
check "every port is free again${busy:+ (busy:$busy)}" test -z "$busy"
check "port reservations released" test -z "$(grep -lx $$ "$mta_port_dir"/*/pid 2>/dev/null)"
check "Postfix reports it is not running" bash -c "! postfix -c '$POSTFIX_CONF' status 2>/dev/null"
check_output "Postfix logged the Message-ID to its own log file" "message-id=<$token@" cat "$POSTFIX_LOG"
check_fails "and not to the system's mail log" grep -qsF "$token" /var/log/mail.log /var/log/syslog

# --- a test killed with SIGKILL leaves its instance; the next test stops it -------
# The child starts a Dovecot and becomes `sleep` (same pid: the reservation owner).
( exec bash -c '. "$top_srcdir/test/shell/lib.sh"; . "$top_srcdir/test/shell/lib_mta.sh"
  dovecot_start >/dev/null 2>&1 && echo "$T" >"$1" && exec sleep 60' child "$T/child.t" ) &
child=$!
disown "$child"
for i in $(seq 1 200); do [ -s "$T/child.t" ] && break; sleep 0.1; done
ct=$(cat "$T/child.t" 2>/dev/null)
# child_pids: the processes of the child's instance
child_pids() { T=$ct mta_instance_pids; }
check "a second test's Dovecot runs${ct:+ ($ct)}" test -n "$ct" -a -n "$(child_pids)"
kill -9 "$child" 2>/dev/null
for i in $(seq 1 50); do kill -0 "$child" 2>/dev/null || break; sleep 0.1; done
check "its instance outlives it (SIGKILL: no cleanup)" test -n "$(child_pids)"
mta_reap_orphans
for i in $(seq 1 50); do [ -z "$(child_pids)" ] && break; sleep 0.1; done
check "mta_reap_orphans stops the orphaned instance" test -z "$(child_pids)"
case $ct in */cmail-test.*) rm -rf "$ct" ;; esac
cm_done
