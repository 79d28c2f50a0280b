#!/usr/bin/env bash
# test/shell/crypto_openssl.sh - ENVELOPE cryptography against the openssl command
#
# RSA-OAEP-SHA256 key wrap both ways with `openssl pkeyutl`, PKCS#1 v1.5
# unwrap, refusal of EC and short RSA keys, the challenge answer against
# `openssl dgst`, AES-256-CBC input made by `openssl enc`, digests of our
# AES-256-GCM output against `openssl dgst`, tamper detection, and a 100 MB
# round trip through the streaming file interface with its peak memory.
# (openssl enc cannot do GCM; GCM known answers are in test_envelope.)
. "$top_srcdir/test/shell/lib.sh"

TOOL="${CRYPTO_TOOL:-$top_builddir/test/tools/crypto_tool}"
if [ ! -x "$TOOL" ]; then
  echo "1..0 # SKIP $TOOL not built"
  exit 0
fi
if ! command -v openssl >/dev/null; then
  echo "1..0 # SKIP no openssl command"
  exit 0
fi

OAEP_OPTS=(-pkeyopt rsa_padding_mode:oaep -pkeyopt rsa_oaep_md:sha256 -pkeyopt rsa_mgf1_md:sha256)

# b64_1 FILE: base64 on one line
b64_1() { openssl base64 -A -in "$1"; }
# sha_b64 ALG FILE: base64 digest by the openssl command
sha_b64() { openssl dgst "-$1" -binary "$2" | openssl base64 -A; }
# field NAME FILE: value of "NAME value" in a crypto_tool report
field() { sed -n "s/^$1 //p" "$2"; }
# no_file PATH: neither PATH nor a temporary PATH.XXXXXX exists
no_file() { ! compgen -G "$1*" >/dev/null; }
# flip_byte FILE OFFSET: change the lowest bit of one byte in place
flip_byte() {
  local b
  b=$(od -An -tu1 -j "$2" -N1 "$1" | tr -d ' ')
  printf "\\$(printf %03o $(((b ^ 1) & 255)))" | dd of="$1" bs=1 seek="$2" conv=notrunc 2>/dev/null
}

# --- keys and certificates made by openssl req ------------------------------
openssl req -x509 -newkey rsa:2048 -nodes -keyout "$T/k.pem" -out "$T/c.pem" \
  -subj "/CN=crypto test" -days 1 >/dev/null 2>&1
openssl req -x509 -newkey rsa:2048 -nodes -keyout "$T/k2.pem" -out "$T/c2.pem" \
  -subj "/CN=other" -days 1 >/dev/null 2>&1
openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -keyout "$T/ec.pem" \
  -out "$T/ec_c.pem" -subj "/CN=ec" -days 1 >/dev/null 2>&1
openssl req -x509 -newkey rsa:1024 -nodes -keyout "$T/small.pem" -out "$T/small_c.pem" \
  -subj "/CN=small" -days 1 >/dev/null 2>&1
check "openssl req made RSA, EC and small RSA certificates" \
  test -s "$T/c.pem" -a -s "$T/k.pem" -a -s "$T/ec_c.pem" -a -s "$T/small_c.pem"
openssl x509 -in "$T/c.pem" -pubkey -noout >"$T/pub.pem"

# A known 32-byte key, and a random one.
printf '%s' 'Cmail RSCK test key: 32 bytes!!!' >"$T/key.bin"
openssl rand -out "$T/rkey.bin" 32
check "the known key is 32 bytes" test "$(wc -c <"$T/key.bin")" -eq 32

# --- RSA-OAEP: our wrap, openssl unwrap ---------------------------------------
for kf in key.bin rkey.bin; do
  if "$TOOL" wrap "$T/c.pem" "$T/$kf" >"$T/w.b64" 2>"$T/err"; then
    openssl base64 -d -A -in "$T/w.b64" -out "$T/w.raw"
    check "our wrap of $kf is $(wc -c <"$T/w.raw") bytes (RSA-2048 block)" \
      test "$(wc -c <"$T/w.raw")" -eq 256
    openssl pkeyutl -decrypt -inkey "$T/k.pem" "${OAEP_OPTS[@]}" \
      -in "$T/w.raw" -out "$T/w.dec" 2>"$T/err"
    check "openssl pkeyutl -decrypt (OAEP, SHA-256, MGF1-SHA-256) recovers $kf" \
      cmp "$T/w.dec" "$T/$kf"
    # With SHA-1 OAEP (openssl's default) the same block must not decrypt.
    check_fails "openssl OAEP with SHA-1 does not decrypt our wrap of $kf" \
      openssl pkeyutl -decrypt -inkey "$T/k.pem" -pkeyopt rsa_padding_mode:oaep \
      -in "$T/w.raw" -out "$T/w.sha1"
    check_fails "another private key cannot unwrap our wrap of $kf" \
      "$TOOL" unwrap "$T/k2.pem" RSA-OAEP "$T/w.b64" "$T/w.k2"
  else
    not_ok "crypto_tool wrap $kf: $(cat "$T/err")"
  fi
done
# OAEP is randomised: two wraps differ.
"$TOOL" wrap "$T/c.pem" "$T/key.bin" >"$T/w1.b64"
"$TOOL" wrap "$T/c.pem" "$T/key.bin" >"$T/w2.b64"
check_fails "two wraps of the same key differ" cmp -s "$T/w1.b64" "$T/w2.b64"

# A 3072-bit key: a 384-byte block, both directions.
openssl req -x509 -newkey rsa:3072 -nodes -keyout "$T/k3.pem" -out "$T/c3.pem" \
  -subj "/CN=rsa3072" -days 1 >/dev/null 2>&1
"$TOOL" wrap "$T/c3.pem" "$T/rkey.bin" >"$T/w3.b64"
openssl base64 -d -A -in "$T/w3.b64" -out "$T/w3.raw"
check "RSA-3072: our wrap is a 384-byte block" test "$(wc -c <"$T/w3.raw")" -eq 384
openssl pkeyutl -decrypt -inkey "$T/k3.pem" "${OAEP_OPTS[@]}" -in "$T/w3.raw" -out "$T/w3.dec"
check "RSA-3072: openssl pkeyutl recovers the key" cmp "$T/w3.dec" "$T/rkey.bin"

# --- RSA-OAEP: openssl wrap, our unwrap ---------------------------------------
openssl pkeyutl -encrypt -pubin -inkey "$T/pub.pem" "${OAEP_OPTS[@]}" \
  -in "$T/key.bin" -out "$T/o.raw"
openssl base64 -in "$T/o.raw" -out "$T/o.b64"	# folded lines, as in XML
check "our unwrap (RSA-OAEP) of an openssl pkeyutl -encrypt block" \
  "$TOOL" unwrap "$T/k.pem" RSA-OAEP "$T/o.b64" "$T/o.key"
check "it recovers the same 32 bytes" cmp "$T/o.key" "$T/key.bin"
check_fails "the same block under CipheredKey=RSA (v1.5) is refused" \
  "$TOOL" unwrap "$T/k.pem" RSA "$T/o.b64" "$T/o.bad"
check_fails "a block under the wrong certificate is refused" \
  "$TOOL" unwrap "$T/k2.pem" RSA-OAEP "$T/o.b64" "$T/o.bad2"

# OAEP with SHA-1 parameters is not our profile.
openssl pkeyutl -encrypt -pubin -inkey "$T/pub.pem" -pkeyopt rsa_padding_mode:oaep \
  -in "$T/key.bin" -out "$T/o1.raw"
b64_1 "$T/o1.raw" >"$T/o1.b64"
check_fails "an OAEP-SHA-1 block is refused" \
  "$TOOL" unwrap "$T/k.pem" RSA-OAEP "$T/o1.b64" "$T/o1.key"

# Tampered: flip one bit in the middle of the block.
cp "$T/o.raw" "$T/t.raw"
flip_byte "$T/t.raw" 128
check_fails "the flipped copy differs" cmp -s "$T/t.raw" "$T/o.raw"
b64_1 "$T/t.raw" >"$T/t.b64"
check_fails "a changed byte in the wrapped key is refused" \
  "$TOOL" unwrap "$T/k.pem" RSA-OAEP "$T/t.b64" "$T/t.key"

# --- PKCS#1 v1.5 ("RSA") accepted on input -------------------------------------
openssl pkeyutl -encrypt -pubin -inkey "$T/pub.pem" -pkeyopt rsa_padding_mode:pkcs1 \
  -in "$T/rkey.bin" -out "$T/p.raw"
b64_1 "$T/p.raw" >"$T/p.b64"
check "our unwrap (RSA, PKCS#1 v1.5) of an openssl block" \
  "$TOOL" unwrap "$T/k.pem" RSA "$T/p.b64" "$T/p.key"
check "it recovers the same 32 bytes" cmp "$T/p.key" "$T/rkey.bin"
head -c 16 "$T/rkey.bin" >"$T/half.bin"
openssl pkeyutl -encrypt -pubin -inkey "$T/pub.pem" -pkeyopt rsa_padding_mode:pkcs1 \
  -in "$T/half.bin" -out "$T/h.raw"
b64_1 "$T/h.raw" >"$T/h.b64"
check_output "a v1.5 block holding 16 bytes is refused (exactly 32 required)" \
  "cannot unwrap" "$TOOL" unwrap "$T/k.pem" RSA "$T/h.b64" "$T/h.key"

# --- key types ----------------------------------------------------------------
check_output "wrap to an EC certificate is refused with a clear error" \
  "RSA key is required" "$TOOL" wrap "$T/ec_c.pem" "$T/key.bin"
check_output "wrap to an RSA-1024 certificate is refused" \
  "1024 bits is too small" "$TOOL" wrap "$T/small_c.pem" "$T/key.bin"
check_output "unwrap with an EC private key is refused" \
  "RSA key is required" "$TOOL" unwrap "$T/ec.pem" RSA-OAEP "$T/o.b64" "$T/ec.key"

# --- the challenge ------------------------------------------------------------
NUMBER=$("$TOOL" number)
NUMBER2=$("$TOOL" number)
check "RandomNumber is only digits, at least 39 of them (>= 128 bits)" \
  bash -c '[[ "$1" =~ ^[1-9][0-9]{38,}$ ]]' _ "$NUMBER"
check_fails "two RandomNumbers differ" test "$NUMBER" = "$NUMBER2"
OURS=$("$TOOL" answer "$NUMBER" "$T/key.bin")
THEIRS=$( (printf %s "$NUMBER"; cat "$T/key.bin") | openssl dgst -sha256 -binary | openssl base64 -A)
check "answer = base64(SHA-256(digits || key)) by openssl dgst" test "$OURS" = "$THEIRS"
echo "# RandomNumber $NUMBER answer $OURS"
if command -v base64 >/dev/null; then
  THEIRS2=$( (printf %s "$NUMBER"; cat "$T/key.bin") | openssl dgst -sha256 -binary | base64)
  check "same with coreutils base64" test "$OURS" = "$THEIRS2"
fi
OURS1=$("$TOOL" answer "$NUMBER" "$T/rkey.bin" 1.3.14.3.2.26)
THEIRS1=$( (printf %s "$NUMBER"; cat "$T/rkey.bin") | openssl dgst -sha1 -binary | openssl base64 -A)
check "SHA-1 answer (input only) matches openssl dgst -sha1" test "$OURS1" = "$THEIRS1"
check "compare accepts the openssl-computed answer" "$TOOL" compare "$OURS" "$THEIRS"
OTHER=$( (printf %s "$NUMBER"; cat "$T/rkey.bin") | openssl dgst -sha256 -binary | openssl base64 -A)
check_fails "compare refuses the answer for another key" "$TOOL" compare "$OURS" "$OTHER"
check_fails "compare refuses a SHA-1 digest for a SHA-256 answer" "$TOOL" compare "$OURS" "$OURS1"
check_fails "compare refuses garbage" "$TOOL" compare "$OURS" "not base64 !"
check_fails "answer refuses a number with a sign" "$TOOL" answer "-$NUMBER" "$T/key.bin"

# --- AES-256-CBC made by openssl enc, decrypted by us -------------------------
KEYHEX=$(od -An -tx1 -v "$T/rkey.bin" | tr -d ' \n')
openssl rand -out "$T/iv.bin" 16
IVHEX=$(od -An -tx1 -v "$T/iv.bin" | tr -d ' \n')
for size in 0 1 16 100000; do
  head -c "$size" /dev/urandom >"$T/cbc.plain"
  openssl enc -aes-256-cbc -K "$KEYHEX" -iv "$IVHEX" -in "$T/cbc.plain" -out "$T/cbc.raw"
  cat "$T/iv.bin" "$T/cbc.raw" >"$T/cbc.env"
  for alg in AES-256-CBC AES; do
    rm -f "$T/cbc.out"
    if "$TOOL" decrypt "$T/rkey.bin" "$alg" "$T/cbc.env" "$T/cbc.out" >"$T/rep" 2>"$T/err" \
       && cmp -s "$T/cbc.out" "$T/cbc.plain"; then
      ok "openssl enc -aes-256-cbc, $size bytes, decrypted as $alg"
    else
      not_ok "openssl enc -aes-256-cbc, $size bytes, decrypted as $alg: $(cat "$T/err")"
    fi
  done
done
check_fails "CBC with the wrong key is refused" \
  "$TOOL" decrypt "$T/key.bin" AES-256-CBC "$T/cbc.env" "$T/cbc.bad"
check "and no output file is left" no_file "$T/cbc.bad"

# --- AES-256-GCM by us: layout and digests checked with openssl dgst ----------
head -c 300001 /dev/urandom >"$T/g.plain"
if "$TOOL" encrypt "$T/key.bin" "$T/g.plain" "$T/g.env" >"$T/g.rep" 2>"$T/err"; then
  ok "GCM encryption of 300001 bytes"
else
  not_ok "GCM encryption: $(cat "$T/err")"
fi
check "ciphertext = 12-byte IV || ciphertext || 16-byte tag" \
  test "$(wc -c <"$T/g.env")" -eq $((300001 + 28))
check "UncipheredEnvelopeHash = openssl dgst of the plaintext" \
  test "$(field plain "$T/g.rep")" = "$(sha_b64 sha256 "$T/g.plain")"
check "CipheredEnvelopeHash = openssl dgst of the ciphertext bytes" \
  test "$(field cipher "$T/g.rep")" = "$(sha_b64 sha256 "$T/g.env")"
check "GCM decryption" "$TOOL" decrypt "$T/key.bin" AES-256-GCM "$T/g.env" "$T/g.out"
check "GCM round trip gives the plaintext back" cmp "$T/g.out" "$T/g.plain"
"$TOOL" encrypt "$T/key.bin" "$T/g.plain" "$T/g2.env" >/dev/null
check_fails "a second encryption uses a fresh IV" \
  cmp -s <(head -c 12 "$T/g.env") <(head -c 12 "$T/g2.env")
# Tamper: ciphertext byte, tag byte, IV byte.
for off in 5 150000 $((300001 + 20)); do
  cp "$T/g.env" "$T/gt.env"
  flip_byte "$T/gt.env" "$off"
  rm -f "$T/gt.out"
  check_output "a changed byte at offset $off fails authentication" \
    "authentication failed" "$TOOL" decrypt "$T/key.bin" AES-256-GCM "$T/gt.env" "$T/gt.out"
  check "and leaves no plaintext file" no_file "$T/gt.out"
done
head -c 27 "$T/g.env" >"$T/short.env"
check_output "27 bytes (shorter than IV + tag) fail cleanly" \
  "truncated" "$TOOL" decrypt "$T/key.bin" AES-256-GCM "$T/short.env" "$T/short.out"
check_fails "the wrong key fails" "$TOOL" decrypt "$T/rkey.bin" AES-256-GCM "$T/g.env" "$T/wk.out"

# --- the ENVELOPE MIME message -------------------------------------------------
head -c 100003 /dev/urandom >"$T/m.plain"
SUBJ='=?UTF-8?Q?Bienvenue_=C3=A0_CMTP!?='
if "$TOOL" mime-write "$T/key.bin" "$T/m.plain" "$T/m.eml" david@example.com \
     "laura@example.org, paul@example.org" "Tue, 9 Jul 2013 10:57:51 +0200" \
     "<proto_cmtp_1373360269856@example.com>" "$SUBJ" >"$T/m.rep" 2>"$T/err"; then
  ok "ENVELOPE MIME message written"
else
  not_ok "ENVELOPE MIME message: $(cat "$T/err")"
fi
check "MimeMessageHash = openssl dgst of the written message" \
  test "$(field mime "$T/m.rep")" = "$(sha_b64 sha256 "$T/m.eml")"
check "every line ends in CRLF" \
  test "$(grep -c $'\r$' "$T/m.eml")" -eq "$(wc -l <"$T/m.eml")"
check "no line is longer than 78 characters, base64 lines are 76" \
  awk '{ sub(/\r$/, "") }
       length($0) > 78 { bad = 1 }
       length($0) == 76 && /^[A-Za-z0-9+\/]+$/ { n++ }
       END { exit (bad || n < 1000) }' "$T/m.eml"
check_output "the attachment is named envelop" 'filename="envelop"' cat "$T/m.eml"
check "mime-extract gives IV || ciphertext || tag" \
  "$TOOL" mime-extract "$T/m.eml" "$T/m.ct"
check "  of the right length" test "$(wc -c <"$T/m.ct")" -eq $((100003 + 28))
check "  whose openssl digest is CipheredEnvelopeHash" \
  test "$(field cipher "$T/m.rep")" = "$(sha_b64 sha256 "$T/m.ct")"
check "mime-decrypt gives the plaintext back" \
  "$TOOL" mime-decrypt "$T/key.bin" AES-256-GCM "$T/m.eml" "$T/m.out"
check "  exactly" cmp "$T/m.out" "$T/m.plain"
check_fails "mime-decrypt with the wrong key fails" \
  "$TOOL" mime-decrypt "$T/rkey.bin" AES-256-GCM "$T/m.eml" "$T/m.bad"
check "  and leaves no plaintext file" no_file "$T/m.bad"
# Independent MIME parser: Python's email package.
if command -v python3 >/dev/null && python3 -c 'import email.policy' 2>/dev/null; then
  cat >"$T/mimecheck.py" <<'PY'
import sys, email
from email import policy
from email.mime.multipart import MIMEMultipart
from email.mime.application import MIMEApplication
if sys.argv[1] == "parse":
    msg = email.message_from_binary_file(open(sys.argv[2], "rb"), policy=policy.default)
    parts = [p for p in msg.walk() if p.get_filename() == "envelop"]
    if len(parts) != 1 or parts[0].get_content_type() != "application/octet-stream":
        sys.exit("expected one application/octet-stream part named envelop")
    open(sys.argv[3], "wb").write(parts[0].get_payload(decode=True))
    print(msg["Subject"])
    print(msg["To"])
else:
    # Appendix I.4 layout: multipart/mixed inside multipart/mixed.
    outer, inner = MIMEMultipart("mixed"), MIMEMultipart("mixed")
    for k, v in (("Date", "Tue, 9 Jul 2013 10:57:51 +0200"), ("From", "david@example.com"),
                 ("To", "laura@example.org"), ("Message-ID", "proto_cmtp_1"),
                 ("Subject", "from python")):
        outer[k] = v
    att = MIMEApplication(open(sys.argv[2], "rb").read(), "octet-stream")
    att.add_header("Content-Disposition", "attachment", filename="envelop")
    inner.attach(att)
    outer.attach(inner)
    open(sys.argv[3], "wb").write(outer.as_bytes())
PY
  check_output "python's email parser finds the envelop part and decodes the Subject" \
    "^Bienvenue à CMTP!$" python3 "$T/mimecheck.py" parse "$T/m.eml" "$T/m.py.ct"
  check "  and its attachment equals our ciphertext" cmp "$T/m.py.ct" "$T/m.ct"
  check_output "  the folded To header unfolds to both addresses" \
    "^laura@example.org, paul@example.org$" python3 "$T/mimecheck.py" parse "$T/m.eml" "$T/m.py.ct"
  "$TOOL" encrypt "$T/key.bin" "$T/m.plain" "$T/p.ct" >/dev/null
  python3 "$T/mimecheck.py" build "$T/p.ct" "$T/p.eml"
  check_output "an Appendix I.4 layout built by python decrypts with ours" \
    "^subject from python$" "$TOOL" mime-decrypt "$T/key.bin" AES-256-GCM "$T/p.eml" "$T/p.out"
  check "  to the plaintext" cmp "$T/p.out" "$T/m.plain"
else
  skip "python3 email package not available: MIME cross-check"
fi

# --- 100 MB through the streaming file interface -------------------------------
if head -c $((100 * 1024 * 1024)) /dev/urandom >"$T/big.plain" 2>/dev/null; then
  TIMEV=""
  if [ -x /usr/bin/time ] && /usr/bin/time -v true >/dev/null 2>&1; then
    TIMEV="/usr/bin/time -v -o $T/time.enc"
  fi
  if $TIMEV "$TOOL" encrypt "$T/rkey.bin" "$T/big.plain" "$T/big.env" >"$T/big.rep" 2>"$T/err"; then
    ok "100 MB encrypted"
  else
    not_ok "100 MB encryption: $(cat "$T/err")"
  fi
  RSS=$(field maxrss_kb "$T/big.rep")
  echo "# 100 MB encrypt: peak RSS ${RSS:-?} kB (own getrusage)"
  [ -n "$TIMEV" ] && sed -n 's/^\t*\(Maximum resident set size.*\|Elapsed.*\)/# time -v: \1/p' "$T/time.enc"
  check "encrypting 100 MB peaks under 64 MB of memory (${RSS:-?} kB)" \
    test "${RSS:-999999}" -lt 65536
  check "100 MB UncipheredEnvelopeHash matches openssl dgst" \
    test "$(field plain "$T/big.rep")" = "$(sha_b64 sha256 "$T/big.plain")"
  check "100 MB CipheredEnvelopeHash matches openssl dgst" \
    test "$(field cipher "$T/big.rep")" = "$(sha_b64 sha256 "$T/big.env")"
  PLAIN_SHA=$(sha_b64 sha256 "$T/big.plain")
  rm -f "$T/big.plain"
  if "$TOOL" decrypt "$T/rkey.bin" AES-256-GCM "$T/big.env" "$T/big.out" >"$T/big2.rep" 2>"$T/err"; then
    ok "100 MB decrypted"
  else
    not_ok "100 MB decryption: $(cat "$T/err")"
  fi
  RSS2=$(field maxrss_kb "$T/big2.rep")
  echo "# 100 MB decrypt: peak RSS ${RSS2:-?} kB"
  check "decrypting 100 MB peaks under 64 MB of memory (${RSS2:-?} kB)" \
    test "${RSS2:-999999}" -lt 65536
  check "100 MB round trip is exact (digest of the output)" \
    test "$(sha_b64 sha256 "$T/big.out")" = "$PLAIN_SHA"
  check "decryption reports the same plaintext digest" \
    test "$(field plain "$T/big2.rep")" = "$PLAIN_SHA"
  rm -f "$T/big.env" "$T/big.out"
else
  skip "no space for a 100 MB file"
fi

cm_done
