# test/shell/lib_cmail.sh - a whole Cmail server for integration tests and benchmarks
#
# Source it after lib.sh and lib_mta.sh. cmail_stack_start builds, under $T: a test
# PKI (users alice, bob, carol @example.org unless CMAIL_USERS says otherwise), a
# seal key, cmail.conf, and starts cmail-notary (dropping to nobody), cmail-milter,
# Dovecot (LMTP mailboxes) and a private Postfix with cmtpd as a spawn(8) service on
# $CMTP_PORT and the injection listener (with the milter) on $INJ_PORT. Everything
# is stopped at exit. Extra main.cf/master.cf lines: CMAIL_EXTRA_MAIN/CMAIL_EXTRA_MASTER.
#
# CMAIL_CPOP=yes also loads the CPOP plugin into Dovecot's pop3 (receipt notices
# go to Postfix's public port).
# CMAIL_CMTPD_MODE=standalone runs `cmtpd -l` (worker pool; CMTPD_PID, extra options
# in CMAIL_CMTPD_ARGS) instead of the spawn(8) service.
# Exported: P (the PKI directory), CMTP_PORT, INJ_PORT, CMAIL_CONF, MILTER_PID,
# NOTARY_PID; functions cmail_send_as FROM [cmail send options...] MESSAGE,
# cmail_start_milter, cmail_evidence.
#
# Server-to-server settings (all optional; the defaults give the single stack above):
#   CMAIL_DOMAIN (example.org): the mail domain (users USER@CMAIL_DOMAIN, server
#       mail.CMAIL_DOMAIN); MTA_ADDR (127.0.0.1): where every listener binds;
#   CMAIL_CMTP_PORT, MTA_SMTP_PORT: ports reserved beforehand (mta_free_port), e.g.
#       so that the other stack's configuration can name them;
#   CMAIL_TRUST_ANCHORS, CMAIL_CRL (default $P/ca.pem, $P/crl.pem): files for
#       cmail.conf trust_anchors and crl_directory (cross-trust: concatenations);
#   CMAIL_RELAY=yes: the relay injection listener (content_filter=cmail-relay:,
#       port RELAY_INJ_PORT) and the cmail-relay pipe(8) service; cmail.conf gets
#       relay_injection_address and notice_submission_address (the public smtpd);
#   CMAIL_CONF_EXTRA: lines appended to cmail.conf (cmail_relay_map, relay_lifetime).
# Several stacks in one test: cmail_stack_save NAME / cmail_stack_use NAME (see
# lib_mta.sh "Several instances"). cmail_conf_knows KEY: does cmail.conf accept KEY?

CMTPD=$top_builddir/cmtpd/cmtpd
NOTARY=$top_builddir/notary/cmail-notary
MILTER=$top_builddir/milter/cmail-milter
CMAIL_RELAY_BIN=$top_builddir/cmtpd/cmail-relay
: "${CMAIL_USERS:=alice bob carol}"
: "${CMAIL_DOMAIN:=example.org}"
: "${CMAIL_CMTP_PORT:=}"
: "${CMAIL_TRUST_ANCHORS:=}"
: "${CMAIL_CRL:=}"
: "${CMAIL_RELAY:=no}"
: "${CMAIL_CONF_EXTRA:=}"
RELAY_INJ_PORT=
CMAIL_STATE_VARS="P CMTP_PORT INJ_PORT RELAY_INJ_PORT CMAIL_CONF MILTER_PID NOTARY_PID
CMAIL_DOMAIN CMAIL_USERS CMAIL_CMTP_PORT CMAIL_TRUST_ANCHORS CMAIL_CRL CMAIL_RELAY
CMAIL_CONF_EXTRA CMAIL_EXTRA_MAIN CMAIL_EXTRA_MASTER CMAIL_CPOP CMAIL_CMTPD_MODE CMTPD_PID"

# cmail_stack_save NAME: remember the current stack (Postfix, Dovecot, Cmail daemons)
cmail_stack_save() { mta_state_save "$1" $CMAIL_STATE_VARS; }

# cmail_stack_use NAME: make the stack saved as NAME the current one
cmail_stack_use() { mta_state_load "$1"; }

# cmail_conf_knows KEY: true when cmail.conf accepts KEY (the built parser knows it)
cmail_conf_knows() { grep -q "{\"$1\"," "$top_srcdir/common/cm_config.c"; }
: "${CMAIL_EXTRA_MAIN:=}"
: "${CMAIL_EXTRA_MASTER:=}"
: "${CMAIL_CMTPD_MODE:=spawn}"
: "${CMAIL_CPOP:=no}"	# yes: Dovecot's pop3 loads the CPOP plugin (receipts go to Postfix)
PLUGIN=$top_builddir/dovecot-plugin/lib95_cmail_plugin.so	# spawn: Postfix spawn(8) service; standalone: cmtpd -l
DELIVER_PLUGIN=$top_builddir/dovecot-plugin/lib95_cmail_deliver_plugin.so	# lmtp: dedup of redeliveries

# cmail_stack_missing: print what is missing to run a stack (empty when all is there)
cmail_stack_missing() {
  local p
  [ "$(id -u)" -eq 0 ] || { echo "root (private Postfix and Dovecot)"; return; }
  for p in "$CMTPD" "$NOTARY" "$MILTER" /usr/sbin/postfix /usr/sbin/dovecot; do
    [ -x "$p" ] || { echo "$p"; return; }
  done
  [ "$CMAIL_CPOP" = yes ] && [ ! -f "$PLUGIN" ] && echo "$PLUGIN"
  [ "$CMAIL_CPOP" = yes ] && [ ! -f "$DELIVER_PLUGIN" ] && echo "$DELIVER_PLUGIN"
  [ "$CMAIL_RELAY" = yes ] && [ ! -x "$CMAIL_RELAY_BIN" ] && echo "$CMAIL_RELAY_BIN"
}

# cmail_start_milter: (re)start cmail-milter on $T/run/milter.sock
cmail_start_milter() {
  local i
  "$MILTER" -f -p "unix:$T/run/milter.sock" -c "$CMAIL_CONF" -L "$T/milter.log" >>"$T/milter.out" 2>&1 &
  MILTER_PID=$!
  cm_on_exit "kill $MILTER_PID 2>/dev/null"
  for i in $(seq $((MTA_TIMEOUT * 10))); do [ -S "$T/run/milter.sock" ] && break; sleep 0.1; done
  chmod 0666 "$T/run/milter.sock"
}

# cmail_stack_start: everything above; returns non-zero with a diagnostic on failure
cmail_stack_start() {
  local u users="" i d=$CMAIL_DOMAIN a=$MTA_ADDR
  if [ "$MTA_DOMAIN" != "$d" ]; then
    MTA_DOMAIN=$d MTA_HOSTNAME=mail.$d
  fi
  mta_init || return 1
  P=$T/pki
  for u in $CMAIL_USERS; do users="$users --user $u@$d"; done
  "$CMAIL" pki init "$P" --domain "$d" $users >/dev/null || return 1
  chmod 0755 "$P" "$P/users"
  mkdir -p "$T/run" "$T/spool" "$T/notary" "$T/out" "$T/keys"
  chmod 0755 "$T/run"
  chown nobody "$T/run" "$T/spool" "$T/notary"
  "$NOTARY" -G "$T/keys/seal.key" >/dev/null || return 1
  install -m 0600 -o nobody "$P/server.key" "$T/keys/tls.key"
  touch "$T/cmtpd.log" && chown nobody "$T/cmtpd.log"
  if [ -n "$CMAIL_CMTP_PORT" ]; then CMTP_PORT=$CMAIL_CMTP_PORT; else mta_free_port CMTP_PORT || return 1; fi
  mta_free_port INJ_PORT || return 1
  RELAY_INJ_PORT=
  if [ "$CMAIL_RELAY" = yes ]; then
    mta_free_port RELAY_INJ_PORT || return 1
    # cmail.conf names the public smtpd: its port must be known now.
    [ -n "$MTA_SMTP_PORT" ] || { mta_free_port MTA_SMTP_PORT || return 1; }
  fi
  CMAIL_CONF=$T/cmail.conf
  cat > "$CMAIL_CONF" <<EOC
myhostname = mail.$d
local_domains = $d
server_certificate = $P/server.pem
server_key = $P/server.key
seal_key = $T/keys/seal.key
tls_certificate = $P/server.pem
tls_key = $T/keys/tls.key
trust_anchors = ${CMAIL_TRUST_ANCHORS:-$P/ca.pem}
crl_directory = ${CMAIL_CRL:-$P/crl.pem}
certificate_directory = $P/users
notary_socket = $T/run/notary.sock
notary_user = nobody
evidence_database = $T/notary/evidence.db
spool_directory = $T/spool
injection_address = $a:$INJ_PORT
milter_socket = unix:$T/run/milter.sock
milter_socket_mode = 0666
milter_injection_name = cmail-inject
smtp_timeout = 30
schema_directory = $CMAIL_SCHEMA_DIR
EOC
  if [ "$CMAIL_RELAY" = yes ]; then
    echo "relay_injection_address = $a:$RELAY_INJ_PORT" >> "$CMAIL_CONF"
    cmail_conf_knows notice_submission_address &&
      echo "notice_submission_address = $a:$MTA_SMTP_PORT" >> "$CMAIL_CONF"
  fi
  [ -n "$CMAIL_CONF_EXTRA" ] && printf '%s\n' "$CMAIL_CONF_EXTRA" >> "$CMAIL_CONF"
  chmod 0644 "$CMAIL_CONF"
  "$NOTARY" -f -c "$CMAIL_CONF" >"$T/notary.log" 2>&1 &
  NOTARY_PID=$!
  cm_on_exit "kill $NOTARY_PID 2>/dev/null"
  cmail_start_milter
  for i in $(seq $((MTA_TIMEOUT * 10))); do [ -S "$T/run/notary.sock" ] && break; sleep 0.1; done
  [ -S "$T/run/notary.sock" ] || { mta_diag "cmail-notary did not start"; sed 's/^/#   /' "$T/notary.log" >&2; return 1; }
  # The CPOP plugin runs as the mail user: it must reach the notary too.
  chmod 0666 "$T/run/notary.sock"
  [ -S "$T/run/milter.sock" ] || { mta_diag "cmail-milter did not start"; sed 's/^/#   /' "$T/milter.out" >&2; return 1; }
  mta_users $CMAIL_USERS || return 1
  if [ "$CMAIL_CPOP" = yes ]; then
    # The plugin, and an include that names the receipt submission port once
    # Postfix runs (then Dovecot is reloaded).
    mkdir -p "$T/modules" && chmod 0755 "$T/modules"
    install -m 0644 "$PLUGIN" "$T/modules/lib95_cmail_plugin.so"
    install -m 0644 "$DELIVER_PLUGIN" "$T/modules/lib95_cmail_deliver_plugin.so"
    DOVECOT_PLUGIN_DIR=$T/modules
    printf 'plugin {\n  cmail_config = %s\n}\n' "$CMAIL_CONF" > "$T/dovecot-cmail.conf"
    DOVECOT_EXTRA_CONF="protocol pop3 {
  mail_plugins = \$mail_plugins cmail
}
protocol lmtp {
  mail_plugins = \$mail_plugins cmail_deliver
}
mail_always_cache_fields = hdr.x-cmail-delivery-type
!include_try $T/dovecot-cmail.conf
${DOVECOT_EXTRA_CONF:-}"
  fi
  dovecot_start || return 1
  POSTFIX_EXTRA_MAIN="smtpd_milters = unix:$T/run/milter.sock
non_smtpd_milters = unix:$T/run/milter.sock
milter_default_action = tempfail
$CMAIL_EXTRA_MAIN"
  POSTFIX_EXTRA_MASTER=""
  [ "$CMAIL_CMTPD_MODE" = spawn ] && POSTFIX_EXTRA_MASTER="$a:$CMTP_PORT inet n n n - - spawn
  user=nobody argv=$CMTPD -c $CMAIL_CONF -L $T/cmtpd.log"
  POSTFIX_EXTRA_MASTER="$POSTFIX_EXTRA_MASTER
$a:$INJ_PORT inet n - n - - smtpd
  -o syslog_name=postfix/cmail-inject
  -o milter_macro_daemon_name=cmail-inject
  -o smtpd_milters=unix:$T/run/milter.sock
  -o smtpd_client_restrictions=permit_mynetworks,reject"
  if [ "$CMAIL_RELAY" = yes ]; then
    # As contrib/postfix/master.cf.cmail: the second injection listener (no milter:
    # cmail-relay checks what it relays) hands every message to the cmail-relay
    # pipe(8) transport, the CMTP client towards other Cmail servers.
    touch "$T/relay.log" && chown nobody "$T/relay.log"
    POSTFIX_EXTRA_MASTER="$POSTFIX_EXTRA_MASTER
$a:$RELAY_INJ_PORT inet n - n - - smtpd
  -o syslog_name=postfix/cmail-relay
  -o content_filter=cmail-relay:
  -o smtpd_milters=
  -o smtpd_client_restrictions=permit_mynetworks,reject
  -o smtpd_recipient_restrictions=permit_mynetworks,reject
cmail-relay unix - n n - - pipe
  flags=Rq user=nobody argv=$CMAIL_RELAY_BIN -c $CMAIL_CONF -L $T/relay.log -f \${sender} -d \${nexthop} -- \${recipient}"
  fi
  POSTFIX_EXTRA_MASTER="$POSTFIX_EXTRA_MASTER
$CMAIL_EXTRA_MASTER"
  postfix_start || return 1
  if [ "$CMAIL_CPOP" = yes ]; then
    printf 'plugin {\n  cmail_config = %s\n  cmail_submission_host = %s:%s\n}\n' \
      "$CMAIL_CONF" "$a" "$POSTFIX_SMTP_PORT" > "$T/dovecot-cmail.conf"
    doveadm -c "$DOVECOT_CONF" reload >/dev/null 2>&1 || return 1
  fi
  CMTPD_PID=
  if [ "$CMAIL_CMTPD_MODE" = standalone ]; then
    # cmtpd -l with its worker pool ($CMAIL_CMTPD_ARGS: e.g. -p 200 -m 1000)
    # shellcheck disable=SC2086
    "$CMTPD" -c "$CMAIL_CONF" -L "$T/cmtpd.log" -u nobody -l "$a:$CMTP_PORT" ${CMAIL_CMTPD_ARGS:-} >>"$T/cmtpd.out" 2>&1 &
    CMTPD_PID=$!
    cm_on_exit "kill $CMTPD_PID 2>/dev/null"
  fi
  mta_wait_port "$CMTP_PORT" 10
  export P CMTP_PORT INJ_PORT CMAIL_CONF
}

# cmail_send_as USER [options...] MESSAGE: cmail send from USER@$CMAIL_DOMAIN to the stack
cmail_send_as() {
  local u=$1 d=$CMAIL_DOMAIN; shift
  "$CMAIL" send --server "$MTA_ADDR:$CMTP_PORT" --server-name "mail.$d" \
    --from "$u@$d" --cert "$P/users/$u@$d.pem" --key "$P/users/$u@$d.key" \
    --ca "${CMAIL_TRUST_ANCHORS:-$P/ca.pem}" --crl "${CMAIL_CRL:-$P/crl.pem}" --timeout 60 "$@"
}

# cmail_fetch_as USER [cmail fetch options...]: cmail fetch as USER@$CMAIL_DOMAIN over
# POP3S (the plugin must be loaded: CMAIL_CPOP=yes)
cmail_fetch_as() {
  local u=$1 d=$CMAIL_DOMAIN; shift
  printf '%s\n' "$(mta_pass "$u")" > "$T/$u.pass"
  "$CMAIL" fetch --server "$MTA_ADDR:$DOVECOT_POP3_PORT" --implicit-tls --server-name "mail.$d" \
    --tls-ca "$DOVECOT_SSL_CA" --user "$u@$d" --password-file "$T/$u.pass" \
    --cert "$P/users/$u@$d.pem" --key "$P/users/$u@$d.key" \
    --ca "${CMAIL_TRUST_ANCHORS:-$P/ca.pem}" --crl "${CMAIL_CRL:-$P/crl.pem}" --timeout 60 "$@"
}

# cmail_evidence ARGS...: cmail evidence on the stack's journal
cmail_evidence() { "$CMAIL" evidence "$@" --db "$T/notary/evidence.db"; }
