#!/usr/bin/env bash
. "$top_srcdir/test/shell/lib.sh"
skip "not written yet"
cm_done
