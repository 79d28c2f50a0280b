#!/usr/bin/env bash
# hostile_xml.sh - notices built by cm_notice pass the independent xmllint; hostile XML
# (external entities, billion laughs, DTD, deep nesting, too many nodes or attributes, 50 MB) is refused
# by `cmail verify` and by the parser itself within 5 seconds, with a one-line reason,
# exit status 1, and never a byte of /etc/passwd.
. "$top_srcdir/test/shell/lib.sh"

XSD=$top_srcdir/schemas/x1341-notices.xsd
TOOL=$top_builddir/test/tools/xml_tool
NS=http://www.itu.int/xml-namespace/itu-t/x.1341/x-cmail-notices

# --- notices built by our code, checked by xmllint ---------------------------------------
if ! command -v xmllint >/dev/null 2>&1; then
  skip "xmllint not installed (Debian package libxml2-utils)"
else
  for type in DepositNotice SignedDepositNotice TransitNotice SignedTransitNotice \
              ReceiptNotice SignedReceiptNotice; do
    "$TOOL" build "$type" "$T/$type.xml"
    check "xmllint --schema validates a $type built by cm_notice" \
      xmllint --noout --nonet --schema "$XSD" "$T/$type.xml"
    check_output "our parser reads the $type back" "^VALID $type\$" "$TOOL" check "$T/$type.xml"
  done
  for type in DepositNotice TransitNotice ReceiptNotice; do
    "$TOOL" promote "$T/$type.xml" "$T/promoted-$type.xml"
    check "xmllint --schema validates a promoted $type" \
      xmllint --noout --nonet --schema "$XSD" "$T/promoted-$type.xml"
  done
  check_output "promotion renames the root" "<SignedDepositNotice xmlns=" cat "$T/promoted-DepositNotice.xml"
  # the schema is strict: the Annex A misspelling and a foreign element fail xmllint too
  sed 's/ReceiptNotice/ReceipNotice/g' "$T/ReceiptNotice.xml" > "$T/receip.xml"
  check_fails "xmllint refuses the Annex A spelling ReceipNotice" \
    xmllint --noout --nonet --schema "$XSD" "$T/receip.xml"
  sed 's#</DigitalPostmark>#<Extra/></DigitalPostmark>#' "$T/DepositNotice.xml" > "$T/extra.xml"
  check_fails "xmllint refuses an unknown element" xmllint --noout --nonet --schema "$XSD" "$T/extra.xml"
  check_output "our parser refuses it too" "^INVALID: .*unexpected element Extra" "$TOOL" check "$T/extra.xml"
fi

# --- cm_notice_promote() keeps an xmlsec1 signature valid (independent signer and verifier) ---
if ! command -v xmlsec1 >/dev/null 2>&1 || ! command -v xmllint >/dev/null 2>&1; then
  skip "xmlsec1 or xmllint not installed"
else
  for who in server sender; do
    openssl req -x509 -newkey rsa:2048 -nodes -keyout "$T/$who.key" -out "$T/$who.pem" \
      -subj "/CN=$who" -days 1 2>/dev/null
  done
  # tmpl N [intersect]: a PROFILE.md section 6 signature template, on one line
  tmpl() {
    printf '%s' "<ds:Signature xmlns:ds=\"http://www.w3.org/2000/09/xmldsig#\" Id=\"cmail-sig-$1\"><ds:SignedInfo>"
    printf '%s' "<ds:CanonicalizationMethod Algorithm=\"http://www.w3.org/2001/10/xml-exc-c14n#\"/>"
    printf '%s' "<ds:SignatureMethod Algorithm=\"http://www.w3.org/2001/04/xmldsig-more#rsa-sha256\"/>"
    printf '%s' "<ds:Reference URI=\"\"><ds:Transforms>${2:-}"
    printf '%s' "<ds:Transform Algorithm=\"http://www.w3.org/2002/06/xmldsig-filter2\"><dsig2:XPath xmlns:dsig2=\"http://www.w3.org/2002/06/xmldsig-filter2\" Filter=\"subtract\">//ds:Signature[number(substring-after(@Id,'cmail-sig-')) &gt;= $1]</dsig2:XPath></ds:Transform>"
    printf '%s' "<ds:Transform Algorithm=\"http://www.w3.org/2001/10/xml-exc-c14n#\"/></ds:Transforms>"
    printf '%s' "<ds:DigestMethod Algorithm=\"http://www.w3.org/2001/04/xmlenc#sha256\"/><ds:DigestValue/></ds:Reference>"
    printf '%s' "</ds:SignedInfo><ds:SignatureValue/><ds:KeyInfo><ds:X509Data/></ds:KeyInfo></ds:Signature>"
  }
  POSTMARK_ONLY="<ds:Transform Algorithm=\"http://www.w3.org/2002/06/xmldsig-filter2\"><dsig2:XPath xmlns:dsig2=\"http://www.w3.org/2002/06/xmldsig-filter2\" xmlns:c=\"$NS\" Filter=\"intersect\">/*/c:DigitalPostmark</dsig2:XPath></ds:Transform>"
  # before MARK TEXT FILE: insert TEXT before the first MARK (no regex, no & expansion)
  before() { awk -v m="$1" -v s="$2" '!done && (i = index($0, m)) { $0 = substr($0, 1, i - 1) s substr($0, i); done = 1 } { print }' "$3"; }
  vfy() { xmlsec1 --verify --trusted-pem "$T/$2.pem" --node-xpath "//*[@Id='cmail-sig-$1']" "$3"; }
  t1=$(tmpl 1 "$POSTMARK_ONLY") t2=$(tmpl 2)
  "$TOOL" build DepositNotice "$T/d0.xml"
  before "</DigitalPostmark>" "$t1" "$T/d0.xml" > "$T/d1.xml"
  xmlsec1 --sign --privkey-pem "$T/server.key,$T/server.pem" --output "$T/d2.xml" "$T/d1.xml" 2>"$T/.err" \
    || { sed 's/^/# /' "$T/.err"; }
  check "promote an xmlsec1-signed DepositNotice" "$TOOL" promote "$T/d2.xml" "$T/d3.xml"
  check "xmlsec1 --verify: the server signature survives the promotion" vfy 1 server "$T/d3.xml"
  check "xmllint --schema validates the promoted signed notice" \
    xmllint --noout --nonet --schema "$XSD" "$T/d3.xml"
  before "</EnvelopeInformation>" "$t2" "$T/d3.xml" > "$T/d4.xml"
  xmlsec1 --sign --privkey-pem "$T/sender.key,$T/sender.pem" --node-xpath "//*[@Id='cmail-sig-2']" \
    --output "$T/d5.xml" "$T/d4.xml" 2>"$T/.err" || sed 's/^/# /' "$T/.err"
  check "xmlsec1 --verify: signature 1 after signature 2" vfy 1 server "$T/d5.xml"
  check "xmlsec1 --verify: signature 2 (sender)" vfy 2 sender "$T/d5.xml"
  check "xmllint --schema validates the SignedDepositNotice with both signatures" \
    xmllint --noout --nonet --schema "$XSD" "$T/d5.xml"
  check_output "our strict parser reads it" "^VALID SignedDepositNotice\$" "$TOOL" check "$T/d5.xml"
  sed 's#</ds:Signature></DigitalPostmark>#</ds:Signature></DigitalPostmark>\n#' "$T/d2.xml" > "$T/ws.xml"
  "$TOOL" promote "$T/ws.xml" "$T/ws2.xml"
  check "whitespace outside the postmark leaves signature 1 intact" vfy 1 server "$T/ws2.xml"
  # the profile schema admits exactly PROFILE's signature shape (checked by xmllint)
  for edit in 's#</ds:KeyInfo></ds:Signature></EnvelopeInformation>#</ds:KeyInfo><ds:Object/></ds:Signature></EnvelopeInformation>#' \
              's#xmldsig-more\#rsa-sha256#xmldsig\#rsa-sha1#' \
              's#<ds:X509Data>#<ds:RetrievalMethod URI="http://127.0.0.1:9/k"/><ds:X509Data>#' \
              's#Id="cmail-sig-2"#Id="cmail-sig-1"#' \
              's#<ds:Reference URI="">#<ds:Reference URI="\#x">#' \
              's#Filter="subtract"#Filter="union"#'; do
    sed "$edit" "$T/d5.xml" > "$T/shape.xml"
    if cmp -s "$T/shape.xml" "$T/d5.xml"; then not_ok "edit did not apply: $edit"; continue; fi
    check_fails "xmllint refuses a signature edited by: $edit" \
      xmllint --noout --nonet --schema "$XSD" "$T/shape.xml"
  done
  sed 's#">\([A-Za-z0-9+/]*=\)</MimeMessageHash>#">AAAA\1</MimeMessageHash>#' "$T/d5.xml" > "$T/bad.xml"
  if cmp -s "$T/bad.xml" "$T/d5.xml"; then not_ok "tampering edit did not apply"; else
    check_fails "xmlsec1 --verify: a changed MimeMessageHash breaks signature 1" vfy 1 server "$T/bad.xml"
    check_fails "xmlsec1 --verify: and signature 2" vfy 2 sender "$T/bad.xml"
  fi
fi

# --- hostile files --------------------------------------------------------------------------
cat > "$T/xxe.xml" <<EOF
<?xml version="1.0"?>
<!DOCTYPE DepositNotice [<!ENTITY xxe SYSTEM "file:///etc/passwd">]>
<DepositNotice xmlns="$NS"><DigitalPostmark EnvelopeId="&xxe;" DeliveryType="CertifiedMail"><MimeMessageHash AlgorithmOID="2.16.840.1.101.3.4.2.1">&xxe;</MimeMessageHash></DigitalPostmark></DepositNotice>
EOF
cat > "$T/xxe-param.xml" <<EOF
<?xml version="1.0"?>
<!DOCTYPE DepositNotice [<!ENTITY % p SYSTEM "file:///etc/passwd"> %p;]>
<DepositNotice xmlns="$NS"/>
EOF
cat > "$T/laughs.xml" <<EOF
<?xml version="1.0"?>
<!DOCTYPE DepositNotice [
 <!ENTITY lol "lol">
 <!ENTITY lol1 "&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;">
 <!ENTITY lol2 "&lol1;&lol1;&lol1;&lol1;&lol1;&lol1;&lol1;&lol1;&lol1;&lol1;">
 <!ENTITY lol3 "&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;">
 <!ENTITY lol4 "&lol3;&lol3;&lol3;&lol3;&lol3;&lol3;&lol3;&lol3;&lol3;&lol3;">
 <!ENTITY lol5 "&lol4;&lol4;&lol4;&lol4;&lol4;&lol4;&lol4;&lol4;&lol4;&lol4;">
 <!ENTITY lol6 "&lol5;&lol5;&lol5;&lol5;&lol5;&lol5;&lol5;&lol5;&lol5;&lol5;">
 <!ENTITY lol7 "&lol6;&lol6;&lol6;&lol6;&lol6;&lol6;&lol6;&lol6;&lol6;&lol6;">
 <!ENTITY lol8 "&lol7;&lol7;&lol7;&lol7;&lol7;&lol7;&lol7;&lol7;&lol7;&lol7;">
 <!ENTITY lol9 "&lol8;&lol8;&lol8;&lol8;&lol8;&lol8;&lol8;&lol8;&lol8;&lol8;">
]>
<DepositNotice xmlns="$NS"><DigitalPostmark EnvelopeId="x" DeliveryType="CertifiedMail"><MimeMessageHash AlgorithmOID="2.16.840.1.101.3.4.2.1">&lol9;</MimeMessageHash></DigitalPostmark></DepositNotice>
EOF
cat > "$T/dtd.xml" <<EOF
<?xml version="1.0"?>
<!DOCTYPE DepositNotice SYSTEM "http://127.0.0.1:9/notice.dtd">
<DepositNotice xmlns="$NS"/>
EOF
{ printf '<DepositNotice xmlns="%s">' "$NS"
  for i in $(seq 1000); do printf '<DigitalPostmark>'; done
  for i in $(seq 1000); do printf '</DigitalPostmark>'; done
  printf '</DepositNotice>\n'; } > "$T/deep.xml"
{ printf '<DepositNotice xmlns="%s"><DigitalPostmark EnvelopeId="x" DeliveryType="CertifiedMail">' "$NS"
  yes '<MimeMessageHash/>' | head -n 30000 | tr -d '\n'
  printf '</DigitalPostmark></DepositNotice>\n'; } > "$T/wide.xml"
# one start tag with 300,000 attributes (under 4 MB): quadratic in libxml2 2.9 without our pre-scan
{ printf '<DepositNotice xmlns="%s"' "$NS"; seq -f ' a%g=""' 300000 | tr -d '\n'; printf '/>\n'; } > "$T/attrs.xml"
{ printf '<?xml version="1.0"?>\n<DepositNotice xmlns="%s"><DigitalPostmark EnvelopeId="x" DeliveryType="CertifiedMail"><MimeMessageHash AlgorithmOID="2.16.840.1.101.3.4.2.1">' "$NS"
  yes AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA | head -c 52428800
  printf '</MimeMessageHash></DigitalPostmark></DepositNotice>\n'; } > "$T/big.xml"
size=$(wc -c < "$T/big.xml")
if [ "$size" -gt 52428800 ]; then ok "big.xml is $size bytes"; else not_ok "big.xml is only $size bytes"; fi

# refused PROG-DESCRIPTION FILE PATTERN CMD...: CMD FILE must exit 1 within 5 s, print a line
# matching PATTERN, print nothing from /etc/passwd
refused() {
  local what=$1 file=$2 pat=$3; shift 3
  local rc=0
  timeout 5 "$@" "$T/$file" >"$T/.out" 2>&1 || rc=$?
  if [ "$rc" -eq 124 ]; then
    not_ok "$what $file: still running after 5 s"
  elif [ "$rc" -ne 1 ]; then
    not_ok "$what $file: exit status $rc, expected 1"; sed 's/^/# /' "$T/.out"
  elif grep -q 'root:.*:0:0:' "$T/.out"; then
    not_ok "$what $file: /etc/passwd content in the output"
  elif ! grep -Eq -- "$pat" "$T/.out"; then
    not_ok "$what $file: no line matching /$pat/"; sed 's/^/# /' "$T/.out"
  elif [ "$(grep -Ec -- "$pat" "$T/.out")" -ne 1 ] || grep -Eq 'parser error|^\s+\^' "$T/.out"; then
    not_ok "$what $file: reason not on a single line, or libxml2 noise"; sed 's/^/# /' "$T/.out"
  else
    ok "$what refuses $file: $(grep -E -- "$pat" "$T/.out" | head -n 1)"
  fi
}

hostile() { # CMD...: run the whole hostile set through CMD
  local what=$1; shift
  refused "$what" xxe.xml 'DOCTYPE not allowed' "$@"
  refused "$what" xxe-param.xml 'DOCTYPE not allowed' "$@"
  refused "$what" laughs.xml 'DOCTYPE not allowed' "$@"
  refused "$what" dtd.xml 'DOCTYPE not allowed' "$@"
  refused "$what" deep.xml 'nesting deeper than 32' "$@"
  refused "$what" wide.xml 'more than 20000 elements and attributes' "$@"
  refused "$what" attrs.xml 'more than 64 attributes on one element' "$@"
  refused "$what" big.xml 'larger than [0-9]+ bytes' "$@"
}

hostile "the hardened parser" "$TOOL" parse

if [ -x "$CMAIL" ] && "$CMAIL" verify --help >/dev/null 2>&1; then
  hostile "cmail verify" "$CMAIL" verify
else
  skip "cmail verify not built yet: hostile files checked through xml_tool only"
fi

cm_done
