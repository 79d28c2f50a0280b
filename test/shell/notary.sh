#!/bin/bash
. "$top_srcdir/test/shell/lib.sh"
cm_done
