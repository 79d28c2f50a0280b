#!/usr/bin/env bash
# quickstart.sh - the README's first command works: contrib/quickstart runs the whole
# flow between two private servers (deposit, transit, retrieval with the challenge,
# receipt notice),
# every notice it prints is VALID, running it twice works, and --stop leaves nothing.
. "$top_srcdir/test/shell/lib.sh"
. "$top_srcdir/test/shell/lib_mta.sh"
. "$top_srcdir/test/shell/lib_cmail.sh"
CMAIL_CPOP=yes
missing=$(cmail_stack_missing)
if [ -n "$missing" ]; then skip "needs $missing"; cm_done; exit 0; fi
if [ "$top_srcdir" != "$top_builddir" ]; then skip "quickstart runs in a source tree that is also the build tree"; cm_done; exit 0; fi
chmod 0711 "$T"
export CMAIL_QUICKSTART_DIR=$T/qs CMAIL_QUICKSTART_NO_BUILD=1
cm_on_exit "'$top_srcdir/contrib/quickstart' --stop >/dev/null 2>&1"
check "contrib/quickstart runs to the end" sh -c "'$top_srcdir/contrib/quickstart' > '$T/qs1.out' 2>&1"
sed 's/^/# /' "$T/qs1.out" | tail -5
check_output "bob's copy is byte-identical to alice's message" "byte-identical" cat "$T/qs1.out"
check "every notice it verifies is VALID" test "$(grep -c ': VALID$' "$T/qs1.out")" -eq 4
check_output "between two servers: a signed transit notice, countersigned by a.test" \
  "signature 2: in EnvelopeInformation, by sending server \(S1\)" cat "$T/qs1.out"
check_output "the receipt notice came back to a.test (SEND NORP) and was journalled" \
  "receipt-received .*recipient=bob@b.test" cat "$T/qs1.out"
check_fails "no verification failed" grep -qE 'INVALID|FAILED' "$T/qs1.out"
check_output "the journal chain is intact" "chain intact" cat "$T/qs1.out"
check_output "it ends with how to try it by hand and how to stop" "quickstart --stop" cat "$T/qs1.out"
check "running it a second time works" sh -c "'$top_srcdir/contrib/quickstart' > '$T/qs2.out' 2>&1"
check "contrib/quickstart --stop stops and removes it" "$top_srcdir/contrib/quickstart" --stop
check "no process of the quickstart is left" sh -c "! pgrep -af '$T/qs/' | grep -v pgrep"
check "its directory is gone" test ! -e "$T/qs"
cm_done
