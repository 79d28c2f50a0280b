#!/usr/bin/env bash
# regenerate.sh - remake the sample notices of schemas/samples/ with the project's own code.
#
# Usage: schemas/samples/regenerate.sh [BUILDDIR]   (BUILDDIR defaults to the source tree)
#
# Makes a throw-away test PKI (`cmail pki init`, 36500 days so the samples keep verifying),
# builds and signs one notice of each of the six types with test/tools/notice_tool (cm_notice +
# cm_dsig), plus Cmail's own NonDeliveryNotice (extensions/, schema cmail-extensions.xsd),
# checks each with xmllint --schema and xmlsec1 --verify, then keeps ONLY the notices and
# the CA certificate (sample-ca.pem). Every private key is deleted with the scratch directory:
# never commit a private key. Needs a built tree (`make && make -C test tools/notice_tool`).
set -eu
here=$(cd "$(dirname "$0")" && pwd)
top=$(cd "$here/../.." && pwd)
build=$(cd "${1:-$top}" && pwd)
CMAIL=$build/client/cmail
NT=$build/test/tools/notice_tool
export CMAIL_SCHEMA_DIR=$top/schemas
for f in "$CMAIL" "$NT"; do [ -x "$f" ] || { echo "regenerate.sh: $f not built" >&2; exit 1; }; done
W=$(mktemp -d); trap 'rm -rf "$W"' EXIT
P=$W/pki
"$CMAIL" pki init "$P" --domain example.org --server-name mail.example.org \
  --user alice@example.org --user bob@example.org --days 36500 --ca-days 36500 >/dev/null
SK=$P/server.key SC=$P/server.pem
AK=$P/users/alice@example.org.key AC=$P/users/alice@example.org.pem
BK=$P/users/bob@example.org.key BC=$P/users/bob@example.org.pem
ENTS=(--from alice@example.org --cert "$AC" --to bob@example.org --cert "$BC")
ANSWER=$(printf 'sample answer' | openssl dgst -sha256 -binary | openssl base64 -A)
q() { "$NT" "$@" >/dev/null; }
O=$W/out; mkdir -p "$O/extensions"
q build deposit "$W/d0.xml" --envelope-id sample-1
q sign "$W/d0.xml" "$O/deposit-notice.xml" --key "$SK" --cert "$SC" --place postmark
q promote "$O/deposit-notice.xml" "$W/d1.xml" "${ENTS[@]}"
q sign "$W/d1.xml" "$O/signed-deposit-notice.xml" --key "$AK" --cert "$AC" --place info
q build transit "$W/t0.xml" --envelope-id sample-1
q sign "$W/t0.xml" "$O/transit-notice.xml" --key "$SK" --cert "$SC" --place postmark
q promote "$O/transit-notice.xml" "$W/t1.xml" "${ENTS[@]}"
q sign "$W/t1.xml" "$O/signed-transit-notice.xml" --key "$SK" --cert "$SC" --place info
q build receipt "$W/r0.xml" --envelope-id sample-1 --to bob@example.org --cert "$BC"
q sign "$W/r0.xml" "$O/receipt-notice.xml" --key "$SK" --cert "$SC" --place postmark
q promote "$O/receipt-notice.xml" "$W/r1.xml"
q respond "$W/r1.xml" "$W/r2.xml" --answer "$ANSWER"
q sign "$W/r2.xml" "$W/r3.xml" --key "$BK" --cert "$BC" --place challenge
q sign "$W/r3.xml" "$O/signed-receipt-notice.xml" --key "$SK" --cert "$SC" --place postmark
q nondelivery "$O/signed-deposit-notice.xml" "$W/n0.xml" --rcpt bob@example.org \
  --reason 'mail.example.net said 550 5.1.1 <bob@example.org>: no such user' --time 1795000000
q sign "$W/n0.xml" "$O/extensions/nondelivery-notice.xml" --key "$SK" --cert "$SC" --place postmark
cp "$P/ca.pem" "$O/sample-ca.pem"
# check before replacing anything
for f in "$O"/*.xml "$O"/extensions/*.xml; do
  case $f in */extensions/*) xsd=cmail-extensions.xsd;; *) xsd=x1341-notices.xsd;; esac
  xmllint --noout --schema "$CMAIL_SCHEMA_DIR/$xsd" "$f" >/dev/null 2>&1 \
    || { echo "regenerate.sh: $(basename "$f") does not validate against $xsd" >&2; exit 1; }
  for n in $(grep -o 'Id="cmail-sig-[0-9]*"' "$f" | sed 's/[^0-9]//g'); do
    xmlsec1 --verify --trusted-pem "$O/sample-ca.pem" --node-xpath "//*[@Id='cmail-sig-$n']" "$f" >/dev/null 2>&1 \
      || { echo "regenerate.sh: $(basename "$f") signature $n does not verify" >&2; exit 1; }
  done
done
if grep -rlE 'BEGIN [A-Z ]*PRIVATE KEY' "$O" >/dev/null 2>&1; then echo "regenerate.sh: a private key in the output" >&2; exit 1; fi
cp "$O"/*.xml "$O/sample-ca.pem" "$here/"
mkdir -p "$here/extensions"
cp "$O"/extensions/*.xml "$here/extensions/"
echo "regenerate.sh: wrote $(ls "$O"/*.xml "$O"/extensions/*.xml | wc -l) notices and sample-ca.pem to $here (keys deleted)"
