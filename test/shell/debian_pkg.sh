#!/usr/bin/env bash
# test/shell/debian_pkg.sh - the Debian packages of debian/ (issue 7), built, checked,
# installed and used on this machine, then purged.
#
# A clean copy of the source tree (the files git tracks, plus untracked ones that
# .gitignore does not exclude: no build products) is built with
# `dpkg-buildpackage -us -uc -b -j2` and DEB_BUILD_OPTIONS=nocheck; lintian must find
# no error; the packages cmail-server, dovecot-cmail and cmail-client are installed with
# apt-get; the files, the conffile, the system user, directory owners and modes, the
# seal key, `cmail --help` and `man -w` are checked, and that /etc/postfix and
# /etc/dovecot are untouched; then the deposit and retrieval flow of lib_cmail.sh runs
# on the INSTALLED programs (/usr/sbin/cmtpd, cmail-notary, cmail-milter, the
# installed Dovecot plugin, /usr/bin/cmail): alice -> bob, the stored form in bob's
# Maildir, bob fetching it over CPOP, the receipt notice verified with the installed
# schemas. Finally the packages are purged (also when something fails) and what purge
# keeps by design (the seal key, the user cmail) is removed, so the machine is as before.
#
# Runs as root only; skips when dpkg-buildpackage, debhelper or lintian is missing, when
# Cmail packages or /etc/cmail already exist here (they are not ours to purge), and
# inside a package build (debian/rules sets CMAIL_IN_DEB_BUILD).
. "$top_srcdir/test/shell/lib.sh"
# Interrupted (the test harness's timeout sends TERM): exit, so that the packages are purged.
trap 'exit 143' TERM INT HUP

PKGS="cmail-server dovecot-cmail cmail-client"
# pkg_present PKG: is PKG installed, even partly or as configuration files only?
pkg_present() {
  dpkg-query -W -f='${Status}\n' "$1" 2>/dev/null | grep -Eq ' (installed|config-files|half-installed|unpacked|half-configured|triggers-awaited|triggers-pending)$'
}
why=""
if [ -n "${CMAIL_IN_DEB_BUILD:-}" ]; then why="not run inside a Debian package build"
elif [ "$(id -u)" -ne 0 ]; then why="needs root (installs and purges packages)"
elif ! command -v dpkg-buildpackage >/dev/null; then why="needs dpkg-buildpackage (apt-get install dpkg-dev)"
elif ! command -v dh >/dev/null; then why="needs debhelper (apt-get install debhelper)"
elif ! command -v lintian >/dev/null; then why="needs lintian (apt-get install lintian)"
elif ! command -v apt-get >/dev/null; then why="needs apt-get"
elif [ ! -f "$top_srcdir/debian/control" ]; then why="needs debian/ in the source tree"
elif [ -e /etc/cmail ] || [ -e /var/lib/cmail ]; then why="/etc/cmail or /var/lib/cmail exists on this machine (not ours to purge)"
else
  for p in $PKGS; do
    if pkg_present "$p"; then
      why="$p is installed here (not ours to purge)"
    fi
  done
fi
if [ -n "$why" ]; then skip "$why"; cm_done; exit 0; fi

export DEBIAN_FRONTEND=noninteractive
now() { date +%s; }
t_start=$(now)
user_existed=no
getent passwd cmail >/dev/null && user_existed=yes
# What postinst must not edit: checksums before, after installing and after purging.
watched="/etc/postfix/main.cf /etc/postfix/master.cf /etc/dovecot/dovecot.conf"
sums() { local f; for f in $watched; do [ -f "$f" ] && sha256sum "$f"; done; }
sums > "$T/sums.before"
# dovecot-core restarts the system Dovecot when its module directory changes
# (a dpkg trigger); if it was not running before, it is stopped again after purge.
sys_dovecot() { [ -f /run/dovecot/master.pid ] && kill -0 "$(cat /run/dovecot/master.pid)" 2>/dev/null; }
dovecot_was=no
sys_dovecot && dovecot_was=yes

# pkg_purge: purge the packages, then what purge keeps by design; once.
purged=no
pkg_purge() {
  [ "$purged" = yes ] && return 0
  purged=yes
  apt-get purge -y -q $PKGS >"$T/purge.log" 2>&1 || dpkg --purge $PKGS >>"$T/purge.log" 2>&1
  cp -a /etc/cmail "$T/etc-cmail.after-purge" 2>/dev/null
  rm -rf /etc/cmail /var/lib/cmail /var/spool/cmail
  if [ "$dovecot_was" = no ] && sys_dovecot; then
    systemctl stop dovecot >/dev/null 2>&1 || service dovecot stop >/dev/null 2>&1 || true
  fi
  if [ "$user_existed" = no ]; then
    getent passwd cmail >/dev/null && deluser --system cmail >>"$T/purge.log" 2>&1
    getent group cmail >/dev/null && delgroup --system cmail >>"$T/purge.log" 2>&1
  fi
  return 0
}

# --- build from a clean copy of the tree ---
B=$T/build
mkdir -p "$B/src"
if git -C "$top_srcdir" rev-parse --git-dir >/dev/null 2>&1; then
  (cd "$top_srcdir" && git ls-files -z --cached --others --exclude-standard |
     while IFS= read -r -d '' f; do [ -e "$f" ] && printf '%s\0' "$f"; done |
     tar --null -T - -cf -) | tar -C "$B/src" -xf -
else
  cp -a "$top_srcdir/." "$B/src/"	# a dist tree; `debian/rules clean` cleans a configured one
fi
check "the clean copy has debian/rules and no build products" \
  sh -c "test -x '$B/src/debian/rules' && test ! -e '$B/src/config.status' && test ! -e '$B/src/client/cmail.o'"
ac_version=$(sed -n 's/^AC_INIT(\[cmail\], \[\([^]]*\)\].*/\1/p' "$top_srcdir/configure.ac")
deb_version=$(cd "$B/src" && dpkg-parsechangelog -S Version)
check "debian/changelog's version ($deb_version) is configure.ac's ($ac_version)" \
  test "${deb_version%%[-+~]*}" = "$ac_version"

t0=$(now)
# Nothing of the calling make (make check's MAKEFLAGS, TESTS=...) reaches the build.
(cd "$B/src" && env -u MAKEFLAGS -u MFLAGS -u MAKELEVEL -u MAKEOVERRIDES -u TESTS \
   DEB_BUILD_OPTIONS="nocheck noautodbgsym parallel=2" dpkg-buildpackage -us -uc -b -j2) >"$T/build.log" 2>&1
rc=$?
t_build=$(( $(now) - t0 ))
if [ $rc -ne 0 ]; then
  not_ok "dpkg-buildpackage -us -uc -b -j2 builds the packages (exit $rc)"
  tail -n 60 "$T/build.log" | sed 's/^/# /'
  cm_done; exit 1
fi
ok "dpkg-buildpackage -us -uc -b -j2 builds the packages (${t_build}s)"
for p in $PKGS; do
  check "$p is built" sh -c "ls '$B'/${p}_*.deb >/dev/null"
done
check_fails "the build warns of no missing install file" grep -q 'dh_missing: warning' "$T/build.log"

t0=$(now)
lintian --fail-on error "$B"/*.changes >"$T/lintian.log" 2>&1
rc=$?
t_lintian=$(( $(now) - t0 ))
if [ $rc -eq 0 ] && ! grep -q '^E:' "$T/lintian.log"; then
  ok "lintian finds no error (${t_lintian}s)"
else
  not_ok "lintian finds no error (exit $rc)"
fi
grep -v 'running with root privileges' "$T/lintian.log" | sed 's/^/# lintian: /'
check_output "dovecot-cmail depends on the Dovecot ABI it was built for" \
  "dovecot-abi-$(cat /usr/share/dovecot/dovecot-abi 2>/dev/null)" dpkg-deb -f "$B"/dovecot-cmail_*.deb Depends

# --- install ---
cm_on_exit pkg_purge
t0=$(now)
debs=""
for p in $PKGS; do debs="$debs $(ls "$B"/${p}_*.deb)"; done
apt-get install -y -q --no-install-recommends $debs >"$T/install.log" 2>&1
rc=$?
t_install=$(( $(now) - t0 ))
if [ $rc -ne 0 ]; then
  not_ok "apt-get install the three packages (exit $rc)"; sed 's/^/# /' "$T/install.log"
  cm_done; exit 1
fi
ok "apt-get install the three packages (${t_install}s)"
for p in $PKGS; do
  check_output "$p is installed" "^install ok installed$" dpkg-query -W -f='${Status}\n' "$p"
done

for f in /usr/sbin/cmtpd /usr/sbin/cmail-notary /usr/sbin/cmail-milter /usr/bin/cmail; do
  check "$f is installed, executable" test -x "$f"
done
PLUGIN_FILE=$(sed -n 's/^dovecot_moduledir=//p' /usr/lib/dovecot/dovecot-config)/lib95_cmail_plugin.so
check "the Dovecot plugin is in Dovecot's module directory ($PLUGIN_FILE)" test -f "$PLUGIN_FILE"
check "the Dovecot delivery plugin is there too (${PLUGIN_FILE%/*}/lib95_cmail_deliver_plugin.so)" \
  test -f "${PLUGIN_FILE%/*}/lib95_cmail_deliver_plugin.so"
if [ -x "$top_builddir/cmtpd/cmail-relay" ]; then
  check_output "cmail-relay is installed in libexec" "^/usr/libexec/.*cmail-relay$" dpkg -L cmail-server
else
  skip "cmail-relay is not built in this tree yet"
fi
check "the schemas are installed" test -f /usr/share/cmail/schemas/x1341-notices.xsd
check_output "/etc/cmail/cmail.conf is a conffile of cmail-server" "/etc/cmail/cmail.conf [0-9a-f]{32}" \
  dpkg-query -W -f='${Conffiles}\n' cmail-server
for u in cmail-notary.service cmail-milter.service cmtpd.socket cmtpd@.service cmtpd.service; do
  check "the systemd unit $u is installed" test -f "/lib/systemd/system/$u"
done
check_fails "no unit is enabled by the installation" \
  sh -c "ls /etc/systemd/system/*.wants/ 2>/dev/null | grep -E 'cmail|cmtpd'"
# Every program the installed snippets and units name is installed.
progs=$(cat /usr/share/cmail/postfix/*.cmail 2>/dev/null | grep -o 'argv=[^ ]*' | cut -d= -f2;
        sed -n 's/^ExecStart=[-+!@]*\([^ ]*\).*/\1/p' /lib/systemd/system/cmail*.service /lib/systemd/system/cmtpd*.service 2>/dev/null)
check "the snippets and units name programs (${progs//$'\n'/ })" test -n "$progs"
for f in $(echo "$progs" | sort -u); do
  check "$f (named in master.cf.cmail or a unit) is installed" test -x "$f"
done
check "the Postfix and Dovecot snippets are installed" test -f /usr/share/cmail/postfix/main.cf.cmail -a \
  -f /usr/share/cmail/postfix/master.cf.cmail -a -f /usr/share/cmail/dovecot/cmail.conf.dovecot
check_output "cmail --help names the subcommands" "^usage: cmail SUBCOMMAND.*" /usr/bin/cmail --help
check_output "cmail --version is the package's version" "^cmail ${deb_version%%[-+~]*}\$" /usr/bin/cmail --version
if grep -qs 'path-exclude.*/usr/share/man' /etc/dpkg/dpkg.cfg.d/*; then
  skip "man -w: dpkg excludes /usr/share/man on this machine"
elif ! command -v man >/dev/null; then
  skip "man -w: needs man-db"
else
  check_output "man -w cmail finds cmail(1)" "^/usr/share/man/man1/cmail\.1" man -w cmail
  check_output "man -w 5 cmail.conf finds cmail.conf(5)" "^/usr/share/man/man5/cmail\.conf\.5" man -w 5 cmail.conf
  for m in cmtpd cmail-notary cmail-milter; do
    check_output "man -w 8 $m finds $m(8)" "^/usr/share/man/man8/$m\.8" man -w 8 "$m"
  done
fi

check_output "the system user cmail exists, without a login shell" "^cmail:x:[0-9]+:[0-9]+:.*:/var/lib/cmail:/usr/sbin/nologin$" getent passwd cmail
check "the group cmail exists" getent group cmail
for d in /var/lib/cmail /var/spool/cmail /etc/cmail/private; do
  check_output "$d is cmail:cmail 700" "^cmail:cmail 700$" stat -c '%U:%G %a' "$d"
done
check_output "/etc/cmail/tls is root:cmail 750" "^root:cmail 750$" stat -c '%U:%G %a' /etc/cmail/tls
check_output "the seal key was made: cmail:cmail 600" "^cmail:cmail 600 65$" stat -c '%U:%G %a %s' /etc/cmail/private/seal.key
check "the seal key is 64 hexadecimal digits" grep -qxE '[0-9a-f]{64}' /etc/cmail/private/seal.key
check_output "postinst says it made the seal key" "seal key written to /etc/cmail/private/seal.key" cat "$T/install.log"
check_output "postinst prints the main.cf lines to add" "^ +smtpd_milters = unix:/run/cmail/milter.sock" cat "$T/install.log"
check_output "postinst prints the master.cf lines to add" "^ +10587 +inet .*spawn" cat "$T/install.log"
check_output "postinst prints the dovecot.conf lines to add" "^ +mail_plugins = \\\$mail_plugins cmail" cat "$T/install.log"
# What the admin reads on installation (postinst), in this test's log.
sed -n '/^Cmail is installed/,/^The same steps/p; /^The Cmail CPOP plugin/,/so that it reaches/p' \
  "$T/install.log" | sed 's/^/# postinst: /'
sums > "$T/sums.installed"
check "postinst changed neither main.cf, master.cf nor dovecot.conf" cmp "$T/sums.before" "$T/sums.installed"
key_sum=$(sha256sum < /etc/cmail/private/seal.key)
# Installing the same packages again runs prerm upgrade and postinst configure with
# the old version, like an upgrade: the admin's cmail.conf and the seal key stay.
echo "# edited by the admin" >> /etc/cmail/cmail.conf
if dpkg -i --force-confold $debs >"$T/reinstall.log" 2>&1; then
  ok "the packages install again over themselves (an upgrade's maintainer scripts)"
else
  not_ok "the packages install again over themselves (an upgrade's maintainer scripts)"
  sed 's/^/# /' "$T/reinstall.log"
fi
check "... keeping the seal key" test "$(sha256sum < /etc/cmail/private/seal.key)" = "$key_sum"
check "... keeping the admin's cmail.conf" grep -qx "# edited by the admin" /etc/cmail/cmail.conf
check_fails "... without printing the first-installation text again" grep -q "^Cmail is installed" "$T/reinstall.log"
/usr/sbin/cmail-notary -n >"$T/notary-n.out" 2>&1
rc=$?
if [ $rc -ne 0 ] && grep -Eq 'server_(key|certificate)|myhostname' "$T/notary-n.out"; then
  ok "the installed cmail-notary -n finds /etc/cmail/cmail.conf and says what is missing"
else
  not_ok "the installed cmail-notary -n finds /etc/cmail/cmail.conf and says what is missing (exit $rc)"
  sed 's/^/# /' "$T/notary-n.out"
fi

# --- the deposit and retrieval flow on the installed programs ---
. "$top_srcdir/test/shell/lib_mta.sh"
. "$top_srcdir/test/shell/lib_cmail.sh"
CMTPD=/usr/sbin/cmtpd
NOTARY=/usr/sbin/cmail-notary
MILTER=/usr/sbin/cmail-milter
PLUGIN=$PLUGIN_FILE
CMAIL=/usr/bin/cmail
CMAIL_SCHEMA_DIR=/usr/share/cmail/schemas
export CMAIL CMAIL_SCHEMA_DIR
CMAIL_CPOP=yes
t0=$(now)
missing=$(cmail_stack_missing)
if [ -n "$missing" ]; then
  skip "the deposit flow on the installed programs needs $missing"
elif ! cmail_stack_start; then
  not_ok "the Cmail stack starts on the installed programs"; mta_log_tail 40 2>&1 | sed 's/^/# /'
else
  ok "the Cmail stack starts on the installed cmail-notary, cmail-milter, cmtpd and plugin"
  check_output "Postfix spawns the installed cmtpd" "argv=/usr/sbin/cmtpd" cat "$POSTFIX_CONF/master.cf"
  printf 'From: Alice <alice@example.org>\r\nTo: bob@example.org\r\nSubject: Packaged\r\nDate: Wed, 25 Nov 2026 08:00:00 +0000\r\nMessage-ID: <packaged.1@example.org>\r\n\r\nThe packaged terms: 42.\r\n' > "$T/msg.eml"
  check "the installed cmail send deposits alice -> bob" cmail_send_as alice --out "$T/out" "$T/msg.eml"
  check "bob's mailbox receives the stored form" wait_for_mail bob 1
  BOBMSG=$(ls "$(mta_maildir bob)"/new/* "$(mta_maildir bob)"/cur/* 2>/dev/null | head -1)
  ENVID=$(sed -n 's/^X-Cmail-Envelope-Id: //p' "${BOBMSG:-/dev/null}" | tr -d '\r')
  check "it is the stored form: X-Cmail-Delivery-Type: CertifiedMail" grep -q "^X-Cmail-Delivery-Type: CertifiedMail" "${BOBMSG:-/dev/null}"
  check "it is sealed (the sealed part, not the plaintext)" sh -c \
    "grep -q 'application/x-cmail-sealed' '${BOBMSG:-/dev/null}' && ! grep -q 'packaged terms' '${BOBMSG:-/dev/null}'"
  mkdir -p "$T/bob"
  check "bob fetches it over CPOP through the installed plugin" cmail_fetch_as bob --out "$T/bob"
  n=0
  for f in "$T"/bob/*.eml; do cmp -s "$f" "$T/msg.eml" && n=$((n + 1)); done
  check "the fetched plaintext is byte-identical to what alice sent" test "$n" -eq 1
  r=$(ls "$T"/bob/*.signed-receipt.xml 2>/dev/null | head -1)
  # The installed cmail finds the installed schemas by itself.
  check_output "the receipt notice verifies with the installed cmail and schemas" "^VALID" \
    env -u CMAIL_SCHEMA_DIR /usr/bin/cmail verify "${r:-/dev/null}" --ca "$P/ca.pem" --crl "$P/crl.pem"
  check_output "the journal records the deposit and the retrieval" "deposited.*answered|answered.*deposited" \
    sh -c "/usr/bin/cmail evidence show '$ENVID' --db '$T/notary/evidence.db' | tr '\n' ' '"
  # Nothing runs the installed programs any more when they are purged.
  kill "$NOTARY_PID" "$MILTER_PID" 2>/dev/null
  mta_stop >/dev/null 2>&1
fi
t_e2e=$(( $(now) - t0 ))

# --- purge: the machine is as before ---
t0=$(now)
pkg_purge
t_purge=$(( $(now) - t0 ))
for p in $PKGS; do
  check_fails "$p is purged" pkg_present "$p"
done
check_fails "the programs are gone" sh -c 'ls /usr/sbin/cmtpd /usr/sbin/cmail-notary /usr/bin/cmail '"$PLUGIN_FILE"' 2>/dev/null | grep -q .'
check "purge kept only the seal key in /etc/cmail (README.Debian)" \
  test "$(cd "$T/etc-cmail.after-purge" 2>/dev/null && find . -type f)" = "./private/seal.key"
check_output "postrm says what it kept" "kept /etc/cmail" cat "$T/purge.log"
if [ "$user_existed" = no ]; then
  check_fails "the user cmail is removed again" getent passwd cmail
  check_fails "the group cmail is removed again" getent group cmail
fi
check_fails "nothing of Cmail is left in /etc, /var/lib, /var/spool" \
  sh -c 'ls -d /etc/cmail /var/lib/cmail /var/spool/cmail 2>/dev/null | grep -q .'
sums > "$T/sums.after"
check "main.cf, master.cf and dovecot.conf are as before" cmp "$T/sums.before" "$T/sums.after"
[ "$dovecot_was" = no ] && check_fails "the system Dovecot is not left running" sys_dovecot
echo "# times: build ${t_build}s, lintian ${t_lintian}s, install ${t_install}s, e2e ${t_e2e}s, purge ${t_purge}s, total $(( $(now) - t_start ))s"
cm_done
