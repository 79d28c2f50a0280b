#!/usr/bin/env bash
# adversarial.sh - the adversarial corpus of test/adversarial/ (issue 8): hostile XML, signature
# wrapping, duplicated Ids, wrong and untrusted signers, another recipient's answer, expired / revoked /
# wrong-address / wrong-EKU / untrusted certificates, oversized inputs, CMTP downgrades and injections.
# Each case of test/adversarial/MANIFEST is fed to `cmail verify`, `cmail cert check` or cmtpd and must
# be rejected with its exit status and error text: 100% rejected, no crash. Cases marked vg also run
# under valgrind (no definite leak, no memory error), except in test/run's ASan+UBSan pass, where the
# sanitizers check every case. Keys are made at test time (test/adversarial/gen.sh).
. "$top_srcdir/test/shell/lib.sh"
. "$top_srcdir/test/shell/lib_mta.sh"
A=$top_srcdir/test/adversarial
PLAY=$top_builddir/test/tools/cmtp_play
CMTPD=$top_builddir/cmtpd/cmtpd
for tool in openssl xmlsec1 perl; do
  command -v $tool >/dev/null || { skip "$tool not installed"; cm_done; exit 0; }
done
for p in "$CMAIL" "$PLAY" "$CMTPD" "$top_builddir/test/tools/notice_tool"; do
  [ -x "$p" ] || { not_ok "$p not built"; cm_done; exit 0; }
done
VG=
if [ -n "${CMAIL_SANITIZED_RUN:-}" ]; then
  vg_why="the ASan+UBSan pass checks memory instead"
elif ! command -v valgrind >/dev/null; then
  vg_why="valgrind not installed (Debian package valgrind)"
else
  VG="$(command -v valgrind) -q --error-exitcode=99 --leak-check=full --errors-for-leak-kinds=definite --show-leak-kinds=definite"
fi

# --- the generated half of the corpus ---------------------------------------------------------------
. "$A/gen.sh"
G=$T/gen
if (set -x; adv_generate "$G") 2>"$T/gen.err"; then ok "generated the keyed cases (PKI, notices, certificates)"
else not_ok "generating the corpus"; tail -n 30 "$T/gen.err" | sed "s/^/# /"; cm_done; exit 0; fi
P=$G/pki RCRL=$G/pki-revoked/crl.pem

# cmtpd configurations: the clean CRL and the one revoking alice and bob; no notary is needed (no case
# gets past DATA), message_size_limit 20000
conf() {
  cat <<EOC
myhostname = mail.example.org
local_domains = example.org
server_certificate = $P/server.pem
tls_certificate = $P/server.pem
tls_key = $P/server.key
trust_anchors = $P/ca.pem
crl_directory = $1
certificate_directory = $P/users
notary_socket = $T/no-notary.sock
spool_directory = $T/spool
message_size_limit = 20000
smtp_timeout = 10
EOC
}
mkdir -p "$T/spool"
conf "$P/crl.pem" >"$T/cmail.conf"
conf "$RCRL" >"$T/cmail-revoked.conf"

# run_case TOOL INPUT [WRAP...]: run one case, output in $T/.out, exit status returned
run_case() {
  local tool=$1 in=$2; shift 2
  case $tool in
    verify) "$@" "$CMAIL" verify "$in" --ca "$P/ca.pem" --crl "$P/crl.pem" ;;
    verify-revoked) "$@" "$CMAIL" verify "$in" --ca "$P/ca.pem" --crl "$RCRL" ;;
    cert) "$@" "$CMAIL" cert check "$in" --ca "$P/ca.pem" --crl "$P/crl.pem" --address alice@example.org ;;
    cert-revoked) "$@" "$CMAIL" cert check "$in" --ca "$P/ca.pem" --crl "$RCRL" --address alice@example.org ;;
    cmtp|cmtp-revoked)
      local cf=$T/cmail.conf
      [ "$tool" = cmtp-revoked ] && cf=$T/cmail-revoked.conf
      sed -e "s#@SRC@#$A#g" -e "s#@GEN@#$G#g" "$in" >"$T/script"
      "$PLAY" --ca "$P/ca.pem" -- "$@" "$CMTPD" -c "$cf" -L "$T/cmtpd.log" <"$T/script" ;;
    tls11) tls11 ;;
    *) echo "unknown tool $tool"; return 125 ;;
  esac
}

# tls11: cmtpd -T on a loopback port, a client offering only TLS 1.1 (and allowing it at security
# level 0) must not get a session
tls11() {
  local port pid rc
  mta_free_port port || return 125
  "$CMTPD" -T -c "$T/cmail.conf" -l "127.0.0.1:$port" -L "$T/cmtpd-tls.log" >/dev/null 2>&1 &
  pid=$!
  mta_wait_port "$port" 10 || { kill $pid; echo "cmtpd -T did not listen"; return 125; }
  echo QUIT | timeout 20 openssl s_client -connect "127.0.0.1:$port" -tls1_1 -cipher 'DEFAULT@SECLEVEL=0' \
    -servername mail.example.org 2>&1
  rc=${PIPESTATUS[1]}
  kill $pid 2>/dev/null; wait $pid 2>/dev/null
  return "$rc"
}

total=0 rejected=0
while read -r name tool input want vg frag; do
  case $name in ''|'#'*) continue ;; esac
  total=$((total + 1))
  case $input in @*) in=$G/${input#@} ;; -) in=- ;; *) in=$A/$input ;; esac
  rc=0; run_case "$tool" "$in" >"$T/.out" 2>&1 || rc=$?
  case $tool in
    verify*) got=$(tail -n 1 "$T/.out") ;;
    cmtp*) got=$(grep -F -- "$frag" "$T/script" | head -n 1) ;;
    *) got=$(grep -F -- "$frag" "$T/.out" | head -n 1) ;;
  esac
  if [ "$rc" -ne "$want" ]; then
    not_ok "$name: exit status $rc, expected $want"; sed 's/^/# /' "$T/.out" | tail -n 15
  elif ! printf '%s\n' "$got" | grep -Fq -- "$frag"; then
    not_ok "$name: no \"$frag\" in the error"; sed 's/^/# /' "$T/.out" | tail -n 15
  else
    rejected=$((rejected + 1))
    ok "$name rejected ($tool, exit $rc): $(printf '%s' "${got:-$frag}" | cut -c1-110)"
  fi
  [ "$vg" = vg ] || continue
  if [ -z "$VG" ]; then skip "$name under valgrind: $vg_why"; continue; fi
  rm -f "$T"/vg.*
  rc=0; run_case "$tool" "$in" $VG --log-file="$T/vg.%p" >"$T/.vgout" 2>&1 || rc=$?
  if [ "$rc" -eq "$want" ] && ! grep -qs -E 'definitely lost: [1-9]|Invalid (read|write)|uninitialised|ERROR SUMMARY: [1-9]' "$T"/vg.*; then
    ok "$name under valgrind: same exit status $rc, no memory error, no definite leak"
  else
    not_ok "$name under valgrind: exit $rc"; cat "$T/.vgout" "$T"/vg.* 2>/dev/null | head -n 40 | sed 's/^/# /'
  fi
done <"$A/MANIFEST"
[ "$total" -ge 60 ] && [ "$rejected" -eq "$total" ] && ok "$rejected of $total adversarial cases rejected (100%)" \
  || not_ok "$rejected of $total adversarial cases rejected"
cm_done
