#!/usr/bin/env bash
# deposit_e2e.sh - the deposit path of issue 4 on real programs: a private Postfix
# (cmtpd as a spawn(8) service, a loopback injection listener with cmail-milter),
# cmail-notary, Dovecot LMTP mailboxes; `cmail send` alice -> bob, carol. Checks the
# stored form in both mailboxes and over IMAP, the notices with xmllint/xmlsec1, the
# journal rows with the Postfix queue id, forgery on the public port, and no loss
# when the injection path fails during DEPO.
. "$top_srcdir/test/shell/lib.sh"
. "$top_srcdir/test/shell/lib_mta.sh"

. "$top_srcdir/test/shell/lib_cmail.sh"
SCHEMA=$CMAIL_SCHEMA_DIR/x1341-notices.xsd
missing=$(cmail_stack_missing)
if [ -n "$missing" ]; then skip "needs $missing"; cm_done; exit 0; fi
if ! cmail_stack_start; then not_ok "the Cmail stack starts"; cm_done; exit 1; fi
ok "the Cmail stack starts: cmail-notary, cmail-milter, Dovecot, Postfix with cmtpd under spawn"

printf 'From: Alice <alice@example.org>\r\nTo: bob@example.org\r\nCc: carol@example.org\r\nSubject: Contract\r\nDate: Wed, 25 Nov 2026 08:00:00 +0000\r\nMessage-ID: <contract.1@example.org>\r\n\r\nThe secret terms: 42.\r\n' > "$T/msg.eml"
send() { cmail_send_as alice --out "$T/out" "$T/msg.eml"; }
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
  cmail_evidence show "$ENVID"
check_output "the journal has the deposited row" "deposited.*queue_id=[0-9A-F]+" \
  cmail_evidence show "$ENVID"
QQ=$(cmail_evidence show "$ENVID" | grep -o 'queue_id=[0-9A-F]*' | sort -u | wc -l)
check "queued and deposited name the same Postfix queue id" test "$QQ" -eq 1
check_output "Postfix logged that queue id" "$(cmail_evidence show "$ENVID" | grep -o 'queue_id=[0-9A-F]*' | head -1 | cut -d= -f2)" cat "$POSTFIX_LOG"
check_output "cmail evidence check passes" "chain intact" cmail_evidence check
check "nothing is left in cmtpd's spool" test -z "$(ls -A "$T/spool")"

# Forgery on the public port: a fake X-Cmail header is refused 550 5.7.1.
printf 'From: mallory@example.net\r\nTo: bob@example.org\r\nSubject: urgent\r\nX-Cmail-Delivery-Type: CertifiedMail\r\nX-Cmail-Envelope-Id: 20260101T000000Z.0000000000000000\r\n\r\nfake\r\n' > "$T/forged.eml"
check_output "a fake X-Cmail header on port 25 is rejected 550 5.7.1" "550[ -]5\.7\.1" \
  smtp_send mallory@example.net bob@example.org "$T/forged.eml"
# A stored form copied from bob's mailbox but offered to the public port for carol
# (recipients do not match what was sealed) is not accepted either.
check_output "an ordinary message on port 25 passes the milter" "^250|queued" \
  smtp_send alice@example.org bob@example.org <(printf 'From: alice@example.org\r\nSubject: hi\r\n\r\nplain\r\n')

# The same deposit through cmtpd standalone (-l, fork per connection, -u nobody).
mta_free_port CMTP2_PORT
"$CMTPD" -c "$CMAIL_CONF" -L "$T/cmtpd.log" -u nobody -l "127.0.0.1:$CMTP2_PORT" >>"$T/cmtpd.out" 2>&1 &
cm_on_exit "kill $! 2>/dev/null"
mta_wait_port "$CMTP2_PORT" 10
check "cmail send deposits through standalone cmtpd -l -u nobody" \
  "$CMAIL" send --server "127.0.0.1:$CMTP2_PORT" --server-name mail.example.org --from alice@example.org \
  --cert "$P/users/alice@example.org.pem" --key "$P/users/alice@example.org.key" --ca "$P/ca.pem" \
  --crl "$P/crl.pem" --to bob@example.org --timeout 60 "$T/msg.eml"
check "bob's mailbox receives the second stored form" wait_for_mail bob 2
cmail_send_as alice --to bob@example.org --repeat 2 "$T/msg.eml" > "$T/repeat.out" 2>&1
check "cmail send --repeat 2 makes two deposits in one session" test "$(grep -c '^deposited: envelope' "$T/repeat.out")" -eq 2
check "bob's mailbox receives both" wait_for_mail bob 4
check_output "the standalone cmtpd runs as nobody" "^nobody" ps -o user= -p "$(pgrep -f "cmtpd -c $CMAIL_CONF -L $T/cmtpd.log -u nobody" | head -1)"

# No loss: the milter is gone, so the injection listener tempfails during DEPO.
kill "$MILTER_PID"; sleep 0.5
rows_before=$(cmail_evidence check | grep -o '[0-9]* rows' | cut -d' ' -f1)
send > "$T/send2.out" 2>&1; rc=$?
check "with the injection path down, cmail send exits 75 (temporary)" test "$rc" -eq 75
check_output "and the client sees a 4xx from DEPO" "451" cat "$T/send2.out"
rows_after=$(cmail_evidence check | grep -o '[0-9]* rows' | cut -d' ' -f1)
check "no journal row was written for it (no queued, no deposited)" test "$rows_before" = "$rows_after"
check "no file is left in the spool" test -z "$(ls -A "$T/spool")"
check "nothing was queued for it" sh -c "postqueue -c '$POSTFIX_CONF' -p | grep -q 'Mail queue is empty'"
check "bob still has exactly four certified messages" test "$(grep -l 'X-Cmail-Delivery-Type' "$(mta_maildir bob)"/new/* "$(mta_maildir bob)"/cur/* 2>/dev/null | wc -l)" -eq 4
cm_done
