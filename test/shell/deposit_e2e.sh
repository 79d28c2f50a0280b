#!/usr/bin/env bash
# deposit_e2e.sh - the deposit path of issue 4 on real programs: a private Postfix
# (cmtpd as a spawn(8) service, a loopback injection listener with cmail-milter),
# cmail-notary, Dovecot LMTP mailboxes; `cmail send` alice -> bob, carol. Checks the
# stored form in both mailboxes and over IMAP, the notices with xmllint/xmlsec1, the
# journal rows with the Postfix queue id, forgery on the public port, and no loss
# when the injection path fails during DEPO.
. "$top_srcdir/test/shell/lib.sh"
. "$top_srcdir/test/shell/lib_mta.sh"

CMTPD=$top_builddir/cmtpd/cmtpd
NOTARY=$top_builddir/notary/cmail-notary
MILTER=$top_builddir/milter/cmail-milter
SCHEMA=$CMAIL_SCHEMA_DIR/x1341-notices.xsd
for p in "$CMTPD" "$NOTARY" "$MILTER" /usr/sbin/postfix /usr/sbin/dovecot; do
  if [ ! -x "$p" ]; then skip "$p not built or not installed"; cm_done; exit 0; fi
done
[ "$(id -u)" -eq 0 ] || { skip "needs root (private Postfix and Dovecot)"; cm_done; exit 0; }
mta_init || { not_ok "mta_init"; cm_done; exit 1; }

# The test PKI and the run-time directories: cmtpd runs as nobody under spawn, the
# notary drops to nobody, the milter stays root.
P=$T/pki
"$CMAIL" pki init "$P" --domain example.org --user alice@example.org --user bob@example.org \
  --user carol@example.org >/dev/null || { not_ok "cmail pki init"; cm_done; exit 1; }
chmod 0755 "$P" "$P/users"
mkdir -p "$T/run" "$T/spool" "$T/notary" "$T/out" "$T/keys"
chmod 0755 "$T/run"; chown nobody "$T/run"
chown nobody "$T/spool" "$T/notary"
"$NOTARY" -G "$T/keys/seal.key" >/dev/null
install -m 0600 -o nobody "$P/server.key" "$T/keys/tls.key"
touch "$T/cmtpd.log" && chown nobody "$T/cmtpd.log"
mta_free_port CMTP_PORT
mta_free_port INJ_PORT
cat > "$T/cmail.conf" <<EOC
myhostname = mail.example.org
local_domains = example.org
server_certificate = $P/server.pem
server_key = $P/server.key
seal_key = $T/keys/seal.key
tls_certificate = $P/server.pem
tls_key = $T/keys/tls.key
trust_anchors = $P/ca.pem
crl_directory = $P/crl.pem
certificate_directory = $P/users
notary_socket = $T/run/notary.sock
notary_user = nobody
evidence_database = $T/notary/evidence.db
spool_directory = $T/spool
injection_address = 127.0.0.1:$INJ_PORT
milter_socket = unix:$T/run/milter.sock
milter_injection_name = cmail-inject
smtp_timeout = 30
schema_directory = $CMAIL_SCHEMA_DIR
EOC
chmod 0644 "$T/cmail.conf"

"$NOTARY" -f -c "$T/cmail.conf" >"$T/notary.log" 2>&1 &
NOTARY_PID=$!
cm_on_exit "kill $NOTARY_PID 2>/dev/null; cat $T/notary.log >&2"
start_milter() {
  "$MILTER" -f -p "unix:$T/run/milter.sock" -c "$T/cmail.conf" -L "$T/milter.log" >>"$T/milter.out" 2>&1 &
  MILTER_PID=$!
  cm_on_exit "kill $MILTER_PID 2>/dev/null"
  for i in $(seq 50); do [ -S "$T/run/milter.sock" ] && break; sleep 0.1; done
  chmod 0666 "$T/run/milter.sock"
}
start_milter
for i in $(seq 50); do [ -S "$T/run/notary.sock" ] && break; sleep 0.1; done
check "cmail-notary is up" test -S "$T/run/notary.sock"
check "cmail-milter is up" test -S "$T/run/milter.sock"

mta_users alice bob carol || { not_ok "mta_users"; cm_done; exit 1; }
dovecot_start || { not_ok "dovecot_start"; cm_done; exit 1; }
POSTFIX_EXTRA_MAIN="smtpd_milters = unix:$T/run/milter.sock
non_smtpd_milters = unix:$T/run/milter.sock
milter_default_action = tempfail
milter_protocol = 6"
POSTFIX_EXTRA_MASTER="127.0.0.1:$CMTP_PORT inet n n n - - spawn
  user=nobody argv=$CMTPD -c $T/cmail.conf -L $T/cmtpd.log
127.0.0.1:$INJ_PORT inet n - n - - smtpd
  -o syslog_name=postfix/cmail-inject
  -o milter_macro_daemon_name=cmail-inject
  -o smtpd_milters=unix:$T/run/milter.sock
  -o smtpd_client_restrictions=permit_mynetworks,reject"
postfix_start || { not_ok "postfix_start"; cm_done; exit 1; }
mta_wait_port "$CMTP_PORT" 10

printf 'From: Alice <alice@example.org>\r\nTo: bob@example.org\r\nCc: carol@example.org\r\nSubject: Contract\r\nDate: Wed, 25 Nov 2026 08:00:00 +0000\r\nMessage-ID: <contract.1@example.org>\r\n\r\nThe secret terms: 42.\r\n' > "$T/msg.eml"
send() {
  CMAIL_SCHEMA_DIR=$CMAIL_SCHEMA_DIR "$CMAIL" send --server "127.0.0.1:$CMTP_PORT" --server-name mail.example.org \
    --from alice@example.org --cert "$P/users/alice@example.org.pem" --key "$P/users/alice@example.org.key" \
    --ca "$P/ca.pem" --crl "$P/crl.pem" --out "$T/out" --timeout 60 "$@" "$T/msg.eml"
}
check "cmail send deposits alice -> bob, carol through cmtpd under Postfix spawn" send
check "bob's mailbox receives the stored form" wait_for_mail bob 1
check "carol's mailbox receives the stored form" wait_for_mail carol 1
BOBMSG=$(ls "$(mta_maildir bob)"/new/* "$(mta_maildir bob)"/cur/* 2>/dev/null | head -1)
ENVID=$(sed -n 's/^X-Cmail-Envelope-Id: //p' "$BOBMSG" | tr -d '\r')
check "the stored form carries X-Cmail-Delivery-Type: CertifiedMail" grep -q "^X-Cmail-Delivery-Type: CertifiedMail" "$BOBMSG"
check "the stored form carries the envelope id" test -n "$ENVID"
check "the stored form has the readable note and the sealed part" sh -c \
  "grep -q 'Certified mail from alice@example.org is waiting for you' '$BOBMSG' && grep -q 'application/x-cmail-sealed' '$BOBMSG'"
check_fails "the mailbox holds neither the plaintext nor the ENVELOPE" grep -rqE 'secret terms|name="envelop"' "$T/mail"
imap_fetch bob "$(mta_pass bob)" 1 > "$T/imap.txt" 2>&1
check_output "IMAP FETCH shows the note" "is waiting for you" cat "$T/imap.txt"
check_fails "IMAP FETCH shows no ENVELOPE and no plaintext" grep -qE 'secret terms|name="envelop"|filename=envelop' "$T/imap.txt"
for f in "$T"/out/*.xml; do
  check "$(basename "$f") passes xmllint --schema" xmllint --noout --schema "$SCHEMA" "$f"
  n=$(grep -o 'Id="cmail-sig-[0-9]"' "$f" | wc -l)
  for i in $(seq "$n"); do
    check "$(basename "$f") signature $i passes xmlsec1 --verify" \
      xmlsec1 --verify --trusted-pem "$P/ca.pem" --node-xpath "//*[@Id='cmail-sig-$i']" "$f"
  done
  check_output "$(basename "$f") passes cmail verify" "^VALID" "$CMAIL" verify --ca "$P/ca.pem" --crl "$P/crl.pem" "$f"
done
check_output "the journal has the queued row with the Postfix queue id" "queued.*queue_id=[0-9A-F]+" \
  "$CMAIL" evidence show "$ENVID" --db "$T/notary/evidence.db"
check_output "the journal has the deposited row" "deposited.*queue_id=[0-9A-F]+" \
  "$CMAIL" evidence show "$ENVID" --db "$T/notary/evidence.db"
QQ=$("$CMAIL" evidence show "$ENVID" --db "$T/notary/evidence.db" | grep -o 'queue_id=[0-9A-F]*' | sort -u | wc -l)
check "queued and deposited name the same Postfix queue id" test "$QQ" -eq 1
check_output "Postfix logged that queue id" "$("$CMAIL" evidence show "$ENVID" --db "$T/notary/evidence.db" | grep -o 'queue_id=[0-9A-F]*' | head -1 | cut -d= -f2)" cat "$POSTFIX_LOG"
check_output "cmail evidence check passes" "chain intact" "$CMAIL" evidence check --db "$T/notary/evidence.db"
check "nothing is left in cmtpd's spool" test -z "$(ls -A "$T/spool")"

# Forgery on the public port: a fake X-Cmail header is refused 550 5.7.1.
printf 'From: mallory@example.net\r\nTo: bob@example.org\r\nSubject: urgent\r\nX-Cmail-Delivery-Type: CertifiedMail\r\nX-Cmail-Envelope-Id: 20260101T000000Z.0000000000000000\r\n\r\nfake\r\n' > "$T/forged.eml"
check_output "a fake X-Cmail header on port 25 is rejected 550 5.7.1" "550[ -]5\.7\.1" \
  smtp_send mallory@example.net bob@example.org "$T/forged.eml"
# A stored form copied from bob's mailbox but offered to the public port for carol
# (recipients do not match what was sealed) is not accepted either.
check_output "an ordinary message on port 25 passes the milter" "^250|queued" \
  smtp_send alice@example.org bob@example.org <(printf 'From: alice@example.org\r\nSubject: hi\r\n\r\nplain\r\n')

# No loss: the milter is gone, so the injection listener tempfails during DEPO.
kill "$MILTER_PID"; sleep 0.5
rows_before=$("$CMAIL" evidence check --db "$T/notary/evidence.db" | grep -o '[0-9]* rows' | cut -d' ' -f1)
send > "$T/send2.out" 2>&1; rc=$?
check "with the injection path down, cmail send exits 75 (temporary)" test "$rc" -eq 75
check_output "and the client sees a 4xx from DEPO" "451" cat "$T/send2.out"
rows_after=$("$CMAIL" evidence check --db "$T/notary/evidence.db" | grep -o '[0-9]* rows' | cut -d' ' -f1)
check "no journal row was written for it (no queued, no deposited)" test "$rows_before" = "$rows_after"
check "no file is left in the spool" test -z "$(ls -A "$T/spool")"
check "nothing was queued for it" sh -c "postqueue -c '$POSTFIX_CONF' -p | grep -q 'Mail queue is empty'"
check "bob still has exactly one certified message" test "$(grep -l 'X-Cmail-Delivery-Type' "$(mta_maildir bob)"/new/* "$(mta_maildir bob)"/cur/* 2>/dev/null | wc -l)" -eq 1
cm_done
