# test/shell/lib_mta.sh - private Postfix and Dovecot instances for integration tests
#
# Source it AFTER lib.sh:
#     . "$top_srcdir/test/shell/lib.sh"
#     . "$top_srcdir/test/shell/lib_mta.sh"
#
# Everything lives under the test's scratch directory $T; nothing under /etc, /var
# or /run is read for configuration or written. The packaged system services are
# neither used nor touched. Listeners are on $MTA_ADDR (127.0.0.1), on ports chosen
# free at run time (see mta_free_port), so tests may run in parallel under `make -j check`.
# Cleanup (mta_stop) is registered with cm_on_exit, and INT/TERM/HUP are turned into
# an exit so that the instances are stopped even when a test is interrupted.
#
# Layout under $T:
#     $T/postfix/etc        main.cf, master.cf, vmailbox        (POSTFIX_CONF)
#     $T/postfix/spool      queue_directory
#     $T/postfix/data       data_directory
#     $T/postfix/maillog    the Postfix log                     (POSTFIX_LOG)
#     $T/dovecot/dovecot.conf                                   (DOVECOT_CONF)
#     $T/dovecot/run        base_dir; run/lmtp is the LMTP socket (DOVECOT_LMTP)
#     $T/dovecot/state      state_dir
#     $T/dovecot/users      passwd-file (passdb and userdb)
#     $T/dovecot/ssl        self-signed TLS certificate and key
#     $T/dovecot/dovecot.log                                    (DOVECOT_LOG)
#     $T/mail/USER          USER's Maildir (new/ cur/ tmp/)
#
# Mail path: smtp_send -> Postfix smtpd on 127.0.0.1:$POSTFIX_SMTP_PORT ->
# virtual_mailbox_domains = $MTA_DOMAIN, virtual_transport = lmtp:unix:$DOVECOT_LMTP ->
# Dovecot LMTP -> $T/mail/USER. Mail for any other domain is refused by the
# error transport (nothing ever leaves the machine).
#
# Settings a test may change BEFORE calling the start functions:
#     MTA_DOMAIN (example.org), MTA_HOSTNAME (mail.$MTA_DOMAIN),
#     MTA_ADDR (127.0.0.1): the address every listener binds (any 127/8 address is
#         loopback on Linux: two instances may use 127.0.0.2 and 127.0.0.3),
#     MTA_SMTP_PORT: smtpd port reserved by the caller (mta_free_port) instead of
#         a fresh one at each postfix_start (then a restart keeps the port),
#     MTA_MAIL_USER (mail): the system user owning every Maildir,
#     MTA_DEFAULT_PASS (secret): password of users created without one,
#     MTA_TIMEOUT (20): seconds any single wait may take,
#     DOVECOT_EXTRA_CONF: text appended to dovecot.conf (mail_plugins, plugin {}),
#     DOVECOT_PLUGIN_DIR: mail_plugin_dir (default /usr/lib/dovecot/modules),
#     DOVECOT_SSL_CERT / DOVECOT_SSL_KEY: TLS certificate/key to use instead of the
#         generated self-signed pair,
#     POSTFIX_EXTRA_MAIN: lines appended to main.cf (later lines override earlier),
#     POSTFIX_EXTRA_MASTER: lines appended to master.cf (milters, spawn services,
#         injection listeners; take their ports from mta_free_port).
#
# Exported after start:
#     DOVECOT_CONF DOVECOT_LOG DOVECOT_LMTP DOVECOT_IMAP_PORT DOVECOT_POP3_PORT
#     DOVECOT_IMAP_PLAIN_PORT DOVECOT_POP3_PLAIN_PORT (STARTTLS-capable, plaintext)
#     DOVECOT_SSL_CA (the certificate clients should trust)
#     POSTFIX_CONF POSTFIX_LOG POSTFIX_SMTP_PORT
#
# Functions (each documented where it is defined):
#     mta_available                     can the instances run here? (else: why)
#     mta_init                          layout, checks, cleanup hook (implicit)
#     mta_users USER[:PASS]...          create mailbox users
#     dovecot_start / postfix_start     start the instances
#     postfix_reload                    after a main.cf/master.cf change
#     postfix_stop / dovecot_stop       stop one (the queue and mailboxes stay)
#     mta_stop                          stop both, kill leftovers, free the ports
#     smtp_send FROM TO[,TO...] FILE [HOST:PORT]
#     wait_for_mail USER [COUNT] [TIMEOUT]
#     imap_fetch USER PASS N            imap_raw USER PASS CMD...
#     pop3_list USER PASS               pop3_retr USER PASS N    pop3_raw USER PASS CMD...
#     mta_wait_log FILE PATTERN [TIMEOUT]      postfix_wait_queue_empty [TIMEOUT]
#     mta_free_port VAR                 mta_wait_port PORT [TIMEOUT]
#     mta_port_free PORT                mta_listeners PORT
#     mta_instance_pids                 mta_reap_orphans     mta_log_tail [LINES]
#     mta_pass USER                     mta_maildir USER     mta_count_mail USER
#     mta_stop_dir DIR                  stop the instances under DIR (at exit)
#     mta_state_save NAME [VAR...]      mta_state_load NAME
#
# Several instances in one test: each lives in its own directory, and $T names the
# current one. Set T (a directory below the test's scratch directory; the parents
# must be searchable by others), MTA_ADDR, MTA_DOMAIN, MTA_HOSTNAME, unset the
# port variables, call the start functions, then mta_state_save NAME; switch back
# and forth with mta_state_load NAME. Every instance is stopped at exit (mta_init
# registers mta_stop_dir for its directory). Restore the test's own $T before exit.
#
# Daemons (milters, cmtpd, the notary) that later tests put under $T must be
# reachable by the postfix and dovecot users: $T is mode 0711 after mta_init, so a
# directory below it holding a socket needs mode 0755 (or at least o+x).
# Timings of the last start are left in MTA_DOVECOT_START_TIME and
# MTA_POSTFIX_START_TIME (seconds).

: "${MTA_DOMAIN:=example.org}"
: "${MTA_ADDR:=127.0.0.1}"
: "${MTA_SMTP_PORT:=}"
: "${MTA_HOSTNAME:=mail.$MTA_DOMAIN}"
: "${MTA_MAIL_USER:=mail}"
: "${MTA_DEFAULT_PASS:=secret}"
: "${MTA_TIMEOUT:=20}"
: "${DOVECOT_EXTRA_CONF:=}"
: "${DOVECOT_PLUGIN_DIR:=/usr/lib/dovecot/modules}"
: "${DOVECOT_SSL_CERT:=}"
: "${DOVECOT_SSL_KEY:=}"
: "${POSTFIX_EXTRA_MAIN:=}"
: "${POSTFIX_EXTRA_MASTER:=}"

# Port range: below Linux's default ephemeral range (32768-60999), so that outgoing
# connections never sit on a port we are about to listen on.
MTA_PORT_MIN=20000
MTA_PORT_SPAN=12000
# Reservations, shared by every test of every tree on this machine: a directory
# per port holding the reserving shell's pid. Stale entries (dead pid) are reused.
mta_port_dir=${TMPDIR:-/tmp}/cmail-test-ports

mta_inited=		# the directory ($T) the current instance was set up in
mta_dovecot_running=
mta_postfix_running=
mta_exit_hook=
# What mta_state_save/mta_state_load switch between instances
MTA_STATE_VARS="T MTA_DOMAIN MTA_HOSTNAME MTA_ADDR MTA_SMTP_PORT POSTFIX_CONF POSTFIX_LOG
POSTFIX_SMTP_PORT DOVECOT_CONF DOVECOT_LOG DOVECOT_LMTP DOVECOT_SSL_CA DOVECOT_SSL_CERT
DOVECOT_SSL_KEY DOVECOT_IMAP_PORT DOVECOT_POP3_PORT DOVECOT_IMAP_PLAIN_PORT
DOVECOT_POP3_PLAIN_PORT DOVECOT_EXTRA_CONF DOVECOT_PLUGIN_DIR POSTFIX_EXTRA_MAIN
POSTFIX_EXTRA_MASTER mta_inited mta_postfix_running mta_dovecot_running"

# mta_state_save NAME [VAR...]: remember the current instance's variables (those of
# MTA_STATE_VARS and the VARs given) under NAME
mta_state_save() {
    local name=$1 v
    shift
    for v in $MTA_STATE_VARS "$@"; do
        printf -v "mta_st_${name}_$v" '%s' "${!v-}"
    done
    printf -v "mta_st_${name}__vars" '%s' "$MTA_STATE_VARS $*"
}

# mta_state_load NAME: make the instance saved as NAME the current one
mta_state_load() {
    local name=$1 v s l="mta_st_${1}__vars"
    [ -n "${!l-}" ] || { mta_diag "mta_state_load: no instance saved as '$name'"; return 1; }
    for v in ${!l}; do
        s="mta_st_${name}_$v"
        printf -v "$v" '%s' "${!s}"
    done
}

# mta_diag TEXT...: a diagnostic line, as a TAP comment on stderr (goes to the log)
mta_diag() { printf '# %s\n' "$*" >&2; }

# mta_now: seconds since the epoch with fractions, for timing
mta_now() { date +%s.%N; }

# mta_elapsed START: seconds since START (from mta_now), two decimals
mta_elapsed() { awk -v a="$1" -v b="$(mta_now)" 'BEGIN { printf "%.2f", b - a }'; }

# mta_available: true when this machine can run the private instances (root, the
# Debian packages postfix, dovecot-core, -imapd, -pop3d, -lmtpd); otherwise prints
# the reason, for a test to SKIP with:
#     why=$(mta_available) || { skip "$why"; cm_done; exit 0; }
mta_available() {
    local f
    [ "$(id -u)" -eq 0 ] || { echo "needs root (private Postfix and Dovecot)"; return 1; }
    for f in /usr/sbin/postfix /usr/lib/postfix/sbin/master /usr/sbin/dovecot \
        /usr/lib/dovecot/imap /usr/lib/dovecot/pop3 /usr/lib/dovecot/lmtp /usr/bin/openssl; do
        [ -x "$f" ] || { echo "$f missing (postfix, dovecot-imapd/pop3d/lmtpd, openssl)"; return 1; }
    done
}

# mta_init: scratch layout and sanity checks; idempotent, called by every entry point
mta_init() {
    [ -n "$mta_inited" ] && [ "$mta_inited" = "$T" ] && return 0
    local d u
    # A new directory: a new instance, not running yet.
    mta_postfix_running= mta_dovecot_running=
    if [ "$(id -u)" -ne 0 ]; then
        mta_diag "lib_mta.sh: must run as root (Postfix and Dovecot drop privileges)"
        return 1
    fi
    for u in postfix dovecot dovenull "$MTA_MAIL_USER"; do
        getent passwd "$u" >/dev/null || {
            mta_diag "lib_mta.sh: system user '$u' missing (packages postfix, dovecot-core installed?)"
            return 1
        }
    done
    getent group postdrop >/dev/null || { mta_diag "lib_mta.sh: group postdrop missing"; return 1; }
    # The daemons run as postfix, dovecot, dovenull and $MTA_MAIL_USER: they must be
    # able to reach $T. mktemp made it 0700; open it for traversal only.
    chmod 0711 "$T" || return 1
    d=$T
    while [ "$d" != / ] && [ -n "$d" ]; do
        d=$(dirname "$d")
        if [ "$(( 0$(stat -c %a "$d") & 1 ))" -eq 0 ]; then
            mta_diag "lib_mta.sh: $d is not searchable by other users; set TMPDIR elsewhere"
            return 1
        fi
    done
    mkdir -p "$T/postfix/etc" "$T/postfix/spool" "$T/postfix/data" \
        "$T/dovecot/run" "$T/dovecot/state" "$T/dovecot/ssl" "$T/mail" || return 1
    chmod 0755 "$T/postfix" "$T/postfix/etc" "$T/postfix/spool" "$T/dovecot" \
        "$T/dovecot/run" "$T/mail"
    chown postfix:postfix "$T/postfix/data"
    chmod 0700 "$T/postfix/data" "$T/dovecot/ssl"
    chown "$MTA_MAIL_USER:$(id -gn "$MTA_MAIL_USER")" "$T/mail"
    touch "$T/dovecot/users" "$T/postfix/etc/vmailbox"
    chown root:dovecot "$T/dovecot/users"
    chmod 0640 "$T/dovecot/users"
    chmod 0644 "$T/postfix/etc/vmailbox"
    POSTFIX_CONF=$T/postfix/etc
    POSTFIX_LOG=$T/postfix/maillog
    DOVECOT_CONF=$T/dovecot/dovecot.conf
    DOVECOT_LOG=$T/dovecot/dovecot.log
    DOVECOT_LMTP=$T/dovecot/run/lmtp
    export POSTFIX_CONF POSTFIX_LOG DOVECOT_CONF DOVECOT_LOG DOVECOT_LMTP
    mta_reap_orphans
    if [ -z "$mta_exit_hook" ]; then
        # The first instance (the only one in most tests): as before.
        cm_on_exit "mta_stop_dir '$T'; mta_release_ports"
        mta_exit_hook=1
    else
        cm_on_exit "mta_stop_dir '$T'"
    fi
    trap 'exit 129' HUP
    trap 'exit 130' INT
    trap 'exit 143' TERM
    mta_inited=$T
}

# mta_stop_dir DIR: stop the Postfix and Dovecot instances living under DIR, whether
# or not they are the current instance (used at exit); waits until their processes
# are gone. Ports are not released (mta_stop does that).
mta_stop_dir() {
    local T=$1 pid
    if [ -f "$T/postfix/etc/main.cf" ] && [ -s "$T/postfix/spool/pid/master.pid" ]; then
        pid=$(tr -d ' ' <"$T/postfix/spool/pid/master.pid" 2>/dev/null)
        if [ -n "$pid" ] && kill -0 "$pid" 2>/dev/null; then
            timeout -k 5 "$MTA_TIMEOUT" postfix -c "$T/postfix/etc" stop >>"$T/postfix/start.out" 2>&1
        fi
    fi
    pid=$(cat "$T/dovecot/run/master.pid" 2>/dev/null)
    if [ -n "$pid" ] && kill -0 "$pid" 2>/dev/null; then
        kill -TERM "$pid"
    fi
    [ -d "$T/postfix" ] && mta_wait_gone all
    [ "$mta_inited" = "$T" ] && mta_postfix_running= mta_dovecot_running=
    return 0
}

# mta_listeners PORT: print the local addresses listening on TCP PORT, one a line
# (IPv4 dotted, IPv6 as the kernel's hex). Reads /proc/net/tcp{,6}, so it needs
# neither ss nor netstat (a minimal Debian image has neither).
mta_listeners() {
    awk -v port="$(printf '%04X' "$1")" '
        FNR > 1 && $4 == "0A" {
            split($2, a, ":")
            if (a[2] != port) next
            if (length(a[1]) == 8)
                print strtonum_ip(a[1])
            else
                print a[1]
        }
        function hex(h,   i, n) {
            n = 0
            for (i = 1; i <= length(h); i++)
                n = n * 16 + index("0123456789ABCDEF", substr(h, i, 1)) - 1
            return n
        }
        function strtonum_ip(h) {
            return hex(substr(h, 7, 2)) "." hex(substr(h, 5, 2)) "." hex(substr(h, 3, 2)) "." hex(substr(h, 1, 2))
        }' /proc/net/tcp /proc/net/tcp6 2>/dev/null
}

# mta_port_free PORT: true when nothing listens on TCP PORT (any address)
mta_port_free() {
    [ -z "$(mta_listeners "$1")" ]
}

# mta_free_port VAR: reserve a free 127.0.0.1 TCP port for this test and store it in
# VAR. The reservation is released by mta_stop (at exit).
mta_free_port() {
    local var=$1 i p owner
    mkdir -p "$mta_port_dir" 2>/dev/null
    chmod 1777 "$mta_port_dir" 2>/dev/null
    for i in $(seq 1 300); do
        p=$((MTA_PORT_MIN + (RANDOM * 32768 + RANDOM) % MTA_PORT_SPAN))
        mta_port_free "$p" || continue
        if ! mkdir "$mta_port_dir/$p" 2>/dev/null; then
            owner=$(cat "$mta_port_dir/$p/pid" 2>/dev/null)
            # Stale: the reserving test is gone. Take over atomically (rename).
            if [ -n "$owner" ] && ! kill -0 "$owner" 2>/dev/null &&
                mv "$mta_port_dir/$p" "$mta_port_dir/.stale.$$.$p" 2>/dev/null; then
                rm -rf "$mta_port_dir/.stale.$$.$p"
                mkdir "$mta_port_dir/$p" 2>/dev/null || continue
            else
                continue
            fi
        fi
        echo $$ >"$mta_port_dir/$p/pid"
        echo "$T" >"$mta_port_dir/$p/dir"
        # Checked again: a process outside the scheme may have bound it meanwhile.
        if ! mta_port_free "$p"; then
            rm -rf "$mta_port_dir/$p"
            continue
        fi
        printf -v "$var" '%s' "$p"
        return 0
    done
    mta_diag "mta_free_port: no free port in $MTA_PORT_MIN..$((MTA_PORT_MIN + MTA_PORT_SPAN))"
    return 1
}

# mta_reap_orphans: stop the instances of tests that died without cleaning up
# (SIGKILL): their port reservations name a dead owner pid and the owner's scratch
# directory. Only instances whose owner is gone are touched.
mta_reap_orphans() {
    local d owner t pid
    for d in "$mta_port_dir"/[0-9]*; do
        [ -f "$d/pid" ] || continue
        owner=$(cat "$d/pid" 2>/dev/null)
        # An empty pid file is a reservation being made right now: leave it.
        [ -z "$owner" ] || kill -0 "$owner" 2>/dev/null && continue
        t=$(cat "$d/dir" 2>/dev/null)
        case $t in
            */cmail-test.*) ;;
            *) t= ;;
        esac
        if [ -n "$t" ] && [ "$t" != "$T" ]; then
            [ -f "$t/postfix/etc/main.cf" ] &&
                postfix -c "$t/postfix/etc" stop >/dev/null 2>&1
            pid=$(cat "$t/dovecot/run/master.pid" 2>/dev/null)
            if [ -n "$pid" ] && [ "$(readlink "/proc/$pid/exe" 2>/dev/null)" = /usr/sbin/dovecot ] &&
                tr '\0' '\n' <"/proc/$pid/cmdline" 2>/dev/null | grep -qF -- "$t/"; then
                kill -TERM "$pid" 2>/dev/null
            fi
        fi
        rm -rf "$d"
    done
    return 0
}

# mta_release_ports: drop every port reservation made by this test
mta_release_ports() {
    local d
    for d in "$mta_port_dir"/[0-9]*; do
        [ -f "$d/pid" ] || continue
        [ "$(cat "$d/pid" 2>/dev/null)" = "$$" ] && rm -rf "$d"
    done
    return 0
}

# mta_wait_port PORT [TIMEOUT]: wait until something listens on PORT
mta_wait_port() {
    local port=$1 limit=$(( ${2:-$MTA_TIMEOUT} * 10 )) i=0
    while mta_port_free "$port"; do
        i=$((i + 1))
        [ "$i" -gt "$limit" ] && { mta_diag "timeout waiting for a listener on port $port"; return 1; }
        sleep 0.1
    done
}

# mta_wait_file PATH [TIMEOUT]: wait until PATH exists (a socket, a pid file)
mta_wait_file() {
    local path=$1 limit=$(( ${2:-$MTA_TIMEOUT} * 10 )) i=0
    while [ ! -e "$path" ]; do
        i=$((i + 1))
        [ "$i" -gt "$limit" ] && { mta_diag "timeout waiting for $path"; return 1; }
        sleep 0.1
    done
}

# mta_log_tail [LINES]: the end of both instance logs, as TAP comments on stderr
mta_log_tail() {
    local n=${1:-25} f
    for f in "${POSTFIX_LOG:-}" "$T/postfix/start.out" "${DOVECOT_LOG:-}" "$T/dovecot/start.out"; do
        [ -n "$f" ] && [ -s "$f" ] || continue
        mta_diag "---- tail of $f"
        tail -n "$n" "$f" | sed 's/^/#   /' >&2
    done
}

# mta_instance_pids [postfix|dovecot|all]: pids of Postfix/Dovecot processes
# belonging to THIS test's instances (their command line, environment or working
# directory names $T). Other instances, the system services and other tests are
# never listed.
mta_instance_pids() {
    local p cwd
    local -a sel pf=(-lname '/usr/lib/postfix/*' -o -lname /usr/sbin/postfix)
    local -a dc=(-lname /usr/sbin/dovecot -o -lname '/usr/lib/dovecot/*')
    case ${1:-all} in
        postfix) sel=("${pf[@]}") ;;
        dovecot) sel=("${dc[@]}") ;;
        *) sel=("${pf[@]}" -o "${dc[@]}") ;;
    esac
    # One find(1) for the candidates: processes running a Postfix or Dovecot binary.
    for p in $(find /proc -mindepth 2 -maxdepth 2 -name exe \( "${sel[@]}" \) \
        -printf '%h\n' 2>/dev/null); do
        cwd=$(readlink "$p/cwd" 2>/dev/null)
        case $cwd/ in
            "$T"/*) ;;
            *) { tr '\0' '\n' <"$p/cmdline"; tr '\0' '\n' <"$p/environ"; } 2>/dev/null |
                   grep -qF -- "$T/" || continue ;;
        esac
        echo "${p#/proc/}"
    done
}

# mta_pass USER: print USER's password (as given to mta_users)
mta_pass() {
    local u=${1%@*}
    sed -n "s/^$u@[^:]*:{PLAIN}\\([^:]*\\):.*/\\1/p" "$T/dovecot/users"
}

# mta_maildir USER: print the path of USER's Maildir (USER or USER@domain)
mta_maildir() { echo "$T/mail/${1%@*}"; }

# mta_count_mail USER: print how many messages USER's Maildir holds (new + cur)
mta_count_mail() {
    local m n=0 f
    m=$(mta_maildir "$1")
    for f in "$m"/new/* "$m"/cur/*; do
        [ -f "$f" ] && n=$((n + 1))
    done
    echo "$n"
}

# mta_users USER[:PASS]...: create mailbox users USER@$MTA_DOMAIN (login as USER or
# USER@$MTA_DOMAIN) with password PASS (default $MTA_DEFAULT_PASS), an empty Maildir
# $T/mail/USER owned by $MTA_MAIL_USER, a passwd-file entry for Dovecot and a
# virtual_mailbox_maps entry for Postfix. May be called before or after the start
# functions (a running Postfix is reloaded).
mta_users() {
    mta_init || return 1
    local spec u pw uid gid m
    uid=$(id -u "$MTA_MAIL_USER") gid=$(id -g "$MTA_MAIL_USER")
    for spec in "$@"; do
        u=${spec%%:*}
        pw=$MTA_DEFAULT_PASS
        case $spec in *:*) pw=${spec#*:} ;; esac
        u=${u%@*}
        case $u in
            ''|*[!a-z0-9._-]*) mta_diag "mta_users: bad user name '$u'"; return 1 ;;
        esac
        case $pw in *:*|'') mta_diag "mta_users: bad password for $u"; return 1 ;; esac
        m=$T/mail/$u
        sed -i "/^$u@/d" "$T/dovecot/users" "$T/postfix/etc/vmailbox"
        echo "$u@$MTA_DOMAIN:{PLAIN}$pw:$uid:$gid::$m::" >>"$T/dovecot/users"
        echo "$u@$MTA_DOMAIN $u/" >>"$T/postfix/etc/vmailbox"
        mkdir -p "$m/new" "$m/cur" "$m/tmp"
        chown -R "$uid:$gid" "$m"
        chmod -R go-rwx "$m"
    done
    if [ -n "$mta_postfix_running" ]; then
        postfix_reload || return 1
    fi
}

# mta_make_cert: a self-signed certificate for $MTA_HOSTNAME in $T/dovecot/ssl
mta_make_cert() {
    local d=$T/dovecot/ssl
    [ -s "$d/cert.pem" ] && return 0
    openssl req -x509 -newkey rsa:2048 -nodes -days 2 -sha256 \
        -keyout "$d/key.pem" -out "$d/cert.pem" -subj "/CN=$MTA_HOSTNAME" \
        -addext "subjectAltName=DNS:$MTA_HOSTNAME,DNS:localhost,IP:$MTA_ADDR" \
        >"$d/openssl.out" 2>&1 || { cat "$d/openssl.out" >&2; return 1; }
    chmod 0600 "$d/key.pem"
    chmod 0644 "$d/cert.pem"
}

# dovecot_start: start the private Dovecot (IMAP, POP3 with implicit TLS and
# plaintext/STARTTLS listeners on $MTA_ADDR, LMTP on a unix socket) and wait until
# all listeners are up. Exports the DOVECOT_* variables listed at the top. May be
# called again after dovecot_stop (new ports, DOVECOT_EXTRA_CONF read again).
dovecot_start() {
    mta_init || return 1
    local d=$T/dovecot cert key uid t0
    t0=$(mta_now)
    [ -n "$mta_dovecot_running" ] && { mta_diag "dovecot_start: already running"; return 1; }
    cert=$DOVECOT_SSL_CERT key=$DOVECOT_SSL_KEY
    if [ -z "$cert" ]; then
        mta_make_cert || return 1
        cert=$d/ssl/cert.pem key=$d/ssl/key.pem
    fi
    DOVECOT_SSL_CA=$cert
    mta_free_port DOVECOT_IMAP_PORT || return 1
    mta_free_port DOVECOT_POP3_PORT || return 1
    mta_free_port DOVECOT_IMAP_PLAIN_PORT || return 1
    mta_free_port DOVECOT_POP3_PLAIN_PORT || return 1
    export DOVECOT_SSL_CA DOVECOT_IMAP_PORT DOVECOT_POP3_PORT \
        DOVECOT_IMAP_PLAIN_PORT DOVECOT_POP3_PLAIN_PORT
    uid=$(id -u "$MTA_MAIL_USER")
    cat >"$DOVECOT_CONF" <<EOF
# Private Dovecot for a Cmail test ($T); generated by test/shell/lib_mta.sh
instance_name = cmail-test-$(t=${T##*.}; echo "${t//\//-}")
base_dir = $d/run
state_dir = $d/state
protocols = imap pop3 lmtp
listen = $MTA_ADDR
log_path = $DOVECOT_LOG
info_log_path = $DOVECOT_LOG
debug_log_path = $DOVECOT_LOG
auth_verbose = yes
auth_failure_delay = 0
ssl = yes
ssl_cert = <$cert
ssl_key = <$key
ssl_min_protocol = TLSv1.2
# PROFILE.md section 8: TLS 1.3, or 1.2 with ECDHE and AES-GCM
ssl_cipher_list = ECDHE+AESGCM
disable_plaintext_auth = no
auth_mechanisms = plain login
auth_default_realm = $MTA_DOMAIN
default_internal_user = dovecot
default_login_user = dovenull
first_valid_uid = $uid
last_valid_uid = 0
mail_location = maildir:$T/mail/%n
mail_plugin_dir = $DOVECOT_PLUGIN_DIR
postmaster_address = postmaster@$MTA_DOMAIN
hostname = $MTA_HOSTNAME
pop3_uidl_format = %08Xu%08Xv
passdb {
  driver = passwd-file
  args = scheme=PLAIN username_format=%u $d/users
}
userdb {
  driver = passwd-file
  args = username_format=%u $d/users
}
service imap-login {
  inet_listener imap {
    address = $MTA_ADDR
    port = $DOVECOT_IMAP_PLAIN_PORT
  }
  inet_listener imaps {
    address = $MTA_ADDR
    port = $DOVECOT_IMAP_PORT
    ssl = yes
  }
}
service pop3-login {
  inet_listener pop3 {
    address = $MTA_ADDR
    port = $DOVECOT_POP3_PLAIN_PORT
  }
  inet_listener pop3s {
    address = $MTA_ADDR
    port = $DOVECOT_POP3_PORT
    ssl = yes
  }
}
# No auth penalty: the tests' deliberate failures must not slow later logins.
service anvil {
  unix_listener anvil-auth-penalty {
    mode = 0
  }
}
service lmtp {
  unix_listener lmtp {
    mode = 0666
  }
}
EOF
    [ -n "$DOVECOT_EXTRA_CONF" ] && printf '%s\n' "$DOVECOT_EXTRA_CONF" >>"$DOVECOT_CONF"
    chmod 0644 "$DOVECOT_CONF"
    mta_dovecot_running=1
    if ! timeout -k 5 "$MTA_TIMEOUT" dovecot -c "$DOVECOT_CONF" >"$d/start.out" 2>&1; then
        mta_diag "dovecot_start: dovecot -c $DOVECOT_CONF failed"
        mta_log_tail
        return 1
    fi
    if ! mta_wait_port "$DOVECOT_IMAP_PORT" || ! mta_wait_port "$DOVECOT_POP3_PORT" ||
        ! mta_wait_port "$DOVECOT_IMAP_PLAIN_PORT" || ! mta_wait_port "$DOVECOT_POP3_PLAIN_PORT" ||
        ! mta_wait_file "$DOVECOT_LMTP"; then
        mta_diag "dovecot_start: listeners did not come up"
        mta_log_tail
        return 1
    fi
    MTA_DOVECOT_START_TIME=$(mta_elapsed "$t0")
}

# mta_master_cf: the master.cf of the private Postfix (Debian's services, chroot n,
# no port 25, smtpd on $MTA_ADDR:$POSTFIX_SMTP_PORT, postlog for maillog_file)
mta_master_cf() {
    cat <<EOF
# Private Postfix for a Cmail test ($T); generated by test/shell/lib_mta.sh
$MTA_ADDR:$POSTFIX_SMTP_PORT inet n - n - - smtpd
pickup    unix  n       -       n       60      1       pickup
cleanup   unix  n       -       n       -       0       cleanup
qmgr      unix  n       -       n       300     1       qmgr
tlsmgr    unix  -       -       n       1000?   1       tlsmgr
rewrite   unix  -       -       n       -       -       trivial-rewrite
bounce    unix  -       -       n       -       0       bounce
defer     unix  -       -       n       -       0       bounce
trace     unix  -       -       n       -       0       bounce
verify    unix  -       -       n       -       1       verify
flush     unix  n       -       n       1000?   0       flush
proxymap  unix  -       -       n       -       -       proxymap
proxywrite unix -       -       n       -       1       proxymap
smtp      unix  -       -       n       -       -       smtp
relay     unix  -       -       n       -       -       smtp
showq     unix  n       -       n       -       -       showq
error     unix  -       -       n       -       -       error
retry     unix  -       -       n       -       -       error
discard   unix  -       -       n       -       -       discard
local     unix  -       n       n       -       -       local
virtual   unix  -       n       n       -       -       virtual
lmtp      unix  -       -       n       -       -       lmtp
anvil     unix  -       -       n       -       1       anvil
scache    unix  -       -       n       -       1       scache
postlog   unix-dgram n  -       n       -       1       postlogd
EOF
}

# postfix_start: start the private Postfix (smtpd on $MTA_ADDR:$POSTFIX_SMTP_PORT,
# mail for $MTA_DOMAIN to Dovecot's LMTP socket, everything else refused) and wait
# until it listens. Dovecot may be started before or after (until it runs, mail
# for $MTA_DOMAIN waits in the queue). May be called again after postfix_stop.
postfix_start() {
    mta_init || return 1
    local p=$T/postfix t0
    t0=$(mta_now)
    [ -n "$mta_postfix_running" ] && { mta_diag "postfix_start: already running"; return 1; }
    if [ -n "$MTA_SMTP_PORT" ]; then
        POSTFIX_SMTP_PORT=$MTA_SMTP_PORT
    else
        mta_free_port POSTFIX_SMTP_PORT || return 1
    fi
    export POSTFIX_SMTP_PORT
    cat >"$POSTFIX_CONF/main.cf" <<EOF
# Private Postfix for a Cmail test ($T); generated by test/shell/lib_mta.sh
compatibility_level = 3.6
queue_directory = $p/spool
data_directory = $p/data
mail_owner = postfix
setgid_group = postdrop
myhostname = $MTA_HOSTNAME
mydomain = $MTA_DOMAIN
myorigin = $MTA_DOMAIN
mydestination = localhost
# Only addresses of a network interface are accepted here (127.0.0.2 is not one,
# although the kernel routes all of 127/8 to lo): listeners in master.cf name
# $MTA_ADDR themselves.
inet_interfaces = 127.0.0.1
inet_protocols = ipv4
mynetworks = 127.0.0.0/8
alias_maps =
alias_database =
biff = no
maillog_file = $POSTFIX_LOG
maillog_file_prefixes = /var, /dev/stdout, $p
syslog_name = postfix-cmail-test
smtpd_banner = \$myhostname ESMTP
virtual_mailbox_domains = $MTA_DOMAIN
virtual_mailbox_maps = texthash:$POSTFIX_CONF/vmailbox
virtual_transport = lmtp:unix:$DOVECOT_LMTP
default_transport = error:5.7.1 outbound mail is disabled in tests
relay_transport = error:5.7.1 outbound mail is disabled in tests
relayhost =
smtpd_relay_restrictions = permit_mynetworks, reject_unauth_destination
smtp_dns_support_level = disabled
delay_warning_time = 0h
maximal_queue_lifetime = 1h
bounce_queue_lifetime = 1h
queue_run_delay = 10s
minimal_backoff_time = 10s
maximal_backoff_time = 30s
EOF
    [ -n "$POSTFIX_EXTRA_MAIN" ] && printf '%s\n' "$POSTFIX_EXTRA_MAIN" >>"$POSTFIX_CONF/main.cf"
    mta_master_cf >"$POSTFIX_CONF/master.cf"
    [ -n "$POSTFIX_EXTRA_MASTER" ] && printf '%s\n' "$POSTFIX_EXTRA_MASTER" >>"$POSTFIX_CONF/master.cf"
    chmod 0644 "$POSTFIX_CONF/main.cf" "$POSTFIX_CONF/master.cf"
    # postfix(1) sleeps (0.3 s steps) until main.cf is older than the clock's
    # second: backdate the files we just wrote instead of waiting.
    touch -d "@$(( $(date +%s) - 10 ))" "$POSTFIX_CONF/main.cf" "$POSTFIX_CONF/master.cf"
    mta_postfix_running=1
    if ! timeout -k 5 "$MTA_TIMEOUT" postfix -c "$POSTFIX_CONF" start >"$p/start.out" 2>&1; then
        mta_diag "postfix_start: postfix -c $POSTFIX_CONF start failed"
        mta_log_tail
        return 1
    fi
    if ! mta_wait_port "$POSTFIX_SMTP_PORT"; then
        mta_diag "postfix_start: smtpd did not come up"
        mta_log_tail
        return 1
    fi
    MTA_POSTFIX_START_TIME=$(mta_elapsed "$t0")
}

# postfix_reload: reload the running private Postfix after a change of main.cf,
# master.cf (e.g. with postconf -c "$POSTFIX_CONF" -e / -M) or a map, and wait
# until the master has logged the reload
postfix_reload() {
    local n
    n=$(grep -c ' reload -- ' "$POSTFIX_LOG" 2>/dev/null)
    touch -d "@$(( $(date +%s) - 10 ))" "$POSTFIX_CONF/main.cf" "$POSTFIX_CONF/master.cf"
    if ! timeout -k 5 "$MTA_TIMEOUT" postfix -c "$POSTFIX_CONF" reload >>"$T/postfix/start.out" 2>&1; then
        mta_diag "postfix_reload: postfix -c $POSTFIX_CONF reload failed"
        mta_log_tail
        return 1
    fi
    mta_wait_log_count "$POSTFIX_LOG" ' reload -- ' $(( ${n:-0} + 1 )) || return 1
    # Idle processes of the old generation leave the listening sockets to new ones.
    sleep 0.2
}

# mta_wait_gone WHICH: wait (bounded) until no process of this test's WHICH
# instance (postfix, dovecot or all) is left; TERM them after 5 s, KILL at the end
mta_wait_gone() {
    local which=$1 i pids
    for i in $(seq 1 $((MTA_TIMEOUT * 10))); do
        pids=$(mta_instance_pids "$which")
        [ -z "$pids" ] && return 0
        [ "$i" -eq 50 ] && kill $pids 2>/dev/null
        sleep 0.1
    done
    pids=$(mta_instance_pids "$which")
    if [ -n "$pids" ]; then
        mta_diag "mta_stop: killing leftover $which processes: $pids"
        kill -9 $pids 2>/dev/null
    fi
    return 0
}

# postfix_stop: stop the private Postfix and wait until all its processes are gone
# (the queue stays: postfix_start again picks it up, on a new port)
postfix_stop() {
    if [ -n "$mta_postfix_running" ]; then
        timeout -k 5 "$MTA_TIMEOUT" postfix -c "$POSTFIX_CONF" stop >>"$T/postfix/start.out" 2>&1
        mta_postfix_running=
    fi
    [ -n "$mta_inited" ] && mta_wait_gone postfix
    return 0
}

# dovecot_stop: stop the private Dovecot and wait until all its processes are gone
dovecot_stop() {
    local pid
    if [ -n "$mta_dovecot_running" ]; then
        # SIGTERM to the master is what `doveadm stop` does, without its 1 s polling.
        pid=$(cat "$T/dovecot/run/master.pid" 2>/dev/null)
        if [ -n "$pid" ] && kill -0 "$pid" 2>/dev/null; then
            kill -TERM "$pid"
        else
            timeout -k 5 "$MTA_TIMEOUT" doveadm -c "$DOVECOT_CONF" stop >>"$T/dovecot/start.out" 2>&1
        fi
        mta_dovecot_running=
    fi
    [ -n "$mta_inited" ] && mta_wait_gone dovecot
    return 0
}

# mta_stop: stop Postfix and Dovecot (both at once), wait (bounded) for every
# process of this test's instances to exit, kill leftovers (of this instance only)
# and release the reserved ports. Safe to call twice; registered to run at exit.
mta_stop() {
    local pid
    if [ -n "$mta_postfix_running" ]; then
        timeout -k 5 "$MTA_TIMEOUT" postfix -c "$POSTFIX_CONF" stop >>"$T/postfix/start.out" 2>&1
        mta_postfix_running=
    fi
    if [ -n "$mta_dovecot_running" ]; then
        pid=$(cat "$T/dovecot/run/master.pid" 2>/dev/null)
        if [ -n "$pid" ] && kill -0 "$pid" 2>/dev/null; then
            kill -TERM "$pid"
        else
            timeout -k 5 "$MTA_TIMEOUT" doveadm -c "$DOVECOT_CONF" stop >>"$T/dovecot/start.out" 2>&1
        fi
        mta_dovecot_running=
    fi
    [ -n "$mta_inited" ] && mta_wait_gone all
    mta_release_ports
    return 0
}

# mta_smtp_reply FD: read one (possibly multi-line) SMTP reply; sets mta_reply (last
# line) and mta_reply_code; appends the lines to $T/smtp.transcript
mta_smtp_reply() {
    local fd=$1 line
    mta_reply= mta_reply_code=
    while :; do
        if ! IFS= read -r -t "$MTA_TIMEOUT" -u "$fd" line; then
            mta_reply="(connection closed or timed out)" mta_reply_code=000
            echo "S: $mta_reply" >>"$T/smtp.transcript"
            return 1
        fi
        line=${line%$'\r'}
        echo "S: $line" >>"$T/smtp.transcript"
        case $line in
            [0-9][0-9][0-9]-*) continue ;;
            [0-9][0-9][0-9]*) mta_reply=$line mta_reply_code=${line:0:3}; return 0 ;;
            *) mta_reply="(bad reply: $line)" mta_reply_code=000; return 1 ;;
        esac
    done
}

# mta_smtp_cmd FD EXPECT CMD: send CMD, read the reply; true when its code starts
# with EXPECT (e.g. 2 or 354)
mta_smtp_cmd() {
    local fd=$1 expect=$2 cmd=$3
    echo "C: $cmd" >>"$T/smtp.transcript"
    printf '%s\r\n' "$cmd" 1>&"$fd" 2>/dev/null || { mta_reply="(write failed)"; return 1; }
    mta_smtp_reply "$fd" || return 1
    case $mta_reply_code in "$expect"*) return 0 ;; *) return 1 ;; esac
}

# smtp_send FROM TO[,TO...] FILE [HOST:PORT]: send FILE (an RFC 5322 message, LF or
# CRLF lines) over SMTP to HOST:PORT (default $MTA_ADDR:$POSTFIX_SMTP_PORT), with
# envelope sender FROM ('' for <>) and the given recipients. Prints the final reply
# (e.g. "250 2.0.0 Ok: queued as 4Xyz") or the first refusal; exit 0 only when
# the message was accepted. The whole dialogue is appended to $T/smtp.transcript.
smtp_send() {
    local from=$1 rcpts=$2 file=$3 server=${4:-$MTA_ADDR:${POSTFIX_SMTP_PORT:-25}}
    local host port fd r rl pipetrap ok=1
    host=${server%:*} port=${server##*:}
    [ -r "$file" ] || { echo "smtp_send: cannot read $file"; return 1; }
    echo "== smtp_send $from -> $rcpts via $server" >>"$T/smtp.transcript"
    if ! exec {fd}<>"/dev/tcp/$host/$port"; then
        echo "smtp_send: cannot connect to $server"
        return 1
    fi
    # A server closing early must not kill the test with SIGPIPE on a write.
    pipetrap=$(trap -p PIPE)
    trap '' PIPE
    if mta_smtp_reply "$fd" && [ "$mta_reply_code" = 220 ] &&
        mta_smtp_cmd "$fd" 2 "EHLO client.$MTA_DOMAIN" &&
        mta_smtp_cmd "$fd" 2 "MAIL FROM:<$from>"; then
        ok=0
        IFS=, read -ra rl <<<"$rcpts"
        for r in "${rl[@]}"; do
            mta_smtp_cmd "$fd" 2 "RCPT TO:<$r>" || { ok=1; break; }
        done
        if [ "$ok" -eq 0 ] && mta_smtp_cmd "$fd" 354 DATA; then
            # CRLF lines, dot-stuffed, a last line without LF completed; the external
            # sed under timeout bounds the write if the server stops reading.
            {
                cat "$file"
                [ -s "$file" ] && [ -n "$(tail -c 1 "$file")" ] && echo
            } | timeout -k 5 "$MTA_TIMEOUT" sed -e 's/\r$//' -e 's/^\./../' -e 's/$/\r/' \
                1>&"$fd" 2>/dev/null
            printf '.\r\n' 1>&"$fd" 2>/dev/null
            echo "C: (message $file)" >>"$T/smtp.transcript"
            mta_smtp_reply "$fd" && [ "$mta_reply_code" = 250 ] || ok=1
        else
            ok=1
        fi
    fi
    echo "$mta_reply"
    printf 'QUIT\r\n' 1>&"$fd" 2>/dev/null && mta_smtp_reply "$fd" >/dev/null 2>&1
    exec {fd}>&-
    eval "${pipetrap:-trap - PIPE}"
    return "$ok"
}

# wait_for_mail USER [COUNT] [TIMEOUT]: wait until USER's Maildir holds at least
# COUNT messages (default 1) within TIMEOUT seconds (default $MTA_TIMEOUT). On
# timeout prints the count, the Postfix queue and the log tails, and fails.
wait_for_mail() {
    local u=$1 want=${2:-1} limit=$(( ${3:-$MTA_TIMEOUT} * 10 )) i=0 n
    while :; do
        n=$(mta_count_mail "$u")
        [ "$n" -ge "$want" ] && return 0
        i=$((i + 1))
        if [ "$i" -gt "$limit" ]; then
            mta_diag "wait_for_mail: $u has $n message(s), wanted $want"
            [ -n "${POSTFIX_CONF:-}" ] &&
                timeout -k 2 5 postqueue -c "$POSTFIX_CONF" -p 2>&1 | sed 's/^/#   /' >&2
            mta_log_tail
            return 1
        fi
        sleep 0.1
    done
}

# mta_wait_log FILE PATTERN [TIMEOUT]: wait until a line of FILE (e.g. $POSTFIX_LOG)
# matches the grep -E PATTERN; on timeout print the log tails and fail
mta_wait_log() {
    local file=$1 pat=$2 limit=$(( ${3:-$MTA_TIMEOUT} * 10 )) i=0
    until grep -Eq -- "$pat" "$file" 2>/dev/null; do
        i=$((i + 1))
        if [ "$i" -gt "$limit" ]; then
            mta_diag "mta_wait_log: no line matching /$pat/ in $file"
            mta_log_tail
            return 1
        fi
        sleep 0.1
    done
}

# mta_wait_log_count FILE PATTERN N [TIMEOUT]: wait until N lines of FILE match
mta_wait_log_count() {
    local file=$1 pat=$2 want=$3 limit=$(( ${4:-$MTA_TIMEOUT} * 10 )) i=0
    until [ "$(grep -Ec -- "$pat" "$file" 2>/dev/null)" -ge "$want" ]; do
        i=$((i + 1))
        if [ "$i" -gt "$limit" ]; then
            mta_diag "mta_wait_log_count: fewer than $want lines matching /$pat/ in $file"
            mta_log_tail
            return 1
        fi
        sleep 0.1
    done
}

# postfix_wait_queue_empty [TIMEOUT]: wait until the private Postfix queue holds no
# message (maildrop, incoming, active, deferred, hold: all delivered or bounced);
# on timeout show the queue and the log tails
postfix_wait_queue_empty() {
    local limit=$(( ${1:-$MTA_TIMEOUT} * 10 )) i=0
    until [ -z "$(find "$T/postfix/spool/maildrop" "$T/postfix/spool/incoming" \
        "$T/postfix/spool/active" "$T/postfix/spool/deferred" "$T/postfix/spool/hold" \
        -type f 2>/dev/null)" ]; do
        i=$((i + 1))
        if [ "$i" -gt "$limit" ]; then
            mta_diag "postfix_wait_queue_empty: queue not empty"
            timeout -k 2 5 postqueue -c "$POSTFIX_CONF" -p 2>&1 | sed 's/^/#   /' >&2
            mta_log_tail
            return 1
        fi
        sleep 0.1
    done
}

# mta_tls_client PORT: connect openssl s_client to $MTA_ADDR:PORT, verifying the
# server certificate against $DOVECOT_SSL_CA and $MTA_HOSTNAME; stdin to the server,
# server output to stdout; bounded by $MTA_TIMEOUT
mta_tls_client() {
    timeout -k 5 "$MTA_TIMEOUT" openssl s_client -quiet -connect "$MTA_ADDR:$1" \
        -servername "$MTA_HOSTNAME" -CAfile "$DOVECOT_SSL_CA" \
        -verify_hostname "$MTA_HOSTNAME" -verify_return_error 2>>"$T/tls-client.err"
}

# imap_raw USER PASS CMD...: log in over IMAP with TLS (port $DOVECOT_IMAP_PORT),
# run the commands (tags are added), log out; prints the raw server output (CRLF)
imap_raw() {
    local user=$1 pass=$2 c n=0
    shift 2
    {
        printf 'a0 LOGIN "%s" "%s"\r\n' "$user" "$pass"
        for c in "$@"; do
            n=$((n + 1))
            printf 'a%d %s\r\n' "$n" "$c"
        done
        printf 'z LOGOUT\r\n'
    } | mta_tls_client "$DOVECOT_IMAP_PORT"
}

# imap_fetch USER PASS N: print the full text of message N of USER's INBOX, fetched
# over IMAP with TLS (BODY.PEEK[], so \Seen is not set); line ends are LF. Fails
# when login, SELECT or FETCH fails.
imap_fetch() {
    local out=$T/imap.$BASHPID.out line off text len
    imap_raw "$1" "$2" "EXAMINE INBOX" "FETCH $3 BODY.PEEK[]" >"$out"
    if ! grep -aq '^a0 OK' "$out" || ! grep -aq '^a2 OK' "$out"; then
        echo "imap_fetch: failed:" >&2
        sed 's/^/#   /' "$out" >&2
        return 1
    fi
    line=$(LC_ALL=C grep -a -b -m1 -E '^\* [0-9]+ FETCH .*\{[0-9]+\}'$'\r''?$' "$out") || {
        echo "imap_fetch: no literal in the FETCH reply" >&2
        return 1
    }
    off=${line%%:*} text=${line#*:}
    len=${text##*\{} len=${len%%\}*}
    off=$(LC_ALL=C; echo $((off + ${#text} + 1)))
    tail -c +"$((off + 1))" "$out" | head -c "$len" | sed 's/\r$//'
}

# pop3_raw USER PASS CMD...: log in over POP3 with TLS (port $DOVECOT_POP3_PORT),
# run the commands, QUIT; prints the raw server output (CRLF)
pop3_raw() {
    local user=$1 pass=$2 c
    shift 2
    {
        printf 'USER %s\r\nPASS %s\r\n' "$user" "$pass"
        for c in "$@"; do printf '%s\r\n' "$c"; done
        printf 'QUIT\r\n'
    } | mta_tls_client "$DOVECOT_POP3_PORT"
}

# mta_pop3_multiline: from a POP3 transcript on stdin (greeting, USER, PASS, then ONE
# multi-line command), print that command's response body, dot-unstuffed, CR
# stripped; fails on -ERR or a truncated response
mta_pop3_multiline() {
    awk '
        { sub(/\r$/, "") }
        n < 3 { n++; if (n == 3 && $0 !~ /^\+OK/) exit; next }
        n == 3 { n++; if ($0 !~ /^\+OK/) exit; next }
        $0 == "." { done = 1; exit }
        { if (substr($0, 1, 1) == ".") $0 = substr($0, 2); print }
        END { exit(done ? 0 : 1) }'
}

# pop3_list USER PASS: print the LIST scan listing ("N SIZE" per line) over POP3/TLS
pop3_list() {
    pop3_raw "$1" "$2" LIST | mta_pop3_multiline
}

# pop3_retr USER PASS N: print message N over POP3/TLS (RETR), LF line ends
pop3_retr() {
    pop3_raw "$1" "$2" "RETR $3" | mta_pop3_multiline
}
