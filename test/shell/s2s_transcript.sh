#!/usr/bin/env bash
# s2s_transcript.sh - the server-to-server replies of PROFILE.md sections 2 and 5 (CHCK RCPT,
# SEND EVLP, SEND NORP; design in notes/s2s.md) played against cmtpd on stdin/stdout, TLS
# with and without a client certificate (test/tools/cmtp_play --cert/--key). cmtpd is the
# b.test server; the peers are a.test (its own test PKI, trusted), c.test (trusted, but
# another domain), a second a.test CA whose server certificate is revoked, and a user
# certificate (not a server one). The injection listener is Postfix's smtp-sink; the notary
# is the real cmail-notary. Replies covered: CHCK RCPT 250 (with and without the
# certificate), 503 duplicate, 501 syntax and parameters, 553 unknown; 530 for every peer
# verb without an authenticated Cmail server (501 before CELO); SEND EVLP 354 then 250
# TransitNotice (again for a repeat, delivered once), 503 bad transit notice (bad base64,
# not a notice, tampered, wrong hash, wrong postmark signer, peer of another domain), 550 no
# local recipient, 501 syntax, 554 5.3.0 and 451 4.3.0 (Postfix refusing, injection or
# notary down); SEND NORP 250 (twice, one notice mail), 554 5.7.1 refusals, 554 5.3.0, 451.
# Each check needing a server verb that cmtpd does not have yet is reported as
# "# SKIP missing: ...".
. "$top_srcdir/test/shell/lib.sh"
. "$top_srcdir/test/shell/lib_mta.sh"
. "$top_srcdir/test/shell/lib_sink.sh"

PLAY=$top_builddir/test/tools/cmtp_play
NT=$top_builddir/test/tools/notice_tool
CT=$top_builddir/test/tools/crypto_tool
NTOOL=$top_builddir/test/tools/notary_tool
CMTPD=$top_builddir/cmtpd/cmtpd
NOTARY=$top_builddir/notary/cmail-notary
SCHEMA=$CMAIL_SCHEMA_DIR/x1341-notices.xsd
PATH=$PATH:/usr/sbin
for p in "$PLAY" "$NT" "$CT" "$NTOOL" "$CMTPD" "$NOTARY"; do
  [ -x "$p" ] || { skip "$p not built"; cm_done; exit 0; }
done
command -v smtp-sink >/dev/null || { skip "smtp-sink (Debian package postfix) not installed"; cm_done; exit 0; }
for tool in xmllint xmlsec1 openssl; do
  command -v $tool >/dev/null || { skip "$tool not installed"; cm_done; exit 0; }
done

# --- PKIs: a.test (the peer), b.test (cmtpd under test), c.test (another domain),
# r (a second a.test CA whose server certificate gets revoked) ---
PA=$T/pki-a PB=$T/pki-b PC=$T/pki-c PR=$T/pki-r
"$CMAIL" pki init "$PA" --domain a.test --user alice@a.test >/dev/null &&
"$CMAIL" pki init "$PB" --domain b.test --user bob@b.test --user carol@b.test >/dev/null &&
"$CMAIL" pki init "$PC" --domain c.test --user carol@c.test >/dev/null &&
"$CMAIL" pki init "$PR" --domain a.test --server-name mail2.a.test --user x@a.test >/dev/null &&
cp "$PR/server.pem" "$PR/users/postmaster@a.test.pem" &&
"$CMAIL" pki revoke "$PR" postmaster@a.test >/dev/null
[ $? -eq 0 ] && ok "four test PKIs; the second a.test server certificate revoked" \
  || { not_ok "test PKIs"; cm_done; exit 1; }
cat "$PA/ca.pem" "$PB/ca.pem" "$PC/ca.pem" "$PR/ca.pem" > "$T/trust.pem"
cat "$PA/crl.pem" "$PB/crl.pem" "$PC/crl.pem" "$PR/crl.pem" > "$T/crl.pem"
check "cmail cert check: the revoked server certificate is refused" \
  bash -c "! '$CMAIL' cert check '$PR/server.pem' --role server --ca '$T/trust.pem' --crl '$T/crl.pem' --purpose any >/dev/null 2>&1"
check "cmail cert check: a.test's server certificate is accepted" \
  "$CMAIL" cert check "$PA/server.pem" --role server --ca "$T/trust.pem" --crl "$T/crl.pem" --purpose any

sink_setup b.test "$PB" "$T/trust.pem" "$T/crl.pem" "schema_directory = $CMAIL_SCHEMA_DIR"
echo "relay_injection_address = 127.0.0.1:$SINK_PORT" >> "$T/cmail.conf"
grep -q '{"notice_submission_address",' "$top_srcdir/common/cm_config.c" &&
  echo "notice_submission_address = 127.0.0.1:$SINK_PORT" >> "$T/cmail.conf"
sink_start_notary
sink_start_smtp

# play NAME [--cert FILE --key FILE]: the script on stdin against a fresh cmtpd (b.test)
play() {
  local name=$1; shift
  if "$PLAY" --ca "$PB/ca.pem" --name mail.b.test "$@" -- "$CMTPD" -c "${CONF:-$T/cmail.conf}" -L "$T/cmtpd.log" \
      >"$T/.play" 2>&1; then
    ok "$name"
  else
    not_ok "$name"; sed 's/^/# /' "$T/.play"; tail -5 "$T/cmtpd.log" | sed 's/^/# cmtpd: /'
  fi
}
AS_A=(--cert "$PA/server.pem" --key "$PA/server.key")
AS_C=(--cert "$PC/server.pem" --key "$PC/server.key")
AS_R=(--cert "$PR/server.pem" --key "$PR/server.key")
AS_USER=(--cert "$PA/users/alice@a.test.pem" --key "$PA/users/alice@a.test.key")
HELLO='< 220
> EHLO mail.a.test
< 250
> STARTTLS
< 220
tls
> CELO mail.a.test
< 250'

# has VERB-LINE: does cmtpd know the server verb? (missing: it answers 500 or 502 to a.test;
# any other trouble is left for the real check to report)
has() {
  printf '%s\n> %s\n< 999\n' "$HELLO" "$1" |
    "$PLAY" --ca "$PB/ca.pem" --name mail.b.test "${AS_A[@]}" -- "$CMTPD" -c "$T/cmail.conf" \
      -L "$T/cmtpd.log" >"$T/.probe" 2>&1
  ! grep -Eq 'expected 999, got (500|502) ' "$T/.probe"
}
# gate NAME VERB-LINE: play the script on stdin when cmtpd has the verb, else SKIP
gate() {
  local name=$1 verb=$2; shift 2
  if has "$verb"; then play "$name" "$@"; else cat >/dev/null; skip "missing: cmtpd ${verb%% <*} ($name)"; fi
}

# --- material: an ENVELOPE from alice@a.test to bob@b.test and SignedDepositNotices
# signed by a.test's server (signature 1) and alice (signature 2) ---
head -c 32 /dev/urandom > "$T/rsck"
printf 'From: alice@a.test\r\nSubject: s2s\r\n\r\n.a line starting with a dot\r\nsecret 42\r\n' > "$T/plain.eml"
# envelope N TO: $T/envN.mime (as hashed) and $T/envN.txt (dot-stuffed, ended)
envelope() {
  "$CT" mime-write "$T/rsck" "$T/plain.eml" "$T/env$1.mime" alice@a.test "$2" \
    "Wed, 25 Nov 2026 08:00:00 +0000" "<s2s.$1@a.test>" s2s > "$T/env$1.digests" || return 1
  { sed 's/^\./../' "$T/env$1.mime"; printf '.\r\n'; } > "$T/env$1.txt"
}
# sdn NAME ENV SERVER-PKI SENDER RCPT RCPT-CERT [MIMEHASH]: $T/NAME.xml and $T/NAME.b64
sdn() {
  local name=$1 env=$2 spki=$3 sender=$4 rcpt=$5 rcert=$6 mh=${7:-} ch id
  [ -n "$mh" ] || mh=$(openssl dgst -sha256 -binary "$T/env$env.mime" | base64)
  ch=$(awk '$1 == "cipher" { print $2 }' "$T/env$env.digests")
  id=$(date -u +%Y%m%dT%H%M%SZ).$(openssl rand -hex 8)
  local skey=$PA/users/$sender.key scert=$PA/users/$sender.pem
  "$NT" build deposit "$T/$name.0.xml" --envelope-id "$id" &&
  sed -i "s|\\(<MimeMessageHash[^>]*>\\)[^<]*|\\1$mh|" "$T/$name.0.xml" &&
  "$NT" sign "$T/$name.0.xml" "$T/$name.1.xml" --key "$spki/server.key" --cert "$spki/server.pem" \
    --place postmark &&
  "$NT" promote "$T/$name.1.xml" "$T/$name.2.xml" --to "$rcpt" --cert "$rcert" &&
  sed -i "s|\\(<CipheredEnvelopeHash[^>]*>\\)[^<]*|\\1$ch|" "$T/$name.2.xml" &&
  "$NT" sign "$T/$name.2.xml" "$T/$name.xml" --key "$skey" --cert "$scert" --place info &&
  base64 -w0 "$T/$name.xml" > "$T/$name.b64"
}
envelope 1 bob@b.test && envelope 2 bob@b.test && envelope 3 carol@c.test &&
sdn good 1 "$PA" alice@a.test bob@b.test "$PB/users/bob@b.test.pem" &&
sdn hash 2 "$PA" alice@a.test bob@b.test "$PB/users/bob@b.test.pem" \
  "$(printf x | openssl dgst -sha256 -binary | base64)" &&
sdn csig 2 "$PC" alice@a.test bob@b.test "$PB/users/bob@b.test.pem" &&
sdn nolocal 3 "$PA" alice@a.test carol@c.test "$PC/users/carol@c.test.pem" &&
sdn cpeer 2 "$PA" alice@a.test bob@b.test "$PB/users/bob@b.test.pem" &&
sdn revoked 2 "$PA" alice@a.test bob@b.test "$PB/users/bob@b.test.pem" &&
grep -q 'RandomNumber="3' "$T/good.xml" &&
sed 's/RandomNumber="3/RandomNumber="4/' "$T/good.xml" | base64 -w0 > "$T/tampered.b64"
[ $? -eq 0 ] && ok "ENVELOPEs and SignedDepositNotices (a.test server + alice) made with our tools" \
  || not_ok "ENVELOPEs and SignedDepositNotices made with our tools"
check "the SignedDepositNotice verifies (cmail verify) before it is sent" \
  "$CMAIL" verify --ca "$T/trust.pem" --crl "$T/crl.pem" "$T/good.xml"
GOODID=$(grep -o 'EnvelopeId="[^"]*"' "$T/good.xml" | head -1 | cut -d'"' -f2)

# A SignedReceiptNotice as a.test would send it for a message of bob@b.test to alice@a.test
# (server, recipient, server countersignature), envelope id unknown at b.test.
# receipt NAME ENVID: $T/NAME.xml and $T/NAME.b64
receipt() {
  "$NT" build receipt "$T/$1.0.xml" --envelope-id "$2" \
    --to alice@a.test --cert "$PA/users/alice@a.test.pem" &&
  "$NT" sign "$T/$1.0.xml" "$T/$1.1.xml" --key "$PA/server.key" --cert "$PA/server.pem" --place postmark &&
  "$NT" promote "$T/$1.1.xml" "$T/$1.2.xml" &&
  "$NT" respond "$T/$1.2.xml" "$T/$1.3.xml" --answer "${ANSWER:-AAAA}" &&
  "$NT" sign "$T/$1.3.xml" "$T/$1.4.xml" --key "$PA/users/alice@a.test.key" \
    --cert "$PA/users/alice@a.test.pem" --place challenge &&
  "$NT" sign "$T/$1.4.xml" "$T/$1.xml" --key "$PA/server.key" --cert "$PA/server.pem" --place postmark &&
  base64 -w0 "$T/$1.xml" > "$T/$1.b64"
}
RID=$(date -u +%Y%m%dT%H%M%SZ).00000000deadbeef
RID2=$(date -u +%Y%m%dT%H%M%SZ).00000000deadbee2
ANSWER=$("$CT" answer 12345678901234567890123456789012345678 "$T/rsck" 2>/dev/null | tail -1)
receipt receipt "$RID" && receipt receipt2 "$RID2" &&
sed 's|\(<Response[^>]*>\)[^<]*|\1AAAA|' "$T/receipt.xml" | base64 -w0 > "$T/receipt-tampered.b64"
[ $? -eq 0 ] && ok "a SignedReceiptNotice (a.test server, alice, a.test server) made with our tools" \
  || not_ok "a SignedReceiptNotice made with our tools"

# --- unauthenticated peers: 530 for all three verbs ---
gate "no TLS: no CELO (530 STARTTLS first), so CHCK RCPT, SEND EVLP, SEND NORP are refused" \
  "CHCK RCPT <bob@b.test>" "${AS_A[@]}" <<EOS
< 220
> EHLO mail.a.test
< 250
> CELO mail.a.test
< 530 Must issue a STARTTLS command first
> CHCK RCPT <bob@b.test>
< 501 ^Syntax: use CELO first$
> SEND EVLP @{$T/good.b64}
< 501 ^Syntax: use CELO first$
> SEND NORP @{$T/receipt.b64}
< 501 ^Syntax: use CELO first$
> QUIT
< 221
EOS
gate "TLS without a client certificate: 530 Must authenticate as a Cmail server first (all three verbs)" \
  "CHCK RCPT <bob@b.test>" <<EOS
$HELLO
> CHCK RCPT <bob@b.test>
< 530 ^5\.7\.0 Must authenticate as a Cmail server first
> SEND EVLP @{$T/good.b64}
< 530 Must authenticate as a Cmail server first
> SEND NORP @{$T/receipt.b64}
< 530 Must authenticate as a Cmail server first
> QUIT
< 221
EOS
gate "TLS with a user certificate (Annex C.3, not a server): 530" "CHCK RCPT <bob@b.test>" "${AS_USER[@]}" <<EOS
$HELLO
> CHCK RCPT <bob@b.test>
< 530 Must authenticate as a Cmail server first
> SEND EVLP @{$T/good.b64}
< 530 Must authenticate as a Cmail server first
> QUIT
< 221
EOS
gate "TLS with a revoked a.test server certificate: 530, SEND EVLP refused" "CHCK RCPT <bob@b.test>" "${AS_R[@]}" <<EOS
$HELLO
> CHCK RCPT <bob@b.test>
< 530 Must authenticate as a Cmail server first
> SEND EVLP @{$T/revoked.b64}
< 530 Must authenticate as a Cmail server first
> SEND NORP @{$T/receipt.b64}
< 530
> QUIT
< 221
EOS

# --- CHCK RCPT (PROFILE.md section 2, m8/m9) ---
gate "CHCK RCPT: certificate, plain OK, duplicate 503, syntax 501, parameters 501, unknown user 553, other domain 553" \
  "CHCK RCPT <bob@b.test>" "${AS_A[@]}" <<EOS
$HELLO
> CHCK RCPT <carol@b.test> CertificateRequested
< 250 ^UserCertificate:
save UserCertificate $T/carol.der
! cmp -s $T/carol.der <(openssl x509 -in $PB/users/carol@b.test.pem -outform DER)
> CHCK RCPT <bob@b.test>
< 250 ^OK$
> CHCK RCPT <bob@b.test>
< 503 ^Sender already specified$
> CHCK RCPT bob@b.test
< 501 ^Syntax: CHCK RCPT <address>$
> CHCK RCPT
< 501 ^Syntax: CHCK RCPT <address>$
> CHCK RCPT <carol@b.test> Urgent
< 501 ^Syntax: CHCK RCPT <address> Error in parameters: Urgent$
> CHCK RCPT <nobody@b.test>
< 553 ^<nobody@b.test> Invalid email address$
> CHCK RCPT <alice@a.test>
< 553 Invalid email address
> QUIT
< 221
EOS
gate "CHCK RCPT: a peer of another trusted domain (c.test) may ask" "CHCK RCPT <bob@b.test>" "${AS_C[@]}" <<EOS
$HELLO
> CHCK RCPT <bob@b.test> CertificateRequested
< 250 ^UserCertificate:
save UserCertificate $T/bob.der
! cmp -s $T/bob.der <(openssl x509 -in $PB/users/bob@b.test.pem -outform DER)
> QUIT
< 221
EOS

# --- SEND EVLP (m16/m17) ---
nsink() { ls "$T/sink" | wc -l; }
sink0=$(nsink)
gate "SEND EVLP: 354, the ENVELOPE, 250-TransitNotice signed by b.test" "SEND EVLP @{$T/good.b64}" "${AS_A[@]}" <<EOS
$HELLO
> SEND EVLP @{$T/good.b64}
< 354 ^Start mail input; end with <CRLF>.<CRLF>$
send $T/env1.txt
< 250 ^TransitNotice
save TransitNotice $T/transit.xml
> QUIT
< 221
EOS
if [ -s "$T/transit.xml" ]; then
  check "the TransitNotice passes xmllint --schema" xmllint --noout --schema "$SCHEMA" "$T/transit.xml"
  check "the TransitNotice's signature 1 passes xmlsec1 --verify (b.test CA only)" xmlsec1 --verify \
    --trusted-pem "$PB/ca.pem" --node-xpath "//*[@Id='cmail-sig-1']" "$T/transit.xml"
  check_output "the TransitNotice passes cmail verify" "^VALID" \
    "$CMAIL" verify --ca "$T/trust.pem" --crl "$T/crl.pem" "$T/transit.xml"
  check_output "the TransitNotice is signed by mail.b.test" "mail\.b\.test" \
    "$CMAIL" verify --ca "$T/trust.pem" --crl "$T/crl.pem" "$T/transit.xml"
  check_output "the TransitNotice carries the deposit's EnvelopeId" "EnvelopeId=\"$GOODID\"" cat "$T/transit.xml"
  MH=$(openssl dgst -sha256 -binary "$T/env1.mime" | base64)
  check "the TransitNotice carries the ENVELOPE's MimeMessageHash" grep -qF ">$MH<" "$T/transit.xml"
  for i in $(seq 50); do [ "$(nsink)" -gt "$sink0" ] && break; sleep 0.1; done
  check_output "the stored form for bob@b.test reached the injection listener" \
    "X-Cmail-Envelope-Id: $GOODID" bash -c "cat '$T'/sink/* 2>/dev/null"
  check_output "b.test journalled the transit" "transit" \
    "$CMAIL" evidence show "$GOODID" --db "$T/evidence.db"
  check_output "b.test's journal checks" "chain intact" "$CMAIL" evidence check --db "$T/evidence.db"
else
  for w in "xmllint" "xmlsec1" "cmail verify" "signer" "EnvelopeId" "MimeMessageHash" "stored form" \
    "journal transit" "journal check"; do
    skip "missing: a TransitNotice from SEND EVLP ($w)"
  done
fi

sink1=$(nsink)
gate "SEND EVLP of the same envelope again: a new TransitNotice, no second delivery; SEND alone: 501" \
  "SEND EVLP @{$T/good.b64}" "${AS_A[@]}" <<EOS
$HELLO
> SEND EVLP @{$T/good.b64}
< 354
send $T/env1.txt
< 250 ^TransitNotice
save TransitNotice $T/transit2.xml
! grep -q 'EnvelopeId="$GOODID"' $T/transit2.xml
> SEND EVLP
< 501 ^Syntax: SEND EVLP
> SEND
< 501 ^Syntax: SEND EVLP
> QUIT
< 221
EOS
gate "SEND EVLP refusals: not base64, not a notice, tampered, wrong MimeMessageHash, signature 1 by another domain's server: 503 bad transit notice; no local recipient: 550" \
  "SEND EVLP @{$T/good.b64}" "${AS_A[@]}" <<EOS
$HELLO
> SEND EVLP !!!notbase64!!!
send-if 354 $T/env2.txt
= 503 ^Error: bad transit notice
> SEND EVLP PGZvbz48L2Zvbz4=
send-if 354 $T/env2.txt
= 503 ^Error: bad transit notice
> SEND EVLP @{$T/tampered.b64}
send-if 354 $T/env1.txt
= 503 ^Error: bad transit notice
> SEND EVLP @{$T/hash.b64}
send-if 354 $T/env2.txt
= 503 ^Error: bad transit notice
> SEND EVLP @{$T/csig.b64}
send-if 354 $T/env2.txt
= 503 ^Error: bad transit notice
> SEND EVLP @{$T/nolocal.b64}
send-if 354 $T/env3.txt
= 550 ^5\.1\.1 No local recipient
> QUIT
< 221
EOS
gate "SEND EVLP from c.test's server (trusted, authenticated) for an a.test sender: 503" \
  "SEND EVLP @{$T/good.b64}" "${AS_C[@]}" <<EOS
$HELLO
> SEND EVLP @{$T/cpeer.b64}
send-if 354 $T/env2.txt
= 503 ^Error: bad transit notice
> QUIT
< 221
EOS
sleep 0.5
check "no refused SEND EVLP reached the injection listener" test "$(nsink)" -eq "$sink1"
for f in hash csig nolocal cpeer revoked; do
  id=$(grep -o 'EnvelopeId="[^"]*"' "$T/$f.xml" | head -1 | cut -d'"' -f2)
  if "$CMAIL" evidence show "$id" --db "$T/evidence.db" 2>/dev/null | grep -q transit; then
    not_ok "no transit row for the refused $f notice"
  else
    ok "no transit row for the refused $f notice"
  fi
done

# --- SEND NORP (p5/p6): refusals (a receipt b.test never deposited, bad input) ---
gate "SEND NORP refusals: not base64, not a receipt, tampered, unknown envelope: 554 5.7.1 Receipt notice refused" \
  "SEND NORP @{$T/receipt.b64}" "${AS_A[@]}" <<EOS
$HELLO
> SEND NORP !!!notbase64!!!
< 554 ^5\.7\.1 Receipt notice refused
> SEND NORP PGZvbz48L2Zvbz4=
< 554 ^5\.7\.1 Receipt notice refused
> SEND NORP @{$T/good.b64}
< 554 ^5\.7\.1 Receipt notice refused
> SEND NORP @{$T/receipt-tampered.b64}
< 554 ^5\.7\.1 Receipt notice refused
> SEND NORP @{$T/receipt.b64}
< 554 ^5\.7\.1 Receipt notice refused
> QUIT
< 221
EOS
gate "SEND NORP of an a.test recipient's receipt from c.test's server: 554" \
  "SEND NORP @{$T/receipt.b64}" "${AS_C[@]}" <<EOS
$HELLO
> SEND NORP @{$T/receipt.b64}
< 554 ^5\.7\.1 Receipt notice refused
> QUIT
< 221
EOS
check_fails "no receipt-received row was journalled for the refused receipt" \
  bash -c "'$CMAIL' evidence show '$RID' --db '$T/evidence.db' 2>/dev/null | grep -q receipt-received"

# The same receipt once b.test holds the deposit (journalled here with the notary, as
# cmtpd would after a DEPO of bob@b.test for alice@a.test): 250, a notice mail to bob,
# one receipt-received row; the same SEND NORP again: 250, nothing more.
check "a deposited row for the receipt's envelope (sender bob@b.test)" \
  "$NTOOL" "$T/notary.sock" record "$RID" deposited sender=bob@b.test nrcpt=1
sink2=$(nsink)
gate "SEND NORP of a receipt for a deposit made here: 250 OK, twice" "SEND NORP @{$T/receipt.b64}" "${AS_A[@]}" <<EOS
$HELLO
> SEND NORP @{$T/receipt.b64}
< 250 ^OK$
> SEND NORP @{$T/receipt.b64}
< 250 ^OK$
> QUIT
< 221
EOS
sleep 0.5
check "one notice mail reached the submission address" test "$(nsink)" -eq $((sink2 + 1))
check_output "... for bob@b.test, with the receipt notice attached" 'receiptNotice\.xml' \
  bash -c "f=\$(ls -t '$T'/sink/* | head -1); grep -q 'bob@b.test' \"\$f\" && cat \"\$f\""
check "exactly one receipt-received row" \
  test "$("$CMAIL" evidence show "$RID" --db "$T/evidence.db" 2>/dev/null | grep -c receipt-received)" -eq 1

# --- Postfix refuses for good (a sink answering 5xx to RCPT): 554 5.3.0 ---
mta_free_port REJ_PORT
smtp-sink -u postfix -f rcpt "127.0.0.1:$REJ_PORT" 10 >"$T/rej.log" 2>&1 &
cm_on_exit "kill $! 2>/dev/null"
mta_wait_port "$REJ_PORT" 10
sed -e "s/^injection_address = .*/injection_address = 127.0.0.1:$REJ_PORT/" \
  -e "s/^notice_submission_address = .*/notice_submission_address = 127.0.0.1:$REJ_PORT/" \
  "$T/cmail.conf" > "$T/reject.conf"
envelope 5 bob@b.test && sdn refused 5 "$PA" alice@a.test bob@b.test "$PB/users/bob@b.test.pem"
REFID=$(grep -o 'EnvelopeId="[^"]*"' "$T/refused.xml" | head -1 | cut -d'"' -f2)
"$NTOOL" "$T/notary.sock" record "$RID2" deposited sender=bob@b.test nrcpt=1 >/dev/null
CONF=$T/reject.conf gate "Postfix refusing for good: SEND EVLP 554 5.3.0 envelope refused, SEND NORP 554 5.3.0 not deliverable" \
  "SEND EVLP @{$T/good.b64}" "${AS_A[@]}" <<EOS
$HELLO
> SEND EVLP @{$T/refused.b64}
< 354
send $T/env5.txt
< 554 ^5\.3\.0 Error: envelope refused
> SEND NORP @{$T/receipt2.b64}
< 554 ^5\.3\.0 Error: receipt notice not deliverable
> QUIT
< 221
EOS
check_fails "no transit row for the refused envelope" \
  bash -c "'$CMAIL' evidence show '$REFID' --db '$T/evidence.db' 2>/dev/null | grep -q transit"
check_fails "no receipt-received row for the undeliverable receipt" \
  bash -c "'$CMAIL' evidence show '$RID2' --db '$T/evidence.db' 2>/dev/null | grep -q receipt-received"

# --- temporary trouble: 451 4.3.0, nothing kept ---
# A fresh envelope while the injection listener is down; then a receipt while the
# notary is down.
envelope 4 bob@b.test && sdn down 4 "$PA" alice@a.test bob@b.test "$PB/users/bob@b.test.pem"
DOWNID=$(grep -o 'EnvelopeId="[^"]*"' "$T/down.xml" | head -1 | cut -d'"' -f2)
kill "$SINK_PID" 2>/dev/null; sleep 0.3
gate "SEND EVLP with the injection listener down: 451 4.3.0 (try again later)" \
  "SEND EVLP @{$T/good.b64}" "${AS_A[@]}" <<EOS
$HELLO
> SEND EVLP @{$T/down.b64}
< 354
send $T/env4.txt
< 451 ^4\.3\.0 .*try again later
> QUIT
< 221
EOS
check_fails "no transit row for the envelope that was not taken" \
  bash -c "'$CMAIL' evidence show '$DOWNID' --db '$T/evidence.db' 2>/dev/null | grep -q transit"
kill "$NOTARY_PID" 2>/dev/null; sleep 0.3
gate "SEND EVLP and SEND NORP with the notary down: 451 4.3.0" "SEND EVLP @{$T/good.b64}" "${AS_A[@]}" <<EOS
$HELLO
> SEND EVLP @{$T/down.b64}
send-if 354 $T/env4.txt
= 451 ^4\.3\.0
> SEND NORP @{$T/receipt.b64}
< 451 ^4\.3\.0 .*try again later
> QUIT
< 221
EOS
check "nothing is left in cmtpd's spool" test -z "$(ls -A "$T/spool")"
cm_done
