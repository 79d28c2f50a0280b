#!/usr/bin/env bash
# fuzz/build.sh - build the libFuzzer targets with clang, ASan and UBSan, in a directory of their own
# (the normal gcc build is untouched).
#
# usage: fuzz/build.sh [OUTDIR]
#   top_srcdir   source tree (default: the directory above this script)
#   top_builddir configured build tree whose config.h is used (default: top_srcdir)
#   OUTDIR       where objects and targets go (default: $top_builddir/build-fuzz)
#   CLANG        compiler (default: clang); FUZZ_JOBS parallel compiles (default: nproc)
# Prints the names of the targets built. Exit 0, 1 on a build failure, 77 when clang cannot build
# libFuzzer targets here (the caller skips).
set -u
top_srcdir=${top_srcdir:-$(cd "$(dirname "$0")/.." && pwd)}
top_builddir=${top_builddir:-$top_srcdir}
out=${1:-$top_builddir/build-fuzz}
CLANG=${CLANG:-clang}
jobs=${FUZZ_JOBS:-$(nproc)}

command -v "$CLANG" >/dev/null || { echo "fuzz/build.sh: $CLANG not installed (apt-get install clang)"; exit 77; }
[ -f "$top_builddir/config.h" ] || { echo "fuzz/build.sh: $top_builddir/config.h missing: run configure first"; exit 1; }
mkdir -p "$out/obj" || exit 1
# Can this clang link a libFuzzer target at all (libclang-rt present)?
printf 'int LLVMFuzzerTestOneInput(const unsigned char *d, unsigned long n) { return 0; }\n' >"$out/probe.c"
if ! "$CLANG" -fsanitize=fuzzer,address,undefined "$out/probe.c" -o "$out/probe" >"$out/probe.log" 2>&1; then
  echo "fuzz/build.sh: $CLANG cannot link -fsanitize=fuzzer: $(head -n 1 "$out/probe.log")"; exit 77
fi

PKGS="openssl libxml-2.0 xmlsec1-openssl sqlite3"
pc_cflags=$(pkg-config --cflags $PKGS) || exit 1
pc_libs=$(pkg-config --libs $PKGS) || exit 1
# Plus what configure found for LIBS (e.g. -lresolv for the MX lookups), and -lresolv anyway.
pc_libs="$pc_libs $(sed -n 's/^LIBS = //p' "$top_builddir/common/Makefile" 2>/dev/null) -lresolv -lpthread"
SAN="-fsanitize=address,undefined -fno-sanitize-recover=undefined -fno-omit-frame-pointer"
CFLAGS="-g -O1 -std=gnu11 $SAN -Wall -Wno-unused-parameter \
 -I$top_builddir -I$top_srcdir/common -I$top_srcdir/cmtpd -I$top_srcdir/fuzz $pc_cflags \
 -DCMAIL_SCHEMA_DIR=\"$top_srcdir/schemas\" -DCMAIL_SYSCONFDIR=\"/etc/cmail\""

# Library objects: all of common/, cmtpd's modules as cmtpd/Makefile.am lists them in cmtpd_SOURCES
# (not cmtpd.c: it holds main()), the helpers.
cmtpd_src=$(sed -n '/^cmtpd_SOURCES *=/,/[^\\]$/p' "$top_srcdir/cmtpd/Makefile.am" | tr -s ' \t\\' '\n\n\n' |
  grep '\.c$' | grep -vx 'cmtpd\.c' | sed "s#^#$top_srcdir/cmtpd/#")
[ -n "$cmtpd_src" ] || { echo "fuzz/build.sh: no cmtpd_SOURCES in cmtpd/Makefile.am"; exit 1; }
lib_src="$(ls "$top_srcdir"/common/cm_*.c) $cmtpd_src"
lib_src="$lib_src $top_srcdir/fuzz/fuzz_common.c"
newest_h=$(ls -t "$top_srcdir"/common/*.h "$top_srcdir"/cmtpd/*.h "$top_srcdir"/fuzz/*.h "$top_builddir/config.h" | head -n 1)

# compile SRC OBJ EXTRA: when OBJ is older than SRC or any header
compile() {
  if [ ! -f "$2" ] || [ "$1" -nt "$2" ] || [ "$newest_h" -nt "$2" ]; then
    "$CLANG" $CFLAGS $3 -c "$1" -o "$2" 2>"$2.log" || { cat "$2.log"; return 1; }
  fi
}
pids=() fail=0
wait_some() { # wait for jobs until fewer than $1 run
  while [ ${#pids[@]} -ge "$1" ]; do
    wait "${pids[0]}" || fail=1
    pids=("${pids[@]:1}")
  done
}
objs=""
for src in $lib_src; do
  obj=$out/obj/$(basename "${src%.c}").o
  objs="$objs $obj"
  wait_some "$jobs"
  compile "$src" "$obj" "-fsanitize=fuzzer-no-link" & pids+=($!)
done
targets=$(cd "$top_srcdir/fuzz" && ls fuzz_*.c | grep -v -e '^fuzz_common.c$' -e '^fuzz_seeds.c$' | sed 's/\.c$//')
for t in $targets fuzz_seeds; do
  wait_some "$jobs"
  compile "$top_srcdir/fuzz/$t.c" "$out/obj/$t.o" "-fsanitize=fuzzer-no-link" & pids+=($!)
done
wait_some 1
[ $fail -eq 0 ] || { echo "fuzz/build.sh: compile failed"; exit 1; }

rm -f "$out/libcmail_fuzz.a"
ar rcs "$out/libcmail_fuzz.a" $objs || exit 1
for t in $targets; do
  "$CLANG" $CFLAGS -fsanitize=fuzzer "$out/obj/$t.o" "$out/libcmail_fuzz.a" $pc_libs -o "$out/$t" \
    || { echo "fuzz/build.sh: link $t failed"; exit 1; }
done
# The seed writer is a plain program (no libFuzzer main()).
"$CLANG" $CFLAGS "$out/obj/fuzz_seeds.o" "$out/libcmail_fuzz.a" -fsanitize=fuzzer-no-link $pc_libs \
  -o "$out/fuzz_seeds" || { echo "fuzz/build.sh: link fuzz_seeds failed"; exit 1; }
echo $targets
