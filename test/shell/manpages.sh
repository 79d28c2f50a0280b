#!/usr/bin/env bash
# test/shell/manpages.sh - the man pages agree with the programs: every option
# that cmail, each cmail subcommand, cmtpd, cmail-notary, cmail-milter (and
# cmail-relay once doc/cmail-relay.8 exists) print in their help is documented
# in their man page and every option a man page documents is in the help; every
# cmail.conf parameter (common/cm_config.c) is in cmail.conf(5); every page
# renders without a warning (man --warnings and groff -ww); cross-references to
# Cmail pages resolve; `make install DESTDIR=...` installs every page.
. "$top_srcdir/test/shell/lib.sh"

DOC=$top_srcdir/doc
export LC_ALL=C.UTF-8

# help_opts: the long (--x) and short (-x) options of a help text on stdin, sorted:
# those of the usage lines (a line starting "usage:" and the indented lines after
# it) and of option lines (a line whose first word is an option); prose that
# mentions other commands' options (postconf -c) does not count
help_opts() {
  awk '/^ *usage:/ { u = 1; print; next }
       u && /^   / { print; next }
       { u = 0 }
       /^ +-/ { print }' |
    grep -oE -- '(^|[^a-zA-Z0-9-])--?[a-zA-Z][a-zA-Z0-9-]*' | sed -E 's/^[^-]*//' |
    grep -vxE -- '--help|-h|--version' | sort -u
}

# man_opts: the options written \-x / \-\-x in the roff text on stdin, sorted
man_opts() {
  grep -oE -- '(^|[^a-zA-Z0-9\\-])(\\-){1,2}[a-zA-Z][a-zA-Z0-9\\-]*' |
    sed -E 's/^[^\\]*//; s/\\-/-/g' | grep -vxE -- '--help|-h|--version' | sort -u
}

# section FILE START: the lines of FILE from the first line matching the grep -E
# START up to (not including) the next .SS or .SH line
section() {
  START=$2 awk '
    on && /^\.S[SH]( |$)/ { exit }
    $0 ~ ENVIRON["START"] { on = 1; next }
    on { print }' "$1"
}

# same TEXT HELPFILE MANFILE: both option lists equal (prints what differs)
same() {
  local text=$1 extra missing
  missing=$(comm -23 "$2" "$3" | tr '\n' ' ')
  extra=$(comm -13 "$2" "$3" | tr '\n' ' ')
  if [ -z "$missing" ] && [ -z "$extra" ]; then
    ok "$text ($(wc -l <"$2") options)"
  else
    not_ok "$text"
    [ -n "$missing" ] && echo "# in --help, not in the man page: $missing"
    [ -n "$extra" ] && echo "# in the man page, not in --help: $extra"
  fi
}

# --- cmail and its subcommands ---------------------------------------------
"$CMAIL" --help > "$T/cmail.help" 2>&1 || not_ok "cmail --help exits 0"
subs=$(awk '/^Subcommands:/ { on = 1; next } on && /^  [a-z]/ { print $1 } on && /^$/ { on = 0 }' "$T/cmail.help")
[ -n "$subs" ] && ok "cmail --help lists subcommands: $(echo $subs)" || not_ok "cmail --help lists subcommands"
man_subs=$(grep -E '^\.SS cmail ' "$DOC/cmail.1" | awk '{ print $3 }' | sed 's/\\//g' | sort -u)
same "cmail(1) has a section for each subcommand of cmail --help" \
  <(printf '%s\n' $subs | sort -u) <(printf '%s\n' $man_subs)

for s in $subs; do
  case $s in
    pki) helps="pki init|pki revoke|pki add-user|pki refresh-crl" ;;
    cert) helps="cert check" ;;
    evidence) helps="evidence show|evidence check" ;;
    *) helps=$s ;;
  esac
  : > "$T/$s.help"
  IFS='|' read -ra hs <<<"$helps"
  for h in "${hs[@]}"; do
    # shellcheck disable=SC2086
    "$CMAIL" $h --help >> "$T/$s.help" 2>&1
  done
  help_opts < "$T/$s.help" > "$T/$s.hopts"
  section "$DOC/cmail.1" "^[.]SS cmail $(echo "$s" | sed 's/-/[\\\\]?-/g')( |\$)" | man_opts > "$T/$s.mopts"
  same "cmail $s: --help and cmail(1) name the same options" "$T/$s.hopts" "$T/$s.mopts"
done

# --- the daemons: their usage line (printed for an unknown option) ----------
daemon() {
  local prog=$1 page=$2 bin=$3
  if [ ! -x "$bin" ]; then skip "$prog not built"; return; fi
  if [ ! -f "$DOC/$page" ]; then skip "$page not written yet"; return; fi
  "$bin" --bogus-option > "$T/$prog.help" 2>&1 </dev/null
  help_opts < "$T/$prog.help" > "$T/$prog.hopts"
  section "$DOC/$page" '^\.SH OPTIONS' | grep -E '^\.(B|BI|BR|IP|TP)' | man_opts > "$T/$prog.mopts"
  same "$prog: usage line and $page OPTIONS name the same options" "$T/$prog.hopts" "$T/$prog.mopts"
  # the SYNOPSIS too
  section "$DOC/$page" '^\.SH SYNOPSIS' | man_opts > "$T/$prog.sopts"
  same "$prog: usage line and $page SYNOPSIS name the same options" "$T/$prog.hopts" "$T/$prog.sopts"
}
daemon cmtpd cmtpd.8 "$top_builddir/cmtpd/cmtpd"
daemon cmail-notary cmail-notary.8 "$top_builddir/notary/cmail-notary"
daemon cmail-milter cmail-milter.8 "$top_builddir/milter/cmail-milter"
daemon cmail-relay cmail-relay.8 "$top_builddir/cmtpd/cmail-relay"

# --- cmail.conf(5): every parameter of the table ------------------------------
keys=$(grep -oE '^ *\{"[a-z_0-9]+", CF_' "$top_srcdir/common/cm_config.c" | sed -E 's/^ *\{"//; s/", CF_//')
missing=
for k in $keys; do
  sed -n '/^\.SH PARAMETERS/,/^\.SH /p' "$DOC/cmail.conf.5" | sed 's/\\-/-/g; s/\\//g' |
    grep -qE "^\.B (.*[ ,])?$k(,| |\$)" || missing="$missing $k"
done
[ -z "$missing" ] && ok "cmail.conf(5) documents all $(echo $keys | wc -w) parameters" ||
  not_ok "cmail.conf(5) lacks:$missing"
documented=$(sed -n '/^\.SH PARAMETERS/,/^\.SH /p' "$DOC/cmail.conf.5" | grep -E '^\.B ' |
  sed 's/^\.B //; s/\\//g; s/,/ /g')
unknown=
for k in $documented; do
  printf '%s\n' $keys | grep -qx "$k" || unknown="$unknown $k"
done
[ -z "$unknown" ] && ok "cmail.conf(5) documents no parameter the parser refuses" ||
  not_ok "cmail.conf(5) documents unknown parameters:$unknown"

# --- the admin guide's parameter table: every parameter, one row each ----------
missing=
for k in $keys; do
  grep -q "^| \`$k\` |" "$DOC/admin-guide.md" || missing="$missing $k"
done
[ -z "$missing" ] && ok "admin-guide.md's cmail.conf table has every parameter" ||
  not_ok "admin-guide.md's cmail.conf table lacks:$missing"

# --- rendering ----------------------------------------------------------------
pages=$(cd "$DOC" && ls *.[1-8] 2>/dev/null)
if ! command -v man >/dev/null || ! command -v groff >/dev/null; then
  skip "man or groff missing (packages man-db, groff-base): rendering not checked"
  pages_render=
else
  pages_render=$pages
fi
for p in $pages_render; do
  w=$(MANROFFSEQ='' MANWIDTH=80 man --warnings -E UTF-8 -l "$DOC/$p" 2>&1 >/dev/null)
  g=$(groff -ww -z -man "$DOC/$p" 2>&1)
  if [ -z "$w$g" ]; then
    ok "$p renders without warnings"
  else
    not_ok "$p renders without warnings"
    printf '%s\n%s\n' "$w" "$g" | sed '/^$/d; s/^/# /'
  fi
  # NAME line, TH with the section of the file name
  sect=${p##*.}
  if grep -qE "^\.TH [^ ]+ $sect " "$DOC/$p" && grep -qE '^\.SH NAME' "$DOC/$p"; then
    ok "$p: .TH section $sect and NAME"
  else
    not_ok "$p: .TH section $sect and NAME"
  fi
done

# --- cross-references to Cmail pages resolve ------------------------------------
bad= pending=
for p in $pages; do
  for ref in $(grep -ohE '^\.BR? (cmail|cmtpd)[a-z\\.-]* \([1-8]\)' "$DOC/$p" | sed -E 's/^\.BR? //; s/\\//g; s/ \(/./; s/\)//'); do
    # cmail-relay(8) is being written (the relay work): not yet a dangling reference
    [ "$ref" = cmail-relay.8 ] && [ ! -f "$DOC/$ref" ] && { pending="$p->$ref"; continue; }
    [ -f "$DOC/$ref" ] || bad="$bad $p->$ref"
  done
done
[ -z "$bad" ] && ok "every cross-reference to a Cmail page resolves" || not_ok "dangling references:$bad"
[ -n "$pending" ] && skip "reference to cmail-relay(8), not written yet ($pending)"

# --- every program has a page -------------------------------------------------
for prog in cmail:1 cmtpd:8 cmail-notary:8 cmail-milter:8 cmail.conf:5; do
  f=${prog%%:*}.${prog##*:}
  [ -f "$DOC/$f" ] && ok "$f exists" || not_ok "$f exists"
done
if [ -x "$top_builddir/cmtpd/cmail-relay" ] && [ ! -f "$DOC/cmail-relay.8" ]; then
  skip "cmail-relay is built but doc/cmail-relay.8 is not written yet"
fi

# --- make install installs every page --------------------------------------------
if make -s -C "$top_builddir/doc" install DESTDIR="$T/inst" > "$T/install.out" 2>&1; then
  ok "make -C doc install DESTDIR=..."
  for p in $pages; do
    sect=${p##*.}
    if find "$T/inst" -path "*/man/man$sect/$p" -type f | grep -q .; then
      ok "make install installs $p into man$sect"
    else
      not_ok "make install installs $p into man$sect"
    fi
  done
else
  not_ok "make -C doc install DESTDIR=..."
  sed 's/^/# /' "$T/install.out"
fi

cm_done
