#!/usr/bin/env bash
# cmtpd_transcript.sh - drive cmtpd on stdin/stdout (no network to cmtpd) through
# every reply of PROFILE.md section 2 for the client->server commands: greeting,
# STARTTLS, CELO, DELV, MAIL, RCPT, DATA, DEPO (good and each kind of bad), RSET,
# NOOP, HELP, QUIT, limits (long lines, size, recipients, error count), truncated DATA.
# The injection listener is Postfix's smtp-sink; the notary is the real cmail-notary.
. "$top_srcdir/test/shell/lib.sh"
. "$top_srcdir/test/shell/lib_mta.sh"
. "$top_srcdir/test/shell/lib_sink.sh"

PLAY=$top_builddir/test/tools/cmtp_play
NT=$top_builddir/test/tools/notice_tool
CMTPD=$top_builddir/cmtpd/cmtpd
NOTARY=$top_builddir/notary/cmail-notary
SCHEMA=$CMAIL_SCHEMA_DIR/x1341-notices.xsd
if ! command -v smtp-sink >/dev/null && [ ! -x /usr/sbin/smtp-sink ]; then
  skip "smtp-sink (Debian package postfix) not installed"; cm_done; exit 0
fi
PATH=$PATH:/usr/sbin

P=$T/pki
"$CMAIL" pki init "$P" --domain example.org --user alice@example.org --user bob@example.org \
  --user carol@example.org >/dev/null || { not_ok "cmail pki init"; cm_done; exit 1; }
sink_setup example.org "$P" "" "" "recipient_limit = 2" "message_size_limit = 20000" \
  "cmail_relay_map = elsewhere.example=127.0.0.1:1"
sink_start_notary
sink_start_smtp

# play NAME: run the script on stdin against a fresh cmtpd, as one TAP check.
# CMTPD_WRAP="/usr/bin/valgrind --leak-check=full --error-exitcode=9 --log-file=/tmp/vg.%p"
# runs each cmtpd under a checker (a full path: cmtp_play execs it directly).
play() {
  if "$PLAY" --ca "$P/ca.pem" -- ${CMTPD_WRAP:-} "$CMTPD" -c "$T/cmail.conf" -L "$T/cmtpd.log" >"$T/.play" 2>&1; then
    ok "$1"
  else
    not_ok "$1"; sed 's/^/# /' "$T/.play"; tail -5 "$T/cmtpd.log" | sed 's/^/# cmtpd: /'
  fi
}
HELLO='< 220 CMTP
> STARTTLS
< 220
tls
> CELO client.example.org
< 250 ^DeliveryType CertifiedMail$
> DELV CertifiedMail
< 250 ^DeliveryType CertifiedMail OK$'
# TXN: HELLO, then alice -> bob
TXN="$HELLO
> MAIL FROM:<alice@example.org>
< 250
> RCPT TO:<bob@example.org>
< 250"

play "greeting, EHLO, STARTTLS required before CELO, CELO capabilities, NOOP, HELP, QUIT" <<'EOS'
< 220 ^mail.example.org CMTP
> EHLO client.example.org
< 250 ^STARTTLS$
> CELO client.example.org
< 530 Must issue a STARTTLS command first
> STARTTLS
< 220 Ready to start TLS
tls
> STARTTLS
< 554 TLS already active
> CELO client.example.org
< 250 ^8BITMIME$
> NOOP
< 250
> HELP
< 214 CELO DELV
> FOO bar
< 500 command not recognized
> QUIT
< 221
eof
EOS

# playT NAME: like play, against cmtpd in implicit TLS mode (-T)
playT() {
  if "$PLAY" --ca "$P/ca.pem" -- "$CMTPD" -T -c "$T/cmail.conf" -L "$T/cmtpd.log" >"$T/.play" 2>&1; then
    ok "$1"
  else
    not_ok "$1"; sed 's/^/# /' "$T/.play"; tail -5 "$T/cmtpd.log" | sed 's/^/# cmtpd: /'
  fi
}
playT "implicit TLS (-T): TLS from the first byte, then CELO without STARTTLS; pipelined MAIL and RCPTs" <<'EOS'
tls
< 220 CMTP
> CELO client.example.org
< 250 DeliveryType CertifiedMail
> DELV CertifiedMail
< 250
> MAIL FROM:<alice@example.org>
> RCPT TO:<bob@example.org>
> RCPT TO:<nobody@example.org>
> RCPT TO:<carol@example.org>
> NOOP
< 250 ^OK$
< 250 ^OK$
< 550 Invalid email address
< 250 ^OK$
< 250
> QUIT
< 221
EOS

play "DELV: before CELO, no argument, unknown type, MAIL without DELV points to port 25" <<'EOS'
< 220
> STARTTLS
< 220
tls
> DELV CertifiedMail
< 501 ^Syntax: use CELO first$
> CELO client.example.org
< 250
> DELV
< 501 ^Syntax: DELV <delivery type>$
> DELV Registered
< 501 ^Unknown delivery type: Registered$
> MAIL FROM:<alice@example.org>
< 503 need DELV command.*port 25
> DATA
< 503 need DELV command
> DELV CertifiedMail
< 250 ^DeliveryType CertifiedMail OK$
> QUIT
< 221
EOS

play "MAIL and RCPT: order, syntax, parameters, unknown users, remote domain, certificates, limit" <<EOS
$HELLO
> RCPT TO <bob@example.org>
< 503 ^Error: need MAIL FROM command$
> DATA
< 503 ^Error: need MAIL FROM command$
> MAIL FROM alice@example.org
< 501 Syntax: MAIL FROM
> MAIL FROM <nobody@example.org>
< 550 ^5.1.1 <nobody@example.org> Invalid email address$
> MAIL FROM <alice@example.org> Urgent
< 501 Error in parameters: Urgent
> MAIL FROM <alice@example.org> CertificateRequested
< 250 ^UserCertificate:
save UserCertificate $T/alice.der
! openssl x509 -inform DER -in $T/alice.der -noout -ext subjectAltName | grep -q 'email:alice@example.org'
> MAIL FROM:<alice@example.org>
< 503 nested MAIL
> DATA
< 503 ^Error: need RCPT TO command$
> RCPT TO bob@example.org
< 501 ^6.1.1 Syntax: RCPT TO <address>$
> RCPT TO <bob@example.org> Urgent
< 501 ^6.1.2 Syntax: RCPT TO <address> Error in parameters: Urgent$
> RCPT TO <nobody@example.org>
< 550 ^5.1.1 <nobody@example.org> Invalid email address$
> RCPT TO <bob@elsewhere.example>
< 451 ^4.4.1 <bob@elsewhere.example> the recipient's Cmail server is not reachable now
> RCPT TO:<bob@example.org> CertificateRequested
< 250 ^UserCertificate:
save UserCertificate $T/bob.der
! cmp -s $T/bob.der <(openssl x509 -in $P/users/bob@example.org.pem -outform DER)
> RCPT TO <carol@example.org>
< 250 ^OK$
> RCPT TO <alice@example.org>
< 452 ^Error: too many recipients$
> RSET
< 250
> RCPT TO <bob@example.org>
< 503 need MAIL FROM
> QUIT
< 221
EOS

# A real ENVELOPE (made by our code; the server never decrypts it, but checks the
# CipheredEnvelopeHash of its envelop part), dot-stuffed and ended.
CT=$top_builddir/test/tools/crypto_tool
head -c 32 /dev/urandom > "$T/rsck"
printf 'From: alice@example.org\r\nSubject: t\r\n\r\n.a line starting with a dot\r\n' > "$T/plain.eml"
"$CT" mime-write "$T/rsck" "$T/plain.eml" "$T/envelope.mime" alice@example.org bob@example.org \
  "Wed, 25 Nov 2026 08:00:00 +0000" "<t1@example.org>" "t" > "$T/digests"
CIPHER=$(awk '$1 == "cipher" { print $2 }' "$T/digests")
{ sed 's/^\./../' "$T/envelope.mime"; printf '.\r\n'; } > "$T/envelope.txt"
DEPOSIT="$TXN
> DEPO AAAA
< 503 need DATA command
> DATA
< 354 ^Start mail input; end with <CRLF>.<CRLF>$
send $T/envelope.txt
< 250 ^DepositNotice$
save DepositNotice $T/dep.xml"
# signed NAME PROMOTE-ARGS SIGN-KEY SIGN-CERT: a SignedDepositNotice in $T/NAME.b64
signed() {
  echo "! $NT promote $T/dep.xml $T/$1.p.xml $2 && sed -i 's|\\(<CipheredEnvelopeHash[^>]*>\\)[^<]*|\\1${5:-$CIPHER}|' $T/$1.p.xml && $NT sign $T/$1.p.xml $T/$1.s.xml --key $3 --cert $4 --place info && base64 -w0 $T/$1.s.xml > $T/$1.b64"
}
A="$P/users/alice@example.org"
B="$P/users/bob@example.org"
C="$P/users/carol@example.org"
play "DATA gives a deposit notice that xmllint and xmlsec1 accept; DEPO refuses bad base64, bad XML, wrong certificate, wrong entity count, wrong signer, tampering, wrong postmark hash, wrong ciphertext hash; then deposits" <<EOS
$DEPOSIT
! xmllint --noout --schema $SCHEMA $T/dep.xml
! xmlsec1 --verify --trusted-pem $P/ca.pem --node-xpath "//*[@Id='cmail-sig-1']" $T/dep.xml
> DEPO !!!notbase64!!!
< 501 not base64
> DEPO PGZvbz48L2Zvbz4=
< 554 signed deposit notice refused
$(signed wrongcert "--to bob@example.org --cert $C.pem" "$A.key" "$A.pem")
> DEPO @{$T/wrongcert.b64}
< 554 does not carry the recipient's certificate
$(signed count "--to bob@example.org --cert $B.pem --cc carol@example.org --cert $C.pem" "$A.key" "$A.pem")
> DEPO @{$T/count.b64}
< 554 2 Entity elements for 1 recipients
$(signed signer "--to bob@example.org --cert $B.pem" "$B.key" "$B.pem")
> DEPO @{$T/signer.b64}
< 554 not by the sender
$(signed cipher "--to bob@example.org --cert $B.pem" "$A.key" "$A.pem" "$(printf x | openssl dgst -sha256 -binary | base64)")
> DEPO @{$T/cipher.b64}
< 554 CipheredEnvelopeHash does not match
$(signed good "--to bob@example.org --cert $B.pem" "$A.key" "$A.pem")
! sed 's/test.1@example.org/test.2@example.org/' $T/good.s.xml | base64 -w0 > $T/tampered.b64
> DEPO @{$T/tampered.b64}
< 554 do not verify
! id=\$(grep -o 'EnvelopeId="[^"]*"' $T/dep.xml | cut -d'"' -f2) && $NT build deposit $T/h.xml --envelope-id "\$id" && $NT sign $T/h.xml $T/hs.xml --key $P/server.key --cert $P/server.pem --place postmark && $NT promote $T/hs.xml $T/hp.xml --to bob@example.org --cert $B.pem && $NT sign $T/hp.xml $T/hh.xml --key $A.key --cert $A.pem --place info && base64 -w0 $T/hh.xml > $T/hash.b64
> DEPO @{$T/hash.b64}
< 554 MimeMessageHash does not match
> DEPO @{$T/good.b64}
< 250 ^OK$
> QUIT
< 221
EOS
ENVID=$(grep -o 'EnvelopeId="[^"]*"' "$T/dep.xml" | cut -d'"' -f2)
check_output "the deposit is journalled" "deposited.*queue_id=" \
  "$CMAIL" evidence show "$ENVID" --db "$T/evidence.db"
check "the stored form reached the injection listener" grep -rqs "X-Cmail-Envelope-Id: $ENVID" "$T/sink"
check "no file is left in the spool" test -z "$(ls -A "$T/spool")"

play "DEPO is answered 451 and nothing is kept when the injection listener is down" <<EOS
! kill $SINK_PID; sleep 0.3
$DEPOSIT
$(signed good2 "--to bob@example.org --cert $B.pem" "$A.key" "$A.pem")
> DEPO @{$T/good2.b64}
< 451 try again later
> QUIT
< 221
EOS
check "still no file left in the spool after the failed deposit" test -z "$(ls -A "$T/spool")"
ENVID2=$(grep -o 'EnvelopeId="[^"]*"' "$T/dep.xml" | cut -d'"' -f2)
check_fails "no journal row for the failed deposit" sh -c "'$CMAIL' evidence show '$ENVID2' --db '$T/evidence.db' | grep -q deposited"

{ head -c 30000 /dev/zero | tr '\0' 'x' | fold -w 70; echo; } | sed 's/$/\r/' > "$T/big.body"
{ printf 'From: alice@example.org\r\nSubject: big\r\n\r\n'; cat "$T/big.body"; printf '.\r\n'; } > "$T/big.txt"
{ printf 'From: alice@example.org\r\n\r\n'; head -c 1200 /dev/zero | tr '\0' 'y'; printf '\r\n.\r\n'; } > "$T/long.txt"
play "DATA over message_size_limit gets 552, an over-long line 500, a long command 500, no file kept" <<EOS
$TXN
> DATA
< 354
send $T/big.txt
< 552 message size exceeds fixed limit
> DATA
< 354
send $T/long.txt
< 500 line too long
> NOOP $(head -c 1100 /dev/zero | tr '\0' 'z')
< 500 line too long
> QUIT
< 221
EOS
check "no file is left in the spool after refused DATA" test -z "$(ls -A "$T/spool")"

play "truncated DATA: the connection drops mid-message and nothing is kept" <<EOS
$TXN
> DATA
< 354
> From: alice@example.org
> 
> half a message
hangup
EOS
for i in $(seq 50); do [ -z "$(ls -A "$T/spool")" ] && break; sleep 0.1; done
check "no file is left in the spool after truncated DATA" test -z "$(ls -A "$T/spool")"

# The session watchdog: a client that stalls in DATA past session_time_limit is cut
# off and its spool file removed.
# (smtp_timeout is long here: only the watchdog can end the session in time.)
sed 's/^smtp_timeout = 10$/smtp_timeout = 120\nsession_time_limit = 2/' "$T/cmail.conf" > "$T/short.conf"
timeout 15 "$PLAY" --ca "$P/ca.pem" -- "$CMTPD" -c "$T/short.conf" -L "$T/cmtpd.log" > "$T/.play" 2>&1 <<EOS
$TXN
> DATA
< 354
> From: alice@example.org
! sleep 4
eof
EOS
rc=$?
check "session_time_limit ends a stalled session (the server closes mid-DATA)" test "$rc" -eq 0
[ "$rc" -eq 0 ] || sed 's/^/# /' "$T/.play"
check "and its spool file is gone" test -z "$(ls -A "$T/spool")"

{ echo "< 220"; for i in $(seq 20); do echo "> BOGUS $i"; echo "< 500"; done; echo "> NOOP"; echo "< 421 too many errors"; echo "eof"; } > "$T/errors.script"
play "too many bad commands end the session with 421" < "$T/errors.script"

# Commands that move nothing forward are bounded (CMTP_JUNK_MAX 100, then each
# counts as an error; 20 errors end the session): endless NOOPs end.
{ echo "< 220"; echo "> EHLO client.example.org"; echo "< 250"
  for i in $(seq 119); do echo "> NOOP"; echo "< 250"; done
  echo "> NOOP"; echo "< 421 too many errors"; echo "eof"; } > "$T/noop.script"
play "endless NOOPs: 100 free, then 20 more counted as errors, then 421 and the connection closes" < "$T/noop.script"
{ echo "< 220"; for i in $(seq 40); do echo "> RSET"; echo "< 250"; echo "> HELP"; echo "< 214"; echo "> NOOP"; echo "< 250"; done
  echo "> NOOP"; echo "< 421"; echo "eof"; } > "$T/junk.script"
play "RSET, HELP and NOOP share the bound (121st such command: 421)" < "$T/junk.script"
{ echo "< 220"; echo "> STARTTLS"; echo "< 220"; echo "tls"
  for i in $(seq 60); do echo "> CELO client.example.org"; echo "< 250"; echo "> DELV CertifiedMail"; echo "< 250"; done
  echo "> CELO client.example.org"; echo "< 421"; echo "eof"; } > "$T/celo.script"
play "endless CELO/DELV share the bound too (121st: 421)" < "$T/celo.script"
{ echo "< 220"; for i in $(seq 50); do echo "> NOOP"; echo "< 250"; done
  echo "> QUIT"; echo "< 221"; echo "eof"; } > "$T/noop50.script"
play "50 NOOPs in a session are fine" < "$T/noop50.script"

check_output "cmtpd logs each decision with the envelope id" "$ENVID: deposited, queued as" cat "$T/cmtpd.log"
cm_done
