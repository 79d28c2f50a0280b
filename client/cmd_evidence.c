/* cmd_evidence.c - placeholder: being written */
#include "config.h"
#include <stdio.h>
#include "cmail.h"
int cmd_evidence(int argc, char **argv) { fprintf(stderr, "cmail evidence: not built yet\n"); return CMAIL_EX_FAIL; }
