#!/usr/bin/env bash
# test/shell/fetch_cpop.sh - `cmail fetch` against the real CPOP plugin (issue 5): the
# set-up of cpop.sh (cmail-notary, cmtpd under Postfix spawn, Postfix delivering to
# Dovecot over LMTP, Dovecot's pop3 with lib95_cmail_plugin.so), Dovecot's TLS
# certificate being the Cmail server certificate. `cmail send` alice -> bob (twice) and
# an ordinary mail; then `cmail fetch` as bob: --list, the plaintexts byte-identical to
# what alice sent, the signed receipt notices accepted by xmllint, xmlsec1 and cmail
# verify, a second run (the server now sends the ENVELOPE at RETR) finding them
# already fetched, a run into an empty directory failing clearly, STLS, and the
# receipt notice mail reaching alice.
. "$top_srcdir/test/shell/lib.sh"
. "$top_srcdir/test/shell/lib_mta.sh"

CMTPD=$top_builddir/cmtpd/cmtpd
NOTARY=$top_builddir/notary/cmail-notary
PLUGIN=$top_builddir/dovecot-plugin/lib95_cmail_plugin.so
SCHEMA=$CMAIL_SCHEMA_DIR/x1341-notices.xsd
for p in "$CMTPD" "$NOTARY" "$PLUGIN" /usr/sbin/postfix /usr/sbin/dovecot; do
  if [ ! -e "$p" ]; then skip "$p not built or not installed"; cm_done; exit 0; fi
done
for tool in xmllint xmlsec1 openssl; do
  command -v $tool >/dev/null || { skip "$tool not installed"; cm_done; exit 0; }
done
[ "$(id -u)" -eq 0 ] || { skip "needs root (private Postfix and Dovecot)"; cm_done; exit 0; }
mta_init || { not_ok "mta_init"; cm_done; exit 1; }

# --- PKI, notary, cmail.conf (as cpop.sh) ---
P=$T/pki
"$CMAIL" pki init "$P" --domain example.org --user alice@example.org --user bob@example.org \
  --user carol@example.org >/dev/null || { not_ok "cmail pki init"; cm_done; exit 1; }
chmod 0755 "$P" "$P/users"
mkdir -p "$T/run" "$T/spool" "$T/notary" "$T/out" "$T/keys" "$T/modules" "$T/bob" "$T/bob2"
chmod 0755 "$T/run" "$T/modules"
chown nobody "$T/spool" "$T/notary" "$T/run"
"$NOTARY" -G "$T/keys/seal.key" >/dev/null
install -m 0600 -o nobody "$P/server.key" "$T/keys/tls.key"
install -m 0644 "$PLUGIN" "$T/modules/lib95_cmail_plugin.so"
touch "$T/cmtpd.log" && chown nobody "$T/cmtpd.log"
mta_free_port CMTP_PORT
mta_free_port INJ_PORT
cat > "$T/cmail.conf" <<EOC
myhostname = mail.example.org
local_domains = example.org
server_certificate = $P/server.pem
server_key = $P/server.key
seal_key = $T/keys/seal.key
tls_certificate = $P/server.pem
tls_key = $T/keys/tls.key
trust_anchors = $P/ca.pem
crl_directory = $P/crl.pem
certificate_directory = $P/users
notary_socket = $T/run/notary.sock
notary_user = nobody
evidence_database = $T/notary/evidence.db
spool_directory = $T/spool
injection_address = 127.0.0.1:$INJ_PORT
smtp_timeout = 30
EOC
chmod 0644 "$T/cmail.conf"

"$NOTARY" -f -c "$T/cmail.conf" >"$T/notary.log" 2>&1 &
NOTARY_PID=$!
cm_on_exit "kill $NOTARY_PID 2>/dev/null"
for i in $(seq 50); do [ -S "$T/run/notary.sock" ] && break; sleep 0.1; done
if [ ! -S "$T/run/notary.sock" ]; then
  not_ok "cmail-notary is up"; sed 's/^/# /' "$T/notary.log"; cm_done; exit 1
fi
chmod 0666 "$T/run/notary.sock"

mta_users alice bob || { not_ok "mta_users"; cm_done; exit 1; }
POSTFIX_EXTRA_MASTER="127.0.0.1:$CMTP_PORT inet n - n - - spawn
  user=nobody argv=$CMTPD -c $T/cmail.conf -L $T/cmtpd.log
127.0.0.1:$INJ_PORT inet n - n - - smtpd
  -o syslog_name=postfix/cmail-inject
  -o smtpd_client_restrictions=permit_mynetworks,reject"
postfix_start || { not_ok "postfix_start"; cm_done; exit 1; }
DOVECOT_PLUGIN_DIR=$T/modules
DOVECOT_SSL_CERT=$P/server.pem
DOVECOT_SSL_KEY=$P/server.key
DOVECOT_EXTRA_CONF="protocol pop3 {
  mail_plugins = \$mail_plugins cmail
}
plugin {
  cmail_config = $T/cmail.conf
  cmail_submission_host = 127.0.0.1:$POSTFIX_SMTP_PORT
}"
dovecot_start || { not_ok "dovecot_start"; mta_log_tail 40; cm_done; exit 1; }
mta_wait_port "$CMTP_PORT" 10

# --- deposit: certified (bob), an ordinary mail, certified (bob) ---
mkmsg() {
  printf 'From: Alice <alice@example.org>\r\nTo: bob@example.org\r\nSubject: %s\r\nDate: Wed, 25 Nov 2026 08:00:00 +0000\r\nMessage-ID: <%s@example.org>\r\n\r\n%s\r\n.a line starting with a dot\r\nend\r\n' \
    "$2" "$3" "$4" > "$1"
}
mkmsg "$T/msg1.eml" "Contract" contract.1 "The secret terms: 42."
mkmsg "$T/msg3.eml" "Second" second.3 "Another secret: 43."
send() {
  "$CMAIL" send --server "127.0.0.1:$CMTP_PORT" --server-name mail.example.org \
    --from alice@example.org --cert "$P/users/alice@example.org.pem" --key "$P/users/alice@example.org.key" \
    --ca "$P/ca.pem" --crl "$P/crl.pem" --out "$T/out" "$@"
}
check "cmail send deposits certified message 1" send "$T/msg1.eml"
check "bob's mailbox receives it" wait_for_mail bob 1
printf 'From: carol@example.org\r\nTo: bob@example.org\r\nSubject: ordinary\r\n\r\nplain text\r\n' > "$T/plain.eml"
check "an ordinary message reaches bob" smtp_send carol@example.org bob@example.org "$T/plain.eml"
check "bob's mailbox holds two messages" wait_for_mail bob 2
check "cmail send deposits certified message 3" send "$T/msg3.eml"
check "bob's mailbox holds three messages" wait_for_mail bob 3
mta_pass bob > "$T/bob.pw"
ENV1=$(ls "$T/out" | sed -n 's/\.signed-deposit\.xml$//p' | head -1)

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
check_output "... messages 1 and 3 are CertifiedMail" "^1 [0-9]+ CertifiedMail$" cat "$T/.out"
cp "$T/.out" "$T/list.out"
check_output "... message 2 is ordinary" "^2 [0-9]+$" cat "$T/list.out"
check_output "... message 3 is CertifiedMail" "^3 [0-9]+ CertifiedMail$" cat "$T/list.out"

# --- fetch: both certified messages and the ordinary one ---
exits "cmail fetch as bob: exit 0" 0 fetch --out "$T/bob"
cp "$T/.out" "$T/fetch.out"
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
check_output "... both certified messages already fetched" "already fetched" cat "$T/.out"
exits "a run into an empty directory: exit 1" 1 fetch --out "$T/bob2"
check_output "... says why" "answered before .* no signed receipt notice for it is in" cat "$T/.out"
check_fails "... and writes no certified plaintext" bash -c "ls '$T/bob2' | grep -v '^2.eml$' | grep -q ."

# --- STLS on the plaintext port ---
exits "STLS on the plain POP3 port: exit 0" 0 "$CMAIL" fetch --server "127.0.0.1:$DOVECOT_POP3_PLAIN_PORT" \
  --server-name mail.example.org --user bob@example.org --password-file "$T/bob.pw" \
  --cert "$P/users/bob@example.org.pem" --key "$P/users/bob@example.org.key" --ca "$P/ca.pem" \
  --crl "$P/crl.pem" --list --timeout 30

# --- the receipt notice mail reaches alice ---
check "alice's mailbox receives the receipt notice mails" wait_for_mail alice 2

cm_done
