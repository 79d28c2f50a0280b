# test/adversarial/gen.sh - make the generated half of the adversarial corpus (sourced by
# test/shell/adversarial.sh). Everything that needs a key is made here, at test time, in a scratch
# directory: no private key is ever checked in.
#
#   adv_generate DIR   writes DIR/pki (cmail pki init: CA, CRL, server, alice, bob, carol),
#                      DIR/pki-revoked/crl.pem (the same CA's CRL after bob is revoked), and one file
#                      per generated case, named as in MANIFEST without the leading '@'.
# Needs: $CMAIL, $top_builddir/test/tools/notice_tool, openssl, xmlsec1, perl. Returns non-zero, with
# the reason on stderr, when something could not be made.
#
# The notices are made as test/shell/notice_xmlsec.sh makes them (notice_tool build/sign/promote/
# respond), the hostile XML as test/shell/hostile_xml.sh does, the certificates with `openssl ca`
# using the test CA's key, with the Annex C.3 extensions of test/shell/cert_openssl.sh.

ADV_NS=http://www.itu.int/xml-namespace/itu-t/x.1341/x-cmail-notices
ADV_USER_DN="/SN=Doe/GN=Alice/initials=A/street=2 Main Street/L=Paris/postalCode=75001/countryCode3c=FRA/CN=Alice Doe"

# adv_tmpl N [FILTER:XPATH]...: a PROFILE.md section 6 signature template on one line (as in
# notice_xmlsec.sh), for the xmlsec1 command to fill; ADV_SIGALG overrides rsa-sha256
adv_tmpl() {
  local n=$1 x; shift
  printf '<ds:Signature xmlns:ds="http://www.w3.org/2000/09/xmldsig#" Id="cmail-sig-%s"><ds:SignedInfo>' "$n"
  printf '<ds:CanonicalizationMethod Algorithm="http://www.w3.org/2001/10/xml-exc-c14n#"/>'
  printf '<ds:SignatureMethod Algorithm="%s"/>' "${ADV_SIGALG:-http://www.w3.org/2001/04/xmldsig-more#rsa-sha256}"
  printf '<ds:Reference URI=""><ds:Transforms>'
  for x in "$@"; do
    printf '<ds:Transform Algorithm="http://www.w3.org/2002/06/xmldsig-filter2"><dsig2:XPath xmlns:dsig2="http://www.w3.org/2002/06/xmldsig-filter2" xmlns:c="%s" Filter="%s">%s</dsig2:XPath></ds:Transform>' "$ADV_NS" "${x%%:*}" "${x#*:}"
  done
  printf '<ds:Transform Algorithm="http://www.w3.org/2002/06/xmldsig-filter2"><dsig2:XPath xmlns:dsig2="http://www.w3.org/2002/06/xmldsig-filter2" xmlns:ds="http://www.w3.org/2000/09/xmldsig#" Filter="subtract">//ds:Signature[number(substring-after(@Id,'"'"'cmail-sig-'"'"')) &gt;= %s]</dsig2:XPath></ds:Transform>' "$n"
  printf '<ds:Transform Algorithm="http://www.w3.org/2001/10/xml-exc-c14n#"/></ds:Transforms>'
  printf '<ds:DigestMethod Algorithm="http://www.w3.org/2001/04/xmlenc#sha256"/><ds:DigestValue/></ds:Reference>'
  printf '</ds:SignedInfo><ds:SignatureValue/><ds:KeyInfo><ds:X509Data/></ds:KeyInfo></ds:Signature>'
}

# adv_xmlsec_sign IN OUT KEY CERT N [FILTER:XPATH]...: insert template N before </DigitalPostmark>
# (N=1) or </EnvelopeInformation> (N=2) and sign it with the xmlsec1 command
adv_xmlsec_sign() {
  local in=$1 out=$2 key=$3 cert=$4 n=$5 where=DigitalPostmark
  shift 5
  [ "$n" = 2 ] && where=EnvelopeInformation
  TPL=$(adv_tmpl "$n" "$@") W=$where perl -0777 -pe 's{</$ENV{W}>}{$ENV{TPL}</$ENV{W}>}' "$in" >"$out.tpl" &&
  xmlsec1 --sign --privkey-pem "$key,$cert" --node-xpath "//*[@Id='cmail-sig-$n']" --output "$out" "$out.tpl" \
    >/dev/null 2>&1
}

# adv_ca_conf DIR: an openssl ca configuration over the test CA of DIR (cmail pki init layout)
adv_ca_conf() {
  local d=$1
  mkdir -p "$d/openssl/newcerts" && : >"$d/openssl/index.txt" && openssl rand -hex 16 >"$d/openssl/serial"
  cat >"$d/openssl/ca.cnf" <<EOF
[ ca ]
default_ca = adv
[ adv ]
dir = $d/openssl
database = \$dir/index.txt
new_certs_dir = \$dir/newcerts
serial = \$dir/serial
certificate = $d/ca.pem
private_key = $d/ca.key
default_md = sha256
default_days = 365
policy = policy_any
unique_subject = no
preserve = yes
[ policy_any ]
commonName = optional
[ req ]
distinguished_name = req_dn
prompt = no
[ req_dn ]
CN = unused
[ ext_user ]
basicConstraints = critical, CA:false
keyUsage = critical, digitalSignature, nonRepudiation, keyEncipherment
extendedKeyUsage = emailProtection
subjectKeyIdentifier = hash
authorityKeyIdentifier = keyid
subjectAltName = email:alice@example.org
certificatePolicies = 0.0.24.1341.2.2
[ ext_user_eku ]
basicConstraints = critical, CA:false
keyUsage = critical, digitalSignature, nonRepudiation, keyEncipherment
extendedKeyUsage = clientAuth, serverAuth
subjectKeyIdentifier = hash
authorityKeyIdentifier = keyid
subjectAltName = email:alice@example.org
certificatePolicies = 0.0.24.1341.2.2
[ ext_user_ku ]
basicConstraints = critical, CA:false
keyUsage = critical, keyCertSign
extendedKeyUsage = emailProtection
subjectKeyIdentifier = hash
authorityKeyIdentifier = keyid
subjectAltName = email:alice@example.org
certificatePolicies = 0.0.24.1341.2.2
[ ext_user_ca ]
basicConstraints = critical, CA:true
keyUsage = critical, digitalSignature, nonRepudiation, keyEncipherment, keyCertSign
extendedKeyUsage = emailProtection
subjectKeyIdentifier = hash
authorityKeyIdentifier = keyid
subjectAltName = email:alice@example.org
certificatePolicies = 0.0.24.1341.2.2
EOF
}

# adv_issue DIR OUT EXT [openssl ca options...]: a user certificate for alice issued by DIR's CA
adv_issue() {
  local d=$1 out=$2 ext=$3 w=$1/openssl/$(basename "$2")
  shift 3
  openssl genpkey -algorithm EC -pkeyopt ec_paramgen_curve:P-256 -out "$w.key" 2>/dev/null &&
  openssl req -config "$d/openssl/ca.cnf" -new -key "$w.key" -subj "$ADV_USER_DN" -out "$w.csr" 2>/dev/null &&
  openssl ca -batch -config "$d/openssl/ca.cnf" -preserveDN -extensions "$ext" -in "$w.csr" -out "$out" "$@" \
    >/dev/null 2>&1
}

# adv_generate DIR: every generated case
adv_generate() {
  local g=$1 P=$1/pki NT=$top_builddir/test/tools/notice_tool n
  local SK SC AK AC BK BC CK CC
  mkdir -p "$g/n" || return 1
  [ -x "$NT" ] || { echo "adv_generate: $NT not built" >&2; return 1; }
  "$CMAIL" pki init "$P" --domain example.org --user alice@example.org --user bob@example.org \
    --user carol@example.org >"$g/pki.log" 2>&1 || { cat "$g/pki.log" >&2; return 1; }
  SK=$P/server.key SC=$P/server.pem
  AK=$P/users/alice@example.org.key AC=$P/users/alice@example.org.pem
  BK=$P/users/bob@example.org.key BC=$P/users/bob@example.org.pem
  CK=$P/users/carol@example.org.key CC=$P/users/carol@example.org.pem
  # The same CA after revoking bob and alice: its CRL only (the other cases use the clean one).
  cp -a "$P" "$g/pki-revoked" && "$CMAIL" pki revoke "$g/pki-revoked" bob@example.org >/dev/null 2>&1 \
    && "$CMAIL" pki revoke "$g/pki-revoked" alice@example.org >/dev/null 2>&1 \
    || { echo "adv_generate: cmail pki revoke failed" >&2; return 1; }

  # --- genuine notices (the base of every notice case) ---------------------------------------------
  n=$g/n
  ( set -e
    "$NT" build deposit "$n/d0.xml" --envelope-id env-1
    "$NT" sign "$n/d0.xml" "$n/deposit.xml" --key "$SK" --cert "$SC" --place postmark
    "$NT" promote "$n/deposit.xml" "$n/d1.xml" --from alice@example.org --cert "$AC" --to bob@example.org --cert "$BC"
    "$NT" sign "$n/d1.xml" "$n/signed-deposit.xml" --key "$AK" --cert "$AC" --place info
    for who in bob carol; do
      "$NT" build receipt "$n/$who-r0.xml" --envelope-id env-1 --to "$who@example.org" --cert "$P/users/$who@example.org.pem"
      "$NT" sign "$n/$who-r0.xml" "$n/$who-receipt.xml" --key "$SK" --cert "$SC" --place postmark
      "$NT" promote "$n/$who-receipt.xml" "$n/$who-r1.xml"
      "$NT" respond "$n/$who-r1.xml" "$n/$who-r2.xml" --answer "$(printf "answer-$who" | openssl dgst -sha256 -binary | openssl base64 -A)"
    done
    "$NT" sign "$n/bob-r2.xml" "$n/bob-sr2.xml" --key "$BK" --cert "$BC" --place challenge
    "$NT" sign "$n/bob-sr2.xml" "$n/signed-receipt.xml" --key "$SK" --cert "$SC" --place postmark
  ) >"$g/notices.log" 2>&1 || { echo "adv_generate: notice_tool failed:" >&2; cat "$g/notices.log" >&2; return 1; }
  SD=$n/signed-deposit.xml

  # --- signature tampering and wrapping ---------------------------------------------------------------
  perl -0777 -pe 's{(<MimeMessageHash[^>]*>)[^<]*}{${1}AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA=}' "$SD" >"$g/tampered-hash.xml"
  sed 's/EmailAddress="bob@example.org"/EmailAddress="mallory@example.org"/' "$SD" >"$g/tampered-address.xml"
  perl -0777 -pe 's{(<ds:Signature[^>]*Id="cmail-sig-2".*?</ds:Signature>)}{}s and $s = $1;
    s{</DigitalPostmark>}{$s</DigitalPostmark>}' "$SD" >"$g/sig-moved.xml"
  perl -0777 -pe 's{(<ds:Signature[^>]*Id="cmail-sig-1".*?</ds:Signature>)}{$1$1}s' "$SD" >"$g/sig-duplicated-id.xml"
  perl -0777 -pe 's{<ds:Signature[^>]*Id="cmail-sig-2".*?</ds:Signature>}{}s' "$SD" >"$g/sig-stripped.xml"
  perl -0777 -pe 's{Id="cmail-sig-2"}{Id="cmail-sig-1"}' "$SD" >"$g/sig-renumbered.xml"
  perl -0777 -pe 's{<MimeMessageHash }{<MimeMessageHash Id="cmail-sig-1" }' "$n/deposit.xml" >"$g/dup-id-on-element.xml"
  perl -0777 -pe 's{<MimeMessageHash }{<MimeMessageHash xml:id="cmail-sig-1" }' "$n/deposit.xml" >"$g/dup-xml-id.xml"
  # wrapping 1: a second MimeMessageHash, a signature whose intersect covers only that one
  perl -0777 -pe 's{(<MimeMessageHash[^>]*>[^<]*</MimeMessageHash>)}{$1<MimeMessageHash AlgorithmOID="2.16.840.1.101.3.4.2.1">BBBB</MimeMessageHash>}' \
    "$n/d0.xml" >"$n/w0.xml"
  adv_xmlsec_sign "$n/w0.xml" "$n/w1.xml" "$SK" "$SC" 1 'intersect:/*/c:DigitalPostmark/c:MimeMessageHash[2]' &&
  perl -0777 -pe 's{(<MimeMessageHash[^>]*>)[^<]*}{${1}Q0NDQw==}' "$n/w1.xml" >"$g/wrap-narrowed.xml"
  # wrapping 2: our signature's intersect edited to select another element
  sed 's#>/\*/c:DigitalPostmark<#>/*/c:DigitalPostmark/c:MimeMessageHash[2]<#' "$SD" >"$g/wrap-edited-intersect.xml"
  # wrapping 3: the genuine postmark moved inside a fake one that a reader would read
  perl -0777 -pe 's{(<DigitalPostmark .*?</DigitalPostmark>)}{<DigitalPostmark EnvelopeId="env-1" DeliveryType="CertifiedMail"><MimeMessageHash AlgorithmOID="2.16.840.1.101.3.4.2.1">Q0NDQw==</MimeMessageHash>$1</DigitalPostmark>}s' \
    "$n/deposit.xml" >"$g/wrap-nested-postmark.xml"
  # wrapping 4: the genuine signed notice hidden in an Object of an attacker's signature element
  perl -0777 -pe 's{(<ds:Signature[^>]*Id="cmail-sig-1".*?)(</ds:Signature>)}{$1<ds:Object><ds:Signature Id="cmail-sig-9"/></ds:Object>$2}s' \
    "$n/deposit.xml" >"$g/wrap-object.xml"
  # a signature over everything but without the postmark intersect (xmlsec1 accepts it)
  adv_xmlsec_sign "$n/d0.xml" "$g/wrap-no-intersect.xml" "$SK" "$SC" 1
  # RSA-SHA1 (a downgrade of the signature algorithm)
  ADV_SIGALG=http://www.w3.org/2000/09/xmldsig#rsa-sha1 \
    adv_xmlsec_sign "$n/d0.xml" "$g/downgrade-rsa-sha1.xml" "$SK" "$SC" 1 'intersect:/*/c:DigitalPostmark'
  # a foreign element signed along with the postmark: valid signature, invalid schema
  perl -0777 -pe 's{</MimeMessageHash>}{</MimeMessageHash><x:Note xmlns:x="urn:x-attacker">pay 1000</x:Note>}' "$n/d0.xml" >"$n/f0.xml"
  adv_xmlsec_sign "$n/f0.xml" "$g/foreign-element-signed.xml" "$SK" "$SC" 1 'intersect:/*/c:DigitalPostmark'
  # a comment and a processing instruction slipped into a signed notice
  sed 's#<DigitalPostmark #<!-- x --><DigitalPostmark #' "$n/deposit.xml" >"$g/comment-injected.xml"

  # --- signers: untrusted, wrong party, another recipient's answer, swapped KeyInfo ---------------------
  openssl req -x509 -newkey rsa:2048 -nodes -keyout "$n/rogue.key" -out "$n/rogue.pem" -days 2 \
    -subj "/O=Cmail Test Organisation/CN=mail.example.org" -addext "subjectAltName=email:postmaster@example.org" \
    -addext "certificatePolicies=0.0.24.1341.2.1" >/dev/null 2>&1
  "$NT" sign "$n/d0.xml" "$g/untrusted-signer.xml" --key "$n/rogue.key" --cert "$n/rogue.pem" --place postmark >/dev/null 2>&1
  # the postmark signed by alice: her certificate is valid, but she is not a server
  "$NT" sign "$n/d0.xml" "$g/wrong-party-postmark.xml" --key "$AK" --cert "$AC" --place postmark >/dev/null 2>&1
  # the sender's signature made by bob
  "$NT" sign "$n/d1.xml" "$g/wrong-party-sender.xml" --key "$BK" --cert "$BC" --place info >/dev/null 2>&1
  # bob's receipt answered and signed by alice
  "$NT" sign "$n/bob-r2.xml" "$g/wrong-party-recipient.xml" --key "$AK" --cert "$AC" --place challenge >/dev/null 2>&1
  # carol's receipt answered by bob (another recipient's answer)
  "$NT" sign "$n/carol-r2.xml" "$g/other-recipients-answer.xml" --key "$BK" --cert "$BC" --place challenge >/dev/null 2>&1
  # carol's EntityChallenge (her answer and signature) spliced into bob's signed receipt
  "$NT" sign "$n/carol-r2.xml" "$n/carol-sr2.xml" --key "$CK" --cert "$CC" --place challenge >/dev/null 2>&1
  perl -0777 -e 'open(A, $ARGV[0]); $a = <A>; open(B, $ARGV[1]); $b = <B>;
    ($c) = $b =~ m{(<EntityChallenge>.*</EntityChallenge>)}s; $a =~ s{<EntityChallenge>.*</EntityChallenge>}{$c}s; print $a' \
    "$n/bob-sr2.xml" "$n/carol-sr2.xml" >"$g/answer-spliced.xml"
  SB=$(sed -n 's#.*<ds:X509Certificate>\([^<]*\)</ds:X509Certificate>.*#\1#p' "$n/deposit.xml" | head -n 1)
  AB=$(openssl x509 -in "$AC" -outform DER | openssl base64 -A)
  sed "s#$SB#$AB#" "$n/deposit.xml" >"$g/keyinfo-swapped.xml"
  perl -0777 -pe 's{(<EntityChallenge>.*?<Response[^>]*>)[^<]*}{${1}Q0NDQ0NDQ0NDQ0NDQ0NDQ0NDQ0NDQ0NDQ0NDQ0NDQ0M=}s' \
    "$n/signed-receipt.xml" >"$g/response-changed.xml"
  cp "$n/signed-receipt.xml" "$g/revoked-recipient.xml"

  # --- oversized and deep (as hostile_xml.sh) ---------------------------------------------------------
  { printf '<DepositNotice xmlns="%s">' "$ADV_NS"
    for i in $(seq 1000); do printf '<DigitalPostmark>'; done
    for i in $(seq 1000); do printf '</DigitalPostmark>'; done
    printf '</DepositNotice>\n'; } >"$g/deep.xml"
  { printf '<DepositNotice xmlns="%s"><DigitalPostmark EnvelopeId="x" DeliveryType="CertifiedMail">' "$ADV_NS"
    yes '<MimeMessageHash/>' | head -n 30000 | tr -d '\n'
    printf '</DigitalPostmark></DepositNotice>\n'; } >"$g/wide.xml"
  { printf '<DepositNotice xmlns="%s"' "$ADV_NS"; seq -f ' a%g=""' 300000 | tr -d '\n'; printf '/>\n'; } >"$g/attrs.xml"
  { printf '<?xml version="1.0"?>\n<DepositNotice xmlns="%s"><DigitalPostmark EnvelopeId="x" DeliveryType="CertifiedMail"><MimeMessageHash AlgorithmOID="2.16.840.1.101.3.4.2.1">' "$ADV_NS"
    yes AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA | head -c 52428800
    printf '</MimeMessageHash></DigitalPostmark></DepositNotice>\n'; } >"$g/oversized-50mb.xml"
  perl -0777 -pe 's{EnvelopeId="env-1"}{"EnvelopeId=\"" . ("e" x 5000) . "\""}e' "$n/deposit.xml" >"$g/oversized-envelope-id.xml"

  # --- certificates -----------------------------------------------------------------------------------
  adv_ca_conf "$P" || return 1
  adv_issue "$P" "$g/cert-expired.pem" ext_user -startdate 20200101000000Z -enddate 20210101000000Z &&
  adv_issue "$P" "$g/cert-not-yet-valid.pem" ext_user -startdate 20400101000000Z -enddate 20410101000000Z &&
  adv_issue "$P" "$g/cert-wrong-eku.pem" ext_user_eku &&
  adv_issue "$P" "$g/cert-wrong-ku.pem" ext_user_ku &&
  adv_issue "$P" "$g/cert-ca-flag.pem" ext_user_ca || { echo "adv_generate: openssl ca failed" >&2; return 1; }
  cp "$BC" "$g/cert-wrong-address.pem"
  cp "$AC" "$g/cert-revoked.pem"
  cp "$SC" "$g/cert-server-as-user.pem"
  openssl req -x509 -newkey rsa:2048 -nodes -keyout "$n/selfsigned.key" -out "$g/cert-self-signed.pem" -days 30 \
    -subj "$ADV_USER_DN" -addext "subjectAltName=email:alice@example.org" \
    -addext "keyUsage=critical,digitalSignature,nonRepudiation,keyEncipherment" \
    -addext "extendedKeyUsage=emailProtection" -addext "certificatePolicies=0.0.24.1341.2.2" >/dev/null 2>&1
  # an untrusted CA issuing a look-alike of alice's certificate
  "$CMAIL" pki init "$g/evil" --domain example.org --user alice@example.org >/dev/null 2>&1 &&
  cp "$g/evil/users/alice@example.org.pem" "$g/cert-untrusted-ca.pem" || return 1
  # the right certificate, its signature bits flipped
  openssl x509 -in "$AC" -outform DER >"$n/alice.der" &&
  perl -0777 -pe 'substr($_, -5, 1) = chr(ord(substr($_, -5, 1)) ^ 0xff)' "$n/alice.der" >"$g/cert-bad-signature.der"
  head -c 200 "$n/alice.der" >"$g/cert-truncated.der"
  { echo '-----BEGIN CERTIFICATE-----'; head -c 3000000 /dev/zero | openssl base64; echo '-----END CERTIFICATE-----'; } \
    >"$g/cert-oversized.pem"
  # --- DATA bodies for the CMTP transcripts (dot-stuffed, terminated) -------------------------------
  { printf 'From: alice@example.org\r\nTo: bob@example.org\r\n\r\n'
    for i in $(seq 400); do printf '%075d\r\n' "$i"; done; printf '.\r\n'; } >"$g/data-big.txt"
  { printf 'From: alice@example.org\r\nTo: bob@example.org\r\n\r\n%s\r\n.\r\n' "$(head -c 1200 /dev/zero | tr '\0' y)"; } \
    >"$g/data-longline.txt"
  for f in "$g"/*.xml "$g"/cert-* "$g"/data-*.txt; do [ -s "$f" ] || { echo "adv_generate: $f was not made" >&2; return 1; }; done
  return 0
}
