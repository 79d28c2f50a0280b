# bench/lib.sh - helpers shared by the benchmarks under bench/
#
# Source it after test/shell/lib.sh, lib_mta.sh and lib_cmail.sh. Gives:
#   bench_now                      seconds since the epoch, with fractions
#   bench_cpu PID...               CPU ticks (user + system, with reaped children)
#                                  of the process trees rooted at PID...: only our
#                                  own instance, not the other jobs on the machine
#   bench_ticks_ms TICKS COUNT     TICKS / COUNT in milliseconds
#   bench_server_roots             the roots of the stack's server processes
#                                  (Postfix master, notary, milter, cmtpd -l,
#                                  extra ones in $BENCH_EXTRA_ROOTS)
#   bench_result NAME OURS BASE GOAL_OP GOAL UNIT
#                                  one line of the `make bench` table: ratio =
#                                  OURS / BASE, met when ratio GOAL_OP GOAL (>= or <=)
#   bench_value NAME OURS UNIT GOAL_OP GOAL
#                                  a line without a baseline (OURS compared to GOAL)
#   bench_build_empty_milter       compile bench/empty_milter.c into $T
# A result line is "RESULT<TAB>name<TAB>ours<TAB>baseline<TAB>ratio<TAB>goal<TAB>met";
# bench/run collects them from every benchmark into one table.

BENCH_HZ=$(getconf CLK_TCK)
: "${BENCH_EXTRA_ROOTS:=}"

bench_now() { date +%s.%N; }

# bench_cpu PID...: utime + stime + cutime + cstime (ticks) summed over the live
# processes descending from (and including) each PID. A child that exits is
# counted in its reaping parent's cutime/cstime, so the sum only grows.
bench_cpu() {
    local roots="$*"
    # /proc/PID/stat: "pid (comm) state ppid ..."; comm may hold spaces: cut at ')'.
    for f in /proc/[0-9]*/stat; do
        IFS= read -r line < "$f" 2>/dev/null && echo "${line%% (*} ${line##*) }"
    done 2>/dev/null | awk -v roots="$roots" '
        { pid = $1; ppid[pid] = $3; t[pid] = $13 + $14 + $15 + $16 }   # utime stime cutime cstime
        END {
            n = split(roots, r, " "); for (i = 1; i <= n; i++) root[r[i]] = 1
            for (p in t) {
                q = p; hops = 0
                while (q != "" && q != 0 && !(q in root) && hops++ < 64) q = ppid[q]
                if (q in root) s += t[p]
            }
            print s + 0
        }'
}

# bench_tree_pids COMM PID...: the pids of the processes named COMM (as in
# /proc/PID/stat) that descend from one of PID...
bench_tree_pids() {
    local comm=$1 f line c rest; shift
    for f in /proc/[0-9]*/stat; do
        IFS= read -r line < "$f" 2>/dev/null || continue
        c=${line#*\(} c=${c%\)*} rest=${line##*) }
        echo "${line%% (*} ${rest#* } ${c// /_}"
    done 2>/dev/null | awk -v roots="$*" -v want="$comm" '
        { ppid[$1] = $2; if ($NF == want) name[$1] = 1 }
        END {
            n = split(roots, r, " "); for (i = 1; i <= n; i++) root[r[i]] = 1
            for (p in name) { q = ppid[p]; h = 0; while (q != "" && q != 0 && !(q in root) && h++ < 64) q = ppid[q]; if (q in root) print p }
        }'
}

# bench_ticks_ms TICKS COUNT: milliseconds per item
bench_ticks_ms() {
    awk -v t="$1" -v n="$2" -v hz="$BENCH_HZ" 'BEGIN { printf "%.2f", (n > 0 ? t * 1000 / hz / n : 0) }'
}

# bench_server_roots: Postfix master, cmail-notary, cmail-milter, the standalone
# cmtpd -l and its workers (CMTPD_PID; under spawn cmtpd is in the master's tree),
# + extra roots
bench_server_roots() {
    local m
    m=$(head -1 "$T/postfix/spool/pid/master.pid" 2>/dev/null | tr -d ' ')
    echo "$m ${NOTARY_PID:-} ${MILTER_PID:-} ${CMTPD_PID:-} $BENCH_EXTRA_ROOTS"
}

# bench_ratio A B: A / B, two decimals
bench_ratio() { awk -v a="$1" -v b="$2" 'BEGIN { printf "%.2f", (b > 0 ? a / b : 0) }'; }

# bench_result NAME OURS BASE GOAL_OP GOAL UNIT
bench_result() {
    local name=$1 ours=$2 base=$3 op=$4 goal=$5 unit=$6 ratio met
    ratio=$(bench_ratio "$ours" "$base")
    met=$(awk -v r="$ratio" -v g="$goal" -v op="$op" 'BEGIN {
        if (op == ">=") print (r >= g ? "yes" : "NO"); else if (op == "<=") print (r <= g ? "yes" : "NO"); else print "-" }')
    [ "$op" = "-" ] && goal=""
    printf 'RESULT\t%s\t%s %s\t%s %s\t%s\t%s %s\t%s\n' "$name" "$ours" "$unit" "$base" "$unit" \
        "$ratio" "$op" "$goal" "$met"
}

# bench_value NAME OURS UNIT GOAL_OP GOAL: an absolute goal, no baseline
bench_value() {
    local name=$1 ours=$2 unit=$3 op=$4 goal=$5 met
    met=$(awk -v r="$ours" -v g="$goal" -v op="$op" 'BEGIN {
        if (r == "") print "n/a"; else if (op == ">=") print (r >= g ? "yes" : "NO"); else if (op == "<=") print (r <= g ? "yes" : "NO"); else print "-" }')
    if [ "$op" = "-" ]; then
        printf 'RESULT\t%s\t%s %s\t-\t-\t-\t%s\n' "$name" "$ours" "$unit" "$met"
    else
        printf 'RESULT\t%s\t%s %s\t-\t-\t%s %s %s\t%s\n' "$name" "$ours" "$unit" "$op" "$goal" "$unit" "$met"
    fi
}

# bench_build_empty_milter: $T/empty_milter from bench/empty_milter.c
bench_build_empty_milter() {
    ${CC:-cc} -O2 -o "$T/empty_milter" "$top_srcdir/bench/empty_milter.c" -lmilter -lpthread
}

# bench_start_empty_milter SOCKETPATH [content]: start it (pid in EMPTY_MILTER_PID)
bench_start_empty_milter() {
    local i
    "$T/empty_milter" "unix:$1" ${2:-} >>"$T/empty_milter.out" 2>&1 &
    EMPTY_MILTER_PID=$!
    cm_on_exit "kill $EMPTY_MILTER_PID 2>/dev/null"
    for i in $(seq 50); do [ -S "$1" ] && break; sleep 0.1; done
    [ -S "$1" ] || { echo "empty_milter did not start"; return 1; }
    chmod 0666 "$1"
    BENCH_EXTRA_ROOTS="$BENCH_EXTRA_ROOTS $EMPTY_MILTER_PID"
}

# bench_source PORT COUNT SIZE RCPTS SESSIONS: smtp-source, one connection per
# message; sets BENCH_T (seconds until the last message was accepted) and
# BENCH_TICKS (server CPU ticks until the queue is empty again)
bench_source() {
    local port=$1 count=$2 size=$3 rcpts=$4 sessions=$5 t0 c0
    c0=$(bench_cpu $(bench_server_roots))
    t0=$(bench_now)
    /usr/sbin/smtp-source -s "$sessions" -m "$count" -l "$size" -r "$rcpts" \
        -f alice@example.org -t bob@example.org "127.0.0.1:$port" >>"$T/source.out" 2>&1 ||
        { echo "smtp-source to port $port failed" >&2; return 1; }
    BENCH_T=$(awk -v a="$t0" -v b="$(bench_now)" 'BEGIN { printf "%.4f", b - a }')
    # The CPU of these messages' delivery (discard) too, in every variant alike.
    postfix_wait_queue_empty 60 >/dev/null 2>&1
    BENCH_TICKS=$(( $(bench_cpu $(bench_server_roots)) - c0 ))
}

# bench_snapshot: copy the programs under test into $T/bin and point lib_cmail.sh
# at the copies, so that a rebuild of the shared tree during a run cannot change
# or break them (call before cmail_stack_start). BENCH_CMTPD=FILE benchmarks that
# cmtpd binary instead of the tree's (an A/B comparison of two builds in one run).
bench_snapshot() {
    local f
    mkdir -p "$T/bin" && chmod 0755 "$T/bin"
    [ -n "${BENCH_CMTPD:-}" ] && CMTPD=$BENCH_CMTPD
    for f in "$CMTPD" "$NOTARY" "$MILTER" "$CMAIL"; do
        [ -x "$f" ] && cp "$f" "$T/bin/" || return 1
    done
    [ -f "$PLUGIN" ] && cp "$PLUGIN" "$T/bin/"
    chmod 0755 "$T/bin"/*
    CMTPD=$T/bin/$(basename "$CMTPD") NOTARY=$T/bin/$(basename "$NOTARY")
    MILTER=$T/bin/$(basename "$MILTER") CMAIL=$T/bin/$(basename "$CMAIL")
    [ -f "$PLUGIN" ] && PLUGIN=$T/bin/$(basename "$PLUGIN")
    return 0
}
