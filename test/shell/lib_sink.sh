# test/shell/lib_sink.sh - cmail-notary and an smtp-sink without Postfix, for the
# tests that drive cmtpd directly (CMTP transcripts, the worker pool)
#
# Source it after lib.sh and lib_mta.sh (mta_free_port, mta_wait_port):
#   sink_setup DOMAIN PKI [TRUST [CRL [LINE...]]]: $T/spool, $T/sink (mode 1777), a
#       new seal key, a free SINK_PORT and $T/cmail.conf for mail.DOMAIN with PKI's
#       server key and certificate, trust anchors TRUST and CRLs CRL (default: the
#       PKI's own), notary on $T/notary.sock, stored forms injected into the sink;
#       each LINE ("key = value") is appended;
#   sink_start_notary [LOG]: (re)start cmail-notary on $T/cmail.conf, logging to LOG
#       (default $T/notary.log, appended), wait for its socket; NOTARY_PID;
#   sink_start_smtp: smtp-sink on 127.0.0.1:$SINK_PORT, one file per message in
#       $T/sink; SINK_PID.
# Both are stopped at exit (cm_on_exit).

: "${NOTARY:=$top_builddir/notary/cmail-notary}"

sink_setup() {
  local domain=$1 pki=$2 trust=${3:-$2/ca.pem} crl=${4:-$2/crl.pem} line
  shift 2; [ $# -gt 0 ] && shift; [ $# -gt 0 ] && shift
  mkdir -p "$T/spool" "$T/sink"; chmod 1777 "$T/sink"; chmod o+x "$T"
  "$NOTARY" -G "$T/seal.key" >/dev/null
  mta_free_port SINK_PORT
  cat > "$T/cmail.conf" <<EOC
myhostname = mail.$domain
local_domains = $domain
server_certificate = $pki/server.pem
server_key = $pki/server.key
seal_key = $T/seal.key
tls_certificate = $pki/server.pem
tls_key = $pki/server.key
trust_anchors = $trust
crl_directory = $crl
certificate_directory = $pki/users
notary_socket = $T/notary.sock
notary_user = root
evidence_database = $T/evidence.db
spool_directory = $T/spool
injection_address = 127.0.0.1:$SINK_PORT
smtp_timeout = 10
EOC
  for line in "$@"; do printf '%s\n' "$line" >> "$T/cmail.conf"; done
}

sink_start_notary() {
  local i
  rm -f "$T/notary.sock"
  "$NOTARY" -f -c "$T/cmail.conf" >>"${1:-$T/notary.log}" 2>&1 &
  NOTARY_PID=$!
  cm_on_exit "kill $NOTARY_PID 2>/dev/null"
  for i in $(seq 100); do [ -S "$T/notary.sock" ] && break; sleep 0.1; done
}

sink_start_smtp() {
  smtp-sink -u postfix -d "$T/sink/%M." "127.0.0.1:$SINK_PORT" 10 >"$T/sink.log" 2>&1 &
  SINK_PID=$!
  cm_on_exit "kill $SINK_PID 2>/dev/null"
  mta_wait_port "$SINK_PORT" 10 || not_ok "smtp-sink did not start"
}
