#!/usr/bin/env bash
# test/shell/fetch_pipeline.sh - `cmail fetch` pipelining its RETRs against the real CPOP
# plugin (Dovecot lists PIPELINING): the RETR of the next message goes out as soon as the
# +OK of CHLG RESP (or of an ordinary RETR) arrives, before the ENVELOPE (or the message)
# is read. A mailbox of certified and ordinary messages interleaved (C O C C O C): every
# plaintext byte-identical, every signed receipt notice valid; a certified message that
# fails on the client after its answer (its receipt notice cannot be written) and an
# ordinary one that fails after its body (its file cannot be renamed) do not disturb the
# message whose RETR went out ahead; --delete (no pipelining) deletes what was fetched.
. "$top_srcdir/test/shell/lib.sh"
. "$top_srcdir/test/shell/lib_mta.sh"
. "$top_srcdir/test/shell/lib_cmail.sh"

CMAIL_CPOP=yes
missing=$(cmail_stack_missing)
[ -z "$missing" ] && ! command -v strace >/dev/null && missing=strace
if [ -n "$missing" ]; then skip "needs $missing"; cm_done; exit 0; fi

mta_init || { not_ok "mta_init"; cm_done; exit 1; }
DOVECOT_SSL_CERT=$T/pki/server.pem
DOVECOT_SSL_KEY=$T/pki/server.key
if ! cmail_stack_start; then not_ok "the Cmail stack starts"; mta_log_tail 40; cm_done; exit 1; fi
ok "the Cmail stack starts with the CPOP plugin"

# --- bob's mailbox: 1 C, 2 O, 3 C, 4 C, 5 O, 6 C (C certified from alice, O ordinary) ---
mkdir -p "$T/out"
n=0
for kind in C O C C O C; do
  n=$((n + 1))
  printf 'From: Alice <alice@example.org>\r\nTo: bob@example.org\r\nSubject: message %d\r\nMessage-ID: <p%d@example.org>\r\n\r\nbody of message %d\r\n.a dot line\r\n' \
    $n $n $n > "$T/m$n.eml"
  if [ $kind = C ]; then
    before=$(ls "$T/out")
    cmail_send_as alice --out "$T/out" "$T/m$n.eml" >"$T/send.out" 2>&1 ||
      { not_ok "cmail send of message $n"; sed 's/^/# /' "$T/send.out"; cm_done; exit 1; }
    id=$(ls "$T/out" | grep -vxF -f <(printf '%s\n' $before) | sed -n 's/\.signed-deposit\.xml$//p' | head -1)
    eval "ENV$n=\$id"
  else
    smtp_send alice@example.org bob@example.org "$T/m$n.eml" >/dev/null 2>&1 ||
      { not_ok "smtp of message $n"; cm_done; exit 1; }
  fi
  wait_for_mail bob $n || { not_ok "message $n reaches bob"; cm_done; exit 1; }
done
ok "bob's mailbox holds C O C C O C"
mta_pass bob > "$T/bob.pw"

fetch_args=(fetch --server "127.0.0.1:$DOVECOT_POP3_PORT" --implicit-tls --server-name mail.example.org
  --user bob@example.org --password-file "$T/bob.pw" --cert "$P/users/bob@example.org.pem"
  --key "$P/users/bob@example.org.key" --ca "$P/ca.pem" --crl "$P/crl.pem" --timeout 30)
fetch() { "$CMAIL" "${fetch_args[@]}" "$@"; }
exits() {
  local text=$1 want=$2 rc; shift 2
  "$@" >"$T/.out" 2>&1; rc=$?
  if [ "$rc" -eq "$want" ]; then ok "$text"; else not_ok "$text (exit $rc, expected $want)"; sed 's/^/# /' "$T/.out"; fi
}

# --- a first run into A, with two traps: message 3's receipt notice cannot be written,
# message 5's file cannot be renamed into place ---
mkdir -p "$T/A/$ENV3.signed-receipt.xml" "$T/A/5.eml"
# The client's writes and reads on the connection, to see the pipelining happen.
# (LeakSanitizer cannot work under ptrace: in the ASan build it would die at exit,
# before stdout is flushed; this run is checked for leaks by the second one.)
exits "first run: exit 1 (messages 3 and 5 fail on the client)" 1 \
  env ASAN_OPTIONS="${ASAN_OPTIONS:+$ASAN_OPTIONS:}detect_leaks=0" \
  strace -f -o "$T/fetch.strace" -e trace=write,fsync -e signal=none "$CMAIL" "${fetch_args[@]}" --out "$T/A"
cp "$T/.out" "$T/first.out"
for i in 1 4 6; do
  eval "id=\$ENV$i"
  check "message $i (certified): the plaintext is byte-identical" cmp "$T/m$i.eml" "$T/A/$id.eml"
  check_output "message $i: cmail verify accepts its signed receipt notice" "^VALID" \
    "$CMAIL" verify "$T/A/$id.signed-receipt.xml" --ca "$P/ca.pem" --crl "$P/crl.pem"
done
check_output "message 2 (ordinary) is written" "^body of message 2" cat "$T/A/2.eml"
check_output "message 3 fails: its receipt notice cannot be written" "cannot write .*$ENV3.signed-receipt.xml" \
  cat "$T/first.out"
check_fails "... and no plaintext of it is left" test -e "$T/A/$ENV3.eml"
check_output "message 5 fails: its file cannot be renamed" "rename: Is a directory" cat "$T/first.out"
check_output "message 6, whose RETR went out ahead, is reported" "^message 6: certified, envelope $ENV6: wrote" \
  cat "$T/first.out"
check "alice receives 4 receipt notice mails (messages 1, 3, 4, 6 were answered)" wait_for_mail alice 4
# Pipelining seen from the client: after the TLS record of a CHLG RESP (thousands of
# bytes), the next short record (the RETR of the next message, ~30 bytes) goes out before
# the fsync()s that write the message (without pipelining it follows them). Messages 1
# and 4 are written and followed by another message: at least 2 such RETRs.
piped=$(awk '
  / write\([0-9]+, "\\27\\3/ && / = [0-9]+$/ { n = $NF + 0
    if (n > 3000) { chlg = 1; synced = 0 }
    else if (n < 100 && chlg) { if (!synced) piped++; chlg = 0 } }
  / fsync\(/ { if (chlg) synced = 1 }
  END { print piped + 0 }' "$T/fetch.strace")
[ "$piped" -ge 2 ] && ok "the next RETR goes out before the message is written ($piped times)" \
  || { not_ok "the next RETR goes out before the message is written ($piped times)"; grep -E 'write|fsync' "$T/fetch.strace" | cut -c1-80 | sed 's/^/# /' | head -40; }

# --- again into A (traps removed), with --delete: no pipelining, DELE after each message ---
rmdir "$T/A/$ENV3.signed-receipt.xml" "$T/A/5.eml"
exits "second run with --delete: exit 1 (message 3 cannot be decrypted any more)" 1 fetch --out "$T/A" --delete
cp "$T/.out" "$T/second.out"
check_output "... messages 1, 4 and 6 are already fetched" "message 6: certified.*already fetched" cat "$T/second.out"
check_output "... message 3 reports its missing receipt notice" "message 3: .*no signed receipt notice" \
  cat "$T/second.out"
check_output "... message 5 is written now" "^body of message 5" cat "$T/A/5.eml"
exits "a listing afterwards: exit 0" 0 fetch --list
cp "$T/.out" "$T/list.out"
check_output "... only message 3 is left on the server" "^1 [0-9]+ CertifiedMail$" cat "$T/list.out"
check_output "... as the only message" "^1$" bash -c "grep -c . '$T/list.out'"
sed 's/^/# second run: /' "$T/second.out"

cm_done
