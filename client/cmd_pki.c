/* cmd_pki.c - placeholder: being written */
#include "config.h"
#include <stdio.h>
#include "cmail.h"
int cmd_pki(int argc, char **argv) { fprintf(stderr, "cmail pki: not built yet\n"); return CMAIL_EX_FAIL; }
