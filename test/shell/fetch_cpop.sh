#!/usr/bin/env bash
# test/shell/fetch_cpop.sh - `cmail fetch` against the real CPOP plugin (issue 5): the
# stack of lib_cmail.sh (cmail-notary, cmail-milter, cmtpd under Postfix spawn, Postfix
# delivering to Dovecot over LMTP) with Dovecot's pop3 running lib95_cmail_plugin.so and
# the Cmail server certificate for TLS. `cmail send` alice -> bob, carol and alice ->
# bob, and an ordinary mail; then `cmail fetch` as bob: --list, the plaintexts byte-identical to
# what alice sent, the signed receipt notices accepted by xmllint, xmlsec1 and cmail
# verify, a second run (the server now sends the ENVELOPE at RETR) finding them
# already fetched, a run with only the kept receipt notices decrypting again, a run
# into an empty directory failing clearly, STLS; carol fetching her copy; and the
# receipt notice mails reaching alice.
. "$top_srcdir/test/shell/lib.sh"
. "$top_srcdir/test/shell/lib_mta.sh"
. "$top_srcdir/test/shell/lib_cmail.sh"

SCHEMA=$CMAIL_SCHEMA_DIR/x1341-notices.xsd
CMAIL_CPOP=yes
missing=$(cmail_stack_missing)
for tool in xmllint xmlsec1 openssl; do
  [ -z "$missing" ] && ! command -v $tool >/dev/null && missing=$tool
done
if [ -n "$missing" ]; then skip "needs $missing"; cm_done; exit 0; fi

# --- the stack of lib_cmail.sh with the CPOP plugin; TLS with the Cmail server
# certificate (so --ca serves for TLS and notices alike) ---
mta_init || { not_ok "mta_init"; cm_done; exit 1; }
mkdir -p "$T/bob" "$T/bob2"
# cmail_stack_start makes the PKI in $T/pki before it starts Dovecot.
DOVECOT_SSL_CERT=$T/pki/server.pem
DOVECOT_SSL_KEY=$T/pki/server.key
if ! cmail_stack_start; then not_ok "the Cmail stack starts"; mta_log_tail 40; cm_done; exit 1; fi
ok "the Cmail stack starts with the CPOP plugin"

# --- deposit: certified (bob), an ordinary mail, certified (bob) ---
mkmsg() {
  printf 'From: Alice <alice@example.org>\r\nTo: bob@example.org\r\n%bSubject: %s\r\nDate: Wed, 25 Nov 2026 08:00:00 +0000\r\nMessage-ID: <%s@example.org>\r\n\r\n%s\r\n.a line starting with a dot\r\nend\r\n' \
    "$2" "$3" "$4" "$5" > "$1"
}
mkmsg "$T/msg1.eml" 'Cc: carol@example.org\r\n' "Contract" contract.1 "The secret terms: 42."
mkmsg "$T/msg3.eml" '' "Second" second.3 "Another secret: 43."
send() { cmail_send_as alice --out "$T/out" "$@"; }
check "cmail send deposits certified message 1" send "$T/msg1.eml"
# Its envelope id now, while it is the only one (ids of one second sort by their random part).
ENV1=$(ls "$T/out" | sed -n 's/\.signed-deposit\.xml$//p' | head -1)
check "bob's mailbox receives it" wait_for_mail bob 1
check "carol's mailbox receives it" wait_for_mail carol 1
printf 'From: carol@example.org\r\nTo: bob@example.org\r\nSubject: ordinary\r\n\r\nplain text\r\n' > "$T/plain.eml"
check "an ordinary message reaches bob" smtp_send carol@example.org bob@example.org "$T/plain.eml"
check "bob's mailbox holds two messages" wait_for_mail bob 2
check "cmail send deposits certified message 3" send "$T/msg3.eml"
check "bob's mailbox holds three messages" wait_for_mail bob 3
mta_pass bob > "$T/bob.pw"

# fetch ARGS...: cmail fetch as bob over implicit TLS
fetch() {
  "$CMAIL" fetch --server "127.0.0.1:$DOVECOT_POP3_PORT" --implicit-tls --server-name mail.example.org \
    --user bob@example.org --password-file "$T/bob.pw" --cert "$P/users/bob@example.org.pem" \
    --key "$P/users/bob@example.org.key" --ca "$P/ca.pem" --crl "$P/crl.pem" --timeout 30 "$@"
}
# exits TEXT CODE CMD...: ok when CMD exits with CODE (output kept in $T/.out)
exits() {
  local text=$1 want=$2 rc; shift 2
  "$@" >"$T/.out" 2>&1; rc=$?
  if [ "$rc" -eq "$want" ]; then ok "$text"; else not_ok "$text (exit $rc, expected $want)"; sed 's/^/# /' "$T/.out"; fi
}

# --- --list ---
exits "cmail fetch --list: exit 0" 0 fetch --list
cp "$T/.out" "$T/list.out"
check_output "... message 1 is CertifiedMail" "^1 [0-9]+ CertifiedMail$" cat "$T/list.out"
check_output "... message 2 is ordinary" "^2 [0-9]+$" cat "$T/list.out"
check_output "... message 3 is CertifiedMail" "^3 [0-9]+ CertifiedMail$" cat "$T/list.out"

# --- fetch: both certified messages and the ordinary one ---
exits "cmail fetch as bob: exit 0" 0 fetch --out "$T/bob"
n=0
for f in "$T"/bob/*.eml; do
  case $f in */2.eml) continue ;; esac
  if cmp -s "$f" "$T/msg1.eml" || cmp -s "$f" "$T/msg3.eml"; then n=$((n + 1)); fi
done
[ $n -eq 2 ] && ok "both plaintexts are byte-identical to what alice sent" \
  || { not_ok "both plaintexts are byte-identical to what alice sent ($n of 2)"; ls -la "$T/bob" | sed 's/^/# /'; }
check_output "the ordinary message is fetched as POP3 gives it" "^Subject: ordinary" cat "$T/bob/2.eml"
for r in "$T"/bob/*.signed-receipt.xml; do
  b=$(basename "$r" .signed-receipt.xml)
  check "$b: xmllint --schema validates the signed receipt notice" xmllint --noout --schema "$SCHEMA" "$r"
  for k in 1 2; do
    check "$b: xmlsec1 --verify accepts signature $k" xmlsec1 --verify --trusted-pem "$P/ca.pem" \
      --node-xpath "//*[@Id='cmail-sig-$k']" "$r"
  done
  check_output "$b: cmail verify: VALID" "^VALID" "$CMAIL" verify "$r" --ca "$P/ca.pem" --crl "$P/crl.pem"
done
[ -n "$ENV1" ] && [ -s "$T/bob/$ENV1.eml" ] && ok "files are named by envelope id ($ENV1)" \
  || not_ok "files are named by envelope id ($ENV1)"

# --- again: the server now sends the ENVELOPE at RETR ---
exits "a second run into the same directory: exit 0" 0 fetch --out "$T/bob"
cp "$T/.out" "$T/again.out"
check_output "... both certified messages already fetched" "message 3: certified.*already fetched" cat "$T/again.out"
mkdir -p "$T/bob3"
cp "$T"/bob/*.signed-receipt.xml "$T/bob3/"
exits "a run with only the kept receipt notices: exit 0" 0 fetch --out "$T/bob3"
n=0
for f in "$T"/bob/*.signed-receipt.xml; do
  b=$(basename "$f" .signed-receipt.xml)
  cmp -s "$T/bob/$b.eml" "$T/bob3/$b.eml" && n=$((n + 1))
done
[ $n -eq 2 ] && ok "... both messages decrypted again, byte-identical" \
  || not_ok "... both messages decrypted again, byte-identical ($n of 2)"
exits "a run into an empty directory: exit 1" 1 fetch --out "$T/bob2"
cp "$T/.out" "$T/empty.out"
check_output "... says why" "answered before .* no signed receipt notice for it is in" cat "$T/empty.out"
check_fails "... and writes no certified plaintext" bash -c "ls '$T/bob2' | grep -v '^2.eml$' | grep -q ."

# --- STLS on the plaintext port ---
exits "STLS on the plain POP3 port: exit 0" 0 "$CMAIL" fetch --server "127.0.0.1:$DOVECOT_POP3_PLAIN_PORT" \
  --server-name mail.example.org --user bob@example.org --password-file "$T/bob.pw" \
  --cert "$P/users/bob@example.org.pem" --key "$P/users/bob@example.org.key" --ca "$P/ca.pem" \
  --crl "$P/crl.pem" --list --timeout 30

# --- carol, the other recipient of message 1, with her own mailbox, key and certificate ---
mkdir -p "$T/carol"
mta_pass carol > "$T/carol.pw"
exits "cmail fetch as carol: exit 0" 0 "$CMAIL" fetch --server "127.0.0.1:$DOVECOT_POP3_PORT" --implicit-tls \
  --server-name mail.example.org --user carol@example.org --password-file "$T/carol.pw" \
  --cert "$P/users/carol@example.org.pem" --key "$P/users/carol@example.org.key" --ca "$P/ca.pem" \
  --crl "$P/crl.pem" --out "$T/carol" --timeout 30
cp "$T/.out" "$T/carol.out"
check "... her plaintext is byte-identical to what alice sent" cmp "$T/msg1.eml" "$T/carol/$ENV1.eml"
[ -f "$T/carol/$ENV1.eml" ] ||
  { sed 's/^/# fetch: /' "$T/carol.out"; grep -h "cmail" "$DOVECOT_LOG" 2>/dev/null | tail -5 | sed 's/^/# dovecot: /'; }
check_output "... her signed receipt notice is for her: cmail verify" "carol@example.org" \
  "$CMAIL" verify "$T/carol/$ENV1.signed-receipt.xml" --ca "$P/ca.pem" --crl "$P/crl.pem"

# --- the receipt notice mails reach alice (bob: 2, carol: 1) ---
check "alice's mailbox receives the receipt notice mails" wait_for_mail alice 3

cm_done
