#!/usr/bin/env bash
# cpop.sh - the CPOP plugin (issue 5) on real programs: cmail-notary, cmtpd under
# Postfix spawn, Postfix delivering to Dovecot over LMTP, Dovecot's pop3 with
# lib95_cmail_plugin.so. `cmail send` alice -> bob, carol; then over POP3/TLS as
# bob: CAPA, LIST, LIST n, RETR (the signed receipt notice, checked with xmllint
# and xmlsec1), TOP, CHLG RESP with a correct answer (computed with the project's
# tools from bob's key) and with every kind of wrong one, the ENVELOPE released
# and byte-compared, IMAP never showing it, the receipt notice mail in alice's
# mailbox, the journal rows, and two sessions answering at once.
. "$top_srcdir/test/shell/lib.sh"
. "$top_srcdir/test/shell/lib_mta.sh"

CMTPD=$top_builddir/cmtpd/cmtpd
NOTARY=$top_builddir/notary/cmail-notary
PLUGIN=$top_builddir/dovecot-plugin/lib95_cmail_plugin.so
CTOOL=$top_builddir/test/tools/crypto_tool
NTOOL=$top_builddir/test/tools/notice_tool
SCHEMA=$CMAIL_SCHEMA_DIR/x1341-notices.xsd
for p in "$CMTPD" "$NOTARY" "$PLUGIN" "$CTOOL" "$NTOOL" /usr/sbin/postfix /usr/sbin/dovecot; do
  if [ ! -e "$p" ]; then skip "$p not built or not installed"; cm_done; exit 0; fi
done
for tool in xmllint xmlsec1 openssl; do
  command -v $tool >/dev/null || { skip "$tool not installed"; cm_done; exit 0; }
done
[ "$(id -u)" -eq 0 ] || { skip "needs root (private Postfix and Dovecot)"; cm_done; exit 0; }
mta_init || { not_ok "mta_init"; cm_done; exit 1; }

# --- PKI, notary, cmail.conf (as deposit_e2e.sh) ---
P=$T/pki
"$CMAIL" pki init "$P" --domain example.org --user alice@example.org --user bob@example.org \
  --user carol@example.org >/dev/null || { not_ok "cmail pki init"; cm_done; exit 1; }
chmod 0755 "$P" "$P/users"
mkdir -p "$T/run" "$T/spool" "$T/notary" "$T/out" "$T/keys" "$T/modules" "$T/w"
chmod 0755 "$T/run" "$T/modules"
chown nobody "$T/spool" "$T/notary" "$T/run"
"$NOTARY" -G "$T/keys/seal.key" >/dev/null
install -m 0600 -o nobody "$P/server.key" "$T/keys/tls.key"
install -m 0644 "$PLUGIN" "$T/modules/lib95_cmail_plugin.so"
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
notary_threads = 4
evidence_database = $T/notary/evidence.db
spool_directory = $T/spool
injection_address = 127.0.0.1:$INJ_PORT
smtp_timeout = 30
EOC
chmod 0644 "$T/cmail.conf"
printf 'verbose = nonsense\n' > "$T/broken.conf"
chmod 0644 "$T/broken.conf"

# CPOP_NOTARY_WRAP="valgrind --leak-check=full --log-file=/tmp/vg.%p" runs the notary under a tool.
${CPOP_NOTARY_WRAP:-} "$NOTARY" -f -c "$T/cmail.conf" >"$T/notary.log" 2>&1 &
NOTARY_PID=$!
cm_on_exit "kill $NOTARY_PID 2>/dev/null; sed 's/^/# notary: /' $T/notary.log | tail -40 >&2"
for i in $(seq 100); do [ -S "$T/run/notary.sock" ] && break; sleep 0.1; done
if [ -S "$T/run/notary.sock" ]; then ok "cmail-notary is up"; else
  not_ok "cmail-notary is up"; sed 's/^/# /' "$T/notary.log"; cm_done; exit 1
fi
# pop3 runs as the mail user; the notary socket is 0660 for its own user.
chmod 0666 "$T/run/notary.sock"

mta_users alice bob carol dave erin frank || { not_ok "mta_users"; cm_done; exit 1; }
# dave's session points at a broken cmail.conf: the plugin must refuse it.
sed -i "s|^\(dave@example.org:.*\)::\$|\1::userdb_cmail_config=$T/broken.conf|" "$T/dovecot/users"
# erin has no cmail_config: the plugin is disabled, pop3 is plain Dovecot.
sed -i "s|^\(erin@example.org:.*\)::\$|\1::userdb_cmail_config=no|" "$T/dovecot/users"
POSTFIX_EXTRA_MASTER="127.0.0.1:$CMTP_PORT inet n n n - - spawn
  user=nobody argv=/usr/bin/env CMAIL_SCHEMA_DIR=$CMAIL_SCHEMA_DIR $CMTPD -c $T/cmail.conf -L $T/cmtpd.log
127.0.0.1:$INJ_PORT inet n - n - - smtpd
  -o syslog_name=postfix/cmail-inject
  -o smtpd_client_restrictions=permit_mynetworks,reject"
postfix_start || { not_ok "postfix_start"; cm_done; exit 1; }
DOVECOT_PLUGIN_DIR=$T/modules
DOVECOT_EXTRA_CONF="protocol pop3 {
  mail_plugins = \$mail_plugins cmail
}
mail_debug = yes
plugin {
  cmail_config = $T/cmail.conf
  cmail_submission_host = 127.0.0.1:$POSTFIX_SMTP_PORT
}"
dovecot_start || { not_ok "dovecot_start"; mta_log_tail 40; cm_done; exit 1; }
# CPOP_KEEP_LOGS=DIR keeps the instance logs for debugging.
[ -n "${CPOP_KEEP_LOGS:-}" ] && cm_on_exit "cp $DOVECOT_LOG $POSTFIX_LOG $T/notary.log ${CPOP_KEEP_LOGS}/ 2>/dev/null"
mta_wait_port "$CMTP_PORT" 10

# --- deposit: certified #1 (bob, carol), an ordinary mail, certified #2 (bob) ---
mkmsg() {
  printf 'From: Alice <alice@example.org>\r\nTo: bob@example.org\r\n%bSubject: %s\r\nDate: Wed, 25 Nov 2026 08:00:00 +0000\r\nMessage-ID: <%s@example.org>\r\n\r\n%s\r\n.a line starting with a dot\r\nend\r\n' \
    "$2" "$3" "$4" "$5" > "$1"
}
mkmsg "$T/msg1.eml" 'Cc: carol@example.org\r\n' "Contract" contract.1 "The secret terms: 42."
mkmsg "$T/msg3.eml" '' "Second" second.3 "Another secret: 43."
send() {
  timeout 60 "$CMAIL" send --server "127.0.0.1:$CMTP_PORT" --server-name mail.example.org \
    --from alice@example.org --cert "$P/users/alice@example.org.pem" --key "$P/users/alice@example.org.key" \
    --ca "$P/ca.pem" --crl "$P/crl.pem" --out "$T/out" "$@"
}
if send "$T/msg1.eml" >"$T/send.out" 2>&1; then ok "cmail send deposits certified message 1 (alice -> bob, carol)"; else
  not_ok "cmail send deposits certified message 1 (alice -> bob, carol)"
  sed 's/^/# send: /' "$T/send.out"; sed 's/^/# cmtpd: /' "$T/cmtpd.log"; mta_log_tail 30; cm_done; exit 1
fi
check "bob's mailbox receives it" wait_for_mail bob 1
printf 'From: carol@example.org\r\nTo: bob@example.org\r\nSubject: ordinary\r\n\r\nplain text\r\n' > "$T/plain.eml"
check "an ordinary message reaches bob" smtp_send carol@example.org bob@example.org "$T/plain.eml"
check "bob's mailbox holds two messages" wait_for_mail bob 2
check "cmail send deposits certified message 3 (alice -> bob)" send "$T/msg3.eml"
check "bob's mailbox holds three messages" wait_for_mail bob 3
BOBPW=$(mta_pass bob)
# erin gets a copy of bob's three messages, for plain Dovecot to list and show.
cp -p "$(mta_maildir bob)"/new/* "$(mta_maildir erin)/new/"
chown -R "$MTA_MAIL_USER" "$(mta_maildir erin)"
# frank (plugin enabled) gets a copy too, but he is not one of the sealed entities.
cp -p "$(mta_maildir bob)"/new/* "$(mta_maildir frank)/new/"
chown -R "$MTA_MAIL_USER" "$(mta_maildir frank)"

# pop3 CMD...: a POP3/TLS session as bob, raw output with CR removed
pop3() { pop3_raw bob@example.org "$BOBPW" "$@" | tr -d '\r'; }
# body_of N KINDS: body of multi-line reply N, where KINDS lists which replies are
# multi-line ("1 0 1": 1st and 3rd); CR-less, dot-unstuffed, status line removed
body_of() {
  awk -v want="$1" -v kinds="$2" '
    BEGIN { split(kinds, k, " ") }
    NR <= 3 { next }
    !inml { n++; if ($0 ~ /^\+OK/ && k[n] == 1) inml = 1; next }
    $0 == "." { inml = 0; next }
    { if (n == want) { if (substr($0, 1, 1) == ".") $0 = substr($0, 2); print } }'
}
# status_of N KINDS: the status line of reply N
status_of() {
  awk -v want="$1" -v kinds="$2" '
    BEGIN { split(kinds, k, " ") }
    NR <= 3 { next }
    !inml { n++; if (n == want) print; if ($0 ~ /^\+OK/ && k[n] == 1) inml = 1; next }
    $0 == "." { inml = 0 }'
}

# --- CAPA, LIST, LIST n, TOP ---
pop3 CAPA LIST "LIST 1" "LIST 2" "TOP 1 5" "TOP 2 0" > "$T/s1.txt"
K="1 1 0 0 1 1"
check_output "CAPA advertises CMAIL CertifiedMail" "^CMAIL CertifiedMail$" body_of 1 "$K" < "$T/s1.txt"
check_output "CAPA keeps Dovecot's capabilities" "^PIPELINING$" body_of 1 "$K" < "$T/s1.txt"
check_output "LIST has Dovecot's first line" "^\+OK 3 messages:$" status_of 2 "$K" < "$T/s1.txt"
check_output "LIST marks message 1 CertifiedMail" "^1 [0-9]+ CertifiedMail$" body_of 2 "$K" < "$T/s1.txt"
check_output "LIST leaves the ordinary message 2 as Dovecot lists it" "^2 [0-9]+$" body_of 2 "$K" < "$T/s1.txt"
check_output "LIST marks message 3 CertifiedMail" "^3 [0-9]+ CertifiedMail$" body_of 2 "$K" < "$T/s1.txt"
check_output "LIST 1 is marked" "^\+OK 1 [0-9]+ CertifiedMail$" status_of 3 "$K" < "$T/s1.txt"
check_output "LIST 2 is Dovecot's" "^\+OK 2 [0-9]+$" status_of 4 "$K" < "$T/s1.txt"
body_of 5 "$K" < "$T/s1.txt" > "$T/top1.txt"
check_output "TOP of a certified message shows its header" "^X-Cmail-Delivery-Type: CertifiedMail" cat "$T/top1.txt"
check_fails "TOP of a certified message never shows the body or the sealed part" \
  grep -qiE 'x-cmail-sealed|waiting for you|^Content-Transfer-Encoding: base64' "$T/top1.txt"
check_output "TOP of an ordinary message is Dovecot's" "^Subject: ordinary" body_of 6 "$K" < "$T/s1.txt"

# --- the same messages without the plugin (erin: no cmail_config) ---
pop3_raw erin@example.org "$(mta_pass erin)" CAPA LIST "RETR 1" | tr -d '\r' > "$T/plain.txt"
check_fails "without cmail_config there is no CMAIL capability" grep -q '^CMAIL' "$T/plain.txt"
body_of 2 "1 1 1" < "$T/plain.txt" > "$T/plainlist.txt"
body_of 2 "1 1 0 0 1 1" < "$T/s1.txt" | sed 's/ CertifiedMail$//' > "$T/pluginlist.txt"
check "LIST with the plugin is plain Dovecot's LIST plus the annotations, byte for byte" \
  cmp "$T/plainlist.txt" "$T/pluginlist.txt"
check_output "a plain POP3 RETR of a certified message gives the stored form" "x-cmail-sealed" \
  body_of 3 "1 1 1" < "$T/plain.txt"
check_fails "a plain POP3 RETR never shows the ENVELOPE or the plaintext" \
  grep -qE 'secret terms|name="?envelop' "$T/plain.txt"
check_output "the plugin logs that it is disabled for erin" "erin.*cmail: no cmail_config setting" cat "$DOVECOT_LOG"

# --- a mailbox owner who is not a recipient of the sealed message ---
pop3_raw frank@example.org "$(mta_pass frank)" "RETR 1" "LIST 1" | tr -d '\r' > "$T/frank.txt"
check_output "RETR by a user who is not a sealed entity is refused" \
  "^-ERR 503 Error: unable to send receipt notice$" status_of 1 "0 0" < "$T/frank.txt"
check_output "and the refusal is logged" "frank.*cmail: RETR 1 .*no Entity for frank@example.org" cat "$DOVECOT_LOG"
check_output "the session goes on after the refusal" "^\+OK 1 [0-9]+ CertifiedMail$" status_of 2 "0 0" < "$T/frank.txt"

# --- RETR 1: the receipt notice ---
pop3 "RETR 1" > "$T/s2.txt"
check_output "RETR 1 answers +OK <size> octets" "^\+OK [0-9]+ octets$" status_of 1 "1" < "$T/s2.txt"
body_of 1 "1" < "$T/s2.txt" > "$T/receipt.b64"
check "the RETR body is base64 in lines of at most 76 characters" \
  awk 'length($0) > 76 || $0 !~ /^[A-Za-z0-9+\/=]+$/ { bad = 1 } END { exit bad || NR == 0 }' "$T/receipt.b64"
base64 -d "$T/receipt.b64" > "$T/receipt.xml" 2>/dev/null
check_output "RETR gives a ReceiptNotice" "<ReceiptNotice" head -c 300 "$T/receipt.xml"
check "the receipt notice passes xmllint --schema" xmllint --noout --schema "$SCHEMA" "$T/receipt.xml"
check "the server's signature 1 passes xmlsec1 --verify" \
  xmlsec1 --verify --trusted-pem "$P/ca.pem" --node-xpath "//*[@Id='cmail-sig-1']" "$T/receipt.xml"
check_output "the receipt notice carries bob's Entity" 'EmailAddress="bob@example.org"' cat "$T/receipt.xml"
check_fails "the receipt notice carries no other recipient's Entity" grep -q 'carol@example.org' "$T/receipt.xml"
check_fails "the receipt notice carries no answer (every Response empty)" \
  grep -qE '<Response[^>]*>[^<]+</Response>' "$T/receipt.xml"
check_fails "RETR shows neither the plaintext nor the ENVELOPE" grep -q 'secret terms' "$T/s2.txt"

# answer IN OUT KEY CERT: the recipient's side: unwrap RSCK, compute the answer,
# rename, fill Response, sign at the challenge
xp() { xmllint --xpath "$1" "$2" 2>/dev/null; }
answer() {
  local in=$1 out=$2 key=$3 cert=$4 num
  num=$(xp 'string(//*[local-name()="EntityChallenge"]//*[local-name()="Request"]/@RandomNumber)' "$in")
  xp 'string(//*[local-name()="Entity"]/*[local-name()="CipherEnvelopeKey"])' "$in" > "$T/w/wrapped.b64"
  "$CTOOL" unwrap "$key" RSA-OAEP "$T/w/wrapped.b64" "$T/w/rsck.bin" || return 1
  "$CTOOL" answer "$num" "$T/w/rsck.bin" > "$T/w/answer.txt" || return 1
  "$NTOOL" promote "$in" "$T/w/p.xml" >/dev/null || return 1
  "$NTOOL" respond "$T/w/p.xml" "$T/w/r.xml" --answer "$(cat "$T/w/answer.txt")" >/dev/null || return 1
  "$NTOOL" sign "$T/w/r.xml" "$out" --key "$key" --cert "$cert" --place challenge >/dev/null
}
BK=$P/users/bob@example.org.key BC=$P/users/bob@example.org.pem
CK=$P/users/carol@example.org.key CC=$P/users/carol@example.org.pem
check "bob computes and signs his answer with the project's tools" answer "$T/receipt.xml" "$T/good.xml" "$BK" "$BC"
chlg() { printf 'CHLG RESP %s' "$(base64 -w0 "$1")"; }

# --- failures first: message 1 must stay unanswered through all of them ---
"$CTOOL" answer 12345 "$T/w/rsck.bin" > "$T/w/wrong.txt"
"$NTOOL" promote "$T/receipt.xml" "$T/w/p2.xml" >/dev/null
"$NTOOL" respond "$T/w/p2.xml" "$T/w/r2.xml" --answer "$(cat "$T/w/wrong.txt")" >/dev/null
"$NTOOL" sign "$T/w/r2.xml" "$T/wrong.xml" --key "$BK" --cert "$BC" --place challenge >/dev/null
"$NTOOL" sign "$T/w/r.xml" "$T/carol.xml" --key "$CK" --cert "$CC" --place challenge >/dev/null
ERR='^-ERR 503 Error: unable to send ENVELOPE$'
pop3 "$(chlg "$T/good.xml")" > "$T/f0.txt"
check_output "CHLG RESP without a RETR in the session is refused" "$ERR" status_of 1 "0" < "$T/f0.txt"
pop3 "RETR 1" "$(chlg "$T/wrong.xml")" > "$T/f1.txt"
check_output "CHLG RESP with a wrong answer is refused" "$ERR" status_of 2 "1 0" < "$T/f1.txt"
pop3 "RETR 1" "$(chlg "$T/carol.xml")" > "$T/f2.txt"
check_output "CHLG RESP with a notice signed by carol is refused" "$ERR" status_of 2 "1 0" < "$T/f2.txt"
pop3 "RETR 3" "$(chlg "$T/good.xml")" > "$T/f3.txt"
check_output "CHLG RESP with the answer of another message is refused" "$ERR" status_of 2 "1 0" < "$T/f3.txt"
pop3 "RETR 1" "CHLG RESP bm90IGEgbm90aWNl" "CHLG FOO" > "$T/f4.txt"
check_output "CHLG RESP with garbage is refused" "$ERR" status_of 2 "1 0 0" < "$T/f4.txt"
check_output "CHLG without RESP is refused" "$ERR" status_of 3 "1 0 0" < "$T/f4.txt"
check_fails "no failure released the plaintext" grep -q 'secret terms' "$T"/f[0-4].txt
check_output "every refusal was journalled" "answer-refused" \
  "$CMAIL" evidence show "$(sed -n 's/.*EnvelopeId="\([^"]*\)".*/\1/p' "$T/receipt.xml" | head -1)" --db "$T/notary/evidence.db"

# --- success ---
ENVID=$(sed -n 's/.*EnvelopeId="\([^"]*\)".*/\1/p' "$T/receipt.xml" | head -1)
pop3 "RETR 1" "$(chlg "$T/good.xml")" > "$T/s3.txt"
check_output "CHLG RESP with bob's correct answer gives +OK" "^\+OK$" status_of 2 "1 1" < "$T/s3.txt"
body_of 2 "1 1" < "$T/s3.txt" > "$T/envelope.txt"
check_output "the ENVELOPE is released" "name=\"?envelop" cat "$T/envelope.txt"
check_fails "the ENVELOPE is ciphertext (no plaintext on the wire)" grep -q 'secret terms' "$T/envelope.txt"
check_output "the journal has challenged, answered and receipt-sent" "receipt-sent" \
  "$CMAIL" evidence show "$ENVID" --db "$T/notary/evidence.db"
check_output "the journal has the answered row for bob" "answered.*recipient=bob@example.org" \
  "$CMAIL" evidence show "$ENVID" --db "$T/notary/evidence.db"
check_output "the journal has the challenged row for bob" "challenged.*recipient=bob@example.org" \
  "$CMAIL" evidence show "$ENVID" --db "$T/notary/evidence.db"
check "the answered message carries the keyword in the Maildir" \
  sh -c "grep -q CmailAnswered '$(mta_maildir bob)/dovecot-keywords'"

# later RETR of the answered message gives the ENVELOPE directly
pop3 "RETR 1" > "$T/s4.txt"
check_output "a later RETR 1 gives the ENVELOPE" "name=\"?envelop" body_of 1 "1" < "$T/s4.txt"
check "the ENVELOPE of the later RETR is the same" cmp -s "$T/envelope.txt" <(body_of 1 "1" < "$T/s4.txt")
n=$("$CMAIL" evidence show "$ENVID" --db "$T/notary/evidence.db" | grep -c 'answered.*recipient=bob')
check "a later RETR journals no second answered row" test "$n" -eq 1

# --- the receipt notice mail in alice's mailbox ---
check "alice's mailbox receives the receipt notice mail" wait_for_mail alice 1
AM=$(ls "$(mta_maildir alice)"/new/* "$(mta_maildir alice)"/cur/* 2>/dev/null | head -1)
check_output "its subject names the message and the reader" "^Subject: Receipt notice: Contract read by bob@example.org" cat "$AM"
RHASH=$(printf '%s' bob@example.org | openssl dgst -sha256 -r | cut -c1-16)
check "its Message-ID is fixed by envelope and recipient: <cmail-receipt.ENVID.HASH@example.org>" \
  grep -qiF "Message-ID: <cmail-receipt.${ENVID//@/=}.$RHASH@example.org>" "$AM"
awk '/filename="receiptNotice.xml"/ { f = 1; next } f && /^\r?$/ { if (s) exit; s = 1; next } f && s { print }' "$AM" \
  | tr -d '\r' | sed '/^--/,$d' | base64 -d > "$T/mailed.xml" 2>/dev/null
check "the attached receiptNotice.xml passes xmllint --schema" xmllint --noout --schema "$SCHEMA" "$T/mailed.xml"
check_output "the attached notice is a SignedReceiptNotice" "<SignedReceiptNotice" head -c 300 "$T/mailed.xml"
for i in 1 2 3; do
  check "the mailed notice's signature $i passes xmlsec1 --verify" \
    xmlsec1 --verify --trusted-pem "$P/ca.pem" --node-xpath "//*[@Id='cmail-sig-$i']" "$T/mailed.xml"
done
check_output "cmail verify accepts the mailed notice" "^VALID" "$CMAIL" verify --ca "$P/ca.pem" --crl "$P/crl.pem" "$T/mailed.xml"

# --- IMAP and the mailbox never show the ENVELOPE of an unanswered message ---
imap_fetch bob "$BOBPW" 3 > "$T/imap3.txt" 2>&1
check_output "IMAP FETCH of certified message 3 shows the note" "is waiting for you" cat "$T/imap3.txt"
check_fails "IMAP FETCH shows no ENVELOPE" grep -qE 'name="?envelop|Another secret' "$T/imap3.txt"
check_fails "no Maildir file holds an ENVELOPE or a plaintext" grep -rqE 'secret terms|Another secret|name="envelop' "$T/mail"

# --- concurrency: two sessions answer message 3 at once ---
pop3 "RETR 3" > "$T/c0.txt"
body_of 1 "1" < "$T/c0.txt" | base64 -d > "$T/receipt3.xml" 2>/dev/null
check "bob answers message 3" answer "$T/receipt3.xml" "$T/good3.xml" "$BK" "$BC"
ENV3=$(sed -n 's/.*EnvelopeId="\([^"]*\)".*/\1/p' "$T/receipt3.xml" | head -1)
pop3 "RETR 3" "$(chlg "$T/good3.xml")" > "$T/c1.txt" &
C1=$!
pop3 "RETR 3" "$(chlg "$T/good3.xml")" > "$T/c2.txt" &
C2=$!
wait "$C1" "$C2"
check_output "session 1 gets the ENVELOPE" "^\+OK$" status_of 2 "1 1" < "$T/c1.txt"
check_output "session 2 gets the ENVELOPE" "^\+OK$" status_of 2 "1 1" < "$T/c2.txt"
n=$("$CMAIL" evidence show "$ENV3" --db "$T/notary/evidence.db" | grep -c 'answered.*recipient=bob')
check "two concurrent answers make exactly one answered row" test "$n" -eq 1
n=$("$CMAIL" evidence show "$ENV3" --db "$T/notary/evidence.db" | grep -c 'receipt-sent')
check "and exactly one receipt-sent row" test "$n" -eq 1
check "the journal chain checks" "$CMAIL" evidence check --db "$T/notary/evidence.db"

# --- a long reply by pop3 itself, then more commands: the plugin must still own the
# input (pop3's flush callback would re-install pop3's own input handler) ---
{ printf 'From: carol@example.org\r\nTo: bob@example.org\r\nSubject: big\r\n\r\n'
  for i in $(seq 1 20000); do printf 'line %05d of a long ordinary message, long enough to fill buffers\r\n' "$i"; done
} > "$T/big.eml"
check "a 1.4 MB ordinary message reaches bob" smtp_send carol@example.org bob@example.org "$T/big.eml"
check "bob's mailbox holds four messages" wait_for_mail bob 4
pop3 "RETR 4" "CAPA" "LIST 3" "RETR 3" "LIST 3" > "$T/long.txt"
K2="1 1 0 1 0"
check_output "pop3's own RETR of the long message completes" "^line 20000 of" body_of 1 "$K2" < "$T/long.txt"
check_output "after it, CAPA is still the plugin's" "^CMAIL CertifiedMail$" body_of 2 "$K2" < "$T/long.txt"
check_output "after it, LIST 3 is still the plugin's" "^\+OK 3 [0-9]+ CertifiedMail$" status_of 3 "$K2" < "$T/long.txt"
check_output "after it, RETR 3 (answered) gives the ENVELOPE" "name=\"?envelop" body_of 4 "$K2" < "$T/long.txt"
check_output "and the session still answers" "^\+OK 3 [0-9]+ CertifiedMail$" status_of 5 "$K2" < "$T/long.txt"

# --- carol replays bob's accepted answer for the same message: refused ---
pop3_raw carol@example.org "$(mta_pass carol)" "RETR 1" "$(chlg "$T/good.xml")" | tr -d '\r' > "$T/replay.txt"
check_output "carol gets her own receipt notice for message 1" "^\+OK [0-9]+ octets$" status_of 1 "1 1" < "$T/replay.txt"
check_output "carol replaying bob's signed answer is refused" "$ERR" status_of 2 "1 1" < "$T/replay.txt"
check_fails "the replay released nothing" grep -qE 'secret terms|name="?envelop' "$T/replay.txt"

# --- end to end with the real client: carol runs `cmail fetch` ---
mta_pass carol > "$T/carol.pw"
mkdir -p "$T/carolout"
check "cmail fetch as carol retrieves her mail through the plugin" \
  timeout 60 "$CMAIL" fetch --server "127.0.0.1:$DOVECOT_POP3_PORT" --implicit-tls \
    --server-name "$MTA_HOSTNAME" --tls-ca "$DOVECOT_SSL_CA" --user carol@example.org \
    --password-file "$T/carol.pw" --cert "$CC" --key "$CK" --ca "$P/ca.pem" --crl "$P/crl.pem" \
    --out "$T/carolout"
check "carol's plaintext is byte-identical to what alice sent" cmp "$T/msg1.eml" "$T/carolout/$ENVID.eml"
check "the journal has carol's answered row" sh -c \
  "'$CMAIL' evidence show '$ENVID' --db '$T/notary/evidence.db' | grep -q 'answered.*recipient=carol@example.org'"
check "alice receives carol's receipt notice mail too" wait_for_mail alice 3

# --- the MTA does not take the receipt notice mail: no ENVELOPE until it does ---
mkmsg "$T/msg5.eml" '' "Fifth" fifth.5 "A fifth secret: 45."
check "cmail send deposits certified message 5 (alice -> bob)" send "$T/msg5.eml"
check "bob's mailbox holds five messages" wait_for_mail bob 5
pop3 "RETR 5" > "$T/m5.txt"
body_of 1 "1" < "$T/m5.txt" | base64 -d > "$T/receipt5.xml" 2>/dev/null
check "bob answers message 5" answer "$T/receipt5.xml" "$T/good5.xml" "$BK" "$BC"
ENV5=$(sed -n 's/.*EnvelopeId="\([^"]*\)".*/\1/p' "$T/receipt5.xml" | head -1)
mta_free_port DEAD_PORT
na=$(mta_count_mail alice)
sed -i "s|cmail_submission_host = 127.0.0.1:$POSTFIX_SMTP_PORT|cmail_submission_host = 127.0.0.1:$DEAD_PORT|" "$DOVECOT_CONF"
doveadm -c "$DOVECOT_CONF" reload >/dev/null 2>&1; sleep 1
pop3 "RETR 5" "$(chlg "$T/good5.xml")" "LIST 5" > "$T/nomta.txt"
check_output "submission refused: CHLG RESP keeps the ENVELOPE back (-ERR 503)" "$ERR" status_of 2 "1 0 0" < "$T/nomta.txt"
check_fails "... nothing of the ENVELOPE is sent" grep -qE 'name="?envelop' "$T/nomta.txt"
check_output "... the session goes on" "^\+OK 5 [0-9]+ CertifiedMail$" status_of 3 "1 0 0" < "$T/nomta.txt"
check_output "... the answer is journalled" "answered.*recipient=bob@example.org" \
  "$CMAIL" evidence show "$ENV5" --db "$T/notary/evidence.db"
check_fails "... without receipt-sent" sh -c "'$CMAIL' evidence show '$ENV5' --db '$T/notary/evidence.db' | grep -q receipt-sent"
check_output "... the failure is logged as temporary" "$ENV5: receipt notice mail to <alice@example.org> failed \(temporarily\)" cat "$DOVECOT_LOG"
pop3 "RETR 5" > "$T/nomta2.txt"
check_output "RETR of the answered message while the MTA is away: -ERR 503, no ENVELOPE" \
  "^-ERR 503 Error: unable to send receipt notice$" status_of 1 "0" < "$T/nomta2.txt"
sed -i "s|cmail_submission_host = 127.0.0.1:$DEAD_PORT|cmail_submission_host = 127.0.0.1:$POSTFIX_SMTP_PORT|" "$DOVECOT_CONF"
doveadm -c "$DOVECOT_CONF" reload >/dev/null 2>&1; sleep 1
pop3 "RETR 5" > "$T/mta.txt"
check_output "the MTA back: RETR 5 mails the notice and gives the ENVELOPE" "name=\"?envelop" body_of 1 "1" < "$T/mta.txt"
check_output "... receipt-sent is journalled" "receipt-sent.*recipient=bob@example.org" \
  "$CMAIL" evidence show "$ENV5" --db "$T/notary/evidence.db"
check "... alice receives the receipt notice mail of message 5" wait_for_mail alice $((na + 1))
check "... once" sh -c "test \"\$(grep -l '^Subject: Receipt notice: Fifth read by bob' '$(mta_maildir alice)'/new/* | wc -l)\" = 1"

# --- a misconfigured plugin refuses the session, it does not crash ---
pop3_raw dave@example.org "$(mta_pass dave)" LIST | tr -d '\r' > "$T/dave.txt"
check_output "a broken cmail_config refuses the session" "^-ERR \[SYS/TEMP\] Certified mail is not available" cat "$T/dave.txt"
check_output "and logs why" "cmail: cmail_config $T/broken.conf" cat "$DOVECOT_LOG"
check_fails "no pop3 process crashed" grep -qE 'Panic|Fatal|killed with signal' "$DOVECOT_LOG"

# --- the notary is down: clean refusals, the session goes on ---
kill "$NOTARY_PID" 2>/dev/null
for i in $(seq 50); do kill -0 "$NOTARY_PID" 2>/dev/null || break; sleep 0.1; done
pop3 "RETR 3" "$(chlg "$T/good3.xml")" "LIST 3" > "$T/down.txt"
check_output "RETR with the notary down: -ERR 503 receipt notice" \
  "^-ERR 503 Error: unable to send receipt notice$" status_of 1 "0 0 0" < "$T/down.txt"
check_output "CHLG RESP with the notary down: -ERR 503 ENVELOPE" "$ERR" status_of 2 "0 0 0" < "$T/down.txt"
check_output "the session goes on" "^\+OK 3 [0-9]+ CertifiedMail$" status_of 3 "0 0 0" < "$T/down.txt"
check_fails "nothing was released without the notary" grep -qE 'Another secret|name="?envelop' "$T/down.txt"

# The plugin's own log lines, for the test log.
grep -E 'cmail|Error|Panic' "$DOVECOT_LOG" | tail -${CPOP_LOG_LINES:-40} | sed 's/^/# dovecot: /' >&2
cm_done
