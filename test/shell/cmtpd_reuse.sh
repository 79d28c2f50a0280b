#!/usr/bin/env bash
# cmtpd_reuse.sh - what a cmtpd -l worker keeps between the connections it
# serves (cmtp_deposit.c): its notary connection and up to 4 emptied unnamed
# spool files. One worker (-p 1) serves every deposit here:
#   - a 200 KB deposit, then a 2 KB one: the second stored form is small (no
#     byte of the first survives in a reused file) and names its own envelope;
#   - the worker holds at most 4 spool files afterwards, all unnamed (deleted);
#   - one notary connection for several deposits (the notary logs one connect);
#   - the notary restarted between deposits: the next deposit still goes
#     through (the dead kept connection is replaced), with no duplicate
#     "deposited" row;
#   - a recipient revoked after the worker validated it once is refused by the
#     same worker (revocation stays current).
# No Postfix: the injection listener is smtp-sink, the notary the real one.
. "$top_srcdir/test/shell/lib.sh"
. "$top_srcdir/test/shell/lib_mta.sh"
. "$top_srcdir/test/shell/lib_sink.sh"

CMTPD=$top_builddir/cmtpd/cmtpd
NOTARY=$top_builddir/notary/cmail-notary
if ! command -v smtp-sink >/dev/null && [ ! -x /usr/sbin/smtp-sink ]; then
  skip "smtp-sink (Debian package postfix) not installed"; cm_done; exit 0
fi
PATH=$PATH:/usr/sbin

P=$T/pki
"$CMAIL" pki init "$P" --domain example.org --user alice@example.org --user bob@example.org \
  --user carol@example.org >/dev/null || { not_ok "cmail pki init"; cm_done; exit 1; }
sink_setup example.org "$P"
mta_free_port PORT
sink_start_notary
sink_start_smtp

"$CMTPD" -c "$T/cmail.conf" -L "$T/cmtpd.log" -l "127.0.0.1:$PORT" -p 1 -m 50 -i 60 >>"$T/cmtpd.out" 2>&1 &
POOL_PID=$!
cm_on_exit "kill $POOL_PID 2>/dev/null"
mta_wait_port "$PORT" 10

# message FILE KB: a message of about KB kilobytes to bob
message() {
  { printf 'From: alice@example.org\r\nTo: bob@example.org\r\nSubject: reuse %s\r\n\r\n' "$2"
    head -c $(( $2 * 768 )) /dev/urandom | base64 -w 76 | sed 's/$/\r/'; } > "$1"
}
message "$T/big.eml" 200
message "$T/small.eml" 2
# send FILE [--to ADDR]: one deposit by alice; its output in $T/send.out
send() {
  local f=$1; shift
  "$CMAIL" send --server "127.0.0.1:$PORT" --server-name mail.example.org --from alice@example.org \
    --cert "$P/users/alice@example.org.pem" --key "$P/users/alice@example.org.key" \
    --ca "$P/ca.pem" --crl "$P/crl.pem" --timeout 30 "$@" "$f" >"$T/send.out" 2>&1
}
deposit() { send "$1" --to "${2:-bob@example.org}" && grep -q '^deposited: envelope' "$T/send.out"; }
envid() { sed -n 's/^deposited: envelope \([^ ,]*\).*/\1/p' "$T/send.out" | head -1; }
# sink_of ENVID: the sink file holding that envelope
sink_of() { grep -l -F "$1" "$T"/sink/* 2>/dev/null | head -1; }

check "a 200 KB deposit through the one worker" deposit "$T/big.eml"
[ -s "$T/send.out" ] && grep -q '^deposited' "$T/send.out" || sed 's/^/# /' "$T/send.out"
ID1=$(envid)
check "then a 2 KB deposit through the same worker" deposit "$T/small.eml"
ID2=$(envid)
F1=$(sink_of "$ID1"); F2=$(sink_of "$ID2")
s1=$(stat -c %s "$F1" 2>/dev/null || echo 0); s2=$(stat -c %s "$F2" 2>/dev/null || echo 0)
check "the big stored form is over 200 KB ($s1 bytes)" test "$s1" -gt 204800
check "the small one is under 64 KB: nothing of the big one left in a reused file ($s2 bytes)" \
  test "$s2" -gt 0 -a "$s2" -lt 65536
check_fails "the small stored form does not name the big deposit's envelope" grep -q -F "$ID1" "$F2"
n=$(grep -o 'cmtpd\[[0-9]*\]: connect from' "$T/cmtpd.log" | sort -u | wc -l)
check "one worker served both connections ($n)" test "$n" -eq 1
W=$(grep -o 'cmtpd\[[0-9]*\]: connect from' "$T/cmtpd.log" | head -1 | grep -o '[0-9]*')
nspool=$(ls -l "/proc/$W/fd" 2>/dev/null | grep -c "$T/spool/")
ndel=$(ls -l "/proc/$W/fd" 2>/dev/null | grep "$T/spool/" | grep -c '(deleted)')
check "the idle worker keeps 1 to 4 emptied spool files ($nspool)" test "$nspool" -ge 1 -a "$nspool" -le 4
check "every kept spool file is unnamed ($ndel of $nspool)" test "$ndel" -eq "$nspool"
big=$(for f in /proc/$W/fd/*; do
        case $(readlink "$f") in "$T/spool/"*) stat -L -c %s "$f" ;; esac
      done 2>/dev/null | sort -n | tail -1)
check "the kept spool files are empty (largest: ${big:-0} bytes)" test "${big:-0}" -eq 0
nc=$(grep -c "connect from pid=$W " "$T/notary.log")
check "the worker used one notary connection for both deposits ($nc)" test "$nc" -eq 1

# The notary restarts: the worker's kept connection is dead.
kill "$NOTARY_PID"; wait "$NOTARY_PID" 2>/dev/null
sink_start_notary "$T/notary2.log"
check "after a notary restart the same worker deposits again" deposit "$T/small.eml"
[ -s "$T/send.out" ] && grep -q '^deposited' "$T/send.out" || sed 's/^/# /' "$T/send.out"
ID3=$(envid)
check "and again" deposit "$T/big.eml"
n=$(grep -c "connect from pid=$W " "$T/notary2.log")
check "one new notary connection after the restart ($n)" test "$n" -eq 1
n=$(grep -c "$ID3: deposited, queued as" "$T/cmtpd.log")
check "the deposit after the restart was journalled once ($n)" test "$n" -eq 1
n=$(grep -o 'cmtpd\[[0-9]*\]: connect from' "$T/cmtpd.log" | sort -u | wc -l)
check "still one worker ($n)" test "$n" -eq 1

# Revocation stays current in a worker that validated the certificate before.
check "carol, validated once by the worker" deposit "$T/small.eml" carol@example.org
sleep 1
"$CMAIL" pki revoke "$P" carol@example.org >/dev/null 2>&1
check_fails "carol revoked: the same worker refuses a deposit to her" deposit "$T/small.eml" carol@example.org
check_output "cmtpd says why (revocation)" "reject RCPT TO <carol@example.org>: .*revo" cat "$T/cmtpd.log"
check "bob is still fine" deposit "$T/small.eml"
n=$(grep -o 'cmtpd\[[0-9]*\]: connect from' "$T/cmtpd.log" | sort -u | wc -l)
check "all of it in one worker ($n)" test "$n" -eq 1

kill -TERM "$POOL_PID"; wait "$POOL_PID" 2>/dev/null
cm_done
