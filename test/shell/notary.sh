#!/bin/bash
# test/shell/notary.sh - cmail-notary against a live daemon: start-up checks, privilege drop, PING,
# SEAL/UNSEAL of 20 MB through passed descriptors, RECORD and `cmail evidence show/check` (row hashes
# recomputed with sqlite3 + sha256sum), tampering found, hostile frames answered with an error while
# the notary keeps serving, concurrent clients, SIGN checked with the xmlsec1 command, clean stop.
. "$top_srcdir/test/shell/lib.sh" || exit 99
# Everything below writes under $T and chowns $T/run: never run without a scratch directory.
[ -n "${T:-}" ] && [ -d "$T" ] || { echo "Bail out! no scratch directory"; exit 99; }

NOTARY=$top_builddir/notary/cmail-notary
NT=$top_builddir/test/tools/notary_tool
NOTICE_TOOL=$top_builddir/test/tools/notice_tool
for tool in openssl sqlite3 sha256sum; do
  command -v $tool >/dev/null || { skip "$tool not installed"; cm_done; exit; }
done

# --- keys: server certificate and key, seal key ---------------------------------------------------
if "$CMAIL" pki init "$T/pki" --domain example.org >"$T/pki.out" 2>&1; then
  ok "server certificate and key made with cmail pki init"
else
  mkdir -p "$T/pki"
  openssl req -x509 -newkey rsa:2048 -nodes -days 2 -subj "/CN=cmail.example.org" \
    -keyout "$T/pki/server.key" -out "$T/pki/server.pem" 2>/dev/null
  cp "$T/pki/server.pem" "$T/pki/ca.pem"
  chmod 600 "$T/pki/server.key"
  ok "server certificate and key made with openssl req (cmail pki init unavailable)"
fi
check_output "cmail-notary -G writes a seal key and prints its id" "key id [0-9a-f]{16}" \
  "$NOTARY" -G "$T/seal.key"
KEY_ID=$(grep -Eo '[0-9a-f]{16}' "$T/.out" | head -1)
[ "$(stat -c %a "$T/seal.key")" = 600 ] && ok "seal key file has mode 0600" \
  || not_ok "seal key file mode is $(stat -c %a "$T/seal.key")"
grep -Eqx '[0-9a-f]{64}' "$T/seal.key" && ok "seal key file is 64 hex digits" || not_ok "seal key format"
check_fails "cmail-notary -G refuses to overwrite a key" "$NOTARY" -G "$T/seal.key"

# --- configuration; as root the notary drops to nobody ---------------------------------------------
RUN=$T/run
mkdir -p "$RUN"
NUSER=$(id -un)
if [ "$(id -u)" = 0 ] && id nobody >/dev/null 2>&1; then
  NUSER=nobody
  chmod 755 "$T"
  chown nobody "$RUN"
fi
SOCK=$RUN/notary.sock
DB=$RUN/evidence.db
conf() {  # conf FILE [extra lines]
  local f=$1; shift
  { echo "server_certificate = $T/pki/server.pem"
    echo "server_key = $T/pki/server.key"
    echo "seal_key = $T/seal.key"
    echo "notary_socket = $SOCK"
    echo "notary_user = $NUSER"
    echo "notary_threads = 2"
    echo "evidence_database = $DB"
    for l in "$@"; do echo "$l"; done; } >"$f"
}
conf "$T/cmail.conf"
check_output "cmail-notary -n accepts the configuration and names the seal key id" \
  "OK: seal key id $KEY_ID" "$NOTARY" -n -c "$T/cmail.conf"

# --- refusal to start ----------------------------------------------------------------------------
cp "$T/seal.key" "$T/seal-0644.key"; chmod 644 "$T/seal-0644.key"
sed "s#^seal_key = .*#seal_key = $T/seal-0644.key#" "$T/cmail.conf" >"$T/bad1.conf"
check_output "refuses a seal key of mode 0644, naming the file and mode" \
  "fatal: seal_key $T/seal-0644.key: mode 0644 is group- or world-accessible" \
  "$NOTARY" -f -c "$T/bad1.conf"
check_fails "... and exits non-zero" "$NOTARY" -f -c "$T/bad1.conf"
cp "$T/pki/server.key" "$T/server-0640.key"; chmod 640 "$T/server-0640.key"
sed "s#^server_key = .*#server_key = $T/server-0640.key#" "$T/cmail.conf" >"$T/bad2.conf"
check_output "refuses a server key of mode 0640" "fatal: server_key .*mode 0640" \
  "$NOTARY" -n -c "$T/bad2.conf"
head -c 40 "$T/seal.key" >"$T/short.key"; chmod 600 "$T/short.key"
sed "s#^seal_key = .*#seal_key = $T/short.key#" "$T/cmail.conf" >"$T/bad3.conf"
check_output "refuses a seal key that is not 64 hex digits" "fatal: seal_key .*hexadecimal" \
  "$NOTARY" -n -c "$T/bad3.conf"
openssl genpkey -algorithm RSA -pkeyopt rsa_keygen_bits:2048 -out "$T/other.key" 2>/dev/null
chmod 600 "$T/other.key"
sed "s#^server_key = .*#server_key = $T/other.key#" "$T/cmail.conf" >"$T/bad4.conf"
check_output "refuses a server key that does not match the certificate" "does not match" \
  "$NOTARY" -n -c "$T/bad4.conf"
conf "$T/bad5.conf" "notary_colour = blue"
check_output "refuses an unknown parameter, naming file and line" "bad5.conf, line 8: unknown parameter" \
  "$NOTARY" -n -c "$T/bad5.conf"
[ ! -e "$SOCK" ] && ok "no socket left behind by the refused starts" || not_ok "socket exists"

# --- start ----------------------------------------------------------------------------------------
"$NOTARY" -f -c "$T/cmail.conf" >"$T/notary.log" 2>&1 &
NPID=$!
cm_on_exit "kill $NPID 2>/dev/null; wait $NPID 2>/dev/null"
for i in $(seq 50); do [ -S "$SOCK" ] && break; sleep 0.1; done
check_output "PING answers with the seal key id" "pong key_id=$KEY_ID cert_sha256=[0-9a-f]{64}" \
  "$NT" "$SOCK" ping
[ "$(stat -c %a "$SOCK")" = 660 ] && ok "socket mode 0660" || not_ok "socket mode $(stat -c %a "$SOCK")"
if [ "$NUSER" = nobody ]; then
  [ "$(ps -o user= -p $NPID)" = nobody ] && ok "notary runs as nobody after reading the keys as root" \
    || not_ok "notary runs as $(ps -o user= -p $NPID)"
  [ "$(stat -c %U "$DB")" = nobody ] && ok "journal created by the unprivileged notary" \
    || not_ok "journal owner $(stat -c %U "$DB")"
else
  grep -q "not started as root" "$T/notary.log" && ok "warns that it keeps its uid when not root" \
    || not_ok "no warning about privileges"
fi
[ "$(stat -c %a "$DB")" = 600 ] && ok "journal mode 0600" || not_ok "journal mode $(stat -c %a "$DB")"
grep -q "connect from pid=[0-9]* uid=$(id -u) gid=$(id -g)" "$T/notary.log" \
  && ok "peer credentials logged per connection" || not_ok "no peer credentials in the log"
check_output "a second notary refuses the socket in use" "another notary is listening" \
  "$NOTARY" -f -c "$T/cmail.conf"

# --- SEAL / UNSEAL 20 MB through passed descriptors ----------------------------------------------
head -c 20971520 /dev/urandom >"$T/plain"
check_output "SEAL of 20 MB" "seal ok in=20971520 out=20971580" "$NT" "$SOCK" seal ENV-20MB "$T/plain" "$T/sealed"
[ "$(head -c 7 "$T/sealed")" = CMSEAL1 ] && ok "sealed blob starts with CMSEAL1" || not_ok "magic"
[ "$(head -c 23 "$T/sealed" | tail -c 16)" = "$KEY_ID" ] && ok "key id in the clear" || not_ok "key id"
[ "$(head -c 32 "$T/sealed" | tail -c 8)" = ENV-20MB ] && ok "envelope id in the clear" || not_ok "envelope id"
check_output "UNSEAL of 20 MB" "unseal ok in=20971580 out=20971520" "$NT" "$SOCK" unseal ENV-20MB "$T/sealed" "$T/out"
check "unsealed bytes equal the original" cmp "$T/plain" "$T/out"
check_output "UNSEAL for another envelope id refused, as a permanent error" \
  "sealed for envelope id ENV-20MB.*\[permanent\]" "$NT" "$SOCK" unseal ENV-OTHER "$T/sealed" "$T/out2"
if [ -w /dev/full ]; then
  check_output "UNSEAL into a full disk (/dev/full) fails as a temporary error" \
    "write: No space left on device.*\[temporary\]" "$NT" "$SOCK" unseal ENV-20MB "$T/sealed" /dev/full
else
  skip "no /dev/full"
fi
cp "$T/sealed" "$T/flipped"
printf '\x55' | dd of="$T/flipped" bs=1 seek=10000000 conv=notrunc 2>/dev/null
check_output "UNSEAL of a blob with one changed byte refused" "authentication failed" \
  "$NT" "$SOCK" unseal ENV-20MB "$T/flipped" "$T/out3"
head -c 20000000 "$T/sealed" >"$T/trunc"
check_output "UNSEAL of a truncated blob refused" "authentication failed" \
  "$NT" "$SOCK" unseal ENV-20MB "$T/trunc" "$T/out4"
check_fails "SEAL with a bad envelope id refused" "$NT" "$SOCK" seal "bad/id" "$T/plain" "$T/out5"
check_output "SEAL of an endless input stops at the size limit" "input longer than [0-9]+ bytes" \
  "$NT" "$SOCK" seal ENV-ZERO /dev/zero /dev/null

# --- RECORD and cmail evidence --------------------------------------------------------------------
check_output "RECORD deposited -> row 1" "recorded seq=1 hash=[0-9a-f]{64}" \
  "$NT" "$SOCK" record ENV-E1 deposited recipient=bob@example.org notice_sha256=3dQ9EARH1Q5T
H1=$(grep -Eo 'hash=[0-9a-f]{64}' "$T/.out" | cut -d= -f2)
check_output "RECORD queued -> row 2" "recorded seq=2 " "$NT" "$SOCK" record ENV-E1 queued queue_id=ABC123
check_output "RECORD receipt-sent -> row 3" "recorded seq=3 " "$NT" "$SOCK" record ENV-E1 receipt-sent
check_output "RECORD deposited again, same details (a retry after a lost reply) -> row 1 again" \
  "recorded seq=1 hash=$H1" "$NT" "$SOCK" record ENV-E1 deposited recipient=bob@example.org notice_sha256=3dQ9EARH1Q5T
grep -q "RECORD id=[0-9]* envelope=ENV-E1 event=deposited: already journalled as seq=1" "$T/notary.log" \
  && ok "... logged as already journalled" || not_ok "no 'already journalled' log line"
check_output "RECORD of an unknown event refused" "unknown evidence event" "$NT" "$SOCK" record ENV-E1 deleted
check_output "RECORD with a duplicate detail key refused" "duplicate detail key" \
  "$NT" "$SOCK" record ENV-E1 queued a=1 a=2
check_output "RECORD with a control character refused" "printable" \
  "$NT" "$SOCK" record ENV-E1 queued "a=x$(printf '\t')y"
check_output "cmail evidence show lists the envelope's rows" \
  "^2 [0-9T:.-]+Z queued queue_id=ABC123 hash=[0-9a-f]{64}$" "$CMAIL" evidence show ENV-E1 --db "$DB"
[ "$(grep -c hash= "$T/.out")" = 3 ] && ok "... three rows" || not_ok "$(cat "$T/.out")"
grep -q "^1 .* deposited notice_sha256=3dQ9EARH1Q5T recipient=bob@example.org hash=$H1$" "$T/.out" \
  && ok "... details sorted, hash as RECORD answered" || not_ok "row 1: $(head -1 "$T/.out")"
check_output "cmail evidence check (config's evidence_database) passes" \
  "^evidence: 3 rows, chain intact$" "$CMAIL" evidence check -c "$T/cmail.conf"
check_fails "cmail evidence show of an unknown envelope fails" "$CMAIL" evidence show NOPE --db "$DB"
check_output "cmail evidence --help" "usage: cmail evidence show" "$CMAIL" evidence --help

# Recompute every row hash with sqlite3 and sha256sum (the format of cm_evidence.h).
prev=0000000000000000000000000000000000000000000000000000000000000000
bad=0
for seq in 1 2 3; do
  q() { sqlite3 -readonly "$DB" "SELECT $1 FROM evidence WHERE seq = $seq"; }
  details=$(sqlite3 -readonly "$DB" "SELECT hex(details) FROM evidence WHERE seq = $seq")
  dlen=$(( ${#details} / 2 ))
  want=$( { printf 'cmail-evidence-v1\nseq=%s\ntime=%s\nenvelope_id=%s\nevent=%s\nprev_hash=%s\ndetails_length=%s\n' \
              "$seq" "$(q time)" "$(q envelope_id)" "$(q event)" "$prev" "$dlen"
            perl -e 'print pack("H*", $ARGV[0])' "$details"
          } | sha256sum | cut -d' ' -f1)
  [ "$(q prev_hash)" = "$prev" ] && [ "$(q hash)" = "$want" ] || bad=$seq
  prev=$(q hash)
done
[ $bad = 0 ] && ok "row hashes and links recomputed with sqlite3 + sha256sum match" \
  || not_ok "row $bad does not match the independent recomputation"

# Tampering, on copies made with sqlite3 .backup while the notary runs.
sqlite3 "$DB" ".backup $T/edit.db"
sqlite3 "$T/edit.db" "UPDATE evidence SET details = 'queue_id=FORGED' || char(10) WHERE seq = 2"
check_output "edited row: cmail evidence check names row 2" "^evidence: row 2 broken: hash mismatch$" \
  "$CMAIL" evidence check --db "$T/edit.db"
check_fails "... and exits non-zero" "$CMAIL" evidence check --db "$T/edit.db"
sqlite3 "$DB" ".backup $T/del.db"
sqlite3 "$T/del.db" "DELETE FROM evidence WHERE seq = 2"
check_output "deleted middle row: check names row 3" "^evidence: row 3 broken: seq gap \(expected 2\)$" \
  "$CMAIL" evidence check --db "$T/del.db"

# --- hostile and broken frames: an ERROR reply, then the notary still serves -----------------------
hostile() {  # hostile TEXT HEX PATTERN
  check_output "$1: ERROR reply" "reply ERROR id=[0-9]+: (.*: )?$3" "$NT" "$SOCK" raw "$2"
  check_output "$1: PING still works" "^pong " "$NT" "$SOCK" ping
}
hostile "garbage bytes" "deadbeefdeadbeef" "frame too long"
hostile "oversized length" "7fffffff01010000000a" "frame too long"
hostile "short message" "00000003010101" "short message"
hostile "truncated frame" "000000640101000000050100" "truncated frame"
hostile "unknown type" "0000000601420000000c" "unknown message type 66"
hostile "wrong version" "0000000602010000000d" "unsupported protocol version 2"
hostile "trailing bytes" "0000000901010000000eaabbcc" "truncated field"
hostile "unknown field" "0000000b01010000000f0100000000" "unknown field 1"
hostile "duplicate field" "00000012010500000010010000000141010000000142" \
  "duplicate field ENVELOPE_ID"
hostile "field over its limit" \
  "000000540105000000110100000049$(printf '41%.0s' $(seq 73))" "field ENVELOPE_ID has 73 bytes"
hostile "field length past the end" "0000000e0105000000120100000100414243" "truncated field ENVELOPE_ID"
hostile "SEAL without descriptors" "0000000d01030000001301000000024142" "0 file descriptors, expected 2"
check_output "PING carrying a descriptor refused" "reply ERROR id=7: PING: 1 file descriptors" "$NT" "$SOCK" fds 1
kill -0 $NPID 2>/dev/null && ok "notary process alive after the hostile frames" || not_ok "notary died"

# --- notary_allowed_users (root only: the client runs as daemon through setpriv) --------------------
if [ "$NUSER" = nobody ] && command -v setpriv >/dev/null && id daemon >/dev/null 2>&1; then
  as_daemon() { setpriv --reuid=daemon --regid=daemon --clear-groups "$@"; }
  for who in 12345 daemon; do
    SOCK2=$RUN/allowed-$who.sock
    sed -e "s#^notary_socket = .*#notary_socket = $SOCK2#" "$T/cmail.conf" >"$T/allowed.conf"
    echo "notary_allowed_users = $who" >>"$T/allowed.conf"
    "$NOTARY" -f -c "$T/allowed.conf" >"$T/allowed-$who.log" 2>&1 &
    APID=$!
    for i in $(seq 50); do [ -S "$SOCK2" ] && break; sleep 0.1; done
    chmod 666 "$SOCK2"
    if [ $who = daemon ]; then
      check_output "notary_allowed_users = daemon: daemon's PING answered" "^pong " as_daemon "$NT" "$SOCK2" ping
    else
      check_fails "notary_allowed_users = 12345: daemon's PING refused" as_daemon "$NT" "$SOCK2" ping
      check_output "... root's PING still answered" "^pong " "$NT" "$SOCK2" ping
      grep -q "refused connection from pid=[0-9]* uid=1 .*notary_allowed_users" "$T/allowed-$who.log" \
        && ok "... the refusal is logged with the peer's uid" || not_ok "refusal not logged"
    fi
    kill $APID; wait $APID
  done
else
  skip "notary_allowed_users: needs root, setpriv and the daemon user"
fi

# --- concurrency ----------------------------------------------------------------------------------
check_output "8 concurrent clients x 200 PINGs all answered" "1600 requests on 8 connections, 0 failed" \
  "$NT" "$SOCK" parallel 8 200
"$NT" "$SOCK" seal ENV-P1 "$T/plain" "$T/p1" >"$T/p1.out" 2>&1 &
P1=$!
"$NT" "$SOCK" seal ENV-P2 "$T/plain" "$T/p2" >"$T/p2.out" 2>&1 &
P2=$!
for i in $(seq 20); do "$NT" "$SOCK" record ENV-C queued "n=$i" >/dev/null 2>&1 || echo fail; done >"$T/rec.out"
wait $P1 $P2
grep -q "seal ok" "$T/p1.out" && grep -q "seal ok" "$T/p2.out" && [ ! -s "$T/rec.out" ] \
  && ok "two 20 MB SEALs and 20 RECORDs at once all succeed" || not_ok "concurrent requests failed"
check_output "chain intact after concurrent appends" "^evidence: 23 rows, chain intact$" \
  "$CMAIL" evidence check --db "$DB"

# --- SIGN: the server signature at the DigitalPostmark, checked with xmlsec1 --------------------------
if [ -x "$NOTICE_TOOL" ] && command -v xmlsec1 >/dev/null \
   && "$NOTICE_TOOL" build deposit "$T/dep.xml" --envelope-id ENV-SIGN >/dev/null 2>&1; then
  check_output "SIGN a DepositNotice at the postmark" "^signed [0-9]+ bytes" \
    "$NT" "$SOCK" sign postmark "$T/dep.xml" "$T/dep-signed.xml"
  check "xmlsec1 --verify --trusted-pem accepts the notary's signature" \
    xmlsec1 --verify --trusted-pem "$T/pki/ca.pem" --node-xpath "//*[@Id='cmail-sig-1']" "$T/dep-signed.xml"
  sed 's/ENV-SIGN/ENV-EVIL/' "$T/dep-signed.xml" >"$T/dep-evil.xml"
  check_fails "xmlsec1 rejects the signed notice with its envelope id changed" \
    xmlsec1 --verify --trusted-pem "$T/pki/ca.pem" --node-xpath "//*[@Id='cmail-sig-1']" "$T/dep-evil.xml"
  check_output "SIGN at the wrong place refused" "goes in DigitalPostmark" \
    "$NT" "$SOCK" sign info "$T/dep.xml" "$T/x.xml"
  check_output "SIGN of an already fully signed notice refused" "at most 1 signature" \
    "$NT" "$SOCK" sign postmark "$T/dep-signed.xml" "$T/x.xml"
  printf '<?xml version="1.0"?>\n<!DOCTYPE x [<!ENTITY a "b">]>\n<x>&a;</x>\n' >"$T/dtd.xml"
  check_output "SIGN of a document with a DTD refused" "reply|SIGN: " "$NT" "$SOCK" sign postmark "$T/dtd.xml" "$T/x.xml"
  check_fails "... and exits non-zero" "$NT" "$SOCK" sign postmark "$T/dtd.xml" "$T/x.xml"
  echo '<Other xmlns="urn:x"/>' >"$T/other.xml"
  check_fails "SIGN of a non-notice refused" "$NT" "$SOCK" sign postmark "$T/other.xml" "$T/x.xml"
  check_output "PING still works after refused SIGNs" "^pong " "$NT" "$SOCK" ping
  # Countersignature (signature 3 of a SignedReceiptNotice) is a SIGN at the postmark too.
  if "$CMAIL" pki init "$T/pki2" --domain example.org --user alice@example.org >/dev/null 2>&1 \
     && U=$T/pki2/users/alice@example.org && cp "$T/pki2/ca.pem" "$T/ca2.pem" \
     && "$NOTICE_TOOL" build receipt "$T/r0.xml" --to alice@example.org --cert "$U.pem" --envelope-id ENV-R \
        >/dev/null 2>&1; then
    sed -e "s#^server_certificate = .*#server_certificate = $T/pki2/server.pem#" \
        -e "s#^server_key = .*#server_key = $T/pki2/server.key#" \
        -e "s#^notary_socket = .*#notary_socket = $RUN/cs.sock#" "$T/cmail.conf" >"$T/cs.conf"
    "$NOTARY" -f -c "$T/cs.conf" >"$T/cs.log" 2>&1 &
    CPID=$!
    for i in $(seq 50); do [ -S "$RUN/cs.sock" ] && break; sleep 0.1; done
    "$NT" "$RUN/cs.sock" sign postmark "$T/r0.xml" "$T/r1.xml" >/dev/null 2>&1 \
      && "$NOTICE_TOOL" promote "$T/r1.xml" "$T/r2.xml" >/dev/null 2>&1 \
      && "$NOTICE_TOOL" respond "$T/r2.xml" "$T/r3.xml" --answer "$(printf abc | base64)" >/dev/null 2>&1 \
      && "$NOTICE_TOOL" sign "$T/r3.xml" "$T/r4.xml" --key "$U.key" --cert "$U.pem" --place challenge \
        >/dev/null 2>&1
    check_output "countersign: SIGN of a recipient-signed receipt adds signature 3" "^signed " \
      "$NT" "$RUN/cs.sock" sign postmark "$T/r4.xml" "$T/r5.xml"
    check "xmlsec1 --verify accepts the countersignature (cmail-sig-3)" \
      xmlsec1 --verify --trusted-pem "$T/ca2.pem" --node-xpath "//*[@Id='cmail-sig-3']" "$T/r5.xml"
    check_output "cm_dsig_verify sees a server countersignature over the whole document" \
      "signature 3: DigitalPostmark, server countersignature, covers whole document, crypto ok, certificate ok" \
      "$NOTICE_TOOL" verify "$T/r5.xml" --ca "$T/ca2.pem" --crl "$T/pki2/crl.pem"
    kill $CPID; wait $CPID
  else
    skip "countersign: cmail pki init --user or notice_tool build receipt unavailable"
  fi
else
  skip "SIGN: notice_tool or xmlsec1 unavailable"
fi

# --- seal key rotation: a new seal key, the old one in seal_key_previous ---------------------------
"$NOTARY" -G "$T/seal2.key" >/dev/null
[ "$NUSER" = nobody ] && chown nobody "$T/seal2.key" 2>/dev/null
SOCK_SAVE=$SOCK; SOCK=$RUN/rot.sock
conf "$T/rot.conf" "seal_key_previous = $T/seal.key"
sed -i "s#^seal_key = .*#seal_key = $T/seal2.key#; s#^evidence_database = .*#evidence_database = $RUN/rot.db#" "$T/rot.conf"
check_output "cmail-notary -n lists the previous seal key as unseal-only" \
  "previous seal key id $KEY_ID \(unseals only\)" "$NOTARY" -n -c "$T/rot.conf"
"$NOTARY" -f -c "$T/rot.conf" >"$T/rot.log" 2>&1 &
RPID=$!
cm_on_exit "kill $RPID 2>/dev/null"
for i in $(seq 50); do [ -S "$SOCK" ] && break; sleep 0.1; done
NEWID=$("$NT" "$SOCK" ping 2>/dev/null | sed -n 's/.*key_id=\([0-9a-f]*\).*/\1/p')
[ -n "$NEWID" ] && [ "$NEWID" != "$KEY_ID" ] && ok "after rotation PING names the new seal key" \
  || not_ok "PING key id after rotation: '$NEWID'"
check_output "a blob sealed under the previous key still unseals" "unseal ok in=20971580 out=20971520" \
  "$NT" "$SOCK" unseal ENV-20MB "$T/sealed" "$T/out-rot"
check "... to the same bytes" cmp "$T/plain" "$T/out-rot"
head -c 1000 /dev/urandom >"$T/small"
"$NT" "$SOCK" seal ENV-NEW "$T/small" "$T/sealed-new" >/dev/null 2>&1
[ "$(head -c 23 "$T/sealed-new" | tail -c 16)" = "$NEWID" ] && ok "new blobs are sealed under the new key" \
  || not_ok "new blob key id $(head -c 23 "$T/sealed-new" | tail -c 16)"
kill $RPID; wait $RPID 2>/dev/null
conf "$T/rot2.conf"
sed -i "s#^seal_key = .*#seal_key = $T/seal2.key#; s#^evidence_database = .*#evidence_database = $RUN/rot.db#" "$T/rot2.conf"
"$NOTARY" -f -c "$T/rot2.conf" >"$T/rot2.log" 2>&1 &
RPID=$!
cm_on_exit "kill $RPID 2>/dev/null"
for i in $(seq 50); do [ -S "$SOCK" ] && break; sleep 0.1; done
check_output "without seal_key_previous the old blob is refused, naming its key id" \
  "sealed under key id $KEY_ID.*\[permanent\]" "$NT" "$SOCK" unseal ENV-20MB "$T/sealed" "$T/out-rot2"
kill $RPID; wait $RPID 2>/dev/null
SOCK=$SOCK_SAVE

# --- stop -----------------------------------------------------------------------------------------
kill -TERM $NPID
wait $NPID
rc=$?
[ $rc = 0 ] && ok "SIGTERM: notary exits 0" || not_ok "SIGTERM: exit status $rc"
[ ! -e "$SOCK" ] && ok "socket removed at exit" || not_ok "socket left behind"
grep -q "stopped" "$T/notary.log" && ok "log says stopped" || not_ok "no 'stopped' in the log"
grep -q "warning: pid=.*refused frame.*frame too long" "$T/notary.log" \
  && ok "refused frames are logged as warnings" || not_ok "refused frames not logged"
cm_done
