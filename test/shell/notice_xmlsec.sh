#!/usr/bin/env bash
# notice_xmlsec.sh - notices signed by our code (cm_dsig, through test/tools/notice_tool) checked
# with the independent tools xmllint and xmlsec1; notices signed with the xmlsec1 command accepted by
# `cmail verify`; tampering, moved/duplicated/wrapping signatures and foreign keys rejected
# (PROFILE.md section 6, issue 3). Cmail's NonDeliveryNotice (schemas/cmail-extensions.xsd, issue 6):
# built by cm_notice, signed by cm_dsig, the xmlsec1 command and a live cmail-notary (SIGN postmark),
# checked by xmllint, xmlsec1 and cmail verify, tampering rejected; notice mails composed by
# cm_noticemail (notice_tool mail) read back by cmail verify and by perl's MIME::Base64.
. "$top_srcdir/test/shell/lib.sh"
NT=$top_builddir/test/tools/notice_tool
XSD=$CMAIL_SCHEMA_DIR/x1341-notices.xsd
XSD_EXT=$CMAIL_SCHEMA_DIR/cmail-extensions.xsd
NS=http://www.itu.int/xml-namespace/itu-t/x.1341/x-cmail-notices
NS_EXT=urn:x-cmail:notices:extension:1
for tool in xmlsec1 xmllint openssl perl; do
  if ! command -v $tool >/dev/null; then skip "$tool not installed"; cm_done; exit; fi
done
[ -x "$NT" ] || { not_ok "test/tools/notice_tool not built"; cm_done; exit; }

# --- a PKI: CA, CRL, server, alice (sender), bob (recipient) -------------------------------------
P=$T/pki
check "cmail pki init makes the test PKI" \
  "$CMAIL" pki init "$P" --domain example.org --user alice@example.org --user bob@example.org
CA=$P/ca.pem CRL=$P/crl.pem
SK=$P/server.key SC=$P/server.pem
AK=$P/users/alice@example.org.key AC=$P/users/alice@example.org.pem
BK=$P/users/bob@example.org.key BC=$P/users/bob@example.org.pem
[ -f "$SC" ] && [ -f "$AC" ] && [ -f "$BC" ] || { not_ok "no PKI, cannot go on"; cm_done; exit; }

# nt CMD...: run notice_tool quietly, fail the test run loudly
nt() { "$NT" "$@" >"$T/.nt" 2>&1 || { echo "# notice_tool $*"; sed 's/^/# /' "$T/.nt"; return 1; }; }
ENTS=(--from alice@example.org --cert "$AC" --to bob@example.org --cert "$BC")
ANSWER=$(printf 'answer' | openssl dgst -sha256 -binary | openssl base64 -A)

# --- the six types, signed by our code -------------------------------------------------------------
D=$T/n
mkdir -p "$D"
nt build deposit "$D/d0.xml" --envelope-id env-1 &&
nt sign "$D/d0.xml" "$D/deposit.xml" --key "$SK" --cert "$SC" --place postmark &&
nt promote "$D/deposit.xml" "$D/d1.xml" "${ENTS[@]}" &&
nt sign "$D/d1.xml" "$D/signed-deposit.xml" --key "$AK" --cert "$AC" --place info &&
nt build transit "$D/t0.xml" --envelope-id env-1 &&
nt sign "$D/t0.xml" "$D/transit.xml" --key "$SK" --cert "$SC" --place postmark &&
nt promote "$D/transit.xml" "$D/t1.xml" "${ENTS[@]}" &&
nt sign "$D/t1.xml" "$D/signed-transit.xml" --key "$SK" --cert "$SC" --place info &&
nt build receipt "$D/r0.xml" --envelope-id env-1 --to bob@example.org --cert "$BC" &&
nt sign "$D/r0.xml" "$D/receipt.xml" --key "$SK" --cert "$SC" --place postmark &&
nt promote "$D/receipt.xml" "$D/r1.xml" &&
nt respond "$D/r1.xml" "$D/r2.xml" --answer "$ANSWER" &&
nt sign "$D/r2.xml" "$D/signed-receipt-2.xml" --key "$BK" --cert "$BC" --place challenge &&
nt sign "$D/signed-receipt-2.xml" "$D/signed-receipt.xml" --key "$SK" --cert "$SC" --place postmark
[ $? -eq 0 ] && ok "notice_tool built and signed all six notice types" || not_ok "notice_tool flow"

# xsec FILE N: xmlsec1 verifies signature N with the CA as the only trust anchor
xsec() { xmlsec1 --verify --trusted-pem "$CA" --node-xpath "//*[@Id='cmail-sig-$2']" "$1"; }
# cv FILE...: cmail verify with the test PKI
cv() { "$CMAIL" verify "$@" --ca "$CA" --crl "$CRL"; }
# accepted TEXT FILE: cmail verify exits 0 and says VALID last
accepted() {
  local rc=0
  cv "$2" >"$T/.out" 2>&1 || rc=$?
  if [ $rc -eq 0 ] && [ "$(tail -n 1 "$T/.out")" = VALID ]; then ok "$1"; else not_ok "$1 (rc $rc)"; sed 's/^/# /' "$T/.out"; fi
}
# rejected TEXT FILE [PATTERN]: cmail verify exits 1, last line INVALID: (matching PATTERN)
rejected() {
  local rc=0
  cv "$2" >"$T/.out" 2>&1 || rc=$?
  if [ $rc -eq 1 ] && tail -n 1 "$T/.out" | grep -Eq -- "^INVALID: .*${3:-}"; then ok "$1"
  else not_ok "$1 (rc $rc)"; sed 's/^/# /' "$T/.out"; fi
}

for f in deposit:1 signed-deposit:2 transit:1 signed-transit:2 receipt:1 signed-receipt-2:2 signed-receipt:3; do
  name=${f%:*} count=${f#*:}
  check "$name: xmllint --schema validates" xmllint --noout --schema "$XSD" "$D/$name.xml"
  n=0
  for ((i = 1; i <= count; i++)); do xsec "$D/$name.xml" $i >/dev/null 2>&1 && n=$((n + 1)); done
  [ $n -eq $count ] && ok "$name: xmlsec1 --verify accepts all $count signature(s)" \
    || not_ok "$name: xmlsec1 verified $n of $count signatures"
  check_fails "$name: there is no signature $((count + 1))" \
    grep -q "cmail-sig-$((count + 1))" "$D/$name.xml"
  accepted "$name: cmail verify accepts it" "$D/$name.xml"
done

# what cmail verify reports
cv "$D/signed-receipt.xml" >"$T/report" 2>&1
for pat in '^notice: SignedReceiptNotice$' '^envelope id: env-1$' '^MimeMessageHash: [A-Za-z0-9+/=]+ \(SHA-256\)$' \
  '^UncipheredEnvelopeHash: ' '^CipheredEnvelopeHash: ' '^entity: bob@example.org \(to\)$' \
  '^signature 1: in DigitalPostmark, by server, covers whole document except Response$' \
  '^signature 2: in EntityChallenge, by recipient, covers whole document$' \
  '^signature 3: in DigitalPostmark, by server countersignature, covers whole document$' \
  '^  address: bob@example.org$' '^  signer: .*mail\.example\.org' '^schema: valid$'; do
  grep -Eq -- "$pat" "$T/report" && ok "report of signed receipt has /$pat/" \
    || { not_ok "report of signed receipt lacks /$pat/"; sed 's/^/# /' "$T/report"; }
done
check_output "signed deposit: sender signature by alice covers the whole document" \
  '^signature 2: in EnvelopeInformation, by sender, covers whole document' cv "$D/signed-deposit.xml"
check_output "deposit: server signature covers the DigitalPostmark" \
  '^signature 1: in DigitalPostmark, by server, covers DigitalPostmark$' cv "$D/deposit.xml"
check_output "signed deposit report lists both entities" '^entity: alice@example.org \(from\)$' cv "$D/signed-deposit.xml"

# --- usage and trust anchors ------------------------------------------------------------------------
rc=0; "$CMAIL" verify "$D/deposit.xml" >"$T/.out" 2>&1 || rc=$?
[ $rc -eq 1 ] && grep -q '^INVALID: no trust anchors given (--ca)$' "$T/.out" \
  && ok "without --ca: exit 1, no trust anchors given (--ca)" || { not_ok "without --ca (rc $rc)"; sed 's/^/# /' "$T/.out"; }
grep -q '^  crypto: ok$' "$T/.out" && ok "without --ca the signature itself is still checked" || not_ok "no crypto line without --ca"
for args in "" "--bogus $D/deposit.xml" "$T/does-not-exist.xml" "$D/deposit.xml --ca" "$D/deposit.xml --ca $T/nope.pem"; do
  rc=0; "$CMAIL" verify $args >/dev/null 2>&1 || rc=$?
  [ $rc -eq 2 ] && ok "usage error exits 2: verify $args" || not_ok "verify $args exited $rc, not 2"
done
check_output "cmail verify --help" 'usage: cmail verify FILE' "$CMAIL" verify --help

# --- notice mail (Appendix I) -----------------------------------------------------------------------
# mail NOTICE NAME OUT: a notice mail with the notice base64-attached
mail() {
  { printf 'From: Cmail <cmail@example.org>\r\nTo: alice@example.org\r\nSubject: Cmail deposit notice\r\n'
    printf 'MIME-Version: 1.0\r\nContent-Type: multipart/mixed; boundary="=_b1"\r\n\r\n'
    printf 'This is a MIME message.\r\n--=_b1\r\nContent-Type: text/plain; charset=us-ascii\r\n\r\n'
    printf 'Your certified message was deposited.\r\n--=_b1\r\n'
    printf 'Content-Type: application/octet-stream; name="%s"\r\n' "$2"
    printf 'Content-Transfer-Encoding: base64\r\nContent-Disposition: attachment;\r\n filename="%s"\r\n\r\n' "$2"
    openssl base64 -e -in "$1" | sed 's/$/\r/'
    printf -- '--=_b1--\r\n'; } >"$3"
}
mail "$D/signed-deposit.xml" depositNotice.xml "$T/deposit.eml"
accepted "notice mail with depositNotice.xml is accepted" "$T/deposit.eml"
check_output "notice mail: the attachment is named" 'notice mail, attachment depositNotice.xml' cv "$T/deposit.eml"
mail "$D/signed-receipt.xml" receiptNotice.xml "$T/receipt.eml"
accepted "notice mail with receiptNotice.xml is accepted" "$T/receipt.eml"
sed 's/EnvelopeId="env-1"/EnvelopeId="env-2"/' "$D/signed-deposit.xml" >"$T/bad.xml"
mail "$T/bad.xml" depositNotice.xml "$T/bad.eml"
rejected "notice mail with a tampered notice is rejected" "$T/bad.eml"
printf 'From: a@example.org\r\nSubject: hi\r\n\r\nno notice here\r\n' >"$T/plain.eml"
rejected "a mail without a notice attachment is rejected" "$T/plain.eml" "no notice attachment"

# --- signed with the xmlsec1 command from a template ------------------------------------------------
# tmpl N [INTERSECT...]: a PROFILE.md section 6 template, one line, no whitespace outside it
tmpl() {
  local n=$1; shift
  printf '<ds:Signature xmlns:ds="http://www.w3.org/2000/09/xmldsig#" Id="cmail-sig-%s"><ds:SignedInfo>' "$n"
  printf '<ds:CanonicalizationMethod Algorithm="http://www.w3.org/2001/10/xml-exc-c14n#"/>'
  printf '<ds:SignatureMethod Algorithm="http://www.w3.org/2001/04/xmldsig-more#rsa-sha256"/>'
  printf '<ds:Reference URI=""><ds:Transforms>'
  for x in "$@"; do
    printf '<ds:Transform Algorithm="http://www.w3.org/2002/06/xmldsig-filter2"><dsig2:XPath xmlns:dsig2="http://www.w3.org/2002/06/xmldsig-filter2" xmlns:c="%s" Filter="%s">%s</dsig2:XPath></ds:Transform>' "$NS" "${x%%:*}" "${x#*:}"
  done
  printf '<ds:Transform Algorithm="http://www.w3.org/2002/06/xmldsig-filter2"><dsig2:XPath xmlns:dsig2="http://www.w3.org/2002/06/xmldsig-filter2" xmlns:ds="http://www.w3.org/2000/09/xmldsig#" Filter="subtract">//ds:Signature[number(substring-after(@Id,'"'"'cmail-sig-'"'"')) &gt;= %s]</dsig2:XPath></ds:Transform>' "$n"
  printf '<ds:Transform Algorithm="http://www.w3.org/2001/10/xml-exc-c14n#"/></ds:Transforms>'
  printf '<ds:DigestMethod Algorithm="http://www.w3.org/2001/04/xmlenc#sha256"/><ds:DigestValue/></ds:Reference>'
  printf '</ds:SignedInfo><ds:SignatureValue/><ds:KeyInfo><ds:X509Data/></ds:KeyInfo></ds:Signature>'
}
TPL=$(tmpl 1 'intersect:/*/c:DigitalPostmark') perl -0777 -pe 's{</DigitalPostmark>}{$ENV{TPL}</DigitalPostmark>}' "$D/d0.xml" >"$T/x0.xml"
check "xmlsec1 --sign signs a deposit notice template (server key)" \
  xmlsec1 --sign --privkey-pem "$SK,$SC" --node-xpath "//*[@Id='cmail-sig-1']" --output "$T/x-deposit.xml" "$T/x0.xml"
accepted "deposit notice signed by the xmlsec1 command is accepted by cmail verify" "$T/x-deposit.xml"
nt promote "$T/x-deposit.xml" "$T/x1.xml" "${ENTS[@]}" || true
TPL=$(tmpl 2) perl -0777 -pe 's{</EnvelopeInformation>}{$ENV{TPL}</EnvelopeInformation>}' "$T/x1.xml" >"$T/x2.xml"
check "xmlsec1 --sign adds the sender's signature 2 (alice's key)" \
  xmlsec1 --sign --privkey-pem "$AK,$AC" --node-xpath "//*[@Id='cmail-sig-2']" --output "$T/x-signed-deposit.xml" "$T/x2.xml"
accepted "signed deposit notice signed twice by the xmlsec1 command is accepted" "$T/x-signed-deposit.xml"
TPL=$(tmpl 1 'intersect:/*/*' 'subtract://c:Response') \
  perl -0777 -pe 's{</DigitalPostmark>}{$ENV{TPL}</DigitalPostmark>}' "$D/r0.xml" >"$T/xr0.xml"
check "xmlsec1 --sign signs a receipt notice template" \
  xmlsec1 --sign --privkey-pem "$SK,$SC" --node-xpath "//*[@Id='cmail-sig-1']" --output "$T/x-receipt.xml" "$T/xr0.xml"
accepted "receipt notice signed by the xmlsec1 command is accepted" "$T/x-receipt.xml"

# a chain in X509Data (signer first, then the CA), by our code and by the xmlsec1 command
nt sign "$D/d0.xml" "$T/chain.xml" --key "$SK" --cert "$SC" --chain "$CA" --place postmark
[ "$(grep -o '<ds:X509Certificate>' "$T/chain.xml" | wc -l)" -eq 2 ] && ok "chain: two certificates in X509Data" \
  || not_ok "chain: X509Data does not hold two certificates"
check "chain: xmlsec1 accepts a signature carrying the chain" xsec "$T/chain.xml" 1
accepted "chain: cmail verify accepts a signature carrying the chain" "$T/chain.xml"
TPL=$(tmpl 1 'intersect:/*/c:DigitalPostmark') perl -0777 -pe 's{</DigitalPostmark>}{$ENV{TPL}</DigitalPostmark>}' "$D/d0.xml" >"$T/xc0.xml"
xmlsec1 --sign --privkey-pem "$SK,$SC,$CA" --output "$T/x-chain.xml" "$T/xc0.xml" >/dev/null 2>&1
accepted "chain: a signature made by xmlsec1 with key,cert,ca is accepted" "$T/x-chain.xml"

# shapes xmlsec1 accepts but the profile does not
TPL=$(tmpl 1) perl -0777 -pe 's{</DigitalPostmark>}{$ENV{TPL}</DigitalPostmark>}' "$D/d0.xml" >"$T/s0.xml"
xmlsec1 --sign --privkey-pem "$SK,$SC" --output "$T/s-nointersect.xml" "$T/s0.xml" >/dev/null 2>&1
check "no intersect: xmlsec1 accepts signature 1 of a DepositNotice covering the root name" xsec "$T/s-nointersect.xml" 1
rejected "no intersect: cmail verify refuses signature 1 of a DepositNotice without the intersect" "$T/s-nointersect.xml" "transforms"
TPL=$(tmpl 1 'intersect:/*/c:DigitalPostmark' | sed 's#rsa-sha256#rsa-sha512#') \
  perl -0777 -pe 's{</DigitalPostmark>}{$ENV{TPL}</DigitalPostmark>}' "$D/d0.xml" >"$T/s512.xml"
xmlsec1 --sign --privkey-pem "$SK,$SC" --output "$T/s-sha512.xml" "$T/s512.xml" >/dev/null 2>&1
grep -q 'xmldsig-more#rsa-sha512' "$T/s-sha512.xml" && ok "rsa-sha512: xmlsec1 signed with RSA-SHA512" || not_ok "rsa-sha512: template edit failed"
check "rsa-sha512: xmlsec1 accepts it" xsec "$T/s-sha512.xml" 1
rejected "rsa-sha512: cmail verify refuses a signature algorithm other than RSA-SHA256" "$T/s-sha512.xml"

# the largest notice the limits allow: 1000 entities (CM_ENTITIES_MAX), about 2 MB
many=(--from alice@example.org --cert "$AC")
for i in $(seq 999); do many+=(--to "u$i@example.org" --cert "$BC"); done
nt promote "$D/deposit.xml" "$T/big1.xml" "${many[@]}" &&
  timeout 20 "$NT" sign "$T/big1.xml" "$T/big.xml" --key "$AK" --cert "$AC" --place info >/dev/null 2>&1
[ "$(grep -o '<Entity ' "$T/big.xml" 2>/dev/null | wc -l)" -eq 1000 ] && ok "a SignedDepositNotice with 1000 entities is signed" \
  || not_ok "1000-entity notice not signed"
rc=0; timeout 20 "$CMAIL" verify "$T/big.xml" --ca "$CA" --crl "$CRL" >"$T/.out" 2>&1 || rc=$?
[ $rc -eq 0 ] && ok "cmail verify accepts the 1000-entity notice within 20 s" || { not_ok "1000 entities: rc $rc"; tail -n 3 "$T/.out" | sed 's/^/# /'; }
check "xmlsec1 verifies signature 2 of the 1000-entity notice" xsec "$T/big.xml" 2

# a foreign element signed along with the postmark: the signature holds, the schema does not
perl -0777 -pe 's{</MimeMessageHash>}{</MimeMessageHash><x:Note xmlns:x="urn:x-attacker">pay 1000</x:Note>}' "$D/d0.xml" >"$T/f0.xml"
TPL=$(tmpl 1 'intersect:/*/c:DigitalPostmark') perl -0777 -pe 's{</DigitalPostmark>}{$ENV{TPL}</DigitalPostmark>}' "$T/f0.xml" >"$T/f1.xml"
xmlsec1 --sign --privkey-pem "$SK,$SC" --output "$T/t-foreign.xml" "$T/f1.xml" >/dev/null 2>&1
check "foreign element: xmlsec1 accepts the signature over it" xsec "$T/t-foreign.xml" 1
rejected "foreign element: cmail verify refuses it (schema)" "$T/t-foreign.xml" "schema"

# --- tampering --------------------------------------------------------------------------------------
SD=$D/signed-deposit.xml
perl -0777 -pe 's{(<MimeMessageHash[^>]*>)[^<]*}{${1}AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA=}' "$SD" >"$T/t-hash.xml"
rejected "changed MimeMessageHash is rejected" "$T/t-hash.xml" "signature 1"
check_fails "changed MimeMessageHash: xmlsec1 rejects signature 1" xsec "$T/t-hash.xml" 1
check_fails "changed MimeMessageHash: xmlsec1 rejects signature 2" xsec "$T/t-hash.xml" 2

sed 's/EmailAddress="bob@example.org"/EmailAddress="mallory@example.org"/' "$SD" >"$T/t-addr.xml"
rejected "changed Entity EmailAddress is rejected" "$T/t-addr.xml" "signature 2"
check "changed Entity EmailAddress: xmlsec1 still accepts the server's signature 1" xsec "$T/t-addr.xml" 1
check_fails "changed Entity EmailAddress: xmlsec1 rejects the sender's signature 2" xsec "$T/t-addr.xml" 2

perl -0777 -pe 's{(<ds:Signature[^>]*Id="cmail-sig-2".*?</ds:Signature>)}{}s and $s = $1;
  s{</DigitalPostmark>}{$s</DigitalPostmark>}' "$SD" >"$T/t-moved.xml"
grep -q 'cmail-sig-2' "$T/t-moved.xml" && ok "moved: signature 2 now sits in DigitalPostmark" || not_ok "moved: edit failed"
rejected "signature 2 moved into DigitalPostmark is rejected" "$T/t-moved.xml"

perl -0777 -pe 's{(<ds:Signature[^>]*Id="cmail-sig-1".*?</ds:Signature>)}{$1$1}s' "$SD" >"$T/t-dup.xml"
[ "$(grep -o 'Id="cmail-sig-1"' "$T/t-dup.xml" | wc -l)" -eq 2 ] && ok "duplicated: two cmail-sig-1" || not_ok "dup edit failed"
rejected "duplicated signature is rejected" "$T/t-dup.xml"

# wrapping 1: the attacker adds a second MimeMessageHash and obtains a signature (made here with the
# server's key by the xmlsec1 command) whose intersect covers only that element; xmlsec1 is happy,
# but a reader would read the first, unsigned, hash: cmail verify must refuse the transform shape
perl -0777 -pe 's{(<MimeMessageHash[^>]*>[^<]*</MimeMessageHash>)}{$1<MimeMessageHash AlgorithmOID="2.16.840.1.101.3.4.2.1">BBBB</MimeMessageHash>}' \
  "$D/d0.xml" >"$T/w0.xml"
TPL=$(tmpl 1 'intersect:/*/c:DigitalPostmark/c:MimeMessageHash[2]') \
  perl -0777 -pe 's{</DigitalPostmark>}{$ENV{TPL}</DigitalPostmark>}' "$T/w0.xml" >"$T/w1.xml"
xmlsec1 --sign --privkey-pem "$SK,$SC" --node-xpath "//*[@Id='cmail-sig-1']" --output "$T/w2.xml" "$T/w1.xml" >/dev/null 2>&1
perl -0777 -pe 's{(<MimeMessageHash[^>]*>)[^<]*}{${1}Q0NDQw==}' "$T/w2.xml" >"$T/t-wrap.xml"
check "wrapping: xmlsec1 accepts the narrowed signature (it checks any transforms)" xsec "$T/t-wrap.xml" 1
rejected "wrapping: a signature 1 covering less than the DigitalPostmark is rejected" "$T/t-wrap.xml" "transforms"
# wrapping 2: the intersect text of our signature edited to select the attacker's element
sed 's#>/\*/c:DigitalPostmark<#>/*/c:DigitalPostmark/c:MimeMessageHash[2]<#' "$SD" >"$T/t-wrap2.xml"
rejected "wrapping: an edited intersect is rejected" "$T/t-wrap2.xml"
check_fails "wrapping: an edited intersect fails xmlsec1 too" xsec "$T/t-wrap2.xml" 1
# wrapping 3: the signed postmark moved inside a fake postmark the reader would read
perl -0777 -pe 's{(<DigitalPostmark .*?</DigitalPostmark>)}{<DigitalPostmark EnvelopeId="env-1" DeliveryType="CertifiedMail"><MimeMessageHash AlgorithmOID="2.16.840.1.101.3.4.2.1">Q0NDQw==</MimeMessageHash>$1</DigitalPostmark>}s' \
  "$D/deposit.xml" >"$T/t-wrap3.xml"
rejected "wrapping: postmark moved inside a fake DigitalPostmark is rejected" "$T/t-wrap3.xml"
check_fails "wrapping: xmlsec1 rejects the moved postmark too" xsec "$T/t-wrap3.xml" 1

# a key not under ca.pem
openssl req -x509 -newkey rsa:2048 -nodes -keyout "$T/rogue.key" -out "$T/rogue.pem" -days 2 \
  -subj "/O=Cmail Test Organisation/CN=mail.example.org" -addext "subjectAltName=email:postmaster@example.org" \
  -addext "certificatePolicies=0.0.24.1341.2.1" >/dev/null 2>&1
nt sign "$D/d0.xml" "$T/t-rogue.xml" --key "$T/rogue.key" --cert "$T/rogue.pem" --place postmark
rejected "signature by an untrusted key is rejected" "$T/t-rogue.xml" "certificate"
check_fails "signature by an untrusted key: xmlsec1 --trusted-pem ca.pem rejects it" xsec "$T/t-rogue.xml" 1
# the server's certificate in KeyInfo replaced by alice's (trusted, but not the key that signed)
SB=$(sed -n 's#.*<ds:X509Certificate>\([^<]*\)</ds:X509Certificate>.*#\1#p' "$D/deposit.xml" | head -n 1)
AB=$(openssl x509 -in "$AC" -outform DER | openssl base64 -A)
sed "s#$SB#$AB#" "$D/deposit.xml" >"$T/t-swap.xml"
rejected "another trusted certificate in KeyInfo is rejected" "$T/t-swap.xml" "signature 1"

# the Response changed after the recipient signed
perl -0777 -pe 's{(<EntityChallenge>.*?<Response[^>]*>)[^<]*}{${1}Q0NDQ0NDQ0NDQ0NDQ0NDQ0NDQ0NDQ0NDQ0NDQ0NDQ0M=}s' \
  "$D/signed-receipt.xml" >"$T/t-resp.xml"
rejected "Response changed after the recipient signed is rejected" "$T/t-resp.xml" "signature 2"
check "changed Response: xmlsec1 still accepts the server's signature 1" xsec "$T/t-resp.xml" 1
check_fails "changed Response: xmlsec1 rejects the recipient's signature 2" xsec "$T/t-resp.xml" 2
check_fails "changed Response: xmlsec1 rejects the countersignature 3" xsec "$T/t-resp.xml" 3

# --- the non-delivery notice (Cmail extension, issue 6) -------------------------------------------
ND=$T/nd
mkdir -p "$ND"
nt nondelivery "$D/signed-deposit.xml" "$ND/nd0.xml" --rcpt bob@example.org --rcpt carol@example.org \
  --reason 'b.example said 550 5.1.1 <bob@example.org>: no such user & gone' --time 1795000000 \
  && ok "notice_tool builds a NonDeliveryNotice from the signed deposit notice" || not_ok "nondelivery build"
check "unsigned NonDeliveryNotice: xmllint --schema cmail-extensions.xsd validates" \
  xmllint --noout --nonet --schema "$XSD_EXT" "$ND/nd0.xml"
check_fails "NonDeliveryNotice: x1341-notices.xsd alone does not validate it (not an X.1341 notice)" \
  xmllint --noout --nonet --schema "$XSD" "$ND/nd0.xml"
rejected "an unsigned NonDeliveryNotice is rejected" "$ND/nd0.xml" "not signed"
check_fails "notice_tool sign refuses a NonDeliveryNotice signature in EnvelopeInformation" \
  "$NT" sign "$ND/nd0.xml" "$T/x.xml" --key "$SK" --cert "$SC" --place info
nt sign "$ND/nd0.xml" "$ND/nd.xml" --key "$SK" --cert "$SC" --place postmark \
  && ok "cm_dsig signs the NonDeliveryNotice at the postmark" || not_ok "nondelivery sign"
check_fails "a NonDeliveryNotice takes one signature only" \
  "$NT" sign "$ND/nd.xml" "$T/x.xml" --key "$SK" --cert "$SC" --place postmark
check "signed NonDeliveryNotice: xmllint --schema cmail-extensions.xsd validates" \
  xmllint --noout --nonet --schema "$XSD_EXT" "$ND/nd.xml"
check "signed NonDeliveryNotice: xmlsec1 --verify accepts signature 1" xsec "$ND/nd.xml" 1
accepted "signed NonDeliveryNotice: cmail verify accepts it" "$ND/nd.xml"
cv "$ND/nd.xml" >"$T/ndreport" 2>&1
for pat in '^notice: NonDeliveryNotice$' '^envelope id: env-1$' '^MimeMessageHash: [A-Za-z0-9+/=]+ \(SHA-256\)$' \
  '^undelivered: bob@example.org$' '^undelivered: carol@example.org$' \
  '^reason: b.example said 550 5.1.1 <bob@example.org>: no such user & gone$' '^time: 2026-11-18T11:06:40Z$' \
  '^signature 1: in DigitalPostmark, by sending server \(S1\), covers whole document$' \
  '^  role: sending server \(S1\) \(server certificate\)$' '^schema: valid$'; do
  grep -Eq -- "$pat" "$T/ndreport" && ok "report of the non-delivery notice has /$pat/" \
    || { not_ok "report of the non-delivery notice lacks /$pat/"; sed 's/^/# /' "$T/ndreport"; }
done
h_sd=$(grep -o '<MimeMessageHash [^>]*>[^<]*' "$D/signed-deposit.xml" | sed 's/.*>//')
h_nd=$(grep -o '<c:MimeMessageHash [^>]*>[^<]*' "$ND/nd.xml" | sed 's/.*>//')
[ -n "$h_sd" ] && [ "$h_sd" = "$h_nd" ] && ok "the non-delivery notice repeats the deposit's MimeMessageHash" \
  || not_ok "MimeMessageHash differs: '$h_sd' vs '$h_nd'"
grep -q "<NonDeliveryNotice xmlns=\"$NS_EXT\" xmlns:c=\"$NS\"><c:DigitalPostmark EnvelopeId=\"env-1\"" "$ND/nd.xml" \
  && ok "root in Cmail's namespace, DigitalPostmark in X.1341's" || not_ok "namespaces of the non-delivery notice"

# the sample in schemas/samples/extensions/ (schema_samples.sh covers the six X.1341 samples)
SND=$top_srcdir/schemas/samples/extensions/nondelivery-notice.xml
SCA=$top_srcdir/schemas/samples/sample-ca.pem
check "sample nondelivery-notice.xml: xmllint --schema cmail-extensions.xsd validates" \
  xmllint --noout --nonet --schema "$XSD_EXT" "$SND"
check "sample nondelivery-notice.xml: xmlsec1 --verify with sample-ca.pem" \
  xmlsec1 --verify --trusted-pem "$SCA" --node-xpath "//*[@Id='cmail-sig-1']" "$SND"
"$CMAIL" verify "$SND" --ca "$SCA" >"$T/.out" 2>&1
grep -q '^schema: valid$' "$T/.out" && grep -q '^  crypto: ok$' "$T/.out" && grep -q '^notice: NonDeliveryNotice$' "$T/.out" \
  && ok "sample nondelivery-notice.xml: cmail verify finds the schema valid and the signature value ok" \
  || { not_ok "sample nondelivery-notice.xml: cmail verify disagrees"; sed 's/^/# /' "$T/.out"; }

# ndbad NAME SED-EXPR: an edited signed non-delivery notice fails cmail verify and xmlsec1
ndbad() {
  sed "$2" "$ND/nd.xml" >"$ND/t-$1.xml"
  cmp -s "$ND/nd.xml" "$ND/t-$1.xml" && { not_ok "non-delivery tamper $1: the edit changed nothing"; return; }
  rejected "non-delivery notice with a changed $1 is rejected" "$ND/t-$1.xml"
  check_fails "non-delivery notice with a changed $1: xmlsec1 rejects it" xsec "$ND/t-$1.xml" 1
}
ndbad recipient 's/EmailAddress="carol@example.org"/EmailAddress="mallory@example.org"/'
ndbad reason 's/no such user/mailbox full/'
ndbad time 's/11:06:40Z/12:06:40Z/'
ndbad envelope-id 's/EnvelopeId="env-1"/EnvelopeId="env-2"/'
ndbad hash 's#\(<c:MimeMessageHash [^>]*>\)[^<]*#\1AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA=#'
ndbad recipient-removed 's#<Recipient EmailAddress="carol@example.org"/>##'
sed "s#<NonDeliveryNotice xmlns=\"$NS_EXT\"#<NonDeliveryNotice xmlns=\"$NS\"#" "$ND/nd.xml" >"$ND/t-ns.xml"
rejected "the same document in the X.1341 namespace is rejected" "$ND/t-ns.xml"
nt sign "$ND/nd0.xml" "$ND/t-alice.xml" --key "$AK" --cert "$AC" --place postmark
rejected "a non-delivery notice signed by a user certificate is rejected" "$ND/t-alice.xml" "certificate"
nt sign "$ND/nd0.xml" "$ND/t-rogue.xml" --key "$T/rogue.key" --cert "$T/rogue.pem" --place postmark
rejected "a non-delivery notice signed by an untrusted key is rejected" "$ND/t-rogue.xml" "certificate"
check_fails "... and xmlsec1 --trusted-pem ca.pem rejects it too" xsec "$ND/t-rogue.xml" 1

# signed by the xmlsec1 command from the profile's template (no intersect: whole document)
TPL=$(tmpl 1) perl -0777 -pe 's{</c:DigitalPostmark>}{$ENV{TPL}</c:DigitalPostmark>}' "$ND/nd0.xml" >"$ND/x0.xml"
check "xmlsec1 --sign signs a NonDeliveryNotice template (server key)" \
  xmlsec1 --sign --privkey-pem "$SK,$SC" --node-xpath "//*[@Id='cmail-sig-1']" --output "$ND/x-nd.xml" "$ND/x0.xml"
accepted "a NonDeliveryNotice signed by the xmlsec1 command is accepted by cmail verify" "$ND/x-nd.xml"
TPL=$(tmpl 1 'intersect:/*/c:DigitalPostmark') perl -0777 -pe 's{</c:DigitalPostmark>}{$ENV{TPL}</c:DigitalPostmark>}' \
  "$ND/nd0.xml" >"$ND/w0.xml"
xmlsec1 --sign --privkey-pem "$SK,$SC" --output "$ND/w-nd.xml" "$ND/w0.xml" >/dev/null 2>&1
check "postmark-only signature: xmlsec1 accepts it" xsec "$ND/w-nd.xml" 1
sed 's/no such user/mailbox full/' "$ND/w-nd.xml" >"$ND/w-nd2.xml"
check "postmark-only signature: xmlsec1 still accepts it with the reason changed" xsec "$ND/w-nd2.xml" 1
rejected "postmark-only signature on a NonDeliveryNotice is rejected (wrapping)" "$ND/w-nd2.xml" "transforms"

# --- notice mails composed by cm_noticemail ---------------------------------------------------------
nt mail "$ND/nd.eml" --mail-from postmaster@example.org --mail-to alice@example.org --envelope-id env-1 \
  --subject 'Non-delivery notice: your message to bob@example.org' \
  --summary 'Your certified message could not be delivered to bob@example.org.' \
  --attach "nonDeliveryNotice.xml=$ND/nd.xml" --attach "depositNotice.xml=$D/signed-deposit.xml" \
  && ok "notice_tool mail composes a notice mail" || not_ok "notice mail compose"
accepted "cmail verify accepts the non-delivery notice mail" "$ND/nd.eml"
check_output "cmail verify checks the first attachment, nonDeliveryNotice.xml" \
  'notice mail, attachment nonDeliveryNotice.xml' cv "$ND/nd.eml"
# an independent reader: perl splits the MIME parts and decodes the base64 attachments
ND=$ND perl -MMIME::Base64 -0777 -ne '
  my ($h, $b) = split /\r\n\r\n/, $_, 2;
  my ($bd) = $h =~ /boundary="([^"]+)"/ or die "no boundary\n";
  for my $part (split /\r\n--\Q$bd\E(?:--)?\r\n/, $b) {
    my ($ph, $pb) = split /\r\n\r\n/, $part, 2;
    next unless defined $pb && $ph =~ /filename="([^"]+)"/;
    open my $o, ">", "$ENV{ND}/mail-$1" or die; binmode $o; print $o decode_base64($pb); close $o;
  }' "$ND/nd.eml"
check "notice mail: nonDeliveryNotice.xml decodes byte for byte (perl MIME::Base64)" \
  cmp "$ND/nd.xml" "$ND/mail-nonDeliveryNotice.xml"
check "notice mail: depositNotice.xml decodes byte for byte (perl MIME::Base64)" \
  cmp "$D/signed-deposit.xml" "$ND/mail-depositNotice.xml"
grep -Eq $'^Subject: Non-delivery notice: your message to bob@example.org\r$' "$ND/nd.eml" \
  && ok "notice mail has the Subject" || not_ok "notice mail Subject"
check_fails "notice mail carries no X-Cmail- header" grep -qi '^X-Cmail-' "$ND/nd.eml"
nt mail "$ND/tr.eml" --mail-from postmaster@example.org --mail-to alice@example.org \
  --subject 'Transit notice' --attach "transitNotice.xml=$D/signed-transit.xml" \
  --attach "depositNotice.xml=$D/signed-deposit.xml"
accepted "cmail verify accepts a transit notice mail" "$ND/tr.eml"
nt mail "$ND/rc.eml" --mail-from postmaster@example.org --mail-to alice@example.org \
  --subject 'Receipt notice' --attach "receiptNotice.xml=$D/signed-receipt.xml"
accepted "cmail verify accepts a receipt notice mail" "$ND/rc.eml"
# Appendix I's own shape: the notice is the whole (single-part) message body, file name unquoted
{ printf 'Received: from localhost ([127.0.0.1])\r\n\tby mail.example.org with SMTP id X1; Tue, 09 Jul 2013 10:58:14 +0200\r\n'
  printf 'Content-Type: application/octet-stream\r\nContent-Transfer-Encoding: base64\r\n'
  printf 'Content-Disposition: attachment; filename=nonDeliveryNotice.xml\r\n\r\n'
  openssl base64 -e -in "$ND/nd.xml" | sed 's/$/\r/'; } >"$ND/appendix-i.eml"
accepted "cmail verify accepts an Appendix I style single-part notice message" "$ND/appendix-i.eml"
nt mail "$ND/bad.eml" --mail-from postmaster@example.org --mail-to alice@example.org \
  --attach "nonDeliveryNotice.xml=$ND/t-reason.xml"
rejected "a notice mail with a tampered non-delivery notice is rejected" "$ND/bad.eml"
check_fails "notice_tool mail refuses a From address with a line break" \
  "$NT" mail "$T/x.eml" --mail-from $'postmaster@example.org\r\nBcc: eve@example.org' --mail-to alice@example.org

# --- the notary signs a NonDeliveryNotice (SIGN postmark, no notary change) -------------------------
NOTARY=$top_builddir/notary/cmail-notary
NTT=$top_builddir/test/tools/notary_tool
if [ -x "$NOTARY" ] && [ -x "$NTT" ]; then
  RUN=$T/run
  mkdir -p "$RUN"
  NUSER=$(id -un)
  if [ "$(id -u)" = 0 ] && id nobody >/dev/null 2>&1; then NUSER=nobody; chmod 755 "$T"; chown nobody "$RUN"; fi
  "$NOTARY" -G "$T/seal.key" >/dev/null 2>&1
  { echo "server_certificate = $SC"; echo "server_key = $SK"; echo "seal_key = $T/seal.key"
    echo "notary_socket = $RUN/notary.sock"; echo "notary_user = $NUSER"; echo "notary_threads = 1"
    echo "evidence_database = $RUN/evidence.db"; } >"$T/notary.conf"
  "$NOTARY" -f -c "$T/notary.conf" >"$T/notary.log" 2>&1 &
  NPID=$!
  cm_on_exit "kill $NPID 2>/dev/null; wait $NPID 2>/dev/null"
  for i in $(seq 50); do [ -S "$RUN/notary.sock" ] && break; sleep 0.1; done
  check_output "cmail-notary SIGN postmark signs a NonDeliveryNotice" '^signed [0-9]+ bytes' \
    "$NTT" "$RUN/notary.sock" sign postmark "$ND/nd0.xml" "$ND/notary-nd.xml"
  accepted "the notary-signed NonDeliveryNotice is accepted by cmail verify" "$ND/notary-nd.xml"
  check "the notary-signed NonDeliveryNotice: xmlsec1 --verify accepts it" xsec "$ND/notary-nd.xml" 1
  check "the notary-signed NonDeliveryNotice validates (xmllint)" xmllint --noout --nonet --schema "$XSD_EXT" "$ND/notary-nd.xml"
  check_fails "the notary refuses SIGN info on a NonDeliveryNotice" \
    "$NTT" "$RUN/notary.sock" sign info "$ND/nd0.xml" "$T/x.xml"
  check_fails "the notary refuses a second signature on a NonDeliveryNotice" \
    "$NTT" "$RUN/notary.sock" sign postmark "$ND/notary-nd.xml" "$T/x.xml"
  grep -q 'SIGN .*NonDeliveryNotice envelope=env-1 place=postmark signature=1' "$T/notary.log" \
    && ok "the notary logs the SIGN of the NonDeliveryNotice" || { not_ok "notary log"; sed 's/^/# /' "$T/notary.log" | tail -5; }
  kill $NPID 2>/dev/null; wait $NPID 2>/dev/null
else
  skip "cmail-notary or notary_tool not built"
fi

# the recipient's signature made by someone else (alice signs bob's receipt)
nt sign "$D/r2.xml" "$T/t-other.xml" --key "$AK" --cert "$AC" --place challenge
rejected "recipient signature by another user is rejected" "$T/t-other.xml" "address"
# our signer refuses a sender signature on a DepositNotice not yet promoted
check_fails "notice_tool sign refuses signature 2 in EnvelopeInformation of a DepositNotice" \
  "$NT" sign "$D/deposit.xml" "$T/t-refused.xml" --key "$AK" --cert "$AC" --place info
# a revoked recipient certificate
"$CMAIL" pki revoke "$P" bob@example.org >/dev/null 2>&1
rejected "signed receipt is rejected once bob's certificate is revoked (--crl)" "$D/signed-receipt.xml" "revoked"
accepted "the deposit notice (server only) is still accepted after bob's revocation" "$D/deposit.xml"

cm_done
