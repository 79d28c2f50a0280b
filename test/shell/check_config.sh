#!/usr/bin/env bash
# test/shell/check_config.sh - `cmail check-config` against a private Postfix
# configuration directory (read with postconf -c), a private dovecot.conf (read
# with doveconf -c) and a test PKI: a correct setup exits 0; then one broken
# thing at a time exits 1 with the expected line. No daemon runs, except one
# cmail-notary for the PING and key-rotation checks.
. "$top_srcdir/test/shell/lib.sh"

NOTARY=$top_builddir/notary/cmail-notary
for p in /usr/sbin/postconf /usr/bin/doveconf "$NOTARY"; do
  [ -x "$p" ] || { skip "$p missing"; cm_done; exit 0; }
done
[ "$(id -u)" -eq 0 ] || { skip "needs root (doveconf, key owners)"; cm_done; exit 0; }

D=example.org
P=$T/pki
chmod 0711 "$T"		# cmail-notary drops to nobody: it must reach $T/cfg
"$CMAIL" pki init "$P" --domain $D --user alice@$D --user bob@$D >/dev/null || { not_ok "pki init"; cm_done; exit 1; }
"$CMAIL" pki init "$T/pki2" --domain other.test --user eve@other.test >/dev/null || { not_ok "pki init 2"; cm_done; exit 1; }
mkdir -p "$T/keys" "$T/bin"
# master.cf names cmtpd: check-config only needs an executable of that name
CMTPD=$T/bin/cmtpd
printf '#!/bin/sh\nexit 0\n' > "$CMTPD"; chmod 0755 "$CMTPD"
"$NOTARY" -G "$T/keys/seal.key" >/dev/null || { not_ok "seal key"; cm_done; exit 1; }
"$NOTARY" -G "$T/keys/seal2.key" >/dev/null

INJ=127.0.0.1:20026
REL=127.0.0.1:20027
C=$T/cfg/cmail.conf
PF=$T/cfg/postfix
DC=$T/cfg/dovecot.conf

# good: a fresh, correct setup in $T/cfg (every case starts from it)
good() {
  rm -rf "$T/cfg"
  mkdir -p "$T/cfg/certs" "$T/cfg/run" "$T/cfg/spool" "$T/cfg/notary" "$T/cfg/modules" \
    "$PF" "$T/cfg/dovecot"
  chmod 0755 "$T/cfg" "$T/cfg/run"
  chown nobody "$T/cfg/notary" "$T/cfg/run"
  cp "$P/users/alice@$D.pem" "$P/users/bob@$D.pem" "$T/cfg/certs/"
  install -m 0600 "$P/server.key" "$T/cfg/server.key"
  install -m 0600 "$T/keys/seal.key" "$T/cfg/seal.key"
  install -m 0600 "$P/server.key" "$T/cfg/tls.key"
  cp "$P/crl.pem" "$T/cfg/crl.pem"
  : > "$T/cfg/modules/lib95_cmail_plugin.so"
  : > "$T/cfg/modules/lib95_cmail_deliver_plugin.so"
  cat > "$C" <<EOF
# check-config test
myhostname = mail.$D
local_domains = $D
server_certificate = $P/server.pem
server_key = $T/cfg/server.key
seal_key = $T/cfg/seal.key
tls_certificate = $P/server.pem
tls_key = $T/cfg/tls.key
trust_anchors = $P/ca.pem
crl_directory = $T/cfg/crl.pem
certificate_directory = $T/cfg/certs
notary_socket = $T/cfg/run/notary.sock
notary_user = nobody
evidence_database = $T/cfg/notary/evidence.db
spool_directory = $T/cfg/spool
injection_address = $INJ
relay_injection_address = $REL
milter_socket = unix:$T/cfg/run/milter.sock
milter_injection_name = cmail-inject
EOF
  cat > "$PF/main.cf" <<EOF
compatibility_level = 3.6
queue_directory = $T/cfg/spool
smtpd_milters = unix:$T/cfg/run/milter.sock
non_smtpd_milters = unix:$T/cfg/run/milter.sock
milter_default_action = tempfail
EOF
  cat > "$PF/master.cf" <<EOF
smtp      inet  n       -       y       -       -       smtpd
submission inet n       -       y       -       -       smtpd
  -o syslog_name=postfix/submission
pickup    unix  n       -       y       60      1       pickup
cleanup   unix  n       -       y       -       0       cleanup
10587     inet  n       n       n       -       -       spawn
  user=cmail argv=$CMTPD -c $C
$INJ inet n  -       n       -       -       smtpd
  -o syslog_name=postfix/cmail-inject
  -o milter_macro_daemon_name=cmail-inject
  -o smtpd_milters=unix:$T/cfg/run/milter.sock
  -o milter_default_action=tempfail
  -o smtpd_client_restrictions=permit_mynetworks,reject
  -o mynetworks=127.0.0.0/8
$REL inet n  -       n       -       -       smtpd
  -o syslog_name=postfix/cmail-relay
  -o content_filter=cmail-relay:
  -o smtpd_milters=
  -o smtpd_client_restrictions=permit_mynetworks,reject
  -o mynetworks=127.0.0.0/8
cmail-relay unix -     n       n       -       -       pipe
  flags=Rq user=cmail argv=/usr/libexec/cmail/cmail-relay -c $C -f \${sender} -d \${nexthop} -- \${recipient}
EOF
  cat > "$DC" <<EOF
base_dir = $T/cfg/dovecot
protocols = imap pop3 lmtp
ssl = no
mail_location = maildir:$T/cfg/mail/%n
mail_plugin_dir = $T/cfg/modules
passdb {
  driver = passwd-file
  args = $T/cfg/users
}
userdb {
  driver = passwd-file
  args = $T/cfg/users
}
protocol pop3 {
  mail_plugins = \$mail_plugins cmail
}
protocol lmtp {
  mail_plugins = \$mail_plugins cmail_deliver
}
mail_always_cache_fields = \$mail_always_cache_fields hdr.x-cmail-delivery-type
plugin {
  cmail_config = $C
}
EOF
}

# SCOPE: options for every run (--no-postfix/--no-dovecot: each section of the
# test checks only the part it breaks, which keeps the test fast on a busy machine)
SCOPE=
# cc [ARGS...]: run check-config on the setup, output in $T/cc.out, status in $rc
cc() {
  "$CMAIL" check-config -c "$C" --postfix-config "$PF" --dovecot-config "$DC" $SCOPE "$@" >"$T/cc.out" 2>&1
  rc=$?
}

# broken TEXT PATTERN: check-config exits 1 and prints a line matching the grep -E PATTERN
broken() {
  local text=$1 pat=$2
  cc
  if [ "$rc" -eq 1 ] && grep -Eq -- "$pat" "$T/cc.out"; then
    ok "$text"
  else
    not_ok "$text (exit $rc, wanted 1 and /$pat/)"
    sed 's/^/# /' "$T/cc.out"
  fi
}

# clean TEXT [PATTERN]: check-config exits 0 (and prints PATTERN)
clean() {
  local text=$1 pat=${2:-}
  shift; [ $# -gt 0 ] && shift
  cc "$@"
  if [ "$rc" -eq 0 ] && { [ -z "$pat" ] || grep -Eq -- "$pat" "$T/cc.out"; }; then
    ok "$text"
  else
    not_ok "$text (exit $rc, wanted 0${pat:+ and /$pat/})"
    sed 's/^/# /' "$T/cc.out"
  fi
}

# --- usage ------------------------------------------------------------------
check_output "check-config --help lists the options" "--postfix-config DIR" "$CMAIL" check-config --help
"$CMAIL" check-config --bogus >/dev/null 2>&1
[ $? -eq 2 ] && ok "a bad option exits 2" || not_ok "a bad option exits 2"
check_output "cmail --help lists check-config" "check-config" "$CMAIL" --help

# --- the correct setup ------------------------------------------------------
good
clean "a correct setup exits 0" "^cmail check-config: .*: 0 errors, [0-9]+ warnings?$"
if grep -q '^error:' "$T/cc.out"; then not_ok "no error line"; else ok "no error line"; fi
check_output "unreachable notary socket is a warning" \
  "^warning: notary socket $T/cfg/run/notary.sock not reachable" cat "$T/cc.out"
check_output "unreachable milter socket is a warning" \
  "^warning: milter_socket unix:$T/cfg/run/milter.sock not reachable" cat "$T/cc.out"
check_output "a relay binary not installed yet is a warning" \
  "^warning: master.cf: pipe service cmail-relay .*/usr/libexec/cmail/cmail-relay is not executable" cat "$T/cc.out"
clean "-v prints the checks that passed" "^ok: server certificate .*Annex C.2" -v
check_output "-v: the injection listener is found" "^ok: master.cf: injection listener $INJ" cat "$T/cc.out"

# --- cmail.conf -------------------------------------------------------------
SCOPE="--no-postfix --no-dovecot"
good; echo "tls_keyfile = /x" >> "$C"
broken "unknown key: file and line" "^error: $C:20: unknown parameter 'tls_keyfile'$"
good; sed -i '2i recipient_limit = many' "$C"; echo "bogus line" >> "$C"; echo "foo = 1" >> "$C"
broken "every bad line is reported (bad value)" "^error: $C:2: bad value 'many' for recipient_limit"
check_output "every bad line is reported (no '=')" "^error: $C:21: expected 'parameter = value'" cat "$T/cc.out"
check_output "every bad line is reported (unknown)" "^error: $C:22: unknown parameter 'foo'" cat "$T/cc.out"
check_output "the summary counts the three errors" "^cmail check-config: .*: 3 errors" cat "$T/cc.out"
good; printf 'verbose = yes' >> "$C"
clean "a last line without a newline"
good; echo "local_domains = other.test" >> "$C"
broken "a duplicate key" "^error: $C:20: parameter 'local_domains' already set on line 3"
good; chmod 0640 "$T/cfg/server.key"
broken "server key group-readable" "^error: key file $T/cfg/server.key \(server_key\) is group/world readable"
good; chmod 0604 "$T/cfg/seal.key"
broken "seal key world-readable" "^error: key file $T/cfg/seal.key \(seal_key\) is group/world readable"
good; chmod 0644 "$T/cfg/tls.key"
broken "TLS key world-readable" "^error: key file $T/cfg/tls.key \(tls_key\) is world readable"
good; chmod 0640 "$T/cfg/tls.key"
clean "TLS key group-readable (root:cmail 0640) is fine"
good; chown nobody "$T/cfg/server.key"
clean "server key owned by notary_user is fine"
good; chown daemon "$T/cfg/server.key"
broken "server key owned by another user" "^error: key file .* is owned by uid [0-9]+, not by root or notary_user"
good; rm "$T/cfg/seal.key"
broken "seal key missing" "^error: seal_key missing: $T/cfg/seal.key does not exist"
good; echo "not hex" > "$T/cfg/seal.key"
broken "seal key unparsable" "^error: seal_key $T/cfg/seal.key: "
good; install -m 0600 "$T/keys/seal2.key" "$T/cfg/old.key"; echo "seal_key_previous = $T/cfg/old.key" >> "$C"
clean "a previous seal key (rotation)" "" -v
check_output "... is shown with -v" "^ok: seal_key_previous $T/cfg/old.key: key id [0-9a-f]{16} \(unseals only\)" cat "$T/cc.out"
chmod 0640 "$T/cfg/old.key"
broken "a previous seal key group-readable" "^error: key file $T/cfg/old.key \(seal_key_previous\) is group/world readable"
good; echo "seal_key_previous = $T/cfg/seal.key" >> "$C"
broken "the seal key listed as previous" "^error: seal_key_previous $T/cfg/seal.key: key id [0-9a-f]{16} is the seal_key itself"
good; ln -sf "$T/keys/seal.key" "$T/cfg/seal-link.key"; sed -i "s|^seal_key = .*|seal_key = $T/cfg/seal-link.key|" "$C"
broken "seal key behind a symbolic link" "^error: seal_key $T/cfg/seal-link.key: a symbolic link"
good; sed -i "s|^server_certificate = .*|server_certificate = $T/pki2/server.pem|" "$C"
broken "server certificate from another CA" "^error: server certificate does not validate: path"
check_output "... and the key does not match it" "^error: server_key .* does not match server_certificate" cat "$T/cc.out"
good; sed -i "s|^server_certificate = .*|server_certificate = $P/users/alice@$D.pem|; s|^server_key = .*|server_key = $T/cfg/alice.key|" "$C"
install -m 0600 "$P/users/alice@$D.key" "$T/cfg/alice.key"
broken "a user certificate as server certificate (Annex C.2)" "^error: server certificate does not validate: c2-"
good; sed -i "s|^trust_anchors = .*|trust_anchors = $T/nonexistent.pem|" "$C"
broken "trust anchors unreadable" "^error: trust_anchors $T/nonexistent.pem unreadable"
good; echo "garbage" > "$T/cfg/anchors.pem"; sed -i "s|^trust_anchors = .*|trust_anchors = $T/cfg/anchors.pem|" "$C"
broken "trust anchors without a certificate" "^error: trust_anchors $T/cfg/anchors.pem unreadable"
good; sed -i "s|^crl_directory = .*|crl_directory = $T/cfg/nocrl|" "$C"
broken "CRL missing" "^error: crl_directory $T/cfg/nocrl"
# an expired CRL (nextUpdate in 2020), signed by the test CA
mkdir -p "$T/oldcrl" && : > "$T/oldcrl/index.txt" && echo 05 > "$T/oldcrl/crlnumber"
printf '[ca]\ndefault_ca=c\n[c]\ndatabase=%s\ncrlnumber=%s\ndefault_md=sha256\ncrl_extensions=e\n[e]\nauthorityKeyIdentifier=keyid:always\n' \
  "$T/oldcrl/index.txt" "$T/oldcrl/crlnumber" > "$T/oldcrl/ca.cnf"
if openssl ca -config "$T/oldcrl/ca.cnf" -gencrl -keyfile "$P/ca.key" -cert "$P/ca.pem" \
    -crl_lastupdate 20200101000000Z -crl_nextupdate 20200108000000Z -out "$T/oldcrl/crl.pem" >/dev/null 2>&1; then
  good; cp "$T/oldcrl/crl.pem" "$T/cfg/crl.pem"
  broken "an expired CRL" "^error: crl_directory: $T/cfg/crl.pem: the CRL of .* expired \(nextUpdate Jan  8 00:00:00 2020 GMT\)"
  check_output "... and the server certificate fails revocation" "^error: server certificate does not validate: revocation" cat "$T/cc.out"
else
  skip "openssl ca -crl_nextupdate not available"
fi
good; cp "$P/users/alice@$D.pem" "$T/cfg/certs/carol@$D.pem"
broken "a user certificate under another address" \
  "^error: certificate_directory: carol@$D.pem does not match its address"
good; cp "$T/pki2/users/eve@other.test.pem" "$T/cfg/certs/"
clean "a certificate of an unknown CA is a warning" "^warning: certificate_directory: eve@other.test.pem: path"
check_output "... and one outside local_domains too" \
  "^warning: certificate_directory: eve@other.test.pem: other.test is not in local_domains" cat "$T/cc.out"
good; cp "$P/users/alice@$D.key" "$T/cfg/certs/"
clean "a private key in the certificate directory is a warning" \
  "^warning: certificate_directory: alice@$D.key is a private key"
cp "$P/crl.pem" "$T/crl.orig"
good; "$CMAIL" pki revoke "$P" bob@$D >/dev/null; cp "$P/crl.pem" "$T/cfg/crl.pem"
clean "a revoked user certificate is a warning" "^warning: certificate_directory: bob@$D.pem: revocation"
cp "$T/crl.orig" "$P/crl.pem"
good; echo "cmail_relay_map = b.test" >> "$C"
broken "a bad cmail_relay_map" "^error: cmail_relay_map: bad entry 'b.test'"
good; echo "cmail_relay_map = b.test=127.0.0.3:10587, c.test=[mx.c.test]:10587" >> "$C"
clean "a good cmail_relay_map"
good; sed -i "s|^notary_user = .*|notary_user = no-such-user-cmail|" "$C"
broken "notary_user unknown" "^error: notary_user no-such-user-cmail: no such user"
good; sed -i "s|^tls_key = .*|tls_key = $T/cfg/tls2.key|" "$C"
install -m 0600 "$P/users/alice@$D.key" "$T/cfg/tls2.key"
broken "TLS key does not match the TLS certificate" "^error: tls_key $T/cfg/tls2.key does not match tls_certificate"
good; echo "schema_directory = $T/cfg" >> "$C"
broken "schema directory without the schema" "^error: schema_directory $T/cfg: no readable x1341-notices.xsd"

# --- main.cf ----------------------------------------------------------------
SCOPE=--no-dovecot
good; sed -i '/^smtpd_milters/d' "$PF/main.cf"
broken "main.cf without smtpd_milters" "^error: main.cf: smtpd_milters lacks the cmail milter"
good; sed -i "s|^smtpd_milters = .*|smtpd_milters = inet:127.0.0.1:8891, unix:/elsewhere.sock|" "$PF/main.cf"
broken "main.cf with other milters only" "^error: main.cf: smtpd_milters lacks the cmail milter"
good; sed -i "s|^smtpd_milters = .*|smtpd_milters = inet:127.0.0.1:8891, { unix:$T/cfg/run/milter.sock, connect_timeout=10s }|" "$PF/main.cf"
clean "main.cf: the cmail milter among others, with settings"
good; sed -i "s|^smtpd_milters = .*|cmail_milter = unix:$T/cfg/run/milter.sock\nsmtpd_milters = \$cmail_milter|" "$PF/main.cf"
clean "main.cf: the milter through a \$parameter"
good; sed -i "s|^milter_socket = .*|milter_socket = unix:$T/cfg/spool/cmail/milter.sock|" "$C"
sed -i "s|unix:$T/cfg/run/milter.sock|unix:/cmail/milter.sock|" "$PF/main.cf" "$PF/master.cf"
clean "chroot-relative milter paths count (queue_directory prefix)"
sed -i "s|^queue_directory = .*|queue_directory = $T/elsewhere|" "$PF/main.cf"
broken "... but only below queue_directory" "^error: main.cf: smtpd_milters lacks the cmail milter"
good; sed -i "s|^milter_socket = .*|milter_socket = 127.0.0.1:29999|" "$C"
sed -i "s|unix:$T/cfg/run/milter.sock|inet:127.0.0.1:29999|" "$PF/main.cf" "$PF/master.cf"
clean "a TCP milter: host:port in cmail.conf is inet:host:port in Postfix"
good; sed -i '/^non_smtpd_milters/d' "$PF/main.cf"
broken "main.cf without non_smtpd_milters" "^error: main.cf: non_smtpd_milters lacks the cmail milter"
good; echo "maximal_queue_lifetime = 2d" >> "$PF/main.cf"; echo "relay_lifetime = 172800" >> "$C"
clean "relay_lifetime not below maximal_queue_lifetime is a warning" \
  "^warning: cmail.conf relay_lifetime \(172800s\) is not below main.cf maximal_queue_lifetime \(172800s\)"
sed -i 's/^relay_lifetime = .*/relay_lifetime = 86400/' "$C"
cc
if grep -q "relay_lifetime" "$T/cc.out"; then not_ok "relay_lifetime below maximal_queue_lifetime"; else ok "relay_lifetime below maximal_queue_lifetime"; fi
good; echo "message_size_limit = 10240000" >> "$PF/main.cf"
clean "Postfix's message_size_limit below the largest stored form is a warning" \
  "^warning: main.cf: message_size_limit = 10240000 is below what the largest deposit cmail.conf allows needs"
echo "message_size_limit = 5m" >> "$C"
cc
if grep -q "message_size_limit" "$T/cc.out"; then not_ok "a Postfix limit above the stored form: no warning"; else ok "a Postfix limit above the stored form: no warning"; fi
good; sed -i 's/^milter_default_action = .*/milter_default_action = accept/' "$PF/main.cf"
broken "milter_default_action = accept" "^error: main.cf: milter_default_action = accept"
good; sed -i 's|^  -o syslog_name=postfix/submission|&\n  -o smtpd_milters=inet:127.0.0.1:8891|' "$PF/master.cf"
broken "a service overriding smtpd_milters without ours" \
  "^error: master.cf: service submission overrides smtpd_milters without the cmail milter"

# --- master.cf --------------------------------------------------------------
good; sed -i '/^10587/,+1d' "$PF/master.cf"
if [ -e /etc/systemd/system/sockets.target.wants/cmtpd.socket ]; then
  clean "master.cf without cmtpd, but cmtpd.socket enabled here" "" -v
else
  broken "master.cf without cmtpd" "^error: master.cf: no service runs cmtpd"
  # A standalone cmtpd -l (cmtpd.service) counts when it reads this cmail.conf.
  bash -c "exec -a $T/bin/cmtpd bash -c 'sleep 60; :' x -l 127.0.0.1:1 -c $T/other.conf" &
  other=$!
  sleep 0.3
  broken "master.cf without cmtpd, a cmtpd -l with another cmail.conf running" "^error: master.cf: no service runs cmtpd"
  kill $other 2>/dev/null; wait $other 2>/dev/null
  bash -c "exec -a $T/bin/cmtpd bash -c 'sleep 60; :' x -l 127.0.0.1:1 -c $C" &
  other=$!
  sleep 0.3
  clean "master.cf without cmtpd, a cmtpd -l with this cmail.conf running" \
    "^ok: a standalone cmtpd -l with this cmail.conf is running \(pid $other\)" -v
  kill $other 2>/dev/null; wait $other 2>/dev/null
fi
good; sed -i 's/user=cmail argv=.*cmtpd/user=root argv=\/nonexistent\/cmtpd/' "$PF/master.cf"
broken "cmtpd as root" "^error: master.cf: service 10587 \(cmtpd\) runs as root"
check_output "... and not executable" "^error: master.cf: service 10587 \(cmtpd\): /nonexistent/cmtpd is not executable" cat "$T/cc.out"
good; sed -i "s|argv=$CMTPD -c $C|argv=$CMTPD|" "$PF/master.cf"
clean "cmtpd reading another cmail.conf is a warning" \
  "^warning: master.cf: service 10587 \(cmtpd\) reads /[^ ]*/cmail.conf, not $C \(the file checked here\)"
good; sed -i "/^$INJ/,/mynetworks/d" "$PF/master.cf"
broken "injection listener missing" \
  "^error: master.cf: the injection listener on $INJ \(cmail.conf injection_address\) is missing"
good; sed -i "/^$INJ/,/mynetworks/{/smtpd_milters/d}" "$PF/master.cf"
clean "injection listener inheriting main.cf's milters"
good; sed -i "/^$INJ/,/mynetworks/{s|-o smtpd_milters=.*|-o smtpd_milters=|}" "$PF/master.cf"
broken "injection listener without the milter" \
  "^error: master.cf: the injection listener on $INJ \(cmail.conf injection_address\) has no milter"
good; sed -i "s|^$INJ inet|${INJ#*:} inet|" "$PF/master.cf"
broken "injection listener on all interfaces" \
  "^error: master.cf: the injection listener on $INJ \(cmail.conf injection_address\) is not loopback"
good; sed -i "s|^$INJ inet|192.0.2.1:${INJ#*:} inet|" "$PF/master.cf"
broken "injection listener on a public address" "^error: master.cf: the injection listener on $INJ .* is not loopback"
good; sed -i "/^$INJ/,/mynetworks/{/milter_macro_daemon_name/d}" "$PF/master.cf"
broken "injection listener without milter_macro_daemon_name" \
  "^error: master.cf: the injection listener on $INJ .* has milter_macro_daemon_name = \\\$myname, not cmail.conf milter_injection_name cmail-inject"
good; sed -i "/^$REL/,/mynetworks/{/content_filter/d}" "$PF/master.cf"
broken "relay listener without the content filter" \
  "^error: master.cf: relay injection listener on $REL lacks content_filter=cmail-relay:"
good; sed -i "/^$REL/,/mynetworks/{s|-o smtpd_milters=.*|-o smtpd_milters=unix:$T/cfg/run/milter.sock|}" "$PF/master.cf"
broken "relay listener with the cmail milter" \
  "^error: master.cf: the relay injection listener on $REL .* runs the cmail milter"
good; sed -i "/^$REL/,/mynetworks/{/smtpd_milters/d}" "$PF/master.cf"
broken "relay listener inheriting main.cf's milters" \
  "^error: master.cf: the relay injection listener on $REL .* runs the cmail milter"
good; sed -i "/^$REL/,/mynetworks/d" "$PF/master.cf"
broken "relay listener missing" "^error: master.cf: the relay injection listener on $REL .* is missing"
good; sed -i '/^smtp /d' "$PF/master.cf"
clean "no smtpd for notice_submission_address is a warning" \
  "^warning: master.cf: no smtpd listens on notice_submission_address 127.0.0.1:25"
good; sed -i '/^cmail-relay/,+1d' "$PF/master.cf"
broken "no cmail-relay pipe service" "^error: master.cf: no cmail-relay pipe service"
check_output "... so the content filter points nowhere" "lacks content_filter=cmail-relay: \(content_filter cmail-relay:\)" cat "$T/cc.out"
good; sed -i 's/flags=Rq user=cmail/flags=Rq user=root/' "$PF/master.cf"
broken "cmail-relay as root" "^error: master.cf: pipe service cmail-relay \(cmail-relay\) runs as root"
good; sed -i 's/-d \${nexthop} //' "$PF/master.cf"
broken "cmail-relay without \${nexthop}" "^error: master.cf: pipe service cmail-relay .*lacks -d \\\$\{nexthop\}"
good; sed -i 's/^compatibility_level.*/compatibility_level = 3.6\nbroken_line/' "$PF/main.cf"
broken "postconf failing is reported" "^error: postfix: postconf -c $PF -xn failed: "
good; sed -i '/^smtpd_milters/d' "$PF/main.cf"
SCOPE= clean "--no-postfix skips Postfix" "" --no-postfix

# --- dovecot ----------------------------------------------------------------
SCOPE=--no-postfix
good; sed -i 's/\$mail_plugins cmail$/$mail_plugins/' "$DC"
broken "protocol pop3 without the cmail plugin" "^error: dovecot: protocol pop3 does not load the cmail plugin"
good; sed -i "/cmail_config/d" "$DC"
broken "plugin { cmail_config } not set" "^error: dovecot: plugin \{ cmail_config \} is not set"
good; sed -i "s|cmail_config = .*|cmail_config = /etc/cmail/cmail.conf|" "$DC"
broken "plugin { cmail_config } elsewhere" \
  "^error: dovecot: plugin \{ cmail_config \} points elsewhere: /etc/cmail/cmail.conf, not $C"
good; sed -i "s/^protocols = .*/protocols = imap/" "$DC"
broken "pop3 not in protocols" "^error: dovecot: pop3 is not in protocols"
good; rm "$T/cfg/modules/lib95_cmail_plugin.so"
broken "plugin not installed" "^error: dovecot: the cmail plugin is not installed: $T/cfg/modules/lib95_cmail_plugin.so"
good; sed -i "/^mail_always_cache_fields/d" "$DC"
clean "no cached X-Cmail-Delivery-Type is a warning" "^warning: dovecot: mail_always_cache_fields lacks hdr.x-cmail-delivery-type"
good; printf 'plugin {\n  cmail_submission_host = 127.0.0.1:1\n}\n' >> "$DC"
clean "unreachable submission host is a warning" \
  "^warning: dovecot: plugin \{ cmail_submission_host = 127.0.0.1:1 \} not reachable"
good; sed -i 's/\$mail_plugins cmail_deliver/$mail_plugins/' "$DC"
clean "protocol lmtp without cmail_deliver is a warning" \
  "^warning: dovecot: protocol lmtp does not load the cmail_deliver plugin"
good; sed -i "s/^protocols = .*/protocols = imap pop3/" "$DC"
clean "without lmtp in protocols, dovecot-lda (protocol lda) is checked" \
  "^warning: dovecot: protocol lda does not load the cmail_deliver plugin"
good; rm "$T/cfg/modules/lib95_cmail_deliver_plugin.so"
clean "cmail_deliver not installed is a warning" \
  "^warning: dovecot: the cmail_deliver plugin is not installed: $T/cfg/modules/lib95_cmail_deliver_plugin.so"
good
clean "protocol lmtp loading cmail_deliver passes" "^ok: dovecot: protocol lmtp loads the cmail_deliver plugin" -v
good; echo "bogus_setting = 1" >> "$DC"
broken "doveconf failing is reported" "^error: dovecot: doveconf -c $DC failed: .*bogus_setting"
SCOPE= clean "--no-dovecot skips Dovecot" "" --no-dovecot

# --- several problems at once: all reported ---------------------------------
SCOPE=
good; chmod 0644 "$T/cfg/server.key"; sed -i '/^cmail-relay/,+1d' "$PF/master.cf"; sed -i "/cmail_config/d" "$DC"
broken "three problems: the key" "^error: key file $T/cfg/server.key"
check_output "three problems: the pipe service" "^error: master.cf: no cmail-relay pipe service" cat "$T/cc.out"
check_output "three problems: dovecot" "^error: dovecot: plugin \{ cmail_config \} is not set" cat "$T/cc.out"

# --- a running notary: PING, and a seal key rotated on disk but not loaded --
SCOPE="--no-postfix --no-dovecot"
good
"$NOTARY" -f -c "$C" >"$T/notary.log" 2>&1 &
NPID=$!
cm_on_exit "kill $NPID 2>/dev/null"
for i in $(seq 50); do [ -S "$T/cfg/run/notary.sock" ] && break; sleep 0.1; done
if [ -S "$T/cfg/run/notary.sock" ]; then
  chmod 0666 "$T/cfg/run/notary.sock"
  clean "a running notary answers PING" "^ok: cmail-notary .* answers on $T/cfg/run/notary.sock" -v
  if grep -q "notary socket .* not reachable" "$T/cc.out"; then not_ok "no notary warning"; else ok "no notary warning"; fi
  install -m 0600 "$T/keys/seal2.key" "$T/cfg/seal.key"
  clean "a seal key replaced on disk but not loaded is a warning" \
    "^warning: cmail-notary runs with seal key id [0-9a-f]{16}, seal_key $T/cfg/seal.key has [0-9a-f]{16}: restart it"
  kill "$NPID" 2>/dev/null
  wait "$NPID" 2>/dev/null
else
  not_ok "cmail-notary did not start"; sed 's/^/# /' "$T/notary.log"
fi

cm_done
