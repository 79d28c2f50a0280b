#!/usr/bin/env bash
# fuzz_smoke.sh - every libFuzzer target (fuzz/, clang with ASan+UBSan) runs for a short while from its
# seed corpus and must not crash, leak or hit undefined behaviour (issue 8, Security). Long runs:
# `make fuzz` (FUZZ_SECONDS per target). Seconds per target here: FUZZ_SMOKE_SECONDS (default 10).
. "$top_srcdir/test/shell/lib.sh"
if [ -n "${CMAIL_SANITIZED_RUN:-}" ]; then
  skip "the fuzz targets ran in the plain pass of test/run (they carry their own sanitizers)"; cm_done; exit 0
fi
command -v clang >/dev/null || { skip "clang not installed (Debian package clang): no fuzz targets"; cm_done; exit 0; }
[ -x "$CMAIL" ] || { not_ok "cmail not built"; cm_done; exit 0; }

out=${FUZZ_OUT:-$top_builddir/build-fuzz}
rc=0
FUZZ_OUT=$out FUZZ_SECONDS=${FUZZ_SMOKE_SECONDS:-10} bash "$top_srcdir/fuzz/run.sh" >"$T/run.out" 2>&1 || rc=$?
if [ $rc -eq 77 ]; then
  skip "clang cannot build libFuzzer targets here: $(tail -n 1 "$T/run.out")"; cm_done; exit 0
fi
n=0
while read -r t execs persec corpus result; do
  case $t in fuzz_*) ;; *) continue ;; esac
  n=$((n + 1))
  if [ "$result" = ok ] && [ "$execs" != "?" ] && [ "$execs" -gt 0 ]; then
    ok "$t: $execs executions ($persec/s), corpus $corpus, no crash"
  else
    not_ok "$t: $result after ${execs} executions"
  fi
done <"$T/run.out"
[ $n -ge 8 ] && ok "all $n fuzz targets built and ran" || not_ok "only $n fuzz targets ran (rc $rc)"
[ $rc -eq 0 ] || sed 's/^/# /' "$T/run.out"
cm_done
