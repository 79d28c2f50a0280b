#!/usr/bin/env bash
# cli.sh - the cmail command line contract: help for every subcommand, exit codes
# (0 ok, 1 invalid/failed, 2 usage), the man page documents every subcommand that
# `cmail --help` lists, and no subcommand crashes on missing or bad arguments.
. "$top_srcdir/test/shell/lib.sh"

check "cmail --help exits 0" "$CMAIL" --help
check_output "cmail --version prints the version" "^cmail [0-9]+\.[0-9]+" "$CMAIL" --version
"$CMAIL" >/dev/null 2>&1; check "cmail without a subcommand exits 2" test $? -eq 2
"$CMAIL" frobnicate >/dev/null 2>&1; check "an unknown subcommand exits 2" test $? -eq 2
subs=$("$CMAIL" --help | awk '/^Subcommands:/ { on = 1; next } on && !NF { exit } on { print $1 }')
check "cmail --help lists subcommands" test -n "$subs"
for s in $subs; do
  check_output "cmail $s --help explains itself" "usage|Usage" "$CMAIL" "$s" --help
  check_output "cmail(1) documents '$s'" "cmail $s|\\\\fB$s\\\\fR|^\\.SS.*$s" cat "$top_srcdir/doc/cmail.1"
  "$CMAIL" "$s" --no-such-option >"$T/out" 2>&1; rc=$?
  check "cmail $s --no-such-option is a usage error (2), not a crash" test "$rc" -eq 2
done
"$CMAIL" verify "$T/missing.xml" >/dev/null 2>&1; check "cmail verify of a missing file exits 2" test $? -eq 2
printf '<not a notice/>' > "$T/x.xml"
"$CMAIL" verify "$T/x.xml" >"$T/out" 2>&1; rc=$?
check "cmail verify of a non-notice exits 1" test "$rc" -eq 1
check_output "and says INVALID with a reason" "INVALID: " cat "$T/out"
"$CMAIL" send --server 127.0.0.1:1 --from a@example.org --cert /nonexistent --key /nonexistent --ca /nonexistent "$T/x.xml" >/dev/null 2>&1
check "cmail send with unreadable credentials is a usage error (2)" test $? -eq 2
cm_done
