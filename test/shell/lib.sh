# test/shell/lib.sh - helpers for shell tests: TAP output, scratch directory
# Source it first thing: . "$top_srcdir/test/shell/lib.sh"
# Each check prints "ok N - text" or "not ok N - text"; cm_done prints the plan.
set -u
: "${top_srcdir:=$(cd "$(dirname "$0")/../.." && pwd)}"
: "${top_builddir:=$top_srcdir}"
: "${CMAIL:=$top_builddir/client/cmail}"
: "${CMAIL_SCHEMA_DIR:=$top_srcdir/schemas}"
export CMAIL_SCHEMA_DIR
cm_n=0
cm_failed=0
T=$(mktemp -d "${TMPDIR:-/tmp}/cmail-test.XXXXXX")
cm_cleanup_hooks=""
cm_cleanup() { eval "$cm_cleanup_hooks"; rm -rf "$T"; }
trap cm_cleanup EXIT
# cm_on_exit CMD: run CMD at exit (before the scratch directory goes)
cm_on_exit() { cm_cleanup_hooks="$1; $cm_cleanup_hooks"; }
ok()     { cm_n=$((cm_n + 1)); echo "ok $cm_n - $*"; }
not_ok() { cm_n=$((cm_n + 1)); cm_failed=$((cm_failed + 1)); echo "not ok $cm_n - $*"; }
skip()   { cm_n=$((cm_n + 1)); echo "ok $cm_n - # SKIP $*"; }
# check TEXT CMD...: ok when CMD exits 0; shows output when not
check() {
  local text=$1; shift
  if "$@" >"$T/.out" 2>&1; then ok "$text"; else not_ok "$text"; sed 's/^/# /' "$T/.out"; fi
}
# check_fails TEXT CMD...: ok when CMD exits non-zero
check_fails() {
  local text=$1; shift
  if "$@" >"$T/.out" 2>&1; then not_ok "$text (unexpectedly succeeded)"; sed 's/^/# /' "$T/.out"; else ok "$text"; fi
}
# check_output TEXT PATTERN CMD...: ok when CMD's output matches the grep -E pattern
check_output() {
  local text=$1 pat=$2; shift 2
  "$@" >"$T/.out" 2>&1
  if grep -Eq -- "$pat" "$T/.out"; then ok "$text"; else not_ok "$text (no match for /$pat/)"; sed 's/^/# /' "$T/.out"; fi
}
cm_done() { echo "1..$cm_n"; [ "$cm_failed" -eq 0 ]; }
