#!/usr/bin/env bash
# test/shell/deliver_dedup.sh - the delivery plugin cmail_deliver (dovecot-plugin/
# cmail-deliver-plugin.c) in Dovecot's lmtp, on the real stack of lib_cmail.sh
# (Postfix delivering to Dovecot over LMTP, the CPOP plugin in pop3):
#   - a certified message (stored form) delivered again through LMTP is answered
#     250 and not saved again: from the delivery record (~/cmail-delivered/HASH),
#     also after the recipient fetched and deleted it; from the mailbox itself
#     when a delivery was cut off between its save and its record (HASH.pending
#     left); and delivered when it was cut off before the save (HASH.pending left,
#     the message not in the mailbox);
#   - in one LMTP transaction for bob (has it) and carol (has not): carol gets one
#     copy, bob none; a second certified message is delivered normally;
#   - ordinary mail is untouched: the same Message-ID twice is saved twice, also
#     one that starts like a receipt notice mail's but is not one;
#   - the same receipt notice mail delivered by six LMTP sessions at once: one copy;
#   - real receipt notice mails (bob answers with cmail fetch): the Message-ID is
#     <cmail-receipt.ENVID.HASH@example.org>, fixed per answer; the same mail
#     submitted again through Postfix reaches alice's mailbox once;
#   - two CPOP sessions of bob answering the same messages at once: each receipt
#     notice mail is in alice's mailbox exactly once (the submissions are counted
#     and reported: two sessions may both mail it).
. "$top_srcdir/test/shell/lib.sh"
. "$top_srcdir/test/shell/lib_mta.sh"
. "$top_srcdir/test/shell/lib_cmail.sh"

CMAIL_CPOP=yes
DELIVER_PLUGIN=$top_builddir/dovecot-plugin/lib95_cmail_deliver_plugin.so
missing=$(cmail_stack_missing)
[ -z "$missing" ] && [ ! -f "$DELIVER_PLUGIN" ] && missing=$DELIVER_PLUGIN
[ -z "$missing" ] && ! command -v python3 >/dev/null && missing=python3
if [ -n "$missing" ]; then skip "needs $missing"; cm_done; exit 0; fi

mta_init || { not_ok "mta_init"; cm_done; exit 1; }
DOVECOT_SSL_CERT=$T/pki/server.pem
DOVECOT_SSL_KEY=$T/pki/server.key
# The delivery plugin in lmtp (unless lib_cmail.sh loads it already).
if ! grep -q cmail_deliver "$top_srcdir/test/shell/lib_cmail.sh"; then
  mkdir -p "$T/modules" && chmod 0755 "$T/modules"
  install -m 0644 "$DELIVER_PLUGIN" "$T/modules/"
  DOVECOT_EXTRA_CONF="protocol lmtp {
  mail_plugins = \$mail_plugins cmail_deliver
}"
fi
if ! cmail_stack_start; then not_ok "the Cmail stack starts"; mta_log_tail 40; cm_done; exit 1; fi
ok "the Cmail stack starts with cmail_deliver in lmtp"

# lmtp FROM RCPT[,RCPT...] FILE: one LMTP transaction on Dovecot's socket; prints
# one line per recipient: "RCPT CODE"
cat > "$T/lmtp.py" <<'EOF'
import socket, sys
path, sender, rcpts, fname = sys.argv[1], sys.argv[2], sys.argv[3].split(','), sys.argv[4]
s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
s.settimeout(90)
s.connect(path)
f = s.makefile('rb')
def reply():
    while True:
        line = f.readline().decode('ascii', 'replace')
        if not line:
            raise SystemExit('connection closed')
        if line[3:4] != '-':
            return line[:3]
def cmd(c):
    s.sendall(c.encode() + b'\r\n')
    return reply()
reply()
cmd('LHLO test.example.org')
cmd('MAIL FROM:<%s>' % sender)
ok = [r for r in rcpts if cmd('RCPT TO:<%s>' % r) == '250']
if cmd('DATA') != '354':
    raise SystemExit('DATA refused')
data = open(fname, 'rb').read().replace(b'\r\n', b'\n').split(b'\n')
if data and data[-1] == b'':
    data.pop()
out = b''.join((b'.' + l if l.startswith(b'.') else l) + b'\r\n' for l in data) + b'.\r\n'
s.sendall(out)
for r in ok:
    print(r, reply())
cmd('QUIT')
EOF
lmtp() { python3 "$T/lmtp.py" "$DOVECOT_LMTP" "$@"; }
mta_pass bob > "$T/bob.pw"
# fetch ARGS...: cmail fetch as bob over implicit TLS (the Cmail CA also issued
# Dovecot's TLS certificate)
fetch() {
  "$CMAIL" fetch --server "127.0.0.1:$DOVECOT_POP3_PORT" --implicit-tls --server-name mail.example.org \
    --user bob@example.org --password-file "$T/bob.pw" --cert "$P/users/bob@example.org.pem" \
    --key "$P/users/bob@example.org.key" --ca "$P/ca.pem" --crl "$P/crl.pem" --timeout 30 "$@"
}
RECDIR=$(mta_maildir bob)/cmail-delivered
# record KEY: bob's record file of KEY (the first 16 bytes of SHA-256, in hex)
record() { echo "$RECDIR/$(printf '%s' "$1" | openssl dgst -sha256 -r | cut -c1-32)"; }
# hdr FILE NAME: the first value of header NAME in FILE
hdr() { awk -v n="$2" 'BEGIN { n = tolower(n) ":" } /^\r?$/ { exit }
  tolower($1) == n { sub(/^[^:]*:[ \t]*/, ""); sub(/\r$/, ""); print; exit }' "$1"; }
# mails_with USER NAME VALUE: how many messages of USER's Maildir have header NAME = VALUE
mails_with() {
  local f n=0
  for f in "$(mta_maildir "$1")"/new/* "$(mta_maildir "$1")"/cur/*; do
    [ -f "$f" ] && [ "$(hdr "$f" "$2")" = "$3" ] && n=$((n + 1))
  done
  echo "$n"
}
# dc_count PATTERN: lines of Dovecot's log matching PATTERN
dc_count() { grep -c -- "$1" "$DOVECOT_LOG" 2>/dev/null; }

# --- a certified message, and its stored form delivered again ---
mkmsg() {
  printf 'From: Alice <alice@example.org>\r\nTo: bob@example.org\r\n%bSubject: %s\r\nDate: Wed, 25 Nov 2026 08:00:00 +0000\r\nMessage-ID: <%s@example.org>\r\n\r\nbody of %s\r\n' \
    "$2" "$3" "$4" "$3" > "$1"
}
mkmsg "$T/m1.eml" '' dedup-1 dedup.1
check "cmail send deposits a certified message to bob" cmail_send_as alice --out "$T/out" "$T/m1.eml"
check "bob's mailbox receives it" wait_for_mail bob 1
SF=$(ls "$(mta_maildir bob)"/new/* | head -1)
cp "$SF" "$T/stored.eml"
ENV1=$(hdr "$T/stored.eml" X-Cmail-Envelope-Id)
check "the stored form carries X-Cmail-Envelope-Id" test -n "$ENV1"
REC1=$(record "cmail-envelope $ENV1")
check "bob's delivery record of it exists (~/cmail-delivered/HASH, holding the key)" \
  grep -qx "cmail-envelope $ENV1" "$REC1"
check "no pending record is left" test ! -e "$REC1.pending"
check_output "the same stored form through LMTP again: 250" "bob@example.org 250" \
  lmtp alice@example.org bob@example.org "$T/stored.eml"
check "... and not saved again: one copy in bob's mailbox" test "$(mails_with bob X-Cmail-Envelope-Id "$ENV1")" = 1
check "... Dovecot logs it as a duplicate delivered before" \
  grep -q "duplicate of certified message $ENV1: delivered before, not saved again" "$DOVECOT_LOG"

# Fetched and deleted by bob: the database still knows it.
mkdir -p "$T/away"
mv "$(mta_maildir bob)"/new/* "$T/away/"
check_output "after bob deleted it, the stored form again: 250" "bob@example.org 250" \
  lmtp alice@example.org bob@example.org "$T/stored.eml"
check "... not saved again (the record outlives the message)" test "$(mta_count_mail bob)" = 0
# Cut off before the save (lmtp killed): HASH.pending left, nothing in INBOX: saved.
mv "$REC1" "$REC1.pending"
check_output "cut off before the save (pending record, not in INBOX), again: 250" "bob@example.org 250" \
  lmtp alice@example.org bob@example.org "$T/stored.eml"
check "... saved this time (one copy)" test "$(mails_with bob X-Cmail-Envelope-Id "$ENV1")" = 1
check "... and the record is complete again" eval 'test -f "$REC1" && test ! -e "$REC1.pending"'
# Cut off between the save and the record: HASH.pending left, the message in INBOX.
mv "$REC1" "$REC1.pending"
n=$(dc_count "duplicate of certified message $ENV1: already in INBOX")
check_output "cut off after the save (pending record, in INBOX), again: 250" "bob@example.org 250" \
  lmtp alice@example.org bob@example.org "$T/stored.eml"
check "... not saved again (found in INBOX by its X-Cmail-Envelope-Id)" \
  test "$(mails_with bob X-Cmail-Envelope-Id "$ENV1")" = 1
check "... Dovecot logs it as already in INBOX" \
  test "$(dc_count "duplicate of certified message $ENV1: already in INBOX")" -gt "${n:-0}"
check "... and the record is complete again" eval 'test -f "$REC1" && test ! -e "$REC1.pending"'
rm -rf "$T/away"

# One LMTP transaction, two recipients: carol never had it.
check_output "bob and carol in one transaction: carol 250" "carol@example.org 250" \
  lmtp alice@example.org bob@example.org,carol@example.org "$T/stored.eml"
check_output "bob and carol in one transaction: bob 250" "bob@example.org 250" \
  lmtp alice@example.org bob@example.org,carol@example.org "$T/stored.eml"
check "... carol has exactly one copy" test "$(mails_with carol X-Cmail-Envelope-Id "$ENV1")" = 1
check "... bob still exactly one" test "$(mails_with bob X-Cmail-Envelope-Id "$ENV1")" = 1

# Another certified message is not taken for the first.
mkmsg "$T/m2.eml" '' dedup-2 dedup.2
check "cmail send deposits a second certified message to bob" cmail_send_as alice --out "$T/out" "$T/m2.eml"
check "... it is delivered" wait_for_mail bob 2

# --- ordinary mail is untouched ---
printf 'From: carol@example.org\r\nTo: bob@example.org\r\nSubject: ordinary\r\nMessage-ID: <same.1@example.org>\r\n\r\nplain\r\n' > "$T/plain.eml"
lmtp carol@example.org bob@example.org "$T/plain.eml" > /dev/null
lmtp carol@example.org bob@example.org "$T/plain.eml" > /dev/null
check "ordinary mail with one Message-ID delivered twice through LMTP: two copies" \
  test "$(mails_with bob Message-ID '<same.1@example.org>')" = 2
check "the same ordinary mail twice through Postfix: two more copies" \
  eval 'smtp_send carol@example.org bob@example.org "$T/plain.eml" >/dev/null &&
        smtp_send carol@example.org bob@example.org "$T/plain.eml" >/dev/null &&
        wait_for_mail bob 6 30 && test "$(mails_with bob Message-ID "<same.1@example.org>")" = 4'
printf 'From: carol@example.org\r\nTo: alice@example.org\r\nSubject: looks like\r\nMessage-ID: <cmail-receipt.nothing here>\r\n\r\nplain\r\n' > "$T/like.eml"
lmtp carol@example.org alice@example.org "$T/like.eml" > /dev/null
lmtp carol@example.org alice@example.org "$T/like.eml" > /dev/null
check "a malformed <cmail-receipt. Message-ID is ordinary mail: two copies" \
  test "$(mails_with alice Message-ID '<cmail-receipt.nothing here>')" = 2

# --- one receipt notice mail delivered by six LMTP sessions at once ---
RID='<cmail-receipt.TEST-1.0123456789abcdef@example.org>'
printf 'From: Certified mail <postmaster@example.org>\r\nTo: <alice@example.org>\r\nSubject: Receipt notice: x read by bob@example.org\r\nMessage-ID: %s\r\nAuto-Submitted: auto-generated\r\n\r\nnotice\r\n' "$RID" > "$T/receipt.eml"
pids=""
for i in 1 2 3 4 5 6; do
  lmtp postmaster@example.org alice@example.org "$T/receipt.eml" > "$T/par.$i" 2>&1 &
  pids="$pids $!"
done
wait $pids	# (not a bare wait: the stack's daemons are children too)
check "six concurrent LMTP deliveries of one receipt notice mail: all 250" \
  test "$(cat "$T"/par.? | grep -c 'alice@example.org 250')" = 6
check "... one copy in alice's mailbox" test "$(mails_with alice Message-ID "$RID")" = 1

# --- eight different certified messages to one user at once: the per-user lock
# serializes them, none is lost; then the same eight again at once: none saved ---
for i in 1 2 3 4 5 6 7 8; do
  sed "s/^X-Cmail-Envelope-Id: .*/X-Cmail-Envelope-Id: 20261125T000000Z.par$i/" "$T/stored.eml" > "$T/par$i.eml"
done
nc=$(mta_count_mail carol)
for round in 1 2; do
  pids=""
  for i in 1 2 3 4 5 6 7 8; do
    lmtp alice@example.org carol@example.org "$T/par$i.eml" > "$T/pc$round.$i" 2>&1 &
    pids="$pids $!"
  done
  wait $pids
done
check "sixteen concurrent LMTP deliveries (eight envelope ids, twice): all 250" \
  test "$(cat "$T"/pc[12].? | grep -c 'carol@example.org 250')" = 16
check "... eight copies saved, one per envelope id" test "$(mta_count_mail carol)" = $((nc + 8))
check "... eight records, no pending one left" \
  eval 'test "$(ls "$(mta_maildir carol)/cmail-delivered" | grep -c "^[0-9a-f]*$")" -ge 8 &&
        test -z "$(ls "$(mta_maildir carol)/cmail-delivered" | grep pending)"'

# --- expiry: records older than cmail_deliver_keep_days (30) go, once a day ---
CREC=$(mta_maildir carol)/cmail-delivered
old1=$(grep -l "par1$" "$CREC"/* | head -1)
touch -d '40 days ago' "$old1"
touch -d '2 days ago' "$CREC/.expired"
sed "s/^X-Cmail-Envelope-Id: .*/X-Cmail-Envelope-Id: 20261125T000000Z.par9/" "$T/stored.eml" > "$T/par9.eml"
lmtp alice@example.org carol@example.org "$T/par9.eml" > /dev/null
check "a record older than 30 days is removed at the next delivery" test ! -e "$old1"
check "... the recent ones stay" test "$(grep -l "par2$" "$CREC"/* | wc -l)" = 1

# --- real receipt notice mails: bob answers with cmail fetch ---
mkdir -p "$T/fb"
check "bob's cmail fetch answers both certified messages" fetch --out "$T/fb"
check "alice gets the two receipt notice mails" \
  eval 'for i in $(seq 300); do [ "$(grep -l "^Subject: Receipt notice: dedup-" "$(mta_maildir alice)"/new/* 2>/dev/null | wc -l)" -ge 2 ] && break; sleep 0.1; done
        [ "$(grep -l "^Subject: Receipt notice: dedup-" "$(mta_maildir alice)"/new/* | wc -l)" = 2 ]'
R1=$(grep -l "^Subject: Receipt notice: dedup-1 " "$(mta_maildir alice)"/new/* | head -1)
MID1=$(hdr "$R1" Message-ID)
HASH=$(printf '%s' bob@example.org | openssl dgst -sha256 -r | cut -c1-16)
check "its Message-ID is <cmail-receipt.ENVID.HASH@example.org> ($MID1)" \
  test "$MID1" = "<cmail-receipt.${ENV1//@/=}.$HASH@example.org>"
n=$(dc_count "duplicate of receipt notice mail $MID1")
check "the same receipt notice mail submitted again through Postfix is accepted" \
  smtp_send postmaster@example.org alice@example.org "$R1"
check "... and delivered as a duplicate (Dovecot's log)" \
  eval 'for i in $(seq 200); do [ "$(dc_count "duplicate of receipt notice mail $MID1")" -gt "$n" ] && break; sleep 0.1; done
        [ "$(dc_count "duplicate of receipt notice mail $MID1")" -gt "$n" ]'
check "... alice has it once" test "$(mails_with alice Message-ID "$MID1")" = 1

# --- two CPOP sessions of bob answering the same messages at once ---
# (bob's client has the earlier ones: out of the mailbox, as --delete would do)
mkdir -p "$T/away2"
mv "$(mta_maildir bob)"/new/* "$(mta_maildir bob)"/cur/* "$T/away2/" 2>/dev/null
nb=$(mta_count_mail bob)
ids=""
for i in 3 4 5 6; do
  mkmsg "$T/m$i.eml" '' "dedup-$i" "dedup.$i"
  mkdir -p "$T/out$i"
  cmail_send_as alice --out "$T/out$i" "$T/m$i.eml" > "$T/send$i.out" 2>&1 ||
    { not_ok "cmail send of message $i"; sed 's/^/# /' "$T/send$i.out"; }
  ids="$ids $(ls "$T/out$i" | sed -n 's/\.signed-deposit\.xml$//p' | head -1)"
done
check "four more certified messages reach bob" wait_for_mail bob $((nb + 4))
mkdir -p "$T/fa" "$T/fc"
( fetch --out "$T/fa" > "$T/fa.out" 2>&1; echo $? > "$T/fa.rc" ) &
pids=$!
( fetch --out "$T/fc" > "$T/fc.out" 2>&1; echo $? > "$T/fc.rc" ) &
wait $pids $!
echo "# two concurrent cmail fetch: exit $(cat "$T/fa.rc") and $(cat "$T/fc.rc")"
grep -h "cmail fetch:" "$T/fa.out" "$T/fc.out" | sort | uniq -c | head -5 | sed 's/^/#   /'
got=0
for e in $ids; do [ -f "$T/fa/$e.eml" ] || [ -f "$T/fc/$e.eml" ] && got=$((got + 1)); done
check "each of the four messages was fetched by one of the two sessions" test "$got" = 4
timeout -k 2 10 postqueue -c "$POSTFIX_CONF" -f >/dev/null 2>&1
check "the queue drains" postfix_wait_queue_empty 60
subs=0 bad=""
for e in $ids; do
  mid="<cmail-receipt.${e//@/=}.$HASH@example.org>"
  s=$(grep -cF "message-id=$mid" "$POSTFIX_LOG")
  subs=$((subs + s))
  c=$(mails_with alice Message-ID "$mid")
  [ "$c" = 1 ] || bad="$bad $e:$c"
done
echo "# receipt notice mail submissions for the four messages: $subs (two sessions may both mail one)"
check "each receipt notice mail is in alice's mailbox exactly once" test -z "$bad"
[ -n "$bad" ] && echo "# envelope:copies$bad"
[ "$cm_failed" -gt 0 ] && grep -E "Error|Panic|Fatal|cmail" "$DOVECOT_LOG" | tail -30 | sed 's/^/# dovecot: /'
cm_done
