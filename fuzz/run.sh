#!/usr/bin/env bash
# fuzz/run.sh - build the fuzz targets (fuzz/build.sh), make their seed corpora, run each for a while.
#
# usage: fuzz/run.sh [TARGET...]         (default: every target)
#   FUZZ_SECONDS  seconds per target (default 60)
#   FUZZ_OUT      build and work directory (default: $top_builddir/build-fuzz)
#   CMAIL         a built cmail, to make the test PKI (default: $top_builddir/client/cmail)
#   top_srcdir, top_builddir as for fuzz/build.sh
# Seeds: generated now (fuzz_seeds, `cmail pki init`, test/tools/notice_tool when built, the checked-in
# schemas/samples and fuzz/seeds/), never a private key. The growing corpus stays in
# $FUZZ_OUT/corpus/TARGET, crash inputs go to $FUZZ_OUT/crashes/. Prints one line per target:
#   TARGET  execs  execs/s  corpus  result
# Exit 0 when no target crashed, 1 when one did (its log is printed), 77 when clang cannot build.
set -u
top_srcdir=${top_srcdir:-$(cd "$(dirname "$0")/.." && pwd)}
top_builddir=${top_builddir:-$top_srcdir}
export top_srcdir top_builddir
out=${FUZZ_OUT:-$top_builddir/build-fuzz}
secs=${FUZZ_SECONDS:-60}
CMAIL=${CMAIL:-$top_builddir/client/cmail}

mkdir -p "$out" || exit 1
"$top_srcdir/fuzz/build.sh" "$out" >"$out/build.log" 2>&1
rc=$?
[ "$rc" -eq 0 ] || { cat "$out/build.log"; exit "$rc"; }
targets=$(tail -n 1 "$out/build.log")
[ $# -gt 0 ] && targets="$*"

w=$out/work
rm -rf "$w"
mkdir -p "$w" "$out/crashes" || exit 1
seeds=$w/seeds
for t in $targets; do mkdir -p "$seeds/${t#fuzz_}" "$out/corpus/$t"; done
mkdir -p "$seeds"/{cert,cmtp,cpop,mime,notary,notice,seal,stored}
"$out/fuzz_seeds" "$seeds" || { echo "fuzz/run.sh: fuzz_seeds failed"; exit 1; }

# The fixed test PKI: CA, CRL, server, alice and bob (keys stay in the work directory).
pki=$w/pki
if [ -x "$CMAIL" ] && "$CMAIL" pki init "$pki" --domain example.org \
     --user alice@example.org --user bob@example.org >"$w/pki.log" 2>&1; then
  export CMAIL_FUZZ_PKI=$pki
  i=0
  for pem in "$pki"/ca.pem "$pki"/server.pem "$pki"/users/*.pem; do
    i=$((i + 1))
    { printf '\001'; openssl x509 -in "$pem" -outform DER | openssl base64; } >"$seeds/cert/b64-$i"
    { printf '\002'; cat "$pem"; } >"$seeds/cert/pem-$i"
    { printf '\002'; openssl x509 -in "$pem" -outform DER; } >"$seeds/cert/der-$i"
  done
  { printf '\003'; cat "$pki/crl.pem"; } >"$seeds/cert/crl"
  { printf '\003'; openssl crl -in "$pki/crl.pem" -outform DER; } >"$seeds/cert/crl-der"
  # Signed notices from the project's own signing code (as test/shell/notice_xmlsec.sh makes them).
  NT=$top_builddir/test/tools/notice_tool
  [ -x "$NT" ] || make -C "$top_builddir/test" tools/notice_tool >/dev/null 2>&1 || true
  if [ -x "$NT" ]; then
    U=$pki/users n=$seeds/notice
    ( set -e
      "$NT" build deposit "$w/d0.xml" --envelope-id env-1
      "$NT" sign "$w/d0.xml" "$n/deposit.xml" --key "$pki/server.key" --cert "$pki/server.pem" --place postmark
      "$NT" promote "$n/deposit.xml" "$w/d1.xml" --from alice@example.org --cert "$U/alice@example.org.pem" \
        --to bob@example.org --cert "$U/bob@example.org.pem"
      "$NT" sign "$w/d1.xml" "$n/signed-deposit.xml" --key "$U/alice@example.org.key" \
        --cert "$U/alice@example.org.pem" --place info
      "$NT" build receipt "$w/r0.xml" --envelope-id env-1 --to bob@example.org --cert "$U/bob@example.org.pem"
      "$NT" sign "$w/r0.xml" "$n/receipt.xml" --key "$pki/server.key" --cert "$pki/server.pem" --place postmark
    ) >"$w/notice.log" 2>&1 || echo "fuzz/run.sh: notice seeds incomplete (see $w/notice.log)"
    # A CMTP session whose DEPO carries a genuine SignedDepositNotice (of another envelope).
    [ -s "$n/signed-deposit.xml" ] && B64=$(openssl base64 -A -in "$n/signed-deposit.xml") \
      perl -0777 -pe 's{DEPO \S+}{DEPO $ENV{B64}}' "$seeds/cmtp/deposit" >"$seeds/cmtp/deposit-signed"
  fi
else
  echo "fuzz/run.sh: no test PKI ($CMAIL pki init failed or not built): fuzzing without trust anchors"
fi
cp "$top_srcdir"/schemas/samples/*.xml "$seeds/notice/" 2>/dev/null
{ printf '\002'; cat "$top_srcdir/schemas/samples/sample-ca.pem"; } >"$seeds/cert/sample-ca" 2>/dev/null
[ -d "$top_srcdir/fuzz/seeds" ] && for d in "$top_srcdir"/fuzz/seeds/*/; do
  [ -d "$d" ] && mkdir -p "$seeds/$(basename "$d")" && cp "$d"* "$seeds/$(basename "$d")/" 2>/dev/null
done
export CMAIL_SCHEMA_DIR=$top_srcdir/schemas
export ASAN_OPTIONS=${ASAN_OPTIONS:-detect_leaks=1:abort_on_error=0}
export UBSAN_OPTIONS=${UBSAN_OPTIONS:-print_stacktrace=1:halt_on_error=1}

crashed=0
printf '%-12s %12s %10s %8s  %s\n' target execs execs/s corpus result
for t in $targets; do
  log=$w/$t.log
  "$out/$t" -max_total_time="$secs" -timeout=10 -rss_limit_mb=2048 -max_len=65536 \
    -print_final_stats=1 -artifact_prefix="$out/crashes/$t-" \
    "$out/corpus/$t" "$seeds/${t#fuzz_}" >"$log" 2>&1
  trc=$?
  execs=$(sed -n 's/^stat::number_of_executed_units: *//p' "$log" | tail -n 1)
  persec=$(sed -n 's/^stat::average_exec_per_sec: *//p' "$log" | tail -n 1)
  corpus=$(ls "$out/corpus/$t" | wc -l)
  if [ "$trc" -eq 0 ]; then result=ok; else result="CRASH (exit $trc)"; crashed=1; fi
  printf '%-12s %12s %10s %8s  %s\n' "$t" "${execs:-?}" "${persec:-?}" "$corpus" "$result"
  if [ "$trc" -ne 0 ]; then
    grep -E -A40 '^==[0-9]+==ERROR|runtime error|^SUMMARY|deadly signal|Test unit written' "$log" | head -n 80
  fi
done
exit $crashed
