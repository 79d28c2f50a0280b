#!/usr/bin/env bash
# test/shell/fetch.sh - `cmail fetch` (CPOP, PROFILE §4-§6) against cpop_fake, a scripted
# server that builds REAL notices with the library (ENVELOPE, Entity, ReceiptNotice signed
# by the server key) and checks CHLG RESP like the plugin does. The plaintext written must
# be byte-identical to the original; the signed receipt notice must pass xmllint --schema,
# xmlsec1 --verify (signatures 1 and 2) and cmail verify; every failure (tampered or
# swapped ENVELOPE, untrusted notice signer, another user's key, -ERR 503, no CMAIL
# capability, bad login) must leave no plaintext behind.
. "$top_srcdir/test/shell/lib.sh"

FAKE=$top_builddir/test/tools/cpop_fake
for tool in xmlsec1 xmllint openssl; do
  command -v $tool >/dev/null || { skip "$tool not installed"; cm_done; exit; }
done
[ -x "$FAKE" ] || { not_ok "test/tools/cpop_fake is built"; cm_done; exit; }

D=example.org
P=$T/pki
BOB=bob@$D
XSD=$CMAIL_SCHEMA_DIR/x1341-notices.xsd
ENVID=cpopfake.0001

# exits TEXT CODE CMD...: ok when CMD exits with CODE (output kept in $T/.out)
exits() {
  local text=$1 want=$2 rc; shift 2
  "$@" >"$T/.out" 2>&1; rc=$?
  if [ "$rc" -eq "$want" ]; then ok "$text"; else not_ok "$text (exit $rc, expected $want)"; sed 's/^/# /' "$T/.out"; fi
}
# outhas TEXT PATTERN: ok when the output of the last `exits` matches the grep -E pattern
outhas() {
  if grep -Eq -- "$2" "$T/.out"; then ok "$1"; else not_ok "$1 (no match for /$2/)"; sed 's/^/# /' "$T/.out"; fi
}
# absent TEXT FILE...: ok when none of the files exists
absent() {
  local text=$1 f; shift
  for f in "$@"; do
    if [ -e "$f" ]; then not_ok "$text ($f exists)"; return; fi
  done
  ok "$text"
}
# nothing_left TEXT DIR: ok when DIR holds no .eml file and no temporary file at all
nothing_left() {
  local n; n=$(find "$2" -type f | wc -l)
  if [ "$n" -eq 0 ]; then ok "$1"; else not_ok "$1"; find "$2" -type f | sed 's/^/# left: /'; fi
}

# --- a PKI, two messages, a password; the fake serves the same ENVELOPE in every run (--state) ---
if ! "$CMAIL" pki init "$P" --domain $D --user alice@$D --user $BOB --user carol@$D >"$T/pki.out" 2>&1; then
  not_ok "cmail pki init"; sed 's/^/# /' "$T/pki.out"; cm_done; exit
fi
if ! "$CMAIL" pki init "$T/evil" --domain $D >"$T/pki.out" 2>&1; then
  not_ok "cmail pki init (a second, untrusted PKI)"; sed 's/^/# /' "$T/pki.out"; cm_done; exit
fi
printf 'From: Alice <alice@%s>\nTo: Bob <%s>\nSubject: certified test\nDate: Wed, 25 Nov 2026 08:00:00 +0000\nMessage-ID: <t1@%s>\nMIME-Version: 1.0\n\nHello Bob,\n.\n..a line with dots\n\tand a tab, trailing space \nbinary-ish: \xc3\xa9\n' \
  $D $BOB $D >"$T/msg.eml"
printf 'From: carol@%s\nTo: %s\nSubject: ordinary\n\nplain text\n.hidden dot line\n.\nend\n' $D $BOB >"$T/plain.eml"
sed 's/$/\r/' "$T/plain.eml" >"$T/plain.crlf"
echo 's3cret pass' >"$T/pw"
mkdir "$T/state"

# fake NAME [cpop_fake options...]: start the fake in the background; sets PORT and FAKE_PID
fake() {
  local name=$1 i; shift
  rm -f "$T/$name.port"
  "$FAKE" --cert "$P/server.pem" --key "$P/server.key" --ca "$P/ca.pem" --crl "$P/crl.pem" \
    --port-file "$T/$name.port" --user bob --pass 's3cret pass' --rcpt $BOB \
    --rcpt-cert "$P/users/$BOB.pem" --message "$T/msg.eml" --ordinary "$T/plain.eml" \
    --envid $ENVID --log "$T/$name.log" --save-signed "$T/$name.saved.xml" --state "$T/state" "$@" \
    2>"$T/$name.fake.err" &
  FAKE_PID=$!
  cm_on_exit "kill $FAKE_PID 2>/dev/null"
  for i in $(seq 1 100); do
    [ -s "$T/$name.port" ] && break
    sleep 0.1
  done
  PORT=$(cat "$T/$name.port" 2>/dev/null)
  : >>"$T/$name.log"
  mkdir -p "$T/$name"
}
# fetch NAME [cmail fetch options...]: cmail fetch as bob against the fake of NAME
fetch() {
  local name=$1; shift
  "$CMAIL" fetch --server 127.0.0.1:"$PORT" --server-name mail.$D --user bob --password-file "$T/pw" \
    --ca "$P/ca.pem" --crl "$P/crl.pem" --timeout 20 "$@"
}
bob_keys=(--cert "$P/users/$BOB.pem" --key "$P/users/$BOB.key")
# fake_done: wait for the fake to end (it serves one session)
fake_done() { wait "$FAKE_PID" 2>/dev/null; }

# --- usage ---------------------------------------------------------------------------------
check_output "cmail --help lists fetch" "fetch +retrieve" "$CMAIL" --help
check_output "cmail fetch --help documents the exit codes" "75 temporary" "$CMAIL" fetch --help
exits "fetch without --out or --list: exit 2" 2 "$CMAIL" fetch --server 127.0.0.1:1 --user bob \
  "${bob_keys[@]}" --ca "$P/ca.pem"
exits "fetch without a password: exit 2" 2 env -u CMAIL_PASSWORD "$CMAIL" fetch --server 127.0.0.1:1 \
  --user bob "${bob_keys[@]}" --ca "$P/ca.pem" --list
outhas "... and says so" "no password"
exits "fetch with carol's key for bob's certificate: exit 2" 2 "$CMAIL" fetch --server 127.0.0.1:1 \
  --user bob --password-file "$T/pw" --cert "$P/users/$BOB.pem" --key "$P/users/carol@$D.key" --ca "$P/ca.pem" --list
exits "fetch with --out not a directory: exit 2" 2 "$CMAIL" fetch --server 127.0.0.1:1 --user bob \
  --password-file "$T/pw" "${bob_keys[@]}" --ca "$P/ca.pem" --out "$T/msg.eml"
exits "a password of two lines (CMAIL_PASSWORD): exit 2" 2 env CMAIL_PASSWORD=$'a\r\nDELE 1' "$CMAIL" fetch \
  --server 127.0.0.1:1 --user bob "${bob_keys[@]}" --ca "$P/ca.pem" --list
exits "no server listening: exit 75" 75 "$CMAIL" fetch --server 127.0.0.1:1 --user bob \
  --password-file "$T/pw" "${bob_keys[@]}" --ca "$P/ca.pem" --crl "$P/crl.pem" --list --timeout 5

# --- the good case, STLS ---------------------------------------------------------------------
fake ok
exits "fetch (STLS): one certified and one ordinary message, exit 0" 0 fetch ok "${bob_keys[@]}" --out "$T/ok"
cp "$T/.out" "$T/ok.out"
fake_done
O=$T/ok
check "the plaintext is byte-identical to the original message" cmp "$T/msg.eml" "$O/$ENVID.eml"
check "the ordinary message is written as served (CRLF, dot-unstuffed)" cmp "$T/plain.crlf" "$O/2.eml"
check "the signed receipt notice is what the server accepted" cmp "$T/ok.saved.xml" "$O/$ENVID.signed-receipt.xml"
[ "$(stat -c %a "$O/$ENVID.eml")" = 600 ] && ok "the plaintext has mode 600" \
  || not_ok "the plaintext has mode 600 ($(stat -c %a "$O/$ENVID.eml"))"
check "xmllint --schema validates the signed receipt notice" \
  xmllint --noout --schema "$XSD" "$O/$ENVID.signed-receipt.xml"
check_output "its root is SignedReceiptNotice" "<SignedReceiptNotice" head -c 300 "$O/$ENVID.signed-receipt.xml"
for n in 1 2; do
  check "xmlsec1 --verify accepts signature $n" xmlsec1 --verify --trusted-pem "$P/ca.pem" \
    --node-xpath "//*[@Id='cmail-sig-$n']" "$O/$ENVID.signed-receipt.xml"
done
check_output "xmlsec1 sees bob's certificate in signature 2" "$BOB" \
  openssl x509 -noout -ext subjectAltName -in <(xmllint --xpath \
  "string(//*[@Id='cmail-sig-2']//*[local-name()='X509Certificate'])" "$O/$ENVID.signed-receipt.xml" \
  | tr -d ' \n' | { echo '-----BEGIN CERTIFICATE-----'; fold -w 64; echo; echo '-----END CERTIFICATE-----'; })
check_output "cmail verify: VALID" "^VALID" "$CMAIL" verify "$O/$ENVID.signed-receipt.xml" --ca "$P/ca.pem" --crl "$P/crl.pem"
check_output "the Response is filled in" "<Response[^>]*>[A-Za-z0-9+/=]{40,}</Response>" \
  cat "$O/$ENVID.signed-receipt.xml"
check_output "the session: STLS, USER, PASS, CAPA, LIST, RETR 1, CHLG RESP, RETR 2, QUIT, no DELE" \
  "^STLS USER bob PASS CAPA LIST RETR 1 CHLG RESP RETR 2 QUIT $" bash -c "tr '\n' ' ' <'$T/ok.log'"
check_output "fetch reports what it wrote" "message 1: certified, envelope $ENVID: wrote" cat "$T/ok.out"

# --- the challenge was answered before: the server sends the ENVELOPE at RETR -------------------
fake answered --mode answered
exits "RETR gives the ENVELOPE, DIR holds it already: exit 0" 0 fetch answered "${bob_keys[@]}" --out "$T/ok"
fake_done
outhas "... says it was already fetched" "envelope $ENVID: already fetched"
if grep -q "CHLG" "$T/answered.log"; then not_ok "... no CHLG RESP"; else ok "... no CHLG RESP"; fi
mkdir -p "$T/again"
cp "$T/ok/$ENVID.signed-receipt.xml" "$T/again/"
fake answered2 --mode answered
exits "RETR gives the ENVELOPE, DIR holds only the signed receipt notice: exit 0" 0 \
  fetch answered2 "${bob_keys[@]}" --out "$T/again"
fake_done
check "... the message is decrypted with the kept notice, byte-identical" cmp "$T/msg.eml" "$T/again/$ENVID.eml"
fake answered3 --mode answered
exits "RETR gives the ENVELOPE and no notice is kept: exit 1" 1 fetch answered3 "${bob_keys[@]}" --out "$T/answered3"
fake_done
outhas "... clear error" "answered before .* no signed receipt notice for it is in"
absent "... no certified file written" "$T/answered3/$ENVID.eml" "$T/answered3/$ENVID.signed-receipt.xml"

# --- the connection drops in the middle of the ENVELOPE: the next run recovers -----------------------
fake hangup --mode hangup
exits "connection lost during the ENVELOPE: exit 75" 75 fetch hangup "${bob_keys[@]}" --out "$T/hangup"
fake_done
outhas "... says the signed receipt notice is kept" "signed receipt notice is kept in .*pending-receipt.xml"
absent "... no plaintext" "$T/hangup/$ENVID.eml"
fake hangup2 --mode answered
exits "the next run gets the ENVELOPE at RETR: exit 0" 0 fetch hangup2 "${bob_keys[@]}" --out "$T/hangup"
fake_done
check "... and decrypts it with the kept notice, byte-identical" cmp "$T/msg.eml" "$T/hangup/$ENVID.eml"
check "... the signed receipt notice is in place" cmp "$T/hangup.saved.xml" "$T/hangup/$ENVID.signed-receipt.xml"
absent "... the pending copy is gone" "$T/hangup/.$ENVID.pending-receipt.xml"

# --- implicit TLS, tampered answer detection by the fake ------------------------------------------
fake implicit --implicit-tls
exits "fetch --implicit-tls: exit 0" 0 fetch implicit "${bob_keys[@]}" --out "$T/implicit" --implicit-tls
fake_done
check "... and the plaintext is byte-identical" cmp "$T/msg.eml" "$T/implicit/$ENVID.eml"
check_output "... no STLS was sent" "^USER bob$" head -1 "$T/implicit.log"

# --- --list -------------------------------------------------------------------------------------
fake list
exits "fetch --list: exit 0" 0 fetch list "${bob_keys[@]}" --list
fake_done
outhas "--list shows message 1 as CertifiedMail" "^1 [0-9]+ CertifiedMail$"
outhas "--list shows message 2 as ordinary" "^2 [0-9]+$"
if grep -q RETR "$T/list.log"; then not_ok "--list retrieves nothing"; else ok "--list retrieves nothing"; fi

# --- ENVELOPE tampered (GCM tag fails) --------------------------------------------------------------
fake tamper --mode tamper
exits "tampered ENVELOPE: exit 1" 1 fetch tamper "${bob_keys[@]}" --out "$T/tamper"
fake_done
outhas "... says the ENVELOPE does not decrypt" "message 1: the ENVELOPE does not decrypt"
absent "... no plaintext, no signed receipt written" "$T/tamper/$ENVID.eml" "$T/tamper/$ENVID.signed-receipt.xml"
check "... no temporary or pending file left" bash -c "! ls -A '$T/tamper' | grep -q '$ENVID'"
check "... the ordinary message is still fetched" cmp "$T/plain.crlf" "$T/tamper/2.eml"

# --- a different, valid ENVELOPE under the same key (hash mismatch) -----------------------------------------
fake swap --mode swap
exits "swapped ENVELOPE (hashes do not match): exit 1" 1 fetch swap "${bob_keys[@]}" --out "$T/swap"
fake_done
outhas "... says which hash does not match" "does not match the (Unciphered|Ciphered)EnvelopeHash"
absent "... no plaintext, no signed receipt written" "$T/swap/$ENVID.eml" "$T/swap/$ENVID.signed-receipt.xml"
check "... no temporary or pending file left" bash -c "! ls -A '$T/swap' | grep -q '$ENVID'"

# --- a receipt notice signed by an untrusted key ---------------------------------------------------
fake untrusted --sign-cert "$T/evil/server.pem" --sign-key "$T/evil/server.key"
exits "receipt notice signed by an untrusted server key: exit 1" 1 fetch untrusted "${bob_keys[@]}" --out "$T/untrusted"
fake_done
outhas "... says the receipt notice does not verify" "message 1: the receipt notice does not verify"
if grep -q "CHLG" "$T/untrusted.log"; then not_ok "... no CHLG RESP was sent"; else ok "... no CHLG RESP was sent"; fi
absent "... no certified plaintext" "$T/untrusted/$ENVID.eml"

# --- carol fetching bob's message with her own certificate and key -------------------------------------------
fake carol
exits "carol's certificate and key for bob's message: exit 1" 1 fetch carol \
  --cert "$P/users/carol@$D.pem" --key "$P/users/carol@$D.key" --out "$T/carol"
fake_done
outhas "... clear error: the notice is for bob" "receipt notice is for <$BOB>, and --cert cannot answer for it"
if grep -q "CHLG" "$T/carol.log"; then not_ok "... no CHLG RESP was sent"; else ok "... no CHLG RESP was sent"; fi
absent "... no certified plaintext" "$T/carol/$ENVID.eml"

# --- -ERR 503 on CHLG RESP -------------------------------------------------------------------------------
fake err503 --mode err503
exits "-ERR 503 on CHLG RESP: exit 1" 1 fetch err503 "${bob_keys[@]}" --out "$T/err503"
fake_done
outhas "... with the server's text" "CHLG RESP.*-ERR 503 Error: unable to send ENVELOPE"
absent "... no certified plaintext, no signed or pending receipt" "$T/err503/$ENVID.eml" \
  "$T/err503/$ENVID.signed-receipt.xml" "$T/err503/.$ENVID.pending-receipt.xml"

# --- a server without CAPA CMAIL -------------------------------------------------------------------------
fake nocapa --no-capa
exits "server without CMAIL in CAPA: exit 0" 0 fetch nocapa "${bob_keys[@]}" --out "$T/nocapa"
fake_done
outhas "... says the server does not support certified mail" "does not support certified mail"
check "... the ordinary message is fetched" cmp "$T/plain.crlf" "$T/nocapa/2.eml"
if grep -q "RETR 1" "$T/nocapa.log"; then not_ok "... the certified message is not retrieved"; \
  else ok "... the certified message is not retrieved"; fi
absent "... no certified files" "$T/nocapa/$ENVID.eml" "$T/nocapa/1.eml"

# --- wrong password ---------------------------------------------------------------------------------------
fake badpw
echo wrong >"$T/pw.bad"
exits "wrong password: exit 1" 1 "$CMAIL" fetch --server 127.0.0.1:"$PORT" --server-name mail.$D --user bob \
  --password-file "$T/pw.bad" "${bob_keys[@]}" --ca "$P/ca.pem" --crl "$P/crl.pem" --out "$T/badpw" --timeout 20
fake_done
outhas "... with the server's text" "refused the login.*Authentication failed"
nothing_left "... nothing written" "$T/badpw"

# --- password from the environment, server name mismatch -------------------------------------------------
fake envpw
exits "CMAIL_PASSWORD works: exit 0" 0 env CMAIL_PASSWORD='s3cret pass' "$CMAIL" fetch --server 127.0.0.1:"$PORT" \
  --server-name mail.$D --user bob "${bob_keys[@]}" --ca "$P/ca.pem" --crl "$P/crl.pem" --list --timeout 20
fake_done
fake badname
exits "a TLS server name that the certificate does not hold: exit 1" 1 "$CMAIL" fetch --server 127.0.0.1:"$PORT" \
  --server-name other.invalid --user bob --password-file "$T/pw" "${bob_keys[@]}" --ca "$P/ca.pem" \
  --crl "$P/crl.pem" --list --timeout 20
kill "$FAKE_PID" 2>/dev/null; fake_done
if grep -q "USER" "$T/badname.log"; then not_ok "... the password was not sent"; else ok "... the password was not sent"; fi

# --- a hostile or broken server --------------------------------------------------------------------------
fake garbage --mode garbage
exits "RETR of a certified message gives garbage: exit 1" 1 fetch garbage "${bob_keys[@]}" --out "$T/garbage"
fake_done
outhas "... clear error" "message 1: RETR gave neither a receipt notice nor an ENVELOPE"
absent "... no certified file" "$T/garbage/1.eml" "$T/garbage/$ENVID.eml"
if grep -q "CHLG" "$T/garbage.log"; then not_ok "... no CHLG RESP was sent"; else ok "... no CHLG RESP was sent"; fi
fake badlist --mode badlist
exits "a malformed LIST line: exit 1" 1 fetch badlist "${bob_keys[@]}" --out "$T/badlist"
fake_done
outhas "... clear error" "bad LIST line from the server: 1 12x CertifiedMail"
nothing_left "... nothing written" "$T/badlist"

# --- --delete: DELE for each message written, none for one that failed ---------------------------------
fake del
exits "fetch --delete: exit 0" 0 fetch del "${bob_keys[@]}" --out "$T/del" --delete
fake_done
check_output "... DELE 1 and DELE 2, then QUIT" "DELE 1 RETR 2 DELE 2 QUIT $" bash -c "tr '\n' ' ' <'$T/del.log'"
fake deltamper --mode tamper
exits "fetch --delete, tampered ENVELOPE: exit 1" 1 fetch deltamper "${bob_keys[@]}" --out "$T/deltamper" --delete
fake_done
if grep -q "^DELE 1" "$T/deltamper.log"; then not_ok "... message 1 is not deleted"; else ok "... message 1 is not deleted"; fi
check "... message 2 is" grep -q "^DELE 2" "$T/deltamper.log"
exits "--delete with --list: exit 2" 2 "$CMAIL" fetch --server 127.0.0.1:1 --user bob --password-file "$T/pw" \
  "${bob_keys[@]}" --ca "$P/ca.pem" --list --delete

# --- TLS certificate from another CA than the notices: --tls-ca ---------------------------------------
tls_other=(--cert "$T/evil/server.pem" --key "$T/evil/server.key" --sign-cert "$P/server.pem" --sign-key "$P/server.key")
fake tlsca "${tls_other[@]}"
exits "TLS certificate of another CA, no --tls-ca: exit 1" 1 fetch tlsca "${bob_keys[@]}" --list
kill "$FAKE_PID" 2>/dev/null; fake_done
if grep -q "USER" "$T/tlsca.log"; then not_ok "... the password was not sent"; else ok "... the password was not sent"; fi
fake tlsca2 "${tls_other[@]}"
exits "... with --tls-ca: exit 0" 0 fetch tlsca2 "${bob_keys[@]}" --out "$T/tlsca2" --tls-ca "$T/evil/ca.pem"
fake_done
check "... the plaintext is byte-identical" cmp "$T/msg.eml" "$T/tlsca2/$ENVID.eml"

# --- a server that never greets: --timeout -----------------------------------------------------------------
fake silent --mode silent
start=$(date +%s)
exits "a silent server: exit 75" 75 fetch silent "${bob_keys[@]}" --list --timeout 2
[ $(( $(date +%s) - start )) -le 10 ] && ok "... within the timeout" || not_ok "... within the timeout"
kill "$FAKE_PID" 2>/dev/null; fake_done

# --- bob's certificate revoked: he cannot sign, nothing is sent (last: changes the CRL) ----------------------
if "$CMAIL" pki revoke "$P" $BOB >"$T/revoke.out" 2>&1; then
  fake revoked
  exits "bob's certificate revoked: exit 1" 1 fetch revoked "${bob_keys[@]}" --out "$T/revoked"
  fake_done
  outhas "... says the certificate is revoked" "cannot answer for it: .*revoked"
  if grep -q "CHLG" "$T/revoked.log"; then not_ok "... no CHLG RESP was sent"; else ok "... no CHLG RESP was sent"; fi
  absent "... no certified plaintext" "$T/revoked/$ENVID.eml"
else
  not_ok "cmail pki revoke"; sed 's/^/# /' "$T/revoke.out"
fi

cm_done
