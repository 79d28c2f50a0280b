#!/bin/bash
# test/shell/relay_cli.sh - cmail-relay as Postfix pipe(8) runs it: arguments and exit codes (64 bad
# arguments, 75 configuration (deferred), 65 not a stored form or receipt notice mail, 75 notary down or peer
# unreachable, 69 given up), exactly one line on stderr for every failure, no file left behind; then,
# with a running cmail-notary, a scripted CMTP peer (Python ssl, mutual TLS) and an SMTP sink for the
# notice mails: SEND EVLP with the transit notice countersigned, journalled and mailed (checked with
# cmail verify, xmllint --schema and xmlsec1 --verify; its fixed Message-ID), the same stored form
# again stopped by the journal's "relayed" row, a notice mail that cannot be queued after the peer's
# 250 (75, then the retry), a 554 from the peer and an expired message giving a signed non-delivery
# notice, a peer for another domain refused (77), SEND NORP.
# RELAY_WRAPPER="valgrind --log-file=..." runs cmail-relay under a checker.
. "$top_srcdir/test/shell/lib.sh" || exit 99
[ -n "${T:-}" ] && [ -d "$T" ] || { echo "Bail out! no scratch directory"; exit 99; }

RELAY=$top_builddir/cmtpd/cmail-relay
NOTARY=$top_builddir/notary/cmail-notary
NT=$top_builddir/test/tools/notice_tool
SFT=$top_builddir/test/tools/storedform_tool
[ -x "$RELAY" ] || { skip "cmail-relay not built"; cm_done; exit; }

# run_relay NAME STDIN-FILE ARGS...: exit status in $RC, stderr in $T/NAME.err
run_relay() {
  local name=$1 in=$2; shift 2
  ${RELAY_WRAPPER:-} "$RELAY" "$@" <"$in" >"$T/$name.out" 2>"$T/$name.err"
  RC=$?
}
# expect NAME WANT TEXT [PATTERN]: exit status WANT, one stderr line (matching PATTERN)
expect() {
  local name=$1 want=$2 text=$3 pat=${4:-.}
  if [ "$RC" = "$want" ]; then ok "$text: exit $want"; else not_ok "$text: exit $RC, want $want"; sed 's/^/# /' "$T/$name.err"; fi
  if [ "$RC" != 0 ]; then
    if [ "$(wc -l <"$T/$name.err")" = 1 ] && grep -Eq -- "$pat" "$T/$name.err"; then
      ok "$text: one line on stderr: $(head -c 150 "$T/$name.err")"
    else
      not_ok "$text: stderr is not one line matching /$pat/"; sed 's/^/# /' "$T/$name.err"
    fi
  fi
}

mkdir -p "$T/spool"
printf 'Subject: plain\n\nordinary mail\n' >"$T/plain.eml"
: >"$T/empty.eml"

# --- arguments: 64 --------------------------------------------------------------------------------
run_relay noargs "$T/plain.eml"
expect noargs 64 "no arguments" "usage: cmail-relay"
run_relay nod "$T/plain.eml" -f a@a.test -- bob@b.test
expect nod 64 "no -d" "usage"
run_relay norcpt "$T/plain.eml" -f a@a.test -d b.test
expect norcpt 64 "no recipient" "usage"
run_relay badopt "$T/plain.eml" -x -f a@a.test -d b.test -- bob@b.test
expect badopt 64 "unknown option" "usage"
run_relay badrcpt "$T/plain.eml" -f a@a.test -d b.test -- 'bob@b.test' 'not an address'
expect badrcpt 64 "a recipient that is not an address" "bad recipient address 'not an address'"
run_relay mixed "$T/plain.eml" -f a@a.test -d b.test -- bob@b.test dave@d.test
expect mixed 75 "recipients in two domains (a configuration problem: deferred, not bounced)" "configuration: recipients in several domains .*default_filter_nexthop"

# --- configuration: 75, deferred ----------------------------------------------------------------------------
run_relay noconf "$T/plain.eml" -c "$T/missing.conf" -f a@a.test -d b.test -- bob@b.test
expect noconf 75 "missing cmail.conf" "configuration: .*missing.conf"
echo "colour = blue" >"$T/unknown.conf"
run_relay unknownkey "$T/plain.eml" -c "$T/unknown.conf" -f a@a.test -d b.test -- bob@b.test
expect unknownkey 75 "unknown cmail.conf parameter" "configuration: .*line 1: unknown parameter 'colour'"
echo "cmail_relay_map = b.test" >"$T/badmap.conf"
run_relay badmap "$T/plain.eml" -c "$T/badmap.conf" -f a@a.test -d b.test -- bob@b.test
expect badmap 75 "bad cmail_relay_map" "configuration: .*cmail_relay_map: bad entry 'b.test'"

# --- not a stored form: 65 ------------------------------------------------------------------------
{ echo "myhostname = mail.a.test"; echo "spool_directory = $T/spool"
  echo "notary_socket = $T/nowhere.sock"; } >"$T/min.conf"
run_relay plain "$T/plain.eml" -c "$T/min.conf" -f a@a.test -d b.test -- bob@b.test
expect plain 65 "an ordinary mail" "not a Cmail stored form or receipt notice mail"
run_relay empty "$T/empty.eml" -c "$T/min.conf" -f a@a.test -d b.test -- bob@b.test
expect empty 65 "empty input"
printf 'X-Cmail-Delivery-Type: CertifiedMail\nX-Cmail-Envelope-Id: E1\nContent-Type: multipart/mixed; boundary="=_cmail_E1"\n\n--=_cmail_E1\nContent-Type: application/x-cmail-sealed\n\n!!!notbase64\n--=_cmail_E1--\n' >"$T/badsf.eml"
run_relay badsf "$T/badsf.eml" -c "$T/min.conf" -f a@a.test -d b.test -- bob@b.test
expect badsf 65 "a broken stored form" "not a Cmail stored form"


# --- PKIs for a.test (us) and b.test (the peer); c.test is trusted but another domain ------------
for d in a b c; do
  "$CMAIL" pki init "$T/pki-$d" --domain $d.test >"$T/pki-$d.out" 2>&1 || { not_ok "cmail pki init $d.test"; cat "$T/pki-$d.out"; cm_done; exit 1; }
done
"$CMAIL" pki add-user "$T/pki-a" alice@a.test >/dev/null 2>&1 && "$CMAIL" pki add-user "$T/pki-a" carol@a.test >/dev/null 2>&1 \
  && "$CMAIL" pki add-user "$T/pki-b" bob@b.test >/dev/null 2>&1 && ok "three PKIs, users alice, carol and bob" \
  || not_ok "cmail pki add-user"
cat "$T"/pki-{a,b,c}/ca.pem >"$T/anchors.pem"
mkdir -p "$T/crl"; for d in a b c; do cp "$T/pki-$d/crl.pem" "$T/crl/$d.pem"; done
A=$T/pki-a

# A SignedReceiptNotice as the plugin mails it: server, recipient (carol), countersignature.
receipt() {  # receipt OUT SIGNING-PKI
  local out=$1 srv=$2
  "$NT" build receipt "$T/r0.xml" --to carol@a.test --cert "$A/users/carol@a.test.pem" --envelope-id R-1 &&
  "$NT" sign "$T/r0.xml" "$T/r1.xml" --key "$srv/server.key" --cert "$srv/server.pem" --place postmark &&
  "$NT" respond "$T/r1.xml" "$T/r2.xml" --answer "$(head -c 32 /dev/zero | base64)" &&
  "$NT" promote "$T/r2.xml" "$T/r3.xml" &&
  "$NT" sign "$T/r3.xml" "$T/r4.xml" --key "$A/users/carol@a.test.key" --cert "$A/users/carol@a.test.pem" --place challenge &&
  "$NT" sign "$T/r4.xml" "$out" --key "$srv/server.key" --cert "$srv/server.pem" --place postmark
} >/dev/null
receipt "$T/receipt.xml" "$A" && ok "signed receipt notice made" || not_ok "notice_tool receipt"
receipt "$T/receipt-c.xml" "$T/pki-c" || not_ok "notice_tool receipt (c.test)"
mkmail() {  # mkmail OUT NOTICE RECEIVED-DATE
  { echo "Return-Path: <postmaster@a.test>"
    echo "Received: from localhost (localhost [127.0.0.1]) by mail.a.test (Postfix) with ESMTP id 4ABC; $3"
    "$NT" mail "$T/mail.tmp" --mail-from postmaster@a.test --mail-to dave@b.test --subject "Receipt notice" \
      --attach receiptNotice.xml="$2" && cat "$T/mail.tmp"; } >"$1"
}
NOW=$(LC_ALL=C date -u -R)
mkmail "$T/receipt.eml" "$T/receipt.xml" "$NOW"
mkmail "$T/receipt-old.eml" "$T/receipt.xml" "Mon, 02 Nov 2026 10:00:00 +0000 (UTC)"
mkmail "$T/receipt-c.eml" "$T/receipt-c.xml" "$NOW"

# A closed port for the peer: ask the kernel for a free one and let it go.
DEAD=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])')
conf() {  # conf FILE PEER-PORT [extra lines]
  local f=$1 port=$2; shift 2
  { echo "myhostname = mail.a.test"
    echo "server_certificate = $A/server.pem"
    echo "server_key = $A/server.key"
    echo "tls_certificate = $A/server.pem"
    echo "tls_key = $A/server.key"
    echo "trust_anchors = $T/anchors.pem"
    echo "crl_directory = $T/crl"
    echo "spool_directory = $T/spool"
    echo "schema_directory = $CMAIL_SCHEMA_DIR"
    echo "cmail_relay_map = b.test=127.0.0.1:$port"
    echo "smtp_timeout = 10"
    for l in "$@"; do echo "$l"; done; } >"$f"
}
conf "$T/dead.conf" "$DEAD" "notary_socket = $T/nowhere.sock"

# A stored form whose seal nobody checked yet; the notary is down: 75.
printf 'X-Cmail-Delivery-Type: CertifiedMail\nX-Cmail-Envelope-Id: E2\nContent-Type: multipart/mixed; boundary="=_cmail_E2"\n\n--=_cmail_E2\nContent-Type: application/x-cmail-sealed\n\nQ01TTAAAAAA=\n--=_cmail_E2--\n' >"$T/sf.eml"
run_relay notary_down "$T/sf.eml" -c "$T/dead.conf" -f a@a.test -d b.test -- bob@b.test
expect notary_down 75 "a stored form while the notary is down" "notary"
[ -z "$(ls -A "$T/spool")" ] && ok "nothing left in spool_directory" || not_ok "left: $(ls -A "$T/spool")"

# --- receipt notices: SEND NORP to a peer that is not there ------------------------------------
run_relay norp_dead "$T/receipt.eml" -c "$T/dead.conf" -L "$T/relay.log" -f MAILER-DAEMON -d b.test -- dave@b.test
expect norp_dead 75 "receipt notice, peer unreachable" "^R-1: receipt notice: connect 127.0.0.1:$DEAD: Connection refused$"
grep -q "cmail-relay\[[0-9]*\]: warning: R-1: receipt notice: connect 127.0.0.1:$DEAD" "$T/relay.log" \
  && ok "-L log file has the reason" || not_ok "log: $(cat "$T/relay.log")"
conf "$T/dead-short.conf" "$DEAD" "notary_socket = $T/nowhere.sock" "relay_lifetime = 60"
run_relay norp_old "$T/receipt-old.eml" -c "$T/dead-short.conf" -f MAILER-DAEMON -d b.test -- dave@b.test
expect norp_old 69 "receipt notice older than relay_lifetime, peer unreachable" "undeliverable for too long"
run_relay norp_c "$T/receipt-c.eml" -c "$T/dead.conf" -f MAILER-DAEMON -d b.test -- dave@b.test
expect norp_c 65 "receipt notice countersigned by another server" "not signed and countersigned by this server"
sed 's/^\(PHNp\|PD94\)/QUJD/' "$T/receipt.eml" >"$T/receipt-bad.eml"
run_relay norp_bad "$T/receipt-bad.eml" -c "$T/dead.conf" -f MAILER-DAEMON -d b.test -- dave@b.test
expect norp_bad 65 "receipt attachment that is not a notice" "SignedReceiptNotice"

# --- the notary, the scripted peer and the SMTP sink ---------------------------------------------
command -v python3 >/dev/null || { skip "python3 not installed: no peer tests"; cm_done; exit; }
RUN=$T/run; mkdir -p "$RUN" "$T/mail"
NUSER=$(id -un)
if [ "$(id -u)" = 0 ] && id nobody >/dev/null 2>&1; then NUSER=nobody; chmod 755 "$T"; chown nobody "$RUN"; fi
"$NOTARY" -G "$T/seal.key" >/dev/null || not_ok "seal key"
SOCK=$RUN/notary.sock
DB=$RUN/evidence.db
{ echo "server_certificate = $A/server.pem"; echo "server_key = $A/server.key"
  echo "seal_key = $T/seal.key"; echo "notary_socket = $SOCK"; echo "notary_user = $NUSER"
  echo "evidence_database = $DB"; echo "trust_anchors = $T/anchors.pem"; echo "crl_directory = $T/crl"
  echo "schema_directory = $CMAIL_SCHEMA_DIR"; } >"$T/notary.conf"
"$NOTARY" -f -c "$T/notary.conf" >"$T/notary.log" 2>&1 &
NPID=$!
cm_on_exit "kill $NPID 2>/dev/null; wait $NPID 2>/dev/null"
for i in $(seq 50); do [ -S "$SOCK" ] && break; sleep 0.1; done
[ -S "$SOCK" ] && ok "cmail-notary started" || { not_ok "notary: $(cat "$T/notary.log")"; cm_done; exit 1; }

cat >"$T/fake.py" <<'EOF'
# fake.py smtp DIR PORTFILE | cmtp PORTFILE MODE CERTDIR ANCHORS NOTICE_TOOL LOG
import base64, os, re, socket, ssl, subprocess, sys, threading
def listen(portfile):
    s = socket.socket(); s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    s.bind(("127.0.0.1", 0)); s.listen(8)
    with open(portfile + ".tmp", "w") as f: f.write(str(s.getsockname()[1]))
    os.rename(portfile + ".tmp", portfile)
    return s
def smtp(conn, d, n):
    f = conn.makefile("rb"); w = lambda t: conn.sendall(t.encode() + b"\r\n")
    w("220 sink ESMTP"); rcpt = []; frm = None
    while True:
        line = f.readline().decode().rstrip("\r\n")
        if not line: return
        v = line.upper()
        if v.startswith("EHLO") or v.startswith("HELO"): w("250 sink")
        elif v.startswith("MAIL FROM:"): frm = line[10:]; w("250 ok")
        elif v.startswith("RCPT TO:"): rcpt.append(line[8:]); w("250 ok")
        elif v == "DATA":
            w("354 go"); data = []
            while True:
                l = f.readline()
                if l in (b".\r\n", b".\n", b""): break
                data.append(l[1:] if l.startswith(b".") else l)
            with open(os.path.join(d, "msg%d.eml" % n), "wb") as o:
                o.write(("X-Envelope-From: %s\r\nX-Envelope-To: %s\r\n" % (frm, ",".join(rcpt))).encode())
                o.write(b"".join(data))
            w("250 2.0.0 Ok: queued as SINK%d" % n)
        elif v == "QUIT": w("221 bye"); return
        else: w("500 what")
def cmtp(conn, mode, certdir, anchors, nt, log):
    f = conn.makefile("rb"); out = conn
    def w(t): out.sendall(t.encode() + b"\r\n")
    def rl():
        return f.readline().decode().rstrip("\r\n")
    if mode == "silent":
        import time; time.sleep(20); return
    w("220 fake.b.test CMTP")
    while True:
        line = rl()
        if not line: return
        with open(log, "a") as l: l.write(line[:60] + "\n")
        if line.startswith("EHLO"): w("250-fake.b.test"); w("250 STARTTLS")
        elif line == "STARTTLS":
            w("220 2.0.0 Ready to start TLS")
            ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
            ctx.load_cert_chain(certdir + "/server.pem", certdir + "/server.key")
            ctx.verify_mode = ssl.CERT_REQUIRED; ctx.load_verify_locations(anchors)
            try:
                out = ctx.wrap_socket(conn, server_side=True)
            except (ssl.SSLError, OSError):
                return
            f = out.makefile("rb")
            with open(log, "a") as l: l.write("client certificate: %s\n" % dict(x[0] for x in out.getpeercert()["subject"]).get("commonName"))
        elif line.startswith("CELO"): w("250-fake.b.test"); w("250 OK")
        elif line.startswith("SEND EVLP "):
            sdn = base64.b64decode(line[10:]).decode()
            envid = re.search(r'EnvelopeId="([^"]+)"', sdn).group(1)
            w("354 Start mail input; end with <CRLF>.<CRLF>")
            while rl() != ".": pass
            if mode == "reject": w("554 5.7.1 Error: bad transit notice: not for us"); continue
            t = os.path.join(os.path.dirname(log), "transit")
            subprocess.run([nt, "build", "transit", t + "0.xml", "--envelope-id", envid], check=True, stdout=subprocess.DEVNULL)
            subprocess.run([nt, "sign", t + "0.xml", t + "1.xml", "--key", certdir + "/server.key", "--cert",
                            certdir + "/server.pem", "--place", "postmark"], check=True, stdout=subprocess.DEVNULL)
            b = base64.b64encode(open(t + "1.xml", "rb").read()).decode()
            w("250-TransitNotice:")
            for i in range(0, len(b), 76): w("250-" + b[i:i + 76])
            w("250 Ok")
        elif line.startswith("SEND NORP "):
            open(os.path.join(os.path.dirname(log), "norp.xml"), "wb").write(base64.b64decode(line[10:]))
            w("250 OK")
        elif line == "QUIT": w("221 2.0.0 Bye"); return
        else: w("500 unexpected")
if sys.argv[1] == "smtp":
    s = listen(sys.argv[3]); n = 0
    while True:
        c, _ = s.accept(); n += 1
        threading.Thread(target=smtp, args=(c, sys.argv[2], n), daemon=True).start()
else:
    s = listen(sys.argv[2])
    while True:
        c, _ = s.accept()
        try: cmtp(c, *sys.argv[3:8])
        except Exception as e:
            with open(sys.argv[7], "a") as l: l.write("error: %r\n" % e)
        c.close()
EOF
start_py() {  # start_py PORTFILE ARGS...: background python, port in $PORT
  local pf=$1; shift
  rm -f "$pf"
  python3 "$T/fake.py" "$@" >>"$T/fake.err" 2>&1 &
  local pid=$!
  cm_on_exit "kill $pid 2>/dev/null"
  for i in $(seq 50); do [ -s "$pf" ] && break; sleep 0.1; done
  PORT=$(cat "$pf" 2>/dev/null)
  LASTPID=$pid
}
start_py "$T/sink.port" smtp "$T/mail" "$T/sink.port"; SINK=$PORT
start_py "$T/ok.port" cmtp "$T/ok.port" ok "$T/pki-b" "$T/anchors.pem" "$NT" "$T/peer-ok.log"; OKPORT=$PORT
start_py "$T/rej.port" cmtp "$T/rej.port" reject "$T/pki-b" "$T/anchors.pem" "$NT" "$T/peer-rej.log"; REJPORT=$PORT
start_py "$T/wrong.port" cmtp "$T/wrong.port" ok "$T/pki-c" "$T/anchors.pem" "$NT" "$T/peer-wrong.log"; WRONGPORT=$PORT
start_py "$T/silent.port" cmtp "$T/silent.port" silent "$T/pki-b" "$T/anchors.pem" "$NT" "$T/peer-silent.log"; SILENTPORT=$PORT
[ -n "$SINK" ] && [ -n "$OKPORT" ] && [ -n "$REJPORT" ] && [ -n "$WRONGPORT" ] && ok "SMTP sink and three scripted peers listening" \
  || { not_ok "fake servers: $(cat "$T/fake.err")"; cm_done; exit 1; }
for p in ok:$OKPORT rej:$REJPORT wrong:$WRONGPORT dead:$DEAD; do
  conf "$T/${p%%:*}.conf" "${p#*:}" "notary_socket = $SOCK" "notice_submission_address = 127.0.0.1:$SINK" "relay_lifetime = 600"
done

# A SignedDepositNotice (server, then alice) for bob@b.test and carol@a.test, sealed into a stored form.
stored() {  # stored ENVID OUT RECEIVED-DATE
  "$NT" build deposit "$T/d0.xml" --envelope-id "$1" &&
  "$NT" sign "$T/d0.xml" "$T/d1.xml" --key "$A/server.key" --cert "$A/server.pem" --place postmark &&
  "$NT" promote "$T/d1.xml" "$T/d2.xml" --from alice@a.test --cert "$A/users/alice@a.test.pem" \
    --to bob@b.test --cert "$T/pki-b/users/bob@b.test.pem" --cc carol@a.test --cert "$A/users/carol@a.test.pem" &&
  "$NT" sign "$T/d2.xml" "$T/sdn-$1.xml" --key "$A/users/alice@a.test.key" --cert "$A/users/alice@a.test.pem" --place info &&
  printf 'From: alice@a.test\r\nTo: bob@b.test\r\nSubject: Contract\r\nMessage-ID: <c1@a.test>\r\n\r\n.body line with a dot\r\n' >"$T/env.eml" &&
  "$SFT" make --envelope-id "$1" --notice "$T/sdn-$1.xml" --envelope "$T/env.eml" --from alice@a.test \
    --seal-key "$T/seal.key" "$T/sf-$1.raw" &&
  { echo "Return-Path: <alice@a.test>"
    echo "Received: from localhost (localhost [127.0.0.1]) by mail.a.test (Postfix) with ESMTP id 4XYZ for <bob@b.test>; $3"
    tr -d '\r' <"$T/sf-$1.raw"; } >"$2"
} >/dev/null
stored ENV-OK "$T/ok.eml" "$NOW" && stored ENV-REJ "$T/rej.eml" "$NOW" && stored ENV-WRONG "$T/wrong.eml" "$NOW" \
  && stored ENV-WAIT "$T/wait.eml" "$NOW" && stored ENV-OLD "$T/old.eml" "Mon, 02 Nov 2026 10:00:00 +0000" \
  && ok "five stored forms sealed under the notary's key" || not_ok "stored forms"

mailcount() { ls "$T/mail" | wc -l; }
attachment() {  # attachment MAIL NAME OUT: extract a base64 attachment
  python3 - "$1" "$2" "$3" <<'EOF'
import email, sys
m = email.message_from_binary_file(open(sys.argv[1], "rb"))
for p in m.walk():
    if p.get_filename() == sys.argv[2]:
        open(sys.argv[3], "wb").write(p.get_payload(decode=True)); sys.exit(0)
sys.exit(1)
EOF
}

# --- SEND EVLP: relayed, countersigned, journalled, mailed ------------------------------------------
run_relay relay_ok "$T/ok.eml" -c "$T/ok.conf" -L "$T/relay.log" -f alice@a.test -d b.test -- bob@b.test
expect relay_ok 0 "stored form relayed to b.test"
[ ! -s "$T/relay_ok.err" ] && ok "... nothing on stderr" || not_ok "stderr: $(cat "$T/relay_ok.err")"
grep -q "^CHCK\|^SEND EVLP" "$T/peer-ok.log" && grep -q "client certificate: mail.a.test" "$T/peer-ok.log" \
  && ok "... the peer saw SEND EVLP from our TLS client certificate" || not_ok "peer log: $(cat "$T/peer-ok.log")"
M=$(grep -l "Transit notice" "$T"/mail/*.eml 2>/dev/null | head -1)
if [ -n "$M" ]; then
  ok "... a transit notice mail was submitted"
  grep -q "^X-Envelope-From: <>" "$M" && grep -q "^X-Envelope-To: <alice@a.test>" "$M" \
    && ok "... from the null sender to alice" || not_ok "envelope: $(head -2 "$M")"
  grep -q "^Subject: Transit notice: .*reached b.test" "$M" && ok "... subject names the domain" || not_ok "subject: $(grep ^Subject "$M")"
  # Fixed per envelope and domain (a retry after a crash mails the same mail): HASH is
  # SHA-256 of the domain in lower case, its first 16 hex digits.
  mid="<cmail-transit.ENV-OK.$(printf '%s' b.test | openssl dgst -sha256 -r | cut -c1-16)@b.test>"
  grep -qixF "Message-ID: $mid"$'\r' "$M" && ok "... its Message-ID is $mid" || not_ok "Message-ID: $(grep -i '^Message-ID' "$M")"
  attachment "$M" transitNotice.xml "$T/stn.xml" && attachment "$M" depositNotice.xml "$T/sdn-att.xml" \
    && ok "... with transitNotice.xml and depositNotice.xml" || not_ok "attachments"
  cmp -s "$T/sdn-att.xml" "$T/sdn-ENV-OK.xml" && ok "... depositNotice.xml is the sealed SignedDepositNotice" || not_ok "sdn differs"
  check_output "cmail verify: SignedTransitNotice, S2's and S1's signatures, VALID" "^VALID" \
    "$CMAIL" verify "$T/stn.xml" --ca "$T/anchors.pem" --crl "$T/crl"
  grep -q "SignedTransitNotice" "$T/.out" && ok "... root SignedTransitNotice" || not_ok "$(cat "$T/.out")"
  check_output "cmail verify accepts the notice mail itself" "^VALID" "$CMAIL" verify "$M" --ca "$T/anchors.pem" --crl "$T/crl"
  if command -v xmllint >/dev/null; then
    check "xmllint --schema accepts the SignedTransitNotice" xmllint --noout --schema "$CMAIL_SCHEMA_DIR/x1341-notices.xsd" "$T/stn.xml"
  else skip "xmllint not installed"; fi
  if command -v xmlsec1 >/dev/null; then
    for n in 1 2; do
      check "xmlsec1 --verify: signature $n of the SignedTransitNotice" xmlsec1 --verify --enabled-reference-uris empty \
        --node-xpath "//*[@Id='cmail-sig-$n']" --trusted-pem "$T/pki-a/ca.pem" --trusted-pem "$T/pki-b/ca.pem" "$T/stn.xml"
    done
  else skip "xmlsec1 not installed"; fi
  grep -q "O=.*a.test\|mail.a.test" <("$CMAIL" verify "$T/stn.xml" --ca "$T/anchors.pem" --crl "$T/crl") \
    && ok "... signature 2 is mail.a.test's" || not_ok "signer"
else
  not_ok "no transit notice mail: $(ls "$T/mail"; cat "$T/relay_ok.err")"
fi
check_output "the journal has the relayed row (domain, peer, recipients, notice hash)" \
  "relayed .*domain=b.test.*notice_sha256=[0-9a-f]{64}.*peer=127.0.0.1:$OKPORT.*recipients=bob@b.test" \
  "$CMAIL" evidence show ENV-OK --db "$DB"
# The same stored form again (Postfix retries after cmail-relay was killed once its work
# was done): the journal's "relayed" row for b.test stops it before any SEND EVLP.
n0=$(mailcount) np=$(grep -c "SEND EVLP" "$T/peer-ok.log")
run_relay relay_again "$T/ok.eml" -c "$T/ok.conf" -L "$T/relay.log" -f alice@a.test -d b.test -- bob@b.test
expect relay_again 0 "the same stored form again, relayed row in the journal"
check_output "... logged: already relayed, not sent again" "ENV-OK: already relayed to b.test .*not sent again" cat "$T/relay.log"
check "... no second SEND EVLP, no second transit notice mail, one relayed row" \
  test "$(grep -c "SEND EVLP" "$T/peer-ok.log")" = "$np" -a "$(mailcount)" = "$n0" \
  -a "$("$CMAIL" evidence show ENV-OK --db "$DB" | grep -c relayed)" = 1
# Accepted by the peer, but the transit notice mail cannot be queued (notice submission
# down): 75, nothing journalled, so that Postfix's retry relays it again (the peer does
# not deliver twice) and mails the notice. Before: exit 0 and the notice was lost.
stored ENV-NOMAIL "$T/nomail.eml" "$NOW"
conf "$T/nomail.conf" "$OKPORT" "notary_socket = $SOCK" "notice_submission_address = 127.0.0.1:$DEAD" "relay_lifetime = 600"
n0=$(mailcount)
run_relay relay_nomail "$T/nomail.eml" -c "$T/nomail.conf" -f alice@a.test -d b.test -- bob@b.test
expect relay_nomail 75 "accepted by the peer, the notice mail cannot be queued" \
  "^ENV-NOMAIL: relayed to b.test via .*transit notice mail was not queued: .*Connection refused"
"$CMAIL" evidence show ENV-NOMAIL --db "$DB" 2>/dev/null | grep -q relayed && not_ok "... relayed journalled without its mail" \
  || ok "... relayed not journalled (the retry will do it)"
run_relay relay_nomail2 "$T/nomail.eml" -c "$T/ok.conf" -f alice@a.test -d b.test -- bob@b.test
expect relay_nomail2 0 "... Postfix's retry with the submission back"
check "... one transit notice mail, one relayed row" \
  test "$(mailcount)" = $((n0 + 1)) -a "$("$CMAIL" evidence show ENV-NOMAIL --db "$DB" | grep -c relayed)" = 1

# --- the peer says 554: non-delivery notice, 69 -------------------------------------------------------
n0=$(mailcount)
run_relay relay_rej "$T/rej.eml" -c "$T/rej.conf" -f alice@a.test -d b.test -- bob@b.test
expect relay_rej 69 "the peer refuses SEND EVLP with 554" "^ENV-REJ: .*554 5.7.1 Error: bad transit notice"
M=$(grep -l "Non-delivery notice" "$T"/mail/*.eml 2>/dev/null | head -1)
if [ -n "$M" ] && [ "$(mailcount)" = $((n0 + 1)) ]; then
  ok "... one non-delivery notice mail"
  attachment "$M" nonDeliveryNotice.xml "$T/nd.xml" && ok "... with nonDeliveryNotice.xml" || not_ok "no nonDeliveryNotice.xml"
  check_output "cmail verify: the NonDeliveryNotice is VALID, signed by mail.a.test" "^VALID" \
    "$CMAIL" verify "$T/nd.xml" --ca "$T/anchors.pem" --crl "$T/crl"
  grep -q "bob@b.test" "$T/nd.xml" && grep -q "ENV-REJ" "$T/nd.xml" && ok "... names bob@b.test and the envelope" || not_ok "nd content"
else
  not_ok "non-delivery mail: $(ls "$T/mail")"
fi
check_output "the journal has the non-delivery row" "non-delivery .*domain=b.test.*reason=.*554" \
  "$CMAIL" evidence show ENV-REJ --db "$DB"

# --- a peer whose certificate is for c.test: 77, non-delivery notice ---------------------------------
n0=$(mailcount)
run_relay relay_wrong "$T/wrong.eml" -c "$T/wrong.conf" -f alice@a.test -d b.test -- bob@b.test
expect relay_wrong 77 "a peer that does not speak for b.test" "peer certificate refused: it does not speak for b.test"
[ "$(mailcount)" = $((n0 + 1)) ] && ok "... the sender gets a non-delivery notice" || not_ok "mails: $(ls "$T/mail")"
grep -q "SEND EVLP" "$T/peer-wrong.log" && not_ok "SEND EVLP reached the wrong peer" || ok "... nothing was sent to it"

# --- peer unreachable: 75 while young, non-delivery once older than relay_lifetime ------------------
n0=$(mailcount)
run_relay relay_wait "$T/wait.eml" -c "$T/dead.conf" -f alice@a.test -d b.test -- bob@b.test
expect relay_wait 75 "stored form, peer unreachable" "^ENV-WAIT: connect 127.0.0.1:$DEAD: Connection refused$"
[ "$(mailcount)" = "$n0" ] && ok "... no notice mail yet" || not_ok "unexpected mail"
"$CMAIL" evidence show ENV-WAIT --db "$DB" 2>/dev/null | grep -q . && not_ok "journal row for a deferred message" \
  || ok "... nothing journalled"
run_relay relay_old "$T/old.eml" -c "$T/dead.conf" -f alice@a.test -d b.test -- bob@b.test
expect relay_old 69 "stored form older than relay_lifetime, peer unreachable" "undeliverable for more than 600 seconds"
[ "$(mailcount)" = $((n0 + 1)) ] && ok "... non-delivery notice mailed" || not_ok "mails: $(ls "$T/mail")"

# --- a peer that never answers: the watchdog (session_time_limit) ends the run with 75 --------------
conf "$T/silent.conf" "$SILENTPORT" "notary_socket = $SOCK" "notice_submission_address = 127.0.0.1:$SINK" \
  "session_time_limit = 2" "smtp_timeout = 30"
sed -i '/^smtp_timeout = 10$/d' "$T/silent.conf"
t0=$(date +%s)
run_relay silent "$T/wait.eml" -c "$T/silent.conf" -f alice@a.test -d b.test -- bob@b.test
expect silent 75 "a peer that never greets, session_time_limit 2" "time limit .* try again later"
[ $(( $(date +%s) - t0 )) -le 6 ] && ok "... within a few seconds, not smtp_timeout" || not_ok "took $(( $(date +%s) - t0 ))s"

# --- a stored form sealed under another key: 65 ---------------------------------------------------------
"$SFT" genkey "$T/other.key" >/dev/null 2>&1
"$SFT" make --envelope-id ENV-FORGED --notice "$T/sdn-ENV-OK.xml" --envelope "$T/env.eml" --from alice@a.test \
  --seal-key "$T/other.key" "$T/forged.raw" >/dev/null 2>&1
tr -d '\r' <"$T/forged.raw" >"$T/forged.eml"
run_relay forged "$T/forged.eml" -c "$T/ok.conf" -f alice@a.test -d b.test -- bob@b.test
expect forged 65 "a stored form the notary cannot unseal"

# --- a recipient the message was not deposited for: 65, nothing sent -------------------------------
np=$(grep -c "SEND EVLP" "$T/peer-ok.log")
run_relay notentity "$T/ok.eml" -c "$T/ok.conf" -f alice@a.test -d b.test -- mallory@b.test
expect notentity 65 "a recipient that is not an Entity of the deposit" "recipient <mallory@b.test> is not an Entity"
[ "$(grep -c "SEND EVLP" "$T/peer-ok.log")" = "$np" ] && ok "... the peer saw no further SEND EVLP" || not_ok "peer log: $(cat "$T/peer-ok.log")"

# --- SEND NORP to the scripted peer ------------------------------------------------------------------
run_relay norp_ok "$T/receipt.eml" -c "$T/ok.conf" -f MAILER-DAEMON -d b.test -- dave@b.test
expect norp_ok 0 "receipt notice delivered with SEND NORP"
cmp -s "$T/norp.xml" "$T/receipt.xml" && ok "... the peer got the SignedReceiptNotice byte for byte" || not_ok "norp.xml differs"

[ -z "$(ls -A "$T/spool")" ] && ok "nothing left in spool_directory after all runs" || not_ok "left: $(ls -A "$T/spool")"
cm_done
