#!/usr/bin/env bash
# test/shell/milter.sh - cmail-milter in a real Postfix, with the real cmail-notary:
# on the public listener ordinary mail passes and is delivered, while fake X-Cmail
# headers, sealed parts without a stored form, stored forms sealed under another key
# and edited stored forms are refused 550 5.7.1 at end of DATA; a genuine stored form
# passes. On the injection listener (milter_macro_daemon_name=cmail-inject) a genuine
# stored form is queued and journalled "queued" with Postfix's queue id, while extra,
# missing or duplicate envelope recipients and non-stored-forms are refused; a dead
# notary gives 451 4.3.0; no temporary file is left in the spool directory. Also: the
# same rules for sendmail(1) (non_smtpd_milters), the negotiated milter options, eight
# concurrent injections, a 5 MB stored form, a second milter on a TCP socket with a tiny
# message_size_limit, and Postfix deferring mail while the milter is down.
# MILTER_WRAPPER (e.g. "valgrind --leak-check=full --errors-for-leak-kinds=definite,indirect
# --error-exitcode=9"; libmilter leaves its threads' stacks "possibly lost") runs the milter under
# a wrapper; its exit status is checked when the milter is stopped.
. "$top_srcdir/test/shell/lib.sh"
. "$top_srcdir/test/shell/lib_mta.sh"

MILTER=$top_builddir/milter/cmail-milter
NOTARY=$top_builddir/notary/cmail-notary
SFT=$top_builddir/test/tools/storedform_tool
SAMPLE=$top_srcdir/schemas/samples/signed-deposit-notice.xml
PATH=$PATH:/usr/sbin

if ! command -v postfix >/dev/null; then
    skip "Postfix is not installed (Debian package postfix)"; cm_done; exit 0
fi
if [ "$(id -u)" -ne 0 ]; then
    skip "needs root to run a private Postfix"; cm_done; exit 0
fi
if [ ! -x "$MILTER" ]; then
    skip "cmail-milter not built (configure found no libmilter-dev)"; cm_done; exit 0
fi
HAVE_DOVECOT=1
command -v dovecot >/dev/null || HAVE_DOVECOT=

# --- keys, configuration, notary, milter --------------------------------------
P=$T/pki
"$CMAIL" pki init "$P" --domain example.org >"$T/pki.out" 2>&1 ||
    { not_ok "cmail pki init"; sed 's/^/# /' "$T/pki.out"; cm_done; exit 1; }
"$NOTARY" -G "$T/seal.key" >/dev/null || { not_ok "cmail-notary -G"; cm_done; exit 1; }
check "a second seal key (not the notary's) made with cm_seal_key_generate" \
    "$SFT" genkey "$T/other.key"
mkdir -p "$T/spool" "$T/msock"
chmod 0755 "$T/msock"
MSOCK=$T/msock/milter.sock
cat >"$T/cmail.conf" <<EOC
myhostname = mail.example.org
local_domains = example.org
server_certificate = $P/server.pem
server_key = $P/server.key
seal_key = $T/seal.key
notary_socket = $T/notary.sock
notary_user = root
evidence_database = $T/evidence.db
spool_directory = $T/spool
milter_socket = unix:$MSOCK
milter_socket_mode = 0666
EOC

check_output "cmail-milter -n accepts the configuration" "configuration OK: socket unix:$MSOCK" \
    "$MILTER" -n -c "$T/cmail.conf"
sed 's/^milter_socket_mode = .*/milter_socket_mode = 0999/' "$T/cmail.conf" >"$T/bad.conf"
"$MILTER" -n -c "$T/bad.conf" >"$T/.out" 2>&1
rc=$?
if [ "$rc" -eq 78 ] && grep -q "milter_socket_mode: not an octal mode" "$T/.out"; then
    ok "cmail-milter -n refuses a bad milter_socket_mode with EX_CONFIG"
else
    not_ok "cmail-milter -n with a bad socket mode: exit $rc"; sed 's/^/# /' "$T/.out"
fi
sed "s#^spool_directory = .*#spool_directory = $T/nonexistent#" "$T/cmail.conf" >"$T/bad2.conf"
check_output "cmail-milter -n refuses a spool directory it cannot write" "spool_directory: create" \
    "$MILTER" -n -c "$T/bad2.conf"
check_output "cmail-milter with stray arguments prints its usage" "usage: cmail-milter" \
    "$MILTER" -n -c "$T/cmail.conf" extra

"$NOTARY" -f -c "$T/cmail.conf" >"$T/notary.log" 2>&1 &
NOTARY_PID=$!
cm_on_exit 'kill $NOTARY_PID 2>/dev/null; wait $NOTARY_PID 2>/dev/null'
for i in $(seq 100); do [ -S "$T/notary.sock" ] && break; sleep 0.1; done
[ -S "$T/notary.sock" ] || { not_ok "notary did not start"; sed 's/^/# /' "$T/notary.log"; cm_done; exit 1; }

${MILTER_WRAPPER:-} "$MILTER" -f -v -c "$T/cmail.conf" -L "$T/milter.log" >"$T/milter.out" 2>&1 &
MILTER_PID=$!
cm_on_exit 'kill $MILTER_PID 2>/dev/null; wait $MILTER_PID 2>/dev/null'
for i in $(seq 100); do [ -S "$MSOCK" ] && break; sleep 0.1; done
check "the milter listens on its unix socket" test -S "$MSOCK"
check_output "the socket has milter_socket_mode 0666" "^666$" stat -c %a "$MSOCK"

# A second milter on a TCP socket, with a tiny message_size_limit (it buffers at most
# 4/3 of it plus 1 MB of a message that may be a stored form).
mta_free_port SMALL_MILTER_PORT && mta_free_port SMALL_PORT ||
    { not_ok "no free port"; cm_done; exit 1; }
{ cat "$T/cmail.conf"; echo "message_size_limit = 1000"; } >"$T/small.conf"
"$MILTER" -f -c "$T/small.conf" -p "inet:$SMALL_MILTER_PORT@127.0.0.1" -L "$T/small.log" \
    >"$T/small.out" 2>&1 &
SMALL_PID=$!
cm_on_exit 'kill $SMALL_PID 2>/dev/null; wait $SMALL_PID 2>/dev/null'
check "a second milter listens on inet:$SMALL_MILTER_PORT@127.0.0.1" mta_wait_port "$SMALL_MILTER_PORT"

# --- Postfix with the milter on the public and the injection listener ------------
mta_free_port INJ_PORT || { not_ok "no free port"; cm_done; exit 1; }
POSTFIX_EXTRA_MAIN="smtpd_milters = unix:$MSOCK
non_smtpd_milters = unix:$MSOCK
milter_default_action = tempfail"
POSTFIX_EXTRA_MASTER="127.0.0.1:$INJ_PORT inet n - n - - smtpd
  -o milter_macro_daemon_name=cmail-inject
  -o smtpd_milters=unix:$MSOCK
127.0.0.1:$SMALL_PORT inet n - n - - smtpd
  -o smtpd_milters=inet:127.0.0.1:$SMALL_MILTER_PORT"
check "mta_users alice bob carol" mta_users alice bob carol
if [ -n "$HAVE_DOVECOT" ]; then
    check "Dovecot starts" dovecot_start
else
    skip "mailbox checks: Dovecot is not installed"
fi
check "Postfix starts" postfix_start
mta_wait_port "$INJ_PORT" || not_ok "injection listener did not come up"
INJ=127.0.0.1:$INJ_PORT

# reply_is TEXT PATTERN: the last smtp_send output matches PATTERN
last_reply() { cat "$T/.reply"; }
send() {  # send FROM RCPTS FILE [HOST:PORT] -> reply in $T/.reply, status as smtp_send
    smtp_send "$@" >"$T/.reply" 2>&1
}
expect_reply() {  # expect_reply TEXT PATTERN
    if grep -Eq -- "$2" "$T/.reply"; then ok "$1"; else
        not_ok "$1 (reply: $(last_reply))"; tail -5 "$T/milter.log" | sed 's/^/# milter: /'
    fi
}
milter_log_has() {  # milter_log_has TEXT PATTERN
    if grep -Eq -- "$2" "$T/milter.log"; then ok "$1"; else
        not_ok "$1 (no /$2/ in the milter log)"; tail -5 "$T/milter.log" | sed 's/^/# /'
    fi
}
qid_of() { sed -n 's/.*queued as \([0-9A-Za-z]*\).*/\1/p' "$T/.reply"; }

# --- (a) ordinary mail passes untouched ---------------------------------------
cat >"$T/plain.eml" <<EOF
From: Carol <carol@example.org>
To: Bob <bob@example.org>
Subject: ordinary mail
Message-ID: <plain-$$@example.org>

Hello Bob, this is plain mail. It even talks about X-Cmail-Delivery-Type
headers in its text, which is not a header.
EOF
send carol@example.org bob@example.org "$T/plain.eml"
expect_reply "(a) ordinary mail is accepted on the public listener" "^250 .*queued as"
if [ -n "$HAVE_DOVECOT" ]; then
    check "(a) ... and delivered to bob's mailbox" wait_for_mail bob 1
    check "(a) ... untouched (no header added by the milter)" \
        grep -q "^Subject: ordinary mail" $(ls "$(mta_maildir bob)"/new/* | head -1)
else
    skip "mailbox checks: Dovecot is not installed"
fi
milter_log_has "Postfix sends {daemon_name} with MAIL FROM (SMFIF_SETSYMLIST negotiated)" \
    "negotiate: .*macros by MAIL FROM"
steps=$(sed -n 's/.*negotiate: .*ours actions \(0x[0-9a-f]*\) steps \(0x[0-9a-f]*\).*/\1 \2/p' \
    "$T/milter.log" | head -1)
acts=${steps% *} steps=${steps#* }
# NOCONNECT 0x1, NOHELO 0x2, NOEOH 0x40, NR_HDR 0x80, NODATA 0x200, NR_RCPT 0x8000, NR_BODY 0x80000
if [ -n "$steps" ] && [ $((steps & 0x882c3)) -eq $((0x882c3)) ] && [ $((acts & ~0x100)) -eq 0 ]; then
    ok "negotiated: no connect/HELO/DATA/EOH events, no replies to RCPT/header/body, no modifications"
else
    not_ok "negotiated actions '$acts' steps '$steps'"
fi

# --- (b) fake X-Cmail headers --------------------------------------------------
cat >"$T/fake.eml" <<EOF
From: Mallory <carol@example.org>
To: Bob <bob@example.org>
Subject: certified, honestly
X-Cmail-Delivery-Type: CertifiedMail
Message-ID: <fake-$$@example.org>

Trust me.
EOF
send carol@example.org bob@example.org "$T/fake.eml"
expect_reply "(b) a fake X-Cmail-Delivery-Type header is refused 550 5.7.1" "^550 5\.7\.1 "
milter_log_has "(b) ... and the refusal is logged with the queue id and the client" \
    "[0-9A-F]+: reject: not a valid Cmail stored form.*; client=127\.0\.0\.1$"
sed 's/^X-Cmail-Delivery-Type: CertifiedMail/x-cMAIL-envelope-id: 20261125T080000Z.0000/' \
    "$T/fake.eml" >"$T/fake2.eml"
send carol@example.org bob@example.org "$T/fake2.eml"
expect_reply "(b) a lower-case x-cmail-envelope-id header is refused 550 5.7.1" "^550 5\.7\.1 "

sed 's/^X-Cmail-Delivery-Type: CertifiedMail/X-Cmail-Receipt: yes/' "$T/fake.eml" >"$T/fake3.eml"
send carol@example.org bob@example.org "$T/fake3.eml"
expect_reply "(b) any other X-Cmail-* header is refused 550 5.7.1" "^550 5\.7\.1 .*unexpected header field X-Cmail-Receipt"

# --- non_smtpd_milters: local submission with sendmail(1) -------------------------
sendmail -C "$POSTFIX_CONF" -f alice@example.org bob@example.org <"$T/fake.eml"
# Postfix bounces a message from sendmail(1) that a non_smtpd milter rejects (cleanup logs it).
if mta_wait_log "$POSTFIX_LOG" "dsn=5\.7\.1, status=bounced \(Cmail: not a valid Cmail stored form" 10; then
    ok "(b) a fake X-Cmail header submitted with sendmail(1) is refused 5.7.1 (non_smtpd_milters)"
else
    not_ok "(b) sendmail(1) submission with a fake X-Cmail header not refused"
    grep -E "cleanup|pickup" "$POSTFIX_LOG" | tail -5 | sed 's/^/# /'
fi
sendmail -C "$POSTFIX_CONF" -f alice@example.org bob@example.org <"$T/plain.eml"
if [ -n "$HAVE_DOVECOT" ]; then
    check "an ordinary message submitted with sendmail(1) is delivered" wait_for_mail bob 2
else
    skip "mailbox checks: Dovecot is not installed"
fi

# --- sealed parts without a stored form -----------------------------------------
cat >"$T/part.eml" <<EOF
From: Mallory <carol@example.org>
To: Bob <bob@example.org>
Subject: a sealed part, no Cmail headers
MIME-Version: 1.0
Content-Type: multipart/mixed; boundary="b1"

--b1
Content-Type: text/plain

see attachment
--b1
Content-Type: APPLICATION/X-CMAIL-SEALED; name="x.bin"
Content-Transfer-Encoding: base64

Q01TRUFMMQ==
--b1--
EOF
send carol@example.org bob@example.org "$T/part.eml"
expect_reply "an application/x-cmail-sealed part (upper case) without Cmail headers is refused 5.7.1" \
    "^550 5\.7\.1 .*sealed Cmail part"
# The type deep in a large body (past Postfix's first body chunk).
{ sed -n '1,/^see attachment/p' "$T/part.eml"
  for i in $(seq 2000); do echo "filler line $i filler filler filler filler filler"; done
  sed -n '/^--b1$/,$p' "$T/part.eml" | tail -n +2 | sed '1s/^/--b1\n/'; } >"$T/part-big.eml"
send carol@example.org bob@example.org "$T/part-big.eml"
expect_reply "... also 100 KB into the body" "^550 5\.7\.1 .*sealed Cmail part"

# --- stored forms ---------------------------------------------------------------
cat >"$T/envelope.eml" <<EOF
From: Alice <alice@example.org>
To: Bob <bob@example.org>, Carol <carol@example.org>
Subject: the contract
Date: Wed, 25 Nov 2026 08:00:00 +0000
Message-ID: <contract-$$@example.org>
MIME-Version: 1.0
Content-Type: application/pkcs7-mime; smime-type=enveloped-data

(ciphertext stands here)
EOF
# notice ENVID FILE ADDR... : the sample SignedDepositNotice, one "to" Entity per ADDR
notice() {
    local id=$1 f=$2
    sed -e "s/EnvelopeId=\"sample-1\"/EnvelopeId=\"$id\"/" \
        -e "s/EmailAddress=\"bob@example.org\"/EmailAddress=\"$4\"/" \
        -e "s/EmailAddress=\"alice@example.org\" Type=\"from\"/EmailAddress=\"$3\" Type=\"to\"/" \
        "$SAMPLE" >"$f"
}
ENVID=20261125T080000Z.00112233aabbccdd
notice "$ENVID" "$T/notice.xml" bob@example.org carol@example.org
check "the test notice names bob and carol as \"to\" entities" \
    test "$(grep -Eo 'EmailAddress="(bob|carol)@example.org" Type="to"' "$T/notice.xml" | wc -l)" -eq 2
check "a genuine stored form sealed by the notary (storedform_tool)" \
    "$SFT" make --envelope-id "$ENVID" --notice "$T/notice.xml" --envelope "$T/envelope.eml" \
    --from alice@example.org --notary "$T/notary.sock" "$T/stored.eml"
check "the stored form carries the sealed part" grep -q "^Content-Type: application/x-cmail-sealed" \
    "$T/stored.eml"

# (c) sealed under another key
ENVID2=20261125T080000Z.ffeeddcc00000002
notice "$ENVID2" "$T/notice2.xml" bob@example.org carol@example.org
"$SFT" make --envelope-id "$ENVID2" --notice "$T/notice2.xml" --envelope "$T/envelope.eml" \
    --from alice@example.org --seal-key "$T/other.key" "$T/forged.eml" ||
    not_ok "storedform_tool with another seal key"
send alice@example.org bob@example.org,carol@example.org "$T/forged.eml"
expect_reply "(c) a stored form sealed under another seal key is refused 550 5.7.1" \
    "^550 5\.7\.1 .*another seal key"
milter_log_has "(c) ... logged with the envelope id" "envelope $ENVID2: reject: sealed under another seal key"

# An edited stored form: one base64 character of the ciphertext changed (third line).
awk 'BEGIN { s = 0 } /^Content-Type: application\/x-cmail-sealed/ { s = 1 }
     s == 1 && /^\r?$/ { s = 2; print; next }
     s == 2 && length($0) > 40 && ++n == 3 { c = substr($0, 20, 1); r = (c == "A") ? "B" : "A";
         $0 = substr($0, 1, 19) r substr($0, 21) }
     { print }' "$T/stored.eml" >"$T/edited.eml"
check "the edited copy differs from the stored form" test "$(cmp -s "$T/stored.eml" "$T/edited.eml"; echo $?)" = 1
send alice@example.org bob@example.org,carol@example.org "$T/edited.eml"
expect_reply "an edited stored form is refused 550 5.7.1 (the seal does not verify)" \
    "^550 5\.7\.1 .*seal does not verify"
# Injected header: a second X-Cmail-Envelope-Id in front of a genuine stored form.
{ echo "X-Cmail-Envelope-Id: $ENVID2"; cat "$T/stored.eml"; } >"$T/dup.eml"
send alice@example.org bob@example.org "$T/dup.eml"
expect_reply "a genuine stored form with a second X-Cmail-Envelope-Id is refused 5.7.1" \
    "^550 5\.7\.1 .*duplicate X-Cmail"

# A genuine stored form passes the public listener too (it verifies), untouched.
send alice@example.org bob@example.org "$T/stored.eml"
expect_reply "a genuine stored form passes the public listener (verified)" "^250 .*queued as"
milter_log_has "... logged as verified" "envelope $ENVID: verified stored form passed"
n=$(grep -c "envelope $ENVID: verified stored form passed" "$T/milter.log")
sendmail -C "$POSTFIX_CONF" -f alice@example.org bob@example.org <"$T/stored.eml"
for i in $(seq 100); do
    [ "$(grep -c "envelope $ENVID: verified stored form passed" "$T/milter.log")" -gt "$n" ] && break
    sleep 0.1
done
if [ "$(grep -c "envelope $ENVID: verified stored form passed" "$T/milter.log")" -gt "$n" ]; then
    ok "a genuine stored form submitted with sendmail(1) is verified and passes (non_smtpd_milters)"
else
    not_ok "a genuine stored form submitted with sendmail(1) was not verified"
fi
sendmail -C "$POSTFIX_CONF" -f alice@example.org bob@example.org <"$T/forged.eml"
if mta_wait_log "$POSTFIX_LOG" "dsn=5\.7\.1, status=bounced \(Cmail: sealed under another seal key" 10; then
    ok "a stored form under another key submitted with sendmail(1) is refused 5.7.1"
else
    not_ok "sendmail(1) submission of a stored form under another key not refused"
fi

# --- (d) the injection listener ------------------------------------------------
send alice@example.org bob@example.org,carol@example.org "$T/stored.eml" "$INJ"
expect_reply "(d) a genuine stored form is accepted on the injection listener" "^250 .*queued as"
QID=$(qid_of)
milter_log_has "(d) ... logged \"QID: envelope ID: queued, 2 recipients\"" \
    "${QID:-none}: envelope $ENVID: queued, 2 recipients"
check_output "(d) ... the journal holds a queued row with the Postfix queue id" \
    "queued .*queue_id=${QID:-none}" "$CMAIL" evidence show "$ENVID" --db "$T/evidence.db"
check_output "(d) ... and the number of recipients" "queued .*nrcpt=2" \
    "$CMAIL" evidence show "$ENVID" --db "$T/evidence.db"
check "(d) the journal's hash chain is intact" "$CMAIL" evidence check --db "$T/evidence.db"
if [ -n "$HAVE_DOVECOT" ]; then
    check "(d) ... delivered to carol's mailbox" wait_for_mail carol 1
    f=$(ls "$(mta_maildir carol)"/new/* 2>/dev/null | head -1)
    check "(d) ... which holds the stored form with its envelope id" \
        grep -q "^X-Cmail-Envelope-Id: $ENVID" "${f:-/dev/null}"
else
    skip "mailbox checks: Dovecot is not installed"
fi
# nrows: the number of queued rows of $ENVID (the journal read is retried if it fails)
nrows() {
    local i
    for i in 1 2 3 4 5; do
        if "$CMAIL" evidence show "$ENVID" --db "$T/evidence.db" >"$T/rows" 2>&1; then
            grep -c " queued " "$T/rows"
            return 0
        fi
        sleep 0.2
    done
    echo "evidence show failed: $(head -1 "$T/rows")"
}
ROWS=$(nrows)

# (e) envelope recipients that are not the sealed entities
send alice@example.org bob@example.org,carol@example.org,alice@example.org "$T/stored.eml" "$INJ"
expect_reply "(e) an extra envelope recipient is refused 550 5.7.1" \
    "^550 5\.7\.1 .*recipients do not match the sealed entities"
milter_log_has "(e) ... logged with the queue id" \
    "[0-9A-F]+: envelope $ENVID: reject: recipients do not match the sealed entities"
send alice@example.org bob@example.org,bob@example.org "$T/stored.eml" "$INJ"
expect_reply "(e) a duplicated recipient in place of another is refused 550 5.7.1" \
    "^550 5\.7\.1 .*recipients do not match"
send alice@example.org alice@example.org "$T/stored.eml" "$INJ"
expect_reply "(e) a recipient that is no sealed entity is refused 550 5.7.1" \
    "^550 5\.7\.1 .*recipients do not match"
n=$(nrows)
check "(e) no queued row was added by the refused messages ($n = $ROWS)" test "$n" = "$ROWS"
# A share of the entities is fine: cmtpd submits the local and the remote recipients of one
# deposit to two listeners (the remote ones to cmail-relay's).
send alice@example.org bob@example.org "$T/stored.eml" "$INJ"
expect_reply "(e) a share of the sealed entities (one of two) is accepted" "^250 .*queued as"
ROWS=$(nrows)
send carol@example.org bob@example.org "$T/plain.eml" "$INJ"
expect_reply "an ordinary message on the injection listener is refused 550 5.7.1" \
    "^550 5\.7\.1 .*not a valid Cmail stored form"
send alice@example.org bob@example.org,carol@example.org "$T/forged.eml" "$INJ"
expect_reply "a stored form under another key on the injection listener is refused 5.7.1" \
    "^550 5\.7\.1 .*another seal key"

# --- concurrency and size -----------------------------------------------------------
# Eight stored forms at once on the injection listener: eight milter threads, eight notary
# clients, eight queued rows.
pids=
for i in 1 2 3 4 5 6 7 8; do
    smtp_send alice@example.org bob@example.org,carol@example.org "$T/stored.eml" "$INJ" \
        >"$T/par.$i" 2>&1 &
    pids="$pids $!"
done
wait $pids    # only the senders: the notary and the milter run in the background too
n_ok=$(cat "$T"/par.* | grep -c "^250 .*queued as")
check "eight concurrent injections are all accepted ($n_ok/8)" test "$n_ok" -eq 8
check "... and each has its queued row" test "$(nrows)" -eq $((ROWS + 8))
ROWS=$(nrows)
# A 4 MB ENVELOPE: the stored form streams through the body callback in many chunks.
ENVID3=20261125T080000Z.0000000000000big
{ sed -n '1,/^$/p' "$T/envelope.eml"; head -c 3000000 /dev/urandom | base64 -w 76; } >"$T/big-envelope.eml"
notice "$ENVID3" "$T/notice3.xml" bob@example.org carol@example.org
"$SFT" make --envelope-id "$ENVID3" --notice "$T/notice3.xml" --envelope "$T/big-envelope.eml" \
    --from alice@example.org --notary "$T/notary.sock" "$T/big.eml" || not_ok "storedform_tool (big)"
send alice@example.org bob@example.org,carol@example.org "$T/big.eml" "$INJ"
expect_reply "a stored form of $(($(stat -c %s "$T/big.eml") / 1000000)) MB is accepted on the injection listener" \
    "^250 .*queued as"
check_output "... and journalled queued" "queued .*queue_id=$(qid_of)" \
    "$CMAIL" evidence show "$ENVID3" --db "$T/evidence.db"

# The milter with message_size_limit = 1000: a small stored form still verifies, the big
# one is refused without being buffered whole; ordinary mail of any size is not buffered.
send alice@example.org bob@example.org "$T/stored.eml" "127.0.0.1:$SMALL_PORT"
expect_reply "through the TCP milter a genuine stored form passes" "^250 .*queued as"
send alice@example.org bob@example.org "$T/big.eml" "127.0.0.1:$SMALL_PORT"
expect_reply "a stored form over 4/3 message_size_limit + 1 MB is refused 5.7.1" \
    "^550 5\.7\.1 .*too large to verify"
{ sed -n '1,/^$/p' "$T/plain.eml"; head -c 3000000 /dev/urandom | base64 -w 76; } >"$T/plain-big.eml"
send carol@example.org bob@example.org "$T/plain-big.eml" "127.0.0.1:$SMALL_PORT"
expect_reply "... while an ordinary 4 MB message passes (scanned, not buffered)" "^250 .*queued as"

# --- a notary that does not answer: tempfail, never accept ----------------------
kill "$NOTARY_PID"; wait "$NOTARY_PID" 2>/dev/null
send alice@example.org bob@example.org,carol@example.org "$T/stored.eml" "$INJ"
expect_reply "without the notary a genuine stored form gets 451 4.3.0" "^451 4\.3\.0 "
milter_log_has "... logged as tempfail" "envelope $ENVID: tempfail: notary"
send carol@example.org bob@example.org "$T/plain.eml"
expect_reply "without the notary ordinary mail still passes (the notary is not asked)" "^250 "
check "no queued row was added while the notary was down" test "$(nrows)" = "$ROWS"

# --- nothing left behind, and a dead milter defers mail -----------------------------
check "no temporary file left in the spool directory" test -z "$(ls -A "$T/spool")"
kill "$MILTER_PID"; wait "$MILTER_PID" 2>/dev/null
rc=$?
check "the milter exits 0 on SIGTERM${MILTER_WRAPPER:+ (under $MILTER_WRAPPER)}" test "$rc" -eq 0
check "the milter removes its socket when stopped" test ! -e "$MSOCK"
send carol@example.org bob@example.org "$T/plain.eml"
expect_reply "with the milter down, Postfix defers (milter_default_action = tempfail)" "^4[0-9][0-9] "

cm_done
