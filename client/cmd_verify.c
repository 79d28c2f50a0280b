/* cmd_verify.c - placeholder: being written */
#include "config.h"
#include <stdio.h>
#include "cmail.h"
int cmd_verify(int argc, char **argv) { fprintf(stderr, "cmail verify: not built yet\n"); return CMAIL_EX_FAIL; }
